"""Run the notebooks with papermill and build the book (the engine of ``synergy run``).

``synergy run --profile quick`` executes ``notebooks/*.ipynb`` in the order the profile lists
them, with the profile's parameters (``profiles.yml``) plus any ``--set NOTEBOOK.PARAM=VALUE``,
into ``results/<profile>/notebooks/``; stages exchange files under ``results/<profile>/``; the
headline numbers land in ``results/<profile>/summary.json``. Every parameter name and type is
checked against the notebooks, and every value against its declared range, before anything
runs. Then the book is staged and built.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import chapters, results
from .notebooks import declared_parameters
from .summary import write_section

PROFILES_FILE = Path(__file__).with_name("profiles.yml")
#: Parameters passed to every notebook that declares them.
COMMON_PARAMETERS = ("model_name", "seed", "results_dir")


class PipelineError(RuntimeError):
    """The run cannot start or did not finish; the message says why."""


class ParameterError(PipelineError):
    """A parameter name, value or type does not fit the notebook."""


@dataclass
class NotebookRun:
    """One notebook to execute: its source, where the executed copy goes, its parameters."""

    name: str
    source: Path
    output: Path
    parameters: dict[str, Any] = field(default_factory=dict)


# --- profiles and parameters ---------------------------------------------------------------


def load_profiles(path: str | Path = PROFILES_FILE) -> dict[str, dict]:
    """All profiles from a YAML file: ``{name: {description, common, notebooks}}``."""
    with open(path) as handle:
        profiles = yaml.safe_load(handle)
    if not isinstance(profiles, dict):
        raise PipelineError(f"{path}: expected a mapping of profile names")
    return profiles


def get_profile(name: str, path: str | Path = PROFILES_FILE) -> dict:
    """The profile ``name`` from ``profiles.yml``, or from a YAML file if ``name`` is a path."""
    if name.endswith((".yml", ".yaml")) and Path(name).exists():
        profile = yaml.safe_load(Path(name).read_text())
    else:
        profiles = load_profiles(path)
        if name not in profiles:
            raise PipelineError(f"unknown profile {name!r}; profiles: {', '.join(profiles)}")
        profile = profiles[name]
    if not isinstance(profile.get("notebooks"), dict) or not profile["notebooks"]:
        raise PipelineError(f"profile {name!r} lists no notebooks")
    return profile


def _split_type(type_name: str) -> tuple[bool, str]:
    """``"Optional[int]"`` -> (True, "int"); ``"int"`` -> (False, "int")."""
    type_name = type_name.replace(" ", "")
    for prefix in ("Optional[", "typing.Optional["):
        if type_name.startswith(prefix) and type_name.endswith("]"):
            return True, type_name[len(prefix) : -1]
    if type_name.endswith("|None"):
        return True, type_name[: -len("|None")]
    return False, type_name


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (int, float),
    "str": str,
    "bool": bool,
}


def check_value(value: Any, type_name: str) -> Any:
    """Return ``value`` if it fits the annotation ``type_name`` (ints widen to float).

    Raises ``TypeError`` otherwise. Unknown or missing annotations accept anything.
    """
    optional, base = _split_type(type_name)
    if value is None:
        if optional or base in ("None", ""):
            return None
        raise TypeError(f"None is not allowed for type {type_name}")
    lowered = base.lower()
    if lowered.startswith(("list[", "tuple[")) or lowered in ("list", "tuple"):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list for type {type_name}, got {value!r}")
        inner = base[base.find("[") + 1 : -1] if "[" in base else ""
        return [check_value(item, inner) for item in value] if inner else list(value)
    expected = _SCALARS.get(base)
    if expected is None:
        return value
    if isinstance(value, bool) and base in ("int", "float"):
        raise TypeError(f"expected {base}, got the bool {value!r}")
    if not isinstance(value, expected):
        raise TypeError(f"expected {base}, got {type(value).__name__} {value!r}")
    return float(value) if base == "float" else value


def parse_value(raw: str, type_name: str) -> Any:
    """Turn a ``--set`` string into a value of the annotated type (YAML syntax for lists)."""
    optional, base = _split_type(type_name)
    if base == "str":
        if optional and raw.strip().lower() in ("none", "null", "~"):
            return None
        return raw
    value = yaml.safe_load(raw) if raw.strip() else None
    if isinstance(value, str) and value.lower() == "none":
        value = None
    return check_value(value, type_name)


def parse_set_options(items: list[str]) -> dict[str, dict[str, str]]:
    """``["02_extraction.n_prompts=6"]`` -> ``{"02_extraction": {"n_prompts": "6"}}``."""
    overrides: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        notebook, dot, param = key.strip().rpartition(".")
        if not sep or not dot or not notebook or not param:
            raise ParameterError(f"--set {item!r}: expected NOTEBOOK.PARAM=VALUE")
        overrides.setdefault(notebook, {})[param] = raw
    return overrides


def _validate(notebook: str, params: dict[str, Any], declared: dict[str, dict]) -> dict[str, Any]:
    """Check every name, type and declared range of ``params`` against the notebook's
    declared parameters (:func:`synergy_utils.notebooks.parameter_range`)."""
    checked = {}
    valid = ", ".join(sorted(declared)) or "(none)"
    for name, value in params.items():
        if name not in declared:
            raise ParameterError(
                f"{notebook}: no parameter named {name!r}. Valid parameters: {valid}"
            )
        type_name = declared[name]["inferred_type_name"]
        try:
            checked[name] = check_value(value, type_name)
        except TypeError as err:
            raise ParameterError(f"{notebook}.{name}: {err}") from None
        declared_range = declared[name].get("range")
        problem = declared_range.problem(checked[name]) if declared_range else None
        if problem:
            raise ParameterError(f"{notebook}.{name} = {checked[name]!r}: {problem}")
    return checked


def plan_run(
    profile_name: str,
    *,
    project_dir: str | Path = ".",
    results_dir: str | Path | None = None,
    model: str | None = None,
    overrides: dict[str, dict[str, str]] | None = None,
    only: list[str] | None = None,
) -> list[NotebookRun]:
    """Resolve and validate every notebook's parameters before anything runs.

    Order of precedence (last wins): profile ``common``, the notebook's profile block,
    ``--model``, ``--set``. ``results_dir`` is the run's results folder, relative to the
    project when it lies inside it.
    """
    project_dir = Path(project_dir).resolve()
    profile = get_profile(profile_name)
    results_dir = Path(results_dir or project_dir / "results" / Path(profile_name).stem).resolve()
    overrides = overrides or {}
    notebooks_dir = project_dir / "notebooks"
    unknown = set(overrides) - set(profile["notebooks"])
    if unknown:
        raise ParameterError(
            f"--set names unknown notebook(s) {sorted(unknown)}; "
            f"notebooks in this profile: {', '.join(profile['notebooks'])}"
        )
    selected = list(profile["notebooks"]) if not only else only
    plan = []
    for name in selected:
        if name not in profile["notebooks"]:
            raise PipelineError(f"notebook {name!r} is not in profile {profile_name!r}")
        source = notebooks_dir / f"{name}.ipynb"
        if not source.exists():
            raise PipelineError(f"notebook not found: {source}")
        declared = declared_parameters(source)
        params = {k: v for k, v in (profile.get("common") or {}).items() if k in declared}
        params.update(profile["notebooks"][name] or {})
        if model is not None and "model_name" in declared:
            params["model_name"] = model
        if "results_dir" in declared:
            params["results_dir"] = _shown_path(results_dir, project_dir)
        for param, raw in overrides.get(name, {}).items():
            if param not in declared:
                valid = ", ".join(sorted(declared)) or "(none)"
                raise ParameterError(
                    f"{name}: no parameter named {param!r}. Valid parameters: {valid}"
                )
            try:
                params[param] = parse_value(raw, declared[param]["inferred_type_name"])
            except (TypeError, yaml.YAMLError) as err:
                raise ParameterError(f"{name}.{param}={raw!r}: {err}") from None
        params = _validate(name, params, declared)
        plan.append(NotebookRun(name, source, results_dir / "notebooks" / f"{name}.ipynb", params))
    return plan


def _shown_path(path: Path, project_dir: Path) -> str:
    """``path`` relative to the project when it lies inside it (the notebooks run there), so
    that no machine's absolute path ends up in the executed notebooks or the book."""
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return str(path)


# --- running -------------------------------------------------------------------------------


def _describe_failure(err: Exception) -> str:
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    traceback = getattr(err, "traceback", None)
    text = "\n".join(traceback) if traceback else f"{ename}: {evalue}"
    return text


@contextmanager
def _inline_figures() -> Iterator[None]:
    """Make the kernels capture figures as images, whatever ``MPLBACKEND`` the caller set.

    ``MPLBACKEND=Agg`` (common in CI and tests) is inherited by the kernels and makes them
    show no figures at all; the inline backend is what Jupyter uses by default.
    """
    previous = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = previous


def _forced(force: bool | Sequence[str] | None, name: str) -> bool:
    """``force``: None or False (resume), True or an empty list (every chapter), or names."""
    if force is None or force is False:
        return False
    return force is True or not force or name in force


def execute(
    plan: list[NotebookRun],
    *,
    project_dir: Path,
    progress: bool = False,
    commit: str | None = None,
    records: dict[str, dict] | None = None,
    force: bool | Sequence[str] | None = None,
    on_record: Callable[[], None] | None = None,
) -> dict:
    """Run the planned notebooks in order; stop at the first failure.

    A chapter whose entry in ``records`` (``run_info.json["chapters"]``, updated in place;
    ``on_record()`` is called after every change) shows it finished with the same parameters,
    code version ``commit`` and inputs, with its results and executed copy intact, is skipped
    (:func:`synergy_utils.chapters.rerun_reason`); ``force`` re-runs every chapter (True) or
    the named ones. Returns per-notebook seconds (a skipped chapter's from its record).
    Raises :class:`PipelineError` naming the failing notebook, its traceback and the path of
    the partial executed copy.
    """
    records = {} if records is None else records
    seconds: dict[str, float] = {}
    out = plan[0].output.parent.parent if plan else project_dir
    for index, item in enumerate(plan, start=1):
        current = chapters.result_hashes(out)
        earlier = [records[p.name] for p in plan[: index - 1] if p.name in records]
        inputs = chapters.chapter_inputs(item.name, current, earlier)
        record = records.get(item.name)
        reason = "forced" if _forced(force, item.name) else None
        reason = reason or chapters.rerun_reason(
            record, item.parameters, commit, inputs, current, item.output
        )
        if reason is None:
            seconds[item.name] = record.get("seconds")
            print(f"[{index}/{len(plan)}] {item.name}  unchanged since it finished: skipped")
            continue
        if record and reason not in ("not run before", "forced"):
            print(f"[{index}/{len(plan)}] {item.name}  runs again: {reason}", flush=True)
        records[item.name] = chapters.chapter_record("running", item.parameters, commit, inputs)
        if on_record:
            on_record()
        try:
            seconds[item.name] = _execute_one(item, index, len(plan), project_dir, progress)
        except PipelineError:
            records[item.name]["status"] = "failed"
            if on_record:
                on_record()
            raise
        after = chapters.result_hashes(out)
        kept = {k: after[k] for k in (record or {}).get("outputs", {}) if k in after}
        outputs = {**kept, **chapters.written(current, after)}
        records[item.name] = chapters.chapter_record(
            "finished", item.parameters, commit, inputs, outputs, item.output, seconds[item.name]
        )
        if on_record:
            on_record()
    return seconds


def _execute_one(item: NotebookRun, index: int, total: int, project_dir: Path, progress: bool):
    """Execute one notebook with papermill; its seconds. Raises :class:`PipelineError`."""
    import papermill

    item.output.parent.mkdir(parents=True, exist_ok=True)
    shown = ", ".join(f"{k}={v!r}" for k, v in item.parameters.items() if k != "results_dir")
    print(f"[{index}/{total}] {item.name}  ({shown or 'defaults'})", flush=True)
    start = time.perf_counter()
    try:
        with _inline_figures():
            papermill.execute_notebook(
                str(item.source),
                str(item.output),
                parameters=item.parameters,
                cwd=str(project_dir),
                progress_bar=progress,
                kernel_name="python3",
                request_save_on_cell_execute=True,
            )
    except Exception as err:  # papermill raises PapermillExecutionError and others
        raise PipelineError(
            f"notebook {item.name} failed after {time.perf_counter() - start:.0f} s.\n"
            f"{_describe_failure(err)}\n"
            f"Partial output: {item.output}"
        ) from err
    elapsed = round(time.perf_counter() - start, 1)
    print(f"      done in {elapsed:.0f} s -> {item.output}", flush=True)
    return elapsed


def run_pipeline(
    profile_name: str = "quick",
    *,
    project_dir: str | Path = ".",
    results_dir: str | Path | None = None,
    model: str | None = None,
    overrides: dict[str, dict[str, str]] | None = None,
    only: list[str] | None = None,
    build: bool = True,
    book_dir: str | Path | None = None,
    progress: bool = False,
    command: str | None = None,
    force: bool | Sequence[str] | None = None,
) -> dict:
    """Validate, run the notebooks, write ``summary.json`` provenance, and build the book.

    Chapters that finished earlier in the same results folder with the same parameters,
    code and inputs are skipped (:func:`execute`); ``force`` re-runs all (True) or the named
    ones. Returns the run's information (also written to ``results_dir/run_info.json``).
    """
    project_dir = Path(project_dir).resolve()
    plan = plan_run(
        profile_name,
        project_dir=project_dir,
        results_dir=results_dir,
        model=model,
        overrides=overrides,
        only=only,
    )
    if force not in (None, True, False):
        unknown = sorted(set(force) - {item.name for item in plan})
        if unknown:
            raise ParameterError(
                f"--force names chapter(s) {unknown} that this run does not run; "
                f"chapters: {', '.join(item.name for item in plan)}"
            )
    out = plan[0].output.parent.parent
    out.mkdir(parents=True, exist_ok=True)
    run_info = {
        "profile": profile_name,
        "model": model or "default (bundled SmolLM2-135M-Instruct)",
        "parameters": {item.name: item.parameters for item in plan},
        "command": command,
        "start": results.now_iso(),
        "status": "running",
        "versions": results.package_versions(),
        "git_commit": results.git_commit(project_dir),
    }
    earlier = _earlier_run(out)
    run_info["chapters"] = dict(earlier.get("chapters") or {})
    if not only:
        earlier = {}
    if earlier:  # a partial re-run keeps what the earlier run recorded for the other notebooks
        run_info["parameters"] = {**earlier.get("parameters", {}), **run_info["parameters"]}
    results.write_json(out / "run_info.json", run_info)
    try:
        seconds = execute(
            plan,
            project_dir=project_dir,
            progress=progress,
            commit=run_info["git_commit"],
            records=run_info["chapters"],
            force=force,
            on_record=lambda: results.write_json(out / "run_info.json", run_info),
        )
        run_info["seconds"] = {**earlier.get("seconds", {}), **seconds}
        run_info["status"] = "finished"
    except PipelineError:
        run_info["status"] = "failed"
        raise
    finally:
        run_info["end"] = results.now_iso()
        results.write_json(out / "run_info.json", run_info)
        write_section(out, "provenance", {k: v for k, v in run_info.items() if k != "chapters"})
    if build:
        build_from_results(plan, run_info, project_dir=project_dir, book_dir=book_dir)
    return run_info


def _earlier_run(results_dir: Path) -> dict:
    path = results_dir / "run_info.json"
    return results.read_json(path) if path.exists() else {}


def build_from_results(
    plan: list[NotebookRun],
    run_info: dict,
    *,
    project_dir: Path,
    book_dir: str | Path | None = None,
) -> Path:
    """Stage the executed notebooks of ``plan`` with the book sources and build the book."""
    from .report import book

    missing = [str(item.output) for item in plan if not item.output.exists()]
    if missing:
        raise PipelineError(f"no executed notebook at {', '.join(missing)}: run the profile first")
    out = plan[0].output.parent.parent
    stage = stage_book(project_dir, out, plan)
    book.prepare_book_sources(stage, out, run_info)
    html = book.build_book(stage, Path(book_dir) if book_dir else project_dir)
    run_info["book"] = str(html)
    results.write_json(out / "run_info.json", run_info)
    print(f"Book: {html / 'index.html'}", flush=True)
    return html


def build_only(
    profile_name: str = "full",
    *,
    project_dir: str | Path = ".",
    results_dir: str | Path | None = None,
    book_dir: str | Path | None = None,
) -> Path:
    """Rebuild the book from a finished run's executed notebooks, running nothing."""
    project_dir = Path(project_dir).resolve()
    plan = plan_run(profile_name, project_dir=project_dir, results_dir=results_dir)
    run_info = _earlier_run(plan[0].output.parent.parent)
    return build_from_results(plan, run_info, project_dir=project_dir, book_dir=book_dir)


def stage_book(project_dir: Path, results_dir: Path, plan: list[NotebookRun]) -> Path:
    """Copy the book sources and the executed notebooks into ``results_dir/book_src``."""
    stage = results_dir / "book_src"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(project_dir / "book", stage / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(project_dir / name, stage / name)
    executed = stage / "book" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    for item in plan:
        shutil.copy2(item.output, executed / item.output.name)
    return stage


__all__ = [
    "NotebookRun",
    "ParameterError",
    "PipelineError",
    "build_only",
    "check_value",
    "get_profile",
    "load_profiles",
    "parse_set_options",
    "parse_value",
    "plan_run",
    "run_pipeline",
]
