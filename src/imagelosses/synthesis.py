"""Image synthesis with Gram losses: Gatys et al.'s style transfer and texture synthesis, by L-BFGS on the pixels.

The public API for applying the content/style and texture losses to images (the ``imagelosses style-transfer``
and ``texture`` commands are thin layers over it):

- :func:`stylize` minimises ``α L_content(x, content) + β L_style(x, style) + λ_tv TV(x)`` (Gatys et al., CVPR
  2016, through :class:`~imagelosses.ContentStyleLoss`);
- :func:`synthesize_texture` minimises the texture loss ``Σ_l w_l E_l`` from white noise (Gatys et al.,
  NeurIPS 2015, through :class:`~imagelosses.TextureLoss`);
- :func:`balanced_style_weight` picks β so that a full style mismatch costs a chosen multiple of a full content
  mismatch, whatever the network's activation scale;
- :func:`total_variation` is the squared total variation used as the smoothness term.

Both optimisers keep the pixels in [0, 1] by clamping after every L-BFGS iteration. One *step* is one L-BFGS
iteration with one loss evaluation (no line search, step size 1, as in Gatys's and Johnson's implementations);
the loss curve holds the loss at each step, before its update. The style and texture Grams are computed once
(cached) and the content features once per call, so a step costs one forward and one backward pass of the VGG
on the synthesis: about ``size² × steps`` work, so halving ``size`` makes a run four times faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ._core.checks import (
    check_floating,
    check_int,
    check_ndim,
    check_number,
    check_option,
    fail,
    fmt_shape,
    require_finite,
)
from .backbones.vgg import VGGFeatures
from .losses.style import (
    GATYS_CONTENT_LAYERS,
    GATYS_STYLE_LAYERS,
    ContentStyleLoss,
    ContentStyleParts,
    TextureLoss,
    content_style_loss,
)

__all__ = ["INITS", "Init", "Progress", "balanced_style_weight", "stylize", "synthesize_texture",
           "total_variation"]

Init = Literal["content", "noise"]
INITS: tuple[str, ...] = ("content", "noise")
#: ``progress(done, total)``, called after every step.
Progress = Callable[[int, int], None]


def total_variation(x: Tensor) -> Tensor:
    """The squared total variation ``Σ_{c,i,j} (x_{c,i+1,j} − x_{c,i,j})² + (x_{c,i,j+1} − x_{c,i,j})²``,
    summed over the whole batch (the smoothness regulariser of Johnson et al., arXiv 1603.08155, and of
    Mahendran & Vedaldi, arXiv 1412.0035, with β = 2)."""
    dh = x[..., 1:, :] - x[..., :-1, :]
    dw = x[..., :, 1:] - x[..., :, :-1]
    return dh.square().sum() + dw.square().sum()


def _check_image(x: Tensor, name: str) -> Tensor:
    check_floating(x, name)
    check_ndim(x, name, (4,), "(1, 3, H, W)")
    if x.shape[0] != 1 or x.shape[1] != 3:
        fail(name, "one RGB image of shape (1, 3, H, W)", f"shape {fmt_shape(x.shape)}")
    return x


def _lbfgs(image: Tensor, loss_fn: Callable[[Tensor], Tensor], steps: int, progress: Progress | None
           ) -> tuple[Tensor, list[float]]:
    """Minimise ``loss_fn(x)`` over the pixels of ``x`` (started at ``image``) for ``steps`` L-BFGS iterations.

    L-BFGS minimises the loss divided by its value at the start (the curve keeps the loss itself): torch's
    L-BFGS has absolute thresholds (it skips the curvature update when ``sᵀy <= 1e-10``), so an objective of
    small scale (torchvision's VGG, whose activations are ~255 times smaller than the Oxford/Caffe weights';
    a random-weight VGG) would otherwise take gradient steps of its own tiny size and never move."""
    x = image.detach().clone().requires_grad_(True)
    # no tolerances either: the caller sets the number of steps
    optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=50, tolerance_grad=0.0, tolerance_change=0.0)
    curve: list[float] = []
    scale: list[float] = []

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(x)
        if not scale:
            start = float(loss.detach())
            scale.append(1.0 / start if math.isfinite(start) and start > 0 else 1.0)
        scaled = loss * scale[0]
        torch.autograd.backward(scaled)
        if x.grad is not None:  # the VGG runs channels-last; L-BFGS views the gradient flat
            x.grad = x.grad.contiguous()
        return scaled

    lbfgs_step: Callable[[Callable[[], Tensor]], Tensor] = optimizer.step  # torch leaves it untyped
    for step in range(steps):
        loss = lbfgs_step(closure)
        curve.append(float(loss.detach()) / scale[0])
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        if progress is not None:
            progress(step + 1, steps)
    return x.detach(), curve


def balanced_style_weight(content: Tensor, style: Tensor, *, extractor: VGGFeatures, balance: float = 10.0,
                          content_weight: float = 1.0, content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                          style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS) -> float:
    """The style weight β at which a full style mismatch costs ``balance`` times a full content mismatch:
    ``β = balance · α · L_content(style image, content) / L_style(content image, style)``.

    Gatys et al.'s α/β = 1e-3 was tuned on their VGG rescaled to unit mean activations; on the unscaled
    Oxford (or torchvision) weights the two terms have other scales, so a fixed ratio does not carry over.
    This ratio does: ``balance`` = 1 keeps the photograph nearly untouched, 10 gives a clear stylisation and
    100 a texturised image (the ``style-texture`` experiment measures the trade-off).

    Raises:
        ValueError: images that are not one RGB image, a negative ``balance``, a ``content_weight`` that is not
            > 0 (β is relative to α; for a style-only objective pass ``style_weight`` to :func:`stylize`
            directly), non-finite images, or a content image whose Gram distance to the style is 0 (the two
            are the same texture).
        TypeError: non-floating images or non-number weights.
    """
    require_finite(_check_image(content, "content"), "content")
    require_finite(_check_image(style, "style"), "style")
    balance = check_number(balance, "balance", low=0.0)
    content_weight = check_number(content_weight, "content_weight", low=0.0, low_inclusive=False)
    # the style image, resized to the content's shape when they differ, as the "full content mismatch"
    away = style if style.shape == content.shape else F.interpolate(style, size=content.shape[-2:], mode="bilinear",
                                                                    antialias=True, align_corners=False)
    with torch.no_grad():
        far, near = (content_style_loss(image, content, style, extractor=extractor, content_layers=content_layers,
                                        style_layers=style_layers, return_parts=True) for image in (away, content))
    if not isinstance(far, ContentStyleParts) or not isinstance(near, ContentStyleParts):  # return_parts=True
        fail("content_style_loss", "its parts with return_parts=True", type(far).__name__, exc=TypeError)
    if float(near.style) <= 0.0:
        fail("content", "an image whose Gram matrices differ from the style image's", "a Gram distance of 0")
    return balance * content_weight * float(far.content) / float(near.style)


def stylize(content: Tensor, style: Tensor, *, extractor: VGGFeatures, steps: int, content_weight: float = 1.0,
            style_weight: float = 1e3, tv_weight: float = 0.0, init: Init = "content",
            content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
            style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS, generator: torch.Generator | None = None,
            progress: Progress | None = None) -> tuple[Tensor, list[float]]:
    """Gatys et al.'s neural style transfer by L-BFGS on the pixels.

    Minimises over the pixels ``x`` (kept in [0, 1])::

        J(x) = α · ½ Σ_l Σ_{i,j} (F^l_ij(x) − F^l_ij(content))²          (content layers, relu4_2)
             + β · Σ_l w_l · Σ_{i,j} (G^l_ij(x) − G^l_ij(style))² / (4 N_l² M_l²)   (style layers)
             + λ_tv · TV(x)

    with ``G^l = F^l F^lᵀ`` the Gram matrix of layer ``l`` (``N_l`` channels, ``M_l`` positions), ``w_l = 1/L``
    (:func:`~imagelosses.functional.content_style_loss`) and TV the squared total variation
    (:func:`total_variation`), starting from the content image (``init="content"``) or from uniform noise in
    [0, 1] drawn from ``generator`` (``"noise"``, the paper's white-noise start). The style image may have any
    size. Each step is one forward and one backward pass of ``extractor`` on ``x``.

    Args:
        content: ``(1, 3, H, W)`` in [0, 1], on the extractor's device.
        style: ``(1, 3, H', W')`` in [0, 1].
        extractor: the VGG (e.g. ``VGGFeatures("vgg16", ("relu5_1",), weights="oxford")``); it must reach the
            deepest of the layers.
        steps: L-BFGS iterations (one loss evaluation each), >= 0.
        content_weight, style_weight, tv_weight: α, β and λ_tv, all >= 0. The paper's α/β = 1e-3 belongs to
            its VGG rescaled to unit mean activations; for another network pick β with
            :func:`balanced_style_weight` (the default 1e3 is only a starting point for the Oxford weights).
        progress: called as ``progress(done, steps)`` after every step.

    Returns:
        ``(image, curve)``: the synthesis ``(1, 3, H, W)`` in [0, 1] (detached) and the total loss at each step.

    Raises:
        ValueError: images that are not one RGB image, negative steps or weights, an unknown ``init``, an image
            too small for the deepest layer (each pooling halves it: 16 px reach relu5_1).
        TypeError: non-floating images.

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (arXiv 1508.06576).

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> _ = torch.manual_seed(0)
        >>> vgg = VGGFeatures("vgg16", ("relu2_1",), weights=None)  # random weights: mechanics only
        >>> content, style = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 24, 24)
        >>> image, curve = stylize(content, style, extractor=vgg, steps=3, style_weight=10.0,
        ...                        content_layers="relu2_1", style_layers=("relu1_1", "relu2_1"))
        >>> image.shape, len(curve), 0 <= float(image.min()) <= float(image.max()) <= 1
        (torch.Size([1, 3, 16, 16]), 3, True)
    """
    _check_image(content, "content")
    _check_image(style, "style")
    steps = check_int(steps, "steps", low=0)
    tv_weight = check_number(tv_weight, "tv_weight", low=0.0)
    check_option(init, "init", INITS)
    loss = ContentStyleLoss(content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
                            style_weight=style_weight, extractor=extractor)
    loss.set_style(style)
    with torch.no_grad():
        content_feats = {k: v.detach() for k, v in extractor(content, loss.content_layers, name="content").items()}
    if init == "content":
        start = content
    else:
        start = torch.rand(content.shape, generator=generator, dtype=content.dtype).to(content.device)

    def objective(x: Tensor) -> Tensor:
        total: Tensor = loss(x, content_feats)
        return total + tv_weight * total_variation(x) if tv_weight else total

    return _lbfgs(start, objective, steps, progress)


def synthesize_texture(source: Tensor, *, extractor: VGGFeatures, steps: int, size: int | tuple[int, int],
                       generator: torch.Generator | None = None, layers: str | Sequence[str] = GATYS_STYLE_LAYERS,
                       progress: Progress | None = None) -> tuple[Tensor, list[float]]:
    """Gatys et al.'s texture synthesis by L-BFGS on the pixels.

    From uniform noise in [0, 1] (drawn from ``generator``, on the CPU), minimises over the pixels ``x`` (kept
    in [0, 1]) the texture loss (:func:`~imagelosses.functional.texture_loss`)::

        L(x) = Σ_l w_l · E_l,   E_l = Σ_{i,j} (G^l_ij(x) − G^l_ij(source))² / (4 N_l² M_l²)

    with ``G^l = F^l F^lᵀ`` the Gram matrix of layer ``l`` (``N_l`` channels, ``M_l`` positions of that image:
    the synthesis may have another size than the source) on ``layers`` (relu1_1 … relu5_1, ``w_l = 1/5`` by
    default). Each step is one forward and one backward pass of ``extractor`` on ``x``.

    Args:
        source: the texture, ``(1, 3, H', W')`` in [0, 1], on the extractor's device.
        extractor: the VGG; it must reach the deepest of ``layers``.
        steps: L-BFGS iterations (one loss evaluation each), >= 0.
        size: the synthesis side ``s`` (an ``s × s`` image) or ``(height, width)``.
        progress: called as ``progress(done, steps)`` after every step.

    Returns:
        ``(image, curve)``: the texture ``(1, 3, height, width)`` in [0, 1] and the loss at each step.

    Raises:
        ValueError: a source that is not one RGB image, negative steps, a size below 1, a source or size too
            small for the deepest layer (each pooling halves it: 16 px reach relu5_1).
        TypeError: a non-floating source.

    References:
        Gatys, Ecker, Bethge, "Texture Synthesis Using Convolutional Neural Networks", NeurIPS 2015,
        arXiv 1505.07376.

    Example:
        >>> from imagelosses.backbones import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("relu1_2",), weights=None)  # random weights: mechanics only
        >>> source = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> image, curve = synthesize_texture(source, extractor=vgg, steps=3, size=(8, 12), layers="relu1_2",
        ...                                   generator=torch.Generator().manual_seed(1))
        >>> image.shape, len(curve), curve[-1] < curve[0]
        (torch.Size([1, 3, 8, 12]), 3, True)
    """
    _check_image(source, "source")
    steps = check_int(steps, "steps", low=0)
    if isinstance(size, tuple):
        if len(size) != 2:
            fail("size", "an int or a (height, width) pair", repr(size))
        height, width = (check_int(s, "size", low=1) for s in size)
    else:
        height = width = check_int(size, "size", low=1)
    loss = TextureLoss(layers=layers, extractor=extractor).set_target(source)
    start = torch.rand((1, 3, height, width), generator=generator, dtype=source.dtype).to(source.device)
    return _lbfgs(start, loss, steps, progress)
