"""Touchdown check on the truth terrain: speeds, attitude, footpad slope, rock clearance, tip-over.

The four footpads sit on a circle of ``Lander.footpad_radius_m`` at azimuths 45, 135, 225 and
315 deg (yaw is not modelled). The slope is that of the least-squares plane through the four pad
contact heights (terrain plus rocks). Rock clearance is the highest point of the surface inside the
pad circle above that plane. Tip-over uses the energy criterion of a rigid body pivoting about the
downhill edge between two pads: the horizontal kinetic energy ``v_h^2 / 2`` (per unit mass) must
not exceed the potential barrier ``g L (1 - cos(theta_s - tilt))``, with ``theta_s =
atan(r_edge / h_cg)``, ``L = hypot(r_edge, h_cg)``, ``r_edge = r_pad cos 45 deg`` and ``tilt`` the
slope plus the attitude error.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from farside.constants import MOON_G0_M_S2
from farside.descent import _kernels_surface as K

__all__ = ["TouchdownCheck", "check_touchdown", "shaped_rocks", "CRITERIA"]

CRITERIA = ("vertical_speed", "horizontal_speed", "attitude", "slope", "rock_clearance", "tip_over")


@dataclass(frozen=True)
class TouchdownCheck:
    safe: bool
    failed: tuple[str, ...]
    vertical_speed_mps: float
    horizontal_speed_mps: float
    attitude_deg: float
    slope_deg: float
    obstacle_m: float
    tipover_margin_j_per_kg: float


def shaped_rocks(terrain, rocks, h_out: float) -> np.ndarray:
    """The rocks as the descent's kernels take them: one packed row per rock
    (:func:`farside.terrain.rocks.rock_shapes`, the same polyhedron as everywhere else) with its
    seat on ``terrain`` (outside the raster the level ``h_out``). ``rocks``: an (n, 4) array x, y,
    diameter, height (or a table with those columns), or rows already packed with their seats
    (``SiteHazards.rocks``), returned as they are."""
    from farside.terrain._kernels_rockshape import NCOL
    from farside.terrain.rocks import rock_shapes

    if hasattr(rocks, "columns"):
        rocks = np.column_stack([np.asarray(rocks[c], dtype=np.float64) for c in ("x_m", "y_m", "diameter_m",
                                                                                   "height_m")])
    a = np.asarray(rocks, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == NCOL:
        return np.ascontiguousarray(a)
    a = a.reshape(-1, 4)
    if a.shape[0] == 0:
        return np.zeros((0, NCOL))
    g = rock_shapes(a).copy()                 # (rock_shapes' rows are shared, read-only)
    K.rock_seats(terrain.heights, float(terrain.resolution_m), float(terrain.x0_m), float(terrain.y0_m),
                 float(h_out), g)
    return g


def surface_heights(terrain, rocks: np.ndarray, x, y, *, h_out: float | None = None) -> np.ndarray:
    """Truth surface at ENU points: the terrain mesh of farside.terrain.surface and, over it, the
    rocks (``max(terrain, seat + top)`` of each rock's polyhedron and fillet,
    :func:`shaped_rocks`; ``rocks`` as there).

    Outside the raster the surface is the level plane ``h_out`` (default: the mean height).
    """
    xs = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
    ys = np.ascontiguousarray(np.asarray(y, dtype=np.float64).ravel())
    heights = terrain.heights
    if h_out is None:
        h_out = float(np.nanmean(heights))
    rk = shaped_rocks(terrain, rocks, float(h_out))
    out = K.truth_surface_many(heights, terrain.resolution_m, terrain.x0_m, terrain.y0_m, float(h_out), rk, xs, ys)
    return out.reshape(np.shape(x))


@functools.lru_cache(maxsize=8)
def _offsets(r: float):
    """Pad offsets (azimuths 45, 135, 225, 315 deg) and the body's 0.1 m grid inside the pad circle."""
    az = np.radians([45.0, 135.0, 225.0, 315.0])
    g = np.arange(-r, r + 1e-9, 0.1)
    gxm, gym = np.meshgrid(g, g)
    inside = np.hypot(gxm, gym) <= r
    out = (r * np.sin(az), r * np.cos(az), np.ascontiguousarray(gxm[inside]), np.ascontiguousarray(gym[inside]))
    for a in out:
        a.flags.writeable = False
    return out


def check_touchdown(terrain, rocks, x_m: float, y_m: float, *, vertical_speed_mps: float,
                    horizontal_speed_mps: float, attitude_deg: float, lander, h_out: float | None = None) -> TouchdownCheck:
    """Judge a touchdown at ENU (x_m, y_m); ``rocks`` are the rocks not already in the DEM (an
    (n, 4) array x, y, diameter, height, or packed rows: :func:`shaped_rocks`)."""
    lim = lander.limits
    r = lander.footpad_radius_m
    if h_out is None:
        h_out = float(np.nanmean(terrain.heights))
    rocks = np.asarray(rocks, dtype=np.float64)
    if rocks.size and rocks.shape[-1] == 4:
        rocks = rocks.reshape(-1, 4)
        near = np.hypot(rocks[:, 0] - x_m, rocks[:, 1] - y_m) <= r + 1.0 + rocks[:, 2]
        rocks = rocks[near]
    rocks = shaped_rocks(terrain, rocks, float(h_out))
    if rocks.shape[0]:
        near = np.hypot(rocks[:, 0] - x_m, rocks[:, 1] - y_m) <= r + 1.0 + rocks[:, 2]
        rocks = np.ascontiguousarray(rocks[near])
    px, py, bx, by = _offsets(float(r))
    # least-squares plane through the four pads (symmetric: the normal equations are diagonal)
    gx, gy, c, obstacle = K.touchdown_surface(terrain.heights, terrain.resolution_m, terrain.x0_m, terrain.y0_m,
                                              float(h_out), rocks, float(x_m), float(y_m), px, py, bx, by)
    slope = math.degrees(math.atan(math.hypot(gx, gy)))
    r_edge = r * math.cos(math.radians(45.0))
    theta_s = math.atan2(r_edge, lander.cg_height_m)
    L = math.hypot(r_edge, lander.cg_height_m)
    tilt = math.radians(slope + attitude_deg)
    barrier = MOON_G0_M_S2 * L * (1.0 - math.cos(theta_s - tilt)) if tilt < theta_s else -1.0
    margin = barrier - 0.5 * horizontal_speed_mps ** 2
    failed = []
    if vertical_speed_mps > lim.max_vertical_speed_mps:
        failed.append("vertical_speed")
    if horizontal_speed_mps > lim.max_horizontal_speed_mps:
        failed.append("horizontal_speed")
    if attitude_deg > lim.max_attitude_deg:
        failed.append("attitude")
    if slope > lim.max_slope_deg:
        failed.append("slope")
    if obstacle > lim.max_obstacle_m:
        failed.append("rock_clearance")
    if margin < 0.0:
        failed.append("tip_over")
    return TouchdownCheck(safe=not failed, failed=tuple(failed), vertical_speed_mps=float(vertical_speed_mps),
                          horizontal_speed_mps=float(horizontal_speed_mps), attitude_deg=float(attitude_deg),
                          slope_deg=slope, obstacle_m=obstacle, tipover_margin_j_per_kg=float(margin))
