"""The gan-objectives experiment: a quick run end to end (one seed, tmp dir), its measures against naive loops and
closed forms, and its verdict rule on a good summary and on null ones (the arms swapped, the arms equal)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from imagelosses.experiments import gan_objectives as gan
from imagelosses.experiments.base import Summary

from .experiment_support import run_quick


def test_quick_run_end_to_end(tmp_path):
    exp = gan.EXPERIMENT
    out = run_quick(exp, tmp_path)
    assert exp.quick.keys() == exp.full.keys()
    assert exp.seeds == 3 and exp.pilot
    assert sorted(f.path.name for f in out.figures) == ["gan_dynamics_seed0.png", "gan_objectives_ring_seed0.png"]
    m = out.metrics
    assert m["probe/ratio"] == pytest.approx(m["probe/grad_nonsaturating"] / m["probe/grad_minimax"])
    assert m["early/diff_low"] <= m["early/diff_mean"] <= m["early/diff_high"]
    assert m["early/diff_mean"] == pytest.approx(m["early/progress_nonsaturating"] - m["early/progress_minimax"])
    assert 0.0 <= m["probe/D_on_fake"] <= 1.0
    for objective in gan.COVERAGE_OBJECTIVES:
        assert 0 <= m[f"coverage/{objective}/modes"] <= 8


# --- the measures -------------------------------------------------------------------------------------------

def test_nearest_mode_distance_matches_a_naive_loop():
    centres = gan.mode_centres("ring")
    x = 3 * torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    naive = [min(math.dist(p.tolist(), c.tolist()) for c in centres) for p in x]
    assert gan.nearest_mode_distance(x, centres).tolist() == pytest.approx(naive, rel=1e-6)
    assert gan.nearest_mode_distance(centres, centres).abs().max() < 1e-6
    # the centre is the ring's radius away from every mode
    assert gan.nearest_mode_distance(torch.zeros(3, 2), centres).tolist() == pytest.approx([2.0] * 3)


def test_energy_distance_matches_a_naive_loop_and_closed_forms():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(17, 2, generator=g), torch.randn(11, 2, generator=g) + 1.0

    def mean_dist(a: Tensor, b: Tensor) -> float:
        return sum(math.dist(p.tolist(), q.tolist()) for p in a for q in b) / (len(a) * len(b))

    naive = 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
    assert gan.energy_distance(x, y) == pytest.approx(naive, rel=1e-6)
    assert gan.energy_distance(x, x) == pytest.approx(0.0, abs=1e-9)  # identical samples
    a, b = torch.tensor([[0.0, 0.0]]).expand(5, 2), torch.tensor([[3.0, 4.0]]).expand(7, 2)
    assert gan.energy_distance(a, b) == pytest.approx(2 * 5.0)  # point masses: 2‖a − b‖
    assert gan.energy_distance(y, x) == pytest.approx(gan.energy_distance(x, y))


def test_early_progress_is_the_start_minus_the_mean_over_later_checkpoints():
    d = torch.tensor([[2.0, 2.0, 1.0], [1.0, 2.0, 3.0], [0.0, 2.0, 2.0]])
    assert gan.early_progress(d).tolist() == pytest.approx([1.5, 0.0, -1.5])


class _Constant(nn.Module):
    """A generator whose every sample is its parameter θ."""

    def __init__(self, theta: list[float]) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))

    def forward(self, z: Tensor) -> Tensor:
        return self.theta.expand(z.shape[0], -1)


@pytest.mark.parametrize("bias", [-10.0, -3.0, 0.0, 2.0])
def test_generator_gradient_norms_closed_form(bias):
    # D(x) = w·x + b, G(z) = θ, s = w·θ + b: the minimax gradient is −σ(s)·w, the non-saturating −(1 − σ(s))·w
    disc = nn.Linear(2, 1)
    with torch.no_grad():
        disc.weight.copy_(torch.tensor([[0.6, -0.8]]))
        disc.bias.fill_(bias)
    theta = [0.5, 0.25]
    s = torch.tensor(0.6 * 0.5 - 0.8 * 0.25 + bias, dtype=torch.float64)
    norms = gan.generator_gradient_norms(_Constant(theta), disc, torch.zeros(9, 8))
    assert norms["minimax"] == pytest.approx(float(torch.sigmoid(s)), rel=1e-5)
    assert norms["nonsaturating"] == pytest.approx(float(1 - torch.sigmoid(s)), rel=1e-5)
    if bias == -10.0:  # saturated: the ratio is e^{−s}
        assert norms["nonsaturating"] / norms["minimax"] == pytest.approx(math.exp(-float(s)), rel=1e-4)


def test_early_dynamics_pairs_the_arms():
    config = dict(gan.EXPERIMENT.quick, early_steps=12, eval_every=5)
    gen, disc = gan.pretrain_discriminator(config, seed=3)
    z = torch.randn(64, config["z_dim"], generator=torch.Generator().manual_seed(0))
    dyn = gan.early_dynamics(gen, disc, config, 3, z)
    for kind in gan.ARMS:
        assert dyn[kind]["steps"] == [0, 5, 10, 12]
        assert dyn[kind]["distances"].shape == (4, 64) and len(dyn[kind]["grad"]) == 12
    assert torch.equal(dyn["minimax"]["distances"][0], dyn["nonsaturating"]["distances"][0])  # the same start
    # the copies were trained, the originals not
    with torch.no_grad():
        start = gan.nearest_mode_distance(gen(z), gan.mode_centres("ring"))
    assert torch.equal(start, dyn["minimax"]["distances"][0])


# --- the verdict rule ---------------------------------------------------------------------------------------

def _summary(ratio: list[float], progress_ns: list[float], progress_mm: list[float],
             half_width: float = 0.02) -> Summary:
    diffs = [a - b for a, b in zip(progress_ns, progress_mm, strict=True)]
    values: dict[str, list[float]] = {
        "probe/ratio": ratio, "probe/D_on_fake": [0.004] * 3, "probe/D_on_real": [0.99] * 3,
        "early/progress_nonsaturating": progress_ns, "early/progress_minimax": progress_mm,
        "early/diff_mean": diffs, "early/diff_low": [d - half_width for d in diffs],
        "early/diff_high": [d + half_width for d in diffs],
        "early/energy_start": [1.35] * 3, "early/energy_end_nonsaturating": [0.2] * 3,
        "early/energy_end_minimax": [1.3] * 3,
    }
    for objective in gan.COVERAGE_OBJECTIVES:
        values[f"coverage/{objective}/modes"] = [4.0] * 3
    return Summary(values)


GOOD = ([240.0, 230.0, 250.0], [0.9, 0.8, 0.95], [0.01, 0.02, 0.01])


def test_verdict_holds_on_a_good_summary():
    v = gan.verdict(_summary(*GOOD))
    assert v.label == "holds"
    assert "240×" in v.reason and "energy distance" in v.reason and "Descriptive" in v.reason


def test_verdict_does_not_hold_on_null_summaries():
    ratio, ns, mm = GOOD
    swapped = _summary([1 / r for r in ratio], mm, ns)  # the arms' numbers swapped
    equal = _summary([1.0] * 3, mm, mm)  # the arms equal: the interval straddles 0
    for summary in (swapped, equal):
        assert gan.verdict(summary).label == "does not hold at this scale"


def test_verdict_needs_every_seed():
    ratio, ns, mm = GOOD
    assert gan.verdict(_summary([240.0, 9.9, 250.0], ns, mm)).label == "does not hold at this scale"  # the probe
    assert gan.verdict(_summary(ratio, [0.9, 0.01, 0.95], mm)).label == "does not hold at this scale"  # one seed flat
    # the right sign in every seed, but one seed's interval reaches 0
    assert gan.verdict(_summary(ratio, ns, mm, half_width=0.85)).label == "does not hold at this scale"
    assert gan.verdict(_summary(ratio, ns, mm, half_width=0.5)).label == "holds"
    labels = {gan.verdict(_summary(r, a, b)).label for r in ([1.0] * 3, ratio) for a in (ns, mm) for b in (ns, mm)}
    assert "inconclusive" not in labels
