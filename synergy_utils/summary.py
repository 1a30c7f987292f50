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

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import SUMMARY_FILE, read_json, to_jsonable, write_json
from .schema import SchemaError, from_dict, to_dict  # noqa: F401  (re-exported)

#: Version of the layout below; bump it when a field is renamed or changes meaning.
SCHEMA_VERSION = 5

#: The words of every verdict (a claim's rule returns one of the first three).
SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
MISSING = "not run"
VERDICTS: tuple[str, ...] = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)

Number = float | None

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


Provenance = dict[str, Any]


@dataclass
class Assessment:
    """A claim's verdict from its one rule: every claim module of
    :mod:`synergy_utils.report.claims` returns one from ``assess(...)`` and words it with
    ``paragraph(assessment)``.

    ``verdict`` is one of :data:`VERDICTS` (or :data:`MISSING` when the stage did not run),
    ``reason`` says in one clause why the rule gave it, ``rule`` is the rule in words, and
    ``evidence`` holds the numbers the rule read. A claim with typed evidence subclasses this
    class and narrows ``evidence`` to its own dataclass, so that the assessment round-trips
    through ``summary.json``.
    """

    verdict: str
    reason: str
    rule: str
    evidence: Any = None


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
class BlockTest:
    """The claim-1 block statistic under one null (nats per pair;
    :func:`synergy_utils.stages.core_block.block_test`).

    ``middle``/``outer``: mean Δsts of the middle–middle and outer–outer pairs;
    ``raw_contrast`` their difference; ``adjusted_contrast`` the middle–middle coefficient of
    the regression of pair Δsts on region, persistence and Δrtr; ``middle_rtr`` the
    middle–middle pairs' mean Δrtr and ``dominance`` their mean Δsts − Δrtr; ``se`` the
    bootstrap standard error of the adjusted contrast and ``mde`` the smallest per-pair core
    the interval test detects with probability ``power``; ``reliability`` the split-half
    (Spearman–Brown corrected Pearson) reliability of the heads' mean Δsts across prompts;
    ``persistence_corr`` the Spearman correlation of the heads' mean Δsts with their lag-1
    autocorrelation.
    """

    null: str
    middle: Test
    outer: Test
    raw_contrast: Test
    adjusted_contrast: Test
    middle_rtr: Test
    dominance: Test
    se: Number
    mde: Number
    power: float
    reliability: Number
    persistence_corr: Number
    n_middle_pairs: int
    n_outer_pairs: int
    n_pairs: int


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
    blocks: dict[str, BlockTest] = field(default_factory=dict)
    n_derangements: int = 0


@dataclass
class CoreAssessment(Assessment):
    """The claim-1 verdict under one redundancy function, its reason and its evidence;
    ``reference`` is the per-pair core (nats) the rule must be able to see before it says
    "not supported"."""

    evidence: CoreEvidence | None = None
    reference: float = 0.01


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
    """Claim 3 over several task families (``synergy_utils.stages.phase.phase_summary``).

    ``family_results`` maps each family to its grid, calibration, accuracy and answer-span
    lengths per level, and per window and order parameter the statistics, the criteria and
    the three-way ``finding``; the family's own ``finding`` is that of ``verdict_window`` and
    ``order_parameter_name``. ``finding`` and ``verdict`` combine the families
    (``synergy_utils.report.claims.transition.overall_finding``). ``rule_checks``: the rule's
    findings on planted sweeps (one row per kind, ``transition_checks.rule_error_rates``).
    """

    families: list[str]
    model: str
    verdict_window: str
    order_parameter_name: str
    order_parameter_definition: str
    finding: str
    verdict: str
    transition_supported: bool
    family_results: dict[str, dict[str, Any]]
    rule: str
    settings: dict[str, Any] = field(default_factory=dict)
    random_model: dict[str, Any] | None = None
    rule_checks: list[dict[str, Any]] = field(default_factory=list)
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
class AblationGiven:
    """Claim 4 given norm and layer (``synergy_utils.stages.given_norm``): the standardised
    synergy coefficient of single-head damage (sd of damage per sd of synergy, intervals over
    heads and ranking prompts) and the core order's KL-curve area over the ``window`` against
    random orders matched on layer third and projected-norm decile (``contrast`` in nats ×
    share of heads, ``matched_ratio`` the area ratio; intervals over prompts, matched orders and
    rankings). ``mode_ratios`` holds the matched ratio of every ablation mode (``mode`` decides).
    ``accuracy_gap``: task accuracy with the order's top ``accuracy_fraction`` of heads
    perturbed minus random heads perturbed (read by the rule beside KL; None when not measured).
    ``verdict``/``reason``: the report layer's rule; empty where a stage stored the numbers only.
    """

    order: str
    mode: str
    window: float
    step: float
    coefficient: Estimate
    coefficient_mde: float
    contrast: Estimate
    contrast_mde: float
    matched_ratio: Estimate
    share_beaten: float
    mode_ratios: dict[str, Estimate]
    n_heads: int
    n_orders: int
    n_rankings: int
    n_prompts: int
    n_single_prompts: int
    covariates: list[str]
    verdict: str = ""
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    accuracy_gap: Estimate | None = None
    accuracy_fraction: float | None = None


@dataclass
class Ablation:
    """Claim 4: cumulative ablation by the synergy order, its confounds and random orders on
    held-out prompts, and accuracy under weight noise (``synergy_utils.stages.ablation``).

    Order-keyed mappings hold every compared order and ``"random"`` (all random orders
    pooled); a ratio is the synergy order's area over that order's. ``kl_steps[order][i]`` is
    the prompt-mean KL(clean ‖ ablated) after removing ``n_heads_removed[i]`` heads.
    """

    model: str
    synergy_order: str
    orders: dict[str, str]
    order_roles: dict[str, str]
    ranking_prompts: str
    ablation_prompts: str
    n_ranking_prompts: int
    n_prompts: int
    n_new_tokens: int
    n_random_orders: int
    ablation_mode: str
    n_total_heads: int
    fractions: list[float]
    n_heads_removed: list[int]
    auc: dict[str, Estimate]
    auc_ratio: dict[str, Ratio]
    reverse_auc_ratio: dict[str, Ratio]
    kl_steps: dict[str, list[Estimate]]
    reverse_kl_steps: dict[str, list[Estimate]]
    precision: str
    precision_check: dict[str, Any]
    relative_noise_std: Number
    noise_calibration: dict[str, Any]
    accuracy: list[dict[str, Any]]
    task_family: str
    task_difficulty: int
    accuracy_fraction: float
    runtime_seconds: Number
    timings: dict[str, float]
    verdict: str
    provenance: Provenance
    given: AblationGiven | None = None


@dataclass
class Universality:
    """The universality verdict over model families and the counts behind it
    (``synergy_utils.report.claims.universality``)."""

    verdict: str
    statement: str  #: "holds in k of n families under MMI, j under CCS"
    reason: str
    rule: str
    n_families: int
    holds: dict[str, int]  #: redundancy -> families where claim 1 is supported
    counter_examples: list[str] = field(default_factory=list)  #: families refuting it
    families: dict[str, dict[str, str]] = field(default_factory=dict)  #: family -> verdicts


@dataclass
class UniversalityEvidence:
    """What the universality rule read (the counts of :class:`Universality`)."""

    statement: str  #: "holds in k of n families under MMI, j under CCS"
    n_families: int
    holds: dict[str, int]  #: redundancy -> families where claim 1 is supported
    counter_examples: list[str] = field(default_factory=list)  #: families refuting it
    families: dict[str, dict[str, str]] = field(default_factory=dict)  #: family -> verdicts


@dataclass
class UniversalityAssessment(Assessment):
    """The universality verdict (``synergy_utils.report.claims.universality.assess``)."""

    evidence: UniversalityEvidence | None = None


@dataclass
class ModelAblation:
    """Claim 4 at a reduced size on one model: the synergy order's KL-curve area over each
    other order's (random pooled), in both KL directions; ``given``: the rule given norm and
    layer (numbers; the report applies the rule)."""

    orders: dict[str, str]
    order_roles: dict[str, str]
    auc_ratio: dict[str, Ratio]
    reverse_auc_ratio: dict[str, Ratio]
    n_prompts: int
    n_new_tokens: int
    n_random_orders: int
    fractions: list[float]
    n_heads_removed: list[int]
    given: AblationGiven | None = None


@dataclass
class ModelStudy:
    """One model of the chapter across model families, at the chapter's reduced size.

    ``evidence`` and ``untrained`` map ``"mmi"``/``"ccs"`` to the claim-1 numbers of the
    trained model and of a re-initialised copy (same architecture, fresh weights); the
    verdicts are the report layer's (``synergy_utils.report.claims``). ``split_half`` is the
    reliability of the null-corrected gradient over prompts.
    """

    name: str
    model: str
    family: str
    n_layers: int
    n_heads: int
    n_prompts: int
    n_steps: int
    n_untrained_prompts: int
    evidence: dict[str, CoreEvidence]
    untrained: dict[str, CoreEvidence]
    syn_red: Correlation
    split_half: SplitHalf
    ablation: ModelAblation | None
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Models:
    """The chapter across model families: every model studied, those skipped (name ->
    why), and the universality verdict over their families."""

    models: list[ModelStudy]
    skipped: dict[str, str]
    universality: Universality
    settings: dict[str, Any]
    verdict_paragraph: str
    provenance: Provenance = field(default_factory=dict)


#: The sections of ``summary.json``, by key, in the order of the study.
SECTIONS: dict[str, type] = {
    "setup": Setup,
    "phiid_primer": Primer,
    "extraction": Extraction,
    "cores": Cores,
    "phase": Phase,
    "ablation": Ablation,
    "models": Models,
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
    models: Models | None = None
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
