"""A shared link and a teacher-mode link reproduce their view in a fresh browser
(another student's, the projector's).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from streamlit_browser import existing_pages

PAGES = existing_pages()

pytestmark = pytest.mark.skipif(
    "convolution" not in dict(PAGES), reason="the convolution lesson is not in app/lessons yet"
)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`, as a student would (open it, click the option)."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def working_head(page) -> str:
    """The heading of the written-out sum, e.g. 'Output cell (1, 2) ='."""
    return page.get_by_text(re.compile(r"^Output cell \(\d+, \d+\)")).first.inner_text().strip()


def output_size(page) -> str:
    return page.locator("[data-testid='stMarkdownContainer'] p", has_text="Output size:").first.inner_text().strip()


def test_stepping_a_convolution_moves_the_window_and_the_link(app):
    app.open("convolution")
    assert working_head(app.page).startswith("Output cell (0, 0)")
    app.page.get_by_role("button", name=re.compile(r"^Next")).click()
    app.wait()
    expect(app.page.get_by_text(re.compile(r"^Output cell \(0, 1\)"))).to_be_visible()
    assert app.query()["step"] == "1"
    app.assert_clean()


def test_a_copied_address_shows_the_same_view_in_a_fresh_browser(app, new_app):
    app.open("convolution")
    choose(app.page, "Kernel", "Laplacian")
    app.wait()
    choose(app.page, "Padding", "2")
    app.wait()
    app.page.get_by_role("button", name=re.compile(r"^Next")).click()
    app.wait()
    link, head, size = app.page.url, working_head(app.page), output_size(app.page)
    assert app.query()["pad"] == "2" and app.query()["kernel"] == "Laplacian" and app.query()["step"] == "1"
    assert head.startswith("Output cell (0, 1)") and "= 8 rows" in size  # (6 + 2x2 - 3) / 1 + 1

    other = new_app()  # nothing shared with the first browser but the address
    other.goto(link)
    assert working_head(other.page) == head
    assert output_size(other.page) == size
    expect(other.page.get_by_role("combobox", name="Padding", exact=True)).to_have_value("2")
    expect(other.page.get_by_role("combobox", name="Kernel", exact=True)).to_have_value("Laplacian")
    assert other.query() == app.query()
    other.shot("shared_link_reopened")
    other.assert_clean()


def test_the_browsers_back_undoes_one_change_at_a_time_then_leaves_the_lesson(app):
    app.open()
    app.open("convolution")
    assert app.query() == {}  # a fresh lesson writes nothing, so it adds no entry to the history
    choose(app.page, "Padding", "2")
    app.wait()
    for _ in range(2):
        app.page.get_by_role("button", name=re.compile(r"^Next")).click()
        app.wait()
    assert app.query() == {"pad": "2", "step": "2"} and working_head(app.page).startswith("Output cell (0, 2)")

    padding = app.page.get_by_role("combobox", name="Padding", exact=True)
    for query, cell, pad in (({"pad": "2", "step": "1"}, "(0, 1)", "2"), ({"pad": "2"}, "(0, 0)", "2"),
                             ({}, "(0, 0)", "0")):
        app.page.go_back()
        expect(app.page.get_by_text(re.compile(rf"^Output cell {re.escape(cell)}"))).to_be_visible()
        expect(padding).to_have_value(pad)
        app.wait()
        assert app.query() == query
    app.page.go_back()  # the page before the lesson
    expect(app.page.get_by_text(re.compile(r"^Output cell"))).to_have_count(0)
    app.page.go_forward()
    expect(padding).to_have_value("0")
    app.assert_clean()


SIDEBAR_WATCH = """window.sidebarShown = false;
new MutationObserver(() => {
  const s = document.querySelector("[data-testid='stSidebar']");
  if (s && getComputedStyle(s).display !== "none" && s.getBoundingClientRect().right > 0) window.sidebarShown = true;
}).observe(document, {subtree: true, childList: true, attributes: true});"""


def test_a_teacher_link_shows_one_locked_step_without_the_sidebar(new_app, server):
    projector = new_app()
    projector.page.add_init_script(SIDEBAR_WATCH)  # records whether the sidebar is on screen at any moment
    projector.goto(f"{server.url}/convolution?pad=1&step=7&teacher=1&lock=pad,stride&hide=kernel")
    expect(projector.page.locator("[data-testid='stSidebar']")).to_be_hidden()
    assert projector.page.evaluate("window.sidebarShown") is False  # not even for a moment while loading
    assert working_head(projector.page).startswith("Output cell (1, 1)")  # step 7 of a 6x6 output
    projector.page.get_by_role("button", name="⚙️ Settings").click()  # in teacher mode the settings fold away
    expect(projector.page.get_by_role("combobox", name="Padding", exact=True)).to_be_disabled()
    expect(projector.page.get_by_role("combobox", name="Padding", exact=True)).to_have_value("1")
    expect(projector.page.get_by_role("combobox", name="Stride", exact=True)).to_be_disabled()
    expect(projector.page.get_by_role("combobox", name="Dilation", exact=True)).to_be_enabled()
    expect(projector.page.get_by_role("combobox", name="Kernel", exact=True)).to_have_count(0)  # hidden
    assert working_head(projector.page).startswith("Output cell (1, 1)")  # step 7 of a 6x6 output
    projector.shot("teacher_link")
    projector.assert_clean()

    student = new_app()  # the same lesson without teacher=1 has its sidebar and every control
    student.page.add_init_script(SIDEBAR_WATCH)
    student.goto(f"{server.url}/convolution?pad=1&step=7")
    expect(student.page.locator("[data-testid='stSidebar']")).to_be_visible()
    assert student.page.evaluate("window.sidebarShown") is True  # the watch above does see a sidebar
    expect(student.page.get_by_role("combobox", name="Padding", exact=True)).to_be_enabled()
    expect(student.page.get_by_role("combobox", name="Kernel", exact=True)).to_be_visible()
