"""The small networks the experiments train: a ×4 super-resolution net and a U-Net.

They are deliberately tiny (a few ten thousand parameters) so that a laptop-class CPU trains each in
seconds; they are the same code at every experiment size. Construct them under a seeded
``torch.random.fork_rng`` (see :func:`seeded`) so that a run's initialisation depends on its seed only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._core.checks import check_int, check_option, fail

__all__ = ["TinySR", "TinyUNet", "seeded"]


M = TypeVar("M", bound=nn.Module)


def seeded(seed: int, build: Callable[[], M]) -> M:
    """``build()`` with its parameters initialised from ``seed``, leaving torch's global generator as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """A small U-Net (Ronneberger et al. 2015): ``depth`` 2×-downsampling stages, channel width doubling
    per stage from ``width``, skip connections by concatenation, bilinear upsampling, logits out.

    Shape:
        input ``(N, in_channels, H, W)`` with H and W divisible by ``2**depth``; output
        ``(N, out_channels, H, W)`` (logits).

    Example:
        >>> net = TinyUNet(1, 2, width=4, depth=2)
        >>> tuple(net(torch.zeros(1, 1, 16, 16)).shape)
        (1, 2, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, depth: int = 2) -> None:
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", low=1)
        out_channels = check_int(out_channels, "out_channels", low=1)
        width = check_int(width, "width", low=1)
        self.depth = check_int(depth, "depth", low=1)
        widths = [width * 2**i for i in range(self.depth + 1)]
        self.down = nn.ModuleList([_conv_block(in_channels, widths[0])])
        self.down.extend(_conv_block(widths[i], widths[i + 1]) for i in range(self.depth))
        self.up = nn.ModuleList(_conv_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(self.depth)))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        out: Tensor = self.head(x)
        return out


class TinySR(nn.Module):
    """A small ×``scale`` super-resolution net: bicubic upsampling plus a learnt residual.

    The residual branch (convolutions at low resolution, then ``log2(scale)`` ×2 upsamplings: sub-pixel
    convolutions as in ESPCN, Shi et al. 2016, arXiv 1609.05158, with ``upsampler="pixelshuffle"``, or
    nearest-neighbour ×2 then a convolution, Odena et al. 2016, with ``"resize"``) starts at zero, so before
    training the output is the bicubic upsampling and each loss only decides which detail to add (global residual
    learning, as in VDSR, Kim et al. 2016, arXiv 1511.04587). Johnson et al. upsample with strided convolutions
    and no residual; the residual keeps a few hundred CPU steps of training comparable between losses.

    Shape:
        input ``(N, 3, h, w)`` in [0, 1]; output ``(N, 3, scale·h, scale·w)`` (not clamped).

    Example:
        >>> net = TinySR(scale=4, width=8)
        >>> lr = torch.rand(1, 3, 8, 8)
        >>> out = net(lr)
        >>> tuple(out.shape), bool(torch.allclose(out, net.upsample(lr)))
        ((1, 3, 32, 32), True)
    """

    def __init__(self, scale: int = 4, width: int = 32, blocks: int = 3,
                 upsampler: Literal["pixelshuffle", "resize"] = "pixelshuffle") -> None:
        super().__init__()
        check_option(upsampler, "upsampler", ("pixelshuffle", "resize"))
        self.scale = check_int(scale, "scale", low=2)
        if self.scale & (self.scale - 1):
            fail("scale", "a power of two", repr(scale))
        width = check_int(width, "width", low=1)
        blocks = check_int(blocks, "blocks", low=1)
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(blocks - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(self.scale.bit_length() - 1):
            if upsampler == "pixelshuffle":
                layers += [nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True)]
            else:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1),
                           nn.ReLU(inplace=True)]
        last = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        layers.append(last)
        self.residual = nn.Sequential(*layers)

    def upsample(self, x: Tensor) -> Tensor:
        """The bicubic ×scale upsampling the residual is added to."""
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.upsample(x) + self.residual(x)
        return out
