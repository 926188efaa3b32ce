"""The house reads top-down: diffhost (the composition root) -> gui, osc -> host -> engine.

Parsed from the source, so a new import that runs back up a layer, a Qt or torch import outside
its package, or an importlib-hidden import of our own modules fails here, naming file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"diffhost": 3, "gui": 2, "osc": 2, "host": 1, "engine": 0}
OWN = set(LAYERS)


def _layer_of(file: Path) -> str:
    top = file.relative_to(ROOT).parts[0]
    return top


def _imports(tree: ast.AST, file: Path):
    pkg = ".".join(("diffhost", *file.relative_to(ROOT).parts[:-1]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                yield node.lineno, ".".join([*base, node.module] if node.module else base)
            else:
                yield node.lineno, node.module or ""


def _sources():
    for top in LAYERS:
        yield from sorted((ROOT / top).rglob("*.py"))


def problems_in(source: str, file: Path) -> list[str]:
    here = _layer_of(file)
    tree = ast.parse(source)
    problems = []
    for line, name in _imports(tree, file):
        parts = name.split(".")
        if parts[0] in OWN - {"diffhost"}:
            problems.append(f"{line}: bare `{name}`: import it as diffhost.{name}")
            continue
        if parts[0] == "diffhost" and len(parts) > 1 and parts[1] in LAYERS:
            there = parts[1]
            if LAYERS[there] > LAYERS[here] or (LAYERS[there] == LAYERS[here] and there != here):
                problems.append(f"{line}: {here}/ imports {name} (runs up or across a layer)")
        elif parts[0] == "diffhost" and parts[1:2] in (["cli"], ["commands"], ["runtime"]) and here != "diffhost":
            problems.append(f"{line}: {here}/ imports the composition root ({name})")
        if parts[0] == "PyQt6" and here != "gui":
            problems.append(f"{line}: Qt outside gui/ ({name})")
        if parts[0] in ("torch", "diffusers", "transformers") and here != "engine":
            problems.append(f"{line}: {parts[0]} outside engine/ ({name})")
    for node in ast.walk(tree):  # importlib.import_module("diffhost....") hides a dependency
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] in OWN
        ):
            problems.append(f"{node.lineno}: hidden import of {node.args[0].value}; use a plain import")
    return problems


@pytest.mark.parametrize("file", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_down_the_layers_only(file: Path):
    problems = problems_in(file.read_text(encoding="utf-8"), file)
    assert not problems, f"{file.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_checker_catches_each_kind_of_breach():
    """The rule above must be able to fail."""
    bad = (
        "from diffhost.gui.app import run\n"
        "import torch\n"
        "from engine.request import GenerationRequest\n"
        "from ...osc import server\n"
        "import importlib\nimportlib.import_module('diffhost.gui')\n"
        "from diffhost.runtime import build_runtime\n"
    )
    problems = problems_in(bad, ROOT / "host" / "audio" / "x.py")
    assert [p.split(":")[0] for p in problems] == ["1", "2", "3", "4", "7", "6"], problems
    assert problems_in("from diffhost.engine.request import GenerationRequest\n", ROOT / "host" / "x.py") == []
