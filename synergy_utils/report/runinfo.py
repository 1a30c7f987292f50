"""What a run recorded about itself (``run_info.json``), and the reproducibility box every
notebook page shows: profile, model, run time, commit, parameters, and the commands that
re-run the notebook.

``run_info`` is written by :func:`synergy_utils.pipeline.run_pipeline` with the keys
``profile``, ``model``, ``parameters`` (notebook -> dict), ``seconds`` (notebook ->
seconds), ``start``, ``end``, ``git_commit``, ``command`` and ``versions``; a missing entry is
shown as unknown, never an error.
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .verdicts import finite

DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct (bundled 4-bit GGUF, the default)"


def model_label(model: str | None) -> str:
    """How the book names the model (``None`` is the bundled default)."""
    return DEFAULT_MODEL_LABEL if not model else str(model)


def fmt_duration(seconds: float | None) -> str:
    """``'42 s'``, ``'3 min 05 s'``, ``'1 h 02 min'`` ('–' when unknown)."""
    if not finite(seconds):
        return "–"
    seconds = float(seconds)
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
    """The run's profile name ("dev" for a notebook run by hand)."""
    return str((run_info or {}).get("profile") or "dev")


def notebook_parameters(run_info: Mapping[str, Any], name: str, nb: Any = None) -> dict:
    """Parameters ``name`` ran with: from ``run_info``, else papermill's notebook metadata."""
    params = (run_info or {}).get("parameters") or {}
    if isinstance(params.get(name), Mapping):
        return dict(params[name])
    if nb is not None:
        meta = nb.metadata.get("papermill", {}) if hasattr(nb, "metadata") else {}
        if isinstance(meta.get("parameters"), Mapping):
            return dict(meta["parameters"])
    return {}


def notebook_run_time(run_info: Mapping[str, Any], name: str, nb: Any = None) -> float | None:
    """Seconds ``name`` took: from ``run_info``, else papermill's recorded duration."""
    times = (run_info or {}).get("seconds") or {}
    if finite(times.get(name)):
        return float(times[name])
    if nb is not None and hasattr(nb, "metadata"):
        duration = nb.metadata.get("papermill", {}).get("duration")
        return float(duration) if finite(duration) else None
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
        [f"papermill notebooks/{name}.ipynb {shlex.quote(_executed_copy(name, params, profile))}"]
        + [_papermill_arg(k, v) for k, v in params.items()]
    )
    return synergy, papermill


def _executed_copy(name: str, params: Mapping[str, Any], profile: str) -> str:
    """Where the papermill command writes its executed copy: the run's notebooks folder."""
    return f"{params.get('results_dir') or f'results/{profile}'}/notebooks/{name}.ipynb"


def compact_parameters(params: Mapping[str, Any], limit: int = 60) -> str:
    """``seed=0 · n_prompts=6 · …`` for the box (long values shortened)."""
    parts = []
    for key, value in params.items():
        text = repr(value)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        parts.append(f"`{key}={text}`")
    return " · ".join(parts) if parts else "none (the notebook's defaults)"


def shown_results_dir(results_dir: Any, profile: str) -> Any:
    """The results folder as the book prints it: relative to the repository. A run whose
    results lay outside the repository (an absolute path, e.g. a temporary folder) is shown
    as the profile's default folder ``results/<profile>``, where a reader's own run puts
    them; anything that is not a path string is returned unchanged."""
    if isinstance(results_dir, str) and Path(results_dir).is_absolute():
        return f"results/{profile}"
    return results_dir


def reproducibility_box(
    name: str, run_info: Mapping[str, Any], params: Mapping[str, Any], run_time: float | None
) -> str:
    """MyST Markdown of the box put under a notebook's title.

    Visible: profile, model, run time, commit and the parameters in one line each; folded:
    the parameters as code and the commands to re-run the notebook with other values. Paths
    are printed relative to the repository (:func:`shown_results_dir`).
    """
    profile = run_profile(run_info)
    params = dict(params)
    if "results_dir" in params:
        params["results_dir"] = shown_results_dir(params["results_dir"], profile)
    if "model_name" in params:
        model = model_label(params["model_name"])
    else:
        model = "none (this notebook loads no language model)"
    commit = (run_info or {}).get("git_commit") or "unknown"
    started = (run_info or {}).get("start")
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
