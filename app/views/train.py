"""The Train page's pieces: starting a run, its progress, its live curves, its results and downloads.

The numbers and words come from the job (`cnnviz.training.job`); this module draws them. Imported by the page
once its title is on screen (it imports PyTorch).
"""
from __future__ import annotations

import base64
import time

import altair as alt
import pandas as pd
import streamlit as st

import models
from app import charts, nav, recipe, state
from cnnviz.datasets import data, segments
from cnnviz.inside import render
from cnnviz.training import job as jobs
from cnnviz.training import live, segment, train
from cnnviz.training.job import CURVES, Job, duration
from cnnviz.training.runs import Run

JOB = "train.job"  # session_state key of this session's training job (one at a time, whichever page started it)

COLOURS = ["#1f77b4", "#ff7f0e", "#9ecae1"]  # train, validation, train this epoch (CURVES' order)
HELP = {  # what each figure of a finished run means, and why it matters, for a student who meets it here first
    "loss": "The cross-entropy: the average of −log(the probability the network gave the true class), near 0 when "
            "it is sure and right. Training lowers exactly this number, step by step.",
    "accuracy": "The share of the training images the network now answers correctly; high here but low on new "
                "images means it memorised (overfitting).",
    "validation": "Accuracy on the validation images, held out from training: how well the network does on images "
                  "it has not seen, checked after every epoch.",
    "test": "Accuracy on the test images, used once at the end and never to choose settings: the fair final mark.",
    "mean IoU": "For each digit 0–9: the pixels both the network and the truth call that digit, divided by the "
                "pixels either calls it (intersection over union); then the mean over the digits. 100% means every "
                "digit's outline is exactly right; calling everything background scores 0.",
    "foreground F1": "Only digit against background: 2 × the digit pixels found ÷ (the digit pixels predicted + the "
                     "true digit pixels). High when the network finds where the ink is, even if it names the digit "
                     "wrongly.",
    "pixel accuracy": "The share of all pixels given their right class. Background is about 96% of the pixels, so "
                      "even a network that finds no digit at all scores about 96% here.",
}
WHY_IOU = ("**Why mean IoU and not accuracy?** Background is about 96% of every canvas, so a network that calls "
           "every pixel background already has 96% pixel accuracy while finding no digit. Mean IoU averages, over "
           "the ten digits, the overlap of the predicted and the true pixels divided by their union: it only rises "
           "when the digits themselves are found and named. Foreground F1 asks only whether each pixel is ink. "
           "A short run learns *where* the ink is first (foreground F1 climbs within an epoch) and *which digit* "
           "much later: the shipped U-Net's mean IoU passed 50% only after some 40,000 canvases.")
SIZES = {"mnist": 60000, "cifar10": 50000, recipe.SEGMENTS: segments.COUNTS["train"]}  # training split, per data set
CPU_S_PER_CANVAS = (0.012, 0.004)  # U-Net, 2 CPU cores, batches of 32: (s per canvas trained, s per canvas scored)


def missing_data(ds: str) -> str:
    """Where to put data set `ds` so this copy can train on it (the canvases are pasted from MNIST's digits)."""
    ds = "mnist" if ds == recipe.SEGMENTS else ds
    layout = ("`MNIST/raw/train-images-idx3-ubyte` (and the other three `*-ubyte` files)" if ds == "mnist"
              else f"`{ds}/train/<class>/<image>.png` and `{ds}/test/<class>/<image>.png`"
              + (" or `cifar-10-batches-py/`" if ds == "cifar10" else ""))
    return (f"**The {ds} images are not on this computer.** To train on them, put {layout} in a folder, point "
            f"the environment variable `CNNVIZ_DATA_DIR` at it and restart the app (for example "
            f"`CNNVIZ_DATA_DIR=/path/to/datasets make run`). With an internet connection, MNIST and CIFAR-10 "
            f"are downloaded the first time instead (unless `CNNVIZ_DOWNLOAD=0`).")


def load(ds: str, split: str) -> data.ImageSet:
    """A split as the training loop takes it: images with a label each, or the canvases with a label per pixel."""
    return segment.as_imageset(state.canvases(split)) if ds == recipe.SEGMENTS else state.dataset(ds, split)


def launch(config: train.TrainConfig, host: jobs.Hosting) -> str:
    """Load the data, build a fresh network and start this session's job (the Train page's and the Compare page's
    queued seeds alike, so a session trains one run at a time); returns an error message, or '' on success."""
    try:
        train_set, test_set = load(config.dataset, "train"), load(config.dataset, "test")
    except data.DatasetUnavailable as exc:
        return f"{missing_data(config.dataset)}\n\n({exc})"
    splits = train.make_splits(config, train_set, test_set)
    try:
        with train.seeded(config.seed):  # the initial weights follow the seed too
            model, meta, title = recipe.fresh(config, train_set.shape, train_set.classes)
    except (OSError, RuntimeError, ValueError) as exc:  # e.g. ImageNet weights unavailable offline, a bad layer
        return str(exc)
    job = jobs.start(config, model, splits, state.training_slots(host.max_runs), title, meta,
                     owner=state.session_token(), owner_gone=state.session_gone(host.abandoned_s),
                     abandoned_s=host.abandoned_s)
    if job is None:
        return (f"{host.max_runs} training run(s) are already going on this server, which is as many as it allows "
                "at once. Try again in a few minutes.")
    st.session_state[JOB] = job
    return ""


def intro(config: train.TrainConfig | None) -> None:
    st.info("Set the recipe on the left (on a phone: above) and press **Start training**. The progress bar, the "
            "images per second and the curves appear here and grow while the network trains; **Stop** ends the run "
            "at any moment and keeps what was learned.")
    if config is not None:
        n, what = config.train_limit or SIZES.get(config.dataset, 50000), unit(config)
        st.markdown(f"This run will train on about **{int(n * (1 - config.val_fraction)):,}** {what} and "
                    f"check itself on **{int(n * config.val_fraction):,}** held-out validation {what} "
                    + ("after its **one** epoch" if config.epochs == 1 else
                       f"after each of its **{config.epochs}** epochs")
                    + f"; the test {what} are used once, at the end.")
        if config.dataset == recipe.SEGMENTS:
            st.markdown("Each canvas holds one to three MNIST digits, and the network answers for **every pixel**: "
                        "background, or which digit. The curves show the loss, the pixel accuracy, the **mean IoU** "
                        "and the **foreground F1** after each epoch.")


def unit(config: train.TrainConfig) -> str:
    """What one training example is called on the page."""
    return "canvases" if config.dataset == recipe.SEGMENTS else "images"


def how_long(config: train.TrainConfig) -> str:
    """A U-Net run's expected time on 2 CPU cores, from the seconds per canvas measured there."""
    n = config.train_limit or SIZES[recipe.SEGMENTS]
    trained, val = int(n * (1 - config.val_fraction)), int(n * config.val_fraction)
    test = min(config.test_limit or segments.COUNTS["test"], segments.COUNTS["test"])
    train_s, measure_s = CPU_S_PER_CANVAS
    epoch = trained * train_s + val * measure_s
    final = (trained + val + test) * measure_s
    return (f"⏱ On 2 CPU cores: about **{duration(epoch)} an epoch** ({trained:,} canvases), then {duration(final)} "
            f"to score the saved network; about {duration(config.epochs * epoch + final)} in all. A GPU is far "
            "faster.")


def chart(frame: pd.DataFrame, metric: str, epochs: int, title: str = "") -> alt.LayerChart:
    """One metric's curves over the run's epochs: train and validation per epoch, dashed the running mean."""
    part = frame[frame["metric"] == metric]
    finite = part["value"].replace([float("inf")], float("nan")).dropna()
    share = metric != "loss"  # accuracy, mean IoU, foreground F1: 0 to 100%
    top = 1.0 if share else max(0.5, float(finite.max()) * 1.05 if len(finite) else 2.5)
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(domain=[0, top]), axis=alt.Axis(format="%" if share else "~g"))
    base = alt.Chart(part).encode(
        x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[0, epochs]), axis=alt.Axis(tickMinStep=1)),
        y=y, color=alt.Color("curve:N", scale=alt.Scale(domain=list(CURVES), range=COLOURS), legend=None),
        tooltip=["curve:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    lines = base.transform_filter(f"datum.curve != '{CURVES[2]}'").mark_line(
        point=alt.OverlayMarkDef(size=80), strokeWidth=3)
    running = base.transform_filter(f"datum.curve == '{CURVES[2]}'").mark_line(strokeWidth=2, strokeDash=[6, 3])
    title = title or ("Loss ↓" if metric == "loss" else f"{metric[0].upper()}{metric[1:]} ↑")
    return alt.layer(lines, running).properties(height=340, title=title)


def pixel_rows(history: list[dict[str, float]]) -> list[dict[str, float | str]]:
    """Long rows of the validation mean IoU and foreground F1 per epoch (measured on validation canvases only)."""
    return [{"metric": metric, "curve": CURVES[1], "epoch": h["epoch"], "value": h[f"val_{key}"]}
            for h in history for metric, key in (("mean IoU", "mean_iou"), ("foreground F1", "foreground_f1"))]


def curves(job: Job) -> None:
    """One legend in the charts' colours (a legend per chart gets cut off when narrow), then loss and accuracy
    (for segmentation also mean IoU and foreground F1, two by two)."""
    items = [("━━", COLOURS[0], "train"), ("━━", COLOURS[1], f"validation ({unit(job.config)} it never trains on)")]
    if not job.done:
        items.append(("╍╍", COLOURS[2], "train, running mean in this epoch"))
    st.html("<div style='font-size:1.15rem'>" + " &nbsp;&nbsp; ".join(
        f"<span style='color:{colour};font-weight:700'>{mark}</span> {label}" for mark, colour, label in items)
        + "</div>")
    epochs = job.config.epochs
    if job.config.dataset != recipe.SEGMENTS:
        frame = pd.DataFrame(job.curves(), columns=["metric", "curve", "epoch", "value"])
        left, right = st.columns(2)
        charts.show(chart(frame, "loss", epochs), left, width="stretch")
        charts.show(chart(frame, "accuracy", epochs), right, width="stretch")
        return
    frame = pd.DataFrame([*job.curves(), *pixel_rows(list(job.history))], columns=["metric", "curve", "epoch", "value"])
    st.markdown(WHY_IOU)
    for pair in (("loss", "accuracy"), ("mean IoU", "foreground F1")):
        for metric, where in zip(pair, st.columns(2)):
            charts.show(chart(frame, metric, epochs, "Pixel accuracy ↑" if metric == "accuracy" else ""), where,
                        width="stretch")


def progress(job: Job) -> None:
    """Where the run is, with its Stop button, then the live curves."""
    p, cfg = job.progress, job.config
    head, stop = st.columns([3, 1], vertical_alignment="center")
    if p is None:
        head.markdown(f"### Starting {job.title}…")
        st.progress(0.0, text="building the network and shuffling the images (the first run also loads PyTorch's "
                              "optimizer code)")
    else:
        head.markdown(f"### Epoch {p.epoch} of {p.epochs} · {p.images_per_s:,.0f} {unit(cfg)}/s · "
                      f"about {duration(p.eta_s)} left")
        st.progress(job.fraction, text=f"batch {p.batch} of {p.batches} · training loss {p.loss:.3f} this epoch · "
                                       f"{duration(time.monotonic() - job.started)} so far · {job.title} on "
                                       f"{cfg.dataset}")
    if job.stopping:
        stop.info("Stopping: measuring the final accuracies…")
    else:
        stop.button("⏹ Stop", key="stop", on_click=job.stop, type="primary", width="stretch",
                    help="ends the run after the current batch, keeping the best weights so far")
    curves(job)
    watch(job)


def results(job: Job) -> None:
    """How the run ended, its final metrics on each split, its curves and its files."""
    if job.status == "diverged":
        st.error(f"**The training diverged.** {job.error}")
        st.markdown("A learning rate that is too large makes each step overshoot, so the loss grows instead of "
                    "shrinking until the numbers overflow. Pick a smaller learning rate and start again.")
    elif job.status == "failed":
        st.error(f"**The training stopped with an error:** {job.error}")
    else:
        how, kept = job.outcome()
        st.success(f"**{how}** in {duration(job.seconds)}. {kept}")
    if (m := job.metrics) and job.config.dataset == recipe.SEGMENTS:
        pixel_results(m)
    elif m:
        c = st.columns(4)
        c[0].metric("Training loss", f"{m['train_loss']:.3f}", help=HELP["loss"])
        c[1].metric("Training accuracy", f"{m['train_acc']:.1%}", help=HELP["accuracy"])
        c[2].metric("Validation accuracy", f"{m['val_acc']:.1%}" if "val_acc" in m else "–", help=HELP["validation"])
        c[3].metric("Test accuracy", f"{m['test_acc']:.1%}", help=HELP["test"])
        table = pd.DataFrame([{"split": name, "loss": m[f"{key}_loss"], "accuracy": 100 * m[f"{key}_acc"]}
                              for name, key in (("training", "train"), ("validation", "val"), ("test", "test"))
                              if f"{key}_loss" in m])
        st.dataframe(table, hide_index=True,
                     column_config={"loss": st.column_config.NumberColumn(format="%.4f"),
                                    "accuracy": st.column_config.NumberColumn(format="%.2f %%")})
        st.caption("This table measures the saved network on the plain images. The training curve below was "
                   "measured *during* training (dropout on, augmented images, weights still changing), so it "
                   "reads lower.")
    if job.history:
        curves(job)
    watch(job)
    downloads(job)


def pixel_results(m: dict[str, float]) -> None:
    """A segmentation run's final figures: the test set's mean IoU, foreground F1 and pixel accuracy, then a table."""
    c = [*st.columns(2), *st.columns(2)]  # two by two: four in a row cut these labels short
    c[0].metric("Test mean IoU", f"{m['test_mean_iou']:.1%}", help=HELP["mean IoU"])
    c[1].metric("Test foreground F1", f"{m['test_foreground_f1']:.1%}", help=HELP["foreground F1"])
    c[2].metric("Test pixel accuracy", f"{m['test_acc']:.1%}", help=HELP["pixel accuracy"])
    c[3].metric("Training loss", f"{m['train_loss']:.3f}", help=HELP["loss"] + " Here: averaged over every pixel.")
    splits = (("training", "train"), ("validation", "val"), ("test", "test"))
    table = pd.DataFrame([{"split": name, "loss": m[f"{key}_loss"], "pixel accuracy": 100 * m[f"{key}_acc"],
                           "mean IoU": 100 * m[f"{key}_mean_iou"], "foreground F1": 100 * m[f"{key}_foreground_f1"]}
                          for name, key in splits if f"{key}_loss" in m])
    percent = st.column_config.NumberColumn(format="%.1f %%")
    st.dataframe(table, hide_index=True, column_config={"loss": st.column_config.NumberColumn(format="%.4f"),
                                                        "pixel accuracy": percent, "mean IoU": percent,
                                                        "foreground F1": percent})
    st.caption("This table measures the saved network on the plain canvases; the training curve was measured "
               "*during* training, while the weights were still changing.")


def compare_picks(run: Run) -> str:
    """The Compare page's selection for a run just finished: the run, beside its network's shipped checkpoint."""
    model = run.info().get("config", {}).get("model", "")
    return f"{run.name},zoo: {model}" if model in models.ZOO else run.name


def downloads(job: Job) -> None:
    run = job.run
    c1, c2, c3 = st.columns([1, 1, 1.2])
    if run.history():
        c1.download_button("⬇ History (CSV)", run.history_csv(), file_name=f"{run.name}-history.csv",
                           mime="text/csv", on_click="ignore", width="stretch")
    if run.checkpoint.is_file():
        c2.download_button("⬇ Checkpoint (.pt)", run.checkpoint.read_bytes, file_name=f"{run.name}.pt",
                           mime="application/octet-stream", on_click="ignore", width="stretch")
    nav.link("compare", "Compare runs", c3, pick=compare_picks(run))
    st.caption(f"Saved in `{run.path}`: settings, history and the best checkpoint, written after every epoch.")


# ---- Watch it learn: the training thread's snapshots (`cnnviz.training.live`), drawn ------------------------------
RIGHT, WRONG = "#1a7f37", "#c62828"  # a strip image's prediction: right, wrong (also ✓ and ✗, not colour alone)
LIVE_HELP = {
    "filters": "Each tile is one filter of the first convolution: the small pattern of weights it slides over the "
               "image (mid-grey 0, light positive, dark negative). Random noise at the start; edges and blobs as "
               "it learns.",
    "maps": "The first convolution's output for the chosen image, one tile per filter: where in the image each "
            "filter's pattern appears (bright: strongly).",
    "weights": "How many of this layer's weights have each value (brighter: more of them), snapshot after "
               "snapshot: a histogram over time, as TensorBoard draws it. Spreading out means the weights grow.",
    "grads": "How big the gradients of this layer's weights were in the last batch (brighter: more of them; "
             "powers of ten: 1e-4 is 0.0001). "
             "The gradient is how much the loss changes per change of a weight: the push each step gives it.",
    "norm": "The gradient norm: the length √(Σ g²) of a layer's whole gradient. It shrinks as the loss flattens; "
            "near 0 in the first layers while large in the last means the signal fades on its way back "
            "(vanishing gradients).",
    "dead": "A ReLU unit (one channel, or one neuron of a linear layer) is dead when its output is 0 for every "
            "strip image at every position: it then passes no gradient, so its weights stop learning.",
}


def watch(job: Job) -> None:
    """"Watch it learn": the latest snapshot's filters, maps and predictions, and every layer's histograms over
    time; all computed in the training thread, only drawn here."""
    recorder = job.live
    shot = recorder.latest() if recorder else None
    st.subheader("👀 Watch it learn")
    if recorder is None or shot is None:
        st.info("The first snapshot of the network arrives after its first batch.")
        return
    st.caption(f"Snapshot after {shot.seen:,} training {unit(job.config)} (epoch {shot.epoch:.2f}), taken every "
               f"{recorder.every:,} {unit(job.config)} and at each epoch's end.")
    per_pixel = recorder.strip.labels is None
    names = ["Filters and maps", "Weights and gradients"] if per_pixel else [
        "Filters and maps", "Predictions", "Weights and gradients"]
    tabs = dict(zip(names, st.tabs(names)))
    with tabs["Filters and maps"]:
        first_layer(recorder, shot)
    if not per_pixel:
        with tabs["Predictions"]:
            predictions(recorder, shot)
    with tabs["Weights and gradients"]:
        layers(recorder)


def strip_label(recorder: live.Recorder, i: int) -> str:
    """A strip image's name in the picker: its number and, for classifiers, its true class."""
    labels = recorder.strip.labels
    return f"test image {i + 1}" + ("" if labels is None else f" ({recorder.strip.classes[int(labels[i])]})")


def first_layer(recorder: live.Recorder, shot: live.Snapshot) -> None:
    """The first conv layer's filters now, and its maps of the image the student picks from the strip."""
    if shot.filters is None or shot.maps is None:
        st.info("This network has no convolution, so there are no filters to watch: see *Weights and gradients*.")
        return
    n = len(recorder.strip.images)
    i = st.selectbox("Image to follow", range(n), key="live.image", format_func=lambda k: strip_label(recorder, k),
                     help="one of the fixed test images below; its maps are redrawn at every snapshot")
    picture, maps = st.columns([1, 3])
    picture.image(render.boxed(recorder.strip.images[i], None, size=160), caption=strip_label(recorder, i),
                  width="stretch")
    maps.image(render.layer_grid(shot.maps[i], width=560), width="stretch",
               caption=f"First convolution's {shot.maps.shape[1]} maps of this image")
    maps.caption(LIVE_HELP["maps"])
    st.image(render.filter_tiles(shot.filters), caption=f"The first convolution's {len(shot.filters)} filters "
             f"({shot.filters.shape[2]}×{shot.filters.shape[3]})")
    st.caption(LIVE_HELP["filters"])


def _data_uri(pixels: object) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(render.to_jpeg(pixels)).decode()


def predictions(recorder: live.Recorder, shot: live.Snapshot) -> None:
    """The strip's images, each with the network's answer now: ✓ green when right, ✗ red when wrong."""
    strip, cells = recorder.strip, []
    for k, (label, (guess, p)) in enumerate(zip(strip.labels.tolist(), shot.predictions())):
        ok, name = guess == label, strip.classes[guess]
        cells.append(f"<figure style='margin:0;text-align:center;width:88px'>"
                     f"<img src='{_data_uri(render.boxed(strip.images[k], None, size=84))}' width='84' "
                     f"alt='test image {k + 1}, a {strip.classes[label]}'>"
                     f"<figcaption style='color:{RIGHT if ok else WRONG};font-weight:700;font-size:1.05rem'>"
                     f"{'✓' if ok else '✗'} {name}<br>{p:.0%}</figcaption></figure>")
    right = sum(guess == label for label, (guess, _) in zip(strip.labels.tolist(), shot.predictions()))
    st.markdown(f"**{right} of {len(cells)}** fixed test images answered right: the network's answer and how sure "
                "it is, redrawn at every snapshot.")
    st.html("<div style='display:flex;flex-wrap:wrap;gap:10px'>" + "".join(cells) + "</div>")
    rows = pd.DataFrame(live.strip_right(recorder.history(), strip.labels), columns=["epoch", "right"])
    line = alt.Chart(rows).mark_line(point=True, strokeWidth=3).encode(
        x=alt.X("epoch:Q", title="epoch"), y=alt.Y("right:Q", title="answered right",
                                                   scale=alt.Scale(domain=[0, len(cells)])),
        tooltip=[alt.Tooltip("epoch:Q", format=".2f"), "right:Q"])
    charts.show(line.properties(height=220, title="Strip images answered right ↑"), width="stretch")


def heat(rows: list[dict], title: str, y_title: str, powers: bool = False) -> alt.Chart:
    """A histogram over time: x the run's epochs, y the bins, colour how many values fell in each."""
    axis = alt.Axis(labelExpr="'1e' + datum.value") if powers else alt.Axis(format="~g")
    frame = pd.DataFrame(rows, columns=["start", "end", "low", "high", "count"])
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("start:Q", title="epoch"), x2="end:Q", y=alt.Y("low:Q", title=y_title, axis=axis), y2="high:Q",
        color=alt.Color("count:Q", scale=alt.Scale(type="sqrt", scheme="viridis"), legend=None),  # tooltip: count
        tooltip=[alt.Tooltip("start:Q", title="epoch", format=".2f"), alt.Tooltip("low:Q", format=".3g"),
                 alt.Tooltip("high:Q", format=".3g"), "count:Q"],
    ).properties(height=300, title=title)


def trend(rows: list[dict], title: str, y_title: str, log: bool = False) -> alt.Chart:
    """One line per layer over the run's epochs."""
    frame = pd.DataFrame(rows, columns=["layer", "epoch", "value"])
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log") if log else alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="~g" if log else "%"))
    return alt.Chart(frame).mark_line(strokeWidth=3).encode(
        x=alt.X("epoch:Q", title="epoch"), y=y,
        color=alt.Color("layer:N", legend=alt.Legend(orient="bottom", columns=2, title=None)),
        tooltip=["layer:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("value:Q", format=".3g")],
    ).properties(height=340, title=title)


def layers(recorder: live.Recorder) -> None:
    """A chosen layer's weight and gradient histograms over time, then every layer's gradient norm and dead ReLUs."""
    history = recorder.history()
    name = st.selectbox("Layer", list(recorder.edges), key="live.layer",
                        help="a convolution or linear layer, by its name in the network")
    left, right = st.columns(2)
    charts.show(heat(live.heat_rows(history, name, recorder.edges[name]), f"Weights of {name}", "weight"), left,
                width="stretch")
    left.caption(LIVE_HELP["weights"])
    charts.show(heat(live.heat_rows(history, name, live.GRAD_EDGES, "grads"), f"Gradients of {name}",
                     "|gradient|", powers=True), right, width="stretch")
    right.caption(LIVE_HELP["grads"])
    norms, dead = live.trend_rows(history)
    left, right = st.columns(2)
    charts.show(trend(norms, "Gradient norm", "gradient norm", log=True), left, width="stretch")
    left.caption(LIVE_HELP["norm"])
    if dead:
        charts.show(trend(dead, "Dead ReLUs", "share dead"), right, width="stretch")
        right.caption(LIVE_HELP["dead"])
    else:
        right.info("This network has no ReLU layer, so no unit can die.")
