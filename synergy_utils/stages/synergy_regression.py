"""Does a head's synergy predict the damage of removing it, given its norm, depth and persistence?

:func:`synergy_coefficient` fits ``damage ~ 1 + synergy + norm + layer third + self-information``
by ordinary least squares over heads and reports the synergy coefficient on a standardised
scale: standard deviations of damage per standard deviation of synergy (unit-free, so one
reference effect serves every model and damage measure). The interval is a percentile
bootstrap over heads (pairs resampled, every coefficient refitted). Numpy only; no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats.resampling import CI_LEVEL, as_generator
from .matched_orders import N_LAYER_BINS, layer_bins

#: Normal quantiles of a two-sided 5 % test and of 80 % power: MDE = (1.96 + 0.84) · SE.
Z_ALPHA = 1.959963984540054
Z_POWER = 0.8416212335729143


@dataclass(frozen=True)
class Coefficient:
    """The standardised synergy coefficient (sd of damage per sd of synergy, given the
    covariates) with its bootstrap interval, bootstrap SE and the minimum detectable effect at
    80 % power (two-sided 5 %), ``mde = (Z_ALPHA + Z_POWER) · se``, on the same scale."""

    value: float
    ci_low: float
    ci_high: float
    se: float
    mde: float
    n_heads: int
    n_bootstrap: int
    covariates: list[str]
    n_rankings: int = 1


def design_matrix(
    synergy: Any, norm: Any, self_information: Any, n_layer_bins: int = N_LAYER_BINS
) -> tuple[np.ndarray, list[str]]:
    """Columns ``[1, synergy, norm, self_information, layer bins 1.. (indicators)]`` for
    (n_layers, n_heads) inputs: an (n_total, k) matrix (heads layer-major) and column names.
    Empty or constant indicator columns are left out."""
    arrays = [np.asarray(a, dtype=float) for a in (synergy, norm, self_information)]
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise ValueError(
            f"expected three (n_layers, n_heads) arrays, got {[a.shape for a in arrays]}"
        )
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("synergy, norm or self_information contains NaN or inf")
    depth = np.repeat(layer_bins(shape[0], n_layer_bins), shape[1])
    columns = [np.ones(depth.size)] + [a.reshape(-1) for a in arrays]
    names = ["intercept", "synergy", "norm", "self_information"]
    for b in range(1, n_layer_bins):
        indicator = (depth == b).astype(float)
        if 0 < indicator.sum() < indicator.size:
            columns.append(indicator)
            names.append(f"layer_bin_{b}")
    return np.stack(columns, axis=1), names


def _standardised(x: np.ndarray, y: np.ndarray) -> float:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    sd_y, sd_s = y.std(), x[:, 1].std()
    return float(beta[1] * sd_s / sd_y) if sd_y > 0 and sd_s > 0 else float("nan")


def synergy_coefficient(
    damage: Any,
    synergy: Any,
    norm: Any,
    self_information: Any,
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = CI_LEVEL,
    heads: Any = None,
) -> Coefficient:
    """The synergy coefficient of ``damage ~ synergy + norm + layer third + self-information``.

    ``damage``: (n_layers, n_heads) damage of removing each head alone (e.g. mean KL over
    prompts, nats per token) or (n_layers, n_heads, n_prompts), averaged over prompts first;
    the other three (n_layers, n_heads): the synergy score, the projected output norm and the
    self-information (nats). The value is the OLS coefficient times sd(synergy) / sd(damage);
    resample ``b`` draws heads with replacement and refits.

    Ranking noise: ``synergy`` may be (n_rankings, n_layers, n_heads), row 0 the scores of the
    full ranking set and rows 1.. scores on bootstrap resamples of the ranking prompts; the
    value uses row 0 and each resample one of the rows (drawn at random).

    ``heads``: optional (n_layers, n_heads) booleans, the heads whose damage was measured (the
    others' damage may be NaN); the fit uses those rows only.
    """
    y = np.asarray(damage, dtype=float)
    if y.ndim == 3:
        y = y.mean(axis=2)
    rankings = np.asarray(synergy, dtype=float)
    if rankings.ndim == 2:
        rankings = rankings[None]
    grid = rankings.shape[1:]
    keep = np.ones(grid, bool) if heads is None else np.asarray(heads, bool)
    if keep.shape != grid:
        raise ValueError(f"heads must be (n_layers, n_heads) {grid}, got {keep.shape}")
    keep = keep.reshape(-1)
    designs = [design_matrix(r, norm, self_information) for r in rankings]
    designs = [(x[keep], names) for x, names in designs]
    x, names = designs[0]
    if y.size != keep.size:
        raise ValueError(
            f"damage must have one value per head ({keep.size}), got {np.shape(damage)}"
        )
    y = y.reshape(-1)[keep]
    if not np.isfinite(y).all():
        raise ValueError("damage of a measured head is NaN or inf")
    if x.shape[0] <= x.shape[1] + 1:
        raise ValueError(f"{x.shape[0]} heads are too few for {x.shape[1]} coefficients")
    value = _standardised(x, y)
    rng = as_generator(seed)
    rows = rng.integers(0, y.size, size=(n_bootstrap, y.size))
    picks = rng.integers(0, len(designs), n_bootstrap) if len(designs) > 1 else [0] * n_bootstrap
    boot = np.array(
        [_standardised(designs[k][0][r], y[r]) for r, k in zip(rows, picks, strict=True)]
    )
    boot = boot[np.isfinite(boot)]
    tail = 100 * (1 - ci_level) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    se = float(boot.std(ddof=1))
    return Coefficient(
        value=value,
        ci_low=float(low),
        ci_high=float(high),
        se=se,
        mde=float((Z_ALPHA + Z_POWER) * se),
        n_heads=int(y.size),
        n_bootstrap=int(boot.size),
        covariates=names[2:],
        n_rankings=len(designs),
    )
