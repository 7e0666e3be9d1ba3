"""Numba kernels of :mod:`farside.render` (private): the sun horizon margin map.

Per DEM vertex, the sun's elevation minus the terrain's horizon toward the sun azimuth (found by
walking the max-mip pyramid of :mod:`~farside.render._kernels_trace`), computed tile by tile on
demand; the shading interpolates it for cast shadows.
"""

from __future__ import annotations

import math

from numba import njit, prange

from farside.render._kernels_trace import _BIG, _MAX_STEPS, _cell, _exit_t
from farside.terrain.surface import mesh_z as _plane_z


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
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
