"""The command's files: images and masks read with one clear error for every way they can fail, output paths
checked before any work starts, images written atomically (:func:`imagelosses._core.io.atomic_output`).

Pillow and numpy are imported inside the functions, so ``imagelosses --help`` stays light.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.checks import fail
from .._core.io import atomic_output
from .common import MIN_SIDE, InputError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["PIL_SUFFIXES", "PLOT_SUFFIXES", "check_folder", "check_output", "load_image", "load_mask", "open_image",
           "save_image"]

PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
PLOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf", ".svg")


def open_image(path: str, name: str) -> Any:
    """The Pillow image at ``path``, fully read; one clear error for every way it can fail."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        fail(name, "an existing image file", f"{path!r} (no such file)", exc=InputError)
    if p.is_dir():
        fail(name, "an image file", f"{path!r} (a folder)", exc=InputError)
    try:
        image = Image.open(p)
        image.load()
    except PermissionError:
        fail(name, "a readable image file", f"{path!r} (permission denied)", exc=InputError)
    except UnidentifiedImageError:
        fail(name, "an image file (PNG, JPEG, TIFF, ...)", f"{path!r} (not an image Pillow can read)", exc=InputError)
    except Image.DecompressionBombError as error:
        fail(name, "an image of a size Pillow reads safely", f"{path!r} ({error})", exc=InputError)
    except (OSError, SyntaxError, ValueError) as error:
        fail(name, "a readable image file", f"{path!r} (truncated or corrupt: {error})", exc=InputError)
    return image


def _has_alpha(image: Any) -> bool:
    return bool(image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info)


def _resize(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` (H, W) or (H, W, 3) resized (Lanczos, per channel, in float) so that its longer side is ``size``."""
    import numpy as np
    from PIL import Image

    h, w = array.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    channels = [array] if array.ndim == 2 else [array[..., c] for c in range(3)]
    return np.stack([np.asarray(Image.fromarray(c).resize(new, Image.Resampling.LANCZOS)) for c in channels],
                    axis=-1).clip(0.0, 1.0)


def load_image(path: str, name: str, *, size: int | None = None, min_side: int = MIN_SIDE) -> torch.Tensor:
    """``(1, 3, H, W)`` float32 in [0, 1]; a grey image repeated to RGB; alpha refused. With ``size``, resized
    (Lanczos) so that its longer side is ``size`` pixels. An image whose shorter side is below ``min_side``
    pixels, as read or once resized, is refused (a 1 × 1 image has no content to upscale)."""
    import numpy as np
    import torch

    image = open_image(path, name)
    if _has_alpha(image):
        fail(name, "an image without alpha channel (flatten it onto a background first)",
             f"{path!r} (mode {image.mode}{', with transparency' if 'transparency' in image.info else ''})",
             exc=InputError)
    if min(image.size) < min_side:
        fail(name, f"an image of at least {min_side}x{min_side} pixels", f"{path!r} ({image.width}x{image.height})",
             exc=InputError)
    if image.mode.startswith("I;16"):
        array = np.asarray(image, dtype=np.float32) / 65535.0
    elif image.mode in ("1", "L", "I", "F"):
        array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    else:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if size is not None:
        array = _resize(array, size)
        if min(array.shape[:2]) < min_side:
            fail(name, f"an image whose shorter side is still at least {min_side} pixels at --size {size}",
                 f"{path!r} ({image.width}x{image.height}, resized to {array.shape[1]}x{array.shape[0]})",
                 exc=InputError)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].float()


def load_mask(path: str, name: str) -> np.ndarray:
    """An integer label map: grey levels or palette indices are the labels; an RGB mask must be grey."""
    import numpy as np

    image = open_image(path, name)
    if _has_alpha(image):
        fail(name, "a mask without alpha channel", f"{path!r} (mode {image.mode})", exc=InputError)
    if image.mode in ("RGB", "CMYK", "YCbCr", "LAB", "HSV"):
        rgb = np.asarray(image.convert("RGB"))
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            fail(name, "a one-channel mask (grey levels or palette indices as labels)",
                 f"{path!r} (a colour image)", exc=InputError)
        return rgb[..., 0].astype(np.int64)
    if image.mode == "F":
        fail(name, "an integer mask", f"{path!r} (floating-point pixels)", exc=InputError)
    return np.asarray(image).astype(np.int64)


def _probe(folder: Path) -> None:
    """Create and remove a temporary file in ``folder``: raises ``OSError`` where this process cannot write."""
    fd, probe = tempfile.mkstemp(prefix=".probe.", dir=folder)
    os.close(fd)
    os.unlink(probe)


def check_output(path: str, name: str = "-o", suffixes: tuple[str, ...] = PIL_SUFFIXES) -> Path:
    """A file path ending in one of ``suffixes``, in an existing folder this process can write to (probed by
    creating and removing a temporary file there)."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        fail(name, "a file name ending in " + ", ".join(suffixes), repr(path), exc=InputError)
    folder = target.parent
    if not folder.is_dir():
        why = "is a file" if folder.exists() else "does not exist"
        fail(name, "a path in a writable folder", f"{path!r} (the folder {str(folder)!r} {why})", exc=InputError)
    if target.is_dir():
        fail(name, "an image file name", f"{path!r} (a folder)", exc=InputError)
    try:
        _probe(folder)
    except OSError as error:
        fail(name, "a path in a writable folder", f"{path!r} ({error.strerror or error})", exc=InputError)
    return target


def check_folder(folder: Path, name: str) -> None:
    """``folder`` is, or can be created as, a folder this process can write to; nothing is created."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(name, "a writable folder", f"{str(folder)!r} ({str(existing)!r} is a file)", exc=InputError)
    try:
        _probe(existing)
    except OSError as error:
        fail(name, "a writable folder", f"{str(folder)!r} ({error.strerror or error})", exc=InputError)


def save_image(image: torch.Tensor, path: Path) -> None:
    """Write ``(1, 3, H, W)`` in [0, 1] as an 8-bit RGB image, atomically."""
    import numpy as np
    from PIL import Image

    array = (image[0].detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    with atomic_output(path) as tmp:
        Image.fromarray(array).save(tmp, format=Image.registered_extensions()[path.suffix.lower()])
