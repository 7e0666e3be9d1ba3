"""Numba kernels of the one rock geometry shared by every consumer of a rock table (private; see
:func:`farside.terrain.rocks.rock_shapes`).

A rock is the top of the seeded convex polyhedron of
:func:`farside.terrain._kernels_detail.build_rock` (5-9 side facets, two top facets) standing on its
seat, with a regolith fillet round its footprint. :func:`pack_rocks` evaluates ``build_rock`` once
per rock and packs the result in one float64 row (layout below); :func:`rock_top` gives the
height above the seat at an offset from the centre. The site DEM's stamp, the regolith patches,
the descent's truth surface and lidar, the rover's wheel contact and the renderer's sub-DEM rocks
all read these rows, so a rock has one shape everywhere.

Row layout (``NCOL`` columns): 0 x_m, 1 y_m, 2 diameter_m, 3 height_m (the table's), 4 reach
(largest distance of the rock or its fillet's outer edge from the centre, m), 5 number of planes, 6 number of
footprint half-planes, 7-8 the highest point's offset (dx, dy) from the centre, 9 fillet height
(m), 10 fillet width (m), 11 largest distance of the footprint polygon from the centre (m), 12
the seat's height (filled by a consumer that keeps it there; 0 from :func:`pack_rocks`),
``_A + p``, ``_BX + p``, ``_BY + p``: plane p is ``z = A + Bx dx + By dy`` above the seat (the top
is the minimum over the planes); ``_EX + p``, ``_EY + p``, ``_RS + p``: footprint half-plane p is
``dx ex + dy ey <= Rs``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.terrain._kernels_detail import build_rock, polygon_reach
from farside.terrain.surface import surface_height

C_X = 0
C_Y = 1
C_D = 2
C_H = 3
C_REACH = 4
C_NPL = 5
C_NSIDE = 6
C_PEAKX = 7
C_PEAKY = 8
C_FILH = 9
C_FILW = 10
C_RMAX = 11
C_SEAT = 12
_MAXPL = 11         # planes: at most 9 side facets + 2 top facets (build_rock)
_MAXS = 9           # footprint half-planes
_A = 16
_BX = _A + _MAXPL
_BY = _BX + _MAXPL
_EX = _BY + _MAXPL
_EY = _EX + _MAXS
_RS = _EY + _MAXS
NCOL = _RS + _MAXS


@njit(cache=True, parallel=True)
def pack_rocks(x, y, d, h, keys, cliff, fil_h, fil_w):
    """One row per rock (module docstring): ``build_rock(keys[k], d[k] / 2, h[k], cliff)``, a
    fillet of ``fil_h * h`` at the footprint fading over ``fil_w * d / 2`` outside it."""
    n = x.shape[0]
    out = np.zeros((n, NCOL))
    for k in prange(n):
        R = 0.5 * d[k]
        A, Bx, By, npl, ex, ey, Rs, nside, rmax, px, py = build_rock(keys[k], R, h[k], cliff)
        out[k, C_X] = x[k]
        out[k, C_Y] = y[k]
        out[k, C_D] = d[k]
        out[k, C_H] = h[k]
        out[k, C_NPL] = npl
        out[k, C_NSIDE] = nside
        out[k, C_PEAKX] = px
        out[k, C_PEAKY] = py
        out[k, C_FILH] = fil_h * h[k]
        out[k, C_FILW] = fil_w * R
        # exact vertex distances (build_rock's rmax samples 256 azimuths); the fillet's outer edge is
        # the polygon with every side moved out by fil_w R
        out[k, C_RMAX] = polygon_reach(ex, ey, Rs, nside, 0.0)
        out[k, C_REACH] = polygon_reach(ex, ey, Rs, nside, fil_w * R) if fil_h > 0.0 else out[k, C_RMAX]
        for p in range(npl):
            out[k, _A + p] = A[p]
            out[k, _BX + p] = Bx[p]
            out[k, _BY + p] = By[p]
        for p in range(nside):
            out[k, _EX + p] = ex[p]
            out[k, _EY + p] = ey[p]
            out[k, _RS + p] = Rs[p]
    return out


@njit(cache=True, inline="always")
def rock_excess(g, k, dx, dy):
    """Largest excess of the footprint half-planes of rock row ``k`` at offset (dx, dy): <= 0 on
    the footprint, else a lower bound of the distance to it."""
    dout = -1e300
    for p in range(int(g[k, C_NSIDE])):
        dout = max(dout, dx * g[k, _EX + p] + dy * g[k, _EY + p] - g[k, _RS + p])
    return dout


@njit(cache=True, inline="always")
def rock_shape(g, k, dx, dy):
    """Minimum over the planes of rock row ``k`` at (dx, dy) (the polyhedron's top, unclipped)."""
    sh = 1e300
    for p in range(int(g[k, C_NPL])):
        sh = min(sh, g[k, _A + p] + g[k, _BX + p] * dx + g[k, _BY + p] * dy)
    return sh


@njit(cache=True, inline="always")
def rock_top(g, k, dx, dy):
    """Height above its seat of rock row ``k`` and its fillet at offset (dx, dy) from the centre:
    the polyhedron's top (min over the planes) on the footprint, at least the fillet height there;
    ``fh (1 - e / fw)^2`` at a half-plane excess ``e`` < ``fw`` outside; 0 beyond. Returns
    (height, True when on the footprint)."""
    if dx * dx + dy * dy > g[k, C_REACH] * g[k, C_REACH]:
        return 0.0, False
    dout = rock_excess(g, k, dx, dy)
    fh = g[k, C_FILH]
    if dout <= 0.0:
        return max(rock_shape(g, k, dx, dy), fh), True
    fw = g[k, C_FILW]
    if dout >= fw or fh <= 0.0:
        return 0.0, False
    t = 1.0 - dout / fw
    return fh * t * t, False


@njit(cache=True)
def rock_top_many(g, k, dx, dy):
    """:func:`rock_top` of rock row ``k`` at many offsets (heights only)."""
    out = np.empty(dx.shape[0])
    for i in range(dx.shape[0]):
        out[i] = rock_top(g, k, dx[i], dy[i])[0]
    return out


@njit(cache=True)
def stamp_shapes_kernel(z, x0, y0, res, g, seats):
    """Stamp packed rocks into the raster ``z`` (float64, row 0 north, NW corner (x0, y0), pixel
    centre ``(x0 + (j + .5) res, y0 - (i + .5) res)``): ``z = max(z, seat + rock_top)`` at each
    pixel centre; the pixel holding a rock's highest point takes its full height, so the DEM never
    hides a rock's top. A max is independent of the order of the rocks."""
    nr, nc = z.shape
    for k in range(g.shape[0]):
        cx = g[k, C_X]
        cy = g[k, C_Y]
        ext = g[k, C_REACH]
        j0 = max(int(math.floor((cx - ext - x0) / res - 0.5)) + 1, 0)
        j1 = min(int(math.floor((cx + ext - x0) / res - 0.5)), nc - 1)
        i0 = max(int(math.floor((y0 - (cy + ext)) / res - 0.5)) + 1, 0)
        i1 = min(int(math.floor((y0 - (cy - ext)) / res - 0.5)), nr - 1)
        zc = seats[k]
        for i in range(i0, i1 + 1):
            dy = y0 - (i + 0.5) * res - cy
            for j in range(j0, j1 + 1):
                dx = x0 + (j + 0.5) * res - cx
                v, _ = rock_top(g, k, dx, dy)
                if v > 0.0 and zc + v > z[i, j]:
                    z[i, j] = zc + v
        # the pixel holding the highest point
        px = cx + g[k, C_PEAKX]
        py = cy + g[k, C_PEAKY]
        jj = int(math.floor((px - x0) / res))
        ii = int(math.floor((y0 - py) / res))
        if 0 <= ii < nr and 0 <= jj < nc and zc + g[k, C_H] > z[ii, jj]:
            z[ii, jj] = zc + g[k, C_H]


@njit(cache=True)
def seats_kernel(h, x0, y0, res, g):
    """Seat of each packed rock on the raster ``h`` (row 0 north, NW corner (x0, y0)): the mean of
    its triangle-mesh height (:func:`farside.terrain.surface.surface_height`) at the centre and at
    the points +-R/2 from it along x and y; on a plane, the plane's height at the centre."""
    out = np.empty(g.shape[0])
    for k in range(g.shape[0]):
        R = 0.5 * g[k, C_D]
        acc = 0.0
        for t in range(5):
            px = g[k, C_X] + (0.5 * R if t == 1 else (-0.5 * R if t == 2 else 0.0))
            py = g[k, C_Y] + (0.5 * R if t == 3 else (-0.5 * R if t == 4 else 0.0))
            acc += surface_height(h, x0, y0, res, px, py)
        out[k] = acc / 5.0
    return out
