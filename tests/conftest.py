from __future__ import annotations

import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = getattr(metafunc.cls, "cases", None)
    if "case" in metafunc.fixturenames and cases:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
