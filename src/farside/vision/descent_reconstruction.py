"""Descent trajectory reconstruction from the landing-camera (LCAM) frames against an orbital base map.

The Chang'e-4 descent trajectory and landing point were rebuilt from the LCAM images by
photogrammetry against LRO orbital products (Liu et al. 2019, Nat. Commun. 10:4229,
docs/references.md 1.2). This module does the same on rendered frames:

1. :func:`orbital_basemap` -- an orthoimage of the site and its regional backdrop rendered from
   orbit under *another* Sun (an orbital image taken on another date), at an LROC-NAC-like
   resolution (about 1 m; NAC pixels are 0.5-1.6 m, docs/references.md 1.2), with a height for
   every pixel from a DTM of the same area block-averaged to ``dem_resolution_m`` (a real LROC
   workflow uses the NAC DTM, commonly 2-5 m posting -- UNCONFIRMED for the CE-4 site). The
   heights come from the terrain rasters, never from the renderer's hit points. Coarser base
   maps (4-8 m) cover the regional backdrop that the high frames see.
2. :func:`reconstruct_descent` -- for each frame, the frame is ortho-rectified onto the base
   map's grid with the pose predicted from the previous frames (constant velocity), matched to
   the base map by normalised cross-correlation (a global shift, then a grid of patches), and
   each match becomes a 2-D (frame pixel) / 3-D (base-map point) control point; the pose comes
   from PnP with RANSAC (``cv2.solvePnPRansac``) refined by Levenberg-Marquardt on the inliers.
   Given the frames' Sun, the map is first relit to it with its DTM's shading ratio. When the
   prediction fails (e.g. the fast pitch-over after main braking), SIFT matches with the previous
   frame give a new prior and the map matching runs again. Below the altitude where the frame's footprint holds too few base-map pixels, features are
   tracked frame to frame instead: the previous frame, rectified with its reconstructed pose
   onto the DTM, is the reference (relative navigation; its error accumulates from the last
   base-map fix). A constant-acceleration Rauch-Tung-Striebel smoother, weighted by each fix's
   covariance (from the PnP Jacobian), gives the trajectory; the landing point is the ground
   point on the optical axis of the last frame with a fix.

The algorithm sees only the 8-bit frames, their time stamps, the calibrated intrinsics, the
frames' Sun direction (optional; ephemeris) and the base maps. The true pose is never used except as the first frame's prior, which the caller gives
with a realistic error (the orbit-determination knowledge at ignition: a few hundred metres) --
or, optionally, the lander's own navigation solution per frame (IMU propagation, with its own
offset and drift), whose *motion* between frames moves the last fix to the next frame's prior
(frames far apart in time, e.g. a strided subset).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import map_coordinates

from farside.errors import DataError, invalid
from farside.render import Camera, Scene, nadir_rotation, render

_log = logging.getLogger(__name__)
#: largest rectification grid side (pixels) in base-map mode; wider footprints use a coarser level
_MAX_GRID_PX = 1600
#: frame and map are high-passed (less a Gaussian local mean of this many pixels) before matching
_HIGHPASS_PX = 8.0

__all__ = [
    "OrbitalBasemap",
    "orbital_basemap",
    "DescentReconstruction",
    "reconstruct_descent",
    "error_by_altitude",
]


# ---------------------------------------------------------------------------------------------
# base map
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class OrbitalBasemap:
    """An orthoimage with a height per pixel, georeferenced in site ENU.

    Attributes
    ----------
    image : (n, n) uint8
        Orthoimage DN (0 where nothing was seen).
    heights_m : (n, n) float32
        Site-ENU z of the ground at each pixel centre, from the DTM (``dem_resolution_m``).
    resolution_m : float
        Pixel size, metres.
    x0_m, y0_m : float
        Site-ENU x, y of the north-west corner; pixel ``[i, j]`` is centred at
        ``x0_m + (j + 0.5) * resolution_m``, ``y0_m - (i + 0.5) * resolution_m``.
    sun_dir_enu : (3,) float
        The Sun of the orbital image.
    dem_resolution_m : float
        Posting of the DTM the heights were interpolated from.
    """

    image: np.ndarray
    heights_m: np.ndarray
    resolution_m: float
    x0_m: float
    y0_m: float
    sun_dir_enu: np.ndarray
    dem_resolution_m: float

    @property
    def extent_m(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the outer pixel edges."""
        n, m = self.image.shape
        return (self.x0_m, self.x0_m + m * self.resolution_m, self.y0_m - n * self.resolution_m, self.y0_m)

    def height_at(self, x_m, y_m) -> np.ndarray:
        """Bilinear DTM height at ENU points (NaN outside the map)."""
        x = np.asarray(x_m, float)
        y = np.asarray(y_m, float)
        col = (x - self.x0_m) / self.resolution_m - 0.5
        row = (self.y0_m - y) / self.resolution_m - 0.5
        n, m = self.heights_m.shape
        out = map_coordinates(self.heights_m, [np.atleast_1d(row).ravel(), np.atleast_1d(col).ravel()], order=1,
                              mode="nearest").reshape(np.shape(x))
        inside = (col >= -0.5) & (col <= m - 0.5) & (row >= -0.5) & (row <= n - 0.5)
        return np.where(inside, out, np.nan)


def _unit3(name, v) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)) or np.linalg.norm(a) == 0:
        raise invalid(name, v, "three finite numbers, not all zero (a direction in site ENU)")
    return a / np.linalg.norm(a)


def _pos_real(name, v, lo=0.0):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise invalid(name, v, f"a finite number > {lo}") from None
    if isinstance(v, bool) or not math.isfinite(f) or f <= lo:
        raise invalid(name, v, f"a finite number > {lo}")
    return f


def _scenes_list(scenes) -> list:
    lst = list(scenes) if isinstance(scenes, (list, tuple)) else [scenes]
    if not lst or not all(isinstance(s, Scene) for s in lst):
        raise invalid("scenes", scenes, "a farside.render.Scene or a non-empty sequence of them (finest first)")
    return lst


def _dtm(scenes: list, x0: float, y0: float, n_px: int, res: float) -> np.ndarray:
    """Heights on an ``n_px`` grid of ``res`` from the scenes' terrains, each block-averaged to
    ``res`` first (coarsest scene first, finer ones overwrite where they cover)."""
    xs = x0 + (np.arange(n_px) + 0.5) * res
    ys = y0 - (np.arange(n_px) + 0.5) * res
    out = np.full((n_px, n_px), np.nan)
    for sc in sorted(scenes, key=lambda s: -s.terrain.resolution_m):
        ter = sc.terrain
        h = ter.heights.astype(np.float32) + np.float32(ter.datum_m)
        f = max(int(round(res / ter.resolution_m)), 1)
        if f > 1:
            rows, cols = (h.shape[0] // f) * f, (h.shape[1] // f) * f
            h = h[:rows, :cols].reshape(rows // f, f, cols // f, f).mean(axis=(1, 3))
        tr = ter.resolution_m * f
        sel_x = (xs > ter.x0_m + 0.5 * tr) & (xs < ter.x0_m + (h.shape[1] - 0.5) * tr)
        sel_y = (ys < ter.y0_m - 0.5 * tr) & (ys > ter.y0_m - (h.shape[0] - 0.5) * tr)
        if not sel_x.any() or not sel_y.any():
            continue
        cc = (xs[sel_x] - ter.x0_m) / tr - 0.5
        rr = (ter.y0_m - ys[sel_y]) / tr - 0.5
        R, Cc = np.meshgrid(rr, cc, indexing="ij")
        vals = map_coordinates(h.astype(np.float64), [R.ravel(), Cc.ravel()], order=1, mode="nearest")
        out[np.ix_(sel_y, sel_x)] = vals.reshape(R.shape)
    if np.isnan(out).any():
        if np.isnan(out).all():
            raise invalid("center_xy_m", (x0, y0), "a base-map area that the scenes' terrains cover")
        from scipy.ndimage import distance_transform_edt

        idx = distance_transform_edt(np.isnan(out), return_distances=False, return_indices=True)
        out = out[tuple(idx)]
    return out


def orbital_basemap(scenes, *, center_xy_m, size_m: float, resolution_m: float = 1.0, sun_dir_enu,
                    dem_resolution_m: float | None = None, supersample: int = 2,
                    photometry: str = "hapke") -> OrbitalBasemap:
    """An orbital orthoimage of ``scenes`` under ``sun_dir_enu`` and its DTM heights.

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        The terrain, finest first (the site, then its regional backdrops), rendered together as
        :func:`farside.render.render` composites them.
    center_xy_m : (x, y)
        Site-ENU centre of the square map, metres.
    size_m : float
        Side of the map, metres.
    resolution_m : float
        Pixel size (default 1 m: LROC NAC-like). Each pixel averages ``supersample``^2 rendered
        samples (the detector integrates the ground).
    sun_dir_enu : (3,) array
        The Sun of the orbital image: it should differ from the frames' (another date).
    dem_resolution_m : float, optional
        DTM posting the heights come from (default ``2 * resolution_m``: NAC DTMs are a few
        times coarser than the images).
    supersample : int
        Rendered samples per pixel side (1-4).
    photometry : str
        Photometric model of the orbital image.

    Returns
    -------
    OrbitalBasemap

    Raises
    ------
    ScenarioError
        Bad scenes, sizes, Sun or an area the scenes do not cover.
    """
    lst = _scenes_list(scenes)
    try:
        cx, cy = (float(v) for v in center_xy_m)
    except (TypeError, ValueError):
        raise invalid("center_xy_m", center_xy_m, "two finite numbers (x, y) in metres") from None
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise invalid("center_xy_m", center_xy_m, "two finite numbers (x, y) in metres")
    res = _pos_real("resolution_m", resolution_m)
    size = _pos_real("size_m", size_m)
    n = int(round(size / res))
    if not 16 <= n <= 8192:
        raise invalid("size_m", size_m, f"a side of 16 to 8192 pixels of resolution_m = {res} m")
    dres = 2.0 * res if dem_resolution_m is None else _pos_real("dem_resolution_m", dem_resolution_m)
    if dres < res:
        raise invalid("dem_resolution_m", dem_resolution_m, f"a posting >= resolution_m = {res} m")
    if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= 4:
        raise invalid("supersample", supersample, "an integer in [1, 4]")
    sun = _unit3("sun_dir_enu", sun_dir_enu)
    if sun[2] <= 0:
        raise invalid("sun_dir_enu", list(sun_dir_enu), "a Sun above the horizon (z > 0)")
    s = int(supersample)
    ns = n * s
    ztop = max(float(sc.zmax) for sc in lst) + 1000.0
    cam = Camera(width_px=ns, height_px=ns, focal_length_m=0.01, pixel_pitch_m=1e-5, cx_px=(ns - 1) / 2,
                 cy_px=(ns - 1) / 2, projection="orthographic", gsd_m=res / s, position_enu=(cx, cy, ztop),
                 rotation_enu_from_cam=nadir_rotation(0.0), name="ORBITAL")
    fr = render(lst[0], cam, sun_dir_enu=sun, photometry=photometry, shadows="hard", layers="minimal",
                backdrop=lst[1:] or None)
    rad = np.nan_to_num(fr.radiance.astype(np.float32), nan=0.0)
    if s > 1:
        rad = cv2.resize(rad, (n, n), interpolation=cv2.INTER_AREA)
    seen = rad[rad > 0]
    lo, hi = (np.percentile(seen, [0.5, 99.5]) if seen.size else (0.0, 1.0))
    # a linear stretch of the 0.5-99.5 % radiance to DN 10-245 (an 8-bit map product); 0 = no data
    img = np.where(rad > 0, np.clip(np.round(10.0 + 235.0 * (rad - lo) / max(hi - lo, 1e-12)), 1, 255), 0)
    img = img.astype(np.uint8)
    x0, y0 = cx - 0.5 * n * res, cy + 0.5 * n * res
    # the DTM at its own posting, then bilinear onto the image grid
    nd = int(math.ceil(n * res / dres)) + 2
    dx0, dy0 = x0 - dres, y0 + dres
    dtm = _dtm(lst, dx0, dy0, nd, dres)
    xs = x0 + (np.arange(n) + 0.5) * res
    ys = y0 - (np.arange(n) + 0.5) * res
    cc = (xs - dx0) / dres - 0.5
    rr = (dy0 - ys) / dres - 0.5
    R, Cc = np.meshgrid(rr, cc, indexing="ij")
    heights = map_coordinates(dtm, [R.ravel(), Cc.ravel()], order=1, mode="nearest").reshape(n, n)
    return OrbitalBasemap(image=img, heights_m=heights.astype(np.float32), resolution_m=res, x0_m=x0, y0_m=y0,
                          sun_dir_enu=sun, dem_resolution_m=dres)


# ---------------------------------------------------------------------------------------------
# reconstruction
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DescentReconstruction:
    """The reconstructed descent.

    Attributes
    ----------
    t_s : (N,) float
        Frame times (as given).
    position_enu : (N, 3) float
        Smoothed camera positions, site ENU metres (frames between fixes interpolated by the
        smoother; NaN before the first and after the last fix).
    position_fix_enu : (N, 3) float
        Per-frame PnP positions before smoothing (NaN where the frame gave no fix).
    sigma_enu_m : (N, 3) float
        1-sigma of each fix from the PnP Jacobian (floored; NaN without a fix).
    rotation_enu_from_cam : (N, 3, 3) float
        Per-frame camera attitude from PnP (the prior where no fix).
    source : (N,) str
        'basemap' (absolute fix against an orbital map), 'track' (relative to the previous frame)
        or 'none'.
    resolution_m : (N,) float
        Ground resolution the frame was matched at.
    n_inliers : (N,) int
        RANSAC inliers of the fix.
    landing_point_enu : (3,) float
        Ground point on the optical axis of the last frame with a fix (``landing_frame``; from the
        smoothed position and that frame's attitude; heights from the finest base map's DTM). NaN
        when no frame gave a fix.
    landing_frame : int
        Index of that frame (-1 when none).
    height_agl_m : (N,) float
        Reconstructed camera height above the DTM below it.
    seconds : float
        Wall time of the reconstruction (reported, never asserted).
    """

    t_s: np.ndarray
    position_enu: np.ndarray
    position_fix_enu: np.ndarray
    sigma_enu_m: np.ndarray
    rotation_enu_from_cam: np.ndarray
    source: np.ndarray
    resolution_m: np.ndarray
    n_inliers: np.ndarray
    landing_point_enu: np.ndarray
    landing_frame: int
    height_agl_m: np.ndarray
    seconds: float

    def table(self, truth_position_enu=None) -> dict[str, np.ndarray]:
        """Columns ``t_s, x_m, y_m, z_m`` (+ ``x_true_m, y_true_m, z_true_m`` when the truth
        ``(N, 3)`` is given), e.g. for ``products/descent/reconstruction.parquet``."""
        p = self.position_enu
        out = {"t_s": self.t_s, "x_m": p[:, 0], "y_m": p[:, 1], "z_m": p[:, 2]}
        if truth_position_enu is not None:
            tr = np.asarray(truth_position_enu, float)
            if tr.shape != p.shape:
                raise invalid("truth_position_enu.shape", tr.shape, f"{p.shape} (one position per frame)")
            out.update({"x_true_m": tr[:, 0], "y_true_m": tr[:, 1], "z_true_m": tr[:, 2]})
        out.update({"source": self.source, "n_inliers": self.n_inliers, "height_agl_m": self.height_agl_m})
        return out


@dataclass
class _Level:
    """One base-map pyramid level prepared for matching."""

    image: np.ndarray       # float32
    heights: np.ndarray     # float64
    res: float
    x0: float
    y0: float
    base: OrbitalBasemap

    @property
    def n(self):
        return self.image.shape[0]


def _shade(heights: np.ndarray, res: float, sun: np.ndarray) -> np.ndarray:
    """Lommel-Seeliger shading mu0 / (mu0 + mu) of a DTM seen from straight above (mu = the
    facet's cosine to the vertical), cast shadows ignored."""
    gy, gx = np.gradient(heights, res)
    nz = 1.0 / np.sqrt(1.0 + gx * gx + gy * gy)
    # row 0 is north: d/drow = -d/dy
    mu0 = np.clip((-gx * sun[0] + gy * sun[1] + sun[2]) * nz, 0.02, None)
    return mu0 / (mu0 + nz)


def _relight(img: np.ndarray, heights: np.ndarray, res: float, sun_map: np.ndarray, sun_frame: np.ndarray):
    """The orbital image relit to the frames' Sun with the DTM's shading ratio (the relief the DTM
    resolves; finer shading and cast shadows stay the map's)."""
    ratio = _shade(heights, res, sun_frame) / _shade(heights, res, sun_map)
    out = img * np.clip(ratio, 0.2, 5.0)
    return np.where(img > 0, np.maximum(out, 1e-3), 0.0).astype(np.float32)


def _levels(bm: OrbitalBasemap, max_res: float, sun_frame=None) -> list[_Level]:
    img = bm.image.astype(np.float32)
    h = bm.heights_m.astype(np.float64)
    if sun_frame is not None:
        img = _relight(img, h, bm.resolution_m, bm.sun_dir_enu, sun_frame)
    out = [_Level(img, h, bm.resolution_m, bm.x0_m, bm.y0_m, bm)]
    while out[-1].res * 2 <= max_res and out[-1].n >= 128:
        lv = out[-1]
        m = (lv.n // 2) * 2
        im = lv.image[:m, :m].reshape(m // 2, 2, m // 2, 2).mean(axis=(1, 3))
        hh = lv.heights[:m, :m].reshape(m // 2, 2, m // 2, 2).mean(axis=(1, 3))
        out.append(_Level(im.astype(np.float32), hh, lv.res * 2, lv.x0, lv.y0, bm))
    return out


def _project(pts, R, C, K):
    pc = (pts - C) @ R
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * pc[..., 0] / z + K[0, 2]
        v = K[1, 1] * pc[..., 1] / z + K[1, 2]
    return u, v, z


class _Terrain:
    """Ground heights from the base maps' DTMs (finest covering map first)."""

    def __init__(self, basemaps):
        self.maps = sorted(basemaps, key=lambda b: b.resolution_m)

    def height(self, x, y):
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        out = np.full(np.shape(x), np.nan)
        for bm in self.maps:
            miss = np.isnan(out)
            if not miss.any():
                break
            out[miss] = bm.height_at(x[miss], y[miss])
        if np.isnan(out).any():
            fill = float(np.nanmedian(out)) if np.isfinite(out).any() else float(np.median(self.maps[-1].heights_m))
            out = np.where(np.isnan(out), fill, out)
        return out

    def ray_hit(self, C, d, iters: int = 6):
        """Where rays from C along d (N, 3) meet the DTM (approximately; NaN for rays not going down)."""
        d = np.atleast_2d(d)
        zg = self.height(np.full(len(d), C[0]), np.full(len(d), C[1]))
        out = np.full((len(d), 3), np.nan)
        ok = d[:, 2] < -0.02
        t = np.where(ok, (zg - C[2]) / np.where(ok, d[:, 2], -1.0), np.nan)
        for _ in range(iters):
            p = C + t[:, None] * d
            zg = self.height(np.nan_to_num(p[:, 0]), np.nan_to_num(p[:, 1]))
            t = np.where(ok, (zg - C[2]) / np.where(ok, d[:, 2], -1.0), np.nan)
        out[ok] = (C + t[:, None] * d)[ok]
        return out


def _footprint(R, C, K, size, terrain: _Terrain, max_range_m: float):
    """Ground points of a 9 x 9 grid of image pixels: (points (M, 3), median range)."""
    w, h = size
    u, v = np.meshgrid(np.linspace(0, w - 1, 9), np.linspace(0, h - 1, 9))
    d_cam = np.stack([(u.ravel() - K[0, 2]) / K[0, 0], (v.ravel() - K[1, 2]) / K[1, 1], np.ones(u.size)], axis=1)
    d = d_cam @ R.T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    p = terrain.ray_hit(C, d)
    rng_m = np.linalg.norm(p - C, axis=1)
    ok = np.isfinite(rng_m) & (rng_m < max_range_m)
    if ok.sum() < 4:
        return None, None
    return p[ok], float(np.median(rng_m[ok]))


def _prefilter(img: np.ndarray, factor: float):
    """The frame low-passed for sampling at ``factor`` times its pixel: (image, scale) where
    frame pixel (u, v) is (u, v) * scale in the returned image."""
    out = img.astype(np.float32)
    scale = 1.0
    while factor * scale >= 3.0 and min(out.shape) > 32:
        out = cv2.pyrDown(out)
        scale *= 0.5
    rem = factor * scale
    if rem > 1.2:
        out = cv2.GaussianBlur(out, (0, 0), 0.5 * math.sqrt(rem * rem - 1.0))
    return out, scale


def _rectify(img_f, scale, R, C, K, X, Y, Z):
    """Sample the frame at the grid's ground points: (image, valid, u, v) with u, v the frame pixels."""
    pts = np.stack([X, Y, Z], axis=-1)
    u, v, z = _project(pts, R, C, K)
    hh, ww = img_f.shape
    mu = (u * scale).astype(np.float32)
    mv = (v * scale).astype(np.float32)
    valid = (z > 0) & (mu >= 1) & (mv >= 1) & (mu <= ww - 2) & (mv <= hh - 2)
    mu = np.where(valid, mu, -10).astype(np.float32)
    mv = np.where(valid, mv, -10).astype(np.float32)
    out = cv2.remap(img_f, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, valid, u, v


def _highpass(img, valid, sigma_px: float):
    """``img`` less its local mean (a Gaussian of ``sigma_px`` over the valid pixels only); 0 where
    not valid. Removes the brightness gradients (phase angle, albedo trends) that differ between the
    frame and the orbital map, so that the correlation sees the relief's texture."""
    a = img.astype(np.float32)
    vf = valid.astype(np.float32)
    num = cv2.GaussianBlur(a * vf, (0, 0), sigma_px)
    den = cv2.GaussianBlur(vf, (0, 0), sigma_px)
    return np.where(valid, a - num / np.maximum(den, 1e-3), 0.0).astype(np.float32)


def _fill(img, valid):
    out = img.copy()
    if valid.any():
        out[~valid] = float(img[valid].mean())
    return out


def _global_shift(rect, valid, ref, ref_valid, search_px: int):
    """Translation (drow, dcol) of ``ref`` relative to ``rect`` from one large template; None if weak."""
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    if rows.size < 24 or cols.size < 24:
        return None
    # a square around the valid area's centroid, as large as it can be while 85 % valid (<= 256 px)
    vr, vc = np.nonzero(valid)
    rc, ccn = int(vr.mean()), int(vc.mean())
    half = min((rows[-1] - rows[0]) // 3, (cols[-1] - cols[0]) // 3, 128)
    while half >= 12:
        tr0, tr1, tc0, tc1 = max(rc - half, 0), rc + half, max(ccn - half, 0), ccn + half
        if valid[tr0:tr1, tc0:tc1].mean() >= 0.85:
            break
        half = int(half * 0.8)
    if half < 12:
        return None
    tpl = _fill(rect, valid)[tr0:tr1, tc0:tc1]
    s = int(search_px)
    a0, a1 = max(tr0 - s, 0), min(tr1 + s, ref.shape[0])
    b0, b1 = max(tc0 - s, 0), min(tc1 + s, ref.shape[1])
    win = _fill(ref, ref_valid)[a0:a1, b0:b1]
    if win.shape[0] < tpl.shape[0] or win.shape[1] < tpl.shape[1] or tpl.std() < 1e-3:
        return None
    res = cv2.matchTemplate(win, tpl, cv2.TM_CCOEFF_NORMED)
    _, peak, _, loc = cv2.minMaxLoc(res)
    if not math.isfinite(peak) or peak < 0.2:
        return None
    return (a0 + loc[1] - tr0, b0 + loc[0] - tc0, float(peak))


def _subpix(res, i, j):
    def para(a, b, c):
        den = a - 2 * b + c
        return 0.0 if abs(den) < 1e-9 else 0.5 * (a - c) / den
    di = para(res[i - 1, j], res[i, j], res[i + 1, j]) if 0 < i < res.shape[0] - 1 else 0.0
    dj = para(res[i, j - 1], res[i, j], res[i, j + 1]) if 0 < j < res.shape[1] - 1 else 0.0
    return float(np.clip(di, -0.5, 0.5)), float(np.clip(dj, -0.5, 0.5))


def _grid_matches(rect, valid, ref, ref_valid, shift, *, tpl_px: int, step_px: int, search_px: int,
                  min_ncc: float):
    """Patch matches: arrays (rows, cols) in rect (integer) and (rows, cols) in ref (sub-pixel)."""
    half = tpl_px // 2
    n_r, n_c = rect.shape
    rf = _fill(rect, valid)
    reff = _fill(ref, ref_valid)
    src, dst = [], []
    dr, dc = int(round(shift[0])), int(round(shift[1]))
    for i in range(half, n_r - half, step_px):
        for j in range(half, n_c - half, step_px):
            if not valid[i - half:i + half + 1, j - half:j + half + 1].all():
                continue
            tpl = rf[i - half:i + half + 1, j - half:j + half + 1]
            if cv2.meanStdDev(tpl)[1][0, 0] < 1.0:
                continue
            a0, b0 = i + dr - half - search_px, j + dc - half - search_px
            a1, b1 = i + dr + half + search_px + 1, j + dc + half + search_px + 1
            if a0 < 0 or b0 < 0 or a1 > n_r or b1 > n_c:
                continue
            if not ref_valid[a0:a1, b0:b1].all():
                continue
            res = cv2.matchTemplate(reff[a0:a1, b0:b1], tpl, cv2.TM_CCOEFF_NORMED)
            _, peak, _, loc = cv2.minMaxLoc(res)
            if not math.isfinite(peak) or peak < min_ncc:
                continue
            li, lj = loc[1], loc[0]
            if li in (0, res.shape[0] - 1) or lj in (0, res.shape[1] - 1):
                continue                           # on the search border: not a real peak
            si, sj = _subpix(res, li, lj)
            src.append((i, j))
            dst.append((a0 + li + si + half, b0 + lj + sj + half))
    return np.asarray(src, float).reshape(-1, 2), np.asarray(dst, float).reshape(-1, 2)


def _bilinear(arr, rows, cols):
    return map_coordinates(arr, [rows, cols], order=1, mode="nearest")


def _pose_cov(obj, img, rvec, tvec, K):
    """Position (ENU) of the camera and its 3 x 3 covariance from the PnP Jacobian."""
    proj, jac = cv2.projectPoints(obj, rvec, tvec, K, None)
    r = (proj.reshape(-1, 2) - img).ravel()
    J = jac[:, :6]
    dof = max(r.size - 6, 1)
    s2 = float(r @ r) / dof
    try:
        cov6 = s2 * np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        return None, None

    def centre(p):
        Rm, _ = cv2.Rodrigues(p[:3])
        return -Rm.T @ p[3:]

    p0 = np.concatenate([rvec.ravel(), tvec.ravel()])
    c0 = centre(p0)
    G = np.zeros((3, 6))
    for k in range(6):
        e = np.zeros(6)
        e[k] = 1e-6 * max(1.0, abs(p0[k]))
        G[:, k] = (centre(p0 + e) - centre(p0 - e)) / (2 * e[k])
    return c0, G @ cov6 @ G.T


def _solve(obj, img, R0, C0, K, thr_px):
    """PnP + RANSAC from a prior; (R, C, cov, inliers) or None."""
    if len(obj) < 8:
        return None
    rvec0, _ = cv2.Rodrigues(R0.T)
    # points relative to the prior position: better conditioned (ENU coordinates are large)
    o = (obj - C0).astype(np.float64)
    ok, rvec, tvec, inl = cv2.solvePnPRansac(o, img.astype(np.float64), K, None, rvec0.copy(),
                                             np.zeros((3, 1)), useExtrinsicGuess=True, iterationsCount=300,
                                             reprojectionError=float(thr_px), confidence=0.999,
                                             flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or inl is None or len(inl) < max(8, 0.3 * len(obj)):
        return None
    inl = inl.ravel()
    rvec, tvec = cv2.solvePnPRefineLM(o[inl], img[inl].astype(np.float64), K, None, rvec, tvec)
    c_rel, cov = _pose_cov(o[inl], img[inl].astype(np.float64), rvec, tvec, K)
    if c_rel is None or not np.all(np.isfinite(cov)):
        return None
    Rcw, _ = cv2.Rodrigues(rvec)
    return Rcw.T, C0 + c_rel, cov, inl


def _feature_fix(img, prev, K, terrain, min_inliers):
    """A pose without a prior: SIFT matches between the previous frame (pose known) and this one,
    the previous frame's keypoints put on the DTM, PnP + RANSAC. (R, C) or None."""
    pimg, pR, pC, _ = prev

    def u8(a):
        return a if a.dtype == np.uint8 else cv2.normalize(a.astype(np.float32), None, 0, 255,
                                                           cv2.NORM_MINMAX).astype(np.uint8)

    sift = cv2.SIFT_create(nfeatures=3000)
    k1, d1 = sift.detectAndCompute(u8(pimg), None)
    k2, d2 = sift.detectAndCompute(u8(img), None)
    if d1 is None or d2 is None or len(k1) < min_inliers or len(k2) < min_inliers:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1, d2, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < min_inliers:
        return None
    p1 = np.array([k1[m.queryIdx].pt for m in good])
    p2 = np.array([k2[m.trainIdx].pt for m in good])
    d = np.stack([(p1[:, 0] - K[0, 2]) / K[0, 0], (p1[:, 1] - K[1, 2]) / K[1, 1], np.ones(len(p1))], axis=1) @ pR.T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    obj = terrain.ray_hit(pC, d)
    ok = np.all(np.isfinite(obj), axis=1)
    if ok.sum() < min_inliers:
        return None
    o = obj[ok] - pC
    ok2, rvec, tvec, inl = cv2.solvePnPRansac(o, p2[ok].astype(np.float64), K, None, iterationsCount=500,
                                              reprojectionError=3.0, confidence=0.999, flags=cv2.SOLVEPNP_EPNP)
    if not ok2 or inl is None or len(inl) < max(min_inliers, 0.3 * ok.sum()):
        return None
    inl = inl.ravel()
    rvec, tvec = cv2.solvePnPRefineLM(o[inl], p2[ok][inl].astype(np.float64), K, None, rvec, tvec)
    Rcw, _ = cv2.Rodrigues(rvec)
    return Rcw.T, pC - Rcw.T @ tvec.ravel()


def _load(frame, k):
    if isinstance(frame, (str, Path)):
        img = cv2.imread(str(frame), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DataError(f"frames[{k}] = {str(frame)!r} is invalid: not a readable image file")
    else:
        img = np.asarray(frame)
    if img.ndim != 2 or img.shape[0] < 32 or img.shape[1] < 32:
        raise invalid(f"frames[{k}].shape", img.shape, "a 2-D mono image of at least 32 x 32 pixels")
    if not np.issubdtype(img.dtype, np.number) or not np.all(np.isfinite(img)):
        raise invalid(f"frames[{k}]", "non-finite or non-numeric pixels", "finite DN values")
    return img


def _rts_smooth(t, z, sig, jerk_psd):
    """Constant-acceleration RTS smoother on one axis; NaN measurements are skipped. Returns the
    smoothed positions and a mask of the measurements kept (6-sigma innovation gate)."""
    n = len(t)
    keep = np.isfinite(z)
    first = np.flatnonzero(keep)
    if first.size == 0:
        return np.full(n, np.nan), keep
    x = np.array([z[first[0]], 0.0, 0.0])
    P = np.diag([sig[first[0]] ** 2, 1e4, 1e2])
    xs_f, Ps_f, xs_p, Ps_p, Fs = [], [], [], [], []
    H = np.array([1.0, 0.0, 0.0])
    for k in range(n):
        dt = 0.0 if k == 0 else float(t[k] - t[k - 1])
        F = np.array([[1, dt, 0.5 * dt * dt], [0, 1, dt], [0, 0, 1]])
        q = jerk_psd
        Q = q * np.array([[dt ** 5 / 20, dt ** 4 / 8, dt ** 3 / 6], [dt ** 4 / 8, dt ** 3 / 3, dt ** 2 / 2],
                          [dt ** 3 / 6, dt ** 2 / 2, dt]])
        if k > 0:
            x = F @ x
            P = F @ P @ F.T + Q
        xs_p.append(x.copy())
        Ps_p.append(P.copy())
        Fs.append(F)
        if keep[k]:
            s = float(H @ P @ H) + sig[k] ** 2
            innov = z[k] - x[0]
            if k != first[0] and innov * innov > 36.0 * s:
                keep[k] = False
            else:
                Kg = P @ H / s
                x = x + Kg * innov
                P = P - np.outer(Kg, H @ P)
        xs_f.append(x.copy())
        Ps_f.append(P.copy())
    xs = [None] * n
    xs[-1] = xs_f[-1]
    for k in range(n - 2, -1, -1):
        Pp = Ps_p[k + 1]
        try:
            A = Ps_f[k] @ Fs[k + 1].T @ np.linalg.inv(Pp)
        except np.linalg.LinAlgError:
            A = np.zeros((3, 3))
        xs[k] = xs_f[k] + A @ (xs[k + 1] - xs_p[k + 1])
    return np.array([v[0] for v in xs]), keep


def reconstruct_descent(frames, camera: Camera, basemaps, *, times_s, initial_position_enu,
                        initial_rotation_enu_from_cam, initial_sigma_m: float = 300.0,
                        min_footprint_px: int = 192, max_range_m: float = 60_000.0,
                        min_ncc_basemap: float = 0.3, min_ncc_track: float = 0.6,
                        jerk_psd: float = 1.0, min_inliers: int = 20,
                        sun_dir_enu=None, max_templates: int = 600, nav_position_enu=None,
                        nav_rotation_enu_from_cam=None,
                        nav_velocity_sigma_mps: float = 0.3) -> DescentReconstruction:
    """Rebuild the camera trajectory of a descent image sequence against orbital base maps.

    Parameters
    ----------
    frames : sequence of (H, W) arrays or image paths
        The frames in time order (8-bit mono DN, e.g. ``products/descent/frames/lcam_*.png``);
        pass a subsample (e.g. every 10th-20th frame of a full run). Paths are read one at a time.
    camera : Camera
        The calibrated intrinsics (its pose is ignored); no distortion is modelled.
    basemaps : OrbitalBasemap or sequence of them
        Orbital orthoimages with DTM heights (:func:`orbital_basemap`): a fine one (~1 m) over the
        site, coarser ones (4-8 m) over the region the high frames see.
    times_s : (N,) float
        Frame time stamps, seconds, strictly increasing.
    initial_position_enu, initial_rotation_enu_from_cam : (3,), (3, 3)
        Prior pose of the first frame (e.g. the orbit-determination knowledge at ignition); never
        the truth without an error.
    initial_sigma_m : float
        1-sigma horizontal error of that prior (sizes the first search; default 300 m).
    min_footprint_px : int
        A base-map level is used only if the frame's ground footprint spans at least this many of
        its pixels; below, features are tracked frame to frame.
    max_range_m : float
        Ground farther than this from the camera is not used (grazing views).
    min_ncc_basemap, min_ncc_track : float
        Correlation thresholds across Suns (frame vs base map) and for the same Sun (frame to frame).
    jerk_psd : float
        Smoother process noise: power spectral density of the jerk, m^2/s^5.
    min_inliers : int
        RANSAC inliers needed for a fix.
    max_templates : int
        About this many correlation patches per frame at most (the grid step grows beyond it).
    nav_position_enu, nav_rotation_enu_from_cam : (N, 3), (N, 3, 3), optional
        The lander's own navigation solution at each frame (inertial propagation from the state at
        ignition: its error is mostly an offset that drifts slowly). When given, each frame's
        prior is the last fix moved by the navigation's motion since that frame (position
        difference, relative rotation) -- what the IMU measures well even over long frame gaps --
        and, before the first fix, the navigation pose itself (searched over 3 x
        ``initial_sigma_m``). Without it the prior extrapolates the last two fixes.
    nav_velocity_sigma_mps : float
        1-sigma velocity error of that navigation solution: the search grows by 3 x this x the
        time since the last fix.
    sun_dir_enu : (3,) array, optional
        The Sun of the frames (known from the ephemeris and the time). When given, each base map
        is relit to it before matching: multiplied by the ratio of the DTM's Lommel-Seeliger
        shading under the frames' Sun and under its own (what the DTM resolves; cast shadows and
        finer shading stay the map's).

    Returns
    -------
    DescentReconstruction

    Raises
    ------
    ScenarioError
        Bad arguments (shapes, times, priors, options).
    DataError
        An unreadable frame file.
    """
    t0 = time.perf_counter()
    if not isinstance(camera, Camera) or camera.projection != "perspective":
        raise invalid("camera", type(camera).__name__, "a perspective farside.render.Camera (the LCAM intrinsics)")
    bms = list(basemaps) if isinstance(basemaps, (list, tuple)) else [basemaps]
    if not bms or not all(isinstance(b, OrbitalBasemap) for b in bms):
        raise invalid("basemaps", basemaps, "an OrbitalBasemap or a non-empty sequence of them")
    frames = list(frames)
    n = len(frames)
    t = np.asarray(times_s, dtype=float)
    if t.shape != (n,) or n < 2:
        raise invalid("times_s.shape", t.shape, f"({n},): one time per frame, at least 2 frames")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise invalid("times_s", "non-increasing or non-finite", "finite, strictly increasing seconds")
    C = np.asarray(initial_position_enu, float)
    if C.shape != (3,) or not np.all(np.isfinite(C)):
        raise invalid("initial_position_enu", initial_position_enu, "three finite numbers (site ENU metres)")
    R = np.asarray(initial_rotation_enu_from_cam, float)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)) or not np.allclose(R.T @ R, np.eye(3), atol=1e-6) \
            or np.linalg.det(R) < 0:
        raise invalid("initial_rotation_enu_from_cam", "matrix", "a proper 3x3 rotation (columns = camera axes in ENU)")
    sig0 = _pos_real("initial_sigma_m", initial_sigma_m)
    for nm, v in (("min_ncc_basemap", min_ncc_basemap), ("min_ncc_track", min_ncc_track)):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and -1.0 < v < 1.0):
            raise invalid(nm, v, "a correlation in (-1, 1)")
    for nm, v, lo in (("min_footprint_px", min_footprint_px, 32), ("min_inliers", min_inliers, 6),
                      ("max_templates", max_templates, 20)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise invalid(nm, v, f"an integer >= {lo}")
    max_range = _pos_real("max_range_m", max_range_m)
    sun_f = None if sun_dir_enu is None else _unit3("sun_dir_enu", sun_dir_enu)
    q = _pos_real("jerk_psd", jerk_psd)

    nav_C = nav_R = None
    nav_v = _pos_real("nav_velocity_sigma_mps", nav_velocity_sigma_mps)
    if nav_position_enu is not None or nav_rotation_enu_from_cam is not None:
        nav_C = np.asarray(nav_position_enu, float) if nav_position_enu is not None else None
        nav_R = np.asarray(nav_rotation_enu_from_cam, float) if nav_rotation_enu_from_cam is not None else None
        if nav_C is None or nav_C.shape != (n, 3) or not np.all(np.isfinite(nav_C)):
            raise invalid("nav_position_enu", getattr(nav_C, "shape", None),
                          f"finite ({n}, 3) positions, given with the rotations")
        if nav_R is None or nav_R.shape != (n, 3, 3) or not np.all(np.isfinite(nav_R)) \
                or not np.allclose(np.einsum("kji,kjl->kil", nav_R, nav_R), np.eye(3), atol=1e-6):
            raise invalid("nav_rotation_enu_from_cam", getattr(nav_R, "shape", None), f"({n}, 3, 3) proper rotations")
    K = camera.intrinsic_matrix
    size = (camera.width_px, camera.height_px)
    terrain = _Terrain(bms)
    pyramids = [_levels(b, 64.0 * b.resolution_m, sun_f) for b in bms]
    fix = np.full((n, 3), np.nan)
    cov = np.full((n, 3, 3), np.nan)
    rots = np.zeros((n, 3, 3))
    source = np.array(["none"] * n, dtype=object)
    wres = np.full(n, np.nan)
    ninl = np.zeros(n, int)
    prev = None                        # (image, R, C) of the last frame with a fix
    sigma_pred = sig0
    missed = True
    last_fixes: list[tuple[float, np.ndarray, np.ndarray]] = []
    last_k = -1                        # frame of the last fix
    w_last = 0.0                       # matching resolution of the last fix
    for k in range(n):
        img = _load(frames[k], k)
        if img.shape != (size[1], size[0]):
            raise invalid(f"frames[{k}].shape", img.shape, f"{(size[1], size[0])} (the camera's image size)")
        # prior: constant velocity from the last two fixes
        if nav_C is not None:
            if last_fixes:
                # the navigation's motion since the last fix (IMU: accurate over a few tens of s)
                C = last_fixes[-1][1] + (nav_C[k] - nav_C[last_k])
                R = last_fixes[-1][2] @ (nav_R[last_k].T @ nav_R[k])
            else:
                C, R = nav_C[k].copy(), nav_R[k].copy()
        elif k > 0:
            if len(last_fixes) >= 2:
                (ta, ca, ra), (tb, cb, rb) = last_fixes[-2], last_fixes[-1]
                C = cb + (cb - ca) / (tb - ta) * (t[k] - tb)
                # the attitude at the last fixes' rate (capped at 5 deg)
                rv, _ = cv2.Rodrigues(ra.T @ rb)
                rv = rv * (t[k] - tb) / (tb - ta)
                ang = float(np.linalg.norm(rv))
                if ang > math.radians(5.0):
                    rv *= math.radians(5.0) / ang
                R = rb @ cv2.Rodrigues(rv)[0]
            elif last_fixes:
                C = last_fixes[-1][1].copy()
                R = last_fixes[-1][2].copy()
        got = None
        force_track = False
        R_prior, C_prior = R.copy(), C.copy()
        # a prediction to trust: from the navigation's motion since a fix, or two recent fixes
        good_pred = bool(last_fixes) if nav_C is not None else (len(last_fixes) >= 2 and not missed)
        sigma_k = sigma_pred + (3.0 * nav_v * (t[k] - t[last_k]) if nav_C is not None and last_fixes else 0.0)
        st = {"tried": False, "fresh": False}

        def retry():
            """After a failed pass without a fix: a prior from SIFT matches with the previous frame
            (large attitude changes, lost predictions); True when it gave one."""
            nonlocal R, C, force_track
            if got is not None or prev is None or st["tried"]:
                return False
            st["tried"] = True
            ff = _feature_fix(img, prev, K, terrain, min_inliers)
            if ff is None:
                return False
            R, C = ff
            force_track = False
            st["fresh"] = True
            _log.debug("frame %d: SIFT prior from the previous frame", k)
            return True

        for it in range(6):
            fp, range_m = _footprint(R, C, K, size, terrain, max_range)
            if fp is None:
                _log.debug("frame %d pass %d: no fix (%s)", k, it, "no footprint")
                if retry():
                    continue
                break
            gsd = range_m / K[0, 0]
            span = max(np.ptp(fp[:, 0]), np.ptp(fp[:, 1]))
            agl = max(C[2] - float(terrain.height(np.array([C[0]]), np.array([C[1]]))[0]), 1.0)
            choice = None
            # coarse to fine: a prediction less sure than ~16 pixels of the finest level is first
            # matched on a coarser level of the same map, at most 4x finer than the last fix's (the
            # next pass refines on the finest)
            min_res = min(sigma_k / 16.0, w_last / 4.0) if (it == 0 or st["fresh"]) else 0.0
            for pyr in sorted(pyramids, key=lambda p: p[0].res):
                ok_lv = []
                for lv in pyr:
                    if lv.res < 0.7 * gsd:
                        continue
                    if span / lv.res < min_footprint_px:
                        break
                    if span / lv.res > _MAX_GRID_PX:
                        continue                    # a grid this large is slow: a coarser level
                    ex = lv.base.extent_m
                    inside = ((fp[:, 0] > ex[0]) & (fp[:, 0] < ex[1]) & (fp[:, 1] > ex[2]) & (fp[:, 1] < ex[3])).mean()
                    if inside < 0.5:
                        break
                    ok_lv.append(lv)
                    if lv.res >= min_res:
                        break
                if ok_lv:
                    choice = ok_lv[-1]
                    break
            if choice is not None and not (it > 0 and force_track):
                mode = "basemap"
            else:
                mode = "track" if prev is not None else None
            if mode is None:
                break
            if mode == "basemap":
                w = choice.res
            else:
                w = max(gsd, span / 384.0)
            first_pass = it == 0 or (force_track and got is None) or st["fresh"]
            fresh, st["fresh"] = st["fresh"], False
            if it == 0 and (k == 0 or (nav_C is not None and not last_fixes)):
                search_m = 3.0 * sigma_pred
            elif first_pass:
                # the prior's pointing error (attitude rate unknown) moves the view by ~range x angle
                unsure = not good_pred or fresh
                search_m = max(0.08 * agl, 0.06 * range_m, 4.0 * w, sigma_k, 0.15 * range_m if unsure else 0.0)
            else:
                search_m = 4.0 * w
            s_px = int(min(math.ceil(search_m / w), 160))
            margin = s_px + 20
            xlo, xhi = fp[:, 0].min() - margin * w, fp[:, 0].max() + margin * w
            ylo, yhi = fp[:, 1].min() - margin * w, fp[:, 1].max() + margin * w
            if mode == "basemap":
                c0 = max(int(math.floor((xlo - choice.x0) / w)), 0)
                c1 = min(int(math.ceil((xhi - choice.x0) / w)), choice.n)
                r0 = max(int(math.floor((choice.y0 - yhi) / w)), 0)
                r1 = min(int(math.ceil((choice.y0 - ylo) / w)), choice.n)
                if r1 - r0 < 48 or c1 - c0 < 48:
                    _log.debug("frame %d pass %d: no fix (%s)", k, it, "map window too small")
                    if retry():
                        continue
                    break
                ref = choice.image[r0:r1, c0:c1]
                ref_valid = ref > 0
                Z = choice.heights[r0:r1, c0:c1]
                gx0, gy0 = choice.x0 + c0 * w, choice.y0 - r0 * w
            else:
                nx = int(min(math.ceil((xhi - xlo) / w), 1400))
                ny = int(min(math.ceil((yhi - ylo) / w), 1400))
                gx0, gy0 = 0.5 * (xlo + xhi) - 0.5 * nx * w, 0.5 * (ylo + yhi) + 0.5 * ny * w
                Z = None
            rows_n = ref.shape[0] if mode == "basemap" else ny
            cols_n = ref.shape[1] if mode == "basemap" else nx
            xs = gx0 + (np.arange(cols_n) + 0.5) * w
            ys = gy0 - (np.arange(rows_n) + 0.5) * w
            X, Y = np.meshgrid(xs, ys)
            if Z is None:
                Z = terrain.height(X, Y)
            img_f, scale = _prefilter(img, w / gsd)
            hp = mode == "basemap" and _HIGHPASS_PX > 0
            if hp:
                ref = _highpass(ref, ref_valid, _HIGHPASS_PX)

            def _rectify_hp(Cx):
                out = _rectify(img_f, scale, R, Cx, K, X, Y, Z)
                return (_highpass(out[0], out[1], _HIGHPASS_PX),) + out[1:] if hp else out
            if mode == "track":
                pimg, pR, pC, pgsd = prev
                pf, ps = _prefilter(pimg, max(w / pgsd, 1.0))
                ref, ref_valid, _, _ = _rectify(pf, ps, pR, pC, K, X, Y, Z)
            # the height is the least known part of the prediction (the descent rate): on the first
            # pass, try the prior at other heights above the ground below it and keep the best
            zg_below = C[2] - agl
            if not first_pass:
                factors = (1.0,)
            elif good_pred or fresh:
                factors = (1.0,)
            else:
                factors = (1.0, 0.92, 0.84, 0.76, 0.68, 0.6, 1.1, 1.25)
            best = None
            for f in factors:
                Cf = np.array([C[0], C[1], zg_below + f * agl])
                rect, valid, U, V = _rectify_hp(Cf)
                if valid.mean() < 0.05:
                    continue
                if s_px <= 6 and len(factors) == 1:
                    best = (0.0, Cf, rect, valid, U, V, (0.0, 0.0))
                    break
                sh = _global_shift(rect, valid, ref, ref_valid, max(s_px, 6))
                if sh is not None and (best is None or sh[2] > best[0]):
                    best = (sh[2], Cf, rect, valid, U, V, sh[:2])
            if factors == (1.0,) and first_pass and (best is None or best[0] < 0.35):
                for f in (0.9, 1.1, 0.8, 1.25):       # a weak peak: the descent rate changed; try others
                    Cf = np.array([C[0], C[1], zg_below + f * agl])
                    rect, valid, U, V = _rectify_hp(Cf)
                    if valid.mean() < 0.05:
                        continue
                    sh = _global_shift(rect, valid, ref, ref_valid, max(s_px, 6))
                    if sh is not None and (best is None or sh[2] > best[0]):
                        best = (sh[2], Cf, rect, valid, U, V, sh[:2])
            if best is None and first_pass and (good_pred or fresh):
                # no clear global peak, but the prediction is trusted: patches around it, RANSAC decides
                rect, valid, U, V = _rectify_hp(C)
                if valid.mean() >= 0.05:
                    best = (0.0, C.copy(), rect, valid, U, V, (0.0, 0.0))
            if best is None:
                _log.debug("frame %d pass %d: no fix (%s)", k, it, "no shift peak")
                if retry():
                    continue
                break
            _, C, rect, valid, U, V, shift = best
            loc_px = 6
            min_ncc = min_ncc_basemap if mode == "basemap" else min_ncc_track
            step = int(max(16, math.sqrt(float(valid.sum()) / max_templates)))
            src, dst = _grid_matches(rect, valid, ref, ref_valid, shift, tpl_px=31, step_px=step,
                                     search_px=loc_px, min_ncc=min_ncc)
            if len(src) < 3 * min_inliers and max(abs(shift[0]), abs(shift[1])) > 8 and not st.get("moved"):
                # a large shift leaves little overlap for the patches: move the prior by it and rectify again
                st["moved"] = st["fresh"] = True
                C = C + np.array([shift[1] * w, -shift[0] * w, 0.0])
                _log.debug("frame %d pass %d: %d matches after a %s px shift: prior moved by it", k, it, len(src),
                           shift)
                continue
            if len(src) < min_inliers:
                _log.debug("frame %d pass %d: no fix (%s)", k, it, "too few matches")
                if retry():
                    continue
                break
            ii, jj = src[:, 0].astype(int), src[:, 1].astype(int)
            img_pts = np.stack([U[ii, jj], V[ii, jj]], axis=1)
            if mode == "basemap":
                ox = gx0 + (dst[:, 1] + 0.5) * w
                oy = gy0 - (dst[:, 0] + 0.5) * w
                oz = _bilinear(Z, dst[:, 0], dst[:, 1])
            else:
                ox = gx0 + (dst[:, 1] + 0.5) * w
                oy = gy0 - (dst[:, 0] + 0.5) * w
                oz = terrain.height(ox, oy)
            obj = np.stack([ox, oy, oz], axis=1)
            thr = max(2.0, 1.5 * w / gsd)
            sol = _solve(obj, img_pts, R, C, K, thr)
            _log.debug("frame %d pass %d: %s w=%.3f gsd=%.3f shift=%s peak=%.2f matches=%d inliers=%s", k, it, mode, w,
                       gsd, shift, best[0], len(src), None if sol is None else len(sol[3]))
            if (sol is None or len(sol[3]) < min_inliers) and mode == "basemap" and prev is not None and got is None \
                    and not force_track:
                force_track = True          # the base map did not match: fall back on the previous frame
                R, C = R_prior.copy(), C_prior.copy()
                continue
            if sol is None or len(sol[3]) < min_inliers:
                _log.debug("frame %d pass %d: no fix (%s)", k, it, "PnP failed")
                if retry():
                    continue
                break
            Rn, Cn, cv_, inl = sol
            trusted = good_pred and not fresh and not st["tried"]
            if trusted and float(np.linalg.norm(Cn - C_prior)) > max(0.15 * range_m, 10.0 * w, sigma_k):
                # far from a trusted prediction: a false match, not a fix
                _log.debug("frame %d pass %d: no fix (fix %.0f m from the prediction; sigma %.0f m)", k, it,
                           float(np.linalg.norm(Cn - C_prior)), sigma_k)
                if retry():
                    continue
                break
            moved = float(np.linalg.norm(Cn - C))
            R, C = Rn, Cn
            got = (Rn, Cn, cv_, inl, mode, w, gsd)
            if moved < 2.0 * w and it > int(force_track) or moved < 0.5 * w:
                break
        if got is None:
            rots[k] = R
            if not (nav_C is not None and not last_fixes):
                sigma_pred = sigma_pred * 1.5 + 10.0
            missed = True
            continue
        missed = False
        Rn, Cn, cv_, inl, mode, w, gsd = got
        fix[k] = Cn
        # systematic floor: a fifth of the matching resolution (map georeference, DTM, chaining)
        cov[k] = cv_ + np.eye(3) * (0.2 * w) ** 2
        rots[k] = Rn
        source[k] = mode
        wres[k] = w
        ninl[k] = len(inl)
        last_fixes.append((t[k], Cn.copy(), Rn.copy()))
        last_k = k
        w_last = w
        prev = (img, Rn, Cn, gsd)
        sigma_pred = 6.0 * w            # the last fix's error carries into the prediction
    # smoothing
    pos = np.full((n, 3), np.nan)
    sig = np.sqrt(np.stack([cov[:, i, i] for i in range(3)], axis=1))
    for a in range(3):
        pos[:, a], _ = _rts_smooth(t, fix[:, a], sig[:, a], q)
    have = np.flatnonzero(np.isfinite(fix[:, 0]))
    if have.size:
        # no extrapolation beyond the first and last fixes
        pos[:have[0]] = np.nan
        pos[have[-1] + 1:] = np.nan
        last = int(have[-1])
        lp = terrain.ray_hit(pos[last], rots[last][:, 2][None, :])[0]
    else:
        last, lp = -1, np.full(3, np.nan)
    agl = pos[:, 2] - terrain.height(np.nan_to_num(pos[:, 0]), np.nan_to_num(pos[:, 1]))
    return DescentReconstruction(t_s=t, position_enu=pos, position_fix_enu=fix, sigma_enu_m=sig,
                                 rotation_enu_from_cam=rots, source=source.astype(str), resolution_m=wres,
                                 n_inliers=ninl, landing_point_enu=lp, landing_frame=last, height_agl_m=agl,
                                 seconds=time.perf_counter() - t0)


def error_by_altitude(position_enu, truth_position_enu, height_agl_m, *, edges_m=(0, 50, 200, 500, 1000, 2000, 5000,
                                                                                   20000)):
    """RMS 3-D position error in bins of height above ground.

    Parameters
    ----------
    position_enu, truth_position_enu : (N, 3)
        Reconstructed and true positions (NaN rows are skipped).
    height_agl_m : (N,)
        True height above ground of each frame (bins).
    edges_m : sequence of float
        Increasing bin edges, metres.

    Returns
    -------
    list of (lo_m, hi_m, count, rms_3d_m, rms_horizontal_m, rms_vertical_m)
    """
    p = np.asarray(position_enu, float)
    tr = np.asarray(truth_position_enu, float)
    h = np.asarray(height_agl_m, float)
    if p.ndim != 2 or p.shape[1] != 3 or tr.shape != p.shape:
        raise invalid("position_enu.shape", (p.shape, tr.shape), "two (N, 3) arrays of the same shape")
    if h.shape != (len(p),):
        raise invalid("height_agl_m.shape", h.shape, f"({len(p)},)")
    e = np.asarray(edges_m, float)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise invalid("edges_m", edges_m, "at least two increasing edges")
    d = p - tr
    ok = np.all(np.isfinite(d), axis=1) & np.isfinite(h)
    out = []
    for lo, hi in zip(e[:-1], e[1:]):
        m = ok & (h >= lo) & (h < hi)
        if not m.any():
            continue
        dd = d[m]
        out.append((float(lo), float(hi), int(m.sum()), float(np.sqrt(np.mean(np.sum(dd ** 2, axis=1)))),
                    float(np.sqrt(np.mean(np.sum(dd[:, :2] ** 2, axis=1)))), float(np.sqrt(np.mean(dd[:, 2] ** 2)))))
    return out
