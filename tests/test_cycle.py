"""CycleGAN's cycle-consistency and identity losses (standard harness, torch's L1 as reference, the official
weights) and the image pool (the official semantics, replayed with a seeded generator)."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

from imagelosses.losses.cycle import (
    CycleConsistencyLoss,
    IdentityLoss,
    ImagePool,
    cycle_consistency_loss,
    identity_loss,
)
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests


def images(dtype: torch.dtype, seed: int, scale: float):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 3, 4, 4, generator=g, dtype=torch.float64) * scale
    y = torch.randn(3, 3, 4, 4, generator=g, dtype=torch.float64) * scale
    return x.to(dtype), y.to(dtype)


BAD = [
    BadInput("shapes", lambda a: ((a[0], a[1][:, :, :2, :2]), {}), ValueError,
             "target: expected shape matching input (3, 3, 4, 4), got (3, 3, 2, 2)"),
    BadInput("integer", lambda a: ((a[0].long(), a[1]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("integer target", lambda a: ((a[0], a[1].long()), {}), TypeError,
             "target: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("negative weight", lambda a: (a, {"lambda_": -1.0}), ValueError,
             "lambda_: expected a finite number >= 0.0, got -1.0"),
    BadInput("nan weight", lambda a: (a, {"lambda_": float("nan")}), ValueError,
             "lambda_: expected a finite number >= 0.0, got nan"),
    BadInput("empty", lambda a: ((a[0][:0], a[1][:0]), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 3, 4, 4)"),
]
OPTIONS = [
    BadOption("negative lambda", {"lambda_": -0.5}, ValueError, "lambda_: expected a finite number >= 0.0, got -0.5"),
    BadOption("reduction", {"reduction": "avg"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
    BadOption("lambda type", {"lambda_": "10"}, TypeError, "lambda_: expected a real number, got str"),
]


def _case(name, fn, module):
    return LossCase(name=name, functional=fn, module=module, make_inputs=images, grad_argnums=(0, 1),
                    none_shape=lambda a: a[0].shape, identical=lambda a: (a[0], a[0]), bad_inputs=BAD,
                    bad_options=OPTIONS)


class TestCycleHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        _case("cycle", cycle_consistency_loss, CycleConsistencyLoss),
        _case("identity", identity_loss, IdentityLoss),
    ]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_weights_match_the_official_code(reduction):
    x, y = images(torch.float64, 0, 1.0)
    torch.testing.assert_close(cycle_consistency_loss(x, y, reduction=reduction),
                               10.0 * F.l1_loss(x, y, reduction=reduction))
    torch.testing.assert_close(identity_loss(x, y, reduction=reduction), 5.0 * F.l1_loss(x, y, reduction=reduction))
    torch.testing.assert_close(CycleConsistencyLoss(lambda_=2.5, reduction=reduction)(x, y),
                               2.5 * F.l1_loss(x, y, reduction=reduction))


def test_half_precision_is_computed_in_float32():
    x, y = images(torch.float32, 1, 1.0)
    x = x.expand(3, 3, 4, 4).repeat(1, 1, 64, 64) + 300.0  # large values: a bf16 sum would drift
    y = y.repeat(1, 1, 64, 64) + 300.0
    out = cycle_consistency_loss(x.bfloat16(), y.bfloat16())
    assert out.dtype == torch.bfloat16
    ref = 10.0 * (x.bfloat16().float() - y.bfloat16().float()).abs().mean()
    torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=0)
    assert torch.isnan(cycle_consistency_loss(x * float("nan"), y))


def _official_pool(size: int, batches: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """A plain restatement of the official pool's rule, drawing from the same generator in the same order."""
    g = torch.Generator().manual_seed(seed)
    stored: list[torch.Tensor] = []
    outs = []
    for batch in batches:
        out = []
        for image in batch:
            if len(stored) < size:
                stored.append(image)
                out.append(image)
            elif torch.rand(1, generator=g).item() > 0.5:
                i = torch.randint(size, (1,), generator=g).item()
                out.append(stored[i])
                stored[i] = image
            else:
                out.append(image)
        outs.append(torch.stack(out))
    return outs


def test_image_pool_semantics_with_a_seeded_generator():
    batches = [torch.full((2, 1, 2, 2), float(k)) + torch.arange(2.0).view(2, 1, 1, 1) / 10 for k in range(40)]
    pool = ImagePool(5, generator=torch.Generator().manual_seed(3))
    outs = [pool(b) for b in batches]
    for ours, ref in zip(outs, _official_pool(5, batches, 3), strict=True):
        torch.testing.assert_close(ours, ref)
    # fills first: the first 5 images come back unchanged
    torch.testing.assert_close(torch.cat(outs)[:5], torch.cat(batches)[:5])
    assert len(pool) == 5
    # then about half of the returned images are from the history
    returned_old = sum(int((o != b).any(dim=(1, 2, 3)).sum()) for o, b in zip(outs[3:], batches[3:], strict=True))
    assert 0.3 < returned_old / 74 < 0.7
    # the same seed gives the same sequence; another seed another one
    again = ImagePool(5, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(again(b), o) for b, o in zip(batches, outs, strict=True))
    other = ImagePool(5, generator=torch.Generator().manual_seed(4))
    assert not all(torch.equal(other(b), o) for b, o in zip(batches, outs, strict=True))


def test_image_pool_size_zero_and_detach_and_errors():
    x = torch.randn(3, 2, requires_grad=True)
    out = ImagePool(0)(x)  # passed through, detached like every pool output
    assert torch.equal(out, x) and not out.requires_grad
    pool = ImagePool(3)  # exactly fills: no random draw, the batch comes back as it is
    out = pool(x)
    assert not out.requires_grad and torch.equal(out, x.detach())
    x.data.add_(1.0)  # stored images are copies
    assert not torch.equal(pool.images[0], x[0].detach())
    with pytest.raises(ValueError, match=r"images: expected shape \(N, 2\) like the stored images, got \(1, 3\)"):
        pool(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"size: expected a non-negative integer, got -1"):
        ImagePool(-1)
    with pytest.raises(TypeError, match=r"size: expected a non-negative integer, got float"):
        ImagePool(2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"images: expected a floating-point tensor, got dtype torch.int64"):
        pool(torch.zeros(1, 2, dtype=torch.long))
    assert repr(pool) == "ImagePool(size=3, stored=3)"
