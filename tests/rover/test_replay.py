"""Replaying the real Yutu-2 traverse (farside.rover.replay).

Real-data tests read ../shared/data/ce4_traverse/CE4_coordinates.txt (Roncoroni et al. 2024, see its
SOURCES.md) and skip with a reason when it is absent. The published facts they check against are in
docs/references.md 1.1, 1.2 and 3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import DataError, PhysicsError, ScenarioError
from farside.rover import (
    PUBLISHED_DAY_DISTANCES,
    AxisChoice,
    establish_axes,
    load_traverse,
    schedule_traverse,
)
from farside.rover.replay import BearingFact, fit_track_scale, lunar_day_windows
from tests.conftest import shared_data

EPOCH = "2019-01-03T02:26:00Z"  # CE-4 touchdown, docs/references.md 1.1
EGRESS = "2019-01-03T14:22:00Z"  # Yutu-2 on the surface, docs/references.md 1.1
LAT, LON = -45.4446, 177.5991  # Liu J. et al. 2019, docs/references.md 1.2
V_MAX = 200.0 / 3600.0  # published top speed, docs/references.md 3


def _bearing(east: float, north: float) -> float:
    return math.degrees(math.atan2(east, north)) % 360.0


# ------------------------------------------------------------------------------------------------
# loading and validation (no real data needed)


def test_load_traverse_path_length_of_a_known_polyline(tmp_path):
    """s_m of the polyline (0,0) -> (3,4) -> (3,10) is 0, 5, 11 m (3-4-5 triangle, then 6 m)."""
    f = tmp_path / "t.txt"
    f.write_text("0 0\n3.0 4.0\n3e0   10\n")
    tr = load_traverse(f)
    assert list(tr.columns) == ["x_raw", "y_raw", "s_m"]
    np.testing.assert_allclose(tr["s_m"], [0.0, 5.0, 11.0], atol=1e-12)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("0 0\n1 abc\n2 2\n", "abc"),
        ("0 0 0\n1 1 1\n", "3 columns"),
        ("0 0\n1 1 1\n", "columns"),
        ("0 0\nnan 1\n", "row 2 is not finite"),
        ("0 0\n", "1 rows"),
        ("", "0 rows"),
    ],
)
def test_load_traverse_malformed_file_is_one_line_data_error(tmp_path, text, problem):
    f = tmp_path / "bad_traverse.txt"
    f.write_text(text)
    with pytest.raises(DataError) as exc:
        load_traverse(f)
    msg = str(exc.value)
    assert "\n" not in msg and str(f) in msg and problem in msg, msg


def test_load_traverse_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_traverse(tmp_path / "absent.txt")


# ------------------------------------------------------------------------------------------------
# axes, scale and schedule on synthetic tracks with known answers


def _raw_from_enu(east: np.ndarray, north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A file frame with x_raw = -north, y_raw = east (so east = +y, north = -x)."""
    return -north, east


def _synthetic_track(tmp_path, east, north):
    xr, yr = _raw_from_enu(np.asarray(east), np.asarray(north))
    f = tmp_path / "synthetic.txt"
    np.savetxt(f, np.column_stack([xr, yr]))
    return load_traverse(f)


def test_establish_axes_recovers_a_known_transform(tmp_path):
    """A path 50 m to the NW then 300 m to the W, written in a frame with x = -north, y = east:
    the facts 'NW at 20 m' and 'W-by-NW at 250 m' single out east = +y, north = -x."""
    u = np.linspace(0.0, 1.0, 501)
    e1, n1 = -50 * math.sin(math.pi / 4) * u, 50 * math.cos(math.pi / 4) * u
    e2, n2 = e1[-1] - 300 * u[1:], np.full(500, n1[-1])
    tr = _synthetic_track(tmp_path, np.r_[e1, e2], np.r_[n1, n2])
    facts = (BearingFact("a", 20.0, 315.0, "synthetic"), BearingFact("b", 250.0, 275.0, "synthetic"))
    ax = establish_axes(tr, facts=facts)
    np.testing.assert_array_equal(ax.matrix, [[0.0, 1.0], [-1.0, 0.0]])
    assert ax.name == "east = +y, north = -x"
    assert len(ax.scores) == 8 and ax.scores["chosen"].sum() == 1
    assert ax.scores.loc[ax.name, "error_deg[a]"] < 0.01  # the path is exactly NW there


def test_establish_axes_refuses_a_tie(tmp_path):
    """A straight NW path and one NW fact cannot separate the mirror images about the NW-SE line."""
    u = np.linspace(0.0, 100.0, 201)
    tr = _synthetic_track(tmp_path, -u / math.sqrt(2), u / math.sqrt(2))
    with pytest.raises(DataError, match="tied"):
        establish_axes(tr, facts=(BearingFact("nw", 50.0, 315.0, "synthetic"),))


def test_fit_track_scale_on_a_straight_track(tmp_path):
    """On a straight track r = s, so fact (d, r) gives s = r: k = sum(d r) / sum(d^2) exactly:
    (50, 45) and (100, 80) -> (2250 + 8000) / 12500 = 0.82."""
    u = np.linspace(0.0, 200.0, 2001)
    tr = _synthetic_track(tmp_path, u, np.zeros_like(u))
    assert fit_track_scale(tr, facts=((50.0, 45.0),)) == pytest.approx(0.9, abs=1e-12)
    assert fit_track_scale(tr, facts=((50.0, 45.0), (100.0, 80.0))) == pytest.approx(0.82, abs=1e-12)
    with pytest.raises(DataError, match="never reaches"):
        fit_track_scale(tr, facts=((300.0, 250.0),))


def _east_axes() -> AxisChoice:
    import pandas as pd

    return AxisChoice("east = +x, north = +y", np.eye(2), 0.0, pd.DataFrame(), "synthetic")


def test_schedule_on_a_straight_track_matches_hand_computed_times(tmp_path):
    """Track: 100 m due east (x_raw). Day 1 (window 0..1000 s): 10 m in one leg at 0.1 m/s = 100 s,
    centred on the window: 450..550 s, so x = 5 m at 500 s. Day 2 (window 2000..3000 s): 20 m in
    two 10 m legs centred on 2250 and 2750 s. With track_scale 0.5 the rover covers half as much
    track: x = 5 m at the end of day 1. A day left out between two given ones is interpolated
    linearly in distance."""
    f = tmp_path / "east.txt"
    np.savetxt(f, np.column_stack([np.linspace(0, 100, 1001), np.zeros(1001)]))
    tr = load_traverse(f)
    win = [(0.0, 1000.0), (2000.0, 3000.0)]
    sch = schedule_traverse(tr, _east_axes(), epoch_utc=EPOCH, daylight_windows_s=win, day_distances={1: 10.0, 2: 30.0},
                            track_scale=1.0, drive_speed_mps=0.1, drive_leg_m=10.0, start_offset_enu_m=(1.0, -2.0))
    assert np.interp(500.0, sch.t_s, sch.x_m) == pytest.approx(6.0, abs=1e-9)  # 5 m + 1 m offset
    assert np.interp(449.0, sch.t_s, sch.x_m) == pytest.approx(1.0, abs=1e-9)
    assert np.interp(551.0, sch.t_s, sch.x_m) == pytest.approx(11.0, abs=1e-9)
    assert np.interp(2250.0, sch.t_s, sch.s_m) == pytest.approx(15.0, abs=1e-9)
    assert np.interp(2750.0, sch.t_s, sch.s_m) == pytest.approx(25.0, abs=1e-9)
    np.testing.assert_allclose(sch.y_m, -2.0)
    assert sch.utc.iloc[0] == "2019-01-03T02:26:00.000Z"
    half = schedule_traverse(tr, _east_axes(), epoch_utc=EPOCH, daylight_windows_s=win, day_distances={1: 10.0},
                             track_scale=0.5, drive_speed_mps=0.1)
    assert half.x_m.iloc[-1] == pytest.approx(5.0, abs=1e-9)
    # a missing day between two given ones is interpolated linearly: {1: 10, 3: 30} -> day 2 ends at 20 m
    three = schedule_traverse(tr, _east_axes(), epoch_utc=EPOCH, daylight_windows_s=win + [(4000.0, 5000.0)],
                              day_distances={1: 10.0, 3: 30.0}, track_scale=1.0, drive_speed_mps=0.1)
    assert three[three.lunar_day == 2].s_m.iloc[-1] == pytest.approx(20.0, abs=1e-9)


def test_schedule_rejects_impossible_requests(tmp_path):
    f = tmp_path / "east.txt"
    np.savetxt(f, np.column_stack([np.linspace(0, 100, 101), np.zeros(101)]))
    tr = load_traverse(f)
    kw = {"epoch_utc": EPOCH, "track_scale": 1.0, "drive_speed_mps": 0.1}
    with pytest.raises(PhysicsError, match="too slow"):  # 10 m at 0.1 m/s needs 100 s > 50 s
        schedule_traverse(tr, _east_axes(), daylight_windows_s=[(0.0, 50.0)], day_distances={1: 10.0}, **kw)
    with pytest.raises(ScenarioError, match="lunar days 1..2"):
        schedule_traverse(tr, _east_axes(), daylight_windows_s=[(0.0, 5e3)], day_distances={2: 10.0}, **kw)
    with pytest.raises(DataError, match="the track has 100.0 m"):
        schedule_traverse(tr, _east_axes(), daylight_windows_s=[(0.0, 5e4)], day_distances={1: 150.0}, **kw)
    with pytest.raises(ScenarioError, match="non-decreasing"):
        schedule_traverse(tr, _east_axes(), daylight_windows_s=[(0.0, 5e3)] * 2, day_distances={1: 20.0, 2: 10.0},
                          **kw)


# ------------------------------------------------------------------------------------------------
# the real CE-4 traverse


@pytest.fixture(scope="module")
def ce4_track():
    return load_traverse(shared_data("ce4_traverse", "CE4_coordinates.txt"))


@pytest.fixture(scope="module")
def ce4_axes(ce4_track):
    return establish_axes(ce4_track)


@pytest.fixture(scope="module")
def ce4_windows():
    return lunar_day_windows(LAT, LON, EGRESS, max(PUBLISHED_DAY_DISTANCES), epoch_utc=EPOCH)


@pytest.fixture(scope="module")
def ce4_schedule(ce4_track, ce4_axes, ce4_windows):
    return schedule_traverse(ce4_track, ce4_axes, epoch_utc=EPOCH, daylight_windows_s=ce4_windows)


def test_ce4_file_matches_its_sources_note(ce4_track):
    """SOURCES.md: 40,022 rows from (0, 0), path length 1743.5 m, end (600.273, -997.9)."""
    assert len(ce4_track) == 40_022
    assert ce4_track.s_m.iloc[-1] == pytest.approx(1743.5, abs=0.05)
    assert (ce4_track.x_raw.iloc[0], ce4_track.y_raw.iloc[0]) == (0.0, 0.0)
    assert ce4_track.x_raw.iloc[-1] == pytest.approx(600.273, abs=1e-3)
    assert ce4_track.y_raw.iloc[-1] == pytest.approx(-997.9, abs=1e-3)


def test_ce4_axes_agree_with_the_lpr_label_convention(ce4_axes, report_measured):
    """The published bearings (LROC 2019-02-01 29 m NW, LROC 2019-06-03 ~130 m W, CNSA day 11
    218.11 m NW, 2021 429/455 m NW; docs/references.md 1.2, 3) pick east = +y, north = +x. The CE-4
    LPR 2B label, which the file's PDS4 writer copies, says independently: x to north, y to east
    (docs/references.md 3). The runner-up, its mirror image about the NW-SE line, is >= 15 deg RMS
    worse."""
    np.testing.assert_array_equal(ce4_axes.matrix, [[0.0, 1.0], [1.0, 0.0]])
    rms = ce4_axes.scores["rms_error_deg"]
    assert rms.iloc[1] - rms.iloc[0] >= 15.0
    report_measured(f"replay axes: {ce4_axes.justification}")
    report_measured("replay axes RMS bearing error (deg): " + ", ".join(f"{n}: {v:.1f}" for n, v in rms.items()))


def test_ce4_end_of_lunar_day_11_is_218_m_north_west(ce4_schedule, report_measured):
    """CNSA: at the end of lunar day 11 (318.621 m driven) Yutu-2 was 218.11 m NW of the lander
    (docs/references.md 3). The schedule's track scale is fitted to the 2021 facts only (days 27,
    28), so this 2019 fact is independent. Band: within 20 % of 218.11 m and a bearing in the NW
    quadrant (270..360 deg)."""
    end11 = ce4_schedule[ce4_schedule.lunar_day == 11].iloc[-1]
    r = math.hypot(end11.x_m, end11.y_m)
    b = _bearing(end11.x_m, end11.y_m)
    report_measured(f"replay end of lunar day 11: {r:.1f} m from the lander at {b:.1f} deg "
                    f"(published 218.11 m NW; s = {end11.s_m:.3f} m, {end11.s_track_m:.1f} m of file)")
    assert abs(r - 218.11) <= 0.2 * 218.11
    assert 270.0 <= b <= 360.0


def test_ce4_lroc_2019_06_03_rover_west_of_the_lander(ce4_schedule, report_measured):
    """LROC imaged Yutu-2 'about 130 m west of the lander' on 2019-06-03 (docs/references.md 3).
    The schedule places it, at noon UTC that day, in the W sector (270 +- 22.5 deg). (The axis
    choice used this fact's bearing at the track's 130 m point; what this checks is that the
    schedule's timing puts the rover on that western stretch on that date.)"""
    from farside.ephemeris import utc_to_seconds

    t = float(utc_to_seconds(EPOCH, ["2019-06-03T12:00:00Z"])[0])
    e, n = np.interp(t, ce4_schedule.t_s, ce4_schedule.x_m), np.interp(t, ce4_schedule.t_s, ce4_schedule.y_m)
    b = _bearing(e, n)
    report_measured(f"replay 2019-06-03: {math.hypot(e, n):.1f} m from the lander at {b:.1f} deg (LROC: ~130 m W)")
    assert abs(b - 270.0) <= 22.5


def test_ce4_speed_never_exceeds_200_m_per_h(ce4_schedule, ce4_windows):
    """Published top speed 200 m/h (docs/references.md 3): odometer, track and straight-line speeds
    between consecutive rows never exceed it (relative slack 1e-5: t_s ~ 1e8 s is resolved to
    ~1.5e-8 s, and rows can be 6 ms apart); the rover drives only inside its lunar day's window."""
    t = ce4_schedule.t_s.to_numpy()
    dt = np.diff(t)
    assert np.all(dt >= 0.0)
    moving = dt > 0.0
    for ds in (np.diff(ce4_schedule.s_m), np.diff(ce4_schedule.s_track_m),
               np.hypot(np.diff(ce4_schedule.x_m), np.diff(ce4_schedule.y_m))):
        assert np.all(np.abs(ds[~moving]) < 1e-9)
        assert np.max(ds[moving] / dt[moving]) <= V_MAX * (1.0 + 1e-5)
    win = np.asarray(ce4_windows)
    day = ce4_schedule.lunar_day.to_numpy()
    assert np.all(t >= win[day - 1, 0]) and np.all(t <= win[day - 1, 1])


def test_ce4_lunar_day_numbering_matches_cnsa_dormancy_dates(ce4_windows):
    """CNSA announced the end of lunar days 6 (2019-06-09), 12 (2019-12-04), 19 (2020-06-28), 25
    (2020-12-22) and 27 (2021-02-20) (docs/references.md 3). Each lies within 2 days of the
    computed sunset ending that day's window (an off-by-one day would be ~29.5 days off)."""
    from farside.ephemeris import utc_to_seconds

    for day, date in ((6, "2019-06-09"), (12, "2019-12-04"), (19, "2020-06-28"), (25, "2020-12-22"),
                      (27, "2021-02-20")):
        t = float(utc_to_seconds(EPOCH, [f"{date}T12:00:00Z"])[0])
        assert abs(ce4_windows[day - 1][1] - t) <= 2 * 86400.0, (day, date)


def test_ce4_end_of_day_table(ce4_schedule, ce4_track, report_measured):
    """Reports the end-of-day positions (not an assertion about them: the cumulative distance is
    the published one by construction) and checks the straight-line distance never exceeds the
    distance driven (a geometric bound, independent of the schedule's rules)."""
    ends = ce4_schedule.groupby("lunar_day").tail(1)
    r = np.hypot(ends.x_m, ends.y_m)
    assert np.all(r <= ends.s_track_m + 1e-9)
    for (_, row), ri in zip(ends.iterrows(), r):
        if int(row.lunar_day) in PUBLISHED_DAY_DISTANCES:
            report_measured(f"replay day {int(row.lunar_day):2d} end {row.utc[:10]}: s {row.s_m:8.3f} m, file "
                            f"{row.s_track_m:7.1f} m, E {row.x_m:7.1f} N {row.y_m:6.1f}, {ri:6.1f} m at "
                            f"{_bearing(row.x_m, row.y_m):5.1f} deg")
