"""Feature maps, filters and weight histograms as pixels and tables, sized for a screen (never plots).

Everything here is vectorised NumPy: one tiled uint8 RGB image per layer, coloured through a 256-entry
lookup table, cheap to encode as JPEG. `torchvision.utils.make_grid` does the tiling too, but it is about
30x slower here (it builds the grid with a Python loop of tensor copies) and knows nothing of colour maps,
so the tiling is written out (`tile`, ten lines of reshape and transpose).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from cnnviz.inside import features

if TYPE_CHECKING:
    import pandas as pd

NORMS = ("channel", "layer")
COLORMAPS = ("viridis", "magma", "inferno", "gray", "coolwarm", "jet")
PAD_COLOUR = (255, 255, 255)  # the lines between tiles

__all__ = ["NORMS", "COLORMAPS", "lut", "colorize", "normalise", "tile", "grid_columns", "channel_order",
           "layer_grid", "channel_image", "colorbar", "filter_tiles", "filters_with_responses",
           "param_histograms", "nearest", "to_jpeg", "as_numpy", "LayerPicture", "layer_pictures", "input_picture"]


def as_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float32 NumPy view of a tensor or array (detached, on the CPU)."""
    if isinstance(t, torch.Tensor):
        t = t.detach().to("cpu", torch.float32).numpy()
    return np.asarray(t, dtype=np.float32)


@lru_cache(maxsize=32)
def lut(name: str = "viridis") -> np.ndarray:
    """A (257, 3) uint8 colour table: 256 entries of Matplotlib colour map `name`, then the padding colour.

    Raises:
        ValueError: Matplotlib has no colour map of that name.
    """
    import matplotlib  # only for the colour tables; imported on first use

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError as exc:
        raise ValueError(f"Unknown colour map {name!r}; try one of {', '.join(COLORMAPS)}") from exc
    table = np.empty((257, 3), np.uint8)
    table[:256] = np.round(cmap(np.linspace(0, 1, 256))[:, :3] * 255)
    table[256] = PAD_COLOUR
    table.flags.writeable = False
    return table


def colorize(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Values in [0, 1] (NaN for padding) -> uint8 RGB through the colour map's lookup table."""
    index = np.rint(np.nan_to_num(values, nan=0.0).clip(0, 1) * 255).astype(np.uint16)
    index = np.where(np.isnan(values), 256, index)
    return np.take(lut(cmap), index, axis=0)  # (..., 3)


def normalise(maps: np.ndarray, mode: str = "channel") -> np.ndarray:
    """Scale (C, H, W) maps into [0, 1]: each channel by its own min and max, or the layer by its overall range.

    A constant channel (a dead ReLU, say) becomes 0, so it shows as the bottom of the colour map.
    """
    if mode not in NORMS:
        raise ValueError(f"normalisation must be one of {NORMS}, not {mode!r}")
    axes = (1, 2) if mode == "channel" else (0, 1, 2)
    lo = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - lo
    return np.divide(maps - lo, span, out=np.zeros_like(maps, dtype=np.float32), where=span > 0)


def grid_columns(n: int, tile_h: int = 1, tile_w: int = 1, aspect: float = 2.0) -> int:
    """Columns for n tiles so the grid is about `aspect` times wider than tall (screens are wide)."""
    return max(1, min(n, math.ceil(math.sqrt(n * aspect * tile_h / tile_w))))


def tile(images: np.ndarray, ncols: int | None = None, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) -> one grid image, row by row, with `pad` pixels of `fill` between tiles."""
    n, h, w = images.shape[:3]
    extra = images.shape[3:]
    ncols = ncols or grid_columns(n, h, w)
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * ncols, h + pad, w + pad, *extra), fill, dtype=images.dtype)
    out[:n, :h, :w] = images
    out = out.reshape(nrows, ncols, h + pad, w + pad, *extra).swapaxes(1, 2)  # (rows, H, cols, W, ...)
    out = out.reshape(nrows * (h + pad), ncols * (w + pad), *extra)
    return out[: out.shape[0] - pad, : out.shape[1] - pad] if pad else out


def nearest(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of the two axes after the first: (N, h, w, ...) -> (N, height, width, ...)."""
    h, w = images.shape[1:3]
    rows = (np.arange(height) * h // height)
    cols = (np.arange(width) * w // width)
    return images[:, rows][:, :, cols]


def channel_order(maps: torch.Tensor | np.ndarray, by: str = "mean") -> np.ndarray:
    """Channel indices of (C, H, W) maps, strongest first: by 'mean' (or 'max') activation; 'index' keeps order."""
    maps = as_numpy(maps)
    if by == "index":
        return np.arange(maps.shape[0])
    if by not in ("mean", "max"):
        raise ValueError(f"sort by 'index', 'mean' or 'max', not {by!r}")
    score = maps.reshape(maps.shape[0], -1)
    score = score.mean(axis=1) if by == "mean" else score.max(axis=1)
    return np.argsort(-score, kind="stable")


def _scale_for(ncols: int, w: int, width: int, max_scale: int = 32) -> int:
    """Integer zoom (>= 1) that brings `ncols` tiles of width w closest to `width` pixels without passing it."""
    return max(1, min(max_scale, width // max(1, ncols * (w + 1))))


@lru_cache(maxsize=4096)
def _label_masks(text: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(outline, fill) boolean masks of a tile label, drawn once per text and size (a few hundred in all)."""
    font = ImageFont.load_default(size=size)
    stroke = max(1, size // 8)
    width, height = int(font.getlength(text)) + 2 * stroke + 1, size + 2 * stroke + 2
    masks = []
    for sw in (stroke, 0):
        im = Image.new("L", (width, height))
        ImageDraw.Draw(im).text((stroke, 0), text, fill=255, font=font, stroke_width=sw, stroke_fill=255)
        masks.append(np.asarray(im) > 110)
    return masks[0], masks[1]


def _label_tiles(rgb: np.ndarray, labels: list[str], ncols: int, cell_h: int, cell_w: int) -> np.ndarray:
    """Stamp each tile's label (its channel number) in its top-left corner, white on a black outline."""
    size = max(9, min(16, cell_h // 5))
    rgb = rgb.copy()
    for i, text in enumerate(labels):
        outline, fill = _label_masks(text, size)
        r, c = divmod(i, ncols)
        h, w = min(outline.shape[0], cell_h - 1), min(outline.shape[1], cell_w - 1)
        patch = rgb[r * cell_h: r * cell_h + h, c * cell_w + 1: c * cell_w + 1 + w]
        patch[outline[:h, :w]] = 0
        patch[fill[:h, :w]] = 255
    return rgb


def layer_grid(maps: torch.Tensor | np.ndarray, norm: str = "channel", cmap: str = "viridis",
               order: np.ndarray | None = None, width: int = 720, labels: bool = True,
               ncols: int | None = None) -> np.ndarray:
    """One layer's (C, H, W) feature maps as one tiled uint8 RGB image about `width` pixels wide.

    Args:
        maps: the layer's output for one image; a (C,) output is shown as C tiles of 1x1.
        norm: 'channel' (each map stretched to the full colour range) or 'layer' (one range for all,
            so strong and weak channels can be compared).
        cmap: a Matplotlib colour map name.
        order: channel indices in display order (see `channel_order`); None keeps 0, 1, 2...
        width: the target width in pixels; small maps are enlarged by an integer factor (nearest
            neighbour, so every activation stays a crisp square), grids far too wide are subsampled.
        labels: write each tile's channel number in its corner (only when tiles are 40 px or more).
        ncols: grid columns; None picks a grid about twice as wide as tall.

    Returns:
        (height, width, 3) uint8 array, with white lines between the tiles.
    """
    maps = as_numpy(maps)
    if maps.ndim == 1:
        maps = maps[:, None, None]
    elif maps.ndim == 2:
        maps = maps[:, :, None]
    index = np.arange(len(maps)) if order is None else np.asarray(order)
    levels = np.rint(normalise(maps, norm)[index] * 255).astype(np.uint8)  # (C, H, W) at native size
    c, h, w = levels.shape
    ncols = ncols or grid_columns(c, h, w)
    step = max(1, math.ceil(ncols * w / (2 * width)))  # only for grids more than twice too wide
    if step > 1:
        levels = levels[:, ::step, ::step]
    rgb = np.take(lut(cmap), levels, axis=0)  # (C, H, W, 3): colour before enlarging, so it stays cheap
    scale = _scale_for(ncols, rgb.shape[2], width)
    if scale > 1:
        rgb = rgb.repeat(scale, axis=1).repeat(scale, axis=2)
    grid = tile(rgb, ncols, pad=1, fill=255)
    cell_h, cell_w = rgb.shape[1] + 1, rgb.shape[2] + 1
    if labels and min(cell_h, cell_w) >= 40:
        grid = _label_tiles(grid, [str(i) for i in index], ncols, cell_h, cell_w)
    return grid


def channel_image(feature_map: torch.Tensor | np.ndarray, cmap: str = "viridis", size: int = 320,
                  vrange: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """One (H, W) map enlarged to at least `size` pixels, and the value range its colours span.

    `vrange` fixes the range (e.g. the whole layer's, to compare channels); None uses the map's own min and max.
    """
    m = as_numpy(feature_map)
    lo, hi = (float(m.min()), float(m.max())) if vrange is None else map(float, vrange)
    values = np.zeros_like(m) if hi <= lo else (m - lo) / (hi - lo)
    scale = max(1, math.ceil(size / max(m.shape)))
    rgb = colorize(values.repeat(scale, 0).repeat(scale, 1), cmap)
    return rgb, (lo, hi)


def colorbar(cmap: str = "viridis", width: int = 256, height: int = 14) -> np.ndarray:
    """A horizontal strip of the colour map, low on the left, for a legend beside min and max."""
    return np.broadcast_to(lut(cmap)[:256][np.linspace(0, 255, width).astype(int)], (height, width, 3)).copy()


def _gray(weight: np.ndarray) -> np.ndarray:
    """(O, I, kh, kw) -> same shape in [0, 1]: 0.5 + w / (2 max|w|) per filter, so mid-grey means 0."""
    peak = np.abs(weight).max(axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * np.divide(weight, peak, out=np.zeros_like(weight), where=peak > 0)


def _kernel_pixels(weight: np.ndarray) -> np.ndarray:
    """(O, I, kh, kw) kernels, I in (1, 3) -> (O, kh, kw, 3) in [0, 1]: colour per filter, or gray."""
    if weight.shape[1] == 3:
        lo = weight.min(axis=(1, 2, 3), keepdims=True)
        span = weight.max(axis=(1, 2, 3), keepdims=True) - lo
        rgb = np.divide(weight - lo, span, out=np.full_like(weight, 0.5), where=span > 0)
        return rgb.transpose(0, 2, 3, 1)
    return _gray(weight[:, :1]).transpose(0, 2, 3, 1).repeat(3, axis=-1)


def filter_tiles(weight: torch.Tensor | np.ndarray, max_filters: int = 64, max_inputs: int = 16,
                 tile_px: int = 48) -> np.ndarray:
    """Conv kernels as one uint8 RGB image.

    A first layer on colour input (I == 3) gives one colour tile per filter, each stretched by its own
    min and max (the classic AlexNet/ResNet figure). Any other layer gives a grayscale tile per (filter,
    input channel) pair, one row per filter, mid-grey meaning 0, white positive and black negative,
    scaled per filter so you see which inputs each filter listens to.
    """
    w = as_numpy(weight)[:max_filters]
    o, i, kh, kw = w.shape
    scale = max(1, math.ceil(tile_px / max(kh, kw)))
    if i in (1, 3):
        pix = _kernel_pixels(w)  # (O, kh, kw, 3)
        ncols = None
    else:
        w = w[:, :max_inputs]
        i = w.shape[1]
        pix = _gray(w).reshape(o * i, kh, kw, 1).repeat(3, axis=-1)  # rows = filters, columns = inputs
        ncols = i
    pix = pix.repeat(scale, axis=1).repeat(scale, axis=2)
    grid = tile(pix, ncols, pad=2, fill=1.0)
    return np.rint(grid * 255).astype(np.uint8)


def filters_with_responses(weight: torch.Tensor | np.ndarray, responses: torch.Tensor | np.ndarray,
                           cmap: str = "viridis", cell_px: int = 96, max_filters: int = 64,
                           order: np.ndarray | None = None, ncols: int | None = None) -> np.ndarray:
    """Each first-layer filter beside its response to the current image, as one uint8 RGB image.

    Args:
        weight: (O, I, kh, kw) kernels of a layer whose input is the image (I is 1 or 3).
        responses: (O, H, W) that layer's output for the image.
        cell_px: the side of each filter and each response picture.
        order: filter indices to show, in order; None shows 0, 1, 2...
    """
    w, r = as_numpy(weight), as_numpy(responses)
    if w.shape[1] not in (1, 3):
        raise ValueError("filters beside responses are drawn for the first layer only (1 or 3 input channels)")
    index = np.arange(len(w)) if order is None else np.asarray(order)
    index = index[:max_filters]
    kernels = nearest(_kernel_pixels(w[index]), cell_px, cell_px)  # (N, px, px, 3)
    maps = nearest(normalise(r[index], "channel"), cell_px, cell_px)
    maps = np.take(lut(cmap), np.rint(maps * 255).astype(np.uint8), axis=0).astype(np.float32) / 255
    gap = np.ones((len(index), cell_px, max(2, cell_px // 16), 3), np.float32)
    cells = np.concatenate([kernels, gap, maps], axis=2)  # filter | response
    grid = tile(cells, ncols or grid_columns(len(index), 1, 2, aspect=1.5), pad=max(6, cell_px // 8), fill=1.0)
    return np.rint(grid * 255).astype(np.uint8)


def param_histograms(module: torch.nn.Module, bins: int = 40) -> pd.DataFrame:
    """Histogram of a layer's weights and of its bias: columns param, start, end, count (one row per bin)."""
    import pandas as pd

    frames = []
    for name in ("weight", "bias"):
        p = getattr(module, name, None)
        if not isinstance(p, torch.Tensor) or p.numel() == 0:
            continue
        values = as_numpy(p).ravel()
        counts, edges = np.histogram(values, bins=max(1, min(bins, values.size // 2)))  # 10 biases: 5 bins
        frames.append(pd.DataFrame({"param": name, "start": edges[:-1], "end": edges[1:], "count": counts}))
    if not frames:
        return pd.DataFrame({"param": [], "start": [], "end": [], "count": []})
    return pd.concat(frames, ignore_index=True)


def input_picture(x: torch.Tensor | np.ndarray, mean: tuple[float, ...], std: tuple[float, ...],
                  size: int = 0) -> np.ndarray:
    """The model's normalised (C, H, W) input turned back into uint8 RGB pixels, enlarged (nearest) to >= `size`.

    This is exactly what the network sees (after resizing, cropping and any digit preprocessing).
    """
    v = as_numpy(x)
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    pixels = np.rint(((v * s + m) * 255).clip(0, 255)).astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
    if pixels.shape[2] == 1:
        pixels = pixels.repeat(3, axis=2)
    scale = max(1, math.ceil(size / max(pixels.shape[:2]))) if size else 1
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else pixels


def to_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """Encode a uint8 RGB (or gray) array as JPEG bytes: what the browser gets, far cheaper than PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@dataclass(frozen=True)
class LayerPicture:
    """One layer's feature maps, ready to send to a browser."""

    name: str  # named_modules() name
    kind: str  # 'conv', 'activation' or 'pool'
    shape: tuple[int, int, int]  # (C, H, W) of the layer's output for one image
    order: tuple[int, ...]  # channel shown in each tile, row by row
    lo: float  # the layer's smallest and largest value
    hi: float
    jpeg: bytes  # the tiled grid
    size: tuple[int, int]  # (width, height) of the grid in pixels


def layer_pictures(model: torch.nn.Module, x: torch.Tensor, norm: str = "channel", cmap: str = "viridis",
                   sort: str = "index", width: int = 720, quality: int = 90,
                   outputs: dict[str, torch.Tensor] | None = None) -> list[LayerPicture]:
    """Every conv, activation and pooling layer's maps for one image: forward pass, tiling, colour, JPEG.

    Args:
        model: any module; left unchanged (see `features.extract`).
        x: one input, (1, C, H, W).
        norm, cmap, width: as in `layer_grid`; sort: 'index', 'mean' or 'max' (see `channel_order`).
        outputs: the layers' outputs if already extracted (saves the forward pass).
    """
    if outputs is None:
        outputs = features.extract(model, x, features.map_layers(model))
    modules = dict(model.named_modules())
    pictures = []
    for name in features.map_layers(model, outputs):
        maps = as_numpy(outputs[name][0])  # (C, H, W)
        order = channel_order(maps, sort)
        grid = layer_grid(maps, norm, cmap, order, width)
        pictures.append(LayerPicture(name, features.kind(modules[name]), tuple(maps.shape), tuple(order.tolist()),
                                     float(maps.min()), float(maps.max()), to_jpeg(grid, quality),
                                     (grid.shape[1], grid.shape[0])))
    return pictures


def boxed(pixels: torch.Tensor | np.ndarray, box: tuple[int, int, int, int] | None, size: int = 96,
          colour: tuple[int, int, int] = (255, 120, 0)) -> np.ndarray:
    """A data set image (C, H, W) uint8 enlarged (nearest) to >= `size`, with `box` (top, left, bottom, right;
    bottom and right exclusive, in image pixels) outlined: the patch a channel responded to most."""
    v = as_numpy(pixels).astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
    if v.shape[2] == 1:
        v = v.repeat(3, axis=2)
    scale = max(1, math.ceil(size / max(v.shape[:2])))
    out = v.repeat(scale, axis=0).repeat(scale, axis=1).copy()  # (H*s, W*s, 3)
    if box is not None:
        top, left, bottom, right = (n * scale for n in box)
        line = max(2, scale // 2)
        out[top:top + line, left:right] = out[bottom - line:bottom, left:right] = colour
        out[top:bottom, left:left + line] = out[top:bottom, right - line:right] = colour
    return out
