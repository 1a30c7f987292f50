"""The all-pairs engine on an NVIDIA GPU with numba.cuda (``device="cuda"``).

One thread per unordered pair (i < j) and item: it forms the pair's four window
correlations by dot products over time, then uses the same scalar formulas as the CPU
kernels (:mod:`._kernels`, recompiled for the CUDA target with ``math.log``), and writes
i -> j and, with x and y swapped, j -> i. With ``reduce="mean"`` each thread loops over the
items and accumulates, so no atomics are needed except one counter of degenerate pairs.
The host prepares the windows (as on the CPU) and copies them over; the result comes back
as a numpy array.

Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) runs this module without a GPU (slowly:
tiny inputs only); the tests use it to check the kernel against the CPU engine.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np
from numba import cuda  # only imported with device="cuda"

from . import _kernels
from ._kernels import DET_TOL, N_OUTPUTS

_KERNELS: dict[str, Any] = {}
#: Threads per block along each of the two pair axes.
BLOCK = 8


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for but numba finds no usable CUDA GPU."""


def _check_available() -> None:
    if not cuda.is_available():
        raise CudaUnavailableError(
            "device='cuda' needs an NVIDIA GPU with a working driver, and numba.cuda finds "
            "none (numba.cuda.is_available() is False). Use device='cpu' (the default); to "
            "run the CUDA kernels without a GPU, for testing, set NUMBA_ENABLE_CUDASIM=1 "
            "before importing numba."
        )


def _retarget(dispatcher: Any, mapping: dict[str, Any], jit: Any) -> Any:
    """Compile the Python source of a CPU helper for another target: the same code object
    with its globals' helper names pointing at their versions for that target."""
    func = dispatcher.py_func
    namespace = dict(func.__globals__)
    namespace.update(mapping)
    clone = types.FunctionType(
        func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__
    )
    return jit(clone)


def _build() -> dict[str, Any]:
    if _KERNELS:
        return _KERNELS
    device = cuda.jit(device=True)

    def log(x):
        return math.log(x)

    mapping: dict[str, Any] = {"fast_log": device(log)}
    for name in (
        "closed_form_mi",
        "mmi_knowns",
        "ccs_redundancy",
        "ccs_coefficients",
        "local_mi_step",
        "ccs_step",
        "ccs_local_sums",
    ):
        mapping[name] = _retarget(getattr(_kernels, name), mapping, device)
    for name in ("ccs_knowns", "outputs"):
        mapping[name] = _retarget(getattr(_kernels, name), mapping, device)
    mmi_knowns, ccs_knowns, outputs = (
        mapping["mmi_knowns"],
        mapping["ccs_knowns"],
        mapping["outputs"],
    )

    @cuda.jit
    def pairs_kernel(ccs, win, rho, mi, xs, ys, ss, fwd, bwd, out, count, n_bad, mean_mode):
        i, j, z = cuda.grid(3)
        n_items = win.shape[0]
        n_nodes = rho.shape[1]
        if i >= n_nodes or j >= n_nodes or j <= i:
            return
        if mean_mode:
            b_lo, b_hi = 0, n_items
        else:
            if z >= n_items:
                return
            b_lo, b_hi = z, z + 1
        vals = cuda.local.array(N_OUTPUTS, np.float64)
        n = win.shape[2]
        bad = 0
        for b in range(b_lo, b_hi):
            p = 0.0
            q = 0.0
            pf = 0.0
            fp = 0.0
            for t in range(n):
                pi, fi = win[b, i, t], win[b, n_nodes + i, t]
                pj, fj = win[b, j, t], win[b, n_nodes + j, t]
                p += pi * pj
                q += fi * fj
                pf += pi * fj
                fp += fi * pj
            if ccs:
                k, det4 = ccs_knowns(
                    p, q, rho[b, i], pf, fp, rho[b, j], mi[b, i], mi[b, j],
                    xs[b, i], ys[b, i], ss[b, i], xs[b, j], ys[b, j], ss[b, j],
                )  # fmt: skip
            else:
                k, det4 = mmi_knowns(p, q, rho[b, i], pf, fp, rho[b, j], mi[b, i], mi[b, j])
            good = det4 > DET_TOL
            o = outputs(k)
            for m in range(N_OUTPUTS):
                vals[m] = o[m] if good else math.nan
            if not good:
                bad += 1
            if mean_mode:
                if good:
                    for s in range(fwd.shape[0]):
                        out[0, s, i, j] += vals[fwd[s]]
                        out[0, s, j, i] += vals[bwd[s]]
                    count[i, j] += 1
            else:
                for s in range(fwd.shape[0]):
                    out[b, s, i, j] = vals[fwd[s]]
                    out[b, s, j, i] = vals[bwd[s]]
        if bad:
            cuda.atomic.add(n_bad, 0, bad)

    _KERNELS["pairs"] = pairs_kernel
    return _KERNELS


def run_cuda(
    stack: np.ndarray, tau: int, redundancy: str, codes: np.ndarray, reduce: str | None
) -> tuple[np.ndarray, int]:
    """As :func:`._batched.run_cpu` (no row blocks: the whole stack goes to the GPU at once;
    the device needs about 8 B (2 T N + S N^2) bytes, CCS + 24 B N T)."""
    from ._batched import SWAP_OUTPUTS, Prepared

    _check_available()
    kernel = _build()["pairs"]
    ccs = redundancy == "ccs"
    prep = Prepared(stack, tau, local=ccs)
    n_items, _, n_nodes = stack.shape
    mean_mode = reduce == "mean"
    win = cuda.to_device(np.ascontiguousarray(prep.windows.transpose(0, 2, 1)))
    if ccs:
        xs, ys, ss = (cuda.to_device(a) for a in (prep.xs, prep.ys, prep.ss))
    else:
        xs = ys = ss = cuda.to_device(np.zeros((1, 1, 1)))
    shape = (1 if mean_mode else n_items, len(codes), n_nodes, n_nodes)
    out = cuda.to_device(np.zeros(shape))
    count = cuda.to_device(np.zeros((n_nodes, n_nodes), dtype=np.int64))
    n_bad = cuda.to_device(np.zeros(1, dtype=np.int64))
    blocks = (
        (n_nodes + BLOCK - 1) // BLOCK,
        (n_nodes + BLOCK - 1) // BLOCK,
        1 if mean_mode else n_items,
    )
    kernel[blocks, (BLOCK, BLOCK, 1)](
        ccs, win, cuda.to_device(prep.rho), cuda.to_device(prep.mi), xs, ys, ss,
        cuda.to_device(codes), cuda.to_device(SWAP_OUTPUTS[codes]), out, count, n_bad,
        mean_mode,
    )  # fmt: skip
    result = out.copy_to_host()
    if mean_mode:
        counts = count.copy_to_host()
        with np.errstate(invalid="ignore", divide="ignore"):
            result /= counts + counts.T
    idx = np.arange(n_nodes)
    result[:, :, idx, idx] = np.nan
    return (result[0] if mean_mode else result), int(n_bad.copy_to_host()[0])
