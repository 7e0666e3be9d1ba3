"""Compositing half of :func:`farside.imaging.stitch_panorama`: mosaic layout, exposure gains and
multi-band blending onto an equirectangular grid.

Mosaic grid: column ``c`` is centred at azimuth ``az0 + c / s`` (azimuth 0 = world +y, increasing
clockwise toward +x, i.e. north -> east in site ENU), row ``r`` at elevation ``el0 - r / s``,
with ``s`` pixels per radian on both axes. A full-circle mosaic wraps: column ``W`` is column 0.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from farside.imaging._panorama_kernels import accumulate_band, add_normalised, max_weight, warp_maps

TWO_PI = 2.0 * math.pi


@dataclass
class Layout:
    """Mosaic grid and per-frame regions (rows r0:r0+h, unwrapped columns c0:c0+w)."""

    s: float                # px per rad
    az0: float              # azimuth of column 0, rad
    el0: float              # elevation of row 0, rad
    width: int              # mosaic size before padding
    height: int
    pad_w: int              # padded canvas (multiples of 2^bands)
    pad_h: int
    full_circle: bool
    rois: list[tuple[int, int, int, int]]


def _wrap_pi(a):
    return (a + math.pi) % TWO_PI - math.pi


def frame_extent(R: np.ndarray, f: float, w: int, h: int, n: int = 64):
    """(az_lo, az_hi, el_lo, el_hi, has_pole) of one frame's footprint; az_hi - az_lo may be
    2 pi when the frame contains the zenith or nadir."""
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    xs = np.linspace(-0.5, w - 0.5, n) - cx
    ys = np.linspace(-0.5, h - 0.5, n) - cy
    pts = np.concatenate([
        np.column_stack([xs, np.full(n, -0.5 - cy)]), np.column_stack([xs, np.full(n, h - 0.5 - cy)]),
        np.column_stack([np.full(n, -0.5 - cx), ys]), np.column_stack([np.full(n, w - 0.5 - cx), ys])])
    d = np.column_stack([pts, np.full(len(pts), f)]) @ R.T
    az = np.arctan2(d[:, 0], d[:, 1])
    el = np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1]))
    el_lo, el_hi = float(el.min()), float(el.max())
    pole = False
    for sign in (1.0, -1.0):
        c = R.T @ np.array([0.0, 0.0, sign])
        if c[2] > 0 and abs(f * c[0] / c[2]) <= w / 2.0 and abs(f * c[1] / c[2]) <= h / 2.0:
            pole = True
            if sign > 0:
                el_hi = math.pi / 2
            else:
                el_lo = -math.pi / 2
    if pole:
        return -math.pi, math.pi, el_lo, el_hi, True
    axis = R[:, 2]
    azc = math.atan2(axis[0], axis[1])
    rel = _wrap_pi(az - azc)
    return azc + float(rel.min()), azc + float(rel.max()), el_lo, el_hi, False


def layout(R: np.ndarray, focals: np.ndarray, w: int, h: int, *, s: float, bands: int) -> Layout:
    """Mosaic extent (full circle when the frames' azimuth intervals cover it) and frame regions."""
    q = 1 << bands
    ext = [frame_extent(Rk, fk, w, h) for Rk, fk in zip(R, focals)]
    full = any(e[4] for e in ext)
    nb = 3600
    cover = np.zeros(nb, bool)
    for lo, hi, _, _, _ in ext:
        a = math.floor((lo % TWO_PI) / TWO_PI * nb)
        span = math.ceil((hi - lo) / TWO_PI * nb) + 1
        cover[(a + np.arange(min(span, nb))) % nb] = True
    if cover.all():
        full = True
    el_hi = min(max(e[3] for e in ext), math.pi / 2)
    el_lo = max(min(e[2] for e in ext), -math.pi / 2)
    if full:
        width = math.ceil(TWO_PI * s / q) * q
        s = width / TWO_PI
        az_axis0 = math.atan2(R[0][0, 2], R[0][1, 2])
        az0 = az_axis0 - math.pi
        pad_w = width
    else:
        # largest circular gap of the coverage: the mosaic starts where it ends
        free = ~cover
        k0 = int(np.argmax(cover))                     # a covered bin
        rolled = np.roll(free, -k0)
        best_len, best_end, run = 0, 0, 0
        for k, v in enumerate(rolled):
            run = run + 1 if v else 0
            if run > best_len:
                best_len, best_end = run, k
        start_bin = (best_end + 1 + k0) % nb
        az_start = start_bin / nb * TWO_PI
        # exact bounds inside the covered span
        los = [(e[0] - az_start + 0.5 * TWO_PI / nb) % TWO_PI - 0.5 * TWO_PI / nb for e in ext]
        his = [lo + (e[1] - e[0]) for lo, e in zip(los, ext)]
        a_lo, a_hi = min(los), max(his)
        az0 = az_start + a_lo
        width = math.ceil((a_hi - a_lo) * s) + 1
        pad_w = math.ceil(width / q) * q
        starts = [(lo - a_lo) * s for lo in los]
    height = math.ceil((el_hi - el_lo) * s) + 1
    pad_h = math.ceil(height / q) * q
    el0 = el_hi
    rois = []
    for k, (lo, hi, elo, ehi, pole) in enumerate(ext):
        r_lo = max(math.floor((el0 - ehi) * s) - 2, 0)
        r_hi = min(math.ceil((el0 - elo) * s) + 3, pad_h)
        r0 = (r_lo // q) * q
        r1 = min(math.ceil(r_hi / q) * q, pad_h)
        if full and (pole or hi - lo >= TWO_PI - 1e-9):
            c0, c1 = 0, width
        elif full:
            c_lo = (math.floor(((lo - az0) % TWO_PI) * s) - 2) % width
            c0 = (c_lo // q) * q
            c1 = min(math.ceil((c_lo + (hi - lo) * s + 5) / q) * q, c0 + width)
        else:
            c_lo = math.floor(starts[k]) - 2
            c_hi = math.ceil(starts[k] + (hi - lo) * s) + 3
            c0 = (max(c_lo, 0) // q) * q
            c1 = min(math.ceil(min(c_hi, pad_w) / q) * q, pad_w)
        rois.append((r0, c0, r1 - r0, c1 - c0))
    return Layout(s, az0, el0, width, height, pad_w, pad_h, full, rois)


def _maps(lay: Layout, roi, R, f, w, h, scale: float = 1.0):
    """Warp maps of a frame over ``roi`` (optionally on a grid ``scale`` times coarser)."""
    r0, c0, hh, ww = roi
    s = lay.s / scale
    az = lay.az0 + (c0 / scale + np.arange(math.ceil(ww / scale))) / s
    el = lay.el0 - (r0 / scale + np.arange(math.ceil(hh / scale))) / s
    return warp_maps(az, el, np.ascontiguousarray(R, dtype=np.float64), float(f), (w - 1) / 2.0, (h - 1) / 2.0, w, h)


def _op_wrapped(dst, src, r0, c0, width, full, op):
    """dst[r0:, c0:] (op)= src with the columns wrapping at ``width`` for a full circle."""
    hh, ww = src.shape[:2]
    if not full or c0 + ww <= width:
        op(dst[r0:r0 + hh, c0:c0 + ww], src)
    else:
        n1 = width - c0
        op(dst[r0:r0 + hh, c0:width], src[:, :n1])
        op(dst[r0:r0 + hh, 0:ww - n1], src[:, n1:])


def _add(d, s):
    d += s


def _get_wrapped(src, r0, c0, hh, ww, width, full):
    if not full or c0 + ww <= width:
        return src[r0:r0 + hh, c0:c0 + ww]
    n1 = width - c0
    return np.concatenate([src[r0:r0 + hh, c0:width], src[r0:r0 + hh, 0:ww - n1]], axis=1)


def exposure_gains(grays: list[np.ndarray], R: np.ndarray, focals: np.ndarray, lay: Layout, *,
                   sigma_n: float = 10.0, sigma_g: float = 0.1, coarse: int = 8) -> np.ndarray:
    """Per-frame gains from the mean grey levels of every overlap (Brown & Lowe 2007, section 6,
    eq. 29; the same normal equations as OpenCV's ``detail::GainCompensator``), measured on a
    mosaic grid ``coarse`` times coarser than the output. sigma_n: grey-level noise (DN),
    sigma_g: prior standard deviation of a gain."""
    n = len(grays)
    h, w = grays[0].shape
    width_c = lay.width / coarse if lay.full_circle else None
    warped = []
    for k in range(n):
        r0, c0, _, _ = lay.rois[k]
        mx, my, wt = _maps(lay, lay.rois[k], R[k], focals[k], w, h, scale=coarse)
        img = cv2.remap(grays[k], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).astype(np.float64)
        warped.append((r0 / coarse, c0 / coarse, img, wt > 1.0))
    N = np.zeros((n, n))
    I = np.zeros((n, n))
    for i in range(n):
        ri, ci, ii, mi = warped[i]
        for j in range(n):
            if j == i:
                continue
            rj, cj, ij, mj = warped[j]
            shifts = (0.0, -width_c, width_c) if width_c else (0.0,)
            cnt, tot = 0, 0.0
            for sh in shifts:
                r_a, r_b = max(ri, rj), min(ri + ii.shape[0], rj + ij.shape[0])
                c_a, c_b = max(ci, cj + sh), min(ci + ii.shape[1], cj + sh + ij.shape[1])
                if r_b <= r_a or c_b <= c_a:
                    continue
                ra, rb, ca, cb = round(r_a), round(r_b), round(c_a), round(c_b)
                si = (slice(ra - round(ri), rb - round(ri)), slice(ca - round(ci), cb - round(ci)))
                sj = (slice(ra - round(rj), rb - round(rj)),
                      slice(ca - round(cj + sh), cb - round(cj + sh)))
                both = mi[si] & mj[sj]
                c = int(both.sum())
                if c:
                    cnt += c
                    tot += float(ii[si][both].sum())
            N[i, j] = cnt
            I[i, j] = tot / cnt if cnt else 0.0
    alpha, beta = 1.0 / sigma_n ** 2, 1.0 / sigma_g ** 2
    A = np.zeros((n, n))
    b = np.zeros(n)
    for i in range(n):
        A[i, i] += 1e-9
        for j in range(n):
            if j == i or N[i, j] == 0:
                continue
            A[i, i] += beta * N[i, j] + 2.0 * alpha * I[i, j] ** 2 * N[i, j]
            A[i, j] -= 2.0 * alpha * I[i, j] * I[j, i] * N[i, j]
            b[i] += beta * N[i, j]
    g = np.ones(n)
    has = N.sum(axis=1) > 0
    if has.any():
        g[has] = np.linalg.solve(A[np.ix_(has, has)], b[has])
    return g


def _pyr_up(img, size, full):
    """cv2.pyrUp to ``size`` (w, h); columns wrap around for a full circle."""
    if not full:
        return cv2.pyrUp(img, dstsize=size)
    p = 2
    ext = np.concatenate([img[:, -p:], img, img[:, :p]], axis=1)
    up = cv2.pyrUp(ext, dstsize=(size[0] + 4 * p, size[1]))
    return up[:, 2 * p:2 * p + size[0]]


def _halves(lay: Layout, q: int) -> tuple[int, list[int], list[int], list[int]]:
    """Split column of the two-thread blend and the frames whose region lies wholly left of it,
    wholly right of it, or across it (or across the wrap): the first two groups touch disjoint
    mosaic columns at every pyramid level, so two threads can add them without locks."""
    split = (lay.pad_w // 2) // q * q
    left, right, rest = [], [], []
    for k, (_, c0, _, ww) in enumerate(lay.rois):
        if c0 + ww <= split:
            left.append(k)
        elif c0 >= split and c0 + ww <= lay.pad_w:
            right.append(k)
        else:
            rest.append(k)
    return split, left, right, rest


def _two_threads(fn, left: list[int], right: list[int], rest: list[int]) -> None:
    """``fn(k)`` for every frame: the left and right groups in two threads (numba's kernels and
    OpenCV release the GIL), then the rest in order. The order of additions into each mosaic
    pixel is fixed, so the result does not depend on thread timing."""
    if left and right:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futs = [pool.submit(lambda g=g: [fn(k) for k in g]) for g in (left, right)]
            for fu in futs:
                fu.result()
    else:
        for k in left + right:
            fn(k)
    for k in rest:
        fn(k)


def blend(images: list[np.ndarray], R: np.ndarray, focals: np.ndarray, lay: Layout, gains: np.ndarray, *,
          bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Multi-band blend (Burt & Adelson 1983, ACM TOG 2:217) of the warped frames, seams on the
    Voronoi-like boundary where two frames are equally far from their own edges.

    The frames left and right of the mosaic's middle column are added in two threads
    (:func:`_halves`); the collapse of the pyramid runs on two bands of rows.

    Returns the uint8 mosaic and its coverage mask (both cropped to the mosaic size).
    """
    n = len(images)
    h, w = images[0].shape[:2]
    nch = 1 if images[0].ndim == 2 else images[0].shape[2]
    W, H = lay.pad_w, lay.pad_h
    full = lay.full_circle
    q = 1 << bands
    _, left, right, rest = _halves(lay, q)
    wmax = np.zeros((H, W), np.float32)

    def seams(k):
        r0, c0, hh, ww = lay.rois[k]
        az = lay.az0 + (c0 + np.arange(ww)) / lay.s
        el = lay.el0 - (r0 + np.arange(hh)) / lay.s
        max_weight(wmax, r0, c0, az, el, np.ascontiguousarray(R[k], dtype=np.float64), float(focals[k]),
                   (w - 1) / 2.0, (h - 1) / 2.0, w, h, W if full else 0)

    _two_threads(seams, left, right, rest)
    acc = [np.zeros((H >> b, W >> b, nch), np.float32) for b in range(bands + 1)]
    wacc = [np.zeros((H >> b, W >> b), np.float32) for b in range(bands + 1)]
    margin = 3 * q          # blending reach of the coarsest band, full-resolution px

    def add_frame(k):
        r0, c0, hh, ww = lay.rois[k]
        mx, my, wt = _maps(lay, lay.rois[k], R[k], focals[k], w, h)
        wm = _get_wrapped(wmax, r0, c0, hh, ww, W, full)
        mask = (wt >= wm) & (wt > 0)
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return
        cols = np.flatnonzero(mask.any(axis=0))
        # work only on the frame's seam region plus the blending reach (q-aligned)
        ra = max(0, (rows[0] - margin) // q * q)
        rb = min(hh, -(-(rows[-1] + 1 + margin) // q) * q)
        ca = max(0, (cols[0] - margin) // q * q)
        cb = min(ww, -(-(cols[-1] + 1 + margin) // q) * q)
        mx, my = mx[ra:rb, ca:cb], my[ra:rb, ca:cb]
        sh, sw = rb - ra, cb - ca
        r0 += ra
        c0 = (c0 + ca) % W if full else c0 + ca
        src = cv2.remap(images[k], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        g = src.astype(np.float32).reshape(sh, sw, nch)
        g *= np.float32(gains[k])
        gm = mask[ra:rb, ca:cb].astype(np.float32)
        for b in range(bands + 1):
            wrap = (W >> b) if full else 0
            if b < bands:
                gd = cv2.pyrDown(g).reshape(g.shape[0] // 2, g.shape[1] // 2, nch)
                up = cv2.pyrUp(gd, dstsize=(g.shape[1], g.shape[0])).reshape(g.shape)
                accumulate_band(acc[b], wacc[b], g, up, gm, r0 >> b, c0 >> b, wrap, False)
                g = gd
                gm = cv2.pyrDown(gm)
            else:
                accumulate_band(acc[b], wacc[b], g, g, gm, r0 >> b, c0 >> b, wrap, True)

    _two_threads(add_frame, left, right, rest)
    out = np.zeros_like(acc[bands])
    add_normalised(out, acc[bands], wacc[bands])
    for b in range(bands - 1, -1, -1):
        out = _collapse_level(out, acc[b], wacc[b], (W >> b, H >> b), full, nch)
    covered = wmax > 0
    out = cv2.add(out, 0.0, dtype=cv2.CV_8U)        # round and saturate to [0, 255]
    out = out.reshape(H, W, nch)
    out[~covered] = 0
    out = out[:lay.height, :lay.width]
    if nch == 1:
        out = out[:, :, 0]
    return np.ascontiguousarray(out), covered[:lay.height, :lay.width].copy()


def _collapse_level(low: np.ndarray, acc: np.ndarray, wacc: np.ndarray, size: tuple[int, int], full: bool,
                    nch: int) -> np.ndarray:
    """One step of the pyramid's collapse: ``pyrUp(low) + acc / wacc`` at ``size`` (w, h), in two
    threads over the top and bottom halves of the rows. Each half expands its rows of ``low`` with
    two rows of context on the inner side and keeps only its own output rows, so the result equals
    the one-piece expansion (pyrUp's 5-tap kernel reads one coarse row either side)."""
    wd, ht = size
    hl = low.shape[0]
    if hl < 8:
        out = _pyr_up(low, size, full).reshape(ht, wd, nch)
        add_normalised(out, acc, wacc)
        return out
    out = np.empty((ht, wd, nch), np.float32)
    m = hl // 2                                    # coarse rows [0, m) -> fine rows [0, 2m)

    def part(top: bool):
        if top:
            lo = low[:m + 2]
            up = _pyr_up(lo, (wd, 2 * (m + 2)), full).reshape(2 * (m + 2), wd, nch)
            out[:2 * m] = up[:2 * m]
            add_normalised(out[:2 * m], acc[:2 * m], wacc[:2 * m])
        else:
            lo = low[m - 2:]
            up = _pyr_up(lo, (wd, ht - 2 * (m - 2)), full).reshape(ht - 2 * (m - 2), wd, nch)
            out[2 * m:] = up[4:]
            add_normalised(out[2 * m:], acc[2 * m:], wacc[2 * m:])

    with ThreadPoolExecutor(max_workers=2) as pool:
        futs = [pool.submit(part, t) for t in (True, False)]
        for fu in futs:
            fu.result()
    return out
