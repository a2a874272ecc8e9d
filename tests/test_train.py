"""The training engine on tiny data: it learns, saves, repeats, stops, refuses to diverge and survives a kill."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

import models
from cnnviz.datasets import data
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import features
from cnnviz.nets import builder, limits, netspec
from cnnviz.training import checkpoint, train
from cnnviz.training.runs import Run, list_runs
from tests.conftest import ROOT, needs_data

CLASSES = ["top-left", "top-right", "bottom-left", "bottom-right"]


def quadrants(n: int = 256, size: int = 8, seed: int = 0) -> ImageSet:
    """Noisy 1-channel images whose class is the quadrant holding a bright square (easy to learn)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 60, (n, 1, size, size), generator=gen, dtype=torch.uint8)
    h = size // 2
    for k in range(4):
        r, c = divmod(k, 2)
        images[labels == k, :, r * h:(r + 1) * h, c * h:(c + 1) * h] += 150
    return ImageSet("quadrants", "train", images, labels, CLASSES)


def tiny_net(size: int = 8) -> nn.Sequential:
    """conv 1->4 (3x3), ReLU, pool, linear: 4 classes."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * (size // 2) ** 2, 4))


def config(**overrides) -> train.TrainConfig:
    base = train.TrainConfig("quadrants", "tiny", lr=0.05, batch_size=32, epochs=3, augment=(), label_smoothing=0.0,
                             schedule="none", val_fraction=0.25)
    return replace(base, **overrides)


def splits(cfg: train.TrainConfig, n: int = 256) -> train.Splits:
    data_ = quadrants(n)
    return train.make_splits(cfg, data_, quadrants(64, seed=1))


def _without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_make_splits_holds_out_a_disjoint_seeded_validation_share() -> None:
    cfg = config(val_fraction=0.25, train_limit=200, seed=3)
    whole = quadrants(256)
    whole.labels = torch.arange(256)  # unique labels identify the images
    s = train.make_splits(cfg, whole, quadrants(64))
    assert (len(s.train), len(s.val)) == (150, 50)
    assert not set(s.train.labels.tolist()) & set(s.val.labels.tolist())
    again = train.make_splits(cfg, whole, quadrants(64))
    assert torch.equal(again.val.labels, s.val.labels)
    mean, std = s.train.channel_stats()
    assert (s.mean, s.std) == (mean, std)
    assert train.make_splits(replace(cfg, normalize="half"), whole, quadrants(64)).mean == [0.5]


def test_a_few_steps_lower_the_loss() -> None:
    cfg = config(epochs=2)
    s = splits(cfg)
    torch.manual_seed(0)
    model = tiny_net()
    before, _, _ = train.evaluate(model, s.val, s.mean, s.std)
    result = train.fit(cfg, model, s)
    after, acc, _ = train.evaluate(result.model, s.val, s.mean, s.std)
    assert after < 0.5 * before
    assert acc > 0.9
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert set(result.metrics) == {f"{p}_{m}" for p in ("train", "val", "test") for m in ("loss", "acc")}


@needs_data("mnist")
@pytest.mark.data
def test_a_few_steps_on_real_mnist_lower_the_loss() -> None:
    cfg = train.defaults("mnist", "mnist_cnn")
    cfg = replace(cfg, epochs=1, train_limit=1024, test_limit=500, batch_size=32, schedule="none", optimizer="sgd",
                  lr=0.05, augment=())
    s = train.make_splits(cfg, data.load("mnist", "train"), data.load("mnist", "test"))
    torch.manual_seed(0)
    model = models.build("mnist_cnn")
    before, _, _ = train.evaluate(model, s.test, s.mean, s.std)
    result = train.fit(cfg, model, s)
    assert before > 2.2  # chance level: ln 10 = 2.30
    assert result.metrics["test_loss"] < 0.8 * before
    assert result.metrics["test_acc"] > 0.5


def test_evaluate_has_no_side_effects() -> None:
    cfg = config()
    s = splits(cfg)
    model = tiny_net().train()
    state = copy.deepcopy(model.state_dict())
    first = train.evaluate(model, s.val, s.mean, s.std)
    second = train.evaluate(model, s.val, s.mean, s.std)
    assert model.training
    assert first[0] == second[0] and torch.equal(first[2], second[2])
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_checkpoint_round_trips_to_identical_outputs(tmp_path: Path) -> None:
    """A run trained on MNIST-shaped data reloads through models.load_file and predicts the same logits."""
    images = torch.randint(0, 256, (96, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fake = ImageSet("mnist", "train", images, torch.arange(96) % 10, [str(d) for d in range(10)])
    cfg = train.TrainConfig("mnist", "mnist_cnn", epochs=1, batch_size=32, augment=("crop",), val_fraction=0.25)
    s = train.make_splits(cfg, fake, fake.subset(range(32)))
    run = Run.create("roundtrip", root=tmp_path)
    meta = {"arch": "mnist_cnn", "arch_args": {}, "input_shape": [1, 28, 28], "classes": fake.classes}
    result = train.fit(cfg, models.build("mnist_cnn"), s, run=run, meta=meta)

    loaded, loaded_meta = models.load_file(run.checkpoint)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), result.model.eval()(x))
    assert not loaded.training
    assert loaded_meta["config"]["seed"] == cfg.seed and loaded_meta["mean"] == s.mean
    assert loaded_meta["card"]["metrics"] == result.metrics
    assert run.info()["status"] == "finished"


def test_the_same_seed_gives_the_same_history() -> None:
    cfg = config(augment=("flip", "crop", "rotate", "jitter"), schedule="onecycle")
    torch.manual_seed(0)
    net = tiny_net()
    first = train.fit(cfg, copy.deepcopy(net), splits(cfg))
    second = train.fit(cfg, copy.deepcopy(net), splits(cfg))
    other = train.fit(replace(cfg, seed=1), copy.deepcopy(net), splits(cfg))
    assert _without_seconds(first.history) == _without_seconds(second.history)
    assert first.metrics == second.metrics
    assert _without_seconds(first.history) != _without_seconds(other.history)


def test_early_stopping_stops_after_patience_epochs_without_a_better_validation_loss() -> None:
    cfg = config(epochs=30, patience=2, lr=0.1)
    s = splits(cfg)
    # Validation labels shifted by one class: the better the model learns, the worse its validation loss.
    s.val = ImageSet("quadrants", "train", s.val.images, (s.val.labels + 1) % 4, CLASSES)
    torch.manual_seed(0)
    result = train.fit(cfg, tiny_net(), s)
    val_losses = [h["val_loss"] for h in result.history]
    assert result.status == "early-stopped"
    assert len(result.history) < cfg.epochs
    assert result.best_epoch == 1 + val_losses.index(min(val_losses))
    assert len(result.history) == result.best_epoch + cfg.patience
    # The returned model carries the best epoch's weights: its validation loss is the best one.
    assert train.evaluate(result.model, s.val, s.mean, s.std)[0] == pytest.approx(min(val_losses), rel=1e-5)


def test_a_diverging_run_stops_with_a_clear_message_and_the_run_says_so(tmp_path: Path) -> None:
    cfg = config(lr=1e4, epochs=5)
    run = Run.create("diverge", root=tmp_path)
    torch.manual_seed(0)
    with pytest.raises(train.TrainingDiverged, match=r"learning rate 10000 is too high") as caught:
        train.fit(cfg, tiny_net(), splits(cfg), run=run)
    assert "epoch 1" in str(caught.value) and "smaller" in str(caught.value)
    info = run.info()
    assert info["status"] == "diverged" and info["error"] == str(caught.value)


def test_should_stop_ends_the_run_keeping_what_was_learned(tmp_path: Path) -> None:
    cfg = config(epochs=10)
    run = Run.create("stop", root=tmp_path)
    epochs_done = []
    torch.manual_seed(0)
    result = train.fit(cfg, tiny_net(), splits(cfg), run=run, on_epoch=epochs_done.append,
                       should_stop=lambda: len(epochs_done) >= 1)
    assert result.status == "stopped"
    assert len(result.history) == 2  # epoch 2 is cut after its first batch and still recorded
    assert run.info()["status"] == "stopped" and len(run.history()) == 2
    assert "test_acc" in result.metrics


def test_an_exception_mid_run_leaves_a_loadable_checkpoint_and_its_history(tmp_path: Path) -> None:
    cfg = config(epochs=5)
    run = Run.create("crash", root=tmp_path)
    epochs_done: list[dict] = []

    def crash_in_epoch_two() -> bool:
        if epochs_done:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in epoch 2
        return False

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train.fit(cfg, tiny_net(), splits(cfg), run=run, on_epoch=epochs_done.append, should_stop=crash_in_epoch_two)
    state, meta = checkpoint.load(run.checkpoint)
    net = checkpoint.restore(tiny_net(), state, "tiny")
    assert [h["epoch"] for h in run.history()] == [1] == [h["epoch"] for h in meta["card"]["history"]]
    assert run.history()[0]["val_loss"] == pytest.approx(
        train.evaluate(net, splits(cfg).val, meta["mean"], meta["std"])[0], rel=1e-5)
    assert run.info()["status"] == "interrupted" and "KeyboardInterrupt" in run.info()["error"]


KILLED_SCRIPT = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, sys.argv[1])
    import models
    from cnnviz.training import train
    from cnnviz.datasets.data import ImageSet
    from cnnviz.training.runs import Run
    images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fake = ImageSet("mnist", "train", images, torch.arange(256) % 10, [str(d) for d in range(10)])
    cfg = train.TrainConfig("mnist", "mnist_cnn", epochs=1000, batch_size=64, augment=())
    s = train.make_splits(cfg, fake, fake.subset(range(64)))
    run = Run.create("killed", root=sys.argv[2])
    meta = {"arch": "mnist_cnn", "arch_args": {}, "input_shape": [1, 28, 28], "classes": fake.classes}
    def on_epoch(record):
        if record["epoch"] == 2:
            print("EPOCH2", flush=True)
    train.fit(cfg, models.build("mnist_cnn"), s, run=run, on_epoch=on_epoch, meta=meta)
""")


def test_a_killed_process_leaves_a_loadable_checkpoint_and_its_history(tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(ROOT), str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert proc.stdout.readline().strip() == "EPOCH2"
        time.sleep(0.05)  # let it get into epoch 3 (or into a save)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (run,) = list_runs(tmp_path / "runs")
    history = run.history()
    assert len(history) >= 2 and [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    model, meta = models.load_file(run.checkpoint)
    assert isinstance(model, nn.Module) and meta["config"]["epochs"] == 1000
    saved = meta["card"]["history"]  # the checkpoint is written just before history.json in each epoch
    assert 1 <= meta["card"]["best_epoch"] == len(saved) and len(saved) - 1 <= len(history)
    assert run.info()["status"] == "running"  # nothing could record the kill; the history shows how far it got
    # A kill during a save may leave a hidden temporary file, never a half-written file under a real name.
    assert {p.name for p in run.path.iterdir() if not p.name.startswith(".")} == {"run.json", "history.json",
                                                                                 "checkpoint.pt"}
    json.loads((run.path / "run.json").read_text())


def test_a_described_network_whose_batch_is_over_the_memory_limit_does_not_train(monkeypatch: pytest.MonkeyPatch
                                                                                 ) -> None:
    layers = netspec.parse("conv 64 k3 p1\nrelu\nflatten\nlinear 4")  # 8×8 images: 48.3 KiB of activations each
    cfg = config(model="custom", layers=layers, batch_size=128)
    model = builder.build(layers, (1, 8, 8))
    before = copy.deepcopy(model.state_dict())
    monkeypatch.setenv("CNNVIZ_MAX_BATCH_MB", "1")
    with pytest.raises(limits.TooLarge, match=r"batch of 128 images needs 6.03 MiB .* at most 1 MiB per batch"):
        train.fit(cfg, model, splits(cfg))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # not a single step was taken
    train.fit(replace(cfg, batch_size=16, epochs=1), model, splits(cfg))  # 772 KiB a batch: trains


def test_config_rejects_nonsense() -> None:
    for bad in ({"optimizer": "rmsprop"}, {"schedule": "cosine"}, {"augment": ("mixup",)}, {"lr": 0},
                {"val_fraction": 1.0}, {"normalize": "imagenet"}):
        with pytest.raises(ValueError):
            train.TrainConfig(**bad)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_defaults_are_valid_configs_for_each_data_set(dataset: str) -> None:
    cfg = train.defaults(dataset, "m")
    assert cfg.dataset == dataset and cfg.model == "m" and cfg.epochs >= 1


SHIPPED = [n for n in models.names("classification") if models.ZOO[n].checkpoint.is_file()]


@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED or [pytest.param("none", marks=pytest.mark.skip("no shipped checkpoint yet"))])
def test_shipped_checkpoints_reach_their_cards_test_accuracy(name: str) -> None:
    entry = models.ZOO[name]
    if entry.dataset not in data.available():
        pytest.skip(f"{entry.dataset} is not under CNNVIZ_DATA_DIR")
    model, meta = models.load_file(entry.checkpoint)
    card = meta["card"]
    test = data.load(entry.dataset, "test")
    subset = test.subset(torch.arange(0, len(test), len(test) // 1000)[:1000])  # every 10th: all classes
    _, acc, _ = train.evaluate(model, subset, meta["mean"], meta["std"])
    assert abs(acc - card["metrics"]["test_acc"]) <= 0.02, (acc, card["metrics"]["test_acc"])
    # The page-side transform (PIL -> tensor) predicts what the tensor pipeline predicts.
    transform = models.transform(name)
    x = torch.stack([transform(subset.pil(i)) for i in range(32)])
    with torch.no_grad():
        pil_preds = model(x).argmax(1)
    tensor_preds = features.logits(model, subset.images[:32], meta["mean"], meta["std"]).argmax(1)
    assert (pil_preds == tensor_preds).float().mean() >= 31 / 32


def _dropout_net() -> nn.Sequential:
    """tiny_net with both kinds of dropout, whose masks must follow the run's seed."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.3), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(4 * 4 ** 2, 4))


def test_two_runs_with_one_seed_in_two_threads_at_once_give_identical_histories() -> None:
    import threading

    cfg = config(epochs=2, seed=7)
    histories: dict[int, list] = {}
    start = threading.Barrier(3)

    def student(k: int, seed: int) -> None:
        start.wait()
        with train.seeded(seed):
            model = _dropout_net()
        result = train.fit(replace(cfg, seed=seed), model, splits(cfg), device=torch.device("cpu"))
        histories[k] = _without_seconds(result.history)

    # two students with one seed, and a third with another seed training beside them (dropout in all three)
    runs = [threading.Thread(target=student, args=(k, seed)) for k, seed in enumerate((7, 7, 8))]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert histories[0] == histories[1] != histories[2]
    with train.seeded(cfg.seed):
        alone = train.fit(cfg, _dropout_net(), splits(cfg), device=torch.device("cpu"))
    assert _without_seconds(alone.history) == histories[0]  # the same run as one started alone


def test_a_seeded_block_leaves_the_global_generator_where_it_was() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with train.seeded(5):
        torch.rand(100)
    assert torch.equal(torch.rand(3), expected)


def test_training_puts_the_models_own_dropout_layers_back() -> None:
    model = _dropout_net()
    drops = [model[2], model[5]]
    cfg = config(epochs=1)
    result = train.fit(cfg, model, splits(cfg), device=torch.device("cpu"))
    assert [result.model[2], result.model[5]] == drops and drops[0].training == result.model.training


# ---- the network a run trains (models.train.fresh, custom_layers) -------------------------------------------

def test_a_typed_network_is_counted_like_torch_counts_it_and_must_end_in_the_classes() -> None:
    from models.train import custom_layers

    layers, verdict = custom_layers(netspec.PRESETS["mnist_cnn"].text, (1, 28, 28), 10)
    params = sum(p.numel() for p in builder.build(layers, (1, 28, 28)).parameters())  # torch as the oracle
    assert verdict == f"✅ {len(layers)} layers, {params:,} parameters, output (10,)." and params == 21_840
    assert custom_layers("conv 8 k3\nrelu\nflatten\nlinear 7", (1, 28, 28), 10) == (
        None, "❌ The network ends with shape (7,), but the data set has 10 classes: end with `flatten` and "
              "`linear 10`.")
    layers, verdict = custom_layers("conv 8 k3\nwobble", (1, 28, 28), 10)
    assert layers is None and verdict.startswith("❌ ")
    layers, verdict = custom_layers("conv 8 k3\nrelu\nflatten\nlinear 100000\nrelu\nlinear 10", (1, 28, 28), 10)
    assert layers is None and "cnnviz allows at most 65,536 units per linear layer" in verdict  # the size limits


def test_a_fresh_custom_network_rebuilds_itself_from_its_checkpoint(tmp_path: Path) -> None:
    from models.train import custom_layers, fresh

    layers, _ = custom_layers("conv 4 k3\nrelu\npool max 2\nflatten\nlinear 10", (1, 28, 28), 10)
    cfg = train.TrainConfig("mnist", "custom", layers=layers)
    with train.seeded(0):
        model, meta, title = fresh(cfg, (1, 28, 28), [str(d) for d in range(10)])
    assert title == "your network" and meta["arch"] == "custom" and meta["classes"] == [str(d) for d in range(10)]
    checkpoint.save(tmp_path / "c.pt", model, {**meta, "mean": [0.5], "std": [0.5]})
    loaded, _ = models.load_file(tmp_path / "c.pt")
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_a_fresh_zoo_network_is_untrained_and_named_by_the_zoo() -> None:
    from models.train import fresh

    with train.seeded(0):
        model, meta, title = fresh(train.TrainConfig("mnist", "mnist_cnn"), (1, 28, 28), [])
    assert title == models.ZOO["mnist_cnn"].title and meta["arch"] == "mnist_cnn" and meta["arch_args"] == {}
    trained = models.load("mnist_cnn") if models.ZOO["mnist_cnn"].checkpoint.is_file() else None
    if trained is not None:  # a fresh model, never the shipped (cached) one
        assert model is not trained
        assert not all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
