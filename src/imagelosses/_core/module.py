"""The thin ``nn.Module`` shell shared by every loss: configuration (one options object) in ``__init__``, data in
``forward``."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any, ClassVar, Generic

from torch import Tensor, nn

from .options import OptionsT


class OptionsLoss(nn.Module, Generic[OptionsT]):
    """The module shell of a loss whose options are one :class:`~imagelosses._core.options.Options` object.

    ``Options`` (a class attribute) is the dataclass; ``__init__(**options)`` builds and checks it (the same
    path as the function), keeps it as ``loss.options`` and exposes each field as a public attribute
    (``loss.reduction``, as torch users expect), shown in ``repr`` and in ``help()``/``inspect.signature``.
    Assigning an option (``loss.reduction = "sum"``) builds a new, checked options object. Tensor options
    (class weights, per-class alpha) are non-persistent buffers, so ``.to(device)`` moves them;
    :meth:`current_options` hands ``forward`` the options with the moved tensors.

    A module with a functional twin names it once, as a class keyword: ``class DiceLoss(OptionsLoss[DiceOptions],
    function=dice_loss)`` (or a tuple of functions, e.g. a loss and the function that holds its math); the
    function's docstring — the math, what each reduction divides by, Args, Shape, Raises, References, all but its
    example — is appended to the class's (:func:`function_docs`), so ``help(DiceLoss)`` shows what
    ``help(dice_loss)`` does, written once.
    """

    Options: ClassVar[type[Any]]
    options: OptionsT

    def __init__(self, **options: Any) -> None:
        super().__init__()
        built = self.Options(**options)
        for name, tensor in built.tensors().items():  # before the options: __getattr__ would make the name taken
            self.register_buffer(name, tensor.detach().clone(), persistent=False)
        object.__setattr__(self, "options", built)

    def __init_subclass__(cls, *, function: Callable[..., Any] | tuple[Callable[..., Any], ...] | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if function is not None:
            cls.__doc__ = function_docs(cls.__doc__, function if isinstance(function, tuple) else (function,))
        opts = cls.__dict__.get("Options")
        if opts is not None:  # help(Loss) and inspect.signature(Loss) show the options with their defaults
            params = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=f.type) for f in dataclasses.fields(opts)]
            setattr(cls, "__signature__", inspect.Signature(params))  # noqa: B010 (a class attribute mypy lacks)

    def _field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.Options))

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            options = self.__dict__.get("options")
            if options is not None and name in self._field_names():
                return getattr(options, name)
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        if "options" in self.__dict__ and name in self._field_names():
            built = dataclasses.replace(self.options, **{name: value})  # checked like the constructor
            object.__setattr__(self, "options", built)
            if name in self._buffers:
                self.register_buffer(name, value.detach().clone(), persistent=False)
            return
        super().__setattr__(name, value)

    def current_options(self) -> OptionsT:
        """The options, with tensor fields replaced by this module's buffers (moved with ``.to``)."""
        tensors = {}
        for name in self.options.tensors():  # a plain loop: torch.compile traces it
            buffer = self._buffers.get(name)
            if buffer is not None:
                tensors[name] = buffer
        if not tensors:
            return self.options
        return self.options.with_tensors(tensors)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={_short(getattr(self, name))}" for name in self._field_names())


_SECTION = re.compile(r"[A-Z][A-Za-z ]*:")


def function_docs(own: str | None, functions: tuple[Callable[..., Any], ...]) -> str:
    """``own`` (a module's docstring, which keeps its example) followed, for each function, by a heading
    ``The computation (from :func:`dice_loss`):`` and the function's docstring without its ``Example:`` section
    (the module's own example shows the module). Both are dedented, so ``help()`` and ``inspect.getdoc`` show
    them as one text."""
    parts = [inspect.cleandoc(own or "")]
    for function in functions:
        kept, example = [], False
        for line in inspect.cleandoc(function.__doc__ or "").splitlines():
            if _SECTION.fullmatch(line):  # a Google-style section heading starts or ends the example
                example = line in ("Example:", "Examples:")
            if not example:
                kept.append(line)
        name = f"{function.__module__}.{function.__qualname__}"
        parts.append(f"The computation (from :func:`~{name}`):\n\n" + "\n".join(kept).strip())
    return "\n\n".join(parts) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor(shape={tuple(value.shape)})" if value.numel() > 8 else repr(value.tolist())
    if isinstance(value, nn.Module):
        return type(value).__name__
    return repr(value)
