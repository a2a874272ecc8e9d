"""A session counts as gone only after its grace period; the janitor then frees it, and never an active one."""
from __future__ import annotations

from app.sessions import Janitor, gone_for


def test_a_session_is_released_once_gone_for_the_ttl_and_only_once() -> None:
    now, active, released = [0.0], {"a": True, "b": True}, []
    janitor = Janitor(lambda sid: active[sid], released.append, ttl_s=120, clock=lambda: now[0])
    janitor.watch("a")
    janitor.watch("b")
    janitor.watch("a")  # every run of a session calls watch: still one entry
    assert janitor.watching() == 2
    now[0] = 50
    assert janitor.sweep() == []  # both still connected
    active["a"] = False  # the student closes the tab at about t = 50
    now[0] = 160
    assert janitor.sweep() == []  # gone for 110 s (since the last sweep saw it): a reconnect may still come
    now[0] = 171
    assert janitor.sweep() == ["a"] and released == ["a"]
    now[0] = 400
    assert janitor.sweep() == [] and released == ["a"]  # b stayed connected; a is no longer watched
    assert janitor.watching() == 1


def test_a_dropped_connection_that_comes_back_is_kept() -> None:
    now, active, released = [0.0], {"a": True}, []
    janitor = Janitor(lambda sid: active[sid], released.append, ttl_s=60, clock=lambda: now[0])
    janitor.watch("a")
    active["a"], now[0] = False, 10
    janitor.sweep()
    active["a"], now[0] = True, 65  # back within the TTL
    assert janitor.sweep() == []
    active["a"], now[0] = False, 100
    assert janitor.sweep() == [] and released == []  # 35 s since it was last seen


def test_a_run_counts_its_session_gone_only_after_the_grace_period():
    """A closed tab stops its run after `grace_s`; a connection that comes back in time keeps it going."""
    from app import state

    now, active = [0.0], [True]
    gone = gone_for(lambda: active[0], grace_s=60, clock=lambda: now[0])
    assert not gone()
    active[0] = False
    now[0] = 59.0
    assert not gone()  # disconnected, but within the grace period
    active[0], now[0] = True, 70.0
    assert not gone()  # back again: the clock starts over
    active[0], now[0] = False, 129.0
    assert not gone()
    now[0] = 131.0
    assert gone()
    assert state.session_gone(1.0)() is False  # no Streamlit server here (a script, a test): never gone
