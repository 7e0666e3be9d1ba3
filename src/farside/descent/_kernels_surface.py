"""Numba kernels of the powered descent (private): the truth surface with rocks.

Terrain (the DEM's triangle mesh, farside.terrain.surface) plus the rocks not in the DEM, each the
seeded polyhedron of :func:`farside.terrain.rocks.rock_shapes` with its fillet on its seat: the
surface is ``max(terrain, seat + rock_top)`` (rows packed as in
:mod:`farside.terrain._kernels_rockshape`, the seat in column ``C_SEAT``, :func:`rock_seats`). It
gives the simulated 3-D imager of fine hazard detection (:func:`lidar_scan`), surface heights at
points and the footpad plane and body clearance of a touchdown (:func:`touchdown_surface`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from farside.descent._kernels_dynamics import terrain_height
from farside.terrain._kernels_rockshape import C_REACH, C_SEAT, C_X, C_Y, rock_top
from farside.terrain.surface import surface_height_rc


@njit(cache=True)
def rock_seats(heights, res, x0, y0, h_out, rocks):
    """Write each packed rock's seat into column ``C_SEAT``: the mean terrain height at its centre
    and at +-R/2 along x and y (the rule of :func:`farside.terrain.rocks.stamp_rocks`)."""
    for k in range(rocks.shape[0]):
        R = 0.25 * rocks[k, 2]
        acc = 0.0
        for t in range(5):
            px = rocks[k, C_X] + (R if t == 1 else (-R if t == 2 else 0.0))
            py = rocks[k, C_Y] + (R if t == 3 else (-R if t == 4 else 0.0))
            acc += terrain_height(heights, res, x0, y0, h_out, px, py)
        rocks[k, C_SEAT] = acc / 5.0


@njit(cache=True, inline="always")
def _on_rock(rocks, k, x, y, z):
    """``max(z, seat + rock_top)`` of packed rock ``k`` at (x, y)."""
    dx = x - rocks[k, C_X]
    dy = y - rocks[k, C_Y]
    if dx * dx + dy * dy >= rocks[k, C_REACH] * rocks[k, C_REACH]:
        return z
    v, _ = rock_top(rocks, k, dx, dy)
    if v > 0.0:
        zr = rocks[k, C_SEAT] + v
        if zr > z:
            return zr
    return z


@njit(cache=True, inline="always")
def _truth_surface(heights, res, x0, y0, h_out, rocks, x, y):
    z = terrain_height(heights, res, x0, y0, h_out, x, y)
    for k in range(rocks.shape[0]):
        z = _on_rock(rocks, k, x, y, z)
    return z


@njit(cache=True)
def _bin_rocks(rocks, bx0, by0, cell, nb):
    """Bucket rocks by the ``cell``-sized squares their reach discs overlap (CSR layout)."""
    counts = np.zeros(nb * nb + 1, dtype=np.int64)
    for pass_ in range(2):
        if pass_ == 1:
            for k in range(nb * nb):
                counts[k + 1] += counts[k]
            fill = counts[:-1].copy()
            idx = np.empty(counts[nb * nb], dtype=np.int64)
        for k in range(rocks.shape[0]):
            rad = rocks[k, C_REACH]
            i0 = int(math.floor((rocks[k, 1] - rad - by0) / cell))
            i1 = int(math.floor((rocks[k, 1] + rad - by0) / cell))
            j0 = int(math.floor((rocks[k, 0] - rad - bx0) / cell))
            j1 = int(math.floor((rocks[k, 0] + rad - bx0) / cell))
            for i in range(max(i0, 0), min(i1, nb - 1) + 1):
                for j in range(max(j0, 0), min(j1, nb - 1) + 1):
                    if pass_ == 0:
                        counts[i * nb + j + 1] += 1
                    else:
                        idx[fill[i * nb + j]] = k
                        fill[i * nb + j] += 1
    return counts, idx


@njit(cache=True, inline="always")
def _surface_binned(heights, res, x0, y0, h_out, rocks, counts, idx, bx0, by0, cell, nb, x, y):
    z = terrain_height(heights, res, x0, y0, h_out, x, y)
    i = int(math.floor((y - by0) / cell))
    j = int(math.floor((x - bx0) / cell))
    if i < 0 or j < 0 or i >= nb or j >= nb:
        return z
    b = i * nb + j
    for q in range(counts[b], counts[b + 1]):
        z = _on_rock(rocks, idx[q], x, y, z)
    return z


@njit(cache=True)
def lidar_scan(heights, res, x0, y0, h_out, rocks, lx, ly, lz, n, spacing, noise, sigma):
    """Range image of a nadir-looking scanner at truth position (lx, ly, lz), as relative heights.

    Beam (i, j) points at the nominal ground offset ((j - c) * spacing, -(i - c) * spacing) at the
    sensor's nominal range ``h``; along the beam a point is ``sensor + u * (offset, -h)``, and the
    intersection with the truth surface (terrain + rocks) is the fixed point
    ``u = (lz - surface(u)) / h`` (contracts by ~ tan(off-nadir) x surface slope per pass), iterated
    to 1 cm in range from a start extrapolated linearly from the two previous rows (the first row:
    the previous beam), so that beams of a row are independent (the CPU overlaps them) and most
    converge in one pass. Gaussian range noise ``sigma * noise[i, j]`` is added. Each measured
    point (range x beam direction) is resampled into the nearest cell of the regular grid (mean of
    the points in a cell; empty cells take the mean of measured neighbours, else NaN = unknown).
    Returns the elevation map relative to the sensor, row 0 = north.
    """
    rows, cols = heights.shape
    out = np.empty((n, n))
    acc = np.zeros((n, n))
    cnt = np.zeros((n, n))
    c = 0.5 * (n - 1)
    cell = 1.0
    half = 0.5 * n * spacing * 1.2 + 2.0
    nb = int(2.0 * half / cell) + 1
    bx0 = lx - half
    by0 = ly - half
    counts, idx = _bin_rocks(rocks, bx0, by0, cell, nb)
    inv_res = 1.0 / res
    inv_cell = 1.0 / cell
    z_nadir = _surface_binned(heights, res, x0, y0, h_out, rocks, counts, idx, bx0, by0, cell, nb, lx, ly)
    h_nom = lz - z_nadir
    inv_h = 1.0 / h_nom
    u1 = np.ones(n)          # converged u of the previous row, per column
    u2 = np.ones(n)          # and of the row before it
    u_prev = 1.0
    for i in range(n):
        gy = -(i - c) * spacing
        for j in range(n):
            gx = (j - c) * spacing
            dn = math.sqrt(gx * gx + gy * gy + h_nom * h_nom)
            if i == 0:
                u = u_prev
            elif i == 1:
                u = u1[j]
            else:
                u = 2.0 * u1[j] - u2[j]
            for _ in range(8):
                # truth surface at the point: the terrain mesh (farside.terrain.surface) plus the
                # binned rocks; written out here, not called
                x = lx + u * gx
                y = ly + u * gy
                col = (x - x0) * inv_res - 0.5
                row = (y0 - y) * inv_res - 0.5
                if 0.0 <= col < cols - 1.000001 and 0.0 <= row < rows - 1.000001:
                    zs = surface_height_rc(heights, row, col)
                else:
                    zs = terrain_height(heights, res, x0, y0, h_out, x, y)
                bi = int(math.floor((y - by0) * inv_cell))
                bj = int(math.floor((x - bx0) * inv_cell))
                if 0 <= bi < nb and 0 <= bj < nb:
                    b = bi * nb + bj
                    for q in range(counts[b], counts[b + 1]):
                        zs = _on_rock(rocks, idx[q], x, y, zs)
                u_new = (lz - zs) * inv_h
                if abs(u_new - u) * dn < 0.01:
                    u = u_new
                    break
                u = u_new
            u_prev = u
            u2[j] = u1[j]
            u1[j] = u
            # measured point: range u * dn + noise along the beam, splat into the nearest cell
            um = u + sigma * noise[i, j] / dn
            jj = int(math.floor(um * (j - c) + c + 0.5))
            ii = int(math.floor(um * (i - c) + c + 0.5))
            if 0 <= ii < n and 0 <= jj < n:
                acc[ii, jj] -= um * h_nom
                cnt[ii, jj] += 1.0
    # cells no beam landed in (behind relief): mean of the measured 8-neighbours, else unknown (NaN)
    for i in range(n):
        for j in range(n):
            if cnt[i, j] > 0:
                out[i, j] = acc[i, j] / cnt[i, j]
            else:
                sm = 0.0
                k = 0
                for a in range(max(i - 1, 0), min(i + 2, n)):
                    for b in range(max(j - 1, 0), min(j + 2, n)):
                        if cnt[a, b] > 0:
                            sm += acc[a, b] / cnt[a, b]
                            k += 1
                out[i, j] = sm / k if k > 0 else np.nan
    return out


@njit(cache=True)
def truth_surface_many(heights, res, x0, y0, h_out, rocks, xs, ys):
    out = np.empty(xs.shape[0])
    for i in range(xs.shape[0]):
        out[i] = _truth_surface(heights, res, x0, y0, h_out, rocks, xs[i], ys[i])
    return out


@njit(cache=True)
def rocks_window(rocks, x, y, pad):
    """Rows of ``rocks`` (sorted by x) with |x_rock - x| <= pad and |y_rock - y| <= pad."""
    n = rocks.shape[0]
    lo = np.searchsorted(rocks[:, 0], x - pad)
    hi = np.searchsorted(rocks[:, 0], x + pad)
    keep = np.empty(hi - lo, dtype=np.int64)
    m = 0
    for q in range(lo, min(hi, n)):
        if abs(rocks[q, 1] - y) <= pad:
            keep[m] = q
            m += 1
    nc = rocks.shape[1]
    out = np.empty((m, nc))
    for q in range(m):
        for c in range(nc):
            out[q, c] = rocks[keep[q], c]
    return out


@njit(cache=True)
def touchdown_surface(heights, res, x0, y0, h_out, rocks, x, y, pad_x, pad_y, bx, by):
    """Footpad plane and body clearance of a touchdown at (x, y) on the truth surface.

    Pads at offsets (pad_x, pad_y) (symmetric: the least-squares plane through them has
    gx = sum(px h) / sum(px^2), gy likewise, c = mean h); the body points at offsets (bx, by).
    Returns (gx, gy, c, highest body point above the plane).
    """
    sxh = 0.0
    syh = 0.0
    sxx = 0.0
    syy = 0.0
    sh = 0.0
    npad = pad_x.shape[0]
    for q in range(npad):
        h = _truth_surface(heights, res, x0, y0, h_out, rocks, x + pad_x[q], y + pad_y[q])
        sxh += pad_x[q] * h
        syh += pad_y[q] * h
        sxx += pad_x[q] * pad_x[q]
        syy += pad_y[q] * pad_y[q]
        sh += h
    gx = sxh / sxx
    gy = syh / syy
    c = sh / npad
    best = -1e300
    for q in range(bx.shape[0]):
        z = _truth_surface(heights, res, x0, y0, h_out, rocks, x + bx[q], y + by[q])
        d = z - (gx * bx[q] + gy * by[q] + c)
        if d > best:
            best = d
    return gx, gy, c, best
