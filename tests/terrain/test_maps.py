"""Derived maps (farside.terrain.maps) against analytic surfaces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import ScenarioError
from farside.terrain import (
    LANDER_LIMITS,
    ROVER_LIMITS,
    Terrain,
    aspect_deg,
    hazard_mask,
    protrusion_m,
    roughness_m,
    slope_deg,
)


def _plane(slope, azimuth_down_deg, shape=(240, 320), res=0.5, z0=-5935.0):
    """A tilted plane falling towards ``azimuth_down_deg`` (from north through east)."""
    rows, cols = shape
    x = (np.arange(cols) + 0.5) * res
    y = -(np.arange(rows) + 0.5) * res
    X, Y = np.meshgrid(x, y)
    a = math.radians(azimuth_down_deg)
    h = z0 - math.tan(math.radians(slope)) * (X * math.sin(a) + Y * math.cos(a))
    return Terrain(h.astype(np.float32), res)


@pytest.mark.parametrize("slope,az", [(0.5, 10.0), (7.3, 123.0), (20.0, 250.0), (35.0, 300.0)])
def test_tilted_plane_slope_within_0p01_deg(slope, az):
    """Analytic: a plane has the same slope everywhere. Heights are float32 at -5.9 km (0.5 mm
    quantisation), so a 10 m baseline keeps the error under the issue's 0.01 deg."""
    t = _plane(slope, az)
    s = slope_deg(t, baseline_m=10.0)
    assert np.max(np.abs(s - slope)) < 0.01
    asp = aspect_deg(t, baseline_m=10.0)
    # aspect error ~ gradient error / gradient: 1e-4 (quantisation over 10 m) / tan(slope)
    tol_az = math.degrees(1e-4 / math.tan(math.radians(slope))) + 0.01
    assert np.max(np.abs((asp - az + 180) % 360 - 180)) < tol_az


def test_plane_has_no_roughness_or_protrusion_and_no_hazard_below_limit():
    t = _plane(7.0, 45.0)
    assert float(roughness_m(t, baseline_m=3.0).max()) < 2e-3
    assert float(np.abs(protrusion_m(t, baseline_m=3.0)).max()) < 2e-3
    assert not hazard_mask(t, limits=ROVER_LIMITS).any()
    assert not hazard_mask(t, limits=LANDER_LIMITS).any()  # 7 deg < 8 deg assumption
    assert hazard_mask(_plane(21.0, 45.0), limits=ROVER_LIMITS).all()  # Yutu-2: 20 deg (docs/references.md 3)


def test_box_rock_is_an_obstacle():
    """A 0.25 m high, 1 m box on flat ground exceeds the 0.20 m obstacle limit (docs/references.md 2.4, 3)."""
    h = np.full((100, 100), -5935.0, np.float32)
    h[48:50, 48:50] += 0.25
    t = Terrain(h, 0.5)
    m = hazard_mask(t, limits=ROVER_LIMITS)
    assert m[48, 48] and m[49, 49]
    assert not m[10, 10]
    assert float(protrusion_m(t, baseline_m=4.0)[48, 48]) > 0.2


def test_table_rocks_count():
    import pandas as pd

    t = _plane(0.0, 0.0, shape=(40, 40))
    rocks = pd.DataFrame({"x_m": [5.1], "y_m": [-5.1], "diameter_m": [0.3], "height_m": [0.21]})
    m = hazard_mask(t, limits=ROVER_LIMITS, rocks=rocks)
    r, c = t.xy_to_ij(5.1, -5.1)
    assert m[int(round(float(r))), int(round(float(c)))] and m.sum() < 40


def test_bad_limits():
    t = _plane(1.0, 0.0, shape=(20, 20))
    with pytest.raises(ScenarioError, match=r"max_slope_deg = nan is invalid"):
        hazard_mask(t, max_slope_deg=float("nan"), max_obstacle_m=0.2, baseline_m=1.0)
    with pytest.raises(ScenarioError, match=r"baseline_m = -2 is invalid"):
        slope_deg(t, baseline_m=-2)


@pytest.mark.parametrize(("slope_deg", "aspect_deg"), [(0.0, 0.0), (10.0, 90.0), (25.0, 200.0), (40.0, 315.0)])
def test_hillshade_of_a_plane_is_the_cosine_of_the_incidence(slope_deg, aspect_deg):
    """On a plane of slope s facing azimuth a (downslope direction), a Lambertian hillshade under a
    Sun at elevation e, azimuth A is cos(i) = sin(e) cos(s) + cos(e) sin(s) cos(A - a) (e.g. ESRI's
    hillshade formula with zenith 90 - e), clipped at 0."""
    from farside.terrain.maps import hillshade

    n, res = 64, 2.0
    x = (np.arange(n) + 0.5) * res
    xx, yy = np.meshgrid(x, -x)
    t = math.tan(math.radians(slope_deg))
    a = math.radians(aspect_deg)
    h = -t * (xx * math.sin(a) + yy * math.cos(a))           # falls toward azimuth a
    ter = Terrain(h.astype(np.float64), res, x0_m=0.0, y0_m=0.0)
    for az, el in ((315.0, 45.0), (120.0, 15.0), (200.0, 60.0)):
        hs = hillshade(ter, sun_azimuth_deg=az, sun_elevation_deg=el)
        e, s, A = math.radians(el), math.radians(slope_deg), math.radians(az)
        want = max(0.0, math.sin(e) * math.cos(s) + math.cos(e) * math.sin(s) * math.cos(A - a))
        np.testing.assert_allclose(hs[2:-2, 2:-2], want, atol=2e-6)
