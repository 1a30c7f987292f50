"""Claim 4 given norm on a tiny model (``stages.given_norm``): single-head damage and window
areas against direct computations, and the study's modes and errors."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.lm import interventions, teacher_forcing
from synergy_utils.stages.given_norm import given_norm_study, single_head_damage, window_areas

from .test_ablation import (
    CONT,
    N_HEADS,
    N_LAYERS,
    _one_thread,  # noqa: F401  (autouse: tiny models run on one thread)
    tiny_model,
)


def _batch():
    return teacher_forcing.teacher_forced_batch(CONT, share_prefix=False)


def test_single_head_damage_is_each_head_removed_alone():
    model, batch = tiny_model("llama"), _batch()
    damage = single_head_damage(model, batch)
    assert damage.shape == (N_LAYERS, N_HEADS, batch.n_prompts)
    clean = teacher_forcing.clean_pass(model, batch)
    for layer, head in [(0, 1), (1, 3)]:
        with interventions.ablated(model, [(layer, head)]):
            kl = teacher_forcing.teacher_forced_kl(model, batch, clean)["kl_clean_ablated"]
        np.testing.assert_allclose(damage[layer, head], kl.double().numpy(), rtol=1e-5, atol=1e-7)
    assert (damage > 0).all()


def test_window_areas_are_trapezoids_of_the_kl_curve():
    model, batch = tiny_model("llama"), _batch()
    order = np.array([[1, 2], [0, 0], [1, 1], [0, 3], [0, 1], [1, 0], [0, 2], [1, 3]])
    counts = [0, 2, 4]
    area = window_areas(model, batch, order[None], counts)
    kl = teacher_forcing.kl_under_ablation(model, batch, [order[:n].tolist() for n in counts])
    x = np.array(counts) / len(order)
    np.testing.assert_allclose(area[0], np.trapezoid(kl[:, :, 0], x, axis=0))


def test_the_study_runs_every_mode_and_refuses_bad_ones():
    model, batch = tiny_model("llama"), _batch()
    rng = np.random.default_rng(0)
    core = rng.normal(size=(2, N_LAYERS, N_HEADS))
    norm, info = rng.lognormal(size=(N_LAYERS, N_HEADS)), rng.random((N_LAYERS, N_HEADS))
    means = interventions.head_mean_outputs(model, batch)
    result = given_norm_study(
        model, batch, core, norm, info, window=0.5, fraction_step=0.25, n_matched=2,
        means=means, n_bootstrap=50,
    )  # fmt: skip
    assert set(result.contrasts) == {"zero", "mean", "resample"}
    assert result.contrasts["zero"].n_rankings == 2
    assert result.contrasts["mean"].n_rankings == 1
    areas = result.areas["area"]
    assert areas.sizes == {"mode": 3, "ranking": 2, "order": 3, "prompt": batch.n_prompts}
    assert np.isnan(areas.sel(mode="mean", ranking=1)).all()
    assert not np.allclose(areas.sel(mode="zero"), areas.sel(mode="mean"))
    assert result.single_head["kl"].shape == (N_LAYERS, N_HEADS, batch.n_prompts)
    with pytest.raises(ValueError, match="modes"):
        given_norm_study(model, batch, core, norm, info, modes=("mean",), means=means)
    with pytest.raises(ValueError, match="means"):
        given_norm_study(model, batch, core, norm, info, modes=("zero", "mean"))


def test_a_sample_of_single_heads_is_measured_and_fitted_alone():
    from synergy_utils.stages.given_norm import single_head_sample
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    model, batch = tiny_model("llama"), _batch()
    chosen = single_head_sample((N_LAYERS, N_HEADS), 5, seed=1)
    assert chosen.sum() == 5 and single_head_sample((2, 4), 0).all()
    np.testing.assert_array_equal(chosen, single_head_sample((N_LAYERS, N_HEADS), 5, seed=1))
    damage = single_head_damage(model, batch, heads=chosen)
    assert np.isfinite(damage[chosen]).all() and np.isnan(damage[~chosen]).all()
    np.testing.assert_allclose(damage[chosen], single_head_damage(model, batch)[chosen])
    rng = np.random.default_rng(0)
    grid = (12, 9)
    synergy, norm, info = rng.normal(size=grid), rng.lognormal(size=grid), rng.random(grid)
    full_damage = norm + 0.5 * synergy + rng.normal(0, 0.3, grid)
    sample = single_head_sample(grid, 60, seed=2)
    masked = np.where(sample, full_damage, np.nan)
    found = synergy_coefficient(masked, synergy, norm, info, n_bootstrap=100, heads=sample)
    assert found.n_heads == 60
    with pytest.raises(ValueError, match="NaN"):
        synergy_coefficient(masked, synergy, norm, info, n_bootstrap=100)


def test_tested_order_ranks_highest_first_and_puts_unscored_heads_last():
    from synergy_utils.stages.given_norm import tested_order

    core = np.array([[0.1, np.nan, 0.5], [0.3, -0.2, np.nan]])
    order = tested_order(core)
    assert order.tolist() == [[0, 2], [1, 0], [0, 0], [1, 1], [0, 1], [1, 2]]
    assert np.isnan(core[0, 1])  # the input is left alone
