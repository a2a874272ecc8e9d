"""The U-Net's level maps against the modules' own outputs, and the checkerboard measures against hand counts."""
import pytest
import torch
from PIL import Image

import models
from cnnviz.datasets import segments
from cnnviz.inside import decoder
from models import unet
from tests.conftest import needs_data


def test_overlap_counts_match_hand_counts() -> None:
    # kernel 3, stride 2 on a 3x3 input: output 7x7; blocks overlap on every second row and column (Distill's 1-2-1).
    counts = decoder.overlap_counts(3, 3, 2)
    row = torch.tensor([1., 1., 2., 1., 2., 1., 1.])
    assert torch.equal(counts, row[:, None] * row[None, :])
    assert torch.equal(decoder.overlap_counts(4, 2, 2), torch.ones(8, 8))  # kernel a multiple of the stride: even
    assert decoder.overlap_counts(2, 4, 2).max() == 4 and decoder.overlap_counts(2, 4, 2).min() == 1


def test_phase_means_by_hand() -> None:
    maps = torch.tensor([[[1., 2., 1., 2.], [3., 4., 3., 4.], [1., 2., 5., 6.], [3., 4., 7., 8.]]])
    means = decoder.phase_means(maps)
    assert torch.equal(means, torch.tensor([[[2., 3.], [4., 5.]]]))  # e.g. top-left cells 1, 1, 1, 5 -> 2


def test_checkerboard_is_zero_for_nearest_copies_and_large_for_a_pure_pattern() -> None:
    torch.manual_seed(0)
    smooth = torch.randn(3, 6, 6).repeat_interleave(2, 1).repeat_interleave(2, 2)  # nearest-neighbour x2
    assert decoder.checkerboard(smooth) == pytest.approx(0.0, abs=1e-6)
    pattern = torch.tensor([[1., -1.], [-1., 1.]]).repeat(4, 4)[None]  # nothing but a 2x2 checkerboard
    # phase means +1, -1, -1, +1 (std 2/sqrt(3)) over the map's own std (64 values of +-1: sqrt(64/63))
    assert decoder.checkerboard(pattern) == pytest.approx((2 / 3 ** 0.5) / (64 / 63) ** 0.5)
    assert decoder.checkerboard(torch.zeros(2, 4, 4)) == 0.0  # dead channels count as no pattern


def test_levels_are_the_modules_outputs_cropped_to_the_picture() -> None:
    torch.manual_seed(0)
    model = unet.build(width=4).eval()
    x = torch.randn(1, segments.HEIGHT, segments.WIDTH)
    found = decoder.levels(model, x)
    assert [lv.level for lv in found] == [1, 2, 3]
    assert [tuple(lv.encoder.shape) for lv in found] == [(4, 64, 84), (8, 32, 42), (16, 16, 21)]
    for lv in found:
        assert lv.encoder.shape == lv.upsampled.shape == lv.decoder.shape
    with torch.no_grad():  # recompute level 1 by hand through the modules
        padded = torch.nn.functional.pad(x[None], (0, 4, 0, 0), mode="replicate")
        e1 = model.enc1(padded)
        assert torch.allclose(found[0].encoder, e1[0, :, :, :84], atol=1e-6)


def test_a_drawing_becomes_a_canvas_white_on_black() -> None:
    paper = Image.new("L", (336, 256), 255)
    paper.paste(0, (100, 100, 140, 160))  # dark ink on white paper, the canvas's shape
    canvas = segments.from_picture(paper)
    assert canvas.shape == (1, 64, 84) and canvas.dtype == torch.uint8
    assert canvas[0, 0, 0] == 0 and canvas[0, 32, 30] == 255  # inverted: ink bright, paper black
    wide = segments.from_picture(Image.new("L", (840, 320), 0))  # wider than 84:64 -> the centre is cropped
    assert wide.shape == (1, 64, 84)


@pytest.mark.skipif(not all(models.ZOO[n].checkpoint.is_file() for n in ("unet", "unet-nearest")),
                    reason="both U-Nets must be trained")
@needs_data("mnist")
def test_the_shipped_transposed_u_net_shows_a_checkerboard_and_the_nearest_one_does_not() -> None:
    test = segments.load("test", count=40)
    strength = {}
    for name in ("unet", "unet-nearest"):
        model, spec = models.load(name), models.spec(name)
        ups = [decoder.levels(model, (test.images[i].float() / 255 - spec.mean[0]) / spec.std[0])[0].upsampled
               for i in range(0, 40, 4)]
        strength[name] = sum(decoder.checkerboard(u) for u in ups) / len(ups)
    assert strength["unet"] > 0.3 > 0.1 > strength["unet-nearest"], strength  # measured: 0.70 and 0.013
