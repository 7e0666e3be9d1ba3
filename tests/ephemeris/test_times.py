"""Calendar <-> mission time conversion and input validation (one-line ScenarioError messages)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC
from farside.ephemeris import (
    body_altaz,
    body_position_moon_me,
    enu_to_moon_me_matrix,
    seconds_to_utc,
    station_position_moon_me,
    sun_direction_enu,
    utc_to_seconds,
)
from farside.errors import ScenarioError


def test_seconds_since_epoch() -> None:
    s = utc_to_seconds(CE4_TOUCHDOWN_UTC, [CE4_TOUCHDOWN_UTC, "2019-01-03T02:27:00Z", "2019-01-04T02:26:00.5Z"])
    assert s.dtype == np.float64
    assert s.tolist() == [0.0, 60.0, 86400.5]
    # forms without Z, with a space, date only, and a numeric offset (Beijing time, UTC+8)
    s = utc_to_seconds(CE4_TOUCHDOWN_UTC, ["2019-01-03 02:26", "2019-01-03T10:26:00+08:00", "2019-01-03", "2019-01-02T21:26-0500"])
    assert s.tolist() == [0.0, 0.0, -(2 * 3600 + 26 * 60), 0.0]
    assert utc_to_seconds(CE4_TOUCHDOWN_UTC, np.array(["2019-01-03T02:26:01Z"])).tolist() == [1.0]


def test_leap_second_counts() -> None:
    """IERS Bulletin C 52: a leap second was inserted at the end of 2016-12-31."""
    s = utc_to_seconds("2016-12-31T23:59:59Z", ["2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"])
    assert s.tolist() == [1.0, 2.0]
    assert seconds_to_utc("2016-12-31T23:59:59Z", [1.0, 2.0], places=0) == ["2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"]
    # no leap second at the end of 2018
    assert utc_to_seconds("2018-12-31T23:59:59Z", "2019-01-01T00:00:00Z").tolist() == [1.0]


def test_seconds_to_utc_format() -> None:
    assert seconds_to_utc(CE4_TOUCHDOWN_UTC, 0.0) == ["2019-01-03T02:26:00.000Z"]
    assert seconds_to_utc(CE4_TOUCHDOWN_UTC, [0.0, 1.25], places=2) == ["2019-01-03T02:26:00.00Z", "2019-01-03T02:26:01.25Z"]
    assert seconds_to_utc(CE4_TOUCHDOWN_UTC, []) == []
    # ten days of hours: calendar arithmetic
    out = seconds_to_utc(CE4_TOUCHDOWN_UTC, np.arange(0, 240) * 3600.0, places=0)
    ref = np.datetime64("2019-01-03T02:26:00") + np.arange(240).astype("timedelta64[h]")
    assert out == [str(x) + "Z" for x in ref]


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-3e9, max_value=9.8e8, allow_nan=False))
def test_round_trip(seconds: float) -> None:
    """seconds -> UTC string (microseconds) -> seconds within 0.5 us + float64 rounding."""
    text = seconds_to_utc(CE4_TOUCHDOWN_UTC, [seconds], places=6)
    back = utc_to_seconds(CE4_TOUCHDOWN_UTC, text)[0]
    assert back == pytest.approx(seconds, abs=5e-7 + 4e-16 * abs(seconds))


BAD_TIMES = [
    "2019-13-01T00:00:00Z",
    "2019-02-30T00:00:00Z",
    "2019-01-03T24:00:00Z",
    "2019-01-03T02:61:00Z",
    "2019-01-03T02:26:00+25:00",
    "03/01/2019",
    "2019-01-03T02:26:00 UTC",
    "",
    "1899-12-31T00:00:00Z",  # before the PCK coverage
    "2051-01-01T00:02:00Z",  # after it
    "2100-01-01T00:00:00Z",
]


@pytest.mark.parametrize("text", BAD_TIMES)
def test_bad_time_strings(text: str) -> None:
    with pytest.raises(ScenarioError, match=r"^times_utc = .* is invalid: must") as info:
        body_altaz("sun", 0.0, 0.0, ["2019-01-03T00:00:00Z", text])
    assert "\n" not in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: body_altaz("moon", 0.0, 0.0, CE4_TOUCHDOWN_UTC), "body"),
        (lambda: body_altaz(3, 0.0, 0.0, CE4_TOUCHDOWN_UTC), "body"),
        (lambda: body_altaz("sun", 90.5, 0.0, CE4_TOUCHDOWN_UTC), "lat_deg"),
        (lambda: body_altaz("sun", math.nan, 0.0, CE4_TOUCHDOWN_UTC), "lat_deg"),
        (lambda: body_altaz("sun", 0.0, math.inf, CE4_TOUCHDOWN_UTC), "lon_deg"),
        (lambda: body_altaz("sun", 0.0, 0.0, CE4_TOUCHDOWN_UTC, height_m=math.nan), "height_m"),
        (lambda: body_altaz("sun", 0.0, 0.0, []), "times_utc"),
        (lambda: body_altaz("sun", 0.0, 0.0, [20190103]), "times_utc"),
        (lambda: body_altaz("sun", 0.0, 0.0, None), "times_utc"),
        (lambda: sun_direction_enu(-100.0, 0.0, CE4_TOUCHDOWN_UTC), "lat_deg"),
        (lambda: body_position_moon_me("mars", CE4_TOUCHDOWN_UTC), "body"),
        (lambda: station_position_moon_me(39.5, 76.0, math.nan, CE4_TOUCHDOWN_UTC), "height_m"),
        (lambda: enu_to_moon_me_matrix("north", 0.0), "lat_deg"),
        (lambda: utc_to_seconds("soon", CE4_TOUCHDOWN_UTC), "epoch_utc"),
        (lambda: seconds_to_utc(CE4_TOUCHDOWN_UTC, [math.nan]), "seconds"),
        (lambda: seconds_to_utc(CE4_TOUCHDOWN_UTC, [1e12]), "seconds"),
        (lambda: seconds_to_utc(CE4_TOUCHDOWN_UTC, [1.0], places=12), "places"),
    ],
)
def test_bad_arguments(call, name: str) -> None:
    with pytest.raises(ScenarioError, match=rf"^{name} = .* is invalid: ") as info:
        call()
    assert "\n" not in str(info.value)


def test_body_name_is_case_insensitive() -> None:
    a = body_altaz("Sun", CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC)
    b = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC)
    assert a[0].tolist() == b[0].tolist()


def test_mission_times_same_instants_as_strings_and_datetime64():
    """The three accepted time forms name the same instants: MissionTimes (float seconds since the
    epoch, DESIGN.md's internal form), ISO strings, numpy datetime64 -- the Sun's direction agrees to
    the round-off floor (1e-15 of a unit vector); a leap second counts in MissionTimes
    (2016-12-31T23:59:60Z is 1 s before 2017-01-01T00:00:00Z, IERS Bulletin C 52)."""
    import numpy as np

    from farside.ephemeris import mission_times, sun_direction_enu, utc_to_seconds

    epoch = "2019-01-03T02:26:00Z"
    s = np.array([0.0, 3600.25, 86400.0 * 10 + 0.125])
    iso = ["2019-01-03T02:26:00Z", "2019-01-03T03:26:00.25Z", "2019-01-13T02:26:00.125Z"]
    d64 = np.array([x[:-1] for x in iso], dtype="datetime64[ms]")
    a = sun_direction_enu(-45.4446, 177.5991, mission_times(epoch, s))
    b = sun_direction_enu(-45.4446, 177.5991, iso)
    c = sun_direction_enu(-45.4446, 177.5991, d64)
    assert np.abs(a - b).max() < 1e-14 and np.abs(a - c).max() < 1e-14
    leap = utc_to_seconds("2016-12-31T23:59:59Z", ["2017-01-01T00:00:00Z"])[0]
    assert leap == 2.0
    e = sun_direction_enu(0.0, 0.0, mission_times("2016-12-31T23:59:59Z", [2.0]))
    f = sun_direction_enu(0.0, 0.0, ["2017-01-01T00:00:00Z"])
    assert np.abs(e - f).max() < 1e-14


def test_mission_times_bad_input_one_line():
    import numpy as np
    import pytest

    from farside.ephemeris import mission_times, sun_direction_enu
    from farside.errors import FarsideError

    for args, name in ((("2019-01-03T02:26:00Z", [np.nan]), "seconds"), (("tomorrow", [0.0]), "epoch_utc"),
                       (("2019-01-03T02:26:00Z", []), "seconds")):
        with pytest.raises(FarsideError) as e:
            sun_direction_enu(0.0, 0.0, mission_times(*args))
        assert str(e.value).startswith(f"{name} = ") and "\n" not in str(e.value)
    with pytest.raises(FarsideError, match="coverage"):
        sun_direction_enu(0.0, 0.0, mission_times("2049-12-01T00:00:00Z", [86400.0 * 800]))
