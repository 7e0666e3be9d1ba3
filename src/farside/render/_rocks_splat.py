"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): object-order pixel boxes.

Each candidate rock's bounding box projected into the image (the pixels whose camera rays can meet
it) and swept away from the Sun over the length of its shadow (the pixels it can shade), with
conservative shadow lengths from the DEM (:func:`shadow_lengths`); the boxes listed row by row
(:func:`row_lists`) for the object-order kernels of :mod:`farside.render._rocks_shade`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: margin (pixels) of the exact pixel-centre box of an undistorted view (see _box_pixels)
_EDGE_PX = 1.0e-3

@njit(cache=True, nogil=True, error_model="numpy")
def _box_pixels(x0, x1, y0, y1, z0, z1, sx, sy, sz, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, width, height):
    """Pixel box (rows i0..i1, columns j0..j1) of the pixels whose rays can meet the ENU box
    [x0, x1] x [y0, y1] x [z0, z1] swept by the vector (sx, sy, sz); i0 > i1 when there are
    none. In front of an undistorted camera: the pixel centres inside the image box of its
    corners; otherwise that box plus a one-pixel border, where a swept box wholly behind the
    camera covers nothing and one that straddles the camera's plane is clipped to its front part
    (the hull of its corners in front and of the points where the segments between a front and
    a back corner cross the plane z_cam = 1e-6 m)."""
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
        return 1, 0, 1, 0
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
        return 1, 0, 1, 0
    if nfront == 16 and k1 == 0.0 and k2 == 0.0:
        # a convex solid wholly in front of an undistorted camera projects inside the hull of its
        # corners' images, and the ray of pixel (i, j) passes through image point (j, i): only
        # the pixel centres inside the box can meet it (_EDGE_PX absorbs rounding)
        j0 = max(int(math.ceil(umin - _EDGE_PX)), 0)
        j1 = min(int(math.floor(umax + _EDGE_PX)), width - 1)
        i0 = max(int(math.ceil(vmin - _EDGE_PX)), 0)
        i1 = min(int(math.floor(vmax + _EDGE_PX)), height - 1)
        if j0 > j1 or i0 > i1:
            return 1, 0, 1, 0
        return i0, i1, j0, j1
    j0 = int(max(math.floor(umin) - 1.0, 0.0))
    j1 = int(min(math.ceil(umax) + 1.0, width - 1.0))
    i0 = int(max(math.floor(vmin) - 1.0, 0.0))
    i1 = int(min(math.ceil(vmax) + 1.0, height - 1.0))
    return i0, i1, j0, j1


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


@njit(cache=True, nogil=True, error_model="numpy")
def _cells_min(h, x0, y0, res, xmin, xmax, ymin, ymax):
    """Lowest mesh vertex of the DEM cells that meet the rectangle (site ENU metres; vertex (r, c)
    at x0 + (c + 0.5) res, y0 - (r + 0.5) res): no mesh point inside the rectangle is lower
    (the mesh interpolates its vertices linearly). +inf when the rectangle misses the mesh."""
    nr, nc = h.shape
    c0 = max(int(math.floor((xmin - x0) / res - 0.5)), 0)
    c1 = min(int(math.floor((xmax - x0) / res - 0.5)) + 1, nc - 1)
    r0 = max(int(math.floor((y0 - ymax) / res - 0.5)), 0)
    r1 = min(int(math.floor((y0 - ymin) / res - 0.5)) + 1, nr - 1)
    z = np.inf
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            if h[r, c] < z:
                z = h[r, c]
    return z


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def shadow_lengths(rx, ry, rr, rh, rb, sun, spread, h, zmin, x0, y0, res):
    """Per rock, a length L (m) such that every DEM point the rock shades lies within L of the
    rock along the anti-sun directions: the sun rays within ``spread`` (rad) of ``sun`` (0: the
    centre ray only; the solar radius for a penumbra). A shaded point P sees the rock along a sun
    ray that is clear of the terrain from P up to the rock (P is lit by the terrain), so P is the
    first mesh point on the anti-sun ray from a point X of the rock, at most the rock's top. L is
    the fixed point of L = (top - z_min(L)) / sin(e - spread), with z_min(L) the lowest mesh vertex
    under the rock's box swept away from the Sun over L (widened by L spread): past L that ray is
    below every mesh point it has crossed over, so it met the mesh before. At most the bound from
    the DEM's lowest point ``zmin``; 0 with the Sun at or below the horizon."""
    n = rx.shape[0]
    out = np.zeros(n)
    sz = math.sin(math.asin(min(max(sun[2], -1.0), 1.0)) - spread)
    if not sz > 0.0:
        return out
    for k in prange(n):
        a = rr[k]
        top = rb[k] + rh[k]
        cap = max(top - zmin, 0.0) / sz
        length = 0.0
        for _ in range(64):
            w = length * spread
            ex = -sun[0] * length
            ey = -sun[1] * length
            zlo = _cells_min(h, x0, y0, res, rx[k] - a - w + min(ex, 0.0), rx[k] + a + w + max(ex, 0.0),
                             ry[k] - a - w + min(ey, 0.0), ry[k] + a + w + max(ey, 0.0))
            new = min(max(top - zlo, 0.0) / sz, cap)
            if not new > length:
                break
            length = new
        else:
            length = cap
        out[k] = length * (1.0 + 1e-9) + 1e-6
    return out


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def rock_boxes(cand, rx, ry, rr, rh, rb, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, sun, shadows, reach, lengths,
               spread, width, height):
    """Pixels worth testing, rock by rock (object order), as boxes (n, 8) int64: row i0, i1 and
    column j0, j1 of the image box of each candidate rock's bounding box (the camera rays that
    can meet it), then with ``shadows`` those of the rock's bounding box swept away from the Sun
    over the length its shadow can have (the pixels it can shade): ``lengths`` from
    :func:`shadow_lengths` for sun rays within ``spread`` of the centre (the box widened by length
    x spread), at most ``reach`` (the length after which the ray is below every visible terrain
    point). i0 > i1: no pixel."""
    n = cand.shape[0]
    out = np.empty((n, 8), np.int64)
    for q in prange(n):
        k = cand[q]
        a = rr[k]
        x_0 = rx[k] - a
        x_1 = rx[k] + a
        y_0 = ry[k] - a
        y_1 = ry[k] + a
        z_0 = rb[k] - rh[k]
        z_1 = rb[k] + rh[k]
        out[q, 0], out[q, 1], out[q, 2], out[q, 3] = _box_pixels(
            x_0, x_1, y_0, y_1, z_0, z_1, 0.0, 0.0, 0.0, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, width, height)
        out[q, 4], out[q, 5], out[q, 6], out[q, 7] = 1, 0, 1, 0
        if shadows and sun[2] > 0.0:
            length = min(lengths[k], reach)
            w = length * spread
            out[q, 4], out[q, 5], out[q, 6], out[q, 7] = _box_pixels(
                x_0 - w, x_1 + w, y_0 - w, y_1 + w, z_0 - w, z_1 + w, -sun[0] * length, -sun[1] * length,
                -sun[2] * length, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, width, height)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def row_lists(boxes, col, height):
    """The boxes ``boxes[:, col:col + 4]`` listed by image row, CSR: the boxes covering row i are
    ``items[start[i]:start[i + 1]]`` (ascending, so a pixel meets its rocks in candidate order
    whichever thread runs its row)."""
    n = boxes.shape[0]
    start = np.zeros(height + 1, np.int64)
    for q in range(n):
        for i in range(boxes[q, col], boxes[q, col + 1] + 1):
            start[i + 1] += 1
    for i in range(height):
        start[i + 1] += start[i]
    items = np.empty(start[height], np.int64)
    fill = start[:-1].copy()
    for q in range(n):
        for i in range(boxes[q, col], boxes[q, col + 1] + 1):
            items[fill[i]] = q
            fill[i] += 1
    return start, items


@njit(cache=True, nogil=True, error_model="numpy")
def mark_boxes(boxes, col, mask):
    """Set ``mask`` over the boxes ``boxes[:, col:col + 4]``."""
    for q in range(boxes.shape[0]):
        for i in range(boxes[q, col], boxes[q, col + 1] + 1):
            for j in range(boxes[q, col + 2], boxes[q, col + 3] + 1):
                mask[i, j] = 1
