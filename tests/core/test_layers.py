"""The layers hold: `lint-imports` keeps pyproject's contracts (no Qt in the engine; each
engine layer imports only from the layers below it), and no import circle ties modules
together, counting the imports inside functions (which a contract on top-level imports
alone would miss)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_layer_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "broken" in out.stdout and " 0 broken" in out.stdout


def import_graph(package: Path, top: str, level: str) -> dict[str, set[str]]:
    """``{node: nodes it imports}``: nodes are subpackages (``level="package"``) or modules;
    every import counts, at the top of a file or inside a function."""
    modules = {}
    for p in package.rglob("*.py"):
        parts = list(p.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = p

    def node(mod: str) -> str:
        parts = mod.split(".")
        return ".".join(parts[:2]) if level == "package" else mod

    edges: dict[str, set[str]] = {}
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for n in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    here = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    here = here[: len(here) - (n.level - 1)]
                    base = ".".join(here + ([n.module] if n.module else []))
                names = [base] + [f"{base}.{a.name}" for a in n.names]
            for t in names:
                if not (t == top or t.startswith(top + ".")):
                    continue
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and node(t) != node(mod):
                    edges.setdefault(node(mod), set()).add(node(t))
    return edges


def circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_circle_among_the_engine_packages():
    assert circles(import_graph(ROOT / "lossviz_core", "lossviz_core", "package")) == []


def test_no_import_circle_among_the_app_modules():
    # the app is installed as `lossviz`: its modules are named from the folder `app`
    assert circles(import_graph(ROOT / "app", "app", "module")) == []
