"""The *Downloads* box under each chapter of the book: the executed notebook, the chapter's
result files (:data:`RESULT_FILES`) and ``summary.json``, copied into the staged book and
linked with Sphinx's ``download`` role."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

#: Cell metadata key that marks the reproducibility box (so a second call does not add one).
BOX_MARKER = "synergy_reproducibility_box"
#: Cell metadata key that marks the downloads box.
DOWNLOADS_MARKER = "synergy_downloads_box"
#: Folder (inside the staged ``book/``) of the files offered for download, one per notebook.
DOWNLOADS_DIR = "downloads"
#: Result files each chapter writes into the run's results folder (glob patterns); every
#: chapter also offers its executed notebook and ``summary.json``. A chapter not listed
#: offers files whose name starts with its stage name (the part after ``NN_``).
RESULT_FILES: dict[str, tuple[str, ...]] = {
    "00_setup": (),
    "01_phiid_primer": (),
    "02_extraction": ("series.nc",),
    "03_synergistic_cores": ("head_scores*", "cores.nc", "cores_null_*.nc"),
    "04_phase_transition": ("phase.json", "phase_*.nc"),
    "05_ablation": ("ablation_*.nc", "ablation_*.csv", "ablation_*.provenance.json"),
    "06_across_models": ("models/*.json", "models/*.nc"),
}
#: Result files larger than this are named with their path instead of copied into the book.
MAX_DOWNLOAD_BYTES = 50 * 1024**2


@dataclass(frozen=True)
class Download:
    label: str  # the link text (a file name)
    path: Path | None  # relative to the staged book/ folder; None: too large, not copied
    size: int  # bytes
    note: str = ""


def _fmt_bytes(size: int) -> str:
    unit, scale = next(((u, k) for u, k in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024))
                        if size >= k), ("B", 1))  # fmt: skip
    return f"{size / scale:.1f} {unit}" if scale > 1 else f"{size} B"


def result_files(results_dir: Path, name: str) -> list[Path]:
    """The result files of notebook ``name`` that exist in ``results_dir`` (sorted, unique)."""
    patterns = RESULT_FILES.get(name, (f"{name.split('_', 1)[-1]}*.*",))
    found = [p for pat in patterns for p in sorted(Path(results_dir).glob(pat)) if p.is_file()]
    return list(dict.fromkeys(found))


def stage_downloads(book_dir: Path, results_dir: Path, name: str) -> list[Download]:
    """Copy notebook ``name``'s executed copy, result files and ``summary.json`` into
    ``book_dir/downloads/name/``; return what was offered (files over
    :data:`MAX_DOWNLOAD_BYTES` are named, not copied)."""
    target = Path(book_dir) / DOWNLOADS_DIR / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    executed = Path(results_dir) / "notebooks" / f"{name}.ipynb"
    executed = executed if executed.exists() else Path(book_dir) / "notebooks" / f"{name}.ipynb"
    summary = Path(results_dir) / "summary.json"
    notes = {
        executed: "this chapter as it ran, with every output",
        summary: "the headline numbers of every chapter of this run",
    }
    offered = []
    for path in [executed, *result_files(results_dir, name), summary]:
        if not path.exists():
            continue
        size, rel = path.stat().st_size, Path(DOWNLOADS_DIR) / name / path.name
        if size <= MAX_DOWNLOAD_BYTES:
            shutil.copy2(path, Path(book_dir) / rel)
        offered.append(Download(path.name, rel if size <= MAX_DOWNLOAD_BYTES else None, size,
                                notes.get(path, "")))  # fmt: skip
    return offered


def downloads_box(downloads: Sequence[Download]) -> str:
    """MyST Markdown of the downloads box (one line per file, ``download`` role links)."""
    lines = []
    for item in downloads:
        size, note = _fmt_bytes(item.size), f": {item.note}" if item.note else ""
        if item.path is None:
            lines.append(f"- `{item.label}` ({size}, too large for the book: see the run folder)")
        else:
            link = f"{{download}}`{item.label} </book/{item.path.as_posix()}>`"
            lines.append(f"- {link} ({size}){note}")
    body = "\n".join(lines) or "Nothing to download for this chapter."
    return f"````{{admonition}} Downloads\n:class: tip downloads\n\n{body}\n````\n"


def add_downloads_box(nb: Any, box_markdown: str) -> None:
    """Insert (or replace) the downloads box right after the reproducibility box (or the
    title when there is none)."""
    nb.cells = [c for c in nb.cells if not c.metadata.get(DOWNLOADS_MARKER)]
    cell = nbformat.v4.new_markdown_cell(box_markdown)
    cell.metadata[DOWNLOADS_MARKER] = True
    anchor = next((i for i, c in enumerate(nb.cells) if c.metadata.get(BOX_MARKER)), None)
    if anchor is None:
        anchor = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(anchor + 1, cell)
    nbformat.validator.normalize(nb)
