"""One options object per loss: a frozen dataclass, validated once, shared by the function and the module.

A loss declares its options once, as a dataclass whose fields carry the type (``bool``, ``int``, ``float``, a
``Literal`` or a tensor) and, for numbers, their bounds (:func:`number`)::

    @dataclass(frozen=True)
    class CharbonnierOptions(Options):
        eps: float = number(1e-3, low=0.0, low_inclusive=False)
        reduction: Reduction = "mean"
        check_finite: bool = False

:meth:`Options.__post_init__` checks every field from its annotation with the library's one error vocabulary
(:mod:`imagelosses._core.checks`) — ``"eps: expected a finite number > 0.0, got 0"`` — and stores the normalised
value (a numpy float becomes a Python float); :meth:`Options.validate` adds the checks that involve several
fields. The function builds the object from its own keyword arguments (``CharbonnierOptions.pick(locals())``)
and the module stores it (:class:`imagelosses._core.module.Loss`), so both go through the same checked path and
the same bad option gives the same message both ways. Each option name is written in its dataclass, the
function signature and the docstring, and nowhere else.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from torch import Tensor

from .checks import check_bool, check_int, check_number, check_option

__all__ = ["Options", "OptionsT", "integer", "number"]

OptionsT = TypeVar("OptionsT", bound="Options")


def number(default: float, *, low: float | None = None, high: float | None = None, low_inclusive: bool = True,
           high_inclusive: bool = True, finite: bool = True) -> Any:
    """A ``float`` field with bounds, checked by :func:`~imagelosses._core.checks.check_number`."""
    bounds = {"low": low, "high": high, "low_inclusive": low_inclusive, "high_inclusive": high_inclusive,
              "finite": finite}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def integer(default: int, *, low: int | None = None) -> Any:
    """An ``int`` field with a lower bound, checked by :func:`~imagelosses._core.checks.check_int`."""
    return dataclasses.field(default=default, metadata={"low": low})


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of an options dataclass (computed once per class)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _check(value: Any, name: str, hint: Any, field: dataclasses.Field[Any]) -> Any:
    """Check ``value`` against the field's annotation; return it normalised."""
    if get_origin(hint) is Literal:
        return check_option(value, name, get_args(hint))
    if hint is bool:
        return check_bool(value, name)
    if hint is int:
        return check_int(value, name, low=field.metadata.get("low"))
    if hint is float:
        return check_number(value, name, **field.metadata.get("bounds", {}))
    return value  # tensors, callables and unions are checked by the dataclass's validate()


@dataclasses.dataclass(frozen=True)
class Options:
    """The base of every loss's options (module docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        try:  # resolve the annotations now, outside any torch.compile trace (dynamo cannot trace get_type_hints)
            _hints(cls)
        except NameError:  # a name defined after the class: resolved on first use instead
            _HINTS.pop(cls, None)

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for field in dataclasses.fields(self):
            value = _check(getattr(self, field.name), field.name, hints[field.name], field)
            object.__setattr__(self, field.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks that involve several fields, or fields whose type the annotation cannot check; raises with
        the library's message form. Called once, after every field was checked."""

    @classmethod
    def pick(cls: type[OptionsT], namespace: Mapping[str, Any]) -> OptionsT:
        """The options from a function's ``locals()``: every field of the dataclass, by name. A plain loop
        over ``__dataclass_fields__``, which ``torch.compile(fullgraph=True)`` traces (``dataclasses.fields``
        of a class and a comprehension over a captured mapping it does not), so a loss function runs inside a
        compiled model."""
        kwargs = {}
        for name in cls.__dataclass_fields__:
            if name in namespace:  # skips ClassVar pseudo-fields; the harness checks every option is a parameter
                kwargs[name] = namespace[name]
        return cls(**kwargs)

    def with_tensors(self: OptionsT, tensors: Mapping[str, Tensor]) -> OptionsT:
        """A copy whose tensor fields are replaced by ``tensors`` (a module's buffers, moved by ``.to``), without
        checking them again: they are the checked values on another device (no host sync per forward)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(tensors)
        return copy

    def values(self) -> dict[str, Any]:
        """``{name: value}`` of every field, in declaration order (tensors as stored)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def tensors(self) -> dict[str, Tensor]:
        """The fields that hold tensors (class weights, per-class alpha): the module keeps them as buffers."""
        return {k: v for k, v in self.values().items() if isinstance(v, Tensor)}
