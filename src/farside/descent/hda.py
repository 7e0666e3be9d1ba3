"""Hazard detection and avoidance: coarse (LCAM optical image) and fine (laser 3-D imager).

The CE-3 "relay avoidance" scheme (docs/references.md 2.4): from about 2 km a grey-level image marks
large hazards (crater shadows, bright rocks, rough texture) and the approach is re-targeted; at the
100 m hover an elevation map from the 3-D imager gives slope and protrusion maps and the safest
reachable point is chosen.

Selection rule (both stages): hazard pixels are marked, the clearance (distance to the nearest
hazard or unknown pixel) is computed with a Euclidean distance transform, and among the points
within the divert capability whose clearance is at least the safe radius, the one maximising
``min(clearance, 2 * safe_radius) - weight * divert`` is chosen. If none qualifies, the point of
largest clearance within reach is taken and ``found_safe`` is False.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from farside.descent import _kernels_hazard as K
from farside.descent._kernels_surface import rocks_window
from farside.descent.lander import HdaSettings

__all__ = ["HazardMap", "SiteHazards", "prepare_hazards", "rocks_near", "select_safe_point", "fine_hazard_map", "coarse_hazard_map"]

#: no lookup table: ``K.select_cells`` reads metres directly
_NO_TABLE = np.empty(0)


@dataclass(frozen=True, eq=False)
class HazardMap:
    """A hazard raster on a square grid, row 0 = north.

    ``x0_m``/``y0_m`` are the ENU coordinates of the north-west corner of the grid, in the frame
    the map was measured in (site ENU for the coarse map, the lander's nadir-relative frame for the
    fine map). ``hazard`` is True where landing is unsafe or unknown. ``slope_deg`` and
    ``protrusion_m`` are filled for the fine map, ``image`` (the LCAM frame the coarse map came
    from, ground-projected) for the coarse one.
    """

    hazard: np.ndarray
    spacing_m: float
    x0_m: float
    y0_m: float
    slope_tan: np.ndarray | None = None     # fine map: tan(slope), float64 (NaN = unknown)
    protrusion_m: np.ndarray | None = None
    image: np.ndarray | None = None
    obstacle: np.ndarray | None = None      # fine map: protrusion hazards (the rest of ``hazard`` is slope)
    slope_credit_m: float = 0.0             # fine map: clearance credit of slope-only hazards

    @functools.cached_property
    def slope_deg(self) -> np.ndarray | None:
        """Fine map: slope in degrees, float32 (computed on first use; the flight software
        thresholds ``slope_tan``)."""
        return None if self.slope_tan is None else K.tan_to_deg32(self.slope_tan)

    def xy(self, i, j):
        """ENU (x, y) of cell centres (i = row, j = column)."""
        return self.x0_m + (np.asarray(j) + 0.5) * self.spacing_m, self.y0_m - (np.asarray(i) + 0.5) * self.spacing_m

    @property
    def extent_m(self) -> tuple[float, float, float, float]:
        n0, n1 = self.hazard.shape
        return (self.x0_m, self.x0_m + n1 * self.spacing_m, self.y0_m - n0 * self.spacing_m, self.y0_m)

    @functools.cached_property
    def clearance_m(self) -> np.ndarray:
        """Distance from each cell centre to the nearest hazard cell centre, metres (cached; exact
        Euclidean transform, inf when there is no hazard).

        On a fine map, slope hazards (whose footprint window already spans the footpads) count
        ``slope_credit_m`` farther away than protrusions (which must clear the whole body):
        ``min(d_slope + credit, d_obstacle)``.
        """
        if self.obstacle is None or self.slope_credit_m <= 0.0:
            return K.edt(self.hazard) * self.spacing_m
        ds = K.edt(self.hazard & ~self.obstacle) * self.spacing_m
        do = K.edt(self.obstacle) * self.spacing_m
        return np.minimum(ds + self.slope_credit_m, do)

    def _squared_clearance_within(self, cap_m: float):
        """``(q, tab)``: squared clearance in cells (uint16, exact up to ``cap_m`` plus two cells)
        and ``tab[k] = sqrt(k) * spacing_m``, so that ``tab[q]`` is ``clearance_within(cap_m)``;
        None where that form does not apply (exact clearance already computed, slope credit,
        caps beyond 254 cells). Cached per cap."""
        if "clearance_m" in self.__dict__ or (self.obstacle is not None and self.slope_credit_m > 0.0):
            return None
        r = int(math.floor(cap_m / self.spacing_m)) + 2
        if r > 254:
            return None
        cache = self.__dict__.setdefault("_sq_clearance_cache", {})
        if r not in cache:
            k = np.arange((r + 1) ** 2 + 1, dtype=np.float64)
            cache[r] = (K.edt_capped_sq(self.hazard, r), np.sqrt(k) * self.spacing_m)
        return cache[r]

    def clearance_within(self, cap_m: float) -> np.ndarray:
        """``clearance_m`` where it is at most ``cap_m``, some larger value elsewhere (cheaper: the
        transform looks no farther than ``cap_m`` plus two cells); cached per cap."""
        if "clearance_m" in self.__dict__:
            return self.clearance_m
        r = int(math.floor(cap_m / self.spacing_m)) + 2
        cache = self.__dict__.setdefault("_clearance_within", {})
        if r not in cache:
            sp = self.spacing_m
            if self.obstacle is None or self.slope_credit_m <= 0.0:
                cache[r] = K.edt_capped(self.hazard, r) * sp
            else:
                ds = K.edt_capped(self.hazard & ~self.obstacle, r) * sp
                do = K.edt_capped(self.obstacle, r) * sp
                cache[r] = np.minimum(ds + self.slope_credit_m, do)
        return cache[r]


def select_safe_point(hmap: HazardMap, x_plan: float, y_plan: float, *, safe_radius_m: float,
                      divert_max_m: float, divert_weight: float) -> tuple[float, float, bool, float]:
    """Safest reachable point of ``hmap`` near the planned point: ``(x, y, found_safe, clearance_m)``.

    The rule compares clearances with ``safe_radius_m`` and caps them at twice that, so the
    clearance is needed only that far (``HazardMap.clearance_within``); the returned clearance of
    the chosen cell is exact up to ``2 * safe_radius_m`` and at least that beyond.
    """
    args = (float(hmap.x0_m), float(hmap.y0_m), float(hmap.spacing_m), float(x_plan), float(y_plan),
            float(safe_radius_m), float(divert_max_m), float(divert_weight))
    sq = hmap._squared_clearance_within(2.0 * safe_radius_m)
    if sq is not None:
        q, tab = sq
        i, j, found = K.select_cells(q, tab, *args)
        c = float(tab[q[i, j]]) if i >= 0 else 0.0
    else:
        clear = hmap.clearance_within(2.0 * safe_radius_m)
        i, j, found = K.select_cells(clear, _NO_TABLE, *args)
        c = float(clear[i, j]) if i >= 0 else 0.0
    if i < 0:
        return float(x_plan), float(y_plan), False, 0.0
    xs, ys = hmap.xy(i, j)
    return float(xs), float(ys), bool(found), c


def fine_hazard_map(z_rel: np.ndarray, spacing_m: float, *, settings: HdaSettings, footprint_m: float) -> HazardMap:
    """Slope, protrusion and hazard maps from a 3-D imager elevation grid centred on the nadir.

    ``z_rel`` (n, n) heights relative to the sensor, row 0 = north; ``footprint_m`` is the slope
    baseline (footpad diameter). A cell is a slope hazard if the plane over its footprint window, or
    the plane through the four footpads placed around it (at the held yaw), is steeper than
    ``max_slope_deg`` (the window already spans the footpads, so a touchdown point
    needs only ``slope_margin_m`` from such cells), an obstacle if it protrudes more than
    ``max_obstacle_m`` from that plane (it must clear the whole body: ``safe_radius_m``). Cells
    whose window leaves the scan are unknown (hazard).
    """
    n = z_rel.shape[0]
    k = max(1, int(round(0.5 * footprint_m / spacing_m)))
    z = np.ascontiguousarray(z_rel, dtype=np.float64)
    slope_tan, prot, obstacle, hazard = K.fine_maps(z, float(spacing_m), k, 0.5 * footprint_m,
                                                    math.tan(math.radians(settings.max_slope_deg)),
                                                    float(settings.max_obstacle_m))
    half = 0.5 * n * spacing_m
    return HazardMap(hazard=hazard, spacing_m=float(spacing_m), x0_m=-half, y0_m=half,
                     slope_tan=slope_tan, protrusion_m=prot, obstacle=obstacle,
                     slope_credit_m=max(0.0, settings.safe_radius_m - settings.slope_margin_m))


def coarse_hazard_map(image: np.ndarray, spacing_m: float, x0_m: float, y0_m: float, *,
                      shadow_frac: float = 0.35, bright_frac: float = 2.2, texture_sigma: float = 0.25,
                      shading_dev: float = 0.20, window_px: int = 9, shading_window_px: int = 31) -> HazardMap:
    """Coarse hazards from a ground-projected grey-level LCAM image (docs/references.md 2.4).

    ``image`` is the nadir LCAM frame resampled onto a ground grid (row 0 = north) of
    ``spacing_m``; a pixel is a hazard if it is in shadow (darker than ``shadow_frac`` x the median:
    crater interiors facing away from the Sun), very bright (above ``bright_frac`` x the median:
    sunlit rock faces and fresh crater walls) or in rough texture (local standard deviation over
    ``window_px`` above ``texture_sigma`` x the median) or tilted (shading departing from the mean
    over ``shading_window_px`` by more than ``shading_dev`` x the median: with the Sun ~30 deg
    high, an 8 deg slope toward or away from it changes the brightness by ~15-20 %). Hazards are then
    dilated by half a texture window.
    """
    img = np.asarray(image, dtype=np.float64)
    med = float(np.median(img[np.isfinite(img)])) if np.isfinite(img).any() else 0.0
    med = max(med, 1e-6)
    valid = np.isfinite(img)
    im = np.where(valid, img, med)
    mean = ndimage.uniform_filter(im, size=window_px, mode="nearest")
    var = ndimage.uniform_filter(im * im, size=window_px, mode="nearest") - mean * mean
    std = np.sqrt(np.maximum(var, 0.0))
    smooth = ndimage.uniform_filter(im, size=3, mode="nearest")
    broad = ndimage.uniform_filter(im, size=shading_window_px, mode="nearest")
    hazard = ((im < shadow_frac * med) | (im > bright_frac * med) | (std > texture_sigma * med)
              | (np.abs(smooth - broad) > shading_dev * med) | ~valid)
    hazard = ndimage.binary_dilation(hazard, iterations=max(1, window_px // 2))
    return HazardMap(hazard=hazard, spacing_m=float(spacing_m), x0_m=float(x0_m), y0_m=float(y0_m),
                     image=img.astype(np.float32))


@dataclass(frozen=True, eq=False)
class SiteHazards:
    """Per-site data reused by every landing on the same site (build with :func:`prepare_hazards`).

    ``heights`` is the truth DEM, ``rocks`` the (n, 4) array (x, y, diameter, height) of rocks that
    are not already in the DEM, sorted by x (their polyhedra are built for the windows the scans
    and the touchdown check use: :func:`farside.descent.touchdown.shaped_rocks`),
    ``reference_height_m`` the flight software's prior elevation of the landing area, ``coarse``
    the LCAM coarse hazard map (None: no coarse avoidance), ``lcam_frame`` the rendered frame it
    came from.
    """

    terrain: object
    rocks: np.ndarray
    reference_height_m: float
    coarse: HazardMap | None = None
    lcam_frame: object | None = None

    @functools.cached_property
    def rocks_max_diameter_m(self) -> float:
        return float(np.max(self.rocks[:, 2])) if self.rocks.shape[0] else 0.0


def site_reference_height(terrain) -> float:
    """The flight software's prior elevation of the landing area: median height within 200 m."""
    x, y = terrain.x_m, terrain.y_m
    near = (np.abs(x)[None, :] <= 200.0) & (np.abs(y)[:, None] <= 200.0)
    h = terrain.heights[near] if near.any() else terrain.heights.ravel()
    h = h[np.isfinite(h)]
    return float(np.median(h))


def _rocks_not_in_dem(site, terrain) -> np.ndarray:
    rocks = getattr(site, "rocks", None)
    if rocks is None or len(rocks) == 0:
        return np.zeros((0, 4))
    arr = np.column_stack([np.asarray(rocks[c], dtype=np.float64) for c in ("x_m", "y_m", "diameter_m", "height_m")])
    if terrain.meta.get("source") == "farside.terrain.generate_site":
        # generate_site stamps rocks wider than two pixels into the DEM (terrain.generate)
        arr = arr[arr[:, 2] <= 2.0 * terrain.resolution_m]
    arr = arr[np.argsort(arr[:, 0], kind="stable")]          # sorted by x for window queries
    return np.ascontiguousarray(arr)


def rocks_near(rocks: np.ndarray, x: float, y: float, half_m: float, *,
               max_diameter_m: float | None = None) -> np.ndarray:
    """Rocks (sorted by x) that may reach the square of half-width ``half_m`` around (x, y) (a
    rock's polyhedron and fillet reach at most 0.85 D from its centre).

    ``max_diameter_m``: the largest diameter in ``rocks`` if known (``SiteHazards.rocks_max_diameter_m``).
    """
    if rocks.shape[0] == 0:
        return rocks
    dmax = float(np.max(rocks[:, 2])) if max_diameter_m is None else float(max_diameter_m)
    return rocks_window(rocks, float(x), float(y), half_m + 1.0 + dmax)


def prepare_hazards(site, *, sun_dir_enu=None, lander=None, rng: np.random.Generator | None = None,
                    time_utc: str | None = None) -> SiteHazards:
    """Per-site hazard data: the truth surface pieces and, given the Sun, the coarse LCAM map.

    With ``sun_dir_enu`` an LCAM frame is rendered (Hapke photometry, hard shadows, the LCAM
    sensor model with ``rng``) looking straight down from ``coarse_hda_height_m`` above the nominal
    aim point, and :func:`coarse_hazard_map` is run on it. The flight software projects pixels onto
    the level plane of the site's reference elevation (the camera pose is known, the relief is
    not). The same map then serves every landing of a campaign on this site (the vehicle's
    position at 2 km differs by at most a few hundred metres from the nominal one).
    """
    from farside.descent.lander import CE4_LANDER
    from farside.errors import invalid

    terrain = getattr(site, "terrain", site)
    if not hasattr(terrain, "heights") or not hasattr(terrain, "resolution_m"):
        raise invalid("site", type(site).__name__, "a farside.terrain.Site or Terrain")
    lander = CE4_LANDER if lander is None else lander
    rocks = _rocks_not_in_dem(site, terrain)
    h_ref = site_reference_height(terrain)
    if sun_dir_enu is None:
        return SiteHazards(terrain=terrain, rocks=rocks, reference_height_m=h_ref)
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator (the LCAM sensor noise)")
    from farside.render import Scene, Sensor, lcam, render

    height = lander.profile.coarse_hda_height_m
    cam = lcam(position_enu=(0.0, 0.0, h_ref + height))
    frame = render(Scene(terrain), cam, sun_dir_enu=sun_dir_enu, photometry="hapke", shadows="hard",
                   layers="minimal", sensor=Sensor(), rng=rng, time_utc=time_utc)
    img = np.asarray(frame.dn, dtype=np.float64)
    img = np.where(np.isnan(frame.range_m), np.nan, img)          # sky: beyond the DEM
    s = height * cam.pixel_pitch_m / cam.focal_length_m              # ground metres per pixel (nadir)
    x0 = (-0.5 - cam.cx_px) * s
    y0 = (0.5 + cam.cy_px) * s
    coarse = coarse_hazard_map(img, s, x0, y0)
    return SiteHazards(terrain=terrain, rocks=rocks, reference_height_m=h_ref, coarse=coarse, lcam_frame=frame)
