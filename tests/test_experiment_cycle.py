"""The cycle-consistency experiment: its quick run, its data, its measures and its verdict rule."""

from __future__ import annotations

import math

import pytest
import torch

from imagelosses.experiments import cycle_consistency as cyc
from imagelosses.experiments.base import VERDICTS, RunContext, Summary


def test_quick_run_end_to_end(tmp_path):
    exp = cyc.EXPERIMENT
    out = exp.run(RunContext(config=exp.quick, seed=0, device=torch.device("cpu"), out_dir=tmp_path))
    assert out.metrics and all(math.isfinite(v) for v in out.metrics.values())
    assert out.figures and all(f.path.exists() and f.path.stat().st_size > 0 for f in out.figures)
    assert exp.verdict(Summary({k: [v] for k, v in out.metrics.items()})).label in VERDICTS
    assert exp.quick.keys() == exp.full.keys()


def test_true_mapping_is_an_involution_and_domains_are_unpaired():
    data = cyc.load_domains(0)
    a = data["train_a"]
    assert torch.equal(cyc.true_mapping(cyc.true_mapping(a)), a)
    # B images are T of *other* digits: none equals T of an A training image
    b = data["train_b"]
    assert not any(torch.equal(cyc.true_mapping(x), y) for x in a[:50] for y in b[:50])


def _summary(values: dict[str, list[float]]) -> Summary:
    return Summary(values)


def _cyc_summary(with_acc, without_acc, with_rec, without_rec) -> Summary:
    n = len(with_acc)
    return _summary({"with_cycle/accuracy": with_acc, "without_cycle/accuracy": without_acc,
                     "with_cycle/reconstruction_error": with_rec, "without_cycle/reconstruction_error": without_rec,
                     "oracle_accuracy": [0.95] * n})


def test_cycle_verdict_rule():
    assert cyc.verdict(_cyc_summary([0.8, 0.7], [0.2, 0.3], [0.05, 0.06], [0.3, 0.3])).label == "holds"
    assert cyc.verdict(_cyc_summary([0.8, 0.35], [0.2, 0.3], [0.05, 0.06], [0.3, 0.3])).label == "inconclusive"
    assert cyc.verdict(_cyc_summary([0.8, 0.7], [0.2, 0.3], [0.05, 0.4], [0.3, 0.3])).label == "inconclusive"
    assert cyc.verdict(_cyc_summary([0.2, 0.3], [0.25, 0.3], [0.05, 0.06], [0.3, 0.3])).label == (
        "does not hold at this scale")


def test_output_diversity_is_zero_for_collapse_and_one_for_the_reference():
    a = cyc.load_domains(0)["test_a"][:40]
    t = cyc.true_mapping(a)
    assert cyc.output_diversity(t, t) == pytest.approx(1.0)
    assert cyc.output_diversity(t[:1].expand_as(t), t) == 0.0
    # a naive double loop over pairs
    flat, ref = t.flatten(1)[:6], a.flatten(1)[:6]
    pairs = [(i, j) for i in range(6) for j in range(6) if i != j]
    naive = sum(float((flat[i] - flat[j]).abs().mean()) for i, j in pairs) / sum(
        float((ref[i] - ref[j]).abs().mean()) for i, j in pairs)
    assert cyc.output_diversity(t[:6], a[:6]) == pytest.approx(naive, rel=1e-5)
