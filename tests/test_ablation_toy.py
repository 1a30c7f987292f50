"""The claim-4 rules on the toy of known truth (``report.claims.ablation_toy``), across seeds
at a fast size: the rule given norm and layer detects a planted effect of synergy and refuses
one that only tracks norm; the old comparison with the norm order misses the planted one."""

from __future__ import annotations

import numpy as np

from synergy_utils.report.claims.ablation_toy import order_area, simulate_toy, validate
from synergy_utils.stages.matched_orders import score_order

N_REPLICATES = 20


def test_order_area_is_the_trapezoid_of_the_cumulative_damage():
    damage = np.arange(20.0).reshape(4, 5, 1)
    order = score_order(damage[..., 0])  # highest damage first: 19, 18, ...
    fractions = np.arange(0, 0.4 + 0.025, 0.05)
    cumulative = [sum(range(19, 19 - int(np.floor(f * 20 + 1e-9)), -1)) for f in fractions]
    want = np.trapezoid(cumulative, fractions)
    assert order_area(damage, order)[0] == want


def test_toy_synergy_is_correlated_with_norm_as_asked():
    toy = simulate_toy(0.0, 0.6, seed=0, n_layers=40, n_heads=25)
    r = np.corrcoef(toy["synergy"].reshape(-1), toy["norm"].reshape(-1))[0, 1]
    assert abs(r - 0.6) < 0.08


def test_rule_error_rates_on_the_toy():
    table = validate(N_REPLICATES, n_orders=60, n_bootstrap=200).set_index(["beta", "correlation"])
    planted, null, confounded = table.loc[(0.5, 0.0)], table.loc[(0.0, 0.0)], table.loc[(0.0, 0.6)]
    assert planted["supported"] >= 0.95
    assert null["supported"] <= 0.05
    assert confounded["supported"] <= 0.05
    # the old rule (synergy order against the norm order) misses the planted effect
    assert planted["old_rule_supported"] <= 0.05
