"""Numba kernels of :mod:`farside.imaging.panorama`: bundle-adjustment normal equations, warp maps.

Conventions (see :mod:`farside.imaging.panorama`): camera frame x right, y down, z forward;
``R`` is camera-to-world; image points are *centred* pixel coordinates ``(x, y)`` (principal point
at the origin, full input resolution), so the ray of a point is ``(x, y, f)`` in the camera frame.

Bundle adjustment residual of a match ``(p_i, p_j)`` in direction i -> j::

    a = (x_i, y_i, f);  M = R_j^T R_i;  b = M a;  q = f (b_x / b_z, b_y / b_z);  r = q - p_j

(``a = (x_i, y_i, f_i)`` and ``q = f_j (...)`` when the frames have their own focal lengths) with
the local rotation updates ``R_k <- R_k exp([d_k]x)`` and ``f_k <- f_k exp(s_k)``:

* ``db/dd_i = -M [a]x``  (``R exp([d]x) a ~ R (a + d x a) = R a - R [a]x d``)
* ``db/dd_j = [b]x``     (``exp(-[d]x) b ~ b - d x b = b + [b]x d``)
* ``dr/ds_i = (dq/db) M (0, 0, f_i)``, ``dr/ds_j = q``,
  ``dq/db = f_j / b_z [[1, 0, -b_x/b_z], [0, 1, -b_y/b_z]]`` (one shared focal: the two add).

Both directions (i -> j and j -> i) enter, so the cost is symmetric in the two frames.

The compositing kernels are serial. On the project's 2-core machine numba's OpenMP workers,
spinning between the 80 frames' calls, took the cores from the main thread and OpenCV's: with
another process busy, the blend of the 80-frame TCAM set took 7.8 s with ``parallel=True`` and
1.0 s serial (2.3 s parallel with ``OMP_WAIT_POLICY=passive``, 1.8 s with the workqueue layer).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _one_direction(px, py, qx, qy, Ri, Rj, fi, fj, out_r, out_Ji, out_Jj, out_Js):
    """Residual and Jacobian of the projection of point (px, py) of frame i (focal fi) into
    frame j (focal fj, observed there at (qx, qy)). ``out_Js`` = d r / d log fi, d r / d log fj.
    Returns False when the ray lands behind camera j."""
    # M = Rj^T Ri
    M = np.empty((3, 3))
    for r in range(3):
        for c in range(3):
            M[r, c] = Rj[0, r] * Ri[0, c] + Rj[1, r] * Ri[1, c] + Rj[2, r] * Ri[2, c]
    a0, a1, a2 = px, py, fi
    b0 = M[0, 0] * a0 + M[0, 1] * a1 + M[0, 2] * a2
    b1 = M[1, 0] * a0 + M[1, 1] * a1 + M[1, 2] * a2
    b2 = M[2, 0] * a0 + M[2, 1] * a1 + M[2, 2] * a2
    if b2 <= 1e-9 * fi:
        return False
    iz = 1.0 / b2
    u = fj * b0 * iz
    v = fj * b1 * iz
    out_r[0] = u - qx
    out_r[1] = v - qy
    # dq/db (2x3)
    g = fj * iz
    P00, P01, P02 = g, 0.0, -g * b0 * iz
    P10, P11, P12 = 0.0, g, -g * b1 * iz
    # db/dd_i = -M [a]x ; [a]x = [[0,-a2,a1],[a2,0,-a0],[-a1,a0,0]]
    ax = np.empty((3, 3))
    ax[0, 0] = 0.0
    ax[0, 1] = -a2
    ax[0, 2] = a1
    ax[1, 0] = a2
    ax[1, 1] = 0.0
    ax[1, 2] = -a0
    ax[2, 0] = -a1
    ax[2, 1] = a0
    ax[2, 2] = 0.0
    Dbi = np.empty((3, 3))
    for r in range(3):
        for c in range(3):
            Dbi[r, c] = -(M[r, 0] * ax[0, c] + M[r, 1] * ax[1, c] + M[r, 2] * ax[2, c])
    # db/dd_j = [b]x
    Dbj = np.empty((3, 3))
    Dbj[0, 0] = 0.0
    Dbj[0, 1] = -b2
    Dbj[0, 2] = b1
    Dbj[1, 0] = b2
    Dbj[1, 1] = 0.0
    Dbj[1, 2] = -b0
    Dbj[2, 0] = -b1
    Dbj[2, 1] = b0
    Dbj[2, 2] = 0.0
    for c in range(3):
        out_Ji[0, c] = P00 * Dbi[0, c] + P01 * Dbi[1, c] + P02 * Dbi[2, c]
        out_Ji[1, c] = P10 * Dbi[0, c] + P11 * Dbi[1, c] + P12 * Dbi[2, c]
        out_Jj[0, c] = P00 * Dbj[0, c] + P01 * Dbj[1, c] + P02 * Dbj[2, c]
        out_Jj[1, c] = P10 * Dbj[0, c] + P11 * Dbj[1, c] + P12 * Dbj[2, c]
    # dr/dlog fi = dq/db * (M[:, 2] fi);  dr/dlog fj = q
    m0, m1, m2 = M[0, 2] * fi, M[1, 2] * fi, M[2, 2] * fi
    out_Js[0, 0] = P00 * m0 + P01 * m1 + P02 * m2
    out_Js[1, 0] = P10 * m0 + P11 * m1 + P12 * m2
    out_Js[0, 1] = u
    out_Js[1, 1] = v
    return True


@njit(cache=True, error_model="numpy")
def ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, huber_px, want_normal, extra):
    """Huber-weighted Gauss-Newton system of the rotation bundle adjustment.

    Parameters
    ----------
    p_i, p_j : (M, 2) float64
        Matched centred pixel coordinates in frames ``idx_i`` and ``idx_j``.
    idx_i, idx_j : (M,) int64
        Frame indices of each match.
    R : (N, 3, 3) float64
        Camera-to-world rotations.
    focal : (nf,) float64
        Focal lengths, px.
    fidx : (N,) int64
        Focal parameter of each frame (all 0 for one shared focal length).
    nf : int
        Number of focal parameters.
    huber_px : float
        Huber threshold on the 2-D residual norm, px.
    want_normal : bool
        Also build ``J^T W J`` and ``J^T W r`` (else only the cost).
    extra : (M, 2, 2, ne) float64
        Derivatives of each match's residuals (direction i -> j, j -> i; x, y) with respect to
        ``ne`` further parameters that move the matched points themselves (e.g. the ground plane
        of a mast-offset correction); ``ne`` = 0: none. They follow the focal parameters.

    Returns
    -------
    JtJ : (3N + nf + ne, 3N + nf + ne) float64
        Parameters: 3 rotation increments per frame, then ``log f`` of each focal parameter, then
        the ``extra`` parameters.
    Jtr : (3N + nf + ne,) float64
    cost : float
        Sum of the Huber loss of the residual norms (px^2); a ray behind a camera costs ``1e12``.
    err : (M, 2) float64
        Residual norms (px) of the two directions of each match (``inf`` behind a camera).
    """
    n = R.shape[0]
    ne = extra.shape[3]
    e0 = 3 * n + nf
    npar = e0 + ne
    m = p_i.shape[0]
    JtJ = np.zeros((npar, npar)) if want_normal else np.zeros((1, 1))
    Jtr = np.zeros(npar) if want_normal else np.zeros(1)
    err = np.empty((m, 2))
    cost = 0.0
    r = np.empty(2)
    Ja = np.empty((2, 3))
    Jb = np.empty((2, 3))
    Js = np.empty((2, 2))
    J = np.empty((2, 8))
    cols = np.empty(8, np.int64)
    for k in range(m):
        for d in range(2):
            if d == 0:
                fa, fb = idx_i[k], idx_j[k]
                ok = _one_direction(p_i[k, 0], p_i[k, 1], p_j[k, 0], p_j[k, 1], R[fa], R[fb],
                                    focal[fidx[fa]], focal[fidx[fb]], r, Ja, Jb, Js)
            else:
                fa, fb = idx_j[k], idx_i[k]
                ok = _one_direction(p_j[k, 0], p_j[k, 1], p_i[k, 0], p_i[k, 1], R[fa], R[fb],
                                    focal[fidx[fa]], focal[fidx[fb]], r, Ja, Jb, Js)
            if not ok:
                err[k, d] = np.inf
                cost += 1e12
                continue
            e = math.sqrt(r[0] * r[0] + r[1] * r[1])
            err[k, d] = e
            if e <= huber_px:
                w = 1.0
                cost += e * e
            else:
                w = huber_px / e
                cost += 2.0 * huber_px * e - huber_px * huber_px
            if not want_normal:
                continue
            for c in range(3):
                cols[c] = 3 * fa + c
                cols[3 + c] = 3 * fb + c
                J[0, c] = Ja[0, c]
                J[1, c] = Ja[1, c]
                J[0, 3 + c] = Jb[0, c]
                J[1, 3 + c] = Jb[1, c]
            cols[6] = 3 * n + fidx[fa]
            cols[7] = 3 * n + fidx[fb]
            J[0, 6] = Js[0, 0]
            J[1, 6] = Js[1, 0]
            J[0, 7] = Js[0, 1]
            J[1, 7] = Js[1, 1]
            for a in range(8):
                ca = cols[a]
                Jtr[ca] += w * (J[0, a] * r[0] + J[1, a] * r[1])
                for b in range(8):
                    JtJ[ca, cols[b]] += w * (J[0, a] * J[0, b] + J[1, a] * J[1, b])
            for x in range(ne):
                E0 = extra[k, d, 0, x]
                E1 = extra[k, d, 1, x]
                Jtr[e0 + x] += w * (E0 * r[0] + E1 * r[1])
                for a in range(8):
                    v = w * (J[0, a] * E0 + J[1, a] * E1)
                    JtJ[cols[a], e0 + x] += v
                    JtJ[e0 + x, cols[a]] += v
                for y in range(ne):
                    JtJ[e0 + x, e0 + y] += w * (E0 * extra[k, d, 0, y] + E1 * extra[k, d, 1, y])
    return JtJ, Jtr, cost, err


@njit(cache=True, error_model="numpy")
def solve_spd(A, b):
    """Solution of ``A x = b`` for a symmetric positive-definite ``A`` (Cholesky, in place on a
    copy), and whether ``A`` was positive definite (else ``x`` is meaningless). A few hundred
    unknowns (the bundle adjustment's normal equations): a plain loop here is as fast as LAPACK and
    never waits on a BLAS thread pool that other threads (numba's, OpenCV's) keep busy."""
    n = A.shape[0]
    L = A.copy()
    for j in range(n):
        d = L[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return np.zeros(n), False
        d = math.sqrt(d)
        L[j, j] = d
        for i in range(j + 1, n):
            v = L[i, j]
            for k in range(j):
                v -= L[i, k] * L[j, k]
            L[i, j] = v / d
    y = np.empty(n)
    for i in range(n):
        v = b[i]
        for k in range(i):
            v -= L[i, k] * y[k]
        y[i] = v / L[i, i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        v = y[i]
        for k in range(i + 1, n):
            v -= L[k, i] * x[k]
        x[i] = v / L[i, i]
    return x, True


@njit(cache=True, nogil=True, error_model="numpy")
def warp_maps(az_cols, el_rows, R, f, cx, cy, width, height):
    """Source-pixel maps of an equirectangular mosaic region for one pinhole frame.

    Parameters
    ----------
    az_cols : (w,) float64
        Azimuth of each mosaic column of the region, rad (0 = world +y, clockwise toward +x).
    el_rows : (h,) float64
        Elevation of each mosaic row, rad (toward world +z).
    R : (3, 3) float64
        Camera-to-world rotation of the frame.
    f, cx, cy : float
        Focal length and principal point (pixel-centre convention), px.
    width, height : int
        Frame size, px.

    Returns
    -------
    map_x, map_y : (h, w) float32
        Source column / row of each mosaic pixel (``-1e4`` where the direction is behind the
        camera), for :func:`cv2.remap`.
    weight : (h, w) float32
        Distance to the nearest frame edge in source pixels (``min(x + 0.5, W - 0.5 - x, ...)``),
        0 outside the frame: the feathering weight and the seam criterion.
    """
    h = el_rows.shape[0]
    w = az_cols.shape[0]
    map_x = np.empty((h, w), np.float32)
    map_y = np.empty((h, w), np.float32)
    weight = np.zeros((h, w), np.float32)
    sa = np.sin(az_cols)
    ca = np.cos(az_cols)
    for r in range(h):
        se = math.sin(el_rows[r])
        ce = math.cos(el_rows[r])
        for c in range(w):
            dx = sa[c] * ce
            dy = ca[c] * ce
            dz = se
            # camera = R^T d
            u = R[0, 0] * dx + R[1, 0] * dy + R[2, 0] * dz
            v = R[0, 1] * dx + R[1, 1] * dy + R[2, 1] * dz
            z = R[0, 2] * dx + R[1, 2] * dy + R[2, 2] * dz
            if z <= 1e-6:
                map_x[r, c] = -1e4
                map_y[r, c] = -1e4
                continue
            x = f * u / z + cx
            y = f * v / z + cy
            if abs(x) > 1e6 or abs(y) > 1e6:
                map_x[r, c] = -1e4
                map_y[r, c] = -1e4
                continue
            map_x[r, c] = x
            map_y[r, c] = y
            dmin = min(x + 0.5, width - 0.5 - x, y + 0.5, height - 0.5 - y)
            if dmin > 0.0:
                weight[r, c] = dmin
    return map_x, map_y, weight


@njit(cache=True, nogil=True, error_model="numpy")
def max_weight(wmax, r0, c0, az_cols, el_rows, R, f, cx, cy, width, height, wrap_w):
    """``wmax[r0 + r, c0 + c] = max(wmax[...], weight[r, c])`` with the feathering weight of
    :func:`warp_maps` (distance to the frame's nearest edge, source px), without building the maps:
    the seam pass of the blending. Columns wrap at ``wrap_w`` when it is > 0 (full circle)."""
    h = el_rows.shape[0]
    w = az_cols.shape[0]
    sa = np.sin(az_cols)
    ca = np.cos(az_cols)
    for r in range(h):
        se = math.sin(el_rows[r])
        ce = math.cos(el_rows[r])
        rr = r0 + r
        for c in range(w):
            dx = sa[c] * ce
            dy = ca[c] * ce
            dz = se
            z = R[0, 2] * dx + R[1, 2] * dy + R[2, 2] * dz
            if z <= 1e-6:
                continue
            x = f * (R[0, 0] * dx + R[1, 0] * dy + R[2, 0] * dz) / z + cx
            y = f * (R[0, 1] * dx + R[1, 1] * dy + R[2, 1] * dz) / z + cy
            if abs(x) > 1e6 or abs(y) > 1e6:
                continue
            dmin = min(x + 0.5, width - 0.5 - x, y + 0.5, height - 0.5 - y)
            if dmin > 0.0:
                cc = c0 + c
                if wrap_w > 0 and cc >= wrap_w:
                    cc -= wrap_w
                wv = np.float32(dmin)
                if wv > wmax[rr, cc]:
                    wmax[rr, cc] = wv


@njit(cache=True, nogil=True, error_model="numpy")
def accumulate_band(acc, wacc, g, up, m, r0, c0, wrap_w, top):
    """One band of a frame into the mosaic pyramid level:
    ``acc[r0 + r, c0 + c] += (g - up)[r, c] * m[r, c]`` and ``wacc[...] += m`` (``top``: the
    coarsest band, ``g`` itself). Columns wrap at ``wrap_w`` when it is > 0 (full circle)."""
    h, w, nch = g.shape
    for r in range(h):
        rr = r0 + r
        for c in range(w):
            mv = m[r, c]
            if mv == 0.0:
                continue
            cc = c0 + c
            if wrap_w > 0 and cc >= wrap_w:
                cc -= wrap_w
            wacc[rr, cc] += mv
            if top:
                for ch in range(nch):
                    acc[rr, cc, ch] += g[r, c, ch] * mv
            else:
                for ch in range(nch):
                    acc[rr, cc, ch] += (g[r, c, ch] - up[r, c, ch]) * mv


@njit(cache=True, nogil=True, error_model="numpy")
def add_normalised(out, acc, wacc):
    """``out += acc / wacc`` (in place; 0 where no frame contributed)."""
    h, w, nch = out.shape
    for r in range(h):
        for c in range(w):
            wv = wacc[r, c]
            if wv > 1e-6:
                iw = 1.0 / wv
                for ch in range(nch):
                    out[r, c, ch] += acc[r, c, ch] * iw
