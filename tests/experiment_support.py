"""Shared support for the experiment tests: run a quick configuration end to end and check what it returns."""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from imagelosses.experiments.base import VERDICTS, Experiment, RunContext, RunOutput, Summary
from imagelosses.experiments.report import metric_meaning

PNG = b"\x89PNG\r\n\x1a\n"
#: Numbers written as text in a table cell: "0.1240", "+4.2", "[+1.5, +8.5]", "+0.07 [+0.01, +0.15]", "7.6 / 129.4",
#: "12 %" (digits with signs, brackets and separators only).
NUMBER_AS_TEXT = re.compile(r"[-+−.,/%×eE\s\[\]()\d]*\d[-+−.,/%×eE\s\[\]()\d]*")


def check_reportable(experiment: Experiment, output: RunOutput) -> None:
    """Every metric key has a row in the report's label table (a label, a unit and a direction), and no table
    cell holds a number as text (results.json keeps numbers as numbers; the report formats them)."""
    unlabelled = [k for k in output.metrics if metric_meaning(k, experiment.name) is None]
    assert not unlabelled, f"{experiment.name}: metric keys with no row in imagelosses.experiments.report.METRICS: " \
                           f"{unlabelled}"
    text = [(title, cell) for title, rows in output.tables.items() for row in rows[1:] for cell in row
            if isinstance(cell, str) and NUMBER_AS_TEXT.fullmatch(cell.strip())]
    assert not text, f"{experiment.name}: numbers as text in table cells (title, cell): {text}"


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
    check_reportable(experiment, output)
    summary = Summary({k: [v] for k, v in output.metrics.items()})
    assert experiment.verdict(summary).label in VERDICTS
    return output



def summary(**values: list[float]) -> Summary:
    return Summary(values)
