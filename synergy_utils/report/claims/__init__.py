"""One module per claim, each with its verdict rule and the words that explain it:
:mod:`.core` (claims 1 and 2), :mod:`.transition` (claim 3), :mod:`.ablation` (claim 4),
:mod:`.universality` (claim 1 across model families); and :mod:`.raw_profile`, the
preprint's raw statistic, reported beside claim 1 as a control.

:data:`CLAIMS` registers every module with the one claim interface: ``assess(...)`` returning a
:class:`synergy_utils.summary.Assessment` (or a subclass with typed evidence) and
``paragraph(assessment) -> str``. A module joins by adding one line here and an example
assessment to ``tests/test_claims.py``, whose parametrised test checks every registered claim.
"""

from types import ModuleType

from . import ablation_given, core, revised, universality
from .ablation import ablation_paragraph, ablation_verdict
from .core import assess_core, core_paragraph, core_verdict, graph_verdict, judge
from .raw_profile import raw_profile_paragraph, raw_profile_reading
from .transition import phase_verdict, transition_paragraph, transition_verdict

#: The claim modules with the one interface (``assess``, ``paragraph``), by claim name.
CLAIMS: dict[str, ModuleType] = {
    "ablation_given": ablation_given,
    "core": core,
    "revised": revised,
    "universality": universality,
}

__all__ = [
    "CLAIMS",
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
