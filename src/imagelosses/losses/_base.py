"""The thin ``nn.Module`` shell shared by every loss: configuration in ``__init__``, data in ``forward``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn


class FunctionalLoss(nn.Module):
    """Stores keyword options and calls ``function(*inputs, **options)``.

    Tensor options (class weights, alpha) become non-persistent buffers, so ``.to(device)`` moves them;
    every other option is kept as is. Subclasses validate their options in ``__init__`` (with the same
    checks the functional runs) and pass them here.
    """

    function: Callable[..., Tensor]

    def __init__(self, function: Callable[..., Tensor], **options: Any) -> None:
        super().__init__()
        self.function = function
        self._options: dict[str, Any] = {}
        self._tensor_options: list[str] = []
        for key, value in options.items():
            if isinstance(value, Tensor):
                self.register_buffer(key, value.detach().clone(), persistent=False)
                self._tensor_options.append(key)
            else:
                self._options[key] = value

    def forward(self, *inputs: Tensor, **data: Tensor | None) -> Tensor:
        """``function(*inputs, **data, **options)``: ``data`` are per-call tensors such as a weight map."""
        tensors = {key: getattr(self, key) for key in self._tensor_options}
        return self.function(*inputs, **data, **self._options, **tensors)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._options.items())
