"""Numba kernels of the powered descent (private): the flight software.

:func:`fsw_step` is one cycle of the flight software (sensor updates of the navigation estimate,
phase logic, the guidance laws of each phase, throttle and rate-limited thrust pointing);
:func:`imu_nav_step` the IMU measurement over a step and the strapdown propagation of the estimate.
Guidance reads only the estimate (layout of ``p`` and ``s``: :mod:`farside.descent._kernels`).
"""

from __future__ import annotations

import math

from numba import njit

from farside.descent._kernels import (
    K_ACC_BIAS_X, K_ACC_BIAS_Y, K_ACC_BIAS_Z, K_ACC_SIGMA, K_ADJUST_T, K_ADJUST_VR, K_ALT_BIAS_REL, K_ALT_MAX_RANGE,
    K_ALT_SIGMA_MIN, K_ALT_SIGMA_REL, K_APPROACH_T, K_AVOID_H_END, K_AVOID_T, K_BRAKE_H_END, K_BRAKE_T_END,
    K_BRAKE_THROTTLE, K_BRAKE_UPRANGE_END, K_BRAKE_VD_END, K_BRAKE_VR_END, K_COARSE_H, K_CUTOFF_H, K_DT, K_F_MAX,
    K_F_MIN, K_GM, K_H_SITE, K_HOVER_H, K_HOVER_T, K_K_ALT, K_K_ALT_V, K_K_VEL, K_OMEGA_MAX, K_R_MOON, K_SLOW_V,
    K_THRUST_SCALE, K_VE, K_VEL_BIAS_X, K_VEL_BIAS_Y, K_VEL_BIAS_Z, K_VEL_MAX_ALT, K_VEL_SIGMA, P_ADJUST, P_APPROACH,
    P_AVOID, P_BRAKE, P_DONE, P_FREEFALL, P_HOVER, P_SLOW, S_AIM_X, S_AIM_Y, S_BX, S_BY, S_BZ, S_COARSE_DONE, S_F,
    S_FINE_DONE, S_H_CUTOFF, S_H_REF, S_M, S_MH, S_PHASE, S_RHX, S_RHY, S_RHZ, S_T, S_T_CUTOFF, S_T_GO, S_T_PHASE,
    S_VHX, S_VHY, S_VHZ, S_VX, S_VY, S_VZ, STOP_COARSE, STOP_FINE, STOP_TOUCHDOWN)
from farside.descent._kernels_dynamics import _altitude, _gravity


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
