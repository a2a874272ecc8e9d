"""cnnviz.inside.features: captured layer outputs equal a plain forward pass, and no hook is ever left behind."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

import models
from cnnviz.inside import features


def tiny_net() -> nn.Sequential:
    """A seeded conv-BN-ReLU-pool-linear net with dropout, small enough to check every layer."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, 3, padding=1), bn=nn.BatchNorm2d(4), relu=nn.ReLU(inplace=True),
        pool=nn.MaxPool2d(2), drop=nn.Dropout(0.5), flatten=nn.Flatten(), fc=nn.Linear(4 * 4 * 4, 3)))
    with torch.no_grad():  # non-trivial running statistics, so eval and train mode differ
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
    return net


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_every_leaf_equals_the_prefix_of_a_plain_forward_pass() -> None:
    net = tiny_net().eval()
    x = torch.randn(2, 3, 8, 8)
    out = features.extract(net, x)
    assert list(out) == ["conv", "bn", "relu", "pool", "drop", "flatten", "fc"]
    with torch.no_grad():
        for i, name in enumerate(out):
            expected = net[: i + 1](x.clone())
            torch.testing.assert_close(out[name], expected)


def test_outputs_are_copies_so_an_inplace_relu_does_not_change_the_layer_before() -> None:
    net = tiny_net().eval()
    x = torch.randn(1, 3, 8, 8)
    out = features.extract(net, x, ["conv", "bn"])
    conv = F.conv2d(x, net.conv.weight, net.conv.bias, padding=1)  # oracle: torch.nn.functional
    bn = F.batch_norm(conv, net.bn.running_mean, net.bn.running_var, net.bn.weight, net.bn.bias)
    torch.testing.assert_close(out["conv"], conv.detach())
    torch.testing.assert_close(out["bn"], bn.detach())
    assert (out["bn"] < 0).any()  # the in-place ReLU after bn did not reach the captured copy


def test_model_left_unchanged_training_flags_restored_and_eval_used() -> None:
    net = tiny_net().train()
    net.bn.eval()  # a mixed state must come back exactly
    x = torch.randn(2, 3, 8, 8)
    out = features.extract(net, x)
    assert net.training and net.drop.training and not net.bn.training
    with torch.no_grad():  # dropout off and running statistics used: the eval-mode result
        torch.testing.assert_close(out["fc"], tiny_net().eval()(x))
    assert all(not t.requires_grad for t in out.values())
    assert all(p.grad is None for p in net.parameters())
    assert no_hooks(net)


def test_layers_subset_keeps_the_order_asked_for() -> None:
    net = tiny_net()
    out = features.extract(net, torch.randn(1, 3, 8, 8), ["fc", "conv"])
    assert list(out) == ["fc", "conv"]
    assert out["conv"].shape == (1, 4, 8, 8) and out["fc"].shape == (1, 3)


class Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_hooks_removed_after_an_exception_inside_the_forward_pass() -> None:
    net = tiny_net()
    net.add_module("boom", Boom())
    net.train()
    with pytest.raises(RuntimeError, match="boom"):
        features.extract(net, torch.randn(1, 3, 8, 8))
    assert no_hooks(net)
    assert all(m.training for m in net.modules())  # flags restored on the way out too


def test_unknown_layer_is_a_key_error_and_leaves_no_hook() -> None:
    net = tiny_net()
    with pytest.raises(KeyError, match="nope"):
        features.extract(net, torch.randn(1, 3, 8, 8), ["conv", "nope"])
    assert no_hooks(net)


def test_capture_context_manager_removes_hooks_on_exit() -> None:
    net = tiny_net().eval()
    with features.capture(net, ["conv"]) as outputs:
        assert net.conv._forward_hooks
        net(torch.randn(1, 3, 8, 8))
    assert outputs["conv"].shape == (1, 4, 8, 8)
    assert no_hooks(net)


def test_resnet18_conv1_matches_functional_and_reused_relu_keeps_the_block_output() -> None:
    torch.manual_seed(1)
    net = resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    out = features.extract(net, x)
    torch.testing.assert_close(out["conv1"], F.conv2d(x, net.conv1.weight, stride=2, padding=3).detach())
    with torch.no_grad():
        torch.testing.assert_close(out["fc"], net(x))
        # BasicBlock calls its `relu` twice; the last call is the block's output (after the skip connection)
        block = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        torch.testing.assert_close(out["layer1.0.relu"], net.layer1[0](block))
    assert no_hooks(net)


def test_map_layers_are_the_conv_activation_and_pool_layers_with_maps() -> None:
    net = models.build("mnist_cnn")
    assert features.map_layers(net) == ["conv1", "pool1", "relu1", "conv2", "pool2", "relu2", "relu3"]
    out = features.extract(net, torch.randn(1, 1, 28, 28))
    assert features.map_layers(net, out) == ["conv1", "pool1", "relu1", "conv2", "pool2", "relu2"]  # relu3 is (B, 50)
    assert out["conv2"].shape == (1, 20, 8, 8)


@pytest.mark.parametrize(("name", "last"), [("mnist_cnn", "conv2"), ("cifar_cnn", "conv3"),
                                            ("cifar_cnn_plus", "res2.block2.conv"), ("resnet18", "layer4.1.conv2")])
def test_last_conv_by_name(name: str, last: str) -> None:
    assert features.last_conv(models.build(name)) == last


def test_last_conv_needs_a_conv() -> None:
    with pytest.raises(ValueError):
        features.last_conv(nn.Sequential(nn.Linear(2, 2)))


def test_another_threads_forward_pass_is_not_recorded() -> None:
    import threading

    net = tiny_net().eval()
    mine, theirs = torch.randn(1, 3, 8, 8), torch.randn(5, 3, 8, 8)
    with features.capture(net, ["fc"]) as outputs:
        other = threading.Thread(target=lambda: net(theirs))  # a session sharing the cached model
        other.start()
        other.join()
        assert "fc" not in outputs
        with torch.no_grad():
            net(mine)
    assert outputs["fc"].shape == (1, 3)


def test_probabilities_are_the_softmax_of_an_eval_forward_pass() -> None:
    net = tiny_net().train()
    x = torch.randn(2, 3, 8, 8)
    probs = features.probabilities(net, x)
    with torch.no_grad():
        torch.testing.assert_close(probs, torch.softmax(tiny_net().eval()(x), dim=1))
    assert net.training and torch.allclose(probs.sum(1), torch.ones(2))


class _Slow(nn.Module):
    """A layer that takes 0.3 s and logs when each thread enters and leaves it."""

    def __init__(self, log: list) -> None:
        super().__init__()
        self.log = log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import threading
        import time

        self.log.append(("in", threading.get_ident(), time.perf_counter()))
        time.sleep(0.3)
        self.log.append(("out", threading.get_ident(), time.perf_counter()))
        return x


def _two_sessions(first: nn.Module, second: nn.Module) -> None:
    """Two sessions, each extracting every layer of its model at the same moment."""
    import threading

    start = threading.Barrier(2)

    def session(model: nn.Module) -> None:
        start.wait()
        out = features.extract(model, torch.randn(1, 4))
        assert set(out) == {"0", "1"}  # its own layers, each captured once

    threads = [threading.Thread(target=session, args=(m,)) for m in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_sessions_on_two_models_run_side_by_side_and_on_one_model_take_turns() -> None:
    log: list = []
    a, b = nn.Sequential(_Slow(log), nn.Linear(4, 2)), nn.Sequential(_Slow(log), nn.Linear(4, 2))
    _two_sessions(a, b)
    assert [kind for kind, _, _ in log[:2]] == ["in", "in"]  # both inside their models at once
    log.clear()
    _two_sessions(a, a)
    assert [kind for kind, _, _ in log] == ["in", "out", "in", "out"]  # one shared model: hooks never interleave
    assert features.model_lock(a) is features.model_lock(a) and features.model_lock(a) is not features.model_lock(b)


def test_calls_log_each_call_in_running_order_with_its_shapes_and_keep_no_tensor() -> None:
    torch.manual_seed(1)
    net = resnet18(num_classes=10).eval()
    calls: list[features.Call] = []
    with features.capture(net, calls=calls, tensors=False) as outputs, torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    assert outputs == {} and no_hooks(net)
    names = [c.name for c in calls]
    assert names[:5] == ["conv1", "bn1", "relu", "maxpool", "layer1.0.conv1"] and names[-2:] == ["avgpool", "fc"]
    assert names.count("layer1.0.relu") == 2  # BasicBlock calls its relu twice: two calls, in order
    by_hand = {"conv1": ((1, 3, 32, 32), (1, 64, 16, 16)),     # (32 + 2·3 − 7) // 2 + 1 = 16
               "maxpool": ((1, 64, 16, 16), (1, 64, 8, 8)),    # (16 + 2·1 − 3) // 2 + 1 = 8
               "layer2.0.conv1": ((1, 64, 8, 8), (1, 128, 4, 4)),
               "avgpool": ((1, 512, 1, 1), (1, 512, 1, 1)), "fc": ((1, 512), (1, 10))}
    for call in calls:
        if call.name in by_hand:
            assert (call.input_shape, call.output_shape) == by_hand[call.name]


def test_calls_name_the_layer_that_failed() -> None:
    net = tiny_net().train()
    net.add_module("boom", Boom())
    calls: list[features.Call] = []
    with pytest.raises(RuntimeError, match="boom"), features.capture(net, calls=calls):
        net(torch.randn(1, 3, 8, 8))
    assert [c.name for c in calls][-2:] == ["fc", "boom"]
    assert calls[-2].output_shape == (1, 3) and calls[-1].output_shape is None  # it started and never returned
    assert no_hooks(net)


def test_another_threads_forward_pass_is_not_logged_in_calls() -> None:
    import threading

    net = tiny_net().eval()
    calls: list[features.Call] = []
    with features.capture(net, ["fc"], calls=calls, tensors=False), torch.no_grad():
        other = threading.Thread(target=lambda: net(torch.randn(5, 3, 8, 8)))  # a session sharing the model
        other.start()
        other.join()
        assert calls == []
        net(torch.randn(1, 3, 8, 8))
    assert calls == [features.Call("fc", (1, 64), (1, 3))]
