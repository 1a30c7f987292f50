"""Phase-transition stage: does the synergistic core switch on as tasks get harder?

The control parameter is task difficulty, on families of generated tasks with exact answers
(:mod:`synergy_utils.stages.tasks`). Per family:

1. **Calibration** (:func:`accuracy_scan`, :func:`calibrate_grid`): a short accuracy scan
   over coarse levels finds where the model's accuracy falls from 80 % to 20 %, and a grid of
   levels is laid around that cliff (stored with the results).
2. **Sweep** (:func:`run_phase_sweep`): for each level, the model answers ``n_per_level``
   prompts greedily while every head's series is recorded
   (:func:`synergy_utils.lm.recording.record_head_series`). EOS is suppressed, and a batch ends
   once every reply has passed its natural end (the step where EOS was the greedy choice) and
   the fixed window is full. Each prompt then gives two series: the **answer span** (steps up
   to the token that completes the reply's final answer, or the natural end when the reply
   states none; natural lengths) and the **fixed window** (the first ``fixed_window`` steps,
   as in the reference method; for short answers mostly text after the answer). Accuracy is
   read from the natural reply.
3. **Scores** (:func:`synergy_utils.stages.phase_scores.prompt_scores`): per prompt and
   window, the order parameters and their circular-shift nulls (one null value per
   surrogate).
4. **Analysis** (:func:`analyse_sweep`): per window and order parameter,
   :func:`synergy_utils.stats.fits.transition_statistics` (flat, line and logistic by BIC with
   a bootstrap, the null sweeps' jumps, the susceptibility). The claim-3 rule that reads these
   numbers is :func:`synergy_utils.report.claims.transition.transition_verdict`; the verdict
   reads the answer span and the null-corrected order parameter.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import special
from tqdm.auto import tqdm

from ..results import load_dataset, read_json, save_dataset, write_json
from .phase_analysis import analyse_family, analyse_sweep, level_profiles, phase_summary
from .phase_scores import (
    MIN_STEPS,
    ORDER_PARAMETER_LABELS,
    ORDER_PARAMETERS,
    PRIMARY_ORDER_PARAMETER,
    RAW_ORDER_PARAMETER,
    VERDICT_WINDOW,
    WINDOWS,
    answer_end,
    middle_third,
    prompt_scores,
)
from .prompts import CATEGORIES, select_prompts
from .tasks import (
    CATEGORY_FAMILY,
    TASK_FAMILIES,
    Task,
    candidate_levels,
    difficulty_levels,
    generate_tasks,
    level_bounds,
    parse_answer,
    reply_budget,
)

__all__ = [
    "DEFAULT_FAMILIES",
    "ORDER_PARAMETERS",
    "ORDER_PARAMETER_LABELS",
    "PRIMARY_ORDER_PARAMETER",
    "RAW_ORDER_PARAMETER",
    "VERDICT_WINDOW",
    "WINDOWS",
    "accuracy_scan",
    "calibrate_family",
    "analyse_family",
    "analyse_sweep",
    "calibrate_grid",
    "level_profiles",
    "level_prompts",
    "middle_third",
    "parse_families",
    "parse_levels",
    "phase_summary",
    "run_phase_sweep",
    "save_sweep",
    "load_sweep",
    "sweep_settings",
]

#: Families of the full profile: copying, a multi-step sum, addition of growing operands.
DEFAULT_FAMILIES: tuple[str, ...] = ("copy_list", "digit_sum", "addition_bounded")
#: Seed offset of the calibration scan's tasks (never the sweep's tasks).
SCAN_SEED_OFFSET = 1_000_003


# --- calibration -------------------------------------------------------------------------


def _accuracy_curve(x: np.ndarray, acc: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Midpoint and width, on the log scale of the levels, of the falling logistic
    ``expit((m - log x) / w)`` that best explains the scan (binomial likelihood on a grid;
    probabilities kept inside [0.02, 0.98], so a ceiling or floor a little short of 1 or 0
    costs little). The log scale lets one curve fit scans whose levels double."""
    u = np.log(x)
    span = float(u[-1] - u[0])
    mids = np.linspace(u[0] - span, u[-1] + span, 241)
    widths = np.geomspace(0.02 * float(np.min(np.diff(u))), 2 * span, 60)
    p = special.expit((mids[:, None, None] - u[None, None, :]) / widths[None, :, None])
    p = np.clip(p, 0.02, 0.98)
    hits = acc * counts
    loglik = (hits * np.log(p) + (counts - hits) * np.log1p(-p)).sum(-1)
    i, j = np.unravel_index(np.argmax(loglik), loglik.shape)
    return float(mids[i]), float(widths[j])


def _anchored(
    x: np.ndarray, acc: np.ndarray, x_high: float, x_low: float, high: float, low: float
) -> tuple[float, float]:
    """The cliff ``[x_high, x_low]`` of the fit, widened to reach the last scanned level
    measured at or above ``high`` before it and the first measured at or below ``low``
    after it (a sharp fit to a noisy scan must not leave those measurements outside)."""
    above = x[(acc >= high) & (x < x_low)]
    below = x[(acc <= low) & (x > x_high)]
    start = min(x_high, float(above.max())) if above.size else x_high
    stop = max(x_low, float(below.min())) if below.size else x_low
    return start, stop


def calibrate_grid(
    levels: Sequence[float],
    accuracy: Sequence[float],
    counts: Sequence[int] | None = None,
    *,
    n_levels: int = 7,
    bounds: tuple[int, int] = (1, 10**6),
    high: float = 0.8,
    low: float = 0.2,
) -> dict[str, Any]:
    """A grid of ``n_levels`` integer levels around an accuracy cliff.

    A falling logistic in the logarithm of the level is fitted to the scan's accuracies
    (binomial likelihood, ``counts`` replies per level); ``x_high`` and ``x_low`` are where
    it falls to ``high`` and to ``low``. The cliff is widened, if needed, to reach the last
    scanned level measured at or above ``high`` before it and the first measured at or below
    ``low`` after it. The grid runs evenly on the log-level scale (the scale of the fitted
    fall), symmetric about the fitted 50 % point, out to half the cliff's log width beyond its
    farther end (cut to ``bounds``), so that the cliff takes the middle of the grid with as
    many levels on each side of 50 % as the bounds allow (a testable family needs four on
    each side). A range too narrow for ``n_levels`` distinct integers is widened to
    ``n_levels - 1`` steps on the level scale, shifted to stay inside ``bounds``.

    Returns ``grid`` (list of ints), ``x_high``, ``x_low``, the fitted ``midpoint`` and
    ``width`` (of the logistic in log level), and ``fitted_accuracy`` at the grid's levels.
    """
    x = np.asarray(levels, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if x.ndim != 1 or x.size < 2 or acc.shape != x.shape or np.any(np.diff(x) <= 0):
        raise ValueError("levels must be >= 2 increasing values with one accuracy each")
    if x[0] <= 0:
        raise ValueError(f"levels must be positive (the fit is on log levels), got {x[0]}")
    if n_levels < 3:
        raise ValueError(f"n_levels must be >= 3, got {n_levels}")
    weights = np.ones_like(acc) if counts is None else np.asarray(counts, dtype=float)
    midpoint, scale = _accuracy_curve(x, np.nan_to_num(acc, nan=0.0), weights)
    x_high = float(np.exp(midpoint - scale * float(special.logit(high))))
    x_low = float(np.exp(midpoint - scale * float(special.logit(low))))
    x_start, x_stop = _anchored(x, acc, x_high, x_low, high, low)
    log_start, log_stop = np.log(x_start), np.log(x_stop)
    reach = max(log_stop - midpoint, midpoint - log_start) + 0.5 * (log_stop - log_start)
    lo, hi = bounds
    start, stop = max(float(np.exp(midpoint - reach)), lo), min(float(np.exp(midpoint + reach)), hi)
    if stop - start < n_levels - 1:  # too narrow for distinct integer levels: widen, evenly
        centre = 0.5 * (start + stop)
        start, stop = centre - (n_levels - 1) / 2, centre + (n_levels - 1) / 2
        shift = max(lo - start, 0.0) - max(stop - hi, 0.0)
        start, stop = max(start + shift, lo), min(stop + shift, hi)
        grid = np.round(np.linspace(start, stop, n_levels)).astype(int)
    else:  # even on the log scale, like the fitted fall, centred on its 50 % point
        grid = np.round(np.exp(np.linspace(np.log(start), np.log(stop), n_levels))).astype(int)
    for k in range(1, grid.size):  # rounding must not merge neighbours
        grid[k] = max(grid[k], grid[k - 1] + 1)
    return {
        "grid": [int(v) for v in grid],
        "x_high": x_high,
        "x_low": x_low,
        "midpoint": midpoint,
        "width": scale,
        "fitted_accuracy": [float(special.expit((midpoint - np.log(g)) / scale)) for g in grid],
        "high": high,
        "low": low,
    }


def _replies_correct(family: str, tasks: list[Task], texts: list[str]) -> list[float]:
    return [float(parse_answer(x, family) == t.answer) for t, x in zip(tasks, texts, strict=True)]


def accuracy_scan(
    model: Any,
    tokenizer: Any,
    family: str,
    candidates: Sequence[int] | None = None,
    n_per_level: int = 5,
    *,
    seed: int = 0,
    template: str = "auto",
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Accuracy of ``n_per_level`` replies (greedy, until EOS) at each candidate level.

    The tasks come from a seed stream of their own, so they never repeat the sweep's. With
    ``cache_dir`` the scan is stored as JSON, keyed on the model's weights and the settings.
    Returns ``levels``, ``accuracy``, ``n`` and ``replies`` (the first reply per level).
    """
    from ..lm.decoding import generate_answers
    from ..lm.recording import model_fingerprint

    levels = [int(v) for v in (candidates or candidate_levels(family))]
    key = {"family": family, "levels": levels, "n": n_per_level, "seed": seed, "t": template}
    digest = hashlib.sha1(
        json.dumps({**key, "model": model_fingerprint(model)}, sort_keys=True).encode()
    ).hexdigest()[:16]
    path = Path(cache_dir) / f"scan_{family}_{digest}.json" if cache_dir else None
    if path is not None and path.exists():
        return read_json(path)
    accuracy, replies = [], []
    pairs = [levels[i : i + 2] for i in range(0, len(levels), 2)]  # two levels per batch
    for pair in tqdm(pairs, desc=f"scan {family}", disable=not progress):
        tasks = [generate_tasks(family, lv, n_per_level, seed + SCAN_SEED_OFFSET) for lv in pair]
        texts = generate_answers(
            model,
            tokenizer,
            [t.prompt for group in tasks for t in group],
            max(reply_budget(family, lv) for lv in pair),
            batch_size=n_per_level * len(pair),
            template=template,
        )
        for g, group in enumerate(tasks):
            part = texts[g * n_per_level : (g + 1) * n_per_level]
            accuracy.append(float(np.mean(_replies_correct(family, group, part))))
            replies.append(part[0])
    scan = {**key, "levels": levels, "accuracy": accuracy, "n": [n_per_level] * len(levels)}
    scan["replies"] = replies
    if path is not None:
        write_json(path, scan)
    return scan


# --- the sweep -----------------------------------------------------------------------------


def level_prompts(
    family: str, level: int, n: int, seed: int = 0
) -> tuple[list[str], list[Task] | None]:
    """The prompts of one level: generated tasks, or for ``"categories"`` the first ``n``
    prompts of the category of rank ``level`` (0..5; no checkable answers, tasks None)."""
    if family == CATEGORY_FAMILY:
        if not 0 <= int(level) < len(CATEGORIES):
            raise ValueError(f"category rank must be in 0..{len(CATEGORIES) - 1}, got {level}")
        return [text for _, text in select_prompts(n, [CATEGORIES[int(level)]])], None
    if family not in TASK_FAMILIES:
        raise ValueError(
            f"unknown family {family!r}; choose from {TASK_FAMILIES + (CATEGORY_FAMILY,)}"
        )
    tasks = generate_tasks(family, level, n, seed)
    return [t.prompt for t in tasks], tasks


def _reply(
    tokenizer: Any, generated: list[int], eos_step: int | None, family: str, spans: bool
) -> tuple[str, str | None, int]:
    """Natural reply text (up to the step that chose EOS), its parsed answer, and the answer
    span's length (steps up to the token that completes the final answer; without an answer,
    the natural reply's length)."""
    n_natural = len(generated) if eos_step is None else int(eos_step)
    text = tokenizer.decode(generated[:n_natural], skip_special_tokens=True)
    if family == CATEGORY_FAMILY:
        return text, None, n_natural
    if not spans:
        return text, parse_answer(text, family), n_natural
    prefixes = [
        tokenizer.decode(generated[: k + 1], skip_special_tokens=True) for k in range(n_natural)
    ]
    parsed, end = answer_end(prefixes, lambda t: parse_answer(t, family))
    return text, parsed, end + 1


def _windows_of(values: np.ndarray, span: int, fixed_window: int, windows: Sequence[str]):
    """The finite series of each window of one prompt ((T, L, H) or None if too short)."""
    out = {}
    for window in windows:
        length = span if window == "answer_span" else fixed_window
        part = values[:length]
        ok = length >= MIN_STEPS and part.shape[0] == length and np.isfinite(part).all()
        out[window] = part if ok else None
    return out


def _analyse_prompts(
    values: np.ndarray, replies: list[dict], settings: Mapping[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """Scores of every prompt and window: dict of arrays (window, item, ...)."""
    windows, n_items = settings["windows"], len(replies)
    n_layers, n_heads = values.shape[2:]
    names = list(ORDER_PARAMETERS)
    shape = (len(windows), n_items)
    out: dict[str, np.ndarray] = {name: np.full(shape, np.nan) for name in names}
    for name in names:
        out[f"null_{name}"] = np.full(shape + (settings["n_shuffles"],), np.nan)
    for key in ("sts", "rtr", "delta_sts"):
        out[key] = np.full(shape + (n_layers, n_heads), np.nan)
    out["n_steps"] = np.zeros(shape, dtype=int)
    for p, reply in enumerate(replies):
        parts = _windows_of(values[p], reply["span"], settings["fixed_window"], windows)
        for w, window in enumerate(windows):
            short = window == "answer_span" and reply["span"] < settings["min_span"]
            if parts[window] is None or short:
                continue
            scores = prompt_scores(
                parts[window],
                n_surrogates=settings["n_shuffles"],
                tau=settings["tau"],
                seed=seed + p,
                method=settings["method"],
            )
            for key in names + ["sts", "rtr", "delta_sts", "n_steps"]:
                out[key][w, p] = scores[key]
            for name in names:
                out[f"null_{name}"][w, p] = scores[f"null_{name}"]
    return out


def _level_dataset(
    level: int,
    prompts: list[str],
    tasks: list[Task] | None,
    replies: list[dict],
    scores: dict[str, np.ndarray],
    windows: Sequence[str],
) -> xr.Dataset:
    item, cell = ("item",), ("window", "item")
    data: dict[str, Any] = {
        "prompt": (item, np.array(prompts, dtype=str)),
        "answer": (item, np.array([t.answer for t in tasks] if tasks else [""] * len(prompts))),
        "reply": (item, np.array([r["text"] for r in replies], dtype=str)),
        "parsed": (item, np.array([r["parsed"] or "" for r in replies], dtype=str)),
        "correct": (item, np.array([r["correct"] for r in replies], dtype=float)),
        "eos_step": (item, np.array([r["eos_step"] for r in replies], dtype=int)),
        "span_length": (item, np.array([r["span"] for r in replies], dtype=int)),
        "n_steps": (cell, scores["n_steps"]),
    }
    for name in ORDER_PARAMETERS:
        data[name] = (cell, scores[name])
        data[f"null_{name}"] = (cell + ("surrogate",), scores[f"null_{name}"])
    for key in ("sts", "rtr", "delta_sts"):
        data[key] = (cell + ("layer", "head"), scores[key])
    ds = xr.Dataset(data, coords={"window": list(windows), "item": np.arange(len(prompts))})
    return ds.expand_dims(level=[int(level)])


def _record_levels(
    model: Any, tokenizer: Any, levels: Sequence[int], settings: Mapping[str, Any], cache: Any
) -> dict[int, dict[str, Any]]:
    """One recording of the prompts of all ``levels`` (batched across levels, shortest prompts
    first): per level its prompts, tasks, series (P, T, L, H), generated ids and EOS steps."""
    from ..lm.recording import record_head_series

    family, window = settings["family"], settings["fixed_window"]
    spans = "answer_span" in settings["windows"]
    prompts, owners, tasks = [], [], {}
    for level in levels:
        texts, tasks[level] = level_prompts(
            family, level, settings["n_per_level"], settings["seed"]
        )
        prompts += texts
        owners += [level] * len(texts)
    budget = window
    if spans and family != CATEGORY_FAMILY:
        budget = max([window] + [reply_budget(family, level) for level in levels])
    series = record_head_series(
        model,
        tokenizer,
        prompts,
        budget,
        template=settings["template"],
        batch_size=settings["batch_size"],
        cache_dir=None if cache is None else cache / "series",
        progress=False,
        natural_stop_after=window if spans else None,
    )
    eos_steps = series.metadata.get("eos_steps") or [None] * len(prompts)
    owners = np.array(owners)
    out = {}
    for level in levels:
        idx = np.flatnonzero(owners == level)
        out[level] = {
            "prompts": [prompts[i] for i in idx],
            "tasks": tasks[level],
            "values": series.values[idx],
            "generated": [series.token_ids[i][series.prompt_lengths[i] :].tolist() for i in idx],
            "eos_steps": [eos_steps[i] for i in idx],
        }
    return out


def _score_level(
    tokenizer: Any, level: int, recorded: Mapping[str, Any], settings: Mapping[str, Any]
) -> xr.Dataset:
    """Read the replies of one recorded level and score its prompts in every window."""
    family, tasks = settings["family"], recorded["tasks"]
    spans = "answer_span" in settings["windows"]
    replies = []
    for p, generated in enumerate(recorded["generated"]):
        eos_step = recorded["eos_steps"][p]
        text, parsed, span = _reply(tokenizer, generated, eos_step, family, spans)
        correct = np.nan if tasks is None else float(parsed == tasks[p].answer)
        eos = -1 if eos_step is None else int(eos_step)
        replies.append(
            {"text": text, "parsed": parsed, "span": span, "correct": correct, "eos_step": eos}
        )
    scores = _analyse_prompts(
        recorded["values"], replies, settings, settings["seed"] + 1000 * level
    )
    return _level_dataset(level, recorded["prompts"], tasks, replies, scores, settings["windows"])


def run_phase_sweep(
    model: Any,
    tokenizer: Any,
    family: str,
    levels: Sequence[int] | None = None,
    n_per_level: int = 10,
    fixed_window: int = 16,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    windows: Sequence[str] = WINDOWS,
    n_shuffles: int = 12,
    min_span: int = 7,
    tau: int = 1,
    method: str = "luppi",
    batch_size: int = 20,
    template: str = "auto",
    calibration: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Generate, record, score and summarise every difficulty level of ``family``.

    Per level: ``n_per_level`` prompts (:func:`level_prompts`), greedy replies with every
    head's series recorded (EOS suppressed; a batch ends once each reply has passed its
    natural end and ``fixed_window`` steps are recorded, or at the family's
    :func:`~synergy_utils.stages.tasks.reply_budget`), the natural replies checked, and
    per prompt and window (``windows``: "answer_span" and/or "fixed_window") the order
    parameters with ``n_shuffles`` surrogate null values
    (:func:`~synergy_utils.stages.phase_scores.prompt_scores`). Answer spans shorter than
    ``min_span`` steps are not scored (NaN). With ``cache_dir`` each finished level is saved
    (keyed on the weights and every setting) and reused.

    Returns a Dataset with dims (level, item, window, surrogate, layer, head): per item
    ``prompt``, ``answer``, ``reply`` (natural reply), ``parsed``, ``correct``, ``eos_step``
    (−1: never), ``span_length``; per window and item ``n_steps`` (0: not scored), each order
    parameter, ``null_<name>`` (with a surrogate axis) and the head scores ``sts``, ``rtr``,
    ``delta_sts``. Settings, and ``calibration`` if given, are in ``attrs`` (JSON).
    """
    from ..lm.recording import model_fingerprint

    levels = [int(v) for v in (levels if levels else difficulty_levels(family))]
    if n_per_level < 2:
        raise ValueError("n_per_level must be >= 2 (the susceptibility is a variance)")
    unknown = set(windows) - set(WINDOWS)
    if not windows or unknown:
        raise ValueError(f"windows must be a non-empty subset of {WINDOWS}, got {windows}")
    if fixed_window < MIN_STEPS or min_span < MIN_STEPS:
        raise ValueError(f"fixed_window and min_span must be >= {MIN_STEPS}")
    settings = {
        "family": family,
        "n_per_level": n_per_level,
        "fixed_window": fixed_window,
        "seed": seed,
        "windows": list(windows),
        "n_shuffles": n_shuffles,
        "min_span": min_span,
        "tau": tau,
        "method": method,
        "template": template,
        "batch_size": batch_size,
    }
    fingerprint = model_fingerprint(model)
    cache = Path(cache_dir) if cache_dir is not None else None
    key = {k: v for k, v in settings.items() if k != "batch_size"}
    key["order_parameters"] = list(ORDER_PARAMETERS)  # a new one rescores cached levels
    paths, parts = {}, {}
    for level in levels:
        digest = hashlib.sha1(
            json.dumps({**key, "level": level, "model": fingerprint}, sort_keys=True).encode()
        ).hexdigest()[:16]
        paths[level] = cache / f"phase_{family}_{level}_{digest}.nc" if cache else None
        parts[level] = _read_cached_level(paths[level])
    todo = [level for level in levels if parts[level] is None]
    if todo:
        recorded = _record_levels(model, tokenizer, todo, settings, cache)
        for level in tqdm(todo, desc=f"{family} levels", disable=not progress):
            parts[level] = _score_level(tokenizer, level, recorded[level], settings)
            if paths[level] is not None:
                save_dataset(parts[level], paths[level])
    parts = [parts[level] for level in levels]
    ds = xr.concat(parts, dim="level")
    ds.attrs = {
        "family": family,
        "settings": json.dumps(settings),
        "calibration": json.dumps(dict(calibration) if calibration else None),
        "model_fingerprint": fingerprint,
        "model": str(getattr(model.config, "name_or_path", "")),
    }
    return ds


def _read_cached_level(path: Path | None) -> xr.Dataset | None:
    """A finished level from the cache; a damaged file is reported and redone (None)."""
    if path is None or not path.exists():
        return None
    try:
        return load_dataset(path)
    except (OSError, ValueError, KeyError) as err:
        warnings.warn(f"damaged cache file {path} ({err}); recomputing it", stacklevel=3)
        return None


#: Sweeps are written and read like every other labelled result file.
save_sweep = save_dataset
load_sweep = load_dataset


def sweep_settings(ds: xr.Dataset) -> dict[str, Any]:
    """The settings and calibration a sweep was made with (from its JSON attributes)."""
    settings = json.loads(ds.attrs.get("settings", "{}"))
    settings["calibration"] = json.loads(ds.attrs.get("calibration", "null"))
    return settings


def parse_families(families: str | Sequence[str] | None) -> list[str]:
    """Task families from a notebook parameter: "" or None = :data:`DEFAULT_FAMILIES`, else
    a comma-separated list such as "copy_list,digit_sum"."""
    if families is None or (isinstance(families, str) and not families.strip()):
        return list(DEFAULT_FAMILIES)
    names = [f.strip() for f in families.split(",")] if isinstance(families, str) else families
    names = [str(n) for n in names if str(n)]
    allowed = TASK_FAMILIES + (CATEGORY_FAMILY,)
    unknown = [n for n in names if n not in allowed]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"families must be distinct names from {allowed}, got {names}")
    return names


def _level_list(text: str | Sequence[int]) -> list[int]:
    if isinstance(text, str):
        try:
            parsed = [int(part) for part in text.split(",") if part.strip()]
        except ValueError as err:
            raise ValueError(f"levels must be comma-separated integers, got {text!r}") from err
    else:
        parsed = [int(v) for v in text]
    if sorted(set(parsed)) != parsed or len(parsed) < 3:
        raise ValueError(f"levels must be at least 3 increasing integers, got {parsed}")
    return parsed


def parse_levels(levels: str | Sequence[int] | None, family: str) -> list[int] | None:
    """Levels of ``family`` from a notebook parameter. "" or None: None (calibrate); "1,2,4":
    those levels for every family; "copy_list: 2,4,6; digit_sum: 2,3,4": per family (a family
    not named is calibrated)."""
    if levels is None or (isinstance(levels, str) and not levels.strip()):
        return None
    if isinstance(levels, str) and ":" in levels:
        for entry in levels.split(";"):
            name, _, values = entry.partition(":")
            if name.strip() == family:
                return _level_list(values)
        return None
    return _level_list(levels)


def calibrate_family(
    model: Any,
    tokenizer: Any,
    family: str,
    *,
    n_levels: int = 7,
    n_scan: int = 5,
    seed: int = 0,
    template: str = "auto",
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`accuracy_scan` then :func:`calibrate_grid` (inside the family's
    :func:`~synergy_utils.stages.tasks.level_bounds`): the scan, the grid and its numbers."""
    scan = accuracy_scan(
        model, tokenizer, family, None, n_scan, seed=seed, template=template, cache_dir=cache_dir
    )
    grid = calibrate_grid(
        scan["levels"], scan["accuracy"], scan["n"], n_levels=n_levels, bounds=level_bounds(family)
    )
    return {"scan": {k: scan[k] for k in ("levels", "accuracy", "n")}, **grid}
