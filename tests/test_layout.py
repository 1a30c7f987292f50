"""The package's layers and their import rules, checked on the source (``ast``), not by running it.

* :data:`LAYERS` is the one ordered list of layers, the README's "Layout": a module imports only
  modules of its own layer or of earlier ones, imports inside functions included;
* the estimator (``synergy_utils.phiid``) imports numpy, scipy, numba and itself only;
* torch and transformers are imported in the language-model layer (``synergy_utils.lm``) only,
  and importing any report module (figures, tables, claims, the book) does not import torch;
* computation never imports a plotting library;
* modules stay within 600 lines and functions within 80 (docstring excluded), but for the
  named exemptions below, each with its reason.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "synergy_utils"
STDLIB = set(sys.stdlib_module_names)

#: The layers, in order: (name, the top-level modules or subpackages in it). The package's own
#: ``__init__`` is a lazy facade over all of them and imports none at import time.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("estimator", ("phiid",)),
    ("statistics", ("stats",)),
    ("data", ("series", "results", "schema", "summary", "notebooks")),
    ("systems of known truth", ("simulation", "simulation_geometry")),
    ("language models", ("lm",)),
    ("stages", ("stages",)),
    ("report", ("report",)),
    ("pipeline", ("pipeline", "chapters")),
    ("sweep", ("sweep",)),
    ("command line", ("cli",)),
)
COMPUTATION_LAYERS = ("estimator", "statistics", "data", "systems of known truth", "stages")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: Modules allowed to be longer, and why.
LONG_MODULES: dict[str, str] = {
    "synergy_utils.phiid._kernels": (
        "the compiled pair formulas and the all-pairs kernels built on them stay in one file, "
        "so that numba's on-disk cache (keyed on the file) never mixes an edited formula with "
        "stale compiled kernels"
    ),
    "synergy_utils.lm.teacher_forcing": "602 lines; being split with the ablation chapter's code",
    "synergy_utils.stages.cores": "623 lines; being split with the claim-1 and claim-2 rules",
    "synergy_utils.stages.phase": "602 lines; being split into the phase chapter's run_study",
    "synergy_utils.summary": (
        "623 lines with the claim-1 evidence; to be split into one module per section"
    ),
}
#: Functions allowed to be longer, and why.
LONG_FUNCTIONS: dict[str, str] = {
    "synergy_utils.phiid._cuda._build": (
        "83 lines: the CUDA kernels are defined inside it, so that numba.cuda is imported only "
        "when a GPU is asked for; being split with the engine's kernels"
    ),
}


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path], package: Path = PACKAGE) -> set[str]:
    """Absolute names of every module ``path`` imports, at any depth of the file (``from a
    import b`` counts as ``a.b`` when that is a module, else as ``a``)."""
    name = _module_name(path, package)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.add(full if full in modules else module)
    return found


def _layer(name: str, top: str, layers=LAYERS) -> int | None:
    """Index in ``layers`` of the module ``name`` of the package ``top`` (None: not ours, or
    the package's facade ``__init__``)."""
    if not name.startswith(f"{top}."):
        return None
    first = name[len(top) + 1 :].split(".")[0]
    return next((i for i, (_, rooms) in enumerate(layers) if first in rooms), -1)


def layer_violations(package: Path = PACKAGE, layers=LAYERS) -> list[str]:
    """Every import of a later layer (or of the facade, or by a module in no layer)."""
    modules = _modules(package)
    top = package.name
    problems = []
    for name, path in modules.items():
        own = _layer(name, top, layers)
        if own is None:
            continue  # the facade
        if own < 0:
            problems.append(f"{name} is in no layer: add it to LAYERS and the README")
            continue
        for module in sorted(_imports(path, modules, package)):
            if module == top:
                problems.append(f"{name} imports the package facade {top}")
            other = _layer(module, top, layers)
            if other is not None and other > own:
                problems.append(
                    f"{name} ({layers[own][0]}) imports {module} ({layers[other][0]}): later"
                )
    return problems


def test_no_module_imports_a_later_layer():
    assert layer_violations() == []


def test_a_wrong_import_breaks_the_layer_rule(tmp_path: Path):
    """A synthetic package: the rule accepts imports of earlier layers and refuses a later one,
    at module level or inside a function, relative or absolute."""
    layers = (("low", ("low",)), ("mid", ("mid",)), ("high", ("high",)))
    pkg = tmp_path / "pkg"
    for sub in ("low", "mid", "high"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("import os\n")
    (pkg / "mid" / "b.py").write_text("from ..low import a\nfrom pkg.low.a import os\n")
    (pkg / "high" / "c.py").write_text("from ..mid import b\nimport pkg.low.a\n")
    assert layer_violations(pkg, layers) == []
    (pkg / "low" / "d.py").write_text("def f():\n    from ..mid import b\n    return b\n")
    (pkg / "mid" / "e.py").write_text("import pkg.high.c\n")
    (pkg / "stray.py").write_text("")
    found = layer_violations(pkg, layers)
    assert any(p.startswith("pkg.low.d (low) imports pkg.mid.b (mid)") for p in found), found
    assert any(p.startswith("pkg.mid.e (mid) imports pkg.high.c (high)") for p in found), found
    assert any(p.startswith("pkg.stray is in no layer") for p in found), found
    assert len(found) == 3, found


def test_the_layers_are_the_readmes_layout():
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :].split("\n## ")[0]
    positions = []
    for _, rooms in LAYERS:
        for room in rooms:
            needle = f"{room}.py`" if (PACKAGE / f"{room}.py").exists() else f"/{room}/`"
            assert needle in layout, f"README's layout does not name {room}"
            positions.append(layout.index(needle))
    assert positions == sorted(positions), "the README lists the layers in another order"


def test_the_estimator_imports_numpy_scipy_and_numba_only():
    allowed = {"numpy", "scipy", "numba", "llvmlite", "tqdm"}  # numba's backend; progress bars
    modules = _modules()
    bad = [
        (name, module)
        for name, path in modules.items()
        if _layer(name, "synergy_utils") == 0
        for module in _imports(path, modules)
        if module.split(".")[0] not in STDLIB | allowed and not module.startswith("synergy_utils")
    ]
    assert bad == []


def test_only_the_language_model_layer_imports_torch():
    modules = _modules()
    bad = [
        (name, module)
        for name, path in modules.items()
        if not (name == "synergy_utils.lm" or name.startswith("synergy_utils.lm."))
        for module in _imports(path, modules)
        if module.split(".")[0] in ("torch", "transformers", "accelerate")
    ]
    assert bad == []


def test_computation_never_imports_plotting():
    modules = _modules()
    index = [name for name, _ in LAYERS]
    computation = {index.index(name) for name in COMPUTATION_LAYERS}
    bad = [
        (name, module)
        for name, path in modules.items()
        if _layer(name, "synergy_utils") in computation
        for module in _imports(path, modules)
        if module.split(".")[0] in ("matplotlib", "seaborn", "plotly")
    ]
    assert bad == []


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in _modules().items():
        source = path.read_text()
        if name not in LONG_MODULES and source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = _code_lines(node)
                if length > MAX_FUNCTION_LINES and f"{name}.{node.name}" not in LONG_FUNCTIONS:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_every_exemption_is_still_needed():
    modules = _modules()
    for name in LONG_MODULES:
        assert modules[name].read_text().count("\n") > MAX_MODULE_LINES, f"{name}: drop it"
    for qualified in LONG_FUNCTIONS:
        module, _, function = qualified.rpartition(".")
        lengths = [
            _code_lines(node)
            for node in ast.walk(ast.parse(modules[module].read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
        ]
        assert lengths and max(lengths) > MAX_FUNCTION_LINES, f"{qualified}: drop it"


def _code_lines(node: ast.AST) -> int:
    """Lines of a function without its docstring."""
    length = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            length -= body[0].end_lineno - body[0].lineno + 1
    return length


def test_the_public_api_loads_without_torch():
    code = (
        "import sys, synergy_utils as s; s.phiid_pairwise; s.HeadSeries; s.synergy_gradient; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert sorted(s.__all__) == s.__all__"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_report_layer_loads_without_torch():
    """Drawing a figure or a table from saved files needs no torch: every report module."""
    report = sorted(n for n in _modules() if n.startswith("synergy_utils.report."))
    code = (
        "import importlib, sys\n"
        f"for name in {report!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'torch' not in sys.modules, f'torch imported through {name}'\n"
    )
    assert "synergy_utils.report.figures_ablation" in report
    assert "synergy_utils.report.tables" in report
    subprocess.run([sys.executable, "-c", code], check=True)
