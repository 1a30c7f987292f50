"""Claim 3, a phase transition with task difficulty: the rule and its wording."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...stats.resampling import CI_LEVEL
from ..verdicts import MISSING, NOT_SUPPORTED, SUPPORTED

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


def _fmt_ci(ci: Sequence[float], digits: int = 2) -> str:
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def transition_paragraph(summary: Mapping[str, Any]) -> str:
    """A paragraph stating the claim-3 verdict, numbers included, from a ``phase`` section
    (:func:`synergy_utils.stages.phase.phase_summary`)."""
    levels = summary["difficulty"]
    order, acc = summary["order_parameter"], summary["accuracy"]
    crit = summary["criteria"]
    lvl = [f"{v:g}" for v in levels]
    parts = [
        f"Task family **{summary['family']}**, difficulty levels {', '.join(lvl)} "
        f"({summary['n_per_level']} prompts each)."
    ]
    if all(a["mean"] is not None and math.isfinite(a["mean"]) for a in acc):
        parts.append(
            f"Accuracy went from {acc[0]['mean']:.0%} (95% CI {_fmt_ci(acc[0]['ci'], 2)}) at "
            f"level {lvl[0]} to {acc[-1]['mean']:.0%} ({_fmt_ci(acc[-1]['ci'], 2)}) at level "
            f"{lvl[-1]}."
        )
    else:
        parts.append("These prompts have no checkable answers, so accuracy is not reported.")
    parts.append(
        f"The order parameter ({summary['order_parameter_definition']}) was "
        f"{order[0]['mean']:.3f} {_fmt_ci(order[0]['ci'], 3)} at the easiest level and "
        f"{order[-1]['mean']:.3f} {_fmt_ci(order[-1]['ci'], 3)} at the hardest."
    )
    c1 = crit["sigmoid_beats_line"]
    parts.append(
        f"A logistic curve {'beat' if c1['passed'] else 'did not beat'} a straight line by "
        f"the rule's margin (ΔBIC = {c1['delta_bic']:.1f}; threshold {c1['threshold']:g})."
    )
    c2 = crit["jump_exceeds_null"]
    if c2.get("null_width") is None:
        parts.append(
            f"Its fitted change over the tested range was {c2['jump']:.3f}; "
            "no circular-shift null was computed, so the change is untested."
        )
    else:
        parts.append(
            f"Its fitted change over the tested range, {c2['jump']:.3f}, was "
            f"{'larger' if c2['passed'] else 'not larger'} than the width of the circular-shift "
            f"null band ({c2['null_width']:.3f})."
        )
    c3 = crit["midpoint_ci_in_range"]
    parts.append(
        f"The fitted midpoint was {c3['midpoint']:.2f} with 95% bootstrap CI "
        f"{_fmt_ci(c3['ci'])}, {'inside' if c3['passed'] else 'not inside'} the tested range "
        f"{lvl[0]}–{lvl[-1]}."
    )
    c4 = crit["susceptibility_peak_near_midpoint"]
    if c4.get("peak_level") is not None:
        if c4.get("within_one_level"):
            where = "within one level of the midpoint"
        elif c4.get("inside_midpoint_ci"):
            where = "inside the midpoint's CI"
        else:
            where = "away from the midpoint"
        parts.append(f"The susceptibility peaked at level {c4['peak_level']:g}, {where}.")
    if summary["transition_supported"]:
        cd = summary["critical_difficulty"]
        parts.append(
            f"**Verdict: the data support a transition**, at critical difficulty "
            f"{cd['value']:.2f} (95% CI {_fmt_ci(cd['ci'])})."
        )
    else:
        failed = [CRITERIA_LABELS.get(name, name) for name, c in crit.items() if not c["passed"]]
        parts.append(
            "**Verdict: no transition is supported** (failed: " + "; ".join(failed) + "); the "
            "order parameter's change with difficulty is reported as a drift or as no change, "
            "not as a phase transition."
        )
    rnd = summary.get("random_model")
    if rnd:
        parts.append(
            f"On the randomised model the order parameter changed by {rnd['jump']['value']:.3f} "
            f"across the same levels (ΔBIC = {rnd['delta_bic']:.1f}; transition "
            f"{'supported' if rnd['transition_supported'] else 'not supported'})."
        )
    return " ".join(parts)
