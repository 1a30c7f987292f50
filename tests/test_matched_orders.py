"""Matched random orders and their contrast (``stages.matched_orders``): strata kept head for
head, draws that are permutations and differ across seeds, and the contrast's interval."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.stages.matched_orders import (
    head_strata,
    layer_bins,
    matched_contrast,
    matched_random_orders,
    quantile_bins,
    score_order,
    stratum_sequence,
)


def _grid(seed: int = 0, n_layers: int = 12, n_heads: int = 9):
    rng = np.random.default_rng(seed)
    norm = rng.lognormal(0.0, 0.4, (n_layers, n_heads)) * (1 + np.arange(n_layers)[:, None] / 6)
    scores = rng.normal(size=(n_layers, n_heads)) + 0.5 * np.log(norm)
    return scores, norm


def test_bins_have_equal_counts_and_thirds_of_depth():
    values = np.random.default_rng(1).normal(size=200)
    bins = quantile_bins(values, 10)
    assert np.bincount(bins).tolist() == [20] * 10
    order = np.argsort(values)
    assert np.all(np.diff(bins[order]) >= 0)  # bins follow the ranks
    assert layer_bins(30).tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert layer_bins(4).tolist() == [0, 0, 1, 2]


def test_strata_are_layer_third_by_norm_decile():
    _, norm = _grid()
    strata = head_strata(norm)
    assert strata.shape == norm.shape
    np.testing.assert_array_equal(strata // 10, layer_bins(12)[:, None] + 0 * strata)
    np.testing.assert_array_equal(strata % 10, quantile_bins(norm, 10))


def test_every_draw_keeps_the_tested_stratum_sequence():
    scores, norm = _grid()
    tested = score_order(scores)
    strata = head_strata(norm)
    draws = matched_random_orders(scores, {"norm": norm}, n_orders=25, seed=3)
    assert draws.shape == (25, scores.size, 2)
    want = stratum_sequence(tested, strata)
    for draw in draws:
        np.testing.assert_array_equal(stratum_sequence(draw, strata), want)
        flat = draw[:, 0] * scores.shape[1] + draw[:, 1]
        assert sorted(flat.tolist()) == list(range(scores.size))  # without replacement
    assert not np.array_equal(draws[0], tested)


def test_draws_differ_across_seeds_and_repeat_with_the_same_seed():
    scores, norm = _grid()
    a = matched_random_orders(scores, norm, n_orders=4, seed=0)
    b = matched_random_orders(scores, norm, n_orders=4, seed=1)
    np.testing.assert_array_equal(a, matched_random_orders(scores, norm, n_orders=4, seed=0))
    assert not np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_the_tested_order_is_the_highest_score_first():
    scores = np.array([[0.0, 3.0], [2.0, 2.0]])
    assert score_order(scores).tolist() == [[0, 1], [1, 0], [1, 1], [0, 0]]


def test_bad_inputs_are_refused():
    scores, norm = _grid()
    with pytest.raises(ValueError, match="n_orders"):
        matched_random_orders(scores, norm, n_orders=0)
    with pytest.raises(ValueError, match="shape"):
        matched_random_orders(scores, norm[:6], n_orders=2)
    with pytest.raises(ValueError, match="NaN"):
        matched_random_orders(scores, np.full_like(norm, np.nan), n_orders=2)


def test_contrast_is_a_permutation_test_over_orders_and_prompts():
    rng = np.random.default_rng(0)
    matched = 10 + rng.normal(size=(200, 1)) + 0.1 * rng.normal(size=(200, 16))
    typical = matched[7]
    found = matched_contrast(typical, matched, n_bootstrap=2000, seed=1)
    assert found.ci_low < 0 < found.ci_high  # one of the matched orders: no effect
    assert found.n_orders == 200 and found.n_prompts == 16
    assert found.value == pytest.approx(typical.mean() - matched.mean())
    strong = matched.mean(axis=0) + 4.0
    found = matched_contrast(strong, matched, n_bootstrap=2000, seed=1)
    assert found.ci_low > 0 and found.share_beaten == 1.0
    assert found.ratio == pytest.approx(strong.mean() / matched.mean())
    # the interval reflects the spread of single orders, not of their mean
    assert found.se == pytest.approx(matched.mean(axis=1).std(), rel=0.15)
    with pytest.raises(ValueError, match="n_prompts"):
        matched_contrast(strong[:3], matched)


def _heads(beta: float, correlation: float, seed: int, n_layers: int = 20, n_heads: int = 10):
    """Damage = norm + beta · sd(norm) · synergy + noise over a grid of heads."""
    rng = np.random.default_rng(seed)
    shape = (n_layers, n_heads)
    norm = rng.lognormal(0.0, 0.3, shape) * (1 + np.arange(n_layers)[:, None] / n_layers)
    z = (norm - norm.mean()) / norm.std()
    synergy = correlation * z + np.sqrt(1 - correlation**2) * rng.normal(size=shape)
    info = 0.3 * synergy + rng.normal(size=shape)
    damage = norm + beta * norm.std() * synergy + 0.5 * norm.std() * rng.normal(size=shape)
    return damage, synergy, norm, info


def test_synergy_coefficient_recovers_the_planted_effect():
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    damage, synergy, norm, info = _heads(0.5, 0.0, seed=0)
    found = synergy_coefficient(damage, synergy, norm, info, n_bootstrap=300, seed=1)
    truth = 0.5 * norm.std() * synergy.std() / damage.std()
    assert found.ci_low > 0 and found.ci_low < truth < found.ci_high
    assert found.mde == pytest.approx(2.8 * found.se, rel=0.01)
    assert found.covariates == ["norm", "self_information", "layer_bin_1", "layer_bin_2"]


def test_synergy_coefficient_is_null_when_synergy_only_tracks_norm():
    from synergy_utils.stages.synergy_regression import design_matrix, synergy_coefficient

    damage, synergy, norm, info = _heads(0.0, 0.6, seed=2)
    raw = np.corrcoef(damage.reshape(-1), synergy.reshape(-1))[0, 1]
    assert raw > 0.3  # synergy alone looks predictive
    found = synergy_coefficient(damage, synergy, norm, info, n_bootstrap=300, seed=1)
    assert found.ci_low < 0 < found.ci_high
    # the OLS fit equals numpy's on the same design
    x, _ = design_matrix(synergy, norm, info)
    beta = np.linalg.lstsq(x, damage.reshape(-1), rcond=None)[0]
    assert found.value == pytest.approx(beta[1] * synergy.std() / damage.std())
    with pytest.raises(ValueError, match="one value per head"):
        synergy_coefficient(damage[:3], synergy, norm, info)


def test_ranking_replicates_widen_the_interval_and_keep_the_value():
    rng = np.random.default_rng(5)
    matched = rng.normal(1.0, 0.05, (3, 6, 20))
    tested = matched[:, 0] + np.array([0.2, -0.1, 0.5])[:, None]  # rankings disagree
    fixed = matched_contrast(tested[0], matched[0], n_bootstrap=2000, seed=1)
    noisy = matched_contrast(tested, matched, n_bootstrap=2000, seed=1)
    assert noisy.value == pytest.approx(fixed.value)
    assert noisy.ratio == pytest.approx(fixed.ratio)
    assert noisy.n_rankings == 3 and fixed.n_rankings == 1
    assert noisy.ci_high - noisy.ci_low > 2 * (fixed.ci_high - fixed.ci_low)
    assert fixed.ratio_low < fixed.ratio < fixed.ratio_high
    with pytest.raises(ValueError, match="n_rankings"):
        matched_contrast(tested, matched[:2])
