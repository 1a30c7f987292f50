"""Figures of the phase-transition chapter: accuracy and order parameter against difficulty.

Same conventions as :mod:`synergy_utils.report.figures` (labels with units, colour-blind
safe palettes, one function per figure returning the ``Figure``).
"""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..stages.phase import ORDER_PARAMETER_LABELS, ORDER_PARAMETERS
from ..stats.fits import logistic
from .figures import SEQUENTIAL_CMAP, colors


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
