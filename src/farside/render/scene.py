"""The :class:`Scene`: per-DEM precomputation reused across frames.

A scene holds the heightfield (float64 copy), its max-mip pyramid (the acceleration structure:
level 0 stores each cell's maximum corner height, level k the maximum over 2 x 2 cells of level
k-1; rays skip any cell whose maximum is below them) and a sun-horizon *margin map*: for every
DEM vertex, the sun's elevation minus the terrain horizon's elevation toward the sun (radians,
clipped to +-``clip``). The margin map is filled lazily in 64 x 64-vertex tiles, only where a
frame's pixels land, and kept while the sun direction stays within ``sun_reuse_tol_rad`` of the
one it was computed for (the Sun moves ~0.5 deg per hour at the Moon; a 12-minute descent
reuses one map).

A scene may also carry the site's *sub-DEM rocks* (``rocks=``): the rocks of the site's table
too small to be stamped into the DEM (see :mod:`farside.render._rocks`), rendered as exact
convex polyhedra (:func:`farside.terrain.rocks.rock_shapes`, the one rock shape of every
consumer) by a post-pass of :func:`farside.render.render`.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from farside import constants as C
from farside.errors import invalid
from farside.render._kernels import SUPER_BLOCK
from farside.render._kernels_horizon import fill_margin_tiles
from farside.render._kernels_rays import bounding_ball_radius
from farside.render._kernels_trace import build_pyramid
from farside.terrain._kernels_rockshape import seats_kernel
from farside.terrain.rocks import rock_shapes
from farside.render._rocks import RockBins
from farside.terrain import Terrain

__all__ = ["Scene", "SUN_RADIUS_RAD", "ROCK_DEM_MIN_PIXELS"]

#: Rocks wider than this many DEM pixels are in the DEM already: the default ``min_pixels`` of
#: :func:`farside.terrain.rocks.stamp_rocks`, which :func:`farside.terrain.generate_site` uses.
ROCK_DEM_MIN_PIXELS = 2.0
_ROCK_COLUMNS = ("x_m", "y_m", "diameter_m", "height_m")

#: Angular radius of the solar disk seen from the Moon (0.533 deg diameter at 1 AU).
SUN_RADIUS_RAD = math.radians(0.533 / 2)

_TILE = 64
#: side, in vertices, of the blocks whose min/max heights (``block_min``, ``block_max``) bound a view
BLOCK = 8


def _reduce_blocks(b: np.ndarray, op) -> np.ndarray:
    """``op`` (np.minimum / np.maximum) over SUPER_BLOCK x SUPER_BLOCK groups of ``b`` (edge-padded)."""
    s = SUPER_BLOCK
    pr, pc = -b.shape[0] % s, -b.shape[1] % s
    bp = np.pad(b, ((0, pr), (0, pc)), mode="edge").reshape((b.shape[0] + pr) // s, s, (b.shape[1] + pc) // s, s)
    return np.ascontiguousarray(op.reduce(op.reduce(bp, axis=3), axis=1))


def _unit_sun(sun_dir_enu) -> np.ndarray:
    s = np.asarray(sun_dir_enu, dtype=float)
    if s.shape != (3,) or not np.all(np.isfinite(s)) or np.linalg.norm(s) == 0:
        raise invalid("sun_dir_enu", sun_dir_enu, "three finite numbers, not all zero (ENU direction to the Sun)")
    return s / np.linalg.norm(s)


class Scene:
    """A terrain prepared for rendering. Build once per DEM; pass to :func:`farside.render.render`.

    Parameters
    ----------
    terrain : farside.terrain.Terrain
        The DEM (NaN heights are not allowed; fill them first).
    rocks : pandas.DataFrame or mapping of arrays, keyword-only
        The site's rock table (columns ``x_m, y_m`` site ENU centre, ``diameter_m``,
        ``height_m``; e.g. ``Site.rocks`` of :func:`farside.terrain.generate_site`). Only the
        rocks *not* already in the DEM are kept: diameter <= ``rock_dem_min_pixels`` DEM pixels
        (:func:`farside.terrain.rocks.stamp_rocks` stamps the wider ones), centre on the DEM.
        They are rendered as their seeded polyhedra (:func:`farside.terrain.rocks.rock_shapes`)
        standing on the DEM mesh (the seat: its mean at the centre and +-R/2 along x and y),
        with their cast shadows. None (default) or no such rock: the terrain
        only, exactly as without the argument.
    rock_dem_min_pixels : float, keyword-only
        The cut between DEM rocks and table rocks, in DEM pixels (default
        :data:`ROCK_DEM_MIN_PIXELS` = 2, stamp_rocks's default).
    albedo_seed : int, keyword-only
        Give the terrain of this scene the regolith's albedo mottling,
        :func:`farside.terrain.albedo_factor` of this seed (a multiplicative factor on the
        reflectance, ~8 % RMS, defined in world coordinates); None (default): uniform albedo.
    sun_reuse_tol_rad : float, keyword-only
        Reuse the cached margin map while the sun direction differs from the cached one by less
        than this angle (default 0.05 deg). Shading always uses the exact sun direction.

    Attributes
    ----------
    rocks : RockBins or None
        The table rocks kept (``len(scene.rocks)``) and their bin grid; None without any.
    """

    def __init__(self, terrain: Terrain, *, rocks=None, rock_dem_min_pixels: float = ROCK_DEM_MIN_PIXELS,
                 sun_reuse_tol_rad: float = math.radians(0.05), albedo_seed: int | None = None) -> None:
        if not isinstance(terrain, Terrain):
            raise invalid("terrain", type(terrain).__name__, "a farside.terrain.Terrain")
        h = terrain.heights
        if not np.all(np.isfinite(h)):
            raise invalid("terrain.heights", "contains NaN/inf", "finite heights everywhere (fill voids first)")
        tol = float(sun_reuse_tol_rad)
        if not (math.isfinite(tol) and 0.0 <= tol < 0.1):
            raise invalid("sun_reuse_tol_rad", sun_reuse_tol_rad, "a finite angle in [0, 0.1) rad")
        self.terrain = terrain
        self.heights = np.ascontiguousarray(h, dtype=np.float32)   # shared with the Terrain, no copy
        #: the terrain's vertical datum: the scene works in site ENU shifted down by it (render()
        #: moves the camera into that frame and the surface points back)
        self.datum_m = float(terrain.datum_m)
        self.resolution_m = terrain.resolution_m
        self.x0_m = terrain.x0_m
        self.y0_m = terrain.y0_m
        self.zmax = float(h.max())
        self.zmin = float(h.min())
        self.mip, self.mip_offs, self.mip_rows, self.mip_cols = build_pyramid(self.heights)
        # min/max over 8 x 8-vertex blocks: per-frame height bounds of the visible region
        nr, nc = h.shape
        pr, pc = -nr % BLOCK, -nc % BLOCK
        hp = np.pad(h, ((0, pr), (0, pc)), mode="edge").reshape((nr + pr) // BLOCK, BLOCK, (nc + pc) // BLOCK,
                                                                 BLOCK)
        self.block_min = hp.min(axis=(1, 3))
        self.block_max = hp.max(axis=(1, 3))
        # super-blocks of SUPER_BLOCK x SUPER_BLOCK blocks, for long footprints (render_pass)
        self.block_min2 = _reduce_blocks(self.block_min, np.minimum)
        self.block_max2 = _reduce_blocks(self.block_max, np.maximum)
        self.ball = self._bounding_ball()
        self.sun_reuse_tol_rad = tol
        self._sun: np.ndarray | None = None
        self._clip = 0.0
        self._margin: np.ndarray | None = None
        self._done: np.ndarray | None = None
        self._lock = threading.Lock()
        self.rocks: RockBins | None = None
        if rocks is not None:
            self.rocks = self._rock_bins(rocks, rock_dem_min_pixels)
        if albedo_seed is not None and (isinstance(albedo_seed, bool) or not isinstance(albedo_seed, (int, np.integer))
                                        or albedo_seed < 0):
            raise invalid("albedo_seed", albedo_seed, "a non-negative integer or None")
        #: the regolith's albedo mottling (farside.terrain.albedo_factor of this seed) on this scene's
        #: pixels; None: uniform albedo
        self.albedo_seed = None if albedo_seed is None else int(albedo_seed)

    def __getstate__(self) -> dict:
        """Pickle without the lock and the lazily filled sun-margin tiles (a run's checkpoint;
        they are rebuilt on demand, with identical values)."""
        d = self.__dict__.copy()
        d.pop("_lock", None)
        d.update(_sun=None, _clip=0.0, _margin=None, _done=None)
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._lock = threading.Lock()

    def _bounding_ball(self) -> np.ndarray:
        """(cx, cy, cz, r): a ball about the Moon's centre (0, 0, -R in site ENU, z = height above
        the reference sphere) holding every vertex, plus 1 m (rounding in the ray-ball test).
        Rays that leave it cannot meet the mesh again (render_pass): this bounds the grazing rays
        over a backdrop whose heights carry the Moon's curvature. A flat DEM (no ``curvature`` in
        its meta) gets an infinite radius, which render_pass skips: there it would bound nothing
        and cost ~10 % of a nadir frame."""
        cz = -C.MOON_RADIUS_M - self.datum_m
        if not self.terrain.meta.get("curvature", False):
            return np.array([0.0, 0.0, cz, np.inf])          # a flat DEM: no test (see render_pass)
        r = bounding_ball_radius(self.heights, float(self.x0_m), float(self.y0_m), float(self.resolution_m),
                                 0.0, 0.0, cz)
        return np.array([0.0, 0.0, cz, r + 1.0])

    def __repr__(self) -> str:
        nr = 0 if self.rocks is None else len(self.rocks)
        return f"Scene({self.terrain!r}, levels={len(self.mip_offs)}, table_rocks={nr})"

    def _rock_bins(self, rocks, min_pixels) -> RockBins | None:
        """Validate the rock table, keep the rocks not in the DEM and bin them."""
        mp = float(min_pixels) if isinstance(min_pixels, (int, float, np.number)) else math.nan
        if not (math.isfinite(mp) and mp > 0):
            raise invalid("rock_dem_min_pixels", min_pixels, "a finite number of DEM pixels > 0")
        cols = {}
        for name in _ROCK_COLUMNS:
            try:
                col = rocks[name]
            except (KeyError, TypeError, IndexError, ValueError):
                raise invalid("rocks", type(rocks).__name__,
                              "a table (DataFrame or mapping) with columns " + ", ".join(_ROCK_COLUMNS)) from None
            try:
                a = np.asarray(col, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                raise invalid(f"rocks.{name}", "non-numeric values", "finite numbers") from None
            bad = ~np.isfinite(a)
            if bad.any():
                k = int(np.argmax(bad))
                raise invalid(f"rocks.{name}[{k}]", float(a[k]), "a finite number")
            cols[name] = a
        n = cols["x_m"].size
        if any(a.size != n for a in cols.values()):
            raise invalid("rocks", {k: a.size for k, a in cols.items()}, "columns of equal length")
        for name in ("diameter_m", "height_m"):
            bad = cols[name] <= 0
            if bad.any():
                k = int(np.argmax(bad))
                raise invalid(f"rocks.{name}[{k}]", float(cols[name][k]), "a size > 0 m")
        res = self.resolution_m
        nr, nc = self.heights.shape
        x, y, d, hgt = cols["x_m"], cols["y_m"], cols["diameter_m"], cols["height_m"]
        keep = ((d <= mp * res) & (x >= self.x0_m + 0.5 * res) & (x <= self.x0_m + (nc - 0.5) * res)
                & (y <= self.y0_m - 0.5 * res) & (y >= self.y0_m - (nr - 0.5) * res))
        if not keep.any():
            return None
        x, y, d, hgt = x[keep], y[keep], d[keep], hgt[keep]
        shapes = rock_shapes(np.column_stack([x, y, d, hgt]))
        base = seats_kernel(self.heights, float(self.x0_m), float(self.y0_m), float(res), shapes)
        # bins as wide as the widest rock the table can hold (a footprint, <= 1.7 D wide, touches
        # at most 3 x 3 bins)
        bin_m = max(mp * res, 0.25)
        return RockBins(shapes, base, x0_m=self.x0_m, y0_m=self.y0_m, width_m=nc * res,
                        height_extent_m=nr * res, bin_m=bin_m)

    @property
    def shadow_sun_dir_enu(self) -> np.ndarray | None:
        """The sun direction the cached margin map was computed for (None before the first)."""
        return None if self._sun is None else self._sun.copy()

    def _prepare_sun(self, sun: np.ndarray, clip: float) -> None:
        if self._sun is not None and clip <= self._clip:
            ang = math.acos(min(1.0, float(np.dot(sun, self._sun))))
            if ang <= self.sun_reuse_tol_rad:
                return
        nr, nc = self.heights.shape
        self._sun = sun.copy()
        self._clip = clip
        self._margin = np.zeros((nr, nc), np.float32)
        self._done = np.zeros(((nr + _TILE - 1) // _TILE, (nc + _TILE - 1) // _TILE), bool)

    def _shadow_arrays(self, sun: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray, int]:
        """(margin map, per-tile done flags, tile size) for ``sun``, reset if the Sun moved."""
        with self._lock:
            self._prepare_sun(sun, clip)
            return self._margin, self._done, _TILE

    def margin_map(self, sun_dir_enu, *, rows=None, cols=None, clip_rad: float = math.radians(1.0)) -> np.ndarray:
        """Sun elevation minus horizon elevation toward the Sun at each vertex (radians).

        Fills the tiles containing the vertex indices ``rows``/``cols`` (all tiles when None)
        and returns the whole (partly filled) map; unfilled tiles hold 0.
        """
        sun = _unit_sun(sun_dir_enu)
        with self._lock:
            self._prepare_sun(sun, clip_rad)
            done = self._done
            if rows is None:
                need = ~done
            else:
                need = np.zeros_like(done)
                rr = np.clip(np.asarray(rows, np.int64) // _TILE, 0, done.shape[0] - 1)
                cc = np.clip(np.asarray(cols, np.int64) // _TILE, 0, done.shape[1] - 1)
                need[rr, cc] = True
                # vertices of a hit cell may lie in the next tile
                need[np.minimum(rr + 1, done.shape[0] - 1), cc] = True
                need[rr, np.minimum(cc + 1, done.shape[1] - 1)] = True
                need[np.minimum(rr + 1, done.shape[0] - 1), np.minimum(cc + 1, done.shape[1] - 1)] = True
                need &= ~done
            tr, tc = np.nonzero(need)
            if tr.size:
                s = self._sun
                horiz = math.hypot(s[0], s[1])
                elev = math.atan2(s[2], horiz)
                if horiz < 1e-12:          # sun at the zenith: nothing is shadowed
                    self._margin[:] = self._clip
                    self._done[:] = True
                else:
                    cu_dir = s[0] / horiz
                    cv_dir = -s[1] / horiz
                    elev_c = min(elev, math.pi / 2 - self._clip - 1e-6)
                    fill_margin_tiles(self.heights, self.mip, self.mip_offs, self.mip_rows, self.mip_cols,
                                      self.zmax, tr.astype(np.int64), tc.astype(np.int64), _TILE, cu_dir, cv_dir,
                                      self.resolution_m, elev_c, self._clip, self._margin)
                    done[tr, tc] = True
            return self._margin
