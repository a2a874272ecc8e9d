"""cnnviz.inside.cam: Grad-CAM equals a hand computation, and the model comes back untouched."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import models
from cnnviz.inside import cam, render


def tiny_cam_net(inplace: bool = False) -> nn.Sequential:
    """conv (1 -> 3 channels, 3x3) -> ReLU -> global average pool -> linear to 4 classes, seeded."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(1, 3, 3, padding=1), relu=nn.ReLU(inplace=inplace), gap=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(), fc=nn.Linear(3, 4)))


def hand_grad_cam(net: nn.Sequential, x: torch.Tensor, cls: int, at: str) -> np.ndarray:
    """Grad-CAM worked out on paper for conv -> ReLU -> mean -> linear (no autograd).

    score_c = b_c + sum_k W[c, k] * mean(ReLU(A_k)), so d score_c / d ReLU(A_k)(i, j) = W[c, k] / (h w),
    and d score_c / d A_k(i, j) = W[c, k] / (h w) where A_k(i, j) > 0, else 0.
    """
    with torch.no_grad():
        a = F.conv2d(x, net.conv.weight, net.conv.bias, padding=1)[0]  # (K, h, w)
        k, h, w = a.shape
        wc = net.fc.weight[cls][:, None, None]  # (K, 1, 1)
        if at == "relu":
            a = a.clamp(min=0)
            grad = wc.expand(k, h, w) / (h * w)
        else:
            grad = wc * (a > 0) / (h * w)
        alpha = grad.mean(dim=(1, 2))  # weights = spatial mean of the gradients
        return torch.clamp((alpha[:, None, None] * a).sum(0), min=0).numpy()  # ReLU of the weighted sum


@pytest.mark.parametrize("at", ["conv", "relu"])
@pytest.mark.parametrize("cls", [None, 0, 3])
def test_grad_cam_equals_the_hand_computation(at: str, cls: int | None) -> None:
    net = tiny_cam_net()
    x = torch.randn(1, 1, 6, 6)
    result = cam.grad_cam(net, x, layer=at, target=cls)
    with torch.no_grad():
        predicted = int(net(x).argmax())
        probs = torch.softmax(net(x)[0], 0).numpy()
    expected_cls = predicted if cls is None else cls
    assert result.target == expected_cls and result.layer == at
    np.testing.assert_allclose(result.heat, hand_grad_cam(net, x, expected_cls, at), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.probabilities, probs, rtol=1e-5)
    assert result.activations.shape == (3, 6, 6) and result.weights.shape == (3,)


def test_an_inplace_relu_after_the_layer_does_not_change_the_answer() -> None:
    x = torch.randn(1, 1, 6, 6)
    plain = cam.grad_cam(tiny_cam_net(inplace=False), x, layer="conv", target=1)
    inplace = cam.grad_cam(tiny_cam_net(inplace=True), x, layer="conv", target=1)
    np.testing.assert_allclose(inplace.heat, plain.heat, rtol=1e-6)
    assert (inplace.activations < 0).any()  # the conv output was kept before the ReLU


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("trainable", [True, False])
def test_the_model_is_left_as_it_was(trainable: bool) -> None:
    net = tiny_cam_net()
    for p in net.parameters():
        p.requires_grad_(trainable)
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = cam.grad_cam(net, torch.randn(1, 6, 6), layer="conv")  # (C, H, W) input is accepted too
    assert result.heat.shape == (6, 6)
    assert no_hooks(net)
    assert all(p.grad is None and p.requires_grad is trainable for p in net.parameters())
    assert all(m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_errors_leave_no_hook_behind() -> None:
    net = tiny_cam_net()
    with pytest.raises(ValueError, match="out of range"):
        cam.grad_cam(net, torch.randn(1, 1, 6, 6), layer="conv", target=9)
    with pytest.raises(ValueError, match="feature maps"):
        cam.grad_cam(net, torch.randn(1, 1, 6, 6), layer="fc")
    with pytest.raises(KeyError):
        cam.grad_cam(net, torch.randn(1, 1, 6, 6), layer="nope")
    assert no_hooks(net)


@pytest.mark.parametrize("scale, last_side, roomy", [(1, 1, "layer2.1.conv2"), (2, 2, "layer3.1.conv2")])
def test_default_layer_is_the_last_conv_with_room_to_show_where(scale: int, last_side: int, roomy: str) -> None:
    """torchvision's ResNet18 shrinks a 32x32 image to 1x1 by its last conv, the zoo's (upsampled x2 first) to 2x2:
    the last conv still 4x4 is layer2's in one, layer3's in the other."""
    net = models.build("resnet18", scale=scale)
    assert cam.default_layer(net) == "layer4.1.conv2"
    from cnnviz.inside import features

    out = features.extract(net, torch.randn(1, 3, 32, 32), features.conv_layers(net))
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes["layer4.1.conv2"][-2:] == (last_side, last_side)
    assert cam.default_layer(net, shapes) == roomy
    default = cam.grad_cam(net, torch.randn(1, 3, 32, 32))
    assert default.layer == "layer4.1.conv2" and default.heat.shape == (last_side, last_side)


def test_overlay_blends_by_opacity() -> None:
    image = np.full((20, 30, 3), 100, np.uint8)
    heat = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)
    np.testing.assert_array_equal(cam.overlay(image, heat, opacity=0.0), image)
    full = cam.overlay(image, heat, opacity=1.0, cmap="gray")
    expected = render.colorize(cam.upsample(heat, 20, 30), "gray")
    np.testing.assert_array_equal(full, expected)
    half = cam.overlay(image[..., 0], heat, opacity=0.5, cmap="gray")  # grayscale images work too
    assert half.shape == (20, 30, 3)
    np.testing.assert_allclose(half.astype(float), 0.5 * 100 + 0.5 * expected.astype(float), atol=1)


def test_raw_activation_map_is_the_channel_mean_and_can_be_negative() -> None:
    a = torch.randn(5, 4, 4)
    np.testing.assert_allclose(cam.mean_activation(a), a.mean(0).numpy(), atol=1e-6)
    out = cam.overlay(np.zeros((8, 8, 3), np.uint8), cam.mean_activation(a), opacity=1.0, cmap="gray",
                      normalise="minmax")
    assert out.min() == 0 and out.max() == 255
