"""A class at once: 10 browser sessions on one app, each uploading an image and opening feature maps and Grad-CAM.

The app is started as the README starts it (`PORT=... make run`, loopback only) unless --url points at a running
one. One headless Chromium (Debian's, via Playwright) holds 10 independent contexts, like 10 students' browsers,
driven concurrently. Each student, on Inside a model:
  1. opens the page (--model, default cifar_cnn)                        -> "open"
  2. uploads their own photo and waits for every layer's feature maps   -> "upload + feature maps"
  3. opens the Grad-CAM view and waits for the overlay                  -> "Grad-CAM"
Latency of an action: from the click (or file choice) until Streamlit has finished the run and the expected
result is on screen. Errors: exception boxes, tracebacks in the server log, timeouts.

Baseline: one student alone, on the same warm server. Targets: no errors, p95 under 3 s.

    .venv/bin/python bench/bench_load.py [--students 10] [--model cifar_cnn] [--url http://localhost:8501]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import streamlit_browser as sb  # noqa: E402  (the browser tests' helpers: start the app, Chromium flags)

TIMEOUT_MS = 120_000
TARGET_P95_S = 3.0
ACTIONS = ("open", "upload + feature maps", "Grad-CAM")


def photo(student: int) -> tuple[bytes, str]:
    """A distinct photo-like JPEG per student (its size tells whose picture the page describes)."""
    rng = np.random.default_rng(student)
    w, h = 320 + 7 * student, 240 + 5 * student
    image = Image.fromarray(rng.integers(40, 200, (h, w, 3), dtype=np.uint8)).resize((w, h))
    pen = ImageDraw.Draw(image)
    pen.ellipse([w // 4, h // 4, 3 * w // 4, 3 * h // 4], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue(), f"{w}×{h} pixels"


async def settled(page) -> None:
    """Streamlit has finished the run the last action started, and nothing is still loading on screen."""
    await page.wait_for_timeout(150)
    await page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=TIMEOUT_MS)
    await page.locator("[data-testid='stStatusWidgetRunningIcon']").wait_for(state="detached", timeout=TIMEOUT_MS)
    await page.wait_for_function("() => !document.querySelector(\"[data-testid='stSkeleton']\")", timeout=TIMEOUT_MS)


async def problems(page) -> list[str]:
    found = [await e.inner_text() for e in await page.locator("[data-testid='stException']").all()]
    body = await page.locator("body").inner_text()
    return found + (["traceback on screen"] if "Traceback" in body else [])


async def student(browser, url: str, model: str, n: int, timings: dict, errors: list, shots: Path | None,
                  server_pids: set[int], app_cpu: dict) -> None:
    context = await browser.new_context(viewport=sb.VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    content, size_text = photo(n)
    step = "open"
    try:
        t = time.perf_counter()
        await page.goto(f"{url}/inside?model={model}")
        await page.get_by_text(re.compile("network says")).first.wait_for()
        await settled(page)
        timings["open"].append(time.perf_counter() - t)
        app_cpu["open"].append(cpu_seconds(server_pids))

        step = "upload + feature maps"
        await page.get_by_text("📤 Upload", exact=True).click()
        await settled(page)
        t, cpu = time.perf_counter(), cpu_seconds(server_pids)
        await page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
            {"name": f"student-{n}.jpg", "mimeType": "image/jpeg", "buffer": content})
        await page.get_by_text(size_text).first.wait_for()
        await settled(page)
        if await page.get_by_text(re.compile(r"maps of \d+")).count() == 0:
            raise AssertionError("no feature-map grid on screen after the upload")
        timings["upload + feature maps"].append(time.perf_counter() - t)
        app_cpu["upload + feature maps"].append(cpu_seconds(server_pids) - cpu)

        step = "Grad-CAM"
        t, cpu = time.perf_counter(), cpu_seconds(server_pids)
        await page.get_by_role("tab", name=re.compile("Where it looks")).click()
        await page.get_by_text(re.compile("Grad-CAM for")).first.wait_for()
        await settled(page)
        timings["Grad-CAM"].append(time.perf_counter() - t)
        app_cpu["Grad-CAM"].append(cpu_seconds(server_pids) - cpu)

        bad = await problems(page)
        if bad:
            errors.append(f"student {n}: {bad[0][:300]}")
        if shots is not None:
            await page.screenshot(path=str(shots / f"load_student_{n}.png"))
    except Exception as exc:  # a timeout or a missing element is an error of this student's session
        errors.append(f"student {n}, {step}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    finally:
        await context.close()


async def round_of(url: str, model: str, students: int, shots: Path | None,
                   server_pids: set[int]) -> tuple[dict, list, float, float, float]:
    """Timings, errors, wall seconds, and the CPU seconds the app and the browser used in the round."""
    import os

    from playwright.async_api import async_playwright

    timings: dict[str, list[float]] = {a: [] for a in ACTIONS}
    app_cpu: dict[str, list[float]] = {a: [] for a in ACTIONS}
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(sb.CHROMIUM), args=sb.CHROMIUM_ARGS, headless=True)
        client_pids = descendants(os.getpid()) - server_pids
        server0, client0 = cpu_seconds(server_pids), cpu_seconds(client_pids)
        start = time.perf_counter()
        await asyncio.gather(*(student(browser, url, model, n, timings, errors, shots, server_pids, app_cpu)
                               for n in range(students)))
        wall = time.perf_counter() - start
        client_pids |= descendants(os.getpid()) - server_pids
        server_cpu, client_cpu = cpu_seconds(server_pids) - server0, cpu_seconds(client_pids) - client0
        await browser.close()
    if students == 1 and server_pids:  # alone, the app's CPU per action is attributable
        app_cpu["open"] = [app_cpu["open"][0] - server0] if app_cpu["open"] else []
        print("  app CPU per action, alone: " + ", ".join(f"{a} {v[0]:.2f} s" for a, v in app_cpu.items() if v))
    return timings, errors, wall, server_cpu, client_cpu


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU time used so far by the processes `pids` (those still alive)."""
    import os

    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> set[int]:
    """Every live process below `root` (the browser Playwright started, the app's processes)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return float(np.percentile(values, q))


def report(title: str, timings: dict, errors: list, wall: float, server_cpu: float, client_cpu: float
           ) -> list[float]:
    print(f"\n{title}: {wall:.1f} s in all, {len(errors)} error(s); CPU used: app {server_cpu:.1f} s, "
          f"browsers {client_cpu:.1f} s")
    print(f"  {'action':24} {'n':>3} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for action in ACTIONS:
        v = timings[action]
        print(f"  {action:24} {len(v):>3} {pct(v, 50):>7.2f} {pct(v, 95):>7.2f} {max(v, default=float('nan')):>7.2f}")
    for e in errors:
        print(f"  ERROR {e}")
    return timings["upload + feature maps"] + timings["Grad-CAM"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--model", default="cifar_cnn")
    parser.add_argument("--url", help="a running app (default: start one with make run on a free port)")
    args = parser.parse_args()

    problem = sb.chromium_problem()
    if problem:  # not a failure of the app: `make bench` goes on with the other benchmarks
        print(f"bench_load skipped, it needs a browser: {problem}")
        return
    shots = ROOT / "artifacts" / "load"
    shots.mkdir(parents=True, exist_ok=True)
    server = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        server = sb.Server(shots / "server.log", env={"CNNVIZ_DOWNLOAD": "0"})
        print(f"app started by `make run` on {server.url}: healthy after {server.wait_healthy():.1f} s")
        url = server.url
    try:
        import os

        server_pids = set(server.pids()) if server else set()
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run "
              "(other work on the machine slows every figure below)")
        asyncio.run(round_of(url, args.model, 1, None, server_pids))  # warm: model and PyTorch loaded once
        base_t, base_e, *base_rest = asyncio.run(round_of(url, args.model, 1, None, server_pids))
        base = report("baseline: one student alone (warm server)", base_t, base_e, *base_rest)
        load_t, load_e, *load_rest = asyncio.run(round_of(url, args.model, args.students, shots, server_pids))
        load = report(f"{args.students} students at once", load_t, load_e, *load_rest)
        if server:
            per = load_rest[1] / max(1, args.students)
            print(f"app CPU per student (open + upload + Grad-CAM): {per:.2f} s; the browsers, which in class run "
                  f"on the students' own machines, used {load_rest[2]:.1f} s of this machine's CPU too")
        log_errors = server.log().count("Traceback") if server else 0
        p50, p95 = pct(load, 50), pct(load, 95)
        print(f"\nupload + feature maps and Grad-CAM, {args.students} students at once: p50 {p50:.2f} s, "
              f"p95 {p95:.2f} s (alone: p50 {pct(base, 50):.2f} s; p95 ratio {p95 / max(pct(base, 95), 1e-9):.1f}x)")
        errors = len(load_e) + len(base_e) + log_errors
        print(f"errors: {errors} (sessions {len(load_e) + len(base_e)}, tracebacks in the server log {log_errors}); "
              f"target: no errors and p95 < {TARGET_P95_S:.0f} s: "
              f"{'OK' if errors == 0 and p95 < TARGET_P95_S else 'MISSED'}")
        print(f"screenshots: {shots}/load_student_*.png")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
