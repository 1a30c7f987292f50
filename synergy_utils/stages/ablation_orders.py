"""Removal orders of the ablation stage: the synergy ranking under test and its confounds.

Every order is a score per head, an ``(n_layers, n_heads)`` array; heads with higher scores
are removed first. :func:`order_scores` builds them from the files of the earlier stages:

* from the null-corrected atoms of the cores stage (``cores_null_mmi.nc``,
  ``cores_null_ccs.nc``, :func:`synergy_utils.stats.pair_null.null_corrected_atoms`): the
  null-corrected gradient ``rank(mean Δsts) - rank(mean Δrtr)`` (``synergy``, the order under
  test), mean Δsts alone (``delta_sts``), and Δsts under CCS redundancy (``ccs_sts``);
* from ``head_scores.csv``: the raw gradients (``gradient_luppi``, ``gradient_diff``), raw mean
  MMI synergy ``sts`` and redundancy ``rtr``;
* from the recorded series (``series.nc``): each head's mean output norm (``output_norm``) and
  the self-information of its series (``self_information``, its persistence).

The roles (:data:`ORDER_ROLES`) say what a comparison means: a **confound** is a property that
high-synergy heads share (persistence, norm, either atom alone), so an effect specific to
synergy must beat it; an **alternative** is another measure of synergy, reported beside; the
**random** orders are the baseline. Any mapping name -> scores can be passed to the stage
instead (the orders are pluggable).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..phiid import self_information
from ..results import netcdf_engine
from .cores import synergy_gradient

if TYPE_CHECKING:
    import xarray as xr

#: What each named order ranks heads by (higher removed first).
ORDER_DESCRIPTIONS: dict[str, str] = {
    "synergy": "null-corrected gradient rank(mean Δsts) − rank(mean Δrtr), MMI",
    "delta_sts": "mean null-corrected synergy Δsts, MMI",
    "ccs_sts": "mean null-corrected synergy Δsts, CCS redundancy",
    "gradient_luppi": "raw gradient rank(sts) − rank(rtr)",
    "gradient_diff": "raw gradient rank(sts − rtr)",
    "sts": "raw mean synergy sts (MMI)",
    "rtr": "raw mean redundancy rtr (MMI)",
    "output_norm": "mean head output norm",
    "self_information": "self-information of the head's series (persistence)",
    "random": "uniformly random order (seeded)",
}
#: The role of each order in the claim-4 rule.
ORDER_ROLES: dict[str, str] = {
    "synergy": "synergy",
    "delta_sts": "alternative",
    "ccs_sts": "alternative",
    "gradient_luppi": "alternative",
    "gradient_diff": "alternative",
    "sts": "confound",
    "rtr": "confound",
    "output_norm": "confound",
    "self_information": "confound",
    "random": "random",
}
RANDOM_PREFIX = "random_"
#: The pooled random orders in comparisons and tables.
RANDOM = "random"
#: Readable name of each direction of the KL divergence between clean and ablated outputs.
KL_LABELS: dict[str, str] = {
    "kl_clean_ablated": "KL(clean ‖ ablated)",
    "kl_ablated_clean": "KL(ablated ‖ clean)",
}


def random_orders(curves: xr.Dataset) -> list[str]:
    """Names of the seeded random orders (``random_k``) of ablation curves."""
    return [str(o) for o in curves["order"].values if str(o).startswith(RANDOM_PREFIX)]


def named_orders(curves: xr.Dataset) -> list[str]:
    """Names of the orders of ablation curves that are not seeded random orders."""
    return [str(o) for o in curves["order"].values if not str(o).startswith(RANDOM_PREFIX)]


def order_role(name: str) -> str:
    """Role of an order (``random_k`` orders are ``"random"``; unknown names ``"other"``)."""
    if name.startswith(RANDOM_PREFIX):
        return "random"
    return ORDER_ROLES.get(name, "other")


def _load_head_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    missing = {"layer", "head", "synergy", "redundancy", "gradient_luppi", "gradient_diff"} - set(
        table.columns
    )
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    if table.duplicated(["layer", "head"]).any():
        raise ValueError(f"{path} has duplicate (layer, head) rows")
    return table


def table_scores(path: str | Path) -> dict[str, np.ndarray]:
    """The raw orders of ``head_scores.csv``: ``gradient_luppi``, ``gradient_diff``, ``sts``,
    ``rtr``, each (n_layers, n_heads)."""
    path = Path(path)
    table = _load_head_table(path)
    n_layers, n_heads = int(table["layer"].max()) + 1, int(table["head"].max()) + 1
    if len(table) != n_layers * n_heads:
        raise ValueError(f"{path}: expected one row per head of a {n_layers} x {n_heads} grid")
    out = {}
    for name, column in (
        ("gradient_luppi", "gradient_luppi"),
        ("gradient_diff", "gradient_diff"),
        ("sts", "synergy"),
        ("rtr", "redundancy"),
    ):
        grid = np.full((n_layers, n_heads), np.nan)
        grid[table["layer"].to_numpy(int), table["head"].to_numpy(int)] = table[column]
        out[name] = grid
    return out


def null_scores(path: str | Path, prefix: str = "") -> dict[str, np.ndarray]:
    """Orders from a null-corrected atoms file: mean over prompts of ``head_delta``.

    Returns ``{prefix + "delta_sts": mean Δsts}`` and, when the file holds ``rtr``, the
    null-corrected gradient ``{prefix + "gradient": rank(mean Δsts) - rank(mean Δrtr)}``
    (average ranks for ties, :func:`synergy_utils.stages.cores.synergy_gradient`).
    """
    import xarray as xr

    with xr.open_dataset(path, engine=netcdf_engine()) as ds:
        delta = ds["head_delta"].load()
    mean = delta.mean("prompt", skipna=True)
    atoms = [str(a) for a in mean["atom"].values]
    if "sts" not in atoms:
        raise ValueError(f"{path}: head_delta has no 'sts' atom (atoms: {atoms})")
    sts = mean.sel(atom="sts").transpose("layer", "head").values.astype(float)
    out = {f"{prefix}delta_sts": sts}
    if "rtr" in atoms:
        rtr = mean.sel(atom="rtr").transpose("layer", "head").values.astype(float)
        out[f"{prefix}gradient"] = synergy_gradient(sts, rtr, "luppi")
    return out


def series_scores(values: Any, tau: int = 1) -> dict[str, np.ndarray]:
    """Orders from head series ``(prompt, step, layer, head)``: ``output_norm`` (mean of the
    series, the head's output norm) and ``self_information`` (mean over prompts of the
    Gaussian self-information at lag ``tau``, nats)."""
    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(f"expected (prompt, step, layer, head) series, got {array.shape}")
    norm = np.nanmean(array, axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        info = np.nanmean(self_information(array, tau, axis=1), axis=0)
    return {"output_norm": norm, "self_information": info}


def cores_file(results_dir: str | Path, name: str) -> Path:
    """The path of ``name``, a file the cores chapter writes, in ``results_dir``; a
    FileNotFoundError naming the chapter to run if it is missing."""
    path = Path(results_dir) / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: run notebooks/03_synergistic_cores.ipynb with the same "
            f"results_dir first (it writes {name})"
        )
    return path


def order_scores(
    results_dir: str | Path, *, tau: int = 1, series: Any = None
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every named order that the files in ``results_dir`` allow, and notes on those left out.

    Reads ``head_scores.csv`` (required), ``cores_null_mmi.nc``, ``cores_null_ccs.nc`` and
    ``series.nc`` (or ``series``, a ``HeadSeries`` or array). Returns ``(scores, notes)``:
    ``scores`` maps names of :data:`ORDER_DESCRIPTIONS` to (n_layers, n_heads) arrays, in the
    order of that table.
    """
    folder = Path(results_dir)
    path = cores_file(folder, "head_scores.csv")
    found: dict[str, np.ndarray] = dict(table_scores(path))
    notes = []
    for redundancy, names in (("mmi", ("synergy", "delta_sts")), ("ccs", ("ccs_sts",))):
        null_path = folder / f"cores_null_{redundancy}.nc"
        if not null_path.exists():
            notes.append(f"{null_path.name} missing: no {', '.join(names)} order")
            continue
        got = null_scores(null_path)
        if redundancy == "mmi":
            found["delta_sts"] = got["delta_sts"]
            if "gradient" in got:
                found["synergy"] = got["gradient"]
        else:
            found["ccs_sts"] = got["delta_sts"]
    if series is None and (folder / "series.nc").exists():
        from ..series import HeadSeries

        series = HeadSeries.load(folder / "series.nc")
    if series is None:
        notes.append("series.nc missing: no output_norm or self_information order")
    else:
        found.update(series_scores(series, tau))
    ordered = {name: found[name] for name in ORDER_DESCRIPTIONS if name in found}
    return check_order_scores(ordered), notes


def check_order_scores(scores: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a mapping name -> (n_layers, n_heads) scores: one common shape, finite values;
    ``random_*`` names are reserved for the random orders."""
    if not scores:
        raise ValueError("no removal order given")
    out, shape = {}, None
    for name, value in scores.items():
        if str(name).startswith(RANDOM_PREFIX):
            raise ValueError(f"order name {name!r}: names starting with 'random_' are reserved")
        array = np.asarray(value, dtype=float)
        if array.ndim != 2:
            raise ValueError(
                f"order {name!r}: scores must be (n_layers, n_heads), got {array.shape}"
            )
        if shape is not None and array.shape != shape:
            raise ValueError(f"order {name!r} has shape {array.shape}, the others {shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"order {name!r}: scores contain NaN or inf")
        out[str(name)], shape = array, array.shape
    return out


def head_orders(
    scores: Mapping[str, Any] | Any, n_random: int = 10, seed: int = 0
) -> dict[str, np.ndarray]:
    """Removal orders over all heads, each an int array (n_total, 2) of (layer, head).

    ``scores``: a mapping name -> (n_layers, n_heads) scores (an array alone is named
    ``"synergy"``); each named order removes the highest score first (ties broken by the
    layer-major head index). ``random_k`` (k < ``n_random``) is the permutation drawn from
    ``numpy.random.default_rng([seed, k])``, the same for the same seed.
    """
    if not isinstance(scores, Mapping):
        scores = {"synergy": scores}
    checked = check_order_scores(scores)
    shape = next(iter(checked.values())).shape
    n_total = int(np.prod(shape))
    pairs = np.stack(np.unravel_index(np.arange(n_total), shape), axis=1)
    orders = {
        name: pairs[np.argsort(-value.reshape(-1), kind="stable")]
        for name, value in checked.items()
    }
    for k in range(int(n_random)):
        permutation = np.random.default_rng([seed, k]).permutation(n_total)
        orders[f"{RANDOM_PREFIX}{k}"] = pairs[permutation]
    return orders


def rank_agreement(scores: Mapping[str, Any]) -> pd.DataFrame:
    """Spearman correlation between every two orders' scores over heads (a square table):
    how much the confounds share with the synergy ranking."""
    from scipy import stats

    checked = check_order_scores(scores)
    names = list(checked)
    flat = np.stack([checked[n].reshape(-1) for n in names])
    rho = np.atleast_2d(stats.spearmanr(flat, axis=1).statistic)
    if len(names) == 1:
        rho = np.ones((1, 1))
    return pd.DataFrame(rho, index=names, columns=names)
