"""Watch a network learn: snapshots of what it holds, taken in the training thread every few hundred images.

    recorder = Recorder(model, strip(splits.test, splits.mean, splits.std))
    train.fit(config, model, splits, watch=recorder)      # snapshots every 512 images and at each epoch's end
    recorder.latest().filters, recorder.history()          # read from any thread

A snapshot holds the first conv layer's weights and its maps of a fixed strip of test images, the strip's
predictions, and per conv/linear layer histograms of the weights and of the last batch's gradients (over edges
fixed when the recorder is made, so histograms over time line up), the gradient's L2 norm and, per ReLU, the
share of dead units. Logging is kept cheap: no gradients, small tensors, and a time budget (`BUDGET`).
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.datasets.data import ImageSet
from cnnviz.inside import features

EVERY = 512            # images trained between two snapshots (at first; doubled each time the history is thinned)
KEEP = 200             # snapshots kept; beyond that every other one is dropped, so the whole run stays in view
BUDGET = 0.01          # the most of the training time that snapshots may take (1%); a snapshot waits while over
STRIP = 10             # fixed test images whose predictions are followed
WEIGHT_BINS = 40
WEIGHT_SPAN = 2.0      # weight edges span ±2x the layer's largest initial |w|; values beyond land in the end bins
GRAD_EDGES = torch.linspace(-8.0, 0.0, 33).numpy()  # log10 |gradient|: quarter decades, 1e-8 to 1; beyond: end bins
LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


@dataclass(frozen=True)
class Strip:
    """Fixed test images shown to the network at every snapshot (uint8, on the CPU) and how to normalise them."""

    images: torch.Tensor         # (N, C, H, W) uint8
    labels: torch.Tensor | None  # (N,) class indices; None when every pixel has its own label (segmentation)
    classes: list[str]
    mean: list[float]
    std: list[float]


def strip(test: ImageSet, mean: list[float], std: list[float], count: int = STRIP) -> Strip:
    """The first test image of each class (then the next ones) up to `count`; canvases: the first `count`."""
    labels = test.labels.cpu()
    if labels.dim() != 1:
        index = torch.arange(min(count, len(labels)))
        return Strip(test.images[index.to(test.images.device)].cpu(), None, test.classes, mean, std)
    firsts = [int((labels == k).nonzero()[0]) for k in range(len(test.classes)) if (labels == k).any()]
    taken = set(firsts)
    rest = [i for i in range(min(len(labels), 2 * count)) if i not in taken]
    index = torch.tensor((firsts + rest)[:count], dtype=torch.long)
    return Strip(test.images[index.to(test.images.device)].cpu(), labels[index], test.classes, mean, std)


@dataclass(frozen=True)
class LayerStats:
    """One conv/linear layer's weight at a snapshot: histograms over the recorder's fixed edges, gradient norm."""

    weights: np.ndarray  # (WEIGHT_BINS,) counts of the weights, over the layer's edges
    grads: np.ndarray    # (len(GRAD_EDGES) - 1,) counts of log10 |gradient| of the last batch; all 0 before any
    grad_norm: float     # L2 norm of the weight's gradient (NaN before any backward pass)


@dataclass(frozen=True)
class Snapshot:
    """What the network held after `seen` training images (`epoch`: 1.5 is halfway through the second epoch)."""

    seen: int
    epoch: float
    epoch_end: bool
    layers: dict[str, LayerStats]  # conv/linear layer name -> its statistics
    dead: dict[str, float]         # ReLU name -> share of its units dead on the strip (see `dead_share`)
    probs: np.ndarray | None       # (N, classes) softmax on the strip; None for per-pixel outputs
    filters: np.ndarray | None     # (O, I, kh, kw) a copy of the first conv's weights (latest snapshot only)
    maps: np.ndarray | None        # (N, O, H, W) the first conv's output on the strip (latest snapshot only)

    def predictions(self) -> list[tuple[int, float]]:
        """(predicted class, its probability) for each strip image; empty for per-pixel outputs."""
        if self.probs is None:
            return []
        return [(int(p.argmax()), float(p.max())) for p in self.probs]


def weight_edges(model: nn.Module) -> dict[str, np.ndarray]:
    """Fixed bin edges per conv/linear layer: WEIGHT_BINS bins over ±WEIGHT_SPAN x its largest initial |w|."""
    edges = {}
    for name, module in model.named_modules():
        if isinstance(module, LAYERS):
            peak = float(module.weight.detach().abs().max()) or 1.0
            edges[name] = edges_between(-WEIGHT_SPAN * peak, WEIGHT_SPAN * peak, WEIGHT_BINS)
    return edges


def histogram(values: torch.Tensor, edges: np.ndarray) -> np.ndarray:
    """Counts of `values` in the bins of `edges` (made by `edges_between`) as np.histogram counts them, values
    beyond the edges clipped into the end bins."""
    lo, hi = float(edges[0]), float(edges[-1])
    counts, _ = torch.histogram(values.detach().float().cpu().clamp(lo, hi), bins=len(edges) - 1, range=(lo, hi))
    return counts.long().numpy()


def edges_between(lo: float, hi: float, bins: int) -> np.ndarray:
    """Equal bins from lo to hi, exactly the float32 edges `torch.histogram` compares with (so counts match)."""
    return torch.linspace(lo, hi, bins + 1).numpy()


def log_magnitude(grad: torch.Tensor) -> torch.Tensor:
    """log10 |g| in float32, an exact 0 (no signal at all) counted as the smallest bin's value."""
    return grad.detach().float().abs().clamp_min(10 ** GRAD_EDGES[0]).log10()


def layer_stats(module: nn.Module, edges: np.ndarray) -> LayerStats:
    """A layer's weight histogram over `edges`, its gradient histogram over GRAD_EDGES and gradient norm."""
    w, g = module.weight.detach(), module.weight.grad
    weights = histogram(w.float(), edges)
    if g is None:
        return LayerStats(weights, np.zeros(len(GRAD_EDGES) - 1, np.int64), math.nan)
    return LayerStats(weights, histogram(log_magnitude(g), GRAD_EDGES), float(g.detach().float().norm()))


def dead_share(output: torch.Tensor) -> float:
    """The share of a ReLU's units that are dead on a batch: zero for every image of the batch.

    A unit is one channel of a (B, C, H, W) output (a conv filter, the same neuron at every position: dead when it
    is 0 at every position of every image) or one feature of a (B, F) output. A dead unit passes no gradient, so
    its weights stop learning.
    """
    per_unit = output.detach().transpose(0, 1).reshape(output.shape[1], -1)  # (units, B x positions)
    return float((per_unit == 0).all(dim=1).float().mean())


def first_conv(model: nn.Module) -> str | None:
    """The name of the model's first Conv2d (None: it has none)."""
    return next(iter(features.conv_layers(model)), None)


def relus(model: nn.Module) -> list[str]:
    """Names of the model's nn.ReLU modules (a ReLU reused in a block reports its last call)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.ReLU)]


def snapshot(model: nn.Module, strip_: Strip, edges: dict[str, np.ndarray], seen: int = 0, epoch: float = 0.0,
             epoch_end: bool = False) -> Snapshot:
    """What `model` holds now, and how it answers the strip; its weights, gradients and modes are left as they were.

    Taken under the model's lock, without gradients, with the strip's pass in eval mode (dropout off, batch norm
    on its running statistics, which it does not update).
    """
    modules = dict(model.named_modules())
    conv = first_conv(model)
    device = next(model.parameters()).device
    mean = torch.tensor(strip_.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(strip_.std, device=device).view(1, -1, 1, 1)
    x = (strip_.images.to(device).float() / 255 - mean) / std  # (N, C, H, W)
    hooked = relus(model) + ([conv] if conv else [])
    with features.model_lock(model), features.capture(model, hooked) as outputs, features.evaluating(model), \
            torch.no_grad():
        logits = model(x).float()
        layers = {name: layer_stats(modules[name], e) for name, e in edges.items()}
        filters = modules[conv].weight.detach().to("cpu", torch.float32, copy=True).numpy() if conv else None
    probs = torch.softmax(logits, 1).cpu().numpy() if logits.dim() == 2 else None
    return Snapshot(seen, epoch, epoch_end, layers, {n: dead_share(outputs[n]) for n in relus(model) if n in outputs},
                    probs, filters, outputs[conv].float().numpy() if conv in outputs else None)


class Recorder:
    """Takes snapshots while a run trains and keeps them for readers in other threads (the page)."""

    def __init__(self, model: nn.Module, strip_: Strip, every: int = EVERY, keep: int = KEEP,
                 budget: float = BUDGET) -> None:
        self.strip, self.edges = strip_, weight_edges(model)
        self.every, self.keep, self.budget = every, keep, budget
        self._next, self._spent, self._start = 0, 0.0, time.perf_counter()
        self._history: list[Snapshot] = []
        self._latest: Snapshot | None = None
        self._lock = threading.Lock()

    def after_step(self, model: nn.Module, seen: int, epoch: float) -> None:
        """Called by the loop after each optimizer step: a snapshot when `every` images have passed (and the time
        budget allows one)."""
        if seen >= self._next and self._spent <= self.budget * (time.perf_counter() - self._start):
            self.take(model, seen, epoch)

    def end_epoch(self, model: nn.Module, seen: int, epoch: int) -> None:
        """Called by the loop after each epoch's last step: always a snapshot (the per-epoch summary)."""
        self.take(model, seen, float(epoch), epoch_end=True)

    def take(self, model: nn.Module, seen: int, epoch: float, epoch_end: bool = False) -> Snapshot:
        """Take a snapshot now and keep it (the history without its pictures: only the latest keeps those)."""
        t0 = time.perf_counter()
        shot = snapshot(model, self.strip, self.edges, seen, epoch, epoch_end)
        with self._lock:
            self._latest = shot
            if self._history and self._history[-1].seen == seen:  # an epoch's end right after its last step's
                self._history.pop()
            self._history.append(dataclasses.replace(shot, filters=None, maps=None))
            if len(self._history) > self.keep:
                self._thin()
        self._next = seen + self.every
        self._spent += time.perf_counter() - t0
        return shot

    def _thin(self) -> None:
        """Drop every other snapshot (the first, the last and epoch ends stay) and double `every`: the whole run
        stays in view in at most `keep` snapshots."""
        last = len(self._history) - 1
        kept = [s for i, s in enumerate(self._history) if i % 2 == 0 or i == last or s.epoch_end]
        self._history = kept[-self.keep:]
        self.every *= 2

    def latest(self) -> Snapshot | None:
        """The last snapshot, with the first layer's filters and maps."""
        with self._lock:
            return self._latest

    def history(self) -> list[Snapshot]:
        """The kept snapshots in training order (without filters and maps)."""
        with self._lock:
            return list(self._history)

    @property
    def overhead_s(self) -> float:
        """Seconds spent taking snapshots so far."""
        return self._spent


def heat_rows(history: list[Snapshot], layer: str, edges: np.ndarray, which: str = "weights") -> list[dict]:
    """Long rows (start, end, low, high, count) of one layer's histograms over time, for a heat-map: a snapshot
    spans from its epoch position to the next one's; empty bins are left out (drawn as background)."""
    if which not in ("weights", "grads"):
        raise ValueError(f"which is 'weights' or 'grads', not {which!r}")
    rows = []
    for k, shot in enumerate(history):
        nxt = history[k + 1].epoch if k + 1 < len(history) else shot.epoch + (
            shot.epoch - history[k - 1].epoch if k else 0.05)
        counts = getattr(shot.layers[layer], which)
        rows += [{"start": shot.epoch, "end": nxt, "low": float(edges[i]), "high": float(edges[i + 1]),
                  "count": int(c)} for i, c in enumerate(counts) if c]
    return rows


def trend_rows(history: list[Snapshot]) -> tuple[list[dict], list[dict]]:
    """Long rows (layer, epoch, value) of each layer's gradient norm, and of each ReLU's dead share, over time."""
    norms = [{"layer": name, "epoch": s.epoch, "value": stats.grad_norm} for s in history
             for name, stats in s.layers.items() if math.isfinite(stats.grad_norm)]
    dead = [{"layer": name, "epoch": s.epoch, "value": share} for s in history for name, share in s.dead.items()]
    return norms, dead


def strip_right(history: list[Snapshot], labels: torch.Tensor) -> list[dict]:
    """Rows (epoch, right): how many strip images each snapshot classified correctly (classifiers only)."""
    truth = labels.numpy()
    return [{"epoch": s.epoch, "right": int((s.probs.argmax(1) == truth).sum())} for s in history
            if s.probs is not None]
