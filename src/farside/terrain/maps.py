"""Derived terrain maps: slope, aspect, roughness, protrusions, rock hazard, hazard masks.

All maps are float32/bool arrays on the terrain's grid. The slope *baseline* is the horizontal
distance over which height differences are taken (a lander's footprint, a rover's wheelbase); the
effective baseline is rounded to an even number of pixels, at least 2.

Hazard limits
-------------
* rover (Yutu-2): 20 deg slopes and 0.20 m obstacles (docs/references.md section 3);
* lander: obstacles >= 0.2 m must be seen (docs/references.md 2.4, for CE-3). The slope limit is
  **UNCONFIRMED** for Chang'e-3/4; 8 deg at a 4 m baseline (about the footpad span) is our
  assumption, recorded in :data:`LANDER_LIMITS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from farside.errors import invalid
from farside.terrain._types import Terrain

__all__ = [
    "HazardLimits",
    "LANDER_LIMITS",
    "ROVER_LIMITS",
    "slope_deg",
    "aspect_deg",
    "roughness_m",
    "protrusion_m",
    "rock_height_map",
    "hazard_mask",
    "hillshade",
]


@dataclass(frozen=True)
class HazardLimits:
    """Limits for a hazard mask. ``baseline_m`` is the slope baseline."""

    max_slope_deg: float
    max_obstacle_m: float
    baseline_m: float
    source: str = ""


#: Lander: 0.2 m protrusions (docs/references.md 2.4); slope 8 deg at 4 m is UNCONFIRMED (assumption).
LANDER_LIMITS = HazardLimits(8.0, 0.20, 4.0, "obstacle 0.2 m: docs/references.md 2.4; slope 8 deg: UNCONFIRMED assumption")
#: Yutu-2: 20 deg slope, 0.20 m obstacles (docs/references.md 3); baseline = rover length 1.5 m.
ROVER_LIMITS = HazardLimits(20.0, 0.20, 1.5, "docs/references.md section 3 (Yutu-2 limits)")


def _half_step(terrain: Terrain, baseline_m: float | None) -> int:
    if baseline_m is None:
        return 1
    if not (isinstance(baseline_m, (int, float)) and math.isfinite(baseline_m) and baseline_m > 0):
        raise invalid("baseline_m", baseline_m, "a finite number > 0 (metres)")
    return max(1, int(round(baseline_m / terrain.resolution_m / 2.0)))


def _gradient(terrain: Terrain, k: int) -> tuple[np.ndarray, np.ndarray]:
    """dz/dx (east) and dz/dy (north) over a baseline of 2k pixels (Horn 1981 weighting).

    Differences over +-k pixels (one-sided at the edges), smoothed across the other axis with
    Horn's 1-2-1 weights at the same offsets. Exact for planes everywhere, including the border,
    and it averages the float32 quantisation of heights near -6 km (0.5 mm steps).
    """
    h = terrain.heights.astype(np.float64)
    rows, cols = h.shape
    j = np.arange(cols)
    jp, jm = np.minimum(j + k, cols - 1), np.maximum(j - k, 0)
    i = np.arange(rows)
    ip, im = np.minimum(i + k, rows - 1), np.maximum(i - k, 0)
    res = terrain.resolution_m
    dx = (h[:, jp] - h[:, jm]) / ((jp - jm) * res)[None, :]
    # rows go south, so north-positive dz/dy = (h[i-k] - h[i+k]) / dist
    dy = (h[im, :] - h[ip, :]) / ((ip - im) * res)[:, None]
    dzdx = (dx[im, :] + 2.0 * dx + dx[ip, :]) / 4.0
    dzdy = (dy[:, jm] + 2.0 * dy + dy[:, jp]) / 4.0
    return dzdx, dzdy


def slope_deg(terrain: Terrain, *, baseline_m: float | None = None) -> np.ndarray:
    """Slope magnitude in degrees at the given baseline (default: 2 pixels)."""
    gx, gy = _gradient(terrain, _half_step(terrain, baseline_m))
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)


def aspect_deg(terrain: Terrain, *, baseline_m: float | None = None) -> np.ndarray:
    """Down-slope azimuth in degrees from north through east, [0, 360)."""
    gx, gy = _gradient(terrain, _half_step(terrain, baseline_m))
    return (np.degrees(np.arctan2(-gx, -gy)) % 360.0).astype(np.float32)


def _window(terrain: Terrain, baseline_m: float) -> int:
    if not (isinstance(baseline_m, (int, float)) and math.isfinite(baseline_m) and baseline_m > 0):
        raise invalid("baseline_m", baseline_m, "a finite number > 0 (metres)")
    return max(3, 2 * int(round(baseline_m / terrain.resolution_m / 2.0)) + 1)


def roughness_m(terrain: Terrain, *, baseline_m: float) -> np.ndarray:
    """RMS height residual about the local best-fit plane over a ``baseline_m`` square window.

    Uses box-filter moments: on a symmetric window x and y are uncorrelated, so the residual
    variance of the least-squares plane is ``var(z) - cov(z,x)^2/var(x) - cov(z,y)^2/var(y)``.
    A plane has roughness 0 (to float rounding).
    """
    w = _window(terrain, baseline_m)
    h = terrain.heights.astype(np.float64)
    h = h - float(np.mean(h))
    rows, cols = h.shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    f = lambda a: ndimage.uniform_filter(a, size=w, mode="nearest")  # noqa: E731
    mz, mx, my = f(h), f(xx), f(yy)
    vz = f(h * h) - mz * mz
    vx = f(xx * xx) - mx * mx
    vy = f(yy * yy) - my * my
    cx = f(h * xx) - mz * mx
    cy = f(h * yy) - mz * my
    var = vz - cx * cx / np.maximum(vx, 1e-12) - cy * cy / np.maximum(vy, 1e-12)
    return np.sqrt(np.maximum(var, 0.0)).astype(np.float32)


def protrusion_m(terrain: Terrain, *, baseline_m: float) -> np.ndarray:
    """Height of each pixel above the local mean plane over a ``baseline_m`` window, metres.

    Positive for rocks and rims, negative in pits; ~0 on any plane.
    """
    w = _window(terrain, baseline_m)
    h = terrain.heights.astype(np.float64)
    return (h - _plane_mean(h, w)).astype(np.float32)


def _plane_mean(h: np.ndarray, w: int) -> np.ndarray:
    # the best-fit plane over a symmetric window evaluated at its centre equals the window mean;
    # at the edges use 'nearest' only after extending the border linearly (keeps planes exact)
    pad = w // 2
    hp = np.pad(h, pad, mode="reflect", reflect_type="odd")
    return ndimage.uniform_filter(hp, size=w, mode="nearest")[pad:-pad, pad:-pad]


def rock_height_map(terrain: Terrain, rocks) -> np.ndarray:
    """Tallest rock (metres) whose centre falls in each pixel, from a rocks table.

    ``rocks`` has columns ``x_m``, ``y_m``, ``height_m`` (site ENU). Sub-pixel rocks that the DEM
    cannot hold still count here.
    """
    out = np.zeros(terrain.shape, dtype=np.float32)
    if rocks is None or len(rocks) == 0:
        return out
    row, col = terrain.xy_to_ij(np.asarray(rocks["x_m"]), np.asarray(rocks["y_m"]))
    r = np.rint(row).astype(np.intp)
    c = np.rint(col).astype(np.intp)
    ok = (r >= 0) & (r < terrain.shape[0]) & (c >= 0) & (c < terrain.shape[1])
    np.maximum.at(out, (r[ok], c[ok]), np.asarray(rocks["height_m"], dtype=np.float32)[ok])
    return out


def hazard_mask(
    terrain: Terrain,
    *,
    max_slope_deg: float | None = None,
    max_obstacle_m: float | None = None,
    baseline_m: float | None = None,
    limits: HazardLimits | None = None,
    rocks=None,
) -> np.ndarray:
    """Boolean map, True where the terrain is hazardous for the given limits.

    A pixel is hazardous when its slope at ``baseline_m`` exceeds ``max_slope_deg``, or when a
    protrusion/pit deeper than ``max_obstacle_m`` (relative to the local plane over the baseline)
    or a rock from ``rocks`` taller than ``max_obstacle_m`` lies within half a baseline of it.
    """
    if limits is not None:
        max_slope_deg = limits.max_slope_deg if max_slope_deg is None else max_slope_deg
        max_obstacle_m = limits.max_obstacle_m if max_obstacle_m is None else max_obstacle_m
        baseline_m = limits.baseline_m if baseline_m is None else baseline_m
    for name, v, lo, hi in (("max_slope_deg", max_slope_deg, 0.0, 90.0),
                            ("max_obstacle_m", max_obstacle_m, 0.0, 1e4),
                            ("baseline_m", baseline_m, 1e-9, 1e6)):
        if v is None or not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
            raise invalid(name, v, f"a number in [{lo}, {hi}]")
    bad = slope_deg(terrain, baseline_m=baseline_m) > max_slope_deg
    prot = np.abs(protrusion_m(terrain, baseline_m=baseline_m)) > max_obstacle_m
    if rocks is not None:
        prot |= rock_height_map(terrain, rocks) > max_obstacle_m
    w = _window(terrain, baseline_m)
    prot = ndimage.maximum_filter(prot, size=w, mode="constant")
    return bad | prot


def hillshade(terrain: Terrain, *, sun_azimuth_deg: float = 315.0, sun_elevation_deg: float = 45.0,
              exaggeration: float = 1.0) -> np.ndarray:
    """Lambertian hillshade in [0, 1] for display (not photometry: see farside.render)."""
    gx, gy = _gradient(terrain, 1)
    gx, gy = gx * exaggeration, gy * exaggeration
    az, el = math.radians(sun_azimuth_deg), math.radians(sun_elevation_deg)
    s = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
    n = np.stack([-gx, -gy, np.ones_like(gx)])
    n /= np.linalg.norm(n, axis=0)
    return np.clip(np.tensordot(s, n, axes=1), 0, 1).astype(np.float32)
