"""What a channel learned: the test images that excite it most, and a picture made to excite it as much as possible."""
import streamlit as st

from app import nav, urlstate, widgets

st.title("🧠 What a channel learned")
st.markdown("Each channel of a trained network has learned to look for something. Two ways to see what: the **test "
            "images that excite it most** (with the patch it answered to outlined), and a **picture made from noise** "
            "to excite it as strongly as possible. Before training, the same channel wants only noise.")

from app.views import inside
from app.views import learned as show

nav.came_back()  # Back from Inside: the layer, channel and page the student left
urlstate.init({"layer": "", "ch": 0, "low": False, "steps": 128, "seed": 0, "lpage": 1},
              allowed={"ch": lambda c: c >= 0, "steps": show.STEPS, "seed": range(0, 1000),
                       "lpage": lambda p: p >= 1})

# ---- pick a model, a layer and a channel ------------------------------------------------------------------------
left, right = st.columns(2, gap="large")
with left:
    choice = widgets.model_picker("model")
spec = inside.spec_or_stop(choice)
model, key = show.trained_or_stop(spec)
twin, twin_key = inside.untrained(spec)
with right:
    layer, channel, count = show.pick_layer_and_channel(model, spec)

# ---- one channel ------------------------------------------------------------------------------------------------
st.subheader(f"Channel {channel} of {show.layer_title(layer)}")
made, found = st.columns([1, 2], gap="large")
with made:
    st.markdown("**A picture made to excite it** (from noise, by gradient ascent)")
    settings = st.columns(2)
    urlstate.control("select_slider", "Steps", "steps", settings[0], options=show.STEPS,
                     help="How many times the picture is nudged towards what the channel wants.")
    urlstate.control("number_input", "Seed", "seed", settings[1], min_value=0, max_value=999, step=1,
                     help="The starting noise: another seed, another picture of the same idea.")
    trained, untrained = st.columns(2)
    show.synthesis(model, key, spec, layer, channel, trained, "trained")
    show.synthesis(twin, twin_key, spec, layer, channel, untrained, "untrained (random weights)")
with found:
    low = urlstate.control("toggle", "Show the images that excite it least", "low")
    st.markdown(f"**The test images that excite it {'least' if low else 'most'}** (value: the channel's strongest "
                "response; outlined: the patch of the image that response saw)")
    show.top_examples(model, spec, layer, channel, choice, bool(low))

# ---- the whole layer --------------------------------------------------------------------------------------------
st.subheader(f"Every channel of {show.layer_title(layer)}")
st.caption("Top: the picture made for the channel. Below: its favourite test image. Click a name to study it above.")
show.layer_glance(model, key, spec, layer, count)
urlstate.publish()
