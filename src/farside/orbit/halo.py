"""Halo orbits of the CR3BP: third-order seeds, differential correction, family continuation.

* Seeds: Richardson's third-order analytic halo solution (Richardson 1980, Celest. Mech. 22:241;
  the coefficient set as given by Koon, Lo, Marsden & Ross, "Dynamical Systems, the Three-Body
  Problem and Space Mission Design", 2011, section 6.8).
* Correction: the symmetric single-shooting corrector of Howell (1984, Celest. Mech. 32:53):
  from ``[x0, 0, z0, 0, vy0, 0]`` integrate to the next x-z plane crossing and drive ``vx`` and
  ``vz`` there to zero. The free variables are ``(x0, z0, vy0)``; the third equation fixes the
  family member: ``x0``, ``z0``, the Z amplitude, the Jacobi constant, the period, or (during
  continuation) a pseudo-arclength step. Newton's method with the STM-based Jacobian; the
  dependence of the crossing time on the initial state is included.
* Continuation: pseudo-arclength along the family (Keller), the tangent being the null vector of
  the 2 x 3 Jacobian of the crossing conditions, with the step adapted to Newton's effort.

Conventions: ``state0`` is the x-z plane crossing where ``|z|`` is largest (for the L2 northern
family this is the crossing beyond L2, as in the JPL catalogue); northern members have
``z0 > 0``; southern members are their ``z -> -z`` mirror images. ``az_km`` is the largest
``|z|`` along the orbit (reached at one of the two x-z crossings), times LU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from farside.errors import PhysicsError, invalid
from farside.orbit import _kernels
from farside.orbit.cr3bp import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    EARTH_MOON,
    CR3BPSystem,
    jacobi_constant,
    lagrange_points,
    propagate,
)

__all__ = [
    "HaloOrbit",
    "HaloFamily",
    "halo_orbit",
    "halo_family",
    "correct_halo",
    "richardson_guess",
]

LibrationPoint = Literal["L1", "L2"]
Branch = Literal["north", "south"]
_FIXES = ("x", "z", "az", "jacobi", "period")

#: Newton tolerance on the crossing conditions |vx|, |vz| at the half period (nondimensional).
CORRECTOR_TOL = 1e-12
_TMAX = 20.0
_EYE6 = np.eye(6).ravel()


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HaloOrbit:
    """One periodic halo orbit of a CR3BP system.

    Attributes
    ----------
    state0 : (6,) array
        Nondimensional synodic state ``[x, 0, z, 0, vy, 0]`` at the x-z plane crossing of
        largest ``|z|``.
    period : float
        Nondimensional period (TU).
    libration_point, branch : str
        ``"L1"``/``"L2"`` and ``"north"``/``"south"``.
    system : CR3BPSystem
        Mass ratio and units (JPL catalogue constants by default).
    """

    state0: np.ndarray
    period: float
    libration_point: str = "L2"
    branch: str = "north"
    system: CR3BPSystem = EARTH_MOON
    _table: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def period_s(self) -> float:
        return self.period * self.system.tu_s

    @property
    def period_days(self) -> float:
        return self.period_s / 86400.0

    @property
    def jacobi(self) -> float:
        return float(jacobi_constant(self.state0, mu=self.system.mu))

    @property
    def az_km(self) -> float:
        """Largest |z| along the orbit, km."""
        half = self._half_state()
        return max(abs(self.state0[2]), abs(half[2])) * self.system.lu_m / 1e3

    @property
    def ax_km(self) -> float:
        """Half the x extent of the orbit, km (from the two x-z crossings)."""
        half = self._half_state()
        return 0.5 * abs(self.state0[0] - half[0]) * self.system.lu_m / 1e3

    def _half_state(self) -> np.ndarray:
        if "half" not in self._table:
            self._table["half"] = propagate(self.state0, [0.5 * self.period], mu=self.system.mu)[0]
        return self._table["half"]

    def closure_error(self) -> float:
        """Max-norm difference between the state after one period and ``state0``."""
        end = propagate(self.state0, [self.period], mu=self.system.mu)[0]
        return float(np.max(np.abs(end - self.state0)))

    def monodromy(self) -> np.ndarray:
        """The 6x6 state transition matrix over one period."""
        s = np.concatenate([self.state0, _EYE6])
        out = _kernels.propagate(self.system.mu, s, np.array([self.period]), DEFAULT_RTOL, DEFAULT_ATOL)[0]
        return out[6:].reshape(6, 6)

    def stability_index(self) -> float:
        """``(|lambda_max| + 1/|lambda_max|) / 2`` of the monodromy eigenvalues (JPL's definition)."""
        lam = np.max(np.abs(np.linalg.eigvals(self.monodromy())))
        return float(0.5 * (lam + 1.0 / lam))

    def sample(self, n: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """``n`` equally spaced times over one period and the states there: ``(t (n,), states (n, 6))``."""
        if not (isinstance(n, (int, np.integer)) and n >= 2):
            raise invalid("n", n, "an integer >= 2")
        t = np.linspace(0.0, self.period, int(n), endpoint=False)
        return t, propagate(self.state0, t, mu=self.system.mu)

    def states(self, t) -> np.ndarray:
        """Synodic states ``(..., 6)`` at nondimensional times ``t`` (any real values; the orbit is
        periodic). Cubic Hermite interpolation of a 2048-point table of one period (position
        error below 1e-11 LU, i.e. millimetres)."""
        t = np.asarray(t, dtype=np.float64)
        if not np.all(np.isfinite(t)):
            raise invalid("t", "non-finite values", "finite nondimensional times")
        if "dense" not in self._table:
            n = 2048
            tt = np.linspace(0.0, self.period, n + 1)
            st = propagate(self.state0, tt, mu=self.system.mu)
            st[-1] = st[0]  # exact periodicity of the table
            acc = np.empty_like(st)
            for k in range(n + 1):
                d = np.empty(6)
                _kernels.rhs(self.system.mu, st[k], d)
                acc[k] = d
            self._table["dense"] = (tt, st, acc)
        tt, st, acc = self._table["dense"]
        n = tt.size - 1
        h = self.period / n
        u = np.mod(t, self.period) / h
        k = np.minimum(np.floor(u).astype(np.intp), n - 1)
        s = (u - k)[..., None]
        y0, y1 = st[k], st[k + 1]
        d0, d1 = acc[k] * h, acc[k + 1] * h
        s2, s3 = s * s, s * s * s
        h00 = 2 * s3 - 3 * s2 + 1
        h10 = s3 - 2 * s2 + s
        h01 = -2 * s3 + 3 * s2
        h11 = s3 - s2
        return h00 * y0 + h10 * d0 + h01 * y1 + h11 * d1

    def mirrored(self) -> "HaloOrbit":
        """The other branch: ``z -> -z``."""
        s = self.state0.copy()
        s[2] = 0.0 - s[2]
        s[5] = 0.0 - s[5]
        other = "south" if self.branch == "north" else "north"
        return HaloOrbit(s, self.period, self.libration_point, other, self.system)

    def __repr__(self) -> str:
        return (f"HaloOrbit({self.libration_point} {self.branch}, Az={self.az_km:.1f} km, "
                f"T={self.period_days:.4f} d, C={self.jacobi:.10f})")


@dataclass(frozen=True, eq=False)
class HaloFamily:
    """Members of a halo family from continuation, ordered along the family.

    Arrays have one row per member: ``state0 (n, 6)``, ``period (n,)``, ``jacobi (n,)``,
    ``az_km (n,)``, ``closure (n,)`` (max-norm state error after one period).
    """

    libration_point: str
    branch: str
    state0: np.ndarray
    period: np.ndarray
    jacobi: np.ndarray
    az_km: np.ndarray
    closure: np.ndarray
    system: CR3BPSystem = EARTH_MOON

    def __len__(self) -> int:
        return int(self.period.size)

    def member(self, i: int) -> HaloOrbit:
        return HaloOrbit(self.state0[i].copy(), float(self.period[i]), self.libration_point,
                         self.branch, self.system)


# --------------------------------------------------------------------------------------------
# Richardson third-order seed
# --------------------------------------------------------------------------------------------
def _gamma(point: str, mu: float) -> float:
    lp = lagrange_points(mu=mu)
    return abs(lp[point][0] - (1.0 - mu))


def richardson_guess(*, libration_point: LibrationPoint = "L2", branch: Branch = "north",
                     az_km: float, system: CR3BPSystem = EARTH_MOON) -> tuple[np.ndarray, float]:
    """Richardson's third-order approximation: ``(state (6,), period)`` at an x-z crossing.

    Approximate only (a few percent in state for Az ~ 10^4 km in the Earth-Moon system): use it
    to seed :func:`correct_halo`.
    """
    _check_point_branch(libration_point, branch)
    mu = system.mu
    g = _gamma(libration_point, mu)
    if libration_point == "L1":
        def cn(n):  # noqa: E306
            return (mu + (-1) ** n * (1 - mu) * g ** (n + 1) / (1 - g) ** (n + 1)) / g**3
    else:
        def cn(n):  # noqa: E306
            return ((-1) ** n * (mu + (1 - mu) * g ** (n + 1) / (1 + g) ** (n + 1))) / g**3
    c2, c3, c4 = cn(2), cn(3), cn(4)
    lam = math.sqrt(0.5 * (2 - c2 + math.sqrt((c2 - 2) ** 2 + 4 * (c2 - 1) * (1 + 2 * c2))))
    k = (lam**2 + 1 + 2 * c2) / (2 * lam)
    delta = lam**2 - c2
    d1 = 3 * lam**2 / k * (k * (6 * lam**2 - 1) - 2 * lam)
    d2 = 8 * lam**2 / k * (k * (11 * lam**2 - 1) - 2 * lam)
    a21 = 3 * c3 * (k**2 - 2) / (4 * (1 + 2 * c2))
    a22 = 3 * c3 / (4 * (1 + 2 * c2))
    a23 = -3 * c3 * lam / (4 * k * d1) * (3 * k**3 * lam - 6 * k * (k - lam) + 4)
    a24 = -3 * c3 * lam / (4 * k * d1) * (2 + 3 * k * lam)
    b21 = -3 * c3 * lam / (2 * d1) * (3 * k * lam - 4)
    b22 = 3 * c3 * lam / d1
    d21 = -c3 / (2 * lam**2)
    a31 = (-9 * lam / (4 * d2) * (4 * c3 * (k * a23 - b21) + k * c4 * (4 + k**2))
           + (9 * lam**2 + 1 - c2) / (2 * d2) * (3 * c3 * (2 * a23 - k * b21) + c4 * (2 + 3 * k**2)))
    a32 = -1 / d2 * (9 * lam / 4 * (4 * c3 * (k * a24 - b22) + k * c4)
                     + 1.5 * (9 * lam**2 + 1 - c2) * (c3 * (k * b22 + d21 - 2 * a24) - c4))
    b31 = 3 / (8 * d2) * (8 * lam * (3 * c3 * (k * b21 - 2 * a23) - c4 * (2 + 3 * k**2))
                          + (9 * lam**2 + 1 + 2 * c2) * (4 * c3 * (k * a23 - b21) + k * c4 * (4 + k**2)))
    b32 = 1 / d2 * (9 * lam * (c3 * (k * b22 + d21 - 2 * a24) - c4)
                    + 3 / 8 * (9 * lam**2 + 1 + 2 * c2) * (4 * c3 * (k * a24 - b22) + k * c4))
    d31 = 3 / (64 * lam**2) * (4 * c3 * a24 + c4)
    d32 = 3 / (64 * lam**2) * (4 * c3 * (a23 - d21) + c4 * (4 + k**2))
    den = 2 * lam * (lam * (1 + k**2) - 2 * k)
    s1 = (1.5 * c3 * (2 * a21 * (k**2 - 2) - a23 * (k**2 + 2) - 2 * k * b21)
          - 3 / 8 * c4 * (3 * k**4 - 8 * k**2 + 8)) / den
    s2 = (1.5 * c3 * (2 * a22 * (k**2 - 2) + a24 * (k**2 + 2) + 2 * k * b22 + 5 * d21)
          + 3 / 8 * c4 * (12 - k**2)) / den
    l1 = -1.5 * c3 * (2 * a21 + a23 + 5 * d21) - 3 / 8 * c4 * (12 - k**2) + 2 * lam**2 * s1
    l2 = 1.5 * c3 * (a24 - 2 * a22) + 9 / 8 * c4 + 2 * lam**2 * s2
    az = az_km * 1e3 / (g * system.lu_m)
    ax2 = -(l2 * az**2 + delta) / l1
    if ax2 <= 0:
        raise invalid("az_km", az_km, "an amplitude inside the halo family (Richardson)")
    ax = math.sqrt(ax2)
    omega = 1 + s1 * ax**2 + s2 * az**2
    period = 2 * math.pi / (lam * omega)
    dm = 1.0
    out = []
    for tau1 in (0.0, math.pi):
        c1, c2_, c3_ = math.cos(tau1), math.cos(2 * tau1), math.cos(3 * tau1)
        x = (a21 * ax**2 + a22 * az**2 - ax * c1 + (a23 * ax**2 - a24 * az**2) * c2_
             + (a31 * ax**3 - a32 * ax * az**2) * c3_)
        z = dm * az * c1 + dm * d21 * ax * az * (c2_ - 3) + dm * (d32 * az * ax**2 - d31 * az**3) * c3_
        s1_, s3_ = math.sin(tau1), math.sin(3 * tau1)
        c1d = math.cos(tau1)
        # dy/dtau1 at sin(tau1) = 0: k Ax cos + 2 (b21 Ax^2 - b22 Az^2) cos 2 + 3 (b31..) cos 3
        ydot = lam * omega * (k * ax * c1d + 2 * (b21 * ax**2 - b22 * az**2) * c2_
                              + 3 * (b31 * ax**3 - b32 * ax * az**2) * c3_)
        del s1_, s3_
        # Richardson's axes at L1/L2: x points away from the Moon at L2 and towards it at L1
        # (origin at the libration point, unit gamma). Barycentric synodic:
        if libration_point == "L2":
            X = 1 - mu + g + g * x
            VY = g * ydot
        else:
            X = 1 - mu - g + g * x
            VY = g * ydot
        out.append(np.array([X, 0.0, g * z, 0.0, VY, 0.0]))
    st = max(out, key=lambda s: abs(s[2]))
    # The class (m = 1 or 3) that puts the larger excursion north depends on the axis
    # conventions; the mirror symmetry z -> -z makes the branch a sign choice.
    if (st[2] < 0) == (branch == "north"):
        st[2] = -st[2]
    return st, period


# --------------------------------------------------------------------------------------------
# Differential correction
# --------------------------------------------------------------------------------------------
def _check_point_branch(point: str, branch: str) -> None:
    if point not in ("L1", "L2"):
        raise invalid("libration_point", point, "'L1' or 'L2'")
    if branch not in ("north", "south"):
        raise invalid("branch", branch, "'north' or 'south'")


def _half(mu: float, p: np.ndarray, rtol: float, atol: float):
    """Half-period map of the free variables p = (x0, z0, vy0): (t_half, state_half, dS/dp)."""
    s0 = np.concatenate([[p[0], 0.0, p[1], 0.0, p[2], 0.0], _EYE6])
    th, sh = _kernels.to_xz_crossing(mu, s0, 1, rtol, atol, _TMAX)
    if th <= 0.0:
        raise PhysicsError("halo corrector: no x-z plane crossing within 20 TU (the guess is not near a halo orbit)")
    phi = sh[6:].reshape(6, 6)[:, [0, 2, 4]]
    f = np.empty(6)
    _kernels.rhs(mu, sh[:6], f)
    dtdp = -phi[1] / f[1]
    dsdp = phi + np.outer(f, dtdp)
    return th, sh[:6], dsdp, dtdp


def _dC_dp(mu: float, p: np.ndarray) -> np.ndarray:
    x, z, vy = p
    r1 = math.sqrt((x + mu) ** 2 + z**2)
    r2 = math.sqrt((x - 1 + mu) ** 2 + z**2)
    ux = x - (1 - mu) * (x + mu) / r1**3 - mu * (x - 1 + mu) / r2**3
    uz = -(1 - mu) * z / r1**3 - mu * z / r2**3
    return np.array([2 * ux, 2 * uz, -2 * vy])


def _newton(mu, p, fix, target, rtol, atol, max_iter, tangent=None, p_prev=None, ds=None):
    """Newton on (vx_half, vz_half, g(p) - target). Returns (p, t_half, iterations)."""
    p = np.array(p, dtype=float)
    for it in range(1, max_iter + 1):
        th, sh, dsdp, dtdp = _half(mu, p, rtol, atol)
        F = np.empty(3)
        J = np.empty((3, 3))
        F[0], F[1] = sh[3], sh[5]
        J[0], J[1] = dsdp[3], dsdp[5]
        if fix == "x":
            F[2], J[2] = p[0] - target, (1.0, 0.0, 0.0)
        elif fix == "z":
            F[2], J[2] = p[1] - target, (0.0, 1.0, 0.0)
        elif fix == "jacobi":
            F[2] = jacobi_constant(np.array([p[0], 0, p[1], 0, p[2], 0]), mu=mu) - target
            J[2] = _dC_dp(mu, p)
        elif fix == "period":
            F[2], J[2] = 2 * th - target, 2 * dtdp
        elif fix == "az":
            if abs(p[1]) >= abs(sh[2]):
                F[2], J[2] = abs(p[1]) - target, (0.0, math.copysign(1.0, p[1]), 0.0)
            else:
                F[2], J[2] = abs(sh[2]) - target, math.copysign(1.0, sh[2]) * dsdp[2]
        elif fix == "arclength":
            F[2], J[2] = float(tangent @ (p - p_prev)) - ds, tangent
        if abs(F[0]) < CORRECTOR_TOL and abs(F[1]) < CORRECTOR_TOL and abs(F[2]) < 1e-13 and it > 1:
            return p, th, it
        try:
            dp = np.linalg.solve(J, -F)
        except np.linalg.LinAlgError:
            raise PhysicsError(f"halo corrector: singular Jacobian with fix={fix!r}; try another fix") from None
        # Damp absurd steps (keeps Newton inside the basin for poor seeds).
        nrm = np.max(np.abs(dp))
        if nrm > 0.05:
            dp *= 0.05 / nrm
        p = p + dp
        if not np.all(np.isfinite(p)):
            break
    raise PhysicsError(f"halo corrector did not converge in {max_iter} iterations (fix={fix!r}, target={target!r})")


def correct_halo(state_guess, *, fix: str = "z", target: float | None = None,
                 system: CR3BPSystem = EARTH_MOON, libration_point: LibrationPoint = "L2",
                 max_iter: int = 40, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> HaloOrbit:
    """Differentially correct ``state_guess`` (``[x, 0, z, 0, vy, 0]`` or 6 values whose y, vx, vz
    are ignored) into a periodic halo orbit.

    Parameters
    ----------
    fix : {"x", "z", "az", "jacobi", "period"}
        Which quantity pins the family member. ``target`` is its value (nondimensional; ``az`` in
        LU); by default the guess's own ``x``, ``z``, Jacobi constant or ``|z|``; required for
        ``"period"``.
    """
    if fix not in _FIXES:
        raise invalid("fix", fix, f"one of {_FIXES}")
    if libration_point not in ("L1", "L2"):
        raise invalid("libration_point", libration_point, "'L1' or 'L2'")
    s = np.asarray(state_guess, dtype=float)
    if s.shape != (6,) or not np.all(np.isfinite(s)):
        raise invalid("state_guess", s.tolist() if s.size < 10 else s.shape, "6 finite nondimensional values")
    p = np.array([s[0], s[2], s[4]])
    if target is None:
        if fix == "period":
            raise invalid("target", None, "a period (TU) when fix='period'")
        target = {"x": p[0], "z": p[1], "az": abs(p[1]),
                  "jacobi": jacobi_constant(s * np.array([1, 0, 1, 0, 1, 0]), mu=system.mu)}[fix]
    target = float(target)
    if not math.isfinite(target):
        raise invalid("target", target, "a finite number")
    p, th, _ = _newton(system.mu, p, fix, target, rtol, atol, max_iter)
    return _finish(system, p, th, libration_point, rtol, atol)


def _finish(system, p, th, point, rtol, atol) -> HaloOrbit:
    """Build the HaloOrbit, moving state0 to the crossing of largest |z|."""
    s0 = np.array([p[0], 0.0, p[1], 0.0, p[2], 0.0])
    sh = _kernels.to_xz_crossing(system.mu, s0, 1, rtol, atol, _TMAX)[1]
    if abs(sh[2]) > abs(s0[2]):
        s0 = np.array([sh[0], 0.0, sh[2], 0.0, sh[4], 0.0])
    branch = "north" if s0[2] >= 0 else "south"
    return HaloOrbit(s0, 2.0 * th, point, branch, system)


# --------------------------------------------------------------------------------------------
# Continuation
# --------------------------------------------------------------------------------------------
def _tangent(mu, p, rtol, atol, prev=None):
    _, _, dsdp, _ = _half(mu, p, rtol, atol)
    J = np.vstack([dsdp[3], dsdp[5]])
    _, _, vt = np.linalg.svd(J)
    t = vt[-1]
    if prev is not None and t @ prev < 0:
        t = -t
    return t


def halo_family(*, libration_point: LibrationPoint = "L2", branch: Branch = "north",
                n_members: int = 200, az_km_start: float = 5000.0, step: float = 4e-3,
                min_perilune_km: float = 0.0,
                system: CR3BPSystem = EARTH_MOON, rtol: float = DEFAULT_RTOL,
                atol: float = DEFAULT_ATOL) -> HaloFamily:
    """Continue a halo family by pseudo-arclength from a Richardson seed at ``az_km_start``.

    Members are spaced by ``step`` (nondimensional arclength in ``(x0, z0, vy0)``), both ways
    from the seed: down to 100 km from the planar (Lyapunov) bifurcation, and up through the
    near-rectilinear (NRHO) branch until the orbit would pass lower than ``min_perilune_km``
    above the secondary's surface (default 0: the family ends at the member whose perilune grazes
    the Moon, T ~ 1.36 TU for L2; the JPL catalogue continues below, through a point-mass Moon). Members are ordered from the near-planar end; at most ``n_members``
    are kept (from that end). The step adapts
    (halved after a failed or slow correction, grown back after easy ones) but never exceeds
    ``step``. Each member is corrected to |vx|, |vz| < 1e-12 at the half period.
    """
    _check_point_branch(libration_point, branch)
    if not (isinstance(n_members, (int, np.integer)) and 1 <= n_members <= 100_000):
        raise invalid("n_members", n_members, "an integer in [1, 100000]")
    if not (math.isfinite(step) and 0 < step <= 0.1):
        raise invalid("step", step, "a nondimensional arclength in (0, 0.1]")
    mu = system.mu
    guess, _ = richardson_guess(libration_point=libration_point, branch="north", az_km=az_km_start, system=system)
    p = np.array([guess[0], guess[2], guess[4]])
    p, th, _ = _newton(mu, p, "z", p[1], rtol, atol, 40)
    tan0 = _tangent(mu, p, rtol, atol)
    if tan0[1] < 0:  # +tan0 = towards growing z0
        tan0 = -tan0
    r_min = (system.secondary_radius_m + min_perilune_km * 1e3) / system.lu_m
    z_min = 100e3 / system.lu_m  # stop 100 km short of the planar (Lyapunov) bifurcation
    down_p, down_t = _continue(mu, p, -tan0, step, n_members, rtol, atol,
                               lambda q, t: q[1] > z_min)
    up_p, up_t = _continue(mu, p, tan0, step, n_members, rtol, atol,
                           lambda q, t: _perilune(mu, q, t) >= r_min)
    ps = down_p[::-1] + [p] + up_p
    ths = down_t[::-1] + [th] + up_t
    if len(ps) > n_members:  # keep the near-planar end and cap the count
        ps, ths = ps[:n_members], ths[:n_members]
    return _family_arrays(system, libration_point, branch, ps, ths, rtol, atol)


def _perilune(mu, p, th) -> float:
    """Closest approach to the secondary over one period (nondimensional): the minimum of 720
    samples, refined by a bounded Brent search between its neighbours (a fast near-rectilinear
    perilune passage lasts a few samples only; sampling alone overestimates its depth)."""
    from scipy.optimize import minimize_scalar

    s0 = np.array([p[0], 0, p[1], 0, p[2], 0])
    moon = np.array([1 - mu, 0, 0])
    t = np.linspace(0, 2 * th, 721)
    st = propagate(s0, t, mu=mu, rtol=1e-11, atol=1e-12)
    d = np.linalg.norm(st[:, :3] - moon, axis=1)
    k = int(np.argmin(d))
    lo, hi = t[max(k - 1, 0)], t[min(k + 1, t.size - 1)]

    def dist(tt):
        return float(np.linalg.norm(propagate(s0, [tt], mu=mu, rtol=1e-11, atol=1e-12)[0, :3] - moon))

    r = minimize_scalar(dist, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return float(min(r.fun, d[k]))


def _continue(mu, p, tan, step, n_max, rtol, atol, keep):
    """Pseudo-arclength steps from the converged ``p`` along ``tan`` while ``keep(p, t_half)``."""
    ps, ths = [], []
    ds = step
    prev = p
    while len(ps) < n_max:
        pred = prev + ds * tan
        try:
            pn, thn, its = _newton(mu, pred, "arclength", 0.0, rtol, atol, 12, tangent=tan, p_prev=prev, ds=ds)
        except PhysicsError:
            ds *= 0.5
            if ds < step * 1e-4:
                break
            continue
        if not keep(pn, thn):
            break
        tan = _tangent(mu, pn, rtol, atol, prev=tan)
        ps.append(pn)
        ths.append(thn)
        prev = pn
        ds = min(step, ds * (1.5 if its <= 4 else 1.0))
    return ps, ths


def _family_arrays(system, point, branch, ps, ths, rtol, atol) -> HaloFamily:
    mu = system.mu
    members = [_finish(system, p, th, point, rtol, atol) for p, th in zip(ps, ths)]
    if branch == "south":
        members = [m.mirrored() for m in members]
    st = np.array([m.state0 for m in members])
    per = np.array([m.period for m in members])
    jac = np.asarray(jacobi_constant(st, mu=mu))
    az = np.array([m.az_km for m in members])
    ends = np.array([propagate(m.state0, [m.period], mu=mu, rtol=rtol, atol=atol)[0] for m in members])
    closure = np.max(np.abs(ends - st), axis=1)
    return HaloFamily(point, branch, st, per, jac, az, closure, system)


# --------------------------------------------------------------------------------------------
# Public selector
# --------------------------------------------------------------------------------------------
def halo_orbit(*, libration_point: LibrationPoint, branch: Branch, az_km: float | None = None,
               jacobi: float | None = None, period: float | None = None,
               system: CR3BPSystem = EARTH_MOON) -> HaloOrbit:
    """The halo orbit of a family selected by exactly one of ``az_km`` (largest |z|, km),
    ``jacobi`` or ``period`` (nondimensional TU).

    ``az_km`` seeds the corrector from Richardson's approximation (falling back to continuation);
    ``jacobi`` and ``period`` interpolate a guess from the continued family (seeded at 5000 km,
    continued to the member whose perilune grazes the Moon) and correct with that constraint.
    The period falls monotonically along the whole family (3.4155 TU near the planar end to
    ~1.36 TU at the surface), so a period selects one member; a shorter period is refused with the
    grazing member's perilune altitude. The Jacobi constant is not monotonic over the whole family:
    it selects the first member reached from the near-planar end.
    """
    _check_point_branch(libration_point, branch)
    given = {k: v for k, v in (("az_km", az_km), ("jacobi", jacobi), ("period", period)) if v is not None}
    if len(given) != 1:
        raise invalid("selector", sorted(given) or None, "exactly one of az_km, jacobi, period")
    (name, value), = given.items()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise invalid(name, value, "a finite number") from None
    if not math.isfinite(value) or value <= 0:
        raise invalid(name, value, "a finite number > 0")
    mu = system.mu
    if name == "az_km":
        target = value * 1e3 / system.lu_m
        orbit = None
        try:
            guess, t_rich = richardson_guess(libration_point=libration_point, branch="north", az_km=value, system=system)
            orbit = correct_halo(guess, fix="az", target=target, system=system, libration_point=libration_point)
            # accept only a member of this family: Richardson's period is within 2 % of the
            # family's up to Az ~ 65,000 km (L2), a different family would be far off
            if (abs(orbit.az_km - value) > 1e-6 or orbit.branch != "north"
                    or abs(orbit.period - t_rich) > 0.05 * t_rich):
                orbit = None
        except (PhysicsError, ValueError):
            orbit = None
        if orbit is None:
            fam = halo_family(libration_point=libration_point, branch="north", n_members=2000, system=system)
            orbit = _from_family(fam, fam.az_km, value, "az", target, system, libration_point)
    else:
        fam = halo_family(libration_point=libration_point, branch="north", n_members=2000, system=system)
        vals = fam.jacobi if name == "jacobi" else fam.period
        orbit = _from_family(fam, vals, value, name, value, system, libration_point)
    return orbit if branch == "north" else orbit.mirrored()


def _from_family(fam: HaloFamily, vals: np.ndarray, value: float, fix: str, target: float, system, point) -> HaloOrbit:
    d = vals - value
    idx = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) <= 0)[0]
    if idx.size == 0:
        rng = f"[{vals.min():.10g}, {vals.max():.10g}]"
        name = {"az": "az_km", "jacobi": "jacobi", "period": "period"}[fix]
        why = ""
        if fix == "period" and value < vals.min():
            k = int(np.argmin(vals))
            s0 = fam.state0[k]
            h_km = (_perilune(system.mu, np.array([s0[0], s0[2], s0[4]]), 0.5 * fam.period[k]) * system.lu_m
                    - system.secondary_radius_m) / 1e3
            why = (f" (shorter periods put the perilune below the lunar surface: the {vals.min():.4f} TU member "
                   f"passes {h_km:.0f} km above it)")
        raise invalid(name, value, f"a value inside the {point} halo family's range {rng}{why}")
    i = int(idx[0])
    w = 0.0 if d[i + 1] == d[i] else d[i] / (d[i] - d[i + 1])
    guess = fam.state0[i] + w * (fam.state0[i + 1] - fam.state0[i])
    # the family's state0 is the |z|-largest crossing; correct in that parametrisation
    return correct_halo(guess, fix=fix, target=target, system=system, libration_point=point)
