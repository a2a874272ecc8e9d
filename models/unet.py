"""A small U-Net for the digit canvases: three levels down, a bottom, three levels up, a class score per pixel."""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 3  # poolings: the input's height and width are padded to a multiple of 2 ** LEVELS


def double_conv(c_in: int, c_out: int, activation: str) -> nn.Sequential:
    """(3x3 conv, batch norm, activation) twice: one level of the U."""
    act = {"relu": nn.ReLU, "elu": nn.ELU}[activation]
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), bn1=nn.BatchNorm2d(c_out), act1=act(),
        conv2=nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), bn2=nn.BatchNorm2d(c_out), act2=act(),
    ))


def upsampler(c_in: int, c_out: int, how: str) -> nn.Module:
    """Double the height and width: a learned 2x2 transposed conv, or nearest-neighbour copies then a 3x3 conv."""
    if how == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, kernel_size=2, stride=2)
    return nn.Sequential(OrderedDict(upsample=nn.Upsample(scale_factor=2, mode="nearest"),
                                     conv=nn.Conv2d(c_in, c_out, 3, padding=1)))


class PadTo(nn.Module):
    """Pad the bottom and right by repeating the edge pixels up to a multiple of `step`, so every pooling halves
    evenly (a module, not a call in forward, so layer tables show the padded size)."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return F.pad(x, (0, -w % self.step, 0, -h % self.step), mode="replicate")


class CropTo(nn.Module):
    """Cut the logits back to the input's height and width: the padded rows and columns get no label."""

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return x[..., :size[0], :size[1]]


class UNet(nn.Module):
    """Encoder enc1..enc3 and decoder dec3..dec1 in pairs of equal size; dec_k also reads enc_k when skips are on.

    Any height and width work: the input is padded at the bottom and right by repeating its edge pixels up to a
    multiple of 8 (64 x 84 -> 64 x 88, the canvases' black border repeated), and the logits are cropped back.
    """

    def __init__(self, upsample_mode: str = "transposed", activation: str = "relu", skips: bool = True,
                 width: int = 16, classes: int = 11) -> None:
        super().__init__()
        if upsample_mode not in ("transposed", "nearest"):
            raise ValueError(f"upsample must be 'transposed' or 'nearest', not {upsample_mode!r}")
        if activation not in ("relu", "elu"):
            raise ValueError(f"activation must be 'relu' or 'elu', not {activation!r}")
        self.skips = skips
        w = [width, 2 * width, 4 * width, 8 * width]  # channels of enc1, enc2, enc3, bottom
        skip = 1 if skips else 0
        self.pad = PadTo(2 ** LEVELS)
        self.enc1, self.pool1 = double_conv(1, w[0], activation), nn.MaxPool2d(2)
        self.enc2, self.pool2 = double_conv(w[0], w[1], activation), nn.MaxPool2d(2)
        self.enc3, self.pool3 = double_conv(w[1], w[2], activation), nn.MaxPool2d(2)
        self.bottom = double_conv(w[2], w[3], activation)
        self.up3, self.dec3 = upsampler(w[3], w[2], upsample_mode), double_conv((1 + skip) * w[2], w[2], activation)
        self.up2, self.dec2 = upsampler(w[2], w[1], upsample_mode), double_conv((1 + skip) * w[1], w[1], activation)
        self.up1, self.dec1 = upsampler(w[1], w[0], upsample_mode), double_conv((1 + skip) * w[0], w[0], activation)
        self.head = nn.Conv2d(w[0], classes, kernel_size=1)
        self.crop = CropTo()

    def _join(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The decoder's input: the upsampled map, with the encoder's map of the same size beside it when skips."""
        return torch.cat([up, skip], 1) if self.skips else up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.pad(x)                                      # (B, 1, 64, 88)
        e1 = self.enc1(x)                                    # (B, w, 64, 88)
        e2 = self.enc2(self.pool1(e1))                       # (B, 2w, 32, 44)
        e3 = self.enc3(self.pool2(e2))                       # (B, 4w, 16, 22)
        b = self.bottom(self.pool3(e3))                      # (B, 8w, 8, 11)
        d3 = self.dec3(self._join(self.up3(b), e3))          # (B, 4w, 16, 22)
        d2 = self.dec2(self._join(self.up2(d3), e2))         # (B, 2w, 32, 44)
        d1 = self.dec1(self._join(self.up1(d2), e1))         # (B, w, 64, 88)
        return self.crop(self.head(d1), size)                # (B, classes, 64, 84)


def build(upsample: str = "transposed", activation: str = "relu", skips: bool = True, width: int = 16,
          classes: int = 11) -> UNet:
    """A U-Net for (B, 1, H, W) canvases giving (B, classes, H, W) logits; the ablations are its arguments.

    upsample: "transposed" (ConvTranspose2d 2x2, stride 2) or "nearest" (nn.Upsample x2 then a 3x3 conv).
    activation: "relu" or "elu" after every batch norm. skips: concatenate enc_k into dec_k (False: dec_k sees
    only the upsampled map, so its first conv takes half the channels). width: enc1's channels, doubled per level.
    """
    return UNet(upsample, activation, skips, width, classes)
