"""The house reads top-down: diffhost (the composition root) -> gui, osc -> host -> engine.

Parsed from the source, so a new import that runs back up a layer, a Qt or torch import outside
its package, or an importlib-hidden import of our own modules fails here, naming file and line.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

LAYERS = {"diffhost": 3, "gui": 2, "osc": 2, "host": 1, "engine": 0}
OWN = set(LAYERS)


def _package_dir(layer: str) -> Path:
    """Where a layer's sources are: the checkout's top-level folders, or diffhost/* in an installed wheel."""
    spec = importlib.util.find_spec("diffhost" if layer == "diffhost" else f"diffhost.{layer}")  # no import
    assert spec is not None and spec.submodule_search_locations, f"diffhost.{layer} is not found"
    return Path(next(iter(spec.submodule_search_locations))).resolve()


ROOTS = {layer: _package_dir(layer) for layer in LAYERS}


def _where(file: Path) -> tuple[str, tuple[str, ...]]:
    """(layer, the module's package path below it); in a wheel, diffhost/ holds the other layers."""
    for layer, root in sorted(ROOTS.items(), key=lambda kv: len(kv[1].parts), reverse=True):
        if file.is_relative_to(root):
            return layer, file.relative_to(root).parts[:-1]
    raise ValueError(f"{file} is in no layer")


def _layer_of(file: Path) -> str:
    return _where(file)[0]


def _name(file: Path) -> str:
    layer, _ = _where(file)
    return f"{layer}/{file.relative_to(ROOTS[layer]).as_posix()}"


def _imports(tree: ast.AST, file: Path):
    layer, parts = _where(file)
    pkg = ".".join(("diffhost", *parts) if layer == "diffhost" else ("diffhost", layer, *parts))
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
    files = {f for root in ROOTS.values() for f in root.rglob("*.py")}
    return sorted(files, key=_name)


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


@pytest.mark.parametrize("file", _sources(), ids=_name)
def test_imports_run_down_the_layers_only(file: Path):
    problems = problems_in(file.read_text(encoding="utf-8"), file)
    assert not problems, f"{_name(file)}:\n" + "\n".join(problems)


def test_every_layer_has_sources():
    """Checkout or installed wheel, the walk above sees each layer's own files."""
    counts = {layer: 0 for layer in LAYERS}
    for file in _sources():
        counts[_layer_of(file)] += 1
    assert all(n >= 3 for n in counts.values()), counts


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
    problems = problems_in(bad, ROOTS["host"] / "audio" / "x.py")
    assert [p.split(":")[0] for p in problems] == ["1", "2", "3", "4", "7", "6"], problems
    assert problems_in("from diffhost.engine.request import GenerationRequest\n", ROOTS["host"] / "x.py") == []
