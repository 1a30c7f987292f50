"""Claims 1 and 2, from the synergistic-cores chapter: the rule and its wording.

Claim 1: a synergistic core in the middle layers. Claim 2: redundancy at the edges, read
from the synergy and redundancy graphs. Both the chapter and the landing page call these
functions on the stored ``cores`` section.
"""

from __future__ import annotations

from ...summary import Cores, Graphs
from ..verdicts import (
    ALPHA,
    INCONCLUSIVE,
    MISSING,
    NOT_SUPPORTED,
    SUPPORTED,
    finite,
    interval_verdict,
    reliability_reading,
    untrained_estimates,
)
from ..verdicts import fmt as _fmt


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
