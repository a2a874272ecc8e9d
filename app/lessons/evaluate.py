"""Evaluate a model: test accuracy, per-class accuracy, a confusion matrix that opens the images behind each
cell, galleries of right and wrong answers, and two models side by side."""
import time
from pathlib import Path

import altair as alt
import streamlit as st

from app import nav, state, urlstate

st.title("🎯 Evaluate a model")
st.markdown("How good is the network, and **where** does it go wrong? Click a square of the confusion matrix "
            "to see exactly those test images.")

import pandas as pd  # noqa: E402

import models  # noqa: E402  (PyTorch: imported after the title is on screen)
from app.widgets import model_picker  # noqa: E402
from cnnviz.datasets import data, explore  # noqa: E402
from cnnviz.results import evaluation, export

GALLERY_SIZE = 24   # images per gallery page
COLUMNS = 8         # images per gallery row
VIEWS = ["counts", "row %"]  # the confusion matrix's numbers, for the switch and for the link alike
WHO = {"all": "all disagreements", "A": "only A right", "B": "only B right", "neither": "neither right"}
PAGE_NUMBERS = range(1, 10**6)  # a gallery page a link may name; `pager` then keeps it within the gallery
NO_DATA = ("The test images of **{ds}** are not on this computer, so the galleries cannot be shown. To get them, "
           "set the environment variable `CNNVIZ_DATA_DIR` to a folder holding `MNIST/raw/*-ubyte` (MNIST) or "
           "`cifar10/{{train,test}}/<class>/*.png` / `cifar-10-batches-py/` (CIFAR-10), or allow the download "
           "(`CNNVIZ_DOWNLOAD=1` with internet), then reload. Below: the figures stored in the model card.")


def resolve(choice: str) -> tuple[Path, str]:
    """(checkpoint file, readable name) of a zoo name or a run's checkpoint path."""
    if choice in models.ZOO:
        return models.ZOO[choice].checkpoint, models.ZOO[choice].title
    path = Path(choice)
    return path, f"run {path.parent.name}" if path.name == "checkpoint.pt" else path.name


def meta_of(path: Path, title: str) -> dict | None:
    """The checkpoint's meta, or None after telling the user why there is none."""
    try:
        return state.checkpoint_meta(str(path), path.stat().st_mtime_ns)
    except (FileNotFoundError, models.CheckpointError):
        st.error(f"**{title}** has no trained checkpoint yet (looked for `{path}`). Train it on the Train page, "
                 "or wait until the background training of the zoo has written it, then reload.")
        return None


def dataset_of(meta: dict) -> str:
    return meta.get("dataset") or meta.get("config", {}).get("dataset", "")


def file_stem(path: Path, ds: str) -> str:
    """'mnist_cnn-mnist' or '<run folder>-mnist': names the downloaded files after the model and the data."""
    return f"{path.parent.name if path.name == 'checkpoint.pt' else path.stem}-{ds}"


def evaluate(path: Path, title: str, ds: str, limit: int):
    """Predictions of the checkpoint on the test set, with a progress bar the first time."""
    slot = st.empty()
    start = time.perf_counter()
    p = state.predictions(str(path), ds, limit,
                          progress=lambda f: slot.progress(f, text=f"Running {title} on the test images… {f:.0%}"))
    slot.empty()
    return p, time.perf_counter() - start


def open_inside(ds: str, index: int, model: str) -> None:
    """Show test image `index` on the Inside-a-model page, with the model evaluated here."""
    st.session_state["cnnviz.image"] = {"source": "test", "dataset": ds, "index": int(index)}
    nav.go("inside", img=f"test:{ds}:{int(index)}", model=model)


def show_gallery(frame, test, key: str, caption, model: str) -> None:
    """A grid of the images in `frame` (column 'index'), each captioned and with a button to look inside."""
    scale = explore.scale_for(test, 96)
    for start in range(0, len(frame), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, (_, row) in zip(cols, frame.iloc[start:start + COLUMNS].iterrows()):
            i = int(row["index"])
            with col:
                st.image(explore.tile(test.images[i:i + 1], 1, scale, pad=0), width="stretch")
                st.markdown(f"<div style='text-align:center;font-size:1.05rem;line-height:1.3;min-height:3.9em'>"
                            f"{caption(row)}</div>", unsafe_allow_html=True)
                if st.button("🔬 Inside", key=f"{key}-{i}", help=f"Open test image {i} in Inside a model: "
                             "feature maps, filters and where the network looks",
                             width="stretch"):
                    open_inside(test.name, i, model)


def first_page_when(key: str, shown: tuple) -> None:
    """Back to page 1 when the gallery now holds other images (cell, kind or class) than at the last run."""
    memo = f"_evaluate_{key}_of"
    if st.session_state.get(memo, shown) != shown:
        st.session_state[key] = 1
    st.session_state[memo] = shown


def pager(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows of the gallery page kept under `key`, with a page box and what it holds when there are several."""
    rows, page, pages = evaluation.page_of(frame, st.session_state[key], GALLERY_SIZE)
    urlstate.confine(key, range(1, pages + 1), page)  # a page past the end (a link, fewer images): the last one
    if pages > 1:
        box, text = st.columns([1, 5], vertical_alignment="bottom")
        if not urlstate.hidden(key):
            box.number_input("Page", 1, pages, step=1, key=key, disabled=urlstate.locked(key))
        first = (page - 1) * GALLERY_SIZE
        text.caption(f"page {page} of {pages} · images {first + 1}–{first + len(rows)} of {len(frame):,}")
    return rows


def percent(x: float) -> str:
    return f"{x:.0%}" if x < 0.995 else f"{x:.1%}"


def per_class_chart(table) -> alt.Chart:
    """Horizontal bars of per-class accuracy, worst class on top."""
    order = table["class"].tolist()
    base = alt.Chart(table).encode(
        y=alt.Y("class:N", sort=order, title=None),
        x=alt.X("accuracy:Q", title="accuracy on the test images", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(color="#4c78a8").encode(
        tooltip=["class", alt.Tooltip("accuracy:Q", format=".1%"), "correct", "total"])
    text = base.mark_text(align="right", dx=-4, color="white", fontSize=14, fontWeight="bold").encode(
        text=alt.Text("accuracy:Q", format=".1%"))
    return (bars + text).properties(height=max(240, 34 * len(order)))


def readable(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Axis and legend text large and dark enough for a projector."""
    return (chart.configure_axis(labelFontSize=15, titleFontSize=16, labelColor="#222", titleColor="#222")
            .configure_legend(labelFontSize=16))


def confusion_chart(frame, classes: list[str], normalised: bool, shown: tuple[str, str] | None) -> alt.Chart:
    """Heat map of the confusion matrix, rows the true class; the `shown` cell is outlined, a click selects one."""
    field = "share" if normalised else "count"
    colour = alt.Color(f"{field}:Q", legend=None, scale=alt.Scale(
        scheme="blues", type="sqrt" if normalised else "symlog", domainMin=0))
    frame = frame.assign(label=[export.share_text(c, v) for c, v in zip(frame["count"], frame["share"])]
                         if normalised else [f"{c:,}" for c in frame["count"]])
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=classes, title="predicted class",
                axis=alt.Axis(orient="top", labelOverlap=False,
                              labelAngle=-40 if len(max(classes, key=len)) > 3 else 0)),
        y=alt.Y("true:N", sort=classes, title="true class", axis=alt.Axis(labelOverlap=False)),
    )
    tooltip = ["true", "predicted", alt.Tooltip("count:Q", format=","), alt.Tooltip("share:Q", format=".1%")]
    rect = base.mark_rect(stroke="white", strokeWidth=1).encode(color=colour, tooltip=tooltip)
    layers = [rect]
    if shown is not None:
        rect = rect.mark_rect(cursor="pointer").add_params(
            alt.selection_point(name="cell", fields=["true", "predicted"], on="click"))
        outline = alt.Chart(frame[(frame["true"] == shown[0]) & (frame["predicted"] == shown[1])]).mark_rect(
            fill=None, stroke="#e45756", strokeWidth=5).encode(x=alt.X("predicted:N", sort=classes),
                                                                y=alt.Y("true:N", sort=classes))
        layers = [rect, outline]
    if len(classes) <= 15:
        top = frame[field].max() or 1
        threshold = (top * 0.35) if normalised else top ** 0.5
        layers.append(base.mark_text(fontSize=15 if len(classes) <= 10 else 11).encode(
            text="label:N",
            color=alt.condition(alt.datum[field] > threshold, alt.value("white"), alt.value("#222")),
            tooltip=tooltip,
        ))
    size = max(320, min(620, 56 * len(classes)))
    return alt.layer(*layers).properties(width=size, height=size)


def downloads(matrix, classes: list[str], normalised: bool, title: str, stem: str) -> None:
    """The confusion matrix as PNG (as shown) and CSV, and per-class accuracy as CSV: files made only on a click."""
    shares = "-row-shares" if normalised else ""
    heading = f"{title}: {sum(map(sum, matrix)):,} test images"
    row = st.container(horizontal=True)  # buttons as wide as their labels (columns cut them), wrapping if need be
    row.download_button("⬇ Confusion matrix (PNG)",
                        lambda: export.confusion_png(matrix, classes, normalised, heading),
                        file_name=f"confusion-{stem}{shares}.png", mime="image/png", on_click="ignore")
    row.download_button("⬇ Confusion matrix (CSV)", lambda: export.csv(evaluation.confusion_grid(matrix, classes)),
                        file_name=f"confusion-{stem}.csv", mime="text/csv", on_click="ignore")
    row.download_button("⬇ Per-class accuracy (CSV)", lambda: export.csv(evaluation.per_class_table(matrix, classes)),
                        file_name=f"per-class-accuracy-{stem}.csv", mime="text/csv", on_click="ignore")


def card_view(meta: dict, ds: str, title: str, stem: str) -> None:
    """What the model card stored when the checkpoint was trained (no test images needed)."""
    st.info(NO_DATA.format(ds=ds))
    card = meta.get("card", {})
    metrics, matrix = card.get("metrics", {}), card.get("confusion")
    if not metrics or not matrix:
        st.warning("This checkpoint's model card holds no test metrics (it was saved before training finished).")
        return
    classes = list(card.get("classes") or meta.get("classes"))
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy (model card)", f"{metrics['test_acc']:.2%}")
    c2.metric("Test loss (model card)", f"{metrics['test_loss']:.4f}")
    c3.metric("Test images (model card)", f"{sum(map(sum, matrix)):,}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.subheader("Accuracy per class")
        st.altair_chart(readable(per_class_chart(evaluation.per_class_table(matrix, classes))), width="stretch")
    with right:
        st.subheader("Confusion matrix")
        normalised = view_toggle()
        table = evaluation.confusion_table(matrix, classes)
        st.altair_chart(readable(confusion_chart(table, classes, normalised, None)))
        downloads(matrix, classes, normalised, f"{title} on {ds} (model card)", stem)


def view_toggle() -> bool:
    urlstate.confine("view", VIEWS, VIEWS[0])
    if not urlstate.hidden("view"):
        st.segmented_control("Show", VIEWS, key="view", disabled=urlstate.locked("view"),
                             help="row %: each row adds up to 100%, the share of that true class given each answer")
    return st.session_state.get("view") == "row %"


# The classes come with the model: "true", "pred" and "gclass" are checked once it is known.
urlstate.init({"view": "counts", "true": "", "pred": "", "cpage": 1, "kind": "confident_mistakes",
               "gclass": "all classes", "gpage": 1, "compare": False, "who": "all", "dpage": 1},
              allowed={"view": VIEWS, "kind": evaluation.GALLERIES, "who": WHO, "cpage": PAGE_NUMBERS,
                       "gpage": PAGE_NUMBERS, "dpage": PAGE_NUMBERS})
choice = model_picker("model", "Model")
path, title = resolve(choice)
meta = meta_of(path, title)
if meta is None:
    urlstate.publish()
    st.stop()
ds = dataset_of(meta)
try:
    test = evaluation.head(state.dataset(ds, "test"), evaluation.env_limit())
except data.DatasetUnavailable:
    card_view(meta, ds, title, file_stem(path, ds))
    urlstate.publish()
    st.stop()

p, seconds = evaluate(path, title, ds, len(test))
classes = p.classes

# ---- headline figures -----------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
c1.metric("Test accuracy", f"{p.accuracy:.2%}")
c2.metric("Test loss (cross-entropy)", f"{p.loss:.4f}")
c3.metric("Test images", f"{len(p):,}")
c4.metric("Mistakes", f"{int((~p.correct).sum()):,}")
how = f"computed in {seconds:.1f} s" if seconds > 0.5 else "read from the cache (computed once before)"
st.caption(f"{title} on the {ds} test set: {how}. The answers are kept in memory and on disk, so the next visit "
           "is instant; retraining the model makes them be computed again.")

# ---- per class and confusion matrix ---------------------------------------------------------------------
frame = evaluation.confusion_frame(p)
matrix = evaluation.confusion(p)  # (K, K) counts, shared by the mistakes list, the default square and the downloads


def show_cell(true: str, predicted: str) -> None:
    """Show the images of one square; a fresh chart (new key) forgets an earlier click on the matrix."""
    st.session_state["true"], st.session_state["pred"] = true, predicted
    st.session_state["_evaluate_matrix"] = st.session_state.get("_evaluate_matrix", 0) + 1


left, right = st.columns([2, 3], gap="large")
with left:
    st.subheader("Accuracy per class")
    st.altair_chart(readable(per_class_chart(evaluation.per_class_accuracy(p))), width="stretch")
    st.subheader("Most frequent mistakes")
    for _, row in evaluation.top_confusions(matrix, classes).iterrows():
        st.button(f"{row['true']} → {row['predicted']}: {row['count']:,} images ({row['share']:.1%} of {row['true']})",
                  key=f"top-{row['true_index']}-{row['predicted_index']}", on_click=show_cell,
                  args=(row["true"], row["predicted"]), help="Show these images below")
counts = matrix.copy()
counts[range(len(classes)), range(len(classes))] = -1  # show the most frequent mistake first
t, q = divmod(int(counts.argmax()), len(classes))
urlstate.set_default("true", classes[t])
urlstate.set_default("pred", classes[q])
urlstate.confine("true", classes, classes[t])
urlstate.confine("pred", classes, classes[q])
matrix_key = f"matrix-{st.session_state.setdefault('_evaluate_matrix', 0)}"
picked = st.session_state.get(matrix_key, {}).get("selection", {}).get("cell") or []
if picked and {"true", "predicted"} <= set(picked[0]):  # a click on the matrix picks the cell to show
    st.session_state["true"], st.session_state["pred"] = picked[0]["true"], picked[0]["predicted"]


def boxes_changed() -> None:
    """The boxes win over an earlier click: a fresh chart (new key) forgets that click."""
    st.session_state["_evaluate_matrix"] += 1


with right:
    st.subheader("Confusion matrix")
    normalised = view_toggle()
    shown = (st.session_state["true"], st.session_state["pred"])
    st.altair_chart(readable(confusion_chart(frame, classes, normalised, shown)), on_select="rerun",
                    selection_mode="cell", key=matrix_key)
    st.caption("Rows: the true class. Columns: what the model answered. The diagonal holds the right answers. "
               "Click a square to see its images below.")
    downloads(matrix, classes, normalised, f"{title} on {ds}", file_stem(path, ds))

st.subheader("The images behind one square")
a, b, _ = st.columns([1, 1, 2])
if not urlstate.hidden("true"):
    a.selectbox("True class", classes, key="true", disabled=urlstate.locked("true"), on_change=boxes_changed)
if not urlstate.hidden("pred"):
    b.selectbox("Predicted class", classes, key="pred", disabled=urlstate.locked("pred"), on_change=boxes_changed)
t, q = classes.index(st.session_state["true"]), classes.index(st.session_state["pred"])
cell = evaluation.cell(p, t, q)
what = "correctly recognised" if t == q else f"taken for **{classes[q]}**"
st.markdown(f"**{len(cell):,}** test images of **{classes[t]}** {what}"
            + ("; the most confident first." if len(cell) > 1 else "."))
first_page_when("cpage", (t, q))
show_gallery(pager(cell, "cpage"), test, "cell", lambda r: f"{percent(r['confidence'])} sure", choice)

# ---- galleries ------------------------------------------------------------------------------------------
st.header("Right and wrong answers")
a, b = st.columns([3, 1])
if not urlstate.hidden("kind"):
    a.radio("Show", list(evaluation.GALLERIES), key="kind", format_func=evaluation.GALLERIES.get,
            horizontal=True, disabled=urlstate.locked("kind"))
urlstate.confine("gclass", ["all classes", *classes], "all classes")
if not urlstate.hidden("gclass"):
    b.selectbox("True class", ["all classes", *classes], key="gclass", disabled=urlstate.locked("gclass"))
kind, gclass = st.session_state["kind"], st.session_state["gclass"]
chosen = None if gclass == "all classes" else classes.index(gclass)
everything = evaluation.gallery(p, kind, chosen)
st.markdown(f"**{len(everything):,}** images. Under each: true class → the model's answer, and how sure it was.")
first_page_when("gpage", (kind, gclass))
show_gallery(pager(everything, "gpage"), test, "gallery",
             lambda r: f"{r['true']}<br>{percent(r['confidence'])} sure" if r["correct"]
             else f"{r['true']} → {r['predicted']}<br>{percent(r['confidence'])} sure", choice)

# ---- two models -----------------------------------------------------------------------------------------
st.header("Two models side by side")
if not urlstate.hidden("compare"):
    st.toggle("Compare with a second model", key="compare", disabled=urlstate.locked("compare"))
if st.session_state["compare"]:
    if not st.session_state.get("model_b") and not st.query_params.get("model_b"):
        # default B: another trained zoo model for the same data
        same = [n for n, e in models.ZOO.items() if e.dataset == ds and n != choice and e.checkpoint.is_file()]
        st.session_state["model_b"] = same[0] if same else choice
    choice_b = model_picker("model_b", "Second model (B)")
    path_b, title_b = resolve(choice_b)
    meta_b = meta_of(path_b, title_b)
    if meta_b is not None and dataset_of(meta_b) != ds:
        st.warning(f"{title_b} was trained on {dataset_of(meta_b)}, not {ds}: pick a model for the same data set.")
    elif meta_b is not None:
        pb, _ = evaluate(path_b, title_b, ds, len(test))
        c1, c2 = st.columns(2)
        c1.metric(f"A: {title}", f"{p.accuracy:.2%}")
        c2.metric(f"B: {title_b}", f"{pb.accuracy:.2%}", delta=f"{(pb.accuracy - p.accuracy) * 100:+.2f} points")
        if path_b.resolve() == path.resolve():
            st.info("A and B are the same checkpoint, so they agree everywhere. Pick another model for B, for "
                    "example a run you trained on the Train page.")
        outcomes = evaluation.agreement(p, pb)
        base = alt.Chart(outcomes).encode(
            y=alt.Y("outcome:N", sort=list(evaluation.OUTCOMES), title=None, axis=alt.Axis(labelLimit=300)),
            x=alt.X("images:Q", title="test images"),
        )
        bars = base.mark_bar().encode(
            color=alt.Color("outcome:N", sort=list(evaluation.OUTCOMES), legend=None,
                            scale=alt.Scale(range=["#59a14f", "#4c78a8", "#f58518", "#e45756", "#b279a2"])),
            tooltip=["outcome", alt.Tooltip("images:Q", format=",")])
        labels = base.mark_text(align="left", dx=5, fontSize=15).encode(text=alt.Text("images:Q", format=","))
        st.altair_chart(readable((bars + labels).properties(height=240)), width="stretch")
        st.radio("Where they disagree", list(WHO), key="who", format_func=WHO.get, horizontal=True,
                 disabled=urlstate.locked("who"))
        who = st.session_state["who"]
        rows = evaluation.disagreements(p, pb, None if who == "all" else who)
        first_page_when("dpage", (choice_b, who))
        st.markdown(f"**{len(rows):,}** images on which A and B give different answers.")
        show_gallery(pager(rows, "dpage"), test, "compare",
                     lambda r: f"true: {r['true']}<br>A: {r['A']} {percent(r['A_confidence'])}"
                               f"<br>B: {r['B']} {percent(r['B_confidence'])}", choice)

urlstate.publish()
