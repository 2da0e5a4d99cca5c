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

Both run L-BFGS-B with the pixels bounded to [0, 1] (scipy's, as Gatys et al.'s own code). One *step* is one
loss evaluation (one forward and one backward pass; the line search may spend several per iteration), and the
loss curve holds the loss at each evaluation. Both start from a noise image near one colour
(:func:`noise_start`), not from uniform noise: why, and what it changes, is in that function. For clean
results pass a normalised extractor (``VGGFeatures(..., normalize_activations=True)``, Gatys et al.'s network;
the ``texture`` and ``style-transfer`` commands do). The style and texture Grams are computed once
(cached) and the content features once per call, so a step costs one forward and one backward pass of the VGG
on the synthesis: about ``size² × steps`` work, so halving ``size`` makes a run four times faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import Bounds, minimize
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

__all__ = ["INITS", "Init", "Progress", "balanced_style_weight", "balanced_tv_weight", "noise_start", "stylize",
           "synthesize_texture", "total_variation"]

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


def noise_start(like: Tensor, shape: tuple[int, ...], noise_std: float, generator: torch.Generator | None
                ) -> Tensor:
    """The noise start of the syntheses: ``like``'s mean colour plus Gaussian noise of standard deviation
    ``noise_std`` per pixel and channel (drawn on the CPU from ``generator``), clamped to [0, 1].

    Why not Gatys et al.'s uniform white noise in [0, 1]: the Gram losses are nearly blind to colour that
    alternates from pixel to pixel (the first 3×3 filters barely respond to it, and every deeper layer sees
    it averaged away), so what the start puts there stays. Uniform noise has a mean chroma of ~127/255; its
    texture of a grey brick wall kept ~96 after 100 steps. Johnson's neural-style starts from N(0, 0.001²)
    around the mean pixel for the same reason; a start near one colour leaves the loss to create the
    structure."""
    mean = like.detach().mean(dim=(-2, -1), keepdim=True)
    noise = torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)
    return (mean + noise_std * noise).clamp(0.0, 1.0)


def _lbfgs(image: Tensor, loss_fn: Callable[[Tensor], Tensor], steps: int, progress: Progress | None
           ) -> tuple[Tensor, list[float]]:
    """Minimise ``loss_fn(x)`` over the pixels ``x`` in the box [0, 1], started at ``image``, with at most
    ``steps`` loss evaluations of L-BFGS-B (scipy's, the bounded L-BFGS Gatys et al.'s own code used).

    The bounds are part of the method: clamping the pixels after unbounded L-BFGS steps (what most
    reimplementations do) breaks the curvature pairs, and on textures the iterates then jump and leave
    pixel-level colour noise that the Gram losses do not see to remove. Each evaluation is one forward and
    one backward pass; the line search may spend more than one per iteration, so ``steps`` counts
    evaluations and bounds the time. The loss is divided by its value at the start (the curve keeps the loss
    itself), so the tolerances are scale-free; both are 0: the run spends its whole budget unless the line
    search fails (then the curve is shorter)."""
    shape, dtype, device = image.shape, image.dtype, image.device
    curve: list[float] = []
    scale: list[float] = []

    def value_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.from_numpy(flat).to(device=device, dtype=dtype).view(shape).requires_grad_(True)
        loss = loss_fn(x)
        value = float(loss.detach())
        if not scale:
            scale.append(1.0 / value if math.isfinite(value) and value > 0 else 1.0)
        (grad,) = torch.autograd.grad(loss * scale[0], x)
        if len(curve) < steps:  # the line search never goes past maxfun, but keep the contract exact
            curve.append(value)
            if progress is not None:
                progress(len(curve), steps)
        return value * scale[0], grad.detach().reshape(-1).double().cpu().numpy()

    start = image.detach().reshape(-1).double().cpu().numpy()
    if steps == 0:
        return image.detach().clone(), curve
    result = minimize(value_and_grad, start, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                      options={"maxfun": steps, "maxiter": steps, "ftol": 0.0, "gtol": 0.0})
    return torch.from_numpy(result.x).to(device=device, dtype=dtype).view(shape), curve


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
    balance = check_number(balance, "balance", low=0.0)
    content_weight = check_number(content_weight, "content_weight", low=0.0, low_inclusive=False)
    far, near = _mismatches(content, style, extractor, content_layers, style_layers)
    if float(near.style) <= 0.0:
        fail("content", "an image whose Gram matrices differ from the style image's", "a Gram distance of 0")
    return balance * content_weight * float(far.content) / float(near.style)


def _mismatches(content: Tensor, style: Tensor, extractor: VGGFeatures, content_layers: str | Sequence[str],
                style_layers: str | Sequence[str], *, near: bool = True) -> list[ContentStyleParts]:
    """The content/style parts of the style image (resized to the content's shape when they differ: the "full
    content mismatch") and, with ``near``, of the content image (the "full style mismatch"), both against
    (content, style)."""
    require_finite(_check_image(content, "content"), "content")
    require_finite(_check_image(style, "style"), "style")
    away = style if style.shape == content.shape else F.interpolate(style, size=content.shape[-2:], mode="bilinear",
                                                                    antialias=True, align_corners=False)
    parts = []
    with torch.no_grad():
        for image in (away, content) if near else (away,):
            part = content_style_loss(image, content, style, extractor=extractor, content_layers=content_layers,
                                      style_layers=style_layers, return_parts=True)
            if not isinstance(part, ContentStyleParts):  # return_parts=True
                fail("content_style_loss", "its parts with return_parts=True", type(part).__name__, exc=TypeError)
            parts.append(part)
    return parts


def balanced_tv_weight(content: Tensor, style: Tensor, *, extractor: VGGFeatures, balance: float = 0.1,
                       content_weight: float = 1.0, content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                       style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS) -> float:
    """The TV weight λ_tv at which the photograph's own total variation costs ``balance`` times a full content
    mismatch: ``λ_tv = balance · α · L_content(style image, content) / TV(content)``.

    Johnson et al. add the squared total variation to style transfer to suppress the pixel-level artefacts the
    VGG features do not see; their absolute weights belong to their network and pixel scale, this ratio does
    not (0.1 smooths the speckle of a stylised photograph; 1 blurs it).

    Raises:
        ValueError: as :func:`balanced_style_weight`, and a content image of zero total variation (a constant
            image).
        TypeError: non-floating images or non-number weights.
    """
    balance = check_number(balance, "balance", low=0.0)
    content_weight = check_number(content_weight, "content_weight", low=0.0, low_inclusive=False)
    (far,) = _mismatches(content, style, extractor, content_layers, style_layers, near=False)
    tv = float(total_variation(content))
    if tv <= 0.0:
        fail("content", "an image with some variation (for the TV scale)", "a constant image")
    return balance * content_weight * float(far.content) / tv


def stylize(content: Tensor, style: Tensor, *, extractor: VGGFeatures, steps: int, content_weight: float = 1.0,
            style_weight: float = 1e3, tv_weight: float = 0.0, init: Init = "content", noise_std: float = 0.01,
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
    (:func:`total_variation`), starting from the content image (``init="content"``) or from noise (``"noise"``,
    the paper's white-noise start, here around the content's mean colour with standard deviation
    ``noise_std``, drawn from ``generator``: see :func:`noise_start`). The style image may have any size. Each
    step is one forward and one backward pass of ``extractor`` on ``x`` (L-BFGS-B in the box [0, 1]).

    Args:
        content: ``(1, 3, H, W)`` in [0, 1], on the extractor's device.
        style: ``(1, 3, H', W')`` in [0, 1].
        extractor: the VGG (e.g. ``VGGFeatures("vgg16", ("relu5_1",), weights="oxford")``); it must reach the
            deepest of the layers.
        steps: L-BFGS iterations (one loss evaluation each), >= 0.
        content_weight, style_weight, tv_weight: α, β and λ_tv, all >= 0. The paper's α/β = 1e-3 belongs to
            its VGG rescaled to unit mean activations; for another network pick β with
            :func:`balanced_style_weight` (the default 1e3 is only a starting point for the Oxford weights).
        noise_std: the standard deviation of the noise start (``init="noise"``), >= 0.
        progress: called as ``progress(done, steps)`` after every step.

    Returns:
        ``(image, curve)``: the synthesis ``(1, 3, H, W)`` in [0, 1] (detached) and the total loss at each step.

    Raises:
        ValueError: images that are not one RGB image, negative steps, weights or noise_std, an unknown
            ``init``, an image
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
    noise_std = check_number(noise_std, "noise_std", low=0.0)
    loss = ContentStyleLoss(content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
                            style_weight=style_weight, extractor=extractor)
    loss.set_style(style)
    with torch.no_grad():
        content_feats = {k: v.detach() for k, v in extractor(content, loss.content_layers, name="content").items()}
    if init == "content":
        start = content
    else:
        start = noise_start(content, tuple(content.shape), noise_std, generator)

    def objective(x: Tensor) -> Tensor:
        total: Tensor = loss(x, content_feats)
        return total + tv_weight * total_variation(x) if tv_weight else total

    return _lbfgs(start, objective, steps, progress)


def synthesize_texture(source: Tensor, *, extractor: VGGFeatures, steps: int, size: int | tuple[int, int],
                       generator: torch.Generator | None = None, layers: str | Sequence[str] = GATYS_STYLE_LAYERS,
                       noise_std: float = 0.01, tv_weight: float = 0.0, progress: Progress | None = None
                       ) -> tuple[Tensor, list[float]]:
    """Gatys et al.'s texture synthesis by L-BFGS on the pixels.

    From noise around the source's mean colour (standard deviation ``noise_std``, drawn from ``generator`` on
    the CPU: :func:`noise_start`), minimises over the pixels ``x`` (bounded to [0, 1], L-BFGS-B) the texture
    loss (:func:`~imagelosses.functional.texture_loss`), plus ``tv_weight`` times the squared total variation
    (0 by default, as in the paper)::

        L(x) = Σ_l w_l · E_l + λ_tv TV(x),   E_l = Σ_{i,j} (G^l_ij(x) − G^l_ij(source))² / (4 N_l² M_l²)

    with ``G^l = F^l F^lᵀ`` the Gram matrix of layer ``l`` (``N_l`` channels, ``M_l`` positions of that image:
    the synthesis may have another size than the source) on ``layers`` (relu1_1 … relu5_1, ``w_l = 1/5`` by
    default). Each step is one forward and one backward pass of ``extractor`` on ``x``.

    Args:
        source: the texture, ``(1, 3, H', W')`` in [0, 1], on the extractor's device.
        extractor: the VGG; it must reach the deepest of ``layers``.
        steps: L-BFGS iterations (one loss evaluation each), >= 0.
        size: the synthesis side ``s`` (an ``s × s`` image) or ``(height, width)``.
        noise_std: the standard deviation of the noise start, >= 0.
        tv_weight: λ_tv, >= 0.
        progress: called as ``progress(done, steps)`` after every step.

    Returns:
        ``(image, curve)``: the texture ``(1, 3, height, width)`` in [0, 1] and the loss at each step.

    Raises:
        ValueError: a source that is not one RGB image, negative steps, noise_std or tv_weight, a size below 1,
            a source or size too
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
    noise_std = check_number(noise_std, "noise_std", low=0.0)
    tv_weight = check_number(tv_weight, "tv_weight", low=0.0)
    loss = TextureLoss(layers=layers, extractor=extractor).set_target(source)
    start = noise_start(source, (1, 3, height, width), noise_std, generator)

    def objective(x: Tensor) -> Tensor:
        texture: Tensor = loss(x)
        return texture + tv_weight * total_variation(x) if tv_weight else texture

    return _lbfgs(start, objective, steps, progress)
