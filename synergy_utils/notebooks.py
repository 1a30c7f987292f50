"""The notebooks as the pipeline and the book see them: their declared parameters and ranges.

Every parameter's valid range is declared once, at the start of its comment in the notebook's
``parameters`` cell (syntax in ``docs/conventions.md``)::

    n_prompts: int = 6  # [1, 60]; prompts, balanced across the categories
    tau: int = 1  # [1, inf); ΦID lag in decoding steps
    std: float = 0.1  # > 0; noise level
    gradient_method: str = "luppi"  # {"luppi", "diff"}; how the rank gradient is formed
    task_family: str = "digit_sum"  # each {"copy_list", "digit_sum"}; comma-separated families
    results_dir: str = "results/dev"  # any; where the result files go

A comment must not contain ``=``: papermill skips a parameter line with two of them, so there
is no ``>=`` (write ``[1, inf)``).

:func:`parameter_range` reads such a declaration and :meth:`Range.problem` checks a value.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NUMBER = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_INTERVAL = re.compile(rf"^([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")
_BOUND = re.compile(rf"^([<>])\s*({_NUMBER})")
_CHOICES = re.compile(r"^(\{[^}]*\})")
_ANY = re.compile(r"^any\b")
_EACH = re.compile(r"^each\s+")


class RangeSyntaxError(ValueError):
    """A parameter comment whose range declaration cannot be read."""


@dataclass(frozen=True)
class Range:
    """A parameter's declared valid values.

    ``kind`` is ``"interval"`` (``low``/``high`` with open or closed ends), ``"choices"`` (one
    of ``choices``) or ``"any"``. With ``each``, the value is a comma-separated string (or a
    list) and every non-empty item must fit. ``text`` is the declaration as written."""

    kind: str
    text: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True
    choices: tuple[Any, ...] = ()
    each: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is outside the range, or None when it fits (None always fits: the
        type annotation decides whether None is allowed)."""
        if value is None or self.kind == "any":
            return None
        if not self.each:
            return None if self._fits(value) else f"out of range, valid: {self.text}"
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        for item in items:
            item = item.strip() if isinstance(item, str) else item
            if item == "":
                continue
            if not self._fits(item):
                return f"item {item!r} out of range, valid: {self.text}"
        return None

    def _fits(self, value: Any) -> bool:
        if self.kind == "choices":
            return value in self.choices
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return False
        if not isinstance(value, (int, float)) or math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def parameter_range(help_text: str) -> tuple[Range | None, str]:
    """The range declared at the start of a parameter's comment, and the rest of the comment.

    Returns ``(None, help_text)`` when the comment declares no range. Raises
    :class:`RangeSyntaxError` for a declaration that starts like one but cannot be read."""
    text = help_text.strip()
    each = bool(_EACH.match(text))
    body = _EACH.sub("", text, count=1) if each else text
    found = None
    if match := _INTERVAL.match(body):
        left, low, high, right = match.groups()
        found = Range(
            "interval", match.group(0), float(low), float(high), left == "(", right == ")"
        )
    elif match := _BOUND.match(body):
        op, number = match.groups()
        bound = float(number)
        found = (
            Range("interval", match.group(0), low=bound)
            if op == ">"
            else Range("interval", match.group(0), high=bound)
        )
    elif match := _CHOICES.match(body):
        try:
            choices = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError) as err:
            raise RangeSyntaxError(f"cannot read the choices {match.group(1)!r}: {err}") from None
        if not isinstance(choices, set) or not choices:
            raise RangeSyntaxError(f"choices must be a non-empty set literal: {match.group(1)!r}")
        found = Range("choices", match.group(1), choices=tuple(sorted(choices, key=repr)))
    elif match := _ANY.match(body):
        found = Range("any", "any")
    if found is None:
        if each or body.startswith("{"):
            raise RangeSyntaxError(f"'each' must be followed by a range: {help_text!r}")
        return None, help_text
    rest = body[match.end() :].lstrip()
    rest = rest[1:].lstrip() if rest.startswith(";") else rest
    if each:
        found = Range(**{**found.__dict__, "each": True, "text": f"each {found.text}"})
    return found, rest


def declared_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """A notebook's declared parameters, papermill's view of its ``parameters`` cell plus the
    declared range: ``{name: {inferred_type_name, default, help, range}}`` (``range`` is a
    :class:`Range` or None; empty dict for a notebook without a parameters cell).

    Raises papermill's or nbformat's error for a notebook that cannot be read, and
    :class:`RangeSyntaxError` (naming the notebook and parameter) for an unreadable range."""
    import papermill

    declared = {}
    for name, info in papermill.inspect_notebook(str(path)).items():
        entry = dict(info)
        try:
            entry["range"], _ = parameter_range(entry.get("help") or "")
        except RangeSyntaxError as err:
            raise RangeSyntaxError(f"{Path(path).stem}.{name}: {err}") from None
        declared[name] = entry
    return declared


def notebook_path(notebook: str | Path) -> Path:
    """The source of ``notebook``: a path to an ``.ipynb`` file, or a chapter name such as
    ``"05_ablation"``, looked up in ``notebooks/`` of the working directory, in the working
    directory itself (a kernel started in ``notebooks/``), then in this package's checkout."""
    path = Path(notebook)
    if path.suffix == ".ipynb":
        return path
    roots = (
        Path.cwd() / "notebooks",
        Path.cwd(),
        Path(__file__).resolve().parents[1] / "notebooks",
    )
    for root in roots:
        if (root / f"{notebook}.ipynb").exists():
            return root / f"{notebook}.ipynb"
    raise FileNotFoundError(f"no notebook {notebook!r} in {', '.join(str(r) for r in roots)}")


def declared_values(notebook: str | Path, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every declared parameter of ``notebook`` (a chapter name or a path; see
    :func:`notebook_path`) in ``namespace``, the notebook's ``globals()``, in declaration
    order: the parameters a chapter records in its provenance, so that no notebook lists
    them by hand.

    Raises ``KeyError`` naming a declared parameter that ``namespace`` lacks (the parameters
    cell did not run)."""
    names = list(declared_parameters(notebook_path(notebook)))
    missing = [name for name in names if name not in namespace]
    if missing:
        raise KeyError(f"{notebook}: parameters {missing} are not defined; run the parameters cell")
    return {name: namespace[name] for name in names}


__all__ = [
    "Range",
    "RangeSyntaxError",
    "declared_parameters",
    "declared_values",
    "notebook_path",
    "parameter_range",
]
