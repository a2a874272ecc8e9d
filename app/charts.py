"""The one chart theme: axis, legend, header and title text large and dark enough for a projector.

Every page draws its Altair charts through `show`, so a chart reads the same on every page.
"""
from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

INK = "#222"  # dark grey: full contrast on a washed-out projector, softer than black on a screen
AXIS = {"labelFontSize": 16, "titleFontSize": 16, "labelColor": INK, "titleColor": INK, "labelLimit": 260}
LEGEND = {"labelFontSize": 16, "titleFontSize": 16, "symbolSize": 200}
HEADER = {"labelFontSize": 17, "labelColor": INK}
TITLE = {"fontSize": 20, "anchor": "start"}


def projector(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """`chart` in the app's theme (a chart is configured once, at its top level)."""
    return (chart.configure_axis(**AXIS).configure_legend(**LEGEND).configure_header(**HEADER)
            .configure_title(**TITLE).configure_view(strokeWidth=0))


def show(chart: alt.TopLevelMixin, where: Any = st, **kwargs: Any) -> Any:
    """Draw `chart` in the theme (`where`: a column or container; `kwargs` go to `st.altair_chart`)."""
    return where.altair_chart(projector(chart), **kwargs)
