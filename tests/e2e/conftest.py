"""Browser tests: the app started as the README starts it (`make run`), driven by Debian's Chromium via Playwright.

Every test here is marked e2e and skipped, with the reason, when /usr/bin/chromium or Playwright is missing
(`.ci/run` installs Chromium with apt). A screenshot of every test and the server log land in artifacts/e2e/.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import streamlit_browser as sb

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e as e2e; skip it all with one clear reason when there is no browser."""
    reason = sb.chromium_problem()
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = sb.launch(p)
        except Exception as exc:  # noqa: BLE001 - a broken or mismatched Chromium is the machine's problem, not the app's
            pytest.skip(f"{sb.CHROMIUM} is installed but did not start under Playwright: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="session")
def server(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sb.Server]:
    """One app process for the whole session, started by `make run` on a free port, its first page on screen."""
    runs = tmp_path_factory.mktemp("e2e-runs")
    srv = sb.Server(sb.ARTIFACTS / "server.log", env={
        "CNNVIZ_RUNS_DIR": str(runs), "CNNVIZ_DOWNLOAD": "0",
        # the hosting caps of the README, small enough for a quick suite: short runs and evaluations
        "CNNVIZ_MAX_EPOCHS": "3", "CNNVIZ_MAX_TRAIN_IMAGES": "3000", "CNNVIZ_MAX_TEST_IMAGES": "500",
        "CNNVIZ_EVAL_LIMIT": "2000"})
    try:
        srv.wait_healthy()
        ctx = browser.new_context(viewport=sb.VIEWPORT)
        first = ctx.new_page()
        first.goto(srv.url)
        first.locator("h1").first.wait_for(timeout=sb.RUN_TIMEOUT_MS)
        ctx.close()
        yield srv
    finally:
        srv.stop()


class App:
    """One student's browser (a fresh context) on the running app."""

    def __init__(self, browser, server: sb.Server) -> None:
        self.server = server
        self.context = browser.new_context(viewport=sb.VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(sb.RUN_TIMEOUT_MS)
        self.log_start = len(server.log())

    def open(self, path: str = "", **params: str) -> None:
        sb.open_page(self.page, self.server.url, path, **params)

    def goto(self, url: str) -> None:
        self.page.goto(url)
        self.page.locator("h1").first.wait_for()
        self.wait()

    def wait(self, timeout_ms: int = sb.RUN_TIMEOUT_MS) -> None:
        sb.wait_for_app(self.page, timeout_ms)

    def query(self) -> dict[str, str]:
        return sb.query(self.page)

    def shot(self, name: str) -> Path:
        return sb.shot(self.page, name)

    def assert_clean(self) -> None:
        """No exception box or traceback on screen, and no traceback in the server log since this browser opened."""
        assert not sb.problems_on_screen(self.page), sb.problems_on_screen(self.page)
        new_log = self.server.log()[self.log_start:]
        assert "Traceback" not in new_log, new_log[-3000:]


@pytest.fixture
def app(browser, server: sb.Server, request: pytest.FixtureRequest) -> Iterator[App]:
    """A new student's browser on the running app; its screen is kept as artifacts/e2e/<test>.png."""
    a = App(browser, server)
    yield a
    try:
        a.shot(request.node.name)
    finally:
        a.context.close()


@pytest.fixture
def new_app(browser, server: sb.Server) -> Iterator:
    """A factory for more fresh browsers in one test (a shared link opened elsewhere)."""
    made: list[App] = []

    def make() -> App:
        made.append(App(browser, server))
        return made[-1]

    yield make
    for a in made:
        a.context.close()
