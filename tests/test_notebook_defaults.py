"""The notebooks as a student opens them: every chapter runs with its own defaults.

* ``pytest --nbval-lax`` runs each source notebook (outputs stripped, its own defaults) in a
  fresh project folder, in chapter order, in its own kernel started in ``notebooks/`` as
  JupyterLab starts it; a cell that raises fails the chapter. Later chapters read the files
  the earlier ones wrote there, as they would in a fresh clone (``results/dev``).
* A chapter opened without its inputs stops in its first cell after the parameters, before
  loading any model, with the exact command that makes them; the command is checked against
  the pipeline.
* The study's sizes live in the profiles: ``full`` sets every size parameter of chapters
  00–05 explicitly, so small notebook defaults never change ``make book``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from synergy_utils import pipeline
from synergy_utils.notebooks import declared_parameters

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Seconds one chapter may take before nbval gives up on a cell (a hang, not a slow run).
CELL_TIMEOUT = 900
#: Chapters whose sizes this rule covers, and their numeric parameters that are not sizes.
NOT_SIZES: dict[str, set[str]] = {
    "00_setup": {"seed"},
    "01_phiid_primer": {"seed", "coupling", "ar_coefficient"},
    "02_extraction": {"seed"},
    "03_synergistic_cores": {"seed", "tau", "perturbation_std"},
    "04_phase_transition": {"seed", "tau", "batch_size"},
    "05_ablation": {"seed", "tau", "task_difficulty", "accuracy_fraction",
                    "relative_noise_std", "task_max_new_tokens"},
    "06_across_models": {"seed", "tau", "batch_size"},
}  # fmt: skip


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("MPLBACKEND", None)  # the kernels' own inline backend, as in JupyterLab
    env.pop("PYTEST_ADDOPTS", None)
    return env


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory) -> Path:
    """A folder laid out like a fresh clone: the source notebooks and ``_toc.yml``, no
    ``results/``."""
    root = tmp_path_factory.mktemp("fresh-clone")
    (root / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, root / "notebooks" / path.name)
    shutil.copy2(REPO / "_toc.yml", root / "_toc.yml")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_with_its_defaults(path: Path, fresh_project: Path):
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
           f"--nbval-cell-timeout={CELL_TIMEOUT}", "-p", "no:cacheprovider", "-q",
           "--rootdir", str(fresh_project), f"notebooks/{path.name}"]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=fresh_project, env=_kernel_env(), capture_output=True, text=True, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"nbval failed on {path.name}:\n{output[-6000:]}"
    assert re.search(r"\b\d+ passed\b", output), output[-2000:]


def _guard_error(name: str, project: Path) -> tuple[int, str]:
    """Run notebook ``name`` in an empty project; (index of the failing cell, its message)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    (project / "notebooks").mkdir(parents=True)
    shutil.copy2(REPO / "_toc.yml", project / "_toc.yml")
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
    )  # fmt: skip
    old = dict(os.environ)
    os.environ.update(_kernel_env())
    try:
        client.execute()
    except CellExecutionError as err:
        failed = next(
            i for i, c in enumerate(nb.cells)
            if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        )  # fmt: skip
        return failed, str(err)
    finally:
        os.environ.clear()
        os.environ.update(old)
    pytest.fail(f"{name} ran to the end without the files of the chapters before it")


@pytest.mark.parametrize(
    "name, needs",
    [("03_synergistic_cores", ["02_extraction"]),
     ("05_ablation", ["02_extraction", "03_synergistic_cores"])],
)  # fmt: skip
def test_a_chapter_without_its_inputs_stops_at_once_with_the_command(name, needs, tmp_path):
    failed, message = _guard_error(name, tmp_path / "project")
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert failed == params + 1, f"{name} stopped in cell {failed}, not right after parameters"
    assert "FileNotFoundError" in message
    assert not (tmp_path / "project" / "results").exists(), "nothing is written before it stops"
    match = re.search(r"^\s*(\.venv/bin/synergy run .+)$", message, flags=re.MULTILINE)
    assert match, f"no command in the message:\n{message}"
    args = shlex.split(match.group(1))[2:]
    assert args[0] == "--profile" and "--no-book" in args
    only = [args[i + 1] for i, a in enumerate(args) if a == "--only"]
    out = args[args.index("--out") + 1]
    assert only == needs and out == "results/dev"
    plan = pipeline.plan_run(args[1], project_dir=REPO, results_dir=tmp_path / out, only=only)
    assert [item.name for item in plan] == needs


@pytest.mark.parametrize("name", sorted(NOT_SIZES))
def test_the_full_profile_sets_every_size_of_the_study(name):
    declared = declared_parameters(REPO / "notebooks" / f"{name}.ipynb")
    sizes = {
        key
        for key, info in declared.items()
        if info["inferred_type_name"] in ("int", "float") and key not in NOT_SIZES[name]
    }
    full = pipeline.get_profile("full")["notebooks"].get(name) or {}
    assert sizes <= set(full), f"full profile lacks {sorted(sizes - set(full))} for {name}"
