"""The claim-1 core as a removal order (``stages.core_order``): against a slow reference, on
planted cores of known heads, against the persistence confound, and its ranking replicates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from synergy_utils.simulation import simulate
from synergy_utils.stages.core_block import head_persistence
from synergy_utils.stages.core_order import core_rankings, core_scores, ranking_replicates
from synergy_utils.stats.pair_null import null_corrected_atoms


def _reference(delta_sts, delta_rtr, persistence):
    """Obvious loops: pair means, the block regression with region terms, covariates removed,
    each head's mean over its partners."""
    n_layers, n_heads = persistence.shape
    n = n_layers * n_heads
    middle = range(n_layers // 3, n_layers - n_layers // 3)
    rho = np.clip(persistence.reshape(-1), -0.999999, 0.999999)
    s = -0.5 * np.log(1 - rho**2)
    rows, targets, pairs = [], [], []
    for i in range(n):
        for j in range(i + 1, n):
            sts = np.mean([(p[i, j] + p[j, i]) / 2 for p in delta_sts])
            rtr = np.mean([(p[i, j] + p[j, i]) / 2 for p in delta_rtr])
            inside = (i // n_heads in middle) + (j // n_heads in middle)
            rows.append([1, inside == 2, inside == 1, s[i] + s[j], min(s[i], s[j]), rtr])
            targets.append(sts)
            pairs.append((i, j))
    x, y = np.array(rows, dtype=float), np.array(targets)
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    adjusted = y - x[:, 3:] @ coef[3:]
    score = np.zeros(n)
    for (i, j), value in zip(pairs, adjusted, strict=True):
        score[i] += value / (n - 1)
        score[j] += value / (n - 1)
    return score.reshape(n_layers, n_heads)


def _random_inputs(seed=0, n_prompts=4, n_layers=6, n_heads=3):
    rng = np.random.default_rng(seed)
    n = n_layers * n_heads
    sts = rng.normal(0, 0.01, (n_prompts, n, n))
    rtr = rng.normal(0, 0.01, (n_prompts, n, n)) + 0.3 * sts
    for a in (sts, rtr):
        a[:, np.arange(n), np.arange(n)] = np.nan
    return sts, rtr, rng.uniform(0.1, 0.8, (n_layers, n_heads))


def test_core_scores_match_the_slow_reference():
    sts, rtr, rho = _random_inputs()
    np.testing.assert_allclose(core_scores(sts, rtr, rho), _reference(sts, rtr, rho), atol=1e-12)


def _planted(name, seed):
    system = simulate(name, n_prompts=8, n_steps=100, n_layers=9, n_heads=4, seed=seed)
    nulls = null_corrected_atoms(system.values, atoms=("sts", "rtr"), n_surrogates=20, seed=seed)
    per_prompt = nulls["delta_prompt"]
    inputs = (
        per_prompt.sel(atom="sts").values,
        per_prompt.sel(atom="rtr").values,
        head_persistence(system.values),
    )
    return system, nulls, inputs


@pytest.mark.parametrize("name", ["sparse_core", "middle_core"])
def test_the_order_recovers_a_planted_core(name):
    """The top-k heads of the order (k the core's size) are the planted core's: >= 80 % shared
    in every one of three seeds. (Known limit, in docs/ablation.md: when the core's heads are
    also by far the most persistent, ``core_rising_persistence``, the persistence terms take
    part of the core away, and 4 of its 6 heads are found.)"""
    for seed in range(3):
        system, _, inputs = _planted(name, seed)
        scores = core_scores(*inputs)
        k = int(system.group.sum())
        top = set(np.argsort(-scores.reshape(-1))[:k].tolist())
        planted = set(np.flatnonzero(system.group.reshape(-1)).tolist())
        assert len(top & planted) / k >= 0.8, (name, seed, len(top & planted), k)


def test_a_pure_persistence_effect_is_removed():
    """Pair synergy that only falls with the pair's persistence (what shared drive does to MMI
    synergy): the raw partner mean follows persistence, the core score does not."""
    rng = np.random.default_rng(4)
    n_layers, n_heads, n_prompts = 9, 4, 6
    rho = rng.uniform(0.1, 0.9, (n_layers, n_heads))
    s = -0.5 * np.log(1 - rho.reshape(-1) ** 2)
    n = s.size
    effect = -0.02 * (s[:, None] + s[None, :])
    sts = effect + rng.normal(0, 0.002, (n_prompts, n, n))
    rtr = rng.normal(0, 0.002, (n_prompts, n, n))
    for a in (sts, rtr):
        a[:, np.arange(n), np.arange(n)] = np.nan
    pair_mean = sts.mean(axis=0)
    raw = np.array([np.delete(pair_mean[i], i).mean() for i in range(n)])
    assert sps.spearmanr(raw, rho.reshape(-1)).statistic < -0.9
    core = core_scores(sts, rtr, rho).reshape(-1)
    assert abs(sps.spearmanr(core, rho.reshape(-1)).statistic) < 0.4


def test_ranking_replicates_resample_the_ranking_prompts():
    sts, rtr, rho = _random_inputs(seed=1, n_prompts=6)
    replicates = ranking_replicates(sts, rtr, rho, 4, seed=2)
    assert replicates.shape == (4,) + rho.shape
    assert not np.allclose(replicates[0], replicates[1])
    np.testing.assert_array_equal(replicates, ranking_replicates(sts, rtr, rho, 4, seed=2))
    rankings = core_rankings(sts, rtr, rho, 3, seed=2)
    np.testing.assert_allclose(rankings[0], core_scores(sts, rtr, rho))
    np.testing.assert_allclose(rankings[1:], ranking_replicates(sts, rtr, rho, 2, seed=2))
    assert core_rankings(sts, rtr, rho, 1).shape == (1,) + rho.shape


def test_bad_shapes_and_counts_are_refused():
    sts, rtr, rho = _random_inputs()
    with pytest.raises(ValueError, match="n_prompts, N, N"):
        core_scores(sts[:, :-1], rtr, rho)
    with pytest.raises(ValueError, match="persistence"):
        core_scores(sts, rtr, rho[:-1])
    with pytest.raises(ValueError, match="n_rankings"):
        ranking_replicates(sts, rtr, rho, 0)
