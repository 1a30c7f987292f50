"""Turn an executed run into a Jupyter Book: generated pages, reproducibility boxes, build.

The pipeline (``synergy run``) stages a build folder ``stage_dir`` holding ``_config.yml``,
``_toc.yml``, ``book/`` and the executed notebooks in ``book/notebooks/``, then calls

1. :func:`prepare_book_sources` ``(stage_dir, results_dir, run_info)``, which

   - writes ``book/_generated/verdicts.md`` (the landing page's verdict table, from the
     typed ``summary.json``), ``book/_generated/results_body.md`` (the results chapter: the
     headline figures of every notebook with its headline numbers) and
     ``book/_generated/run_times.md`` (the teaching guide's table of run times), all included
     by hand-written pages;
   - copies the headline figures out of the executed notebooks into ``book/figures/``: every
     image output of cells tagged :data:`HEADLINE_TAG`, or the last image of a notebook with
     no tagged cell;
   - inserts a reproducibility box after each notebook's title and hides papermill's
     parameter cells;
   - puts a "Downloads" box under it (the executed notebook, :data:`RESULT_FILES`), copied
     into ``book/downloads/<notebook>/``, and bundles ``plotly.min.js`` in ``book/_static/``
     when a notebook holds an interactive figure (:mod:`.interactive`);
   - gives every notebook chapter of ``_toc.yml`` that did not run in this run a short
     "not run" page, so the hand-written pages' links still resolve;

2. :func:`build_book` ``(stage_dir, output_dir)``, which runs
   ``jupyter-book build STAGE --path-output OUTPUT -W -n --keep-going --all`` (warnings fail the
   build); the book lands in ``OUTPUT/_build/html``.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

from ..notebooks import declared_parameters
from ..summary import Summary, read_summary, to_dict
from . import interactive
from .downloads import (  # noqa: F401  (re-exported: the book's public names)
    BOX_MARKER,
    DOWNLOADS_DIR,
    DOWNLOADS_MARKER,
    MAX_DOWNLOAD_BYTES,
    RESULT_FILES,
    Download,
    add_downloads_box,
    downloads_box,
    result_files,
    stage_downloads,
)
from .runinfo import (
    fmt_duration,
    fmt_time,
    machine_description,
    model_label,
    notebook_parameters,
    notebook_run_time,
    reproducibility_box,
    run_profile,
)
from .tables import fmt_estimate, fmt_number, markdown_table, verdict_table
from .verdicts import MISSING

#: Cell tag that marks the cells whose image outputs are a notebook's headline figures.
HEADLINE_TAG = "headline"
#: Folder (inside the staged ``book/``) of generated Markdown included by the pages.
GENERATED_DIR = "_generated"
#: Folder (inside the staged ``book/``) of figures exported from the notebooks.
FIGURES_DIR = "figures"
#: The ``summary.json`` section holding each notebook's headline numbers.
SECTION_BY_NOTEBOOK: dict[str, str] = {
    "00_setup": "setup",
    "01_phiid_primer": "phiid_primer",
    "02_extraction": "extraction",
    "03_synergistic_cores": "cores",
    "04_phase_transition": "phase",
    "05_ablation": "ablation",
}

_IMAGE_TYPES = {"image/png": ".png", "image/svg+xml": ".svg", "image/jpeg": ".jpg"}


def notebook_title(nb: Any, fallback: str) -> str:
    """The first top-level Markdown heading of a notebook (``fallback`` if none)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = re.search(r"^#\s+(.+?)\s*#*\s*$", cell.source, flags=re.MULTILINE)
        if match:
            return match.group(1)
    return fallback


def _add_tag(cell: Any, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def add_reproducibility_box(nb: Any, box_markdown: str) -> None:
    """Insert (or replace) the box as a Markdown cell right under the notebook's title.

    When the title cell goes on after its ``# Title`` line, it is split in two so that the box
    sits between the title and the introduction.
    """
    nb.cells = [c for c in nb.cells if not c.metadata.get(BOX_MARKER)]
    box = nbformat.v4.new_markdown_cell(box_markdown)
    box.metadata[BOX_MARKER] = True
    title_index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    if title_index >= 0:
        title_cell = nb.cells[title_index]
        lines = title_cell.source.splitlines(keepends=True)
        heading = next((i for i, line in enumerate(lines) if re.match(r"#\s", line)), None)
        if heading is not None:
            rest = "".join(lines[heading + 1 :]).strip()
            if rest:
                title_cell.source = "".join(lines[: heading + 1]).rstrip()
                nb.cells.insert(title_index + 1, nbformat.v4.new_markdown_cell(rest))
    nb.cells.insert(title_index + 1, box)
    # nbformat >= 5.1 wants ids; new cells get one, old notebooks may lack them.
    nbformat.validator.normalize(nb)


def hide_parameter_cells(nb: Any) -> None:
    """Remove papermill's injected cell (shown in the box) and collapse the defaults cell."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            _add_tag(cell, "remove-cell")
        elif "parameters" in tags:
            _add_tag(cell, "hide-input")


@dataclass(frozen=True)
class ExportedFigure:
    path: Path  # relative to the staged book/ folder
    caption: str | None


def _cell_caption(cell: Any) -> str | None:
    meta = cell.metadata
    for path in (("mystnb", "figure", "caption"), ("myst", "figure", "caption"), ("caption",)):
        node: Any = meta
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None


def _cell_images(cell: Any) -> list[tuple[str, Any]]:
    images = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        for mime in _IMAGE_TYPES:
            if mime in data:
                images.append((mime, data[mime]))
                break
    return images


def headline_images(nb: Any) -> list[tuple[Any, str, Any]]:
    """``(cell, mime, data)`` of the headline figures: tagged cells, else the last image."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code_cells if HEADLINE_TAG in c.metadata.get("tags", [])]
    if tagged:
        return [(c, mime, data) for c in tagged for mime, data in _cell_images(c)]
    for cell in reversed(code_cells):
        images = _cell_images(cell)
        if images:
            mime, data = images[-1]
            return [(cell, mime, data)]
    return []


def export_headline_figures(nb: Any, name: str, figures_dir: Path) -> list[ExportedFigure]:
    """Write the headline figures of notebook ``name`` into ``figures_dir``."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    exported = []
    for i, (cell, mime, data) in enumerate(headline_images(nb), start=1):
        target = figures_dir / f"{name}-{i}{_IMAGE_TYPES[mime]}"
        if mime == "image/svg+xml":
            text = data if isinstance(data, str) else "".join(data)
            target.write_text(text)
        else:
            payload = data if isinstance(data, str) else "".join(data)
            target.write_bytes(base64.b64decode(payload))
        exported.append(ExportedFigure(Path(FIGURES_DIR) / target.name, _cell_caption(cell)))
    return exported


# --------------------------------------------------------------------------------------
# Generated pages
# --------------------------------------------------------------------------------------

#: Bookkeeping entries left out of the results chapter's number tables.
_SKIPPED_KEYS = frozenset({"provenance", "parameters", "versions", "seed", "ci_level", "method"})
_ESTIMATE_KEYS = {"value", "ci_low", "ci_high"}


def _flatten_scalars(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """``(dotted key, text)`` for the scalar leaves of a section (estimates kept whole)."""
    if isinstance(value, Mapping) and _ESTIMATE_KEYS <= set(value) <= _ESTIMATE_KEYS | {
        "n_bootstrap"
    }:
        from ..summary import Estimate

        est = Estimate(value["value"], value["ci_low"], value["ci_high"])
        return [(prefix, fmt_estimate(est))]
    if isinstance(value, Mapping):
        if depth >= 2:
            return []
        rows = []
        for key, sub in value.items():
            if key in _SKIPPED_KEYS:
                continue
            rows += _flatten_scalars(sub, f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return rows
    if isinstance(value, bool):
        return [(prefix, "yes" if value else "no")]
    if isinstance(value, (int, float)):
        return [(prefix, fmt_number(value) if isinstance(value, float) else str(value))]
    if isinstance(value, str) and len(value) <= 80:
        return [(prefix, value)]
    return []


def headline_numbers(summary: Summary, section: str | None, limit: int = 14) -> str:
    """A two-column table of the scalar numbers of one summary section ('' if none)."""
    data = getattr(summary, section, None) if section else None
    if data is None:
        return ""
    rows = _flatten_scalars(to_dict(data), section)
    if not rows:
        return ""
    shown = [(f"`{k}`", v) for k, v in rows[:limit]]
    table = markdown_table(("summary.json key", "value"), shown)
    if len(rows) > limit:
        table += f"\n{len(rows) - limit} more numbers under this section in `summary.json`.\n"
    return table


@dataclass(frozen=True)
class ChapterInfo:
    name: str
    title: str
    figures: list[ExportedFigure]
    ran: bool = True


def results_body(chapters: Sequence[ChapterInfo], summary: Summary) -> str:
    """Markdown of the results chapter: per notebook, its headline figures and numbers."""
    parts = []
    for chapter in chapters:
        parts.append(f"## {chapter.title}\n")
        parts.append(f"How it was made: {{doc}}`notebooks/{chapter.name}`.\n")
        if not chapter.ran:
            parts.append(f"This notebook did not run in this profile ({MISSING}).\n")
            continue
        if not chapter.figures:
            parts.append("This notebook produced no figure.\n")
        for i, fig in enumerate(chapter.figures, start=1):
            caption = fig.caption or f"Headline figure {i} of *{chapter.title}*."
            parts.append(
                f"```{{figure}} /book/{fig.path.as_posix()}\n"
                f":name: fig-{chapter.name}-{i}\n"
                f":width: 100%\n"
                f":alt: {caption}\n\n"
                f"{caption}\n"
                "```\n"
            )
        numbers = headline_numbers(summary, SECTION_BY_NOTEBOOK.get(chapter.name))
        if numbers:
            parts.append(numbers)
    return "\n".join(parts)


def run_header(run_info: Mapping[str, Any], summary: Summary | None = None) -> str:
    """One paragraph: which run the generated numbers come from."""
    info = run_info or {}
    setup = summary.setup if summary is not None else None
    model = setup.model if setup is not None else model_label(info.get("model"))
    commit = str(info.get("git_commit") or "unknown")[:12]
    return (
        f"Numbers from the run with profile **`{run_profile(info)}`** on **{model}** "
        f"(commit `{commit}`, {fmt_time(info.get('start'))} – {fmt_time(info.get('end'))}).\n"
    )


def run_warning(run_info: Mapping[str, Any]) -> str:
    """A warning admonition for books built from the quick profile ('' otherwise)."""
    if run_profile(run_info) != "quick":
        return ""
    return (
        "```{warning}\nThis book was built from the **quick** profile: a few prompts "
        "and short generations to check that everything runs. Its numbers are not "
        "findings; build the `full` profile (`make book`) for those.\n```\n"
    )


def run_times_table(
    run_info: Mapping[str, Any], chapters: Sequence[ChapterInfo], notebooks: Mapping[str, Any]
) -> str:
    """Markdown table of each notebook's run time in this run, and the machine it ran on."""
    rows = []
    total = 0.0
    for chapter in chapters:
        seconds = notebook_run_time(run_info, chapter.name, notebooks.get(chapter.name))
        if seconds is not None:
            total += seconds
        rows.append((chapter.title, fmt_duration(seconds) if chapter.ran else MISSING))
    rows.append(("**All notebooks**", f"**{fmt_duration(total)}**"))
    machine = (run_info or {}).get("machine") or machine_description()
    header = (
        f"Measured in the run this book was built from (profile `{run_profile(run_info)}`, on "
        f"the machine that built it: {machine}):\n\n"
    )
    return header + markdown_table(("Notebook", "Run time"), rows)


def parameters_reference(
    chapters: Sequence[ChapterInfo],
    declared: Mapping[str, Mapping],
    used: Mapping[str, Mapping[str, Any]],
) -> str:
    """Markdown: per notebook, each parameter's type, default, value in this run and meaning."""
    parts = []
    for chapter in chapters:
        params = declared.get(chapter.name) or {}
        if not params:
            continue
        rows = []
        for name, info in params.items():
            ran = used.get(chapter.name, {}).get(name, info.get("default"))
            ran_text = "(path of this run)" if name == "results_dir" else repr(ran)
            rows.append(
                (
                    f"`{name}`",
                    f"`{info.get('inferred_type_name', '')}`",
                    f"`{info.get('default', '')}`",
                    f"`{ran_text}`",
                    str(info.get("help") or ""),
                )
            )
        parts.append(f"**{chapter.title}** (`{chapter.name}`)\n")
        parts.append(markdown_table(("Parameter", "Type", "Default", "This run", "Meaning"), rows))
    return "\n".join(parts) if parts else "No notebook declared parameters in this run.\n"


def toc_chapters(toc_path: Path) -> list[str]:
    """Notebook names (``NN_name``) listed under ``book/notebooks/`` in ``_toc.yml``."""
    toc = yaml.safe_load(toc_path.read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [Path(f).name for f in files if Path(f).parent.as_posix() == "book/notebooks"]


def _placeholder_page(name: str) -> str:
    return (
        f"# {name} (not run)\n\n"
        f"The notebook `notebooks/{name}.ipynb` was not executed in the run this book was built "
        "from (it was left out with `--only`, is not in the profile, or the pipeline stopped "
        "before it). Run\n\n"
        f"```bash\nsynergy run --profile full\n```\n\nto produce this chapter.\n"
    )


def _declared_or_empty(nb_path: Path) -> dict[str, dict[str, Any]]:
    """Declared parameters for the reference page; an unreadable cell shows as none."""
    try:
        return declared_parameters(nb_path)
    except Exception:  # noqa: BLE001 - the page lists what it can; the run itself checked it
        return {}


class MissingFigureWarning(UserWarning):
    """An executed notebook has no image output (its page and results section lack a figure)."""


def _warn_no_figure(name: str) -> None:
    backend = os.environ.get("MPLBACKEND", "")
    hint = (
        f" MPLBACKEND={backend!r} is set in this environment and the notebook kernels inherit"
        " it: a non-inline backend shows no figures in notebooks (unset it, or set it to"
        " 'module://matplotlib_inline.backend_inline' for the kernels)."
        if backend and "inline" not in backend
        else ""
    )
    warnings.warn(
        f"notebook {name} has no image output: its chapter and the results chapter will show "
        f"no figure.{hint}",
        MissingFigureWarning,
        stacklevel=3,
    )


def prepare_book_sources(stage_dir: Path, results_dir: Path, run_info: dict) -> None:
    """Add the generated parts of the book to a staged build folder (see the module doc).

    ``stage_dir`` holds ``_config.yml``, ``_toc.yml``, ``book/`` and the executed notebooks in
    ``book/notebooks/``; ``results_dir`` holds the run's ``summary.json``; ``run_info`` holds
    ``profile``, ``model``, ``parameters`` (notebook -> dict), ``seconds`` (notebook ->
    seconds), ``start``, ``end``, ``git_commit`` and ``command`` (missing entries are shown as
    unknown, never an error). Idempotent.
    """
    stage_dir, results_dir = Path(stage_dir), Path(results_dir)
    book_dir = stage_dir / "book"
    notebooks_dir = book_dir / "notebooks"
    generated = book_dir / GENERATED_DIR
    generated.mkdir(parents=True, exist_ok=True)
    figures_dir = book_dir / FIGURES_DIR
    if figures_dir.exists():
        shutil.rmtree(figures_dir)
    figures_dir.mkdir(parents=True)
    summary = read_summary(results_dir)
    run_info = dict(run_info or {})

    names = toc_chapters(stage_dir / "_toc.yml")
    names += sorted(p.stem for p in notebooks_dir.glob("*.ipynb") if p.stem not in names)
    chapters: list[ChapterInfo] = []
    notebooks: dict[str, Any] = {}
    declared: dict[str, dict] = {}
    used: dict[str, dict] = {}
    interactive_figures = False
    for name in names:
        nb_path = notebooks_dir / f"{name}.ipynb"
        if not nb_path.exists():
            placeholder = notebooks_dir / f"{name}.md"
            notebooks_dir.mkdir(parents=True, exist_ok=True)
            if not placeholder.exists():
                placeholder.write_text(_placeholder_page(name))
            chapters.append(ChapterInfo(name, f"{name} (not run)", [], ran=False))
            continue
        declared[name] = _declared_or_empty(nb_path)
        nb = nbformat.read(nb_path, as_version=4)
        params = notebook_parameters(run_info, name, nb)
        used[name] = params
        seconds = notebook_run_time(run_info, name, nb)
        add_reproducibility_box(nb, reproducibility_box(name, run_info, params, seconds))
        add_downloads_box(nb, downloads_box(stage_downloads(book_dir, results_dir, name)))
        hide_parameter_cells(nb)
        interactive_figures = interactive.prepare_for_book(nb) or interactive_figures
        nbformat.write(nb, nb_path)
        notebooks[name] = nb
        figures = export_headline_figures(nb, name, figures_dir)
        if not figures:
            _warn_no_figure(name)
        chapters.append(ChapterInfo(name, notebook_title(nb, name), figures))

    if interactive_figures:
        interactive.bundle_plotly_js(book_dir / "_static")
    (generated / "run_header.md").write_text(run_header(run_info, summary))
    (generated / "run_warning.md").write_text(run_warning(run_info))
    (generated / "verdicts.md").write_text(verdict_table(summary))
    (generated / "results_body.md").write_text(results_body(chapters, summary))
    (generated / "run_times.md").write_text(run_times_table(run_info, chapters, notebooks))
    (generated / "parameters.md").write_text(parameters_reference(chapters, declared, used))


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------


class BookBuildError(RuntimeError):
    """``jupyter-book build`` failed (a warning counts: the build runs with ``-W``)."""


def _jupyter_book_executable() -> str:
    local = Path(sys.executable).parent / "jupyter-book"
    if local.exists():
        return str(local)
    found = shutil.which("jupyter-book")
    if not found:
        raise BookBuildError(
            "jupyter-book is not installed; install the book extra: pip install -e '.[book]'"
        )
    return found


def _write_redirect_page(html_dir: Path, title: str) -> None:
    """Replace Jupyter Book's bare ``index.html`` redirect with one that has a title, the
    book's icon (so browsers do not ask for ``/favicon.ico``) and a link for readers whose
    browser does not follow meta refreshes."""
    match = re.search(r'url=([^"]+)"', (html_dir / "index.html").read_text())
    target = match.group(1) if match else "book/intro.html"
    icon = (
        '<link rel="icon" href="_static/favicon.png">'
        if (html_dir / "_static" / "favicon.png").exists()
        else ""
    )
    (html_dir / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Refresh" content="0; url={target}">\n{icon}\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<p><a href="{target}">Open the book</a></p>\n</body>\n</html>\n'
    )


def build_book(stage_dir: Path, output_dir: Path | None = None) -> Path:
    """Build the staged book with warnings as errors; return ``output_dir/_build/html``.

    Runs ``jupyter-book build STAGE --path-output OUTPUT -W -n --keep-going --all`` (``--all``
    re-reads every page, so warnings of unchanged pages are not hidden by Sphinx's cache).
    The full log goes to ``OUTPUT/_build/book-build.log``; on failure the warnings are raised.
    """
    stage_dir = Path(stage_dir).resolve()
    output_dir = Path(output_dir if output_dir is not None else Path.cwd()).resolve()
    build_dir = output_dir / "_build"
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        _jupyter_book_executable(),
        "build",
        str(stage_dir),
        "--path-output",
        str(output_dir),
        "-W",
        "-n",
        "--keep-going",
        "--all",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    (build_dir / "book-build.log").write_text(log)
    html_dir = build_dir / "html"
    if proc.returncode == 0 and (html_dir / "index.html").exists():
        config = yaml.safe_load((stage_dir / "_config.yml").read_text()) or {}
        _write_redirect_page(html_dir, str(config.get("title") or "Book"))
    if proc.returncode != 0 or not (html_dir / "index.html").exists():
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        detail = "\n".join(problems[-30:]) or "\n".join(log.splitlines()[-30:])
        raise BookBuildError(
            f"jupyter-book build failed (exit {proc.returncode}); full log in "
            f"{build_dir / 'book-build.log'}:\n{detail}"
        )
    return html_dir
