"""Downloads decode to what they were made from: PNG pixels read back by PIL, CSV tables read back by pandas."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cnnviz.results import export

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (7, 5), dtype=np.uint8)      # (H, W)
RGB = RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8)    # (H, W, 3)
MATRIX = np.array([[50, 3, 0], [7, 40, 1], [0, 12, 30]])  # rows: true class, columns: prediction
CLASSES = ["cat", "dog", "fox"]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize("picture, mode", [(GREY, "L"), (RGB, "RGB"), (RGB[:, ::2], "RGB")],
                         ids=["grey", "rgb", "strided view"])
def test_png_keeps_every_pixel(picture: np.ndarray, mode: str) -> None:
    image = decode(export.png(picture))
    assert image.mode == mode
    assert np.array_equal(np.asarray(image), picture)


def test_png_of_a_pil_image() -> None:
    assert np.array_equal(np.asarray(decode(export.png(Image.fromarray(RGB)))), RGB)


def test_csv_reads_back_as_the_same_table_without_an_index() -> None:
    frame = pd.DataFrame({"name": ["conv1", "fc, last", 'say "hi"', "γ × β"], "params": [80, 1290, 0, 7],
                          "accuracy": [0.25, 0.5, 1.0, 0.125]}, index=[10, 11, 12, 13])
    data = export.csv(frame)
    assert data.decode("utf-8").splitlines()[0] == "name,params,accuracy"
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(data), encoding="utf-8"), frame.reset_index(drop=True))


def test_row_shares_divide_each_row_by_its_total_and_leave_an_empty_row_at_zero() -> None:
    shares = export.row_shares(np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]]))
    assert shares.tolist() == [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]]


@pytest.mark.parametrize("count, share, text", [(0, 0.0, "0"), (3, 0.003, "0.3%"), (94, 0.094, "9.4%"),
                                                (95, 0.095, "10%"), (1000, 1.0, "100%")])
def test_share_text_keeps_a_decimal_for_small_shares(count: int, share: float, text: str) -> None:
    assert export.share_text(count, share) == text


@pytest.fixture(scope="module")
def figures() -> dict[str, np.ndarray]:
    """Pixels of the confusion matrix as counts and as row shares, and of another matrix."""
    other = MATRIX.copy()
    other[0, 1], other[0, 0] = 40, 13
    return {"counts": np.asarray(decode(export.confusion_png(MATRIX, CLASSES, normalised=False))),
            "shares": np.asarray(decode(export.confusion_png(MATRIX.tolist(), CLASSES, normalised=True))),
            "other": np.asarray(decode(export.confusion_png(other, CLASSES, normalised=False)))}


def test_confusion_png_is_a_projector_sized_picture(figures) -> None:
    height, width = figures["counts"].shape[:2]
    assert (width, height) == (export.FIGURE_SIZE[0] * export.DPI, export.FIGURE_SIZE[1] * export.DPI)
    assert 800 <= width <= 1600 and 700 <= height <= 1400
    assert figures["counts"].std() > 10  # not a blank page


def test_confusion_png_follows_the_matrix_and_the_view(figures) -> None:
    assert figures["counts"].shape == figures["other"].shape == figures["shares"].shape
    assert not np.array_equal(figures["counts"], figures["other"])
    assert not np.array_equal(figures["counts"], figures["shares"])


def test_confusion_png_of_many_long_named_classes() -> None:
    k = export.ANNOTATED + 5  # too many classes for numbers in the cells
    image = decode(export.confusion_png(np.eye(k, dtype=int) * 9 + 1, [f"class number {i}" for i in range(k)], True))
    assert image.size == (export.FIGURE_SIZE[0] * export.DPI, export.FIGURE_SIZE[1] * export.DPI)


@pytest.mark.parametrize("x, text", [(0.5, "50%"), (0.994, "99%"), (0.995, "99.5%"), (0.9987, "99.9%"),
                                     (1.0, "100.0%")])
def test_percent_keeps_a_decimal_near_certainty(x: float, text: str) -> None:
    assert export.percent(x) == text


def test_file_stem_names_the_model_and_the_data() -> None:
    from pathlib import Path

    assert export.file_stem(Path("models/checkpoints/mnist_cnn.pt"), "mnist") == "mnist_cnn-mnist"
    assert export.file_stem(Path("runs/20260101-000000-noisy/checkpoint.pt"), "mnist") == "20260101-000000-noisy-mnist"


def test_a_data_url_holds_the_image_enlarged_by_whole_pixels() -> None:
    import base64

    pixels = np.arange(12, dtype=np.uint8).reshape(3, 2, 2) * 20  # (C, H, W)
    url = export.data_url(pixels, side=4)
    assert url.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert back.shape == (4, 4, 3) and np.array_equal(back[::2, ::2], pixels.transpose(1, 2, 0))
