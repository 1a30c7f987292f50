"""The raw rank-gradient profile: how it reads, and why it is a control, not the verdict.

The preprint's statistic is the inverted U of the layer profile of ``rank(sts) − rank(rtr)``.
Validated on systems of known truth it is fooled (see :mod:`synergy_utils.simulation`): the
rank contrast rewards low redundancy as much as high synergy, and MMI counts persistence as
synergy. The chapter reports it beside the claim-1 rule of :mod:`.core`, in these words.
"""

from __future__ import annotations

from ...summary import INCONCLUSIVE, MISSING, NOT_SUPPORTED, Cores, Estimate
from ..verdicts import (
    ALPHA,
    finite,
    interval_verdict,
    reliability_reading,
    untrained_estimates,
)
from ..verdicts import fmt as _fmt


def raw_profile_reading(cores: Cores, alpha: float = ALPHA) -> str:
    """What the raw profile shows: ``"inverted U beyond its null"``, ``"U shape"``,
    ``"inverted U, not beyond its null"``, ``"no shape established"`` or ``"not run"``."""
    shape = interval_verdict(cores.inverted_u, 0.0)
    if shape == MISSING:
        return MISSING
    if shape == NOT_SUPPORTED:
        return "no inverted U (middle not higher)"
    if shape == INCONCLUSIVE:
        return "no shape established"
    p_null = cores.null.p_value if cores.null is not None else None
    if finite(p_null) and p_null < alpha:
        return "inverted U beyond its null"
    return "inverted U, not beyond its null" if finite(p_null) else "inverted U, no null run"


def raw_profile_paragraph(cores: Cores, alpha: float = ALPHA) -> str:
    """The raw profile and its controls in plain words (no claim verdict: see :mod:`.core`)."""
    sentences = [_headline(cores, alpha)]
    sentences += _core_null_sentences(cores)
    sentences += _control_sentences(cores)
    return " ".join(s for s in sentences if s)


def _headline(cores: Cores, alpha: float) -> str:
    inv = cores.inverted_u
    level = int(round(100 * float(cores.ci_level)))
    value, lo, hi = inv.value, inv.ci_low, inv.ci_high
    direction = "below" if finite(value) and float(value) < 0 else "above"
    magnitude = abs(float(value)) if finite(value) else value
    text = (
        f"On {cores.model or 'this model'}, with {cores.n_prompts} prompts and the "
        f"{cores.method} gradient, the middle third of the layers scores {_fmt(magnitude)} "
        f"{direction} the outer thirds on the [0, 1]-scaled raw layer profile (statistic "
        f"{_fmt(value)}, {level} % bootstrap interval {_fmt(lo)} to {_fmt(hi)})"
    )
    null = cores.null
    if null is None or not finite(null.p_value):
        return text + "; no circular-shift null was run, so the shape cannot be told from what "
        "each head's own dynamics produce."
    beyond = null.p_value < alpha
    return text + (
        f"; the circular-shift null, which keeps each head's autocorrelation but breaks the "
        f"timing between heads, reaches {_fmt(null.mean.value)} on average (p = "
        f"{_fmt(null.p_value, 3)}, {null.n_shuffles} shuffles): the statistic is "
        + ("beyond" if beyond else "not beyond")
        + f" its null at α = {alpha:g}"
        + (
            "."
            if beyond
            else "; this does not show the two are equal, only that the "
            "difference is not established."
        )
    )


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


def _control_sentences(cores: Cores) -> list[str]:
    sentences = []
    rho = cores.split_half.rho
    if finite(rho):
        sentences.append(
            f"Split-half reliability of the head ranking: {reliability_reading(rho)} "
            f"(Spearman ρ = {_fmt(rho)}); this is reliability, not validity: an estimator "
            "artefact can rank heads just as reproducibly."
        )
    r = cores.syn_red.r
    if finite(r) and r > 0.3:
        sentences.append(
            f"Synergy and redundancy are positively correlated across heads (r = {_fmt(r)}), "
            "as independent reproductions found and unlike the negative relation in the brain; "
            "the rank difference cancels what the two rankings share, so the gradient then "
            "orders heads by the smaller part in which their two ranks differ."
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
    if finite(base):
        reading = (
            ": pairs of persistent heads get high MMI synergy whatever they do together"
            if base > 0.7
            else ""
        )
        sentences.append(
            f"Across pairs, observed synergy correlates r = {_fmt(base)} with the value two "
            f"independent series of the same persistence would get, 2·min(a_x, a_y){reading} "
            "(a correlation, not the share of synergy that persistence explains)."
        )
    for name, est in untrained_estimates(cores).items():
        if finite(est.value):
            sentences.append(_untrained_sentence(name, est, cores.inverted_u))
    return sentences


def _untrained_sentence(name: str, est: Estimate, trained: Estimate) -> str:
    text = (
        f"The {name} scores {_fmt(est.value)} (interval {_fmt(est.ci_low)} to "
        f"{_fmt(est.ci_high)}) on the same statistic"
    )
    if not (est.has_ci and trained.has_ci):
        return text + "."
    if est.ci_high < trained.ci_low:
        return text + ", below the trained model's interval: training changes the profile."
    if est.ci_low > trained.ci_high:
        return text + ", above the trained model's interval."
    return text + "; the two intervals overlap, so the data do not tell them apart."
