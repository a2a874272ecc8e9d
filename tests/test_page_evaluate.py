"""The Evaluate page under AppTest with the shipped MNIST checkpoint on the first test images."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import models
from app import nav, urlstate
from app.views import evaluate as view
from cnnviz.datasets import data
from cnnviz.results import evaluation
from cnnviz.training import checkpoint, train
from tests.conftest import ROOT, needs_data

LIMIT = 1000  # test images the page evaluates in these tests (the shipped MNIST model errs on 9 of the first 1,000)
PAGE = "lessons/evaluate.py"  # relative to app/main.py
DOWNLOADS = ["⬇ Confusion matrix (PNG)", "⬇ Confusion matrix (CSV)", "⬇ Per-class accuracy (CSV)"]
pytestmark = [pytest.mark.data, needs_data("mnist"),
              pytest.mark.skipif(not models.ZOO["mnist_cnn"].checkpoint.is_file(),
                                 reason="mnist_cnn checkpoint not trained yet")]


@pytest.fixture
def app(monkeypatch) -> AppTest:
    monkeypatch.setenv("CNNVIZ_EVAL_LIMIT", str(LIMIT))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.query_params["model"] = "mnist_cnn"
    at.switch_page(PAGE)
    return at


def truth(model: torch.nn.Module, meta: dict) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(loss, accuracy, predictions, labels) from the training engine on the same images: the oracle."""
    test = data.load("mnist", "test").subset(torch.arange(LIMIT))
    loss, acc, preds = train.evaluate(model, test, meta["mean"], meta["std"])
    return loss, acc, preds.numpy(), test.labels.numpy()


@pytest.fixture(scope="module")
def mnist_truth() -> tuple[float, float, np.ndarray, np.ndarray]:
    return truth(*models.load_file(models.ZOO["mnist_cnn"].checkpoint))


def buttons(at: AppTest, prefix: str) -> set[int]:
    """Test-set indices of the gallery's "Inside" buttons (keys `<prefix>-<index>`)."""
    return {int(b.key.rsplit("-", 1)[1]) for b in at.button if b.key and b.key.startswith(prefix + "-")}


def shown_predictions() -> evaluation.Predictions:
    """The predictions the page has shown, read back from the disk cache it wrote (the same numbers, same order)."""
    test = evaluation.head(data.load("mnist", "test"), LIMIT)
    return evaluation.cached_predict(models.ZOO["mnist_cnn"].checkpoint, test, models.load_file)


def on_page(frame, page: int) -> set[int]:
    """Test-set indices of page `page` (from 1) of a gallery table, 24 images a page."""
    return set(frame["index"][(page - 1) * 24:page * 24].tolist())


def page_box(at: AppTest, key: str) -> list:
    return [n for n in at.number_input if n.key == key]


def downloads(at: AppTest) -> list[str]:
    """Labels of the download buttons, after checking that a click only fetches the file (no rerun)."""
    assert all(b.proto.ignore_rerun for b in at.download_button)
    return [b.label for b in at.download_button]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_metrics_and_a_confusion_cell_chosen_with_the_boxes(app: AppTest, mnist_truth) -> None:
    loss, acc, preds, labels = mnist_truth
    app.run()
    assert not app.exception, app.exception
    assert metric(app, "Test accuracy") == f"{acc:.2%}"
    assert metric(app, "Test loss (cross-entropy)") == f"{loss:.4f}"
    assert metric(app, "Test images") == f"{LIMIT:,}"
    assert metric(app, "Mistakes") == f"{int((preds != labels).sum())}"
    assert downloads(app) == DOWNLOADS

    # the page opens on the most frequent mistake
    mistakes = [(int(t), int(q)) for t, q in zip(labels, preds) if t != q]
    most = max(set(mistakes), key=lambda c: (mistakes.count(c), -c[0], -c[1]))
    assert (app.selectbox(key="true").value, app.selectbox(key="pred").value) == (str(most[0]), str(most[1]))
    assert buttons(app, "cell") == set(np.flatnonzero((labels == most[0]) & (preds == most[1])).tolist())

    # choose the square "true 1, answered 1": all correctly read ones, at most 24 shown, most confident first
    app.selectbox(key="true").set_value("1").run()
    app.selectbox(key="pred").set_value("1").run()
    ones = set(np.flatnonzero((labels == 1) & (preds == 1)).tolist())
    shown = buttons(app, "cell")
    assert len(shown) == min(24, len(ones)) and shown <= ones
    assert any(f"**{len(ones)}** test images of **1** correctly recognised" in m.value for m in app.markdown)
    assert (app.query_params["true"], app.query_params["pred"]) == ("1", "1")


def test_a_frequent_mistake_button_opens_its_square(app: AppTest, mnist_truth) -> None:
    _, _, preds, labels = mnist_truth
    app.run()
    tops = [b.key for b in app.button if b.key and b.key.startswith("top-")]
    assert 1 <= len(tops) <= 5
    t, q = (int(v) for v in tops[-1].split("-")[1:])
    app.button(key=tops[-1]).click().run()
    assert (app.selectbox(key="true").value, app.selectbox(key="pred").value) == (str(t), str(q))
    assert buttons(app, "cell") == set(np.flatnonzero((labels == t) & (preds == q)).tolist())


def test_galleries_hold_the_misclassified_images(app: AppTest, mnist_truth) -> None:
    _, _, preds, labels = mnist_truth
    app.run()
    app.radio(key="kind").set_value("misclassified").run()
    wrong = np.flatnonzero(preds != labels)
    assert buttons(app, "gallery") == set(wrong[:24].tolist())
    seven = int(labels[wrong[0]])
    app.selectbox(key="gclass").set_value(str(seven)).run()
    assert buttons(app, "gallery") == set(wrong[labels[wrong] == seven].tolist())
    app.radio(key="kind").set_value("unsure_correct").run()
    right = np.flatnonzero((preds == labels) & (labels == seven))
    assert len(buttons(app, "gallery")) == min(24, len(right)) and buttons(app, "gallery") <= set(right.tolist())


def test_a_square_pages_through_its_images_and_another_square_starts_at_page_one(app: AppTest) -> None:
    app.run()
    assert not page_box(app, "cpage")  # the most frequent mistake fits on one page
    app.selectbox(key="true").set_value("1").run()
    app.selectbox(key="pred").set_value("1").run()
    p = shown_predictions()
    ones = evaluation.cell(p, 1, 1)
    pages = -(-len(ones) // 24)
    assert pages >= 3 and buttons(app, "cell") == on_page(ones, 1)
    app.number_input(key="cpage").set_value(2).run()
    assert not app.exception, app.exception
    assert buttons(app, "cell") == on_page(ones, 2)  # page 2 goes on where page 1 stopped, most confident first
    assert app.query_params["cpage"] == "2"
    assert any(c.value == f"page 2 of {pages} · images 25–48 of {len(ones)}" for c in app.caption)
    app.session_state["true"], app.session_state["pred"] = "7", "7"  # both at once, as a click on the matrix
    app.run()
    assert app.number_input(key="cpage").value == 1 and app.query_params["cpage"] == "1"
    assert buttons(app, "cell") == on_page(evaluation.cell(p, 7, 7), 1)


def test_the_gallery_pages_and_starts_again_for_another_class_or_kind(app: AppTest) -> None:
    app.query_params["kind"] = "correct"
    app.run()
    p = shown_predictions()
    app.number_input(key="gpage").set_value(3).run()
    assert buttons(app, "gallery") == on_page(evaluation.gallery(p, "correct"), 3)
    assert app.query_params["gpage"] == "3"
    app.selectbox(key="gclass").set_value("7").run()
    assert app.number_input(key="gpage").value == 1 and app.query_params["gpage"] == "1"
    assert buttons(app, "gallery") == on_page(evaluation.gallery(p, "correct", 7), 1)
    app.number_input(key="gpage").set_value(2).run()
    app.radio(key="kind").set_value("unsure_correct").run()
    assert app.number_input(key="gpage").value == 1
    assert buttons(app, "gallery") == on_page(evaluation.gallery(p, "unsure_correct", 7), 1)


def test_a_link_past_the_last_page_shows_the_last_page(app: AppTest) -> None:
    for key, value in {"true": "1", "pred": "1", "cpage": "999", "kind": "correct", "gpage": "two",
                       "hide": "gpage"}.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    p = shown_predictions()
    ones, right = evaluation.cell(p, 1, 1), evaluation.gallery(p, "correct")
    last = -(-len(ones) // 24)
    assert app.number_input(key="cpage").value == last and app.query_params["cpage"] == str(last)
    assert buttons(app, "cell") == on_page(ones, last) and len(on_page(ones, last)) == len(ones) - (last - 1) * 24
    # gpage=two does not parse: page 1; hide=gpage hides the box, not the page it shows
    assert app.query_params["gpage"] == "1" and not page_box(app, "gpage")
    assert buttons(app, "gallery") == on_page(right, 1)
    assert any(c.value.endswith(f"images 1–24 of {len(right)}") for c in app.caption)


def test_an_image_opens_in_inside_a_model(app: AppTest) -> None:
    app.run()
    key = next(b.key for b in app.button if b.key and b.key.startswith("cell-"))
    app.button(key=key).click().run()
    assert not app.exception, app.exception
    chosen = app.session_state["cnnviz.image"]
    assert {k: chosen[k] for k in ("source", "dataset", "index")} == {"source": "test", "dataset": "mnist",
                                                                      "index": int(key[5:])}
    if (ROOT / "app" / "lessons" / "inside.py").is_file():  # the app moved on to Inside a model
        assert not any("Evaluate a model" in t.value for t in app.title)
    else:
        assert any("not installed" in w.value for w in app.warning)


def test_back_from_inside_lands_on_the_square_and_pages_left(app: AppTest, monkeypatch) -> None:
    """st.switch_page leaves Evaluate's address as only `img` and `model`, and Back from Inside lands there: the page
    puts back the square, its page and the gallery's kind and page the student left."""
    for key, value in {"true": "1", "pred": "1", "cpage": "2", "kind": "correct", "gpage": "3"}.items():
        app.query_params[key] = value
    app.run()
    left = dict(app.query_params)
    shown = buttons(app, "cell"), buttons(app, "gallery")
    index = min(shown[0])
    app.button(key=f"cell-{index}").click().run()
    assert not app.exception, app.exception
    via = {"img": f"test:mnist:{index}", "model": "mnist_cnn"}
    assert app.session_state[nav.LEFT] == (via, left)

    monkeypatch.setattr(urlstate, "history_step", lambda: True)  # Back: the browser reruns Evaluate at that address
    app.query_params.clear()
    app.query_params.update(via)
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    assert dict(app.query_params) == left  # the address is the one left (the Back step replaced, not added to)
    assert (app.selectbox(key="true").value, app.selectbox(key="pred").value) == ("1", "1")
    assert (app.number_input(key="cpage").value, app.radio(key="kind").value, app.number_input(key="gpage").value) \
        == (2, "correct", 3)
    assert (buttons(app, "cell"), buttons(app, "gallery")) == shown


def test_back_within_the_page_shows_the_gallery_page_its_address_names(app: AppTest, monkeypatch) -> None:
    app.query_params["kind"] = "correct"
    app.query_params["gpage"] = "3"
    app.run()
    app.selectbox(key="gclass").set_value("7").run()
    assert app.number_input(key="gpage").value == 1  # another class starts at page 1
    monkeypatch.setattr(urlstate, "history_step", lambda: True)  # Back to the address before
    app.query_params.pop("gclass")
    app.query_params["gpage"] = "3"
    app.run()
    assert app.selectbox(key="gclass").value == "all classes"
    assert app.number_input(key="gpage").value == 3 and app.query_params["gpage"] == "3"
    assert buttons(app, "gallery") == on_page(evaluation.gallery(shown_predictions(), "correct"), 3)


def test_each_term_says_what_it_means(app: AppTest) -> None:
    app.run()
    helps = {m.label: m.help for m in app.metric}
    assert "−log(the probability" in helps["Test loss (cross-entropy)"] and helps["Test accuracy"]
    assert "row %" in app.segmented_control(key="view").help and "adds up to 100%" in app.segmented_control(
        key="view").help
    assert "probability" in app.radio(key="kind").help  # "sure" under each image
    assert all(h.proto.help for h in app.subheader if h.value in ("Confusion matrix", "Accuracy per class"))
    assert app.toggle(key="compare").help


def font_at(expr: str, width: float) -> float:
    """The font size Vega works out from `view.fitting_font`'s expression when the squares are `width` px wide."""
    test, _, sizes = expr.replace("width", str(width)).partition(" ? ")
    hidden, _, shown = sizes.partition(" : ")
    return float(eval(hidden if eval(test) else shown))  # noqa: S307 - arithmetic written by the page, no input


def test_the_matrix_numbers_shrink_to_fit_their_squares_on_a_phone() -> None:
    spec = view.confusion_chart(evaluation.confusion_table([[1130, 2], [3, 1005]], ["a", "b"]), ["a", "b"], False,
                                None).to_dict()
    labels = {row["label"] for rows in spec["datasets"].values() for row in rows}
    assert labels == {"1130", "2", "3", "1005"}  # no thousands separator: "1,130" is a character wider
    expr = view.fitting_font(15, 10, 4)  # MNIST's 10 classes, "1130" the longest number
    assert font_at(expr, 560) == 15  # the projector: squares of 56 px, the full size
    phone = font_at(expr, 294)  # a phone: squares of 29 px
    assert 10 <= phone < 15 and 4 * view.CHAR_EM * phone <= 29.4 - 4  # smaller, and still inside its square
    assert font_at(expr, 150) == 0  # squares of 15 px: no number at all rather than one spilling over
    assert spec["layer"][-1]["mark"]["fontSize"] == {"expr": view.fitting_font(15, 2, 4)}


@pytest.fixture
def noisy_run(tmp_path, monkeypatch):
    """A perturbed copy of mnist_cnn saved as a run trained in the app: (run folder, model, meta)."""
    model, meta = models.load_file(models.ZOO["mnist_cnn"].checkpoint)
    noisy = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * p.std() * 0.6)
    run = tmp_path / "runs" / "20260101-000000-noisy"
    checkpoint.save(run / "checkpoint.pt", noisy, {k: v for k, v in meta.items() if k != "card"})
    (run / "run.json").write_text(json.dumps({"config": {"model": "mnist_cnn", "dataset": "mnist"}}))
    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path / "runs"))
    return run, noisy, meta


@pytest.mark.skipif(not (ROOT / "app" / "lessons" / "inside.py").is_file(), reason="no Inside-a-model page")
def test_inside_a_model_opens_with_the_evaluated_model(app: AppTest, noisy_run) -> None:
    run = noisy_run[0]
    app.query_params["model"] = f"run:{run.name}"
    app.run()
    key = next(b.key for b in app.button if b.key and b.key.startswith("gallery-"))
    app.button(key=key).click().run()
    assert not app.exception, app.exception
    assert app.query_params["model"] == f"run:{run.name}"
    assert app.query_params["img"] == f"test:mnist:{key.split('-')[1]}"


def test_two_models_disagree_where_the_engine_says(app: AppTest, mnist_truth, noisy_run) -> None:
    """A perturbed copy of mnist_cnn saved as a run is model B; its disagreements match the engine's."""
    run, noisy, meta = noisy_run
    _, acc_a, preds_a, labels = mnist_truth
    _, acc_b, preds_b, _ = truth(noisy, meta)
    differ = preds_a != preds_b
    assert differ.any(), "the perturbation should change some answers"

    app.query_params["compare"] = "1"
    app.query_params["model_b"] = f"run:{run.name}"
    app.run()
    assert not app.exception, app.exception
    assert metric(app, f"B: run {run.name}") == f"{acc_b:.2%}"
    assert any(f"**{int(differ.sum())}** images on which A and B" in m.value for m in app.markdown)
    assert buttons(app, "compare") == set(np.flatnonzero(differ)[:24].tolist())
    assert differ.sum() > 24  # more than a page: the next page continues the list
    app.number_input(key="dpage").set_value(2).run()
    assert buttons(app, "compare") == set(np.flatnonzero(differ)[24:48].tolist())
    assert app.query_params["dpage"] == "2"
    app.radio(key="who").set_value("B").run()
    only_b = np.flatnonzero(differ & (preds_b == labels) & (preds_a != labels))
    assert buttons(app, "compare") == set(only_b[:24].tolist())  # another filter starts on page 1 again


def test_missing_checkpoint_says_so(app: AppTest, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(models.ZooEntry, "checkpoint", property(lambda self: tmp_path / f"{self.name}.pt"))
    app.run()
    assert not app.exception, app.exception
    assert any("no trained checkpoint" in e.value for e in app.error)
    assert not app.metric


def test_without_the_data_the_model_card_shows(app: AppTest, tmp_path, monkeypatch) -> None:
    from app import state

    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_DOWNLOAD", "0")
    state.dataset.clear()
    try:
        app.run()
    finally:
        state.dataset.clear()
    assert not app.exception, app.exception
    assert any("CNNVIZ_DATA_DIR" in i.value for i in app.info)
    card = models.card("mnist_cnn")
    assert metric(app, "Test accuracy (model card)") == f"{card['metrics']['test_acc']:.2%}"
    assert metric(app, "Test images (model card)") == f"{sum(map(sum, card['confusion'])):,}"
    assert downloads(app) == DOWNLOADS
    assert not [b for b in app.button if b.key and b.key.startswith("cell-")]
