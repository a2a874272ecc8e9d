"""The embedding projector: where the network puts 1,000 test images, before and after it learned."""
import streamlit as st

from app import nav, state, urlstate, widgets

st.title("🌌 Embedding projector")
st.markdown("Just before it answers, the network turns each image into a long list of numbers. Squash those lists "
            "onto a flat map and look: **after training, images of one class gather together**; before, they are "
            "mixed. Hover a point to see its image, click it to open it, drag over a region to see its images.")

from app.views import inside
from app.views import learned as show

METHODS = {"tsne": "t-SNE", "pca": "PCA"}
nav.came_back()  # Back from Inside: the map the student left
urlstate.init({"method": "tsne"}, allowed={"method": METHODS})

left, right = st.columns(2, gap="large")
with left:
    choice = widgets.model_picker("model")
spec = inside.spec_or_stop(choice)
show.trained_or_stop(spec)
with right:
    method = urlstate.control("segmented_control", "Map", "method", options=list(METHODS), format_func=METHODS.get,
                              required=True, help="t-SNE keeps each image near its nearest neighbours; PCA keeps "
                                                  "the two directions in which the images differ most.")

show.images_or_stop(spec)  # a taught model's pictures are only in the tab that taught it
bar = st.progress(0.0, text="Placing 1,000 test images (once per model)…")
before = state.embedding(spec, trained=False, progress=lambda f: bar.progress(f, text=f"Untrained: {f:.0%}"))
after = state.embedding(spec, trained=True, progress=lambda f: bar.progress(f, text=f"Trained: {f:.0%}"))
bar.empty()

untrained, trained = st.columns(2, gap="large")
show.separation_metric(untrained, before, method)
show.separation_metric(trained, after, method, before)
picked = show.projector(spec, before, method, "Untrained (random weights)", "map_before", untrained)
picked = show.projector(spec, after, method, "Trained", "map_after", trained) or picked
if picked:
    show.gallery(picked, spec, choice)
urlstate.publish()
