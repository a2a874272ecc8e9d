"""Seconds from starting the app to the first page on screen, against a baseline app that imports torch first.

Target: the welcome page within 1.5 s. Run: .venv/bin/python bench/bench_startup.py
"""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HEADING = "cnnviz: see what a convolutional network does"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(port: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("the app did not answer its health check")


def time_to_first_page(script: Path, browser) -> tuple[float, float]:
    """(seconds to health check, seconds to the welcome heading) after launching `streamlit run script`."""
    port = free_port()
    page = browser.new_page()
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                               "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_health(port, start + 60)
        health = time.perf_counter() - start
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text(HEADING).wait_for(timeout=60_000)
        return health, time.perf_counter() - start
    finally:
        server.terminate()
        server.wait()
        page.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        baseline = Path(tmp) / "eager_torch_main.py"  # what a naive app does: import torch at the top
        baseline.write_text(f"import torch, torchvision  # noqa\nimport runpy\n"
                            f"runpy.run_path({str(ROOT / 'app' / 'main.py')!r}, run_name='__main__')\n")
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        time_to_first_page(ROOT / "app" / "main.py", browser)  # warm the disk cache for both
        ours = [time_to_first_page(ROOT / "app" / "main.py", browser) for _ in range(3)]
        eager = [time_to_first_page(baseline, browser) for _ in range(3)]
        browser.close()
    best_ours, best_eager = min(t for _, t in ours), min(t for _, t in eager)
    print(f"health check answers after {min(h for h, _ in ours):.2f} s")
    print(f"first page on screen: cnnviz {best_ours:.2f} s (best of 3; all {[round(t, 2) for _, t in ours]}), "
          f"baseline importing torch first {best_eager:.2f} s, ratio {best_eager / best_ours:.1f}x, target < 1.5 s")


if __name__ == "__main__":
    main()
