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


@pytest.mark.parametrize("name", [n for n in models.names() if n != "resnet18"
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
