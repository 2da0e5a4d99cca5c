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

The package: :mod:`.common` (exit statuses, the one-line-error parser, option types), :mod:`.images` (image
and mask I/O, output checks), :mod:`.limits` (the memory bound on ``--size``), :mod:`.progress` (the progress
bar, ETA and time estimate), :mod:`.parsers` (one builder per subcommand) and :mod:`.handlers` (what each
subcommand does).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, IMAGES, PROG, InputError, Parser
from .parsers import SUBCOMMANDS

__all__ = ["InputError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``imagelosses`` parser with its subcommands (each from its builder in :mod:`.parsers`)."""
    parser = Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
                    description="Loss functions for image models, shown at work: reproduce the literature's claims "
                                "(experiments) and apply the losses to your own images.",
                    epilog="Run 'imagelosses SUBCOMMAND --help' for the options of each.\n" + IMAGES + "\nBad input "
                           "prints one line 'imagelosses: error: ...' and exits with status 2 (set "
                           "IMAGELOSSES_TRACEBACK=1 for the traceback); no partial output file is ever left.")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=Parser, required=True)
    for add in SUBCOMMANDS:
        add(sub)
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
