"""Procedural site generation (farside.terrain.generate_site) and fractal roughness."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from farside.constants import CE4_ELEVATION_M, CE4_LAT_DEG, CE4_LON_DEG
from farside.errors import ScenarioError
from farside.terrain import Site, Terrain, chang_e4_site, fractal_roughness, generate_site
from farside.terrain.generate import estimate_site_bytes
from farside.terrain.roughness import allan_deviation
from tests.terrain._generated import CE4_RES_M, CE4_SIZE_PX, ce4_site


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_same_seed_same_bytes_different_seed_different():
    a = generate_site(256, 1.0, rng=7)
    b = generate_site(256, 1.0, rng=7)
    c = generate_site(256, 1.0, rng=8)
    assert _sha(a.terrain.heights) == _sha(b.terrain.heights)
    assert a.craters.equals(b.craters) and a.rocks.equals(b.rocks)
    assert _sha(a.terrain.heights) != _sha(c.terrain.heights)
    assert np.abs(a.terrain.heights - c.terrain.heights).max() > 0.1
    # a Generator seed is accepted and is reproducible from the same state
    g1 = generate_site(64, 1.0, rng=np.random.default_rng(3))
    g2 = generate_site(64, 1.0, rng=np.random.default_rng(3))
    assert _sha(g1.terrain.heights) == _sha(g2.terrain.heights)


def test_component_streams_are_independent():
    """Child streams per component (SeedSequence.spawn): rock or roughness parameters never change
    the crater draws, and crater parameters never change the background rocks."""
    base = generate_site(256, 1.0, rng=4)
    more_rocks = generate_site(256, 1.0, rng=4, rock_abundance=0.05, roughness_rms_m=0.1)
    assert base.craters.equals(more_rocks.craters)
    fewer_craters = generate_site(256, 1.0, rng=4, min_crater_diameter_m=10.0)
    bg = lambda s: s.rocks[s.rocks["source"] == "background"].reset_index(drop=True)  # noqa: E731
    assert bg(base).equals(bg(fewer_craters))


def test_site_geometry_and_defaults():
    s = generate_site(128, 0.5, rng=1)
    assert isinstance(s, Site) and isinstance(s.terrain, Terrain)
    t = s.terrain
    assert t.heights.dtype == np.float32 and t.shape == (128, 128)
    assert t.extent_m == pytest.approx((-32.0, 32.0, -32.0, 32.0))  # centred on the ENU origin
    assert (t.anchor_lat_deg, t.anchor_lon_deg) == (CE4_LAT_DEG, CE4_LON_DEG)
    # the Chang'e-4 floor at about -5.93 km (docs/references.md 1.3; constants.CE4_ELEVATION_M)
    assert np.median(t.heights) == pytest.approx(CE4_ELEVATION_M, abs=5.0)
    assert s.params["age_gyr"] == 3.25 and s.params["rock_abundance"] == 0.0021
    for col in ("x_m", "y_m", "diameter_m", "depth_m"):
        assert col in s.craters
    for col in ("x_m", "y_m", "diameter_m", "height_m"):
        assert col in s.rocks
    d = chang_e4_site(64, 1.0, rng=1)
    assert d.params["size_px"] == 64


def test_regional_slope_and_azimuth():
    """A 3 deg regional slope dipping toward azimuth 120 deg (clockwise from north): the DEM minus
    the level DEM of the same seed is that plane (slope within 0.01 deg, azimuth within 0.1 deg),
    zero at the site origin."""
    tilted = generate_site(512, 2.0, rng=9, regional_slope_deg=3.0, regional_slope_azimuth_deg=120.0)
    level = generate_site(512, 2.0, rng=9)
    t = tilted.terrain
    d = t.heights.astype(float) - level.terrain.heights.astype(float)
    X, Y = np.meshgrid(t.x_m, t.y_m)
    A = np.column_stack([X.ravel(), Y.ravel(), np.ones(X.size)])
    (gx, gy, c0), *_ = np.linalg.lstsq(A, d.ravel(), rcond=None)
    assert math.degrees(math.atan(math.hypot(gx, gy))) == pytest.approx(3.0, abs=0.01)
    downhill_az = math.degrees(math.atan2(-gx, -gy)) % 360.0
    assert downhill_az == pytest.approx(120.0, abs=0.1)
    assert abs(c0) < 0.01
    assert np.abs(d.ravel() - A @ np.array([gx, gy, c0])).max() < 0.01  # float32 rounding only
    # craters and rocks are the same draws
    assert tilted.craters.equals(level.craters)


def test_fractal_roughness_scaling():
    """Self-affine roughness: the RMS height difference follows nu(L) = nu0 (L/L0)^H. With
    H = 0.8 and nu0 = 0.05 m at L0 = 1 m on a 0.5 m grid, the one-pixel value is exact, the
    structure-function slope over 1-32 px is 0.8 +- 0.05, and the radially averaged power spectrum
    falls as f^-(2+2H) = f^-3.6 within +- 0.15."""
    rng = np.random.default_rng(0)
    z = fractal_roughness((1024, 1024), 0.5, rng=rng, hurst=0.8, rms_m=0.05, baseline_m=1.0)
    assert allan_deviation(z, 1) == pytest.approx(0.05 * 0.5 ** 0.8, rel=1e-5)
    assert abs(z.mean(dtype=np.float64)) < 1e-6
    lags = np.array([1, 2, 4, 8, 16, 32])
    nu = np.array([allan_deviation(z, int(k)) for k in lags])
    slope = np.polyfit(np.log(lags), np.log(nu), 1)[0]
    assert slope == pytest.approx(0.8, abs=0.05)
    # at 1 m (2 px) the RMS height difference is the requested 0.05 m within a few percent
    assert nu[1] == pytest.approx(0.05, rel=0.05)
    p = np.abs(np.fft.rfft2(z)) ** 2
    fy = np.fft.fftfreq(1024)[:, None]
    fx = np.fft.rfftfreq(1024)[None, :]
    f = np.hypot(fy, fx).ravel()
    edges = np.geomspace(4 / 1024, 0.25, 12)
    k = np.digitize(f, edges)
    fm = [f[k == i].mean() for i in range(1, len(edges))]
    pm = [p.ravel()[k == i].mean() for i in range(1, len(edges))]
    beta = -np.polyfit(np.log(fm), np.log(pm), 1)[0]
    assert beta == pytest.approx(3.6, abs=0.15)


@pytest.mark.slow
def test_default_site_statistics():
    """The 4.2 km^2 CE-4 site: a level floor at -5935 m with its crater relief; slopes mostly
    below 5 deg at the 37 m baseline of Guo et al. 2019 (docs/references.md 1.3)."""
    s = ce4_site()
    t = s.terrain
    assert t.shape == (CE4_SIZE_PX, CE4_SIZE_PX) and t.resolution_m == CE4_RES_M
    assert np.isfinite(t.heights).all()
    step = 37
    h = t.heights.astype(float)
    gx = (h[:, step:] - h[:, :-step])[:-step, :] / step
    gy = (h[step:, :] - h[:-step, :])[:, :-step] / step
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    assert np.mean(slope < 5.0) > 0.75


def test_memory_estimate_and_budget():
    assert estimate_site_bytes(4096) < 2 * 1024 ** 3  # the benchmark size fits the 2 GB target
    with pytest.raises(ScenarioError, match="size_px = 20000 is invalid"):
        generate_site(20000, 1.0, rng=0)
    with pytest.raises(ScenarioError, match="max_memory_bytes"):
        generate_site(1024, 1.0, rng=0, max_memory_bytes=1e6)


@pytest.mark.parametrize("args, kwargs, name", [
    ((15, 1.0), {}, "size_px"),
    ((64.0, 1.0), {}, "size_px"),
    ((64, 0.0), {}, "resolution_m"),
    ((64, -1.0), {}, "resolution_m"),
    ((64, float("nan")), {}, "resolution_m"),
    ((64, 1.0), {"age_gyr": 0.0}, "age_gyr"),
    ((64, 1.0), {"age_gyr": 4.6}, "age_gyr"),
    ((64, 1.0), {"age_gyr": float("nan")}, "age_gyr"),
    ((64, 1.0), {"rock_abundance": 1.0}, "rock_abundance"),
    ((64, 1.0), {"rock_abundance": -0.01}, "rock_abundance"),
    ((64, 1.0), {"rock_abundance": float("nan")}, "rock_abundance"),
    ((64, 1.0), {"elevation_m": float("nan")}, "elevation_m"),
    ((64, 1.0), {"regional_slope_deg": float("inf")}, "regional_slope_deg"),
    ((64, 1.0), {"regional_slope_azimuth_deg": float("nan")}, "regional_slope_azimuth_deg"),
    ((64, 1.0), {"roughness_hurst": 1.0}, "roughness_hurst"),
    ((64, 1.0), {"min_crater_diameter_m": 10.0, "max_crater_diameter_m": 5.0}, "max_crater_diameter_m"),
    ((64, 1.0), {"rng": -1}, "rng"),
    ((64, 1.0), {"rng": "abc"}, "rng"),
])
def test_bad_input_one_line_errors(args, kwargs, name):
    kwargs = {"rng": 0, **kwargs}
    with pytest.raises(ScenarioError) as e:
        generate_site(*args, **kwargs)
    msg = str(e.value)
    assert msg.startswith(f"{name} = ") and "is invalid" in msg and "\n" not in msg
