"""The pipeline: profile resolution, parameter validation, notebooks, and a whole quick run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from synergy_utils import cli, pipeline
from synergy_utils.notebooks import declared_parameters
from synergy_utils.pipeline import ParameterError, check_value, parse_set_options, parse_value

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_parse_set_options_groups_by_notebook():
    parsed = parse_set_options(["02_extraction.n_prompts=6", "02_extraction.reduction=max", "a.b="])
    assert parsed == {"02_extraction": {"n_prompts": "6", "reduction": "max"}, "a": {"b": ""}}


@pytest.mark.parametrize("bad", ["n_prompts=6", "02_extraction.n_prompts", ".x=1", "nb.=1"])
def test_malformed_set_option_is_an_error(bad):
    with pytest.raises(ParameterError, match="NOTEBOOK.PARAM=VALUE"):
        parse_set_options([bad])


@pytest.mark.parametrize(
    ("raw", "type_name", "expected"),
    [
        ("6", "int", 6),
        ("0.5", "float", 0.5),
        ("2", "float", 2.0),
        ("true", "bool", True),
        ("gpt2", "Optional[str]", "gpt2"),
        ("None", "Optional[str]", None),
        ("null", "Optional[int]", None),
        ("12", "Optional[int]", 12),
        ("1,2", "str", "1,2"),
        ("[a, b]", "List[str]", ["a", "b"]),
    ],
)
def test_parse_value_follows_the_annotation(raw, type_name, expected):
    value = parse_value(raw, type_name)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "type_name"), [("abc", "int"), ("1.5", "int"), ("true", "int"), ("None", "int")]
)
def test_parse_value_rejects_the_wrong_type(raw, type_name):
    with pytest.raises(TypeError):
        parse_value(raw, type_name)


def test_check_value_widens_int_to_float_only():
    assert check_value(3, "float") == 3.0 and isinstance(check_value(3, "float"), float)
    with pytest.raises(TypeError):
        check_value(3.5, "int")


def test_unknown_parameter_fails_before_anything_runs(tmp_path: Path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        ["run", "--profile", "quick", "--out", str(out), "--project", str(REPO),
         "--set", "00_setup.no_such_param=1"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "no_such_param" in err and "model_name, results_dir, seed" in err
    assert not out.exists()


def test_wrong_type_and_unknown_notebook_are_errors():
    with pytest.raises(ParameterError, match="00_setup.seed"):
        pipeline.plan_run("quick", project_dir=REPO, overrides={"00_setup": {"seed": "x"}})
    with pytest.raises(ParameterError, match="unknown notebook"):
        pipeline.plan_run("quick", project_dir=REPO, overrides={"99_nothing": {"a": "1"}})


def test_unknown_profile_is_an_error():
    with pytest.raises(pipeline.PipelineError, match="profiles: quick, full"):
        pipeline.plan_run("medium", project_dir=REPO)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_profiles_fit_the_notebooks(profile, tmp_path: Path):
    """Every notebook and parameter a profile names exists, with a value of the right type."""
    plan = pipeline.plan_run(profile, project_dir=REPO, results_dir=tmp_path)
    assert [item.name for item in plan] == list(pipeline.get_profile(profile)["notebooks"])
    for item in plan:
        assert item.parameters.get("results_dir", str(tmp_path)) == str(tmp_path.resolve())


def test_model_option_reaches_every_model_notebook(tmp_path: Path):
    plan = pipeline.plan_run("quick", project_dir=REPO, results_dir=tmp_path, model="gpt2")
    declared = [item for item in plan if "model_name" in item.parameters]
    assert declared and all(item.parameters["model_name"] == "gpt2" for item in declared)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_notebooks_are_clean_and_typed(path: Path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs not stripped"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    declared = declared_parameters(path)
    assert "results_dir" in declared
    for name, info in declared.items():
        assert info["inferred_type_name"] not in ("None", ""), f"{name} has no type annotation"
        assert "|" not in info["inferred_type_name"], f"{name}: use Optional[...], not X | None"


def test_toc_lists_every_notebook():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = {c["file"] for part in toc["parts"] for c in part["chapters"]}
    for path in NOTEBOOKS:
        assert f"book/notebooks/{path.stem}" in files


@pytest.mark.slow
def test_quick_profile_runs_every_notebook_and_builds_the_book(quick_run):
    results_dir, html_dir = quick_run
    executed = sorted((results_dir / "notebooks").glob("*.ipynb"))
    assert [p.stem for p in executed] == [p.stem for p in NOTEBOOKS]
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        errors = [
            output
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.output_type == "error"
        ]
        assert not errors, f"{path.name} has error outputs"
        images = [
            output
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if "image/png" in output.get("data", {})
        ]
        assert images, f"{path.name} shows no figure (MPLBACKEND leaking into the kernel?)"
    summary = json.loads((results_dir / "summary.json").read_text())
    provenance = summary["provenance"]
    assert provenance["status"] == "finished" and provenance["git_commit"] is not None
    assert set(provenance["seconds"]) == {p.stem for p in NOTEBOOKS}
    assert summary["setup"]["n_layers"] == 30
    assert (html_dir / "index.html").exists()
    for path in NOTEBOOKS:
        assert (html_dir / "book" / "notebooks" / f"{path.stem}.html").exists()


def test_results_inside_the_project_are_passed_as_relative_paths():
    """No machine path reaches the executed notebooks, their provenance or the book."""
    plan = pipeline.plan_run("quick", project_dir=REPO)
    assert {item.parameters.get("results_dir") for item in plan} - {None} == {"results/quick"}
    assert plan[0].output == REPO / "results" / "quick" / "notebooks" / "00_setup.ipynb"
