"""cnnviz.inside.featurevis: top examples equal brute force, receptive fields equal hand arithmetic, and
activation maximisation stays in range, is reproducible, leaves the model untouched and excites real channels."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

import models
from cnnviz import featurevis as public
from cnnviz.inside import features, featurevis
from cnnviz.nets import tables
from tests.conftest import needs_data

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def tiny_net() -> nn.Sequential:
    """A seeded conv-BN-ReLU-conv(stride 2)-pool-linear net with dropout: small, with every kind of layer."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 4, 3, padding=1), bn=nn.BatchNorm2d(4), relu=nn.ReLU(inplace=True),
        conv2=nn.Conv2d(4, 5, 3, stride=2, padding=1), pool=nn.MaxPool2d(2), drop=nn.Dropout(0.5),
        flatten=nn.Flatten(), fc=nn.Linear(5 * 2 * 2, 3)))
    with torch.no_grad():
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
    return net


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def brute_force(net: nn.Sequential, upto: str, x: torch.Tensor, k: int, lowest: bool = False):
    """Full forward pass of the prefix up to `upto`, spatial max, one stable sort over all images."""
    names = list(net._modules)
    with torch.no_grad():
        out = net.eval()[: names.index(upto) + 1](x.clone()) if upto else net.eval()(x)
    maxima = out.amax((2, 3)) if out.dim() == 4 else out  # (N, C)
    order = torch.sort(maxima.T, dim=1, descending=not lowest, stable=True).indices[:, :k]
    return maxima.T.gather(1, order), order, out


@pytest.mark.parametrize("layer", ["conv1", "conv2", "pool", featurevis.OUTPUT])
@pytest.mark.parametrize("lowest", [False, True])
def test_top_images_equal_brute_force_across_batch_boundaries(layer: str, lowest: bool) -> None:
    net = tiny_net()
    x = torch.randn(23, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    values, indices = public.top_images(net, layer, x, k=4, lowest=lowest, batch_size=5)  # 5 batches, last of 3
    want_values, want_indices, out = brute_force(net, layer, x, 4, lowest)
    assert values.shape == indices.shape == (out.shape[1], 4)
    torch.testing.assert_close(values, want_values)
    assert torch.equal(indices, want_indices)
    if lowest:
        assert (values[:, 1:] >= values[:, :-1]).all()
    else:
        assert (values[:, 1:] <= values[:, :-1]).all()


def test_positions_point_at_each_images_maximum() -> None:
    net = tiny_net()
    x = torch.randn(17, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    top = featurevis.top_examples(net, "relu", x, k=6, lowest=True, batch_size=4)
    _, want_indices, out = brute_force(net, "relu", x, 6, lowest=True)
    assert torch.equal(top.indices, want_indices)
    assert top.lowest and top.layer == "relu" and top.positions.shape == (4, 6, 2)
    for c in range(4):
        for j in range(6):
            y, x_ = top.positions[c, j].tolist()
            assert float(out[top.indices[c, j], c, y, x_]) == pytest.approx(float(top.values[c, j]), abs=1e-6)
            assert float(out[top.indices[c, j], c].max()) == pytest.approx(float(top.values[c, j]), abs=1e-6)


def test_ties_go_to_the_image_seen_first_as_one_stable_sort_would_order_them() -> None:
    maxima = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 1.0], [2.0, 0.5], [0.0, 1.0], [2.0, 1.0], [0.0, 1.0]])
    for lowest in (False, True):
        running = featurevis.RunningTop(3, lowest)
        for start in range(0, 7, 2):  # batches of 2: ties across batch boundaries
            running.update(maxima[start:start + 2], torch.zeros(len(maxima[start:start + 2]), 2, 2, dtype=torch.long))
        want = torch.sort(maxima.T, dim=1, descending=not lowest, stable=True).indices[:, :3]
        assert torch.equal(running.result("x").indices, want)
    assert running.result("x").indices.tolist() == [[0, 2, 4], [3, 0, 1]]


def test_k_larger_than_the_batch_gives_every_image_and_the_model_is_left_alone() -> None:
    net = tiny_net().train()
    values, indices = featurevis.top_images(net, "conv2", torch.randn(3, 3, 8, 8), k=9)
    assert values.shape == (5, 3) and sorted(indices[0].tolist()) == [0, 1, 2]
    assert net.training and all(m.training for m in net.modules()) and no_hooks(net)
    with pytest.raises(KeyError, match="nope"):
        featurevis.top_images(net, "nope", torch.randn(3, 3, 8, 8))
    assert no_hooks(net)


# ---- receptive fields -------------------------------------------------------------------------------------------

def taps(rows: set[int], size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> set[int]:
    """Input rows (of `size`) that output `rows` read through one window: y*s - p + d*i, i < k, by hand."""
    return {y * stride - padding + dilation * i for y in rows for i in range(kernel)} & set(range(size))


def test_two_3x3_convs_see_5x5() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
    assert featurevis.receptive_field(net, "2", (1, 12, 12), (3, 4)) == featurevis.Box(3, 4, 8, 9)
    assert featurevis.receptive_field(net, "0", (1, 12, 12), (0, 0)) == featurevis.Box(0, 0, 3, 3)


def test_padding_stride_pooling_and_dilation_compose_and_clip_at_the_border() -> None:
    net = nn.Sequential(OrderedDict(
        a=nn.Conv2d(3, 4, 3, padding=1), relu=nn.ReLU(), pool=nn.MaxPool2d(2),
        b=nn.Conv2d(4, 4, 3, stride=2, padding=1, dilation=2)))
    h = w = 20
    out = net(torch.zeros(1, 3, h, w)).shape[2:]
    positions = [(y, x) for y in range(out[0]) for x in range(out[1])]
    got = featurevis.receptive_fields(net, "b", (3, h, w), positions)
    for (y, x), found in zip(positions, got):
        rows, cols = {y}, {x}
        for size, settings in [(10, dict(kernel=3, stride=2, padding=1, dilation=2)), (20, dict(kernel=2, stride=2)),
                               (20, dict(kernel=3, padding=1))]:  # b, pool, a: from the unit back to the input
            rows, cols = taps(rows, size, **settings), taps(cols, size, **settings)
        assert found == featurevis.Box(min(rows), min(cols), max(rows) + 1, max(cols) + 1), (y, x)
    assert got[0] == featurevis.Box(1, 1, 9, 9)  # dilation skips pooled row 0; padding clips the top
    assert got[5] == featurevis.Box(1, 1, 13, 13)  # unit (1, 1): pooled rows 1, 3, 5 -> input rows 1 to 12


class Branches(nn.Module):
    """Two parallel branches added: in running order they look chained (5x5 then 3x3 = 7x7), but a unit sees 5x5."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(1, 2, 5, padding=2)
        self.narrow = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wide(x) + self.narrow(x)


def test_parallel_branches_take_the_union_not_the_chain() -> None:
    assert featurevis.receptive_field(Branches(), "", (1, 16, 16), (8, 8)) == featurevis.Box(6, 6, 11, 11)


@pytest.mark.parametrize("layer", ["layer1.0.conv2", "layer2.0.conv1", "layer2.1.conv2"])
def test_resnet_interior_box_has_the_layer_tables_size(layer: str) -> None:
    net = models.build("resnet18")
    shape = (3, 128, 128)
    size = dict((r["name"], r["receptive_field"]) for r in tables.layer_table(net, shape))[layer]
    found = featurevis.receptive_field(net, layer, shape, (8, 8))  # far from every border
    assert (found.height, found.width) == size
    assert no_hooks(net)


def test_the_class_scores_see_the_whole_image() -> None:
    net = models.build("cifar_cnn")
    assert featurevis.receptive_field(net, featurevis.OUTPUT, (3, 32, 32), (0, 0)) == featurevis.Box(0, 0, 32, 32)


def test_a_position_outside_the_map_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="inside"):
        featurevis.receptive_field(tiny_net(), "conv2", (3, 8, 8), (4, 0))


# ---- activation maximisation ------------------------------------------------------------------------------------

def pixels(image: torch.Tensor) -> torch.Tensor:
    return image * torch.tensor(STD).view(-1, 1, 1) + torch.tensor(MEAN).view(-1, 1, 1)


def channel_mean(net: nn.Module, layer: str, image: torch.Tensor, channel: int) -> float:
    return float(features.extract(net, image[None], [layer])[layer][0, channel].mean())


def test_visualize_shape_range_and_determinism() -> None:
    net = tiny_net()
    rng = torch.random.get_rng_state()
    a = public.visualize(net, "conv2", 1, (3, 8, 8), MEAN, STD, steps=20, seed=3)
    assert torch.equal(torch.random.get_rng_state(), rng)  # the global generator was not used
    assert a.shape == (3, 8, 8) and a.dtype == torch.float32
    assert pixels(a).min() >= 0 and pixels(a).max() <= 1
    assert torch.equal(a, public.visualize(net, "conv2", 1, (3, 8, 8), MEAN, STD, steps=20, seed=3))
    assert not torch.allclose(a, public.visualize(net, "conv2", 1, (3, 8, 8), MEAN, STD, steps=20, seed=4))


def test_visualize_excites_its_channel_more_than_random_images() -> None:
    net = tiny_net()
    noise = (torch.rand(500, 3, 8, 8, generator=torch.Generator().manual_seed(0)) - torch.tensor(MEAN).view(-1, 1, 1)
             ) / torch.tensor(STD).view(-1, 1, 1)
    out = features.extract(net, noise, ["conv2", "fc"])
    image = featurevis.visualize(net, "conv2", 2, (3, 8, 8), MEAN, STD, steps=120)
    assert channel_mean(net, "conv2", image, 2) > out["conv2"][:, 2].mean((1, 2)).max()
    score = featurevis.visualize(net, featurevis.OUTPUT, 0, (3, 8, 8), MEAN, STD, steps=120)
    with torch.no_grad():
        assert net.eval()(score[None])[0, 0] > out["fc"][:, 0].max()


def test_one_channel_alone_equals_its_picture_in_a_layer_batch() -> None:
    net = tiny_net()
    alone = featurevis.visualize(net, "conv2", 3, (3, 8, 8), MEAN, STD, steps=15, seed=1)
    batch = featurevis.visualize_channels(net, "conv2", [0, 3], (3, 8, 8), MEAN, STD, steps=15, seed=1)
    assert batch.shape == (2, 3, 8, 8)
    torch.testing.assert_close(batch[1], alone, rtol=1e-4, atol=1e-4)


def test_start_image_is_where_the_optimisation_begins_and_frames_are_reported() -> None:
    net = tiny_net()
    start = (torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(5)) * 0.9 + 0.05 -
             torch.tensor(MEAN).view(-1, 1, 1)) / torch.tensor(STD).view(-1, 1, 1)
    torch.testing.assert_close(featurevis.visualize(net, "conv1", 0, (3, 8, 8), MEAN, STD, steps=0, start=start),
                               start, rtol=1e-4, atol=1e-4)  # the parameterisation round-trips exactly
    frames = []
    featurevis.visualize(net, "conv1", 0, (3, 8, 8), MEAN, STD, steps=10, start=start, every=4,
                         on_step=lambda step, image: frames.append((step, image.shape)))
    assert frames == [(4, (3, 8, 8)), (8, (3, 8, 8)), (10, (3, 8, 8))]


def test_one_channel_images_for_mnist_sized_models() -> None:
    net = models.build("mnist_cnn")
    image = featurevis.visualize(net, "conv1", 0, (1, 28, 28), [0.1307], [0.3081], steps=5)
    assert image.shape == (1, 28, 28)
    assert 0 <= float((image * 0.3081 + 0.1307).min()) and float((image * 0.3081 + 0.1307).max()) <= 1


def snapshot(net: nn.Module) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize(("layer", "channel", "error"), [("conv2", 5, ValueError), ("conv2", -1, ValueError),
                                                         (featurevis.OUTPUT, 3, ValueError), ("nope", 0, KeyError)])
def test_the_model_is_untouched_also_when_the_objective_raises(layer: str, channel: int, error: type) -> None:
    net = tiny_net().train()
    net.bn.eval()  # a mixed state must come back exactly
    net.fc.weight.requires_grad_(False)
    before = snapshot(net)
    with pytest.raises(error, match="5 channels|3 channels|nope"):
        featurevis.visualize(net, layer, channel, (3, 8, 8), MEAN, STD, steps=3)
    featurevis.visualize(net, "conv2", 4, (3, 8, 8), MEAN, STD, steps=3)  # and when it succeeds
    assert no_hooks(net)
    assert net.training and net.drop.training and not net.bn.training
    assert all(p.grad is None for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == [True] * 6 + [False, True]
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_bad_channel_message_names_the_layer_and_its_range() -> None:
    with pytest.raises(ValueError, match=r"channel 7 does not exist: layer 'conv2' has 5 channels \(0 to 4\)"):
        featurevis.visualize(tiny_net(), "conv2", 7, (3, 8, 8), MEAN, STD, steps=1)


# ---- real checkpoints -------------------------------------------------------------------------------------------

STEPS = 128  # half the default: every channel of both models already passes (64 is enough, 32 is not for MNIST)


@pytest.mark.data
@pytest.mark.parametrize("name", [pytest.param("mnist_cnn", marks=needs_data("mnist")),
                                  pytest.param("cifar_cnn", marks=needs_data("cifar10"))])
def test_a_visualization_excites_its_channel_more_than_every_test_image(name: str) -> None:
    from cnnviz.datasets import data, explore

    entry = models.ZOO[name]
    net = models.load(name)
    test = data.load(entry.dataset, "test")
    x = explore.normalise(test.images[:1000], entry.mean, entry.std)
    layer = features.last_conv(net)
    real = features.extract(net, x, [layer])[layer].mean((2, 3))  # (1000, C) the objective on each image
    channels = real.shape[1]
    images = featurevis.visualize_channels(net, layer, range(channels), entry.input_shape, entry.mean, entry.std,
                                           steps=STEPS)
    mine = features.extract(net, images, [layer])[layer].mean((2, 3))[torch.arange(channels), torch.arange(channels)]
    passed = int((mine > real.max(0).values).sum())
    print(f"{name} {layer}: {passed} of {channels} channels excited more than by any of 1,000 test images")
    assert passed >= 0.9 * channels
