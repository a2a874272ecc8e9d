"""Accuracy under attack: at ε = 0 it is the clean accuracy, it falls as ε grows, and the disk cache returns it."""
from __future__ import annotations

import numpy as np
import torch

import models
from cnnviz.datasets import data, explore
from cnnviz.results import evaluation, robustness
from tests.conftest import needs_data


@needs_data("cifar10")
def test_accuracy_under_attack_starts_at_the_clean_accuracy_and_falls_as_eps_grows(tmp_path, monkeypatch) -> None:
    path = models.ZOO["cifar_cnn"].checkpoint
    test, _ = evaluation.spread(data.load("cifar10", "test"), 100)
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))  # an empty cache: the first call computes
    model, meta = models.load_file(path)
    clean = evaluation.predict(model, test, meta["mean"], meta["std"]).accuracy
    calls = []

    def load(p):
        calls.append(p)
        return models.load_file(p)

    found = robustness.cached_accuracy_under_attack(path, test, load)
    assert found.shape == (len(robustness.EPSILONS),)
    assert abs(found[0] - clean) < 1e-6
    assert np.all(np.diff(found) <= 0.02) and found[robustness.EPSILONS.index(8)] < 0.2
    again = robustness.cached_accuracy_under_attack(path, test, load)
    assert np.array_equal(found, again) and len(calls) == 1  # the second came from the disk


def test_no_push_leaves_the_accuracy_of_a_tiny_model_as_it_is() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
    images = torch.randint(0, 256, (20, 3, 2, 2), dtype=torch.uint8)
    labels = torch.randint(0, 3, (20,))
    toy = data.ImageSet("toy", "test", images, labels, ["a", "b", "c"])
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    acc = robustness.accuracy_under_attack(model, toy, mean, std, epsilons=(0, 16), batch_size=7)
    with torch.no_grad():
        clean = (model(explore.normalise(images, mean, std)).argmax(1) == labels).float().mean().item()
    assert abs(acc[0] - clean) < 1e-6 and acc[1] <= clean + 1e-6
