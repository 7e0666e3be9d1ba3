"""Surface image capture: the lander's mast camera and its panorama, the ground-truth panorama,
and the registration of a stitched mosaic against the truth (docs/imaging.md).

A real pan-tilt mast turns the camera about two axes that do not pass through its projection
centre: the optical centre sits ``offset_cam_m`` from the axes' intersection (the *mast head*),
so the frames of a panorama are taken from slightly different points and near ground shows
parallax. :func:`mast_camera` builds that pose; :func:`truth_panorama` renders the
equirectangular panorama seen from the mast head itself (no parallax, no stitching), tile by
tile; :func:`registration_error` compares where a stitched :class:`~farside.imaging.Panorama`
put each frame's pixels with the true directions of their surface points from the mast head.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from farside.errors import invalid
from farside.render import Camera, pan_tilt_rotation

__all__ = ["MAST_OFFSET_CAM_M", "mast_camera", "truth_panorama", "registration_error", "direction_to_pixel"]

#: Optical centre relative to the pan-tilt axes' intersection, in the camera frame (x right,
#: y down, z forward), metres: 1 cm above the tilt axis and 1.5 cm in front of it. UNCONFIRMED
#: (CE-4's mast drawings are not published; a compact head with the lens near the axes).
MAST_OFFSET_CAM_M = (0.0, -0.01, 0.015)


def _vec3(name: str, v) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise invalid(name, v, "three finite numbers") from None
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise invalid(name, v, "three finite numbers")
    return a


def mast_camera(camera: Camera, *, head_enu, pan_rad: float, tilt_rad: float,
                offset_cam_m=MAST_OFFSET_CAM_M) -> Camera:
    """``camera`` posed on a pan-tilt mast whose axes cross at ``head_enu`` (site ENU, m).

    Pan turns about the vertical through the head (azimuth, clockwise from north), tilt about
    the camera's x axis (positive up), as :func:`farside.render.pan_tilt_rotation`; the
    projection centre is ``head + R @ offset_cam_m``.
    """
    head = _vec3("head_enu", head_enu)
    off = _vec3("offset_cam_m", offset_cam_m)
    for nm, v in (("pan_rad", pan_rad), ("tilt_rad", tilt_rad)):
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v)):
            raise invalid(nm, v, "a finite angle in radians")
    if not -math.pi / 2 <= tilt_rad <= math.pi / 2:
        raise invalid("tilt_rad", tilt_rad, "an angle in [-pi/2, pi/2]")
    rot = pan_tilt_rotation(float(pan_rad), float(tilt_rad))
    return camera.with_pose(head + rot @ off, rot)


def direction_to_pixel(d_enu: np.ndarray, *, azimuth0_rad: float, elevation0_rad: float,
                       px_per_rad: float, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular (column, row) of unit directions ``d_enu`` (N, 3), in the convention of
    :class:`~farside.imaging.Panorama` (azimuth from +y toward +x; columns wrap at ``width_px``
    for a full circle)."""
    az = np.arctan2(d_enu[:, 0], d_enu[:, 1])
    el = np.arcsin(np.clip(d_enu[:, 2], -1.0, 1.0))
    col = ((az - azimuth0_rad) % (2 * math.pi)) * px_per_rad
    row = (elevation0_rad - el) * px_per_rad
    return np.mod(col, width_px), row


def truth_panorama(render_view: Callable[[Camera], object], base: Camera, *, head_enu, px_per_rad: float,
                   azimuth0_rad: float, elevation0_rad: float, width_px: int, height_px: int,
                   tile_width_deg: float = 15.0) -> dict:
    """The equirectangular panorama seen from ``head_enu`` itself, rendered directly in tiles.

    ``render_view(camera)`` renders one perspective view and returns a
    :class:`farside.render.Frame` (or anything with ``reflectance``, ``range_m`` and, for
    colour, ``radiance`` layers). The panorama is cut into vertical strips of
    ``tile_width_deg`` of azimuth; each is rendered by a pinhole camera at the head aimed at the
    strip's centre and tilted to the middle of the elevation range, with a focal length of
    ``px_per_rad`` and a field just covering the strip, and resampled onto the panorama grid
    (bilinear for the reflectance, nearest for the range). Memory: one tile at a time.

    Returns a dict of (H, W) float32 ``reflectance`` and ``range_m`` (NaN on sky and outside),
    and the grid (``px_per_rad``, ``azimuth0_rad``, ``elevation0_rad``).
    """
    import cv2

    head = _vec3("head_enu", head_enu)
    s = float(px_per_rad)
    if not (math.isfinite(s) and 10.0 <= s <= 20000.0):
        raise invalid("px_per_rad", px_per_rad, "a scale in [10, 20000] px per radian")
    w, h = int(width_px), int(height_px)
    if not (1 <= w <= 40000 and 1 <= h <= 20000) or w * h > 150e6:
        raise invalid("width_px x height_px", (width_px, height_px), "a mosaic of at most 150 megapixels")
    tw = math.radians(float(tile_width_deg))
    if not (math.radians(2.0) <= tw <= math.radians(60.0)):
        raise invalid("tile_width_deg", tile_width_deg, "a width in [2, 60] deg")
    el_hi = float(elevation0_rad)
    el_lo = el_hi - (h - 1) / s
    if el_hi > math.radians(80.0) or el_lo < -math.radians(80.0):
        raise invalid("elevation range", (math.degrees(el_lo), math.degrees(el_hi)),
                      "within +-80 deg (a pinhole tile cannot reach the poles)")
    tilt = 0.5 * (el_hi + el_lo)
    refl = np.full((h, w), np.nan, np.float32)
    rng_m = np.full((h, w), np.nan, np.float32)
    rows = np.arange(h, dtype=np.float64)
    el = el_hi - rows / s
    n_tiles = math.ceil(w / (tw * s))
    cols_per = math.ceil(w / n_tiles)
    for k in range(n_tiles):
        c0, c1 = k * cols_per, min((k + 1) * cols_per, w)
        if c0 >= c1:
            break
        cols = np.arange(c0, c1, dtype=np.float64)
        az = azimuth0_rad + cols / s
        az_c = azimuth0_rad + 0.5 * (c0 + c1 - 1) / s
        rot = pan_tilt_rotation(az_c, tilt)
        # the strip's directions in the tile camera's frame -> the field it needs
        A, E = np.meshgrid(az, el)
        d = np.stack([np.cos(E) * np.sin(A), np.cos(E) * np.cos(A), np.sin(E)], axis=-1)
        dc = d @ rot                                  # camera coordinates (x right, y down, z fwd)
        if np.any(dc[..., 2] <= 1e-3):
            raise invalid("elevation range", (math.degrees(el_lo), math.degrees(el_hi)),
                          "a range a pinhole strip can cover (narrow the tiles)")
        xn, yn = dc[..., 0] / dc[..., 2], dc[..., 1] / dc[..., 2]
        pad = 3.0 / s
        x_lo, x_hi = float(xn.min()) - pad, float(xn.max()) + pad
        y_lo, y_hi = float(yn.min()) - pad, float(yn.max()) + pad
        tw_px = int(math.ceil((x_hi - x_lo) * s)) + 1
        th_px = int(math.ceil((y_hi - y_lo) * s)) + 1
        cam = base.replace(width_px=tw_px, height_px=th_px, focal_length_m=s * base.pixel_pitch_m,
                           cx_px=-x_lo * s, cy_px=-y_lo * s, k1=0.0, k2=0.0).with_pose(head, rot)
        fr = render_view(cam)
        mx = (xn * s + cam.cx_px).astype(np.float32)
        my = (yn * s + cam.cy_px).astype(np.float32)
        r = np.asarray(fr.reflectance, np.float32)
        refl[:, c0:c1] = cv2.remap(r, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        t = np.asarray(fr.range_m, np.float32)
        # range along the tile ray -> the same point's distance from the head (perspective: equal)
        rng_m[:, c0:c1] = cv2.remap(t, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        del fr
    return {"reflectance": refl, "range_m": rng_m, "px_per_rad": s, "azimuth0_rad": float(azimuth0_rad),
            "elevation0_rad": el_hi}


def registration_error(panorama, samples: Sequence[tuple], *, frame_shape: tuple[int, int], head_enu,
                       near_m: float = 20.0, frames: Sequence[int] | None = None) -> dict:
    """Where the stitched ``panorama`` put each frame's pixels against the true direction of
    their surface points seen from ``head_enu`` (the truth panorama's centre).

    ``samples[k]`` = (rows, cols, points) of frame k: pixel indices (N,) and their true surface
    points (N, 3) site ENU (e.g. ``Frame.points_enu[rows, cols]``; NaN on sky); ``frame_shape``
    the frames' (H, W). For each pixel the mosaic direction is ``R_k @ ray`` (the panorama's
    estimated rotation and focal length of frame k, principal point at the image centre, as the
    stitcher assumes) and the true direction is ``P - head``. Returns the angular error in mosaic
    pixels (``px_per_rad`` of the panorama) and in frame pixels, RMS and percentiles for points
    farther than ``near_m`` from the head (the far field, where the mast offset's parallax is
    small) and nearer (the near field: parallax from the offset), per-frame RMS and a table by
    range. ``frames``: only these frames count (default all).
    """
    head = _vec3("head_enu", head_enu)
    R = np.asarray(panorama.rotations, float)
    if len(samples) != len(R):
        raise invalid("samples", len(samples), f"one (rows, cols, points) per panorama frame ({len(R)})")
    hgt, wid = int(frame_shape[0]), int(frame_shape[1])
    use = set(range(len(R))) if frames is None else {int(k) for k in frames}
    errs, dists, fidx = [], [], []
    per_frame = np.full(len(R), np.nan)
    for k, (rows, cols, pts) in enumerate(samples):
        if k not in use:
            continue
        p = np.asarray(pts, float).reshape(-1, 3)
        ok = np.all(np.isfinite(p), axis=1)
        if not ok.any():
            continue
        p = p[ok]
        u = np.asarray(cols, float)[ok] - (wid - 1) / 2.0
        v = np.asarray(rows, float)[ok] - (hgt - 1) / 2.0
        f = float(panorama.focals_px[k])
        ray = np.column_stack([u, v, np.full(u.size, f)])
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        d_est = ray @ R[k].T
        d_true = p - head
        dist = np.linalg.norm(d_true, axis=1)
        d_true /= dist[:, None]
        ang = np.arccos(np.clip(np.sum(d_est * d_true, axis=1), -1.0, 1.0))
        errs.append(ang)
        dists.append(dist)
        fidx.append(np.full(ang.size, k))
        per_frame[k] = math.sqrt(float(np.mean(ang ** 2))) * f
    if not errs:
        raise invalid("points_enu", "no surface point in any frame", "frames that see terrain")
    ang = np.concatenate(errs)
    dist = np.concatenate(dists)
    fk = np.concatenate(fidx)
    s = float(panorama.px_per_rad)
    f_frame = np.asarray(panorama.focals_px, float)[fk]

    def stats(m):
        if not m.any():
            return {"n": 0, "rms_mosaic_px": float("nan"), "rms_frame_px": float("nan"),
                    "p95_frame_px": float("nan"), "max_frame_px": float("nan")}
        e_f = ang[m] * f_frame[m]
        return {"n": int(m.sum()), "rms_mosaic_px": float(np.sqrt(np.mean((ang[m] * s) ** 2))),
                "rms_frame_px": float(np.sqrt(np.mean(e_f ** 2))), "p95_frame_px": float(np.percentile(e_f, 95)),
                "max_frame_px": float(e_f.max())}

    edges = [0.0, 3.0, 5.0, 10.0, 20.0, 50.0, 200.0, math.inf]
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        st = stats((dist >= lo) & (dist < hi))
        if st["n"]:
            bins.append({"range_lo_m": lo, "range_hi_m": hi, **st})
    return {"far": stats(dist >= near_m), "near": stats(dist < near_m), "all": stats(np.ones(ang.size, bool)),
            "near_m": float(near_m), "per_frame_rms_px": per_frame, "bins": bins, "mosaic_px_per_rad": s}
