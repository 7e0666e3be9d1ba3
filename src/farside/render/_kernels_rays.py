"""Numba kernels of :mod:`farside.render` (private): camera rays and ray clipping.

The pixel rays of a camera (pinhole with radial distortion, or orthographic), and the clips that
shorten them before the traversal: slabs, the bounding ball of a mesh, and the entry into a
backdrop's mesh rectangle (see ``render(backdrop=...)``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


# --------------------------------------------------------------------------------------------
# camera rays
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _undistort(xd, yd, k1, k2):
    x = xd
    y = yd
    if k1 == 0.0 and k2 == 0.0:
        return x, y
    for _ in range(20):
        r2 = x * x + y * y
        f = 1.0 + k1 * r2 + k2 * r2 * r2
        x = xd / f
        y = yd / f
    return x, y


@njit(cache=True, nogil=True, error_model="numpy")
def _pixel_ray(i, j, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot):
    """Origin and unit direction (ENU) of the ray through the centre of pixel (row i, col j)."""
    if ortho:
        xc = (j - cx) * gsd
        yc = (i - cy) * gsd
        ox = pos[0] + rot[0, 0] * xc + rot[0, 1] * yc
        oy = pos[1] + rot[1, 0] * xc + rot[1, 1] * yc
        oz = pos[2] + rot[2, 0] * xc + rot[2, 1] * yc
        return ox, oy, oz, rot[0, 2], rot[1, 2], rot[2, 2]
    xn, yn = _undistort((j - cx) / fx, (i - cy) / fy, k1, k2)
    nn = math.sqrt(xn * xn + yn * yn + 1.0)
    xn /= nn
    yn /= nn
    zn = 1.0 / nn
    dx = rot[0, 0] * xn + rot[0, 1] * yn + rot[0, 2] * zn
    dy = rot[1, 0] * xn + rot[1, 1] * yn + rot[1, 2] * zn
    dz = rot[2, 0] * xn + rot[2, 1] * yn + rot[2, 2] * zn
    return pos[0], pos[1], pos[2], dx, dy, dz


@njit(cache=True, nogil=True, error_model="numpy")
def _ray_consts(fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot):
    """Per-frame constants of the pixel rays. Origin ``O0 + j Oj + i Oi`` (rc[0:9]); unnormalised
    direction ``D0 + j Dj + i Di`` (rc[9:18]) when rc[18] = 1 (no lens distortion: the rays are
    affine in the pixel indices), else ``D0 + xn Dj + yn Di`` with (xn, yn) the undistorted
    normalised image coordinates of the pixel from :func:`undistort_table`."""
    rc = np.zeros(19)
    if ortho:
        for k in range(3):
            rc[k] = pos[k] - rot[k, 0] * (cx * gsd) - rot[k, 1] * (cy * gsd)
            rc[3 + k] = rot[k, 0] * gsd
            rc[6 + k] = rot[k, 1] * gsd
            rc[9 + k] = rot[k, 2]
        rc[18] = 1.0
    elif k1 == 0.0 and k2 == 0.0:
        for k in range(3):
            rc[k] = pos[k]
            rc[9 + k] = rot[k, 2] - rot[k, 0] * (cx / fx) - rot[k, 1] * (cy / fy)
            rc[12 + k] = rot[k, 0] / fx
            rc[15 + k] = rot[k, 1] / fy
        rc[18] = 1.0
    else:
        for k in range(3):
            rc[k] = pos[k]
            rc[9 + k] = rot[k, 2]
            rc[12 + k] = rot[k, 0]
            rc[15 + k] = rot[k, 1]
    return rc


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def undistort_table(width, height, fx, fy, cx, cy, k1, k2):
    """(height, width, 2) undistorted normalised image coordinates (x, y) of the pixel centres."""
    out = np.empty((height, width, 2))
    for i in prange(height):
        for j in range(width):
            x, y = _undistort((j - cx) / fx, (i - cy) / fy, k1, k2)
            out[i, j, 0] = x
            out[i, j, 1] = y
    return out


@njit(cache=True, inline="always", error_model="numpy")
def _ray(i, j, rc, utab):
    """Origin and unit direction (ENU) of the ray through the centre of pixel (row i, col j)
    (see :func:`_ray_consts`)."""
    ox = rc[0] + j * rc[3] + i * rc[6]
    oy = rc[1] + j * rc[4] + i * rc[7]
    oz = rc[2] + j * rc[5] + i * rc[8]
    if rc[18] != 0.0:
        ex = rc[9] + j * rc[12] + i * rc[15]
        ey = rc[10] + j * rc[13] + i * rc[16]
        ez = rc[11] + j * rc[14] + i * rc[17]
    else:
        xn = utab[i, j, 0]
        yn = utab[i, j, 1]
        ex = rc[9] + xn * rc[12] + yn * rc[15]
        ey = rc[10] + xn * rc[13] + yn * rc[16]
        ez = rc[11] + xn * rc[14] + yn * rc[17]
    inv = 1.0 / math.sqrt(ex * ex + ey * ey + ez * ez)
    return ox, oy, oz, ex * inv, ey * inv, ez * inv


# --------------------------------------------------------------------------------------------
# clipping: bounding ball, backdrop rectangles, slabs
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always", error_model="numpy")
def _ball_exit(ox, oy, oz, dx, dy, dz, ball):
    """Ray parameter (unit direction) where the ray leaves the ball (cx, cy, cz, r); -1 when it
    misses it or the ball lies behind."""
    px = ox - ball[0]
    py = oy - ball[1]
    pz = oz - ball[2]
    b = px * dx + py * dy + pz * dz
    disc = b * b - (px * px + py * py + pz * pz - ball[3] * ball[3])
    if disc < 0.0:
        return -1.0
    t = -b + math.sqrt(disc)
    return t if t > 0.0 else -1.0


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bounding_ball_radius(h, x0, y0, res, cx, cy, cz):
    """Largest distance from (cx, cy, cz) to a vertex of the DEM (vertex (r, c) at
    x0 + (c + 0.5) res, y0 - (r + 0.5) res, h[r, c])."""
    nr = h.shape[0]
    nc = h.shape[1]
    best = np.zeros(nr)
    for r in prange(nr):
        dy = y0 - (r + 0.5) * res - cy
        m = 0.0
        for c in range(nc):
            dx = x0 + (c + 0.5) * res - cx
            dz = h[r, c] - cz
            m = max(m, dx * dx + dy * dy + dz * dz)
        best[r] = m
    return math.sqrt(best.max())


@njit(cache=True, inline="always", error_model="numpy")
def _rect_entry(ox, oy, dx, dy, rects, k):
    """Ray parameter where the ray (origin ox, oy; direction dx, dy per unit parameter) enters
    the vertical prism over rectangle ``rects[k]`` (x min, x max, y min, y max); 0 when it starts
    inside, -1 when it never enters."""
    xa = rects[k, 0]
    xb = rects[k, 1]
    ya = rects[k, 2]
    yb = rects[k, 3]
    if xa <= ox <= xb and ya <= oy <= yb:
        return 0.0
    t0, t1, ok = slab_clip(ox, dx, xa, xb, 0.0, 1e300)
    if not ok:
        return -1.0
    t0, t1, ok = slab_clip(oy, dy, ya, yb, t0, t1)
    if not ok:
        return -1.0
    return t0 if t0 <= t1 else -1.0


@njit(cache=True, inline="always", error_model="numpy")
def slab_clip(o, d, lo, hi, t0, t1):
    """Narrow the ray parameter interval [t0, t1] to where o + t d lies in [lo, hi] (one axis
    of a box). Returns (t0, t1, ok); ok False when the ray runs parallel to the slab outside it."""
    if d != 0.0:
        ta = (lo - o) / d
        tb = (hi - o) / d
        return max(t0, min(ta, tb)), min(t1, max(ta, tb)), True
    return t0, t1, lo <= o <= hi


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def ray_points(rc, utab, rows, cols, t, out):
    """``out[k]`` = the point (site ENU, or the frame of ``rc``) at range ``t[k]`` along the ray of
    pixel (``rows[k]``, ``cols[k]``): the render kernel's own rays (:func:`_ray`)."""
    for k in prange(rows.shape[0]):
        ox, oy, oz, dx, dy, dz = _ray(rows[k], cols[k], rc, utab)
        tk = t[k]
        out[k, 0] = ox + tk * dx
        out[k, 1] = oy + tk * dy
        out[k, 2] = oz + tk * dz
