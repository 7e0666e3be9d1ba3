"""Numba kernels of the powered descent (private): fine hazard maps.

Least-squares window planes from integral images (slope, protrusion), the footpad plane, the fused
map kernel :func:`fine_maps`, exact and capped Euclidean distance transforms (clearance) and the
search for the best safe cell (:func:`select_cells`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _integral_images(z):
    """Integral images (n0 + 1, n1 + 1) of z, z * column, z * row (unknown NaN cells count as 0)
    and of the unknown-cell count: S[i, j] sums rows < i and columns < j."""
    n0, n1 = z.shape
    S = np.empty((n0 + 1, n1 + 1))
    Su = np.empty((n0 + 1, n1 + 1))
    Sv = np.empty((n0 + 1, n1 + 1))
    Sn = np.empty((n0 + 1, n1 + 1))
    for j in range(n1 + 1):             # only the first row and column need zeros
        S[0, j] = 0.0
        Su[0, j] = 0.0
        Sv[0, j] = 0.0
        Sn[0, j] = 0.0
    for i in range(1, n0 + 1):
        S[i, 0] = 0.0
        Su[i, 0] = 0.0
        Sv[i, 0] = 0.0
        Sn[i, 0] = 0.0
    for i in range(n0):
        for j in range(n1):
            zz = z[i, j]
            bad = 0.0
            if not np.isfinite(zz):
                zz = 0.0
                bad = 1.0
            S[i + 1, j + 1] = S[i, j + 1] + S[i + 1, j] - S[i, j] + zz
            Su[i + 1, j + 1] = Su[i, j + 1] + Su[i + 1, j] - Su[i, j] + zz * j
            Sv[i + 1, j + 1] = Sv[i, j + 1] + Sv[i + 1, j] - Sv[i, j] + zz * i
            Sn[i + 1, j + 1] = Sn[i, j + 1] + Sn[i + 1, j] - Sn[i, j] + bad
    return S, Su, Sv, Sn


@njit(cache=True)
def slope_protrusion(z, spacing, k):
    """Least-squares plane over a (2k+1)^2 window at every interior cell of ``z``.

    Returns slope (deg) of the plane and the cell's protrusion above it (m); border cells whose
    window leaves the grid, and windows holding unknown (NaN) cells, are NaN. Window sums come from integral images (O(n^2)).
    """
    n0, n1 = z.shape
    S, Su, Sv, Sn = _integral_images(z)
    w = 2 * k + 1
    npts = w * w
    # sum over the window of (u - uc)^2 for u in -k..k, times w
    suu = 0.0
    for u in range(-k, k + 1):
        suu += u * u
    suu *= w
    slope = np.full((n0, n1), np.nan)
    prot = np.full((n0, n1), np.nan)
    for i in range(k, n0 - k):
        for j in range(k, n1 - k):
            a0, a1 = i - k, i + k + 1
            b0, b1 = j - k, j + k + 1
            if Sn[a1, b1] - Sn[a0, b1] - Sn[a1, b0] + Sn[a0, b0] > 0.5 or not np.isfinite(z[i, j]):
                continue  # a window with unknown cells stays NaN (hazard)
            sz = S[a1, b1] - S[a0, b1] - S[a1, b0] + S[a0, b0]
            szu = Su[a1, b1] - Su[a0, b1] - Su[a1, b0] + Su[a0, b0] - j * sz
            szv = Sv[a1, b1] - Sv[a0, b1] - Sv[a1, b0] + Sv[a0, b0] - i * sz
            gx = szu / suu / spacing
            gy = szv / suu / spacing
            slope[i, j] = math.degrees(math.atan(math.sqrt(gx * gx + gy * gy)))
            prot[i, j] = z[i, j] - sz / npts
    return slope, prot


@njit(cache=True)
def select_cells(clear, tab, x0, y0, sp, xp, yp, safe_r, dmax, w):
    """Best cell near (xp, yp) of a clearance raster (see ``hda.select_safe_point``).

    ``clear`` holds clearances in metres (``tab`` empty), or squared clearances in cells
    (``edt_capped_sq``) whose metres are ``tab[clear[i, j]]`` (``tab[k] = sqrt(k) * spacing``: the
    same numbers from a quarter of the memory). Returns (i, j, found); i = -1 when no cell is
    within reach.
    """
    direct = tab.shape[0] == 0
    n0, n1 = clear.shape
    jc = (xp - x0) / sp - 0.5
    ic = (y0 - yp) / sp - 0.5
    rad = dmax / sp + 1.0
    i0 = max(0, int(math.floor(ic - rad)))
    i1 = min(n0, int(math.ceil(ic + rad)) + 1)
    j0 = max(0, int(math.floor(jc - rad)))
    j1 = min(n1, int(math.ceil(jc + rad)) + 1)
    best_ok = -1e300
    bi_ok = -1
    bj_ok = -1
    best_any = -1e300
    bi_any = -1
    bj_any = -1
    cap = 2.0 * safe_r
    d2max = dmax * dmax * (1.0 + 1e-9)      # surely out of reach beyond (skips the square root)
    for i in range(i0, i1):
        y = y0 - (i + 0.5) * sp
        dy2 = (y - yp) ** 2
        if dy2 > d2max:
            continue
        # columns of the row within reach (a cell wider on each side than the exact chord)
        hw = math.sqrt(d2max - dy2) / sp + 1.0
        ja = max(j0, int(math.floor(jc - hw)))
        jb = min(j1, int(math.ceil(jc + hw)) + 1)
        for j in range(ja, jb):
            x = x0 + (j + 0.5) * sp
            d2 = (x - xp) ** 2 + dy2
            if d2 > d2max:
                continue
            v = clear[i, j]
            c = v if direct else tab[int(v)]
            if c < safe_r and c <= best_any:
                continue                    # neither the best so far nor safe: no distance needed
            d = math.sqrt(d2)
            if d > dmax:
                continue
            if c > best_any:
                best_any = c
                bi_any = i
                bj_any = j
            if c >= safe_r:
                sc = min(c, cap) - w * d
                if sc > best_ok:
                    best_ok = sc
                    bi_ok = i
                    bj_ok = j
    if bi_ok >= 0:
        return bi_ok, bj_ok, True
    return bi_any, bj_any, False


@njit(cache=True)
def pad_slope(z, spacing, r_pad, skip):
    """Slope (deg) of the plane through four footpads on a circle of ``r_pad`` around each cell.

    Pads at azimuths 45 + 90k deg: the yaw the attitude control holds (and the touchdown check
    uses). Pad heights are bilinear in
    ``z``; cells whose pads leave the grid or touch unknown (NaN) cells, and cells where ``skip``
    is True (already hazardous), are NaN.
    """
    n0, n1 = z.shape
    out = np.full((n0, n1), np.nan)
    m = int(math.ceil(r_pad / spacing)) + 1
    # pad offsets (east, north) and their bilinear cell offsets and weights
    nyaw = 1
    pxs = np.empty((nyaw, 4))
    pys = np.empty((nyaw, 4))
    dc = np.empty((nyaw, 4), dtype=np.int64)
    dr = np.empty((nyaw, 4), dtype=np.int64)
    wcs = np.empty((nyaw, 4))
    wrs = np.empty((nyaw, 4))
    for yaw in range(nyaw):
        for k in range(4):
            a = math.radians(45.0 * (1 - yaw) + 90.0 * k)
            pxs[yaw, k] = r_pad * math.sin(a)
            pys[yaw, k] = r_pad * math.cos(a)
            fc = pxs[yaw, k] / spacing
            fr = -pys[yaw, k] / spacing
            dc[yaw, k] = int(math.floor(fc))
            dr[yaw, k] = int(math.floor(fr))
            wcs[yaw, k] = fc - math.floor(fc)
            wrs[yaw, k] = fr - math.floor(fr)
    for i in range(m, n0 - m):
        for j in range(m, n1 - m):
            if skip[i, j]:
                continue
            worst = 0.0
            bad = False
            for yaw in range(nyaw):
                sx = 0.0
                sy = 0.0
                sxx = 0.0
                syy = 0.0
                for k in range(4):
                    px = pxs[yaw, k]
                    py = pys[yaw, k]
                    r0 = i + dr[yaw, k]
                    c0 = j + dc[yaw, k]
                    wc = wcs[yaw, k]
                    wr = wrs[yaw, k]
                    h = ((1 - wr) * ((1 - wc) * z[r0, c0] + wc * z[r0, c0 + 1])
                         + wr * ((1 - wc) * z[r0 + 1, c0] + wc * z[r0 + 1, c0 + 1]))
                    if not np.isfinite(h):
                        bad = True
                    sx += px * h
                    sy += py * h
                    sxx += px * px
                    syy += py * py
                gx = sx / sxx
                gy = sy / syy
                sl = math.degrees(math.atan(math.sqrt(gx * gx + gy * gy)))
                if sl > worst:
                    worst = sl
            if not bad:
                out[i, j] = worst
    return out


@njit(cache=True, inline="always")
def _edt_1d(f, n, d, v, z):
    """Felzenszwalb & Huttenlocher (2012) 1-D squared distance transform of sampled function f."""
    k = 0
    v[0] = 0
    z[0] = -1e300
    z[1] = 1e300
    for q in range(1, n):
        if f[q] >= 1e299:
            continue
        while True:
            p = v[k]
            if f[p] >= 1e299:
                # the previous parabola is at infinity: replace it
                s = -1e300
            else:
                s = ((f[q] + q * q) - (f[p] + p * p)) / (2.0 * q - 2.0 * p)
            if s <= z[k] and k > 0:
                k -= 1
                continue
            if f[p] >= 1e299:
                v[k] = q
                z[k] = -1e300
                z[k + 1] = 1e300
            else:
                k += 1
                v[k] = q
                z[k] = s
                z[k + 1] = 1e300
            break
    k = 0
    for q in range(n):
        while z[k + 1] < q:
            k += 1
        p = v[k]
        d[q] = (q - p) * (q - p) + f[p] if f[p] < 1e299 else 1e300


@njit(cache=True)
def edt(mask):
    """Exact Euclidean distance (in cells) from every cell to the nearest True cell of ``mask``;
    inf if there is none. Columns: nearest True cell by a forward and a backward sweep (row by
    row, cache-friendly); rows: the 1-D squared transform of Felzenszwalb & Huttenlocher (2012)."""
    n0, n1 = mask.shape
    big = 1e20
    g = np.empty((n0, n1))
    for j in range(n1):
        g[0, j] = 0.0 if mask[0, j] else big
    for i in range(1, n0):
        for j in range(n1):
            g[i, j] = 0.0 if mask[i, j] else g[i - 1, j] + 1.0
    for i in range(n0 - 2, -1, -1):
        for j in range(n1):
            d1 = g[i + 1, j] + 1.0
            if d1 < g[i, j]:
                g[i, j] = d1
    f = np.empty(n1)
    d = np.empty(n1)
    v = np.empty(n1, dtype=np.int64)
    zz = np.empty(n1 + 1)
    out = np.empty((n0, n1))
    for i in range(n0):
        for j in range(n1):
            gij = g[i, j]
            f[j] = gij * gij if gij < 1e19 else 1e300
        _edt_1d(f, n1, d, v, zz)
        for j in range(n1):
            out[i, j] = math.sqrt(d[j]) if d[j] < 1e299 else np.inf
    return out


@njit(cache=True)
def fine_maps(z, spacing, k, r_pad, tan_max, max_obstacle):
    """All fine-HDA maps of an elevation grid in one pass (what ``slope_protrusion`` and
    ``pad_slope`` give, thresholded), without a single arctangent.

    Per interior cell: the least-squares plane over the (2k+1)^2 window (window sums from integral
    images, as ``slope_protrusion``), the protrusion of the cell above it, and, where that plane is
    not already too steep, the plane through the four footpads at ``r_pad`` (azimuths 45 + 90 k
    deg, bilinear pad heights, as ``pad_slope``). Returns ``(slope_tan, protrusion, obstacle,
    hazard)``: the steeper of the two planes as tan(slope) (the window plane alone where it exceeds
    ``tan_max``; NaN = unknown: window leaves the grid or holds unknown cells, pads leave the grid or
    touch unknown cells), the protrusion (float32, NaN = unknown), ``|protrusion| > max_obstacle``,
    and hazard = unknown or tan(slope) > ``tan_max`` or obstacle.
    """
    n0, n1 = z.shape
    S, Su, Sv, Sn = _integral_images(z)
    w = 2 * k + 1
    npts = w * w
    suu = 0.0
    for u in range(-k, k + 1):
        suu += u * u
    suu *= w
    # footpads: offsets (east, north), bilinear cell offsets and weights
    m = int(math.ceil(r_pad / spacing)) + 1
    pxs = np.empty(4)
    pys = np.empty(4)
    dc = np.empty(4, dtype=np.int64)
    dr = np.empty(4, dtype=np.int64)
    wcs = np.empty(4)
    wrs = np.empty(4)
    for q in range(4):
        a = math.radians(45.0 + 90.0 * q)
        pxs[q] = r_pad * math.sin(a)
        pys[q] = r_pad * math.cos(a)
        fc = pxs[q] / spacing
        fr = -pys[q] / spacing
        dc[q] = int(math.floor(fc))
        dr[q] = int(math.floor(fr))
        wcs[q] = fc - math.floor(fc)
        wrs[q] = fr - math.floor(fr)
    sxx = 0.0
    syy = 0.0
    for q in range(4):
        sxx += pxs[q] * pxs[q]
        syy += pys[q] * pys[q]
    inv_sxx = 1.0 / sxx
    px0, px1, px2, px3 = pxs[0], pxs[1], pxs[2], pxs[3]
    py0, py1, py2, py3 = pys[0], pys[1], pys[2], pys[3]
    dr0, dr1, dr2, dr3 = dr[0], dr[1], dr[2], dr[3]
    dc0, dc1, dc2, dc3 = dc[0], dc[1], dc[2], dc[3]
    wr0, wr1, wr2, wr3 = wrs[0], wrs[1], wrs[2], wrs[3]
    wc0, wc1, wc2, wc3 = wcs[0], wcs[1], wcs[2], wcs[3]
    inv_syy = 1.0 / syy
    inv_g = 1.0 / (suu * spacing)
    inv_npts = 1.0 / npts
    tan2 = tan_max * tan_max
    slope = np.full((n0, n1), np.nan)
    prot = np.full((n0, n1), np.nan, dtype=np.float32)
    obstacle = np.zeros((n0, n1), dtype=np.bool_)
    hazard = np.ones((n0, n1), dtype=np.bool_)
    for i in range(k, n0 - k):
        a0 = i - k
        a1 = i + k + 1
        pads_in = m <= i < n0 - m
        for j in range(k, n1 - k):
            b0 = j - k
            b1 = j + k + 1
            zc = z[i, j]
            if Sn[a1, b1] - Sn[a0, b1] - Sn[a1, b0] + Sn[a0, b0] > 0.5 or not np.isfinite(zc):
                continue  # a window with unknown cells: unknown (hazard)
            sz = S[a1, b1] - S[a0, b1] - S[a1, b0] + S[a0, b0]
            szu = Su[a1, b1] - Su[a0, b1] - Su[a1, b0] + Su[a0, b0] - j * sz
            szv = Sv[a1, b1] - Sv[a0, b1] - Sv[a1, b0] + Sv[a0, b0] - i * sz
            gx = szu * inv_g
            gy = szv * inv_g
            g2 = gx * gx + gy * gy
            p = zc - sz * inv_npts
            prot[i, j] = p
            obs = abs(p) > max_obstacle
            obstacle[i, j] = obs
            if g2 <= tan2:
                # footpad plane (the window plane is not already too steep)
                if not (pads_in and m <= j < n1 - m):
                    continue  # pads off the grid: unknown
                # the four pads, unrolled (scalars stay in registers)
                h0 = ((1 - wr0) * ((1 - wc0) * z[i + dr0, j + dc0] + wc0 * z[i + dr0, j + dc0 + 1])
                      + wr0 * ((1 - wc0) * z[i + dr0 + 1, j + dc0] + wc0 * z[i + dr0 + 1, j + dc0 + 1]))
                h1 = ((1 - wr1) * ((1 - wc1) * z[i + dr1, j + dc1] + wc1 * z[i + dr1, j + dc1 + 1])
                      + wr1 * ((1 - wc1) * z[i + dr1 + 1, j + dc1] + wc1 * z[i + dr1 + 1, j + dc1 + 1]))
                h2 = ((1 - wr2) * ((1 - wc2) * z[i + dr2, j + dc2] + wc2 * z[i + dr2, j + dc2 + 1])
                      + wr2 * ((1 - wc2) * z[i + dr2 + 1, j + dc2] + wc2 * z[i + dr2 + 1, j + dc2 + 1]))
                h3 = ((1 - wr3) * ((1 - wc3) * z[i + dr3, j + dc3] + wc3 * z[i + dr3, j + dc3 + 1])
                      + wr3 * ((1 - wc3) * z[i + dr3 + 1, j + dc3] + wc3 * z[i + dr3 + 1, j + dc3 + 1]))
                sx = px0 * h0 + px1 * h1 + px2 * h2 + px3 * h3
                sy = py0 * h0 + py1 * h1 + py2 * h2 + py3 * h3
                if not (np.isfinite(sx) and np.isfinite(sy)):
                    continue  # a pad on an unknown cell
                px_ = sx * inv_sxx
                py_ = sy * inv_syy
                gp2 = px_ * px_ + py_ * py_
                if gp2 > g2:
                    g2 = gp2
            slope[i, j] = math.sqrt(g2)
            hazard[i, j] = obs or not (g2 <= tan2)
    return slope, prot, obstacle, hazard


@njit(cache=True)
def tan_to_deg32(t):
    """degrees(atan(t)) of a 2-D array as float32 (NaN stays NaN)."""
    n0, n1 = t.shape
    out = np.empty((n0, n1), dtype=np.float32)
    for i in range(n0):
        for j in range(n1):
            out[i, j] = math.degrees(math.atan(t[i, j]))
    return out


@njit(cache=True)
def edt_capped_sq(mask, r):
    """Squared Euclidean distance (cells^2, uint16) to the nearest True cell of ``mask``, exact
    where the distance is at most ``r`` cells (r <= 254), above r^2 (at most (r + 1)^2) elsewhere:
    enough for a clearance that is only compared with, or capped at, less than ``r`` cells. Column
    distances by two sweeps, then a brute-force row pass over +-r columns (vectorisable; no
    divisions)."""
    n0, n1 = mask.shape
    far = float(r + 1)
    g = np.empty((n0, n1))
    for j in range(n1):
        g[0, j] = 0.0 if mask[0, j] else far
    for i in range(1, n0):
        for j in range(n1):
            d1 = g[i - 1, j] + 1.0
            g[i, j] = 0.0 if mask[i, j] else (d1 if d1 < far else far)
    for i in range(n0 - 2, -1, -1):
        for j in range(n1):
            d1 = g[i + 1, j] + 1.0
            if d1 < g[i, j]:
                g[i, j] = d1
    far2 = far * far
    row2 = np.full(n1 + 2 * r, far2)     # squared column distances of the row, padded by r
    best = np.empty(n1)
    out = np.empty((n0, n1), dtype=np.uint16)
    for i in range(n0):
        for j in range(n1):
            row2[r + j] = g[i, j] * g[i, j]
            best[j] = far2
        for o in range(2 * r + 1):
            d2 = float((o - r) * (o - r))
            sh = row2[o:o + n1]          # shifted view: indices from 0, so the loop vectorises
            for j in range(n1):
                v = sh[j] + d2
                best[j] = v if v < best[j] else best[j]
        for j in range(n1):
            out[i, j] = np.uint16(best[j])
    return out


@njit(cache=True)
def edt_capped(mask, r):
    """Euclidean distance (cells) to the nearest True cell of ``mask``, exact where it is at most
    ``r`` cells, above ``r`` (at most ``r + 1``) elsewhere: enough for a clearance that is only
    compared with, or capped at, less than ``r`` cells."""
    q = edt_capped_sq(mask, r)
    n0, n1 = q.shape
    out = np.empty((n0, n1))
    for i in range(n0):
        for j in range(n1):
            out[i, j] = math.sqrt(float(q[i, j]))
    return out
