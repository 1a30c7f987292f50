"""synergy_utils: synergistic and redundant attention heads in language models, with ΦID.

The package is layered, one job per room (see the README's "Layout"):

* :mod:`synergy_utils.phiid`: the estimator (ΦID of all pairs of time series; knows no model);
* :mod:`synergy_utils.stats`: resampling, intervals, fits, false-discovery control, nulls;
* :mod:`synergy_utils.lm`: language models (loading, decoding, recording, interventions):
  the only code that imports torch;
* :mod:`synergy_utils.stages`: the analyses on labelled arrays (cores, graphs, controls,
  tasks, phase, ablation);
* :mod:`synergy_utils.report`: one verdict rule per claim, tables, figures, the book;
* :mod:`synergy_utils.pipeline`: the ``synergy`` command.

The names below are the public API, importable from the top level; they load their module
on first use, so ``import synergy_utils`` stays light (no torch until a model is needed).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    # estimator
    "ATOMS": "synergy_utils.phiid",
    "phiid_pairwise": "synergy_utils.phiid",
    "phiid_pair": "synergy_utils.phiid",
    "phiid_pairwise_stack": "synergy_utils.phiid",
    "self_information": "synergy_utils.phiid",
    # language models
    "load_model": "synergy_utils.lm.loading",
    "record_head_series": "synergy_utils.lm.recording",
    # data
    "HeadSeries": "synergy_utils.series",
    # stages
    "head_atom_scores": "synergy_utils.stages.cores",
    "synergy_gradient": "synergy_utils.stages.cores",
    "layer_profile": "synergy_utils.stages.cores",
    "inverted_u": "synergy_utils.stages.cores",
    "thirds": "synergy_utils.stages.cores",
    "null_corrected_atoms": "synergy_utils.stats.pair_null",
    "simulate": "synergy_utils.simulation",
    # report: one rule per claim
    "assess_core": "synergy_utils.report.claims.core",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'synergy_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
