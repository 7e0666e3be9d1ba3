"""numba kernels for the circular restricted three-body problem (private).

An adaptive Dormand-Prince 8(5,3) integrator (the DOP853 tableau and error estimate of Hairer,
Norsett & Wanner, "Solving ODEs I", II.10; the coefficients are taken from scipy so the two
implementations are step-for-step comparable) specialised to the CR3BP equations of motion, with
or without the 6x6 state transition matrix (state vector of 6 or 42 values, STM row-major after
the state).  Everything is nondimensional (JPL catalogue units).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.integrate._ivp import dop853_coefficients as _dop

_NS = 12
_A = np.ascontiguousarray(_dop.A[:_NS, :_NS], dtype=np.float64)
_B = np.ascontiguousarray(_dop.B, dtype=np.float64)
_C = np.ascontiguousarray(_dop.C[:_NS], dtype=np.float64)
_E3 = np.ascontiguousarray(_dop.E3, dtype=np.float64)
_E5 = np.ascontiguousarray(_dop.E5, dtype=np.float64)

_SAFETY = 0.9
_MIN_FACTOR = 0.2
_MAX_FACTOR = 10.0
_ERR_EXP = -1.0 / 8.0


@njit(cache=True)
def rhs(mu, s, out):
    """CR3BP derivative; ``s`` has 6 values (state) or 42 (state + row-major STM)."""
    x = s[0]
    y = s[1]
    z = s[2]
    vx = s[3]
    vy = s[4]
    vz = s[5]
    mu1 = 1.0 - mu
    dx1 = x + mu
    dx2 = x - mu1
    r1s = dx1 * dx1 + y * y + z * z
    r2s = dx2 * dx2 + y * y + z * z
    r1 = np.sqrt(r1s)
    r2 = np.sqrt(r2s)
    r13 = r1s * r1
    r23 = r2s * r2
    a1 = mu1 / r13
    a2 = mu / r23
    out[0] = vx
    out[1] = vy
    out[2] = vz
    out[3] = 2.0 * vy + x - a1 * dx1 - a2 * dx2
    out[4] = -2.0 * vx + y - a1 * y - a2 * y
    out[5] = -a1 * z - a2 * z
    if s.shape[0] == 42:
        r15 = r13 * r1s
        r25 = r23 * r2s
        b1 = 3.0 * mu1 / r15
        b2 = 3.0 * mu / r25
        uxx = 1.0 - a1 - a2 + b1 * dx1 * dx1 + b2 * dx2 * dx2
        uyy = 1.0 - a1 - a2 + b1 * y * y + b2 * y * y
        uzz = -a1 - a2 + b1 * z * z + b2 * z * z
        uxy = b1 * dx1 * y + b2 * dx2 * y
        uxz = b1 * dx1 * z + b2 * dx2 * z
        uyz = b1 * y * z + b2 * y * z
        # dPhi/dt = A Phi with A = [[0, I], [U, 2 Omega]], Phi row-major at s[6:].
        for j in range(6):
            p0 = s[6 + j]
            p1 = s[12 + j]
            p2 = s[18 + j]
            p3 = s[24 + j]
            p4 = s[30 + j]
            p5 = s[36 + j]
            out[6 + j] = p3
            out[12 + j] = p4
            out[18 + j] = p5
            out[24 + j] = uxx * p0 + uxy * p1 + uxz * p2 + 2.0 * p4
            out[30 + j] = uxy * p0 + uyy * p1 + uyz * p2 - 2.0 * p3
            out[36 + j] = uxz * p0 + uyz * p1 + uzz * p2


@njit(cache=True)
def _step(mu, y, f, h, K, ynew, fnew, tmp):
    """One DOP853 step of size h from y (derivative f). Fills K, ynew, fnew."""
    n = y.shape[0]
    for i in range(n):
        K[0, i] = f[i]
    for s in range(1, _NS):
        for i in range(n):
            acc = 0.0
            for j in range(s):
                acc += K[j, i] * _A[s, j]
            tmp[i] = y[i] + h * acc
        rhs(mu, tmp, K[s])
    for i in range(n):
        acc = 0.0
        for j in range(_NS):
            acc += K[j, i] * _B[j]
        ynew[i] = y[i] + h * acc
    rhs(mu, ynew, fnew)
    for i in range(n):
        K[_NS, i] = fnew[i]


@njit(cache=True)
def _err_norm(K, h, y, ynew, rtol, atol):
    n = y.shape[0]
    e5 = 0.0
    e3 = 0.0
    for i in range(n):
        sc = atol + max(abs(y[i]), abs(ynew[i])) * rtol
        a5 = 0.0
        a3 = 0.0
        for j in range(_NS + 1):
            a5 += K[j, i] * _E5[j]
            a3 += K[j, i] * _E3[j]
        a5 /= sc
        a3 /= sc
        e5 += a5 * a5
        e3 += a3 * a3
    if e5 == 0.0 and e3 == 0.0:
        return 0.0
    denom = e5 + 0.01 * e3
    return abs(h) * e5 / np.sqrt(denom * n)


@njit(cache=True)
def _initial_step(mu, y, f, direction, rtol, atol):
    n = y.shape[0]
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol + abs(y[i]) * rtol
        d0 += (y[i] / sc) ** 2
        d1 += (f[i] / sc) ** 2
    d0 = np.sqrt(d0 / n)
    d1 = np.sqrt(d1 / n)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    y1 = y + h0 * direction * f
    f1 = np.empty(n)
    rhs(mu, y1, f1)
    d2 = 0.0
    for i in range(n):
        sc = atol + abs(y[i]) * rtol
        d2 += ((f1[i] - f[i]) / sc) ** 2
    d2 = np.sqrt(d2 / n) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / 8.0)
    return min(100.0 * h0, h1)


@njit(cache=True)
def propagate(mu, s0, t_out, rtol, atol):
    """Integrate from t=0 through the sorted times ``t_out`` (same sign); states at each.

    The step is clipped to land exactly on each output time. Returns (len(t_out), len(s0)).
    """
    n = s0.shape[0]
    m = t_out.shape[0]
    res = np.empty((m, n))
    y = s0.copy()
    f = np.empty(n)
    rhs(mu, y, f)
    K = np.empty((_NS + 1, n))
    ynew = np.empty(n)
    fnew = np.empty(n)
    tmp = np.empty(n)
    t = 0.0
    direction = 1.0
    if m > 0 and t_out[m - 1] < 0.0:
        direction = -1.0
    h_abs = _initial_step(mu, y, f, direction, rtol, atol)
    for k in range(m):
        tb = t_out[k]
        while direction * (tb - t) > 0.0:
            rejected = False
            while True:
                h = h_abs * direction
                if direction * (t + h - tb) > 0.0:
                    h = tb - t
                _step(mu, y, f, h, K, ynew, fnew, tmp)
                en = _err_norm(K, h, y, ynew, rtol, atol)
                if en < 1.0:
                    fac = _MAX_FACTOR if en == 0.0 else min(_MAX_FACTOR, _SAFETY * en ** _ERR_EXP)
                    if rejected:
                        fac = min(1.0, fac)
                    if abs(h) >= h_abs * 0.999999 or fac < 1.0:
                        h_abs = abs(h) * fac
                    break
                h_abs = abs(h) * max(_MIN_FACTOR, _SAFETY * en ** _ERR_EXP)
                rejected = True
                if h_abs < 1e-14:
                    raise RuntimeError("step size underflow")
            t = t + h
            y[:] = ynew
            f[:] = fnew
        res[k] = y
    return res


@njit(cache=True)
def to_xz_crossing(mu, s0, count, rtol, atol, t_max):
    """Integrate forward until the ``count``-th crossing of the y = 0 plane (t > 0).

    The crossing time is refined by Newton iteration on the length of the final step (each
    iterate is one DOP853 step from the last accepted state). Returns (t, state); t < 0 when no
    crossing happened before ``t_max``.
    """
    n = s0.shape[0]
    y = s0.copy()
    f = np.empty(n)
    rhs(mu, y, f)
    K = np.empty((_NS + 1, n))
    ynew = np.empty(n)
    fnew = np.empty(n)
    tmp = np.empty(n)
    t = 0.0
    h_abs = _initial_step(mu, y, f, 1.0, rtol, atol)
    seen = 0
    while t < t_max:
        rejected = False
        while True:
            h = h_abs
            _step(mu, y, f, h, K, ynew, fnew, tmp)
            en = _err_norm(K, h, y, ynew, rtol, atol)
            if en < 1.0:
                fac = _MAX_FACTOR if en == 0.0 else min(_MAX_FACTOR, _SAFETY * en ** _ERR_EXP)
                if rejected:
                    fac = min(1.0, fac)
                h_next = h * fac
                break
            h_abs = h * max(_MIN_FACTOR, _SAFETY * en ** _ERR_EXP)
            rejected = True
            if h_abs < 1e-14:
                raise RuntimeError("step size underflow")
        crossed = (y[1] == 0.0 and t > 0.0) or (y[1] * ynew[1] < 0.0) or (ynew[1] == 0.0)
        if crossed:
            seen += 1
            if seen == count:
                # Newton on the step length: y_1(h) = 0.
                hc = h * y[1] / (y[1] - ynew[1]) if y[1] != ynew[1] else h
                for _ in range(12):
                    _step(mu, y, f, hc, K, ynew, fnew, tmp)
                    dh = ynew[1] / fnew[1]
                    hc -= dh
                    if abs(dh) < 1e-15:
                        break
                _step(mu, y, f, hc, K, ynew, fnew, tmp)
                return t + hc, ynew.copy()
        t += h
        y[:] = ynew
        f[:] = fnew
        h_abs = h_next
    return -1.0, y.copy()
