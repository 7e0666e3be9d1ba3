"""Numba kernels of the powered descent (private): the closed loop.

:func:`run_segment` advances truth dynamics (:mod:`~farside.descent._kernels_dynamics`), sensors,
navigation and guidance (:mod:`~farside.descent._kernels_fsw`) step by step and records the
trajectory; :func:`phase_first_rows` indexes the record by phase (layout:
:mod:`farside.descent._kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from farside.descent._kernels import (
    C_AGL, C_BX, C_BY, C_BZ, C_F, C_M, C_PHASE, C_RHX, C_RHY, C_RHZ, C_RX, C_RY, C_RZ, C_T, C_VHX, C_VHY, C_VHZ, C_VX,
    C_VY, C_VZ, K_DT, K_GM, K_R_MOON, K_TERR_OUT, K_TERR_RES, K_TERR_X0, K_TERR_Y0, K_THRUST_SCALE, K_VE, K_VE_SCALE,
    S_BX, S_BY, S_BZ, S_F, S_M, S_PHASE, S_RHX, S_RHY, S_RHZ, S_RX, S_RY, S_RZ, S_T, S_VHX, S_VHY, S_VHZ, S_VX, S_VY,
    S_VZ, STOP_MAXSTEPS, STOP_TOUCHDOWN)
from farside.descent._kernels_dynamics import _altitude, _ground_xy, _rk4_s, terrain_height
from farside.descent._kernels_fsw import fsw_step, imu_nav_step


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
