"""The notebooks as the pipeline and the book see them: their declared parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def declared_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """A notebook's declared parameters, papermill's view of its ``parameters`` cell:
    ``{name: {inferred_type_name, default, help}}`` (empty for a notebook without one).

    Raises papermill's or nbformat's error for a notebook that cannot be read."""
    import papermill

    return {k: dict(v) for k, v in papermill.inspect_notebook(str(path)).items()}
