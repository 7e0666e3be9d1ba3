"""Rover localisation: wheel odometry with slip, gyro + sun-sensor heading, stereo visual
odometry between stops, and relocalisation against the lander seen in the navcam pair.

Conventions: site ENU metres; a heading is an azimuth (0 = north, clockwise toward east, radians),
the convention of :func:`farside.render.pan_tilt_rotation`. A rover pose is its ground point (ENU)
and heading; the navcam pair sits on the mast ``mast_height_m`` above the ground point, pointed at
``pan_rad`` (relative to the body heading) and ``tilt_rad``; the left camera is ``baseline_m / 2``
to the left of the mast head (as :func:`farside.render.navcam_pair` places it).

Estimators (docs/vision_localisation.md):

* odometry + IMU: :func:`wheel_odometry` with the heading of :func:`heading_estimate`;
* VO: :func:`visual_odometry_step` chained over stereo stops by :func:`visual_localisation`;
* VO + relocalisation: the same chain with :func:`relocalise_lander` fixes where the lander is seen.

The algorithms see only DN images, the intrinsics, the mast geometry, the lander's known position,
heading and CAD mesh, and the heading sensors; never the renderer's ground-truth layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from farside.errors import invalid
from farside.render import pan_tilt_rotation
from farside.render.vehicles import SceneObject
from farside.vision import _vo

__all__ = [
    "HeadingSensorModel",
    "HeadingEstimate",
    "heading_estimate",
    "OdometryEstimate",
    "wheel_odometry",
    "mast_camera_pose",
    "rover_pose_from_camera",
    "VOStep",
    "ground_prior",
    "visual_odometry_step",
    "LanderFix",
    "relocalise_lander",
    "StereoStop",
    "TrackEstimate",
    "visual_localisation",
    "track_errors",
]

_DEG = math.pi / 180.0


def _wrap(a):
    return (np.asarray(a, float) + math.pi) % (2 * math.pi) - math.pi


def _real(name, v, lo=-math.inf, hi=math.inf, lo_open=False):
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise invalid(name, v, f"a finite number in {'(' if lo_open else '['}{lo}, {hi}]") from None
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        raise invalid(name, v, f"a finite number in {'(' if lo_open else '['}{lo}, {hi}]")
    return x


def _rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator")
    return rng


def _k(k_px):
    k = np.asarray(k_px, float)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise invalid("k_px", k_px if k.size < 10 else f"array{k.shape}", "a finite 3x3 intrinsic matrix, fx, fy > 0")
    return k


def _image(name, a):
    x = np.asarray(a)
    if x.ndim != 2 or x.shape[0] < 32 or x.shape[1] < 32 or x.dtype.kind not in "uif":
        raise invalid(name, f"array{x.shape} {x.dtype}", "a 2-D grey DN image (uint8/uint16/float), >= 32 px a side")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise invalid(name, "array with NaN", "finite DN values")
    return x


# ---------------------------------------------------------------------------------------------
# heading: gyro + sun sensor
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadingSensorModel:
    """Yaw gyro and sun-sensor numbers (all UNCONFIRMED for Yutu-2: typical of a tactical-grade
    fibre-optic gyro and a digital sun sensor; docs/vision_localisation.md).

    Attributes
    ----------
    gyro_arw_rad_per_sqrt_s : float
        Angle random walk: 0.05 deg/sqrt(h).
    gyro_bias_sigma_rad_per_s : float
        Turn-on bias, 1-sigma: 1 deg/h.
    gyro_bias_rw_rad_per_s_sqrt_s : float
        Bias random walk: 0.5 deg/h per sqrt(h).
    sun_sigma_rad : float
        Heading from one sun-sensor fix (sensor + attitude + ephemeris), 1-sigma: 0.5 deg.
    sun_min_elevation_rad : float
        No fix below this solar elevation: 5 deg.
    sun_fix_interval_s : float
        Time between sun-sensor fixes while the Sun is up: 600 s.
    """

    gyro_arw_rad_per_sqrt_s: float = 0.05 * _DEG / 60.0
    gyro_bias_sigma_rad_per_s: float = 1.0 * _DEG / 3600.0
    gyro_bias_rw_rad_per_s_sqrt_s: float = 0.5 * _DEG / 3600.0 / 60.0
    sun_sigma_rad: float = 0.5 * _DEG
    sun_min_elevation_rad: float = 5.0 * _DEG
    sun_fix_interval_s: float = 600.0

    def __post_init__(self) -> None:
        for nm in ("gyro_arw_rad_per_sqrt_s", "gyro_bias_sigma_rad_per_s", "gyro_bias_rw_rad_per_s_sqrt_s"):
            _real(nm, getattr(self, nm), 0.0, 1.0)
        _real("sun_sigma_rad", self.sun_sigma_rad, 0.0, math.pi, lo_open=True)
        _real("sun_min_elevation_rad", self.sun_min_elevation_rad, -math.pi / 2, math.pi / 2)
        _real("sun_fix_interval_s", self.sun_fix_interval_s, 0.0, 1e9)


@dataclass(frozen=True, eq=False)
class HeadingEstimate:
    """Estimated heading at each sample.

    Attributes
    ----------
    heading_rad : (N,) float
        Estimate, wrapped to [-pi, pi).
    sigma_rad : (N,) float
        The filter's 1-sigma heading uncertainty.
    sun_fix : (N,) bool
        Samples where a sun-sensor fix was applied.
    """

    heading_rad: np.ndarray
    sigma_rad: np.ndarray
    sun_fix: np.ndarray


def heading_estimate(t_s, heading_rad, *, rng: np.random.Generator, sun_elevation_rad=None,
                     model: HeadingSensorModel = HeadingSensorModel(), initial_sigma_rad: float = 0.0
                     ) -> HeadingEstimate:
    """Heading from a yaw gyro (integrated, with turn-on bias, bias random walk and angle random
    walk) and sun-sensor absolute fixes, fused by a two-state (heading, bias) Kalman filter.

    Parameters
    ----------
    t_s : (N,) float
        Sample times, seconds, non-decreasing.
    heading_rad : (N,) float
        True heading (azimuth, 0 = north, clockwise); the gyro measures its increments.
    rng : numpy.random.Generator
        Draws the gyro bias, noise and the sun-sensor errors.
    sun_elevation_rad : float or (N,) float, optional
        Solar elevation at each sample; fixes happen every ``model.sun_fix_interval_s`` while it is
        above ``model.sun_min_elevation_rad``. None: no sun sensor (gyro only).
    model : HeadingSensorModel
    initial_sigma_rad : float
        Error of the initial heading (drawn; the filter starts with this 1-sigma), default 0.

    Returns
    -------
    HeadingEstimate

    Raises
    ------
    ScenarioError
        Shapes differ, times decrease, values are not finite, or ``rng`` is not a Generator.
    """
    rng = _rng(rng)
    t = np.asarray(t_s, float)
    h = np.asarray(heading_rad, float)
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise invalid("t_s", f"array{t.shape}", "a 1-D non-decreasing array of finite seconds")
    if h.shape != t.shape or not np.all(np.isfinite(h)):
        raise invalid("heading_rad", f"array{h.shape}", f"finite radians, shape {t.shape} like t_s")
    if sun_elevation_rad is None:
        el = np.full(t.shape, -math.pi / 2)
    else:
        el = np.broadcast_to(np.asarray(sun_elevation_rad, float), t.shape) if np.ndim(sun_elevation_rad) == 0 \
            else np.asarray(sun_elevation_rad, float)
        if el.shape != t.shape or not np.all(np.isfinite(el)):
            raise invalid("sun_elevation_rad", f"array{np.shape(sun_elevation_rad)}",
                          f"finite radians, a scalar or shape {t.shape}")
    if not isinstance(model, HeadingSensorModel):
        raise invalid("model", type(model).__name__, "a HeadingSensorModel")
    s0 = _real("initial_sigma_rad", initial_sigma_rad, 0.0, math.pi)
    m = model
    n = t.size
    dt = np.diff(t)
    dpsi_true = _wrap(np.diff(h))
    # the truth of the sensor: bias random walk, white rate noise (one draw array each, fixed order)
    b0 = m.gyro_bias_sigma_rad_per_s * rng.standard_normal()
    bias = b0 + np.concatenate([[0.0], np.cumsum(m.gyro_bias_rw_rad_per_s_sqrt_s * np.sqrt(dt)
                                                 * rng.standard_normal(n - 1))])[:-1] if n > 1 else np.zeros(0)
    dpsi_meas = dpsi_true + bias * dt + m.gyro_arw_rad_per_sqrt_s * np.sqrt(dt) * rng.standard_normal(n - 1)
    sun_noise = m.sun_sigma_rad * rng.standard_normal(n)
    psi0_err = s0 * rng.standard_normal()
    # filter
    x = np.array([h[0] + psi0_err, 0.0])
    p = np.diag([s0 ** 2, m.gyro_bias_sigma_rad_per_s ** 2])
    out = np.empty(n)
    sig = np.empty(n)
    fix = np.zeros(n, bool)
    last_fix = -math.inf
    r = m.sun_sigma_rad ** 2
    for k in range(n):
        if k > 0:
            d = dt[k - 1]
            x[0] += dpsi_meas[k - 1] - x[1] * d
            f = np.array([[1.0, -d], [0.0, 1.0]])
            q = np.diag([m.gyro_arw_rad_per_sqrt_s ** 2 * d, m.gyro_bias_rw_rad_per_s_sqrt_s ** 2 * d])
            p = f @ p @ f.T + q
        if el[k] > m.sun_min_elevation_rad and t[k] - last_fix >= m.sun_fix_interval_s:
            innov = float(_wrap(h[k] + sun_noise[k] - x[0]))
            s = p[0, 0] + r
            gain = p[:, 0] / s
            x = x + gain * innov
            p = p - np.outer(gain, p[0, :])
            last_fix = t[k]
            fix[k] = True
        out[k] = x[0]
        sig[k] = math.sqrt(max(p[0, 0], 0.0))
    return HeadingEstimate(heading_rad=_wrap(out), sigma_rad=sig, sun_fix=fix)


# ---------------------------------------------------------------------------------------------
# wheel odometry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class OdometryEstimate:
    """Dead-reckoned track.

    Attributes
    ----------
    xy_m : (N, 2) float
        Estimated ground positions, site ENU metres (starts at the true start).
    wheel_distance_m : (N - 1,) float
        The wheel (encoder) distance of each step.
    """

    xy_m: np.ndarray
    wheel_distance_m: np.ndarray


def wheel_odometry(path_xy_m, slip, *, rng: np.random.Generator, heading_rad=None,
                   encoder_sigma_frac: float = 0.005) -> OdometryEstimate:
    """Dead reckoning from the wheel encoders along a true path driven with slip.

    Each step's wheel distance is the true ground distance over ``1 - slip`` (true distance =
    wheel distance x (1 - slip)) times ``1 + e``, e ~ N(0, ``encoder_sigma_frac``); the odometry
    integrates the wheel distance along the heading. With a constant slip s the odometry's
    distance is the true one over (1 - s): its error is s of the odometry distance.

    Parameters
    ----------
    path_xy_m : (N, 2) or (N, 3) float
        True ground positions (site ENU metres; only x, y are used: horizontal distances).
    slip : float or (N - 1,) float
        Slip ratio of each step, in [0, 1) (skid, a negative slip, down to -1).
    rng : numpy.random.Generator
        Encoder noise.
    heading_rad : (N,) float, optional
        Estimated heading at each sample (e.g. :func:`heading_estimate`); a step goes along the
        circular mean of its two ends. None: along the true course of each step (perfect heading).
    encoder_sigma_frac : float
        Encoder scale noise per step, fractional 1-sigma (default 0.5 %, UNCONFIRMED).

    Returns
    -------
    OdometryEstimate

    Raises
    ------
    ScenarioError
        Wrong shapes, slip out of range, non-finite values.
    """
    rng = _rng(rng)
    p = np.asarray(path_xy_m, float)
    if p.ndim != 2 or p.shape[1] not in (2, 3) or p.shape[0] < 1 or not np.all(np.isfinite(p)):
        raise invalid("path_xy_m", f"array{p.shape}", "(N, 2) or (N, 3) finite metres, N >= 1")
    p = p[:, :2]
    n = p.shape[0]
    s = np.broadcast_to(np.asarray(slip, float), (n - 1,)) if np.ndim(slip) == 0 else np.asarray(slip, float)
    if s.shape != (n - 1,) or not np.all(np.isfinite(s)) or np.any(s >= 1.0) or np.any(s < -1.0):
        raise invalid("slip", f"array{np.shape(slip)}" if np.ndim(slip) else slip,
                      f"a slip ratio in [-1, 1) per step (scalar or shape ({n - 1},))")
    sig = _real("encoder_sigma_frac", encoder_sigma_frac, 0.0, 0.5)
    step = np.diff(p, axis=0)
    d_true = np.hypot(step[:, 0], step[:, 1])
    wheel = d_true / (1.0 - s) * (1.0 + sig * rng.standard_normal(n - 1))
    if heading_rad is None:
        course = np.arctan2(step[:, 0], step[:, 1])
    else:
        hh = np.asarray(heading_rad, float)
        if hh.shape != (n,) or not np.all(np.isfinite(hh)):
            raise invalid("heading_rad", f"array{hh.shape}", f"finite radians, shape ({n},)")
        course = np.arctan2(np.sin(hh[:-1]) + np.sin(hh[1:]), np.cos(hh[:-1]) + np.cos(hh[1:]))
    xy = np.empty((n, 2))
    xy[0] = p[0]
    xy[1:] = p[0] + np.cumsum(np.stack([wheel * np.sin(course), wheel * np.cos(course)], axis=1), axis=0)
    return OdometryEstimate(xy_m=xy, wheel_distance_m=wheel)


# ---------------------------------------------------------------------------------------------
# mast geometry
# ---------------------------------------------------------------------------------------------
def mast_camera_pose(ground_enu, heading_rad: float, *, pan_rad: float, tilt_rad: float, mast_height_m: float,
                     baseline_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The left navcam's ENU position and ``rotation_enu_from_cam`` for a level rover pose (as
    :func:`farside.render.navcam_pair` places it at ``ground + (0, 0, mast_height_m)`` with azimuth
    ``heading_rad + pan_rad``)."""
    g = np.asarray(ground_enu, float)
    if g.shape != (3,) or not np.all(np.isfinite(g)):
        raise invalid("ground_enu", ground_enu, "three finite numbers (site ENU metres)")
    _real("mast_height_m", mast_height_m, 0.0, 10.0)
    _real("baseline_m", baseline_m, 0.0, 5.0, lo_open=True)
    rot = pan_tilt_rotation(float(heading_rad) + float(pan_rad), float(tilt_rad))
    return g + np.array([0.0, 0.0, mast_height_m]) - 0.5 * baseline_m * rot[:, 0], rot


def rover_pose_from_camera(position_enu, rotation_enu_from_cam, *, pan_rad: float, mast_height_m: float,
                           baseline_m: float) -> tuple[np.ndarray, float]:
    """Inverse of :func:`mast_camera_pose`: the ground point (ENU) and heading (rad) of the rover
    whose left navcam has this pose (heading from the optical axis' azimuth minus ``pan_rad``)."""
    p = np.asarray(position_enu, float)
    r = np.asarray(rotation_enu_from_cam, float)
    head = p + 0.5 * baseline_m * r[:, 0]
    az = math.atan2(r[0, 2], r[1, 2])
    return head - np.array([0.0, 0.0, mast_height_m]), float(_wrap(az - pan_rad))


# ---------------------------------------------------------------------------------------------
# visual odometry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class VOStep:
    """Motion of the left camera from stop k to stop k+1, in the stop-k camera frame.

    Attributes
    ----------
    ok : bool
        False when too few features were triangulated or matched (the pose fields are then identity).
    rotation_c0_from_c1 : (3, 3)
        Maps camera-(k+1) vectors into the camera-k frame.
    position_c0_m : (3,)
        The camera-(k+1) projection centre in the camera-k frame, metres.
    n_stereo, n_matched, n_inliers : int
        Triangulated corners, corners tracked into the other stop (on an early failure: ground
        matches of the coarse stage), PnP inliers.
    reprojection_rms_px : float
        RMS reprojection error of the inliers.
    """

    ok: bool
    rotation_c0_from_c1: np.ndarray
    position_c0_m: np.ndarray
    n_stereo: int
    n_matched: int
    n_inliers: int
    reprojection_rms_px: float


def visual_odometry_step(left0_dn, right0_dn, left1_dn, *, k_px, baseline_m: float, rng: np.random.Generator,
                         right1_dn=None, max_range_m: float = 20.0, n_features: int = 2000,
                         min_inliers: int = 30, ground_priors=None) -> VOStep:
    """Stereo visual odometry between two stops, made for stops metres apart with a turn (the
    ground 4-9 m ahead of stop k is seen 1-5 m ahead of stop k+1: 2-3x the scale, a different
    foreshortening, often a different exposure).

    1. Coarse, without a prior: each stop's ground plane is fitted to its stereo points (SGBM,
       RANSAC); both left images are rectified onto their planes (a map view, the lateral
       footprint of 2 px at 8 m per pixel, >= 2.5 cm), where the change of scale and perspective
       is gone but for the relief; SIFT matches between the two map views must agree with one
       rigid motion of the ground (2-point RANSAC, 0.4 m); that motion, refined by RANSAC P3P on
       the matches with a stop-k stereo depth, is the coarse camera motion.
    2. Precise: Shi-Tomasi corners where the views overlap are triangulated (SGBM disparity
       refined by Lucas-Kanade along the row) and tracked into the other stop's image resampled
       into their view (through the dense stereo depth with ``right1_dn``, else through the
       ground plane), on locally contrast-normalised images; RANSAC PnP (EPnP, 1.5 px) refined
       by Levenberg-Marquardt; done twice, the second resampling from the better motion. With
       ``right1_dn`` the corners are taken at stop k+1 (near points, small depth error) and
       tracked back into stop k; without it, stop-k corners are tracked forward.

    Parameters
    ----------
    left0_dn, right0_dn : (H, W) array
        Stop-k navcam pair (parallel, rectified), DN (any bit depth).
    left1_dn : (H, W) array
        Stop-(k+1) left image.
    k_px : (3, 3)
        Left-camera intrinsic matrix (both cameras share it).
    baseline_m : float
        Stereo baseline (right camera along the left camera's +x).
    rng : numpy.random.Generator
        Seeds the RANSACs.
    right1_dn : (H, W) array, optional
        Stop-(k+1) right image: the more accurate backward tracking (recommended).
    max_range_m : float
        Triangulated points farther than this are not used (depth error grows as range^2).
    n_features : int
        Corners tracked per step.
    min_inliers : int
        Fewer PnP inliers make ``ok`` False.
    ground_priors : ((n0, d0), (n1, d1)), optional
        Each stop's ground plane known from the mast (the level ground ``d`` below the camera:
        ``n`` = the downward vertical in the camera frame, from the mast's tilt and the rover's
        attitude; :func:`ground_prior`). A fitted plane more than ``PLANE_PRIOR_DEG`` or
        ``PLANE_PRIOR_M`` from its prior (the stereo points' dominant plane is then a crater's
        wall or a far slope, not the ground the rover stands on) is replaced by the prior, and a
        coarse stage that fails on fitted planes is tried again on the priors.

    Returns
    -------
    VOStep

    Raises
    ------
    ScenarioError
        Bad images, intrinsics or numbers.
    """
    rng = _rng(rng)
    l0, r0, l1 = _image("left0_dn", left0_dn), _image("right0_dn", right0_dn), _image("left1_dn", left1_dn)
    r1 = None if right1_dn is None else _image("right1_dn", right1_dn)
    if not (l0.shape == r0.shape == l1.shape) or (r1 is not None and r1.shape != l0.shape):
        raise invalid("right0_dn/left1_dn/right1_dn.shape", (r0.shape, l1.shape, None if r1 is None else r1.shape),
                      f"the shape of left0_dn {l0.shape}")
    k = _k(k_px)
    b = _real("baseline_m", baseline_m, 0.0, 5.0, lo_open=True)
    rmax = _real("max_range_m", max_range_m, 0.0, 1e4, lo_open=True)
    if not isinstance(n_features, (int, np.integer)) or n_features < 50:
        raise invalid("n_features", n_features, "an integer >= 50")
    seed = int(rng.integers(0, 2 ** 31 - 1))
    a0, b0, a1 = _vo.normalise(l0), _vo.normalise(r0), _vo.normalise(l1)
    b1 = None if r1 is None else _vo.normalise(r1)
    fx = k[0, 0]
    near_m = 0.5                                           # nearest ground point used (m)
    disp0 = _vo.disparity(a0, b0, max_disp_px=fx * b / near_m)
    priors = None
    if ground_priors is not None:
        try:
            priors = [(np.asarray(n_, float).reshape(3) / np.linalg.norm(n_), float(d_)) for n_, d_ in ground_priors]
        except (TypeError, ValueError):
            priors = []
        if len(priors) != 2 or not all(np.all(np.isfinite(n_)) and math.isfinite(d_) and d_ > 0 for n_, d_ in priors):
            raise invalid("ground_priors", ground_priors, "two (normal (3,), distance > 0 m) planes in the camera frames")
    plane0 = _near_prior(_vo.ground_plane(disp0, k, b, max_range_m=rmax, seed=seed), priors, 0)
    n_st = 0
    if plane0 is None:
        return VOStep(False, np.eye(3), np.zeros(3), 0, 0, 0, math.nan)
    if b1 is not None:
        disp1 = _vo.disparity(a1, b1, max_disp_px=fx * b / near_m)
        plane1 = _near_prior(_vo.ground_plane(disp1, k, b, max_range_m=rmax, seed=seed + 1), priors, 1) or plane0
    else:
        plane1 = priors[1] if priors else plane0           # the same mast over the ground
    # 1. prior-free coarse motion: SIFT on the two views rectified onto their ground planes
    keep, g0, g1, q0, q1 = _coarse(a0, a1, k, plane0, plane1, fx, rmax, near_m, seed)
    if int(keep.sum()) < _COARSE_MIN and priors and (plane0 is not priors[0] or plane1 is not priors[1]):
        plane0, plane1 = priors
        keep, g0, g1, q0, q1 = _coarse(a0, a1, k, plane0, plane1, fx, rmax, near_m, seed)
    n_coarse = int(keep.sum())
    if n_coarse < _COARSE_MIN:
        return VOStep(False, np.eye(3), np.zeros(3), n_st, n_coarse, 0, math.nan)
    ok3d, x3d = _vo.points_at(q0, a0, b0, disp0, k, b, max_range_m=rmax, refine=False)
    valid = np.all(np.isfinite(g0), axis=1) & np.all(np.isfinite(g1), axis=1)
    step = None
    for hyp in range(_COARSE_HYPOTHESES):
        if hyp:     # the next-best rigid motion among the matches no failed hypothesis took
            rest = valid & ~tried
            keep = np.zeros(len(q0), bool)
            if rest.sum() >= _COARSE_MIN:
                keep[rest] = _vo.rigid2d_ransac(g0[rest], g1[rest], tol_m=_COARSE_GROUND_TOL_M, seed=seed + hyp)
            if keep.sum() < _COARSE_MIN:
                break
        tried = keep.copy() if hyp == 0 else tried | keep
        rot_g, t_g = _vo.motion_from_ground(g0[keep], g1[keep], plane0, plane1)
        # ... refined by PnP on those matches with a stereo depth at stop k (SGBM), where enough
        sel = keep & ok3d
        starts = []
        if sel.sum() >= 8:
            res = _vo.pnp(x3d[sel], q1[sel], k, seed=seed, reproj_px=_COARSE_PX, iterations=1000, minimal=True)
            if res is not None and res[2].sum() >= 8:
                starts.append((res[0], res[1]))
        # a P3P refinement that lands on a wrong solution loses the precise stage: it then starts
        # again from the ground motion itself
        starts.append((rot_g, t_g))
        for rot, t in starts:
            step = _precise(rot, t, a0, b0, a1, b1, disp0, disp1 if b1 is not None else None, k, b, plane0, plane1,
                            rmax, n_features, min_inliers, seed)
            if step.ok:
                return step
    return step


def _precise(rot, t, a0, b0, a1, b1, disp0, disp1, k, b, plane0, plane1, rmax, n_features, min_inliers, seed):
    """The precise stage of :func:`visual_odometry_step` from the coarse motion (rot, t)."""
    # 2. precise: corners where the two views overlap (through the ground plane at the coarse
    #    motion), triangulated (SGBM + sub-pixel LK along the row) and tracked into the other view
    #    warped to it through the ground plane, then PnP; twice (the second warp from the better
    #    motion). With the stop-(k+1) pair the corners are taken there and tracked back into stop k:
    #    their near points (1-5 m) carry a small depth error, which the far points of stop k
    #    (4-9 m, depth error ~ Z^2) would turn into pixels of error in the close-up view.
    reverse = b1 is not None
    c0, c1 = _vo.local_contrast(a0), _vo.local_contrast(a1)
    for it in range(2):
        if reverse:
            ri, ti = rot.T, -rot.T @ t                   # X_k = ri X_k1 + ti
            pix_s, xyz_s = _vo.overlap_corners(a1, b1, disp1, k, b, ri, ti, plane1, max_range_m=rmax,
                                               n_corners=n_features)
            pix_d, okt = _vo.depth_track(c1, c0, disp1, k, b, ri, ti, plane1, pix_s)
        else:
            pix_s, xyz_s = _vo.overlap_corners(a0, b0, disp0, k, b, rot, t, plane0, max_range_m=rmax,
                                               n_corners=n_features)
            pix_d, okt = _vo.guided_track(c0, c1, pix_s, xyz_s, k, rot, t, plane0)
        n_st, n_m = int(len(pix_s)), int(okt.sum())
        if n_m < min_inliers:
            return VOStep(False, np.eye(3), np.zeros(3), n_st, n_m, 0, math.nan)
        res = _vo.pnp(xyz_s[okt], pix_d[okt], k, seed=seed + 2 + it, reproj_px=1.5)
        if res is None or res[2].sum() < min_inliers:
            return VOStep(False, np.eye(3), np.zeros(3), n_st, n_m, 0 if res is None else int(res[2].sum()), math.nan)
        rot, t, inl, err = res
        if reverse:                                      # back to X_k1 = R X_k + t
            rot, t = rot.T, -rot.T @ t
    # X_c1 = R X_c0 + t  ->  camera-1 centre in c0: -R^T t; c1 -> c0 rotation: R^T
    return VOStep(True, rot.T, -rot.T @ t, n_st, n_m, int(inl.sum()), float(np.sqrt(np.mean(err[inl] ** 2))))


def _coarse(a0, a1, k, plane0, plane1, fx, rmax, near_m, seed):
    """The coarse stage's ground matches: SIFT between the two views rectified onto their planes,
    kept where they agree with one rigid motion of the ground (the points where the rays meet
    each stop's plane: off by relief x distance / mast height, hence the loose tolerance).
    Returns (keep mask, ground coordinates at stop k and k+1, image points at k and k+1)."""
    res_m = max(_ORTHO_GSD_RANGE_M / fx, _ORTHO_MIN_RES_M)
    q0, q1 = _vo.ortho_matches(a0, a1, k, plane0, plane1, res_m=res_m, near_m=near_m,
                               far_m=min(rmax, _ORTHO_FAR_M), half_width_m=_ORTHO_HALF_WIDTH_M, n_features=0)
    x3 = _vo.rays_on_plane(q0, k, plane0)
    x4 = _vo.rays_on_plane(q1, k, plane1)
    ok3 = np.all(np.isfinite(x3), axis=1) & np.all(np.isfinite(x4), axis=1)
    g0 = _vo.plane_coords(np.nan_to_num(x3), plane0)
    g1 = _vo.plane_coords(np.nan_to_num(x4), plane1)
    keep = np.zeros(len(q0), bool)
    if ok3.any():
        keep[ok3] = _vo.rigid2d_ransac(g0[ok3], g1[ok3], tol_m=_COARSE_GROUND_TOL_M, seed=seed)
    return keep, g0, g1, q0, q1


#: a stereo-fitted ground plane further than this from the mast's prior is not the ground the
#: rover stands on (UNCONFIRMED; our choice)
PLANE_PRIOR_DEG = 10.0
PLANE_PRIOR_M = 0.3


def _near_prior(plane, priors, i):
    """The fitted plane if it is near its prior (or there is none), else the prior."""
    if not priors:
        return plane
    n_p, d_p = priors[i]
    if plane is None:
        return priors[i]
    n, d = plane
    if math.degrees(math.acos(min(1.0, abs(float(n @ n_p))))) > PLANE_PRIOR_DEG or abs(d - d_p) > PLANE_PRIOR_M:
        return priors[i]
    return plane


def _mast_turn(p, r, pan0, tilt0, pan1, tilt1, baseline_m):
    """The left navcam's pose after the mast turns from (pan0, tilt0) to (pan1, tilt1) on the
    same rover: the body attitude (pitch and roll included) is kept; the head is fixed."""
    b0 = pan_tilt_rotation(float(pan0), float(tilt0))      # body <- camera, heading 0
    b1 = pan_tilt_rotation(float(pan1), float(tilt1))
    r1 = r @ b0.T @ b1
    head = p + 0.5 * baseline_m * r[:, 0]
    return head - 0.5 * baseline_m * r1[:, 0], r1


def ground_prior(tilt_rad: float, mast_height_m: float) -> tuple[np.ndarray, float]:
    """The ground plane of a level rover in its navcam's frame: (n, d) with n . X = d, n the
    downward vertical in the camera frame (x right, y down, z forward) of a camera tilted by
    ``tilt_rad`` (negative: down) on a mast ``mast_height_m`` above the ground."""
    r = pan_tilt_rotation(0.0, float(tilt_rad))
    return r.T @ np.array([0.0, 0.0, -1.0]), float(mast_height_m)


_ORTHO_GSD_RANGE_M = 16.0      # ortho pixel: the image's lateral footprint at 16 m (2 px at 8 m)
_ORTHO_MIN_RES_M = 0.025
_ORTHO_FAR_M = 14.0
_ORTHO_HALF_WIDTH_M = 8.0
_COARSE_PX = 4.0
_COARSE_GROUND_TOL_M = 0.4    # relief x distance / mast height: 10 cm x 6 m / 1.5 m
_COARSE_MIN = 8
#: ground-motion hypotheses tried in turn when the precise stage fails from one (a repeated
#: pattern or a few chance matches can outvote the true motion among ~20 ground matches)
_COARSE_HYPOTHESES = 3


# ---------------------------------------------------------------------------------------------
# relocalisation against the lander
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LanderFix:
    """Left-camera position fixed against the lander.

    Attributes
    ----------
    ok : bool
        False when the lander is not seen well enough (too few points or a poor fit).
    position_enu : (3,)
        Left navcam projection centre, site ENU metres (NaN when not ok).
    n_points : int
        Stereo points on the segmented lander.
    fit_rms_m : float
        RMS distance of the kept (trimmed) points to the lander model.
    range_m : float
        Median range of the lander points.
    """

    ok: bool
    position_enu: np.ndarray
    n_points: int
    fit_rms_m: float
    range_m: float


_MODEL_CACHE: dict = {}


def _lander_tree(lander: SceneObject, spacing_m: float) -> cKDTree:
    key = (id(lander), spacing_m)
    hit = _MODEL_CACHE.get(key)
    if hit is not None and hit[0] is lander:
        return hit[1]
    tree = cKDTree(_vo.mesh_surface_points(np.asarray(lander.tri, float), spacing_m))
    if len(_MODEL_CACHE) > 8:
        _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = (lander, tree)
    return tree


#: points this far above the lander's lowest vertex (its footpads on the ground) may be the lander
LANDER_MIN_HEIGHT_M = 0.25
#: disparity noise assumed by the default fit threshold of :func:`relocalise_lander` (px; SGBM's
#: sub-pixel error on the lander's plain panels, our estimate)
FIX_DISPARITY_SIGMA_PX = 0.3
#: ... and are not sky: the brightest 8-bit DN within 2 px at least this (the sky is black)
SKY_DN8 = 6


def relocalise_lander(left_dn, right_dn, *, k_px, baseline_m: float, rotation_enu_from_cam, lander: SceneObject,
                      prior_position_enu, min_area_frac: float = 0.002, max_fit_rms_m: float | None = None,
                      search_m: float = 1.0) -> LanderFix:
    """Fix the camera position from the lander seen in a navcam pair.

    The pair's disparity is found by semi-global block matching (OpenCV SGBM, left-right checked);
    the lander's points are those in the large bright regions (sunlit foil: above 97 % of the
    brightest DN and twice the median) and those that, placed by the prior, stand more than
    ``LANDER_MIN_HEIGHT_M`` above the lander's footpads within its footprint (+ ``search_m``): its
    shadowed side is dark. The points, rotated into ENU with the estimated camera attitude, are fitted to
    the lander's known CAD surface at its known position and heading by translation-only trimmed
    ICP (started at the prior and at 8 points ``search_m`` around it; the best fit wins).

    Parameters
    ----------
    left_dn, right_dn : (H, W) array
        The navcam pair, DN.
    k_px : (3, 3)
        Intrinsics.
    baseline_m : float
    rotation_enu_from_cam : (3, 3)
        Estimated left-camera attitude (heading sensors + mast angles); its heading error
        turns into a position error of range x error.
    lander : farside.render.SceneObject
        The lander's mesh at its known position and heading (the CAD model).
    prior_position_enu : (3,)
        Current estimate of the left-camera position (the ICP start).
    min_area_frac : float
        Smallest segmented lander area, fraction of the image.
    max_fit_rms_m : float, optional
        A fit worse than this is rejected (``ok`` False). Default: 8 cm plus the stereo depth
        error at the points' median range Z (``Z^2 / (f b) x FIX_DISPARITY_SIGMA_PX``; 9 cm at
        7 m, 27 cm at 12 m with the binned Navcam).
    search_m : float
        Radius of the ring of extra ICP starts.

    Returns
    -------
    LanderFix

    Raises
    ------
    ScenarioError
        Bad images, intrinsics, rotation or lander.
    """
    import cv2

    lt, rt = _image("left_dn", left_dn), _image("right_dn", right_dn)
    if lt.shape != rt.shape:
        raise invalid("right_dn.shape", rt.shape, f"the shape of left_dn {lt.shape}")
    k = _k(k_px)
    b = _real("baseline_m", baseline_m, 0.0, 5.0, lo_open=True)
    rot = np.asarray(rotation_enu_from_cam, float)
    if rot.shape != (3, 3) or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6):
        raise invalid("rotation_enu_from_cam", "matrix", "a proper 3x3 rotation matrix")
    if not isinstance(lander, SceneObject):
        raise invalid("lander", type(lander).__name__, "a farside.render.SceneObject (the placed lander mesh)")
    prior = np.asarray(prior_position_enu, float)
    if prior.shape != (3,) or not np.all(np.isfinite(prior)):
        raise invalid("prior_position_enu", prior_position_enu, "three finite numbers (site ENU metres)")
    _real("min_area_frac", min_area_frac, 0.0, 1.0)
    search = _real("search_m", search_m, 0.0, 100.0)
    nan = np.full(3, np.nan)
    h, w = lt.shape
    mask = _vo.segment_bright(lt, min_area_px=max(int(min_area_frac * h * w), 16))
    a, bb = _to8(lt), _to8(rt)
    fx = k[0, 0]
    ndisp = int(min(w // 2, max(64, 16 * math.ceil(fx * b / 1.5 / 16))))     # nearest lander point 1.5 m
    blk = 5
    sg = cv2.StereoSGBM_create(minDisparity=0, numDisparities=ndisp, blockSize=blk, P1=8 * blk * blk,
                               P2=32 * blk * blk, uniquenessRatio=10, disp12MaxDiff=1, speckleWindowSize=100,
                               speckleRange=2, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    disp = sg.compute(a, bb).astype(np.float32) / 16.0
    vv, uu = np.nonzero(disp > 1.0)
    z = fx * b / disp[vv, uu]
    pc = np.stack([(uu - k[0, 2]) * z / fx, (vv - k[1, 2]) * z / k[1, 1], z], axis=1)
    # the lander's points: in its bright (sunlit foil) regions, or, whatever the light (its shadowed
    # side is dark), where the points stand above the ground inside the lander's footprint as the
    # prior places them (within search_m more)
    world = pc @ rot.T + prior
    vx = np.asarray(lander.vertices_enu, float)
    foot = float(np.max(np.hypot(vx[:, 0] - lander.position_enu[0], vx[:, 1] - lander.position_enu[1])))
    near = np.hypot(world[:, 0] - lander.position_enu[0], world[:, 1] - lander.position_enu[1]) <= foot + search
    above = world[:, 2] >= float(vx[:, 2].min()) + LANDER_MIN_HEIGHT_M
    # (not the black sky: SGBM gives it chance disparities; the shadowed side still shows some DN)
    lit = cv2.dilate(a, np.ones((5, 5), np.uint8))[vv, uu] >= SKY_DN8
    sel = mask[vv, uu] | (near & above & lit)
    if sel.sum() < 50:
        return LanderFix(False, nan, int(sel.sum()), math.nan, math.nan)
    pc = pc[sel]
    if len(pc) > 4000:                                    # deterministic thinning
        pc = pc[:: int(math.ceil(len(pc) / 4000))]
    rel = pc @ rot.T
    coarse, fine = _lander_tree(lander, 0.06), _lander_tree(lander, 0.02)
    starts = [prior] + [prior + search * np.array([math.cos(a_), math.sin(a_), 0.0])
                        for a_ in np.arange(8) * (math.pi / 4)] if search > 0 else [prior]
    sub = rel[:: max(1, len(rel) // 1000)]
    best = None
    for s in starts:                                       # coarse model, 1000 points, each start
        t, rms = _vo.icp_translation(sub, coarse, s, iters=15, eps=0.5)
        if best is None or rms < best[1]:
            best = (t, rms)
    t, rms = _vo.icp_translation(rel, fine, best[0], iters=30)   # the best start on the fine model
    rng_m = float(np.median(np.linalg.norm(pc, axis=1)))
    lim = 0.08 + rng_m ** 2 / (fx * b) * FIX_DISPARITY_SIGMA_PX if max_fit_rms_m is None else float(max_fit_rms_m)
    ok = bool(rms <= lim)
    return LanderFix(ok, t if ok else nan, int(len(pc)), float(rms), rng_m)


def _to8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    hi = float(np.percentile(a, 99.9)) or 1.0
    return np.clip(a.astype(np.float32) * (255.0 / hi), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# a traverse of stereo stops
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StereoStop:
    """One stereo stop of a traverse.

    Attributes
    ----------
    left_dn, right_dn : (H, W) array
        Navcam pair, DN.
    pan_rad, tilt_rad : float
        Mast pointing relative to the rover body (the mast's encoders).
    heading_rad : float
        Absolute heading estimate at the stop (e.g. :func:`heading_estimate`), used by the
        relocalisation and by the odometry fallback; NaN = none.
    reloc_left_dn, reloc_right_dn : (H, W) array, optional
        A second Navcam pair aimed at the lander (the mast turned toward it), used for the
        relocalisation instead of the VO pair; None: the VO pair is tried.
    reloc_pan_rad, reloc_tilt_rad : float
        That pair's mast pointing relative to the body.
    arrival_left_dn, arrival_right_dn : (H, W) array, optional
        A pair aimed where the previous stop's pair looked (the mast turned back after a turn
        between the stops): the VO step from the previous stop ends on it, and the mast's
        angles carry the pose over to this stop's main pair; None: the step ends on the main pair.
    arrival_pan_rad, arrival_tilt_rad : float
        That pair's mast pointing relative to the body.
    """

    left_dn: np.ndarray
    right_dn: np.ndarray
    pan_rad: float
    tilt_rad: float
    heading_rad: float = math.nan
    reloc_left_dn: np.ndarray | None = None
    reloc_right_dn: np.ndarray | None = None
    reloc_pan_rad: float = math.nan
    reloc_tilt_rad: float = math.nan
    arrival_left_dn: np.ndarray | None = None
    arrival_right_dn: np.ndarray | None = None
    arrival_pan_rad: float = math.nan
    arrival_tilt_rad: float = math.nan


@dataclass(frozen=True, eq=False)
class TrackEstimate:
    """Estimated rover poses at the stops.

    Attributes
    ----------
    name : str
        'vo' or 'vo_reloc'.
    position_enu : (N, 3)
        Ground point of the rover, site ENU metres.
    heading_rad : (N,)
    fixed : (N,) bool
        Stops where a lander fix was applied.
    steps : tuple of VOStep
        The N - 1 VO steps.
    fixes : tuple
        The LanderFix of each stop (None where not tried).
    rejected : (N - 1,) bool or None
        Steps where the VO motion was not used (failed, or outside the odometry gate) and the
        odometry's motion was taken instead; None when no odometry was given.
    """

    name: str
    position_enu: np.ndarray
    heading_rad: np.ndarray
    fixed: np.ndarray
    steps: tuple = field(default=())
    fixes: tuple = field(default=())
    rejected: np.ndarray | None = None


def _yaw(angle: float) -> np.ndarray:
    """Rotation about ENU up that adds ``angle`` to every azimuth (clockwise from north)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


#: The odometry gate of :func:`visual_localisation` (UNCONFIRMED; our choices): a VO step is used
#: only if its horizontal move L_vo, against the wheel odometry's L_o over the same step, lies in
#: [L_o (1 - max slip) - abs, L_o (1 + encoder scale) + abs] (slip shortens the true path, the
#: encoders over-report it), its direction in the body frame is within ``direction_deg`` of the
#: odometry's (steps over 0.5 m), and its heading change within ``turn_deg`` of the gyro's.
ODOMETRY_GATE = {"max_slip": 0.35, "scale": 0.05, "abs_m": 0.10, "direction_deg": 10.0, "turn_deg": 3.0}


def _gate_ok(d_vo, dh_vo, d_odo, dh_imu, h_vo0, h_imu0) -> bool:
    """The odometry gate (:data:`ODOMETRY_GATE`) for one step: VO's horizontal ground move
    ``d_vo`` and heading change ``dh_vo`` (its own heading ``h_vo0`` at the step's start) against
    the odometry's move ``d_odo`` and the gyro's heading change ``dh_imu`` (heading ``h_imu0``);
    NaN gyro values skip the turn test and compare directions in ENU."""
    g = ODOMETRY_GATE
    lv, lo = float(np.hypot(*d_vo)), float(np.hypot(*d_odo))
    if not (lo * (1.0 - g["max_slip"]) - g["abs_m"] <= lv <= lo * (1.0 + g["scale"]) + g["abs_m"]):
        return False
    if lo > 0.5 and lv > 0.0:
        a_vo = math.atan2(d_vo[0], d_vo[1]) - h_vo0
        a_odo = math.atan2(d_odo[0], d_odo[1]) - (h_imu0 if math.isfinite(h_imu0) else h_vo0)
        if abs(float(_wrap(a_vo - a_odo))) > math.radians(g["direction_deg"]):
            return False
    if math.isfinite(dh_imu) and abs(float(_wrap(dh_vo - dh_imu))) > math.radians(g["turn_deg"]):
        return False
    return True


def visual_localisation(stops: Sequence[StereoStop], *, k_px, baseline_m: float, mast_height_m: float,
                        start_position_enu, start_heading_rad: float, rng: np.random.Generator,
                        lander: SceneObject | None = None, reloc_every: int = 1, max_range_m: float = 20.0,
                        n_features: int = 2000, vo_sigma_frac: float = 0.02, fix_sigma_m: float = 0.1,
                        odometry_xy_m=None) -> dict[str, TrackEstimate]:
    """Visual odometry over a sequence of stereo stops, alone and with lander relocalisation.

    The left camera's 6-DoF pose is chained through :func:`visual_odometry_step` from the known
    start pose. Without ``odometry_xy_m`` a failed step keeps the previous pose. With it, each
    step passes the odometry gate (:data:`ODOMETRY_GATE`: length, body-frame direction and turn
    against the wheel odometry and the gyro heading of the stops) or is replaced by the
    odometry's move (expressed in the chain's own heading) and the gyro's turn: VO across a
    lighting change (a stop before and one after a noon nap) or over featureless ground then
    costs an odometry step, not a metres-scale jump. The 'vo_reloc' track does the same, but at
    every ``reloc_every``-th stop where :func:`relocalise_lander` succeeds (on the stop's
    lander-facing pair when it has one, else on its VO pair) it resets the camera's heading to the
    stop's absolute ``heading_rad`` (a yaw correction, pitch and roll kept) and blends its
    position with the lander fix by their variances (a scalar Kalman update: the VO position
    variance grows by ``(vo_sigma_frac x step length)^2`` per step, a fix has ``fix_sigma_m``);
    the chain then continues from the corrected pose.

    Parameters
    ----------
    stops : sequence of StereoStop
        At least two.
    k_px : (3, 3)
    baseline_m, mast_height_m : float
        The navcam pair's baseline and the mast head's height above the rover ground point.
    start_position_enu : (3,)
        Rover ground point at the first stop (known, e.g. from the egress).
    start_heading_rad : float
    rng : numpy.random.Generator
    lander : SceneObject, optional
        The lander at its known pose; None: no 'vo_reloc' fixes (the two tracks agree).
    reloc_every : int
        Try a fix at every n-th stop (>= 1).
    max_range_m, n_features : see :func:`visual_odometry_step`.
    vo_sigma_frac : float
        VO position error per metre moved, 1-sigma (default 2 %; measured 0.5-2 %, docs).
    fix_sigma_m : float
        Lander-fix position error, 1-sigma (default 0.1 m; measured, docs).
    odometry_xy_m : (N, 2) array, optional
        The wheel odometry's positions at the stops (:func:`wheel_odometry`), for the gate.

    Returns
    -------
    dict
        ``{"vo": TrackEstimate, "vo_reloc": TrackEstimate}``.

    Raises
    ------
    ScenarioError
        Fewer than two stops, bad numbers.
    """
    rng = _rng(rng)
    stops = list(stops)
    if len(stops) < 2 or not all(isinstance(s, StereoStop) for s in stops):
        raise invalid("stops", f"{len(stops)} items", "a sequence of at least two StereoStop")
    k = _k(k_px)
    b = _real("baseline_m", baseline_m, 0.0, 5.0, lo_open=True)
    mh = _real("mast_height_m", mast_height_m, 0.0, 10.0)
    if not isinstance(reloc_every, (int, np.integer)) or reloc_every < 1:
        raise invalid("reloc_every", reloc_every, "an integer >= 1")
    sv = _real("vo_sigma_frac", vo_sigma_frac, 0.0, 1.0)
    sf = _real("fix_sigma_m", fix_sigma_m, 0.0, 100.0, lo_open=True)
    n = len(stops)
    odo = None
    if odometry_xy_m is not None:
        odo = np.asarray(odometry_xy_m, float)
        if odo.ndim != 2 or odo.shape[0] != n or odo.shape[1] < 2 or not np.all(np.isfinite(odo[:, :2])):
            raise invalid("odometry_xy_m", f"array{odo.shape}", f"({n}, 2) finite positions, one per stop")
        odo = odo[:, :2]
    p0, r0 = mast_camera_pose(start_position_enu, _real("start_heading_rad", start_heading_rad),
                              pan_rad=stops[0].pan_rad, tilt_rad=stops[0].tilt_rad, mast_height_m=mh, baseline_m=b)
    steps = []
    for i in range(n - 1):
        nx = stops[i + 1]
        arr = nx.arrival_left_dn is not None and nx.arrival_right_dn is not None
        l1, r1, t1 = (nx.arrival_left_dn, nx.arrival_right_dn, nx.arrival_tilt_rad) if arr else \
            (nx.left_dn, nx.right_dn, nx.tilt_rad)
        steps.append(visual_odometry_step(stops[i].left_dn, stops[i].right_dn, l1, k_px=k, right1_dn=r1,
                                          baseline_m=b, rng=rng, max_range_m=max_range_m, n_features=n_features,
                                          ground_priors=(ground_prior(stops[i].tilt_rad, mh), ground_prior(t1, mh))))
    imu = np.array([s.heading_rad for s in stops], float)
    out = {}
    for name in ("vo", "vo_reloc"):
        p, r = p0.copy(), r0.copy()
        var = 0.0
        pos = np.empty((n, 3))
        hdg = np.empty(n)
        fixed = np.zeros(n, bool)
        rejected = np.zeros(n - 1, bool)
        fixes: list = [None] * n
        for i in range(n):
            if i > 0:
                st = steps[i - 1]
                g0, h0 = rover_pose_from_camera(p, r, pan_rad=stops[i - 1].pan_rad, mast_height_m=mh, baseline_m=b)
                if st.ok:
                    p1 = p + r @ st.position_c0_m
                    r1 = r @ st.rotation_c0_from_c1
                    si = stops[i]
                    if si.arrival_left_dn is not None and si.arrival_right_dn is not None:
                        p1, r1 = _mast_turn(p1, r1, si.arrival_pan_rad, si.arrival_tilt_rad, si.pan_rad, si.tilt_rad, b)
                else:
                    p1, r1 = p, r
                if odo is not None:
                    g1, h1 = rover_pose_from_camera(p1, r1, pan_rad=stops[i].pan_rad, mast_height_m=mh, baseline_m=b)
                    d_odo = odo[i] - odo[i - 1]
                    dh_imu = float(_wrap(imu[i] - imu[i - 1]))
                    if not (st.ok and _gate_ok(g1[:2] - g0[:2], float(_wrap(h1 - h0)), d_odo, dh_imu, h0,
                                               imu[i - 1])):
                        rejected[i - 1] = True
                        # the odometry's move, turned from the gyro's frame into the chain's heading
                        rot = h0 - imu[i - 1] if math.isfinite(imu[i - 1]) else 0.0
                        c, s_ = math.cos(rot), math.sin(rot)
                        dg = np.array([c * d_odo[0] + s_ * d_odo[1], -s_ * d_odo[0] + c * d_odo[1], 0.0])
                        h1 = h0 + (dh_imu if math.isfinite(dh_imu) else 0.0)
                        p1, r1 = mast_camera_pose(g0 + dg, h1, pan_rad=stops[i].pan_rad, tilt_rad=stops[i].tilt_rad,
                                                  mast_height_m=mh, baseline_m=b)
                step_m = float(np.linalg.norm(p1 - p))
                p, r = p1, r1
                var += (sv * step_m) ** 2 if not rejected[i - 1] else (ODOMETRY_GATE["max_slip"] * step_m / 2.0) ** 2
            if name == "vo_reloc" and lander is not None and i > 0 and i % reloc_every == 0:
                si = stops[i]
                g_vo, h_vo = rover_pose_from_camera(p, r, pan_rad=si.pan_rad, mast_height_m=mh, baseline_m=b)
                h_abs = float(si.heading_rad) if math.isfinite(si.heading_rad) else h_vo
                r_abs = _yaw(float(_wrap(h_abs - h_vo))) @ r
                if si.reloc_left_dn is not None and si.reloc_right_dn is not None:
                    pr, rr = mast_camera_pose(g_vo, h_abs, pan_rad=si.reloc_pan_rad, tilt_rad=si.reloc_tilt_rad,
                                              mast_height_m=mh, baseline_m=b)
                    fx = relocalise_lander(si.reloc_left_dn, si.reloc_right_dn, k_px=k, baseline_m=b,
                                           rotation_enu_from_cam=rr, lander=lander, prior_position_enu=pr)
                    if fx.ok:     # the fix of the lander-facing camera, moved to the VO camera
                        g_fix, _ = rover_pose_from_camera(fx.position_enu, rr, pan_rad=si.reloc_pan_rad,
                                                          mast_height_m=mh, baseline_m=b)
                        p_fix, _ = mast_camera_pose(g_fix, h_abs, pan_rad=si.pan_rad, tilt_rad=si.tilt_rad,
                                                    mast_height_m=mh, baseline_m=b)
                else:
                    fx = relocalise_lander(si.left_dn, si.right_dn, k_px=k, baseline_m=b,
                                           rotation_enu_from_cam=r_abs, lander=lander, prior_position_enu=p)
                    p_fix = fx.position_enu
                fixes[i] = fx
                if fx.ok:
                    gain = var / (var + sf ** 2)
                    p, r = p + gain * (p_fix - p), r_abs
                    var = gain * sf ** 2
                    fixed[i] = True
            g, hh = rover_pose_from_camera(p, r, pan_rad=stops[i].pan_rad, mast_height_m=mh, baseline_m=b)
            pos[i], hdg[i] = g, hh
        out[name] = TrackEstimate(name, pos, hdg, fixed, tuple(steps), tuple(fixes),
                                  rejected if odo is not None else None)
    return out


def track_errors(position_enu, true_position_enu) -> dict[str, float]:
    """Horizontal position errors of a track against the truth.

    Returns
    -------
    dict
        ``final_m``, ``max_m``, ``rms_m`` (horizontal), ``path_m`` (true horizontal path length)
        and ``drift_pct`` (final error over path length, percent; NaN for a zero path).

    Raises
    ------
    ScenarioError
        Shapes differ or are not (N, 2|3).
    """
    e = np.asarray(position_enu, float)
    t = np.asarray(true_position_enu, float)
    if e.ndim != 2 or e.shape[1] not in (2, 3) or e.shape != t.shape or len(e) < 1:
        raise invalid("position_enu.shape", (e.shape, t.shape), "two equal (N, 2) or (N, 3) arrays")
    err = np.hypot(e[:, 0] - t[:, 0], e[:, 1] - t[:, 1])
    path = float(np.sum(np.hypot(np.diff(t[:, 0]), np.diff(t[:, 1]))))
    return {"final_m": float(err[-1]), "max_m": float(err.max()), "rms_m": float(np.sqrt(np.mean(err ** 2))),
            "path_m": path, "drift_pct": 100.0 * float(err[-1]) / path if path > 0 else math.nan}
