"""Closed-loop powered descent: :func:`simulate_descent`.

Phases (CE-3/CE-4 design, docs/references.md 2.1-2.2): main braking from the 15 km perilune at full
thrust with explicit (linear-acceleration) guidance in the local vertical frame over a spherical
Moon; quick adjustment (pitch-up, velocity nulling); near-vertical approach with coarse hazard
avoidance from the LCAM image at ~2 km; hover at 100 m with fine hazard avoidance from the 3-D
imager; avoidance manoeuvre to 30 m; slow descent at constant speed; engine cut-off at 2 m; free fall
onto the four legs.

Truth and navigation are kept apart: the guidance reads only the navigation estimate (IMU
strapdown propagation corrected by the laser altimeter and, below 3 km, the velocimeter); the
dynamics, the sensors and the touchdown check read the truth. Hazard detection sees only what the
sensors see: the LCAM image and the 3-D imager's noisy range samples; the chosen point is handed to
the guidance as an offset from the vehicle, so navigation position errors do not move it.

Nothing here plots or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from farside.constants import MOON_GM_M3_S2, MOON_RADIUS_M
from farside.descent import _kernels as K
from farside.descent._kernels_dynamics import truth_agl
from farside.descent._kernels_fsw import fsw_step, imu_nav_step
from farside.descent._kernels_loop import phase_first_rows, run_segment
from farside.descent._kernels_surface import lidar_scan
from farside.descent.hda import HazardMap, SiteHazards, fine_hazard_map, prepare_hazards, rocks_near, select_safe_point
from farside.descent.lander import CE4_LANDER, Lander
from farside.descent.touchdown import TouchdownCheck, check_touchdown, shaped_rocks
from farside.errors import PhysicsError, ScenarioError, invalid

__all__ = ["Dispersions", "DescentResult", "simulate_descent", "initial_state", "PHASE_NAMES", "TRAJECTORY_COLUMNS"]

PHASE_NAMES = K.PHASE_NAMES

#: Columns of :attr:`DescentResult.trajectory` (site ENU, SI units); ``*_nav`` is the estimate.
TRAJECTORY_COLUMNS = ("t_s", "phase", "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps", "mass_kg", "thrust_n",
                      "axis_x", "axis_y", "axis_z", "x_nav_m", "y_nav_m", "z_nav_m", "vx_nav_mps", "vy_nav_mps",
                      "vz_nav_mps", "height_agl_m")


@dataclass(frozen=True)
class Dispersions:
    """1-sigma dispersions of a Monte Carlo landing (truth departs from the nominal plan).

    Defaults are assumptions: delivery errors of the pre-landing orbit at ignition, engine thrust
    and Isp scale errors, mass knowledge. Sensor noise and biases are always drawn (see ``Sensors``).
    """

    delivery_pos_sigma_m: tuple[float, float, float] = (500.0, 500.0, 150.0)
    delivery_vel_sigma_mps: float = 0.5
    thrust_scale_sigma: float = 0.005
    isp_scale_sigma: float = 0.005
    mass_sigma_kg: float = 15.0

    def __post_init__(self) -> None:
        vals = [*self.delivery_pos_sigma_m, self.delivery_vel_sigma_mps, self.thrust_scale_sigma,
                self.isp_scale_sigma, self.mass_sigma_kg]
        for name, v in zip(("delivery_pos_sigma_m", "delivery_pos_sigma_m", "delivery_pos_sigma_m",
                            "delivery_vel_sigma_mps", "thrust_scale_sigma", "isp_scale_sigma", "mass_sigma_kg"), vals):
            if not (math.isfinite(v) and v >= 0):
                raise invalid(f"Dispersions.{name}", v, "a finite number >= 0")


@dataclass(frozen=True, eq=False)
class DescentResult:
    """The outcome of one descent. Times are seconds since ignition (add ``ignition_s``)."""

    trajectory: np.ndarray                 # (n, len(TRAJECTORY_COLUMNS)) float64
    phase_start_s: dict[str, float]
    touchdown: TouchdownCheck
    ignition_s: float
    duration_s: float
    touchdown_x_m: float
    touchdown_y_m: float
    touchdown_lat_deg: float
    touchdown_lon_deg: float
    vertical_speed_mps: float
    horizontal_speed_mps: float
    attitude_deg: float
    propellant_used_kg: float
    hover_altitude_m: float
    cutoff_height_m: float
    coarse_divert_m: float
    divert_m: float
    hda: bool
    coarse_map: HazardMap | None = None
    coarse_choice_xy_m: tuple[float, float] | None = None
    fine_map: HazardMap | None = None
    fine_choice_xy_m: tuple[float, float] | None = None   # in the fine map's nadir-relative frame
    fine_origin_xy_m: tuple[float, float] | None = None   # truth ENU of the fine map's origin
    fine_found_safe: bool | None = None
    parameters: dict = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        return self.touchdown.safe

    @property
    def failed_criteria(self) -> list[str]:
        return list(self.touchdown.failed)

    def column(self, name: str) -> np.ndarray:
        return self.trajectory[:, TRAJECTORY_COLUMNS.index(name)]

    def summary(self) -> dict:
        """The JSON-ready numbers of ``products/descent/summary.json`` (without UTC strings)."""
        return {
            "duration_s": self.duration_s,
            "touchdown_x_m": self.touchdown_x_m,
            "touchdown_y_m": self.touchdown_y_m,
            "touchdown_lat_deg": self.touchdown_lat_deg,
            "touchdown_lon_deg": self.touchdown_lon_deg,
            "vertical_speed_mps": self.vertical_speed_mps,
            "horizontal_speed_mps": self.horizontal_speed_mps,
            "attitude_deg": self.attitude_deg,
            "propellant_used_kg": self.propellant_used_kg,
            "hover_altitude_m": self.hover_altitude_m,
            "cutoff_height_m": self.cutoff_height_m,
            "coarse_divert_m": self.coarse_divert_m,
            "divert_m": self.divert_m,
            "hda": self.hda,
            "safe": self.safe,
            "failed_criteria": self.failed_criteria,
            "touchdown_slope_deg": self.touchdown.slope_deg,
            "touchdown_obstacle_m": self.touchdown.obstacle_m,
            "phase_start_s": dict(self.phase_start_s),
        }


def _params(lander: Lander, h_site: float, terrain, thrust_scale: float, ve_scale: float,
            acc_bias, alt_bias_rel: float, vel_bias, hda: bool) -> np.ndarray:
    pr, se = lander.profile, lander.sensors
    p = np.zeros(K.K_N)
    p[K.K_R_MOON] = MOON_RADIUS_M
    p[K.K_GM] = MOON_GM_M3_S2
    p[K.K_DT] = lander.dt_s
    p[K.K_F_MAX] = lander.max_thrust_n
    p[K.K_F_MIN] = lander.min_thrust_n
    p[K.K_VE] = lander.exhaust_velocity_mps
    p[K.K_THRUST_SCALE] = thrust_scale
    p[K.K_VE_SCALE] = ve_scale
    p[K.K_OMEGA_MAX] = math.radians(lander.max_slew_rate_deg_s)
    p[K.K_H_SITE] = h_site
    p[K.K_BRAKE_THROTTLE] = pr.brake_throttle
    p[K.K_BRAKE_H_END] = pr.brake_end_height_m
    p[K.K_BRAKE_UPRANGE_END] = pr.brake_end_uprange_m
    p[K.K_BRAKE_VD_END] = pr.brake_end_downrange_speed_mps
    p[K.K_BRAKE_VR_END] = pr.brake_end_vertical_speed_mps
    p[K.K_BRAKE_T_END] = pr.brake_end_time_to_go_s
    p[K.K_ADJUST_T] = pr.adjust_duration_s
    p[K.K_ADJUST_VR] = pr.adjust_vertical_speed_mps
    p[K.K_APPROACH_T] = pr.approach_duration_s
    p[K.K_HOVER_H] = pr.hover_height_m
    p[K.K_HOVER_T] = pr.hover_duration_s
    p[K.K_AVOID_H_END] = pr.avoid_end_height_m
    p[K.K_AVOID_T] = pr.avoid_duration_s
    p[K.K_SLOW_V] = pr.slow_descent_speed_mps
    p[K.K_CUTOFF_H] = pr.cutoff_height_m
    p[K.K_COARSE_H] = pr.coarse_hda_height_m
    p[K.K_ACC_BIAS_X:K.K_ACC_BIAS_Z + 1] = acc_bias
    p[K.K_ACC_SIGMA] = se.acc_noise_sigma_mps2
    p[K.K_ALT_SIGMA_REL] = se.alt_noise_rel
    p[K.K_ALT_SIGMA_MIN] = se.alt_noise_min_m
    p[K.K_ALT_BIAS_REL] = alt_bias_rel
    p[K.K_ALT_MAX_RANGE] = se.alt_max_range_m
    p[K.K_VEL_SIGMA] = se.vel_noise_sigma_mps
    p[K.K_VEL_BIAS_X:K.K_VEL_BIAS_Z + 1] = vel_bias
    p[K.K_VEL_MAX_ALT] = se.vel_max_height_m
    p[K.K_K_ALT] = se.gain_alt
    p[K.K_K_VEL] = se.gain_vel
    p[K.K_K_ALT_V] = se.gain_alt_v
    p[K.K_TERR_RES] = terrain.resolution_m
    p[K.K_TERR_X0] = terrain.x0_m
    p[K.K_TERR_Y0] = terrain.y0_m
    p[K.K_TERR_OUT] = h_site
    p[K.K_HDA] = 1.0 if hda else 0.0
    return p


def initial_state(lander: Lander) -> tuple[np.ndarray, np.ndarray]:
    """Nominal ignition position and velocity (site ENU) at the perilune of the pre-landing orbit."""
    pr = lander.profile
    R = MOON_RADIUS_M
    rp = R + pr.perilune_altitude_m
    a = R + 0.5 * (pr.perilune_altitude_m + pr.apolune_altitude_m)
    vp = math.sqrt(MOON_GM_M3_S2 * (2.0 / rp - 1.0 / a))
    phi = pr.ignition_range_m / R
    az = math.radians(pr.approach_azimuth_deg)
    he, hn = math.sin(az), math.cos(az)          # heading at the site (unit, east/north)
    # ignition point lies up-range (against the heading) on the great circle through the site
    r = np.array([-he * rp * math.sin(phi), -hn * rp * math.sin(phi), rp * math.cos(phi) - R])
    v = vp * np.array([he * math.cos(phi), hn * math.cos(phi), math.sin(phi)])
    return r, v


def _refine_touchdown(rec: np.ndarray, n: int):
    """Ballistic interpolation between the last airborne sample and the first on the ground."""
    a, b = rec[n - 2], rec[n - 1]
    g = MOON_GM_M3_S2 / (MOON_RADIUS_M + a[K.C_RZ]) ** 2
    h0 = a[K.C_AGL]
    vz0 = a[K.C_VZ]
    if a[K.C_F] > 0.0 or h0 <= 0.0:
        return b.copy(), 0.0
    # solve h0 + vz0 t - g t^2 / 2 = 0 (terrain locally level over the 0.1 s step)
    t = (vz0 + math.sqrt(vz0 * vz0 + 2.0 * g * h0)) / g
    out = a.copy()
    out[K.C_T] = a[K.C_T] + t
    out[K.C_RX] = a[K.C_RX] + a[K.C_VX] * t
    out[K.C_RY] = a[K.C_RY] + a[K.C_VY] * t
    out[K.C_RZ] = a[K.C_RZ] + vz0 * t - 0.5 * g * t * t
    out[K.C_VZ] = vz0 - g * t
    out[K.C_AGL] = 0.0
    return out, t


def _run_segment_scipy(s, p, heights, noise, rec, i_rec, max_steps):
    """Python twin of ``_kernels_loop.run_segment`` with the truth dynamics integrated by solve_ivp."""
    from scipy.integrate import solve_ivp

    R, gm, dt = p[K.K_R_MOON], p[K.K_GM], p[K.K_DT]

    def rhs(_t, y, bx, by, bz, F, ve):
        c = np.array([y[0], y[1], y[2] + R])
        g = -gm / np.linalg.norm(c) ** 3 * c
        return [y[3], y[4], y[5], g[0] + F * bx / y[6], g[1] + F * by / y[6], g[2] + F * bz / y[6], -F / ve]

    cols = (K.S_T, K.S_PHASE, K.S_RX, K.S_RY, K.S_RZ, K.S_VX, K.S_VY, K.S_VZ, K.S_M, K.S_F, K.S_BX, K.S_BY, K.S_BZ,
            K.S_RHX, K.S_RHY, K.S_RHZ, K.S_VHX, K.S_VHY, K.S_VHZ)
    while True:
        if i_rec >= max_steps:
            return K.STOP_MAXSTEPS, i_rec
        agl = truth_agl(s, p, heights)
        rec[i_rec, :K.C_AGL] = s[list(cols)]
        rec[i_rec, K.C_AGL] = agl
        nz = noise[i_rec]
        i_rec += 1
        code = fsw_step(s, p, agl, nz)
        if code == K.STOP_TOUCHDOWN:
            return code, i_rec
        if code != 0:
            return code, i_rec - 1
        y0 = s[K.S_RX:K.S_M + 1].copy()
        sol = solve_ivp(rhs, (0.0, dt), y0, method="RK45", rtol=1e-9, atol=1e-6,
                        args=(s[K.S_BX], s[K.S_BY], s[K.S_BZ], s[K.S_F] * p[K.K_THRUST_SCALE], p[K.K_VE] * p[K.K_VE_SCALE]))
        m_old = s[K.S_M]
        s[K.S_RX:K.S_M + 1] = sol.y[:, -1]
        imu_nav_step(s, p, m_old, nz)


def simulate_descent(site, *, lander: Lander = CE4_LANDER, dispersions: Dispersions | None = None,
                     rng: np.random.Generator, hda: bool = True, frames: Callable | None = None,
                     hazards: SiteHazards | None = None, ignition_s: float = 0.0,
                     integrator: str = "numba") -> DescentResult:
    """Fly one closed-loop descent onto ``site`` (a ``farside.terrain.Site`` or ``Terrain``).

    Parameters
    ----------
    site : Site or Terrain
        Truth terrain (heights, plus ``rocks`` if a Site). The nominal aim point is the ENU origin.
    lander : Lander
        Vehicle, sensors, profile, limits and HDA settings (default: Chang'e-4 with the documented
        assumptions of :mod:`farside.descent.lander`).
    dispersions : Dispersions or None
        None flies the nominal delivery and engine; sensor noise and biases are always drawn.
    rng : numpy.random.Generator
        The only source of randomness.
    hda : bool
        Coarse and fine hazard avoidance on (True) or off (the lander lands where it was aimed).
    frames : callable or None
        Called after the flight as ``frames(t_s, row)`` for every 0.1 s trajectory row (see
        ``TRAJECTORY_COLUMNS``), e.g. to render camera frames on the fly; the descent stage uses
        :func:`farside.descent.lcam_poses` at the LCAM cadence instead.
    hazards : SiteHazards or None
        The per-site coarse hazard map (build once with ``prepare_hazards``). None: no coarse map.
    ignition_s : float
        Mission time of ignition (seconds since the scenario epoch), copied into the result.
    integrator : 'numba' | 'scipy'
        'numba' (default): the compiled loop with fixed-step RK4 at the 0.1 s control cycle.
        'scipy': the same flight software and sensors, the truth dynamics integrated by
        ``scipy.integrate.solve_ivp`` (RK45, rtol 1e-9, atol 1e-6) over each control cycle from a
        Python loop: a reference for the integration error and the benchmark's peer (~100x slower).
    """
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator", ScenarioError)
    if not isinstance(lander, Lander):
        raise invalid("lander", type(lander).__name__, "a farside.descent.Lander", ScenarioError)
    if dispersions is not None and not isinstance(dispersions, Dispersions):
        raise invalid("dispersions", type(dispersions).__name__, "None or a farside.descent.Dispersions")
    if not math.isfinite(ignition_s):
        raise invalid("ignition_s", ignition_s, "a finite number of seconds")
    if integrator not in ("numba", "scipy"):
        raise invalid("integrator", integrator, "'numba' or 'scipy'")
    stepper = run_segment if integrator == "numba" else _run_segment_scipy
    if hazards is None:
        hazards = prepare_hazards(site)
    elif not isinstance(hazards, SiteHazards):
        raise invalid("hazards", type(hazards).__name__, "None or a farside.descent.SiteHazards")
    terrain, rocks = hazards.terrain, hazards.rocks
    if getattr(site, "terrain", site) is not terrain:
        raise invalid("hazards", "prepared for another site", "prepare_hazards(site) of this same site")
    heights = terrain.heights
    h_site = hazards.reference_height_m
    se = lander.sensors
    hs = lander.hda

    # ---- draws (fixed order: same seed -> same flight) ------------------------------------------
    d_pos = np.zeros(3)
    d_vel = np.zeros(3)
    thrust_scale = 1.0
    ve_scale = 1.0
    d_mass = 0.0
    disp_draw = rng.standard_normal(9)
    if dispersions is not None:
        d_pos = disp_draw[0:3] * np.asarray(dispersions.delivery_pos_sigma_m)
        d_vel = disp_draw[3:6] * dispersions.delivery_vel_sigma_mps
        thrust_scale = 1.0 + disp_draw[6] * dispersions.thrust_scale_sigma
        ve_scale = 1.0 + disp_draw[7] * dispersions.isp_scale_sigma
        d_mass = disp_draw[8] * dispersions.mass_sigma_kg
    sens = rng.standard_normal(14)
    acc_bias = sens[0:3] * se.acc_bias_sigma_mps2
    alt_bias_rel = sens[3] * se.alt_bias_rel_sigma
    vel_bias = sens[4:7] * se.vel_bias_sigma_mps
    nav_pos_err = sens[7:10] * np.asarray(se.init_pos_sigma_m)
    nav_vel_err = sens[10:13] * se.init_vel_sigma_mps
    pointing = rng.standard_normal(4)
    max_steps = int(round(1000.0 / lander.dt_s))
    noise = rng.standard_normal((max_steps, K.N_NOISE), dtype=np.float32)
    n_lidar = hs.lidar_samples
    # drawn last, and only when used: flights with and without HDA share every other draw
    lidar_noise = rng.standard_normal((n_lidar, n_lidar), dtype=np.float32) if hda else None

    p = _params(lander, h_site, terrain, thrust_scale, ve_scale, acc_bias, alt_bias_rel, vel_bias, hda)
    r0, v0 = initial_state(lander)
    s = np.zeros(K.S_N)
    s[K.S_T] = 0.0
    s[K.S_RX:K.S_RZ + 1] = r0 + d_pos
    s[K.S_VX:K.S_VZ + 1] = v0 + d_vel
    s[K.S_M] = lander.ignition_mass_kg + d_mass
    s[K.S_MH] = lander.ignition_mass_kg
    s[K.S_RHX:K.S_RHZ + 1] = s[K.S_RX:K.S_RZ + 1] + nav_pos_err
    s[K.S_VHX:K.S_VHZ + 1] = s[K.S_VX:K.S_VZ + 1] + nav_vel_err
    vhat = v0 / np.linalg.norm(v0)
    s[K.S_BX:K.S_BZ + 1] = -vhat                    # ignition attitude: thrust against velocity
    s[K.S_PHASE] = K.P_BRAKE
    s[K.S_T_GO] = -1.0
    s[K.S_AIM_X] = 0.0
    s[K.S_AIM_Y] = 0.0
    s[K.S_H_REF] = h_site
    s[K.S_T_CUTOFF] = np.nan
    s[K.S_H_CUTOFF] = np.nan

    rec = np.empty((max_steps, K.C_N))
    i_rec = 0
    coarse_map = None
    coarse_choice = None
    coarse_divert = 0.0
    fine_map = None
    fine_choice = None
    fine_origin = None
    fine_found = None
    fine_relaxed = False
    fine_divert = 0.0
    hover_alt = math.nan
    while True:
        reason, i_rec = stepper(s, p, heights, noise, rec, i_rec, max_steps)
        if reason == K.STOP_TOUCHDOWN:
            break
        if reason == K.STOP_MAXSTEPS:
            err = PhysicsError(f"descent did not reach the ground within {max_steps * lander.dt_s:.0f} s "
                               f"(phase {PHASE_NAMES[int(s[K.S_PHASE])]})")
            err.trajectory = rec[:i_rec]  # type: ignore[attr-defined]
            raise err
        rt = s[K.S_RX:K.S_RZ + 1].copy()
        rh = s[K.S_RHX:K.S_RHZ + 1].copy()
        offset = rt[:2] - rh[:2]                     # truth minus estimate (unknown to the vehicle)
        if reason == K.STOP_COARSE:
            if not (hda and hazards.coarse is not None):
                continue
            coarse_map = hazards.coarse
            # the planned landing point, seen in the image (truth coordinates)
            plan_t = np.array([s[K.S_AIM_X], s[K.S_AIM_Y]]) + offset
            cx, cy, _, _ = select_safe_point(coarse_map, plan_t[0], plan_t[1], safe_radius_m=hs.coarse_safe_radius_m,
                                             divert_max_m=hs.coarse_divert_max_m, divert_weight=hs.coarse_divert_weight)
            agl = rt[2] - h_site
            err = math.radians(hs.lcam_pointing_sigma_deg) * agl * pointing[0:2]
            coarse_choice = (cx, cy)
            coarse_divert = float(math.hypot(cx - plan_t[0], cy - plan_t[1]))
            s[K.S_AIM_X] = cx - offset[0] + err[0]
            s[K.S_AIM_Y] = cy - offset[1] + err[1]
        elif reason == K.STOP_FINE:
            hover_alt = float(rec[i_rec - 1, K.C_AGL])
            if not hda:
                continue
            spacing = 2.0 * lander.profile.hover_height_m * math.tan(math.radians(0.5 * hs.lidar_fov_deg)) / n_lidar
            half = 0.5 * n_lidar * spacing
            near = rocks_near(rocks, rt[0], rt[1], 1.2 * half + 2.0, max_diameter_m=hazards.rocks_max_diameter_m)
            near = shaped_rocks(terrain, near, h_site)          # their polyhedra, on their seats
            z_rel = lidar_scan(heights, terrain.resolution_m, terrain.x0_m, terrain.y0_m, h_site, near,
                                 rt[0], rt[1], rt[2], n_lidar, spacing, lidar_noise, hs.lidar_range_sigma_m)
            fine_map = fine_hazard_map(z_rel, spacing, settings=hs, footprint_m=2.0 * lander.footpad_radius_m)
            plan_rel = np.array([s[K.S_AIM_X], s[K.S_AIM_Y]]) - rh[:2]   # planned point, nadir-relative
            fx, fy, fine_found, _ = select_safe_point(fine_map, plan_rel[0], plan_rel[1],
                                                      safe_radius_m=hs.safe_radius_m, divert_max_m=hs.fine_divert_max_m,
                                                      divert_weight=hs.fine_divert_weight)
            if not fine_found:
                # fallback: the touchdown slope limit itself (no estimation margin)
                relaxed = replace(hs, max_slope_deg=max(hs.max_slope_deg, lander.limits.max_slope_deg))
                fine_map = fine_hazard_map(z_rel, spacing, settings=relaxed, footprint_m=2.0 * lander.footpad_radius_m)
                fx, fy, fine_found, _ = select_safe_point(fine_map, plan_rel[0], plan_rel[1],
                                                          safe_radius_m=relaxed.safe_radius_m,
                                                          divert_max_m=hs.fine_divert_max_m,
                                                          divert_weight=hs.fine_divert_weight)
                fine_relaxed = True
            perr = math.radians(hs.lidar_pointing_sigma_deg) * hover_alt * pointing[2:4]
            fine_choice = (fx, fy)
            fine_origin = (float(rt[0]), float(rt[1]))
            fine_divert = float(math.hypot(fx - plan_rel[0], fy - plan_rel[1]))
            s[K.S_AIM_X] = rh[0] + fx + perr[0]
            s[K.S_AIM_Y] = rh[1] + fy + perr[1]

    td, _ = _refine_touchdown(rec, i_rec)
    rec[i_rec - 1] = td                              # the last row becomes the touchdown (no copy)
    traj = rec[:i_rec]
    first_row = phase_first_rows(traj, i_rec, len(PHASE_NAMES) - 1).tolist()
    phase_start = {}
    for k, name in enumerate(PHASE_NAMES[:-1]):
        if first_row[k] >= 0:
            phase_start[name] = float(traj[first_row[k], K.C_T])
    duration = float(td[K.C_T])
    phase_start["touchdown"] = duration
    traj[-1, K.C_PHASE] = K.P_DONE
    vz = float(td[K.C_VZ])
    vh = float(math.hypot(td[K.C_VX], td[K.C_VY]))
    axis = td[K.C_BX:K.C_BZ + 1]
    attitude = float(math.degrees(math.acos(min(1.0, abs(axis[2]) / np.linalg.norm(axis)))))
    tdx, tdy = float(td[K.C_RX]), float(td[K.C_RY])
    near = rocks_near(rocks, tdx, tdy, lander.footpad_radius_m + 1.0, max_diameter_m=hazards.rocks_max_diameter_m)
    check = check_touchdown(terrain, near, tdx, tdy, vertical_speed_mps=abs(vz), horizontal_speed_mps=vh,
                            attitude_deg=attitude, lander=lander, h_out=h_site)
    lat0, lon0 = terrain.anchor_lat_deg, terrain.anchor_lon_deg
    lat = lat0 + math.degrees(tdy / MOON_RADIUS_M)
    lon = lon0 + math.degrees(tdx / (MOON_RADIUS_M * math.cos(math.radians(lat0))))
    params = {"thrust_scale": thrust_scale, "isp_scale": ve_scale, "mass_offset_kg": d_mass,
              "delivery_pos_m": d_pos.tolist(), "delivery_vel_mps": d_vel.tolist(),
              "acc_bias_mps2": acc_bias.tolist(), "alt_bias_rel": alt_bias_rel, "vel_bias_mps": vel_bias.tolist(),
              "nav_pos_err_m": nav_pos_err.tolist(), "nav_vel_err_mps": nav_vel_err.tolist(),
              "site_reference_height_m": h_site, "fine_hda_relaxed": fine_relaxed, "approach_azimuth_deg": lander.profile.approach_azimuth_deg}
    result = DescentResult(
        trajectory=traj, phase_start_s=phase_start, touchdown=check, ignition_s=float(ignition_s),
        duration_s=duration, touchdown_x_m=tdx, touchdown_y_m=tdy, touchdown_lat_deg=lat, touchdown_lon_deg=lon,
        vertical_speed_mps=abs(vz), horizontal_speed_mps=vh, attitude_deg=attitude,
        propellant_used_kg=float(traj[0, K.C_M] - td[K.C_M]), hover_altitude_m=hover_alt,
        cutoff_height_m=float(s[K.S_H_CUTOFF]), coarse_divert_m=coarse_divert, divert_m=fine_divert, hda=hda,
        coarse_map=coarse_map, coarse_choice_xy_m=coarse_choice, fine_map=fine_map, fine_choice_xy_m=fine_choice,
        fine_origin_xy_m=fine_origin, fine_found_safe=fine_found, parameters=params)
    if frames is not None:
        for row in traj:
            frames(float(row[K.C_T]), row)
    return result
