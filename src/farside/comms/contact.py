"""Visibility and the contact plan: site <-> relay <-> Earth ground stations over mission time.

* Site -> relay: the relay's elevation above the site's local horizontal plane (ENU of the
  scenario site on the 1737.4 km sphere), required to exceed both the **mask angle** (default
  5 deg, an assumed clearance for multipath and the lander's own structure) and the terrain
  horizon in that azimuth (:func:`farside.comms.horizon.horizon_elevation`).
* Relay -> ground: elevation of the relay above each station's geodetic horizon (the Earth's
  rotation comes from ``farside.ephemeris``: IAU 2006 precession-nutation with Delta T) above a
  10 deg station mask (assumed; typical for deep-space antennas), and the line of sight must
  clear the Moon (R = 1737.4 km).
* Rates: the link budgets of :mod:`farside.comms.link` at each instant's range, held to the
  published steps. The ground link adds an S-band atmospheric loss of 0.04 dB / sin(elevation)
  (ITU-R P.676 zenith loss at 2 GHz, ~0.04 dB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.comms.horizon import HorizonProfile, elevation_azimuth
from farside.comms.link import GROUND_LINK, LANDER_LINK, ROVER_LINK, LinkConfig, dish_gain_dbi, link_budget
from farside.constants import MOON_RADIUS_M
from farside.ephemeris.earth import earth_fixed_to_moon_me, geodetic_to_itrs
from farside.errors import invalid
from farside.orbit.placement import PlacedOrbit

__all__ = [
    "GroundStation",
    "DEFAULT_STATIONS",
    "ContactPlan",
    "contact_plan",
    "earth_elevation_from_site",
    "windows",
]

#: Default site mask angle (deg), ASSUMED.
SITE_MASK_DEG = 5.0
#: Ground station mask (deg), ASSUMED.
STATION_MASK_DEG = 10.0
_S_BAND_ZENITH_LOSS_DB = 0.04


@dataclass(frozen=True)
class GroundStation:
    """An Earth ground station: geodetic latitude/longitude (deg, east +), height (m), dish (m)."""

    name: str
    lat_deg: float
    lon_deg: float
    height_m: float
    dish_m: float
    mask_deg: float = STATION_MASK_DEG


#: China's deep-space stations that supported Chang'e-4 (positions ASSUMED to ~0.1 deg from public
#: descriptions of the sites; precise coordinates are not published): Kashi (Xinjiang, 35 m),
#: Jiamusi (Heilongjiang, 66 m) and the CLTC-CONAE station at Neuquen, Argentina (35 m).
DEFAULT_STATIONS: tuple[GroundStation, ...] = (
    GroundStation("Kashi", 38.42, 76.73, 1300.0, 35.0),
    GroundStation("Jiamusi", 46.49, 130.77, 100.0, 66.0),
    GroundStation("Neuquen", -38.19, -70.15, 600.0, 35.0),
)


@dataclass(frozen=True, eq=False)
class ContactPlan:
    """Per-instant visibility and rates on a regular time grid (mission seconds ``t_s``)."""

    t_s: np.ndarray
    relay_el_deg: np.ndarray
    relay_az_deg: np.ndarray
    relay_range_m: np.ndarray
    horizon_el_deg: np.ndarray
    site_visible: np.ndarray
    lander_rate_bps: np.ndarray
    rover_rate_bps: np.ndarray
    station_el_deg: np.ndarray  # (N, n_stations)
    station_range_m: np.ndarray  # (N, n_stations)
    station_visible: np.ndarray  # (N, n_stations)
    ground_station: np.ndarray  # index of the best visible station, -1 none
    ground_rate_bps: np.ndarray
    stations: tuple[GroundStation, ...]

    @property
    def step_s(self) -> float:
        return float(self.t_s[1] - self.t_s[0]) if self.t_s.size > 1 else 60.0

    def frame(self):
        """As a pandas DataFrame (one row per instant)."""
        import pandas as pd

        d = {
            "t_s": self.t_s,
            "relay_el_deg": self.relay_el_deg,
            "relay_az_deg": self.relay_az_deg,
            "relay_range_km": self.relay_range_m / 1e3,
            "horizon_el_deg": self.horizon_el_deg,
            "site_visible": self.site_visible,
            "lander_rate_kbps": self.lander_rate_bps / 1e3,
            "rover_rate_kbps": self.rover_rate_bps / 1e3,
        }
        for j, st in enumerate(self.stations):
            d[f"{st.name}_el_deg"] = self.station_el_deg[:, j]
            d[f"{st.name}_visible"] = self.station_visible[:, j]
        d["ground_station"] = [self.stations[i].name if i >= 0 else "" for i in self.ground_station]
        d["ground_rate_Mbps"] = self.ground_rate_bps / 1e6
        return pd.DataFrame(d)


def windows(t_s: np.ndarray, flag: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous ``(start, end)`` intervals (s) where ``flag`` holds on the grid ``t_s``; the end
    is the last true sample plus one step."""
    f = np.asarray(flag, dtype=bool)
    if f.size == 0:
        return []
    dt = float(t_s[1] - t_s[0]) if t_s.size > 1 else 0.0
    edges = np.diff(np.concatenate([[0], f.astype(np.int8), [0]]))
    starts = np.nonzero(edges == 1)[0]
    ends = np.nonzero(edges == -1)[0]
    return [(float(t_s[a]), float(t_s[b - 1] + dt)) for a, b in zip(starts, ends)]


def _site_frame(lat_deg: float, lon_deg: float, height_m: float):
    from farside.ephemeris import enu_to_moon_me_matrix, site_position_moon_me

    return site_position_moon_me(lat_deg, lon_deg, height_m), enu_to_moon_me_matrix(lat_deg, lon_deg)


def earth_elevation_from_site(placed: PlacedOrbit, t_s, *, lat_deg: float, lon_deg: float,
                              height_m: float = 0.0) -> np.ndarray:
    """Geometric elevation (deg) of the Earth's centre above the site's horizontal plane."""
    t = np.asarray(t_s, dtype=float).ravel()
    r_site, m = _site_frame(lat_deg, lon_deg, height_m)
    e = placed.grid.at(t)["earth_me"]
    return elevation_azimuth(e, r_site, m)[0]


def _station_tracks(placed: PlacedOrbit, t: np.ndarray, stations, grid_step_s: float):
    """Station MOON_ME positions and geodetic up vectors at ``t``."""
    earth, m = earth_fixed_to_moon_me(placed.grid.epoch_utc, t, grid_step_s=grid_step_s)
    pos, up = [], []
    for st in stations:
        p_itrs, u_itrs = geodetic_to_itrs(st.lat_deg, st.lon_deg, st.height_m)
        pos.append(earth + m @ p_itrs)
        up.append(m @ u_itrs)
    return pos, up


def _moon_blocks(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the segment a->b (Moon-centred, (N, 3) m) passes inside the Moon's sphere."""
    d = b - a
    s = np.clip(-np.sum(a * d, axis=1) / np.sum(d * d, axis=1), 0.0, 1.0)
    closest = a + s[:, None] * d
    return np.linalg.norm(closest, axis=1) < MOON_RADIUS_M


def contact_plan(placed: PlacedOrbit, t_s, *, lat_deg: float, lon_deg: float, height_m: float = 0.0,
                 horizon: HorizonProfile | None = None, mask_deg: float = SITE_MASK_DEG,
                 stations: tuple[GroundStation, ...] = DEFAULT_STATIONS,
                 lander_link: LinkConfig = LANDER_LINK, rover_link: LinkConfig = ROVER_LINK,
                 ground_link: LinkConfig = GROUND_LINK, station_grid_step_s: float = 21600.0) -> ContactPlan:
    """Visibility and achievable rates at mission times ``t_s`` (a regular grid, seconds).

    ``horizon`` is the terrain horizon at the site (None: the flat horizontal plane);
    ``height_m`` the antenna height above the 1737.4 km sphere. The ground link's receive gain
    is each station's own dish (55 % efficiency, assumed) in place of ``ground_link.rx_gain_dbi``;
    the best visible station (highest rate, then elevation) carries the downlink.
    """
    t = np.asarray(t_s, dtype=float).ravel()
    if t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise invalid("t_s", f"{t.size} samples", "an increasing grid of at least 2 finite times")
    if not (math.isfinite(mask_deg) and -10.0 <= mask_deg < 90.0):
        raise invalid("mask_deg", mask_deg, "an angle in [-10, 90) degrees")
    if not stations:
        raise invalid("stations", stations, "at least one GroundStation")
    pos = placed.positions(t)
    r_relay = pos["r_moon_me"]
    r_site, m = _site_frame(lat_deg, lon_deg, height_m)
    el, az, rng = elevation_azimuth(r_relay, r_site, m)
    hz = horizon.at(az) if horizon is not None else np.zeros_like(el)
    vis = (el > mask_deg) & (el > hz)
    lander = np.where(vis, link_budget(lander_link, rng).rate_bps, 0.0)
    rover = np.where(vis, link_budget(rover_link, rng).rate_bps, 0.0)

    spos, sup = _station_tracks(placed, t, stations, station_grid_step_s)
    ns = len(stations)
    s_el = np.empty((t.size, ns))
    s_rng = np.empty((t.size, ns))
    s_vis = np.empty((t.size, ns), dtype=bool)
    s_rate = np.empty((t.size, ns))
    for j, st in enumerate(stations):
        d = r_relay - spos[j]
        dist = np.linalg.norm(d, axis=1)
        e = np.degrees(np.arcsin(np.clip(np.sum(d * sup[j], axis=1) / dist, -1, 1)))
        ok = (e > st.mask_deg) & ~_moon_blocks(r_relay, spos[j])
        cfg = ground_link.with_(rx_gain_dbi=dish_gain_dbi(st.dish_m, ground_link.frequency_hz))
        atm = _S_BAND_ZENITH_LOSS_DB / np.sin(np.radians(np.clip(e, 1.0, 90.0)))
        s_el[:, j], s_rng[:, j], s_vis[:, j] = e, dist, ok
        s_rate[:, j] = np.where(ok, link_budget(cfg, dist, extra_loss_db=atm).rate_bps, 0.0)
    key = s_rate * 1e3 + np.where(s_vis, s_el, -1e3)
    best = np.argmax(key, axis=1)
    gs = np.where(s_vis[np.arange(t.size), best], best, -1)
    grate = np.where(gs >= 0, s_rate[np.arange(t.size), best], 0.0)
    return ContactPlan(t, el, az, rng, hz, vis, lander, rover, s_el, s_rng, s_vis, gs, grate, tuple(stations))
