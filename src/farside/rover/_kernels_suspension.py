"""Numba kernels for the ground under the rover and the wheel tracks (private).

* :func:`ground_kernel` -- DEM surface height (farside.terrain.surface, the same as
  :meth:`farside.terrain.Terrain.height_at`) with the rocks of a bucket index (their polyhedra,
  :func:`farside.terrain.rocks.rock_shapes`), at many points.
* :func:`rut_kernel` -- carve one wheel's polyline rut into a height-delta raster.
"""

from __future__ import annotations

import math

from numba import njit

from farside.terrain._kernels_rockshape import C_H, C_SEAT, C_X, C_Y, rock_top
from farside.terrain.surface import surface_height


@njit(cache=True)
def _find(cells, key):
    """Index of ``key`` in the sorted array ``cells``, -1 when absent (binary search)."""
    lo = 0
    hi = cells.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if cells[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < cells.shape[0] and cells[lo] == key:
        return lo
    return -1


@njit(cache=True)
def ground_kernel(h, x0, y0, res, px, py, gx0, gy0, cell, nx, ny, cells, starts, ids,
                  g, big, reach, bz, bgx, bgy, out_z, out_rock):
    """Ground height and the tallest rock under each point.

    ``h`` is the DEM (row 0 north, NW corner ``x0, y0``, pixel ``res``). The rock buckets:
    ``cells`` (sorted occupied cell ids ``iy * nx + ix`` of a grid of ``cell`` metres anchored at
    ``gx0, gy0``), ``starts`` (CSR offsets into ``ids``). Rock k is packed row ``g[k]``
    (:mod:`farside.terrain._kernels_rockshape`: its polyhedron, fillet and seat); ``big[k]`` marks
    a rock already stamped into the DEM, near which (within ``reach[k]`` of its centre) the DEM is
    replaced by the rock's local base plane ``bz + bgx dx + bgy dy``. The ground is the max of that
    base (the DEM elsewhere) and ``seat + rock_top`` of every rock, the rule of the DEM stamp
    (:func:`farside.terrain.rocks.stamp_rocks`). ``out_z`` gets the ground height, ``out_rock``
    the height_m of the tallest rock whose footprint holds the point (0 if none).
    """
    n = px.shape[0]
    for p in range(n):
        x = px[p]
        y = py[p]
        zdem = surface_height(h, x0, y0, res, x, y)
        zrock = -1e300
        zbig = -1e300
        inzone = False
        peak = 0.0
        ix = int(math.floor((x - gx0) / cell))
        iy = int(math.floor((y - gy0) / cell))
        if 0 <= ix < nx and 0 <= iy < ny:
            c = _find(cells, iy * nx + ix)
            if c >= 0:
                for q in range(starts[c], starts[c + 1]):
                    k = ids[q]
                    dx = x - g[k, C_X]
                    dy = y - g[k, C_Y]
                    v, on = rock_top(g, k, dx, dy)
                    if on and g[k, C_H] > peak:
                        peak = g[k, C_H]
                    if v > 0.0 and g[k, C_SEAT] + v > zrock:
                        zrock = g[k, C_SEAT] + v
                    if big[k] and dx * dx + dy * dy < reach[k] * reach[k]:
                        inzone = True
                        zb = bz[k] + bgx[k] * dx + bgy[k] * dy
                        if zb > zbig:
                            zbig = zb
        out_z[p] = max(zbig if inzone else zdem, zrock)
        out_rock[p] = peak


@njit(cache=True)
def _coverage(t):
    """Box-filter coverage of a pixel whose centre is ``t`` pixels inside an edge."""
    v = t + 0.5
    if v < 0.0:
        return 0.0
    if v > 1.0:
        return 1.0
    return v


@njit(cache=True)
def rut_kernel(carve, berm, x0, y0, res, wx, wy, depth, s_along, ok, half_w, berm_w, berm_frac,
               g_amp, g_pitch):
    """Carve one wheel's rut along the polyline ``(wx, wy)`` (metres, site ENU) into ``carve``.

    ``depth[k]`` is the rut depth (sinkage) at vertex k, linear along each segment; ``ok[k]``
    says whether segment k -> k+1 is carved. The cross profile is a flat-bottomed rut of half
    width ``half_w`` with box-filter anti-aliasing across the edges (so the carved volume is
    exact to the pixelisation of a straight edge); interior joints are round (distance to the
    nearest segment; the berm has no round joins), the polyline's two ends are cut flat. Ruts
    combine by ``max`` (a wheel following another in its rut does not deepen it). Grouser marks
    add ``g_amp * (1 + cos(2 pi s / g_pitch)) / 2`` at along-path distance ``s`` (``s_along[k]``
    at the vertices). If ``berm_frac > 0``, a berm of width ``berm_w`` each side holds that
    fraction of the carved cross-section (``berm`` raster, combined by max). Returns the number
    of segments clipped by the raster edge.
    """
    nr, nc = carve.shape
    nseg = wx.shape[0] - 1
    clipped = 0
    reach = half_w + berm_w + res
    bh_scale = berm_frac * half_w / berm_w if berm_w > 0.0 else 0.0
    # first/last carved vertex of each connected run: flat caps there
    for k in range(nseg):
        if not ok[k]:
            continue
        ax = wx[k]
        ay = wy[k]
        bx = wx[k + 1]
        by = wy[k + 1]
        ddx = bx - ax
        ddy = by - ay
        seglen = math.sqrt(ddx * ddx + ddy * ddy)
        if seglen <= 0.0:
            continue
        ux = ddx / seglen
        uy = ddy / seglen
        cap_start = k == 0 or not ok[k - 1]
        cap_end = k == nseg - 1 or not ok[k + 1]
        xmin = min(ax, bx) - reach
        xmax = max(ax, bx) + reach
        ymin = min(ay, by) - reach
        ymax = max(ay, by) + reach
        j0 = int(math.floor((xmin - x0) / res - 0.5)) + 1
        j1 = int(math.floor((xmax - x0) / res - 0.5))
        i0 = int(math.floor((y0 - ymax) / res - 0.5)) + 1
        i1 = int(math.floor((y0 - ymin) / res - 0.5))
        if j0 < 0 or i0 < 0 or j1 > nc - 1 or i1 > nr - 1:
            clipped += 1
        j0 = max(j0, 0)
        i0 = max(i0, 0)
        j1 = min(j1, nc - 1)
        i1 = min(i1, nr - 1)
        for i in range(i0, i1 + 1):
            py = y0 - (i + 0.5) * res
            for j in range(j0, j1 + 1):
                px = x0 + (j + 0.5) * res
                vx = px - ax
                vy = py - ay
                t = vx * ux + vy * uy            # along the segment, m
                cross = abs(-vx * uy + vy * ux)  # across, m
                along_cov = 1.0
                joint = False
                if t < 0.0:
                    if cap_start:
                        along_cov = _coverage(t / res)
                        dist = cross
                    else:
                        dist = math.sqrt(cross * cross + t * t)
                        joint = True
                    tc = 0.0
                elif t > seglen:
                    if cap_end:
                        along_cov = _coverage((seglen - t) / res)
                        dist = cross
                    else:
                        dist = math.sqrt(cross * cross + (t - seglen) * (t - seglen))
                        joint = True
                    tc = seglen
                else:
                    dist = cross
                    tc = t
                if along_cov <= 0.0:
                    continue
                f = tc / seglen
                d = depth[k] * (1.0 - f) + depth[k + 1] * f
                if g_amp > 0.0:
                    s = s_along[k] + tc
                    d += g_amp * 0.5 * (1.0 + math.cos(2.0 * math.pi * s / g_pitch))
                cov = _coverage((half_w - dist) / res) * along_cov
                v = cov * d
                if v > carve[i, j]:
                    carve[i, j] = v
                if bh_scale > 0.0 and not joint:
                    # berm: a flat band outside the rut, anti-aliased on both edges; not around
                    # interior joints (it would fall into the next segment's rut)
                    inner = _coverage((dist - half_w) / res)
                    outer = _coverage((half_w + berm_w - dist) / res)
                    b = min(inner, outer) * along_cov * bh_scale * d
                    if b > berm[i, j]:
                        berm[i, j] = b
    return clipped

