"""Naive reference implementations written independently of the library (also used by benchmarks/)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage


def naive_unet_weight_map(
    instances: np.ndarray, *, w0: float = 10.0, sigma: float = 5.0, background_only: bool = True
) -> np.ndarray:
    """U-Net map the usual way: one full-image distance transform per instance, stacked and sorted.

    ``instances`` is one (H, W) integer map; class weight w_c = 1.
    """
    ids = [i for i in np.unique(instances) if i != 0]
    weight = np.ones(instances.shape, dtype=np.float64)
    if len(ids) < 2:
        return weight
    distances = np.stack([ndimage.distance_transform_edt(instances != i) for i in ids])
    distances.sort(axis=0)
    border = w0 * np.exp(-((distances[0] + distances[1]) ** 2) / (2 * sigma**2))
    if background_only:
        border[instances > 0] = 0
    return weight + border


def make_cells(size: int, count: int, *, seed: int = 0, radius: tuple[int, int] = (6, 14)) -> np.ndarray:
    """A (size, size) instance map of ``count`` non-overlapping-first, touching-allowed random disks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    instances = np.zeros((size, size), dtype=np.int64)
    label = 0
    attempts = 0
    while label < count and attempts < 50 * count:
        attempts += 1
        r = rng.integers(*radius)
        cy, cx = rng.integers(r, size - r, size=2)
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        if (instances[disk] > 0).mean() > 0.1:
            continue
        label += 1
        instances[disk & (instances == 0)] = label
    return instances


def naive_pixel_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    class_weight: torch.Tensor,
    pixel_weight: torch.Tensor,
    ignore_index: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loop over pixels: returns (Σ m·w_y·(−log p_y), Σ m·w_y) over non-ignored pixels (N, C, H, W)."""
    n, _, h, w = logits.shape
    total = torch.zeros((), dtype=torch.float64)
    denom = torch.zeros((), dtype=torch.float64)
    logp = torch.log_softmax(logits.double(), dim=1)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = int(target[b, i, j])
                if y == ignore_index:
                    continue
                wy = float(class_weight[y]) * float(pixel_weight[b, i, j])
                total += -wy * logp[b, y, i, j]
                denom += wy
    return total, denom
