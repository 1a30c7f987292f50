"""Statistics shared by every stage: resampling and intervals (:mod:`.resampling`), fits
(:mod:`.fits`) and surrogate nulls (:mod:`.nulls`). Imports numpy and scipy only."""
