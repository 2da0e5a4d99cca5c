"""What each subcommand does, once its arguments are parsed: ``handler(args, argv) -> exit status``.

Heavy modules (torch's models, the experiments, Pillow, matplotlib) are imported inside the handlers.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.checks import fail
from .common import EXIT_FAILED, PROG, InputError, device
from .images import PLOT_SUFFIXES, check_folder, check_output, load_image, load_mask, save_image
from .limits import check_size
from .progress import StepProgress

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["COMPARE_LAYERS", "COMPARE_REFERENCES", "COMPARE_REFERENCES_NOTE", "compare", "compare_images",
           "compare_references", "experiments", "style_transfer", "texture", "weight_map"]

COMPARE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


def _vgg(layer: str, where: torch.device, *, normalized: bool = False) -> Any:
    """The Oxford VGG16 up to ``layer``; ``normalized``: Gatys et al.'s normalised copy (the syntheses')."""
    from ..backbones.vgg import VGGFeatures

    return VGGFeatures("vgg16", (layer,), weights="oxford", normalize_activations=normalized).to(where)


def _colour_and_detail(image: torch.Tensor, source: torch.Tensor, name: str) -> str:
    """One line: the result's mean chroma and fine detail next to ``source``'s (the speckle check)."""
    from ..metrics import high_frequency_energy, mean_chroma

    detail = float(high_frequency_energy(image) / high_frequency_energy(source).clamp_min(1e-12))
    return (f"mean chroma {255 * float(mean_chroma(image)):.1f}/255 ({name} {255 * float(mean_chroma(source)):.1f}); "
            f"fine detail {detail:.2f}x the {name}'s (neighbour-pixel differences)")


def experiments(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``imagelosses experiments``: run them, print the summary, write the report."""
    from ..experiments import registry

    if args.list:
        for item in registry.listing():
            print(f"{item.name:22s} {item.title}")
        return 0
    where = device(args.device)
    out = Path(args.out)
    check_folder(out, "--out")
    chosen = registry.resolve(args.only)
    out.mkdir(parents=True, exist_ok=True)
    from ..experiments.runner import format_summary, run_experiments

    results, _ = run_experiments(chosen, out_dir=out, quick=args.quick, device=where, seeds=args.seeds,
                                 first_seed=args.first_seed, command=[PROG, *argv], jobs=args.jobs)
    print(format_summary(results))
    print(f"report: {out / 'report.html'}")
    print(f"results: {out / 'results.json'}")
    return EXIT_FAILED if any(r.error is not None for r in results) else 0


def style_transfer(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``imagelosses style-transfer``: Gatys et al.'s style transfer of CONTENT to the style of STYLE."""
    import torch

    from ..synthesis import balanced_style_weight, balanced_tv_weight, stylize

    output = check_output(args.output)
    where = device(args.device)
    check_size(args.size, where)
    content = load_image(args.content, "CONTENT", size=args.size).to(where)
    style = load_image(args.style, "STYLE", size=args.size).to(where)
    vgg = _vgg("relu5_1", where, normalized=True)
    beta = args.style_weight
    if beta is None:
        beta = balanced_style_weight(content, style, extractor=vgg, balance=args.balance,
                                     content_weight=args.content_weight)
    tv = args.tv_weight
    if tv is None:
        tv = balanced_tv_weight(content, style, extractor=vgg, balance=args.tv_balance,
                                content_weight=args.content_weight) if args.tv_balance else 0.0
    with StepProgress(args.steps, "style transfer") as progress:
        image, curve = stylize(content, style, extractor=vgg, steps=args.steps, content_weight=args.content_weight,
                               style_weight=beta, tv_weight=tv, init=args.init,
                               generator=torch.Generator().manual_seed(args.seed), progress=progress)
    save_image(image, output)
    print(f"wrote {output} ({image.shape[-1]}x{image.shape[-2]}); style weight {beta:.4g}, TV weight {tv:.4g}; "
          f"loss {curve[0]:.4g} -> {curve[-1]:.4g}")
    print(_colour_and_detail(image, content, "content"))
    return 0


def texture(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``imagelosses texture``: Gatys et al.'s texture synthesis from SOURCE."""
    import torch

    from ..synthesis import synthesize_texture

    output = check_output(args.output)
    where = device(args.device)
    check_size(args.size, where)
    source = load_image(args.source, "SOURCE", size=args.size).to(where)
    vgg = _vgg("relu5_1", where, normalized=True)
    with StepProgress(args.steps, "texture") as progress:
        image, curve = synthesize_texture(source, extractor=vgg, steps=args.steps, size=args.size,
                                          generator=torch.Generator().manual_seed(args.seed), progress=progress)
    save_image(image, output)
    print(f"wrote {output} ({args.size}x{args.size}); loss {curve[0]:.4g} -> {curve[-1]:.4g}")
    print(_colour_and_detail(image, source, "source"))
    return 0


def compare_images(a: torch.Tensor, b: torch.Tensor, where: torch.device, *, vgg: Any = None) -> dict[str, Any]:
    """MSE and L1 of the pixels, the perceptual distance at each of Johnson's layers, Johnson's style
    distance per layer and summed, and Gatys's texture distance (Oxford VGG16, or ``vgg`` when given: one
    network for several comparisons)."""
    import torch

    from ..functional import l1_loss, mse_loss, perceptual_loss, style_loss, texture_loss
    from ..losses.style import GATYS_STYLE_LAYERS

    vgg = _vgg("relu5_1", where) if vgg is None else vgg
    a, b = a.to(where), b.to(where)
    with torch.no_grad():
        fa = vgg(a, (*COMPARE_LAYERS, *GATYS_STYLE_LAYERS), name="A")
        fb = vgg(b, (*COMPARE_LAYERS, *GATYS_STYLE_LAYERS), name="B")
        style = {layer: float(style_loss(fa, fb, layers=layer)) for layer in COMPARE_LAYERS}
        return {
            "mse": float(mse_loss(a, b)), "l1": float(l1_loss(a, b)),
            "perceptual": {layer: float(perceptual_loss(fa, fb, layers=layer)) for layer in COMPARE_LAYERS},
            "style": {**style, "total": sum(style.values())},
            "texture": float(texture_loss(fa, fb)),
        }


#: The references next to A vs B, ``{JSON key: column heading}``: the same distances between A and A changed in a
#: way a viewer barely notices (:func:`compare_references`).
COMPARE_REFERENCES = {"shifted_1px": "A vs A shifted 1 px", "blurred_sigma_1px": "A vs A blurred sigma=1 px"}
COMPARE_REFERENCES_NOTE = (
    "References: the same distances between A and A moved one pixel to the right (its new first column mirrors "
    "the second, so no pixel wraps round and no flat edge appears), and between A and A blurred by a Gaussian of "
    "sigma = 1 px (border reflected). A vs B near these is a difference of about that size; far above them, more.")


def compare_references(a: torch.Tensor, where: torch.device, vgg: Any) -> dict[str, dict[str, Any]]:
    """:func:`compare_images` of A against A shifted one pixel right (reflected at the left edge) and against A
    blurred by a Gaussian of σ = 1 px (reflected border), keyed as :data:`COMPARE_REFERENCES`."""
    import torch.nn.functional as F

    from ..experiments.data import gaussian_blur

    shifted = F.pad(a, (1, 0, 0, 0), mode="reflect")[..., :-1]
    return {"shifted_1px": compare_images(a, shifted, where, vgg=vgg),
            "blurred_sigma_1px": compare_images(a, gaussian_blur(a, 1.0), where, vgg=vgg)}


def _compare_rows(d: dict[str, Any]) -> list[tuple[str, float]]:
    """``(label, value)`` for every distance of :func:`compare_images`, in the table's order."""
    rows = [("MSE (pixels in [0, 1])", d["mse"]), ("L1 (pixels in [0, 1])", d["l1"])]
    rows += [(f"perceptual {layer} (Johnson, MSE of features)", v) for layer, v in d["perceptual"].items()]
    rows += [(f"style {layer} (Johnson Gram)" if layer != "total" else "style, 4 layers summed", v)
             for layer, v in d["style"].items()]
    rows.append(("texture relu1_1-relu5_1 (Gatys E_l / 5)", d["texture"]))
    return rows


def _load_pair(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, list[int] | None]:
    """A and B; B resized to A's size (antialiased bilinear) with ``--resize``, else refused when the sizes
    differ. The third item is B's ``[width, height]`` before a resize, else None."""
    import torch.nn.functional as F

    a = load_image(args.a, "A")
    b = load_image(args.b, "B")
    if a.shape == b.shape:
        return a, b, None
    if not args.resize:
        fail("B", f"an image of the size of A ({a.shape[-1]}x{a.shape[-2]}; or pass --resize to resize B to it)",
             f"{b.shape[-1]}x{b.shape[-2]}", exc=InputError)
    resized = F.interpolate(b, size=a.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
    return a, resized.clamp(0, 1), [b.shape[-1], b.shape[-2]]


def compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``imagelosses compare``: the distances between A and B next to the same distances between A and A
    shifted by one pixel and A blurred (σ = 1 px), as a table or JSON."""
    import json
    import textwrap

    where = device(args.device)
    a, b, b_size = _load_pair(args)
    vgg = _vgg("relu5_1", where)
    d = compare_images(a, b, where, vgg=vgg)
    references = compare_references(a, where, vgg)
    if args.json:
        print(json.dumps({**d, "references": references, "b_resized_from": b_size}, indent=2))
        return 0
    if b_size is not None:
        print(f"B resized from {b_size[0]}x{b_size[1]} to A's {a.shape[-1]}x{a.shape[-2]} (antialiased bilinear)")
    heads = ["A vs B", *COMPARE_REFERENCES.values()]
    rows = _compare_rows(d)
    columns = [[v for _, v in rows], *([v for _, v in _compare_rows(references[k])] for k in COMPARE_REFERENCES)]
    width = max(len(label) for label, _ in rows)
    widths = [max(len(h), 12) for h in heads]
    print(f"{'distance':{width}s}  " + "  ".join(f"{h:>{w}s}" for h, w in zip(heads, widths, strict=True)))
    print(f"{'-' * width}  " + "  ".join("-" * w for w in widths))
    for i, (label, _) in enumerate(rows):
        print(f"{label:{width}s}  " + "  ".join(f"{col[i]:>{w}.6g}" for col, w in zip(columns, widths, strict=True)))
    print(textwrap.fill(COMPARE_REFERENCES_NOTE, 100))
    return 0


def _plot_weight_map(weights: np.ndarray, title: str, output: Path) -> None:
    """The weight map as a heat map with a colour bar, written atomically to ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.io import atomic_output

    h, w = weights.shape
    fig, ax = plt.subplots(figsize=(max(3.0, 6.0 * w / max(h, w)) + 1.2, max(3.0, 6.0 * h / max(h, w))), dpi=100)
    shown = ax.imshow(weights, cmap="magma", interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(shown, ax=ax, label="weight w(x)")
    fig.tight_layout()
    try:
        with atomic_output(output) as tmp:
            fig.savefig(tmp, format=output.suffix.lower().lstrip("."))
    finally:
        plt.close(fig)


def weight_map(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``imagelosses weight-map``: the U-Net border weight map of MASK, as a heat map."""
    import numpy as np
    from scipy import ndimage

    from ..losses.weightmaps import unet_weight_map

    output = check_output(args.output, suffixes=PLOT_SUFFIXES)
    labels = load_mask(args.mask, "MASK")
    values = np.unique(labels)
    binary = len(values) <= 2 and values.min() == 0 if len(values) else True
    # a binary mask's cells are its 8-connected components, as unet_weight_map splits a binary mask itself
    instances = ndimage.label(labels > 0, structure=np.ones((3, 3), dtype=bool))[0] if binary else labels
    weights = unet_weight_map(instances, w0=args.w0, sigma=args.sigma).numpy()
    count = len(np.unique(instances[instances > 0]))
    _plot_weight_map(weights, f"U-Net weight map: {count} cells, w0 = {args.w0:g}, σ = {args.sigma:g} px", output)
    how = "8-connected components of a binary mask" if binary else "instance ids as given"
    print(f"wrote {output}: {count} cells ({how}); weight {weights.min():.4g} to {weights.max():.4g}")
    return 0
