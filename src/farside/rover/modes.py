"""The rover's operating modes over the surface timeline: awake, noon nap, lunar-night sleep.

A state machine over the caller's samples (the Sun elevation at the site, optionally the surface
temperature); "drive" is decided by the caller inside the awake periods.

Thresholds and where they come from (docs/references.md 3; all are fits to reported event times
at the Chang'e-4 site, not predictions):

* **Wake** (autonomous, "after noting the elevation angle of the sunlight", Space.com 2019-02-01):
  when the rising Sun passes :data:`WAKE_AFTER_SUNRISE_ELEVATION_DEG` = 7.0 deg. The Sun elevation
  at the CE-4 site (farside.ephemeris, Liu et al. 2019 coordinates) at five reported rover wake
  times is 7.03 (2019-01-29 ~20:00 BJT), 6.74 (2019-03-29 20:28 BJT), 6.64 (2019-11-21 00:51 BJT),
  7.85 (2020-09-11 11:54 BJT) and 7.13 deg (2020-11-09 10:17 BJT): median 7.0 deg.
* **Sleep** (commanded "as scheduled"): when the setting Sun passes
  :data:`SLEEP_BEFORE_SUNSET_ELEVATION_DEG` = 9.2 deg. Sun elevation at five reported rover
  dormancy times: 8.83 (2019-02-11 20:00 BJT), 9.16 (2020-09-23 23:18 BJT), 9.38 (2020-12-21
  19:22 BJT), 9.74 (2021-02-19 01:48 BJT), 9.16 deg (2021-03-20 17:09 BJT): median 9.2 deg. The time
  of the first dormancy (January 2019) was not found; with 9.2 deg it falls on 2019-01-12 ~19:00 UTC
  (UNCONFIRMED against the mission's own report).
* **Noon nap** (standby against the midday heat; Yutu-2 "went into standby mode on Saturday"
  (2019-01-05 BJT = from 2019-01-04 16:00 UTC; AFP 2019-01-10) and posted that the nap was over on
  Thursday 2019-01-10 17:14 BJT = 09:14 UTC (Yutu-2 Weibo, via SpaceNews 2019-01-11)): entered when
  the Sun rises above :data:`NAP_SUN_ELEVATION_DEG` = 41.0 deg (2019-01-04 20:45 UTC at the site),
  left when it sinks below :data:`NAP_EXIT_SUN_ELEVATION_DEG` = 28.1 deg (the elevation at
  2019-01-10 09:14 UTC). The nap is asymmetric about noon (entry 1.6 days before noon, exit 3.9 days
  after), so a single threshold on a quantity symmetric about noon (the Sun elevation, or the level
  ground's temperature) cannot reproduce it: the model uses hysteresis, two fitted numbers for two
  dates. The reported reason, "surface temperature exceeded 100 C", is not level ground: the
  level-ground model (:func:`farside.rover.regolith_temperature`) peaks at ~350 K (77 C) at this
  latitude; a 20 deg slope facing the Sun reaches ~375 K. The equivalent level-ground temperature
  thresholds (the model's level-ground temperature at the two elevation crossings) are
  :data:`NAP_TEMPERATURE_K` = 341.4 K (68 C) at entry and :data:`NAP_EXIT_TEMPERATURE_K` = 306.1 K
  (33 C) at exit, for callers who drive the nap by a modelled temperature instead.
"""

from __future__ import annotations

import math

import numpy as np

from farside.errors import invalid

__all__ = [
    "MODE_NAMES",
    "NAP_EXIT_SUN_ELEVATION_DEG",
    "NAP_EXIT_TEMPERATURE_K",
    "NAP_SUN_ELEVATION_DEG",
    "NAP_TEMPERATURE_K",
    "SLEEP_BEFORE_SUNSET_ELEVATION_DEG",
    "WAKE_AFTER_SUNRISE_ELEVATION_DEG",
    "plan_modes",
]

#: Mode names; :func:`plan_modes` produces the first three, the caller adds "drive".
MODE_NAMES = ("awake", "nap", "sleep", "drive")
#: Nap entry / exit Sun elevations, deg (fits to 2019-01-04/05 and 2019-01-10 09:14 UTC; module doc).
NAP_SUN_ELEVATION_DEG = 41.0
NAP_EXIT_SUN_ELEVATION_DEG = 28.1
#: The same nap entry / exit as level-ground temperatures of the Hayne et al. (2017) model at the
#: CE-4 site at the two elevation crossings (2019-01-04 20:45 and 2019-01-10 09:22 UTC), K.
NAP_TEMPERATURE_K = 341.4
NAP_EXIT_TEMPERATURE_K = 306.1
#: Dormancy before sunset / autonomous wake after sunrise, Sun elevation, deg (module doc).
SLEEP_BEFORE_SUNSET_ELEVATION_DEG = 9.2
WAKE_AFTER_SUNRISE_ELEVATION_DEG = 7.0


def _finite_or_none(name: str, v: float | None) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | np.floating) or not math.isfinite(v):
        raise invalid(name, v, "a finite number or None")
    return float(v)


def plan_modes(t_s: np.ndarray, sun_elevation_deg: np.ndarray, *,
               nap_sun_elevation_deg: float | None = NAP_SUN_ELEVATION_DEG,
               nap_exit_sun_elevation_deg: float | None = NAP_EXIT_SUN_ELEVATION_DEG,
               nap_temperature_k: float | None = None,
               nap_exit_temperature_k: float | None = None,
               surface_temperature_k: np.ndarray | None = None,
               sleep_before_sunset_elevation_deg: float = SLEEP_BEFORE_SUNSET_ELEVATION_DEG,
               wake_after_sunrise_elevation_deg: float = WAKE_AFTER_SUNRISE_ELEVATION_DEG,
               ) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Mode at each sample and the list of mode changes.

    Parameters
    ----------
    t_s : (N,) mission seconds, non-decreasing.
    sun_elevation_deg : (N,) Sun elevation at the site, deg.
    nap_sun_elevation_deg, nap_exit_sun_elevation_deg : the nap starts when the Sun is at or above
        the first and ends when it is setting below the second (<= the first); None: no nap by
        elevation (the exit defaults to the entry when None).
    nap_temperature_k, nap_exit_temperature_k, surface_temperature_k : when ``nap_temperature_k``
        is given, the nap is decided by the (N,) ``surface_temperature_k`` instead: it starts at
        or above ``nap_temperature_k`` and ends below ``nap_exit_temperature_k`` (default the
        same). ``surface_temperature_k`` alone does not change the criterion.
    sleep_before_sunset_elevation_deg : the rover goes to sleep when the setting Sun is below it.
    wake_after_sunrise_elevation_deg : it wakes when the rising Sun is at or above it.

    Returns
    -------
    modes : (N,) array of str, each "awake", "nap" or "sleep".
    events : list of (t_s, name), name one of "nap start", "nap end", "sleep start", "wake", at
        the first sample of the new mode.
    """
    t = np.asarray(t_s, float)
    el = np.asarray(sun_elevation_deg, float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise invalid("t_s", f"array of shape {np.shape(t_s)}", "a non-empty 1-D array of non-decreasing seconds")
    n = t.size
    if el.shape != (n,) or not np.all(np.isfinite(el)) or np.any(np.abs(el) > 90.0):
        raise invalid("sun_elevation_deg", f"array of shape {np.shape(sun_elevation_deg)}",
                      f"({n},) finite elevations in [-90, 90] deg")
    sleep_el = _finite_or_none("sleep_before_sunset_elevation_deg", sleep_before_sunset_elevation_deg)
    wake_el = _finite_or_none("wake_after_sunrise_elevation_deg", wake_after_sunrise_elevation_deg)
    if sleep_el is None or wake_el is None:
        raise invalid("sleep/wake elevation", (sleep_before_sunset_elevation_deg, wake_after_sunrise_elevation_deg),
                      "finite elevations in degrees")
    nap_t = _finite_or_none("nap_temperature_k", nap_temperature_k)
    if nap_t is not None:
        nap_t_exit = _finite_or_none("nap_exit_temperature_k", nap_exit_temperature_k)
        nap_t_exit = nap_t if nap_t_exit is None else nap_t_exit
        if nap_t_exit > nap_t:
            raise invalid("nap_exit_temperature_k", nap_t_exit, f"<= nap_temperature_k = {nap_t}")
        if surface_temperature_k is None:
            raise invalid("surface_temperature_k", None, "an (N,) array of K when nap_temperature_k is given")
        temp = np.asarray(surface_temperature_k, float)
        if temp.shape != (n,) or not np.all(np.isfinite(temp)):
            raise invalid("surface_temperature_k", f"array of shape {temp.shape}", f"({n},) finite temperatures, K")
        nap_on = temp >= nap_t
        nap_off = temp < nap_t_exit
    else:
        nap_el = _finite_or_none("nap_sun_elevation_deg", nap_sun_elevation_deg)
        if nap_el is None:
            nap_on = np.zeros(n, bool)
            nap_off = np.ones(n, bool)
        else:
            nap_el_exit = _finite_or_none("nap_exit_sun_elevation_deg", nap_exit_sun_elevation_deg)
            nap_el_exit = nap_el if nap_el_exit is None else nap_el_exit
            if nap_el_exit > nap_el:
                raise invalid("nap_exit_sun_elevation_deg", nap_el_exit, f"<= nap_sun_elevation_deg = {nap_el}")
            nap_on = el >= nap_el
            nap_off = el < nap_el_exit

    # trend from the neighbouring samples (index-based, so repeated times cannot divide by zero)
    rising = np.gradient(el) > 0.0 if n > 1 else np.ones(n, bool)
    night_start = (~rising & (el < sleep_el)) | (el < min(sleep_el, wake_el))
    day_start = rising & (el >= wake_el)

    modes = np.empty(n, dtype="<U5")
    events: list[tuple[float, str]] = []
    # the first sample's mode from its own conditions (an afternoon start between the nap's exit
    # and entry thresholds counts as awake: the samples cannot tell whether the entry was reached)
    if night_start[0] or (rising[0] and el[0] < wake_el):
        state = "sleep"
    elif nap_on[0]:
        state = "nap"
    else:
        state = "awake"
    for k in range(n):
        new = state
        if state == "sleep":
            if day_start[k]:
                new = "awake"
        elif night_start[k]:
            new = "sleep"
        elif state == "awake" and nap_on[k]:
            new = "nap"
        elif state == "nap" and nap_off[k]:
            new = "awake"
        if new != state and k > 0:
            name = {("awake", "nap"): "nap start", ("nap", "awake"): "nap end",
                    ("sleep", "awake"): "wake"}.get((state, new), "sleep start")
            events.append((float(t[k]), name))
        state = new
        modes[k] = state
    return modes, events
