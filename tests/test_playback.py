"""The stepped lessons' bookkeeping (cnnviz.lessons.playback): steps, Play, and the keys of quiz answers."""
from __future__ import annotations

import numpy as np
import pytest

from cnnviz.lessons import playback
from cnnviz.lessons.stepping import Conv, Pool


@pytest.mark.parametrize("step, n, expected", [(0, 4, 0), (3, 4, 3), (9, 4, 3), (-2, 4, 0), (5, 1, 0)])
def test_clamp_keeps_a_step_within_the_lesson(step, n, expected):
    assert playback.clamp(step, n) == expected


@pytest.mark.parametrize("step, delta, expected", [(1, +1, 2), (3, +1, 3), (0, -1, 0), (2, -1, 1), (3, None, 0)])
def test_the_buttons_move_one_step_or_back_to_the_first(step, delta, expected):
    assert playback.moved(step, 4, delta) == expected


def test_play_runs_from_here_to_the_last_step_and_stops_there():
    assert playback.play_from(1, 4) == 1 and playback.play_from(3, 4) == 0  # at the end: play again
    seen, step, going_on = [1], 1, True
    while going_on:
        step, going_on = playback.tick(step, 4)
        seen.append(step)
    assert seen == [1, 2, 3, 3]  # the last beat stays on the last step and stops


def test_a_question_key_changes_with_any_number_or_setting():
    x, w = np.arange(9).reshape(3, 3), np.ones((2, 2), int)
    key = playback.question(Conv.make(x, w))
    assert key == playback.question(Conv.make(x.copy(), w.copy())) and hash(key) is not None
    edited = x.copy()
    edited[2, 2] = 0
    others = [Conv.make(edited, w), Conv.make(x, w, bias=1), Conv.make(x, w, padding=1), Conv.make(x, w, stride=2),
              Conv.make(x, w, dilation=2), Conv.make(x, w, flip=True), Conv.make(x.astype(float), w)]
    assert len({key, *(playback.question(c) for c in others)}) == len(others) + 1
    pools = [Pool.make(x, "avg", 2, 1, 1, True), Pool.make(x, "avg", 2, 1, 1, False), Pool.make(x, "max", 2, 1, 1)]
    assert len({playback.question(p) for p in pools}) == 3


def test_an_answer_grids_digest_follows_its_values_and_shape():
    a = np.arange(6).reshape(2, 3)
    assert playback.digest(a) == playback.digest(a.astype(float)) and len(playback.digest(a)) == 10
    assert playback.digest(a) != playback.digest(a.reshape(3, 2)) != playback.digest(a + 1)
