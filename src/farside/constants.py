"""Physical constants with their sources (see docs/references.md).

SI units unless the name says otherwise.
"""

from __future__ import annotations

__all__ = [
    "MOON_RADIUS_M",
    "MOON_GM_M3_S2",
    "MOON_G0_M_S2",
    "MOON_SYNODIC_DAY_S",
    "SUN_ANGULAR_DIAMETER_DEG",
    "CE4_LAT_DEG",
    "CE4_LON_DEG",
    "CE4_ELEVATION_M",
    "CE4_TOUCHDOWN_UTC",
    "CE4_IGNITION_UTC",
    "CE4_ROVER_EGRESS_UTC",
    "EARTH_G0_M_S2",
]

#: Volumetric mean lunar radius, 1737.4 km. NSSDC Moon Fact Sheet (docs/references.md 7.5). Also the
#: reference sphere of the site ENU frame (DESIGN.md).
MOON_RADIUS_M = 1_737_400.0
#: Lunar GM, 4902.8000661637961 km^3/s^2 (NAIF de431; docs/references.md 7.5).
MOON_GM_M3_S2 = 4.9028000661637961e12
#: Surface gravity, 1.62 m/s^2 (NSSDC Moon Fact Sheet; docs/references.md 7.5).
MOON_G0_M_S2 = 1.62
#: Synodic month (lunar solar day), 29.53 d (NSSDC; docs/references.md 7.5).
MOON_SYNODIC_DAY_S = 29.53 * 86400.0
#: Mean apparent solar disk diameter seen from the Earth-Moon system, 0.53 deg.
SUN_ANGULAR_DIAMETER_DEG = 0.53
#: Standard gravity, for Isp conversions.
EARTH_G0_M_S2 = 9.80665

#: Chang'e-4 landing point: Liu J. et al. 2019, Nat. Commun. 10:4229 (docs/references.md 1.2).
CE4_LAT_DEG = -45.4446
CE4_LON_DEG = 177.5991
CE4_ELEVATION_M = -5935.0
#: Touchdown 2019-01-03 02:26 UTC (NSSDC 2018-103A; docs/references.md 1.1).
CE4_TOUCHDOWN_UTC = "2019-01-03T02:26:00Z"
#: Powered-descent ignition 10:15 BJT = 02:15 UTC (Xinhua 2019-01-03; docs/references.md 1.1).
CE4_IGNITION_UTC = "2019-01-03T02:15:00Z"
#: Yutu-2 drove onto the surface 2019-01-03 14:22 UTC (AFP; docs/references.md 1.1).
CE4_ROVER_EGRESS_UTC = "2019-01-03T14:22:00Z"
