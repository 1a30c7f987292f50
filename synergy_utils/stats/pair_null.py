"""ΦID atoms of every pair of heads against that pair's own circular-shift null.

:func:`null_corrected_atoms` computes, for every pair, the observed atom, the mean and spread
of the same atom over K surrogates (one offset per head per surrogate, shared by all prompts;
a surrogate counts for a pair only when the two heads' relative offset is far from 0, see
:func:`~synergy_utils.stats.nulls.pair_shift_mask`), Δ = observed − null mean, z-scores,
p-values, Benjamini–Hochberg over pairs, per-prompt Δ (for bootstraps over prompts), head
partner means, and per-layer shares of significant pairs. Observed data and surrogates are
taken on each series' circular closure (:func:`~synergy_utils.stats.nulls.circular_closure`),
which removes the wrap-around bias of plain circular shifts. ``docs/validation.md`` has the
design and the measured biases.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from .nulls import (
    calibrate_z,
    circular_closure,
    default_min_shift,
    draw_offsets,
    pair_shift_mask,
    rank_scores,
    rotate,
)
from .resampling import benjamini_hochberg

#: Quantities :func:`null_corrected_atoms` can correct besides the 16 atoms (``sts_share`` is
#: sts / TDMI, the share of a pair's time-delayed information that is synergy).
DERIVED_QUANTITIES: tuple[str, ...] = ("phi_wms", "tdmi", "phi_r", "sts_share")
#: p-values that Benjamini–Hochberg can use in :func:`null_corrected_atoms`.
FDR_P_VALUES: tuple[str, ...] = ("prompts", "empirical", "normal")


def _atom_symmetric(name: str) -> bool:
    """Whether swapping source and target leaves the quantity unchanged (sts, rtr, Φ_WMS)."""
    from ..phiid import ATOM_INDEX, SWAP_PERMUTATION

    if name in DERIVED_QUANTITIES:
        return True
    return bool(SWAP_PERMUTATION[ATOM_INDEX[name]] == ATOM_INDEX[name])


def _stack_quantities(
    x: np.ndarray, tau: int, redundancy: str, estimator: str, names: Sequence[str]
) -> np.ndarray:
    """``(P, len(names), N, N)`` quantities of every pair of every prompt, in one engine call."""
    from .. import phiid

    asked = [n for n in names if n != "sts_share"]
    if "sts_share" in names:
        asked += [n for n in ("sts", "tdmi") if n not in asked]
    out = phiid.phiid_pairwise_stack(
        x, tau, redundancy, estimator, reduce=None, select=tuple(asked)
    )
    if "sts_share" not in names:
        return out
    where = {name: k for k, name in enumerate(asked)}
    with np.errstate(invalid="ignore", divide="ignore"):
        tdmi = out[:, where["tdmi"]]
        share = np.where(tdmi > 0, out[:, where["sts"]] / tdmi, np.nan)
    planes = [share if n == "sts_share" else out[:, where[n]] for n in names]
    return np.stack(planes, axis=1)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


class _PairNullSums:
    """Running sums of the surrogates of every (prompt, quantity, pair), surrogate by surrogate.

    ``observed`` is ``(P, A, N, N)``. With ``closure``, a relative offset already used for a
    pair is not counted again (under the closure it gives the same surrogate).
    """

    def __init__(self, observed: np.ndarray, n_surrogates: int, n_steps: int, closure: bool):
        shape = observed.shape
        self.observed = observed
        self.obs_mean = _nanmean(observed, axis=0)  # (A, N, N)
        self.sum_prompt = np.zeros(shape)
        self.count_prompt = np.zeros((shape[0],) + shape[2:], dtype=np.int32)
        self.greater_prompt = np.zeros(shape, dtype=np.int32)
        self.sum_mean = np.zeros(shape[1:])
        self.sumsq_mean = np.zeros(shape[1:])
        self.n_greater = np.zeros(shape[1:], dtype=np.int64)
        self.n_valid = np.zeros(shape[2:], dtype=np.int64)
        self.null_head = np.empty((n_surrogates,) + shape[1:3])
        self.seen = np.zeros((shape[2], shape[3], n_steps), dtype=bool) if closure else None
        self.n_steps = n_steps

    def add(self, k: int, surrogate: np.ndarray, offsets: np.ndarray, min_shift: int) -> None:
        """Surrogate ``k`` (P, A, N, N) of every prompt, drawn with ``offsets`` (N,)."""
        finite = np.isfinite(surrogate[:, 0])  # (P, N, N): degenerate pairs are NaN throughout
        mask = self.add_mean(k, _nanmean(surrogate, axis=0), offsets, min_shift)
        use = finite & mask[None]
        self.sum_prompt += np.where(use[:, None], surrogate, 0.0)
        self.count_prompt += use
        self.greater_prompt += use[:, None] & (surrogate > self.observed)

    def add_mean(
        self, k: int, s_mean: np.ndarray, offsets: np.ndarray, min_shift: int
    ) -> np.ndarray:
        """The prompt-mean part of surrogate ``k`` (``s_mean`` (A, N, N)); returns the pairs
        (N, N) for which it counts."""
        self.null_head[k] = _nanmean(s_mean, axis=2)
        mask = pair_shift_mask(offsets, self.n_steps, min_shift) & np.isfinite(s_mean[0])
        if self.seen is not None:
            lag = np.mod(offsets[:, None] - offsets[None, :], self.n_steps)
            n_nodes = lag.shape[0]
            flat = np.arange(n_nodes * n_nodes).reshape(n_nodes, n_nodes) * self.n_steps + lag
            seen = self.seen.reshape(-1)  # a view: seen[i, j, lag]
            before = seen[flat]
            mask &= ~before
            seen[flat] = before | mask
        s_masked = np.where(mask[None], s_mean, 0.0)
        self.sum_mean += s_masked
        self.sumsq_mean += s_masked**2
        self.n_valid += mask
        self.n_greater += mask[None] & (s_mean >= self.obs_mean)
        return mask

    def statistics(self) -> dict[str, np.ndarray]:
        """Null mean and spread, Δ (overall and per prompt), z and the three p-values."""
        n_valid, obs_mean = self.n_valid, self.obs_mean
        with np.errstate(invalid="ignore", divide="ignore"):
            null_prompt = self.sum_prompt / self.count_prompt[:, None]
            delta_prompt = np.where(np.isfinite(self.observed), self.observed - null_prompt, np.nan)
            null_mean = np.where(n_valid > 0, self.sum_mean / n_valid, np.nan)
            var = (self.sumsq_mean - n_valid * null_mean**2) / (n_valid - 1)
            null_sd = np.where(n_valid > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)
            delta = obs_mean - null_mean
            z = np.where(null_sd > 0, delta / null_sd, np.nan)
            p_value = np.where(
                (n_valid > 0) & np.isfinite(obs_mean), (1 + self.n_greater) / (1 + n_valid), np.nan
            )
        z_prompts = self._combined_rank_z()
        out = {
            "observed": obs_mean,
            "null_mean": null_mean,
            "null_sd": null_sd,
            "delta": delta,
            "z": z,
            "p_value": p_value,
            "p_normal": np.where(np.isfinite(z), sps.norm.sf(z), np.nan),
            "z_prompts": z_prompts,
            "p_prompts": np.where(np.isfinite(z_prompts), sps.norm.sf(z_prompts), np.nan),
        }
        diagonal = np.eye(n_valid.shape[0], dtype=bool)
        for name in ("null_mean", "null_sd", "delta", "z", "p_value", "p_normal", "z_prompts",
                     "p_prompts"):  # fmt: skip
            out[name][:, diagonal] = np.nan
        out["delta_prompt"] = delta_prompt
        return out

    def _combined_rank_z(self) -> np.ndarray:
        """Per-prompt ranks among the surrogates, combined over prompts (Stouffer) and
        calibrated on the null side of all pairs (:func:`..nulls.calibrate_z`)."""
        scores, variances = rank_scores(self.greater_prompt, self.count_prompt[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(scores) & np.isfinite(self.observed)
            z = np.where(ok, scores, 0.0).sum(axis=0) / np.sqrt(
                np.where(ok, variances, 0.0).sum(axis=0)
            )
        i, j = np.triu_indices(z.shape[1], 1)
        return np.stack([calibrate_z(z[a], z[a][i, j]) for a in range(z.shape[0])])


def _add_lag_tables(
    sums: _PairNullSums,
    series: np.ndarray,
    offsets: np.ndarray,
    min_shift: int,
    options: tuple[Sequence[str], str, int],
    progress: bool = False,
) -> None:
    """All K surrogates of :func:`null_corrected_atoms` (closure, Gaussian estimator) from
    each prompt's lag table (:mod:`synergy_utils.phiid._lagged`): the same sums as K calls of
    :meth:`_PairNullSums.add`, to rounding, with one evaluation per drawn relative lag of a
    pair instead of one per surrogate. ``series`` (P, T, N); ``options``: (names,
    redundancy, tau)."""
    from ..phiid import _lagged

    names, redundancy, tau = options
    n_prompts, n_steps, n_nodes = series.shape
    codes = _lagged.lag_codes(list(names))
    first, valid, rel = _lagged.drawn_lags(offsets, n_steps, min_shift)
    lags = first, valid, np.ascontiguousarray(offsets, dtype=np.int64)
    by_lag = (
        np.zeros((len(codes[0]), n_nodes, n_nodes, n_steps)),
        np.zeros((n_nodes, n_nodes, n_steps), dtype=np.int64),
    )
    closed = circular_closure(series, tau)
    prompts: Any = range(n_prompts)
    if progress:
        from tqdm.auto import tqdm

        prompts = tqdm(prompts, desc="circular-shift null (lag tables)", leave=False)
    for p in prompts:
        prompt = sums.sum_prompt[p], sums.count_prompt[p], sums.greater_prompt[p]
        _lagged.lag_null_prompt(
            closed[p], tau, redundancy == "ccs", codes, lags, sums.observed[p],
            by_lag, prompt,
        )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        by_mean = by_lag[0] / by_lag[1]  # (A, N, N, T) prompt means by lag; NaN where none
    by_mean = np.ascontiguousarray(by_mean.reshape(by_mean.shape[0], -1).T)  # (N N T, A)
    base = np.arange(n_nodes * n_nodes).reshape(n_nodes, n_nodes) * n_steps
    diagonal = np.eye(n_nodes, dtype=bool)
    for k in range(offsets.shape[0]):
        s_mean = np.moveaxis(by_mean[base + rel[k]], 2, 0)  # (A, N, N)
        s_mean[:, diagonal] = np.nan
        sums.add_mean(k, s_mean, offsets[k], min_shift)


def _fdr(
    names: Sequence[str], tested: np.ndarray, delta: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """BH q-values over unordered pairs (symmetric quantities) or ordered pairs, and the
    significant pairs (``q <= alpha`` and Δ > 0)."""
    n_nodes = tested.shape[1]
    diagonal = np.eye(n_nodes, dtype=bool)
    upper = np.triu(np.ones((n_nodes, n_nodes), dtype=bool), 1)
    q_value = np.full(tested.shape, np.nan)
    significant = np.zeros(tested.shape, dtype=bool)
    for a, name in enumerate(names):
        symmetric = _atom_symmetric(name)
        _, q = benjamini_hochberg(
            np.where(upper if symmetric else ~diagonal, tested[a], np.nan), alpha
        )
        q_value[a] = np.where(upper, q, q.T) if symmetric else q
        significant[a] = (q_value[a] <= alpha) & (delta[a] > 0)
    return q_value, significant


def null_corrected_atoms(
    values: Any,
    *,
    atoms: Sequence[str] = ("sts", "rtr", "phi_wms"),
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    tau: int = 1,
    n_surrogates: int = 200,
    min_shift: int | None = None,
    closure: bool = True,
    alpha: float = 0.05,
    fdr_p: str = "prompts",
    seed: int | np.random.Generator = 0,
    progress: bool = False,
    lag_table: bool = True,
) -> Any:
    """ΦID atoms of every pair of heads against a circular-shift null of that pair.

    Parameters
    ----------
    values
        Head series ``(P, T, L, H)`` (array, or an object with ``.values`` such as a
        ``HeadSeries``); node ``n = layer * H + head``.
    atoms
        Quantities to correct: ΦID atom names and/or ``"phi_wms"``, ``"tdmi"``.
    redundancy, estimator, tau
        Passed to :func:`synergy_utils.phiid.phiid_pairwise_stack` (``estimator="discrete"``:
        the binarised estimator, in bits).
    n_surrogates
        K: each surrogate rolls every head by its own offset (:func:`draw_offsets`), the same
        offsets in every prompt, so one engine call computes all prompts of a surrogate.
    min_shift
        A surrogate counts for pair (i, j) only if the circular distance of the two heads'
        relative offset is at least ``min_shift`` (:func:`pair_shift_mask`); default
        :func:`default_min_shift`.
    closure
        Compute observed and surrogates on the :func:`circular_closure` of each series
        (default): every head's own lag statistics are then identical in the observed data and
        in all its surrogates (no wrap-around bias), and a pair's surrogate depends only on the
        relative offset, so a relative offset drawn twice for a pair is counted once (at most
        ``T - 2 min_shift + 1`` distinct surrogates per pair). ``False``: plain rolled series
        of length T (the wrap-around point then lowers the surrogates' persistence) and every
        valid draw counts.
    alpha, fdr_p
        Benjamini–Hochberg level over pairs, and which p-values it uses (:data:`FDR_P_VALUES`):
        ``"prompts"`` (default): ``p_prompts``, which combines the pair's rank among its
        surrogates in each prompt (prompts are independent): Stouffer's sum of the rank
        normal scores (:func:`rank_scores`), standardised by their exact null variance and
        calibrated on the null side of all pairs (:func:`calibrate_z`). It needs no model of the
        null's shape and resolves p far below ``1 / K``. ``"empirical"``: the add-one
        p-value of the prompt-mean statistic (exact, but never below ``1 / (n_valid + 1)``,
        too coarse for BH over thousands of pairs); ``"normal"``: the normal upper tail of
        ``z`` (too light-tailed: the MMI sts null of weakly persistent heads is skewed).
    seed
        Seed of the offsets.
    lag_table
        With the closure and the Gaussian estimator (default True): compute the surrogates
        from each prompt's all-lags circular cross-correlations, once per drawn relative lag
        of each pair (:mod:`synergy_utils.phiid._lagged`), equal to the surrogate-by-surrogate
        engine calls to rounding (~1e-12 nats) and several times faster. ``False`` (or
        ``closure=False``, or the discrete estimator): one all-pairs engine call per
        surrogate, the reference.

    Returns
    -------
    xarray.Dataset
        Coordinates ``atom``, ``prompt``, ``source`` / ``target`` (node index, with
        ``source_layer`` / ``source_head`` and ``target_layer`` / ``target_head``), ``layer``,
        ``head``, ``surrogate``. Pair variables, dims ``(atom, source, target)``: ``observed``
        (prompt mean, nats), ``null_mean``, ``null_sd`` (over the pair's valid surrogates of
        the prompt-mean statistic), ``delta`` (``observed - null_mean``), ``z``, ``p_value``
        (empirical, add-one, one-sided greater), ``p_normal``, ``z_prompts`` and
        ``p_prompts`` (the combined per-prompt rank test, see ``fdr_p``), ``q_value`` (BH
        of the chosen p over unordered pairs for symmetric quantities, ordered pairs
        otherwise) and ``significant`` (``q <= alpha`` and ``delta > 0``); ``n_valid``
        ``(source, target)``, the pair's number of surrogates. ``delta_prompt``
        ``(prompt, atom, source, target)``: per-prompt observed minus that prompt's null mean
        (for bootstraps over prompts). Head variables: ``head_delta``
        ``(prompt, atom, layer, head)``, the mean of ``delta_prompt`` over the head's partners
        (as source); ``head_observed`` ``(atom, layer, head)`` and ``null_head_mean``
        ``(surrogate, atom, layer, head)`` (partner means of the prompt-mean raw quantity, all
        pairs, for nulls of rank statistics); ``layer_share`` ``(atom, layer)`` (see below);
        ``offsets`` ``(surrogate, layer, head)``. Attributes record every setting.

        ``layer_share`` of layer l: the mean over the layer's heads of the fraction of the
        head's partners (all other heads with a finite test) with which it forms a
        significant pair, i.e. the share of the (head in layer l, partner) pairs that are
        significantly above their null.

    Memory is O(P · A · N²) (A quantities): the per-prompt running sums of the surrogates and
    one surrogate's engine output, their per-prompt rank counts, and ``N² T`` booleans (the
    relative offsets seen). Degenerate (NaN) pairs are left out of every mean.
    """
    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(f"expected (prompt, step, layer, head) series, got shape {array.shape}")
    if fdr_p not in FDR_P_VALUES:
        raise ValueError(f"fdr_p must be one of {FDR_P_VALUES}, got {fdr_p!r}")
    if not np.isfinite(array).all():
        raise ValueError("head series contain NaN or inf; drop or trim those prompts first")
    names = list(atoms)
    if not names:
        raise ValueError("atoms must name at least one quantity")
    n_prompts, n_steps, n_layers, n_heads = array.shape
    shift = default_min_shift(n_steps, tau) if min_shift is None else int(min_shift)
    if not 1 <= shift <= n_steps // 2:
        raise ValueError(f"min_shift must lie in 1 .. T // 2 = {n_steps // 2}, got {shift}")
    series = array.reshape(n_prompts, n_steps, n_layers * n_heads)
    offsets = draw_offsets(n_surrogates, n_layers * n_heads, n_steps, seed)

    def quantities(x: np.ndarray) -> np.ndarray:
        closed = circular_closure(x, tau) if closure else x
        return _stack_quantities(closed, tau, redundancy, estimator, names)

    sums = _PairNullSums(quantities(series), n_surrogates, n_steps, closure)
    if lag_table and closure and estimator.lower() == "gaussian":
        options = (names, redundancy.lower(), int(tau))
        _add_lag_tables(sums, series, offsets, shift, options, progress)
        replicates: Any = ()
    else:
        replicates = range(n_surrogates)
    if progress and replicates:
        from tqdm.auto import tqdm

        replicates = tqdm(replicates, desc="circular-shift null (pairs)", leave=False)
    for k in replicates:
        sums.add(k, quantities(rotate(series, offsets[k])), offsets[k], shift)
    stats = sums.statistics()
    tested = {"prompts": "p_prompts", "empirical": "p_value", "normal": "p_normal"}[fdr_p]
    stats["q_value"], stats["significant"] = _fdr(names, stats[tested], stats["delta"], alpha)
    settings = {
        "redundancy": str(redundancy),
        "estimator": str(estimator),
        "tau": int(tau),
        "n_steps": int(n_steps),
        "n_surrogates": int(n_surrogates),
        "min_shift": int(shift),
        "closure": int(bool(closure)),
        "alpha": float(alpha),
        "fdr_p": fdr_p,
        "seed": seed if isinstance(seed, int) else -1,
    }
    return _null_dataset(names, stats, sums, offsets, (n_layers, n_heads), settings)


def _null_dataset(
    names: Sequence[str],
    stats: dict[str, np.ndarray],
    sums: _PairNullSums,
    offsets: np.ndarray,
    grid: tuple[int, int],
    settings: dict[str, Any],
) -> Any:
    """The labelled result of :func:`null_corrected_atoms`."""
    import xarray as xr

    n_layers, n_heads = grid
    n_nodes = n_layers * n_heads
    n_atoms = len(names)
    testable = np.isfinite(stats["q_value"])
    with np.errstate(invalid="ignore", divide="ignore"):
        share_head = stats["significant"].sum(axis=2) / testable.sum(axis=2)  # (A, N)
    layer_share = _nanmean(share_head.reshape(n_atoms, n_layers, n_heads), axis=2)

    def heads(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[:-1] + (n_layers, n_heads))

    pair = ("atom", "source", "target")
    data = {name: (pair, stats[name]) for name in (
        "observed", "null_mean", "null_sd", "delta", "z", "p_value", "p_normal", "z_prompts",
        "p_prompts", "q_value", "significant")}  # fmt: skip
    data.update(
        n_valid=(("source", "target"), sums.n_valid),
        delta_prompt=(("prompt",) + pair, stats["delta_prompt"]),
        head_delta=(("prompt", "atom", "layer", "head"), heads(_nanmean(stats["delta_prompt"], 3))),
        head_observed=(("atom", "layer", "head"), heads(_nanmean(stats["observed"], 2))),
        null_head_mean=(("surrogate", "atom", "layer", "head"), heads(sums.null_head)),
        layer_share=(("atom", "layer"), layer_share),
        offsets=(("surrogate", "layer", "head"), heads(offsets)),
    )
    nodes = np.arange(n_nodes)
    coords = {
        "atom": list(names),
        "prompt": np.arange(stats["delta_prompt"].shape[0]),
        "source": nodes,
        "target": nodes,
        "source_layer": ("source", nodes // n_heads),
        "source_head": ("source", nodes % n_heads),
        "target_layer": ("target", nodes // n_heads),
        "target_head": ("target", nodes % n_heads),
        "surrogate": np.arange(offsets.shape[0]),
        "layer": np.arange(n_layers),
        "head": np.arange(n_heads),
    }
    null_text = (
        "circular shift: one offset per head per surrogate, shared by all prompts; a surrogate "
        f"counts for a pair when the heads' circular relative offset is >= "
        f"{settings['min_shift']} steps"
    )
    if settings["closure"]:
        null_text += (
            "; observed and surrogates on each series' circular closure, each relative offset "
            "counted once per pair"
        )
    units = "bits" if settings["estimator"] == "discrete" else "nats"
    attrs = {"units": units, **settings, "null": null_text}
    return xr.Dataset(data, coords=coords, attrs=attrs)
