"""Number grids (and probability bars) as HTML/CSS, sized for a classroom projector (pure functions, no Streamlit).

A page passes the result to `st.html`. Cell classes:
    pad   padding (hatched grey)          win   under the kernel / pooling window (orange, outlined)
    cur   the output cell being written   best  the maximum of a pooling window
    todo  not computed yet (blank)        kern  a kernel weight (blue)
    hit   receives a scattered block      wrong / right  a checked answer
"""
from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ORANGE, ORANGE_LIGHT, ORANGE_PALE = "#d9480f", "#ffc078", "#ffe8cc"
BLUE_LIGHT, BLUE = "#d0ebff", "#1864ab"
YELLOW = "#ffec99"  # the output cell being written: another hue than the orange window, told apart in the legend
RED, RED_LIGHT, GREEN_LIGHT = "#c92a2a", "#ffc9c9", "#d3f9d8"
HATCH = "repeating-linear-gradient(45deg, #e9ecef 0 6px, #ced4da 6px 8px)"
HATCH_ORANGE = f"repeating-linear-gradient(45deg, {ORANGE_PALE} 0 6px, {ORANGE_LIGHT} 6px 8px)"

CSS = f"""<style>
.cv-row {{display: flex; flex-wrap: wrap; align-items: center; gap: 18px 22px; margin: 6px 0 10px 0;}}
.cv-col {{display: flex; flex-direction: column; align-items: center; gap: 4px;}}
.cv-fig {{display: inline-flex; flex-direction: column; align-items: center;}}
.cv-title {{font-size: 22px; font-weight: 600; margin-bottom: 6px; color: #212529; text-align: center;}}
.cv-sub {{font-size: 17px; color: #495057; margin-top: 4px; text-align: center;}}
.cv-op {{font-size: 44px; font-weight: 300; color: #495057; padding: 0 4px;}}
table.cv-grid {{border-collapse: collapse; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-variant-numeric: tabular-nums; margin: 0; border: none;}}
table.cv-grid td {{border: 1px solid #adb5bd; text-align: center; vertical-align: middle; padding: 0 4px;
  position: relative; background: #fff; color: #212529; line-height: 1; min-width: var(--cv-side);
  height: var(--cv-side);}}
table.cv-grid th {{font-size: 13px; color: #868e96; font-weight: 400; border: none; padding: 1px 4px;
  background: none; text-align: center;}}
table.cv-grid td .cv-note {{position: absolute; right: 2px; bottom: 1px; font-size: max(0.62em, 12px); color: {BLUE};
  font-weight: 700; line-height: 1;}}
table.cv-grid td.pad {{background: {HATCH}; color: #868e96;}}
table.cv-grid td.win {{background: {ORANGE_LIGHT}; box-shadow: inset 0 0 0 3px {ORANGE}; font-weight: 700;}}
table.cv-grid td.win.pad {{background: {HATCH_ORANGE}; color: #5c5f66;}}
table.cv-grid td.best {{background: {ORANGE}; color: #fff;}}
table.cv-grid td.cur {{background: {YELLOW}; box-shadow: inset 0 0 0 4px {ORANGE}; font-weight: 700;}}
table.cv-grid td.hit {{background: {ORANGE_PALE}; box-shadow: inset 0 0 0 2px {ORANGE};}}
table.cv-grid td.todo {{color: transparent; background: #f8f9fa; border-style: dashed;}}
table.cv-grid td.kern {{background: {BLUE_LIGHT}; font-weight: 600;}}
table.cv-grid td.wrong {{background: {RED_LIGHT}; box-shadow: inset 0 0 0 3px {RED}; font-weight: 700;}}
table.cv-grid td.right {{background: {GREEN_LIGHT};}}
.cv-work {{font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 24px; line-height: 1.5;
  background: #f8f9fa; border-left: 6px solid {ORANGE}; padding: 10px 16px; margin: 6px 0; color: #212529;
  overflow-wrap: anywhere;}}
.cv-row > .cv-work {{flex: 1 1 360px; align-self: center;}}
.cv-work .cv-head {{font-family: sans-serif; font-weight: 700; color: {ORANGE};}}
.cv-work .cv-result {{font-weight: 700; background: {ORANGE_LIGHT}; padding: 0 6px; border-radius: 4px;}}
.cv-bars {{display: grid; grid-template-columns: max-content 1fr 4.2em; gap: 6px 10px; align-items: center;
  font-size: 19px; color: #212529; margin: 4px 0 8px 0;}}
.cv-bars .cv-track {{background: #f1f3f5; height: 26px; border-radius: 3px;}}
.cv-bars .cv-bar {{height: 100%; border-radius: 3px;}}
.cv-bars .cv-num {{font-variant-numeric: tabular-nums; text-align: right;}}
.cv-bars .cv-mark {{font-weight: 700;}}
.cv-scene {{container-type: inline-size;}}
.cv-stage {{display: flex; flex-wrap: wrap; align-items: center; gap: 18px 22px; margin: 6px 0 10px 0;}}
@container (min-width: 1000px) {{
  .cv-stage {{display: grid; grid-template-columns: auto auto auto auto 1fr; justify-content: start;
    grid-template-areas: "in x k to out" "in work work work work"; align-items: center;}}
  .cv-stage > .cv-work {{grid-area: work; align-self: start; font-size: 22px; line-height: 1.4; margin: 0;}}
  .cv-stage > .cv-out {{grid-area: out; justify-self: start;}}
  .cv-stage > .cv-in {{grid-area: in;}}
}}
.cv-legend {{display: flex; flex-wrap: wrap; gap: 6px 20px; font-size: 17px; color: #495057; margin: 2px 0 8px 0;}}
.cv-legend span.cv-swatch {{display: inline-block; width: 22px; height: 22px; vertical-align: middle;
  margin-right: 6px; border: 1px solid #adb5bd;}}
</style>"""

_SWATCH = {
    "pad": f"background: {HATCH};",
    "win": f"background: {ORANGE_LIGHT}; box-shadow: inset 0 0 0 3px {ORANGE};",
    "cur": f"background: {YELLOW}; box-shadow: inset 0 0 0 4px {ORANGE};",
    "best": f"background: {ORANGE};",
    "hit": f"background: {ORANGE_PALE}; box-shadow: inset 0 0 0 2px {ORANGE};",
    "todo": "background: #f8f9fa; border-style: dashed;",
    "kern": f"background: {BLUE_LIGHT};",
    "wrong": f"background: {RED_LIGHT}; box-shadow: inset 0 0 0 3px {RED};",
    "right": f"background: {GREEN_LIGHT};",
}


def cell_size(rows: int, cols: int, width: int = 560, largest: int = 60, smallest: int = 30,
              height: int | None = None) -> int:
    """Pixels per cell so a rows x cols grid fits `width` (and `height`, default 1.25 x width) pixels,
    clamped to [smallest, largest]."""
    height = int(1.25 * width) if height is None else height
    return int(max(smallest, min(largest, width // max(cols, 1), height // max(rows, 1))))


def _default_fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if np.isinf(v):
            return "-∞" if v < 0 else "∞"
        if float(v).is_integer():
            return str(int(v))
        return np.format_float_positional(float(v), precision=2, trim="-")
    return str(v)


def grid(values: np.ndarray | Sequence[Sequence[Any]], *, classes: np.ndarray | None = None,
         notes: np.ndarray | None = None, title: str | None = None, subtitle: str | None = None,
         labels: bool = True, cell: int = 52, fmt: Callable[[Any], str] = _default_fmt,
         name: str = "grid", row_offset: int = 0, col_offset: int = 0) -> str:
    """One number grid as an HTML figure (title, index labels, cells).

    Args:
        values: (rows, cols) numbers or strings; None and NaN show as empty cells.
        classes: (rows, cols) strings of space-separated cell classes (see the module docstring).
        notes: (rows, cols) small strings shown in a cell's corner (e.g. the kernel weight '×-1').
        title, subtitle: text above and below the grid (HTML-escaped).
        labels: show row and column numbers (starting at row_offset / col_offset, e.g. -1 for padding).
        cell: cell size in pixels; the font scales with it.
        name: goes into `data-grid`, so tests and pages can find the grid.
    """
    vals = np.asarray(values, dtype=object)
    if vals.ndim != 2:
        raise ValueError(f"grid() needs a 2-D array, got shape {vals.shape}")
    rows, cols = vals.shape
    font = max(12, round(cell * 0.42))
    # On a narrow screen (a student's phone) cells shrink to share its width, less the page's margins, the row
    # numbers and a scroll bar (Streamlit's cells are border-box); on a projector `cell` holds.
    side = f"min({cell}px, calc((100vw - 4.5rem) / {cols}))"
    out = [f'<div class="cv-fig" data-grid="{html.escape(name)}">']
    if title:
        out.append(f'<div class="cv-title">{html.escape(title)}</div>')
    out.append(
        f'<table class="cv-grid" style="--cv-side: {side}; '
        f'font-size: clamp(10px, 0.42 * var(--cv-side), {font}px)">'
    )
    if labels:
        out.append("<tr><th></th>" + "".join(f"<th>{c + col_offset}</th>" for c in range(cols)) + "</tr>")
    for r in range(rows):
        out.append("<tr>" + (f"<th>{r + row_offset}</th>" if labels else ""))
        for c in range(cols):
            cls = "" if classes is None else str(classes[r, c]).strip()
            note = ("" if notes is None or not notes[r, c]
                    else f'<span class="cv-note">{html.escape(str(notes[r, c]))}</span>')
            attr = f' class="{html.escape(cls)}"' if cls else ""
            out.append(f'<td{attr} data-cell="{r},{c}">{html.escape(fmt(vals[r, c]))}{note}</td>')
        out.append("</tr>")
    out.append("</table>")
    if subtitle:
        out.append(f'<div class="cv-sub">{html.escape(subtitle)}</div>')
    out.append("</div>")
    return "".join(out)


def window_mask(shape: tuple[int, int], rows: list[int], cols: list[int]) -> np.ndarray:
    """True on the cells a kernel or pooling window covers (rows x cols of the padded input)."""
    mask = np.zeros(shape, dtype=bool)
    mask[np.ix_(rows, cols)] = True
    return mask


def classes_for(shape: tuple[int, int], **masks: np.ndarray | None) -> np.ndarray:
    """A classes array from boolean masks: classes_for((5, 5), pad=pad_mask, win=window_mask)."""
    out = np.full(shape, "", dtype=object)
    for name, mask in masks.items():
        if mask is not None:
            out[np.asarray(mask, dtype=bool)] += " " + name
    return out


def op(symbol: str) -> str:
    """A large operator between grids (×, =, →, +)."""
    return f'<div class="cv-op">{html.escape(symbol)}</div>'


def row(*parts: str) -> str:
    """Grids and operators side by side, wrapping on narrow screens."""
    return '<div class="cv-row">' + "".join(parts) + "</div>"


def stage(picture: str, times: str, kernel: str, arrow: str, result: str, work: str) -> str:
    """Input × kernel → output in one row with the working under the kernel and the output, beside the input:
    one projector screen holds them all. Where the page is narrower (a phone, the sidebar open) they wrap."""
    return (f'<div class="cv-scene"><div class="cv-stage"><div class="cv-in">{picture}</div>{times}{kernel}{arrow}'
            f'<div class="cv-out">{result}</div>{work}</div></div>')


def column(*parts: str) -> str:
    """Rows stacked on top of each other (e.g. one row per input channel)."""
    return '<div class="cv-col">' + "".join(parts) + "</div>"


def text(words: str, size: int = 22) -> str:
    """A short label between grids (e.g. '+ bias 1')."""
    return f'<div class="cv-op" style="font-size: {size}px; font-weight: 500">{html.escape(words)}</div>'



def working(lines: Sequence[str], head: str | None = None, result: bool = True) -> str:
    """The worked answer in large monospace; with `result`, what follows the last line's last '=' is highlighted."""
    body = []
    for k, line in enumerate(lines):
        text = html.escape(line)
        if result and k == len(lines) - 1 and " = " in line:
            left, _, result = line.rpartition(" = ")
            text = f'{html.escape(left)} = <span class="cv-result">{html.escape(result)}</span>'
        body.append(f"<div>{text}</div>")
    top = f'<div class="cv-head">{html.escape(head)}</div>' if head else ""
    return f'<div class="cv-work" data-working="1">{top}{"".join(body)}</div>'


def legend(items: Sequence[tuple[str, str]]) -> str:
    """A row of coloured swatches with their meaning: [('pad', 'padding (zeros)'), ...]."""
    spans = "".join(f'<span><span class="cv-swatch" style="{_SWATCH.get(k, "")}"></span>{html.escape(text)}</span>'
                    for k, text in items)
    return f'<div class="cv-legend">{spans}</div>'


def bars(labels: Sequence[str], values: Sequence[float], colour: str = "#4c78a8", mark: int | None = None) -> str:
    """Labelled horizontal bars of shares in [0, 1] (e.g. class probabilities), `mark` in bold.

    Plain HTML instead of a chart: a browser draws it in a fraction of the time, which counts when a
    whole class reruns the same page at once.
    """
    rows = []
    for i, (label, value) in enumerate(zip(labels, values)):
        bold = ' class="cv-mark"' if i == mark else ""
        rows.append(f"<div{bold}>{html.escape(label)}</div>"
                    f'<div class="cv-track"><div class="cv-bar" style="width: {100 * float(value):.2f}%; '
                    f'background: {colour}"></div></div><div class="cv-num">{float(value):.1%}</div>')
    return f'<div class="cv-bars">{"".join(rows)}</div>'


def page(*parts: str) -> str:
    """The style sheet followed by the parts: one string for one `st.html` call."""
    return CSS + "".join(parts)
