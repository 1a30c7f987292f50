"""The figure of the chapter across model families: every model on one page.

Same conventions as :mod:`synergy_utils.report.figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..summary import ModelStudy
from .claims.ablation import ratios_verdict
from .claims.core import core_verdict
from .figures import colors, use_style
from .figures_cores import _band

#: Orders of the ablation panel, top to bottom (those a model lacks are left out).
ABLATION_ROWS: tuple[str, ...] = ("random", "output_norm", "self_information", "sts", "rtr")


def short_name(study: ModelStudy) -> str:
    """The model's name without the packaging note: ``"google/gemma-3-270m"``."""
    return study.model.split(" (")[0]


def _profile_panel(
    ax, studies: Sequence[ModelStudy], redundancy: str, palette, untrained: bool
) -> None:
    for study, color in zip(studies, palette, strict=True):
        evidence = (study.untrained if untrained else study.evidence).get(redundancy)
        if evidence is None:
            continue
        depth = np.linspace(0, 1, study.n_layers)
        label = f"{short_name(study)}: {core_verdict(evidence)}"
        _band(ax, depth, evidence.layer_delta["sts"], color, label)
    ax.axvspan(1 / 3, 2 / 3, color="0.93", zorder=0)
    ax.axhline(0, color="black", lw=0.8)
    which = "re-initialised copies" if untrained else "trained models"
    ax.set_title(f"Δsts under {redundancy.upper()}, {which}", fontsize=11)
    ax.set_ylabel("Δsts (nats)")
    ax.legend(fontsize=8, loc="best")


def _ablation_panel(ax, studies: Sequence[ModelStudy], palette) -> None:
    rows = [
        r for r in ABLATION_ROWS if any(s.ablation and r in s.ablation.auc_ratio for s in studies)
    ]
    offsets = np.linspace(-0.25, 0.25, max(1, len(studies))) if len(studies) > 1 else [0.0]
    for offset, study, color in zip(offsets, studies, palette, strict=True):
        if study.ablation is None:
            continue
        for y, order in enumerate(rows):
            ratio = study.ablation.auc_ratio.get(order)
            if ratio is None or ratio.value is None:
                continue
            low = ratio.ci_low if ratio.ci_low is not None else ratio.value
            high = ratio.ci_high if ratio.ci_high is not None else ratio.value
            label = f"{short_name(study)}: {ratios_verdict(study.ablation)}" if y == 0 else None
            ax.errorbar(
                ratio.value, y + offset, xerr=[[ratio.value - low], [high - ratio.value]],
                fmt="o", color=color, ms=5, capsize=3, label=label,
            )  # fmt: skip
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), [r.replace("_", " ") for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("KL-curve area: synergy order / this order (log; > 1: synergy order worse)")
    ax.set_title("Reduced ablation on held-out prompts", fontsize=11)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)


def plot_models(studies: Sequence[ModelStudy]):
    """Null-corrected synergy Δsts by relative depth under MMI and under CCS, every model
    with its bootstrap band over prompts (top: trained; bottom: re-initialised copies, on
    their own scale), and the reduced ablation's area ratios (synergy order over random
    and each confound, 95 % intervals)."""
    use_style()
    palette = colors(max(3, len(studies)))[: len(studies)]
    fig = plt.figure(figsize=(17, 8.4))
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 0.9])
    for col, redundancy in enumerate(("mmi", "ccs")):
        for row, untrained in enumerate((False, True)):
            ax = fig.add_subplot(grid[row, col])
            _profile_panel(ax, studies, redundancy, palette, untrained)
            if row == 1:
                ax.set_xlabel("relative depth (middle third shaded)")
    _ablation_panel(fig.add_subplot(grid[:, 2]), studies, palette)
    fig.tight_layout()
    return fig


def _record_panel(ax, published, ours, title: str) -> None:
    for label, table in published.items():
        style = "--" if "(authors)" in label else ":"
        ax.plot(table["depth"], table["mean_rank"], style, color="0.6", lw=1.1)
    ax.plot([], [], "--", color="0.6", label="published: the authors' rankings")
    ax.plot([], [], ":", color="0.6", label="published: a reproduction")
    palette = colors(max(3, len(ours)))[: len(ours)]
    for (label, table), color in zip(ours.items(), palette, strict=True):
        ax.plot(table["depth"], table["mean_rank"], "o-", color=color, lw=2, ms=3.5, label=label)
    ax.axvspan(1 / 3, 2 / 3, color="0.93", zorder=0)
    ax.axhline(0.5, color="black", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("relative depth (middle third shaded)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="lower center")


def plot_published_record(profiles):
    """Layer profiles of the published models (grey) beside this book's models (colour):
    each layer's mean normalised rank of ``rank(syn) − rank(red)`` (0.5: no depth
    preference) by relative depth; left the raw score, right the null-corrected one
    (profiles from :func:`synergy_utils.report.published.record_profiles`)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True)
    _record_panel(axes[0], profiles["published"], profiles["raw"],
                  "Raw score: the published statistic")  # fmt: skip
    _record_panel(axes[1], profiles["published"], profiles["null-corrected"],
                  "This book's models after the circular-shift null")  # fmt: skip
    axes[0].set_ylabel("mean normalised rank of the layer's heads")
    fig.tight_layout()
    return fig
