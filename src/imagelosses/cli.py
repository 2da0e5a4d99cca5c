"""The ``imagelosses`` command (also ``python -m imagelosses``).

Subcommands: ``experiments`` (run the registered experiments, write ``report.html`` and ``results.json``),
``style-transfer``, ``texture``, ``compare`` and ``weight-map``. Heavy modules (the experiments, Pillow,
matplotlib) are imported only by the subcommand that needs them.

Bad input gives one line on stderr, ``imagelosses: error: ...``, and exit status 2; a failed experiment
exit status 1; Ctrl-C exit status 130. Every output file is written to a temporary name in its own folder
and renamed when complete, so no half-written image or report is ever left behind.

Images: any file Pillow reads (PNG, JPEG, TIFF, BMP, WebP, …). A grey image (one channel, 8 or 16 bit) is
repeated to three channels; an image with an alpha channel (RGBA, LA, or a palette with transparency) is
refused, because its transparent pixels have no defined colour: flatten it onto a background first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._core.checks import fail

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["InputError", "main"]

PROG = "imagelosses"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

_IMAGES = """Images: any file Pillow reads (PNG, JPEG, TIFF, BMP, WebP, ...), in [0, 255] (or 16-bit grey). A grey
(one-channel) image is repeated to RGB; an image with an alpha channel is refused (flatten it first)."""


class InputError(ValueError):
    """Bad input to the command: a missing or unreadable file, an unwritable output, an unusable option."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``imagelosses: error: <message>`` on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _number(kind: Callable[[str], Any], what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ok(value) or value != value:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", lambda v: v >= 1)
_nonneg_int = _number(int, "a non-negative integer", lambda v: v >= 0)
_nonneg_float = _number(float, "a finite number >= 0", lambda v: 0 <= v < float("inf"))
_positive_float = _number(float, "a finite number > 0", lambda v: 0 < v < float("inf"))


# --- files -------------------------------------------------------------------------------------------------

def _open_image(path: str, name: str) -> Any:
    """The Pillow image at ``path``, fully read; one clear error for every way it can fail."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        fail(name, "an existing image file", f"{path!r} (no such file)", exc=InputError)
    if p.is_dir():
        fail(name, "an image file", f"{path!r} (a folder)", exc=InputError)
    try:
        image = Image.open(p)
        image.load()
    except PermissionError:
        fail(name, "a readable image file", f"{path!r} (permission denied)", exc=InputError)
    except UnidentifiedImageError:
        fail(name, "an image file (PNG, JPEG, TIFF, ...)", f"{path!r} (not an image Pillow can read)", exc=InputError)
    except (OSError, SyntaxError, ValueError) as error:
        fail(name, "a readable image file", f"{path!r} (truncated or corrupt: {error})", exc=InputError)
    return image


def _has_alpha(image: Any) -> bool:
    return bool(image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info)


def load_image(path: str, name: str, *, size: int | None = None) -> torch.Tensor:
    """``(1, 3, H, W)`` float32 in [0, 1]; a grey image repeated to RGB; alpha refused. With ``size``, resized
    (Lanczos) so that its longer side is ``size`` pixels."""
    import numpy as np
    import torch
    from PIL import Image

    image = _open_image(path, name)
    if _has_alpha(image):
        fail(name, "an image without alpha channel (flatten it onto a background first)",
             f"{path!r} (mode {image.mode}{', with transparency' if 'transparency' in image.info else ''})",
             exc=InputError)
    if image.mode.startswith("I;16"):
        array = np.asarray(image, dtype=np.float32) / 65535.0
    elif image.mode in ("1", "L", "I", "F"):
        array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    else:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if size is not None:
        h, w = array.shape[:2]
        scale = size / max(h, w)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        channels = [array] if array.ndim == 2 else [array[..., c] for c in range(3)]
        array = np.stack([np.asarray(Image.fromarray(c).resize(new, Image.Resampling.LANCZOS))
                          for c in channels], axis=-1).clip(0.0, 1.0)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].float()


def _load_mask(path: str, name: str) -> np.ndarray:
    """An integer label map: grey levels or palette indices are the labels; an RGB mask must be grey."""
    import numpy as np

    image = _open_image(path, name)
    if _has_alpha(image):
        fail(name, "a mask without alpha channel", f"{path!r} (mode {image.mode})", exc=InputError)
    if image.mode in ("RGB", "CMYK", "YCbCr", "LAB", "HSV"):
        rgb = np.asarray(image.convert("RGB"))
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            fail(name, "a one-channel mask (grey levels or palette indices as labels)",
                 f"{path!r} (a colour image)", exc=InputError)
        return rgb[..., 0].astype(np.int64)
    if image.mode == "F":
        fail(name, "an integer mask", f"{path!r} (floating-point pixels)", exc=InputError)
    return np.asarray(image).astype(np.int64)


_PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_PLOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf", ".svg")


def check_output(path: str, name: str = "-o", suffixes: tuple[str, ...] = _PIL_SUFFIXES) -> Path:
    """A file path ending in one of ``suffixes``, in an existing folder this process can write to (probed by
    creating and removing a temporary file there)."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        fail(name, "a file name ending in " + ", ".join(suffixes), repr(path), exc=InputError)
    folder = target.parent
    if not folder.is_dir():
        why = "is a file" if folder.exists() else "does not exist"
        fail(name, "a path in a writable folder", f"{path!r} (the folder {str(folder)!r} {why})", exc=InputError)
    if target.is_dir():
        fail(name, "an image file name", f"{path!r} (a folder)", exc=InputError)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        fail(name, "a path in a writable folder", f"{path!r} ({error.strerror or error})", exc=InputError)
    return target


def _check_folder(folder: Path, name: str) -> None:
    """``folder`` is, or can be created as, a folder this process can write to; nothing is created."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(name, "a writable folder", f"{str(folder)!r} ({str(existing)!r} is a file)", exc=InputError)
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        fail(name, "a writable folder", f"{str(folder)!r} ({error.strerror or error})", exc=InputError)


def save_image(image: torch.Tensor, path: Path) -> None:
    """Write ``(1, 3, H, W)`` in [0, 1] as an 8-bit RGB image, atomically."""
    import numpy as np
    from PIL import Image

    from .experiments.runner import atomic_output

    array = (image[0].detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    with atomic_output(path) as tmp:
        Image.fromarray(array).save(tmp, format=Image.registered_extensions()[path.suffix.lower()])


def _device(name: str) -> torch.device:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        fail("--device", "cpu (CUDA is not available on this machine)", repr(name), exc=InputError)
    return torch.device(name)


def _vgg(layer: str, device: torch.device) -> Any:
    from .backbones.vgg import VGGFeatures

    return VGGFeatures("vgg16", (layer,), weights="oxford").to(device)


def _bar(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True)


# --- subcommands -------------------------------------------------------------------------------------------

def _experiments(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .experiments import registry

    if args.list:
        for item in registry.listing():
            print(f"{item.name:22s} {item.title}")
        return 0
    device = _device(args.device)
    out = Path(args.out)
    _check_folder(out, "--out")
    experiments = registry.resolve(args.only)
    out.mkdir(parents=True, exist_ok=True)
    from .experiments.runner import format_summary, run_experiments

    results, _ = run_experiments(experiments, out_dir=out, quick=args.quick, device=device, seeds=args.seeds,
                                 first_seed=args.first_seed, command=[PROG, *argv])
    print(format_summary(results))
    print(f"report: {out / 'report.html'}")
    print(f"results: {out / 'results.json'}")
    return EXIT_FAILED if any(r.error is not None for r in results) else 0


def _style_transfer(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import torch

    from .experiments.synthesis import balanced_style_weight, stylize

    output = check_output(args.output)
    device = _device(args.device)
    content = load_image(args.content, "CONTENT", size=args.size).to(device)
    style = load_image(args.style, "STYLE", size=args.size).to(device)
    vgg = _vgg("relu5_1", device)
    beta = args.style_weight
    if beta is None:
        beta = balanced_style_weight(content, style, extractor=vgg, balance=args.balance,
                                     content_weight=args.content_weight)
    with _bar(args.steps, "style transfer") as bar:
        image, curve = stylize(content, style, extractor=vgg, steps=args.steps, content_weight=args.content_weight,
                               style_weight=beta, tv_weight=args.tv_weight, init=args.init,
                               generator=torch.Generator().manual_seed(args.seed),
                               progress=lambda done, total: bar.update(done - bar.n))
    save_image(image, output)
    print(f"wrote {output} ({image.shape[-1]}x{image.shape[-2]}); style weight {beta:.4g}; "
          f"loss {curve[0]:.4g} -> {curve[-1]:.4g}")
    return 0


def _texture(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import torch

    from .experiments.synthesis import synthesize_texture

    output = check_output(args.output)
    device = _device(args.device)
    source = load_image(args.source, "SOURCE", size=args.size).to(device)
    vgg = _vgg("relu5_1", device)
    with _bar(args.steps, "texture") as bar:
        image, curve = synthesize_texture(source, extractor=vgg, steps=args.steps, size=args.size,
                                          generator=torch.Generator().manual_seed(args.seed),
                                          progress=lambda done, total: bar.update(done - bar.n))
    save_image(image, output)
    print(f"wrote {output} ({args.size}x{args.size}); loss {curve[0]:.4g} -> {curve[-1]:.4g}")
    return 0


_COMPARE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


def compare_images(a: torch.Tensor, b: torch.Tensor, device: torch.device) -> dict[str, Any]:
    """MSE and L1 of the pixels, the perceptual distance at each of Johnson's layers, Johnson's style
    distance per layer and summed, and Gatys's texture distance (Oxford VGG16)."""
    import torch

    from .functional import l1_loss, mse_loss, perceptual_loss, style_loss, texture_loss
    from .losses.style import GATYS_STYLE_LAYERS

    vgg = _vgg("relu5_1", device)
    a, b = a.to(device), b.to(device)
    with torch.no_grad():
        fa = vgg(a, (*_COMPARE_LAYERS, *GATYS_STYLE_LAYERS), name="A")
        fb = vgg(b, (*_COMPARE_LAYERS, *GATYS_STYLE_LAYERS), name="B")
        style = {layer: float(style_loss(fa, fb, layers=layer)) for layer in _COMPARE_LAYERS}
        return {
            "mse": float(mse_loss(a, b)), "l1": float(l1_loss(a, b)),
            "perceptual": {layer: float(perceptual_loss(fa, fb, layers=layer)) for layer in _COMPARE_LAYERS},
            "style": {**style, "total": sum(style.values())},
            "texture": float(texture_loss(fa, fb)),
        }


def _compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import json

    device = _device(args.device)
    a = load_image(args.a, "A")
    b = load_image(args.b, "B")
    if a.shape != b.shape:
        fail("B", f"an image of the size of A ({a.shape[-1]}x{a.shape[-2]})", f"{b.shape[-1]}x{b.shape[-2]}",
             exc=InputError)
    d = compare_images(a, b, device)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    rows = [("MSE (pixels in [0, 1])", d["mse"]), ("L1 (pixels in [0, 1])", d["l1"])]
    rows += [(f"perceptual {layer} (Johnson, MSE of features)", v) for layer, v in d["perceptual"].items()]
    rows += [(f"style {layer} (Johnson Gram)" if layer != "total" else "style, 4 layers summed", v)
             for layer, v in d["style"].items()]
    rows.append(("texture relu1_1-relu5_1 (Gatys E_l / 5)", d["texture"]))
    width = max(len(r[0]) for r in rows)
    print(f"{'distance':{width}s}  value")
    print(f"{'-' * width}  ----------")
    for label, value in rows:
        print(f"{label:{width}s}  {value:.6g}")
    return 0


def _weight_map(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import numpy as np
    from scipy import ndimage

    from .experiments.runner import atomic_output
    from .losses.weightmaps import unet_weight_map

    output = check_output(args.output, suffixes=_PLOT_SUFFIXES)
    labels = _load_mask(args.mask, "MASK")
    values = np.unique(labels)
    binary = len(values) <= 2 and values.min() == 0 if len(values) else True
    instances = ndimage.label(labels > 0)[0] if binary else labels
    weights = unet_weight_map(instances, w0=args.w0, sigma=args.sigma).numpy()
    count = len(np.unique(instances[instances > 0]))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = weights.shape
    fig, ax = plt.subplots(figsize=(max(3.0, 6.0 * w / max(h, w)) + 1.2, max(3.0, 6.0 * h / max(h, w))), dpi=100)
    shown = ax.imshow(weights, cmap="magma", interpolation="nearest")
    ax.set_title(f"U-Net weight map: {count} cells, w0 = {args.w0:g}, σ = {args.sigma:g} px")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(shown, ax=ax, label="weight w(x)")
    fig.tight_layout()
    try:
        with atomic_output(output) as tmp:
            fig.savefig(tmp, format=output.suffix.lower().lstrip("."))
    finally:
        plt.close(fig)
    how = "connected components of a binary mask" if binary else "instance ids as given"
    print(f"wrote {output}: {count} cells ({how}); weight {weights.min():.4g} to {weights.max():.4g}")
    return 0


# --- parser ------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Loss functions for image models, shown at work: reproduce the literature's claims "
                                 "(experiments) and apply the losses to your own images.",
                     epilog="Run 'imagelosses SUBCOMMAND --help' for the options of each.\n" + _IMAGES + "\nBad input "
                            "prints one line 'imagelosses: error: ...' and exits with status 2 (set "
                            "IMAGELOSSES_TRACEBACK=1 for the traceback); no partial output file is ever left.")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)

    p = sub.add_parser("experiments", help="run the experiments and write report.html and results.json",
                       description="Run the registered experiments, each over several seeds, with a progress bar per "
                                   "experiment and a summary table at the end. Writes DIR/report.html (one "
                                   "self-contained page), DIR/results.json (every number, the versions, the seeds, the "
                                   "wall time per experiment) and the PNG figures under DIR/<experiment>/.")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                   help="run only these experiments (see --list); default: all")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true",
                   help="the quick size: the same code on less data and fewer steps (about 2 minutes in all)")
    p.add_argument("--out", default="runs/latest", metavar="DIR", help="output folder (default: %(default)s)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default: %(default)s)")
    p.add_argument("--seeds", type=_positive_int, metavar="N",
                   help="seeds per experiment (default: each experiment's own, usually 3)")
    p.add_argument("--first-seed", type=_nonneg_int, default=0, metavar="S",
                   help="the seeds are S, S+1, ..., S+N-1 (default: %(default)s)")
    p.set_defaults(handler=_experiments)

    def image_command(name: str, summary: str, description: str, images: dict[str, str]) -> _Parser:
        """A subcommand on image files; ``images`` maps each positional argument's metavar to its help."""
        q = sub.add_parser(name, help=summary, description=description, epilog=_IMAGES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        for metavar, text in images.items():
            q.add_argument(metavar.split(".")[0].lower(), metavar=metavar, help=text)
        return q

    def common(q: argparse.ArgumentParser, steps: int, size: int) -> None:
        q.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the image to write")
        q.add_argument("--size", type=_positive_int, default=size,
                       help="longer side of the images, in pixels (default: %(default)s)")
        q.add_argument("--steps", type=_positive_int, default=steps,
                       help="L-BFGS iterations (default: %(default)s)")
        q.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: %(default)s")
        q.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the noise start (default: %(default)s)")

    p = image_command("style-transfer", "Gatys et al.'s style transfer on your images",
                      "Gatys et al. (CVPR 2016): L-BFGS on the pixels minimises content_weight * "
                      "L_content (relu4_2) + style_weight * L_style (relu1_1 ... relu5_1) + tv_weight * "
                      "TV, with the Oxford VGG16 (real ImageNet weights, offline). Both images are "
                      "resized so that their longer side is --size.",
                      {"CONTENT": "the content image", "STYLE": "the style image"})
    common(p, steps=200, size=256)
    p.add_argument("--content-weight", type=_nonneg_float, default=1.0, help="alpha (default: %(default)s)")
    weight = p.add_mutually_exclusive_group()
    weight.add_argument("--balance", type=_nonneg_float, default=10.0,
                        help="set beta so that a full style mismatch costs BALANCE times a full content mismatch: "
                             "1 keeps the photograph, 10 stylises it, 100 texturises it (default: %(default)s)")
    weight.add_argument("--style-weight", type=_nonneg_float, default=None,
                        help="beta itself, instead of --balance (the paper's alpha/beta = 1e-3 was tuned for "
                             "another scaling of the VGG's activations)")
    p.add_argument("--tv-weight", type=_nonneg_float, default=0.0,
                   help="weight of the squared total variation of the pixels (default: %(default)s)")
    p.add_argument("--init", choices=("content", "noise"), default="content",
                   help="start from the content image or from uniform noise (default: %(default)s)")
    p.set_defaults(handler=_style_transfer)

    p = image_command("texture", "texture synthesis from one image",
                      "Gatys et al. (NeurIPS 2015): from uniform noise, L-BFGS on the pixels matches the "
                      "Gram matrices of SOURCE at relu1_1 ... relu5_1 of the Oxford VGG16. SOURCE is "
                      "resized so that its longer side is --size; the output is --size x --size.",
                      {"SOURCE": "the texture image"})
    common(p, steps=200, size=256)
    p.set_defaults(handler=_texture)

    p = image_command("compare", "pixel, perceptual and style distances between two images",
                      "MSE and L1 of the pixels (in [0, 1]), Johnson's perceptual distance at relu1_2, "
                      "relu2_2, relu3_3 and relu4_3, Johnson's style (Gram) distance at those layers, "
                      "and Gatys's texture distance, all on the Oxford VGG16. The images must have the "
                      "same size (at least 16 x 16).",
                      {"A.png": "the first image", "B.png": "the second image"})
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: %(default)s")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("weight-map", help="the U-Net border weight map of a mask, as a heat map",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Ronneberger et al. (2015): w(x) = 1 + w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) on the "
                                   "background, d1 and d2 the distances to the nearest and second-nearest cell.",
                       epilog="MASK: a one-channel image whose grey levels (or palette indices) are instance ids, 0 "
                              "the background. A binary mask (two values, one of them 0) is split into cells by its "
                              "4-connected components (touching cells then count as one). An RGB mask is accepted "
                              "when its three channels are equal; alpha is refused.")
    p.add_argument("mask", metavar="MASK.png", help="the instance or binary mask")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the heat map to write")
    p.add_argument("--w0", type=_nonneg_float, default=10.0, help="height of the border term (default: %(default)s)")
    p.add_argument("--sigma", type=_positive_float, default=5.0,
                   help="width of the border term, in pixels (default: %(default)s)")
    p.set_defaults(handler=_weight_map)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0) if not isinstance(exit.code, str) else EXIT_BAD_INPUT
    try:
        status: int = args.handler(args, argv)
        return status
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG}: error: interrupted; no partial output was left\n")
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, ImportError, RuntimeError, OSError) as error:
        if os.environ.get("IMAGELOSSES_TRACEBACK"):
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.stderr.write(f"{PROG}: error: {message}\n")
        return EXIT_BAD_INPUT
