"""The HTML report of a run: one self-contained file (inline CSS, figures embedded as base64 PNG, no script,
no external resource), readable offline in any browser.

:func:`render_report` builds it from the content of ``results.json`` alone (and the PNGs it names), so
every number on the page is one the run measured: a summary table (experiment, claim, verdict), then one
section per experiment with its claim and paper, setup, configuration and seeds, figures with captions,
metrics as mean ± standard deviation over seeds (and each seed's value), tables, and the verdict with the
rule that produced it.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._core.checks import fail
from .base import VERDICTS

__all__ = ["format_number", "metric_label", "render_report", "section_id"]

_CSS = """
:root { --ink: #1d2430; --muted: #5b6474; --rule: #d9dde4; --paper: #ffffff; --tint: #f5f7fa;
        --holds: #1f7a3d; --holds-bg: #e3f4e8; --not: #a3361f; --not-bg: #fbe7e2;
        --inc: #8a6200; --inc-bg: #fbf1d6; --err: #7a1f5c; --err-bg: #f6e1ef; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--tint); color: var(--ink);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
header h1 { font-size: 1.9rem; margin: 0 0 .3rem; letter-spacing: -.01em; }
header p { margin: .2rem 0; color: var(--muted); }
h2 { font-size: 1.45rem; margin: 0 0 .6rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; text-transform: uppercase; letter-spacing: .05em;
     color: var(--muted); }
section, .summary { background: var(--paper); border: 1px solid var(--rule); border-radius: 10px;
                    padding: 1.4rem 1.6rem; margin: 1.6rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .93rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { background: var(--tint); font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
a { color: #1d4f91; }
.claim { font-size: 1.05rem; }
.paper { color: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: .12rem .55rem; border-radius: 999px; font-weight: 600;
         font-size: .85rem; white-space: nowrap; }
.holds { color: var(--holds); background: var(--holds-bg); }
.does-not-hold-at-this-scale { color: var(--not); background: var(--not-bg); }
.inconclusive, .not-decided { color: var(--inc); background: var(--inc-bg); }
.error { color: var(--err); background: var(--err-bg); }
.verdict { border-left: 5px solid var(--rule); padding: .7rem 1rem; margin-top: 1.2rem; background: var(--tint);
           border-radius: 0 8px 8px 0; }
.verdict.holds { border-color: var(--holds); } .verdict.does-not-hold-at-this-scale { border-color: var(--not); }
.verdict.inconclusive, .verdict.not-decided { border-color: var(--inc); } .verdict.error { border-color: var(--err); }
.verdict p { margin: .3rem 0; color: var(--ink); }
figure { margin: 1rem 0 1.4rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 6px;
             background: #fff; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .4rem; }
details { margin: .6rem 0; } summary { cursor: pointer; color: var(--muted); }
pre { background: var(--tint); padding: .7rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; }
footer { color: var(--muted); font-size: .85rem; }
.quick { background: #fff4d6; border: 1px solid #e6c46b; border-radius: 6px; padding: .6rem .8rem; }
.scroll { overflow-x: auto; max-width: 100%; }
section, .summary, p, figcaption, pre, .summary td { overflow-wrap: anywhere; }
.scroll td, .scroll th { overflow-wrap: normal; }  /* words and numbers stay whole: a wide table scrolls in its box */
.scroll td:first-child { min-width: 9rem; }
@media (max-width: 640px) {
  main { padding: 1rem .6rem 3rem; }
  section, .summary { padding: 1rem .8rem; }
  header h1 { font-size: 1.5rem; }
  .summary table, .summary thead, .summary tbody, .summary tr, .summary td { display: block; width: 100%; }
  .summary thead { display: none; }
  .summary tr { border-bottom: 1px solid var(--rule); padding: .4rem 0; }
  .summary td { border: 0; padding: .15rem 0; }
}
"""


def format_number(value: Any) -> str:
    """Four significant digits; ``n/a`` for a missing (non-finite) value."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"


def section_id(name: str) -> str:
    """The HTML id of an experiment's section."""
    return "exp-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _label_class(label: str) -> str:
    return label.replace(" ", "-")


def _badge(experiment: Mapping[str, Any]) -> str:
    if experiment["status"] != "ok" or experiment["verdict"] is None:
        return '<span class="badge error">error</span>'
    label = experiment["verdict"]["label"]
    return f'<span class="badge {_label_class(label)}">{_e(label)}</span>'


def _image(path: Path) -> str:
    if not path.is_file():
        fail("figure", "a PNG file written by the run", f"missing {path}")
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        fail("figure", "a PNG file", f"{path} (not a PNG)")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_e(format_number(c))}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
        else f'<td class="num">{_e(c)}</td>' if isinstance(c, str) and " ± " in c  # a mean ± spread
        else f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


#: How the parts of a metric key read in the report (``recall1_gain_batch-hard/ci_low`` → "recall@1 gain
#: batch-hard · 95% interval, low end"); the raw key stays in results.json.
_WORDS = {"ci_low": "95% interval, low end", "ci_high": "95% interval, high end", "recall1": "Recall@1",
          "psnr": "PSNR", "f1": "F1", "hf": "high-frequency", "bce": "BCE", "mse": "MSE", "lr": "learning rate",
          "std": "std", "s": "s", "cpu_time_s": "CPU time (s)",
          "wall_time_s": "wall time (s)", "log10": "log₁₀", "betti0": "Betti-0", "betti1": "Betti-1"}


def metric_label(key: str) -> str:
    """A readable label for a metric key: words instead of snake_case, ``/`` as " · ", known abbreviations
    spelled out, units kept from a trailing ``_s`` (seconds), ``_db`` (dB) or ``_px`` (pixels)."""
    parts = []
    for part in key.split("/"):
        if part in _WORDS:
            parts.append(_WORDS[part])
            continue
        unit = next((u for suffix, u in (("_s", " (s)"), ("_db", " (dB)"), ("_px", " (px)")) if
                     part.endswith(suffix)), "")
        if unit:
            part = part.rsplit("_", 1)[0]
        words = [_WORDS.get(w, w) for w in part.split("_")]
        parts.append(" ".join(words) + unit)
    return " · ".join(parts)


def _metrics(metrics: Mapping[str, Any], seeds: Sequence[int]) -> str:
    if not metrics:
        return "<p>No metrics were recorded.</p>"
    rows: list[list[Any]] = [["metric", "mean ± std over seeds", *[f"seed {s}" for s in seeds]]]
    for name, m in metrics.items():
        spread = f"{format_number(m.get('mean'))} ± {format_number(m.get('std'))}" if "mean" in m else "n/a"
        rows.append([metric_label(name), spread, *m["per_seed"]])
    return _table(rows)


NO_PILOT = "none; the settings are the paper's or fixed by the time budget."


def _section(experiment: Mapping[str, Any], root: Path) -> str:
    name = experiment["name"]
    parts = [f'<section class="experiment" id="{section_id(name)}" data-experiment="{_e(name)}">',
             f"<h2>{_e(experiment['title'])} {_badge(experiment)}</h2>",
             f'<p class="claim"><strong>Claim.</strong> {_e(experiment["claim"])}</p>',
             f'<p class="paper">{_e(experiment["paper"])}</p>',
             "<h3>Setup</h3>", f"<p>{_e(experiment['setup'])}</p>",
             f'<p class="pilot"><strong>Pilot</strong> (what chose the settings and thresholds, before the run): '
             f'{_e(experiment.get("pilot") or NO_PILOT)}</p>',
             (f"<p>Run on {_e(experiment['created'])} (merged into this report from an earlier run of the same "
              "folder).</p>" if experiment.get("created") else ""),
             f"<p>Seeds: {_e(', '.join(map(str, experiment['seeds'])))}; wall time "
             f"{experiment['wall_time_s']:.1f} s (per seed: "
             f"{_e(', '.join(f'{t:.1f} s' for t in experiment['seed_wall_time_s']) or 'n/a')}).</p>",
             "<details><summary>Configuration</summary><pre>"
             f"{_e(json.dumps(experiment['config'], indent=2))}</pre></details>"]
    if experiment["figures"]:
        parts.append("<h3>Figures</h3>")
        for figure in experiment["figures"]:
            parts.append(f'<figure><img src="{_image(root / figure["path"])}" alt="{_e(figure["caption"])}">'
                         f"<figcaption>{_e(figure['caption'])}</figcaption></figure>")
    parts += ["<h3>Measured</h3>", _metrics(experiment["metrics"], experiment["seeds"])]
    for title, rows in experiment["tables"].items():
        said = "seed" in title.lower()  # a title that already names its seed ("(this seed)", "seed 0")
        heading = title if said else f"{title} (seed {experiment['seeds'][0]})"
        parts += [f"<h3>{_e(heading)}</h3>", _table(rows)]
    if experiment["status"] == "ok" and experiment["verdict"] is not None:
        label = experiment["verdict"]["label"]
        parts.append(f'<div class="verdict {_label_class(label)}"><p><strong>Verdict: {_e(label)}.</strong> '
                     f'{_e(experiment["verdict"]["reason"])}</p><p><strong>Rule</strong> (declared in the '
                     f'experiment\'s code before it ran): {_e(experiment["rule"])}</p></div>')
    else:
        parts.append(f'<div class="verdict error"><p><strong>The experiment failed:</strong> '
                     f'{_e(experiment["error"])}</p><p>No verdict. Rule: {_e(experiment["rule"])}</p></div>')
    parts.append("</section>")
    return "\n".join(parts)


def render_report(results: Mapping[str, Any], root: str | Path) -> str:
    """The report page of ``results`` (the content of ``results.json``); figure paths are relative to ``root``."""
    root = Path(root)
    experiments = results["experiments"]
    config = results["config"]
    v = results["versions"]
    rows = "".join(
        f'<tr><td><a href="#{section_id(e["name"])}">{_e(e["title"])}</a></td><td>{_e(e["claim"])}</td>'
        f"<td>{_badge(e)}</td><td class=\"num\">{e['wall_time_s']:.1f} s</td></tr>" for e in experiments)
    counts = {label: sum(1 for e in experiments if e["verdict"] and e["verdict"]["label"] == label)
              for label in VERDICTS}
    failed = sum(1 for e in experiments if e["status"] != "ok")
    shown = [f"{n} {label}" for label, n in counts.items() if n or label != "not decided"]
    tally = ", ".join(shown) + (f", {failed} failed" if failed else "")
    body = "\n".join(_section(e, root) for e in experiments)
    quick = ('<p class="quick" id="quick-warning"><strong>Quick run.</strong> Every experiment ran at its smoke-test '
             "size (less data, a few steps): it shows that the code runs end to end, and its verdicts are not the "
             "experiments' results. Run <code>imagelosses experiments</code> without <code>--quick</code> (or "
             "<code>make demo</code>) for those.</p>") if config["size"] == "quick" else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagelosses experiments</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>imagelosses experiments</h1>
<p>Each claim of the literature reproduced at laptop scale; every number below was measured by this run and each
verdict computed by the rule its experiment declares.</p>
<p>{_e(results['created'])} · {_e(config['size'])} size · device {_e(config['device'])} ·
total wall time {results['wall_time_s']:.1f} s · {_e(tally)}</p>
{quick}
</header>
<div class="summary" id="summary">
<h2>Summary</h2>
<table><thead><tr><th>Experiment</th><th>Claim</th><th>Verdict</th><th>Time</th></tr></thead>
<tbody>{rows}</tbody></table>
</div>
{body}
<footer><p>imagelosses {_e(v.get('imagelosses'))} · Python {_e(v.get('python'))} · torch {_e(v.get('torch'))} ·
numpy {_e(v.get('numpy'))} · {_e(v.get('platform'))} · {_e(v.get('cpu_count'))} CPUs</p></footer>
</main>
</body>
</html>
"""
