"""The runner, the registry and the HTML report on synthetic experiments and synthetic results: verdict
labels, numbers taken from the run, atomic writes, escaping, self-containment."""

from __future__ import annotations

import base64
import io
import json
import re
import statistics
from pathlib import Path

import pytest
import torch

from imagelosses.experiments import registry
from imagelosses.experiments.base import VERDICTS, Experiment, RunContext, RunOutput, Summary, Verdict
from imagelosses.experiments.report import format_number, render_report, section_id
from imagelosses.experiments.runner import atomic_output, atomic_write_text, format_summary, run_experiments
from tests.test_cli import TINY, tiny_verdict


def _experiment(name: str, run: object, verdict: object = None, seeds: int = 2) -> Experiment:
    return Experiment(name=name, title=name.title(), claim="c", paper="p", setup="s", rule="r", full={"n": 2},
                      quick={"n": 1}, run=run, verdict=verdict or (lambda s: Verdict("holds", "ok")),  # type: ignore
                      seeds=seeds)


# --- verdict rules on synthetic summaries --------------------------------------------------------------------

@pytest.mark.parametrize(("values", "label"), [
    ([0.01, 0.02, 0.015], "holds"),
    ([0.5, 0.6, 0.55], "does not hold at this scale"),
    ([0.02, 0.2, 0.1], "inconclusive"),  # the spread straddles the threshold
    ([0.09], "holds"),  # one seed: no spread
])
def test_the_test_rule_on_synthetic_summaries(values: list[float], label: str) -> None:
    verdict = tiny_verdict(Summary({"slope_error": values}))
    assert verdict.label == label and verdict.label in VERDICTS
    assert f"{Summary({'slope_error': values}).mean('slope_error'):.3g}" in verdict.reason


def test_an_invalid_verdict_label_is_an_error(tmp_path: Path) -> None:
    bad = _experiment("test-badlabel", lambda ctx: RunOutput({"x": 1.0}), lambda s: Verdict("probably", "x"))
    (result,), data = run_experiments([bad], out_dir=tmp_path, progress=False, stream=io.StringIO())
    assert result.verdict is None and result.error is not None and "'probably'" in result.error
    assert data["experiments"][0]["status"] == "error"


# --- the runner -------------------------------------------------------------------------------------------

def test_runner_gives_each_seed_its_context_and_gathers_the_metrics(tmp_path: Path) -> None:
    seen: list[tuple[int, bool, int]] = []

    def run(ctx: RunContext) -> RunOutput:
        seen.append((ctx.seed, ctx.make_figures, int(ctx.config["n"])))
        ctx.progress(1, 2)
        ctx.progress(2, 2)
        return RunOutput({"seed_squared": float(ctx.seed**2), "draw": float(torch.rand(1, generator=ctx.generator()))})

    e = _experiment("test-seeds", run, lambda s: Verdict("inconclusive", f"{s.mean('seed_squared')}"), seeds=3)
    (result,), data = run_experiments([e], out_dir=tmp_path, quick=True, first_seed=4, progress=True,
                                      stream=io.StringIO())
    assert seen == [(4, True, 1), (5, False, 1), (6, False, 1)]
    assert result.values["seed_squared"] == [16.0, 25.0, 36.0]
    assert result.error is None and result.verdict == Verdict("inconclusive", str((16 + 25 + 36) / 3))
    assert len(set(result.values["draw"])) == 3  # each seed's generator draws its own numbers
    metrics = data["experiments"][0]["metrics"]["seed_squared"]
    assert metrics["mean"] == pytest.approx(77 / 3) and metrics["std"] == pytest.approx(statistics.stdev([16, 25, 36]))
    assert data["config"]["seeds"] == [4, 5, 6]


def test_metrics_must_be_numbers_with_the_same_names_in_every_seed(tmp_path: Path) -> None:
    e = _experiment("test-drift", lambda ctx: RunOutput({f"m{ctx.seed}": 1.0}))
    (result,), _ = run_experiments([e], out_dir=tmp_path, progress=False, stream=io.StringIO())
    assert result.error == "ValueError: RunOutput.metrics: expected the metrics of the first seed ['m0'], got ['m1'] " \
                           "(seed 1)"
    e = _experiment("test-text", lambda ctx: RunOutput({"m": "high"}))  # type: ignore[dict-item]
    (result,), _ = run_experiments([e], out_dir=tmp_path, progress=False, stream=io.StringIO())
    assert result.error == "TypeError: RunOutput.metrics['m']: expected a number, got str"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "results.json"]


def test_non_finite_numbers_become_null_and_n_a(tmp_path: Path) -> None:
    e = _experiment("test-nan", lambda ctx: RunOutput({"m": float("nan"), "k": float(ctx.seed)}))
    run_experiments([e], out_dir=tmp_path, progress=False, stream=io.StringIO())
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text
    metric = json.loads(text)["experiments"][0]["metrics"]["m"]
    assert metric == {"per_seed": [None, None], "mean": None, "std": None}
    assert "n/a ± n/a" in (tmp_path / "report.html").read_text()


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"] and target.read_text() == "old"
    atomic_write_text(target, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"] and target.read_text() == "new"


def test_a_rerun_replaces_the_figures_of_the_previous_run(tmp_path: Path) -> None:
    run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    (tmp_path / "test-tiny" / "stale.png").write_bytes(b"old")
    run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    assert sorted(p.name for p in (tmp_path / "test-tiny").iterdir()) == ["data.png", "loss.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "results.json", "test-tiny"]


def test_summary_table_for_the_terminal(tmp_path: Path) -> None:
    results, _ = run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=3, progress=False, stream=io.StringIO())
    lines = format_summary(results).splitlines()
    assert lines[0].split() == ["experiment", "verdict", "seeds", "time"]
    assert lines[2].startswith("test-tiny") and "holds" in lines[2] and " 3 " in lines[2]
    assert lines[3].strip() == results[0].verdict.reason  # type: ignore[union-attr]


def test_fewer_seeds_than_the_rule_needs_are_not_decided(tmp_path: Path) -> None:
    """One seed has a spread of 0, so any sign would pass for significance: the runner does not decide."""
    results, _ = run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    verdict = results[0].verdict
    assert verdict is not None and verdict.label == "not decided"
    assert verdict.reason == "not decided: 1 seed; the rule needs ≥ 3"
    assert "not decided" in (tmp_path / "report.html").read_text()


# --- the registry -----------------------------------------------------------------------------------------

def test_registry_names_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.names()[:9] == ("pixel-vs-perceptual", "restoration", "class-imbalance", "overlap-losses",
                                    "style-texture", "triplet-mining", "topology", "gan-objectives",
                                    "cycle-consistency")
    with pytest.raises(ValueError, match=r"^experiment: expected one of pixel-vs-perceptual, restoration, "
                                         r"class-imbalance, .*cycle-consistency, got 'nope'$"):
        registry.get("nope")
    with pytest.raises(ValueError, match=r"^experiment.name: expected a name not yet registered, got 'topology'$"):
        registry.register(_experiment("topology", lambda ctx: RunOutput({})))
    with pytest.raises(TypeError, match=r"^experiment: expected an imagelosses.experiments.base.Experiment, got str$"):
        registry.register("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^name: expected a name added with register"):
        registry.unregister("topology")
    monkeypatch.setitem(registry.BUILTIN, "test-missing", "no_such_module_here")
    monkeypatch.setitem(registry.BUILTIN, "test-empty", "base")  # a module without EXPERIMENT
    with pytest.raises(registry.ExperimentUnavailableError, match=r"got no such module$"):
        registry.get("test-missing")
    with pytest.raises(registry.ExperimentUnavailableError, match=r"expected imagelosses.experiments.base.EXPERIMENT"):
        registry.get("test-empty")
    with pytest.raises(registry.ExperimentUnavailableError, match="test-missing"):
        registry.resolve(["test-missing"])
    listing = {item.name: item for item in registry.listing()}
    assert not listing["test-missing"].available and not listing["test-empty"].available


def test_register_resolve_unregister() -> None:
    e = registry.register(_experiment("test-registered", lambda ctx: RunOutput({})))
    try:
        assert registry.resolve(["test-registered", "test-registered"]) == [e]
        with pytest.raises(ValueError, match="not yet registered"):
            registry.register(e)
        assert registry.register(e, replace=True) is e
    finally:
        registry.unregister("test-registered")
    assert "test-registered" not in registry.names()


# --- the report -----------------------------------------------------------------------------------------

def test_report_is_self_contained_with_every_section_and_number(tmp_path: Path) -> None:
    broken = _experiment("test-broken2", lambda ctx: (_ for _ in ()).throw(RuntimeError("<boom>")))
    _, data = run_experiments([TINY, broken], out_dir=tmp_path, quick=True, progress=False,
                                    stream=io.StringIO())
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # no external resource of any kind
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    # figures embedded as decodable PNG
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    # one section per experiment, the summary table links to each
    for e in data["experiments"]:
        assert f'<section class="experiment" id="{section_id(e["name"])}"' in page
        assert f'href="#{section_id(e["name"])}"' in page
    # every number of the run, per seed and mean ± std
    tiny = data["experiments"][0]
    for m in tiny["metrics"].values():
        assert f"{format_number(m['mean'])} ± {format_number(m['std'])}" in page
        assert all(format_number(v) in page for v in m["per_seed"])
    assert tiny["verdict"]["reason"] in page.replace("&lt;", "<") and TINY.rule in page
    # HTML in titles, captions and errors is escaped, not interpreted
    assert "&lt;b&gt;(test)&lt;/b&gt;" in page and "<b>(test)</b>" not in page
    assert "&lt;&amp;&gt;" in page and "RuntimeError: &lt;boom&gt;" in page
    assert 'class="badge error"' in page and 'class="badge holds"' in page


def test_render_report_reads_only_results_json(tmp_path: Path) -> None:
    _, data = run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    assert render_report(json.loads((tmp_path / "results.json").read_text()), tmp_path) == \
        (tmp_path / "report.html").read_text()
    data["experiments"][0]["metrics"]["slope_error"]["mean"] = 123456.0  # a number from elsewhere shows up as is
    assert "1.235e+05 ±" in render_report(data, tmp_path)
    (tmp_path / "test-tiny" / "loss.png").unlink()
    with pytest.raises(ValueError, match=r"^figure: expected a PNG file written by the run, got missing"):
        render_report(data, tmp_path)


def test_figures_must_be_written_in_the_runs_folder(tmp_path: Path) -> None:
    from imagelosses.experiments.base import Figure

    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n")
    e = _experiment("test-outside", lambda ctx: RunOutput({"m": 1.0}, figures=[Figure(outside, "x")]))
    (result,), _ = run_experiments([e], out_dir=tmp_path / "run", progress=False, stream=io.StringIO())
    assert result.error is not None and result.error.startswith("ValueError: Figure.path: expected a file written")


def test_a_quick_report_says_its_verdicts_are_not_the_results(tmp_path: Path) -> None:
    _, data = run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    warning = 'id="quick-warning"'
    assert warning in (tmp_path / "report.html").read_text()
    data["config"]["size"] = "full"
    assert warning not in render_report(data, tmp_path)


def test_the_report_and_results_json_show_the_pilot(tmp_path: Path) -> None:
    from dataclasses import replace

    piloted = replace(TINY, name="test-piloted", pilot="seeds 100-102 on training images chose 40 steps")
    _, data = run_experiments([piloted, TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False,
                              stream=io.StringIO())
    assert [e["pilot"] for e in data["experiments"]] == ["seeds 100-102 on training images chose 40 steps", ""]
    page = (tmp_path / "report.html").read_text()
    assert "seeds 100-102 on training images chose 40 steps" in page and "none; the settings are the paper" in page


def test_a_rerun_of_one_experiment_merges_into_the_existing_run(tmp_path: Path) -> None:
    from dataclasses import replace

    other = replace(TINY, name="test-other")
    run_experiments([TINY, other], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    first = json.loads((tmp_path / "results.json").read_text())
    _, data = run_experiments([other], out_dir=tmp_path, quick=True, seeds=2, progress=False, stream=io.StringIO())
    assert [e["name"] for e in data["experiments"]] == ["test-tiny", "test-other"]  # the order of the first run
    kept, rerun = data["experiments"]
    assert kept["seeds"] == [0] and rerun["seeds"] == [0, 1]
    assert kept["created"] == first["created"] and kept["versions"] == first["versions"]
    assert (tmp_path / "test-tiny").is_dir() and (tmp_path / "test-other").is_dir()
    page = (tmp_path / "report.html").read_text()
    assert 'data-experiment="test-tiny"' in page and 'data-experiment="test-other"' in page
    with pytest.raises(ValueError, match=r"^out_dir: expected a new folder or one holding a full run .*, got a "
                                         r"quick run in "):
        run_experiments([TINY], out_dir=tmp_path, quick=False, seeds=1, progress=False, stream=io.StringIO())
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"^out_dir: expected a new folder or one holding an imagelosses run"):
        run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())


def test_without_a_terminal_progress_is_one_line_per_seed(tmp_path: Path) -> None:
    log = io.StringIO()  # not a terminal
    run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=2, stream=log)
    lines = [line for line in log.getvalue().splitlines() if line.startswith("imagelosses: test-tiny: ")]
    assert [line.split(": ", 2)[2].split(" in ")[0] for line in lines] == [
        "seed 0 (1/2) started", "seed 1/2 done", "seed 1 (2/2) started", "seed 2/2 done"]
    assert lines[-1].endswith("; verdict: not decided")


def test_metric_labels_read_as_words_with_units() -> None:
    from imagelosses.experiments.report import metric_label

    # a key no row of METRICS names (a test's own experiment): words, and the unit of a suffix
    assert metric_label("recall1_gain_batch-hard/ci_low") == "Recall@1 gain batch-hard · 95% interval, low end"
    assert metric_label("psnr_y_mse_db") == "PSNR y MSE (dB)"
    assert metric_label("with_cycle/mapping_error") == "with cycle · mapping error"
    # the built-in experiments' keys: a label, the unit and the better direction
    assert metric_label("cpu_time_s") == "CPU time of the seed, one thread (s)"
    assert metric_label("psnr_y_pixel", "pixel-vs-perceptual") == (
        "part B: PSNR-Y (BT.601 luma) of the MSE-trained output, held-out tiles pooled (dB, ↑)")
    assert metric_label("recall1_gain_batch-hard/ci_low", "triplet-mining") == (
        "Recall@1, batch-hard − offline random triplets, paired over queries, 95% interval, low end "
        "(fraction, 0–1, ↑)")
    assert metric_label("topology_betti0_error", "topology") == (
        "part B: |Betti-0 error| (8-connected components), BCE + μ·topology, mean over held-out images "
        "(count per image, ↓)")
    assert metric_label("test_tiles", "pixel-vs-perceptual") == "part B: held-out test tiles (count)"


def test_the_label_table_covers_the_built_in_experiments_and_is_well_formed() -> None:
    """Every built-in experiment has rows; each row's pattern compiles and has a label, a unit and a direction
    from the legend (an emitted key without a row fails the experiment's quick test, tests/experiment_support)."""
    from imagelosses.experiments.report import METRIC_LEGEND, METRICS, metric_meaning

    assert set(METRICS) == set(registry.BUILTIN)
    for name, (_, rows) in METRICS.items():
        for pattern, label, unit, better in rows:
            assert re.compile(pattern).groupindex.keys() <= set(re.findall(r"{(\w+)}", label)), (name, pattern)
            assert label and unit and better in ("↑", "↓", "0 best", ""), (name, pattern)
            assert better == "" or better in METRIC_LEGEND
    assert metric_meaning("no_such_metric", "topology") is None
    assert metric_meaning("psnr_y_pixel", "topology") is None  # one experiment's rows never label another's keys


def test_a_table_title_that_names_its_seed_is_not_repeated(tmp_path: Path) -> None:
    run_experiments([TINY], out_dir=tmp_path, quick=True, seeds=1, progress=False, stream=io.StringIO())
    page = (tmp_path / "report.html").read_text()
    assert "(seed 0) (seed 0)" not in page.lower() and "(this seed) (seed" not in page.lower()


def test_two_jobs_give_the_numbers_of_one(tmp_path: Path) -> None:
    """Two built-in experiments in worker processes give the numbers they give here; a test's own experiment
    (lambdas, not importable by name) runs in this process beside them."""
    chosen = [registry.get("gan-objectives"), TINY, registry.get("cycle-consistency")]
    one, _ = run_experiments(chosen, out_dir=tmp_path / "one", quick=True, seeds=1, progress=False,
                             stream=io.StringIO())
    two, data = run_experiments(chosen, out_dir=tmp_path / "two", quick=True, seeds=1, progress=False,
                                stream=io.StringIO(), jobs=2)
    assert [r.experiment.name for r in two] == ["gan-objectives", "test-tiny", "cycle-consistency"]
    for a, b in zip(one, two, strict=True):
        assert a.values == b.values and a.verdict == b.verdict and b.error is None
    assert [e["status"] for e in data["experiments"]] == ["ok", "ok", "ok"]


def test_every_built_in_experiment_pickles_for_the_worker_processes() -> None:
    """``--jobs`` sends each result (which holds its experiment) back from a worker process by pickle."""
    import pickle

    for name in registry.BUILTIN:
        experiment = registry.get(name)
        assert pickle.loads(pickle.dumps(experiment)).name == name
