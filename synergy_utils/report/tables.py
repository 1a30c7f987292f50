"""Tables of the study: the landing page's verdict table, the controls of the cores chapter,
model comparisons and sample generations.

Every verdict and reading in a table comes from :mod:`synergy_utils.report.verdicts`, so a
table and the paragraph next to it cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..summary import Ablation, CoreEvidence, Cores, Estimate, Models, Ratio, Summary, Test
from .claims import (
    ablation_verdict,
    core_verdict,
    graph_verdict,
    phase_verdict,
    raw_profile_reading,
)
from .claims.ablation import ablation_estimate, ratios_verdict
from .claims.ablation_given import assess as assess_given
from .claims.ablation_given import evidence_from_summary, given_estimate
from .claims.transition_power import STATED_STEP_SD
from .verdicts import (
    AUTOCORRELATION_TRACKING_R,
    MISSING,
    NOT_SUPPORTED,
    SUPPORTED,
    ci_reading,
    finite,
    null_reading,
    reliability_reading,
    syn_red_reading,
    untrained_estimates,
    untrained_reading,
)

# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------


def fmt_number(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits ('–' for missing)."""
    if not finite(x):
        return "–"
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 10**digits or abs(x) < 10 ** -(digits + 1):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_estimate(est: Estimate | Ratio | None) -> str:
    """``0.42 [0.31, 0.55]`` (value and interval) or '–'."""
    if est is None or not finite(est.value):
        return "–"
    text = fmt_number(est.value)
    if finite(est.ci_low) and finite(est.ci_high):
        text += f" [{fmt_number(est.ci_low)}, {fmt_number(est.ci_high)}]"
    return text


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub/MyST pipe table."""
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# The landing page
# --------------------------------------------------------------------------------------


def _graph_estimate(summary: Summary) -> str:
    if summary.cores is None:
        return "–"
    g = summary.cores.graphs
    return (
        f"efficiency syn {fmt_number(g.synergy.efficiency)} vs red "
        f"{fmt_number(g.redundancy.efficiency)}; modularity syn "
        f"{fmt_number(g.synergy.modularity)} vs red {fmt_number(g.redundancy.modularity)}"
    )


def _phase_estimate(summary: Summary) -> str:
    """Each family's three-way finding (verdict window, null-corrected order parameter), and
    the midpoint of any transition."""
    phase = summary.phase
    if phase is None:
        return "–"
    parts = []
    for name, result in phase.family_results.items():
        text = f"{name}: {result.get('finding', '–')}"
        power = result.get("power") or {}
        if power:
            testable = (power.get("testability") or {}).get("testable")
            text += (f" (power {100 * power['power']:.0f} % at {STATED_STEP_SD:g} SDs)" if testable
                     and finite(power.get("power")) else " (not testable)")  # fmt: skip
        analysis = (result.get("analyses") or {}).get(phase.verdict_window, {})
        critical = (analysis.get(phase.order_parameter_name) or {}).get("critical_difficulty")
        if critical and finite(critical.get("value")):
            ci = critical.get("ci") or [None, None]
            text += (
                f", midpoint {fmt_number(critical['value'])} "
                f"[{fmt_number(ci[0])}, {fmt_number(ci[1])}]"
            )
        parts.append(text)
    return "; ".join(parts) + f" ({phase.verdict_window.replace('_', ' ')}, Δsts contrast)"


def _null_estimate(cores: Cores | None) -> str:
    if cores is None or cores.null is None:
        return "–"
    null = cores.null
    parts = [f"p = {fmt_number(null.p_value, 2)}"]
    if finite(null.fraction_inside):
        parts.append(f"{100 * null.fraction_inside:.0f} % of layers inside the band")
    return "; ".join(parts)


def claim4_row(ablation: Ablation | None) -> tuple[str, str, str, str]:
    """Claim 4's landing-page row: the rule given norm and layer where the run measured it
    (matched ratio over the window, synergy coefficient), the order comparison beside it."""
    title = "4 · Ablating synergistic heads is catastrophic"
    given = ablation.given if ablation is not None else None
    if given is None:
        return (
            title,
            "KL-curve area on held-out prompts, synergy order / random and each confound "
            "order (> 1 claimed)",
            ablation_estimate(ablation, fmt_estimate),
            ablation_verdict(ablation),
        )
    verdict = assess_given(evidence_from_summary(given)).verdict
    return (
        title,
        "removing the claim-1 core against random orders matched on layer and projected "
        "norm (KL-curve area over the window), and single-head damage regressed on synergy "
        "given norm, layer and persistence",
        f"{given_estimate(given, fmt_estimate)}; order comparison: "
        f"{ablation_estimate(ablation, fmt_estimate)}",
        verdict,
    )


def verdict_rows(summary: Summary) -> list[tuple[str, str, str, str]]:
    """Rows ``(claim or control, measure, estimate [95 % CI], verdict)`` of the landing page.

    A stage that did not run gives a "not run" row.
    """
    cores, ablation = summary.cores, summary.ablation
    untrained = untrained_estimates(cores) if cores else {}
    return claim1_rows(cores) + [
        universality_row(summary),
        (
            "2 · Redundancy in early and late layers",
            "synergy graph more efficient, redundancy graph more modular",
            _graph_estimate(summary),
            graph_verdict(cores.graphs if cores else None),
        ),
        (
            "3 · Phase transition with task difficulty",
            "null-corrected middle-layer synergy vs difficulty, per task family: transition, "
            "smooth drift or no change",
            _phase_estimate(summary),
            phase_verdict(summary.phase),
        ),
        claim4_row(ablation),
        (
            "Control · synergy vs redundancy",
            "correlation of per-head synergy and redundancy",
            fmt_estimate(_corr_estimate(cores)) if cores else "–",
            syn_red_reading(cores.syn_red.r) if cores else MISSING,
        ),
        (
            "Control · reliability",
            "split-half Spearman ρ of head gradients",
            fmt_number(cores.split_half.rho) if cores else "–",
            reliability_reading(cores.split_half.rho) if cores else MISSING,
        ),
        (
            "Control · raw rank-gradient profile",
            "inverted-U statistic of rank(sts) − rank(rtr) by depth, against circular shifts",
            (fmt_estimate(cores.inverted_u) + "; " + _null_estimate(cores)) if cores else "–",
            raw_profile_reading(cores) if cores else MISSING,
        ),
        (
            "Control · untrained model",
            "inverted-U statistic of untrained copies of the model",
            "; ".join(f"{k} {fmt_estimate(v)}" for k, v in untrained.items()) or "–",
            untrained_reading(cores) if cores else MISSING,
        ),
    ]


def universality_row(summary: Summary) -> tuple[str, str, str, str]:
    """The landing page's row for claim 1 across model families: the universality rule
    re-applied to the stored per-model verdicts (each re-judged from its numbers)."""
    from .claims.universality import model_verdicts, universality

    claim = "1 · across model families"
    measure = "claim 1 per family (MMI and CCS); universal only if it holds in every family"
    section = summary.models
    if section is None or not section.models:
        return (claim, measure, "–", MISSING)
    result = universality([model_verdicts(m) for m in section.models])
    return (claim, measure, result.statement, result.verdict)


def models_table(section: Models) -> pd.DataFrame:
    """One row per model of the chapter across model families: size, claim 1 under MMI and
    CCS (middle − outer Δsts with its interval), the untrained copy, the synergy–redundancy
    correlation, reliability, and the reduced ablation against random and the confounds."""
    rows = []
    for m in section.models:
        row: dict[str, Any] = {
            "model": m.model.split(" (")[0],
            "family": m.family,
            "heads": f"{m.n_layers} × {m.n_heads}",
            "prompts × tokens": f"{m.n_prompts} × {m.n_steps}",
        }
        for r in REDUNDANCIES:
            ev, untrained = m.evidence.get(r), m.untrained.get(r)
            row[f"claim 1, {r.upper()}"] = core_verdict(ev) if ev else MISSING
            row[f"middle − outer Δsts, {r.upper()}"] = fmt_test(ev.contrast) if ev else "–"
            row[f"untrained, {r.upper()}"] = (
                f"{core_verdict(untrained)}; {fmt_test(untrained.contrast)}" if untrained else "–"
            )
        row["syn–red r"] = fmt_estimate(Estimate(m.syn_red.r, m.syn_red.ci_low, m.syn_red.ci_high))
        row["split-half ρ"] = fmt_number(m.split_half.rho)
        ablation = m.ablation
        if ablation is not None:
            confounds = [o for o, role in ablation.order_roles.items() if role == "confound"]
            row["ablation / random"] = fmt_estimate(ablation.auc_ratio.get("random"))
            worst = min(
                confounds, key=lambda o: ablation.auc_ratio[o].value or float("inf"), default=None
            )
            row["ablation / hardest confound"] = (
                f"{worst}: {fmt_estimate(ablation.auc_ratio[worst])}" if worst else "–"
            )
            row["claim 4 (KL)"] = ratios_verdict(ablation)
            if ablation.given is not None:
                given = ablation.given
                row["claim 4 given norm"] = assess_given(evidence_from_summary(given)).verdict
                row[f"matched ratio 0–{100 * given.window:.0f} %"] = fmt_estimate(
                    given.matched_ratio
                )
                row["synergy coefficient"] = (
                    f"{fmt_estimate(given.coefficient)}; MDE {given.coefficient_mde:.2f} "
                    f"({given.n_heads} heads alone)"
                )
        rows.append(row)
    return pd.DataFrame(rows)


#: The redundancy functions claim 1 is judged under, in the order they are shown.
REDUNDANCIES: tuple[str, ...] = ("mmi", "ccs")


def claim1_estimate(ev: CoreEvidence) -> str:
    """The claim-1 numbers of one redundancy function in one cell: the adjusted contrast
    under each null, the minimum detectable effect and the reliability."""
    if set(ev.blocks) != {"circular", "shuffle"}:
        return f"Δsts middle {fmt_test(ev.middle)}; middle − outer {fmt_test(ev.contrast)}"
    shuffle, circular = ev.blocks["shuffle"], ev.blocks["circular"]
    mde = max(shuffle.mde, circular.mde)
    return (
        f"shuffle {fmt_test(shuffle.adjusted_contrast)}; circular "
        f"{fmt_test(circular.adjusted_contrast)}; MDE {mde:.4f}; reliability "
        f"{circular.reliability:.2f}"
    )


def claim1_rows(cores: Cores | None) -> list[tuple[str, str, str, str]]:
    """The claim-1 rows of the verdict table: one per redundancy function, each re-judged
    from its stored numbers with the chapter's rule."""
    rows = []
    for redundancy in REDUNDANCIES:
        assessment = cores.assessments.get(redundancy) if cores else None
        estimate, verdict = "–", MISSING
        if assessment is not None:
            estimate = claim1_estimate(assessment.evidence)
            verdict = core_verdict(assessment.evidence, assessment.reference)
        rows.append(
            (
                f"1 · Synergistic core in the middle layers ({redundancy.upper()})",
                "adjusted block contrast of Δsts, middle–middle vs outer–outer pairs "
                "(nats per pair), both nulls; minimum detectable effect (80 % power); "
                "split-half reliability",
                estimate,
                verdict,
            )
        )
    return rows


def fmt_test(test: Test | None) -> str:
    """``0.012 [0.004, 0.020]`` of a :class:`~synergy_utils.summary.Test` or '–'."""
    if test is None:
        return "–"
    return fmt_estimate(Estimate(test.value, test.ci_low, test.ci_high))


def _corr_estimate(cores: Cores) -> Estimate:
    return Estimate(cores.syn_red.r, cores.syn_red.ci_low, cores.syn_red.ci_high)


def verdict_table(summary: Summary) -> str:
    """The landing page's verdict table (Markdown), verdicts in bold."""
    rows = []
    for claim, measure, estimate, verdict in verdict_rows(summary):
        shown = f"**{verdict}**" if verdict in (SUPPORTED, NOT_SUPPORTED) else verdict
        rows.append((claim, measure, estimate, shown))
    return markdown_table(("Claim / control", "Measure", "Estimate [95 % CI]", "Verdict"), rows)


# --------------------------------------------------------------------------------------
# The cores chapter
# --------------------------------------------------------------------------------------


def _row(control: str, est: Estimate | None, reading: str, value: Any = None) -> dict[str, Any]:
    if est is None:
        est = Estimate(value)
    return {
        "control": control,
        "value": est.value,
        "ci_low": est.ci_low,
        "ci_high": est.ci_high,
        "reading": reading,
    }


def controls_table(cores: Cores) -> pd.DataFrame:
    """One row per control of the ``cores`` section: value, interval and a plain reading."""
    inv, other = cores.inverted_u, cores.other_method
    other_p = (
        f"; circular-shift null p = {fmt_number(other.null_p_value, 3)}"
        if finite(other.null_p_value)
        else ""
    )
    rows = [
        _row(
            f"inverted-U statistic ({cores.method} gradient; headline)",
            inv,
            ci_reading(inv.ci_low, inv.ci_high),
        ),
        _row(
            f"inverted-U statistic ({other.method} gradient)",
            other.inverted_u,
            ci_reading(other.inverted_u.ci_low, other.inverted_u.ci_high) + other_p,
        ),
        _row(
            "quadratic curvature of the profile (< 0: inverted U)",
            cores.curvature,
            _curvature_reading(cores.curvature),
        ),
    ]
    if cores.null is not None:
        rows.append(
            _row(
                f"circular-shift null ({cores.null.n_shuffles} shuffles): inverted-U statistic, "
                "null mean and 95 % range",
                cores.null.mean,
                f"p = {fmt_number(cores.null.p_value, 3)}: {null_reading(cores)}",
            )
        )
    rows += _control_rows(cores)
    frame = pd.DataFrame(rows, columns=["control", "value", "ci_low", "ci_high", "reading"])
    for column in ("value", "ci_low", "ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _curvature_reading(curv: Estimate) -> str:
    if finite(curv.ci_high) and curv.ci_high < 0:
        return "concave (inverted U)"
    if finite(curv.ci_low) and curv.ci_low > 0:
        return "convex (U shape)"
    return "interval includes 0"


def _control_rows(cores: Cores) -> list[dict[str, Any]]:
    b, g = cores.baseline, cores.graphs
    rows = [
        _row(
            "pair sts vs independent baseline 2·min(a_x, a_y): Pearson r",
            None,
            (
                "synergy largely tracks each head's autocorrelation"
                if finite(b.pair_pearson) and b.pair_pearson > AUTOCORRELATION_TRACKING_R
                else "synergy not mainly autocorrelation"
            )
            + f"; observed / baseline = {fmt_number(b.ratio)}",
            value=b.pair_pearson,
        ),
        _row(
            "split-half reliability of head gradients (Spearman ρ)",
            None,
            f"Spearman–Brown {fmt_number(cores.split_half.spearman_brown)}; "
            + reliability_reading(cores.split_half.rho),
            value=cores.split_half.rho,
        ),
        _row(
            "synergy–redundancy correlation across heads (Pearson r)",
            _corr_estimate(cores),
            syn_red_reading(cores.syn_red.r),
        ),
    ]
    for key, claim, winner in (
        ("efficiency", "synergy graph more efficient", "synergy"),
        ("modularity", "redundancy graph more modular", "redundancy"),
    ):
        loser = "redundancy" if winner == "synergy" else "synergy"
        won, lost = getattr(getattr(g, winner), key), getattr(getattr(g, loser), key)
        holds = finite(won) and finite(lost) and won > lost
        rows.append(
            _row(
                f"graph {key}: synergy graph (redundancy graph)",
                None,
                f"redundancy graph {fmt_number(getattr(g.redundancy, key))}; "
                f"claim '{claim}': {'holds' if holds else 'fails'}",
                value=getattr(g.synergy, key),
            )
        )
    for label, control in cores.model_controls.items():
        est = control.inverted_u
        reading = control.skipped or ci_reading(est.ci_low, est.ci_high)
        rows.append(
            _row(f"inverted-U statistic, {label} ({control.n_prompts} prompts)", est, reading)
        )
    for name, ev in cores.delta_controls.items():
        rows.append(_delta_row(name, ev))
    return rows


_DELTA_LABELS = {
    "tdmi_normalised": "sts / TDMI against its own null (MMI)",
    "discrete": "binarised estimator: sts (bits) against its own null",
}


def _delta_row(name: str, ev: CoreEvidence) -> dict[str, Any]:
    """A null-corrected variant: its middle − outer contrast and what the interval says."""
    con = ev.contrast
    if finite(con.ci_low) and con.ci_low > 0:
        reading = "middle heads carry more of it beyond the null than the outer heads"
    elif finite(con.ci_high) and con.ci_high < 0:
        reading = "outer heads carry more of it beyond the null"
    else:
        reading = "interval includes 0: no middle-layer excess established"
    reading += f" ({ev.n_prompts} prompts, {ev.n_surrogates} surrogates)"
    return _row(
        f"Δ middle − outer, {_DELTA_LABELS.get(name, name)}",
        Estimate(con.value, con.ci_low, con.ci_high),
        reading,
    )


def model_comparison_table(results: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model or condition from :func:`~synergy_utils.stages.controls.analyse_values`
    results, side by side: prompts, layers, heads per layer, the inverted-U statistic with its
    interval, curvature, synergy–redundancy r, split-half ρ and the baseline correlation."""
    rows = []
    for name, res in results.items():
        n_prompts, n_layers, n_heads = (res["scores"].sizes[d] for d in ("prompt", "layer", "head"))
        rows.append(
            {
                "model / condition": name,
                "prompts": n_prompts,
                "layers": n_layers,
                "heads per layer": n_heads,
                "gradient": res["method"],
                "inverted-U": res["inverted_u"],
                "ci_low": res["inverted_u_ci"][0],
                "ci_high": res["inverted_u_ci"][1],
                "curvature": res["curvature"],
                "syn-red r": res.get("syn_red_corr"),
                "split-half rho": res.get("split_half_rho"),
                "baseline r": res.get("baseline_corr"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The extraction chapter
# --------------------------------------------------------------------------------------


def sample_generations(series: Any, per_category: int = 2, max_chars: int = 160) -> pd.DataFrame:
    """A table of prompts and their generated text: the first ``per_category`` of each category.

    Columns ``prompt_index``, ``category``, ``prompt`` and ``generated`` (texts longer than
    ``max_chars`` are cut and end in "…"; newlines shown as "⏎").
    """

    def clip(text: str) -> str:
        text = text.replace("\n", " ⏎ ").strip()
        return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"

    categories = series.categories or [""] * series.n_prompts
    seen: dict[str, int] = {}
    rows = []
    for index, category in enumerate(categories):
        if seen.get(category, 0) >= per_category:
            continue
        seen[category] = seen.get(category, 0) + 1
        rows.append(
            {
                "prompt_index": index,
                "category": category,
                "prompt": clip(series.prompts[index]),
                "generated": clip(series.texts[index]),
            }
        )
    return pd.DataFrame(rows, columns=["prompt_index", "category", "prompt", "generated"])


def claim1_table(assessments: Mapping[str, Any]) -> pd.DataFrame:
    """One row per redundancy function: the claim-1 verdict and the numbers it rests on (the
    adjusted block contrast under both nulls with intervals, the minimum detectable effect,
    the reliability, the raw block means under the prompt-shuffle null, the correlation of
    head Δsts with persistence) and the reason, all in nats per pair."""
    rows = []
    for redundancy, assessment in assessments.items():
        ev = assessment.evidence
        row: dict[str, Any] = {"redundancy": redundancy.upper(), "verdict": assessment.verdict}
        for null, block in ev.blocks.items():
            row[f"adjusted contrast ({null})"] = fmt_test(block.adjusted_contrast)
        shuffle = ev.blocks.get("shuffle")
        circular = ev.blocks.get("circular")
        if shuffle is not None and circular is not None:
            row["MDE (80 % power)"] = round(max(shuffle.mde, circular.mde), 4)
            row["reliability (split-half)"] = round(circular.reliability, 2)
            row["middle–middle Δsts (shuffle)"] = fmt_test(shuffle.middle)
            row["outer–outer Δsts (shuffle)"] = fmt_test(shuffle.outer)
            row["ρ(head Δsts, persistence)"] = round(shuffle.persistence_corr, 2)
        row["reason"] = assessment.reason
        rows.append(row)
    return pd.DataFrame(rows).set_index("redundancy")
