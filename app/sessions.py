"""When a browser session is gone: the check a training run polls, and the janitor that frees closed tabs.

Closed tabs give their memory back: a session disconnected for longer than Streamlit's own
`server.disconnectedSessionTTL` is closed, which frees its uploaded files and its session state.

Streamlit keeps a disconnected session for that long so a dropped connection can resume it, but it only
forgets the session when another one disconnects, and forgetting it never frees the session's uploaded files
(measured: six 24-megapixel uploads in closed tabs held 120 MB for 8 minutes). One janitor thread per process
sweeps every `SWEEP_S` seconds.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

SWEEP_S = 10.0  # seconds between sweeps (at most; half the TTL when that is shorter)


def gone_for(is_active: Callable[[], bool], grace_s: float,
             clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """A check that turns true once `is_active` has kept answering False for `grace_s` seconds."""
    last_seen = [clock()]

    def gone() -> bool:
        if is_active():
            last_seen[0] = clock()
        return clock() - last_seen[0] > grace_s
    return gone


class Janitor:
    """Watches the sessions that ran the app and releases each one gone for `ttl_s` seconds."""

    def __init__(self, is_active: Callable[[str], bool], release: Callable[[str], None], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._is_active, self._release, self._ttl_s, self._clock = is_active, release, ttl_s, clock
        self._gone: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()

    def watch(self, session_id: str) -> None:
        """Start watching a session (called on every run; cheap after the first)."""
        if session_id not in self._gone:
            with self._lock:
                self._gone.setdefault(session_id,
                                      gone_for(lambda: self._is_active(session_id), self._ttl_s, self._clock))

    def sweep(self) -> list[str]:
        """Release every watched session gone for longer than the TTL; returns their ids."""
        with self._lock:
            done = [sid for sid, gone in self._gone.items() if gone()]
            for sid in done:
                del self._gone[sid]
        for sid in done:
            self._release(sid)
        return done

    def watching(self) -> int:
        """How many sessions are watched now."""
        return len(self._gone)

    def run_forever(self, period_s: float = SWEEP_S) -> None:
        """Sweep every `period_s` seconds (the body of the janitor's daemon thread)."""
        while True:
            time.sleep(period_s)
            self.sweep()


def streamlit_janitor() -> Janitor:
    """A janitor bound to this process's Streamlit runtime, its thread started."""
    from streamlit import config, runtime

    server = runtime.get_instance()

    def release(session_id: str) -> None:
        if server.is_active_session(session_id):  # came back between the sweep's look and now
            return
        server.uploaded_file_mgr.remove_session_files(session_id)
        # Streamlit's thread-safe way to close a stored session for good (it is what logging out uses): on the
        # event loop it shuts the session down, dropping its state, and a later reconnect starts afresh.
        server.clear_user_info_for_session(session_id)

    ttl_s = float(config.get_option("server.disconnectedSessionTTL"))
    janitor = Janitor(server.is_active_session, release, ttl_s)
    threading.Thread(target=janitor.run_forever, args=(min(SWEEP_S, ttl_s / 2),), name="cnnviz-janitor",
                     daemon=True).start()
    return janitor


def lost_session() -> bool:
    """Whether this browser asked to resume a session this server does not hold: the server was restarted, or the
    replica it was on (behind a proxy) went down. The page is then rebuilt from its link, and private images are gone.
    """
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return False
    # The browser's websocket names the session it wants back in its third subprotocol entry (Streamlit's own use).
    entries = [e.strip() for e in (st.context.headers.get("Sec-Websocket-Protocol") or "").split(",")]
    asked = entries[2] if len(entries) >= 3 else ""
    return bool(asked) and asked != ctx.session_id


def tell_if_lost() -> None:
    """Say once, in words, why a student's page was rebuilt after their server went away (never a blank page)."""
    import streamlit as st

    if "cnnviz.lost_told" not in st.session_state:
        st.session_state["cnnviz.lost_told"] = lost_session()
        if st.session_state["cnnviz.lost_told"]:
            st.toast("The server you were on went away, so another one took over: the page was rebuilt from its "
                     "link. An uploaded photo, a drawing or an answer you had typed must be given again.",
                     icon="🔌", duration="long")
