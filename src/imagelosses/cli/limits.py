"""How large an image the command can optimise on this machine: an estimate of the memory one L-BFGS run on
the pixels takes, checked against the memory available before anything is loaded.

The estimate, from the peak resident memory of ``stylize`` on the CPU with the Oxford VGG16 to relu5_1 (3 steps
at 128, 256 and 512 px: 0.80, 0.98 and 1.40 GiB; full 200-step runs at 256 px: 1.16 GB for style-transfer,
1.25 GB for texture): about 3 KB per pixel of the synthesis for the VGG's activations kept for the backward
pass (64 channels at full size, 128 at ½, 256 at ¼, 512 at ⅛ and 1/16, with their ReLUs and pooling indices),
1.2 KB per pixel for L-BFGS's history (50 pairs of pixel-sized float32 vectors) and some margin, plus about
0.9 GB for torch and the weights. At the default 256 px that is about 1.3 GB; ``--size 100000`` would need
about 50 TB.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._core.checks import fail
from .common import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["BYTES_PER_PIXEL", "FIXED_BYTES", "available_memory", "check_size", "estimate_bytes", "largest_size"]

#: Activations of the VGG16 to relu5_1 kept for the backward pass (~3 KB) plus L-BFGS's history (~1.2 KB), per pixel.
BYTES_PER_PIXEL = 5_000
#: torch, the VGG's weights and the rest of the process.
FIXED_BYTES = 900 * 2**20
#: The share of the available memory a run may plan to use.
SHARE = 0.8


def estimate_bytes(height: int, width: int) -> int:
    """The estimated peak memory of optimising one ``height × width`` image (see the module's docstring)."""
    return FIXED_BYTES + BYTES_PER_PIXEL * height * width


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device``: ``torch.cuda.mem_get_info`` on a GPU; on the CPU ``MemAvailable`` of
    ``/proc/meminfo`` (Linux), else the physical memory."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def largest_size(free: int) -> int:
    """The largest square side whose estimate fits in ``SHARE`` of ``free`` bytes."""
    budget = SHARE * free - FIXED_BYTES
    return max(0, int((budget / BYTES_PER_PIXEL) ** 0.5)) if budget > 0 else 0


def _gib(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} bytes"


def check_size(size: int, device: torch.device, option: str = "--size") -> None:
    """Refuse ``size`` (the side of a square synthesis, the worst case of an image whose longer side is
    ``size``) when its memory estimate exceeds what ``device`` has free, with one line naming ``option``."""
    free = available_memory(device)
    limit = largest_size(free)
    if size > limit:
        need = _gib(estimate_bytes(size, size))
        fail(option, f"at most {limit} pixels on this {device.type} ({need} of memory needed at {size} px, "
                     f"{_gib(free)} available)", str(size), exc=InputError)
