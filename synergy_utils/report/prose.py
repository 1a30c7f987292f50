"""Plain-words descriptions of the chapters that test no claim (the extraction, the primer).

The words that explain each claim's verdict live with its rule in
:mod:`synergy_utils.report.claims`. Everything here is a pure function of numbers, so tests
can check that the words change with the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..phiid import gaussian_self_information
from ..stages.extraction import head_persistence


def describe_extraction(series: Any) -> str:
    """A Markdown paragraph summarising a recording, built from its numbers."""
    meta = series.metadata
    rho_per_head = head_persistence(series)  # (layers, heads)
    median_rho = float(np.nanmedian(rho_per_head))
    share_persistent = float(np.nanmean(rho_per_head > 0.5))
    floor = 2 * float(gaussian_self_information(median_rho))
    layer_rho = np.nanmean(rho_per_head, axis=1)
    top_layer = int(np.nanargmax(layer_rho))
    n_tokens = series.n_prompts * series.n_steps
    speed = meta.get("tokens_per_second")
    speed_text = (
        f" at {speed:.1f} generated tokens per second" if isinstance(speed, (int, float)) else ""
    )
    stopped = meta.get("n_eos_stopped", 0)
    eos_text = (
        f" {stopped} prompt(s) stopped early at EOS; their series end in NaN."
        if stopped
        else " EOS was suppressed, so every series has the same length."
    )
    return (
        f"We recorded **{series.n_layers} layers × {series.n_heads} heads = "
        f"{series.n_layers * series.n_heads} head series** (reduction `{meta.get('reduction')}`)"
        f" for **{series.n_prompts} prompts × {series.n_steps} generated tokens** "
        f"({n_tokens} steps in all) from `{meta.get('model')}`{speed_text}.{eos_text} "
        f"The median head has a lag-1 autocorrelation of **{median_rho:.2f}** (averaged over "
        f"prompts), and {100 * share_persistent:.0f}% of heads exceed 0.5; layer {top_layer} "
        f"is the most persistent (mean {layer_rho[top_layer]:.2f}). Under the Gaussian MMI "
        f"estimator, two *independent* series with the median autocorrelation would already "
        f"show a synergy of about **{floor:.3f} nats** (2 × the lag-1 "
        f"self-information), so synergy values must be read against this floor."
    )


def pitfall_sentence(
    phi: float, sts_estimate: float, prediction: float, units: str = "nats"
) -> str:
    """One sentence reporting the MMI autocorrelation artefact for two independent AR(1)
    series with coefficient ``phi``."""
    return (
        f"Two independent AR(1) series with coefficient {phi:.2f} share no information, yet "
        f"MMI-ΦID reports a synergy sts = {sts_estimate:.3f} {units}; the artefact predicted "
        f"from their self-predictability, 2·min(a_x, a_y), is {prediction:.3f} {units}."
    )
