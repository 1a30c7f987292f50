"""Circular-shift nulls: offsets, pair masks, the closure, null-corrected atoms, BH, bias."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.phiid import lag_correlation, phi_wms, phiid_pairwise_stack
from synergy_utils.simulation import ar1, simulate, synergistic_group
from synergy_utils.stats.nulls import (
    circular_closure,
    circular_shift,
    default_min_shift,
    draw_offsets,
    empirical_p_value,
    pair_shift_mask,
    relative_offsets,
    rotate,
    shift_null,
    sign_flip_p,
)
from synergy_utils.stats.pair_null import null_corrected_atoms

REDUNDANCIES = ["mmi", "ccs"]

#: Stated bound on the wrap-around bias with the closure (nats, mean Δsts over pairs of
#: independent AR(0.9) heads at T = 100); see docs/validation.md.
WRAP_BOUND = 0.005


def test_original_three_helpers_unchanged():
    x = np.arange(2 * 10 * 3, dtype=float).reshape(2, 10, 3)
    shifted = circular_shift(x, seed=0)
    assert shifted.shape == x.shape
    for p in range(2):
        for n in range(3):  # each series is a rotation of itself
            assert any(np.array_equal(np.roll(x[p, :, n], s), shifted[p, :, n]) for s in range(10))
    assert np.array_equal(shifted, circular_shift(x, seed=0))
    assert shift_null(x, lambda s: float(s[0, 0, 0]), 3, seed=1) == shift_null(
        x, lambda s: float(s[0, 0, 0]), 3, seed=1
    )
    assert empirical_p_value(5.0, [1, 2, 3]) == 0.25
    assert empirical_p_value(0.0, [1, 2, 3]) == 1.0
    assert empirical_p_value(0.0, [1, 2, 3], "less") == 0.25


def test_offsets_masks_and_min_shift():
    assert default_min_shift(100, 1) == 10
    assert default_min_shift(20, 1) == 3  # tau + 2 dominates for short series
    assert default_min_shift(100, 3) == 10 and default_min_shift(30, 3) == 5
    a, b = draw_offsets(50, 12, 100, seed=4), draw_offsets(50, 12, 100, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, draw_offsets(50, 12, 100, seed=5))
    assert a.min() >= 0 and a.max() < 100
    dist = relative_offsets(a, 100)
    mask = pair_shift_mask(a, 100, 10)
    for k in range(50):
        for i in range(12):
            for j in range(12):
                r = (a[k, i] - a[k, j]) % 100
                assert dist[k, i, j] == min(r, 100 - r)
                assert mask[k, i, j] == (min(r, 100 - r) >= 10)
    assert not mask[:, np.arange(12), np.arange(12)].any()
    assert np.array_equal(mask, mask.transpose(0, 2, 1))


def test_closure_makes_own_lag_statistics_rotation_invariant():
    x = ar1([0.9, 0.5], 100, 3, np.random.default_rng(0))  # (3, 100, 2)
    closed = circular_closure(x, tau=1)
    assert closed.shape == (3, 101, 2) and np.array_equal(closed[:, -1], x[:, 0])
    rolled = circular_closure(rotate(x, [17, 63]), tau=1)
    assert np.allclose(lag_correlation(closed, axis=1), lag_correlation(rolled, axis=1))
    # without the closure the rotation moves the end-to-start jump inside the series
    plain = lag_correlation(rotate(x, [17, 63]), axis=1)
    assert not np.allclose(lag_correlation(x, axis=1), plain)


def test_sign_flip_p():
    assert sign_flip_p(np.ones(10)) == pytest.approx(1 / 1024)
    assert sign_flip_p(-np.ones(10)) == 1.0
    assert 0.3 < sign_flip_p(np.r_[np.ones(5), -np.ones(5)]) <= 1.0
    big = sign_flip_p(np.ones(30), n_flips=999, seed=0)
    assert big == pytest.approx(1 / 1000)
    assert np.isnan(sign_flip_p([np.nan]))


@pytest.fixture(scope="module")
def small_nulls():
    system = simulate("middle_core", n_prompts=4, n_steps=60, n_layers=6, n_heads=3, seed=2)
    ds = null_corrected_atoms(system.values, n_surrogates=30, seed=3)
    return system, ds


def test_null_corrected_atoms_layout_and_arithmetic(small_nulls):
    system, ds = small_nulls
    n_nodes = 18
    assert list(ds["atom"].values) == ["sts", "rtr", "phi_wms"]
    assert ds["delta"].shape == (3, n_nodes, n_nodes)
    assert ds["delta_prompt"].shape == (4, 3, n_nodes, n_nodes)
    assert ds["head_delta"].shape == (4, 3, 6, 3)
    assert ds.attrs["min_shift"] == default_min_shift(60) and ds.attrs["closure"] == 1
    off = ds["offsets"].values.reshape(30, n_nodes)
    shift = ds.attrs["min_shift"]
    valid = pair_shift_mask(off, 60, shift)
    # on the closure a pair's surrogate depends only on the relative offset: each distinct
    # relative offset (at least min_shift away from 0) counts once
    distinct = np.zeros((n_nodes, n_nodes), dtype=int)
    for i in range(n_nodes):
        for j in range(n_nodes):
            distinct[i, j] = len(
                {(off[k, i] - off[k, j]) % 60 for k in range(30) if valid[k, i, j]}
            )
    assert np.array_equal(ds["n_valid"].values, distinct)
    assert ds["n_valid"].values.max() <= 60 - 2 * shift + 1
    delta = ds["delta"].values
    assert np.allclose(delta, ds["observed"].values - ds["null_mean"].values, equal_nan=True)
    off_diag = ~np.eye(n_nodes, dtype=bool)
    per_prompt = ds["delta_prompt"].values[:, :, off_diag]
    assert np.allclose(per_prompt.mean(axis=0), delta[:, off_diag])
    head = np.nanmean(ds["delta_prompt"].values, axis=3).reshape(4, 3, 6, 3)
    assert np.allclose(ds["head_delta"].values, head)
    p = ds["p_value"].values[:, off_diag]
    k = ds.attrs["n_surrogates"]
    assert np.all((p >= 1 / (k + 1)) & (p <= 1))
    assert np.all(p >= (1 / (ds["n_valid"].values[off_diag] + 1))[None] - 1e-12)
    assert np.allclose(delta, delta.transpose(0, 2, 1), equal_nan=True)  # symmetric quantities
    p_prompts = ds["p_prompts"].values[:, off_diag]
    assert np.all((p_prompts > 0) & (p_prompts <= 1))
    again = null_corrected_atoms(system.values, n_surrogates=30, seed=3)
    assert again["delta"].equals(ds["delta"]) and again["offsets"].equals(ds["offsets"])


def test_phi_wms_from_atoms_matches_measures(small_nulls):
    system, ds = small_nulls
    closed = circular_closure(system.values.reshape(4, 60, 18))
    direct = phi_wms(phiid_pairwise_stack(closed, 1), axis=0)
    assert np.allclose(ds["observed"].sel(atom="phi_wms").values, direct, equal_nan=True)


def test_group_pairs_are_discovered_and_layer_share(small_nulls):
    system, ds = small_nulls
    sig = ds["significant"].sel(atom="sts").values
    group = system.group.reshape(-1)
    inside = np.outer(group, group) & ~np.eye(18, dtype=bool)
    assert sig[inside].mean() > 0.8 and sig[~np.outer(group, group)].mean() < 0.05
    share = ds["layer_share"].sel(atom="sts").values  # per layer, in [0, 1]
    assert np.all((share >= 0) & (share <= 1)) and share[2:4].min() > share[[0, 1, 4, 5]].max()


def test_bh_rejects_nothing_on_independent_heads_at_the_nominal_rate():
    """Under no interaction at all, the Benjamini–Hochberg discoveries (any pair) happen in
    at most the nominal share of runs (here 0 or 1 run of 8 at alpha = 0.05)."""
    runs_with_discoveries, shares = 0, []
    for seed in range(8):
        system = simulate("independent", n_prompts=6, n_steps=100, n_layers=6, n_heads=4, seed=seed)
        ds = null_corrected_atoms(system.values, atoms=("sts",), n_surrogates=40, seed=seed)
        sig = ds["significant"].sel(atom="sts").values
        runs_with_discoveries += bool(sig.any())
        shares.append(sig.mean())
    assert runs_with_discoveries <= 1 and max(shares) < 0.01


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
def test_wrap_around_bias_is_removed_by_the_closure(redundancy):
    """Independent AR(0.9) heads at T = 100: the plain circular shift makes observed minus
    surrogate MMI synergy clearly positive (no interaction at all); on the closure the mean
    stays within WRAP_BOUND nats under MMI and CCS."""
    rng = np.random.default_rng(11)
    heads = ar1(np.full(24, 0.9), 100, 8, rng).reshape(8, 100, 6, 4)
    upper = np.triu_indices(24, 1)
    fixed = null_corrected_atoms(heads, atoms=("sts",), redundancy=redundancy, n_surrogates=40)
    assert abs(np.nanmean(fixed["delta"].values[0][upper])) < WRAP_BOUND
    assert not fixed["significant"].values.any()
    if redundancy == "mmi":
        naive = null_corrected_atoms(heads, atoms=("sts",), n_surrogates=40, closure=False)
        assert np.nanmean(naive["delta"].values[0][upper]) > 0.03


def test_a_core_covering_44_percent_of_pairs_is_still_found():
    """The z calibration is estimated from the null side: a synergistic group of 32 of 48 heads
    (496 of 1128 pairs) keeps >= 60 % of its pairs significant with <= 5 % false discoveries."""
    n_prompts, n_steps = 12, 100
    found, false_share = [], []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        group = synergistic_group(32, n_steps, n_prompts, rng)
        rest = ar1(rng.uniform(0, 0.9, 16), n_steps, n_prompts, rng)
        values = np.concatenate([group, rest], axis=2).reshape(n_prompts, n_steps, 12, 4)
        ds = null_corrected_atoms(values, atoms=("sts",), n_surrogates=60, seed=seed)
        i, j = np.triu_indices(48, 1)
        significant = ds["significant"].sel(atom="sts").values[i, j]
        in_group = (i < 32) & (j < 32)
        assert in_group.sum() == 496
        found.append(significant[in_group].mean())
        false_share.append(significant[~in_group].sum() / max(1, significant.sum()))
    assert min(found) >= 0.6 and max(false_share) <= 0.05
