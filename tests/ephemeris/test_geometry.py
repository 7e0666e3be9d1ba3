"""Sun/Earth geometry at a lunar site and Moon-fixed positions.

References: Chang'e-4 site, Liu J. et al. 2019 (docs/references.md 1.2, farside.constants); Moon orbit
constants, NSSDC Moon Fact Sheet (docs/references.md 7.5); WGS84 ellipsoid (NIMA TR8350.2); IAU 1982
GMST and IAU 1976 precession (Explanatory Supplement to the Astronomical Almanac, 1992).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC, MOON_RADIUS_M
from farside.ephemeris import (
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
    utc_to_seconds,
)
from farside.ephemeris._data import kernel_paths, kernels
from farside.ephemeris.times import to_time



# NAIF leapseconds kernel written from the IERS leap-second table (Bulletin C 1972..2017), so that
# SPICE's UTC -> TDB conversion is independent of skyfield's. DELTET constants: NAIF naif0012.tls.
# (TAI - UTC in seconds, first day it applies), IERS Bulletin C.
LEAP_SECONDS = [
    (10, "1972-JAN-1"), (11, "1972-JUL-1"), (12, "1973-JAN-1"), (13, "1974-JAN-1"), (14, "1975-JAN-1"),
    (15, "1976-JAN-1"), (16, "1977-JAN-1"), (17, "1978-JAN-1"), (18, "1979-JAN-1"), (19, "1980-JAN-1"),
    (20, "1981-JUL-1"), (21, "1982-JUL-1"), (22, "1983-JUL-1"), (23, "1985-JUL-1"), (24, "1988-JAN-1"),
    (25, "1990-JAN-1"), (26, "1991-JAN-1"), (27, "1992-JUL-1"), (28, "1993-JUL-1"), (29, "1994-JUL-1"),
    (30, "1996-JAN-1"), (31, "1997-JUL-1"), (32, "1999-JAN-1"), (33, "2006-JAN-1"), (34, "2009-JAN-1"),
    (35, "2012-JUL-1"), (36, "2015-JUL-1"), (37, "2017-JAN-1"),
]  # fmt: skip


def write_lsk(folder: Path) -> Path:
    rows = "\n".join(f"                           {dat},   @{day}" for dat, day in LEAP_SECONDS)
    text = (
        "KPL/LSK\n\n\\begindata\n\n"
        "DELTET/DELTA_T_A       =   32.184\n"
        "DELTET/K               =    1.657D-3\n"
        "DELTET/EB              =    1.671D-2\n"
        "DELTET/M               = (  6.239996D0   1.99096871D-7 )\n\n"
        f"DELTET/DELTA_AT        = (\n{rows} )\n\n\\begintext\n"
    )
    path = folder / "farside_test.tls"
    path.write_text(text)
    return path


def hourly(start: str, hours: int, step_h: int = 1) -> list[str]:
    """ISO strings built with numpy datetime64 (independent of farside's own formatter)."""
    t = np.datetime64(start) + np.arange(0, hours, step_h).astype("timedelta64[h]")
    return [str(x) + "Z" for x in t.astype("datetime64[s]")]


YEAR_2019 = hourly("2019-01-01T00", 8760)


def test_earth_never_rises_at_change4_for_a_year() -> None:
    """The far-side CE-4 site (Liu et al. 2019) never sees the Earth: 8760 hourly times in one call.

    Geometry: the site is ~134.5 deg from the mean sub-Earth point and optical libration is below
    ~8 deg, so the Earth's centre stays below about -36 deg; its 0.95 deg disc changes nothing.
    """
    alt, az, dist = body_altaz("earth", CE4_LAT_DEG, CE4_LON_DEG, YEAR_2019)
    assert alt.shape == az.shape == dist.shape == (8760,)
    assert np.all(alt < -30.0)
    assert alt.max() == pytest.approx(-37.2, abs=1.0)
    assert np.all((az >= 0.0) & (az < 360.0))
    # Earth-site distance: Earth-Moon centre distance (356,000..407,000 km) +/- the lunar radius.
    assert np.all((dist > 356_000e3) & (dist < 410_000e3))


def test_earth_always_up_at_sub_earth_point() -> None:
    """Control case: at (0, 0) the Earth stays near the zenith; the combined optical libration
    (<= 7.9 deg in longitude, <= 6.7 deg in latitude) and 0.26 deg of parallax keep it above ~79.5 deg."""
    alt, _, _ = body_altaz("earth", 0.0, 0.0, YEAR_2019[::24])
    assert np.all(alt > 79.0)
    assert alt.max() > 88.0


@pytest.fixture(scope="module")
def spice():
    """spiceypy loaded with the same DE421/PCK/FK files and an independent leap-second kernel."""
    sp = pytest.importorskip("spiceypy")
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="farside_spice_"))
    paths = kernel_paths()
    files = [str(write_lsk(folder)), str(paths["de421"]), str(paths["moon_pck"]), str(paths["moon_fk"])]
    for f in files:
        sp.furnsh(f)
    yield sp
    for f in files:
        sp.unload(f)


#: Agreement required between farside (skyfield) and SPICE for apparent elevation/azimuth. 1e-6 deg =
#: 1.7e-8 rad: at the 2.28 km distance of the horizon seen from a 1.5 m mast on the reference sphere
#: that is 0.04 mm of height; 1 m of height at the horizon is 0.025 deg. Measured: <= 2.4e-7 deg.
SPICE_TOL_DEG = 1e-6


@pytest.mark.parametrize("body, target", [("sun", "SUN"), ("earth", "EARTH")])
def test_altaz_agrees_with_spice(spice, body: str, target: str) -> None:
    """Independent computation: SPICE spkcpo, observer fixed on MOON_ME at the CE-4 site, 'CN+S'
    (converged Newtonian light time + stellar aberration), DE421 + moon_pa_de421 PCK + moon_080317 FK.

    Measured: elevation and azimuth within 1.2e-8 deg here (benchmarks/ephemeris.py over all of
    2019: 1.3e-8 deg for the Sun, 2.4e-7 deg for the Earth, where skyfield also applies the Sun's
    gravitational light deflection that 'CN+S' omits), distances within 2.3 mm (Earth) and 4 mm
    (Sun), consistent with the 35 us between SPICE's approximate TDB and skyfield's. SPICE's single-iteration 'LT' correction would differ by up to 4 m in the Earth's
    distance (same direction to 1e-8 deg)."""
    times = hourly("2019-01-03T02", 24 * 30, 5)
    alt, az, dist = body_altaz(body, CE4_LAT_DEG, CE4_LON_DEG, times)
    m = enu_to_moon_me_matrix(CE4_LAT_DEG, CE4_LON_DEG)
    obs_km = m[:, 2] * MOON_RADIUS_M / 1000.0
    alt_ref, az_ref, dist_ref = [], [], []
    for s in times:
        et = spice.str2et(s.rstrip("Z"))
        state, _lt = spice.spkcpo(target, et, "MOON_ME", "OBSERVER", "CN+S", obs_km, "MOON", "MOON_ME")
        r_enu = m.T @ np.asarray(state[:3])
        d = np.linalg.norm(r_enu)
        alt_ref.append(math.degrees(math.asin(r_enu[2] / d)))
        az_ref.append(math.degrees(math.atan2(r_enu[0], r_enu[1])) % 360.0)
        dist_ref.append(d * 1000.0)
    assert np.max(np.abs(alt - np.array(alt_ref))) < SPICE_TOL_DEG
    daz = (az - np.array(az_ref) + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(daz)) < SPICE_TOL_DEG
    # light-time distance: 1e-12 relative (0.15 m at the Sun) + 1 cm
    np.testing.assert_allclose(dist, dist_ref, rtol=1e-12, atol=1e-2)
    # The aberration correction matters at this tolerance: geometric differs by ~4e-3 deg.
    if body == "sun":
        et = spice.str2et(times[0].rstrip("Z"))
        state, _ = spice.spkcpo(target, et, "MOON_ME", "OBSERVER", "NONE", obs_km, "MOON", "MOON_ME")
        r_enu = m.T @ np.asarray(state[:3])
        alt_geo = math.degrees(math.asin(r_enu[2] / np.linalg.norm(r_enu)))
        assert abs(alt_geo - alt[0]) > 100 * SPICE_TOL_DEG


def test_icrf_to_moon_me_matrix_agrees_with_spice(spice) -> None:
    """pxform('J2000', 'MOON_ME') (SPICE's J2000 is the DE421/ICRF axes) to 1e-11 rad per element
    (measured 1.1e-12 over 2019; 1e-11 is 4 mm at the Earth's distance). Also consistent with the
    MOON_ME positions."""
    times = hourly("2019-01-01T00", 24 * 365, 24 * 7)
    m = icrf_to_moon_me_matrix(times)
    assert m.shape == (len(times), 3, 3)
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", m, m), np.broadcast_to(np.eye(3), m.shape), atol=1e-14)
    t = to_time(times)
    for i in range(len(times)):
        et = ((t.whole[i] - 2451545.0) + t.tdb_fraction[i]) * 86400.0  # two-part: full precision
        ref = np.array(spice.pxform("J2000", "MOON_ME", et))
        np.testing.assert_allclose(m[i], ref, rtol=0, atol=1e-11)
    r_icrf, _ = earth_moon_state_icrf(times)
    earth_me = np.einsum("nij,nj->ni", m, -r_icrf)
    np.testing.assert_allclose(earth_me, body_position_moon_me("earth", times), rtol=0, atol=1e-3)


def test_time_conversion_agrees_with_spice(spice) -> None:
    """UTC -> TDB: skyfield's builtin timescale vs SPICE with the IERS leap-second table (< 1 ms;
    SPICE's TDB formula is good to ~30 us)."""
    times = ["1972-07-01T00:00:00Z", "2016-12-31T23:59:59Z", "2017-01-01T00:00:00Z", CE4_TOUCHDOWN_UTC]
    t = to_time(times)
    et_ours = (t.tdb - 2451545.0) * 86400.0
    et_spice = np.array([spice.str2et(s.rstrip("Z")) for s in times])
    assert np.max(np.abs(et_ours - et_spice)) < 1e-3


def test_directions_are_unit_vectors_consistent_with_altaz() -> None:
    times = hourly("2019-01-03T00", 48, 6)
    u = sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, times)
    assert u.shape == (len(times), 3)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    alt, az, _ = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, times)
    np.testing.assert_allclose(np.degrees(np.arcsin(u[:, 2])), alt, atol=1e-9)
    np.testing.assert_allclose(np.degrees(np.arctan2(u[:, 0], u[:, 1])) % 360.0, az, atol=1e-9)
    np.testing.assert_array_equal(u, body_direction_enu("sun", CE4_LAT_DEG, CE4_LON_DEG, times))
    # one string -> a stack of one
    assert sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, times[0]).shape == (1, 3)
    assert body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, times[0])[0].shape == (1,)


def test_touchdown_in_the_lunar_morning_near_perihelion() -> None:
    """CE-4 landed in the local morning of its first lunar day (the rover's midday "nap" because of
    >100 deg C surface temperatures ended ~2019-01-10; docs/references.md 3): Sun up, in the east, still
    rising. Earth was at perihelion on 2019-01-03 05:20 UTC, 0.98330 AU = 1.47098e11 m (USNO), so the
    Sun-site distance is that +/- the Earth-Moon distance (3.8e8 m)."""
    times = [CE4_TOUCHDOWN_UTC, "2019-01-03T03:26:00Z"]
    alt, az, dist = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, times)
    assert 0.0 < alt[0] < 45.0
    assert alt[1] > alt[0]  # still rising an hour later
    assert 0.0 < az[0] < 180.0  # eastern half of the sky
    assert dist[0] == pytest.approx(1.47098e11, abs=4.1e8)


def test_enu_matrix_is_a_proper_rotation() -> None:
    for lat, lon in [(CE4_LAT_DEG, CE4_LON_DEG), (0.0, 0.0), (89.9, -30.0), (-90.0, 10.0)]:
        m = enu_to_moon_me_matrix(lat, lon)
        np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-15)
        assert np.linalg.det(m) == pytest.approx(1.0, abs=1e-15)
    m = enu_to_moon_me_matrix(0.0, 90.0)
    np.testing.assert_allclose(m[:, 0], [-1.0, 0.0, 0.0], atol=1e-15)  # east at lon 90 is -x
    np.testing.assert_allclose(m[:, 1], [0.0, 0.0, 1.0], atol=1e-15)  # north is +z
    np.testing.assert_allclose(m[:, 2], [0.0, 1.0, 0.0], atol=1e-15)  # up is +y
    r = site_position_moon_me(CE4_LAT_DEG, CE4_LON_DEG, -5935.0)
    assert np.linalg.norm(r) == pytest.approx(MOON_RADIUS_M - 5935.0, abs=1e-6)
    assert math.degrees(math.asin(r[2] / np.linalg.norm(r))) == pytest.approx(CE4_LAT_DEG, abs=1e-12)
    assert math.degrees(math.atan2(r[1], r[0])) == pytest.approx(CE4_LON_DEG, abs=1e-12)


def test_topocentric_earth_direction_matches_moon_me_positions() -> None:
    """Site ENU direction of the Earth ~ (Earth_me - site_me) rotated to ENU; the residual is the
    light-time/aberration correction (< 0.01 deg)."""
    times = hourly("2019-03-01T00", 24 * 10, 12)
    u = body_direction_enu("earth", CE4_LAT_DEG, CE4_LON_DEG, times)
    r = body_position_moon_me("earth", times) - site_position_moon_me(CE4_LAT_DEG, CE4_LON_DEG)
    v = r @ enu_to_moon_me_matrix(CE4_LAT_DEG, CE4_LON_DEG)
    v /= np.linalg.norm(v, axis=1)[:, None]
    ang = np.degrees(np.arccos(np.clip(np.sum(u * v, axis=1), -1, 1)))
    assert ang.max() < 0.01


def test_body_state_velocity_is_derivative_of_moon_me_position() -> None:
    """Velocity in the rotating MOON_ME frame vs a central difference of positions (+/-30 s)."""
    base = "2019-01-03T02:26:00Z"
    r, v = body_state_moon_me("sun", [base])
    rm = body_position_moon_me("sun", "2019-01-03T02:25:30Z")
    rp = body_position_moon_me("sun", "2019-01-03T02:26:30Z")
    np.testing.assert_allclose(r, body_position_moon_me("sun", base), rtol=0, atol=1e-3)
    v_fd = (rp - rm) / 60.0
    # Sun sweeps round the Moon-fixed frame at ~1.5e11 m * 2.46e-6 rad/s ~ 370 km/s
    assert np.linalg.norm(v) == pytest.approx(3.7e5, rel=0.05)
    np.testing.assert_allclose(v, v_fd, rtol=0, atol=0.05)  # m/s; curvature error ~ |a| dt^2/6
    r_e, v_e = body_state_moon_me("earth", [base, "2019-06-01T00:00:00Z"])
    assert r_e.shape == v_e.shape == (2, 3)
    # The Earth hangs almost still in the Moon-fixed sky: |v| of order 100 m/s (libration + distance change)
    assert np.all(np.linalg.norm(v_e, axis=1) < 500.0)


def test_earth_moon_state_matches_nssdc_orbit() -> None:
    """NSSDC Moon Fact Sheet (docs/references.md 7.5): a = 384,400 km, perigee/apogee 363,300/405,500 km
    (means; extremes reach ~356,400 / ~406,700 km), i = 5.145 deg to the ecliptic (oscillates
    +/-0.15 deg), mean orbital velocity 1.023 km/s."""
    r, v = earth_moon_state_icrf(YEAR_2019)
    d_km = np.linalg.norm(r, axis=1) / 1000.0
    assert 356_000 < d_km.min() < 363_300
    assert 405_500 < d_km.max() < 407_000
    # time-mean distance of a Kepler orbit = a (1 + e^2/2) = 384,979 km
    assert d_km.mean() == pytest.approx(384_400 * (1 + 0.0549**2 / 2), abs=1_500)
    assert np.linalg.norm(v, axis=1).mean() / 1000.0 == pytest.approx(1.023, abs=0.01)
    eps = math.radians(23.4392911)  # J2000 obliquity: ecliptic pole in ICRF
    n_ecl = np.array([0.0, -math.sin(eps), math.cos(eps)])
    h = np.cross(r, v)
    inc = np.degrees(np.arccos(h @ n_ecl / np.linalg.norm(h, axis=1)))
    assert inc.mean() == pytest.approx(5.145, abs=0.1)
    assert np.all((inc > 4.9) & (inc < 5.4))
    # Consistent with the MOON_ME Earth position: same distance
    e_me = body_position_moon_me("earth", YEAR_2019[:100])
    np.testing.assert_allclose(np.linalg.norm(e_me, axis=1), np.linalg.norm(r[:100], axis=1), rtol=0, atol=1e-3)


def _wgs84_geocentric_radius(lat_deg: float, h_m: float) -> float:
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = math.radians(lat_deg)
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    return math.hypot((n + h_m) * math.cos(phi), (n * (1 - e2) + h_m) * math.sin(phi))


def _rotz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _roty(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def test_ground_station_on_the_rotating_earth() -> None:
    """Kashgar-like station (39.5 N, 76.0 E, 1300 m). Geocentric distance = WGS84 analytic (1 mm).
    Hour angle: right ascension of date (IAU 1976 precession applied to the ICRF vector) = GMST
    (IAU 1982, UT1 ~ UTC) + longitude within 0.02 deg (nutation/equation of the equinoxes
    <= 0.005 deg, |UT1-UTC| < 0.9 s = 0.004 deg); declination = geocentric latitude within 0.02 deg."""
    lat, lon, h = 39.5, 76.0, 1300.0
    times = hourly("2019-01-03T00", 48, 3)
    st = station_position_moon_me(lat, lon, h, times)
    geo_me = st - body_position_moon_me("earth", times)
    np.testing.assert_allclose(np.linalg.norm(geo_me, axis=1), _wgs84_geocentric_radius(lat, h), rtol=0, atol=1e-3)

    t = to_time(times)
    rot = kernels().moon_me.rotation_at(t)  # ICRF -> MOON_ME, (3, 3, N)
    geo_icrf = np.einsum("jin,nj->ni", rot, geo_me)
    jd_utc = np.datetime64("2019-01-03T00") + np.arange(0, 48, 3).astype("timedelta64[h]")
    d_ut = (jd_utc - np.datetime64("2000-01-01T12:00")).astype("timedelta64[s]").astype(float) / 86400.0
    tt_c = (t.tt - 2451545.0) / 36525.0
    for i in range(len(times)):
        tc = tt_c[i]
        zeta = math.radians((2306.2181 * tc + 0.30188 * tc**2) / 3600)
        z = math.radians((2306.2181 * tc + 1.09468 * tc**2) / 3600)
        theta = math.radians((2004.3109 * tc - 0.42665 * tc**2) / 3600)
        p = _rotz(-z) @ _roty(theta) @ _rotz(-zeta)
        x = p @ geo_icrf[i]
        ra = math.degrees(math.atan2(x[1], x[0]))
        dec = math.degrees(math.asin(x[2] / np.linalg.norm(x)))
        tu = d_ut[i] / 36525.0
        gmst = (280.46061837 + 360.98564736629 * d_ut[i] + 0.000387933 * tu**2) % 360.0
        dha = (ra - (gmst + lon) + 180.0) % 360.0 - 180.0
        assert abs(dha) < 0.02
        f = 1 / 298.257223563
        n_ratio = (1 - f) ** 2  # tan(geocentric) = (1-e^2) tan(geodetic) for h << a
        assert dec == pytest.approx(math.degrees(math.atan(n_ratio * math.tan(math.radians(lat)))), abs=0.02)


def test_moon_me_earth_longitude_is_near_zero() -> None:
    """Mean-Earth frame: the sub-Earth point stays within the optical libration (|lon|,|lat| < 8.2 deg)."""
    e = body_position_moon_me("earth", YEAR_2019[::6])
    lon = np.degrees(np.arctan2(e[:, 1], e[:, 0]))
    lat = np.degrees(np.arcsin(e[:, 2] / np.linalg.norm(e, axis=1)))
    assert np.abs(lon).max() < 8.2 and np.abs(lat).max() < 7.0
    assert abs(lon.mean()) < 1.0  # mean-Earth direction by construction


def test_deterministic() -> None:
    a = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, YEAR_2019[:50])
    b = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, YEAR_2019[:50])
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    assert utc_to_seconds(YEAR_2019[0], YEAR_2019[1:3]).tolist() == [3600.0, 7200.0]
