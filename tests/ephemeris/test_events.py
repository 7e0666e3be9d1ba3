"""Sunrise, sunset, local noon and day/night intervals at the Chang'e-4 site.

References: site and touchdown time, docs/references.md 1.1-1.2 (farside.constants); first lunar night
entered 2019-01-13 and lunar-day ends reported 2019-12-04 (day 12) and 2020-06-28 (day 19),
docs/references.md 3; synodic period 29.53 d, docs/references.md 7.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC, MOON_SYNODIC_DAY_S, SUN_ANGULAR_DIAMETER_DEG
from farside.ephemeris import body_altaz, day_night_intervals, seconds_to_utc, sun_events, sunrise_sunset, utc_to_seconds
from farside.errors import ScenarioError

SYNODIC_D = MOON_SYNODIC_DAY_S / 86400.0


@pytest.fixture(scope="module")
def events_2019_2020():
    return sun_events(CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC, "2020-08-01T00:00:00Z")


def test_first_sunset_after_touchdown_is_2019_01_13(events_2019_2020) -> None:
    """Lander and rover entered their first lunar night on 2019-01-13 (docs/references.md 3).
    Measured: 2019-01-13T20:50:26Z (centre); upper limb 45 min later, still the 13th."""
    sunsets = [e for e in events_2019_2020 if e.kind == "sunset"]
    assert sunsets[0].time_utc.startswith("2019-01-13")
    upper = sun_events(
        CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC, "2019-01-20T00:00:00Z", horizon_deg=-SUN_ANGULAR_DIAMETER_DEG / 2
    )
    assert [e.kind for e in upper] == ["noon", "sunset"]
    assert upper[-1].time_utc.startswith("2019-01-13")
    # The upper-limb sunset lags by semi-diameter / elevation rate; near the horizon the rate is
    # omega * cos(lat) (Sun's declination in the Moon frame <= 1.54 deg), omega = 360 deg / 29.53 d.
    rate_deg_per_min = 360.0 / (SYNODIC_D * 1440.0) * math.cos(math.radians(CE4_LAT_DEG))
    expected_min = (SUN_ANGULAR_DIAMETER_DEG / 2) / rate_deg_per_min
    lag_min = (upper[-1].seconds - sunsets[0].seconds) / 60.0
    assert lag_min == pytest.approx(expected_min, rel=0.05)


def test_lunar_day_ends_match_cnsa_reports(events_2019_2020) -> None:
    """CNSA/Xinhua reported the end of Yutu-2's 12th lunar day on 2019-12-04 and of the 19th on
    2020-06-28 (docs/references.md 3, secondary sources). Counting sunsets from touchdown:"""
    sunsets = [e for e in events_2019_2020 if e.kind == "sunset"]
    assert sunsets[11].time_utc.startswith("2019-12-04")
    assert sunsets[18].time_utc.startswith("2020-06-28")


def test_events_sit_on_the_horizon_and_meridian(events_2019_2020) -> None:
    """Bisection to 1 ms: elevation at rise/set within 1e-6 deg of 0 (near the horizon the Sun
    climbs ~1e-4 deg/s, so 1 ms is 1e-7 deg)."""
    for e in events_2019_2020:
        if e.kind in ("sunrise", "sunset"):
            assert abs(e.sun_alt_deg) < 1e-6
    noons = [e for e in events_2019_2020 if e.kind == "noon"]
    _, az, _ = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, [e.time_utc for e in noons])
    # southern site: the noon Sun is due north; 1e-3 deg ~ 3 s of lunar rotation at 0.5 deg/h
    assert np.all(np.minimum(az, 360.0 - az) < 1e-3)
    kinds = [e.kind for e in events_2019_2020]
    # strict alternation noon -> sunset -> sunrise -> noon ...
    cycle = ["noon", "sunset", "sunrise"]
    assert kinds == [cycle[i % 3] for i in range(len(kinds))]


def test_local_noon_is_near_the_elevation_maximum(events_2019_2020) -> None:
    """Noon (meridian crossing) vs the maximum of the elevation sampled every 2 min over +/-1 d.
    The Sun's declination drifts during the day, so they need not coincide; measured offsets
    <= 15 min and < 1e-4 deg in elevation. Tolerance: 30 min and 2e-4 deg."""
    noons = [e for e in events_2019_2020 if e.kind == "noon"][:3]
    for e in noons:
        s0 = utc_to_seconds(CE4_TOUCHDOWN_UTC, [e.time_utc])[0]
        offsets = np.arange(-86400.0, 86400.0 + 1, 120.0)
        grid = seconds_to_utc(CE4_TOUCHDOWN_UTC, s0 + offsets)
        alt, _, _ = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, grid)
        i = int(np.argmax(alt))
        assert abs(offsets[i]) <= 30 * 60
        assert 0.0 <= alt[i] - e.sun_alt_deg < 2e-4
        # noon elevation ~ 90 - |lat| + declination (|dec| <= 1.54 deg in the Moon frame)
        assert e.sun_alt_deg == pytest.approx(90.0 - abs(CE4_LAT_DEG), abs=1.6)


def test_day_and_night_add_up_to_the_synodic_month() -> None:
    """Two years of intervals: each complete day + the following night within 0.2 d of 29.53 d
    (NSSDC; docs/references.md 7.5), the mean sunrise-to-sunrise period within 0.01 d. The spread comes
    from the Earth's orbital eccentricity (the Sun's rate in the Moon's sky varies +/-3.4 %, i.e.
    +/-0.08 d) plus the seasonal shift of rise/set with the Sun's declination at 45 deg S.
    Day and night each 14.77 +/- 0.35 d (measured 14.48-15.05 d). Measured mean: 29.530 d."""
    iv = day_night_intervals(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2021-01-01T00:00:00Z")
    assert not iv[0].complete and not iv[-1].complete
    assert all(i.complete for i in iv[1:-1])
    assert iv[0].start_utc == "2019-01-01T00:00:00.000Z" and iv[-1].end_utc == "2021-01-01T00:00:00.000Z"
    for a, b in zip(iv, iv[1:]):
        assert a.end_s == b.start_s and a.end_utc == b.start_utc and a.is_day != b.is_day
    full = [i for i in iv if i.complete]
    for i in full:
        assert i.duration_s / 86400.0 == pytest.approx(SYNODIC_D / 2, abs=0.35)
    days = [k for k, i in enumerate(iv) if i.complete and i.is_day and k + 1 < len(iv) and iv[k + 1].complete]
    assert len(days) >= 23
    for k in days:
        assert (iv[k].duration_s + iv[k + 1].duration_s) / 86400.0 == pytest.approx(SYNODIC_D, abs=0.2)
    rises = [i.start_s for i in iv[1:] if i.is_day]
    mean_period_d = (rises[-1] - rises[0]) / (len(rises) - 1) / 86400.0
    assert mean_period_d == pytest.approx(SYNODIC_D, abs=0.01)


def test_step_does_not_change_events() -> None:
    a = sun_events(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2019-03-01T00:00:00Z")
    b = sun_events(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2019-03-01T00:00:00Z", step_s=600.0)
    assert [e.kind for e in a] == [e.kind for e in b]
    assert max(abs(x.seconds - y.seconds) for x, y in zip(a, b)) < 2e-3
    assert sun_events(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2019-03-01T00:00:00Z") == a  # deterministic
    rs = sunrise_sunset(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2019-03-01T00:00:00Z")
    assert rs == tuple(e for e in a if e.kind in ("sunrise", "sunset"))
    kind, time_utc = rs[0][:2]
    assert (kind, time_utc) == (rs[0].kind, rs[0].time_utc)


def test_all_night_and_no_events() -> None:
    """A span inside the first lunar night has no events: one incomplete night interval."""
    iv = day_night_intervals(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-15T00:00:00Z", "2019-01-20T00:00:00Z")
    assert len(iv) == 1 and not iv[0].is_day and not iv[0].complete
    assert iv[0].duration_s == 5 * 86400.0
    assert sun_events(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-15T00:00:00Z", "2019-01-20T00:00:00Z") == ()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"end_utc": "2019-01-01T00:00:00Z"}, "end_utc"),
        ({"step_s": 0.0}, "step_s"),
        ({"step_s": float("nan")}, "step_s"),
        ({"horizon_deg": 95.0}, "horizon_deg"),
        ({"lat_deg": -91.0}, "lat_deg"),
        ({"start_utc": "yesterday"}, "start_utc"),
        ({"end_utc": "2051-01-02T00:00:00Z"}, "end_utc"),
    ],
)
def test_bad_arguments(kwargs: dict, name: str) -> None:
    args = {
        "lat_deg": CE4_LAT_DEG,
        "lon_deg": CE4_LON_DEG,
        "start_utc": "2019-01-02T00:00:00Z",
        "end_utc": "2019-02-01T00:00:00Z",
    }
    args.update(kwargs)
    with pytest.raises(ScenarioError, match=rf"^{name} = .* is invalid: ") as info:
        day_night_intervals(**args)
    assert "\n" not in str(info.value)


def test_event_seconds_from_the_mission_epoch():
    """With ``epoch_utc`` the events' seconds are mission time: they equal the epoch-to-event interval
    of the printed UTC time (utc_to_seconds, an independent parse) within its 0.5 ms rounding, and
    the day/night intervals share them."""
    from farside.ephemeris import day_night_intervals, sunrise_sunset, utc_to_seconds

    epoch = "2019-01-03T02:26:00Z"
    ev = sunrise_sunset(-45.4446, 177.5991, "2019-01-05T00:00:00Z", "2019-02-20T00:00:00Z", epoch_utc=epoch)
    for e in ev:
        assert abs(e.seconds - utc_to_seconds(epoch, [e.time_utc])[0]) <= 5e-4
    iv = day_night_intervals(-45.4446, 177.5991, "2019-01-05T00:00:00Z", "2019-02-20T00:00:00Z", epoch_utc=epoch)
    bounds = {round(x, 6) for i in iv for x in (i.start_s, i.end_s)}
    assert all(round(e.seconds, 6) in bounds for e in ev)
