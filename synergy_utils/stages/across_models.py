"""Across model families: claims 1 and 4 on several models, at one reduced size.

For each model, :func:`study_model` runs the study's decisive steps on fewer prompts and
shorter generations than the single-model chapters (the sizes are the chapter's parameters):

1. record one value per head per generated token on the ranking prompts
   (:func:`synergy_utils.lm.recording.record_head_series`);
2. null-correct sts, rtr and Φ_WMS of every pair of heads with circular-shift surrogates
   under MMI and under CCS redundancy: the numbers claim 1 is judged on
   (:func:`synergy_utils.stages.core_null.core_evidence`);
3. the same on a re-initialised copy (fresh weights from the library's initialiser): the
   untrained-model control;
4. the synergy–redundancy correlation across heads and the split-half reliability of the
   null-corrected gradient over prompts;
5. a reduced cumulative ablation on held-out prompts: the null-corrected synergy order
   against random orders and the confounds (raw sts, raw rtr, output norm,
   self-information): the area ratios of the order comparison;
6. claim 4 given norm and layer (:func:`given_ablation`): the claim-1 core order against
   random orders matched on layer third and projected-norm decile over the first 40 % of
   heads, and every head removed alone, the numbers the claim-4 rule of chapter 05 reads.

The verdicts (claim 1 per model, claim 4 given norm and the order comparison, universality) are
the report layer's: :func:`synergy_utils.report.claims.universality.models_section`.

Each finished model is stored in ``<results>/models/<name>.json`` (with a small NetCDF of its
head maps) and reused when the chapter is re-run with the same settings, so an interrupted
run resumes with the next model.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..results import load_dataset, read_json, save_dataset, to_jsonable, write_json
from ..summary import (
    AblationGiven,
    CoreEvidence,
    Correlation,
    ModelAblation,
    ModelStudy,
    SplitHalf,
    from_dict,
    to_dict,
)
from .core_null import claim_nulls, core_evidence
from .cores import synergy_gradient

#: The bundled model of each family, in the chapter's default order.
BUNDLED_FAMILIES: tuple[str, ...] = (
    "smollm2-135m-instruct",
    "gemma-3-270m",
    "qwen2.5-coder-0.5b-instruct",
)
#: Orders of the reduced ablation besides the synergy order and the random orders.
CONFOUND_ORDERS: tuple[str, ...] = ("sts", "rtr", "output_norm", "self_information")


@dataclass(frozen=True)
class StudySize:
    """The reduced size of every model's study (the chapter's parameters)."""

    n_prompts: int = 12
    max_new_tokens: int = 32
    n_shuffles: int = 40
    n_derangements: int = 20
    n_untrained_prompts: int = 6
    n_bootstrap: int = 500
    n_held_out: int = 6
    ablation_tokens: int = 12
    fraction_step: float = 0.05
    max_fraction: float = 0.15
    n_random: int = 3
    given_window: float = 0.4
    given_step: float = 0.1
    n_matched: int = 2
    n_rankings: int = 2
    n_single_heads: int = 0
    batch_size: int = 8
    tau: int = 1
    seed: int = 0

    def digest(self) -> str:
        """A short hash of the settings: a stored study is reused only under the same one."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_models(models: str | Sequence[str]) -> list[str]:
    """Model names from a comma-separated string or a list (blank entries dropped, order
    kept, duplicates removed); ``"bundled"`` stands for :data:`BUNDLED_FAMILIES`."""
    names = models.split(",") if isinstance(models, str) else list(models)
    out: list[str] = []
    for raw in names:
        name = str(raw).strip()
        expanded = list(BUNDLED_FAMILIES) if name == "bundled" else [name] if name else []
        out += [n for n in expanded if n not in out]
    if not out:
        raise ValueError("no model named: give a comma-separated list, e.g. 'bundled'")
    return out


def slug(name: str) -> str:
    """A file-name-safe form of a model name or path."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/")).strip("_") or "model"


# --- one model ----------------------------------------------------------------------------------


def series_evidence(
    values: np.ndarray, size: StudySize
) -> tuple[dict[str, CoreEvidence], dict[str, xr.Dataset]]:
    """The claim-1 numbers under MMI and CCS of head series (prompt, step, layer, head), with
    both nulls (:func:`~synergy_utils.stages.core_null.claim_nulls`): ``(evidence, nulls)``
    keyed by redundancy function (the circular-shift datasets)."""
    evidence, nulls = {}, {}
    summarise = {"n_bootstrap": size.n_bootstrap, "seed": size.seed}
    for r in ("mmi", "ccs"):
        circular, shuffle, persistence = claim_nulls(
            values, redundancy=r, tau=size.tau, n_surrogates=size.n_shuffles,
            n_derangements=size.n_derangements, seed=size.seed,
        )  # fmt: skip
        nulls[r] = circular
        evidence[r] = core_evidence(circular, shuffle=shuffle, persistence=persistence,
                                    **summarise)  # fmt: skip
    return evidence, nulls


def head_maps(nulls: Mapping[str, xr.Dataset]) -> xr.Dataset:
    """Prompt-mean null-corrected head scores (Δsts, Δrtr per redundancy function) and the
    raw MMI sts and rtr, each (layer, head), in nats."""
    data = {}
    for redundancy, ds in nulls.items():
        mean = ds["head_delta"].mean("prompt", skipna=True)
        for atom in ("sts", "rtr"):
            data[f"delta_{atom}_{redundancy}"] = mean.sel(atom=atom, drop=True)
    observed = nulls["mmi"]["head_observed"]
    data["sts"] = observed.sel(atom="sts", drop=True)
    data["rtr"] = observed.sel(atom="rtr", drop=True)
    return xr.Dataset(data, attrs={"units": "nats"})


def ablation_scores(maps: xr.Dataset, values: np.ndarray, tau: int = 1) -> dict[str, np.ndarray]:
    """Removal orders of the reduced ablation: the null-corrected MMI gradient
    ``rank(mean Δsts) − rank(mean Δrtr)`` (``synergy``, the order under test) and the
    confounds of :data:`CONFOUND_ORDERS`."""
    from .ablation_orders import series_scores

    delta_sts = maps["delta_sts_mmi"].values
    delta_rtr = maps["delta_rtr_mmi"].values
    scores = {"synergy": np.nan_to_num(synergy_gradient(delta_sts, delta_rtr, "luppi"))}
    scores["sts"] = np.nan_to_num(maps["sts"].values)
    scores["rtr"] = np.nan_to_num(maps["rtr"].values)
    scores.update({k: np.nan_to_num(v) for k, v in series_scores(values, tau).items()})
    return scores


def reduced_ablation(
    model: Any, tokenizer: Any, scores: Mapping[str, np.ndarray], size: StudySize
) -> ModelAblation:
    """Cumulative ablation curves on held-out prompts: the synergy order's area ratios."""
    from . import ablation
    from .prompts import select_held_out_prompts

    prompts = [text for _, text in select_held_out_prompts(size.n_held_out)]
    curves = ablation.ablation_curves(
        model,
        tokenizer,
        prompts,
        scores,
        fraction_step=size.fraction_step,
        max_fraction=size.max_fraction,
        n_random=size.n_random,
        seed=size.seed,
        max_new_tokens=size.ablation_tokens,
        generation_batch_size=size.batch_size,
        progress=False,
    )
    found = ablation.order_comparisons(curves, "synergy", size.n_bootstrap, size.seed)
    names = ablation.named_orders(curves)
    result = ModelAblation(
        orders={n: ablation.ORDER_DESCRIPTIONS.get(n, n) for n in names},
        order_roles={n: ablation.order_role(n) for n in names},
        auc_ratio=found["auc_ratio"],
        reverse_auc_ratio=found["reverse_auc_ratio"],
        n_prompts=int(curves.sizes["prompt"]),
        n_new_tokens=int(curves.attrs["n_new_tokens"]),
        n_random_orders=len(ablation.random_orders(curves)),
        fractions=[float(f) for f in curves["fraction"].values],
        n_heads_removed=[int(n) for n in curves["n_removed"].values],
    )
    return from_dict(ModelAblation, to_dict(result), "ablation")


def given_ablation(
    model: Any, tokenizer: Any, circular: xr.Dataset, series: Any, size: StudySize
) -> AblationGiven:
    """Claim 4 given norm and layer on held-out prompts (:mod:`.given_norm`, zeroing): the
    claim-1 core order of ``circular`` (the MMI circular-shift null with ``delta_prompt``)
    against random orders matched on layer third and projected-norm decile, and every head
    removed alone. Numbers only; the report layer applies the rule."""
    from ..lm.decoding import pad_token_id
    from ..lm.teacher_forcing import greedy_continuations, teacher_forced_batch
    from .core_block import head_persistence
    from .core_order import CORE_ORDER, core_rankings
    from .given_norm import given_norm_study, given_summary, head_covariates
    from .prompts import select_held_out_prompts

    prompts = [text for _, text in select_held_out_prompts(size.n_held_out)]
    delta = circular["delta_prompt"]
    core = core_rankings(
        delta.sel(atom="sts").values, delta.sel(atom="rtr").values,
        head_persistence(np.asarray(series.values, dtype=np.float64)),
        n_rankings=size.n_rankings, seed=size.seed,
    )  # fmt: skip
    norm, info = head_covariates(model, tokenizer, prompts, series, size.ablation_tokens, size.tau)
    continuations = greedy_continuations(
        model, tokenizer, prompts, size.ablation_tokens, batch_size=size.batch_size
    )
    batch = teacher_forced_batch(continuations, pad_token_id(model, tokenizer), share_prefix=True)
    result = given_norm_study(
        model, batch, core, norm, info, window=size.given_window, fraction_step=size.given_step,
        n_matched=size.n_matched, n_single_heads=size.n_single_heads, modes=("zero",),
        n_bootstrap=size.n_bootstrap, seed=size.seed,
    )  # fmt: skip
    return given_summary(
        result, order=CORE_ORDER, n_prompts=batch.n_prompts, n_single_prompts=batch.n_prompts
    )


def _untrained_values(model: Any, tokenizer: Any, series: Any, size: StudySize) -> np.ndarray:
    from ..lm import interventions
    from ..lm.recording import record_like
    from .controls import control_prompt_indices

    copy = interventions.reinitialised_model(model, seed=size.seed)
    indices = control_prompt_indices(series.values.shape[0], size.n_untrained_prompts)
    recorded = record_like(series, copy, tokenizer, indices, batch_size=size.batch_size)
    return np.asarray(recorded.values, dtype=np.float64)


def study_model(
    name: str,
    size: StudySize = StudySize(),
    *,
    run_ablation: bool = True,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[ModelStudy, xr.Dataset]:
    """The reduced study of one model (see the module docstring): its :class:`ModelStudy`
    and its head maps (trained and untrained, ``(layer, head)`` each)."""
    from ..lm.loading import load_model
    from ..lm.recording import record_head_series
    from .controls import split_half_rho, syn_red_correlation
    from .prompts import select_prompts

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model, tokenizer = load_model(name)
    seconds["load"] = time.perf_counter() - started
    log(f"{name}: loaded in {seconds['load']:.0f} s; recording")
    started = time.perf_counter()
    series = record_head_series(
        model,
        tokenizer,
        select_prompts(size.n_prompts),
        size.max_new_tokens,
        batch_size=size.batch_size,
        cache_dir=cache_dir,
        progress=False,
    )
    values = np.asarray(series.values, dtype=np.float64)
    seconds["record"] = time.perf_counter() - started
    log(f"{name}: recorded in {seconds['record']:.0f} s; null-correcting")
    started = time.perf_counter()
    evidence, nulls = series_evidence(values, size)
    maps = head_maps(nulls)
    head = nulls["mmi"]["head_delta"]
    split = split_half_rho(head.sel(atom="sts").values, head.sel(atom="rtr").values, seed=size.seed)
    correlation = syn_red_correlation(maps["sts"].values, maps["rtr"].values)
    seconds["phiid"] = time.perf_counter() - started
    log(f"{name}: claim 1 in {seconds['phiid']:.0f} s; untrained control")
    started = time.perf_counter()
    untrained_values = _untrained_values(model, tokenizer, series, size)
    untrained, untrained_nulls = series_evidence(untrained_values, size)
    untrained_maps = head_maps(untrained_nulls)
    untrained_maps = untrained_maps.rename({v: f"untrained_{v}" for v in untrained_maps.data_vars})
    seconds["untrained"] = time.perf_counter() - started
    reduced = None
    if run_ablation:
        log(f"{name}: untrained in {seconds['untrained']:.0f} s; ablation")
        started = time.perf_counter()
        reduced = reduced_ablation(model, tokenizer, ablation_scores(maps, values), size)
        seconds["ablation"] = time.perf_counter() - started
        log(f"{name}: ablation in {seconds['ablation']:.0f} s; given norm and layer")
        started = time.perf_counter()
        reduced.given = given_ablation(model, tokenizer, nulls["mmi"], series, size)
        seconds["given_norm"] = time.perf_counter() - started
    config = model.config
    study = ModelStudy(
        name=name,
        model=str(config.name_or_path),
        family=str(getattr(config, "model_type", "unknown")),
        n_layers=int(values.shape[2]),
        n_heads=int(values.shape[3]),
        n_prompts=int(values.shape[0]),
        n_steps=int(values.shape[1]),
        n_untrained_prompts=int(untrained_values.shape[0]),
        evidence=evidence,
        untrained=untrained,
        syn_red=from_dict(Correlation, correlation, "syn_red"),
        split_half=from_dict(
            SplitHalf, {k: v for k, v in split.items() if k != "rhos"}, "split_half"
        ),
        ablation=reduced,
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )
    study = from_dict(ModelStudy, to_dict(study), name)
    return study, xr.merge([maps, untrained_maps]).assign_attrs(model=study.model, units="nats")


# --- several models, resumable --------------------------------------------------------------


def stored_study(folder: Path, name: str, size: StudySize) -> tuple[ModelStudy, xr.Dataset] | None:
    """A model's finished study from ``folder`` if it was made with the same ``size`` (None
    otherwise); a damaged file is reported and ignored, so the model is studied again."""
    import warnings

    path, maps_path = folder / f"{slug(name)}.json", folder / f"{slug(name)}.nc"
    if not (path.exists() and maps_path.exists()):
        return None
    try:
        data = read_json(path)
        if data.get("settings_digest") != size.digest():
            return None
        return from_dict(ModelStudy, data["study"], name), load_dataset(maps_path)
    except Exception as error:  # noqa: BLE001 - any damage means: redo this model
        warnings.warn(f"{path}: unreadable ({error}); studying {name} again", stacklevel=2)
        return None


def study_models(
    names: Sequence[str],
    size: StudySize = StudySize(),
    results_dir: str | Path = "results/dev",
    *,
    run_ablation: bool = True,
    provenance: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[ModelStudy], dict[str, xr.Dataset], dict[str, str]]:
    """:func:`study_model` for every name, reusing finished studies in
    ``results_dir/models``; a bundled model whose packages are not installed is skipped.
    Returns ``(studies, head maps by model name, skipped name -> reason)``."""
    from ..lm.loading import BUNDLED, model_available

    folder = Path(results_dir) / "models"
    studies, maps, skipped = [], {}, {}
    for name in names:
        stored = stored_study(folder, name, size)
        if stored is not None:
            log(f"{name}: reusing the finished study in {folder}")
        elif name in BUNDLED and not model_available(name):
            skipped[name] = "its packages are not installed (make setup installs them)"
            log(f"{name}: skipped, {skipped[name]}")
            continue
        else:
            stored = study_model(
                name, size, run_ablation=run_ablation, cache_dir=folder / "cache", log=log
            )
            record = {"settings_digest": size.digest(), "settings": asdict(size)}
            record.update(study=to_dict(stored[0]), provenance=to_jsonable(provenance or {}))
            save_dataset(stored[1], folder / f"{slug(name)}.nc", dict(provenance or {}))
            write_json(folder / f"{slug(name)}.json", record)
        studies.append(stored[0])
        maps[name] = stored[1]
    return studies, maps, skipped
