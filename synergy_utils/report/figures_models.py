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


#: Bins of relative depth for the published models' mean profile.
DEPTH_BINS = 10


def binned_profile(tables) -> tuple[np.ndarray, np.ndarray]:
    """Mean of several layer profiles in :data:`DEPTH_BINS` equal bins of relative depth
    (each model weighs the same): ``(bin centres, mean normalised rank)``."""
    edges = np.linspace(0, 1, DEPTH_BINS + 1)
    per_model = []
    for table in tables:
        index = np.clip(np.digitize(table["depth"], edges[1:-1]), 0, DEPTH_BINS - 1)
        sums = np.bincount(index, weights=table["mean_rank"], minlength=DEPTH_BINS)
        counts = np.bincount(index, minlength=DEPTH_BINS)
        per_model.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
    return (edges[:-1] + edges[1:]) / 2, np.nanmean(per_model, axis=0)


def _frame(ax, title: str) -> None:
    ax.axvspan(1 / 3, 2 / 3, color="0.93", zorder=0)
    ax.axhline(0.5, color="black", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("relative depth (middle third shaded)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="lower center")


def _published_panel(ax, published) -> None:
    authors = {k: v for k, v in published.items() if "(authors)" in k}
    for label, table in published.items():
        if label not in authors:
            ax.plot(table["depth"], table["mean_rank"], ":", color="0.6", lw=1)
    ax.plot([], [], ":", color="0.6", label="a reproduction's models")
    for (label, table), color in zip(authors.items(), colors(max(3, len(authors))), strict=False):
        ax.plot(table["depth"], table["mean_rank"], "-", color=color, lw=1.6, label=label)
    _frame(ax, "Published head rankings (raw score)")


def _ours_panel(ax, published, ours, title: str) -> None:
    centres, mean = binned_profile([v for k, v in published.items() if "(authors)" in k])
    ax.plot(centres, mean, "--", color="0.35", lw=2.5, label="the authors' four models, mean")
    palette = colors(max(3, len(ours)))[: len(ours)]
    for (label, table), color in zip(ours.items(), palette, strict=True):
        ax.plot(table["depth"], table["mean_rank"], "o-", color=color, lw=1.6, ms=3, label=label)
    _frame(ax, title)


def plot_published_record(profiles):
    """Layer profiles by relative depth: each layer's mean normalised rank of
    ``rank(syn) − rank(red)`` (0.5: no depth preference). Left: the published models; middle:
    this book's models on the same raw score; right: after the circular-shift null. The dashed
    line in the last two is the authors' four models averaged in bins of depth (profiles from
    :func:`synergy_utils.report.published.record_profiles`)."""
    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), sharey=True)
    _published_panel(axes[0], profiles["published"])
    _ours_panel(axes[1], profiles["published"], profiles["raw"],
                "This book's models, raw score")  # fmt: skip
    _ours_panel(axes[2], profiles["published"], profiles["null-corrected"],
                "This book's models, beyond the circular-shift null")  # fmt: skip
    axes[0].set_ylabel("mean normalised rank of the layer's heads")
    fig.tight_layout()
    return fig
