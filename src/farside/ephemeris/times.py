"""Calendar time <-> mission time (DESIGN.md: only farside.ephemeris converts calendar time).

Mission time is ``float64`` SI seconds elapsed since the scenario epoch (a UTC instant), counted on
the TT time scale, so an interval that spans a leap second is one second longer than the
difference of the clock readings. Calendar instants are ISO-8601 strings in UTC.

Accepted string forms: ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM``, ``YYYY-MM-DDTHH:MM:SS[.fff...]`` with a
``T`` or a space between date and time, followed by ``Z``, a numeric offset (``+00:00``,
``+0800``, ``-05:00``) or nothing (then the time is taken to be UTC). Seconds 60.x are accepted
(leap seconds).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from farside.ephemeris._data import kernels
from farside.errors import invalid

__all__ = ["utc_to_seconds", "seconds_to_utc", "MissionTimes", "mission_times"]

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_VALID_TIME = "must be an ISO-8601 UTC time such as '2019-01-03T02:26:00Z' within 1900-01-01 .. 2051-01-01"



class MissionTimes:
    """Mission times: float64 seconds (TT-scale SI seconds) since a UTC epoch, the form DESIGN.md
    uses inside farside. Every ephemeris function that takes times accepts it and converts once,
    with no calendar strings in between (no rounding to a printed decimal).

    >>> from farside.ephemeris import sun_direction_enu
    >>> u = sun_direction_enu(-45.4446, 177.5991, mission_times("2019-01-03T02:26:00Z", [0.0, 3600.0]))
    >>> u.shape
    (2, 3)
    """

    __slots__ = ("epoch_utc", "seconds")

    def __init__(self, epoch_utc: str, seconds: float | Sequence[float] | np.ndarray) -> None:
        if not isinstance(epoch_utc, str | np.str_):
            raise invalid("epoch_utc", epoch_utc, _VALID_TIME)
        try:
            s = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
        except (TypeError, ValueError):
            raise invalid("seconds", seconds, "must be finite numbers of seconds since the epoch") from None
        if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
            raise invalid("seconds", seconds, "must be a finite number or a non-empty 1-D sequence of finite numbers")
        self.epoch_utc = str(epoch_utc)
        self.seconds = s

    def __len__(self) -> int:
        return int(self.seconds.size)

    def __repr__(self) -> str:
        return f"MissionTimes({self.epoch_utc!r}, {self.seconds.size} instants)"


def mission_times(epoch_utc: str, seconds: float | Sequence[float] | np.ndarray) -> MissionTimes:
    """``seconds`` (float64, since ``epoch_utc``) as times every ephemeris function accepts."""
    return MissionTimes(epoch_utc, seconds)


#: what the ephemeris accepts as times: :class:`MissionTimes` (the internal form), numpy
#: ``datetime64`` values (UTC), or ISO-8601 UTC strings (one or a sequence; calendar input at the edges)
TimesLike = MissionTimes | str | Sequence[str] | np.ndarray


def _parse_one(name: str, text: Any) -> tuple[int, int, int, int, int, float]:
    if not isinstance(text, str | np.str_):
        raise invalid(name, text, _VALID_TIME)
    m = _ISO.match(str(text).strip())
    if m is None:
        raise invalid(name, text, _VALID_TIME)
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour = int(m[4]) if m[4] else 0
    minute = int(m[5]) if m[5] else 0
    second = float(m[6]) if m[6] else 0.0
    try:
        _dt.date(year, month, day)
    except ValueError:
        raise invalid(name, text, _VALID_TIME) from None
    if hour > 23 or minute > 59 or second >= 61.0:
        raise invalid(name, text, _VALID_TIME)
    zone = m[7]
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        off_h, off_m = int(digits[:2]), int(digits[2:])
        if off_h > 23 or off_m > 59:
            raise invalid(name, text, _VALID_TIME)
        # local = UTC + offset, so UTC = local - offset (skyfield normalises out-of-range fields)
        hour -= sign * off_h
        minute -= sign * off_m
    return year, month, day, hour, minute, second


def to_time(times_utc: TimesLike, name: str = "times_utc") -> Any:
    """:class:`MissionTimes`, numpy ``datetime64`` values or ISO strings -> a 1-D skyfield ``Time``
    (private helper)."""
    if isinstance(times_utc, MissionTimes):
        t = time_from_seconds(_epoch(times_utc.epoch_utc), times_utc.seconds)
        check_coverage(t, name, [f"{times_utc.epoch_utc} + {x:.3f} s" for x in times_utc.seconds])
        return t
    if isinstance(times_utc, np.ndarray | np.datetime64) and np.asarray(times_utc).dtype.kind == "M":
        d = np.atleast_1d(np.asarray(times_utc)).ravel().astype("datetime64[ns]")
        if np.isnat(d).any():
            raise invalid(name, "NaT", _VALID_TIME)
        days = d.astype("datetime64[D]")
        ns = (d - days).astype(np.int64).astype(np.float64)
        ymd = days.astype(object)
        t = kernels().ts.utc(np.array([x.year for x in ymd]), np.array([x.month for x in ymd]),
                             np.array([x.day for x in ymd]), 0, 0, ns * 1e-9)
        check_coverage(t, name, [str(x) for x in d])
        return t
    if isinstance(times_utc, str | np.str_):
        items: list[Any] = [times_utc]
    else:
        try:
            items = list(np.asarray(times_utc, dtype=object).ravel()) if isinstance(times_utc, np.ndarray) else list(times_utc)
        except TypeError:
            raise invalid(name, times_utc, _VALID_TIME) from None
    if not items:
        raise invalid(name, times_utc, "must hold at least one ISO-8601 UTC time")
    fields = np.array([_parse_one(name, s) for s in items], dtype=np.float64)
    k = kernels()
    t = k.ts.utc(
        fields[:, 0].astype(np.int64),
        fields[:, 1].astype(np.int64),
        fields[:, 2].astype(np.int64),
        fields[:, 3].astype(np.int64),
        fields[:, 4].astype(np.int64),
        fields[:, 5],
    )
    check_coverage(t, name, items)
    return t


def check_coverage(t: Any, name: str, items: Sequence[Any] | None = None) -> None:
    """Raise ScenarioError when any instant lies outside the kernels' coverage."""
    k = kernels()
    tdb = np.atleast_1d(t.tdb)
    bad = ~((tdb >= k.tdb_jd_min) & (tdb <= k.tdb_jd_max))
    if np.any(bad):
        i = int(np.argmax(bad))
        value: Any = items[i] if items is not None else np.atleast_1d(t.utc_iso())[i]
        raise invalid(
            name,
            value,
            "must lie within the coverage of the DE421 lunar orientation PCK and ephemeris, "
            f"{k.ts.tdb_jd(k.tdb_jd_min).utc_iso()} .. {k.ts.tdb_jd(k.tdb_jd_max).utc_iso()} (TDB)",
        )


def time_from_seconds(t0: Any, seconds: np.ndarray) -> Any:
    """skyfield ``Time`` at ``seconds`` (TT seconds) after the scalar ``Time`` ``t0`` (private helper)."""
    s = np.asarray(seconds, dtype=np.float64)
    whole_days = np.floor(s / 86400.0)
    frac = (s - whole_days * 86400.0) / 86400.0
    return kernels().ts.tt_jd(t0.whole + whole_days, t0.tt_fraction + frac)


def seconds_between(t0: Any, t: Any) -> np.ndarray:
    """TT seconds from scalar ``Time`` ``t0`` to ``Time`` ``t``, rounded to the nanosecond (private helper).

    The rounding removes the ~1e-12 s noise of the day-fraction arithmetic, so whole-second
    intervals come out as exact integers.
    """
    s = ((t.whole - t0.whole) + (t.tt_fraction - t0.tt_fraction)) * 86400.0
    return np.round(np.atleast_1d(s).astype(np.float64), 9)


def _epoch(epoch_utc: str) -> Any:
    if not isinstance(epoch_utc, str | np.str_):
        raise invalid("epoch_utc", epoch_utc, _VALID_TIME)
    t0 = to_time(epoch_utc, "epoch_utc")
    return t0[0]


def utc_to_seconds(epoch_utc: str, times_utc: TimesLike) -> np.ndarray:
    """Seconds elapsed (SI, TT scale) from ``epoch_utc`` to each of ``times_utc``; float64 array (N,).

    Rounded to the nanosecond; leap seconds count (2016-12-31T23:59:60Z is one second before
    2017-01-01T00:00:00Z).

    >>> utc_to_seconds("2019-01-03T02:26:00Z", ["2019-01-03T02:27:00Z"])
    array([60.])
    """
    t0 = _epoch(epoch_utc)
    return seconds_between(t0, to_time(times_utc))


def utc_strings(t: Any, places: int) -> list[str]:
    """ISO-8601 strings ending in ``Z`` for a skyfield ``Time`` (private helper)."""
    out = t.utc_iso(places=places)
    return [out] if isinstance(out, str) else list(out)


def seconds_to_utc(epoch_utc: str, seconds: float | Sequence[float] | np.ndarray, *, places: int = 3) -> list[str]:
    """ISO-8601 UTC strings (``"...Z"``, ``places`` decimals of the second) ``seconds`` after ``epoch_utc``.

    The inverse of :func:`utc_to_seconds` to within half a unit of the last decimal place.

    >>> seconds_to_utc("2019-01-03T02:26:00Z", [0.0, 86400.0], places=0)
    ['2019-01-03T02:26:00Z', '2019-01-04T02:26:00Z']
    """
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 9:
        raise invalid("places", places, "must be an integer in 0..9")
    try:
        s = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
    except (TypeError, ValueError):
        raise invalid("seconds", seconds, "must be finite numbers of seconds") from None
    if s.ndim != 1 or not np.all(np.isfinite(s)):
        raise invalid("seconds", seconds, "must be a finite number or a 1-D sequence of finite numbers")
    if s.size == 0:
        return []
    t0 = _epoch(epoch_utc)
    t = time_from_seconds(t0, s)
    check_coverage(t, "seconds", [float(x) for x in s])
    return utc_strings(t, places)
