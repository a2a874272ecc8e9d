"""Every method side by side, its baselines and its deletion curve, against hand-built and library truth."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

import models
from cnnviz import attribution
from cnnviz.datasets import samples
from cnnviz.inside import cam


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4)).eval()


def test_the_blurred_baseline_is_scipys_gaussian_filter_on_each_channel() -> None:
    x = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    expected = ndimage.gaussian_filter(x.numpy().astype(np.float64), sigma=(0, 2, 2), mode="nearest", truncate=3)
    np.testing.assert_allclose(attribution.blurred(x, 2.0).numpy(), expected, atol=1e-5)
    flat = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(attribution.blurred(flat), flat)  # a blank picture stays itself


def test_the_baselines_are_black_blurred_and_the_mean_colour_in_the_models_input_space() -> None:
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    x = torch.rand(3, 8, 8)
    pixels = attribution.starting_picture("black", x, mean, std) * torch.tensor(std).view(-1, 1, 1) \
        + torch.tensor(mean).view(-1, 1, 1)
    torch.testing.assert_close(pixels, torch.zeros_like(x))
    assert torch.equal(attribution.starting_picture("mean", x, mean, std), torch.zeros_like(x))
    torch.testing.assert_close(attribution.starting_picture("blurred", x, mean, std), attribution.blurred(x))
    with pytest.raises(ValueError, match="black, blurred, mean"):
        attribution.starting_picture("grey", x, mean, std)


def test_the_deletion_curve_paints_the_most_important_pixels_first() -> None:
    model, x = tiny(), torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(1))
    heat = torch.rand(6, 6, generator=torch.Generator().manual_seed(2))
    fill = torch.full_like(x, -1.0)
    curve = attribution.deletion(model, x, 2, heat, steps=4, fill=fill)
    order = heat.flatten().argsort(descending=True)
    with torch.no_grad():
        for k in range(5):  # by hand: 0, 9, 18, 27 and all 36 pixels painted
            painted = x.clone().view(2, -1)
            painted[:, order[: 9 * k]] = -1.0
            expected = torch.softmax(model(painted.view(1, 2, 6, 6)), 1)[0, 2]
            assert curve[k] == pytest.approx(float(expected), abs=1e-6)


def test_the_area_under_a_curve_is_the_trapezoids_mean() -> None:
    assert attribution.area(np.linspace(1, 0, 11)) == pytest.approx(0.5)
    assert attribution.area(np.ones(5)) == pytest.approx(1.0)
    assert attribution.area(np.array([1.0, 0.0, 0.0])) == pytest.approx(0.25)


def test_explain_gives_every_method_as_one_map_the_size_of_the_picture() -> None:
    model, entry = models.load("cifar_cnn"), models.ZOO["cifar_cnn"]
    x = models.transform("cifar_cnn")(samples.load("cat"))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    maps = attribution.explain(model, x, 3, attribution.settings_for(32), entry.mean, entry.std)
    assert model.training and all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert list(maps) == list(attribution.METHODS)
    assert all(m.shape == (32, 32) and float(m.min()) >= 0 and float(m.max()) > 0 for m in maps.values())
    leaf = x[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.eval()(leaf)[0, 3], leaf)
    torch.testing.assert_close(maps["gradient"], grad[0].abs().sum(0))
    heat = cam.grad_cam(model, x, None, 3).heat
    np.testing.assert_allclose(maps["gradcam"].numpy(), cam.upsample(heat, 32, 32), atol=1e-6)
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


def test_the_defaults_keep_a_224_px_picture_to_a_few_dozen_passes() -> None:
    small, large = attribution.settings_for(32), attribution.settings_for(224)
    assert (small.window, small.stride, small.steps) == (4, 2, 64)
    assert large.steps + large.samples + (224 // large.stride) ** 2 <= 48


def test_integrated_gradients_from_each_baseline_add_up_to_the_score_change() -> None:
    model, entry = models.load("cifar_cnn"), models.ZOO["cifar_cnn"]
    x = models.transform("cifar_cnn")(samples.load("cat"))
    for kind in attribution.BASELINES:
        start = attribution.starting_picture(kind, x, entry.mean, entry.std)
        found = attribution.integrated_gradients(model, x, 3, start)
        with torch.no_grad():
            change = float(model(x[None])[0, 3] - model(start[None])[0, 3])
        assert abs(float(found.sum()) - change) <= 0.05 * abs(change), (kind, float(found.sum()), change)


def test_the_sanity_check_reports_its_progress_to_the_end() -> None:
    seen: list[float] = []
    attribution.sanity_check(tiny(), torch.randn(2, 6, 6), 1, {"gradient": attribution.saliency}, progress=seen.append)
    assert seen == [pytest.approx(k / 3) for k in (1, 2, 3)]
