"""Population values of Gaussian systems and simulated toy systems with known atoms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from .engine import phiid_pair
from .lattice import _MI_SUBSETS, ATOMS, mmi_knowns, solve_lattice


def gaussian_atoms_from_covariance(cov: Any) -> dict[str, float]:
    """Exact MMI-ΦID atoms (nats) of a Gaussian from the 4x4 covariance of (X1, X2, Y1, Y2).

    Uses log-determinants of the covariance blocks and :func:`solve_lattice` (no sampling);
    for population values such as those of a VAR(1) process.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (4, 4):
        raise ValueError(f"cov must be 4x4 over (X1, X2, Y1, Y2), got {cov.shape}")

    def logdet(subset: tuple[int, ...]) -> float:
        sign, value = np.linalg.slogdet(cov[np.ix_(subset, subset)])
        if sign <= 0:
            raise ValueError("covariance is singular or not positive definite")
        return float(value)

    mi = np.array(
        [0.5 * (logdet(a) + logdet(b) - logdet(a + b)) for a, b in _MI_SUBSETS], dtype=float
    )
    atoms = solve_lattice(mmi_knowns(mi))
    return {name: float(atoms[k]) for k, name in enumerate(ATOMS)}


def var1_lagged_covariance(coupling: Any, noise_cov: Any | None = None, tau: int = 1) -> np.ndarray:
    """Covariance of (z_t, z_{t+tau}) for a stationary VAR(1) ``z_{t+1} = A z_t + eps``.

    ``coupling`` is the (N, N) matrix A (spectral radius < 1), ``noise_cov`` the covariance
    of eps (default identity). Returns (2N, 2N): the stationary covariance S solves the
    discrete Lyapunov equation S = A S A^T + noise_cov, and Cov(z_{t+tau}, z_t) = A^tau S.
    """
    mat = np.asarray(coupling, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"coupling must be a square matrix, got shape {mat.shape}")
    if np.max(np.abs(np.linalg.eigvals(mat))) >= 1:
        raise ValueError("coupling matrix is not stable (spectral radius >= 1)")
    noise = np.eye(mat.shape[0]) if noise_cov is None else np.asarray(noise_cov, float)
    stationary = solve_discrete_lyapunov(mat, noise)
    ahead = np.linalg.matrix_power(mat, tau) @ stationary
    return np.block([[stationary, ahead.T], [ahead, stationary]])


def var1_population_atoms(
    coupling: Any,
    noise_cov: Any | None = None,
    tau: int = 1,
    source: int = 0,
    target: int = 1,
) -> dict[str, float]:
    """Exact (population) MMI-ΦID atoms, in nats, of nodes ``source`` -> ``target`` of a
    stationary VAR(1) process (see :func:`var1_lagged_covariance`)."""
    full = var1_lagged_covariance(coupling, noise_cov, tau)
    n_nodes = full.shape[0] // 2
    idx = [source, target, n_nodes + source, n_nodes + target]
    return gaussian_atoms_from_covariance(full[np.ix_(idx, idx)])


def simulate_var1(
    coupling: Any,
    n_steps: int,
    seed: int | np.random.Generator | None = None,
    noise_cov: Any | None = None,
    burn_in: int = 500,
) -> np.ndarray:
    """Simulate ``z_{t+1} = A z_t + eps`` (Gaussian eps, covariance ``noise_cov``, default
    identity), started at 0 and run ``burn_in`` steps before recording. Returns (T, N)."""
    mat = np.asarray(coupling, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_nodes = mat.shape[0]
    noise = rng.standard_normal((n_steps + burn_in, n_nodes))
    if noise_cov is not None:
        noise = noise @ np.linalg.cholesky(np.asarray(noise_cov, float)).T
    z = np.zeros((n_steps + burn_in, n_nodes))
    for t in range(1, n_steps + burn_in):
        z[t] = mat @ z[t - 1] + noise[t]
    return z[burn_in:]


def _ar1(n_steps: int, phi: float, rng: np.random.Generator, burn_in: int = 500) -> np.ndarray:
    """Unit-variance AR(1) series x_{t+1} = phi x_t + sqrt(1 - phi^2) e_t. Shape (T,)."""
    from scipy.signal import lfilter

    noise = rng.standard_normal(n_steps + burn_in) * np.sqrt(1.0 - phi**2)
    return lfilter([1.0], [1.0, -phi], noise)[burn_in:]


#: Teaching systems of :func:`toy_system` and the atom that dominates in each.
TOY_SYSTEMS: dict[str, str] = {
    "storage": "xtx",
    "transfer": "xty",
    "synergy": "sts",
    "redundancy": "rtr",
}


def toy_system(
    kind: str,
    n_steps: int,
    coupling: float = 0.8,
    ar_coefficient: float = 0.9,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """A two-node system (T, 2) = (x, y) in which one ΦID atom dominates.

    * ``"storage"`` (xtx): x is AR(1) with coefficient ``ar_coefficient``, y white noise.
    * ``"transfer"`` (xty): x white noise, ``y_{t+1} = coupling x_t + noise``.
    * ``"synergy"`` (sts): a persistent AR(1) signal s is split between the nodes,
      ``x = u``, ``y = s - u`` with a loud white noise u (variance ``1 / (1 - coupling)``
      times that of s): only the sum x + y = s carries the past into the future.
    * ``"redundancy"`` (rtr): a common AR(1) driver seen by both nodes,
      ``x = z + e1``, ``y = z + e2`` with small noise (variance ``1 - coupling``).
    """
    rng = np.random.default_rng(seed)
    if not 0 < coupling < 1 or not 0 <= ar_coefficient < 1:
        raise ValueError("need 0 < coupling < 1 and 0 <= ar_coefficient < 1")
    if kind == "storage":
        return np.column_stack([_ar1(n_steps, ar_coefficient, rng), rng.standard_normal(n_steps)])
    if kind == "transfer":
        x = rng.standard_normal(n_steps + 1)
        y = coupling * x[:-1] + np.sqrt(1 - coupling**2) * rng.standard_normal(n_steps)
        return np.column_stack([x[1:], y])
    if kind == "synergy":
        s = _ar1(n_steps, ar_coefficient, rng)
        u = rng.standard_normal(n_steps) / np.sqrt(1.0 - coupling)
        return np.column_stack([u, s - u])
    if kind == "redundancy":
        z = _ar1(n_steps, ar_coefficient, rng)
        noise = np.sqrt(1.0 - coupling) * rng.standard_normal((n_steps, 2))
        return z[:, None] + noise
    raise ValueError(f"unknown toy system {kind!r}: choose one of {tuple(TOY_SYSTEMS)}")


def independent_ar1_synergy(phi_x: float, phi_y: float) -> dict[str, float]:
    """MMI artefact for two *independent* AR(1) series (population, nats).

    Returns the self-informations ``a_x = -0.5 ln(1 - phi_x^2)``, ``a_y``, the exact atoms
    sts and rtr of the pair, and the predicted ``2 * min(a_x, a_y)`` (Varley's result:
    MMI-ΦID reports synergy although the series are unrelated).
    """
    atoms = var1_population_atoms(np.diag([phi_x, phi_y]), np.diag([1 - phi_x**2, 1 - phi_y**2]))
    a_x = -0.5 * np.log1p(-(phi_x**2))
    a_y = -0.5 * np.log1p(-(phi_y**2))
    return {
        "a_x": float(a_x),
        "a_y": float(a_y),
        "sts": atoms["sts"],
        "rtr": atoms["rtr"],
        "two_min_a": float(2 * min(a_x, a_y)),
    }


def independent_ar1_sweep(
    phis: Sequence[float],
    n_steps: int,
    phi_partner: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """The MMI synergy artefact across AR(1) coefficients: for each ``phi``, two independent
    AR(1) series (coefficients ``phi`` and ``phi_partner``, default the same ``phi``) of
    length ``n_steps``, their estimated sts and rtr (nats), and the exact population values.

    Returns arrays keyed ``phi``, ``sts``, ``rtr`` (estimates), ``sts_exact``, ``rtr_exact``
    and ``two_min_a`` (the prediction 2 min(a_x, a_y)), each of shape (len(phis),).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for phi in phis:
        partner = phi if phi_partner is None else phi_partner
        atoms = phiid_pair(_ar1(n_steps, phi, rng), _ar1(n_steps, partner, rng))
        exact = independent_ar1_synergy(phi, partner)
        rows.append(
            (phi, atoms["sts"], atoms["rtr"], exact["sts"], exact["rtr"], exact["two_min_a"])
        )
    keys = ("phi", "sts", "rtr", "sts_exact", "rtr_exact", "two_min_a")
    return {key: np.array(col) for key, col in zip(keys, zip(*rows, strict=True), strict=True)}
