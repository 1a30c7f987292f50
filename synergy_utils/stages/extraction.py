"""Extraction stage: what a recording looks like before any ΦID (persistence, activity).

Works on :class:`~synergy_utils.series.HeadSeries` (numpy); the recording itself is done by
:func:`synergy_utils.lm.recording.record_head_series`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..phiid import lag_correlation
from ..series import HeadSeries


def head_persistence(series: HeadSeries, tau: int = 1) -> np.ndarray:
    """(n_layers, n_heads) lag-``tau`` autocorrelation of each head, mean over prompts."""
    with np.errstate(invalid="ignore"):
        rho = lag_correlation(series.values, tau, axis=1)  # (prompt, layer, head)
    return _nanmean(rho, axis=0)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def layer_mean_activity(series: HeadSeries) -> np.ndarray:
    """Mean value per layer (over prompts, steps and heads), shape (n_layers,)."""
    return np.nanmean(series.values, axis=(0, 1, 3)).astype(np.float64)


def extraction_summary(series: HeadSeries, seconds: float | None = None) -> dict[str, Any]:
    """Headline numbers of a recording for ``summary.json`` (key ``extraction``).

    ``seconds`` is the wall time of the recording call (default: the one in the metadata).
    ``tokens_per_second`` is generated tokens over decoding time, counting the time stored
    with prompts loaded from the cache, so a resumed run reports the original speed.
    """
    meta = series.metadata
    rho = head_persistence(series)  # (layers, heads)
    layer_rho = _nanmean(rho, axis=1)
    return {
        "model": meta.get("model"),
        "n_prompts": series.n_prompts,
        "n_tokens": series.n_steps,
        "n_tokens_total": int(np.isfinite(series.values[:, :, 0, 0]).sum()),
        "n_layers": series.n_layers,
        "n_heads": series.n_heads,
        "reduction": meta.get("reduction"),
        "template": meta.get("template"),
        "seconds": float(seconds if seconds is not None else meta.get("seconds", np.nan)),
        "compute_seconds": meta.get("compute_seconds"),
        "tokens_per_second": meta.get("tokens_per_second"),
        "n_cached": meta.get("n_cached", 0),
        "n_eos_stopped": meta.get("n_eos_stopped", 0),
        "mean_lag1_autocorrelation": float(np.nanmean(rho)),
        "median_lag1_autocorrelation": float(np.nanmedian(rho)),
        "most_persistent_layer": int(np.nanargmax(layer_rho)),
        "provenance": meta.get("provenance"),
    }
