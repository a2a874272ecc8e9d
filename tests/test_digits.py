"""MNIST-style preprocessing: inversion, paper removal, crop, 20x20 fit and centring by mass."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnviz.datasets import digits, samples
from tests.conftest import needs_data


def seven(size: tuple[int, int] = (200, 200), at: tuple[int, int] = (10, 10), scale: float = 1.0,
          ink: int = 20, paper: int = 235, pen: int = 9) -> Image.Image:
    """A '7' drawn with a pen at `at` (top-left) on plain paper."""
    im = Image.new("L", size, paper)
    x, y = at
    s = scale
    ImageDraw.Draw(im).line([(x, y), (x + 50 * s, y), (x + 20 * s, y + 80 * s)], fill=ink, width=pen, joint="curve")
    return im


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_a_digit_in_the_corner_ends_up_centred_by_its_mass() -> None:
    result = digits.prepare(seven(at=(5, 5)))
    assert result.array.shape == (28, 28) and result.array.dtype == np.uint8
    rows, cols = np.indices(result.array.shape)
    a = result.array.astype(float)
    cy, cx = (rows * a).sum() / a.sum(), (cols * a).sum() / a.sum()  # computed here, not by the module
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    for corner in (a[:3, :3], a[:3, -3:], a[-3:, :3], a[-3:, -3:]):
        assert corner.max() == 0


def test_the_ink_fills_20_pixels_on_its_longer_side_and_keeps_its_shape() -> None:
    tall = Image.new("L", (300, 300), 240)
    ImageDraw.Draw(tall).rectangle((100, 50, 139, 249), fill=10)  # 40 wide, 200 tall: 1:5
    a = digits.prepare(tall).array
    rows, cols = np.flatnonzero((a > 127).any(axis=1)), np.flatnonzero((a > 127).any(axis=0))
    assert len(rows) == 20
    assert len(cols) == 4  # 20 / 5


def test_fit_preserves_the_aspect_ratio() -> None:
    assert digits.fit(np.full((100, 40), 255.0)).shape == (20, 8)
    assert digits.fit(np.full((30, 90), 255.0)).shape == (7, 20)
    assert digits.fit(np.full((3, 2), 255.0)).shape == (20, 13)


def test_centre_of_mass_matches_a_hand_computation() -> None:
    a = np.zeros((5, 4))
    a[1, 1], a[3, 3] = 1.0, 3.0
    assert digits.centre_of_mass(a) == pytest.approx(((1 * 1 + 3 * 3) / 4, (1 * 1 + 3 * 3) / 4))
    ndimage = pytest.importorskip("scipy.ndimage")
    b = np.random.default_rng(0).random((9, 7))
    assert digits.centre_of_mass(b) == pytest.approx(ndimage.center_of_mass(b))


def test_dark_on_light_is_inverted_and_light_on_dark_is_not() -> None:
    dark_ink = seven(ink=20, paper=235)
    light_ink = seven(ink=235, paper=20)
    a, b = digits.prepare(dark_ink), digits.prepare(light_ink)
    assert a.inverted and not b.inverted
    assert a.array.max() == 255 and a.array[0, 0] == 0  # white ink on black, like MNIST
    assert corr(a.array, b.array) > 0.98   # same digit either way round


def test_grey_paper_in_dim_light_is_still_recognised_as_paper() -> None:
    result = digits.prepare(seven(ink=35, paper=105))  # darker than mid-grey, but lighter than the ink
    assert result.inverted
    assert corr(result.array, digits.prepare(seven()).array) > 0.98


def test_uneven_light_and_specks_are_removed() -> None:
    clean = digits.prepare(seven(at=(60, 50))).array
    shaded = np.asarray(seven(at=(60, 50)), dtype=float)
    shaded = shaded * np.linspace(0.45, 1.0, 200)[None, :]       # the left of the sheet is in shadow
    shaded += np.random.default_rng(0).normal(0, 4, shaded.shape)  # grain
    im = Image.fromarray(np.clip(shaded, 0, 255).astype(np.uint8))
    ImageDraw.Draw(im).ellipse((180, 180, 182, 182), fill=30)   # a speck of dust far from the digit
    result = digits.prepare(im)
    assert result.found_ink
    assert corr(result.array, clean) > 0.95
    assert result.box is not None and result.box[2] < 170  # the crop did not reach out to the speck


def test_a_blank_page_has_no_ink() -> None:
    noisy = np.clip(np.random.default_rng(1).normal(200, 3, (80, 80)), 0, 255).astype(np.uint8)
    for im in (Image.new("L", (50, 50), 255), Image.new("L", (50, 50), 0), Image.fromarray(noisy)):
        result = digits.prepare(im)
        assert not result.found_ink and result.array.max() == 0
        assert len(result.steps) == 6


def test_every_step_is_an_image_and_the_last_is_the_result() -> None:
    result = digits.prepare(samples.paper_digit(4, seed=1))
    titles = [s.title for s in result.steps]
    assert titles == ["1. Grayscale", "2. Inverted", "3. Paper removed", "4. Cropped",
                      "5. Fitted in 20×20", "6. Centred in 28×28"]
    assert all(s.image.mode == "L" and s.note for s in result.steps)
    assert max(result.steps[4].image.size) == 20
    assert np.array_equal(np.asarray(result.steps[-1].image), result.array)
    assert np.array_equal(np.asarray(result.image), result.array)


def test_colour_and_tiny_inputs() -> None:
    rgb = seven().convert("RGB")
    assert digits.prepare(rgb).array.max() == 255
    one = digits.prepare(Image.new("RGB", (1, 1), (0, 0, 0)))
    assert one.array.shape == (28, 28)


@needs_data("mnist")
def test_mnist_digits_stay_almost_as_they_are() -> None:
    """MNIST test images are already in MNIST form: the steps must nearly reproduce them."""
    from cnnviz.datasets import data

    test = data.load("mnist", "test", download=False)
    scores = [corr(digits.prepare(test.pil(i)).array, test.images[i, 0].numpy()) for i in range(40)]
    assert np.median(scores) > 0.9


def test_the_trained_mnist_cnn_reads_paper_digits_after_the_steps() -> None:
    """Photo-like digits: the real network is right far more often after the MNIST steps than after a resize."""
    models = pytest.importorskip("models")
    import torch

    try:
        model = models.load("mnist_cnn")
    except models.CheckpointError:
        pytest.skip("mnist_cnn has no trained checkpoint yet")
    to_tensor = models.transform("mnist_cnn")
    pictures = [(d, samples.paper_digit(d, seed=100 + d, size=(240, 200))) for d in range(10) for _ in (0,)]
    pictures += [(d, samples.paper_digit(d, seed=200 + d, size=(200, 260))) for d in range(10)]
    y = torch.tensor([d for d, _ in pictures])
    with torch.no_grad():
        plain = model(torch.stack([to_tensor(p) for _, p in pictures])).argmax(1)
        prepared = model(torch.stack([to_tensor(digits.prepare(p).image) for _, p in pictures])).argmax(1)
    plain_acc = (plain == y).float().mean().item()
    prepared_acc = (prepared == y).float().mean().item()
    assert prepared_acc >= 0.8
    assert prepared_acc >= plain_acc + 0.4
