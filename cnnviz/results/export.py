"""Files to download: figures as PNG, tables as CSV (pure functions, no Streamlit)."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import pandas as pd

FIGURE_SIZE = (8.0, 7.0)  # inches: large enough to read on a projector
DPI = 120                 # pixels per inch: the confusion matrix is 960 × 840 pixels
ANNOTATED = 20            # most classes whose cells carry their number (more would not fit)


def png(picture: np.ndarray | Image.Image) -> bytes:
    """A lossless PNG of a uint8 (H, W) or (H, W, 3) array or a PIL image, for a student's report."""
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(np.ascontiguousarray(picture))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def csv(frame: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV without pandas' index, to open in a spreadsheet."""
    return frame.to_csv(index=False).encode("utf-8")


def row_shares(counts: np.ndarray) -> np.ndarray:
    """Each cell of a confusion matrix as a share of its row (its true class); an empty row stays 0."""
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def share_text(count: int, share: float) -> str:
    """A row share as text; small shares keep a decimal, so 3 images of 1,000 do not read "0%"."""
    return "0" if count == 0 else f"{share:.1%}" if share < 0.095 else f"{share:.0%}"


def percent(x: float) -> str:
    """A confidence as text: whole percent, with a decimal from 99.5% on so that 99.8% does not read "100%"."""
    return f"{x:.0%}" if x < 0.995 else f"{x:.1%}"


def file_stem(checkpoint: Path, dataset: str) -> str:
    """'mnist_cnn-mnist' or '<run folder>-mnist': names downloaded files after the model and the data."""
    model = checkpoint.parent.name if checkpoint.name == "checkpoint.pt" else checkpoint.stem
    return f"{model}-{dataset}"


def confusion_png(matrix: np.ndarray | list[list[int]], classes: list[str], normalised: bool,
                  title: str = "Confusion matrix") -> bytes:
    """The confusion matrix as a PNG figure, drawn like the page's heat map.

    Args:
        matrix: (K, K) image counts, rows the true class and columns the prediction.
        classes: the K class names.
        normalised: colour and label each cell by its share of the row instead of its count.
        title: the figure's title, e.g. the model and the data set.
    """
    from matplotlib.colors import PowerNorm  # matplotlib loads only when a figure is asked for
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    counts = np.asarray(matrix, dtype=np.int64)  # (K, K)
    shares = row_shares(counts)
    values = shares if normalised else counts
    k = len(classes)
    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    ax = fig.subplots()
    norm = PowerNorm(0.5, vmin=0, vmax=max(values.max(), 1e-9))  # square root: small mistakes still show
    image = ax.imshow(values, cmap="Blues", norm=norm)
    if k <= ANNOTATED:
        for t in range(k):
            for q in range(k):
                text = share_text(counts[t, q], shares[t, q]) if normalised else f"{counts[t, q]:,}"
                ax.text(q, t, text, ha="center", va="center", fontsize=14 if k <= 10 else 9,
                        color="white" if norm(values[t, q]) > 0.6 else "#222")
    slanted = max(map(len, classes)) > 3  # long names (CIFAR-10's "automobile") would overlap upright
    ax.set_xticks(range(k), classes, rotation=40 if slanted else 0, ha="right" if slanted else "center", fontsize=12)
    ax.set_yticks(range(k), classes, fontsize=12)
    ax.set_xlabel("predicted class", fontsize=14)
    ax.set_ylabel("true class", fontsize=14)
    ax.set_title(title, fontsize=15)
    bar = fig.colorbar(image, ax=ax, format=PercentFormatter(1.0) if normalised else None)
    bar.set_label("share of the true class" if normalised else "images", fontsize=13)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def data_url(pixels: np.ndarray, side: int = 64) -> str:
    """A data set image (C, H, W) uint8, enlarged (nearest) to `side` pixels, as a PNG data URL (chart tooltips)."""
    v = np.asarray(pixels, dtype=np.uint8).transpose(1, 2, 0)  # (H, W, C)
    img = Image.fromarray(v[:, :, 0] if v.shape[2] == 1 else v).resize((side, side), Image.NEAREST)
    return "data:image/png;base64," + base64.b64encode(png(img)).decode()
