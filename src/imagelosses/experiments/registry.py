"""The experiments by name.

The built-in experiments are an explicit list of names and modules (:data:`BUILTIN`), imported lazily: a
module is imported only when its experiment is asked for, so ``imagelosses --help`` and ``--list`` stay
light. An experiment whose module is missing or fails to import raises
:class:`ExperimentUnavailableError` when it is asked for (it is never skipped silently); the others still
run. Further experiments (a plugin, a test) are added with :func:`register` and removed with
:func:`unregister`.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from .._core.checks import fail
from .base import Experiment

__all__ = [
    "BUILTIN",
    "ExperimentUnavailableError",
    "Listing",
    "get",
    "listing",
    "names",
    "register",
    "resolve",
    "unregister",
]

#: Experiment name → module under :mod:`imagelosses.experiments`, in report order.
BUILTIN: dict[str, str] = {
    "pixel-vs-perceptual": "pixel_vs_perceptual",
    "restoration": "restoration",
    "class-imbalance": "class_imbalance",
    "overlap-losses": "overlap_losses",
    "style-texture": "style_texture",
    "triplet-mining": "triplet_mining",
    "topology": "topology",
    "gan-objectives": "gan_objectives",
    "cycle-consistency": "cycle_consistency",
}

_PACKAGE = __name__.rpartition(".")[0]  # imagelosses.experiments
_registered: dict[str, Experiment] = {}


class ExperimentUnavailableError(ImportError):
    """A built-in experiment whose module is missing or cannot be imported."""


@dataclass(frozen=True)
class Listing:
    """One line of ``imagelosses experiments --list``: the name, its title (or why it is unavailable)."""

    name: str
    available: bool
    title: str


def names() -> tuple[str, ...]:
    """Every experiment name: the built-in ones in report order, then the registered ones."""
    return tuple(BUILTIN) + tuple(n for n in _registered if n not in BUILTIN)


def register(experiment: Experiment, *, replace: bool = False) -> Experiment:
    """Add an experiment under ``experiment.name`` (after the built-in ones); returns it.

    Raises:
        TypeError: not an :class:`~imagelosses.experiments.base.Experiment`.
        ValueError: the name is taken (a built-in name, or a registered one unless ``replace``).
    """
    if not isinstance(experiment, Experiment):
        fail("experiment", "an imagelosses.experiments.base.Experiment", type(experiment).__name__, exc=TypeError)
    name = experiment.name
    if name in BUILTIN or (name in _registered and not replace):
        fail("experiment.name", "a name not yet registered", repr(name))
    _registered[name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment added with :func:`register` (built-in ones cannot be removed)."""
    if name not in _registered:
        fail("name", "a name added with register(): " + (", ".join(map(repr, _registered)) or "none"), repr(name))
    del _registered[name]


def _unknown(name: str) -> None:
    fail("experiment", "one of " + ", ".join(names()), repr(name))


def get(name: str) -> Experiment:
    """The experiment called ``name``, importing its module if it is a built-in one.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        ExperimentUnavailableError: a built-in experiment whose module is missing, fails to import, or
            defines no ``EXPERIMENT`` of that name.
    """
    if name in _registered:
        return _registered[name]
    if name not in BUILTIN:
        _unknown(name)
    module_name = f"{_PACKAGE}.{BUILTIN[name]}"
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an ImportError, or anything its import raised: say which
        reason = "no such module" if isinstance(error, ModuleNotFoundError) and error.name == module_name else (
            f"{type(error).__name__}: {error}")
        fail(f"experiment {name!r}", f"an importable module {module_name}", reason, exc=ExperimentUnavailableError)
    experiment = getattr(module, "EXPERIMENT", None)
    if not isinstance(experiment, Experiment) or experiment.name != name:
        fail(f"experiment {name!r}", f"{module_name}.EXPERIMENT, an Experiment named {name!r}",
             repr(experiment)[:80], exc=ExperimentUnavailableError)
    return experiment


def resolve(selected: list[str] | tuple[str, ...] | None) -> list[Experiment]:
    """The experiments to run, in report order: ``selected`` names (all when None or empty), each once.

    Every name is checked and every module imported before anything runs, so a typo or a missing module
    fails at once rather than after the others have run.
    """
    wanted = list(dict.fromkeys(selected)) if selected else list(names())
    for name in wanted:
        if name not in BUILTIN and name not in _registered:
            _unknown(name)
    order = {n: i for i, n in enumerate(names())}
    return [get(name) for name in sorted(wanted, key=order.__getitem__)]


def listing() -> list[Listing]:
    """Each experiment with its title, or, for a built-in one that cannot be imported, the reason."""
    out: list[Listing] = []
    for name in names():
        if name in BUILTIN and importlib.util.find_spec(f"{_PACKAGE}.{BUILTIN[name]}") is None:
            out.append(Listing(name, False, "unavailable: its module is not installed"))
            continue
        try:
            out.append(Listing(name, True, get(name).title))
        except ExperimentUnavailableError as error:
            out.append(Listing(name, False, f"unavailable: {error}"))
    return out
