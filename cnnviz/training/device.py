"""Which compute device to use, and what the sidebar reports about it."""
from __future__ import annotations

import os
import platform

import torch

PRECISION_ENV = "CNNVIZ_PRECISION"  # "float32" forces full precision everywhere (to compare against bf16)


def pick_device() -> torch.device:
    """CUDA when present, then Apple MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether training on `device` should use bfloat16 autocast and channels-last memory.

    On a GPU always; on a CPU only where the chip computes bf16 itself (AVX-512 BF16 or AMX: 1.6-2.9x the float32
    training throughput of zoo networks on a 2-core EPYC, about 3x on a 2-core Xeon with AMX), since elsewhere
    PyTorch emulates it, slower than float32.
    """
    if os.environ.get(PRECISION_ENV, "").lower() == "float32" or device.type not in ("cuda", "cpu"):
        return False
    if device.type == "cuda":
        return True
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def describe(device: torch.device | None = None) -> dict[str, str]:
    """Human-readable device and version facts for the sidebar and model cards."""
    import torchvision

    device = device or pick_device()
    if device.type == "cuda":
        name = f"CUDA: {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        name = "Apple MPS"
    else:
        name = f"CPU ({torch.get_num_threads()} threads{', bf16' if native_bf16(device) else ''})"
    return {
        "device": name,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
