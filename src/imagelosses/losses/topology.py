"""Mosinska et al.'s topology-aware loss for thin structures and its pixel + topology combination.

- :func:`topology_loss` / :class:`TopologyLoss`: VGG feature maps of the predicted **probability map** and
  of the true mask compared layer by layer (a :class:`~imagelosses.backbones.feature_loss.FeatureLoss`, so
  it shares a :class:`~imagelosses.backbones.vgg.VGGFeatures` with the other feature losses and runs in
  :class:`~imagelosses.losses.combined.CombinedFeatureLoss`'s single pass).
- :func:`topology_aware_loss` / :class:`TopologyAwareLoss`: a pixel loss on the **logits** (binary
  cross-entropy by default) plus ``μ ·`` the topology loss on ``sigmoid(logits)``.

The paper's iterative refinement (the network re-applied K times) is in :mod:`imagelosses.losses.refinement`.

Which signature takes what: ``topology_loss``/``TopologyLoss`` take probabilities in [0, 1]
(``check_range=True`` refuses anything else, e.g. logits passed by mistake); ``topology_aware_loss``/
``TopologyAwareLoss`` take logits. Targets are masks in [0, 1] (checked in eager mode) of shape
``(N, 1, H, W)``: a 3-channel mask is refused (the map is repeated to 3 channels inside).

Default layers (``layers=None``), as public reproductions of the paper: ``conv1_2, conv2_2, conv3_4`` of
VGG19 (the paper's network); with a VGG16 extractor, the analogue ``conv1_2, conv2_2, conv3_3``. Offline
only VGG16 weights exist (``extractor="vgg16-oxford"``), so offline the loss runs on the VGG16 analogue, not
on the paper's network. ``conv`` taps are pre-activation maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._core.checks import (
    check_bool,
    check_floating,
    check_ndim,
    check_nonempty,
    check_prediction,
    check_same_shape,
    eager,
    fail,
    fmt_shape,
    require_finite,
)
from .._core.dtypes import at_least_float32
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce
from ..backbones.feature_loss import (
    FeatureLoss,
    Features,
    LayerWeights,
    add_extractor_parameter,
    check_layer_options,
    layer_weights_field,
)
from ..backbones.presets import Extractor, extractor_arch, resolve_extractor
from ..backbones.vgg import VGGFeatures, check_layers
from ..backbones.weights import layer_names
from .perceptual import perceptual_core
from .segmentation import CrossEntropyOptions, check_binary_values, cross_entropy_core

__all__ = [
    "MOSINSKA_LAYERS",
    "MOSINSKA_MU",
    "TopologyAwareLoss",
    "TopologyAwareOptions",
    "TopologyLoss",
    "TopologyOptions",
    "TopologyParts",
    "mosinska_layers",
    "receptive_field",
    "topology_aware_core",
    "topology_aware_loss",
    "topology_core",
    "topology_loss",
]

#: The layers of public reproductions of Mosinska et al.: VGG19's, and the VGG16 analogue.
MOSINSKA_LAYERS: dict[str, tuple[str, ...]] = {"vgg19": ("conv1_2", "conv2_2", "conv3_4"),
                                               "vgg16": ("conv1_2", "conv2_2", "conv3_3")}
#: μ of ``L = L_bce + μ·L_top`` in public reproductions (tuned for torchvision-scale features).
MOSINSKA_MU = 0.1


def receptive_field(arch: str, layer: str) -> int:
    """Side in pixels of the receptive field of one unit of ``layer`` (3×3 convolutions, 2×2 pools):
    5 at conv1_2, 14 at conv2_2, 40 at conv3_3, 48 at conv3_4."""
    size, jump = 1, 1
    for name in layer_names(arch):
        if name.startswith("conv"):
            size += 2 * jump
        elif name.startswith("pool"):
            size += jump
            jump *= 2
        if name == layer:
            break
    return size


def mosinska_layers(layers: str | Sequence[str] | None, arch: str | None) -> str | Sequence[str] | None:
    """``layers`` as given (checked to be layers of ``arch`` when there is one), or for None Mosinska's layers of
    ``arch`` (None without an arch: the options then refuse it, as feature dicts leave no extractor to pick
    them)."""
    if arch is None:
        return layers
    return MOSINSKA_LAYERS[arch] if layers is None else check_layers(layers, arch, "layers")


def _check_topology_layers(options: TopologyOptions | TopologyAwareOptions) -> None:
    if options.layers is None:
        fail("layers", "layer names when the inputs are feature dicts (no extractor to pick Mosinska's layers)",
             "None")
    check_layer_options(options, "layers", "layer_weights", 1.0)


@dataclass(frozen=True)
class TopologyOptions(Options):
    """The options of :func:`topology_loss` and :class:`TopologyLoss`: the layers (None: Mosinska's for the
    extractor's arch, filled in before the options are built), one weight per layer (1 by default), the
    reduction and ``check_range``."""

    layers: tuple[str, ...] = layer_weights_field()
    layer_weights: tuple[float, ...] = layer_weights_field()
    reduction: Reduction = "mean"
    check_range: bool = False

    def validate(self) -> None:
        _check_topology_layers(self)


def _check_map(x: Tensor, name: str, what: str, extractor: VGGFeatures | None, layers: tuple[str, ...]) -> None:
    """A (N, 1, H, W) map at least as large as the receptive field of the deepest layer."""
    check_floating(x, name)
    check_ndim(x, name, (4,), f"(N, 1, H, W) ({what})")
    if x.shape[1] != 1:
        fail(name, f"one channel (N, 1, H, W) ({what}; it is repeated to 3 channels inside)",
             f"shape {fmt_shape(x.shape)}")
    check_nonempty(x, name)
    if extractor is not None:
        order = layer_names(extractor.arch)
        deepest = max(layers, key=order.index)
        size = receptive_field(extractor.arch, deepest)
        if x.shape[-2] < size or x.shape[-1] < size:
            fail(name, f"height and width >= {size}, the receptive field of {deepest!r} ({extractor.arch})",
                 f"shape {fmt_shape(x.shape)}")


def _check_probabilities(x: Tensor, name: str, hint: str) -> None:
    if eager() and x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        if not (0.0 <= lo and hi <= 1.0):  # NaN fails too
            fail(name, f"probabilities in [0, 1] ({hint})", f"values in [{lo:.4g}, {hi:.4g}]")


def topology_loss(input: Tensor | Features, target: Tensor | Features, *, extractor: Extractor = None,
                  layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                  reduction: Reduction = "mean", check_range: bool = False) -> Tensor:
    """Mosinska et al.'s topology loss: VGG feature maps of a probability map against those of the mask.

    Per sample, with ``l_n^m`` the ``m``-th feature map of layer ``n`` (``C_n`` maps of ``H_n × W_n``) and
    the probability map ``p`` and mask ``y`` repeated to 3 channels:

    ``L = Σ_n w_n / (C_n H_n W_n) · Σ_m ‖l_n^m(y) − l_n^m(p)‖²₂``.

    **Normalisation**: each layer's sum of squares is divided by its number of elements ``C_n H_n W_n``
    (the mean squared difference, as public reproductions compute it with ``MSELoss``), so the value does not
    grow with the image size and μ = 0.1 keeps its meaning across sizes. The paper's unnormalised
    ``Σ_n Σ_m ‖·‖²`` is ``layer_weights=[C_n H_n W_n …]``. Layer weights ``w_n`` default to 1. ``"mean"``
    averages the per-sample values over the batch. Feature scale depends on the weight source: the Oxford
    (Caffe) network sees ``255·x``, so its values are far larger than torchvision's; rebalance μ.

    Args:
        input: the predicted probability map ``(N, 1, H, W)`` in [0, 1] (not logits: ``check_range=True``
            refuses values outside [0, 1]), or its feature dict.
        target: the true mask ``(N, 1, H, W)`` in [0, 1] (checked in eager mode), or its feature dict.
        extractor: the backbone for image arguments: a :class:`~imagelosses.backbones.vgg.VGGFeatures`, or a
            preset name (``"vgg16-oxford"``, ``"vgg19-imagenet"``, ...; built on every call); None: feature dicts.
        layers: default (None) Mosinska's layers for the extractor's arch: VGG19 ``conv1_2, conv2_2,
            conv3_4``; VGG16 ``conv1_2, conv2_2, conv3_3`` (the offline case, ``"vgg16-oxford"``).
        layer_weights: one non-negative weight per layer (sequence or dict), default 1.
        reduction: ``"none"`` → ``(N,)``, ``"mean"`` (over the batch), ``"sum"``.
        check_range: refuse an ``input`` outside [0, 1] (reads the values: eager only).

    Shape:
        input, target ``(N, 1, H, W)`` with ``H, W`` at least the receptive field of the deepest layer
        (14 px at conv2_2, 40 at conv3_3, 48 at conv3_4); output ``(N,)`` for ``"none"``.

    Raises:
        ValueError: a map with other than one channel, smaller than the receptive field, mismatched
            shapes, a target outside [0, 1], an input outside [0, 1] when ``check_range``, unknown layers.
        TypeError: non-floating tensors, wrong option types.

    References:
        Mosinska, Márquez-Neila, Koziński, Fua, "Beyond the Pixel-Wise Loss for Topology-Aware Delineation",
        CVPR 2018, arXiv 1712.02190.

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("conv1_2", "conv2_2"), weights=None)  # "vgg16-oxford" for real use
        >>> mask = torch.zeros(1, 1, 16, 16); mask[..., 8, :] = 1
        >>> float(topology_loss(mask, mask, extractor=vgg, layers=("conv1_2", "conv2_2")))
        0.0
    """
    layers = mosinska_layers(layers, extractor_arch(extractor))
    options = TopologyOptions.pick(locals())
    return _topology(input, target, resolve_extractor(extractor, options.layers), options)


def topology_core(input: Tensor | Features, target: Tensor | Features, extractor: nn.Module | None, *,
                  layers: tuple[str, ...], layer_weights: Sequence[float], reduction: Reduction,
                  check_range: bool) -> Tensor:
    """The topology loss from checked options (the maps or feature dicts are checked here)."""
    vgg = extractor if isinstance(extractor, VGGFeatures) else None
    if isinstance(input, Tensor):
        _check_map(input, "input", "a probability map", vgg, layers)
        if check_range:
            _check_probabilities(input, "input", "pass sigmoid(logits), not logits")
    if isinstance(target, Tensor):
        _check_map(target, "target", "a mask", vgg, layers)
        if isinstance(input, Tensor):
            check_same_shape(target, "target", input, "input")
        check_binary_values(target, torch.ones_like(target, dtype=torch.bool))
    return perceptual_core(input, target, extractor, layers=layers, layer_weights=layer_weights, criterion="mse",
                           reduction=reduction, check_range=False)  # the mask target is checked above, in [0, 1]


def _topology(input: Tensor | Features, target: Tensor | Features, extractor: nn.Module | None,
              options: TopologyOptions) -> Tensor:
    return topology_core(input, target, extractor, layers=options.layers, layer_weights=options.layer_weights,
                         reduction=options.reduction, check_range=options.check_range)


class TopologyLoss(FeatureLoss[TopologyOptions], function=topology_loss):
    """Mosinska et al.'s topology loss on a probability map; see :func:`topology_loss`.

    ``TopologyLoss(*, extractor=None, layers=None, layer_weights=None, reduction="mean", check_range=False)``,
    called as ``loss(input, target)``: probability map and mask ``(N, 1, H, W)``, or their feature dicts (as
    :class:`~imagelosses.losses.combined.CombinedFeatureLoss` passes them). ``extractor=None`` builds
    ``"vgg19-imagenet"`` (the paper's network; torchvision's download) with the layers ``conv1_2, conv2_2,
    conv3_4``; ``extractor="vgg16-oxford"`` builds VGG16 (offline) with ``conv1_2, conv2_2, conv3_3``; an
    extractor given decides the arch.

    Example:
        >>> loss = TopologyLoss(extractor="vgg16-random", layers="conv2_2")
        >>> loss(torch.rand(2, 1, 16, 16), torch.ones(2, 1, 16, 16)).shape
        torch.Size([])
    """

    Options = TopologyOptions
    default_extractor = "vgg19-imagenet"

    def __init__(self, *, extractor: Extractor = None, **options: Any) -> None:
        options["layers"] = mosinska_layers(options.get("layers"), extractor_arch(extractor, self.default_extractor))
        super().__init__(extractor=extractor, **options)

    @property
    def checks_target_range(self) -> bool:
        """True: the mask target is always checked to lie in [0, 1] (``check_range`` is about the input here)."""
        return True

    def forward(self, input: Tensor | Features, target: Tensor | Features) -> Tensor:
        return _topology(input, target, self.extractor, self.current_options())


# ------------------------------------------------------------------------------------- pixel + topology
class TopologyParts(NamedTuple):
    """``total = pixel + mu · topology``, each reduced as asked (``(N,)`` for ``"none"``)."""

    total: Tensor
    pixel: Tensor
    topology: Tensor


PixelLoss = Callable[[Tensor, Tensor], Tensor]
#: The default pixel term, binary cross-entropy from logits per pixel (built once: ``forward`` stays compilable).
_PER_PIXEL_BCE = CrossEntropyOptions(reduction="none")


@dataclass(frozen=True)
class TopologyAwareOptions(Options):
    """The options of :func:`topology_aware_loss` and :class:`TopologyAwareLoss`: μ, the pixel loss (None:
    BCE from logits), the topology term's layers and layer weights (as :class:`TopologyOptions`), the
    reduction and ``check_finite``."""

    mu: float = number(MOSINSKA_MU, low=0.0)
    pixel_loss: PixelLoss | None = None
    layers: tuple[str, ...] = layer_weights_field()
    layer_weights: tuple[float, ...] = layer_weights_field()
    reduction: Reduction = "mean"
    check_finite: bool = False

    def validate(self) -> None:
        if self.pixel_loss is not None and not callable(self.pixel_loss):
            fail("pixel_loss", "None (binary cross-entropy from logits) or a loss on (logits, target) such as "
                 "DiceLoss()", type(self.pixel_loss).__name__, exc=TypeError)
        _check_topology_layers(self)


def topology_aware_loss(input: Tensor, target: Tensor, *, extractor: Extractor = None,
                        mu: float = MOSINSKA_MU, pixel_loss: PixelLoss | None = None,
                        layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                        reduction: Reduction = "mean", return_parts: bool = False,
                        check_finite: bool = False) -> Tensor | TopologyParts:
    """``L = L_pixel(x, y) + μ · L_top(σ(x), y)`` from **logits** ``x`` (Mosinska et al.'s objective).

    ``L_pixel`` is, by default, binary cross-entropy from the logits averaged over each sample's pixels
    (so ``"none"`` gives ``(N,)`` per-sample values, ``"mean"`` their average — the BCE mean over all
    pixels — plus ``μ·`` the batch mean of the topology loss, and ``"sum"`` adds the per-sample values).
    ``pixel_loss`` may be any loss of ours on ``(logits, target)`` (``DiceLoss()``, ``FocalLoss()``, a
    ``PixelCrossEntropyLoss`` with class weights, ...), used as configured: it must return a scalar for
    ``"mean"``/``"sum"`` or ``(N,)`` for ``"none"``. ``L_top`` is :func:`topology_loss` of the
    probability map ``σ(x)`` (computed in at least float32).

    Precision: a composite follows its widest part. The topology term is a feature loss, which returns
    float32 for half inputs (its sum over feature maps routinely exceeds float16's 65504), so the default BCE
    term is computed in float32 as well and the total, like each part, is float32 for float16/bfloat16 logits
    (never a half ``inf``); float32/float64 logits give their own dtype.

    Args:
        input: logits ``(N, 1, H, W)``.
        target: mask ``(N, 1, H, W)`` in [0, 1].
        extractor: the shared :class:`~imagelosses.backbones.vgg.VGGFeatures`, or a preset name (built on every
            call).
        mu: weight μ ≥ 0 of the topology term (0.1 in public reproductions, for torchvision-scale
            features; far smaller with the Oxford weights, whose features are ~255× larger).
        pixel_loss: None (BCE from logits) or a loss module/function on ``(logits, target)``.
        layers, layer_weights: as :func:`topology_loss` (default Mosinska's layers for the extractor).
        return_parts: return :class:`TopologyParts` (total, pixel, topology).
        check_finite: refuse NaN/inf logits or targets.

    Raises:
        ValueError: as :func:`topology_loss`, negative ``mu``, a pixel loss whose output has the wrong shape,
            non-finite values when ``check_finite``. TypeError: a ``pixel_loss`` that is not callable.

    References:
        Mosinska et al., arXiv 1712.02190.
    """
    layers = mosinska_layers(layers, extractor_arch(extractor))
    options = TopologyAwareOptions.pick(locals())
    check_bool(return_parts, "return_parts")
    vgg = resolve_extractor(extractor, options.layers)
    return topology_aware_core(input, target, vgg, options, return_parts=return_parts)


def topology_aware_core(input: Tensor, target: Tensor, extractor: nn.Module | None, options: TopologyAwareOptions,
                        *, return_parts: bool = False) -> Tensor | TopologyParts:
    """The topology-aware loss from checked options (the logits and the mask are checked here)."""
    layers, reduction, check_finite = options.layers, options.reduction, options.check_finite
    check_prediction(input, check_finite)
    vgg = extractor if isinstance(extractor, VGGFeatures) else None
    _check_map(input, "input", "logits", vgg, layers)
    _check_map(target, "target", "a mask", vgg, layers)
    check_same_shape(target, "target", input, "input")
    if check_finite:
        require_finite(target, "target")
    if options.pixel_loss is None:
        wide = at_least_float32(input)  # the pixel term in float32 too: the sum is float32 (below)
        pixel = cross_entropy_core(wide, target.to(wide.dtype) if target.is_floating_point() else target, None,
                                   _PER_PIXEL_BCE).flatten(1).mean(dim=1)
        pixel = reduce(pixel, reduction)
    else:
        pixel = options.pixel_loss(input, target)
        want = (input.shape[0],) if reduction == "none" else ()
        if not isinstance(pixel, Tensor) or tuple(pixel.shape) != want:
            got = f"shape {fmt_shape(pixel.shape)}" if isinstance(pixel, Tensor) else type(pixel).__name__
            fail("pixel_loss", f"a value of shape {fmt_shape(want)} for reduction={reduction!r} (configure the "
                 "pixel loss's own reduction to match)", got)
    probs = torch.sigmoid(at_least_float32(input))
    topo = topology_core(probs, target.to(probs.dtype), extractor, layers=layers, layer_weights=options.layer_weights,
                         reduction=reduction, check_range=False)
    # A composite follows its widest part: the topology term is a feature loss, float32 for half inputs (its
    # sum over feature maps routinely exceeds float16's 65504), so the sum is float32 too, never a half inf.
    pixel = pixel.to(topo.dtype) if pixel.dtype in (torch.float16, torch.bfloat16) else pixel
    total = pixel + options.mu * topo
    if return_parts:
        return TopologyParts(total, pixel, topo)
    return total


class TopologyAwareLoss(OptionsLoss[TopologyAwareOptions], function=topology_aware_loss):
    """``pixel(logits, y) + μ · topology(σ(logits), y)``; see :func:`topology_aware_loss`.

    ``TopologyAwareLoss(*, extractor=None, mu=0.1, pixel_loss=None, layers=None, layer_weights=None,
    reduction="mean", check_finite=False)``, called as ``loss(input, target, *, return_parts=False)`` with
    logits ``input``. The topology term is the submodule ``topology`` (a :class:`TopologyLoss`), so
    ``loss.extractor`` is its backbone and ``loss.topology`` can also join a
    :class:`~imagelosses.losses.combined.CombinedFeatureLoss`. ``extractor=None`` builds ``"vgg19-imagenet"``;
    ``"vgg16-oxford"`` builds VGG16 (offline). A ``pixel_loss`` that is a module is a submodule too (moved
    by ``.to``).

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("conv1_2", "conv2_2"), weights=None)
        >>> loss = TopologyAwareLoss(extractor=vgg, layers=("conv1_2", "conv2_2"), mu=0.1)
        >>> parts = loss(torch.randn(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), return_parts=True)
        >>> bool(parts.total > parts.pixel)
        True
    """

    Options = TopologyAwareOptions

    def __init__(self, *, extractor: Extractor = None, **options: Any) -> None:
        default = TopologyLoss.default_extractor
        options["layers"] = mosinska_layers(options.get("layers"), extractor_arch(extractor, default))
        super().__init__(**options)
        self.topology = TopologyLoss(extractor=extractor, layers=self.options.layers,
                                     layer_weights=self.options.layer_weights, reduction=self.options.reduction)
        self._register_pixel_loss()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "pixel_loss":
            self._register_pixel_loss()

    def _register_pixel_loss(self) -> None:
        """Keep a pixel loss that is a module as the submodule ``pixel_loss`` (``.to`` moves its buffers)."""
        self._modules.pop("pixel_loss", None)
        if isinstance(self.options.pixel_loss, nn.Module):
            self._modules["pixel_loss"] = self.options.pixel_loss  # add_module refuses an option's name

    @property
    def extractor(self) -> VGGFeatures:
        return self.topology.extractor

    def forward(self, input: Tensor, target: Tensor, *, return_parts: bool = False) -> Tensor | TopologyParts:
        return topology_aware_core(input, target, self.topology.extractor, self.current_options(),
                                   return_parts=return_parts)


add_extractor_parameter(TopologyAwareLoss)
