"""Imports run one way, app -> models -> cnnviz: the library never imports Streamlit, the zoo or the pages."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"cnnviz": {"streamlit", "app", "models"}, "models": {"streamlit", "app"}}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (at any depth of the file)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", [p for pkg in FORBIDDEN for p in sorted((ROOT / pkg).rglob("*.py"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_lower_layers_never_import_upper_ones(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    assert not imported_roots(path) & FORBIDDEN[package]
