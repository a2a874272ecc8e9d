"""Checkpoints that carry their own model card: architecture, data, normalisation, config and metrics."""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = 1
HALF_ABOVE_BYTES = 20_000_000  # store float weights as float16 above this size (keeps files < 25 MB)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or not a cnnviz checkpoint."""


def save(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write `model`'s weights and `meta` (arch, classes, mean, std, card...) atomically to `path`."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if sum(v.numel() * v.element_size() for v in state.values()) > HALF_ABOVE_BYTES:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save({"format": FORMAT, "meta": meta, "state_dict": state}, tmp)
    os.replace(tmp, path)
    return path


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint back as (float32 state dict, meta), or raise CheckpointError saying why."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}: train the model first (Train page or `python -m models.train`)."
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(
            f"The checkpoint {path.name} is damaged or not a PyTorch file ({exc}). "
            "Retrain it or restore the file."
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or "state_dict" not in blob:
        raise CheckpointError(f"{path.name} is not a cnnviz checkpoint (format {FORMAT}).")
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    return state, blob["meta"]


def restore(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> nn.Module:
    """Load `state` into `model`, turning a shape mismatch into a CheckpointError."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"The checkpoint does not fit the {name} architecture: {exc}") from exc
    return model.eval()
