"""One server, many students: uploads stay in their session and in memory, runs stay with the session that made
them, and nothing a link or a student types can reach a file outside the runs folder.

Several AppTest sessions run in this one process, as the sessions of one Streamlit server do: anything kept in a
module, a cache or a folder instead of the session would show up in the other session.
"""
from __future__ import annotations

import builtins
import io
import os
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.views.inside import VIEWS
from cnnviz.training.runs import Run, list_runs
from tests.conftest import ROOT, needs_data

MAIN = str(ROOT / "app" / "main.py")
INSIDE = ROOT / "app" / "lessons" / "inside.py"
TRAIN = ROOT / "app" / "lessons" / "train.py"
IMAGE_KEY = "cnnviz.image"

needs_inside = pytest.mark.skipif(not INSIDE.is_file(), reason="app/lessons/inside.py is not written yet")


def open_page(page: Path, **params: str) -> AppTest:
    """A new session on `page` (through app/main.py, as the server runs it) opened with the given link."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(str(page)).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def photo_bytes(seed: int) -> bytes:
    """A 61x47 PNG of noise: no other image in the app has that size or looks like it."""
    pixels = np.random.default_rng(seed).integers(0, 256, (47, 61, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.radio(key="img.source").set_value("upload").run()
    at.file_uploader(key="img.upload").upload(name, content, "image/png").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def screen_text(at: AppTest) -> str:
    """Everything the session would send to its browser, as text (element protos, sidebar included)."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


# ---- uploads ---------------------------------------------------------------------------------------------------

@needs_inside
def test_an_upload_stays_in_the_session_that_made_it():
    secret = f"secret-{uuid.uuid4().hex[:8]}.png"
    alice = upload(open_page(INSIDE), secret, photo_bytes(1))
    chosen = alice.session_state[IMAGE_KEY]
    assert chosen["source"] == "upload" and chosen["name"] == secret
    assert "61×47 pixels" in screen_text(alice)  # alice's page describes her image
    assert all(secret not in v and "upload" not in v for v in alice.query_params.values())  # not in her link

    bob = open_page(INSIDE, **dict(alice.query_params))  # even with alice's link
    assert bob.session_state[IMAGE_KEY]["source"] != "upload"
    assert secret not in screen_text(bob) and "61×47" not in screen_text(bob)
    bob.radio(key="img.source").set_value("upload").run()  # bob's own upload box is empty
    assert not bob.file_uploader(key="img.upload").value
    assert secret not in screen_text(bob) and "61×47" not in screen_text(bob)


class WriteRecorder:
    """Records every file this process opens for writing while it is installed (builtins.open and os.open)."""

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real_open, real_os_open = builtins.open, os.open

        def recording_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
                self.paths.append(os.fsdecode(file))
            return real_open(file, mode, *args, **kwargs)

        def recording_os_open(path, flags, *args, **kwargs):
            if flags & self.WRITE_FLAGS:
                self.paths.append(os.fsdecode(path))
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", recording_open)
        monkeypatch.setattr(io, "open", recording_open)
        monkeypatch.setattr(os, "open", recording_os_open)


def files_under(*folders: Path) -> set[Path]:
    return {p for folder in folders if folder.is_dir() for p in folder.rglob("*")}


@needs_inside
def test_an_uploaded_image_is_never_written_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache, runs = tmp_path / "cache", Path(os.environ["CNNVIZ_RUNS_DIR"])
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(cache))
    at = open_page(INSIDE)  # warm: imports, model and sample loaded before we start watching
    before = files_under(cache, runs)

    writes = WriteRecorder(monkeypatch)
    content = photo_bytes(2)
    upload(at, "mine.png", content)
    assert at.session_state[IMAGE_KEY]["source"] == "upload"
    for view in VIEWS:  # every view draws the upload: feature maps, filters, Grad-CAM...
        at.session_state["view"] = view
        at.run()
        assert not at.exception, [e.message for e in at.exception]
    monkeypatch.undo()  # stop recording before asserting

    assert writes.paths == [], f"files opened for writing while handling an upload: {writes.paths}"
    assert files_under(cache, runs) == before


# ---- runs ------------------------------------------------------------------------------------------------------

def train_tiny_run(at: AppTest) -> None:
    """Start a 1-epoch MNIST run of 640 images on the Train page of session `at` and wait for its end."""
    for key, value in {"data": "mnist", "epochs": 1, "limit": 640, "batch": 64, "sched": "none"}.items():
        widget = next(w for kind in ("number_input", "select_slider", "selectbox")
                      for w in getattr(at, kind) if w.key == key)
        widget.set_value(value)
        at.run()
    at.button(key="start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deadline = time.monotonic() + 120
    while not at.success:
        assert time.monotonic() < deadline, "the tiny training run did not finish in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception and not at.error


def model_options(at: AppTest) -> list[str]:
    return list(at.selectbox(key="model").options)


@needs_inside
@pytest.mark.skipif(not TRAIN.is_file(), reason="app/lessons/train.py is not written yet")
@needs_data("mnist")
@pytest.mark.data
def test_a_run_trained_in_one_session_is_not_offered_to_another(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "300")
    cli_run = Run.create("made-by-the-cli")  # a run made outside the app, by the machine's owner
    (cli_run.path / "checkpoint.pt").write_bytes(b"not read here")
    cli_run.update(status="finished", config={"model": "mnist_cnn", "dataset": "mnist"})

    alice = open_page(TRAIN)
    train_tiny_run(alice)
    (alices,) = [r for r in list_runs() if r.name != cli_run.name]
    alice.query_params.clear()  # the sidebar's links carry no query string
    alice.switch_page(str(INSIDE)).run()
    assert not alice.exception, [e.message for e in alice.exception]
    assert any(alices.name in option for option in model_options(alice))  # she can open her own run

    bob = open_page(INSIDE)
    assert not any(alices.name in option for option in model_options(bob))
    assert alices.name not in screen_text(bob)
    bob = open_page(INSIDE, model=f"run:{alices.name}")  # not even with a link naming it
    assert alices.name not in str(bob.session_state["model"])
    assert any(cli_run.name in option for option in model_options(bob))  # the owner's own runs stay listed


# ---- names from users ------------------------------------------------------------------------------------------

HOSTILE = ["../../../../etc/passwd", "/etc/passwd", "run:../../../../etc/passwd", "run:..", "run:/tmp",
           "..", "%2e%2e%2f%2e%2e%2fetc", "C:\\Windows\\win.ini", "run:" + "a" * 5000, "\x00", "run:\u202e.pt"]


@needs_inside
@pytest.mark.parametrize("value", HOSTILE)
def test_a_link_cannot_load_a_model_from_outside_the_zoo_and_runs(value: str, monkeypatch: pytest.MonkeyPatch):
    import models

    opened: list[str] = []
    real_load_file = models.load_file
    monkeypatch.setattr(models, "load_file", lambda path, *a, **k: opened.append(str(path)) or
                        real_load_file(path, *a, **k))
    at = open_page(INSIDE, model=value)
    assert at.session_state["model"] in models.ZOO  # fell back to a zoo model
    assert opened == []


@pytest.mark.skipif(not TRAIN.is_file(), reason="app/lessons/train.py is not written yet")
@pytest.mark.parametrize("value", ["../../etc", "/tmp", "..", "mnist/../../x"])
def test_a_link_cannot_point_training_at_another_folder(value: str):
    at = open_page(TRAIN, data=value, net=value)
    assert at.session_state["data"] in ("mnist", "cifar10")
    assert ".." not in at.session_state["net"] and "/" not in at.session_state["net"]


@settings(max_examples=150, deadline=None)
@given(name=hs.text(min_size=0, max_size=300))
def test_no_run_name_escapes_the_runs_folder(tmp_path_factory: pytest.TempPathFactory, name: str):
    root = tmp_path_factory.mktemp("runs").resolve()
    run = Run.create(name, root=root)
    assert run.path.resolve().parent == root and run.path.is_dir()
    assert list(root.iterdir()) == [run.path]


# ---- bad uploads through the real page ----------------------------------------------------------------------------

def _png(image: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **kwargs)
    return out.getvalue()


def _bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1x1 PNG whose header claims width x height: a few hundred bytes that would decode to 1.2 GB."""
    import struct
    import zlib

    data = _png(Image.new("RGB", (1, 1)))
    ihdr = struct.pack(">II", width, height) + data[24:29]  # the new size, then depth, colour, methods
    chunk = b"IHDR" + ihdr
    return data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **kwargs)
    return out.getvalue()


def _gif_animation() -> bytes:
    frames = [Image.new("P", (40, 40), i * 40) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (8, 8, 24, 24))
    return _png(image, transparency=0)


BAD_UPLOADS = {  # name -> (bytes, whether cnnviz should accept it)
    "empty.png": (b"", False),
    "notes.png": (b"These are my lecture notes, not a picture.\n" * 20, False),
    "truncated.jpg": (_jpeg(Image.new("RGB", (200, 150), (90, 140, 200)))[:400], False),
    "bomb.png": (_bomb_png(), False),
    "huge-exif.png": (_png(Image.new("RGB", (16, 16)), exif=b"Exif\x00\x00MM\x00*" + b"\x00" * 1_000_000), False),
    "one-pixel.png": (_png(Image.new("RGB", (1, 1), (200, 10, 10))), True),
    "sixteen-bit.png": (_png(Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)), True),
    "cmyk.jpg": (_jpeg(Image.new("CMYK", (64, 48), (0, 200, 200, 0))), True),
    "palette-transparent.png": (_palette_with_transparency(), True),
    "animated.gif": (_gif_animation(), True),
}


@needs_inside
def test_bad_uploads_get_a_message_and_the_page_keeps_working():
    at = open_page(INSIDE)
    bob = open_page(INSIDE)  # another student on the same server
    bob_before = bob.session_state[IMAGE_KEY]
    outcomes = {}
    for name, (content, accepted) in BAD_UPLOADS.items():
        upload(at, name, content)  # asserts no exception
        errors = [e.value for e in at.error]
        chosen = at.session_state[IMAGE_KEY]
        if accepted:
            assert not errors and chosen.get("name") == name, (name, errors)
            outcomes[name] = "accepted: " + next(c.value for c in at.caption if "pixels" in c.value)
        else:
            assert len(errors) == 1 and name in errors[0], (name, errors)
            assert chosen.get("name") != name  # the previous image stays chosen
            outcomes[name] = "refused: " + errors[0].split("cannot be used. ", 1)[-1]
    upload(at, "fine.png", photo_bytes(3))  # and a good image works afterwards
    assert at.session_state[IMAGE_KEY]["name"] == "fine.png" and not at.error
    bob.run()
    assert not bob.exception and bob.session_state[IMAGE_KEY] == bob_before  # nothing reached the other student
    print("\n".join(f"{name:24} {what}" for name, what in outcomes.items()))
