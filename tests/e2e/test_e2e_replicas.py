"""Two replicas behind nginx (deploy/nginx.conf on loopback): each browser stays on its replica, a run trained
through one is listed by the other (shared runs folder), and when a replica dies its students move to the other
with a note, not a blank page."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit_browser as sb
from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(not Path(sb.NGINX).is_file(), reason="nginx is not installed (apt-get install nginx)")
Cluster = sb.Cluster  # two app replicas (r1, r2) and nginx in front of them


@pytest.fixture(scope="module")
def cluster(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    runs = tmp / "runs"
    runs.mkdir()
    c = Cluster(tmp, env={"CNNVIZ_RUNS_DIR": str(runs), "CNNVIZ_DOWNLOAD": "0", "CNNVIZ_SHARE_RUNS": "1",
                          "CNNVIZ_MAX_EPOCHS": "2", "CNNVIZ_MAX_TRAIN_IMAGES": "2000",
                          "CNNVIZ_MAX_TEST_IMAGES": "500"})
    try:
        c.wait()
        yield c
    finally:
        c.stop()


def replica_of(page) -> str:
    """The replica named in the sidebar's footer ('Server: r1')."""
    caption = page.locator("[data-testid='stSidebar']").get_by_text(re.compile(r"Server: r\d")).first
    expect(caption).to_be_visible(timeout=sb.RUN_TIMEOUT_MS)
    return re.search(r"r\d", caption.inner_text()).group(0)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`, as a student would."""
    page.get_by_role("combobox", name=label, exact=True).click(timeout=5_000)
    page.get_by_role("option", name=option, exact=True).click(timeout=5_000)


def student(browser, cluster: Cluster, path: str = "", **params: str):
    context = browser.new_context(viewport=sb.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(sb.RUN_TIMEOUT_MS)
    sb.open_page(page, cluster.url, path, **params)
    return context, page


def test_each_browser_stays_on_its_replica_and_both_serve(browser, cluster):
    seen, contexts = set(), []
    try:
        for _ in range(12):  # new browsers get random route keys: both replicas serve within a few
            context, page = student(browser, cluster, "convolution")
            contexts.append(context)
            first = replica_of(page)
            seen.add(first)
            page.get_by_role("button", name=re.compile(r"^Next")).click()  # a rerun over the same websocket
            sb.wait_for_app(page)
            page.reload()  # a new page load: static files, health check and a new websocket, all through nginx
            page.locator("h1").first.wait_for()
            sb.wait_for_app(page)
            assert replica_of(page) == first
            if seen == {"r1", "r2"} and len(contexts) >= 4:
                break
        assert seen == {"r1", "r2"}
    finally:
        for context in contexts:
            context.close()


def test_a_run_trained_through_one_replica_is_listed_by_the_other(browser, cluster):
    contexts = []
    try:
        trainer = other = None
        while other is None and len(contexts) < 12:
            context, page = student(browser, cluster, "train", data="mnist", epochs="1", limit="1000", batch="64",
                                    sched="none")
            contexts.append(context)
            if trainer is None:
                trainer = (page, replica_of(page))
            elif replica_of(page) != trainer[1]:
                other = page
        assert other is not None, "every browser landed on one replica"
        page = trainer[0]
        page.get_by_role("button", name=re.compile("Start training")).click()
        expect(page.get_by_text(re.compile(r"Finished \d epoch|Stopped during")).first).to_be_visible(timeout=120_000)
        sb.open_page(other, cluster.url, "compare")
        expect(other.get_by_text(re.compile(r"mnist_cnn-mnist-seed0|mnist_cnn.*mnist")).first).to_be_visible()
    finally:
        for context in contexts:
            context.close()


def test_a_dying_replica_sends_its_students_to_the_other_with_a_note(browser, cluster):
    context, page = student(browser, cluster, "convolution", step="3")
    try:
        gone = replica_of(page)
        cluster.replicas[gone].stop()
        survivor = next(name for name in cluster.replicas if name != gone)
        # Streamlit's page reconnects by itself (nginx sends it to the replica that is left) and keeps showing the
        # lesson; the student's next change runs it there, in a new session rebuilt from the link (that first change
        # itself is lost: the new session seeds its controls from the address). (A click inside a
        # fragment, such as the stepper's Next, is dropped by Streamlit for a session that has not run yet.)
        moved = page.locator("[data-testid='stSidebar']").get_by_text(f"Server: {survivor}")
        deadline = time.monotonic() + 90
        while not moved.count() and time.monotonic() < deadline:
            page.wait_for_timeout(2_000)
            choose(page, "Padding", "1")
        expect(moved).to_be_visible()
        expect(page.get_by_text(re.compile("The server you were on went away")).first).to_be_visible(timeout=30_000)
        expect(page.locator("h1").first).to_be_visible()
        assert sb.query(page).get("step") == "3"  # rebuilt from its link, as the note says
        assert not sb.problems_on_screen(page)
        sb.shot(page, "replica_failover")
    finally:
        context.close()
