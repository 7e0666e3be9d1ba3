"""Layout of the closed-loop powered-descent kernels (private).

One call of :func:`~farside.descent._kernels_loop.run_segment` advances truth dynamics, sensors,
navigation, guidance and the rate-limited thrust-pointing model with a fixed step until the vehicle
needs the flight software outside the kernel (coarse hazard detection, fine hazard detection) or
touches down.

Frames: ``r`` is site ENU (metres, origin on the reference sphere at the nominal landing point,
z up); the Moon's centre is at ``(0, 0, -R)``. Gravity is the spherical point mass. Altitude is
``|r + R e_z| - R`` (above the reference sphere), so curvature is modelled over the ~400 km braking.

All parameters travel in one float64 vector ``p`` indexed by the constants below; the mutable
simulation state in one float64 vector ``s``. Truth (``s[S_R..]``) and the navigation estimate
(``s[S_RH..]``) are kept apart: guidance reads only the estimate; dynamics and sensors the truth.

This module holds only that layout (phases, stop reasons, the indices of ``p``, ``s`` and of the
trajectory record); the numba kernels are split by concern:

* :mod:`~farside.descent._kernels_dynamics`: terrain height, point-mass gravity, the RK4 integrator
  of the truth state;
* :mod:`~farside.descent._kernels_fsw`: the flight software of one cycle (navigation updates, phase
  logic, guidance, throttle and thrust pointing) and the IMU / strapdown propagation;
* :mod:`~farside.descent._kernels_loop`: the closed loop (:func:`run_segment`) and the trajectory
  record;
* :mod:`~farside.descent._kernels_surface`: the truth surface with rocks: the 3-D imager (lidar)
  scan and the touchdown footprint;
* :mod:`~farside.descent._kernels_hazard`: fine hazard maps (slope, protrusion, footpad plane),
  distance transforms and the safe-cell search.
"""

from __future__ import annotations

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
