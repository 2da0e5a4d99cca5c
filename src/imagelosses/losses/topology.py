"""Mosinska et al.'s topology-aware loss for thin structures, its pixel + topology combination, and the
paper's iterative refinement.

- :func:`topology_loss` / :class:`TopologyLoss`: VGG feature maps of the predicted **probability map** and
  of the true mask compared layer by layer (a :class:`~imagelosses.backbones.feature_loss.FeatureLoss`, so
  it shares a :class:`~imagelosses.backbones.vgg.VGGFeatures` with the other feature losses and runs in
  :class:`~imagelosses.losses.combined.CombinedFeatureLoss`'s single pass).
- :func:`topology_aware_loss` / :class:`TopologyAwareLoss`: a pixel loss on the **logits** (binary
  cross-entropy by default) plus ``μ ·`` the topology loss on ``sigmoid(logits)``.
- :func:`refinement_weights`, :func:`iterative_refinement`, :func:`refinement_loss`: the network re-applied
  K times to ``image ⊕ previous prediction``, from an empty map, the step losses weighted ``k/Z``.

Which signature takes what: ``topology_loss``/``TopologyLoss`` take probabilities in [0, 1]
(``check_range=True`` refuses anything else, e.g. logits passed by mistake); ``topology_aware_loss``/
``TopologyAwareLoss`` take logits. Targets are masks in [0, 1] (checked in eager mode) of shape
``(N, 1, H, W)``: a 3-channel mask is refused (the map is repeated to 3 channels inside).

Default layers (``layers=None``), as public reproductions of the paper: ``conv1_2, conv2_2, conv3_4`` of
VGG19 (the paper's network); with a VGG16 extractor, the analogue ``conv1_2, conv2_2, conv3_3``. Offline
only VGG16 weights exist (``weights="oxford"``), so offline the loss runs on the VGG16 analogue, not on the
paper's network. ``conv`` taps are pre-activation maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._core.checks import (
    check_bool,
    check_floating,
    check_int,
    check_ndim,
    check_nonempty,
    check_number,
    check_option,
    check_prediction,
    check_same_shape,
    eager,
    fail,
    fmt_shape,
    require_finite,
)
from .._core.dtypes import at_least_float32
from .._core.module import Loss
from .._core.reduction import Reduction, check_reduction, reduce
from ..backbones.feature_loss import UNSET, FeatureLoss, Features, LayerWeights, check_layer_weights
from ..backbones.vgg import ARCHS, VGGFeatures, check_layers
from ..backbones.weights import layer_names
from .perceptual import perceptual_core
from .segmentation import check_binary_values, pixel_cross_entropy

__all__ = [
    "MOSINSKA_LAYERS",
    "MOSINSKA_MU",
    "RefinementParts",
    "TopologyAwareLoss",
    "TopologyLoss",
    "TopologyParts",
    "iterative_refinement",
    "receptive_field",
    "refinement_loss",
    "refinement_weights",
    "topology_aware_loss",
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


def _default_layers(layers: str | Sequence[str] | None, arch: str | None) -> tuple[str, ...]:
    if layers is not None:
        return check_layers(layers, arch, "layers")
    if arch is None:
        fail("layers", "layer names when the inputs are feature dicts (no extractor to pick Mosinska's layers)",
             "None")
    return MOSINSKA_LAYERS[arch]


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


def topology_loss(input: Tensor | Features, target: Tensor | Features, *, extractor: VGGFeatures | None = None,
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
        extractor: the :class:`~imagelosses.backbones.vgg.VGGFeatures` for image arguments.
        layers: default (None) Mosinska's layers for the extractor's arch: VGG19 ``conv1_2, conv2_2,
            conv3_4``; VGG16 ``conv1_2, conv2_2, conv3_3`` (the offline case, ``weights="oxford"``).
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
        >>> vgg = VGGFeatures("vgg16", ("conv1_2", "conv2_2"), weights=None)  # weights="oxford" for real use
        >>> mask = torch.zeros(1, 1, 16, 16); mask[..., 8, :] = 1
        >>> float(topology_loss(mask, mask, extractor=vgg, layers=("conv1_2", "conv2_2")))
        0.0
    """
    arch = extractor.arch if isinstance(extractor, VGGFeatures) else None
    resolved = _default_layers(layers, arch)
    weights = check_layer_weights(resolved, layer_weights, 1.0)
    return _topology(input, target, extractor, layers=resolved, layer_weights=weights,
                     reduction=check_reduction(reduction), check_range=check_bool(check_range, "check_range"))


def _topology(input: Tensor | Features, target: Tensor | Features, extractor: nn.Module | None, *,
              layers: tuple[str, ...], layer_weights: tuple[float, ...], reduction: str, check_range: bool) -> Tensor:
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
                       reduction=reduction)


def _resolve_arch(extractor: VGGFeatures | None, arch: Any, weights: Any) -> Any:
    """The arch whose default layers apply: the extractor's, the one asked for, VGG16 for the Oxford
    weights (no VGG19 exists offline), else VGG19 (the paper's)."""
    if isinstance(extractor, VGGFeatures):
        return extractor.arch
    if arch is not UNSET:
        return arch
    return "vgg16" if isinstance(weights, str) and weights == "oxford" else "vgg19"


class TopologyLoss(FeatureLoss):
    """Mosinska et al.'s topology loss on a probability map; see :func:`topology_loss`.

    ``forward(input, target)``: probability map and mask ``(N, 1, H, W)``, or their feature dicts (as
    :class:`~imagelosses.losses.combined.CombinedFeatureLoss` passes them). Without ``extractor=`` it builds
    VGG19 with ``weights="imagenet"`` (the paper's network; torchvision's download) and the layers
    ``conv1_2, conv2_2, conv3_4``; ``weights="oxford"`` builds VGG16 (offline) with ``conv1_2, conv2_2,
    conv3_3``; an extractor given decides the arch.

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> loss = TopologyLoss(extractor=VGGFeatures("vgg16", ("conv2_2",), weights=None), layers="conv2_2")
        >>> loss(torch.rand(2, 1, 16, 16), torch.ones(2, 1, 16, 16)).shape
        torch.Size([])
    """

    options = ("layers", "layer_weights", "reduction", "check_range")

    def __init__(self, *, layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                 reduction: Reduction = "mean", check_range: bool = False, extractor: VGGFeatures | None = None,
                 arch: str = UNSET, weights: Any = UNSET, pooling: str = UNSET) -> None:
        super().__init__()
        if extractor is None and arch is not UNSET:
            check_option(arch, "arch", ARCHS)
        which = _resolve_arch(extractor, arch, weights)
        resolved = _default_layers(layers, which)
        self.set_options(layers=resolved,
                         layer_weights=check_layer_weights(resolved, layer_weights, 1.0),
                         reduction=check_reduction(reduction), check_range=check_bool(check_range, "check_range"))
        self.setup_extractor(resolved, extractor, arch if extractor is not None else which, weights, pooling, "vgg19")

    def forward(self, input: Tensor | Features, target: Tensor | Features) -> Tensor:
        return _topology(input, target, self.extractor, **self.option_values())


# ------------------------------------------------------------------------------------- pixel + topology
class TopologyParts(NamedTuple):
    """``total = pixel + mu · topology``, each reduced as asked (``(N,)`` for ``"none"``)."""

    total: Tensor
    pixel: Tensor
    topology: Tensor


PixelLoss = Callable[[Tensor, Tensor], Tensor]


def _check_aware_options(mu: float, pixel_loss: PixelLoss | None, reduction: str, check_finite: bool
                         ) -> dict[str, Any]:
    if pixel_loss is not None and not callable(pixel_loss):
        fail("pixel_loss", "None (binary cross-entropy from logits) or a loss on (logits, target) such as "
             "DiceLoss()", type(pixel_loss).__name__, exc=TypeError)
    return {"mu": check_number(mu, "mu", low=0.0), "pixel_loss": pixel_loss,
            "reduction": check_reduction(reduction), "check_finite": check_bool(check_finite, "check_finite")}


def topology_aware_loss(input: Tensor, target: Tensor, *, extractor: VGGFeatures | None = None,
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
        extractor: the shared :class:`~imagelosses.backbones.vgg.VGGFeatures`.
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
    options = _check_aware_options(mu, pixel_loss, reduction, check_finite)
    arch = extractor.arch if isinstance(extractor, VGGFeatures) else None
    resolved = _default_layers(layers, arch)
    weights = check_layer_weights(resolved, layer_weights, 1.0)
    return _topology_aware(input, target, extractor, layers=resolved, layer_weights=weights,
                           return_parts=check_bool(return_parts, "return_parts"), **options)


def _topology_aware(input: Tensor, target: Tensor, extractor: nn.Module | None, *, mu: float,
                    pixel_loss: PixelLoss | None, layers: tuple[str, ...], layer_weights: tuple[float, ...],
                    reduction: str, check_finite: bool, return_parts: bool = False) -> Tensor | TopologyParts:
    check_prediction(input, check_finite)
    vgg = extractor if isinstance(extractor, VGGFeatures) else None
    _check_map(input, "input", "logits", vgg, layers)
    _check_map(target, "target", "a mask", vgg, layers)
    check_same_shape(target, "target", input, "input")
    if check_finite:
        require_finite(target, "target")
    if pixel_loss is None:
        wide = at_least_float32(input)  # the pixel term in float32 too: the sum is float32 (below)
        pixel = pixel_cross_entropy(wide, target.to(wide.dtype) if target.is_floating_point() else target,
                                    reduction="none").flatten(1).mean(dim=1)
        pixel = reduce(pixel, reduction)
    else:
        pixel = pixel_loss(input, target)
        want = (input.shape[0],) if reduction == "none" else ()
        if not isinstance(pixel, Tensor) or tuple(pixel.shape) != want:
            got = f"shape {fmt_shape(pixel.shape)}" if isinstance(pixel, Tensor) else type(pixel).__name__
            fail("pixel_loss", f"a value of shape {fmt_shape(want)} for reduction={reduction!r} (configure the "
                 "pixel loss's own reduction to match)", got)
    probs = torch.sigmoid(at_least_float32(input))
    topo = _topology(probs, target.to(probs.dtype), extractor, layers=layers, layer_weights=layer_weights,
                     reduction=reduction, check_range=False)
    # A composite follows its widest part: the topology term is a feature loss, float32 for half inputs (its
    # sum over feature maps routinely exceeds float16's 65504), so the sum is float32 too, never a half inf.
    pixel = pixel.to(topo.dtype) if pixel.dtype in (torch.float16, torch.bfloat16) else pixel
    total = pixel + mu * topo
    if return_parts:
        return TopologyParts(total, pixel, topo)
    return total


class TopologyAwareLoss(Loss):
    """``pixel(logits, y) + μ · topology(σ(logits), y)``; see :func:`topology_aware_loss`.

    ``forward(input, target, *, return_parts=False)`` with logits ``input``. The topology term is the
    submodule ``topology`` (a :class:`TopologyLoss`), so ``loss.extractor`` is its backbone and
    ``loss.topology`` can also join a :class:`~imagelosses.losses.combined.CombinedFeatureLoss`. Without
    ``extractor=`` it builds VGG19 (``weights="imagenet"``) or, with ``weights="oxford"``, VGG16.

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("conv1_2", "conv2_2"), weights=None)
        >>> loss = TopologyAwareLoss(extractor=vgg, layers=("conv1_2", "conv2_2"), mu=0.1)
        >>> parts = loss(torch.randn(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), return_parts=True)
        >>> bool(parts.total > parts.pixel)
        True
    """

    options = ("mu", "pixel_loss", "layers", "layer_weights", "reduction", "check_finite")

    def __init__(self, *, mu: float = MOSINSKA_MU, pixel_loss: PixelLoss | None = None,
                 layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                 reduction: Reduction = "mean", check_finite: bool = False, extractor: VGGFeatures | None = None,
                 arch: str = UNSET, weights: Any = UNSET, pooling: str = UNSET) -> None:
        super().__init__()
        options = _check_aware_options(mu, pixel_loss, reduction, check_finite)
        self.topology = TopologyLoss(layers=layers, layer_weights=layer_weights, reduction=options["reduction"],
                                     extractor=extractor, arch=arch, weights=weights, pooling=pooling)
        self.set_options(layers=self.topology.layers, layer_weights=self.topology.layer_weights, **options)

    @property
    def extractor(self) -> VGGFeatures:
        return self.topology.extractor

    def forward(self, input: Tensor, target: Tensor, *, return_parts: bool = False) -> Tensor | TopologyParts:
        return _topology_aware(input, target, self.topology.extractor, return_parts=return_parts,
                               **self.option_values())


# ------------------------------------------------------------------------------------ iterative refinement
class RefinementParts(NamedTuple):
    """``total = Σ_k weights[k] · step_losses[k]``; ``logits[k]`` is the output of step k + 1."""

    total: Tensor
    step_losses: list[Tensor]
    weights: Tensor
    logits: list[Tensor]


def refinement_weights(steps: int, *, dtype: torch.dtype = torch.float32, device: torch.device | None = None
                       ) -> Tensor:
    """``(k / Z)_{k=1..K}`` with ``Z = K(K+1)/2``: later refinement steps weigh more; they sum to 1.

    Example:
        >>> [round(w, 4) for w in refinement_weights(3).tolist()]
        [0.1667, 0.3333, 0.5]
    """
    k = check_int(steps, "steps", low=1)
    return torch.arange(1, k + 1, dtype=dtype, device=device) / (k * (k + 1) / 2)


def iterative_refinement(model: Callable[[Tensor], Tensor], image: Tensor, steps: int, *,
                         detach_previous: bool = False) -> list[Tensor]:
    """The logits of K refinement steps: ``x_k = model(image ⊕ σ(x_{k−1}))`` with ``σ(x_0) = 0`` (an empty
    map), ``⊕`` the concatenation along channels. The model therefore takes ``C + 1`` input channels and
    returns ``(N, 1, H, W)`` logits. Gradients run through the whole chain unless ``detach_previous``.

    Raises:
        ValueError: ``steps < 1``; a model output that is not ``(N, 1, H, W)`` logits of the image's size.
        TypeError: non-floating image, non-integer ``steps``.
    """
    k = check_int(steps, "steps", low=1)
    check_floating(image, "image")
    check_ndim(image, "image", (4,), "(N, C, H, W)")
    check_bool(detach_previous, "detach_previous")
    previous = torch.zeros_like(image[:, :1])
    outputs: list[Tensor] = []
    for _ in range(k):
        logits = model(torch.cat([image, previous], dim=1))
        want = (image.shape[0], 1, *image.shape[2:])
        if not isinstance(logits, Tensor) or tuple(logits.shape) != want:
            got = f"shape {fmt_shape(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
            fail("model", f"logits of shape {fmt_shape(want)} from image ⊕ previous prediction", got)
        outputs.append(logits)
        previous = torch.sigmoid(logits.detach() if detach_previous else logits).to(image.dtype)
    return outputs


def refinement_loss(model: Callable[[Tensor], Tensor], image: Tensor, target: Tensor,
                    loss: Callable[[Tensor, Tensor], Tensor], *, steps: int = 3, detach_previous: bool = False,
                    return_parts: bool = False) -> Tensor | RefinementParts:
    """Mosinska et al.'s refinement objective ``L_ref = (1/Z) Σ_{k=1..K} k · L(x_k, y)``, ``Z = K(K+1)/2``.

    ``x_k`` are the logits of :func:`iterative_refinement`; ``loss`` is applied to each step's logits and
    the target (e.g. a :class:`TopologyAwareLoss`) and must return a scalar. K = 3 in the paper.

    Raises:
        ValueError: ``steps < 1``, a step loss that is not a scalar; as :func:`iterative_refinement`.

    References:
        Mosinska et al., arXiv 1712.02190 (section 3.2).

    Example:
        >>> net = torch.nn.Conv2d(2, 1, 3, padding=1)
        >>> image, mask = torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
        >>> bce = torch.nn.BCEWithLogitsLoss()
        >>> parts = refinement_loss(net, image, mask, bce, steps=3, return_parts=True)
        >>> len(parts.step_losses), round(float(parts.weights.sum()), 6)
        (3, 1.0)
    """
    logits = iterative_refinement(model, image, steps, detach_previous=detach_previous)
    weights = refinement_weights(len(logits), dtype=at_least_float32(image).dtype, device=image.device)
    values: list[Tensor] = []
    for x in logits:
        value = loss(x, target)
        if not isinstance(value, Tensor) or value.ndim != 0:
            got = f"shape {fmt_shape(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            fail("loss", "a scalar loss per refinement step (reduction 'mean' or 'sum')", got)
        values.append(value)
    total = (torch.stack([v.to(weights.dtype) for v in values]) * weights).sum()
    return RefinementParts(total, values, weights, logits) if check_bool(return_parts, "return_parts") else total
