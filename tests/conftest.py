from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

from imagelosses.experiments.base import single_thread

#: ``make test-threads`` reruns the training tests with ``IMAGELOSSES_TEST_THREADS`` = 1 and 2: a test that
#: trains or optimises must hold at any thread count (and so on any BLAS kernel's summation order).
THREADS = int(os.environ.get("IMAGELOSSES_TEST_THREADS", "0"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "training: the test trains or optimises; `make test-threads` reruns it at "
                                       "1 and 2 threads")
    if THREADS:
        torch.set_num_threads(THREADS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every experiment's quick run trains small networks: it is a training test whatever its file says."""
    for item in items:
        if "quick_run" in item.name:
            item.add_marker(pytest.mark.training)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module of tiny-tensor tests (``pytestmark = pytest.mark.usefixtures(
    "one_thread")``): they gain nothing from two, and on a shared two-core machine two threads per process
    oversubscribe the cores and run 10-50x slower. The thread count is restored afterwards. Under
    ``IMAGELOSSES_TEST_THREADS`` the given count is kept instead."""
    if THREADS:
        yield
        return
    with single_thread():
        yield



def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = getattr(metafunc.cls, "cases", None)
    if "case" in metafunc.fixturenames and cases:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
