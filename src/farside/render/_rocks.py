"""Sub-DEM rocks: the rocks of a site's table too small to be stamped into the DEM, rendered as
exact ellipsoids in a post-pass after the terrain pass.

Rock model: the half-ellipsoid of :func:`farside.terrain.rocks.stamp_rocks` (semi-axes D/2, D/2,
``height_m``), centred on the mesh height under the rock's centre (its *base*). The solid is the
full ellipsoid (the lower half buried): on flat ground that is exactly the half-ellipsoid, and on
a slope the rock neither floats above the downhill ground nor shows a hole under its rim.
Only ray hits nearer than the terrain hit count, so the buried part is never seen.

Acceleration: a uniform grid of square bins (``bin_m`` on a side, CSR arrays: ``start`` offsets
per bin, ``index`` rock numbers; a rock is listed in every bin its bounding circle touches) and
blocks of ``_BLOCK`` x ``_BLOCK`` bins holding the highest rock top inside. A ray walks the
blocks along its ground track (2-D DDA), skips a block when the ray stays above the block's
highest rock top, and walks the bins of the others. Camera rays are clipped to the height slab
of the rocks under the frame and end at their terrain hit; sun rays start at the shaded point
and end when they climb above the highest rock top that can shade the frame.

Per frame (:func:`apply_rocks`, called by ``render()`` after the terrain pass):

1. skip everything when the nearest terrain pixel is wider than the largest table rock (every
   rock sub-pixel: LCAM above ~1.3 km over a 0.5 m DEM) or the frame is all sky;
2. candidate rocks: those listed in the bins under the frame's hits (and the camera), widened
   by the longest shadow that can reach them; every rock when the frame shows sky;
3. object order: each candidate's bounding box is projected to mark the pixels whose rays can
   meet it, and the box swept away from the Sun over the length of its shadow (the anti-sun
   ray from its top, cast on the DEM, +25 % and one rock diameter) marks the pixels it can
   shade;
4. image order, marked pixels only: nearest rock hit in front of the terrain hit (exact
   ray-ellipsoid intersection), then shading: analytic normal, the frame's photometric model,
   the terrain's sun margin at the rock point (the terrain's cast shadow on the rock), and the
   other rocks' shadows; terrain pixels get the rocks' shadows. Hard shadows test the sun's
   centre; 'penumbra' takes, per rock, the angular distance of the disk centre from the rock's
   silhouette (from the ellipsoid's scaled-space angular margin and its numerical gradient)
   and the visible fraction of the disk past a straight edge at that distance, the smallest
   over the rocks met, times the terrain's fraction.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit, prange

from farside.render import _kernels as K

#: bins per block side of the coarse level
_BLOCK = 16
_BIG = 1.0e300
_MAX_STEPS = 1_000_000
#: a sun ray ignores the rock it starts on closer than this (m)
_EPS_T = 1.0e-7


class RockBins:
    """The rocks of a :class:`~farside.render.Scene` (not in the DEM) and their bin grid.

    Attributes
    ----------
    x_m, y_m, radius_m, height_m, base_m : (N,) float64
        Centre (site ENU), horizontal semi-axis D/2, vertical semi-axis, and the mesh height
        under the centre.
    bin_m : float
        Bin size (m); the grid starts at the DEM's NW corner.
    start : (nby * nbx + 1,) int32
        CSR offsets: the rocks of bin (row by, col bx) are ``index[start[k]:start[k + 1]]``,
        ``k = by * nbx + bx`` (row 0 = north, like the DEM).
    index : int32
        Rock numbers, bin by bin.
    block_top : (nky, nkx) float64
        Highest rock top (base + height) among the rocks listed in each block's bins;
        -inf where there are none.
    """

    def __init__(self, x, y, radius, height, base, *, x0_m: float, y0_m: float, width_m: float,
                 height_extent_m: float, bin_m: float) -> None:
        self.x_m = np.ascontiguousarray(x, np.float64)
        self.y_m = np.ascontiguousarray(y, np.float64)
        self.radius_m = np.ascontiguousarray(radius, np.float64)
        self.height_m = np.ascontiguousarray(height, np.float64)
        self.base_m = np.ascontiguousarray(base, np.float64)
        self.bin_m = float(bin_m)
        self.x0_m = float(x0_m)
        self.y0_m = float(y0_m)
        self.nbx = max(1, int(math.ceil(width_m / bin_m - 1e-9)))
        self.nby = max(1, int(math.ceil(height_extent_m / bin_m - 1e-9)))
        self.nkx = (self.nbx + _BLOCK - 1) // _BLOCK
        self.nky = (self.nby + _BLOCK - 1) // _BLOCK
        self.start, self.index, self.block_top = build_bins(self.x_m, self.y_m, self.radius_m,
                                                            self.base_m + self.height_m, self.x0_m, self.y0_m,
                                                            self.bin_m, self.nbx, self.nby, _BLOCK)
        self.top_max = float((self.base_m + self.height_m).max())
        self.bottom_min = float((self.base_m - self.height_m).min())
        self.diameter_max_m = float(2.0 * self.radius_m.max())
        self.height_max_m = float(self.height_m.max())
        self._paths: dict = {}                  # Sun direction -> shadow_paths (see _shadow_paths)
        self._paths_lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.x_m.size)

    @property
    def nbytes(self) -> int:
        return int(self.start.nbytes + self.index.nbytes + self.block_top.nbytes + 5 * self.x_m.nbytes)

    def grid_args(self) -> tuple:
        return (self.x0_m, self.y0_m, self.bin_m, self.nbx, self.nby, _BLOCK, self.start, self.index,
                self.block_top, self.x_m, self.y_m, self.radius_m, self.height_m, self.base_m,
                self.bottom_min, self.top_max)


# --------------------------------------------------------------------------------------------
# construction
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def mesh_heights(h, x0, y0, res, x, y):
    """Height of the DEM's triangle mesh (as rendered) under each point (x, y)."""
    nr = h.shape[0]
    nc = h.shape[1]
    out = np.empty(x.shape[0])
    for k in range(x.shape[0]):
        u = (x[k] - x0) / res - 0.5
        v = (y0 - y[k]) / res - 0.5
        c = min(max(int(math.floor(u)), 0), nc - 2)
        r = min(max(int(math.floor(v)), 0), nr - 2)
        a = min(max(u - c, 0.0), 1.0)
        b = min(max(v - r, 0.0), 1.0)
        out[k] = K._plane_z(h, r, c, a, b)
    return out


@njit(cache=True, inline="always", error_model="numpy")
def _bin_range(x, y, radius, x0, y0, binm, nbx, nby):
    """Bins (columns bx0..bx1, rows by0..by1) that a rock's bounding circle touches."""
    bx0 = max(int(math.floor((x - radius - x0) / binm)), 0)
    bx1 = min(int(math.floor((x + radius - x0) / binm)), nbx - 1)
    by0 = max(int(math.floor((y0 - y - radius) / binm)), 0)
    by1 = min(int(math.floor((y0 - y + radius) / binm)), nby - 1)
    return bx0, bx1, by0, by1


@njit(cache=True, error_model="numpy")
def build_bins(x, y, radius, top, x0, y0, binm, nbx, nby, block):
    """CSR bin lists (every bin a rock's bounding circle touches) and per-block highest tops."""
    n = x.shape[0]
    counts = np.zeros(nbx * nby + 1, np.int64)
    for k in range(n):
        bx0, bx1, by0, by1 = _bin_range(x[k], y[k], radius[k], x0, y0, binm, nbx, nby)
        for by in range(by0, by1 + 1):
            for bx in range(bx0, bx1 + 1):
                counts[by * nbx + bx + 1] += 1
    start = np.empty(nbx * nby + 1, np.int32)
    acc = 0
    for b in range(nbx * nby + 1):
        acc += counts[b]
        start[b] = acc
    index = np.empty(acc, np.int32)
    fill = np.zeros(nbx * nby, np.int64)
    nkx = (nbx + block - 1) // block
    nky = (nby + block - 1) // block
    btop = np.full((nky, nkx), -np.inf)
    for k in range(n):
        bx0, bx1, by0, by1 = _bin_range(x[k], y[k], radius[k], x0, y0, binm, nbx, nby)
        for by in range(by0, by1 + 1):
            for bx in range(bx0, bx1 + 1):
                b = by * nbx + bx
                index[start[b] + fill[b]] = k
                fill[b] += 1
                if top[k] > btop[by // block, bx // block]:
                    btop[by // block, bx // block] = top[k]
    return start, index, btop


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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
def _blocked(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh):
    """True when the ray from p toward s meets the ellipsoid ahead of p (or p is inside it)."""
    aa, bb, cc = _unit_sphere_quadratic(px, py, pz, sx, sy, sz, cx, cy, cz, a, hh)
    if cc < 0.0:
        return True
    disc = bb * bb - aa * cc
    if disc < 0.0:
        return False
    return (-bb - math.sqrt(disc)) / aa > _EPS_T


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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
    return K._disk_fraction(m0 / g, sun_radius)


# --------------------------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _walk(kind, ox, oy, oz, dx, dy, dz, ta, tb, excl, gx0, gy0, binm, nbx, nby, block, start, index, btop,
          rx, ry, rr, rh, rb, e1x, e1y, e1z, e2x, e2y, e2z, sun_radius):
    """Walk the rock bins along the ray o + t d, t in [ta, tb] (already clipped to the grid and
    to the rocks' height slab). ``kind`` 0: nearest rock hit, returns (t, rock) or (-1, -1);
    1: hard shadow, returns (0, rock) for the first rock met (else (1, -1)); 2: penumbra,
    returns (visible fraction of the solar disk, -1). Rock ``excl`` is skipped."""
    ibin = 1.0 / binm
    gu = (ox - gx0) * ibin
    gv = (gy0 - oy) * ibin
    du, dv, idu, idv, _ = K._grid_dir(dx * ibin, -dy * ibin)
    nu = 1e-9 if du > 0.0 else (-1e-9 if du < 0.0 else 0.0)
    nv = 1e-9 if dv > 0.0 else (-1e-9 if dv < 0.0 else 0.0)
    su = 1 if du > 0.0 else -1
    sv = 1 if dv > 0.0 else -1
    pu = 1 if du > 0.0 else 0
    pv = 1 if dv > 0.0 else 0
    nkx = btop.shape[1]
    nky = btop.shape[0]
    sb = float(block)
    best_t = tb
    best_id = -1
    frac = 1.0
    t = ta
    ku = min(max(int(math.floor((gu + du * t + nu) / sb)), 0), nkx - 1)
    kv = min(max(int(math.floor((gv + dv * t + nv) / sb)), 0), nky - 1)
    for _ in range(_MAX_STEPS):
        tu = ((ku + pu) * sb - gu) * idu if du != 0.0 else np.inf
        tv = ((kv + pv) * sb - gv) * idv if dv != 0.0 else np.inf
        step_u = tu < tv
        te = min(tu if step_u else tv, best_t)
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
                    if kind == 0:
                        th = _ellipsoid_t(ox, oy, oz, dx, dy, dz, rx[k], ry[k], rb[k], rr[k], rh[k])
                        if th > 0.0 and th < best_t:
                            best_t = th
                            best_id = k
                    elif kind == 1:
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
                if tx >= th_ or tx >= best_t:
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
        if te >= best_t or te >= tb:
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
    if kind == 0:
        if best_id < 0:
            return -1.0, -1
        return best_t, best_id
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


@njit(cache=True, error_model="numpy")
def _sun_basis(sun):
    """Two unit vectors perpendicular to the sun direction."""
    if abs(sun[2]) < 0.9:
        ax, ay, az = 0.0, 0.0, 1.0
    else:
        ax, ay, az = 1.0, 0.0, 0.0
    e1x = sun[1] * az - sun[2] * ay
    e1y = sun[2] * ax - sun[0] * az
    e1z = sun[0] * ay - sun[1] * ax
    n = math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
    e1x /= n
    e1y /= n
    e1z /= n
    e2x = sun[1] * e1z - sun[2] * e1y
    e2y = sun[2] * e1x - sun[0] * e1z
    e2z = sun[0] * e1y - sun[1] * e1x
    return e1x, e1y, e1z, e2x, e2y, e2z


@njit(cache=True, error_model="numpy")
def _sun_visible(px, py, pz, excl, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                 gx0, gy0, binm, nbx, nby, block, start, index, btop, rx, ry, rr, rh, rb, bot, top):
    """Fraction of the solar disk not hidden by rocks, seen from p (1 or 0 with hard shadows)."""
    if sun[2] <= 0.0 or pz > top:
        return 1.0
    # the disk's upper edge leaves the slab last; penumbra rays are walked along the centre ray
    t0, t1 = _clip(px, py, pz, sun[0], sun[1], sun[2], 0.0, _BIG, gx0, gy0, nbx * binm, nby * binm, bot, top)
    if t0 > t1 or _quick_miss(px, py, pz, sun[0], sun[1], sun[2], t0, t1, gx0, gy0, binm, block, btop):
        return 1.0
    f, _k = _walk(shadow_mode, px, py, pz, sun[0], sun[1], sun[2], t0, t1, excl, gx0, gy0, binm, nbx, nby, block,
                  start, index, btop, rx, ry, rr, rh, rb, e1x, e1y, e1z, e2x, e2y, e2z, sun_radius)
    return f


# --------------------------------------------------------------------------------------------
# per-frame kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True, error_model="numpy")
def rock_hits(rc, utab, width, height, t_img, tmax, gx0, gy0, binm, nbx, nby, block, start, index, btop,
              rx, ry, rr, rh, rb, bot, top, mask, hit_id, hit_t):
    """Nearest rock hit of every pixel's ray in front of its terrain hit (``t_img``, NaN = sky):
    rock number in ``hit_id`` (-1 none) and range in ``hit_t``; only pixels with ``mask`` set
    are cast (see :func:`splat_masks`). Returns the number of hits."""
    nhit = np.zeros(height, np.int64)
    wx = nbx * binm
    wy = nby * binm
    for i in prange(height):
        for j in range(width):
            hit_id[i, j] = -1
            if mask[i, j] == 0:
                continue
            ox, oy, oz, dx, dy, dz = K._ray(i, j, rc, utab)
            tt = t_img[i, j]
            t1 = tmax if not (tt >= 0.0) else float(tt)
            t0, t1 = _clip(ox, oy, oz, dx, dy, dz, 0.0, t1, gx0, gy0, wx, wy, bot, top)
            if t0 > t1 or _quick_miss(ox, oy, oz, dx, dy, dz, t0, t1, gx0, gy0, binm, block, btop):
                continue
            th, k = _walk(0, ox, oy, oz, dx, dy, dz, t0, t1, -1, gx0, gy0, binm, nbx, nby, block, start, index,
                          btop, rx, ry, rr, rh, rb, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            if k >= 0 and th < t1:
                hit_id[i, j] = k
                hit_t[i, j] = th
                nhit[i] += 1
    return nhit.sum()


@njit(cache=True, inline="always", error_model="numpy")
def _margin_at(margin, u, v):
    """The terrain's sun margin at grid point (u, v), interpolated on its triangle like the terrain
    shading does."""
    nr = margin.shape[0]
    nc = margin.shape[1]
    c = min(max(int(math.floor(u)), 0), nc - 2)
    r = min(max(int(math.floor(v)), 0), nr - 2)
    a = min(max(u - c, 0.0), 1.0)
    b = min(max(v - r, 0.0), 1.0)
    if a >= b:
        return (1.0 - a) * margin[r, c] + (a - b) * margin[r, c + 1] + b * margin[r + 1, c + 1]
    return (1.0 - b) * margin[r, c] + (b - a) * margin[r + 1, c] + a * margin[r + 1, c + 1]


@njit(cache=True, parallel=True, error_model="numpy")
def shade_rocks(rc, utab, width, height, hit_id, hit_t, x0, y0, res, sun, margin, shadow_mode, sun_radius,
                model, pp, full, gx0, gy0, binm, nbx, nby, block, start, index, btop, rx, ry, rr, rh, rb, bot, top,
                mask, t_img, rad, inc, emi, pha, lit, nrm, pts):
    """Shade the rock pixels (``hit_id`` >= 0): range, point, analytic normal, angles, terrain
    shadow (margin map at the point) times rock shadow, photometry; and darken the terrain
    pixels that lie in a rock's shadow (their lit fraction and reflectance scaled by the part of
    the solar disk the rocks leave visible; only terrain pixels with ``mask`` set are tested)."""
    e1x, e1y, e1z, e2x, e2y, e2z = _sun_basis(sun)
    wx = nbx * binm
    wy = nby * binm
    for i in prange(height):
        for j in range(width):
            k = hit_id[i, j]
            if k < 0:
                tt = t_img[i, j]
                if mask[i, j] == 0 or shadow_mode == 0 or not (tt >= 0.0) or not (lit[i, j] > 0.0) or sun[2] <= 0.0:
                    continue
                ox, oy, oz, dx, dy, dz = K._ray(i, j, rc, utab)
                t = float(tt)
                px = ox + t * dx
                py = oy + t * dy
                pz = oz + t * dz
                t0, t1 = _clip(px, py, pz, sun[0], sun[1], sun[2], 0.0, _BIG, gx0, gy0, wx, wy, bot, top)
                if t0 > t1 or _quick_miss(px, py, pz, sun[0], sun[1], sun[2], t0, t1, gx0, gy0, binm, block, btop):
                    continue
                f = _sun_visible(px, py, pz, -1, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                                 gx0, gy0, binm, nbx, nby, block, start, index, btop, rx, ry, rr, rh, rb, bot, top)
                if f < 1.0:
                    lit[i, j] = lit[i, j] * f
                    rad[i, j] = rad[i, j] * f
                continue
            ox, oy, oz, dx, dy, dz = K._ray(i, j, rc, utab)
            t = hit_t[i, j]
            px = ox + t * dx
            py = oy + t * dy
            pz = oz + t * dz
            a = rr[k]
            hh = rh[k]
            nx = (px - rx[k]) / (a * a)
            ny = (py - ry[k]) / (a * a)
            nz = (pz - rb[k]) / (hh * hh)
            nn = math.sqrt(nx * nx + ny * ny + nz * nz)
            nx /= nn
            ny /= nn
            nz /= nn
            mu0 = nx * sun[0] + ny * sun[1] + nz * sun[2]
            mu = -(nx * dx + ny * dy + nz * dz)
            cosg = -(sun[0] * dx + sun[1] * dy + sun[2] * dz)
            f = 1.0
            if shadow_mode > 0:
                m = _margin_at(margin, (px - x0) / res - 0.5, (y0 - py) / res - 0.5)
                if shadow_mode == 1:
                    f = 1.0 if m > 0.0 else 0.0
                else:
                    f = K._disk_fraction(m, sun_radius)
                if f > 0.0 and mu0 > 0.0:
                    f *= _sun_visible(px, py, pz, k, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                                      gx0, gy0, binm, nbx, nby, block, start, index, btop, rx, ry, rr, rh, rb, bot,
                                      top)
            t_img[i, j] = t
            K._write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, model, pp, full, rad, inc, emi, pha, lit,
                        nrm, pts)


@njit(cache=True, error_model="numpy")
def frame_bounds(rc, utab, width, height, t_img, zlo, zhi, rx0, rx1, ry0, ry1):
    """(x min, x max, y min, y max, z min) of the points where the frame's rays can meet a rock,
    and False (every ray bounded; see below); serial: a few ms per megapixel, and a parallel loop
    would triple its compile time.

    A ray with a terrain hit contributes the hit. A sky ray (NaN range) can still meet a rock
    where it crosses the rocks' slab [``zlo``, ``zhi``] over their rectangle [rx0, rx1] x [ry0,
    ry1]: it contributes both ends of that stretch of its path (the stretch lies in the box of its
    ends); a sky ray that never enters the slab over the rectangle contributes nothing."""
    lo = np.full((height, 3), np.inf)
    hi = np.full((height, 2), -np.inf)
    for i in range(height):
        for j in range(width):
            tt = t_img[i, j]
            ox, oy, oz, dx, dy, dz = K._ray(i, j, rc, utab)
            if tt >= 0.0:
                ta = float(tt)
                tb = ta
            else:
                ta = 0.0
                tb = np.inf
                if dz < 0.0:
                    if oz > zhi:
                        ta = (zhi - oz) / dz
                    tb = (zlo - oz) / dz
                elif oz > zhi:
                    continue
                elif dz > 0.0:
                    tb = (zhi - oz) / dz
                ta, tb, ok = K.slab_clip(ox, dx, rx0, rx1, ta, tb)
                if not ok:
                    continue
                ta, tb, ok = K.slab_clip(oy, dy, ry0, ry1, ta, tb)
                if not ok:
                    continue
                if not (ta <= tb) or not math.isfinite(tb):
                    continue
            for t in (ta, tb):
                x = ox + t * dx
                y = oy + t * dy
                z = oz + t * dz
                lo[i, 0] = min(lo[i, 0], x)
                hi[i, 0] = max(hi[i, 0], x)
                lo[i, 1] = min(lo[i, 1], y)
                hi[i, 1] = max(hi[i, 1], y)
                lo[i, 2] = min(lo[i, 2], z)
    return lo[:, 0].min(), hi[:, 0].max(), lo[:, 1].min(), hi[:, 1].max(), lo[:, 2].min(), False


@njit(cache=True, error_model="numpy")
def gather_rocks(start, index, nbx, by0, by1, bx0, bx1, nrocks):
    """The rocks listed in bins rows by0..by1, columns bx0..bx1 (each once, ascending)."""
    seen = np.zeros(nrocks, np.bool_)
    n = 0
    for by in range(by0, by1 + 1):
        for bx in range(bx0, bx1 + 1):
            b = by * nbx + bx
            for q in range(start[b], start[b + 1]):
                k = index[q]
                if not seen[k]:
                    seen[k] = True
                    n += 1
    out = np.empty(n, np.int64)
    m = 0
    for k in range(nrocks):
        if seen[k]:
            out[m] = k
            m += 1
    return out


@njit(cache=True, error_model="numpy")
def _splat_box(x0, x1, y0, y1, z0, z1, sx, sy, sz, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, mask):
    """Mark in ``mask`` the pixel box (plus a one-pixel border) of the projection of the ENU box
    [x0, x1] x [y0, y1] x [z0, z1] swept by the vector (sx, sy, sz). A swept box wholly behind
    the camera marks nothing; one that straddles the camera's plane is clipped to its front
    part (the hull of its corners in front and of the points where the segments between a front
    and a back corner cross the plane z_cam = 1e-6 m), whose image box is marked."""
    height = mask.shape[0]
    width = mask.shape[1]
    eps = 1e-6
    cam = np.empty((16, 3))
    nfront = 0
    for c in range(16):
        x = x1 if (c & 1) else x0
        y = y1 if (c & 2) else y0
        z = z1 if (c & 4) else z0
        if c & 8:
            x += sx
            y += sy
            z += sz
        wx = x - pos[0]
        wy = y - pos[1]
        wz = z - pos[2]
        cam[c, 0] = rot[0, 0] * wx + rot[1, 0] * wy + rot[2, 0] * wz
        cam[c, 1] = rot[0, 1] * wx + rot[1, 1] * wy + rot[2, 1] * wz
        cam[c, 2] = rot[0, 2] * wx + rot[1, 2] * wy + rot[2, 2] * wz
        if ortho or cam[c, 2] > eps:
            nfront += 1
    if nfront == 0:
        return
    umin = 1e300
    umax = -1e300
    vmin = 1e300
    vmax = -1e300
    for a in range(16):
        if not (ortho or cam[a, 2] > eps):
            continue
        u, v = _project_cam(cam[a, 0], cam[a, 1], cam[a, 2], fx, fy, cx, cy, k1, k2, ortho, gsd)
        umin = min(umin, u)
        umax = max(umax, u)
        vmin = min(vmin, v)
        vmax = max(vmax, v)
        if nfront < 16 and (k1 != 0.0 or k2 != 0.0):
            # the distortion polynomial means nothing far outside the image: mark all of it
            umin, vmin, umax, vmax = -1e300, -1e300, 1e300, 1e300
        elif nfront < 16:
            for b in range(16):
                if cam[b, 2] > eps:
                    continue
                f = (cam[a, 2] - eps) / (cam[a, 2] - cam[b, 2])
                u, v = _project_cam(cam[a, 0] + f * (cam[b, 0] - cam[a, 0]), cam[a, 1] + f * (cam[b, 1] - cam[a, 1]),
                                    eps, fx, fy, cx, cy, k1, k2, ortho, gsd)
                umin = min(umin, u)
                umax = max(umax, u)
                vmin = min(vmin, v)
                vmax = max(vmax, v)
    if umax < -2.0 or vmax < -2.0 or umin > width + 1.0 or vmin > height + 1.0:
        return
    j0 = int(max(math.floor(umin) - 1.0, 0.0))
    j1 = int(min(math.ceil(umax) + 1.0, width - 1.0))
    i0 = int(max(math.floor(vmin) - 1.0, 0.0))
    i1 = int(min(math.ceil(vmax) + 1.0, height - 1.0))
    for i in range(i0, i1 + 1):
        for j in range(j0, j1 + 1):
            mask[i, j] = 1


@njit(cache=True, inline="always", error_model="numpy")
def _project_cam(xc, yc, zc, fx, fy, cx, cy, k1, k2, ortho, gsd):
    """Pixel (col, row) of a point in camera coordinates (in front of a perspective camera)."""
    if ortho:
        return xc / gsd + cx, yc / gsd + cy
    xn = xc / zc
    yn = yc / zc
    r2 = xn * xn + yn * yn
    f = 1.0 + k1 * r2 + k2 * r2 * r2
    return fx * xn * f + cx, fy * yn * f + cy


@njit(cache=True, parallel=True, error_model="numpy")
def shadow_paths(rx, ry, rh, rb, sun, reach, h, mip, offs, mrows, mcols, zmin, zmax, x0, y0, res):
    """Length (m) of the anti-sun ray from each rock's top to the terrain (cast on the DEM), -1
    where it meets none within ``reach``."""
    n = rx.shape[0]
    out = np.empty(n)
    for k in prange(n):
        u = (rx[k] - x0) / res - 0.5
        v = (y0 - ry[k]) / res - 0.5
        out[k] = K.cast_ray(h, mip, offs, mrows, mcols, zmin, zmax, u, v, rb[k] + rh[k], -sun[0] / res, sun[1] / res,
                            -sun[2], reach)
    return out


@njit(cache=True, error_model="numpy")
def splat_masks(cand, rx, ry, rr, rh, rb, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, sun, shadows, reach,
                paths, mask_cam, mask_sun):
    """Pixels worth testing, rock by rock (object order): ``mask_cam`` covers the image box of
    each candidate rock's bounding box (the camera rays that can meet it); with ``shadows``,
    ``mask_sun`` covers the image box of the rock's bounding box swept away from the Sun over
    the length its shadow can have: the path of the anti-sun ray from the rock's top to the
    terrain (``paths``, from :func:`shadow_paths` with a reach at least ``reach``), +25 % and
    the rock's diameter, at most ``reach`` (the length after which the ray is below every
    visible terrain point)."""
    for q in range(cand.shape[0]):
        k = cand[q]
        a = rr[k]
        x_0 = rx[k] - a
        x_1 = rx[k] + a
        y_0 = ry[k] - a
        y_1 = ry[k] + a
        z_0 = rb[k] - rh[k]
        z_1 = rb[k] + rh[k]
        _splat_box(x_0, x_1, y_0, y_1, z_0, z_1, 0.0, 0.0, 0.0, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot,
                   mask_cam)
        if shadows and sun[2] > 0.0:
            length = reach
            tt = paths[k]
            if 0.0 <= tt <= reach:
                length = min(1.25 * tt + 2.0 * a, reach)
            _splat_box(x_0, x_1, y_0, y_1, z_0, z_1, -sun[0] * length, -sun[1] * length, -sun[2] * length,
                       fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, mask_sun)


def _blocks_top(rocks: "RockBins", xmin: float, xmax: float, ymin: float, ymax: float) -> float:
    """Highest rock top listed in the blocks overlapping the box (site ENU metres)."""
    sb = rocks.bin_m * _BLOCK
    nky, nkx = rocks.block_top.shape
    c0 = min(max(int(math.floor((xmin - rocks.x0_m) / sb)), 0), nkx - 1)
    c1 = min(max(int(math.floor((xmax - rocks.x0_m) / sb)), 0), nkx - 1)
    r0 = min(max(int(math.floor((rocks.y0_m - ymax) / sb)), 0), nky - 1)
    r1 = min(max(int(math.floor((rocks.y0_m - ymin) / sb)), 0), nky - 1)
    return float(rocks.block_top[r0:r1 + 1, c0:c1 + 1].max())


def _candidates(rocks: "RockBins", camera, bounds, sun: np.ndarray, top_sun: float) -> tuple[np.ndarray, float]:
    """Rocks that can appear in, or cast a shadow into, the frame, and the longest shadow path
    (m along the sun ray) that can end on a visible point: the rocks listed in the bins under
    the box of the points where rays can meet rocks (:func:`frame_bounds`) and the camera,
    widened by that reach; all without bounds (``sky`` set: orthographic views)."""
    xmin, xmax, ymin, ymax, zmin, sky = bounds
    if sun[2] > 0.0 and math.isfinite(zmin):
        reach = max(top_sun - zmin, 0.0) / sun[2] + 2.0 * rocks.bin_m
    else:
        reach = 0.0
    if sky or camera.projection == "orthographic":
        return np.arange(len(rocks), dtype=np.int64), reach
    px, py = float(camera.position_enu[0]), float(camera.position_enu[1])
    w = reach * math.hypot(sun[0], sun[1]) + rocks.bin_m
    b = rocks.bin_m
    bx0 = min(max(int(math.floor((min(xmin, px) - w - rocks.x0_m) / b)), 0), rocks.nbx - 1)
    bx1 = min(max(int(math.floor((max(xmax, px) + w - rocks.x0_m) / b)), 0), rocks.nbx - 1)
    by0 = min(max(int(math.floor((rocks.y0_m - max(ymax, py) - w) / b)), 0), rocks.nby - 1)
    by1 = min(max(int(math.floor((rocks.y0_m - min(ymin, py) + w) / b)), 0), rocks.nby - 1)
    return gather_rocks(rocks.start, rocks.index, rocks.nbx, by0, by1, bx0, bx1, len(rocks)), reach


def local_tops(rocks: "RockBins", camera, bounds, sun: np.ndarray) -> tuple[float, float]:
    """Height slab tops for this frame: (camera rays, sun rays). A camera ray's ground track runs
    from the camera's ground point to its terrain hit, inside the box of the hits and the camera:
    only rocks listed in the blocks under that box can meet it. A sun ray from a visible point
    climbs at tan(e) toward the Sun, so it can only meet rocks within (top - z min) / tan(e)
    sunward of the box; the top is raised until it covers that reach. Without bounds (``sky``
    set: orthographic views) the highest rock of the site."""
    xmin, xmax, ymin, ymax, zmin, sky = bounds
    if sky or camera.projection == "orthographic":
        return rocks.top_max, rocks.top_max
    px, py = float(camera.position_enu[0]), float(camera.position_enu[1])
    top_cam = _blocks_top(rocks, min(xmin, px), max(xmax, px), min(ymin, py), max(ymax, py))
    horiz = math.hypot(sun[0], sun[1])
    if sun[2] <= 0.0:
        return top_cam, top_cam
    top = _blocks_top(rocks, xmin, xmax, ymin, ymax)
    for _ in range(32):
        reach = max(top - zmin, 0.0) * horiz / sun[2] + rocks.bin_m
        ex = reach * sun[0] / horiz if horiz > 0.0 else 0.0
        ey = reach * sun[1] / horiz if horiz > 0.0 else 0.0
        new = _blocks_top(rocks, min(xmin, xmin + ex), max(xmax, xmax + ex), min(ymin, ymin + ey),
                          max(ymax, ymax + ey))
        if not new > top:
            break
        top = new
    else:
        top = rocks.top_max
    return top_cam, max(top, top_cam)


# --------------------------------------------------------------------------------------------
# driver (called by render())
# --------------------------------------------------------------------------------------------
def frame_needs_rocks(rocks: RockBins, camera, range_m: np.ndarray) -> bool:
    """False when even the nearest terrain pixel of the frame is wider than the largest table rock
    (every rock would be sub-pixel): the pass is skipped then. Also False for an all-sky frame."""
    if not np.isfinite(range_m).any():
        return False
    if camera.projection == "orthographic":
        footprint = camera.gsd_m
    else:
        footprint = float(np.nanmin(range_m)) / max(camera.fx_px, camera.fy_px)
    return footprint <= rocks.diameter_max_m


def _shadow_paths(scene, rocks: RockBins, sun: np.ndarray) -> np.ndarray:
    """:func:`shadow_paths` of every rock for this Sun, with the longest reach any frame can ask
    for (top of the highest rock above the lowest terrain); cached on the rocks for the last few
    Sun directions (a descent renders thousands of frames under one Sun)."""
    key = tuple(float(c) for c in sun)
    cache = rocks._paths
    if key not in cache:
        reach = max(rocks.top_max - scene.zmin, 0.0) / sun[2] + 2.0 * rocks.bin_m + 1.0
        with rocks._paths_lock:
            if key not in cache:
                if len(cache) >= 4:
                    cache.pop(next(iter(cache)))
                cache[key] = shadow_paths(rocks.x_m, rocks.y_m, rocks.height_m, rocks.base_m, sun, reach,
                                          scene.heights, scene.mip, scene.mip_offs, scene.mip_rows, scene.mip_cols,
                                          scene.zmin, scene.zmax, scene.x0_m, scene.y0_m, scene.resolution_m)
    return cache[key]


def apply_rocks(scene, camera, lay: dict, sun: np.ndarray, model, mode: int, full: bool, tmax: float,
                utab: np.ndarray, clip_rad: float, sun_radius: float) -> int:
    """Add the scene's table rocks to the layers ``lay`` of a frame rendered by the terrain pass
    (in place; see the module docstring). Returns the number of rock pixels; 0 when the pass was
    skipped because every rock would be sub-pixel (:func:`frame_needs_rocks`)."""
    rocks: RockBins | None = scene.rocks
    if rocks is None or not frame_needs_rocks(rocks, camera, lay["range_m"]):
        return 0
    hgt, wid = camera.height_px, camera.width_px
    rc = K._ray_consts(camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2,
                       camera.projection == "orthographic", camera.gsd_m, camera.position_enu,
                       camera.rotation_enu_from_cam)
    g = rocks.grid_args()[:-1]
    hit_id = np.empty((hgt, wid), np.int32)
    hit_t = np.empty((hgt, wid), np.float64)
    t_img = lay["range_m"]
    ortho = camera.projection == "orthographic"
    if ortho:               # (no bound: every rock is a candidate, the slab tops the highest rock)
        bounds = (-np.inf, np.inf, -np.inf, np.inf, -np.inf, True)
    else:
        bounds = frame_bounds(rc, utab, wid, hgt, t_img, rocks.bottom_min, rocks.top_max, rocks.x0_m,
                              rocks.x0_m + rocks.nbx * rocks.bin_m, rocks.y0_m - rocks.nby * rocks.bin_m, rocks.y0_m)
        if not math.isfinite(bounds[0]):     # no ray can meet a rock
            return 0
    top_cam, top_sun = local_tops(rocks, camera, bounds, sun)
    cand, reach = _candidates(rocks, camera, bounds, sun, top_sun)
    mask_cam = np.zeros((hgt, wid), np.uint8)
    mask_sun = np.zeros((hgt, wid), np.uint8)
    paths = _shadow_paths(scene, rocks, sun) if mode > 0 and sun[2] > 0.0 else np.empty(0)
    splat_masks(cand, rocks.x_m, rocks.y_m, rocks.radius_m, rocks.height_m, rocks.base_m, camera.fx_px, camera.fy_px,
                camera.cx_px, camera.cy_px, camera.k1, camera.k2, ortho, camera.gsd_m, camera.position_enu,
                camera.rotation_enu_from_cam, sun, mode > 0, reach, paths, mask_cam, mask_sun)
    n = rock_hits(rc, utab, wid, hgt, t_img, tmax, *g, top_cam, mask_cam, hit_id, hit_t)
    if mode > 0:
        if n > 0:
            # the margin tiles under the rocks seen (a rock is at most one DEM pixel from its centre's vertex)
            ids = np.unique(hit_id[hit_id >= 0])
            col = np.floor((rocks.x_m[ids] - scene.x0_m) / scene.resolution_m - 0.5).astype(np.int64)
            row = np.floor((scene.y0_m - rocks.y_m[ids]) / scene.resolution_m - 0.5).astype(np.int64)
            rr = np.concatenate([row + d for d in (-1, 0, 1) for _ in range(3)])
            cc = np.concatenate([col + d for _ in range(3) for d in (-1, 0, 1)])
            nr, nc = scene.heights.shape
            margin = scene.margin_map(sun, rows=np.clip(rr, 0, nr - 1), cols=np.clip(cc, 0, nc - 1), clip_rad=clip_rad)
        else:
            margin, _done, _tile = scene._shadow_arrays(sun, clip_rad)
    else:
        margin = np.zeros((2, 2), np.float32)
    one = np.empty((1, 1), np.float32)
    one3 = np.empty((1, 1, 3), np.float32)
    out = (lay["reflectance"], lay.get("incidence_rad", one), lay.get("emission_rad", one), lay.get("phase_rad", one),
           lay["lit_fraction"], lay.get("normal_enu", one3), lay.get("points_enu", np.empty((1, 1, 3))))
    shade_rocks(rc, utab, wid, hgt, hit_id, hit_t, scene.x0_m, scene.y0_m, scene.resolution_m, sun, margin, mode,
                sun_radius, model.model_id, model.packed(), full, *g, top_sun, mask_sun, t_img, *out)
    return int(n)
