"""Sub-DEM rocks (private, see :mod:`farside.render._rocks`): bins and bounds.

Mesh heights under the rocks, the CSR bin lists with per-block highest tops, the rocks listed in a
range of bins, and the box where a frame's rays can meet a rock.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from farside.render._kernels_rays import _ray, slab_clip

#: bins per block side of the coarse level
_BLOCK = 16


@njit(cache=True, inline="always", error_model="numpy")
def _bin_range(x, y, radius, x0, y0, binm, nbx, nby):
    """Bins (columns bx0..bx1, rows by0..by1) that a rock's bounding circle touches."""
    bx0 = max(int(math.floor((x - radius - x0) / binm)), 0)
    bx1 = min(int(math.floor((x + radius - x0) / binm)), nbx - 1)
    by0 = max(int(math.floor((y0 - y - radius) / binm)), 0)
    by1 = min(int(math.floor((y0 - y + radius) / binm)), nby - 1)
    return bx0, bx1, by0, by1


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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
            ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
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
                ta, tb, ok = slab_clip(ox, dx, rx0, rx1, ta, tb)
                if not ok:
                    continue
                ta, tb, ok = slab_clip(oy, dy, ry0, ry1, ta, tb)
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
