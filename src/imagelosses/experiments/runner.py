"""Run experiments over seeds and write what they measured: ``results.json``, the figures, ``report.html``.

For each experiment the runner calls ``run`` once per seed (``first_seed``, ``first_seed + 1``, …) with the
``full`` or ``quick`` configuration, a progress bar (tqdm) fed by ``ctx.progress``, and a private staging
folder; only the first seed draws figures. It then gathers the per-seed metrics into a
:class:`~imagelosses.experiments.base.Summary`, applies the experiment's verdict rule, and moves the staging
folder to ``OUT/<name>/``. ``results.json`` and ``report.html`` are written at the end.

Nothing is ever half-written: every file goes to a temporary name in its own folder and is renamed into
place (``os.replace``) when complete; an interrupted run (Ctrl-C) or a failing experiment removes its
staging folder. A failing experiment does not stop the others: it is reported with its error (and the
command exits non-zero), never given a verdict.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np
import torch

from .._core.checks import check_int, fail
from .._core.io import atomic_output, atomic_write_text, make_temp_dir
from .base import VERDICTS, Experiment, Figure, RunContext, Summary, Verdict, undecided

__all__ = [
    "ExperimentResult",
    "atomic_output",
    "atomic_write_text",
    "format_summary",
    "results_json",
    "run_experiment",
    "run_experiments",
    "versions",
]


def versions(device: torch.device | None = None) -> dict[str, str]:
    """The versions and machine a run used (for ``results.json``)."""
    try:
        own = importlib.metadata.version("imagelosses")
    except importlib.metadata.PackageNotFoundError:
        own = "unknown (not installed)"
    out = {"imagelosses": own, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "platform": platform.platform(), "cpu_count": str(os.cpu_count()),
           "torch_threads": str(torch.get_num_threads())}
    if device is not None and device.type == "cuda":
        out["cuda_device"] = torch.cuda.get_device_name(device)
    return out


@dataclass
class ExperimentResult:
    """What one experiment measured over its seeds (or the error that stopped it)."""

    experiment: Experiment
    config: Mapping[str, Any]
    seeds: list[int]
    values: dict[str, list[float]] = field(default_factory=dict)
    #: The tables of each seed's run, in seed order.
    tables: list[dict[str, list[list[Any]]]] = field(default_factory=list)
    #: Figures of the first seed, with paths relative to the output folder.
    figures: list[Figure] = field(default_factory=list)
    seed_wall_time_s: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0
    verdict: Verdict | None = None
    error: str | None = None

    @property
    def summary(self) -> Summary:
        return Summary(self.values)


ProgressMode = Literal["bar", "lines", "off"]


class _Progress:
    """One tqdm bar per experiment, spanning its seeds, on a terminal (``"bar"``); ``ctx.progress(done, total)``
    moves it within one. Without a terminal (a log file, CI, nohup: ``"lines"``) one line per seed as it starts
    and ends, with its time, so a log shows where a long run is."""

    def __init__(self, name: str, n_seeds: int, mode: ProgressMode, stream: TextIO) -> None:
        self.name = name
        self.n_seeds = n_seeds
        self.index = 0
        self.bar: Any = None
        self.lines = mode == "lines"
        self.stream = stream
        self.seed_start = 0.0
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=n_seeds, desc=name, file=stream, leave=True, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")

    def start_seed(self, index: int, seed: int) -> None:
        self.index = index
        self._move(float(index))
        if self.bar is not None:
            self.bar.set_postfix_str(f"seed {seed} ({index + 1}/{self.n_seeds})")
        if self.lines:
            if index:
                self._line(f"seed {index}/{self.n_seeds} done in {time.perf_counter() - self.seed_start:.1f} s")
            self._line(f"seed {seed} ({index + 1}/{self.n_seeds}) started")
            self.seed_start = time.perf_counter()

    def _line(self, text: str) -> None:
        print(f"imagelosses: {self.name}: {text}", file=self.stream, flush=True)

    def __call__(self, done: int, total: int) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
        self._move(self.index + fraction)

    def _move(self, position: float) -> None:
        if self.bar is not None and position > self.bar.n:
            self.bar.update(position - self.bar.n)

    def close(self, outcome: str = "") -> None:
        if self.bar is not None:
            self._move(float(self.n_seeds))
            self.bar.close()
        if self.lines and self.seed_start:
            self._line(f"seed {self.index + 1}/{self.n_seeds} done in {time.perf_counter() - self.seed_start:.1f} s"
                       + (f"; {outcome}" if outcome else ""))
            self.seed_start = 0.0


def _seed_everything(seed: int) -> None:
    """Seed the global generators too, so model initialisations that do not take ``ctx.generator()`` repeat."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _check_metrics(metrics: Any, seed: int, expected: Sequence[str] | None) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        fail("RunOutput.metrics", "a dict {name: float}", type(metrics).__name__, exc=TypeError)
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number, torch.Tensor)):
            fail(f"RunOutput.metrics[{key!r}]", "a number", type(value).__name__, exc=TypeError)
        out[str(key)] = float(value)
    if expected is not None and sorted(out) != sorted(expected):
        fail("RunOutput.metrics", f"the metrics of the first seed {sorted(expected)}", f"{sorted(out)} (seed {seed})")
    return out


def _publish(stage: Path, target: Path) -> None:
    """Move a complete staging folder to ``target``, replacing an older one."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / "previous")
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_experiment(experiment: Experiment, *, out_dir: Path, quick: bool, device: torch.device, seeds: Sequence[int],
                   progress: ProgressMode, stream: TextIO) -> ExperimentResult:
    """Run one experiment over ``seeds``, publish its figures under ``out_dir/<name>``, apply its verdict.

    An exception in the experiment (or its verdict) is recorded in ``error``; Ctrl-C propagates. Either
    way the staging folder is removed.
    """
    config = experiment.quick if quick else experiment.full
    result = ExperimentResult(experiment, config, list(seeds))
    stage = make_temp_dir(prefix=f".{experiment.name}.", suffix=".partial", dir=out_dir)
    bar = _Progress(experiment.name, len(seeds), progress, stream)
    start = time.perf_counter()
    try:
        for index, seed in enumerate(seeds):
            bar.start_seed(index, seed)
            _seed_everything(seed)
            t0 = time.perf_counter()
            ctx = RunContext(config=config, seed=seed, device=device, out_dir=stage, make_figures=index == 0,
                             progress=bar)
            output = experiment.run(ctx)
            result.seed_wall_time_s.append(time.perf_counter() - t0)
            metrics = _check_metrics(output.metrics, seed, list(result.values) if index else None)
            for key, value in metrics.items():
                result.values.setdefault(key, []).append(value)
            result.tables.append(dict(output.tables))
            if index == 0:
                for figure in output.figures:
                    path = Path(figure.path).resolve()
                    if path.parent != stage.resolve() or not path.is_file():
                        fail("Figure.path", f"a file written directly in ctx.out_dir ({stage})", str(figure.path))
                    result.figures.append(Figure(Path(experiment.name) / path.name, figure.caption))
        verdict = experiment.verdict(result.summary)
        if len(seeds) < experiment.seeds:  # below the rule's minimum: the numbers are shown, nothing is decided
            verdict = undecided(len(seeds), experiment.seeds)
        if not isinstance(verdict, Verdict) or verdict.label not in VERDICTS:
            fail("verdict", "a Verdict labelled " + ", ".join(map(repr, VERDICTS)), repr(verdict))
        result.verdict = verdict
        bar.close(f"verdict: {verdict.label}")
        _publish(stage, out_dir / experiment.name)
    except Exception as error:
        bar.close("failed")
        result.error = f"{type(error).__name__}: {error}"
        result.figures = []
        print(f"imagelosses: experiment {experiment.name!r} failed:", file=stream)
        traceback.print_exc(file=stream)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        result.wall_time_s = time.perf_counter() - start
    return result


def _jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become null, tuples lists, anything else unknown its ``str``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return _jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _experiment_json(result: ExperimentResult) -> dict[str, Any]:
    e = result.experiment
    summary = result.summary
    metrics = {key: {"per_seed": values, "mean": summary.mean(key), "std": summary.std(key)}
               for key, values in result.values.items()} if result.error is None else {
        key: {"per_seed": values} for key, values in result.values.items()}
    return {
        "name": e.name, "title": e.title, "claim": e.claim, "paper": e.paper, "setup": e.setup, "rule": e.rule,
        "pilot": e.pilot,
        "status": "ok" if result.error is None else "error", "error": result.error,
        "config": result.config, "seeds": result.seeds, "wall_time_s": result.wall_time_s,
        "seed_wall_time_s": result.seed_wall_time_s, "metrics": metrics,
        "verdict": None if result.verdict is None else {"label": result.verdict.label,
                                                         "reason": result.verdict.reason},
        "figures": [{"path": f.path.as_posix(), "caption": f.caption} for f in result.figures],
        "tables": result.tables[0] if result.tables else {},
        "tables_per_seed": result.tables,
    }


def results_json(results: Sequence[ExperimentResult], *, quick: bool, device: torch.device, seeds: Sequence[int],
                 wall_time_s: float, command: Sequence[str] | None = None) -> dict[str, Any]:
    """The content of ``results.json`` (plain JSON types; non-finite numbers as null)."""
    data: dict[str, Any] = _jsonable({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else None,
        "config": {"size": "quick" if quick else "full", "device": str(device), "seeds": list(seeds)},
        "versions": versions(device),
        "wall_time_s": wall_time_s,
        "experiments": [_experiment_json(r) for r in results],
    })
    return data


def _worker(name: str, threads: int, kwargs: dict[str, Any]) -> ExperimentResult:
    """One built-in experiment in a worker process, by name (its module is imported there)."""
    from . import registry

    torch.set_num_threads(threads)
    return run_experiment(registry.get(name), stream=sys.stderr, **kwargs)


def _run_in_processes(plan: Sequence[tuple[Experiment, list[int]]], jobs: int, *, out: Path, quick: bool,
                      device: torch.device, progress: ProgressMode) -> list[ExperimentResult]:
    """Run the planned experiments ``jobs`` at a time in spawned processes; results in the plan's order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, e.name, threads,
                               {"out_dir": out, "quick": quick, "device": device, "seeds": run_seeds,
                                "progress": progress}) for e, run_seeds in plan]
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _earlier_run(out: Path, quick: bool) -> dict[str, Any] | None:
    """The ``results.json`` already in ``out`` (None when there is none); refused when it is of the other size
    (merging a quick run into a full one would mix smoke-test verdicts with results)."""
    path = out / "results.json"
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        size = data["config"]["size"]
        if not isinstance(data["experiments"], list):
            raise TypeError("experiments")
    except (ValueError, KeyError, TypeError):
        fail("out_dir", "a new folder or one holding an imagelosses run", f"{path} that is not an imagelosses "
             "results.json (use another --out)")
    want = "quick" if quick else "full"
    if size != want:
        fail("out_dir", f"a new folder or one holding a {want} run (this run is {want}; runs of two sizes do not "
             "merge)", f"a {size} run in {out} (use another --out)")
    return data


def _merge(earlier: Mapping[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``now``'s experiments replace their entries in ``earlier``; the others stay, with their own date,
    versions and seeds (recorded per experiment); the run's header is ``now``'s."""
    stamp = {"created": earlier.get("created"), "versions": earlier.get("versions")}
    fresh = {e["name"] for e in now["experiments"]}
    kept = [{**stamp, **e} for e in earlier["experiments"] if e["name"] not in fresh]
    ran = [{"created": now["created"], "versions": now["versions"], **e} for e in now["experiments"]]
    order = [e["name"] for e in earlier["experiments"]]
    merged = sorted(kept + ran, key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))
    seeds = sorted({s for e in merged for s in e.get("seeds", [])})
    return {**now, "experiments": merged, "config": {**now["config"], "seeds": seeds}}


def format_summary(results: Sequence[ExperimentResult]) -> str:
    """The terminal's summary table: experiment, verdict, seeds, wall time, then the verdict's reason."""
    rows = [("experiment", "verdict", "seeds", "time")]
    for r in results:
        label = "ERROR" if r.error is not None else r.verdict.label if r.verdict else "?"
        rows.append((r.experiment.name, label, str(len(r.seeds)),
                     f"{r.wall_time_s:.1f} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines: list[str] = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
        else:
            r = results[i - 1]
            why = r.error if r.error is not None else r.verdict.reason if r.verdict else ""
            lines.append(f"    {why}")
    return "\n".join(lines)


def run_experiments(experiments: Sequence[Experiment], *, out_dir: str | os.PathLike[str], quick: bool = False,
                    device: str | torch.device = "cpu", seeds: int | None = None, first_seed: int = 0,
                    progress: bool | None = None, stream: TextIO | None = None,
                    command: Sequence[str] | None = None, jobs: int = 1
                    ) -> tuple[list[ExperimentResult], dict[str, Any]]:
    """Run ``experiments`` into ``out_dir``; write ``results.json`` and ``report.html`` there.

    Args:
        experiments: from :func:`~imagelosses.experiments.registry.resolve`.
        out_dir: created if missing.
        quick: run each experiment's ``quick`` configuration (the same code on less data).
        device: where the experiments train.
        seeds: seeds per experiment (default: each experiment's own ``seeds``); seeds are
            ``first_seed, first_seed + 1, …``.
        progress: True: progress bars; False: nothing; None (default): bars on a terminal, otherwise one line
            per seed as it starts and ends (a log file, CI, nohup).
        stream: where progress bars and errors go (default ``sys.stderr``).
        command: the command line, recorded in ``results.json``.
        jobs: built-in experiments run at once, each in a process of its own with ``cpu_count // jobs`` threads
            (the experiments train tiny networks on one thread, so two jobs on two cores halve the wall time;
            the numbers do not depend on it). Progress is then one line per seed. Other experiments (a plugin, a
            test's) run in this process.

    A run into a folder that already holds a run of the same size (quick or full) merges: the experiments of
    this run replace their earlier entries, the others stay as they were (each entry keeps its own date,
    versions and seeds), and the report shows them all. A folder holding a run of the other size is refused
    before anything runs.

    Returns:
        ``(results, results_json)``: the per-experiment results and the dict written to ``results.json``.
    """
    from .report import render_report

    stream = sys.stderr if stream is None else stream
    if seeds is not None:
        seeds = check_int(seeds, "seeds", low=1)
    first_seed = check_int(first_seed, "first_seed", low=0)
    jobs = min(check_int(jobs, "jobs", low=1), max(len(experiments), 1))
    device = torch.device(device)
    out = Path(out_dir)
    earlier = _earlier_run(out, quick)
    out.mkdir(parents=True, exist_ok=True)
    mode: ProgressMode = ("bar" if stream.isatty() else "lines") if progress is None else "bar" if progress else "off"
    start = time.perf_counter()
    plan = [(e, list(range(first_seed, first_seed + (e.seeds if seeds is None else seeds)))) for e in experiments]
    all_seeds = sorted({s for _, run_seeds in plan for s in run_seeds})
    from . import registry

    # Built-in experiments can run in worker processes (their modules import there by name); others (a plugin,
    # a test's experiment with lambdas) run here, where their objects live.
    parallel = [(e, s) for e, s in plan if e.name in registry.BUILTIN] if jobs > 1 else []
    done = dict(zip((e.name for e, _ in parallel), _run_in_processes(
        parallel, jobs, out=out, quick=quick, device=device, progress="off" if mode == "off" else "lines"),
        strict=True)) if parallel else {}
    results = [done[e.name] if e.name in done else run_experiment(
        e, out_dir=out, quick=quick, device=device, seeds=run_seeds, progress=mode, stream=stream)
        for e, run_seeds in plan]
    data = results_json(results, quick=quick, device=device, seeds=all_seeds,
                        wall_time_s=time.perf_counter() - start, command=command)
    if earlier is not None:
        data = _merge(earlier, data)
    atomic_write_text(out / "results.json", json.dumps(data, indent=2, allow_nan=False) + "\n")
    atomic_write_text(out / "report.html", render_report(data, out))
    return results, data
