"""Everyday changes of test pictures: rotation, shift and occlusion checked by hand, and the accuracy they leave."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models
from cnnviz.datasets import data
from cnnviz.results import evaluation, robustness
from tests.conftest import needs_data


def pictures(n: int = 4, side: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(0))


def test_a_quarter_turn_is_torchs_rot90_and_size_zero_changes_nothing() -> None:
    x = pictures()
    kept = x.clone()
    torch.testing.assert_close(robustness.changed(x, "rotation", 90), torch.rot90(x, 1, (-2, -1)))  # anticlockwise
    torch.testing.assert_close(robustness.changed(x, "rotation", 180), torch.rot90(x, 2, (-2, -1)))
    for kind in robustness.CHANGES:
        assert torch.equal(robustness.changed(x, kind, 0), x)
    with pytest.raises(ValueError, match="rotation, shift, occlusion"):
        robustness.changed(x, "blur", 2)
    for kind, sizes in robustness.CHANGES.items():
        for size in sizes:
            robustness.changed(x, kind, size)
    assert torch.equal(x, kept)  # the input is never painted on
    for kind in ("shift", "occlusion"):  # a change bigger than the 8-pixel picture leaves it all black
        assert not robustness.changed(x, kind, 12).any()


def test_a_shift_moves_each_picture_by_exactly_its_size_and_fills_black() -> None:
    x = pictures() + 0.1  # no pixel is black before
    moved = robustness.changed(x, "shift", 3, seed=1)
    assert torch.equal(moved, robustness.changed(x, "shift", 3, seed=1))
    for before, after in zip(x, moved):
        matches = []
        for dy, dx in [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]:
            by_hand = torch.zeros_like(before)
            for r in range(8):
                for c in range(8):
                    if 0 <= r - 3 * dy < 8 and 0 <= c - 3 * dx < 8:
                        by_hand[:, r, c] = before[:, r - 3 * dy, c - 3 * dx]
            matches.append(torch.equal(after, by_hand))
        assert sum(matches) == 1


def test_occlusion_paints_one_black_square_of_its_size_inside_the_picture() -> None:
    covered = robustness.changed(torch.ones(5, 3, 10, 10), "occlusion", 4, seed=2)
    for picture in covered:
        black = (picture == 0).all(0)  # (H, W)
        assert int(black.sum()) == 16 and bool((picture[:, ~black] == 1).all())
        rows, cols = black.nonzero().T
        assert int(rows.max() - rows.min()) == 3 and int(cols.max() - cols.min()) == 3


def test_accuracy_of_a_model_that_reads_the_centre_pixel_is_counted_by_hand() -> None:
    class Centre(torch.nn.Module):
        """Class 1 when the centre pixel is bright, else class 0."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            bright = (x[:, 0, 4, 4] > 0).float()
            return torch.stack([1 - bright, bright], 1)

    images = torch.zeros(6, 1, 9, 9, dtype=torch.uint8)
    images[:3, :, 4, 4] = 255  # three bright centres, labelled 1
    labels = torch.tensor([1, 1, 1, 0, 0, 0])
    toy = data.ImageSet("toy", "test", images, labels, ["dark", "bright"])
    found = robustness.accuracy_under_change(Centre(), toy, (0.5,), (0.5,), "occlusion", sizes=(0, 9))
    np.testing.assert_allclose(found, [1.0, 0.5])  # a square as big as the picture darkens every centre
    moved = robustness.accuracy_under_change(Centre(), toy, (0.5,), (0.5,), "shift", sizes=(0, 1), batch_size=4)
    np.testing.assert_allclose(moved, [1.0, 0.5])  # any one-pixel move takes the bright pixel off the centre


@needs_data("cifar10")
def test_cifar_cnn_loses_accuracy_as_the_changes_grow_and_the_disk_keeps_the_answer(tmp_path, monkeypatch) -> None:
    path = models.ZOO["cifar_cnn"].checkpoint
    test, _ = evaluation.spread(data.load("cifar10", "test"), 100)
    model, meta = models.load_file(path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    clean = evaluation.predict(model, test, meta["mean"], meta["std"]).accuracy
    model.train()  # as a student might leave it: the measure runs in eval mode and hands the flags back
    for kind in robustness.CHANGES:
        found = robustness.accuracy_under_change(model, test, meta["mean"], meta["std"], kind)
        assert abs(found[0] - clean) < 1e-6 and found[-1] < found[0] - 0.2, (kind, found)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    calls = []

    def load(p):
        calls.append(p)
        return models.load_file(p)

    first = robustness.cached_accuracy_under_change(path, test, load, "rotation")
    assert np.array_equal(first, robustness.cached_accuracy_under_change(path, test, load, "rotation"))
    assert len(calls) == 1
    (file,) = (tmp_path / "robustness").glob("*-rotation.npy")
    file.write_bytes(b"not numpy")
    assert np.array_equal(first, robustness.cached_accuracy_under_change(path, test, load, "rotation"))
    assert len(calls) == 2  # a damaged file is computed again
