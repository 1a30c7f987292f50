"""Derive the shipped reference files (``synergy_utils/reference``) from the public sources.

    python scripts/derive_published.py SOURCES

``SOURCES`` holds copies of the source files at the commits named in ``SOURCES_USED`` below,
under one folder per source (``pedrou/``, ``marimeireles/``, ``philkre/``, each with the file's
path inside its repository). The sources state no licence, so only derived numbers are written:
per-layer rows (heads, heads in the top quartile, mean normalised rank), one row per model
(syn–red Spearman, the 0–40 % ablation area ratio) and ranking agreements between pipelines.
Every number comes from :mod:`synergy_utils.stages.published`, the functions the book applies
to this project's models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from synergy_utils.stages.cores import synergy_gradient
from synergy_utils.stages.published import (
    AUTHORS_SOURCE,
    area_ratio,
    layer_table,
    rank_agreement,
    reference_files,
)

AUTHORS = AUTHORS_SOURCE
REPRODUCTION = "marimeireles/rep-synergy-llm"
QWEN_BASE = "philkre/synergistic-cores"
SOURCES_USED = {
    AUTHORS: {
        "folder": "pedrou",
        "commit": "68e1c237fe667db39315dd51aab8100ef43b4933",
        "paths": [
            "plots/0-Model_Comparison/4-Syn-Red-Rankings/head_rankings_L3-1-L3-3-G3-1-G3-4.json"
        ],
        "what": "the predecessor paper's own head rankings by syn − red (Urbina-Rodriguez et al.): "
        "for each model, every (layer, head) in order, most synergistic first",
    },
    REPRODUCTION: {
        "folder": "marimeireles",
        "commit": "13126853bb50f7a6f7fe73cd5d0fa07043a35642",
        "paths": [
            "results/phiid_scores/<model>_head_rankings.csv",
            "results/ablation/<model>_ablation.csv",
        ],
        "what": "a public reproduction: per-head mean synergy and redundancy (avg_synergy, "
        "avg_redundancy) and cumulative-ablation KL curves (syn_red order and random_0..4)",
    },
    QWEN_BASE: {
        "folder": "philkre",
        "commit": "f235970d8fc926b1584c7222d80d97652300fe9e",
        "paths": ["results/qwen3base/divergence.json"],
        "what": "a public reproduction on Qwen3-4B-Base: KL curves of the synergistic order and "
        "five random orders over 0-40 % of heads removed (no per-head table)",
    },
}
AUTHOR_MODELS = {
    "meta-llama/Llama-3.2-1B": "Llama-3.2-1B",
    "meta-llama/Llama-3.2-3B": "Llama-3.2-3B",
    "google/gemma-3-1b-pt": "Gemma-3-1B-pt",
    "google/gemma-3-4b-pt": "Gemma-3-4B-pt",
}
REPRODUCTION_MODELS = {
    "pythia1b": ("EleutherAI/pythia-1b", "Pythia-1B"),
    "pythia1b_random": ("EleutherAI/pythia-1b (random init)", "Pythia-1B, random init"),
    "gemma3_4b": ("google/gemma-3-4b-pt", "Gemma-3-4B-pt"),
    "gemma3_4b_it": ("google/gemma-3-4b-it", "Gemma-3-4B-IT"),
    "gemma3_12b_it": ("google/gemma-3-12b-it", "Gemma-3-12B-IT"),
    "qwen3_8b": ("Qwen/Qwen3-8B", "Qwen3-8B"),
}


def _authors(folder: Path) -> tuple[list[pd.DataFrame], list[dict], dict[str, pd.DataFrame]]:
    rankings = json.loads((folder / SOURCES_USED[AUTHORS]["paths"][0]).read_text())
    tables, models, heads = [], [], {}
    for model, label in AUTHOR_MODELS.items():
        order = np.asarray(rankings[model], dtype=int)
        n_layers, n_heads = order[:, 0].max() + 1, order[:, 1].max() + 1
        if len({tuple(x) for x in order}) != n_layers * n_heads:
            raise ValueError(f"{model}: the ranking is not a permutation of all heads")
        score = -np.arange(len(order), dtype=float)  # first in the list = most synergistic
        tables.append(layer_table(order[:, 0], score, n_layers).assign(source=AUTHORS, model=model))
        models.append({"source": AUTHORS, "model": model, "label": label, "n_layers": n_layers,
                       "n_heads": len(order), "syn_red_spearman": np.nan,
                       "area_ratio_0_40": np.nan})  # fmt: skip
        heads[model] = pd.DataFrame({"layer": order[:, 0], "head": order[:, 1], "score": score})
    return tables, models, heads


def _reproduction(folder: Path) -> tuple[list[pd.DataFrame], list[dict], dict, list[dict]]:
    tables, models, heads, agreement = [], [], {}, []
    for stem, (model, label) in REPRODUCTION_MODELS.items():
        table = pd.read_csv(folder / f"results/phiid_scores/{stem}_head_rankings.csv")
        score = synergy_gradient(table["avg_synergy"].values, table["avg_redundancy"].values)
        n_layers = int(table["layer"].max() + 1)
        tables.append(layer_table(table["layer"], score, n_layers).assign(source=REPRODUCTION,
                                                                         model=model))  # fmt: skip
        ratio = np.nan
        ablation = folder / f"results/ablation/{stem}_ablation.csv"
        if ablation.exists():
            curves = pd.read_csv(ablation).pivot(
                index="num_heads_removed", columns="order_type", values="mean_kl_div"
            )
            randoms = [curves[c].values for c in curves.columns if c.startswith("random")]
            ratio = area_ratio(curves.index.values / len(table), curves["syn_red"].values, randoms)
        models.append({"source": REPRODUCTION, "model": model, "label": label,
                       "n_layers": n_layers, "n_heads": len(table),
                       "syn_red_spearman": rank_agreement(table["avg_synergy"],
                                                          table["avg_redundancy"]),
                       "area_ratio_0_40": ratio})  # fmt: skip
        heads[model] = pd.DataFrame(
            {"layer": table["layer"], "head": table["head_in_layer"], "score": score}
        )
        agreement.append({"a": f"{REPRODUCTION}:{model}", "b": f"{REPRODUCTION}:{model}",
                          "what": "the reproduction's own syn_red_score vs rank(syn) − rank(red)",
                          "spearman": rank_agreement(table["syn_red_score"], score),
                          "n_heads": len(table)})  # fmt: skip
    return tables, models, heads, agreement


def _qwen_base(folder: Path) -> dict:
    data = json.loads((folder / SOURCES_USED[QWEN_BASE]["paths"][0]).read_text())
    curves = data["curves"]
    randoms = [v for k, v in curves.items() if k.startswith("random")]
    ratio = area_ratio(data["fractions"], curves["synergistic"], randoms)
    return {"source": QWEN_BASE, "model": "Qwen/Qwen3-4B-Base", "label": "Qwen3-4B-Base",
            "n_layers": np.nan, "n_heads": np.nan, "syn_red_spearman": np.nan,
            "area_ratio_0_40": ratio}  # fmt: skip


def _agree(heads: dict, a: tuple[str, str], b: tuple[str, str], what: str) -> dict:
    left = heads[a].set_index(["layer", "head"])["score"]
    right = heads[b].set_index(["layer", "head"])["score"].reindex(left.index)
    rho = rank_agreement(left.values, right.values)
    return {"a": f"{a[0]}:{a[1]}", "b": f"{b[0]}:{b[1]}", "what": what, "spearman": rho,
            "n_heads": len(left)}  # fmt: skip


def derive(sources: Path, out: Path) -> None:
    """Write the four reference files into ``out`` from the copies under ``sources``."""
    a_tables, a_models, a_heads = _authors(sources / "pedrou")
    r_tables, r_models, r_heads, agreement = _reproduction(sources / "marimeireles")
    heads = {**{(AUTHORS, k): v for k, v in a_heads.items()},
             **{(REPRODUCTION, k): v for k, v in r_heads.items()}}  # fmt: skip
    agreement = [
        _agree(heads, (AUTHORS, "google/gemma-3-4b-pt"), (REPRODUCTION, "google/gemma-3-4b-pt"),
               "the same model, the authors' pipeline vs the reproduction's"),
        _agree(heads, (REPRODUCTION, "google/gemma-3-4b-pt"),
               (REPRODUCTION, "google/gemma-3-4b-it"), "base vs instruction-tuned, one pipeline"),
        _agree(heads, (REPRODUCTION, "EleutherAI/pythia-1b"),
               (REPRODUCTION, "EleutherAI/pythia-1b (random init)"),
               "trained vs randomly initialised, one pipeline"),
        *agreement,
    ]  # fmt: skip
    layers = pd.concat(a_tables + r_tables, ignore_index=True)
    layers = layers[
        ["source", "model", *[c for c in layers.columns if c not in ("source", "model")]]
    ]
    out.mkdir(parents=True, exist_ok=True)
    layers.to_csv(out / "published_layers.csv", index=False, float_format="%.6f")
    models = pd.DataFrame(a_models + r_models + [_qwen_base(sources / "philkre")])
    models.to_csv(out / "published_models.csv", index=False, float_format="%.6f")
    pd.DataFrame(agreement).to_csv(out / "published_agreement.csv", index=False,
                                   float_format="%.6f")  # fmt: skip
    provenance = {
        "sources": {
            repo: {k: v for k, v in meta.items() if k != "folder"}
            | {
                "licence": "none stated in the repository at that commit; only derived "
                "per-layer and per-model numbers are stored here"
            }
            for repo, meta in SOURCES_USED.items()
        },  # fmt: skip
        "columns": {
            "published_layers.csv": "source, model, layer (from 0), n_layers, depth = layer / "
            "(n_layers - 1), n_heads, n_top (heads among the model's 25 % highest scores), "
            "mean_rank (mean of (rank - 1) / (N - 1) over the layer's heads; 1 = most synergistic)",
            "published_models.csv": "label, n_layers, n_heads, syn_red_spearman (Spearman of "
            "per-head synergy and redundancy), area_ratio_0_40 (KL-curve area of the synergy "
            "order over the mean of the random orders, 0-40 % of heads removed, trapezoid)",
            "published_agreement.csv": "a, b, what, spearman (of the two per-head scores), n_heads",
        },
        "score": "the authors' ranking order as given; for the reproduction, rank(avg_synergy) "
        "- rank(avg_redundancy) over all heads (synergy_utils.stages.cores.synergy_gradient)",
        "made_by": "scripts/derive_published.py",
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    derive(Path(sys.argv[1]), Path(str(reference_files())))
