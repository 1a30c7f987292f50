"""Chapter-level resumption of ``synergy run``: which chapters can be skipped.

After each chapter the pipeline records in ``run_info.json`` (key ``chapters``) what it ran
with and what it wrote (:func:`chapter_record`): its parameters (the model included, as
``model_name``), the code version (``git_commit``, with a hash of uncommitted changes), the
SHA-256 of every input file it read, of every result file and ``summary.json`` section it
wrote, and of its executed copy. A later run skips the chapter when all of these still hold
(:func:`rerun_reason` returns None) and re-runs it otherwise, saying why.

What a chapter reads is declared once, in :data:`CHAPTER_INPUTS` (glob patterns under the
results folder). A chapter missing from that table is taken to read every file the chapters
before it wrote, so an undeclared chapter is re-run too often, never too rarely. Because an
input is compared by its hash, changing one parameter re-runs that chapter, then each later
chapter whose inputs it changed, and no other.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import results

#: The result files each chapter reads, written by earlier chapters (glob patterns relative
#: to the results folder; the guard cell of each notebook checks the same files).
CHAPTER_INPUTS: dict[str, tuple[str, ...]] = {
    "00_setup": (),
    "01_phiid_primer": (),
    "02_extraction": (),
    "03_synergistic_cores": ("series.nc",),
    "04_phase_transition": (),
    "05_ablation": ("series.nc", "head_scores.csv", "cores_null_*.nc"),
    "06_across_models": (),
}
#: Entries of the results folder that are no chapter's result: the executed notebooks, the
#: caches (resumed on their own; so is any folder named ``cache`` deeper down), the staged
#: book and the run's own records.
NOT_RESULTS: tuple[str, ...] = ("notebooks", "cache", "book_src", "run_info.json")
SUMMARY_FILE = "summary.json"


#: Hashes already computed, by (path, size, modification time in ns): the full profile's
#: result files reach several hundred MB, and each chapter looks at all of them twice.
_HASHES: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = _file_sha256(path)
    return _HASHES[key]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def result_hashes(results_dir: str | Path) -> dict[str, str]:
    """SHA-256 of every result file under ``results_dir`` (relative POSIX path -> hash),
    ``summary.json`` counted per section (``"summary.json#cores"``)."""
    root = Path(results_dir)
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        skipped = relative.parts[0] in NOT_RESULTS or "cache" in relative.parts[:-1]
        if not path.is_file() or skipped or ".tmp" in path.name:
            continue
        if relative.as_posix() == SUMMARY_FILE:
            found.update(_summary_hashes(path))
        else:
            found[relative.as_posix()] = _sha256(path)
    return found


def _summary_hashes(path: Path) -> dict[str, str]:
    try:
        data = results.read_json(path)
    except (OSError, ValueError):
        return {}
    return {
        f"{SUMMARY_FILE}#{key}": hashlib.sha256(
            json.dumps(value, sort_keys=True).encode()
        ).hexdigest()
        for key, value in data.items()
        if key not in ("schema_version", "provenance")
    }


def written(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``after`` that are new or changed since ``before``."""
    return {key: value for key, value in after.items() if before.get(key) != value}


def chapter_inputs(
    name: str,
    current: Mapping[str, str],
    earlier: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    """The inputs of chapter ``name`` as they are now (path -> hash, from ``current``, the
    :func:`result_hashes` of the results folder): the files matching its
    :data:`CHAPTER_INPUTS`, or, for an undeclared chapter, every file the ``earlier``
    chapters' records list as written."""
    if name in CHAPTER_INPUTS:
        patterns = CHAPTER_INPUTS[name]
        return {
            path: digest
            for path, digest in current.items()
            if any(fnmatch.fnmatch(path, pattern) for pattern in patterns)
        }
    keys = {key for record in earlier for key in (record.get("outputs") or {})}
    return {key: current[key] for key in sorted(keys) if key in current}


def executed_copy_problem(path: Path, expected_sha256: str | None = None) -> str | None:
    """Why the executed notebook at ``path`` cannot stand for a finished chapter (missing,
    changed since it was recorded, unreadable, stopped by an error, or with a cell that did
    not complete), or None when it is a complete run."""
    import nbformat

    if not path.exists():
        return "its executed copy is missing"
    if expected_sha256 is not None and _sha256(path) != expected_sha256:
        return "its executed copy changed since the chapter finished"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a damaged copy
        return f"its executed copy is damaged ({type(err).__name__})"
    if nb.metadata.get("papermill", {}).get("exception"):
        return "its executed copy ended with an error"
    for cell in nb.cells:
        status = cell.metadata.get("papermill", {}).get("status")
        if cell.cell_type == "code" and status != "completed":
            return f"its executed copy is partial (a cell is {status or 'not run'})"
    return None


def rerun_reason(
    record: Mapping[str, Any] | None,
    parameters: Mapping[str, Any],
    commit: str | None,
    inputs: Mapping[str, str],
    current: Mapping[str, str],
    executed: Path,
) -> str | None:
    """Why a chapter must run again, or None when its ``record`` (from ``run_info.json``)
    finished with these ``parameters``, this code and these ``inputs``, its outputs are
    unchanged in ``current`` and its executed copy is complete."""
    if not record:
        return "not run before"
    if record.get("status") != "finished":
        return f"the earlier run of it did not finish ({record.get('status')})"
    if not results.finished_with(record, parameters, commit):
        if record.get("git_commit") != commit:
            return "the code changed"
        return "its parameters changed"
    if dict(record.get("inputs") or {}) != dict(inputs):
        changed = sorted(set(inputs) ^ set(record.get("inputs") or {})) or sorted(
            k for k in inputs if inputs[k] != record["inputs"].get(k)
        )
        return f"its inputs changed ({', '.join(changed)})"
    outputs = record.get("outputs") or {}
    gone = sorted(k for k, v in outputs.items() if current.get(k) != v)
    if gone:
        return f"its results changed or are missing ({', '.join(gone)})"
    return executed_copy_problem(executed, record.get("executed_sha256"))


def chapter_record(
    status: str,
    parameters: Mapping[str, Any],
    commit: str | None,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str] | None = None,
    executed: Path | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """One chapter's entry in ``run_info.json["chapters"]``."""
    record: dict[str, Any] = {
        "status": status,
        "parameters": json.loads(json.dumps(results.to_jsonable(dict(parameters)))),
        "git_commit": commit,
        "inputs": dict(inputs),
        "outputs": dict(outputs or {}),
        "finished": results.now_iso() if status == "finished" else None,
    }
    if executed is not None and executed.exists():
        record["executed_sha256"] = _sha256(executed)
    if seconds is not None:
        record["seconds"] = seconds
    return record


__all__ = [
    "CHAPTER_INPUTS",
    "chapter_inputs",
    "chapter_record",
    "executed_copy_problem",
    "rerun_reason",
    "result_hashes",
    "written",
]
