"""Batched augmentation against per-image references (torch.nn.functional and torchvision as oracles)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from cnnviz.datasets import augment


def batch(b: int = 32, c: int = 3, h: int = 12, w: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def gen(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("ops", [(), ("flip",), ("crop",), ("rotate",), ("jitter",), augment.AUGMENTATIONS])
def test_every_op_keeps_shape_and_the_zero_one_range(ops: tuple[str, ...]) -> None:
    x = batch()
    out = augment.augment(x, ops, gen())
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, augment.augment(x, ops, gen()))  # the generator alone decides


def test_no_augmentation_only_scales_to_zero_one() -> None:
    x = batch()
    assert torch.equal(augment.augment(x, (), gen()), x.float() / 255)


def test_random_crop_equals_a_per_image_reflect_pad_and_crop() -> None:
    x = batch().float() / 255
    pad = augment.CROP_PAD
    out = augment.random_crop(x, pad, gen())
    g = gen()  # the same draws, in the same order, as random_crop makes them
    dy = torch.randint(0, 2 * pad + 1, (len(x),), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (len(x),), generator=g)
    h, w = x.shape[2:]
    for i in range(len(x)):
        padded = F.pad(x[i:i + 1], (pad, pad, pad, pad), mode="reflect")[0]  # (C, H+2p, W+2p)
        assert torch.equal(out[i], padded[:, dy[i]:dy[i] + h, dx[i]:dx[i] + w]), i
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 10  # each image has its own offset


def test_random_crop_output_is_always_a_window_of_the_padded_image() -> None:
    """RNG-independent check: search every offset for the one that matches."""
    x = batch(b=8).float() / 255
    out = augment.random_crop(x, 2, gen(3))
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")
    h, w = x.shape[2:]
    for i in range(len(x)):
        assert any(torch.equal(out[i], padded[i, :, y:y + h, z:z + w]) for y in range(5) for z in range(5))


def test_random_flip_mirrors_exactly_the_drawn_images() -> None:
    x = batch().float() / 255
    out = augment.random_flip(x, gen())
    mask = torch.rand(len(x), generator=gen()) < 0.5
    for i in range(len(x)):
        assert torch.equal(out[i], x[i].flip(-1) if mask[i] else x[i])
    assert 0 < mask.sum() < len(x)


def test_random_rotate_matches_torchvision_rotate_per_image() -> None:
    x = batch(b=6, h=16, w=16).float() / 255
    out = augment.random_rotate(x, 30.0, gen())
    angles = torch.rand(len(x), generator=gen()) * 60 - 30  # the degrees random_rotate drew
    for i in range(len(x)):
        ref = TF.rotate(x[i], angles[i].item(), interpolation=InterpolationMode.BILINEAR)
        assert torch.allclose(out[i, :, 3:-3, 3:-3], ref[:, 3:-3, 3:-3], atol=1e-5), angles[i]


def test_rotation_by_zero_degrees_and_jitter_of_zero_strength_change_nothing() -> None:
    x = batch().float() / 255
    assert torch.allclose(augment.random_rotate(x, 0.0, gen()), x, atol=1e-6)
    assert torch.allclose(augment.colour_jitter(x.clone(), 0.0, gen()), x, atol=1e-6)


def test_jitter_scales_each_images_mean_by_its_brightness_and_spread_by_brightness_times_contrast() -> None:
    x = 0.4 + 0.2 * torch.rand(16, 3, 8, 8, generator=gen(1))  # mid-grey: nothing gets clipped
    out = augment.colour_jitter(x, augment.JITTER, gen())
    g = gen()
    brightness = torch.rand(16, generator=g) * 2 * augment.JITTER + 1 - augment.JITTER
    contrast = torch.rand(16, generator=g) * 2 * augment.JITTER + 1 - augment.JITTER
    mean, std = x.flatten(1).mean(1), x.flatten(1).std(1)
    assert torch.allclose(out.flatten(1).mean(1), mean * brightness, atol=1e-5)
    assert torch.allclose(out.flatten(1).std(1), std * brightness * contrast, atol=1e-5)
    assert brightness.unique().numel() == 16


def test_jitter_brightens_a_flat_image_by_the_brightness_factor_alone() -> None:
    flat = torch.full((16, 3, 8, 8), 0.4)
    out = augment.colour_jitter(flat, augment.JITTER, gen())
    brightness = torch.rand(16, generator=gen()) * 2 * augment.JITTER + 1 - augment.JITTER
    assert torch.allclose(out, (0.4 * brightness).view(-1, 1, 1, 1).expand_as(out), atol=1e-6)


def test_mnist_shaped_batches_work_too() -> None:
    x = batch(b=5, c=1, h=28, w=28)
    assert augment.augment(x, augment.AUGMENTATIONS, gen()).shape == (5, 1, 28, 28)
