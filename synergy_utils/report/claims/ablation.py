"""Claim 4, ablating synergistic heads is catastrophic: the rule and its wording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...summary import Ablation, Ratio
from ..verdicts import MISSING, finite, interval_verdict


def ratio_finding(ratio: Ratio | Mapping[str, Any]) -> str:
    """Where a ratio's interval lies relative to 1: ``above``, ``below``, ``includes``."""
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


def ablation_verdict(ablation: Ablation | None) -> str:
    """Claim 4: synergy-first removal disrupts more than random removal (area ratio > 1)."""
    if ablation is None:
        return MISSING
    return interval_verdict(ablation.auc_ratio_synergy_random, 1.0)


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
