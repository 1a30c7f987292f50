"""This book's models beside the published record: one table, the layer profiles of one
figure, and the reading of the reproductions' agreement numbers.

The raw statistics (:mod:`synergy_utils.stages.published`) are computed from each model's
raw MMI head scores exactly as from the published files, then once more from the
null-corrected scores; the claim-1 verdicts (both nulls, with power) stand beside them, so a
reader sees where the raw pattern appears and whether the null keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..stages.cores import synergy_gradient
from ..stages.published import (
    ABLATION_WINDOW,
    AUTHORS_SOURCE,
    Reference,
    layer_table,
    profile_statistics,
    rank_agreement,
    read_reference,
)
from ..summary import AblationGiven, ModelStudy
from .claims.core import verdict_reason

#: The two scores of this book's models: the published work's raw one and the null-corrected.
OUR_SCORES = {
    "raw": ("sts", "rtr"),
    "null-corrected": ("delta_sts_mmi", "delta_rtr_mmi"),
}
THIS_BOOK = "this book"
RECORD_COLUMNS = (
    "model", "source", "score", "layers × heads", "top 25 %: early", "middle", "late",
    "quadratic", "syn–red ρ", "area ratio", "window", "claim 1 (MMI / CCS)",
)  # fmt: skip


def _label(study: ModelStudy) -> str:
    return study.model.split(" (")[0]


def our_tables(
    studies: Sequence[ModelStudy], maps: Mapping[str, xr.Dataset]
) -> dict[tuple[str, str], pd.DataFrame]:
    """Layer tables of this book's models, keyed ``(model label, score)`` for the two scores
    of :data:`OUR_SCORES` (MMI; the gradient ``rank(synergy) − rank(redundancy)``)."""
    tables = {}
    for study in studies:
        head_maps = maps[study.name]
        layers = np.repeat(np.arange(study.n_layers), study.n_heads)
        for score, (syn, red) in OUR_SCORES.items():
            gradient = synergy_gradient(head_maps[syn].values, head_maps[red].values)
            tables[(_label(study), score)] = layer_table(layers, gradient.reshape(-1))
    return tables


def _row(model: str, source: str, score: str, table: pd.DataFrame, **extra) -> dict:
    stats = profile_statistics(table)
    return {
        "model": model, "source": source, "score": score,
        "layers × heads": f"{int(table['n_layers'].iloc[0])} × "
        f"{int(table['n_heads'].sum() // table['n_layers'].iloc[0])}",
        "top 25 %: early": stats["top_share_early"], "middle": stats["top_share_middle"],
        "late": stats["top_share_late"], "quadratic": stats["quadratic"], **extra,
    }  # fmt: skip


def _our_extra(study: ModelStudy, head_maps: xr.Dataset, score: str) -> dict:
    rho = rank_agreement(head_maps["sts"].values, head_maps["rtr"].values)
    ratio, window = np.nan, "—"
    given = study.ablation.given if study.ablation is not None else None
    if given is not None and given.matched_ratio.value is not None:
        ratio = given.matched_ratio.value
        window = f"0–{100 * given.window:.0f} % (core / matched)"
    elif study.ablation is not None and "random" in study.ablation.auc_ratio:
        ratio = study.ablation.auc_ratio["random"].value
        window = f"0–{100 * max(study.ablation.fractions):.0f} %"
    verdicts = " / ".join(verdict_reason(study.evidence[r])[0] for r in ("mmi", "ccs")
                          if r in study.evidence)  # fmt: skip
    if score != "raw":
        return {"syn–red ρ": np.nan, "area ratio": np.nan, "window": "—",
                "claim 1 (MMI / CCS)": verdicts}  # fmt: skip
    return {"syn–red ρ": rho, "area ratio": ratio, "window": window, "claim 1 (MMI / CCS)": "—"}


def record_table(
    studies: Sequence[ModelStudy],
    maps: Mapping[str, xr.Dataset],
    reference: Reference | None = None,
) -> pd.DataFrame:
    """One row per published model and two per model of this book (raw score, then
    null-corrected with its claim-1 verdicts), with the columns of :data:`RECORD_COLUMNS`.

    Shares are of the model's top 25 % heads in each layer third (chance 0.25); "quadratic"
    is the x² coefficient of the layer profile of mean normalised rank on normalised depth;
    "syn–red ρ" is the Spearman correlation of per-head synergy and redundancy; "area ratio"
    is the KL-curve area of the synergy order over random orders in the stated window.
    """
    reference = read_reference() if reference is None else reference
    rows = []
    for model in reference.models.itertuples():
        mine = (reference.layers["source"] == model.source) & (
            reference.layers["model"] == model.model
        )
        if not mine.any():
            rows.append({"model": model.label, "source": model.source, "score": "—",
                         "area ratio": model.area_ratio_0_40,
                         "window": f"0–{100 * ABLATION_WINDOW:.0f} %"})  # fmt: skip
            continue
        table = reference.table(model.source, model.model)
        has_ratio = np.isfinite(model.area_ratio_0_40)
        rows.append(_row(model.label, model.source, "raw", table,
                         **{"syn–red ρ": model.syn_red_spearman,
                            "area ratio": model.area_ratio_0_40,
                            "window": f"0–{100 * ABLATION_WINDOW:.0f} %" if has_ratio else "—",
                            "claim 1 (MMI / CCS)": "no null"}))  # fmt: skip
    for (label, score), table in our_tables(studies, maps).items():
        study = next(s for s in studies if _label(s) == label)
        rows.append(_row(label, THIS_BOOK, score, table,
                         **_our_extra(study, maps[study.name], score)))  # fmt: skip
    table = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    text = ["model", "source", "score", "layers × heads", "window", "claim 1 (MMI / CCS)"]
    return table.fillna({column: "—" for column in text})


#: Columns of :func:`ablation_ratio_table`.
RATIO_COLUMNS = ("model", "source", "order / baseline", "window", "area ratio", "95 % CI")


def ablation_ratio_table(
    ours: Mapping[str, AblationGiven], reference: Reference | None = None
) -> pd.DataFrame:
    """The KL-curve area ratios of the published record (synergy order over random orders,
    0–40 % of heads removed) beside this book's (``ours``: model label -> the rule's numbers,
    the claim-1 core order over random orders matched on layer third and projected-norm
    decile, over the same window), one row each, published first."""
    reference = read_reference() if reference is None else reference
    rows = [
        {"model": m.label, "source": m.source, "order / baseline": "syn − red rank / random",
         "window": f"0–{100 * ABLATION_WINDOW:.0f} %", "area ratio": m.area_ratio_0_40,
         "95 % CI": "—"}
        for m in reference.models.itertuples()
        if np.isfinite(m.area_ratio_0_40)
    ]  # fmt: skip
    for label, given in ours.items():
        ratio = given.matched_ratio
        interval = "—"
        if ratio.ci_low is not None and ratio.ci_high is not None:
            interval = f"[{ratio.ci_low:.2f}, {ratio.ci_high:.2f}]"
        rows.append({
            "model": label, "source": THIS_BOOK,
            "order / baseline": "claim-1 core / matched random (layer third, norm decile)",
            "window": f"0–{100 * given.window:.0f} %",
            "area ratio": np.nan if ratio.value is None else ratio.value, "95 % CI": interval,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(RATIO_COLUMNS))


def record_profiles(
    studies: Sequence[ModelStudy],
    maps: Mapping[str, xr.Dataset],
    reference: Reference | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Layer tables for the figure: ``{"published": {label: table}, "raw": {...},
    "null-corrected": {...}}`` (the published models from the authors' own rankings and the
    reproduction's per-head tables, labelled with their source)."""
    reference = read_reference() if reference is None else reference
    published = {}
    for (source, model), _ in reference.layers.groupby(["source", "model"], sort=False):
        label = reference.models.set_index(["source", "model"]).loc[(source, model), "label"]
        who = "authors" if source == AUTHORS_SOURCE else "reproduction"
        published[f"{label} ({who})"] = reference.table(source, model)
    ours = our_tables(studies, maps)
    out = {"published": published}
    for score in OUR_SCORES:
        out[score] = {label: t for (label, s), t in ours.items() if s == score}
    return out


def agreement_sentence(reference: Reference | None = None) -> str:
    """The reproductions' agreement numbers in one sentence, from the shipped file."""
    reference = read_reference() if reference is None else reference
    rows = reference.agreement[reference.agreement["a"] != reference.agreement["b"]]
    parts = [f"{r.what}: Spearman {r.spearman:+.2f} over {r.n_heads} heads"
             for r in rows.itertuples()]  # fmt: skip
    return "Head rankings across pipelines and checkpoints: " + "; ".join(parts) + "."


def sources_sentence(reference: Reference | None = None) -> str:
    """Where the shipped numbers come from: each source repository at its commit."""
    reference = read_reference() if reference is None else reference
    parts = [f"`{repo}` at {meta['commit'][:7]}" for repo, meta in
             reference.provenance["sources"].items()]  # fmt: skip
    return (
        "Published numbers derived from " + ", ".join(parts) + " (derived per-layer numbers "
        "only; `synergy_utils/reference/provenance.json`)."
    )
