"""The standard checks every loss of the project passes.

A test module describes each loss as a :class:`LossCase` and subclasses :class:`StandardLossTests` with
``cases = [...]``; ``conftest.py`` parametrises the ``case`` argument over them. The checks:

- every reduction, the ``"none"`` output shape, ``"sum" == none.sum()`` and ``"mean"`` as documented;
- the module equals the functional for every reduction;
- float64 ``gradcheck`` on small inputs;
- ``torch.compile(fullgraph=True)`` (``aot_eager`` backend, cheap on CPU) equals eager, value and gradient;
- finite value and gradient under bf16 autocast;
- a table of bad inputs (at least three), each with its exact error type and message, and a table of bad
  constructor options (at least two) for the module; an empty table fails;
- every option of the module is a public attribute shown in its ``repr``;
- hypothesis invariants: non-negativity, zero on identical inputs where the math says so, invariance to
  permuting the batch.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelosses._core.module import OptionsLoss

Inputs = tuple[Any, ...]


def raises_exactly(call: Callable[[], Any], exc: type[Exception], message: str) -> None:
    """``call()`` raises ``exc`` (exactly that type) whose message is ``message`` (the whole of it): for the
    bad-input tables of the functions that are not losses (metrics, synthesis helpers)."""
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc and str(info.value) == message


@dataclass
class BadInput:
    """Call the functional with ``make(inputs) -> (args, kwargs)`` and expect ``exc`` whose message
    contains ``message`` exactly."""

    label: str
    make: Callable[[Inputs], tuple[Inputs, dict[str, Any]]]
    exc: type[Exception]
    message: str


def replace_arg(i: int, value: Any) -> Callable[[Inputs], tuple[Inputs, dict[str, Any]]]:
    """A ``BadInput.make`` that replaces positional argument ``i`` by ``value(old)`` (or by ``value`` itself
    when it is not callable, e.g. None)."""

    def make(inputs: Inputs) -> tuple[Inputs, dict[str, Any]]:
        args = list(inputs)
        args[i] = value(inputs[i]) if callable(value) else value
        return tuple(args), {}

    return make


def with_kwargs(**kwargs: Any) -> Callable[[Inputs], tuple[Inputs, dict[str, Any]]]:
    """A ``BadInput.make`` that keeps the inputs and passes ``kwargs``."""
    return lambda inputs: (inputs, kwargs)


@dataclass
class BadOption:
    """Build the module with ``kwargs`` (on top of the case's) and expect ``exc`` with ``message``."""

    label: str
    kwargs: dict[str, Any]
    exc: type[Exception]
    message: str


@dataclass
class LossCase:
    """How to exercise one loss.

    ``make_inputs(dtype, seed, scale)`` returns the positional arguments (floating ones in ``dtype``);
    ``grad_argnums`` are the positions that take gradients; ``kwargs`` configure both the functional and
    the module; ``none_shape(inputs)`` is the shape of the ``"none"`` output; ``mean_of(none, inputs)``
    is what ``"mean"`` must equal (default ``none.mean()``); ``identical(inputs)`` returns inputs on which
    the loss must be zero (None: no such claim); ``batch_args`` are the positions permuted together in
    the batch-permutation invariance check.
    """

    name: str
    functional: Callable[..., torch.Tensor]
    module: Callable[..., torch.nn.Module]
    make_inputs: Callable[[torch.dtype, int, float], Inputs]
    kwargs: dict[str, Any] = field(default_factory=dict)
    grad_argnums: Sequence[int] = (0,)
    none_shape: Callable[[Inputs], tuple[int, ...]] | None = None
    mean_of: Callable[[torch.Tensor, Inputs], torch.Tensor] | None = None
    identical: Callable[[Inputs], Inputs] | None = None
    nonnegative: bool = True
    batch_args: Sequence[int] = (0, 1)
    bad_inputs: Sequence[BadInput] = ()
    bad_options: Sequence[BadOption] = ()
    reductions: Sequence[str] = ("none", "mean", "sum")
    #: options of a module that serves several functions and that this function does not take
    module_only_options: Sequence[str] = ()
    atol: float = 1e-5

    def __str__(self) -> str:
        return self.name

    def call(self, inputs: Inputs, **extra: Any) -> torch.Tensor:
        return self.functional(*inputs, **{**self.kwargs, **extra})

    def build(self, **extra: Any) -> torch.nn.Module:
        return self.module(**{**self.kwargs, **extra})


def _takes(fn: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    """Whether ``fn`` accepts every keyword of ``kwargs`` (a ``**kwargs`` wrapper accepts them all)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return True
    return all(k in params for k in kwargs)


def _grad_inputs(case: LossCase, inputs: Inputs) -> Inputs:
    return tuple(
        x.detach().clone().requires_grad_(True) if i in case.grad_argnums else x for i, x in enumerate(inputs)
    )


def _grads(case: LossCase, inputs: Inputs, out: torch.Tensor) -> list[torch.Tensor]:
    wrt = [inputs[i] for i in case.grad_argnums]
    return list(torch.autograd.grad(out, wrt, allow_unused=True, materialize_grads=True))


def _close(a: torch.Tensor, b: torch.Tensor, atol: float) -> None:
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-4)


_HYPO = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],  # no per-instance state
)
_scales = st.sampled_from([0.0, 1e-4, 1.0, 30.0])


class StandardLossTests:
    """Subclass with ``cases = [LossCase(...), ...]``."""

    cases: ClassVar[Sequence[LossCase]] = ()

    def test_reductions(self, case: LossCase) -> None:
        inputs = case.make_inputs(torch.float64, 0, 1.0)
        none = case.call(inputs, reduction="none") if "none" in case.reductions else None
        if none is not None and case.none_shape is not None:
            assert tuple(none.shape) == tuple(case.none_shape(inputs))
        for reduction in ("mean", "sum"):
            if reduction not in case.reductions:
                continue
            out = case.call(inputs, reduction=reduction)
            assert out.ndim == 0
            if none is not None:
                expect = none.sum() if reduction == "sum" else (
                    case.mean_of(none, inputs) if case.mean_of else none.mean()
                )
                _close(out, expect, case.atol)

    def test_module_equals_functional(self, case: LossCase) -> None:
        inputs = case.make_inputs(torch.float32, 1, 1.0)
        for reduction in case.reductions:
            _close(case.build(reduction=reduction)(*inputs), case.call(inputs, reduction=reduction), case.atol)

    def test_gradcheck(self, case: LossCase) -> None:
        inputs = _grad_inputs(case, case.make_inputs(torch.float64, 2, 1.0))
        reduction = "sum" if "sum" in case.reductions else case.reductions[0]

        def fn(*diff: torch.Tensor) -> torch.Tensor:
            full = list(inputs)
            for i, x in zip(case.grad_argnums, diff, strict=True):
                full[i] = x
            return case.call(tuple(full), reduction=reduction)

        assert torch.autograd.gradcheck(fn, [inputs[i] for i in case.grad_argnums], eps=1e-6, atol=1e-5)

    def test_compile_equals_eager(self, case: LossCase) -> None:
        torch._dynamo.reset()
        reduction = "mean" if "mean" in case.reductions else case.reductions[0]
        module = case.build(reduction=reduction)
        compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
        inputs = _grad_inputs(case, case.make_inputs(torch.float32, 3, 1.0))
        eager_out = module(*inputs)
        eager_grads = _grads(case, inputs, eager_out)
        comp_out = compiled(*inputs)
        comp_grads = _grads(case, inputs, comp_out)
        _close(comp_out, eager_out, case.atol)
        for a, b in zip(comp_grads, eager_grads, strict=True):
            _close(a, b, case.atol)

    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    def test_autocast_finite(self, case: LossCase, dtype: torch.dtype) -> None:
        inputs = _grad_inputs(case, case.make_inputs(torch.float32, 4, 30.0))
        with torch.autocast("cpu", dtype=dtype):
            out = case.call(inputs, reduction="mean" if "mean" in case.reductions else case.reductions[0])
        assert torch.isfinite(out).all()
        for g in _grads(case, inputs, out.float().sum()):
            assert torch.isfinite(g).all()

    def test_bad_inputs(self, case: LossCase) -> None:
        assert len(case.bad_inputs) >= 3, f"{case.name}: declare at least three bad inputs"
        inputs = case.make_inputs(torch.float32, 5, 1.0)
        for bad in case.bad_inputs:
            args, kwargs = bad.make(inputs)
            with pytest.raises(bad.exc, match=re.escape(bad.message)):
                case.functional(*args, **{**case.kwargs, **kwargs})

    def test_bad_options(self, case: LossCase) -> None:
        """Each bad option is refused by the module's constructor and, where the function takes that option,
        by the function with exactly the same error: one validation path both ways."""
        assert len(case.bad_options) >= 2, f"{case.name}: declare at least two bad constructor options"
        inputs = case.make_inputs(torch.float64, 0, 1.0)
        one_path = isinstance(case.build(), OptionsLoss)  # families on one options object (the others: issue 17)
        for bad in case.bad_options:
            with pytest.raises(bad.exc, match=re.escape(bad.message)) as built:
                case.build(**bad.kwargs)
            if not one_path or not _takes(case.functional, bad.kwargs):
                continue
            with pytest.raises(bad.exc) as called:
                case.call(inputs, **bad.kwargs)
            assert (type(called.value), str(called.value)) == (type(built.value), str(built.value)), bad.label

    def test_options_are_public(self, case: LossCase) -> None:
        """Every option is a public attribute in the ``repr``; an options object's every field is also a
        parameter of the function (``Options.pick(locals())`` reads them from its signature)."""
        module = case.build()
        if isinstance(module, OptionsLoss):
            fields = {f.name for f in dataclasses.fields(module.options)} - set(case.module_only_options)
            params = inspect.signature(case.functional).parameters
            if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                assert fields <= set(params), f"{case.name}: options not in the function: {fields - set(params)}"
        names = getattr(module, "options", ())
        if dataclasses.is_dataclass(names):  # an options object: its fields are the options
            names = tuple(f.name for f in dataclasses.fields(names))
        assert names, f"{case.name}: the module declares no options"
        text = repr(module)
        for name in names:
            assert hasattr(module, name), name
            assert f"{name}=" in text, f"{name} missing from repr {text}"

    @_HYPO
    @given(seed=st.integers(0, 2**16), scale=_scales)
    def test_invariants(self, case: LossCase, seed: int, scale: float) -> None:
        inputs = case.make_inputs(torch.float64, seed, scale)
        values = case.call(inputs, reduction="none" if "none" in case.reductions else "sum")
        assert torch.isfinite(values).all()
        if case.nonnegative:
            assert (values >= -1e-12).all()
        if case.identical is not None:
            same = case.call(case.identical(inputs), reduction="sum")
            assert abs(float(same)) < 1e-9
        if "sum" in case.reductions and case.batch_args:
            n = inputs[case.batch_args[0]].shape[0]
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
            permuted = tuple(x[perm] if i in case.batch_args else x for i, x in enumerate(inputs))
            for reduction in ("sum", "mean"):
                if reduction in case.reductions:
                    _close(case.call(permuted, reduction=reduction), case.call(inputs, reduction=reduction), 1e-8)
