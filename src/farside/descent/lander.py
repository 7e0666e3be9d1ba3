"""The lander: vehicle, sensors, descent profile and touchdown limits.

Every number that no readable source confirms is stated here, in one place, as an assumption
(``ASSUMPTIONS``), next to the sourced ones. Sources are sections of
``docs/references.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from farside.constants import EARTH_G0_M_S2
from farside.errors import invalid

__all__ = ["Lander", "DescentProfile", "Sensors", "TouchdownLimits", "HdaSettings", "CE4_LANDER", "ASSUMPTIONS"]


def _check_positive(obj) -> None:
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v):
            raise invalid(f"{type(obj).__name__}.{f.name}", v, "a finite number")
        if f.metadata.get("positive", True) and v <= 0:
            raise invalid(f"{type(obj).__name__}.{f.name}", v, "a finite number > 0")


def _free(default):
    """A field that may be zero or negative."""
    return field(default=default, metadata={"positive": False})


@dataclass(frozen=True)
class DescentProfile:
    """Phase targets of the CE-3/CE-4 descent design (docs/references.md 2.1-2.2).

    Sourced: start at the 15 km perilune (2.1), ~1.7 km/s (2.1), coarse avoidance imaging at
    ~2 km (2.1), hover at 100 m (2.1), cut-off at 2 m (2.1). The boundaries between main braking,
    quick adjustment and approach, and the slow-descent speed, are UNCONFIRMED (docs/references.md 8);
    the values here are assumptions close to the CE-3 design.
    """

    perilune_altitude_m: float = 15_000.0   # above the reference sphere (2.1)
    apolune_altitude_m: float = 100_000.0   # 15 x 100 km pre-landing orbit (1.1)
    approach_azimuth_deg: float = _free(180.0)  # ground-track heading at the site (assumption)
    ignition_range_m: float = 465_000.0     # surface distance from ignition to the aim point
    brake_throttle: float = 0.95            # main braking at 95 % of maximum thrust
    brake_end_height_m: float = 2_600.0     # above the site, end of main braking (assumption)
    brake_end_uprange_m: float = _free(150.0)   # aim-point up-range distance at main-braking end
    brake_end_downrange_speed_mps: float = _free(8.0)
    brake_end_vertical_speed_mps: float = _free(-12.0)
    brake_end_time_to_go_s: float = 6.0     # hand over to quick adjustment at this time-to-go
    adjust_duration_s: float = 16.0         # quick adjustment (pitch-up), assumption
    adjust_vertical_speed_mps: float = _free(-20.0)
    coarse_hda_height_m: float = 2_000.0    # LCAM coarse hazard detection (2.1)
    approach_duration_s: float = 88.0       # approach to the hover point, assumption
    hover_height_m: float = 100.0           # (2.1)
    hover_duration_s: float = 14.0          # fine HDA at the end of the hover, assumption
    avoid_end_height_m: float = 30.0        # end of the avoidance manoeuvre, assumption
    avoid_duration_s: float = 36.0
    slow_descent_speed_mps: float = 1.0     # slow descent 30 m -> 2 m, assumption
    cutoff_height_m: float = 2.0            # (2.1)

    def __post_init__(self) -> None:
        _check_positive(self)


@dataclass(frozen=True)
class Sensors:
    """IMU, laser altimeter and velocimeter models (all UNCONFIRMED assumptions, typical of the class)."""

    acc_bias_sigma_mps2: float = 3.0e-4     # 30 micro-g per axis, 1 sigma
    acc_noise_sigma_mps2: float = 3.0e-3    # per 0.1 s sample
    alt_noise_rel: float = 1.0e-3           # 0.1 % of range, 1 sigma
    alt_noise_min_m: float = 0.05
    alt_bias_rel_sigma: float = 5.0e-4
    alt_max_range_m: float = 30_000.0       # rangefinder on before ignition (docs/references.md 2.4)
    vel_noise_sigma_mps: float = 0.05
    vel_bias_sigma_mps: float = 0.003       # laser Doppler velocimeter, near-zero speed
    vel_max_height_m: float = 3_000.0       # velocimeter used below 3 km, assumption
    gain_alt: float = 0.02                  # complementary-filter gains per 0.1 s step
    gain_alt_v: float = 0.002
    gain_vel: float = 0.05
    init_pos_sigma_m: tuple = (100.0, 100.0, 50.0)    # orbit-determination knowledge (E, N, U)
    init_vel_sigma_mps: float = 0.3

    def __post_init__(self) -> None:
        _check_positive(self)


@dataclass(frozen=True)
class TouchdownLimits:
    """What the four legs survive (CE-3/CE-4 design limits UNCONFIRMED, docs/references.md 8: assumptions).

    CE-5 touched down at 1.99 m/s vertical, 0.0085 m/s horizontal (docs/references.md 2.2).
    """

    max_vertical_speed_mps: float = 4.0
    max_horizontal_speed_mps: float = 1.0
    max_attitude_deg: float = 5.0
    max_slope_deg: float = 8.0              # under the footpads (farside.terrain.maps.LANDER_LIMITS)
    max_obstacle_m: float = 0.30            # body ground clearance above the footpad plane

    def __post_init__(self) -> None:
        _check_positive(self)


@dataclass(frozen=True)
class HdaSettings:
    """Hazard detection and avoidance thresholds and sensor footprints (defaults documented).

    Sourced: protrusions >= 0.2 m must be seen (docs/references.md 2.4); LCAM 1024 px, 43.7 deg FOV
    (docs/references.md 4.1). Slope threshold, safe-zone radius, 3-D imager footprint, resolution and
    noise are UNCONFIRMED (docs/references.md 2.4, 8): assumptions.
    """

    max_slope_deg: float = 7.0              # 1 deg below the 8 deg touchdown limit (estimation margin)
    max_obstacle_m: float = 0.20            # docs/references.md 2.4
    safe_radius_m: float = 3.0              # obstacle-free radius: footpads (2 m) + 1 m margin
    slope_margin_m: float = 3.0             # distance from slope-hazard cells (as for obstacles)
    fine_divert_max_m: float = 45.0         # reachable in the 100 m -> 30 m avoidance phase (36 s)
    fine_divert_weight: float = 0.05        # clearance metres traded per metre of divert
    coarse_divert_max_m: float = 300.0      # approach re-targeting range from ~2 km
    coarse_safe_radius_m: float = 10.0      # clearance from coarse hazards (craters, shadows, tilts)
    coarse_divert_weight: float = 0.05
    lidar_samples: int = 200                # 3-D imager: 200 x 200 samples
    lidar_fov_deg: float = 50.0             # -> 93.3 m footprint and 0.47 m spacing at 100 m
    lidar_range_sigma_m: float = 0.03
    lidar_pointing_sigma_deg: float = 0.05  # knowledge error of the scan direction
    lcam_pointing_sigma_deg: float = 0.1

    def __post_init__(self) -> None:
        _check_positive(self)


@dataclass(frozen=True)
class Lander:
    """A soft lander with one throttleable main engine.

    Sourced (docs/references.md 2.3): 7500 N main engine throttleable 1500-7500 N; CE-4 lander dry mass
    1200 kg; rover 140 kg. UNCONFIRMED (assumptions): Isp, mass at ignition, geometry.
    """

    name: str = "Chang'e-4"
    max_thrust_n: float = 7500.0
    min_thrust_n: float = 1500.0
    isp_s: float = 310.0                    # UNCONFIRMED (docs/references.md 2.3): ve = 3040 m/s
    ignition_mass_kg: float = 2650.0        # UNCONFIRMED: wet mass at powered-descent ignition
    dry_mass_kg: float = 1340.0             # lander 1200 kg + rover 140 kg (docs/references.md 2.3)
    max_slew_rate_deg_s: float = 5.0        # thrust-axis slew rate, assumption
    footpad_radius_m: float = 2.0           # footpad circle radius, assumption
    cg_height_m: float = 1.6                # centre of mass above the footpad plane, assumption
    dt_s: float = 0.1                       # guidance/navigation/control cycle (10 Hz)
    profile: DescentProfile = field(default_factory=DescentProfile)
    sensors: Sensors = field(default_factory=Sensors)
    limits: TouchdownLimits = field(default_factory=TouchdownLimits)
    hda: HdaSettings = field(default_factory=HdaSettings)

    def __post_init__(self) -> None:
        _check_positive(self)
        if self.min_thrust_n >= self.max_thrust_n:
            raise invalid("Lander.min_thrust_n", self.min_thrust_n, f"a value below max_thrust_n = {self.max_thrust_n}")
        if self.dry_mass_kg >= self.ignition_mass_kg:
            raise invalid("Lander.dry_mass_kg", self.dry_mass_kg, f"a value below ignition_mass_kg = {self.ignition_mass_kg}")

    @property
    def exhaust_velocity_mps(self) -> float:
        return self.isp_s * EARTH_G0_M_S2

    def replace(self, **changes) -> "Lander":
        return replace(self, **changes)


#: The built-in Chang'e-4 lander.
CE4_LANDER = Lander()

#: Every UNCONFIRMED value used by the descent model, for the report and the docs.
ASSUMPTIONS: dict[str, str] = {
    "isp_s": "310 s (v_e = 3040 m/s); no published flight value (docs/references.md 2.3)",
    "ignition_mass_kg": "2650 kg at ignition: 3780 kg at launch less the transfer, LOI and orbit "
                        "manoeuvres; not published (docs/references.md 2.3, 8)",
    "brake_throttle": "main braking at 95 % of 7500 N, leaving 5 % for dispersions",
    "phase boundaries": "main braking ends 2.6 km above the site, 150 m up-range; quick adjustment 16 s; "
                        "approach 88 s; hover 14 s; avoidance 100 -> 30 m in 36 s; slow descent 1 m/s "
                        "(CE-4 phase boundaries UNCONFIRMED, docs/references.md 2.1, 8)",
    "approach_azimuth_deg": "ground track heading south (180 deg) over the site",
    "touchdown limits": "vertical <= 4 m/s, horizontal <= 1 m/s, attitude <= 5 deg, slope <= 8 deg, "
                        "obstacle under the body <= 0.30 m (docs/references.md 2.2: design limits UNCONFIRMED)",
    "hda thresholds": "slope 7 deg (1 deg margin), obstacle 0.20 m (sourced, 2.4), obstacle-free radius 3 m, "
                      "slope-hazard margin 3 m, fine divert <= 45 m, "
                      "coarse divert <= 300 m with 10 m clearance",
    "3-D imager": "200 x 200 samples over a 50 deg field (0.47 m at 100 m), range noise 0.03 m",
    "sensors": "IMU bias 30 ug, altimeter 0.1 % noise, velocimeter 0.05 m/s noise and 3 mm/s bias below 3 km, "
               "initial knowledge 100 m horizontal / 50 m vertical (1 sigma)",
    "geometry": "footpad circle radius 2.0 m, centre of mass 1.6 m above the pads, slew 5 deg/s",
    "frame": "Moon rotation (<= 3.3 m/s at 45 deg S) neglected: the site frame is treated as inertial",
}
