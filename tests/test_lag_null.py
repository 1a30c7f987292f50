"""The lag-table circular-shift null (``lag_table=True``) against the surrogate-by-surrogate
engine calls it replaces, and its helpers against direct loops."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.phiid import _lagged
from synergy_utils.stats.nulls import circular_closure, draw_offsets, rotate
from synergy_utils.stats.pair_null import null_corrected_atoms

INTEGER_OR_FLAG = ("significant", "n_valid", "offsets")


def _heads(seed: int, n_prompts: int = 4, n_steps: int = 40, grid=(2, 4)) -> np.ndarray:
    """(P, T, L, H) persistent heads with a shared drive (some pairs coupled)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_prompts, n_steps) + grid)
    drive = rng.standard_normal((n_prompts, n_steps, 1, 1))
    for t in range(1, n_steps):
        x[:, t] += 0.6 * x[:, t - 1] + 0.5 * drive[:, t]
    return x


def test_all_lags_cross_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((5, 11))
    direct = np.array(
        [[[np.dot(u[i], np.roll(u[j], -r)) for r in range(-2, 13)] for j in range(5)]
         for i in range(5)]
    )  # fmt: skip
    assert np.allclose(_lagged.all_lags_cross(u, pad=2), direct, rtol=0, atol=1e-12)
    assert np.allclose(_lagged.all_lags_cross(u), direct[:, :, 2:13], rtol=0, atol=1e-12)


def test_all_lags_cross_float32_products_stay_close():
    # the float32 option is not used by the null (its atoms moved by up to 1.6e-6 nats at the
    # study's sizes, above the 1e-6 bound; docs/engine.md); the correlations stay within 1e-6
    rng = np.random.default_rng(1)
    u = rng.standard_normal((30, 100))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    single = _lagged.all_lags_cross(u, pad=1, dtype=np.float32)
    assert single.dtype == np.float64
    assert np.abs(single - _lagged.all_lags_cross(u, pad=1)).max() < 1e-6


def test_drawn_lags_first_surrogate_and_validity():
    offsets = draw_offsets(30, 6, 20, seed=2)
    first, valid, rel = _lagged.drawn_lags(offsets, 20, 3)
    for i in range(6):
        for j in range(6):
            for r in range(20):
                ks = [k for k in range(30) if (offsets[k, i] - offsets[k, j]) % 20 == r]
                assert first[i, j, r] == (ks[0] if ks else -1)
                assert valid[i, j, r] == (bool(ks) and min(r, 20 - r) >= 3)
    assert np.array_equal(rel[4], np.mod(offsets[4][:, None] - offsets[4][None, :], 20))


def test_rotated_self_information_is_that_of_the_rolled_closure():
    x = _heads(1)[0].reshape(40, 8)
    from synergy_utils.phiid._batched import Prepared

    mi_rot = _lagged.rotated_self_information(x, 1)
    for o in (0, 3, 17):
        rolled = rotate(x[None], np.full(8, o))
        expected = Prepared(circular_closure(rolled, 1), 1, local=False).mi[0]
        assert np.array_equal(mi_rot[o], expected)  # bit for bit: ties break the same way


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "redundancy, atoms",
    [("mmi", ("sts", "rtr", "phi_wms", "sts_share", "xtx")), ("ccs", ("sts", "rtr", "phi_wms"))],
)
def test_lag_table_null_equals_the_surrogate_by_surrogate_null(seed, redundancy, atoms):
    x = _heads(seed)
    common = {"atoms": atoms, "redundancy": redundancy, "n_surrogates": 30, "seed": seed}
    fast = null_corrected_atoms(x, **common)
    slow = null_corrected_atoms(x, **common, lag_table=False)
    for name in slow.data_vars:
        a, b = fast[name].values, slow[name].values
        if name in INTEGER_OR_FLAG:
            assert np.array_equal(a, b), name
        else:  # ranks too: ties of surrogate and observed values break the same way
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, equal_nan=True, err_msg=name)
    assert fast.attrs == slow.attrs


def test_cross_pairs_match_cross_atoms():
    from synergy_utils.phiid._cross import CrossPairs
    from synergy_utils.stats.shuffle_null import cross_atoms

    x = _heads(3).reshape(4, 40, 8)
    order = np.array([2, 3, 0, 1])
    for redundancy in ("mmi", "ccs"):
        fast = CrossPairs(x, 1, redundancy).atoms(order, ("sts", "rtr", "tdmi"))
        slow = cross_atoms(
            x, x[order], tau=1, redundancy=redundancy, estimator="gaussian",
            atoms=("sts", "rtr", "tdmi"),
        )  # fmt: skip
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10, equal_nan=True)
