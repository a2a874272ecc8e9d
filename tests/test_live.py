"""Live views' data: what a snapshot holds equals what the model holds at that moment (NumPy as the oracle)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.datasets.data import ImageSet
from cnnviz.training import live, train
from tests.test_train import config, quadrants, splits, tiny_net


def recorded_run(**overrides) -> tuple[train.Result, live.Recorder, train.Splits]:
    """A tiny real run through `train.fit` with a recorder watching (no validation split: the last epoch is kept)."""
    cfg = config(val_fraction=0.0, **overrides)
    data = splits(cfg)
    torch.manual_seed(0)
    model = tiny_net()
    recorder = live.Recorder(model, live.strip(data.test, data.mean, data.std), every=64, budget=1.0)
    return train.fit(cfg, model, data, watch=recorder), recorder, data


def test_the_last_snapshot_holds_the_final_weights_and_their_maps() -> None:
    result, recorder, data = recorded_run()
    last = recorder.latest()
    assert last.epoch_end and last.epoch == 3 and last.seen == 3 * len(data.train)
    np.testing.assert_array_equal(last.filters, result.model[0].weight.detach().numpy())
    x = (recorder.strip.images.float() / 255 - data.mean[0]) / data.std[0]
    np.testing.assert_allclose(last.maps, result.model[0](x).detach().numpy(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        probs = torch.softmax(result.model(x), 1).numpy()
    np.testing.assert_allclose(last.probs, probs, rtol=1e-5, atol=1e-6)
    assert last.predictions() == [(int(p.argmax()), pytest.approx(float(p.max()), rel=1e-5)) for p in probs]


def test_snapshots_come_every_few_images_and_each_epoch_end() -> None:
    _, recorder, data = recorded_run()
    shots = recorder.history()
    n = len(data.train)  # 256 images, 8 steps of 32 an epoch: a snapshot at the first step, then every 64 images
    assert n == 256       # counted from the last one; an epoch's end is one too
    assert [s.seen for s in shots if not s.epoch_end] == [32, 96, 160, 224, 320, 384, 448, 576, 640, 704]
    assert [s.seen for s in shots if s.epoch_end] == [n, 2 * n, 3 * n]
    assert all(s.filters is None and s.maps is None for s in shots)  # only the latest keeps its pictures
    assert shots[0].layers["0"].weights.sum() == 4 * 9 and not np.array_equal(
        shots[0].layers["0"].weights, shots[-1].layers["0"].weights)  # the weights moved


def test_histograms_count_what_the_model_holds_at_snapshot_time() -> None:
    torch.manual_seed(1)
    model, data = tiny_net(), quadrants(64)
    edges = live.weight_edges(model)
    with torch.no_grad():
        model[0].weight.mul_(3)  # some weights now lie beyond the edges: they count in the end bins
    loss = nn.functional.cross_entropy(model((data.images.float() - 100) / 50), data.labels)
    loss.backward()
    shot = live.snapshot(model, live.strip(data, [100 / 255], [50 / 255]), edges)
    for name, module in (("0", model[0]), ("4", model[4])):
        w, g = module.weight.detach().numpy(), module.weight.grad.numpy()
        e = edges[name]
        np.testing.assert_array_equal(shot.layers[name].weights, np.histogram(np.clip(w, e[0], e[-1]), e)[0])
        log_g = np.log10(np.maximum(np.abs(g), 1e-8)).astype(np.float32)
        expected = np.histogram(np.clip(log_g, live.GRAD_EDGES[0], live.GRAD_EDGES[-1]), live.GRAD_EDGES)[0]
        np.testing.assert_array_equal(shot.layers[name].grads, expected)
        assert shot.layers[name].grad_norm == pytest.approx(float(np.sqrt((g.astype(np.float64) ** 2).sum())))
    assert shot.layers["0"].weights[[0, -1]].sum() > 0  # clipped into the end bins, not dropped
    assert shot.layers["0"].weights.sum() == model[0].weight.numel()


def test_before_any_backward_pass_gradients_are_empty_not_an_error() -> None:
    model, data = tiny_net(), quadrants(16)
    shot = live.snapshot(model, live.strip(data, [0.3], [0.2]), live.weight_edges(model))
    assert shot.layers["0"].grads.sum() == 0 and np.isnan(shot.layers["0"].grad_norm)


def _with_dead_units() -> nn.Sequential:
    """conv 1->4 whose channels 1 and 3 have a bias of -100 (always negative: dead); linear 4->4, unit 2 dead."""
    conv, fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4, 4)
    with torch.no_grad():
        conv.weight.fill_(0.1)
        conv.bias.copy_(torch.tensor([0.0, -100.0, 0.5, -100.0]))
        fc.weight.fill_(0.2)
        fc.bias.copy_(torch.tensor([1.0, 1.0, -100.0, 1.0]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc, nn.ReLU())


def test_dead_share_counts_units_zero_for_every_image() -> None:
    model, data = _with_dead_units(), quadrants(16)
    shot = live.snapshot(model, live.strip(data, [0.0], [1.0]), live.weight_edges(model))
    assert shot.dead == {"1": 0.5, "5": 0.25}


def test_a_unit_zero_only_somewhere_is_not_dead() -> None:
    out = torch.ones(2, 3, 4, 4)
    out[:, 0] = 0          # dead: zero everywhere for both images
    out[0, 1] = 0          # zero for image 0 only
    out[:, 2, 0, 0] = 0    # zero at one position only
    assert live.dead_share(out) == pytest.approx(1 / 3)
    assert live.dead_share(torch.tensor([[0.0, 1.0], [0.0, 0.0]])) == 0.5


def test_the_strip_takes_one_image_per_class_first() -> None:
    data = quadrants(64)
    s = live.strip(data, [0.5], [0.5], count=6)
    assert s.labels.tolist()[:4] == [0, 1, 2, 3] and len(s.labels) == 6
    np.testing.assert_array_equal(s.images[0].numpy(), data.images[(data.labels == 0).nonzero()[0, 0]].numpy())


def test_a_per_pixel_strip_has_no_predictions_but_has_maps() -> None:
    images = torch.randint(0, 255, (12, 1, 8, 8), dtype=torch.uint8)
    canvases = ImageSet("canvases", "test", images, torch.zeros(12, 8, 8, dtype=torch.long), ["bg", "1"])
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 1))
    shot = live.snapshot(model, live.strip(canvases, [0.5], [0.5]), live.weight_edges(model))
    assert shot.probs is None and shot.predictions() == [] and shot.maps.shape == (10, 3, 8, 8)


def test_a_long_run_keeps_a_bounded_history_over_the_whole_run() -> None:
    model, data = tiny_net(), quadrants(16)
    recorder = live.Recorder(model, live.strip(data, [0.3], [0.2]), every=1, keep=10, budget=1.0)
    for seen in range(1, 101):
        recorder.after_step(model, seen, seen / 100)
    seen = [s.seen for s in recorder.history()]
    assert len(seen) <= 10 and seen == sorted(seen)
    assert recorder.every > 1 and seen[0] <= recorder.every and seen[-1] > 100 - recorder.every  # start to end


def test_the_time_budget_holds_snapshots_back() -> None:
    model, data = tiny_net(), quadrants(16)
    recorder = live.Recorder(model, live.strip(data, [0.3], [0.2]), every=1, budget=0.0)
    recorder.take(model, 0, 0.0)
    for seen in range(1, 50):
        recorder.after_step(model, seen, 0.0)
    assert len(recorder.history()) == 1  # with no time to spare, no snapshot after the first


def _shot(epoch: float, weights: list[int], norm: float, dead: float, probs: list[list[float]]) -> live.Snapshot:
    stats = live.LayerStats(np.array(weights), np.zeros(2, np.int64), norm)
    return live.Snapshot(0, epoch, False, {"conv": stats}, {"relu": dead}, np.array(probs), None, None)


def test_rows_for_the_charts_follow_the_snapshots() -> None:
    history = [_shot(0.0, [3, 0], math.nan, 0.0, [[0.9, 0.1], [0.8, 0.2]]),
               _shot(0.5, [1, 2], 2.0, 0.25, [[0.9, 0.1], [0.3, 0.7]])]
    edges = np.array([-1.0, 0.0, 1.0], np.float32)
    assert live.heat_rows(history, "conv", edges) == [
        {"start": 0.0, "end": 0.5, "low": -1.0, "high": 0.0, "count": 3},  # the empty bin is left out
        {"start": 0.5, "end": 1.0, "low": -1.0, "high": 0.0, "count": 1},
        {"start": 0.5, "end": 1.0, "low": 0.0, "high": 1.0, "count": 2}]
    norms, dead = live.trend_rows(history)
    assert norms == [{"layer": "conv", "epoch": 0.5, "value": 2.0}]  # no gradient yet: no point
    assert [d["value"] for d in dead] == [0.0, 0.25]
    assert live.strip_right(history, torch.tensor([0, 1])) == [{"epoch": 0.0, "right": 1}, {"epoch": 0.5, "right": 2}]
    with pytest.raises(ValueError, match="weights"):
        live.heat_rows(history, "conv", edges, "biases")
