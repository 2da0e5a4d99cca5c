"""Run every benchmark (``benchmarks/bench_*.py``), each in a process of its own (so no setting such as
the thread count leaks from one into the next).

``python -m benchmarks.run [--quick] [names...]`` from the repository root (benchmarks and the tests' reference
code are packages): each benchmark writes results/<name>.json and .md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("names", nargs="*", help="e.g. pixel perceptual metric (default: all)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        print(f"## {name}\n", flush=True)
        command = [sys.executable, "-m", f"benchmarks.bench_{name}", *(["--quick"] if args.quick else [])]
        subprocess.run(command, check=True, cwd=HERE.parent)


if __name__ == "__main__":
    main()
