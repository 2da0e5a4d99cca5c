"""The command line: one small builder per subcommand, each adding its parser to ``imagelosses``'s
subparsers and pointing it at its handler (:mod:`.handlers`)."""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Any

from . import handlers
from .common import IMAGES, nonneg_float, nonneg_int, positive_float, positive_int, side
from .limits import BYTES_PER_PIXEL, FIXED_BYTES, estimate_bytes

__all__ = ["MEASURED", "SUBCOMMANDS", "SYNTHESIS_TIME", "add_compare", "add_experiments", "add_style_transfer",
           "add_texture",
           "add_weight_map"]

Subparsers = Any  # argparse's _SubParsersAction, a private name

#: Measured with this command at the defaults (256 px, 200 steps, the normalised Oxford VGG16, L-BFGS-B, CPU), one
#: run each on this project's 2-core machine with nothing else running: wall clock and CPU time (the style image
#: 256x170).
MEASURED = {"style-transfer": "54 s (103 s of CPU time)", "texture": "70 s (134 s of CPU time)"}
SYNTHESIS_TIME = ("Time: at the defaults (--size 256, --steps 200) one run took {measured} on a quiet 2-core CPU, "
                  "about 0.5-0.7 s of CPU per step; time grows with size^2 x steps (--size 128 is about 4x faster). "
                  "An estimate of the total is printed after the first steps, and the progress shows an ETA. Memory: "
                  f"about {FIXED_BYTES / 1e9:.1f} GB + {BYTES_PER_PIXEL / 1000:.0f} KB per pixel "
                  f"({estimate_bytes(256, 256) / 1e9:.1f} GB at 256 px); a --size that does not fit in the memory "
                  "available is refused.")


def _wrap(text: str) -> str:
    """Paragraphs (split at blank lines) filled to 100 columns, for the raw help formatter."""
    return "\n\n".join(textwrap.fill(paragraph, 100) for paragraph in text.split("\n\n"))


def _image_command(sub: Subparsers, name: str, summary: str, description: str, images: dict[str, str]
                   ) -> argparse.ArgumentParser:
    """A subcommand on image files; ``images`` maps each positional argument's metavar to its help."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=_wrap(description), epilog=IMAGES,
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for metavar, text in images.items():
        p.add_argument(metavar.split(".")[0].lower(), metavar=metavar, help=text)
    return p


def _synthesis_options(p: argparse.ArgumentParser, steps: int, size: int) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the image to write")
    p.add_argument("--size", type=side, default=size,
                   help="longer side of the images, in pixels, >= 16 (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=steps, help="L-BFGS iterations (default: %(default)s)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: %(default)s")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the noise start (default: %(default)s)")


def add_experiments(sub: Subparsers) -> None:
    p = sub.add_parser("experiments", help="run the experiments and write report.html and results.json",
                       description="Run the registered experiments, each over several seeds, with a progress bar per "
                                   "experiment and a summary table at the end. Writes DIR/report.html (one "
                                   "self-contained page), DIR/results.json (every number, the versions, the seeds, the "
                                   "wall time per experiment) and the PNG figures under DIR/<experiment>/.")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                   help="run only these experiments (see --list); default: all")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true",
                   help="the quick size: the same code on less data and fewer steps (about a minute in all)")
    p.add_argument("--out", default="runs/latest", metavar="DIR", help="output folder (default: %(default)s)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default: %(default)s)")
    p.add_argument("--seeds", type=positive_int, metavar="N",
                   help="seeds per experiment (default: each experiment's own, usually 3)")
    p.add_argument("--first-seed", type=nonneg_int, default=0, metavar="S",
                   help="the seeds are S, S+1, ..., S+N-1 (default: %(default)s)")
    p.add_argument("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="experiments run at once, each in a process of its own on one core (the numbers do not "
                        "depend on it; default: %(default)s, up to 2 cores)")
    p.set_defaults(handler=handlers.experiments)


def add_style_transfer(sub: Subparsers) -> None:
    p = _image_command(sub, "style-transfer", "Gatys et al.'s style transfer on your images",
                       "Gatys et al. (CVPR 2016): L-BFGS-B on the pixels (bounded to [0, 1]) minimises "
                       "content_weight * L_content (relu4_2) + style_weight * L_style (relu1_1 ... relu5_1) + "
                       "tv_weight * TV (Johnson et al.'s smoothness term), with the Oxford VGG16 (real ImageNet "
                       "weights, offline) normalised as Gatys et al.'s (each filter's mean activation 1). Both "
                       "images are resized so that their longer side is --size. It prints the result's mean chroma "
                       "and fine detail next to the content's.\n\n"
                       + SYNTHESIS_TIME.format(measured=MEASURED["style-transfer"]),
                       {"CONTENT": "the content image", "STYLE": "the style image"})
    _synthesis_options(p, steps=200, size=256)
    p.add_argument("--content-weight", type=nonneg_float, default=1.0, help="alpha (default: %(default)s)")
    weight = p.add_mutually_exclusive_group()
    weight.add_argument("--balance", type=nonneg_float, default=10.0,
                        help="set beta so that a full style mismatch costs BALANCE times a full content mismatch: "
                             "1 keeps the photograph, 10 stylises it, 100 texturises it (default: %(default)s)")
    weight.add_argument("--style-weight", type=nonneg_float, default=None,
                        help="beta itself, instead of --balance (the paper's alpha/beta = 1e-3 was tuned for "
                             "another scaling of the VGG's activations)")
    tv = p.add_mutually_exclusive_group()
    tv.add_argument("--tv-balance", type=nonneg_float, default=0.1,
                    help="set the TV weight so that the content image's own total variation costs TV_BALANCE times "
                         "a full content mismatch: 0 turns it off, 0.1 removes pixel speckle, 1 blurs "
                         "(default: %(default)s)")
    tv.add_argument("--tv-weight", type=nonneg_float, default=None,
                    help="the weight of the squared total variation itself, instead of --tv-balance")
    p.add_argument("--init", choices=("content", "noise"), default="content",
                   help="start from the content image or from noise around its mean colour (default: %(default)s)")
    p.set_defaults(handler=handlers.style_transfer)


def add_texture(sub: Subparsers) -> None:
    p = _image_command(sub, "texture", "texture synthesis from one image",
                       "Gatys et al. (NeurIPS 2015): from noise around SOURCE's mean colour, L-BFGS-B on the pixels "
                       "(bounded to [0, 1]) matches the Gram matrices of SOURCE at relu1_1 ... relu5_1 of the Oxford "
                       "VGG16 normalised as Gatys et al.'s (each filter's mean activation 1). SOURCE is resized so "
                       "that its longer side is --size; the output is --size x --size. It prints the texture's mean "
                       "chroma and fine detail next to the source's.\n\n"
                       + SYNTHESIS_TIME.format(measured=MEASURED["texture"]),
                       {"SOURCE": "the texture image"})
    _synthesis_options(p, steps=200, size=256)
    p.set_defaults(handler=handlers.texture)


def add_compare(sub: Subparsers) -> None:
    p = _image_command(sub, "compare", "pixel, perceptual and style distances between two images",
                       "MSE and L1 of the pixels (in [0, 1]), Johnson's perceptual distance at relu1_2, relu2_2, "
                       "relu3_3 and relu4_3, Johnson's style (Gram) distance at those layers, and Gatys's texture "
                       "distance, all on the Oxford VGG16. Next to each distance between A and B, the same "
                       "distance between A and A shifted one pixel to the right (its new first column mirrors the "
                       "second) and between A and A blurred by a Gaussian of sigma = 1 px: differences a viewer "
                       "barely notices, a scale to read A vs B by. The images must have the same size (at least "
                       "16 x 16), unless --resize is given.",
                       {"A.png": "the first image", "B.png": "the second image"})
    p.add_argument("--json", action="store_true",
                   help="print JSON instead of a table: A vs B's distances, 'references' (the same for "
                        "'shifted_1px' and 'blurred_sigma_1px') and 'b_resized_from' (B's [width, height] before "
                        "--resize, else null)")
    p.add_argument("--resize", action="store_true",
                   help="when the sizes differ, resize B to A's width and height (antialiased bilinear; the aspect "
                        "ratio follows A's)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: %(default)s")
    p.set_defaults(handler=handlers.compare)


def add_weight_map(sub: Subparsers) -> None:
    p = sub.add_parser("weight-map", help="the U-Net border weight map of a mask, as a heat map",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_wrap("Ronneberger et al. (2015): w(x) = 1 + w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) "
                                         "on the background, d1 and d2 the distances to the nearest and second-nearest "
                                         "cell."),
                       epilog=_wrap("MASK: a one-channel image whose grey levels (or palette indices) are instance "
                                    "ids, 0 the background. A binary mask (two values, one of them 0) is split into "
                                    "cells by its 4-connected components (touching cells then count as one). An RGB "
                                    "mask is accepted when its three channels are equal; alpha is refused."))
    p.add_argument("mask", metavar="MASK.png", help="the instance or binary mask")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the heat map to write")
    p.add_argument("--w0", type=nonneg_float, default=10.0, help="height of the border term (default: %(default)s)")
    p.add_argument("--sigma", type=positive_float, default=5.0,
                   help="width of the border term, in pixels (default: %(default)s)")
    p.set_defaults(handler=handlers.weight_map)


#: The builders, in the order ``imagelosses --help`` lists the subcommands.
SUBCOMMANDS = (add_experiments, add_style_transfer, add_texture, add_compare, add_weight_map)
