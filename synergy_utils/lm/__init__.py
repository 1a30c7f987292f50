"""The language-model layer: the only code of the package that imports torch and transformers.

:mod:`.architectures` (where each family keeps its heads), :mod:`.loading` (bundled GGUF
models, hub ids, local folders), :mod:`.decoding` (templates, greedy decoding),
:mod:`.recording` (per-head series while generating), :mod:`.interventions` (ablation,
model copies), :mod:`.teacher_forcing` (continuations fed back, per-token KL).
"""
