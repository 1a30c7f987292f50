"""Figures of the ablation chapter: cumulative KL curves and accuracy under perturbation.

Same conventions as :mod:`synergy_utils.report.figures` (labels with units, colour-blind
safe palettes, one function per figure returning the ``Figure``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..stages.ablation import KL_LABELS, random_orders
from ..stats.resampling import bootstrap_indices, percentile_interval
from .figures import colors, use_style

_ABLATION_ORDER_STYLE = {
    "synergy_first": ("synergy first (decreasing gradient)", 0),
    "redundancy_first": ("redundancy first (increasing gradient)", 2),
}


def _prompt_mean_band(values, n_bootstrap: int, seed: int, ci_level: float):
    """Mean over prompts (last axis) and its percentile-bootstrap band, per curve point."""
    idx = bootstrap_indices(values.shape[-1], n_bootstrap, seed)
    boot = values[:, idx].mean(axis=-1)  # (points, n_bootstrap)
    band = percentile_interval(boot, ci_level, axis=1)
    return values.mean(axis=-1), band[:, 0], band[:, 1]


def plot_ablation_curves(
    curves,
    metrics: tuple[str, ...] = ("kl_clean_ablated", "kl_ablated_clean"),
    ci_level: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
):
    """Cumulative ablation curves, one panel per KL direction.

    ``curves`` is :func:`synergy_utils.stages.ablation.ablation_curves`. Synergy- and
    redundancy-first lines carry a bootstrap band over prompts (``ci_level``); random orders
    are drawn thin, with their mean and a band of ± 1 sd across orders.
    """

    use_style()
    palette = colors(4)
    x = 100 * curves["fraction"].values
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        kl = curves["kl"].sel(metric=metric)
        for order, (label, colour) in _ABLATION_ORDER_STYLE.items():
            values = kl.sel(order=order).transpose("n_removed", "prompt").values
            mean, low, high = _prompt_mean_band(values, n_bootstrap, seed, ci_level)
            ax.plot(x, mean, marker="o", ms=3, color=palette[colour], label=label)
            ax.fill_between(x, low, high, color=palette[colour], alpha=0.2, lw=0)
        names = random_orders(curves)
        if names:
            per_order = kl.sel(order=names).mean("prompt").transpose("order", "n_removed").values
            for row in per_order:
                ax.plot(x, row, color=palette[1], lw=0.6, alpha=0.35)
            mean = per_order.mean(axis=0)
            sd = per_order.std(axis=0, ddof=1) if len(names) > 1 else np.zeros_like(mean)
            ax.plot(
                x,
                mean,
                marker="s",
                ms=3,
                color=palette[1],
                label=f"random orders (mean ± sd, n = {len(names)})",
            )
            ax.fill_between(x, mean - sd, mean + sd, color=palette[1], alpha=0.2, lw=0)
        ax.set_xlabel(f"heads removed (% of all {curves.attrs.get('n_total', '?')} heads)")
        ax.set_ylabel(f"{KL_LABELS.get(metric, metric)} (nats per token)")
        ax.set_title(KL_LABELS.get(metric, metric))
    axes[0][0].legend(fontsize="small", loc="upper left")
    fig.suptitle(
        f"Cumulative ablation ({curves.attrs.get('mode', 'zero')}), "
        f"{curves.sizes['prompt']} prompts; bands: {int(100 * ci_level)} % CI over prompts"
    )
    fig.tight_layout()
    return fig


def plot_ablation_accuracy(table, ci: tuple[str, str] = ("ci_low", "ci_high")):
    """Task accuracy by perturbed head group and mode, with error bars from ``ci`` columns.

    ``table`` is :func:`synergy_utils.stages.ablation.accuracy_table` (a DataFrame with ``mode``,
    ``group``, ``accuracy`` and the interval columns); the intact model is a dashed line.
    """

    use_style()
    groups = ["synergistic", "redundant", "random"]
    modes = [m for m in dict.fromkeys(table["mode"]) if m != "none"]
    palette = colors(max(len(modes), 1))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(modes), 1)
    for k, mode in enumerate(modes):
        rows = table[table["mode"] == mode].set_index("group").reindex(groups)
        acc = 100 * rows["accuracy"].to_numpy(float)
        err = np.vstack(
            [acc - 100 * rows[ci[0]].to_numpy(float), 100 * rows[ci[1]].to_numpy(float) - acc]
        )
        pos = np.arange(len(groups)) + (k - (len(modes) - 1) / 2) * width
        ax.bar(pos, acc, width, yerr=err, capsize=3, color=palette[k], label=mode)
        for x_pos, value, top in zip(pos, acc, acc + err[1], strict=True):
            if np.isfinite(value):
                ax.annotate(
                    f"{value:.0f} %",
                    (x_pos, top),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize="small",
                )
    intact = table[table["group"] == "intact"]
    if len(intact):
        row = intact.iloc[0]
        ax.axhline(
            100 * row["accuracy"],
            color="0.2",
            ls="--",
            lw=1,
            label=f"intact model ({100 * row['accuracy']:.0f} %)",
        )
        ax.axhspan(100 * row[ci[0]], 100 * row[ci[1]], color="0.5", alpha=0.15, lw=0)
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels(
        ["synergistic core\n(top 25 %)", "redundant core\n(bottom 25 %)", "random 25 %"]
    )
    ax.set_ylabel("accuracy (% of tasks correct)")
    ax.set_xlabel("heads perturbed")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize="small", title="perturbation", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
