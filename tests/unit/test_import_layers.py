"""The layering of docs/architecture.md, read from the code: imports only go down, and no module cycle.

Every `import knowtune...` / `from knowtune... import` in src/knowtune counts, function-local ones
included (a lazy import is still a dependency). A package knowtune does not know yet fails the check:
give it a place in LAYERS (and a paragraph in docs/architecture.md) first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. A module may import from its own layer and the ones before it.
LAYERS = [
    ("the base (errors, fileio, config, upstream, models)",
     ("knowtune.errors", "knowtune.fileio", "knowtune.config", "knowtune.upstream", "knowtune.models")),
    ("data", ("knowtune.data",)),
    ("evaluate", ("knowtune.evaluate",)),
    ("synth", ("knowtune.synth",)),
    ("train", ("knowtune.train",)),
    ("experiments and deploy", ("knowtune.experiments", "knowtune.deploy")),
    ("the command line (cli)", ("knowtune.cli", "knowtune.__main__")),
]

def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / "knowtune").rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, module) for each knowtune module `path` imports; `from a import b` is a.b when b is a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "knowtune"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "knowtune":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
    return found


def layer(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return index
    return None


def graph() -> dict[str, list[tuple[int, str]]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def cycles(edges: dict[str, list[tuple[int, str]]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for _, w in edges.get(v, []):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or any(w == v for _, w in edges[v]):
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in modules() if m != "knowtune" and layer(m) is None)
    assert not unplaced, (
        f"{', '.join(unplaced)}: in no layer; add the package to LAYERS in {Path(__file__).name} "
        "and a paragraph to docs/architecture.md"
    )


def test_imports_only_go_down():
    upward = []
    for importer, targets in graph().items():
        for line, imported in targets:
            low, high = layer(importer), layer(imported)
            if low is not None and high is not None and high > low:
                path = modules()[importer].relative_to(SRC.parent)
                upward.append(f"{path}:{line} imports {imported}: {LAYERS[low][0]} may not import from "
                              f"{LAYERS[high][0]}, a higher layer (see docs/architecture.md)")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in found)


@pytest.mark.parametrize("source, expected", [
    ("from knowtune.experiments.status import duration\n", "knowtune.experiments.status"),
    ("import knowtune.cli\n", "knowtune.cli"),
])
def test_the_check_sees_an_upward_import(tmp_path, source, expected):
    """The parser finds what the layer check needs: a data module importing experiments or cli is upward."""
    (tmp_path / "mod.py").write_text(source, encoding="utf-8")
    [(line, imported)] = imports(tmp_path / "mod.py", {})
    assert (line, imported) == (1, expected)
    assert layer(imported) > layer("knowtune.data.clean")
    assert cycles({"a": [(1, "b")], "b": [(1, "a")], "c": [(1, "a")]}) == [{"a", "b"}]
