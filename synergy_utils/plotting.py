"""Figures for the book: one function per figure, each returning the matplotlib ``Figure``.

All figures use :func:`use_style` (seaborn's colourblind palette, readable font sizes) and
label every axis with its quantity and unit. Stages add their figures in their own section.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

PALETTE = "colorblind"
#: Sequential colour map for heatmaps and ordered levels (perceptually uniform, CVD-safe).
SEQUENTIAL_CMAP = "viridis"
#: Diverging colour map for signed quantities centred on zero (CVD-safe).
DIVERGING_CMAP = "vlag"


def use_style() -> None:
    """Apply the book's plotting style (call once per notebook; idempotent)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinguishable colourblind-safe colours."""
    return sns.color_palette(PALETTE, n)


# --- extraction -------------------------------------------------------------------------

# --- synergistic cores ------------------------------------------------------------------

# --- phase transition -------------------------------------------------------------------

# --- ablation ---------------------------------------------------------------------------
