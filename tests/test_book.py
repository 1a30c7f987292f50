"""Tests of the book assembly: verdict table, reproducibility boxes, figures, offline build.

The build tests stage a small book by hand (dummy executed notebooks with a real PNG output)
instead of running the pipeline; tests/test_browser.py checks the real quick book in Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from synergy_utils.report import book, claims, runinfo, tables, verdicts
from synergy_utils.summary import (
    SCHEMA_VERSION,
    Estimate,
    SchemaError,
    Summary,
    from_dict,
    read_summary,
    to_dict,
    write_section,
)

from .conftest import (
    make_ablation_section,
    make_assessment,
    make_cores_section,
    make_phase_section,
)

REPO = Path(__file__).resolve().parents[1]
NAMES = [
    "00_setup",
    "01_phiid_primer",
    "02_extraction",
    "03_synergistic_cores",
    "04_phase_transition",
    "05_ablation",
]

STRONG = (0.1, 0.08, 0.12, 0.001)
BELOW = (-0.05, -0.07, -0.03, 1.0)
SUMMARY_FOR = Summary(
    cores=make_cores_section(
        0.31,
        0.12,
        0.47,
        p_null=0.01,
        syn_red_r=0.72,
        rho=0.9,
        graphs=(True, True),
        assessments={r: make_assessment(r, STRONG, STRONG) for r in ("mmi", "ccs")},
    ),
    phase=make_phase_section(True),
    ablation=make_ablation_section(1.8, 1.4, 2.3),
)
SUMMARY_AGAINST = Summary(
    cores=make_cores_section(
        -0.2,
        -0.35,
        -0.05,
        p_null=0.6,
        syn_red_r=0.72,
        assessments={
            r: make_assessment(r, (0.0, -0.001, 0.001, 0.5), BELOW) for r in ("mmi", "ccs")
        },
    ),
    phase=make_phase_section(False),
    ablation=make_ablation_section(0.95, 0.8, 1.1),
)


def write_summary(results: Path, summary: Summary) -> None:
    """Store every section of ``summary`` as the stages do (replacing the file)."""
    (results / "summary.json").unlink(missing_ok=True)
    for name in ("setup", "phiid_primer", "extraction", "cores", "phase", "ablation"):
        section = getattr(summary, name)
        if section is not None:
            write_section(results, name, section)


def _png(slope: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1], [0, slope], label="profile")
    ax.set_xlabel("layer depth (scaled)")
    ax.set_ylabel("gradient (scaled)")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def make_executed_notebook(name: str, n_images: int = 1, headline: int | None = None):
    """A notebook shaped like papermill's output: title, parameters, injected cell, figures."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["papermill"] = {"duration": 4.2, "parameters": {"seed": 1}}
    params = new_code_cell(
        "from typing import Optional\n"
        "seed: int = 0  # random seed\n"
        "n_prompts: int = 60  # prompts per category\n"
        "results_dir: str = 'results/dev'  # where results go\n"
        "model_name: Optional[str] = None  # None: bundled default"
    )
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell("# Parameters\nseed = 1\n")
    injected.metadata["tags"] = ["injected-parameters"]
    cells = [
        new_markdown_cell(f"# The {name} chapter\n\nWhat it computes, $x^2$."),
        params,
        injected,
    ]
    for i in range(n_images):
        cell = new_code_cell(f"plot({i})")
        cell.outputs = [
            new_output("display_data", data={"image/png": _png(i + 1), "text/plain": "<Figure>"})
        ]
        if headline == i:
            cell.metadata["tags"] = ["headline"]
            cell.metadata["mystnb"] = {"figure": {"caption": f"Headline of {name}."}}
        cells.append(cell)
    cells.append(
        new_markdown_cell(
            f"```{{exercise}} Check it\n:label: ex-{name}\nRun the cell.\n```\n\n"
            f"```{{solution}} ex-{name}\n:class: dropdown\n`assert True`\n```"
        )
    )
    for cell in cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
    nb.cells = cells
    nbformat.validator.normalize(nb)
    return nb


def make_stage(root: Path, summary: Summary) -> tuple[Path, Path]:
    """Stage like `synergy run` does: config, toc, book/, executed notebooks; a summary.json."""
    stage, results = root / "book_src", root / "results"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(REPO / "book", stage / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO / name, stage / name)
    (stage / "book" / "notebooks").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(NAMES):
        nb = make_executed_notebook(name, n_images=2, headline=0 if i == 3 else None)
        nbformat.write(nb, stage / "book" / "notebooks" / f"{name}.ipynb")
    results.mkdir(parents=True, exist_ok=True)
    write_summary(results, summary)
    return stage, results


RUN_INFO = {
    "profile": "quick",
    "model": "default (bundled SmolLM2-135M-Instruct)",
    "parameters": {
        n: {"seed": 1, "n_prompts": 6, "results_dir": "/tmp/run x/results", "model_name": None}
        for n in NAMES
    },
    "seconds": {n: 61.0 + i for i, n in enumerate(NAMES)},
    "start": "2026-01-01T10:00:00+00:00",
    "end": "2026-01-01T10:07:00+00:00",
    "git_commit": "0123456789abcdef+dirty",
    "command": "synergy run --profile quick",
}


# --- the summary schema ---------------------------------------------------------------


def test_summary_round_trips_and_refuses_what_it_does_not_know(tmp_path):
    write_summary(tmp_path, SUMMARY_FOR)
    back = read_summary(tmp_path)
    assert to_dict(back.cores) == to_dict(SUMMARY_FOR.cores)
    assert back.phase.transition_supported and back.setup is None
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    with pytest.raises(SchemaError, match="unknown field"):
        from_dict(Estimate, {"value": 1.0, "estimate": 2.0})
    with pytest.raises(SchemaError, match="missing required field 'value'"):
        from_dict(Estimate, {"ci_low": 1.0})
    with pytest.raises(SchemaError, match=r"cores\.inverted_u\.value: expected a number"):
        write_section(
            tmp_path, "cores", {**to_dict(SUMMARY_FOR.cores), "inverted_u": {"value": "x"}}
        )
    data["schema_version"] = SCHEMA_VERSION - 1
    (tmp_path / "summary.json").write_text(json.dumps(data))
    with pytest.raises(SchemaError, match="schema version"):
        read_summary(tmp_path)
    assert from_dict(Estimate, {"value": None}).value is None  # NaN is stored as null


def test_interval_verdict_uses_the_whole_interval():
    assert verdicts.interval_verdict(Estimate(1.5, 1.1, 2.0), 1.0) == verdicts.SUPPORTED
    assert verdicts.interval_verdict(Estimate(0.9, 0.8, 0.99), 1.0) == verdicts.NOT_SUPPORTED
    assert verdicts.interval_verdict(Estimate(1.05, 0.9, 1.2), 1.0) == verdicts.INCONCLUSIVE
    assert verdicts.interval_verdict(Estimate(2.0), 1.0) == verdicts.INCONCLUSIVE  # no interval
    assert verdicts.interval_verdict(None, 1.0) == verdicts.MISSING


def test_fmt_number_and_duration():
    assert tables.fmt_number(0.123456) == "0.123"
    assert tables.fmt_number(None) == "–"
    assert tables.fmt_number(12345.0) == "1.23e+04"
    assert runinfo.fmt_duration(4.25) == "4.2 s"
    assert runinfo.fmt_duration(125) == "2 min 05 s"
    assert runinfo.fmt_duration(3725) == "1 h 02 min"
    assert runinfo.fmt_duration(None) == "–"


# --- the verdict table -----------------------------------------------------------------


def _verdicts(table: str) -> dict[str, str]:
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    cells = [[c.strip() for c in row.strip("|").split(" | ")] for row in rows]
    return {c[0]: c[3].strip("*") for c in cells}


def test_verdict_table_without_results_says_not_run_for_every_row():
    found = _verdicts(tables.verdict_table(Summary()))
    assert len(found) == 10  # claim 1 (MMI, CCS), across families, claims 2-4, four controls
    assert set(found.values()) == {verdicts.MISSING}


def test_verdict_table_changes_when_the_summary_changes():
    for_claims = _verdicts(tables.verdict_table(SUMMARY_FOR))
    against = _verdicts(tables.verdict_table(SUMMARY_AGAINST))
    # claim 1 under MMI and under CCS, then claims 2-4 (the row across families has no data)
    rows = [c for c in for_claims if "across" not in c][:5]
    assert for_claims["1 · across model families"] == verdicts.MISSING
    assert rows[0].endswith("(MMI)") and rows[1].endswith("(CCS)")
    assert [for_claims[c] for c in rows] == [verdicts.SUPPORTED] * 5
    assert [against[c] for c in rows] == [verdicts.NOT_SUPPORTED] * 4 + [verdicts.INCONCLUSIVE]
    table = tables.verdict_table(SUMMARY_FOR)
    assert "1.8 [1.4, 2.3]" in table and "midpoint 3.2 [2.5, 4]" in table
    assert "0.95 [0.8, 1.1]" in tables.verdict_table(SUMMARY_AGAINST)


def test_the_landing_page_and_the_chapter_use_one_rule_per_claim():
    """Claim 1 is re-judged from the stored numbers with the chapter's rule, under each
    redundancy function; split-half ρ = 0.75 reads the same everywhere."""
    from synergy_utils.summary import Estimate as E
    from synergy_utils.summary import ModelControl

    mmi = make_assessment("mmi", STRONG, STRONG)
    ccs = make_assessment("ccs", STRONG, STRONG, dominance=BELOW)  # sts not beyond rtr
    cores = make_cores_section(
        0.5, 0.3, 0.7, p_null=0.01, rho=0.75, syn_red_r=-0.5,
        model_controls={
            "reinitialised": ModelControl("reinitialised", 20, [], E(0.05, -0.1, 0.2), None, None)
        },
        assessments={"mmi": mmi, "ccs": ccs},
    )  # fmt: skip
    rows = {r[0]: r for r in tables.verdict_rows(Summary(cores=cores))}
    claim1 = "1 · Synergistic core in the middle layers"
    assert rows[f"{claim1} (MMI)"][3] == claims.core_verdict(mmi.evidence) == mmi.verdict
    assert rows[f"{claim1} (CCS)"][3] == claims.core_verdict(ccs.evidence) == "inconclusive"
    assert "shuffle 0.1 [0.08, 0.12]; circular 0.1 [0.08, 0.12]" in rows[f"{claim1} (MMI)"][2]
    assert "MDE 0.0040; reliability 0.90" in rows[f"{claim1} (MMI)"][2]
    reliability = rows["Control · reliability"][3]
    assert reliability == verdicts.reliability_reading(0.75) == "moderately reliable head ranking"
    assert reliability in tables.controls_table(cores).to_string()
    assert rows["Control · synergy vs redundancy"][3].startswith("negative")
    raw = rows["Control · raw rank-gradient profile"]
    assert raw[2] == "0.5 [0.3, 0.7]; p = 0.01; 67 % of layers inside the band"
    assert raw[3] == "inverted U beyond its null" == claims.raw_profile_reading(cores)
    untrained = rows["Control · untrained model"]
    assert untrained[2] == "reinitialised 0.05 [-0.1, 0.2]"
    assert untrained[3].startswith("weaker without training")
    weaker = make_cores_section(0.5, 0.3, 0.7, p_null=0.4)
    rows = {r[0]: r for r in tables.verdict_rows(Summary(cores=weaker))}
    assert rows[f"{claim1} (MMI)"][3] == verdicts.MISSING  # no null-corrected numbers stored
    assert rows["Control · raw rank-gradient profile"][3] == "inverted U, not beyond its null"


@pytest.mark.parametrize(
    ("flags", "verdict"),
    [
        ((True, True), verdicts.SUPPORTED),
        ((False, False), verdicts.NOT_SUPPORTED),
        ((True, False), verdicts.INCONCLUSIVE),
    ],
)
def test_graph_verdict_needs_both_halves_of_the_claim(flags, verdict):
    assert claims.graph_verdict(make_cores_section(0.1, 0.0, 0.2, graphs=flags).graphs) == verdict
    assert claims.graph_verdict(None) == verdicts.MISSING


# --- notebooks: box, hidden cells, figures ---------------------------------------------


def test_reproducibility_box_commands_are_valid_shell_with_every_parameter():
    params = {
        "seed": 1,
        "n_prompts": 6,
        "results_dir": "/tmp/run x/results",
        "model_name": None,
        "categories": ["a", "b"],
    }
    synergy_cmd, papermill_cmd = runinfo.rerun_commands("02_extraction", params, "quick")
    words = shlex.split(synergy_cmd.replace("\\\n", " "))
    assert words[:5] == ["synergy", "run", "--profile", "quick", "--only"]
    assert "--out" in words and "/tmp/run x/results" in words
    assert words[-1] == "02_extraction.n_prompts=6"
    pm = shlex.split(papermill_cmd.replace("\\\n", " "))
    assert pm[:3] == [
        "papermill",
        "notebooks/02_extraction.ipynb",
        "/tmp/run x/results/notebooks/02_extraction.ipynb",
    ]
    pairs = {pm[i + 1]: pm[i + 2] for i, w in enumerate(pm) if w == "-p"}
    assert pairs == {
        "seed": "1",
        "n_prompts": "6",
        "results_dir": "/tmp/run x/results",
        "model_name": "None",
    }
    assert "-y" in pm and "categories" in pm[pm.index("-y") + 1]
    # the default results folder needs no --out
    default = runinfo.rerun_commands("02_extraction", {"results_dir": "/r/results/full"}, "full")[0]
    assert "--out" not in default


def test_the_box_prints_no_machine_path():
    params = {"seed": 1, "results_dir": "/tmp/run x/results"}
    box = runinfo.reproducibility_box("02_extraction", RUN_INFO, params, 3.0)
    assert "/tmp" not in box and "results_dir = 'results/quick'" in box
    assert "notebooks/02_extraction.ipynb results/quick/notebooks/02_extraction.ipynb" in box
    relative = runinfo.reproducibility_box(
        "02_extraction", RUN_INFO, {"results_dir": "results/tau2"}, 3.0
    )
    assert "--out results/tau2" in relative


def test_box_goes_after_the_title_once_and_parameter_cells_are_hidden():
    nb = make_executed_notebook("03_synergistic_cores")
    box = runinfo.reproducibility_box("03_synergistic_cores", RUN_INFO, {"seed": 1}, 75.0)
    book.add_reproducibility_box(nb, box)
    book.add_reproducibility_box(nb, box)  # idempotent
    book.hide_parameter_cells(nb)
    assert nb.cells[0].source == "# The 03_synergistic_cores chapter"
    assert nb.cells[1].metadata[book.BOX_MARKER] is True
    assert nb.cells[2].source == "What it computes, $x^2$."  # the title cell was split
    assert sum(bool(c.metadata.get(book.BOX_MARKER)) for c in nb.cells) == 1
    assert "1 min 15 s" in nb.cells[1].source and "`seed=1`" in nb.cells[1].source
    tags = {tuple(c.metadata.get("tags", [])) for c in nb.cells}
    assert ("parameters", "hide-input") in tags
    assert ("injected-parameters", "remove-cell") in tags
    nbformat.validate(nb)


def test_headline_figures_tagged_cells_else_last_image(tmp_path):
    tagged = make_executed_notebook("a", n_images=3, headline=1)
    untagged = make_executed_notebook("b", n_images=3)
    none = make_executed_notebook("c", n_images=0)
    figs = book.export_headline_figures(tagged, "a", tmp_path)
    assert [f.path.as_posix() for f in figs] == ["figures/a-1.png"]
    assert figs[0].caption == "Headline of a."
    assert (tmp_path / "a-1.png").read_bytes() == base64.b64decode(_png(2))
    figs = book.export_headline_figures(untagged, "b", tmp_path)
    assert (tmp_path / "b-1.png").read_bytes() == base64.b64decode(_png(3))
    assert figs[0].caption is None
    assert book.export_headline_figures(none, "c", tmp_path) == []


def test_a_notebook_without_figures_is_reported_with_the_backend_hint(tmp_path, monkeypatch):
    stage, results = make_stage(tmp_path, Summary())
    nbformat.write(
        make_executed_notebook("02_extraction", n_images=0),
        stage / "book" / "notebooks" / "02_extraction.ipynb",
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with pytest.warns(book.MissingFigureWarning, match="02_extraction.*MPLBACKEND='Agg'"):
        book.prepare_book_sources(stage, results, RUN_INFO)


def test_prepare_book_sources_writes_generated_pages_from_summary(tmp_path):
    stage, results = make_stage(tmp_path, SUMMARY_FOR)
    book.prepare_book_sources(stage, results, RUN_INFO)
    generated = stage / "book" / book.GENERATED_DIR
    first = (generated / "verdicts.md").read_text()
    assert first == tables.verdict_table(SUMMARY_FOR)
    body = (generated / "results_body.md").read_text()
    assert body.count("```{figure} /book/figures/") == 6
    assert "Headline of 03_synergistic_cores." in body
    assert (stage / "book" / "figures" / "05_ablation-1.png").exists()
    times = (generated / "run_times.md").read_text()
    assert "1 min 01 s" in times and "**6 min 21 s**" in times
    params = (generated / "parameters.md").read_text()
    assert "`n_prompts`" in params and "prompts per category" in params
    assert "quick" in (generated / "run_header.md").read_text()
    assert "{warning}" in (generated / "run_warning.md").read_text()

    # summary.json changes -> the landing page's table changes; boxes are not duplicated
    write_summary(results, SUMMARY_AGAINST)
    book.prepare_book_sources(stage, results, RUN_INFO)
    second = (generated / "verdicts.md").read_text()
    assert second != first and second == tables.verdict_table(SUMMARY_AGAINST)
    nb = nbformat.read(stage / "book" / "notebooks" / "00_setup.ipynb", as_version=4)
    assert sum(bool(c.metadata.get(book.BOX_MARKER)) for c in nb.cells) == 1


def test_prepare_book_sources_survives_missing_run_info_and_summary(tmp_path):
    stage, results = make_stage(tmp_path, Summary())
    assert not (results / "summary.json").exists()
    book.prepare_book_sources(stage, results, {})
    table = (stage / "book" / book.GENERATED_DIR / "verdicts.md").read_text()
    assert table.count(verdicts.MISSING) == 10
    nb = nbformat.read(stage / "book" / "notebooks" / "01_phiid_primer.ipynb", as_version=4)
    box = nb.cells[1].source
    assert "`seed=1`" in box  # from papermill's metadata
    assert "4.2 s" in box  # papermill's recorded duration


# --- a real (small) build --------------------------------------------------------------

_EXTERNAL_LOAD = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I
)


def _verdict_cells(html: str) -> list[str]:
    table = html[html.index("Claim / control") :]
    table = table[: table.index("</table>")]
    return re.findall(
        r"<td>(?:<p>)?(?:<strong>)?(supported|not supported|inconclusive|not run)", table
    )


def test_book_builds_without_warnings_offline_and_follows_summary_json(tmp_path):
    stage, results = make_stage(tmp_path, SUMMARY_FOR)
    book.prepare_book_sources(stage, results, RUN_INFO)
    html_dir = book.build_book(stage, tmp_path / "out")
    assert html_dir == tmp_path / "out" / "_build" / "html"
    intro = (html_dir / "book" / "intro.html").read_text()
    first = _verdict_cells(intro)
    # claim 1 (MMI, CCS), the row across families (no models section here), claims 2-4
    assert first[:6] == ["supported"] * 2 + ["not run"] + ["supported"] * 3

    pages = sorted(html_dir.rglob("*.html"))
    assert len(pages) >= 15
    for page in pages:
        text = page.read_text()
        assert not _EXTERNAL_LOAD.search(text), f"{page} loads something from the web"
        assert "THEBE_JS_URL" not in text
    assert (html_dir / "_static" / "mathjax" / "tex-chtml-full.js").exists()
    assert (
        html_dir
        / "_static"
        / "mathjax"
        / "output"
        / "chtml"
        / "fonts"
        / "woff-v2"
        / "MathJax_Main-Regular.woff"
    ).exists()
    assert 'src="../_static/mathjax/tex-chtml-full.js' in intro
    for name in NAMES:
        page = (html_dir / "book" / "notebooks" / f"{name}.html").read_text()
        assert "note reproducibility admonition" in page
        assert "# Parameters" not in page  # papermill's injected cell is removed
    results_page = (html_dir / "book" / "results.html").read_text()
    assert results_page.count("<img") >= 6

    # change summary.json, rebuild: the landing page's verdicts change with it
    # (and a full-profile run: no quick-profile warning, an empty include must not warn)
    assert "built from the <strong>quick</strong> profile" in intro
    write_summary(results, SUMMARY_AGAINST)
    book.prepare_book_sources(stage, results, {**RUN_INFO, "profile": "full"})
    book.build_book(stage, tmp_path / "out")
    intro = (html_dir / "book" / "intro.html").read_text()
    second = _verdict_cells(intro)
    assert second[:6] == ["not supported"] * 2 + ["not run"] + ["not supported"] * 2 + [
        "inconclusive"
    ]
    assert "built from the <strong>quick</strong> profile" not in intro


def test_build_book_reports_warnings(tmp_path):
    stage, results = make_stage(tmp_path, Summary())
    book.prepare_book_sources(stage, results, RUN_INFO)
    (stage / "book" / "methods.md").write_text("# Methods\n\nA broken {doc}`no_such_page`.\n")
    with pytest.raises(book.BookBuildError, match="no_such_page"):
        book.build_book(stage, tmp_path / "out")
