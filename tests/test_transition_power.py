"""Claim 3 with power (``synergy_utils.report.claims.transition_power``): testability, the
power of the rule against planted steps, and the verdict that needs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synergy_utils.report.claims import transition_power as tp
from synergy_utils.report.claims.transition import TRANSITION, family_verdict
from synergy_utils.stages.phase_analysis import pooled_spread
from synergy_utils.summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

#: A design with the power to see the stated step: 11 levels, 20 prompts, 12 null sweeps.
POWERED = {"levels": np.arange(1, 12, dtype=float), "n_items": 20, "n_null": 12}


def test_distinct_offsets_follow_the_surrogates_minimum_shift():
    # T = 7: min shift 3 -> offsets 3, 4 (2); T = 16: min shift 3 -> 11; T = 100: 81
    assert [tp.distinct_offsets(t) for t in (4, 7, 12, 16, 100)] == [0, 2, 7, 11, 81]


def test_testability_names_every_reason():
    good = tp.testability([0.95, 0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1], n_steps=16)
    assert good["testable"] and good["reasons"] == [] and good["cliff_index"] == 4
    first = tp.testability([0.4, 0.3, 0.2, 0.1, 0.1, 0.0, 0.0, 0.0], n_steps=16)
    assert not first["testable"] and "already at the first level" in first["reasons"][0]
    never = tp.testability([1.0, 0.9, 0.9, 0.8, 0.7, 0.6, 0.6, 0.5], n_steps=16)
    assert "beyond the last level" in never["reasons"][0]
    last = tp.testability([1.0, 0.9, 0.9, 0.8, 0.7, 0.6, 0.6, 0.4], n_steps=16)
    assert "at the last level" in last["reasons"][0]
    few = tp.testability([0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.1], n_steps=16)
    assert few["reasons"] == ["3 levels at or above 50 % accuracy and 4 below (at least 4 "
                              "needed on each side)"]  # fmt: skip
    short = tp.testability([0.95, 0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1], n_steps=9)
    assert "4 distinct surrogate offsets" in short["reasons"][0]
    with pytest.raises(ValueError, match="accuracy"):
        tp.testability([0.5, np.nan], n_steps=16)


def test_the_stated_step_is_found_and_a_null_sweep_is_not_called_a_transition():
    """The done-when of the power check: at a design with power, the stated step is found in
    >= 80 % of seeds and a sweep without a step is called a transition in <= 5 %."""
    found = tp.step_power(**POWERED, step_sd=tp.STATED_STEP_SD, n_seeds=30, seed=100)
    false = tp.step_power(**POWERED, step_sd=0.0, n_seeds=30, seed=200)
    assert found >= 0.8, found
    assert false <= 0.05, false


def test_the_planted_sweep_is_in_sds_and_power_grows_with_the_step():
    levels, values, null = tp.planted_step_sweep(np.arange(1, 8.0), 4000, 3, 3.0, seed=1)
    assert values.shape == (7, 4000) and null.shape == (3, 7, 4000)
    assert values[0].mean() == pytest.approx(0.0, abs=0.1)  # plateau 0 ...
    assert values[-1].mean() == pytest.approx(3.0, abs=0.1)  # ... and 3 SDs
    assert values[3].std() == pytest.approx(tp.PEAK_SD_RATIO, rel=0.1)  # peak at the midpoint
    assert null.std() == pytest.approx(1.0, rel=0.05)
    small = tp.power_curve(np.arange(1, 8.0), 10, 6, steps_sd=(0.0, 8.0), n_seeds=10)
    assert small["power"].iloc[0] < small["power"].iloc[1]


def test_smallest_detectable_step_interpolates_and_says_nan_when_out_of_reach():
    curve = pd.DataFrame({"step_sd": [1.0, 2.0, 4.0], "power": [0.2, 0.6, 1.0]})
    assert tp.smallest_detectable_step(curve) == pytest.approx(3.0)
    assert np.isnan(tp.smallest_detectable_step(curve.assign(power=[0.1, 0.2, 0.3])))
    assert tp.smallest_detectable_step(curve.assign(power=[0.9, 1, 1])) == 1.0


def test_pooled_spread_is_the_within_level_sd():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 400)) * 0.3 + np.arange(5)[:, None]  # means differ by level
    values[0, :10] = np.nan
    assert pooled_spread(values) == pytest.approx(0.3, rel=0.05)
    assert np.isnan(pooled_spread(np.full((3, 1), 1.0)))


def _family(finding: str, testable: bool, power: float) -> dict:
    check = {
        "testable": testable,
        "reasons": [] if testable else ["the cliff sits at the last level"],
    }
    return {"finding": finding, "power": {"testability": check, "power": power}}


@pytest.mark.parametrize(
    "families, verdict",
    [
        ({"a": _family("no change", True, 0.9), "b": _family("smooth drift", True, 0.85)},
         NOT_SUPPORTED),
        ({"a": _family("no change", True, 0.9), "b": _family("no change", True, 0.3)},
         INCONCLUSIVE),
        ({"a": _family("no change", True, 0.9), "b": _family("no change", False, 0.9)},
         INCONCLUSIVE),
        ({"a": _family(TRANSITION, True, 0.9), "b": _family("no change", True, 0.9)},
         INCONCLUSIVE),
        ({"a": _family(TRANSITION, True, 0.9), "b": _family(TRANSITION, True, 0.2),
          "c": _family("no change", False, 0.0)}, SUPPORTED),
    ],
)  # fmt: skip
def test_the_verdict_needs_power_for_not_supported(families, verdict):
    result = tp.power_verdict(families)
    assert result["verdict"] == verdict, result
    assert result["reason"]
    assert family_verdict(families)["verdict"] == verdict  # the landing page's path


def test_an_underpowered_verdict_says_which_family_and_why():
    result = tp.power_verdict({"a": _family("no change", True, 0.2),
                               "b": _family("no change", False, 0.0)})  # fmt: skip
    assert "a had power 20 %" in result["reason"]
    assert "b is not testable (the cliff sits at the last level)" in result["reason"]


def test_family_power_reads_the_analysis():
    analysis = {"levels": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "n_analysed": [6] * 8,
                "n_null": 4, "spread": 0.002, "steps": {"min": [16] * 8}}  # fmt: skip
    out = tp.family_power(analysis, [0.9, 0.9, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1], n_seeds=3)
    assert out["testability"]["testable"]
    assert out["stated_step"] == pytest.approx(tp.STATED_STEP_SD * 0.002)
    assert 0 <= out["power"] <= 1 and len(out["curve"]) == len({*tp.STEP_GRID_SD, 3.0})
    assert out["design"] == {"n_levels": 8, "n_items": 6, "n_null": 4}
