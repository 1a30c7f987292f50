"""The analyses of the study, on arrays and labelled xarray objects: :mod:`.extraction`
(what a recording looks like), :mod:`.cores` (all-pairs ΦID, gradient, layer profile),
:mod:`.graphs`, :mod:`.controls`, :mod:`.prompts` and :mod:`.tasks` (inputs), :mod:`.phase`
and :mod:`.ablation` (the two experiments). Stages never import the report layer."""
