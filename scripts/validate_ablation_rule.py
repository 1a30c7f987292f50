"""The claim-4 rule given norm and layer on its toy of known truth: verdict shares per case.

Damage = norm + β · sd(norm) · synergy + noise over 200 heads (20 layers × 10 heads), 12
prompts; prints the Markdown table of ``docs/ablation.md`` and writes it as CSV.

    .venv/bin/python scripts/validate_ablation_rule.py --replicates 200 --out results/validation
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from synergy_utils.report.claims.ablation_toy import validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=500)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = validate(args.replicates, n_orders=args.orders, n_bootstrap=args.bootstrap)
    table.to_csv(args.out / "ablation_toy.csv", index=False)
    print(table.round(3).to_markdown(index=False), f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
