"""Random removal orders matched head for head to an order under test, and their contrast.

A matched random order removes, at every position, a random head of the *same stratum* as the
head the tested order removes there. The strata are the cells of layer third × projected-norm
decile (:func:`head_strata`), the two properties besides synergy that decide how much removing
a head hurts: its depth and how much it writes into the residual stream (``reduction=
"projected"``, what zeroing removes). Inside each stratum the heads are drawn without
replacement (a random permutation of the stratum), so every matched order is itself a
permutation of all heads, with the tested order's stratum sequence (:func:`stratum_sequence`).

:func:`matched_contrast` compares the tested order's damage (for example the area under its
cumulative KL curve, per prompt) with that of the matched orders. Numpy only; no model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats.resampling import CI_LEVEL, as_generator

#: Number of depth bins (thirds of the layers) and of norm bins (deciles) of the strata.
N_LAYER_BINS = 3
N_NORM_BINS = 10


def _grid(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"{name} must be (n_layers, n_heads), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or inf")
    return array


def quantile_bins(values: Any, n_bins: int) -> np.ndarray:
    """Equal-count bins of ``values`` (any shape): bin ``floor(rank · n_bins / n)`` of each value
    (ranks from 0, ties broken by flat index), an int array of the same shape in ``[0, n_bins)``."""
    array = np.asarray(values, dtype=float)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    flat = array.reshape(-1)
    ranks = np.empty(flat.size, dtype=np.int64)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    return (ranks * n_bins // max(flat.size, 1)).reshape(array.shape)


def layer_bins(n_layers: int, n_bins: int = N_LAYER_BINS) -> np.ndarray:
    """Depth bin of each layer, ``floor(layer · n_bins / n_layers)``: (n_layers,) ints (thirds
    for ``n_bins=3``; layers 0–9, 10–19, 20–29 of a 30-layer model)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return np.arange(n_layers) * n_bins // n_layers


def head_strata(
    norm: Any, *, n_norm_bins: int = N_NORM_BINS, n_layer_bins: int = N_LAYER_BINS
) -> np.ndarray:
    """Stratum of every head, ``layer_bin · n_norm_bins + norm_bin``: (n_layers, n_heads) ints.

    ``norm``: (n_layers, n_heads) projected output norm of each head (any unit; only its ranks
    matter). The norm bins are deciles over all heads (equal counts, :func:`quantile_bins`), the
    layer bins thirds of the depth (:func:`layer_bins`).
    """
    grid = _grid(norm, "norm")
    depth = layer_bins(grid.shape[0], n_layer_bins)[:, None]
    return depth * n_norm_bins + quantile_bins(grid, n_norm_bins)


def stratum_sequence(order: Any, strata: Any) -> np.ndarray:
    """The stratum of every head of a removal order: ``order`` (..., n_total, 2) of (layer,
    head) pairs, ``strata`` (n_layers, n_heads) -> (..., n_total) ints."""
    pairs = np.asarray(order, dtype=np.int64)
    return np.asarray(strata)[pairs[..., 0], pairs[..., 1]]


def score_order(scores: Any) -> np.ndarray:
    """The removal order of ``scores`` (n_layers, n_heads): highest first, ties by layer-major
    index, as :func:`synergy_utils.stages.ablation_orders.head_orders`; (n_total, 2) ints."""
    grid = _grid(scores, "scores")
    flat = np.argsort(-grid.reshape(-1), kind="stable")
    return np.stack(np.unravel_index(flat, grid.shape), axis=1)


def matched_random_orders(
    scores: Any,
    covariates: Mapping[str, Any] | Any,
    n_orders: int,
    seed: int = 0,
    *,
    n_norm_bins: int = N_NORM_BINS,
    n_layer_bins: int = N_LAYER_BINS,
) -> np.ndarray:
    """Random orders matched head for head to the order of ``scores`` on layer third and
    projected-norm decile: (n_orders, n_total, 2) ints of (layer, head).

    ``scores``: (n_layers, n_heads), the order under test removes the highest first
    (:func:`score_order`). ``covariates``: a mapping with ``"norm"`` (n_layers, n_heads), the
    projected output norm, or that array itself. Draw ``m`` uses
    ``numpy.random.default_rng([seed, m])``: in each stratum a random permutation of its heads
    replaces, in turn, the tested order's heads of that stratum. Every draw has the tested
    order's stratum sequence and is a permutation of all heads.
    """
    if n_orders < 1:
        raise ValueError(f"n_orders must be >= 1, got {n_orders}")
    norm = covariates["norm"] if isinstance(covariates, Mapping) else covariates
    strata = head_strata(norm, n_norm_bins=n_norm_bins, n_layer_bins=n_layer_bins)
    tested = score_order(scores)
    if strata.shape != _grid(scores, "scores").shape:
        raise ValueError(f"norm has shape {strata.shape}, scores {np.shape(scores)}")
    sequence = stratum_sequence(tested, strata)
    flat_strata = strata.reshape(-1)
    members = {s: np.flatnonzero(flat_strata == s) for s in np.unique(flat_strata)}
    slots = {s: np.flatnonzero(sequence == s) for s in members}
    out = np.empty((n_orders, len(sequence)), dtype=np.int64)
    for m in range(int(n_orders)):
        rng = np.random.default_rng([seed, m])
        for s, heads in members.items():
            out[m, slots[s]] = rng.permutation(heads)
    return np.stack(np.unravel_index(out, strata.shape), axis=-1)


@dataclass(frozen=True)
class Contrast:
    """The tested order's damage minus the matched random orders'.

    ``value``: tested minus the mean of the matched orders (damage units, e.g. nats × fraction
    of heads for a KL-curve area); ``ci_low``/``ci_high``: the central interval of the tested
    order's damage minus that of *one* matched order, over resampled prompts, orders and (with
    ranking replicates) rankings (see :func:`matched_contrast`); ``se``: that distribution's
    sd; ``ratio``: tested over matched mean, ``ratio_low``/``ratio_high`` its interval from the
    same resamples; ``share_beaten``: the share of matched orders whose prompt-mean damage is
    below the tested order's; ``n_rankings``: tested orders (1: the ranking held fixed).
    """

    value: float
    ci_low: float
    ci_high: float
    se: float
    ratio: float
    share_beaten: float
    n_orders: int
    n_prompts: int
    n_bootstrap: int
    ratio_low: float = float("nan")
    ratio_high: float = float("nan")
    n_rankings: int = 1


def _damage_arrays(tested: Any, matched: Any) -> tuple[np.ndarray, np.ndarray]:
    tested = np.asarray(tested, dtype=float)
    matched = np.asarray(matched, dtype=float)
    if tested.ndim == 1 and matched.ndim == 2:
        tested, matched = tested[None], matched[None]
    if (
        tested.ndim != 2
        or matched.ndim != 3
        or matched.shape[0] != tested.shape[0]
        or matched.shape[2] != tested.shape[1]
    ):
        raise ValueError(
            "expected tested (n_prompts,) and matched (n_orders, n_prompts), or tested "
            "(n_rankings, n_prompts) and matched (n_rankings, n_orders, n_prompts), got "
            f"{tested.shape} and {matched.shape}"
        )
    if not (np.isfinite(tested).all() and np.isfinite(matched).all()):
        raise ValueError("damage values contain NaN or inf")
    return tested, matched


def matched_contrast(
    tested: Any,
    matched: Any,
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = CI_LEVEL,
) -> Contrast:
    """Damage of the tested order against matched random orders, with an interval over orders,
    prompts and, when given, rankings.

    ``tested``: (n_prompts,) damage of the tested order on each prompt; ``matched``:
    (n_orders, n_prompts) the matched orders' damage on the same prompts. Resample ``b`` draws
    prompts with replacement (the same for both, paired) and *one* matched order at random,
    and takes the tested order's prompt-mean damage minus that order's. The interval is thus a
    permutation test within strata (its lower bound lies above 0 when the tested order beats
    about 97.5 % of the matched orders), with prompt noise on top; the interval of the *mean*
    of the matched orders would shrink with their number and call any fixed order significant.

    Ranking noise: ``tested`` (n_rankings, n_prompts) and ``matched`` (n_rankings, n_orders,
    n_prompts), row 0 the order of the full ranking set and rows 1.. orders re-ranked on
    bootstrap resamples of the ranking prompts, each with its own matched orders. The value
    is row 0's; each resample also draws one of the rows at random, so the interval carries
    the spread between rankings.
    """
    tested, matched = _damage_arrays(tested, matched)
    n_rankings, n_orders, n_prompts = matched.shape
    rng = as_generator(seed)
    prompts = rng.integers(0, n_prompts, size=(n_bootstrap, n_prompts))
    orders = rng.integers(0, n_orders, size=n_bootstrap)
    rankings = rng.integers(0, n_rankings, size=n_bootstrap) if n_rankings > 1 else 0 * orders
    tested_boot = tested[rankings[:, None], prompts].mean(axis=1)
    matched_boot = matched[rankings[:, None], orders[:, None], prompts].mean(axis=1)
    boot = tested_boot - matched_boot
    tail = 100 * (1 - ci_level) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_low, ratio_high = np.percentile(tested_boot / matched_boot, [tail, 100 - tail])
    per_order = matched[0].mean(axis=1)
    mean_matched = float(per_order.mean())
    return Contrast(
        value=float(tested[0].mean() - mean_matched),
        ci_low=float(low),
        ci_high=float(high),
        se=float(boot.std(ddof=1)),
        ratio=float(tested[0].mean() / mean_matched) if mean_matched != 0 else float("nan"),
        share_beaten=float(np.mean(per_order < tested[0].mean())),
        n_orders=int(n_orders),
        n_prompts=int(n_prompts),
        n_bootstrap=int(n_bootstrap),
        ratio_low=float(ratio_low),
        ratio_high=float(ratio_high),
        n_rankings=int(n_rankings),
    )
