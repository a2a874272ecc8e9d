"""The Inside-a-model page's display pieces: the model and its input, the answer and the guess, and the five views.

The numbers and words come from `cnnviz.inside` (readout, render, cam); this module draws them. Imported by the
page once its title is on screen (it imports PyTorch).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import streamlit as st
import torch
from PIL import Image

import models
from app import charts, nav, quiz, state, urlstate, widgets
from cnnviz.inside import cam, features, readout, render
from cnnviz.lessons import gridhtml
from cnnviz.results import export

CAM_SIDE = 256  # px: each of the three Grad-CAM pictures (the model's view is drawn 256 wide), side by side
NORMS = {"channel": "each map on its own scale", "layer": "one scale for the whole layer"}
SORTS = {"index": "channel number", "mean": "strongest first (mean activation)"}
VIEWS = {"maps": "🗺️ Feature maps", "closeup": "🔍 One map up close", "filters": "🧩 Filters",
         "gradcam": "🔥 Where it looks", "compare": "🎲 Untrained vs trained"}  # the link's word -> the switch's label
OPACITY = (0.0, 1.0)  # the heat map's opacity over the picture, for the slider and for the link alike
LAYER_MAPS = "layer_maps"  # the container of every layer's grid (styled by app/main.py as `.st-key-layer_maps`)


# ---- the model and what goes in --------------------------------------------------------------------------------
def spec_or_stop(choice: str) -> models.ModelSpec:
    """The chosen model's spec; a run whose checkpoint cannot be read stops the page with a way out."""
    try:
        return state.model_spec(choice)
    except models.CheckpointError as exc:
        st.error(f"This run's checkpoint cannot be read: {exc} Pick another model, or train the run again on the "
                 "Train page.", icon="🚫")
        st.stop()


def imagenet_switch(choice: str, where: Any) -> Path | None:
    """ResNet18's ImageNet weights file when torchvision has it on this computer (never downloaded here) and the
    student switched it on, else None.
    """
    path = models.resnet18.imagenet_cache_file()
    if choice != "resnet18" or not path.is_file():
        return None
    on = urlstate.control("toggle", "ImageNet weights (1,000 classes) instead of the CIFAR-10 checkpoint",
                          "imagenet", where=where)
    return path if on else None


def imagenet_spec(weights: Path) -> models.ModelSpec:
    """The spec of torchvision's ResNet18 with the ImageNet weights in file `weights`."""
    recipe = models.resnet18.imagenet_transform()
    return models.resnet18.imagenet_spec(weights, tuple(recipe.mean), tuple(recipe.std))


def shown_path(path: Path) -> str:
    """A path relative to the project folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(models.ZOO_DIR.parent))
    except ValueError:
        return str(path)


def trained_or_untrained(spec: models.ModelSpec, weights: Path | None,
                         untrained: tuple[torch.nn.Module, str]) -> tuple[torch.nn.Module, str, bool]:
    """(model, its cache key, whether trained): the checkpoint, or ImageNet's `weights`; without a checkpoint the
    `untrained` network, with an error that says how to train it.
    """
    try:
        if weights is not None:
            return state.imagenet_resnet18(str(weights)), "imagenet", True
        return *state.trained_model(spec), True
    except models.CheckpointError:
        st.error(f"**{spec.title}** has no trained checkpoint yet (looked for `{shown_path(spec.checkpoint)}`). To "
                 f"get it, train it on the **Train** page, or run `python -m models.train {spec.arch} --ship` (the "
                 "zoo's recipes are in `models/train_zoo.sh`), then reload. Meanwhile everything below shows the "
                 "same network **untrained** (random weights).", icon="🚫")
        return *untrained, False


def untrained(spec: models.ModelSpec) -> tuple[torch.nn.Module, str]:
    """The same network with random weights (seed 0), and its cache key."""
    return (state.untrained_model(spec.arch, spec.arch_args, spec.input_shape),
            f"untrained:{spec.arch}:{spec.arch_args}:0")


def model_input(image: Image.Image, choice: str, spec: models.ModelSpec, imagenet: bool) -> torch.Tensor:
    """What the model is fed, (C, H, W): its own preprocessing, or ImageNet's for ResNet18's ImageNet weights."""
    if imagenet:
        return models.resnet18.imagenet_transform()(image.convert("RGB"))
    return widgets.model_input(image, choice)[0]


def what_goes_in(image: Image.Image, choice: str, spec: models.ModelSpec, imagenet: bool) -> None:
    """Show the image beside what the model is fed."""
    if not imagenet:
        widgets.show_preprocessing(image, choice)
        return
    x = model_input(image, choice, spec, imagenet)
    original, fed = st.columns(2)
    seen = ("What the model sees: shorter side resized to 256, the centre 224×224 cut out, normalised with "
            "ImageNet's mean and std")
    original.image(image, caption="Your image", width=224, alt="Your image")
    fed.image(render.input_picture(x, spec.mean, spec.std), width=224, caption=seen, alt=seen)


def digest(x: torch.Tensor) -> str:
    """Cache key of the exact input tensor (covers the image and all its preprocessing)."""
    return hashlib.sha1(x.numpy().tobytes()).hexdigest()


@dataclass(frozen=True)
class Subject:
    """What every view looks at: the model, its untrained twin, and the image exactly as fed to them."""
    model: torch.nn.Module
    model_key: str
    trained: bool
    untrained: torch.nn.Module
    untrained_key: str
    x1: torch.Tensor  # (1, C, H, W)
    key: str
    seen: np.ndarray  # the model's view, enlarged by whole pixels
    classes: list[str]
    probs: np.ndarray
    best: int

    def pictures(self, model: torch.nn.Module | None = None, model_key: str = "") -> list[render.LayerPicture]:
        """Every layer's tiled maps in the chosen colour scale, map and order (cached per model and image)."""
        return state.layer_pictures(model_key or self.model_key, self.key, st.session_state["norm"],
                                    st.session_state["cmap"], st.session_state["sort"], model or self.model, self.x1)


def subject(model: tuple[torch.nn.Module, str, bool], twin: tuple[torch.nn.Module, str], x: torch.Tensor,
            spec: models.ModelSpec) -> Subject:
    """The model (model, key, trained) and its untrained twin (model, key) on input `x`, with the model's answer."""
    x1, key = x[None], digest(x)  # (1, C, H, W)
    probs = state.probabilities(model[1], key, model[0], x1)
    return Subject(*model, *twin, x1, key, render.input_picture(x, spec.mean, spec.std, size=256),
                   list(spec.classes), probs, int(np.argmax(probs)))


# ---- what comes out --------------------------------------------------------------------------------------------
def prediction_bars(probs: np.ndarray, classes: list[str], colour: str = "#4c78a8") -> None:
    """The top classes with their probabilities, as bars (the most likely one in bold)."""
    top = readout.top(probs)
    st.html(gridhtml.page(gridhtml.bars([classes[i] for i in top], probs[top], colour, mark=0)))


def answer(s: Subject, spec: models.ModelSpec, imagenet: bool) -> None:
    """What the network says, how sure, and the bars of its likeliest classes."""
    said, chart = st.columns([2, 3], gap="large")
    with said:
        st.markdown(f"<div style='font-size:1.7rem;line-height:1.3'>The {'' if s.trained else 'untrained '}"
                    f"network says<br><b>{s.classes[s.best]}</b><br>{s.probs[s.best]:.0%} sure</div>",
                    unsafe_allow_html=True)
        st.caption(f"{spec.title} · {len(s.classes)} classes")
        if spec.choice == "resnet18" and not imagenet:
            st.caption("These are the 10 CIFAR-10 classes of the zoo's ResNet18 checkpoint. " + (
                "Switch on the ImageNet weights above for the 1,000 ImageNet classes."
                if models.resnet18.imagenet_cache_file().is_file() else
                "The 1,000 ImageNet class names need ResNet18's ImageNet weights, which are not on this computer "
                "(it is offline)."))
    with chart:
        prediction_bars(s.probs, s.classes)


def blank_note(s: Subject, spec: models.ModelSpec) -> None:
    """Why a network still answers when it was given an empty picture."""
    expects = "a digit in thick strokes, dark on light paper or light on dark" if spec.dataset == "mnist" else \
        f"a photo of one of its {len(s.classes)} classes"
    st.warning(f"This picture is empty ({'no ink was found' if spec.dataset == 'mnist' else 'one flat colour'}), "
               f"yet the network says **{s.classes[s.best]}**: it has no answer for *nothing*, so it always picks one "
               f"of its classes. It expects {expects}.", icon="🫙")


@dataclass(frozen=True)
class Picked:
    """A lesson's model and picture: the trained model (or its untrained twin), its key, and the input it is fed."""

    spec: models.ModelSpec
    model: torch.nn.Module
    key: str
    x: torch.Tensor  # (C, H, W)
    digest: str
    probs: np.ndarray
    where: Any  # the left column, under the model picker: room for the lesson's own controls


def model_and_picture() -> Picked:
    """The model picker and the picture picker side by side, as Why it answers and Fool the network open; stops
    the page with a note while no picture is chosen."""
    left, right = st.columns(2, gap="large")
    with left:
        choice = widgets.model_picker("model")
    spec = spec_or_stop(choice)
    model, key = trained_or_untrained(spec, None, untrained(spec))[:2]
    with right:
        image = widgets.image_picker(spec.dataset, preview=False)
    if image is None:
        st.info("Pick an image above: a sample photo, a test image, your own upload, the camera or a drawing.")
        st.stop()
    x = widgets.model_input(image, choice)[0]
    digest_ = digest(x)
    return Picked(spec, model, key, x, digest_, state.probabilities(key, digest_, model, x[None]), left)


def same_subject_links() -> None:
    """To Why it answers and Fool the network with the same model and, when the link names one, the same image."""
    query = {"model": st.session_state["model"]}
    if "img" in st.query_params:
        query["img"] = st.query_params["img"]
    why, fool = st.columns(2)
    nav.link("why", "Why this answer? Six explanations side by side", why, **query)
    nav.link("fool", "Can a push too faint to see change it? Try to fool it", fool, **query)


def committed_guess(s: Subject) -> int:
    """Predict-then-reveal: the class the student said before seeing the answer; stops the page until then."""
    question = (s.model_key, s.key)
    said = quiz.locked_in("inside", question)
    if said is not None:
        return s.classes.index(said[0])
    quiz.ask("inside", lambda: [st.selectbox("My guess", s.classes, index=None,
                                             placeholder="pick a class (type to search)")],
             "Lock in my guess and show the answer", "Pick a class first.", question,
             "Before you look: what will the network say?")
    st.caption("Look at the picture above as the model sees it. The answer, the feature maps and where the "
               "network looks appear once you have guessed.")
    urlstate.publish()  # the page stops here: the link must already say guess=1
    st.stop()


def guess_feedback(s: Subject, guess: int) -> None:
    """Say how the guess compares with the network's answer, and where to look for why."""
    truth = widgets.chosen_label(s.classes)
    fact = f" The picture is labelled **{truth}**." if truth else ""
    st.info(f"{readout.verdict(guess, s.probs, s.classes)}{fact} Why this answer? **🔥 Where it looks** below "
            f"shows which part of the picture raised the score of **{s.classes[s.best]}**, and **🗺️ Feature "
            "maps** what each layer saw.", icon="🎯")


# ---- 🗺️ feature maps and 🔍 one map up close ---------------------------------------------------------------------
def map_controls() -> None:
    """Colour scale, colour map and order of the maps (shared by the two feature-map views), in a popover.

    The button says what is chosen; its controls reach a browser only when opened (one student alone: with the
    preprocessing as one image list, -15% browser CPU per upload).
    """
    if all(urlstate.hidden(k) for k in ("norm", "cmap", "sort")):
        return
    label = (f"🎨 Colours: **{NORMS[st.session_state['norm']]}**, {st.session_state['cmap']} · order: "
             f"{SORTS[st.session_state['sort']]}")
    with st.popover(label):
        urlstate.control("radio", "Colour scale", "norm", options=list(NORMS), format_func=NORMS.get)
        urlstate.control("selectbox", "Colour map", "cmap", options=list(render.COLORMAPS))
        urlstate.control("radio", "Order the maps by", "sort", options=list(SORTS), format_func=SORTS.get)


def maps_view(s: Subject) -> None:
    """Feature maps: every layer's maps tiled, from the input to the last map."""
    st.markdown("Each small square is one **feature map**: one filter's response at every place in the "
                "image (bright = strong). Early layers keep the picture's shape and find edges and colours; "
                "deeper layers are smaller and respond to larger, more abstract parts.")
    map_controls()
    with st.spinner("Running the image through every layer…"):
        pictures = s.pictures()
    modules = dict(s.model.named_modules())
    strongest_first = st.session_state["sort"] == "mean"
    # One image element for all layers: a whole class redraws this at once, and a browser's cost grows with the
    # elements (measured one student alone: ~25% less browser CPU per upload than a title and an image per layer).
    # Its key lets app/main.py's style skip painting the grids still below the screen.
    captions = [readout.layer_caption(p, modules[p.name], strongest_first) for p in pictures]
    with st.container(key=LAYER_MAPS):
        st.image([p.jpeg for p in pictures], caption=captions, alt=captions)


def closeup_view(s: Subject) -> None:
    """One map up close: pick a layer and a channel (the number in its tile's corner) to see its values."""
    st.markdown("One **feature map** enlarged: pick a layer and a channel (the number in the corner of its tile "
                "in 🗺️ Feature maps) to read its values and its colour scale.")
    map_controls()
    pictures = {p.name: p for p in s.pictures()}
    one, big = st.columns([1, 1], gap="large")
    with one:
        names = list(pictures)
        urlstate.confine("layer", names, names[0])
        layer = urlstate.control("selectbox", "Layer", "layer", options=names,
                                 format_func=lambda n: f"{n} ({readout.shape_text(pictures[n].shape)})")
        picture, count = pictures[layer], pictures[layer].shape[0]
        urlstate.confine("ch", range(count), 0)
        channel = int(urlstate.control("number_input", f"Channel (0–{count - 1}; the number in each tile's corner)",
                                       "ch", min_value=0, max_value=count - 1, step=1))
        maps = state.layer_output(s.model_key, s.key, layer, s.model, s.x1)  # (C, H, W)
        reading = readout.read_map(layer, maps, channel)
        st.markdown(reading.sentence())
        if features.kind(dict(s.model.named_modules())[layer]) == "conv" and s.trained:
            nav.link("channels", "What this channel learned, over the whole test set",
                     model=st.session_state.get("model", ""), layer=layer, ch=str(channel))
    norm, cmap = st.session_state["norm"], st.session_state["cmap"]
    vrange = readout.closeup_range(reading, picture, norm)
    large, (lo, hi) = render.channel_image(maps[channel], cmap, size=320, vrange=vrange)
    with big:
        st.image(large, width=320, alt=f"{layer}, channel {channel}, enlarged")
        st.image(render.colorbar(cmap, width=320), width=320, alt=f"colour scale ({cmap}), low on the left")
        st.caption(f"colour scale: {lo:.3g} (left) to {hi:.3g} (right)" + (" — the whole layer's range" if vrange
                                                                           else ""))
        st.download_button(f"⬇ All {count} maps of {layer} (PNG)", file_name=f"feature-maps-{layer}.png",
                           data=lambda: export.png(render.layer_grid(maps, norm, cmap, np.array(picture.order),
                                                                     width=1200)),
                           mime="image/png", on_click="ignore")


# ---- 🧩 filters ------------------------------------------------------------------------------------------------
def filters_view(s: Subject) -> None:
    """The first layer's filters beside their responses, then any conv layer's weights and their histograms."""
    modules = dict(s.model.named_modules())
    convs = features.conv_layers(s.model)
    weight = modules[convs[0]].weight.detach()  # (O, I, kh, kw)
    response = state.layer_output(s.model_key, s.key, convs[0], s.model, s.x1)
    st.markdown(f"The **filters of the first layer** (`{convs[0]}`, {weight.shape[0]} of them, "
                f"{weight.shape[2]}×{weight.shape[3]} pixels) look straight at the image, so they can be drawn "
                "as little pictures. Beside each filter: its **response** to your image — bright where the "
                "image looks like the filter.")
    order = render.channel_order(response, "mean") if st.session_state["sort"] == "mean" else None
    st.image(render.filters_with_responses(weight, response, st.session_state["cmap"], cell_px=72,
                                           order=order, max_filters=64), output_format="PNG",
             alt=f"The filters of {convs[0]}, each beside its response to the image")
    st.caption(readout.first_filters_caption(weight.shape[1], order is not None))

    st.markdown("##### The weights of one layer")
    urlstate.confine("flayer", convs, convs[0])
    flayer = urlstate.control("selectbox", "Conv layer", "flayer", options=convs,
                              format_func=lambda n: f"{n} ({readout.shape_text(modules[n].weight.shape)})")
    tiles, hist = st.columns([1, 1], gap="large")
    pixels, caption = readout.weight_tiles(modules[flayer].weight.detach())
    tiles.image(pixels, output_format="PNG", alt=f"The filters of {flayer}")
    tiles.caption(caption)
    frame = render.param_histograms(modules[flayer])
    for param in frame["param"].unique():
        charts.show(alt.Chart(frame[frame["param"] == param]).mark_bar(color="#4c78a8").encode(
            x=alt.X("start:Q", bin="binned", title=f"{param} value"), x2="end:Q", y=alt.Y("count:Q", title="how many"),
            tooltip=[alt.Tooltip("start:Q", format=".3f"), alt.Tooltip("end:Q", format=".3f"), "count:Q"],
        ).properties(height=180), where=hist, width="stretch")
    hist.caption(readout.parameter_count(modules[flayer]))


# ---- 🔥 where it looks -----------------------------------------------------------------------------------------
def cam_view(s: Subject) -> None:
    """Grad-CAM: which places in a conv layer's maps raised a class's score, beside the raw activations."""
    classes = s.classes
    layer, target = cam_settings(s)
    result = state.grad_cam(s.model_key, s.key, layer, target, s.model, s.x1)
    h, w = result.heat.shape
    opacity = float(st.session_state["opacity"])
    # Layer names in bold, not `code`: a code span makes every student's browser fetch and decode a 90 kB font.
    st.markdown(f"**Grad-CAM** asks: which places in the {h}×{w} maps of **{layer}** made the score of "
                f"**{classes[target]}** ({s.probs[target]:.1%}) go up? Red = strong evidence, blue = none.")
    if not result.heat.max() > 0:
        st.info(f"Nothing in **{layer}** raises the score of **{classes[target]}**: the weighted sum is negative "
                "everywhere, so Grad-CAM is empty (all blue). Try another layer or class.", icon="ℹ️")
    if h * w == 1:
        st.warning(f"**{layer}** has 1×1 maps for this input size: one cell cannot show *where*. Pick an earlier "
                   "layer (the automatic choice uses the last conv layer with at least 4×4 maps).", icon="⚠️")
    overlay = cam.overlay(s.seen, result.heat, opacity)
    raw = cam.overlay(s.seen, cam.mean_activation(result.activations), opacity, normalise="minmax")
    captions = ["What the model sees", f"Grad-CAM for “{classes[target]}” at {layer}",
                f"Raw activations of {layer} (mean of {result.activations.shape[0]} maps)"]
    st.image([s.seen, overlay, raw], width=CAM_SIDE, caption=captions, alt=captions)  # one element, side by side
    st.download_button("⬇ Grad-CAM overlay (PNG)", file_name=f"grad-cam-{classes[target]}-{layer}.png",
                       data=lambda: export.png(overlay), mime="image/png", on_click="ignore")
    st.caption("Grad-CAM weights each map by how much it raises the class score (the average gradient), adds "
               "them up and keeps the positive part (Selvaraju et al., 2017). Evidence can be an empty place "
               "(an open gap tells a 3 from an 8) or the background (sky around airplanes, water under ships): "
               "the network learns whatever goes with a class in its training pictures. The raw activations "
               "ignore the class: they show where the layer is busy, whatever it is looking for.")


def cam_settings(s: Subject) -> tuple[str, int]:
    """The layer and the class Grad-CAM explains, and the overlay's opacity, behind a button that names them.

    In a popover, the controls' code reaches a browser only when a student opens it: the opacity slider alone
    brings 130 kB of JavaScript, which 10 browsers on one machine would otherwise all load at the same click.
    """
    classes, best = s.classes, s.best
    auto = cam.default_layer(s.model, {p.name: p.shape for p in s.pictures()})
    layers, targets = ["", *features.conv_layers(s.model)], [-1, *range(len(classes))]  # "" and -1: automatic
    picked, chosen = urlstate.confine("cam_layer", layers, ""), urlstate.confine("cam_class", targets, -1)
    layer, target = picked or auto, best if chosen == -1 else int(chosen)
    if all(urlstate.hidden(k) for k in ("cam_layer", "cam_class", "opacity")):
        return layer, target
    label = (f"⚙️ Layer **{layer}**{'' if picked else ' (automatic)'} · class **{classes[target]}**"
             f"{' (predicted)' if target == best else ''} · opacity {float(st.session_state['opacity']):.2f}")
    with st.popover(label):
        urlstate.control("selectbox", "Layer", "cam_layer", options=layers,
                         format_func=lambda n: f"{auto} (automatic)" if n == "" else n)
        urlstate.control("selectbox", "Explain the class", "cam_class", options=targets,
                         format_func=lambda i: f"predicted: {classes[best]}" if i == -1 else classes[i])
        urlstate.control("slider", "Heat map opacity", "opacity", min_value=OPACITY[0], max_value=OPACITY[1],
                         step=0.05)
    return layer, target


# ---- 🎲 untrained vs trained -----------------------------------------------------------------------------------
def compare_view(s: Subject) -> None:
    """The same network before training (seed 0) and after, on the same image."""
    st.markdown("The same network **before training** (random weights, seed 0) and **after**. Learning is "
                "all that differs: same layers, same image.")
    if not s.trained:
        st.info("There is no trained checkpoint of this model yet, so both sides below are untrained.", icon="ℹ️")
    names = [p.name for p in s.pictures()]
    urlstate.confine("cmp_layer", names, names[0])
    layer = urlstate.control("selectbox", "Feature maps of layer", "cmp_layer", options=names)
    first = features.conv_layers(s.model)[0]
    sides = [("Untrained", "random weights (seed 0)", s.untrained, s.untrained_key, "#9e9e9e"),
             ("Trained" if s.trained else "Untrained", "the checkpoint" if s.trained else "no checkpoint yet",
              s.model, s.model_key, "#4c78a8")]
    for col, (title, note, net, net_key, colour) in zip(st.columns(2, gap="large"), sides):
        with col:
            st.markdown(f"#### {title}")
            st.caption(note)
            prediction_bars(state.probabilities(net_key, s.key, net, s.x1), s.classes, colour)
            st.markdown("**First-layer filters**")
            st.image(render.filter_tiles(dict(net.named_modules())[first].weight, tile_px=48), output_format="PNG",
                     alt=f"First-layer filters, {title.lower()}")
            st.markdown(f"**Feature maps of {layer}**")
            pics = s.pictures(net, net_key)
            st.image(next(q.jpeg for q in pics if q.name == layer), alt=f"Feature maps of {layer}, {title.lower()}")
            g = state.grad_cam(net_key, s.key, cam.default_layer(net, {q.name: q.shape for q in pics}), s.best, net,
                               s.x1)
            said = f"Grad-CAM for “{s.classes[s.best]}” at {g.layer}"
            st.image(cam.overlay(s.seen, g.heat, float(st.session_state["opacity"])), width=256, caption=said,
                     alt=said)


def view(name: str, s: Subject) -> None:
    """Draw view `name`, a key of VIEWS."""
    dict(zip(VIEWS, (maps_view, closeup_view, filters_view, cam_view, compare_view)))[name](s)
