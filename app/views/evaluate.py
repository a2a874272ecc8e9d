"""The Evaluate page's display pieces: the model picked with its checkpoint, the charts, the downloads and the image
galleries with their pages.

The numbers come from `cnnviz.results.evaluation`; this module draws them. Imported by the page once its title is
on screen (it imports PyTorch).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import models
from app import charts, nav, state, urlstate
from app.widgets import IMAGE, model_picker
from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from cnnviz.results import evaluation, export

GALLERY_SIZE = 24   # images per gallery page
TILE = 94           # px: a gallery image with its caption and button; as many a row as fit (8 at 1366, 3 on a phone)
LINE_CHARS = 11     # characters of a caption (1rem, Source Sans) a tile's line holds: "100.0% sure"
VIEWS = ["counts", "row %"]  # the confusion matrix's numbers, for the switch and for the link alike
CHAR_EM = 0.55      # width of a character of a square's number in em, in the app's Source Sans (digit 0.5, % 0.8)
OUTCOME_COLOURS = ["#59a14f", "#4c78a8", "#f58518", "#e45756", "#b279a2"]  # evaluation.OUTCOMES, in order
NO_DATA = ("The test images of **{ds}** are not on this computer, so the galleries cannot be shown. To get them, "
           "set the environment variable `CNNVIZ_DATA_DIR` to a folder holding `MNIST/raw/*-ubyte` (MNIST) or "
           "`cifar10/{{train,test}}/<class>/*.png` / `cifar-10-batches-py/` (CIFAR-10), or allow the download "
           "(`CNNVIZ_DOWNLOAD=1` with internet), then reload. Below: the figures stored in the model card.")


# ---- the model ------------------------------------------------------------------------------------------
def picked_model(key: str, label: str) -> tuple[models.ModelSpec, dict[str, Any]] | None:
    """The spec and checkpoint meta of the model picked in box `key`, or None after telling the user why not."""
    choice = model_picker(key, label)
    try:
        spec = state.model_spec(choice)
    except models.CheckpointError as exc:
        st.error(f"This run's checkpoint cannot be read: {exc} Pick another model, or train the run again on the "
                 "Train page.")
        return None
    try:
        return spec, state.model_meta(spec)
    except models.CheckpointError:
        st.error(f"**{spec.title}** has no trained checkpoint yet (looked for `{spec.checkpoint}`). Train it on the "
                 "Train page, or wait until the background training of the zoo has written it, then reload.")
        return None


def predictions(spec: models.ModelSpec, limit: int) -> tuple[evaluation.Predictions, float]:
    """(predictions of the model on the first `limit` test images, seconds), with a progress bar the first time."""
    slot = st.empty()
    start = time.perf_counter()
    p = state.predictions(str(spec.checkpoint), spec.dataset, limit, progress=lambda f: slot.progress(
        f, text=f"Running {spec.title} on the test images… {f:.0%}"))
    slot.empty()
    return p, time.perf_counter() - start


def card_view(spec: models.ModelSpec, meta: dict[str, Any], stem: str, why: str | None = None) -> None:
    """What the model card stored when the checkpoint was trained (no test images needed); `why` they are not here
    (default: the data folder lacks them)."""
    st.info(why or NO_DATA.format(ds=spec.dataset))
    card = meta.get("card", {})
    metrics, matrix = card.get("metrics", {}), card.get("confusion")
    if not metrics or not matrix:
        st.warning("This checkpoint's model card holds no test metrics (it was saved before training finished).")
        return
    classes = list(card.get("classes") or spec.classes)
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy (model card)", f"{metrics['test_acc']:.2%}")
    c2.metric("Test loss (model card)", f"{metrics['test_loss']:.4f}")
    c3.metric("Test images (model card)", f"{sum(map(sum, matrix)):,}")
    left, right = st.columns([2, 3], gap="large")
    per_class(matrix, classes, left)
    with right:
        st.subheader("Confusion matrix")
        normalised = view_toggle()
        charts.show(confusion_chart(evaluation.confusion_table(matrix, classes), classes, normalised, None))
        downloads(matrix, classes, normalised, f"{spec.title} on {spec.dataset} (model card)", stem)


# ---- charts ---------------------------------------------------------------------------------------------
def per_class_chart(table: pd.DataFrame) -> alt.LayerChart:
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


def confusion_chart(frame: pd.DataFrame, classes: list[str], normalised: bool,
                    shown: tuple[str, str] | None) -> alt.LayerChart:
    """Heat map of the confusion matrix, rows the true class; the `shown` cell is outlined, a click selects one."""
    field = "share" if normalised else "count"
    colour = alt.Color(f"{field}:Q", legend=None, scale=alt.Scale(
        scheme="blues", type="sqrt" if normalised else "symlog", domainMin=0))
    # no thousands separator in a square: "1130" fits where "1,130" spills into its neighbours on a phone
    frame = frame.assign(label=[export.share_text(c, v) for c, v in zip(frame["count"], frame["share"])]
                         if normalised else [str(c) for c in frame["count"]])
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
        font = fitting_font(15 if len(classes) <= 10 else 11, len(classes), int(frame["label"].str.len().max()))
        layers.append(base.mark_text(fontSize=alt.expr(font)).encode(
            text="label:N",
            color=alt.condition(alt.datum[field] > threshold, alt.value("white"), alt.value("#222")),
            tooltip=tooltip,
        ))
    size = max(320, min(620, 56 * len(classes)))
    return alt.layer(*layers).properties(width=size, height=size)


def fitting_font(largest: int, squares: int, chars: int) -> str:
    """A Vega expression for the squares' font size: `largest` px where the chart is wide, smaller where it is fitted
    to a narrow screen (its `width` signal) so that `chars` characters stay inside a square, none below 7 px."""
    fits = f"(width / {squares} - 4) / ({CHAR_EM} * {chars})"  # px of font whose text fills a square less 4 px
    return f"{fits} < 7 ? 0 : min({largest}, {fits})"


def agreement_chart(outcomes: pd.DataFrame) -> alt.LayerChart:
    """Bars of how many images fall in each outcome of two models (`evaluation.agreement`)."""
    base = alt.Chart(outcomes).encode(
        y=alt.Y("outcome:N", sort=list(evaluation.OUTCOMES), title=None, axis=alt.Axis(labelLimit=300)),
        x=alt.X("images:Q", title="test images"),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("outcome:N", sort=list(evaluation.OUTCOMES), legend=None,
                        scale=alt.Scale(range=OUTCOME_COLOURS)),
        tooltip=["outcome", alt.Tooltip("images:Q", format=",")])
    labels = base.mark_text(align="left", dx=5, fontSize=15).encode(text=alt.Text("images:Q", format=","))
    return (bars + labels).properties(height=240)


def view_toggle() -> bool:
    """The counts / row % switch; True when the matrix shows each row's shares."""
    urlstate.confine("view", VIEWS, VIEWS[0])
    urlstate.control("segmented_control", "Show", "view", options=VIEWS,
                     help="**counts**: how many test images fall in each square. **row %**: each row divided by "
                          "its total, so every row adds up to 100%: the share of that true class given each answer, "
                          "which compares classes fairly even when they have different numbers of images.")
    return st.session_state.get("view") == "row %"


def per_class(matrix: Any, classes: list[str], where: Any) -> None:
    """Accuracy per class, heading and chart, in `where` (a column)."""
    where.subheader("Accuracy per class", help="For each true class, the share of its test images the model "
                    "answers correctly: a good overall accuracy can hide one class the model often gets wrong.")
    charts.show(per_class_chart(evaluation.per_class_table(matrix, classes)), where=where, width="stretch")


def downloads(matrix: Any, classes: list[str], normalised: bool, title: str, stem: str) -> None:
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


# ---- galleries ------------------------------------------------------------------------------------------
def open_inside(ds: str, index: int, model: str) -> None:
    """Show test image `index` on the Inside-a-model page, with the model evaluated here; Back comes back here
    (the page calls nav.came_back)."""
    st.session_state[IMAGE] = {"source": "test", "dataset": ds, "index": int(index)}
    nav.go("inside", img=f"test:{ds}:{int(index)}", model=model)


def first_page_when(key: str, shown: tuple) -> None:
    """Back to page 1 when the gallery now holds other images (cell, kind or class) than at the last run; not on
    Back or Forward, whose address names the page to show."""
    memo = f"_evaluate_{key}_of"
    if st.session_state.get(memo, shown) != shown and not urlstate.history_step():
        st.session_state[key] = 1
    st.session_state[memo] = shown


def pager(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows of the gallery page kept under `key`, with a page box and what it holds when there are several."""
    rows, page, pages = evaluation.page_of(frame, st.session_state[key], GALLERY_SIZE)
    urlstate.confine(key, range(1, pages + 1), page)  # a page past the end (a link, fewer images): the last one
    if pages > 1:
        box, text = st.columns([1, 5], vertical_alignment="bottom")
        urlstate.control("number_input", "Page", key, where=box, min_value=1, max_value=pages, step=1)
        first = (page - 1) * GALLERY_SIZE
        text.caption(f"page {page} of {pages} · images {first + 1}–{first + len(rows)} of {len(frame):,}")
    return rows


def gallery(frame: pd.DataFrame, test: ImageSet, key: str, pages: str, shown: tuple, caption: Callable[[Any], str],
            model: str) -> None:
    """One page of the images in `frame` (column 'index'; the page number kept under `pages`, back to 1 when
    `shown`, what the gallery holds, changed), each captioned and with a button to look inside with `model`.

    The images sit in a row that wraps, each `TILE` px wide: columns would stack on a phone, one image a row."""
    first_page_when(pages, shown)
    rows = pager(frame, pages)
    scale = explore.scale_for(test, 96)
    captions = [caption(row) for _, row in rows.iterrows()]
    lines = max((caption_lines(c) for c in captions), default=1)  # as tall as the longest: the buttons line up
    tiles = st.container(horizontal=True, gap="xsmall", key=f"{key}-tiles")
    for i, text in zip(rows["index"].astype(int), captions):
        with tiles.container(width=TILE, gap=None):  # image, caption and button together, apart from the next row
            st.image(explore.tile(test.images[i:i + 1], 1, scale, pad=0), width="stretch", alt=f"Test image {i}")
            # st.html, not st.markdown: a markdown block pulls what follows 1rem up, over its last line. The 0.4em
            # to spare: a line with "→" (drawn from a taller fallback font) is that much higher
            st.html(f"<div style='text-align:center;font-size:1rem;line-height:1.3;"
                    f"min-height:{1.3 * lines + 0.4:g}em;padding:0.15rem 0 0.3rem'>{text}</div>")
            if st.button("🔬 Inside", key=f"{key}-{i}", help=f"Open test image {i} in Inside a model: "
                         "feature maps, filters and where the network looks", width="stretch"):
                open_inside(test.name, i, model)


# Streamlit scrolls the page inside [data-testid=stMain], and draws a page anew after Back: this remembers where the
# Evaluate page was scrolled, per address (its query sorted), in the tab's sessionStorage, on every scroll and click
# while no run is drawing; after Back or Forward (not after a link) it scrolls there again once the page is drawn
# and its images are loaded. Listeners are added once per tab, however often the page is drawn.
KEEP_SCROLL = """(() => {
  const main = () => document.querySelector('[data-testid=stMain]');
  const idle = () => !!document.querySelector("[data-testid=stApp][data-test-script-state=notRunning]");
  const place = () => { const q = new URLSearchParams(location.search); q.sort();
                        return 'cv-scroll:' + location.pathname + '?' + q; };
  if (!window.cvScroll) {
    window.cvScroll = {back: false, restoring: false};
    const save = () => { const m = main();
      if (m && idle() && !window.cvScroll.restoring && location.pathname.endsWith('/evaluate'))
        sessionStorage.setItem(place(), String(Math.round(m.scrollTop))); };
    document.addEventListener('scroll', save, true);
    document.addEventListener('click', () => { window.cvScroll.back = false; save(); }, true);
    window.addEventListener('popstate', () => { window.cvScroll.back = true; });
  }
  if (!window.cvScroll.back) return;
  window.cvScroll.back = false;
  window.cvScroll.restoring = true;
  const since = Date.now();
  const restore = () => {
    const m = main();
    const drawn = m && idle() && [...m.querySelectorAll('img')].every(i => i.complete);
    if (!drawn && Date.now() - since < 15000) { setTimeout(restore, 100); return; }
    const top = Number(sessionStorage.getItem(place()) || 0);
    if (m && top) m.scrollTop = top;
    window.cvScroll.restoring = false;
  };
  setTimeout(restore, 100);
})();"""


def keep_scroll() -> None:
    """Back from Inside a model lands where the student was scrolled, not at the top of a long page."""
    st.html(f"<script>{KEEP_SCROLL}</script>", unsafe_allow_javascript=True)


def caption_lines(text: str) -> int:
    """About how many lines a caption takes in a tile: each `<br>` part wraps after `LINE_CHARS` characters."""
    return sum(-(-max(len(part), 1) // LINE_CHARS) for part in text.split("<br>"))


def cell_caption(row: Any) -> str:
    return f"{export.percent(row['confidence'])} sure"


def answer_caption(row: Any) -> str:
    sure = f"{export.percent(row['confidence'])} sure"
    return f"{row['true']}<br>{sure}" if row["correct"] else f"{row['true']} → {row['predicted']}<br>{sure}"


def pair_caption(row: Any) -> str:
    return (f"true: {row['true']}<br>A: {row['A']} {export.percent(row['A_confidence'])}"
            f"<br>B: {row['B']} {export.percent(row['B_confidence'])}")
