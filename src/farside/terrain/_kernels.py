"""Numba kernels for procedural terrain: crater stamping (private; rocks:
:mod:`farside.terrain._kernels_rockshape`)."""

from __future__ import annotations

import math

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
def stamp_craters_kernel(z, x0, y0, res, cx, cy, radius, tau_i, tau_w, table, smax):
    """Stamp craters in order into ``z`` (float64, modified in place).

    ``table[k, :]`` is the profile (units of R) at tau grid k sampled uniformly in
    ``s = (r/R)^2`` on [0, smax]; crater c uses
    ``(1 - tau_w[c]) * table[tau_i[c]] + tau_w[c] * table[tau_i[c] + 1]``.
    Inside the rim the pre-existing relief is partly replaced (inheritance weight 1 - s).
    """
    nrows, ncols = z.shape
    ns = table.shape[1]
    for c in range(cx.shape[0]):
        R = radius[c]
        R2 = R * R
        ccx = cx[c]
        ccy = cy[c]
        # pass 1: mean pre-impact height over the crater disk (r < R)
        i0, i1, j0, j1 = _box(ccx, ccy, R, x0, y0, res, nrows, ncols)
        s = 0.0
        n = 0
        for i in range(i0, i1 + 1):
            dy = y0 - (i + 0.5) * res - ccy
            dy2 = dy * dy
            for j in range(j0, j1 + 1):
                dxp = x0 + (j + 0.5) * res - ccx
                if dxp * dxp + dy2 < R2:
                    s += z[i, j]
                    n += 1
        if n == 0:
            # crater smaller than a pixel-centre spacing: nearest pixel
            ii = int(math.floor((y0 - ccy) / res))
            jj = int(math.floor((ccx - x0) / res))
            ii = min(max(ii, 0), nrows - 1)
            jj = min(max(jj, 0), ncols - 1)
            href = z[ii, jj]
        else:
            href = s / n
        # pass 2: profile over the footprint (r < sqrt(smax) R)
        rad2 = smax * R2
        i0, i1, j0, j1 = _box(ccx, ccy, math.sqrt(rad2), x0, y0, res, nrows, ncols)
        if i0 > i1 or j0 > j1:
            continue
        k = tau_i[c]
        w = tau_w[c]
        to_index = (ns - 1) / (smax * R2)
        for i in range(i0, i1 + 1):
            dy = y0 - (i + 0.5) * res - ccy
            dy2 = dy * dy
            for j in range(j0, j1 + 1):
                dxp = x0 + (j + 0.5) * res - ccx
                r2 = dxp * dxp + dy2
                if r2 >= rad2:
                    continue
                f = r2 * to_index
                m = int(f)
                if m >= ns - 1:
                    m = ns - 2
                a = f - m
                t0 = table[k, m]
                t1 = table[k + 1, m]
                p0 = t0 + a * (table[k, m + 1] - t0)
                p1 = t1 + a * (table[k + 1, m + 1] - t1)
                p = (p0 + w * (p1 - p0)) * R
                if r2 < R2:
                    z[i, j] += p + (1.0 - r2 / R2) * (href - z[i, j])
                else:
                    z[i, j] += p
