"""Perceptual + style training step: imagelosses' one-pass CombinedFeatureLoss against piq's ContentLoss +
StyleLoss and a hand-written lower bound, all on the real Oxford VGG16 weights (``weights="oxford"``).

The step is forward + backward of ``perceptual(relu2_2) + 1e3 · style(relu1_2, relu2_2, relu3_3, relu4_3)``
(Johnson et al.), for a prediction that requires grad and a fixed target:

- ``imagelosses CombinedFeatureLoss``: one backbone pass on the prediction (with grad), one on the target
  (no grad), both terms read the shared feature dicts.
- ``piq ContentLoss + StyleLoss``: piq 0.8 on the same weights and layers (torchvision layout, in-place
  ReLUs, Caffe's BGR order folded into conv1_1 since piq only normalises RGB), once given our truncated
  network (generous: piq itself never truncates) and once given the full ``vgg16().features`` (what piq
  runs when asked for ``"vgg16"``); its layer weights (1/C for content, 1/(HW)² per style layer) undo its
  different normalisations so every row computes the same number, which is checked before timing. piq
  runs the network on both images once per loss: four passes, two of them with grad.
- ``lower bound (hand-written)``: the truncated network run once on each image inline, the two terms in
  a few tensor ops, backward — what a careful user writes by hand, in the default memory format.
- ``lower bound, channels-last``: the same loop in the channels-last memory format that ``VGGFeatures``
  uses, so the table shows how much of our margin comes from the memory format and how much from the
  single shared pass.

Run: ``python benchmarks/bench_perceptual.py [--quick] [--large]`` (``--large`` adds 4×3×256×256).
Method in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from benchmarks._common import Row, seed_all, timed_rows, with_ratios, write
from imagelosses import CombinedFeatureLoss, PerceptualLoss, StyleLoss, VGGFeatures

CONTENT = ("relu2_2",)
STYLE = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
STYLE_WEIGHT = 1e3
OURS = "imagelosses CombinedFeatureLoss"
PIQ = "piq ContentLoss + StyleLoss (given the truncated net)"
PIQ_FULL = "piq ContentLoss + StyleLoss (full vgg16().features, piq's default)"
LOWER = "lower bound (hand-written)"
LOWER_CL = "lower bound, channels-last (hand-written)"
RGB_MEAN = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1) / 255
RGB_STD = torch.full((1, 3, 1, 1), 1 / 255)


def torchvision_style_body(vgg: VGGFeatures) -> nn.Sequential:
    """The same truncated network as piq or a user would hold it: in-place ReLUs, RGB-ordered conv1_1."""
    body = copy.deepcopy(vgg.features)
    body[0].weight.data = body[0].weight.data.flip(1)
    for i, module in enumerate(body):
        if isinstance(module, nn.ReLU):
            body[i] = nn.ReLU(inplace=True)
    return body.to(memory_format=torch.contiguous_format).requires_grad_(False).eval()


def make_steps(x: Tensor, y: Tensor, vgg: VGGFeatures, full: VGGFeatures) -> dict[str, Callable[[], Tensor]]:
    """Zero-argument callables that compute the loss (the caller runs backward)."""
    import piq

    combined = CombinedFeatureLoss({"perceptual": (1.0, PerceptualLoss(extractor=vgg, layers=CONTENT)),
                                    "style": (STYLE_WEIGHT, StyleLoss(extractor=vgg, layers=STYLE))})
    body = torchvision_style_body(vgg)
    names = vgg.available_layers
    index = {name: str(i) for i, name in enumerate(names)}
    feats = vgg(y)
    channels = feats[CONTENT[0]].shape[1]
    positions = [feats[k].shape[2] * feats[k].shape[3] for k in STYLE]
    piq_losses = {}
    for label, net in ((PIQ, body), (PIQ_FULL, torchvision_style_body(full))):
        piq_kw = {"feature_extractor": net, "mean": RGB_MEAN.flatten().tolist(), "std": RGB_STD.flatten().tolist(),
                  "normalize_features": False, "replace_pooling": False, "reduction": "mean"}
        piq_losses[label] = (
            piq.ContentLoss(layers=[index[k] for k in CONTENT], weights=[1.0 / channels], **piq_kw),
            piq.StyleLoss(layers=[index[k] for k in STYLE], weights=[1.0 / p**2 for p in positions], **piq_kw),
        )

    taps = {names.index(k): k for k in (*CONTENT, *STYLE)}
    last = max(taps)

    body_cl = copy.deepcopy(body).to(memory_format=torch.channels_last)

    def run(img: Tensor, net: nn.Sequential, fmt: torch.memory_format) -> dict[str, Tensor]:
        h = ((img - RGB_MEAN) / RGB_STD).contiguous(memory_format=fmt)
        out = {}
        for i in range(last + 1):
            h = net[i](h)
            if i in taps:
                out[taps[i]] = h
        return out

    def gram(f: Tensor) -> Tensor:
        n, c, hh, ww = f.shape
        f = f.reshape(n, c, hh * ww)
        return torch.bmm(f, f.transpose(1, 2)) / (c * hh * ww)

    def lower(channels_last: bool = False) -> Tensor:
        net, fmt = (body_cl, torch.channels_last) if channels_last else (body, torch.contiguous_format)
        fx = run(x, net, fmt)
        with torch.no_grad():
            fy = run(y, net, fmt)
        content = (fx[CONTENT[0]] - fy[CONTENT[0]]).square().mean(dim=(1, 2, 3)).mean()
        style = sum((gram(fx[k]) - gram(fy[k])).square().sum(dim=(1, 2)) for k in STYLE).mean()
        return content + STYLE_WEIGHT * style

    return {  # the lower bound first: every row must compute its value
        LOWER: lower,
        OURS: lambda: combined(x, y),
        **{label: (lambda c=c, s=s: c(x, y) + STYLE_WEIGHT * s(x, y)) for label, (c, s) in piq_losses.items()},
        LOWER_CL: lambda: lower(channels_last=True),
    }


def _rows(shape: tuple[int, int, int, int], vgg: VGGFeatures, full: VGGFeatures, repeats: int,
          rounds: int) -> list[Row]:
    seed_all(0)
    x = torch.rand(*shape, requires_grad=True)
    y = torch.rand(*shape)
    steps = make_steps(x, y, vgg, full)
    case = "×".join(map(str, shape)) + ", fwd+bwd"
    return timed_rows("perceptual_style", case, steps, x, repeats=repeats, rounds=rounds, rtol=1e-3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--large", action="store_true", help="also 4×3×256×256 (slow on CPU)")
    args = parser.parse_args(argv)
    vgg = VGGFeatures("vgg16", (*CONTENT, *STYLE), weights="oxford")
    full = VGGFeatures("vgg16", ("pool5",), weights="oxford")
    shapes = [(2, 3, 128, 128)] + ([(4, 3, 256, 256)] if args.large else [])
    rows = [row for shape in shapes
            for row in _rows(shape, vgg, full, 3 if args.quick else 5, 1 if args.quick else 3)]
    rows = with_ratios(rows, LOWER)
    by_case: dict[str, dict[str, float]] = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r.seconds
    notes = "\n".join(f"- {case}: ours / lower bound = {t[OURS] / t[LOWER]:.3f}; piq / ours = "
                      f"{t[PIQ] / t[OURS]:.2f}× (truncated net), {t[PIQ_FULL] / t[OURS]:.2f}× (piq's default full net)"
                      for case, t in by_case.items())
    notes += ("\n- Every row computes the same loss value (checked before timing). piq runs the backbone once per "
              "loss term on each image (4 passes, 2 with grad); ours and the lower bounds run it twice (1 with "
              f"grad). VGGFeatures runs channels-last. CPU threads: {torch.get_num_threads()}.")
    table = write("perceptual", rows, "Perceptual (relu2_2) + style (relu1_2…relu4_3), Oxford VGG16, CPU", LOWER,
                  notes)
    print(table)


if __name__ == "__main__":
    main()
