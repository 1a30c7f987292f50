"""synergy_utils: synergistic and redundant attention heads in language models, with PhiID.

One module per stage of the data flow: :mod:`models` (load a causal LM), :mod:`extraction`
(per-head time series while generating), :mod:`phiid` (the estimator), :mod:`analysis`
(synergistic cores and controls), :mod:`tasks` (graded-difficulty prompts), :mod:`phase`
(phase-transition analysis), :mod:`ablation`, :mod:`plotting`, and :mod:`pipeline` (runs the
notebooks and builds the book).
"""

__version__ = "0.1.0"
