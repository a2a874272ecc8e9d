"""The Train page's choices: one table maps each recipe setting to its widget, its URL key and its TrainConfig field.

The table drives the widgets (through `urlstate.control`, so teacher mode hides and locks them), the link's
defaults and valid values (`urlstate.init`), and the TrainConfig the page trains with. URL keys and defaults are
what links shared by teachers already hold: change neither. Imported once the page's title is on screen (PyTorch).
"""
from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

import models
from app import urlstate
from cnnviz.nets import limits, netspec
from cnnviz.training import segment, train
from cnnviz.training.job import Hosting
from models.train import fresh as fresh_classifier

CUSTOM = "custom"  # the network typed as a layer description
WHAT_IF = "train.what_if"  # session_state: the what-if run last set up, for its sentence
SEGMENTS = segment.DATASET  # the digit canvases: a class for every pixel, made from MNIST's digits
DATASETS = ("mnist", "cifar10", SEGMENTS)
DATASET_TITLES = {"mnist": "MNIST (handwritten digits)", "cifar10": "CIFAR-10 (small photos)",
                  SEGMENTS: "Digit canvases (segmentation)"}
NOT_FOR_SEGMENTS = {  # recipe settings that do not apply to the canvases, and why (they are hidden there)
    "aug": "No augmentation for segmentation: flipping, cropping or rotating a canvas would move its pixels away "
           "from their labels, unless the label map moved with them.",
}
INPUTS = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}  # (C, H, W): what a custom network is built for
LR_CHOICES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 1.0, 3.0, 10.0]
WD_CHOICES = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05]
BATCH_CHOICES = [16, 32, 64, 128, 256, 512]
SMOOTH_CHOICES = [0.0, 0.05, 0.1, 0.2]
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = {"onecycle": "one-cycle: warm up, then down", "none": "constant", "step": "step: ÷10 at each third",
             "plateau": "÷3 when validation loss stalls"}
AUGMENT = {"flip": "flip", "crop": "crop", "rotate": "rotate", "jitter": "colour"}
NORMALIZE = {"dataset": "mean/std of the training images", "half": "0.5 / 0.5"}
INITS = {"default": "random (PyTorch's default)", "zeros": "all zeros"}
DEEP_PLAIN = "\n".join(["conv 16 k3 p1", "relu"] * 10 + ["globalpool avg", "flatten", "linear 10"])  # no batch norm
WHAT_IFS = {  # runs that fail on purpose: (button, what to look for, the settings that make it fail)
    "lr": ("🔥 Learning rate far too high",
           "SGD at a learning rate of 10, 200× the 0.05 these networks train with: the loss shoots up within a few "
           "dozen batches and the run stops with the message that the rate is too high.",
           {"opt": "sgd", "lr": 10.0, "sched": "none", "epochs": 2, "limit": 5000}),
    "nobn": ("🧱 Deep, without batch norm",
             "Ten conv layers and no batch norm: the loss sits near its starting value (ln 10 ≈ 2.30) for epochs, "
             "and under Watch it learn the first layers' gradient norms are tiny beside the last ones'. Add a `bn` "
             "line after each `conv` and the same network learns at once.",
             {"net": CUSTOM, "layers": DEEP_PLAIN, "epochs": 3, "limit": 5000}),
    "zeros": ("0️⃣ Every weight starts at zero",
              "Every filter gets the same gradient, zero, so none of them ever changes: the first layer's pictures "
              "stay blank and the accuracy stays at chance, 10%. Random starting weights are what make filters differ.",
              {"init": "zeros", "epochs": 2, "limit": 5000}),
    "noaug": ("🪞 No augmentation, few images",
              "On 2,000 images without flips or crops, the training accuracy climbs towards 100% while the validation "
              "curves flatten and the validation loss turns up: the network memorises its images.",
              {"aug": [], "epochs": 15, "limit": 2000, "valfrac": 0.2, "smooth": 0.0}),
}
_BLANK = train.TrainConfig()  # its fields' types are the types the config wants


@dataclass(frozen=True)
class Field:
    """One recipe setting: URL and widget key, label, Streamlit widget, valid values, TrainConfig field, help."""

    key: str
    label: str
    widget: str                  # the Streamlit widget's name
    values: Any                  # options (a list, or a dict value -> title), a range of whole numbers, or (low, high)
    attr: str                    # the TrainConfig field it sets
    help: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more widget arguments (a step, a callback...)

    @property
    def rule(self) -> Container[Any] | Callable[[Any], bool]:
        """The link's valid values: the widget's options or range."""
        if isinstance(self.values, tuple):
            low, high = self.values
            return lambda v: low <= v <= high
        return self.values

    def kwargs(self) -> dict[str, Any]:
        """The widget's arguments besides label, key and disabled."""
        v = self.values
        if isinstance(v, dict):
            given = {"options": list(v), "format_func": v.get}
        elif isinstance(v, range):
            given = {"min_value": v.start, "max_value": v[-1], "step": v.step}
        elif isinstance(v, tuple):
            given = {"min_value": v[0], "max_value": v[1]}
        elif self.widget in ("toggle", "checkbox"):
            given = {}
        else:
            given = {"options": list(v)}
        return {**given, **({"help": self.help} if self.help else {}), **self.extra}

    def to_config(self, value: Any) -> Any:
        """The widget's value as the TrainConfig field wants it."""
        if isinstance(getattr(_BLANK, self.attr), tuple):  # augmentations, in the table's order
            return tuple(v for v in self.values if v in (value or []))
        kind = type(getattr(_BLANK, self.attr))
        return kind(value or 0) if kind in (int, float) else value


def fields(host: Hosting) -> dict[str, Field]:
    """The recipe table (in the link's order), with the ranges this copy's hosting caps allow."""
    train_images = range(1 if host.max_train else 0, (host.max_train or 10**7) + 1)  # 0 = all, where uncapped
    table = (
        Field("opt", "Optimizer", "selectbox", OPTIMIZERS, "optimizer",
              "the rule that turns each batch's gradient (which way each weight should move) into a step: SGD "
              "steps downhill and keeps 0.9 of its last step (momentum), which carries it through small bumps; "
              "Adam and AdamW size the step for each weight on their own, and want a smaller learning rate",
              {"on_change": on_optimizer_change, "args": (host,)}),
        Field("lr", "Learning rate (peak)", "select_slider", LR_CHOICES, "lr",
              "how big a step each update takes; too big and the loss explodes, too small and it barely moves. "
              "The peak: the schedule below may lower it during the run"),
        Field("wd", "Weight decay", "select_slider", WD_CHOICES, "weight_decay",
              "pulls every weight a little towards zero at each step (L2 regularisation), so the network prefers "
              "small weights, simpler answers, and memorises its training images less"),
        Field("batch", "Batch size", "select_slider", BATCH_CHOICES, "batch_size",
              "how many images the network sees before each update: larger batches give steadier steps but fewer "
              "of them per epoch, and need more memory"),
        Field("epochs", "Epochs", "number_input", range(1, host.max_epochs + 1), "epochs",
              "one epoch is one pass over all the training images; more epochs learn more, until the network starts "
              "to memorise them" + (f" (at most {host.max_epochs} here)" if host.max_epochs < 200 else "")),
        Field("sched", "Learning-rate schedule", "selectbox", SCHEDULES, "schedule",
              "how the learning rate changes during the run. One-cycle warms up from a small rate to the peak, "
              "then lowers it towards zero: big steps early explore, small steps at the end settle into a good "
              "spot. Step divides it by 10 at each third; the last waits until the validation loss stops falling"),
        Field("patience", "Early stopping: patience (epochs, 0 = off)", "number_input", range(0, 51), "patience",
              "stop when the validation loss has not improved for this many epochs: the network has stopped "
              "learning what carries over to new images, and further epochs would only memorise"),
        Field("aug", "Augmentation", "pills", AUGMENT, "augment",
              "random changes to each training image, new every epoch: flip left–right, crop (shift by up to 4 "
              "pixels), rotate (±12°), colour (brightness and contrast ±25%). The network sees more variety, so it "
              "learns the object rather than the exact pixels", {"selection_mode": "multi"}),
        Field("norm", "Normalisation", "radio", NORMALIZE, "normalize",
              "each colour channel's pixel values have a mean subtracted and are divided by a standard deviation, so "
              "the inputs are centred on 0 with a spread of about 1: the network then trains faster and steadier. "
              "Measured on the training images, or a fixed 0.5 for both", {"horizontal": True}),
        Field("valfrac", "Validation share of the training images", "slider", (0.05, 0.5), "val_fraction",
              "held out to measure what the network learned, never trained on: it shows whether the network does "
              "well on images it has not seen, or only on the ones it memorised", {"step": 0.05}),
        Field("smooth", "Label smoothing", "select_slider", SMOOTH_CHOICES, "label_smoothing",
              "the target for each image is no longer 100% on its class: this share is spread over all the classes "
              "(0.1: about 91% on the right one). The network becomes less over-confident and often does better on "
              "new images; 0 = off"),
        Field("init", "Initial weights", "radio", INITS, "init",
              "where the weights start: PyTorch's random values, scaled to each layer's size, or all zeros. With "
              "zeros every filter of a layer gets the same gradient and stays the same as the others: nothing "
              "breaks the symmetry", {"horizontal": True}),
        Field("seed", "Seed", "number_input", range(0, 2**31), "seed",
              "the starting number of the random choices (first weights, order of the images, augmentation): same "
              "seed, same settings, the same run again (on the CPU)"),
        Field("limit", "Use only this many training images" + ("" if host.max_train else " (0 = all)"),
              "number_input", train_images, "train_limit",
              "a smaller set trains faster (the validation share is taken from it)", {"step": 1000}),
    )
    return {f.key: f for f in table}


def variants() -> dict[str, Field]:
    """The U-Net's settings (shown for it only): its three ablations, each recorded in the checkpoint."""
    table = (
        Field("up", "Upsampling", "radio", {"transposed": "transposed convolution",
                                            "nearest": "nearest-neighbour + convolution"}, "upsample",
              "how the decoder doubles the height and width of its maps on the way back up: a transposed "
              "convolution learns how to spread each value over a 2×2 patch (and can leave a checkerboard pattern); "
              "nearest-neighbour copies each value into a 2×2 block, then an ordinary 3×3 convolution smooths it",
              {"horizontal": True}),
        Field("act", "Activation", "radio", {"relu": "ReLU", "elu": "ELU"}, "activation",
              "the function after every convolution: ReLU turns negative values into 0; ELU lets them through as a "
              "smooth curve that flattens at −1, so a unit is never silenced completely", {"horizontal": True}),
        Field("skips", "Skip connections", "toggle", [False, True], "skips",
              "each decoder level also receives the encoder's map of the same size (the bridges across the U), so "
              "the fine detail that pooling threw away comes straight back; off, the decoder must rebuild every "
              "pixel from the coarse 8×11 map at the bottom"),
    )
    return {f.key: f for f in table}


def applies(key: str, ds: str) -> bool:
    """Whether recipe setting `key` is shown for data set `ds` (the U-Net's only for the canvases)."""
    if ds == SEGMENTS:
        return key not in NOT_FOR_SEGMENTS
    return key not in variants()


def _caps(host: Hosting) -> dict[str, Callable[[Any], Any]]:
    """TrainConfig field -> what this copy's caps make of a value."""
    return {"epochs": lambda n: min(n, host.max_epochs), "train_limit": host.train_images}


def defaults(ds: str, net: str, host: Hosting) -> dict[str, Any]:
    """Widget values for the engine's defaults of this data set and network (the U-Net's only for the canvases)."""
    base, caps = train.defaults(ds, net), _caps(host)
    values = {}
    for key, f in {**fields(host), **(variants() if ds == SEGMENTS else {})}.items():
        value = caps.get(f.attr, lambda v: v)(getattr(base, f.attr))
        values[key] = list(value) if isinstance(value, tuple) else value
    return values


def config(values: Mapping[str, Any], host: Hosting, layers: list[dict[str, Any]] | None = None
           ) -> train.TrainConfig:
    """The TrainConfig the widgets describe (`values`: session_state), under this copy's caps.

    Raises:
        ValueError: the settings do not make a config, or a custom network's training batch is over the memory limit.
    """
    caps, ds = _caps(host), values["data"]
    base = train.defaults(ds, values["net"])  # what a hidden setting keeps
    recipe = {f.attr: caps.get(f.attr, lambda v: v)(f.to_config(values[key]) if applies(key, ds)
                                                    else getattr(base, f.attr))
              for key, f in {**fields(host), **variants()}.items()}
    config = train.TrainConfig(dataset=ds, model=values["net"], layers=layers,
                               pretrained=bool(values.get("pretrained")), test_limit=host.max_test, **recipe)
    if layers is not None:
        limits.check_training(layers, INPUTS[config.dataset], config.batch_size)  # the batch's memory, before Start
    return config


def networks(ds: str) -> list[str]:
    """Zoo networks made for data set `ds`, then the custom network; for the canvases the U-Net alone (its
    upsampling is a setting, so the zoo's unet-nearest is not a second network here)."""
    if ds == SEGMENTS:
        return [segment.ARCH]
    return [n for n in models.names("classification") if models.ZOO[n].dataset == ds] + [CUSTOM]


def network_title(net: str) -> str:
    return "Your own network (layer description)" if net == CUSTOM else models.ZOO[net].title


def present(found: list[str]) -> list[str]:
    """The data sets this computer can train on: those found, and the canvases wherever MNIST is."""
    return [*found, SEGMENTS] if "mnist" in found and SEGMENTS not in found else found


def fresh(config: train.TrainConfig, input_shape: tuple[int, ...], classes: list[str]
          ) -> tuple[Any, dict[str, Any], str]:
    """(a fresh network for `config`, the checkpoint meta that rebuilds it, its title); the caller seeds it."""
    if config.dataset == SEGMENTS:
        meta = segment.meta(config)
        return models.build(meta["arch"], **meta["arch_args"]), meta, meta["title"]
    return fresh_classifier(config, input_shape, classes)


def preset(ds: str) -> str:
    """The layer description a custom network starts from: the zoo's small CNN for this data set."""
    return netspec.PRESETS["mnist_cnn" if ds == "mnist" else "cifar_cnn"].text


def init(host: Hosting, present: list[str]) -> None:
    """Seed the page's settings from the link (or the defaults of the data set it names) and set its rules."""
    first = next((d for d in DATASETS if d in present), DATASETS[0])
    urlstate.init({"data": first}, allowed={"data": lambda d: d in DATASETS or d in present})
    ds = st.session_state["data"]
    net = networks(ds)[0]
    table = fields(host)
    unet = {key: getattr(_BLANK, f.attr) for key, f in variants().items()}  # in the link whichever data it opens
    urlstate.init({"data": first, "net": net, "layers": preset(ds), "pretrained": False, **unet,
                   **defaults(ds, net, host)},
                  allowed={**{key: f.rule for key, f in {**table, **variants()}.items()},
                           "net": lambda n: n in networks(st.session_state["data"])})


def draw(host: Hosting, disabled: bool) -> None:
    """The recipe's widgets, the common ones first and the rest under "More settings"; greyed out while training."""
    table, ds = fields(host), st.session_state["data"]

    def put(key: str, where: Any = st) -> None:
        f = table[key]
        if applies(key, ds):
            urlstate.control(f.widget, f.label, key, where, disabled, **f.kwargs())
        else:
            where.caption(NOT_FOR_SEGMENTS[key])

    c1, c2 = st.columns(2)
    put("opt", c1)
    put("epochs", c2)
    for key in ("lr", "batch", "aug"):
        put(key)
    with st.expander("More settings"):
        for key in ("wd", "sched", "patience", "norm", "valfrac", "smooth", "init"):
            put(key)
        c1, c2 = st.columns(2)
        put("seed", c1)
        put("limit", c2)
    if host.max_epochs < 200 or host.max_train:
        st.caption(f"This copy allows at most {host.max_epochs} epochs" +
                   (f" and {host.max_train:,} training images" if host.max_train else "") + " per run.")


def draw_variants(disabled: bool) -> None:
    """The U-Net's three settings, one under the other (side by side their labels are cut short)."""
    for f in variants().values():
        urlstate.control(f.widget, f.label, f.key, st, disabled, **f.kwargs())


# ---- callbacks: a new data set or network brings its own recipe ---------------------------------------------
def on_data_change(host: Hosting) -> None:
    s = st.session_state
    s.pop(WHAT_IF, None)
    s["net"] = networks(s["data"])[0]
    s["layers"] = preset(s["data"])
    s.update(defaults(s["data"], s["net"], host))


def on_net_change(host: Hosting) -> None:
    st.session_state.pop(WHAT_IF, None)
    st.session_state.update(defaults(st.session_state["data"], st.session_state["net"], host))


LIVE_DEMO_NOTE = {  # what the one-click live demo reaches, measured by bench/bench_train.py --live-demo
    "mnist": "One epoch of MNIST: past 98% on the test digits after about 18,000 images, a few seconds on two "
             "CPU cores, and about 99.3% at the end.",
    "cifar10": "Two epochs of CIFAR-10: past 73% on the test photos after about 70,000 images and about 77% at "
               "the end, a minute or two on two CPU cores. Batch norm, a one-cycle learning rate to a high peak "
               "and label smoothing do most of it.",
}


def what_if(name: str, host: Hosting) -> None:
    """Set the recipe of a what-if run on the chosen data set: its defaults, then the settings that make it fail."""
    s = st.session_state
    if s["data"] == SEGMENTS:
        s["data"] = "cifar10"
    s["net"] = networks(s["data"])[0]
    s.update(defaults(s["data"], s["net"], host))
    changes = dict(WHAT_IFS[name][2])
    if host.max_train:
        changes["limit"] = min(changes["limit"], host.max_train)
    changes["epochs"] = min(changes["epochs"], host.max_epochs)
    s.update(changes)
    s[WHAT_IF] = name


def live_demo(host: Hosting) -> None:
    """Set the live-demo recipe on the chosen data set (MNIST for the digit canvases): its network that learns in
    seconds and the settings tuned for time."""
    s = st.session_state
    fast = {models.ZOO[n].dataset: n for n in train.LIVE_DEMO}
    if s["data"] not in fast:
        s["data"] = "mnist"
        on_data_change(host)
    s["net"] = fast[s["data"]]
    on_net_change(host)


def on_optimizer_change(host: Hosting) -> None:
    """Adam-style optimizers want a rate some 50x smaller than SGD with momentum."""
    s = st.session_state
    base = defaults(s["data"], s["net"], host)
    adam = s["opt"] in ("adam", "adamw")
    if adam != (base["opt"] in ("adam", "adamw")):
        base["lr"] = 0.001 if adam else 0.05
    s["lr"] = base["lr"]
