"""The sweep file, the runs it plans, and how a finished run is recognised."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import results
from ..notebooks import declared_parameters
from ..pipeline import PipelineError, get_profile, plan_run

#: Keys a sweep file may have.
SWEEP_KEYS = ("profile", "models", "seeds", "grid", "retries", "threads", "device_map", "dtype")
SWEEP_KEYS += ("out", "description")


class SweepError(PipelineError):
    """The sweep file or a planned run is not valid; the message says why."""


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    name: str
    profile: str  #: a profile name or the path of a YAML profile file
    models: tuple[str | None, ...]
    seeds: tuple[int, ...] = (0,)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    out: Path = Path("results/sweeps/sweep")
    project_dir: Path = Path(".")
    retries: int = 2
    threads: int | None = None
    device_map: str | None = None
    dtype: str | None = None
    description: str = ""


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: a model, a seed and one point of the grid."""

    run_id: str
    model: str | None
    seed: int
    point: dict[str, Any]
    overrides: dict[str, dict[str, str]]
    results_dir: Path
    parameters: dict[str, dict[str, Any]]  #: every notebook's planned parameters


# --- the sweep file --------------------------------------------------------------------------


def _resolve_local(value: str, base: Path) -> str:
    """A local path relative to ``base`` made absolute; hub ids and names are kept (the rule
    of ``load_model``: it starts with ".", "/" or "~", or has a "/" and exists)."""
    if value.startswith((".", "/", "~")) or (os.sep in value and (base / value).exists()):
        return str((base / Path(value).expanduser()).resolve())
    return value


def _profile_of(raw: Any, base: Path, out: Path) -> str:
    """The profile as a name or a path; an inline profile is written to ``out/profile.yml``."""
    if isinstance(raw, dict):
        path = out / "profile.yml"
        out.mkdir(parents=True, exist_ok=True)
        with results.atomic_path(path) as tmp:
            tmp.write_text(yaml.safe_dump(raw, sort_keys=False))
        return str(path)
    if not isinstance(raw, str) or not raw:
        raise SweepError(f"profile must be a name, a YAML file or a mapping, got {raw!r}")
    if raw.endswith((".yml", ".yaml")):
        return _resolve_local(raw if raw.startswith(("/", "~", ".")) else f"./{raw}", base)
    return raw


def _int_list(data: dict, key: str, default: list[int]) -> tuple[int, ...]:
    values = data.get(key, default)
    values = values if isinstance(values, list) else [values]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SweepError(f"{key} must be a non-empty list of integers, got {values!r}")
    return tuple(values)


def load_sweep(
    path: str | os.PathLike,
    *,
    project_dir: str | os.PathLike = ".",
    out: str | os.PathLike | None = None,
) -> SweepSpec:
    """Read and check a sweep file; ``out`` overrides the file's ``out``."""
    path = Path(path).resolve()
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise SweepError(f"{path}: expected a mapping with keys {', '.join(SWEEP_KEYS)}")
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {unknown}; keys: {', '.join(SWEEP_KEYS)}")
    project = Path(project_dir).resolve()
    base = path.parent
    if out is not None:
        out_dir = Path(out).resolve()
    elif data.get("out"):
        out_dir = (base / Path(str(data["out"])).expanduser()).resolve()
    else:
        out_dir = project / "results" / "sweeps" / path.stem
    models = data.get("models", [None])
    models = models if isinstance(models, list) else [models]
    if not models or not all(m is None or isinstance(m, str) for m in models):
        raise SweepError(f"models must be a list of names, folders or null, got {models!r}")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise SweepError(f"grid must map NOTEBOOK.PARAM (or PARAM) to lists, got {grid!r}")
    grid = {str(k): tuple(v if isinstance(v, list) else [v]) for k, v in grid.items()}
    if any(not values for values in grid.values()):
        raise SweepError(f"every grid entry needs at least one value: {grid!r}")
    retries = data.get("retries", 2)
    if not isinstance(retries, int) or retries < 0:
        raise SweepError(f"retries must be an integer >= 0, got {retries!r}")
    threads = data.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise SweepError(f"threads must be an integer >= 1, got {threads!r}")
    device_map = data.get("device_map")
    if isinstance(device_map, dict):
        device_map = json.dumps(device_map)
    return SweepSpec(
        name=path.stem,
        profile=_profile_of(data.get("profile", "quick"), base, out_dir),
        models=tuple(None if m is None else _resolve_local(m, base) for m in models),
        seeds=_int_list(data, "seeds", [0]),
        grid=grid,
        out=out_dir,
        project_dir=project,
        retries=retries,
        threads=threads,
        device_map=device_map,
        dtype=None if data.get("dtype") is None else str(data["dtype"]),
        description=str(data.get("description", "")),
    )


# --- planning --------------------------------------------------------------------------------


def _slug(text: str, limit: int = 60) -> str:
    slug = re.sub(r"[^A-Za-z0-9=._-]+", "_", text).strip("_") or "x"
    if len(slug) > limit:
        slug = slug[: limit - 9] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug


def _model_slugs(models: tuple[str | None, ...]) -> dict[str | None, str]:
    """Readable, distinct names for the models (a hash is added to names that collide)."""
    plain = {
        m: "default" if m is None else _slug(Path(m).name if os.sep in m else m) for m in models
    }
    counts: dict[str, int] = {}
    for slug in plain.values():
        counts[slug] = counts.get(slug, 0) + 1
    return {
        m: s if counts[s] == 1 else f"{s}-{hashlib.sha256(str(m).encode()).hexdigest()[:6]}"
        for m, s in plain.items()
    }


def _raw(value: Any) -> str:
    """A value as the text ``--set`` takes (strings as they are, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def _overrides(
    point: dict[str, Any], seed: int, declared: dict[str, set[str]]
) -> dict[str, dict[str, str]]:
    """``--set`` overrides for one run: the seed and the grid point, per notebook."""
    overrides: dict[str, dict[str, str]] = {}
    for notebook, names in declared.items():
        if "seed" in names:
            overrides.setdefault(notebook, {})["seed"] = str(seed)
    for key, value in point.items():
        notebook, dot, param = key.rpartition(".")
        targets = [notebook] if dot else [nb for nb, names in declared.items() if param in names]
        if not targets:
            raise SweepError(f"grid key {key!r}: no notebook of the profile declares {param!r}")
        for target in targets:
            overrides.setdefault(target, {})[param] = _raw(value)
    return overrides


def plan_sweep(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the sweep (models x grid points x seeds), each validated like
    ``synergy run`` before anything runs. Raises :class:`SweepError` or a
    :class:`~synergy_utils.pipeline.ParameterError` naming the bad parameter."""
    profile = get_profile(spec.profile)
    notebooks = spec.project_dir / "notebooks"
    declared = {
        name: set(declared_parameters(notebooks / f"{name}.ipynb"))
        for name in profile["notebooks"]
        if (notebooks / f"{name}.ipynb").exists()
    }
    keys = list(spec.grid)
    points = [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*spec.grid.values())
    ]
    slugs = _model_slugs(spec.models)
    runs = []
    for model, point, seed in itertools.product(spec.models, points, spec.seeds):
        shown = "-".join(f"{k.rpartition('.')[2]}={v}" for k, v in point.items())
        run_id = f"{slugs[model]}__seed{seed}" + (f"__{_slug(shown)}" if point else "")
        overrides = _overrides(point, seed, declared)
        results_dir = spec.out / "runs" / run_id
        plan = plan_run(
            spec.profile,
            project_dir=spec.project_dir,
            results_dir=results_dir,
            model=model,
            overrides=overrides,
        )
        parameters = {item.name: item.parameters for item in plan}
        runs.append(SweepRun(run_id, model, seed, point, overrides, results_dir, parameters))
    if len({run.run_id for run in runs}) != len(runs):
        raise SweepError("two runs of the sweep got the same id; check models and grid values")
    return runs


# --- resumption ------------------------------------------------------------------------------


def finished_run(run: SweepRun, commit: str | None) -> bool:
    """Whether ``run`` already finished: its ``run_info.json`` says ``finished`` and records
    the same parameters (model and seed included), model and git commit
    (:func:`synergy_utils.results.finished_with`, the test ``synergy run`` applies to each
    chapter)."""
    path = run.results_dir / "run_info.json"
    if not path.exists():
        return False
    try:
        info = results.read_json(path)
    except (OSError, ValueError):
        return False
    return results.finished_with(info, run.parameters, commit, run.model)
