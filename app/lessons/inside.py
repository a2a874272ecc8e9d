"""Inside a model: one image through every layer — feature maps, filters, where the network looks, predictions."""
import streamlit as st

from app import nav, urlstate, widgets

st.title("🔬 Inside a model")
INTRO = ("Give a trained network one picture and watch what **every layer** makes of it: the maps each filter "
         "lights up, the filters themselves, and the part of the picture the answer came from.")

from app.views import inside as show
from cnnviz.inside import render

# Layers, channels and classes depend on the model: the views confine them once it is known.
urlstate.init({"guess": False, "imagenet": False, "view": "maps", "norm": "channel", "cmap": "viridis",
               "sort": "index", "layer": "", "ch": 0, "flayer": "", "cam_layer": "", "cam_class": -1, "opacity": 0.5,
               "cmp_layer": ""},
              allowed={"view": show.VIEWS, "norm": show.NORMS, "cmap": render.COLORMAPS, "sort": show.SORTS,
                       "ch": lambda c: c >= 0, "cam_class": lambda c: c >= -1,  # -1: the predicted class
                       "opacity": lambda o: show.OPACITY[0] <= o <= show.OPACITY[1]})
# On a projector a teacher's link shows its view first (unless the class guesses first); what goes in and what
# comes out follow below it.
view_first = urlstate.teacher_mode() and not st.session_state["guess"]
if not view_first:
    st.markdown(INTRO)

# ---- the model ------------------------------------------------------------------------------------------------
left, right = st.columns([1, 1], gap="large")
with left:
    choice = widgets.model_picker("model")
    urlstate.control("toggle", "🤔 Guess the answer first", "guess",
                     help="The answer, the feature maps and where the network looks stay hidden until you lock "
                          "in a class.")
    if not urlstate.teacher_mode():  # the U-Net answers per pixel: its maps, encoder beside decoder, have a page
        nav.link("segment", "The U-Net's encoder and decoder maps", left)
spec = show.spec_or_stop(choice)
imagenet = show.imagenet_switch(choice, left)  # ResNet18's ImageNet weights, if here and switched on
if imagenet:
    spec = show.imagenet_spec(imagenet)
twin = show.untrained(spec)  # the same network before training: (model, key)
model = show.trained_or_untrained(spec, imagenet, twin)  # (model, key, trained)

# ---- the image ----------------------------------------------------------------------------------------------
with right:
    image = widgets.image_picker(spec.dataset, preview=False)
if image is None:
    st.info("Pick an image above: a sample photo, a test image, your own upload, the camera or a drawing.")
    st.stop()

x = show.model_input(image, choice, spec, imagenet is not None)  # (C, H, W), exactly what the model is fed
s = show.subject(model, twin, x, spec)


# ---- the views ----------------------------------------------------------------------------------------------
@st.fragment
def views(s: show.Subject) -> None:
    """The five views: the switch or a control in them reruns just this part (not the model, the image, the chart).

    A segmented control, not tabs: each rerun redraws it in every student's browser (one student alone, median of
    3 x 8: 30-50 ms less browser CPU per upload, 10-45 ms per switch to Grad-CAM). A link can hide or lock it too.
    """
    urlstate.confine("view", show.VIEWS, "maps")
    for key, options in (("norm", list(show.NORMS)), ("cmap", list(render.COLORMAPS)), ("sort", list(show.SORTS))):
        urlstate.confine(key, options, options[0])  # every view draws the maps in these, shown or not
    urlstate.control("segmented_control", "View", "view", options=list(show.VIEWS), format_func=show.VIEWS.get,
                     required=True, label_visibility="collapsed")
    show.view(st.session_state["view"], s)
    urlstate.publish()


if view_first:
    views(s)

# ---- what goes in -------------------------------------------------------------------------------------------
st.subheader("What goes in")
show.what_goes_in(image, choice, spec, imagenet is not None)

# ---- what comes out -----------------------------------------------------------------------------------------
st.subheader("What comes out")
guess = show.committed_guess(s) if st.session_state["guess"] else None
show.answer(s, spec, imagenet is not None)
if widgets.blank(image, choice):
    show.blank_note(s, spec)
if s.trained and not imagenet:
    show.same_subject_links()
if guess is not None:
    show.guess_feedback(s, guess)

if not view_first:
    views(s)
