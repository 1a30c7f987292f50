"""The prompt-shuffle null: derangements, the cross-pair atoms against the slow reference,
and no bias where the circular-shift null has one (persistent, random-walk, trending heads)."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.phiid import phiid_pair
from synergy_utils.simulation import ar1
from synergy_utils.stats.pair_null import null_corrected_atoms
from synergy_utils.stats.shuffle_null import (
    cross_atoms,
    derangement_shifts,
    prompt_shuffle_atoms,
)


def test_derangement_shifts():
    assert derangement_shifts(5).tolist() == [1, 2, 3, 4]
    some = derangement_shifts(30, 6, seed=1)
    assert some.size == 6 and len(set(some)) == 6 and some.min() >= 1 and some.max() <= 29
    assert np.array_equal(some, derangement_shifts(30, 6, seed=1))
    assert derangement_shifts(4, 10).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="at least 2 prompts"):
        derangement_shifts(1)
    with pytest.raises(ValueError, match="n_derangements"):
        derangement_shifts(6, 0)


def test_cross_atoms_match_the_slow_per_pair_reference():
    rng = np.random.default_rng(0)
    sources, targets = rng.standard_normal((2, 60, 3)), rng.standard_normal((2, 60, 2))
    targets[:, 1:] += 0.5 * sources[:, :-1, :2]  # some coupling
    for redundancy in ("mmi", "ccs"):
        out = cross_atoms(sources, targets, tau=1, redundancy=redundancy, estimator="gaussian",
                          atoms=("sts", "rtr", "xty"))  # fmt: skip
        assert out.shape == (2, 3, 3, 2)
        for p, i, j in [(0, 0, 0), (1, 2, 1), (0, 1, 1)]:
            ref = phiid_pair(sources[p, :, i], targets[p, :, j], tau=1, redundancy=redundancy)
            expected = [ref[a] for a in ("sts", "rtr", "xty")]
            np.testing.assert_allclose(out[p, :, i, j], expected, atol=1e-9)


def test_layout_and_arithmetic():
    rng = np.random.default_rng(1)
    values = ar1(0.5, 80, 5, rng, n_series=6).reshape(5, 80, 3, 2)
    ds = prompt_shuffle_atoms(values, atoms=("sts", "rtr"))
    assert ds["delta_prompt"].shape == (5, 2, 6, 6) and ds.attrs["n_derangements"] == 4
    d = ds["delta"].values
    assert np.isnan(np.diagonal(d, axis1=1, axis2=2)).all()
    np.testing.assert_allclose(d, ds["observed"].values - ds["null_mean"].values)
    # the null of a pair is the mean of head i of each prompt with head j of every other one
    series = values.reshape(5, 80, 6)
    manual = [
        phiid_pair(series[p, :, 0], series[q, :, 5])["sts"]
        for p in range(5) for q in range(5) if q != p
    ]  # fmt: skip
    np.testing.assert_allclose(ds["null_mean"].sel(atom="sts").values[0, 5], np.mean(manual))
    assert ds["head_delta"].shape == (5, 2, 3, 2)
    with pytest.raises(ValueError, match="NaN"):
        prompt_shuffle_atoms(np.full((3, 20, 2, 2), np.nan))


def _heads(kind: str, n_prompts: int, rng: np.random.Generator) -> np.ndarray:
    n_steps, n_series = 100, 32
    if kind == "ar95":
        x = ar1(0.95, n_steps, n_prompts, rng, n_series=n_series)
    elif kind == "walk":
        x = np.cumsum(rng.standard_normal((n_prompts, n_steps, n_series)), axis=1)
    else:  # a shared deterministic trend with head-specific slopes, plus AR(0.5) noise
        slope = rng.uniform(0.5, 1.5, (1, 1, n_series))
        x = np.linspace(0, 3, n_steps)[None, :, None] * slope
        x = x + ar1(0.5, n_steps, n_prompts, rng, n_series=n_series)
    return x.reshape(n_prompts, n_steps, 4, 8)


@pytest.mark.parametrize("kind", ["ar95", "walk", "trend"])
def test_no_bias_where_the_circular_null_has_one(kind):
    """Independent heads: pairs across prompts are distributed like pairs within a prompt, so
    the shuffle null's mean Δsts is 0 up to sampling error (below 0.001 nats with 300
    prompts, 900 for random walks, whose sts varies most); the circular closure leaves a bias
    of the opposite sign for persistent heads."""
    values = _heads(kind, 900 if kind == "walk" else 300, np.random.default_rng(7))
    shuffle = prompt_shuffle_atoms(values, atoms=("sts",), n_derangements=8, seed=0)
    mean_shuffle = float(np.nanmean(shuffle["delta"].values))
    assert abs(mean_shuffle) < 0.001
    if kind != "trend":
        circular = null_corrected_atoms(values[:40], atoms=("sts",), n_surrogates=20)
        assert float(np.nanmean(circular["delta"].values)) < -0.002


@pytest.mark.parametrize("redundancy", ["mmi", "ccs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cross_block_equals_the_all_pairs_engine_on_both_prompts(redundancy, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 40, 2, 4))
    for t in range(1, 40):
        x[:, t] += 0.6 * x[:, t - 1]
    x[1, :, 0, 1] = 3.0  # a constant head in one prompt: its pairs are NaN in both paths
    atoms = ("sts", "rtr", "phi_wms", "xty")
    kw = {"atoms": atoms, "redundancy": redundancy, "n_derangements": 3, "seed": seed}
    fast = prompt_shuffle_atoms(x, **kw)
    slow = prompt_shuffle_atoms(x, **kw, cross_block=False)
    for name in slow.data_vars:
        np.testing.assert_allclose(
            fast[name].values, slow[name].values, rtol=0, atol=1e-10, equal_nan=True,
            err_msg=name,
        )  # fmt: skip
    assert np.isfinite(fast["null_mean"].values).any()
