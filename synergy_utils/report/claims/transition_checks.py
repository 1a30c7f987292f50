"""The claim-3 rule on planted sweeps whose truth is known: how often does it call a
transition that is not there, and miss one that is?

:func:`planted_sweep` draws one synthetic sweep (per-prompt values at each level, and null
sweeps) of a kind in :data:`PLANTED`; :func:`rule_error_rates` runs
:func:`~synergy_utils.report.claims.transition.transition_verdict` on many seeds of each kind
and counts the findings. The design copies the phase stage's: 7 levels, 10 prompts per level,
12 null sweeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...stats.fits import transition_statistics
from .transition import DRIFT, FINDINGS, NO_CHANGE, TRANSITION, transition_verdict


@dataclass(frozen=True)
class Planted:
    """A kind of planted sweep: its truth (the finding a correct rule returns) and a
    description of what is planted."""

    truth: str
    description: str


#: The planted kinds. Values are in arbitrary units; the prompt-to-prompt SD is 0.1 unless
#: stated, so the effects below are given in those SDs.
PLANTED: dict[str, Planted] = {
    "sigmoid": Planted(
        TRANSITION,
        "logistic step of 0.4 (0.1 -> 0.5, midpoint mid-range, width 0.5 level; 2.7 SD of the "
        "midpoint's spread) whose across-prompt SD peaks at the midpoint (0.03 at the "
        "plateaus, 0.15 at the midpoint)",
    ),
    "weak_sigmoid": Planted(
        TRANSITION,
        "the same step at half the size (0.1 -> 0.3) with the same spread: 1.3 SD of the "
        "midpoint's spread",
    ),
    "ramp": Planted(DRIFT, "straight line rising by 3.6 SD over the range (0.06 per level)"),
    "flat": Planted(NO_CHANGE, "constant mean, SD 0.03"),
    "noise": Planted(NO_CHANGE, "constant mean, SD 0.1"),
    "null_drift": Planted(
        NO_CHANGE,
        "the ramp, with a null that drifts the same way (what persistence alone would give)",
    ),
}


def planted_sweep(
    kind: str,
    seed: int = 0,
    *,
    n_levels: int = 7,
    n_items: int = 10,
    n_null: int = 12,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One planted sweep: ``levels`` (K,), ``values`` (K, N) and ``null`` (S, K, N).

    The null sweeps have the observed plateau's level (drifting with the ramp for
    ``"null_drift"``) and the average prompt-to-prompt SD, like surrogates that keep each
    prompt's spread but not the planted effect.
    """
    if kind not in PLANTED:
        raise ValueError(f"unknown planted kind {kind!r}; choose from {list(PLANTED)}")
    rng = np.random.default_rng(seed)
    levels = np.arange(1, n_levels + 1, dtype=float)
    centre = 0.5 * (levels[0] + levels[-1])
    step = 1 / (1 + np.exp(-(levels - centre) / 0.5))
    bump = 4 * step * (1 - step)
    flat = np.zeros_like(levels)
    mean, sd, null_mean = {
        "sigmoid": (0.1 + 0.4 * step, 0.03 + 0.12 * bump, 0.1 + flat),
        "weak_sigmoid": (0.1 + 0.2 * step, 0.03 + 0.12 * bump, 0.1 + flat),
        "ramp": (0.1 + 0.06 * levels, 0.1 + flat, 0.16 + flat),
        "flat": (0.2 + flat, 0.03 + flat, 0.2 + flat),
        "noise": (flat, 0.1 + flat, flat),
        "null_drift": (0.1 + 0.06 * levels, 0.1 + flat, 0.1 + 0.06 * levels),
    }[kind]
    values = mean[:, None] + sd[:, None] * rng.standard_normal((n_levels, n_items))
    null = null_mean[None, :, None] + sd.mean() * rng.standard_normal((n_null, n_levels, n_items))
    return levels, values, null


def rule_error_rates(
    n_seeds: int = 100,
    *,
    kinds: Sequence[str] | None = None,
    n_bootstrap: int = 200,
    progress: bool = False,
    **design: int,
) -> pd.DataFrame:
    """Findings of the rule on ``n_seeds`` planted sweeps of each kind.

    One row per kind: its truth, the count of each finding, ``false_transition`` (share of
    seeds called a transition when the truth is not one: the false-positive rate),
    ``missed`` (share not called a transition when it is one: the false-negative rate) and
    ``right`` (share whose finding equals the truth). ``design`` passes ``n_levels``,
    ``n_items`` and ``n_null`` to :func:`planted_sweep`.
    """
    rows: list[dict[str, Any]] = []
    names = list(kinds or PLANTED)
    if progress:
        from tqdm.auto import tqdm

        names = tqdm(names, desc="planted sweeps", leave=False)
    for kind in names:
        counts = dict.fromkeys(FINDINGS, 0)
        for seed in range(n_seeds):
            levels, values, null = planted_sweep(kind, seed, **design)
            stats = transition_statistics(levels, values, null, n_bootstrap=n_bootstrap, seed=seed)
            finding = transition_verdict(stats)["finding"]
            counts[finding] = counts.get(finding, 0) + 1
        truth = PLANTED[kind].truth
        called = counts[TRANSITION] / n_seeds
        rows.append(
            {
                "kind": kind,
                "truth": truth,
                "n_seeds": n_seeds,
                **counts,
                "false_transition": called if truth != TRANSITION else float("nan"),
                "missed": 1 - called if truth == TRANSITION else float("nan"),
                "right": counts.get(truth, 0) / n_seeds,
            }
        )
    return pd.DataFrame(rows)
