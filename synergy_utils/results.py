"""Result files: atomic writes, provenance, and the one writer per format.

Every stage writes labelled files (JSON with :func:`write_json`, CSV with :func:`save_table`,
NetCDF with :func:`save_dataset`) under ``results/<run>/``, each recording what made it;
its headline numbers go to ``summary.json`` through :mod:`synergy_utils.summary`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_FILE = "summary.json"
_TRACKED_PACKAGES = (
    "synergy-utils",
    "torch",
    "transformers",
    "numpy",
    "scipy",
    "xarray",
    "papermill",
    "gguf",
)


def now_iso() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions(names: tuple[str, ...] = _TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape the results (None when missing)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The commit of the checkout holding ``path``, or None. A checkout with uncommitted
    changes to tracked files gets ``+dirty.<hash>``, the hash (12 hex digits) of those changes,
    so that two different edits of the same commit never pass for the same code."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        diff = (
            subprocess.run(
                ["git", "diff", "HEAD", "--binary"], cwd=cwd, capture_output=True, check=True
            ).stdout
            if status
            else b""
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + (f"+dirty.{hashlib.sha256(diff).hexdigest()[:12]}" if status else "")


def finished_with(
    record: Mapping[str, Any], parameters: Any, commit: str | None, model: str | None = None
) -> bool:
    """Whether a recorded run (a ``run_info.json``, or one chapter's entry in it) finished
    with these parameters, this code (``git_commit``) and, when given, this model: the test
    by which ``synergy sweep`` skips a run and ``synergy run`` a chapter."""
    plain = json.loads(json.dumps(to_jsonable(parameters)))
    return (
        record.get("status") == "finished"
        and record.get("parameters") == plain
        and (model is None or record.get("model") == model)
        and record.get("git_commit") == commit
    )


def provenance(**parameters: Any) -> dict[str, Any]:
    """What made a result: parameters, package versions, git commit and time."""
    return {
        "parameters": to_jsonable(parameters),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": now_iso(),
    }


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and NaN to plain JSON (NaN and inf become None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=False) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_table(table: Any, path: str | os.PathLike, provenance: Mapping[str, Any]) -> Path:
    """Write a ``pandas.DataFrame`` as CSV, atomically, with its provenance beside it
    (``<name>.provenance.json``), so the table says what made it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    write_json(path.with_name(path.stem + ".provenance.json"), provenance)
    return path


def netcdf_engine() -> str:
    """The xarray engine for NetCDF files: ``netcdf4`` (the declared dependency), else
    ``h5netcdf`` when both h5netcdf and h5py are installed.

    Both read and write the same NetCDF-4 (HDF5) format. h5netcdf >= 1.8 no longer installs
    h5py itself, so h5netcdf alone is not enough to write.
    """
    import importlib.util

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    if has("netCDF4"):
        return "netcdf4"
    if has("h5netcdf") and has("h5py"):
        return "h5netcdf"
    raise ImportError("reading/writing NetCDF needs netCDF4 (pip install netCDF4)")


def save_dataset(
    dataset: Any, path: str | os.PathLike, provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write an ``xarray.Dataset`` as NetCDF-4, atomically, with ``provenance`` as a JSON
    attribute (``attrs["provenance"]``), so the file says what made it. This is the one
    NetCDF writer of the package (caches included, which may leave out the provenance)."""
    out = dataset.copy()
    if provenance is not None:
        out.attrs["provenance"] = json.dumps(to_jsonable(dict(provenance)))
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine=netcdf_engine())
    return Path(path)


def load_dataset(path: str | os.PathLike) -> Any:
    """Read a file written by :func:`save_dataset` fully into memory."""
    import xarray as xr

    return xr.load_dataset(path, engine=netcdf_engine())
