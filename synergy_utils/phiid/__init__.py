"""Integrated Information Decomposition (ΦID) of pairs of time series, for all pairs at once.

Conventions
-----------
A pair is a *source* node ``x`` and a *target* node ``y`` observed over ``T`` time steps, lag
``tau``. The four variables are ``X1 = x_t``, ``X2 = y_t`` (the past) and ``Y1 = x_{t+tau}``,
``Y2 = y_{t+tau}`` (the future), over ``n = T - tau`` samples. The time-delayed mutual
information ``I(X1 X2; Y1 Y2)`` splits into the 16 atoms of :data:`ATOMS`, named ``αtβ`` with
α (past) and β (future) in ``r`` (redundant), ``x`` / ``y`` (unique to one node) and ``s``
(synergistic).

Two redundancy functions: the minimum mutual information (MMI, ``redundancy="mmi"``), and
Ince's common change in surprisal (CCS, ``redundancy="ccs"``), defined on *local*
(per-time-step) mutual informations as in the published ΦID toolbox (Mediano et al.;
Luppi et al. 2022). The sixteen "knowns" (nine mutual informations, six redundancies and
the double redundancy) are each the sum of the atoms below them on the product lattice;
:func:`solve_lattice` inverts that triangular system (per time step for local atoms).

Estimators and units
--------------------
* ``"gaussian"`` (default): Gaussian mutual information from the sample correlation matrix,
  in **nats**. With the sample mean and covariance, the time average of the local
  (per-time-step) MMI atoms equals the closed form from the covariance exactly, so all pairs
  need only the window correlations and small determinants per pair; CCS needs the local
  values at every time step (its sign rules act on them), which the compiled engine forms
  from the same correlations and the standardised series.
* ``"discrete"``: each series binarised at its mean (``x > mean`` → 1), plug-in mutual
  information of the empirical distribution, in **bits**.

Engines: ``engine="numba"`` (default), fused compiled kernels for MMI and CCS, parallel
over pairs and over the items of a stack, with ``device="cuda"`` for an NVIDIA GPU; and
``engine="numpy"``, the vectorised MMI closed form, kept as the reference. ``select`` may
name the derived measures of :data:`DERIVED` (TDMI, Φ_WMS, Φ_R) beside atoms. Every series
is standardised first, so results do not depend on its scale.

Degenerate pairs (a constant series in either time window, an exactly collinear pair, a
series perfectly predictable from its own past) have a singular correlation matrix: they are
returned as NaN and counted in one :class:`DegeneratePairsWarning`.

Modules: :mod:`.lattice` (atoms, knowns, Möbius inversion, MMI and CCS knowns),
:mod:`.gaussian` and :mod:`.discrete` (the numpy estimators), :mod:`._kernels` and
:mod:`._cuda` (the compiled engine), :mod:`.engine` (all pairs, one pair, stacks),
:mod:`.measures` (derived quantities), :mod:`.systems` (population values and toy systems).
This subpackage imports numpy, scipy and numba only; it knows nothing of language models.
"""

from ._batched import DERIVED, configure_threading
from ._checks import CONSTANT_RTOL, DET_TOL, UNITS, DegeneratePairsWarning
from .engine import phiid_pair, phiid_pairwise, phiid_pairwise_slow, phiid_pairwise_stack
from .lattice import (
    ATOM_INDEX,
    ATOMS,
    KNOWNS,
    LATTICE_MATRIX,
    MI_TERMS,
    MOBIUS,
    SWAP_PERMUTATION,
    ccs_knowns,
    mmi_knowns,
    solve_lattice,
)
from .measures import (
    gaussian_self_information,
    lag_correlation,
    phi_r,
    phi_wms,
    self_information,
    tdmi,
    transfer_entropy,
)
from .systems import (
    TOY_SYSTEMS,
    gaussian_atoms_from_covariance,
    independent_ar1_sweep,
    independent_ar1_synergy,
    simulate_var1,
    toy_system,
    var1_lagged_covariance,
    var1_population_atoms,
)

configure_threading()  # numba's workqueue layer unless the user chose one (see _batched)

__all__ = [
    "ATOMS",
    "ATOM_INDEX",
    "CONSTANT_RTOL",
    "DET_TOL",
    "KNOWNS",
    "MI_TERMS",
    "LATTICE_MATRIX",
    "MOBIUS",
    "SWAP_PERMUTATION",
    "UNITS",
    "DegeneratePairsWarning",
    "DERIVED",
    "solve_lattice",
    "mmi_knowns",
    "ccs_knowns",
    "phiid_pairwise",
    "phiid_pair",
    "phiid_pairwise_stack",
    "phiid_pairwise_slow",
    "tdmi",
    "transfer_entropy",
    "phi_r",
    "phi_wms",
    "lag_correlation",
    "gaussian_self_information",
    "self_information",
    "gaussian_atoms_from_covariance",
    "var1_lagged_covariance",
    "var1_population_atoms",
    "simulate_var1",
    "toy_system",
    "TOY_SYSTEMS",
    "independent_ar1_synergy",
    "independent_ar1_sweep",
]
