"""Turn an executed run into a Jupyter Book: generated pages, reproducibility boxes, build.

The pipeline (``synergy run``) stages a build folder ``stage_dir`` holding ``_config.yml``,
``_toc.yml``, ``book/`` and the executed notebooks in ``book/notebooks/``, then calls

1. :func:`prepare_book_sources` ``(stage_dir, results_dir, run_info)``, which

   - writes ``book/_generated/verdicts.md`` (the landing page's verdict table, from
     ``summary.json``), ``book/_generated/results_body.md`` (the results chapter: the headline
     figures of every notebook with its headline numbers) and ``book/_generated/run_times.md``
     (the teaching guide's table of run times), all included by hand-written pages;
   - copies the headline figures out of the executed notebooks into ``book/figures/``: every
     image output of cells tagged :data:`HEADLINE_TAG`, or the last image of a notebook with
     no tagged cell;
   - inserts a reproducibility box after each notebook's title (parameters, model, run time,
     the commands to re-run it) and hides papermill's parameter cells;
   - writes a placeholder page for a chapter in ``_toc.yml`` whose notebook did not run;

2. :func:`build_book` ``(stage_dir, output_dir)``, which runs
   ``jupyter-book build STAGE --path-output OUTPUT -W -n --keep-going --all`` (warnings fail the
   build); the book lands in ``OUTPUT/_build/html``.

Everything that turns numbers into text is a pure function (:func:`verdict_table`,
:func:`reproducibility_box`, ...) so it can be tested without building anything.
"""

from __future__ import annotations

import base64
import html
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import yaml

from synergy_utils.results import read_summary

#: Cell tag that marks the cells whose image outputs are a notebook's headline figures.
HEADLINE_TAG = "headline"
#: Folder (inside the staged ``book/``) of generated Markdown included by the pages.
GENERATED_DIR = "_generated"
#: Folder (inside the staged ``book/``) of figures exported from the notebooks.
FIGURES_DIR = "figures"
#: Cell metadata key that marks the reproducibility box (so a second call does not add one).
BOX_MARKER = "synergy_reproducibility_box"

DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct (bundled 4-bit GGUF, the default)"
MISSING = "not run"

#: Which ``summary.json`` keys hold each notebook's headline numbers.
SUMMARY_KEYS_BY_NOTEBOOK: dict[str, tuple[str, ...]] = {
    "00_setup": ("setup",),
    "01_phiid_primer": ("phiid_primer",),
    "02_extraction": ("extraction",),
    "03_synergistic_cores": (
        "inverted_u",
        "syn_red_corr",
        "split_half_rho",
        "null_profile_band",
        "graph",
        "random_model_profile",
        "cores",
    ),
    "04_phase_transition": ("phase",),
    "05_ablation": ("ablation",),
}

_IMAGE_TYPES = {"image/png": ".png", "image/svg+xml": ".svg", "image/jpeg": ".jpg"}


# --------------------------------------------------------------------------------------
# Reading numbers out of summary.json (tolerant: every stage owns its own layout)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A number with an optional confidence interval (``None`` where absent)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def has_ci(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


_VALUE_NAMES = ("value", "estimate", "mean", "r", "rho", "ratio", "median")
_LOW_NAMES = ("ci_low", "low", "lower", "lo", "q025", "ci_lo")
_HIGH_NAMES = ("ci_high", "high", "upper", "hi", "q975", "ci_hi")


def as_estimate(x: Any) -> Estimate | None:
    """Read a number, ``{value, ci_low, ci_high}`` or ``[value, low, high]``; None if none.

    Accepted spellings of the parts: ``value/estimate/mean/r/rho/ratio/median``,
    ``ci_low/low/lower/lo``, ``ci_high/high/upper/hi``; a two-element ``ci`` list also works.
    """
    if isinstance(x, Mapping):
        value = next((_finite(x[k]) for k in _VALUE_NAMES if k in x), None)
        low = next((_finite(x[k]) for k in _LOW_NAMES if k in x), None)
        high = next((_finite(x[k]) for k in _HIGH_NAMES if k in x), None)
        ci = x.get("ci")
        if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
            low, high = _finite(ci[0]), _finite(ci[1])
        if value is None and low is None and high is None:
            return None
        return Estimate(value, low, high)
    if isinstance(x, Sequence) and not isinstance(x, str):
        if len(x) == 3 and all(_finite(v) is not None for v in x):
            return Estimate(_finite(x[0]), _finite(x[1]), _finite(x[2]))
        return None
    value = _finite(x)
    return None if value is None else Estimate(value)


def band(x: Any) -> tuple[float, float] | None:
    """Read a ``(low, high)`` band from ``[lo, hi]`` or a mapping with low/high names."""
    if isinstance(x, Mapping):
        low = next((_finite(x[k]) for k in _LOW_NAMES if k in x), None)
        high = next((_finite(x[k]) for k in _HIGH_NAMES if k in x), None)
        if low is None or high is None:
            return None
        return (low, high)
    if isinstance(x, Sequence) and not isinstance(x, str) and len(x) == 2:
        low, high = _finite(x[0]), _finite(x[1])
        return None if low is None or high is None else (low, high)
    return None


def fmt_number(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits ('–' for missing)."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 10**digits or abs(x) < 10 ** -(digits + 1):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_estimate(est: Estimate | None) -> str:
    """``0.42 [0.31, 0.55]`` (value and 95 % interval) or '–'."""
    if est is None:
        return "–"
    text = fmt_number(est.value)
    if est.has_ci:
        text += f" [{fmt_number(est.ci_low)}, {fmt_number(est.ci_high)}]"
    return text


def _dig(summary: Mapping[str, Any], *path: str) -> Any:
    node: Any = summary
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


# --------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------

SUPPORTED = "supported"
CONTRADICTED = "not supported"
INCONCLUSIVE = "inconclusive"


def interval_verdict(est: Estimate | None, threshold: float) -> str:
    """Verdict for a claim 'the quantity exceeds ``threshold``' from its interval.

    ``supported`` when the whole interval lies above the threshold, ``not supported`` when the
    whole interval lies at or below it, ``inconclusive`` when it straddles it. Without an
    interval the point estimate decides, marked ``(no CI)``.
    """
    if est is None or est.value is None and not est.has_ci:
        return MISSING
    if est.has_ci:
        if est.ci_low > threshold:
            return SUPPORTED
        if est.ci_high <= threshold:
            return CONTRADICTED
        return INCONCLUSIVE
    return (SUPPORTED if est.value > threshold else CONTRADICTED) + " (no CI)"


def _graph_numbers(graph: Any) -> dict[str, float | None]:
    """Efficiency and modularity of the synergy and redundancy graphs, whatever the nesting."""
    out: dict[str, float | None] = {}
    for kind in ("synergy", "redundancy"):
        for measure in ("efficiency", "modularity"):
            candidates = [
                _dig(graph, kind, measure),
                _dig(graph, kind, f"global_{measure}"),
                _dig(graph, f"{kind}_{measure}"),
                _dig(graph, f"{measure}_{kind}"),
                _dig(graph, f"global_{measure}_{kind}"),
                _dig(graph, measure, kind),
            ]
            out[f"{kind}_{measure}"] = next(
                (est.value for c in candidates if (est := as_estimate(c)) is not None), None
            )
    return out


def graph_verdict(graph: Any) -> tuple[str, str]:
    """(verdict, estimate text): synergy graph more efficient, redundancy graph more modular?"""
    if not isinstance(graph, Mapping):
        return MISSING, "–"
    g = _graph_numbers(graph)
    checks = []
    parts = []
    if g["synergy_efficiency"] is not None and g["redundancy_efficiency"] is not None:
        checks.append(g["synergy_efficiency"] > g["redundancy_efficiency"])
        parts.append(
            f"efficiency syn {fmt_number(g['synergy_efficiency'])} "
            f"vs red {fmt_number(g['redundancy_efficiency'])}"
        )
    if g["synergy_modularity"] is not None and g["redundancy_modularity"] is not None:
        checks.append(g["redundancy_modularity"] > g["synergy_modularity"])
        parts.append(
            f"modularity syn {fmt_number(g['synergy_modularity'])} "
            f"vs red {fmt_number(g['redundancy_modularity'])}"
        )
    if not checks:
        return MISSING, "–"
    if all(checks):
        verdict = SUPPORTED
    elif not any(checks):
        verdict = CONTRADICTED
    else:
        verdict = "mixed"
    return verdict, "; ".join(parts)


def _reading_corr(est: Estimate | None) -> str:
    if est is None or est.value is None:
        return MISSING
    r = est.value
    if r > 0.3:
        return "positive: the same heads score high on both (unlike the brain)"
    if r < -0.3:
        return "negative: brain-like opposition of synergy and redundancy"
    return "weak: synergy and redundancy rank heads almost independently"


def _reading_reliability(est: Estimate | None) -> str:
    if est is None or est.value is None:
        return MISSING
    rho = est.value
    if rho >= 0.8:
        return "reliable head ranking across prompt halves"
    if rho >= 0.5:
        return "moderately reliable head ranking"
    return "unreliable: head ranks change between prompt halves"


NULL_ALPHA = 0.05


def _null_p_value(summary: Mapping[str, Any]) -> float | None:
    """One-sided p of the inverted-U statistic against the circular-shift null, if stored."""
    for path in (
        ("cores", "null_p_value"),
        ("null_profile_band", "p_value"),
        ("inverted_u", "null_p_value"),
    ):
        value = _finite(_dig(summary, *path))
        if value is not None:
            return value
    return None


def _share_inside_band(profile: Any, null: Any) -> float | None:
    """Share of layers whose profile value lies inside the pointwise null band."""
    if not isinstance(null, Mapping) or not isinstance(profile, Sequence):
        return None
    low, high = null.get("low"), null.get("high")
    if not isinstance(low, Sequence) or not isinstance(high, Sequence):
        return None
    if not len(profile) == len(low) == len(high):
        return None
    triples = [
        (_finite(p), _finite(lo), _finite(hi)) for p, lo, hi in zip(profile, low, high, strict=True)
    ]
    triples = [t for t in triples if None not in t]
    if not triples:
        return None
    return sum(lo <= p <= hi for p, lo, hi in triples) / len(triples)


def _reading_null(summary: Mapping[str, Any]) -> tuple[str, str]:
    """(estimate, reading) of the circular-shift null control."""
    null = summary.get("null_profile_band")
    p_value = _null_p_value(summary)
    inside = _share_inside_band(summary.get("layer_profile"), null)
    scalar_band = band(null)
    inverted_u = as_estimate(summary.get("inverted_u"))
    parts = []
    if p_value is not None:
        parts.append(f"p = {fmt_number(p_value, 2)}")
    if inside is not None:
        parts.append(f"{100 * inside:.0f} % of layers inside the band")
    if scalar_band is not None:
        parts.append(f"band [{fmt_number(scalar_band[0])}, {fmt_number(scalar_band[1])}]")
    if not parts:
        return (
            ("–", MISSING)
            if null is None and p_value is None
            else ("see chapter", "reported in the chapter")
        )
    estimate = "; ".join(parts)
    if p_value is not None:
        if p_value < NULL_ALPHA:
            return estimate, "the inverted-U statistic beats the null"
        return estimate, "no stronger than the null: the dynamics of each head alone can produce it"
    if scalar_band is not None and inverted_u is not None and inverted_u.value is not None:
        if scalar_band[0] <= inverted_u.value <= scalar_band[1]:
            return estimate, "inverted-U statistic inside the null band: not above chance"
        return estimate, "inverted-U statistic outside the null band"
    if inside is not None:
        return estimate, (
            "profile mostly inside the null band"
            if inside >= 0.5
            else "profile mostly outside the null band"
        )
    return estimate, "reported in the chapter"


def _random_values(random_profile: Any) -> dict[str, Estimate]:
    """Inverted-U estimates of the untrained controls, by control name."""
    if not isinstance(random_profile, Mapping):
        est = as_estimate(random_profile)
        return {} if est is None else {"untrained": est}
    direct = as_estimate(random_profile.get("inverted_u"))
    if direct is not None:
        return {"untrained": direct}
    out = {}
    for name, entry in random_profile.items():
        est = as_estimate(entry.get("inverted_u")) if isinstance(entry, Mapping) else None
        if est is not None and est.value is not None:
            out[str(name)] = est
    return out


def _reading_random(random_profile: Any, trained: Estimate | None) -> tuple[str, str]:
    """(estimate, reading) of the untrained-model control against the trained statistic."""
    if random_profile is None or random_profile == {}:
        return "–", MISSING
    values = _random_values(random_profile)
    if not values:
        return "see chapter", "reported in the chapter"
    estimate = "; ".join(f"{name} {fmt_estimate(est)}" for name, est in values.items())
    if trained is None or trained.value is None:
        return estimate, "no trained statistic to compare"
    bar = trained.ci_low if trained.ci_low is not None else trained.value
    if trained.value <= 0 or (trained.ci_low is not None and trained.ci_low <= 0):
        return estimate, "no clear inverted U in the trained model to compare"
    if all(est.value < bar for est in values.values()):
        return estimate, "weaker without training, as the claim requires"
    return estimate, "as strong without training: architecture or estimator artefact"


def _phase_row(phase: Any) -> tuple[str, str]:
    """(estimate, verdict) of claim 3: task family, criteria met, midpoint of the fit."""
    if not isinstance(phase, Mapping):
        return "–", MISSING
    parts = []
    if isinstance(phase.get("family"), str):
        parts.append(phase["family"])
    criteria = phase.get("criteria")
    if isinstance(criteria, Mapping) and criteria:
        passed = sum(bool(c.get("passed")) for c in criteria.values() if isinstance(c, Mapping))
        parts.append(f"{passed} of {len(criteria)} criteria met")
    crit = as_estimate(phase.get("critical_difficulty")) or as_estimate(
        _dig(phase, "fit", "midpoint")
    )
    if crit is not None:
        parts.append(f"midpoint {fmt_estimate(crit)}")
    estimate = "; ".join(parts) or "–"
    supported = phase.get("transition_supported")
    if supported is None:
        return estimate, INCONCLUSIVE if crit is not None else MISSING
    return estimate, SUPPORTED if bool(supported) else CONTRADICTED


def verdict_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows ``(claim or control, measure, estimate [95 % CI], verdict)`` of the verdict table."""
    summary = summary or {}
    inverted_u = as_estimate(summary.get("inverted_u"))
    ablation = as_estimate(_dig(summary, "ablation", "auc_ratio_synergy_random"))
    graph_v, graph_est = graph_verdict(summary.get("graph"))
    phase_est, phase_v = _phase_row(summary.get("phase"))
    corr = as_estimate(summary.get("syn_red_corr"))
    rho = as_estimate(summary.get("split_half_rho"))
    null_est, null_reading = _reading_null(summary)
    random_est, random_reading = _reading_random(summary.get("random_model_profile"), inverted_u)
    claim1 = interval_verdict(inverted_u, 0.0)
    p_null = _null_p_value(summary)
    if claim1 == SUPPORTED and p_null is not None and p_null >= NULL_ALPHA:
        claim1 = CONTRADICTED  # the shape is there, but no stronger than the null
    return [
        (
            "1 · Synergistic core in the middle layers",
            "inverted-U statistic of the layer profile (> 0 claimed, and above the null)",
            fmt_estimate(inverted_u),
            claim1,
        ),
        (
            "2 · Redundancy in early and late layers",
            "synergy graph more efficient, redundancy graph more modular",
            graph_est,
            graph_v,
        ),
        (
            "3 · Phase transition with task difficulty",
            "middle-layer order parameter vs difficulty: all 4 transition criteria",
            phase_est,
            phase_v,
        ),
        (
            "4 · Ablating synergistic heads is catastrophic",
            "KL-curve area, synergy-first / random order (> 1 claimed)",
            fmt_estimate(ablation),
            interval_verdict(ablation, 1.0),
        ),
        (
            "Control · synergy vs redundancy",
            "correlation of per-head synergy and redundancy",
            fmt_estimate(corr),
            _reading_corr(corr),
        ),
        (
            "Control · reliability",
            "split-half Spearman ρ of head gradients",
            fmt_estimate(rho),
            _reading_reliability(rho),
        ),
        (
            "Control · circular-shift null",
            "inverted U against circularly shifted series",
            null_est,
            null_reading,
        ),
        (
            "Control · untrained model",
            "inverted-U statistic of a randomly re-initialised model",
            random_est,
            random_reading,
        ),
    ]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub/MyST pipe table."""
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def verdict_table(summary: Mapping[str, Any]) -> str:
    """The landing page's verdict table (Markdown) from a run's ``summary.json`` contents.

    One row per claim and per control; a key missing from ``summary`` gives a "not run" row.
    Verdict rule for an estimate with a 95 % interval: *supported* when the interval lies
    entirely on the claimed side of the threshold, *not supported* when entirely on the other
    side, *inconclusive* otherwise. Claim 1 also needs the inverted-U statistic to beat the
    circular-shift null (p < 0.05) when the run has one; otherwise it is *not supported*.
    """
    rows = []
    for claim, measure, estimate, verdict in verdict_rows(summary):
        shown = f"**{verdict}**" if verdict in (SUPPORTED, CONTRADICTED) else verdict
        rows.append((claim, measure, estimate, shown))
    return markdown_table(("Claim / control", "Measure", "Estimate [95 % CI]", "Verdict"), rows)


# --------------------------------------------------------------------------------------
# Run information
# --------------------------------------------------------------------------------------


def _first(mapping: Mapping[str, Any] | None, *names: str, default: Any = None) -> Any:
    if not isinstance(mapping, Mapping):
        return default
    for name in names:
        if name in mapping and mapping[name] is not None:
            return mapping[name]
    return default


def model_label(model: str | None) -> str:
    """How the book names the model (``None`` is the bundled default)."""
    return DEFAULT_MODEL_LABEL if not model else str(model)


def fmt_duration(seconds: float | None) -> str:
    """``'42 s'``, ``'3 min 05 s'``, ``'1 h 02 min'`` ('–' when unknown)."""
    seconds = _finite(seconds)
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_time(stamp: Any) -> str:
    """``2026-11-24 14:21 UTC`` from an ISO 8601 time stamp (the text itself if unparsable)."""
    if not stamp:
        return "–"
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")


def run_profile(run_info: Mapping[str, Any]) -> str:
    return str(_first(run_info, "profile", default="dev"))


def notebook_parameters(run_info: Mapping[str, Any], name: str, nb: Any = None) -> dict:
    """Parameters ``name`` ran with: from ``run_info``, else papermill's notebook metadata."""
    params = _first(run_info, "parameters", "notebook_parameters", "params", default={})
    if isinstance(params, Mapping) and isinstance(params.get(name), Mapping):
        return dict(params[name])
    if nb is not None:
        meta = nb.metadata.get("papermill", {}) if hasattr(nb, "metadata") else {}
        if isinstance(meta.get("parameters"), Mapping):
            return dict(meta["parameters"])
    return {}


def notebook_run_time(run_info: Mapping[str, Any], name: str, nb: Any = None) -> float | None:
    """Seconds ``name`` took: from ``run_info``, else papermill's recorded duration."""
    times = _first(run_info, "seconds", "run_times", "durations", "notebook_seconds")
    if isinstance(times, Mapping) and _finite(times.get(name)) is not None:
        return _finite(times[name])
    if nb is not None and hasattr(nb, "metadata"):
        return _finite(nb.metadata.get("papermill", {}).get("duration"))
    return None


def _param_literal(value: Any) -> str:
    return repr(value)


def _papermill_arg(key: str, value: Any) -> str:
    if isinstance(value, (str, bool, int, float)) or value is None:
        text = "None" if value is None else str(value)
        return f"-p {key} {shlex.quote(text)}"
    return f"-y {shlex.quote(yaml.safe_dump({key: value}, default_flow_style=True).strip())}"


def _continued(words: Sequence[str]) -> str:
    """Shell words, one option per line with backslash continuations."""
    return " \\\n    ".join(words)


def example_parameter(params: Mapping[str, Any]) -> tuple[str, Any]:
    """The parameter the box uses as the example to change (the first notebook-specific one)."""
    key = next(
        (k for k in params if k not in ("results_dir", "seed", "model_name", "progress")),
        next(iter(params), "seed"),
    )
    return key, params.get(key, 0)


def rerun_commands(name: str, params: Mapping[str, Any], profile: str) -> tuple[str, str]:
    """(``synergy run`` command, plain ``papermill`` command) to re-run notebook ``name``.

    The ``synergy`` command re-runs this notebook alone (``--only``) with the
    :func:`example_parameter` set to its current value (the reader edits it), in the run's
    results folder (``--out`` unless it is the default ``results/<profile>``); the papermill
    command re-runs it with exactly the parameters shown. Both read the earlier stages'
    outputs from that results folder.
    """
    key, value = example_parameter(params)
    words = [f"synergy run --profile {shlex.quote(profile)}", f"--only {name}"]
    results_dir = params.get("results_dir")
    if results_dir and Path(str(results_dir)).parts[-2:] != ("results", profile):
        words.append(f"--out {shlex.quote(str(results_dir))}")
    words.append(f"--set {name}.{key}={shlex.quote(str(value))}")
    synergy = _continued(words)
    papermill = _continued(
        [f"papermill notebooks/{name}.ipynb /tmp/{name}.ipynb"]
        + [_papermill_arg(k, v) for k, v in params.items()]
    )
    return synergy, papermill


def compact_parameters(params: Mapping[str, Any], limit: int = 60) -> str:
    """``seed=0 · n_prompts=6 · …`` for the box (long values shortened)."""
    parts = []
    for key, value in params.items():
        text = repr(value)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        parts.append(f"`{key}={text}`")
    return " · ".join(parts) if parts else "none (the notebook's defaults)"


def reproducibility_box(
    name: str, run_info: Mapping[str, Any], params: Mapping[str, Any], run_time: float | None
) -> str:
    """MyST Markdown of the box put under a notebook's title.

    Visible: profile, model, run time, commit and the parameters in one line each; folded:
    the parameters as code and the commands to re-run the notebook with other values.
    """
    profile = run_profile(run_info)
    if "model_name" in params:
        model = model_label(params["model_name"])
    else:
        model = "none (this notebook loads no language model)"
    commit = _first(run_info, "git_commit", "commit", default="unknown")
    started = _first(run_info, "start", "started", "start_time", default=None)
    synergy_cmd, papermill_cmd = rerun_commands(name, params, profile)
    key, value = example_parameter(params)
    rerun_sentence = (
        f"This notebook alone, with `{key}` changed (replace `{value}` by the value you want; "
        "repeat `--set` for more parameters; drop `--only` to re-run every stage):"
    )
    param_lines = "\n".join(f"{k} = {_param_literal(v)}" for k, v in params.items())
    facts = [
        f"**Profile** `{profile}`",
        f"**Model** {model}",
        f"**Run time** {fmt_duration(run_time)}",
        f"**Commit** `{str(commit)[:12]}`",
    ]
    if started:
        facts.append(f"**Run** {fmt_time(started)}")
    return (
        "`````{admonition} Reproducibility\n"
        ":class: note reproducibility\n\n"
        + " · ".join(facts)
        + "\n\n**Parameters** "
        + compact_parameters(params)
        + "\n\n"
        "````{dropdown} Re-run this notebook with other parameters\n"
        "Parameters papermill injected in this run (the notebook's defaults and their meaning "
        "are in its folded *parameters* cell):\n\n"
        "```python\n"
        + (param_lines or "# no parameters")
        + "\n```\n\n"
        + rerun_sentence
        + "\n\n```bash\n"
        + synergy_cmd
        + "\n```\n\n"
        "or with plain papermill from the repository root:\n\n"
        "```bash\n" + papermill_cmd + "\n```\n"
        "````\n"
        "`````\n"
    )


# --------------------------------------------------------------------------------------
# Notebooks: title, box, hidden parameter cells, headline figures
# --------------------------------------------------------------------------------------


def notebook_title(nb: Any, fallback: str) -> str:
    """The first top-level Markdown heading of a notebook (``fallback`` if none)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = re.search(r"^#\s+(.+?)\s*#*\s*$", cell.source, flags=re.MULTILINE)
        if match:
            return match.group(1)
    return fallback


def _add_tag(cell: Any, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def add_reproducibility_box(nb: Any, box_markdown: str) -> None:
    """Insert (or replace) the box as a Markdown cell right under the notebook's title.

    When the title cell goes on after its ``# Title`` line, it is split in two so that the box
    sits between the title and the introduction.
    """
    nb.cells = [c for c in nb.cells if not c.metadata.get(BOX_MARKER)]
    box = nbformat.v4.new_markdown_cell(box_markdown)
    box.metadata[BOX_MARKER] = True
    title_index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    if title_index >= 0:
        title_cell = nb.cells[title_index]
        lines = title_cell.source.splitlines(keepends=True)
        heading = next((i for i, line in enumerate(lines) if re.match(r"#\s", line)), None)
        if heading is not None:
            rest = "".join(lines[heading + 1 :]).strip()
            if rest:
                title_cell.source = "".join(lines[: heading + 1]).rstrip()
                nb.cells.insert(title_index + 1, nbformat.v4.new_markdown_cell(rest))
    nb.cells.insert(title_index + 1, box)
    # nbformat >= 5.1 wants ids; new cells get one, old notebooks may lack them.
    nbformat.validator.normalize(nb)


def hide_parameter_cells(nb: Any) -> None:
    """Remove papermill's injected cell (shown in the box) and collapse the defaults cell."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            _add_tag(cell, "remove-cell")
        elif "parameters" in tags:
            _add_tag(cell, "hide-input")


@dataclass(frozen=True)
class ExportedFigure:
    path: Path  # relative to the staged book/ folder
    caption: str | None


def _cell_caption(cell: Any) -> str | None:
    meta = cell.metadata
    for path in (("mystnb", "figure", "caption"), ("myst", "figure", "caption"), ("caption",)):
        node: Any = meta
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None


def _cell_images(cell: Any) -> list[tuple[str, Any]]:
    images = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        for mime in _IMAGE_TYPES:
            if mime in data:
                images.append((mime, data[mime]))
                break
    return images


def headline_images(nb: Any) -> list[tuple[Any, str, Any]]:
    """``(cell, mime, data)`` of the headline figures: tagged cells, else the last image."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code_cells if HEADLINE_TAG in c.metadata.get("tags", [])]
    if tagged:
        return [(c, mime, data) for c in tagged for mime, data in _cell_images(c)]
    for cell in reversed(code_cells):
        images = _cell_images(cell)
        if images:
            mime, data = images[-1]
            return [(cell, mime, data)]
    return []


def export_headline_figures(nb: Any, name: str, figures_dir: Path) -> list[ExportedFigure]:
    """Write the headline figures of notebook ``name`` into ``figures_dir``."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    exported = []
    for i, (cell, mime, data) in enumerate(headline_images(nb), start=1):
        target = figures_dir / f"{name}-{i}{_IMAGE_TYPES[mime]}"
        if mime == "image/svg+xml":
            text = data if isinstance(data, str) else "".join(data)
            target.write_text(text)
        else:
            payload = data if isinstance(data, str) else "".join(data)
            target.write_bytes(base64.b64decode(payload))
        exported.append(ExportedFigure(Path(FIGURES_DIR) / target.name, _cell_caption(cell)))
    return exported


# --------------------------------------------------------------------------------------
# Generated pages
# --------------------------------------------------------------------------------------


#: Keys that may sit beside value/ci_low/ci_high in an estimate's dict (not shown separately).
_ESTIMATE_EXTRAS = ("ci", "n", "unit", "level", "ci_level", "method", "n_bootstrap", "p_value")


#: Bookkeeping entries left out of the results chapter's number tables.
_SKIPPED_KEYS = frozenset({"provenance", "parameters", "versions", "seed", "ci_level", "method"})


def _flatten_scalars(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """``(dotted key, text)`` for the scalar leaves of ``value`` (estimates kept whole)."""
    est = as_estimate(value) if isinstance(value, Mapping) else None
    if (
        est is not None
        and isinstance(value, Mapping)
        and set(value) <= set(_VALUE_NAMES + _LOW_NAMES + _HIGH_NAMES + _ESTIMATE_EXTRAS)
    ):
        return [(prefix, fmt_estimate(est))]
    if isinstance(value, Mapping):
        if depth >= 2:
            return []
        rows = []
        for key, sub in value.items():
            if key in _SKIPPED_KEYS:
                continue
            rows += _flatten_scalars(sub, f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return rows
    if isinstance(value, bool):
        return [(prefix, "yes" if value else "no")]
    if isinstance(value, (int, float)) and _finite(value) is not None:
        return [(prefix, fmt_number(float(value)) if isinstance(value, float) else str(value))]
    if isinstance(value, str) and len(value) <= 80:
        return [(prefix, value)]
    return []


def headline_numbers(summary: Mapping[str, Any], keys: Sequence[str], limit: int = 14) -> str:
    """A two-column table of the scalar numbers stored under ``keys`` ('' if none)."""
    rows: list[tuple[str, str]] = []
    for key in keys:
        if key in summary:
            rows += _flatten_scalars(summary[key], key)
    if not rows:
        return ""
    shown = [(f"`{k}`", v) for k, v in rows[:limit]]
    table = markdown_table(("summary.json key", "value"), shown)
    if len(rows) > limit:
        table += f"\n{len(rows) - limit} more numbers under these keys in `summary.json`.\n"
    return table


@dataclass(frozen=True)
class ChapterInfo:
    name: str
    title: str
    figures: list[ExportedFigure]
    ran: bool = True


def results_body(chapters: Sequence[ChapterInfo], summary: Mapping[str, Any]) -> str:
    """Markdown of the results chapter: per notebook, its headline figures and numbers."""
    parts = []
    for chapter in chapters:
        parts.append(f"## {chapter.title}\n")
        parts.append(f"How it was made: {{doc}}`notebooks/{chapter.name}`.\n")
        if not chapter.ran:
            parts.append(f"This notebook did not run in this profile ({MISSING}).\n")
            continue
        if not chapter.figures:
            parts.append("This notebook produced no figure.\n")
        for i, fig in enumerate(chapter.figures, start=1):
            caption = fig.caption or f"Headline figure {i} of *{chapter.title}*."
            parts.append(
                f"```{{figure}} /book/{fig.path.as_posix()}\n"
                f":name: fig-{chapter.name}-{i}\n"
                f":width: 100%\n"
                f":alt: {caption}\n\n"
                f"{caption}\n"
                "```\n"
            )
        numbers = headline_numbers(summary, SUMMARY_KEYS_BY_NOTEBOOK.get(chapter.name, ()))
        if numbers:
            parts.append(numbers)
    return "\n".join(parts)


def run_header(run_info: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    """One paragraph: which run the generated numbers come from."""
    profile = run_profile(run_info)
    loaded = _dig(summary or {}, "setup", "model") or (summary or {}).get("model")
    model = (
        str(loaded)
        if isinstance(loaded, str) and loaded
        else model_label(_first(run_info, "model"))
    )
    commit = str(_first(run_info, "git_commit", "commit", default="unknown"))[:12]
    start = fmt_time(_first(run_info, "start", "started", "start_time"))
    end = fmt_time(_first(run_info, "end", "finished", "end_time"))
    return (
        f"Numbers from the run with profile **`{profile}`** on **{model}** "
        f"(commit `{commit}`, {start} – {end}).\n"
    )


def run_warning(run_info: Mapping[str, Any]) -> str:
    """A warning admonition for books built from the quick profile ('' otherwise)."""
    if run_profile(run_info) != "quick":
        return ""
    return (
        "```{warning}\nThis book was built from the **quick** profile: a few prompts "
        "and short generations to check that everything runs. Its numbers are not "
        "findings; build the `full` profile (`make book`) for those.\n```\n"
    )


def machine_description() -> str:
    """The CPU model, core count and memory of this machine (it ran the notebooks)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 1
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GB memory"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{cpu}, {cores} CPU core{'s' if cores != 1 else ''}{memory}, CPU only"


def run_times_table(
    run_info: Mapping[str, Any], chapters: Sequence[ChapterInfo], notebooks: Mapping[str, Any]
) -> str:
    """Markdown table of each notebook's run time in this run, and the machine it ran on."""
    rows = []
    total = 0.0
    for chapter in chapters:
        seconds = notebook_run_time(run_info, chapter.name, notebooks.get(chapter.name))
        if seconds is not None:
            total += seconds
        rows.append((chapter.title, fmt_duration(seconds) if chapter.ran else MISSING))
    rows.append(("**All notebooks**", f"**{fmt_duration(total)}**"))
    machine = _first(run_info, "machine", "host", default=None)
    if not isinstance(machine, str):
        machine = machine_description()
    header = (
        f"Measured in the run this book was built from (profile `{run_profile(run_info)}`, on "
        f"the machine that built it: {machine}):\n\n"
    )
    return header + markdown_table(("Notebook", "Run time"), rows)


def declared_parameters(nb_path: Path) -> dict[str, dict[str, Any]]:
    """A notebook's declared parameters (papermill's view of its ``parameters`` cell)."""
    import papermill

    try:
        return {k: dict(v) for k, v in papermill.inspect_notebook(str(nb_path)).items()}
    except Exception:  # a notebook without a parameters cell, or one papermill cannot parse
        return {}


def parameters_reference(
    chapters: Sequence[ChapterInfo],
    declared: Mapping[str, Mapping],
    used: Mapping[str, Mapping[str, Any]],
) -> str:
    """Markdown: per notebook, each parameter's type, default, value in this run and meaning."""
    parts = []
    for chapter in chapters:
        params = declared.get(chapter.name) or {}
        if not params:
            continue
        rows = []
        for name, info in params.items():
            ran = used.get(chapter.name, {}).get(name, info.get("default"))
            ran_text = "(path of this run)" if name == "results_dir" else repr(ran)
            rows.append(
                (
                    f"`{name}`",
                    f"`{info.get('inferred_type_name', '')}`",
                    f"`{info.get('default', '')}`",
                    f"`{ran_text}`",
                    str(info.get("help") or ""),
                )
            )
        parts.append(f"**{chapter.title}** (`{chapter.name}`)\n")
        parts.append(markdown_table(("Parameter", "Type", "Default", "This run", "Meaning"), rows))
    return "\n".join(parts) if parts else "No notebook declared parameters in this run.\n"


def toc_chapters(toc_path: Path) -> list[str]:
    """Notebook names (``NN_name``) listed under ``book/notebooks/`` in ``_toc.yml``."""
    toc = yaml.safe_load(toc_path.read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [Path(f).name for f in files if Path(f).parent.as_posix() == "book/notebooks"]


def _placeholder_page(name: str) -> str:
    return (
        f"# {name} (not run)\n\n"
        f"The notebook `notebooks/{name}.ipynb` was not executed in the run this book was built "
        "from (it was left out with `--only`, is not in the profile, or the pipeline stopped "
        "before it). Run\n\n"
        f"```bash\nsynergy run --profile full\n```\n\nto produce this chapter.\n"
    )


_CHAPTER_REF = re.compile(r"notebooks/(\d\d_[A-Za-z0-9_]+)")


def restore_missing_chapters(stage_dir: Path) -> list[str]:
    """Give every notebook chapter the hand-written pages link to a page and a toc entry.

    A partial run (``--only``) stages only some notebooks and may drop the others from
    ``_toc.yml``; the narrative pages still link to them, which would fail the ``-n`` build.
    Missing chapters get a short "not run" page in ``book/notebooks/`` and an entry in the
    toc part that holds the notebook chapters. Returns the names restored.
    """
    book_dir = stage_dir / "book"
    notebooks_dir = book_dir / "notebooks"
    referenced: set[str] = set()
    for page in book_dir.glob("*.md"):
        referenced.update(_CHAPTER_REF.findall(page.read_text()))
    toc_path = stage_dir / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text()) or {}
    listed = set(toc_chapters(toc_path))
    missing = sorted(referenced - listed)
    if not missing:
        return []
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    for name in missing:
        if (
            not (notebooks_dir / f"{name}.ipynb").exists()
            and not (notebooks_dir / f"{name}.md").exists()
        ):
            (notebooks_dir / f"{name}.md").write_text(_placeholder_page(name))
    parts = toc.setdefault("parts", [])
    study = next(
        (
            part
            for part in parts
            if any(
                str(c.get("file", "")).startswith("book/notebooks/")
                for c in part.get("chapters", [])
            )
        ),
        None,
    )
    if study is None:
        study = {"caption": "The study", "chapters": []}
        parts.insert(min(1, len(parts)), study)
    study["chapters"] = sorted(
        study["chapters"] + [{"file": f"book/notebooks/{name}"} for name in missing],
        key=lambda c: str(c.get("file", "")),
    )
    toc_path.write_text(yaml.safe_dump(toc, sort_keys=False))
    return missing


class MissingFigureWarning(UserWarning):
    """An executed notebook has no image output (its page and results section lack a figure)."""


def _warn_no_figure(name: str) -> None:
    backend = os.environ.get("MPLBACKEND", "")
    hint = (
        f" MPLBACKEND={backend!r} is set in this environment and the notebook kernels inherit"
        " it: a non-inline backend shows no figures in notebooks (unset it, or set it to"
        " 'module://matplotlib_inline.backend_inline' for the kernels)."
        if backend and "inline" not in backend
        else ""
    )
    warnings.warn(
        f"notebook {name} has no image output: its chapter and the results chapter will show "
        f"no figure.{hint}",
        MissingFigureWarning,
        stacklevel=3,
    )


def prepare_book_sources(stage_dir: Path, results_dir: Path, run_info: dict) -> None:
    """Add the generated parts of the book to a staged build folder (see the module doc).

    ``stage_dir`` holds ``_config.yml``, ``_toc.yml``, ``book/`` and the executed notebooks in
    ``book/notebooks/``; ``results_dir`` holds the run's ``summary.json``; ``run_info`` holds
    ``profile``, ``model``, ``parameters`` (notebook -> dict), ``seconds`` (notebook ->
    seconds), ``start``, ``end``, ``git_commit`` and ``command`` (missing entries are shown as
    unknown, never an error). Idempotent.
    """
    stage_dir, results_dir = Path(stage_dir), Path(results_dir)
    book_dir = stage_dir / "book"
    notebooks_dir = book_dir / "notebooks"
    generated = book_dir / GENERATED_DIR
    generated.mkdir(parents=True, exist_ok=True)
    figures_dir = book_dir / FIGURES_DIR
    if figures_dir.exists():
        shutil.rmtree(figures_dir)
    figures_dir.mkdir(parents=True)
    summary = read_summary(results_dir)
    run_info = dict(run_info or {})

    restore_missing_chapters(stage_dir)
    names = toc_chapters(stage_dir / "_toc.yml")
    names += sorted(p.stem for p in notebooks_dir.glob("*.ipynb") if p.stem not in names)
    chapters: list[ChapterInfo] = []
    notebooks: dict[str, Any] = {}
    declared: dict[str, dict] = {}
    used: dict[str, dict] = {}
    for name in names:
        nb_path = notebooks_dir / f"{name}.ipynb"
        if not nb_path.exists():
            placeholder = notebooks_dir / f"{name}.md"
            notebooks_dir.mkdir(parents=True, exist_ok=True)
            if not placeholder.exists():
                placeholder.write_text(_placeholder_page(name))
            chapters.append(ChapterInfo(name, f"{name} (not run)", [], ran=False))
            continue
        declared[name] = declared_parameters(nb_path)
        nb = nbformat.read(nb_path, as_version=4)
        params = notebook_parameters(run_info, name, nb)
        used[name] = params
        seconds = notebook_run_time(run_info, name, nb)
        add_reproducibility_box(nb, reproducibility_box(name, run_info, params, seconds))
        hide_parameter_cells(nb)
        nbformat.write(nb, nb_path)
        notebooks[name] = nb
        figures = export_headline_figures(nb, name, figures_dir)
        if not figures:
            _warn_no_figure(name)
        chapters.append(ChapterInfo(name, notebook_title(nb, name), figures))

    (generated / "run_header.md").write_text(run_header(run_info, summary))
    (generated / "run_warning.md").write_text(run_warning(run_info))
    (generated / "verdicts.md").write_text(verdict_table(summary))
    (generated / "results_body.md").write_text(results_body(chapters, summary))
    (generated / "run_times.md").write_text(run_times_table(run_info, chapters, notebooks))
    (generated / "parameters.md").write_text(parameters_reference(chapters, declared, used))


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------


class BookBuildError(RuntimeError):
    """``jupyter-book build`` failed (a warning counts: the build runs with ``-W``)."""


def _jupyter_book_executable() -> str:
    local = Path(sys.executable).parent / "jupyter-book"
    if local.exists():
        return str(local)
    found = shutil.which("jupyter-book")
    if not found:
        raise BookBuildError(
            "jupyter-book is not installed; install the book extra: pip install -e '.[book]'"
        )
    return found


def _write_redirect_page(html_dir: Path, title: str) -> None:
    """Replace Jupyter Book's bare ``index.html`` redirect with one that has a title, the
    book's icon (so browsers do not ask for ``/favicon.ico``) and a link for readers whose
    browser does not follow meta refreshes."""
    match = re.search(r'url=([^"]+)"', (html_dir / "index.html").read_text())
    target = match.group(1) if match else "book/intro.html"
    icon = (
        '<link rel="icon" href="_static/favicon.png">'
        if (html_dir / "_static" / "favicon.png").exists()
        else ""
    )
    (html_dir / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Refresh" content="0; url={target}">\n{icon}\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<p><a href="{target}">Open the book</a></p>\n</body>\n</html>\n'
    )


def build_book(stage_dir: Path, output_dir: Path | None = None) -> Path:
    """Build the staged book with warnings as errors; return ``output_dir/_build/html``.

    Runs ``jupyter-book build STAGE --path-output OUTPUT -W -n --keep-going --all`` (``--all``
    re-reads every page, so warnings of unchanged pages are not hidden by Sphinx's cache).
    The full log goes to ``OUTPUT/_build/book-build.log``; on failure the warnings are raised.
    """
    stage_dir = Path(stage_dir).resolve()
    output_dir = Path(output_dir if output_dir is not None else Path.cwd()).resolve()
    build_dir = output_dir / "_build"
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        _jupyter_book_executable(),
        "build",
        str(stage_dir),
        "--path-output",
        str(output_dir),
        "-W",
        "-n",
        "--keep-going",
        "--all",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    (build_dir / "book-build.log").write_text(log)
    html_dir = build_dir / "html"
    if proc.returncode == 0 and (html_dir / "index.html").exists():
        config = yaml.safe_load((stage_dir / "_config.yml").read_text()) or {}
        _write_redirect_page(html_dir, str(config.get("title") or "Book"))
    if proc.returncode != 0 or not (html_dir / "index.html").exists():
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        detail = "\n".join(problems[-30:]) or "\n".join(log.splitlines()[-30:])
        raise BookBuildError(
            f"jupyter-book build failed (exit {proc.returncode}); full log in "
            f"{build_dir / 'book-build.log'}:\n{detail}"
        )
    return html_dir
