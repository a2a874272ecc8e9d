"""Evaluate a model: test accuracy, per-class accuracy, a confusion matrix that opens the images behind each
cell, galleries of right and wrong answers, and two models side by side."""
import streamlit as st

from app import charts, nav, state, urlstate

st.title("🎯 Evaluate a model")
st.markdown("How good is the network, and **where** does it go wrong? Click a square of the confusion matrix "
            "to see exactly those test images.")

import models
from app.views import evaluate as view
from cnnviz.datasets import data
from cnnviz.results import evaluation, export

WHO = {"all": "all disagreements", "A": "only A right", "B": "only B right", "neither": "neither right"}
PAGE_NUMBERS = range(1, 10**6)  # a gallery page a link may name; the gallery's pager then keeps it within it
HELP = {  # what each term on this page means, and why it matters, for a student who meets it here first
    "accuracy": "The share of the test images whose top answer is the true class. The test images were never "
                "used in training, so this is how the model does on pictures it has not seen.",
    "cross-entropy": "Cross-entropy is the average of −log(the probability the model gave the true class): near 0 "
                     "when it is sure and right, large when it is sure and wrong. Training makes it small, and unlike "
                     "accuracy it also counts how confident each answer was.",
    "test images": "Images kept apart from training, with their true class known, used only to measure the model.",
    "confusion matrix": "A table of the true class (rows) against the model's answer (columns): the diagonal counts "
                        "the right answers, and every other square one kind of mistake, so you see which classes "
                        "the model mixes up.",
    "sure": "“Sure” is the probability the model gave its answer (its softmax output). A confident mistake is "
            "often a badly written or mislabelled image; a correct answer given with little confidence shows where "
            "the model almost went wrong.",
    "disagree": "Images on which the two models give different answers: where one model has learned something the "
                "other has not.",
    "compare": "Put a second model beside this one, on the same test images: which is better, and on which images.",
}


def show_cell(true: str, predicted: str) -> None:
    """Show the images of one square; a fresh chart (new key) forgets an earlier click on the matrix."""
    st.session_state["true"], st.session_state["pred"] = true, predicted
    boxes_changed()


def boxes_changed() -> None:
    """The boxes win over an earlier click: a fresh chart (new key) forgets that click."""
    st.session_state["_evaluate_matrix"] = st.session_state.get("_evaluate_matrix", 0) + 1


def two_models(spec: models.ModelSpec, p: evaluation.Predictions, test: data.ImageSet) -> None:
    """Model B beside the evaluated model A: both accuracies, their outcomes and the images they disagree on."""
    if not st.session_state.get("model_b") and not st.query_params.get("model_b"):
        # default B: another trained zoo model for the same data
        same = [n for n, e in models.ZOO.items() if e.dataset == spec.dataset and n != spec.choice
                and e.checkpoint.is_file()]
        st.session_state["model_b"] = same[0] if same else spec.choice
    picked = view.picked_model("model_b", "Second model (B)")
    if picked is None:
        return
    b = picked[0]
    if b.dataset != spec.dataset:
        st.warning(f"{b.title} was trained on {b.dataset}, not {spec.dataset}: pick a model for the same data set.")
        return
    pb, _ = view.predictions(b, len(test))
    c1, c2 = st.columns(2)
    c1.metric(f"A: {spec.title}", f"{p.accuracy:.2%}")
    c2.metric(f"B: {b.title}", f"{pb.accuracy:.2%}", delta=f"{(pb.accuracy - p.accuracy) * 100:+.2f} points")
    if b.checkpoint.resolve() == spec.checkpoint.resolve():
        st.info("A and B are the same checkpoint, so they agree everywhere. Pick another model for B, for "
                "example a run you trained on the Train page.")
    charts.show(view.agreement_chart(evaluation.agreement(p, pb)), width="stretch")
    who = urlstate.control("radio", "Where they disagree", "who", options=list(WHO), format_func=WHO.get,
                           horizontal=True, help=HELP["disagree"])
    rows = evaluation.disagreements(p, pb, None if who == "all" else who)
    st.markdown(f"**{len(rows):,}** images on which A and B give different answers.")
    view.gallery(rows, test, "compare", "dpage", (b.choice, who), view.pair_caption, spec.choice)


# The classes come with the model: "true", "pred" and "gclass" are checked once it is known.
nav.came_back()  # Back from Inside: the square, pages and filters the student left
urlstate.init({"view": "counts", "true": "", "pred": "", "cpage": 1, "kind": "confident_mistakes",
               "gclass": "all classes", "gpage": 1, "compare": False, "who": "all", "dpage": 1},
              allowed={"view": view.VIEWS, "kind": evaluation.GALLERIES, "who": WHO, "cpage": PAGE_NUMBERS,
                       "gpage": PAGE_NUMBERS, "dpage": PAGE_NUMBERS})
picked = view.picked_model("model", "Model")
if picked is None:
    urlstate.publish()
    st.stop()
spec, meta = picked
ds, stem = spec.dataset, export.file_stem(spec.checkpoint, spec.dataset)
try:
    test = evaluation.head(state.images(ds, "test"), evaluation.env_limit())
except data.DatasetUnavailable as exc:
    view.card_view(spec, meta, stem, str(exc) if state.taught(ds) else None)
    urlstate.publish()
    st.stop()
p, seconds = view.predictions(spec, len(test))
classes = p.classes

# ---- headline figures -----------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
c1.metric("Test accuracy", f"{p.accuracy:.2%}", help=HELP["accuracy"])
c2.metric("Test loss (cross-entropy)", f"{p.loss:.4f}", help=HELP["cross-entropy"])
c3.metric("Test images", f"{len(p):,}", help=HELP["test images"])
c4.metric("Mistakes", f"{int((~p.correct).sum()):,}")
how = f"computed in {seconds:.1f} s" if seconds > 0.5 else "read from the cache (computed once before)"
where = "the pictures kept aside when you taught it" if state.taught(ds) else f"the {ds} test set"
st.caption(f"{spec.title} on {where}: {how}. The answers are kept in memory and on disk, so the next "
           "visit is instant; retraining the model makes them be computed again.")

# ---- per class and confusion matrix: the most frequent mistake is the square shown first ----------------
matrix = evaluation.confusion(p)  # (K, K) counts, shared by the mistakes list, the default square and the downloads
for key, k in zip(("true", "pred"), evaluation.most_confused(matrix)):
    urlstate.set_default(key, classes[k])
    urlstate.confine(key, classes, classes[k])
matrix_key = f"matrix-{st.session_state.setdefault('_evaluate_matrix', 0)}"
clicked = st.session_state.get(matrix_key, {}).get("selection", {}).get("cell") or []
if clicked and {"true", "predicted"} <= set(clicked[0]):  # a click on the matrix picks the cell to show
    st.session_state["true"], st.session_state["pred"] = clicked[0]["true"], clicked[0]["predicted"]

left, right = st.columns([2, 3], gap="large")
view.per_class(matrix, classes, left)
left.subheader("Most frequent mistakes")
for _, row in evaluation.top_confusions(matrix, classes).iterrows():
    left.button(f"{row['true']} → {row['predicted']}: {row['count']:,} images ({row['share']:.1%} of {row['true']})",
                key=f"top-{row['true_index']}-{row['predicted_index']}", on_click=show_cell,
                args=(row["true"], row["predicted"]), help="Show these images below")
with right:
    st.subheader("Confusion matrix", help=HELP["confusion matrix"])
    normalised = view.view_toggle()
    shown = (st.session_state["true"], st.session_state["pred"])
    charts.show(view.confusion_chart(evaluation.confusion_frame(p), classes, normalised, shown), on_select="rerun",
                selection_mode="cell", key=matrix_key)
    st.caption("Rows: the true class. Columns: what the model answered. The diagonal holds the right answers. "
               "Click a square to see its images below.")
    view.downloads(matrix, classes, normalised, f"{spec.title} on {ds}", stem)

st.subheader("The images behind one square")
a, b, _ = st.columns([1, 1, 2])
urlstate.control("selectbox", "True class", "true", where=a, options=classes, on_change=boxes_changed)
urlstate.control("selectbox", "Predicted class", "pred", where=b, options=classes, on_change=boxes_changed)
t, q = classes.index(st.session_state["true"]), classes.index(st.session_state["pred"])
cell = evaluation.cell(p, t, q)
what = "correctly recognised" if t == q else f"taken for **{classes[q]}**"
st.markdown(f"**{len(cell):,}** test images of **{classes[t]}** {what}"
            + ("; the most confident first." if len(cell) > 1 else "."))
view.gallery(cell, test, "cell", "cpage", (t, q), view.cell_caption, spec.choice)

# ---- galleries ------------------------------------------------------------------------------------------
st.header("Right and wrong answers")
a, b = st.columns([3, 1])
kind = urlstate.control("radio", "Show", "kind", where=a, options=list(evaluation.GALLERIES),
                        format_func=evaluation.GALLERIES.get, horizontal=True, help=HELP["sure"])
urlstate.confine("gclass", ["all classes", *classes], "all classes")
gclass = urlstate.control("selectbox", "True class", "gclass", where=b, options=["all classes", *classes])
everything = evaluation.gallery(p, kind, None if gclass == "all classes" else classes.index(gclass))
st.markdown(f"**{len(everything):,}** images. Under each: true class → the model's answer, and how sure it was.")
view.gallery(everything, test, "gallery", "gpage", (kind, gclass), view.answer_caption, spec.choice)

# ---- two models -----------------------------------------------------------------------------------------
st.header("Two models side by side")
if urlstate.control("toggle", "Compare with a second model", "compare", help=HELP["compare"]):
    two_models(spec, p, test)

view.keep_scroll()
urlstate.publish()
