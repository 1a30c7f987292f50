"""Every notebook parameter declares its valid range once; bad values are refused before any
notebook runs."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from synergy_utils import cli, pipeline
from synergy_utils.notebooks import RangeSyntaxError, declared_parameters, parameter_range

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize(
    ("comment", "good", "bad", "rest"),
    [
        ("[1, 60]; prompts", [1, 60, 30], [0, 61, -3], "prompts"),
        ("(0, 1] share of heads", [1, 0.5, 1e-9], [0, 1.5, -0.1], "share of heads"),
        ("[0, 1) persistence", [0, 0.99], [1, -1e-9], "persistence"),
        ("[1, inf); lag", [1, 10**9], [0, -1], "lag"),
        ("> 0; std", [1e-12, 5], [0, -1], "std"),
        ("< 1; x", [0.5, -3], [1, 2], "x"),
        ('{"luppi", "diff"}; how', ["luppi", "diff"], ["LUPPI", "", 1], "how"),
        ('each {"a", "b"}; families', ["a", "a,b", " b , a", "", ["a"]], ["a,c", "c"], "families"),
        ("each (0, 1); shares", ["0.05", "0.1,0.2", ""], ["0.1,1", "x", "0"], "shares"),
        ("any; a path", ["anything", ""], [], "a path"),
    ],
)
def test_declared_ranges_accept_and_refuse(comment, good, bad, rest):
    declared, help_text = parameter_range(comment)
    assert help_text == rest
    for value in good:
        assert declared.problem(value) is None, value
    for value in bad:
        assert declared.problem(value), value
    assert declared.problem(None) is None, "None is for the type annotation to decide"


def test_a_comment_without_a_range_declares_none():
    assert parameter_range("prompts per batch") == (None, "prompts per batch")
    assert parameter_range("") == (None, "")
    assert math.isinf(parameter_range("[1, inf)")[0].high)


@pytest.mark.parametrize("comment", ["each prompts", "{1: 2}; a dict", "{'a', ; broken"])
def test_an_unreadable_range_is_an_error(comment):
    with pytest.raises(RangeSyntaxError):
        parameter_range(comment)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_parameter_declares_a_range_its_default_fits(path: Path):
    declared = declared_parameters(path)
    cell = next(
        c
        for c in nbformat.read(path, as_version=4).cells
        if "parameters" in c.metadata.get("tags", [])
    )
    assigned = [
        line.split(":")[0].split("=")[0].strip()
        for line in cell.source.splitlines()
        if line.strip() and not line.startswith(("#", " ", "from ", "import "))
    ]
    assert sorted(assigned) == sorted(declared), "a parameter line papermill skipped ('=' twice?)"
    for name, info in declared.items():
        if info["inferred_type_name"] == "bool":
            continue  # the type is the range
        assert info["range"] is not None, f"{path.stem}.{name} declares no range"
        default = eval(info["default"])  # noqa: S307 - a literal from our own notebook
        assert info["range"].problem(default) is None, f"{path.stem}.{name} default {default!r}"


def _choices(notebook: str, name: str) -> set:
    return set(declared_parameters(REPO / "notebooks" / f"{notebook}.ipynb")[name]["range"].choices)


def test_declared_choices_are_the_packages_names():
    from synergy_utils.stages.ablation_orders import ORDER_DESCRIPTIONS
    from synergy_utils.stages.prompts import CATEGORIES
    from synergy_utils.stages.tasks import CATEGORY_FAMILY, TASK_FAMILIES

    assert _choices("02_extraction", "categories") == {"all", *CATEGORIES}
    assert _choices("04_phase_transition", "task_family") == {*TASK_FAMILIES, CATEGORY_FAMILY}
    assert _choices("05_ablation", "task_family") == set(TASK_FAMILIES)
    orders = set(ORDER_DESCRIPTIONS) - {"random"}
    assert _choices("05_ablation", "skip_orders") == orders
    assert _choices("05_ablation", "synergy_order") <= orders


BAD_VALUES = [
    ("02_extraction.n_prompts=-3", "[1, 60]"),
    ("03_synergistic_cores.tau=0", "[1, inf)"),
    ("03_synergistic_cores.tau=-2", "[1, inf)"),
    ("03_synergistic_cores.n_shuffles=0", "[1, inf)"),
    ("04_phase_transition.tau=-1", "[1, inf)"),
    ("06_across_models.n_shuffles=0", "[1, inf)"),
    ("05_ablation.max_fraction=1.5", "(0, 1]"),
    ("05_ablation.max_fraction=0", "(0, 1]"),
    ("04_phase_transition.task_family=digit_sum,no_such_family", "each {"),
]


@pytest.mark.parametrize(("option", "valid"), BAD_VALUES)
def test_a_bad_value_is_refused_before_any_notebook_runs(
    option, valid, tmp_path, capsys, monkeypatch
):
    def no_run(*args, **kwargs):
        raise AssertionError("a notebook ran")

    monkeypatch.setattr(pipeline, "execute", no_run)
    out = tmp_path / "run"
    code = cli.main(
        ["run", "--profile", "quick", "--out", str(out), "--project", str(REPO),
         "--no-book", "--set", option]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    key, _, value = option.partition("=")
    assert code == 1 and not out.exists()
    assert len(err.splitlines()) == 1, err
    assert key in err and value.split(",")[-1] in err and valid in err
