"""The package layering contract: dependencies point one way, no private names cross modules.

The order is ``errors <- io, model <- conditions, normalize <- matching <- survivorship <-
governance``; workflows sees model, conditions and its own events only. Every import counts:
module level, inside functions, relative, and ``importlib.import_module("crmcore...")`` with a
literal name. The checker is tested too: planting a forbidden edge in a copy of the tree fails.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import attrs
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Component of a module: the longest matching prefix wins.
COMPONENTS = {
    "crmcore.compat": "compat",  # who owns a public name, where old import paths lead
    "crmcore.errors": "errors",
    "crmcore.io": "io",
    "crmcore.model": "model",
    "crmcore.conditions": "conditions",
    "crmcore.normalize": "normalize",
    "crmcore.matching": "matching",
    "crmcore.matching.spark": "spark",  # the Spark runner: matching and golden records at scale
    "crmcore.survivorship": "survivorship",
    "crmcore.governance": "governance",
    "crmcore.workflows": "workflows",
    "crmcore.display": "display",
    "crmcore.cli": "app",
    "crmcore.__main__": "app",
    "crmcore": "app",
}

_BASE = {"errors", "compat"}
#: Component -> the components it may import.
ALLOWED: dict[str, set[str]] = {
    "compat": set(),
    "errors": set(),
    "io": _BASE,
    "model": _BASE,
    "conditions": _BASE | {"model"},
    "normalize": _BASE | {"io", "model"},
    "matching": _BASE | {"io", "model", "normalize"},
    "survivorship": _BASE | {"io", "model", "normalize", "matching"},
    "spark": _BASE | {"io", "model", "normalize", "matching", "survivorship"},
    "governance": _BASE | {"io", "model", "conditions", "normalize", "matching", "survivorship"},
    "workflows": _BASE | {"model", "conditions"},
    "display": _BASE | {"io", "model", "normalize", "matching", "survivorship", "governance",
                        "workflows", "conditions"},
    "app": set(COMPONENTS.values()),
}
#: Private modules every crmcore package may import: shared kernels that are no public API (the
#: one Arrow helper module). Any other private module stays inside its package.
SHARED_PRIVATE = {"crmcore.io._arrow"}
#: Presentation hooks: any component may import the display package inside a function (the
#: ``_repr_html_`` of its values); display renders them and sits above them.
LAZY_ANYWHERE = {"display"}


@attrs.frozen
class Edge:
    """One import: who imports what, where, and whether inside a function."""

    source: str
    target: str
    names: tuple[str, ...]
    path: str
    line: int
    in_function: bool


def component(module: str) -> str:
    """The component a module belongs to (longest prefix)."""
    best = max((p for p in COMPONENTS if module == p or module.startswith(p + ".")), key=len)
    return COMPONENTS[best]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


_PACKAGES = {c.split(".")[1] for c in COMPONENTS if c.count(".") == 1}


def import_edges(root: Path) -> list[Edge]:
    """Every import of a ``crmcore`` module by a module under ``root/crmcore``."""
    edges: list[Edge] = []
    for path in sorted((root / "crmcore").rglob("*.py")):
        edges.extend(_edges_of(path, root))
    return edges


def _edges_of(path: Path, root: Path) -> list[Edge]:
    module, is_package = _module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [
        (n.lineno, n.end_lineno or n.lineno)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    ]
    found: list[tuple[str, tuple[str, ...], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            names = tuple(a.name for a in node.names)
            subpackages = [n for n in names if base == "crmcore" and n in _PACKAGES]
            # ``from crmcore import matching`` imports the package itself
            found.extend((f"crmcore.{n}", (), node.lineno) for n in subpackages)
            rest = tuple(n for n in names if n not in subpackages)
            if rest:
                found.append((base, rest, node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, (), node.lineno))
    return [
        Edge(module, target, names, str(path), line, any(a < line <= b for a, b in functions))
        for target, names, line in found
        if target == "crmcore" or target.startswith("crmcore.")
    ]


def layering_violations(edges: list[Edge]) -> list[str]:
    """Edges that point the wrong way, one line each."""
    out = []
    for e in edges:
        src, dst = component(e.source), component(e.target)
        if e.target == "crmcore" and set(e.names) <= {"__version__"}:
            continue  # the version string
        if src == dst or dst in ALLOWED[src]:
            continue
        if dst in LAZY_ANYWHERE and e.in_function:
            continue
        where = "inside a function" if e.in_function else "at module level"
        out.append(f"{e.path}:{e.line}: {e.source} ({src}) imports {e.target} ({dst}) {where}")
    return out


def private_name_violations(edges: list[Edge]) -> list[str]:
    """Imports of another module's underscore names, or of a private module from outside the
    package that holds it."""
    out = []
    for e in edges:
        if e.target in SHARED_PRIVATE:
            e = attrs.evolve(e, target=e.target.replace("._", ".", 1))  # as if public
        for name in e.names:
            if name.startswith("_") and not name.startswith("__"):
                target = f"{e.target}.{name}"
                package = e.target
                own = e.source == package or e.source.startswith(package + ".")
                if own and _is_module(target):  # its own private module, ``from pkg import _m``
                    continue
                out.append(f"{e.path}:{e.line}: {e.source} imports {name} from {e.target}")
        parts = e.target.split(".")
        private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")]
        if private:
            owner = ".".join(parts[: private[0]])
            if not (e.source == owner or e.source.startswith(owner + ".")):
                out.append(f"{e.path}:{e.line}: {e.source} imports private module {e.target}")
    return out


def _is_module(dotted: str) -> bool:
    path = SRC.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


class TestContract:
    def test_every_module_has_a_component(self) -> None:
        """Every package under crmcore is placed in the order (a new one must be added)."""
        packages = {p.name for p in (SRC / "crmcore").iterdir() if (p / "__init__.py").exists()}
        assert {f"crmcore.{p}" for p in packages} <= set(COMPONENTS)

    def test_dependencies_point_one_way(self) -> None:
        """No import (module level, in a function, relative or by importlib) breaks the order."""
        assert layering_violations(import_edges(SRC)) == []

    def test_no_private_names_across_modules(self) -> None:
        """No module imports another module's underscore names."""
        assert private_name_violations(import_edges(SRC)) == []

    def test_edges_are_found(self) -> None:
        """The walk sees the imports the order allows (a checker that sees nothing passes all)."""
        edges = {(component(e.source), component(e.target)) for e in import_edges(SRC)}
        assert {("matching", "normalize"), ("governance", "conditions"),
                ("workflows", "conditions"), ("survivorship", "normalize")} <= edges


class TestCheckerFails:
    @pytest.fixture
    def tree(self, tmp_path: Path) -> Path:
        """A copy of the source tree to plant forbidden edges in."""
        shutil.copytree(SRC / "crmcore", tmp_path / "crmcore")
        return tmp_path

    @pytest.mark.parametrize(
        ("where", "code", "expected"),
        [
            ("governance/_planted.py", "def f():\n    from crmcore.workflows import engine\n",
             "crmcore.governance._planted (governance) imports crmcore.workflows (workflows)"),
            ("normalize/_planted.py", "from crmcore.matching import dedupe\n",
             "crmcore.normalize._planted (normalize) imports crmcore.matching (matching)"),
            ("workflows/_planted.py",
             "import importlib\nm = importlib.import_module('crmcore.matching.api')\n",
             "crmcore.workflows._planted (workflows) imports crmcore.matching.api (matching)"),
            ("io/_planted.py", "from ..survivorship import golden\n",
             "crmcore.io._planted (io) imports crmcore.survivorship (survivorship)"),
            ("matching/_planted.py", "def f():\n    from crmcore import governance\n",
             "crmcore.matching._planted (matching) imports crmcore.governance (governance)"),
        ],
    )
    def test_a_forbidden_edge_fails(self, tree: Path, where: str, code: str, expected: str) -> None:
        """A planted upward edge is reported, also inside a function, relative or by importlib."""
        (tree / "crmcore" / where).write_text(code, encoding="utf-8")
        found = layering_violations(import_edges(tree))
        assert any(expected in v for v in found), found

    def test_a_private_name_across_modules_fails(self, tree: Path) -> None:
        """Importing another module's underscore name, or a foreign private module, is reported."""
        (tree / "crmcore" / "governance" / "_planted.py").write_text(
            "from crmcore.matching.model import _helper\nfrom crmcore.io import _table\n",
            encoding="utf-8",
        )
        found = private_name_violations(import_edges(tree))
        assert any("imports _helper from crmcore.matching.model" in v for v in found), found
        assert any("imports _table from crmcore.io" in v for v in found), found
