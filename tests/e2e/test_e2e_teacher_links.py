"""A teacher's projector link stays one from lesson to lesson: a jump (Evaluate → Inside a model) and a link
(Transposed convolution → Segmentation) keep teacher=1, lock and hide, and Back returns to the page left."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from streamlit_browser import existing_pages

PAGES = dict(existing_pages())
TEACHER = {"teacher": "1", "lock": "kind", "hide": "compare"}  # what a teacher appended to the link
SIDEBAR = "[data-testid='stSidebar']"


@pytest.mark.skipif(not {"evaluate", "inside"} <= set(PAGES), reason="no Evaluate or Inside page")
def test_evaluate_opens_inside_in_teacher_mode_and_back_returns(app):
    app.open("evaluate", model="mnist_cnn", kind="correct", **TEACHER)
    left = app.query()
    expect(app.page.locator(SIDEBAR)).to_be_hidden()
    app.page.locator(".st-key-gallery-tiles").get_by_role("button", name=re.compile("Inside")).first.click()
    app.page.wait_for_url(re.compile(r"/inside\?"))
    app.wait()
    arrived = app.query()
    assert {k: arrived.get(k) for k in TEACHER} == TEACHER, arrived  # before: teacher, lock and hide were lost
    expect(app.page.locator(SIDEBAR)).to_be_hidden()  # still the projector view

    app.page.go_back()
    app.page.wait_for_url(re.compile(r"/evaluate\?"))
    app.wait()
    assert app.query() == left
    app.assert_clean()


@pytest.mark.skipif(not {"transposed", "segment"} <= set(PAGES), reason="no Transposed or Segmentation page")
def test_a_link_between_lessons_keeps_teacher_mode(app):
    app.open("transposed", teacher="1")
    app.page.get_by_role("link", name=re.compile("See it used")).click()
    app.page.wait_for_url(re.compile(r"/segment\?"))
    app.wait()
    assert app.query().get("teacher") == "1"
    expect(app.page.locator(SIDEBAR)).to_be_hidden()
    app.assert_clean()
