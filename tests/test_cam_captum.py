"""The hand-written Grad-CAM against Captum's LayerGradCam, on every trained zoo model and a real photo."""
from __future__ import annotations

import numpy as np
import pytest
from captum.attr import LayerGradCam

import models
from cnnviz.datasets import samples
from cnnviz.inside import cam, features

TRAINED = [n for n in models.names("classification") if models.ZOO[n].checkpoint.is_file()]


@pytest.mark.parametrize("name", TRAINED)
@pytest.mark.parametrize("photo", ["cat", "rocket"])
def test_grad_cam_equals_captums_layer_grad_cam(name: str, photo: str) -> None:
    model = models.load(name)
    x = models.transform(name)(samples.load(photo)).unsqueeze(0)  # (1, C, H, W)
    ours = cam.grad_cam(model, x[0])
    module = dict(model.named_modules())[ours.layer]
    with features.evaluating(model):
        theirs = LayerGradCam(model, module).attribute(x, target=ours.target, relu_attributions=True)
    theirs = theirs[0, 0].detach().numpy()  # (h, w)
    assert ours.heat.shape == theirs.shape
    scale = max(float(np.abs(theirs).max()), 1e-12)
    np.testing.assert_allclose(ours.heat / scale, theirs / scale, atol=1e-5)
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())  # Captum left none either
