"""Claim 3, a phase transition with task difficulty: the rule and its wording.

:func:`transition_verdict` reads one order parameter's sweep statistics
(:func:`synergy_utils.stats.fits.transition_statistics`, via
:func:`synergy_utils.stages.phase.analyse_sweep`) and returns a three-way finding:
"transition", "smooth drift" or "no change" (or "not testable" without enough data).
:func:`overall_finding` combines the families' findings into the claim's verdict word, and
:func:`phase_verdict` gives the landing page the same word from a stored ``phase`` section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ...stats.resampling import CI_LEVEL
from ..verdicts import INCONCLUSIVE, MISSING, NOT_SUPPORTED, SUPPORTED

#: A model must beat another by more than this many BIC units ("strong" evidence on the
#: Kass-Raftery scale).
DELTA_BIC_THRESHOLD = 6.0
#: The logistic must also be the BIC-best model in at least this share of bootstrap
#: resamples (a preference that survives resampling the prompts).
MIN_LOGISTIC_SHARE = 0.5
#: |z| of the observed jump against the null sweeps' jumps (two-sided 5 %).
NULL_Z = 1.96
TRANSITION, DRIFT, NO_CHANGE, NOT_TESTABLE = (
    "transition",
    "smooth drift",
    "no change",
    "not testable",
)
FINDINGS: tuple[str, ...] = (TRANSITION, DRIFT, NO_CHANGE)
#: Readable names of the rule's criteria, numbered as in :data:`TRANSITION_RULE`.
CRITERIA_LABELS: dict[str, str] = {
    "sigmoid_preferred": "(1) logistic beats line and flat by ΔBIC, and in most resamples",
    "midpoint_inside": "(2) midpoint CI inside the tested range",
    "jump_beyond_null": "(3) jump beyond the null sweeps' jumps",
    "susceptibility_peak": "(4) susceptibility peak at the midpoint",
    "flat_rejected": "(a) line or logistic beats flat by ΔBIC",
    "change_beyond_null": "(b) change beyond the null sweeps' changes",
}
FAMILY_RULE = (
    "Per task family, on one order parameter against difficulty (every prompt's value; the "
    "null is the same statistic computed with each circular-shift surrogate in place of the "
    "observed series, one null sweep per surrogate, fitted exactly like the observed sweep). "
    "A transition needs all four of: (1) a logistic curve beats both a straight line and a "
    f"flat line by ΔBIC > {DELTA_BIC_THRESHOLD:g} and is the BIC-best model in at least "
    f"{MIN_LOGISTIC_SHARE:.0%} of bootstrap resamples (prompts resampled within levels); (2) "
    f"the {CI_LEVEL:.0%} bootstrap CI of its midpoint lies inside the tested range; (3) its "
    "jump (the fitted change from the first to the last level) lies outside the central "
    f"{CI_LEVEL:.0%} of the null sweeps' jumps (|z| > {NULL_Z:g}) and its excess over the "
    f"null-mean sweep's jump has a {CI_LEVEL:.0%} bootstrap CI that excludes 0; (4) the "
    "across-prompt variance (susceptibility) at the two levels bracketing the midpoint "
    "exceeds that at the two end levels (bootstrap CI of the ratio above 1, the bracketing "
    "levels not being end levels), and the interval of the peak's level overlaps the "
    "midpoint's CI. Otherwise the finding is a smooth drift if (a) a line or a logistic beats "
    f"the flat line by ΔBIC > {DELTA_BIC_THRESHOLD:g} and (b) the line's change passes the "
    "null test of (3); else no change."
)
#: The family rule with the combination used before the power check (sections without one).
TRANSITION_RULE = (
    FAMILY_RULE + " Across families, claim 3 is supported when more than half of the testable "
    "families show a transition, inconclusive when some but not most do, and not supported "
    "when none does."
)


def _criterion(passed: bool, **numbers: Any) -> dict[str, Any]:
    return {"passed": bool(passed), **numbers}


def _finite(*values: Any) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def _excludes_zero(ci: Sequence[float]) -> bool:
    return _finite(*ci) and (ci[0] > 0 or ci[1] < 0)


def _null_criterion(null: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """The observed ``key`` ("jump" or "change") against the null sweeps."""
    if null is None:
        return _criterion(False, note="no null computed")
    z = null[key]["z"]
    excess = null[f"excess_{key}_ci"]
    return _criterion(
        _finite(z) and abs(z) > NULL_Z and _excludes_zero(excess),
        z=z,
        threshold=NULL_Z,
        null_mean=null[key]["mean"],
        null_sd=null[key]["sd"],
        excess_ci=list(excess),
        n_sweeps=null["n_sweeps"],
    )


def _sigmoid_criterion(models: Mapping[str, Any], share: float) -> dict[str, Any]:
    gaps = models["delta_bic"]
    passed = (
        gaps["line_minus_logistic"] > DELTA_BIC_THRESHOLD
        and gaps["flat_minus_logistic"] > DELTA_BIC_THRESHOLD
        and share >= MIN_LOGISTIC_SHARE
    )
    return _criterion(
        passed,
        delta_bic_line=gaps["line_minus_logistic"],
        delta_bic_flat=gaps["flat_minus_logistic"],
        threshold=DELTA_BIC_THRESHOLD,
        logistic_share=share,
    )


def _peak_criterion(chi: Mapping[str, Any], midpoint_ci: Sequence[float]) -> dict[str, Any]:
    ratio_ci, peak_ci = chi["ratio_ci"], chi["peak_level_ci"]
    overlaps = _finite(*peak_ci, *midpoint_ci) and not (
        peak_ci[1] < midpoint_ci[0] or peak_ci[0] > midpoint_ci[1]
    )
    return _criterion(
        _finite(*ratio_ci) and ratio_ci[0] > 1 and overlaps,
        ratio=chi["ratio"],
        ratio_ci=list(ratio_ci),
        near_levels=chi["near_levels"],
        peak_level=chi["peak_level"],
        peak_level_ci=list(peak_ci),
    )


def transition_verdict(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """Claim 3 for one family and order parameter: apply :data:`TRANSITION_RULE`.

    ``analysis`` is :func:`synergy_utils.stages.phase.analyse_sweep`'s result (or
    :func:`synergy_utils.stats.fits.transition_statistics`'s). Returns ``finding`` (one of
    :data:`FINDINGS`, or "not testable"), ``supported`` (a transition), ``criteria`` (each
    with ``passed`` and its numbers: four for a transition, two for a drift),
    ``critical_difficulty`` ({value, ci} for a transition, else None) and the ``rule``.
    """
    if not analysis.get("testable"):
        return {
            "finding": NOT_TESTABLE,
            "supported": False,
            "criteria": {},
            "critical_difficulty": None,
            "rule": TRANSITION_RULE,
            "reason": analysis.get("reason", "no data"),
        }
    levels = analysis["levels"]
    models, boot = analysis["models"], analysis["bootstrap"]
    mid_ci = boot["midpoint_ci"]
    mid = models["logistic"]["midpoint"]
    criteria = {
        "sigmoid_preferred": _sigmoid_criterion(models, boot["best_share"]["logistic"]),
        "midpoint_inside": _criterion(
            _finite(*mid_ci) and levels[0] <= mid_ci[0] and mid_ci[1] <= levels[-1],
            midpoint=mid,
            ci=list(mid_ci),
            tested_range=[levels[0], levels[-1]],
        ),
        "jump_beyond_null": {**_null_criterion(analysis["null"], "jump"), "jump": models["jump"]},
        "susceptibility_peak": _peak_criterion(analysis["susceptibility"], mid_ci),
    }
    gaps = models["delta_bic"]
    best_gap = max(gaps["flat_minus_line"], gaps["flat_minus_logistic"])
    drift = {
        "flat_rejected": _criterion(
            best_gap > DELTA_BIC_THRESHOLD, delta_bic=best_gap, threshold=DELTA_BIC_THRESHOLD
        ),
        "change_beyond_null": {
            **_null_criterion(analysis["null"], "change"),
            "change": models["change"],
        },
    }
    if all(c["passed"] for c in criteria.values()):
        finding = TRANSITION
    elif all(c["passed"] for c in drift.values()):
        finding = DRIFT
    else:
        finding = NO_CHANGE
    return {
        "finding": finding,
        "supported": finding == TRANSITION,
        "criteria": {**criteria, **drift},
        "critical_difficulty": {"value": mid, "ci": list(mid_ci)}
        if finding == TRANSITION
        else None,
        "rule": TRANSITION_RULE,
    }


def overall_finding(findings: Mapping[str, str]) -> dict[str, Any]:
    """Claim 3 across families: ``finding`` ("transition", "mixed", "smooth drift", "no
    change" or "not testable"), the verdict word (supported / inconclusive / not supported /
    not run) and ``supported``; counts per finding in ``counts``."""
    tested = {f: v for f, v in findings.items() if v in FINDINGS}
    counts = {v: sum(1 for x in tested.values() if x == v) for v in FINDINGS}
    if not tested:
        finding, verdict = NOT_TESTABLE, MISSING
    elif 2 * counts[TRANSITION] > len(tested):
        finding, verdict = TRANSITION, SUPPORTED
    elif counts[TRANSITION]:
        finding, verdict = "mixed", INCONCLUSIVE
    elif counts[DRIFT]:
        finding, verdict = DRIFT, NOT_SUPPORTED
    else:
        finding, verdict = NO_CHANGE, NOT_SUPPORTED
    return {
        "finding": finding,
        "verdict": verdict,
        "supported": verdict == SUPPORTED,
        "counts": counts,
        "n_tested": len(tested),
    }


def phase_verdict(phase: Any) -> str:
    """The claim-3 verdict word of a stored ``phase`` section (:class:`~synergy_utils.summary.
    Phase`), recomputed with :func:`overall_finding` from its families' findings; "not run"
    for None."""
    if phase is None:
        return MISSING
    return family_verdict(phase.family_results)["verdict"]


def family_verdict(family_results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Claim 3 across families: :func:`~synergy_utils.report.claims.transition_power.
    power_verdict` when every family carries its power check, else :func:`overall_finding`
    of the findings (sections written before the power check existed)."""
    from .transition_power import power_verdict

    if family_results and all(r.get("power") for r in family_results.values()):
        return power_verdict(family_results)
    return overall_finding({n: r.get("finding", "") for n, r in family_results.items()})


# --- wording --------------------------------------------------------------------------------

WINDOW_NAMES = {"answer_span": "answer span", "fixed_window": "fixed window"}


def _num(x: Any, digits: int = 2) -> str:
    return f"{float(x):.{digits}f}" if _finite(x) else "n/a"


def _ci(ci: Sequence[Any], digits: int = 2) -> str:
    return f"[{_num(ci[0], digits)}, {_num(ci[1], digits)}]"


def _pct(level: Mapping[str, Any]) -> str:
    if not _finite(level["mean"]):
        return "n/a"
    lo, hi = level["ci"]
    return f"{100 * level['mean']:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]"


def analysis_sentence(result: Mapping[str, Any]) -> str:
    """The finding of one stored analysis (``compact_analysis``) with the numbers behind it."""
    if not result.get("testable"):
        return f"not testable ({result.get('reason', 'no data')})"
    c = result["criteria"]
    sig, mid, jump = c["sigmoid_preferred"], c["midpoint_inside"], c["jump_beyond_null"]
    chi = c["susceptibility_peak"]
    text = (
        f"**{result['finding']}** (ΔBIC line − logistic {_num(sig['delta_bic_line'], 1)}, "
        f"flat − logistic {_num(sig['delta_bic_flat'], 1)}, logistic best in "
        f"{100 * sig['logistic_share']:.0f} % of resamples; midpoint {_num(mid['midpoint'])} "
        f"{_ci(mid['ci'])}; jump {_num(jump['jump'], 4)}"
    )
    if "z" in jump:
        text += f", z = {_num(jump['z'], 1)} against the null sweeps' jumps"
    text += f"; susceptibility ratio {_num(chi['ratio'])} {_ci(chi['ratio_ci'])})"
    return text


def _family_sentence(name: str, res: Mapping[str, Any], window: str, order: str) -> str:
    levels = [f"{v:g}" for v in res["difficulty"]]
    acc, span = res["accuracy"], res["span_length"]["mean"]
    parts = [
        f"**{name}** (levels {', '.join(levels)}; {res['n_per_level']} prompts each): "
        f"accuracy {_pct(acc[0])} at level {levels[0]} and {_pct(acc[-1])} at level "
        f"{levels[-1]}; mean answer span {_num(span[0], 1)} steps at the easiest level and "
        f"{_num(span[-1], 1)} at the hardest."
    ]
    analyses = res["analyses"]
    for w in (window, *[x for x in analyses if x != window]):
        if order in analyses.get(w, {}):
            parts.append(
                f"{WINDOW_NAMES.get(w, w).capitalize()}: {analysis_sentence(analyses[w][order])}."
            )
    raw = [
        f"{WINDOW_NAMES.get(w, w)} {by_name[k]['finding']}"
        for w, by_name in analyses.items()
        for k in by_name
        if k != order
    ]
    if raw:
        parts.append("Raw order parameter: " + ", ".join(raw) + ".")
    return " ".join(parts)


def transition_paragraph(summary: Mapping[str, Any]) -> str:
    """Paragraphs stating the claim-3 verdict with its numbers, from a ``phase`` section
    (:func:`synergy_utils.stages.phase.phase_summary`)."""
    window, order = summary["verdict_window"], summary["order_parameter_name"]
    families = summary["family_results"]
    lines = [
        f"Claim 3 was tested on {len(families)} task "
        f"{'family' if len(families) == 1 else 'families'} ({', '.join(families)}), each on a "
        "difficulty grid calibrated to the model's accuracy. The verdict reads the "
        f"{WINDOW_NAMES.get(window, window)} and the null-corrected order parameter "
        f"({summary['order_parameter_definition']}); the other window and the raw order "
        "parameter are reported beside it."
    ]
    lines += [_family_sentence(name, res, window, order) for name, res in families.items()]
    lines += [_power_sentence(name, res["power"]) for name, res in families.items()
              if res.get("power")]  # fmt: skip
    overall = family_verdict(families)
    counts = ", ".join(f"{v}: {n}" for v, n in overall["counts"].items())
    because = f": {overall['reason']}" if overall.get("reason") else ""
    lines.append(
        f"**Verdict: claim 3 is {overall['verdict']}**{because} (finding across families: "
        f"{overall['finding']}; {counts}). A smooth drift, or no change, is a finding about this "
        "model only where the sweep had the power to show a transition."
    )
    rnd = summary.get("random_model")
    if rnd:
        found = []
        for name, res in rnd.items():
            w = next(iter(res["analyses"]))
            found.append(f"{name} {res['analyses'][w][order]['finding']}")
        lines.append(
            "The randomised model (each weight plus N(0, 10²) noise), judged against its own "
            f"null on the {WINDOW_NAMES.get(w, w)}: " + "; ".join(found) + "."
        )
    return "\n\n".join(lines)


def _power_sentence(name: str, power: Mapping[str, Any]) -> str:
    check = power.get("testability") or {}
    if not check.get("testable"):
        return f"*{name}* is not testable: {'; '.join(check.get('reasons', []))}."
    smallest = power.get("smallest_step_sd", float("nan"))
    seen = (
        f"the smallest step it finds with 80 % power is {smallest:.1f} SDs"
        if math.isfinite(smallest)
        else "no planted step up to 8 SDs reaches 80 % power"
    )
    return (
        f"*{name}* is testable; against steps planted on its own design and spread "
        f"(SD {_num(power.get('spread'), 4)}), the rule finds a step of "
        f"{power.get('stated_step_sd', float('nan')):g} SDs in "
        f"{100 * power.get('power', float('nan')):.0f} % of seeds, {seen}, and calls a transition "
        f"in {100 * power.get('false_transition', float('nan')):.0f} % of sweeps without one."
    )
