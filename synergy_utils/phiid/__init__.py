"""Integrated Information Decomposition (ΦID) of pairs of time series, for all pairs at once.

Conventions
-----------
A pair is a *source* node ``x`` and a *target* node ``y`` observed over ``T`` time steps, lag
``tau``. The four variables are ``X1 = x_t``, ``X2 = y_t`` (the past) and ``Y1 = x_{t+tau}``,
``Y2 = y_{t+tau}`` (the future), over ``n = T - tau`` samples. The time-delayed mutual
information ``I(X1 X2; Y1 Y2)`` splits into the 16 atoms of :data:`ATOMS`, named ``αtβ`` with
α (past) and β (future) in ``r`` (redundant), ``x`` / ``y`` (unique to one node) and ``s``
(synergistic).

Redundancy is the minimum mutual information (MMI). The sixteen "knowns" (nine mutual
informations, six MMI redundancies and the double redundancy) are each the sum of the atoms
below them on the product lattice; :func:`solve_lattice` inverts that triangular system.

Estimators and units
--------------------
* ``"gaussian"`` (default): Gaussian mutual information from the sample correlation matrix,
  in **nats**. With the sample mean and covariance, the time average of the local
  (per-time-step) atoms equals the closed form from the covariance exactly, so all pairs need
  only three N×N correlation products and small determinants per pair.
* ``"discrete"``: each series binarised at its mean (``x > mean`` → 1), plug-in mutual
  information of the empirical distribution, in **bits**.

Degenerate pairs (a constant series in either time window, an exactly collinear pair, a
series perfectly predictable from its own past) have a singular correlation matrix: they are
returned as NaN and counted in one :class:`DegeneratePairsWarning`.

Modules: :mod:`.lattice` (atoms, knowns, Möbius inversion), :mod:`.gaussian` and
:mod:`.discrete` (the two estimators), :mod:`.engine` (all pairs, one pair, stacks),
:mod:`.measures` (derived quantities), :mod:`.systems` (population values and toy systems).
This subpackage imports numpy and scipy only; it knows nothing of language models.
"""

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
    mmi_knowns,
    solve_lattice,
)
from .measures import (
    atoms_as_dataarray,
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
    pitfall_sentence,
    simulate_var1,
    toy_system,
    var1_lagged_covariance,
    var1_population_atoms,
)

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
    "solve_lattice",
    "mmi_knowns",
    "phiid_pairwise",
    "phiid_pair",
    "phiid_pairwise_stack",
    "phiid_pairwise_slow",
    "tdmi",
    "transfer_entropy",
    "phi_r",
    "phi_wms",
    "atoms_as_dataarray",
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
    "pitfall_sentence",
]
