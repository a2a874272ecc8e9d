"""Data sets as whole uint8 tensors: MNIST, CIFAR-10 and any ImageFolder tree, decoded once and cached."""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnviz import paths

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
SPLITS = ("train", "test")
KNOWN = ("mnist", "cifar10")  # torchvision can fetch these when online; other sets must be on disk
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a data set is a folder directly in the data folder
Progress = Callable[[float], None]


class DatasetUnavailable(RuntimeError):
    """A data set is neither on disk nor downloadable; the message says where we looked and what to do."""


@dataclass
class ImageSet:
    """One split of a data set held in memory as uint8 pixels."""

    name: str
    split: str
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: torch.Tensor | list[int]) -> ImageSet:
        """The same split restricted to `indices` (in that order)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageSet(self.name, self.split, self.images[idx], self.labels[idx], self.classes)

    def pil(self, index: int) -> Image.Image:
        """Image `index` as a PIL image (L for one channel, RGB for three)."""
        return to_pil(self.images[index])

    def class_counts(self) -> list[int]:
        """How many images each class has, in class order."""
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation of the pixels scaled to [0, 1].

        Computed exactly from a 256-bin histogram per channel, so no float copy of the data set is made.
        """
        values = torch.arange(256, dtype=torch.float64) / 255
        means, stds = [], []
        for channel in range(self.images.shape[1]):
            counts = torch.bincount(self.images[:, channel].reshape(-1), minlength=256).double()
            mean = (counts * values).sum() / counts.sum()
            var = (counts * (values - mean) ** 2).sum() / counts.sum()
            means.append(mean.item())
            stds.append(var.sqrt().item())
        return means, stds


def to_pil(image: torch.Tensor) -> Image.Image:
    """A (C, H, W) uint8 tensor as a PIL image."""
    array = image.permute(1, 2, 0).numpy()  # (H, W, C)
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def load(name: str, split: str = "train", root: Path | None = None, download: bool | None = None,
         progress: Progress | None = None) -> ImageSet:
    """Load a whole split of `name` ("mnist", "cifar10" or an ImageFolder tree under the data folder).

    Args:
        name: the data set's name; for ImageFolder trees, the folder name under `root`.
        split: "train" or "test".
        root: the data folder; defaults to $CNNVIZ_DATA_DIR.
        download: let torchvision download MNIST/CIFAR-10 when missing; defaults to $CNNVIZ_DOWNLOAD != "0".
        progress: called with the fraction done while images are decoded for the first time.

    Raises:
        DatasetUnavailable: the data is neither present nor downloadable.
        ValueError: an unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = Path(root or paths.data_dir())
    check_name(name, root)
    if download is None:
        download = os.environ.get("CNNVIZ_DOWNLOAD", "1") != "0"
    folder = _image_folder(root, name, split)
    if folder is not None:
        return _load_image_folder(name, split, folder, progress)
    if name == "mnist":
        return _load_torchvision("mnist", split, root, download)
    if name == "cifar10":
        return _load_torchvision("cifar10", split, root, download)
    raise DatasetUnavailable(
        f"Data set {name!r} ({split} split) was not found: looked for an ImageFolder tree at "
        f"{root / name / split}/<class>/<image>. "
        "Put the images there or set CNNVIZ_DATA_DIR to the folder that holds it."
    )


def check_name(name: str, root: Path | None = None) -> None:
    """Refuse a name that is not a data set this server lists, so a link or form never reaches another folder.

    Raises:
        DatasetUnavailable: `name` is a path, a hidden or odd name, or neither MNIST, CIFAR-10 nor a folder
            of the data folder; the message lists the data sets there are.
    """
    if name in KNOWN:
        return
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name not in available(root):
        shown = str(name)[:40]
        raise DatasetUnavailable(f"{shown!r} is not a data set here. The data sets are: "
                                 f"{', '.join(known(root))}.")


def known(root: Path | None = None) -> list[str]:
    """Every data set name `load` accepts: MNIST, CIFAR-10 and the ImageFolder trees of the data folder."""
    return list(KNOWN) + [name for name in available(root) if name not in KNOWN]


def available(root: Path | None = None) -> list[str]:
    """Names of the data sets present under the data folder (nothing is downloaded)."""
    root = Path(root or paths.data_dir())
    found = []
    if _mnist_raw_present(root):
        found.append("mnist")
    if (root / "cifar-10-batches-py").is_dir():
        found.append("cifar10")
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if _NAME.fullmatch(child.name) and _image_folder(root, child.name, "train") and child.name not in found:
                found.append(child.name)
    return found


def _image_folder(root: Path, name: str, split: str) -> Path | None:
    """`<root>/<name>/<split>` when it is a tree of class folders, else None."""
    folder = root / name / split
    if not folder.is_dir():
        return None
    return folder if any(p.is_dir() for p in folder.iterdir()) else None


def _mnist_raw_present(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / f).is_file() for f in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"))


def _load_torchvision(name: str, split: str, root: Path, download: bool) -> ImageSet:
    """MNIST or CIFAR-10 through torchvision (downloading only when allowed)."""
    import torchvision

    train = split == "train"
    try:
        if name == "mnist":
            ds = torchvision.datasets.MNIST(str(root), train=train, download=download)
            images = ds.data.unsqueeze(1).contiguous()  # (N, 1, 28, 28)
            return ImageSet(name, split, images, ds.targets.long(), list(MNIST_CLASSES))
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=download)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
        return ImageSet(name, split, images, torch.tensor(ds.targets), list(ds.classes))
    except Exception as exc:  # torchvision raises RuntimeError offline, URLError/OSError on network faults
        if name == "mnist":
            layout = "MNIST/raw/*-ubyte"
        else:
            layout = "cifar10/{train,test}/<class>/*.png or cifar-10-batches-py/"
        how = "the download failed" if download else "downloading is switched off (CNNVIZ_DOWNLOAD=0)"
        raise DatasetUnavailable(
            f"Data set {name!r} ({split} split) is not in {root} and {how}: {exc}. "
            f"Fix: connect to the internet and retry, or set CNNVIZ_DATA_DIR to a folder holding {layout}."
        ) from exc


def _load_image_folder(name: str, split: str, folder: Path, progress: Progress | None) -> ImageSet:
    """Decode an ImageFolder split once, then serve it from a uint8 tensor cache."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    cache = _cache_file(name, split, folder, classes)
    if cache.is_file():
        blob = torch.load(cache, weights_only=True, mmap=True)
        return ImageSet(name, split, blob["images"], blob["labels"], blob["classes"])
    files = [(f, label) for label, c in enumerate(classes)
             for f in sorted((folder / c).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DatasetUnavailable(
            f"Data set {name!r}: no images under {folder}/<class>/ (looked for {sorted(IMAGE_SUFFIXES)})."
        )
    images = _decode_all([f for f, _ in files], progress)
    labels = torch.tensor([label for _, label in files], dtype=torch.long)
    _atomic_save({"images": images, "labels": labels, "classes": classes}, cache)
    return ImageSet(name, split, images, labels, classes)


def _decode_all(files: list[Path], progress: Progress | None) -> torch.Tensor:
    """Decode image files in threads into one (N, C, H, W) uint8 tensor sized like the first image."""
    with Image.open(files[0]) as first:
        size, mode = first.size, ("L" if first.mode in ("L", "1", "I;16") else "RGB")

    def decode(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            im = im.convert(mode)
            return np.asarray(im if im.size == size else im.resize(size, Image.BILINEAR))

    out = np.empty((len(files), size[1], size[0], 1 if mode == "L" else 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, array in enumerate(pool.map(decode, files, chunksize=256)):
            out[i] = array.reshape(out.shape[1:])
            if progress and i % 1000 == 0:
                progress(i / len(files))
    if progress:
        progress(1.0)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)


def _cache_file(name: str, split: str, folder: Path, classes: list[str]) -> Path:
    """Where the decoded split lives: always the cache folder, so cnnviz never writes into the data folder.

    The key names the folder and changes when a class folder gains or loses files (its mtime changes),
    without listing 60,000 files.
    """
    stamps = "|".join(f"{c}:{(folder / c).stat().st_mtime_ns}" for c in classes)
    key = hashlib.sha1(f"{folder.resolve()}|{stamps}".encode()).hexdigest()[:12]
    return paths.cache_dir() / f"{name}-{split}-{key}.pt"


def _atomic_save(obj: object, path: Path) -> None:
    """torch.save through a temporary file so a crash never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)
