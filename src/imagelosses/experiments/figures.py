"""Figure writing for the experiments: matplotlib figures detached from pyplot, images drawn side by side at
one scale, and PNGs written atomically (through :func:`imagelosses._core.io.atomic_output`: a temporary name
in the same folder, renamed when complete, with the umask's permissions).

matplotlib (the ``demo`` extra) is imported inside the functions that need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from .._core.io import atomic_output
from .base import Figure

__all__ = ["new_figure", "save_figure", "save_pyplot_figure", "show_image"]


def new_figure(width: float, height: float) -> Any:
    """A matplotlib figure detached from pyplot (no global state; rendered with Agg)."""
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), layout="constrained")


def save_figure(fig: Any, path: Path, *, dpi: int = 90) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically (a temporary name in the same folder, then renamed)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def save_pyplot_figure(fig: Any, path: Path, caption: str, *, title: str, title_size: int = 8,
                       dpi: int = 90) -> Figure:
    """Title, lay out, write (atomically, as :func:`save_figure`) and close a pyplot figure; its report entry."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=title_size)
    fig.tight_layout()
    written = save_figure(fig, path, dpi=dpi)
    plt.close(fig)
    return Figure(written, caption)


def show_image(ax: Any, x: Tensor, title: str) -> None:
    """Draw a ``(3|1, H, W)`` or ``(H, W)`` image in [0, 1] on ``ax`` without axes ticks."""
    x = x.detach().cpu().float().clamp(0, 1)
    arr = x.numpy() if x.ndim == 2 else x.permute(1, 2, 0).numpy()
    ax.imshow(arr.squeeze(), cmap="gray" if arr.ndim == 2 or arr.shape[-1] == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
