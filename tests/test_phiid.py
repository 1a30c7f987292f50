"""Tests of the ΦID estimator against exact population values, a slow per-pair reference
written here from scratch, and the known MMI artefacts."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov
from scipy.stats import multivariate_normal

from synergy_utils import phiid
from synergy_utils.phiid import (
    ATOMS,
    DegeneratePairsWarning,
    phiid_pair,
    phiid_pairwise,
    phiid_pairwise_stack,
)

# Variables of a pair: 0 = X1 (source past), 1 = X2 (target past), 2 = Y1, 3 = Y2 (futures).
MI_TERMS = {
    "I11": ((0,), (2,)),
    "I12": ((0,), (3,)),
    "I21": ((1,), (2,)),
    "I22": ((1,), (3,)),
    "I(12;1)": ((0, 1), (2,)),
    "I(12;2)": ((0, 1), (3,)),
    "I(1;12)": ((0,), (2, 3)),
    "I(2;12)": ((1,), (2, 3)),
    "I(12;12)": ((0, 1), (2, 3)),
}
# Each lattice node (named like the atom on it) -> the MI terms whose minimum it is (MMI).
KNOWN_TERMS = {
    "rtr": ("I11", "I12", "I21", "I22"),
    "rtx": ("I11", "I21"),
    "rty": ("I12", "I22"),
    "rts": ("I(1;12)", "I(2;12)"),
    "xtr": ("I11", "I12"),
    "xtx": ("I11",),
    "xty": ("I12",),
    "xts": ("I(1;12)",),
    "ytr": ("I21", "I22"),
    "ytx": ("I21",),
    "yty": ("I22",),
    "yts": ("I(2;12)",),
    "str": ("I(12;1)", "I(12;2)"),
    "stx": ("I(12;1)",),
    "sty": ("I(12;2)",),
    "sts": ("I(12;12)",),
}
SWAP = {"r": "r", "x": "y", "y": "x", "s": "s"}


def downset_matrix() -> np.ndarray:
    """16x16: [k, a] = 1 if atom a lies below node k on the product of two diamonds."""
    below = {"r": "r", "x": "rx", "y": "ry", "s": "rxys"}
    return np.array(
        [[float(a[0] in below[k[0]] and a[2] in below[k[2]]) for a in ATOMS] for k in ATOMS]
    )


def solve_by_hand(knowns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Solve the lattice with a generic linear solver (any trailing shape)."""
    stacked = np.stack([np.asarray(knowns[a], float) for a in ATOMS])
    atoms = np.linalg.solve(downset_matrix(), stacked.reshape(16, -1)).reshape(stacked.shape)
    return dict(zip(ATOMS, atoms, strict=True))


def mmi_from_terms(mi: dict[str, np.ndarray], mean: dict[str, float] | None = None) -> dict:
    """MMI knowns; with ``mean``, local values of the term smallest on average."""
    knowns = {}
    for node, terms in KNOWN_TERMS.items():
        if mean is None:
            knowns[node] = np.min([mi[t] for t in terms], axis=0)
        else:
            knowns[node] = mi[min(terms, key=lambda t: mean[t])]
    return knowns


def gaussian_mi_from_cov(cov: np.ndarray) -> dict[str, float]:
    def logdet(idx):
        return np.linalg.slogdet(cov[np.ix_(idx, idx)])[1]

    return {
        name: 0.5 * (logdet(list(a)) + logdet(list(b)) - logdet(list(a + b)))
        for name, (a, b) in MI_TERMS.items()
    }


def reference_pair(src, trg, tau=1, ddof=1, local=False):
    """Slow obvious ΦID of one pair: local MI from multivariate normal log densities with the
    sample mean and covariance, local MMI redundancy (term picked by its average), the
    lattice solved at every time step, then averaged."""
    n = len(src) - tau
    data = np.column_stack([src[:n], trg[:n], src[tau:], trg[tau:]])
    mean, cov = data.mean(axis=0), np.cov(data, rowvar=False, ddof=ddof)

    def logpdf(idx):
        idx = list(idx)
        return multivariate_normal(mean[idx], cov[np.ix_(idx, idx)]).logpdf(data[:, idx])

    local_mi = {name: logpdf(a + b) - logpdf(a) - logpdf(b) for name, (a, b) in MI_TERMS.items()}
    mean_mi = {name: float(v.mean()) for name, v in local_mi.items()}
    local_atoms = solve_by_hand(mmi_from_terms(local_mi, mean_mi))
    if local:
        return local_atoms
    return {a: float(v.mean()) for a, v in local_atoms.items()}


def var1_population(coupling, noise=None):
    """Exact atoms of a 2-node VAR(1), computed here from the Lyapunov solution."""
    coupling = np.asarray(coupling, float)
    sigma = solve_discrete_lyapunov(coupling, np.eye(2) if noise is None else noise)
    lagged = coupling @ sigma  # Cov(z_{t+1}, z_t)
    cov = np.block([[sigma, lagged.T], [lagged, sigma]])
    return solve_by_hand(mmi_from_terms(gaussian_mi_from_cov(cov)))


def correlated_data(n_steps, n_nodes, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(n_nodes, n_nodes)) / np.sqrt(n_nodes)
    coupling = 0.6 * mix / np.max(np.abs(np.linalg.eigvals(mix)))
    return phiid.simulate_var1(coupling, n_steps, seed=rng, burn_in=50).astype(dtype)


# ------------------------------------------------------------------- the lattice itself


def test_atom_names_and_order():
    assert ATOMS == tuple("rtr rtx rty rts xtr xtx xty xts ytr ytx yty yts str stx sty sts".split())
    assert [ATOMS[k] for k in phiid.SWAP_PERMUTATION] == [
        SWAP[a[0]] + "t" + SWAP[a[2]] for a in ATOMS
    ]


def test_solver_equals_generic_triangular_solve():
    matrix = downset_matrix()
    assert np.array_equal(phiid.LATTICE_MATRIX, matrix)
    assert np.allclose(np.triu(matrix, 1), 0)  # lower triangular in the ATOMS order
    knowns = np.random.default_rng(0).normal(size=(16, 7, 3))
    expected = np.linalg.solve(matrix, knowns.reshape(16, -1)).reshape(knowns.shape)
    assert np.allclose(phiid.solve_lattice(knowns), expected, atol=1e-12)
    assert np.allclose(phiid.MOBIUS @ knowns.reshape(16, -1), expected.reshape(16, -1))


def test_known_names_follow_lattice():
    assert phiid.KNOWNS[ATOMS.index("sts")] == "I(X1X2;Y1Y2)"
    assert phiid.KNOWNS[ATOMS.index("rtr")].startswith("min(")


# ------------------------------------------------------------ exact VAR(1) values

# Exact population values (nats) of stationary VAR(1) systems, Sigma_eps = I, tau = 1.
VAR1_TABLE = [
    (
        [[0.5, 0.0], [0.0, 0.5]],
        {
            "tdmi": 0.287682,
            "sts": 0.287682,
            "xtx": 0.143841,
            "yty": 0.143841,
            "rts": 0.143841,
            "str": 0.143841,
            "xts": -0.143841,
            "yts": -0.143841,
            "stx": -0.143841,
            "sty": -0.143841,
            "rtr": 0.0,
            "xty": 0.0,
            "ytx": 0.0,
        },
    ),
    (
        [[0.5, 0.3], [0.3, 0.5]],
        {"tdmi": 0.531237, "rtr": 0.162877, "sts": 0.240527, "xtx": 0.096686, "yty": 0.096686},
    ),
    (
        [[0.0, 0.8], [0.8, 0.0]],
        {"tdmi": 1.021651, "xty": 0.510826, "ytx": 0.510826, "sts": 1.021651},
    ),
    ([[0.5, 0.0], [0.6, 0.2]], {"rtr": 0.011332, "xtr": 0.132509, "xts": 0.095796, "sts": 0.0}),
]


def _with_tdmi(atoms):
    return {**atoms, "tdmi": sum(atoms[a] for a in ATOMS)}


@pytest.mark.parametrize("coupling, expected", VAR1_TABLE)
def test_var1_population_values_exact(coupling, expected):
    by_hand = _with_tdmi(var1_population(coupling))
    library = _with_tdmi(phiid.var1_population_atoms(coupling))
    for name, value in expected.items():
        assert by_hand[name] == pytest.approx(value, abs=1e-6), name
        assert library[name] == pytest.approx(value, abs=1e-6), name
    for name in ATOMS:
        assert library[name] == pytest.approx(float(by_hand[name]), abs=1e-12)


@pytest.mark.parametrize("coupling, expected", VAR1_TABLE)
def test_var1_long_simulation_matches_population(coupling, expected):
    z = phiid.simulate_var1(coupling, 200_000, seed=1)
    estimate = _with_tdmi(phiid_pair(z[:, 0], z[:, 1]))
    exact = _with_tdmi(var1_population(coupling))
    for name in list(expected) + list(ATOMS):
        assert estimate[name] == pytest.approx(float(exact[name]), abs=0.01), name


# ------------------------------------------------- against the slow reference, 1e-9


@pytest.mark.parametrize("tau", [1, 2])
def test_pairwise_matches_slow_reference(tau):
    x = correlated_data(240, 5, seed=tau)
    fast = phiid_pairwise(x, tau=tau)
    for i, j in itertools.permutations(range(x.shape[1]), 2):
        ref = reference_pair(x[:, i], x[:, j], tau=tau, ddof=1)
        got = fast[:, i, j]
        want = np.array([ref[a] for a in ATOMS])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"pair {i}->{j}")


@pytest.mark.parametrize("tau", [1, 2])
def test_local_atoms_match_reference_and_average(tau):
    x = correlated_data(150, 2, seed=10 + tau)
    local = phiid_pair(x[:, 0], x[:, 1], tau=tau, local=True)
    averaged = phiid_pair(x[:, 0], x[:, 1], tau=tau)
    ref = reference_pair(x[:, 0], x[:, 1], tau=tau, ddof=0, local=True)
    for a in ATOMS:
        assert local[a].shape == (150 - tau,)
        np.testing.assert_allclose(local[a], ref[a], rtol=0, atol=1e-9)
        assert local[a].mean() == pytest.approx(averaged[a], abs=1e-10)


def test_pair_equals_pairwise_entry():
    x = correlated_data(120, 4, seed=3)
    full = phiid_pairwise(x)
    one = phiid_pair(x[:, 2], x[:, 0])
    assert np.allclose([one[a] for a in ATOMS], full[:, 2, 0], atol=1e-12)


# -------------------------------------------------------------- the MMI pitfall


def test_independent_ar1_synergy_artefact():
    rng = np.random.default_rng(5)
    for phi_x, phi_y in [(0.9, 0.9), (0.9, 0.5)]:
        x = phiid.systems._ar1(200_000, phi_x, rng)
        y = phiid.systems._ar1(200_000, phi_y, rng)
        atoms = phiid_pair(x, y)
        a_x, a_y = -0.5 * np.log(1 - phi_x**2), -0.5 * np.log(1 - phi_y**2)
        assert atoms["sts"] == pytest.approx(2 * min(a_x, a_y), abs=0.02)
        assert atoms["rtr"] == pytest.approx(0.0, abs=0.01)
        exact = phiid.independent_ar1_synergy(phi_x, phi_y)
        assert exact["sts"] == pytest.approx(2 * min(a_x, a_y), abs=1e-9)
        assert exact["rtr"] == pytest.approx(0.0, abs=1e-9)
    assert phiid.independent_ar1_synergy(0.9, 0.9)["sts"] == pytest.approx(1.66, abs=0.01)


# ------------------------------------------------------ structure of the all-pairs result


def test_shape_dtype_diagonal_and_exact_symmetry():
    x = correlated_data(100, 9, seed=4)
    out = phiid_pairwise(x)
    assert out.shape == (16, 9, 9) and out.dtype == np.float64
    assert np.all(np.isnan(out[:, np.arange(9), np.arange(9)]))
    off = ~np.eye(9, dtype=bool)
    assert np.all(np.isfinite(out[:, off]))
    swapped = out[phiid.SWAP_PERMUTATION].transpose(0, 2, 1)
    assert np.array_equal(out, swapped, equal_nan=True)
    one_way, other_way = phiid_pair(x[:, 1], x[:, 6]), phiid_pair(x[:, 6], x[:, 1])
    for a in ATOMS:
        assert other_way[SWAP[a[0]] + "t" + SWAP[a[2]]] == pytest.approx(one_way[a], abs=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 40])
def test_chunked_equals_unchunked(chunk_size, monkeypatch):
    x = correlated_data(80, 23, seed=6)
    whole = phiid_pairwise(x)
    for module in (phiid.engine, phiid.gaussian):  # many row runs per block as well
        monkeypatch.setattr(module, "_KERNEL_PAIRS", 37)
    chunked = phiid_pairwise(x, chunk_size=chunk_size)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)
    assert np.array_equal(np.isnan(chunked), np.isnan(whole))


def test_select_returns_chosen_atoms_in_order():
    x = correlated_data(80, 7, seed=18)
    full = phiid_pairwise(x)
    chosen = phiid_pairwise(x, select=("sts", "xty", "rtr"), chunk_size=3)
    idx = [ATOMS.index(a) for a in ("sts", "xty", "rtr")]
    np.testing.assert_allclose(chosen, full[idx], rtol=0, atol=1e-12)
    stacked = phiid_pairwise_stack(np.stack([x, x[::-1]]), select="xty")
    assert stacked.shape == (1, 7, 7)
    with pytest.raises(ValueError, match="select"):
        phiid_pairwise(x, select=("sts", "synergy"))


def test_float32_input_computed_in_float64():
    x32 = correlated_data(100, 6, seed=7, dtype=np.float32)
    out = phiid_pairwise(x32)
    assert out.dtype == np.float64
    assert np.array_equal(out, phiid_pairwise(x32.astype(np.float64)), equal_nan=True)


def test_torch_bfloat16_input():
    torch = pytest.importorskip("torch")
    x = correlated_data(100, 4, seed=19)
    tensor = torch.tensor(x).to(torch.bfloat16)
    out = phiid_pairwise(tensor)
    assert out.dtype == np.float64
    expected = phiid_pairwise(tensor.to(torch.float64).numpy())
    assert np.array_equal(out, expected, equal_nan=True)


# ------------------------------------------------------------------ degenerate input


def test_degenerate_pairs_are_nan_with_one_counting_warning():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(200, 7))
    x[:, 1] = 3.25  # constant
    x[:, 4] = 2.0 * x[:, 2] - 1.0  # exactly collinear with node 2
    x[:, 5] = 1.0 + 3e-16 * rng.normal(size=200)  # float-quantised near-constant
    x[0, 6] = 5.0  # a spike only in the first step: its future window is constant
    x[1:, 6] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = phiid_pairwise(x)
    degenerate = [w for w in caught if issubclass(w.category, DegeneratePairsWarning)]
    assert len(degenerate) == 1
    flat = {1, 5, 6}
    expected_bad = {
        (i, j) for i, j in itertools.combinations(range(7), 2) if i in flat or j in flat
    } | {(2, 4)}
    assert degenerate[0].message.n_pairs == len(expected_bad)
    assert degenerate[0].message.n_total == 21
    assert str(len(expected_bad)) in str(degenerate[0].message)
    for i, j in itertools.permutations(range(7), 2):
        pair = (min(i, j), max(i, j))
        assert np.all(np.isnan(out[:, i, j])) == (pair in expected_bad), (i, j)
        assert np.all(np.isfinite(out[:, i, j])) == (pair not in expected_bad), (i, j)


def test_no_warning_on_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phiid_pairwise(correlated_data(100, 5, seed=9))


def test_degenerate_single_pair():
    with pytest.warns(DegeneratePairsWarning):
        atoms = phiid_pair(np.ones(50), np.arange(50.0) % 7)
    assert all(np.isnan(v) for v in atoms.values())


# ---------------------------------------------------------------- stacks of prompts


def test_stack_mean_and_per_prompt():
    stack = np.stack([correlated_data(90, 5, seed=s) for s in range(4)])
    per_prompt = [phiid_pairwise(s) for s in stack]
    mean = phiid_pairwise_stack(stack)
    np.testing.assert_allclose(mean, np.mean(per_prompt, axis=0), rtol=0, atol=1e-12)
    full = phiid_pairwise_stack(stack, reduce=None, progress=True)
    assert full.shape == (4, 16, 5, 5)
    assert np.array_equal(full, np.stack(per_prompt), equal_nan=True)


def test_stack_mean_skips_degenerate_prompts():
    stack = np.stack([correlated_data(90, 4, seed=s) for s in range(3)])
    stack[0, :, 1] = 0.0  # node 1 is constant in prompt 0 only
    stack[:, :, 3] = 7.0  # node 3 is constant everywhere
    with pytest.warns(DegeneratePairsWarning) as record:
        mean = phiid_pairwise_stack(stack)
    # prompt 0: (0,1), (1,2), (0,3), (1,3), (2,3); prompts 1 and 2: (0,3), (1,3), (2,3)
    assert record[0].message.n_pairs == 5 + 3 + 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        per_prompt = [phiid_pairwise(s) for s in stack]
    expected = np.mean(per_prompt[1:], axis=0)
    np.testing.assert_allclose(mean[:, 0, 1], expected[:, 0, 1], atol=1e-12)
    np.testing.assert_allclose(mean[:, 0, 2], np.mean(per_prompt, axis=0)[:, 0, 2], atol=1e-12)
    assert np.all(np.isnan(mean[:, :, 3])) and np.all(np.isnan(mean[:, 3, :]))


# -------------------------------------------------------------- discrete estimator


def test_discrete_alternating_copy_is_pure_redundancy():
    x = (np.arange(101) % 2).astype(float)  # period 2: the past fixes the future; n = 100
    atoms = phiid_pair(x, 3.0 * x + 2.0, estimator="discrete")  # a copy: everything shared
    assert atoms["rtr"] == pytest.approx(1.0, abs=1e-12)  # one bit
    assert all(atoms[a] == pytest.approx(0.0, abs=1e-12) for a in ATOMS if a != "rtr")


def test_discrete_lagged_copy_is_transfer():
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2, 20_001).astype(float)
    x, y = bits[1:], bits[:-1]  # y_{t+1} = x_t, fair coin flips
    atoms = phiid_pair(x, y, estimator="discrete")
    assert atoms["xty"] == pytest.approx(1.0, abs=0.01)
    assert sum(abs(atoms[a]) for a in ATOMS if a != "xty") < 0.01


def test_discrete_parity_chain_is_pure_synergy():
    # x' is a fresh coin, y' = x' xor x xor y xor e: only the joint past says anything, and
    # only about the joint future (the parity of x and y flips with probability eps).
    rng, eps, n = np.random.default_rng(12), 0.1, 40_000
    x, y = np.zeros(n), np.zeros(n)
    for t in range(n - 1):
        x[t + 1] = rng.integers(0, 2)
        y[t + 1] = float(int(x[t + 1]) ^ int(x[t]) ^ int(y[t]) ^ int(rng.random() < eps))
    atoms = phiid_pair(x, y, estimator="discrete")
    expected = 1 + eps * np.log2(eps) + (1 - eps) * np.log2(1 - eps)
    assert atoms["sts"] == pytest.approx(expected, abs=0.01)
    assert sum(abs(atoms[a]) for a in ATOMS if a != "sts") < 0.01


def test_discrete_pairwise_local_and_symmetry():
    x = correlated_data(300, 5, seed=13)
    out = phiid_pairwise(x, estimator="discrete")
    assert np.array_equal(out, out[phiid.SWAP_PERMUTATION].transpose(0, 2, 1), equal_nan=True)
    pair = phiid_pair(x[:, 3], x[:, 1], estimator="discrete")
    local = phiid_pair(x[:, 3], x[:, 1], estimator="discrete", local=True)
    for k, a in enumerate(ATOMS):
        assert pair[a] == pytest.approx(out[k, 3, 1], abs=1e-12)
        assert local[a].mean() == pytest.approx(pair[a], abs=1e-12)
    chunked = phiid_pairwise(x, estimator="discrete", chunk_size=2)
    assert np.allclose(chunked, out, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ derived measures


def test_derived_measures_against_direct_formulas():
    coupling = np.array([[0.5, 0.1], [0.6, 0.2]])
    sigma = solve_discrete_lyapunov(coupling, np.eye(2))
    lagged = coupling @ sigma
    cov = np.block([[sigma, lagged.T], [lagged, sigma]])
    mi = gaussian_mi_from_cov(cov)
    atoms = phiid.gaussian_atoms_from_covariance(cov)
    assert phiid.tdmi(atoms) == pytest.approx(mi["I(12;12)"], abs=1e-12)
    # TE x -> y = I(X1; Y2 | X2) = I(X1 X2; Y2) - I(X2; Y2)
    assert phiid.transfer_entropy(atoms) == pytest.approx(mi["I(12;2)"] - mi["I22"], abs=1e-12)
    assert phiid.transfer_entropy(atoms, "y->x") == pytest.approx(
        mi["I(12;1)"] - mi["I11"], abs=1e-12
    )
    wms = mi["I(12;12)"] - mi["I11"] - mi["I22"]
    assert phiid.phi_wms(atoms) == pytest.approx(wms, abs=1e-12)
    assert phiid.phi_r(atoms) == pytest.approx(wms + atoms["rtr"], abs=1e-12)
    with pytest.raises(ValueError, match="direction"):
        phiid.transfer_entropy(atoms, "x=>y")


def test_derived_measures_on_arrays():
    x = correlated_data(150, 4, seed=14)
    out = phiid_pairwise(x)
    te = phiid.transfer_entropy(out)
    assert te.shape == (4, 4)
    pair = phiid_pair(x[:, 0], x[:, 2])
    assert te[0, 2] == pytest.approx(phiid.transfer_entropy(pair), abs=1e-12)
    assert te[2, 0] == pytest.approx(phiid.transfer_entropy(pair, "y->x"), abs=1e-12)
    assert phiid.tdmi(out)[0, 2] == pytest.approx(sum(pair.values()), abs=1e-12)
    stack = np.stack([out, out])
    assert np.allclose(phiid.phi_r(stack, axis=1), np.stack([phiid.phi_r(out)] * 2), equal_nan=True)
    from synergy_utils.series import atoms_as_dataarray

    da = atoms_as_dataarray(out, nodes=list("abcd"))
    assert da.dims == ("atom", "source", "target")
    assert float(da.sel(atom="sts", source="a", target="c")) == pytest.approx(out[15, 0, 2])


# ----------------------------------------------------------------- teaching helpers


@pytest.mark.parametrize("kind", list(phiid.TOY_SYSTEMS))
def test_toy_systems_have_their_dominant_atom(kind):
    z = phiid.toy_system(kind, 20_000, seed=15)
    atoms = phiid_pair(z[:, 0], z[:, 1])
    dominant = max(ATOMS, key=lambda a: atoms[a])
    assert dominant == phiid.TOY_SYSTEMS[kind]
    assert atoms[dominant] > 0.3


def test_independent_ar1_sweep():
    sweep = phiid.independent_ar1_sweep([0.0, 0.5, 0.9], 50_000, phi_partner=0.7, seed=16)
    assert sweep["phi"].tolist() == [0.0, 0.5, 0.9]
    np.testing.assert_allclose(sweep["sts"], sweep["two_min_a"], atol=0.02)
    np.testing.assert_allclose(sweep["sts_exact"], sweep["two_min_a"], atol=1e-9)
    np.testing.assert_allclose(sweep["rtr"], 0.0, atol=0.01)
    assert sweep["two_min_a"][0] == 0.0


@pytest.mark.parametrize("estimator", ["gaussian", "discrete"])
def test_slow_loop_equals_fast_path(estimator):
    x = correlated_data(120, 4, seed=17)
    fast = phiid_pairwise(x, tau=2, estimator=estimator)
    slow = phiid.phiid_pairwise_slow(x, tau=2, estimator=estimator)
    np.testing.assert_allclose(slow, fast, rtol=0, atol=1e-10)


def test_pitfall_sentence_reports_numbers():
    from synergy_utils.report.prose import pitfall_sentence

    text = pitfall_sentence(0.9, 1.6512, 1.6607)
    assert "0.90" in text and "1.651" in text and "1.661" in text and "nats" in text


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x": np.zeros(10)}, "2-D"),
        ({"x": np.zeros((10, 3, 2))}, "2-D"),
        ({"x": np.random.default_rng(0).normal(size=(10, 1))}, "at least 2 nodes"),
        ({"tau": 0}, "tau"),
        ({"tau": 1.5}, "tau"),
        ({"tau": 19}, "tau"),
        ({"redundancy": "pid"}, "unknown redundancy"),
        ({"engine": "torch"}, "unknown engine"),
        ({"device": "tpu"}, "unknown device"),
        ({"engine": "numpy", "redundancy": "ccs"}, "numpy engine"),
        ({"estimator": "ksg"}, "unknown estimator"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_invalid_input_raises(kwargs, message):
    args = {"x": np.random.default_rng(0).normal(size=(20, 3))} | kwargs
    with pytest.raises(ValueError, match=message):
        phiid_pairwise(**args)


def test_invalid_input_other_entry_points():
    x = np.random.default_rng(0).normal(size=(20, 3))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        phiid_pairwise(bad)
    with pytest.raises(ValueError, match="3-D"):
        phiid_pairwise_stack(x)
    with pytest.raises(ValueError, match="reduce"):
        phiid_pairwise_stack(x[None], reduce="median")
    with pytest.raises(ValueError, match="equal length"):
        phiid_pair(x[:, 0], x[:-1, 1])
    with pytest.raises(ValueError, match="tau"):
        phiid_pair(x[:, 0], x[:, 1], tau=-1)
