"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): rays against the rocks.

Ray against one ellipsoid (entry, blocked, penumbra fraction past its silhouette), the walk of the
rock bins and blocks along a ray, and the clips that bound it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from farside.render._kernels_shading import _disk_fraction
from farside.render._kernels_trace import _grid_dir

_MAX_STEPS = 1_000_000
#: a sun ray ignores the rock it starts on closer than this (m)
_EPS_T = 1.0e-7


# --------------------------------------------------------------------------------------------
# ray vs ellipsoid
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always", error_model="numpy")
def _unit_sphere_quadratic(px, py, pz, dx, dy, dz, cx, cy, cz, a, hh):
    """Coefficients (A, B, C) of A t^2 + 2 B t + C = 0 for the ray p + t d against the ellipsoid
    centred (cx, cy, cz) with semi-axes (a, a, hh), in the space scaled to make it the unit
    sphere (C < 0: p is inside)."""
    qx = (px - cx) / a
    qy = (py - cy) / a
    qz = (pz - cz) / hh
    ex = dx / a
    ey = dy / a
    ez = dz / hh
    return (ex * ex + ey * ey + ez * ez, qx * ex + qy * ey + qz * ez, qx * qx + qy * qy + qz * qz - 1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def _ellipsoid_t(ox, oy, oz, dx, dy, dz, cx, cy, cz, a, hh):
    """Entry parameter of the ray o + t d (d unit) into the ellipsoid centred (cx, cy, cz) with
    semi-axes (a, a, hh); -1 when it misses. The origin is first moved to the ray's closest
    approach to the centre so that the quadratic is well conditioned."""
    tc = (cx - ox) * dx + (cy - oy) * dy + (cz - oz) * dz
    aa, bb, cc = _unit_sphere_quadratic(ox + tc * dx, oy + tc * dy, oz + tc * dz, dx, dy, dz, cx, cy, cz, a, hh)
    disc = bb * bb - aa * cc
    if disc < 0.0:
        return -1.0
    return tc + (-bb - math.sqrt(disc)) / aa


@njit(cache=True, nogil=True, error_model="numpy")
def _blocked(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh):
    """True when the ray from p toward s meets the ellipsoid ahead of p (or p is inside it)."""
    aa, bb, cc = _unit_sphere_quadratic(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh)
    if cc < 0.0:
        return True
    disc = bb * bb - aa * cc
    if disc < 0.0:
        return False
    return (-bb - math.sqrt(disc)) / aa > _EPS_T


@njit(cache=True, nogil=True, error_model="numpy")
def _scaled_angle(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh):
    """Angle, in the space scaled to make the ellipsoid the unit sphere, between the direction s
    and the direction to the centre, minus the sphere's angular radius (< 0: s hits it)."""
    qx = (cx - px) / a
    qy = (cy - py) / a
    qz = (cz - pz) / hh
    ex = sx / a
    ey = sy / a
    ez = sz / hh
    qn = math.sqrt(qx * qx + qy * qy + qz * qz)
    en = math.sqrt(ex * ex + ey * ey + ez * ez)
    if qn <= 1.0:
        return -1.0
    c = (qx * ex + qy * ey + qz * ez) / (qn * en)
    return math.acos(min(max(c, -1.0), 1.0)) - math.asin(1.0 / qn)


@njit(cache=True, nogil=True, error_model="numpy")
def _penumbra_fraction(px, py, pz, sx, sy, sz, e1x, e1y, e1z, e2x, e2y, e2z, cx, cy, cz, a, hh, sun_radius):
    """Visible fraction of the solar disk past one rock: the angular distance of the disk centre
    from the rock's silhouette (scaled-space margin over its numerical gradient across the disk,
    e1 and e2 being unit vectors perpendicular to s), and a straight silhouette edge across the
    disk."""
    m0 = _scaled_angle(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh)
    if m0 > 0.2:
        return 1.0
    qx = cx - px
    qy = cy - py
    qz = cz - pz
    if qx * sx + qy * sy + qz * sz < -max(a, hh) and m0 > 0.0:
        return 1.0          # the rock lies behind the point
    if m0 <= -1.0:
        return 0.0          # the point is inside the rock
    d = sun_radius
    m1 = _scaled_angle(px, py, pz, sx + d * e1x, sy + d * e1y, sz + d * e1z, cx, cy, cz, a, hh)
    m2 = _scaled_angle(px, py, pz, sx + d * e2x, sy + d * e2y, sz + d * e2z, cx, cy, cz, a, hh)
    g = math.sqrt((m1 - m0) * (m1 - m0) + (m2 - m0) * (m2 - m0)) / d
    if g <= 0.0:
        return 0.0 if m0 < 0.0 else 1.0
    return _disk_fraction(m0 / g, sun_radius)


# --------------------------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _walk(kind, ox, oy, oz, dx, dy, dz, ta, tb, excl, gx0, gy0, binm, nbx, nby, block, start, index, btop,
          rx, ry, rr, rh, rb, e1x, e1y, e1z, e2x, e2y, e2z, sun_radius):
    """Walk the rock bins along the ray o + t d, t in [ta, tb] (already clipped to the grid and
    to the rocks' height slab): the sun ray of a point. ``kind`` 1: hard shadow, returns (0, rock)
    for the first rock met (else (1, -1)); 2: penumbra, returns (visible fraction of the solar
    disk, -1). Rock ``excl`` is skipped."""
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
                        if _blocked(ox, oy, oz, dx, dy, dz, rx[k], ry[k], rb[k], rr[k], rh[k]):
                            return 0.0, int(k)
                    else:
                        f = _penumbra_fraction(ox, oy, oz, dx, dy, dz, e1x, e1y, e1z, e2x, e2y, e2z, rx[k], ry[k],
                                               rb[k], rr[k], rh[k], sun_radius)
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
