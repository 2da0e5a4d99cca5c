"""The thin ``nn.Module`` shell shared by every loss: configuration in ``__init__``, data in ``forward``."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn


class Loss(nn.Module):
    """The module shell of every loss: configuration in ``__init__``, data in ``forward``.

    A subclass names its options in ``options``; its ``__init__`` checks each once (with the checks its
    function uses) and stores them with :meth:`set_options` as public attributes (``loss.reduction``, as
    torch users expect), shown in ``repr``. ``forward`` passes :meth:`option_values` on to the family's
    function (the unchecked part of it: the options were checked in ``__init__``). Tensor options (class
    weights, per-class alpha) become non-persistent buffers, so ``.to(device)`` moves them and checkpoints
    do not hold them.
    """

    options: ClassVar[tuple[str, ...]] = ()

    def set_options(self, **values: Any) -> None:
        """Store checked options as public attributes (tensors as non-persistent buffers)."""
        for key, value in values.items():
            if key not in self.options:
                raise AttributeError(f"{type(self).__name__}: {key!r} is not one of its options {self.options}")
            if isinstance(value, Tensor):
                self.register_buffer(key, value.detach().clone(), persistent=False)
            else:
                setattr(self, key, value)

    def option_values(self) -> dict[str, Any]:
        """``{name: value}`` of every option, in declaration order."""
        return {key: getattr(self, key) for key in self.options}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={_short(getattr(self, key))}" for key in self.options)


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor(shape={tuple(value.shape)})" if value.numel() > 8 else repr(value.tolist())
    if isinstance(value, nn.Module):
        return type(value).__name__
    return repr(value)
