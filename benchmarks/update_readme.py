"""Copy benchmarks/results/<name>.md into README.md between ``<!-- bench:<name> -->`` and
``<!-- /bench:<name> -->`` (the closing marker is added when missing)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name in re.findall(r"<!-- bench:([\w-]+) -->", text):
        table = RESULTS / f"{name}.md"
        if not table.exists():
            continue
        block = f"<!-- bench:{name} -->\n{table.read_text().strip()}\n<!-- /bench:{name} -->"
        pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
        else:
            text = text.replace(f"<!-- bench:{name} -->", block, 1)
    readme.write_text(text)


if __name__ == "__main__":
    main()
