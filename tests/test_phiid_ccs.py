"""CCS redundancy (Ince 2017, as defined in the published ΦID toolbox of Mediano et al.):
the compiled engine against a slow, obvious per-pair reference written here, on toy systems
and on real head series of the default model; known values; the white-noise floor."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from synergy_utils import phiid
from synergy_utils.phiid import ATOMS, phiid_pair, phiid_pairwise, phiid_pairwise_stack
from tests.test_phiid import MI_TERMS, correlated_data, downset_matrix

HEAD_SERIES = Path(__file__).parent / "data" / "head_series_smollm2.npy"


def ccs_rule(m1, m2, m12):
    """Local CCS redundancy: -c (c the local co-information) where m1, m2, m12 and -c all
    have the same sign, else 0."""
    c = m12 - m1 - m2
    signs = np.sign([m1, m2, m12, -c])
    return np.where(np.all(signs == signs[0], axis=0), -c, 0.0)


def ccs_reference_pair(src, trg, tau=1):
    """Slow obvious CCS-ΦID of one pair: local MI from scipy's multivariate normal log
    densities with the sample mean and the covariance (ddof = 1, as np.cov) of the four
    variables (each scaled to unit standard deviation first), local CCS
    redundancies and double redundancy, the lattice solved with np.linalg.solve on the
    down-set matrix built in test_phiid at every time step. Returns (n, 16) local atoms."""
    n = len(src) - tau
    data = np.column_stack([src[:n], trg[:n], src[tau:], trg[tau:]]).astype(np.float64)
    data /= data.std(axis=0)  # MI is scale-free; scipy's singularity test is not
    mean, cov = data.mean(axis=0), np.cov(data, rowvar=False)

    def logpdf(idx):
        idx = list(idx)
        return multivariate_normal(mean[idx], cov[np.ix_(idx, idx)]).logpdf(data[:, idx])

    i = {name: logpdf(a + b) - logpdf(a) - logpdf(b) for name, (a, b) in MI_TERMS.items()}
    red = {
        "rtx": ccs_rule(i["I11"], i["I21"], i["I(12;1)"]),
        "rty": ccs_rule(i["I12"], i["I22"], i["I(12;2)"]),
        "rts": ccs_rule(i["I(1;12)"], i["I(2;12)"], i["I(12;12)"]),
        "xtr": ccs_rule(i["I11"], i["I12"], i["I(1;12)"]),
        "ytr": ccs_rule(i["I21"], i["I22"], i["I(2;12)"]),
        "str": ccs_rule(i["I(12;1)"], i["I(12;2)"], i["I(12;12)"]),
    }
    singles = [i["I11"], i["I12"], i["I21"], i["I22"]]
    double = (
        -sum(singles)
        + i["I(1;12)"] + i["I(2;12)"] + i["I(12;1)"] + i["I(12;2)"] - i["I(12;12)"]
        + red["rtx"] + red["rty"] - red["rts"] + red["xtr"] + red["ytr"] - red["str"]
    )  # fmt: skip
    signs = np.sign(singles + [double])
    red["rtr"] = np.where(np.all(signs == signs[0], axis=0), double, 0.0)
    single_known = {
        "xtx": "I11", "xty": "I12", "ytx": "I21", "yty": "I22", "xts": "I(1;12)",
        "yts": "I(2;12)", "stx": "I(12;1)", "sty": "I(12;2)", "sts": "I(12;12)",
    }  # fmt: skip
    knowns = np.stack([red[a] if a in red else i[single_known[a]] for a in ATOMS])
    return np.linalg.solve(downset_matrix(), knowns).T  # (n, 16): one solve per step


def reference_all_pairs(x, pairs, tau=1):
    return {(a, b): ccs_reference_pair(x[:, a], x[:, b], tau).mean(axis=0) for a, b in pairs}


TOYS = [
    ("var", lambda: phiid.simulate_var1([[0.5, 0.3], [0.2, 0.4]], 400, seed=2)),
    ("synergy", lambda: phiid.toy_system("synergy", 400, seed=3)),
    ("storage", lambda: phiid.toy_system("storage", 400, seed=4)),
    ("transfer", lambda: phiid.toy_system("transfer", 400, seed=5)),
    ("redundancy", lambda: phiid.toy_system("redundancy", 400, seed=6)),
    ("walks", lambda: np.cumsum(np.random.default_rng(7).normal(size=(150, 2)), axis=0)),
]


@pytest.mark.parametrize("tau", [1, 2])
@pytest.mark.parametrize("name, make", TOYS, ids=[t[0] for t in TOYS])
def test_ccs_pair_matches_reference_on_toy_systems(name, make, tau):
    z = make()
    ref_local = ccs_reference_pair(z[:, 0], z[:, 1], tau)
    averaged = phiid_pair(z[:, 0], z[:, 1], tau, redundancy="ccs")
    local = phiid_pair(z[:, 0], z[:, 1], tau, redundancy="ccs", local=True)
    both = phiid_pairwise(z, tau, redundancy="ccs")
    for k, a in enumerate(ATOMS):
        np.testing.assert_allclose(local[a], ref_local[:, k], rtol=0, atol=1e-9, err_msg=a)
        assert averaged[a] == pytest.approx(ref_local[:, k].mean(), abs=1e-9), a
        assert both[k, 0, 1] == pytest.approx(averaged[a], abs=1e-12), a
    swapped = ccs_reference_pair(z[:, 1], z[:, 0], tau).mean(axis=0)
    np.testing.assert_allclose(both[:, 1, 0], swapped, rtol=0, atol=1e-9)


@pytest.mark.parametrize("tau", [1, 3])
def test_ccs_pairwise_matches_reference_on_random_var(tau):
    x = correlated_data(160, 6, seed=20 + tau)
    fast = phiid_pairwise(x, tau, redundancy="ccs")
    ref = reference_all_pairs(x, itertools.permutations(range(6), 2), tau)
    for (i, j), want in ref.items():
        np.testing.assert_allclose(fast[:, i, j], want, rtol=0, atol=1e-9, err_msg=f"{i}->{j}")


@pytest.fixture(scope="module")
def head_series():
    """(2, 100, 270) float32: L2 norms of SmolLM2-135M-Instruct's 270 heads over 100
    decoding steps of two prompts (recorded by tests/data/make_head_series.py)."""
    return np.load(HEAD_SERIES, allow_pickle=False)


def test_head_series_fixture(head_series):
    assert head_series.shape == (2, 100, 270) and head_series.dtype == np.float32
    assert np.all(np.isfinite(head_series)) and np.all(head_series > 0)


def test_ccs_matches_reference_on_head_series(head_series):
    x = head_series[0].astype(np.float64)
    heads = np.arange(0, 270, 19)  # 15 heads across all layers: 210 ordered pairs
    fast = phiid_pairwise(x[:, heads], redundancy="ccs")
    ref = reference_all_pairs(x[:, heads], itertools.permutations(range(len(heads)), 2))
    for (i, j), want in ref.items():
        np.testing.assert_allclose(fast[:, i, j], want, rtol=0, atol=1e-6, err_msg=f"{i}->{j}")
    # all 270 heads at once, both prompts (float32 input): a random sample of pairs
    stack = phiid_pairwise_stack(head_series, redundancy="ccs", reduce=None)
    rng = np.random.default_rng(0)
    for p in range(2):
        for i, j in (rng.choice(270, 2, replace=False) for _ in range(12)):
            want = ccs_reference_pair(head_series[p, :, i], head_series[p, :, j]).mean(axis=0)
            np.testing.assert_allclose(stack[p, :, i, j], want, rtol=0, atol=1e-6)


def test_mmi_and_ccs_differ_on_head_series(head_series):
    """On real heads MMI's synergy tracks persistence; CCS's does not (sanity, not a claim)."""
    mmi = phiid_pairwise(head_series[0], select="sts")[0]
    ccs = phiid_pairwise(head_series[0], redundancy="ccs", select="sts")[0]
    off = ~np.eye(270, dtype=bool)
    assert np.nanmean(mmi[off]) > np.nanmean(ccs[off]) + 0.01


# ------------------------------------------------------------------------ known values


def test_independent_ar1_ccs_does_not_count_persistence_as_synergy():
    rng = np.random.default_rng(1)
    x, y = phiid.systems._ar1(20_000, 0.9, rng), phiid.systems._ar1(20_000, 0.9, rng)
    ccs = phiid_pair(x, y, redundancy="ccs")
    mmi = phiid_pair(x, y)
    self_info = -0.5 * np.log(1 - 0.9**2)  # 0.830 nats
    assert ccs["sts"] == pytest.approx(-0.003, abs=0.01)
    assert ccs["xtx"] == pytest.approx(0.82, abs=0.03)
    assert ccs["yty"] == pytest.approx(0.82, abs=0.03)
    assert ccs["xtx"] == pytest.approx(self_info, abs=0.03)
    assert mmi["sts"] == pytest.approx(1.66, abs=0.05)


def test_crossed_system_is_transfer_under_ccs():
    z = phiid.simulate_var1([[0.0, 0.8], [0.8, 0.0]], 20_000, seed=1)
    ccs = phiid_pair(z[:, 0], z[:, 1], redundancy="ccs")
    assert ccs["xty"] == pytest.approx(0.51, abs=0.02)
    assert ccs["ytx"] == pytest.approx(0.51, abs=0.02)
    assert ccs["sts"] == pytest.approx(0.0, abs=0.01)


def test_synergy_toy_keeps_ccs_synergy():
    """x = u, y = s - u: CCS sts stays ~0.49. It is bimodal across seeds: the double
    redundancy hinges on the signs of the local self-information of the white noise u, whose
    lag correlation is pure sampling noise; one mode has rtr ~ -0.21 and sts ~ 0.48, the
    other rtr ~ 0 and sts ~ 0.70 (the published toolbox gives the same values)."""
    modes = []
    for seed in range(4):
        z = phiid.toy_system("synergy", 20_000, seed=seed)
        atoms = phiid_pair(z[:, 0], z[:, 1], redundancy="ccs")
        assert max(ATOMS, key=lambda a: atoms[a]) == "sts"
        if atoms["rtr"] < -0.1:
            assert atoms["sts"] == pytest.approx(0.49, abs=0.03)
            modes.append("low")
        else:
            assert atoms["sts"] == pytest.approx(0.70, abs=0.03)
            modes.append("high")
    assert "low" in modes
    z = phiid.toy_system("synergy", 20_000, seed=2)
    assert phiid_pair(z[:, 0], z[:, 1], redundancy="ccs")["sts"] == pytest.approx(0.49, abs=0.01)


# The white-noise floor at T = 100 (mean over all ordered pairs of 40 independent Gaussian
# white-noise series, 10 draws): MMI sts = +0.0034 (the upward plug-in bias), CCS sts =
# -0.0017; both rtr below 0.001; Φ_WMS = 0.0107 for both (it does not involve redundancy).
NOISE_FLOOR_BOUND = 0.006


def test_white_noise_floor_at_t100():
    means = {"mmi": [], "ccs": []}
    off = ~np.eye(40, dtype=bool)
    for seed in range(10):
        w = np.random.default_rng(100 + seed).normal(size=(100, 40))
        for red in means:
            out = phiid_pairwise(w, redundancy=red, select=("sts", "rtr", "phi_wms"))
            means[red].append([plane[off].mean() for plane in out])
    mmi, ccs = np.mean(means["mmi"], axis=0), np.mean(means["ccs"], axis=0)
    assert 0.001 < mmi[0] < NOISE_FLOOR_BOUND
    assert -NOISE_FLOOR_BOUND < ccs[0] < 0.0
    assert abs(mmi[1]) < 0.002 and abs(ccs[1]) < 0.002
    assert mmi[2] == pytest.approx(ccs[2], abs=1e-12)
    assert 0.005 < mmi[2] < 0.02


# -------------------------------------------------------------------- discrete estimator


def discrete_ccs_reference(src, trg):
    """Binarise at the mean of the whole series, local plug-in MI (bits) per step, CCS."""
    bits = np.column_stack([src > src.mean(), trg > trg.mean()]).astype(int)
    n = len(src) - 1
    data = np.column_stack([bits[:n, 0], bits[:n, 1], bits[1:, 0], bits[1:, 1]])

    def log2p(idx):
        keys = [tuple(row) for row in data[:, list(idx)]]
        counts = {k: keys.count(k) for k in set(keys)}
        return np.log2([counts[k] / n for k in keys])

    i = {name: log2p(a + b) - log2p(a) - log2p(b) for name, (a, b) in MI_TERMS.items()}
    local = np.stack(list(i.values()))
    local[np.abs(local) < 1e-12] = 0.0  # exact zeros (logs of equal count ratios)
    return phiid.solve_lattice(phiid.lattice.ccs_knowns(local, 1e-12)).mean(1)


def test_discrete_ccs():
    z = phiid.toy_system("transfer", 3000, seed=8)
    atoms = phiid_pair(z[:, 0], z[:, 1], redundancy="ccs", estimator="discrete")
    local = phiid_pair(z[:, 0], z[:, 1], redundancy="ccs", estimator="discrete", local=True)
    ref = discrete_ccs_reference(z[:, 0], z[:, 1])
    for k, a in enumerate(ATOMS):
        assert atoms[a] == pytest.approx(ref[k], abs=1e-12), a
        assert local[a].mean() == pytest.approx(ref[k], abs=1e-12), a
    x = (np.arange(101) % 2).astype(float)  # a copy of a period-2 series: one bit, shared
    copy = phiid_pair(x, 3.0 * x + 2.0, redundancy="ccs", estimator="discrete")
    assert copy["rtr"] == pytest.approx(1.0, abs=1e-12)
    assert all(copy[a] == pytest.approx(0.0, abs=1e-12) for a in ATOMS if a != "rtr")
    many = correlated_data(200, 4, seed=9)
    out = phiid_pairwise(many, redundancy="ccs", estimator="discrete")
    assert np.array_equal(out, out[phiid.SWAP_PERMUTATION].transpose(0, 2, 1), equal_nan=True)
    one = phiid_pair(many[:, 2], many[:, 0], redundancy="ccs", estimator="discrete")
    np.testing.assert_allclose(out[:, 2, 0], [one[a] for a in ATOMS], atol=1e-12)


@pytest.mark.parametrize("estimator", ["gaussian", "discrete"])
def test_ccs_slow_loop_equals_fast_path(estimator):
    x = correlated_data(120, 4, seed=17)
    fast = phiid_pairwise(x, tau=2, redundancy="ccs", estimator=estimator)
    slow = phiid.phiid_pairwise_slow(x, tau=2, estimator=estimator, redundancy="ccs")
    np.testing.assert_allclose(slow, fast, rtol=0, atol=1e-10)
