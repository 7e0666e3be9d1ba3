"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): object-order pixel masks.

Each candidate rock's bounding box projected into the image (the pixels whose camera rays can meet
it) and swept away from the Sun over the length of its shadow (the pixels it can shade), with the
shadow lengths cast on the DEM (:func:`shadow_paths`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.render._kernels_trace import cast_ray


@njit(cache=True, nogil=True, error_model="numpy")
def _splat_box(x0, x1, y0, y1, z0, z1, sx, sy, sz, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, mask):
    """Mark in ``mask`` the pixel box (plus a one-pixel border) of the projection of the ENU box
    [x0, x1] x [y0, y1] x [z0, z1] swept by the vector (sx, sy, sz). A swept box wholly behind
    the camera marks nothing; one that straddles the camera's plane is clipped to its front
    part (the hull of its corners in front and of the points where the segments between a front
    and a back corner cross the plane z_cam = 1e-6 m), whose image box is marked."""
    height = mask.shape[0]
    width = mask.shape[1]
    eps = 1e-6
    cam = np.empty((16, 3))
    nfront = 0
    for c in range(16):
        x = x1 if (c & 1) else x0
        y = y1 if (c & 2) else y0
        z = z1 if (c & 4) else z0
        if c & 8:
            x += sx
            y += sy
            z += sz
        wx = x - pos[0]
        wy = y - pos[1]
        wz = z - pos[2]
        cam[c, 0] = rot[0, 0] * wx + rot[1, 0] * wy + rot[2, 0] * wz
        cam[c, 1] = rot[0, 1] * wx + rot[1, 1] * wy + rot[2, 1] * wz
        cam[c, 2] = rot[0, 2] * wx + rot[1, 2] * wy + rot[2, 2] * wz
        if ortho or cam[c, 2] > eps:
            nfront += 1
    if nfront == 0:
        return
    umin = 1e300
    umax = -1e300
    vmin = 1e300
    vmax = -1e300
    for a in range(16):
        if not (ortho or cam[a, 2] > eps):
            continue
        u, v = _project_cam(cam[a, 0], cam[a, 1], cam[a, 2], fx, fy, cx, cy, k1, k2, ortho, gsd)
        umin = min(umin, u)
        umax = max(umax, u)
        vmin = min(vmin, v)
        vmax = max(vmax, v)
        if nfront < 16 and (k1 != 0.0 or k2 != 0.0):
            # the distortion polynomial means nothing far outside the image: mark all of it
            umin, vmin, umax, vmax = -1e300, -1e300, 1e300, 1e300
        elif nfront < 16:
            for b in range(16):
                if cam[b, 2] > eps:
                    continue
                f = (cam[a, 2] - eps) / (cam[a, 2] - cam[b, 2])
                u, v = _project_cam(cam[a, 0] + f * (cam[b, 0] - cam[a, 0]), cam[a, 1] + f * (cam[b, 1] - cam[a, 1]),
                                    eps, fx, fy, cx, cy, k1, k2, ortho, gsd)
                umin = min(umin, u)
                umax = max(umax, u)
                vmin = min(vmin, v)
                vmax = max(vmax, v)
    if umax < -2.0 or vmax < -2.0 or umin > width + 1.0 or vmin > height + 1.0:
        return
    j0 = int(max(math.floor(umin) - 1.0, 0.0))
    j1 = int(min(math.ceil(umax) + 1.0, width - 1.0))
    i0 = int(max(math.floor(vmin) - 1.0, 0.0))
    i1 = int(min(math.ceil(vmax) + 1.0, height - 1.0))
    for i in range(i0, i1 + 1):
        for j in range(j0, j1 + 1):
            mask[i, j] = 1


@njit(cache=True, inline="always", error_model="numpy")
def _project_cam(xc, yc, zc, fx, fy, cx, cy, k1, k2, ortho, gsd):
    """Pixel (col, row) of a point in camera coordinates (in front of a perspective camera)."""
    if ortho:
        return xc / gsd + cx, yc / gsd + cy
    xn = xc / zc
    yn = yc / zc
    r2 = xn * xn + yn * yn
    f = 1.0 + k1 * r2 + k2 * r2 * r2
    return fx * xn * f + cx, fy * yn * f + cy


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def shadow_paths(rx, ry, rh, rb, sun, reach, h, mip, offs, mrows, mcols, zmin, zmax, x0, y0, res):
    """Length (m) of the anti-sun ray from each rock's top to the terrain (cast on the DEM), -1
    where it meets none within ``reach``."""
    n = rx.shape[0]
    out = np.empty(n)
    for k in prange(n):
        u = (rx[k] - x0) / res - 0.5
        v = (y0 - ry[k]) / res - 0.5
        out[k] = cast_ray(h, mip, offs, mrows, mcols, zmin, zmax, u, v, rb[k] + rh[k], -sun[0] / res, sun[1] / res,
                          -sun[2], reach)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def splat_masks(cand, rx, ry, rr, rh, rb, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, sun, shadows, reach,
                paths, mask_cam, mask_sun):
    """Pixels worth testing, rock by rock (object order): ``mask_cam`` covers the image box of
    each candidate rock's bounding box (the camera rays that can meet it); with ``shadows``,
    ``mask_sun`` covers the image box of the rock's bounding box swept away from the Sun over
    the length its shadow can have: the path of the anti-sun ray from the rock's top to the
    terrain (``paths``, from :func:`shadow_paths` with a reach at least ``reach``), +25 % and
    the rock's diameter, at most ``reach`` (the length after which the ray is below every
    visible terrain point)."""
    for q in range(cand.shape[0]):
        k = cand[q]
        a = rr[k]
        x_0 = rx[k] - a
        x_1 = rx[k] + a
        y_0 = ry[k] - a
        y_1 = ry[k] + a
        z_0 = rb[k] - rh[k]
        z_1 = rb[k] + rh[k]
        _splat_box(x_0, x_1, y_0, y_1, z_0, z_1, 0.0, 0.0, 0.0, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot,
                   mask_cam)
        if shadows and sun[2] > 0.0:
            length = reach
            tt = paths[k]
            if 0.0 <= tt <= reach:
                length = min(1.25 * tt + 2.0 * a, reach)
            _splat_box(x_0, x_1, y_0, y_1, z_0, z_1, -sun[0] * length, -sun[1] * length, -sun[2] * length,
                       fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, mask_sun)
