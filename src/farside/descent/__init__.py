"""Powered descent with hazard detection and avoidance (layer 3).

Entry point: :func:`simulate_descent`. See :mod:`farside.descent.simulate` for the model and
:mod:`farside.descent.lander` for the vehicle and every assumption it makes.
"""

from farside.descent.camera import LCAM_FPS, LCAM_WINDOW_S, lcam_poses, lcam_times
from farside.descent.hda import (HazardMap, SiteHazards, coarse_hazard_map, fine_hazard_map, prepare_hazards,
                                 select_safe_point)
from farside.descent.lander import ASSUMPTIONS, CE4_LANDER, DescentProfile, HdaSettings, Lander, Sensors, TouchdownLimits
from farside.descent.simulate import PHASE_NAMES, TRAJECTORY_COLUMNS, DescentResult, Dispersions, simulate_descent
from farside.descent.touchdown import TouchdownCheck, check_touchdown

__all__ = [
    "simulate_descent",
    "DescentResult",
    "Dispersions",
    "SiteHazards",
    "prepare_hazards",
    "Lander",
    "DescentProfile",
    "Sensors",
    "TouchdownLimits",
    "HdaSettings",
    "CE4_LANDER",
    "ASSUMPTIONS",
    "HazardMap",
    "coarse_hazard_map",
    "fine_hazard_map",
    "select_safe_point",
    "TouchdownCheck",
    "check_touchdown",
    "PHASE_NAMES",
    "TRAJECTORY_COLUMNS",
    "lcam_times",
    "lcam_poses",
    "LCAM_FPS",
    "LCAM_WINDOW_S",
]
