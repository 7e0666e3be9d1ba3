"""Placing a CR3BP halo orbit in the real Earth-Moon system.

Approximation (documented, the usual "instantaneous synodic frame" mapping): at each instant the
synodic frame is rebuilt from the actual DE421 Earth-Moon geometry (``farside.ephemeris``):

* x axis along the Earth -> Moon line, z along the Moon's instantaneous orbital angular momentum
  ``r x v``, y completing the right-handed set;
* lengths scaled by the *instantaneous* Earth-Moon distance ``|r(t)|`` (a pulsating frame, so
  the libration point stays at the right place as the distance varies by +-5 %);
* synodic time runs uniformly, ``tau = tau0 + t / TU``.

The relay's Moon-centred position is then ``|r| * B(t) @ (x_syn - (1 - mu, 0, 0))``, with
``B(t)`` the synodic axes expressed in ICRF or in MOON_ME. This keeps the orbit's shape, size and
period but not its exact dynamics: a real spacecraft on this path would need station-keeping
(Queqiao did, every few days), which is what the CR3BP-to-ephemeris offset stands for. No
ephemeris-model correction (multiple shooting in the full model) is done.

Ephemeris quantities are evaluated on a coarse grid (``grid_step_s``, default 1 h) and
interpolated with cubic splines (the synodic-to-MOON_ME rotation moves only by the lunar
librations, a few degrees per week; interpolation error < 1e-9 rad), so a year at one-minute
steps costs a few thousand ephemeris evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from farside._core.vec import orthonormalise_columns
from farside.errors import invalid
from farside.orbit.halo import HaloOrbit

__all__ = ["PlacedOrbit", "place_orbit", "EphemerisGrid", "ephemeris_grid"]


@dataclass(frozen=True)
class EphemerisGrid:
    """Earth-Moon geometry on a time grid, splined.

    ``t_s`` mission seconds since ``epoch_utc``; ``syn_to_me`` (n, 3, 3) synodic axes in MOON_ME;
    ``syn_to_icrf`` (n, 3, 3) in ICRF; ``dist_m`` (n,) Earth-Moon distance; ``earth_me`` (n, 3)
    Earth centre in MOON_ME (m).
    """

    epoch_utc: str
    t_s: np.ndarray
    syn_to_me: np.ndarray
    syn_to_icrf: np.ndarray
    dist_m: np.ndarray
    earth_me: np.ndarray

    def _spline(self, arr: np.ndarray) -> CubicSpline:
        return CubicSpline(self.t_s, arr, axis=0)

    def check_span(self, t_s: np.ndarray) -> None:
        if t_s.size and (t_s.min() < self.t_s[0] - 1e-6 or t_s.max() > self.t_s[-1] + 1e-6):
            raise invalid("t_s", f"[{t_s.min()}, {t_s.max()}]", f"times inside the grid [{self.t_s[0]}, {self.t_s[-1]}] s")

    def at(self, t_s) -> dict[str, np.ndarray]:
        t = np.asarray(t_s, dtype=float).ravel()
        self.check_span(t)
        me = orthonormalise_columns(self._spline(self.syn_to_me)(t))
        ic = orthonormalise_columns(self._spline(self.syn_to_icrf)(t))
        return {"syn_to_me": me, "syn_to_icrf": ic, "dist_m": self._spline(self.dist_m)(t),
                "earth_me": self._spline(self.earth_me)(t)}


def ephemeris_grid(epoch_utc: str, t_start_s: float, t_end_s: float, *, grid_step_s: float = 3600.0) -> EphemerisGrid:
    """Evaluate the Earth-Moon geometry from ``farside.ephemeris`` on a regular grid covering
    ``[t_start_s, t_end_s]`` (with two extra nodes each side for the splines)."""
    from farside.ephemeris import body_position_moon_me, earth_moon_state_icrf, icrf_to_moon_me_matrix, mission_times

    if not (math.isfinite(t_start_s) and math.isfinite(t_end_s) and t_end_s >= t_start_s):
        raise invalid("t_end_s", t_end_s, f"a finite time >= t_start_s = {t_start_s}")
    if not (math.isfinite(grid_step_s) and 60.0 <= grid_step_s <= 86400.0):
        raise invalid("grid_step_s", grid_step_s, "a step in [60, 86400] s")
    n = int(math.ceil((t_end_s - t_start_s) / grid_step_s)) + 5
    t = t_start_s - 2 * grid_step_s + grid_step_s * np.arange(n)
    times = mission_times(epoch_utc, t)
    r, v = earth_moon_state_icrf(times)
    dist = np.linalg.norm(r, axis=1)
    x = r / dist[:, None]
    h = np.cross(r, v)
    z = h / np.linalg.norm(h, axis=1, keepdims=True)
    y = np.cross(z, x)
    b_icrf = np.stack([x, y, z], axis=-1)  # columns = synodic axes in ICRF
    earth_me = body_position_moon_me("earth", times)
    rot = icrf_to_moon_me_matrix(times)
    b_me = np.einsum("nij,njk->nik", rot, b_icrf)
    return EphemerisGrid(epoch_utc, t, orthonormalise_columns(b_me), b_icrf, dist, earth_me)


@dataclass(frozen=True, eq=False)
class PlacedOrbit:
    """A halo orbit placed in the real Earth-Moon system from ``epoch_utc`` on.

    ``tau0`` is the synodic (nondimensional) time of the orbit at the epoch, i.e. the phase
    ``tau0 / period`` of the periodic orbit at mission time 0.
    """

    orbit: HaloOrbit
    grid: EphemerisGrid
    tau0: float

    def synodic(self, t_s) -> np.ndarray:
        """Synodic states (N, 6) at mission seconds ``t_s``."""
        t = np.asarray(t_s, dtype=float).ravel()
        return self.orbit.states(self.tau0 + t / self.orbit.system.tu_s)

    def positions(self, t_s) -> dict[str, np.ndarray]:
        """Moon-centred relay positions: ``r_moon_me`` and ``r_icrf`` (N, 3) m, plus ``x_syn`` (N, 6),
        ``earth_me`` (N, 3) m."""
        t = np.asarray(t_s, dtype=float).ravel()
        x = self.synodic(t)
        g = self.grid.at(t)
        rel = x[:, :3] - np.array([1.0 - self.orbit.system.mu, 0.0, 0.0])
        scale = g["dist_m"][:, None]
        r_me = scale * np.einsum("nij,nj->ni", g["syn_to_me"], rel)
        r_icrf = scale * np.einsum("nij,nj->ni", g["syn_to_icrf"], rel)
        return {"r_moon_me": r_me, "r_icrf": r_icrf, "x_syn": x, "earth_me": g["earth_me"]}


def place_orbit(orbit: HaloOrbit, epoch_utc: str, *, t_end_s: float, phase: float = 0.0,
                grid_step_s: float = 3600.0, t_start_s: float = 0.0) -> PlacedOrbit:
    """Place ``orbit`` in the Earth-Moon system for mission times ``[t_start_s, t_end_s]``.

    ``phase`` in [0, 1) is the fraction of the period elapsed since ``state0`` at the epoch.
    """
    if not isinstance(orbit, HaloOrbit):
        raise invalid("orbit", type(orbit).__name__, "a farside.orbit.HaloOrbit")
    if not (math.isfinite(phase) and 0.0 <= phase < 1.0):
        raise invalid("phase", phase, "a fraction of the period in [0, 1)")
    grid = ephemeris_grid(epoch_utc, t_start_s, t_end_s, grid_step_s=grid_step_s)
    return PlacedOrbit(orbit, grid, phase * orbit.period)
