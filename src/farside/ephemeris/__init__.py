"""Sun and Earth geometry from any lunar site; calendar <-> mission time.

Built on skyfield with JPL DE421 (from ``skyfield-data``) and NAIF's DE421 lunar orientation
(``moon_pa_de421_1900-2050.bpc`` + ``moon_080317.tf``, bundled by ``lunarsky``); see
:mod:`farside.ephemeris._data` for where every file comes from. Nothing is downloaded.
"""

from farside.ephemeris.earth import earth_fixed_to_moon_me, geodetic_to_itrs
from farside.ephemeris.events import DayNightInterval, SunEvent, day_night_intervals, sun_events, sunrise_sunset
from farside.ephemeris.geometry import (
    body_altaz,
    body_direction_enu,
    body_position_moon_me,
    body_state_moon_me,
    earth_moon_state_icrf,
    enu_to_moon_me_matrix,
    icrf_to_moon_me_matrix,
    site_position_moon_me,
    station_position_moon_me,
    sun_direction_enu,
)
from farside.ephemeris.times import MissionTimes, mission_times, seconds_to_utc, utc_to_seconds

__all__ = [
    "body_altaz",
    "body_direction_enu",
    "sun_direction_enu",
    "body_position_moon_me",
    "body_state_moon_me",
    "earth_moon_state_icrf",
    "station_position_moon_me",
    "enu_to_moon_me_matrix",
    "icrf_to_moon_me_matrix",
    "site_position_moon_me",
    "sun_events",
    "sunrise_sunset",
    "day_night_intervals",
    "SunEvent",
    "DayNightInterval",
    "utc_to_seconds",
    "earth_fixed_to_moon_me",
    "geodetic_to_itrs",
    "MissionTimes",
    "mission_times",
    "seconds_to_utc",
]
