"""Numba kernels of :mod:`farside.render` (private): the frame passes.

:func:`render_pass` casts and shades every pixel of a frame, :func:`raster_hits` rasterises the
primary hits of the near field, :func:`shade_pending` shades the pixels whose sun margins were not
ready. The building blocks are split by concern:

* :mod:`~farside.render._kernels_trace`: max-mip pyramid and ray traversal of the DEM mesh (grid
  coordinates and triangle split described there);
* :mod:`~farside.render._kernels_rays`: camera rays and ray clipping (slabs, bounding ball,
  backdrop rectangles);
* :mod:`~farside.render._kernels_horizon`: the sun horizon margin map (cast shadows);
* :mod:`~farside.render._kernels_shading`: photometry and per-pixel shading;
* :mod:`~farside.render._rocks` and its ``_rocks_*`` modules: the sub-DEM rocks' post-pass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.render._kernels_rays import _ball_exit, _pixel_ray, _ray, _ray_consts, _rect_entry
from farside.render._kernels_shading import _photometry, _shade_geom, _shade_px_noinline, _sky_px, _write_geom
from farside.render._photometry_kernels import BATCH_SCRATCH_ROWS, hapke_r_tab_batch
from farside.render._kernels_trace import _clip_ray, _traverse


# --------------------------------------------------------------------------------------------
# cast and shade
# --------------------------------------------------------------------------------------------
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


#: at most this many rounds of narrowing a tile's height slab (render_pass)
_TILE_BOUND_ITERS = 4
#: blocks per side of the super-blocks (Scene.block_min2/max2) that _tile_bounds scans when a
#: footprint covers more than _SCAN_MAX_BLOCKS blocks
SUPER_BLOCK = 8
_SCAN_MAX_BLOCKS = 64

# rows of render_pass's per-tile ray buffer
_GU, _GV, _OZ, _DU, _DV, _DZ, _IU, _IV, _DM, _T0, _T1, _DX, _DY, _TH, _TM = range(15)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def render_pass(h, mip, offs, mrows, mcols, zmin, zmax, x0, y0, res,
                width, height, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, utab, tmax,
                sun, margin, done, tile, shadow_mode, sun_radius, model, pp, full, smooth,
                bmin, bmax, bsize, bmin2, bmax2, ptile, rect, pre, pre_t, lim_on, lim_t, lim_src, lim_rects, ball, nth,
                t_out, u_out, v_out, pending, rad, inc, emi, pha, lit, nrm, pts):
    """Cast and shade every pixel, in ``ptile`` x ``ptile`` pixel tiles. Each tile's rays start
    from the height bounds of the terrain under the tile's frustum (block min/max ``bmin``,
    ``bmax`` over ``bsize`` x ``bsize`` vertices), a much thinner slab than the frame's
    [zmin, zmax]. Pixels whose sun-margin tiles (``tile`` vertices wide, a power of 2) are not
    computed yet are marked in ``pending`` (which must come zeroed), with their hit u, v in
    ``u_out``, ``v_out``, for :func:`shade_pending`; returns their number.

    Only the pixels in ``rect`` (rows rect[0]..rect[1], columns rect[2]..rect[3]) can meet the
    mesh (``frame._image_rect``): the tiles outside it are sky without casting.

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
    # numba hands each thread one contiguous block of the prange's iterations (measured: chunk
    # sizes do not change that), and the costly rows of a frame (grazing rays toward the horizon,
    # the part of the view a backdrop pass casts) lie together: interleave the tile rows so that
    # thread t's block holds rows t, t + nth, t + 2 nth, ... and every thread gets a fair share
    per = (ntr + nth - 1) // nth
    for it in prange(nth * per):
        ti = it // per + (it % per) * nth
        if ti >= ntr:
            continue
        buf = np.empty((15, ptile * ptile))
        scratch = np.empty((BATCH_SCRATCH_ROWS, ptile * ptile))
        for tj in range(ntc):
            i0 = ti * ptile
            j0 = tj * ptile
            i1 = min(i0 + ptile, height) - 1
            j1 = min(j0 + ptile, width) - 1
            if i1 < rect[0] or i0 > rect[1] or j1 < rect[2] or j0 > rect[3]:
                for i in range(i0, i1 + 1):
                    for j in range(j0, j1 + 1):
                        t_out[i, j] = np.nan
                        _sky_px(i, j, full, rad, inc, emi, pha, lit, nrm, pts)
                continue
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
                # narrowed again while that helps: the hits lie where the rays cross the slab
                # [zlo, zhi], whose blocks bound the heights again (over a backdrop with the Moon's
                # curvature the frame's slab is kilometres thick, and the first footprint long)
                for _ in range(_TILE_BOUND_ITERS):
                    thick = zhi - zlo
                    zlo, zhi = _tile_bounds(i0, i1, j0, j1, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot,
                                            x0, y0, res, nr, nc, zlo, zhi, bmin, bmax, bsize, bmin2, bmax2)
                    if zhi - zlo > 0.9 * thick:
                        break
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
            # shading geometry of each hit; the photometry of the lit ones after, in a loop of its
            # own (independent iterations: the CPU overlaps the table look-ups of successive pixels)
            k = 0
            nlit = 0
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
                    f, mu0, mu, cosg, nx, ny, nz, px, py, pz = _shade_geom(h, x0, y0, res, u, v, dx, dy, dz, sun,
                                                                           margin, shadow_mode, sun_radius, smooth)
                    _write_geom(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, full, inc, emi, pha, lit, nrm, pts)
                    rad[i, j] = 0.0
                    if f > 0.0 and mu0 > 0.0 and mu > 0.0:
                        buf[_DU, nlit] = f
                        buf[_DV, nlit] = mu0
                        buf[_IU, nlit] = mu
                        buf[_IV, nlit] = cosg
                        buf[_DM, nlit] = k - 1
                        nlit += 1
            if model == 0:          # Hapke: in stages over the tile's lit pixels (same bits)
                hapke_r_tab_batch(nlit, buf[_DV], buf[_IU], buf[_IV], pp, buf[_T0], scratch)
            else:
                for q in range(nlit):
                    buf[_T0, q] = _photometry(model, buf[_DV, q], buf[_IU, q], buf[_IV, q], pp)
            for q in range(nlit):
                kk = int(buf[_DM, q])
                rad[i0 + kk // tw, j0 + kk % tw] = buf[_DU, q] * buf[_T0, q]
    return npend.sum()


# --------------------------------------------------------------------------------------------
# rasterised primary hits (near field: DEM triangles larger than a pixel)
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
def _tile_bounds(i0, i1, j0, j1, fx, fy, cx, cy, k1, k2, ortho, gsd, pos, rot, x0, y0, res, nr, nc,
                 zmin, zmax, bmin, bmax, bsize, bmin2, bmax2):
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
    # a long footprint (a grazing tile, or the first round over a curved backdrop) is scanned in
    # super-blocks of SUPER_BLOCK x SUPER_BLOCK blocks (looser, but a few dozen reads instead of
    # thousands); explicit compares, since min()/max() of a float64 and a float32 compile to a
    # call per element
    br0 = r0 // bsize
    br1 = r1 // bsize
    bc0 = c0 // bsize
    bc1 = c1 // bsize
    if (br1 - br0 + 1) * (bc1 - bc0 + 1) > _SCAN_MAX_BLOCKS:
        bmin = bmin2
        bmax = bmax2
        br0 //= SUPER_BLOCK
        br1 //= SUPER_BLOCK
        bc0 //= SUPER_BLOCK
        bc1 //= SUPER_BLOCK
    lo = bmin[br0, bc0]
    hi = bmax[br0, bc0]
    for br in range(br0, br1 + 1):
        for bc in range(bc0, bc1 + 1):
            a = bmin[br, bc]
            b = bmax[br, bc]
            lo = a if a < lo else lo
            hi = b if b > hi else hi
    return max(float(lo), zmin), min(float(hi), zmax)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
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
