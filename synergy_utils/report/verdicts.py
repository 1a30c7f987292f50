"""The vocabulary of verdicts, and one reading per control, used by every page.

The rule of each claim, with its wording, is in :mod:`synergy_utils.report.claims`; this
module holds what they share: the verdict words, the interval rule, number formatting for
prose, and the plain readings of the controls (reliability, synergy–redundancy correlation,
nulls, untrained models). The chapter that computes the numbers and the landing page that
lists them call the same functions, so a reader never sees two readings of one number.

Verdicts are ``"supported"``, ``"not supported"`` or ``"inconclusive"`` (and ``"not run"``
for a stage that did not run). Nothing is "supported" without a test against a null.
"""

from __future__ import annotations

import math
from typing import Any

from ..summary import (
    INCONCLUSIVE,
    MISSING,
    NOT_SUPPORTED,
    SUPPORTED,
    Cores,
    Estimate,
    Ratio,
)

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


def fmt(x: Any, digits: int = 2) -> str:
    """A number for prose: fixed ``digits`` decimals, "n/a" when missing."""
    return f"{float(x):.{digits}f}" if finite(x) else "n/a"


def ci_reading(ci_low: Any, ci_high: Any) -> str:
    """What the interval of an inverted-U statistic says about the profile's shape."""
    if finite(ci_low) and float(ci_low) > 0:
        return "interval above 0: middle layers higher (inverted U)"
    if finite(ci_high) and float(ci_high) < 0:
        return "interval below 0: middle layers lower (U shape)"
    return "interval includes 0: no shape established"


# --------------------------------------------------------------------------------------
# Readings of the controls
# --------------------------------------------------------------------------------------


#: Synergy–redundancy correlation across heads: above this it reads "positive", below its
#: negative "negative", in between "weak" (Pearson r; a moderate correlation by convention).
SYN_RED_CORRELATION = 0.3
#: Pearson r between pair ``sts`` and the independent baseline ``2·min(a_x, a_y)`` above which
#: synergy "largely tracks each head's autocorrelation" (half the variance or more).
AUTOCORRELATION_TRACKING_R = 0.7


def syn_red_reading(r: Any) -> str:
    """What the synergy–redundancy correlation across heads says."""
    if not finite(r):
        return MISSING
    if r > SYN_RED_CORRELATION:
        return "positive: the same heads score high on both (unlike the brain)"
    if r < -SYN_RED_CORRELATION:
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
