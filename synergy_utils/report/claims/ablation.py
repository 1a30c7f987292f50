"""Claim 4, ablating synergistic heads is catastrophic: the rule and its wording.

**The rule** (:func:`assess_ablation`, the only place it is written). The synergy order is
compared with every other order by the ratio of the areas under the teacher-forced
KL(clean ‖ ablated) curves on held-out prompts (95 % bootstrap interval over prompts and, for
the pooled random orders, over orders):

* *beats* an order when the interval lies above 1, *loses* when it lies below 1, *ties*
  otherwise;
* **supported** when it beats the random orders and every confound (output norm,
  self-information, ``sts`` alone, ``rtr`` alone: properties synergistic heads share, so an
  effect specific to synergy must exceed theirs); **not supported** when the interval against
  random lies at or below 1 or any confound beats it; **inconclusive** otherwise (for example
  when it beats random but ties a confound). Other synergy measures (raw gradients, CCS,
  Δsts alone) are reported beside and do not enter the verdict.

**"Catastrophic"** is warranted only when, on top of *supported*: the area ratio against
random has a lower bound of at least :data:`CATASTROPHIC_MIN_RATIO` (removing synergistic
heads diverges at least half as fast again as removing random ones), and perturbing the top
share of heads by the synergy order leaves at most :data:`CATASTROPHIC_MAX_ACCURACY_SHARE` of
the intact accuracy, with its interval below the random share's. Without an informative
accuracy test it is not assessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...summary import Ablation, Estimate, ModelAblation, Ratio, from_dict
from ..verdicts import INCONCLUSIVE, MISSING, NOT_SUPPORTED, SUPPORTED, finite

#: Roles whose orders the synergy order must beat for "supported".
REQUIRED_ROLES: tuple[str, ...] = ("random", "confound")
#: Lowest bound of the area ratio against random orders that "catastrophic" needs.
CATASTROPHIC_MIN_RATIO = 1.5
#: Largest share of the intact accuracy left by perturbing the synergistic core for
#: "catastrophic".
CATASTROPHIC_MAX_ACCURACY_SHARE = 0.5
#: Intact Wilson upper bound below which the accuracy test cannot show a drop.
ACCURACY_FLOOR = 0.15
RANDOM = "random"


def ratio_finding(ratio: Ratio | Mapping[str, Any] | None) -> str:
    """Where a ratio's interval lies relative to 1: ``above``, ``below``, ``includes``."""
    if ratio is None:
        return "undetermined"
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


_OUTCOME = {"above": "beats", "below": "loses", "includes": "ties", "undetermined": "unknown"}


@dataclass(frozen=True)
class Comparison:
    """The synergy order against one other order: ``outcome`` beats / ties / loses."""

    order: str
    role: str
    ratio: Ratio
    reverse: Ratio | None
    outcome: str
    reverse_outcome: str


@dataclass(frozen=True)
class AccuracyReading:
    """The accuracy test at the perturbed share: intact, synergistic core, random share."""

    intact: dict[str, Any]
    synergy_top: dict[str, Any] | None
    random: dict[str, Any] | None
    informative: bool
    worse_than_random: bool
    share_of_intact: float | None


@dataclass(frozen=True)
class AblationAssessment:
    verdict: str
    synergy_order: str
    comparisons: list[Comparison]
    catastrophic: bool | None
    reasons: list[str] = field(default_factory=list)
    accuracy: AccuracyReading | None = None

    def orders(self, outcome: str, roles: Sequence[str] = REQUIRED_ROLES) -> list[Comparison]:
        return [c for c in self.comparisons if c.outcome == outcome and c.role in roles]


def _accuracy_reading(ablation: Ablation) -> AccuracyReading | None:
    rows = ablation.accuracy or []
    frac = ablation.accuracy_fraction

    def row(order: str, group: str) -> dict[str, Any] | None:
        for r in rows:
            if r["order"] == order and r["group"] == group and abs(r["fraction"] - frac) < 1e-9:
                return r
        return None

    intact = next((r for r in rows if r["group"] == "intact"), None)
    if intact is None:
        return None
    top, rnd = row(ablation.synergy_order, "top"), row(RANDOM, "random")
    informative = bool(finite(intact["wilson_high"]) and intact["wilson_high"] >= ACCURACY_FLOOR)
    share = top["accuracy"] / intact["accuracy"] if top and intact["accuracy"] > 0 else None
    worse = bool(top and rnd and top["ci_high"] < rnd["ci_low"])
    return AccuracyReading(intact, top, rnd, informative, worse, share)


def compare_orders(
    auc_ratio: Mapping[str, Ratio],
    reverse_auc_ratio: Mapping[str, Ratio],
    order_roles: Mapping[str, str],
) -> list[Comparison]:
    """The synergy order against every other order, from the stored area ratios."""
    return [
        Comparison(
            order,
            order_roles.get(order, RANDOM if order == RANDOM else "other"),
            ratio,
            reverse_auc_ratio.get(order),
            _OUTCOME[ratio_finding(ratio)],
            _OUTCOME[ratio_finding(reverse_auc_ratio.get(order))],
        )
        for order, ratio in auc_ratio.items()
    ]


def comparison_verdict(comparisons: Sequence[Comparison]) -> str:
    """The KL part of the claim-4 rule (see the module notes): beats random and every
    confound: supported; at or below random, or beaten by a confound: not supported."""
    required = [c for c in comparisons if c.role in REQUIRED_ROLES]
    against_random = next((c for c in comparisons if c.order == RANDOM), None)
    if against_random is None:
        return MISSING
    if against_random.outcome == "unknown":
        return INCONCLUSIVE
    if against_random.ratio.ci_high <= 1 or any(c.outcome == "loses" for c in required):
        return NOT_SUPPORTED
    if all(c.outcome == "beats" for c in required):
        return SUPPORTED
    return INCONCLUSIVE


def ratios_verdict(ablation: ModelAblation | None) -> str:
    """The KL part of the claim-4 rule on a reduced ablation's stored ratios (the chapter
    across model families; no accuracy test there)."""
    if ablation is None:
        return MISSING
    roles = {**ablation.order_roles, RANDOM: RANDOM}
    return comparison_verdict(compare_orders(ablation.auc_ratio, ablation.reverse_auc_ratio, roles))


def assess_ablation(ablation: Ablation | Mapping[str, Any] | None) -> AblationAssessment | None:
    """Judge claim 4 from the stored numbers (see the module notes for the rule)."""
    if ablation is None:
        return None
    if isinstance(ablation, Mapping):
        ablation = from_dict(Ablation, ablation, "ablation")
    comparisons = compare_orders(
        ablation.auc_ratio, ablation.reverse_auc_ratio, ablation.order_roles
    )
    verdict = comparison_verdict(comparisons)
    against_random = next((c for c in comparisons if c.order == RANDOM), None)
    accuracy = _accuracy_reading(ablation)
    catastrophic, reasons = _catastrophic(verdict, against_random, accuracy)
    return AblationAssessment(
        verdict, ablation.synergy_order, comparisons, catastrophic, reasons, accuracy
    )


def _catastrophic(
    verdict: str, against_random: Comparison | None, accuracy: AccuracyReading | None
) -> tuple[bool | None, list[str]]:
    reasons = []
    if verdict != SUPPORTED:
        reasons.append("the KL verdict is not 'supported'")
    if against_random is None or not (
        finite(against_random.ratio.ci_low)
        and against_random.ratio.ci_low >= CATASTROPHIC_MIN_RATIO
    ):
        reasons.append(
            f"the area ratio against random orders is not at least {CATASTROPHIC_MIN_RATIO:g} "
            "with confidence"
        )
    if accuracy is None or not accuracy.informative or accuracy.synergy_top is None:
        if reasons:
            return False, reasons
        return None, ["no informative accuracy test"]
    share = accuracy.share_of_intact
    if share is None or share > CATASTROPHIC_MAX_ACCURACY_SHARE:
        reasons.append(
            f"perturbing the synergistic core leaves more than "
            f"{100 * CATASTROPHIC_MAX_ACCURACY_SHARE:.0f} % of the intact accuracy"
        )
    if not accuracy.worse_than_random:
        reasons.append("its accuracy is not below the random share's (intervals overlap)")
    return not reasons, reasons


def ablation_verdict(ablation: Ablation | None) -> str:
    """Claim 4's verdict word (the landing page's): the rule of :func:`assess_ablation`."""
    assessment = assess_ablation(ablation)
    return MISSING if assessment is None else assessment.verdict


def _ratio_text(ratio: Ratio | Estimate | None, fmt: Callable[[Any], str] | None = None) -> str:
    if ratio is None or not finite(ratio.value):
        return "n/a"
    if fmt is not None:
        return fmt(ratio)
    if finite(ratio.ci_low) and finite(ratio.ci_high):
        return f"{ratio.value:.2f} [{ratio.ci_low:.2f}, {ratio.ci_high:.2f}]"
    return f"{ratio.value:.2f}"


def ablation_estimate(ablation: Ablation | None, fmt: Callable[[Any], str] | None = None) -> str:
    """The landing page's estimate cell: the area ratio against random orders and how many
    of the required orders (random and the confounds) the synergy order beats."""
    assessment = assess_ablation(ablation)
    if assessment is None:
        return "–"
    random = next((c for c in assessment.comparisons if c.order == RANDOM), None)
    required = [c for c in assessment.comparisons if c.role in REQUIRED_ROLES]
    beaten = [c.order for c in required if c.outcome == "beats"]
    text = f"vs random {_ratio_text(random.ratio if random else None, fmt)}"
    text += f"; beats {len(beaten)} of {len(required)} random/confound orders"
    if assessment.catastrophic is not None:
        text += "; catastrophic" if assessment.catastrophic else "; not catastrophic"
    return text


# --- the paragraph --------------------------------------------------------------------------


def _names(comparisons: Sequence[Comparison]) -> str:
    return "; ".join(f"{c.order} {_ratio_text(c.ratio)}" for c in comparisons) or "none"


def ablation_paragraph(ablation: Ablation | Mapping[str, Any]) -> str:
    """A paragraph stating the claim-4 verdict, which orders the synergy order beats, by how
    much and with what intervals, whether "catastrophic" is warranted, and how accuracy moves."""
    if isinstance(ablation, Mapping):
        ablation = from_dict(Ablation, {"verdict": "", **ablation}, "ablation")
    a = assess_ablation(ablation)
    pct = 100 * ablation.fractions[-1]
    step = 100 * ablation.fractions[1] if len(ablation.fractions) > 1 else 0.0
    parts = [
        f"Heads were ranked on {ablation.ranking_prompts} ({ablation.n_ranking_prompts} "
        f"prompts) and removed, {step:.0f} % at a time up to {pct:.0f} % "
        f"({ablation.n_heads_removed[-1]} of "
        f"{ablation.n_total_heads}), on {ablation.ablation_prompts} ({ablation.n_prompts} "
        f"prompts × {ablation.n_new_tokens} teacher-forced tokens). The order under test is "
        f"`{a.synergy_order}` ({ablation.orders.get(a.synergy_order, '')}); ratios are its "
        "area under the KL(clean ‖ ablated) curve over the other order's, with 95 % "
        f"bootstrap intervals, against {ablation.n_random_orders} random orders pooled.",
        f"It beats: {_names(a.orders('beats'))}. It ties: {_names(a.orders('ties'))}. "
        f"It loses to: {_names(a.orders('loses'))}.",
    ]
    alternatives = [c for c in a.comparisons if c.role == "alternative"]
    if alternatives:
        parts.append(
            f"Against other synergy measures (not part of the rule): {_names(alternatives)}."
        )
    parts.append(_verdict_sentence(a))
    parts.append(_steps_sentence(ablation))
    disagree = [
        c.order
        for c in a.comparisons
        if c.role in REQUIRED_ROLES and c.reverse_outcome != c.outcome
    ]
    parts.append(
        "The reverse divergence KL(ablated ‖ clean) gives the same outcome against every "
        "random and confound order."
        if not disagree
        else "The reverse divergence KL(ablated ‖ clean) gives a different outcome against "
        f"{', '.join(disagree)}: read those comparisons with care."
    )
    parts.append(_catastrophic_sentence(a))
    parts.append(_accuracy_sentence(ablation, a))
    if ablation.n_prompts < 10 or ablation.n_random_orders < 10:
        parts.append(
            f"With {ablation.n_prompts} prompts and {ablation.n_random_orders} random orders "
            "the intervals are wide and the run is a smoke test rather than a finding."
        )
    return " ".join(p for p in parts if p)


def _verdict_sentence(a: AblationAssessment) -> str:
    against_random = next((c for c in a.comparisons if c.order == RANDOM), None)
    confounds_ahead = [c.order for c in a.orders("loses", ("confound",))]
    if a.verdict == SUPPORTED:
        return (
            "Verdict: **supported**. Removing heads by synergy disrupts the model more than "
            "removing random heads and more than removing heads by any confound, so the "
            "effect is specific to the synergy ranking."
        )
    if a.verdict == NOT_SUPPORTED and against_random and against_random.outcome == "beats":
        return (
            "Verdict: **not supported**. Removing heads by synergy disrupts the model more than "
            f"random removal ({_ratio_text(against_random.ratio)}), but removing heads by "
            f"{', '.join(confounds_ahead)} disrupts it more still, so the damage does not "
            "single out synergy: the synergy ranking finds heads the model depends on, and a "
            "property other than synergy finds more of them."
        )
    if a.verdict == NOT_SUPPORTED:
        return (
            "Verdict: **not supported**. Removing heads by synergy is no more disruptive than "
            "random removal"
            + (
                f", and removing them by {', '.join(confounds_ahead)} is more disruptive"
                if confounds_ahead
                else ""
            )
            + "; the ranking does not single out heads the model depends on."
        )
    if a.verdict == INCONCLUSIVE:
        return (
            "Verdict: **inconclusive**. The intervals do not separate the synergy order from "
            "random removal or from at least one confound, so an effect specific to synergy "
            "is not shown (a null result is a finding: reproductions reported ratios of "
            "0.9–1.1 on some models)."
        )
    return "Verdict: the ratios could not be estimated."


def _steps_sentence(ablation: Ablation) -> str:
    syn = ablation.kl_steps.get(ablation.synergy_order) or []
    rnd = ablation.kl_steps.get(RANDOM) or []
    if not syn or not rnd:
        return ""
    return (
        f"At {100 * ablation.fractions[-1]:.0f} % removed the mean KL(clean ‖ ablated) is "
        f"{_ratio_text(syn[-1])} nats per token by synergy and {_ratio_text(rnd[-1])} for "
        "random orders."
    )


def _catastrophic_sentence(a: AblationAssessment) -> str:
    criterion = (
        f"(criterion: supported, an area ratio against random with lower bound at least "
        f"{CATASTROPHIC_MIN_RATIO:g}, and perturbing the synergistic core leaving at most "
        f"{100 * CATASTROPHIC_MAX_ACCURACY_SHARE:.0f} % of the intact accuracy, below the "
        "random share's)"
    )
    if a.catastrophic is None:
        return (
            f"Whether the damage is catastrophic is not assessed {criterion}: "
            + "; ".join(a.reasons)
            + "."
        )
    if a.catastrophic:
        return f"The damage is catastrophic by this chapter's criterion {criterion}."
    return f"'Catastrophic' is not warranted {criterion}: " + "; ".join(a.reasons) + "."


def _pct(row: Mapping[str, Any] | None, key: str = "accuracy") -> str:
    return "n/a" if row is None else f"{100 * row[key]:.0f} %"


def _accuracy_sentence(ablation: Ablation, a: AblationAssessment) -> str:
    reading = a.accuracy
    if reading is None:
        return ""
    intact = reading.intact
    text = (
        f"On {ablation.task_family} tasks (difficulty {ablation.task_difficulty}) the intact "
        f"model answers {_pct(intact)} correctly (Wilson 95 % CI {_pct(intact, 'wilson_low')}–"
        f"{_pct(intact, 'wilson_high')}, {intact['n_tasks']} tasks)."
    )
    if not reading.informative:
        return text + (
            " That is too close to zero for a drop to show, so the accuracy test is "
            "uninformative on this model and these tasks."
        )
    frac = 100 * ablation.accuracy_fraction
    rows = {
        (r["order"], r["group"]): r
        for r in ablation.accuracy
        if abs(r["fraction"] - ablation.accuracy_fraction) < 1e-9
    }
    bottom = rows.get((a.synergy_order, "bottom"))
    text += (
        f" With weight noise (relative std {ablation.relative_noise_std:g}) on {frac:.0f} % of "
        f"the heads: top by synergy {_pct(reading.synergy_top)}, bottom by synergy "
        f"{_pct(bottom)}, random {_pct(reading.random)}."
    )
    top, rnd = reading.synergy_top, reading.random
    if top and rnd:
        if top["ci_high"] < rnd["ci_low"]:
            text += " The synergistic core hurts more than random heads (intervals apart)."
        elif top["ci_low"] > rnd["ci_high"]:
            text += " The synergistic core hurts less than random heads (intervals apart)."
        else:
            text += " The synergistic-core and random conditions overlap."
    worse = [
        o
        for (o, g), r in rows.items()
        if g == "top" and o != a.synergy_order and top and r["ci_high"] < top["ci_low"]
    ]
    if worse:
        text += f" The top heads of {', '.join(worse)} hurt accuracy more than synergy's."
    return text
