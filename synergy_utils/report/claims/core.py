"""Claims 1 and 2, from the synergistic-cores chapter: the rules and their wording.

**Claim 1** (a synergistic core in the middle layers) is judged on null-corrected synergy:
for every pair of heads, ``sts`` minus the mean of the same pair in circular-shift
surrogates (each head's own persistence kept exactly), averaged over each head's partners
(:mod:`synergy_utils.stages.core_null`). :func:`core_verdict` is a pure function of those
stored numbers, so the chapter and the landing page reach the same verdict;
:func:`assess_core` computes the numbers and applies it. The rule was validated on the
synthetic battery of :mod:`synergy_utils.simulation` (every system, 30 seeds, under MMI
and under CCS; ``docs/validation.md``) and never tuned on a language model.

**Claim 2** (redundancy at the edges) is read from the synergy and redundancy graphs.
"""

from __future__ import annotations

from typing import Any

from ...summary import (
    INCONCLUSIVE,
    MISSING,
    NOT_SUPPORTED,
    SUPPORTED,
    BlockTest,
    CoreAssessment,
    CoreEvidence,
    Graphs,
    Test,
)
from ..verdicts import finite

#: Per-pair core (nats of Δsts, a middle–middle pair over an outer–outer pair) that the rule
#: must be able to see before it may say "not supported": a weak core, about a thirtieth of
#: the planted middle core of the battery and the size the power issue of the rule was built
#: around. A study whose minimum detectable effect is larger calls a null "inconclusive".
REFERENCE_EFFECT_NATS = 0.01
#: Split-half reliability (Spearman–Brown corrected Pearson, circular-shift null) below which
#: the heads' synergy is not reproducible across prompt halves: no core is declared on it.
RELIABILITY_GATE = 0.5
#: Fewest surrogates with which a null p-value can fall below 0.05.
MIN_SURROGATES = 19

#: The claim-1 rule in words (shown beside every verdict).
CORE_RULE = (
    "The statistic is the adjusted block contrast: the regression coefficient of a pair's "
    "null-corrected synergy (Δsts) on 'both heads in the middle third' against 'both in the "
    "outer thirds', with each pair's persistence (self-information) and null-corrected "
    "redundancy (Δrtr) as covariates, in nats per pair, with a bootstrap interval over "
    "prompts; it is computed against two nulls (circular shifts of each series on its "
    "closure, and prompts shuffled by derangement). Supported: under both nulls the adjusted "
    "contrast's interval lies above 0 (p < alpha), the middle–middle pairs' Δsts under the "
    "prompt-shuffle null lies above 0 and above their Δrtr, and the heads' synergy is "
    f"reliable across prompt halves (split-half >= {RELIABILITY_GATE:g}). Not supported: "
    "under both nulls the outer pairs carry more synergy beyond the null than the middle "
    "pairs, or the adjusted contrast's interval lies below the minimum detectable effect "
    f"(80 % power) and that effect is at most {REFERENCE_EFFECT_NATS:g} nats per pair. "
    "Inconclusive: anything else (the nulls disagree, the power or the reliability is short, "
    "too few surrogates), with the reason."
)


def _ok(*values: Any) -> bool:
    return all(finite(v) for v in values)


def minimum_detectable_effect(evidence: CoreEvidence) -> float:
    """The larger of the two nulls' minimum detectable effects (nats per pair; NaN without
    the block statistic): the rule needs both nulls to agree."""
    mdes = [b.mde for b in evidence.blocks.values() if finite(b.mde)]
    return float(max(mdes)) if len(mdes) == 2 else float("nan")


def _side(test: Test) -> str:
    """Where a block's interval lies relative to the null: 'above', 'below' or 'at'."""
    if _ok(test.ci_low) and test.ci_low > 0:
        return "above"
    if _ok(test.ci_high) and test.ci_high < 0:
        return "below"
    return "at"


def _observed(shuffle: BlockTest) -> str:
    """What the seamless null's block means show, in words (for a verdict's reason)."""
    mid, out = _side(shuffle.middle), _side(shuffle.outer)
    outer = {
        "above": "the outer–outer pairs lie above it",
        "below": "the outer–outer pairs lie below it too",
        "at": "the outer–outer pairs do not differ from it",
    }[out]
    if mid == "below":
        return (
            f"the middle–middle pairs lie below the prompt-shuffle null "
            f"({_f(shuffle.middle.value, 4)} nats: they lose more synergy to shared drive than "
            f"any synergy adds) and {outer}"
        )
    if mid == "at":
        return (
            f"the middle–middle pairs' synergy does not differ from the prompt-shuffle null "
            f"and {outer}"
        )
    return (
        "the middle–middle pairs carry synergy beyond the null, but no more than outer–outer "
        "pairs of the same persistence and redundancy"
    )


def verdict_reason(
    evidence: CoreEvidence, reference: float = REFERENCE_EFFECT_NATS
) -> tuple[str, str]:
    """``(verdict, reason)`` of :data:`CORE_RULE` from the stored numbers."""
    alpha = evidence.alpha
    if not evidence.n_surrogates >= MIN_SURROGATES:
        return INCONCLUSIVE, f"fewer than {MIN_SURROGATES} surrogates: no usable null"
    if set(evidence.blocks) != {"circular", "shuffle"}:
        return INCONCLUSIVE, "the block statistic needs both nulls (circular and prompt shuffle)"
    blocks = [evidence.blocks["circular"], evidence.blocks["shuffle"]]
    circular, shuffle = blocks
    adjusted = [b.adjusted_contrast for b in blocks]
    if not all(_ok(a.ci_low, a.ci_high, b.mde) for a, b in zip(adjusted, blocks, strict=True)):
        return INCONCLUSIVE, "an adjusted contrast or its interval is undefined"
    mde = minimum_detectable_effect(evidence)
    above = [a.ci_low > 0 and finite(a.p) and a.p < alpha for a in adjusted]
    middle_above = finite(shuffle.middle.ci_low) and shuffle.middle.ci_low > 0
    dominant = finite(shuffle.dominance.ci_low) and shuffle.dominance.ci_low > 0
    size = f"{_f(shuffle.adjusted_contrast.value, 4)} nats per pair under the prompt-shuffle null"
    if all(above) and middle_above and not dominant:
        return INCONCLUSIVE, (
            f"the adjusted contrast is above 0 under both nulls ({size}), but the middle pairs' "
            "synergy beyond the null is not shown to exceed their redundancy beyond it (a "
            "shared, redundant signal can raise sts)"
        )
    if all(above) and middle_above:
        reliability = circular.reliability
        if finite(reliability) and reliability >= RELIABILITY_GATE:
            return SUPPORTED, (
                f"a middle–middle pair carries more synergy beyond either null than an "
                f"outer–outer pair of the same persistence and redundancy ({size}), and the "
                "middle pairs' synergy lies above the prompt-shuffle null"
            )
        return INCONCLUSIVE, (
            f"the adjusted contrast is above 0 under both nulls ({size}), but the heads' "
            f"synergy is not reproducible across prompt halves (split-half reliability "
            f"{_f(reliability, 2)} < {RELIABILITY_GATE:g})"
        )
    if any(above) and middle_above:
        which = "circular-shift" if above[0] else "prompt-shuffle"
        return INCONCLUSIVE, (
            f"the nulls disagree: only the {which} null puts the adjusted contrast above 0"
        )
    reversed_ = all(
        _ok(b.raw_contrast.ci_high, b.outer.ci_low)
        and b.raw_contrast.ci_high < 0
        and b.outer.ci_low > 0
        for b in blocks
    )
    if reversed_:
        return NOT_SUPPORTED, (
            "the outer layers carry more synergy beyond the null than the middle (outer–outer "
            "pairs above both nulls and above the middle–middle pairs)"
        )
    excluded = all(a.ci_high < b.mde for a, b in zip(adjusted, blocks, strict=True))
    if excluded and mde <= reference:
        return NOT_SUPPORTED, (
            f"no middle-layer core of {_f(mde, 4)} nats per pair or more (80 % power; the "
            f"adjusted contrast is {size}); {_observed(shuffle)}"
        )
    if excluded:
        return INCONCLUSIVE, (
            f"power is short: the smallest core this study could detect (80 % power) is "
            f"{_f(mde, 4)} nats per pair, above the {reference:g} nats the rule must be able "
            f"to see; {_observed(shuffle)}"
        )
    if all(above):
        return INCONCLUSIVE, (
            "middle–middle pairs beat outer pairs of the same persistence and redundancy, but "
            "their synergy is not above the prompt-shuffle null (the contrast may be a smaller "
            "loss to shared drive, not synergy)"
        )
    return INCONCLUSIVE, (
        f"the intervals neither establish a core nor exclude one of {_f(mde, 4)} nats per pair"
    )


def core_verdict(evidence: CoreEvidence, reference: float = REFERENCE_EFFECT_NATS) -> str:
    """The claim-1 verdict from stored numbers (see :data:`CORE_RULE`)."""
    return verdict_reason(evidence, reference)[0]


def judge(evidence: CoreEvidence, reference: float = REFERENCE_EFFECT_NATS) -> CoreAssessment:
    """The :class:`~synergy_utils.summary.CoreAssessment` of stored numbers."""
    verdict, reason = verdict_reason(evidence, reference)
    return CoreAssessment(verdict, reason, CORE_RULE, evidence, float(reference))


def assess_core(
    values: Any,
    *,
    redundancy: str = "mmi",
    tau: int = 1,
    n_surrogates: int | None = None,
    n_shuffles: int | None = None,
    n_derangements: int | None = None,
    seed: int = 0,
    ci_level: float = 0.95,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    progress: bool = False,
    reference: float = REFERENCE_EFFECT_NATS,
) -> CoreAssessment:
    """Judge claim 1 on head series ``values`` (a ``HeadSeries`` or an array (prompt, step,
    layer, head)) under one redundancy function (``"mmi"`` or ``"ccs"``).

    Null-corrects sts, rtr and Φ_WMS of every pair with ``n_surrogates`` circular-shift
    surrogates (default 200; ``n_shuffles`` is the older name of the same number) and sts and
    rtr with ``n_derangements`` prompt derangements (default: all ``P - 1``), computes the
    block statistic under both (bootstraps over prompts: ``n_bootstrap``, ``ci_level``) and
    applies :func:`core_verdict`. Returns the verdict, its reason and every number behind it
    (``.evidence``; the minimum detectable effect is
    :func:`minimum_detectable_effect` of it).
    """
    from ...stages.core_null import claim_nulls, core_evidence

    if n_surrogates is not None and n_shuffles is not None and n_surrogates != n_shuffles:
        raise ValueError("give n_surrogates or its older name n_shuffles, not both")
    k = n_surrogates if n_surrogates is not None else (n_shuffles or 200)
    circular, shuffle, persistence = claim_nulls(
        values, redundancy=redundancy, tau=tau, n_surrogates=k,
        n_derangements=n_derangements, alpha=alpha, seed=seed, progress=progress,
    )  # fmt: skip
    evidence = core_evidence(
        circular, shuffle=shuffle, persistence=persistence, ci_level=ci_level,
        n_bootstrap=n_bootstrap, seed=seed,
    )  # fmt: skip
    return judge(evidence, reference)


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------


def _f(x: Any, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}" if finite(x) else "n/a"


def _p(x: Any) -> str:
    if not finite(x):
        return "n/a"
    return f"{x:.3f}" if x >= 0.001 else f"{x:.1e}"


def _est(test: Test | None, pct: str, units: str = "nats") -> str:
    if test is None:
        return "n/a"
    return (
        f"{_f(test.value)} {units} ({pct} CI {_f(test.ci_low)} to {_f(test.ci_high)}; "
        f"sign-flip p over prompts = {_p(test.p)})"
    )


def _block_est(test: Test, pct: str) -> str:
    return (
        f"{_f(test.value, 4)} nats ({pct} CI {_f(test.ci_low, 4)} to {_f(test.ci_high, 4)}; "
        f"one-sided p = {_p(test.p)} from the bootstrap standard error)"
    )


def _block_sentence(block: BlockTest, pct: str) -> str:
    label = {"circular": "circular-shift", "shuffle": "prompt-shuffle"}.get(block.null, block.null)
    return (
        f"Against the {label} null, the adjusted contrast is "
        f"{_block_est(block.adjusted_contrast, pct)} per pair (standard error "
        f"{_f(block.se, 4)}; smallest core detectable with "
        f"{100 * block.power:.0f} % power: {_f(block.mde, 4)} nats per pair); raw, the "
        f"{block.n_middle_pairs} middle–middle pairs carry {_f(block.middle.value, 4)} and the "
        f"{block.n_outer_pairs} outer–outer pairs {_f(block.outer.value, 4)} nats beyond it; "
        f"split-half reliability of the heads' synergy {_f(block.reliability, 2)}, Spearman "
        f"correlation with their persistence {_f(block.persistence_corr, 2)}."
    )


def core_paragraph(assessment: CoreAssessment) -> str:
    """The claim-1 verdict in plain words: the block statistic under both nulls with its
    interval and minimum detectable effect, the reliability, and the older numbers beside."""
    ev = assessment.evidence
    pct = f"{100 * ev.ci_level:.0f}%"
    parts = [
        f"Claim 1 (a synergistic core in the middle layers) is *{assessment.verdict}* "
        f"under {ev.redundancy.upper()} redundancy: {assessment.reason}."
    ]
    parts += [_block_sentence(ev.blocks[name], pct) for name in ("shuffle", "circular")
              if name in ev.blocks]  # fmt: skip
    parts.append(
        f"Beside the rule: head partner means (each head's Δsts averaged over all its partners, "
        f"circular-shift null of {ev.n_surrogates} surrogates) give {_est(ev.middle, pct)} in "
        f"the middle third and {_est(ev.outer, pct)} in the outer thirds; "
        f"{ev.n_significant_pairs} of {ev.n_pairs} pairs have synergy significantly above "
        f"their null (Benjamini–Hochberg, q ≤ {ev.alpha:g})."
    )
    raw = ev.raw_inverted_u
    if raw is not None:
        parts.append(
            "Reported beside the verdict and not used by it: the raw rank-gradient profile "
            f"(rank(sts) − rank(rtr)) has an inverted-U statistic of {_f(raw.observed, 2)} "
            f"against a null mean of {_f(raw.null_mean, 2)} from the same surrogates "
            f"(p = {_p(raw.p)}); that statistic rewards low redundancy as much as high synergy, "
            "and under MMI it rewards persistence, so it can beat its null without any synergy."
        )
    return " ".join(parts)


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


#: The one claim interface (:data:`synergy_utils.report.claims.CLAIMS`): claim 1.
assess = assess_core
paragraph = core_paragraph
