"""Run every benchmark (``benchmarks/bench_*.py``) in this process, one after another.

``python benchmarks/run.py [--quick] [names...]``: each benchmark writes results/<name>.json and .md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("names", nargs="*", help="e.g. pixel perceptual metric (default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    names = args.names or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        print(f"## {name}\n", flush=True)
        importlib.import_module(f"bench_{name}").main(["--quick"] if args.quick else [])


if __name__ == "__main__":
    main()
