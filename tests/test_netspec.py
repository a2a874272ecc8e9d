"""Network descriptions: the text form, the dicts, and the torch models they build (PyTorch as the oracle)."""
from __future__ import annotations

import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import models
from cnnviz.nets import builder, netspec, tables


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------ text form

def test_parse_reads_the_compact_form():
    layers = netspec.parse("""
        # a small network
        conv 32 k5 p2
        pool max 2
        bn ; relu
        conv 64 3x3 s2 p=same d2 nobias   # same padding needs stride 1: checked when building
        dropout 0.25
        flatten
        linear 10
    """.replace("s2 p=same", "p=same"))
    assert layers == [
        {"type": "conv", "out": 32, "kernel": 5, "padding": 2, "stride": 1, "dilation": 1, "bias": True},
        {"type": "pool", "kind": "max", "kernel": 2, "stride": 2, "padding": 0, "ceil_mode": False},
        {"type": "bn"},
        {"type": "relu"},
        {"type": "conv", "out": 64, "kernel": 3, "padding": "same", "stride": 1, "dilation": 2, "bias": False},
        {"type": "dropout", "p": 0.25},
        {"type": "flatten"},
        {"type": "linear", "out": 10, "bias": True},
    ]


@pytest.mark.parametrize("line, expected", [
    ("conv 16 5", {"out": 16, "kernel": 5}),
    ("Conv2d 16 kernel=5 stride=2 padding=1", {"out": 16, "kernel": 5, "stride": 2, "padding": 1}),
    ("conv 8 k3 same", {"padding": "same"}),
    ("maxpool 3 s2 p1", {"type": "pool", "kind": "max", "kernel": 3, "stride": 2, "padding": 1}),
    ("avgpool 2 ceil", {"type": "pool", "kind": "avg", "ceil_mode": True}),
    ("pool 2", {"kind": "max", "kernel": 2, "stride": 2}),
    ("gap", {"type": "globalpool", "kind": "avg"}),
    ("globalpool max", {"kind": "max"}),
    ("fc 10 nobias", {"type": "linear", "out": 10, "bias": False}),
    ("dropout2d p=0.1", {"type": "dropout2d", "p": 0.1}),
    ("dropout", {"p": 0.5}),
    ("leakyrelu 0.2", {"type": "leakyrelu", "slope": 0.2}),
    ("batchnorm", {"type": "bn"}),
])
def test_parse_accepts_the_usual_spellings(line, expected):
    (layer,) = netspec.parse(line)
    assert expected.items() <= layer.items()


@pytest.mark.parametrize("text, match", [
    ("conv 32 k3\nbogus 3", r'line 2 \("bogus 3"\): unknown layer'),
    ("conv k3", r'line 1 \("conv k3"\): conv needs a number of filters'),
    ("relu\n\nconv 32 k3 q4", r"line 3 .*cannot read 'q4' for conv; write e.g."),
    ("pool max 2 p2", r"line 1 .*more than half the kernel"),
    ("dropout 1.5", r"line 1 .*between 0 and 1"),
    ("conv 32 k3x5", r"only square kernels"),
    ("linear", r"linear needs a number of outputs"),
    ("linear 10 k3", r"linear has no setting kernel"),
    ("conv 32 k3 s2 p=same", r"'same' works only with stride 1"),
    ("conv 0 k3", r"number of filters must be at least 1"),
    ("conv 32 k3 3 4", r"too many plain numbers"),
    ("relu 3", r"too many plain numbers.*relu takes no settings"),
    ("# only a comment\n", r"no layers"),
])
def test_parse_errors_name_the_line_and_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        netspec.parse(text)


def _layer() -> st.SearchStrategy[dict]:
    small = st.integers(1, 7)
    return st.one_of(
        st.builds(lambda o, k, p, s, d, b: {"type": "conv", "out": o, "kernel": k, "padding": p, "stride": s,
                                            "dilation": d, "bias": b},
                  st.integers(1, 64), small, st.integers(0, 3), st.integers(1, 3), st.integers(1, 3), st.booleans()),
        st.builds(lambda o, k, d: {"type": "conv", "out": o, "kernel": k, "padding": "same", "dilation": d},
                  st.integers(1, 8), small, st.integers(1, 3)),
        st.builds(lambda kind, k, s, c: {"type": "pool", "kind": kind, "kernel": k, "stride": s, "padding": k // 2,
                                         "ceil_mode": c},
                  st.sampled_from(["max", "avg"]), small, st.integers(1, 4), st.booleans()),
        st.builds(lambda kind: {"type": "globalpool", "kind": kind}, st.sampled_from(["max", "avg"])),
        st.builds(lambda t: {"type": t}, st.sampled_from(["bn", "relu", "gelu", "elu", "silu", "tanh", "sigmoid",
                                                          "flatten"])),
        st.builds(lambda t, p: {"type": t, "p": p}, st.sampled_from(["dropout", "dropout2d"]),
                  st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0])),
        st.builds(lambda s: {"type": "leakyrelu", "slope": s}, st.sampled_from([0.01, 0.1, 0.2])),
        st.builds(lambda o, b: {"type": "linear", "out": o, "bias": b}, st.integers(1, 500), st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(layers=st.lists(_layer(), min_size=1, max_size=8))
def test_text_round_trip(layers):
    normal = netspec.normalise_all(layers)
    assert netspec.parse(netspec.to_text(layers)) == normal
    assert netspec.to_text(normal) == netspec.to_text(layers)


def test_layer_names_follow_the_zoo_convention():
    layers = netspec.parse("conv 8 k3; relu; pool 2; conv 8 k3; relu; dropout2d; flatten; linear 4; dropout; linear 2")
    assert netspec.layer_names(layers) == ["conv1", "relu1", "pool1", "conv2", "relu2", "drop1", "flatten", "fc1",
                                           "drop2", "fc2"]
    assert netspec.layer_names(netspec.parse("flatten; flatten"))[1] == "flatten2"


def test_parse_shape():
    assert netspec.parse_shape("3x32x32") == netspec.parse_shape("(3, 32, 32)") == (3, 32, 32)
    assert netspec.parse_shape("1 × 28 × 28") == (1, 28, 28)
    assert netspec.parse_shape("784") == (784,)
    for bad in ("3x32", "0x28x28", "three", ""):
        with pytest.raises(ValueError, match="could not read the input shape"):
            netspec.parse_shape(bad)


# ------------------------------------------------------------------------------------------ building

@pytest.mark.parametrize("name, total", [("mnist_cnn", 21_840), ("cifar_cnn", 390_410)])
def test_presets_build_the_zoo_networks(name, total):
    preset = netspec.PRESETS[name]
    assert preset.input_shape == models.ZOO[name].input_shape
    built = builder.build(netspec.parse(preset.text), preset.input_shape)
    zoo = models.build(name)
    assert _params(built) == _params(zoo) == total
    # same module names and shapes: the zoo's weights load into the described network, outputs agree
    assert {k: v.shape for k, v in built.state_dict().items()} == {k: v.shape for k, v in zoo.state_dict().items()}
    assert [type(m) for m in built] == [type(m) for m in zoo]
    built.load_state_dict(zoo.state_dict())
    x = torch.randn(2, *preset.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(built.eval()(x), zoo.eval()(x))
    assert built(x).shape == (2, 10)


def test_every_preset_either_builds_or_names_its_problem():
    for name, preset in netspec.PRESETS.items():
        layers = netspec.parse(preset.text)
        if name == "too_deep":
            expected = r"layer 7 \(conv3: conv 128 k5\): its input is 64×4×4, and the kernel \(5\) is larger than"
            with pytest.raises(ValueError, match=expected):
                builder.build(layers, preset.input_shape)
            continue
        model = builder.build(layers, preset.input_shape)
        assert model.eval()(torch.zeros(1, *preset.input_shape)).shape == (1, 10)


def test_checkpoint_meta_rebuilds_a_custom_network():
    layers = netspec.parse(netspec.PRESETS["all_conv"].text)
    model = models._architecture({"arch": "custom", "arch_args": {"layers": layers}, "input_shape": [3, 32, 32]})
    assert _params(model) == _params(builder.build(layers, (3, 32, 32)))


@pytest.mark.parametrize("text, shape, match", [
    ("conv 8 k3\nlinear 10", (1, 8, 8), r"layer 2 \(fc1: linear 10\): linear needs a flat input but gets 8×6×6; "
                                        r"put flatten before it"),
    ("flatten\nconv 8 k3", (1, 8, 8), r"layer 2 \(conv1: conv 8 k3\): conv needs a \(channels, height, width\) input"),
    ("conv 4 k3\nflatten\ndropout2d 0.5", (1, 8, 8), r"layer 3 \(drop1.*dropout2d needs"),
    ("pool max 2\npool max 2\npool max 2", (1, 4, 4), r"layer 3 \(pool3: pool max 2\): its input is 1×1×1, and the "
                                                      r"window \(2\) does not fit"),
    ("conv 4 k3 d4", (1, 8, 8), r"layer 1 \(conv1: conv 4 k3 d4\): .*dilated kernel"),
    ("globalpool avg", (10,), r"globalpool needs a \(channels, height, width\) input but gets 10 flat features"),
])
def test_impossible_networks_name_the_layer_and_the_reason(text, shape, match):
    with pytest.raises(ValueError, match=match):
        builder.build(netspec.parse(text), shape)
    with pytest.raises(ValueError, match=match):
        tables.spec_table(netspec.parse(text), shape)


def test_build_checks_its_arguments():
    with pytest.raises(ValueError, match="no layers"):
        builder.build([], (1, 8, 8))
    with pytest.raises(ValueError, match=r"layer 2: unknown layer type 'softmax2'"):
        builder.build([{"type": "relu"}, {"type": "softmax2"}], (1, 8, 8))
    with pytest.raises(ValueError, match="input shape"):
        builder.build([{"type": "relu"}], (1, 8))
    mlp = builder.build([{"type": "linear", "out": 16}, {"type": "bn"}, {"type": "relu"}, {"type": "linear", "out": 3}],
                        (784,))
    assert isinstance(mlp.bn1, nn.BatchNorm1d) and _params(mlp) == 784 * 16 + 16 + 32 + 16 * 3 + 3


# ----------------------------------------------------- random networks against torch's own lazy modules

def _spatial_layer():
    return st.one_of(
        st.builds(lambda o, k, p, s, d, b: {"type": "conv", "out": o, "kernel": k, "padding": p, "stride": s,
                                            "dilation": d, "bias": b},
                  st.integers(1, 6), st.integers(1, 7), st.integers(0, 2), st.integers(1, 3), st.integers(1, 2),
                  st.booleans()),
        st.builds(lambda o, k: {"type": "conv", "out": o, "kernel": k, "padding": "same"},
                  st.integers(1, 6), st.integers(1, 4)),
        st.builds(lambda kind, k, s, p, c: {"type": "pool", "kind": kind, "kernel": k, "stride": s,
                                            "padding": min(p, k // 2), "ceil_mode": c},
                  st.sampled_from(["max", "avg"]), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2),
                  st.booleans()),
        st.sampled_from([{"type": "bn"}, {"type": "relu"}, {"type": "dropout2d", "p": 0.5},
                         {"type": "globalpool", "kind": "avg"}]),
    )


def _flat_layer():
    return st.one_of(
        st.builds(lambda o, b: {"type": "linear", "out": o, "bias": b}, st.integers(1, 12), st.booleans()),
        st.sampled_from([{"type": "bn"}, {"type": "tanh"}, {"type": "dropout", "p": 0.2}]),
    )


def _oracle(layers: list[dict], flat_input: bool) -> nn.Sequential:
    """The same network from torch's Lazy modules: torch infers every input size and refuses what does not fit."""
    mods, flat = [], flat_input
    for layer in netspec.normalise_all(layers):
        t = layer["type"]
        if t == "conv":
            mods.append(nn.LazyConv2d(layer["out"], layer["kernel"], layer["stride"], layer["padding"],
                                      layer["dilation"], bias=layer["bias"]))
        elif t == "pool":
            pool = nn.MaxPool2d if layer["kind"] == "max" else nn.AvgPool2d
            mods.append(pool(layer["kernel"], layer["stride"], layer["padding"], ceil_mode=layer["ceil_mode"]))
        elif t == "globalpool":
            mods.append(nn.AdaptiveAvgPool2d(1))
        elif t == "bn":
            mods.append(nn.LazyBatchNorm1d() if flat else nn.LazyBatchNorm2d())
        elif t == "linear":
            mods.append(nn.LazyLinear(layer["out"], bias=layer["bias"]))
        elif t == "flatten":
            flat = True
            mods.append(nn.Flatten())
        else:
            mods.append({"relu": nn.ReLU(), "tanh": nn.Tanh(), "dropout": nn.Dropout(0.2),
                         "dropout2d": nn.Dropout2d(0.5)}[t])
    return nn.Sequential(*mods)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels=st.integers(1, 3), height=st.integers(1, 12), width=st.integers(1, 12),
       spatial=st.lists(_spatial_layer(), max_size=6), flat=st.lists(_flat_layer(), max_size=3),
       flatten=st.booleans())
def test_random_networks_match_torch(channels, height, width, spatial, flat, flatten):
    shape = (channels, height, width)
    layers = spatial + ([{"type": "flatten"}] + flat if flatten else [])
    if not layers:
        layers = [{"type": "relu"}]
    oracle = _oracle(layers, flat_input=False).eval()
    try:
        with torch.no_grad():
            expected = oracle(torch.zeros(2, *shape))
        torch_ok = min(expected.shape) > 0
    except (RuntimeError, ValueError):
        torch_ok = False
    try:
        table = tables.spec_table(layers, shape)
    except ValueError as exc:
        assert not torch_ok, f"we refused what torch accepts: {exc}"
        with pytest.raises(ValueError, match=r"^layer \d+ \("):
            builder.build(layers, shape)
        return
    assert torch_ok, "torch refused a network we accepted"
    model = builder.build(layers, shape)
    assert table.output_shape == tuple(expected.shape[1:])
    assert table.total_params == _params(model) == _params(oracle)
    real = tables.layer_table(model, shape)
    assert [r["output_shape"] for r in real] == [r["output_shape"] for r in table]
    assert [r["mult_adds"] for r in real] == [r["mult_adds"] for r in table]
    assert [r["receptive_field"] for r in real] == [r["receptive_field"] for r in table]


def test_every_line_the_cheat_sheet_shows_parses():
    examples = re.findall(r"`([^`]+)`", netspec.CHEAT_SHEET)
    lines = [e for e in examples if e.split()[0] in netspec.TYPES]  # whole lines, not fragments such as `s2`
    assert len(lines) >= 14 and {"conv 32 k5 p2", "pool avg k3 s2 p1 ceil", "leakyrelu 0.1", "linear 10"} <= set(lines)
    for line in lines:
        assert len(netspec.parse(line)) == 1, line
    assert {layer["type"] for line in lines for layer in netspec.parse(line)} == set(netspec.TYPES)


@pytest.mark.parametrize("name", list(netspec.PRESETS))
def test_a_presets_shape_text_reads_back_as_its_input_shape(name):
    preset = netspec.PRESETS[name]
    assert netspec.parse_shape(preset.shape_text) == preset.input_shape
