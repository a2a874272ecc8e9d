"""The bookkeeping behind a stepped lesson's controls: which step, what Play does next, and the quiz's keys.

A lesson has steps 0..n-1; the buttons, the slider and Play move between them (app/stepper.py draws them).
No Streamlit: the page keeps the state, these functions say what it becomes.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Hashable
from typing import Any

import numpy as np


def clamp(step: int, n: int) -> int:
    """The step kept within 0..n-1 (a link's step past the end shows the last one)."""
    return int(min(max(int(step), 0), n - 1))


def moved(step: int, n: int, delta: int | None) -> int:
    """The step after pressing a button: `delta` steps on (within 0..n-1), or back to the first when None."""
    return 0 if delta is None else clamp(step + delta, n)


def play_from(step: int, n: int) -> int:
    """Where Play starts: here, or at the first step when the last one is showing (play again)."""
    return 0 if step >= n - 1 else step


def tick(step: int, n: int) -> tuple[int, bool]:
    """One beat of Play: (the next step, whether Play goes on); it stops on the last step."""
    return (step, False) if step >= n - 1 else (step + 1, True)


def question(lesson: Any) -> tuple[Hashable, ...]:
    """A hashable key of a lesson's settings and numbers (a dataclass such as `stepping.Conv`), for the quiz.

    Two lessons get the same key exactly when they ask the same questions: an answer locked in for one step
    counts only while the grids and every setting are the same.
    """
    parts: list[Hashable] = [type(lesson).__name__]
    for field in dataclasses.fields(lesson):
        value = getattr(lesson, field.name)
        if isinstance(value, np.ndarray):
            parts += [value.tobytes(), value.shape, str(value.dtype)]
        else:
            parts.append(value)
    return tuple(parts)


def digest(truth: np.ndarray) -> str:
    """A short fingerprint of an answer grid (values and shape): a new grid gets a fresh answer box."""
    grid = np.asarray(truth, dtype=np.float64)
    return hashlib.md5(grid.tobytes() + str(grid.shape).encode()).hexdigest()[:10]
