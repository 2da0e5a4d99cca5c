"""The architecture, checked: imports run one way between the rooms of the package, no module imports another
room's private names, the import graph has no cycle, no ``assert`` guards user input in ``src``, and no function
in ``src`` is longer than :data:`MAX_FUNCTION_LINES` lines."""

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
    "synthesis": 3,  # the public image-optimisation API: above the losses, below the experiments and the command
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


#: The longest a function (or method) in ``src`` may be, from its ``def`` (decorators included) to its last line,
#: not counting its docstring (the docstrings carry the math, Args, Raises and an example by design).
MAX_FUNCTION_LINES = 60
#: Functions over the limit, each with the file that owns it, to be split there; keep this list short.
LONG_FUNCTIONS: dict[str, str] = {}


def _function_lengths(path: Path) -> dict[str, int]:
    """``{"Class.method" or "function": lines}`` for every function defined in ``path`` (nested ones too)."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                lines = (child.end_lineno or child.lineno) - first + 1
                doc = child.body[0]
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value,
                                                                                                    str):
                    lines -= (doc.end_lineno or doc.lineno) - doc.lineno + 1
                lengths[prefix + child.name] = lines
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), filename=str(path)), "")
    return lengths


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_over_the_line_limit(path: Path) -> None:
    where = str(path.relative_to(SRC))
    long = {f"{where}:{name}": n for name, n in _function_lengths(path).items() if n > MAX_FUNCTION_LINES}
    unlisted = {name: n for name, n in long.items() if name not in LONG_FUNCTIONS}
    assert not unlisted, f"functions over {MAX_FUNCTION_LINES} lines (split them): {unlisted}"


def test_the_long_function_list_is_current() -> None:
    """An entry of :data:`LONG_FUNCTIONS` goes as soon as its function is split (or gone)."""
    long = {f"{p.relative_to(SRC)}:{name}" for p in FILES for name, n in _function_lengths(p).items()
            if n > MAX_FUNCTION_LINES}
    assert set(LONG_FUNCTIONS) <= long, f"split already, remove from LONG_FUNCTIONS: {set(LONG_FUNCTIONS) - long}"


def test_the_line_counter_counts_what_it_should(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('''@decorator
def f():
    """A docstring
    of two lines, not counted."""
    def g():
        pass
    return g


class C:
    def m(self):
        return 1
''')
    assert _function_lengths(probe) == {"f": 5, "f.g": 2, "C.m": 2}
