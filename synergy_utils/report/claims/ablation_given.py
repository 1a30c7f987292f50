"""Claim 4 given norm and layer: does removing synergistic heads hurt *because of synergy*?

**The rule** (:func:`assess`, the only place it is written) reads two statistics:

* the standardised synergy coefficient of ``damage ~ synergy + norm + layer third +
  self-information`` over heads (sd of damage per sd of synergy, bootstrap interval over heads;
  :func:`synergy_utils.stages.synergy_regression.synergy_coefficient`);
* the matched-order contrast: the tested order's damage minus that of random orders matched to
  it head for head on layer third and projected-norm decile (interval over orders and prompts,
  :func:`synergy_utils.stages.matched_orders.matched_contrast`).

**Supported** when both intervals lie above 0. **Not supported** only when the coefficient's
interval lies below :data:`REFERENCE_EFFECT` (the data exclude an effect of that size).
**Inconclusive** otherwise, with the reason. Every verdict states the minimum detectable
effect at 80 % power from the bootstrap SE.

**Accuracy is read beside KL** when it is given: the accuracy gap is the task accuracy with the
order's top heads perturbed minus that with random heads perturbed
(:func:`synergy_utils.stages.ablation_accuracy.accuracy_gap`; negative: the order hurts more).
When both KL statistics say the order hurts more but the gap's interval lies above 0 (it hurts
accuracy *less*), the two disagree and the verdict is inconclusive; when the verdict is not
supported and the gap's interval lies below 0, the reason says that accuracy disagrees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...summary import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    AblationGiven,
    Assessment,
    Estimate,
)
from ..verdicts import finite

if TYPE_CHECKING:
    from ...stages.given_norm import GivenNormResult
    from ...stages.matched_orders import Contrast
    from ...stages.synergy_regression import Coefficient

#: The smallest effect of synergy worth detecting, in sd of damage per sd of synergy given the
#: covariates: 0.2, a small standardised slope (Cohen's r ≈ 0.2), and about the toy's
#: β = 0.25 sd(norm) per sd of synergy (0.22 on this scale with head noise 0.5 sd(norm)),
#: a quarter of what one sd of norm does. A null is "not supported" only when the interval
#: excludes it.
REFERENCE_EFFECT = 0.2
#: Where both intervals must lie for "supported" (above no effect).
NO_EFFECT = 0.0

RULE = (
    "Supported: the standardised synergy coefficient of damage ~ synergy + norm + layer third "
    "+ self-information (bootstrap over heads) and the contrast against random orders matched "
    "head for head on layer third and projected-norm decile (over orders and prompts) both have "
    f"95 % intervals above {NO_EFFECT:g}. Not supported: the coefficient's interval lies below "
    f"{REFERENCE_EFFECT:g} sd of damage per sd of synergy. Inconclusive: anything else."
)


@dataclass
class GivenEvidence:
    """What the rule read: the coefficient (sd of damage per sd of synergy) and the contrast
    (damage units of the order statistic, e.g. nats × fraction for a KL-curve area)."""

    coefficient: float
    coefficient_low: float
    coefficient_high: float
    coefficient_mde: float
    contrast: float
    contrast_low: float
    contrast_high: float
    contrast_mde: float
    matched_ratio: float | None = None
    n_heads: int = 0
    n_orders: int = 0
    accuracy_gap: float | None = None
    accuracy_gap_low: float | None = None
    accuracy_gap_high: float | None = None


@dataclass
class GivenAssessment(Assessment):
    """The claim-4 verdict given norm and layer (:func:`assess`)."""

    evidence: GivenEvidence | None = None


def evidence(
    coefficient: Coefficient, contrast: Contrast, accuracy: Mapping[str, float] | None = None
) -> GivenEvidence:
    """Evidence from a :class:`~synergy_utils.stages.synergy_regression.Coefficient` and a
    :class:`~synergy_utils.stages.matched_orders.Contrast` (contrast MDE = 2.8 × its SE), and
    optionally the accuracy gap (``value``/``ci_low``/``ci_high`` of
    :func:`~synergy_utils.stages.ablation_accuracy.accuracy_gap`)."""
    from ...stages.synergy_regression import Z_ALPHA, Z_POWER

    gap = [None] * 3 if accuracy is None else [
        float(accuracy[k]) for k in ("value", "ci_low", "ci_high")
    ]  # fmt: skip
    return GivenEvidence(
        coefficient.value, coefficient.ci_low, coefficient.ci_high, coefficient.mde,
        contrast.value, contrast.ci_low, contrast.ci_high, (Z_ALPHA + Z_POWER) * contrast.se,
        contrast.ratio, coefficient.n_heads, contrast.n_orders, *gap,
    )  # fmt: skip


def _gap_text(found: GivenEvidence) -> str:
    return (
        f"accuracy with the order's top heads perturbed minus random heads perturbed "
        f"{found.accuracy_gap:+.2f} [{found.accuracy_gap_low:+.2f}, {found.accuracy_gap_high:+.2f}]"
    )


def assess(found: GivenEvidence) -> GivenAssessment:
    """Apply the rule (module notes) to the coefficient and the matched contrast."""
    ok = all(finite(v) for v in (found.coefficient_low, found.coefficient_high))
    ok = ok and all(finite(v) for v in (found.contrast_low, found.contrast_high))
    mde = f"minimum detectable effect {found.coefficient_mde:.3f} sd per sd at 80 % power"
    if not ok:
        return GivenAssessment(INCONCLUSIVE, "the intervals could not be estimated", RULE, found)
    coef_above = found.coefficient_low > NO_EFFECT
    contrast_above = found.contrast_low > NO_EFFECT
    accuracy_less = finite(found.accuracy_gap_low) and found.accuracy_gap_low > 0
    accuracy_more = finite(found.accuracy_gap_high) and found.accuracy_gap_high < 0
    if coef_above and contrast_above and accuracy_less:
        verdict = INCONCLUSIVE
        reason = (
            f"KL and accuracy disagree: both KL statistics exceed 0, but the order hurts "
            f"accuracy less than random heads ({_gap_text(found)})"
        )
    elif coef_above and contrast_above:
        verdict, reason = (
            SUPPORTED,
            "both the synergy coefficient and the matched contrast exceed 0",
        )
    elif found.coefficient_high < REFERENCE_EFFECT:
        verdict = NOT_SUPPORTED
        reason = f"the coefficient's interval excludes {REFERENCE_EFFECT:g} ({mde})"
    elif coef_above:
        verdict = INCONCLUSIVE
        reason = f"the coefficient exceeds 0 but the matched contrast does not ({mde})"
    elif contrast_above:
        verdict = INCONCLUSIVE
        reason = f"the matched contrast exceeds 0 but the coefficient does not ({mde})"
    else:
        verdict = INCONCLUSIVE
        reason = f"neither interval excludes 0 nor {REFERENCE_EFFECT:g} ({mde})"
    if verdict == NOT_SUPPORTED and accuracy_more:
        reason += f"; accuracy disagrees: the order hurts it more ({_gap_text(found)})"
    return GivenAssessment(verdict, reason, RULE, found)


def paragraph(assessment: GivenAssessment) -> str:
    """The verdict in words with both statistics and their intervals."""
    e = assessment.evidence
    return (
        f"Given norm, layer third and self-information, one sd of synergy changes the damage "
        f"by {e.coefficient:.3f} [{e.coefficient_low:.3f}, {e.coefficient_high:.3f}] sd "
        f"({e.n_heads} heads removed alone); the removal order's KL-curve area minus that of "
        f"{e.n_orders} matched random orders is {e.contrast:.3g} "
        f"[{e.contrast_low:.3g}, {e.contrast_high:.3g}] nats × share of heads"
        + (f" (ratio {e.matched_ratio:.2f})" if finite(e.matched_ratio) else "")
        + ". "
        + (f"Task accuracy beside it: {_gap_text(e)}. " if finite(e.accuracy_gap) else "")
        + f"Verdict: **{assessment.verdict}**: {assessment.reason}."
    )


def summary_section(
    result: GivenNormResult, assessment: GivenAssessment, *, order: str, n_prompts: int,
    n_single_prompts: int, accuracy_fraction: float | None = None,
) -> AblationGiven:  # fmt: skip
    """The ``given`` part of the ``ablation`` section of ``summary.json``: ``result`` of
    :func:`synergy_utils.stages.given_norm.given_norm_study` and its verdict (with the
    accuracy gap the rule read, at ``accuracy_fraction`` of heads perturbed)."""
    from ...stages.given_norm import given_summary

    e = assessment.evidence
    gap = None
    if finite(e.accuracy_gap):
        gap = {
            "value": e.accuracy_gap,
            "ci_low": e.accuracy_gap_low,
            "ci_high": e.accuracy_gap_high,
        }
    numbers = given_summary(
        result, order=order, n_prompts=n_prompts, n_single_prompts=n_single_prompts,
        accuracy=gap, accuracy_fraction=accuracy_fraction,
    )  # fmt: skip
    return with_verdict(numbers, assessment)


def with_verdict(given: AblationGiven, assessment: GivenAssessment | None = None) -> AblationGiven:
    """``given`` with the rule's verdict and reason filled in (``assessment``, or the rule
    applied to the stored numbers: :func:`evidence_from_summary`)."""
    import dataclasses

    found = assessment or assess(evidence_from_summary(given))
    return dataclasses.replace(given, verdict=found.verdict, reason=found.reason)


def evidence_from_summary(given: AblationGiven) -> GivenEvidence:
    """The rule's evidence as stored in ``summary.json`` (the landing page re-applies the rule)."""

    def num(v: float | None) -> float:
        return float("nan") if v is None else float(v)

    return GivenEvidence(
        num(given.coefficient.value), num(given.coefficient.ci_low),
        num(given.coefficient.ci_high), given.coefficient_mde,
        num(given.contrast.value), num(given.contrast.ci_low), num(given.contrast.ci_high),
        given.contrast_mde, num(given.matched_ratio.value), given.n_heads, given.n_orders,
        *(
            (num(gap.value), num(gap.ci_low), num(gap.ci_high))
            if (gap := given.accuracy_gap) is not None
            else (None,) * 3
        ),
    )  # fmt: skip


def given_estimate(given: AblationGiven, fmt: Callable[[Any], str]) -> str:
    """The landing page's estimate cell of the rule: the matched ratio over the window and the
    coefficient, each with its interval (ranking noise included)."""
    return (
        f"matched ratio over 0–{100 * given.window:.0f} % {fmt(given.matched_ratio)} "
        f"({given.n_rankings} rankings × {given.n_orders} matched orders); synergy "
        f"coefficient given norm, layer and persistence {fmt(given.coefficient)} sd/sd "
        f"(MDE {given.coefficient_mde:.2f})"
    )


def _interval(e: Estimate) -> str:
    """``value [low, high]`` to 2 decimals; the value alone without an interval; n/a."""
    if e.value is None:
        return "n/a"
    if e.ci_low is None or e.ci_high is None:
        return f"{e.value:.2f}"
    return f"{e.value:.2f} [{e.ci_low:.2f}, {e.ci_high:.2f}]"


def mode_sentence(given: AblationGiven) -> str:
    """The matched ratio in every ablation mode, the deciding one first."""
    parts = []
    for mode, ratio in given.mode_ratios.items():
        parts.append(f"{mode} {_interval(ratio)}" + (" (decides)" if mode == given.mode else ""))
    return "Matched ratio by ablation mode: " + "; ".join(parts) + "."


def given_sentence(given: AblationGiven) -> str:
    """The rule re-applied to stored numbers, in one clause: verdict, matched ratio over the
    window and the synergy coefficient with their intervals, and the reason."""
    found = assess(evidence_from_summary(given))
    return (
        f"**{found.verdict}** (matched ratio over 0–{100 * given.window:.0f} % "
        f"{_interval(given.matched_ratio)}, {given.n_rankings} rankings × {given.n_orders} "
        f"orders; synergy coefficient {_interval(given.coefficient)} sd/sd over "
        f"{given.n_heads} heads): {found.reason}"
    )
