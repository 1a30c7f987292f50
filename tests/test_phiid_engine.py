"""The compiled all-pairs engine: equal to the numpy reference engine (MMI), batched calls
equal to one call per item, derived measures in ``select``, scale invariance, chunking,
degenerate input, the vectorised log, and the CUDA kernels under numba's simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from synergy_utils import phiid
from synergy_utils.phiid import (
    ATOMS,
    DegeneratePairsWarning,
    phiid_pairwise,
    phiid_pairwise_stack,
)
from tests.test_phiid import correlated_data

ROOT = Path(__file__).resolve().parents[1]


def stack_of(n_items, n_steps, n_nodes, seed=0):
    return np.stack([correlated_data(n_steps, n_nodes, seed=seed + k) for k in range(n_items)])


@pytest.mark.parametrize("tau", [1, 2])
@pytest.mark.parametrize("n_nodes", [2, 7, 70, 131])  # one tile, several tiles, odd sizes
def test_numba_equals_numpy_reference_mmi(n_nodes, tau):
    x = correlated_data(100, n_nodes, seed=n_nodes + tau)
    fast = phiid_pairwise(x, tau)
    ref = phiid_pairwise(x, tau, engine="numpy")
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)
    assert np.array_equal(np.isnan(fast), np.isnan(ref))
    assert np.array_equal(fast, fast[phiid.SWAP_PERMUTATION].transpose(0, 2, 1), equal_nan=True)


def test_fast_log_accuracy():
    from synergy_utils.phiid._kernels import fast_log

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.uniform(1e-6, 4.0, 2000),
            1.0 + rng.normal(size=2000) * 1e-9,
            10.0 ** rng.uniform(-300, 300, 2000),
            [1.0, 2.0, 0.5, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2.0)],
        ]
    )
    got = np.array([fast_log(v) for v in values])
    np.testing.assert_allclose(got, np.log(values), rtol=5e-16, atol=5e-16)


@pytest.mark.parametrize("redundancy", ["mmi", "ccs"])
@pytest.mark.parametrize("reduce", [None, "mean"])
def test_batched_equals_one_at_a_time(redundancy, reduce):
    stack = stack_of(5, 80, 9, seed=30)
    stack[1, :, 3] = 2.5  # node 3 constant in item 1 only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        singles = np.stack([phiid_pairwise(s, redundancy=redundancy) for s in stack])
        with pytest.warns(DegeneratePairsWarning) as record:
            batched = phiid_pairwise_stack(stack, redundancy=redundancy, reduce=reduce)
    assert record[0].message.n_pairs == 8 and record[0].message.n_total == 5 * 36
    if reduce is None:
        np.testing.assert_allclose(batched, singles, rtol=0, atol=1e-12)
        assert np.array_equal(np.isnan(batched), np.isnan(singles))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmean(singles, axis=0)
        np.testing.assert_allclose(batched, expected, rtol=0, atol=1e-12)
        assert np.array_equal(np.isnan(batched), np.isnan(expected))


def test_stack_engines_agree():
    stack = stack_of(3, 90, 12, seed=40)
    for reduce in (None, "mean"):
        fast = phiid_pairwise_stack(stack, reduce=reduce, select=("sts", "rtr", "phi_wms"))
        ref = phiid_pairwise_stack(
            stack, reduce=reduce, select=("sts", "rtr", "phi_wms"), engine="numpy"
        )
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)


SELECTIONS = [
    ("sts", "rtr", "phi_wms"),  # all symmetric under x <-> y
    ("xty",),  # its swap partner (ytx) not selected: written directly
    ("xty", "ytx", "tdmi"),  # a pair of partners
    ("phi_r", "xts", "sts", "stx", "phi_wms", "tdmi"),
]


@pytest.mark.parametrize("redundancy", ["mmi", "ccs"])
@pytest.mark.parametrize("select", SELECTIONS, ids=["-".join(s) for s in SELECTIONS])
def test_select_with_derived_measures(select, redundancy):
    x = correlated_data(90, 11, seed=50)
    full = phiid_pairwise(x, redundancy=redundancy)
    derived = {"tdmi": phiid.tdmi, "phi_wms": phiid.phi_wms, "phi_r": phiid.phi_r}
    expected = np.stack(
        [derived[s](full) if s in derived else full[ATOMS.index(s)] for s in select]
    )
    expected[:, np.arange(11), np.arange(11)] = np.nan
    for kwargs in ({}, {"chunk_size": 4}):
        got = phiid_pairwise(x, redundancy=redundancy, select=select, **kwargs)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    stacked = phiid_pairwise_stack(np.stack([x, x[::-1]]), redundancy=redundancy, select=select)
    assert stacked.shape == (len(select), 11, 11)
    if redundancy == "mmi":
        ref = phiid_pairwise(x, select=select, engine="numpy")
        np.testing.assert_allclose(ref, expected, rtol=0, atol=1e-9)


def test_select_validation():
    x = correlated_data(50, 3, seed=51)
    with pytest.raises(ValueError, match="derived"):
        phiid_pairwise(x, select=("sts", "synergy"))
    with pytest.raises(ValueError, match="select"):
        phiid_pairwise(x, select=())


@pytest.mark.parametrize(
    "redundancy, engine", [("mmi", "numba"), ("ccs", "numba"), ("mmi", "numpy")]
)
def test_scale_invariance(redundancy, engine):
    x = correlated_data(100, 6, seed=60) + 3.0
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    reference = phiid_pairwise(z, redundancy=redundancy, engine=engine)
    assert np.all(np.isfinite(reference[:, ~np.eye(6, dtype=bool)]))
    scales = np.array([1e-200, 1e-3, 7.0, 1e200, 1e-150, 1e150])  # one per column, mixed
    for factor in (1e-200, 1e-100, 1.0, 1e100, 1e200):
        for data in (x * factor, z * factor, (x + 1e6) * factor):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no degenerate pairs, no overflow
                out = phiid_pairwise(data, redundancy=redundancy, engine=engine)
            np.testing.assert_allclose(out, reference, rtol=0, atol=2e-9)
    out = phiid_pairwise(z * scales, redundancy=redundancy, engine=engine)
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-9)


@pytest.mark.parametrize("redundancy", ["mmi", "ccs"])
def test_chunked_equals_unchunked(redundancy, monkeypatch):
    stack = stack_of(4, 60, 29, seed=70)
    stack[2, :, 5] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        whole = phiid_pairwise_stack(stack, redundancy=redundancy, reduce=None)
        whole_mean = phiid_pairwise_stack(stack, redundancy=redundancy)
        for chunk_size in (1, 4, 13, 28):
            got = phiid_pairwise_stack(
                stack, redundancy=redundancy, reduce=None, chunk_size=chunk_size
            )
            np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)
            assert np.array_equal(np.isnan(got), np.isnan(whole))
        from synergy_utils.phiid import _batched

        monkeypatch.setattr(_batched, "BLOCK_ELEMENTS", 4 * 29 * 29)  # one item per chunk
        assert _batched.plan(4, 29, None) == (1, 29)
        np.testing.assert_allclose(
            phiid_pairwise_stack(stack, redundancy=redundancy, reduce=None), whole, atol=1e-12
        )
        monkeypatch.setattr(_batched, "BLOCK_ELEMENTS", 4 * 29 * 7)  # 7 rows per block
        assert _batched.plan(4, 29, None) == (1, 7)
        np.testing.assert_allclose(
            phiid_pairwise_stack(stack, redundancy=redundancy), whole_mean, atol=1e-12
        )


def test_memory_plan_bound():
    from synergy_utils.phiid._batched import BLOCK_ELEMENTS, plan

    for n_items, n_nodes in [(60, 270), (200, 48), (1, 5120), (3, 20_000)]:
        items, rows = plan(n_items, n_nodes, None)
        assert 4 * items * rows * n_nodes <= BLOCK_ELEMENTS or rows == 1
        assert 1 <= items <= n_items and 1 <= rows <= n_nodes


@pytest.mark.parametrize("redundancy", ["mmi", "ccs"])
def test_degenerate_and_invalid_input(redundancy):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 6))
    x[:, 1] = 3.25  # constant
    x[:, 4] = 2.0 * x[:, 2] - 1.0  # exactly collinear with node 2
    x[:, 5] = 1.0 + 3e-16 * rng.normal(size=120)  # float-quantised near-constant
    with pytest.warns(DegeneratePairsWarning) as record:
        out = phiid_pairwise(x, redundancy=redundancy)
    assert len(record) == 1
    bad = {(i, j) for i in range(6) for j in range(i + 1, 6) if {i, j} & {1, 5}} | {(2, 4)}
    assert record[0].message.n_pairs == len(bad)
    for i in range(6):
        for j in range(6):
            if i != j:
                assert np.all(np.isnan(out[:, i, j])) == ((min(i, j), max(i, j)) in bad)
    for value in (np.nan, np.inf, -np.inf):
        broken = x.copy()
        broken[7, 3] = value
        with pytest.raises(ValueError, match="NaN or inf"):
            phiid_pairwise(broken, redundancy=redundancy)
        with pytest.raises(ValueError, match="NaN or inf"):
            phiid_pairwise_stack(np.stack([x, broken]), redundancy=redundancy)
    with pytest.raises(ValueError, match="device='cuda' needs"):
        phiid_pairwise(x, estimator="discrete", device="cuda")


def test_cuda_without_gpu_is_a_clear_error():
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a CUDA device (or the simulator) is available here")
    from synergy_utils.phiid._cuda import CudaUnavailableError

    with pytest.raises(CudaUnavailableError, match="NUMBA_ENABLE_CUDASIM"):
        phiid_pairwise(correlated_data(40, 3, seed=1), device="cuda")


_SIM_SCRIPT = """
import json, sys, warnings
import numpy as np
from synergy_utils.phiid import phiid_pairwise, phiid_pairwise_stack
stack = np.load(sys.argv[1])
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for red in ("mmi", "ccs"):
        out[red + "_none"] = phiid_pairwise_stack(
            stack, redundancy=red, reduce=None, select=("sts", "xty", "phi_wms", "rtr"),
            device="cuda")
        out[red + "_mean"] = phiid_pairwise_stack(stack, redundancy=red, device="cuda")
        out[red + "_single"] = phiid_pairwise(stack[0], tau=2, redundancy=red, device="cuda")
np.savez(sys.argv[2], **out)
print(json.dumps([int(w.message.n_pairs) for w in caught]))
"""


def test_cuda_kernels_under_simulator(tmp_path):
    rng = np.random.default_rng(3)
    stack = np.cumsum(rng.normal(size=(2, 30, 5)), axis=1) + rng.normal(size=(2, 30, 5))
    stack[1, :, 2] = 4.0  # a constant node in one item
    np.save(tmp_path / "stack.npy", stack)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", _SIM_SCRIPT, str(tmp_path / "stack.npy"), str(tmp_path / "g")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [4, 4, 4, 4]
    gpu = np.load(tmp_path / "g.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        for red in ("mmi", "ccs"):
            cpu = {
                "none": phiid_pairwise_stack(
                    stack, redundancy=red, reduce=None, select=("sts", "xty", "phi_wms", "rtr")
                ),
                "mean": phiid_pairwise_stack(stack, redundancy=red),
                "single": phiid_pairwise(stack[0], tau=2, redundancy=red),
            }
            for key, want in cpu.items():
                got = gpu[f"{red}_{key}"]
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=key)
                assert np.array_equal(np.isnan(got), np.isnan(want))
