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


# The library's layers, lowest first: a subpackage imports only from its own layer and those below it.
# The public-name modules at the top of cnnviz/ (cnnviz.stepping, cnnviz.features, ...) only re-export.
LAYERS = ["paths", "lessons", "datasets", "inside", "nets", "training", "results"]
FACADES = {"stepping", "arithmetic", "netspec", "features", "cam", "featurevis", "attack", "attribution"}


def cnnviz_imports(path: Path) -> set[str]:
    """The cnnviz modules a file imports (`from cnnviz.x import y` counts y when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cnnviz.")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("cnnviz"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                found.add(dotted if (ROOT / (dotted.replace(".", "/") + ".py")).is_file() else node.module)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


LIBRARY = {module_name(p): p for p in sorted((ROOT / "cnnviz").rglob("*.py")) if p.name != "__init__.py"}


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[1])


def test_the_library_has_no_import_cycle() -> None:
    graph = {m: {d for d in cnnviz_imports(p) if d in LIBRARY} for m, p in LIBRARY.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in graph[m]:
            assert state.get(d) != 1, "import cycle: " + " -> ".join([*path, m, d][path.index(d) if d in path else 0:])
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("module", [m for m in LIBRARY if m.split(".")[1] not in FACADES])
def test_a_layer_imports_only_its_own_layer_and_those_below(module: str) -> None:
    upward = [d for d in cnnviz_imports(LIBRARY[module]) if d in LIBRARY and d.split(".")[1] not in FACADES
              and layer(d) > layer(module)]
    assert not upward, f"{module} (layer {LAYERS[layer(module)]}) imports {upward} from a higher layer"
    assert not [d for d in cnnviz_imports(LIBRARY[module]) if d.split(".")[1] in FACADES], \
        f"{module} imports a public-name module; import the home module instead"


def test_the_subpackages_init_files_are_empty_so_torch_free_imports_stay_torch_free() -> None:
    inits = sorted((ROOT / "cnnviz").rglob("__init__.py"))
    assert len(inits) == len(LAYERS)  # cnnviz/ itself and one per layer but paths
    for init in inits:  # at most a docstring: importing cnnviz.lessons imports nothing else
        body = ast.parse(init.read_text()).body
        assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), init


def test_each_public_name_is_its_home_modules_object() -> None:
    import importlib

    homes = {"stepping": ["lessons.stepping"], "arithmetic": ["lessons.arithmetic", "nets.tables"],
             "netspec": ["nets.netspec", "nets.builder"], "features": ["inside.features"], "cam": ["inside.cam"]}
    for facade, modules in homes.items():
        public = importlib.import_module(f"cnnviz.{facade}")
        for home in modules:
            source = importlib.import_module(f"cnnviz.{home}")
            names = getattr(source, "__all__", [n for n in vars(source) if not n.startswith("_")])
            shared = [n for n in names if hasattr(public, n)]
            assert shared and all(getattr(public, n) is getattr(source, n) for n in shared)
    from cnnviz import arithmetic, cam, features, netspec, stepping  # the names earlier issues spelled out
    assert callable(stepping.convolve2d) and callable(arithmetic.conv_output_size)
    assert callable(arithmetic.layer_table) and callable(netspec.parse) and callable(netspec.build)
    assert callable(features.extract) and callable(cam.grad_cam)
