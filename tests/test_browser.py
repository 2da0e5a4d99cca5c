"""The report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright's Python API.

The page of a ``--quick`` run must show every section, decode every figure (``naturalWidth > 0``), log no
console error, raise no page error and request nothing from the network; a screenshot is saved beside the
report. Chromium missing is a failure, not a skip: ``make test`` installs it (``apt-get install -y chromium``).

It also runs the real ``imagelosses experiments --quick`` (every registered experiment, about 25 s on this
2-core machine) and checks its report the same way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagelosses.cli import main
from imagelosses.experiments import registry
from imagelosses.experiments.report import section_id
from tests.test_cli import TINY

CHROMIUM = os.environ.get("IMAGELOSSES_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def chromium_binary() -> str:
    path = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if path is None:
        pytest.fail(f"headless Chromium not found at {CHROMIUM} nor on PATH: `make test` installs it as root "
                    "(apt-get install -y chromium); set IMAGELOSSES_CHROMIUM to use another binary")
    return path


def inspect_report(report: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``report`` in headless Chromium; return its sections, images, console errors and requests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_binary(), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({complete: e.complete, width: e.naturalWidth, height: e.naturalHeight,"
                       " alt: e.alt}))")
            sections = page.eval_on_selector_all("section.experiment", "els => els.map(e => e.id)")
            summary_rows = page.eval_on_selector_all("#summary tbody tr", "els => els.length")
            title = page.title()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"images": images, "sections": sections, "summary_rows": summary_rows, "errors": errors,
            "requests": requests, "title": title}


def _check(report: Path, screenshot: Path, names: list[str], figures: int) -> None:
    seen = inspect_report(report, screenshot)
    assert seen["title"] == "imagelosses experiments"
    assert seen["sections"] == [section_id(n) for n in names]
    assert seen["summary_rows"] == len(names)
    assert len(seen["images"]) == figures
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    assert seen["errors"] == []
    assert seen["requests"] == [report.resolve().as_uri()]  # the page itself, nothing else
    assert screenshot.stat().st_size > 10_000


@pytest.fixture
def tiny_registered() -> Iterator[None]:
    registry.register(TINY, replace=True)
    yield
    registry.unregister(TINY.name)


def test_quick_report_in_headless_chromium(tiny_registered: None, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["experiments", "--only", "test-tiny", "--quick", "--out", str(out)]) == 0
    _check(out / "report.html", tmp_path / "report.png", ["test-tiny"], figures=2)


def test_real_quick_suite_in_headless_chromium(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    status = main(["experiments", "--quick", "--out", str(out)])
    data = json.loads((out / "results.json").read_text())
    assert status == 0, [e["error"] for e in data["experiments"] if e["error"]]
    assert [e["name"] for e in data["experiments"]] == list(registry.BUILTIN)
    assert all(e["verdict"]["label"] in ("holds", "does not hold at this scale", "inconclusive")
               for e in data["experiments"])
    _check(out / "report.html", tmp_path / "quick.png", list(registry.BUILTIN),
           figures=sum(len(e["figures"]) for e in data["experiments"]))
