"""The Compare page's "Is the difference real?" panel: two recipes' final figures, the tests, and more seeds.

The numbers and the verdict come from `cnnviz.results.significance`; this module draws them. More seeds train
through the Train page's own job (`app.views.train.launch`): one run at a time per session, the rest waiting in a
short queue kept in the session, started by this page when the run before has ended.
"""
from __future__ import annotations

import math
from dataclasses import asdict, fields, replace

import altair as alt
import pandas as pd
import streamlit as st

from app import charts, nav
from app.views import train as train_view
from cnnviz.results import compare, significance
from cnnviz.results.compare import Entry
from cnnviz.training import train
from cnnviz.training.job import Hosting, plural

QUEUE = "compare.queue"      # session_state: (config, recipe name) of the runs waiting for this session's job
NOTE = "compare.note"        # session_state: why the last press did not queue everything, or a start failed
WATCHED = "compare.watched"  # session_state: the run this page saw training, so that its end refreshes the page
MAX_QUEUE = 5                # runs waiting at once per session
MAX_SEEDS = 5                # runs per recipe that the button tops a recipe up to
NAMES = ("A", "B")
METRICS = {"test_acc": "test accuracy", "val_acc": "validation accuracy", "train_acc": "training accuracy",
           "test_loss": "test loss", "val_loss": "validation loss", "train_loss": "training loss",
           "mean_iou": "mean IoU", "foreground_f1": "foreground F1"}
HELP = {  # each term of the panel, for a student who meets it here first
    "recipe": "a recipe is every setting of a run except its seed; the runs of one recipe differ only by the luck "
              "of their seed (first weights, order of the images, augmentation)",
    "metric": "the figure each run measured once at its end; a run without it (diverged, stopped before "
              "measuring, still running) is left out",
    "mean": "the mean is the average of the runs' final figures; ± the standard deviation, how far a typical run "
            "lies from that average (n − 1 in the denominator); n counts the runs with a final figure",
    "z": "the course report's z-score: the difference of the means divided by √(σA² + σB²), the spread of single "
         "runs. Around 2 or more, single runs of the two recipes rarely overlap; it does not grow with more runs",
    "t": "Welch's t: the difference of the means divided by its standard error √(σA²/nA + σB²/nB). It grows with "
         "more runs, because the mean of many runs wobbles less than one run does",
    "df": "degrees of freedom (Welch–Satterthwaite): how far the two measured spreads can be trusted, at most the "
          "runs in all minus 2; fewer make the t-distribution's tails heavier, so a small p is harder to reach",
    "p": "the p-value: if both recipes were equally good, the chance that the luck of the seeds alone gives a "
         "difference at least this large. Below 0.05 counts as more than luck here",
    "needed": "a power estimate: the runs per recipe that would detect a real difference of this size 8 times in "
              "10 (at p < 0.05), given the spread seen so far. A large number means the difference is small next "
              "to the luck of the seed",
    "runs": "how many runs of each recipe to have: the button trains the missing ones, with the same settings and "
            f"seeds not used yet (at most {MAX_SEEDS} a recipe)",
}


def metric_name(metric: str) -> str:
    return METRICS.get(metric, metric.replace("_", " "))


def panel(entries: list[Entry], host: Hosting) -> None:
    """Pick two recipes and a final figure; show their runs, the tests and the verdict, and offer more seeds."""
    st.subheader("Is the difference real?")
    st.markdown("Two recipes rarely give the same figure, but neither do two seeds of *one* recipe. Is the gap "
                "between the recipes bigger than the luck of the seed? Pick two recipes and a final figure.")
    groups = compare.group_by_config(e for e in entries if e.config)
    labels = recipe_labels(groups)
    keys = sorted(groups, key=lambda k: (groups[k][0].source == "zoo", -len(groups[k])))  # own runs, most first

    def option(key: str) -> str:
        return f"{labels[key]} · {plural(len(groups[key]), 'run')}"

    c1, c2 = st.columns(2)
    a = c1.selectbox("Recipe A", keys, index=0, key="stats_a", format_func=option, help=HELP["recipe"])
    b = c2.selectbox("Recipe B", keys, index=min(1, len(keys) - 1), key="stats_b", format_func=option,
                     help=HELP["recipe"])
    chosen = {"A": a} if a == b else {"A": a, "B": b}
    if a == b:
        st.info("Pick two different recipes to compare them." if len(keys) > 1 else
                "There is one recipe so far: train a second one (change one setting on the Train page) to compare.")
    else:
        st.caption("What differs: " + " · ".join(f"**{name}** {label}" for name, label in zip(
            NAMES, compare.differences([groups[a][0].config, groups[b][0].config]))))  # these two alone
    metrics = compare.final_metrics(*(groups[k] for k in chosen.values()))
    if not metrics:
        st.info("These recipes share no final figure yet: their runs are still running, diverged or were stopped "
                "before measuring. Queue more seeds below, or train on the Train page.")
        seeds(groups, chosen, labels, None, host)
        return
    metric = st.selectbox("Final figure", metrics, key="stats_metric", format_func=metric_name, help=HELP["metric"])
    values = {name: [compare.final_value(e, metric) for e in groups[key]] for name, key in chosen.items()}
    summaries(groups, chosen, values)
    charts.show(dot_plot(groups, chosen, values, metric_name(metric)), width="stretch")
    if len(chosen) == 2:
        tests(values["A"], values["B"], metric_name(metric))
    seeds(groups, chosen, labels, metric, host)


def recipe_labels(groups: dict[str, list[Entry]]) -> dict[str, str]:
    """A picker label per recipe: what differs between the student's recipes; a shipped model by its name (its
    recipe differs from the student's in too many settings to list in a picker)."""
    own = [k for k, members in groups.items() if members[0].source != "zoo"]
    labels = dict(zip(own, compare.differences([groups[k][0].config for k in own])))
    return {k: labels.get(k, f"📦 shipped {members[0].label.removeprefix('zoo: ')}") for k, members in groups.items()}


def summaries(groups: dict[str, list[Entry]], chosen: dict[str, str], values: dict[str, list[float]]) -> None:
    """Each recipe's mean ± standard deviation and n, which runs were left out, and a warning for a lone run."""
    for column, (name, key) in zip(st.columns(2), chosen.items()):
        g = significance.group(values[name])
        shown = "–" if g.n == 0 else f"{g.mean:.4f}" if g.n == 1 else f"{g.mean:.4f} ± {g.std:.4f}"
        column.metric(f"{name}: mean ± std (n = {g.n})", shown, help=HELP["mean"])
        left_out = [e.status or "no final figure" for e, v in zip(groups[key], values[name]) if not math.isfinite(v)]
        if left_out:
            counts = {s: left_out.count(s) for s in dict.fromkeys(left_out)}
            column.caption("Left out: " + ", ".join(f"{plural(n, 'run')} {s}" for s, n in counts.items()) +
                           " (no final figure to count).")
        if g.n == 1:
            column.warning(f"A spread needs at least 2 runs: recipe {name} has 1, so nothing shows how much another "
                           "seed would move it. Queue more seeds below.")


def dot_plot(groups: dict[str, list[Entry]], chosen: dict[str, str], values: dict[str, list[float]],
             title: str) -> alt.LayerChart:
    """One dot per run on the figure's axis, a row per recipe, the mean as a dark tick; equal values stack up."""
    rows = []
    for name, key in chosen.items():
        seen: dict[float, int] = {}
        for entry, value in zip(groups[key], values[name]):
            if math.isfinite(value):
                seen[value] = seen.get(value, 0) + 1
                rows.append({"recipe": name, "run": entry.label, "seed": entry.config.get("seed", "?"),
                             "value": value, "stack": seen[value] - 1})
    frame = pd.DataFrame(rows, columns=["recipe", "run", "seed", "value", "stack"])
    y = alt.Y("recipe:N", title=None, sort=list(NAMES), axis=alt.Axis(labelFontSize=20))
    x = alt.X("value:Q", title=f"{title} (one dot per run; tick: the mean)", scale=alt.Scale(zero=False))
    colour = alt.Color("recipe:N", legend=None, scale=alt.Scale(domain=list(NAMES), scheme="tableau10"))
    dots = alt.Chart(frame).mark_circle(size=220, opacity=0.75).encode(
        x=x, y=y, color=colour, yOffset=alt.YOffset("stack:Q", scale=alt.Scale(domain=[-2, 2])),
        tooltip=["recipe:N", "run:N", "seed:N", alt.Tooltip("value:Q", format=".4f")])
    means = alt.Chart(frame).mark_tick(size=44, thickness=4, color=charts.INK).encode(
        x=alt.X("mean(value):Q"), y=y, tooltip=["recipe:N", alt.Tooltip("mean(value):Q", title="mean", format=".4f")])
    return alt.layer(dots, means).properties(height=90 * len(chosen))


def tests(a: list[float], b: list[float], name: str) -> None:
    """The z-score, Welch's t with its degrees of freedom and p, the runs needed, and the verdict in words."""
    welch, needed = significance.welch(a, b), significance.runs_needed(a, b)
    c = st.columns(5)
    c[0].metric("z-score", number(significance.z_score(a, b), ".3f"), help=HELP["z"])
    c[1].metric("Welch's t", number(welch.t, ".3f"), help=HELP["t"])
    c[2].metric("degrees of freedom", number(welch.df, ".2f"), help=HELP["df"])
    c[3].metric("p-value", number(welch.p, ".3g"), help=HELP["p"])
    c[4].metric("runs needed", runs(needed), help=HELP["needed"])
    words = "**A against B.** " + significance.verdict(a, b, name)
    if welch.p < significance.ALPHA:
        st.success(words)
    else:
        st.info(words)
    if math.isnan(welch.t):
        st.caption("– : not defined here; Welch's t needs at least 2 runs of each recipe and some spread between "
                   "runs.")


def number(x: float, spec: str) -> str:
    return "–" if math.isnan(x) else format(x, spec).replace("-", "−")


def runs(needed: float) -> str:
    """The power estimate in words: a count, 'over 1,000', 'never' (equal means) or '–' (no spread known)."""
    if math.isnan(needed):
        return "–"
    if math.isinf(needed):
        return "never"
    return f"over {significance.MANY:,}" if needed > significance.MANY else f"{int(needed)}"


# ---- more seeds ------------------------------------------------------------------------------------------
def repeatable(config: dict, host: Hosting) -> tuple[train.TrainConfig | None, str]:
    """The recipe as a config this copy may train, or None and why (a capped recipe would be another recipe)."""
    known = {f.name for f in fields(train.TrainConfig)}
    if set(config) - known:
        return None, "it was saved by another version of cnnviz, so it cannot be trained again here."
    try:
        recipe = train.TrainConfig(**config)
    except (TypeError, ValueError) as exc:
        return None, f"its settings do not make a run here ({exc})."
    test_cap = min(recipe.test_limit or host.max_test, host.max_test) if host.max_test else recipe.test_limit
    capped = replace(recipe, epochs=min(recipe.epochs, host.max_epochs),
                     train_limit=host.train_images(recipe.train_limit), test_limit=test_cap)
    if capped != recipe:
        return None, ("it asks for more epochs or images than this copy allows a run, so new seeds here would be "
                      "another recipe.")
    return recipe, ""


def queued(key: str) -> list[int]:
    """Seeds of recipe `key` waiting in this session's queue."""
    return [c.seed for c, _ in st.session_state.get(QUEUE, []) if compare.config_key(asdict(c)) == key]


def seeds(groups: dict[str, list[Entry]], chosen: dict[str, str], labels: dict[str, str], metric: str | None,
          host: Hosting) -> None:
    """For each chosen recipe with fewer than N runs, a button that queues its missing seeds; then the queue."""
    st.markdown("##### More seeds")
    n = st.number_input("Runs per recipe", min_value=2, max_value=MAX_SEEDS, value=3, key="stats_n",
                        help=HELP["runs"])
    for name, key in chosen.items():
        members, waiting = groups[key], queued(key)
        counted = [e for e in members if e.status == "running"
                   or (metric is not None and math.isfinite(compare.final_value(e, metric)))]
        missing = n - len(counted) - len(waiting)
        if missing <= 0:
            continue
        config, why = repeatable(members[0].config, host)
        if config is None:
            st.caption(f"Recipe {name} cannot get more seeds here: {why}")
            continue
        new = compare.missing_seeds([e.config.get("seed") for e in members] + waiting, missing)
        st.button(f"▶ Queue {plural(missing, 'more run')} of recipe {name} "
                  f"(seed{'s' if missing > 1 else ''} {', '.join(map(str, new))})", key=f"queue_{name}",
                  on_click=enqueue, args=([replace(config, seed=s) for s in new], f"{name}: {labels[key]}"))
    runner(host)


def enqueue(configs: list[train.TrainConfig], recipe: str) -> None:
    """Add runs to this session's queue, as many as it has room for, and say what did not fit."""
    queue = st.session_state.setdefault(QUEUE, [])
    room = max(0, MAX_QUEUE - len(queue))
    queue.extend((c, recipe) for c in configs[:room])
    dropped = [c.seed for c in configs[room:]]
    st.session_state[NOTE] = ("" if not dropped else
                              f"The queue holds at most {MAX_QUEUE} runs per session, so seed"
                              f"{'s' if len(dropped) > 1 else ''} {', '.join(map(str, dropped))} of {recipe} "
                              "did not fit: press the button again once some have trained.")


def runner(host: Hosting) -> None:
    """The queue and this session's run, polled every second while either is active; starts the next run."""
    job = st.session_state.get(train_view.JOB)
    active = bool(st.session_state.get(QUEUE)) or (job is not None and not job.done)

    @st.fragment(run_every=1.0 if active else None)
    def watch() -> None:
        """Starts the next queued run once this session's run has ended; a run's end refreshes the whole page."""
        s = st.session_state
        queue, job = s.setdefault(QUEUE, []), s.get(train_view.JOB)
        if job is not None and job.done and s.get(WATCHED) == job.run.name:
            s[WATCHED] = None
            st.rerun(scope="app")  # the run that ended joins its recipe's figures
        if queue and (job is None or job.done):
            config, recipe = queue.pop(0)
            with st.spinner(f"Starting seed {config.seed} of {recipe}: loading the images, building the network…"):
                failure = train_view.launch(config, host)
            if failure:
                s[NOTE] = (f"Seed {config.seed} of {recipe} did not start: {failure}\n\nThe queue was emptied "
                           f"({plural(len(queue), 'more run')} dropped); press the button again to queue them.")
                queue.clear()
            job = s.get(train_view.JOB)
        if s.get(NOTE):
            st.warning(s[NOTE])
        if job is not None and not job.done:
            s[WATCHED] = job.run.name
            progress(job.config, job.fraction, job.title)
        if queue:
            st.caption("Waiting, one run at a time per session: " + ", ".join(
                f"seed {c.seed} of {recipe.split(':')[0]}" for c, recipe in queue))
            st.button("✕ Empty the queue", key="queue_clear", on_click=queue.clear,
                      help="the run in progress goes on (Stop it on the Train page); the waiting ones are dropped")

    watch()


def progress(config: train.TrainConfig, fraction: float, title: str) -> None:
    """This session's run in one bar, with the way to its live curves."""
    st.progress(fraction, text=f"Training {title} on {config.dataset}, seed {config.seed}: {fraction:.0%} · it "
                               "joins its recipe here when it ends")
    nav.link("train", "Watch its curves on the Train page")
