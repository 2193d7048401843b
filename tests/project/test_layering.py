"""The import direction: every module's imports (read with `ast`, not run) against the layering of the tree.

    commands -> reporting -> scenarios -> execution -> engines / tiers / analysis / store -> core
    workloads import only bench.core and kernels; kernels import nothing from bench.

A room is a folder of bench/ (bench/cli.py and bench/__main__.py are the entry point, `cli`), or the top-level
package `workloads` or `kernels`. ALLOWED is the one table of edges: a module of a room may import the rooms
listed for it, and modules of its own room. Third-party and standard-library imports are not checked here.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# room -> rooms it may import (besides itself). Why the sideways edges exist:
#   engines -> tiers     layout checks a tier's free space with bench.tiers.guard before laying files out
#   engines -> workloads the Spark engine runs terasort's own teragen and valsort validation around its sort
#   tiers -> store       emulation writes its state with bench.store.runs.atomic_write_text
#   tiers -> workloads   the guard sizes a plan from the workloads' declared needs
#   analysis -> store    compare reads stored runs and checks their schema
#   analysis -> kernels  metrics merge fio's latency bins (kernels.latency_bins, plain Python)
#   reporting -> scenarios  the HTML report shows the hadoop-tempdata findings and cluster model of a scenario run
ALLOWED = {
    "core": set(),
    "kernels": set(),
    "workloads": {"core", "kernels"},
    "store": {"core"},
    "tiers": {"core", "store", "workloads"},
    "engines": {"core", "tiers", "kernels", "workloads"},
    "analysis": {"core", "store", "kernels"},
    "execution": {"core", "store", "tiers", "engines", "analysis", "workloads", "kernels"},
    "scenarios": {"core", "store", "tiers", "engines", "analysis", "execution", "workloads", "kernels"},
    "reporting": {"core", "store", "tiers", "engines", "analysis", "execution", "scenarios", "workloads", "kernels"},
    "commands": {"core", "store", "tiers", "engines", "analysis", "execution", "scenarios", "reporting",
                 "workloads", "kernels"},
    "cli": {"commands", "core"},
    # `bench` itself: bench/__init__.py (the version); anything may read it
    "bench": set(),
}
ROOMS = set(ALLOWED)
PYX_IMPORT = re.compile(r"^\s*(from|import|cimport)\s+([\w.]+)")


def room_of_module(dotted: str) -> str | None:
    """The room of a module or package name (`bench.analysis.stats` -> analysis), None when outside ours."""
    parts = dotted.split(".")
    if parts[0] in ("kernels", "workloads"):
        return parts[0]
    if parts[0] != "bench":
        return None
    if len(parts) == 1 or parts[1].startswith("__") and parts[1] != "__main__":
        return "bench"     # the package itself (its __version__)
    if parts[1] in ("cli", "__main__"):
        return "cli"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list:
    """(line, dotted name) of every import in a module, relative imports resolved; `from X import y` gives X.y
    when y may be a submodule, so that `from bench import stats` counts as bench.stats."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            for alias in node.names:
                submodule = node.module is None or base == "bench"
                out.append((node.lineno, f"{base}.{alias.name}" if submodule else base))
    return out


def violations(source: str, module: str, is_package: bool = False) -> list:
    """Every import of `module` (its source text) that goes against ALLOWED, as readable lines."""
    own = room_of_module(module)
    if own is None:
        return []
    bad = []
    for line, name in imported_names(ast.parse(source), module, is_package):
        target = room_of_module(name)
        if target is None or target == own:
            continue
        if target == "bench":      # the package's own __init__ (its version): not for kernels or workloads
            if own in ("kernels", "workloads"):
                bad.append(f"{module}:{line} imports {name}: {own} may not import bench")
        elif target not in ROOMS:
            bad.append(f"{module}:{line} imports {name}: {target!r} is no room in the layering table")
        elif target not in ALLOWED[own]:
            bad.append(f"{module}:{line} imports {name}: {own} may not import {target}")
    return bad


def pyx_imports(text: str) -> str:
    """Cython is not Python: the module named by each import/cimport line of a .pyx, as Python imports."""
    return "\n".join(f"import {m.group(2)}" if (m := PYX_IMPORT.match(line)) else "" for line in text.splitlines())


def our_modules() -> list:
    files = [p for folder in ("bench", "kernels", "workloads") for p in sorted((ROOT / folder).rglob("*.py"))]
    files += sorted((ROOT / "kernels").glob("*.pyx"))
    return files


def test_every_room_is_in_the_table():
    rooms = {p.name for p in (ROOT / "bench").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms <= ROOMS, f"bench/ rooms not in the layering table: {sorted(rooms - ROOMS)}"


def test_no_module_imports_against_the_layering():
    bad = []
    for path in our_modules():
        source = path.read_text()
        if path.suffix == ".pyx":
            source = pyx_imports(source)
        bad += violations(source, module_name(path), path.name == "__init__.py")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_flat_modules_left_in_bench():
    """bench/ holds rooms; at its top only the entry point and the package's own file."""
    flat = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "cli.py"], flat


@pytest.mark.parametrize("module, source", [
    ("kernels.ioloop_ref", "from bench.core.errors import CaseError\n"),
    ("kernels.sort_ref", "import bench\n"),
    ("workloads.terasort", "from bench.execution.runner import Runner\n"),
    ("bench.core.sample", "from bench.analysis import stats\n"),
    ("bench.store.runs", "from bench.analysis.compare import load_any\n"),
    ("bench.engines.builtin", "from bench import runner\n"),
    ("bench.execution.plan", "from ..scenarios.hadoop_tempdata import scenario\n"),
    ("bench.analysis.stats", "def f():\n    from bench.reporting.table import run_table\n"),
    ("bench.tiers.detect", "from bench.nowhere import x\n"),
])
def test_a_planted_violation_is_caught(module, source):
    assert violations(source, module), f"{module}: {source!r} passed the layering check"


def test_a_planted_violation_in_cython_is_caught():
    text = "from libc.stdint cimport int64_t\nfrom kernels.crc32c cimport crc32c_update\n" \
           "from bench.core.pattern import Phase\n"
    assert violations(pyx_imports(text), "kernels.ioloop") == [
        "kernels.ioloop:3 imports bench.core.pattern: kernels may not import core"]


@pytest.mark.parametrize("module, source", [
    ("kernels.ioloop_ref", "import numpy\nfrom kernels.latency_bins import PLAT_NR\n"),
    ("workloads.terasort", "from bench.core.errors import CaseError\nimport kernels\n"),
    ("bench.commands.run", "from bench.execution.runner import Runner\nfrom bench import __version__\n"),
    ("bench.execution.plan", "from . import config\nfrom ..core.case import case_key\n"),
    ("bench.analysis.compare", "from bench.store.runs import check_schema\n"),
])
def test_an_allowed_import_passes(module, source):
    assert violations(source, module, module.count(".") == 0) == []


def import_graph(files: list) -> dict:
    """module -> the modules of ours it imports (at its top or inside a function; packages count as modules)."""
    names = {module_name(p): p for p in files if p.suffix == ".py"}
    graph = {}
    for name, path in names.items():
        found = imported_names(ast.parse(path.read_text()), name, path.name == "__init__.py")
        graph[name] = {target for _, target in found if target in names and target != name}
    return graph


def cycles(graph: dict) -> list:
    """The import cycles of `graph` (strongly connected sets of two or more modules), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_modules():
    """Within a room too: a cycle hidden in a function-level import is still a cycle (the tier guard and tier
    detection had one; the scenario and its findings had another)."""
    found = cycles(import_graph(our_modules()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_a_planted_cycle_is_caught():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
