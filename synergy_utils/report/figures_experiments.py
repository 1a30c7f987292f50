"""Figures of the two experiments: the phase-transition sweep and the ablation curves.

Same conventions as :mod:`synergy_utils.report.figures` (labels with units, colour-blind
safe palettes, one function per figure returning the ``Figure``).
"""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..stages.ablation import KL_LABELS, random_orders
from ..stages.phase import ORDER_PARAMETER_LABELS, ORDER_PARAMETERS
from ..stats.fits import logistic
from ..stats.resampling import bootstrap_indices, percentile_interval
from .figures import SEQUENTIAL_CMAP, colors, use_style

# --- phase transition -------------------------------------------------------------------


def _phase_axes(ax, figsize=(5.5, 3.8)):
    return (ax.figure, ax) if ax is not None else plt.subplots(figsize=figsize)


def _shade_midpoint(ax, fit) -> None:
    """Grey span over the bootstrap CI of the logistic midpoint (clipped to the tested range,
    whose limits then become the x-axis), and integer ticks for the levels."""

    levels = np.asarray(fit["levels"], dtype=float)
    pad = 0.5 * float(np.median(np.diff(levels))) if levels.size > 1 else 0.5
    left, right = levels[0] - pad, levels[-1] + pad
    lo, hi = fit["midpoint"]["ci"]
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axvspan(max(lo, left), min(hi, right), color="0.88", zorder=0, label="midpoint 95% CI")
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_phase_accuracy(result, *, family: str = "", ax=None):
    """Task accuracy per difficulty level with Wilson 95 % CIs (``result`` from
    :func:`synergy_utils.stages.phase.analyse_sweep`)."""

    fig, ax = _phase_axes(ax)
    levels, acc = np.asarray(result["levels"]), result["accuracy"]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    mean = np.asarray(acc["accuracy"], dtype=float)
    if np.isfinite(mean).any():
        err = np.clip(np.vstack([mean - acc["ci_low"], acc["ci_high"] - mean]), 0, None)
        ax.errorbar(levels, mean, yerr=err, marker="o", capsize=3, color=colors(1)[0])
    else:
        ax.text(0.5, 0.5, "no checkable answers", transform=ax.transAxes, ha="center")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"difficulty ({family})" if family else "difficulty")
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_title("Accuracy")
    return fig


def plot_order_parameter(result, *, random_result=None, ylabel: str | None = None, ax=None):
    """Order parameter per level (mean, bootstrap 95 % CI), the circular-shift null band, the
    logistic and linear fits, the midpoint CI and, if given, the randomised model."""

    fig, ax = _phase_axes(ax, (6.5, 4.2))
    palette = colors(4)
    levels = np.asarray(result["levels"], dtype=float)
    order, fit, null = result["order"], result["fit"], result["null"]
    _shade_midpoint(ax, fit)
    if null is not None:
        ax.fill_between(
            levels,
            null["low"],
            null["high"],
            color=palette[2],
            alpha=0.25,
            label="circular-shift null (95%)",
        )
    err = np.vstack([order["mean"] - order["ci_low"], order["ci_high"] - order["mean"]])
    err = np.clip(err, 0, None)
    ax.errorbar(
        levels,
        order["mean"],
        yerr=err,
        marker="o",
        capsize=3,
        color=palette[0],
        linestyle="none",
        label="model (mean, 95% CI)",
        zorder=3,
    )
    grid = np.linspace(levels[0], levels[-1], 200)
    ax.plot(
        grid,
        logistic(grid, **fit["logistic"]["params"]),
        color=palette[0],
        label=f"logistic fit (ΔBIC = {fit['delta_bic']:.1f})",
    )
    line = fit["linear"]["params"]
    ax.plot(
        grid,
        line["intercept"] + line["slope"] * grid,
        color=palette[0],
        linestyle=":",
        label="linear fit",
    )
    if random_result is not None:
        ro = random_result["order"]
        rerr = np.clip(np.vstack([ro["mean"] - ro["ci_low"], ro["ci_high"] - ro["mean"]]), 0, None)
        ax.errorbar(
            np.asarray(random_result["levels"]) + 0.05,
            ro["mean"],
            yerr=rerr,
            marker="s",
            capsize=3,
            color=palette[1],
            linestyle="--",
            label="randomised model",
        )
    name = result["order_parameter"]
    ax.set_xlabel("difficulty level")
    ax.set_ylabel(ylabel or ORDER_PARAMETER_LABELS.get(name, name))
    ax.set_title(ORDER_PARAMETERS[name].capitalize(), fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def plot_susceptibility(result, *, ax=None):
    """Across-prompt variance of the order parameter per level (bootstrap 95 % CI) with the
    logistic midpoint's CI shaded."""

    fig, ax = _phase_axes(ax)
    levels = np.asarray(result["levels"], dtype=float)
    order = result["order"]
    var = np.asarray(order["variance"], dtype=float)
    err = np.vstack([var - order["variance_ci_low"], order["variance_ci_high"] - var])
    _shade_midpoint(ax, result["fit"])
    ax.errorbar(
        levels,
        var,
        yerr=np.clip(err, 0, None),
        marker="o",
        capsize=3,
        color=colors(3)[2],
        label="variance across prompts",
    )
    ax.set_xlabel("difficulty level")
    ax.set_ylabel("susceptibility\n(variance, squared order-parameter units)")
    ax.set_title("Susceptibility")
    ax.legend(fontsize=8)
    return fig


def plot_level_profiles(profiles, levels, *, family: str = "", ax=None):
    """Scaled layer profile of each difficulty level, coloured by level (sequential map).

    ``profiles`` is (K, L) from :func:`synergy_utils.stages.phase.level_profiles`.
    """

    profiles = np.asarray(profiles, dtype=float)
    levels = np.asarray(levels, dtype=float)
    fig, ax = _phase_axes(ax, (6.5, 4.0))
    depth = np.linspace(0, 1, profiles.shape[1])
    cmap = mpl.colormaps[SEQUENTIAL_CMAP]
    norm = mpl.colors.Normalize(vmin=levels.min(), vmax=levels.max())
    for level, profile in zip(levels, profiles, strict=True):
        ax.plot(depth, profile, color=cmap(norm(level)), marker=".", lw=1.6)
    for edge in (1 / 3, 2 / 3):
        ax.axvline(edge, color="0.6", lw=0.8, ls="--")
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label(f"difficulty ({family})" if family else "difficulty")
    ax.set_xlabel("layer depth (scaled to [0, 1])")
    ax.set_ylabel("scaled gradient (0 = lowest layer, 1 = highest)")
    ax.set_title("Layer profile per difficulty level")
    return fig


# --- ablation ---------------------------------------------------------------------------


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
