"""cnnviz.inside.render: tiling against torchvision's make_grid, colours against Matplotlib, values against NumPy."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from cnnviz.inside import render

rng = np.random.default_rng(0)


@pytest.mark.parametrize(("n", "ncols", "pad"), [(7, 3, 1), (8, 4, 2), (2, 1, 1), (5, 5, 0)])
def test_tile_matches_make_grid_without_its_outer_border(n: int, ncols: int, pad: int) -> None:
    images = rng.random((n, 5, 6, 3)).astype(np.float32)
    ours = render.tile(images, ncols, pad=pad, fill=0.25)
    theirs = make_grid(torch.from_numpy(images).permute(0, 3, 1, 2), nrow=ncols, padding=pad, pad_value=0.25)
    theirs = theirs.permute(1, 2, 0).numpy()
    theirs = theirs[pad: theirs.shape[0] - pad, pad: theirs.shape[1] - pad] if pad else theirs
    np.testing.assert_array_equal(ours, theirs)


def test_normalise_per_channel_and_per_layer() -> None:
    maps = rng.normal(size=(4, 3, 3)).astype(np.float32) * np.array([1, 10, 100, 0])[:, None, None]
    per_channel = render.normalise(maps, "channel")
    np.testing.assert_allclose(per_channel[:3].min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(per_channel[:3].max(axis=(1, 2)), 1, atol=1e-6)
    assert (per_channel[3] == 0).all()  # a constant (dead) channel shows as the bottom colour
    per_layer = render.normalise(maps, "layer")
    np.testing.assert_allclose(per_layer, (maps - maps.min()) / (maps.max() - maps.min()), atol=1e-6)
    with pytest.raises(ValueError):
        render.normalise(maps, "pixel")


@pytest.mark.parametrize("cmap", ["viridis", "gray", "jet"])
def test_colour_table_matches_matplotlib(cmap: str) -> None:
    values = np.array([0.0, 0.25, 0.5, 1.0])
    expected = matplotlib.colormaps[cmap](values)[:, :3] * 255
    np.testing.assert_allclose(render.colorize(values, cmap), expected, atol=1.5)
    assert tuple(render.colorize(np.array([np.nan]), cmap)[0]) == render.PAD_COLOUR
    with pytest.raises(ValueError):
        render.lut("no-such-map")


def test_nearest_matches_torch_interpolate() -> None:
    images = rng.random((2, 5, 7)).astype(np.float32)
    expected = F.interpolate(torch.from_numpy(images)[None], size=(12, 16), mode="nearest")[0].numpy()
    np.testing.assert_array_equal(render.nearest(images, 12, 16), expected)


def test_channel_order_by_mean_and_max() -> None:
    maps = torch.randn(6, 4, 4)
    np.testing.assert_array_equal(render.channel_order(maps, "mean"),
                                  torch.argsort(maps.mean(dim=(1, 2)), descending=True).numpy())
    np.testing.assert_array_equal(render.channel_order(maps, "max"),
                                  torch.argsort(maps.amax(dim=(1, 2)), descending=True).numpy())
    np.testing.assert_array_equal(render.channel_order(maps, "index"), np.arange(6))


def test_layer_grid_puts_each_channel_colour_in_its_tile() -> None:
    maps = rng.normal(size=(6, 2, 2)).astype(np.float32)
    order = render.channel_order(maps)
    grid = render.layer_grid(maps, norm="layer", cmap="viridis", order=order, width=100, labels=False, ncols=3)
    scale = 100 // (3 * 3)  # integer zoom that fits 3 tiles of 2 (+1 line) into 100 px
    assert grid.shape == (2 * (2 * scale + 1) - 1, 3 * (2 * scale + 1) - 1, 3)
    assert grid.dtype == np.uint8
    values = (maps - maps.min()) / (maps.max() - maps.min())
    for slot, channel in enumerate(order):
        r, c = divmod(slot, 3)
        for i in range(2):
            for j in range(2):
                y, x = r * (2 * scale + 1) + i * scale, c * (2 * scale + 1) + j * scale
                expected = render.colorize(np.array(values[channel, i, j]), "viridis")
                np.testing.assert_array_equal(grid[y, x], expected)
    assert (grid[2 * scale, :] == 255).all()  # the white line between the two rows


def test_layer_grid_labels_only_change_the_corners_and_big_grids_are_subsampled() -> None:
    maps = rng.random((4, 16, 16)).astype(np.float32)
    plain = render.layer_grid(maps, width=400, labels=False)
    labelled = render.layer_grid(maps, width=400, labels=True)
    cell = (plain.shape[0] + 1) // 2  # 4 tiles -> 3 columns, 2 rows
    changed = np.argwhere((plain != labelled).any(axis=2))
    assert len(changed) > 0 and (changed[:, 0] % cell).max() < 25  # only the top of each tile got text
    assert {(y // cell, x // cell) for y, x in changed} == {(0, 0), (0, 1), (0, 2), (1, 0)}
    wide = render.layer_grid(rng.random((64, 112, 112)).astype(np.float32), width=300, labels=False)
    assert wide.shape[1] <= 2 * 300  # a grid far wider than asked is subsampled, not sent whole


def test_layer_grid_takes_vectors_as_one_by_one_maps() -> None:
    grid = render.layer_grid(torch.arange(8.0), width=80, labels=False, ncols=4)
    assert grid.shape[1] == 4 * (80 // 8) + 3 and grid.ndim == 3


def test_channel_image_reports_the_value_range() -> None:
    m = torch.tensor([[-2.0, 0.5], [1.0, 3.0]])
    rgb, (lo, hi) = render.channel_image(m, "gray", size=64)
    assert (lo, hi) == (-2.0, 3.0) and rgb.shape == (64, 64, 3)
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[-1, -1]) == (255, 255, 255)
    _, fixed = render.channel_image(m, "gray", vrange=(-5, 5))
    assert fixed == (-5.0, 5.0)


def test_first_layer_filters_are_colour_tiles_stretched_per_filter() -> None:
    w = torch.randn(4, 3, 3, 3)
    img = render.filter_tiles(w, tile_px=3)  # scale 1: one pixel per weight
    first = w[0].permute(1, 2, 0).numpy()
    expected = np.rint((first - first.min()) / (first.max() - first.min()) * 255)
    np.testing.assert_allclose(img[:3, :3], expected, atol=1)


def test_deeper_filters_are_gray_per_input_with_zero_at_mid_grey() -> None:
    w = torch.zeros(2, 5, 3, 3)
    w[0, 1, 0, 0], w[0, 2, 0, 0] = 2.0, -1.0
    img = render.filter_tiles(w, tile_px=3)  # rows = filters, columns = input channels
    assert img.shape == (2 * 3 + 2, 5 * 3 + 4 * 2, 3)
    assert tuple(img[0, 5]) == (255, 255, 255)  # filter 0, input 1: the largest weight is white
    assert tuple(img[0, 10]) == (64, 64, 64)  # input 2: -1 of a peak of 2 -> a quarter grey
    assert tuple(img[1, 1]) == (128, 128, 128)  # weights of 0 are mid-grey (filter 0, input 0)


def test_filters_beside_responses_layout() -> None:
    w = torch.randn(5, 1, 3, 3)
    r = torch.randn(5, 8, 8)
    img = render.filters_with_responses(w, r, cmap="gray", cell_px=16, ncols=5)
    gap, pad = 2, 6
    assert img.shape == (16, 5 * (16 + gap + 16) + 4 * pad, 3)
    response0 = img[:, 16 + gap: 16 + gap + 16, 0].astype(float)
    expected = render.normalise(r[:1].numpy(), "channel")[0].repeat(2, 0).repeat(2, 1) * 255
    np.testing.assert_allclose(response0, expected, atol=1.5)
    with pytest.raises(ValueError):
        render.filters_with_responses(torch.randn(2, 4, 3, 3), torch.randn(2, 8, 8))


def test_param_histograms_count_every_weight_and_bias() -> None:
    conv = nn.Conv2d(3, 8, 3)
    df = render.param_histograms(conv, bins=10)
    assert set(df["param"]) == {"weight", "bias"}
    assert df[df.param == "weight"]["count"].sum() == conv.weight.numel()
    assert df[df.param == "bias"]["count"].sum() == 8
    assert df[df.param == "weight"]["start"].min() == pytest.approx(conv.weight.min().item())
    assert set(render.param_histograms(nn.Conv2d(3, 8, 3, bias=False))["param"]) == {"weight"}


def test_jpeg_round_trip() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, 30:] = (200, 50, 20)
    back = np.asarray(Image.open(io.BytesIO(render.to_jpeg(img))))
    assert back.shape == img.shape and np.abs(back.astype(int) - img).mean() < 4


def test_input_picture_undoes_the_normalisation() -> None:
    pixels = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    x = (torch.from_numpy(pixels).permute(2, 0, 1).float() / 255 - torch.tensor(mean)[:, None, None]) \
        / torch.tensor(std)[:, None, None]
    np.testing.assert_array_equal(render.input_picture(x, mean, std), pixels)
    big = render.input_picture(x[:1], mean[:1], std[:1], size=25)  # one channel comes back as gray RGB
    assert big.shape == (20, 25, 3) and (big[..., 0] == big[..., 2]).all()
    np.testing.assert_array_equal(big[::5, ::5, 0], pixels[..., 0])


def test_boxed_outlines_exactly_the_patch_after_enlarging() -> None:
    pixels = np.zeros((1, 8, 8), np.uint8)
    out = render.boxed(pixels, (2, 3, 5, 7), size=32)  # scale 4, line 2 px
    assert out.shape == (32, 32, 3)
    orange = (out == (255, 120, 0)).all(axis=2)
    assert orange[8:10, 12:28].all() and orange[18:20, 12:28].all()  # top and bottom edges
    assert orange[8:20, 12:14].all() and orange[8:20, 26:28].all()  # left and right edges
    assert not orange[10:18, 14:26].any() and orange.sum() == 2 * 16 * 2 + 2 * 8 * 2
    assert (render.boxed(pixels, None, size=32) == 0).all()
