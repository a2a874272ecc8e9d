"""The Teach page's pieces: class names, each class's pictures (uploads and camera shots), training, the hold-out
result, "Try it" and the links to the other pages.

The pictures live in this session only (`PICTURES`); the teaching itself is `cnnviz.training.teach`. Imported by the
page once its title is on screen (it imports PyTorch).
"""
from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from PIL import Image, ImageOps

import models
from app import charts, nav, state
from app.views import evaluate
from cnnviz.datasets import images
from cnnviz.inside import features
from cnnviz.results import evaluation
from cnnviz.training import teach

PICTURES = "teach.pictures"  # class index -> [(picture id, PIL image)]: this tab's pictures, never written anywhere
LATEST = "teach.latest"      # (run folder name, base, data set name) of the model taught last in this tab
KEPT_SIDE = 256              # px: pictures are kept at most this size (the bases see 28-32 px; thumbnails 64)
THUMB = 64                   # px: a thumbnail under its class
DEFAULT_CLASSES = 3
CONFUSION_HELP = ("A table of the true class (rows) against the model's answer (columns): the diagonal counts the "
                  "right answers, every other square one kind of mistake, so you see which classes it mixes up.")
BASES = ("cifar_cnn_plus", "cifar_cnn", "resnet18", "mnist_cnn")  # trunks to start from: photos first, digits last
BASE_NOTES = {"cifar_cnn_plus": "photos (the best CIFAR-10 network here)", "cifar_cnn": "photos (fastest)",
              "resnet18": "photos (largest, slowest)", "mnist_cnn": "digits and drawings, dark on light"}


# ---- the classes and their pictures ---------------------------------------------------------------------------
def class_names() -> list[str]:
    """How many classes (2-5) and their names, as typed (a name box left empty stays empty: `teach.check` says so)."""
    count = st.radio("How many classes?", range(teach.MIN_CLASSES, teach.MAX_CLASSES + 1), horizontal=True,
                     key="teach.count", index=DEFAULT_CLASSES - teach.MIN_CLASSES)
    return [st.session_state.setdefault(f"teach.name.{i}", f"Class {i + 1}") for i in range(count)]


def pictures_of(index: int) -> list[tuple[str, Image.Image]]:
    """The pictures given to class `index` so far, in the order they came."""
    return st.session_state.setdefault(PICTURES, {}).setdefault(index, [])


def add(index: int, file: Any) -> str | None:
    """Decode an uploaded file or camera shot into class `index` (once per file); the reason when it cannot."""
    kept = pictures_of(index)
    if any(pid == file.file_id for pid, _ in kept):
        return None
    try:
        picture = images.decode(file.getvalue())
    except images.ImageError as exc:
        return f"**{file.name}** cannot be used. {exc}"
    picture.thumbnail((KEPT_SIDE, KEPT_SIDE), Image.Resampling.LANCZOS)
    kept.append((file.file_id, picture.convert("RGB")))
    return None


def clear(index: int) -> None:
    """Forget class `index`'s pictures, and empty its uploader (a fresh key)."""
    st.session_state[PICTURES][index] = []
    st.session_state[f"teach.gen.{index}"] = st.session_state.get(f"teach.gen.{index}", 0) + 1


def class_column(index: int) -> None:
    """One class: its name, an uploader of several files, the camera on demand, its thumbnails and count."""
    st.text_input("Name", key=f"teach.name.{index}", max_chars=30)
    generation = st.session_state.get(f"teach.gen.{index}", 0)
    files = st.file_uploader(f"Pictures ({images.FORMAT_NAMES})", type=images.UPLOAD_TYPES,
                             accept_multiple_files=True, key=f"teach.upload.{index}.{generation}",
                             help="Several at once. 20 a class is plenty. They stay in this tab only.")
    errors = [add(index, f) for f in files or []]
    if st.toggle("📷 Camera", key=f"teach.cam.{index}", help="Take shots one by one: each new shot is added."):
        shot = st.camera_input("Take a shot", key=f"teach.shot.{index}.{generation}", label_visibility="collapsed")
        if shot is not None:
            errors.append(add(index, shot))
    for error in filter(None, errors):
        st.error(error, icon="🚫")
    kept = pictures_of(index)
    st.markdown(f"**{len(kept)} picture{'s' if len(kept) != 1 else ''}**")
    if kept:
        # the centre square: what the network will see of each picture
        st.image([ImageOps.fit(p, (2 * THUMB, 2 * THUMB)) for _, p in kept], width=THUMB,
                 alt=[f"picture {i + 1} of {st.session_state[f'teach.name.{index}']}" for i in range(len(kept))])
        st.button("🗑 Clear", key=f"teach.clear.{index}", on_click=clear, args=(index,),
                  help="Forget this class's pictures")


def all_pictures(count: int) -> list[teach.Picture]:
    """Every picture of the first `count` classes with its class index."""
    return [(picture, c) for c in range(count) for _, picture in pictures_of(c)]


# ---- teaching --------------------------------------------------------------------------------------------------
def base_picker() -> str:
    """The zoo network whose trunk sees the pictures (those with a checkpoint)."""
    present = [b for b in BASES if models.ZOO[b].checkpoint.is_file()]
    return st.selectbox("Start from", present, key="teach.base",
                        format_func=lambda b: f"{b}: {BASE_NOTES[b]}",
                        help="A trained network whose layers already see edges, textures and shapes. They stay "
                             "as they are (frozen); only its last layer is replaced by one for your classes.")


def train(names: list[str], pictures: list[teach.Picture], base: str) -> None:
    """Teach the classes with a progress bar, save the model as this browser's run and keep its pictures here."""
    entry = models.ZOO[base]
    bar = st.progress(0.0, text=f"Looking at your {len(pictures)} pictures through {base}…")

    def progress(done: float) -> None:
        bar.progress(done, text="Fitting the new last layer…" if done > 0.2 else "Looking at your pictures…")

    taught = teach.teach(pictures, names, models.load(base), models.transform(base), list(entry.mean),
                         list(entry.std), progress=progress)  # a fresh copy of the base: teaching takes it over
    run, taught = teach.save(taught, base, entry.input_shape, list(entry.mean), list(entry.std),
                             state.session_token(), title="taught-" + "-".join(n.strip() for n in names))
    bar.empty()
    state.keep_taught(taught)
    st.session_state[LATEST] = (run.name, base, taught.pictures.name)


def latest() -> tuple[str, str, teach.Taught] | None:
    """(run name, base, teach.Taught) of the model taught last in this tab, if any."""
    found = st.session_state.get(LATEST)
    kept = st.session_state.get(state.TAUGHT, {}).get(found[2]) if found else None
    return None if kept is None else (found[0], found[1], kept)


# ---- what it learned -------------------------------------------------------------------------------------------
def results(taught: teach.Taught) -> None:
    """Hold-out accuracy beside the training accuracy, and the hold-out's confusion matrix."""
    classes = list(taught.pictures.classes)
    c1, c2, c3 = st.columns(3)
    c1.metric("Hold-out accuracy", f"{taught.test_acc:.0%}",
              help="On the pictures kept aside: never learned from, so this is how it does on new ones.")
    c2.metric("Training accuracy", f"{taught.train_acc:.0%}",
              help="On the pictures it learned from: usually higher. A big gap means it learned those by heart.")
    c3.metric("Trained in", f"{taught.seconds:.1f} s",
              help=f"{len(taught.train)} pictures learned from, {len(taught.test)} kept aside for the test.")
    st.subheader("Confusion matrix of the kept-aside pictures", help=CONFUSION_HELP)
    charts.show(evaluate.confusion_chart(evaluation.confusion_table(taught.confusion, classes), classes, False, None))
    st.caption("Rows: the true class. Columns: what the model answered. The diagonal holds the right answers.")


def try_it(taught: teach.Taught, base: str) -> None:
    """One new picture (upload or camera) and the model's probability for each class."""
    source = st.radio("Try it on", ["📤 Upload", "📷 Camera"], horizontal=True, key="teach.try.source")
    if source == "📤 Upload":
        file = st.file_uploader("A new picture", type=images.UPLOAD_TYPES, key="teach.try.upload")
    else:
        file = st.camera_input("A new picture", key="teach.try.camera")
    if file is None:
        st.caption("Show it something it has not seen: another picture of one of your classes.")
        return
    try:
        picture = images.decode(file.getvalue())
    except images.ImageError as exc:
        st.error(f"**{file.name}** cannot be used. {exc}", icon="🚫")
        return
    x = models.transform(base)(picture)[None]  # (1, C, H, W)
    probs = features.probabilities(taught.model, x)[0].tolist()
    left, right = st.columns([1, 3], gap="large")
    left.image(ImageOps.contain(picture, (320, 320)), width=160, alt="the picture tried")
    frame = pd.DataFrame({"class": taught.pictures.classes, "probability": probs})
    chart = alt.Chart(frame).mark_bar(color="#4c78a8").encode(
        y=alt.Y("class:N", sort=list(taught.pictures.classes), title=None),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        tooltip=["class", alt.Tooltip("probability:Q", format=".1%")]).properties(height=44 * len(probs) + 40)
    charts.show(chart, right, width="stretch")
    best = max(range(len(probs)), key=probs.__getitem__)
    right.markdown(f"It says **{taught.pictures.classes[best]}** ({probs[best]:.0%} sure).")


def links(run: str) -> None:
    """Open the new model in the other pages (every model picker of this browser lists it)."""
    token = f"run:{run}"
    nav.link("inside", "Open it in Inside a model: every layer, and where it looks", model=token)
    nav.link("evaluate", "Evaluate it on the kept-aside pictures", model=token)
    nav.link("channels", "What a channel learned, among your pictures", model=token)
