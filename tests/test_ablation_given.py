"""The claim-4 rule given norm and layer (``report.claims.ablation_given``): each verdict from
evidence of known position, and the round trip through the summary codec."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synergy_utils.report.claims.ablation_given import (
    REFERENCE_EFFECT,
    GivenAssessment,
    GivenEvidence,
    assess,
    evidence,
    paragraph,
)
from synergy_utils.schema import from_dict, to_dict
from synergy_utils.summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED


def _evidence(coef, contrast):
    return GivenEvidence(*coef, 0.1, *contrast, 1.0, 1.2, 200, 50)


def test_each_verdict_of_the_rule():
    assert assess(_evidence((0.3, 0.2, 0.4), (5.0, 1.0, 9.0))).verdict == SUPPORTED
    below = REFERENCE_EFFECT / 2
    assert assess(_evidence((0.0, -0.05, below), (5.0, 1.0, 9.0))).verdict == NOT_SUPPORTED
    for coef, contrast in (
        ((0.3, 0.2, 0.4), (0.5, -1.0, 2.0)),  # the contrast does not confirm
        ((0.1, -0.1, 0.3), (5.0, 1.0, 9.0)),  # the coefficient is undecided
        ((0.1, -0.1, 0.3), (0.5, -1.0, 2.0)),
        ((np.nan, np.nan, np.nan), (0.5, -1.0, 2.0)),
    ):
        found = assess(_evidence(coef, contrast))
        assert found.verdict == INCONCLUSIVE and found.reason


def test_assessment_round_trips_and_is_worded():
    found = assess(_evidence((0.0, -0.05, 0.1), (5.0, 1.0, 9.0)))
    text = paragraph(found)
    assert "not supported" in text and "minimum detectable effect" in text
    back = from_dict(GivenAssessment, to_dict(found), "given")
    assert dataclasses.asdict(back) == dataclasses.asdict(found)


def test_evidence_from_the_stage_statistics():
    from synergy_utils.stages.matched_orders import matched_contrast
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    rng = np.random.default_rng(0)
    norm = rng.lognormal(0, 0.3, (12, 10))
    synergy = rng.normal(size=norm.shape)
    damage = norm + 0.5 * norm.std() * synergy + 0.3 * norm.std() * rng.normal(size=norm.shape)
    coef = synergy_coefficient(damage, synergy, norm, rng.normal(size=norm.shape), 200, 1)
    matched = 10 + rng.normal(size=(50, 8))
    found = evidence(coef, matched_contrast(matched.mean(axis=0) + 5, matched, 500, 1))
    assert found.n_heads == 120 and found.n_orders == 50
    assert assess(found).verdict == SUPPORTED


def test_ranking_replicates_enter_the_coefficient_interval():
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    rng = np.random.default_rng(2)
    synergy = rng.normal(size=(12, 9))
    norm, info = rng.lognormal(size=(12, 9)), rng.random((12, 9))
    damage = norm + 0.3 * synergy + rng.normal(0, 0.5, (12, 9))
    rankings = np.stack([synergy] + [synergy + rng.normal(0, 1.0, synergy.shape) for _ in range(4)])
    fixed = synergy_coefficient(damage, synergy, norm, info, n_bootstrap=500)
    noisy = synergy_coefficient(damage, rankings, norm, info, n_bootstrap=500)
    assert noisy.value == pytest.approx(fixed.value)
    assert noisy.n_rankings == 5 and fixed.n_rankings == 1
    assert noisy.ci_low < fixed.ci_low  # noisier rankings weaken the slope


def _supported_statistics(seed: int):
    """A coefficient and a matched contrast that both lie above 0 (synergy matters)."""
    from synergy_utils.stages.matched_orders import matched_contrast
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    rng = np.random.default_rng(seed)
    synergy = rng.normal(size=(12, 9))
    norm, info = rng.lognormal(size=(12, 9)), rng.random((12, 9))
    damage = norm + 0.6 * synergy + rng.normal(0, 0.3, (12, 9))
    coef = synergy_coefficient(damage, synergy, norm, info, n_bootstrap=300)
    contrast = matched_contrast(rng.normal(2, 0.1, 15), rng.normal(1, 0.1, (8, 15)), 300)
    return coef, contrast


def test_the_given_section_round_trips_and_feeds_the_landing_page():
    from synergy_utils.report.claims.ablation_given import (
        evidence_from_summary,
        mode_sentence,
        summary_section,
    )
    from synergy_utils.report.tables import claim4_row
    from synergy_utils.stages.given_norm import GivenNormResult
    from synergy_utils.summary import AblationGiven

    coef, contrast = _supported_statistics(3)
    result = GivenNormResult(coef, {"zero": contrast, "mean": contrast}, None, None, 0.4, 0.1)
    assessment = assess(evidence(coef, contrast))
    assert assessment.verdict == SUPPORTED
    section = summary_section(result, assessment, order="core", n_prompts=15, n_single_prompts=4)
    back = from_dict(AblationGiven, to_dict(section), "given")
    assert back == section
    assert assess(evidence_from_summary(back)).verdict == SUPPORTED
    assert "zero" in mode_sentence(back) and "(decides)" in mode_sentence(back)

    from synergy_utils.report.claims.ablation_given import given_estimate
    from synergy_utils.report.tables import fmt_estimate

    text = given_estimate(back, fmt_estimate)
    assert "0–40 %" in text and "1 rankings × 8 matched orders" in text
    assert "confound" in claim4_row(None)[1]  # without the given part: the order comparison


def _with_gap(found: GivenEvidence, gap: tuple[float, float, float]) -> GivenEvidence:
    return dataclasses.replace(
        found, accuracy_gap=gap[0], accuracy_gap_low=gap[1], accuracy_gap_high=gap[2]
    )


def test_accuracy_is_read_beside_kl():
    kl_up = _evidence((0.3, 0.2, 0.4), (5.0, 1.0, 9.0))
    kl_null = _evidence((0.0, -0.05, REFERENCE_EFFECT / 2), (0.1, -1.0, 1.0))
    # accuracy agrees (the order hurts accuracy more) or is undecided: KL decides
    assert assess(_with_gap(kl_up, (-0.2, -0.3, -0.1))).verdict == SUPPORTED
    assert assess(_with_gap(kl_up, (0.0, -0.1, 0.1))).verdict == SUPPORTED
    # KL says the order hurts more, accuracy says less: the measures disagree
    split = assess(_with_gap(kl_up, (0.2, 0.1, 0.3)))
    assert split.verdict == INCONCLUSIVE and "disagree" in split.reason
    assert "+0.20 [+0.10, +0.30]" in split.reason and "Task accuracy" in paragraph(split)
    # not supported by KL while accuracy says the order hurts more: stated, verdict kept
    stated = assess(_with_gap(kl_null, (-0.2, -0.3, -0.1)))
    assert stated.verdict == NOT_SUPPORTED and "accuracy disagrees" in stated.reason
    assert "accuracy" not in assess(_with_gap(kl_null, (0.1, 0.05, 0.2))).reason
    assert "Task accuracy" not in paragraph(assess(kl_null))  # no gap measured


def test_the_accuracy_gap_survives_the_summary():
    from synergy_utils.report.claims.ablation_given import evidence_from_summary, summary_section
    from synergy_utils.stages.given_norm import GivenNormResult
    from synergy_utils.summary import AblationGiven

    coef, contrast = _supported_statistics(4)
    result = GivenNormResult(coef, {"zero": contrast}, None, None, 0.4, 0.1)
    gap = {"value": 0.25, "ci_low": 0.1, "ci_high": 0.4}
    assessment = assess(evidence(coef, contrast, accuracy=gap))
    assert assessment.verdict == INCONCLUSIVE
    section = summary_section(
        result, assessment, order="core", n_prompts=15, n_single_prompts=4, accuracy_fraction=0.25
    )
    back = from_dict(AblationGiven, to_dict(section), "given")
    assert back.accuracy_gap.value == 0.25 and back.accuracy_fraction == 0.25
    assert assess(evidence_from_summary(back)).verdict == INCONCLUSIVE
