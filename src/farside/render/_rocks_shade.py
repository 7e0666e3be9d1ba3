"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): per-frame hits and shading.

The nearest rock hit of every marked pixel, the rocks' shading (the hit facet's normal, terrain shadow,
other rocks' shadows, photometry) and the rocks' shadows on the terrain pixels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.render._kernels_rays import _ray
from farside.render._kernels_shading import _disk_fraction, _write_px
from farside.render._rocks_walk import _blocked, _clip, _poly_clip, _poly_normal, _poly_t, _quick_miss, _walk
from farside.terrain.surface import surface_height_rc

_BIG = 1.0e300


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
def _sun_visible(px, py, pz, excl, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                 gx0, gy0, binm, nbx, nby, block, start, index, btop, g, rb, bot, top):
    """Fraction of the solar disk not hidden by rocks, seen from p (1 or 0 with hard shadows)."""
    if sun[2] <= 0.0 or pz > top:
        return 1.0
    # the disk's upper edge leaves the slab last; penumbra rays are walked along the centre ray
    t0, t1 = _clip(px, py, pz, sun[0], sun[1], sun[2], 0.0, _BIG, gx0, gy0, nbx * binm, nby * binm, bot, top)
    if t0 > t1 or _quick_miss(px, py, pz, sun[0], sun[1], sun[2], t0, t1, gx0, gy0, binm, block, btop):
        return 1.0
    f, _k = _walk(shadow_mode, px, py, pz, sun[0], sun[1], sun[2], t0, t1, excl, gx0, gy0, binm, nbx, nby, block,
                  start, index, btop, g, rb, e1x, e1y, e1z, e2x, e2y, e2z, sun_radius)
    return f


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def rock_hits(rc, utab, width, height, t_img, tmax, cand, boxes, row_start, row_items, g, rb,
              hit_id, hit_t, nth):
    """Nearest rock hit of every pixel's ray in front of its terrain hit (``t_img``, NaN = sky):
    rock number in ``hit_id`` (-1 none) and range in ``hit_t``. Object order: each candidate
    rock ``cand[q]`` is intersected with the rays of the pixels in its image box ``boxes[q, 0:4]``
    (:func:`~farside.render._rocks_splat.rock_boxes`; the boxes of row i are ``row_items[
    row_start[i]:row_start[i + 1]]``), so a pixel costs one exact ray-polyhedron test per rock
    whose box covers it. Returns the number of hits. Rows are interleaved over the ``nth``
    threads (see ``_kernels.render_pass``): the rocks of a frame gather in a band of rows."""
    nhit = np.zeros(height, np.int64)
    per = (height + nth - 1) // nth
    for it in prange(nth * per):
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for j in range(width):
            hit_id[i, j] = -1
        for e in range(row_start[i], row_start[i + 1]):
            q = row_items[e]
            k = cand[q]
            for j in range(boxes[q, 2], boxes[q, 3] + 1):
                ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                th = _poly_t(ox, oy, oz, dx, dy, dz, g, k, rb[k])
                if not th > 0.0:
                    continue
                tt = t_img[i, j]
                if tt >= 0.0 and not th < tt:
                    continue
                if not (tt >= 0.0) and not th < tmax:
                    continue
                if hit_id[i, j] < 0:
                    hit_id[i, j] = k
                    hit_t[i, j] = th
                    nhit[i] += 1
                elif th < hit_t[i, j]:
                    hit_id[i, j] = k
                    hit_t[i, j] = th
    return nhit.sum()


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def rock_shadows_hard(rc, utab, width, height, hit_id, t_img, sun, top, cand, boxes, row_start, row_items,
                      g, rb, lit, rad, nth):
    """Hard rock shadows on the terrain pixels (``hit_id`` < 0, lit, with a range), object order:
    each candidate rock ``cand[q]`` tests the pixels of its swept shadow box ``boxes[q, 4:8]``
    (listed by row in ``row_start``/``row_items``): a pixel whose sun ray meets the rock (exact
    ray-polyhedron test from the terrain point) gets lit fraction and reflectance 0. A point above
    ``top`` (the highest rock top that can shade the frame) is never shaded."""
    if sun[2] <= 0.0:
        return
    per = (height + nth - 1) // nth
    for it in prange(nth * per):
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for e in range(row_start[i], row_start[i + 1]):
            q = row_items[e]
            k = cand[q]
            for j in range(boxes[q, 6], boxes[q, 7] + 1):
                if hit_id[i, j] >= 0 or not (lit[i, j] > 0.0):
                    continue
                tt = t_img[i, j]
                if not (tt >= 0.0):
                    continue
                ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                t = float(tt)
                pz = oz + t * dz
                if pz > top:
                    continue
                if _blocked(ox + t * dx, oy + t * dy, pz, sun[0], sun[1], sun[2], g, k, rb[k]):
                    lit[i, j] = lit[i, j] * 0.0
                    rad[i, j] = rad[i, j] * 0.0


@njit(cache=True, inline="always", error_model="numpy")
def _margin_at(margin, u, v):
    """The terrain's sun margin at grid point (u, v), interpolated on its triangle like the terrain
    shading does (the mesh interpolant of farside.terrain.surface)."""
    return surface_height_rc(margin, v, u)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def shade_rocks(rc, utab, width, height, hit_id, hit_t, x0, y0, res, sun, margin, shadow_mode, sun_radius,
                model, pp, full, gx0, gy0, binm, nbx, nby, block, start, index, btop, g, rb, bot, top,
                mask, t_img, rad, inc, emi, pha, lit, nrm, pts, nth):
    """Shade the rock pixels (``hit_id`` >= 0): range, point, the hit facet's normal, angles, terrain
    shadow (margin map at the point) times rock shadow, photometry; and darken the terrain
    pixels with ``mask`` set that lie in a rock's shadow (their lit fraction and reflectance
    scaled by the part of the solar disk the rocks leave visible, the rocks met by the walk along
    the sun ray from the point; the penumbra mode. Hard shadows on the terrain are
    :func:`rock_shadows_hard`'s, with ``mask`` all zero here)."""
    e1x, e1y, e1z, e2x, e2y, e2z = _sun_basis(sun)
    wx = nbx * binm
    wy = nby * binm
    per = (height + nth - 1) // nth
    for it in prange(nth * per):       # rows interleaved over the threads, as in rock_hits
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for j in range(width):
            k = hit_id[i, j]
            if k < 0:
                tt = t_img[i, j]
                if shadow_mode != 2 or mask[i, j] == 0 or not (tt >= 0.0) or not (lit[i, j] > 0.0) or sun[2] <= 0.0:
                    continue
                ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                t = float(tt)
                px = ox + t * dx
                py = oy + t * dy
                pz = oz + t * dz
                t0, t1 = _clip(px, py, pz, sun[0], sun[1], sun[2], 0.0, _BIG, gx0, gy0, wx, wy, bot, top)
                if t0 > t1 or _quick_miss(px, py, pz, sun[0], sun[1], sun[2], t0, t1, gx0, gy0, binm, block, btop):
                    continue
                f = _sun_visible(px, py, pz, -1, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                                 gx0, gy0, binm, nbx, nby, block, start, index, btop, g, rb, bot, top)
                if f < 1.0:
                    lit[i, j] = lit[i, j] * f
                    rad[i, j] = rad[i, j] * f
                continue
            ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
            t = hit_t[i, j]
            px = ox + t * dx
            py = oy + t * dy
            pz = oz + t * dz
            _te, _tx, face = _poly_clip(ox, oy, oz, dx, dy, dz, g, k, rb[k])
            nx, ny, nz = _poly_normal(g, k, face)
            mu0 = nx * sun[0] + ny * sun[1] + nz * sun[2]
            mu = -(nx * dx + ny * dy + nz * dz)
            cosg = -(sun[0] * dx + sun[1] * dy + sun[2] * dz)
            f = 1.0
            if shadow_mode > 0:
                m = _margin_at(margin, (px - x0) / res - 0.5, (y0 - py) / res - 0.5)
                if shadow_mode == 1:
                    f = 1.0 if m > 0.0 else 0.0
                else:
                    f = _disk_fraction(m, sun_radius)
                if f > 0.0 and mu0 > 0.0:
                    f *= _sun_visible(px, py, pz, k, sun, shadow_mode, sun_radius, e1x, e1y, e1z, e2x, e2y, e2z,
                                      gx0, gy0, binm, nbx, nby, block, start, index, btop, g, rb, bot, top)
            t_img[i, j] = t
            _write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, model, pp, full, rad, inc, emi, pha, lit,
                      nrm, pts)
