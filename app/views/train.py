"""The Train page's display pieces: the run's progress, its live curves, its results and downloads.

The numbers and words come from the job (`cnnviz.training.job`); this module draws them. Imported by the page
once its title is on screen (it imports PyTorch).
"""
from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from app import charts, nav
from cnnviz.training import train
from cnnviz.training.job import CURVES, Job, duration

COLOURS = ["#1f77b4", "#ff7f0e", "#9ecae1"]  # train, validation, train this epoch (CURVES' order)
HELP = {  # what each figure of a finished run means, and why it matters, for a student who meets it here first
    "loss": "The cross-entropy: the average of −log(the probability the network gave the true class), near 0 when "
            "it is sure and right. Training lowers exactly this number, step by step.",
    "accuracy": "The share of the training images the network now answers correctly; high here but low on new "
                "images means it memorised (overfitting).",
    "validation": "Accuracy on the validation images, held out from training: how well the network does on images "
                  "it has not seen, checked after every epoch.",
    "test": "Accuracy on the test images, used once at the end and never to choose settings: the fair final mark.",
}


def missing_data(ds: str) -> str:
    """Where to put data set `ds` so this copy can train on it."""
    layout = ("`MNIST/raw/train-images-idx3-ubyte` (and the other three `*-ubyte` files)" if ds == "mnist"
              else f"`{ds}/train/<class>/<image>.png` and `{ds}/test/<class>/<image>.png`"
              + (" or `cifar-10-batches-py/`" if ds == "cifar10" else ""))
    return (f"**The {ds} images are not on this computer.** To train on them, put {layout} in a folder, point "
            f"the environment variable `CNNVIZ_DATA_DIR` at it and restart the app (for example "
            f"`CNNVIZ_DATA_DIR=/path/to/datasets make run`). With an internet connection, MNIST and CIFAR-10 "
            f"are downloaded the first time instead (unless `CNNVIZ_DOWNLOAD=0`).")


def intro(config: train.TrainConfig | None) -> None:
    st.info("Set the recipe on the left (on a phone: above) and press **Start training**. The progress bar, the "
            "images per second and the curves appear here and grow while the network trains; **Stop** ends the run "
            "at any moment and keeps what was learned.")
    if config is not None:
        n = config.train_limit or (60000 if config.dataset == "mnist" else 50000)
        st.markdown(f"This run will train on about **{int(n * (1 - config.val_fraction)):,}** images and "
                    f"check itself on **{int(n * config.val_fraction):,}** held-out validation images after each "
                    f"of its **{config.epochs}** epochs; the test images are used once, at the end.")


def chart(frame: pd.DataFrame, metric: str, epochs: int) -> alt.LayerChart:
    """One metric's curves over the run's epochs: train and validation per epoch, dashed the running mean."""
    part = frame[frame["metric"] == metric]
    finite = part["value"].replace([float("inf")], float("nan")).dropna()
    top = 1.0 if metric == "accuracy" else max(0.5, float(finite.max()) * 1.05 if len(finite) else 2.5)
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(domain=[0, top]),
              axis=alt.Axis(format="%" if metric == "accuracy" else "~g"))
    base = alt.Chart(part).encode(
        x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[0, epochs]), axis=alt.Axis(tickMinStep=1)),
        y=y, color=alt.Color("curve:N", scale=alt.Scale(domain=list(CURVES), range=COLOURS), legend=None),
        tooltip=["curve:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    lines = base.transform_filter(f"datum.curve != '{CURVES[2]}'").mark_line(
        point=alt.OverlayMarkDef(size=80), strokeWidth=3)
    running = base.transform_filter(f"datum.curve == '{CURVES[2]}'").mark_line(strokeWidth=2, strokeDash=[6, 3])
    return alt.layer(lines, running).properties(height=340, title="Loss ↓" if metric == "loss" else "Accuracy ↑")


def curves(job: Job) -> None:
    """One legend in the charts' colours (a legend per chart gets cut off when narrow), then loss and accuracy."""
    items = [("━━", COLOURS[0], "train"), ("━━", COLOURS[1], "validation (images it never trains on)")]
    if not job.done:
        items.append(("╍╍", COLOURS[2], "train, running mean in this epoch"))
    st.html("<div style='font-size:1.15rem'>" + " &nbsp;&nbsp; ".join(
        f"<span style='color:{colour};font-weight:700'>{mark}</span> {label}" for mark, colour, label in items)
        + "</div>")
    frame = pd.DataFrame(job.curves(), columns=["metric", "curve", "epoch", "value"])
    left, right = st.columns(2)
    charts.show(chart(frame, "loss", job.config.epochs), left, width="stretch")
    charts.show(chart(frame, "accuracy", job.config.epochs), right, width="stretch")


def progress(job: Job) -> None:
    """Where the run is, with its Stop button, then the live curves."""
    p, cfg = job.progress, job.config
    head, stop = st.columns([3, 1], vertical_alignment="center")
    if p is None:
        head.markdown(f"### Starting {job.title}…")
        st.progress(0.0, text="building the network and shuffling the images (the first run also loads PyTorch's "
                              "optimizer code)")
    else:
        head.markdown(f"### Epoch {p.epoch} of {p.epochs} · {p.images_per_s:,.0f} images/s · "
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
    if m := job.metrics:
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
    downloads(job)


def downloads(job: Job) -> None:
    run = job.run
    c1, c2, c3 = st.columns([1, 1, 1.2])
    if run.history():
        c1.download_button("⬇ History (CSV)", run.history_csv(), file_name=f"{run.name}-history.csv",
                           mime="text/csv", on_click="ignore", width="stretch")
    if run.checkpoint.is_file():
        c2.download_button("⬇ Checkpoint (.pt)", run.checkpoint.read_bytes, file_name=f"{run.name}.pt",
                           mime="application/octet-stream", on_click="ignore", width="stretch")
    nav.link("compare", "Compare runs", c3)
    st.caption(f"Saved in `{run.path}`: settings, history and the best checkpoint, written after every epoch.")
