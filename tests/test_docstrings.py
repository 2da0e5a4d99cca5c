"""Every public class documents itself as fully as a function (issue 18): its options (Args), its errors (Raises)
and an example; a module with a functional twin shows the function's docstring (the math, Args, Shape, Raises,
References) under its own, through one class keyword (``OptionsLoss``'s ``function=``), not a copy."""

from __future__ import annotations

import inspect
import pydoc
from typing import Any

import pytest
from torch import Tensor

import imagelosses
import imagelosses.functional as ilf
from imagelosses._core.module import OptionsLoss, function_docs
from imagelosses._core.options import Options

CLASSES = {name: obj for name in imagelosses.__all__ if inspect.isclass(obj := getattr(imagelosses, name))}
MODULES = {name: cls for name, cls in CLASSES.items() if issubclass(cls, OptionsLoss)}


def test_the_tables_are_not_empty() -> None:
    assert len(MODULES) >= 30 and {"DiceLoss", "PerceptualLoss", "GANLoss", "MSELoss"} <= set(MODULES)
    assert {"CombinedFeatureLoss", "ImagePool", "PKSampler", "VGGFeatures"} <= set(CLASSES) - set(MODULES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_public_class_has_a_full_docstring(name: str) -> None:
    doc = inspect.getdoc(CLASSES[name]) or ""
    for section in ("Args:", "Raises:", "Example:"):
        assert f"\n{section}\n" in doc, f"{name}: no {section} section in help({name})"
    assert ">>> " in doc, f"{name}: an example without a doctest"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_shows_its_function_docstring_once(name: str) -> None:
    cls = MODULES[name]
    doc = inspect.getdoc(cls) or ""
    assert "\nThe computation (from :func:`~imagelosses." in doc, name
    assert doc.count("Example:") == 1, f"{name}: the function's example is left out, the module's kept"
    assert "The computation (from" in pydoc.render_doc(cls, renderer=pydoc.plaintext)  # what help() prints


def test_the_function_text_is_the_function_docstring_not_a_copy() -> None:
    dice = inspect.getdoc(imagelosses.DiceLoss) or ""
    function = inspect.getdoc(ilf.dice_loss) or ""
    math, _ = function.split("\nExample:")
    assert math.strip() in dice  # the math, Args, Shape, Raises, References, word for word
    gan = inspect.getdoc(imagelosses.GANLoss) or ""
    assert ":func:`~imagelosses.losses.adversarial.discriminator_loss`" in gan  # one module, two functions
    assert ":func:`~imagelosses.losses.adversarial.generator_loss`" in gan


def _twin(x: Tensor, *, scale: float = 1.0) -> Tensor:
    """``l = scale·x``.

    Args:
        scale: the factor.

    Example:
        >>> _twin(1)
        1

    References:
        A paper.
    """
    return x * scale


def test_function_docs_keeps_the_module_example_and_the_sections_after_the_function_example() -> None:
    doc = function_docs("""A module.

        Example:
            >>> Module()
        """, (_twin,))
    assert doc == ("A module.\n\nExample:\n    >>> Module()\n\n"
                   "The computation (from :func:`~tests.test_docstrings._twin`):\n\n"
                   "``l = scale·x``.\n\nArgs:\n    scale: the factor.\n\nReferences:\n    A paper.\n")


def test_the_class_keyword_on_a_new_module() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class TwinOptions(Options):
        scale: float = 1.0

    class Twin(OptionsLoss[TwinOptions], function=_twin):
        """A module.

        Example:
            >>> Twin()
        """

        Options = TwinOptions

        def forward(self, x: Any) -> Any:
            return _twin(x, scale=self.current_options().scale)

    doc = inspect.getdoc(Twin) or ""
    assert doc.startswith("A module.\n\nExample:\n    >>> Twin()\n\nThe computation") and "Args:\n    scale" in doc
    assert str(inspect.signature(Twin)) == "(*, scale: 'float' = 1.0)"  # the keyword leaves the signature as it was
