"""A training run in a background thread: started in a server slot, watched, stopped; the page only reads it.

    slots = threading.BoundedSemaphore(2)                 # runs at once in this server, all sessions together
    job = start(config, model, splits, slots, title="mnist_cnn", owner_gone=lambda: tab_closed)
    job.status, job.progress, job.history    # "running", then finished | stopped | early-stopped | diverged | failed
    job.stop()                               # ends the run after the current batch, keeping its best checkpoint

The hosting limits a copy of cnnviz sets in its environment (`Hosting.from_env`) bound every run.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from cnnviz.training import train
from cnnviz.training.live import Recorder, strip
from cnnviz.training.runs import Run

CURVES = ("train", "validation", "train, this epoch")  # the curves of `Job.curves`: per epoch, and the running mean


def env_int(name: str, default: int) -> int:
    """A non-negative whole number from the environment (hosting limits), else `default`."""
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass(frozen=True)
class Hosting:
    """What a copy of cnnviz allows a run (a hosted copy sets small caps in its environment)."""

    max_epochs: int = 200      # epochs per run
    max_train: int = 0         # training images per run; 0: every one may be used
    max_test: int = 0          # test images evaluated at the end; 0: the whole test set
    max_runs: int = 2          # runs at once in this server, all sessions together
    abandoned_s: int = 60      # s after its browser tab closes that a run stops

    @classmethod
    def from_env(cls) -> Hosting:
        """The caps that CNNVIZ_MAX_EPOCHS, CNNVIZ_MAX_TRAIN_IMAGES, CNNVIZ_MAX_TEST_IMAGES,
        CNNVIZ_MAX_CONCURRENT_RUNS and CNNVIZ_ABANDONED_RUN_S set (unset or not a whole number: the default;
        0 epochs: the default, 0 runs: one)."""
        return cls(max_epochs=env_int("CNNVIZ_MAX_EPOCHS", 200) or 200,
                   max_train=env_int("CNNVIZ_MAX_TRAIN_IMAGES", 0),
                   max_test=env_int("CNNVIZ_MAX_TEST_IMAGES", 0),
                   max_runs=env_int("CNNVIZ_MAX_CONCURRENT_RUNS", 2) or 1,
                   abandoned_s=env_int("CNNVIZ_ABANDONED_RUN_S", 60))

    def train_images(self, asked: int) -> int:
        """The training images a run that asked for `asked` (0 = all) gets: never more than the cap."""
        return min(asked or self.max_train, self.max_train) if self.max_train else asked


@dataclass
class Job:
    """One training run in a background thread; read it from any thread, change it only through `stop`."""

    config: train.TrainConfig
    run: Run
    title: str = ""
    owner_gone: Callable[[], bool] = lambda: False  # the browser session that started it has been closed too long
    abandoned_s: int = 60                           # how long that is, for the run's note
    status: str = "running"       # running | finished | stopped | early-stopped | diverged | failed
    progress: train.Progress | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    running_loss: list[tuple[float, float]] = field(default_factory=list)  # (epoch position, mean loss so far)
    metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    thread: threading.Thread | None = None
    live: Recorder | None = None  # snapshots of what the network holds, taken as it trains (the live views)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self.status != "running"

    @property
    def stopping(self) -> bool:
        """Stop was asked for (the run ends after its current batch and measures its final accuracies)."""
        return self._stop.is_set()

    def stop(self) -> None:
        """End the run after the current batch, keeping the best weights so far."""
        self._stop.set()

    @property
    def fraction(self) -> float:
        """How much of the run is done, 0 to 1 (by batches)."""
        p = self.progress
        return 0.0 if p is None else min(1.0, (p.epoch - 1 + p.batch / p.batches) / p.epochs)

    def should_stop(self) -> bool:
        """Stop was pressed, or nobody is left to watch (the run's tab has been closed for a while)."""
        if not self._stop.is_set() and self.owner_gone():
            self.run.update(note=f"stopped: its browser tab was closed for over {self.abandoned_s} s")
            self._stop.set()
        return self._stop.is_set()

    def on_batch(self, p: train.Progress) -> None:
        self.progress = p
        self.running_loss.append((p.epoch - 1 + p.batch / p.batches, p.loss))

    def work(self, model: nn.Module, splits: train.Splits, meta: dict[str, Any],
             slots: threading.BoundedSemaphore) -> None:
        """The thread's body: train, then record how it ended; always give the slot back."""
        try:
            result = train.fit(self.config, model, splits, self.run, on_epoch=self.history.append,
                               on_batch=self.on_batch, should_stop=self.should_stop, meta=meta, watch=self.live)
            self.metrics, self.best_epoch, self.status = result.metrics, result.best_epoch, result.status
        except train.TrainingDiverged as exc:
            self.error, self.status = str(exc), "diverged"
        except Exception as exc:  # noqa: BLE001 (shown on the page, not as a traceback; the run says "interrupted")
            self.error, self.status = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            self.seconds = time.monotonic() - self.started
            slots.release()

    def curves(self) -> list[dict[str, Any]]:
        """Long rows (metric, curve, epoch, value) of the per-epoch history and, while it runs, this epoch's mean."""
        rows = []
        for h in list(self.history):
            for metric, key in (("loss", "loss"), ("accuracy", "acc")):
                rows.append({"metric": metric, "curve": CURVES[0], "epoch": h["epoch"], "value": h[f"train_{key}"]})
                rows.append({"metric": metric, "curve": CURVES[1], "epoch": h["epoch"], "value": h[f"val_{key}"]})
        if not self.done:
            done_epochs = len(self.history)
            rows += [{"metric": "loss", "curve": CURVES[2], "epoch": x, "value": loss}
                     for x, loss in list(self.running_loss) if x > done_epochs]  # only the epoch in progress
        return rows

    def outcome(self) -> tuple[str, str]:
        """(how a run that did not fail ended, which weights it saved), in words."""
        done = len(self.history)
        how = {"finished": f"Finished {plural(done, 'epoch')}",
               "stopped": f"Stopped during epoch {done} (you pressed Stop)",
               "early-stopped": f"Stopped early after {plural(done, 'epoch')}: the validation loss had not "
                                f"improved for {plural(self.config.patience, 'epoch')}"}[self.status]
        kept = ("It is saved as it was at the end." if done == 1 else
                f"The saved network is the one from epoch **{self.best_epoch}**, the epoch with the lowest "
                "validation loss.")
        return how, kept


def start(config: train.TrainConfig, model: nn.Module, splits: train.Splits, slots: threading.BoundedSemaphore,
          title: str = "", meta: dict[str, Any] | None = None, owner: str = "",
          owner_gone: Callable[[], bool] = lambda: False, abandoned_s: int = 60) -> Job | None:
    """Start training `model` in a daemon thread if `slots` has a free slot, else None.

    Args:
        slots: the server's training slots; the job holds one until it ends, however it ends.
        meta: checkpoint metadata that rebuilds the model (see `train.fit`).
        owner: the browser session that starts it, recorded in the run (other sessions do not list the run).
        owner_gone: polled after every batch; True stops the run with a note that its tab was closed
            for over `abandoned_s` seconds.
    """
    if not slots.acquire(blocking=False):
        return None
    try:
        job = Job(config, Run.create(f"{config.model}-{config.dataset}-seed{config.seed}"), title,
                  owner_gone=owner_gone, abandoned_s=abandoned_s,
                  live=Recorder(model, strip(splits.test, splits.mean, splits.std)))
        if owner:
            job.run.update(owner=owner)
        job.thread = threading.Thread(target=job.work, args=(model, splits, meta or {}, slots), daemon=True,
                                      name=f"train-{job.run.name}")
        job.thread.start()
    except BaseException:
        slots.release()
        raise
    return job


def duration(seconds: float) -> str:
    """`seconds` in words a student reads at a glance: 42 s, 3 min 05 s, 1 h 02 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
