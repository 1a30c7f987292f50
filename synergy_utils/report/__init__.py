"""The report layer: :mod:`.claims` (one module per claim: its verdict rule and its wording),
:mod:`.verdicts` (the verdict words and the readings of the controls), :mod:`.prose`,
:mod:`.tables`, :mod:`.figures` (with :mod:`.figures_phase` and :mod:`.figures_ablation`),
:mod:`.runinfo` (reproducibility boxes) and :mod:`.book` (staging and building the book)."""
