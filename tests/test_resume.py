"""Chapter-level resumption of ``synergy run``: finished chapters are skipped, changed ones
re-run with the chapters that read their output, damaged executed copies are re-run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from synergy_utils import chapters, pipeline, results

CHAPTERS = ("a_first", "b_second", "c_third")
#: What each synthetic chapter reads: b reads a's file, c reads nothing.
INPUTS = {"a_first": (), "b_second": ("a.txt",), "c_third": ()}


def _project(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    for name in CHAPTERS:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        params = nbformat.v4.new_code_cell(
            'x: int = 1  # [0, inf); a value\nresults_dir: str = "results/dev"  # any; out'
        )
        params.metadata["tags"] = ["parameters"]
        work = {
            "a_first": 'Path(results_dir, "a.txt").write_text(f"a{x}")',
            "b_second": 'Path(results_dir, "b.txt").write_text(Path(results_dir, "a.txt").read_text() + "b")',  # noqa: E501
            "c_third": 'assert not Path("STOP").exists(), "stopped"\nPath(results_dir, "c.txt").write_text("c")',  # noqa: E501
        }[name]
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# {name}"),
            params,
            nbformat.v4.new_code_cell("from pathlib import Path\n" + work),
        ]
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    profile = {"notebooks": {name: {} for name in CHAPTERS}, "common": {}}
    (root / "profile.yml").write_text(yaml.safe_dump(profile))
    return root


def _fake_papermill(calls: list[str]):
    """Execute a synthetic chapter in-process, writing the executed copy as papermill does
    (cell statuses, a partial copy when a cell raises)."""

    def execute_notebook(source, output, parameters, cwd, **kwargs):
        name = Path(source).stem
        calls.append(name)
        nb = nbformat.read(source, as_version=4)
        nb.metadata["papermill"] = {"exception": None, "parameters": parameters}
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.metadata["papermill"] = {"status": "pending"}
        nbformat.write(nb, output)
        scope: dict = {"__name__": "chapter"}
        exec(nb.cells[1].source, scope)  # noqa: S102 - the defaults, then the injected values
        scope.update(parameters)
        scope["results_dir"] = str(Path(cwd, parameters["results_dir"]))
        cwd_before = Path.cwd()
        import os

        os.chdir(cwd)
        try:
            exec(nb.cells[2].source, scope)  # noqa: S102 - our own synthetic cell
        except Exception:
            nb.metadata["papermill"]["exception"] = True
            nbformat.write(nb, output)
            raise
        finally:
            os.chdir(cwd_before)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.metadata["papermill"] = {"status": "completed"}
        nbformat.write(nb, output)

    return execute_notebook


@pytest.mark.slow
def test_a_real_run_stopped_in_a_later_chapter_resumes_there(tmp_path, monkeypatch, capsys):
    """The same with papermill's own kernels and executed copies."""
    monkeypatch.setattr(chapters, "CHAPTER_INPUTS", INPUTS)
    root = _project(tmp_path / "project")
    (root / "STOP").write_text("")
    kwargs = dict(project_dir=root, results_dir=root / "results" / "run", build=False)
    with pytest.raises(pipeline.PipelineError, match="c_third failed"):
        pipeline.run_pipeline(str(root / "profile.yml"), progress=False, **kwargs)
    (root / "STOP").unlink()
    capsys.readouterr()
    pipeline.run_pipeline(str(root / "profile.yml"), progress=False, **kwargs)
    out = capsys.readouterr().out
    assert out.count("unchanged since it finished: skipped") == 2, out
    assert "c_third  runs again: the earlier run of it did not finish (failed)" in out
    assert (root / "results" / "run" / "c.txt").read_text() == "c"


@pytest.fixture
def project(tmp_path, monkeypatch):
    import papermill

    calls: list[str] = []
    monkeypatch.setattr(papermill, "execute_notebook", _fake_papermill(calls))
    monkeypatch.setattr(chapters, "CHAPTER_INPUTS", INPUTS)
    root = _project(tmp_path / "project")

    def run(**kwargs) -> list[str]:
        calls.clear()
        pipeline.run_pipeline(
            str(root / "profile.yml"),
            project_dir=root,
            results_dir=root / "results" / "run",
            build=False,
            progress=False,
            **kwargs,
        )
        return list(calls)

    return root, run, calls


def test_a_stopped_run_resumes_at_the_chapter_it_stopped_in(project, capsys, monkeypatch):
    root, run, calls = project
    (root / "STOP").write_text("")
    with pytest.raises(pipeline.PipelineError, match="c_third failed"):
        run()
    assert calls == ["a_first", "b_second", "c_third"]
    info = results.read_json(root / "results" / "run" / "run_info.json")
    assert [info["chapters"][n]["status"] for n in CHAPTERS] == ["finished", "finished", "failed"]
    (root / "STOP").unlink()
    assert run() == ["c_third"], "the finished chapters are not re-executed"
    assert run() == [], "a finished run runs nothing"
    assert "unchanged since it finished: skipped" in capsys.readouterr().out
    # one parameter changed: that chapter and the one reading its output
    assert run(overrides={"a_first": {"x": "2"}}) == ["a_first", "b_second"]
    assert (root / "results" / "run" / "b.txt").read_text() == "a2b"
    assert run(overrides={"a_first": {"x": "2"}}) == []
    # another code version re-runs everything
    monkeypatch.setattr(results, "git_commit", lambda path=None: "another-commit")
    assert run(overrides={"a_first": {"x": "2"}}) == list(CHAPTERS)


def test_forced_and_damaged_chapters_run_again(project, capsys):
    root, run, _ = project
    assert run() == list(CHAPTERS)
    assert run(force=["c_third"]) == ["c_third"]
    assert run(force=True) == list(CHAPTERS)
    executed = root / "results" / "run" / "notebooks" / "b_second.ipynb"
    executed.write_text(executed.read_text()[:100])  # a damaged executed copy
    capsys.readouterr()
    assert run() == ["b_second"]
    assert "b_second  runs again: its executed copy changed" in capsys.readouterr().out
    (root / "results" / "run" / "a.txt").unlink()  # a result file gone
    assert run() == ["a_first"], "a recreates it; b's input is the same bytes"
    with pytest.raises(pipeline.ParameterError, match="no_such_chapter"):
        run(force=["no_such_chapter"])


def test_a_partial_or_failed_executed_copy_is_recognised(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1"), nbformat.v4.new_code_cell("2")]
    nb.metadata["papermill"] = {"exception": None}
    for cell, status in zip(nb.cells, ["completed", "pending"], strict=True):
        cell.metadata["papermill"] = {"status": status}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert "partial" in chapters.executed_copy_problem(path)
    nb.cells[1].metadata["papermill"]["status"] = "completed"
    nbformat.write(nb, path)
    assert chapters.executed_copy_problem(path) is None
    nb.metadata["papermill"]["exception"] = True
    nbformat.write(nb, path)
    assert "error" in chapters.executed_copy_problem(path)
    path.write_text("{ not json")
    assert "damaged" in chapters.executed_copy_problem(path)
    assert "missing" in chapters.executed_copy_problem(tmp_path / "none.ipynb")


def test_inputs_are_the_declared_files_or_every_earlier_output():
    current = {"series.nc": "1", "head_scores.csv": "2", "cores_null_mmi.nc": "3", "x.nc": "4"}
    assert chapters.chapter_inputs("03_synergistic_cores", current, []) == {"series.nc": "1"}
    assert set(chapters.chapter_inputs("05_ablation", current, [])) == {
        "series.nc", "head_scores.csv", "cores_null_mmi.nc"
    }  # fmt: skip
    earlier = [{"outputs": {"x.nc": "0"}}, {"outputs": {"gone.nc": "0"}}]
    assert chapters.chapter_inputs("99_undeclared", current, earlier) == {"x.nc": "4"}


def test_every_chapter_declares_its_inputs():
    names = {p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("*.ipynb")}
    assert set(chapters.CHAPTER_INPUTS) == names


def test_summary_sections_count_as_results(tmp_path):
    results.write_json(tmp_path / "summary.json", {"schema_version": 4, "cores": {"a": 1}})
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "x.ipynb").write_text("{}")
    (tmp_path / "models" / "cache").mkdir(parents=True)
    (tmp_path / "models" / "cache" / "k.nc").write_text("")
    hashes = chapters.result_hashes(tmp_path)
    assert list(hashes) == ["summary.json#cores"]
    results.write_json(tmp_path / "summary.json", {"schema_version": 4, "cores": {"a": 2}})
    assert chapters.written(hashes, chapters.result_hashes(tmp_path)) != {}
    assert json.loads((tmp_path / "summary.json").read_text())["cores"] == {"a": 2}
