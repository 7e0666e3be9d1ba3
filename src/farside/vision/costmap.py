"""Local elevation map fused over stereo stops, and the rover's hazard costmap from it.

Elevation map
-------------
A square grid aligned with site ENU (row 0 = north edge, like the terrain rasters), cell centres
``x = x0_m + (j + 0.5) res``, ``y = y0_m - (i + 0.5) res``, with ``x0_m``/``y0_m`` on the world
lattice of pitch ``res`` (so maps built around different centres share cells exactly). Per stop,
the points falling in a cell give an inverse-variance weighted mean height and a cell variance
equal to the points' harmonic-mean variance (points of one stop share the matcher's smoothing, so
their errors are not treated as independent); the stops are then fused by inverse variance. The
per-point variance comes from the stereo range error, which grows as range squared
(:mod:`farside.vision.stereo`). NaN height = unknown (never observed).

Hazard costmap
--------------
On the map (only known cells take part):

* **slope**: least-squares plane over a square window of side ``max(wheelbase, track)`` around each
  cell (weighted box-filter moments); ``slope_deg = atan |grad|``. Two passes: the second fit
  leaves out the cells (and their 8 neighbours) whose first-pass step exceeds half the step limit
  (a rock tilts the plane fitted around it);
* **roughness**: RMS residual from that plane;
* **step**: height of the cell above the lowest known cell of a square window of side
  ``step_window_m`` (default half the wheelbase) centred on it, less the drop the fitted plane
  alone makes from the centre to a window corner, ``s/2 (|gx| + |gy|)``: the height of a rock or
  ledge above the ground around it, insensitive to the regional tilt. Only the raised cells get
  the step (the ground beside a rock does not), so the hazard is the rock's own footprint;
* **lethal** where slope > ``max_slope_deg`` or step > ``max_step_m`` or roughness >
  ``max_roughness_m``; then dilated by a disc of ``footprint_radius_m`` (configuration space:
  the rover's reference point may not come within its footprint radius of a hazard);
* **unknown** where fewer than ``min_known_fraction`` of the cells in the step window are known.

``cost``: ``inf`` on lethal cells; ``unknown_cost`` (finite, default 4) on unknown ones, so that a
planner (``farside.rover.plan_path``, which rejects NaN) may cross unseen ground at a price; on
the rest ``1 + slope/max_slope + step/max_step + roughness/max_roughness`` (1 on flat smooth ground,
< 4 below every limit).

Yutu-2 limits: 20 deg slope and 0.20 m obstacles (REFERENCE.md s.3, SASTIND 2013); wheelbase,
track and footprint radius are the project's UNCONFIRMED values (``farside.rover.YUTU2``), passed
in by the caller.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import cv2
import numpy as np

from farside.errors import invalid
from farside.vision.stereo import _finite

__all__ = ["ElevationMap", "HazardMap", "elevation_map", "hazard_costmap"]




@dataclass(frozen=True, eq=False)
class ElevationMap:
    """A local elevation grid (module docstring). Build with :func:`elevation_map`; add a stereo
    stop with :meth:`fuse` (returns a new map).

    Attributes
    ----------
    x0_m, y0_m : float
        West and north edges of the grid, site ENU metres.
    resolution_m : float
        Cell side.
    weight : (rows, cols) float64
        Sum over stops of 1 / (cell variance), m^-2 (0 = unknown).
    weighted_height : (rows, cols) float64
        Sum over stops of height / variance.
    n_points : (rows, cols) int64
        Stereo points that fell in each cell, all stops.
    n_stops : int
        Stops fused so far.
    """

    x0_m: float
    y0_m: float
    resolution_m: float
    weight: np.ndarray
    weighted_height: np.ndarray
    n_points: np.ndarray
    n_stops: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def known(self) -> np.ndarray:
        """True on cells with a height."""
        return self.weight > 0

    @property
    def height_m(self) -> np.ndarray:
        """Fused height (site ENU z, metres), NaN where unknown."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.known, self.weighted_height / np.where(self.known, self.weight, 1.0), np.nan)

    @property
    def sigma_m(self) -> np.ndarray:
        """1-sigma height uncertainty (metres), NaN where unknown."""
        with np.errstate(divide="ignore"):
            return np.where(self.known, 1.0 / np.sqrt(np.where(self.known, self.weight, 1.0)), np.nan)

    @property
    def x_m(self) -> np.ndarray:
        return self.x0_m + (np.arange(self.shape[1]) + 0.5) * self.resolution_m

    @property
    def y_m(self) -> np.ndarray:
        return self.y0_m - (np.arange(self.shape[0]) + 0.5) * self.resolution_m

    def xy_to_ij(self, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
        """Integer (row, col) of the cells holding points (may fall outside the grid)."""
        col = np.floor((np.asarray(x_m, float) - self.x0_m) / self.resolution_m).astype(np.int64)
        row = np.floor((self.y0_m - np.asarray(y_m, float)) / self.resolution_m).astype(np.int64)
        return row, col

    def fuse(self, points_enu, sigma_z_m) -> "ElevationMap":
        """This map with one stereo stop's points added (module docstring for the rule).

        Parameters
        ----------
        points_enu : (N, 3) float
            Site ENU metres (points outside the grid are ignored).
        sigma_z_m : (N,) float or float
            1-sigma height error of each point, metres (> 0), e.g. ``StereoPoints.sigma_z_m``.

        Returns
        -------
        ElevationMap

        Raises
        ------
        ScenarioError
            Wrong shapes, non-finite points, non-positive sigmas.
        """
        p = np.asarray(points_enu, dtype=float)
        if p.ndim != 2 or p.shape[1] != 3:
            raise invalid("points_enu.shape", p.shape, "(N, 3)")
        if not np.all(np.isfinite(p)):
            raise invalid("points_enu", "non-finite values", "finite site-ENU metres")
        s = np.broadcast_to(np.asarray(sigma_z_m, dtype=float), (p.shape[0],))
        if s.size and not (np.all(np.isfinite(s)) and s.min() > 0):
            raise invalid("sigma_z_m", float(np.nanmin(s)) if s.size else s, "finite sigmas > 0 m, one per point")
        row, col = self.xy_to_ij(p[:, 0], p[:, 1])
        nr, nc = self.shape
        m = (row >= 0) & (row < nr) & (col >= 0) & (col < nc)
        idx = row[m] * nc + col[m]
        w = 1.0 / s[m] ** 2
        n = np.bincount(idx, minlength=nr * nc).reshape(nr, nc)
        sw = np.bincount(idx, weights=w, minlength=nr * nc).reshape(nr, nc)
        swh = np.bincount(idx, weights=w * p[m, 2], minlength=nr * nc).reshape(nr, nc)
        have = n > 0
        # stop's cell: mean = swh / sw; variance = harmonic mean of the points' variances = n / sw
        w_cell = np.where(have, sw / np.maximum(n, 1), 0.0)
        h_cell = np.where(have, swh / np.where(have, sw, 1.0), 0.0)
        return replace(self, weight=self.weight + w_cell, weighted_height=self.weighted_height + w_cell * h_cell,
                       n_points=self.n_points + n, n_stops=self.n_stops + 1)


def elevation_map(center_xy_m, *, half_size_m: float = 8.0, resolution_m: float = 0.05) -> ElevationMap:
    """An empty elevation map around a point.

    Parameters
    ----------
    center_xy_m : (2,) float
        Centre, site ENU metres (the grid snaps to the world lattice of ``resolution_m``).
    half_size_m : float
        Half the side of the square (0 < half_size_m <= 200).
    resolution_m : float
        Cell side, metres (0.005-1).

    Returns
    -------
    ElevationMap
    """
    c = np.asarray(center_xy_m, dtype=float)
    if c.shape != (2,) or not np.all(np.isfinite(c)):
        raise invalid("center_xy_m", center_xy_m, "two finite numbers (site ENU metres)")
    hs = _finite("half_size_m", half_size_m, 0.0, 200.0, open_lo=True)
    res = _finite("resolution_m", resolution_m, 0.005, 1.0)
    n = max(1, int(round(2 * hs / res)))
    x0 = math.floor((c[0] - hs) / res + 0.5) * res
    y0 = math.floor((c[1] + hs) / res + 0.5) * res
    z = np.zeros((n, n))
    return ElevationMap(x0_m=x0, y0_m=y0, resolution_m=res, weight=z, weighted_height=z.copy(),
                        n_points=np.zeros((n, n), dtype=np.int64))


@dataclass(frozen=True, eq=False)
class HazardMap:
    """Hazard layers on an elevation map's grid (same ``x0_m``, ``y0_m``, ``resolution_m``).

    Attributes
    ----------
    cost : (rows, cols) float64
        Planner cost: >= 1 on traversable cells, ``unknown_cost`` on unknown ones, ``inf`` lethal.
    lethal : (rows, cols) bool
        Configuration-space lethal cells (hazards dilated by the footprint radius).
    hazard : (rows, cols) bool
        Cells that exceed a limit themselves (before dilation).
    unknown : (rows, cols) bool
        Too little map data around the cell (and not lethal).
    slope_deg, step_m, roughness_m : (rows, cols) float64
        Component layers, NaN where not computable.
    x0_m, y0_m, resolution_m : float
        Georeference (the map's).
    """

    cost: np.ndarray
    lethal: np.ndarray
    hazard: np.ndarray
    unknown: np.ndarray
    slope_deg: np.ndarray
    step_m: np.ndarray
    roughness_m: np.ndarray
    x0_m: float
    y0_m: float
    resolution_m: float


def _box(a: np.ndarray, k: int) -> np.ndarray:
    """Sum over a k x k window (zero outside the grid)."""
    return cv2.boxFilter(a, cv2.CV_64F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _odd_cells(length_m: float, res: float) -> int:
    k = max(3, int(round(length_m / res)))
    return k if k % 2 else k + 1


def _plane_fit(hz: np.ndarray, m: np.ndarray, k: int, res: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares plane over the k x k window of each cell (weights ``m``, 0/1): gradient east
    and north (m/m) and the RMS residual (m); NaN where under a quarter of the window is known."""
    nr, nc = hz.shape
    jj = np.broadcast_to(np.arange(nc, dtype=np.float64)[None, :], (nr, nc))
    ii = np.broadcast_to(np.arange(nr, dtype=np.float64)[:, None], (nr, nc))
    xg, yg = jj * m, -ii * m                   # x east, y north (the row index grows southward), cells
    s0 = _box(m, k)
    sx, sy = _box(xg, k), _box(yg, k)
    sxx, syy, sxy = _box(xg * jj, k), _box(yg * -ii, k), _box(xg * -ii, k)
    hm = hz * m
    sh, sxh, syh, shh = _box(hm, k), _box(jj * hm, k), _box(-ii * hm, k), _box(hm * hz, k)
    enough = s0 >= max(6.0, 0.25 * k * k)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(enough, s0, np.nan)
        mx, my, mh = sx / n, sy / n, sh / n
        cxx, cyy, cxy = sxx / n - mx * mx, syy / n - my * my, sxy / n - mx * my
        cxh, cyh, chh = sxh / n - mx * mh, syh / n - my * mh, shh / n - mh * mh
        det = cxx * cyy - cxy * cxy
        good = enough & (det > 1e-3 * (k * k / 12.0) ** 2)
        bx = np.where(good, (cyy * cxh - cxy * cyh) / det, np.nan)     # height per cell
        by = np.where(good, (cxx * cyh - cxy * cxh) / det, np.nan)
        rough = np.sqrt(np.maximum(chh - bx * cxh - by * cyh, 0.0))
    return bx / res, by / res, rough


def _pits(h: np.ndarray, known: np.ndarray, tol: float, k: int = 5) -> np.ndarray:
    """Known cells more than ``tol`` below the median of their k x k window: a cluster of
    mismatched points below the ground (a pit a few cells wide and deeper than the rover's step
    limit is not lunar terrain at this scale -- craters that small have gentle walls -- while a
    rock is a protrusion and is kept)."""
    from numpy.lib.stride_tricks import sliding_window_view

    r = k // 2
    hp = np.pad(np.where(known, h, np.nan), r, constant_values=np.nan)
    win = sliding_window_view(hp, (k, k)).reshape(h.shape[0], h.shape[1], k * k)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=2)
        return known & (h < med - tol)


def _spikes(h: np.ndarray, known: np.ndarray, tol: float) -> np.ndarray:
    """Known cells with >= 3 known 8-neighbours of which fewer than 2 lie within ``tol`` of them."""
    hp = np.pad(np.where(known, h, np.nan), 1, constant_values=np.nan)
    n_known = np.zeros(h.shape, np.int32)
    n_agree = np.zeros(h.shape, np.int32)
    rows, cols = h.shape
    with np.errstate(invalid="ignore"):
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di == 0 and dj == 0:
                    continue
                nb = hp[1 + di:1 + di + rows, 1 + dj:1 + dj + cols]
                ok = np.isfinite(nb)
                n_known += ok
                n_agree += ok & (np.abs(nb - h) <= tol)
    return known & (n_known >= 3) & (n_agree < 2)


def _step(hz, known, gx, gy, k: int, res: float, frac) -> np.ndarray:
    """Height of each cell above the lowest known cell of its k x k window, less the drop the
    fitted plane alone makes from the centre to a window corner."""
    hmin = -cv2.dilate(np.where(known, -hz, -np.inf).astype(np.float32), np.ones((k, k), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)
    drop = 0.5 * (k - 1) * res * (np.abs(np.nan_to_num(gx)) + np.abs(np.nan_to_num(gy)))
    with np.errstate(invalid="ignore"):
        return np.where(known & (frac > 0), np.maximum(hz - hmin.astype(np.float64) - drop, 0.0), np.nan)


def hazard_costmap(emap: ElevationMap, *, wheelbase_m: float, track_m: float, footprint_radius_m: float,
                   max_slope_deg: float = 20.0, max_step_m: float = 0.20, max_roughness_m: float = 0.10,
                   step_window_m: float | None = None, min_known_fraction: float = 0.25,
                   unknown_cost: float = 4.0, min_points: int = 1, min_plane_fraction: float = 0.0,
                   spike_tolerance_m: float | None = None) -> HazardMap:
    """Slope, step, roughness and a configuration-space costmap from an elevation map.

    Parameters
    ----------
    emap : ElevationMap
        The fused local map.
    wheelbase_m, track_m : float
        Rover wheelbase and track (m); the slope/roughness plane is fitted over a square of side
        ``max(wheelbase, track)``.
    footprint_radius_m : float
        Radius of the disc by which hazards are dilated (m, >= 0).
    max_slope_deg, max_step_m : float
        Vehicle limits (Yutu-2: 20 deg, 0.20 m; REFERENCE.md s.3).
    max_roughness_m : float
        RMS residual from the wheelbase plane above which a cell is lethal (UNCONFIRMED rule of
        thumb: half the obstacle limit).
    step_window_m : float, optional
        Window side of the step estimate; default half the wheelbase (measured on rendered
        Navcam maps: rocks 0.6-0.8 m wide and 0.25-0.40 m tall read 0.22-0.35 m at 3-8 m range).
    min_known_fraction : float
        Fraction (0-1] of known cells in the step window below which a cell is unknown.
    unknown_cost : float
        Finite cost (>= 1) given to unknown cells.
    min_points : int
        Cells holding fewer stereo points count as unknown (a lone mismatched point is not ground).
    min_plane_fraction : float
        Slope and roughness are judged only where at least this fraction of the plane window is
        known (at the edge of the mapped area a plane fitted to a sliver of cells tilts at random).
    spike_tolerance_m : float, optional
        Despiking: a cell with at least three known neighbours (of 8) of which fewer than two lie
        within this height of it is a mismatch, not ground, and becomes unknown (a block above the
        step limit is wider than two cells, so its cells agree with their neighbours); so is a cell
        more than twice this height *below* the median of its 5 x 5 window (a pit of mismatched
        points). None: off.

    Returns
    -------
    HazardMap

    Raises
    ------
    ScenarioError
        Not an ElevationMap, or options out of range.
    """
    if not isinstance(emap, ElevationMap):
        raise invalid("emap", type(emap).__name__, "a farside.vision.costmap.ElevationMap")
    wb = _finite("wheelbase_m", wheelbase_m, 0.0, 20.0, open_lo=True)
    tr = _finite("track_m", track_m, 0.0, 20.0, open_lo=True)
    fr = _finite("footprint_radius_m", footprint_radius_m, 0.0, 20.0)
    ms = _finite("max_slope_deg", max_slope_deg, 0.0, 89.0, open_lo=True)
    mst = _finite("max_step_m", max_step_m, 0.0, 10.0, open_lo=True)
    mr = _finite("max_roughness_m", max_roughness_m, 0.0, 10.0, open_lo=True)
    sw = 0.5 * wb if step_window_m is None else _finite("step_window_m", step_window_m, 0.0, 20.0, open_lo=True)
    mk = _finite("min_known_fraction", min_known_fraction, 0.0, 1.0, open_lo=True)
    uc = _finite("unknown_cost", unknown_cost, 1.0, 1e9)
    res = emap.resolution_m
    if isinstance(min_points, bool) or not isinstance(min_points, (int, np.integer)) or min_points < 1:
        raise invalid("min_points", min_points, "an integer >= 1")
    mpf = _finite("min_plane_fraction", min_plane_fraction, 0.0, 1.0)
    known = emap.known & (emap.n_points >= int(min_points))
    h = np.where(known, emap.height_m, np.nan)
    if spike_tolerance_m is not None:
        tol = _finite("spike_tolerance_m", spike_tolerance_m, 0.0, 10.0, open_lo=True)
        known = known & ~_spikes(h, known, tol) & ~_pits(h, known, 2.0 * tol)
        h = np.where(known, h, np.nan)
    nr, nc = emap.shape
    m = known.astype(np.float64)
    # heights relative to the map's mean (site z can be -6 km: keep the moments well conditioned)
    href = float(np.nanmean(h)) if known.any() else 0.0
    hz = np.where(known, h - href, 0.0)
    kp = _odd_cells(max(wb, tr), res)
    ks = _odd_cells(sw, res)
    frac = _box(m, ks) / (ks * ks)
    # pass 1: plane over every known cell; step; pass 2: plane without the step hazards (a rock
    # would tilt the fitted ground around it), then the step again with the refined gradient
    gx, gy, roughness = _plane_fit(hz, m, kp, res)
    step = _step(hz, known, gx, gy, ks, res, frac)
    with np.errstate(invalid="ignore"):
        rock = step > 0.5 * mst          # protrusions over half the limit stay out of the refit
    if rock.any():
        grow = cv2.dilate(rock.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        m2 = m * ~grow
        gx, gy, roughness = _plane_fit(np.where(grow, 0.0, hz), m2, kp, res)
        step = _step(hz, known, gx, gy, ks, res, frac)
    slope_deg = np.degrees(np.arctan(np.hypot(gx, gy)))
    if mpf > 0:
        plane_ok = _box(m, kp) / (kp * kp) >= mpf
        slope_deg = np.where(plane_ok, slope_deg, np.nan)
        roughness = np.where(plane_ok, roughness, np.nan)
    with np.errstate(invalid="ignore"):
        hazard = (np.nan_to_num(slope_deg) > ms) | (np.nan_to_num(step) > mst) | (np.nan_to_num(roughness) > mr)
    rc = int(math.floor(fr / res))
    if rc > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rc + 1, 2 * rc + 1))
        lethal = cv2.dilate(hazard.astype(np.uint8), disc, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    else:
        lethal = hazard.copy()
    unknown = (frac < mk) & ~lethal
    base = 1.0 + np.nan_to_num(slope_deg) / ms + np.nan_to_num(step) / mst + np.nan_to_num(roughness) / mr
    cost = np.where(lethal, np.inf, np.where(unknown, uc, np.minimum(base, uc)))
    return HazardMap(cost=cost, lethal=lethal, hazard=hazard, unknown=unknown, slope_deg=slope_deg, step_m=step,
                     roughness_m=roughness, x0_m=emap.x0_m, y0_m=emap.y0_m, resolution_m=res)
