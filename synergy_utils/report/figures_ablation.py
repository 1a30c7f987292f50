"""Figures of the ablation chapter: cumulative KL curves of every order, area ratios against
each order, and accuracy under perturbation (by group, and against the share perturbed).

Same conventions as :mod:`synergy_utils.report.figures` (labels with units, colour-blind
safe palettes, one function per figure returning the ``Figure``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..stages.ablation_orders import KL_LABELS, RANDOM, named_orders, order_role, random_orders
from ..stats.resampling import bootstrap_indices, percentile_interval
from .figures import colors, use_style

_LINESTYLE = {"synergy": "-", "alternative": ":", "confound": "--", "other": "-."}


def _band(values: np.ndarray, n_bootstrap: int, seed: int, ci_level: float):
    """Mean curve and bootstrap band of ``values`` (R, P, n): prompts and (R > 1) orders
    resampled with replacement."""
    rng = np.random.default_rng(seed)
    p_idx = bootstrap_indices(values.shape[1], n_bootstrap, rng)
    by_order = values[:, p_idx].mean(axis=2)  # (R, B, n)
    if values.shape[0] > 1:
        r_idx = bootstrap_indices(values.shape[0], n_bootstrap, rng)
        boot = by_order[r_idx, np.arange(n_bootstrap)[:, None]].mean(axis=1)
    else:
        boot = by_order[0]
    band = percentile_interval(boot, ci_level, axis=0)
    return values.mean(axis=(0, 1)), band[..., 0], band[..., 1]


def plot_ablation_curves(
    curves,
    synergy_order: str = "synergy",
    metrics: tuple[str, ...] = ("kl_clean_ablated", "kl_ablated_clean"),
    ci_level: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
):
    """Cumulative ablation curves of every order, one panel per KL direction.

    ``curves`` is :func:`synergy_utils.stages.ablation.ablation_curves`. Each named order has
    a bootstrap band over prompts (``ci_level``); the synergy order is drawn thick, confounds
    dashed, other synergy measures dotted; random orders are thin grey lines with their
    pooled mean and a band over prompts and orders.
    """
    use_style()
    names = named_orders(curves)
    palette = colors(max(len(names), 1))
    x = 100 * curves["fraction"].values
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.2 * len(metrics), 4.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        kl = curves["kl"].sel(metric=metric).transpose("order", "prompt", "n_removed")
        rand = random_orders(curves)
        if rand:
            values = kl.sel(order=rand).values
            for row in values.mean(axis=1):
                ax.plot(x, row, color="0.6", lw=0.5, alpha=0.5)
            mean, low, high = _band(values, n_bootstrap, seed, ci_level)
            ax.plot(x, mean, color="0.3", lw=2, marker="s", ms=3, label=f"random (n = {len(rand)})")
            ax.fill_between(x, low, high, color="0.5", alpha=0.2, lw=0)
        for colour, name in zip(palette, names, strict=True):
            role = "synergy" if name == synergy_order else order_role(name)
            mean, low, high = _band(kl.sel(order=[name]).values, n_bootstrap, seed, ci_level)
            ax.plot(
                x,
                mean,
                color=colour,
                ls=_LINESTYLE.get(role, "-"),
                lw=2.6 if role == "synergy" else 1.4,
                label=f"{name} ({role})",
            )
            if role in ("synergy", "confound"):
                ax.fill_between(x, low, high, color=colour, alpha=0.15, lw=0)
        ax.set_xlabel(f"heads removed (% of all {curves.attrs.get('n_total', '?')} heads)")
        ax.set_ylabel(f"{KL_LABELS.get(metric, metric)} (nats per token)")
        ax.set_title(KL_LABELS.get(metric, metric))
    axes[0][-1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(
        f"Cumulative ablation ({curves.attrs.get('mode', 'zero')}), {curves.sizes['prompt']} "
        f"held-out prompts; bands: {int(100 * ci_level)} % bootstrap CI (synergy, confounds, "
        "random)"
    )
    fig.tight_layout()
    return fig


def plot_area_ratios(table, synergy_order: str = "synergy"):
    """Forest plot of the area ratios synergy order / each order (both KL directions) with
    their intervals; ``table`` is :func:`synergy_utils.stages.ablation.ratio_table`."""
    use_style()
    palette = colors(2)
    column = f"{synergy_order} / order"
    rows = table.reset_index(drop=True)
    y = np.arange(len(rows))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5))
    for k, (value, low, high, label) in enumerate(
        (
            (column, "ci_low", "ci_high", "KL(clean ‖ ablated)"),
            ("reverse", "reverse_ci_low", "reverse_ci_high", "KL(ablated ‖ clean)"),
        )
    ):
        v = rows[value].to_numpy(float)
        err = np.vstack([v - rows[low].to_numpy(float), rows[high].to_numpy(float) - v])
        ax.errorbar(
            v,
            y + (0.15 if k == 0 else -0.15),
            xerr=err,
            fmt="o",
            capsize=3,
            color=palette[k],
            label=label,
        )
    ax.axvline(1.0, color="0.3", ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{o} ({r})" for o, r in zip(rows["order"], rows["role"], strict=True)])
    ax.set_xlabel(f"area ratio, {synergy_order} order / compared order (> 1: synergy hurts more)")
    ax.set_ylabel("compared order (role)")
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def _rows(table, order: str, group: str, fraction: float | None = None):
    sel = (table["order"] == order) & (table["group"] == group)
    if fraction is not None:
        sel &= np.isclose(table["fraction"], fraction)
    return table[sel].sort_values("fraction")


def plot_ablation_accuracy(table, fraction: float = 0.25, synergy_order: str = "synergy"):
    """Task accuracy with the top and the bottom ``fraction`` of heads of each order perturbed
    (bars, bootstrap intervals over tasks and draws), the random share (grey band) and the
    intact model (dashed); ``table`` is :func:`synergy_utils.stages.ablation.accuracy_table`."""
    use_style()
    names = [o for o in dict.fromkeys(table["order"]) if o not in ("intact", RANDOM)]
    palette = colors(2)
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(names) + 3), 4.2))
    for k, group in enumerate(("top", "bottom")):
        acc, low, high = [], [], []
        for name in names:
            row = _rows(table, name, group, fraction)
            acc.append(100 * row["accuracy"].iloc[0] if len(row) else np.nan)
            low.append(100 * row["ci_low"].iloc[0] if len(row) else np.nan)
            high.append(100 * row["ci_high"].iloc[0] if len(row) else np.nan)
        acc, low, high = map(np.asarray, (acc, low, high))
        pos = np.arange(len(names)) + (k - 0.5) * 0.38
        ax.bar(
            pos,
            acc,
            0.38,
            yerr=np.vstack([acc - low, high - acc]),
            capsize=2,
            color=palette[k],
            label=f"{group} {100 * fraction:.0f} % of the order",
        )
    rnd = _rows(table, RANDOM, "random", fraction)
    if len(rnd):
        r = rnd.iloc[0]
        ax.axhline(
            100 * r["accuracy"],
            color="0.4",
            lw=1.2,
            label=f"random {100 * fraction:.0f} % ({100 * r['accuracy']:.0f} %)",
        )
        ax.axhspan(100 * r["ci_low"], 100 * r["ci_high"], color="0.5", alpha=0.2, lw=0)
    intact = table[table["group"] == "intact"]
    if len(intact):
        i = intact.iloc[0]
        ax.axhline(
            100 * i["accuracy"],
            color="0.1",
            ls="--",
            lw=1,
            label=f"intact model ({100 * i['accuracy']:.0f} %)",
        )
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(
        [f"{n}\n(tested)" if n == synergy_order else n for n in names],
        rotation=30,
        ha="right",
        fontsize="small",
    )
    ax.set_ylabel("accuracy (% of tasks correct)")
    ax.set_xlabel("order whose heads are perturbed")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_accuracy_vs_fraction(table, synergy_order: str = "synergy"):
    """Accuracy against the share of heads perturbed, for every order swept (top heads) and
    random heads, with bootstrap intervals; the intact model sits at 0 %."""
    use_style()
    intact = table[table["group"] == "intact"]
    swept = [
        o
        for o in dict.fromkeys(table["order"])
        if o != "intact" and table[table["order"] == o]["fraction"].nunique() > 1
    ]
    palette = colors(max(len(swept), 1))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for colour, name in zip(palette, swept, strict=True):
        rows = _rows(table, name, "random" if name == RANDOM else "top")
        if len(intact):
            rows = pd.concat([intact.iloc[:1], rows]).sort_values("fraction")
        x = 100 * rows["fraction"].to_numpy(float)
        acc = 100 * rows["accuracy"].to_numpy(float)
        ax.plot(
            x,
            acc,
            marker="o",
            color="0.3" if name == RANDOM else colour,
            lw=2.4 if name == synergy_order else 1.5,
            label="random heads" if name == RANDOM else f"top heads by {name}",
        )
        ax.fill_between(
            x,
            100 * rows["ci_low"].to_numpy(float),
            100 * rows["ci_high"].to_numpy(float),
            color="0.5" if name == RANDOM else colour,
            alpha=0.15,
            lw=0,
        )
    ax.set_xlabel("heads perturbed (% of all heads)")
    ax.set_ylabel("accuracy (% of tasks correct)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_given_norm(single_head, areas, mode: str = "zero"):
    """Claim 4 given norm and layer, two panels. Left: each head's single-head damage (mean
    KL over prompts) against its core score, coloured by layer third. Right: the prompt-mean
    window area of every matched random order (dots, one row per ranking) beside the core
    order's (diamond). ``single_head``/``areas``: the datasets of
    :func:`synergy_utils.stages.given_norm.given_norm_study`."""
    use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    kl = single_head["kl"].mean("prompt").values
    core = single_head["core"].values
    n_layers = kl.shape[0]
    third = np.arange(n_layers) * 3 // n_layers
    palette = colors(3)
    for t, name in enumerate(("first third", "middle third", "last third")):
        rows = third == t
        left.scatter(core[rows].ravel(), kl[rows].ravel(), s=14, color=palette[t], label=name)
    left.set_yscale("log")
    left.set_xlabel("core score: synergy beyond persistence and redundancy (nats per pair)")
    left.set_ylabel("KL(clean ‖ ablated) removing the head alone (nats/token)")
    left.legend(fontsize="small", title="layer", loc="best")
    area = areas["area"].sel(mode=mode).mean("prompt")
    valid = np.isfinite(area.sel(order="core").values)
    rankings = area["ranking"].values[valid]
    for k, r in enumerate(rankings):
        matched = area.sel(ranking=r).values[1:]
        right.scatter(matched, np.full(matched.size, k), s=16, color="0.55",
                      label="matched random orders" if k == 0 else None)  # fmt: skip
        right.scatter(float(area.sel(ranking=r, order="core")), k, marker="D", s=50,
                      color=palette[1], label="core order" if k == 0 else None)  # fmt: skip
    right.set_yticks(np.arange(len(rankings)))
    right.set_yticklabels(
        ["all ranking prompts" if r == 0 else f"re-ranking {r}" for r in rankings]
    )
    window = 100 * float(areas.attrs["window"])
    right.set_xlabel(f"KL-curve area over 0–{window:.0f} % of heads removed ({mode})")
    right.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig
