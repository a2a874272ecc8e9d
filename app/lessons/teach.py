"""Teach it your classes: name 2-5 classes, give each a handful of pictures, and a trained network learns them in
seconds (transfer learning: its layers stay, only a new last layer is fitted); then open it on every page."""
import streamlit as st

st.title("🧑‍🏫 Teach it your classes")
st.markdown("Name a few classes (your pens, your faces, thumbs up and thumbs down…) and give each one a handful of "
            "pictures: **20 a class is plenty**. A network already trained on 50,000 photos keeps all its layers "
            "as they are and only gets a **new last layer**, one score per class of yours: that is *transfer "
            "learning*, and it takes seconds.")
st.info("Your pictures stay in this tab: close it and they are gone. They are not saved or put in links; only the "
        "taught model is kept, listed for this browser alone.", icon="🔒")

from app.views import teach as view
from cnnviz.training import teach

# ---- your classes ------------------------------------------------------------------------------------------------
st.header("1. Your classes and their pictures")
names = view.class_names()
for index, column in enumerate(st.columns(len(names), gap="medium")):
    with column:
        view.class_column(index)
pictures = view.all_pictures(len(names))

# ---- teach -------------------------------------------------------------------------------------------------------
st.header("2. Teach it")
base = view.base_picker()
st.caption(f"A quarter of each class's pictures ({teach.HOLD_OUT:.0%}, at least one) is kept aside and never "
           "learned from: the test of how it does on pictures it has not seen.")
try:
    teach.check(names, pictures)
    ready = True
except ValueError as exc:
    st.info(str(exc), icon="👉")
    ready = False
if st.button("🏋️ Train", type="primary", disabled=not ready):
    view.train(names, pictures, base)

# ---- what it learned ---------------------------------------------------------------------------------------------
found = view.latest()
if found is None:
    st.stop()
run, trunk, taught = found
st.header("3. How well it learned")
counts = ", ".join(f"{n} of {c}" for n, c in zip(taught.pictures.class_counts(), taught.pictures.classes))
st.caption(f"The model `{run}`: taught from {counts}, on the trunk of {trunk}.")
view.results(taught)
st.header("4. Try it")
view.try_it(taught, trunk)
st.header("5. Look inside it")
st.markdown("The new model is listed in every page's model picker (in this browser only). Its pictures open with it "
            "while this tab stays open.")
view.links(run)
