"""Numba kernels of :mod:`farside.render`: max-mip pyramid, ray casting, sun horizon map, shading.

Grid coordinates used inside: ``u`` = fractional column, ``v`` = fractional row of the height
raster, integer values at pixel centres (the DEM's vertices). The surface is the mesh of two
triangles per cell, split along the diagonal from vertex (v, u) to (v + 1, u + 1):

* region A (``a >= b``, with ``a = u - floor(u)``, ``b = v - floor(v)``): vertices
  (0,0) (0,1) (1,1) in (b, a), i.e. heights ``h00, h01, h11``;
* region B (``a < b``): vertices (0,0) (1,0) (1,1), heights ``h00, h10, h11``.

Benchmarks render the identical triangle mesh in Mitsuba 3.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.render._photometry_kernels import hapke_r_tab


_BIG = 1.0e300
_MAX_STEPS = 200000
#: rays whose path through the height slab spans fewer cells walk level 0 directly (no pyramid)
_DDA_SPAN = 16.0


# --------------------------------------------------------------------------------------------
# max-mip pyramid
# --------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True, error_model="numpy")
def build_cell_max(h):
    """Level 0 of the pyramid: per cell (rows-1, cols-1) the maximum of its four corners."""
    nr, nc = h.shape[0] - 1, h.shape[1] - 1
    out = np.empty((nr, nc), np.float32)
    for i in prange(nr):
        for j in range(nc):
            m = h[i, j]
            if h[i, j + 1] > m:
                m = h[i, j + 1]
            if h[i + 1, j] > m:
                m = h[i + 1, j]
            if h[i + 1, j + 1] > m:
                m = h[i + 1, j + 1]
            out[i, j] = m
    return out


@njit(cache=True, error_model="numpy")
def downsample_max(a):
    nr = (a.shape[0] + 1) // 2
    nc = (a.shape[1] + 1) // 2
    out = np.full((nr, nc), -np.inf, np.float32)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] > out[i // 2, j // 2]:
                out[i // 2, j // 2] = a[i, j]
    return out


def build_pyramid(h: np.ndarray):
    """Packed max-mip pyramid: (flat float32 values, offsets, rows, cols) per level."""
    levels = [build_cell_max(h)]
    while levels[-1].shape[0] > 1 or levels[-1].shape[1] > 1:
        levels.append(downsample_max(levels[-1]))
    offs = np.zeros(len(levels), np.int64)
    rows = np.array([lv.shape[0] for lv in levels], np.int64)
    cols = np.array([lv.shape[1] for lv in levels], np.int64)
    total = 0
    for k, lv in enumerate(levels):
        offs[k] = total
        total += lv.size
    flat = np.empty(total, np.float32)
    for k, lv in enumerate(levels):
        flat[offs[k]:offs[k] + lv.size] = lv.ravel()
    return flat, offs, rows, cols


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _cell(p, d, s):
    """Index of the size-``s`` cell holding coordinate ``p``, nudged 1e-9 cells along ``d`` so a
    point on a boundary belongs to the cell the ray enters."""
    if d > 0.0:
        p += 1e-9
    elif d < 0.0:
        p -= 1e-9
    return int(math.floor(p / s))


@njit(cache=True, error_model="numpy")
def _exit_t(p, d, cell, s):
    """Ray parameter at which coordinate p + d t leaves cell [cell*s, (cell+1)*s)."""
    if d > 0.0:
        return ((cell + 1) * s - p) / d
    elif d < 0.0:
        return (cell * s - p) / d
    return _BIG


@njit(cache=True, error_model="numpy")
def _plane_z(h, r, c, a, b):
    h00 = h[r, c]
    h11 = h[r + 1, c + 1]
    if a >= b:
        h01 = h[r, c + 1]
        return h00 + a * (h01 - h00) + b * (h11 - h01)
    h10 = h[r + 1, c]
    return h00 + b * (h10 - h00) + a * (h11 - h10)


@njit(cache=True, error_model="numpy")
def _seg_hit(h00, h01, h10, h11, z, dz, ts0, ta, tb, ts1, ua, ub):
    """First t in [ts0, ts1] where the ray meets the plane of one triangle of a cell, the ray's
    cell coordinates (a, b) being (ta, tb) at ts0 and (ua, ub) at ts1 (a segment that does not
    cross the diagonal; its triangle is chosen at the midpoint); -1 if none. Written without
    data-dependent branches (selects only): mispredicted branches, not arithmetic, bound the
    ray caster's speed."""
    ra = ta + ua >= tb + ub
    za = h00 + ta * (h01 - h00) + tb * (h11 - h01)
    zb = h00 + ua * (h01 - h00) + ub * (h11 - h01)
    za2 = h00 + tb * (h10 - h00) + ta * (h11 - h10)
    zb2 = h00 + ub * (h10 - h00) + ua * (h11 - h10)
    f0 = z + dz * ts0 - (za if ra else za2)
    f1 = z + dz * ts1 - (zb if ra else zb2)
    tx = ts0 + (ts1 - ts0) * f0 / (f0 - f1)
    return ts0 if f0 <= 0.0 else (tx if f1 <= 0.0 else -1.0)


@njit(cache=True, error_model="numpy")
def _cell_hit(h, r, c, u, v, z, du, dv, dz, t0, t1):
    """First t in [t0, t1] where the ray meets the two triangles of cell (r, c); -1 if none.
    The path is split where it crosses the diagonal (``tm = t1`` when it does not)."""
    a0 = u + du * t0 - c
    b0 = v + dv * t0 - r
    a1 = u + du * t1 - c
    b1 = v + dv * t1 - r
    h00 = h[r, c]
    h01 = h[r, c + 1]
    h10 = h[r + 1, c]
    h11 = h[r + 1, c + 1]
    g0 = a0 - b0
    g1 = a1 - b1
    cross = (g0 > 0.0 and g1 < 0.0) or (g0 < 0.0 and g1 > 0.0)
    sm = g0 / (g0 - g1)
    tm = t0 + (t1 - t0) * sm if cross else t1
    am = u + du * tm - c
    bm = v + dv * tm - r
    th1 = _seg_hit(h00, h01, h10, h11, z, dz, t0, a0, b0, tm, am, bm)
    th2 = _seg_hit(h00, h01, h10, h11, z, dz, tm, am, bm, t1, a1, b1)
    return th1 if th1 >= 0.0 else th2


@njit(cache=True, inline="always", error_model="numpy")
def _cast_dda(h, u, v, z, du, dv, dz, idu, idv, t0, t1):
    """First hit of the ray on [t0, t1] (inside the raster box) by walking the level-0 cells it
    crosses in order (a 2-D DDA); -1.0 if none. For short paths through a thin height slab this
    is cheaper than the pyramid's descent."""
    ncl = h.shape[1] - 1
    nrl = h.shape[0] - 1
    cu = int(math.floor(u + du * t0 + (1e-9 if du > 0.0 else (-1e-9 if du < 0.0 else 0.0))))
    cv = int(math.floor(v + dv * t0 + (1e-9 if dv > 0.0 else (-1e-9 if dv < 0.0 else 0.0))))
    cu = min(max(cu, 0), ncl - 1)
    cv = min(max(cv, 0), nrl - 1)
    su = 1 if du > 0.0 else -1
    sv = 1 if dv > 0.0 else -1
    bu = 1 if du > 0.0 else 0
    bv = 1 if dv > 0.0 else 0
    t = t0
    for _ in range(_MAX_STEPS):
        tu = (cu + bu - u) * idu if du != 0.0 else np.inf
        tv = (cv + bv - v) * idv if dv != 0.0 else np.inf
        step_u = tu < tv
        te = tu if step_u else tv
        if te > t1:
            te = t1
        if te < t:
            te = t
        th = _cell_hit(h, cv, cu, u, v, z, du, dv, dz, t, te)
        if th >= 0.0 or te >= t1:
            return th
        t = te
        if step_u:
            cu += su
            if cu < 0 or cu >= ncl:
                return -1.0
        else:
            cv += sv
            if cv < 0 or cv >= nrl:
                return -1.0
    return -1.0


@njit(cache=True, inline="always", error_model="numpy")
def _grid_dir(du, dv):
    """A ray's grid direction for a cell walk: components below 1e-12 of the larger zeroed, their
    reciprocals (inf for zero: that axis never bounds a cell) and the larger magnitude.
    Returns (du, dv, idu, idv, dmax)."""
    dmax = max(abs(du), abs(dv))
    if abs(du) < 1e-12 * dmax:
        du = 0.0
    if abs(dv) < 1e-12 * dmax:
        dv = 0.0
    idu = 1.0 / du if du != 0.0 else np.inf
    idv = 1.0 / dv if dv != 0.0 else np.inf
    return du, dv, idu, idv, dmax


@njit(cache=True, inline="always", error_model="numpy")
def _clip_ray(nr, nc, zmin, zmax, u, v, z, du, dv, dz, tmax):
    """Clip a ray (grid coords u, v; z metres; direction per metre of path) to the raster box
    [0, nc-1] x [0, nr-1] and the height slab [zmin, zmax]. Returns (t0, t1, du, dv, idu, idv,
    dmax) with tiny direction components zeroed and their reciprocals (inf for zero);
    t0 > t1 when the ray misses the box or slab."""
    du, dv, idu, idv, dmax = _grid_dir(du, dv)
    t0 = 0.0
    t1 = tmax
    if du != 0.0:
        ta = (0.0 - u) * idu
        tb = (nc - 1.0 - u) * idu
        t0 = max(t0, min(ta, tb))
        t1 = min(t1, max(ta, tb))
    elif u < 0.0 or u > nc - 1.0:
        t1 = -1.0
    if dv != 0.0:
        ta = (0.0 - v) * idv
        tb = (nr - 1.0 - v) * idv
        t0 = max(t0, min(ta, tb))
        t1 = min(t1, max(ta, tb))
    elif v < 0.0 or v > nr - 1.0:
        t1 = -1.0
    if dz < 0.0:
        idz = 1.0 / dz
        t0 = max(t0, (zmax - z) * idz)
        t1 = min(t1, (zmin - 1e-3 - z) * idz)   # below the lowest point the ray has hit
    elif dz > 0.0:
        t1 = min(t1, (zmax - z) / dz) if z <= zmax else -1.0
    elif z > zmax:
        t1 = -1.0
    return t0, t1, du, dv, idu, idv, dmax


@njit(cache=True, error_model="numpy")
def cast_ray(h, mip, offs, mrows, mcols, zmin, zmax, u, v, z, du, dv, dz, tmax):
    """Ray (grid coords u, v; z metres; direction per metre of path) against the heightfield.

    Returns the ray parameter of the first hit, or -1.0 for sky.
    """
    t0, t1, du, dv, idu, idv, dmax = _clip_ray(h.shape[0], h.shape[1], zmin, zmax, u, v, z, du, dv, dz, tmax)
    if t0 > t1:
        return -1.0
    return _traverse(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1)


@njit(cache=True, inline="always", error_model="numpy")
def _traverse(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1):
    """First hit of a clipped ray (see :func:`_clip_ray`) on [t0, t1]: a level-0 walk for short
    paths, else the max-mip pyramid. Returns the ray parameter or -1.0 for sky."""
    span = dmax * (t1 - t0) + 2.0
    if span < _DDA_SPAN:
        return _cast_dda(h, u, v, z, du, dv, dz, idu, idv, t0, t1)
    return _cast_mip(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1, span)


@njit(cache=True, error_model="numpy")
def _cast_mip(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1, span):
    """The max-mip pyramid traversal of :func:`_traverse` (long paths through the slab)."""
    nlev = offs.shape[0]
    eps = 1e-7 / dmax
    level = 0
    while level < nlev - 1 and (1 << level) < span:
        level += 1
    nu = 1e-9 if du > 0.0 else (-1e-9 if du < 0.0 else 0.0)
    nv = 1e-9 if dv > 0.0 else (-1e-9 if dv < 0.0 else 0.0)
    t = t0
    cu = 0
    cv = 0
    locate = True
    for _ in range(_MAX_STEPS):
        if t > t1:
            return -1.0
        s = float(1 << level)
        ncl = mcols[level]
        if locate:
            inv_s = 1.0 / s
            cu = int(math.floor((u + du * t + nu) * inv_s))
            cv = int(math.floor((v + dv * t + nv) * inv_s))
            nrl = mrows[level]
            if cu < 0:
                cu = 0
            elif cu >= ncl:
                cu = ncl - 1
            if cv < 0:
                cv = 0
            elif cv >= nrl:
                cv = nrl - 1
            locate = False
        if du > 0.0:
            tu = ((cu + 1) * s - u) * idu
        elif du < 0.0:
            tu = (cu * s - u) * idu
        else:
            tu = np.inf
        if dv > 0.0:
            tv = ((cv + 1) * s - v) * idv
        elif dv < 0.0:
            tv = (cv * s - v) * idv
        else:
            tv = np.inf
        step_u = tu < tv
        te = tu if step_u else tv
        if te > t1:
            te = t1
        zb = z + dz * te
        if dz > 0.0:
            zb = z + dz * t
        if zb <= mip[offs[level] + cv * ncl + cu]:
            if level > 0:
                level -= 1
                locate = True
                continue
            th = _cell_hit(h, cv, cu, u, v, z, du, dv, dz, t, te)
            if th >= 0.0:
                return th
        # the ray passes above this cell: step to the neighbour, climbing while it leaves parents
        if te >= t1:
            return -1.0
        t = te if te > t else t + eps
        pcu = cu
        pcv = cv
        if step_u:
            cu += 1 if du > 0.0 else -1
        else:
            cv += 1 if dv > 0.0 else -1
        if cu < 0 or cv < 0 or cu >= ncl or cv >= mrows[level]:
            return -1.0
        while level < nlev - 1 and ((cu >> 1) != (pcu >> 1) or (cv >> 1) != (pcv >> 1)):
            level += 1
            cu >>= 1
            cv >>= 1
            pcu >>= 1
            pcv >>= 1
    return -1.0


# --------------------------------------------------------------------------------------------
# camera rays
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, parallel=True, error_model="numpy")
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


@njit(cache=True, inline="always", error_model="numpy")
def _tiles_done(done, tsh, u, v, nr, nc):
    """True when the margin tiles (2**tsh vertices wide) of all corners of the hit cell are filled."""
    c = min(max(int(math.floor(u)), 0), nc - 2)
    r = min(max(int(math.floor(v)), 0), nr - 2)
    r0 = r >> tsh
    r1 = (r + 1) >> tsh
    c0 = c >> tsh
    c1 = (c + 1) >> tsh
    return done[r0, c0] and done[r0, c1] and done[r1, c0] and done[r1, c1]


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


@njit(cache=True, parallel=True, error_model="numpy")
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


# rows of render_pass's per-tile ray buffer
_GU, _GV, _OZ, _DU, _DV, _DZ, _IU, _IV, _DM, _T0, _T1, _DX, _DY, _TH, _TM = range(15)


@njit(cache=True, parallel=True, error_model="numpy")
def render_pass(h, mip, offs, mrows, mcols, zmin, zmax, x0, y0, res,
                width, height, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, utab, tmax,
                sun, margin, done, tile, shadow_mode, sun_radius, model, pp, full, smooth,
                bmin, bmax, bsize, ptile, pre, pre_t, lim_on, lim_t, lim_src, lim_rects, ball,
                t_out, u_out, v_out, pending, rad, inc, emi, pha, lit, nrm, pts):
    """Cast and shade every pixel, in ``ptile`` x ``ptile`` pixel tiles. Each tile's rays start
    from the height bounds of the terrain under the tile's frustum (block min/max ``bmin``,
    ``bmax`` over ``bsize`` x ``bsize`` vertices), a much thinner slab than the frame's
    [zmin, zmax]. Pixels whose sun-margin tiles (``tile`` vertices wide, a power of 2) are not
    computed yet are marked in ``pending`` (which must come zeroed), with their hit u, v in
    ``u_out``, ``v_out``, for :func:`shade_pending`; returns their number.

    With ``pre`` the hits come from ``pre_t`` (ranges from :func:`raster_hits`, NaN for sky)
    instead of the traversal.

    With ``lim_on`` (a backdrop pass, see ``render(backdrop=...)``) each pixel's ray is cut short
    where no hit of this scene can replace the composite so far: ``lim_t`` holds the composite's
    range (NaN for sky: the whole ray is cast) and ``lim_src`` the index of the scene that gave it,
    whose mesh rectangle ``lim_rects[k]`` (x min, x max, y min, y max, site ENU) holds the hit. The
    ray then stops where it enters that rectangle: from there to the hit it stays inside it
    (convex), where a backdrop hit is never taken. A camera inside the rectangle casts nothing
    (the pixel comes out as sky here).

    ``ball`` = (cx, cy, cz, r): a ball that holds every vertex (so every triangle) of the mesh,
    e.g. about the Moon's centre for a backdrop with the Moon's curvature (:func:`bounding_ball`).
    A ray that misses it is sky at once, and no ray is cast past where it leaves the ball: grazing
    rays toward the curved horizon stop there instead of walking the slab to the DEM's edge.

    A tile is processed in three passes over its pixels (rays + clipping, traversal, shading)
    so that each pass is a short loop of independent iterations: the traversal's
    data-dependent branches then do not stall the arithmetic of the other passes."""
    nr = h.shape[0]
    nc = h.shape[1]
    ntr = (height + ptile - 1) // ptile
    ntc = (width + ptile - 1) // ptile
    rc = _ray_consts(fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot)
    ires = 1.0 / res
    tsh = 0
    while (1 << tsh) < tile:
        tsh += 1
    ball_on = ball[3] < np.inf
    npend = np.zeros(ntr, np.int64)
    for ti in prange(ntr):
        buf = np.empty((15, ptile * ptile))
        for tj in range(ntc):
            i0 = ti * ptile
            j0 = tj * ptile
            i1 = min(i0 + ptile, height) - 1
            j1 = min(j0 + ptile, width) - 1
            # rays and how far each needs casting (tm <= 0: not at all)
            k = 0
            ncast = 0
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                    tm = tmax
                    if lim_on:
                        tp = lim_t[i, j]
                        if tp == tp:
                            te = _rect_entry(ox, oy, dx, dy, lim_rects, lim_src[i, j])
                            # 1 m past the entry (rounding at the edge); never past the hit
                            tm = min(tm, tp, te + 1.0) if te > 0.0 else (-1.0 if te == 0.0 else min(tm, tp))
                    if tm > 0.0 and ball_on:
                        tm = min(tm, _ball_exit(ox, oy, oz, dx, dy, dz, ball))
                    if tm > 0.0:
                        ncast += 1
                    buf[_GU, k] = (ox - x0) * ires - 0.5
                    buf[_GV, k] = (y0 - oy) * ires - 0.5
                    buf[_OZ, k] = oz
                    buf[_DZ, k] = dz
                    buf[_DX, k] = dx
                    buf[_DY, k] = dy
                    buf[_TM, k] = tm
                    k += 1
            # the tile's height bounds only when a ray is cast (for grazing tiles over a wide
            # backdrop they scan thousands of blocks)
            zlo, zhi = zmin, zmax
            if not pre and ncast > 0:
                zlo, zhi = _tile_bounds(i0, i1, j0, j1, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot,
                                        x0, y0, res, nr, nc, zmin, zmax, bmin, bmax, bsize)
            for q in range(k):
                tm = buf[_TM, q]
                if pre or tm <= 0.0:
                    t0, t1, du, dv, idu, idv, dmax = 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0
                else:
                    t0, t1, du, dv, idu, idv, dmax = _clip_ray(nr, nc, zlo, zhi, buf[_GU, q], buf[_GV, q], buf[_OZ, q],
                                                               buf[_DX, q] * ires, -buf[_DY, q] * ires, buf[_DZ, q], tm)
                buf[_DU, q] = du
                buf[_DV, q] = dv
                buf[_IU, q] = idu
                buf[_IV, q] = idv
                buf[_DM, q] = dmax
                buf[_T0, q] = t0
                buf[_T1, q] = t1
            tw = j1 - j0 + 1
            for q in range(k):
                t0 = buf[_T0, q]
                t1 = buf[_T1, q]
                th = -1.0
                if pre:
                    tp = pre_t[i0 + q // tw, j0 + q % tw]
                    th = tp if tp >= 0.0 else -1.0      # NaN (sky) -> -1
                elif t0 <= t1:
                    th = _traverse(h, mip, offs, mrows, mcols, buf[_GU, q], buf[_GV, q], buf[_OZ, q], buf[_DU, q],
                                   buf[_DV, q], buf[_DZ, q], buf[_IU, q], buf[_IV, q], buf[_DM, q], t0, t1)
                buf[_TH, q] = th
            k = 0
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    t = buf[_TH, k]
                    dx = buf[_DX, k]
                    dy = buf[_DY, k]
                    dz = buf[_DZ, k]
                    u = buf[_GU, k] + dx * ires * t
                    v = buf[_GV, k] - dy * ires * t
                    k += 1
                    if t < 0.0:
                        t_out[i, j] = np.nan
                        _sky_px(i, j, full, rad, inc, emi, pha, lit, nrm, pts)
                        continue
                    t_out[i, j] = t
                    if shadow_mode > 0 and not _tiles_done(done, tsh, u, v, nr, nc):
                        pending[i, j] = 1
                        u_out[i, j] = u
                        v_out[i, j] = v
                        npend[ti] += 1
                        continue
                    _shade_px(h, x0, y0, res, i, j, u, v, dx, dy, dz, sun, margin, shadow_mode, sun_radius, model,
                              pp, full, smooth, rad, inc, emi, pha, lit, nrm, pts)
    return npend.sum()


# --------------------------------------------------------------------------------------------
# rasterised primary hits (near field: DEM triangles larger than a pixel)
# --------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True, error_model="numpy")
def raster_hits(h, x0, y0, res, r0, r1, c0, c1, width, height, fx, fy, cx, cy, pos, rot, t_out):
    """First hit of every pixel's ray on the triangles of DEM vertices rows r0..r1, cols c0..c1,
    by z-buffered rasterisation: each triangle is projected, the pixel centres inside it get the
    exact ray-plane intersection, the nearest wins. Writes the range (m along the unit ray; NaN
    for sky) into ``t_out``; returns False, having written nothing, when a vertex is not in
    front of the camera (the caller then ray-casts).

    Same mesh and same pixel rays as the ray caster (perspective, no lens distortion), so the
    same hits up to rounding; it pays when the triangles cover many pixels each (low altitude),
    where the per-pixel cost of walking the grid dominates the ray caster."""
    rc = _ray_consts(fx, fy, cx, cy, 0.0, 0.0, False, 0.0, pos, rot)
    nvr = r1 - r0 + 1
    nvc = c1 - c0 + 1
    pj = np.empty((nvr, nvc))
    pi = np.empty((nvr, nvc))
    bad = np.zeros(nvr, np.int64)
    for a in prange(nvr):
        r = r0 + a
        wy = y0 - (r + 0.5) * res - pos[1]
        for b in range(nvc):
            c = c0 + b
            wx = x0 + (c + 0.5) * res - pos[0]
            wz = h[r, c] - pos[2]
            xc = rot[0, 0] * wx + rot[1, 0] * wy + rot[2, 0] * wz
            yc = rot[0, 1] * wx + rot[1, 1] * wy + rot[2, 1] * wz
            zc = rot[0, 2] * wx + rot[1, 2] * wy + rot[2, 2] * wz
            if zc <= 1e-6:
                bad[a] = 1
                zc = 1e-6
            pj[a, b] = cx + fx * xc / zc
            pi[a, b] = cy + fy * yc / zc
    if bad.sum() > 0:
        return False
    # projected row extent of each row of cells, to skip cell rows outside a band
    rlo = np.empty(nvr - 1)
    rhi = np.empty(nvr - 1)
    for a in prange(nvr - 1):
        lo = 1e300
        hi = -1e300
        for b in range(nvc):
            lo = min(lo, pi[a, b], pi[a + 1, b])
            hi = max(hi, pi[a, b], pi[a + 1, b])
        rlo[a] = lo
        rhi[a] = hi
    band = 16
    nband = (height + band - 1) // band
    for bi in prange(nband):
        i_lo = bi * band
        i_hi = min(i_lo + band, height) - 1
        for i in range(i_lo, i_hi + 1):
            for j in range(width):
                t_out[i, j] = np.inf
        for a in range(nvr - 1):
            if rhi[a] < i_lo - 0.5 or rlo[a] > i_hi + 0.5:
                continue
            r = r0 + a
            ya = y0 - (r + 0.5) * res
            yb = ya - res
            for b in range(nvc - 1):
                c = c0 + b
                xa = x0 + (c + 0.5) * res
                xb = xa + res
                h00 = h[r, c]
                h01 = h[r, c + 1]
                h10 = h[r + 1, c]
                h11 = h[r + 1, c + 1]
                for half in range(2):
                    # triangle A: (r,c) (r,c+1) (r+1,c+1); B: (r,c) (r+1,c) (r+1,c+1)
                    if half == 0:
                        qx = pj[a, b + 1]
                        qy = pi[a, b + 1]
                        # plane normal (world): (P1 - P0) x (P2 - P0), P1 = (+res, 0, h01-h00), P2 = (+res, -res, h11-h00)
                        e1x, e1y, e1z = res, 0.0, h01 - h00
                    else:
                        qx = pj[a + 1, b]
                        qy = pi[a + 1, b]
                        e1x, e1y, e1z = 0.0, -res, h10 - h00
                    e2x, e2y, e2z = res, -res, h11 - h00
                    nx = e1y * e2z - e1z * e2y
                    ny = e1z * e2x - e1x * e2z
                    nz = e1x * e2y - e1y * e2x
                    px = pj[a, b]
                    py = pi[a, b]
                    sx = pj[a + 1, b + 1]
                    sy = pi[a + 1, b + 1]
                    area = (qx - px) * (sy - py) - (qy - py) * (sx - px)
                    if abs(area) < 1e-12:
                        continue
                    sg = 1.0 if area > 0.0 else -1.0
                    ymin = min(py, qy, sy)
                    ymax = max(py, qy, sy)
                    ia = max(int(math.ceil(ymin - 1e-7)), i_lo)
                    ib = min(int(math.floor(ymax + 1e-7)), i_hi)
                    if ia > ib:
                        continue
                    xmin = min(px, qx, sx)
                    xmax = max(px, qx, sx)
                    ja = max(int(math.ceil(xmin - 1e-7)), 0)
                    jb = min(int(math.floor(xmax + 1e-7)), width - 1)
                    if ja > jb:
                        continue
                    # s = n.(P0 - O) / n.D(i, j), D affine in (j, i)
                    num = nx * (xa - pos[0]) + ny * (ya - pos[1]) + nz * (h00 - pos[2])
                    d0 = nx * rc[9] + ny * rc[10] + nz * rc[11]
                    dj = nx * rc[12] + ny * rc[13] + nz * rc[14]
                    di = nx * rc[15] + ny * rc[16] + nz * rc[17]
                    tol = -1e-9 * abs(area)
                    for i in range(ia, ib + 1):
                        for j in range(ja, jb + 1):
                            w0 = sg * ((qx - px) * (i - py) - (qy - py) * (j - px))
                            w1 = sg * ((sx - qx) * (i - qy) - (sy - qy) * (j - qx))
                            w2 = sg * ((px - sx) * (i - sy) - (py - sy) * (j - sx))
                            if w0 >= tol and w1 >= tol and w2 >= tol:
                                den = d0 + j * dj + i * di
                                if den != 0.0:
                                    sp = num / den
                                    if sp > 0.0 and sp < t_out[i, j]:
                                        t_out[i, j] = sp
        for i in range(i_lo, i_hi + 1):
            for j in range(width):
                sp = t_out[i, j]
                if sp == np.inf:
                    t_out[i, j] = np.nan
                else:
                    ex = rc[9] + j * rc[12] + i * rc[15]
                    ey = rc[10] + j * rc[13] + i * rc[16]
                    ez = rc[11] + j * rc[14] + i * rc[17]
                    t_out[i, j] = sp * math.sqrt(ex * ex + ey * ey + ez * ez)
    return True


@njit(cache=True, error_model="numpy")
def _tile_bounds(i0, i1, j0, j1, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, x0, y0, res, nr, nc,
                 zmin, zmax, bmin, bmax, bsize):
    """Height bounds of the terrain the rays of pixel tile [i0..i1] x [j0..j1] can meet: the
    tile's corner rays (through the outer pixel corners) cut the planes z = zmin and z = zmax;
    the bounding box of those points, widened by a block for distortion, holds every hit. Falls
    back to (zmin, zmax) when the camera is inside the slab or a corner ray does not descend."""
    if pos[2] <= zmax and not ortho:
        return zmin, zmax
    umin = 1e300
    umax = -1e300
    vmin = 1e300
    vmax = -1e300
    for k in range(4):
        ii = i0 - 0.5 if k < 2 else i1 + 0.5
        jj = j0 - 0.5 if (k % 2) == 0 else j1 + 0.5
        ox, oy, oz, dx, dy, dz = _pixel_ray(ii, jj, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot)
        if dz >= -1e-9 or oz <= zmax:
            return zmin, zmax
        for zp in (zmin, zmax):
            t = (zp - oz) / dz
            gu = (ox + dx * t - x0) / res - 0.5
            gv = (y0 - (oy + dy * t)) / res - 0.5
            umin = min(umin, gu)
            umax = max(umax, gu)
            vmin = min(vmin, gv)
            vmax = max(vmax, gv)
    margin = bsize + 1.0 if (k1 != 0.0 or k2 != 0.0) else 1.0
    c0 = int(max(0.0, math.floor(umin - margin)))
    c1 = int(min(nc - 1.0, math.ceil(umax + margin)))
    r0 = int(max(0.0, math.floor(vmin - margin)))
    r1 = int(min(nr - 1.0, math.ceil(vmax + margin)))
    if c1 < c0 or r1 < r0:
        return zmin, zmax      # the tile sees past the DEM: nothing to narrow
    lo = 1e300
    hi = -1e300
    for br in range(r0 // bsize, r1 // bsize + 1):
        for bc in range(c0 // bsize, c1 // bsize + 1):
            lo = min(lo, bmin[br, bc])
            hi = max(hi, bmax[br, bc])
    return max(lo, zmin), min(hi, zmax)


@njit(cache=True, parallel=True, error_model="numpy")
def shade_pending(h, x0, y0, res, width, height, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, utab,
                  sun, margin, shadow_mode, sun_radius, model, pp, full, smooth,
                  u_out, v_out, pending, rad, inc, emi, pha, lit, nrm, pts):
    rc = _ray_consts(fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot)
    for i in prange(height):
        for j in range(width):
            if pending[i, j] == 0:
                continue
            ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
            _shade_px_noinline(h, x0, y0, res, i, j, u_out[i, j], v_out[i, j], dx, dy, dz, sun, margin, shadow_mode,
                      sun_radius, model, pp, full, smooth, rad, inc, emi, pha, lit, nrm, pts)
            pending[i, j] = 0


# --------------------------------------------------------------------------------------------
# sun horizon margin map (per DEM vertex), computed tile by tile on demand
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def horizon_margin(h, mip, offs, mrows, mcols, zmax, r, c, cu_dir, cv_dir, res, tan_lo, tan_hi):
    """Largest elevation tangent of the terrain seen from vertex (r, c) toward the sun azimuth.

    Only tangents in [tan_lo, tan_hi] matter: the result is clipped to that interval.
    """
    nr = h.shape[0]
    nc = h.shape[1]
    h0 = h[r, c]
    best = tan_lo
    nlev = offs.shape[0]
    dmax = max(abs(cu_dir), abs(cv_dir))
    if abs(cu_dir) < 1e-12 * dmax:
        cu_dir = 0.0
    if abs(cv_dir) < 1e-12 * dmax:
        cv_dir = 0.0
    eps = 1e-7 / dmax
    # exit of the raster
    s1 = _BIG
    if cu_dir > 0.0:
        s1 = min(s1, (nc - 1.0 - c) / cu_dir)
    elif cu_dir < 0.0:
        s1 = min(s1, (0.0 - c) / cu_dir)
    if cv_dir > 0.0:
        s1 = min(s1, (nr - 1.0 - r) / cv_dir)
    elif cv_dir < 0.0:
        s1 = min(s1, (0.0 - r) / cv_dir)
    if s1 <= 0.0:
        return best
    s = 0.0
    level = 0
    for _ in range(_MAX_STEPS):
        if s >= s1:
            return best
        if h0 + s * res * best > zmax:
            return best
        sz = float(1 << level)
        ku = _cell(c + cu_dir * s, cu_dir, sz)
        kv = _cell(r + cv_dir * s, cv_dir, sz)
        ncl = mcols[level]
        nrl = mrows[level]
        if ku < 0:
            ku = 0
        elif ku >= ncl:
            ku = ncl - 1
        if kv < 0:
            kv = 0
        elif kv >= nrl:
            kv = nrl - 1
        se = min(_exit_t(float(c), cu_dir, ku, sz), _exit_t(float(r), cv_dir, kv, sz))
        if se > s1:
            se = s1
        if mip[offs[level] + kv * ncl + ku] <= h0 + s * res * best:
            s = se if se > s else s + eps
            if level < nlev - 1:
                level += 1
            continue
        if level > 0:
            level -= 1
            continue
        # level 0: the surface is piecewise linear along the segment; the tangent
        # (h - h0) / dist is monotone on each piece, so check the piece ends.
        a0 = c + cu_dir * s - ku
        b0 = r + cv_dir * s - kv
        a1 = c + cu_dir * se - ku
        b1 = r + cv_dir * se - kv
        g0 = a0 - b0
        g1 = a1 - b1
        if s > 1e-9:
            tz = (_plane_z(h, kv, ku, min(max(a0, 0.0), 1.0), min(max(b0, 0.0), 1.0)) - h0) / (s * res)
            if tz > best:
                best = tz
        if (g0 > 0.0 and g1 < 0.0) or (g0 < 0.0 and g1 > 0.0):
            sm = s + (se - s) * g0 / (g0 - g1)
            if sm > 1e-9:
                am = min(max(c + cu_dir * sm - ku, 0.0), 1.0)
                tz = (_plane_z(h, kv, ku, am, am) - h0) / (sm * res)
                if tz > best:
                    best = tz
        if se > 1e-9:
            tz = (_plane_z(h, kv, ku, min(max(a1, 0.0), 1.0), min(max(b1, 0.0), 1.0)) - h0) / (se * res)
            if tz > best:
                best = tz
        if best >= tan_hi:
            return tan_hi
        s = se if se > s else s + eps
    return best


@njit(cache=True, parallel=True, error_model="numpy")
def fill_margin_tiles(h, mip, offs, mrows, mcols, zmax, tiles_r, tiles_c, tile, cu_dir, cv_dir,
                      res, sun_elev, clip, margin):
    """Fill ``margin`` (sun elevation minus terrain horizon toward the sun, radians, clipped to
    [-clip, clip]) for the listed tiles of ``tile`` x ``tile`` vertices."""
    nr = h.shape[0]
    nc = h.shape[1]
    tan_lo = math.tan(sun_elev - clip)
    tan_hi = math.tan(sun_elev + clip)
    ntask = tiles_r.shape[0] * tile
    for k in prange(ntask):
        ti = k // tile
        r = tiles_r[ti] * tile + (k % tile)
        if r >= nr:
            continue
        c0 = tiles_c[ti] * tile
        for c in range(c0, min(c0 + tile, nc)):
            tb = horizon_margin(h, mip, offs, mrows, mcols, zmax, r, c, cu_dir, cv_dir, res,
                                tan_lo, tan_hi)
            m = sun_elev - math.atan(tb)
            if m > clip:
                m = clip
            elif m < -clip:
                m = -clip
            margin[r, c] = m


# --------------------------------------------------------------------------------------------
# photometry (scalar, numba)
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _h_function(x, w):
    """Hapke (2002) approximation of Chandrasekhar's H-function (Hapke 2012 eq. 8.56)."""
    if x <= 0.0:
        return 1.0
    y = math.sqrt(1.0 - w)
    r0 = (1.0 - y) / (1.0 + y)
    return 1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) / 2.0 * math.log((1.0 + x) / x)))


@njit(cache=True, error_model="numpy")
def hapke_r(mu0, mu, cosg, w, b, c, bs0, hs, bc0, hc, tan_theta):
    """Hapke bidirectional reflectance r(i, e, g) [1/sr] as used by Sato et al. (2014).

    Double Henyey-Greenstein phase function, shadow-hiding (Bs0, hs) and coherent-backscatter
    (Bc0, hc) opposition effects, isotropic multiple scattering with the H-function
    approximation, K = 1 (filling factor 1) and Hapke's macroscopic roughness S(i, e, psi)
    with mean slope angle theta-bar (Hapke 2012, chapter 12).
    """
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    if cosg > 1.0:
        cosg = 1.0
    elif cosg < -1.0:
        cosg = -1.0
    # phase function (double HG: (1+c)/2 weights the backward lobe)
    b2 = b * b
    qb = 1.0 - 2.0 * b * cosg + b2
    qf = 1.0 + 2.0 * b * cosg + b2
    p = (0.5 * (1.0 + c) * (1.0 - b2) / (qb * math.sqrt(qb))
         + 0.5 * (1.0 - c) * (1.0 - b2) / (qf * math.sqrt(qf)))
    tg2 = math.sqrt((1.0 - cosg) / (1.0 + cosg)) if cosg > -1.0 else 1e300   # tan(g / 2)
    bsh = 1.0 / (1.0 + tg2 / hs) if hs > 0.0 else 0.0
    if bc0 != 0.0 and hc > 0.0:
        zeta = tg2 / hc
        if zeta > 1e-12:
            bcb = (1.0 + (1.0 - math.exp(-zeta)) / zeta) / (2.0 * (1.0 + zeta) ** 2)
        else:
            bcb = 1.0
    else:
        bcb = 0.0
    mu0e = mu0
    mue = mu
    sfac = 1.0
    if tan_theta > 0.0:
        mu0c = min(mu0, 1.0)
        muc = min(mu, 1.0)
        si = math.sqrt(max(0.0, 1.0 - mu0c * mu0c))
        se = math.sqrt(max(0.0, 1.0 - muc * muc))
        if si < 1e-9 or se < 1e-9:
            cpsi = 1.0
        else:
            cpsi = (cosg - mu0c * muc) / (si * se)
            cpsi = min(max(cpsi, -1.0), 1.0)
        psi = math.acos(cpsi)
        chi = 1.0 / math.sqrt(1.0 + math.pi * tan_theta * tan_theta)
        ti = max(si / mu0c, 1e-9)
        te = max(se / muc, 1e-9)
        e1i = math.exp(-2.0 / (math.pi * tan_theta * ti))
        e2i = math.exp(-1.0 / (math.pi * tan_theta * tan_theta * ti * ti))
        e1e = math.exp(-2.0 / (math.pi * tan_theta * te))
        e2e = math.exp(-1.0 / (math.pi * tan_theta * tan_theta * te * te))
        eta_i = chi * (mu0c + si * tan_theta * e2i / (2.0 - e1i))
        eta_e = chi * (muc + se * tan_theta * e2e / (2.0 - e1e))
        s2 = 0.5 * (1.0 - cpsi)                      # sin^2(psi / 2)
        if cpsi <= -1.0 + 1e-15:
            f = 0.0
        else:
            f = math.exp(-2.0 * math.sqrt((1.0 - cpsi) / (1.0 + cpsi)))
        if mu0c >= muc:                              # i <= e
            den = 2.0 - e1e - (psi / math.pi) * e1i
            mu0e = chi * (mu0c + si * tan_theta * (cpsi * e2e + s2 * e2i) / den)
            mue = chi * (muc + se * tan_theta * (e2e - s2 * e2i) / den)
            sfac = mue / eta_e * mu0c / eta_i * chi / (1.0 - f + f * chi * mu0c / eta_i)
        else:
            den = 2.0 - e1i - (psi / math.pi) * e1e
            mu0e = chi * (mu0c + si * tan_theta * (e2i - s2 * e2e) / den)
            mue = chi * (muc + se * tan_theta * (cpsi * e2i + s2 * e2e) / den)
            sfac = mue / eta_e * mu0c / eta_i * chi / (1.0 - f + f * chi * muc / eta_e)
    m = _h_function(mu0e, w) * _h_function(mue, w) - 1.0
    return (w / (4.0 * math.pi) * mu0e / (mu0e + mue) * (p * (1.0 + bs0 * bsh) + m)
            * (1.0 + bc0 * bcb) * sfac)


@njit(cache=True, error_model="numpy")
def lunar_lambert_r(mu0, mu, cosg, albedo, l1, l2, l3):
    """McEwen (1991) Lunar-Lambert bidirectional reflectance [1/sr]:
    I/F = A [2 L(g) mu0 / (mu0 + mu) + (1 - L(g)) mu0], L(g) = 1 + l1 g + l2 g^2 + l3 g^3 (g in deg)."""
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    cosg = min(max(cosg, -1.0), 1.0)
    gd = math.degrees(math.acos(cosg))
    lg = 1.0 + l1 * gd + l2 * gd * gd + l3 * gd * gd * gd
    return albedo * (2.0 * lg * mu0 / (mu0 + mu) + (1.0 - lg) * mu0) / math.pi


@njit(cache=True, inline="always", error_model="numpy")
def _photometry(model, mu0, mu, cosg, pp):
    if model == 0:
        return hapke_r_tab(mu0, mu, cosg, pp)      # tables in pp: Hapke.packed(), _photometry_kernels
    elif model == 1:
        return lunar_lambert_r(mu0, mu, cosg, pp[0], pp[1], pp[2], pp[3])
    # plain Lambert: r = A mu0 / pi
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    return pp[0] * mu0 / math.pi


@njit(cache=True, parallel=True, error_model="numpy")
def photometry_grid(model, mu0, mu, cosg, pp):
    out = np.empty(mu0.shape[0])
    for k in prange(mu0.shape[0]):
        out[k] = _photometry(model, mu0[k], mu[k], cosg[k], pp)
    return out


# --------------------------------------------------------------------------------------------
# shading
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always", error_model="numpy")
def _disk_fraction(margin, radius):
    """Visible fraction of a solar disk of angular radius ``radius`` whose centre is ``margin``
    above a straight horizon."""
    d = margin / radius
    if d >= 1.0:
        return 1.0
    if d <= -1.0:
        return 0.0
    return 1.0 - (math.acos(d) - d * math.sqrt(1.0 - d * d)) / math.pi


@njit(cache=True, inline="always", error_model="numpy")
def _vertex_grad(h, r, c, res):
    """Central-difference height gradient (dz/dx, dz/dy) at vertex (r, c), one-sided at edges."""
    nr = h.shape[0]
    nc = h.shape[1]
    c0 = c - 1 if c > 0 else c
    c1 = c + 1 if c < nc - 1 else c
    r0 = r - 1 if r > 0 else r
    r1 = r + 1 if r < nr - 1 else r
    gx = (h[r, c1] - h[r, c0]) / ((c1 - c0) * res)
    gy = -(h[r1, c] - h[r0, c]) / ((r1 - r0) * res)
    return gx, gy


@njit(cache=True, inline="always", error_model="numpy")
def _sky_px(i, j, full, rad, inc, emi, pha, lit, nrm, pts):
    rad[i, j] = 0.0
    lit[i, j] = np.nan
    if full:
        inc[i, j] = np.nan
        emi[i, j] = np.nan
        pha[i, j] = np.nan
        for k in range(3):
            nrm[i, j, k] = np.nan
            pts[i, j, k] = np.nan


@njit(cache=True, inline="always", error_model="numpy")
def _shade_px(h, x0, y0, res, i, j, u, v, dx, dy, dz, sun, margin, shadow_mode, sun_radius,
              model, pp, full, smooth, rad, inc, emi, pha, lit, nrm, pts):
    """Normal, angles, cast shadow and photometry of the hit at grid (u, v) seen along (dx, dy, dz).
    ``shadow_mode``: 0 none, 1 hard, 2 penumbra. ``rad`` gets r [1/sr] times the sunlit fraction."""
    nr = h.shape[0]
    nc = h.shape[1]
    c = int(math.floor(u))
    r = int(math.floor(v))
    if c < 0:
        c = 0
    elif c > nc - 2:
        c = nc - 2
    if r < 0:
        r = 0
    elif r > nr - 2:
        r = nr - 2
    a = min(max(u - c, 0.0), 1.0)
    b = min(max(v - r, 0.0), 1.0)
    h00 = h[r, c]
    h11 = h[r + 1, c + 1]
    m = 0.0
    if a >= b:
        hx = h[r, c + 1]
        gx = (hx - h00) / res
        gy = -(h11 - hx) / res
        zz = h00 + a * (hx - h00) + b * (h11 - hx)
        if shadow_mode > 0:
            m = (1.0 - a) * margin[r, c] + (a - b) * margin[r, c + 1] + b * margin[r + 1, c + 1]
    else:
        hx = h[r + 1, c]
        gx = (h11 - hx) / res
        gy = -(hx - h00) / res
        zz = h00 + b * (hx - h00) + a * (h11 - hx)
        if shadow_mode > 0:
            m = (1.0 - b) * margin[r, c] + (b - a) * margin[r + 1, c] + a * margin[r + 1, c + 1]
    if smooth:
        # barycentric blend of the triangle's vertex gradients (Phong-style normals)
        gx00, gy00 = _vertex_grad(h, r, c, res)
        gx11, gy11 = _vertex_grad(h, r + 1, c + 1, res)
        if a >= b:
            gxo, gyo = _vertex_grad(h, r, c + 1, res)
            sx = (1.0 - a) * gx00 + (a - b) * gxo + b * gx11
            sy = (1.0 - a) * gy00 + (a - b) * gyo + b * gy11
        else:
            gxo, gyo = _vertex_grad(h, r + 1, c, res)
            sx = (1.0 - b) * gx00 + (b - a) * gxo + a * gx11
            sy = (1.0 - b) * gy00 + (b - a) * gyo + a * gy11
        # at grazing view the blended normal can face away from the camera although the facet the
        # ray hit faces it (black specks along ridges): keep the facet normal there
        if sx * dx + sy * dy - dz > 0.0:
            gx = sx
            gy = sy
    nn = math.sqrt(gx * gx + gy * gy + 1.0)
    nx = -gx / nn
    ny = -gy / nn
    nz = 1.0 / nn
    mu0 = nx * sun[0] + ny * sun[1] + nz * sun[2]
    mu = -(nx * dx + ny * dy + nz * dz)
    cosg = -(sun[0] * dx + sun[1] * dy + sun[2] * dz)
    if shadow_mode == 0:
        f = 1.0
    elif shadow_mode == 1:
        f = 1.0 if m > 0.0 else 0.0
    else:
        f = _disk_fraction(m, sun_radius)
    _write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, x0 + (u + 0.5) * res, y0 - (v + 0.5) * res, zz, model, pp, full,
              rad, inc, emi, pha, lit, nrm, pts)


@njit(cache=True, inline="always", error_model="numpy")
def _write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, model, pp, full, rad, inc, emi, pha, lit, nrm, pts):
    """Photometry of a surface point (sunlit fraction ``f``, cosines, unit normal, ENU point) and
    its output layers at pixel (i, j); shared by the terrain and the rock shading."""
    val = 0.0
    if f > 0.0 and mu0 > 0.0 and mu > 0.0:
        val = f * _photometry(model, mu0, mu, cosg, pp)
    rad[i, j] = val
    lit[i, j] = f
    if full:
        inc[i, j] = math.acos(min(max(mu0, -1.0), 1.0))
        emi[i, j] = math.acos(min(max(mu, -1.0), 1.0))
        pha[i, j] = math.acos(min(max(cosg, -1.0), 1.0))
        nrm[i, j, 0] = nx
        nrm[i, j, 1] = ny
        nrm[i, j, 2] = nz
        pts[i, j, 0] = px
        pts[i, j, 1] = py
        pts[i, j, 2] = pz


# the first frame's pending pixels are few: a called (not inlined) copy keeps compile time down
_shade_px_noinline = njit(cache=True, error_model="numpy")(_shade_px.py_func)
