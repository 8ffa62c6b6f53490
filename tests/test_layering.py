"""Imports flow one way (docs/architecture.md): tmkt_sweep → tmkt_deploy → (bridge.py only) → tmkt_train →
tmkt_common, and no cycle between modules or between the subpackages of a package. Read from the source's
import statements (function-level ones too), so a lazy import cannot hide an upward edge."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tmkt_common", "tmkt_train", "tmkt_deploy", "tmkt_sweep")
ALLOWED = {"tmkt_common": {"tmkt_common"}, "tmkt_train": {"tmkt_common", "tmkt_train"},
           "tmkt_deploy": {"tmkt_common", "tmkt_deploy"}, "tmkt_sweep": set(PACKAGES)}
BRIDGE = "tmkt_deploy.bridge"  # the one module of tmkt_deploy that may import tmkt_train


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(module: str) -> set[str]:
    """The tmkt modules `module` imports (`from pkg import submodule` counts as the submodule), its own
    ancestor packages left out."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                      for alias in node.names}
    # `from . import app` in a submodule of a package whose __init__ defines `app` (the CLIs' registration)
    # reads the parent, already executing: not an edge
    return {name for name in found if name.split(".")[0] in PACKAGES and not module.startswith(f"{name}.")}


GRAPH = {module: _imports(module) for module in MODULES}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    return next((c for node in sorted(edges) if node not in state and (c := visit(node))), None)


def test_imports_flow_downward():
    upward = []
    for module, targets in GRAPH.items():
        top = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other in ALLOWED[top] or (module == BRIDGE and other == "tmkt_train"):
                continue
            upward.append(f"{module} imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_modules_or_subpackages():
    assert _cycle(GRAPH) is None, f"import cycle: {' -> '.join(_cycle(GRAPH))}"
    unit = {m: ".".join(m.split(".")[:2]) for m in MODULES}
    units: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        units.setdefault(unit[module], set()).update(unit[t] for t in targets if unit[t] != unit[module])
    assert _cycle(units) is None, f"subpackage cycle: {' -> '.join(_cycle(units))}"


def test_the_layering_check_sees_an_upward_import():
    assert f"{BRIDGE}" in MODULES and any(t.startswith("tmkt_train") for t in GRAPH[BRIDGE])
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_common_and_config_import_neither_torch_nor_lava():
    """What both halves share, and a run's config, load without the heavy stack."""
    common = [m for m in MODULES if m.startswith("tmkt_common")]
    code = (f"import sys\nfor m in {[*common, 'tmkt_train.config']!r}: __import__(m)\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lava'))\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
