"""The revised preprint's geometry rules (report.claims.revised): exact behaviour on
constructed layer profiles, and error rates on toy representations of known truth
(simulation_geometry) across seeds."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from synergy_utils.report.claims import revised
from synergy_utils.schema import from_dict, to_dict
from synergy_utils.simulation_geometry import alignment_stacks, dimension_stack
from synergy_utils.stats.geometry import bootstrap_by_layer, linear_cka, two_nn
from synergy_utils.summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

N_SEEDS = 20
N_BOOTSTRAP = 50


def _profile(per_layer, spread, n_resamples=200, seed=0):
    """Values (layer,) and resamples (layer, resample) scattered around them."""
    values = np.asarray(per_layer, dtype=float)
    rng = np.random.default_rng(seed)
    return values, values[:, None] + spread * rng.standard_normal((values.size, n_resamples))


def test_contrast_and_mde_are_exact_on_a_known_sample():
    samples = np.linspace(-1.0, 1.0, 201)
    c = revised.contrast_of(0.0, samples, 0.95)
    assert c.ci_low == pytest.approx(np.quantile(samples, 0.025))
    # resamples shifted by +0.5 from the value: the interval is recentred on the value
    shifted = revised.contrast_of(0.0, samples + 0.5, 0.95)
    assert (shifted.ci_low, shifted.ci_high) == pytest.approx((c.ci_low, c.ci_high))
    assert shifted.se == pytest.approx(c.se)
    assert c.se == pytest.approx(np.std(samples, ddof=1))
    assert c.mde == pytest.approx((1.959963985 + 0.841621234) * c.se, rel=1e-8)


def test_dimension_rule_on_constructed_profiles():
    control = _profile([8, 8, 8, 8, 8, 8], 0.1, seed=1)
    drop = revised.assess_dimension(*_profile([8, 8, 4, 4, 8, 8], 0.1), *control)
    # middle 4 against outer 8: exactly -50 %
    assert drop.verdict == SUPPORTED and drop.evidence.contrast.value == pytest.approx(-0.5)
    flat = revised.assess_dimension(*_profile([8, 8, 8, 8, 8, 8], 0.1), *control)
    assert flat.verdict == NOT_SUPPORTED
    same_as_control = revised.assess_dimension(
        *_profile([8, 8, 4, 4, 8, 8], 0.1), *_profile([8, 8, 4, 4, 8, 8], 0.1, seed=1)
    )
    assert same_as_control.verdict == NOT_SUPPORTED and "control" in same_as_control.reason
    noisy = revised.assess_dimension(*_profile([8, 8, 7, 7, 8, 8], 3.0), *control)
    assert noisy.verdict == INCONCLUSIVE and "80 % power" in noisy.reason


def test_alignment_rule_on_constructed_profiles():
    different = _profile([0.1] * 6, 0.01, seed=2)
    gain = revised.assess_alignment(*_profile([0.1, 0.1, 0.6, 0.6, 0.1, 0.1], 0.01), *different)
    assert gain.verdict == SUPPORTED
    assert gain.evidence.contrast.value == pytest.approx(0.5)
    assert gain.evidence.middle_gap.value == pytest.approx(0.5)
    flat = revised.assess_alignment(*_profile([0.6] * 6, 0.01), *different)
    assert flat.verdict == NOT_SUPPORTED
    noisy = revised.assess_alignment(*_profile([0.1, 0.1, 0.2, 0.2, 0.1, 0.1], 0.5), *different)
    assert noisy.verdict == INCONCLUSIVE and "80 % power" in noisy.reason


def test_assessments_round_trip_and_are_worded():
    control = _profile([8] * 6, 0.1, seed=1)
    dim = revised.assess("dimension", *_profile([8, 8, 4, 4, 8, 8], 0.1), *control)
    ali = revised.assess("alignment", *_profile([0.5] * 6, 0.1), *_profile([0.1] * 6, 0.1))
    for a, cls in ((dim, revised.DimensionAssessment), (ali, revised.AlignmentAssessment)):
        assert from_dict(cls, to_dict(a)) == a
        text = revised.paragraph(a)
        assert a.verdict in text and a.reason in text and "80 % power" in text
    assert dim.rule == revised.DIMENSION_RULE and ali.rule == revised.ALIGNMENT_RULE
    with pytest.raises(ValueError, match="unknown claim"):
        revised.assess("ablation")


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.ones(6), np.ones((5, 10)), np.ones(6), np.ones((6, 10))), "need values"),
        ((np.ones(6), np.ones((6, 10)), np.ones(6), np.ones((6, 12))), "same shape"),
        ((np.ones(6), np.full((6, 10), np.nan), np.ones(6), np.ones((6, 10))), "NaN"),
        ((np.ones(2), np.ones((2, 10)), np.ones(2), np.ones((2, 10))), "at least 3 layers"),
    ],
)
def test_bad_profiles_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        revised.assess_dimension(*args)


def test_the_toy_dimension_stack_has_the_planted_dimensions():
    stack = dimension_stack(n_points=1500, seed=0)
    found = [two_nn(layer) for layer in stack]
    assert found[2:4] == pytest.approx([3, 3], rel=0.1)
    assert found[:2] + found[4:] == pytest.approx([8] * 4, rel=0.1)


def _dimension(stack, seed):
    return bootstrap_by_layer("two_nn", stack, n_bootstrap=N_BOOTSTRAP, seed=seed)


def test_dimension_rule_error_rates_on_toy_layers():
    """Planted middle drop (S^3 in the middle, S^8 outside, 150 points, 40 dimensions)
    against a flat control: found in >= 90 % of seeds. No drop, or the same drop on the
    control: supported in <= 5 % (here: 0 of 20)."""
    counts: dict[str, Counter] = {"planted": Counter(), "none": Counter(), "control": Counter()}
    for seed in range(N_SEEDS):
        flat = _dimension(dimension_stack(middle_dim=8, seed=1000 + seed), seed)
        planted = _dimension(dimension_stack(seed=seed), seed)
        counts["planted"][revised.assess_dimension(*planted, *flat).verdict] += 1
        other = _dimension(dimension_stack(middle_dim=8, seed=2000 + seed), seed + 1)
        counts["none"][revised.assess_dimension(*other, *flat).verdict] += 1
        dropped = _dimension(dimension_stack(seed=3000 + seed), seed + 1)
        counts["control"][revised.assess_dimension(*planted, *dropped).verdict] += 1
    assert counts["planted"][SUPPORTED] >= 0.9 * N_SEEDS
    assert counts["none"][SUPPORTED] <= 0.05 * N_SEEDS
    assert counts["control"][SUPPORTED] <= 0.05 * N_SEEDS
    assert counts["planted"][NOT_SUPPORTED] == 0


def test_alignment_rule_error_rates_on_toy_layers():
    """A known rotation between the vocabularies in the middle third only: found in >= 90 %
    of seeds; the same rotation in every layer, or none: supported in <= 5 %."""
    counts = {case: Counter() for case in ("middle", "all", "none")}
    for seed in range(N_SEEDS):
        for case, tally in counts.items():
            a1, a2, b2 = alignment_stacks(aligned=case, seed=seed)
            same = bootstrap_by_layer(linear_cka, a1, a2, n_bootstrap=N_BOOTSTRAP, seed=seed)
            diff = bootstrap_by_layer(linear_cka, a1, b2, n_bootstrap=N_BOOTSTRAP, seed=seed)
            tally[revised.assess_alignment(*same, *diff).verdict] += 1
    assert counts["middle"][SUPPORTED] >= 0.9 * N_SEEDS
    assert counts["all"][SUPPORTED] <= 0.05 * N_SEEDS
    assert counts["none"][SUPPORTED] <= 0.05 * N_SEEDS
    assert counts["middle"][NOT_SUPPORTED] == 0
