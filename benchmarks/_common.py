"""Shared timing method for every benchmark (see benchmarks/README.md).

Each case is a zero-argument callable that performs one full step (e.g. forward + backward). We seed
everything, run ``warmup`` untimed calls, then ``repeats`` timed calls and report the median wall time;
peers run side by side in the same process on the same inputs, and each row reports the ratio to the
baseline named in the table. Peak memory is measured separately, for one call: CUDA's
``max_memory_allocated`` on a GPU; on CPU the peak of the running total of tensor allocations minus frees
that ``torch.profiler(profile_memory=True)`` records during the step.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"


def quick_flag(doc: str | None, argv: list[str] | None, help: str = "small configuration") -> bool:
    """The ``--quick`` flag of a benchmark script whose only option it is."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help=help)
    return bool(parser.parse_args(argv).quick)


def quick_and_threads(doc: str | None, argv: list[str] | None, help: str = "small configuration") -> bool:
    """The ``--quick`` and ``--threads N`` options of a benchmark script; sets the CPU thread count (default 1: on
    a shared machine more threads make timings erratic; every implementation alike) and returns ``--quick``."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help=help)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: on a shared machine more threads make timings erratic)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
    return bool(args.quick)


def seed_all(seed: int = 0) -> None:
    torch.manual_seed(seed)
    import numpy as np

    np.random.seed(seed)


def time_median(fn: Callable[[], Any], *, warmup: int = 2, repeats: int = 7) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb(fn: Callable[[], Any]) -> float:
    """Peak memory in MiB allocated by one call of ``fn`` (CUDA allocator on GPU, profiler on CPU)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # Each op's own allocations count from its start, its own frees from its end; the running total's
    # maximum over time is the peak.
    changes = sorted(
        (e.time_range.start if e.self_cpu_memory_usage > 0 else e.time_range.end, e.self_cpu_memory_usage)
        for e in prof.events()
        if e.self_cpu_memory_usage != 0
    )
    running = peak = 0
    for _, delta in changes:
        running += delta
        peak = max(peak, running)
    return peak / 2**20


@dataclass
class Row:
    benchmark: str
    case: str
    impl: str
    seconds: float
    ratio: float | None = None  # seconds / baseline seconds (< 1 is faster than the baseline)
    speedup: float | None = None  # baseline seconds / seconds
    peak_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def timed_rows(bench: str, case: str, losses: Mapping[str, Callable[[], torch.Tensor]], grad_of: torch.Tensor | None,
               *, repeats: int, rounds: int = 3, rtol: float = 1e-4) -> list[Row]:
    """One row per implementation of a training step ``loss().backward()`` (then ``grad_of.grad`` cleared, when
    given; parameter gradients accumulate, which costs the same for every row).

    Every implementation must compute the first one's loss value within ``rtol`` (else RuntimeError: the
    rows would not time the same loss). They take turns, ``rounds`` rounds of :func:`time_median`, so a
    drift in background load hits them alike; each row reports the median of its round medians."""
    values = {impl: float(fn().detach()) for impl, fn in losses.items()}
    first, ref = next(iter(values.items()))
    for impl, value in values.items():
        if not abs(value - ref) <= rtol * abs(ref):  # also refuses NaN
            raise RuntimeError(f"{case}: {impl} computes {value}, {first} {ref}: not the same loss")

    def make_step(fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            fn().backward()
            if grad_of is not None:
                grad_of.grad = None

        return step

    medians: dict[str, list[float]] = {impl: [] for impl in losses}
    for _ in range(rounds):
        for impl, fn in losses.items():
            medians[impl].append(time_median(make_step(fn), warmup=1, repeats=repeats))
    return [Row(bench, case, impl, statistics.median(medians[impl]), peak_mb=peak_memory_mb(make_step(fn)),
                extra={"loss": values[impl], "round_medians": medians[impl]}) for impl, fn in losses.items()]


def environment() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }


def with_ratios(rows: Sequence[Row], baseline: str) -> list[Row]:
    """Fill ``ratio``/``speedup`` of each row against the row of the same case whose impl is ``baseline``."""
    base = {r.case: r.seconds for r in rows if r.impl == baseline}
    for r in rows:
        if r.case in base:
            r.ratio = r.seconds / base[r.case]
            r.speedup = base[r.case] / r.seconds
    return list(rows)


def markdown(rows: Sequence[Row], title: str, baseline: str) -> str:
    lines = [
        f"### {title}",
        "",
        f"Median of repeats; ratio = time / time of `{baseline}` (lower is faster); speed-up = inverse.",
        "",
        "| case | implementation | time (ms) | ratio | speed-up | peak memory (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.3f}"
        speedup = "" if r.speedup is None else f"{r.speedup:.1f}×"
        mem = "" if r.peak_mb is None else f"{r.peak_mb:.1f}"
        lines.append(f"| {r.case} | {r.impl} | {r.seconds * 1e3:.2f} | {ratio} | {speedup} | {mem} |")
    return "\n".join(lines) + "\n"


def write(name: str, rows: Sequence[Row], title: str, baseline: str, notes: str = "") -> str:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (the table, then ``notes``); return the
    markdown."""
    RESULTS.mkdir(exist_ok=True)
    table = markdown(rows, title, baseline) + (f"\n{notes.strip()}\n" if notes.strip() else "")
    payload = {"environment": environment(), "baseline": baseline, "rows": [asdict(r) for r in rows],
               "notes": notes}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    (RESULTS / f"{name}.md").write_text(table)
    return table
