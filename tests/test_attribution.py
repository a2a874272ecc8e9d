"""Integrated gradients: completeness (the attributions add up to the score's change) on real models and images."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import models
from cnnviz import attribution
from cnnviz.datasets import samples


def score(model: nn.Module, x: torch.Tensor, target: int) -> float:
    with torch.no_grad():
        return float(model.eval()(x[None])[0, target])


@pytest.mark.parametrize("name", [n for n in models.names("classification") if n != "resnet18"
                                  and models.ZOO[n].checkpoint.is_file()])
def test_integrated_gradients_add_up_to_the_class_score_above_a_black_picture(name: str) -> None:
    model, entry = models.load(name), models.ZOO[name]
    x = models.transform(name)(samples.load("cat"))
    target = 3  # cat (CIFAR-10), three (MNIST)
    found = attribution.integrated_gradients(model, x, target, mean=entry.mean, std=entry.std)
    assert found.shape == x.shape
    black = attribution.black(x, entry.mean, entry.std)
    assert torch.allclose(black * torch.tensor(entry.std).view(-1, 1, 1) + torch.tensor(entry.mean).view(-1, 1, 1),
                          torch.zeros_like(x), atol=1e-6)  # black before normalisation
    change = score(model, x, target) - score(model, black, target)
    assert abs(float(found.sum()) - change) <= 0.05 * abs(change), (float(found.sum()), change)


def test_on_a_linear_model_integrated_gradients_are_input_minus_baseline_times_weight() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, base = torch.randn(3, 2, 2), torch.randn(3, 2, 2)
    found = attribution.integrated_gradients(model, x, 1, baseline=base, steps=8)
    expected = (x - base).flatten() * model[1].weight[1].detach()
    torch.testing.assert_close(found.flatten(), expected, atol=1e-5, rtol=1e-5)
    assert all(p.grad is None for p in model.parameters())


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))


def test_occlusion_equals_a_brute_force_loop_over_the_windows() -> None:
    model, x = tiny().eval(), torch.randn(1, 6, 6, generator=torch.Generator().manual_seed(1))
    window, stride, target = 3, 1, 2
    total, count = torch.zeros_like(x), torch.zeros_like(x)
    with torch.no_grad():
        full = model(x[None])[0, target]
        for top in range(0, 6 - window + 1, stride):
            for left in range(0, 6 - window + 1, stride):
                covered = x.clone()
                covered[:, top:top + window, left:left + window] = 0  # black without normalisation
                total[:, top:top + window, left:left + window] += full - model(covered[None])[0, target]
                count[:, top:top + window, left:left + window] += 1
    found = attribution.occlusion(model, x, target, window=window, stride=stride)
    torch.testing.assert_close(found, total / count, atol=1e-5, rtol=1e-5)


def test_saliency_is_the_absolute_gradient_and_smoothgrad_repeats_with_its_seed() -> None:
    model, x = tiny().eval(), torch.randn(1, 6, 6, generator=torch.Generator().manual_seed(2))
    leaf = x[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf)[0, 1], leaf)
    torch.testing.assert_close(attribution.saliency(model, x, 1), grad[0].abs())
    before = torch.random.get_rng_state()
    a, b = attribution.smoothgrad(model, x, 1, seed=5), attribution.smoothgrad(model, x, 1, seed=5)
    assert torch.equal(a, b) and not torch.equal(a, attribution.smoothgrad(model, x, 1, seed=6))
    assert torch.equal(torch.random.get_rng_state(), before)  # nobody else's random numbers moved
    assert all(p.grad is None for p in model.parameters())


def test_rank_correlation_is_spearmans() -> None:
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(6, 5, generator=g), torch.rand(6, 5, generator=g)
    assert attribution.rank_correlation(a, b) == pytest.approx(spearmanr(a.flatten(), b.flatten()).statistic)
    assert attribution.rank_correlation(a, a) == pytest.approx(1.0)


def test_the_sanity_check_breaks_gradients_and_grad_cam_but_never_the_model() -> None:
    from cnnviz.inside import cam

    model = models.load("cifar_cnn")
    x = models.transform("cifar_cnn")(samples.load("cat"))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    methods = {"gradient": attribution.saliency,
               "grad-cam": lambda m, x, t: torch.from_numpy(cam.grad_cam(m, x, "conv3", t).heat)}
    stages = attribution.sanity_check(model, x, 3, methods)
    assert [s.randomized for s in stages][:2] == [(), (attribution.weighted_layers(model)[0],)]
    assert len(stages) == len(attribution.weighted_layers(model)) + 1
    assert all(c == pytest.approx(1.0) for c in stages[0].correlation.values())
    for name in methods:
        assert stages[-1].correlation[name] < 0.5, (name, [s.correlation[name] for s in stages])
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_guided_backprop_passes_only_positive_gradients_through_each_relu_and_leaves_no_hook() -> None:
    model, x = tiny().eval(), torch.randn(1, 6, 6, generator=torch.Generator().manual_seed(4))
    leaf = x[None].clone().requires_grad_(True)
    conv, linear = model[0], model[3]
    pre = conv(leaf)  # (1, 3, 6, 6), by hand: d score / d relu output, clipped at 0, through relu's mask and the conv
    upstream = linear.weight[2].view(1, 3, 6, 6)
    (expected,) = torch.autograd.grad(pre, leaf, upstream.clamp(min=0) * (pre > 0))
    torch.testing.assert_close(attribution.guided_backprop(model, x, 2), expected[0], atol=1e-5, rtol=1e-5)
    assert not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in model.modules())


def test_guided_backprop_barely_notices_the_top_of_the_network_destroyed() -> None:
    model = models.load("cifar_cnn")
    x = models.transform("cifar_cnn")(samples.load("cat"))
    stages = attribution.sanity_check(model, x, 3, {"guided": attribution.guided_backprop,
                                                    "gradient": attribution.saliency})
    top_three = stages[3]  # fc2, fc1 and conv3 re-initialised
    assert top_three.correlation["guided"] > 0.7 and top_three.correlation["gradient"] < 0.4, top_three.correlation
