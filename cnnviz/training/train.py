"""One plain training loop: data on the device as tensors, batched augmentation, a callback for progress."""
from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.datasets.augment import AUGMENTATIONS, augment
from cnnviz.datasets.data import ImageSet
from cnnviz.datasets.splits import Splits, hold_out
from cnnviz.inside import features
from cnnviz.nets import limits
from cnnviz.training import checkpoint, segment
from cnnviz.training.device import describe, native_bf16, pick_device
from cnnviz.training.runs import Run

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "plateau", "onecycle")
INITS = ("default", "zeros")  # starting weights: PyTorch's random ones, or every weight and bias 0 (a what-if)
ONECYCLE_MIN_STEPS = 5  # one-cycle's warm-up takes a quarter of the steps and must have at least one
LIVE_DEMO = {"mnist_fast": 1, "cifar_fast": 2}  # the networks that learn in seconds, and their recipes' epochs
DIVERGED_FACTOR = 10  # a mean loss above 10x chance level (ln of the class count), or NaN, stops the run


class TrainingDiverged(RuntimeError):
    """The loss became NaN or exploded: the learning rate is too high for this model."""


@dataclass
class TrainConfig:
    """Everything that defines a run; saved with its checkpoint so the run can be repeated."""

    dataset: str = "cifar10"
    model: str = "cifar_cnn"           # zoo name, or "custom" with `layers`
    layers: list[dict[str, Any]] | None = None
    pretrained: bool = False           # resnet18 only: start from ImageNet weights
    optimizer: str = "sgd"             # sgd (Nesterov momentum) | adam | adamw
    lr: float = 0.05                   # peak learning rate
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128              # images per step
    epochs: int = 15
    schedule: str = "onecycle"         # none | step | plateau | onecycle
    patience: int = 0                  # early stopping: epochs without a better val loss (0 = off)
    augment: tuple[str, ...] = ("flip", "crop")
    normalize: str = "dataset"         # "dataset": mean/std of the training split; "half": 0.5/0.5
    val_fraction: float = 0.1          # share of the training split held out for validation
    label_smoothing: float = 0.1
    seed: int = 0
    train_limit: int = 0               # use only this many training images (0 = all)
    test_limit: int = 0                # evaluate on only this many test images (0 = all)
    upsample: str = "transposed"       # unet only: transposed | nearest (nearest-neighbour copies + a 3x3 conv)
    activation: str = "relu"           # unet only: relu | elu
    skips: bool = True                 # unet only: each decoder level also reads its encoder level
    init: str = "default"              # default | zeros: every weight and bias starts at 0 (nothing breaks symmetry)

    def __post_init__(self) -> None:
        self.augment = tuple(self.augment)
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (set(self.augment) <= set(AUGMENTATIONS), f"augmentations are {AUGMENTATIONS}"),
            (self.normalize in ("dataset", "half"), "normalize is 'dataset' or 'half'"),
            (self.lr > 0 and self.batch_size > 0 and self.epochs > 0, "lr, batch size and epochs must be positive"),
            (0 <= self.val_fraction < 1, "the validation fraction must be in [0, 1)"),
            (self.upsample in segment.UPSAMPLE, f"upsample must be one of {segment.UPSAMPLE}"),
            (self.activation in segment.ACTIVATIONS, f"activation must be one of {segment.ACTIVATIONS}"),
            (self.dataset != segment.DATASET or set(self.augment) <= set(segment.AUGMENTATIONS),
             "the digit canvases take only colour augmentation: flip, crop and rotate would move each pixel away "
             "from its label"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def defaults(dataset: str, model: str) -> TrainConfig:
    """Sensible starting settings per data set (the recipes that trained the shipped checkpoints).

    The live-demo networks get recipes tuned for time to a good accuracy, after airbench: batch 256, one-cycle
    SGD to a high peak, label smoothing, two epochs (CIFAR-10) or one (MNIST).
    """
    if model in LIVE_DEMO:
        return TrainConfig(dataset, model, lr=0.2, batch_size=256, epochs=LIVE_DEMO[model],
                           augment=("flip", "crop") if dataset == "cifar10" else (),
                           label_smoothing=0.2 if dataset == "cifar10" else 0.1)
    if dataset == "mnist":
        return TrainConfig(dataset, model, optimizer="adam", lr=0.003, batch_size=128, epochs=10,
                           augment=(), label_smoothing=0.0, weight_decay=0.0)
    if dataset == segment.DATASET:  # a live demo on 2 CPU cores: about a minute an epoch
        return TrainConfig(dataset, model, optimizer="adam", lr=0.003, batch_size=32, epochs=3, augment=(),
                           label_smoothing=0.0, weight_decay=0.0, train_limit=2000)
    return TrainConfig(dataset, model)


def make_splits(config: TrainConfig, train: ImageSet, test: ImageSet) -> Splits:
    """The splits `config` asks for (its seed, validation share, limits and normalisation)."""
    return hold_out(train, test, config.val_fraction, config.seed, config.train_limit, config.test_limit,
                 config.normalize)


@dataclass
class Progress:
    """What the callback hears after each batch."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    images_per_s: float
    eta_s: float


class Watcher(Protocol):
    """Something that looks at the model while it trains (`cnnviz.training.live.Recorder`); it changes nothing."""

    def after_step(self, model: nn.Module, seen: int, epoch: float) -> None:
        """After each optimizer step: `seen` images trained in the run so far, `epoch` where (1.5: mid epoch 2)."""

    def end_epoch(self, model: nn.Module, seen: int, epoch: int) -> None:
        """After the last step of epoch `epoch`."""


@dataclass
class Result:
    """A finished (or stopped) run: the model with its best weights, the history and final metrics."""

    model: nn.Module
    history: list[dict[str, float]]
    metrics: dict[str, float]
    status: str                        # finished | stopped | early-stopped
    best_epoch: int
    seconds: float
    confusion: list[list[int]] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)


def _normalizer(mean: list[float], std: list[float], device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    return lambda x: (x - m) / s


def evaluate(model: nn.Module, data: ImageSet, mean: list[float], std: list[float],
             device: torch.device | None = None) -> tuple[float, float, torch.Tensor]:
    """(mean cross-entropy, accuracy, predicted labels) of `model` on `data`; changes nothing."""
    logits = features.logits(model, data.images, mean, std, device=device)
    loss = F.cross_entropy(logits, data.labels).item()
    preds = logits.argmax(1)
    return loss, (preds == data.labels).float().mean().item(), preds


def measure(model: nn.Module, part: ImageSet, mean: list[float], std: list[float],
            device: torch.device | None = None) -> tuple[dict[str, float], torch.Tensor]:
    """A split's metrics ({loss, acc}; with pixel labels also mean_iou, foreground_f1) and its confusion matrix."""
    if segment.per_pixel(part):
        return segment.measure(model, part, mean, std, device)
    loss, acc, preds = evaluate(model, part, mean, std, device)
    n = len(part.classes)
    labels = part.labels.cpu()
    confusion = torch.zeros(n, n, dtype=torch.long)
    confusion.index_put_((labels, preds.cpu()), torch.ones_like(labels), accumulate=True)
    return {"loss": loss, "acc": acc}, confusion


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
                               weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def _scheduler(config: TrainConfig, opt: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    """The learning-rate schedule; one-cycle steps per batch, the others per epoch."""
    if config.schedule == "onecycle":  # fewer than 5 steps leave its warm-up no step: it runs as if 5 were planned
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr,
                                                   total_steps=max(ONECYCLE_MIN_STEPS, config.epochs * steps_per_epoch),
                                                   pct_start=0.25, anneal_strategy="linear", div_factor=10,
                                                   final_div_factor=100)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, config.epochs // 3), gamma=0.1)
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=1)
    return None


def train_one_epoch(model: nn.Module, data: Splits, config: TrainConfig, opt: torch.optim.Optimizer,
                    sched: Any, gen: torch.Generator, epoch: int,
                    on_batch: Callable[[Progress], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    watch: Watcher | None = None) -> tuple[float, float, bool]:
    """One pass over the shuffled training split; returns (mean loss, accuracy, stopped early).

    With pixel labels (B, H, W) the loss is the per-pixel cross-entropy and the accuracy counts pixels.
    `watch` sees the model after every step and at the epoch's end.
    """
    device = next(model.parameters()).device
    norm = _normalizer(data.mean, data.std, device)
    use_amp = native_bf16(device)
    images, labels = data.train.images, data.train.labels
    order = torch.randperm(len(labels), generator=gen)
    batches = math.ceil(len(order) / config.batch_size)
    model.train()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, labelled, start = 0, 0, time.perf_counter()  # images, and labels (pixels, when each pixel has one)
    for b in range(batches):
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        x = norm(augment(images[idx.to(images.device)], config.augment, gen))  # (B, C, H, W) float
        y = labels[idx.to(labels.device)]  # (B,) or (B, H, W)
        if use_amp:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if config.schedule == "onecycle":
            sched.step()
        total_loss += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen, labelled = seen + len(y), labelled + y.numel()
        if watch:
            watch.after_step(model, (epoch - 1) * len(order) + seen, epoch - 1 + (b + 1) / batches)
        if b % 20 == 0 or b == batches - 1:
            mean_loss = (total_loss / seen).item()
            if not math.isfinite(mean_loss) or mean_loss > DIVERGED_FACTOR * math.log(logits.shape[1]):
                raise TrainingDiverged(
                    f"The training loss became {mean_loss:.3g} in epoch {epoch}, batch {b + 1}: the learning rate "
                    f"{config.lr:g} is too high for {config.model} with {config.optimizer}. Try a rate 10x smaller.")
            if on_batch:
                rate = seen / (time.perf_counter() - start)
                left = (batches - b - 1) * config.batch_size + (config.epochs - epoch) * len(order)
                on_batch(Progress(epoch, config.epochs, b + 1, batches, mean_loss, rate, left / rate))
        if should_stop and should_stop():
            if watch:
                watch.end_epoch(model, (epoch - 1) * len(order) + seen, epoch)
            return (total_loss / seen).item(), correct.item() / labelled, True
    if watch:
        watch.end_epoch(model, epoch * len(order), epoch)
    return (total_loss / seen).item(), correct.item() / labelled, False


_GLOBAL_RNG = threading.Lock()  # guards torch's process-wide generator while one run borrows it


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block (building a network: its initial weights) on torch's global generator seeded with `seed`.

    The generator's state is put back afterwards, and one lock keeps two runs that start at once in two threads
    from drawing from each other's seed. Use it only for short blocks: training itself draws from its own
    `torch.Generator` (data order, augmentation, dropout), never from the global one, and nothing else in
    cnnviz draws from the global one outside such a block.
    """
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class _SeededDropout(nn.Module):
    """nn.Dropout or nn.Dropout2d drawing its mask from a run's own generator instead of torch's global one."""

    def __init__(self, p: float, channels: bool, gen: torch.Generator) -> None:
        super().__init__()
        self.p, self.channels, self.gen = p, channels, gen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        shape = (*x.shape[:2], *[1] * (x.dim() - 2)) if self.channels else x.shape  # Dropout2d: whole channels
        keep = torch.empty(shape).bernoulli_(1 - self.p, generator=self.gen).to(x.device, x.dtype)
        return x * keep / (1 - self.p) if self.p < 1 else x * 0


@contextmanager
def _dropout_from(model: nn.Module, gen: torch.Generator) -> Iterator[None]:
    """Swap the model's dropout layers for ones that draw from `gen` during the block (no weights change)."""
    swapped = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in (nn.Dropout, nn.Dropout2d):
                setattr(parent, name, _SeededDropout(child.p, isinstance(child, nn.Dropout2d), gen))
                swapped.append((parent, name, child))
    try:
        yield
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child.train(parent.training))


def fit(config: TrainConfig, model: nn.Module, data: Splits, run: Run | None = None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
        on_batch: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        device: torch.device | None = None, meta: dict[str, Any] | None = None,
        watch: Watcher | None = None) -> Result:
    """Train `model` on `data` as `config` says, keeping the best-validation weights.

    Args:
        run: when given, config, history and the best checkpoint are written there after every epoch.
        on_epoch: called with each epoch's record (losses, accuracies, lr, seconds).
        on_batch: called every few batches with a Progress (for progress bars and ETA).
        should_stop: polled after every batch; returning True ends the run, keeping what was learned.
        meta: extra checkpoint metadata (arch, classes, input shape) stored with every save.
        watch: looks at the model after every step and each epoch's end (live views, `cnnviz.training.live`).

    Raises:
        TrainingDiverged: the loss became NaN or exploded (the run folder records it).
        cnnviz.nets.limits.TooLarge: a described network (`config.layers`) whose batch is over the memory limit.
    """
    if config.layers:
        limits.check_training(config.layers, data.train.shape, config.batch_size)
    device = device or pick_device()
    gen = torch.Generator().manual_seed(config.seed)  # this run's own: data order, augmentation, dropout
    if config.init == "zeros":
        zero_weights(model)
    model = model.to(device)
    if native_bf16(device):
        model = model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        data = Splits(*(_to(s, device) for s in (data.train, data.val, data.test)), data.mean, data.std)
    opt = _optimizer(config, model)
    steps = math.ceil(len(data.train) / config.batch_size)
    sched = _scheduler(config, opt, steps)
    meta = {**(meta or {}), "mean": data.mean, "std": data.std, "config": asdict(config)}
    history: list[dict[str, float]] = []
    best = _Best(math.inf, 0, copy.deepcopy(model.state_dict()))
    status, start = "finished", time.perf_counter()
    if run:
        run.update(config=asdict(config), status="running", device=describe(device)["device"], meta=meta)
    for epoch in range(1, config.epochs + 1):
        record, stopped = _epoch(model, data, config, opt, sched, gen, epoch, run, on_batch, should_stop, device,
                                 watch)
        history.append(record)
        # without a validation split: the last epoch wins
        monitored = record["train_loss"] if data.val is None else record["val_loss"]
        _step_per_epoch(config, sched, monitored)
        if best.keep(monitored, epoch, model, always=data.val is None) and run:
            checkpoint.save(run.checkpoint, model, {**meta, "card": {"history": history, "best_epoch": epoch}})
        if run:
            run.write_history(history)
        if on_epoch:
            on_epoch(record)
        if stopped:
            status = "stopped"
            break
        if config.patience and best.since >= config.patience:
            status = "early-stopped"
            break
    model.load_state_dict(best.state)
    # Back to the layout a reloaded checkpoint has, so both give the same outputs bit for bit.
    model = model.to(memory_format=torch.contiguous_format)
    return _finish(config, model, data, run, history, best.epoch, status, time.perf_counter() - start, meta, device)


def zero_weights(model: nn.Module) -> None:
    """Set every learnable weight and bias to 0 (batch-norm scales too), to show why networks start at random."""
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()


@dataclass
class _Best:
    """The best-monitored epoch so far, its weights, and how many epochs have passed without beating it."""

    loss: float
    epoch: int
    state: dict[str, torch.Tensor]
    since: int = 0

    def keep(self, loss: float, epoch: int, model: nn.Module, always: bool = False) -> bool:
        """Remember `model` when `loss` is as good as the best (or `always`); True when it was kept."""
        if loss <= self.loss or always:
            self.loss, self.epoch, self.state, self.since = loss, epoch, copy.deepcopy(model.state_dict()), 0
            return True
        self.since += 1
        return False


def _step_per_epoch(config: TrainConfig, sched: Any, monitored: float) -> None:
    """Advance the schedules that move once an epoch (plateau watches the monitored loss)."""
    if sched is not None and config.schedule == "plateau":
        sched.step(monitored)
    elif sched is not None and config.schedule == "step":
        sched.step()


def _epoch(model: nn.Module, data: Splits, config: TrainConfig, opt: torch.optim.Optimizer, sched: Any,
           gen: torch.Generator, epoch: int, run: Run | None, on_batch: Callable[[Progress], None] | None,
           should_stop: Callable[[], bool] | None, device: torch.device,
           watch: Watcher | None = None) -> tuple[dict[str, float], bool]:
    """One epoch of training and its validation: (the history record, whether it was stopped)."""
    t0, lr = time.perf_counter(), opt.param_groups[0]["lr"]
    try:
        with _dropout_from(model, gen):
            train_loss, train_acc, stopped = train_one_epoch(model, data, config, opt, sched, gen, epoch,
                                                             on_batch, should_stop, watch)
    except TrainingDiverged as exc:
        if run:
            run.update(status="diverged", error=str(exc))
        raise
    except BaseException as exc:  # Ctrl-C, out of memory...: the folder must not keep saying "running"
        if run:
            run.update(status="interrupted", error=f"{type(exc).__name__}: {exc}")
        raise
    if data.val is not None:  # never the test set: choosing weights on it would leak
        val = measure(model, data.val, data.mean, data.std, device)[0]
    else:
        val = dict.fromkeys(segment.METRICS if segment.per_pixel(data.train) else ("loss", "acc"), math.nan)
    return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            **{f"val_{k}": v for k, v in val.items()}, "lr": lr, "seconds": time.perf_counter() - t0}, stopped


def _to(data: ImageSet | None, device: torch.device) -> ImageSet | None:
    if data is None:
        return None
    return ImageSet(data.name, data.split, data.images.to(device), data.labels.to(device), data.classes)


def _finish(config: TrainConfig, model: nn.Module, data: Splits, run: Run | None, history: list[dict[str, float]],
            best_epoch: int, status: str, seconds: float, meta: dict[str, Any], device: torch.device) -> Result:
    """Final train/val/test metrics, the test confusion matrix (of pixels, for segmentation), the run's last save."""
    metrics: dict[str, float] = {}
    for split, part in (("train", data.train), ("val", data.val), ("test", data.test)):
        if part is not None and len(part):
            found, confusion = measure(model, part, data.mean, data.std, device)
            metrics.update({f"{split}_{k}": v for k, v in found.items()})
    result = Result(model.cpu(), history, metrics, status, best_epoch, seconds, confusion.tolist(), data.mean, data.std)
    if run:
        card = {"history": history, "metrics": metrics, "best_epoch": best_epoch, "status": status,
                "seconds": seconds, "confusion": result.confusion, "classes": data.test.classes,
                "device": describe(device)["device"]}
        checkpoint.save(run.checkpoint, result.model, {**meta, "card": card})
        run.update(status=status, metrics=metrics, best_epoch=best_epoch, seconds=seconds)
    return result
