"""One verdict rule per claim, and one reading per control, used by every page.

Each rule is a small pure function of the numbers a stage stored in ``summary.json``
(:mod:`synergy_utils.summary`); the chapter that computes the numbers and the landing page
that lists them call the same function, so a reader never sees two verdicts for one number.
The paragraphs that explain each verdict in words are in :mod:`synergy_utils.report.prose`.

Verdicts are ``"supported"``, ``"not supported"`` or ``"inconclusive"`` (and ``"not run"``
for a stage that did not run). Nothing is "supported" without a test against a null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..stats.resampling import CI_LEVEL
from ..summary import Ablation, Cores, Estimate, Graphs, Ratio

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
MISSING = "not run"
#: Significance level of every test behind a verdict.
ALPHA = 0.05


def finite(x: Any) -> bool:
    """Whether ``x`` is a finite number (None, NaN, strings: False)."""
    if isinstance(x, bool) or x is None:
        return False
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def interval_verdict(est: Estimate | Ratio | None, threshold: float) -> str:
    """Verdict for "the quantity exceeds ``threshold``" from its interval.

    ``supported`` when the whole interval lies above the threshold, ``not supported`` when it
    lies at or below it, ``inconclusive`` when it straddles it or is missing.
    """
    if est is None or not finite(est.value):
        return MISSING
    if not (finite(est.ci_low) and finite(est.ci_high)):
        return INCONCLUSIVE
    if est.ci_low > threshold:
        return SUPPORTED
    if est.ci_high <= threshold:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def ci_reading(ci_low: Any, ci_high: Any) -> str:
    """What the interval of an inverted-U statistic says about the profile's shape."""
    if finite(ci_low) and float(ci_low) > 0:
        return "interval above 0: middle layers higher (inverted U)"
    if finite(ci_high) and float(ci_high) < 0:
        return "interval below 0: middle layers lower (U shape)"
    return "interval includes 0: no shape established"


# --------------------------------------------------------------------------------------
# Claim 1: a synergistic core in the middle layers
# --------------------------------------------------------------------------------------


def core_verdict(cores: Cores, alpha: float = ALPHA) -> str:
    """Claim 1 from the layer profile of the rank gradient.

    ``supported``: the bootstrap interval of the inverted-U statistic lies above 0 *and* the
    statistic beats the circular-shift null (p < ``alpha``); ``not supported``: the interval
    lies at or below 0; ``inconclusive`` otherwise, including when no null was run.
    """
    shape = interval_verdict(cores.inverted_u, 0.0)
    if shape in (NOT_SUPPORTED, MISSING):
        return shape
    p_null = cores.null.p_value if cores.null is not None else None
    if shape == SUPPORTED and finite(p_null) and p_null < alpha:
        return SUPPORTED
    return INCONCLUSIVE


# --------------------------------------------------------------------------------------
# Claim 2: redundancy at the edges, read from the graphs
# --------------------------------------------------------------------------------------


def graph_verdict(graphs: Graphs | None) -> str:
    """Claim 2: the synergy graph is more efficient *and* the redundancy graph more modular.

    ``supported`` when both hold, ``not supported`` when neither does, ``inconclusive`` when
    only one does (the two halves of the claim disagree).
    """
    if graphs is None:
        return MISSING
    checks = (graphs.synergy_more_efficient, graphs.redundancy_more_modular)
    if all(checks):
        return SUPPORTED
    if not any(checks):
        return NOT_SUPPORTED
    return INCONCLUSIVE


# --------------------------------------------------------------------------------------
# Claim 3: a phase transition with task difficulty
# --------------------------------------------------------------------------------------

#: A logistic must beat a straight line by more than this many BIC units ("strong" evidence
#: on the Kass-Raftery scale).
DELTA_BIC_THRESHOLD = 6.0
#: Readable names of the rule's criteria, numbered as in :data:`TRANSITION_RULE`.
CRITERIA_LABELS: dict[str, str] = {
    "sigmoid_beats_line": "(1) logistic beats line by ΔBIC",
    "jump_exceeds_null": "(2) change exceeds null band",
    "midpoint_ci_in_range": "(3) midpoint CI inside tested range",
    "susceptibility_peak_near_midpoint": "(4) susceptibility peak near midpoint",
}
TRANSITION_RULE = (
    "A transition is supported only if all four hold: (1) a logistic curve of the order "
    "parameter against difficulty beats a straight line by ΔBIC = BIC(line) − BIC(logistic) "
    f"> {DELTA_BIC_THRESHOLD:g}; (2) the change of the fitted logistic across the tested "
    "range exceeds the width of the circular-shift null band (the central "
    f"{CI_LEVEL:.0%} of the null's level means, pooled over levels); (3) the "
    f"{CI_LEVEL:.0%} bootstrap CI of the midpoint (prompts resampled within levels) lies "
    "inside the tested range; (4) the susceptibility (across-prompt variance) peaks inside "
    "that CI or at most one tested level away from the level nearest the midpoint."
)


def _criterion(passed: bool, **numbers: Any) -> dict[str, Any]:
    return {"passed": bool(passed), **numbers}


def transition_verdict(
    fit: Mapping[str, Any],
    null: Mapping[str, Any] | None,
    susceptibility: Any,
    *,
    delta_bic_threshold: float = DELTA_BIC_THRESHOLD,
) -> dict[str, Any]:
    """Claim 3: apply :data:`TRANSITION_RULE` to one order parameter's sweep analysis.

    ``fit`` is :func:`synergy_utils.stats.fits.fit_transition`'s result, ``null`` a
    :func:`synergy_utils.stages.phase.null_band` (None: criterion 2 fails as untested) and
    ``susceptibility`` the (K,) across-prompt variance per level; all three are in
    :func:`synergy_utils.stages.phase.analyse_sweep`'s output (``fit``, ``null``,
    ``order["variance"]``).

    Returns ``supported`` (bool), ``criteria`` (each with ``passed`` and its numbers),
    ``critical_difficulty`` ({value, ci} if supported, else None) and the ``rule``.
    """
    levels = np.asarray(fit["levels"], dtype=float)
    chi = np.asarray(susceptibility, dtype=float)
    if chi.shape != levels.shape:
        raise ValueError(f"susceptibility has shape {chi.shape}, levels {levels.shape}")
    mid = float(fit["midpoint"]["value"])
    mid_lo, mid_hi = (float(v) for v in fit["midpoint"]["ci"])
    jump = float(fit["jump"]["value"])
    criteria: dict[str, Any] = {
        "sigmoid_beats_line": _criterion(
            fit["delta_bic"] > delta_bic_threshold,
            delta_bic=float(fit["delta_bic"]),
            threshold=delta_bic_threshold,
        )
    }
    if null is None:
        criteria["jump_exceeds_null"] = _criterion(
            False, jump=jump, null_width=None, note="no null computed"
        )
    else:
        criteria["jump_exceeds_null"] = _criterion(
            abs(jump) > null["width"], jump=jump, null_width=float(null["width"])
        )
    finite_ci = math.isfinite(mid_lo) and math.isfinite(mid_hi)
    criteria["midpoint_ci_in_range"] = _criterion(
        finite_ci and levels[0] <= mid_lo and mid_hi <= levels[-1],
        midpoint=mid,
        ci=[mid_lo, mid_hi],
        tested_range=[levels[0], levels[-1]],
    )
    criteria["susceptibility_peak_near_midpoint"] = _peak_criterion(
        chi, levels, mid, (mid_lo, mid_hi), finite_ci
    )
    supported = all(c["passed"] for c in criteria.values())
    return {
        "supported": supported,
        "criteria": criteria,
        "critical_difficulty": {"value": mid, "ci": [mid_lo, mid_hi]} if supported else None,
        "rule": TRANSITION_RULE,
    }


def _peak_criterion(
    chi: np.ndarray, levels: np.ndarray, mid: float, ci: tuple[float, float], finite_ci: bool
) -> dict[str, Any]:
    if np.all(~np.isfinite(chi)):
        return _criterion(False, peak_level=None, note="no susceptibility")
    peak = int(np.nanargmax(chi))
    nearest = int(np.argmin(np.abs(levels - mid)))
    inside = bool(finite_ci and ci[0] <= levels[peak] <= ci[1])
    adjacent = abs(peak - nearest) <= 1
    return _criterion(
        inside or adjacent,
        peak_level=float(levels[peak]),
        level_nearest_midpoint=float(levels[nearest]),
        inside_midpoint_ci=inside,
        within_one_level=adjacent,
    )


def phase_verdict(supported: bool | None) -> str:
    """The claim-3 verdict word from a stored ``transition_supported``."""
    if supported is None:
        return MISSING
    return SUPPORTED if supported else NOT_SUPPORTED


# --------------------------------------------------------------------------------------
# Claim 4: ablating synergistic heads is catastrophic
# --------------------------------------------------------------------------------------


def ratio_finding(ratio: Ratio | Mapping[str, Any]) -> str:
    """Where a ratio's interval lies relative to 1: ``above``, ``below``, ``includes``."""
    values = (
        [ratio["value"], ratio["ci_low"], ratio["ci_high"]]
        if isinstance(ratio, Mapping)
        else [ratio.value, ratio.ci_low, ratio.ci_high]
    )
    if not all(finite(v) for v in values):
        return "undetermined"
    if values[1] > 1:
        return "above"
    if values[2] < 1:
        return "below"
    return "includes"


def ablation_verdict(ablation: Ablation | None) -> str:
    """Claim 4: synergy-first removal disrupts more than random removal (area ratio > 1)."""
    if ablation is None:
        return MISSING
    return interval_verdict(ablation.auc_ratio_synergy_random, 1.0)


# --------------------------------------------------------------------------------------
# Readings of the controls
# --------------------------------------------------------------------------------------


def syn_red_reading(r: Any) -> str:
    """What the synergy–redundancy correlation across heads says."""
    if not finite(r):
        return MISSING
    if r > 0.3:
        return "positive: the same heads score high on both (unlike the brain)"
    if r < -0.3:
        return "negative: brain-like opposition of synergy and redundancy"
    return "weak: synergy and redundancy rank heads almost independently"


#: Split-half reliability: at least this is "reliable", at least the second "moderate".
RELIABILITY_THRESHOLDS = (0.8, 0.5)


def reliability_reading(rho: Any) -> str:
    """What the split-half Spearman ρ of the head gradients says (one rule everywhere)."""
    if not finite(rho):
        return MISSING
    high, moderate = RELIABILITY_THRESHOLDS
    if rho >= high:
        return "reliable head ranking across prompt halves"
    if rho >= moderate:
        return "moderately reliable head ranking"
    return "unreliable: head ranks change between prompt halves"


def null_reading(cores: Cores, alpha: float = ALPHA) -> str:
    """What the circular-shift null of the raw inverted-U statistic says."""
    if cores.null is None or not finite(cores.null.p_value):
        return MISSING
    if cores.null.p_value < alpha:
        return "the inverted-U statistic beats the null"
    return "not beyond the null: the dynamics of each head alone can produce it"


def untrained_reading(cores: Cores) -> str:
    """The untrained-model controls against the trained statistic."""
    untrained = {
        label: c.inverted_u
        for label, c in cores.model_controls.items()
        if c.kind in ("reinitialised", "randomised") and finite(c.inverted_u.value)
    }
    if not untrained:
        return MISSING
    trained = cores.inverted_u
    if not finite(trained.value):
        return "no trained statistic to compare"
    if trained.value <= 0 or (finite(trained.ci_low) and trained.ci_low <= 0):
        return "no clear inverted U in the trained model to compare"
    bar = trained.ci_low if finite(trained.ci_low) else trained.value
    if all(est.value < bar for est in untrained.values()):
        return "weaker without training, as the claim requires"
    return "as strong without training: architecture or estimator artefact"


def untrained_estimates(cores: Cores) -> dict[str, Estimate]:
    """Inverted-U estimates of the untrained copies, by label."""
    return {
        label: c.inverted_u
        for label, c in cores.model_controls.items()
        if c.kind in ("reinitialised", "randomised")
    }
