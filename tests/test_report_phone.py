"""The report at a phone's width (390 px) in headless Chromium: nothing is wider than the viewport, the verdict
of every experiment is visible in the summary, and long tables scroll inside their own box."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from imagelosses.experiments.runner import run_experiments
from tests.test_browser import ARGS, chromium_binary
from tests.test_cli import TINY


@pytest.mark.parametrize("width", [390, 1200])
def test_the_report_fits_the_viewport(tmp_path: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    wide = replace(TINY, name="test-a-rather-long-experiment-name-that-must-wrap-somewhere",
                   claim="A long claim " * 30)
    run_experiments([TINY, wide], out_dir=tmp_path, quick=True, seeds=3, progress=False, stream=io.StringIO())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_binary(), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto((tmp_path / "report.html").resolve().as_uri(), wait_until="load")
            sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            verdicts = page.eval_on_selector_all(
                "#summary .badge", "els => els.map(e => { const r = e.getBoundingClientRect();"
                                   " return [r.left, r.right, e.textContent]; })")
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
        finally:
            browser.close()
    scroll_width, client_width = sizes
    assert scroll_width <= client_width, f"the page is {scroll_width} px wide in a {client_width} px viewport"
    assert len(verdicts) == 2
    for left, right, text in verdicts:
        assert 0 <= left and right <= width and text == "holds", (left, right, text)
