"""The claim-1 rule: right on every battery system, under MMI and CCS; pure decision;
round trip; words."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from synergy_utils.report.claims.battery import battery_system
from synergy_utils.report.claims.core import (
    CORE_RULE,
    RELIABILITY_GATE,
    assess_core,
    core_paragraph,
    core_verdict,
    minimum_detectable_effect,
)
from synergy_utils.simulation import BATTERY, SYSTEMS, simulate
from synergy_utils.summary import (
    BlockTest,
    CoreAssessment,
    CoreEvidence,
    Test,
    from_dict,
    to_dict,
)

#: Seeds of the battery test per redundancy function, surrogates per pair, derangements and
#: bootstrap resamples (kept modest: the battery runs in about half a minute; the full table,
#: 20 seeds, is in docs/validation.md).
SEEDS = {"mmi": range(5), "ccs": range(2)}
N_SURROGATES = 30
N_DERANGEMENTS = 11
N_BOOTSTRAP = 300

REDUNDANCIES = ["mmi", "ccs"]

_CACHE: dict[str, dict[tuple[str, int], CoreAssessment]] = {}


def battery_assessments(redundancy: str) -> dict[tuple[str, int], CoreAssessment]:
    """Assessments of every battery system for every seed, computed once per redundancy."""
    if redundancy not in _CACHE:
        _CACHE[redundancy] = {
            (name, seed): assess_core(
                battery_system(name, redundancy, seed).values,
                redundancy=redundancy,
                n_surrogates=N_SURROGATES,
                n_derangements=N_DERANGEMENTS,
                n_bootstrap=N_BOOTSTRAP,
                seed=seed,
            )
            for name in BATTERY
            for seed in SEEDS[redundancy]
        }
    return _CACHE[redundancy]


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
@pytest.mark.parametrize("name", BATTERY)
def test_rule_is_right_on_every_battery_system(name, redundancy):
    results = battery_assessments(redundancy)
    wrong = [
        (seed, results[(name, seed)].verdict)
        for seed in SEEDS[redundancy]
        if results[(name, seed)].verdict not in SYSTEMS[name].expected[redundancy]
    ]
    assert not wrong, f"{name} under {redundancy}: wrong verdicts {wrong}"


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
def test_false_positives_and_the_mde_in_every_verdict(redundancy):
    """No system without a core is ever supported; every verdict carries a finite MDE, and a
    "not supported" that is not a reversal states it."""
    results = battery_assessments(redundancy)
    for name in BATTERY:
        no_core = SYSTEMS[name].truth == "no core"
        if no_core and not (name == "crossed_transfer" and redundancy == "mmi"):
            assert all(results[(name, s)].verdict != "supported" for s in SEEDS[redundancy])
        for s in SEEDS[redundancy]:
            a = results[(name, s)]
            assert math.isfinite(minimum_detectable_effect(a.evidence))
            if a.verdict == "not supported" and "outer layers" not in a.reason:
                assert "nats per pair or more (80 % power" in a.reason


#: A study-like shape for the power test (fewer heads than a real model: 72 heads, 2,556
#: pairs), and its seeds per redundancy function.
STUDY_SHAPE = {"n_prompts": 40, "n_steps": 100, "n_layers": 12, "n_heads": 6}
POWER_SEEDS = {"mmi": range(5), "ccs": range(3)}


@pytest.mark.parametrize("redundancy", ["mmi", pytest.param("ccs", marks=pytest.mark.slow)])
def test_a_weak_core_is_found_and_common_input_is_not(redundancy):
    """The weak middle core (about 0.01 nats per pair) is supported in >= 80 % of seeds, the
    same heads with a shared input and no synergy never, at a study-like shape."""
    found, fooled = [], []
    for seed in POWER_SEEDS[redundancy]:
        for name, out in (("weak_middle_core", found), ("common_input", fooled)):
            values = battery_system(name, redundancy, seed, **STUDY_SHAPE).values
            a = assess_core(values, redundancy=redundancy, n_surrogates=N_SURROGATES,
                            n_derangements=20, n_bootstrap=N_BOOTSTRAP, seed=seed)  # fmt: skip
            out.append(a.verdict == "supported")
    assert sum(found) / len(found) >= 0.8
    assert not any(fooled)


def test_named_expectations():
    """The edge core is rejected because the outer layers carry more; under MMI the raw
    rank-gradient statistic is fooled by edge redundancy, the rule is not; common input
    (no synergy) is never read as outer-layer synergy."""
    results = battery_assessments("mmi")
    for seed in SEEDS["mmi"]:
        edge = results[("edge_core", seed)]
        assert edge.verdict == "not supported" and "outer layers carry more" in edge.reason
        assert results[("middle_core", seed)].verdict == "supported"
        assert "outer layers" not in results[("common_input", seed)].reason
    fooled = [results[("edge_redundancy", s)].evidence.raw_inverted_u.beats_null
              for s in SEEDS["mmi"]]  # fmt: skip
    assert sum(fooled) >= len(fooled) - 1  # the old rule would say "supported" here
    assert all(results[("edge_redundancy", s)].verdict != "supported" for s in SEEDS["mmi"])


def _t(value, low, high, p=0.01) -> Test:
    return Test(value, low, high, p)


def _block(null, adjusted, middle=(0.02, 0.01, 0.03), outer=(0.0, -0.001, 0.001),
           raw=(0.02, 0.01, 0.03), mde=0.004, reliability=0.9) -> BlockTest:  # fmt: skip
    return BlockTest(
        null=null, middle=_t(*middle), outer=_t(*outer), raw_contrast=_t(*raw),
        adjusted_contrast=_t(*adjusted), middle_rtr=_t(0.0, -0.001, 0.001),
        dominance=_t(*middle), se=mde / 2.8,
        mde=mde, power=0.8, reliability=reliability, persistence_corr=0.0, n_middle_pairs=10,
        n_outer_pairs=10, n_pairs=30,
    )  # fmt: skip


def _evidence(circular: BlockTest | None, shuffle: BlockTest | None, k=100) -> CoreEvidence:
    test = _t(0.0, -0.001, 0.001, 0.5)
    blocks = {b.null: b for b in (circular, shuffle) if b is not None}
    return CoreEvidence(
        quantity="sts", redundancy="mmi", estimator="gaussian", tau=1, n_prompts=12,
        n_steps=100, n_layers=12, n_heads=4, n_surrogates=k, min_shift=10, closure=True,
        ci_level=0.95, alpha=0.05, middle=test, outer=test, contrast=test, dominance=test,
        layer_delta={}, layer_share=[], middle_share=0.0, outer_share=0.0,
        n_significant_pairs=0, n_pairs=1, blocks=blocks, n_derangements=11,
    )  # fmt: skip


def test_verdict_is_a_pure_function_of_the_numbers():
    up = (0.02, 0.01, 0.03)
    flat = (0.0, -0.002, 0.002, 0.5)
    both = _evidence(_block("circular", up), _block("shuffle", up))
    assert core_verdict(both) == "supported"
    assert core_verdict(_evidence(_block("circular", up), _block("shuffle", up), k=10)) == (
        "inconclusive"
    )  # no usable null
    assert core_verdict(_evidence(_block("circular", up), None)) == "inconclusive"  # one null
    # the nulls disagree
    disagree = _evidence(_block("circular", up), _block("shuffle", flat))
    assert core_verdict(disagree) == "inconclusive"
    # unreliable heads: no core declared
    shaky = _evidence(_block("circular", up, reliability=RELIABILITY_GATE - 0.1),
                      _block("shuffle", up))  # fmt: skip
    assert core_verdict(shaky) == "inconclusive"
    # above outer pairs but not above the seamless null: a smaller loss, not synergy
    below = (-0.01, -0.02, -0.005)
    loss = _evidence(_block("circular", up), _block("shuffle", up, middle=below))
    assert core_verdict(loss) == "inconclusive"
    # above the null, but less than redundancy above the null
    redundant = _evidence(_block("circular", up), _block("shuffle", up))
    redundant.blocks["shuffle"].dominance = _t(-0.1, -0.12, -0.08)
    assert core_verdict(redundant) == "inconclusive"
    # nothing, with power: not supported, and the MDE is in the reason
    none = _evidence(_block("circular", flat, middle=flat[:3]),
                     _block("shuffle", flat, middle=flat[:3]))  # fmt: skip
    verdict_none = core_verdict(none)
    assert verdict_none == "not supported"
    # nothing, without power: inconclusive
    weak = _evidence(_block("circular", flat, mde=0.05), _block("shuffle", flat, mde=0.05))
    assert core_verdict(weak) == "inconclusive"
    assert core_verdict(none, reference=0.001) == "inconclusive"
    # the outer layers carry more, under both nulls
    rev = dict(raw=(-0.05, -0.07, -0.03), outer=(0.05, 0.03, 0.07), middle=flat[:3])
    reversed_ = _evidence(_block("circular", flat, **rev), _block("shuffle", flat, **rev))
    assert core_verdict(reversed_) == "not supported"
    missing = _evidence(_block("circular", up), _block("shuffle", up))
    missing.blocks["shuffle"].adjusted_contrast.ci_low = None  # as stored for NaN
    assert core_verdict(missing) == "inconclusive"


@pytest.fixture(scope="module")
def small_assessment():
    system = simulate("middle_core", n_prompts=6, n_steps=80, n_layers=6, n_heads=3, seed=5)
    return assess_core(SimpleNamespace(values=system.values), n_shuffles=30, n_bootstrap=200)


def test_n_shuffles_is_an_alias_of_n_surrogates():
    values = simulate("independent", n_prompts=4, n_steps=60, n_layers=3, n_heads=2).values
    with pytest.raises(ValueError, match="not both"):
        assess_core(values, n_surrogates=20, n_shuffles=30)


def test_assessment_numbers_and_round_trip(small_assessment):
    a = small_assessment
    ev = a.evidence
    assert a.verdict in ("supported", "not supported", "inconclusive")
    assert ev.redundancy == "mmi" and ev.n_layers == 6 and ev.n_heads == 3 and ev.n_prompts == 6
    assert ev.middle.ci_low <= ev.middle.value <= ev.middle.ci_high
    assert set(ev.layer_delta) == {"sts", "rtr", "phi_wms"}
    assert set(ev.blocks) == {"circular", "shuffle"} and ev.n_derangements == 5
    assert ev.blocks["shuffle"].n_middle_pairs == 2 * 3 * (2 * 3 - 1) // 2
    assert len(ev.layer_delta["sts"].value) == len(ev.layer_share) == 6
    assert ev.raw_inverted_u.n_null > 0 and math.isfinite(ev.raw_inverted_u.observed)
    stored = to_dict(a)
    text = json.dumps(stored, allow_nan=False)  # plain JSON: NaN became None
    back = from_dict(CoreAssessment, json.loads(text))
    assert back.verdict == a.verdict and core_verdict(back.evidence) == a.verdict
    assert math.isclose(back.evidence.contrast.value, ev.contrast.value)
    assert math.isclose(back.evidence.blocks["shuffle"].mde, ev.blocks["shuffle"].mde)
    assert to_dict(back) == stored
    assert a.rule == CORE_RULE


def test_paragraph_gives_both_nulls_the_mde_and_the_reliability(small_assessment):
    text = core_paragraph(small_assessment)
    assert f"*{small_assessment.verdict}*" in text and "CI" in text and "surrogates" in text
    assert "prompt-shuffle null" in text and "circular-shift null" in text
    assert "80 % power" in text and "split-half reliability" in text
    assert "rank-gradient" in text
