"""Table-driven Hapke reflectance for the renderer: the r(i, e, g) of ``_kernels_shading.hapke_r`` at a
fraction of its cost.

``hapke_r`` spends most of its ~100 ns on transcendental functions of one variable each: the
roughness terms E1, E2, eta of the incidence alone and of the emission alone (4 exp), psi and
f(psi) of the azimuth cosine (acos, exp), the H-function of each effective cosine (2 logs) and
the phase function with its opposition surges (sqrt, divisions). :func:`hapke_r_tab` reads all
of them from cubic-Hermite tables built once per parameter set by :func:`build_hapke_tables` and
keeps only the arithmetic that couples them (cos psi, the denominators of mu0e, mue and S).
It has no data-dependent branches on the common path (the i <= e / i > e cases of Hapke's
roughness correction are one formula with the angles sorted), so it costs the same on incoherent
input as on an image's coherent pixels.

Tables (each node holds the value and its derivative, the derivative exact to rounding by the
complex-step method, Squire & Trapp 1998, SIAM Rev. 40:110; each interval is stored as the four
coefficients of its cubic in the local coordinate t in [0, 1]):

* ``MU`` over y = sqrt(1 - mu) in [0, 1], mu = cos of the incidence or emission angle:
  E1, E2 and 1/eta (Hapke 2012 eqs. 12.45-12.48). Near mu = 1, E1 ~ exp(-k / (sqrt 2 y)) with
  k = 2 / (pi tan theta-bar): it changes over 1 - mu ~ k^2 but over y ~ k, so a grid in y needs
  far fewer intervals than one in mu when theta-bar is large (and all derivatives vanish at y = 0).
* ``PS`` over x in [0, 1/sqrt 2]: psi/pi and f(psi) = exp(-2 tan(psi/2)) at x = sin(psi/2)
  (used when cos psi >= 0), then the same two at x = cos(psi/2) (cos psi < 0). Splitting at
  psi = 90 deg keeps both square-root branch points of acos(cos psi) out of the table.
* ``PH`` over x in [0, 1/sqrt 2], split at g = 90 deg the same way (x = sin(g/2), x = cos(g/2)):
  P(g) (1 + Bs0 Bs(g)) (1 + Bc0 Bc(g)) and (1 + Bc0 Bc(g)) (double Henyey-Greenstein phase
  function with the shadow-hiding and coherent-backscatter surges).
* ``H`` over x in [H_LO, H_HI]: Hapke's approximation of Chandrasekhar's H(x, w). Below H_LO (the
  x log x singularity at 0) and above H_HI the kernel evaluates the formula; the effective
  cosines fall there only at grazing incidence or emission (no pixel of a nadir LCAM frame of the
  procedural CE-4 site at the touchdown Sun elevation, 31.5 deg).

Every table starts at 256 intervals and is doubled until its cubics, checked against the formula
at three points inside every interval, are within ``TABLE_TOL`` of it (relative for 1/eta, H and
the phase terms; absolute for E1, E2, psi/pi and f, which lie in [0, 1]). A table that would
need more than its cap (a very narrow opposition surge, hs < ~0.003, or theta-bar below ~1 deg) is
left out, its size set to 0, and the kernel evaluates that term by the formula: every parameter
set gets the same accuracy, only the speed depends on the parameters.

Layout of the float64 array ``pp`` (``Hapke.packed()``): ``pp[0:8]`` = w, b, c, Bs0, hs, Bc0, hc,
tan(theta-bar), the arguments of ``hapke_r``; ``pp[8:HEADER]`` = layout version, derived
constants and the table descriptors (offset into ``pp``, number of intervals, 1/step: the ``I_*``
indices below); then the tables, interval after interval, each interval the cubic coefficients
(c0, c1, c2, c3) of its quantities one after the other.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# ---- layout of pp ----------------------------------------------------------------------------
I_W, I_B, I_C, I_BS0, I_HS, I_BC0, I_HC, I_TT = range(8)
I_VERSION = 8                 # LAYOUT_VERSION
I_CHI = 9                     # 1 / sqrt(1 + pi tan^2 theta-bar)
I_WPI = 10                    # w / (4 pi)
I_R0 = 11                     # r0 = (1 - sqrt(1 - w)) / (1 + sqrt(1 - w)) of the H-function
I_AB = 12                     # (1 + c)(1 - b^2) / 2: backward Henyey-Greenstein lobe
I_AF = 13                     # (1 - c)(1 - b^2) / 2: forward lobe
I_HAS_BC = 14                 # 1 if Bc0 != 0 (the phase table holds 1 + Bc0 Bc), else 0
I_PH_OFF, I_PH_N, I_PH_INVH = 15, 16, 17
I_MU_OFF, I_MU_N, I_MU_INVH = 18, 19, 20
I_PS_OFF, I_PS_N, I_PS_INVH = 21, 22, 23
I_H_OFF, I_H_N, I_H_INVH, I_H_LO, I_H_HI = 24, 25, 26, 27, 28
HEADER = 32
LAYOUT_VERSION = 1.0

#: accuracy every table reaches at its check points (see the module docstring)
TABLE_TOL = 2e-9
#: range of the H table; outside it the kernel evaluates the formula
H_LO = 0.01
H_HI = 1.0625
_HALF = math.sqrt(0.5)
_N0 = 256
_CAP = {"mu": 8192, "ps": 4096, "ph": 16384, "h": 8192}
_CHECK_T = np.array([0.25, 0.5, 0.75])


# ---------------------------------------------------------------------------------------------
# the tabulated functions, in numpy (complex-capable for the complex-step derivative)
# ---------------------------------------------------------------------------------------------
def _mu_terms(y, tt, chi):
    """E1, E2 and 1/eta of the angle whose cosine is mu = 1 - y^2 (y > 0)."""
    mu = 1.0 - y * y
    s = y * np.sqrt(1.0 + mu)                    # sqrt(1 - mu^2)
    cot = mu / s
    e1 = np.exp(-2.0 / (math.pi * tt) * cot)
    e2 = np.exp(-1.0 / (math.pi * tt * tt) * cot * cot)
    return e1, e2, 1.0 / (chi * (mu + s * tt * e2 / (2.0 - e1)))


def _psi_terms_np(x):
    """psi/pi and f(psi) at x = sin(psi/2), then at x = cos(psi/2) (x > 0)."""
    c = np.sqrt((1.0 - x) * (1.0 + x))
    a = 2.0 / math.pi * np.arcsin(x)
    return a, np.exp(-2.0 * x / c), 1.0 - a, np.exp(-2.0 * c / x)


def _one_minus_exp_over(z):
    """(1 - exp(-z)) / z; its series for small |z| (where the complex step needs it)."""
    small = np.abs(z) < 1e-3
    zs = np.where(small, 1.0, z)
    series = 1.0 - z / 2.0 + z * z / 6.0 - z ** 3 / 24.0 + z ** 4 / 120.0
    return np.where(small, series, (1.0 - np.exp(-zs)) / zs)


def _phase_terms(x, b, c, bs0, hs, bc0, hc):
    """P (1 + Bs0 Bs) (1 + Bc0 Bc) and 1 + Bc0 Bc at x = sin(g/2), then at x = cos(g/2)."""
    out = []
    y = np.sqrt((1.0 - x) * (1.0 + x))
    for cosg, tg2 in ((1.0 - 2.0 * x * x, x / y), (2.0 * x * x - 1.0, y / x)):   # tg2 = tan(g/2)
        b2 = b * b
        qb = 1.0 - 2.0 * b * cosg + b2
        qf = 1.0 + 2.0 * b * cosg + b2
        p = 0.5 * (1.0 + c) * (1.0 - b2) / (qb * np.sqrt(qb)) + 0.5 * (1.0 - c) * (1.0 - b2) / (qf * np.sqrt(qf))
        bsh = 1.0 / (1.0 + tg2 / hs)
        if bc0 != 0.0:
            zeta = tg2 / hc
            bc = 1.0 + bc0 * (1.0 + _one_minus_exp_over(zeta)) / (2.0 * (1.0 + zeta) ** 2)
        else:
            bc = 1.0 + 0.0 * x
        out += [p * (1.0 + bs0 * bsh) * bc, bc]
    return tuple(out)


def _h_terms(x, w, r0):
    return (1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) / 2.0 * np.log((1.0 + x) / x))),)


# ---------------------------------------------------------------------------------------------
# table construction
# ---------------------------------------------------------------------------------------------
def _nodes(fn, x):
    """Values and derivatives of the tuple-valued ``fn`` at real nodes ``x`` (complex step).

    Non-finite values (at removable singularities on end nodes, which the callers fix) become 0."""
    h = 1e-30
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        vals = [np.asarray(v, float) * np.ones_like(x) for v in fn(x)]
        ders = [np.imag(d) / h * np.ones_like(x) for d in fn(x + 1j * h)]
    for v, d in zip(vals, ders):
        bad = ~(np.isfinite(v) & np.isfinite(d))
        v[bad] = 0.0
        d[bad] = 0.0
    return vals, ders


def _hermite(f, d, step):
    """Per-interval cubic coefficients (c0, c1, c2, c3) in t in [0, 1] from node values/derivatives."""
    f0, f1 = f[:-1], f[1:]
    d0, d1 = d[:-1] * step, d[1:] * step
    return np.stack([f0, d0, 3.0 * (f1 - f0) - 2.0 * d0 - d1, 2.0 * (f0 - f1) + d0 + d1], -1)


def _fit(fn, lo, hi, cap, relative, fix=None):
    """Hermite table of the functions ``fn`` on [lo, hi], shape (n, nq, 4), or None if n > ``cap``.

    ``relative[q]``: judge quantity q by its relative (True) or absolute (False) error.
    ``fix(x, vals, ders)`` may set node values/derivatives at removable singularities."""
    n = _N0
    while n <= cap:
        x = lo + (hi - lo) * np.arange(n + 1) / n
        step = (hi - lo) / n
        vals, ders = _nodes(fn, x)
        if fix is not None:
            fix(x, vals, ders)
        coef = np.stack([_hermite(v, d, step) for v, d in zip(vals, ders)], 1)
        xc = (x[:-1, None] + step * _CHECK_T[None, :]).ravel()
        ref, _ = _nodes(fn, xc)
        t = np.tile(_CHECK_T, n)
        worst = 0.0
        for q, r in enumerate(ref):
            cq = np.repeat(coef[:, q, :], len(_CHECK_T), 0)
            got = cq[:, 0] + t * (cq[:, 1] + t * (cq[:, 2] + t * cq[:, 3]))
            scale = np.maximum(np.abs(r), 1e-300) if relative[q] else 1.0
            worst = max(worst, float(np.max(np.abs(got - r) / scale)))
        if np.isfinite(worst) and worst <= TABLE_TOL:
            return coef
        n *= 2
    return None


def build_hapke_tables(w, b, c, bs0, hs, bc0, hc, theta_bar_deg) -> np.ndarray:
    """The packed array ``pp`` of :func:`hapke_r_tab` for one Hapke parameter set (layout in the
    module docstring). A pure, deterministic function of the 8 parameters (numpy arithmetic)."""
    tt = math.tan(math.radians(theta_bar_deg))
    y = math.sqrt(1.0 - w)
    r0 = (1.0 - y) / (1.0 + y)
    chi = 1.0 / math.sqrt(1.0 + math.pi * tt * tt)
    head = np.zeros(HEADER)
    head[:8] = [w, b, c, bs0, hs, bc0, hc, tt]
    head[I_VERSION] = LAYOUT_VERSION
    head[I_CHI] = chi
    head[I_WPI] = w / (4.0 * math.pi)
    head[I_R0] = r0
    head[I_AB] = 0.5 * (1.0 + c) * (1.0 - b * b)
    head[I_AF] = 0.5 * (1.0 - c) * (1.0 - b * b)
    head[I_HAS_BC] = 1.0 if bc0 != 0.0 else 0.0
    head[I_H_LO] = H_LO
    head[I_H_HI] = H_HI
    blocks = [head]
    size = HEADER

    def add(coef, i_off, i_n, i_invh, lo, hi):
        nonlocal size
        if coef is None:
            return
        head[i_off] = size
        head[i_n] = coef.shape[0]
        head[i_invh] = coef.shape[0] / (hi - lo)
        blocks.append(coef.ravel())
        size += coef.size

    ph = _fit(lambda x: _phase_terms(x, b, c, bs0, hs, bc0, hc), 0.0, _HALF, _CAP["ph"], (True,) * 4)
    add(ph, I_PH_OFF, I_PH_N, I_PH_INVH, 0.0, _HALF)

    if tt > 0.0:
        def fix_mu(x, vals, ders):        # mu = 1 (y = 0): E1 = E2 = 0 (flat), 1/eta = 1/chi (flat in y)
            end = x <= 0.0
            for q, v, d in ((0, 0.0, 0.0), (1, 0.0, 0.0), (2, 1.0 / chi, 0.0)):
                vals[q][end] = v
                ders[q][end] = d
        mu_tab = _fit(lambda x: _mu_terms(x, tt, chi), 0.0, 1.0, _CAP["mu"], (False, False, True), fix_mu)
        add(mu_tab, I_MU_OFF, I_MU_N, I_MU_INVH, 0.0, 1.0)
        def fix_ps(x, vals, ders):        # psi = 180 deg: f = exp(-2 / cos(psi/2)) = 0 (flat)
            end = x <= 0.0
            vals[3][end] = 0.0
            ders[3][end] = 0.0
        ps = _fit(_psi_terms_np, 0.0, _HALF, _CAP["ps"], (False,) * 4, fix_ps)
        add(ps, I_PS_OFF, I_PS_N, I_PS_INVH, 0.0, _HALF)

    hx = _fit(lambda x: _h_terms(x, w, r0), H_LO, H_HI, _CAP["h"], (True,))
    add(hx, I_H_OFF, I_H_N, I_H_INVH, H_LO, H_HI)
    return np.concatenate(blocks)


# ---------------------------------------------------------------------------------------------
# kernel
# ---------------------------------------------------------------------------------------------
# Table indices are uint64: numba indexes with a signed integer through a negative-index
# wrap-around (a compare and a cmov per load), with an unsigned one directly. Integer constants
# must be uint64 too (numba types int64 + uint64 as float64).
_U0, _U1, _U2, _U3, _U4, _U8, _U12, _U16 = (np.uint64(v) for v in (0, 1, 2, 3, 4, 8, 12, 16))


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: the FMA instruction where the CPU has one, else libm's
    fma, so the same bits everywhere); numba exposes no fma and contracts only under fastmath."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, inline="always", error_model="numpy")
def _cubic(pp, base, t):
    return _fma(t, _fma(t, _fma(t, pp[base + _U3], pp[base + _U2]), pp[base + _U1]), pp[base])


@njit(cache=True, inline="always", error_model="numpy")
def _cell(x, invh, n):
    """Interval index (uint64) and local coordinate t of x >= 0 on a table of n intervals of
    1/invh. The index is clamped to the table, whatever x is (NaN included)."""
    q = x * invh
    k = min(np.uint64(q), np.uint64(n) - _U1)
    return k, q - k


@njit(cache=True, nogil=True, error_model="numpy")
def _h_exact(x, w, r0):
    """Hapke (2002) approximation of Chandrasekhar's H-function (as ``_kernels_shading._h_function``)."""
    if x <= 0.0:
        return 1.0
    return 1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) / 2.0 * math.log((1.0 + x) / x)))


@njit(cache=True, inline="always", error_model="numpy")
def _h(x, pp):
    n = pp[I_H_N]
    if n > 0.0 and x >= pp[I_H_LO] and x <= pp[I_H_HI]:
        k, t = _cell(x - pp[I_H_LO], pp[I_H_INVH], n)
        return _cubic(pp, np.uint64(pp[I_H_OFF]) + _U4 * k, t)
    return _h_exact(x, pp[I_W], pp[I_R0])


@njit(cache=True, nogil=True, error_model="numpy")
def _phase_exact(cosg, pp):
    """P(g) (1 + Bs0 Bs) (1 + Bc0 Bc) and 1 + Bc0 Bc by the formula (as in ``hapke_r``)."""
    b = pp[I_B]
    b2 = b * b
    qb = 1.0 - 2.0 * b * cosg + b2
    qf = 1.0 + 2.0 * b * cosg + b2
    p = pp[I_AB] / (qb * math.sqrt(qb)) + pp[I_AF] / (qf * math.sqrt(qf))
    tg2 = math.sqrt((1.0 - cosg) / (1.0 + cosg)) if cosg > -1.0 else 1e300
    bsh = 1.0 / (1.0 + tg2 / pp[I_HS])
    bc0 = pp[I_BC0]
    bcb = 0.0
    if bc0 != 0.0:
        zeta = tg2 / pp[I_HC]
        bcb = (1.0 + (1.0 - math.exp(-zeta)) / zeta) / (2.0 * (1.0 + zeta) ** 2) if zeta > 1e-12 else 1.0
    bc = 1.0 + bc0 * bcb
    return p * (1.0 + pp[I_BS0] * bsh) * bc, bc


@njit(cache=True, inline="always", error_model="numpy")
def _phase(cosg, pp):
    n = pp[I_PH_N]
    if n > 0.0:
        k, t = _cell(math.sqrt(0.5 - 0.5 * abs(cosg)), pp[I_PH_INVH], n)
        base = np.uint64(pp[I_PH_OFF]) + _U16 * k + (_U8 if cosg < 0.0 else _U0)
        bc = _cubic(pp, base + _U4, t) if pp[I_HAS_BC] != 0.0 else 1.0
        return _cubic(pp, base, t), bc
    return _phase_exact(cosg, pp)


@njit(cache=True, nogil=True, error_model="numpy")
def _mu_exact(mu, s, tt, chi):
    """E1, E2 and 1/eta of one angle (cosine mu, sine s) by the formula (as in ``hapke_r``)."""
    tn = max(s / mu, 1e-9)
    e1 = math.exp(-2.0 / (math.pi * tt * tn))
    e2 = math.exp(-1.0 / (math.pi * tt * tt * tn * tn))
    return e1, e2, 1.0 / (chi * (mu + s * tt * e2 / (2.0 - e1)))


@njit(cache=True, inline="always", error_model="numpy")
def _mu_terms_k(mu, s, pp):
    n = pp[I_MU_N]
    if n > 0.0:
        k, t = _cell(math.sqrt(1.0 - mu), pp[I_MU_INVH], n)
        base = np.uint64(pp[I_MU_OFF]) + _U12 * k
        return _cubic(pp, base, t), _cubic(pp, base + _U4, t), _cubic(pp, base + _U8, t)
    return _mu_exact(mu, s, pp[I_TT], pp[I_CHI])


@njit(cache=True, nogil=True, error_model="numpy")
def _psi_exact(cpsi):
    f = 0.0 if cpsi <= -1.0 + 1e-15 else math.exp(-2.0 * math.sqrt((1.0 - cpsi) / (1.0 + cpsi)))
    return math.acos(cpsi) / math.pi, f


@njit(cache=True, inline="always", error_model="numpy")
def _psi(cpsi, pp):
    """psi/pi and f(psi) = exp(-2 tan(psi/2)) for cos psi in [-1, 1]."""
    n = pp[I_PS_N]
    if n > 0.0:
        k, t = _cell(math.sqrt(0.5 - 0.5 * abs(cpsi)), pp[I_PS_INVH], n)
        base = np.uint64(pp[I_PS_OFF]) + _U16 * k + (_U8 if cpsi < 0.0 else _U0)
        return _cubic(pp, base, t), _cubic(pp, base + _U4, t)
    return _psi_exact(cpsi)


@njit(cache=True, inline="always", error_model="numpy")
def _cos_psi(cosg, mul, mug, sl, sg):
    """Cosine of the azimuth psi between the incidence and emission planes (1 when either angle
    is 0), from cos g and the cosines and sines of the smaller and the larger angle."""
    if sl < 1e-9 or sg < 1e-9:
        return 1.0
    return min(max((cosg - mul * mug) / (sl * sg), -1.0), 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def _effective(mul, mug, sl, sg, cpsi, ppi, f, e1l, e2l, ietal, e1g, e2g, ietag, i_small, chi, tt):
    """Hapke's roughness correction: the effective cosines (mu0e, mue), the numerator and the
    denominator of the shadowing function S, from the terms of the smaller ("l") and the larger
    ("g") angle and of psi (``ppi`` = psi/pi, ``f`` = f(psi)); i <= e when ``i_small``."""
    s2 = 0.5 - 0.5 * cpsi                          # sin^2(psi / 2)
    q = chi * tt / (2.0 - e1g - ppi * e1l)
    mule = chi * mul + sl * q * (cpsi * e2g + s2 * e2l)
    muge = chi * mug + sg * q * (e2g - s2 * e2l)
    sden = 1.0 - f + f * chi * mul * ietal
    if i_small:
        mu0e = mule
        mue = muge
        snum = muge * mul
    else:
        mu0e = muge
        mue = mule
        snum = mule * mug
    snum *= ietal * ietag * chi
    return mu0e, mue, snum, sden


@njit(cache=True, nogil=True, error_model="numpy")
def hapke_r_tab(mu0, mu, cosg, pp):
    """Hapke bidirectional reflectance r(i, e, g) [1/sr], the model of ``_kernels_shading.hapke_r``, from
    the tables in ``pp`` (:func:`build_hapke_tables`); within 1e-5 relative of the formula.

    Not inlined at numba's IR level (``inline="always"``): that made it 10-20 % cheaper per call but
    added ~14 s of CPU to compiling the render kernels on a cold cache (it is copied into every
    caller before type inference); LLVM still sees it and may inline it."""
    if mu0 <= 0.0 or mu <= 0.0:
        return 0.0
    cosg = min(max(cosg, -1.0), 1.0)
    pbc, bc = _phase(cosg, pp)
    tt = pp[I_TT]
    if tt > 0.0:
        # Hapke's S(i, e, psi): one formula for both cases, with "l" the smaller angle (larger
        # cosine) and "g" the larger one; i <= e when mu0 >= mu (as in hapke_r).
        chi = pp[I_CHI]
        i_small = min(mu0, 1.0) >= min(mu, 1.0)
        mul = min(max(mu0, mu), 1.0)
        mug = min(min(mu0, mu), 1.0)
        sl = math.sqrt(max(0.0, 1.0 - mul * mul))
        sg = math.sqrt(max(0.0, 1.0 - mug * mug))
        e1l, e2l, ietal = _mu_terms_k(mul, sl, pp)
        e1g, e2g, ietag = _mu_terms_k(mug, sg, pp)
        cpsi = _cos_psi(cosg, mul, mug, sl, sg)
        ppi, f = _psi(cpsi, pp)
        mu0e, mue, snum, sden = _effective(mul, mug, sl, sg, cpsi, ppi, f, e1l, e2l, ietal, e1g, e2g, ietag, i_small,
                                           chi, tt)
    else:
        mu0e = mu0
        mue = mu
        snum = 1.0
        sden = 1.0
    scale = pp[I_WPI] * mu0e * snum / ((mu0e + mue) * sden)     # ready before the H look-ups
    return scale * (pbc + (_h(mu0e, pp) * _h(mue, pp) - 1.0) * bc)


# rows of the scratch array of hapke_r_tab_batch
_S_PBC, _S_BC, _S_MUL, _S_MUG, _S_SL, _S_SG, _S_E1L, _S_E2L, _S_IEL, _S_E1G, _S_E2G, _S_IEG, _S_M0E, _S_MUE, _S_SC, \
    _S_ISM = range(16)
#: rows a hapke_r_tab_batch scratch array needs
BATCH_SCRATCH_ROWS = 16


@njit(cache=True, nogil=True, error_model="numpy")
def hapke_r_tab_batch(n, mu0, mu, cosg, pp, out, s):
    """``out[k] = hapke_r_tab(mu0[k], mu[k], cosg[k], pp)`` for k < n, bit for bit, computed in
    stages over the n points (the phase terms of all, then the roughness terms of all, ...):
    each stage is a short loop of independent iterations whose table look-ups the CPU overlaps,
    where one call per point runs them one after the other. ``s``: scratch, at least
    (BATCH_SCRATCH_ROWS, n)."""
    for k in range(n):
        if mu0[k] <= 0.0 or mu[k] <= 0.0:
            s[_S_ISM, k] = -1.0            # r = 0
            continue
        s[_S_ISM, k] = 0.0
        c = min(max(cosg[k], -1.0), 1.0)
        s[_S_PBC, k], s[_S_BC, k] = _phase(c, pp)
    tt = pp[I_TT]
    if tt > 0.0:
        chi = pp[I_CHI]
        for k in range(n):
            if s[_S_ISM, k] < 0.0:
                continue
            a = mu0[k]
            b = mu[k]
            s[_S_ISM, k] = 1.0 if min(a, 1.0) >= min(b, 1.0) else 0.0
            mul = min(max(a, b), 1.0)
            mug = min(min(a, b), 1.0)
            s[_S_MUL, k] = mul
            s[_S_MUG, k] = mug
            s[_S_SL, k] = math.sqrt(max(0.0, 1.0 - mul * mul))
            s[_S_SG, k] = math.sqrt(max(0.0, 1.0 - mug * mug))
        for k in range(n):
            if s[_S_ISM, k] < 0.0:
                continue
            s[_S_E1L, k], s[_S_E2L, k], s[_S_IEL, k] = _mu_terms_k(s[_S_MUL, k], s[_S_SL, k], pp)
            s[_S_E1G, k], s[_S_E2G, k], s[_S_IEG, k] = _mu_terms_k(s[_S_MUG, k], s[_S_SG, k], pp)
        for k in range(n):
            if s[_S_ISM, k] < 0.0:
                continue
            sl = s[_S_SL, k]
            sg = s[_S_SG, k]
            c = min(max(cosg[k], -1.0), 1.0)
            cpsi = _cos_psi(c, s[_S_MUL, k], s[_S_MUG, k], sl, sg)
            s[_S_M0E, k] = cpsi
            s[_S_MUE, k], s[_S_SC, k] = _psi(cpsi, pp)
        for k in range(n):
            if s[_S_ISM, k] < 0.0:
                continue
            mu0e, mue, snum, sden = _effective(s[_S_MUL, k], s[_S_MUG, k], s[_S_SL, k], s[_S_SG, k], s[_S_M0E, k],
                                               s[_S_MUE, k], s[_S_SC, k], s[_S_E1L, k], s[_S_E2L, k], s[_S_IEL, k],
                                               s[_S_E1G, k], s[_S_E2G, k], s[_S_IEG, k], s[_S_ISM, k] > 0.0, chi, tt)
            s[_S_M0E, k] = mu0e
            s[_S_MUE, k] = mue
            s[_S_SC, k] = pp[I_WPI] * mu0e * snum / ((mu0e + mue) * sden)
    else:
        for k in range(n):
            if s[_S_ISM, k] < 0.0:
                continue
            s[_S_M0E, k] = mu0[k]
            s[_S_MUE, k] = mu[k]
            s[_S_SC, k] = pp[I_WPI] * mu0[k] * 1.0 / ((mu0[k] + mu[k]) * 1.0)
    for k in range(n):
        if s[_S_ISM, k] < 0.0:
            out[k] = 0.0
            continue
        out[k] = s[_S_SC, k] * (s[_S_PBC, k] + (_h(s[_S_M0E, k], pp) * _h(s[_S_MUE, k], pp) - 1.0) * s[_S_BC, k])
