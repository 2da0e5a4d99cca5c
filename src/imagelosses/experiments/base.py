"""What an experiment is: a claim from the literature, a configuration at two sizes, a run per seed, and a
verdict rule written in code before anything runs.

The rules every experiment follows (a fair test, not a demonstration):

1. **The claim is the paper's own**, cited by section or figure. A criterion we add (a sanity check, a
   diagnostic) is reported as *descriptive* and never enters the verdict.
2. **Held-out evaluation.** Images, regions, identities or samples that no arm trained on.
3. **Settings and thresholds fixed before the run.** Where a pilot chose them, ``Experiment.pilot`` says which
   pilot, on what data (never the evaluation data).
4. **Paired statistics over seeds** (at least :data:`MIN_SEEDS`) and, where a run has many test items, a paired
   bootstrap over the items (:func:`paired_bootstrap`); the report shows the interval. Below
   ``Experiment.seeds`` seeds the runner does not decide (:func:`undecided`).
5. **A rule that can fail.** The tests apply each rule to a null summary (the arms' numbers swapped or equal)
   and check that it does not read "holds".
6. **A guard against the experiment's own artefact** (checkerboard energy for an upsampler, precision next to
   recall, a not-a-copy check for synthesis, layers the optimiser did not see), reported in the reason.

Each experiment module under :mod:`imagelosses.experiments` defines one module-level ``EXPERIMENT`` of type
:class:`Experiment`; the registry collects them by name. The runner calls ``run`` once per seed with a
:class:`RunContext`, collects the per-seed numbers into a :class:`Summary` (mean ± spread) and applies
``verdict`` to it. Numbers come only from the run: nothing in an experiment is typed in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

__all__ = ["MIN_SEEDS", "VERDICTS", "Experiment", "Figure", "Interval", "RunContext", "RunOutput", "Summary",
           "Verdict", "VerdictLabel", "decide", "on_one_thread", "paired_bootstrap", "paired_differences",
           "single_thread", "undecided"]

VerdictLabel = Literal["holds", "does not hold at this scale", "inconclusive", "not decided"]
VERDICTS: tuple[str, ...] = ("holds", "does not hold at this scale", "inconclusive", "not decided")
#: The fewest seeds any verdict rule decides on.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Figure:
    """A PNG written by a run into ``RunContext.out_dir``; ``caption`` says what it shows (axes, units)."""

    path: Path
    caption: str


@dataclass
class RunContext:
    """What one run (one seed) gets: its configuration, seed, device, a folder for its figures, and a
    progress callback ``progress(done, total)`` the runner turns into a progress bar."""

    config: Mapping[str, Any]
    seed: int
    device: torch.device
    out_dir: Path
    make_figures: bool = True
    progress: Callable[[int, int], None] = lambda done, total: None

    def ticker(self, total: int, every: int = 1) -> Callable[[], None]:
        """A ``tick()`` for a loop of ``total`` steps: each call counts one step and reports ``progress(done,
        total)`` every ``every`` steps and at the last one (fewer calls into the progress bar)."""
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if done % every == 0 or done == total:
                self.progress(done, total)

        return tick

    def generator(self) -> torch.Generator:
        """A CPU generator seeded with this run's seed (data generation stays reproducible across devices)."""
        return torch.Generator().manual_seed(self.seed)


@dataclass
class RunOutput:
    """The numbers (``{metric: value}``, plain floats) and figures of one run."""

    metrics: dict[str, float]
    figures: list[Figure] = field(default_factory=list)
    #: Small tables for the report: ``{title: [header row, row, ...]}`` (strings or numbers).
    tables: dict[str, list[list[Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """Per-metric values over seeds, with their mean and sample standard deviation (0 for one seed)."""

    values: Mapping[str, list[float]]

    def mean(self, metric: str) -> float:
        v = self.values[metric]
        return sum(v) / len(v)

    def std(self, metric: str) -> float:
        v = self.values[metric]
        if len(v) < 2:
            return 0.0
        m = self.mean(metric)
        return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))

    def all(self, metric: str, predicate: Callable[[float], bool]) -> bool:
        """Whether ``predicate`` holds for the metric in every seed."""
        return all(predicate(x) for x in self.values[metric])


@dataclass(frozen=True)
class Verdict:
    label: VerdictLabel
    reason: str  # the numbers the rule compared, in words


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny networks on one intra-op thread (faster than two for small networks, and immune to the
    oversubscription a busy machine causes); the previous thread count is restored on exit."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class on_one_thread:  # a class used like a function: run = on_one_thread(_run)
    """An experiment's ``run``: ``body`` on one intra-op thread (:func:`single_thread`), with the process CPU time
    of the seed added as the descriptive metric ``cpu_time_s`` (the time it would take on a quiet core). A class,
    not a closure, so that a run in a worker process (``--jobs``) pickles back by reference."""

    body: Callable[[RunContext], RunOutput]

    def __call__(self, ctx: RunContext) -> RunOutput:
        start = time.process_time()
        with single_thread():
            output = self.body(ctx)
        output.metrics["cpu_time_s"] = time.process_time() - start
        return output


def undecided(n_seeds: int, needed: int) -> Verdict:
    """The verdict of a run with fewer seeds than its rule needs: no decision, whatever the numbers say."""
    return Verdict("not decided", f"not decided: {n_seeds} seed{'s' if n_seeds != 1 else ''}; the rule needs "
                                  f"≥ {needed}")


@dataclass(frozen=True)
class Interval:
    """A mean difference (treatment − control) and its percentile bootstrap interval ``[low, high]``."""

    mean: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(treatment: torch.Tensor, control: torch.Tensor, *, resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> Interval:
    """Paired percentile bootstrap of ``mean(treatment − control)`` over test items (one value per item and arm,
    the same items in both): resample the items with replacement ``resamples`` times; the interval holds the
    central ``level`` of the resampled means."""
    if control.numel() == 0 or treatment.numel() != control.numel():
        raise ValueError(f"treatment: expected as many items as control ({control.numel()}), got {treatment.numel()}")
    diff = (treatment.detach().double().flatten() - control.detach().double().flatten()).cpu()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, diff.numel(), (resamples, diff.numel()), generator=g)
    means = diff[idx].mean(1)
    tail = (1.0 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64)).tolist()
    return Interval(float(diff.mean()), float(low), float(high))


def paired_differences(summary: Summary, treatment: str, control: str) -> list[float]:
    """The per-seed differences ``treatment − control`` of two metrics of the same runs (paired by seed)."""
    return [t - c for t, c in zip(summary.values[treatment], summary.values[control], strict=True)]


def decide(reason: str, *, holds: bool, fails: bool) -> Verdict:
    """The three-way rule of every experiment: "holds" when its holding condition is met, else "does not hold
    at this scale" when its failing condition is, else "inconclusive"; ``reason`` gives the numbers compared."""
    if holds:
        return Verdict("holds", reason)
    if fails:
        return Verdict("does not hold at this scale", reason)
    return Verdict("inconclusive", reason)


@dataclass(frozen=True)
class Experiment:
    """One claim of the literature, reproduced.

    ``full`` and ``quick`` are configurations of the same code (``--quick`` runs less data and fewer steps);
    ``rule`` states the verdict rule in words and ``verdict`` applies it to the summary over seeds.
    """

    name: str
    title: str
    claim: str
    paper: str
    setup: str
    rule: str
    full: Mapping[str, Any]
    quick: Mapping[str, Any]
    run: Callable[[RunContext], RunOutput]
    verdict: Callable[[Summary], Verdict]
    seeds: int = MIN_SEEDS
    #: Which pilot chose the settings and thresholds, on what data (empty: none; the settings are the paper's).
    pilot: str = ""
