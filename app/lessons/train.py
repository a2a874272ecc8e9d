"""Train a model: choose the data, a network and a recipe, then watch the loss and accuracy curves grow.

Training runs in a background thread owned by this session (one run at a time per session, a few per server);
a fragment polls it every second for the progress bar and the live curves, and Stop sets a threading.Event that
the training loop checks after every batch. Each run is saved epoch by epoch under the runs folder.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import nav, state, urlstate

st.title("🏋️ Train a model")
st.markdown("#### Choose the data, a network and a recipe, press **Start**, and watch the network learn: "
            "the loss should fall and the accuracy rise, on the training images *and* on the validation images "
            "it never trains on.")

import altair as alt  # noqa: E402  (PyTorch and friends: imported after the title is on screen)
import pandas as pd  # noqa: E402
import torch  # noqa: E402

import models  # noqa: E402
from cnnviz.datasets import data  # noqa: E402
from cnnviz.nets import limits
from cnnviz.training import train
from cnnviz.training.runs import Run  # noqa: E402

try:
    from cnnviz.nets import builder, netspec
except ImportError:  # the layer-description module is optional: without it, only zoo models are offered
    netspec = None

JOB = "train.job"           # session_state key of this session's training job
CUSTOM = "custom"
DATASETS = ("mnist", "cifar10")
DATASET_TITLES = {"mnist": "MNIST (handwritten digits)", "cifar10": "CIFAR-10 (small photos)"}
LR_CHOICES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 1.0, 3.0, 10.0]
WD_CHOICES = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05]
BATCH_CHOICES = [16, 32, 64, 128, 256, 512]
SMOOTH_CHOICES = [0.0, 0.05, 0.1, 0.2]
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = {"onecycle": "one-cycle: warm up, then down", "none": "constant", "step": "step: ÷10 at each third",
             "plateau": "÷3 when validation loss stalls"}
AUGMENT = {"flip": "flip", "crop": "crop", "rotate": "rotate", "jitter": "colour"}
NORMALIZE = {"dataset": "mean/std of the training images", "half": "0.5 / 0.5"}
RUNNING = "train, this epoch"
COLOURS = alt.Scale(domain=["train", "validation", RUNNING],
                    range=["#1f77b4", "#ff7f0e", "#9ecae1"])
BIG = {"labelFontSize": 16, "titleFontSize": 18}


def env_int(name: str, default: int) -> int:
    """A non-negative whole number from the environment (hosting limits), else `default`."""
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return default


MAX_EPOCHS = env_int("CNNVIZ_MAX_EPOCHS", 200) or 200        # hosted copies set a small cap
MAX_TRAIN = env_int("CNNVIZ_MAX_TRAIN_IMAGES", 0)            # 0: every training image may be used
MAX_TEST = env_int("CNNVIZ_MAX_TEST_IMAGES", 0)              # 0: the whole test set
MAX_RUNS = env_int("CNNVIZ_MAX_CONCURRENT_RUNS", 2) or 1     # runs at once in this server, all sessions
ABANDONED_S = env_int("CNNVIZ_ABANDONED_RUN_S", 60)          # s after its tab closes that a run stops
# the number boxes' and slider's ranges, for the widgets and for the link alike
EPOCHS = range(1, MAX_EPOCHS + 1)
PATIENCE = range(0, 51)                                      # epochs without progress; 0 = off
VAL_SHARE = (0.05, 0.5)                                      # of the training images, held out
SEEDS = range(0, 2**31)
TRAIN_IMAGES = range(1 if MAX_TRAIN else 0, (MAX_TRAIN or 10**7) + 1)  # 0 = all, where the copy has no cap


# ---- the background job ---------------------------------------------------------------------------------
@dataclass
class Job:
    """One training run in a background thread; the page only reads it."""

    config: train.TrainConfig
    run: Run
    title: str
    stop: threading.Event = field(default_factory=threading.Event)
    owner_gone: Callable[[], bool] = lambda: False  # the browser session that started it has closed
    status: str = "running"       # running | finished | stopped | early-stopped | diverged | failed
    progress: train.Progress | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    running_loss: list[tuple[float, float]] = field(default_factory=list)  # (epoch position, mean loss so far)
    metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.status != "running"

    def should_stop(self) -> bool:
        """Stop was pressed, or nobody is left to watch (the run's tab has been closed for a while)."""
        if not self.stop.is_set() and self.owner_gone():
            self.run.update(note=f"stopped: its browser tab was closed for over {ABANDONED_S} s")
            self.stop.set()
        return self.stop.is_set()

    def on_batch(self, p: train.Progress) -> None:
        self.progress = p
        self.running_loss.append((p.epoch - 1 + p.batch / p.batches, p.loss))

    def work(self, model: torch.nn.Module, splits: train.Splits, meta: dict[str, Any],
             slots: threading.BoundedSemaphore) -> None:
        """The thread's body: train, then record how it ended; always give the slot back."""
        try:
            result = train.fit(self.config, model, splits, self.run, on_epoch=self.history.append,
                               on_batch=self.on_batch, should_stop=self.should_stop, meta=meta)
            self.metrics, self.best_epoch, self.status = result.metrics, result.best_epoch, result.status
        except train.TrainingDiverged as exc:
            self.error, self.status = str(exc), "diverged"
        except Exception as exc:  # noqa: BLE001 (shown on the page, not as a traceback; the run says "interrupted")
            self.error, self.status = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            self.seconds = time.monotonic() - self.started
            slots.release()


def start_job(config: train.TrainConfig, title: str, model: torch.nn.Module, splits: train.Splits,
              meta: dict[str, Any]) -> Job | None:
    """Start training in a background thread if a server slot is free (else None)."""
    slots = state.training_slots(MAX_RUNS)
    if not slots.acquire(blocking=False):
        return None
    job = Job(config, Run.create(f"{config.model}-{config.dataset}-seed{config.seed}"), title,
              owner_gone=state.session_gone(ABANDONED_S))
    job.run.update(owner=state.session_token())  # other sessions do not list this run
    threading.Thread(target=job.work, args=(model, splits, meta, slots), daemon=True,
                     name=f"train-{job.run.name}").start()
    return job


# ---- settings -------------------------------------------------------------------------------------------
def zoo_for(ds: str) -> list[str]:
    """Zoo models made for data set `ds`, then the custom network."""
    names = [n for n in models.names() if models.ZOO[n].dataset == ds]
    return names + ([CUSTOM] if netspec is not None else [])


def preset_text(ds: str) -> str:
    if netspec is None:
        return ""
    return netspec.PRESETS["mnist_cnn" if ds == "mnist" else "cifar_cnn"].text


def recipe(ds: str, net: str) -> dict[str, Any]:
    """Widget values for the engine's defaults of this data set and model."""
    c = train.defaults(ds, net)
    return {"opt": c.optimizer, "lr": c.lr, "wd": c.weight_decay, "batch": c.batch_size,
            "epochs": min(c.epochs, MAX_EPOCHS), "sched": c.schedule, "patience": c.patience,
            "aug": list(c.augment), "norm": c.normalize, "valfrac": c.val_fraction, "smooth": c.label_smoothing,
            "seed": c.seed, "limit": MAX_TRAIN}


def on_data_change() -> None:
    ds = st.session_state["data"]
    st.session_state["net"] = zoo_for(ds)[0]
    st.session_state["layers"] = preset_text(ds)
    st.session_state.update(recipe(ds, st.session_state["net"]))


def on_net_change() -> None:
    st.session_state.update(recipe(st.session_state["data"], st.session_state["net"]))


def on_optimizer_change() -> None:
    """Adam-style optimizers want a rate some 50x smaller than SGD with momentum."""
    base = recipe(st.session_state["data"], st.session_state["net"])
    adam = st.session_state["opt"] in ("adam", "adamw")
    if adam != (base["opt"] in ("adam", "adamw")):
        base["lr"] = 0.001 if adam else 0.05
    st.session_state["lr"] = base["lr"]


def read_layers(text: str, input_shape: tuple[int, ...], classes: int) -> tuple[list[dict] | None, str]:
    """(layer dicts or None, a one-line verdict) for the custom network description."""
    from cnnviz.nets.tables import spec_table

    try:
        layers = netspec.parse(text)
        table = spec_table(layers, input_shape)
        limits.check(layers, input_shape)
    except ValueError as exc:
        return None, f"❌ {exc}"
    out = tuple(table[-1]["output_shape"]) if table else tuple(input_shape)
    if out != (classes,):
        return None, (f"❌ The network ends with shape {out}, but the data set has {classes} classes: "
                      f"end with `flatten` and `linear {classes}`.")
    return layers, f"✅ {len(layers)} layers, {table[-1]['total_params']:,} parameters, output {out}."


def widget(kind: Any, label: str, key: str, running: bool, **kwargs: Any) -> None:
    """Draw one settings widget unless the link hides it; disabled while training or when the link locks it."""
    if not urlstate.hidden(key):
        kind(label, key=key, disabled=running or urlstate.locked(key), **kwargs)


def settings(running: bool) -> tuple[train.TrainConfig | None, str]:
    """The settings column; returns the config it describes (None with a reason when it cannot train)."""
    s = st.session_state
    datasets = list(DATASETS) + [d for d in data.available() if d not in DATASETS]
    widget(st.selectbox, "Data set", "data", running, options=datasets, on_change=on_data_change,
           format_func=lambda d: DATASET_TITLES.get(d, d))
    if s["net"] not in zoo_for(s["data"]):
        s["net"] = zoo_for(s["data"])[0] if zoo_for(s["data"]) else CUSTOM
    widget(st.selectbox, "Network", "net", running, options=zoo_for(s["data"]), on_change=on_net_change,
           format_func=lambda n: "Your own network (layer description)" if n == CUSTOM else models.ZOO[n].title)
    if s["net"] == "resnet18":
        widget(st.checkbox, "Start from ImageNet weights (transfer learning)", "pretrained", running)
    c1, c2 = st.columns(2)
    with c1:
        widget(st.selectbox, "Optimizer", "opt", running, options=list(OPTIMIZERS), format_func=OPTIMIZERS.get,
               on_change=on_optimizer_change, help="SGD uses Nesterov momentum 0.9; Adam and AdamW adapt the step "
                                                   "per weight and want a smaller learning rate")
    with c2:
        widget(st.number_input, "Epochs", "epochs", running, min_value=EPOCHS.start, max_value=EPOCHS[-1], step=1,
               help="passes over the training images" + (f" (at most {MAX_EPOCHS} here)" if MAX_EPOCHS < 200 else ""))
    widget(st.select_slider, "Learning rate (peak)", "lr", running, options=LR_CHOICES,
           help="how big a step each update takes; too big and the loss explodes")
    widget(st.select_slider, "Batch size", "batch", running, options=BATCH_CHOICES, help="images per update")
    widget(st.pills, "Augmentation", "aug", running, options=list(AUGMENT), format_func=AUGMENT.get,
           selection_mode="multi", help="random changes to each training image, new every epoch: flip left–right, "
                                        "crop (shift by up to 4 pixels), rotate (±12°), colour (brightness and "
                                        "contrast ±25%)")
    with st.expander("More settings"):
        widget(st.select_slider, "Weight decay", "wd", running, options=WD_CHOICES,
               help="pulls the weights towards zero (L2 regularisation)")
        widget(st.selectbox, "Learning-rate schedule", "sched", running, options=list(SCHEDULES),
               format_func=SCHEDULES.get)
        widget(st.number_input, "Early stopping: patience (epochs, 0 = off)", "patience", running,
               min_value=PATIENCE.start, max_value=PATIENCE[-1],
               help="stop when the validation loss has not improved for this many epochs")
        widget(st.radio, "Normalisation", "norm", running, options=list(NORMALIZE), format_func=NORMALIZE.get,
               horizontal=True)
        widget(st.slider, "Validation share of the training images", "valfrac", running, min_value=VAL_SHARE[0],
               max_value=VAL_SHARE[1], step=0.05,
               help="held out to measure what the network learned, never trained on")
        widget(st.select_slider, "Label smoothing", "smooth", running, options=SMOOTH_CHOICES)
        c1, c2 = st.columns(2)
        with c1:
            widget(st.number_input, "Seed", "seed", running, min_value=SEEDS.start, max_value=SEEDS[-1], step=1,
                   help="same seed, same settings: the same run again (on the CPU)")
        with c2:
            widget(st.number_input, "Use only this many training images" + (" (0 = all)" if not MAX_TRAIN else ""),
                   "limit", running, min_value=TRAIN_IMAGES.start, max_value=TRAIN_IMAGES[-1], step=1000,
                   help="a smaller set trains faster (the validation share is taken from it)")
    if MAX_EPOCHS < 200 or MAX_TRAIN:
        st.caption(f"This copy allows at most {MAX_EPOCHS} epochs" +
                   (f" and {MAX_TRAIN:,} training images" if MAX_TRAIN else "") + " per run.")

    layers = None
    if s["net"] == CUSTOM:
        shape = (1, 28, 28) if s["data"] == "mnist" else (3, 32, 32)
        widget(st.text_area, "Your network, one layer per line", "layers", running, height=260,
               help="the layer description of the Conv arithmetic lesson, e.g. `conv 32 k3 p1`, `relu`, "
                    "`pool max 2`, `flatten`, `linear 10`")
        if s["data"] not in DATASETS:
            return None, "Your own network needs MNIST or CIFAR-10 here (their input shapes are known)."
        layers, verdict = read_layers(s["layers"], shape, 10)
        st.markdown(verdict)
        if layers is None:
            return None, "Fix the network description first."
    limit = int(s["limit"] or 0)
    if MAX_TRAIN:
        limit = min(limit or MAX_TRAIN, MAX_TRAIN)
    try:
        config = train.TrainConfig(
            dataset=s["data"], model=s["net"], layers=layers, pretrained=bool(s.get("pretrained")),
            optimizer=s["opt"], lr=float(s["lr"]), weight_decay=float(s["wd"]), batch_size=int(s["batch"]),
            epochs=min(int(s["epochs"]), MAX_EPOCHS), schedule=s["sched"], patience=int(s["patience"]),
            augment=tuple(a for a in AUGMENT if a in (s["aug"] or [])), normalize=s["norm"],
            val_fraction=float(s["valfrac"]), label_smoothing=float(s["smooth"]), seed=int(s["seed"]),
            train_limit=limit, test_limit=MAX_TEST)
        if layers is not None:
            limits.check_training(layers, shape, config.batch_size)  # the batch's memory, before Start is offered
    except ValueError as exc:
        return None, str(exc)
    return config, ""


def how_to_get(ds: str) -> str:
    layout = ("`MNIST/raw/train-images-idx3-ubyte` (and the other three `*-ubyte` files)" if ds == "mnist"
              else f"`{ds}/train/<class>/<image>.png` and `{ds}/test/<class>/<image>.png`"
              + (" or `cifar-10-batches-py/`" if ds == "cifar10" else ""))
    return (f"**The {ds} images are not on this computer.** To train on them, put {layout} in a folder, point "
            f"the environment variable `CNNVIZ_DATA_DIR` at it and restart the app (for example "
            f"`CNNVIZ_DATA_DIR=/path/to/datasets make run`). With an internet connection, MNIST and CIFAR-10 "
            f"are downloaded the first time instead (unless `CNNVIZ_DOWNLOAD=0`).")


def launch(config: train.TrainConfig) -> str:
    """Load the data, build a fresh network and start the job; returns an error message, or '' on success."""
    try:
        train_set, test_set = state.dataset(config.dataset, "train"), state.dataset(config.dataset, "test")
    except data.DatasetUnavailable as exc:
        return f"{how_to_get(config.dataset)}\n\n({exc})"
    splits = train.make_splits(config, train_set, test_set)
    try:
        with train.seeded(config.seed):  # the initial weights follow the seed too
            model, meta, title = build(config, train_set)
    except (OSError, RuntimeError, ValueError) as exc:  # e.g. ImageNet weights unavailable offline, a bad layer
        return str(exc)
    job = start_job(config, title, model, splits, meta)
    if job is None:
        return (f"{MAX_RUNS} training run(s) are already going on this server, which is as many as it allows at "
                "once. Try again in a few minutes.")
    st.session_state[JOB] = job
    return ""


def build(config: train.TrainConfig, train_set: data.ImageSet) -> tuple[torch.nn.Module, dict[str, Any], str]:
    """A fresh, untrained network (never the cached zoo model) and the checkpoint meta that rebuilds it."""
    from models.train import build_model, zoo_meta

    if config.model == CUSTOM:
        model = builder.build(config.layers, train_set.shape)
        title = "your network"
        meta = {"arch": CUSTOM, "arch_args": {"layers": config.layers}, "title": f"Custom network ({config.dataset})",
                "dataset": config.dataset, "input_shape": list(train_set.shape), "classes": list(train_set.classes),
                "pretrained": False}
        return model, meta, title
    return build_model(config), zoo_meta(config.model, config.pretrained), models.ZOO[config.model].title


# ---- live view and results ------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def curve_frame(job: Job) -> pd.DataFrame:
    """Long table (metric, curve, epoch, value) of the per-epoch history and the running loss."""
    rows = []
    for h in list(job.history):
        for metric, key in (("loss", "loss"), ("accuracy", "acc")):
            rows.append({"metric": metric, "curve": "train", "epoch": h["epoch"], "value": h[f"train_{key}"]})
            rows.append({"metric": metric, "curve": "validation", "epoch": h["epoch"], "value": h[f"val_{key}"]})
    if not job.done:
        done_epochs = len(job.history)
        for x, loss in list(job.running_loss):
            if x > done_epochs:  # only the epoch in progress
                rows.append({"metric": "loss", "curve": RUNNING, "epoch": x, "value": loss})
    return pd.DataFrame(rows, columns=["metric", "curve", "epoch", "value"])


def chart(frame: pd.DataFrame, metric: str, epochs: int) -> alt.Chart:
    part = frame[frame["metric"] == metric]
    finite = part["value"].replace([float("inf")], float("nan")).dropna()
    top = 1.0 if metric == "accuracy" else max(0.5, float(finite.max()) * 1.05 if len(finite) else 2.5)
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(domain=[0, top]),
              axis=alt.Axis(format="%" if metric == "accuracy" else "~g"))
    base = alt.Chart(part).encode(
        x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[0, epochs]), axis=alt.Axis(tickMinStep=1)),
        y=y, color=alt.Color("curve:N", scale=COLOURS, legend=None),
        tooltip=["curve:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    lines = base.transform_filter(f"datum.curve != '{RUNNING}'").mark_line(
        point=alt.OverlayMarkDef(size=80), strokeWidth=3)
    running = base.transform_filter(f"datum.curve == '{RUNNING}'").mark_line(
        strokeWidth=2, strokeDash=[6, 3])
    title = "Loss ↓" if metric == "loss" else "Accuracy ↑"
    return (alt.layer(lines, running).properties(height=340, title=title)
            .configure_axis(**BIG).configure_title(fontSize=20, anchor="start"))


def legend(running: bool) -> None:
    """One legend for both charts, in the charts' colours (a legend per chart gets cut off when narrow)."""
    items = [("━━", "#1f77b4", "train"), ("━━", "#ff7f0e", "validation (images it never trains on)")]
    if running:
        items.append(("╍╍", "#9ecae1", "train, running mean in this epoch"))
    st.html("<div style='font-size:1.15rem'>" + " &nbsp;&nbsp; ".join(
        f"<span style='color:{colour};font-weight:700'>{mark}</span> {label}" for mark, colour, label in items)
        + "</div>")


def curves(job: Job) -> None:
    frame = curve_frame(job)
    legend(not job.done)
    left, right = st.columns(2)
    left.altair_chart(chart(frame, "loss", job.config.epochs), width="stretch")
    right.altair_chart(chart(frame, "accuracy", job.config.epochs), width="stretch")


def show_progress(job: Job) -> None:
    p, cfg = job.progress, job.config
    head, stop = st.columns([3, 1], vertical_alignment="center")
    if p is None:
        head.markdown(f"### Starting {job.title}…")
        st.progress(0.0, text="building the network and shuffling the images (the first run also loads PyTorch's "
                              "optimizer code)")
    else:
        fraction = min(1.0, (p.epoch - 1 + p.batch / p.batches) / p.epochs)
        head.markdown(f"### Epoch {p.epoch} of {p.epochs} · {p.images_per_s:,.0f} images/s · "
                      f"about {duration(p.eta_s)} left")
        st.progress(fraction, text=f"batch {p.batch} of {p.batches} · training loss {p.loss:.3f} this epoch · "
                                   f"{duration(time.monotonic() - job.started)} so far · {job.title} on {cfg.dataset}")
    if job.stop.is_set():
        stop.info("Stopping: measuring the final accuracies…")
    else:
        stop.button("⏹ Stop", key="stop", on_click=job.stop.set, type="primary", width="stretch",
                    help="ends the run after the current batch, keeping the best weights so far")
    curves(job)


def show_results(job: Job) -> None:
    cfg, m = job.config, job.metrics
    if job.status == "diverged":
        st.error(f"**The training diverged.** {job.error}")
        st.markdown("A learning rate that is too large makes each step overshoot, so the loss grows instead of "
                    "shrinking until the numbers overflow. Pick a smaller learning rate and start again.")
    elif job.status == "failed":
        st.error(f"**The training stopped with an error:** {job.error}")
    else:
        done = len(job.history)
        how = {"finished": f"Finished {plural(done, 'epoch')}",
               "stopped": f"Stopped during epoch {done} (you pressed Stop)",
               "early-stopped": f"Stopped early after {plural(done, 'epoch')}: the validation loss had not "
                                f"improved for {plural(cfg.patience, 'epoch')}"}[job.status]
        kept = ("It is saved as it was at the end." if done == 1 else
                f"The saved network is the one from epoch **{job.best_epoch}**, the epoch with the lowest "
                "validation loss.")
        st.success(f"**{how}** in {duration(job.seconds)}. {kept}")
    if m:
        c = st.columns(4)
        c[0].metric("Training loss", f"{m['train_loss']:.3f}")
        c[1].metric("Training accuracy", f"{m['train_acc']:.1%}")
        c[2].metric("Validation accuracy", f"{m['val_acc']:.1%}" if "val_acc" in m else "–")
        c[3].metric("Test accuracy", f"{m['test_acc']:.1%}")
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
    nav.link("compare", "📈 Compare runs", c3)
    st.caption(f"Saved in `{run.path}`: settings, history and the best checkpoint, written after every epoch.")


def intro(config: train.TrainConfig | None) -> None:
    st.info("Set the recipe on the left and press **Start training**. The progress bar, the images per second and "
            "the curves appear here and grow while the network trains; **Stop** ends the run at any moment and "
            "keeps what was learned.")
    if config is not None:
        n = config.train_limit or (60000 if config.dataset == "mnist" else 50000)
        st.markdown(f"This run will train on about **{int(n * (1 - config.val_fraction)):,}** images and "
                    f"check itself on **{int(n * config.val_fraction):,}** held-out validation images after each "
                    f"of its **{config.epochs}** epochs; the test images are used once, at the end.")


# ---- the page -------------------------------------------------------------------------------------------
present = data.available()
first = next((d for d in DATASETS if d in present), DATASETS[0])
urlstate.init({"data": first}, allowed={"data": lambda d: d in DATASETS or d in present})
ds = st.session_state["data"]
net0 = zoo_for(ds)[0]
urlstate.init({"data": first, "net": net0, "layers": preset_text(ds), "pretrained": False, **recipe(ds, net0)},
              allowed={"lr": LR_CHOICES, "wd": WD_CHOICES, "batch": BATCH_CHOICES, "smooth": SMOOTH_CHOICES,
                       "opt": OPTIMIZERS, "sched": SCHEDULES, "norm": NORMALIZE, "aug": AUGMENT,
                       "epochs": EPOCHS, "patience": PATIENCE, "valfrac": lambda v: VAL_SHARE[0] <= v <= VAL_SHARE[1],
                       "seed": SEEDS, "limit": TRAIN_IMAGES, "net": lambda n: n in zoo_for(st.session_state["data"])})

job: Job | None = st.session_state.get(JOB)
running = job is not None and not job.done
left, right = st.columns([1.25, 2], gap="large")
with left:
    st.subheader("Recipe")
    config, problem = settings(running)
    ds = st.session_state["data"]
    available = ds in present
    start = st.button("▶ Start training", key="start", type="primary", width="stretch",
                      disabled=running or config is None or not available)
    if running:
        st.caption("One run at a time: stop this one to change the recipe.")
    elif problem:
        st.warning(problem)
    if not available:
        st.warning(how_to_get(ds))
    if start and config is not None:
        with st.spinner("Loading the images and building a fresh network…"):
            failure = launch(config)
        if failure:
            st.error(failure)
        else:
            st.rerun()

with right:
    @st.fragment(run_every=1.0 if running else None)
    def panel() -> None:
        """Redrawn every second while training; draws the whole page again once training ends."""
        current: Job | None = st.session_state.get(JOB)
        if running and current is not None and current.done:
            st.rerun(scope="app")
        if current is None:
            intro(config)
        elif not current.done:
            show_progress(current)
        else:
            show_results(current)

    panel()

urlstate.publish()
