"""farside.rover (layer 3): the rover on the surface -- vehicle, terramechanics, suspension,
drive and wheel faults, power and thermal, egress and tracks.
"""

from farside.rover.drive import DriveState, check_drive_request, max_climbable_slope, steady_state_drive
from farside.rover.modes import plan_modes
from farside.rover.planning import plan_path
from farside.rover.power import PowerTrace, simulate_power
from farside.rover.replay import (
    PUBLISHED_DAY_DISTANCES,
    AxisChoice,
    establish_axes,
    fit_track_scale,
    load_traverse,
    lunar_day_windows,
    schedule_traverse,
)
from farside.rover.egress import EgressDecision, plan_egress
from farside.rover.suspension import Pose, RockIndex, ground_height, settle, settle_path, turn_cost
from farside.rover.surface import (
    FAULT_KINDS,
    SunTrack,
    SurfacePlan,
    SurfaceResult,
    Waypoint,
    WheelFault,
    carve_tracks,
    simulate_surface,
)
from farside.rover.terramechanics import LLL_DRY_SAND, LUNAR_REGOLITH, WONG_LUNAR_SOIL, Soil, WheelForces, rigid_wheel
from farside.rover.thermal import radiative_equilibrium_temperature, regolith_temperature
from farside.rover.tracks import TrackRaster, imprint
from farside.rover.vehicle import WHEEL_NAMES, YUTU2, Rover

__all__ = [
    "simulate_surface",
    "carve_tracks",
    "SurfacePlan",
    "SurfaceResult",
    "SunTrack",
    "Waypoint",
    "WheelFault",
    "FAULT_KINDS",
    "Rover",
    "YUTU2",
    "WHEEL_NAMES",
    "Soil",
    "LUNAR_REGOLITH",
    "LLL_DRY_SAND",
    "WONG_LUNAR_SOIL",
    "WheelForces",
    "rigid_wheel",
    "DriveState",
    "steady_state_drive",
    "max_climbable_slope",
    "check_drive_request",
    "load_traverse",
    "establish_axes",
    "fit_track_scale",
    "lunar_day_windows",
    "schedule_traverse",
    "AxisChoice",
    "PUBLISHED_DAY_DISTANCES",
    "regolith_temperature",
    "radiative_equilibrium_temperature",
    "simulate_power",
    "PowerTrace",
    "plan_modes",
    "ground_height",
    "RockIndex",
    "settle",
    "settle_path",
    "Pose",
    "turn_cost",
    "plan_egress",
    "EgressDecision",
    "TrackRaster",
    "imprint",
    "plan_path",
]
