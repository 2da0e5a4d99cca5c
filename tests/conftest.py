from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = getattr(metafunc.cls, "cases", None)
    if "case" in metafunc.fixturenames and cases:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
