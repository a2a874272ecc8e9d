"""The Compare page's "Is the difference real?" panel in a browser: two recipes' runs, the verdict in words, the dot
plot, on a projector and on a phone."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
import streamlit_browser as sb
from playwright.sync_api import expect

from cnnviz.training import train
from cnnviz.training.runs import Run

RECIPE = asdict(train.TrainConfig("cifar10", "cifar_cnn", epochs=3, train_limit=2000, augment=("flip",)))
FIGURES = {("flip",): [0.612, 0.634, 0.621, 0.640], ("flip", "crop"): [0.652, 0.668, 0.649]}


def write_runs(root: Path) -> None:
    """Seeds of two recipes that differ by their augmentation, with known test accuracies, and a diverged run."""
    for augment, accuracies in FIGURES.items():
        for seed, acc in enumerate(accuracies):
            run = Run.create(f"cifar_cnn-seed{seed}", root)
            run.update(config={**RECIPE, "augment": list(augment), "seed": seed}, status="finished",
                       metrics={"test_acc": acc, "val_acc": acc, "train_loss": 0.9})
    Run.create("cifar_cnn-seed9", root).update(config={**RECIPE, "seed": 9}, status="diverged", metrics={})


@pytest.fixture(scope="module")
def runs_server(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sb.Server]:
    runs = tmp_path_factory.mktemp("compare-stats-runs")
    write_runs(runs)
    srv = sb.Server(sb.ARTIFACTS / "server_compare_stats.log",
                    env={"CNNVIZ_RUNS_DIR": str(runs), "CNNVIZ_DOWNLOAD": "0", "CNNVIZ_MAX_EPOCHS": "3"})
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("viewport", [sb.VIEWPORT, {"width": 390, "height": 844}], ids=["projector", "phone"])
def test_the_verdict_and_the_tests_are_on_screen(browser, runs_server, viewport) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(sb.RUN_TIMEOUT_MS)
    try:
        sb.open_page(page, runs_server.url, "compare")
        heading = page.get_by_role("heading", name="Is the difference real?")
        heading.scroll_into_view_if_needed()
        verdict = page.get_by_text("A against B. test accuracy: a difference of")
        expect(verdict).to_be_visible()
        assert "with 4 runs and 3 runs: distinguishable from luck, p = 0.019." in verdict.inner_text()
        expect(page.get_by_text("Left out: 1 run diverged")).to_be_visible()
        for label in ("z-score", "Welch's t", "degrees of freedom", "p-value", "runs needed"):
            expect(page.get_by_test_id("stMetricLabel").filter(has_text=label)).to_be_visible()
        expect(page.locator("[data-testid='stVegaLiteChart'], .vega-embed").last).to_be_visible()
        # recipe A has 4 runs with a figure, B has 3: five per recipe asks for 1 more of A and 2 of B
        page.get_by_label("Runs per recipe", exact=True).fill("5")
        page.keyboard.press("Enter")
        sb.wait_for_app(page)
        expect(page.get_by_role("button", name="Queue 2 more runs of recipe B (seeds 3, 4)")).to_be_visible()
        assert not sb.problems_on_screen(page), sb.problems_on_screen(page)
        sb.shot(page, f"compare_stats_{viewport['width']}")
    finally:
        context.close()
