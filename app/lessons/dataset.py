"""Dataset explorer: how many images each class has in each split, what they look like, and normalisation; for the
digit canvases (segmentation), each class's share of the pixels, the canvases with their masks, and normalisation."""
import streamlit as st

from app import charts, state, urlstate

st.title("🗂️ Dataset explorer")
st.markdown("Before training, look at the data: how many images of each class, what they look like, "
            "and the numbers the network is actually fed.")

from app.views import dataset as view
from cnnviz.datasets import data, explore
from cnnviz.results import export

NO_DATA = (
    "No data set found in **{folder}**. Set the environment variable `CNNVIZ_DATA_DIR` to a folder holding "
    "`MNIST/raw/*-ubyte` (MNIST), `cifar10/{{train,test}}/<class>/*.png` or `cifar-10-batches-py/` (CIFAR-10), "
    "or any image set laid out as `<name>/train/<class>/<image>` (and optionally `<name>/test/...`), "
    "then reload this page."
)
PER_ROW = range(4, 17)  # random images of each class in a row, for the slider and for the link alike
SEEDS = range(0, 2**32)  # the random sample's number (NumPy takes no negative seed)

present = data.available()
if not present:
    st.info(NO_DATA.format(folder=data.paths.data_dir()))
    st.stop()
names = list(dict.fromkeys([*present, explore.SEGMENTATION]))  # the canvases are made from MNIST, never stored

urlstate.init({"ds": names[0], "split": "train", "per_class": 8, "cls": "all classes", "seed": 0, "show": "both"},
              allowed={"ds": names, "split": view.SPLITS, "per_class": PER_ROW, "seed": SEEDS,
                       "show": explore.VIEWS})
urlstate.confine("ds", names, names[0])  # a data set this session saw may have gone since
name = urlstate.control("selectbox", "Data set", "ds", options=names, format_func=lambda n: view.NAMES.get(n, n))

if name == explore.SEGMENTATION:  # a class per pixel, not per image: its own counts, images and normalisation
    sets = view.canvas_sets()
    if sets is None:
        st.stop()
    shares, per_canvas, stats = state.canvas_tables()
    view.canvas_counts(sets, shares, per_canvas)
    view.canvas_images(sets)
    view.canvas_normalisation(stats, len(sets["train"]))
    urlstate.publish()
    st.stop()

try:
    splits = state.explore_splits(name)
except data.DatasetUnavailable as exc:
    st.error(f"Could not read {name}: {exc}")
    st.stop()

# ---- counts ---------------------------------------------------------------------------------------------
st.header("How many images of each class?")
counts = explore.class_counts(splits)
st.markdown(" · ".join(f"**{split}**: {total:,} images" for split, total in explore.totals(counts).items()))
st.caption("The validation images are the 10% of the training split that the Train page holds out "
           "(same seed), so these are exactly the images a run trains and validates on.")
charts.show(view.counts_chart(counts, list(splits.train.classes)), width="stretch")
if explore.unbalanced(counts):
    st.warning("The classes are unbalanced: accuracy alone can hide a rare class the model never gets right. "
               "Check per-class accuracy on the Evaluate page.")

# ---- images ---------------------------------------------------------------------------------------------
parts = explore.parts(splits)
urlstate.confine("split", parts, "train")
st.header("What do the images look like?")
shown = parts[urlstate.control("radio", "Images from the split", "split", options=list(parts), horizontal=True)]
c, h, w = shown.shape
st.caption(f"Each image: {c} channel{'s' if c > 1 else ''} ({'RGB colour' if c == 3 else 'grey'}) of "
           f"{h}×{w} pixels, enlarged here without smoothing.")
st.subheader("One image of each class")
st.image(explore.class_examples(shown, target=112), alt=f"One image of each class of {name}")

st.subheader("Random images of each class")
classes = ["all classes", *shown.classes]
urlstate.confine("cls", classes, "all classes")
left, mid, right = st.columns([2, 2, 1], vertical_alignment="bottom")
urlstate.control("selectbox", "Class", "cls", where=left, options=classes)
urlstate.control("slider", "Images per row", "per_class", where=mid, min_value=PER_ROW.start,
                 max_value=PER_ROW.stop - 1)
right.button("🎲 New random images", on_click=view.new_sample, disabled=urlstate.locked("seed"))
per_class, seed = st.session_state["per_class"], st.session_state["seed"]
if st.session_state["cls"] == "all classes":
    st.image(explore.class_rows(shown, per_class, seed, target=80), alt=f"{per_class} random images of each class")
else:
    k = shown.classes.index(st.session_state["cls"])
    st.image(explore.class_page(shown, k, per_class * 5, per_class, seed, target=80),
             alt=f"Random images of the class {st.session_state['cls']}")
st.caption(f"Random sample number {seed} (the same number shows the same images on every computer).")

# ---- normalisation --------------------------------------------------------------------------------------
st.header("Normalisation: what the network is fed")
stats = explore.channel_stats(splits)
st.markdown(f"Each channel is shifted by its **mean** and divided by its **standard deviation**, both measured "
            f"on the {len(splits.train):,} training images only (never on validation or test images, which "
            f"must stay unseen):")
st.latex(r"x_{\text{input}} = \frac{x_{\text{pixel}} / 255 - \text{mean}_c}{\text{std}_c}")
st.dataframe(stats.style.format({"mean": "{:.4f}", "std": "{:.4f}", "mean (0-255)": "{:.1f}", "std (0-255)": "{:.1f}"}),
             hide_index=True, width="content")
st.download_button("⬇ Channel statistics (CSV)", lambda: export.csv(stats), file_name=f"normalisation-{name}.csv",
                   mime="text/csv", on_click="ignore")
st.image(explore.normalisation_grid(shown, explore.first_images(shown), splits.mean, splits.std),
         alt="Each channel of a few images before and after normalisation")
st.image(explore.diverging_legend(), caption="Normalised value, in standard deviations from the channel mean",
         alt="Colour scale from blue (below the mean) through white to red (above)")
st.caption("After normalisation every channel is centred on 0 (white): darker or less saturated parts become "
           "negative (blue), brighter parts positive (red). The image looks different to us but holds the "
           "same information; the network just learns faster on values of this size.")

st.subheader("Pixel values before and after")
charts.show(view.values_chart(explore.pixel_values(parts["train"], splits.mean, splits.std)))
st.caption("Left: pixel values scaled to 0…1. Right: the same pixels after normalisation: the same shape, moved "
           "so the mean is 0 and stretched so the standard deviation is 1 (from 50 training images of each "
           "class; the square-root scale keeps rare values visible).")

urlstate.publish()
