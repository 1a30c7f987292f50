"""Figures of claim 1 judged on null-corrected synergy: Δ profiles by depth, the share of
significant pairs, and the Δsts profiles of the synthetic battery.

Same conventions as :mod:`synergy_utils.report.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..summary import CoreAssessment, LayerTests
from .figures import colors, use_style

_QUANTITY_LABELS = {"sts": "Δsts", "rtr": "Δrtr", "phi_wms": "ΔΦ_WMS", "sts_share": "Δ(sts/TDMI)"}


def _band(ax, depth, tests: LayerTests, color, label) -> None:
    value = np.asarray(tests.value, dtype=float)
    low = np.asarray(tests.ci_low, dtype=float)
    high = np.asarray(tests.ci_high, dtype=float)
    ax.fill_between(depth, low, high, color=color, alpha=0.2, lw=0)
    ax.plot(depth, value, color=color, marker="o", ms=3, lw=1.6, label=label)


def _thirds(ax, n_layers: int) -> None:
    lo, hi = round(n_layers / 3), round(2 * n_layers / 3)
    depth = np.arange(n_layers) / max(1, n_layers - 1)
    edge = 0.5 / max(1, n_layers - 1)
    ax.axvspan(depth[lo] - edge, depth[hi - 1] + edge, color="0.92", zorder=0)
    ax.axhline(0, color="black", lw=0.8)


def plot_null_corrected_profiles(assessments: Mapping[str, CoreAssessment]):
    """Per redundancy function: Δsts, Δrtr and ΔΦ_WMS by layer depth with their bootstrap
    bands (nats; the middle third shaded), and below, the share of significant pairs."""
    use_style()
    names = list(assessments)
    fig, axes = plt.subplots(
        2, len(names), figsize=(6.2 * len(names), 6.4), squeeze=False, sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1]},
    )  # fmt: skip
    palette = dict(zip(("sts", "rtr", "phi_wms"), colors(3), strict=True))
    for col, name in enumerate(names):
        ev = assessments[name].evidence
        depth = np.arange(ev.n_layers) / max(1, ev.n_layers - 1)
        top, bottom = axes[0, col], axes[1, col]
        _thirds(top, ev.n_layers)
        for quantity in ("sts", "rtr", "phi_wms"):
            if quantity in ev.layer_delta:
                _band(top, depth, ev.layer_delta[quantity], palette[quantity],
                      _QUANTITY_LABELS[quantity])  # fmt: skip
        top.set_title(f"{name.upper()}: claim 1 {assessments[name].verdict}")
        top.set_ylabel("beyond the circular-shift null\n(nats, mean over partners)")
        top.legend(fontsize=9)
        bottom.bar(depth, ev.layer_share, width=0.8 / max(1, ev.n_layers - 1),
                   color=palette["sts"])  # fmt: skip
        bottom.set_ylabel("share of pairs with\nsignificant Δsts (BH)")
        bottom.set_xlabel("layer depth (scaled to [0, 1]; middle third shaded)")
    fig.tight_layout()
    return fig


def plot_battery_profiles(profiles: Mapping[tuple[str, str], LayerTests]):
    """The Δsts layer profile of every battery system (one panel each, seed 0), under each
    redundancy function, with bootstrap bands; the middle third shaded."""
    use_style()
    systems = list(dict.fromkeys(name for name, _ in profiles))
    redundancies = list(dict.fromkeys(red for _, red in profiles))
    n_cols = 4
    n_rows = math.ceil(len(systems) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 2.7 * n_rows),
                             squeeze=False, sharex=True)  # fmt: skip
    palette = dict(zip(redundancies, colors(max(2, len(redundancies))), strict=False))
    for ax, name in zip(axes.flat, systems, strict=False):
        for red in redundancies:
            tests = profiles.get((name, red))
            if tests is None:
                continue
            n_layers = len(tests.value)
            depth = np.arange(n_layers) / max(1, n_layers - 1)
            _band(ax, depth, tests, palette[red], red.upper())
        _thirds(ax, n_layers)
        ax.set_title(name.replace("_", " "), fontsize=10)
    for ax in axes.flat[len(systems) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("Δsts (nats)")
    for ax in axes[-1]:
        ax.set_xlabel("layer depth")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


_NULL_LABELS = {"circular": "circular shift", "shuffle": "prompt shuffle"}


def plot_block_contrasts(assessments: Mapping[str, CoreAssessment]):
    """The claim-1 statistic at a glance: per redundancy function and null, the adjusted
    block contrast (nats per pair) with its interval, the raw block contrast beside it, and
    the minimum detectable effect (80 % power) as a dashed tick; 0 is the line of no core."""
    use_style()
    rows = [(red, null, a.evidence.blocks[null]) for red, a in assessments.items()
            for null in ("shuffle", "circular") if null in a.evidence.blocks]  # fmt: skip
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(rows) + 1.4))
    adjusted, raw = colors(2)
    for y, (_, _, block) in enumerate(rows):
        a, r = block.adjusted_contrast, block.raw_contrast
        ax.errorbar(
            a.value,
            y,
            xerr=[[a.value - a.ci_low], [a.ci_high - a.value]],
            fmt="o",
            color=adjusted,
            capsize=3,
            label="adjusted contrast" if y == 0 else None,
        )
        ax.errorbar(
            r.value,
            y + 0.22,
            xerr=[[r.value - r.ci_low], [r.ci_high - r.value]],
            fmt="s",
            ms=4,
            color=raw,
            alpha=0.7,
            capsize=2,
            label="raw contrast (middle − outer pairs)" if y == 0 else None,
        )
        ax.plot(
            [block.mde] * 2,
            [y - 0.3, y + 0.3],
            ls="--",
            color="0.3",
            label="minimum detectable effect (80 % power)" if y == 0 else None,
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{red.upper()}, {_NULL_LABELS.get(null, null)} null\n"
                        f"({assessments[red].verdict})" for red, null, _ in rows])  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("Δsts, middle–middle pairs over outer–outer pairs (nats per pair)")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_power_curve(curve):
    """Share of seeds the claim-1 rule calls *supported* against the planted per-pair core
    (``curve``: the frame of :func:`synergy_utils.report.claims.battery.power_curve`), one
    line per redundancy function, with the 80 % line and each curve's mean MDE marked."""
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for color, (red, part) in zip(colors(2), curve.groupby("redundancy"), strict=False):
        part = part.sort_values("effect")
        ax.plot(part["effect"], part["supported"], marker="o", color=color, label=red.upper())
        ax.axvline(part["mde"].mean(), color=color, ls=":", lw=1.2)
    ax.axhline(0.8, color="0.4", ls="--", lw=0.8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("planted core: Δsts of middle–middle over outer–outer pairs (nats per pair)")
    ax.set_ylabel("share of seeds 'supported'")
    ax.set_title("Power of the claim-1 rule (dotted: mean MDE it printed)", fontsize=10)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
