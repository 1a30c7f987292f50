"""Speed of the all-pairs ΦID engine, each row against baselines measured in the same run.

Run from the repository root::

    python benchmarks/bench_phiid.py              # all rows (about two minutes here)
    python benchmarks/bench_phiid.py --quick      # N = 270 rows and a short null only
    python benchmarks/bench_phiid.py --skip-large # without N = 5,120

Baselines: (a) the numpy engine (``engine="numpy"``: the vectorised MMI closed form the
package had before the compiled engine, kept as the reference), and (b) a per-pair loop of
local multivariate-normal densities in the style of the published toolbox (the slow
references of the tests, timed on a few pairs and extrapolated to all ordered pairs).

BLAS runs on one thread (``--blas-threads``): on a machine whose few cores are shared with
other jobs, BLAS worker threads make the products several times slower. The engine picks
numba's "workqueue" threading layer itself unless told otherwise (see docs/engine.md);
``--omp-wait PASSIVE`` sets OMP_WAIT_POLICY, which keeps numba's OpenMP layer instead.
Times are the minimum over repeats (the median is printed beside it), with the process
CPU time.
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # thread settings are read when the libraries load
    _args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _args.add_argument("--blas-threads", default="1", help="a number, or 'default'")
    _args.add_argument("--omp-wait", default="default", help="OMP_WAIT_POLICY (e.g. PASSIVE)")
    _args.add_argument("--skip-large", action="store_true", help="skip N = 5,120")
    _args.add_argument("--quick", action="store_true", help="N = 270 and a short null only")
    ARGS = _args.parse_args()
    if ARGS.blas_threads != "default":
        for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[_var] = str(int(ARGS.blas_threads))
    if ARGS.omp_wait != "default":
        os.environ["OMP_WAIT_POLICY"] = ARGS.omp_wait

import importlib.util  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from synergy_utils.phiid import phiid_pairwise, phiid_pairwise_stack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NULL_SELECT = ("sts", "rtr", "phi_wms")


def load_test_module(name: str):
    """A test module (for its slow per-pair references), with the repository on the path."""
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(func: Callable[[], object], repeats: int, warmup: bool = True) -> tuple[float, ...]:
    """(min wall, median wall, min CPU) seconds over ``repeats`` calls."""
    if warmup:
        func()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), float(np.median(wall)), min(cpu)


def series(n_steps: int, n_nodes: int, seed: int = 0, n_items: int | None = None) -> np.ndarray:
    """(T, N) (or (B, T, N)) float32 series with shared slow components, like head norms."""
    rng = np.random.default_rng(seed)
    shape = (n_items or 1, n_steps)
    shared = np.cumsum(rng.normal(size=shape + (8,)), axis=1) * 0.1
    loadings = rng.normal(size=(8, n_nodes))
    x = (shared @ loadings + rng.normal(size=shape + (n_nodes,))).astype(np.float32)
    return x if n_items else x[0]


def per_pair_seconds(x: np.ndarray, func: Callable, n_pairs: int) -> float:
    """Mean wall seconds per ordered pair of ``func(src, trg)`` over random pairs."""
    rng = np.random.default_rng(1)
    pairs = [tuple(rng.choice(x.shape[1], 2, replace=False)) for _ in range(n_pairs)]
    func(x[:, 0], x[:, 1])
    start = time.perf_counter()
    for i, j in pairs:
        func(x[:, i], x[:, j])
    return (time.perf_counter() - start) / n_pairs


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    if seconds < 600:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def ratio(baseline: float, ours: float) -> str:
    return f"{baseline / ours:,.0f}×" if baseline / ours >= 10 else f"{baseline / ours:.1f}×"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, case, n, ours, numpy_s, loop_s, goal, note=""):
        wall, med, cpu = ours
        self.rows.append(
            (
                case,
                f"{n:,}",
                f"{fmt(wall)} (median {fmt(med)}, CPU {fmt(cpu)})",
                f"{fmt(numpy_s)}: {ratio(numpy_s, wall)}" if numpy_s else "",
                f"{fmt(loop_s)}: {ratio(loop_s, wall)}" if loop_s else "",
                goal,
                note,
            )
        )

    def print(self) -> None:
        header = (
            "case",
            "N",
            "compiled engine (min over repeats)",
            "(a) numpy engine: ratio",
            "(b) per-pair local-density loop (extrapolated): ratio",
            "goal",
            "note",
        )
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] * len(header)) + "|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def main(quick: bool, skip_large: bool) -> None:
    import numba

    warnings.simplefilter("error")  # clean data must not produce degenerate pairs
    mmi_ref = load_test_module("test_phiid").reference_pair
    ccs_ref = load_test_module("test_phiid_ccs").ccs_reference_pair
    table = Table()
    n = 270
    x = series(100, n)
    ordered = n * (n - 1)
    x64 = x.astype(np.float64)
    loop_mmi = per_pair_seconds(x64, mmi_ref, 20 if quick else 40) * ordered
    loop_ccs = per_pair_seconds(x64, ccs_ref, 10 if quick else 30) * ordered
    numpy_270 = timed(lambda: phiid_pairwise(x, engine="numpy"), 10 if quick else 30)[0]

    ours = timed(lambda: phiid_pairwise(x), 10 if quick else 50)
    table.add("MMI, all 16 atoms", n, ours, numpy_270, loop_mmi, "≥ 8× (a)")
    ours = timed(lambda: phiid_pairwise(x, select=NULL_SELECT), 10 if quick else 50)
    table.add("MMI, select sts, rtr, phi_wms", n, ours, numpy_270, loop_mmi, "")
    ours = timed(lambda: phiid_pairwise(x, redundancy="ccs"), 5 if quick else 15)
    table.add("CCS, all 16 atoms", n, ours, numpy_270, loop_ccs, "≥ 2,000× (b)", "(a) computes MMI")

    # the surrogate null: K = 200 surrogates x 60 prompts = 12,000 prompt-level calls
    n_prompts, calls = 60, 12_000
    stack = series(100, n, seed=5, n_items=n_prompts)
    for redundancy, repeats, goal_s in (("mmi", 2 if quick else 5, 120), ("ccs", 1, 900)):
        if quick and redundancy == "ccs":
            stack_part = stack[:12]
        else:
            stack_part = stack
        ours = timed(
            lambda s=stack_part, r=redundancy: phiid_pairwise_stack(
                s, redundancy=r, reduce=None, select=NULL_SELECT
            ),
            repeats,
        )
        per_call = ours[0] / len(stack_part)
        total = per_call * calls
        numpy_total = numpy_270 * calls if redundancy == "mmi" else None
        loop = (loop_mmi if redundancy == "mmi" else loop_ccs) * calls
        table.add(
            f"null: {calls:,} prompt-level calls ({redundancy.upper()}, select 3), "
            f"extrapolated from {repeats} × {len(stack_part)}",
            n,
            tuple(v / len(stack_part) * calls for v in ours),
            numpy_total,
            loop,
            f"≤ {fmt(goal_s)}: {'met' if total <= goal_s else 'NOT met'}",
            f"{fmt(per_call)} per prompt-level call",
        )

    if not quick:
        n = 1152
        x = series(100, n, seed=2)
        numpy_s = timed(lambda: phiid_pairwise(x, engine="numpy"), 3)[0]
        ours = timed(lambda: phiid_pairwise(x), 5)
        loop = loop_mmi / ordered * n * (n - 1)
        table.add("MMI, all 16 atoms", n, ours, numpy_s, loop, "")

    if not (quick or skip_large):
        n = 5120
        x = series(100, n, seed=3)
        loop = loop_mmi / ordered * n * (n - 1)
        result_gib = 16 * n * n * 8 / 2**30
        numpy_s = timed(lambda: phiid_pairwise(x, engine="numpy"), 1, warmup=False)[0]
        ours = timed(lambda: phiid_pairwise(x), 2, warmup=False)
        table.add(
            "MMI, all 16 atoms", n, ours, numpy_s, loop, "≥ 5× (a), ≤ 0.5 s",
            f"result {result_gib:.1f} GiB: writing it is the floor (see docs/engine.md)",
        )  # fmt: skip
        numpy_s = timed(lambda: phiid_pairwise(x, engine="numpy", select="sts"), 1, False)[0]
        ours = timed(lambda: phiid_pairwise(x, select=NULL_SELECT), 2, warmup=False)
        table.add(
            "MMI, select sts, rtr, phi_wms", n, ours, numpy_s, loop, "",
            "(a) with select='sts'",
        )  # fmt: skip

    load = os.getloadavg()
    print(
        f"\nΦID benchmark, T = 100 time steps: {os.cpu_count()} cores, numba "
        f"{numba.__version__} ({numba.get_num_threads()} threads, layer "
        f"{numba.threading_layer()}), numpy {np.__version__}, BLAS threads "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, OMP_WAIT_POLICY "
        f"{os.environ.get('OMP_WAIT_POLICY', 'default')}; load average at the end "
        f"{load[0]:.1f} (1 min) / {load[1]:.1f} (5 min)\n"
    )
    table.print()


if __name__ == "__main__":
    sys.exit(main(ARGS.quick, ARGS.skip_large))
