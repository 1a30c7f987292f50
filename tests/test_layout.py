"""The package's rooms and their import rules, checked on the source (``ast``), not by running it.

* the estimator (``synergy_utils.phiid``) imports numpy, scipy, numba and itself only;
* torch and transformers are imported in the language-model layer (``synergy_utils.lm``) only;
* computation (estimator, statistics, stages, data files) never imports the report layer or a
  plotting library;
* nothing in the library imports the command line (``synergy_utils.cli``);
* modules stay under about 600 lines and functions under about 80.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "synergy_utils"
STDLIB = set(sys.stdlib_module_names)
COMPUTATION = (
    "phiid", "stats", "stages", "series", "results", "schema", "summary", "simulation",
)  # fmt: skip
MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 85  # "about 80"
#: Modules allowed to be longer, and why.
LONG_MODULES: dict[str, str] = {
    "synergy_utils.phiid._kernels": (
        "the compiled pair formulas and the all-pairs kernels built on them stay in one file, "
        "so that numba's on-disk cache (keyed on the file) never mixes an edited formula with "
        "stale compiled kernels"
    ),
}
#: Functions allowed to be longer, and why.
LONG_FUNCTIONS: dict[str, str] = {
    "synergy_utils.phiid.gaussian._gaussian_knowns_into": (
        "the numpy reference kernel: the closed-form determinants written out with "
        "preallocated scratch arrays; splitting it would add temporaries to the hot loop"
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _in(name: str, room: str) -> bool:
    return name == f"synergy_utils.{room}" or name.startswith(f"synergy_utils.{room}.")


def test_the_package_has_its_rooms():
    for room in ("phiid", "stats", "lm", "stages", "report"):
        assert any(_in(name, room) for name in MODULES), room


@pytest.mark.parametrize("name", [n for n in MODULES if _in(n, "phiid")])
def test_the_estimator_imports_numpy_scipy_and_numba_only(name):
    allowed = {"numpy", "scipy", "numba", "llvmlite", "tqdm"}  # numba's backend; progress bars
    for module in _imports(MODULES[name]):
        top = module.split(".")[0]
        assert top in STDLIB or top in allowed or _in(module, "phiid"), (name, module)


@pytest.mark.parametrize("name", list(MODULES))
def test_only_the_language_model_layer_imports_torch(name):
    if _in(name, "lm"):
        return
    for module in _imports(MODULES[name]):
        assert module.split(".")[0] not in ("torch", "transformers", "accelerate"), (name, module)


@pytest.mark.parametrize("name", [n for n in MODULES if any(_in(n, r) for r in COMPUTATION)])
def test_computation_never_imports_the_report_layer_or_plotting(name):
    for module in _imports(MODULES[name]):
        assert not _in(module, "report"), (name, module)
        assert module.split(".")[0] not in ("matplotlib", "seaborn", "plotly"), (name, module)


@pytest.mark.parametrize("name", [n for n in MODULES if n != "synergy_utils.cli"])
def test_the_library_never_imports_the_command_line(name):
    assert not any(_in(m, "cli") for m in _imports(MODULES[name])), name


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_and_functions_stay_small(name):
    path = MODULES[name]
    source = path.read_text()
    if name not in LONG_MODULES:
        assert source.count("\n") <= MAX_MODULE_LINES, f"{name}: {source.count(chr(10))} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = _code_lines(node)
            if f"{name}.{node.name}" in LONG_FUNCTIONS:
                continue
            assert length <= MAX_FUNCTION_LINES, f"{name}.{node.name}: {length} lines"


def _code_lines(node: ast.AST) -> int:
    """Lines of a function without its docstring."""
    length = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            length -= body[0].end_lineno - body[0].lineno + 1
    return length


def test_the_public_api_loads_without_torch():
    import subprocess

    code = (
        "import sys, synergy_utils as s; s.phiid_pairwise; s.HeadSeries; s.synergy_gradient; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert sorted(s.__all__) == s.__all__"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
