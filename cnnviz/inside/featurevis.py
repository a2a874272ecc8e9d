"""What a channel has learned: the images that excite it most (and where), and an input made to excite it.

A layer is a `named_modules()` name; `OUTPUT` (""), the name `named_modules()` gives the model itself, stands
for the model's output, the class scores, whose channels are the classes. Activations come through
`features.capture`, the project's one hook mechanism: every hook is removed and every training flag put back,
also after an error.

Activation maximisation follows Olah, Mordvintsev and Schubert, "Feature Visualization" (Distill, 2017), as
Lucid and its PyTorch port Lucent do it: the image is a spectrum in a decorrelated Fourier basis (scaled by
1/frequency), its colours decorrelated (Lucent's `color_correlation_svd_sqrt`), squashed into [0, 1] by a
sigmoid, and randomly jittered, scaled and rotated before each Adam step so the result does not depend on
exact pixel positions. It is written here (about 100 lines) rather than installed: torch-lucent 0.1.8 (May
2021, its last release) pins kornia<=0.4.1 and installs ipython, pytest and coveralls as run-time
dependencies, and its transforms are sized for 224-pixel ImageNet models (pad 12, jitter 8, resize to 224),
not for our 28- and 32-pixel ones.
"""
from __future__ import annotations

import copy
import math
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.inside import features

__all__ = ["OUTPUT", "TopExamples", "spatial_maxima", "RunningTop", "scan", "top_examples", "top_images", "Box",
           "receptive_fields", "receptive_field", "visualize", "visualize_channels"]

OUTPUT = ""  # the layer name of the class scores: `named_modules()` names the model itself ""

# Lucent's square root of the colour covariance of ImageNet (from its SVD), columns scaled to unit max norm:
# one step of a decorrelated parameter moves the pixels along the directions colours vary together in photos.
_COLOUR = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR = _COLOUR / _COLOUR.norm(dim=0).max()
_SQUASH = 4.0  # Lucid's divisor of the inverse FFT ("reduces saturation")
# Transformation robustness for 28-32 px inputs (Lucent's 224-px settings scaled down about 7x)
JITTER = 2.0     # pixels, each way
SCALE = 0.05     # zoom between 1 - SCALE and 1 + SCALE
ROTATE = 5.0     # degrees, each way
# Start noise, 30x Lucent's 0.01: on a nearly flat image every first-layer ReLU of mnist_cnn is off, so the gradient
# is exactly zero and the picture never moves; at 0.3 the pixels start with a standard deviation of about 0.07.
INIT = 0.3


# ---- top examples ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TopExamples:
    """The images that excite each channel of one layer most (or, with `lowest`, least), and where."""

    layer: str
    values: torch.Tensor     # (C, k) float: the channel's spatial maximum on each image, best first
    indices: torch.Tensor    # (C, k) int64: the images, numbered as they were fed (batch or data set index)
    positions: torch.Tensor  # (C, k, 2) int64: (y, x) of that maximum in the layer's map; (0, 0) for (B, C) outputs
    lowest: bool = False     # True: the least-exciting images, lowest first


def spatial_maxima(activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C) largest value of each channel on each image and (B, C, 2) its (y, x): what top examples rank by.

    A (B, C) output (class scores, a linear layer) is its own maximum, at (0, 0).

    Raises:
        ValueError: the activations are neither (B, C) nor (B, C, H, W).
    """
    if activations.dim() == 2:
        return activations, torch.zeros(*activations.shape, 2, dtype=torch.long)
    if activations.dim() != 4:
        raise ValueError(f"expected a (B, C) or (B, C, H, W) layer output, got {tuple(activations.shape)}")
    b, c, h, w = activations.shape
    values, flat = activations.reshape(b, c, h * w).max(dim=2)  # (B, C), (B, C)
    return values, torch.stack((flat // w, flat % w), dim=-1)   # (B, C), (B, C, 2)


class RunningTop:
    """The k best images per channel seen so far, merged batch by batch (memory C x k, not N x C).

    Ties go to the image seen first, as a stable sort of all N images would order them.
    """

    def __init__(self, k: int, lowest: bool = False) -> None:
        self.k, self.lowest, self.seen = k, lowest, 0
        self.values: torch.Tensor | None = None     # (C, <=k)
        self.indices: torch.Tensor | None = None    # (C, <=k)
        self.positions: torch.Tensor | None = None  # (C, <=k, 2)

    def update(self, values: torch.Tensor, positions: torch.Tensor) -> None:
        """Merge one batch's (B, C) maxima and (B, C, 2) positions; its images are numbered on from those seen."""
        b, c = values.shape
        vals, pos = values.T, positions.transpose(0, 1)                # (C, B), (C, B, 2)
        idx = torch.arange(self.seen, self.seen + b).expand(c, b)      # (C, B)
        if self.values is not None:  # kept candidates first: they were seen first, so they win ties
            vals = torch.cat((self.values, vals), 1)
            idx = torch.cat((self.indices, idx), 1)
            pos = torch.cat((self.positions, pos), 1)
        order = torch.sort(vals, dim=1, descending=not self.lowest, stable=True).indices[:, :self.k]  # (C, k)
        self.values, self.indices = vals.gather(1, order), idx.gather(1, order)
        self.positions = pos.gather(1, order[..., None].expand(-1, -1, 2))
        self.seen += b

    def result(self, layer: str) -> TopExamples:
        """What has been merged so far, as TopExamples of `layer`.

        Raises:
            ValueError: no image was merged.
        """
        if self.values is None:
            raise ValueError("no images: top examples need at least one")
        return TopExamples(layer, self.values, self.indices, self.positions, self.lowest)


def scan(model: nn.Module, layer: str, batches: Iterable[torch.Tensor], k: int = 9
         ) -> tuple[TopExamples, TopExamples]:
    """(most, least) exciting images of every channel of `layer` over normalised input batches, in one pass.

    Images are numbered in the order the batches give them. The model runs in eval mode without gradients and
    is left as it was; only the running top-k is kept, so a whole test set streams through in fixed memory.

    Raises:
        KeyError: `layer` is not a module of `model`.
        ValueError: `layer` gives no (B, C) or (B, C, H, W) tensor, or there are no images.
    """
    device = next(model.parameters()).device
    high, low = RunningTop(k), RunningTop(k, lowest=True)
    with features.capture(model, [layer]) as out, features.evaluating(model), torch.no_grad():
        for batch in batches:
            model(batch.to(device))
            if layer not in out:
                raise ValueError(f"layer {layer!r} gave no tensor in the forward pass")
            values, positions = spatial_maxima(out.pop(layer).float())  # (B, C), (B, C, 2)
            high.update(values, positions)
            low.update(values, positions)
    return high.result(layer), low.result(layer)


def _chunks(x: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    return (x[i:i + size] for i in range(0, len(x), size))


def top_examples(model: nn.Module, layer: str, x: torch.Tensor, k: int = 9, lowest: bool = False,
                 batch_size: int = 500) -> TopExamples:
    """For each channel of `layer`, the k images of `x` whose spatial maximum of that channel is largest.

    Args:
        model: any module; run in eval mode without gradients and left as it was.
        layer: a `named_modules()` name, or `OUTPUT` ("") for the class scores.
        x: normalised input images (N, C, H, W); run `batch_size` at a time.
        k: images per channel (fewer when `x` has fewer).
        lowest: the least-exciting images instead, lowest first.

    Returns:
        TopExamples with values, indices (into `x`) and (y, x) positions of the maxima, each (channels, k).
    """
    high, low = scan(model, layer, _chunks(x, batch_size), k)
    return low if lowest else high


def top_images(model: nn.Module, layer: str, x: torch.Tensor, k: int = 9, lowest: bool = False,
               batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices), both (channels, k), highest first: `top_examples` without the positions."""
    top = top_examples(model, layer, x, k, lowest, batch_size)
    return top.values, top.indices


# ---- receptive fields -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    """The input pixels one unit of a layer depends on: rows top..bottom-1, columns left..right-1, inside the image."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


_PROBES: weakref.WeakKeyDictionary[nn.Module, tuple[nn.Module, dict]] = weakref.WeakKeyDictionary()
_PROBES_GUARD = threading.Lock()


def _probe(model: nn.Module) -> tuple[nn.Module, dict]:
    """A float64 copy of `model` made linear with positive weights (and its box cache), built once per model.

    Every conv and linear weight becomes 1/fan-in and every bias 0, batch norm becomes the identity and max-pooling
    averages over the same windows, so on a small positive input every activation is positive and the gradient
    of a unit reaches exactly the pixels that some path connects it to: its receptive field, residual branches
    included. (Pooling called as a function inside `forward`, not as a module, still routes to one pixel.)
    """
    with _PROBES_GUARD:
        if model in _PROBES:
            return _PROBES[model]
        with features.model_lock(model):  # no capture's hooks are registered while we copy
            probe = copy.deepcopy(model).cpu().double().eval()
        for name, module in list(probe.named_modules()):
            swap = _averaging(module)
            if swap is not None:
                parent, _, child = name.rpartition(".")
                setattr(probe.get_submodule(parent), child, swap)
        with torch.no_grad():
            for module in probe.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.reset_parameters()  # weight 1, bias 0, running mean 0, running variance 1
                    continue
                for pname, p in module.named_parameters(recurse=False):
                    fan_in = p[0].numel() if p.dim() > 1 else 1
                    p.fill_(0.0 if pname == "bias" else 1.0 / fan_in)
            probe.requires_grad_(False)
        _PROBES[model] = (probe, {})
        return _PROBES[model]


def _averaging(module: nn.Module) -> nn.Module | None:
    """An average pool over the windows a max pool takes (whose gradient reaches every pixel), or None."""
    if isinstance(module, nn.MaxPool2d):
        if module.dilation not in (1, (1, 1)):
            raise ValueError("receptive fields of dilated max-pooling are not supported")
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return nn.AdaptiveAvgPool2d(module.output_size)
    return None


def receptive_fields(model: nn.Module, layer: str, input_shape: Sequence[int],
                     positions: Sequence[tuple[int, int]]) -> list[Box]:
    """The input box each (y, x) unit of `layer` sees, for inputs of `input_shape` (C, H, W), clipped to the image.

    Worked out from the gradient support of each unit on a linearised copy of the model (see `_probe`), so it is
    exact for any mix of padding, stride, dilation, pooling and skip connections. Cached per model, layer,
    input shape and position. For `OUTPUT` or a (B, C) layer the position is ignored: the box is all it sees.

    Raises:
        KeyError: `layer` is not a module of `model`.
        ValueError: a position lies outside the layer's map, or its unit sees only padding.
    """
    probe, cache = _probe(model)
    shape = tuple(int(n) for n in input_shape)
    keys = [(layer, shape, tuple(int(v) for v in p)) for p in positions]
    todo = sorted({key for key in keys if key not in cache})
    if todo:
        x = torch.full((len(todo), *shape), 1e-3, dtype=torch.float64, requires_grad=True)  # (P, C, H, W)
        with features.capture(probe, [layer], keep_graph=True) as out:
            probe(x)
        act = out[layer]
        if act.dim() == 4:
            ys, xs = (torch.tensor([key[2][i] for key in todo]) for i in (0, 1))
            h, w = act.shape[2:]
            if (ys < 0).any() or (ys >= h).any() or (xs < 0).any() or (xs >= w).any():
                raise ValueError(f"positions {[key[2] for key in todo]} are not all inside {layer!r}'s {h}x{w} map")
            act = act[torch.arange(len(todo)), :, ys, xs]  # (P, C): each probe asks about its own position
        (grad,) = torch.autograd.grad(act.sum(), x)
        support = grad.abs().sum(1) > 0  # (P, H, W)
        for key, seen in zip(todo, support):
            rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
            if not len(rows):
                raise ValueError(f"unit {key[2]} of {layer!r} sees only padding, no input pixel")
            cache[key] = Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    return [cache[key] for key in keys]


def receptive_field(model: nn.Module, layer: str, input_shape: Sequence[int], position: tuple[int, int]) -> Box:
    """The input box that unit (y, x) of `layer` sees: `receptive_fields` for one position."""
    return receptive_fields(model, layer, input_shape, [position])[0]


# ---- activation maximisation --------------------------------------------------------------------------------

def _frequency_scale(h: int, w: int) -> torch.Tensor:
    """1/frequency for each coefficient of a real 2-D FFT (h, w//2+1): Lucid's spectrum scaling, so that every
    frequency starts with equal energy in the image and low frequencies are as easy to change as high ones."""
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    return 1.0 / torch.sqrt(fx ** 2 + fy ** 2).clamp(min=1.0 / max(h, w))  # (h, w//2+1)


def _pixels(spectrum: torch.Tensor, scale: torch.Tensor, size: tuple[int, int], centre: torch.Tensor
            ) -> torch.Tensor:
    """(K, C, h, w//2+1, 2) spectrum -> (K, C, H, W) pixels in (0, 1): inverse FFT, colour mixing, sigmoid.

    `centre` (1, C, 1, 1) is the logit of the data's mean colour: a zero spectrum is the average image (black for
    MNIST), where the network's units respond, rather than mid-grey, where all of MNIST's first ReLUs are off.
    """
    image = torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=size, norm="ortho") / _SQUASH
    if image.shape[1] == 3:
        image = torch.einsum("kchw,dc->kdhw", image, _COLOUR.to(image))  # decorrelated -> RGB
    return torch.sigmoid(image + centre)


def _spectrum_of(pixels: torch.Tensor, scale: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """The spectrum whose `_pixels` are `pixels` (K, C, H, W) (clamped into the sigmoid's open range)."""
    image = torch.logit(pixels.clamp(0.01, 0.99)) - centre
    if image.shape[1] == 3:
        image = torch.einsum("kdhw,cd->kchw", image, torch.linalg.inv(_COLOUR).to(image))  # RGB -> decorrelated
    return torch.view_as_real(torch.fft.rfft2(image * _SQUASH, norm="ortho") / scale).contiguous()


def _random_warps(generators: list[torch.Generator], h: int, w: int) -> torch.Tensor:
    """(K, 2, 3) affine maps, each a random shift of up to JITTER px, zoom of SCALE and turn of ROTATE degrees."""
    draws = torch.stack([torch.rand(4, generator=g) * 2 - 1 for g in generators])  # (K, 4) in [-1, 1)
    angle = draws[:, 0] * math.radians(ROTATE)
    zoom = 1 + draws[:, 1] * SCALE
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    shift_x, shift_y = draws[:, 2] * JITTER * 2 / w, draws[:, 3] * JITTER * 2 / h  # in [-1, 1] grid units
    return torch.stack((torch.stack((cos, -sin * h / w, shift_x), 1),
                        torch.stack((sin * w / h, cos, shift_y), 1)), 1)  # (K, 2, 3)


def _warp(pixels: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (K, C, H, W) pixels through affine maps, reflecting at the border (pad + jitter + zoom + turn)."""
    grid = F.affine_grid(theta.to(pixels), list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _generator(seed: int, channel: int) -> torch.Generator:
    """A generator of its own for (seed, channel), so a channel's picture is the same alone or in a layer batch."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, channel]).generate_state(1)[0]))


def _layer_output(out: dict[str, torch.Tensor], layer: str) -> torch.Tensor:
    """The captured output of `layer`, taken out of `out` so the next pass starts empty.

    Raises:
        ValueError: the forward pass gave no tensor for `layer`.
    """
    if layer not in out:
        raise ValueError(f"layer {layer!r} gave no tensor in the forward pass")
    return out.pop(layer)


def _check_channels(act: torch.Tensor, channels: torch.Tensor, layer: str) -> None:
    """Refuse a channel that `layer` (whose output is `act`) does not have, before any random number is drawn.

    Raises:
        ValueError: a channel is not one of the layer's, or the output is neither (B, C) nor (B, C, H, W).
    """
    if act.dim() not in (2, 4):
        raise ValueError(f"layer {layer!r} gives {tuple(act.shape)}, not (B, C) or (B, C, H, W)")
    count = act.shape[1]
    bad = [int(c) for c in channels if not 0 <= c < count]
    if bad:
        raise ValueError(f"channel {bad[0]} does not exist: layer {layer!r} has {count} channels (0 to {count - 1})")


def _channel_objective(act: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """(K,) mean activation of channel channels[i] on image i (the class score for a (B, C) output)."""
    picked = act[torch.arange(len(channels)), channels.to(act.device)]  # (K,) or (K, H, W)
    return picked.flatten(1).mean(1) if picked.dim() > 1 else picked


def visualize_channels(model: nn.Module, layer: str, channels: Iterable[int], input_shape: Sequence[int],
                       mean: Sequence[float], std: Sequence[float], steps: int = 256, seed: int = 0, *,
                       start: torch.Tensor | None = None, lr: float = 0.05, every: int = 32,
                       on_step: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """One input per channel in `channels`, optimised side by side in one batch (a whole layer at once).

    Each channel draws from its own generator, seeded by (seed, channel), so its picture is the one `visualize`
    gives it alone. Arguments and errors as in `visualize`.

    Returns:
        (K, C, H, W) normalised inputs; `on_step(step, images)` gets the (K, C, H, W) batch so far.
    """
    c, h, w = (int(n) for n in input_shape)
    device = next(model.parameters()).device
    m = torch.tensor(list(mean), dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32, device=device).view(1, -1, 1, 1)
    wanted = torch.tensor([int(ch) for ch in channels], dtype=torch.long)
    scale = _frequency_scale(h, w).to(device)  # (h, w//2+1)
    centre = torch.logit(m.clamp(0.01, 0.99))  # (1, C, 1, 1)

    # autograd.grad asks only for d objective / d spectrum: no parameter's .grad is ever written
    with features.capture(model, [layer], keep_graph=True) as out, features.evaluating(model):
        with torch.no_grad():
            model(torch.zeros(1, c, h, w, device=device))  # the average image: how many channels are there?
        _check_channels(_layer_output(out, layer), wanted, layer)
        generators = [_generator(seed, int(ch)) for ch in wanted]
        if start is None:
            spectrum = torch.stack([torch.randn(c, h, w // 2 + 1, 2, generator=g) * INIT for g in generators])
        else:
            pixels = (start.to(device).float().view(1, c, h, w) * s + m).expand(len(wanted), -1, -1, -1)
            spectrum = _spectrum_of(pixels, scale, centre)
        spectrum = spectrum.to(device).requires_grad_(True)  # (K, C, h, w//2+1, 2)
        optimiser = torch.optim.Adam([spectrum], lr=lr)

        def normalised() -> torch.Tensor:
            with torch.no_grad():
                return ((_pixels(spectrum, scale, (h, w), centre) - m) / s).cpu()

        for step in range(1, steps + 1):
            pixels = _warp(_pixels(spectrum, scale, (h, w), centre), _random_warps(generators, h, w))
            model((pixels - m) / s)  # (K, C, H, W)
            objective = _channel_objective(_layer_output(out, layer), wanted)  # (K,)
            (spectrum.grad,) = torch.autograd.grad(-objective.sum(), spectrum)
            optimiser.step()
            if on_step is not None and (step % every == 0 or step == steps):
                on_step(step, normalised())
        return normalised()


def visualize(model: nn.Module, layer: str, channel: int, input_shape: Sequence[int], mean: Sequence[float],
              std: Sequence[float], steps: int = 256, seed: int = 0, *, start: torch.Tensor | None = None,
              lr: float = 0.05, every: int = 32, on_step: Callable[[int, torch.Tensor], None] | None = None
              ) -> torch.Tensor:
    """An input that excites one channel of `layer` as strongly as it can (activation maximisation).

    Maximises the mean of the channel's map (for `OUTPUT`, the class score `channel`) with Adam over a
    decorrelated Fourier parameterisation, under small random jitter, zoom and rotation (see the module notes).

    Args:
        model: any module; run in eval mode and left exactly as it was (flags, hooks, no parameter gradients).
        layer: a `named_modules()` name, or `OUTPUT` ("") for the class scores.
        channel: the channel (or class) to excite.
        input_shape: (C, H, W) the model takes.
        mean, std: the model's input normalisation, per channel.
        steps: Adam steps; seed: the seed of this picture's own random generator (the global one is not used).
        start: a normalised (C, H, W) input to start from ("what would make my picture more of channel 17?");
            None starts from faint noise.
        lr: Adam's learning rate, per step on the spectrum.
        every, on_step: `on_step(step, image)` is called every `every` steps and after the last one with the
            normalised (C, H, W) input so far, so a page can show the optimisation live.

    Returns:
        A float (C, H, W) input in the model's normalised space; `x * std + mean` lies in [0, 1].
        The same arguments give the same tensor.

    Raises:
        KeyError: `layer` is not a module of `model`.
        ValueError: `channel` is not one of the layer's channels, or the layer gives no tensor.
    """
    report = None if on_step is None else (lambda step, images: on_step(step, images[0]))
    return visualize_channels(model, layer, [channel], input_shape, mean, std, steps, seed, start=start, lr=lr,
                              every=every, on_step=report)[0]
