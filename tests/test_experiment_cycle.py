"""The cycle-consistency experiment: its quick run, its data, its networks, its measures and its verdict rule."""

from __future__ import annotations

import itertools

import pytest
import torch

from imagelosses.experiments import cycle_consistency as cyc
from imagelosses.experiments.base import paired_bootstrap

from .experiment_support import run_quick, summary

GAIN_KEYS = ("mapping_error_gain/mean", "mapping_error_gain/ci_low", "mapping_error_gain/ci_high")


def test_quick_run_end_to_end(tmp_path):
    exp = cyc.EXPERIMENT
    out = run_quick(exp, tmp_path)
    assert exp.quick.keys() == exp.full.keys()
    for key in GAIN_KEYS:  # the per-seed bootstrap interval of the gain is stored
        assert key in out.metrics
    m = out.metrics
    assert m["mapping_error_gain/ci_low"] <= m["mapping_error_gain/mean"] <= m["mapping_error_gain/ci_high"]
    assert m["mapping_error_gain/mean"] == pytest.approx(
        m["without_cycle/mapping_error"] - m["with_cycle/mapping_error"], abs=1e-6)
    for arm in cyc.ARMS:
        assert m[f"{arm}/accuracy"] <= m[f"{arm}/best_permutation_accuracy"] + 1e-12
    assert exp.verdict(summary(**{k: [v] for k, v in out.metrics.items()})).label in (
        "holds", "does not hold at this scale")
    assert len(out.tables) == 2
    assert exp.pilot and exp.setup and exp.rule


@pytest.mark.parametrize("size", [8, 16])
def test_domains_are_unpaired_and_b_is_the_inverted_digits(size):
    from sklearn.datasets import load_digits

    data = cyc.load_domains(0, size)
    parts = [set(data[f"index_{k}"].tolist()) for k in ("a", "b", "clf", "test")]
    for p, q in itertools.combinations(parts, 2):
        assert not p & q  # four disjoint sets of digits: no (a, T(a)) pair in training, held-out test digits
    assert sum(map(len, parts)) >= 4 * (len(load_digits().images) // 4)
    a, b = data["train_a"], data["train_b"]
    assert a.shape[1:] == b.shape[1:] == (1, size, size) and 0 <= float(a.min()) and float(a.max()) <= 1
    # B, the classifier's images and the test digits are the digits at their indices; B and the classifier's
    # images are T of them, and T is the pixel-wise inversion the docstring states, its own inverse
    raw = torch.tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        raw = torch.nn.functional.interpolate(raw, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    assert torch.equal(a, raw[data["index_a"]]) and torch.equal(data["test_a"], raw[data["index_test"]])
    assert torch.equal(b, 1.0 - raw[data["index_b"]]) and torch.equal(data["clf_b"], 1.0 - raw[data["index_clf"]])
    assert torch.equal(data["test_labels"], torch.tensor(load_digits().target)[data["index_test"]])
    assert torch.equal(cyc.true_mapping(a), 1.0 - a)
    assert torch.equal(cyc.true_mapping(cyc.true_mapping(a)), a)
    # no B training image is T of an A training image (the digits set has no duplicate image)
    assert float(torch.cdist(cyc.true_mapping(a).flatten(1), b.flatten(1)).min()) > 0


def test_generator_starts_grey_and_discriminator_scores_patches():
    torch.manual_seed(0)
    g = cyc.ConvGenerator(8)
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape and float((y - 0.5).abs().max()) < 0.01
    assert cyc.patch_discriminator(8)(x).shape == (2, 1, 2, 2)
    assert cyc.patch_discriminator(8)(torch.rand(2, 1, 16, 16)).shape == (2, 1, 4, 4)


def _naive_best_permutation(predicted: list[int], labels: list[int], n: int) -> float:
    best = 0
    for perm in itertools.permutations(range(n)):
        best = max(best, sum(perm[p] == t for p, t in zip(predicted, labels, strict=True)))
    return best / len(labels)


def test_best_permutation_accuracy_against_brute_force():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        labels = torch.randint(0, 5, (40,), generator=g)
        predicted = torch.randint(0, 5, (40,), generator=g)
        assert cyc.best_permutation_accuracy(predicted, labels, 5) == pytest.approx(
            _naive_best_permutation(predicted.tolist(), labels.tolist(), 5))
    labels = torch.arange(10).repeat(3)
    shifted = (labels + 1) % 10  # every digit sent consistently to the next class
    assert float((shifted == labels).float().mean()) == 0.0
    assert cyc.best_permutation_accuracy(shifted, labels) == 1.0
    assert cyc.best_permutation_accuracy(labels, labels) == 1.0


def test_evaluate_measures_against_a_naive_computation():
    data = cyc.load_domains(0)
    data = {**data, "test_a": data["test_a"][:12], "test_labels": data["test_labels"][:12]}
    torch.manual_seed(0)
    g, f = cyc.ConvGenerator(4), cyc.ConvGenerator(4)

    class Fixed:  # a classifier that answers "3" for everything
        def predict(self, x):
            return torch.full((len(x),), 3).numpy()

    measures, per_digit = cyc.evaluate(g, f, data, Fixed())
    a = data["test_a"]
    with torch.no_grad():
        out = g(a)
        rec = f(out)
    naive = [sum(abs(float(out[i, 0, y, x]) - (1 - float(a[i, 0, y, x]))) for y in range(8) for x in range(8)) / 64
             for i in range(len(a))]
    assert per_digit.tolist() == pytest.approx(naive, abs=1e-6)
    assert measures["mapping_error"] == pytest.approx(sum(naive) / len(naive), abs=1e-6)
    assert measures["reconstruction_error"] == pytest.approx(float((rec - a).abs().mean()), abs=1e-6)
    assert measures["accuracy"] == pytest.approx(float((data["test_labels"] == 3).float().mean()))
    labels = data["test_labels"].tolist()
    assert measures["best_permutation_accuracy"] == pytest.approx(max(labels.count(c) for c in set(labels)) / 12)


def _good(n: int = 3, **override: list[float]) -> dict[str, list[float]]:
    values = {"with_cycle/mapping_error": [0.03, 0.035, 0.032], "without_cycle/mapping_error": [0.12, 0.08, 0.1],
              "mapping_error_gain/mean": [0.09, 0.045, 0.068], "mapping_error_gain/ci_low": [0.085, 0.04, 0.06],
              "mapping_error_gain/ci_high": [0.095, 0.05, 0.075], "with_cycle/accuracy": [0.94, 0.95, 0.93],
              "without_cycle/accuracy": [0.7, 0.8, 0.75], "oracle_accuracy": [0.95, 0.96, 0.95]}
    values.update(override)
    return {k: v[:n] for k, v in values.items()}


def _swapped(values: dict[str, list[float]]) -> dict[str, list[float]]:
    out = dict(values)
    for key in ("mapping_error", "accuracy"):
        out[f"with_cycle/{key}"], out[f"without_cycle/{key}"] = values[f"without_cycle/{key}"], values[
            f"with_cycle/{key}"]
    out["mapping_error_gain/mean"] = [-x for x in values["mapping_error_gain/mean"]]
    out["mapping_error_gain/ci_low"] = [-x for x in values["mapping_error_gain/ci_high"]]
    out["mapping_error_gain/ci_high"] = [-x for x in values["mapping_error_gain/ci_low"]]
    return out


def test_cycle_verdict_rule_holds_on_a_good_summary():
    v = cyc.verdict(summary(**_good()))
    assert v.label == "holds"
    assert "0.0300 vs 0.1200" in v.reason and "[0.0850, 0.0950]" in v.reason
    # the guards are reported in the reason and do not enter the rule
    guards = {"with_cycle/best_permutation_accuracy": [0.94, 0.95, 0.93],
              "without_cycle/best_permutation_accuracy": [0.7, 0.8, 0.75], "with_cycle/diversity": [1.0, 1.0, 1.0],
              "without_cycle/diversity": [0.2, 0.3, 0.1], "mlp_with_cycle/accuracy": [0.05, 0.08, 0.09],
              "mlp_with_cycle/best_permutation_accuracy": [0.66, 0.52, 0.5]}
    with_guards = cyc.verdict(summary(**_good(), **guards))
    assert with_guards.label == "holds"
    assert "best-permutation accuracy with 0.940" in with_guards.reason and "with 1.00, without 0.20" in (
        with_guards.reason) and "MLP generators" in with_guards.reason and "0.560" in with_guards.reason


def test_cycle_verdict_rule_fails_on_null_summaries():
    good = _good()
    swapped = cyc.verdict(summary(**_swapped(good)))
    assert swapped.label == "does not hold at this scale"
    equal = dict(good, **{"without_cycle/mapping_error": good["with_cycle/mapping_error"],
                          "without_cycle/accuracy": good["with_cycle/accuracy"],
                          "mapping_error_gain/mean": [0.0] * 3, "mapping_error_gain/ci_low": [-0.004] * 3,
                          "mapping_error_gain/ci_high": [0.004] * 3})
    assert cyc.verdict(summary(**equal)).label == "does not hold at this scale"
    # each condition alone can fail the rule, in one seed
    for override in ({"mapping_error_gain/ci_low": [0.085, -0.001, 0.06]},  # interval touches 0 in one seed
                     {"with_cycle/mapping_error": [0.03, 0.09, 0.032]},  # not lower in one seed
                     {"with_cycle/accuracy": [0.94, 0.85, 0.93]}):  # 0.85 / 0.96 < 0.9 of the oracle
        assert cyc.verdict(summary(**_good(**override))).label == "does not hold at this scale"
    # the rule never reads "inconclusive"
    assert {cyc.verdict(summary(**s)).label for s in (good, _swapped(good), equal)} <= {
        "holds", "does not hold at this scale"}


def test_the_stored_interval_is_the_paired_bootstrap_of_the_per_digit_errors():
    with_err = torch.tensor([0.03, 0.04, 0.02, 0.05, 0.03])
    without_err = torch.tensor([0.1, 0.08, 0.12, 0.07, 0.09])
    gain = paired_bootstrap(without_err, with_err, resamples=cyc.RESAMPLES, level=cyc.LEVEL, seed=0)
    assert gain.mean == pytest.approx(float((without_err - with_err).mean()))
    assert gain.low > 0


def test_output_diversity_is_zero_for_collapse_and_one_for_the_reference():
    a = cyc.load_domains(0)["test_a"][:40]
    t = cyc.true_mapping(a)
    assert cyc.output_diversity(t, t) == pytest.approx(1.0)
    assert cyc.output_diversity(t[:1].expand_as(t), t) == 0.0
    # a naive double loop over pairs
    flat, ref = t.flatten(1)[:6], a.flatten(1)[:6]
    pairs = [(i, j) for i in range(6) for j in range(6) if i != j]
    naive = sum(float((flat[i] - flat[j]).abs().mean()) for i, j in pairs) / sum(
        float((ref[i] - ref[j]).abs().mean()) for i, j in pairs)
    assert cyc.output_diversity(t[:6], a[:6]) == pytest.approx(naive, rel=1e-5)
