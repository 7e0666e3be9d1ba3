"""The terrain horizon seen from a point of a DEM, and elevation/azimuth of targets from a site."""

from __future__ import annotations

import math

import numpy as np

from farside.comms import _kernels
from farside.constants import MOON_RADIUS_M
from farside.errors import invalid
from farside.terrain import Terrain

__all__ = ["horizon_elevation", "HorizonProfile", "elevation_azimuth"]


class HorizonProfile:
    """A horizon elevation profile (degrees) sampled at equally spaced azimuths; ``at(az_deg)``
    interpolates it periodically."""

    def __init__(self, az_deg: np.ndarray, elevation_deg: np.ndarray) -> None:
        self.az_deg = np.asarray(az_deg, dtype=float)
        self.elevation_deg = np.asarray(elevation_deg, dtype=float)

    def at(self, az_deg) -> np.ndarray:
        a = np.mod(np.asarray(az_deg, dtype=float), 360.0)
        xp = np.concatenate([self.az_deg, [self.az_deg[0] + 360.0]])
        fp = np.concatenate([self.elevation_deg, [self.elevation_deg[0]]])
        return np.interp(a, xp, fp)

    @classmethod
    def flat(cls, n: int = 360) -> "HorizonProfile":
        az = np.arange(n) * 360.0 / n
        return cls(az, np.zeros(n))


def horizon_elevation(terrain: Terrain, x_m: float, y_m: float, azimuths_deg=None, *,
                      observer_height_m: float = 1.5, max_range_m: float | None = None,
                      step_m: float | None = None) -> HorizonProfile:
    """Elevation angle (deg) of the terrain's horizon seen from ``(x_m, y_m)`` in site ENU.

    Marches the heightfield outward along each azimuth (north through east) in steps of half a
    pixel up to ``max_range_m`` (default: the raster's edge), taking the largest elevation angle
    of the surface, lowered by the sphere's curvature ``d^2 / (2 R)`` (R = 1737.4 km). The
    observer stands ``observer_height_m`` above the surface (default 1.5 m, an antenna on a
    lander or rover mast). Beyond the raster the horizon is unknown and taken as no higher than
    what was seen inside it.
    """
    if not isinstance(terrain, Terrain):
        raise invalid("terrain", type(terrain).__name__, "a farside.terrain.Terrain")
    x0, x1, y0_, y1 = terrain.extent_m
    for name, v in (("x_m", x_m), ("y_m", y_m), ("observer_height_m", observer_height_m)):
        if not math.isfinite(float(v)):
            raise invalid(name, v, "a finite number of metres")
    if not (x0 <= x_m <= x1 and y0_ <= y_m <= y1):
        raise invalid("(x_m, y_m)", (x_m, y_m), f"a point inside the terrain extent {terrain.extent_m}")
    if azimuths_deg is None:
        azimuths_deg = np.arange(360) * 1.0
    az = np.asarray(azimuths_deg, dtype=float).ravel()
    if az.size == 0 or not np.all(np.isfinite(az)):
        raise invalid("azimuths_deg", azimuths_deg, "one or more finite azimuths in degrees")
    step = float(step_m) if step_m is not None else 0.5 * terrain.resolution_m
    if not (math.isfinite(step) and step > 0):
        raise invalid("step_m", step_m, "a finite step > 0 m")
    rng = float(max_range_m) if max_range_m is not None else math.hypot(terrain.width_m, terrain.height_m)
    if not (math.isfinite(rng) and rng > 0):
        raise invalid("max_range_m", max_range_m, "a finite range > 0 m")
    oz = float(terrain.height_at(x_m, y_m)) + float(observer_height_m)
    el = _kernels.horizon_march(terrain.heights, terrain.resolution_m, terrain.x0_m, terrain.y0_m,
                                float(x_m), float(y_m), oz, np.radians(az), step, rng, MOON_RADIUS_M)
    return HorizonProfile(az, np.degrees(el))


def elevation_azimuth(r_target_me, r_site_me, enu_to_me) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation (deg), azimuth (deg from north through east) and range (m) of MOON_ME targets
    ``(N, 3)`` seen from a site at ``r_site_me`` whose ENU axes in MOON_ME are the columns of
    ``enu_to_me`` (``farside.ephemeris.enu_to_moon_me_matrix``)."""
    d_me = np.atleast_2d(np.asarray(r_target_me, dtype=float)) - np.asarray(r_site_me, dtype=float)
    d_enu = d_me @ np.asarray(enu_to_me, dtype=float)
    rng = np.linalg.norm(d_enu, axis=1)
    el = np.degrees(np.arcsin(np.clip(d_enu[:, 2] / rng, -1.0, 1.0)))
    az = np.degrees(np.arctan2(d_enu[:, 0], d_enu[:, 1])) % 360.0
    return el, az, rng
