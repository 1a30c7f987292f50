"""The revised preprint's geometry claims: middle-layer states lie on lower-dimensional
manifolds, and align more strongly across disjoint vocabularies that express the same rule.

Both rules read per-layer estimates with bootstrap resamples over points (a ``(layer,)``
array on all points and a ``(layer, resample)`` array, e.g. from
:func:`synergy_utils.stats.geometry.bootstrap_by_layer`, whose resamples draw the same points
in every layer) and compare the middle third of the layers with the two outer thirds
(:func:`synergy_utils.series.thirds`):

* **dimension** (:func:`assess_dimension`): the relative contrast ``mean(middle) /
  mean(outer) - 1`` of an intrinsic-dimension estimate, on the model and on a control input
  (a randomly initialised copy, or shuffled tokens), and the model's contrast minus the
  control's (the *excess*);
* **alignment** (:func:`assess_alignment`): per layer, the alignment (CKA or Procrustes) of
  the same rule written in two vocabularies minus that of two different rules in the same two
  vocabularies (the *gap*), and the middle third's mean gap minus the outer thirds' (the
  contrast).

Every interval is the central percentile interval of the resampled contrast, recentred on the
contrast on all points: resampling points with replacement repeats some of them, which shifts
alignment scores (on the toy layers of known alignment the resampled CKA contrast sat below the
full-sample value, which then fell outside the plain percentile interval in half of the seeds),
so the resamples' mean shift is removed before the quantiles are taken. Its standard
error is the resamples' standard deviation, and the minimum detectable effect at 80 % power
is ``(z_{1-alpha/2} + z_{0.8}) x SE``, as for claim 1. The rules were validated on toy
representations of known dimension and alignment (:mod:`synergy_utils.simulation_geometry`,
``tests/test_revised_claims.py``). :func:`assess` and :func:`paragraph` are the one claim
interface (``assess("dimension", ...)`` or ``assess("alignment", ...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from ...series import thirds
from ...summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Assessment
from ..verdicts import ALPHA, finite

#: Relative drop of the middle third's intrinsic dimension below the outer thirds' (0.10 =
#: 10 %) that the rule must be able to see before it says "not supported". TwoNN itself is
#: trusted to within 10 % of the true dimension (the estimator's tests): a smaller drop could
#: be the estimator's bias changing with the curvature or the density of a layer.
REFERENCE_DIMENSION_DROP = 0.10
#: Middle-minus-outer gain of the same-rule minus different-rule alignment (CKA or Procrustes
#: score, both in [0, 1]) that the rule must be able to see before it says "not supported":
#: a twentieth of the scores' range, twenty times linear CKA's expectation on independent
#: clouds of the analysed size (about sqrt(p q) / n, 0.0025 for 5 features and 2000 points).
REFERENCE_ALIGNMENT_GAIN = 0.05
#: Power at which the minimum detectable effect is stated.
POWER = 0.8

DIMENSION_RULE = (
    "The statistic is the relative contrast of an intrinsic-dimension estimate between the "
    "middle third of the layers and the two outer thirds (mean of the middle over mean of the "
    "outer, minus 1), with a bootstrap interval over points; the excess is that contrast on "
    "the model minus the same contrast on the control input (a randomly initialised copy or "
    "shuffled tokens). Supported: the contrast's interval and the excess's interval both lie "
    f"below 0 ({100 * (1 - ALPHA):.0f} % intervals). Not supported: either interval lies "
    f"above a drop of {100 * REFERENCE_DIMENSION_DROP:.0f} % (the reference effect), so a "
    "middle-layer drop of that size, or one beyond the control's, is excluded. Inconclusive: "
    "anything else, with the smallest drop detectable at 80 % power."
)
ALIGNMENT_RULE = (
    "The statistic is, per layer, the alignment of the same rule written in two vocabularies "
    "minus that of two different rules in the same two vocabularies (the gap), and the middle "
    "third's mean gap minus the outer thirds' mean gap (the contrast), with a bootstrap "
    f"interval over points. Supported: the contrast's {100 * (1 - ALPHA):.0f} % interval lies "
    f"above 0. Not supported: its interval lies below {REFERENCE_ALIGNMENT_GAIN:g} (the "
    "reference effect), so a middle-layer gain of that size is excluded. Inconclusive: "
    "anything else, with the smallest gain detectable at 80 % power."
)


@dataclass
class Contrast:
    """A contrast between layer thirds with its interval, bootstrap standard error and
    minimum detectable effect (80 % power), in the units of the statistic."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    mde: float | None


@dataclass
class DimensionEvidence:
    estimator: str  #: e.g. "two_nn" or "participation_ratio"
    control: str  #: e.g. "random init" or "shuffled tokens"
    n_layers: int
    n_resamples: int
    ci_level: float
    reference: float  #: the relative drop the rule must be able to see
    contrast: Contrast  #: model: mean(middle) / mean(outer) - 1
    control_contrast: Contrast  #: the same on the control input
    excess: Contrast  #: model contrast minus control contrast


@dataclass
class AlignmentEvidence:
    score: str  #: "linear_cka" or "procrustes"
    n_layers: int
    n_resamples: int
    ci_level: float
    reference: float  #: the middle-minus-outer gain the rule must be able to see
    middle_gap: Contrast  #: mean same-minus-different alignment in the middle third
    outer_gap: Contrast  #: the same in the outer thirds
    contrast: Contrast  #: middle gap minus outer gap


@dataclass
class DimensionAssessment(Assessment):
    evidence: DimensionEvidence | None = None


@dataclass
class AlignmentAssessment(Assessment):
    evidence: AlignmentEvidence | None = None


def _layers(values: Any, resamples: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(resamples, dtype=np.float64)
    if v.ndim != 1 or r.ndim != 2 or r.shape[0] != v.shape[0]:
        raise ValueError(
            f"{name}: need values (layer,) and resamples (layer, resample), got "
            f"{v.shape} and {r.shape}"
        )
    if r.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 resamples, got {r.shape[1]}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(r))):
        raise ValueError(f"{name} contains NaN or infinite values")
    return v, r


def _third_means(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means over the middle third and over both outer thirds (first axis: layer)."""
    first, middle, last = thirds(x.shape[0])
    outer = np.concatenate([x[first], x[last]])
    return x[middle].mean(axis=0), outer.mean(axis=0)


def contrast_of(value: float, samples: np.ndarray, ci_level: float) -> Contrast:
    """A :class:`Contrast` from its value and its ``(resample,)`` bootstrap values: the
    central percentile interval of the resamples recentred on ``value`` (the resamples' mean
    shift, the bootstrap estimate of the estimator's bias, removed), their standard deviation
    as the standard error, and the minimum detectable effect from it."""
    centred = samples - (np.mean(samples) - value)
    lo, hi = np.quantile(centred, [(1 - ci_level) / 2, (1 + ci_level) / 2])
    se = float(np.std(samples, ddof=1))
    z = sps.norm.ppf(1 - (1 - ci_level) / 2) + sps.norm.ppf(POWER)
    return Contrast(float(value), float(lo), float(hi), se, float(z * se))


def _relative(values: np.ndarray, resamples: np.ndarray) -> tuple[float, np.ndarray]:
    mid, out = _third_means(values)
    mid_r, out_r = _third_means(resamples)
    if np.any(out_r <= 0) or out <= 0:
        raise ValueError("the outer thirds' dimension must be positive")
    return float(mid / out - 1), mid_r / out_r - 1


def dimension_verdict(ev: DimensionEvidence) -> tuple[str, str]:
    """``(verdict, reason)`` of :data:`DIMENSION_RULE` from stored numbers."""
    c, k, ref = ev.contrast, ev.excess, ev.reference
    if not all(finite(x) for x in (c.ci_low, c.ci_high, k.ci_low, k.ci_high)):
        return INCONCLUSIVE, "a contrast or its interval is undefined"
    size = f"{_pc(c.value)} (interval {_pc(c.ci_low)} to {_pc(c.ci_high)})"
    if c.ci_high < 0 and k.ci_high < 0:
        return SUPPORTED, (
            f"the middle third's dimension lies below the outer thirds' by {size}, and below "
            f"the control's contrast by {_pc(k.value)} (interval up to {_pc(k.ci_high)})"
        )
    if c.ci_low > -ref:
        return NOT_SUPPORTED, (
            f"a middle-layer drop of {_pc(ref)} or more is excluded: the contrast is {size}"
        )
    if k.ci_low > -ref:
        return NOT_SUPPORTED, (
            f"the middle layers' dimension is {size} against the outer thirds, but a drop "
            f"beyond the control's of {_pc(ref)} or more is excluded (excess {_pc(k.value)}, "
            f"interval from {_pc(k.ci_low)})"
        )
    mde = max(c.mde or 0.0, k.mde or 0.0)
    return INCONCLUSIVE, (
        f"the intervals neither establish a drop nor exclude one of {_pc(ref)} (contrast "
        f"{size}); the smallest drop detectable at 80 % power is {_pc(mde)}"
    )


def assess_dimension(
    values: Any,
    resamples: Any,
    control_values: Any,
    control_resamples: Any,
    *,
    estimator: str = "two_nn",
    control: str = "random init",
    ci_level: float = 1 - ALPHA,
    reference: float = REFERENCE_DIMENSION_DROP,
) -> DimensionAssessment:
    """Apply :data:`DIMENSION_RULE` to per-layer dimensions: ``values`` ``(layer,)`` and
    ``resamples`` ``(layer, resample)`` on the model, the same on the control input (same
    number of layers and resamples; resample b of model and control are paired by index)."""
    v, r = _layers(values, resamples, "values")
    cv, cr = _layers(control_values, control_resamples, "control")
    if cv.shape != v.shape or cr.shape != r.shape:
        raise ValueError(f"model {r.shape} and control {cr.shape} must have the same shape")
    value, samples = _relative(v, r)
    c_value, c_samples = _relative(cv, cr)
    ev = DimensionEvidence(
        estimator, control, int(v.shape[0]), int(r.shape[1]), float(ci_level), float(reference),
        contrast_of(value, samples, ci_level), contrast_of(c_value, c_samples, ci_level),
        contrast_of(value - c_value, samples - c_samples, ci_level),
    )  # fmt: skip
    verdict, reason = dimension_verdict(ev)
    return DimensionAssessment(verdict, reason, DIMENSION_RULE, ev)


def alignment_verdict(ev: AlignmentEvidence) -> tuple[str, str]:
    """``(verdict, reason)`` of :data:`ALIGNMENT_RULE` from stored numbers."""
    c, ref = ev.contrast, ev.reference
    if not (finite(c.ci_low) and finite(c.ci_high)):
        return INCONCLUSIVE, "the contrast or its interval is undefined"
    size = f"{_f(c.value)} (interval {_f(c.ci_low)} to {_f(c.ci_high)})"
    if c.ci_low > 0:
        return SUPPORTED, (
            f"the same-rule advantage in alignment is larger in the middle third than in the "
            f"outer thirds by {size}"
        )
    if c.ci_high < ref:
        return NOT_SUPPORTED, (
            f"a middle-layer gain of {ref:g} or more is excluded: the contrast is {size}"
        )
    return INCONCLUSIVE, (
        f"the interval neither establishes a gain nor excludes one of {ref:g} (contrast "
        f"{size}); the smallest gain detectable at 80 % power is {_f(c.mde)}"
    )


def assess_alignment(
    same_values: Any,
    same_resamples: Any,
    different_values: Any,
    different_resamples: Any,
    *,
    score: str = "linear_cka",
    ci_level: float = 1 - ALPHA,
    reference: float = REFERENCE_ALIGNMENT_GAIN,
) -> AlignmentAssessment:
    """Apply :data:`ALIGNMENT_RULE`: per-layer alignment of same-rule pairs (``(layer,)``
    and ``(layer, resample)``) and of different-rule pairs (same shapes; resample b of both
    should draw the same points, e.g. the same seed of ``bootstrap_by_layer``)."""
    sv, sr = _layers(same_values, same_resamples, "same-rule")
    dv, dr = _layers(different_values, different_resamples, "different-rule")
    if dv.shape != sv.shape or dr.shape != sr.shape:
        raise ValueError(f"same-rule {sr.shape} and different-rule {dr.shape} must match")
    mid, out = _third_means(sv - dv)
    mid_r, out_r = _third_means(sr - dr)
    ev = AlignmentEvidence(
        score, int(sv.shape[0]), int(sr.shape[1]), float(ci_level), float(reference),
        contrast_of(mid, mid_r, ci_level), contrast_of(out, out_r, ci_level),
        contrast_of(mid - out, mid_r - out_r, ci_level),
    )  # fmt: skip
    verdict, reason = alignment_verdict(ev)
    return AlignmentAssessment(verdict, reason, ALIGNMENT_RULE, ev)


#: The rules of this module by claim name (the argument of :func:`assess`).
ASSESSORS = {"dimension": assess_dimension, "alignment": assess_alignment}


def assess(claim: str, *args: Any, **kwargs: Any) -> Assessment:
    """The one claim interface: ``assess("dimension", ...)`` (:func:`assess_dimension`) or
    ``assess("alignment", ...)`` (:func:`assess_alignment`)."""
    if claim not in ASSESSORS:
        raise ValueError(f"unknown claim {claim!r}; choose from {sorted(ASSESSORS)}")
    return ASSESSORS[claim](*args, **kwargs)


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------


def _f(x: Any, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}" if finite(x) else "n/a"


def _pc(x: Any) -> str:
    return f"{100 * float(x):+.1f} %" if finite(x) else "n/a"


def paragraph(assessment: Assessment) -> str:
    """The verdict of either rule in plain words, with its numbers."""
    ev = assessment.evidence
    pct = f"{100 * ev.ci_level:.0f} %" if ev is not None else ""
    if isinstance(ev, DimensionEvidence):
        return (
            f"The claim that middle-layer states lie on lower-dimensional manifolds is "
            f"*{assessment.verdict}* ({ev.estimator}, {ev.n_layers} layers, {ev.n_resamples} "
            f"resamples): {assessment.reason}. The middle third's dimension differs from the "
            f"outer thirds' by {_pc(ev.contrast.value)} on the model and by "
            f"{_pc(ev.control_contrast.value)} on the control ({ev.control}); {pct} interval "
            f"of the excess {_pc(ev.excess.ci_low)} to {_pc(ev.excess.ci_high)}, smallest drop "
            f"detectable at 80 % power {_pc(ev.contrast.mde)} (reference {_pc(-ev.reference)})."
        )
    if isinstance(ev, AlignmentEvidence):
        return (
            f"The claim that middle-layer states align more strongly across vocabularies that "
            f"express the same rule is *{assessment.verdict}* ({ev.score}, {ev.n_layers} "
            f"layers, {ev.n_resamples} resamples): {assessment.reason}. The same-rule minus "
            f"different-rule gap is {_f(ev.middle_gap.value)} in the middle third and "
            f"{_f(ev.outer_gap.value)} in the outer thirds; {pct} interval of the contrast "
            f"{_f(ev.contrast.ci_low)} to {_f(ev.contrast.ci_high)}, smallest gain detectable "
            f"at 80 % power {_f(ev.contrast.mde)} (reference {ev.reference:g})."
        )
    return f"The revised claim is *{assessment.verdict}*: {assessment.reason}."
