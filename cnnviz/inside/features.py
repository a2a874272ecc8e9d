"""Every layer's output for one batch, captured with forward hooks that are always removed afterwards.

Layers are addressed by their `named_modules()` names ("conv1", "layer1.0.relu"), so any `nn.Module` works.
The model is never changed: it runs in eval mode under `torch.no_grad()` and every module's training flag
is put back. A model shared between sessions (Streamlit's `st.cache_resource`) is hooked under its own lock
(`model_lock`), so two sessions never see each other's activations, while sessions on different models run
side by side.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
ACTIVATION = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
              nn.Hardswish, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus)
POOL = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d)

# One lock per model, made when first asked for and gone with the model (hooks also check the thread, so a
# plain forward pass by another session on the same shared model, which holds no lock, is never recorded).
_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()

__all__ = ["CONV", "ACTIVATION", "POOL", "leaf_layers", "kind", "map_layers", "conv_layers", "last_conv",
           "model_lock", "Call", "capture", "extract", "evaluating", "probabilities", "logits"]


def model_lock(model: nn.Module) -> threading.RLock:
    """The lock of `model`: hooked passes through one model take turns, passes through different models do not."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


def leaf_layers(model: nn.Module) -> list[str]:
    """Names of the modules that have no children (the ones that compute), in registration order."""
    return [name for name, m in model.named_modules() if name and not any(True for _ in m.children())]


def kind(module: nn.Module) -> str:
    """'conv', 'activation', 'pool' or 'other': what a layer is, for labels and filtering."""
    if isinstance(module, CONV):
        return "conv"
    if isinstance(module, ACTIVATION):
        return "activation"
    if isinstance(module, POOL):
        return "pool"
    return "other"


def map_layers(model: nn.Module, outputs: dict[str, torch.Tensor] | None = None) -> list[str]:
    """Conv, activation and pooling layers, in registration order; with `outputs`, only those giving (B, C, H, W)."""
    modules = dict(model.named_modules())
    names = [n for n in leaf_layers(model) if kind(modules[n]) != "other"]
    if outputs is not None:
        names = [n for n in names if n in outputs and outputs[n].dim() == 4]
    return names


def conv_layers(model: nn.Module) -> list[str]:
    """Names of every 2-D convolution, in registration order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def last_conv(model: nn.Module) -> str:
    """Name of the last `nn.Conv2d` in `named_modules()` order (for torchvision ResNet18: 'layer4.1.conv2').

    Raises:
        ValueError: the model has no 2-D convolution.
    """
    convs = conv_layers(model)
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer")
    return convs[-1]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for the block, then give every module back its own training flag."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def _resolve(model: nn.Module, layers: Iterable[str] | None) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    names = leaf_layers(model) if layers is None else list(layers)
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(f"No layer named {', '.join(map(repr, missing))} in {type(model).__name__}; "
                       f"its layers are {', '.join(leaf_layers(model))}")
    return {n: modules[n] for n in names}


@dataclass
class Call:
    """One call of a hooked layer in a forward pass: its name and the shapes (batch included) in and out."""

    name: str
    input_shape: tuple[int, ...] | None          # of its first input; None when that is not a tensor
    output_shape: tuple[int, ...] | None = None  # None until it returns a tensor (also: it raised, or gave a tuple)


@contextmanager
def capture(model: nn.Module, layers: Iterable[str] | None = None, keep_graph: bool = False,
            calls: list[Call] | None = None, tensors: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Hook `layers` (all leaves when None); inside the block, forward passes fill the yielded dict.

    By default each entry is the layer's output detached, copied (so a later in-place ReLU cannot change it)
    and on the CPU. With `keep_graph` each entry is the output itself, still in the autograd graph, so a
    gradient can be taken with respect to it (Grad-CAM, attribution); the rest of the network then gets a copy.
    A module called twice in one pass (torchvision's BasicBlock reuses `relu`) keeps its last output.
    With a `calls` list, every call of a hooked layer is also appended to it as it starts, in running order
    (twice for a layer called twice), so after an error the last one names the layer that failed; with
    `tensors=False` the dict stays empty (a pass that only wants `calls` keeps no activation).
    The model's lock is held, and every hook is removed when the block ends, also when it raises.
    """
    targets = _resolve(model, layers)
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    owner = threading.get_ident()
    running: dict[str, list[Call]] = {}  # name -> its calls that started and have not returned yet

    def started_for(name: str):
        def pre_hook(_module: nn.Module, inputs: tuple) -> None:
            if threading.get_ident() != owner or calls is None:
                return
            first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            calls.append(Call(name, None if first is None else tuple(first.shape)))
            running.setdefault(name, []).append(calls[-1])
        return pre_hook

    def hook_for(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: object) -> torch.Tensor | None:
            if threading.get_ident() != owner:  # another session's forward pass on the same shared model
                return None
            if running.get(name):  # the call of `name` that started last is the one that returns
                running[name].pop().output_shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            if isinstance(output, (tuple, list)):  # e.g. an RNN; keep the first tensor
                output = next((o for o in output if isinstance(o, torch.Tensor)), None)
            if not isinstance(output, torch.Tensor) or not tensors:
                return None
            if keep_graph:
                outputs[name] = output
                return output.clone()  # an in-place op further on must not alter the kept tensor
            outputs[name] = output.detach().to("cpu", copy=True)
            return None
        return hook

    with model_lock(model):
        try:
            for name, module in targets.items():
                handles.append(module.register_forward_hook(hook_for(name)))
                if calls is not None:
                    handles.append(module.register_forward_pre_hook(started_for(name)))
            yield outputs
        finally:
            for handle in handles:
                handle.remove()


def extract(model: nn.Module, x: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """Run `x` through `model` and return {layer name: that layer's output for the batch}.

    Args:
        model: any module; it is run in eval mode without gradients and left exactly as it was.
        x: the input batch, e.g. (B, C, H, W), on the model's device.
        layers: `named_modules()` names to keep; None keeps every leaf layer.

    Returns:
        Layer name -> output tensor (detached, on the CPU), in the order the layers were asked for
        (registration order when `layers` is None). Layers the pass never reached are left out.

    Raises:
        KeyError: a name in `layers` is not a module of `model`.
    """
    with capture(model, layers) as outputs, evaluating(model), torch.no_grad():
        model(x)
    order = leaf_layers(model) if layers is None else list(layers)
    return {n: outputs[n] for n in order if n in outputs}


def probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities (B, classes) of a plain forward pass: eval mode, no gradients, model unchanged."""
    with model_lock(model), evaluating(model), torch.no_grad():
        return torch.softmax(model(x), dim=1)


def logits(model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float],
           batch_size: int = 500, device: torch.device | None = None) -> torch.Tensor:
    """Logits (N, classes) of `model` for uint8 images (N, C, H, W), normalised here; the model is left as it was."""
    device = device or next(model.parameters()).device
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    with evaluating(model), torch.no_grad():
        out = [model((images[i:i + batch_size].to(device).float() / 255 - m) / s).float().cpu()
               for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)
