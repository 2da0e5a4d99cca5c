"""Measures of thin-structure segmentations (roads, vessels, membranes): Betti-number errors,
completeness / correctness / quality with a pixel tolerance (Wiedemann 1998) and the clDice score.

Inputs are **binary** masks, as numpy arrays or torch tensors (bool, or numbers that are all 0 or 1 —
threshold probabilities first, e.g. ``p > 0.5``), of shape ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``;
prediction and reference must have one shape. Every function returns one float64 numpy value per image,
shape ``(N,)`` (``N = 1`` for a single ``(H, W)`` mask). These are evaluation measures, not losses: they
are never differentiated.

Conventions:

- **Connectivity**: foreground components are 8-connected by default (``connectivity=8``, the usual choice
  for one-pixel-wide curves: a diagonal step does not break a road) and the background then 4-connected (the
  dual, so that every hole is counted once); ``connectivity=4`` swaps them.
- **Centre lines**: completeness, correctness and quality compare centre lines (Wiedemann's measures are
  ratios of lengths), extracted by Zhang–Suen thinning (:func:`centerline`), unless ``centerline=False``
  (then all mask pixels count). The clDice score uses the centre lines as the paper does.
- **Tolerance**: a pixel is matched when the Euclidean distance to the other centre line is at most
  ``tolerance`` pixels (default 2 px).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import ndimage

from .._core.checks import check_number, check_option, check_tensor, fail, fmt_shape

__all__ = [
    "CCQ",
    "BettiErrors",
    "betti_errors",
    "betti_numbers",
    "centerline",
    "cldice_score",
    "completeness_correctness_quality",
    "topology_scores",
]

Masks = NDArray[np.bool_]
Values = NDArray[np.float64]

_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)


def as_masks(x: Any, name: str) -> Masks:
    """A batch ``(N, H, W)`` of boolean masks from a binary numpy array or torch tensor."""
    if isinstance(x, torch.Tensor):
        x = check_tensor(x, name).detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        fail(name, "a binary mask as a numpy array or torch tensor", type(x).__name__, exc=TypeError)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    elif x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        fail(name, "a binary mask of shape (H, W), (N, H, W) or (N, 1, H, W)", f"shape {fmt_shape(x.shape)}")
    if x.size == 0:
        fail(name, "a non-empty mask", f"shape {fmt_shape(x.shape)}")
    if x.dtype == np.bool_:
        return np.asarray(x, dtype=bool)
    if not (np.issubdtype(x.dtype, np.number)) or np.iscomplexobj(x):
        fail(name, "a binary mask of bools or numbers", f"dtype {x.dtype}", exc=TypeError)
    if not bool(((x == 0) | (x == 1)).all()):
        lo, hi = float(np.min(x)), float(np.max(x))
        hint = "divide a 0/255 mask by 255" if hi == 255 else "threshold probabilities first, e.g. p > 0.5"
        fail(name, f"a binary mask of 0s and 1s ({hint})", f"values in [{lo:g}, {hi:g}]")
    return np.asarray(x, dtype=bool)


def _pair(pred: Any, target: Any) -> tuple[Masks, Masks]:
    p, t = as_masks(pred, "pred"), as_masks(target, "target")
    if p.shape != t.shape:
        fail("target", f"masks of the shape of pred {fmt_shape(p.shape)} (as (N, H, W))", fmt_shape(t.shape))
    return p, t


def _structures(connectivity: int) -> tuple[NDArray[Any], NDArray[Any]]:
    check_option(connectivity, "connectivity", (4, 8))
    return (_SQUARE, _CROSS) if connectivity == 8 else (_CROSS, _SQUARE)


# ----------------------------------------------------------------------------------------------- thinning
def _zhang_suen(masks: Masks) -> Masks:
    img = np.pad(masks, ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    inner = img[:, 1:-1, 1:-1]  # a view: deleting through it thins img
    while True:
        changed = False
        for step in (0, 1):
            p2, p3, p4 = img[:, :-2, 1:-1], img[:, :-2, 2:], img[:, 1:-1, 2:]
            p5, p6, p7 = img[:, 2:, 2:], img[:, 2:, 1:-1], img[:, 2:, :-2]
            p8, p9 = img[:, 1:-1, :-2], img[:, :-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = sum(r.astype(np.int16) for r in ring[:8])
            transitions = sum(((a == 0) & (b == 1)).astype(np.int16) for a, b in pairwise(ring))
            if step == 0:
                side = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                side = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            delete = (inner == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
            if delete.any():
                inner[delete] = 0
                changed = True
        if not changed:
            return inner.astype(bool)


def centerline(mask: Any) -> Masks:
    """One-pixel-wide centre lines of binary masks by Zhang–Suen thinning, 8-connected; a component that
    thinning would erase altogether (Zhang–Suen deletes 2×2 blocks) keeps one pixel, so components are
    never lost.

    Shape:
        ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` → ``(N, H, W)`` booleans.

    References:
        Zhang & Suen, "A fast parallel algorithm for thinning digital patterns", CACM 27(3), 1984.

    Example:
        >>> bar = np.zeros((7, 9), dtype=bool); bar[2:5, 1:8] = True
        >>> sorted(set(np.nonzero(centerline(bar)[0])[0].tolist()))  # the rows it keeps: the middle one
        [3]
    """
    masks = as_masks(mask, "mask")
    thin = _zhang_suen(masks)
    for i in range(masks.shape[0]):
        labels, count = ndimage.label(masks[i], structure=_SQUARE)
        if count == 0:
            continue
        kept = np.zeros(count + 1, dtype=bool)
        kept[labels[thin[i]]] = True
        for lab in np.flatnonzero(~kept[1:]) + 1:
            ys, xs = np.nonzero(labels == lab)
            thin[i, ys[len(ys) // 2], xs[len(xs) // 2]] = True
    return thin


# -------------------------------------------------------------------------------------------------- Betti
def betti_numbers(mask: Any, *, connectivity: int = 8) -> NDArray[np.int64]:
    """Betti numbers ``(b0, b1)`` of each 2-D binary mask: ``b0`` the number of foreground components,
    ``b1`` the number of holes (background components that do not reach the image border).

    Shape:
        masks as the module docstring says → ``(N, 2)`` integers.

    Example:
        >>> ring = np.zeros((7, 7), dtype=bool); ring[1:6, 1:6] = True; ring[3, 3] = False
        >>> betti_numbers(ring).tolist()
        [[1, 1]]
    """
    masks = as_masks(mask, "mask")
    fg, bg = _structures(connectivity)
    out = np.zeros((masks.shape[0], 2), dtype=np.int64)
    for i, m in enumerate(masks):
        out[i, 0] = ndimage.label(m, structure=fg)[1]
        outside = np.pad(~m, 1, constant_values=True)  # the border frame joins every background touching it
        out[i, 1] = ndimage.label(outside, structure=bg)[1] - 1
    return out


class BettiErrors(NamedTuple):
    """Per image ``|b0(pred) − b0(target)|`` and ``|b1(pred) − b1(target)|``, float64 ``(N,)``."""

    betti0: Values
    betti1: Values


def betti_errors(pred: Any, target: Any, *, connectivity: int = 8) -> BettiErrors:
    """Absolute Betti-number errors: how many components (b0: breaks split a curve, clutter adds blobs) and
    holes (b1: loops of a network) the prediction has too many or too few. Connectivity as the module says.

    Example:
        >>> line = np.zeros((5, 9), dtype=bool); line[2, 1:8] = True
        >>> broken = line.copy(); broken[2, 4] = False
        >>> betti_errors(broken, line).betti0.tolist()
        [1.0]
    """
    p, t = _pair(pred, target)
    diff = np.abs(betti_numbers(p, connectivity=connectivity) - betti_numbers(t, connectivity=connectivity))
    return BettiErrors(diff[:, 0].astype(np.float64), diff[:, 1].astype(np.float64))


# ------------------------------------------------------------------------------- completeness & co.
class CCQ(NamedTuple):
    """Wiedemann's completeness, correctness and quality per image, float64 ``(N,)``."""

    completeness: Values
    correctness: Values
    quality: Values


def _within(a: NDArray[np.bool_], b: NDArray[np.bool_], tolerance: float) -> int:
    """How many pixels of ``a`` lie within ``tolerance`` (Euclidean, px) of a pixel of ``b``."""
    if not b.any() or not a.any():
        return 0
    return int((ndimage.distance_transform_edt(~b)[a] <= tolerance).sum())


def completeness_correctness_quality(pred: Any, target: Any, *, tolerance: float = 2.0,
                                     centerline: bool = True) -> CCQ:
    """Wiedemann's road-extraction measures with a buffer of ``tolerance`` pixels.

    With ``P``, ``T`` the predicted and reference centre lines (or masks when ``centerline=False``),
    ``TP_P`` the pixels of ``P`` within ``tolerance`` of ``T``, ``TP_T`` those of ``T`` within
    ``tolerance`` of ``P`` and ``FN = |T| − TP_T``:
    completeness ``= TP_T / |T|`` (how much of the reference is found), correctness ``= TP_P / |P|`` (how
    much of the prediction is right), quality ``= TP_P / (|P| + FN)``. An empty ``T`` gives completeness 1
    (nothing to find), an empty ``P`` correctness 1 (nothing wrong), and both empty quality 1.

    Args:
        pred, target: binary masks (see the module docstring).
        tolerance: the buffer width in pixels, ≥ 0 (default 2; Euclidean distance ≤ tolerance).
        centerline: compare Zhang–Suen centre lines (default) or all mask pixels.

    References:
        Wiedemann, Heipke, Mayer, Jamet, "Empirical evaluation of automatically extracted road axes", in
        Empirical Evaluation Techniques in Computer Vision, IEEE 1998.

    Example:
        >>> ref = np.zeros((5, 24), dtype=bool); ref[2, 2:22] = True
        >>> found = ref.copy(); found[2, 12:22] = False   # half the road missed
        >>> [round(float(v[0]), 3) for v in completeness_correctness_quality(found, ref)]
        [0.6, 1.0, 0.556]
    """
    tol = check_number(tolerance, "tolerance", low=0.0)
    p, t = _pair(pred, target)
    if not isinstance(centerline, bool):
        fail("centerline", "a bool (True or False)", repr(centerline), exc=TypeError)
    if centerline:
        p, t = _centerlines(p), _centerlines(t)
    out = np.zeros((3, p.shape[0]), dtype=np.float64)
    for i in range(p.shape[0]):
        n_p, n_t = int(p[i].sum()), int(t[i].sum())
        tp_p, tp_t = _within(p[i], t[i], tol), _within(t[i], p[i], tol)
        out[0, i] = tp_t / n_t if n_t else 1.0
        out[1, i] = tp_p / n_p if n_p else 1.0
        out[2, i] = tp_p / (n_p + n_t - tp_t) if n_p + n_t - tp_t else 1.0
    return CCQ(out[0], out[1], out[2])


_centerlines = centerline  # the function, under a name the ``centerline=`` flag does not shadow


def cldice_score(pred: Any, target: Any) -> Values:
    """The clDice score of binary masks: ``2·Tprec·Tsens / (Tprec + Tsens)`` with
    ``Tprec = |S_P ∩ V_T| / |S_P|`` and ``Tsens = |S_T ∩ V_P| / |S_T|``, ``S`` the Zhang–Suen centre lines
    and ``V`` the masks. An empty skeleton makes its ratio 1 (nothing to check), so two empty masks score 1
    and an empty prediction of a non-empty reference scores 0.

    References:
        Shit et al., "clDice", CVPR 2021, arXiv 2003.07311 (equation 1).

    Example:
        >>> line = np.zeros((5, 9), dtype=bool); line[2, 1:8] = True
        >>> cldice_score(line, line).tolist()
        [1.0]
    """
    p, t = _pair(pred, target)
    sp, st = _centerlines(p), _centerlines(t)
    axes = (1, 2)
    n_sp, n_st = sp.sum(axes), st.sum(axes)
    tprec = np.where(n_sp > 0, (sp & t).sum(axes) / np.maximum(n_sp, 1), 1.0)
    tsens = np.where(n_st > 0, (st & p).sum(axes) / np.maximum(n_st, 1), 1.0)
    total = tprec + tsens
    return np.where(total > 0, 2 * tprec * tsens / np.where(total > 0, total, 1.0), 0.0).astype(np.float64)


def topology_scores(pred: Any, target: Any, *, tolerance: float = 2.0, connectivity: int = 8) -> dict[str, Values]:
    """Every measure of this module at once: ``betti0_error``, ``betti1_error``, ``completeness``,
    ``correctness``, ``quality`` (on centre lines, with ``tolerance`` px) and ``cldice``; each ``(N,)``."""
    betti = betti_errors(pred, target, connectivity=connectivity)
    ccq = completeness_correctness_quality(pred, target, tolerance=tolerance)
    return {"betti0_error": betti.betti0, "betti1_error": betti.betti1, "completeness": ccq.completeness,
            "correctness": ccq.correctness, "quality": ccq.quality, "cldice": cldice_score(pred, target)}
