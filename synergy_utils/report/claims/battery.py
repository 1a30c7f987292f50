"""The claim-1 rule on the synthetic battery: does it find a core when there is one, and
stay silent when there is none?

Every system of :mod:`synergy_utils.simulation` has a known truth; :func:`validate_on_battery`
runs :func:`~synergy_utils.report.claims.core.assess_core` on each, for several seeds and
both redundancy functions, and counts how often the verdict is right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...simulation import BATTERY, SYSTEMS, WEAK_CORE_SYSTEMS, WEAK_CORE_WEIGHT, simulate
from ...summary import SUPPORTED, BatteryRow, LayerTests
from .core import assess_core, minimum_detectable_effect


def battery_system(
    name: str, redundancy: str, seed: int, core_weight: float | None = None, **shape
):
    """One realisation of battery system ``name`` as the rule is checked on it: a weak core
    gets the weight that makes it about 0.01 nats per pair under ``redundancy``
    (:data:`~synergy_utils.simulation.WEAK_CORE_WEIGHT`) unless ``core_weight`` is given."""
    if name in WEAK_CORE_SYSTEMS:
        weight = WEAK_CORE_WEIGHT[redundancy] if core_weight is None else core_weight
        return simulate(name, seed=seed, core_weight=weight, **shape)
    return simulate(name, seed=seed, **shape)


def validate_on_battery(
    *,
    n_seeds: int = 3,
    n_surrogates: int = 100,
    n_derangements: int | None = 20,
    n_bootstrap: int = 500,
    redundancies: Sequence[str] = ("mmi", "ccs"),
    systems: Sequence[str] | None = None,
    progress: bool = False,
    **shape: int,
) -> tuple[list[BatteryRow], dict[tuple[str, str], LayerTests]]:
    """Rows of verdict counts per (system, redundancy), and the seed-0 Δsts layer profile of
    each (for the figure). ``shape`` passes ``n_prompts``, ``n_steps``, ``n_layers``,
    ``n_heads`` to :func:`~synergy_utils.simulation.simulate`."""
    rows: list[BatteryRow] = []
    profiles: dict[tuple[str, str], LayerTests] = {}
    jobs = [(name, redundancy) for name in (systems or BATTERY) for redundancy in redundancies]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="battery", leave=False)
    for name, redundancy in jobs:
        verdicts: Counter[str] = Counter()
        n_right = 0
        for seed in range(n_seeds):
            system = battery_system(name, redundancy, seed, **shape)
            assessment = assess_core(
                system.values,
                redundancy=redundancy,
                n_surrogates=n_surrogates,
                n_derangements=n_derangements,
                n_bootstrap=n_bootstrap,
                seed=seed,
            )
            verdicts[assessment.verdict] += 1
            n_right += system.right(assessment.verdict, redundancy)
            if seed == 0:
                profiles[(name, redundancy)] = assessment.evidence.layer_delta["sts"]
        rows.append(
            BatteryRow(
                system=name,
                truth=SYSTEMS[name].truth,
                redundancy=redundancy,
                expected=list(SYSTEMS[name].expected[redundancy]),
                n_seeds=n_seeds,
                n_right=int(n_right),
                verdicts=dict(verdicts),
            )
        )
    return rows, profiles


def battery_table(rows: Sequence[BatteryRow]) -> pd.DataFrame:
    """One row per system, columns per redundancy function: the verdicts over the seeds (e.g.
    ``"supported 3/3"``) and how many were as expected. Expected is the truth, except for
    ``crossed_transfer`` under MMI, whose pure transfer MMI books as synergy by construction
    (a known limit of MMI, not of the rule)."""
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        record = records.setdefault(row.system, {"system": row.system, "truth": row.truth})
        counts = ", ".join(f"{v} {n}/{row.n_seeds}" for v, n in sorted(row.verdicts.items()))
        record[f"{row.redundancy.upper()} verdicts"] = counts
        record[f"{row.redundancy.upper()} as expected"] = f"{row.n_right}/{row.n_seeds}"
    return pd.DataFrame(list(records.values()))


#: Core weights of the power curve (0: no core; 0.27 is about 0.01 nats per pair under MMI).
POWER_WEIGHTS: tuple[float, ...] = (0.0, 0.1, 0.15, 0.2, 0.27, 0.35)


def power_curve(
    weights: Sequence[float],
    *,
    redundancy: str = "mmi",
    system: str = "weak_middle_core",
    n_seeds: int = 10,
    n_surrogates: int = 50,
    n_derangements: int | None = 20,
    n_bootstrap: int = 300,
    progress: bool = False,
    **shape: int,
) -> pd.DataFrame:
    """How often the rule says *supported* as a planted core grows.

    One row per core weight (the synergistic group's share of each middle head's variance,
    ``0``: the same heads without the group, no core) of ``system`` (one of
    :data:`~synergy_utils.simulation.WEAK_CORE_SYSTEMS`): ``effect`` is the mean over
    seeds of the raw middle–middle minus outer–outer Δsts under the prompt-shuffle null (an
    unbiased estimate of the planted per-pair excess, nats), ``supported`` the share of seeds
    called *supported*, and ``mde`` the mean minimum detectable effect the rule printed.
    ``shape`` passes ``n_prompts``, ``n_steps``, ``n_layers``, ``n_heads``.
    """
    rows = []
    jobs = [(w, seed) for w in weights for seed in range(n_seeds)]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc=f"power curve ({redundancy})", leave=False)
    results: dict[float, list[tuple[float, bool, float]]] = {}
    for weight, seed in jobs:
        values = battery_system(system, redundancy, seed, core_weight=weight, **shape).values
        a = assess_core(
            values, redundancy=redundancy, n_surrogates=n_surrogates,
            n_derangements=n_derangements, n_bootstrap=n_bootstrap, seed=seed,
        )  # fmt: skip
        effect = a.evidence.blocks["shuffle"].raw_contrast.value
        mde = minimum_detectable_effect(a.evidence)
        results.setdefault(weight, []).append((effect, a.verdict == SUPPORTED, mde))
    for weight, runs in results.items():
        effect, supported, mde = (np.array(col, dtype=float) for col in zip(*runs, strict=True))
        rows.append({"redundancy": redundancy, "core_weight": weight, "effect": effect.mean(),
                     "supported": supported.mean(), "mde": np.nanmean(mde),
                     "n_seeds": len(runs)})  # fmt: skip
    return pd.DataFrame(rows)
