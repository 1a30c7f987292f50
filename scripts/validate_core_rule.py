"""The claim-1 rule on the battery at a study-like size: verdict counts and power curves.

Writes ``battery.csv`` and ``power.csv`` to the output folder and prints both as Markdown
(the tables of ``docs/validation.md``). Defaults: 20 seeds, 40 prompts × 100 steps × 12 layers
× 6 heads, 50 circular-shift surrogates, 20 prompt derangements, 300 bootstrap resamples.

    .venv/bin/python scripts/validate_core_rule.py --out results/validation
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from synergy_utils.report.claims.battery import (
    POWER_WEIGHTS,
    battery_table,
    power_curve,
    validate_on_battery,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--surrogates", type=int, default=50)
    parser.add_argument("--derangements", type=int, default=20)
    parser.add_argument("--redundancy", default="mmi,ccs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shape = {"n_prompts": args.prompts, "n_layers": args.layers, "n_heads": args.heads}
    common = {"n_surrogates": args.surrogates, "n_derangements": args.derangements,
              "n_bootstrap": 300, "progress": True}  # fmt: skip
    redundancies = args.redundancy.split(",")
    for redundancy in redundancies:
        start = time.perf_counter()
        rows, _ = validate_on_battery(n_seeds=args.seeds, redundancies=[redundancy],
                                      **common, **shape)  # fmt: skip
        table = battery_table(rows)
        table.to_csv(args.out / f"battery_{redundancy}.csv", index=False)
        print(table.to_markdown(index=False), f"\n({time.perf_counter() - start:.0f} s)\n")
        start = time.perf_counter()
        curve = power_curve(POWER_WEIGHTS, redundancy=redundancy, n_seeds=args.seeds,
                            **common, **shape)  # fmt: skip
        curve.to_csv(args.out / f"power_{redundancy}.csv", index=False)
        print(curve.round(4).to_markdown(index=False), f"\n({time.perf_counter() - start:.0f} s)\n")
    frames = [pd.read_csv(args.out / f"power_{r}.csv") for r in redundancies]
    pd.concat(frames).to_csv(args.out / "power.csv", index=False)


if __name__ == "__main__":
    main()
