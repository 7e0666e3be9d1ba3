"""Visibility and contact plans for the Chang'e-4 site with the Queqiao-like orbit.

Sources: site coordinates Liu et al. 2019 (docs/references.md 1.2); Queqiao Az = 13,000 km L2 halo and
distances "about 65,000 km from the Moon" / "about 455,000 km from the Earth" (docs/references.md 5).
"""

from __future__ import annotations

import numpy as np
import pytest

from farside.comms import DEFAULT_STATIONS, contact_plan, earth_elevation_from_site, windows
from farside.comms.contact import _moon_blocks
from farside.ephemeris import earth_fixed_to_moon_me
from farside.ephemeris import geodetic_to_itrs as _geodetic_to_itrs
from farside.constants import CE4_ELEVATION_M, CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC
from farside.orbit import halo_orbit
from farside.orbit.placement import place_orbit

YEAR_S = 365.25 * 86400.0


@pytest.fixture(scope="module")
def placed_year():
    o = halo_orbit(libration_point="L2", branch="north", az_km=13_000.0)
    return place_orbit(o, CE4_TOUCHDOWN_UTC, t_end_s=YEAR_S)


def test_earth_never_visible_from_ce4_site_over_a_year(placed_year):
    """The Earth's centre stays below the CE-4 site's horizon for a full year (hourly samples):
    the site is 2.4 deg from the anti-Earth meridian at 45.4 S, so with librations of <= 8 deg
    the Earth stays > 30 deg below the horizon (a far-side site needs the relay)."""
    t = np.arange(0.0, YEAR_S, 3600.0)
    el = earth_elevation_from_site(placed_year, t, lat_deg=CE4_LAT_DEG, lon_deg=CE4_LON_DEG)
    assert el.max() < -30.0
    assert el.min() > -60.0


def test_relay_visibility_fraction_over_a_year(placed_year, report_measured):
    """Relay visibility from the CE-4 site over a year at 10-minute steps. With the 5 deg mask and
    a flat horizon the relay is always up (computed fraction 1.000, elevation 22-61 deg); with a
    40 deg mask the fraction drops and is reported."""
    t = np.arange(0.0, YEAR_S, 600.0)
    plan = contact_plan(placed_year, t, lat_deg=CE4_LAT_DEG, lon_deg=CE4_LON_DEG, height_m=CE4_ELEVATION_M)
    frac = plan.site_visible.mean()
    report_measured(f"relay: visible from the CE-4 site {100 * frac:.3f} % of a year (5 deg mask, flat horizon); "
                    f"elevation {plan.relay_el_deg.min():.1f}..{plan.relay_el_deg.max():.1f} deg")
    assert frac == 1.0
    assert 15.0 < plan.relay_el_deg.min() and plan.relay_el_deg.max() < 70.0
    plan40 = contact_plan(placed_year, t, lat_deg=CE4_LAT_DEG, lon_deg=CE4_LON_DEG, height_m=CE4_ELEVATION_M, mask_deg=40.0)
    f40 = plan40.site_visible.mean()
    report_measured(f"relay: visible {100 * f40:.2f} % of the year with a 40 deg mask")
    assert 0.05 < f40 < 0.95
    assert f40 == pytest.approx(np.mean(plan.relay_el_deg > 40.0))
    # ground: the relay is seen by at least one station most of the time, never through the Moon
    g = (plan.ground_station >= 0).mean()
    assert 0.9 < g < 1.0
    assert set(np.unique(plan.ground_rate_bps)) <= {0.0, 1e6, 2e6, 4e6, 10e6}
    assert np.all(plan.lander_rate_bps[plan.site_visible] > 0)


def test_relay_distances_match_press_figures(placed_year):
    """Queqiao "about 65,000 km from the Moon" and "about 455,000 km from the Earth" (Xinhua;
    docs/references.md 5): the placed orbit's mean distances over a year are within 5 % of both."""
    t = np.arange(0.0, YEAR_S, 3600.0)
    pos = placed_year.positions(t)
    d_moon = np.linalg.norm(pos["r_moon_me"], axis=1) / 1e3
    d_earth = np.linalg.norm(pos["r_moon_me"] - pos["earth_me"], axis=1) / 1e3
    assert d_moon.mean() == pytest.approx(65_000, rel=0.05)
    assert d_earth.mean() == pytest.approx(455_000, rel=0.05)
    # the relay is behind the Moon as seen from the Earth but never occulted by it
    assert not _moon_blocks(pos["r_moon_me"], pos["earth_me"]).any()


def test_station_rotation_matches_direct_ephemeris():
    """The factored Earth-rotation spline reproduces farside.ephemeris.station_position_moon_me
    to better than 5 m at arbitrary instants."""
    from farside.ephemeris import seconds_to_utc, station_position_moon_me

    t = np.array([0.0, 12_345.6, 40 * 86400.0 + 777.0, 3.1e7, 3.2e7])
    earth, m = earth_fixed_to_moon_me(CE4_TOUCHDOWN_UTC, t)
    st = DEFAULT_STATIONS[2]
    p = earth + m @ _geodetic_to_itrs(st.lat_deg, st.lon_deg, st.height_m)[0]
    direct = station_position_moon_me(st.lat_deg, st.lon_deg, st.height_m, seconds_to_utc(CE4_TOUCHDOWN_UTC, t, places=6))
    assert np.max(np.linalg.norm(p - direct, axis=1)) < 5.0


def test_windows():
    t = np.arange(10) * 60.0
    f = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 1], bool)
    assert windows(t, f) == [(60.0, 180.0), (300.0, 480.0), (540.0, 600.0)]
