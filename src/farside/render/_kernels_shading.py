"""Numba kernels of :mod:`farside.render` (private): photometry and per-pixel shading.

The scalar reflectance models (exact Hapke, Lunar-Lambert, Lambert; the renderer's Hapke runs on
the tables of :mod:`~farside.render._photometry_kernels`) and the shading of one pixel: normal,
angles, the cast shadow from the sun margin map, photometry and the output layers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside.terrain.surface import vertex_gradient

from farside.render._photometry_kernels import hapke_r_tab


# --------------------------------------------------------------------------------------------
# photometry (scalar, numba)
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _h_function(x, w):
    """Hapke (2002) approximation of Chandrasekhar's H-function (Hapke 2012 eq. 8.56)."""
    if x <= 0.0:
        return 1.0
    y = math.sqrt(1.0 - w)
    r0 = (1.0 - y) / (1.0 + y)
    return 1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) / 2.0 * math.log((1.0 + x) / x)))


@njit(cache=True, nogil=True, error_model="numpy")
def hapke_r(mu0, mu, cosg, w, b, c, bs0, hs, bc0, hc, tan_theta):
    """Hapke bidirectional reflectance r(i, e, g) [1/sr] as used by Sato et al. (2014).

    Double Henyey-Greenstein phase function, shadow-hiding (Bs0, hs) and coherent-backscatter
    (Bc0, hc) opposition effects, isotropic multiple scattering with the H-function
    approximation, K = 1 (filling factor 1) and Hapke's macroscopic roughness S(i, e, psi)
    with mean slope angle theta-bar (Hapke 2012, chapter 12).
    """
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    if cosg > 1.0:
        cosg = 1.0
    elif cosg < -1.0:
        cosg = -1.0
    # phase function (double HG: (1+c)/2 weights the backward lobe)
    b2 = b * b
    qb = 1.0 - 2.0 * b * cosg + b2
    qf = 1.0 + 2.0 * b * cosg + b2
    p = (0.5 * (1.0 + c) * (1.0 - b2) / (qb * math.sqrt(qb))
         + 0.5 * (1.0 - c) * (1.0 - b2) / (qf * math.sqrt(qf)))
    tg2 = math.sqrt((1.0 - cosg) / (1.0 + cosg)) if cosg > -1.0 else 1e300   # tan(g / 2)
    bsh = 1.0 / (1.0 + tg2 / hs) if hs > 0.0 else 0.0
    if bc0 != 0.0 and hc > 0.0:
        zeta = tg2 / hc
        if zeta > 1e-12:
            bcb = (1.0 + (1.0 - math.exp(-zeta)) / zeta) / (2.0 * (1.0 + zeta) ** 2)
        else:
            bcb = 1.0
    else:
        bcb = 0.0
    mu0e = mu0
    mue = mu
    sfac = 1.0
    if tan_theta > 0.0:
        mu0c = min(mu0, 1.0)
        muc = min(mu, 1.0)
        si = math.sqrt(max(0.0, 1.0 - mu0c * mu0c))
        se = math.sqrt(max(0.0, 1.0 - muc * muc))
        if si < 1e-9 or se < 1e-9:
            cpsi = 1.0
        else:
            cpsi = (cosg - mu0c * muc) / (si * se)
            cpsi = min(max(cpsi, -1.0), 1.0)
        psi = math.acos(cpsi)
        chi = 1.0 / math.sqrt(1.0 + math.pi * tan_theta * tan_theta)
        ti = max(si / mu0c, 1e-9)
        te = max(se / muc, 1e-9)
        e1i = math.exp(-2.0 / (math.pi * tan_theta * ti))
        e2i = math.exp(-1.0 / (math.pi * tan_theta * tan_theta * ti * ti))
        e1e = math.exp(-2.0 / (math.pi * tan_theta * te))
        e2e = math.exp(-1.0 / (math.pi * tan_theta * tan_theta * te * te))
        eta_i = chi * (mu0c + si * tan_theta * e2i / (2.0 - e1i))
        eta_e = chi * (muc + se * tan_theta * e2e / (2.0 - e1e))
        s2 = 0.5 * (1.0 - cpsi)                      # sin^2(psi / 2)
        if cpsi <= -1.0 + 1e-15:
            f = 0.0
        else:
            f = math.exp(-2.0 * math.sqrt((1.0 - cpsi) / (1.0 + cpsi)))
        if mu0c >= muc:                              # i <= e
            den = 2.0 - e1e - (psi / math.pi) * e1i
            mu0e = chi * (mu0c + si * tan_theta * (cpsi * e2e + s2 * e2i) / den)
            mue = chi * (muc + se * tan_theta * (e2e - s2 * e2i) / den)
            sfac = mue / eta_e * mu0c / eta_i * chi / (1.0 - f + f * chi * mu0c / eta_i)
        else:
            den = 2.0 - e1i - (psi / math.pi) * e1e
            mu0e = chi * (mu0c + si * tan_theta * (e2i - s2 * e2e) / den)
            mue = chi * (muc + se * tan_theta * (cpsi * e2i + s2 * e2e) / den)
            sfac = mue / eta_e * mu0c / eta_i * chi / (1.0 - f + f * chi * muc / eta_e)
    m = _h_function(mu0e, w) * _h_function(mue, w) - 1.0
    return (w / (4.0 * math.pi) * mu0e / (mu0e + mue) * (p * (1.0 + bs0 * bsh) + m)
            * (1.0 + bc0 * bcb) * sfac)


@njit(cache=True, nogil=True, error_model="numpy")
def lunar_lambert_r(mu0, mu, cosg, albedo, l1, l2, l3):
    """McEwen (1991) Lunar-Lambert bidirectional reflectance [1/sr]:
    I/F = A [2 L(g) mu0 / (mu0 + mu) + (1 - L(g)) mu0], L(g) = 1 + l1 g + l2 g^2 + l3 g^3 (g in deg)."""
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    cosg = min(max(cosg, -1.0), 1.0)
    gd = math.degrees(math.acos(cosg))
    lg = 1.0 + l1 * gd + l2 * gd * gd + l3 * gd * gd * gd
    return albedo * (2.0 * lg * mu0 / (mu0 + mu) + (1.0 - lg) * mu0) / math.pi


@njit(cache=True, inline="always", error_model="numpy")
def _photometry(model, mu0, mu, cosg, pp):
    if model == 0:
        return hapke_r_tab(mu0, mu, cosg, pp)      # tables in pp: Hapke.packed(), _photometry_kernels
    elif model == 1:
        return lunar_lambert_r(mu0, mu, cosg, pp[0], pp[1], pp[2], pp[3])
    # plain Lambert: r = A mu0 / pi
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    return pp[0] * mu0 / math.pi


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def photometry_grid(model, mu0, mu, cosg, pp):
    out = np.empty(mu0.shape[0])
    for k in prange(mu0.shape[0]):
        out[k] = _photometry(model, mu0[k], mu[k], cosg[k], pp)
    return out


# --------------------------------------------------------------------------------------------
# shading
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always", error_model="numpy")
def _disk_fraction(margin, radius):
    """Visible fraction of a solar disk of angular radius ``radius`` whose centre is ``margin``
    above a straight horizon."""
    d = margin / radius
    if d >= 1.0:
        return 1.0
    if d <= -1.0:
        return 0.0
    return 1.0 - (math.acos(d) - d * math.sqrt(1.0 - d * d)) / math.pi


@njit(cache=True, inline="always", error_model="numpy")
def _sky_px(i, j, full, rad, inc, emi, pha, lit, nrm, pts):
    rad[i, j] = 0.0
    lit[i, j] = np.nan
    if full:
        inc[i, j] = np.nan
        emi[i, j] = np.nan
        pha[i, j] = np.nan
        for k in range(3):
            nrm[i, j, k] = np.nan
            pts[i, j, k] = np.nan


@njit(cache=True, inline="always", error_model="numpy")
def _shade_geom(h, x0, y0, res, u, v, dx, dy, dz, sun, margin, shadow_mode, sun_radius, smooth):
    """Sunlit fraction, cosines (mu0, mu, cos g), unit normal and ENU point of the hit at grid
    (u, v) seen along (dx, dy, dz): everything of its shading but the photometry.
    ``shadow_mode``: 0 none, 1 hard, 2 penumbra."""
    nr = h.shape[0]
    nc = h.shape[1]
    c = int(math.floor(u))
    r = int(math.floor(v))
    if c < 0:
        c = 0
    elif c > nc - 2:
        c = nc - 2
    if r < 0:
        r = 0
    elif r > nr - 2:
        r = nr - 2
    a = min(max(u - c, 0.0), 1.0)
    b = min(max(v - r, 0.0), 1.0)
    h00 = h[r, c]
    h11 = h[r + 1, c + 1]
    m = 0.0
    if a >= b:
        hx = h[r, c + 1]
        gx = (hx - h00) / res
        gy = -(h11 - hx) / res
        zz = h00 + a * (hx - h00) + b * (h11 - hx)
        if shadow_mode > 0:
            m = (1.0 - a) * margin[r, c] + (a - b) * margin[r, c + 1] + b * margin[r + 1, c + 1]
    else:
        hx = h[r + 1, c]
        gx = (h11 - hx) / res
        gy = -(hx - h00) / res
        zz = h00 + b * (hx - h00) + a * (h11 - hx)
        if shadow_mode > 0:
            m = (1.0 - b) * margin[r, c] + (b - a) * margin[r + 1, c] + a * margin[r + 1, c + 1]
    if smooth:
        # barycentric blend of the triangle's vertex gradients (Phong-style normals)
        gx00, gy00 = vertex_gradient(h, r, c, res)
        gx11, gy11 = vertex_gradient(h, r + 1, c + 1, res)
        if a >= b:
            gxo, gyo = vertex_gradient(h, r, c + 1, res)
            sx = (1.0 - a) * gx00 + (a - b) * gxo + b * gx11
            sy = (1.0 - a) * gy00 + (a - b) * gyo + b * gy11
        else:
            gxo, gyo = vertex_gradient(h, r + 1, c, res)
            sx = (1.0 - b) * gx00 + (b - a) * gxo + a * gx11
            sy = (1.0 - b) * gy00 + (b - a) * gyo + a * gy11
        # at grazing view the blended normal can face away from the camera although the facet the
        # ray hit faces it (black specks along ridges): keep the facet normal there
        if sx * dx + sy * dy - dz > 0.0:
            gx = sx
            gy = sy
    nn = math.sqrt(gx * gx + gy * gy + 1.0)
    nx = -gx / nn
    ny = -gy / nn
    nz = 1.0 / nn
    mu0 = nx * sun[0] + ny * sun[1] + nz * sun[2]
    mu = -(nx * dx + ny * dy + nz * dz)
    cosg = -(sun[0] * dx + sun[1] * dy + sun[2] * dz)
    if shadow_mode == 0:
        f = 1.0
    elif shadow_mode == 1:
        f = 1.0 if m > 0.0 else 0.0
    else:
        f = _disk_fraction(m, sun_radius)
    return f, mu0, mu, cosg, nx, ny, nz, x0 + (u + 0.5) * res, y0 - (v + 0.5) * res, zz


@njit(cache=True, inline="always", error_model="numpy")
def _shade_px(h, x0, y0, res, i, j, u, v, dx, dy, dz, sun, margin, shadow_mode, sun_radius,
              model, pp, full, smooth, rad, inc, emi, pha, lit, nrm, pts):
    """Normal, angles, cast shadow and photometry of the hit at grid (u, v) seen along (dx, dy, dz)
    (:func:`_shade_geom`, then :func:`_write_px`). ``rad`` gets r [1/sr] times the sunlit fraction."""
    f, mu0, mu, cosg, nx, ny, nz, px, py, pz = _shade_geom(h, x0, y0, res, u, v, dx, dy, dz, sun, margin,
                                                           shadow_mode, sun_radius, smooth)
    _write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, model, pp, full, rad, inc, emi, pha, lit, nrm, pts)


@njit(cache=True, inline="always", error_model="numpy")
def _write_px(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, model, pp, full, rad, inc, emi, pha, lit, nrm, pts):
    """Photometry of a surface point (sunlit fraction ``f``, cosines, unit normal, ENU point) and
    its output layers at pixel (i, j); shared by the terrain and the rock shading."""
    val = 0.0
    if f > 0.0 and mu0 > 0.0 and mu > 0.0:
        val = f * _photometry(model, mu0, mu, cosg, pp)
    rad[i, j] = val
    _write_geom(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, full, inc, emi, pha, lit, nrm, pts)


@njit(cache=True, inline="always", error_model="numpy")
def _write_geom(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, full, inc, emi, pha, lit, nrm, pts):
    """The layers of pixel (i, j) other than the reflectance: lit fraction, and with ``full`` the
    angles, normal and point."""
    lit[i, j] = f
    if full:
        inc[i, j] = math.acos(min(max(mu0, -1.0), 1.0))
        emi[i, j] = math.acos(min(max(mu, -1.0), 1.0))
        pha[i, j] = math.acos(min(max(cosg, -1.0), 1.0))
        nrm[i, j, 0] = nx
        nrm[i, j, 1] = ny
        nrm[i, j, 2] = nz
        pts[i, j, 0] = px
        pts[i, j, 1] = py
        pts[i, j, 2] = pz


# the first frame's pending pixels are few: a called (not inlined) copy keeps compile time down
_shade_px_noinline = njit(cache=True, error_model="numpy")(_shade_px.py_func)
