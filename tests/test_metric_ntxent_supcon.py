"""NT-Xent (SimCLR) and SupCon (L_out): the standard harness, naive loops, pytorch-metric-learning, closed forms,
τ = 0.01, half precision at 4,096 embeddings, NaN, anchors without a positive, double backward, memory."""

from __future__ import annotations

import math
import re
from typing import ClassVar

import pytest
import torch

from imagelosses.embedding import NTXentLoss, SupConLoss, nt_xent_loss, supcon_loss
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests


def _views(dtype: torch.dtype, seed: int, scale: float, n: int = 6, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return (z1 * scale).to(dtype), (z2 * scale).to(dtype)


def _labelled(dtype: torch.dtype, seed: int, scale: float, b: int = 12, d: int = 5, classes: int = 4):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(b, d, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = torch.randint(0, classes, (b,), generator=g)
    y[0] = 99  # a label seen once: an anchor without a positive
    return x, y


def _supcon_mean(none: torch.Tensor, inputs) -> torch.Tensor:
    y = inputs[1]
    count = sum(int((y == y[i]).sum()) > 1 for i in range(y.numel()))
    return none.sum() / max(count, 1)


_TEMPERATURE = [
    BadOption("temperature 0", {"temperature": 0.0}, ValueError,
              "temperature: expected a finite number > 0.0, got 0.0"),
    BadOption("temperature as string", {"temperature": "0.1"}, TypeError,
              "temperature: expected a real number, got str"),
    BadOption("gather as string", {"gather": "False"}, TypeError,
              "gather: expected a bool (True or False), got 'False'"),
    BadOption("reduction", {"reduction": "avg"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
]
_NTXENT_BAD = [
    BadInput("z2 shape", lambda i: ((i[0], i[1][:3]), {}), ValueError,
             "z2: expected shape matching z1 (6, 5), got (3, 5)"),
    BadInput("z1 1-D", lambda i: ((i[0][:, 0], i[1]), {}), ValueError,
             "z1: expected a tensor of shape (N, D), got shape (6,)"),
    BadInput("integer z2", lambda i: ((i[0], i[1].long()), {}), TypeError,
             "z2: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("D = 0", lambda i: ((i[0][:, :0], i[1][:, :0]), {}), ValueError,
             "z1: expected at least one coordinate per embedding (D > 0), got shape (6, 0)"),
    BadInput("temperature < 0", lambda i: (i, {"temperature": -1}), ValueError,
             "temperature: expected a finite number > 0.0, got -1"),
]
_SUPCON_BAD = [
    BadInput("float labels", lambda i: ((i[0], i[1].float()), {}), TypeError,
             "labels: expected an integer tensor (torch.long), got dtype torch.float32"),
    BadInput("labels short", lambda i: ((i[0], i[1][:4]), {}), ValueError,
             "labels: expected shape (B,) with B = 12 as in embeddings (12, 5), got shape (4,)"),
    BadInput("embeddings 3-D", lambda i: ((i[0][:, :, None], i[1]), {}), ValueError,
             "embeddings: expected a tensor of shape (B, D), got shape (12, 5, 1)"),
    BadInput("temperature inf", lambda i: (i, {"temperature": float("inf")}), ValueError,
             "temperature: expected a finite number > 0.0, got inf"),
]


class TestNTXentSupConStandard(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        LossCase(name="nt_xent", functional=nt_xent_loss, module=NTXentLoss, make_inputs=_views, grad_argnums=(0, 1),
                 batch_args=(0, 1), none_shape=lambda i: (2 * i[0].shape[0],), bad_inputs=_NTXENT_BAD,
                 bad_options=_TEMPERATURE),
        LossCase(name="nt_xent-tau0.05", functional=nt_xent_loss, module=NTXentLoss, make_inputs=_views,
                 kwargs={"temperature": 0.05}, grad_argnums=(0, 1), batch_args=(0, 1),
                 none_shape=lambda i: (2 * i[0].shape[0],), bad_inputs=_NTXENT_BAD, bad_options=_TEMPERATURE),
        LossCase(name="supcon", functional=supcon_loss, module=SupConLoss, make_inputs=_labelled, batch_args=(0, 1),
                 none_shape=lambda i: (i[0].shape[0],), mean_of=_supcon_mean, bad_inputs=_SUPCON_BAD,
                 bad_options=_TEMPERATURE),
        LossCase(name="supcon-tau0.5", functional=supcon_loss, module=SupConLoss, make_inputs=_labelled,
                 kwargs={"temperature": 0.5}, batch_args=(0, 1), none_shape=lambda i: (i[0].shape[0],),
                 mean_of=_supcon_mean, bad_inputs=_SUPCON_BAD, bad_options=_TEMPERATURE),
    ]


# ------------------------------------------------------------------------------------ naive references
def _cos(u: list[float], v: list[float]) -> float:
    nu, nv = math.sqrt(sum(a * a for a in u)), math.sqrt(sum(a * a for a in v))
    return sum(a * b for a, b in zip(u, v, strict=True)) / (nu * nv) if nu and nv else 0.0


def _naive_supcon(x: torch.Tensor, y: torch.Tensor, tau: float) -> list[float | None]:
    """ℓ_i by loops in float64 Python (None for an anchor without a positive)."""
    rows, labels = [r.tolist() for r in x.double()], y.tolist()
    out: list[float | None] = []
    for i in range(len(rows)):
        others = [a for a in range(len(rows)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            out.append(None)
            continue
        s = {a: _cos(rows[i], rows[a]) / tau for a in others}
        top = max(s.values())
        lse = top + math.log(sum(math.exp(v - top) for v in s.values()))
        out.append(-sum(s[p] - lse for p in positives) / len(positives))
    return out


@pytest.mark.parametrize("tau", [0.5, 0.1, 0.01])
def test_nt_xent_against_naive_loop(tau):
    for seed, n in ((0, 5), (1, 1), (2, 9)):
        z1, z2 = _views(torch.float64, seed, 1.0, n=n)
        ref = _naive_supcon(torch.cat([z1, z2]), torch.cat([torch.arange(n)] * 2), tau)
        none = nt_xent_loss(z1, z2, temperature=tau, reduction="none")
        expect = torch.tensor([0.0 if v is None else v for v in ref], dtype=torch.float64)
        torch.testing.assert_close(none, expect)
        torch.testing.assert_close(nt_xent_loss(z1, z2, temperature=tau), expect.mean())


@pytest.mark.parametrize("tau", [0.5, 0.1, 0.01])
def test_supcon_against_naive_loop(tau):
    for seed, (b, c) in enumerate(((12, 4), (7, 7), (16, 2), (1, 1))):
        x, y = _labelled(torch.float64, seed, 1.0, b=b, classes=c)
        ref = _naive_supcon(x, y, tau)
        none = supcon_loss(x, y, temperature=tau, reduction="none")
        torch.testing.assert_close(none, torch.tensor([0.0 if v is None else v for v in ref], dtype=torch.float64))
        kept = [v for v in ref if v is not None]
        mean = sum(kept) / len(kept) if kept else 0.0
        torch.testing.assert_close(supcon_loss(x, y, temperature=tau), torch.tensor(mean, dtype=torch.float64))


# ------------------------------------------------------------------------- pytorch-metric-learning
@pytest.mark.parametrize("tau", [0.5, 0.07])
def test_nt_xent_equals_pytorch_metric_learning(tau):
    from pytorch_metric_learning import losses

    for seed, n in ((0, 8), (1, 3), (2, 32)):
        z1, z2 = _views(torch.float64, seed, 1.0, n=n, d=16)
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        x = torch.cat([z1, z2]).requires_grad_()
        ours = nt_xent_loss(a, b, temperature=tau)
        theirs = losses.NTXentLoss(temperature=tau)(x, torch.cat([torch.arange(n)] * 2))
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        ours.backward()
        theirs.backward()
        torch.testing.assert_close(torch.cat([a.grad, b.grad]), x.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_supcon_equals_pytorch_metric_learning(tau):
    from pytorch_metric_learning import losses

    for seed, (b, c) in enumerate(((16, 4), (32, 8), (12, 3))):
        x, y = _labelled(torch.float64, seed, 1.0, b=b, d=8, classes=c)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours = supcon_loss(x1, y, temperature=tau)
        theirs = losses.SupConLoss(temperature=tau)(x2, y)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        ours.backward()
        theirs.backward()
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------ closed forms and edges
def test_closed_forms():
    e = torch.full((4, 3), 0.7, requires_grad=True)
    # all embeddings equal: every similarity is equal, ℓ = log(B − 1) for both losses
    torch.testing.assert_close(nt_xent_loss(e, e), torch.tensor(math.log(7.0)))
    torch.testing.assert_close(supcon_loss(e, torch.tensor([0, 0, 1, 1])), torch.tensor(math.log(3.0)))
    # one image: its two views, no negative: ℓ = −log 1 = 0
    assert float(nt_xent_loss(torch.randn(1, 3), torch.randn(1, 3))) == pytest.approx(0.0, abs=1e-7)
    # orthogonal images, identical views, τ = 1: −log e/(e + 2)
    z = torch.eye(2)
    assert float(nt_xent_loss(z, z, temperature=1.0)) == pytest.approx(math.log((math.e + 2) / math.e))


def test_anchors_without_a_positive_are_left_out():
    x = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 2, 3, 3])
    none = supcon_loss(x, y, reduction="none")
    assert none[2] == 0 and none[3] == 0 and (none[[0, 1, 4, 5]] > 0).all()
    torch.testing.assert_close(supcon_loss(x, y), none.sum() / 4)
    # they still count in the others' denominators: dropping them changes the loss
    keep = torch.tensor([0, 1, 4, 5])
    assert not torch.allclose(supcon_loss(x[keep], y[keep]), supcon_loss(x, y))


@pytest.mark.parametrize("y", [torch.tensor([0, 1, 2, 3]), torch.tensor([7]), torch.zeros(0, dtype=torch.long)])
def test_no_positive_gives_zero_and_zero_grad(y):
    x = torch.randn(y.numel(), 3, requires_grad=True)
    for reduction in ("mean", "sum"):
        out = supcon_loss(x, y, reduction=reduction)
        assert out.item() == 0.0
        (g,) = torch.autograd.grad(out, x, allow_unused=True, materialize_grads=True)
        assert torch.equal(g, torch.zeros_like(x))
    empty = nt_xent_loss(torch.zeros(0, 3), torch.zeros(0, 3))
    assert empty.item() == 0.0


@pytest.mark.parametrize("fn", ["nt_xent", "supcon"])
def test_tau_001_is_stable_and_equals_float64(fn):
    """τ = 0.01 puts similarities at ±100 (exp overflows float32 beyond 88): the log-sum-exp stays finite and the
    float32 result equals the float64 one, value and gradient."""
    x, y = _labelled(torch.float32, 3, 1.0, b=64, d=16, classes=8)
    x[1] = x[0] * 3  # an exact positive pair (cosine 1, s = 100)

    def run(e):
        if fn == "nt_xent":
            return nt_xent_loss(e[:32], e[32:], temperature=0.01)
        return supcon_loss(e, y, temperature=0.01)

    x32, x64 = x.clone().requires_grad_(), x.double().requires_grad_()
    v32, v64 = run(x32), run(x64)
    assert torch.isfinite(v32)
    v32.backward()
    v64.backward()
    assert torch.isfinite(x32.grad).all()
    torch.testing.assert_close(v32.double(), v64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=1e-4, atol=1e-4 * float(x64.grad.abs().max()))


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_at_4096_equals_float32(half):
    """Half inputs are computed in float32 (result float32): equal to the float32 answer on the same rounded
    inputs, at 4,096 embeddings of 128 dimensions; under autocast too."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 128, generator=g).to(half)
    y = torch.randint(0, 1024, (4096,), generator=g)
    for fn in (lambda e: supcon_loss(e, y), lambda e: nt_xent_loss(e[:2048], e[2048:])):
        value, reference = fn(x), fn(x.float())
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, reference, rtol=1e-6, atol=1e-6)
        with torch.autocast("cpu", dtype=half):
            torch.testing.assert_close(fn(x.float()), reference, rtol=1e-6, atol=1e-6)


def test_nan_in_gives_nan_out():
    x, y = _labelled(torch.float32, 0, 1.0)
    x[3, 2] = float("nan")
    assert torch.isnan(supcon_loss(x, y))
    assert torch.isnan(nt_xent_loss(x[:6], x[6:]))
    assert torch.isnan(NTXentLoss()(x[6:], x[:6]))
    x[3, 2] = float("inf")
    assert torch.isnan(SupConLoss()(x, y))


def test_double_backward():
    x, y = _labelled(torch.float64, 4, 1.0, b=8, d=3, classes=3)
    x.requires_grad_()
    torch.autograd.gradgradcheck(lambda e: supcon_loss(e, y, temperature=0.5), (x,))
    torch.autograd.gradgradcheck(lambda e: nt_xent_loss(e[:4], e[4:], temperature=0.5), (x,))


def test_memory_is_one_square_matrix():
    """What the forward keeps for the backward: the (B, B) softmax, the normalised embeddings and the labels; never
    two (B, B) float matrices."""
    x, y = _labelled(torch.float32, 0, 1.0, b=256, d=32, classes=16)
    x.requires_grad_()
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        loss = supcon_loss(x, y)
    loss.backward()
    assert sum(s for s in sizes if s >= 256 * 256) == 256 * 256, sizes


def test_module_options_and_messages():
    m = SupConLoss(temperature=0.07)
    assert m.temperature == 0.07 and "temperature=0.07" in repr(m)
    with pytest.raises(ValueError, match=re.escape("temperature: expected a finite number > 0.0, got 0")):
        m.temperature = 0
    with pytest.raises(ValueError, match=re.escape("z2: expected a tensor with data (meta tensors carry only a "
                                                   "shape), got a tensor on the meta device")):
        nt_xent_loss(torch.randn(2, 3), torch.randn(2, 3, device="meta"))
