"""The Earth-Moon circular restricted three-body problem (CR3BP).

Barycentric synodic frame, nondimensional: the Earth sits at ``(-mu, 0, 0)``, the Moon at
``(1 - mu, 0, 0)``, the unit of length is the Earth-Moon distance ``LU`` and the unit of time
``TU`` = 1 / (mean motion). Constants are the JPL Three-Body Periodic Orbit catalogue's
(docs/references.md 7.6), so catalogue initial conditions can be used as they are.

Equations of motion (Szebehely 1967)::

    x'' - 2 y' = dU/dx,   y'' + 2 x' = dU/dy,   z'' = dU/dz,
    U = (x^2 + y^2) / 2 + (1 - mu) / r1 + mu / r2

and the Jacobi constant ``C = 2 U - v^2`` (the convention of the JPL catalogue, without the
``mu (1 - mu)`` term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from farside.errors import invalid
from farside.orbit import _kernels

__all__ = [
    "EARTH_MOON",
    "CR3BPSystem",
    "jacobi_constant",
    "lagrange_points",
    "propagate",
    "propagate_stm",
    "DEFAULT_RTOL",
    "DEFAULT_ATOL",
]

#: Integration tolerances used throughout (DOP853 local error control, nondimensional).
DEFAULT_RTOL = 1e-12
DEFAULT_ATOL = 1e-12


@dataclass(frozen=True)
class CR3BPSystem:
    """Mass ratio and units of a CR3BP system.

    Attributes
    ----------
    mu : float
        Mass ratio m2 / (m1 + m2).
    lu_m : float
        Unit of length (primary-secondary distance), metres.
    tu_s : float
        Unit of time, seconds (a synodic period is 2 pi TU).
    secondary_radius_m : float
        Radius of the secondary (for impact checks).
    """

    mu: float
    lu_m: float
    tu_s: float
    secondary_radius_m: float = 1_737_100.0

    @property
    def vu_m_s(self) -> float:
        """Unit of velocity, m/s."""
        return self.lu_m / self.tu_s


#: JPL catalogue constants (docs/references.md 7.6): mu, LU = 389,703.264829278 km,
#: TU = 382,981.289129055 s, Moon radius 1737.1 km.
EARTH_MOON = CR3BPSystem(
    mu=1.215058560962404e-2,
    lu_m=389_703_264.829278,
    tu_s=382_981.289129055,
    secondary_radius_m=1_737_100.0,
)


def _check_mu(mu: float) -> float:
    mu = float(mu)
    if not (math.isfinite(mu) and 0.0 < mu <= 0.5):
        raise invalid("mu", mu, "a mass ratio in (0, 0.5]")
    return mu


def _as_states(state, n: int = 6) -> np.ndarray:
    s = np.asarray(state, dtype=np.float64)
    if s.shape[-1] != n:
        raise invalid("state.shape", s.shape, f"(..., {n}) nondimensional synodic states")
    if not np.all(np.isfinite(s)):
        raise invalid("state", "non-finite values", "finite numbers")
    return s


def jacobi_constant(state, *, mu: float = EARTH_MOON.mu) -> np.ndarray | float:
    """Jacobi constant ``C = 2 U - v^2`` of synodic state(s) ``(..., 6)``; broadcasts."""
    mu = _check_mu(mu)
    s = _as_states(state)
    x, y, z, vx, vy, vz = np.moveaxis(s, -1, 0)
    r1 = np.sqrt((x + mu) ** 2 + y**2 + z**2)
    r2 = np.sqrt((x - 1.0 + mu) ** 2 + y**2 + z**2)
    u = 0.5 * (x**2 + y**2) + (1.0 - mu) / r1 + mu / r2
    c = 2.0 * u - (vx**2 + vy**2 + vz**2)
    return float(c) if np.ndim(c) == 0 else c


def _collinear_f(x: float, mu: float) -> float:
    r1 = x + mu
    r2 = x - 1.0 + mu
    return x - (1.0 - mu) * r1 / abs(r1) ** 3 - mu * r2 / abs(r2) ** 3


def lagrange_points(*, mu: float = EARTH_MOON.mu) -> dict[str, np.ndarray]:
    """The five Lagrange points as synodic positions ``{"L1": array([x, y, z]), ...}``.

    The collinear points solve ``dU/dx = 0`` on the x axis (Brent's method to 1e-15).
    """
    mu = _check_mu(mu)
    eps = 1e-9
    l1 = brentq(_collinear_f, -mu + eps, 1.0 - mu - eps, args=(mu,), xtol=1e-16, rtol=1e-15)
    l2 = brentq(_collinear_f, 1.0 - mu + eps, 2.0, args=(mu,), xtol=1e-16, rtol=1e-15)
    l3 = brentq(_collinear_f, -2.0, -mu - eps, args=(mu,), xtol=1e-16, rtol=1e-15)
    h = math.sqrt(3.0) / 2.0
    return {
        "L1": np.array([l1, 0.0, 0.0]),
        "L2": np.array([l2, 0.0, 0.0]),
        "L3": np.array([l3, 0.0, 0.0]),
        "L4": np.array([0.5 - mu, h, 0.0]),
        "L5": np.array([0.5 - mu, -h, 0.0]),
    }


def _check_tol(rtol: float, atol: float) -> None:
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(v) and 1e-15 <= v <= 1e-3):
            raise invalid(name, v, "a tolerance in [1e-15, 1e-3]")


def propagate(state0, times, *, mu: float = EARTH_MOON.mu, rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL) -> np.ndarray:
    """Synodic states ``(len(times), 6)`` at nondimensional ``times`` from ``state0`` at t = 0.

    ``times`` must be sorted and all of one sign (forward or backward propagation).
    """
    mu = _check_mu(mu)
    _check_tol(rtol, atol)
    s0 = _as_states(state0).reshape(6)
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if not np.all(np.isfinite(t)):
        raise invalid("times", "non-finite values", "finite nondimensional times")
    if t.size and not (np.all(np.diff(t) >= 0) and (np.all(t >= 0) or np.all(t <= 0))):
        if not (np.all(np.diff(t) <= 0) and np.all(t <= 0)):
            raise invalid("times", "unsorted or mixed-sign", "sorted times all >= 0 (or all <= 0, decreasing)")
    return _kernels.propagate(mu, s0, t, rtol, atol)


def propagate_stm(state0, t: float, *, mu: float = EARTH_MOON.mu, rtol: float = DEFAULT_RTOL,
                  atol: float = DEFAULT_ATOL) -> tuple[np.ndarray, np.ndarray]:
    """State and 6x6 state transition matrix at time ``t`` from ``state0`` (Phi(0) = I)."""
    mu = _check_mu(mu)
    _check_tol(rtol, atol)
    s0 = np.concatenate([_as_states(state0).reshape(6), np.eye(6).ravel()])
    t = float(t)
    if not math.isfinite(t):
        raise invalid("t", t, "a finite nondimensional time")
    out = _kernels.propagate(mu, s0, np.array([t]), rtol, atol)[0]
    return out[:6].copy(), out[6:].reshape(6, 6).copy()
