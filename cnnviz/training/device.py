"""Which compute device to use, and what the sidebar reports about it."""
from __future__ import annotations

import platform

import torch


def pick_device() -> torch.device:
    """CUDA when present, then Apple MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device | None = None) -> dict[str, str]:
    """Human-readable device and version facts for the sidebar and model cards."""
    import torchvision

    device = device or pick_device()
    if device.type == "cuda":
        name = f"CUDA: {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        name = "Apple MPS"
    else:
        name = f"CPU ({torch.get_num_threads()} threads)"
    return {
        "device": name,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
