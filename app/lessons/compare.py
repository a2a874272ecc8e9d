"""Compare runs: overlay the learning curves of runs and shipped models; seeds of one recipe as mean and band."""
from __future__ import annotations

import time

import streamlit as st

from app import nav, state, urlstate

st.title("📈 Compare runs")
st.markdown("#### Put learning curves side by side. Runs with the same recipe and different seeds are drawn as "
            "their **mean** with a **band from the lowest to the highest** value: how much of a difference is luck?")

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402

import models  # noqa: E402
from cnnviz.results import compare, export  # noqa: E402

SPLITS = {"validation": "val", "train": "train"}
CURVES = {"acc": "accuracy", "loss": "loss"}  # what the chart shows, for the switch and for the link alike
BIG = {"labelFontSize": 16, "titleFontSize": 18}


def zoo_entries() -> list[compare.Entry]:
    """The shipped checkpoints that exist, with the history stored in their model cards."""
    entries = []
    for name in models.names():
        path = models.ZOO[name].checkpoint
        if not path.is_file():
            continue
        try:
            meta = state.checkpoint_meta(str(path), path.stat().st_mtime_ns)
        except models.CheckpointError:
            continue
        entry = compare.from_card(name, meta)
        if entry.history:
            entries.append(entry)
    return entries


def describe(entry: compare.Entry) -> str:
    """What the picker shows for one entry: model, data, seed, status and test accuracy."""
    c = entry.config
    test = entry.metrics.get("test_acc")
    when = ""
    if entry.source == "run":
        try:
            when = " · " + time.strftime("%d %b %H:%M", time.strptime(entry.label[:15], "%Y%m%d-%H%M%S"))
        except ValueError:
            pass
    return (f"{'📦 shipped ' if entry.source == 'zoo' else ''}{c.get('model', '?')} on {c.get('dataset', '?')}"
            f" · seed {c.get('seed', '?')}{when} · {entry.status or '?'}"
            + (f" · test {test:.1%}" if test is not None else f" · {len(entry.history)} epochs"))


def series(groups: dict[str, list[compare.Entry]], banded: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lines, bands): one line per run, or per recipe (mean) when seeds are banded; bands for those recipes."""
    labels = compare.differences([members[0].config for members in groups.values()])
    lines, bands = [], []
    for label, members in zip(labels, groups.values()):
        if banded and len(members) > 1:
            name = f"{label} (mean of {len(members)} runs)"
            for split, key in SPLITS.items():
                for kind in ("loss", "acc"):
                    for row in compare.band([m.history for m in members], f"{key}_{kind}"):
                        lines.append({"series": name, "split": split, "kind": kind, "epoch": row["epoch"],
                                      "value": row["mean"]})
                        bands.append({"series": name, "split": split, "kind": kind, "epoch": row["epoch"],
                                      "low": row["min"], "high": row["max"]})
        else:
            for m in members:
                name = m.label if m.source == "zoo" else f"{label} · seed {m.config.get('seed', '?')} ({m.label[9:15]})"
                if len(groups) == 1 and len(members) == 1:
                    name = m.label
                for row in compare.long_rows([m]):
                    split = "validation" if row["split"] == "val" else "train"
                    lines.append({"series": name, "split": split, "kind": row["kind"], "epoch": row["epoch"],
                                  "value": row["value"]})
    return (pd.DataFrame(lines, columns=["series", "split", "kind", "epoch", "value"]),
            pd.DataFrame(bands, columns=["series", "split", "kind", "epoch", "low", "high"]))


def chart(lines: pd.DataFrame, bands: pd.DataFrame, kind: str, splits: list[str]) -> alt.Chart:
    lines = lines[(lines["kind"] == kind) & lines["split"].isin(splits)]
    bands = bands[(bands["kind"] == kind) & bands["split"].isin(splits)]
    accuracy = kind == "acc"
    y_axis = alt.Axis(format="%" if accuracy else "~g")
    colour = alt.Color("series:N", title=None, scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(
        orient="bottom", direction="vertical", labelFontSize=16, labelLimit=900, symbolSize=300, symbolOpacity=1))
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1))
    dash = alt.StrokeDash("split:N", scale=alt.Scale(domain=["validation", "train"], range=[[1, 0], [6, 4]]),
                          legend=None)  # explained by the line above the chart
    line = alt.Chart(lines).mark_line(point=alt.OverlayMarkDef(size=50), strokeWidth=3).encode(
        x=x, y=alt.Y("value:Q", title="accuracy" if accuracy else "loss", axis=y_axis,
                     scale=alt.Scale(zero=False)), color=colour, strokeDash=dash,
        tooltip=["series:N", "split:N", "epoch:Q", alt.Tooltip("value:Q", format=".2%" if accuracy else ".4f")])
    layers = [line]
    if len(bands):
        layers.insert(0, alt.Chart(bands).mark_area(opacity=0.2).encode(
            x=x, y=alt.Y("low:Q"), y2="high:Q", color=colour, detail="split:N",
            tooltip=["series:N", "split:N", "epoch:Q", alt.Tooltip("low:Q", title="lowest", format=".4f"),
                     alt.Tooltip("high:Q", title="highest", format=".4f")]))
    return alt.layer(*layers).properties(height=460).configure_axis(**BIG)


# ---- the page -------------------------------------------------------------------------------------------
runs = [compare.from_run(r) for r in state.visible_runs()]
entries = {e.label: e for e in zoo_entries() + runs}
urlstate.init({"pick": [e.label for e in entries.values() if e.source == "zoo"][:4], "kind": "acc",
               "splits": ["validation", "train"], "band": True},
              allowed={"kind": CURVES, "splits": SPLITS, "band": (True, False)})
urlstate.confine("pick", entries, [p for p in st.session_state["pick"] if p in entries])  # runs come and go

if not entries:
    st.info("Nothing to compare yet: no shipped checkpoint has a history and no run has been saved. Train a model "
            "on the Train page; every run is saved and appears here.")
    urlstate.publish()
    st.stop()

if not urlstate.hidden("pick"):
    st.multiselect("Runs to compare", list(entries), key="pick", format_func=lambda k: describe(entries[k]),
                   disabled=urlstate.locked("pick"),
                   help="📦 the shipped zoo models (their training history is in their model cards); the others "
                        "are runs trained on the Train page, newest first")
c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
with c1:
    if not urlstate.hidden("kind"):
        st.segmented_control("Curve", list(CURVES), key="kind", format_func=CURVES.get,
                             disabled=urlstate.locked("kind"))
with c2:
    if not urlstate.hidden("splits"):
        st.pills("Images", list(SPLITS), key="splits", selection_mode="multi", disabled=urlstate.locked("splits"))
with c3:
    if not urlstate.hidden("band"):
        st.toggle("Seeds of one recipe: mean and min–max band", key="band", disabled=urlstate.locked("band"))

chosen = [entries[k] for k in st.session_state["pick"]]
if not chosen:
    st.info("Pick one or more runs above.")
    urlstate.publish()
    st.stop()

groups = compare.group_by_config(chosen)
lines, bands = series(groups, bool(st.session_state["band"]))
kind = st.session_state["kind"] or "acc"
splits = list(st.session_state["splits"] or ["validation"])
st.html("<div style='font-size:1.15rem'><b>━━</b> validation images (never trained on) &nbsp;&nbsp; "
        "<b>╍╍</b> training images &nbsp;&nbsp; shaded: lowest to highest over the runs of one recipe</div>")
st.altair_chart(chart(lines, bands, kind, splits), width="stretch")

st.subheader("Final results, mean ± standard deviation over the runs of each recipe")
table = pd.DataFrame(compare.summary_rows(groups))
results = table[["configuration", "seeds", "train_loss", "train_acc", "val_acc", "test_acc"]].rename(columns={
    "configuration": "recipe (what differs)", "seeds": "runs", "train_loss": "train loss",
    "train_acc": "train accuracy",
    "val_acc": "validation accuracy", "test_acc": "test accuracy"})
st.dataframe(results, hide_index=True, width="stretch")
st.download_button("⬇ Results (CSV)", lambda: export.csv(results), file_name="compare-runs.csv", mime="text/csv",
                   on_click="ignore")
st.caption("± is the sample standard deviation over the runs (n − 1 in the denominator); a recipe with one run "
           "shows its value alone. Runs that were stopped or killed count with the weights they kept; a run "
           "without final figures shows –.")

nav.link("train", "🏋️ Train another run (change the seed to add one to a band)")
urlstate.publish()
