"""Rover stereo: the Navcam/Hazcam pair on a rover pose, semi-global matching, 3-D points.

Geometry
--------
The presets of :mod:`farside.render.camera` (``navcam_pair``, ``hazcam_pair``) build the two cameras
with *one* rotation and centres offset by the baseline along the camera ``x`` axis, with identical
intrinsics and no lens distortion: the pair is already rectified (epipolar lines are image rows)
and :func:`points_from_disparity` checks that before it trusts it. A point at depth ``z`` (along
the optical axis) has disparity ``d = x_left - x_right = f_px B / z``.

Depth error model: a disparity error ``sigma_d`` (px) gives ``sigma_z = z^2 / (f_px B) sigma_d``,
and along the ray ``sigma_range = range z / (f_px B) sigma_d``. The default ``sigma_d`` (0.3 px) is
the RMS error of OpenCV's SGBM (3-way mode, 5 px blocks) measured on rendered Navcam pairs of the
centimetre regolith (docs/vision_stereo.md); it is not a published Yutu-2 number.

Frames
------
* site ENU: metres, x east, y north, z up (DESIGN.md);
* rover frame: origin at the rover reference point on the ground (the pose given), ``x`` forward
  along the heading, ``y`` left, ``z`` up (the rover's pitch and roll are not modelled here: the
  frame is the heading-rotated, level ENU frame).

Headings and pans are azimuths: 0 = north, clockwise toward east (as
:func:`farside.render.pan_tilt_rotation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from farside.errors import invalid
from farside.render.camera import Camera, hazcam_pair, navcam_pair

__all__ = [
    "StereoPoints",
    "stereo_pair_at",
    "disparity",
    "points_from_disparity",
    "stereo_points",
    "range_sigma_m",
    "enu_to_rover",
]

#: camera mounts on the rover (metres, rover frame: forward, left, up) and default tilts.
#: Navcam on the mast 1.5 m above the ground (REFERENCE.md: PCAM mast 1.5 m; Navcam shares the
#: mast, UNCONFIRMED); Hazcam 0.6 m high at the front of the body, 0.7 m forward (UNCONFIRMED,
#: the ``hazcam_pair`` preset's default position).
MOUNTS = {
    "navcam": {"forward_m": 0.0, "height_m": 1.5, "tilt_deg": -25.0},
    "hazcam": {"forward_m": 0.7, "height_m": 0.6, "tilt_deg": -40.0},
}
#: nearest depth searched by :func:`stereo_points`, by camera-name prefix (metres)
MIN_DEPTH_M = {"NAVCAM": 1.2, "HAZCAM": 0.3}
#: default SGBM disparity error (px, 1 sigma), measured on rendered Navcam pairs (module docstring)
SIGMA_DISPARITY_PX = 0.3


@dataclass(frozen=True, eq=False)
class StereoPoints:
    """3-D points triangulated from one stereo pair.

    Attributes
    ----------
    points_enu : (N, 3) float64
        Site ENU metres.
    range_m : (N,) float64
        Distance from the left camera's projection centre.
    sigma_range_m : (N,) float64
        1-sigma range error from the disparity error model (module docstring).
    sigma_z_m : (N,) float64
        1-sigma height error: the range error projected on the vertical plus the horizontal part
        times ``slope_allowance`` (a horizontal shift on ground sloping up to that gradient).
    rows, cols : (N,) int32
        Left-image pixel of each point.
    """

    points_enu: np.ndarray
    range_m: np.ndarray
    sigma_range_m: np.ndarray
    sigma_z_m: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def _finite(name: str, v, lo: float = -math.inf, hi: float = math.inf, *, open_lo: bool = False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise invalid(name, v, "a number") from None
    if not math.isfinite(f) or f < lo or f > hi or (open_lo and f == lo):
        raise invalid(name, v, f"a finite number in {'(' if open_lo else '['}{lo}, {hi}]")
    return f


def _pose(name: str, v) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise invalid(name, v, "three finite numbers (site ENU metres, x east, y north, z up)")
    return a


def stereo_pair_at(pose_enu_xyz, heading_rad: float, *, kind: str = "navcam", pan_rad: float = 0.0,
                   tilt_rad: float | None = None) -> tuple[Camera, Camera]:
    """The Navcam or Hazcam stereo pair of a rover standing at a pose.

    Parameters
    ----------
    pose_enu_xyz : (3,) float
        Rover reference point on the ground (centre of the wheel footprint), site ENU metres.
    heading_rad : float
        Rover heading (azimuth: 0 = north, clockwise toward east).
    kind : {'navcam', 'hazcam'}
        Navcam: on the mast, 1.5 m above the ground, above the reference point; Hazcam: 0.6 m
        high, 0.7 m forward (:data:`MOUNTS`; UNCONFIRMED).
    pan_rad : float
        Camera azimuth relative to the heading (Navcam mast pan; 0 for the fixed Hazcam).
    tilt_rad : float, optional
        Elevation of the optical axis (negative = down); default -25 deg (Navcam) or -40 deg
        (Hazcam).

    Returns
    -------
    (left, right) : Camera
        Parallel cameras (the presets' intrinsics), left centre at -B/2 along camera x.

    Raises
    ------
    ScenarioError
        Unknown ``kind``, non-finite pose or angles.
    """
    if kind not in MOUNTS:
        raise invalid("kind", kind, f"one of {sorted(MOUNTS)}")
    p = _pose("pose_enu_xyz", pose_enu_xyz)
    h = _finite("heading_rad", heading_rad)
    pan = _finite("pan_rad", pan_rad)
    m = MOUNTS[kind]
    tilt = math.radians(m["tilt_deg"]) if tilt_rad is None else _finite("tilt_rad", tilt_rad, -math.pi / 2,
                                                                          math.pi / 2, open_lo=True)
    fwd = np.array([math.sin(h), math.cos(h), 0.0])
    centre = p + m["forward_m"] * fwd + np.array([0.0, 0.0, m["height_m"]])
    make = navcam_pair if kind == "navcam" else hazcam_pair
    return make(position_enu=centre, pan_rad=h + pan, tilt_rad=tilt)


def _to_u8(dn: np.ndarray, lo: float, hi: float) -> np.ndarray:
    a = (dn.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6))
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def _check_image(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] < 16 or a.shape[1] < 16:
        raise invalid(f"{name}.shape", a.shape, "a 2-D mono image of at least 16 x 16 pixels")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise invalid(f"{name}.dtype", a.dtype, "integer or float digital numbers")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise invalid(name, "non-finite pixels", "finite digital numbers")
    return a


def disparity(left_dn, right_dn, *, min_disparity: int = 0, num_disparities: int = 192, block_size: int = 5,
              lr_tolerance_px: float = 1.0, uniqueness_ratio: int = 5, speckle_window_px: int = 100,
              speckle_range_px: int = 2, edge_guard: bool = True) -> np.ndarray:
    """Disparity of a rectified pair by OpenCV semi-global matching, left-right checked.

    Both images are stretched to 8 bits with the same gain (the 0.5-99.5 percentiles of the
    left image), matched with ``cv2.StereoSGBM`` in 3-way mode (P1 = 8 b^2, P2 = 32 b^2 for a block
    of ``b`` px), and matched again right-to-left (on the mirrored pair); a pixel is kept when the
    two disparities agree within ``lr_tolerance_px`` (OpenCV's ``disp12MaxDiff`` is not applied
    by its 3-way mode, so the check is done here).

    Parameters
    ----------
    left_dn, right_dn : (H, W) array
        Mono digital numbers (any bit depth) of the left and right camera.
    min_disparity : int
        Smallest disparity searched, px (>= 0: the scene is in front of both cameras).
    num_disparities : int
        Search range, px, a positive multiple of 16 (192 covers Navcam depths down to 1.7 m).
    block_size : int
        Odd matching block side, 3-15 px.
    lr_tolerance_px : float
        Left-right consistency tolerance, px (> 0).
    uniqueness_ratio, speckle_window_px, speckle_range_px : int
        OpenCV SGBM post-filters (0 disables each).
    edge_guard : bool
        Drop, in each row, the columns left of the row's 90th-percentile disparity: their partner
        in the right image would lie outside it (no true match), and wrong matches there pass the
        left-right check (measured: metre-size height errors at the left edge of near ground).

    Returns
    -------
    (H, W) float32
        Disparity ``x_left - x_right`` in px (1/16 px steps); NaN where invalid.

    Raises
    ------
    ScenarioError
        Images not 2-D, of different shapes or non-finite; options out of range.
    """
    left = _check_image("left_dn", left_dn)
    right = _check_image("right_dn", right_dn)
    if left.shape != right.shape:
        raise invalid("right_dn.shape", right.shape, f"the left image's shape {left.shape}")
    for name, v, lo, hi in (("min_disparity", min_disparity, 0, 4096), ("num_disparities", num_disparities, 16, 4096),
                            ("block_size", block_size, 3, 15), ("uniqueness_ratio", uniqueness_ratio, 0, 100),
                            ("speckle_window_px", speckle_window_px, 0, 100000),
                            ("speckle_range_px", speckle_range_px, 0, 1000)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise invalid(name, v, f"an integer in [{lo}, {hi}]")
    if num_disparities % 16:
        raise invalid("num_disparities", num_disparities, "a positive multiple of 16")
    if block_size % 2 == 0:
        raise invalid("block_size", block_size, "an odd integer in [3, 15]")
    tol = _finite("lr_tolerance_px", lr_tolerance_px, 0.0, 1000.0, open_lo=True)
    if min_disparity + num_disparities >= left.shape[1]:
        raise invalid("num_disparities", num_disparities,
                      f"min_disparity + num_disparities < image width {left.shape[1]}")

    lo, hi = np.percentile(left, [0.5, 99.5])
    l8, r8 = _to_u8(left, lo, hi), _to_u8(right, lo, hi)
    b = int(block_size)
    sgbm = cv2.StereoSGBM_create(minDisparity=int(min_disparity), numDisparities=int(num_disparities), blockSize=b,
                                 P1=8 * b * b, P2=32 * b * b, disp12MaxDiff=-1,
                                 uniquenessRatio=int(uniqueness_ratio), speckleWindowSize=int(speckle_window_px),
                                 speckleRange=int(speckle_range_px), mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    # OpenCV leaves the first min_disparity + num_disparities columns of its left image unmatched:
    # pad both images on the left by that many black columns and crop the result
    pad = int(min_disparity) + int(num_disparities)

    def match(a: np.ndarray, b_: np.ndarray) -> np.ndarray:
        ap = cv2.copyMakeBorder(a, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
        bp = cv2.copyMakeBorder(b_, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
        return sgbm.compute(ap, bp)[:, pad:]

    d_left = match(l8, r8)
    # right-to-left: mirror both images and swap them; the mirrored right image is then the "left"
    d_right = match(np.ascontiguousarray(r8[:, ::-1]), np.ascontiguousarray(l8[:, ::-1]))[:, ::-1]
    invalid_code = (int(min_disparity) - 1) * 16
    dl = d_left.astype(np.float32) / 16.0
    dr = d_right.astype(np.float32) / 16.0
    ok = d_left > invalid_code
    h, w = dl.shape
    cols = np.arange(w, dtype=np.float32)[None, :]
    xr = np.rint(cols - np.where(ok, dl, 0.0)).astype(np.int64)       # matching column in the right image
    inside = ok & (xr >= 0) & (xr < w)
    rows = np.broadcast_to(np.arange(h)[:, None], (h, w))
    dr_at = dr[rows, np.clip(xr, 0, w - 1)]
    good = inside & (d_right[rows, np.clip(xr, 0, w - 1)] > invalid_code) & (np.abs(dl - dr_at) <= tol)
    good &= dl < min_disparity + num_disparities - 1        # at the end of the search range: clipped
    out = np.where(good, dl, np.float32(np.nan)).astype(np.float32)
    if edge_guard:
        # a left pixel whose partner lies left of the right image's edge has no true match, yet the
        # matcher may find a wrong one that passes the check; level ground seen by a camera without
        # roll has one disparity per row, so drop the columns left of the row's 90th-percentile one
        counts = np.count_nonzero(good, axis=1)
        rows_ok = counts >= 16
        if rows_ok.any():
            d90 = np.full(h, np.inf, np.float32)
            d90[rows_ok] = np.nanpercentile(out[rows_ok], 90, axis=1)
            out[cols < d90[:, None]] = np.nan
    return out


def _pair_geometry(left_cam: Camera, right_cam: Camera) -> tuple[float, float]:
    """(f_px, baseline_m) of a rectified parallel pair; raises when the pair is not one."""
    for nm, c in (("left_cam", left_cam), ("right_cam", right_cam)):
        if not isinstance(c, Camera):
            raise invalid(nm, type(c).__name__, "a farside.render.Camera")
        if c.projection != "perspective" or c.k1 != 0.0 or c.k2 != 0.0:
            raise invalid(f"{nm}.projection/k1/k2", (c.projection, c.k1, c.k2),
                          "an undistorted perspective camera (rectify the images first)")
    intr = ("width_px", "height_px", "focal_length_m", "pixel_pitch_m", "cx_px", "cy_px")
    if any(getattr(left_cam, k) != getattr(right_cam, k) for k in intr):
        raise invalid("right_cam", right_cam.name, "the left camera's intrinsics (a rectified pair)")
    if not np.allclose(left_cam.rotation_enu_from_cam, right_cam.rotation_enu_from_cam, atol=1e-9):
        raise invalid("right_cam.rotation_enu_from_cam", "matrix", "the left camera's rotation (parallel cameras)")
    base_cam = (right_cam.position_enu - left_cam.position_enu) @ left_cam.rotation_enu_from_cam
    b = float(base_cam[0])
    if b <= 0 or abs(base_cam[1]) > 1e-6 * b or abs(base_cam[2]) > 1e-6 * b:
        raise invalid("right_cam.position_enu", list(right_cam.position_enu),
                      "offset from the left camera along its +x axis only (a rectified pair)")
    return float(left_cam.fx_px), b


def range_sigma_m(range_m, depth_m, *, f_px: float, baseline_m: float,
                  sigma_disparity_px: float = SIGMA_DISPARITY_PX) -> np.ndarray:
    """1-sigma range error of stereo points: ``range * depth / (f_px B) * sigma_d``.

    Parameters
    ----------
    range_m, depth_m : array
        Distance from the projection centre and depth along the optical axis, metres.
    f_px, baseline_m : float
        Focal length (px) and stereo baseline (m).
    sigma_disparity_px : float
        Disparity error, px.

    Returns
    -------
    ndarray
        Range error, metres (same shape as ``range_m``).
    """
    f = _finite("f_px", f_px, 0.0, open_lo=True)
    b = _finite("baseline_m", baseline_m, 0.0, open_lo=True)
    s = _finite("sigma_disparity_px", sigma_disparity_px, 0.0, open_lo=True)
    return np.asarray(range_m, float) * np.asarray(depth_m, float) / (f * b) * s


def points_from_disparity(disp_px, left_cam: Camera, right_cam: Camera, *, max_range_m: float = math.inf,
                          sigma_disparity_px: float = SIGMA_DISPARITY_PX, slope_allowance: float = 0.35,
                          min_disparity_px: float = 1.0) -> StereoPoints:
    """Triangulate a disparity image of a rectified parallel pair into site-ENU points.

    Parameters
    ----------
    disp_px : (H, W) float
        Disparity (left minus right column), NaN where invalid (:func:`disparity`).
    left_cam, right_cam : Camera
        The pair that took the images: same intrinsics and rotation, no distortion, the right
        centre offset along the left camera's +x (checked).
    max_range_m : float
        Drop points farther than this from the left camera.
    sigma_disparity_px : float
        Disparity error for the per-point uncertainty (:func:`range_sigma_m`).
    slope_allowance : float
        Gradient used to turn the horizontal part of the range error into height error (0.35 ~
        20 deg ground).
    min_disparity_px : float
        Disparities below this (points near the horizon) are dropped.

    Returns
    -------
    StereoPoints

    Raises
    ------
    ScenarioError
        Not a rectified pair, ``disp_px`` of the wrong shape, options out of range.
    """
    f, b = _pair_geometry(left_cam, right_cam)
    d = np.asarray(disp_px, dtype=np.float64)
    if d.shape != (left_cam.height_px, left_cam.width_px):
        raise invalid("disp_px.shape", d.shape, f"the cameras' image shape {(left_cam.height_px, left_cam.width_px)}")
    rmax = float(max_range_m)
    if math.isnan(rmax) or rmax <= 0:
        raise invalid("max_range_m", max_range_m, "a distance > 0 (inf for no limit)")
    sd = _finite("sigma_disparity_px", sigma_disparity_px, 0.0, 100.0, open_lo=True)
    sa = _finite("slope_allowance", slope_allowance, 0.0, 10.0)
    dmin = _finite("min_disparity_px", min_disparity_px, 0.0, 1e4, open_lo=True)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d >= dmin)
    rows, cols = np.nonzero(ok)
    dd = d[rows, cols]
    z = f * b / dd
    x = (cols - left_cam.cx_px) / f
    y = (rows - left_cam.cy_px) / f
    norm = np.sqrt(1.0 + x * x + y * y)
    rng_m = z * norm
    keep = rng_m <= rmax
    rows, cols, z, x, y, norm, rng_m = (a[keep] for a in (rows, cols, z, x, y, norm, rng_m))
    rot = left_cam.rotation_enu_from_cam
    dirs = np.stack([x, y, np.ones_like(x)], axis=1) @ rot.T / norm[:, None]     # unit rays, ENU
    pts = left_cam.position_enu + dirs * rng_m[:, None]
    s_r = rng_m * z / (f * b) * sd
    uz = np.abs(dirs[:, 2])
    s_z = s_r * (uz + sa * np.sqrt(np.maximum(0.0, 1.0 - uz * uz)))
    return StereoPoints(points_enu=pts, range_m=rng_m, sigma_range_m=s_r, sigma_z_m=s_z,
                        rows=rows.astype(np.int32), cols=cols.astype(np.int32))


def stereo_points(left_dn, right_dn, left_cam: Camera, right_cam: Camera, *, max_range_m: float = math.inf,
                  sigma_disparity_px: float = SIGMA_DISPARITY_PX, min_depth_m: float | None = None,
                  block_size: int = 5) -> StereoPoints:
    """:func:`disparity` then :func:`points_from_disparity`: one stereo stop's points in site ENU.

    ``min_depth_m`` is the nearest depth (along the optical axis) searched: the disparity range is
    ``f_px B / min_depth_m`` rounded up to 16 px. None: :data:`MIN_DEPTH_M` by the camera name's
    preset prefix (Navcam 1.2 m: at 1.5 m tilted 25 deg down its nearest ground is ~1.5 m deep,
    256 px at full resolution; Hazcam 0.3 m: 112 px), 1.0 m for other cameras. Other parameters
    are those of the two functions. Returns :class:`StereoPoints`.
    """
    f, b = _pair_geometry(left_cam, right_cam)
    if min_depth_m is None:
        min_depth_m = next((v for k, v in MIN_DEPTH_M.items() if left_cam.name.upper().startswith(k)), 1.0)
    md = _finite("min_depth_m", min_depth_m, 0.0, 1e6, open_lo=True)
    nd = int(math.ceil(f * b / md / 16.0)) * 16
    nd = max(16, min(nd, (left_cam.width_px - 1) // 16 * 16))
    disp = disparity(left_dn, right_dn, num_disparities=nd, block_size=block_size)
    # a disparity at the end of the search range is a match the search could not bracket (the
    # smooth far horizon and the black sky snap there): it would put points at ~min_depth
    disp[disp >= nd - 2] = np.nan
    return points_from_disparity(disp, left_cam, right_cam, max_range_m=max_range_m,
                                 sigma_disparity_px=sigma_disparity_px)


def enu_to_rover(points_enu, pose_enu_xyz, heading_rad: float) -> np.ndarray:
    """Site-ENU points in the rover frame (x forward, y left, z up; origin at the pose).

    Parameters
    ----------
    points_enu : (N, 3) float
        Site ENU metres.
    pose_enu_xyz : (3,) float
        Rover reference point, site ENU.
    heading_rad : float
        Azimuth of the rover's forward axis (0 = north, clockwise).

    Returns
    -------
    (N, 3) float64
        Rover-frame metres.
    """
    p = np.asarray(points_enu, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3:
        raise invalid("points_enu.shape", p.shape, "(N, 3)")
    o = _pose("pose_enu_xyz", pose_enu_xyz)
    h = _finite("heading_rad", heading_rad)
    fwd = np.array([math.sin(h), math.cos(h), 0.0])
    left = np.array([-math.cos(h), math.sin(h), 0.0])
    rel = p - o
    return np.stack([rel @ fwd, rel @ left, rel[:, 2]], axis=1)
