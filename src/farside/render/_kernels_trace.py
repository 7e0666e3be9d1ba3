"""Numba kernels of :mod:`farside.render` (private): max-mip pyramid and ray traversal.

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


_BIG = 1.0e300
_MAX_STEPS = 200000
#: rays whose path through the height slab spans fewer cells walk level 0 directly (no pyramid)
_DDA_SPAN = 16.0


# --------------------------------------------------------------------------------------------
# max-mip pyramid
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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
# ray traversal
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _cell(p, d, s):
    """Index of the size-``s`` cell holding coordinate ``p``, nudged 1e-9 cells along ``d`` so a
    point on a boundary belongs to the cell the ray enters."""
    if d > 0.0:
        p += 1e-9
    elif d < 0.0:
        p -= 1e-9
    return int(math.floor(p / s))


@njit(cache=True, nogil=True, error_model="numpy")
def _exit_t(p, d, cell, s):
    """Ray parameter at which coordinate p + d t leaves cell [cell*s, (cell+1)*s)."""
    if d > 0.0:
        return ((cell + 1) * s - p) / d
    elif d < 0.0:
        return (cell * s - p) / d
    return _BIG


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, inline="always", error_model="numpy")
def _traverse(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1):
    """First hit of a clipped ray (see :func:`_clip_ray`) on [t0, t1]: a level-0 walk for short
    paths, else the max-mip pyramid. Returns the ray parameter or -1.0 for sky."""
    span = dmax * (t1 - t0) + 2.0
    if span < _DDA_SPAN:
        return _cast_dda(h, u, v, z, du, dv, dz, idu, idv, t0, t1)
    return _cast_mip(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1, span)


@njit(cache=True, nogil=True, error_model="numpy")
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
