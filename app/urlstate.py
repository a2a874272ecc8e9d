"""Page state in the URL, so a copied address shows the same view; and teacher mode (hidden/locked controls).

Usage in a page:
    urlstate.init({"pad": 1, "stride": 1, "preset": "Sobel x"})   # before the widgets
    st.slider("Padding", 0, 5, key="pad", disabled=urlstate.locked("pad"))
    urlstate.publish()                                           # after the widgets

Only what differs from a page's defaults goes into the address (a fresh page keeps a bare one), all of a run's
changes in one step: the browser's Back then undoes one change at a time, and leaves a freshly opened page.
Back and Forward rerun the page with an older address, and the controls follow it.

A link is user input: a value that does not parse, is not finite, or fails `allowed` (a collection of valid
values, e.g. `range(0, 6)` for that slider, or a predicate) falls back to the default with a short toast,
so an edited or stale link never crashes a page:
    PADDINGS = range(0, 6)                                                  # one range for the link and the widget
    urlstate.init({"pad": 1, "preset": "Sobel x"}, allowed={"pad": PADDINGS, "preset": PRESETS})
    st.slider("Padding", PADDINGS.start, PADDINGS.stop - 1, key="pad")
A number without a rule would reach its widget unchecked (a slider raises on a value past its end), so `init`
refuses one. A predicate may read a key seeded before it (`st.session_state`). A range known only later (the
steps of a lesson, a data set's classes, a model's layers) is checked where it is known, with the same note:
    urlstate.confine("step", range(n_steps), min(st.session_state["step"], n_steps - 1))
"""
from __future__ import annotations

import math
from collections.abc import Callable, Container
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_KEYS = "_urlstate_keys"  # this page's key -> its default, as URL text
_PENDING = "_urlstate_pending"  # key -> (text or None, default): this run's writes, until publish()
_OWNER = "_urlstate_owner"  # key -> the page whose init last seeded it
_LINKED = "_urlstate_linked"  # key -> the link's text this run's init seeded it from, until publish()
RESERVED = ("teacher", "lock", "hide")  # teacher=1 hides the sidebar; lock=a,b disables; hide=a,b hides
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _parse(raw: str, default: Any) -> Any:
    """Turn a query-string value into the type of `default`; raise ValueError if it does not parse."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise ValueError(raw)
        return word in _TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        value = float(raw)
        if not math.isfinite(value):  # nan and inf break every widget
            raise ValueError(raw)
        return value
    if isinstance(default, (list, tuple)):
        return [type(default[0])(v) if default else v for v in raw.split(",") if v != ""]
    return raw


def _ok(value: Any, rule: Container[Any] | Callable[[Any], bool] | None) -> bool:
    """Whether `value` (or each item of a list) passes `rule`: membership in a container, or a predicate."""
    if rule is None:
        return True
    items = value if isinstance(value, list) else [value]
    try:
        return all(rule(v) if callable(rule) else v in rule for v in items)
    except (TypeError, ValueError):
        return False


def _is_number(value: Any) -> bool:
    """Whether a default is a number (a bool is a switch, not a number: it parses to True or False only)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def init(defaults: dict[str, Any],
         allowed: dict[str, Container[Any] | Callable[[Any], bool]] | None = None) -> None:
    """Seed session_state from the URL (first visit) or `defaults`, and remember the keys to publish.

    Args:
        defaults: widget key -> default value; the default's type decides how the URL text is parsed.
        allowed: widget key -> valid values (a container such as `range(0, 6)` or a list of options) or a
            predicate; a URL value outside it falls back to the default. Every number needs one (the widget's
            own range); text without one is free text that the page checks itself.
    Raises:
        ValueError: a key clashes with the teacher-mode parameters (`teacher`, `lock`, `hide`), or a number
            has no rule in `allowed`.
    """
    clash = set(defaults) & set(RESERVED)
    if clash:
        raise ValueError(f"urlstate keys {sorted(clash)} are reserved for teacher mode")
    allowed = allowed or {}
    unruled = [key for key, default in defaults.items() if _is_number(default) and key not in allowed]
    if unruled:
        raise ValueError(f"urlstate keys {unruled} hold numbers but have no range in `allowed`: a link could "
                         "put any number into their widgets")
    page = _page()
    owner = st.session_state.setdefault(_OWNER, {})
    st.session_state[_KEYS] = {key: _format(default) for key, default in defaults.items()}
    st.session_state[_PENDING] = {}  # what a run that stopped before publish() left is the past
    linked = st.session_state[_LINKED] = {}
    for key, default in defaults.items():
        # A value left by another page that uses the same key ("norm", "pad", "view"...) is not this page's:
        # seed it again, so a page never starts from another page's setting.
        if key not in st.session_state or owner.get(key) != page or history_step():
            st.session_state[key], from_link = _from_url(key, default, allowed.get(key))
            if from_link:
                linked[key] = _format(st.session_state[key])
        owner[key] = page
        # Streamlit forgets the value of a widget a run does not draw (a part shown only for one choice, or cut
        # off by st.stop), unless the session holds the value itself: writing it back makes it the session's.
        st.session_state[key] = st.session_state[key]


def _page() -> str:
    """An id of the page now running (its script hash), so keys shared by two pages are told apart."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def _from_url(key: str, default: Any, rule: Container[Any] | Callable[[Any], bool] | None) -> tuple[Any, bool]:
    """(the URL's value for `key`, True), or (`default`, False), with a toast when the URL's is impossible."""
    raw = st.query_params.get(key)
    if raw is None:
        return default, False
    try:
        value = _parse(raw, default)
    except ValueError:
        value = None
    if value is None or not _ok(value, rule):
        _refuse(key, raw, default)
        return default, False
    return value, True


def _refuse(key: str, raw: str, shown: Any) -> None:
    """Tell the student that the link asked for something impossible, and what the page shows instead."""
    st.toast(f"The link's value `{key}={raw[:40].replace('`', '')}` is not possible here; showing "
             f"`{_format(shown)[:40].replace('`', '')}`.")


def confine(key: str, allowed: Container[Any] | Callable[[Any], bool], fallback: Any) -> Any:
    """Keep `key` inside a range known only now (a lesson's steps, a data set's classes, a model's layers).

    A value outside it becomes `fallback` (e.g. the nearest end, or the first option); when the link that opened
    this run said so, with the same note as `init`. Returns the value kept.
    """
    value = st.session_state.get(key)
    if _ok(value, allowed):
        return value
    linked = st.session_state.get(_LINKED, {}).get(key)
    if linked is not None and linked == _format(value):
        _refuse(key, linked, fallback)
    st.session_state[key] = fallback
    return fallback


def set_default(key: str, value: Any) -> None:
    """A default the page works out in this run (e.g. the most confused pair), which a link need not spell out."""
    st.session_state[_KEYS][key] = _format(value)


def publish() -> None:
    """Write this page's values, and those the pickers gave `write`, into the address bar in one step."""
    keys = st.session_state.get(_KEYS, {})
    write({key: _format(st.session_state[key]) for key in keys if key in st.session_state}, keys)
    st.session_state.pop(_LINKED, None)  # a link's values are judged in the run that opened it
    pending = st.session_state.pop(_PENDING, {})
    now = st.query_params.to_dict()
    # a key not in the address yet stays out while it holds its default
    wanted = {key: None if key not in now and text == default else text for key, (text, default) in pending.items()}
    if any(now.get(key) != text for key, text in wanted.items()):
        st.query_params.from_dict({k: v for k, v in {**now, **wanted}.items() if v is not None})


def write(values: dict[str, str | None], defaults: dict[str, str] | None = None) -> None:
    """Queue URL keys to set (text) or remove (None) at `publish`: one change, one entry of the browser's history."""
    pending = st.session_state.setdefault(_PENDING, {})
    pending.update({key: (text, (defaults or {}).get(key)) for key, text in values.items()})


def history_step() -> bool:
    """Whether this run comes from the browser's Back or Forward: the address then wins over the session."""
    ctx = get_script_run_ctx()
    return ctx is not None and ctx.is_history_navigation


def _listed(param: str) -> set[str]:
    return {v for v in st.query_params.get(param, "").split(",") if v}


def teacher_mode() -> bool:
    """True when the link asks for the projector view (`?teacher=1`)."""
    return st.query_params.get("teacher", "0") in ("1", "true")


def locked(key: str) -> bool:
    """True when the link locks this control (`?lock=pad,stride`); use as the widget's `disabled=`."""
    return key in _listed("lock")


def hidden(key: str) -> bool:
    """True when the link hides this control (`?hide=pad`); the page then skips drawing it."""
    return key in _listed("hide")


def control(widget: str | Callable[..., Any], label: str, key: str, where: Any = st, disabled: bool = False,
            **kwargs: Any) -> Any:
    """A widget kept in the URL that obeys teacher mode; returns its value. The one way pages draw such a control.

    `widget` is a Streamlit widget or its name ("slider", "selectbox", ...), drawn in `where` (a column, the
    sidebar) unless the link hides `key` (`hide=key`), greyed out when the link locks it (`lock=key`) or when
    `disabled` (e.g. while a run trains). `kwargs` go to the widget.
    """
    if not hidden(key):
        draw = getattr(where, widget) if isinstance(widget, str) else widget
        draw(label, key=key, disabled=disabled or locked(key), **kwargs)
    return st.session_state.get(key)


def apply_teacher_mode() -> None:
    """Hide the sidebar, its toggle and the app's top bar in teacher mode, leaving the lesson alone on the screen
    and its first screen to the lesson (a projector has 768 pixels of height)."""
    if teacher_mode():
        st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
                "[data-testid='stExpandSidebarButton'] {display: none;} "
                "[data-testid='stHeader'] {display: none;} [data-testid='stMainBlockContainer'] {padding-top: 0.5rem;} "
                "[data-testid='stMainBlockContainer'] h1 {padding-top: 0.5rem;}</style>")
