"""Uploads: every image kind decodes to RGB/L or gets one clear ImageError; fuzzed bytes never crash."""
from __future__ import annotations

import builtins
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageOps

from cnnviz.datasets import images
from cnnviz.datasets.images import ImageError, decode


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def noise(w: int = 48, h: int = 32, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def halves(w: int = 40, h: int = 20) -> Image.Image:
    """Left half red, right half blue: orientation mistakes show as swapped or rotated colours."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2:] = (0, 0, 255)
    a[0, 0] = (0, 255, 0)  # one green corner tells flips from rotations
    return Image.fromarray(a)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of all-zero pixels: ~50 kB on disk, `width * height` pixels once decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    z = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# ---- what decodes ---------------------------------------------------------------------------------------

LOSSLESS = ["PNG", "BMP", "TIFF"]


@pytest.mark.parametrize("fmt", LOSSLESS)
def test_lossless_formats_give_the_same_pixels(fmt: str) -> None:
    src = noise()
    out = decode(encode(src, fmt))
    assert out.mode == "RGB" and out.size == src.size
    assert np.array_equal(np.asarray(out), np.asarray(src))


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "AVIF"])
def test_lossy_formats_give_close_pixels(fmt: str) -> None:
    src = Image.new("RGB", (64, 48), (200, 120, 40))
    out = decode(encode(src, fmt, quality=95))
    assert out.mode == "RGB" and out.size == src.size
    assert np.abs(np.asarray(out, np.int16) - np.asarray(src, np.int16)).max() <= 6


def test_grayscale_stays_grayscale() -> None:
    src = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "L")
    out = decode(encode(src, "PNG"))
    assert out.mode == "L" and np.array_equal(np.asarray(out), np.asarray(src))


def test_gif_takes_the_first_frame() -> None:
    frames = [Image.new("RGB", (20, 10), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    first = decode(out.getvalue())
    assert first.mode == "RGB" and first.getpixel((5, 5)) == (255, 0, 0)


def test_animated_webp_takes_the_first_frame() -> None:
    frames = [Image.new("RGB", (20, 10), c) for c in [(0, 0, 255), (255, 0, 0)]]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert decode(out.getvalue()).getpixel((5, 5)) == (0, 0, 255)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillows_exif_transpose(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(halves(), "PNG", exif=exif.tobytes())
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGB"))  # the oracle
    out = decode(data)
    assert out.size == expected.size
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    if orientation in (5, 6, 7, 8):
        assert out.size == (20, 40)  # a portrait photo stored on its side stands up


def test_exif_orientation_in_a_jpeg() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": how phones store portrait photos
    out = decode(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.size == (20, 40)
    top, bottom = np.asarray(out)[2, 10], np.asarray(out)[37, 10]
    assert top[0] > 200 and top[2] < 60      # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_transparency_is_flattened_onto_white() -> None:
    a = np.zeros((10, 10, 4), np.uint8)
    a[..., 0] = 255
    a[:, :5, 3] = 0      # left: fully transparent red
    a[:, 5:, 3] = 128    # right: half-transparent red
    out = decode(encode(Image.fromarray(a, "RGBA"), "PNG"))
    assert out.mode == "RGB"
    assert out.getpixel((1, 1)) == (255, 255, 255)
    r, g, b = out.getpixel((8, 8))
    assert r == 255 and abs(g - 127) <= 1 and abs(b - 127) <= 1


def test_grayscale_with_alpha_is_flattened_to_grayscale() -> None:
    la = Image.new("LA", (6, 6), (0, 0))
    la.putpixel((3, 3), (0, 255))
    out = decode(encode(la, "PNG"))
    assert out.mode == "L" and out.getpixel((0, 0)) == 255 and out.getpixel((3, 3)) == 0


def test_palette_with_transparency() -> None:
    p = Image.new("P", (8, 8), 0)
    p.putpalette([10, 20, 30, 200, 0, 0] + [0, 0, 0] * 254)
    p.putpixel((4, 4), 1)
    for fmt in ("PNG", "GIF"):
        out = decode(encode(p, fmt, transparency=0))
        assert out.mode == "RGB", fmt
        assert out.getpixel((0, 0)) == (255, 255, 255), fmt  # index 0 is see-through
        assert out.getpixel((4, 4)) == (200, 0, 0), fmt


def test_rgb_colour_key_transparency() -> None:
    src = Image.new("RGB", (4, 4), (0, 255, 0))
    src.putpixel((0, 0), (1, 2, 3))
    out = decode(encode(src, "PNG", transparency=(0, 255, 0)))  # tRNS: pure green is see-through
    assert out.getpixel((2, 2)) == (255, 255, 255) and out.getpixel((0, 0)) == (1, 2, 3)


def test_16_bit_grayscale_keeps_its_range() -> None:
    a = np.linspace(0, 65535, 256).astype(np.uint16).reshape(16, 16)
    out = decode(encode(Image.fromarray(a), "PNG"))
    x = np.asarray(out)
    assert out.mode == "L"
    assert x.flat[0] == 0 and x.flat[-1] == 255
    assert np.all(np.diff(x.ravel().astype(int)) >= 0)      # the gradient survives
    assert abs(int(x.flat[128]) - round(a.flat[128] / 257)) <= 1


def test_16_bit_tiff_and_float_tiff() -> None:
    a = np.full((4, 4), 30000, np.uint16)
    assert decode(encode(Image.fromarray(a), "TIFF")).getpixel((0, 0)) == round(30000 / 257)
    f = np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(4, 4)
    out = np.asarray(decode(encode(Image.fromarray(f), "TIFF")))
    assert out.flat[0] == 0 and out.flat[-1] == 255


def test_cmyk_jpeg_and_tiff() -> None:
    src = Image.new("RGB", (16, 16), (30, 120, 220))
    for fmt in ("JPEG", "TIFF"):
        out = decode(encode(src.convert("CMYK"), fmt))
        assert out.mode == "RGB", fmt
        assert np.abs(np.asarray(out, int) - np.asarray(src, int)).max() <= 8, fmt


def test_one_pixel_and_one_bit() -> None:
    assert decode(encode(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG")).getpixel((0, 0)) == (9, 8, 7)
    assert decode(encode(Image.new("1", (3, 3), 1), "PNG")).getpixel((1, 1)) == 255
    thin = decode(encode(Image.new("L", (1, 4000), 90), "PNG"))
    assert thin.size == (1, 1024) and thin.getpixel((0, 500)) == 90


def test_large_images_are_downscaled_on_the_long_side() -> None:
    png = decode(encode(Image.new("RGB", (3000, 1000), (10, 200, 30)), "PNG"))
    assert png.size == (1024, 341) and png.getpixel((500, 100)) == (10, 200, 30)
    jpg = decode(encode(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG", quality=90))
    assert jpg.size == (1024, 768)
    assert np.abs(np.asarray(jpg, int)[300, 500] - (10, 200, 30)).max() <= 6
    assert decode(encode(Image.new("RGB", (300, 200)), "PNG"), max_side=100).size == (100, 67)


def test_large_jpeg_decodes_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """JPEGs use libjpeg's DCT scaling (Image.draft), so a 12 MP photo never exists at full size."""
    seen = []
    real_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        seen.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    decode(encode(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG"))
    assert seen and max(seen[0]) == 2000  # decoded at 1/2 scale, then resized to 1024


def test_nothing_is_written_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = [encode(noise(), f) for f in ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP")]

    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"decode opened a file: {args}")

    monkeypatch.setattr(builtins, "open", no_files)
    monkeypatch.setattr(io, "open", no_files)
    for data in samples:
        assert decode(data).size == (48, 32)


# ---- what is refused, and how -------------------------------------------------------------------------

def refused(data: bytes) -> str:
    with pytest.raises(ImageError) as info:
        decode(data)
    return str(info.value)


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


def test_empty_file() -> None:
    assert "empty" in refused(b"")


def test_text_file_named_png() -> None:
    message = refused(b"Homework 1: answers\n1. a convolution is ...\n")
    assert "text, not a picture" in message


def test_unsupported_format_is_named() -> None:
    message = refused(encode(Image.new("RGB", (16, 16)), "ICO"))
    assert "not an image this app can read" in message and "PNG, JPEG" in message


def test_heic_gets_an_export_hint() -> None:
    assert "HEIC" in refused(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_truncated_file(fmt: str) -> None:
    data = encode(noise(200, 150), fmt)
    message = refused(data[: len(data) // 2])
    assert "cut off" in message or "damaged" in message
    if fmt in ("JPEG", "PNG"):
        assert "cut off" in message


def test_decompression_bomb_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bomb_png()
    assert len(data) < 60_000  # ~50 kB that would decode to 400 million pixels
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size))
    message = refused(data)
    assert "400 megapixels" in message and "50 megapixel limit" in message
    assert loads == []  # not one pixel was decoded


def test_bomb_between_our_limit_and_pillows_is_refused_too() -> None:
    assert "megapixel" in refused(bomb_png(8000, 8000))  # 64 MP: under PIL's 89 MP warning, over ours


def test_jpeg_claiming_huge_size_is_refused() -> None:
    data = bytearray(encode(Image.new("RGB", (16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", 40000, 40000)  # height, width in the frame header
    assert "megapixel" in refused(bytes(data))


def test_too_many_bytes() -> None:
    message = refused(b"\0" * (images.MAX_BYTES + 1))
    assert "MB" in message and "limit" in message


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_huge_exif_block(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 1_000_000  # ImageDescription: a megabyte of metadata
    assert "EXIF" in refused(encode(Image.new("RGB", (4, 4)), fmt, exif=exif.tobytes()))


def test_damaged_exif_is_ignored_not_fatal() -> None:
    data = encode(Image.new("RGB", (8, 4), (5, 6, 7)), "PNG", exif=b"Exif\0\0II*\0\xff\xff\xff\xff garbage")
    assert decode(data).getpixel((0, 0)) == (5, 6, 7)


# ---- fuzzing: decode returns an image or raises ImageError, nothing else --------------------------------

def _seeds() -> list[bytes]:
    base = noise(24, 16, seed=1)
    out = [encode(base, f) for f in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")]
    out.append(encode(base.convert("CMYK"), "JPEG"))
    out.append(encode(Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 999), "PNG"))
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], transparency=0)
    out.append(gif.getvalue())
    return out


SEEDS = _seeds()
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decodes_or_refuses(data: bytes) -> None:
    try:
        out = decode(data)
    except ImageError as exc:
        assert str(exc)
        return
    assert out.mode in ("RGB", "L") and max(out.size) <= images.MAX_SIDE and min(out.size) >= 1


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    decodes_or_refuses(data)


@FUZZ
@given(st.binary(max_size=64))
def test_fuzz_random_bytes_behind_real_magic(tail: bytes) -> None:
    for magic in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBP", b"BM", b"II*\0"):
        decodes_or_refuses(magic + tail)


@FUZZ
@given(st.sampled_from(SEEDS),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 10**6), st.booleans())
def test_fuzz_mutated_real_images(seed: bytes, edits: list[tuple[int, int]], cut: int, truncate: bool) -> None:
    data = bytearray(seed)
    for pos, value in edits:
        data[pos % len(data)] = value
    if truncate:
        data = data[: cut % len(data)]
    decodes_or_refuses(bytes(data))


# ---- showing a model input ------------------------------------------------------------------------------

def test_tensor_picture_scales_all_channels_together_and_enlarges_by_whole_pixels() -> None:
    x = np.zeros((3, 2, 2))
    x[0, 0, 0], x[2, 1, 1] = 2.0, -2.0  # one red-ish and one dark pixel after min-max over the whole tensor
    picture = images.tensor_picture(x, min_side=8)
    assert picture.mode == "RGB" and picture.size == (8, 8)
    a = np.asarray(picture)
    assert tuple(a[0, 0]) == (255, 128, 128) and tuple(a[7, 7]) == (128, 128, 0)
    assert np.array_equal(a[:4, :4], np.broadcast_to(a[0, 0], (4, 4, 3)))  # a 4x4 block per input pixel
    gray = images.tensor_picture(np.full((1, 28, 28), 0.5), min_side=112)
    assert gray.mode == "L" and gray.size == (112, 112) and np.asarray(gray).max() == 0
