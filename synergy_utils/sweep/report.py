"""A sweep's combined table and its chapter.

Every run of a sweep (:mod:`synergy_utils.sweep`) leaves a typed ``summary.json``; this
module reads each one with :func:`synergy_utils.summary.read_summary`, flattens every scalar
of every section into a column named ``section.field[.subfield]`` (lists, long texts and
provenance stay in the run's own file) and writes one row per run:

* ``OUT/sweep.csv`` (with ``sweep.provenance.json``) and ``OUT/sweep.nc`` (dimension ``run``);
* ``OUT/sweep.md``, a short chapter: the runs, and the numbers that differ between them,
  with ``_toc.yml`` and ``_config.yml`` beside it so ``jupyter-book build OUT`` builds it
  as a book of its own (the project's book is not touched);
* ``OUT/sweep_info.json``: the sweep, each run's status, attempts and retries, provenance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import results
from ..summary import SECTIONS, SchemaError, read_summary, to_dict

#: Strings longer than this are left out of the table (verdict paragraphs, definitions).
MAX_TEXT = 80
#: At most this many numbers per run in the chapter's second table (all are in the CSV).
MAX_CHAPTER_COLUMNS = 8
RUN_COLUMNS = ("run_id", "model", "seed", "status", "attempts", "seconds", "results_dir")


def _flatten(value: Any, prefix: str, row: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key != "provenance":
                _flatten(item, f"{prefix}.{key}", row)
    elif value is None or isinstance(value, (bool, int, float)):
        row[prefix] = value
    elif isinstance(value, str) and len(value) <= MAX_TEXT:
        row[prefix] = value


def flatten_summary(results_dir: str | Path) -> dict[str, Any]:
    """Every scalar of a run's ``summary.json``, keyed ``section.field[.subfield]``."""
    summary = read_summary(results_dir)
    row: dict[str, Any] = {}
    for name in SECTIONS:
        section = getattr(summary, name)
        if section is not None:
            _flatten(to_dict(section), name, row)
    return row


def combine_runs(runs: Sequence[Any], records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: its id, model, seed, grid values, status, and its summary's numbers.

    ``runs`` are :class:`synergy_utils.sweep.SweepRun`; ``records`` the matching records of
    :func:`synergy_utils.sweep.execute_run` (or of a skipped, already finished run).
    """
    rows = []
    for run, record in zip(runs, records, strict=True):
        row: dict[str, Any] = {"run_id": run.run_id, "model": run.model or "default"}
        row["seed"] = run.seed
        for key, value in run.point.items():
            row[key] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
        row["status"] = record.get("status")
        row["attempts"] = record.get("attempts")
        row["seconds"] = record.get("seconds")
        row["results_dir"] = str(run.results_dir)
        try:
            row.update(flatten_summary(run.results_dir))
        except (SchemaError, OSError, ValueError) as err:
            row["summary_error"] = str(err)[: MAX_TEXT * 4]
        rows.append(row)
    return pd.DataFrame(rows)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _column_array(values: pd.Series) -> np.ndarray:
    """A column as int64, float64 (bools as 0/1, missing as NaN) or text ("" missing)."""
    present = [v for v in values if not _missing(v)]
    if present and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present
    ):
        if len(present) == len(values):
            return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (bool, int, float, np.number, np.bool_)) for v in present):
        return np.array([np.nan if _missing(v) else float(v) for v in values], dtype=np.float64)
    return np.array(["" if _missing(v) else str(v) for v in values], dtype=str)


def to_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The combined table as a Dataset with dimension ``run`` (coordinate: the run ids)."""
    dataset = xr.Dataset(coords={"run": np.asarray(table["run_id"], dtype=str)})
    for column in table.columns:
        if column != "run_id":
            dataset[column] = ("run", _column_array(table[column]))
    return dataset


# --- the chapter ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table of ``table`` (MyST and GitHub markdown)."""
    header = "| " + " | ".join(_cell(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join([header, rule, *body])


def varying_numbers(table: pd.DataFrame, limit: int = MAX_CHAPTER_COLUMNS) -> list[str]:
    """Summary columns with numbers that differ between runs (timings excluded), in table
    order; the first numeric ones when none differ."""
    numeric = []
    for column in table.columns:
        if "." not in column or column in RUN_COLUMNS or "seconds" in column:
            continue
        if "per_second" in column:
            continue
        values = _column_array(table[column])
        if values.dtype.kind in "if":
            numeric.append((column, np.unique(values[~np.isnan(values.astype(float))]).size > 1))
    varying = [c for c, differs in numeric if differs]
    return (varying or [c for c, _ in numeric])[:limit]


def chapter_text(table: pd.DataFrame, info: Mapping[str, Any]) -> str:
    """The sweep's chapter: what ran, each run's status, and the numbers that differ."""
    grid_columns = list(info.get("grid", {}))
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    lines = [
        f"# Sweep: {info['name']}",
        "",
        f"{len(table)} runs of the profile `{Path(str(info['profile'])).name}`: "
        f"{len(info.get('models', []))} model(s) × {info.get('n_points', 1)} grid point(s) × "
        f"{len(info.get('seeds', []))} seed(s); "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f". Commit `{info.get('git_commit')}`, finished {info.get('end')}.",
        "",
        "## Runs",
        "",
    ]
    runs = table[["run_id", "model", "seed", *grid_columns, "status", "attempts", "seconds"]]
    lines += [markdown_table(runs), ""]
    numbers = varying_numbers(table)
    if numbers:
        lines += ["## Numbers that differ between runs", ""]
        lines += [markdown_table(table[["run_id", *numbers]]), ""]
    lines += [
        "Every number of every run's `summary.json` is in `sweep.csv` and `sweep.nc` (one row "
        "per run); each run's files, executed notebooks and log are in `runs/<run id>/`.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(out: Path, table: pd.DataFrame, info: Mapping[str, Any]) -> dict[str, Path]:
    """Write the table (CSV, NetCDF), the chapter and ``sweep_info.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    keys = ("name", "profile", "models", "seeds", "grid", "git_commit")
    provenance = results.provenance(**{key: info.get(key) for key in keys})
    files = {
        "csv": results.save_table(table, out / "sweep.csv", provenance),
        "netcdf": results.save_dataset(to_dataset(table), out / "sweep.nc", provenance),
        "info": results.write_json(out / "sweep_info.json", info),
    }
    chapter = out / "sweep.md"
    with results.atomic_path(chapter) as tmp:
        tmp.write_text(chapter_text(table, info))
    files["chapter"] = chapter
    book_files = {
        "_toc.yml": "format: jb-book\nroot: sweep\n",
        "_config.yml": (
            f"title: 'Sweep {info['name']}'\nonly_build_toc_files: true\n"
            "execute:\n  execute_notebooks: 'off'\n"
        ),
    }
    for name, text in book_files.items():
        with results.atomic_path(out / name) as tmp:
            tmp.write_text(text)
    return files
