"""Sweeps: models x a parameter grid x seeds, each run the whole pipeline, on Dask.

``synergy sweep SWEEP.yml`` reads a sweep file::

    profile: quick                  # a profile name, a YAML profile file, or a profile inline
    models: [null, ./my-model]      # null: the bundled model; hub ids; local folders
    seeds: [0, 1]                   # injected into every notebook that declares ``seed``
    grid:                           # every combination of these values
      03_synergistic_cores.tau: [1, 2]   # NOTEBOOK.PARAM, or PARAM for every notebook
    retries: 2                      # kernel-start failures retried per run
    threads: 1                      # torch/BLAS threads per run (default: cores / workers)
    device_map: auto                # optional: shard big models over the GPUs (load_model)
    dtype: bfloat16                 # optional: weights dtype (load_model)
    out: results/sweeps/my-sweep    # default: results/sweeps/<file name>

Paths in the file are relative to the file's folder. Each run is one
:func:`synergy_utils.pipeline.run_pipeline` (no book) into ``OUT/runs/<run id>/``, one Dask
task. A run is *finished* when its ``run_info.json`` says ``status: finished`` with the
planned parameters, model and git commit; a second invocation skips it. When a notebook's
kernel fails to start (papermill's port race when kernels start in parallel, papermill issue
511), the run is retried up to ``retries`` times, each retry logged. The runs' ``summary.json``
files are then combined into one table and a chapter (:mod:`synergy_utils.sweep.report`).

Modules: :mod:`.plan` (the sweep file, the runs, resumption), :mod:`.worker` (one run on a
Dask worker, retries; sizing the LocalCluster), :mod:`.report` (table and chapter); this
module runs the sweep. Dask is the optional extra ``sweep`` (``pip install -e '.[sweep]'``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import results
from .plan import SweepError, SweepRun, SweepSpec, finished_run, load_sweep, plan_sweep
from .worker import (
    ClusterPlan,
    RunTask,
    cluster_client,
    dashboard_line,
    execute_run,
    gpu_resources,
    kernel_start_failure,
    make_record,
    pick_gpus,
    run_environment,
    size_local_cluster,
    visible_gpus,
)

# --- the sweep -------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep did: one record per run (in plan order), the combined table, the files."""

    spec: SweepSpec
    records: list[dict[str, Any]]
    table: Any  #: pandas.DataFrame, one row per run
    files: dict[str, Path]

    @property
    def n_failed(self) -> int:
        return sum(record["status"] != "finished" for record in self.records)


def _describe(record: dict[str, Any]) -> str:
    retried = len(record.get("retries") or [])
    extra = f" after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else ""
    if record["status"] == "finished":
        return f"{record['run_id']}: finished in {record.get('seconds')} s{extra}"
    error = (record.get("error") or "").strip().splitlines()
    return f"{record['run_id']}: FAILED{extra}: {error[0] if error else 'no message'}"


def _submit_all(
    spec: SweepSpec,
    todo: list[SweepRun],
    *,
    scheduler: str | None,
    plan: ClusterPlan,
    progress: bool,
    dashboard_address: str | None,
    command: str | None,
    force: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run ``todo`` on the cluster, one task per run; the records by run id."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    records: dict[str, dict[str, Any]] = {}
    with cluster_client(scheduler, plan, dashboard_address) as client:
        print(dashboard_line(client), flush=True)
        threads = spec.threads if scheduler else plan.threads_per_run
        env = run_environment(spec, threads)
        gpus = () if scheduler else plan.gpus
        resources = gpu_resources(client)
        token = os.urandom(4).hex()
        futures = {
            client.submit(
                execute_run,
                RunTask(
                    run, spec.profile, spec.project_dir, spec.retries, env, gpus, command, force
                ),
                key=f"synergy-run-{run.run_id}-{token}",
                resources=resources,
                pure=False,
            ): run
            for run in todo
        }
        bar = tqdm(total=len(futures), desc=f"sweep {spec.name}", unit="run", disable=not progress)
        with bar:
            for future in as_completed(futures):
                run = futures[future]
                try:
                    record = future.result()
                except Exception as err:  # noqa: BLE001 - a lost worker, a cancelled task
                    error = f"{type(err).__name__}: {err}"
                    record = make_record(run, "failed", 1, retries=[], seconds=None, error=error)
                records[run.run_id] = record
                bar.update(1)
                bar.write(_describe(record))
    return records


def run_sweep(
    spec: SweepSpec,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    n_gpus: int | None = None,
    force: bool = False,
    progress: bool = False,
    dashboard_address: str | None = ":8787",
    command: str | None = None,
) -> SweepResult:
    """Run every unfinished run of ``spec`` on Dask, then write the combined table and chapter.

    ``scheduler``: the address of a running Dask scheduler (e.g. one started with
    dask-jobqueue); by default a LocalCluster sized by :func:`size_local_cluster` (``n_workers``,
    ``n_gpus``: override the sizing). ``force`` re-runs finished runs too. Failed runs are
    reported in the records (and ``SweepResult.n_failed``), never raised.
    """
    from .report import combine_runs, write_outputs

    start = results.now_iso()
    runs = plan_sweep(spec)
    commit = results.git_commit(spec.project_dir)
    done = set() if force else {run.run_id for run in runs if finished_run(run, commit)}
    todo = [run for run in runs if run.run_id not in done]
    print(
        f"sweep {spec.name}: {len(runs)} runs, {len(done)} already finished (skipped), "
        f"{len(todo)} to run -> {spec.out}",
        flush=True,
    )
    skipped = {"skipped": True, "retries": [], "seconds": None, "error": None}
    records = {
        run.run_id: make_record(run, "finished", 0, **skipped) for run in runs if run.run_id in done
    }
    if todo:
        plan = size_local_cluster(
            len(todo), n_workers=n_workers, gpus=pick_gpus(n_gpus), threads=spec.threads
        )
        records.update(
            _submit_all(
                spec,
                todo,
                scheduler=scheduler,
                plan=plan,
                progress=progress,
                dashboard_address=dashboard_address,
                command=command,
                force=force,
            )
        )
    ordered = [records[run.run_id] for run in runs]
    table = combine_runs(runs, ordered)
    info = _sweep_info(spec, runs, ordered, commit, start, command)
    files = write_outputs(spec.out, table, info)
    return SweepResult(spec, ordered, table, files)


def _sweep_info(
    spec: SweepSpec,
    runs: list[SweepRun],
    records: list[dict[str, Any]],
    commit: str | None,
    start: str,
    command: str | None,
) -> dict[str, Any]:
    """What ``sweep_info.json`` records: the sweep, its runs and their provenance."""
    return {
        "name": spec.name,
        "description": spec.description,
        "profile": spec.profile,
        "models": list(spec.models),
        "seeds": list(spec.seeds),
        "grid": {key: list(values) for key, values in spec.grid.items()},
        "n_points": max(1, len(runs) // max(1, len(spec.models) * len(spec.seeds))),
        "retries": spec.retries,
        "threads": spec.threads,
        "device_map": spec.device_map,
        "dtype": spec.dtype,
        "command": command,
        "start": start,
        "end": results.now_iso(),
        "git_commit": commit,
        "versions": results.package_versions(),
        "n_runs": len(runs),
        "n_skipped": sum(bool(r.get("skipped")) for r in records),
        "n_failed": sum(r["status"] != "finished" for r in records),
        "runs": records,
    }


__all__ = [
    "ClusterPlan",
    "RunTask",
    "SweepError",
    "SweepResult",
    "SweepRun",
    "SweepSpec",
    "execute_run",
    "finished_run",
    "kernel_start_failure",
    "load_sweep",
    "plan_sweep",
    "run_sweep",
    "size_local_cluster",
    "visible_gpus",
]
