"""One vocabulary: every parameter name of a public function is in the glossary of
``docs/conventions.md`` (parsed here), and the glossary lists no name that nothing uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "synergy_utils"
LINE = re.compile(r"^- `(\w+)`: \S")


def glossary() -> list[str]:
    """The names of the glossary, in the order written."""
    text = (REPO / "docs" / "conventions.md").read_text()
    section = text[text.index("## Glossary of parameter names") :].split("\n## ")[0]
    return [m.group(1) for line in section.splitlines() if (m := LINE.match(line))]


def public_parameters(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Parameter name -> the public functions that have it (module-level functions not
    starting with ``_``, in modules whose names do not start with ``_``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if any(part.startswith("_") and part != "__init__" for part in parts):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_"):
                    continue
                args = node.args
                every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
                every += [a for a in (args.vararg, args.kwarg) if a is not None]
                for arg in every:
                    found.setdefault(arg.arg, set()).add(f"{'.'.join(parts)}.{node.name}")
    return found


def test_every_public_parameter_is_in_the_glossary():
    names = set(glossary())
    missing = {n: sorted(f)[:3] for n, f in public_parameters().items() if n not in names}
    assert missing == {}, "add a line to the glossary of docs/conventions.md for each"


def test_the_glossary_is_sorted_unique_and_used():
    names = glossary()
    assert len(names) > 100
    assert names == sorted(names), "keep the glossary in alphabetical order"
    assert len(names) == len(set(names))
    unused = sorted(set(names) - set(public_parameters()))
    assert unused == [], "drop the glossary lines of names no public function uses"


def test_the_scan_finds_a_new_name(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("def f(seed, n_wibbles=3): ...\ndef _g(hidden): ...\n")
    (pkg / "_private.py").write_text("def h(internal): ...\n")
    assert set(public_parameters(pkg)) == {"seed", "n_wibbles"}
