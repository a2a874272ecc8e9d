"""Dataset explorer: how many images each class has in each split, what they look like, and normalisation."""
import altair as alt
import streamlit as st

from app import state, urlstate

st.title("🗂️ Dataset explorer")
st.markdown("Before training, look at the data: how many images of each class, what they look like, "
            "and the numbers the network is actually fed.")

from cnnviz.datasets import data, explore  # noqa: E402  (PyTorch: imported after the title is on screen)
from cnnviz.results import export


def readable(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Axis, legend and header text large and dark enough for a projector."""
    return (chart.configure_axis(labelFontSize=15, titleFontSize=16, labelColor="#222", titleColor="#222")
            .configure_legend(labelFontSize=16, symbolSize=200)
            .configure_header(labelFontSize=17, labelColor="#222"))


NO_DATA = (
    "No data set found in **{folder}**. Set the environment variable `CNNVIZ_DATA_DIR` to a folder holding "
    "`MNIST/raw/*-ubyte` (MNIST), `cifar10/{{train,test}}/<class>/*.png` or `cifar-10-batches-py/` (CIFAR-10), "
    "or any image set laid out as `<name>/train/<class>/<image>` (and optionally `<name>/test/...`), "
    "then reload this page."
)

SPLITS = ("train", "validation", "test")  # a data set without test images has only the first two
PER_ROW = range(4, 17)  # random images of each class in a row, for the slider and for the link alike
SEEDS = range(0, 2**32)  # the random sample's number (NumPy takes no negative seed)

names = data.available()
if not names:
    st.info(NO_DATA.format(folder=data.paths.data_dir()))
    st.stop()

urlstate.init({"ds": names[0], "split": "train", "per_class": 8, "cls": "all classes", "seed": 0},
              allowed={"ds": names, "split": SPLITS, "per_class": PER_ROW, "seed": SEEDS})
urlstate.confine("ds", names, names[0])  # a data set this session saw may have gone since

if not urlstate.hidden("ds"):
    st.selectbox("Data set", names, key="ds", disabled=urlstate.locked("ds"))
name = st.session_state["ds"]

try:
    splits = state.explore_splits(name)
except data.DatasetUnavailable as exc:
    st.error(f"Could not read {name}: {exc}")
    st.stop()

# ---- counts ---------------------------------------------------------------------------------------------
st.header("How many images of each class?")
counts = explore.class_counts(splits)
totals = counts.groupby("split", sort=False)["count"].sum()
st.markdown(" · ".join(f"**{split}**: {total:,} images" for split, total in totals.items()))
st.caption("The validation images are the 10% of the training split that the Train page holds out "
           "(same seed), so these are exactly the images a run trains and validates on.")
order = list(splits.train.classes)
chart = alt.Chart(counts).mark_bar().encode(
    x=alt.X("class:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
    xOffset=alt.XOffset("split:N", sort=["train", "validation", "test"]),
    y=alt.Y("count:Q", title="images"),
    color=alt.Color("split:N", sort=["train", "validation", "test"],
                    legend=alt.Legend(orient="top", title=None)),
    tooltip=["split", "class", alt.Tooltip("count:Q", format=",")],
).properties(height=320)
st.altair_chart(readable(chart), width="stretch")
spread = counts.groupby("split")["count"].agg(["min", "max"])
if (spread["max"] > 1.5 * spread["min"].clip(lower=1)).any():
    st.warning("The classes are unbalanced: accuracy alone can hide a rare class the model never gets right. "
               "Check per-class accuracy on the Evaluate page.")

# ---- images ---------------------------------------------------------------------------------------------
parts = {"train": splits.train, "validation": splits.val, "test": splits.test}
parts = {k: v for k, v in parts.items() if v is not None and len(v)}
urlstate.confine("split", parts, "train")
st.header("What do the images look like?")
if not urlstate.hidden("split"):
    st.radio("Images from the split", list(parts), key="split", horizontal=True, disabled=urlstate.locked("split"))
shown = parts[st.session_state["split"]]
c, h, w = shown.shape
st.caption(f"Each image: {c} channel{'s' if c > 1 else ''} ({'RGB colour' if c == 3 else 'grey'}) of "
           f"{h}×{w} pixels, enlarged here without smoothing.")
st.subheader("One image of each class")
st.image(explore.class_examples(shown, target=112))

st.subheader("Random images of each class")
classes = ["all classes", *shown.classes]
urlstate.confine("cls", classes, "all classes")
left, mid, right = st.columns([2, 2, 1], vertical_alignment="bottom")
with left:
    if not urlstate.hidden("cls"):
        st.selectbox("Class", classes, key="cls", disabled=urlstate.locked("cls"))
with mid:
    if not urlstate.hidden("per_class"):
        st.slider("Images per row", PER_ROW.start, PER_ROW.stop - 1, key="per_class",
                  disabled=urlstate.locked("per_class"))
with right:
    st.button("🎲 New random images", on_click=lambda: st.session_state.update(seed=st.session_state["seed"] + 1),
              disabled=urlstate.locked("seed"))
per_class, seed = st.session_state["per_class"], st.session_state["seed"]
if st.session_state["cls"] == "all classes":
    st.image(explore.class_rows(shown, per_class, seed, target=80))
else:
    k = shown.classes.index(st.session_state["cls"])
    st.image(explore.class_page(shown, k, per_class * 5, per_class, seed, target=80))
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

sample = explore.one_per_class(shown)[:8]
sample = [i for i in sample if i >= 0]
st.image(explore.normalisation_grid(shown, sample, splits.mean, splits.std))
st.image(explore.diverging_legend(), caption="Normalised value, in standard deviations from the channel mean")
st.caption("After normalisation every channel is centred on 0 (white): darker or less saturated parts become "
           "negative (blue), brighter parts positive (red). The image looks different to us but holds the "
           "same information; the network just learns faster on values of this size.")

st.subheader("Pixel values before and after")
rows = explore.random_per_class(parts["train"], 50, seed=0).ravel()
values = explore.value_histogram(explore.pick(parts["train"], rows[rows >= 0]), splits.mean, splits.std)
channel_colours = {"grey": "#333333", "red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4"}
present = list(dict.fromkeys(values["channel"]))
hist = alt.Chart(values).mark_line(interpolate="step-after", strokeWidth=2.5).encode(
    x=alt.X("start:Q", title="value"),
    y=alt.Y("share:Q", title="share of pixels (square-root scale)", scale=alt.Scale(type="sqrt"),
            axis=alt.Axis(format="%")),
    color=alt.Color("channel:N", sort=present, legend=alt.Legend(orient="top", title=None),
                    scale=alt.Scale(domain=present, range=[channel_colours.get(c, "#888") for c in present])),
    tooltip=["channel", alt.Tooltip("start:Q", format=".2f"), alt.Tooltip("share:Q", format=".1%")],
).properties(height=260, width=460).facet(
    column=alt.Column("stage:N", title=None, sort="descending"),
).resolve_scale(x="independent")
st.altair_chart(readable(hist))
st.caption("Left: pixel values scaled to 0…1. Right: the same pixels after normalisation: the same shape, moved "
           "so the mean is 0 and stretched so the standard deviation is 1 (from 50 training images of each "
           "class; the square-root scale keeps rare values visible).")

urlstate.publish()
