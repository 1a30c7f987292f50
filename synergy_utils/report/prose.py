"""The study's conclusions in plain words, built from the numbers and the verdict rules.

Every paragraph here is a pure function of stored numbers (a summary section or a result
dict) and of the rules in :mod:`synergy_utils.report.verdicts`, so the chapters and the
landing page always say the same thing, and tests can check the words change with the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..phiid import gaussian_self_information
from ..stages.extraction import head_persistence
from ..summary import Cores
from .verdicts import (
    ALPHA,
    CRITERIA_LABELS,
    NOT_SUPPORTED,
    SUPPORTED,
    core_verdict,
    finite,
    ratio_finding,
    reliability_reading,
    untrained_estimates,
)


def _fmt(x: Any, digits: int = 2) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


# --------------------------------------------------------------------------------------
# Claim 1
# --------------------------------------------------------------------------------------


def core_paragraph(cores: Cores, alpha: float = ALPHA) -> str:
    """A plain-words paragraph on whether the inverted U holds, built from the ``cores``
    section with the claim-1 rule :func:`~synergy_utils.report.verdicts.core_verdict`."""
    verdict = core_verdict(cores, alpha)
    sentences = [_core_headline(cores, verdict)]
    sentences += _core_null_sentences(cores)
    sentences += _core_control_sentences(cores, verdict)
    return " ".join(s for s in sentences if s)


def _core_headline(cores: Cores, verdict: str) -> str:
    inv = cores.inverted_u
    level = int(round(100 * float(cores.ci_level)))
    where = f"On {cores.model or 'this model'}, with " + (
        f"{cores.n_prompts} prompts and " if cores.n_prompts else ""
    )
    where += f"the {cores.method} gradient"
    value, lo, hi = inv.value, inv.ci_low, inv.ci_high
    direction = "below" if finite(value) and float(value) < 0 else "above"
    magnitude = abs(float(value)) if finite(value) else value
    shape = (
        f"the middle third of the layers scores {_fmt(magnitude)} {direction} the outer thirds "
        f"on the [0, 1]-scaled layer profile (statistic {_fmt(value)}, {level} % bootstrap "
        f"interval {_fmt(lo)} to {_fmt(hi)})"
    )
    p_null = cores.null.p_value if cores.null else None
    null_mean = cores.null.mean.value if cores.null else None
    null_text = (
        "the circular-shift null, which keeps each head's autocorrelation but breaks the timing "
        "between heads, "
        + (f"reaches {_fmt(null_mean)} on average, " if finite(null_mean) else "")
        + f"p = {_fmt(p_null, 3)}"
        if finite(p_null)
        else "no circular-shift null was run"
    )
    if verdict == SUPPORTED:
        return f"{where}, the claimed inverted U is supported: {shape}, and {null_text}."
    if finite(lo) and finite(hi) and float(hi) < 0:
        reason = "the middle layers score *lower* than the outer ones, a U rather than an ∩"
    elif not (finite(lo) and float(lo) > 0):
        reason = "the interval includes zero, so the data cannot tell an inverted U from none"
    elif not finite(p_null):
        reason = (
            "the shape is there (the interval excludes zero), but without a null it cannot be "
            "told from what each head's own dynamics produce"
        )
    else:
        reason = (
            "the shape is there (the interval excludes zero), but it does not beat the null in "
            "which the timing between heads is destroyed, so each head's own dynamics (chiefly "
            "its autocorrelation) can produce it"
        )
    word = "not supported" if verdict == NOT_SUPPORTED else "inconclusive"
    return f"{where}, the claimed inverted U is {word}: {shape}; {reason} ({null_text})."


def _core_null_sentences(cores: Cores) -> list[str]:
    sentences = []
    other = cores.other_method
    if finite(other.inverted_u.value):
        text = (
            f"The {other.method} gradient gives {_fmt(other.inverted_u.value)} "
            f"(interval {_fmt(other.inverted_u.ci_low)} to {_fmt(other.inverted_u.ci_high)}"
        )
        if finite(other.null_p_value):
            if finite(other.null_mean):
                text += f"; the same null alone reaches {_fmt(other.null_mean)} on average"
            text += f", p = {_fmt(other.null_p_value, 3)}"
        sentences.append(text + ").")
    frac = cores.null.fraction_inside if cores.null else None
    if finite(frac):
        text = f"{_fmt(100 * float(frac), 0)} % of the layers lie inside the null band"
        if finite(cores.null.profile_corr):
            text += (
                f", and the mean null profile correlates r = {_fmt(cores.null.profile_corr)} "
                "with the observed one"
            )
        sentences.append(text + ".")
    curv = cores.curvature
    if finite(curv.value):
        if finite(curv.ci_high) and float(curv.ci_high) < 0:
            reading = "concave, ∩-shaped"
        elif finite(curv.ci_low) and float(curv.ci_low) > 0:
            reading = "convex, U-shaped"
        else:
            reading = "no clear curvature either way"
        sentences.append(
            f"A quadratic fit over depth gives curvature {_fmt(curv.value)} "
            f"(interval {_fmt(curv.ci_low)} to {_fmt(curv.ci_high)}): {reading}."
        )
    return sentences


def _core_control_sentences(cores: Cores, verdict: str) -> list[str]:
    sentences = []
    rho = cores.split_half.rho
    if finite(rho):
        sentences.append(
            f"Split-half reliability: {reliability_reading(rho)} (Spearman ρ = {_fmt(rho)})."
        )
    r = cores.syn_red.r
    if finite(r) and r > 0.3:
        sentences.append(
            f"Synergy and redundancy are positively correlated across heads (r = {_fmt(r)}), "
            "as independent reproductions found and unlike the negative relation in the "
            "brain, so part of the gradient ranks one shared factor twice."
        )
    elif finite(r) and r < -0.3:
        sentences.append(
            f"Synergy and redundancy are negatively correlated across heads (r = {_fmt(r)}), "
            "as in the brain."
        )
    elif finite(r):
        sentences.append(
            f"Synergy and redundancy are only weakly correlated across heads (r = {_fmt(r)})."
        )
    base = cores.baseline.pair_pearson
    if finite(base) and base > 0.7:
        sentences.append(
            f"Pair synergy closely follows the independent-series baseline 2·min(a_x, a_y) "
            f"(r = {_fmt(base)}): much of what MMI calls synergy here is each head's own "
            "autocorrelation."
        )
    elif finite(base):
        sentences.append(
            f"Pair synergy is only partly explained by the independent-series baseline "
            f"2·min(a_x, a_y) (r = {_fmt(base)})."
        )
    for name, est in untrained_estimates(cores).items():
        if not finite(est.value):
            continue
        rvalue = float(est.value)
        if verdict == SUPPORTED:
            similar = rvalue >= 0.5 * float(cores.inverted_u.value)
            tail = (
                ", so the shape owes at least as much to the architecture as to training"
                if similar
                else ", so the trained model's shape is not produced by the architecture alone"
            )
        else:
            tail = " (an untrained network can show such a shape too)" if rvalue > 0.2 else ""
        sentences.append(f"The {name} scores {_fmt(rvalue)} on the same statistic{tail}.")
    extras = [
        f"{label} {_fmt(summary.inverted_u.value)}"
        for summary, label in (
            (cores.tdmi_normalised, "TDMI-normalised atoms give"),
            (cores.discrete, "the binarised (discrete) estimator gives"),
        )
        if finite(summary.inverted_u.value)
    ]
    if extras:
        sentences.append("For comparison, " + " and ".join(extras) + ".")
    return sentences


# --------------------------------------------------------------------------------------
# Claim 3
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Claim 4
# --------------------------------------------------------------------------------------


def _fmt_ratio(d: Mapping[str, float]) -> str:
    return f"{d['value']:.2f} (95 % CI {d['ci_low']:.2f}–{d['ci_high']:.2f})"


def ablation_paragraph(summary: Mapping[str, Any]) -> str:
    """A paragraph stating whether the causal claim holds, from the ``ablation`` section
    (as :func:`synergy_utils.stages.ablation.ablation_summary` builds it)."""
    ratio = summary["auc_ratio_synergy_random"]
    finding = ratio_finding(ratio)
    pct = 100 * summary["fraction"]
    n_prompts = summary.get("n_prompts", "?")
    n_random = summary.get("n_random_orders", "?")
    parts = []
    head = (
        f"Removing up to {pct:.0f} % of the heads ({summary.get('n_heads_removed', '?')} of "
        f"{summary.get('n_total_heads', '?')}), the area under the KL(clean ‖ ablated) curve "
        f"for synergy-first removal is {_fmt_ratio(ratio)} times that of random removal "
        f"({n_prompts} prompts, {n_random} random orders)."
    )
    parts.append(head)
    if finding == "above":
        parts.append(
            "The confidence interval lies above 1: on this model, removing the most synergistic "
            "heads first disrupts the next-token distribution faster than removing random heads, "
            "as the causal claim predicts."
        )
    elif finding == "below":
        parts.append(
            "The confidence interval lies below 1: removing the most synergistic heads first "
            "disrupts the model *less* than random removal, the opposite of the causal claim."
        )
    elif finding == "includes":
        parts.append(
            "The confidence interval includes 1, so synergy-first removal cannot be told apart "
            "from random removal: on this model the causal claim is not supported. This null "
            "result is a finding, not a failure (independent reproductions reported ratios of "
            "0.9–1.1 on some models)."
        )
    else:
        parts.append("The ratio could not be estimated (no random orders or a zero area).")
    reverse = summary.get("reverse_auc_ratio_synergy_random")
    if reverse is not None:
        same = ratio_finding(reverse) == finding
        parts.append(
            f"The reverse divergence KL(ablated ‖ clean) gives {_fmt_ratio(reverse)}"
            + (
                ", the same conclusion."
                if same
                else ", a different conclusion, so the result "
                "depends on the direction of the divergence and should be read with care."
            )
        )
    red = summary.get("auc_ratio_redundancy_random")
    if red is not None and np.isfinite(red["value"]):
        meaning = {
            "above": ", more damaging than random removal",
            "below": ", less damaging than random removal",
            "includes": ", not distinguishable from random removal",
        }.get(ratio_finding(red), "")
        parts.append(f"Redundancy-first removal relative to random: {_fmt_ratio(red)}{meaning}.")
    parts.append(
        f"At {pct:.0f} % removed the mean KL(clean ‖ ablated) is "
        f"{summary['kl_synergy']:.3f} nats per token synergy-first, "
        f"{summary['kl_redundancy']:.3f} redundancy-first and "
        f"{summary['kl_random_mean']:.3f} ± {summary['kl_random_sd']:.3f} (sd over orders) "
        "for random orders."
    )
    parts.append(
        _accuracy_sentence(
            summary.get("accuracy") or [],
            summary.get("relative_noise_std"),
            float(summary["accuracy_fraction"]),
        )
    )
    if (isinstance(n_prompts, int) and n_prompts < 10) or (
        isinstance(n_random, int) and n_random < 3
    ):
        parts.append(
            f"With only {n_prompts} prompts and {n_random} random orders these intervals are "
            "wide and the run is a smoke test rather than a finding."
        )
    return " ".join(p for p in parts if p)


def _accuracy_sentence(
    rows: Sequence[Mapping[str, Any]], relative_std: float | None, fraction: float
) -> str:
    if not rows:
        return ""
    table = {(r["mode"], r["group"]): r for r in rows}
    intact = table.get(("none", "intact"))
    if intact is None:
        return ""
    text = (
        f"On the checkable tasks the intact model answers {100 * intact['accuracy']:.0f} % "
        f"correctly (Wilson 95 % CI {100 * intact['wilson_low']:.0f}–"
        f"{100 * intact['wilson_high']:.0f} %, {intact['n_tasks']} tasks)."
    )
    if intact["wilson_high"] < 0.15:
        return text + (
            " That is too close to zero for a drop to show, so the accuracy test is "
            "uninformative on this model and these tasks."
        )
    for mode in ("weights-noise", "zero"):
        syn, red, rnd = (table.get((mode, g)) for g in ("synergistic", "redundant", "random"))
        if syn is None or rnd is None:
            continue
        label = {"zero": "zeroing", "mean": "mean ablation", "noise": "output noise"}.get(
            mode, "weight noise"
        )
        if mode == "weights-noise" and relative_std is not None:
            label += f" (relative std {relative_std:g})"
        phrase = (
            f" With {label} on {100 * fraction:.0f} % of the heads: synergistic core "
            f"{100 * syn['accuracy']:.0f} %, random {100 * rnd['accuracy']:.0f} %"
            + (f", redundant core {100 * red['accuracy']:.0f} %" if red is not None else "")
            + "."
        )
        if syn["ci_high"] < rnd["ci_low"]:
            phrase += " Perturbing the synergistic core hurts more than random heads (CIs apart)."
        elif syn["ci_low"] > rnd["ci_high"]:
            phrase += " Perturbing the synergistic core hurts less than random heads (CIs apart)."
        else:
            phrase += (
                " The synergistic-core and random conditions overlap within their "
                "confidence intervals."
            )
        text += phrase
    return text


# --------------------------------------------------------------------------------------
# Other chapters
# --------------------------------------------------------------------------------------


def describe_extraction(series: Any) -> str:
    """A Markdown paragraph summarising a recording, built from its numbers."""
    meta = series.metadata
    rho_per_head = head_persistence(series)  # (layers, heads)
    median_rho = float(np.nanmedian(rho_per_head))
    share_persistent = float(np.nanmean(rho_per_head > 0.5))
    floor = 2 * float(gaussian_self_information(median_rho))
    layer_rho = np.nanmean(rho_per_head, axis=1)
    top_layer = int(np.nanargmax(layer_rho))
    n_tokens = series.n_prompts * series.n_steps
    speed = meta.get("tokens_per_second")
    speed_text = (
        f" at {speed:.1f} generated tokens per second" if isinstance(speed, (int, float)) else ""
    )
    stopped = meta.get("n_eos_stopped", 0)
    eos_text = (
        f" {stopped} prompt(s) stopped early at EOS; their series end in NaN."
        if stopped
        else " EOS was suppressed, so every series has the same length."
    )
    return (
        f"We recorded **{series.n_layers} layers × {series.n_heads} heads = "
        f"{series.n_layers * series.n_heads} head series** (reduction `{meta.get('reduction')}`)"
        f" for **{series.n_prompts} prompts × {series.n_steps} generated tokens** "
        f"({n_tokens} steps in all) from `{meta.get('model')}`{speed_text}.{eos_text} "
        f"The median head has a lag-1 autocorrelation of **{median_rho:.2f}** (averaged over "
        f"prompts), and {100 * share_persistent:.0f}% of heads exceed 0.5; layer {top_layer} "
        f"is the most persistent (mean {layer_rho[top_layer]:.2f}). Under the Gaussian MMI "
        f"estimator, two *independent* series with the median autocorrelation would already "
        f"show a synergy of about **{floor:.3f} nats** (2 × the lag-1 "
        f"self-information), so synergy values must be read against this floor."
    )


def pitfall_sentence(
    phi: float, sts_estimate: float, prediction: float, units: str = "nats"
) -> str:
    """One sentence reporting the MMI autocorrelation artefact for two independent AR(1)
    series with coefficient ``phi``."""
    return (
        f"Two independent AR(1) series with coefficient {phi:.2f} share no information, yet "
        f"MMI-ΦID reports a synergy sts = {sts_estimate:.3f} {units}; the artefact predicted "
        f"from their self-predictability, 2·min(a_x, a_y), is {prediction:.3f} {units}."
    )
