"""Numba kernels for procedural terrain: crater and rock stamping (private)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _box(cx, cy, rad, x0, y0, res, nrows, ncols):
    # pixel centre of [i, j] is (x0 + (j + .5) res, y0 - (i + .5) res)
    j0 = int(math.floor((cx - rad - x0) / res - 0.5)) + 1
    j1 = int(math.floor((cx + rad - x0) / res - 0.5))
    i0 = int(math.floor((y0 - (cy + rad)) / res - 0.5)) + 1
    i1 = int(math.floor((y0 - (cy - rad)) / res - 0.5))
    if j0 < 0:
        j0 = 0
    if i0 < 0:
        i0 = 0
    if j1 > ncols - 1:
        j1 = ncols - 1
    if i1 > nrows - 1:
        i1 = nrows - 1
    return i0, i1, j0, j1


@njit(cache=True)
def stamp_craters_kernel(z, x0, y0, res, cx, cy, radius, tau_i, tau_w, table, xmax):
    """Stamp craters in order into ``z`` (float64, modified in place).

    ``table[k, :]`` is the profile (units of R) at tau grid k sampled uniformly on [0, xmax];
    crater c uses ``(1 - tau_w[c]) * table[tau_i[c]] + tau_w[c] * table[tau_i[c] + 1]``.
    Inside the rim the pre-existing relief is partly replaced (inheritance weight x^2).
    """
    nrows, ncols = z.shape
    nx = table.shape[1]
    inv_dx = (nx - 1) / xmax
    for c in range(cx.shape[0]):
        R = radius[c]
        rad = xmax * R
        i0, i1, j0, j1 = _box(cx[c], cy[c], rad, x0, y0, res, nrows, ncols)
        if i0 > i1 or j0 > j1:
            continue
        # pass 1: mean pre-impact height over the crater disk
        s = 0.0
        n = 0
        R2 = R * R
        for i in range(i0, i1 + 1):
            dy = y0 - (i + 0.5) * res - cy[c]
            for j in range(j0, j1 + 1):
                dxp = x0 + (j + 0.5) * res - cx[c]
                if dxp * dxp + dy * dy < R2:
                    s += z[i, j]
                    n += 1
        if n == 0:
            # crater smaller than a pixel-centre spacing: nearest pixel
            ii = int(math.floor((y0 - cy[c]) / res))
            jj = int(math.floor((cx[c] - x0) / res))
            ii = min(max(ii, 0), nrows - 1)
            jj = min(max(jj, 0), ncols - 1)
            href = z[ii, jj]
        else:
            href = s / n
        k = tau_i[c]
        w = tau_w[c]
        scale = R
        inv_R = 1.0 / R
        rad2 = rad * rad
        for i in range(i0, i1 + 1):
            dy = y0 - (i + 0.5) * res - cy[c]
            for j in range(j0, j1 + 1):
                dxp = x0 + (j + 0.5) * res - cx[c]
                r2 = dxp * dxp + dy * dy
                if r2 >= rad2:
                    continue
                x = math.sqrt(r2) * inv_R
                f = x * inv_dx
                m = int(f)
                if m >= nx - 1:
                    m = nx - 2
                a = f - m
                p0 = table[k, m] + a * (table[k, m + 1] - table[k, m])
                p1 = table[k + 1, m] + a * (table[k + 1, m + 1] - table[k + 1, m])
                p = (p0 + w * (p1 - p0)) * scale
                if x < 1.0:
                    z[i, j] += p + (1.0 - x * x) * (href - z[i, j])
                else:
                    z[i, j] += p


@njit(cache=True)
def stamp_rocks_kernel(z, x0, y0, res, cx, cy, radius, height):
    """Add half-ellipsoid bumps (semi-axes radius, radius, height) to ``z`` in place.

    Each pixel gets the rock's highest point inside the pixel square (distance from the rock
    centre to the nearest point of the pixel), so the pixel holding the centre carries the full
    rock height: a DEM that never hides an obstacle's top.
    """
    nrows, ncols = z.shape
    half = 0.5 * res
    for c in range(cx.shape[0]):
        a = radius[c]
        i0, i1, j0, j1 = _box(cx[c], cy[c], a + half, x0, y0, res, nrows, ncols)
        a2 = a * a
        for i in range(i0, i1 + 1):
            dy = max(abs(y0 - (i + 0.5) * res - cy[c]) - half, 0.0)
            for j in range(j0, j1 + 1):
                dxp = max(abs(x0 + (j + 0.5) * res - cx[c]) - half, 0.0)
                r2 = dxp * dxp + dy * dy
                if r2 < a2:
                    z[i, j] += height[c] * math.sqrt(1.0 - r2 / a2)


def _warm() -> None:  # pragma: no cover - helper for benchmarks
    z = np.zeros((4, 4))
    tab = np.zeros((2, 3))
    stamp_craters_kernel(z, 0.0, 0.0, 1.0, np.zeros(1), np.zeros(1), np.ones(1),
                         np.zeros(1, np.int64), np.zeros(1), tab, 3.0)
    stamp_rocks_kernel(z, 0.0, 0.0, 1.0, np.zeros(1), np.zeros(1), np.ones(1), np.ones(1))
