"""One run of a sweep on a Dask worker (with retries), and the cluster the runs go to."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline import PipelineError, run_pipeline
from .plan import SweepError, SweepRun, SweepSpec

logger = logging.getLogger("synergy_utils.sweep")

#: Text of the errors that mean "the kernel did not start" rather than "a cell failed".
KERNEL_START_ERRORS = (
    "Kernel died before replying to kernel_info",
    "Kernel didn't respond",
    "Address already in use",
)


# --- one run, on a worker --------------------------------------------------------------------


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to execute one run (plain data, sent to the worker)."""

    run: SweepRun
    profile: str
    project_dir: Path
    retries: int
    env: dict[str, str]
    gpus: tuple[str, ...] = ()  #: the LocalCluster's GPUs, one per worker (empty: leave as is)
    command: str | None = None
    force: bool = False  #: re-run every chapter (else finished chapters are skipped)


def kernel_start_failure(err: BaseException) -> str | None:
    """Why a kernel failed to start, if that is what ``err`` (or its cause) says, else None.

    A failing cell (papermill's ``PapermillExecutionError``) is never a start failure.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "PapermillExecutionError":
            return None
        if not isinstance(current, PipelineError):
            text = f"{type(current).__name__}: {current}"
            if any(marker in text for marker in KERNEL_START_ERRORS):
                return text.splitlines()[0][:200]
        current = current.__cause__ or current.__context__
    return None


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the notebook kernels), restore them after."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _worker_gpu(gpus: tuple[str, ...]) -> str | None:
    """The GPU of this LocalCluster worker (workers are named 0, 1, ...), or None."""
    if not gpus:
        return None
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return None
    index = (
        int(name)
        if str(name).isdigit()
        else int(hashlib.sha256(str(name).encode()).hexdigest(), 16)
    )
    return gpus[index % len(gpus)]


def make_record(run: SweepRun, status: str, attempts: int, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "model": run.model,
        "seed": run.seed,
        "point": dict(run.point),
        "results_dir": str(run.results_dir),
        "status": status,
        "attempts": attempts,
        **extra,
    }


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run the pipeline of one run (no book), retrying kernel-start failures.

    Returns a record: ``status`` ("finished" or "failed"), ``attempts``, ``retries`` (one
    message per retry), ``seconds`` and ``error``. The pipeline's own output goes to
    ``<run>/sweep.log``. Never raises for a failed run.
    """
    run = task.run
    run.results_dir.mkdir(parents=True, exist_ok=True)
    env = dict(task.env)
    gpu = _worker_gpu(task.gpus)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    notes: list[str] = []
    start = time.perf_counter()
    log_path = run.results_dir / "sweep.log"
    with _environment(env), open(log_path, "a") as log, contextlib.redirect_stdout(log):
        for attempt in range(1, task.retries + 2):
            try:
                run_pipeline(
                    task.profile,
                    project_dir=task.project_dir,
                    results_dir=run.results_dir,
                    model=run.model,
                    overrides=run.overrides,
                    build=False,
                    progress=False,
                    command=task.command,
                    force=True if task.force and attempt == 1 else None,
                )
            except Exception as err:  # noqa: BLE001 - a failed run is a record, not a crash
                reason = kernel_start_failure(err)
                if reason is None or attempt > task.retries:
                    seconds = round(time.perf_counter() - start, 1)
                    error = str(err)[-4000:]
                    return make_record(
                        run, "failed", attempt, retries=notes, seconds=seconds, error=error
                    )
                delay = attempt + random.random()  # spread restarts that raced for ports
                note = (
                    f"{run.run_id}: a notebook kernel failed to start ({reason}); "
                    f"retry {attempt} of {task.retries} in {delay:.1f} s"
                )
                notes.append(note)
                logger.warning(note)
                print(note, flush=True)
                time.sleep(delay)
                continue
            seconds = round(time.perf_counter() - start, 1)
            return make_record(run, "finished", attempt, retries=notes, seconds=seconds, error=None)
    raise AssertionError("unreachable")  # pragma: no cover


# --- the cluster -----------------------------------------------------------------------------


def visible_gpus() -> tuple[str, ...]:
    """GPU ids this process may use: ``$CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return tuple(d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1")
    try:
        found = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ()
    lines = [line for line in found.stdout.splitlines() if line.startswith("GPU ")]
    return tuple(str(i) for i in range(len(lines)))


@dataclass(frozen=True)
class ClusterPlan:
    """How a LocalCluster is sized: workers, threads per run, and one GPU per worker."""

    n_workers: int
    threads_per_run: int
    gpus: tuple[str, ...]


def size_local_cluster(
    n_tasks: int,
    *,
    n_workers: int | None = None,
    gpus: tuple[str, ...] | None = None,
    threads: int | None = None,
    cores: int | None = None,
) -> ClusterPlan:
    """One worker per GPU when there are GPUs (each run gets one), else one per
    ``threads`` cores; never more workers than runs. Threads per run default to the cores
    shared out among the workers."""
    gpus = visible_gpus() if gpus is None else tuple(gpus)
    cores = cores or os.cpu_count() or 1
    if n_workers is None:
        n_workers = len(gpus) if gpus else max(1, cores // (threads or 1))
    if gpus:
        n_workers = min(n_workers, len(gpus))
    n_workers = max(1, min(n_workers, max(n_tasks, 1)))
    return ClusterPlan(n_workers, threads or max(1, cores // n_workers), gpus[:n_workers])


def pick_gpus(n_gpus: int | None) -> tuple[str, ...] | None:
    """``n_gpus`` GPU ids (the visible ones first), or None to use every visible GPU."""
    if n_gpus is None:
        return None
    visible = visible_gpus()
    return (visible if len(visible) >= n_gpus else tuple(map(str, range(n_gpus))))[:n_gpus]


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:  # the optional extra
        raise SweepError(
            "synergy sweep needs Dask: pip install 'synergy-utils[sweep]' "
            "(or pip install 'dask[distributed]')"
        ) from err
    return distributed


@contextlib.contextmanager
def cluster_client(
    scheduler: str | None, plan: ClusterPlan, dashboard_address: str | None
) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a fresh LocalCluster sized by
    ``plan`` (worker resources ``GPU=1`` when there are GPUs)."""
    distributed = _import_distributed()
    if scheduler:
        with distributed.Client(scheduler) as client:
            if not client.scheduler_info().get("workers"):
                print(f"waiting for a worker to join {scheduler} ...", flush=True)
                client.wait_for_workers(1)
            yield client
        return
    cluster = distributed.LocalCluster(
        n_workers=plan.n_workers,
        threads_per_worker=1,
        processes=True,
        resources={"GPU": 1} if plan.gpus else None,
        dashboard_address=dashboard_address,
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def gpu_resources(client: Any) -> dict[str, int] | None:
    """``{"GPU": 1}`` when the cluster's workers declare GPU resources, else None."""
    workers = client.scheduler_info().get("workers", {}).values()
    has_gpus = any(w.get("resources", {}).get("GPU", 0) >= 1 for w in workers)
    return {"GPU": 1} if has_gpus else None


def dashboard_line(client: Any) -> str:
    link = getattr(client, "dashboard_link", None)
    if importlib.util.find_spec("bokeh") is None:
        return f"Dask dashboard: {link} (install bokeh>=3.1 to serve it)"
    return f"Dask dashboard: {link}"


def run_environment(spec: SweepSpec, threads: int | None) -> dict[str, str]:
    env = {}
    if threads:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[variable] = str(threads)
    if spec.device_map:
        env["SYNERGY_DEVICE_MAP"] = spec.device_map
    if spec.dtype:
        env["SYNERGY_DTYPE"] = spec.dtype
    return env
