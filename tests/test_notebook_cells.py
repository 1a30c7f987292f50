"""Notebooks orchestrate, the package computes: short code cells, no torch from chapter 03 on,
and provenance built from the declared parameters (no hand-written list of names)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from synergy_utils.notebooks import declared_parameters, declared_values, notebook_path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 20
#: Notebooks allowed code cells over :data:`MAX_CELL_LINES` lines (parameter cells, one line
#: per parameter, never count), and why.
LONG_CELLS: dict[str, str] = {
    "03_synergistic_cores": "its guard cell; the chapter is being rewritten with the claim-1 rule",
    "04_phase_transition": "its loops are being moved into the phase chapter's run_study(Config)",
    "05_ablation": "its loops are being moved into the ablation chapter's run_study(Config)",
}
#: Notebooks from chapter 03 on allowed to import torch, and why.
TORCH_IMPORTS: dict[str, str] = {
    "05_ablation": "its model calls are being moved into the ablation chapter's run_study(Config)",
}
TORCH = re.compile(r"^\s*(import torch|from torch\b)", re.MULTILINE)


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    cells = nbformat.read(path, as_version=4).cells
    return [c for c in cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_code_cells_are_short(path: Path):
    long = [
        f"{path.stem}: a cell of {len(c.source.splitlines())} lines starting "
        f"{c.source.splitlines()[0]!r}"
        for c in _code_cells(path)
        if "parameters" not in c.metadata.get("tags", [])
        and len(c.source.splitlines()) > MAX_CELL_LINES
    ]
    if path.stem in LONG_CELLS:
        assert long, f"{path.stem}: no long cell left, drop its exemption"
    else:
        assert long == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_chapter_from_03_on_imports_torch(path: Path):
    imports = any(TORCH.search(c.source) for c in _code_cells(path))
    if int(path.stem[:2]) < 3:
        return
    if path.stem in TORCH_IMPORTS:
        assert imports, f"{path.stem}: no torch import left, drop its exemption"
    else:
        assert not imports, f"{path.stem} imports torch"


def test_exemptions_name_existing_notebooks():
    stems = {p.stem for p in NOTEBOOKS}
    assert set(LONG_CELLS) <= stems and set(TORCH_IMPORTS) <= stems


def test_provenance_takes_every_declared_parameter():
    names = list(declared_parameters(REPO / "notebooks" / "04_phase_transition.ipynb"))
    namespace = {name: index for index, name in enumerate(names)} | {"other": 1}
    values = declared_values("04_phase_transition", namespace)
    assert list(values) == names and "batch_size" in values and "other" not in values
    with pytest.raises(KeyError, match="tau"):
        declared_values("04_phase_transition", {k: v for k, v in namespace.items() if k != "tau"})
    assert notebook_path("04_phase_transition").name == "04_phase_transition.ipynb"
    with pytest.raises(FileNotFoundError):
        notebook_path("99_nothing")
