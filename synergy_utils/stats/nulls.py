"""Surrogate nulls: circular shifts of each node's series, with the statistic passed in.

A circular shift rolls every node's series by its own random offset within each prompt (or
item): each series keeps its values and, apart from the one wrap-around point, its
autocorrelation, while the timing between nodes is destroyed. What survives the shift comes
from each series on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .resampling import as_generator


def circular_shift(values: Any, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Copy of ``(P, T, ...)`` series with each node's series rolled by its own random shift.

    Axis 0 indexes prompts, axis 1 time; every further axis indexes nodes (e.g. layer, head).
    Shifts are drawn uniformly from ``0 .. T-1``, independently for every prompt and node.
    """
    array = np.asarray(values)
    if array.ndim < 3:
        raise ValueError(f"expected (prompt, step, node...) series, got shape {array.shape}")
    rng = as_generator(seed)
    n_steps = array.shape[1]
    shape = (array.shape[0], 1) + array.shape[2:]
    shifts = rng.integers(0, n_steps, size=shape)
    steps = np.arange(n_steps).reshape((1, n_steps) + (1,) * (array.ndim - 2))
    return np.take_along_axis(array, (steps - shifts) % n_steps, axis=1)


def shift_null(
    values: Any,
    statistic: Callable[[np.ndarray], Any],
    n_surrogates: int,
    seed: int | np.random.Generator = 0,
    *,
    progress: bool = False,
    desc: str = "circular-shift null",
) -> list[Any]:
    """``statistic`` of ``n_surrogates`` circularly shifted copies of ``values``.

    One generator (from ``seed``) draws the shifts of every replicate in turn, so the same
    seed gives the same replicates. Returns the statistic's outputs in order.
    """
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    rng = as_generator(seed)
    replicates = range(n_surrogates)
    if progress:
        from tqdm.auto import tqdm

        replicates = tqdm(replicates, desc=desc, leave=False)
    return [statistic(circular_shift(values, rng)) for _ in replicates]


def empirical_p_value(observed: float, null: Any, alternative: str = "greater") -> float:
    """Add-one permutation p-value ``(1 + #{null >= observed}) / (1 + n)`` (``"less"``: ``<=``).

    NaN null values are dropped; NaN when ``observed`` is NaN or no null value is left. The
    smallest possible value is ``1 / (1 + n)``.
    """
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or null.size == 0:
        return float("nan")
    if alternative == "greater":
        hits = np.sum(null >= observed)
    elif alternative == "less":
        hits = np.sum(null <= observed)
    else:
        raise ValueError("alternative must be 'greater' or 'less'")
    return float((1 + hits) / (1 + null.size))
