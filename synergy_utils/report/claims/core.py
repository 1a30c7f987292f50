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

import numpy as np

from ...summary import (
    INCONCLUSIVE,
    MISSING,
    NOT_SUPPORTED,
    SUPPORTED,
    CoreAssessment,
    CoreEvidence,
    Graphs,
    Test,
)
from ..verdicts import finite

#: Mean Δsts (nats) below which null-corrected synergy counts as negligible: about the size
#: of the estimator's own artefacts at T = 100 (white noise gives sts ≈ 0.003 nats).
NEGLIGIBLE_NATS = 0.005
#: Fewest surrogates with which a null p-value can fall below 0.05.
MIN_SURROGATES = 19

#: The claim-1 rule in words (shown beside every verdict).
CORE_RULE = (
    "Supported: the middle-third heads' mean null-corrected synergy (Δsts: sts minus its "
    "circular-shift null, per pair, averaged over partners) is more than negligible (its "
    "bootstrap interval over prompts lies above the negligible size, and the sign-flip p over "
    "prompts < alpha), it is larger than the outer-third heads' (interval of the difference "
    "above 0, p < alpha), and it exceeds the middle heads' null-corrected redundancy "
    "(interval of Δsts − Δrtr above 0). Not supported: the contrast's interval lies below 0, "
    "or the middle Δsts interval lies below the negligible size while the middle layers hold "
    "no larger share of significant pairs than the outer layers. Inconclusive: anything else "
    "(including too few surrogates for a null)."
)


def _ok(*values: Any) -> bool:
    return all(finite(v) for v in values)


def verdict_reason(evidence: CoreEvidence, negligible: float = NEGLIGIBLE_NATS) -> tuple[str, str]:
    """``(verdict, reason)`` of :data:`CORE_RULE` from the stored numbers."""
    alpha = evidence.alpha
    mid, con, dom = evidence.middle, evidence.contrast, evidence.dominance
    if not evidence.n_surrogates >= MIN_SURROGATES:
        return INCONCLUSIVE, f"fewer than {MIN_SURROGATES} surrogates: no usable null"
    if not _ok(mid.ci_low, mid.ci_high, con.ci_low, con.ci_high):
        return INCONCLUSIVE, "the middle or contrast interval is undefined"
    beyond = _ok(mid.p, con.p) and mid.p < alpha and con.p < alpha
    if mid.ci_low > negligible and con.ci_low > 0 and beyond:
        if dom is not None and finite(dom.ci_low) and dom.ci_low > 0:
            return SUPPORTED, (
                f"middle-layer synergy beyond the null is above {negligible:g} nats, larger "
                "than in the outer layers, and larger than the middle layers' redundancy "
                "beyond the null"
            )
        return INCONCLUSIVE, (
            f"middle-layer synergy beyond the null is above {negligible:g} nats and larger "
            "than in the outer layers, but not shown to exceed the middle layers' redundancy "
            "beyond the null (a shared, redundant signal can raise sts)"
        )
    if con.ci_high < 0:
        return NOT_SUPPORTED, "the outer layers carry more synergy beyond the null than the middle"
    shares = (evidence.middle_share, evidence.outer_share)
    if mid.ci_high < negligible and not (_ok(*shares) and shares[0] > shares[1]):
        return NOT_SUPPORTED, (
            f"the middle layers' synergy beyond the null is below {negligible:g} nats (the "
            "whole interval) and they hold no larger share of significant pairs than the outer "
            "layers"
        )
    return INCONCLUSIVE, "the intervals neither establish nor exclude a middle-layer excess"


def core_verdict(evidence: CoreEvidence, negligible: float = NEGLIGIBLE_NATS) -> str:
    """The claim-1 verdict from stored numbers (see :data:`CORE_RULE`)."""
    return verdict_reason(evidence, negligible)[0]


def judge(evidence: CoreEvidence, negligible: float = NEGLIGIBLE_NATS) -> CoreAssessment:
    """The :class:`~synergy_utils.summary.CoreAssessment` of stored numbers."""
    verdict, reason = verdict_reason(evidence, negligible)
    return CoreAssessment(verdict, reason, CORE_RULE, float(negligible), evidence)


def assess_core(
    values: Any,
    *,
    redundancy: str = "mmi",
    tau: int = 1,
    n_shuffles: int = 200,
    seed: int = 0,
    ci_level: float = 0.95,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    progress: bool = False,
    negligible: float = NEGLIGIBLE_NATS,
) -> CoreAssessment:
    """Judge claim 1 on head series ``values`` (a ``HeadSeries`` or an array (prompt, step,
    layer, head)) under one redundancy function (``"mmi"`` or ``"ccs"``).

    Null-corrects sts, rtr and Φ_WMS of every pair with ``n_shuffles`` circular-shift
    surrogates (offsets drawn from ``seed``), summarises them by depth with bootstraps over
    prompts (``n_bootstrap``, ``ci_level``) and applies :func:`core_verdict`. Returns the
    verdict, its reason and every number behind it (``.evidence``).
    """
    from ...stages.core_null import RULE_QUANTITIES, core_evidence
    from ...stats.pair_null import null_corrected_atoms

    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    nulls = null_corrected_atoms(
        array,
        atoms=RULE_QUANTITIES,
        redundancy=redundancy,
        tau=tau,
        n_surrogates=n_shuffles,
        alpha=alpha,
        seed=seed,
        progress=progress,
    )
    evidence = core_evidence(nulls, ci_level=ci_level, n_bootstrap=n_bootstrap, seed=seed)
    return judge(evidence, negligible)


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


def core_paragraph(assessment: CoreAssessment) -> str:
    """The claim-1 verdict in plain words: the comparisons behind it with their intervals,
    equivalence only where an interval shows it, and the raw rank-gradient statistic beside."""
    ev, negligible = assessment.evidence, assessment.negligible
    pct = f"{100 * ev.ci_level:.0f}%"
    parts = [
        f"Claim 1 (a synergistic core in the middle layers) is {assessment.verdict.upper()} "
        f"under {ev.redundancy.upper()} redundancy: {assessment.reason}.",
        f"Middle-third heads carry {_est(ev.middle, pct)} of synergy (sts) beyond a "
        f"circular-shift null of {ev.n_surrogates} surrogates per pair (each head's own "
        f"persistence kept exactly); outer-third heads carry {_est(ev.outer, pct)}; the "
        f"difference middle minus outer is {_est(ev.contrast, pct)}.",
    ]
    if ev.dominance is not None:
        parts.append(
            "Middle-layer synergy minus redundancy, both beyond the null, is "
            f"{_est(ev.dominance, pct)}."
        )
    mid = ev.middle
    if _ok(mid.ci_low, mid.ci_high) and -negligible < mid.ci_low and mid.ci_high < negligible:
        parts.append(
            f"The whole interval of the middle layers' value lies within ±{negligible:g} nats, "
            "the size we treat as negligible: equivalent to no excess synergy at that margin."
        )
    parts.append(
        f"{ev.n_significant_pairs} of {ev.n_pairs} pairs have synergy significantly above their "
        f"null (Benjamini–Hochberg, q ≤ {ev.alpha:g}); the share of significant (head, partner) "
        f"pairs is {_f(ev.middle_share)} in the middle third and {_f(ev.outer_share)} in the "
        "outer thirds."
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
