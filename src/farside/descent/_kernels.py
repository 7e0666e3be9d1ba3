"""Numba kernels of the closed-loop powered descent (private).

One call of :func:`run_segment` advances truth dynamics, sensors, navigation, guidance and the
rate-limited thrust-pointing model with a fixed step until the vehicle needs the flight software
outside the kernel (coarse hazard detection, fine hazard detection) or touches down.

Frames: ``r`` is site ENU (metres, origin on the reference sphere at the nominal landing point,
z up); the Moon's centre is at ``(0, 0, -R)``. Gravity is the spherical point mass. Altitude is
``|r + R e_z| - R`` (above the reference sphere), so curvature is modelled over the ~400 km braking.

All parameters travel in one float64 vector ``p`` indexed by the constants below; the mutable
simulation state in one float64 vector ``s``. Truth (``s[S_R..]``) and the navigation estimate
(``s[S_RH..]``) are kept apart: guidance reads only the estimate; dynamics and sensors the truth.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ---- phases ----------------------------------------------------------------------------------
P_BRAKE = 0
P_ADJUST = 1
P_APPROACH = 2
P_HOVER = 3
P_AVOID = 4
P_SLOW = 5
P_FREEFALL = 6
P_DONE = 7
PHASE_NAMES = ("main_braking", "quick_adjustment", "approach", "hover", "avoidance",
               "slow_descent", "free_fall", "touchdown")

# ---- stop reasons returned by run_segment ------------------------------------------------------
STOP_COARSE = 1
STOP_FINE = 2
STOP_TOUCHDOWN = 3
STOP_MAXSTEPS = 4

# ---- parameter vector p ------------------------------------------------------------------------
(K_R_MOON, K_GM, K_DT, K_F_MAX, K_F_MIN, K_VE, K_THRUST_SCALE, K_VE_SCALE, K_OMEGA_MAX,
 K_H_SITE, K_BRAKE_THROTTLE, K_BRAKE_H_END, K_BRAKE_UPRANGE_END, K_BRAKE_VD_END, K_BRAKE_VR_END,
 K_BRAKE_T_END, K_ADJUST_T, K_ADJUST_VR, K_APPROACH_T, K_HOVER_H, K_HOVER_T, K_AVOID_H_END,
 K_AVOID_T, K_SLOW_V, K_CUTOFF_H, K_COARSE_H,
 K_ACC_BIAS_X, K_ACC_BIAS_Y, K_ACC_BIAS_Z, K_ACC_SIGMA, K_ALT_SIGMA_REL, K_ALT_SIGMA_MIN,
 K_ALT_BIAS_REL, K_ALT_MAX_RANGE, K_VEL_SIGMA, K_VEL_BIAS_X, K_VEL_BIAS_Y, K_VEL_BIAS_Z,
 K_VEL_MAX_ALT, K_K_ALT, K_K_VEL, K_K_ALT_V,
 K_TERR_RES, K_TERR_X0, K_TERR_Y0, K_TERR_OUT, K_HDA, K_FOOT_CLEAR, K_N) = range(49)

# ---- state vector s ----------------------------------------------------------------------------
(S_T, S_RX, S_RY, S_RZ, S_VX, S_VY, S_VZ, S_M, S_BX, S_BY, S_BZ, S_F,
 S_RHX, S_RHY, S_RHZ, S_VHX, S_VHY, S_VHZ, S_MH,
 S_PHASE, S_T_PHASE, S_AIM_X, S_AIM_Y, S_H_REF, S_T_GO, S_COARSE_DONE, S_FINE_DONE,
 S_T_CUTOFF, S_H_CUTOFF, S_N) = range(30)

# ---- trajectory record columns -----------------------------------------------------------------
(C_T, C_PHASE, C_RX, C_RY, C_RZ, C_VX, C_VY, C_VZ, C_M, C_F, C_BX, C_BY, C_BZ,
 C_RHX, C_RHY, C_RHZ, C_VHX, C_VHY, C_VHZ, C_AGL, C_N) = range(21)

# noise columns per step: accelerometer xyz, altimeter, velocimeter xyz
N_NOISE = 7


@njit(cache=True, inline="always")
def terrain_height(heights, res, x0, y0, h_out, x, y):
    """Bilinear height at ENU (x, y); ``h_out`` outside the raster (the far braking track)."""
    rows, cols = heights.shape
    col = (x - x0) / res - 0.5
    row = (y0 - y) / res - 0.5
    if col < -0.5 or row < -0.5 or col > cols - 0.5 or row > rows - 0.5:
        return h_out
    if col < 0.0:
        col = 0.0
    if row < 0.0:
        row = 0.0
    if col > cols - 1.000001:
        col = cols - 1.000001
    if row > rows - 1.000001:
        row = rows - 1.000001
    r0 = int(row)
    c0 = int(col)
    fr = row - r0
    fc = col - c0
    return ((1 - fr) * ((1 - fc) * heights[r0, c0] + fc * heights[r0, c0 + 1])
            + fr * ((1 - fc) * heights[r0 + 1, c0] + fc * heights[r0 + 1, c0 + 1]))


@njit(cache=True, inline="always")
def _gravity(rx, ry, rz, R, gm):
    cx = rx
    cy = ry
    cz = rz + R
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    k = -gm / (rr * rr * rr)
    return k * cx, k * cy, k * cz


@njit(cache=True, inline="always")
def _altitude(rx, ry, rz, R):
    cz = rz + R
    return math.sqrt(rx * rx + ry * ry + cz * cz) - R


@njit(cache=True, inline="always")
def _ground_xy(rx, ry, rz, R):
    """ENU (x, y) of the sub-vehicle point on the reference sphere."""
    cz = rz + R
    rr = math.sqrt(rx * rx + ry * ry + cz * cz)
    return rx * R / rr, ry * R / rr


@njit(cache=True, inline="always")
def _deriv_s(x, y, z, vx, vy, vz, m, bx, by, bz, F, ve, R, gm):
    """Translational motion with mass depletion: d/dt of (position, velocity, mass) under
    point-mass gravity and thrust F along the unit axis (bx, by, bz), on scalars."""
    gx, gy, gz = _gravity(x, y, z, R, gm)
    return vx, vy, vz, gx + F * bx / m, gy + F * by / m, gz + F * bz / m, -F / ve


@njit(cache=True, inline="always")
def _rk4_s(x, y, z, vx, vy, vz, m, dt, bx, by, bz, F, ve, R, gm):
    """One classical RK4 step of :func:`_deriv_s` with the thrust held over the step (scalars: no
    arrays in the hot loop). Tested against the rocket equation, Kepler's vis-viva and scipy's
    DOP853 (tests/descent/test_descent_physics.py)."""
    h = 0.5 * dt
    a1, a2, a3, a4, a5, a6, a7 = _deriv_s(x, y, z, vx, vy, vz, m, bx, by, bz, F, ve, R, gm)
    b1, b2, b3, b4, b5, b6, b7 = _deriv_s(x + h * a1, y + h * a2, z + h * a3, vx + h * a4, vy + h * a5, vz + h * a6,
                                          m + h * a7, bx, by, bz, F, ve, R, gm)
    c1, c2, c3, c4, c5, c6, c7 = _deriv_s(x + h * b1, y + h * b2, z + h * b3, vx + h * b4, vy + h * b5, vz + h * b6,
                                          m + h * b7, bx, by, bz, F, ve, R, gm)
    d1, d2, d3, d4, d5, d6, d7 = _deriv_s(x + dt * c1, y + dt * c2, z + dt * c3, vx + dt * c4, vy + dt * c5,
                                          vz + dt * c6, m + dt * c7, bx, by, bz, F, ve, R, gm)
    w = dt / 6.0
    return (x + w * (a1 + 2.0 * b1 + 2.0 * c1 + d1), y + w * (a2 + 2.0 * b2 + 2.0 * c2 + d2),
            z + w * (a3 + 2.0 * b3 + 2.0 * c3 + d3), vx + w * (a4 + 2.0 * b4 + 2.0 * c4 + d4),
            vy + w * (a5 + 2.0 * b5 + 2.0 * c5 + d5), vz + w * (a6 + 2.0 * b6 + 2.0 * c6 + d6),
            m + w * (a7 + 2.0 * b7 + 2.0 * c7 + d7))


@njit(cache=True, inline="always")
def _brake_accel(p, s, T):
    """Explicit (linear-acceleration) guidance in the local vertical / downrange / crossrange frame.

    Returns the commanded thrust acceleration vector (ENU) for time-to-go ``T``.
    """
    R = p[K_R_MOON]
    rx, ry, rz = s[S_RHX], s[S_RHY], s[S_RHZ]
    vx, vy, vz = s[S_VHX], s[S_VHY], s[S_VHZ]
    cx, cy, cz = rx, ry, rz + R
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    ex, ey, ez = cx / rr, cy / rr, cz / rr
    # unit vector of the aim point seen from the Moon's centre
    ax, ay, az = s[S_AIM_X], s[S_AIM_Y], R
    an = math.sqrt(ax * ax + ay * ay + az * az)
    ax, ay, az = ax / an, ay / an, az / an
    cth = ex * ax + ey * ay + ez * az
    if cth > 1.0:
        cth = 1.0
    theta = math.acos(cth)
    # horizontal direction toward the aim point
    dx, dy, dz = ax - cth * ex, ay - cth * ey, az - cth * ez
    dn = math.sqrt(dx * dx + dy * dy + dz * dz)
    if dn < 1e-12:
        # directly above: use the current horizontal velocity direction
        vr0 = vx * ex + vy * ey + vz * ez
        dx, dy, dz = vx - vr0 * ex, vy - vr0 * ey, vz - vr0 * ez
        dn = math.sqrt(dx * dx + dy * dy + dz * dz) + 1e-30
    dx, dy, dz = dx / dn, dy / dn, dz / dn
    # crossrange = e_r x e_down
    qx = ey * dz - ez * dy
    qy = ez * dx - ex * dz
    qz = ex * dy - ey * dx
    h = rr - R
    vr = vx * ex + vy * ey + vz * ez
    vd = vx * dx + vy * dy + vz * dz
    vc = vx * qx + vy * qy + vz * qz
    s_go = R * theta - p[K_BRAKE_UPRANGE_END]
    g_eff = p[K_GM] / (rr * rr) - (vd * vd + vc * vc) / rr
    # linear-acceleration-profile coefficient c0 per axis
    a_r = 6.0 * (p[K_H_SITE] + p[K_BRAKE_H_END] - h - vr * T) / (T * T) - 2.0 * (p[K_BRAKE_VR_END] - vr) / T + g_eff
    a_d = 6.0 * (s_go - vd * T) / (T * T) - 2.0 * (p[K_BRAKE_VD_END] - vd) / T
    a_c = 6.0 * (0.0 - vc * T) / (T * T) - 2.0 * (0.0 - vc) / T
    return (a_r * ex + a_d * dx + a_c * qx, a_r * ey + a_d * dy + a_c * qy, a_r * ez + a_d * dz + a_c * qz)


@njit(cache=True)
def _brake_f(p, s, T, a_avail):
    ax, ay, az = _brake_accel(p, s, T)
    return math.sqrt(ax * ax + ay * ay + az * az) - a_avail


@njit(cache=True)
def _brake_solve_T(p, s, a_avail, T_guess):
    """Time-to-go at which the commanded thrust acceleration equals ``a_avail``.

    Of the roots of ``|a(T)| = a_avail`` the braking solution is the one where ``|a|`` grows with
    ``T`` (shorter: the profile would first accelerate toward the target; longer: coasting). It is
    bracketed around the previous solution, or found by an ascending scan for the first
    negative-to-positive crossing, then bisected. Returns -1 if there is none (thrust too low).
    """
    lo = T_guess - 2.0
    hi = T_guess + 2.0
    ok = lo > 0.2 and _brake_f(p, s, lo, a_avail) < 0.0 and _brake_f(p, s, hi, a_avail) > 0.0
    if not ok:
        prev = _brake_f(p, s, 0.2, a_avail)
        T = 0.2
        found = False
        while T < 4000.0:
            Tn = T * 1.02 + 0.5
            fn = _brake_f(p, s, Tn, a_avail)
            if prev < 0.0 and fn > 0.0:
                lo = T
                hi = Tn
                found = True
                break
            prev = fn
            T = Tn
        if not found:
            return -1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _brake_f(p, s, mid, a_avail) < 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4:
            break
    return 0.5 * (lo + hi)


@njit(cache=True, inline="always")
def _egd(p, s, tx, ty, tz, tvx, tvy, tvz, T):
    """Flat-frame explicit guidance: thrust acceleration reaching (target, target velocity) in T."""
    gx, gy, gz = _gravity(s[S_RHX], s[S_RHY], s[S_RHZ], p[K_R_MOON], p[K_GM])
    T2 = T * T
    ax = 6.0 * (tx - s[S_RHX] - s[S_VHX] * T) / T2 - 2.0 * (tvx - s[S_VHX]) / T - gx
    ay = 6.0 * (ty - s[S_RHY] - s[S_VHY] * T) / T2 - 2.0 * (tvy - s[S_VHY]) / T - gy
    az = 6.0 * (tz - s[S_RHZ] - s[S_VHZ] * T) / T2 - 2.0 * (tvz - s[S_VHZ]) / T - gz
    return ax, ay, az


@njit(cache=True, inline="always")
def _hold(p, s, tz_vel, hold_z, tz):
    """Position hold over the aim point (horizontal PD) with vertical velocity or height tracking."""
    gx, gy, gz = _gravity(s[S_RHX], s[S_RHY], s[S_RHZ], p[K_R_MOON], p[K_GM])
    wn = 0.35
    kp = wn * wn
    kd = 2.0 * 0.9 * wn
    ax = kp * (s[S_AIM_X] - s[S_RHX]) - kd * s[S_VHX]
    ay = kp * (s[S_AIM_Y] - s[S_RHY]) - kd * s[S_VHY]
    ah = math.sqrt(ax * ax + ay * ay)
    if ah > 0.6:  # keep the thrust axis within ~20 deg of vertical
        ax *= 0.6 / ah
        ay *= 0.6 / ah
    ax -= gx
    ay -= gy
    if hold_z:
        az = 0.16 * (tz - s[S_RHZ]) - 0.8 * s[S_VHZ] - gz
    else:
        az = 1.0 * (tz_vel - s[S_VHZ]) - gz
    return ax, ay, az


@njit(cache=True, inline="always")
def truth_agl(s, p, heights):
    """Truth height of the footpads above the terrain under the vehicle."""
    R = p[K_R_MOON]
    gxt, gyt = _ground_xy(s[S_RX], s[S_RY], s[S_RZ], R)
    ter = terrain_height(heights, p[K_TERR_RES], p[K_TERR_X0], p[K_TERR_Y0], p[K_TERR_OUT], gxt, gyt)
    return _altitude(s[S_RX], s[S_RY], s[S_RZ], R) - ter


@njit(cache=True)
def fsw_step(s, p, agl, nz):
    """Flight software for one cycle: sensor updates of the navigation estimate, phase logic,
    guidance, throttle and rate-limited thrust pointing (sets ``s[S_F]`` and the thrust axis).

    Returns 0 to continue, ``STOP_COARSE``/``STOP_FINE`` when hazard detection must run, or
    ``STOP_TOUCHDOWN`` when the truth says the legs are on the ground.
    """
    dt = p[K_DT]
    R = p[K_R_MOON]
    gm = p[K_GM]
    phase = int(s[S_PHASE])
    t = s[S_T]
    if agl <= 0.0:
        s[S_PHASE] = P_DONE
        return STOP_TOUCHDOWN
    # ---- navigation: altimeter and velocimeter updates -----------------------------------
    alt_hat = _altitude(s[S_RHX], s[S_RHY], s[S_RHZ], R)
    if agl < p[K_ALT_MAX_RANGE]:
        sig = p[K_ALT_SIGMA_REL] * agl
        if sig < p[K_ALT_SIGMA_MIN]:
            sig = p[K_ALT_SIGMA_MIN]
        h_meas = agl * (1.0 + p[K_ALT_BIAS_REL]) + sig * nz[3]
        err = (s[S_H_REF] + h_meas) - alt_hat
        cz = s[S_RHZ] + R
        rr = math.sqrt(s[S_RHX] ** 2 + s[S_RHY] ** 2 + cz * cz)
        ex, ey, ez = s[S_RHX] / rr, s[S_RHY] / rr, cz / rr
        kp = p[K_K_ALT]
        kv = p[K_K_ALT_V]
        s[S_RHX] += kp * err * ex
        s[S_RHY] += kp * err * ey
        s[S_RHZ] += kp * err * ez
        s[S_VHX] += kv * err * ex
        s[S_VHY] += kv * err * ey
        s[S_VHZ] += kv * err * ez
    if agl < p[K_VEL_MAX_ALT]:
        kv = p[K_K_VEL]
        sv = p[K_VEL_SIGMA]
        s[S_VHX] += kv * (s[S_VX] + p[K_VEL_BIAS_X] + sv * nz[4] - s[S_VHX])
        s[S_VHY] += kv * (s[S_VY] + p[K_VEL_BIAS_Y] + sv * nz[5] - s[S_VHY])
        s[S_VHZ] += kv * (s[S_VZ] + p[K_VEL_BIAS_Z] + sv * nz[6] - s[S_VHZ])
    alt_hat = _altitude(s[S_RHX], s[S_RHY], s[S_RHZ], R)
    agl_hat = alt_hat - s[S_H_REF]
    # ---- guidance (estimate only) ----------------------------------------------------------
    tp = t - s[S_T_PHASE]
    ax = 0.0
    ay = 0.0
    az = 0.0
    thrust_on = True
    if phase == P_BRAKE:
        if s[S_T_GO] <= 0.0:
            # time-to-go fixed at ignition: the plan's thrust starts at the braking throttle
            T = _brake_solve_T(p, s, p[K_BRAKE_THROTTLE] * p[K_F_MAX] / s[S_MH], 300.0)
            if T < 0.0:
                T = _brake_solve_T(p, s, p[K_F_MAX] / s[S_MH], 300.0)
            if T < 0.0:
                T = 600.0
        else:
            T = s[S_T_GO] - dt
        s[S_T_GO] = T
        if T <= p[K_BRAKE_T_END]:
            phase = P_ADJUST
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            tp = 0.0
        else:
            ax, ay, az = _brake_accel(p, s, T)
    if phase == P_ADJUST:
        # quick adjustment: null horizontal velocity, settle the descent rate, pitch up
        gx, gy, gz = _gravity(s[S_RHX], s[S_RHY], s[S_RHZ], R, gm)
        ax = -0.25 * s[S_VHX] - gx
        ay = -0.25 * s[S_VHY] - gy
        az = 0.25 * (p[K_ADJUST_VR] - s[S_VHZ]) - gz
        if tp >= p[K_ADJUST_T]:
            phase = P_APPROACH
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            tp = 0.0
    if phase == P_APPROACH:
        if s[S_COARSE_DONE] == 0.0 and agl_hat <= p[K_COARSE_H]:
            s[S_COARSE_DONE] = 1.0
            return STOP_COARSE
        T = p[K_APPROACH_T] - tp
        if T <= 1.0:
            phase = P_HOVER
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            tp = 0.0
        else:
            ax, ay, az = _egd(p, s, s[S_AIM_X], s[S_AIM_Y], s[S_H_REF] + p[K_HOVER_H], 0.0, 0.0, 0.0, T)
    if phase == P_HOVER:
        if s[S_FINE_DONE] == 0.0 and tp >= p[K_HOVER_T] - 0.5 * dt:
            s[S_FINE_DONE] = 1.0
            return STOP_FINE
        if tp >= p[K_HOVER_T] - 0.5 * dt:
            phase = P_AVOID
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            tp = 0.0
        else:
            ax, ay, az = _hold(p, s, 0.0, True, s[S_H_REF] + p[K_HOVER_H])
    if phase == P_AVOID:
        T = p[K_AVOID_T] - tp
        if T <= 1.0:
            phase = P_SLOW
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            tp = 0.0
        else:
            ax, ay, az = _egd(p, s, s[S_AIM_X], s[S_AIM_Y], s[S_H_REF] + p[K_AVOID_H_END],
                              0.0, 0.0, -p[K_SLOW_V], T)
    if phase == P_SLOW:
        if agl_hat <= p[K_CUTOFF_H]:
            phase = P_FREEFALL
            s[S_PHASE] = phase
            s[S_T_PHASE] = t
            s[S_T_CUTOFF] = t
            s[S_H_CUTOFF] = agl
        else:
            ax, ay, az = _hold(p, s, -p[K_SLOW_V], False, 0.0)
    if phase == P_FREEFALL:
        thrust_on = False
    # ---- thrust magnitude and rate-limited pointing ---------------------------------------
    if thrust_on:
        a = math.sqrt(ax * ax + ay * ay + az * az)
        cx, cy, cz = ax / a, ay / a, az / a
        bx, by, bz = s[S_BX], s[S_BY], s[S_BZ]
        cang = bx * cx + by * cy + bz * cz
        if cang > 1.0:
            cang = 1.0
        if cang < -1.0:
            cang = -1.0
        ang = math.acos(cang)
        maxang = p[K_OMEGA_MAX] * dt
        if ang <= maxang:
            bx, by, bz = cx, cy, cz
        else:
            # rotate b toward c by maxang in the plane (b, c)
            px, py, pz = cx - cang * bx, cy - cang * by, cz - cang * bz
            pn = math.sqrt(px * px + py * py + pz * pz)
            px, py, pz = px / pn, py / pn, pz / pn
            cm, sm = math.cos(maxang), math.sin(maxang)
            bx, by, bz = cm * bx + sm * px, cm * by + sm * py, cm * bz + sm * pz
        bn = math.sqrt(bx * bx + by * by + bz * bz)
        bx, by, bz = bx / bn, by / bn, bz / bn
        s[S_BX], s[S_BY], s[S_BZ] = bx, by, bz
        # throttle to the command's component along the (lagging) thrust axis
        F = s[S_MH] * (ax * bx + ay * by + az * bz)
        if F > p[K_F_MAX]:
            F = p[K_F_MAX]
        if F < p[K_F_MIN]:
            F = p[K_F_MIN]
    else:
        F = 0.0
    s[S_F] = F
    return 0


@njit(cache=True, inline="always")
def imu_nav_step(s, p, m_old, nz):
    """IMU measurement over the step just integrated (truth state already advanced) and the
    strapdown propagation of the navigation estimate."""
    dt = p[K_DT]
    R = p[K_R_MOON]
    gm = p[K_GM]
    t = s[S_T]
    F = s[S_F]
    F_true = F * p[K_THRUST_SCALE]
    y6 = s[S_M]
    # ---- IMU: measured specific force over the step (truth + bias + noise) ---------------
    fx = F_true * s[S_BX] / (0.5 * (m_old + y6))
    fy = F_true * s[S_BY] / (0.5 * (m_old + y6))
    fz = F_true * s[S_BZ] / (0.5 * (m_old + y6))
    sa = p[K_ACC_SIGMA]
    fx += p[K_ACC_BIAS_X] + sa * nz[0]
    fy += p[K_ACC_BIAS_Y] + sa * nz[1]
    fz += p[K_ACC_BIAS_Z] + sa * nz[2]
    # ---- navigation propagation (strapdown, trapezoidal gravity) ------------------------
    gx0, gy0, gz0 = _gravity(s[S_RHX], s[S_RHY], s[S_RHZ], R, gm)
    axh = fx + gx0
    ayh = fy + gy0
    azh = fz + gz0
    s[S_RHX] += s[S_VHX] * dt + 0.5 * axh * dt * dt
    s[S_RHY] += s[S_VHY] * dt + 0.5 * ayh * dt * dt
    s[S_RHZ] += s[S_VHZ] * dt + 0.5 * azh * dt * dt
    gx1, gy1, gz1 = _gravity(s[S_RHX], s[S_RHY], s[S_RHZ], R, gm)
    s[S_VHX] += (fx + 0.5 * (gx0 + gx1)) * dt
    s[S_VHY] += (fy + 0.5 * (gy0 + gy1)) * dt
    s[S_VHZ] += (fz + 0.5 * (gz0 + gz1)) * dt
    s[S_MH] -= F * dt / p[K_VE]
    s[S_T] = t + dt


@njit(cache=True)
def run_segment(s, p, heights, noise, rec, i_rec, max_steps):
    """Advance the closed loop from state ``s`` (modified in place).

    Returns ``(stop_reason, i_rec)``: the loop stops for the flight software's coarse hazard
    detection (``STOP_COARSE``), its fine hazard detection (``STOP_FINE``), at touchdown, or when
    the record is full. ``rec[i]`` gets one row per step.
    """
    dt = p[K_DT]
    R = p[K_R_MOON]
    gm = p[K_GM]
    res = p[K_TERR_RES]
    tx0 = p[K_TERR_X0]
    ty0 = p[K_TERR_Y0]
    h_out = p[K_TERR_OUT]
    while True:
        if i_rec >= max_steps:
            return STOP_MAXSTEPS, i_rec
        # truth height above the terrain (``truth_agl``, written out: no arrays into inlined calls)
        gxt, gyt = _ground_xy(s[S_RX], s[S_RY], s[S_RZ], R)
        agl = _altitude(s[S_RX], s[S_RY], s[S_RZ], R) - terrain_height(heights, res, tx0, ty0, h_out, gxt, gyt)
        rec[i_rec, C_T] = s[S_T]
        rec[i_rec, C_PHASE] = s[S_PHASE]
        rec[i_rec, C_RX] = s[S_RX]
        rec[i_rec, C_RY] = s[S_RY]
        rec[i_rec, C_RZ] = s[S_RZ]
        rec[i_rec, C_VX] = s[S_VX]
        rec[i_rec, C_VY] = s[S_VY]
        rec[i_rec, C_VZ] = s[S_VZ]
        rec[i_rec, C_M] = s[S_M]
        rec[i_rec, C_F] = s[S_F]
        rec[i_rec, C_BX] = s[S_BX]
        rec[i_rec, C_BY] = s[S_BY]
        rec[i_rec, C_BZ] = s[S_BZ]
        rec[i_rec, C_RHX] = s[S_RHX]
        rec[i_rec, C_RHY] = s[S_RHY]
        rec[i_rec, C_RHZ] = s[S_RHZ]
        rec[i_rec, C_VHX] = s[S_VHX]
        rec[i_rec, C_VHY] = s[S_VHY]
        rec[i_rec, C_VHZ] = s[S_VHZ]
        rec[i_rec, C_AGL] = agl
        nz = noise[i_rec]
        i_rec += 1
        code = fsw_step(s, p, agl, nz)
        if code == STOP_TOUCHDOWN:
            return code, i_rec
        if code != 0:
            return code, i_rec - 1
        m_old = s[S_M]
        (s[S_RX], s[S_RY], s[S_RZ], s[S_VX], s[S_VY], s[S_VZ],
         s[S_M]) = _rk4_s(s[S_RX], s[S_RY], s[S_RZ], s[S_VX], s[S_VY], s[S_VZ], s[S_M], dt, s[S_BX], s[S_BY], s[S_BZ],
                          s[S_F] * p[K_THRUST_SCALE], p[K_VE] * p[K_VE_SCALE], R, gm)
        imu_nav_step(s, p, m_old, nz)


# ---- fine hazard detection: simulated 3-D imager scan and slope/protrusion maps -------------------

@njit(cache=True, inline="always")
def _truth_surface(heights, res, x0, y0, h_out, rocks, x, y):
    z = terrain_height(heights, res, x0, y0, h_out, x, y)
    best = 0.0
    for k in range(rocks.shape[0]):
        dx = x - rocks[k, 0]
        dy = y - rocks[k, 1]
        rad = 0.5 * rocks[k, 2]
        d2 = (dx * dx + dy * dy) / (rad * rad)
        if d2 < 1.0:
            hz = rocks[k, 3] * math.sqrt(1.0 - d2)
            if hz > best:
                best = hz
    return z + best


@njit(cache=True)
def _bin_rocks(rocks, bx0, by0, cell, nb):
    """Bucket rocks by the ``cell``-sized squares their discs overlap (CSR layout)."""
    counts = np.zeros(nb * nb + 1, dtype=np.int64)
    for pass_ in range(2):
        if pass_ == 1:
            for k in range(nb * nb):
                counts[k + 1] += counts[k]
            fill = counts[:-1].copy()
            idx = np.empty(counts[nb * nb], dtype=np.int64)
        for k in range(rocks.shape[0]):
            rad = 0.5 * rocks[k, 2]
            i0 = int(math.floor((rocks[k, 1] - rad - by0) / cell))
            i1 = int(math.floor((rocks[k, 1] + rad - by0) / cell))
            j0 = int(math.floor((rocks[k, 0] - rad - bx0) / cell))
            j1 = int(math.floor((rocks[k, 0] + rad - bx0) / cell))
            for i in range(max(i0, 0), min(i1, nb - 1) + 1):
                for j in range(max(j0, 0), min(j1, nb - 1) + 1):
                    if pass_ == 0:
                        counts[i * nb + j + 1] += 1
                    else:
                        idx[fill[i * nb + j]] = k
                        fill[i * nb + j] += 1
    return counts, idx


@njit(cache=True, inline="always")
def _surface_binned(heights, res, x0, y0, h_out, rocks, counts, idx, bx0, by0, cell, nb, x, y):
    z = terrain_height(heights, res, x0, y0, h_out, x, y)
    i = int(math.floor((y - by0) / cell))
    j = int(math.floor((x - bx0) / cell))
    if i < 0 or j < 0 or i >= nb or j >= nb:
        return z
    best = 0.0
    b = i * nb + j
    for q in range(counts[b], counts[b + 1]):
        k = idx[q]
        dx = x - rocks[k, 0]
        dy = y - rocks[k, 1]
        rad = 0.5 * rocks[k, 2]
        d2 = (dx * dx + dy * dy) / (rad * rad)
        if d2 < 1.0:
            hz = rocks[k, 3] * math.sqrt(1.0 - d2)
            if hz > best:
                best = hz
    return z + best


@njit(cache=True)
def lidar_scan(heights, res, x0, y0, h_out, rocks, lx, ly, lz, n, spacing, noise, sigma):
    """Range image of a nadir-looking scanner at truth position (lx, ly, lz), as relative heights.

    Beam (i, j) points at the nominal ground offset ((j - c) * spacing, -(i - c) * spacing) at the
    sensor's nominal range ``h``; along the beam a point is ``sensor + u * (offset, -h)``, and the
    intersection with the truth surface (terrain + rocks) is the fixed point
    ``u = (lz - surface(u)) / h`` (contracts by ~ tan(off-nadir) x surface slope per pass), iterated
    to 1 cm in range from a start extrapolated linearly from the two previous rows (the first row:
    the previous beam), so that beams of a row are independent (the CPU overlaps them) and most
    converge in one pass. Gaussian range noise ``sigma * noise[i, j]`` is added. Each measured
    point (range x beam direction) is resampled into the nearest cell of the regular grid (mean of
    the points in a cell; empty cells take the mean of measured neighbours, else NaN = unknown).
    Returns the elevation map relative to the sensor, row 0 = north.
    """
    rows, cols = heights.shape
    out = np.empty((n, n))
    acc = np.zeros((n, n))
    cnt = np.zeros((n, n))
    c = 0.5 * (n - 1)
    cell = 1.0
    half = 0.5 * n * spacing * 1.2 + 2.0
    nb = int(2.0 * half / cell) + 1
    bx0 = lx - half
    by0 = ly - half
    counts, idx = _bin_rocks(rocks, bx0, by0, cell, nb)
    # rocks packed in bin order: x, y, 1 / radius^2, height
    nq = idx.shape[0]
    rx = np.empty(nq)
    ry = np.empty(nq)
    rinv2 = np.empty(nq)
    rh = np.empty(nq)
    for q in range(nq):
        k = idx[q]
        rad = 0.5 * rocks[k, 2]
        rx[q] = rocks[k, 0]
        ry[q] = rocks[k, 1]
        rinv2[q] = 1.0 / (rad * rad)
        rh[q] = rocks[k, 3]
    inv_res = 1.0 / res
    inv_cell = 1.0 / cell
    z_nadir = _surface_binned(heights, res, x0, y0, h_out, rocks, counts, idx, bx0, by0, cell, nb, lx, ly)
    h_nom = lz - z_nadir
    inv_h = 1.0 / h_nom
    u1 = np.ones(n)          # converged u of the previous row, per column
    u2 = np.ones(n)          # and of the row before it
    u_prev = 1.0
    for i in range(n):
        gy = -(i - c) * spacing
        for j in range(n):
            gx = (j - c) * spacing
            dn = math.sqrt(gx * gx + gy * gy + h_nom * h_nom)
            if i == 0:
                u = u_prev
            elif i == 1:
                u = u1[j]
            else:
                u = 2.0 * u1[j] - u2[j]
            for _ in range(8):
                # truth surface at the point: terrain bilinear (``terrain_height`` without the edge
                # clamps inside the raster) plus the binned rocks; written out here, not called
                x = lx + u * gx
                y = ly + u * gy
                col = (x - x0) * inv_res - 0.5
                row = (y0 - y) * inv_res - 0.5
                if 0.0 <= col < cols - 1.000001 and 0.0 <= row < rows - 1.000001:
                    r0 = int(row)
                    c0 = int(col)
                    fr = row - r0
                    fc = col - c0
                    zs = ((1 - fr) * ((1 - fc) * heights[r0, c0] + fc * heights[r0, c0 + 1])
                          + fr * ((1 - fc) * heights[r0 + 1, c0] + fc * heights[r0 + 1, c0 + 1]))
                else:
                    zs = terrain_height(heights, res, x0, y0, h_out, x, y)
                bi = int(math.floor((y - by0) * inv_cell))
                bj = int(math.floor((x - bx0) * inv_cell))
                if 0 <= bi < nb and 0 <= bj < nb:
                    b = bi * nb + bj
                    best = 0.0
                    for q in range(counts[b], counts[b + 1]):
                        ddx = x - rx[q]
                        ddy = y - ry[q]
                        d2 = (ddx * ddx + ddy * ddy) * rinv2[q]
                        if d2 < 1.0:
                            hz = rh[q] * math.sqrt(1.0 - d2)
                            if hz > best:
                                best = hz
                    zs += best
                u_new = (lz - zs) * inv_h
                if abs(u_new - u) * dn < 0.01:
                    u = u_new
                    break
                u = u_new
            u_prev = u
            u2[j] = u1[j]
            u1[j] = u
            # measured point: range u * dn + noise along the beam, splat into the nearest cell
            um = u + sigma * noise[i, j] / dn
            jj = int(math.floor(um * (j - c) + c + 0.5))
            ii = int(math.floor(um * (i - c) + c + 0.5))
            if 0 <= ii < n and 0 <= jj < n:
                acc[ii, jj] -= um * h_nom
                cnt[ii, jj] += 1.0
    # cells no beam landed in (behind relief): mean of the measured 8-neighbours, else unknown (NaN)
    for i in range(n):
        for j in range(n):
            if cnt[i, j] > 0:
                out[i, j] = acc[i, j] / cnt[i, j]
            else:
                sm = 0.0
                k = 0
                for a in range(max(i - 1, 0), min(i + 2, n)):
                    for b in range(max(j - 1, 0), min(j + 2, n)):
                        if cnt[a, b] > 0:
                            sm += acc[a, b] / cnt[a, b]
                            k += 1
                out[i, j] = sm / k if k > 0 else np.nan
    return out

@njit(cache=True)
def _integral_images(z):
    """Integral images (n0 + 1, n1 + 1) of z, z * column, z * row (unknown NaN cells count as 0)
    and of the unknown-cell count: S[i, j] sums rows < i and columns < j."""
    n0, n1 = z.shape
    S = np.empty((n0 + 1, n1 + 1))
    Su = np.empty((n0 + 1, n1 + 1))
    Sv = np.empty((n0 + 1, n1 + 1))
    Sn = np.empty((n0 + 1, n1 + 1))
    for j in range(n1 + 1):             # only the first row and column need zeros
        S[0, j] = 0.0
        Su[0, j] = 0.0
        Sv[0, j] = 0.0
        Sn[0, j] = 0.0
    for i in range(1, n0 + 1):
        S[i, 0] = 0.0
        Su[i, 0] = 0.0
        Sv[i, 0] = 0.0
        Sn[i, 0] = 0.0
    for i in range(n0):
        for j in range(n1):
            zz = z[i, j]
            bad = 0.0
            if not np.isfinite(zz):
                zz = 0.0
                bad = 1.0
            S[i + 1, j + 1] = S[i, j + 1] + S[i + 1, j] - S[i, j] + zz
            Su[i + 1, j + 1] = Su[i, j + 1] + Su[i + 1, j] - Su[i, j] + zz * j
            Sv[i + 1, j + 1] = Sv[i, j + 1] + Sv[i + 1, j] - Sv[i, j] + zz * i
            Sn[i + 1, j + 1] = Sn[i, j + 1] + Sn[i + 1, j] - Sn[i, j] + bad
    return S, Su, Sv, Sn


@njit(cache=True)
def slope_protrusion(z, spacing, k):
    """Least-squares plane over a (2k+1)^2 window at every interior cell of ``z``.

    Returns slope (deg) of the plane and the cell's protrusion above it (m); border cells whose
    window leaves the grid, and windows holding unknown (NaN) cells, are NaN. Window sums come from integral images (O(n^2)).
    """
    n0, n1 = z.shape
    S, Su, Sv, Sn = _integral_images(z)
    w = 2 * k + 1
    npts = w * w
    # sum over the window of (u - uc)^2 for u in -k..k, times w
    suu = 0.0
    for u in range(-k, k + 1):
        suu += u * u
    suu *= w
    slope = np.full((n0, n1), np.nan)
    prot = np.full((n0, n1), np.nan)
    for i in range(k, n0 - k):
        for j in range(k, n1 - k):
            a0, a1 = i - k, i + k + 1
            b0, b1 = j - k, j + k + 1
            if Sn[a1, b1] - Sn[a0, b1] - Sn[a1, b0] + Sn[a0, b0] > 0.5 or not np.isfinite(z[i, j]):
                continue  # a window with unknown cells stays NaN (hazard)
            sz = S[a1, b1] - S[a0, b1] - S[a1, b0] + S[a0, b0]
            szu = Su[a1, b1] - Su[a0, b1] - Su[a1, b0] + Su[a0, b0] - j * sz
            szv = Sv[a1, b1] - Sv[a0, b1] - Sv[a1, b0] + Sv[a0, b0] - i * sz
            gx = szu / suu / spacing
            gy = szv / suu / spacing
            slope[i, j] = math.degrees(math.atan(math.sqrt(gx * gx + gy * gy)))
            prot[i, j] = z[i, j] - sz / npts
    return slope, prot


@njit(cache=True)
def truth_surface_many(heights, res, x0, y0, h_out, rocks, xs, ys):
    out = np.empty(xs.shape[0])
    for i in range(xs.shape[0]):
        out[i] = _truth_surface(heights, res, x0, y0, h_out, rocks, xs[i], ys[i])
    return out


@njit(cache=True)
def select_cells(clear, tab, x0, y0, sp, xp, yp, safe_r, dmax, w):
    """Best cell near (xp, yp) of a clearance raster (see ``hda.select_safe_point``).

    ``clear`` holds clearances in metres (``tab`` empty), or squared clearances in cells
    (``edt_capped_sq``) whose metres are ``tab[clear[i, j]]`` (``tab[k] = sqrt(k) * spacing``: the
    same numbers from a quarter of the memory). Returns (i, j, found); i = -1 when no cell is
    within reach.
    """
    direct = tab.shape[0] == 0
    n0, n1 = clear.shape
    jc = (xp - x0) / sp - 0.5
    ic = (y0 - yp) / sp - 0.5
    rad = dmax / sp + 1.0
    i0 = max(0, int(math.floor(ic - rad)))
    i1 = min(n0, int(math.ceil(ic + rad)) + 1)
    j0 = max(0, int(math.floor(jc - rad)))
    j1 = min(n1, int(math.ceil(jc + rad)) + 1)
    best_ok = -1e300
    bi_ok = -1
    bj_ok = -1
    best_any = -1e300
    bi_any = -1
    bj_any = -1
    cap = 2.0 * safe_r
    d2max = dmax * dmax * (1.0 + 1e-9)      # surely out of reach beyond (skips the square root)
    for i in range(i0, i1):
        y = y0 - (i + 0.5) * sp
        dy2 = (y - yp) ** 2
        if dy2 > d2max:
            continue
        # columns of the row within reach (a cell wider on each side than the exact chord)
        hw = math.sqrt(d2max - dy2) / sp + 1.0
        ja = max(j0, int(math.floor(jc - hw)))
        jb = min(j1, int(math.ceil(jc + hw)) + 1)
        for j in range(ja, jb):
            x = x0 + (j + 0.5) * sp
            d2 = (x - xp) ** 2 + dy2
            if d2 > d2max:
                continue
            v = clear[i, j]
            c = v if direct else tab[int(v)]
            if c < safe_r and c <= best_any:
                continue                    # neither the best so far nor safe: no distance needed
            d = math.sqrt(d2)
            if d > dmax:
                continue
            if c > best_any:
                best_any = c
                bi_any = i
                bj_any = j
            if c >= safe_r:
                sc = min(c, cap) - w * d
                if sc > best_ok:
                    best_ok = sc
                    bi_ok = i
                    bj_ok = j
    if bi_ok >= 0:
        return bi_ok, bj_ok, True
    return bi_any, bj_any, False


@njit(cache=True)
def pad_slope(z, spacing, r_pad, skip):
    """Slope (deg) of the plane through four footpads on a circle of ``r_pad`` around each cell.

    Pads at azimuths 45 + 90k deg: the yaw the attitude control holds (and the touchdown check
    uses). Pad heights are bilinear in
    ``z``; cells whose pads leave the grid or touch unknown (NaN) cells, and cells where ``skip``
    is True (already hazardous), are NaN.
    """
    n0, n1 = z.shape
    out = np.full((n0, n1), np.nan)
    m = int(math.ceil(r_pad / spacing)) + 1
    # pad offsets (east, north) and their bilinear cell offsets and weights
    nyaw = 1
    pxs = np.empty((nyaw, 4))
    pys = np.empty((nyaw, 4))
    dc = np.empty((nyaw, 4), dtype=np.int64)
    dr = np.empty((nyaw, 4), dtype=np.int64)
    wcs = np.empty((nyaw, 4))
    wrs = np.empty((nyaw, 4))
    for yaw in range(nyaw):
        for k in range(4):
            a = math.radians(45.0 * (1 - yaw) + 90.0 * k)
            pxs[yaw, k] = r_pad * math.sin(a)
            pys[yaw, k] = r_pad * math.cos(a)
            fc = pxs[yaw, k] / spacing
            fr = -pys[yaw, k] / spacing
            dc[yaw, k] = int(math.floor(fc))
            dr[yaw, k] = int(math.floor(fr))
            wcs[yaw, k] = fc - math.floor(fc)
            wrs[yaw, k] = fr - math.floor(fr)
    for i in range(m, n0 - m):
        for j in range(m, n1 - m):
            if skip[i, j]:
                continue
            worst = 0.0
            bad = False
            for yaw in range(nyaw):
                sx = 0.0
                sy = 0.0
                sxx = 0.0
                syy = 0.0
                for k in range(4):
                    px = pxs[yaw, k]
                    py = pys[yaw, k]
                    r0 = i + dr[yaw, k]
                    c0 = j + dc[yaw, k]
                    wc = wcs[yaw, k]
                    wr = wrs[yaw, k]
                    h = ((1 - wr) * ((1 - wc) * z[r0, c0] + wc * z[r0, c0 + 1])
                         + wr * ((1 - wc) * z[r0 + 1, c0] + wc * z[r0 + 1, c0 + 1]))
                    if not np.isfinite(h):
                        bad = True
                    sx += px * h
                    sy += py * h
                    sxx += px * px
                    syy += py * py
                gx = sx / sxx
                gy = sy / syy
                sl = math.degrees(math.atan(math.sqrt(gx * gx + gy * gy)))
                if sl > worst:
                    worst = sl
            if not bad:
                out[i, j] = worst
    return out


@njit(cache=True, inline="always")
def _edt_1d(f, n, d, v, z):
    """Felzenszwalb & Huttenlocher (2012) 1-D squared distance transform of sampled function f."""
    k = 0
    v[0] = 0
    z[0] = -1e300
    z[1] = 1e300
    for q in range(1, n):
        if f[q] >= 1e299:
            continue
        while True:
            p = v[k]
            if f[p] >= 1e299:
                # the previous parabola is at infinity: replace it
                s = -1e300
            else:
                s = ((f[q] + q * q) - (f[p] + p * p)) / (2.0 * q - 2.0 * p)
            if s <= z[k] and k > 0:
                k -= 1
                continue
            if f[p] >= 1e299:
                v[k] = q
                z[k] = -1e300
                z[k + 1] = 1e300
            else:
                k += 1
                v[k] = q
                z[k] = s
                z[k + 1] = 1e300
            break
    k = 0
    for q in range(n):
        while z[k + 1] < q:
            k += 1
        p = v[k]
        d[q] = (q - p) * (q - p) + f[p] if f[p] < 1e299 else 1e300


@njit(cache=True)
def edt(mask):
    """Exact Euclidean distance (in cells) from every cell to the nearest True cell of ``mask``;
    inf if there is none. Columns: nearest True cell by a forward and a backward sweep (row by
    row, cache-friendly); rows: the 1-D squared transform of Felzenszwalb & Huttenlocher (2012)."""
    n0, n1 = mask.shape
    big = 1e20
    g = np.empty((n0, n1))
    for j in range(n1):
        g[0, j] = 0.0 if mask[0, j] else big
    for i in range(1, n0):
        for j in range(n1):
            g[i, j] = 0.0 if mask[i, j] else g[i - 1, j] + 1.0
    for i in range(n0 - 2, -1, -1):
        for j in range(n1):
            d1 = g[i + 1, j] + 1.0
            if d1 < g[i, j]:
                g[i, j] = d1
    f = np.empty(n1)
    d = np.empty(n1)
    v = np.empty(n1, dtype=np.int64)
    zz = np.empty(n1 + 1)
    out = np.empty((n0, n1))
    for i in range(n0):
        for j in range(n1):
            gij = g[i, j]
            f[j] = gij * gij if gij < 1e19 else 1e300
        _edt_1d(f, n1, d, v, zz)
        for j in range(n1):
            out[i, j] = math.sqrt(d[j]) if d[j] < 1e299 else np.inf
    return out


@njit(cache=True)
def fine_maps(z, spacing, k, r_pad, tan_max, max_obstacle):
    """All fine-HDA maps of an elevation grid in one pass (what ``slope_protrusion`` and
    ``pad_slope`` give, thresholded), without a single arctangent.

    Per interior cell: the least-squares plane over the (2k+1)^2 window (window sums from integral
    images, as ``slope_protrusion``), the protrusion of the cell above it, and, where that plane is
    not already too steep, the plane through the four footpads at ``r_pad`` (azimuths 45 + 90 k
    deg, bilinear pad heights, as ``pad_slope``). Returns ``(slope_tan, protrusion, obstacle,
    hazard)``: the steeper of the two planes as tan(slope) (the window plane alone where it exceeds
    ``tan_max``; NaN = unknown: window leaves the grid or holds unknown cells, pads leave the grid or
    touch unknown cells), the protrusion (float32, NaN = unknown), ``|protrusion| > max_obstacle``,
    and hazard = unknown or tan(slope) > ``tan_max`` or obstacle.
    """
    n0, n1 = z.shape
    S, Su, Sv, Sn = _integral_images(z)
    w = 2 * k + 1
    npts = w * w
    suu = 0.0
    for u in range(-k, k + 1):
        suu += u * u
    suu *= w
    # footpads: offsets (east, north), bilinear cell offsets and weights
    m = int(math.ceil(r_pad / spacing)) + 1
    pxs = np.empty(4)
    pys = np.empty(4)
    dc = np.empty(4, dtype=np.int64)
    dr = np.empty(4, dtype=np.int64)
    wcs = np.empty(4)
    wrs = np.empty(4)
    for q in range(4):
        a = math.radians(45.0 + 90.0 * q)
        pxs[q] = r_pad * math.sin(a)
        pys[q] = r_pad * math.cos(a)
        fc = pxs[q] / spacing
        fr = -pys[q] / spacing
        dc[q] = int(math.floor(fc))
        dr[q] = int(math.floor(fr))
        wcs[q] = fc - math.floor(fc)
        wrs[q] = fr - math.floor(fr)
    sxx = 0.0
    syy = 0.0
    for q in range(4):
        sxx += pxs[q] * pxs[q]
        syy += pys[q] * pys[q]
    inv_sxx = 1.0 / sxx
    px0, px1, px2, px3 = pxs[0], pxs[1], pxs[2], pxs[3]
    py0, py1, py2, py3 = pys[0], pys[1], pys[2], pys[3]
    dr0, dr1, dr2, dr3 = dr[0], dr[1], dr[2], dr[3]
    dc0, dc1, dc2, dc3 = dc[0], dc[1], dc[2], dc[3]
    wr0, wr1, wr2, wr3 = wrs[0], wrs[1], wrs[2], wrs[3]
    wc0, wc1, wc2, wc3 = wcs[0], wcs[1], wcs[2], wcs[3]
    inv_syy = 1.0 / syy
    inv_g = 1.0 / (suu * spacing)
    inv_npts = 1.0 / npts
    tan2 = tan_max * tan_max
    slope = np.full((n0, n1), np.nan)
    prot = np.full((n0, n1), np.nan, dtype=np.float32)
    obstacle = np.zeros((n0, n1), dtype=np.bool_)
    hazard = np.ones((n0, n1), dtype=np.bool_)
    for i in range(k, n0 - k):
        a0 = i - k
        a1 = i + k + 1
        pads_in = m <= i < n0 - m
        for j in range(k, n1 - k):
            b0 = j - k
            b1 = j + k + 1
            zc = z[i, j]
            if Sn[a1, b1] - Sn[a0, b1] - Sn[a1, b0] + Sn[a0, b0] > 0.5 or not np.isfinite(zc):
                continue  # a window with unknown cells: unknown (hazard)
            sz = S[a1, b1] - S[a0, b1] - S[a1, b0] + S[a0, b0]
            szu = Su[a1, b1] - Su[a0, b1] - Su[a1, b0] + Su[a0, b0] - j * sz
            szv = Sv[a1, b1] - Sv[a0, b1] - Sv[a1, b0] + Sv[a0, b0] - i * sz
            gx = szu * inv_g
            gy = szv * inv_g
            g2 = gx * gx + gy * gy
            p = zc - sz * inv_npts
            prot[i, j] = p
            obs = abs(p) > max_obstacle
            obstacle[i, j] = obs
            if g2 <= tan2:
                # footpad plane (the window plane is not already too steep)
                if not (pads_in and m <= j < n1 - m):
                    continue  # pads off the grid: unknown
                # the four pads, unrolled (scalars stay in registers)
                h0 = ((1 - wr0) * ((1 - wc0) * z[i + dr0, j + dc0] + wc0 * z[i + dr0, j + dc0 + 1])
                      + wr0 * ((1 - wc0) * z[i + dr0 + 1, j + dc0] + wc0 * z[i + dr0 + 1, j + dc0 + 1]))
                h1 = ((1 - wr1) * ((1 - wc1) * z[i + dr1, j + dc1] + wc1 * z[i + dr1, j + dc1 + 1])
                      + wr1 * ((1 - wc1) * z[i + dr1 + 1, j + dc1] + wc1 * z[i + dr1 + 1, j + dc1 + 1]))
                h2 = ((1 - wr2) * ((1 - wc2) * z[i + dr2, j + dc2] + wc2 * z[i + dr2, j + dc2 + 1])
                      + wr2 * ((1 - wc2) * z[i + dr2 + 1, j + dc2] + wc2 * z[i + dr2 + 1, j + dc2 + 1]))
                h3 = ((1 - wr3) * ((1 - wc3) * z[i + dr3, j + dc3] + wc3 * z[i + dr3, j + dc3 + 1])
                      + wr3 * ((1 - wc3) * z[i + dr3 + 1, j + dc3] + wc3 * z[i + dr3 + 1, j + dc3 + 1]))
                sx = px0 * h0 + px1 * h1 + px2 * h2 + px3 * h3
                sy = py0 * h0 + py1 * h1 + py2 * h2 + py3 * h3
                if not (np.isfinite(sx) and np.isfinite(sy)):
                    continue  # a pad on an unknown cell
                px_ = sx * inv_sxx
                py_ = sy * inv_syy
                gp2 = px_ * px_ + py_ * py_
                if gp2 > g2:
                    g2 = gp2
            slope[i, j] = math.sqrt(g2)
            hazard[i, j] = obs or not (g2 <= tan2)
    return slope, prot, obstacle, hazard


@njit(cache=True)
def tan_to_deg32(t):
    """degrees(atan(t)) of a 2-D array as float32 (NaN stays NaN)."""
    n0, n1 = t.shape
    out = np.empty((n0, n1), dtype=np.float32)
    for i in range(n0):
        for j in range(n1):
            out[i, j] = math.degrees(math.atan(t[i, j]))
    return out


@njit(cache=True)
def edt_capped_sq(mask, r):
    """Squared Euclidean distance (cells^2, uint16) to the nearest True cell of ``mask``, exact
    where the distance is at most ``r`` cells (r <= 254), above r^2 (at most (r + 1)^2) elsewhere:
    enough for a clearance that is only compared with, or capped at, less than ``r`` cells. Column
    distances by two sweeps, then a brute-force row pass over +-r columns (vectorisable; no
    divisions)."""
    n0, n1 = mask.shape
    far = float(r + 1)
    g = np.empty((n0, n1))
    for j in range(n1):
        g[0, j] = 0.0 if mask[0, j] else far
    for i in range(1, n0):
        for j in range(n1):
            d1 = g[i - 1, j] + 1.0
            g[i, j] = 0.0 if mask[i, j] else (d1 if d1 < far else far)
    for i in range(n0 - 2, -1, -1):
        for j in range(n1):
            d1 = g[i + 1, j] + 1.0
            if d1 < g[i, j]:
                g[i, j] = d1
    far2 = far * far
    row2 = np.full(n1 + 2 * r, far2)     # squared column distances of the row, padded by r
    best = np.empty(n1)
    out = np.empty((n0, n1), dtype=np.uint16)
    for i in range(n0):
        for j in range(n1):
            row2[r + j] = g[i, j] * g[i, j]
            best[j] = far2
        for o in range(2 * r + 1):
            d2 = float((o - r) * (o - r))
            sh = row2[o:o + n1]          # shifted view: indices from 0, so the loop vectorises
            for j in range(n1):
                v = sh[j] + d2
                best[j] = v if v < best[j] else best[j]
        for j in range(n1):
            out[i, j] = np.uint16(best[j])
    return out


@njit(cache=True)
def edt_capped(mask, r):
    """Euclidean distance (cells) to the nearest True cell of ``mask``, exact where it is at most
    ``r`` cells, above ``r`` (at most ``r + 1``) elsewhere: enough for a clearance that is only
    compared with, or capped at, less than ``r`` cells."""
    q = edt_capped_sq(mask, r)
    n0, n1 = q.shape
    out = np.empty((n0, n1))
    for i in range(n0):
        for j in range(n1):
            out[i, j] = math.sqrt(float(q[i, j]))
    return out


@njit(cache=True)
def rocks_window(rocks, x, y, pad):
    """Rows of ``rocks`` (sorted by x) with |x_rock - x| <= pad and |y_rock - y| <= pad."""
    n = rocks.shape[0]
    lo = np.searchsorted(rocks[:, 0], x - pad)
    hi = np.searchsorted(rocks[:, 0], x + pad)
    keep = np.empty(hi - lo, dtype=np.int64)
    m = 0
    for q in range(lo, min(hi, n)):
        if abs(rocks[q, 1] - y) <= pad:
            keep[m] = q
            m += 1
    out = np.empty((m, 4))
    for q in range(m):
        for c in range(4):
            out[q, c] = rocks[keep[q], c]
    return out


@njit(cache=True)
def touchdown_surface(heights, res, x0, y0, h_out, rocks, x, y, pad_x, pad_y, bx, by):
    """Footpad plane and body clearance of a touchdown at (x, y) on the truth surface.

    Pads at offsets (pad_x, pad_y) (symmetric: the least-squares plane through them has
    gx = sum(px h) / sum(px^2), gy likewise, c = mean h); the body points at offsets (bx, by).
    Returns (gx, gy, c, highest body point above the plane).
    """
    sxh = 0.0
    syh = 0.0
    sxx = 0.0
    syy = 0.0
    sh = 0.0
    npad = pad_x.shape[0]
    for q in range(npad):
        h = _truth_surface(heights, res, x0, y0, h_out, rocks, x + pad_x[q], y + pad_y[q])
        sxh += pad_x[q] * h
        syh += pad_y[q] * h
        sxx += pad_x[q] * pad_x[q]
        syy += pad_y[q] * pad_y[q]
        sh += h
    gx = sxh / sxx
    gy = syh / syy
    c = sh / npad
    best = -1e300
    for q in range(bx.shape[0]):
        z = _truth_surface(heights, res, x0, y0, h_out, rocks, x + bx[q], y + by[q])
        d = z - (gx * bx[q] + gy * by[q] + c)
        if d > best:
            best = d
    return gx, gy, c, best


@njit(cache=True)
def phase_first_rows(rec, n, n_phases):
    """First row of each phase in ``rec[:n]`` (-1 if absent), by bisection on the phase column:
    the flight software only ever advances the phase, so the column is non-decreasing (and a
    bisection touches ~13 rows instead of streaming the whole trajectory)."""
    out = np.full(n_phases, -1, dtype=np.int64)
    for k in range(n_phases):
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if rec[mid, C_PHASE] < k:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and rec[lo, C_PHASE] == k:
            out[k] = lo
    return out
