"""Compare runs: overlay the learning curves of runs and shipped models; seeds of one recipe as mean and band;
then whether two recipes really differ, or only by the luck of the seed."""
from __future__ import annotations

import streamlit as st

from app import charts, nav, state, urlstate

st.title("📈 Compare runs")
st.markdown("#### Put learning curves side by side. Runs with the same recipe and different seeds are drawn as "
            "their **mean** with a **band from the lowest to the highest** value: how much of a difference is luck?")

import altair as alt
import pandas as pd

from app.views import compare as view
from cnnviz.results import compare, export
from cnnviz.training.job import Hosting

SPLITS = ["validation", "train"]  # the images whose curves are drawn, for the switch and for the link alike
CURVES = {"acc": "accuracy", "loss": "loss"}
RESULTS = {"configuration": "recipe (what differs)", "seeds": "runs", "train_loss": "train loss",
           "train_acc": "train accuracy", "val_acc": "validation accuracy", "test_acc": "test accuracy"}


def chart(lines: pd.DataFrame, bands: pd.DataFrame, kind: str, splits: list[str]) -> alt.LayerChart:
    """The `kind` curves of `splits`: validation solid, train dashed, each band shaded in its line's colour."""
    lines = lines[(lines["kind"] == kind) & lines["split"].isin(splits)]
    bands = bands[(bands["kind"] == kind) & bands["split"].isin(splits)]
    accuracy = kind == "acc"
    colour = alt.Color("series:N", title=None, scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(
        orient="bottom", direction="vertical", labelFontSize=16, labelLimit=900, symbolSize=300, symbolOpacity=1))
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1))
    dash = alt.StrokeDash("split:N", scale=alt.Scale(domain=SPLITS, range=[[1, 0], [6, 4]]),
                          legend=None)  # explained by the line above the chart
    line = alt.Chart(lines).mark_line(point=alt.OverlayMarkDef(size=50), strokeWidth=3).encode(
        x=x, y=alt.Y("value:Q", title=CURVES[kind], axis=alt.Axis(format="%" if accuracy else "~g"),
                     scale=alt.Scale(zero=False)), color=colour, strokeDash=dash,
        tooltip=["series:N", "split:N", "epoch:Q", alt.Tooltip("value:Q", format=".2%" if accuracy else ".4f")])
    layers = [line]
    if len(bands):
        layers.insert(0, alt.Chart(bands).mark_area(opacity=0.2).encode(
            x=x, y=alt.Y("low:Q"), y2="high:Q", color=colour, detail="split:N",
            tooltip=["series:N", "split:N", "epoch:Q", alt.Tooltip("low:Q", title="lowest", format=".4f"),
                     alt.Tooltip("high:Q", title="highest", format=".4f")]))
    return alt.layer(*layers).properties(height=460)


# ---- the page -------------------------------------------------------------------------------------------
entries = {e.label: e for e in compare.zoo_entries(state.zoo_metas())
           + [compare.from_run(r) for r in state.visible_runs()]}
urlstate.init({"pick": [e.label for e in entries.values() if e.source == "zoo"][:4], "kind": "acc",
               "splits": list(SPLITS), "band": True},
              allowed={"kind": CURVES, "splits": SPLITS, "band": (True, False)})
urlstate.confine("pick", entries, [p for p in st.session_state["pick"] if p in entries])  # runs come and go

if not entries:
    st.info("Nothing to compare yet: no shipped checkpoint has a history and no run has been saved. Train a model "
            "on the Train page; every run is saved and appears here.")
    urlstate.publish()
    st.stop()

urlstate.control("multiselect", "Runs to compare", "pick", options=list(entries),
                 format_func=lambda k: compare.describe(entries[k]),
                 help="📦 the shipped zoo models (their training history is in their model cards); the others "
                      "are runs trained on the Train page, newest first")
c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
urlstate.control("segmented_control", "Curve", "kind", where=c1, options=list(CURVES), format_func=CURVES.get)
urlstate.control("pills", "Images", "splits", where=c2, options=SPLITS, selection_mode="multi")
urlstate.control("toggle", "Seeds of one recipe: mean and min–max band", "band", where=c3)

chosen = [entries[k] for k in st.session_state["pick"]]
if chosen:
    groups = compare.group_by_config(chosen)
    lines, bands = compare.series(groups, bool(st.session_state["band"]))
    st.html("<div style='font-size:1.15rem'><b>━━</b> validation images (never trained on) &nbsp;&nbsp; "
            "<b>╍╍</b> training images &nbsp;&nbsp; shaded: lowest to highest over the runs of one recipe</div>")
    charts.show(chart(lines, bands, st.session_state["kind"] or "acc",
                      list(st.session_state["splits"] or SPLITS[:1])), width="stretch")

    st.subheader("Final results, mean ± standard deviation over the runs of each recipe")
    results = pd.DataFrame(compare.summary_rows(groups))[list(RESULTS)].rename(columns=RESULTS)
    st.dataframe(results, hide_index=True, width="stretch")
    st.download_button("⬇ Results (CSV)", lambda: export.csv(results), file_name="compare-runs.csv",
                       mime="text/csv", on_click="ignore")
    st.caption("± is the sample standard deviation over the runs (n − 1 in the denominator); a recipe with one run "
               "shows its value alone. Runs that were stopped or killed count with the weights they kept; a run "
               "without final figures shows –.")
else:
    st.info("Pick one or more runs above to see their curves.")

st.divider()
view.panel(list(entries.values()), Hosting.from_env())

nav.link("train", "Train another run (change the seed to add one to a band)")
urlstate.publish()
