"""The typed schema of a run's ``summary.json``: one dataclass per section.

Every stage writes its section with :func:`write_section`, which checks the values against
the schema before anything is written; the book reads the file back with
:func:`read_summary` into the same classes, so no reader guesses at a layout. Numbers that can
be undefined (NaN) are ``float | None`` (JSON has no NaN). :data:`SCHEMA_VERSION` changes
whenever a field changes meaning; a file of another version is refused with a clear error.

Nested detail that only the chapter itself reads (fit internals, per-criterion numbers) is
kept as plain ``dict`` fields; everything the landing page and the results chapter read is a
typed field.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from .results import SUMMARY_FILE, read_json, to_jsonable, write_json

#: Version of the layout below; bump it when a field is renamed or changes meaning.
SCHEMA_VERSION = 3

#: The words of every verdict (a claim's rule returns one of the first three).
SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
MISSING = "not run"
VERDICTS: tuple[str, ...] = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)

Number = float | None
T = TypeVar("T")


class SchemaError(ValueError):
    """A summary (section) does not match the schema; the message names the field."""


# --------------------------------------------------------------------------------------
# Generic conversion between dataclasses and plain JSON values
# --------------------------------------------------------------------------------------


def to_dict(obj: Any) -> Any:
    """A dataclass (or containers of them) as plain JSON values (NaN and inf become None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return to_jsonable(obj)


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build ``cls`` (a dataclass of this module) from plain values, checking every field.

    Unknown keys, missing required fields and values of the wrong type raise
    :class:`SchemaError` naming the dotted path of the field.
    """
    return _convert(cls, data, where or cls.__name__)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return to_jsonable(value)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except SchemaError as err:
                errors.append(str(err))
        raise SchemaError(errors[0] if errors else f"{where}: None is not allowed")
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected a mapping, got {type(value).__name__}")
        _, item = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    return _convert_scalar(tp, value, where)


def _convert_scalar(tp: Any, value: Any, where: str) -> Any:
    value = to_jsonable(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SchemaError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(f"{where}: expected a string, got {value!r}")
        return value
    raise SchemaError(f"{where}: unsupported field type {tp!r}")


def _convert_dataclass(cls: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and isinstance(value, cls):
        value = to_dict(value)
    if not isinstance(value, Mapping):
        raise SchemaError(f"{where}: expected a mapping for {cls.__name__}, got {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise SchemaError(
            f"{where}: unknown field(s) {unknown}; {cls.__name__} has {sorted(fields)}"
        )
    kwargs = {}
    for name, spec in fields.items():
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{where}: missing required field {name!r}")
    return cls(**kwargs)


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """A number with its confidence interval (``None`` where undefined or absent)."""

    value: Number
    ci_low: Number = None
    ci_high: Number = None

    @property
    def has_ci(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None


@dataclass
class LevelEstimate:
    """One level of a sweep: the mean and its ``[low, high]`` interval."""

    mean: Number
    ci: list[Number]


Provenance = dict[str, Any]


# --------------------------------------------------------------------------------------
# Sections, one per stage
# --------------------------------------------------------------------------------------


@dataclass
class Setup:
    model: str
    family: str
    n_parameters_millions: float
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    n_total_heads: int
    n_ordered_pairs: int
    recording_site: str
    chat_template: bool
    load_seconds: float


@dataclass
class ToyAtom:
    atom: str
    value: float
    tdmi: float


@dataclass
class Pitfall:
    phi: float
    sts_estimated: float
    rtr_estimated: float
    two_min_a: float


@dataclass
class FastVsSlow:
    n_nodes: int
    max_abs_difference_nats: float
    fast_seconds: float
    slow_seconds: float


@dataclass
class Primer:
    units: dict[str, str]
    toy_dominant_atoms: dict[str, ToyAtom]
    parity_chain_sts_bits: float
    pitfall: Pitfall
    fast_vs_slow: FastVsSlow
    provenance: Provenance


@dataclass
class Extraction:
    model: str
    n_prompts: int
    n_tokens: int
    n_tokens_total: int
    n_layers: int
    n_heads: int
    reduction: str
    template: str
    seconds: Number
    compute_seconds: Number
    tokens_per_second: Number
    n_cached: int
    n_eos_stopped: int
    mean_lag1_autocorrelation: Number
    median_lag1_autocorrelation: Number
    most_persistent_layer: int
    provenance: Provenance


@dataclass
class Correlation:
    """Pearson ``r`` with its Fisher-z interval, p-value, ``n`` and Spearman's ``rho``."""

    r: Number
    ci_low: Number
    ci_high: Number
    p_value: Number
    n: int
    rho: Number


@dataclass
class SplitHalf:
    rho: Number
    spearman_brown: Number
    method: str
    n_splits: int
    seed: int


@dataclass
class Baseline:
    """Observed pair synergy against the independent-series expectation 2·min(a_x, a_y)."""

    pair_pearson: Number
    pair_spearman: Number
    ratio: Number
    head_pearson: Number


@dataclass
class GraphMetrics:
    efficiency: Number
    efficiency_weighted: Number
    modularity: Number
    n_communities: int
    n_edges: int


@dataclass
class Graphs:
    synergy: GraphMetrics
    redundancy: GraphMetrics
    synergy_more_efficient: bool
    redundancy_more_modular: bool
    top_fraction: float
    efficiency_definition: str
    modularity_definition: str


@dataclass
class ShiftNull:
    """The raw inverted-U statistic under the circular-shift null."""

    n_shuffles: int
    ci_level: float
    band_low: list[Number]
    band_high: list[Number]
    p_value: Number
    mean: Estimate  #: null mean and the central range of the null statistics
    fraction_inside: Number
    profile_corr: Number


@dataclass
class OtherGradient:
    method: str
    inverted_u: Estimate
    null_p_value: Number = None
    null_mean: Number = None


@dataclass
class ModelControl:
    """The same analysis on another network (``kind``: re-initialised, randomised, ...)."""

    kind: str
    n_prompts: int | None
    layer_profile: list[Number]
    inverted_u: Estimate
    syn_red_corr: Number
    split_half_rho: Number
    skipped: str | None = None


@dataclass
class Test:
    """A mean over prompts with its bootstrap interval and a one-sided p-value (mean > 0)."""

    value: Number
    ci_low: Number
    ci_high: Number
    p: Number


@dataclass
class LayerTests:
    """One :class:`Test` per layer, as parallel lists."""

    value: list[Number]
    ci_low: list[Number]
    ci_high: list[Number]
    p: list[Number]


@dataclass
class RawInvertedU:
    """The raw rank-gradient profile's inverted-U statistic against the pair null."""

    observed: Number
    null_mean: Number
    p: Number
    n_null: int
    profile: list[Number]
    gradient: str
    beats_null: bool


@dataclass
class CoreEvidence:
    """The numbers behind the claim-1 rule: null-corrected synergy by depth (nats).

    ``quantity`` is what was null-corrected (``"sts"``; ``"sts_share"`` is sts / TDMI);
    ``middle``, ``outer`` are the mean Δ of the middle-third and outer-third heads (partner
    means of each pair's value minus its circular-shift null), ``contrast`` their
    difference, ``dominance`` the middle heads' Δsts − Δrtr (None when rtr was not
    corrected); ``layer_delta`` maps each corrected quantity to its per-layer tests;
    ``layer_share`` is the per-layer share of significant (head, partner) pairs (BH).
    """

    quantity: str
    redundancy: str
    estimator: str
    tau: int
    n_prompts: int
    n_steps: int
    n_layers: int
    n_heads: int
    n_surrogates: int
    min_shift: int
    closure: bool
    ci_level: float
    alpha: float
    middle: Test
    outer: Test
    contrast: Test
    dominance: Test | None
    layer_delta: dict[str, LayerTests]
    layer_share: list[Number]
    middle_share: Number
    outer_share: Number
    n_significant_pairs: int
    n_pairs: int
    raw_inverted_u: RawInvertedU | None = None


@dataclass
class CoreAssessment:
    """The claim-1 verdict under one redundancy function, its reason and its evidence."""

    verdict: str
    reason: str
    rule: str
    negligible: float
    evidence: CoreEvidence


@dataclass
class BatteryRow:
    """The claim-1 rule on one synthetic system of known truth, over several seeds."""

    system: str
    truth: str
    redundancy: str
    expected: list[str]
    n_seeds: int
    n_right: int
    verdicts: dict[str, int]


@dataclass
class Cores:
    model: str
    method: str
    gradient_definition: str
    ci_level: float
    n_prompts: int
    tau: int
    layer_profile: list[Number]
    inverted_u: Estimate
    curvature: Estimate
    other_method: OtherGradient
    null: ShiftNull | None
    syn_red: Correlation
    split_half: SplitHalf
    baseline: Baseline
    graphs: Graphs
    model_controls: dict[str, ModelControl]
    control_prompts: list[int]
    verdict: str
    verdict_paragraph: str
    provenance: Provenance
    assessments: dict[str, CoreAssessment] = field(default_factory=dict)
    delta_controls: dict[str, CoreEvidence] = field(default_factory=dict)
    battery: list[BatteryRow] = field(default_factory=list)


@dataclass
class Phase:
    family: str
    model: str
    difficulty: list[float]
    n_per_level: int
    max_new_tokens: int | None
    order_parameter_name: str
    order_parameter_definition: str
    order_parameter: list[LevelEstimate]
    susceptibility: list[Number]
    accuracy: list[LevelEstimate]
    critical_difficulty: dict[str, Any] | None
    transition_supported: bool
    criteria: dict[str, dict[str, Any]]
    rule: str
    fit: dict[str, Any]
    null_band: dict[str, Any] | None
    secondary: dict[str, Any] | None = None
    random_model: dict[str, Any] | None = None
    verdict_paragraph: str = ""
    provenance: Provenance = field(default_factory=dict)


@dataclass
class Ratio:
    """A ratio of curve areas with its bootstrap interval."""

    value: Number
    ci_low: Number
    ci_high: Number
    n_bootstrap: int


@dataclass
class Ablation:
    fraction: float
    n_heads_removed: int
    kl_synergy: Number
    kl_redundancy: Number
    kl_random_mean: Number
    kl_random_sd: Number
    auc_ratio_synergy_random: Ratio
    auc_ratio_redundancy_random: Ratio
    auc_ratio_synergy_redundancy: Ratio
    reverse_kl_synergy: Number
    reverse_kl_redundancy: Number
    reverse_kl_random_mean: Number
    reverse_kl_random_sd: Number
    reverse_auc_ratio_synergy_random: Ratio
    reverse_auc_ratio_redundancy_random: Ratio
    reverse_auc_ratio_synergy_redundancy: Ratio
    n_prompts: int
    n_random_orders: int
    n_new_tokens: int
    ablation_mode: str
    n_total_heads: int
    relative_noise_std: Number
    accuracy: list[dict[str, Any]]
    gradient_method: str
    model: str
    task_family: str
    task_difficulty: int
    accuracy_fraction: float
    runtime_seconds: Number
    verdict: str
    provenance: Provenance


#: The sections of ``summary.json``, by key, in the order of the study.
SECTIONS: dict[str, type] = {
    "setup": Setup,
    "phiid_primer": Primer,
    "extraction": Extraction,
    "cores": Cores,
    "phase": Phase,
    "ablation": Ablation,
}


@dataclass
class Summary:
    """A whole ``summary.json``; a section is None when its stage has not run."""

    schema_version: int = SCHEMA_VERSION
    setup: Setup | None = None
    phiid_primer: Primer | None = None
    extraction: Extraction | None = None
    cores: Cores | None = None
    phase: Phase | None = None
    ablation: Ablation | None = None
    provenance: Provenance | None = None


# --------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------


def check_section(name: str, value: Any) -> Any:
    """The section ``name`` as its dataclass, checked against the schema."""
    if name == "provenance":
        return to_jsonable(dict(value))
    if name not in SECTIONS:
        raise SchemaError(f"unknown summary section {name!r}; sections: {sorted(SECTIONS)}")
    return from_dict(SECTIONS[name], value, name)


def write_section(results_dir: str | os.PathLike, name: str, value: Any) -> Path:
    """Check ``value`` against the schema of section ``name`` and store it in
    ``results_dir/summary.json`` (atomically; the other sections are kept)."""
    section = check_section(name, value)
    path = Path(results_dir) / SUMMARY_FILE
    data = read_json(path) if path.exists() else {}
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        data = {}  # an older layout: start afresh rather than mix two schemas
    data["schema_version"] = SCHEMA_VERSION
    data[name] = to_dict(section)
    return write_json(path, data)


def read_summary(results_dir: str | os.PathLike) -> Summary:
    """The run's summary as typed sections (an empty :class:`Summary` if there is none).

    Raises :class:`SchemaError` for a file of another schema version or a malformed section.
    """
    path = Path(results_dir) / SUMMARY_FILE
    if not path.exists():
        return Summary()
    data = read_json(path)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema version {version!r}, this package reads {SCHEMA_VERSION}; "
            "re-run the pipeline (synergy run) to rewrite it"
        )
    return from_dict(Summary, data, "summary")
