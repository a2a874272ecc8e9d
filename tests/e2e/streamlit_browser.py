"""Helpers for driving the running app in Chromium: start it as the README does, wait for Streamlit, check screens.

Also used by bench/bench_load.py and bench/bench_capacity.py, so it imports nothing from pytest.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = Path(os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}  # a common classroom projector
START_TIMEOUT_S = 180  # `make run` may first have to install the requirements on a fresh clone
RUN_TIMEOUT_MS = 60_000  # one script run; the first load of a model or a data set takes seconds
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def existing_pages() -> list[tuple[str, str]]:
    """(url path, title) of each page in app/nav.py's PAGES whose file exists, read without running the app."""
    tree = ast.parse((ROOT / "app" / "nav.py").read_text())
    pages = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES")
    found = [(Path(file).stem, title) for _, file, title, _ in pages if (ROOT / "app" / "lessons" / file).is_file()]
    return [("" if i == 0 else stem, title) for i, (stem, title) in enumerate(found)]  # the first page lives at /


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright is not importable ({exc}): pip install -r requirements.txt"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"{CHROMIUM} not found: install Debian's chromium (`apt-get install -y chromium`, which .ci/run "
                "does as root) or point CNNVIZ_CHROMIUM at a Chromium binary")
    return None


def launch(playwright):  # -> playwright.sync_api.Browser
    """Debian's Chromium, headless, with the flags that keep it off the (closed) network."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Server:
    """The app as the README starts it (`PORT=... make run`), its output in a log file."""

    def __init__(self, log_path: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://localhost:{self.port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w")
        full_env = {**os.environ, "PORT": str(self.port), "PYTHONUNBUFFERED": "1", **(env or {})}
        # A new session puts make and its streamlit child in one process group, stopped together in stop().
        self.proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=full_env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.monotonic()

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Seconds from start until /_stcore/health answers; raises with the log's tail if it never does."""
        while time.monotonic() - self.started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"`make run` exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if healthy(self.url):
                return time.monotonic() - self.started
            time.sleep(0.1)
        raise RuntimeError(f"no answer on {self.url}/_stcore/health after {timeout_s} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The members of the app's process group (make and the streamlit process), for CPU and memory figures."""
        found = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().rsplit(")", 1)[1].split()[2]) == self.proc.pid:  # pgrp
                        found.append(int(d.name))
                except (OSError, IndexError, ValueError):
                    continue
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


class Cluster:
    """App replicas behind nginx, as deploy/nginx.conf puts them, all on loopback.

    deploy/nginx.conf is rendered with one upstream `server` line per replica (its options kept), nginx listening
    on 127.0.0.1 and its files under `tmp`; its route cookie (cnnviz_route) keeps each browser on one replica.
    Each replica gets CNNVIZ_REPLICA=r1, r2, ... (the sidebar's footer names it).
    """

    def __init__(self, tmp: Path, env: dict[str, str] | None = None, replicas: int = 2,
                 logs: Path = ARTIFACTS) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        self.nginx_log = logs / "nginx.log"
        self.replicas = {name: Server(logs / f"server_{name}.log", env={**(env or {}), "CNNVIZ_REPLICA": name})
                         for name in (f"r{i}" for i in range(1, replicas + 1))}
        try:
            self.port = free_port()
            self.url = f"http://localhost:{self.port}"
            conf = (ROOT / "deploy" / "nginx.conf").read_text()
            upstream = re.search(r"(?m)(?:^[ \t]*server app\d+:8501\b[^\n]*\n)+", conf)
            if upstream is None:
                raise RuntimeError("deploy/nginx.conf has no `server appN:8501` lines to point at the replicas")
            line = upstream.group(0).splitlines(keepends=True)[0]
            servers = "".join(re.sub(r"app\d+:8501", f"127.0.0.1:{r.port}", line) for r in self.replicas.values())
            conf = conf[:upstream.start()] + servers + conf[upstream.end():]
            conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
            conf = conf.replace("/tmp/cnnviz-nginx", str(tmp / "ngx"))
            if os.geteuid() == 0:  # root's nginx runs its workers as nobody, who cannot write request bodies (an
                conf = "user root;\n" + conf  # upload) under a private tmp; a non-root nginx keeps its own user
            (tmp / "nginx.conf").write_text(conf)
            self.nginx = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=self.nginx_log.open("w"))
        except BaseException:
            for r in self.replicas.values():
                r.stop()
            raise

    def wait(self, timeout_s: float = 30) -> float:
        """Seconds until every replica, then nginx, answer the health check; raises with the logs if one never does."""
        for r in self.replicas.values():
            r.wait_healthy()
        deadline = time.monotonic() + timeout_s
        while not healthy(self.url):
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx does not answer on {self.url}:\n{self.nginx_log.read_text()[-3000:]}")
            time.sleep(0.2)
        return time.monotonic() - min(r.started for r in self.replicas.values())

    def nginx_pids(self) -> list[int]:
        """nginx's master and its workers (the master's children), for CPU figures."""
        found = [self.nginx.pid]
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.nginx.pid:  # ppid
                        found.append(int(d.name))
                except (OSError, IndexError, ValueError):
                    continue
        return found

    def stop(self) -> None:
        if self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for r in self.replicas.values():
            r.stop()


def wait_for_app(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished the script run that the last action started."""
    page.wait_for_timeout(300)  # let a rerun triggered by the last click or key start
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(timeout=timeout_ms)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=timeout_ms)
    page.locator("[data-testid='stStatusWidgetRunningIcon']").wait_for(state="detached", timeout=timeout_ms)
    # Elements whose code the browser is still loading show as skeletons for a moment after the run ends.
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stSkeleton']\")", polling=100, timeout=timeout_ms
    )


def page_url(base: str, path: str = "", **params: str) -> str:
    return f"{base}/{path}" + (f"?{urlencode(params)}" if params else "")


def open_page(page, base: str, path: str = "", **params: str) -> None:
    """Open `/<path>?<params>` and wait until its first heading is on screen and the script has finished."""
    page.goto(page_url(base, path, **params))
    page.locator("h1").first.wait_for()
    wait_for_app(page)


def query(page) -> dict[str, str]:
    """The address bar's query parameters."""
    return dict(parse_qsl(urlparse(page.url).query))


def problems_on_screen(page) -> list[str]:
    """Texts of exception boxes, and any traceback text, on the current screen."""
    found = [e.inner_text()[:1500] for e in page.locator("[data-testid='stException']").all()]
    body = page.locator("body").inner_text()
    for sign in ("Traceback", "Page not found"):
        if sign in body:
            found.append(body[body.index(sign):][:1500])
    return found


def shot(page, name: str, folder: Path = ARTIFACTS, max_height: int = 6000) -> Path:
    """A screenshot of the whole page saved as <folder>/<name>.png.

    Streamlit scrolls inside its own container, so Playwright's full_page sees one screen: the viewport is
    stretched to the content's height for the picture, then put back.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")
    size = page.viewport_size or VIEWPORT
    content = page.evaluate("() => { const m = document.querySelector('[data-testid=stMainBlockContainer]');"
                            " return m ? Math.ceil(m.getBoundingClientRect().height) : 0; }")
    height = min(max(size["height"], content + 120), max_height)
    try:
        if height != size["height"]:
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(400)  # let charts and images re-lay themselves out
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
