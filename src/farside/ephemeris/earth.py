"""The Earth's rotation seen from the Moon: Earth-fixed (ITRS) axes in MOON_ME.

Ground stations and the relay-to-Earth link need where a point on the Earth is, in the Moon's
frame, at any mission time. :func:`earth_fixed_to_moon_me` gives the Earth's centre and the
rotation from Earth-fixed to MOON_ME axes; :func:`geodetic_to_itrs` a WGS84 point's Earth-fixed
position and normal. (Moved here from ``farside.comms.contact``: the ephemeris owns time and the
bodies' orientation.)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.interpolate import CubicSpline

from farside._core.vec import orthonormalise_columns
from farside.ephemeris.geometry import body_position_moon_me, station_position_moon_me
from farside.ephemeris.times import MissionTimes

__all__ = ["earth_fixed_to_moon_me", "geodetic_to_itrs"]

_WGS84_A_M = 6_378_137.0
_WGS84_F = 1.0 / 298.257223563
#: Earth rotation angle rate, revolutions per UT1 day (IERS Conventions 2010, eq. 5.15).
_ERA_RATE = 1.00273781191135448


def _rz(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    z, o = np.zeros_like(theta), np.ones_like(theta)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def geodetic_to_itrs(lat_deg: float, lon_deg: float, h_m: float) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 geodetic -> Earth-fixed position (m) and the ellipsoid normal (unit)."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    e2 = _WGS84_F * (2 - _WGS84_F)
    n = _WGS84_A_M / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    pos = np.array([(n + h_m) * up[0], (n + h_m) * up[1], (n * (1 - e2) + h_m) * up[2]])
    return pos, up


def earth_fixed_to_moon_me(epoch_utc: str, t_s: np.ndarray, *, grid_step_s: float = 21600.0) -> tuple[np.ndarray, np.ndarray]:
    """Earth centre in MOON_ME (N, 3) m and the rotation (N, 3, 3) from Earth-fixed (ITRS, no
    polar motion) axes to MOON_ME axes at mission seconds ``t_s``.

    The rotation comes from ``farside.ephemeris.station_position_moon_me`` (skyfield's IAU 2006
    precession, IAU 2000A nutation, Delta T) for three reference points on the WGS84 ellipsoid,
    evaluated on a coarse grid. The Earth's daily spin is factored out analytically,
    ``M(t) = A(t) Rz(theta(t))`` with ``theta`` the Earth rotation angle, so that only the slow
    remainder ``A`` (precession-nutation and the Moon's libration) is splined: the splined
    rotation agrees with direct evaluation to better than 1e-8 rad (tests).
    """

    t = np.asarray(t_s, dtype=float).ravel()
    g0, g1 = float(t.min()), float(t.max())
    n = int(math.ceil((g1 - g0) / grid_step_s)) + 5
    tg = g0 - 2 * grid_step_s + grid_step_s * np.arange(n)
    times = MissionTimes(epoch_utc, tg)
    earth = body_position_moon_me("earth", times)
    cols = []
    for lat, lon in ((0.0, 0.0), (0.0, 90.0), (90.0, 0.0)):
        p_itrs, _ = geodetic_to_itrs(lat, lon, 0.0)
        off = station_position_moon_me(lat, lon, 0.0, times) - earth
        cols.append(off / np.linalg.norm(p_itrs))
    m = np.stack(cols, axis=-1)
    theta_g = 2 * np.pi * _ERA_RATE * tg / 86400.0
    a = np.einsum("nij,nkj->nik", m, _rz(theta_g))
    a_t = CubicSpline(tg, a, axis=0)(t)
    m_t = np.einsum("nij,njk->nik", a_t, _rz(2 * np.pi * _ERA_RATE * t / 86400.0))
    m_t = orthonormalise_columns(m_t)
    return CubicSpline(tg, earth, axis=0)(t), m_t


