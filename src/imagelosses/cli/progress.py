"""Progress of an optimisation run: a tqdm bar with a running ETA on a terminal, one line per tenth of the run
otherwise (a log file, CI, nohup), and once the first steps are timed one line with the estimated total time."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["ESTIMATE_AFTER", "StepProgress", "format_duration"]

#: Steps timed before the estimate is printed (the first step also builds the style Grams: it is left out).
ESTIMATE_AFTER = 3


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"1 h 05 min"``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class StepProgress:
    """``progress(done, total)`` for :func:`~imagelosses.synthesis.stylize` and
    :func:`~imagelosses.synthesis.synthesize_texture`; a context manager that closes the bar."""

    def __init__(self, total: int, desc: str, stream: TextIO | None = None) -> None:
        self.total, self.desc = total, desc
        self.stream = sys.stderr if stream is None else stream
        self.bar: Any = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, file=self.stream,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed} elapsed, ETA {remaining}, {rate_fmt}]")
        self.start = time.perf_counter()
        self.first_done: float | None = None
        self.estimated = False
        self.next_line = 0.1

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def _say(self, text: str) -> None:
        line = f"{self.desc}: {text}"
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        if done == 1:
            self.first_done = now
        per_step = (now - self.first_done) / (done - 1) if self.first_done is not None and done > 1 else None
        if per_step is not None and not self.estimated and done >= ESTIMATE_AFTER + 1 and done < total:
            self.estimated = True
            self._say(f"about {format_duration(now - self.start + per_step * (total - done))} in all "
                      f"({per_step:.2f} s per step x {total} steps)")
        if self.bar is None and per_step is not None and done >= self.next_line * total:
            self.next_line = (int(10 * done / total) + 1) / 10
            self._say(f"{done}/{total} steps, {format_duration(now - self.start)} elapsed, "
                      f"ETA {format_duration(per_step * (total - done))}")
