"""Every docstring example in the package runs as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import imagelosses

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(imagelosses.__path__, prefix="imagelosses.")
    if info.name != "imagelosses.__main__"  # importing it runs the command
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
