"""One module per claim, each with its verdict rule and the words that explain it:
:mod:`.core` (claims 1 and 2), :mod:`.transition` (claim 3), :mod:`.ablation` (claim 4); and
:mod:`.raw_profile`, the preprint's raw statistic, reported beside claim 1 as a control."""

from .ablation import ablation_paragraph, ablation_verdict
from .core import assess_core, core_paragraph, core_verdict, graph_verdict, judge
from .raw_profile import raw_profile_paragraph, raw_profile_reading
from .transition import phase_verdict, transition_paragraph, transition_verdict

__all__ = [
    "assess_core",
    "judge",
    "raw_profile_paragraph",
    "raw_profile_reading",
    "ablation_paragraph",
    "ablation_verdict",
    "core_paragraph",
    "core_verdict",
    "graph_verdict",
    "phase_verdict",
    "transition_paragraph",
    "transition_verdict",
]
