"""Sunrise, sunset, local noon and lunar day/night intervals at a lunar site.

Definitions
-----------
* **Sunrise / sunset**: the apparent elevation of the Sun's *centre* crosses ``horizon_deg``
  (default 0: the centre on the local horizontal plane of the reference sphere; no terrain). For
  the upper-limb convention pass ``horizon_deg=-0.265`` (the Sun's mean apparent semi-diameter,
  ``farside.constants.SUN_ANGULAR_DIAMETER_DEG / 2``); there is no atmosphere, so no refraction.
* **Local noon**: the Sun's apparent centre crosses the site meridian from east to west (the east
  component of its ENU direction goes from positive to negative), i.e. local apparent solar time
  12:00. Because the Sun's declination drifts during the ~14.8 d lunar day, the elevation maximum
  can be a little away from the meridian crossing; the test suite measures how far.

Method: the Sun's apparent ENU direction is sampled every ``step_s`` seconds (one vectorised
skyfield call), sign changes are bracketed and every bracket is refined together by bisection to
better than 1 ms. ``step_s`` must be shorter than the shortest day or night to be resolved (the
default 1 h is far below the ~14.8 d lunar day; only within ~1.6 deg of a pole can the Sun skim the
horizon for shorter spells).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from farside.ephemeris import _validate
from farside.ephemeris.geometry import apparent_enu
from farside.ephemeris.times import check_coverage, seconds_between, time_from_seconds, to_time, utc_strings
from farside.errors import invalid

__all__ = ["SunEvent", "DayNightInterval", "sun_events", "sunrise_sunset", "day_night_intervals"]

_TOL_S = 1e-3
_PLACES = 3


class SunEvent(NamedTuple):
    """One solar event at a site (an immutable named tuple: ``kind, time_utc = event[:2]`` works)."""

    kind: str  #: "sunrise", "sunset" or "noon"
    time_utc: str  #: ISO-8601 UTC, millisecond precision
    seconds: float  #: seconds (TT) since the ``start_utc`` of the search
    sun_alt_deg: float  #: apparent elevation of the Sun's centre at the event


@dataclass(frozen=True)
class DayNightInterval:
    """A lunar day (Sun's centre above ``horizon_deg``) or night, clipped to the search span."""

    is_day: bool
    start_utc: str
    end_utc: str
    start_s: float  #: seconds since the search's ``start_utc``
    end_s: float
    complete: bool  #: True when both ends are a sunrise/sunset (not cut by the span)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class _SunSampler:
    """Apparent Sun unit vector in site ENU as a function of seconds since ``t0``."""

    def __init__(self, lat: float, lon: float, height_m: float, t0: Any) -> None:
        self.lat, self.lon, self.height_m, self.t0 = lat, lon, height_m, t0

    def __call__(self, seconds: np.ndarray) -> np.ndarray:
        t = time_from_seconds(self.t0, np.asarray(seconds, dtype=np.float64))
        return apparent_enu("sun", self.lat, self.lon, self.height_m, t)[0]


def _bisect(func: Any, a: np.ndarray, b: np.ndarray, fa: np.ndarray, tol_s: float) -> np.ndarray:
    """Vectorised bisection of ``func`` (seconds -> values) on brackets [a, b] with sign change."""
    a, b, fa = a.copy(), b.copy(), fa.copy()
    if a.size == 0:
        return a
    n_iter = max(1, math.ceil(math.log2(float(np.max(b - a)) / tol_s)))
    for _ in range(n_iter):
        m = 0.5 * (a + b)
        fm = func(m)
        left = np.signbit(fm) == np.signbit(fa)  # root in [m, b]
        a = np.where(left, m, a)
        fa = np.where(left, fm, fa)
        b = np.where(left, b, m)
    return 0.5 * (a + b)


def _search(
    lat_deg: float, lon_deg: float, start_utc: str, end_utc: str, horizon_deg: float, height_m: float, step_s: float
) -> tuple[Any, float, bool, list[tuple[str, float]]]:
    lat, lon = _validate.latlon(lat_deg, lon_deg)
    h = _validate.height(height_m)
    hz = _validate.finite("horizon_deg", horizon_deg, -90.0, 90.0)
    step = _validate.finite("step_s", step_s, 1.0, 86_400.0)
    t0 = to_time(start_utc, "start_utc")[0]
    t1 = to_time(end_utc, "end_utc")[0]
    span = float(seconds_between(t0, t1)[0])
    if not span > 0.0:
        raise invalid("end_utc", end_utc, f"must be later than start_utc = {start_utc!r}")
    sampler = _SunSampler(lat, lon, h, t0)
    sin_hz = math.sin(math.radians(hz))

    n = max(2, math.ceil(span / step) + 1)
    s = np.linspace(0.0, span, n)
    u = sampler(s)
    f_alt = u[:, 2] - sin_hz
    above = f_alt > 0.0
    rise = np.flatnonzero(~above[:-1] & above[1:])
    sets = np.flatnonzero(above[:-1] & ~above[1:])
    east = u[:, 0]
    noon = np.flatnonzero((east[:-1] > 0.0) & (east[1:] <= 0.0))

    idx = np.concatenate([rise, sets])
    t_alt = _bisect(lambda x: sampler(x)[:, 2] - sin_hz, s[idx], s[idx + 1], f_alt[idx], _TOL_S)
    t_noon = _bisect(lambda x: sampler(x)[:, 0], s[noon], s[noon + 1], east[noon], _TOL_S)
    kinds = ["sunrise"] * rise.size + ["sunset"] * sets.size + ["noon"] * noon.size
    times = np.concatenate([t_alt, t_noon])
    order = np.argsort(times, kind="stable")
    events = [(kinds[i], float(times[i])) for i in order]
    return t0, span, bool(above[0]), events


def sun_events(
    lat_deg: float,
    lon_deg: float,
    start_utc: str,
    end_utc: str,
    *,
    horizon_deg: float = 0.0,
    height_m: float = 0.0,
    step_s: float = 3600.0,
    epoch_utc: str | None = None,
) -> tuple[SunEvent, ...]:
    """Sunrises, sunsets and local noons at a lunar site between two UTC instants, in time order.

    ``SunEvent.seconds`` counts from ``start_utc``, or from ``epoch_utc`` when given (mission time).

    >>> ev = sun_events(-45.4446, 177.5991, "2019-01-03T02:26:00Z", "2019-01-20T00:00:00Z")
    >>> [e.kind for e in ev]
    ['noon', 'sunset']
    """
    t0, _span, _day0, events = _search(lat_deg, lon_deg, start_utc, end_utc, horizon_deg, height_m, step_s)
    if not events:
        return ()
    sec = np.array([e[1] for e in events])
    t = time_from_seconds(t0, sec)
    check_coverage(t, "end_utc")
    lat, lon = _validate.latlon(lat_deg, lon_deg)
    u = apparent_enu("sun", lat, lon, _validate.height(height_m), t)[0]
    alt = np.degrees(np.arcsin(np.clip(u[:, 2], -1.0, 1.0)))
    names = utc_strings(t, _PLACES)
    shift = _shift(t0, epoch_utc)
    return tuple(
        SunEvent(kind=k, time_utc=name, seconds=float(x) + shift, sun_alt_deg=float(a))
        for (k, _), name, x, a in zip(events, names, sec, alt)
    )


def _shift(t0: Any, epoch_utc: str | None) -> float:
    """Seconds from ``epoch_utc`` to the search start ``t0`` (0 without an epoch)."""
    if epoch_utc is None:
        return 0.0
    from farside.ephemeris.times import _epoch

    return float(seconds_between(_epoch(epoch_utc), t0)[0])


def sunrise_sunset(
    lat_deg: float,
    lon_deg: float,
    start_utc: str,
    end_utc: str,
    *,
    horizon_deg: float = 0.0,
    height_m: float = 0.0,
    step_s: float = 3600.0,
    epoch_utc: str | None = None,
) -> tuple[SunEvent, ...]:
    """Only the sunrises and sunsets of :func:`sun_events`, in time order."""
    events = sun_events(
        lat_deg, lon_deg, start_utc, end_utc, horizon_deg=horizon_deg, height_m=height_m, step_s=step_s,
        epoch_utc=epoch_utc,
    )
    return tuple(e for e in events if e.kind != "noon")


def day_night_intervals(
    lat_deg: float,
    lon_deg: float,
    start_utc: str,
    end_utc: str,
    *,
    horizon_deg: float = 0.0,
    height_m: float = 0.0,
    step_s: float = 3600.0,
    epoch_utc: str | None = None,
) -> tuple[DayNightInterval, ...]:
    """Alternating lunar day/night intervals covering [start_utc, end_utc] at a site.

    The first and last intervals are cut by the span (``complete=False``) unless they start/end
    exactly on an event; all others run from a sunrise to a sunset (day) or a sunset to a sunrise
    (night). ``start_s``/``end_s`` count from ``start_utc``, or from ``epoch_utc`` when given.
    """
    t0, span, day0, events = _search(lat_deg, lon_deg, start_utc, end_utc, horizon_deg, height_m, step_s)
    shift = _shift(t0, epoch_utc)
    bounds = [0.0] + [s for k, s in events if k != "noon"] + [span]
    sec = np.array(bounds)
    names = utc_strings(time_from_seconds(t0, sec), _PLACES)
    out = []
    is_day = day0
    last = len(bounds) - 2
    for i in range(len(bounds) - 1):
        out.append(
            DayNightInterval(
                is_day=is_day,
                start_utc=names[i],
                end_utc=names[i + 1],
                start_s=float(sec[i]) + shift,
                end_s=float(sec[i + 1]) + shift,
                complete=0 < i < last,
            )
        )
        is_day = not is_day
    return tuple(out)
