"""The data set explorer's figures: class counts per split, sample images per class, the normalisation
statistics and what normalisation does to pixels, and for the digit canvases of `segments` their pixel shares,
digits per canvas and masks. Returns tables, index arrays and PIL images only."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageFont

from cnnviz.datasets import segments
from cnnviz.datasets.data import ImageSet
from cnnviz.datasets.splits import Splits, hold_out

SHOWN_STD = 3.0  # normalised values are coloured from -3 (full blue) to +3 (full red) standard deviations


def splits(train: ImageSet, test: ImageSet | None = None, val_fraction: float = 0.1, seed: int = 0) -> Splits:
    """Train / validation / test exactly as training splits them (the seeded hold-out of `cnnviz.datasets.splits`).

    The mean and std in the result come from the training part only, as in training.
    """
    return hold_out(train, test, val_fraction, seed)  # type: ignore[arg-type]  # ImageFolder sets may lack a test


def class_counts(s: Splits) -> pd.DataFrame:
    """split, class, class_index, count for every split present (train, validation, test)."""
    rows = []
    for split, part in (("train", s.train), ("validation", s.val), ("test", s.test)):
        if part is None:
            continue
        for i, (name, count) in enumerate(zip(part.classes, part.class_counts())):
            rows.append((split, name, i, count))
    return pd.DataFrame(rows, columns=["split", "class", "class_index", "count"])


def channel_names(channels: int) -> list[str]:
    return ["grey"] if channels == 1 else ["red", "green", "blue"][:channels] + [f"c{i}" for i in range(3, channels)]


def channel_stats(s: Splits) -> pd.DataFrame:
    """channel, mean, std of the training split (pixels scaled to [0, 1]), and the same on the 0-255 scale."""
    return stats_table(s.mean, s.std)


def stats_table(mean: list[float], std: list[float]) -> pd.DataFrame:
    """channel, mean, std per channel (pixels scaled to [0, 1]), and the same on the 0-255 scale."""
    return pd.DataFrame({"channel": channel_names(len(mean)), "mean": mean, "std": std,
                         "mean (0-255)": [m * 255 for m in mean], "std (0-255)": [v * 255 for v in std]})


def one_per_class(data: ImageSet) -> list[int]:
    """Index of the first image of each class (-1 for a class without images)."""
    labels = data.labels.numpy()
    return [int(np.flatnonzero(labels == k)[0]) if (labels == k).any() else -1 for k in range(len(data.classes))]


def random_per_class(data: ImageSet, per_class: int, seed: int = 0, classes: list[int] | None = None
                     ) -> np.ndarray:
    """(len(classes), per_class) indices drawn without replacement per class, seeded; -1 pads a small class."""
    rng = np.random.default_rng(seed)
    labels = data.labels.numpy()
    classes = list(range(len(data.classes))) if classes is None else classes
    out = np.full((len(classes), per_class), -1, dtype=np.int64)
    for row, k in enumerate(classes):
        members = np.flatnonzero(labels == k)
        take = rng.choice(members, size=min(per_class, len(members)), replace=False)
        out[row, :len(take)] = take
    return out


def normalise(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (x / 255 - mean) / std per channel: what the network is fed."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (images.float() / 255 - m) / s


BLUE, WHITE, RED = np.array([33, 102, 172.0]), np.array([247, 247, 247.0]), np.array([178, 24, 43.0])


def diverging(x: torch.Tensor, shown_std: float = SHOWN_STD) -> torch.Tensor:
    """Normalised values (N, H, W) as RGB uint8 (N, 3, H, W): blue below the mean, white at it, red above.

    The scale is fixed: -shown_std is full blue, +shown_std full red, so images can be compared.
    """
    v = (x / shown_std).clamp(-1, 1).unsqueeze(-1).numpy()  # (N, H, W, 1)
    rgb = np.where(v < 0, WHITE + (BLUE - WHITE) * -v, WHITE + (RED - WHITE) * v)  # (N, H, W, 3)
    return torch.from_numpy(rgb.round().astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def diverging_legend(width: int = 360, height: int = 18, shown_std: float = SHOWN_STD) -> Image.Image:
    """A colour bar for `diverging`, labelled in standard deviations from the channel mean."""
    ramp = torch.linspace(-shown_std, shown_std, width).expand(1, height, width)
    bar = diverging(ramp)[0].permute(1, 2, 0).numpy()
    font = _font(14)
    canvas = Image.new("RGB", (width + 40, height + 22), "white")
    canvas.paste(Image.fromarray(np.ascontiguousarray(bar)), (20, 0))
    draw = ImageDraw.Draw(canvas)
    for value in (-shown_std, -shown_std / 2, 0.0, shown_std / 2, shown_std):
        x = 20 + (value + shown_std) / (2 * shown_std) * (width - 1)
        text = f"{value:+g}" if value else "0 (mean)"
        draw.text((x - font.getbbox(text)[2] / 2, height + 3), text, fill="black", font=font)
    return canvas


def value_histogram(images: torch.Tensor, mean: list[float], std: list[float], bins: int = 40) -> pd.DataFrame:
    """Pixel values per channel before (x / 255) and after normalisation, as histogram bars.

    Columns: stage, channel, start, end, share (fraction of that channel's pixels in the bin).
    """
    before = images.float() / 255
    after = normalise(images, mean, std)
    names = channel_names(images.shape[1])
    rows = []
    for stage, x in (("before: pixel / 255", before), ("after: (pixel / 255 - mean) / std", after)):
        lo, hi = float(x.min()), float(x.max())
        hi = hi if hi > lo else lo + 1
        edges = np.linspace(lo, hi, bins + 1)
        for c, name in enumerate(names):
            counts, _ = np.histogram(x[:, c].numpy().ravel(), bins=edges)
            share = counts / max(1, counts.sum())
            rows += [(stage, name, edges[i], edges[i + 1], share[i]) for i in range(bins)]
    return pd.DataFrame(rows, columns=["stage", "channel", "start", "end", "share"])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def tile(images: torch.Tensor, ncols: int, scale: int = 1, labels: list[str] | None = None,
         row_labels: list[str] | None = None, pad: int = 4, font_size: int = 18) -> Image.Image:
    """uint8 images (N, C, H, W) as one RGB grid image, enlarged `scale` times without blurring.

    Args:
        labels: a caption under each image.
        row_labels: a name left of each row (e.g. the class of that row).
    """
    n, c, h, w = images.shape
    big = images.repeat_interleave(scale, 2).repeat_interleave(scale, 3)  # (N, C, H*s, W*s)
    if c == 1:
        big = big.expand(-1, 3, -1, -1)
    array = big.permute(0, 2, 3, 1).numpy()  # (N, H*s, W*s, 3)
    font = _font(font_size)
    cap = font_size + 6 if labels else 0
    left = (max(font.getbbox(t)[2] for t in row_labels) + 2 * pad) if row_labels else 0
    nrows = max(1, -(-n // ncols))
    th, tw = h * scale, w * scale
    canvas = Image.new("RGB", (left + ncols * (tw + pad) + pad, nrows * (th + pad + cap) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        r, col = divmod(i, ncols)
        x, y = left + pad + col * (tw + pad), pad + r * (th + pad + cap)
        canvas.paste(Image.fromarray(np.ascontiguousarray(array[i])), (x, y))
        if labels:
            text = labels[i]
            width = font.getbbox(text)[2]
            draw.text((x + max(0, (tw - width) // 2), y + th + 2), text, fill="black", font=font)
    for r, text in enumerate(row_labels or []):
        y = pad + r * (th + pad + cap) + th // 2 - font_size // 2
        draw.text((pad, y), text, fill="black", font=font)
    return canvas


def pick(data: ImageSet, indices: np.ndarray | list[int]) -> torch.Tensor:
    """Images at `indices` (-1 gives a blank white image), (N, C, H, W) uint8."""
    idx = np.asarray(indices, dtype=np.int64).ravel()
    out = torch.full((len(idx), *data.shape), 255, dtype=torch.uint8)
    present = idx >= 0
    if present.any():
        out[torch.from_numpy(present)] = data.images[torch.from_numpy(idx[present])]
    return out


def scale_for(data: ImageSet, target: int = 96) -> int:
    """An integer enlargement that makes one image about `target` pixels wide (at least 1)."""
    return max(1, round(target / data.shape[2]))


def class_examples(data: ImageSet, target: int = 96) -> Image.Image:
    """One image per class, captioned with the class name, as one grid image."""
    indices = one_per_class(data)
    ncols = min(10, len(indices))
    return tile(pick(data, indices), ncols, scale_for(data, target), labels=list(data.classes))


def class_rows(data: ImageSet, per_class: int, seed: int = 0, target: int = 64,
               classes: list[int] | None = None) -> Image.Image:
    """One row of `per_class` random images for each class, the class named on the left, as one image."""
    classes = list(range(len(data.classes))) if classes is None else classes
    indices = random_per_class(data, per_class, seed, classes)
    return tile(pick(data, indices), per_class, scale_for(data, target),
                row_labels=[data.classes[k] for k in classes])


def class_page(data: ImageSet, cls: int, count: int, ncols: int, seed: int = 0, target: int = 64) -> Image.Image:
    """`count` random images of class `cls` (seeded), `ncols` to a row, as one image."""
    indices = random_per_class(data, count, seed, [cls])[0]
    return tile(pick(data, indices[indices >= 0]), ncols, scale_for(data, target))


def normalisation_grid(data: ImageSet, indices: list[int], mean: list[float], std: list[float],
                       target: int = 96) -> Image.Image:
    """One image: the originals in the first row, then each channel after normalisation in blue-white-red.

    The network sees the lower rows: every channel shifted by its mean and divided by its std (`diverging`).
    """
    images = pick(data, indices)  # (N, C, H, W)
    after = normalise(images, mean, std)
    n, c = after.shape[:2]
    maps = diverging(after.transpose(0, 1).reshape(c * n, *after.shape[2:]))  # (C*N, 3, H, W), channel-major
    rgb = images.expand(-1, 3, -1, -1) if c == 1 else images
    names = [f"{name} normalised" for name in channel_names(c)] if c > 1 else ["normalised"]
    return tile(torch.cat([rgb, maps]), n, scale_for(data, target), row_labels=["original", *names])


# ---- what the explorer's page shows, as data -----------------------------------------------------------------
CHANNEL_COLOURS = {"grey": "#333333", "red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4"}  # lines per channel
UNBALANCED = 1.5  # a split whose largest class has this many times the images of its smallest is unbalanced


def parts(s: Splits) -> dict[str, ImageSet]:
    """The splits that hold images, by the name the page shows: train, validation, test."""
    named = {"train": s.train, "validation": s.val, "test": s.test}
    return {name: part for name, part in named.items() if part is not None and len(part)}


def totals(counts: pd.DataFrame) -> dict[str, int]:
    """Images per split of a `class_counts` table, in its order."""
    return {split: int(n) for split, n in counts.groupby("split", sort=False)["count"].sum().items()}


def unbalanced(counts: pd.DataFrame, ratio: float = UNBALANCED) -> bool:
    """Whether some split of a `class_counts` table has a class with over `ratio` times the images of another."""
    spread = counts.groupby("split")["count"].agg(["min", "max"])
    return bool((spread["max"] > ratio * spread["min"].clip(lower=1)).any())


def first_images(data: ImageSet, n: int = 8) -> list[int]:
    """The first image of each of the first `n` classes (classes without images left out)."""
    return [i for i in one_per_class(data)[:n] if i >= 0]


def pixel_values(data: ImageSet, mean: list[float], std: list[float], per_class: int = 50, seed: int = 0
                 ) -> pd.DataFrame:
    """`value_histogram` of `per_class` random images of each class (seeded): pixels before and after."""
    rows = random_per_class(data, per_class, seed).ravel()
    return value_histogram(pick(data, rows[rows >= 0]), mean, std)


# ---- the digit canvases (segmentation) -------------------------------------------------------------------------
SEGMENTATION = "m2nist"  # the data set name of `segments`' canvases (the zoo's U-Nets'): made from MNIST, not read
VIEWS = ("image", "mask", "both")  # a canvas alone, its mask alone, or the mask tinting the canvas


def pixel_shares(sets: dict[str, segments.Canvases]) -> pd.DataFrame:
    """split, class, class_index, share, pixels: each class's share of all the pixels of each split."""
    rows = []
    for split, canvases in sets.items():
        shares = segments.class_shares(canvases.masks)
        total = canvases.masks.numel()
        rows += [(split, name, k, float(share), round(share * total)) for k, (name, share)
                 in enumerate(zip(canvases.classes, shares))]
    return pd.DataFrame(rows, columns=["split", "class", "class_index", "share", "pixels"])


def digits_per_canvas(sets: dict[str, segments.Canvases]) -> pd.DataFrame:
    """A `class_counts` table whose classes are "1 digit" .. "3 digits": how many canvases hold that many."""
    rows = []
    for split, canvases in sets.items():
        counts = torch.bincount(canvases.counts, minlength=segments.MAX_DIGITS + 1)
        rows += [(split, f"{n} digit{'s' if n > 1 else ''}", n, int(counts[n]))
                 for n in range(1, segments.MAX_DIGITS + 1)]
    return pd.DataFrame(rows, columns=["split", "class", "class_index", "count"])


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """(mean, std) of uint8 pixels scaled to [0, 1], from their 256-value histogram: exact, and no float copy."""
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    var = (counts * (values - mean) ** 2).sum() / counts.sum()
    return float(mean), float(var.sqrt())


def random_canvases(count: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` distinct canvas indices out of `count` (fewer when there are fewer), drawn by `seed`."""
    return np.random.default_rng(seed).choice(count, size=min(n, count), replace=False)


def canvas_picture(canvases: segments.Canvases, index: int, view: str, scale: int = 2) -> Image.Image:
    """Canvas `index` as the canvas, its coloured mask or both (`VIEWS`), `scale` times larger by whole pixels."""
    image, mask = canvases.images[index], canvases.masks[index]
    if view == "image":
        picture = Image.fromarray(image[0].numpy(), "L").convert("RGB")
    elif view == "mask":
        picture = Image.fromarray(segments.coloured(mask), "RGB")
    elif view == "both":
        picture = segments.overlay(image, mask)
    else:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
