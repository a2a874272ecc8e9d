"""Train a model: choose the data, a network and a recipe, then watch the loss and accuracy curves grow.

Training runs in a background job owned by this session (one run at a time per session, a few per server:
`cnnviz.training.job`); a fragment polls it every second for the progress bar and the live curves, and Stop ends
it after the current batch. Each run is saved epoch by epoch under the runs folder.
"""
from __future__ import annotations

import streamlit as st

from app import urlstate
from app.urlstate import control

st.title("🏋️ Train a model")
st.markdown("#### Choose the data, a network and a recipe, press **Start**, and watch the network learn: "
            "the loss should fall and the accuracy rise, on the training images *and* on the validation images "
            "it never trains on.")

from app import recipe
from app.views import train as view
from cnnviz.datasets import data
from cnnviz.training import job as jobs
from cnnviz.training import segment, train
from models import resnet18
from models.train import custom_layers

JOB = view.JOB  # session_state key of this session's training job


def pick(host: jobs.Hosting, present: list[str], running: bool) -> tuple[train.TrainConfig | None, str]:
    """Data set, network and recipe; returns the config they describe (None with a reason when it cannot train)."""
    s = st.session_state
    datasets = [*recipe.DATASETS, *(d for d in present if d not in recipe.DATASETS)]
    control("selectbox", "Data set", "data", disabled=running, options=datasets, on_change=recipe.on_data_change,
            args=(host,), format_func=lambda d: recipe.DATASET_TITLES.get(d, d))
    nets = recipe.networks(s["data"])
    urlstate.confine("net", nets, nets[0])
    control("selectbox", "Network", "net", disabled=running, options=nets, on_change=recipe.on_net_change,
            args=(host,), format_func=recipe.network_title)
    if s["net"] == "resnet18":
        control("checkbox", "Start from ImageNet weights (transfer learning)", "pretrained", disabled=running,
                help="transfer learning: start from weights already trained on ImageNet's 1.2 million photos "
                     "instead of random ones, so the network reuses the edges and shapes it knows and learns faster")
        if s["pretrained"] and not resnet18.imagenet_cache_file().is_file():
            st.caption("⚠️ The ImageNet weights are not on this computer yet: starting downloads 45 MB, which needs "
                       "the internet. Offline, untick the box to train from scratch.")
    if s["net"] == segment.ARCH:
        recipe.draw_variants(running)
    recipe.draw(host, running)
    layers = None
    if s["net"] == recipe.CUSTOM:
        control("text_area", "Your network, one layer per line", "layers", disabled=running, height=260,
                help="the layer description of the Conv arithmetic lesson, e.g. `conv 32 k3 p1`, `relu`, "
                     "`pool max 2`, `flatten`, `linear 10`")
        if s["data"] not in recipe.INPUTS:
            return None, "Your own network needs MNIST or CIFAR-10 here (their input shapes are known)."
        layers, verdict = custom_layers(s["layers"], recipe.INPUTS[s["data"]], 10)
        st.markdown(verdict)
        if layers is None:
            return None, "Fix the network description first."
    try:
        return recipe.config(s, host, layers), ""
    except ValueError as exc:
        return None, str(exc)


# ---- the page -------------------------------------------------------------------------------------------
host = jobs.Hosting.from_env()
present = recipe.present(data.available())
recipe.init(host, present)
job: jobs.Job | None = st.session_state.get(JOB)
running = job is not None and not job.done
left, right = st.columns([1.25, 2], gap="large")
with left:
    st.subheader("Recipe")
    st.button("⚡ Live demo: learn in seconds", key="live_demo", disabled=running, width="stretch",
              on_click=recipe.live_demo, args=(host,),
              help="a small batch-norm network and a recipe tuned for time: MNIST past 98% in seconds, CIFAR-10 "
                   "to about 77% in a minute or two")
    config, problem = pick(host, present, running)
    if st.session_state["net"] in train.LIVE_DEMO and not running:
        st.info(recipe.LIVE_DEMO_NOTE[st.session_state["data"]], icon="⚡")
    available = st.session_state["data"] in present
    start = st.button("▶ Start training", key="start", type="primary", width="stretch",
                      disabled=running or config is None or not available)
    if running:
        st.caption("One run at a time: stop this one to change the recipe.")
    elif config is not None and config.dataset == recipe.SEGMENTS:
        st.caption(view.how_long(config))
    elif problem:
        st.warning(problem)
    if not available:
        st.warning(view.missing_data(st.session_state["data"]))
    with st.expander("🧪 What if…? Runs that fail on purpose", expanded=recipe.WHAT_IF in st.session_state):
        st.caption("One click sets up the recipe; press Start and look for what the sentence says.")
        for name, (label, _, _) in recipe.WHAT_IFS.items():
            st.button(label, key=f"whatif_{name}", disabled=running, width="stretch", on_click=recipe.what_if,
                      args=(name, host))
        if recipe.WHAT_IF in st.session_state:
            st.info(recipe.WHAT_IFS[st.session_state[recipe.WHAT_IF]][1], icon="👀")
    if start and config is not None:
        with st.spinner("Loading the images and building a fresh network…"):
            failure = view.launch(config, host)
        if failure:
            st.error(failure)
        else:
            st.rerun()

with right:
    @st.fragment(run_every=1.0 if running else None)
    def panel() -> None:
        """Redrawn every second while training; draws the whole page again once training ends."""
        current: jobs.Job | None = st.session_state.get(JOB)
        if running and current is not None and current.done:
            st.rerun(scope="app")
        if current is None:
            view.intro(config)
        elif not current.done:
            view.progress(current)
        else:
            view.results(current)

    panel()

urlstate.publish()
