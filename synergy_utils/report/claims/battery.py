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

import pandas as pd

from ...simulation import BATTERY, SYSTEMS, simulate
from ...summary import BatteryRow, LayerTests
from .core import assess_core


def validate_on_battery(
    *,
    n_seeds: int = 3,
    n_shuffles: int = 100,
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
            system = simulate(name, seed=seed, **shape)
            assessment = assess_core(
                system.values,
                redundancy=redundancy,
                n_shuffles=n_shuffles,
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
