"""The claim-1 rule: right on every battery system, under MMI and CCS; pure decision;
round trip; words."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from synergy_utils.report.claims.core import (
    CORE_RULE,
    assess_core,
    core_paragraph,
    core_verdict,
)
from synergy_utils.simulation import BATTERY, simulate
from synergy_utils.summary import CoreAssessment, CoreEvidence, Test, from_dict, to_dict

#: Seeds of the battery test, surrogates per pair and bootstrap resamples (kept modest so
#: that the whole battery runs in about a minute per redundancy function).
SEEDS = range(10)
N_SURROGATES = 50
N_BOOTSTRAP = 300



REDUNDANCIES = ["mmi", "ccs"]

_CACHE: dict[str, dict[tuple[str, int], CoreAssessment]] = {}


def battery_assessments(redundancy: str) -> dict[tuple[str, int], CoreAssessment]:
    """Assessments of every battery system for every seed, computed once per redundancy."""
    if redundancy not in _CACHE:
        _CACHE[redundancy] = {
            (name, seed): assess_core(
                simulate(name, seed=seed).values,
                redundancy=redundancy,
                n_shuffles=N_SURROGATES,
                n_bootstrap=N_BOOTSTRAP,
                seed=seed,
            )
            for name in BATTERY
            for seed in SEEDS
        }
    return _CACHE[redundancy]


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
@pytest.mark.parametrize("name", BATTERY)
def test_rule_is_right_on_every_battery_system(name, redundancy):
    results = battery_assessments(redundancy)
    wrong = []
    for seed in SEEDS:
        system = simulate(name, seed=seed)
        verdict = results[(name, seed)].verdict
        if not system.right(verdict, redundancy):
            wrong.append((seed, verdict))
    assert not wrong, f"{name} under {redundancy}: wrong verdicts {wrong}"


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
def test_named_expectations(redundancy):
    """The edge core is rejected, the middle core found; crossed transfer is synergy for MMI
    and not for CCS; under MMI the raw rank-gradient statistic is fooled by edge redundancy
    (the rank contrast rewards the outer heads' redundancy)."""
    results = battery_assessments(redundancy)
    for seed in SEEDS:
        assert results[("edge_core", seed)].verdict == "not supported"
        assert results[("middle_core", seed)].verdict == "supported"
        crossed = results[("crossed_transfer", seed)].verdict
        assert crossed == ("supported" if redundancy == "mmi" else "not supported")
    if redundancy == "mmi":
        fooled = [results[("edge_redundancy", s)].evidence.raw_inverted_u.beats_null for s in SEEDS]
        assert sum(fooled) >= 8  # the old rule would say "supported" here


def _evidence(mid, con, dom, share=(0.0, 0.0), k=100) -> CoreEvidence:
    def test(v):
        return Test(*v)

    return CoreEvidence(
        quantity="sts", redundancy="mmi", estimator="gaussian", tau=1, n_prompts=12,
        n_steps=100, n_layers=12, n_heads=4, n_surrogates=k, min_shift=10, closure=True,
        ci_level=0.95, alpha=0.05, middle=test(mid), outer=test(mid), contrast=test(con),
        dominance=test(dom), layer_delta={}, layer_share=[], middle_share=share[0],
        outer_share=share[1], n_significant_pairs=0, n_pairs=1,
    )  # fmt: skip


def test_verdict_is_a_pure_function_of_the_numbers():
    strong = (0.1, 0.08, 0.12, 0.001)
    assert core_verdict(_evidence(strong, strong, strong)) == "supported"
    assert core_verdict(_evidence(strong, strong, strong, k=10)) == "inconclusive"  # no null
    # positive but not beyond the negligible size
    small = (0.004, 0.002, 0.006, 0.001)
    assert core_verdict(_evidence(small, small, small)) == "inconclusive"
    # synergy beyond the null, but less than redundancy beyond the null
    assert core_verdict(_evidence(strong, strong, (-0.05, -0.07, -0.03, 1.0))) == "inconclusive"
    # contrast below 0: the outer layers carry more
    below = (-0.05, -0.07, -0.03, 1.0)
    assert core_verdict(_evidence((0.0, -0.001, 0.001, 0.5), below, below)) == "not supported"
    # middle negligible, no more significant pairs than the outer layers
    null = (0.0, -0.001, 0.001, 0.5)
    assert core_verdict(_evidence(null, null, null)) == "not supported"
    assert core_verdict(_evidence(null, null, null, share=(0.02, 0.0))) == "inconclusive"
    wide = (0.01, -0.02, 0.04, 0.2)
    assert core_verdict(_evidence(wide, wide, wide)) == "inconclusive"
    missing = _evidence(strong, strong, strong)
    missing.middle.ci_low = None  # as stored for NaN
    assert core_verdict(missing) == "inconclusive"
    assert core_verdict(_evidence(strong, strong, strong), negligible=0.2) == "not supported"


@pytest.fixture(scope="module")
def small_assessment():
    system = simulate("middle_core", n_prompts=6, n_steps=80, n_layers=6, n_heads=3, seed=5)
    return assess_core(SimpleNamespace(values=system.values), n_shuffles=30, n_bootstrap=200)


def test_assessment_numbers_and_round_trip(small_assessment):
    a = small_assessment
    ev = a.evidence
    assert a.verdict in ("supported", "not supported", "inconclusive")
    assert ev.redundancy == "mmi" and ev.n_layers == 6 and ev.n_heads == 3 and ev.n_prompts == 6
    assert ev.middle.ci_low <= ev.middle.value <= ev.middle.ci_high
    assert set(ev.layer_delta) == {"sts", "rtr", "phi_wms"}
    assert len(ev.layer_delta["sts"].value) == len(ev.layer_share) == 6
    assert ev.raw_inverted_u.n_null > 0 and math.isfinite(ev.raw_inverted_u.observed)
    stored = to_dict(a)
    text = json.dumps(stored, allow_nan=False)  # plain JSON: NaN became None
    back = from_dict(CoreAssessment, json.loads(text))
    assert back.verdict == a.verdict and core_verdict(back.evidence) == a.verdict
    assert math.isclose(back.evidence.contrast.value, ev.contrast.value)
    assert to_dict(back) == stored
    assert a.rule == CORE_RULE


def test_paragraph_gives_intervals_and_states_equivalence_only_when_shown(small_assessment):
    text = core_paragraph(small_assessment)
    assert small_assessment.verdict.upper() in text and "CI" in text and "surrogates" in text
    assert "rank-gradient" in text and "sign-flip p over prompts" in text
    narrow = from_dict(CoreAssessment, to_dict(small_assessment))
    narrow.evidence.middle = Test(0.0001, -0.001, 0.001, 0.4)
    assert "equivalent to no excess synergy" in core_paragraph(narrow)
    narrow.evidence.middle = Test(0.0001, -0.01, 0.01, 0.4)
    assert "equivalent" not in core_paragraph(narrow)
