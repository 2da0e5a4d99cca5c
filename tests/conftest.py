from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagelosses.experiments.base import single_thread


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module of tiny-tensor tests (``pytestmark = pytest.mark.usefixtures(
    "one_thread")``): they gain nothing from two, and on a shared two-core machine two threads per process
    oversubscribe the cores and run 10-50x slower. The thread count is restored afterwards."""
    with single_thread():
        yield



def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = getattr(metafunc.cls, "cases", None)
    if "case" in metafunc.fixturenames and cases:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
