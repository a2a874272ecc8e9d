"""cnnviz.inside.embedding: the captured features are what the classifier reads; PCA, t-SNE and the silhouette
score agree with scikit-learn and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from torch import nn

import models
from cnnviz.inside import embedding


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name", ["mnist_cnn", "cifar_cnn", "cifar_cnn_plus", "resnet18"])
def test_the_last_linear_layer_applied_to_the_features_gives_the_model_output(name: str) -> None:
    torch.manual_seed(0)
    net = models.build(name).train()
    x = torch.randn(7, *models.ZOO[name].input_shape)
    feats, scores = embedding.features_and_scores(net, x, batch_size=3)  # three batches
    fc = net.get_submodule(embedding.last_linear(net))
    assert feats.shape == (7, fc.in_features) and scores.shape == (7, 10)
    with torch.no_grad():
        net.eval()
        expected = net(x)
        by_hand = fc(feats)  # the classifier on the features
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)
    if name == "cifar_cnn_plus":
        by_hand = by_hand * net.scale.factor  # its logits are scaled after the linear layer
    torch.testing.assert_close(by_hand, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(embedding.penultimate(net, x), feats)
    assert no_hooks(net)


class AddsAfterFlatten(nn.Module):
    """A classifier fed by a functional op (x + 1) that no leaf layer's output shows."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(12, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(x) + 1)


def test_features_that_no_layer_outputs_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="not the output of the layer before it"):
        embedding.penultimate(AddsAfterFlatten(), torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="no nn.Linear"):
        embedding.penultimate(nn.Sequential(nn.Conv2d(1, 1, 1)), torch.randn(2, 1, 2, 2))


def points(seed: int = 0, n: int = 120, d: int = 9) -> np.ndarray:
    """Correlated Gaussian rows with distinct variances along every direction."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)


def test_pca_equals_scikit_learn_and_torch_up_to_sign() -> None:
    a = points()
    mine = embedding.pca(a, dims=3)
    theirs = PCA(n_components=3).fit_transform(a)
    assert mine.shape == (120, 3) and mine.dtype == np.float32
    for axis in range(3):
        sign = np.sign(mine[:, axis] @ theirs[:, axis])
        np.testing.assert_allclose(mine[:, axis], sign * theirs[:, axis], rtol=1e-4, atol=1e-4)
    _, _, v = torch.pca_lowrank(torch.from_numpy(a), q=a.shape[1], center=True)
    by_torch = ((torch.from_numpy(a) - torch.from_numpy(a).mean(0)) @ v[:, :2]).numpy()
    np.testing.assert_allclose(np.abs(embedding.pca(torch.from_numpy(a))), np.abs(by_torch), rtol=1e-3, atol=1e-3)


def test_pca_signs_are_fixed_so_the_picture_is_reproducible() -> None:
    a = points(1)
    np.testing.assert_array_equal(embedding.pca(a), embedding.pca(a.copy()))
    flipped = embedding.pca(-a)  # the same cloud mirrored: the axes' signs are fixed, so the coordinates flip
    np.testing.assert_allclose(flipped, -embedding.pca(a), rtol=1e-4, atol=1e-4)


def test_tsne_is_seeded_and_two_dimensional() -> None:
    a = points(2, n=60)
    first = embedding.tsne(a, seed=3)
    assert first.shape == (60, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, embedding.tsne(a, seed=3))
    np.testing.assert_array_equal(embedding.tsne(torch.from_numpy(a), seed=3), first)
    assert embedding.tsne(a[:5]).shape == (5, 2)  # the perplexity is lowered for tiny sets


def test_separation_is_scikit_learns_silhouette_and_near_one_for_far_apart_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [100, 0], [0, 100]])
    labels = np.repeat([0, 1, 2], 30)
    tight = centres[labels] + rng.normal(size=(90, 2))
    assert embedding.separation(tight, labels) == pytest.approx(silhouette_score(tight, labels))
    assert embedding.separation(tight, labels) > 0.95
    mixed = rng.normal(size=(90, 2))
    assert abs(embedding.separation(torch.from_numpy(mixed), torch.from_numpy(labels))) < 0.1
    with pytest.raises(ValueError):
        embedding.separation(tight, np.zeros(90, dtype=int))


def test_importing_the_library_modules_does_not_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = ("import sys, cnnviz.featurevis, cnnviz.inside.embedding, cnnviz.results.learned; "
            "print('sklearn' in sys.modules)")
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert found.stdout == "False\n"
