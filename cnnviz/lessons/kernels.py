"""Preset kernels, small integer input grids and procedural pictures for the convolution lessons (NumPy + PIL)."""
from __future__ import annotations

from math import comb

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

KERNELS = ("Sobel x", "Sobel y", "Laplacian", "Box blur", "Sharpen", "Identity", "Custom")
ABOUT_KERNELS = {
    "Sobel x": "finds vertical edges: dark-to-bright from left to right is positive",
    "Sobel y": "finds horizontal edges: dark-to-bright from top to bottom is positive",
    "Laplacian": "responds to spots and thin lines in any direction; zero on flat areas and even slopes",
    "Box blur": "all ones: adds up the window (divide by the number of cells for the average)",
    "Sharpen": "the cell itself minus its neighbours on top: boosts detail, keeps flat areas",
    "Identity": "a single 1 in the middle: copies the input",
    "Custom": "all zeros: type your own weights",
}
IMAGES = ("Square", "Vertical edge", "Diagonal line", "Random digits", "Checkerboard", "Gradient", "Zeros")
PICTURES = ("Shapes", "Checkerboard", "Rings", "Noisy steps")
CELLS = range(-9999, 10000)  # a number one grid cell may hold, typed or in a link: four digits stay readable


def _binomial(n: int) -> np.ndarray:
    """Row n of Pascal's triangle: the smoothing half of a Sobel kernel."""
    return np.array([comb(n, i) for i in range(n + 1)], dtype=np.int64)


def _odd(name: str, size: int) -> None:
    if size < 3 or size % 2 == 0:
        raise ValueError(f"{name} is defined for odd sizes of at least 3 (3, 5, 7); got {size}. "
                         "Pick one of those, or another preset.")


def kernel(name: str, size: int = 3) -> np.ndarray:
    """A preset kernel as a (size, size) integer array; Sobel and Laplacian need an odd size of at least 3.

    Sobel of size n is smoothing (Pascal row n-1) times derivative (Pascal row n-3 convolved with [-1, 0, 1]),
    as in OpenCV; larger Laplacians and sharpeners weigh every neighbour equally.
    """
    if size < 1:
        raise ValueError(f"kernel size must be at least 1, got {size}")
    centre = (size - 1) // 2
    if name in ("Sobel x", "Sobel y"):
        _odd(name, size)
        deriv = np.convolve(_binomial(size - 3), [-1, 0, 1])  # (size,)
        k = np.outer(_binomial(size - 1), deriv)  # rows smooth, columns differentiate
        return k if name == "Sobel x" else k.T.copy()
    if name == "Laplacian":
        _odd(name, size)
        if size == 3:
            return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.int64)
        k = np.ones((size, size), dtype=np.int64)
        k[centre, centre] = 1 - size * size
        return k
    if name == "Box blur":
        return np.ones((size, size), dtype=np.int64)
    if name == "Sharpen":
        if size == 3:
            return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.int64)
        k = -np.ones((size, size), dtype=np.int64)
        k[centre, centre] = size * size
        return k
    if name == "Custom":
        return np.zeros((size, size), dtype=np.int64)
    if name == "Identity":
        k = np.zeros((size, size), dtype=np.int64)
        k[centre, centre] = 1
        return k
    raise ValueError(f"unknown kernel preset {name!r}; choose from {', '.join(KERNELS)}")


def image(name: str, rows: int, cols: int, channel: int = 0) -> np.ndarray:
    """A small (rows, cols) grid of digits 0-9 to convolve by hand; other channels get a variation (turned,
    inverted, halved)."""
    r, c = np.mgrid[0:rows, 0:cols]
    if channel == 1 and name not in ("Random digits", "Zeros"):
        r, c = c * (rows - 1) // max(cols - 1, 1), r * (cols - 1) // max(rows - 1, 1)  # the pattern turned
    if name == "Square":
        top, left = rows // 4, cols // 4
        g = np.where((r >= top) & (r < rows - top) & (c >= left) & (c < cols - left), 9, 1)
    elif name == "Vertical edge":
        g = np.where(c >= cols // 2, 8, 1)
    elif name == "Diagonal line":
        g = np.where(np.abs(r * (cols - 1) - c * (rows - 1)) <= max(rows, cols) // 2, 9, 0)
    elif name == "Random digits":
        g = np.random.default_rng(7 + channel).integers(0, 10, (rows, cols))
    elif name == "Checkerboard":
        g = np.where((r // 2 + c // 2) % 2 == 0, 8, 2)
    elif name == "Gradient":
        g = (r + c) % 10
    elif name == "Zeros":
        g = np.zeros((rows, cols))
    else:
        raise ValueError(f"unknown image preset {name!r}; choose from {', '.join(IMAGES)}")
    g = g.astype(np.int64)
    if channel == 3 and name != "Random digits":  # a fourth channel: the numbers halved, like no other channel
        return g // 2
    return 9 - g if channel == 2 and name not in ("Random digits", "Zeros") else g


def picture(name: str, size: int = 320) -> np.ndarray:
    """A procedural greyscale picture (size, size) uint8 for showing what a kernel picks out."""
    y, x = np.mgrid[0:size, 0:size] / size
    if name == "Shapes":
        img = Image.fromarray((40 + 60 * x).astype(np.uint8))  # a soft left-to-right ramp as background
        d = ImageDraw.Draw(img)
        s = size
        d.ellipse([0.08 * s, 0.1 * s, 0.45 * s, 0.47 * s], fill=235)
        d.rectangle([0.55 * s, 0.12 * s, 0.9 * s, 0.42 * s], fill=160)
        d.polygon([(0.1 * s, 0.9 * s), (0.3 * s, 0.55 * s), (0.5 * s, 0.9 * s)], fill=200)
        d.line([(0.55 * s, 0.55 * s), (0.92 * s, 0.92 * s)], fill=250, width=max(2, s // 80))
        font = ImageFont.load_default(size=max(12, s // 7))
        d.text((0.58 * s, 0.56 * s), "CNN", fill=255, font=font)
        return np.asarray(img, dtype=np.uint8)
    if name == "Checkerboard":
        n = 8
        return np.where(((y * n).astype(int) + (x * n).astype(int)) % 2 == 0, 220, 35).astype(np.uint8)
    if name == "Rings":
        radius = np.hypot(x - 0.5, y - 0.5)
        return (127.5 + 127.5 * np.cos(2 * np.pi * 12 * radius ** 1.3)).astype(np.uint8)
    if name == "Noisy steps":
        steps = (np.floor(x * 5) * 40 + 40 + np.where(y > 0.5, 30, 0)).astype(np.float64)
        noise = np.random.default_rng(0).normal(0, 18, (size, size))
        img = Image.fromarray(np.clip(steps + noise, 0, 255).astype(np.uint8))
        return np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.uint8)
    raise ValueError(f"unknown picture {name!r}; choose from {', '.join(PICTURES)}")


def to_text(grids: np.ndarray) -> str:
    """(C, H, W) integers as URL text: rows split by ';', channels by '|' ('1,2;3,4|0,0;1,1')."""
    return "|".join(";".join(",".join(str(int(v)) for v in row) for row in g) for g in np.asarray(grids))


def from_text(text: str, shape: tuple[int, int, int]) -> np.ndarray | None:
    """Parse `to_text` output and fit it to (C, H, W): cropped, or padded with zeros; None when unreadable or
    when a number is outside `CELLS`."""
    out = np.zeros(shape, dtype=np.int64)
    try:
        chans = [[[int(v) for v in row.split(",")] for row in ch.split(";")] for ch in text.split("|")]
    except ValueError:
        return None
    if not text or not chans:
        return None
    if any(v not in CELLS for ch in chans for row in ch for v in row):
        return None  # a link's 10**30 would not even fit the grid's int64
    for c, ch in enumerate(chans[:shape[0]]):
        for r, row in enumerate(ch[:shape[1]]):
            vals = row[:shape[2]]
            out[c, r, :len(vals)] = vals
    return out


def typed(values: np.ndarray) -> np.ndarray:
    """Cells as a student typed them into a grid editor, as grid numbers: empty -> 0, rounded, within `CELLS`."""
    cells = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0).round()
    return np.clip(cells, CELLS.start, CELLS.stop - 1).astype(np.int64)


def edited(text: str, presets: np.ndarray) -> np.ndarray:
    """The (C, H, W) grids in use: those `text` (see `to_text`) holds, fitted to the presets' shape, else the
    presets."""
    grids = from_text(text, presets.shape) if text else None
    return presets if grids is None else grids


def edit_text(grids: np.ndarray, presets: np.ndarray) -> str:
    """What a link keeps of edited (C, H, W) grids: '' while they are still the presets, else `to_text`."""
    return "" if np.array_equal(grids, presets) else to_text(grids)


def enlarged(pixels: np.ndarray, side: int) -> np.ndarray:
    """A small picture (a 32x32 test image) blown up by whole pixels to about `side` wide, each a crisp square."""
    factor = max(1, side // max(pixels.shape[:2]))
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


NEGATIVE, ZERO, POSITIVE = np.array([33, 102, 172]), np.array([255, 255, 255]), np.array([178, 24, 43])
VIEWS = {"signed": "Signed: blue below zero, red above",
         "abs": "Strength: |response| as brightness",
         "clip": "As a photo: clipped to 0–255"}


def view_legend(view: str, scale: float) -> str:
    """How to read a response picture in `view` whose full colour is at `scale` (see `display_scale`)."""
    shown = str(round(scale))
    return {"signed": f"White is 0; full red is +{shown} or more, full blue -{shown} or less "
                      "(99.5% of the pixels inside the frame lie in between).",
            "abs": f"Black is 0, white is {shown} or more (99.5% of the pixels inside the frame are below): "
                   "how strongly the kernel responds, whatever the sign.",
            "clip": "Values below 0 turn black and above 255 turn white, as when the response is saved as an "
                    "image: half of an edge detector's answer (the negative side) is lost."}[view]


def display_scale(response: np.ndarray, percentile: float = 99.5, border: int = 0) -> float:
    """The |value| that gets the full colour: a high percentile of |response|, so a few extreme pixels do not
    leave everything else faint. `border` rows and columns on each side (where the kernel met the zero
    padding, a frame of false edges) are left out of the count when the picture is big enough. Never 0."""
    a = np.abs(np.asarray(response, dtype=np.float64))
    if border and min(a.shape) > 4 * border:
        a = a[border:-border, border:-border]
    return float(np.percentile(a, percentile)) or float(a.max()) or 1.0


def response_picture(response: np.ndarray, view: str = "signed", scale: float | None = None) -> np.ndarray:
    """A kernel's response (H, W) as uint8 RGB pixels.

    'signed': white at 0, red at +scale, blue at -scale (symmetric, so 0 stays white); 'abs': |r| from black
    (0) to white (scale); 'clip': the values cut to 0..255, what saving the response as an image would keep.
    `scale` defaults to max|r|; values beyond it get the full colour.
    """
    r = np.asarray(response, dtype=np.float64)
    scale = scale or float(np.abs(r).max()) or 1.0
    r = np.clip(r, -scale, scale) if view != "clip" else r
    if view == "signed":
        t = (r / scale)[..., None]  # (H, W, 1) in [-1, 1]
        rgb = np.where(t >= 0, ZERO + t * (POSITIVE - ZERO), ZERO - t * (NEGATIVE - ZERO))
    elif view == "abs":
        rgb = np.repeat((np.abs(r) / scale * 255)[..., None], 3, axis=2)
    elif view == "clip":
        rgb = np.repeat(np.clip(r, 0, 255)[..., None], 3, axis=2)
    else:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    return np.rint(rgb).astype(np.uint8)
