"""Why it answers: six ways to colour the pixels behind an answer, and two checks that tell them apart."""
import streamlit as st

from app import state, urlstate

st.title("💡 Why it answers")
st.markdown("Six methods each colour the pixels that made the network give its answer, and they disagree. Two "
            "checks tell them apart: painting over the pixels a map calls important (does the answer fall?), and "
            "destroying the network's weights (does the map notice?).")

import numpy as np

from app import charts
from app.views import inside, why
from cnnviz.inside import attribution, render

STEPS = (8, 16, 32, 64, 128)
urlstate.init({"methods": list(attribution.METHODS), "explain": -1, "baseline": "black", "steps": 64, "window": 4,
               "stride": 2},
              allowed={"methods": attribution.METHODS, "explain": lambda c: c >= -1, "baseline": attribution.BASELINES,
                       "steps": STEPS, "window": range(1, 17), "stride": range(1, 9)})

picked = inside.model_and_picture()
spec, model, key, x, digest, probs, left = (picked.spec, picked.model, picked.key, picked.x, picked.digest,
                                             picked.probs, picked.where)
x1 = x[None]
classes, best = list(spec.classes), int(np.argmax(probs))

target = why.chosen_class(classes, best, left)
side = x.shape[-1]
with left.popover("⚙️ Settings of integrated gradients and occlusion"):
    urlstate.control("radio", "Integrated gradients start from", "baseline", options=list(attribution.BASELINES),
                     format_func=attribution.BASELINES.get)
    urlstate.control("select_slider", "Integrated gradients: steps on the path", "steps", options=STEPS)
    urlstate.confine("window", range(1, min(side, 16) + 1), 4)
    urlstate.control("slider", "Occlusion: square (pixels)", "window", min_value=1, max_value=min(side, 16))
    urlstate.control("slider", "Occlusion: slide (pixels)", "stride", min_value=1, max_value=8)
chosen = urlstate.control("pills", "Methods", "methods", options=list(attribution.METHODS),
                          format_func=attribution.METHODS.get, selection_mode="multi")
settings = attribution.Settings(st.session_state["baseline"], int(st.session_state["steps"]),
                                window=int(st.session_state["window"]), stride=int(st.session_state["stride"]))
if not chosen:
    st.info("Pick at least one method above.")
    st.stop()
order = tuple(m for m in attribution.METHODS if m in chosen)
maps, curves = state.explanations(key, digest, target, settings, order, model, x1, spec.mean, spec.std)

st.markdown(f"The network says **{classes[best]}** ({probs[best]:.0%}). Which pixels made the score of "
            f"**{classes[target]}** go up? Bright = most, black = none.")
why.method_tiles(render.input_picture(x, spec.mean, spec.std, size=why.TILE), maps, why.areas_caption(curves))
if "occlusion" in maps:
    pixels = render.input_picture(x, spec.mean, spec.std, size=side)
    at = why.worst_window(maps["occlusion"], settings.window, settings.stride)
    with st.expander(f"How occlusion works: a {settings.window}-pixel black square slides {settings.stride} "
                     f"pixels at a time"):
        slide, words = st.columns([1, 2])
        slide.image(why.occlusion_slide(pixels, settings.window, settings.stride, at), width=192,
                    alt="the picture with the black square where it hurt the answer most")
        positions = len(range(0, side - settings.window + 1, settings.stride)) ** 2
        words.markdown(f"The square is painted at {positions} places (orange ticks: where it starts), and each "
                       "time the network answers again. A pixel's brightness in the map is how much the score "
                       f"fell, on average, while it was covered. Shown: the place that hurt **{classes[target]}** "
                       "most.")

st.subheader("Which map is right? Paint the important pixels black")
st.markdown("Each line paints the pixels its map calls most important first. A faithful map makes the "
               "probability fall fast: a small area under its line. The dashed line paints them in a random "
               f"order (area {attribution.area(curves[why.RANDOM]):.2f}). Scattered black holes are new to a "
               "network too, so random often wins on small pictures: then the area says more about the holes than "
               "about the map.")
charts.show(why.deletion_chart(curves), width="stretch")

st.subheader("Sanity check: destroy the network, does the map notice?")
st.markdown("Re-initialise the weights from the top layer down, one layer at a time (Adebayo et al., 2018). A map "
            "that explains the **network** changes; one that explains only the **picture** stays the same.")
if st.button("🎲 Run the sanity check", help="Every chosen method at every stage; a few seconds.") or (
        st.session_state.get("sanity_for") == (key, digest, target, settings, order)):
    st.session_state["sanity_for"] = (key, digest, target, settings, order)
    bar = st.progress(0.0, text="Re-initialising layers…")
    stages = state.sanity_check(key, digest, target, settings, order, model, x1, spec.mean, spec.std,
                                lambda f: bar.progress(f, text=f"Re-initialising layers: {f:.0%}"))
    bar.empty()
    charts.show(why.sanity_chart(stages), width="stretch")
    shown = st.select_slider("Show the maps with layers re-initialised up to", options=range(len(stages)),
                             value=len(stages) - 1, format_func=lambda k: why.stage_name(stages[k]), key="stage")
    st.caption("Top: trained. Bottom: after re-initialising. ρ: their rank correlation (1 = same order).")
    why.sanity_tiles(stages, shown)
urlstate.publish()
