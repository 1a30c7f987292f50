"""ΦID atoms of every pair of heads against a prompt-shuffle (replication) null.

The circular-shift null (:mod:`synergy_utils.stats.pair_null`) keeps each head's series and
moves it in time; its surrogates have seams (a wrap-around point, or under the closure a
rotated window), and for strongly persistent or trending series the seam biases the null
mean. The prompt-shuffle null needs no seam: head ``i`` of prompt ``p`` is paired with head
``j`` of another prompt ``σ(p)``, both whole series, as recorded. Prompts are independent
realisations of the same heads, so the pair keeps each head's own dynamics exactly and loses
everything that couples them within a prompt (synergy, redundancy and transfer between them,
and any drive they share).

The derangements are the cyclic ones, ``σ_s(p) = (p + s) mod P`` for ``s = 1 .. P - 1``
(no prompt is paired with itself, each prompt serves once as partner in each); with
``n_derangements`` below ``P - 1`` a seeded subset of the shifts is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .resampling import as_generator


def derangement_shifts(
    n_prompts: int, n_derangements: int | None = None, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Sorted prompt shifts ``s`` in ``1 .. P - 1`` of the cyclic derangements to use.

    ``None`` (or a number ``>= P - 1``): all ``P - 1`` of them; fewer: a seeded subset
    without repetition. Needs at least 2 prompts.
    """
    if n_prompts < 2:
        raise ValueError(f"a prompt-shuffle null needs at least 2 prompts, got {n_prompts}")
    every = np.arange(1, n_prompts)
    if n_derangements is None or n_derangements >= every.size:
        return every
    if n_derangements < 1:
        raise ValueError(f"n_derangements must be >= 1, got {n_derangements}")
    chosen = as_generator(seed).choice(every, size=int(n_derangements), replace=False)
    return np.sort(chosen)


def cross_atoms(
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    tau: int,
    redundancy: str,
    estimator: str,
    atoms: Sequence[str],
) -> np.ndarray:
    """``(P, A, N, M)`` atoms of every ordered pair (source head ``i`` of ``sources[p]``,
    target head ``j`` of ``targets[p]``), prompt by prompt.

    ``sources`` is ``(P, T, N)`` and ``targets`` ``(P, T, M)``. Computed as the off-diagonal
    block of the all-pairs engine on the series side by side.
    """
    from .. import phiid

    n_sources = sources.shape[2]
    both = np.concatenate([sources, targets], axis=2)
    out = phiid.phiid_pairwise_stack(
        both, tau, redundancy, estimator, reduce=None, select=tuple(atoms)
    )
    return out[:, :, :n_sources, n_sources:]


def _nanmean(a: np.ndarray, axis: Any) -> np.ndarray:
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def prompt_shuffle_atoms(
    values: Any,
    *,
    atoms: Sequence[str] = ("sts", "rtr"),
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    tau: int = 1,
    n_derangements: int | None = None,
    seed: int | np.random.Generator = 0,
    progress: bool = False,
    cross_block: bool = True,
) -> Any:
    """ΦID atoms of every pair of heads minus their prompt-shuffle null.

    Parameters
    ----------
    values
        Head series ``(P, T, L, H)`` (array, or an object with ``.values``); node
        ``n = layer * H + head``.
    atoms
        ΦID atom names (or ``"phi_wms"``, ``"tdmi"``) to correct.
    redundancy, estimator, tau
        Passed to :func:`synergy_utils.phiid.phiid_pairwise_stack`.
    n_derangements
        How many cyclic derangements of the prompts (default: all ``P - 1``); each costs
        about four all-pairs engine calls.
    seed
        Seed of the subset of derangements (unused when all are taken).
    cross_block
        With the Gaussian estimator (default True): compute only the cross-prompt pairs of
        each derangement (:mod:`synergy_utils.phiid._cross`: the windows prepared once, the
        four correlation blocks, one kernel over N x N pairs), equal to the all-pairs
        engine on the two prompts side by side (:func:`cross_atoms`) to rounding. ``False``
        (or the discrete estimator): :func:`cross_atoms`, the reference.

    Returns
    -------
    xarray.Dataset
        ``observed`` ``(atom, source, target)`` (prompt mean, nats), ``null_mean`` (mean over
        prompts and derangements of the atom of head ``i`` of prompt ``p`` with head ``j`` of
        prompt ``σ(p)``), ``delta`` (``observed - null_mean``), ``delta_prompt``
        ``(prompt, atom, source, target)`` (each prompt's atom minus the mean over
        derangements of that prompt's source heads paired with the other prompts' target
        heads: a bootstrap over prompts resamples these), ``head_delta``
        ``(prompt, atom, layer, head)`` (partner means of ``delta_prompt``); the diagonal is
        NaN. Attributes record the settings and the shifts used.
    """

    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(f"expected (prompt, step, layer, head) series, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("head series contain NaN or inf; drop or trim those prompts first")
    names = list(atoms)
    if not names:
        raise ValueError("atoms must name at least one quantity")
    n_prompts, n_steps, n_layers, n_heads = array.shape
    shifts = derangement_shifts(n_prompts, n_derangements, seed)
    series = array.reshape(n_prompts, n_steps, n_layers * n_heads)
    options = {"tau": tau, "redundancy": redundancy, "estimator": estimator, "atoms": names}

    from .. import phiid

    observed = phiid.phiid_pairwise_stack(
        series, tau, redundancy, estimator, reduce=None, select=tuple(names)
    )
    null_sum = np.zeros_like(observed)
    null_count = np.zeros(observed.shape, dtype=np.int32)
    loop: Any = shifts
    if progress:
        from tqdm.auto import tqdm

        loop = tqdm(shifts, desc="prompt-shuffle null (pairs)", leave=False)
    fast = None
    if cross_block and str(estimator).lower() == "gaussian":
        from ..phiid._cross import CrossPairs

        fast = CrossPairs(series, int(tau), str(redundancy))
    for shift in loop:
        if fast is not None:
            order = (np.arange(n_prompts) + int(shift)) % n_prompts
            block = fast.atoms(order, names)
        else:
            partner = np.roll(series, -int(shift), axis=0)  # partner[p] = series[(p + s) % P]
            block = cross_atoms(series, partner, **options)
        finite = np.isfinite(block)
        null_sum += np.where(finite, block, 0.0)
        null_count += finite
    return _shuffle_dataset(names, observed, null_sum, null_count, (n_layers, n_heads), {
        "redundancy": str(redundancy), "estimator": str(estimator), "tau": int(tau),
        "n_steps": int(n_steps), "n_derangements": int(shifts.size),
        "shifts": [int(s) for s in shifts], "seed": seed if isinstance(seed, int) else -1,
    })  # fmt: skip


def _shuffle_dataset(names, observed, null_sum, null_count, grid, settings) -> Any:
    """The labelled result of :func:`prompt_shuffle_atoms`."""
    import xarray as xr

    n_layers, n_heads = grid
    n_nodes = n_layers * n_heads
    with np.errstate(invalid="ignore", divide="ignore"):
        null_prompt = np.where(null_count > 0, null_sum / null_count, np.nan)
    delta_prompt = observed - null_prompt
    diagonal = np.eye(n_nodes, dtype=bool)
    delta_prompt[..., diagonal] = np.nan
    total = null_sum.sum(axis=0)
    count = null_count.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        null_mean = np.where(count > 0, total / count, np.nan)
    obs_mean = _nanmean(observed, 0)
    null_mean[:, diagonal] = np.nan
    head_delta = _nanmean(delta_prompt, 3).reshape(delta_prompt.shape[:2] + (n_layers, n_heads))
    nodes = np.arange(n_nodes)
    pair = ("atom", "source", "target")
    data = {
        "observed": (pair, obs_mean),
        "null_mean": (pair, null_mean),
        "delta": (pair, obs_mean - null_mean),
        "delta_prompt": (("prompt",) + pair, delta_prompt),
        "head_delta": (("prompt", "atom", "layer", "head"), head_delta),
    }
    coords = {
        "atom": list(names),
        "prompt": np.arange(observed.shape[0]),
        "source": nodes,
        "target": nodes,
        "source_layer": ("source", nodes // n_heads),
        "target_layer": ("target", nodes // n_heads),
        "layer": np.arange(n_layers),
        "head": np.arange(n_heads),
    }
    units = "bits" if settings["estimator"] == "discrete" else "nats"
    shifts = settings.pop("shifts")
    null_text = (
        "prompt shuffle: head i of prompt p paired with head j of prompt (p + s) mod P, whole "
        f"series, {len(shifts)} cyclic derangements"
    )
    attrs = {"units": units, **settings, "shifts": np.asarray(shifts), "null": null_text}
    return xr.Dataset(data, coords=coords, attrs=attrs)
