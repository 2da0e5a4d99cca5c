"""Topology-aware segmentation losses: a ``TopologyAwareLoss`` training step against its hand-written lower
bound, and soft clDice against MONAI's, side by side in one process on the same inputs.

1. ``TopologyAwareLoss`` (BCE from logits + μ·topology on the Oxford VGG16 conv1_2, conv2_2, conv3_3; the
   offline analogue of Mosinska et al.'s VGG19 layers), forward + backward for logits that require grad and
   a fixed mask. The lower bound is the least work the math needs, written inline: one truncated VGG pass
   on ``sigmoid(logits)`` with grad, one on the mask without grad (both channels-last, as ``VGGFeatures``
   runs), the per-layer mean squared differences, BCE, backward. Target: ours ≤ 1.15 × the lower bound.
2. Soft Dice + clDice (α = 0.5, 3 skeleton iterations, smoothing 1, ε = 1e-4 in the harmonic mean as MONAI),
   forward + backward from logits: ``imagelosses.SoftClDiceLoss`` against ``monai.losses.SoftDiceclDiceLoss``
   (sigmoid=True), 2-D and 3-D. Target: ours no slower than MONAI's.

Every pair computes the same value (checked before timing). Run: ``python benchmarks/bench_topology.py
[--quick]``; method in benchmarks/README.md. Writes results/topology.{json,md} and results/cldice.{json,md}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from benchmarks._common import Row, quick_flag, seed_all, timed_rows, with_ratios, write
from imagelosses.backbones import VGGFeatures
from imagelosses.losses.cldice import SoftClDiceLoss
from imagelosses.losses.topology import MOSINSKA_LAYERS, TopologyAwareLoss

LAYERS = MOSINSKA_LAYERS["vgg16"]
MU = 1e-6
OURS = "imagelosses TopologyAwareLoss"
LOWER = "lower bound (hand-written)"
OURS_CL = "imagelosses SoftClDiceLoss"
MONAI = "monai SoftDiceclDiceLoss"


def topology_rows(vgg: VGGFeatures, shape: tuple[int, int, int, int], repeats: int, rounds: int) -> list[Row]:
    seed_all(0)
    logits = torch.randn(*shape, requires_grad=True)
    mask = (torch.rand(*shape) > 0.9).float()
    ours = TopologyAwareLoss(extractor=vgg, mu=MU)
    names = vgg.available_layers
    taps = {names.index(k): k for k in LAYERS}
    last = max(taps)

    def run(img: Tensor) -> dict[str, Tensor]:
        h = img.expand(-1, 3, -1, -1)  # a grey map: Caffe's BGR flip changes nothing
        h = ((h - vgg.mean) / vgg.std).contiguous(memory_format=torch.channels_last)
        out = {}
        for i in range(last + 1):
            h = vgg.features[i](h)
            if i in taps:
                out[taps[i]] = h
        return out

    def lower() -> Tensor:
        fx = run(torch.sigmoid(logits))
        with torch.no_grad():
            fy = run(mask)
        topo = sum((fx[k] - fy[k]).square().mean(dim=(1, 2, 3)) for k in LAYERS).mean()
        return F.binary_cross_entropy_with_logits(logits, mask) + MU * topo

    case = "×".join(map(str, shape)) + ", fwd+bwd"
    return timed_rows("topology", case, {LOWER: lower, OURS: lambda: ours(logits, mask)}, logits, repeats=repeats,
                      rounds=rounds)


def cldice_rows(shape: tuple[int, ...], repeats: int, rounds: int) -> list[Row]:
    from monai.losses import SoftDiceclDiceLoss

    seed_all(0)
    logits = torch.randn(*shape, requires_grad=True)
    mask = (torch.rand(*shape) > 0.8).float()
    ours = SoftClDiceLoss(iterations=3, alpha=0.5, smooth=1.0, eps=1e-4)
    monai = SoftDiceclDiceLoss(iter_=3, alpha=0.5, smooth_nr=1.0, smooth_dr=1.0, smooth=1e-4, sigmoid=True)
    case = "×".join(map(str, shape)) + ", fwd+bwd"
    return timed_rows("cldice", case, {MONAI: lambda: monai(logits, mask), OURS_CL: lambda: ours(logits, mask)},
                      logits, repeats=repeats, rounds=rounds)


def _ratio_notes(rows: list[Row], ours: str, base: str, label: str) -> str:
    by_case: dict[str, dict[str, float]] = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r.seconds
    return "\n".join(f"- {case}: ours / {label} = {t[ours] / t[base]:.3f}" for case, t in by_case.items())


def main(argv: list[str] | None = None) -> None:
    quick = quick_flag(__doc__, argv, "fewer repeats")
    repeats, rounds = (3, 1) if quick else (5, 3)
    vgg = VGGFeatures("vgg16", LAYERS, weights="oxford")
    rows = with_ratios([row for shape in [(4, 1, 128, 128), (8, 1, 64, 64)]
                        for row in topology_rows(vgg, shape, repeats, rounds)], LOWER)
    notes = _ratio_notes(rows, OURS, LOWER, "lower bound")
    notes += ("\n- Both rows compute the same value (checked). The lower bound runs the truncated Oxford VGG16 once on "
              "sigmoid(logits) with grad and once on the mask without, channels-last, with no input checks; ours "
              "adds the checks (one range pass over the mask, the shape and receptive-field checks). Target: "
              f"≤ 1.15. CPU threads: {torch.get_num_threads()}.")
    print(write("topology", rows, "TopologyAwareLoss (BCE + μ·topology, Oxford VGG16 conv1_2/conv2_2/conv3_3), CPU",
                LOWER, notes))
    cl_rows = with_ratios([row for shape in [(8, 1, 128, 128), (2, 1, 32, 64, 64)]
                           for row in cldice_rows(shape, repeats, rounds)], MONAI)
    cl_notes = _ratio_notes(cl_rows, OURS_CL, MONAI, "MONAI")
    cl_notes += ("\n- Same value (checked): α = 0.5, k = 3, smoothing 1, ε = 1e-4. Ours computes each soft erosion "
                 "once (MONAI's soft_skel erodes every map twice: once to step, once inside the opening), skips "
                 "autograd for the target's skeleton, and checks the target's range. CPU threads: "
                 f"{torch.get_num_threads()}.")
    print(write("cldice", cl_rows, "Soft Dice + clDice from logits (α = 0.5, k = 3), CPU", MONAI, cl_notes))


if __name__ == "__main__":
    main()
