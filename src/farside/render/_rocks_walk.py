"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): rays against the rocks.

Ray against one rock's convex polyhedron (entry and face, blocked, penumbra fraction of the solar
disk past it), the walk of the rock bins and blocks along a ray, and the clips that bound it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from farside.render._kernels_trace import _grid_dir
from farside.terrain._kernels_rockshape import _A, _BX, _BY, _EX, _EY, _RS, C_H, C_NPL, C_NSIDE, C_RMAX, C_X, C_Y

_MAX_STEPS = 1_000_000
#: a sun ray ignores the rock it starts on closer than this (m)
_EPS_T = 1.0e-7


# --------------------------------------------------------------------------------------------
# ray vs convex polyhedron
# --------------------------------------------------------------------------------------------
#: face ids returned by _poly_clip: planes 0..npl-1, footprint sides _SIDE + p, the bottom _BOTTOM
_SIDE = 100
_BOTTOM = 200
#: the penumbra's sample directions over the solar disk, in units of its radius: a Vogel (sunflower)
#: spiral of equal-area points, fixed (no random numbers)
_NPEN = 32
_PEN_U = np.array([math.sqrt((i + 0.5) / _NPEN) * math.cos(i * math.pi * (3.0 - math.sqrt(5.0)))
                   for i in range(_NPEN)])
_PEN_V = np.array([math.sqrt((i + 0.5) / _NPEN) * math.sin(i * math.pi * (3.0 - math.sqrt(5.0)))
                   for i in range(_NPEN)])


@njit(cache=True, nogil=True, error_model="numpy")
def _clip_half(f0, rate, te, tx, face, idx):
    """Clip [te, tx] of a ray by one half-space ``f0 + rate t <= 0`` (``f0``: its value at the
    origin); ``idx`` becomes the entry face when the half-space sets the entry. Returns
    (te, tx, face, missed)."""
    if rate == 0.0:
        return te, tx, face, f0 > 0.0
    t = -f0 / rate
    if rate > 0.0:
        if t < tx:
            tx = t
    elif t > te:
        te = t
        face = idx
    return te, tx, face, False


@njit(cache=True, nogil=True, error_model="numpy")
def _poly_clip(ox, oy, oz, dx, dy, dz, g, k, cz):
    """Kay-Kajiya clip of the ray o + t d against the solid of rock row ``g[k]`` standing on the
    seat ``cz``: below every top plane (``z <= cz + A + Bx x' + By y'``), inside every footprint
    half-plane and above ``cz - height`` (the buried part). Returns (t_enter, t_exit, face of
    entry); t_enter > t_exit when the ray misses."""
    qx = ox - g[k, C_X]
    qy = oy - g[k, C_Y]
    qz = oz - cz
    # bottom: z' >= -H
    te, tx, face, miss = _clip_half(-qz - g[k, C_H], -dz, -1e300, 1e300, _BOTTOM, _BOTTOM)
    if miss:
        return 1.0, -1.0, -1
    for p in range(int(g[k, C_NSIDE])):
        ex = g[k, _EX + p]
        ey = g[k, _EY + p]
        te, tx, face, miss = _clip_half(qx * ex + qy * ey - g[k, _RS + p], dx * ex + dy * ey, te, tx, face,
                                        _SIDE + p)
        if miss:
            return 1.0, -1.0, -1
    for p in range(int(g[k, C_NPL])):
        bx = g[k, _BX + p]
        by = g[k, _BY + p]
        te, tx, face, miss = _clip_half(qz - g[k, _A + p] - bx * qx - by * qy, dz - bx * dx - by * dy, te, tx,
                                        face, p)
        if miss or te > tx:
            return 1.0, -1.0, -1
    return te, tx, face


@njit(cache=True, nogil=True, error_model="numpy")
def _poly_t(ox, oy, oz, dx, dy, dz, g, k, cz):
    """Entry parameter of the ray o + t d into rock ``k``'s solid (:func:`_poly_clip`); -1 when it
    misses or the solid lies behind the origin."""
    te, tx, _f = _poly_clip(ox, oy, oz, dx, dy, dz, g, k, cz)
    if te > tx or not tx > 0.0:
        return -1.0
    return te


@njit(cache=True, nogil=True, error_model="numpy")
def _poly_normal(g, k, face):
    """Outward unit normal of face ``face`` of rock ``k`` (:func:`_poly_clip`'s ids)."""
    if face >= _BOTTOM:
        return 0.0, 0.0, -1.0
    if face >= _SIDE:
        p = face - _SIDE
        return g[k, _EX + p], g[k, _EY + p], 0.0
    nx = -g[k, _BX + face]
    ny = -g[k, _BY + face]
    nn = math.sqrt(nx * nx + ny * ny + 1.0)
    return nx / nn, ny / nn, 1.0 / nn


@njit(cache=True, nogil=True, error_model="numpy")
def _blocked(px, py, pz, sx, sy, sz, g, k, cz):
    """True when the ray from p toward s meets rock ``k``'s solid ahead of p (or p is inside it)."""
    te, tx, _f = _poly_clip(px, py, pz, sx, sy, sz, g, k, cz)
    if te > tx or not tx > _EPS_T:
        return False
    return te > _EPS_T or te < 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _penumbra_fraction(px, py, pz, sx, sy, sz, e1x, e1y, e1z, e2x, e2y, e2z, g, k, cz, sun_radius):
    """Visible fraction of the solar disk past rock ``k`` seen from p: the share of ``_NPEN`` fixed
    directions spread evenly over the disk (a sunflower spiral of equal-area points) whose ray
    misses the rock; 1 at once when the disk clears the rock's bounding sphere."""
    qx = g[k, C_X] - px
    qy = g[k, C_Y] - py
    qz = cz - pz
    rb = math.sqrt(g[k, C_RMAX] * g[k, C_RMAX] + g[k, C_H] * g[k, C_H])
    qn = math.sqrt(qx * qx + qy * qy + qz * qz)
    if qn > rb:
        c = (qx * sx + qy * sy + qz * sz) / qn
        if math.acos(min(max(c, -1.0), 1.0)) - math.asin(rb / qn) > 1.01 * sun_radius:
            return 1.0
    hit = 0
    for i in range(_NPEN):
        u = sun_radius * _PEN_U[i]
        v = sun_radius * _PEN_V[i]
        if _blocked(px, py, pz, sx + u * e1x + v * e2x, sy + u * e1y + v * e2y, sz + u * e1z + v * e2z, g, k, cz):
            hit += 1
    return 1.0 - hit / _NPEN


# --------------------------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _walk(kind, ox, oy, oz, dx, dy, dz, ta, tb, excl, gx0, gy0, binm, nbx, nby, block, start, index, btop,
          g, rb, e1x, e1y, e1z, e2x, e2y, e2z, sun_radius):
    """Walk the rock bins along the ray o + t d, t in [ta, tb] (already clipped to the grid and
    to the rocks' height slab): the sun ray of a point. ``kind`` 1: hard shadow, returns (0, rock)
    for the first rock met (else (1, -1)); 2: penumbra, returns (visible fraction of the solar
    disk, -1). Rock ``excl`` is skipped. Rock k is row ``g[k]`` on the seat ``rb[k]``."""
    ibin = 1.0 / binm
    gu = (ox - gx0) * ibin
    gv = (gy0 - oy) * ibin
    du, dv, idu, idv, _ = _grid_dir(dx * ibin, -dy * ibin)
    nu = 1e-9 if du > 0.0 else (-1e-9 if du < 0.0 else 0.0)
    nv = 1e-9 if dv > 0.0 else (-1e-9 if dv < 0.0 else 0.0)
    su = 1 if du > 0.0 else -1
    sv = 1 if dv > 0.0 else -1
    pu = 1 if du > 0.0 else 0
    pv = 1 if dv > 0.0 else 0
    nkx = btop.shape[1]
    nky = btop.shape[0]
    sb = float(block)
    frac = 1.0
    t = ta
    ku = min(max(int(math.floor((gu + du * t + nu) / sb)), 0), nkx - 1)
    kv = min(max(int(math.floor((gv + dv * t + nv) / sb)), 0), nky - 1)
    for _ in range(_MAX_STEPS):
        tu = ((ku + pu) * sb - gu) * idu if du != 0.0 else np.inf
        tv = ((kv + pv) * sb - gv) * idv if dv != 0.0 else np.inf
        step_u = tu < tv
        te = min(tu if step_u else tv, tb)
        if te < t:
            te = t
        bt = btop[kv, ku]
        # the part of [t, te] where the ray is not above every rock top of the block
        tl = t
        th_ = te
        if dz < 0.0:
            tl = max(t, (bt - oz) / dz)
        elif dz > 0.0:
            th_ = min(te, (bt - oz) / dz)
        elif oz > bt:
            th_ = -1.0
        if tl <= th_:
            # walk the bins of this block on [tl, th_]
            bu = min(max(int(math.floor(gu + du * tl + nu)), ku * block), min(ku * block + block, nbx) - 1)
            bv = min(max(int(math.floor(gv + dv * tl + nv)), kv * block), min(kv * block + block, nby) - 1)
            tt = tl
            for _ in range(4 * block + 4):
                bb = bv * nbx + bu
                for q in range(start[bb], start[bb + 1]):
                    k = int(index[q])
                    if k == excl:
                        continue
                    if kind == 1:
                        if _blocked(ox, oy, oz, dx, dy, dz, g, k, rb[k]):
                            return 0.0, int(k)
                    else:
                        f = _penumbra_fraction(ox, oy, oz, dx, dy, dz, e1x, e1y, e1z, e2x, e2y, e2z, g, k, rb[k],
                                               sun_radius)
                        if f < frac:
                            frac = f
                            if frac <= 0.0:
                                return 0.0, -1
                bu_t = (bu + pu - gu) * idu if du != 0.0 else np.inf
                bv_t = (bv + pv - gv) * idv if dv != 0.0 else np.inf
                bstep_u = bu_t < bv_t
                tx = bu_t if bstep_u else bv_t
                if tx >= th_:
                    break
                tt = tx
                if bstep_u:
                    bu += su
                    if bu < ku * block or bu >= min(ku * block + block, nbx):
                        break
                else:
                    bv += sv
                    if bv < kv * block or bv >= min(kv * block + block, nby):
                        break
            _ = tt
        if te >= tb:
            break
        t = te
        if step_u:
            ku += su
            if ku < 0 or ku >= nkx:
                break
        else:
            kv += sv
            if kv < 0 or kv >= nky:
                break
    return frac, -1


@njit(cache=True, inline="always", error_model="numpy")
def _clip(ox, oy, oz, dx, dy, dz, t0, t1, gx0, gy0, wx, wy, zlo, zhi):
    """Clip [t0, t1] of the ray to the grid box [gx0, gx0 + wx] x [gy0 - wy, gy0] and the slab
    [zlo, zhi]; t0 > t1 when nothing is left."""
    if not zhi >= zlo:
        return 1.0, 0.0
    if dx != 0.0:
        ta = (gx0 - ox) / dx
        tb = (gx0 + wx - ox) / dx
        t0 = max(t0, min(ta, tb))
        t1 = min(t1, max(ta, tb))
    elif ox < gx0 or ox > gx0 + wx:
        return 1.0, 0.0
    if dy != 0.0:
        ta = (gy0 - wy - oy) / dy
        tb = (gy0 - oy) / dy
        t0 = max(t0, min(ta, tb))
        t1 = min(t1, max(ta, tb))
    elif oy < gy0 - wy or oy > gy0:
        return 1.0, 0.0
    if dz != 0.0:
        ta = (zlo - oz) / dz
        tb = (zhi - oz) / dz
        t0 = max(t0, min(ta, tb))
        t1 = min(t1, max(ta, tb))
    elif oz < zlo or oz > zhi:
        return 1.0, 0.0
    return t0, t1


@njit(cache=True, inline="always", error_model="numpy")
def _quick_miss(ox, oy, oz, dx, dy, dz, t0, t1, gx0, gy0, binm, block, btop):
    """True when the segment [t0, t1] of the ray lies in one block and above its highest rock
    (most rays: the walk is then not even started)."""
    sb = binm * block
    ku0 = int(math.floor((ox + dx * t0 - gx0) / sb))
    kv0 = int(math.floor((gy0 - oy - dy * t0) / sb))
    ku1 = int(math.floor((ox + dx * t1 - gx0) / sb))
    kv1 = int(math.floor((gy0 - oy - dy * t1) / sb))
    if ku0 != ku1 or kv0 != kv1:
        return False
    ku0 = min(max(ku0, 0), btop.shape[1] - 1)
    kv0 = min(max(kv0, 0), btop.shape[0] - 1)
    return min(oz + dz * t0, oz + dz * t1) > btop[kv0, ku0]
