"""The architecture, checked: imports run one way between the rooms of the package, no module imports another
room's private names, the import graph has no cycle, and no ``assert`` guards user input in ``src``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "imagelosses"

#: Rooms from the floor up; a room may import from lower ranks and from itself. Rooms of one rank (image
#: losses, metric learning) do not import each other.
RANK = {
    "_core": 0,
    "backbones": 1,
    "losses": 2,
    "embedding": 2,
    "metrics": 3,
    "experiments": 4,
    "functional": 5,
    "__init__": 6,
    "cli": 6,
    "__main__": 7,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` for every import of an ``imagelosses`` module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "imagelosses":
                found.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "imagelosses")
    return found


FILES = sorted(SRC.rglob("*.py"))


def test_every_room_is_ranked() -> None:
    rooms = {_room(_module_name(p)) for p in FILES}
    assert rooms <= set(RANK), f"unranked rooms: {rooms - set(RANK)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_run_downwards_and_stay_public(path: Path) -> None:
    me = _module_name(path)
    room = _room(me)
    for target, names, line in _imports(path):
        other = _room(target)
        where = f"{path.relative_to(SRC)}:{line} imports {target}"
        if other != room:
            assert RANK[other] < RANK[room], f"{where}: an arrow from {room} up (or across) to {other}"
            private_modules = [p for p in target.split(".")[2:] if p.startswith("_")]
            assert not private_modules, f"{where}: a private module of another room"
        if target != me:  # between files, in a room too: what two files share is a public name of its owner
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private_names, f"{where}: private names {private_names} of another file"


def test_import_graph_has_no_cycle() -> None:
    modules = {_module_name(p): p for p in FILES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for target, names, _ in _imports(path):
            # ``from .pkg import module`` imports the module itself when it is one
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            deps.update(subs or ([target] if target in modules else []))
        graph[name] = deps - {name}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack, node, dep]))
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_assert_in_src(path: Path) -> None:
    tree = ast.parse(path.read_text())
    lines = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert not lines, f"{path.relative_to(SRC)}: assert on lines {lines} (use imagelosses._core.checks)"
