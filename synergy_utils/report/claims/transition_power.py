"""Claim 3 with power: could a family's sweep have shown a transition at all?

A "not supported" needs sweeps that could have said "supported". Two checks come before any
verdict:

* **testability** (:func:`testability`): the accuracy cliff must lie inside the grid, with at
  least :data:`MIN_LEVELS_PER_SIDE` levels on each side of 50 % accuracy, and the series must
  allow at least :data:`MIN_DISTINCT_OFFSETS` distinct circular offsets per pair (the
  surrogates of a short series are a handful of shifts, not a null);
* **power** (:func:`family_power`): logistic steps planted on the family's own design (its
  levels, prompts per level and number of null sweeps) and its observed per-prompt spread of
  the order parameter, run through the same rule
  (:func:`~synergy_utils.report.claims.transition.transition_verdict`); the share of seeds
  called a transition is the power at that step, and :func:`smallest_detectable_step` reads
  the step found with :data:`TARGET_POWER`.

The stated step is :data:`STATED_STEP_SD` prompt-to-prompt SDs of the order parameter. The
preprint gives no effect size. A phase transition separates two phases, so the stated step is
the one at which the two plateaus' prompt distributions overlap by less than 15 %
(2Φ(−d/2) = 13 % at d = 3). :func:`power_verdict` says *not supported* only when at least
:data:`MIN_POWERED_FAMILIES` testable families have power ≥ :data:`TARGET_POWER` at that step
and none shows a transition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...stats.fits import transition_statistics
from ...stats.nulls import default_min_shift
from ..verdicts import INCONCLUSIVE, MISSING, NOT_SUPPORTED, SUPPORTED
from .transition import FAMILY_RULE, TRANSITION, transition_verdict

#: Accuracy that separates the two sides of a family's cliff.
ACCURACY_CLIFF = 0.5
#: Levels needed on each side of the cliff (a logistic needs both plateaus).
MIN_LEVELS_PER_SIDE = 4
#: Distinct circular offsets per pair a series must allow (``T - 2·min_shift + 1``).
MIN_DISTINCT_OFFSETS = 10
#: Power at which the smallest detectable step is stated, and that "not supported" needs.
TARGET_POWER = 0.8
#: The stated step, in prompt-to-prompt SDs of the order parameter (see the module docstring).
STATED_STEP_SD = 3.0
#: Testable families with power at the stated step that "not supported" needs.
MIN_POWERED_FAMILIES = 2
#: Planted steps of the power curve, in prompt-to-prompt SDs.
STEP_GRID_SD: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
#: Seeds per planted step.
N_POWER_SEEDS = 40
#: Claim 3's rule: the family rule, then testability, power and the combination.
CLAIM3_RULE = (
    FAMILY_RULE + " A family is testable when its accuracy cliff (the first level below "
    f"{100 * ACCURACY_CLIFF:.0f} % accuracy) lies inside the grid with at least "
    f"{MIN_LEVELS_PER_SIDE} levels on each side and its series allow at least "
    f"{MIN_DISTINCT_OFFSETS} distinct surrogate offsets per pair. Its power is the share of "
    "logistic steps, planted on its own levels, prompts, null sweeps and prompt-to-prompt "
    f"spread, that this rule calls a transition; the stated step is {STATED_STEP_SD:g} "
    "prompt SDs. Across families, claim 3 is supported when more than half of the testable "
    "families show a transition, and not supported only when none does and at least "
    f"{MIN_POWERED_FAMILIES} testable families had power of at least "
    f"{100 * TARGET_POWER:.0f} % at the stated step; otherwise it is inconclusive."
)
#: The planted step's width, in level spacings, and its susceptibility peak (the SD at the
#: midpoint over the SD at the plateaus), as in the rule's own planted checks.
STEP_WIDTH_LEVELS = 0.5
PEAK_SD_RATIO = 2.0


def distinct_offsets(n_steps: int, tau: int = 1) -> int:
    """Distinct circular offsets a pair's surrogate may take on a series of ``n_steps``
    (``T − 2·min_shift + 1``; 0 when the series is too short for surrogates)."""
    if n_steps < 2 * (tau + 2) + 1:
        return 0
    return int(n_steps - 2 * default_min_shift(n_steps, tau) + 1)


def testability(accuracy: Sequence[float], n_steps: int, tau: int = 1) -> dict[str, Any]:
    """Whether one family's sweep can show a transition: ``testable`` and the ``reasons`` it
    cannot (empty when testable), with ``cliff_index`` (first level below 50 % accuracy, or
    None), ``n_above``/``n_below`` (levels on each side) and ``offsets``.

    ``accuracy`` is per level in order of difficulty; ``n_steps`` the shortest analysed
    series.
    """
    acc = np.asarray(accuracy, dtype=float)
    if acc.ndim != 1 or acc.size < 2 or not np.isfinite(acc).all():
        raise ValueError(f"accuracy needs a finite value per level, got {accuracy!r}")
    below = np.flatnonzero(acc < ACCURACY_CLIFF)
    cliff = int(below[0]) if below.size else None
    reasons = []
    if cliff is None:
        reasons.append("accuracy never falls below 50 %: the cliff lies beyond the last level")
    elif cliff == 0:
        reasons.append("accuracy is below 50 % already at the first level")
    elif cliff == acc.size - 1:
        reasons.append("the cliff sits at the last level")
    n_above, n_below = int((acc >= ACCURACY_CLIFF).sum()), int((acc < ACCURACY_CLIFF).sum())
    if min(n_above, n_below) < MIN_LEVELS_PER_SIDE:
        reasons.append(
            f"{n_above} level{'s' * (n_above != 1)} at or above 50 % accuracy and {n_below} "
            "below "
            f"(at least {MIN_LEVELS_PER_SIDE} needed on each side)"
        )
    offsets = distinct_offsets(int(n_steps), tau)
    if offsets < MIN_DISTINCT_OFFSETS:
        reasons.append(
            f"series of {n_steps} steps allow {offsets} distinct surrogate offsets per pair "
            f"(at least {MIN_DISTINCT_OFFSETS} needed)"
        )
    return {"testable": not reasons, "reasons": reasons, "cliff_index": cliff,
            "n_above": n_above, "n_below": n_below, "offsets": offsets}  # fmt: skip


def planted_step_sweep(
    levels: Sequence[float], n_items: int, n_null: int, step_sd: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sweep on ``levels`` with a logistic step of ``step_sd`` prompt SDs at mid-range
    (width :data:`STEP_WIDTH_LEVELS` level spacings; the SD rises to :data:`PEAK_SD_RATIO`
    times the plateaus' at the midpoint), ``n_items`` prompts per level and ``n_null`` null
    sweeps without the step: ``(levels (K,), values (K, N), null (S, K, N))``, in SDs."""
    levels = np.asarray(levels, dtype=float)
    rng = np.random.default_rng(seed)
    spacing = float(np.median(np.diff(levels)))
    centre = 0.5 * (levels[0] + levels[-1])
    s = 1 / (1 + np.exp(-(levels - centre) / (STEP_WIDTH_LEVELS * spacing)))
    sd = 1 + (PEAK_SD_RATIO - 1) * 4 * s * (1 - s)
    values = step_sd * s[:, None] + sd[:, None] * rng.standard_normal((levels.size, n_items))
    null = rng.standard_normal((n_null, levels.size, n_items))
    return levels, values, null


def step_power(
    levels: Sequence[float],
    n_items: int,
    n_null: int,
    step_sd: float,
    *,
    n_seeds: int = N_POWER_SEEDS,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> float:
    """Share of ``n_seeds`` planted sweeps (:func:`planted_step_sweep`) that the claim-3 rule
    calls a transition (the false-transition rate when ``step_sd`` is 0)."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    hits = 0
    for k in range(n_seeds):
        lv, values, null = planted_step_sweep(levels, n_items, n_null, step_sd, seed + k)
        stats = transition_statistics(lv, values, null, n_bootstrap=n_bootstrap, seed=seed + k)
        hits += transition_verdict(stats)["finding"] == TRANSITION
    return hits / n_seeds


def power_curve(
    levels: Sequence[float],
    n_items: int,
    n_null: int,
    *,
    steps_sd: Sequence[float] = STEP_GRID_SD,
    n_seeds: int = N_POWER_SEEDS,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Power of the rule against planted steps of ``steps_sd`` prompt SDs on one design."""
    rows = [{"step_sd": float(step),
             "power": step_power(levels, n_items, n_null, step, n_seeds=n_seeds,
                                 n_bootstrap=n_bootstrap, seed=seed)}
            for step in steps_sd]  # fmt: skip
    return pd.DataFrame(rows)


def smallest_detectable_step(curve: pd.DataFrame) -> float:
    """The step (prompt SDs) at which ``curve`` first reaches :data:`TARGET_POWER`, by linear
    interpolation between grid points; NaN when no planted step reaches it."""
    target = TARGET_POWER
    steps, power = curve["step_sd"].to_numpy(float), curve["power"].to_numpy(float)
    reached = np.flatnonzero(power >= target)
    if not reached.size:
        return float("nan")
    i = int(reached[0])
    if i == 0:
        return float(steps[0])
    s0, s1, p0, p1 = steps[i - 1], steps[i], power[i - 1], power[i]
    return float(s0 + (target - p0) * (s1 - s0) / (p1 - p0))


def family_power(
    analysis: Mapping[str, Any],
    accuracy: Sequence[float] | None = None,
    *,
    tau: int = 1,
    n_seeds: int = N_POWER_SEEDS,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Testability and power of one family from its verdict analysis
    (:func:`synergy_utils.stages.phase_analysis.analyse_sweep`: levels, prompts scored per
    level, ``spread``, ``n_null``, ``steps``) and its accuracy per level (all levels;
    default: the analysis's own ``accuracy``).

    Returns ``testability``, ``spread`` (the order parameter's pooled within-level SD),
    ``stated_step_sd``/``stated_step`` (SDs and order-parameter units), ``power`` at the stated
    step, ``smallest_step_sd``/``smallest_step`` (80 % power), the ``curve`` and
    ``false_transition`` (power at step 0)."""
    if accuracy is None:
        accuracy = analysis["accuracy"]["accuracy"]
    steps = analysis.get("steps") or {}
    shortest = np.nanmin(np.asarray(steps.get("min", [np.nan]), dtype=float))
    check = testability(accuracy, int(shortest) if np.isfinite(shortest) else 0, tau)
    levels = list(analysis.get("levels") or [])
    n_items = int(np.median(analysis.get("n_analysed") or [0])) if levels else 0
    n_null = int(analysis.get("n_null") or 0)
    spread = float(analysis.get("spread", np.nan))
    out: dict[str, Any] = {"testability": check, "spread": spread,
                           "stated_step_sd": STATED_STEP_SD,
                           "stated_step": STATED_STEP_SD * spread}  # fmt: skip
    if len(levels) < 3 or n_items < 2 or n_null < 1:
        return {
            **out,
            "power": float("nan"),
            "smallest_step_sd": float("nan"),
            "smallest_step": float("nan"),
            "false_transition": float("nan"),
            "curve": [],
        }
    kw = {"n_seeds": n_seeds, "n_bootstrap": n_bootstrap, "seed": seed}
    grid = sorted({*STEP_GRID_SD, STATED_STEP_SD})
    curve = power_curve(levels, n_items, n_null, steps_sd=grid, **kw)
    smallest = smallest_detectable_step(curve)
    return {**out,
            "power": float(curve.loc[curve["step_sd"] == STATED_STEP_SD, "power"].iloc[0]),
            "smallest_step_sd": smallest, "smallest_step": smallest * spread,
            "false_transition": step_power(levels, n_items, n_null, 0.0, **kw),
            "design": {"n_levels": len(levels), "n_items": n_items, "n_null": n_null},
            "curve": curve.to_dict("records")}  # fmt: skip


def power_verdict(family_results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Claim 3 across families from each family's ``finding`` and ``power``
    (:func:`family_power`): ``verdict``, ``finding``, ``supported``, ``reason`` and
    ``counts``.

    *Supported* when more than half of the testable families show a transition; *not
    supported* only when none does and at least :data:`MIN_POWERED_FAMILIES` testable families
    had power ≥ :data:`TARGET_POWER` at the stated step; else *inconclusive*, with why.
    """
    if not family_results:
        return {"verdict": MISSING, "finding": "not testable", "supported": False,
                "reason": "no family was run", "counts": {}}  # fmt: skip
    testable, powered, transitions, why = [], [], [], []
    for name, result in family_results.items():
        power = result.get("power") or {}
        check = power.get("testability") or {"testable": False, "reasons": ["no power check"]}
        if not check["testable"]:
            why.append(f"{name} is not testable ({'; '.join(check['reasons'])})")
            continue
        testable.append(name)
        transitions += [name] if result.get("finding") == TRANSITION else []
        if power.get("power", 0.0) >= TARGET_POWER:
            powered.append(name)
        else:
            why.append(f"{name} had power {100 * power.get('power', float('nan')):.0f} % at the "
                       f"stated step of {STATED_STEP_SD:g} SDs")  # fmt: skip
    counts = {"testable": len(testable), "powered": len(powered), "transition": len(transitions)}
    if testable and 2 * len(transitions) > len(testable):
        verdict, finding = SUPPORTED, TRANSITION
        reason = f"a transition in {', '.join(transitions)} of {len(testable)} testable families"
    elif transitions:
        verdict, finding = INCONCLUSIVE, "mixed"
        reason = f"a transition in {', '.join(transitions)} only, of {len(testable)} testable"
    elif len(powered) >= MIN_POWERED_FAMILIES:
        verdict, finding = NOT_SUPPORTED, "no transition"
        reason = (f"no transition in {len(testable)} testable families, "
                  f"{len(powered)} of them with power ≥ {100 * TARGET_POWER:.0f} % at "
                  f"{STATED_STEP_SD:g} SDs")  # fmt: skip
    else:
        verdict, finding = INCONCLUSIVE, "underpowered"
        needs = (f"not supported needs {MIN_POWERED_FAMILIES} testable families with power "
                 f"≥ {100 * TARGET_POWER:.0f} % at the stated step")  # fmt: skip
        reason = "; ".join([needs, *why])
    return {"verdict": verdict, "finding": finding, "supported": verdict == SUPPORTED,
            "reason": reason, "counts": counts}  # fmt: skip
