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
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._core.checks import fail
from .base import VERDICTS

__all__ = ["METRICS", "METRIC_LEGEND", "MetricRow", "format_number", "metric_label", "metric_meaning",
           "render_report", "section_id"]

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


#: How the parts of a metric key read in the report when no row of :data:`METRICS` names it (a test's own
#: experiment): ``recall1_gain_batch-hard/ci_low`` → "Recall@1 gain batch-hard · 95% interval, low end".
_WORDS = {"ci_low": "95% interval, low end", "ci_high": "95% interval, high end", "recall1": "Recall@1",
          "psnr": "PSNR", "f1": "F1", "hf": "high-frequency", "bce": "BCE", "mse": "MSE", "lr": "learning rate",
          "std": "std", "s": "s", "cpu_time_s": "CPU time (s)",
          "wall_time_s": "wall time (s)", "log10": "log₁₀", "betti0": "Betti-0", "betti1": "Betti-1"}

#: A row of :data:`METRICS`: ``(pattern, label, unit, better)``.
MetricRow = tuple[str, str, str, str]
_01, _FRACTION, _DECADES, _FEATURES = "0–1", "fraction, 0–1", "log10, decades", "VGG16 feature MSE"
#: What every metric key of each built-in experiment means: ``{experiment: ({group value: words}, rows)}``. A row's
#: pattern is a regular expression matched against the whole key (after a trailing ``/ci_low``, ``/ci_high`` or
#: ``/mean`` of a paired bootstrap is taken off); its label is a ``str.format`` template over the pattern's named
#: groups, each value read through the words (or as it is); ``better`` is "↑" (higher is better), "↓" (lower is
#: better; for a difference between arms the arrow points the way the claim predicts) or "" (a count, a setting or
#: a descriptive number). ``tests/experiment_support.py`` fails on a key an experiment emits that no row names.
METRICS: dict[str, tuple[dict[str, str], tuple[MetricRow, ...]]] = {
    "pixel-vs-perceptual": ({"pixel": "MSE-trained output", "perceptual": "perceptual-trained output",
                             "bicubic": "bicubic output", "gt": "ground truth", "l1": "L1",
                             "deep": "relu3_3 and relu4_3 (mean)"}, (
        ("blur_sigma_mean", "part A: σ of the blur with the 1-px shift's MSE, mean over photographs", "px", ""),
        ("shift_closest_(?P<m>.+)", "part A: photographs where {m} puts the 1-px shift closer than blur and noise of "
         "equal MSE", _FRACTION, ""),
        ("log10_(?P<o>blur|noise)_over_shift_(?P<m>.+)", "part A: {m} distance of the {o} over the 1-px shift's (equal "
         "MSE; > 0: the shift ranks closer), mean over photographs", _DECADES, ""),
        ("test_tiles", "part B: held-out test tiles", "count", ""),
        ("psnr_y_(?P<a>bicubic|pixel|perceptual)", "part B: PSNR-Y (BT.601 luma) of the {a}, held-out tiles "
         "pooled", "dB", "↑"),
        ("log10_hf_ratio_(?P<a>bicubic|pixel|perceptual)", "part B: energy above 0.25 cycles/px of the {a} over the "
         "ground truth's (0: the same)", _DECADES, "0 best"),
        ("hf_gap_(?P<a>bicubic|pixel|perceptual)", "part B: high-frequency energy gap |log10(E_out / E_gt)| of the "
         "{a}, mean over tiles", "decades", "↓"),
        (r"(?P<l>relu\d_\d)_(?P<a>bicubic|pixel|perceptual)", "part B: {l} distance of the {a} to the ground truth, "
         "mean over tiles", _FEATURES, "↓"),
        ("lattice_share_(?P<a>bicubic|pixel|perceptual|gt)", "part B: lattice share of the {a} (its energy above 0.25 "
         "cycles/px on the 4-px lattice frequencies)", _FRACTION, "↓"),
        ("lattice_limit", "part B: the lattice guard's limit (2 × max(ground truth, bicubic) + 0.01)", _FRACTION, ""),
        ("lattice_guard", "part B: lattice guard passed by both trained outputs", "1 yes, 0 no", "↑"),
        ("psnr_tile_drop", "part B: per-tile PSNR-Y, MSE-trained − perceptual-trained, mean over tiles", "dB", "↑"),
        ("psnr_drop_pooled", "part B: PSNR-Y, MSE-trained − perceptual-trained, tiles pooled (rule a)", "dB", "↑"),
        ("hf_gap_advantage", "part B: high-frequency energy gap, MSE-trained − perceptual-trained, per tile (rule b)",
         "decades", "↑"),
        (r"(?P<l>relu\d_\d)_advantage", "part B: {l} distance, MSE-trained − perceptual-trained, per tile", _FEATURES,
         "↑"),
        ("relu2_2_perceptual_lower_fraction", "part B: tiles where the perceptual-trained output's relu2_2 distance is "
         "lower", _FRACTION, "↑"),
    )),
    "restoration": ({"input": "bilinear input", "l2": "L2 net", "l1": "L1 net", "ssim": "SSIM net",
                     "msssim": "MS-SSIM net", "mix": "Mix net", "l2_l2": "L2 net continued with L2",
                     "l2_l1": "L2 net switched to L1"}, (
        (r"psnr_(?P<a>\w+)", "PSNR of the {a} on the held-out photographs, mean over 64-px tiles", "dB", "↑"),
        (r"ssim_(?P<a>\w+)", "SSIM of the {a} on the held-out photographs, mean over 64-px tiles", _01, "↑"),
        (r"msssim_(?P<a>\w+)", "MS-SSIM of the {a} on the held-out photographs, mean over 176-px tiles", _01, "↑"),
        (r"colour_shift_(?P<a>\w+)", "colour shift of the {a}: mean |channel mean − the ground truth's|",
         "intensity, 0–1", "↓"),
        ("l1_minus_l2_psnr", "PSNR, L1 net − L2 net, per tile (claim 1)", "dB", "↑"),
        ("switch_gain_psnr", "PSNR, L2 net switched to L1 − continued with L2, per tile (claim 3)", "dB", "↑"),
        ("mix_minus_best_psnr", "PSNR, Mix net − the best other net, per tile (claim 2)", "dB", "↑"),
        ("mix_minus_best_ssim", "SSIM, Mix net − the best other net, per tile (claim 2)", _01, "↑"),
        ("mix_minus_best_msssim", "MS-SSIM, Mix net − the best other net, per tile (claim 2)", _01, "↑"),
        ("test_tiles_small", "held-out 64-px tiles (PSNR, SSIM)", "count", ""),
        ("test_tiles_large", "held-out 176-px tiles (MS-SSIM)", "count", ""),
    )),
    "class-imbalance": ({"plain": "plain CE", "weighted": "class-weighted CE", "border": "border-weighted CE",
                         "iou_fg": "IoU of the foreground", "iou_bg": "IoU of the background",
                         "recall_fg": "foreground recall", "precision_fg": "foreground precision",
                         "f1_fg": "foreground F1"}, (
        ("foreground_fraction", "foreground share of the training pixels", _FRACTION, ""),
        ("test_images", "held-out test images", "count", ""),
        ("touching_pairs_test", "touching cell pairs in the held-out images", "count", ""),
        (r"(?P<m>iou_fg|iou_bg|recall_fg|precision_fg|f1_fg)_(?P<a>\w+)", "{m}, {a}, held-out pixels pooled", _01,
         "↑"),
        ("separated_(?P<a>plain|weighted|border)", "touching pairs separated by {a}", _FRACTION, "↑"),
        (r"(?P<o>merged|missed)_(?P<a>\w+)", "touching pairs {o} by {a}", _FRACTION, "↓"),
        ("recall_gain_weighted", "foreground recall per image, class-weighted − plain CE (claim 1)", _01, "↑"),
        ("separated_gain_border", "touching pairs separated, border-weighted − class-weighted (claim 2)", _FRACTION,
         "↑"),
        ("separated_gain_border_vs_plain", "touching pairs separated, border-weighted − plain CE", _FRACTION, "↑"),
        ("precision_change_weighted", "foreground precision, class-weighted − plain CE", _01, "↑"),
        ("f1_drop_weighted", "foreground F1, plain − class-weighted CE (guard: at most 0.10)", _01, "↓"),
        ("f1_drop_border", "foreground F1, class-weighted − border-weighted CE (guard: at most 0.10)", _01, "↓"),
    )),
    "overlap-losses": ({"ce": "CE", "weighted": "class-weighted CE", "dice": "Dice loss",
                        "gdice": "generalized Dice loss", "tversky": "Tversky loss"}, (
        ("foreground_fraction", "foreground share of the training pixels", _FRACTION, ""),
        ("foreground_fraction_test", "foreground share of the held-out pixels", _FRACTION, ""),
        ("test_images", "held-out test images", "count", ""),
        ("dice_all_(?P<c>background|foreground)", "Dice of predicting all {c} (the trivial predictor)", _01, ""),
        ("dice_(?P<a>ce|weighted|dice|gdice|tversky)", "foreground Dice, {a}, mean per held-out image", _01, "↑"),
        ("recall_(?P<a>ce|weighted|dice|gdice|tversky)", "foreground recall, {a}, mean per held-out image", _01,
         "↑"),
        (r"precision_pooled_(?P<a>\w+)", "foreground precision, {a}, held-out pixels pooled", _01, "↑"),
        (r"recall_pooled_(?P<a>\w+)", "foreground recall, {a}, held-out pixels pooled", _01, "↑"),
        (r"predicted_fraction_(?P<a>\w+)", "pixels predicted foreground by {a}", _FRACTION, ""),
        (r"dice_gain_(?P<a>\w+)", "foreground Dice per image, {a} − CE (claim 1)", _01, "↑"),
        ("recall_gain_tversky", "foreground recall per image, Tversky − Dice loss (claim 2)", _01, "↑"),
        ("precision_drop_tversky", "foreground precision, Dice − Tversky loss, pixels pooled", _01, "↓"),
    )),
    "triplet-mining": ({"offline-random": "offline random triplets", "start": "first", "end": "last"}, (
        ("recall1_(?P<x>raw|standardised)_pixels", "Recall@1 of the {x} pixels, no training (difficulty guard)",
         _FRACTION, ""),
        ("(?P<x>train|test)_identities", "{x} identities", "count", ""),
        ("recall1_(?P<a>offline-random|batch-hard|batch-all|semi-hard)", "Recall@1 of {a} on the held-out "
         "identities after the last step", _FRACTION, "↑"),
        (r"recall1_mean_over_training_(?P<a>[\w-]+)", "Recall@1 of {a}, mean over the checkpoints", _FRACTION, "↑"),
        (r"active_(?P<w>start|end)_(?P<a>[\w-]+)", "{a}: triplets with a non-zero hinge in the {w} 10 % of steps",
         _FRACTION, ""),
        (r"recall1_gain_(?P<a>[\w-]+)", "Recall@1, {a} − offline random triplets, paired over queries",
         _FRACTION, "↑"),
    )),
    "topology": ({"bce": "BCE", "topology": "BCE + μ·topology"}, (
        ("partA_removed_pixels", "part A: pixels removed per curve (the break and the notch alike)", "px", ""),
        ("partA_equal_counts", "part A: curves whose notch removes as many pixels as the break", _FRACTION, "↑"),
        ("partA_topology_ratio_median", "part A: topology loss of the break over the notch's, median over curves", "×",
         "↑"),
        ("partA_bce_ratio_median", "part A: any pixel loss of the break over the notch's (1 by construction)", "×", ""),
        (r"partA_blur(?P<s>[\d.]+)_ratio_median", "part A: blurred MSE (σ = {s} px) of the break over the notch's, "
         "median", "×", ""),
        (r"partA_gain_blur(?P<s>[\d.]+)", "part A: log(topology ratio) − log(blurred-MSE ratio, σ = {s} px), mean over "
         "curves", "natural log", "↑"),
        (r"partA_frac_blur(?P<s>[\d.]+)", "part A: curves where the topology ratio beats the blurred-MSE one (σ = {s} "
         "px)", _FRACTION, "↑"),
        ("mu", "part B: μ, the topology term's weight", "weight", ""),
        ("mu_log10", "part B: log10 μ", "decades", ""),
        *(row for score, label, unit, better in (
            ("completeness", "completeness (centre lines, 2 px tolerance)", _01, "↑"),
            ("correctness", "correctness (centre lines, 2 px tolerance)", _01, "↑"),
            ("quality", "quality (centre lines, 2 px tolerance)", _01, "↑"),
            ("betti0_error", "|Betti-0 error| (8-connected components)", "count per image", "↓"),
            ("betti1_error", "|Betti-1 error| (holes)", "count per image", "↓"),
            ("breaks", "breaks (extra predicted pieces per true structure)", "count per image", "↓"),
            ("spurious", "spurious components (touching no true pixel)", "count per image", "↓"),
            ("cldice", "clDice", _01, "↑"), ("pixel_f1", "pixel F1", _01, "↑"))
          for row in ((f"(?P<a>bce|topology)_{score}", f"part B: {label}, {{a}}, mean over held-out images", unit,
                       better),
                      (f"topology_minus_bce_{score}", f"part B: {label}, topology − BCE, paired per held-out image",
                       unit, better))),
        ("(?P<a>bce|topology)_occluded_recall", "part B: recall under the occluders, {a}, pixels pooled", _01, "↑"),
        ("topology_minus_bce_occluded_recall", "part B: recall under the occluders, topology − BCE, pixels pooled", _01,
         "↑"),
    )),
    "gan-objectives": ({"nonsaturating": "non-saturating", "lsgan": "LSGAN", "low": "95% interval, low end",
                        "high": "95% interval, high end", "mean": "mean"}, (
        (r"probe/grad_(?P<k>\w+)", "probe: ‖∇G‖ of the {k} loss at G₀ against D₀", "gradient norm", ""),
        ("probe/ratio", "probe: ‖∇G‖ non-saturating over minimax", "×", "↑"),
        ("probe/D_on_fake", "probe: D₀'s mean probability on G₀'s samples (guard: D₀ rejects them)", _01, "↓"),
        ("probe/D_on_real", "probe: D₀'s mean probability on real samples", _01, "↑"),
        ("early/dist_start", "early: distance of G₀'s samples to their nearest mode", "data units", ""),
        ("early/energy_start", "early: energy distance of G₀'s samples to real ones", "data units", ""),
        (r"early/progress_(?P<k>\w+)", "early: progress toward the ring, {k}", "data units", "↑"),
        (r"early/dist_end_(?P<k>\w+)", "early: distance to the nearest mode at the last early step, {k}",
         "data units", "↓"),
        (r"early/energy_end_(?P<k>\w+)", "early: energy distance to real samples at the last early step, {k}",
         "data units", "↓"),
        (r"early/grad_(?P<k>\w+)", "early: ‖∇G‖ per step, {k}, mean", "gradient norm", ""),
        ("early/diff_(?P<x>mean|low|high)", "early: progress, non-saturating − minimax, paired over noise vectors, "
         "{x}", "data units", "↑"),
        (r"coverage/(?P<o>\w+)/modes", "coverage: ring modes covered, {o} (Adam)", "of 8", "↑"),
        (r"coverage/(?P<o>\w+)/hq", "coverage: high-quality samples (within 3σ of a mode), {o}", _FRACTION, "↑"),
    )),
    "cycle-consistency": ({"with_cycle": "with the cycle loss", "without_cycle": "without the cycle loss",
                           "mlp_with_cycle": "MLP generators with the cycle loss"}, (
        ("oracle_accuracy", "classifier accuracy on the true translations T(a) (the oracle)", _FRACTION, ""),
        (r"(?P<a>\w+)/accuracy", "mapping accuracy of G(a), {a}", _FRACTION, "↑"),
        (r"(?P<a>\w+)/best_permutation_accuracy", "best-permutation accuracy of G(a), {a} (guard)", _FRACTION, ""),
        (r"(?P<a>\w+)/mapping_error", "mapping error mean |G(a) − T(a)|, {a}", "intensity, 0–1", "↓"),
        (r"(?P<a>\w+)/reconstruction_error", "reconstruction error mean |F(G(a)) − a|, {a}", "intensity, 0–1",
         "↓"),
        (r"(?P<a>\w+)/diversity", "output diversity, {a} (1: as varied as T(a), 0: one output)", "ratio", "↑"),
        ("mapping_error_gain", "mapping error, without − with the cycle loss, paired over digits", "intensity, 0–1",
         "↑"),
    )),
    "style-texture": ({"vs_other": "synthesis − the nearest other texture",
                       "vs_noise": "synthesis − uniform white noise",
                       "vs_real": "synthesis − the seen real crop", "chroma": "the synthesis",
                       "chroma_start": "the noise start", "chroma_source": "the seen source crop",
                       "ncc_synthesis": "the syntheses", "ncc_stylised": "the stylised results (largest balance)",
                       "ncc_shifted_copy": "a shifted copy (reference, ≈ 1)",
                       "ncc_unseen_crop": "real unseen crops (reference)"}, (
        ("texture/(?P<t>[a-z]+)/(?P<m>vs_other|vs_noise|vs_real)", "texture {t}: {m}, log10 Gram distance to unseen "
         "crops (held-out layers)", "decades", "↓"),
        ("texture/(?P<m>vs_other|vs_noise|vs_real)", "all textures: {m}, log10 Gram distance to unseen crops "
         "(held-out layers)", "decades", "↓"),
        ("texture/(?P<t>[a-z]+)/optimised_drop", "texture {t}: change of the loss L-BFGS minimised (seen crop)",
         "decades", "↓"),
        ("texture/optimised_drop", "all textures: change of the loss L-BFGS minimised (seen crop)", "decades", "↓"),
        ("texture/(?P<t>[a-z]+)/ncc", "texture {t}: copy measure of the synthesis with the seen crop (guard)",
         "max correlation", "↓"),
        ("texture/(?P<t>[a-z]+)/ncc_unseen", "texture {t}: copy measure of real unseen crops with the seen crop",
         "max correlation", ""),
        ("texture/(?P<t>[a-z]+)/(?P<m>chroma|chroma_start|chroma_source)", "texture {t}: mean chroma of {m}",
         "max − min over RGB, 0–255", ""),
        ("texture/(?P<m>chroma|chroma_start|chroma_source)", "all textures: mean chroma of {m}",
         "max − min over RGB, 0–255", ""),
        ("texture/(?P<t>[a-z]+)/detail", "texture {t}: fine detail of the synthesis relative to the seen crop's",
         "ratio of neighbour-pixel energies, 1 best", ""),
        ("texture/detail", "all textures: fine detail of the syntheses relative to the seen crops'",
         "ratio of neighbour-pixel energies, 1 best", ""),
        ("texture/(?P<t>[a-z]+)/histogram", "texture {t}: per-channel histogram distance of the synthesis to the "
         "seen crop", "total variation distance, 0–1", "↓"),
        ("texture/histogram", "all textures: per-channel histogram distance of the syntheses to the seen crops",
         "total variation distance, 0–1", "↓"),
        ("trade/(?P<c>[a-z]+)_(?P<s>[a-z]+)/detail", "trade-off {c} × {s}: fine detail at the largest balance "
         "relative to the photograph's", "ratio of neighbour-pixel energies", ""),
        (r"trade/(?P<c>[a-z]+)_(?P<s>[a-z]+)/b(?P<b>[\d.e+]+)/gram", "trade-off {c} × {s}, balance {b}: log10 Gram "
         "distance to unseen style crops (lower: closer to the style)", _DECADES, ""),
        (r"trade/(?P<c>[a-z]+)_(?P<s>[a-z]+)/b(?P<b>[\d.e+]+)/content", "trade-off {c} × {s}, balance {b}: log10 "
         "content distance to the photograph (lower: closer to it)", _DECADES, ""),
        ("trade/(?P<c>[a-z]+)_(?P<s>[a-z]+)/chroma", "trade-off {c} × {s}: mean chroma at the largest balance",
         "max − min over RGB, 0–255", ""),
        ("trade/style", "trade-off: largest − smallest balance, log10 Gram distance to unseen style crops",
         "decades", "↓"),
        ("trade/content", "trade-off: largest − smallest balance, log10 content distance to the photograph",
         "decades", "↑"),
        ("guard/(?P<w>ncc_synthesis|ncc_stylised)", "copy measure of {w} with the seen crop, largest",
         "max correlation", "↓"),
        ("guard/(?P<w>ncc_shifted_copy|ncc_unseen_crop)", "copy measure of {w}", "max correlation", ""),
    )),
}
#: Rows every experiment shares.
_COMMON: tuple[MetricRow, ...] = (("cpu_time_s", "CPU time of the seed, one thread", "s", ""),)
_BOOTSTRAP = {"ci_low": ", 95% interval, low end", "ci_high": ", 95% interval, high end", "mean": ""}


def metric_meaning(key: str, experiment: str) -> tuple[str, str, str] | None:
    """``(label, unit, better)`` of ``experiment``'s metric ``key`` from :data:`METRICS`, or None where no row
    names it."""
    base, _, end = key.rpartition("/")
    suffix = _BOOTSTRAP.get(end) if base else None
    if suffix is None:
        base, suffix = key, ""
    words, rows = METRICS.get(experiment, ({}, ()))
    for pattern, label, unit, better in (*rows, *_COMMON):
        match = re.fullmatch(pattern, base)
        if match:
            groups = {k: words.get(v, v) for k, v in match.groupdict().items()}
            return " ".join(label.format(**groups).split()) + suffix, unit, better
    return None


def metric_label(key: str, experiment: str = "") -> str:
    """The label of a metric key in the report: from :data:`METRICS` "label (unit, ↑)" where a row names the key;
    else words instead of snake_case, ``/`` as " · ", known abbreviations spelled out, units kept from a trailing
    ``_s`` (seconds), ``_db`` (dB) or ``_px`` (pixels)."""
    meaning = metric_meaning(key, experiment)
    if meaning is not None:
        label, unit, better = meaning
        return f"{label} ({unit}{', ' + better if better else ''})"
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


#: Above each table of metrics: how to read a label.
METRIC_LEGEND = ("Each label ends with its unit and, for a score, the better direction: ↑ higher is better, ↓ lower "
                 "is better (for a difference between two arms, the way the claim predicts), \"0 best\" nearest 0 is "
                 "best; no arrow: a count, a setting or a descriptive number.")


def _metrics(metrics: Mapping[str, Any], seeds: Sequence[int], experiment: str) -> str:
    if not metrics:
        return "<p>No metrics were recorded.</p>"
    rows: list[list[Any]] = [["metric", "mean ± std over seeds", *[f"seed {s}" for s in seeds]]]
    for name, m in metrics.items():
        spread = f"{format_number(m.get('mean'))} ± {format_number(m.get('std'))}" if "mean" in m else "n/a"
        rows.append([metric_label(name, experiment), spread, *m["per_seed"]])
    return f'<p class="legend">{_e(METRIC_LEGEND)}</p>' + _table(rows)


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
    parts += ["<h3>Measured</h3>", _metrics(experiment["metrics"], experiment["seeds"], name)]
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
