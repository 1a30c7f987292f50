"""The published record's raw statistics, computed the same way on any head scores.

The predecessor paper and its public reproductions describe a model by statistics of a raw
per-head score (higher = more synergistic, e.g. ``rank(syn) − rank(red)``), without a null:

* the **top-quartile share** of each layer third: the fraction of that third's heads among the
  25 % highest-scoring heads of the model (0.25 everywhere when depth does not matter);
* the **quadratic coefficient** of the layer profile: each layer's mean normalised rank (0 =
  lowest head of the model, 1 = highest) fitted by ``a + b·x + c·x²`` on normalised depth ``x``
  in [0, 1]; ``c < 0`` is an inverted U;
* the **syn–red correlation** across heads (Spearman);
* the **ablation area ratio** over the first 40 % of heads removed: the area under the KL
  curve of the synergy order over that of random orders (trapezoid rule).

:func:`layer_table` reduces head scores to one row per layer (heads, heads in the top quartile,
mean normalised rank). Everything else is computed from those rows, so the shipped reference
files (:func:`read_reference`, per-layer rows only: the sources state no licence, so no
per-head data is stored) and this project's models go through the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from ..series import thirds

#: Share of a model's heads counted as its top: the published work's top quartile.
TOP_FRACTION = 0.25
#: Ablation window of the published area ratios: the first 40 % of heads removed.
ABLATION_WINDOW = 0.4
#: Columns of a layer table, in order.
LAYER_COLUMNS = ("layer", "n_layers", "depth", "n_heads", "n_top", "mean_rank")
THIRDS = ("early", "middle", "late")
#: The source of the predecessor paper's own rankings (the others are reproductions).
AUTHORS_SOURCE = "pedrou2000/Synergy_Redundancy_LLMs"


def layer_table(
    layers: Sequence[int] | np.ndarray,
    head_scores: Sequence[float] | np.ndarray,
    n_layers: int | None = None,
) -> pd.DataFrame:
    """One row per layer from per-head ``layers`` (index from 0) and ``head_scores`` (any
    shape, flattened like ``layers``; higher = more synergistic; NaN heads are dropped), with
    the columns of :data:`LAYER_COLUMNS`.

    The top is the ``round(TOP_FRACTION · N)`` highest-scoring heads of the model (ties broken
    by order of appearance); ``mean_rank`` is the mean of ``(rank − 1) / (N − 1)`` with average
    ranks for ties; ``depth`` is ``layer / (n_layers − 1)``.
    """
    layers = np.asarray(layers, dtype=int).reshape(-1)
    scores = np.asarray(head_scores, dtype=np.float64).reshape(-1)
    if layers.shape != scores.shape:
        raise ValueError(f"layers {layers.shape} and scores {scores.shape} differ in length")
    keep = np.isfinite(scores)
    layers, scores = layers[keep], scores[keep]
    if layers.size < 2:
        raise ValueError("a layer table needs at least two heads with a finite score")
    if layers.min() < 0:
        raise ValueError("layer indices start at 0")
    n_layers = int(layers.max() + 1 if n_layers is None else n_layers)
    if n_layers < 3 or layers.max() >= n_layers:
        raise ValueError(f"need 3 or more layers covering every index, got n_layers={n_layers}")
    n = scores.size
    top = np.zeros(n, dtype=bool)
    top[np.argsort(-scores, kind="stable")[: int(round(TOP_FRACTION * n))]] = True
    rank = (rankdata(scores) - 1) / (n - 1)
    rows = []
    for layer in range(n_layers):
        mine = layers == layer
        rows.append(
            {"layer": layer, "n_layers": n_layers, "depth": layer / (n_layers - 1),
             "n_heads": int(mine.sum()), "n_top": int(top[mine].sum()),
             "mean_rank": float(rank[mine].mean()) if mine.any() else np.nan}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(LAYER_COLUMNS))


def third_shares(table: pd.DataFrame) -> dict[str, float]:
    """Top-quartile share of each layer third (:func:`synergy_utils.series.thirds`), keyed
    ``early``/``middle``/``late``: heads of the third in the top over heads of the third."""
    table = table.sort_values("layer")
    shares = {}
    for name, part in zip(THIRDS, thirds(int(table["n_layers"].iloc[0])), strict=True):
        rows = table.iloc[part]
        shares[name] = float(rows["n_top"].sum() / rows["n_heads"].sum())
    return shares


def quadratic_coefficient(table: pd.DataFrame) -> float:
    """``c`` of the least-squares fit ``mean_rank ≈ a + b·depth + c·depth²`` over the layers
    (negative: an inverted U peaking inside the model when ``−b / 2c`` lies in (0, 1))."""
    rows = table.dropna(subset=["mean_rank"])
    if len(rows) < 3:
        raise ValueError("a quadratic fit needs at least 3 layers")
    return float(np.polyfit(rows["depth"], rows["mean_rank"], 2)[0])


def area_ratio(
    fractions: Sequence[float] | np.ndarray,
    order_curve: Sequence[float] | np.ndarray,
    random_curves: Sequence[Sequence[float]] | np.ndarray,
    max_fraction: float = ABLATION_WINDOW,
) -> float:
    """Area under ``order_curve`` over the mean area under ``random_curves`` (each a KL value
    per entry of ``fractions``, the shares of heads removed), both by the trapezoid rule over
    fractions ≤ ``max_fraction``."""
    fractions = np.asarray(fractions, dtype=np.float64)
    inside = fractions <= max_fraction + 1e-12
    if inside.sum() < 2:
        raise ValueError(f"fewer than two fractions lie within the window 0–{max_fraction}")
    x = fractions[inside]
    order_area = np.trapezoid(np.asarray(order_curve, dtype=np.float64)[inside], x)
    randoms = np.atleast_2d(np.asarray(random_curves, dtype=np.float64))[:, inside]
    return float(order_area / np.trapezoid(randoms, x, axis=-1).mean())


def rank_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two scores ``a`` and ``b`` of the same heads (NaN heads
    dropped)."""
    a, b = np.asarray(a, float).reshape(-1), np.asarray(b, float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"the two scores cover {a.size} and {b.size} heads")
    keep = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[keep], b[keep])[0])


def profile_statistics(table: pd.DataFrame) -> dict[str, float]:
    """The per-layer statistics of one model: top-quartile share per third and the quadratic
    coefficient of the layer profile."""
    shares = third_shares(table)
    return {**{f"top_share_{k}": v for k, v in shares.items()},
            "quadratic": quadratic_coefficient(table)}  # fmt: skip


# --- the shipped reference files ----------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """The published record as shipped: per-layer rows, one row per model, pairwise ranking
    agreements and the provenance of every source (repository, commit, paths, licence)."""

    layers: pd.DataFrame  #: source, model, then :data:`LAYER_COLUMNS`
    models: pd.DataFrame  #: source, model, label, n_layers, n_heads, syn_red_spearman, area ...
    agreement: pd.DataFrame  #: a, b, what, spearman, n_heads
    provenance: dict[str, Any]

    def table(self, source: str, model: str) -> pd.DataFrame:
        """The layer table of one published model."""
        rows = self.layers[(self.layers["source"] == source) & (self.layers["model"] == model)]
        if rows.empty:
            raise KeyError(f"no published layer rows for {model!r} from {source!r}")
        return rows[list(LAYER_COLUMNS)].reset_index(drop=True)


def reference_files() -> Any:
    """The folder of the shipped reference files (``synergy_utils/reference``)."""
    return resources.files("synergy_utils") / "reference"


def read_reference() -> Reference:
    """Read the shipped reference files; a missing or damaged file is a clear error."""
    folder = reference_files()
    try:
        layers = pd.read_csv(folder / "published_layers.csv")
        models = pd.read_csv(folder / "published_models.csv")
        agreement = pd.read_csv(folder / "published_agreement.csv")
        provenance = json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError) as error:
        raise RuntimeError(
            f"the published reference files in {folder} are unreadable: {error}"
        ) from error
    missing = set(LAYER_COLUMNS) - set(layers.columns)
    if missing:
        raise RuntimeError(f"published_layers.csv lacks the columns {sorted(missing)}")
    return Reference(layers=layers, models=models, agreement=agreement, provenance=provenance)
