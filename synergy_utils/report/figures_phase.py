"""Figures of the phase-transition chapter: accuracy and order parameters against difficulty,
per task family, with their bands.

Same conventions as :mod:`synergy_utils.report.figures` (labels with units, colour-blind
safe palettes, one function per figure returning the ``Figure``). Inputs are the results of
:func:`synergy_utils.stages.phase.analyse_sweep` (one per family, window and order
parameter) and of :func:`synergy_utils.stages.phase.calibrate_family`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from scipy import special

from ..stages.phase import ORDER_PARAMETER_LABELS
from ..stats.fits import logistic
from .figures import SEQUENTIAL_CMAP, colors

WINDOW_TITLES = {"answer_span": "answer span", "fixed_window": "fixed window"}


def _axes(ax, figsize=(5.5, 3.8)):
    return (ax.figure, ax) if ax is not None else plt.subplots(figsize=figsize)


def _band(ax, x, low, high, color, label, alpha=0.25) -> None:
    x, low, high = (np.asarray(v, dtype=float) for v in (x, low, high))
    ok = np.isfinite(low) & np.isfinite(high)
    if ok.any():
        ax.fill_between(x[ok], low[ok], high[ok], color=color, alpha=alpha, lw=0, label=label)


def plot_accuracy(analysis: Mapping[str, Any], *, family: str = "", ax=None):
    """Task accuracy per level with its Wilson 95 % band."""
    fig, ax = _axes(ax)
    levels = np.asarray(analysis["all_levels"], dtype=float)
    acc = analysis["accuracy"]
    mean = np.asarray(acc["accuracy"], dtype=float)
    color = colors(1)[0]
    if np.isfinite(mean).any():
        _band(ax, levels, acc["ci_low"], acc["ci_high"], color, "Wilson 95% CI")
        ax.plot(levels, mean, marker="o", color=color, label="accuracy")
        ax.legend(fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "no checkable answers", transform=ax.transAxes, ha="center")
    ax.set_ylim(-0.03, 1.03)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"difficulty ({family})" if family else "difficulty")
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_title(f"Accuracy: {family}" if family else "Accuracy", fontsize=10)
    return fig


def _shade_midpoint(ax, ci, levels: np.ndarray) -> None:
    """Grey span over the part of the midpoint's CI inside the tested range (none if the CI
    lies outside it); the x-axis stays on the tested range."""
    lo, hi = (max(ci[0], levels[0]), min(ci[1], levels[-1])) if len(ci) == 2 else (0, 0)
    if math.isfinite(lo) and math.isfinite(hi) and lo < hi:
        ax.axvspan(lo, hi, color="0.88", zorder=0, label="midpoint 95% CI")
    pad = 0.04 * (levels[-1] - levels[0])
    ax.set_xlim(levels[0] - pad, levels[-1] + pad)


def _plot_fits(ax, analysis: Mapping[str, Any], color) -> None:
    levels = np.asarray(analysis["levels"], dtype=float)
    models = analysis["models"]
    grid = np.linspace(levels[0], levels[-1], 200)
    gap = models["delta_bic"]["line_minus_logistic"]
    ax.plot(
        grid,
        logistic(grid, **models["logistic"]),
        color=color,
        lw=1.6,
        label=f"logistic (ΔBIC vs line {gap:.1f})",
    )
    line = models["line"]
    ax.plot(grid, line["intercept"] + line["slope"] * grid, color=color, ls=":", label="line")
    _shade_midpoint(ax, analysis["bootstrap"]["midpoint_ci"], levels)


def plot_order_parameter(
    analysis: Mapping[str, Any],
    *,
    random_analysis: Mapping[str, Any] | None = None,
    title: str = "",
    ax=None,
):
    """Order parameter per level: mean with its bootstrap 95 % band, the null sweeps' band
    (central 95 % of the surrogates' level means), logistic and line fits, the midpoint's
    CI, and the randomised model's means if given."""
    fig, ax = _axes(ax, (6.0, 4.0))
    palette = colors(4)
    name = analysis["order_parameter"]
    if not analysis.get("testable"):
        ax.text(
            0.5,
            0.5,
            f"not testable:\n{analysis.get('reason', '')}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
        )
    else:
        levels = np.asarray(analysis["levels"], dtype=float)
        order, null = analysis["order"], analysis["null"]
        if null is not None:
            _band(
                ax,
                levels,
                null["band"]["low"],
                null["band"]["high"],
                palette[2],
                "null sweeps (95%)",
            )
        _band(ax, levels, order["ci_low"], order["ci_high"], palette[0], "95% CI", 0.2)
        ax.plot(levels, order["mean"], "o", color=palette[0], label="model (mean)", zorder=3)
        _plot_fits(ax, analysis, palette[0])
    if random_analysis is not None and random_analysis.get("testable"):
        ro = random_analysis["order"]
        rl = np.asarray(random_analysis["levels"], dtype=float)
        _band(ax, rl, ro["ci_low"], ro["ci_high"], palette[1], None, 0.15)
        ax.plot(rl, ro["mean"], "s--", color=palette[1], label="randomised model")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("difficulty level")
    ax.set_ylabel(ORDER_PARAMETER_LABELS.get(name, name))
    ax.set_title(title or WINDOW_TITLES.get(analysis["window"], ""), fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_families(
    analyses: Mapping[str, Mapping[str, Mapping[str, Any]]],
    order_parameter: str,
    *,
    random_analyses: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    windows: Sequence[str] = ("answer_span", "fixed_window"),
):
    """One row per family: accuracy, then ``order_parameter`` in each window (the
    randomised model, if given, beside the model in its own window)."""
    names = list(analyses)
    fig, axes = plt.subplots(
        len(names),
        1 + len(windows),
        figsize=(5.2 * (1 + len(windows)), 3.9 * len(names)),
        squeeze=False,
    )
    for row, family in enumerate(names):
        by_window = analyses[family]
        first = by_window[next(iter(by_window))][order_parameter]
        plot_accuracy(first, family=family, ax=axes[row, 0])
        for col, window in enumerate(windows, start=1):
            ax = axes[row, col]
            if window not in by_window:
                ax.set_axis_off()
                continue
            rnd = (random_analyses or {}).get(family, {}).get(window, {}).get(order_parameter)
            plot_order_parameter(
                by_window[window][order_parameter],
                random_analysis=rnd,
                title=f"{family}: {WINDOW_TITLES.get(window, window)}",
                ax=ax,
            )
    fig.tight_layout()
    return fig


def plot_susceptibility(analysis: Mapping[str, Any], *, ax=None):
    """Across-prompt variance per level with its bootstrap 95 % CI, the midpoint's CI
    shaded."""
    fig, ax = _axes(ax)
    if not analysis.get("testable"):
        ax.text(0.5, 0.5, "not testable", transform=ax.transAxes, ha="center")
        return fig
    levels = np.asarray(analysis["levels"], dtype=float)
    order = analysis["order"]
    var = np.asarray(order["variance"], dtype=float)
    color = colors(3)[2]
    _shade_midpoint(ax, analysis["bootstrap"]["midpoint_ci"], levels)
    _band(ax, levels, order["variance_ci_low"], order["variance_ci_high"], color, "95% CI")
    ax.plot(levels, var, marker="o", color=color, label="variance across prompts")
    ax.set_xlabel("difficulty level")
    ax.set_ylabel("susceptibility\n(variance, squared units)")
    ax.set_title(f"Susceptibility: {analysis.get('family', '')}", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_calibration(calibrations: Mapping[str, Mapping[str, Any]]):
    """Each family's accuracy scan, the fitted falling logistic and the chosen grid."""
    names = list(calibrations)
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.6), squeeze=False)
    for ax, family in zip(axes[0], names, strict=True):
        cal = calibrations[family]
        scan = cal["scan"]
        x = np.asarray(scan["levels"], dtype=float)
        grid = np.linspace(min(x.min(), min(cal["grid"])), max(x.max(), max(cal["grid"])), 200)
        fitted = special.expit((cal["midpoint"] - np.log(grid)) / cal["width"])
        ax.plot(x, scan["accuracy"], "o", color=colors(2)[0], label=f"scan ({scan['n'][0]} each)")
        ax.plot(grid, fitted, color=colors(2)[0], lw=1.2, label="fitted")
        for k, level in enumerate(cal["grid"]):
            ax.axvline(level, color="0.6", lw=0.8, ls="--", label="grid" if k == 0 else None)
        ax.axhspan(cal["low"], cal["high"], color="0.93", zorder=0)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"difficulty ({family})")
        ax.set_ylabel("accuracy (fraction correct)")
        ax.set_title(f"Calibration: {family}", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_level_profiles(profiles, levels, *, family: str = "", ylabel: str | None = None, ax=None):
    """Layer profile of each difficulty level, coloured by level (sequential map).

    ``profiles`` is (K, L) from :func:`synergy_utils.stages.phase.level_profiles`.
    """
    profiles = np.asarray(profiles, dtype=float)
    levels = np.asarray(levels, dtype=float)
    fig, ax = _axes(ax, (6.5, 4.0))
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
    ax.set_ylabel(ylabel or "scaled gradient (0 = lowest layer, 1 = highest)")
    ax.set_title(f"Layer profile per difficulty level{': ' + family if family else ''}")
    return fig
