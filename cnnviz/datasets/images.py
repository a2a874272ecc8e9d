"""Turn uploaded bytes into a small RGB or L image, or one clear ImageError a student can act on.

Everything happens in memory: nothing is written to disk. The size checks read only the file's header,
so a decompression bomb (a few kB that claim 20000x20000 pixels) is refused before any pixel is decoded.
"""
from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image

MAX_BYTES = 20 * 1024 * 1024   # bytes: larger uploads are refused unread
MAX_PIXELS = 50_000_000        # width * height from the header: 50 megapixels, above any phone camera
MAX_SIDE = 1024                # pixels: the long side of the decoded image (the models need 28-224)
MAX_EXIF_BYTES = 256 * 1024    # bytes: cameras write < 64 kB (a JPEG segment cannot hold more)
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", "AVIF")  # JPEG includes phones' MPO variant
FORMAT_NAMES = "PNG, JPEG, WebP, BMP, TIFF, GIF or AVIF"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif", "avif"]  # for st.file_uploader(type=)


class ImageError(ValueError):
    """An upload that cannot be used; the message says why in words a student understands."""


def decode(data: bytes, max_side: int = MAX_SIDE) -> Image.Image:
    """Decode an uploaded file into an RGB or L image whose long side is at most `max_side`.

    EXIF orientation is applied, transparency is flattened onto white, the first frame of an
    animation is taken, and 16-bit, CMYK and palette images come out as ordinary 8-bit pixels.

    Raises:
        ImageError: empty, too large, not an image, damaged or truncated, a decompression bomb,
            or an oversized metadata block; the message is meant to be shown as it is.
    """
    if not data:
        raise ImageError("The file is empty (0 bytes). Pick the image again; if it came from a phone, "
                         "wait until it has finished saving.")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB. "
                         "Save a smaller copy (a photo at 2000 pixels across is plenty) and upload that.")
    try:
        return _decode(bytes(data), max_side)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageError(_bomb_message(int(claimed.group(1)) if claimed else None)) from exc
    except MemoryError as exc:
        raise ImageError("The image needs more memory than this server can give one picture. "
                         "Upload a smaller version.") from exc
    except OSError as exc:
        if "truncated" in str(exc).lower() or "broken data stream" in str(exc).lower():
            raise ImageError("The file is cut off: it ends before the image does (an interrupted download "
                             "or copy). Save or download it again and upload the new copy.") from exc
        raise ImageError(_damaged_message(exc)) from exc
    except Exception as exc:  # PIL's decoders raise many types (SyntaxError, struct.error, ...) on bad data
        raise ImageError(_damaged_message(exc)) from exc


def centre_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    """The largest centred part of `image` shaped like a `width` x `height` input: photos cropped, not squashed."""
    w, h = image.size
    if w * height > h * width:
        cw = round(h * width / height)
        return image.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))
    ch = round(w * height / width)
    return image.crop((0, (h - ch) // 2, w, (h - ch) // 2 + ch))


def describe(image: Image.Image) -> str:
    """A short caption: size and colour mode in words."""
    kind = "grayscale" if image.mode == "L" else "colour"
    return f"{image.width}×{image.height} pixels, {kind}"


def _decode(data: bytes, max_side: int) -> Image.Image:
    """The decoding steps; any exception from PIL is translated by `decode`."""
    Image.init()  # register every format plugin, so `formats=` below can name them
    with warnings.catch_warnings():
        # PIL warns (not raises) between 89 and 179 megapixels; our own, lower limit below must win.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only; animations: frame 0
        except Image.UnidentifiedImageError as exc:
            raise ImageError(_not_an_image_message(data)) from exc
        _check_header(im)
        if im.format in ("JPEG", "MPO") and max(im.size) >= 2 * max_side:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far faster and smaller for big photos.
            scale = max(im.size) / max_side
            im.draft(None, (int(im.width / scale) + 1, int(im.height / scale) + 1))
        im.load()
    _check_header(im)  # PNG may keep its EXIF chunk after the pixels: look again now that all is read
    orientation = _orientation(im)
    im = _to_working_mode(im)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])
    return _flatten(im)


def _check_header(im: Image.Image) -> None:
    """Refuse images whose header promises too many pixels or too much metadata."""
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(_bomb_message(width * height, f"{width}×{height} pixels, "))
    exif = im.info.get("exif") or b""
    if len(exif) > MAX_EXIF_BYTES:
        raise ImageError(f"The file carries {len(exif) // 1024} kB of hidden metadata (EXIF); cameras write less "
                         f"than {MAX_EXIF_BYTES // 1024} kB. Take a screenshot of the image or save it again "
                         "without metadata, then upload that.")


# EXIF orientation -> the transpose that stands the stored pixels upright (as PIL.ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 = upright); a broken EXIF block counts as upright."""
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - PIL raises many kinds on a damaged EXIF block; it must not cost the picture
        return 1


def _to_working_mode(im: Image.Image) -> Image.Image:
    """Any PIL mode -> L, LA, RGB or RGBA, keeping transparency and the full range of 16-bit images."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        if "transparency" in im.info and mode in ("L", "RGB"):
            return im.convert(mode + "A")  # a tRNS colour key: one grey or colour is see-through
        return im
    if mode == "P" or mode == "PA":
        if "transparency" in im.info or mode == "PA" or im.palette.mode == "RGBA":
            return im.convert("RGBA")
        return im.convert("RGB")
    if mode == "1":
        return im.convert("L")
    if mode in ("La", "RGBa"):
        return im.convert(mode[0] + "A" if mode == "La" else "RGBA")
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_l(im)
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _high_bit_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float grayscale -> 8-bit L, scaled by the range its type can hold."""
    if im.mode.startswith("I;16"):
        im = im.convert("I")
    x = np.asarray(im, dtype=np.float64)
    finite = x[np.isfinite(x)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo >= 0 and hi <= 255:
        scale_lo, scale_hi = 0.0, 255.0       # already 8-bit values
    elif lo >= 0 and hi <= 65535:
        scale_lo, scale_hi = 0.0, 65535.0     # 16-bit: keep its own black and white
    else:
        scale_lo, scale_hi = lo, hi if hi > lo else lo + 1  # anything else: stretch min..max
    y = np.nan_to_num((x - scale_lo) / (scale_hi - scale_lo) * 255, nan=0.0)
    return Image.fromarray(np.clip(np.rint(y), 0, 255).astype(np.uint8), "L")


def _flatten(im: Image.Image) -> Image.Image:
    """Put see-through pixels on white paper; returns L or RGB."""
    if im.mode not in ("LA", "RGBA"):
        return im
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, im.convert("RGBA"))
    return flat.convert("L" if im.mode == "LA" else "RGB")


def _bomb_message(pixels: int | None = None, size: str = "") -> str:
    claim = f" of {size}{pixels / 1e6:,.0f} megapixels" if pixels else ""
    return (f"The file claims to hold an image{claim}: more than the {MAX_PIXELS // 1_000_000} megapixel limit. "
            "Such files can be made to exhaust a server's memory (a 'decompression bomb'). "
            "Resize the image to a few thousand pixels across and upload it again.")


def _not_an_image_message(data: bytes) -> str:
    head = data[:32]
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return ("This is a HEIC photo (the iPhone's own format), which cannot be read here. "
                "Export it as JPEG (on the iPhone: Settings › Camera › Formats › Most Compatible) and upload that.")
    if _looks_like_text(data):
        return (f"This file holds text, not a picture, even if its name ends in an image extension. "
                f"Upload a {FORMAT_NAMES} image.")
    return f"This file is not an image this app can read. Upload a {FORMAT_NAMES} image."


def _looks_like_text(data: bytes) -> bool:
    """True when the start of the file reads as text (a .txt, .csv or web page renamed to .png)."""
    sample = data[:512]
    if not sample or b"\x00" in sample:
        return False
    text = sample.decode("utf-8", errors="replace")
    odd = sum(1 for c in text if c == "\ufffd" or (not c.isprintable() and c not in "\t\r\n"))
    return odd <= len(text) // 20


def _damaged_message(exc: BaseException) -> str:
    return (f"The file looks like an image but is damaged and cannot be decoded ({type(exc).__name__}). "
            "Open it on your computer to check it, save it again, and upload the new copy.")


def tensor_picture(x: np.ndarray, min_side: int = 112) -> Image.Image:
    """A (C, H, W) model input as a picture: one min-max scale for all channels, enlarged by whole pixels.

    One scale for all channels keeps their relative brightness, so a normalised colour image still shows
    its colours; nearest-neighbour enlargement shows the network's pixels as squares.
    """
    a = np.asarray(x, dtype=np.float64)  # (C, H, W); a CPU torch tensor works too
    lo, hi = float(a.min()), float(a.max())
    scaled = np.rint((a - lo) / (hi - lo) * 255) if hi > lo else np.zeros_like(a)
    pixels = scaled.astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels[:, :, :3])
    factor = max(1, -(-min_side // min(picture.size)))
    return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
