"""URL state and teacher mode through the real Streamlit runtime (AppTest): links load, edits are written back,
bad links fall back to defaults, locked controls are disabled, hidden ones are gone, teacher mode hides the sidebar."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "app" / "pages"

# A tiny page written the way every cnnviz page is told to use urlstate.
LESSON = textwrap.dedent(f"""
    import sys
    sys.path.insert(0, {str(ROOT)!r})
    import streamlit as st
    from app import urlstate

    urlstate.init({{"pad": 1, "rate": 0.5, "preset": "Sobel x", "flip": False, "sizes": [3, 5]}},
                  allowed={{"pad": range(0, 6), "rate": lambda r: 0 <= r <= 1}})
    urlstate.apply_teacher_mode()
    with st.sidebar:
        st.write("sidebar content")
    if not urlstate.hidden("pad"):
        st.slider("Padding", 0, 5, key="pad", disabled=urlstate.locked("pad"))
    st.number_input("Rate", 0.0, 1.0, key="rate", disabled=urlstate.locked("rate"))
    st.selectbox("Preset", ["Sobel x", "Sobel y", "Box blur"], key="preset", disabled=urlstate.locked("preset"))
    st.checkbox("Flip", key="flip", disabled=urlstate.locked("flip"))
    st.multiselect("Sizes", [1, 3, 5, 7], key="sizes", disabled=urlstate.locked("sizes"))
    st.markdown(f"result: pad={{st.session_state.pad}} preset={{st.session_state.preset}}")
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


def test_without_a_link_the_defaults_show_and_are_published(lesson):
    at = lesson()
    assert values(at) == DEFAULTS
    assert at.query_params == {"pad": "1", "rate": "0.5", "preset": "Sobel x", "flip": "0", "sizes": "3,5"}


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
    script.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                      "from app import urlstate\nurlstate.init({'teacher': 1})\n")
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
