"""Replaying the real Yutu-2 traverse from the Chang'e-4 LPR trace positions.

The input is a plain-text file of planar positions (metres) of each processed high-frequency LPR
trace, two whitespace-separated columns, one row per trace, in driving order -- the companion file
``CE4_coordinates`` of Roncoroni et al., Sci. Data 11:118 (2024) (docs/references.md 3): 40,022
rows from (0, 0), 1743.5 m of path. The file carries no times and no frame description; this module
supplies both from published facts (docs/references.md 3), in three pure steps:

1. :func:`load_traverse` reads and validates the file: columns ``x_raw, y_raw`` (as in the file)
   and ``s_m`` (cumulative planar path length along the file, "track metres").
2. :func:`establish_axes` tries the 8 axis permutations/sign flips from the file's (x, y) to site
   ENU (east, north) and scores each against published bearings of the rover from the lander
   (:data:`AXIS_FACTS`). The winner is *east = +y, north = +x*: exactly the convention of the CE-4
   LPR 2B label that the file's PDS4 writer copies ("x axis points to north, y axis points to
   east, z axis points to the lunar core"), a reflection (det = -1) of the plane, as a
   north-east-down frame is.
3. :func:`schedule_traverse` gives the path times: the rover's cumulative (odometer) distance at
   the end of each lunar day is the published figure (:data:`PUBLISHED_DAY_DISTANCES`; days
   without one are interpolated linearly in distance between their neighbours, day 0 = 0 m), and
   each day's distance is driven in legs at ``drive_speed_mps`` spread evenly over that day's
   daylight window (:func:`lunar_day_windows` computes the windows from the ephemeris).

**Track metres are not odometer metres.** Where CNSA published the rover's straight-line distance
from the lander together with its cumulative distance (:data:`SCALE_FACTS`), the file reaches that
straight-line distance after ~0.934 track metres per published metre (429 m from the origin after
610.0 m of track, against 652.62 m driven by the end of lunar day 27; 455 m after 637.4 m, against
682.77 m by the end of day 28), so by default the schedule maps a published distance ``d`` to the
file's arc length ``k * d`` with ``k`` = 0.934 fitted to those two 2021 facts by
:func:`fit_track_scale`. The end of lunar day 11 (318.621 m driven, 218.11 m NW, 2019) is left out
of the fit: it is the independent check (with ``k``: 213.7 m at a bearing of 276.1 deg; with
track metres taken as odometer metres it would be 234.6 m at 275.7 deg).
The file's total (1743.5 m by 2023-03-27) exceeds even the 1.613 km reported for 2024-09-19: the
last ~800 m of the file (after the point matching day 38, 1003.9 m, at 937.7 track m) advance
~54 track m per lunar day against ~21 m per lunar day in CNSA's figures from 2022-01 to 2024-05,
and the straight-line distance grows with them, so the file's late positions are inflated too
(a guess: traces kept while the rover stood still; the file's step is a near-constant 4.36 cm,
i.e. positions chained trace by trace, so every extra trace lengthens the path). The schedule therefore stops at the last lunar day with a
published distance (day 38) and does not use the rest of the file.

**Origin.** The label says the positions are "centred in the landing site"; the file starts at
(0, 0) with the first processed trace, i.e. where the rover was when the first kept trace was
recorded after egress at the foot of the ramp, a few metres from the lander's centre (how far and in
which direction is not published: UNCONFIRMED). ``start_offset_enu_m`` (default (0, 0): the label
taken at its word) is the ENU position of the file's (0, 0) relative to the lander.

Distances from the lander quoted here and in the tests are planar distances in site ENU from the
file's origin (offset 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from farside.errors import DataError, PhysicsError, invalid

__all__ = [
    "AXIS_FACTS",
    "PUBLISHED_DAY_DISTANCES",
    "SCALE_FACTS",
    "AxisChoice",
    "BearingFact",
    "establish_axes",
    "fit_track_scale",
    "load_traverse",
    "lunar_day_windows",
    "schedule_traverse",
]

#: Yutu-2's cumulative distance (m) at the end of lunar day ``k`` (day 1 = the landing day),
#: CNSA figures (docs/references.md 3). Day 5: Liu, Di et al. 2020 (visual localisation); day 21:
#: Zeng et al. 2021 ("21 lunar days, 600 days"); day 28: Xinhua 2021-03; day 38: "as of
#: 2022-01-06", within day 38 (2021-12-26 .. 2022-01-10 at the site), taken as its end
#: (UNCONFIRMED: the rest of day 38 adds nothing).
PUBLISHED_DAY_DISTANCES: Mapping[int, float] = MappingProxyType(
    {
        5: 186.66,
        6: 212.99,
        11: 318.621,
        12: 345.059,
        16: 424.455,
        17: 447.68,
        19: 463.26,
        21: 519.29,
        25: 600.55,
        27: 652.62,
        28: 682.77,
        38: 1003.9,
    }
)

#: (published cumulative distance m, published straight-line distance from the lander m) pairs
#: used by :func:`fit_track_scale`: end of lunar day 27 (652.62 m; "about 429 m" NW, CNSA
#: 2021-03-08) and end of day 28 (682.77 m; line of sight "about 455 m", CNSA 2021-04-07),
#: docs/references.md 3. The 2019 fact (318.621 m; 218.11 m) is deliberately not here.
SCALE_FACTS: tuple[tuple[float, float], ...] = ((652.62, 429.0), (682.77, 455.0))


@dataclass(frozen=True)
class BearingFact:
    """A published position of the rover relative to the lander: the first point of the track at
    ``distance_m`` (planar, from the file's origin) should lie at compass ``bearing_deg``
    (clockwise from north; NW = 315, W = 270)."""

    key: str
    distance_m: float
    bearing_deg: float
    source: str


#: The facts :func:`establish_axes` scores the 8 candidate axis choices against
#: (docs/references.md 1.2 and 3).
AXIS_FACTS: tuple[BearingFact, ...] = (
    BearingFact("29m_NW_2019-02-01", 29.0, 315.0, "LROC NAC M1303619844LR, 2019-02-01: 29 m NW of the lander"),
    BearingFact("130m_W_2019-06-03", 130.0, 270.0, "LROC, 2019-06-03: about 130 m west of the lander"),
    BearingFact("218m_NW_day11", 218.11, 315.0, "CNSA, end of lunar day 11: 218.11 m NW of the lander"),
    BearingFact("429m_NW_day27", 429.0, 315.0, "CNSA, 2021-03-08 (end of day 27): about 429 m NW"),
    BearingFact("455m_NW_day28", 455.0, 315.0, "CNSA, 2021-04-07 (end of day 28): 455 m, NW"),
)

_SYNODIC_DAY_S = 29.53 * 86400.0  # docs/references.md 7.5


@dataclass(frozen=True, eq=False)
class AxisChoice:
    """The file-to-site-ENU axis choice of :func:`establish_axes`.

    ``matrix`` (2, 2) maps the file's ``(x_raw, y_raw)`` to ``(east, north)``:
    ``enu = matrix @ [x_raw, y_raw]``. ``scores`` has one row per candidate (index: its name), with
    the bearing (deg) of the track at each fact's distance, the circular error (deg) against the
    fact, ``rms_error_deg`` and ``chosen``; sorted best first.
    """

    name: str
    matrix: np.ndarray
    rms_error_deg: float
    scores: pd.DataFrame
    justification: str


# ------------------------------------------------------------------------------------------------
# loading


def load_traverse(path: str | Path) -> pd.DataFrame:
    """Read a traverse file: two whitespace-separated columns (x, y in metres), one row per point.

    Returns a DataFrame with columns ``x_raw``, ``y_raw`` (m, as in the file) and ``s_m`` (m,
    cumulative planar path length from the first row). Raises :class:`farside.errors.DataError`
    (one line naming the file and the problem) for a missing or unreadable file, a row that is not
    two numbers, non-finite values or fewer than two rows.
    """
    p = Path(path)
    valid = "must be a text file of two whitespace-separated columns (x, y in metres), at least 2 rows"
    if not p.is_file():
        raise invalid("path", str(p), f"no such file; {valid}", DataError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data"
            xy = np.loadtxt(p, dtype=np.float64, ndmin=2, comments="#")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        problem = " ".join(str(exc).split())
        raise invalid("path", str(p), f"{problem}; {valid}", DataError) from None
    if xy.size == 0:
        raise invalid("path", str(p), f"has 0 rows; {valid}", DataError)
    if xy.shape[1] != 2:
        raise invalid("path", str(p), f"has {xy.shape[1]} columns; {valid}", DataError)
    if xy.shape[0] < 2:
        raise invalid("path", str(p), f"has {xy.shape[0]} rows; {valid}", DataError)
    bad = np.flatnonzero(~np.all(np.isfinite(xy), axis=1))
    if bad.size:
        row = f"row {int(bad[0]) + 1} is not finite ({xy[bad[0]].tolist()})"
        raise invalid("path", str(p), f"{row}; {valid}", DataError)
    step = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    df = pd.DataFrame({"x_raw": xy[:, 0], "y_raw": xy[:, 1], "s_m": np.concatenate([[0.0], np.cumsum(step)])})
    df.attrs["source"] = str(p)
    return df


def _track_arrays(track: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(track, pd.DataFrame) or not {"x_raw", "y_raw", "s_m"} <= set(track.columns):
        raise invalid("track", type(track).__name__, "must be the DataFrame of load_traverse (x_raw, y_raw, s_m)")
    x = track["x_raw"].to_numpy(np.float64)
    y = track["y_raw"].to_numpy(np.float64)
    s = track["s_m"].to_numpy(np.float64)
    if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(np.diff(s) >= 0.0)):
        raise invalid("track", f"<{x.size} rows>", "must have >= 2 finite rows and a non-decreasing s_m")
    return x, y, s


def _first_crossing(r: np.ndarray, s: np.ndarray, radius_m: float) -> tuple[int, float]:
    """Index of the first point with ``r >= radius_m`` and the arc length where r crosses it."""
    hit = np.flatnonzero(r >= radius_m)
    if hit.size == 0:
        raise invalid("track", f"<max distance {float(r.max()):.1f} m>",
                      f"never reaches {radius_m} m from its origin, which a published fact needs", DataError)
    i = int(hit[0])
    if i == 0:
        return 0, float(s[0])
    f = (radius_m - r[i - 1]) / (r[i] - r[i - 1])
    return i, float(s[i - 1] + f * (s[i] - s[i - 1]))


# ------------------------------------------------------------------------------------------------
# axes

_CANDIDATES: tuple[tuple[str, np.ndarray], ...] = tuple(
    (
        f"east = {'+-'[se < 0]}{a}, north = {'+-'[sn < 0]}{b}",
        np.array([[se * (a == "x"), se * (a == "y")], [sn * (b == "x"), sn * (b == "y")]], dtype=np.float64),
    )
    for a, b in (("x", "y"), ("y", "x"))
    for se in (1, -1)
    for sn in (1, -1)
)


def _bearing_deg(east: np.ndarray, north: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(east, north)) % 360.0


def _circ_err_deg(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def establish_axes(track: pd.DataFrame, *, facts: Sequence[BearingFact] = AXIS_FACTS) -> AxisChoice:
    """Choose which of the file's axes is east/north (and their signs) from published bearings.

    Each of the 8 candidates (2 permutations x 4 sign pairs) maps the track to site ENU; for every
    fact the track's first point at ``fact.distance_m`` from the origin is taken (distances do not
    depend on the candidate: all are orthogonal) and its bearing compared with ``fact.bearing_deg``.
    The candidate with the smallest RMS circular error wins.

    The "NW" facts cannot separate a candidate from its mirror image about the NW-SE line (their
    errors are equal); what decides is the LROC "130 m west" of 2019-06-03 and, independently, the
    CE-4 LPR label convention (x north, y east), which the winner matches. Raises
    :class:`farside.errors.DataError` when the facts leave two candidates tied.
    """
    x, y, s = _track_arrays(track)
    if len(facts) == 0:
        raise invalid("facts", facts, "must hold at least one BearingFact")
    r = np.hypot(x, y)
    idx = [_first_crossing(r, s, f.distance_m)[0] for f in facts]
    rows = []
    for name, m in _CANDIDATES:
        e = m[0, 0] * x[idx] + m[0, 1] * y[idx]
        n = m[1, 0] * x[idx] + m[1, 1] * y[idx]
        brg = _bearing_deg(e, n)
        err = np.array([_circ_err_deg(float(b), f.bearing_deg) for b, f in zip(brg, facts)])
        row: dict[str, object] = {"candidate": name, "det": round(float(np.linalg.det(m)))}
        for f, b, er in zip(facts, brg, err):
            row[f"bearing_deg[{f.key}]"] = float(b)
            row[f"error_deg[{f.key}]"] = float(er)
        row["rms_error_deg"] = float(np.sqrt(np.mean(err**2)))
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("rms_error_deg", kind="stable").set_index("candidate")
    best, second = table.index[0], table.index[1]
    margin = float(table["rms_error_deg"].iloc[1] - table["rms_error_deg"].iloc[0])
    if margin < 1e-6:
        raise invalid("facts", [f.key for f in facts], f"leave {best!r} and {second!r} tied; add a fact that "
                      "separates them", DataError)
    table["chosen"] = table.index == best
    matrix = dict(_CANDIDATES)[best].copy()
    matrix.setflags(write=False)
    decisive = max(facts, key=lambda f: abs(table.loc[second, f"error_deg[{f.key}]"]
                                            - table.loc[best, f"error_deg[{f.key}]"]))
    # the position at 318.621 track metres (the end of lunar day 11 if track metres were odometer metres)
    i11 = min(int(np.searchsorted(s, PUBLISHED_DAY_DISTANCES[11])), s.size - 1)
    e11, n11 = matrix @ np.array([x[i11], y[i11]])
    lines = [
        (f"{best} (det {round(float(np.linalg.det(matrix)))}) fits the published bearings best: "
         f"RMS error {table.loc[best, 'rms_error_deg']:.1f} deg against {table.loc[second, 'rms_error_deg']:.1f} deg "
         f"for the runner-up {second}."),
        (f"The deciding fact is {decisive.source!r}: {table.loc[best, f'bearing_deg[{decisive.key}]']:.1f} deg "
         f"against {table.loc[second, f'bearing_deg[{decisive.key}]']:.1f} deg for the runner-up "
         f"(expected {decisive.bearing_deg:.0f} deg); the NW facts alone cannot separate mirror images "
         "about the NW-SE line."),
        (f"At 318.621 m along the file (the end of lunar day 11 if file metres were odometer metres) the rover "
         f"is {math.hypot(e11, n11):.1f} m from the file origin at a bearing of "
         f"{float(_bearing_deg(np.array(e11), np.array(n11))):.1f} deg (published: 218.11 m, NW)."),
    ]
    return AxisChoice(
        name=best,
        matrix=matrix,
        rms_error_deg=float(table.loc[best, "rms_error_deg"]),
        scores=table,
        justification=" ".join(lines),
    )


# ------------------------------------------------------------------------------------------------
# distance scale


def fit_track_scale(track: pd.DataFrame, *, facts: Sequence[tuple[float, float]] = SCALE_FACTS) -> float:
    """Track metres per published (odometer) metre, fitted to (cumulative, straight-line) facts.

    For each ``(d_published_m, r_m)`` the track's arc length ``s_i`` at its first point ``r_m``
    from the origin is found (linear interpolation between points); the result is the
    least-squares ratio through the origin ``sum(d_i s_i) / sum(d_i**2)``. With the default
    :data:`SCALE_FACTS` and the CE-4 file: 0.934.
    """
    x, y, s = _track_arrays(track)
    pairs = [(float(d), float(r)) for d, r in facts]
    if not pairs or any(not (math.isfinite(d) and math.isfinite(r) and d > 0.0 and r > 0.0) for d, r in pairs):
        raise invalid("facts", facts, "must be (cumulative m, straight-line m) pairs of finite numbers > 0")
    rr = np.hypot(x, y)
    d = np.array([p[0] for p in pairs])
    st = np.array([_first_crossing(rr, s, p[1])[1] for p in pairs])
    return float(np.dot(d, st) / np.dot(d, d))


# ------------------------------------------------------------------------------------------------
# time


def lunar_day_windows(
    lat_deg: float,
    lon_deg: float,
    egress_utc: str,
    n_days: int,
    *,
    epoch_utc: str,
    horizon_deg: float = 0.0,
) -> tuple[tuple[float, float], ...]:
    """Daylight windows (start_s, end_s) of lunar days 1..``n_days`` at a site, seconds since
    ``epoch_utc``: day 1 runs from ``egress_utc`` (when it falls in daylight; else from the next
    sunrise) to the next sunset, day k from the k-th sunrise to the following sunset (Sun's centre
    at ``horizon_deg``; :func:`farside.ephemeris.day_night_intervals`).
    """
    from farside.ephemeris import day_night_intervals, seconds_to_utc, utc_to_seconds

    if isinstance(n_days, bool) or not isinstance(n_days, int) or n_days < 1:
        raise invalid("n_days", n_days, "must be an integer >= 1")
    span_s = (n_days + 1.5) * _SYNODIC_DAY_S
    end_utc = seconds_to_utc(egress_utc, [span_s], places=0)[0]
    intervals = day_night_intervals(lat_deg, lon_deg, egress_utc, end_utc, horizon_deg=horizon_deg,
                                    step_s=6 * 3600.0)
    days = [iv for iv in intervals if iv.is_day and (iv.complete or iv.start_s == 0.0) and iv.end_s < span_s]
    if len(days) < n_days:
        raise invalid("n_days", n_days, f"the search found only {len(days)} lunar days at the site")
    shift = float(utc_to_seconds(epoch_utc, [egress_utc])[0])
    return tuple((iv.start_s + shift, iv.end_s + shift) for iv in days[:n_days])


def _end_of_day_distances(day_distances: Mapping[int, float]) -> np.ndarray:
    """Cumulative distance (m) at the end of lunar days 0..K (K = the last day given), day 0 = 0."""
    try:
        items = sorted((int(k), float(v)) for k, v in day_distances.items())
    except (AttributeError, TypeError, ValueError):
        raise invalid("day_distances", day_distances, "must map lunar day numbers to metres") from None
    days = np.array([0] + [k for k, _ in items])
    dist = np.array([0.0] + [v for _, v in items])
    if not items or days[1] < 1 or np.any(np.diff(days) <= 0) or not np.all(np.isfinite(dist)) \
            or np.any(np.diff(dist) < 0.0):
        raise invalid("day_distances", dict(day_distances),
                      "must map lunar days >= 1 to finite cumulative metres >= 0, non-decreasing with the day")
    return np.interp(np.arange(days[-1] + 1), days, dist)


def schedule_traverse(
    track: pd.DataFrame,
    axes: AxisChoice,
    *,
    epoch_utc: str,
    daylight_windows_s: Sequence[tuple[float, float]],
    day_distances: Mapping[int, float] = PUBLISHED_DAY_DISTANCES,
    track_scale: float | None = None,
    drive_speed_mps: float = 200.0 / 3600.0,
    drive_leg_m: float = 10.0,
    start_offset_enu_m: tuple[float, float] = (0.0, 0.0),
) -> pd.DataFrame:
    """Times for the replayed traverse: where the rover is, when, lunar day by lunar day.

    Parameters
    ----------
    track, axes
        From :func:`load_traverse` and :func:`establish_axes`.
    epoch_utc
        ISO UTC instant; ``t_s`` counts seconds from it.
    daylight_windows_s
        ``(start_s, end_s)`` of the working (daylight) window of lunar days 1, 2, ..., seconds since
        ``epoch_utc`` (e.g. :func:`lunar_day_windows`); at least as many as the last day in
        ``day_distances``. Shrink a window to model a noon rest.
    day_distances
        Cumulative odometer distance (m) at the end of lunar days; days missing between two given
        ones (and between day 0 = 0 m and the first) are interpolated linearly in distance. The
        schedule ends with the last day given.
    track_scale
        Track metres per odometer metre; ``None``: :func:`fit_track_scale` (0.934 for the CE-4 file).
    drive_speed_mps
        Speed while driving (m/s, both odometer and track metres; default the published top speed,
        200 m/h, docs/references.md 3).
    drive_leg_m
        Each lunar day's distance is driven in ``ceil(distance / drive_leg_m)`` equal legs
        (UNCONFIRMED: 10 m between stops) centred on equal slices of the day's window.
    start_offset_enu_m
        ENU (east, north) position of the file's (0, 0) relative to the lander (m); default (0, 0),
        the LPR label's "centred in the landing site" (UNCONFIRMED: the trace origin is near the foot
        of the ramp, a few metres off).

    Returns
    -------
    pandas.DataFrame
        Rows in time order: ``t_s`` (s since ``epoch_utc``), ``utc`` (ISO string), ``lunar_day``,
        ``x_m``, ``y_m`` (site ENU east, north relative to the lander, m), ``s_m`` (odometer
        distance, m), ``s_track_m`` (arc length along the file, m), ``driving`` (True on rows inside
        a leg). Every track point passed while driving is a row; the window's start and end are rows
        (the rover parked); between two rows the rover moves in a straight line at constant speed
        (or stands still).
    """
    from farside.ephemeris import seconds_to_utc

    x_raw, y_raw, s_tr = _track_arrays(track)
    if not isinstance(axes, AxisChoice):
        raise invalid("axes", type(axes).__name__, "must be the AxisChoice of establish_axes")
    v = float(drive_speed_mps)
    if not (math.isfinite(v) and v > 0.0):
        raise invalid("drive_speed_mps", drive_speed_mps, "must be a finite number > 0")
    leg = float(drive_leg_m)
    if not (math.isfinite(leg) and leg > 0.0):
        raise invalid("drive_leg_m", drive_leg_m, "must be a finite number > 0")
    k = fit_track_scale(track) if track_scale is None else float(track_scale)
    if not (math.isfinite(k) and k > 0.0):
        raise invalid("track_scale", track_scale, "must be a finite number > 0 (track metres per odometer metre)")
    off = np.asarray(start_offset_enu_m, dtype=np.float64)
    if off.shape != (2,) or not np.all(np.isfinite(off)):
        raise invalid("start_offset_enu_m", start_offset_enu_m, "must be two finite numbers (east, north) in metres")

    d_end = _end_of_day_distances(day_distances)
    n_days = d_end.size - 1
    try:
        win = np.asarray(daylight_windows_s, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid("daylight_windows_s", daylight_windows_s, "must be (start_s, end_s) pairs") from None
    if win.ndim != 2 or win.shape[1] != 2 or win.shape[0] < n_days:
        raise invalid("daylight_windows_s", f"<{win.shape}>",
                      f"must hold (start_s, end_s) pairs for lunar days 1..{n_days} at least")
    win = win[:n_days]
    if not np.all(np.isfinite(win)) or np.any(win[:, 1] <= win[:, 0]) or np.any(win[1:, 0] < win[:-1, 1]):
        raise invalid("daylight_windows_s", win.tolist()[:3] + ["..."],
                      "must be finite, each end after its start, in time order without overlap")
    if k * d_end[-1] > s_tr[-1] + 1e-9:
        raise invalid("day_distances", f"<{d_end[-1]} m at day {n_days}>",
                      f"need {k * d_end[-1]:.1f} m of track at track_scale {k:.4f}; the track has {s_tr[-1]:.1f} m",
                      DataError)

    t_parts, s_parts, day_parts, drv_parts = [], [], [], []
    for day in range(1, n_days + 1):
        n_before = len(t_parts)
        w0, w1 = win[day - 1]
        d0, d1 = d_end[day - 1], d_end[day]
        t_parts.append(np.array([w0]))
        s_parts.append(np.array([k * d0]))
        drv_parts.append(np.array([False]))
        if d1 > d0:
            n_leg = max(1, math.ceil((d1 - d0) / leg - 1e-9))
            dd = (d1 - d0) / n_leg
            tau = max(dd, k * dd) / v
            slot = (w1 - w0) / n_leg
            if tau > slot:
                raise invalid("drive_speed_mps", drive_speed_mps,
                              f"is too slow: lunar day {day} needs {d1 - d0:.2f} m in a {(w1 - w0) / 3600:.1f} h "
                              f"window in legs of {dd:.2f} m", PhysicsError)
            for j in range(n_leg):
                a, b = k * (d0 + j * dd), k * (d0 + (j + 1) * dd)
                inner = s_tr[np.searchsorted(s_tr, a, "right"):np.searchsorted(s_tr, b, "left")]
                sp = np.concatenate([[a], inner, [b]])
                t0 = w0 + (j + 0.5) * slot - 0.5 * tau
                t_parts.append(t0 + (sp - a) / (b - a) * tau)
                s_parts.append(sp)
                drv_parts.append(np.ones(sp.size, dtype=bool))
        t_parts.append(np.array([w1]))
        s_parts.append(np.array([k * d1]))
        drv_parts.append(np.array([False]))
        day_parts.append(np.full(sum(p.size for p in t_parts[n_before:]), day))

    t = np.concatenate(t_parts)
    st = np.concatenate(s_parts)
    xr = np.interp(st, s_tr, x_raw)
    yr = np.interp(st, s_tr, y_raw)
    m = axes.matrix
    east = m[0, 0] * xr + m[0, 1] * yr + off[0]
    north = m[1, 0] * xr + m[1, 1] * yr + off[1]
    return pd.DataFrame(
        {
            "t_s": t,
            "utc": seconds_to_utc(epoch_utc, t, places=3),
            "lunar_day": np.concatenate(day_parts).astype(np.int64),
            "x_m": east,
            "y_m": north,
            "s_m": st / k,
            "s_track_m": st,
            "driving": np.concatenate(drv_parts),
        }
    )
