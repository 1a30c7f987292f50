"""The report layer: :mod:`.verdicts` (one rule per claim, one reading per control),
:mod:`.prose` (the verdicts in words), :mod:`.tables`, :mod:`.figures` and
:mod:`.figures_experiments`, :mod:`.runinfo` (reproducibility boxes) and :mod:`.book`
(staging and building the Jupyter Book)."""
