"""``python -m imagelosses``: the ``imagelosses`` command (:mod:`imagelosses.cli`)."""

from .cli import main

raise SystemExit(main())
