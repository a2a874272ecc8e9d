"""Peak resident memory of one app process serving the zoo: mnist_cnn, cifar_cnn, cifar_cnn_plus and resnet18.

One process runs the real Inside-a-model page (through streamlit.testing's AppTest, the same Streamlit runtime
and the same library calls as the server) once per model, each in its own session as a class would: the model
loaded into the shared st.cache_resource, its sample image through every layer (feature maps), then Grad-CAM.
A model without a checkpoint yet is served untrained (same architecture, same size), as the page does.
Every session is kept open to the end, so their session state counts too.

Baseline: the same process idle, with Streamlit and PyTorch imported and the welcome page served.
Figure: the process's peak resident set (VmHWM). Target: under 1.5 GB.

    .venv/bin/python bench/bench_memory.py
"""
from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")

MODELS = ["mnist_cnn", "cifar_cnn", "cifar_cnn_plus", "resnet18"]
TARGET_MB = 1536
MAIN = str(ROOT / "app" / "main.py")
INSIDE = str(ROOT / "app" / "lessons" / "inside.py")
HOME = str(ROOT / "app" / "lessons" / "home.py")
CAM_VIEW = "🔥 Where it looks"


def memory_mb() -> dict[str, float]:
    """This process's resident set now (VmRSS) and at its peak so far (VmHWM), in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MB
    return fields


def check(at, what: str) -> None:
    if at.exception:
        raise SystemExit(f"{what}: the page raised {[e.message for e in at.exception]}")


def main() -> None:
    import torch
    from streamlit.testing.v1 import AppTest

    import cnnviz.training.device  # noqa: F401  what the server's start-up thread imports (app/state.py), done here first

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    idle = AppTest.from_file(MAIN, default_timeout=300)
    idle.run()
    check(idle, "welcome page")
    base = memory_mb()
    print(f"baseline: app process idle (Streamlit + PyTorch imported, welcome page served): "
          f"{base['VmRSS']:.0f} MB resident")

    import models

    sessions = [idle]
    print(f"{'model':16} {'checkpoint':11} {'params':>10} {'pictures':>8} {'seconds':>8} {'resident MB':>12} "
          f"{'peak MB':>9}")
    for name in MODELS:
        start = time.perf_counter()
        at = AppTest.from_file(MAIN, default_timeout=600)
        at.query_params["model"] = name
        at.run()
        at.switch_page(INSIDE).run()  # feature maps of every layer (the default view)
        check(at, f"{name}: feature maps")
        pictures = len(at.get("image"))  # the input, its preprocessing and one tiled grid per layer
        at.session_state["view"] = CAM_VIEW
        at.run()
        check(at, f"{name}: Grad-CAM")
        if not any("Grad-CAM for" in str(image.proto) for image in at.get("image")):
            raise SystemExit(f"{name}: the Grad-CAM view did not draw its overlay")
        sessions.append(at)
        entry = models.ZOO[name]
        params = sum(p.numel() for p in models.build(name).parameters())
        mem = memory_mb()
        print(f"{name:16} {'yes' if entry.checkpoint.is_file() else 'untrained':11} {params:>10,} {pictures:>8} "
              f"{time.perf_counter() - start:>8.1f} {mem['VmRSS']:>12.0f} {mem['VmHWM']:>9.0f}")

    peak = memory_mb()["VmHWM"]
    verdict = "OK" if peak < TARGET_MB else "OVER TARGET"
    print(f"peak resident memory serving all {len(MODELS)} models: {peak:.0f} MB "
          f"(target < {TARGET_MB} MB: {verdict})")
    print(f"baseline {base['VmRSS']:.0f} MB -> peak {peak:.0f} MB: ratio {peak / base['VmRSS']:.2f}x, "
          f"{peak - base['VmRSS']:.0f} MB for the models, their pictures and {len(sessions)} sessions")


if __name__ == "__main__":
    main()
