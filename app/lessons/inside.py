"""Inside a model: one image through every layer — feature maps, filters, where the network looks, predictions."""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app import predict, state, urlstate, widgets

st.title("🔬 Inside a model")
st.markdown("Give a trained network one picture and watch what **every layer** makes of it: the maps each "
            "filter lights up, the filters themselves, and the part of the picture the answer came from.")

import models  # noqa: E402  (PyTorch: imported once the title is on screen)
from cnnviz.inside import cam, features, render  # noqa: E402
from cnnviz.lessons import gridhtml
from cnnviz.results import export

TOP_K = 5  # classes in the prediction chart
CAM_SIDE = 256  # px: each of the three Grad-CAM pictures (the model's view is drawn 256 wide), side by side
KIND = {"conv": "convolution", "activation": "activation", "pool": "pooling"}
NORMS = {"channel": "each map on its own scale", "layer": "one scale for the whole layer"}
SORTS = {"index": "channel number", "mean": "strongest first (mean activation)"}
VIEWS = ["🗺️ Feature maps", "🔍 One map up close", "🧩 Filters", "🔥 Where it looks",
         "🎲 Untrained vs trained"]
OPACITY = (0.0, 1.0)  # the heat map's opacity over the picture, for the slider and for the link alike

LAYER_MAPS = "layer_maps"  # the container of every layer's grid (styled by app/main.py as `.st-key-layer_maps`)

# Layers, channels and classes depend on the model: `valid` and `one_map` check them once it is known.
urlstate.init({"guess": False, "imagenet": False, "view": VIEWS[0], "norm": "channel", "cmap": "viridis",
               "sort": "index", "layer": "", "ch": 0, "flayer": "", "cam_layer": "", "cam_class": -1, "opacity": 0.5,
               "cmp_layer": ""},
              allowed={"view": VIEWS, "norm": NORMS, "cmap": render.COLORMAPS, "sort": SORTS,
                       "ch": lambda c: c >= 0, "cam_class": lambda c: c >= -1,  # -1: the predicted class
                       "opacity": lambda o: OPACITY[0] <= o <= OPACITY[1]})


def valid(key: str, options: list, fallback):
    """`key`'s value (from the URL or the session) if `options` holds it, else `fallback` (noted if a link asked)."""
    return urlstate.confine(key, options, fallback)


def choose(label: str, key: str, options: list, fallback, **kwargs):
    """A select box kept in the URL whose options depend on the model: an unknown value falls back."""
    valid(key, options, fallback)
    if not urlstate.hidden(key):
        st.selectbox(label, options, key=key, disabled=urlstate.locked(key), **kwargs)
    return st.session_state[key]


def readable(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Axis text large and dark enough for a projector."""
    return chart.configure_axis(labelFontSize=16, titleFontSize=15, labelColor="#222", titleColor="#222",
                                labelLimit=260).configure_view(strokeWidth=0)


def prediction_bars(probs: np.ndarray, classes: list[str], colour: str = "#4c78a8") -> None:
    """The top classes with their probabilities, as bars (the most likely one in bold)."""
    top = np.argsort(-probs)[:TOP_K]
    st.html(gridhtml.page(gridhtml.bars([classes[i] for i in top], probs[top], colour, mark=0)))


def histogram_chart(frame: pd.DataFrame, param: str) -> alt.Chart:
    """Histogram of one parameter tensor ('weight' or 'bias') of a layer."""
    chart = alt.Chart(frame[frame["param"] == param]).mark_bar(color="#4c78a8").encode(
        x=alt.X("start:Q", bin="binned", title=f"{param} value"), x2="end:Q", y=alt.Y("count:Q", title="how many"),
        tooltip=[alt.Tooltip("start:Q", format=".3f"), alt.Tooltip("end:Q", format=".3f"), "count:Q"],
    ).properties(height=180)
    return readable(chart)


def shown_path(path) -> str:
    """A path relative to the project folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(models.ZOO_DIR.parent))
    except ValueError:
        return str(path)


def digest(x) -> str:
    """Cache key of the exact input tensor (covers the image and all its preprocessing)."""
    return hashlib.sha1(x.numpy().tobytes()).hexdigest()


def committed_guess(subject: tuple[str, str], classes: list[str]) -> int:
    """Predict-then-reveal: the class the student said before seeing the answer; stops the page until then."""
    said = predict.locked_in("inside", subject)
    if said is not None:
        return classes.index(said[0])
    predict.ask("inside", lambda: [st.selectbox("My guess", classes, index=None,
                                                placeholder="pick a class (type to search)")],
                "Lock in my guess and show the answer", "Pick a class first.", subject,
                "Before you look: what will the network say?")
    st.caption("Look at the picture above as the model sees it. The answer, the feature maps and where the "
               "network looks appear once you have guessed.")
    urlstate.publish()  # the page stops here: the link must already say guess=1
    st.stop()


def guess_feedback(guess: int, probs: np.ndarray, classes: list[str], truth: str | None) -> None:
    """Say how the guess compares with the network's answer, and where to look for why."""
    best = int(np.argmax(probs))
    rank = int((probs > probs[guess]).sum()) + 1
    verdict = ("✅ You guessed what the network says." if guess == best else
               f"❌ You said **{classes[guess]}**; the network gave it {probs[guess]:.1%} (number {rank} of "
               f"{len(classes)}).")
    fact = f" The picture is labelled **{truth}**." if truth else ""
    st.info(f"{verdict}{fact} Why this answer? **🔥 Where it looks** below shows which part of the picture "
            f"raised the score of **{classes[best]}**, and **🗺️ Feature maps** what each layer saw.", icon="🎯")


def layer_caption(p: render.LayerPicture, modules: dict, strongest_first: bool) -> str:
    """What a layer's grid shows, under it: the layer, its kind, how many maps of what size, their range."""
    c, h, w = p.shape
    return (f"{p.name} · {type(modules[p.name]).__name__} ({KIND[p.kind]}) · {c} maps of {h}×{w}, values "
            f"{p.lo:.3g} to {p.hi:.3g}" + (", strongest first" if strongest_first else ""))


# ---- the model ------------------------------------------------------------------------------------------------
left, right = st.columns([1, 1], gap="large")
with left:
    choice = widgets.model_picker("model")
    if not urlstate.hidden("guess"):
        st.toggle("🤔 Guess first: say what the network will answer before it is shown", key="guess",
                  disabled=urlstate.locked("guess"))
try:
    spec = state.model_spec(choice)
except models.CheckpointError as exc:
    st.error(f"This run's checkpoint cannot be read: {exc} Pick another model, or train the run again on the "
             "Train page.", icon="🚫")
    st.stop()

import torch  # noqa: E402
from torchvision.models import ResNet18_Weights  # noqa: E402

IMAGENET = ResNet18_Weights.IMAGENET1K_V1
imagenet_file = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(IMAGENET.url)  # never downloaded here
use_imagenet = False
if choice == "resnet18" and imagenet_file.is_file():
    with left:
        if not urlstate.hidden("imagenet"):
            st.toggle("ImageNet weights (1,000 classes) instead of the CIFAR-10 checkpoint", key="imagenet",
                      disabled=urlstate.locked("imagenet"))
    use_imagenet = bool(st.session_state["imagenet"])

if use_imagenet:
    to_tensor = IMAGENET.transforms()
    spec = models.resnet18.imagenet_spec(imagenet_file, tuple(to_tensor.mean), tuple(to_tensor.std))
classes = list(spec.classes)
untrained = state.untrained_model(spec.arch, spec.arch_args, spec.input_shape)
untrained_key = f"untrained:{spec.arch}:{spec.arch_args}:0"
try:
    if use_imagenet:
        model, model_key = state.imagenet_resnet18(str(imagenet_file)), "imagenet"
    else:
        model, model_key = state.trained_model(spec)
    trained = True
except models.CheckpointError:
    st.error(f"**{spec.title}** has no trained checkpoint yet (looked for `{shown_path(spec.checkpoint)}`). To get "
             f"it, train it on the **Train** page, or run `python -m models.train {spec.arch} --ship` (the zoo's "
             "recipes are in `models/train_zoo.sh`), then reload. Meanwhile everything below shows the same network "
             "**untrained** (random weights).", icon="🚫")
    model, model_key, trained = untrained, untrained_key, False

# ---- the image ----------------------------------------------------------------------------------------------
with right:
    image = widgets.image_picker(spec.dataset, preview=False)
if image is None:
    st.info("Pick an image above: a sample photo, a test image, your own upload, the camera or a drawing.")
    st.stop()

st.subheader("What goes in")
if use_imagenet:  # ImageNet's own recipe: shorter side to 256, centre 224x224, ImageNet mean and std
    x = to_tensor(image.convert("RGB"))
    original, fed = st.columns(2)
    original.image(image, caption="Your image", width=224)
    fed.image(render.input_picture(x, spec.mean, spec.std), width=224,
              caption="What the model sees: shorter side resized to 256, the centre 224×224 cut out, "
                      "normalised with ImageNet's mean and std")
else:
    x = widgets.show_preprocessing(image, choice)  # (C, H, W), exactly what the model is fed
x1 = x[None]  # (1, C, H, W)
key = digest(x)
mean, std = spec.mean, spec.std
seen = render.input_picture(x, mean, std, size=256)  # the model's view, enlarged by whole pixels

# ---- what comes out -----------------------------------------------------------------------------------------
probs = state.probabilities(model_key, key, model, x1)
best = int(np.argmax(probs))
st.subheader("What comes out")
guess = committed_guess((model_key, key), classes) if st.session_state["guess"] else None
said, chart = st.columns([2, 3], gap="large")
with said:
    st.markdown(f"<div style='font-size:1.7rem;line-height:1.3'>The {'' if trained else 'untrained '}network "
                f"says<br><b>{classes[best]}</b><br>{probs[best]:.0%} sure</div>", unsafe_allow_html=True)
    st.caption(f"{spec.title} · {len(classes)} classes")
    if choice == "resnet18" and not use_imagenet:
        st.caption("These are the 10 CIFAR-10 classes of the zoo's ResNet18 checkpoint. " + (
            "Switch on the ImageNet weights above for the 1,000 ImageNet classes." if imagenet_file.is_file() else
            "The 1,000 ImageNet class names need ResNet18's ImageNet weights, which are not on this computer "
            "(it is offline)."))
with chart:
    prediction_bars(probs, classes)
if guess is not None:
    guess_feedback(guess, probs, classes, widgets.chosen_label(classes))


# ---- the views ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """What every view looks at: the model, its untrained twin, and the image exactly as fed to them."""
    model: torch.nn.Module
    model_key: str
    trained: bool
    untrained: torch.nn.Module
    untrained_key: str
    x1: torch.Tensor
    key: str
    seen: np.ndarray
    classes: list[str]
    probs: np.ndarray
    best: int

    def pictures(self, model: torch.nn.Module | None = None, model_key: str = "") -> list[render.LayerPicture]:
        """Every layer's tiled maps in the chosen colour scale, map and order (cached per model and image)."""
        return state.layer_pictures(model_key or self.model_key, self.key, st.session_state["norm"],
                                    st.session_state["cmap"], st.session_state["sort"], model or self.model, self.x1)


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
        if not urlstate.hidden("norm"):
            st.radio("Colour scale", list(NORMS), key="norm", format_func=NORMS.get, disabled=urlstate.locked("norm"))
        choose("Colour map", "cmap", list(render.COLORMAPS), "viridis")
        if not urlstate.hidden("sort"):
            st.radio("Order the maps by", list(SORTS), key="sort", format_func=SORTS.get,
                     disabled=urlstate.locked("sort"))


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
    with st.container(key=LAYER_MAPS):
        st.image([p.jpeg for p in pictures], caption=[layer_caption(p, modules, strongest_first) for p in pictures])


def closeup_view(s: Subject) -> None:
    """One map up close: pick a layer and a channel (the number in its tile's corner) to see its values."""
    st.markdown("One **feature map** enlarged: pick a layer and a channel (the number in the corner of its tile "
                "in 🗺️ Feature maps) to read its values and its colour scale.")
    map_controls()
    one_map(s, s.pictures())


def one_map(s: Subject, pictures: list[render.LayerPicture]) -> None:
    """One channel of one layer, enlarged, with its numbers and its colour scale."""
    names = [p.name for p in pictures]
    shapes = {p.name: p.shape for p in pictures}
    one, big = st.columns([1, 1], gap="large")
    with one:
        layer = choose("Layer", "layer", names, names[0],
                       format_func=lambda n: f"{n} ({' × '.join(map(str, shapes[n]))})")
        count = shapes[layer][0]
        urlstate.confine("ch", range(count), 0)
        if not urlstate.hidden("ch"):
            st.number_input(f"Channel (0–{count - 1}; the number in each tile's corner)", 0, count - 1, step=1,
                            key="ch", disabled=urlstate.locked("ch"))
        channel = int(st.session_state["ch"])
        maps = state.layer_output(s.model_key, s.key, layer, s.model, s.x1)
        picture = pictures[names.index(layer)]
        single = maps[channel].numel() == 1  # one number: only the layer's range gives it a colour
        vrange = (picture.lo, picture.hi) if st.session_state["norm"] == "layer" or single else None
        large, (lo, hi) = render.channel_image(maps[channel], st.session_state["cmap"], size=320, vrange=vrange)
        rank = list(render.channel_order(maps, "mean")).index(channel) + 1
        m = render.as_numpy(maps[channel])
        st.markdown(f"**{layer}, channel {channel}**: {m.shape[0]}×{m.shape[1]} values from **{m.min():.3g}** "
                    f"to **{m.max():.3g}** (mean {m.mean():.3g}); by mean activation it ranks {rank} of {count}."
                    + (" At this depth the image is down to a single number per channel: it says *what*, "
                       "no longer *where*." if single else ""))
    with big:
        st.image(large, width=320)
        st.image(render.colorbar(st.session_state["cmap"], width=320), width=320)
        st.caption(f"colour scale: {lo:.3g} (left) to {hi:.3g} (right)"
                   + (" — the whole layer's range" if vrange else ""))
        norm, cmap = st.session_state["norm"], st.session_state["cmap"]
        st.download_button(f"⬇ All {count} maps of {layer} (PNG)", file_name=f"feature-maps-{layer}.png",
                           data=lambda: export.png(render.layer_grid(maps, norm, cmap, np.array(picture.order),
                                                                     width=1200)),
                           mime="image/png", on_click="ignore")


def filters_view(s: Subject) -> None:
    """The first layer's filters beside their responses, then any conv layer's weights and their histograms."""
    modules = dict(s.model.named_modules())
    convs = features.conv_layers(s.model)
    first = convs[0]
    weight = modules[first].weight.detach()
    response = state.layer_output(s.model_key, s.key, first, s.model, s.x1)
    st.markdown(f"The **filters of the first layer** (`{first}`, {weight.shape[0]} of them, "
                f"{weight.shape[2]}×{weight.shape[3]} pixels) look straight at the image, so they can be drawn "
                "as little pictures. Beside each filter: its **response** to your image — bright where the "
                "image looks like the filter.")
    order = render.channel_order(response, "mean") if st.session_state["sort"] == "mean" else None
    st.image(render.filters_with_responses(weight, response, st.session_state["cmap"], cell_px=72,
                                           order=order, max_filters=64), output_format="PNG")
    st.caption("Filters: " + ("colour, each stretched to its own range (red, green, blue weights)."
                              if weight.shape[1] == 3 else "mid-grey is 0, white positive, black negative.")
               + (" Ordered by mean response." if order is not None else ""))

    st.markdown("##### The weights of one layer")
    flayer = choose("Conv layer", "flayer", convs, convs[0],
                    format_func=lambda n: f"{n} ({' × '.join(map(str, modules[n].weight.shape))})")
    w = modules[flayer].weight.detach()
    tiles, hist = st.columns([1, 1], gap="large")
    with tiles:
        first_layer = w.shape[1] in (1, 3)  # kernels that look at the image itself
        st.image(render.filter_tiles(w, max_filters=64 if first_layer else 16, max_inputs=16,
                                     tile_px=48 if first_layer else 30), output_format="PNG")
        st.caption("One colour tile per filter." if w.shape[1] == 3 else
                   "One grey tile per filter (one input channel); mid-grey is 0, white positive, black negative."
                   if w.shape[1] == 1 else
                   f"One row per filter, one grey tile per input channel (showing {min(16, w.shape[0])} of "
                   f"{w.shape[0]} filters × {min(16, w.shape[1])} of {w.shape[1]} inputs); "
                   "mid-grey is 0, white positive, black negative.")
    with hist:
        frame = render.param_histograms(modules[flayer])
        for param in frame["param"].unique():
            st.altair_chart(histogram_chart(frame, param), width="stretch")
        st.caption(f"{w.numel():,} weights" + (f" and {modules[flayer].bias.numel()} biases"
                                                if modules[flayer].bias is not None else " (no bias: "
                                                "a batch norm follows)") + ".")


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
    st.image([s.seen, overlay, raw], width=CAM_SIDE,  # one element for the three, side by side
             caption=["What the model sees", f"Grad-CAM for “{classes[target]}” at {layer}",
                      f"Raw activations of {layer} (mean of {result.activations.shape[0]} maps)"])
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
    layers, targets = ["", *features.conv_layers(s.model)], [-1, *range(len(classes))]
    picked, chosen = valid("cam_layer", layers, ""), valid("cam_class", targets, -1)
    layer, target = picked or auto, best if chosen == -1 else int(chosen)
    shown = [k for k in ("cam_layer", "cam_class", "opacity") if not urlstate.hidden(k)]
    if shown:
        label = (f"⚙️ Layer **{layer}**{'' if picked else ' (automatic)'} · class **{classes[target]}**"
                 f"{' (predicted)' if target == best else ''} · opacity {float(st.session_state['opacity']):.2f}")
        with st.popover(label):
            choose("Layer", "cam_layer", layers, "",
                   format_func=lambda n: f"{auto} (automatic)" if n == "" else n)
            choose("Explain the class", "cam_class", targets, -1,
                   format_func=lambda i: f"predicted: {classes[best]}" if i == -1 else classes[i])
            if "opacity" in shown:
                st.slider("Heat map opacity", *OPACITY, step=0.05, key="opacity",
                          disabled=urlstate.locked("opacity"))
    return layer, target


def compare_view(s: Subject) -> None:
    """The same network before training (seed 0) and after, on the same image."""
    st.markdown("The same network **before training** (random weights, seed 0) and **after**. Learning is "
                "all that differs: same layers, same image.")
    if not s.trained:
        st.info("There is no trained checkpoint of this model yet, so both sides below are untrained.", icon="ℹ️")
    names = [p.name for p in s.pictures()]
    layer = choose("Feature maps of layer", "cmp_layer", names, names[0])
    first = features.conv_layers(s.model)[0]
    sides = [("Untrained", "random weights (seed 0)", s.untrained, s.untrained_key, "#9e9e9e"),
             ("Trained" if s.trained else "Untrained", "the checkpoint" if s.trained else "no checkpoint yet",
              s.model, s.model_key, "#4c78a8")]
    for col, (title, note, net, net_key, colour) in zip(st.columns(2, gap="large"), sides):
        with col:
            st.markdown(f"#### {title}")
            st.caption(note)
            p = state.probabilities(net_key, s.key, net, s.x1)
            prediction_bars(p, s.classes, colour)
            st.markdown("**First-layer filters**")
            st.image(render.filter_tiles(dict(net.named_modules())[first].weight, tile_px=48), output_format="PNG")
            st.markdown(f"**Feature maps of {layer}**")
            pics = s.pictures(net, net_key)
            st.image(next(q.jpeg for q in pics if q.name == layer))
            g = state.grad_cam(net_key, s.key, cam.default_layer(net, {q.name: q.shape for q in pics}), s.best, net,
                               s.x1)
            st.image(cam.overlay(s.seen, g.heat, float(st.session_state["opacity"])), width=256,
                     caption=f"Grad-CAM for “{s.classes[s.best]}” at {g.layer}")


@st.fragment
def views(s: Subject) -> None:
    """The five views: the switch or a control in them reruns just this part (not the model, the image, the chart).

    A segmented control, not tabs: each rerun redraws it in every student's browser (one student alone, median of
    3 x 8: 30-50 ms less browser CPU per upload, 10-45 ms per switch to Grad-CAM). A link can hide or lock it too.
    """
    valid("view", VIEWS, VIEWS[0])
    for key, options in (("norm", list(NORMS)), ("cmap", list(render.COLORMAPS)), ("sort", list(SORTS))):
        valid(key, options, options[0])  # every view draws the maps in these, whether or not it shows their controls
    if not urlstate.hidden("view"):
        st.segmented_control("View", VIEWS, key="view", required=True, disabled=urlstate.locked("view"),
                             label_visibility="collapsed")
    show = dict(zip(VIEWS, (maps_view, closeup_view, filters_view, cam_view, compare_view)))
    show[st.session_state["view"]](s)
    urlstate.publish()


views(Subject(model, model_key, trained, untrained, untrained_key, x1, key, seen, classes, probs, best))
