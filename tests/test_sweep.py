"""Sweeps on Dask: planning, resumption from provenance, retries of kernels that fail to
start, and one LocalCluster sweep of two tiny models x two seeds through the real setup
notebook, run twice (the second run skips everything)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from synergy_utils import results
from synergy_utils.pipeline import ParameterError, PipelineError
from synergy_utils.sweep import (
    RunTask,
    SweepError,
    execute_run,
    finished_run,
    kernel_start_failure,
    load_sweep,
    plan_sweep,
    run_sweep,
    size_local_cluster,
)
from synergy_utils.sweep import worker as sweep_worker

from .conftest import REPO, make_tiny_llama, make_tiny_tokenizer

PRIMER_ONLY = {"notebooks": {"00_setup": {}, "01_phiid_primer": {"series_length": 200}}}


def _write_sweep(folder: Path, **fields) -> Path:
    path = folder / "sweep.yml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def _spec(tmp_path: Path, **fields):
    fields.setdefault("profile", PRIMER_ONLY)
    fields.setdefault("models", [None])
    fields.setdefault("out", "./out")
    return load_sweep(_write_sweep(tmp_path, **fields), project_dir=REPO)


# --- the sweep file and the plan ---------------------------------------------------------------


def test_plan_covers_models_grid_and_seeds(tmp_path):
    (tmp_path / "m").mkdir()
    spec = _spec(
        tmp_path,
        models=[None, "./m"],
        seeds=[0, 1],
        grid={"series_length": [200, 300], "01_phiid_primer.coupling": 0.5},
    )
    runs = plan_sweep(spec)
    assert len(runs) == 2 * 2 * 2
    assert spec.models[1] == str((tmp_path / "m").resolve())  # relative to the sweep file
    first = runs[0]
    assert first.run_id == "default__seed0__series_length=200-coupling=0.5"
    assert first.results_dir == spec.out / "runs" / first.run_id
    # the seed goes to every notebook that declares it; a bare PARAM to those that declare it
    assert first.overrides == {
        "00_setup": {"seed": "0"},
        "01_phiid_primer": {"seed": "0", "series_length": "200", "coupling": "0.5"},
    }
    assert first.parameters["01_phiid_primer"]["coupling"] == 0.5
    assert {r.run_id.split("__")[0] for r in runs} == {"default", "m"}
    assert spec.out == tmp_path / "out" and spec.profile == str(spec.out / "profile.yml")
    named = load_sweep(_write_sweep(tmp_path, profile="quick"), project_dir=REPO)
    assert named.out == REPO / "results" / "sweeps" / "sweep" and named.profile == "quick"


def test_bad_sweep_files_are_clear_errors(tmp_path):
    with pytest.raises(SweepError, match="unknown key"):
        _spec(tmp_path, modles=["gpt2"])
    with pytest.raises(SweepError, match="seeds must be"):
        _spec(tmp_path, seeds=["zero"])
    with pytest.raises(SweepError, match="no notebook of the profile declares 'tau'"):
        plan_sweep(_spec(tmp_path, grid={"tau": [1, 2]}))
    with pytest.raises(ParameterError, match="series_length"):
        plan_sweep(_spec(tmp_path, grid={"01_phiid_primer.series_length": ["long"]}))


def test_finished_runs_are_recognised_from_their_provenance(tmp_path):
    spec = _spec(tmp_path, seeds=[0])
    (run,) = plan_sweep(spec)
    commit = results.git_commit(REPO)
    assert not finished_run(run, commit)
    run.results_dir.mkdir(parents=True)
    info = {"status": "finished", "parameters": run.parameters, "git_commit": commit}
    results.write_json(run.results_dir / "run_info.json", info)
    assert finished_run(run, commit)
    assert not finished_run(run, "another-commit")
    results.write_json(run.results_dir / "run_info.json", {**info, "status": "failed"})
    assert not finished_run(run, commit)
    changed = json.loads(json.dumps(run.parameters))
    changed["01_phiid_primer"]["series_length"] = 999
    results.write_json(run.results_dir / "run_info.json", {**info, "parameters": changed})
    assert not finished_run(run, commit)


# --- retries -----------------------------------------------------------------------------------


class PapermillExecutionError(Exception):
    """Stands in for papermill's error of a failing cell (matched by name)."""


def _pipeline_error(cause: Exception) -> PipelineError:
    try:
        raise PipelineError("notebook 00_setup failed after 2 s.") from cause
    except PipelineError as err:
        return err


def test_kernel_start_failures_are_told_from_failing_cells():
    died = RuntimeError("Kernel died before replying to kernel_info")
    assert "Kernel died" in kernel_start_failure(_pipeline_error(died))
    ports = OSError("zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:5555')")
    assert "Address already in use" in kernel_start_failure(_pipeline_error(ports))
    assert kernel_start_failure(_pipeline_error(PapermillExecutionError("kernel_info"))) is None
    assert kernel_start_failure(_pipeline_error(ValueError("bad value"))) is None


def test_a_run_is_retried_only_when_its_kernel_failed_to_start(tmp_path, monkeypatch):
    spec = _spec(tmp_path, seeds=[0])
    (run,) = plan_sweep(spec)
    failures = [RuntimeError("Kernel died before replying to kernel_info")]
    calls = []

    def fake_pipeline(*args, **kwargs):
        calls.append(kwargs)
        if failures:
            raise _pipeline_error(failures.pop())

    monkeypatch.setattr(sweep_worker, "run_pipeline", fake_pipeline)
    monkeypatch.setattr(sweep_worker.time, "sleep", lambda seconds: None)
    task = RunTask(run, spec.profile, spec.project_dir, retries=2, env={"OMP_NUM_THREADS": "1"})
    record = execute_run(task)
    assert record["status"] == "finished" and record["attempts"] == 2
    assert "failed to start" in record["retries"][0] and "retry 1 of 2" in record["retries"][0]
    assert calls[0]["results_dir"] == run.results_dir and calls[0]["build"] is False
    assert "retry 1 of 2" in (run.results_dir / "sweep.log").read_text()
    # a failing cell is not retried; a kernel that never starts is retried `retries` times
    failures[:] = [PapermillExecutionError("ZeroDivisionError")]
    assert execute_run(task)["attempts"] == 1
    failures[:] = [RuntimeError("Kernel didn't respond in 60 seconds")] * 3
    record = execute_run(task)
    assert (record["status"], record["attempts"], len(record["retries"])) == ("failed", 3, 2)


def test_local_cluster_is_sized_from_cores_and_gpus():
    assert size_local_cluster(8, gpus=(), cores=2) == sweep_worker.ClusterPlan(2, 1, ())
    assert size_local_cluster(8, gpus=(), cores=16, threads=4).n_workers == 4
    plan = size_local_cluster(8, gpus=("0", "1"), cores=16)
    assert (plan.n_workers, plan.threads_per_run, plan.gpus) == (2, 8, ("0", "1"))
    assert size_local_cluster(1, gpus=("0", "1"), cores=16).gpus == ("0",)
    assert size_local_cluster(8, n_workers=3, gpus=(), cores=2).n_workers == 3


# --- a real sweep on a LocalCluster ---------------------------------------------------------


def _flaky_kernel(folder: Path, marker: Path) -> Path:
    """A ``python3`` kernelspec whose first start in the whole sweep fails, as a kernel that
    lost papermill's port race does; later starts run ipykernel as usual."""
    script = folder / "flaky_kernel.py"
    script.write_text(
        "import os, sys\n"
        "try:  # the first kernel to create the marker fails; O_EXCL makes that exactly one\n"
        f"    os.close(os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))\n"
        "except FileExistsError:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('flaky kernel: failing to start once')\n"
        "from ipykernel import kernelapp\n"
        "kernelapp.launch_new_instance()\n"
    )
    spec = folder / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, str(script), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
    return folder / "jupyter"


@pytest.mark.slow
def test_local_cluster_sweep_retries_once_and_resumes(tmp_path, monkeypatch, capsys):
    from synergy_utils.cli import main

    for name, n_layers in (("tiny-a", 2), ("tiny-b", 3)):
        make_tiny_llama(n_layers=n_layers).save_pretrained(tmp_path / name)
        make_tiny_tokenizer().save_pretrained(tmp_path / name)
    marker = tmp_path / "kernel-failed-once"
    monkeypatch.setenv("JUPYTER_PATH", str(_flaky_kernel(tmp_path, marker)))
    sweep_file = _write_sweep(
        tmp_path,
        profile={"notebooks": {"00_setup": {}}},
        models=["./tiny-a", "./tiny-b"],
        seeds=[0, 1],
        retries=2,
        threads=1,
        out="./out",
    )
    spec = load_sweep(sweep_file, project_dir=REPO)
    result = run_sweep(spec, n_workers=2, n_gpus=0, progress=False, dashboard_address=":0")
    assert marker.exists()
    assert [r["status"] for r in result.records] == ["finished"] * 4
    retried = [r for r in result.records if r["attempts"] > 1]
    assert len(retried) == 1 and "failed to start" in retried[0]["retries"][0]
    table = result.table
    ids = ["tiny-a__seed0", "tiny-a__seed1", "tiny-b__seed0", "tiny-b__seed1"]
    assert list(table["run_id"]) == ids
    assert list(table["setup.n_layers"]) == [2, 2, 3, 3]
    assert list(table["seed"]) == [0, 1, 0, 1]
    info = results.read_json(spec.out / "runs" / "tiny-b__seed1" / "run_info.json")
    assert info["status"] == "finished" and info["parameters"]["00_setup"]["seed"] == 1
    for name in ("sweep.csv", "sweep.nc", "sweep.md", "sweep_info.json", "_toc.yml"):
        assert (spec.out / name).exists(), name
    assert "setup.n_layers" in (spec.out / "sweep.md").read_text()
    dataset = results.load_dataset(spec.out / "sweep.nc")
    assert dataset["setup.n_layers"].values.tolist() == [2, 2, 3, 3]
    assert list(dataset["run"].values) == ids
    stamps = {p: p.stat().st_mtime_ns for p in (spec.out / "runs").glob("*/run_info.json")}
    capsys.readouterr()

    argv = ["sweep", str(sweep_file), "--project", str(REPO), "--gpus", "0", "--no-progress"]
    assert main(argv) == 0
    assert "4 already finished (skipped), 0 to run" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}  # nothing ran again
    info = results.read_json(spec.out / "sweep_info.json")
    assert (info["n_runs"], info["n_skipped"], info["n_failed"]) == (4, 4, 0)


def test_combined_table_and_chapter_cover_failed_and_missing_runs(tmp_path):
    from synergy_utils.summary import write_section
    from synergy_utils.sweep.report import combine_runs, to_dataset, write_outputs

    spec = _spec(tmp_path, seeds=[0, 1], grid={"01_phiid_primer.coupling": [0.5]})
    first, second = plan_sweep(spec)
    setup = {
        "model": "m", "family": "llama", "n_parameters_millions": 0.1, "n_layers": 2,
        "n_heads": 4, "n_kv_heads": 2, "head_dim": 8, "n_total_heads": 8,
        "n_ordered_pairs": 56, "recording_site": "input of self_attn.o_proj",
        "chat_template": False, "load_seconds": 0.5,
    }  # fmt: skip
    write_section(first.results_dir, "setup", setup)
    records = [
        {"status": "finished", "attempts": 1, "seconds": 3.0},
        {"status": "failed", "attempts": 3, "seconds": 9.0},
    ]
    table = combine_runs([first, second], records)
    assert list(table["status"]) == ["finished", "failed"]
    assert table["setup.n_layers"].iloc[0] == 2 and table["setup.n_layers"].isna().iloc[1]
    assert list(table["01_phiid_primer.coupling"]) == [0.5, 0.5]
    dataset = to_dataset(table)
    assert dataset["setup.n_layers"].dtype.kind == "f"  # missing as NaN
    assert dataset["setup.chat_template"].values[0] == 0.0  # bools as 0/1
    assert dataset["setup.family"].values.tolist() == ["llama", ""]
    info = {"name": "t", "profile": spec.profile, "models": [None], "seeds": [0, 1]}
    info |= {"grid": {"01_phiid_primer.coupling": [0.5]}, "git_commit": "abc", "end": "now"}
    files = write_outputs(tmp_path / "report", table, info)
    chapter = files["chapter"].read_text()
    assert chapter.startswith("# Sweep: t") and "1 failed, 1 finished" in chapter
    assert "| default__seed1__coupling=0.5 | default | 1 | 0.5 | failed | 3 | 9 |" in chapter
    statuses = results.load_dataset(files["netcdf"])["status"].values.tolist()
    assert statuses == ["finished", "failed"]
