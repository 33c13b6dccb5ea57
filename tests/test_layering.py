"""The layers, read from the imports (every import, including those inside functions): no cycle among
the project's modules, and no arrow against the layers

    models  <-  security  <-  activities  <-  workflows  <-  worker, starter, seller_client, commands, ...

with one more rule for workflows: they never import the database, nor an activity module that opens
it (they call activities by reference, workflows/activity_refs.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "security", "activities", "workflows", "commands", "devtools", "evidence")
TOP_LEVEL = ("worker", "starter", "seller_client", "codec_server", "demo")
DATABASE = "activities.storage.db"
# What each layer may import of the project (besides itself).
MAY_IMPORT = {
    "models": set(),
    "security": {"models"},
    "activities": {"models", "security"},
    "workflows": {"models", "security", "activities"},
}

Graph = dict[str, set[str]]


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in PACKAGES or (len(rel.parts) == 1 and rel.stem in TOP_LEVEL):
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph() -> Graph:
    paths = modules()
    graph: Graph = {}
    for name, path in paths.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in imported if m in paths and m != name}
    return graph


def layer(module: str) -> str:
    return module.split(".", 1)[0]


def reach(graph: Graph, start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def arrows_against_layers(graph: Graph) -> list[str]:
    wrong = []
    for module, imported in sorted(graph.items()):
        allowed = MAY_IMPORT.get(layer(module))
        if allowed is None:
            continue  # the entry points and tools sit above everything
        for target in sorted(imported):
            if layer(target) != layer(module) and layer(target) not in allowed:
                wrong.append(f"{module} -> {target}")
        if layer(module) == "workflows":
            for target in sorted(imported):
                if target == DATABASE or DATABASE in reach(graph, target):
                    wrong.append(f"{module} -> {target} (opens the database)")
    return wrong


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_project_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_import_runs_against_the_layers() -> None:
    graph = import_graph()
    assert {"models.contract", "workflows.seller_account", DATABASE} <= set(graph)
    assert arrows_against_layers(graph) == []


def test_the_checks_catch_what_they_forbid() -> None:
    graph: Graph = {
        "models.settings": {"security.credentials"},
        "security.credentials": {"models.settings"},
        "activities.audit": {DATABASE, "workflows.steps"},
        DATABASE: set(),
        "workflows.steps": {"activities.audit"},
        "activities.identity.canonical": set(),
        "workflows.opening": {"activities.identity.canonical"},
    }
    assert sorted(cycles(graph)) == [["activities.audit", "workflows.steps"], ["models.settings", "security.credentials"]]
    assert arrows_against_layers(graph) == [
        "activities.audit -> workflows.steps",
        "models.settings -> security.credentials",
        "workflows.steps -> activities.audit (opens the database)",
    ]


LONG_MODULE = 400


def modules_too_long_without_a_reason(paths: dict[str, Path]) -> list[str]:
    """A module in workflows/, activities/ or models/ over 400 lines says why in its docstring (issue 23),
    so that a long module is a decision, not drift."""
    found = []
    for name, path in sorted(paths.items()):
        if name.split(".")[0] not in ("workflows", "activities", "models"):
            continue
        text = path.read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > LONG_MODULE and "Over 400 lines" not in docstring:
            found.append(name)
    return found


def test_every_long_module_says_why(tmp_path: Path) -> None:
    assert modules_too_long_without_a_reason(modules()) == []
    long_text = "\n".join(f"x{i} = {i}" for i in range(LONG_MODULE + 1))
    (tmp_path / "silent.py").write_text('"""Holds numbers."""\n' + long_text)
    (tmp_path / "reasoned.py").write_text('"""Holds numbers. Over 400 lines: a table."""\n' + long_text)
    found = modules_too_long_without_a_reason(
        {"models.silent": tmp_path / "silent.py", "models.reasoned": tmp_path / "reasoned.py"}
    )
    assert found == ["models.silent"]
