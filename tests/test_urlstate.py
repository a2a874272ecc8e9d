"""URL state and teacher mode through the real Streamlit runtime (AppTest): links load, edits are written back,
bad links fall back to defaults, locked controls are disabled, hidden ones are gone, teacher mode hides the sidebar."""
from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from app import urlstate, widgets
from tests.conftest import needs_data

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "app" / "lessons"

# A tiny page written the way every cnnviz page is told to use urlstate.
LESSON = textwrap.dedent("""
    import streamlit as st
    from app import urlstate

    urlstate.init({"pad": 1, "rate": 0.5, "preset": "Sobel x", "flip": False, "sizes": [3, 5]},
                  allowed={"pad": range(0, 6), "rate": lambda r: 0 <= r <= 1})
    urlstate.apply_teacher_mode()
    with st.sidebar:
        st.write("sidebar content")
    if not urlstate.hidden("pad"):
        st.slider("Padding", 0, 5, key="pad", disabled=urlstate.locked("pad"))
    st.number_input("Rate", 0.0, 1.0, key="rate", disabled=urlstate.locked("rate"))
    st.selectbox("Preset", ["Sobel x", "Sobel y", "Box blur"], key="preset", disabled=urlstate.locked("preset"))
    st.checkbox("Flip", key="flip", disabled=urlstate.locked("flip"))
    st.multiselect("Sizes", [1, 3, 5, 7], key="sizes", disabled=urlstate.locked("sizes"))
    st.markdown(f"result: pad={st.session_state.pad} preset={st.session_state.preset}")
    urlstate.publish()
""")
DEFAULTS = {"pad": 1, "rate": 0.5, "preset": "Sobel x", "flip": False, "sizes": [3, 5]}


@pytest.fixture
def lesson(tmp_path: Path):
    """A factory: a fresh AppTest of the tiny lesson opened with the given query string."""
    script = tmp_path / "lesson.py"
    script.write_text(LESSON)

    def open_link(**params: str) -> AppTest:
        at = AppTest.from_file(str(script), default_timeout=30)
        at.query_params.update(params)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return open_link


def values(at: AppTest) -> dict:
    widgets = [*at.slider, *at.number_input, *at.selectbox, *at.checkbox, *at.multiselect]
    return {w.key: w.value for w in widgets}


def sidebar_css(at: AppTest) -> list[str]:
    """Bodies of st.html elements that hide the sidebar (they land in the 'event' block when they hold only CSS)."""
    return [h.proto.body for h in at.get("html") if "stSidebar" in h.proto.body and "display: none" in h.proto.body]


def test_a_link_sets_every_control(lesson):
    at = lesson(pad="3", rate="0.25", preset="Box blur", flip="1", sizes="1,7")
    assert values(at) == {"pad": 3, "rate": 0.25, "preset": "Box blur", "flip": True, "sizes": [1, 7]}
    assert "result: pad=3 preset=Box blur" in at.markdown[0].value


def test_without_a_link_the_defaults_show_and_the_address_stays_bare(lesson):
    at = lesson()
    assert values(at) == DEFAULTS
    assert at.query_params == {}  # nothing written: the browser's Back leaves a freshly opened page at once


def test_a_change_puts_just_that_key_in_the_address_and_it_stays_there(lesson):
    at = lesson(teacher="0")
    at.slider(key="pad").set_value(4).run()
    assert at.query_params == {"teacher": "0", "pad": "4"}
    at.slider(key="pad").set_value(1).run()  # back to the default: the link still says so
    assert at.query_params == {"teacher": "0", "pad": "1"}


def test_changes_are_written_back_and_reopen_the_same_view(lesson):
    at = lesson()
    at.slider(key="pad").set_value(4).run()
    at.selectbox(key="preset").set_value("Sobel y").run()
    at.checkbox(key="flip").check().run()
    at.multiselect(key="sizes").select(7).run()
    at.number_input(key="rate").set_value(0.75).run()
    link = dict(at.query_params)
    assert link == {"pad": "4", "rate": "0.75", "preset": "Sobel y", "flip": "1", "sizes": "3,5,7"}

    fresh = lesson(**link)  # the copied address, opened in another session
    assert values(fresh) == {"pad": 4, "rate": 0.75, "preset": "Sobel y", "flip": True, "sizes": [3, 5, 7]}


@pytest.mark.parametrize("key, raw", [
    ("pad", "99"),       # outside the slider: Streamlit would raise StreamlitValueAboveMaxError
    ("pad", "-1"),
    ("pad", "abc"),      # not an int
    ("pad", "1.5"),
    ("rate", "nan"),     # parses as a float but breaks a number input
    ("rate", "inf"),
    ("rate", "7"),       # fails the predicate
    ("flip", "maybe"),   # neither true nor false
])
def test_an_impossible_link_value_falls_back_to_the_default_with_a_toast(lesson, key, raw):
    at = lesson(**{key: raw})
    assert values(at)[key] == DEFAULTS[key]
    assert values(at) == DEFAULTS
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 1 and f"{key}={raw}" in toasts[0]
    assert at.query_params[key] == {"pad": "1", "rate": "0.5", "flip": "0"}[key]  # the link is corrected too


def test_a_good_link_shows_no_toast(lesson):
    assert not lesson(pad="0", rate="1", flip="true").toast


def test_an_unknown_option_is_left_to_streamlit_and_the_page_still_runs(lesson):
    at = lesson(preset="Nope", sizes="2,9")
    assert values(at)["preset"] == "Sobel x"   # selectbox shows its first option
    assert values(at)["sizes"] == []            # multiselect drops values it does not offer


def test_reserved_keys_are_refused(tmp_path: Path):
    script = tmp_path / "clash.py"
    script.write_text("from app import urlstate\nurlstate.init({'teacher': 1})\n")
    at = AppTest.from_file(str(script)).run()
    assert at.exception and "reserved" in at.exception[0].message


def test_teacher_mode_emits_the_css_that_hides_the_sidebar(lesson):
    assert not sidebar_css(lesson())
    assert not sidebar_css(lesson(teacher="0"))
    css = sidebar_css(lesson(teacher="1"))
    assert len(css) == 1
    for selector in ("stSidebar", "stSidebarCollapsedControl", "stExpandSidebarButton"):
        assert f"[data-testid='{selector}']" in css[0]


def test_locked_controls_are_disabled_and_cannot_be_changed(lesson):
    at = lesson(pad="2", preset="Sobel y", lock="pad,preset")
    assert at.slider(key="pad").disabled and at.selectbox(key="preset").disabled
    assert not at.checkbox(key="flip").disabled and not at.number_input(key="rate").disabled
    assert values(at)["pad"] == 2 and values(at)["preset"] == "Sobel y"  # locked, but still set by the link
    with pytest.raises(AppTestError, match="disabled"):
        at.slider(key="pad").set_value(3)
    at.checkbox(key="flip").check().run()  # the others still work
    assert at.query_params["flip"] == "1" and at.query_params["lock"] == "pad,preset"


def test_hidden_controls_are_not_drawn_but_keep_the_links_value(lesson):
    at = lesson(pad="4", hide="pad")
    assert "pad" not in values(at)
    assert "result: pad=4" in at.markdown[0].value
    assert at.query_params["pad"] == "4"


def test_the_real_entry_page_hides_the_sidebar_in_teacher_mode():
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=30)
    at.run()
    assert not at.exception and not sidebar_css(at)
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=30)
    at.query_params["teacher"] = "1"
    at.run()
    assert not at.exception and len(sidebar_css(at)) == 1


# ---- two pages that use the same key -------------------------------------------------------------------------

PAGE_A = """
import streamlit as st
from app import urlstate
urlstate.init({"norm": "dataset", "size": 8}, allowed={"size": range(1, 65)})  # a number always has a range
st.radio("Normalise by", ["dataset", "half"], key="norm")
st.slider("Size", 1, 64, key="size")
urlstate.publish()
"""
PAGE_B = """
import streamlit as st
from app import urlstate
urlstate.init({"norm": "channel", "size": 2}, allowed={"size": range(1, 5)})
assert st.session_state.norm in ("channel", "layer"), st.session_state.norm  # what a page relies on
st.radio("Scale", ["channel", "layer"], key="norm")
st.select_slider("Size", [1, 2, 3, 4], key="size")
urlstate.publish()
"""


@pytest.fixture
def two_pages(tmp_path: Path) -> AppTest:
    (tmp_path / "a.py").write_text(PAGE_A)
    (tmp_path / "b.py").write_text(PAGE_B)
    main = tmp_path / "main.py"
    pages = f"st.Page({str(tmp_path / 'a.py')!r}), st.Page({str(tmp_path / 'b.py')!r})"
    main.write_text(f"import streamlit as st\nst.navigation([{pages}]).run()\n")
    at = AppTest.from_file(str(main), default_timeout=30)
    at.run()
    return at


def test_a_page_never_starts_from_another_pages_value_of_the_same_key(two_pages, tmp_path: Path):
    at = two_pages
    at.radio(key="norm").set_value("half").run()
    at.slider(key="size").set_value(40).run()
    at.query_params.clear()  # the sidebar's links carry no query string (AppTest keeps it; the browser does not)
    at.switch_page(str(tmp_path / "b.py")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.radio(key="norm").value == "channel" and at.select_slider(key="size").value == 2
    at.radio(key="norm").set_value("layer").run()
    assert at.radio(key="norm").value == "layer"  # a page's own reruns keep its values
    at.query_params.clear()
    at.switch_page(str(tmp_path / "a.py")).run()
    assert not at.exception and at.radio(key="norm").value == "dataset"


# ---- the real pages --------------------------------------------------------------------------------------------

MAIN = str(ROOT / "app" / "main.py")
REAL = [p.name for p in sorted(PAGES.glob("*.py")) if "urlstate.init" in p.read_text()]
# the Dataset explorer stops before its controls without a data set
REAL_PARAMS = [pytest.param(n, marks=[pytest.mark.data, needs_data("mnist")]) if n == "dataset.py" else n
               for n in REAL]


def open_real(name: str, **params: str) -> AppTest:
    """A new session on app/lessons/<name> through app/main.py, opened with the given query string."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(str(PAGES / name)).run()
    assert not at.exception, (name, [e.message for e in at.exception])
    return at


def keyed_widgets(at: AppTest) -> dict[str, object]:
    kinds = ("slider", "select_slider", "selectbox", "number_input", "checkbox", "toggle", "radio", "multiselect",
             "text_input", "text_area", "button_group", "color_picker")
    return {w.key: w for kind in kinds for w in at.get(kind) if getattr(w, "key", None)}


@functools.cache
def full_link(name: str) -> tuple[tuple[str, str], ...]:
    """A link that spells out every key a page keeps in the address, with the values it opens with."""
    first = open_real(name)
    assert first.query_params == {}, f"{name} wrote {dict(first.query_params)} into a fresh page's address"
    state = first.session_state
    link = {key: urlstate._format(state[key]) for key in state["_urlstate_keys"]}
    if "model" in state:
        link["model"] = state["model"]
    if widgets.IMAGE in state and widgets._token(state[widgets.IMAGE]):
        link["img"] = widgets._token(state[widgets.IMAGE])
    return tuple(link.items())


@pytest.mark.parametrize("name", REAL_PARAMS)
def test_a_real_pages_link_reopens_it_as_it_was_and_locks_every_control(name: str):
    link = dict(full_link(name))
    assert link, f"{name} publishes nothing to the address bar"

    locked = open_real(name, **link, lock=",".join(link), teacher="1")
    assert {k: locked.query_params.get(k) for k in link} == link  # same view, same address
    assert not locked.toast, [t.value for t in locked.toast]  # its own link is never "not possible"
    controls = {k: w for k, w in keyed_widgets(locked).items() if k in link}
    assert controls, f"none of {name}'s URL keys names a widget"
    assert not [k for k, w in controls.items() if not w.disabled], f"{name}: controls not locked by ?lock="


@pytest.mark.parametrize("name", REAL_PARAMS)
def test_a_real_pages_controls_can_be_hidden_by_the_link(name: str):
    link = dict(full_link(name))
    hidden = open_real(name, **link, hide=",".join(link))
    assert not [k for k in keyed_widgets(hidden) if k in link], f"{name}: controls not hidden by ?hide="


def test_a_page_opened_after_another_that_shares_its_keys_starts_from_its_own_values():
    """Pages share key names ("pad", "norm", "view", "layer"...) with different meanings; in one session, every
    page that shares a key is opened right after each page it shares it with, after a student changed it there."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    keys = {}
    for name in REAL:
        at.query_params.clear()
        at.switch_page(str(PAGES / name)).run()
        keys[name] = set(at.session_state["_urlstate_keys"])
    pairs = []  # for each page, predecessors that together bring every key it shares (greedy cover)
    for b in REAL:
        todo = set().union(*(keys[a] & keys[b] for a in REAL if a != b))
        while todo:
            a = max((a for a in REAL if a != b), key=lambda a: len(keys[a] & todo))
            pairs.append((a, b))
            todo -= keys[a]
    for a, b in pairs:
        at.query_params.clear()  # the sidebar's links carry no query string
        at.switch_page(str(PAGES / a)).run()
        assert not at.exception, (a, [e.message for e in at.exception])
        at.query_params.clear()
        at.switch_page(str(PAGES / b)).run()
        assert not at.exception, (f"{b} after {a}", [e.message for e in at.exception])
        assert not at.toast, (f"{b} after {a}", [t.value for t in at.toast])
