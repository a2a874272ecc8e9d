"""The page edge: every st.cache_* and shared session_state helper lives here, nowhere else."""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

WARMUP_DELAY_S = 1.0  # let the first page reach the browser before PyTorch's import takes the interpreter


@st.cache_resource(show_spinner=False)
def _torch_warmup() -> threading.Thread:
    """Import PyTorch once per process in the background, so NumPy-only lessons show at once."""
    # started after the first page is sent
    thread = threading.Timer(WARMUP_DELAY_S, lambda: __import__("cnnviz.training.device"))
    thread.daemon = True
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def device_info() -> dict[str, str]:
    """Compute device and library versions (needs PyTorch imported)."""
    from cnnviz.training.device import describe

    return describe()


def sidebar_footer() -> None:
    """Device and versions at the bottom of the sidebar; never blocks on importing PyTorch."""
    warm = _torch_warmup()
    with st.sidebar:  # the navigation's own rule already sets it apart
        if "torch" in sys.modules and not warm.is_alive():
            info = device_info()
            st.caption(f"**Compute:** {info['device']}  \n"
                       f"Python {info['python']} · PyTorch {info['torch']} · torchvision {info['torchvision']}")
        else:
            st.caption("**Compute:** PyTorch is loading in the background…")
        if os.environ.get("CNNVIZ_REPLICA"):  # one of several servers behind a proxy: say which, for a teacher
            st.caption(f"**Server:** {os.environ['CNNVIZ_REPLICA']}")


def zoo_model(name: str) -> Any:
    """A shipped zoo model shared read-only by every session; a retrained checkpoint replaces it."""
    import models

    path = models.ZOO[name].checkpoint
    return _zoo_model(name, path.stat().st_mtime_ns if path.is_file() else 0)


@st.cache_resource(show_spinner="Loading the trained model…", max_entries=8)
def _zoo_model(name: str, mtime_ns: int) -> Any:
    """Load once per checkpoint version (eval mode, no gradients)."""
    import models

    model = models.load(name)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def model_spec(choice: str) -> Any:
    """The models.ModelSpec of a zoo name or checkpoint path (a checkpoint's meta read once per file version).

    Raises:
        models.CheckpointError: a run's checkpoint is missing or damaged.
    """
    from pathlib import Path

    import models

    if choice in models.ZOO:
        return models.spec(choice)
    path = Path(choice)
    if not path.is_file():
        raise models.CheckpointError(f"No checkpoint at {path}.")
    return models.spec(choice, checkpoint_meta(str(path), path.stat().st_mtime_ns))


def trained_model(spec: Any) -> tuple[Any, str]:
    """(the trained model of `spec`, shared read-only, and a cache key that changes when it is retrained).

    Raises:
        models.CheckpointError: no readable checkpoint (a zoo model not trained yet, a damaged run).
    """
    path = spec.checkpoint
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    model = zoo_model(spec.choice) if spec.in_zoo else file_model(str(path), mtime)[0]
    return model, f"{spec.choice}:{mtime}"


RUNS_COOKIE = "cnnviz_runs"  # this browser's run key: its runs stay listed after a reload, and only in it


def session_token() -> str:
    """This browser's run key: runs trained here record it as their owner. Read from the browser's cookie, so a
    reload (a new session) lists the same runs; a new one is random (128 bits: nobody guesses another's)."""
    import re
    import secrets

    if "cnnviz.session" not in st.session_state:
        kept = _cookie(RUNS_COOKIE)
        st.session_state["cnnviz.session"] = kept if re.fullmatch(r"[0-9a-f]{32}", kept) else secrets.token_hex(16)
    return st.session_state["cnnviz.session"]


def _cookie(name: str) -> str:
    """A cookie the browser sent when this session connected, or '' (AppTest and scripts have none: there the
    cookies may be a stand-in object)."""
    value = st.context.cookies.get(name)
    return value if isinstance(value, str) else ""


def remember_browser() -> None:
    """Keep this session's run key in the browser (a year; this site only), so a reload finds its runs again."""
    token = session_token()
    if _cookie(RUNS_COOKIE) != token and not st.session_state.get("cnnviz.session.kept"):
        st.session_state["cnnviz.session.kept"] = True
        st.html(f"<script>document.cookie = '{RUNS_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';"
                "</script>", unsafe_allow_javascript=True)


def session_gone(grace_s: float) -> Callable[[], bool]:
    """For a background thread: whether this browser session has been closed for `grace_s` seconds.

    A run whose student closed the tab stops (its checkpoint kept) instead of holding a training slot to the
    end; the grace period rides out a dropped connection that comes back. Without a server (AppTest, scripts)
    the session never counts as gone.
    """
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return lambda: False
    from app.sessions import gone_for

    server, session_id = runtime.get_instance(), ctx.session_id
    return gone_for(lambda: server.is_active_session(session_id), grace_s)


def tidy_sessions() -> None:
    """Have the process's janitor watch this session, so its memory is freed once its tab has closed."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and runtime.exists():  # AppTest and scripts run without a server: nothing to tidy
        _janitor().watch(ctx.session_id)


@st.cache_resource(show_spinner=False)
def _janitor() -> Any:
    """The one janitor thread of this server process (app/sessions.py)."""
    from app.sessions import streamlit_janitor

    return streamlit_janitor()


def visible_runs() -> list[Any]:
    """Runs this session may list: its own and those made outside the app (no owner, e.g. the CLI).

    CNNVIZ_SHARE_RUNS=1 lists every run (one person's own machine, where a reload starts a new session).
    """
    import os

    from cnnviz.training.runs import list_runs

    share, me = os.environ.get("CNNVIZ_SHARE_RUNS", "0") == "1", session_token()
    return [run for run in list_runs() if share or run.info().get("owner") in (None, me)]


@st.cache_resource(show_spinner=False, max_entries=4)
def training_slots(n: int) -> threading.BoundedSemaphore:
    """At most `n` training runs at once in this server process (every session shares the CPU/GPU)."""
    return threading.BoundedSemaphore(max(1, n))


@st.cache_resource(show_spinner="Loading the data set (first time: decoding images)…", max_entries=8)
def dataset(name: str, split: str) -> Any:
    """A whole data split as uint8 tensors, shared read-only by every session."""
    from cnnviz.datasets import data

    return data.load(name, split)


@st.cache_resource(show_spinner="Pasting MNIST digits onto canvases (first time: a few seconds)…", max_entries=2)
def canvases(split: str) -> Any:
    """The digit canvases of `split` that the shipped U-Nets were trained or tested on, shared read-only."""
    from cnnviz.datasets import segments

    return segments.load(split)


@st.cache_data(show_spinner="Counting the canvases' pixels…", max_entries=1)
def canvas_tables() -> tuple[Any, Any, Any]:
    """(pixel shares, digits per canvas, training pixel mean and std) of the canvases, for the Dataset explorer:
    counting 60 million pixels takes a fifth of a second, too slow for every click."""
    from cnnviz.datasets import explore

    sets = {split: canvases(split) for split in ("train", "test")}
    mean, std = explore.pixel_stats(sets["train"].images)
    return explore.pixel_shares(sets), explore.digits_per_canvas(sets), explore.stats_table([mean], [std])


@st.cache_resource(show_spinner="Splitting the data set and computing its mean and std…", max_entries=4)
def explore_splits(name: str) -> Any:
    """Train / validation / test of data set `name` as training splits them (test None when absent)."""
    from cnnviz.datasets import data, explore

    try:
        test = dataset(name, "test")
    except data.DatasetUnavailable:
        test = None
    return explore.splits(dataset(name, "train"), test)


@st.cache_data(show_spinner=False, max_entries=64)
def checkpoint_meta(path: str, mtime_ns: int) -> dict[str, Any]:
    """A checkpoint's meta (arch, dataset, classes, mean, std, card), each caller its own copy; `mtime_ns` renews it."""
    from cnnviz.training import checkpoint

    return checkpoint.load(path)[1]


def predictions(checkpoint: str, dataset_name: str, limit: int = 0, progress: Any = None) -> Any:
    """Test-set predictions of a checkpoint file: from memory, else from the disk cache, else computed once.

    `progress` hears the fraction done while computing. Memory is keyed by path, date and size; the disk
    cache by the file's content (see cnnviz.results.evaluation), so a retrained checkpoint is evaluated again.
    """
    from pathlib import Path

    import models
    from cnnviz.results import evaluation

    path = Path(checkpoint).resolve()
    info = path.stat()
    key = (str(path), info.st_mtime_ns, info.st_size, dataset_name, limit)
    data = evaluation.head(images(dataset_name, "test"), limit)
    return remembered(("predictions", *key), lambda: evaluation.cached_predict(path, data, models.load_file,
                                                                              progress=progress))


# --- Teach it your classes: the pictures a taught model learned from live in the tab that taught it ----------------
TAUGHT = "cnnviz.taught"  # data set name ("mine:<run>") -> teach.Taught, in this session's state only
GONE = ("The pictures of this model stayed in the tab that taught it: teach it again on the Teach page (🧑‍🏫 Teach "
        "it your classes). Inside a model still opens it with any picture.")


def taught(name: str) -> bool:
    """Whether `name` is the data set of a model taught on the Teach page ("mine:<run>"), not a zoo data set."""
    from cnnviz.training.teach import MINE

    return name.startswith(MINE)


def keep_taught(model: Any) -> None:
    """Keep a teach.Taught (its pictures) for this tab's pages: never in a cache that other sessions read."""
    st.session_state.setdefault(TAUGHT, {})[model.pictures.name] = model


def images(name: str, split: str) -> Any:
    """A data split as uint8 tensors: a zoo data set (shared read-only by every session), or the pictures this tab
    taught a model with ("mine:<run>"; "test": the hold-out, "train", or "all").

    Raises:
        DatasetUnavailable: the data set is not here, or a taught model's pictures are not in this tab (`GONE`).
    """
    if not taught(name):
        return dataset(name, split)
    kept = st.session_state.get(TAUGHT, {}).get(name)
    if kept is None:
        from cnnviz.datasets.data import DatasetUnavailable

        raise DatasetUnavailable(GONE)
    return kept.split(split)


def scanned(name: str) -> str:
    """The split the channel explorer and the projector look through: the test split, or all a taught model's
    pictures (a hold-out of a handful is too few)."""
    return "all" if taught(name) else "test"


# --- Inside a model: models from run files, untrained copies, per-image results ----------------------------
@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def file_model(path: str, mtime_ns: int) -> tuple[Any, dict[str, Any]]:
    """(model, meta) of any checkpoint file (runs trained in the app), once per file version, shared read-only."""
    import models

    model, meta = models.load_file(path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, meta


@st.cache_resource(show_spinner=False, max_entries=8)
def untrained_model(arch: str, arch_args: str, input_shape: tuple[int, ...], seed: int = 0) -> Any:
    """A freshly initialised network of a checkpoint's architecture (`arch_args` as JSON), always the same seed."""
    import json

    import models
    from cnnviz.training.train import seeded

    with seeded(seed):  # a fixed seed without touching the sessions' global RNG
        meta = {"arch": arch, "arch_args": json.loads(arch_args), "input_shape": list(input_shape)}
        model = models._architecture(meta)  # the zoo's one way of building an architecture from a checkpoint
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@st.cache_resource(show_spinner="Loading ResNet18's ImageNet weights…", max_entries=1)
def imagenet_resnet18(path: str) -> Any:
    """torchvision's ResNet18 with the ImageNet weights in file `path` (torchvision's cache), shared read-only."""
    from torchvision.models import resnet18

    from models import resnet18 as zoo_resnet18

    model = resnet18(weights=None)
    model.load_state_dict(zoo_resnet18.imagenet_state_dict(path))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@st.cache_data(show_spinner=False, max_entries=64)
def layer_pictures(model_key: str, image_hash: str, norm: str, cmap: str, sort: str, _model: Any,
                   _x: Any) -> list[Any]:
    """The tiled JPEG of every conv/activation/pool layer for one input (the model and input are keyed, not hashed)."""
    from cnnviz.inside import render

    return render.layer_pictures(_model, _x, norm, cmap, sort)


@st.cache_data(show_spinner=False, max_entries=256)
def layer_output(model_key: str, image_hash: str, layer: str, _model: Any, _x: Any) -> Any:
    """One layer's output for one input, (C, H, W) or (features,): for the single-channel view."""
    from cnnviz.inside import features

    return features.extract(_model, _x, [layer])[layer][0]


@st.cache_data(show_spinner=False, max_entries=256)
def probabilities(model_key: str, image_hash: str, _model: Any, _x: Any) -> Any:
    """Softmax of the model's output for one input, as a NumPy vector."""
    from cnnviz.inside import features

    return features.probabilities(_model, _x)[0].numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def grad_cam(model_key: str, image_hash: str, layer: str, target: int, _model: Any, _x: Any) -> Any:
    """Grad-CAM of one input at one layer for one class (the shared model is left untouched)."""
    from cnnviz.inside import cam

    return cam.grad_cam(_model, _x, layer, target)


# --- Images in (app/widgets.py): sample pictures and MNIST-style preprocessing --------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def sample_image(name: str) -> Any:
    """A sample photo or drawn digit (cnnviz.datasets.samples), made once per process; each caller its own copy."""
    from cnnviz.datasets import samples

    return samples.load(name)


@st.cache_data(show_spinner=False, max_entries=64)
def digit_steps(image_key: str, _image: Any) -> Any:
    """MNIST-style preprocessing of one image (every step and the 28x28 result), keyed by the image's hash."""
    from cnnviz.datasets import digits

    return digits.prepare(_image)


# --- Conv arithmetic (app/lessons/arithmetic.py): layer tables --------------------------------------------------
@st.cache_data(show_spinner="Running the model once to measure every layer…", max_entries=16)
def zoo_layer_table(name: str) -> tuple[Any, int]:
    """Layer table of an untrained zoo model (sizes and counts do not depend on the weights), and sum(p.numel())."""
    import models
    from cnnviz.nets import tables

    model = models.build(name)
    return tables.layer_table(model, models.ZOO[name].input_shape), sum(p.numel() for p in model.parameters())


@st.cache_data(show_spinner="Building the network in PyTorch and running it once…", max_entries=64)
def described_layer_table(layers_text: str, input_shape: tuple[int, ...]) -> tuple[Any, int]:
    """Layer table of the torch model a description builds (raises ValueError like builder.build),
    and sum(p.numel()).
    """
    from cnnviz.nets import builder, netspec, tables

    model = builder.build(netspec.parse(layers_text), input_shape)
    return tables.layer_table(model, input_shape), sum(p.numel() for p in model.parameters())


# --- Evaluate and Compare runs: what a checkpoint stores besides its weights ------------------------------------
def model_meta(spec: Any) -> dict[str, Any]:
    """The meta in `spec`'s checkpoint (config, model card), read once per file version; each caller its own copy.

    Raises:
        models.CheckpointError: no readable checkpoint (a zoo model not trained yet, a damaged file).
    """
    import models

    path = spec.checkpoint
    if not path.is_file():
        raise models.CheckpointError(f"No checkpoint at {path}.")
    return checkpoint_meta(str(path), path.stat().st_mtime_ns)


def zoo_metas() -> dict[str, dict[str, Any]]:
    """Zoo name -> checkpoint meta of every shipped classifier whose checkpoint exists and reads, in zoo order."""
    import models

    metas = {}
    for name in models.names("classification"):
        try:
            metas[name] = model_meta(model_spec(name))
        except models.CheckpointError:
            continue
    return metas


# --- What it learned: top examples, syntheses and embeddings, each computed once per process ------------------
LEARNED_EXAMPLES = 2000  # test images scanned for each channel's favourites: a fixed subset, the first ones
EMBEDDED = 1000  # test images placed by the projector


@st.cache_resource(show_spinner=False)
def _result_store() -> tuple[dict[tuple, Any], threading.Lock]:
    """Slow results kept in this process (shared read-only), and their lock."""
    return {}, threading.Lock()


def remembered(key: tuple, compute: Callable[[], Any], limit: int = 48) -> Any:
    """`compute()` once per process for `key`, the oldest forgotten past `limit`: st.cache_data cannot show the
    progress bar or live frames a first computation draws."""
    store, lock = _result_store()
    if key in store:
        return store[key]
    result = compute()
    with lock:
        store[key] = result
        while len(store) > limit:
            store.pop(next(iter(store)))
    return result


def layer_examples(spec: Any, layer: str, progress: Any = None) -> tuple[Any, Any, int]:
    """(most, least) exciting test images of every channel of `layer` (featurevis.TopExamples, disk-cached) among
    every k-th test image, and k: image i of theirs is test image i * k."""
    import models
    from cnnviz.results import evaluation, learned

    path = spec.checkpoint.resolve()
    data, stride = evaluation.spread(images(spec.dataset, scanned(spec.dataset)), LEARNED_EXAMPLES)
    return *remembered(("examples", str(path), path.stat().st_mtime_ns, layer), lambda: learned.cached_layer_examples(
        path, data, layer, models.load_file, progress=progress)), stride


def embedding(spec: Any, trained: bool, progress: Any = None) -> Any:
    """The projector's learned.Embedding of its test images (`embedded`) by the trained model, or by its untrained
    twin."""
    import models
    from cnnviz.results import learned

    data, _ = embedded(spec.dataset)
    if not trained:
        model = untrained_model(spec.arch, spec.arch_args, spec.input_shape)
        return remembered(("embedding", "untrained", spec.arch, spec.arch_args, spec.dataset), lambda: learned.embed(
            model, data, list(spec.mean), list(spec.std), progress=progress))
    path = spec.checkpoint.resolve()
    return remembered(("embedding", str(path), path.stat().st_mtime_ns), lambda: learned.cached_embedding(
        path, data, models.load_file, progress=progress))


def embedded(name: str) -> tuple[Any, int]:
    """The test images the projector places, about EMBEDDED of them, and k: every k-th, so every class is there
    (point i is test image i * k)."""
    from cnnviz.results import evaluation

    return evaluation.spread(images(name, scanned(name)), EMBEDDED)


def thumbnails(name: str) -> list[str]:
    """The projector's hover pictures (PNG data URLs): a zoo data set's made once per process, a taught model's
    (a few dozen) on every run, so that they stay out of every cache other sessions read."""
    from cnnviz.results import export

    if taught(name):
        return [export.data_url(image) for image in embedded(name)[0].images]
    return _thumbnails(name)


@st.cache_data(show_spinner=False, max_entries=4)
def _thumbnails(name: str) -> list[str]:
    """A zoo data set's hover pictures, made once per data set, not on every rerun."""
    from cnnviz.results import export

    data, _ = embedded(name)
    return [export.data_url(image) for image in data.images]


def syntheses(model_key: str, layer: str, channels: tuple[int, ...], steps: int, seed: int, model: Any, spec: Any,
              on_step: Any = None) -> Any:
    """(K, C, H, W) inputs that excite each of `channels` most (featurevis.visualize_channels), once per settings."""
    from cnnviz.inside import featurevis

    return remembered(("synthesis", model_key, layer, channels, steps, seed), lambda: featurevis.visualize_channels(
        model, layer, channels, spec.input_shape, spec.mean, spec.std, steps, seed, on_step=on_step))


@st.cache_data(show_spinner="Pushing the picture…", max_entries=64)
def adversarial(model_key: str, image_hash: str, method: str, eps: float, target: int, targeted: bool, _model: Any,
                _x: Any, _mean: Any, _std: Any) -> Any:
    """The adversarial input (1, C, H, W) of `method` ("fgsm" or "pgd") for one image, once per setting."""
    from cnnviz.inside import attack

    push = attack.pgd if method == "pgd" else attack.fgsm
    return push(_model, _x, target, eps, _mean, _std, targeted=targeted)


@st.cache_data(show_spinner="Explaining the answer…", max_entries=32)
def explanations(model_key: str, image_hash: str, target: int, settings: Any, chosen: tuple[str, ...], _model: Any,
                 _x: Any, _mean: Any, _std: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `chosen` methods' (H, W) maps of one picture for class `target`, and each one's deletion curve with a
    random order's (attribution.deletion), once per setting."""
    from cnnviz.inside import attribution

    maps = attribution.explain(_model, _x, target, settings, _mean, _std, chosen)
    ranked = {**maps, "random order": attribution.random_ranking(_x[0, 0])}
    curves = {name: attribution.deletion(_model, _x, target, heat, mean=_mean, std=_std)
              for name, heat in ranked.items()}
    return {name: heat.numpy() for name, heat in maps.items()}, curves


def sanity_check(model_key: str, image_hash: str, target: int, settings: Any, chosen: tuple[str, ...], model: Any,
                 x: Any, mean: Any, std: Any, progress: Any = None) -> Any:
    """attribution.sanity_check of the `chosen` methods for one picture, once per setting (it is slow)."""
    from cnnviz.inside import attribution

    every = attribution.methods(settings, mean, std)
    return remembered(("sanity", model_key, image_hash, target, settings, chosen), lambda: attribution.sanity_check(
        model, x, target, {name: every[name] for name in chosen}, progress=progress))


ATTACKED = 200  # test images each model is attacked on for the accuracy-against-ε chart


def robustness(spec: Any, progress: Any = None) -> Any:
    """Accuracy of `spec`'s checkpoint at each robustness.EPSILONS (PGD), on every k-th test image; disk-cached."""
    import models
    from cnnviz.results import evaluation
    from cnnviz.results import robustness as fragile

    path = spec.checkpoint.resolve()
    data = evaluation.spread(dataset(spec.dataset, "test"), ATTACKED)[0]
    return remembered(("robustness", str(path), path.stat().st_mtime_ns), lambda: fragile.cached_accuracy_under_attack(
        path, data, models.load_file, progress=progress))


def change_robustness(spec: Any, kind: str, progress: Any = None) -> Any:
    """Accuracy of `spec`'s checkpoint at each robustness.CHANGES[kind], on the attacked test images; disk-cached."""
    import models
    from cnnviz.results import evaluation
    from cnnviz.results import robustness as fragile

    path = spec.checkpoint.resolve()
    data = evaluation.spread(dataset(spec.dataset, "test"), ATTACKED)[0]
    key = ("change", str(path), path.stat().st_mtime_ns, kind)
    return remembered(key, lambda: fragile.cached_accuracy_under_change(path, data, models.load_file, kind,
                                                                        progress=progress))
