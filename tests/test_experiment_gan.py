"""The gan-objectives experiment: a quick run end to end (one seed, tmp dir) and its verdict rule on synthetic
summaries."""

from __future__ import annotations

import math

import torch

from imagelosses.experiments import gan_objectives as gan
from imagelosses.experiments.base import VERDICTS, RunContext, Summary


def test_quick_run_end_to_end(tmp_path):
    exp = gan.EXPERIMENT
    out = exp.run(RunContext(config=exp.quick, seed=0, device=torch.device("cpu"), out_dir=tmp_path))
    assert out.metrics and all(math.isfinite(v) for v in out.metrics.values())
    assert out.figures and all(f.path.exists() and f.path.stat().st_size > 0 for f in out.figures)
    summary = Summary({k: [v] for k, v in out.metrics.items()})
    assert exp.verdict(summary).label in VERDICTS
    assert exp.quick.keys() == exp.full.keys()


def _summary(values: dict[str, list[float]]) -> Summary:
    return Summary(values)


def _gan_summary(ratio: list[float], ns_modes: float, mm_modes: float) -> Summary:
    values: dict[str, list[float]] = {}
    for d in gan.DATASETS:
        values[f"{d}/probe_ratio"] = ratio
        for o in gan.OBJECTIVES:
            m = ns_modes if o == "nonsaturating" else mm_modes if o == "minimax" else 3.0
            values[f"{d}/{o}/modes"] = [m] * len(ratio)
    return _summary(values)


def test_gan_verdict_rule():
    assert gan.verdict(_gan_summary([400.0, 50.0], 6.0, 2.0)).label == "holds"
    assert gan.verdict(_gan_summary([400.0, 50.0], 6.0, 6.0)).label == "holds"  # "at least as many"
    assert gan.verdict(_gan_summary([400.0, 5.0], 6.0, 2.0)).label == "inconclusive"  # not in every seed
    assert gan.verdict(_gan_summary([400.0, 50.0], 1.0, 2.0)).label == "inconclusive"  # modes go the other way
    assert gan.verdict(_gan_summary([400.0, 50.0], 0.0, 0.0)).label == "inconclusive"  # no mode covered at all
    assert gan.verdict(_gan_summary([2.0, 3.0], 6.0, 2.0)).label == "does not hold at this scale"
    assert "ring" in gan.verdict(_gan_summary([2.0, 3.0], 6.0, 2.0)).reason


