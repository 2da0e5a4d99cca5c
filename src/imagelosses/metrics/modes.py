"""Mode coverage of samples from a known Gaussian mixture: the measure of mode collapse in GANs.

Protocol of VEEGAN (Srivastava et al., arXiv 1705.07761, Section 5.1) and PacGAN (Lin et al.,
arXiv 1712.04086, Section 5) on the ring of 8 and the grid of 25 Gaussians of standard deviation ``std``:
each sample is assigned to its nearest mode centre; it is **high-quality** when it lies within
``hq_stds · std`` of that centre (3 standard deviations in both papers); a mode is **covered** when at least
``min_samples`` high-quality samples are assigned to it. The papers draw 2,500 samples; the threshold
``min_samples = 20`` is our reading (the papers were not available offline to check it), so it is a parameter.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .._core.checks import check_floating, check_int, check_ndim, check_number, check_same_device, fail, fmt_shape
from .._core.dtypes import wide_dtype

__all__ = ["ModeCoverage", "mode_coverage"]


class ModeCoverage(NamedTuple):
    covered: int  #: modes with at least ``min_samples`` high-quality samples
    high_quality: float  #: fraction of the samples within ``hq_stds · std`` of their nearest centre
    counts: Tensor  #: ``(M,)`` high-quality samples per mode


def mode_coverage(samples: Tensor, centres: Tensor, std: float, *, hq_stds: float = 3.0,
                  min_samples: int = 20) -> ModeCoverage:
    """Modes covered and the fraction of high-quality samples (module docstring).

    Args:
        samples: ``(N, D)`` floating samples of the generator, ``N >= 1``.
        centres: ``(M, D)`` floating mode centres, ``M >= 1``.
        std: the standard deviation of every mixture component, > 0.
        hq_stds: the radius of a high-quality sample, in standard deviations, > 0.
        min_samples: high-quality samples a mode needs to count as covered, >= 1.

    Returns:
        :class:`ModeCoverage`. A non-finite sample is never high-quality.

    Example:
        >>> import torch
        >>> centres = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        >>> mode_coverage(torch.zeros(20, 2), centres, 0.02).covered
        1
    """
    for name, x in (("samples", samples), ("centres", centres)):
        check_floating(x, name)
        check_ndim(x, name, (2,), "(N, D)" if name == "samples" else "(M, D)")
        if x.shape[0] == 0 or x.shape[1] == 0:
            fail(name, "at least one row of at least one coordinate", f"shape {fmt_shape(x.shape)}")
    if centres.shape[1] != samples.shape[1]:
        fail("centres", f"shape (M, {samples.shape[1]}), the samples' dimension", fmt_shape(centres.shape))
    check_same_device(centres, "centres", samples, "samples")
    if not bool(torch.isfinite(centres).all()):
        fail("centres", "finite mode centres", "NaN or infinite entries")
    std = check_number(std, "std", low=0.0, low_inclusive=False)
    hq_stds = check_number(hq_stds, "hq_stds", low=0.0, low_inclusive=False)
    min_samples = check_int(min_samples, "min_samples", low=1)
    with torch.no_grad():
        wide = wide_dtype(samples.device)
        dist = torch.cdist(samples.to(wide), centres.to(wide))
        nearest, which = dist.min(dim=1)
        hq = nearest <= hq_stds * std  # NaN distances compare False
        counts = torch.bincount(which[hq], minlength=centres.shape[0])
        return ModeCoverage(int((counts >= min_samples).sum()), float(hq.to(wide).mean()), counts)
