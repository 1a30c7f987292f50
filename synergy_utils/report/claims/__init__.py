"""One module per claim, each with its verdict rule and the words that explain it:
:mod:`.core` (claims 1 and 2), :mod:`.transition` (claim 3), :mod:`.ablation` (claim 4)."""

from .ablation import ablation_paragraph, ablation_verdict
from .core import core_paragraph, core_verdict, graph_verdict
from .transition import phase_verdict, transition_paragraph, transition_verdict

__all__ = [
    "ablation_paragraph",
    "ablation_verdict",
    "core_paragraph",
    "core_verdict",
    "graph_verdict",
    "phase_verdict",
    "transition_paragraph",
    "transition_verdict",
]
