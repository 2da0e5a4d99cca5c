"""The U-Net border weight map (Ronneberger et al. 2015).

``w(x) = w_c(x) + w0·exp(−(d1(x) + d2(x))² / (2σ²))`` where ``d1``, ``d2`` are the distances from pixel x
to the nearest and second-nearest cell. Distances are Euclidean distance transforms to the nearest
*pixel* of each cell (``scipy.ndimage.distance_transform_edt``), so a background pixel in a straight
gap of g pixels between two cells has ``d1 + d2 = g + 1`` for every pixel of the gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from .._core.checks import check_bool, check_number, check_option, check_tensor, fail, fmt_shape
from .segmentation import class_frequency_weights

__all__ = ["unet_weight_map"]


def _as_instances(instances: Any) -> np.ndarray:
    if isinstance(instances, Tensor):
        arr = check_tensor(instances, "instances").detach().cpu().numpy()
    elif isinstance(instances, np.ndarray):
        arr = instances
    else:
        fail("instances", "a numpy array or torch.Tensor of integer instance ids", type(instances).__name__,
             exc=TypeError)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        fail("instances", "an integer instance map (0 = background)", f"dtype {arr.dtype}", exc=TypeError)
    if arr.ndim not in (2, 3):
        fail("instances", "an instance map of shape (H, W) or (N, H, W)", f"shape {fmt_shape(arr.shape)}")
    if arr.size == 0:
        fail("instances", "a non-empty instance map", f"shape {fmt_shape(arr.shape)}")
    if arr.min() < 0:
        fail("instances", "non-negative instance ids (0 = background)", f"id {int(arr.min())}")
    if arr.dtype != np.bool_ and int(arr.max()) > 4 * arr.size:
        # sparse or huge ids (a uint64 id above 2**63 would wrap in int64): number the cells 1..K first
        ids = np.unique(arr[arr > 0])
        arr = np.where(arr > 0, np.searchsorted(ids, arr) + 1, 0)
    return arr.astype(np.int64, copy=False)


ClassWeights = str | Sequence[float] | np.ndarray | Tensor | None


def _class_weight_map(labels: np.ndarray, class_weight: ClassWeights) -> np.ndarray:
    """``w_c`` per pixel: 1, user (background, foreground) weights, or ``"balanced"`` frequencies."""
    foreground = labels > 0
    if class_weight is None:
        return np.ones(labels.shape, dtype=np.float64)
    if isinstance(class_weight, str):
        check_option(class_weight, "class_weight", ("balanced",))
        n_fg = int(foreground.sum())
        counts = torch.tensor([foreground.size - n_fg, n_fg], dtype=torch.float64)
        w_bg, w_fg = (float(w) for w in class_frequency_weights(counts, "balanced"))
    else:
        if isinstance(class_weight, (np.ndarray, Tensor)):  # array-likes of per-class weights, like a sequence
            class_weight = np.asarray(class_weight.detach().cpu() if isinstance(class_weight, Tensor)
                                      else class_weight).reshape(-1).tolist()
        if not isinstance(class_weight, Sequence):
            fail("class_weight", "(background, foreground) weights, 'balanced' or None", repr(class_weight),
                 exc=TypeError)
        if len(class_weight) != 2:
            fail("class_weight", "(background, foreground) weights, 'balanced' or None", repr(class_weight))
        w_bg, w_fg = (check_number(w, "class_weight", low=0.0) for w in class_weight)
    return np.where(foreground, w_fg, w_bg)


def _border_radius(sigma: float, rel_tol: float) -> float:
    """The radius D beyond which the border term is at most ``rel_tol·w0``: exp(−D²/(2σ²)) = rel_tol."""
    return sigma * math.sqrt(2.0 * math.log(1.0 / rel_tol))


def _two_nearest(labels: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances d1 ≤ d2 to the nearest and second-nearest instance (inf where none within ``radius``).

    Each instance's distance transform runs only on its bounding box grown by ``ceil(radius)`` pixels,
    outside of which every pixel is farther than ``radius`` from it.
    """
    d1 = np.full(labels.shape, np.inf)
    d2 = np.full(labels.shape, np.inf)
    if labels.max() > 4 * labels.size:  # sparse huge ids: relabel the cells 1..K (background stays 0)
        ids = np.unique(labels[labels > 0])
        labels = np.where(labels > 0, np.searchsorted(ids, labels) + 1, 0)
    boxes = ndimage.find_objects(labels)
    pad = math.ceil(radius)
    for index, box in enumerate(boxes, start=1):
        if box is None:
            continue
        window = tuple(
            slice(max(s.start - pad, 0), min(s.stop + pad, size)) for s, size in zip(box, labels.shape, strict=True)
        )
        dist = ndimage.distance_transform_edt(labels[window] != index)
        near, second = d1[window], d2[window]
        np.minimum(second, np.maximum(near, dist), out=second)
        np.minimum(near, dist, out=near)
    return d1, d2


def _weight_map(
    instances: Any,
    w0: float,
    sigma: float,
    class_weight: ClassWeights,
    background_only: bool,
    radius: float,
    connectivity: int = 8,
) -> Tensor:
    check_number(w0, "w0", low=0.0)
    check_number(sigma, "sigma", low=0.0, low_inclusive=False)
    check_bool(background_only, "background_only")
    arr = _as_instances(instances)
    batch = arr if arr.ndim == 3 else arr[None]
    out = np.empty(batch.shape, dtype=np.float32)
    binary = batch.max() <= 1  # a bool or 0/1 mask: its cells are its connected components
    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    for i, labels in enumerate(batch):
        if binary:
            labels = ndimage.label(labels, structure=structure)[0]
        d1, d2 = _two_nearest(labels, radius)
        border = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))
        if background_only:
            border[labels > 0] = 0.0
        out[i] = _class_weight_map(labels, class_weight) + border
    result = torch.from_numpy(out)
    if isinstance(instances, Tensor):
        result = result.to(instances.device)
    return result if arr.ndim == 3 else result[0]


def unet_weight_map(
    instances: Any,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    class_weight: ClassWeights = None,
    background_only: bool = True,
    rel_tol: float = 1e-4,
    connectivity: int = 8,
) -> Tensor:
    """U-Net weight map ``w = w_c + w0·exp(−(d1 + d2)²/(2σ²))`` for an integer instance map.

    Args:
        instances: (H, W) or (N, H, W) integer instance ids, 0 = background, numpy or torch. A binary mask
            (bool, or ids 0 and 1 only) is split into its connected components, one cell each (``connectivity``).
            **Warning:** cells that touch in a binary mask become one component and get no border between
            them — give an instance map to keep touching cells apart.
        w0, sigma: the border term's height and width in pixels (paper: 10 and ≈ 5).
        class_weight: ``w_c``: None (1 everywhere), ``(w_background, w_foreground)`` (a sequence, numpy array
            or tensor), or ``"balanced"`` (``n/(2·n_class)`` per image, so both classes carry equal total weight).
        background_only: add the border term on background pixels only (where the paper's separating
            borders lie); False adds it on cell pixels too (there d1 = 0).
        rel_tol: error bound. Each cell's distance transform runs only on its bounding box grown by
            ``D = σ·sqrt(2·ln(1/rel_tol))`` pixels (21.5 px for σ = 5). Every distance that is computed is
            exact; a pixel whose two nearest cells are both within D gets the exact map, and any other
            pixel has a true border term ``≤ w0·exp(−D²/(2σ²)) = rel_tol·w0`` and a computed one in
            ``[0, rel_tol·w0]``. Hence ``|w − w_exact| ≤ rel_tol·w0`` everywhere. Cost: Σ_k (box_k + 2D)²
            instead of K·H·W for K cells.
        connectivity: 8 (default; diagonal neighbours connect) or 4, for the components of a binary mask.

    Returns:
        float32 tensor of the instances' shape (on the instances' device when they are a tensor; the map is
        computed on the CPU with SciPy).

    Distances: Euclidean distance transform to the nearest pixel of each cell, so a straight gap of g
    background pixels between two cells gives ``d1 + d2 = g + 1`` and ``w − w_c = w0·exp(−(g+1)²/(2σ²))``.

    References:
        Ronneberger, Fischer, Brox, "U-Net", MICCAI 2015, arXiv 1505.04597.

    Example:
        >>> cells = torch.zeros(1, 7, dtype=torch.long); cells[0, :3] = 1; cells[0, 4:] = 2
        >>> round(float(unet_weight_map(cells)[0, 3]), 4)  # gap g = 1: 1 + 10·exp(−4/50)
        10.2312
    """
    check_number(rel_tol, "rel_tol", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_number(sigma, "sigma", low=0.0, low_inclusive=False)
    check_option(connectivity, "connectivity", (4, 8))
    radius = _border_radius(sigma, rel_tol)
    return _weight_map(instances, w0, sigma, class_weight, background_only, radius, connectivity)
