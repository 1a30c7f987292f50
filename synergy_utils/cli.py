"""The ``synergy`` command line: ``run``, ``book`` and ``params`` (see ``synergy --help``)."""

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
    return parser


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
        )
    except PipelineError as err:
        print(f"synergy: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
