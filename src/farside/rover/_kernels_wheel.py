"""Numba kernels of the Wong-Reece rigid wheel and the steady-state drive (private).

Everything is in SI units and radians. The wheel-soil parameters travel in one float64 vector
``p`` indexed by the ``P_*`` constants below (see :func:`pack`). Angles on the rim are measured
from the vertical below the axle, positive towards the direction of travel; the contact runs from
the exit angle 0 (no rebound) to the entry angle ``th1``.

Model (Wong & Reece 1967; Wong 2008, ch. 2 and 4; docs/references.md 7.7):

* normal stress, front region ``thm <= th <= th1``:  ``sigma = k (r (cos th - cos th1))^n`` with
  ``k = k_c / b + k_phi`` (Bekker);
* rear region ``0 <= th < thm``: the same with the equivalent angle
  ``th1 - (th / thm) (th1 - thm)`` (Wong-Reece mapping of the rear onto the front);
* angle of maximum stress ``thm = (c1 + c2 i) th1`` for driving slip ``i >= 0``, ``c1 th1`` in skid;
* shear stress (Janosi-Hanamoto) ``tau = sign(j) (c + sigma tan phi) (1 - exp(-|j| / K))`` with the
  shear displacement on the shear surface of radius ``rs`` (``r`` plus the grouser height):
  driving (``i = 1 - v / (r w) >= 0``): ``j = rs [(th1 - th) - (1 - i)(sin th1 - sin th)]``;
  skid (``s = r w / v - 1 < 0``): ``j = rs [(1 + s)(th1 - th) - (sin th1 - sin th)]`` (the slip
  velocity ``r w - v cos th`` integrated over the time the wheel centre needs to advance, Wong's
  form for braked wheels; ``s = -1`` is a locked wheel sliding, ``j = -rs (sin th1 - sin th)``);
* forces per unit ``b``: vertical ``W = r b int sigma cos + rs b int tau sin``, thrust
  ``H = rs b int tau cos``, compaction resistance ``R = r b int sigma sin``, drawbar pull
  ``DP = H - R``, torque ``T = rs^2 b int tau``.

Integrals: Gauss-Legendre with :data:`NQ` nodes on each smooth piece (``[0, thm]``, ``[thm, th1]``,
each further split where ``j`` changes sign in skid, where ``tau`` has a jump in its second
derivative). Roots: Brent's method (scipy's ``brentq`` algorithm) in reverse-communication form so
that nested solves share one implementation without recursion.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Gauss-Legendre nodes per smooth piece of the contact arc.
NQ = 32
_GL_X, _GL_W = np.polynomial.legendre.leggauss(NQ)
GL_X = np.ascontiguousarray(_GL_X)
GL_W = np.ascontiguousarray(_GL_W)

# ---- parameter vector p --------------------------------------------------------------------------
(P_K, P_N, P_C, P_TANPHI, P_KSHEAR, P_C1, P_C2, P_R, P_RS, P_B, P_LEN) = range(11)

#: Wheel kinds in the drive kernel.
KIND_POWERED = 0
KIND_FREE = 1
KIND_LOCKED = 2

_XTOL = 1e-13
_RTOL = 4.0 * 2.220446049250313e-16
_MAXIT = 200
_TH1_MIN = 1e-9
_TH1_MAX = 0.5 * math.pi


@njit(cache=True)
def pack(k_c, k_phi, n, cohesion, tan_phi, k_shear, c1, c2, r, rs, b):
    """Parameter vector of one wheel on one soil (see the ``P_*`` indices)."""
    p = np.empty(P_LEN)
    p[P_K] = k_c / b + k_phi
    p[P_N] = n
    p[P_C] = cohesion
    p[P_TANPHI] = tan_phi
    p[P_KSHEAR] = k_shear
    p[P_C1] = c1
    p[P_C2] = c2
    p[P_R] = r
    p[P_RS] = rs
    p[P_B] = b
    return p


# ---- Brent's method, reverse communication ------------------------------------------------------
# st: 0 xpre, 1 xcur, 2 xblk, 3 fpre, 4 fcur, 5 fblk, 6 spre, 7 scur


@njit(cache=True)
def _brent_init(st, xa, xb, fa, fb):
    st[0] = xa
    st[1] = xb
    st[2] = 0.0
    st[3] = fa
    st[4] = fb
    st[5] = 0.0
    st[6] = 0.0
    st[7] = 0.0


@njit(cache=True)
def _brent_propose(st):
    """One step of scipy's brentq. Returns (x, done): evaluate f at x and store it in st[4], or stop
    (the root is st[1])."""
    xpre, xcur, xblk, fpre, fcur, fblk, spre, scur = st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7]
    if fpre != 0.0 and fcur != 0.0 and (fpre < 0.0) != (fcur < 0.0):
        xblk = xpre
        fblk = fpre
        spre = xcur - xpre
        scur = spre
    if abs(fblk) < abs(fcur):
        xpre = xcur
        xcur = xblk
        xblk = xpre
        fpre = fcur
        fcur = fblk
        fblk = fpre
    delta = 0.5 * (_XTOL + _RTOL * abs(xcur))
    sbis = 0.5 * (xblk - xcur)
    if fcur == 0.0 or abs(sbis) < delta:
        st[1] = xcur
        st[4] = fcur
        return xcur, True
    if abs(spre) > delta and abs(fcur) < abs(fpre):
        if xpre == xblk:
            stry = -fcur * (xcur - xpre) / (fcur - fpre)
        else:
            dpre = (fpre - fcur) / (xpre - xcur)
            dblk = (fblk - fcur) / (xblk - xcur)
            stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
        if 2.0 * abs(stry) < min(abs(spre), 3.0 * abs(sbis) - delta):
            spre = scur
            scur = stry
        else:
            spre = sbis
            scur = sbis
    else:
        spre = sbis
        scur = sbis
    xpre = xcur
    fpre = fcur
    if abs(scur) > delta:
        xcur += scur
    else:
        xcur += delta if sbis > 0.0 else -delta
    st[0], st[1], st[2], st[3], st[5], st[6], st[7] = xpre, xcur, xblk, fpre, fblk, spre, scur
    return xcur, False


# ---- stresses ------------------------------------------------------------------------------------


@njit(cache=True)
def _sigma(th, th1, thm, p):
    """Normal stress (Pa) at rim angle th."""
    if th >= thm or thm <= 0.0:
        base = math.cos(th) - math.cos(th1)
    else:
        base = math.cos(th1 - (th / thm) * (th1 - thm)) - math.cos(th1)
    if base <= 0.0:
        return 0.0
    if p[P_N] == 1.0:
        return p[P_K] * p[P_R] * base
    return p[P_K] * (p[P_R] * base) ** p[P_N]


@njit(cache=True)
def _jdisp(th, th1, slip, p):
    """Shear displacement (m) at rim angle th."""
    if slip >= 0.0:
        return p[P_RS] * ((th1 - th) - (1.0 - slip) * (math.sin(th1) - math.sin(th)))
    return p[P_RS] * ((1.0 + slip) * (th1 - th) - (math.sin(th1) - math.sin(th)))


@njit(cache=True)
def _tau(sig, j, p):
    """Janosi-Hanamoto shear stress (Pa), signed like the shear displacement j."""
    t = (p[P_C] + sig * p[P_TANPHI]) * (1.0 - math.exp(-abs(j) / p[P_KSHEAR]))
    return t if j >= 0.0 else -t


@njit(cache=True)
def theta_m(th1, slip, p):
    """Angle of maximum normal stress (rad): (c1 + c2 max(i, 0)) th1."""
    return (p[P_C1] + p[P_C2] * max(slip, 0.0)) * th1


@njit(cache=True)
def _skid_root(th1, slip):
    """Rim angle in (0, th1) where the skid shear displacement changes sign, or -1 if none.

    g(th) = (1 + s)(th1 - th) - (sin th1 - sin th) is concave with g(th1) = 0; it has a second root
    in (0, th1) only when 1 + s > cos th1 and g(0) < 0."""
    a = 1.0 + slip
    if slip >= 0.0 or a <= math.cos(th1) or a * th1 - math.sin(th1) >= 0.0:
        return -1.0
    lo = 0.0            # g < 0
    hi = th1            # g > 0 just below th1
    s1 = math.sin(th1)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if hi - lo <= 1e-15 * th1:
            break
        g = a * (th1 - mid) - (s1 - math.sin(mid))
        if g < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def _accumulate(a, b_, sing, th1, thm, slip, p, out):
    """Add the Gauss-Legendre integrals over [a, b_] to out = [sig cos, tau sin, tau cos, sig sin, tau].

    sing = 1 (2): the normal stress vanishes like (distance)^n at a (b_); the substitution
    th = a + (b_ - a) t^2 (th = b_ - (b_ - a) t^2) turns that into t^(2n+1), which Gauss-Legendre
    integrates to ~1e-9 for any n > 0 (a plain rule loses accuracy for n < 1)."""
    if b_ <= a:
        return
    length = b_ - a
    for k in range(NQ):
        x = GL_X[k]
        if sing == 0:
            th = 0.5 * (a + b_) + 0.5 * length * x
            w = 0.5 * length * GL_W[k]
        else:
            t = 0.5 * (x + 1.0)
            w = 0.5 * GL_W[k] * 2.0 * length * t
            th = a + length * t * t if sing == 1 else b_ - length * t * t
        sig = _sigma(th, th1, thm, p)
        tau = _tau(sig, _jdisp(th, th1, slip, p), p)
        c = math.cos(th)
        s = math.sin(th)
        out[0] += w * sig * c
        out[1] += w * tau * s
        out[2] += w * tau * c
        out[3] += w * sig * s
        out[4] += w * tau


@njit(cache=True)
def integrals(th1, slip, p):
    """Forces of the contact with entry angle th1: (W vertical N, H thrust N, R resistance N,
    T torque N m)."""
    thm = theta_m(th1, slip, p)
    out = np.zeros(5)
    cut = _skid_root(th1, slip)
    if cut > 0.0 and cut < thm:
        _accumulate(0.0, cut, 1, th1, thm, slip, p, out)
        _accumulate(cut, thm, 0, th1, thm, slip, p, out)
        _accumulate(thm, th1, 2, th1, thm, slip, p, out)
    elif cut > thm:
        _accumulate(0.0, thm, 1, th1, thm, slip, p, out)
        _accumulate(thm, cut, 0, th1, thm, slip, p, out)
        _accumulate(cut, th1, 2, th1, thm, slip, p, out)
    else:
        _accumulate(0.0, thm, 1, th1, thm, slip, p, out)
        _accumulate(thm, th1, 2, th1, thm, slip, p, out)
    r = p[P_R]
    rs = p[P_RS]
    b = p[P_B]
    w_z = r * b * out[0] + rs * b * out[1]
    h = rs * b * out[2]
    res = r * b * out[3]
    tq = rs * rs * b * out[4]
    return w_z, h, res, tq


@njit(cache=True)
def _solve_brent(load, slip, p):
    """Entry angle by Brent's method over the whole range (the fallback of :func:`solve_contact`)."""
    fa = -load
    fb = integrals(_TH1_MAX, slip, p)[0] - load
    if fb < 0.0:
        return np.nan
    if fb == 0.0:
        return _TH1_MAX
    st = np.empty(8)
    _brent_init(st, _TH1_MIN, _TH1_MAX, fa, fb)
    for _ in range(_MAXIT):
        x, done = _brent_propose(st)
        if done:
            break
        st[4] = integrals(x, slip, p)[0] - load
    return st[1]


@njit(cache=True)
def solve_contact(load, slip, p):
    """Entry angle th1 (rad) at which the vertical force equals ``load``, and the forces there:
    (th1, H, R, T). NaN when even th1 = pi/2 (sinkage = radius) cannot carry the load.

    The vertical force grows nearly as a power of th1 (W ~ th1^(2n+1) for Bekker's wheel), so the
    root is found by the secant method on (log th1, log W) from Bekker's closed-form sinkage times
    1.3 (the Wong-Reece/Bekker ratio at c1 ~ 0.43): 4-6 force evaluations to a relative residual
    of 1e-14; Brent's method over (0, pi/2] if that fails."""
    n = p[P_N]
    r = p[P_R]
    b = p[P_B]
    kb = p[P_K] * b
    z0 = 1.3 * (3.0 * load / ((3.0 - min(n, 2.9)) * kb * math.sqrt(2.0 * r))) ** (2.0 / (2.0 * n + 1.0))
    th = math.acos(1.0 - z0 / r) if z0 < 0.9 * r else 1.2
    u_max = math.log(_TH1_MAX)
    u0 = math.log(th)
    f = integrals(th, slip, p)
    ok = f[0] > 0.0
    if ok:
        g0 = math.log(f[0] / load)
        if abs(g0) <= 1e-14:
            return th, f[1], f[2], f[3]
        u1 = min(u0 - g0 / (2.0 * n + 1.0), u_max)
        for _ in range(40):
            th = math.exp(u1)
            f = integrals(th, slip, p)
            if not (f[0] > 0.0):
                ok = False
                break
            g1 = math.log(f[0] / load)
            if abs(g1) <= 1e-14:
                return th, f[1], f[2], f[3]
            if u1 >= u_max and g1 < 0.0:
                return np.nan, np.nan, np.nan, np.nan      # sinks to the axle
            if g1 == g0 or u1 == u0:
                break
            u2 = u1 - g1 * (u1 - u0) / (g1 - g0)
            if math.isnan(u2) or abs(u2 - u1) > 2.0:
                ok = False
                break
            if abs(u2 - u1) <= 1e-15:
                return th, f[1], f[2], f[3]
            u0, g0 = u1, g1
            u1 = min(u2, u_max)
        else:
            ok = False
        if ok:
            return th, f[1], f[2], f[3]
    th = _solve_brent(load, slip, p)
    if math.isnan(th):
        return np.nan, np.nan, np.nan, np.nan
    f = integrals(th, slip, p)
    return th, f[1], f[2], f[3]


@njit(cache=True)
def solve_theta1(load, slip, p):
    """Entry angle (rad) at which the vertical force equals load; NaN when even th1 = pi/2 (sinkage
    = radius) cannot carry it."""
    return solve_contact(load, slip, p)[0]


@njit(cache=True)
def wheel(load, slip, p):
    """One wheel: (th1 rad, sinkage m, drawbar pull N, torque N m, resistance N, thrust N)."""
    th1, h, res, tq = solve_contact(load, slip, p)
    if math.isnan(th1):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    return th1, p[P_R] * (1.0 - math.cos(th1)), h - res, tq, res, h


@njit(cache=True)
def wheel_array(load, slip, p_k, p_phi, n, cohesion, tan_phi, k_shear, c1, c2, r, rs, b):
    """Vectorised :func:`wheel` over equal-shape 1-D arrays (load, slip, r, rs, b). Returns an
    (N, 6) array of (th1, sinkage, DP, T, R, H)."""
    m = load.shape[0]
    out = np.empty((m, 6))
    for i in range(m):
        p = pack(p_k, p_phi, n, cohesion, tan_phi, k_shear, c1, c2, r[i], rs[i], b[i])
        res = wheel(load[i], slip[i], p)
        for q in range(6):
            out[i, q] = res[q]
    return out


@njit(cache=True)
def torque_at(load, slip, p):
    """Wheel torque (N m) at a slip; NaN if the wheel sinks to its axle."""
    return solve_contact(load, slip, p)[3]


@njit(cache=True)
def slip_for_torque(load, torque, lo, hi, p):
    """Slip in [lo, hi] at which the wheel torque equals ``torque`` (Brent). Returns hi + 1 when even
    ``hi`` needs less torque, lo - 1 when ``lo`` needs more; NaN if the wheel sinks to its axle."""
    fa = torque_at(load, lo, p) - torque
    fb = torque_at(load, hi, p) - torque
    if (math.isnan(fa) or math.isnan(fb)):
        return np.nan
    if fb < 0.0:
        return hi + 1.0
    if fa > 0.0:
        return lo - 1.0
    if fa == 0.0:
        return lo
    if fb == 0.0:
        return hi
    st = np.empty(8)
    _brent_init(st, lo, hi, fa, fb)
    for _ in range(_MAXIT):
        x, done = _brent_propose(st)
        if done:
            break
        st[4] = torque_at(load, x, p) - torque
    return st[1]


# ---- steady-state drive --------------------------------------------------------------------------


@njit(cache=True)
def wheel_loads(weight, sin_a, cos_a, geo, dp, tq, out):
    """Wheel normal loads (N) of a rocker-bogie in pitch on a slope, given each wheel's drawbar
    pull dp (N, +uphill, acting at its axle) and driving torque tq (N m). Slope frame: x uphill
    along the slope, z normal to it. Returns True if every load is > 0.

    geo = [x_0..x_5 (wheel contact x, m), x_rocker, z_rocker, x_bogie, z_bogie, z_axle, x_cg, z_cg,
    frac_left]; wheels 0-2 left front->rear, 3-5 right front->rear; heights above the ground.

    Each rocker (front wheel + bogie pin) and bogie (middle + rear wheel) is a massless link on a
    frictionless pin. The soil acts on a wheel through its axle (force dp, W) and, through the
    wheel's motor, the moment -tq on the link. The body rests on the two rocker pivots; the
    differential shares the body's pitch moment (the weight's moment about the pivot axis) equally
    between the two rockers. Left/right share the normal load by the roll balance (frac_left)."""
    x_p, z_p, x_b, z_b, z_a = geo[6], geo[7], geo[8], geo[9], geo[10]
    x_cg, z_cg, frac_left = geo[11], geo[12], geo[13]
    # moment about +y (nose down positive) of the weight about the rocker pivot axis
    m_w = (z_cg - z_p) * (-weight * sin_a) - (x_cg - x_p) * (-weight * cos_a)
    ok = True
    for side in range(2):
        f = 3 * side
        m = f + 1
        rr = f + 2
        x_f, x_m, x_r = geo[f], geo[m], geo[rr]
        w_side = weight * cos_a * (frac_left if side == 0 else 1.0 - frac_left)
        dp_bog = dp[m] + dp[rr]
        # rocker, moments about its pivot: front wheel force and motor moment, bogie pin force,
        # half the body moment; with W_f + W_bogie = w_side
        rhs_r = (z_a - z_p) * dp[f] - tq[f] + (z_b - z_p) * dp_bog + 0.5 * m_w
        w_f = (rhs_r - (x_b - x_p) * w_side) / (x_f - x_b)
        g = w_side - w_f
        # bogie, moments about its pivot
        rhs_b = (z_a - z_b) * dp_bog - (tq[m] + tq[rr])
        w_m = (rhs_b - (x_r - x_b) * g) / (x_m - x_r)
        out[f] = w_f
        out[m] = w_m
        out[rr] = g - w_m
    for k in range(6):
        if not (out[k] > 0.0):
            ok = False
    return ok


# geo indices
G_XP, G_ZP, G_XB, G_ZB, G_ZA, G_XCG, G_ZCG, G_FRAC = 6, 7, 8, 9, 10, 11, 12, 13


@njit(cache=True)
def _wheel_state(load, kind, i, cap, p, out):
    """State of one wheel at normal load ``load`` when the powered wheels are commanded to slip i.
    out <- [slip, drawbar N, torque N m, sinkage m]. A wheel with load <= 0 is in the air (no soil
    force; the continuous extension of the model at zero load). Returns False if it sinks to its axle."""
    if kind == KIND_LOCKED:
        s = -1.0
    elif kind == KIND_FREE:
        s = 0.0
    else:
        s = i
    if load <= 0.0:
        out[0] = s
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        return True
    if kind == KIND_FREE:
        s = slip_for_torque(load, 0.0, -1.0, 0.0, p)
        if math.isnan(s):
            return False
    elif kind == KIND_POWERED and i != 0.0:
        # the motor's torque cap, driving (i > 0) and braking (i < 0): a capped wheel turns slower
        # (faster) than commanded, at the slip where its torque is the cap
        t = torque_at(load, i, p)
        if math.isnan(t):
            return False
        if t > cap:
            s = slip_for_torque(load, cap, -1.0, i, p)
        elif t < -cap:
            s = slip_for_torque(load, -cap, i, 0.0, p)
        if math.isnan(s):
            return False
    w = wheel(load, s, p)
    if math.isnan(w[0]):
        return False
    out[0] = s
    out[1] = w[2]
    out[2] = w[3]
    out[3] = w[1]
    return True


@njit(cache=True)
def _side_residual(u0, u1, mode, side, i, w_side, m_half, geo, kinds, caps, p, st):
    """Moment residuals (N m) of one side's rocker and bogie for trial loads.

    mode 0 (free bogie): loads (front, middle) = (u0, u1), rear = w_side - u0 - u1; residuals: rocker
    and bogie moments about their pivots.
    mode 1/2 (bogie on its stop, middle (1) or rear (2) wheel in the air): front = u0, the other
    bogie wheel = w_side - u0; residual: moment of the whole side about the rocker pivot (r1 = 0).
    st (3, 4) <- wheel states. Returns (r0, r1, ok)."""
    f = 3 * side
    lds = np.empty(3)
    lds[0] = u0
    if mode == 0:
        lds[1] = u1
        lds[2] = w_side - u0 - u1
    elif mode == 1:
        lds[1] = 0.0
        lds[2] = w_side - u0
    else:
        lds[1] = w_side - u0
        lds[2] = 0.0
    for q in range(3):
        if not _wheel_state(lds[q], kinds[f + q], i, caps[f + q], p, st[q]):
            return 0.0, 0.0, False
    x_p, z_p, x_b, z_b, z_a = geo[G_XP], geo[G_ZP], geo[G_XB], geo[G_ZB], geo[G_ZA]
    # moments about +y (nose down positive) of the soil forces (dp, W at the axle) and moments -T
    mom_p = m_half
    for q in range(3):
        mom_p += (z_a - z_p) * st[q, 1] - (geo[f + q] - x_p) * lds[q] - st[q, 2]
    if mode != 0:
        return mom_p, 0.0, True
    mom_b = 0.0
    for q in range(1, 3):
        mom_b += (z_a - z_b) * st[q, 1] - (geo[f + q] - x_b) * lds[q] - st[q, 2]
    # the rocker carries the bogie's force at the bogie pin, not its moment: rocker residual is the
    # whole side's moment about the rocker pivot less the bogie's own moment about its pivot
    return mom_p - mom_b, mom_b, True


@njit(cache=True)
def _solve_side(mode, side, i, w_side, m_half, geo, kinds, caps, p, u, st):
    """Newton (finite-difference Jacobian, backtracking) on one side's loads; u (2,) is the start
    and receives the solution. Returns True on convergence."""
    tol = 1e-11 * (abs(w_side) + 1.0)
    n = 2 if mode == 0 else 1
    r0, r1, ok = _side_residual(u[0], u[1], mode, side, i, w_side, m_half, geo, kinds, caps, p, st)
    if not ok:
        return False
    norm = math.sqrt(r0 * r0 + r1 * r1)
    for _ in range(60):
        if norm <= tol:
            return True
        h = 1e-6 * (abs(w_side) + 1.0)
        a0, a1, ok0 = _side_residual(u[0] + h, u[1], mode, side, i, w_side, m_half, geo, kinds, caps, p, st)
        if not ok0:
            return False
        j00 = (a0 - r0) / h
        j10 = (a1 - r1) / h
        if n == 2:
            b0, b1, ok1 = _side_residual(u[0], u[1] + h, mode, side, i, w_side, m_half, geo, kinds, caps, p, st)
            if not ok1:
                return False
            j01 = (b0 - r0) / h
            j11 = (b1 - r1) / h
            det = j00 * j11 - j01 * j10
            if det == 0.0:
                return False
            d0 = -(j11 * r0 - j01 * r1) / det
            d1 = -(-j10 * r0 + j00 * r1) / det
        else:
            if j00 == 0.0:
                return False
            d0 = -r0 / j00
            d1 = 0.0
        lam = 1.0
        accepted = False
        for _ls in range(30):
            t0 = u[0] + lam * d0
            t1 = u[1] + lam * d1
            c0, c1, okc = _side_residual(t0, t1, mode, side, i, w_side, m_half, geo, kinds, caps, p, st)
            if okc:
                cn = math.sqrt(c0 * c0 + c1 * c1)
                if cn < norm:
                    u[0] = t0
                    u[1] = t1
                    r0, r1, norm = c0, c1, cn
                    accepted = True
                    break
            lam *= 0.5
        if not accepted:
            return norm <= 1e3 * tol
    return norm <= tol


@njit(cache=True)
def _balance_at(i, weight, sin_a, cos_a, geo, kinds, caps, p, warm, res):
    """Self-consistent wheel loads and states at common slip i (both sides).

    warm (2, 2) holds each side's (front, middle) loads from the last call (updated). res (6, 5) <-
    [slip, load, torque, sinkage, drawbar] per wheel. Returns (status, sum of drawbar pulls N):
    status 0 ok, 2 a front wheel lifts off, 3 no load balance before a wheel sinks to its axle (a
    braked wheel whose drag presses it in faster than its load grows digs in)."""
    m_w = ((geo[G_ZCG] - geo[G_ZP]) * (-weight * sin_a)
           - (geo[G_XCG] - geo[G_XP]) * (-weight * cos_a))
    st = np.empty((3, 4))
    u = np.empty(2)
    total = 0.0
    for side in range(2):
        frac = geo[G_FRAC] if side == 0 else 1.0 - geo[G_FRAC]
        w_side = weight * cos_a * frac
        u[0] = warm[side, 0]
        u[1] = warm[side, 1]
        ok = _solve_side(0, side, i, w_side, 0.5 * m_w, geo, kinds, caps, p, u, st)
        if not ok:
            # a fresh start from the lever-rule loads
            u[0] = w_side / 3.0
            u[1] = w_side / 3.0
            ok = _solve_side(0, side, i, w_side, 0.5 * m_w, geo, kinds, caps, p, u, st)
            if not ok:
                return 3, np.nan
        lf, lm, lr = u[0], u[1], w_side - u[0] - u[1]
        mode = 0
        if lm < 0.0 or lr < 0.0:
            # a bogie wheel lifts: the bogie turns to its stop and rides on the other wheel
            mode = 1 if lm < lr else 2
            u[0] = max(min(lf, w_side), 0.0)
            ok = _solve_side(mode, side, i, w_side, 0.5 * m_w, geo, kinds, caps, p, u, st)
            if not ok:
                return 3, np.nan
            lf = u[0]
            lm = 0.0 if mode == 1 else w_side - lf
            lr = 0.0 if mode == 2 else w_side - lf
            if lf < 0.0 or lm < 0.0 or lr < 0.0:
                return 2, np.nan
        elif lf < 0.0:
            return 2, np.nan
        warm[side, 0] = u[0] if mode == 0 else w_side / 3.0
        warm[side, 1] = u[1] if mode == 0 else w_side / 3.0
        # final states at the solved loads
        _side_residual(u[0], u[1], mode, side, i, w_side, 0.5 * m_w, geo, kinds, caps, p, st)
        lds = (lf, lm, lr)
        for q in range(3):
            k = 3 * side + q
            res[k, 0] = st[q, 0]
            res[k, 1] = lds[q]
            res[k, 2] = st[q, 2]
            res[k, 3] = st[q, 3]
            res[k, 4] = st[q, 1]
            total += st[q, 1]
    return 0, total


@njit(cache=True)
def drive(weight, sin_a, cos_a, geo, kinds, caps, slip_max, p):
    """Steady straight drive up a slope: the common slip of the powered wheels at which the drawbar
    pulls hold the rover, with the wheel loads consistent with the wheel forces at every trial slip.

    Returns (status, common slip, per-wheel (6, 5) array [slip, load N, torque N m, sinkage m,
    drawbar N]): status 0 = balanced (progress), 1 = no slip <= slip_max balances the slope, 2 = a
    front wheel lifts off (the rover pitches up), 3 = no load balance before a wheel sinks to its
    axle, 4 = no powered wheel, 5 = the rover slides downhill even with its powered wheels braked
    as hard as they can (locked or at the torque cap). With status 1-3 the array holds the state at the
    highest slip that could be evaluated."""
    res = np.full((6, 5), np.nan)
    n_powered = 0
    for k in range(6):
        if kinds[k] == KIND_POWERED:
            n_powered += 1
    if n_powered == 0:
        return 4, np.nan, res
    target = weight * sin_a
    warm = np.empty((2, 2))
    for side in range(2):
        frac = geo[G_FRAC] if side == 0 else 1.0 - geo[G_FRAC]
        warm[side, 0] = weight * cos_a * frac / 3.0
        warm[side, 1] = weight * cos_a * frac / 3.0
    tmp = np.full((6, 5), np.nan)
    # scan up in slip until the pull balances the slope (or the state breaks down)
    grid = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, slip_max])
    lo = np.nan
    f_lo = np.nan
    hi = np.nan
    f_hi = np.nan
    status, f0 = _balance_at(0.0, weight, sin_a, cos_a, geo, kinds, caps, p, warm, tmp)
    if status != 0:
        return status, 0.0, tmp
    res[:, :] = tmp
    f0 -= target
    if f0 >= 0.0:
        # balanced at zero slip or below: scan down into skid
        lo_pts = np.array([-0.02, -0.05, -0.1, -0.2, -0.4, -0.7, -1.0])
        hi, f_hi = 0.0, f0
        for x in lo_pts:
            status, fx = _balance_at(x, weight, sin_a, cos_a, geo, kinds, caps, p, warm, tmp)
            if status != 0:
                return status, hi, res
            fx -= target
            if fx < 0.0:
                lo, f_lo = x, fx
                break
            hi, f_hi = x, fx
            res[:, :] = tmp
        if math.isnan(lo):
            return 5, hi, res          # slides down even with the powered wheels braked to the limit
    else:
        lo, f_lo = 0.0, f0
        for q in range(1, grid.shape[0]):
            x = grid[q]
            if x > slip_max:
                break
            status, fx = _balance_at(x, weight, sin_a, cos_a, geo, kinds, caps, p, warm, tmp)
            if status != 0:
                # find where the state breaks down between lo and x, then test the pull there
                a = lo
                b = x
                for _ in range(40):
                    mid = 0.5 * (a + b)
                    s2, fm = _balance_at(mid, weight, sin_a, cos_a, geo, kinds, caps, p, warm, tmp)
                    if s2 == 0:
                        a = mid
                        fm -= target
                        res[:, :] = tmp
                        if fm >= 0.0:
                            hi, f_hi = mid, fm
                            break
                        lo, f_lo = mid, fm
                    else:
                        b = mid
                    if b - a < 1e-6:
                        break
                if math.isnan(hi):
                    return status, a, res
                break
            fx -= target
            res[:, :] = tmp
            if fx >= 0.0:
                hi, f_hi = x, fx
                break
            lo, f_lo = x, fx
        if math.isnan(hi):
            return 1, slip_max, res
    st = np.empty(8)
    _brent_init(st, lo, hi, f_lo, f_hi)
    for _ in range(_MAXIT):
        x, done = _brent_propose(st)
        if done:
            break
        status, fx = _balance_at(x, weight, sin_a, cos_a, geo, kinds, caps, p, warm, tmp)
        if status != 0:
            return status, x, tmp
        st[4] = fx - target
    i = st[1]
    status, fx = _balance_at(i, weight, sin_a, cos_a, geo, kinds, caps, p, warm, res)
    return status, i, res
