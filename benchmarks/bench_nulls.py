"""Speed of the two surrogate nulls, each new path against the path it replaces, in one run.

Run from the repository root::

    python benchmarks/bench_nulls.py            # the study's sizes (about 20 minutes here)
    python benchmarks/bench_nulls.py --quick    # 12 prompts, K = 50, 10 derangements

Sizes: P prompts x T = 100 steps x 270 heads (27 layers x 10), the circular-shift null with
K surrogates (:func:`synergy_utils.stats.pair_null.null_corrected_atoms`, sts, rtr, Φ_WMS)
and the prompt-shuffle null over 20 cyclic derangements
(:func:`synergy_utils.stats.shuffle_null.prompt_shuffle_atoms`, sts and rtr), as the cores
stage asks for them. "before" is the surrogate-by-surrogate path (``lag_table=False``,
``cross_block=False``), "after" the default. ``--reference-prompts`` times the before paths
on fewer prompts and scales them linearly in P (their cost is one engine call per surrogate
over all prompts). BLAS runs on one thread. Times are wall seconds of one call (after a
warm-up on a small input), with the process CPU time; ratios compare the two paths of one
run. The last rows time MMI at 5,120 heads with the three planes a null needs.
"""

from __future__ import annotations

import argparse
import os

if __name__ == "__main__":  # thread settings are read when the libraries load
    _args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _args.add_argument("--quick", action="store_true", help="12 prompts, K = 50")
    _args.add_argument("--reference-prompts", type=int, default=0, help="0: all")
    _args.add_argument("--skip-large", action="store_true", help="skip N = 5,120")
    _args.add_argument("--only", default="", help="mmi or ccs")
    ARGS = _args.parse_args()
    for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import inspect  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from synergy_utils.phiid import phiid_pairwise  # noqa: E402
from synergy_utils.stats.pair_null import null_corrected_atoms  # noqa: E402
from synergy_utils.stats.shuffle_null import prompt_shuffle_atoms  # noqa: E402

CIRCULAR_ATOMS = ("sts", "rtr", "phi_wms")
SHUFFLE_ATOMS = ("sts", "rtr")
NULL_SELECT = ("sts", "rtr", "phi_wms")


def heads(n_prompts: int, n_steps: int = 100, grid=(27, 10), seed: int = 5) -> np.ndarray:
    """(P, T, L, H) float64 head series: persistent heads with shared slow components."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_prompts, n_steps) + grid)
    slow = rng.standard_normal((n_prompts, n_steps, 4))
    mix = rng.standard_normal((4,) + grid) * 0.5
    for t in range(1, n_steps):
        x[:, t] += 0.7 * x[:, t - 1]
        slow[:, t] += 0.9 * slow[:, t - 1]
    return x + np.einsum("ptk,klh->ptlh", slow, mix)


def timed(func: Callable[[], object]) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - start, time.process_time() - start_cpu


def fmt(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def has(func: Callable, name: str) -> bool:
    return name in inspect.signature(func).parameters


def run_nulls(x: np.ndarray, redundancy: str, n_surrogates: int, n_derangements: int, ref_p: int):
    """Rows (name, before (wall, cpu), after (wall, cpu)) of one redundancy function."""
    scale = x.shape[0] / ref_p
    common = {"redundancy": redundancy, "seed": 0}
    circ = {"atoms": CIRCULAR_ATOMS, "n_surrogates": n_surrogates, **common}
    shuf = {"atoms": SHUFFLE_ATOMS, "n_derangements": n_derangements, **common}
    warm = x[:3, :, :2]
    null_corrected_atoms(warm, **{**circ, "n_surrogates": 3})
    null_corrected_atoms(warm, **{**circ, "n_surrogates": 3}, lag_table=False)
    new_shuffle = {"cross_block": True} if has(prompt_shuffle_atoms, "cross_block") else {}
    old_shuffle = {"cross_block": False} if new_shuffle else {}
    prompt_shuffle_atoms(warm, **{**shuf, "n_derangements": 2}, **new_shuffle)
    prompt_shuffle_atoms(warm, **{**shuf, "n_derangements": 2}, **old_shuffle)
    before_c = timed(lambda: null_corrected_atoms(x[:ref_p], **circ, lag_table=False))
    after_c = timed(lambda: null_corrected_atoms(x, **circ))
    before_s = timed(lambda: prompt_shuffle_atoms(x[:ref_p], **shuf, **old_shuffle))
    after_s = timed(lambda: prompt_shuffle_atoms(x, **shuf, **new_shuffle))
    before_c = tuple(v * scale for v in before_c)
    before_s = tuple(v * scale for v in before_s)
    both_b = tuple(a + b for a, b in zip(before_c, before_s, strict=True))
    both_a = tuple(a + b for a, b in zip(after_c, after_s, strict=True))
    return [
        ("circular-shift null", before_c, after_c),
        ("prompt-shuffle null", before_s, after_s),
        ("both nulls", both_b, both_a),
    ], after_c[0]


def main(quick: bool, ref_prompts: int, skip_large: bool, only: str) -> None:
    n_prompts, n_surrogates, n_derangements = (12, 50, 10) if quick else (60, 200, 20)
    ref_p = min(ref_prompts or n_prompts, n_prompts)
    x = heads(n_prompts)
    print(
        f"P = {n_prompts} prompts x T = 100 x N = 270 heads, K = {n_surrogates} surrogates, "
        f"{n_derangements} derangements; before paths on {ref_p} prompts"
        + (f" (scaled x{n_prompts / ref_p:g})" if ref_p < n_prompts else "")
        + f"; load average {os.getloadavg()[0]:.1f} at the start"
    )
    print("| null | before | after | ratio | CPU before | CPU after | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for redundancy in ("mmi", "ccs"):
        if only and redundancy != only:
            continue
        rows, one_null = run_nulls(x, redundancy, n_surrogates, n_derangements, ref_p)
        for name, before, after in rows:
            print(
                f"| {redundancy.upper()} {name} | {fmt(before[0])} | {fmt(after[0])} | "
                f"{before[0] / after[0]:.2f}× | {fmt(before[1])} | {fmt(after[1])} | "
                f"{before[1] / after[1]:.2f}× |",
                flush=True,
            )
        print(
            f"| {redundancy.upper()} both / circular alone (after) | | "
            f"{rows[2][2][0] / one_null:.2f}× | | | | |",
            flush=True,
        )
    if not (quick or skip_large):
        rng = np.random.default_rng(2)
        big = rng.standard_normal((100, 5120)).astype(np.float32)
        phiid_pairwise(big[:, :64], select=NULL_SELECT)
        for select, label in ((NULL_SELECT, "3 planes"), (None, "16 atoms")):
            wall, cpu = min((timed(lambda s=select: phiid_pairwise(big, select=s))
                             for _ in range(3)), key=lambda t: t[0])  # fmt: skip
            print(f"MMI, 5,120 heads, {label}: {fmt(wall)} (CPU {fmt(cpu)}), best of 3")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    main(ARGS.quick, ARGS.reference_prompts, ARGS.skip_large, ARGS.only)
