"""The shape architecture.md asks for, checked from the source: no import circle among the project's
modules (function-level imports included), and every module short enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nesinterp", "data_prep")
MAX_LINES = 400


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file, with the packages that importing them
    runs (``from .evaluate.music import x`` runs nesinterp/evaluate/__init__.py too), except its own."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                own_package = name == candidate or name.startswith(candidate + ".")
                if candidate in modules and not own_package:
                    found.add(candidate)
    return found


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_is_read_from_every_module():
    modules = project_modules()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    assert "nesinterp.train" in modules and "nesinterp.io.readers" in graph["nesinterp.render"]
    assert "nesinterp.evaluate" in graph["nesinterp.bench"]  # a submodule import runs its package
    assert "nesinterp" not in graph["nesinterp.score"]  # a module's own package is not a dependency
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_among_the_project_modules():
    """No exceptions: formats live in nesinterp.io (below data_prep, which builds datasets on them), and
    Score's conversions reach nesinterp.io.interop through score.CONVERSIONS, which the package sets."""
    modules = project_modules()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    assert "nesinterp.io.interop" in graph["nesinterp"] and not graph["nesinterp.score"] - {"nesinterp.errors"}
    cycle = import_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_formats_and_ingestion_never_import_torch():
    """nesinterp.io and data_prep read and write music with numpy alone (prep runs without torch)."""
    modules = project_modules()
    for name, path in modules.items():
        if name.startswith(("nesinterp.io", "data_prep")):
            source = path.read_text()
            assert "import torch" not in source and "from torch" not in source, name


def test_no_module_is_longer_than_one_sitting():
    files = sorted(p for package in ("nesinterp", "data_prep") for p in (ROOT / package).rglob("*.py"))
    assert len(files) > 60
    long = {str(path.relative_to(ROOT)): n for path in files if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (give each job its own module): {long}"


def test_importing_the_package_loads_neither_torch_nor_data_prep():
    import subprocess
    import sys

    code = ("import sys, nesinterp; from nesinterp import Score; "
            "print(sorted(m for m in ('torch', 'data_prep') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
