"""Fool the network: noise too faint to see that changes what a trained network answers."""
import streamlit as st

from app import state, urlstate

st.title("🎭 Fool the network")
st.markdown("Change every pixel of a picture by a few grey levels, each in the direction that hurts the network "
            "most (the sign of the gradient of its loss), and a network that was sure becomes sure of something "
            "else. You will not see the difference; the network does.")

import numpy as np

import models
from app import charts
from app.views import fool, inside
from cnnviz.inside import attack, render
from cnnviz.results import robustness

METHODS = {"fgsm": "FGSM", "pgd": "PGD"}
urlstate.init({"method": "fgsm", "eps": 4, "aim": -1, "change": "rotation"},
              allowed={"method": METHODS, "eps": range(0, 17), "aim": lambda c: c >= -1,
                       "change": robustness.CHANGES})

picked = inside.model_and_picture()
spec, model, key, x, digest, before = picked.spec, picked.model, picked.key, picked.x, picked.digest, picked.probs
x1 = x[None]
truth = int(np.argmax(before))

settings = st.columns([1, 1.5, 1.5], gap="large")
urlstate.control("segmented_control", "Attack", "method", settings[0], options=list(METHODS),
                 format_func=METHODS.get, required=True,
                 help="FGSM: one step of ε. PGD: ten smaller steps, each kept within ε of the original: stronger.")
eps = urlstate.control("slider", "ε: how far each pixel may move (in 255ths)", "eps", settings[1], min_value=0,
                       max_value=16, help="8/255 moves each colour channel of each pixel by at most 8 of its 255 "
                                          "levels: invisible to people, enough for most networks.")
classes = list(spec.classes)
urlstate.confine("aim", range(-1, len(classes)), -1)
aim = urlstate.control("selectbox", "Make it say", "aim", settings[2], options=range(-1, len(classes)),
                       format_func=lambda c: "anything but what it says now" if c == -1 else classes[c])
adv = state.adversarial(key, digest, st.session_state["method"], eps / 255, truth if aim == -1 else aim, aim != -1,
                        model, x1, spec.mean, spec.std)
after = state.probabilities(key, inside.digest(adv[0]), model, adv)

seen = render.input_picture(x, spec.mean, spec.std, size=fool.SIDE)
pushed = render.input_picture(adv[0], spec.mean, spec.std, size=fool.SIDE)
change, gain = fool.magnified(seen, pushed, eps)
best = int(np.argmax(after))
original, push, fooled = st.columns(3)
original.image(seen, width=fool.SIDE, caption="what you gave it", alt="the picture as the model sees it")
original.markdown(f"**{classes[truth]}**, {before[truth]:.0%} sure")
push.image(change, width=fool.SIDE, caption=f"the push, magnified {gain:.0f}× (grey: no change)",
           alt="the change to each pixel, magnified")
fooled.image(pushed, width=fool.SIDE, caption="what it is given now", alt="the pushed picture")
fooled.markdown(f"**{classes[best]}**, {after[best]:.0%} sure")
if best != truth:
    st.success(f"Fooled: the network now says **{classes[best]}** instead of **{classes[truth]}**, after every pixel "
               f"moved by at most {eps}/255.", icon="🎭")
elif eps:
    st.info(f"Not fooled at ε = {eps}/255: it still says **{classes[truth]}** ({after[truth]:.0%}). Try a larger ε "
            "or PGD.")

st.subheader("What moved inside")
growth = attack.growth(model, x1, adv)
words, chart = st.columns([1, 2], gap="large")
words.markdown(f"The push changed the picture by **{growth['input']:.0%}** (its size against the picture's). Each "
               "layer passes the change on, and grows it: at the last layer the scores changed by "
               f"**{list(growth.values())[-1]:.0%}**.")
charts.show(fool.growth_chart(growth), chart, width="stretch")
fool.cams_before_and_after(key, (seen, pushed), (digest, inside.digest(adv[0])), model, (x1, adv), (truth, best),
                           classes)

st.subheader("Every model here is fragile")
zoo = [n for n, e in models.ZOO.items() if e.dataset == spec.dataset and e.checkpoint.is_file()]
if st.button(f"📉 Measure {len(zoo)} zoo models on the same {state.ATTACKED} test images",
             help="PGD at each ε, then rotations, shifts and black squares of growing size; once per checkpoint, "
                  "then kept.") or st.session_state.get("fragile_shown"):
    st.session_state["fragile_shown"] = True
    attacked = fool.measured(zoo, "Attacking", state.robustness)
    charts.show(fool.fragility_chart(attacked, robustness.EPSILONS, "ε (in 255ths)"), width="stretch")
    st.markdown("#### …and to everyday changes")
    kind = urlstate.control("segmented_control", "Change every test picture by", "change",
                            options=list(robustness.CHANGES), format_func=str.capitalize, required=True)
    sizes = robustness.CHANGES[kind]
    fool.change_examples(x, spec, kind, sizes)
    changed = fool.measured(zoo, "Changing", lambda s, progress: state.change_robustness(s, kind, progress))
    charts.show(fool.fragility_chart(changed, sizes, f"{kind} ({robustness.UNITS[kind]})"), width="stretch")
    st.caption("Training with augmentation (random crops, flips, small rotations) teaches a network to shrug off "
               "some of these; nothing here teaches it to shrug off a push chosen against it.")
urlstate.publish()
