"""Numba kernels for centimetre-scale regolith detail (private; see :mod:`farside.terrain.detail`).

Every random number here is a counter-based hash of integers: SplitMix64's finaliser (Steele, Lea
& Flood 2014) applied to a key built from the seed, a tag, and world lattice/cell indices. Nothing
depends on the order in which patches, rows or cells are visited, so a vertex gets the same value
in every patch that contains it.

Grid convention (the patch is aligned to a world lattice of pitch ``res``): vertex ``(row, col)``
of a grid whose north-west corner is ``(gx0 * res, gy0 * res)`` lies at
``x = (gx0 + col + 0.5) * res``, ``y = (gy0 - row - 0.5) * res``, computed from the integer global
index so that the float value of ``x`` is the same in every patch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside._core.hashing import mix64
from farside.terrain.surface import smooth_height, surface_height

_G = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0

# 256 unit gradient directions for the lattice noise
_GRAD_ANG = (np.arange(256) + 0.5) * (2.0 * np.pi / 256.0)
GRAD_X = np.cos(_GRAD_ANG)
GRAD_Y = np.sin(_GRAD_ANG)


@njit(cache=True, inline="always")
def key3(seed, a, b, c):
    """A uint64 key from a uint64 seed and three int64 integers (injective enough for lattices)."""
    h = mix64(seed ^ (np.uint64(a) * _G))
    h = mix64(h ^ (np.uint64(b) * _P2))
    return mix64(h ^ (np.uint64(c) * _P3))


@njit(cache=True, inline="always")
def uniform(key, counter):
    """The ``counter``-th uniform deviate in [0, 1) (53 bits) of the stream ``key``."""
    return float(mix64(key + np.uint64(counter + 1) * _G) >> _S11) * _INV53


@njit(cache=True, inline="always")
def _corner(okey, i, j):
    return mix64(okey ^ (np.uint64(i) * _G) ^ (np.uint64(j) * _P2)) >> np.uint64(56)


@njit(cache=True, inline="always")
def grad_noise(u, v, okey, gxt, gyt):
    """2-D gradient (Perlin-type) noise with unit gradients at integer lattice points, quintic fade;
    zero at lattice points."""
    fi = math.floor(u)
    fj = math.floor(v)
    i = np.int64(fi)
    j = np.int64(fj)
    a = u - fi
    b = v - fj
    h00 = _corner(okey, i, j)
    h10 = _corner(okey, i + 1, j)
    h01 = _corner(okey, i, j + 1)
    h11 = _corner(okey, i + 1, j + 1)
    n00 = gxt[h00] * a + gyt[h00] * b
    n10 = gxt[h10] * (a - 1.0) + gyt[h10] * b
    n01 = gxt[h01] * a + gyt[h01] * (b - 1.0)
    n11 = gxt[h11] * (a - 1.0) + gyt[h11] * (b - 1.0)
    sa = a * a * a * (a * (a * 6.0 - 15.0) + 10.0)
    sb = b * b * b * (b * (b * 6.0 - 15.0) + 10.0)
    n0 = n00 + sa * (n10 - n00)
    n1 = n01 + sa * (n11 - n01)
    return n0 + sb * (n1 - n0)


@njit(cache=True)
def unit_structure(rhos, seed, npts):
    """Mean squared difference of unit gradient noise at lags ``rhos`` (lattice units), x and y
    lags pooled, over ``npts`` hash-placed points: the noise's structure function."""
    okey = mix64(seed)
    out = np.empty(rhos.shape[0])
    for k in range(rhos.shape[0]):
        rho = rhos[k]
        acc = 0.0
        for p in range(npts):
            u = uniform(okey, 2 * p) * 4096.0
            v = uniform(okey, 2 * p + 1) * 4096.0
            n0 = grad_noise(u, v, okey, GRAD_X, GRAD_Y)
            dx = grad_noise(u + rho, v, okey, GRAD_X, GRAD_Y) - n0
            dy = grad_noise(u, v + rho, okey, GRAD_X, GRAD_Y) - n0
            acc += dx * dx + dy * dy
        out[k] = acc / (2.0 * npts)
    return out


@njit(cache=True, parallel=True)
def ground_kernel(z, gx0, gy0, res, dem, dx0, dy0, dres, trk, tx0, ty0, tres, has_trk,
                  lam, amp, cth, sth, offu, offv, okeys):
    """Fill ``z`` (float64, rows x cols) with the base DEM's smooth (Catmull-Rom) height + tracks
    (mesh rule) + fractal noise.

    Octave k: gradient noise on a lattice of pitch ``lam[k]`` rotated by (cth[k], sth[k]) and
    shifted by (offu[k], offv[k]) lattice units, amplitude ``amp[k]`` metres per unit noise."""
    nr, nc = z.shape
    tnr = trk.shape[0]
    tnc = trk.shape[1]
    nk = lam.shape[0]
    for r in prange(nr):
        y = (np.float64(gy0 - r) - 0.5) * res
        for c in range(nc):
            x = (np.float64(gx0 + c) + 0.5) * res
            h = smooth_height(dem, dx0, dy0, dres, x, y)
            if has_trk:
                tu = (x - tx0) / tres - 0.5
                tv = (ty0 - y) / tres - 0.5
                if tu >= 0.0 and tv >= 0.0 and tu <= tnc - 1.0 and tv <= tnr - 1.0:
                    h += surface_height(trk, tx0, ty0, tres, x, y)
            f = 0.0
            for k in range(nk):
                u = (cth[k] * x - sth[k] * y) / lam[k] + offu[k]
                v = (sth[k] * x + cth[k] * y) / lam[k] + offv[k]
                f += amp[k] * grad_noise(u, v, okeys[k], GRAD_X, GRAD_Y)
            z[r, c] = h + f


@njit(cache=True)
def _poisson(lam, u):
    p = math.exp(-lam)
    cdf = p
    n = 0
    while u > cdf and n < 1000:
        n += 1
        p *= lam / n
        cdf += p
    return n


@njit(cache=True)
def cell_population(seed, tag, xmin, xmax, ymin, ymax, bin_id, cell_m, lam, logd, ncum, dmin, dmax,
                    reach, fill, ox, oy, od, ou):
    """Objects (craters, pebbles) placed per world cell: bin b has square cells of ``cell_m[b]``
    metres keyed by (bin_id[b], cell ix, cell iy), a Poisson(``lam[b]``) count per cell, uniform
    positions in the cell and diameters by inverse CDF of the cumulative density ``ncum[b]``
    (decreasing) tabulated at ``log(D) = logd[b]``. Keeps diameters in [dmin, dmax) whose disk of
    radius ``reach * D`` touches the rectangle. Returns the count; with ``fill`` writes x, y, D and
    a fourth uniform ``u`` per object into the output arrays, in the canonical order (bin, iy, ix,
    index in cell), which is the same for every rectangle."""
    n = 0
    nt = logd.shape[1]
    for b in range(bin_id.shape[0]):
        cm = cell_m[b]
        dhi = math.exp(logd[b, nt - 1])
        marg = reach * dhi
        ix0 = np.int64(math.floor((xmin - marg) / cm))
        ix1 = np.int64(math.floor((xmax + marg) / cm))
        iy0 = np.int64(math.floor((ymin - marg) / cm))
        iy1 = np.int64(math.floor((ymax + marg) / cm))
        bseed = mix64(seed ^ (np.uint64(tag) * _P3))
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                key = key3(bseed, bin_id[b], ix, iy)
                k = _poisson(lam[b], uniform(key, 0))
                for m in range(k):
                    x = (ix + uniform(key, 1 + 4 * m)) * cm
                    y = (iy + uniform(key, 2 + 4 * m)) * cm
                    ud = uniform(key, 3 + 4 * m)
                    uu = uniform(key, 4 + 4 * m)
                    target = ncum[b, 0] - ud * (ncum[b, 0] - ncum[b, nt - 1])
                    q = 0
                    while q < nt - 2 and ncum[b, q + 1] > target:
                        q += 1
                    den = ncum[b, q] - ncum[b, q + 1]
                    w = (ncum[b, q] - target) / den if den > 0 else 0.0
                    d = math.exp(logd[b, q] + w * (logd[b, q + 1] - logd[b, q]))
                    if d < dmin or d >= dmax:
                        continue
                    rr = reach * d
                    px = min(max(x, xmin), xmax)
                    py = min(max(y, ymin), ymax)
                    if (x - px) ** 2 + (y - py) ** 2 > rr * rr:
                        continue
                    if fill:
                        ox[n] = x
                        oy[n] = y
                        od[n] = d
                        ou[n] = uu
                    n += 1
    return n


@njit(cache=True)
def stamp_craters_additive(z, gx0, gy0, res, cx, cy, radius, tau_i, tau_w, table, smax):
    """Add crater profiles (``table[k]`` in units of R, sampled uniformly in s = (r/R)^2 on
    [0, smax]) to ``z`` in crater order; vertex positions from global indices."""
    nr, nc = z.shape
    ns = table.shape[1]
    xw = (np.float64(gx0) + 0.5) * res     # x of column 0
    yn = (np.float64(gy0) - 0.5) * res     # y of row 0
    for k in range(cx.shape[0]):
        R = radius[k]
        ext = math.sqrt(smax) * R
        c0 = max(int(math.ceil((cx[k] - ext - xw) / res)), 0)
        c1 = min(int(math.floor((cx[k] + ext - xw) / res)), nc - 1)
        r0 = max(int(math.ceil((yn - (cy[k] + ext)) / res)), 0)
        r1 = min(int(math.floor((yn - (cy[k] - ext)) / res)), nr - 1)
        ti = tau_i[k]
        tw = tau_w[k]
        inv = 1.0 / (R * R)
        for r in range(r0, r1 + 1):
            y = (np.float64(gy0 - r) - 0.5) * res
            dy2 = (y - cy[k]) ** 2
            for c in range(c0, c1 + 1):
                x = (np.float64(gx0 + c) + 0.5) * res
                s = ((x - cx[k]) ** 2 + dy2) * inv
                if s >= smax:
                    continue
                f = s / smax * (ns - 1)
                q = min(int(f), ns - 2)
                a = f - q
                p0 = table[ti, q] + a * (table[ti, q + 1] - table[ti, q])
                p1 = table[ti + 1, q] + a * (table[ti + 1, q + 1] - table[ti + 1, q])
                z[r, c] += R * (p0 + tw * (p1 - p0))


_MAXP = 16     # planes per rock: up to 12 side facets + 2 top facets


@njit(cache=True)
def polygon_reach(ex, ey, Rs, nside, off):
    """Largest distance from the origin of the polygon ``x ex + y ey <= Rs + off`` (its vertices,
    intersections of two edge lines that satisfy every half-plane)."""
    best = 0.0
    for p in range(nside):
        for q in range(p + 1, nside):
            det = ex[p] * ey[q] - ey[p] * ex[q]
            if abs(det) < 1e-12:
                continue
            a = Rs[p] + off
            b = Rs[q] + off
            x = (a * ey[q] - b * ey[p]) / det
            y = (b * ex[p] - a * ex[q]) / det
            ok = True
            for m in range(nside):
                if x * ex[m] + y * ey[m] > Rs[m] + off + 1e-9 * (abs(Rs[m]) + abs(off) + 1e-300):
                    ok = False
                    break
            if ok:
                best = max(best, math.sqrt(x * x + y * y))
    return best


@njit(cache=True)
def _shape_max(A, Bx, By, npl, ex, ey, Rs, nside, lim, x0, y0, half, n):
    best = -1e300
    bx = x0
    by = y0
    for i in range(n):
        for j in range(n):
            x = x0 - half + 2.0 * half * i / (n - 1)
            y = y0 - half + 2.0 * half * j / (n - 1)
            inside = True
            for p in range(nside):
                if x * ex[p] + y * ey[p] > Rs[p]:
                    inside = False
                    break
            if not inside:
                continue
            zz = 1e300
            for p in range(npl):
                zz = min(zz, A[p] + Bx[p] * x + By[p] * y)
            if zz > best:
                best = zz
                bx = x
                by = y
    return best, bx, by


@njit(cache=True)
def build_rock(key, R, H, cliff):
    """Planes ``z = A + Bx x' + By y'`` (x', y' from the rock centre) of one angular rock and its
    footprint half-planes ``x' ex + y' ey <= Rs``, and the offset (bx, by) of its highest point
    from the centre: 5-9 side facets (azimuths jittered, face
    distances 0.85-1.15 R, dips 40-70 deg) and two gently tilted top facets (0-15 deg). The
    footprint polygon is scaled to the area of a disk of radius R, the planes to a highest point of
    H above the ground, with vertical flanks of ``cliff * H`` at the footprint edge. The highest
    point is found on a grid of 33 x 33 points and two zooms (spacing ``rmax / 1024``): the true
    top may exceed H by ~0.3 % (kept so: the regolith patches' pebbles, and every product built
    from them, stay as they were), and (bx, by) is a point where the top is exactly H."""
    nside = 5 + int(uniform(key, 0) * 5.0)
    A = np.zeros(_MAXP)
    Bx = np.zeros(_MAXP)
    By = np.zeros(_MAXP)
    ex = np.zeros(_MAXP)
    ey = np.zeros(_MAXP)
    Rs = np.zeros(_MAXP)
    phi0 = uniform(key, 1) * 2.0 * math.pi
    for p in range(nside):
        phi = phi0 + (p + 0.6 * (uniform(key, 2 + 3 * p) - 0.5)) * 2.0 * math.pi / nside
        ex[p] = math.cos(phi)
        ey[p] = math.sin(phi)
        Rs[p] = R * (0.85 + 0.3 * uniform(key, 3 + 3 * p))
    # polygon area: r(phi) = min over facing sides of Rs / cos(phi - phi_p)
    na = 256
    area = 0.0
    for q in range(na):
        ph = (q + 0.5) * 2.0 * math.pi / na
        cx = math.cos(ph)
        cy = math.sin(ph)
        rr = 1e300
        for p in range(nside):
            cp = cx * ex[p] + cy * ey[p]
            if cp > 1e-9:
                rr = min(rr, Rs[p] / cp)
        area += 0.5 * rr * rr * 2.0 * math.pi / na
    sc = R / math.sqrt(area / math.pi)
    rmax = 0.0
    for p in range(nside):
        Rs[p] *= sc
    for q in range(na):
        ph = (q + 0.5) * 2.0 * math.pi / na
        rr = 1e300
        for p in range(nside):
            cp = math.cos(ph) * ex[p] + math.sin(ph) * ey[p]
            if cp > 1e-9:
                rr = min(rr, Rs[p] / cp)
        rmax = max(rmax, rr)
    for p in range(nside):
        t = math.tan(math.radians(40.0 + 30.0 * uniform(key, 4 + 3 * p)))
        A[p] = t * Rs[p]
        Bx[p] = -t * ex[p]
        By[p] = -t * ey[p]
    npl = nside
    base = 2 + 3 * nside
    for p in range(2):
        tb = math.tan(math.radians(15.0 * uniform(key, base + 3 * p)))
        ph = uniform(key, base + 3 * p + 1) * 2.0 * math.pi
        off = 0.3 * R * (uniform(key, base + 3 * p + 2) - 0.5)
        A[npl] = tb * off          # the level (0.7 of the side pyramid's peak) is added below
        Bx[npl] = -tb * math.cos(ph)
        By[npl] = -tb * math.sin(ph)
        npl += 1
    # set the top facets' level: at 0.7 of the side planes' peak (a truncated pyramid)
    pk, _, _ = _shape_max(A, Bx, By, nside, ex, ey, Rs, nside, 0, 0.0, 0.0, rmax, 41)
    for p in range(nside, npl):
        A[p] += 0.7 * pk
    # highest point: coarse grid, then two zooms around the best point
    best, bx, by = _shape_max(A, Bx, By, npl, ex, ey, Rs, nside, 0, 0.0, 0.0, rmax, 33)
    half = rmax / 16.0
    for _ in range(2):
        best, bx, by = _shape_max(A, Bx, By, npl, ex, ey, Rs, nside, 0, bx, by, half, 17)
        half = half / 8.0
    s = H * (1.0 - cliff) / best
    for p in range(npl):
        A[p] = A[p] * s + cliff * H
        Bx[p] *= s
        By[p] *= s
    return A, Bx, By, npl, ex, ey, Rs, nside, rmax, bx, by


@njit(cache=True)
def keys_from_xy(seed, tag, x, y):
    """Shape keys of objects at (x, y): a hash of the seed, a tag and the coordinates' bits."""
    out = np.empty(x.shape[0], dtype=np.uint64)
    for k in range(x.shape[0]):
        out[k] = key3(seed, tag, np.int64(round(x[k] * 1e6)), np.int64(round(y[k] * 1e6)))
    return out


@njit(cache=True)
def rock_base(zg, gx0, gy0, res, cxs, cys, Rv):
    """Mean of ``zg`` at the vertices nearest to each rock's centre and to the points +-R/2 from
    it along x and y (the rock's seat)."""
    nr, nc = zg.shape
    xw = (np.float64(gx0) + 0.5) * res
    yn = (np.float64(gy0) - 0.5) * res
    out = np.empty(cxs.shape[0])
    for k in range(cxs.shape[0]):
        R = Rv[k]
        acc = 0.0
        for t in range(5):
            px = cxs[k] + (0.5 * R if t == 1 else (-0.5 * R if t == 2 else 0.0))
            py = cys[k] + (0.5 * R if t == 3 else (-0.5 * R if t == 4 else 0.0))
            cc = min(max(int(round((px - xw) / res)), 0), nc - 1)
            rr = min(max(int(round((yn - py) / res)), 0), nr - 1)
            acc += zg[rr, cc]
        out[k] = acc / 5.0
    return out


@njit(cache=True)
def stamp_rocks_kernel(z, gx0, gy0, res, cxs, cys, zcs, Rv, Hv, keys, cliff, fil_h, fil_w):
    """Stamp angular rocks: ``z = max(z, zc + max(shape, fillet))`` with the seat height ``zc``
    (:func:`rock_base`); the fillet is ``fil_h * H`` on the footprint, decaying as
    (1 - d / (fil_w R))^2 over a distance ``fil_w * R`` outside it (``d`` = the largest half-plane
    excess). A max is independent of the order of the rocks."""
    nr, nc = z.shape
    xw = (np.float64(gx0) + 0.5) * res
    yn = (np.float64(gy0) - 0.5) * res
    for k in range(cxs.shape[0]):
        R = Rv[k]
        H = Hv[k]
        A, Bx, By, npl, ex, ey, Rs, nside, rmax, _, _ = build_rock(keys[k], R, H, cliff)
        zc = zcs[k]
        ext = polygon_reach(ex, ey, Rs, nside, fil_w * R)      # the fillet's outer polygon
        c0 = max(int(math.ceil((cxs[k] - ext - xw) / res)), 0)
        c1 = min(int(math.floor((cxs[k] + ext - xw) / res)), nc - 1)
        r0 = max(int(math.ceil((yn - (cys[k] + ext)) / res)), 0)
        r1 = min(int(math.floor((yn - (cys[k] - ext)) / res)), nr - 1)
        fh = fil_h * H
        fw = fil_w * R
        for r in range(r0, r1 + 1):
            yy = (np.float64(gy0 - r) - 0.5) * res - cys[k]
            for c in range(c0, c1 + 1):
                xx = (np.float64(gx0 + c) + 0.5) * res - cxs[k]
                dout = -1e300
                for p in range(nside):
                    dout = max(dout, xx * ex[p] + yy * ey[p] - Rs[p])
                if dout > fw:
                    continue
                if dout <= 0.0:
                    sh = 1e300
                    for p in range(npl):
                        sh = min(sh, A[p] + Bx[p] * xx + By[p] * yy)
                    v = max(sh, fh)
                else:
                    t = 1.0 - dout / fw
                    v = fh * t * t
                zr = zc + v
                z[r, c] = max(z[r, c], zr)


@njit(cache=True, parallel=True)
def albedo_kernel(x, y, fp, out, wsq, lam, amp, cth, sth, offu, offv, okeys):
    """``out[i]`` = the sum of gradient-noise octaves at (x[i], y[i]): the log of a log-normal albedo
    factor field in world coordinates (octave k: lattice pitch ``lam[k]`` rotated and shifted,
    amplitude ``amp[k]`` in log units per unit noise); ``wsq[i]`` = sum of (weight amp[k])^2 there
    (times the unit noise's variance: the log's variance, for the mean correction).

    ``fp[i]`` is the footprint of the sample (metres; 0 = a point): octaves finer than two
    footprints fade out as the relief's octaves do below two patch pixels (weight
    0.5 - 0.5 cos(pi t), t = log2(lam / fp) in [0, 1]; 0 below one footprint), so a pixel that
    covers many cells of an octave sees its mean rather than one aliased sample."""
    nk = lam.shape[0]
    for i in prange(x.shape[0]):
        f = 0.0
        var = 0.0
        for k in range(nk):
            w = 1.0
            if fp[i] > 0.0:
                t = math.log2(lam[k] / fp[i])
                if t <= 0.0:
                    continue
                if t < 1.0:
                    w = 0.5 - 0.5 * math.cos(math.pi * t)
            u = (cth[k] * x[i] - sth[k] * y[i]) / lam[k] + offu[k]
            v = (sth[k] * x[i] + cth[k] * y[i]) / lam[k] + offv[k]
            f += w * amp[k] * grad_noise(u, v, okeys[k], GRAD_X, GRAD_Y)
            var += (w * amp[k]) ** 2
        out[i] = f
        wsq[i] = var
