"""Sun and Earth geometry from a lunar surface site, and Moon-fixed (MOON_ME) positions.

Frames (DESIGN.md):

* **MOON_ME**: Moon-centred, body-fixed, mean-Earth/polar-axis frame, DE421 realisation
  (``MOON_ME_DE421`` of NAIF's ``moon_080317.tf``, rotated from the DE421 principal-axis binary
  PCK); selenographic latitude/longitude refer to it. Metres.
* **site ENU**: x east, y north, z up at a site given by selenographic latitude/longitude on the
  reference sphere R = 1737.4 km (``farside.constants.MOON_RADIUS_M``). Up is the sphere normal, so
  elevations are measured from the plane tangent to the sphere. Azimuth is measured from north
  through east, in [0, 360).
* **ICRF**: the ephemeris' inertial frame (DE421 axes).

Seen-from-site quantities (:func:`body_altaz`, :func:`body_direction_enu`) are *apparent*: light
time, stellar aberration of the site's motion and gravitational deflection are applied (skyfield
``observe().apparent()``), i.e. the direction the light arrives from, which is what lights and
shadows the scene. Moon-centred positions (:func:`body_position_moon_me`, :func:`body_state_moon_me`,
:func:`station_position_moon_me`, :func:`earth_moon_state_icrf`) are *geometric* (instantaneous,
no light time), for dynamics and visibility geometry.

Times are ISO-8601 UTC strings (see :mod:`farside.ephemeris.times`); one string counts as a
sequence of one, so results always have a leading dimension N >= 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from farside.constants import MOON_RADIUS_M
from farside.ephemeris import _validate
from farside.ephemeris._data import kernels
from farside.ephemeris.times import TimesLike, to_time

__all__ = [
    "body_altaz",
    "body_direction_enu",
    "sun_direction_enu",
    "body_position_moon_me",
    "body_state_moon_me",
    "earth_moon_state_icrf",
    "station_position_moon_me",
    "enu_to_moon_me_matrix",
    "icrf_to_moon_me_matrix",
    "site_position_moon_me",
]

_AU_M = 149_597_870_700.0
_DAY_S = 86_400.0


def enu_to_moon_me_matrix(lat_deg: float, lon_deg: float) -> np.ndarray:
    """3x3 rotation from site ENU to MOON_ME axes: ``r_moon_me = M @ r_enu``.

    The columns of ``M`` are the site's east, north and up unit vectors expressed in MOON_ME;
    its rows are the MOON_ME x, y, z axes expressed in ENU, so ``r_enu = M.T @ r_moon_me``
    (for ``(N, 3)`` row stacks: ``r_moon_me = r_enu @ M.T``, ``r_enu = r_moon_me @ M``).
    """
    lat, lon = _validate.latlon(lat_deg, lon_deg)
    phi, lam = math.radians(lat), math.radians(lon)
    sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
    east = (-sl, cl, 0.0)
    north = (-sp * cl, -sp * sl, cp)
    up = (cp * cl, cp * sl, sp)
    return np.array([east, north, up], dtype=np.float64).T


def site_position_moon_me(lat_deg: float, lon_deg: float, height_m: float = 0.0) -> np.ndarray:
    """MOON_ME position (3,), metres, of a point ``height_m`` above the R = 1737.4 km sphere."""
    lat, lon = _validate.latlon(lat_deg, lon_deg)
    h = _validate.height(height_m)
    return enu_to_moon_me_matrix(lat, lon)[:, 2] * (MOON_RADIUS_M + h)


# --------------------------------------------------------------------------------------------
# private helpers working on skyfield Time objects (used by farside.ephemeris.events too)


def apparent_enu(body: str, lat: float, lon: float, height_m: float, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """Apparent unit direction (N, 3) of ``body`` seen from the site, in site ENU, and its
    light-time distance (N,) in metres (the length of the astrometric vector: the aberration is a
    rotation of the direction and does not change the distance)."""
    k = kernels()
    site = k.eph["moon"] + k.pc.build_latlon_degrees(k.moon_me, lat, lon, elevation_m=height_m)
    astrometric = site.at(t).observe(k.eph[body])
    dist = np.atleast_1d(astrometric.distance().m)
    r_me = _to_moon_me(astrometric.apparent().xyz.m, t)
    r_enu = r_me @ enu_to_moon_me_matrix(lat, lon)
    return r_enu / np.linalg.norm(r_enu, axis=1)[:, None], dist


def _rotation_icrf_to_moon_me(t: Any) -> tuple[np.ndarray, np.ndarray]:
    """ICRF -> MOON_ME rotation (3, 3[, N]) and its rate per day.

    Uses skyfield's two-part (whole + fraction) TDB, i.e. full time precision; the one-float
    ``Frame.rotation_at`` would quantise time to ~40 us (~15 m of Moon rotation at the Sun's distance).
    """
    return kernels().moon_me.rotation_and_rate_at(t)


def _to_moon_me(r_icrf: np.ndarray, t: Any) -> np.ndarray:
    rot, _ = _rotation_icrf_to_moon_me(t)
    return np.atleast_2d(np.einsum("ij...,j...->i...", rot, r_icrf).T)


def _moon_me_state(vector_function: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """Geometric position (m) and velocity relative to the rotating MOON_ME frame (m/s), (N, 3)."""
    pos = vector_function.at(t)
    r_icrf_au = pos.xyz.au
    v_icrf_au_d = pos.velocity.au_per_d
    rot, rot_rate_per_day = _rotation_icrf_to_moon_me(t)
    r_au = np.einsum("ij...,j...->i...", rot, r_icrf_au)
    v_au_d = np.einsum("ij...,j...->i...", rot, v_icrf_au_d) + np.einsum("ij...,j...->i...", rot_rate_per_day, r_icrf_au)
    return np.atleast_2d((r_au * _AU_M).T), np.atleast_2d((v_au_d * (_AU_M / _DAY_S)).T)


def _moon_me_position(vector_function: Any, t: Any) -> np.ndarray:
    return _to_moon_me(vector_function.at(t).xyz.m, t)


# --------------------------------------------------------------------------------------------
# public API


def body_altaz(
    body: str, lat_deg: float, lon_deg: float, times_utc: TimesLike, *, height_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apparent elevation, azimuth and distance of the Sun or the Earth from a lunar site.

    Parameters
    ----------
    body : {"sun", "earth"}
    lat_deg, lon_deg : selenographic (MOON_ME) latitude and east longitude of the site, degrees.
    times_utc : one ISO-8601 UTC string or a sequence of N of them.
    height_m : height of the observer above the 1737.4 km reference sphere.

    Returns
    -------
    alt_deg, az_deg, distance_m : float64 arrays (N,). Elevation above the local horizontal
        plane; azimuth from north through east in [0, 360); light-time distance (the
        length of the light-time-corrected vector).

    >>> alt, az, d = body_altaz("earth", -45.4446, 177.5991, "2019-01-03T02:26:00Z")
    >>> bool(alt[0] < 0)  # the far side never sees the Earth
    True
    """
    r_enu, dist = _direction_and_range(body, lat_deg, lon_deg, times_utc, height_m=height_m)
    alt_deg = np.degrees(np.arcsin(np.clip(r_enu[:, 2], -1.0, 1.0)))
    az_deg = np.degrees(np.arctan2(r_enu[:, 0], r_enu[:, 1])) % 360.0
    return alt_deg, az_deg, dist


def _direction_and_range(
    body: str, lat_deg: float, lon_deg: float, times_utc: TimesLike, *, height_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Apparent unit direction (N, 3) in site ENU and light-time distance (N,) in metres of ``body``."""
    key = _validate.body(body)
    lat, lon = _validate.latlon(lat_deg, lon_deg)
    h = _validate.height(height_m)
    return apparent_enu(key, lat, lon, h, to_time(times_utc))


def body_direction_enu(
    body: str, lat_deg: float, lon_deg: float, times_utc: TimesLike, *, height_m: float = 0.0
) -> np.ndarray:
    """Apparent unit vectors (N, 3) towards ``body`` ("sun" or "earth") in the site ENU frame."""
    return _direction_and_range(body, lat_deg, lon_deg, times_utc, height_m=height_m)[0]


def sun_direction_enu(lat_deg: float, lon_deg: float, times_utc: TimesLike, *, height_m: float = 0.0) -> np.ndarray:
    """Apparent unit vectors (N, 3) towards the Sun's centre in the site ENU frame (x E, y N, z up)."""
    return body_direction_enu("sun", lat_deg, lon_deg, times_utc, height_m=height_m)


def body_position_moon_me(body: str, times_utc: TimesLike) -> np.ndarray:
    """Geometric position (N, 3), metres, of the Sun's or Earth's centre relative to the Moon's centre, in MOON_ME."""
    key = _validate.body(body)
    t = to_time(times_utc)
    k = kernels()
    return _moon_me_position(k.eph[key] - k.eph["moon"], t)


def body_state_moon_me(body: str, times_utc: TimesLike) -> tuple[np.ndarray, np.ndarray]:
    """Geometric position (N, 3) [m] and velocity (N, 3) [m/s] of ``body`` in MOON_ME.

    The velocity is the time derivative of the MOON_ME coordinates, i.e. relative to the rotating
    Moon-fixed frame (it includes the ``-omega x r`` term of the Moon's rotation).
    """
    key = _validate.body(body)
    t = to_time(times_utc)
    k = kernels()
    return _moon_me_state(k.eph[key] - k.eph["moon"], t)


def icrf_to_moon_me_matrix(times_utc: TimesLike) -> np.ndarray:
    """Rotations (N, 3, 3) from ICRF to MOON_ME axes: ``r_moon_me[n] = M[n] @ r_icrf[n]``.

    The DE421 lunar orientation (binary PCK Euler angles, then the fixed PA -> ME rotation of
    ``moon_080317.tf``), evaluated with full two-part time precision. For (N, 3) row stacks:
    ``r_moon_me = np.einsum("nij,nj->ni", M, r_icrf)``.
    """
    rot, _ = _rotation_icrf_to_moon_me(to_time(times_utc))
    return np.ascontiguousarray(np.moveaxis(np.asarray(rot).reshape(3, 3, -1), -1, 0))


def earth_moon_state_icrf(times_utc: TimesLike) -> tuple[np.ndarray, np.ndarray]:
    """Geometric position (N, 3) [m] and velocity (N, 3) [m/s] of the Moon relative to the Earth, ICRF axes.

    Gives the instantaneous Earth-Moon distance ``|r|`` and orbital plane normal ``r x v``.
    """
    t = to_time(times_utc)
    k = kernels()
    pos = (k.eph["moon"] - k.eph["earth"]).at(t)
    return np.atleast_2d(pos.xyz.m.T), np.atleast_2d(pos.velocity.m_per_s.T)


def station_position_moon_me(lat_deg: float, lon_deg: float, height_m: float, times_utc: TimesLike) -> np.ndarray:
    """Geometric MOON_ME position (N, 3), metres, of a ground station on the Earth.

    The station is at geodetic ``lat_deg``/``lon_deg`` (east positive) and ``height_m`` on the
    WGS84 ellipsoid; the Earth's rotation (IAU 2000/2006 precession-nutation, Delta T, no polar
    motion) comes from skyfield's builtin time scale.
    """
    from skyfield.api import wgs84

    lat = _validate.finite("lat_deg", lat_deg, -90.0, 90.0)
    lon = _validate.finite("lon_deg", lon_deg)
    h = _validate.finite("height_m", height_m, -12_000.0, 1e8)
    t = to_time(times_utc)
    k = kernels()
    station = k.eph["earth"] + wgs84.latlon(lat, lon, elevation_m=h)
    return _moon_me_position(station - k.eph["moon"], t)
