"""Shared support for the experiment tests: run a quick configuration end to end and check what it returns."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from imagelosses.experiments.base import VERDICTS, Experiment, RunContext, RunOutput, Summary

PNG = b"\x89PNG\r\n\x1a\n"


def run_quick(experiment: Experiment, out: Path, seed: int = 0, figures: bool = True) -> RunOutput:
    calls: list[tuple[int, int]] = []
    ctx = RunContext(config=experiment.quick, seed=seed, device=torch.device("cpu"), out_dir=out,
                     make_figures=figures, progress=lambda d, t: calls.append((d, t)))
    output = experiment.run(ctx)
    assert calls and calls[-1][0] == calls[-1][1]  # the progress reached its total
    assert output.metrics and all(isinstance(v, float) and math.isfinite(v) for v in output.metrics.values())
    if figures:
        assert output.figures
        for figure in output.figures:
            assert figure.path.parent == out and figure.path.read_bytes()[:8] == PNG and figure.caption
        assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # atomic writes left nothing behind
    summary = Summary({k: [v] for k, v in output.metrics.items()})
    assert experiment.verdict(summary).label in VERDICTS
    return output



def summary(**values: list[float]) -> Summary:
    return Summary(values)
