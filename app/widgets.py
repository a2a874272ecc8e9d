"""Widgets shared by the pages: the image picker, the model picker and the preprocessing view.

The chosen image is one per session, shared by every page (`st.session_state["cnnviz.image"]`):
    {"source": "test", "dataset": "cifar10", "index": 123}            a test-set image
    {"source": "sample", "name": "cat", "image": <PIL.Image>}         a sample photo or drawn digit
    {"source": "upload" | "camera" | "drawing", "image": <PIL.Image>, "name": ..., "id": ...}
Test-set images and samples travel in the URL (`img=test:cifar10:123`, `img=sample:cat`); uploads,
camera photos and drawings never leave the session (not in the URL, not on disk).
To open an image on another page: set that key, then `nav.go(...)` (see app/views/evaluate.py).

PyTorch is imported inside the functions that need it, never at import time.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from app import state, urlstate
from cnnviz.datasets import images, samples

IMAGE = "cnnviz.image"               # the session's chosen image (the contract above)
_SEEN = "cnnviz.image.seen"          # the selection the picker's widgets were last set from
_ERROR = "cnnviz.image.error"        # (file id, message) of the last upload that could not be read
_FOR = "cnnviz.image.for"            # the data set the picker was last drawn for
SOURCES = {"sample": "🖼️ Sample", "test": "🗂️ Test set", "upload": "📤 Upload", "camera": "📷 Camera",
           "drawing": "✏️ Draw"}
CANVAS_SIDE = 280  # px: the drawing pad (10x MNIST's 28)
DISPLAY_SIDE = 224  # px: pictures are shown about this size (28x28 and 32x32 ones enlarged by whole pixels)
STEP_SIDE = 86  # px: each of the 8 pictures of the MNIST steps, so that they fit in one row beside the sidebar


# ---- the image picker ---------------------------------------------------------------------------------------

def image_picker(dataset: str, key: str = "img", preview: bool = True) -> Image.Image | None:
    """Let the student choose the image every page works on; returns it (RGB or L), or None if there is none.

    Sources: a sample photo (or a digit written on paper, for MNIST), a test-set image by class and number,
    an upload, the camera, and a drawing pad. Whatever is chosen stays chosen on every page of the session;
    test images and samples are also kept in the URL (`img=`, written by the page's `urlstate.publish()`), so a
    copied link shows the same image.
    Upload errors are shown with `st.error` and the previous image is kept.

    Args:
        dataset: the data set of the model on this page ("mnist", "cifar10", ...): the test-set source
            lists its classes, and the default sample suits it.
        key: prefix of this picker's widget keys, and the URL parameter that hides or locks it in
            teacher mode (`hide=img`, `lock=img`).
        preview: show a small preview of the chosen image with a caption under the controls.
    """
    selection = _current_selection(dataset)
    if st.session_state.get(_FOR, dataset) != dataset and not _suits(selection, dataset):
        selection = _swap_for(selection, dataset)
    st.session_state[_FOR] = dataset
    if not urlstate.hidden(key):
        _sync_widgets(selection, dataset, key)
        disabled = urlstate.locked(key)
        source = st.radio("Image", list(SOURCES), key=f"{key}.source", format_func=SOURCES.get, horizontal=True,
                          disabled=disabled, on_change=_on_source, args=(dataset, key))
        {"sample": _sample_controls, "test": _test_controls, "upload": _upload_controls,
         "camera": _camera_controls, "drawing": _drawing_controls}[source](dataset, key, disabled)
    selection = st.session_state.get(IMAGE)
    _publish(selection, dataset)
    image = _resolve(selection)
    if image is not None and preview and not urlstate.hidden(key):
        st.image(_display(image), caption=describe(selection, image), width=DISPLAY_SIDE,
                 alt=describe(selection, image))
    return image


def chosen_label(classes: list[str]) -> str | None:
    """The true class of the chosen image among `classes`, when known: a test image's label, a sample's class."""
    selection = st.session_state.get(IMAGE) or {}
    known = []
    if selection.get("source") == "test":
        known = [selection.get("label")]
    elif selection.get("source") == "sample" and selection.get("name") in samples.names():
        info = samples.info(selection["name"])
        known = [info.cifar10, info.imagenet, info.name.rsplit("_", 1)[-1] if info.kind == "digit" else None]
    return next((k for k in known if k and k in classes), None)


def describe(selection: dict[str, Any] | None, image: Image.Image | None = None) -> str:
    """One line saying which image is chosen, e.g. "Test image 123 of CIFAR-10 (a cat)"."""
    if not selection:
        return "No image chosen"
    source = selection.get("source")
    size = f" · {images.describe(image)}" if image is not None else ""
    if source == "test":
        label = selection.get("label")
        return f"Test image {selection['index']} of {_dataset_title(selection['dataset'])}" \
               f"{f' (a {label})' if label else ''}{size}"
    if source == "sample":
        return f"Sample: {samples.info(selection['name']).title}{size}" if selection["name"] in samples.names() \
            else f"Sample {selection['name']}"
    if source == "upload":
        return f"Your upload: {selection.get('name', 'image')}{size}"
    return {"camera": "Your camera photo", "drawing": "Your drawing"}.get(source, str(source)) + size


def _current_selection(dataset: str) -> dict[str, Any]:
    """The session's selection; on the first visit restored from the URL, else a default that suits `dataset`."""
    selection = st.session_state.get(IMAGE)
    # Back and Forward bring the link's image, or the default; a private one (never in links) stays unless named
    restore = urlstate.history_step() and ("img" in st.query_params or _token(selection) is not None)
    if selection and not restore:
        return selection
    selection = _from_url(st.query_params.get("img", "")) or _default_sample(dataset)
    st.session_state[IMAGE] = selection
    return selection


def _suits(selection: dict[str, Any], dataset: str) -> bool:
    """Whether a sample or test image is of the kind `dataset`'s models know (digits for MNIST, photos otherwise);
    the student's own pictures always suit."""
    if selection.get("source") == "test":
        return selection.get("dataset") == dataset
    if selection.get("source") == "sample" and selection.get("name") in samples.names():
        return (samples.info(selection["name"]).kind == "digit") == (dataset == "mnist")
    return True


def _swap_for(selection: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The model changed to one of another data set: start from its own sample, and say what happened."""
    fresh = _default_sample(dataset)
    st.session_state[IMAGE] = fresh
    was = samples.info(selection["name"]).title if selection.get("source") == "sample" else describe(selection)
    st.info(f"**{was}** is for {_dataset_title(_dataset_of(selection))} models, and this model knows "
            f"{_dataset_title(dataset)}: it starts from **{samples.info(fresh['name']).title}** instead. Pick the "
            "other picture again to see what a network makes of something it never learned.", icon="🔄")
    return fresh


def _dataset_of(selection: dict[str, Any]) -> str:
    """The data set a sample or test image belongs to."""
    if selection.get("source") == "test":
        return selection["dataset"]
    return "mnist" if samples.info(selection["name"]).kind == "digit" else "cifar10"


def _default_sample(dataset: str) -> dict[str, Any]:
    """The image a page starts from when neither the session nor the link has chosen one."""
    name = "digit_3" if dataset == "mnist" else "cat"
    return {"source": "sample", "name": name if name in samples.names() else samples.names()[0]}


def _from_url(token: str) -> dict[str, Any] | None:
    """`test:<dataset>:<index>` or `sample:<name>` from a link; None (with a notice) when it does not fit."""
    if not token:
        return None
    kind, _, rest = token.partition(":")
    if kind == "sample" and rest in samples.names():
        return {"source": "sample", "name": rest}
    if kind == "test":
        from cnnviz.datasets import data

        name, _, index = rest.rpartition(":")
        if name in data.known() and index.isdigit():  # a link names a data set this server lists, never a path
            return {"source": "test", "dataset": name, "index": int(index)}
    st.toast(f"The link's image `{token}` is not one this app knows; showing a sample instead.", icon="⚠️")
    return None


def _token(selection: dict[str, Any] | None) -> str | None:
    """The selection's URL form, or None for images that must not travel in a URL."""
    if not selection:
        return None
    if selection.get("source") == "test":
        return f"test:{selection['dataset']}:{int(selection['index'])}"
    if selection.get("source") == "sample":
        return f"sample:{selection['name']}"
    return None


def _signature(selection: dict[str, Any] | None) -> tuple:
    """What identifies a selection (the image itself is not compared)."""
    if not selection:
        return ()
    return (selection.get("source"), selection.get("dataset"), selection.get("index"), selection.get("name"),
            selection.get("id"))


def _publish(selection: dict[str, Any] | None, dataset: str) -> None:
    """Keep `img=` in the address bar for test images and samples other than the default; never private images."""
    urlstate.write({"img": _token(selection)}, {"img": _token(_default_sample(dataset))})


def _sync_widgets(selection: dict[str, Any], dataset: str, key: str) -> None:
    """Point the picker's widgets at the selection when it changed elsewhere (another page, a link)."""
    if st.session_state.get(_SEEN) == _signature(selection) and f"{key}.source" in st.session_state:
        return
    st.session_state[_SEEN] = _signature(selection)
    source = selection.get("source", "sample")
    st.session_state[f"{key}.source"] = source if source in SOURCES else "sample"
    if source == "sample":
        st.session_state[f"{key}.sample"] = selection["name"]
    if source == "test" and selection.get("dataset") == dataset:
        test = _test_set(dataset)
        if test is not None and 0 <= selection["index"] < len(test):
            label = int(test.labels[selection["index"]])
            members = (test.labels == label).nonzero().flatten().tolist()
            st.session_state[f"{key}.class"] = label
            st.session_state[f"{key}.number"] = members.index(selection["index"])


def _select(selection: dict[str, Any]) -> None:
    """Make `selection` the session's image (called from widget callbacks and controls)."""
    st.session_state[IMAGE] = selection
    st.session_state[_SEEN] = _signature(selection)


def _on_source(dataset: str, key: str) -> None:
    """Switching to the test set or the samples shows their current image at once; the other sources wait
    for a file, a photo or a drawing, and keep the previous image meanwhile."""
    source = st.session_state[f"{key}.source"]
    if source == "test":
        _select_test(dataset, key)
    elif source == "sample":
        _select_sample(dataset, key)


# -- samples

def _sample_names(dataset: str) -> list[str]:
    """Digits first for MNIST models, photos first otherwise."""
    digits_first = dataset == "mnist"
    return samples.names("digit" if digits_first else "photo") + samples.names("photo" if digits_first else "digit")


def _select_sample(dataset: str, key: str) -> None:
    names = _sample_names(dataset)
    name = st.session_state.get(f"{key}.sample")
    if name not in names:
        name = st.session_state[f"{key}.sample"] = names[0]
    _select({"source": "sample", "name": name})


def _sample_controls(dataset: str, key: str, disabled: bool) -> None:
    names = _sample_names(dataset)
    if st.session_state.get(f"{key}.sample") not in names:
        st.session_state[f"{key}.sample"] = names[0]
    name = st.selectbox("Sample", names, key=f"{key}.sample", format_func=lambda n: samples.info(n).title,
                        disabled=disabled, on_change=_select_sample, args=(dataset, key))
    info = samples.info(name)
    hints = [f"CIFAR-10 class: **{info.cifar10}**" if info.cifar10 else "",
             f"closest ImageNet class: *{info.imagenet}*" if info.imagenet else "",
             "a digit written on paper, as a phone photo sees it" if info.kind == "digit" else ""]
    st.caption(" · ".join(h for h in hints if h) + f"  \nSource: {info.credit}")


# -- test set

def _test_set(dataset: str) -> Any:
    """The test split, or None after saying why it is not here."""
    from cnnviz.datasets.data import DatasetUnavailable

    try:
        return state.images(dataset, "test")
    except DatasetUnavailable as exc:
        where = "in this tab" if state.taught(dataset) else "on this computer"
        st.info(f"The **{_dataset_title(dataset)}** test images are not {where}, so this source is "
                f"empty. Use a sample, an upload, the camera or the drawing pad instead.\n\n{exc}", icon="🗂️")
        return None


def _select_test(dataset: str, key: str) -> None:
    from cnnviz.datasets.data import DatasetUnavailable

    try:
        test = state.images(dataset, "test")
    except DatasetUnavailable:
        return  # the controls say why
    label = int(st.session_state.get(f"{key}.class", 0)) % len(test.classes)
    members = (test.labels == label).nonzero().flatten().tolist()
    number = min(max(int(st.session_state.get(f"{key}.number", 0)), 0), len(members) - 1)
    _select({"source": "test", "dataset": dataset, "index": members[number]})


def _random_test(dataset: str, key: str) -> None:
    test = state.images(dataset, "test")
    label = int(st.session_state.get(f"{key}.class", 0))
    count = int((test.labels == label).sum())
    st.session_state[f"{key}.number"] = random.randrange(count)
    _select_test(dataset, key)


def _test_controls(dataset: str, key: str, disabled: bool) -> None:
    test = _test_set(dataset)
    if test is None:
        return
    selection = st.session_state.get(IMAGE) or {}
    if selection.get("source") == "test" and selection.get("dataset") != dataset:
        st.info(f"The chosen image comes from **{_dataset_title(selection['dataset'])}**, but this model was "
                f"trained on **{_dataset_title(dataset)}**. It still works (colour becomes grey and the size is "
                "adapted); pick a class below to use this model's own test images.", icon="ℹ️")
    counts = test.class_counts()
    if st.session_state.get(f"{key}.class") not in range(len(test.classes)):
        st.session_state[f"{key}.class"] = 0
    left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
    with left:
        label = st.selectbox("Class", range(len(test.classes)), key=f"{key}.class", disabled=disabled,
                             format_func=lambda c: f"{test.classes[c]} ({counts[c]:,} images)",
                             on_change=_select_test, args=(dataset, key))
    count = counts[label]
    number = st.session_state.get(f"{key}.number")
    if not isinstance(number, int) or not 0 <= number < count:  # as _select_test clamps it
        st.session_state[f"{key}.number"] = min(max(int(number or 0), 0), count - 1)
    with middle:
        st.number_input(f"Image number (0–{count - 1})", min_value=0, max_value=count - 1, step=1,
                        key=f"{key}.number", disabled=disabled, on_change=_select_test, args=(dataset, key))
    with right:
        st.button("🎲", key=f"{key}.random", help="A random image of this class", disabled=disabled,
                  on_click=_random_test, args=(dataset, key))


# -- upload, camera, drawing

def _take_file(source: str, file: Any) -> None:
    """Decode an uploaded file or camera photo into the selection, or remember why it cannot be used."""
    if file is None:
        return
    if (st.session_state.get(IMAGE) or {}).get("id") == file.file_id:
        return  # already chosen
    error = st.session_state.get(_ERROR)
    if error and error[0] == file.file_id:
        return  # already refused
    try:
        image = images.decode(file.getvalue())
    except images.ImageError as exc:
        st.session_state[_ERROR] = (file.file_id, f"**{file.name}** cannot be used. {exc}")
        return
    _select({"source": source, "image": image, "name": file.name, "id": file.file_id})


def _show_file_error(file: Any) -> None:
    error = st.session_state.get(_ERROR)
    if file is not None and error and error[0] == file.file_id:
        st.error(error[1], icon="🚫")
        kept = st.session_state.get(IMAGE)
        if kept:
            st.caption(f"Still using the previous image: {describe(kept)}.")


def _upload_controls(dataset: str, key: str, disabled: bool) -> None:
    file = st.file_uploader(f"Upload an image ({images.FORMAT_NAMES}; up to {images.MAX_BYTES // 2**20} MB)",
                            type=images.UPLOAD_TYPES + ["heic", "heif"], key=f"{key}.upload", disabled=disabled,
                            help="The image stays in this browser session: it is not saved and not put in links.")
    _take_file("upload", file)
    _show_file_error(file)


def _camera_controls(dataset: str, key: str, disabled: bool) -> None:
    tip = " Write a digit in thick dark pen on white paper and fill the frame with it." if dataset == "mnist" else ""
    file = st.camera_input("Take a photo", key=f"{key}.camera", disabled=disabled,
                           help="The photo stays in this browser session: it is not saved and not put in links.")
    st.caption(f"Hold the object in the middle of the frame.{tip}")
    _take_file("camera", file)
    _show_file_error(file)


def _drawing_controls(dataset: str, key: str, disabled: bool) -> None:
    from streamlit_drawable_canvas import st_canvas

    ink = st.radio("Ink", ["black on white", "white on black"], key=f"{key}.ink", horizontal=True,
                   disabled=disabled)
    st.caption("Either works: MNIST digits are white on black, and for MNIST models the preprocessing below "
               "turns dark ink on light paper round itself (step 2). Draw one large digit in the middle.")
    st.write("")  # room for the pad's floating toolbar (upload, undo, redo, clear), which sits above it
    dark = ink == "white on black"
    background = "#000000" if dark else "#ffffff"
    result = st_canvas(stroke_width=18, stroke_color="#ffffff" if dark else "#000000", background_color=background,
                       height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode="freedraw", return_image_data=True,
                       key=f"{key}.canvas.{'dark' if dark else 'light'}", disabled=disabled)
    data = result.image_data if result is not None else None
    drawn = bool(result is not None and result.json_data and result.json_data.get("objects"))
    if data is None or not drawn:
        return
    image = canvas_image(np.asarray(data), dark)
    digest = hashlib.sha1(image.tobytes()).hexdigest()[:16]
    if (st.session_state.get(IMAGE) or {}).get("id") != digest:
        _select({"source": "drawing", "image": image, "id": digest})


def canvas_image(rgba: np.ndarray, dark: bool) -> Image.Image:
    """The canvas's RGBA pixels laid on its background colour, as an L image."""
    canvas = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    paper = Image.new("RGBA", canvas.size, (0, 0, 0, 255) if dark else (255, 255, 255, 255))
    return Image.alpha_composite(paper, canvas).convert("L")


# -- turning the selection into pixels

def _resolve(selection: dict[str, Any] | None) -> Image.Image | None:
    """The PIL image of a selection (test images are read from the cached test split)."""
    if not selection:
        return None
    if selection.get("image") is not None:
        return selection["image"]
    if selection.get("source") == "sample":
        try:
            return state.sample_image(selection["name"])
        except KeyError:
            st.error(f"There is no sample called “{selection['name']}” here.", icon="🚫")
            return None
    if selection.get("source") == "test":
        from cnnviz.datasets.data import DatasetUnavailable

        try:
            test = state.images(selection["dataset"], "test")
        except DatasetUnavailable:
            st.info(f"Test image {selection['index']} of {_dataset_title(selection['dataset'])} was chosen, but "
                    "that data set is not on this computer. Pick a sample, upload or draw an image.", icon="🗂️")
            return None
        index = selection["index"]
        if not 0 <= index < len(test):
            st.warning(f"{_dataset_title(selection['dataset'])} has test images 0–{len(test) - 1}, "
                       f"not {index}.", icon="⚠️")
            return None
        selection["label"] = test.classes[int(test.labels[index])]
        return test.pil(index)
    return None


def _square(image: Image.Image) -> Image.Image:
    """`image` centred on a white square (the page's colour), so pictures of any shape line up in a row."""
    if image.width == image.height:
        return image
    side = max(image.size)
    square = Image.new(image.mode, (side, side), 255 if image.mode == "L" else (255, 255, 255))
    square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return square


def _dataset_title(name: str) -> str:
    if state.taught(name):
        return "your taught pictures"
    return {"mnist": "MNIST", "cifar10": "CIFAR-10"}.get(name, name)


def _display(image: Image.Image, side: int = DISPLAY_SIDE) -> Image.Image:
    """An image sized for the screen: small ones enlarged by whole pixels (28x28 stays crisp on a projector),
    large ones reduced (a 1024-pixel photo would cost more to send than to show)."""
    if max(image.size) > 2 * side:
        small = image.copy()
        small.thumbnail((2 * side, 2 * side), Image.Resampling.LANCZOS)
        return small
    factor = -(-side // max(1, max(image.size)))
    if factor <= 1:
        return image
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


# ---- the model picker ---------------------------------------------------------------------------------------

def model_picker(key: str = "model", label: str = "Model") -> str:
    """A select box of the zoo's classifiers and the runs trained in this app; returns the choice.

    Returns a zoo name (a key of `models.ZOO`, e.g. "cifar_cnn") or, for a run trained in the app, the path of
    its checkpoint file as a string (load it with `models.load_file`). The choice is kept in the URL
    (`?model=cifar_cnn` or `?model=run:<run folder>`, written by the page's `urlstate.publish()`);
    `hide=<key>` / `lock=<key>` hide or lock the box.
    Zoo models whose checkpoint is not written yet are listed, marked "not trained yet": the page must
    handle `models.CheckpointError` when it loads them.
    """
    import models

    options = _model_options()
    current = None if urlstate.history_step() else st.session_state.get(key)
    if current not in options:
        current = _as_option(current, options) or _as_option(st.query_params.get(key), options) or models.names()[0]
        st.session_state[key] = current
    if not urlstate.hidden(key):
        st.selectbox(label, list(options), key=key, format_func=options.get, disabled=urlstate.locked(key))
    choice = st.session_state[key]
    urlstate.write({key: choice}, {key: models.names()[0]})
    if choice.startswith("run:"):
        return str(_runs()[choice[4:]].checkpoint)
    return choice


def _runs() -> dict[str, Any]:
    """This session's training runs (and ownerless ones) that have a checkpoint, by folder name, newest first."""
    return {run.name: run for run in state.visible_runs() if run.checkpoint.is_file()}


def _model_options() -> dict[str, str]:
    """URL token -> label: the zoo, then the runs trained in the app."""
    import models

    options = {name: models.ZOO[name].title + ("" if models.ZOO[name].checkpoint.is_file() else " — not trained yet")
               for name in models.names("classification")}
    for name, run in _runs().items():
        info = run.info()
        config = info.get("config", {})
        what = ", ".join(str(v) for v in (config.get("model"), config.get("dataset")) if v)
        options[f"run:{name}"] = f"Your run: {name}" + (f" ({what})" if what else "")
    return options


def _as_option(value: Any, options: dict[str, str]) -> str | None:
    """A URL value or checkpoint path turned into an option token, if it names one."""
    if not value:
        return None
    value = str(value)
    if value in options:
        return value
    path = Path(value)
    if path.name == "checkpoint.pt" and f"run:{path.parent.name}" in options:
        return f"run:{path.parent.name}"
    return None


# ---- what the model sees ------------------------------------------------------------------------------------

def model_input(image: Image.Image, model: str) -> tuple[Any, list[Any]]:
    """(the exact (C, H, W) tensor `model` is fed, the MNIST steps that made it or [] for other models).

    For MNIST models the image first goes through `cnnviz.datasets.digits.prepare` (invert, crop, 20x20, centre);
    then every model's own transform: colour mode, resize to its input size, scale to 0-1, normalise.
    """
    spec = state.model_spec(model)
    to_tensor = spec.transform()
    steps: list[Any] = []
    if spec.dataset == "mnist":
        prepared = state.digit_steps(image_key(image), image)
        steps, image = prepared.steps, prepared.image
    return to_tensor(image), steps


def blank(image: Image.Image, model: str) -> bool:
    """Whether `model` was given nothing to see: no ink found for a digit model, one flat colour for the others."""
    spec = state.model_spec(model)
    if spec.dataset == "mnist":
        return not state.digit_steps(image_key(image), image).found_ink
    return float(np.asarray(image.convert("L")).std()) < 1.0


def image_key(image: Image.Image) -> str:
    """A short content hash of an image: a cache key for anything computed from it."""
    digest = hashlib.sha1(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:20]


def show_preprocessing(image: Image.Image, model: str) -> Any:
    """Show the original beside the exact tensor `model` sees (for MNIST models, every step between);
    returns that tensor, (C, H, W) float, so the page feeds the model exactly what it showed.

    Raises:
        models.CheckpointError: `model` is a run whose checkpoint is missing or damaged.
    """
    import models

    spec = state.model_spec(model)
    x, steps = model_input(image, model)
    c, h, w = spec.input_shape
    pictures = [(_display(_square(image)), "Your image", images.describe(image))]
    for step in steps:
        pictures.append((_display(_square(step.image)), step.title, step.note))
    stats = ", ".join(f"{m:.3f}" for m in spec.mean), ", ".join(f"{s:.3f}" for s in spec.std)
    cropped = not steps and image.width * h != image.height * w  # another shape: the centre is cut out first
    if cropped:
        part = models.centre_crop(image, w, h)
        pictures.append((_display(part), "Centre cut out", f"The centre {part.width}×{part.height} of your "
                         f"{image.width}×{image.height} picture is kept, so it is not squashed when resized."))
    size = f"already {w}×{h}" if image.size == (w, h) else f"{'the centre, ' if cropped else ''}resized to {w}×{h}"
    what = ("the 28×28 result, scaled to 0–1" if steps else
            f"{size}{', made grey' if c == 1 and image.mode != 'L' else ''}, scaled to 0–1") + \
        f", minus the mean ({stats[0]}), divided by the std ({stats[1]})"
    pictures.append((images.tensor_picture(x.numpy(), DISPLAY_SIDE), "What the model sees",
                     f"Tensor {c}×{h}×{w}, values {float(x.min()):.2f} to {float(x.max()):.2f}: {what}."))
    # One image list and one caption, not a picture, a title and a note per step: every element costs each
    # browser CPU when a whole class uploads at once (see map_controls in app/views/inside.py for the figure).
    st.image([p for p, _, _ in pictures], caption=[t for _, t, _ in pictures],
             width=DISPLAY_SIDE if len(pictures) < 4 else STEP_SIDE, alt=[t for _, t, _ in pictures])
    notes: dict[str, list[str]] = {}  # note -> the steps it explains (a blank drawing shares one note)
    for _, title, note in pictures:
        notes.setdefault(note, []).append(f"**{title}**")
    st.caption("\n".join(f"- {', '.join(titles)}: {note}" for note, titles in notes.items()))
    return x
