"""The ``synergy`` command line: ``run``, ``book``, ``params`` and ``sweep`` (see
``synergy --help``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .notebooks import declared_parameters
from .pipeline import PipelineError, build_only, parse_set_options, run_pipeline


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synergy", description="Run the synergy-cores notebooks and build the book."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebooks of a profile and build the book")
    run.add_argument("--profile", default="full", help="quick, full, or a YAML file (default full)")
    run.add_argument("--model", default=None, help="Hugging Face id, local folder or bundled name")
    run.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NOTEBOOK.PARAM=VALUE",
        help="override one notebook parameter (repeatable)",
    )
    run.add_argument("--only", action="append", default=None, help="run only this notebook")
    run.add_argument(
        "--force",
        nargs="*",
        default=None,
        metavar="CHAPTER",
        help="re-run these chapters (no name: every chapter) even if they finished with the "
        "same parameters, inputs and code; by default such chapters are skipped",
    )
    run.add_argument("--no-book", action="store_true", help="skip building the book")
    run.add_argument("--book-dir", default=None, help="where _build/html goes (default: here)")
    run.add_argument("--project", default=".", help="project folder (holds notebooks/, book/)")
    run.add_argument("--no-progress", action="store_true", help="hide papermill's progress bars")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch/BLAS in the notebooks (default: the libraries' own choice; "
        "1 is much faster on a machine shared with other jobs)",
    )
    rebuild = sub.add_parser("book", help="rebuild the book from a finished run (runs nothing)")
    rebuild.add_argument("--profile", default="full")
    rebuild.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    rebuild.add_argument("--book-dir", default=None, help="where _build/html goes (default: here)")
    rebuild.add_argument("--project", default=".")
    params = sub.add_parser("params", help="list the parameters of the notebooks")
    params.add_argument("notebook", nargs="?", default=None)
    params.add_argument("--project", default=".")
    _add_sweep_parser(sub)
    return parser


def _add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="run models x parameter grid x seeds, each the whole pipeline, on Dask",
        description="Run a sweep file (see docs/scaling.md): every run is the pipeline of a "
        "profile into OUT/runs/<run id>/; finished runs are skipped; the combined table and "
        "a chapter land in OUT.",
    )
    sweep.add_argument("file", help="the sweep file (YAML)")
    sweep.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (default: a LocalCluster sized from the "
        "cores and GPUs)",
    )
    sweep.add_argument("--workers", type=int, default=None, help="LocalCluster workers")
    sweep.add_argument(
        "--gpus",
        type=int,
        default=None,
        help="GPUs of the LocalCluster, one per worker and run (default: the visible ones; "
        "0: none)",
    )
    sweep.add_argument("--out", default=None, help="output folder (default: the file's out)")
    sweep.add_argument("--project", default=".", help="project folder (holds notebooks/)")
    sweep.add_argument("--force", action="store_true", help="re-run finished runs too")
    sweep.add_argument("--dry-run", action="store_true", help="list the runs; run nothing")
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sweep.add_argument("--dashboard", default=":8787", help="LocalCluster dashboard address")


def _sweep(args: argparse.Namespace, command: str) -> int:
    from .results import git_commit
    from .sweep import finished_run, load_sweep, plan_sweep, run_sweep

    spec = load_sweep(args.file, project_dir=args.project, out=args.out)
    if args.dry_run:
        commit = git_commit(spec.project_dir)
        for run in plan_sweep(spec):
            state = "finished" if finished_run(run, commit) and not args.force else "to run"
            print(f"{run.run_id}  ({state})  -> {run.results_dir}")
        return 0
    result = run_sweep(
        spec,
        scheduler=args.scheduler,
        n_workers=args.workers,
        n_gpus=args.gpus,
        force=args.force,
        progress=not args.no_progress,
        dashboard_address=args.dashboard,
        command=command,
    )
    print(f"Table: {result.files['csv']}  Chapter: {result.files['chapter']}")
    if result.n_failed:
        print(f"synergy: {result.n_failed} run(s) failed; see sweep_info.json", file=sys.stderr)
        return 1
    return 0


def _print_params(project_dir: Path, notebook: str | None) -> None:
    paths = sorted((project_dir / "notebooks").glob("*.ipynb"))
    if notebook:
        paths = [p for p in paths if p.stem == notebook]
        if not paths:
            raise PipelineError(f"no notebook named {notebook!r} in {project_dir / 'notebooks'}")
    for path in paths:
        print(path.stem)
        for name, info in declared_parameters(path).items():
            help_text = f"  # {info['help']}" if info.get("help") else ""
            print(f"  {name}: {info['inferred_type_name']} = {info['default']}{help_text}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "params":
            _print_params(Path(args.project).resolve(), args.notebook)
            return 0
        if args.command == "sweep":
            return _sweep(args, "synergy " + shlex.join(argv if argv is not None else sys.argv[1:]))
        if args.command == "book":
            build_only(
                args.profile, project_dir=args.project, results_dir=args.out, book_dir=args.book_dir
            )
            return 0
        if args.threads is not None:
            if args.threads < 1:
                raise PipelineError("--threads must be at least 1")
            for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[variable] = str(args.threads)  # inherited by the notebook kernels
        run_pipeline(
            args.profile,
            project_dir=args.project,
            results_dir=args.out,
            model=args.model,
            overrides=parse_set_options(args.overrides),
            only=args.only,
            build=not args.no_book,
            book_dir=args.book_dir,
            progress=not args.no_progress,
            command="synergy " + shlex.join(argv if argv is not None else sys.argv[1:]),
            force=(args.force or True) if args.force is not None else None,
        )
    except PipelineError as err:
        print(f"synergy: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
