"""Adversarial attacks against hand-computed truth: FGSM is one signed gradient step, PGD stays in its ε-ball."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import models
from cnnviz import attack
from cnnviz.datasets import data, explore
from tests.conftest import needs_data

MEAN, STD = (0.5, 0.4, 0.45), (0.25, 0.2, 0.3)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))


def picture(seed: int = 1) -> torch.Tensor:
    return torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_fgsm_is_one_signed_gradient_step_of_the_loss_clipped_to_the_picture() -> None:
    model = tiny().eval()
    pixels = picture()
    x = attack.to_inputs(pixels.unsqueeze(0), MEAN, STD)[0]
    eps = 8 / 255
    p = pixels.unsqueeze(0).clone().requires_grad_(True)  # by hand, with autograd
    loss = F.cross_entropy(model(attack.to_inputs(p, MEAN, STD)), torch.tensor([2]))
    (grad,) = torch.autograd.grad(loss, p)
    expected = (pixels + eps * grad[0].sign()).clamp(0, 1)
    adv = attack.fgsm(model, x, 2, eps, MEAN, STD)
    assert adv.shape == x.shape
    torch.testing.assert_close(attack.to_pixels(adv.unsqueeze(0), MEAN, STD)[0], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("eps", [0.0, 2 / 255, 8 / 255, 16 / 255])
def test_pgd_stays_in_its_eps_ball_and_in_the_pixel_range(eps: float) -> None:
    model = tiny().eval()
    pixels = picture(3)
    x = attack.to_inputs(pixels.unsqueeze(0), MEAN, STD)[0]
    moved = attack.to_pixels(attack.pgd(model, x, 1, eps, MEAN, STD, steps=7).unsqueeze(0), MEAN, STD)[0]
    assert (moved - pixels).abs().max() <= eps + 1e-6
    assert moved.min() >= -1e-6 and moved.max() <= 1 + 1e-6


def test_a_targeted_attack_raises_the_targets_score_and_an_untargeted_one_lowers_the_true_class() -> None:
    model = tiny().eval()
    x = attack.to_inputs(picture(4).unsqueeze(0), MEAN, STD)
    with torch.no_grad():
        before = model(x).log_softmax(1)[0]
        towards = model(attack.pgd(model, x, 3, 16 / 255, MEAN, STD, targeted=True)).log_softmax(1)[0]
        away = model(attack.pgd(model, x, 0, 16 / 255, MEAN, STD)).log_softmax(1)[0]
    assert towards[3] > before[3] and away[0] < before[0]


def test_the_model_is_left_as_it_was_and_an_impossible_eps_is_refused() -> None:
    model = tiny()
    model.train()
    model[1].eval()  # mixed flags must come back as they were
    flags = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    attack.pgd(model, picture(), 1, 4 / 255, MEAN, STD, steps=3)
    attack.fgsm(model, picture(), 1, 4 / 255, MEAN, STD)
    assert [m.training for m in model.modules()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # batch-norm statistics too
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="pixel units"):
        attack.fgsm(model, picture(), 1, 8, MEAN, STD)


@needs_data("cifar10")
def test_at_8_of_255_pgd_takes_cifar_cnn_below_20_percent_on_200_test_images() -> None:
    model, meta = models.load_file(models.ZOO["cifar_cnn"].checkpoint)
    test = data.load("cifar10", "test")
    every = torch.arange(0, len(test), len(test) // 200)[:200]  # every class (the folders are class by class)
    x, y = explore.normalise(test.images[every], meta["mean"], meta["std"]), test.labels[every]
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
        adv = attack.pgd(model, x, y, 8 / 255, meta["mean"], meta["std"], steps=10)
        fooled = (model(adv).argmax(1) == y).float().mean().item()
    print(f"cifar_cnn on 200 test images: clean {clean:.1%}, PGD ε=8/255 {fooled:.1%}")
    assert clean > 0.6 and fooled < 0.2


def test_growth_is_each_layers_relative_change_computed_by_hand() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 4 * 4, 3)).eval()
    x, adv = torch.randn(1, 6, 6), torch.randn(1, 6, 6)
    found = attack.growth(model, x, adv)
    assert list(found) == ["input", "0", "3"]  # the input, the conv and the linear layer: not ReLU or Flatten
    with torch.no_grad():
        conv = model[0](x[None]), model[0](adv[None])
        out = model(x[None]), model(adv[None])
    assert found["input"] == pytest.approx(float((adv - x).norm() / x.norm()))
    assert found["0"] == pytest.approx(float((conv[1] - conv[0]).norm() / conv[0].norm()), rel=1e-5)
    assert found["3"] == pytest.approx(float((out[1] - out[0]).norm() / out[0].norm()), rel=1e-5)
    assert attack.growth(model, x, x)["3"] == 0.0
