"""Do to a photo or drawing of one digit what was done to make MNIST, keeping every step to show.

MNIST's digits are white ink on black, cropped to the ink, scaled so the longer side is 20 pixels
(aspect ratio kept, anti-aliased grey edges) and placed in a 28x28 field so that the centre of mass of
the ink sits at the centre. A network trained on them reads a phone photo of a digit on paper well
only after the photo is brought into that form: `prepare` does it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

WORK_SIDE = 160      # px: long side of the working copy (the result has 20 px; noise averages out)
BOX = 20             # px: the ink's longer side in MNIST
FIELD = 28           # px: MNIST's image size
CENTRE = 14.0        # px: where MNIST's centres of mass sit (0-based; measured mean 13.99, 14.01)
NOISE_SIGMAS = 5.0   # a pixel counts as ink only this many noise standard deviations above the paper
MIN_PIECE = 0.05     # ink pieces smaller than this fraction of the largest piece are specks


@dataclass(frozen=True)
class Step:
    """One stage of the preprocessing, to show on the page."""

    title: str
    note: str
    image: Image.Image  # L


@dataclass(frozen=True)
class DigitSteps:
    """Every stage from the input to MNIST's form, and the result."""

    steps: list[Step]
    array: np.ndarray             # (28, 28) uint8, white ink on black: the network's input
    inverted: bool                # the input was dark ink on light paper
    found_ink: bool               # False for a blank image (the result is then all black)
    # ink bounding box (left, top, right, bottom) in the working copy
    box: tuple[int, int, int, int] | None = field(default=None)

    @property
    def image(self) -> Image.Image:
        """The result as a 28x28 L image."""
        return Image.fromarray(self.array, "L")


def prepare(image: Image.Image) -> DigitSteps:
    """Grayscale, white ink on black, paper removed, cropped, fitted into 20x20, centred in 28x28.

    Works for dark ink on light paper (it is inverted) and for white ink on black (kept as it is),
    photos with uneven light (the paper's brightness is modelled as a smooth surface and removed),
    and drawings. Returns every stage and the final (28, 28) uint8 array.
    """
    gray = _working_copy(image)
    x = np.asarray(gray, dtype=np.float64)
    inverted = _dark_ink_on_light_paper(x)
    ink = 255.0 - x if inverted else x
    steps = [Step("1. Grayscale", "Colour is dropped: MNIST digits have one channel.", gray)]
    steps.append(Step("2. Inverted" if inverted else "2. Not inverted",
                      "Dark ink on light paper becomes white ink on black, as in MNIST." if inverted else
                      "Already light ink on a dark background, as in MNIST: kept as it is.", _to_image(ink)))

    clean, mask = _remove_paper(ink)
    steps.append(Step("3. Paper removed", "Uneven light and paper grain are taken out; only the ink is left, "
                      "stretched to full white, and specks are dropped.", _to_image(clean)))
    if not mask.any():
        blank = np.zeros((FIELD, FIELD), np.uint8)
        note = "No ink was found, so there is nothing to crop."
        steps += [Step("4. Cropped", note, _to_image(clean)),
                  Step("5. Fitted in 20×20", note, Image.new("L", (BOX, BOX))),
                  Step("6. Centred in 28×28", note, Image.fromarray(blank))]
        return DigitSteps(steps, blank, inverted, found_ink=False)

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = clean[top:bottom, left:right]
    steps.append(Step("4. Cropped", f"Cropped to the box around the ink: {right - left}×{bottom - top} pixels.",
                      _to_image(crop)))

    boxed = fit(crop)
    steps.append(Step("5. Fitted in 20×20", "Scaled so the longer side is 20 pixels, keeping the shape; "
                      "smoothing gives the grey edges MNIST digits have.", Image.fromarray(boxed)))

    array = centre(boxed)
    cy, cx = centre_of_mass(array)
    steps.append(Step("6. Centred in 28×28", f"Placed in a 28×28 field with the ink's centre of mass at "
                      f"({cx:.1f}, {cy:.1f}), near the middle (14, 14), as in MNIST.", Image.fromarray(array)))
    return DigitSteps(steps, array, inverted, found_ink=True, box=(int(left), int(top), int(right), int(bottom)))


def fit(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale a cropped ink image (white on black) so its longer side is `box` pixels; uint8 result."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = _to_image(ink).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def centre(boxed: np.ndarray, field_size: int = FIELD, target: float = CENTRE) -> np.ndarray:
    """Paste `boxed` into a black field, shifted by whole pixels so its centre of mass lands on `target`."""
    h, w = boxed.shape
    out = np.zeros((field_size, field_size), np.uint8)
    cy, cx = centre_of_mass(boxed)
    top = int(np.clip(round(target - cy), 0, field_size - h))   # clipped so no ink is cut off
    left = int(np.clip(round(target - cx), 0, field_size - w))
    out[top:top + h, left:left + w] = boxed
    return out


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre of `a`, 0-based; the middle when `a` is blank."""
    a = np.asarray(a, dtype=np.float64)
    total = a.sum()
    if total <= 0:
        return (a.shape[0] - 1) / 2, (a.shape[1] - 1) / 2
    rows, cols = np.indices(a.shape)
    return float((rows * a).sum() / total), float((cols * a).sum() / total)


def _working_copy(image: Image.Image) -> Image.Image:
    """Grayscale, with the long side reduced to WORK_SIDE (small images are left as they are)."""
    gray = ImageOps.grayscale(image) if image.mode != "L" else image
    if max(gray.size) > WORK_SIDE:
        gray = gray.copy()
        gray.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    return gray


def _dark_ink_on_light_paper(x: np.ndarray) -> bool:
    """True when the ink is darker than the paper.

    The paper is the typical pixel of the image's border; the ink is whichever extreme lies further
    from it. This also works for grey paper in dim light, where a fixed "brighter than 128" test fails.
    """
    ring = max(1, round(0.04 * min(x.shape)))
    border = np.concatenate([x[:ring].ravel(), x[-ring:].ravel(), x[:, :ring].ravel(), x[:, -ring:].ravel()])
    paper = np.median(border)
    darkest, brightest = np.percentile(x, [1, 99])
    return paper - darkest > brightest - paper


def _remove_paper(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """White-on-black `ink` -> (cleaned image scaled to 0-255 with the paper at 0, ink mask)."""
    background = _paper_surface(ink)
    flat = ink - background  # paper ~0 everywhere, ink positive, whatever the lighting
    middle = float(np.median(flat))  # the paper: most of the picture
    grain = 1.4826 * float(np.median(np.abs(flat - middle)))  # robust standard deviation of the paper's grain
    threshold = max(_otsu(flat), middle + NOISE_SIGMAS * grain, middle + 8.0)
    mask = _drop_specks(flat > threshold)
    if not mask.any():
        return np.zeros_like(ink), mask
    level = np.percentile(flat[mask], 90)  # the ink's own brightness: it becomes full white
    low = middle + 2 * grain  # darker than this is paper: black
    clean = np.clip((flat - low) / max(level - low, 1e-6), 0, 1) * 255
    keep = _grow(mask)  # keep the soft edge around each kept stroke, drop everything else
    return clean * keep, mask


def _paper_surface(ink: np.ndarray) -> np.ndarray:
    """The paper's brightness as a smooth quadratic surface fitted to the non-ink pixels."""
    h, w = ink.shape
    ys, xs = np.mgrid[0:h, 0:w]
    u, v = xs.ravel() / max(w - 1, 1) - 0.5, ys.ravel() / max(h - 1, 1) - 0.5
    design = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)  # (H*W, 6)
    values = ink.ravel()
    paper = values <= _otsu(ink)
    for _ in range(2):  # refit without the pixels that stand out from the first surface (ink, shadows)
        if paper.sum() < design.shape[1] * 4:
            return np.full_like(ink, np.median(values))
        a = design[paper]
        coef = np.linalg.solve(a.T @ a + 1e-6 * np.eye(a.shape[1]), a.T @ values[paper])  # least squares
        surface = design @ coef
        residual = values - surface
        paper = residual <= _otsu(residual)
    return surface.reshape(h, w)


def _otsu(x: np.ndarray) -> float:
    """Otsu's threshold: the cut that best splits the values into two groups."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return hi
    counts, edges = np.histogram(x, bins=256, range=(lo, hi))
    mids = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mean = np.cumsum(counts * mids)
    total, grand = weight[-1], mean[-1]
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    between = np.zeros_like(mids[:-1])
    between[valid] = (mean[:-1][valid] * total - grand * w0[valid]) ** 2 / (w0[valid] * w1[valid])
    return float(edges[1:][:-1][np.argmax(between)])


def _drop_specks(mask: np.ndarray) -> np.ndarray:
    """Keep the connected ink pieces (8-neighbourhood) at least MIN_PIECE as large as the largest."""
    pieces = _components(mask)
    if not pieces:
        return mask
    largest = max(len(p) for p in pieces)
    keep = np.zeros(mask.size, bool)
    for piece in pieces:
        if len(piece) >= max(MIN_PIECE * largest, 2):
            keep[piece] = True
    return keep.reshape(mask.shape)


def _components(mask: np.ndarray) -> list[list[int]]:
    """Connected pieces (8-neighbourhood) of a boolean image as lists of flat indices (breadth-first)."""
    h, w = mask.shape
    stride = w + 2  # a one-pixel frame of background spares the bounds checks
    todo = np.pad(mask, 1).ravel()
    steps = [dr * stride + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
    pieces = []
    for start in np.flatnonzero(todo).tolist():
        if not todo[start]:
            continue
        todo[start] = False
        piece, queue = [], deque([start])
        while queue:
            i = queue.popleft()
            piece.append(i)
            for step in steps:
                j = i + step
                if todo[j]:
                    todo[j] = False
                    queue.append(j)
        pieces.append(piece)
    # back to indices of the unpadded image
    return [[(i // stride - 1) * w + (i % stride - 1) for i in piece] for piece in pieces]


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask widened by one pixel in every direction (a 3x3 dilation)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    out = np.zeros_like(mask)
    for dr in range(3):
        for dc in range(3):
            out |= padded[dr:dr + h, dc:dc + w]
    return out


def _to_image(a: np.ndarray) -> Image.Image:
    """A float or uint8 array in 0..255 as an L image."""
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
