"""The data set explorer's figures on a small fake image set with known statistics, and on real data."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from tests.conftest import needs_data

CLASSES = ["a", "b", "c"]
SIZES = [10, 20, 30]


def fake(split: str = "train", sizes: list[int] = SIZES, seed: int = 0) -> ImageSet:
    """Images whose channels have known statistics, in a shuffled class order.

    Channel 0: half the pixels 0, half 255 (mean 0.5, std 0.5); channel 1: all 51 (mean 0.2, std 0);
    channel 2: three quarters 255, one quarter 0 (mean 0.75, std sqrt(0.75 * 0.25)).
    """
    labels = torch.cat([torch.full((n,), k) for k, n in enumerate(sizes)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]
    images = torch.zeros(len(labels), 3, 4, 4, dtype=torch.uint8)
    images[:, 0, :2] = 255
    images[:, 1] = 51
    images[:, 2, 1:] = 255
    return ImageSet("fake", split, images, labels, CLASSES)


def test_splits_are_the_training_hold_out() -> None:
    train = fake()
    s = explore.splits(train, fake("test", [3, 4, 5]), val_fraction=0.1, seed=0)
    counts = explore.class_counts(s)
    by_split = counts.groupby("split")["count"].sum().to_dict()
    assert by_split == {"train": 54, "validation": 6, "test": 12}
    # the hold-out cnnviz.training.train uses: the first 10% of a permutation seeded with the run's seed
    held_out = torch.randperm(60, generator=torch.Generator().manual_seed(0))[:6]
    expected_val = torch.bincount(train.labels[held_out], minlength=3).tolist()
    val = counts[counts["split"] == "validation"].sort_values("class_index")["count"].tolist()
    assert val == expected_val
    per_class = counts[counts["split"] != "test"].groupby("class")["count"].sum().tolist()
    assert per_class == SIZES
    assert counts[counts["split"] == "test"]["count"].tolist() == [3, 4, 5]


def test_a_data_set_without_test_split_still_counts() -> None:
    s = explore.splits(fake(), None)
    assert set(explore.class_counts(s)["split"]) == {"train", "validation"}


def test_channel_stats_come_from_the_training_split() -> None:
    stats = explore.channel_stats(explore.splits(fake(), None))
    assert stats["channel"].tolist() == ["red", "green", "blue"]
    assert stats["mean"].tolist() == pytest.approx([0.5, 0.2, 0.75], abs=1e-6)
    assert stats["std"].tolist() == pytest.approx([0.5, 0.0, np.sqrt(0.75 * 0.25)], abs=1e-5)
    assert stats["mean (0-255)"].tolist() == pytest.approx([127.5, 51, 191.25], abs=1e-3)


def test_one_image_per_class_is_the_first_of_each() -> None:
    data = fake()
    firsts = explore.one_per_class(data)
    for k, i in enumerate(firsts):
        assert data.labels[i] == k and (data.labels[:i] != k).all()
    empty = ImageSet("e", "train", data.images[:2], torch.tensor([0, 0]), CLASSES)
    assert explore.one_per_class(empty) == [0, -1, -1]


def test_random_images_per_class_are_seeded_and_of_their_class() -> None:
    data = fake()
    grid = explore.random_per_class(data, 8, seed=3)
    assert grid.shape == (3, 8)
    for k, row in enumerate(grid):
        assert len(set(row.tolist())) == 8 and (data.labels[torch.from_numpy(row)] == k).all()
    assert np.array_equal(grid, explore.random_per_class(data, 8, seed=3))
    assert not np.array_equal(grid, explore.random_per_class(data, 8, seed=4))
    small = explore.random_per_class(data, 12, seed=0)  # class "a" has only 10 images
    assert (small[0, 10:] == -1).all() and (small[0, :10] >= 0).all() and (small[1:] >= 0).all()
    only_c = explore.random_per_class(data, 5, seed=0, classes=[2])
    assert only_c.shape == (1, 5) and (data.labels[torch.from_numpy(only_c[0])] == 2).all()


def test_normalise_equals_torchvision() -> None:
    images = torch.randint(0, 256, (5, 3, 6, 6), dtype=torch.uint8)
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    expected = TF.normalize(images.float() / 255, mean, std)
    assert torch.allclose(explore.normalise(images, mean, std), expected, atol=1e-6)


def test_diverging_colours_are_fixed_to_the_std_scale() -> None:
    x = torch.tensor([[[-3.0, 0.0, 3.0, 9.0, -1.5]]])  # (1, 1, 5)
    rgb = explore.diverging(x)[0, :, 0].T.tolist()  # (5, 3)
    assert rgb[0] == explore.BLUE.tolist() and rgb[2] == explore.RED.tolist()
    assert rgb[1] == explore.WHITE.tolist() and rgb[3] == rgb[2]  # beyond +3 saturates
    assert rgb[4] == np.round((explore.WHITE + explore.BLUE) / 2).tolist()


def test_value_histogram_before_and_after() -> None:
    data = fake()
    mean, std = [0.5, 0.2, 0.75], [0.5, 1.0, 0.5]
    hist = explore.value_histogram(data.images, mean, std, bins=20)
    for _, group in hist.groupby(["stage", "channel"]):
        assert group["share"].sum() == pytest.approx(1.0)
    after = hist[hist["stage"].str.startswith("after") & (hist["channel"] == "red")]
    filled = after[after["share"] > 0]
    # red pixels are 0 or 255: (0 - 0.5) / 0.5 = -1 and (1 - 0.5) / 0.5 = +1, half each
    assert filled["share"].tolist() == pytest.approx([0.5, 0.5])
    assert filled.iloc[0]["start"] <= -1 <= filled.iloc[0]["end"]
    assert filled.iloc[1]["start"] <= 1 <= filled.iloc[1]["end"]


def test_tile_places_enlarged_images_on_a_grid() -> None:
    images = torch.arange(5 * 16, dtype=torch.uint8).view(5, 1, 4, 4) * 3
    grid = np.asarray(explore.tile(images, ncols=2, scale=2, pad=4))
    assert grid.shape == (3 * (8 + 4) + 4, 2 * (8 + 4) + 4, 3)
    # image 3 sits in row 1, column 1; each source pixel becomes a 2x2 block, grey in all three channels
    y, x = 4 + 12, 4 + 12
    block = grid[y:y + 8, x:x + 8, 0]
    assert np.array_equal(block[::2, ::2], images[3, 0].numpy()) and np.array_equal(block[1::2, 1::2], block[::2, ::2])
    assert (grid[y:y + 8, x:x + 8, 1] == block).all()
    labelled = explore.tile(images, ncols=5, labels=list("vwxyz"), row_labels=["row"])
    assert labelled.size[1] > 4 + 4 + 4 and labelled.size[0] > 5 * 8


def test_class_pictures_have_one_tile_per_class() -> None:
    data = fake()
    # a caption row of 18 px text
    assert explore.class_examples(data, target=8).size == (3 * (8 + 4) + 4, 8 + 4 + 4 + 18 + 6)
    rows = explore.class_rows(data, 4, target=8)
    assert rows.size[1] == 3 * (8 + 4) + 4
    grid = explore.normalisation_grid(data, [0, 1], [0.5, 0.2, 0.75], [0.5, 1.0, 0.5], target=8)
    assert grid.size[1] == 4 * (8 + 4) + 4  # the originals and one row per channel


def test_totals_and_the_splits_that_hold_images() -> None:
    s = explore.splits(fake(), fake("test", [3, 4, 5]), val_fraction=0.1, seed=0)
    assert explore.totals(explore.class_counts(s)) == {"train": 54, "validation": 6, "test": 12}
    assert list(explore.parts(s)) == ["train", "validation", "test"]
    assert explore.parts(s)["validation"] is s.val
    no_test = explore.splits(fake(), fake("test", [0, 0, 0]), val_fraction=0.1, seed=0)
    assert list(explore.parts(no_test)) == ["train", "validation"]


@pytest.mark.parametrize("counts, expected", [
    ([10, 15], False),  # 15 is exactly 1.5 times 10: still balanced
    ([10, 16], True),
    ([0, 1], False),    # an empty class counts as one image
    ([0, 2], True),
])
def test_unbalanced_when_a_class_has_over_half_again_the_images_of_another(counts, expected) -> None:
    import pandas as pd

    table = pd.DataFrame({"split": ["train", "train", "test", "test"], "class": ["a", "b", "a", "b"],
                          "count": [5, 5, *counts]})
    assert explore.unbalanced(table) is expected


def test_first_images_leave_out_empty_classes() -> None:
    data = fake(sizes=[2, 0, 3])
    labels = data.labels.tolist()
    assert explore.first_images(data) == [labels.index(0), labels.index(2)]
    assert explore.first_images(data, 1) == [labels.index(0)]


def test_pixel_values_of_a_sample_match_the_whole_set_when_every_image_is_alike() -> None:
    data = fake()  # every image of the fake set has the same pixels, so any sample has the same histogram
    mean, std = [0.5, 0.2, 0.75], [0.5, 1.0, 0.5]
    sample = explore.pixel_values(data, mean, std, per_class=4)
    assert sample.equals(explore.value_histogram(data.images, mean, std))


@needs_data("mnist")
@pytest.mark.data
def test_mnist_counts_and_the_famous_mean_and_std() -> None:
    from cnnviz.datasets import data

    s = explore.splits(data.load("mnist", "train"), data.load("mnist", "test"))
    counts = explore.class_counts(s)
    test = counts[counts["split"] == "test"]["count"].tolist()
    assert test == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert counts[counts["split"] == "validation"]["count"].sum() == 6000
    stats = explore.channel_stats(s)  # the folklore 0.1307 / 0.3081 is over all 60,000 training images
    assert stats["mean"].iloc[0] == pytest.approx(0.1307, abs=1e-3)
    assert stats["std"].iloc[0] == pytest.approx(0.3081, abs=1e-3)


@needs_data("cifar10")
@pytest.mark.data
def test_cifar10_test_split_one_per_class() -> None:
    from cnnviz.datasets import data

    test = data.load("cifar10", "test")
    assert test.class_counts() == [1000] * 10
    firsts = explore.one_per_class(test)
    assert [test.classes[int(test.labels[i])] for i in firsts] == test.classes
    assert explore.class_examples(test).size[0] > 10 * 96
