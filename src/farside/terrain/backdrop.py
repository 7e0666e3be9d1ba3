"""A coarse regional terrain around a site: what a descending camera sees beyond the site DEM.

A site DEM is a few kilometres wide, but the landing camera starts imaging ~80 km up-range at
~10 km above the ground (Chang'e-4 LCAM's first frame), where the site is a speck near the
horizon. :func:`regional_backdrop` builds the terrain behind it:

1. **procedural relief** from :func:`farside.terrain.generate_site` at a coarse resolution
   (tens of metres per pixel) with the site's surface age: craters from two pixels up to
   :data:`MAX_SIMPLE_CRATER_DIAMETER_M` (14.2 km, the simple-to-complex transition on the
   maria, Sun et al. 2023, docs/references.md 7.2; the generator's crater shapes are simple-crater
   shapes), the self-affine roughness (its RMS scales with the pixel size as the Hurst law
   says), no rocks (the largest, 10 m, is a third of a pixel);
2. **the site inside it**: on the cells covered by the site DEM the heights are the site's
   heights averaged over each backdrop cell (block mean of the site pixels whose centres fall
   in the cell). Outside the footprint the procedural relief (levelled to the site's mean
   height) keeps its detail, but its low-pass level bends to a smooth (normalised-convolution)
   extension of the site's over ``blend_m`` (smoothstep weight), and over the first quarter of
   that band (at least four pixels) the remaining difference to the nearest edge cell of the
   site fades out, so the surface is continuous at the footprint's edge: no step, no cliff, no
   steep wall where the edge cuts a crater, no long streaks;
3. **the curvature of the Moon**: the site ENU frame is the tangent plane at the site origin,
   so a point at height ``h`` above the reference sphere (R = 1737.4 km) at horizontal
   distance ``r = sqrt(x^2 + y^2)`` from the origin has ENU ``z = sqrt((R + h)^2 - r^2) - R``,
   applied exactly (:func:`sphere_height_to_enu_z`). For ``h = 0`` this is the sphere's drop
   ``R - sqrt(R^2 - r^2)``: 0.72 km at 50 km, 1.84 km at 80 km, which decides where grazing
   rays meet the ground and where the horizon is. Shading normals computed from these heights
   tilt with the local vertical, so sun incidence and shadows are right across the region.

The returned :class:`Terrain` holds site-ENU ``z`` (not heights above the sphere) and is meant
for rendering (``farside.render.render(..., backdrop=Scene(backdrop))``);
:func:`backdrop_elevation` gives the ordinary DEM (heights above the sphere) for writing. The
site DEM itself stays in the flat-site approximation (its heights are its ENU z); inside the
footprint the backdrop therefore lies below the site by the sphere's drop there (0.3 m at
1 km, 0.6 m at the corner of a 2 km site), far less than a backdrop pixel.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from farside.constants import MOON_RADIUS_M
from farside.errors import invalid
from farside.terrain._types import Terrain
from farside.terrain.generate import CE4_SURFACE_AGE_GYR, estimate_site_bytes, generate_site

__all__ = [
    "MAX_SIMPLE_CRATER_DIAMETER_M",
    "regional_backdrop",
    "backdrop_elevation",
    "sphere_height_to_enu_z",
    "enu_z_to_sphere_height",
    "sphere_drop_m",
]

#: Largest crater drawn in a backdrop: the simple-to-complex transition diameter on the maria,
#: 14.2 km (Sun et al. 2023, docs/references.md 7.2); larger lunar craters have flat floors and central
#: peaks, which the generator's simple-crater profiles do not model.
MAX_SIMPLE_CRATER_DIAMETER_M = 14_200.0
#: Default working-memory budget of :func:`regional_backdrop` (the generator's estimate).
_DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3


def sphere_drop_m(r_m, *, radius_m: float = MOON_RADIUS_M) -> np.ndarray:
    """How far a sphere of radius ``radius_m`` falls below its tangent plane at horizontal
    distance ``r_m`` from the tangent point: ``R - sqrt(R^2 - r^2)`` (metres; r < R)."""
    r = np.asarray(r_m, dtype=np.float64)
    R = float(radius_m)
    if not np.all(np.isfinite(r)) or np.any(np.abs(r) >= R):
        raise invalid("r_m", r_m if r.size <= 4 else f"array with {r.size} values",
                      f"finite distances with |r| < radius_m = {R} m")
    r2 = r * r
    return r2 / (R + np.sqrt(R * R - r2))       # = R - sqrt(R^2 - r^2) without cancellation


def sphere_height_to_enu_z(h_m, x_m, y_m, *, radius_m: float = MOON_RADIUS_M) -> np.ndarray:
    """Site-ENU z of points at height ``h_m`` above the reference sphere whose ENU horizontal
    coordinates are (``x_m``, ``y_m``): ``sqrt((R + h)^2 - x^2 - y^2) - R`` (exact; broadcasts)."""
    h = np.asarray(h_m, dtype=np.float64)
    r2 = np.asarray(x_m, dtype=np.float64) ** 2 + np.asarray(y_m, dtype=np.float64) ** 2
    R = float(radius_m)
    a = R + h
    if np.any(r2 >= a * a):
        raise invalid("x_m, y_m", "points beyond the sphere's limb", f"horizontal distances < R + h (R = {R} m)")
    # sqrt(a^2 - r^2) - R = (a - R) - r^2 / (a + sqrt(a^2 - r^2)), without cancellation
    return h - r2 / (a + np.sqrt(a * a - r2))


def enu_z_to_sphere_height(z_m, x_m, y_m, *, radius_m: float = MOON_RADIUS_M) -> np.ndarray:
    """Inverse of :func:`sphere_height_to_enu_z`: ``sqrt(x^2 + y^2 + (R + z)^2) - R``."""
    z = np.asarray(z_m, dtype=np.float64)
    r2 = np.asarray(x_m, dtype=np.float64) ** 2 + np.asarray(y_m, dtype=np.float64) ** 2
    R = float(radius_m)
    a = R + z
    return z + r2 / (a + np.sqrt(a * a + r2))


def _block_mean(site: Terrain, x0: float, y0: float, res: float, n: int):
    """Mean of the site pixels whose centres fall in each backdrop cell, and how many did:
    ``(row0, col0, mean, count)`` for the window of backdrop cells the site touches (None when it
    touches none)."""
    col = np.floor((site.x_m - x0) / res).astype(np.int64)      # non-decreasing along site columns
    row = np.floor((y0 - site.y_m) / res).astype(np.int64)      # non-decreasing along site rows
    c_sel = np.flatnonzero((col >= 0) & (col < n))
    r_sel = np.flatnonzero((row >= 0) & (row < n))
    if c_sel.size == 0 or r_sel.size == 0:
        return None
    h = site.heights[r_sel[0]:r_sel[-1] + 1, c_sel[0]:c_sel[-1] + 1]
    col = col[c_sel]
    row = row[r_sel]
    cstart = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])      # first site column of each cell
    rstart = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    sums = np.add.reduceat(np.add.reduceat(h, cstart, axis=1, dtype=np.float64), rstart, axis=0)
    cnt = np.outer(np.diff(np.r_[rstart, row.size]), np.diff(np.r_[cstart, col.size]))
    return int(row[0]), int(col[0]), sums / cnt, cnt


def _smoothstep_down(d: np.ndarray, width: float) -> np.ndarray:
    """1 at d <= 0, 0 at d >= width, smoothstep in between (zero slope at both ends)."""
    t = np.clip(d / width, 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


def _blend_window(proc, xs, ys, r0, c0, mean, extent, res, blend, level):
    """Heights (float64) of the window of cells within ``blend`` of the site footprint:

    ``S`` (the block mean) on covered cells; outside,
    ``P + w_long (E - P_low) + w_short (S_edge~ - E - (P - P_low)) + w_px (S_edge - S_edge~)``
    where ``P`` is the procedural relief, ``P_low`` its Gaussian low-pass, ``E`` the
    Gaussian-weighted extension of ``S`` (normalised convolution), ``S_edge`` the nearest edge
    cell of ``S`` and ``S_edge~`` the edge smoothed along itself (4 px); ``w_long`` is a
    smoothstep over ``blend``, ``w_short`` one over a quarter of it (at least four pixels: a
    crater cut by the site's edge must not leave a steep wall behind) and ``w_px`` one over four
    pixels (the edge's pixel-scale texture must not be drawn out into streaks). So the procedural detail
    continues up to the site, its low-frequency level bends to the site's over ``blend`` (no
    streaks), and the short band makes the surface continuous at the footprint's edge.
    """
    from scipy.ndimage import gaussian_filter, gaussian_filter1d

    n = proc.shape[0]
    sigma_px = max(blend / res / 3.0, 1.0)
    pad = int(math.ceil(blend / res + 3.0 * sigma_px)) + 1
    wr0, wr1 = max(r0 - pad, 0), min(r0 + mean.shape[0] + pad, n)
    wc0, wc1 = max(c0 - pad, 0), min(c0 + mean.shape[1] + pad, n)
    ir0, ic0 = r0 - wr0, c0 - wc0                                   # site block inside the window
    ir1, ic1 = ir0 + mean.shape[0], ic0 + mean.shape[1]
    p = proc[wr0:wr1, wc0:wc1].astype(np.float64)
    p_low = gaussian_filter(p, sigma_px, mode="nearest")
    m = np.zeros_like(p)
    m[ir0:ir1, ic0:ic1] = 1.0
    sm = np.zeros_like(p)
    sm[ir0:ir1, ic0:ic1] = mean
    num = gaussian_filter(sm, sigma_px, mode="constant")
    den = gaussian_filter(m, sigma_px, mode="constant")
    ext = np.where(den > 1e-9, num / np.maximum(den, 1e-9), level)
    ri = np.clip(np.arange(p.shape[0]) - ir0, 0, mean.shape[0] - 1)
    ci = np.clip(np.arange(p.shape[1]) - ic0, 0, mean.shape[1] - 1)
    edge = mean[np.ix_(ri, ci)]
    # the edge values smoothed along the edge (4 px): their pixel-scale part fades within 4 px,
    # or it would be drawn out into streaks perpendicular to the edge
    sm = mean.copy()
    if min(mean.shape) > 2:
        for rr in (0, -1):
            sm[rr, :] = gaussian_filter1d(mean[rr, :], 4.0, mode="nearest")
        for cc in (0, -1):
            sm[:, cc] = gaussian_filter1d(mean[:, cc], 4.0, mode="nearest")
    edge_s = sm[np.ix_(ri, ci)]
    sx0, sx1, sy0, sy1 = extent
    xw, yw = xs[wc0:wc1], ys[wr0:wr1]
    dx = np.maximum(np.maximum(sx0 - xw, xw - sx1), 0.0)
    dy = np.maximum(np.maximum(sy0 - yw, yw - sy1), 0.0)
    d = np.hypot(dy[:, None], dx[None, :])
    w_long = _smoothstep_down(d, blend)
    w_short = _smoothstep_down(d, min(blend, max(4.0 * res, 0.25 * blend)))
    w_px = _smoothstep_down(d, 4.0 * res)
    h = p + w_long * (ext - p_low) + w_short * (edge_s - ext - (p - p_low)) + w_px * (edge - edge_s)
    h[ir0:ir1, ic0:ic1] = mean
    return wr0, wr1, wc0, wc1, h


def _check_real(name, v, valid):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise invalid(name, v, valid)
    return float(v)


def regional_backdrop(
    site_terrain: Terrain,
    *,
    size_px: int,
    resolution_m: float,
    rng: int | np.random.Generator,
    center_enu_m: tuple[float, float] = (0.0, 0.0),
    age_gyr: float = CE4_SURFACE_AGE_GYR,
    blend_m: float = 1000.0,
    max_crater_diameter_m: float = MAX_SIMPLE_CRATER_DIAMETER_M,
    curvature: bool = True,
    max_memory_bytes: int = _DEFAULT_MEMORY_BUDGET,
    **generator_options,
) -> Terrain:
    """A ``size_px`` x ``size_px`` regional terrain at ``resolution_m`` around ``site_terrain``
    (module docstring for the model), heights in site-ENU z.

    Parameters
    ----------
    site_terrain : Terrain
        The site DEM (flat-site heights above the sphere = its ENU z).
    size_px : int
        Raster side in pixels, >= 16; :func:`farside.terrain.generate.estimate_site_bytes` of it
        must fit in ``max_memory_bytes`` (default 2 GiB; 5,632 px need 1.4 GiB by that estimate).
    resolution_m : float
        Pixel size in metres, at least the site's (16-64 m suits a descent camera above ~2 km).
    rng : int or numpy.random.Generator
        Root of the procedural relief's random streams.
    center_enu_m : (x, y)
        Site-ENU centre of the raster, metres; ``size_px * resolution_m`` is its width. The raster
        need not contain the whole site.
    age_gyr : float
        Surface age for the crater population (default: the Chang'e-4 floor, 3.25 Gyr).
    blend_m : float
        Width of the band outside the site footprint over which the site fades into the
        procedural relief, > 0 m.
    max_crater_diameter_m : float
        Largest crater (default 14.2 km; capped at half the raster width).
    curvature : bool
        Apply the Moon's curvature (default True; False keeps heights above the sphere).
    generator_options
        Passed to :func:`generate_site` (``roughness_*``, ``regional_slope_*``); rocks are off.
    """
    if not isinstance(site_terrain, Terrain):
        raise invalid("site_terrain", type(site_terrain).__name__, "a farside.terrain.Terrain")
    if isinstance(size_px, bool) or not isinstance(size_px, numbers.Integral) or int(size_px) < 16:
        raise invalid("size_px", size_px, "an integer >= 16")
    n = int(size_px)
    res = _check_real("resolution_m", resolution_m, f"a finite pixel size >= the site's "
                      f"{site_terrain.resolution_m} m")
    if res < site_terrain.resolution_m:
        raise invalid("resolution_m", resolution_m, f"a finite pixel size >= the site's {site_terrain.resolution_m} m")
    try:
        cx, cy = (float(v) for v in center_enu_m)
    except (TypeError, ValueError):
        raise invalid("center_enu_m", center_enu_m, "two finite numbers (x, y) in metres") from None
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise invalid("center_enu_m", center_enu_m, "two finite numbers (x, y) in metres")
    blend = _check_real("blend_m", blend_m, "a finite width > 0 m")
    if blend <= 0:
        raise invalid("blend_m", blend_m, "a finite width > 0 m")
    dmax = _check_real("max_crater_diameter_m", max_crater_diameter_m, f"a finite diameter > {2 * res} m (2 px)")
    if dmax <= 2.0 * res:
        raise invalid("max_crater_diameter_m", max_crater_diameter_m, f"a finite diameter > {2 * res} m (2 px)")
    width = n * res
    if math.hypot(abs(cx) + width / 2, abs(cy) + width / 2) >= 0.5 * MOON_RADIUS_M:
        raise invalid("size_px", size_px, f"a raster whose corners lie within {0.5 * MOON_RADIUS_M / 1e3:.0f} km "
                      "of the site (a tangent-plane grid is meaningless further out)")
    bad = {"rock_abundance", "ejecta_rock_abundance", "min_rock_diameter_m", "elevation_m", "anchor_lat_deg",
           "anchor_lon_deg", "max_crater_diameter_m", "age_gyr"} & set(generator_options)
    if bad:
        raise invalid("generator_options", sorted(bad), "generate_site options other than rocks, elevation, anchor")
    budget = _check_real("max_memory_bytes", max_memory_bytes, "a positive number of bytes")
    if estimate_site_bytes(n) > budget:
        raise invalid("size_px", size_px, f"a size whose working memory ({estimate_site_bytes(n) / 2**30:.2f} GiB) "
                      f"fits in max_memory_bytes = {budget / 2**30:.2f} GiB")
    site_h = site_terrain.heights
    level = float(np.mean(site_h, dtype=np.float64))
    gen = generate_site(n, res, rng=rng, age_gyr=age_gyr, rock_abundance=0.0, ejecta_rock_abundance=0.0,
                        elevation_m=level, max_crater_diameter_m=min(dmax, width / 2.0),
                        anchor_lat_deg=site_terrain.anchor_lat_deg, anchor_lon_deg=site_terrain.anchor_lon_deg,
                        max_memory_bytes=budget, **generator_options)
    proc = gen.terrain.heights      # float32; a stationary random field, so it is simply re-georeferenced
    x0, y0 = cx - width / 2.0, cy + width / 2.0
    xs = x0 + (np.arange(n) + 0.5) * res
    ys = y0 - (np.arange(n) + 0.5) * res

    # the site, block-averaged (covered cells), blended outward in two bands (module docstring)
    bm = _block_mean(site_terrain, x0, y0, res, n)
    n_site = 0
    win = None
    if bm is not None:
        r0, c0, mean, cnt = bm
        n_site = int(cnt.size)
        win = _blend_window(proc, xs, ys, r0, c0, mean, site_terrain.extent_m, res, blend, level)
    out = np.empty((n, n), np.float32)
    for i in range(0, n, 256):          # in row blocks: the float64 temporaries stay small
        blk = proc[i:i + 256].astype(np.float64)
        if win is not None:
            wr0, wr1, wc0, wc1, hw = win
            lo, hi = max(i, wr0), min(i + 256, wr1)
            if lo < hi:
                blk[lo - i:hi - i, wc0:wc1] = hw[lo - wr0:hi - wr0]
        out[i:i + 256] = sphere_height_to_enu_z(blk, xs[None, :], ys[i:i + 256, None]) if curvature else blk
    meta = {"source": "farside.terrain.regional_backdrop", "heights": "site-ENU z" if curvature else
            "height above the reference sphere", "curvature": bool(curvature), "site_level_m": level,
            "blend_m": blend, "center_enu_m": [cx, cy], "site_cells": n_site,
            **{k: v for k, v in gen.params.items() if k not in ("size_px", "resolution_m")},
            "size_px": n, "resolution_m": res, "craters": int(len(gen.craters))}
    return Terrain(out, res, x0_m=x0, y0_m=y0, anchor_lat_deg=site_terrain.anchor_lat_deg,
                   anchor_lon_deg=site_terrain.anchor_lon_deg, meta=meta)


def backdrop_elevation(backdrop: Terrain) -> Terrain:
    """The backdrop as an ordinary DEM (heights above the reference sphere), e.g. for
    :func:`farside.terrain.write_dem`; a backdrop built with ``curvature=False`` is returned as is."""
    if not isinstance(backdrop, Terrain):
        raise invalid("backdrop", type(backdrop).__name__, "a farside.terrain.Terrain")
    if not backdrop.meta.get("curvature", False):
        return backdrop
    h = enu_z_to_sphere_height(backdrop.heights, backdrop.x_m[None, :], backdrop.y_m[:, None])
    meta = {**backdrop.meta, "heights": "height above the reference sphere", "curvature": False}
    return backdrop.replace(heights=h.astype(np.float32), meta=meta)
