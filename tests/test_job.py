"""The background training job on tiny data: it finishes, stops, notices a closed tab, diverges, fails, and always
gives its server slot back; a full server refuses a new one. No Streamlit here."""
from __future__ import annotations

import threading

import pytest
from torch import nn

from cnnviz.training import job as jobs
from cnnviz.training import train
from cnnviz.training.runs import Run, list_runs
from tests.test_train import config, splits, tiny_net


def run_to_the_end(cfg: train.TrainConfig, model: nn.Module | None = None,
                   slots: threading.BoundedSemaphore | None = None, **kwargs) -> jobs.Job:
    """Start a job on the quadrants and wait for its thread."""
    job = jobs.start(cfg, model or tiny_net(), splits(cfg), slots or threading.BoundedSemaphore(1), **kwargs)
    assert job is not None
    job.thread.join(timeout=120)
    assert not job.thread.is_alive() and job.done
    return job


def free(slots: threading.BoundedSemaphore) -> bool:
    """Whether a slot can be taken now (and give it back)."""
    if slots.acquire(blocking=False):
        slots.release()
        return True
    return False


def test_a_job_trains_to_the_end_in_a_daemon_thread_and_gives_its_slot_back() -> None:
    slots = threading.BoundedSemaphore(1)
    job = run_to_the_end(config(epochs=2), slots=slots, title="tiny", meta={"arch": "tiny"}, owner="me")
    assert job.thread.daemon and job.thread.name == f"train-{job.run.name}"
    assert job.status == "finished" and not job.error and job.title == "tiny"
    assert [h["epoch"] for h in job.history] == [1, 2] and job.best_epoch in (1, 2)
    assert set(job.metrics) == {f"{p}_{m}" for p in ("train", "val", "test") for m in ("loss", "acc")}
    assert job.progress is not None and job.fraction == 1.0 and job.running_loss and job.seconds > 0
    info = job.run.info()
    assert info["status"] == "finished" and info["owner"] == "me" and info["meta"]["arch"] == "tiny"
    assert job.run.checkpoint.is_file() and free(slots)
    assert job.outcome()[0] == "Finished 2 epochs"


def test_stop_ends_the_run_after_a_batch_and_keeps_its_checkpoint() -> None:
    cfg = config(epochs=50)
    job = jobs.start(cfg, tiny_net(), splits(cfg), threading.BoundedSemaphore(1))
    job.stop()
    assert job.stopping
    job.thread.join(timeout=120)
    assert job.status == "stopped" and 1 <= len(job.history) < 50
    assert job.run.info()["status"] == "stopped" and job.run.checkpoint.is_file()
    assert "note" not in job.run.info()
    assert job.outcome()[0] == f"Stopped during epoch {len(job.history)} (you pressed Stop)"


def test_a_closed_tab_stops_the_run_with_a_note() -> None:
    asked = []
    job = run_to_the_end(config(epochs=50), owner_gone=lambda: asked.append(1) or len(asked) >= 3, abandoned_s=7)
    assert job.status == "stopped" and job.stopping and len(asked) == 3  # polled after every batch until gone
    assert job.run.info()["note"] == "stopped: its browser tab was closed for over 7 s"
    assert job.run.checkpoint.is_file()


def test_a_diverging_learning_rate_ends_as_diverged_with_the_message() -> None:
    slots = threading.BoundedSemaphore(1)
    job = run_to_the_end(config(lr=1e4, epochs=5), slots=slots)
    assert job.status == "diverged" and "learning rate 10000 is too high" in job.error
    assert job.run.info()["status"] == "diverged" and free(slots)


def test_a_network_that_cannot_run_fails_with_its_error_and_gives_the_slot_back() -> None:
    slots = threading.BoundedSemaphore(1)
    wrong = nn.Sequential(nn.Flatten(), nn.Linear(5, 4))  # the quadrants have 64 pixels
    job = run_to_the_end(config(), model=wrong, slots=slots)
    assert job.status == "failed" and job.error.startswith("RuntimeError: ")
    assert job.run.info()["status"] == "interrupted" and free(slots)


def test_a_full_server_refuses_a_new_job() -> None:
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    cfg = config()
    assert jobs.start(cfg, tiny_net(), splits(cfg), slots) is None
    assert list_runs() == []  # no run folder for a run that never started
    slots.release()
    assert free(slots)


def test_a_job_that_cannot_start_gives_its_slot_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_room(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Run, "create", no_room)
    slots = threading.BoundedSemaphore(1)
    cfg = config()
    with pytest.raises(OSError, match="disk full"):
        jobs.start(cfg, tiny_net(), splits(cfg), slots)
    assert free(slots)


def test_curves_are_long_rows_with_the_running_loss_of_the_epoch_in_progress_only(tmp_path) -> None:
    job = jobs.Job(config(), Run.create("rows", root=tmp_path))
    job.history = [{"epoch": 1, "train_loss": 0.9, "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.4}]
    job.running_loss = [(0.5, 1.2), (1.0, 0.9), (1.5, 0.7)]
    assert job.curves() == [
        {"metric": "loss", "curve": "train", "epoch": 1, "value": 0.9},
        {"metric": "loss", "curve": "validation", "epoch": 1, "value": 1.0},
        {"metric": "accuracy", "curve": "train", "epoch": 1, "value": 0.5},
        {"metric": "accuracy", "curve": "validation", "epoch": 1, "value": 0.4},
        {"metric": "loss", "curve": "train, this epoch", "epoch": 1.5, "value": 0.7},
    ]
    job.status = "finished"
    assert len(job.curves()) == 4  # a finished run has no epoch in progress


def test_fraction_counts_batches_over_the_whole_run(tmp_path) -> None:
    job = jobs.Job(config(), Run.create("fraction", root=tmp_path))
    assert job.fraction == 0.0
    job.on_batch(train.Progress(epoch=2, epochs=4, batch=5, batches=10, loss=0.5, images_per_s=100, eta_s=3))
    assert job.fraction == pytest.approx(1.5 / 4) and job.running_loss == [(1.5, 0.5)]


def test_outcome_words_for_each_ending(tmp_path) -> None:
    job = jobs.Job(config(patience=1), Run.create("words", root=tmp_path), best_epoch=2)
    job.history = [{"epoch": e} for e in (1, 2, 3)]
    job.status = "early-stopped"
    how, kept = job.outcome()
    assert how == "Stopped early after 3 epochs: the validation loss had not improved for 1 epoch"
    assert "epoch **2**" in kept
    job.history, job.status = [{"epoch": 1}], "finished"
    assert job.outcome() == ("Finished 1 epoch", "It is saved as it was at the end.")


@pytest.mark.parametrize("env, expected", [
    ({}, jobs.Hosting(200, 0, 0, 2, 60)),
    ({"CNNVIZ_MAX_EPOCHS": "3", "CNNVIZ_MAX_TRAIN_IMAGES": "1000", "CNNVIZ_MAX_TEST_IMAGES": "500",
      "CNNVIZ_MAX_CONCURRENT_RUNS": "1", "CNNVIZ_ABANDONED_RUN_S": "5"}, jobs.Hosting(3, 1000, 500, 1, 5)),
    ({"CNNVIZ_MAX_EPOCHS": "0", "CNNVIZ_MAX_CONCURRENT_RUNS": "0"}, jobs.Hosting(200, 0, 0, 1, 60)),  # 0: no cap
    ({"CNNVIZ_MAX_EPOCHS": "many", "CNNVIZ_MAX_TRAIN_IMAGES": "-5"}, jobs.Hosting(200, 0, 0, 2, 60)),
])
def test_hosting_limits_come_from_the_environment(env: dict[str, str], expected: jobs.Hosting,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CNNVIZ_MAX_EPOCHS", "CNNVIZ_MAX_TRAIN_IMAGES", "CNNVIZ_MAX_TEST_IMAGES",
                 "CNNVIZ_MAX_CONCURRENT_RUNS", "CNNVIZ_ABANDONED_RUN_S"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert jobs.Hosting.from_env() == expected


def test_a_capped_copy_never_trains_on_more_images_than_its_cap() -> None:
    assert [jobs.Hosting(max_train=1000).train_images(n) for n in (0, 300, 5000)] == [1000, 300, 1000]
    assert [jobs.Hosting().train_images(n) for n in (0, 300)] == [0, 300]  # uncapped: 0 stays "all"


@pytest.mark.parametrize("seconds, words", [(0, "0 s"), (42.4, "42 s"), (185, "3 min 05 s"), (3720, "1 h 02 min")])
def test_duration_in_words(seconds: float, words: str) -> None:
    assert jobs.duration(seconds) == words
