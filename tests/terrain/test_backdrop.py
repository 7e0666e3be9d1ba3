"""The regional backdrop: the Moon's curvature (analytic), the site inside it (block mean), the
blend at the footprint's edge, determinism and input checks."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from farside.constants import MOON_RADIUS_M
from farside.errors import FarsideError
from farside.terrain import (
    Terrain,
    backdrop_elevation,
    enu_z_to_sphere_height,
    generate_site,
    regional_backdrop,
    sphere_drop_m,
    sphere_height_to_enu_z,
)

R = MOON_RADIUS_M
#: float32 heights of ~6-8 km carry ~0.5 mm rounding; the tests allow 2 mm
FLOAT32_TOL_M = 2e-3


@functools.lru_cache(maxsize=1)
def _site() -> Terrain:
    """1 km CE-4-like site: 256 px at 4 m (a 64 m backdrop cell holds exactly 16 x 16 site pixels)."""
    return generate_site(256, 4.0, rng=11).terrain


@functools.lru_cache(maxsize=4)
def _backdrop(curvature: bool = True, seed: int = 5) -> Terrain:
    # 1024 px at 64 m = 65.5 km square centred on the site origin (corners at 46 km)
    return regional_backdrop(_site(), size_px=1024, resolution_m=64.0, rng=seed, curvature=curvature)


def test_sphere_drop_analytic():
    """R - sqrt(R^2 - r^2) for R = 1737.4 km (docs/references.md 7.5): 719.6 m at 50 km, 1842.8 m at 80 km."""
    r = np.array([0.0, 1_000.0, 50_000.0, 80_000.0, 167_000.0])
    exact = np.array([R - math.sqrt(R * R - x * x) for x in r])
    np.testing.assert_allclose(sphere_drop_m(r), exact, rtol=0, atol=1e-6)
    assert sphere_drop_m(50_000.0) == pytest.approx(719.6, abs=0.05)
    assert sphere_drop_m(80_000.0) == pytest.approx(1842.8, abs=0.05)
    # exact ENU z of a point at height h: on the sphere of radius R + h
    h, x, y = -5935.0, 30_000.0, -40_000.0
    z = float(sphere_height_to_enu_z(h, x, y))
    assert math.sqrt(x * x + y * y + (R + z) ** 2) - R == pytest.approx(h, abs=1e-6)
    assert float(enu_z_to_sphere_height(z, x, y)) == pytest.approx(h, abs=1e-6)


def test_curvature_is_applied_exactly():
    """Every backdrop vertex lies on the sphere of radius R + h, h its height in the flat backdrop
    (same seed), to float32 rounding; at 30 km from the site the ground is ~259 m lower."""
    curved, flat = _backdrop(True), _backdrop(False)
    x = curved.x_m[None, :]
    y = curved.y_m[:, None]
    radius = np.sqrt(x * x + y * y + (R + curved.heights.astype(np.float64)) ** 2)
    np.testing.assert_allclose(radius - R, flat.heights, rtol=0, atol=FLOAT32_TOL_M)
    j = int(np.argmin(np.abs(curved.x_m - 30_000.0)))
    i = int(np.argmin(np.abs(curved.y_m)))
    r = math.hypot(curved.x_m[j], curved.y_m[i])
    drop = float(flat.heights[i, j]) - float(curved.heights[i, j])
    # R - sqrt(R^2 - r^2) to within the height term h r^2 / R^2 (~1.8 m here)
    assert drop == pytest.approx(R - math.sqrt(R * R - r * r), abs=2.0)
    np.testing.assert_allclose(backdrop_elevation(curved).heights, flat.heights, rtol=0, atol=FLOAT32_TOL_M)


def test_site_block_mean_inside_footprint():
    """Inside the site's footprint the backdrop holds the site's 16 x 16-pixel block means
    (to float32 rounding, after removing the curvature)."""
    site = _site()
    bd = _backdrop(True)
    h_site = site.heights.astype(np.float64)
    blocks = h_site.reshape(16, 16, 16, 16).mean(axis=(1, 3))
    r0, c0 = bd.xy_to_ij(site.x0_m + 32.0, site.y0_m - 32.0)          # centre of the first block
    r0, c0 = int(round(float(r0))), int(round(float(c0)))
    z = bd.heights[r0:r0 + 16, c0:c0 + 16]
    h = enu_z_to_sphere_height(z, bd.x_m[None, c0:c0 + 16], bd.y_m[r0:r0 + 16, None])
    np.testing.assert_allclose(h, blocks, rtol=0, atol=FLOAT32_TOL_M)
    assert bd.meta["site_cells"] == 256


def _edge_steps(h, r0, c0, k):
    """Height steps between the footprint's edge cells and their outside neighbours."""
    return np.concatenate([h[r0, c0:c0 + k] - h[r0 - 1, c0:c0 + k], h[r0 + k - 1, c0:c0 + k] - h[r0 + k, c0:c0 + k],
                           h[r0:r0 + k, c0] - h[r0:r0 + k, c0 - 1], h[r0:r0 + k, c0 + k - 1] - h[r0:r0 + k, c0 + k]])


def test_no_cliff_at_the_footprint_edge():
    """A site tilted +-100 m between its west and east edges (mean level unchanged) joins the
    procedural relief without a cliff: the step from the site's edge cells to the first cells
    outside is no larger than the terrain's own steps between neighbouring cells (99.9th
    percentile over the backdrop); beyond the blend band (1 km, plus the 3-sigma reach of its
    low-pass) the surface is exactly the backdrop of the untilted site."""
    site = _site()
    tilt = site.replace(heights=site.heights + (0.2 * site.x_m[None, :]).astype(np.float32))
    kw = dict(size_px=512, resolution_m=64.0, rng=5, curvature=False, blend_m=1000.0)
    bd = regional_backdrop(tilt, **kw)
    h = bd.heights.astype(np.float64)
    r0, c0 = (int(round(float(v))) for v in bd.xy_to_ij(site.x0_m + 32.0, site.y0_m - 32.0))
    steps = np.abs(_edge_steps(h, r0, c0, 16))
    own = np.quantile(np.abs(np.concatenate([np.diff(h, axis=0).ravel(), np.diff(h, axis=1).ravel()])), 0.999)
    assert steps.max() <= own, (steps.max(), own)
    ref = regional_backdrop(site, **kw).heights.astype(np.float64)
    xx, yy = np.meshgrid(bd.x_m, bd.y_m)
    far = np.maximum(np.abs(xx), np.abs(yy)) > 500.0 + 2_100.0
    np.testing.assert_allclose(h[far], ref[far], rtol=0, atol=FLOAT32_TOL_M)
    # the east edge is 100 m up, and the step between the site's edge and the procedural level
    # far out is spread over the band (no slope steeper than the tilt's own 11.3 deg plus relief)
    east = h[r0:r0 + 16, c0 + 16:c0 + 16 + 20]
    assert float(np.mean(east[:, 0] - ref[r0:r0 + 16, c0 + 16])) > 80.0
    slope_deg = np.degrees(np.arctan(np.abs(np.diff(east, axis=1)) / 64.0))
    ref_slope = np.degrees(np.arctan(np.abs(np.diff(ref[r0:r0 + 16, c0 + 16:c0 + 36], axis=1)) / 64.0))
    assert slope_deg.max() <= 11.3 + ref_slope.max()


def test_relief_is_cratered_and_rock_free():
    """Craters from 2 px (128 m) up to km size; no rocks; deterministic for a seed."""
    bd = _backdrop(True)
    assert bd.meta["craters"] > 1000 and bd.meta["rock_abundance"] == 0.0 and bd.meta["ejecta_rock_abundance"] == 0.0
    assert bd.meta["min_crater_diameter_m"] == 128.0
    again = regional_backdrop(_site(), size_px=1024, resolution_m=64.0, rng=5)
    assert np.array_equal(again.heights, bd.heights)
    assert not np.array_equal(_backdrop(True, seed=6).heights, bd.heights)


def test_centre_and_georeference():
    bd = regional_backdrop(_site(), size_px=64, resolution_m=256.0, rng=1, center_enu_m=(1000.0, -20000.0))
    x0, x1, y0, y1 = bd.extent_m
    assert (x0 + x1) / 2 == pytest.approx(1000.0) and (y0 + y1) / 2 == pytest.approx(-20000.0)
    assert bd.width_m == pytest.approx(64 * 256.0)
    assert (bd.anchor_lat_deg, bd.anchor_lon_deg) == (_site().anchor_lat_deg, _site().anchor_lon_deg)


@pytest.mark.parametrize("kw, name", [
    (dict(size_px=8), "size_px"),
    (dict(size_px=True), "size_px"),
    (dict(resolution_m=1.0), "resolution_m"),            # finer than the 4 m site
    (dict(resolution_m=float("nan")), "resolution_m"),
    (dict(center_enu_m=(0.0, float("nan"))), "center_enu_m"),
    (dict(center_enu_m="here"), "center_enu_m"),
    (dict(blend_m=0.0), "blend_m"),
    (dict(size_px=6000, resolution_m=300.0), "size_px"),   # 1,800 km: beyond a tangent-plane grid
    (dict(size_px=7000), "size_px"),                       # working memory over the 2 GiB budget
    (dict(rock_abundance=0.1), "generator_options"),
])
def test_bad_input_one_line(kw, name):
    args = dict(size_px=64, resolution_m=64.0, rng=1) | kw
    with pytest.raises(FarsideError, match=rf"^{name} = .* is invalid: ") as e:
        regional_backdrop(_site(), **args)
    assert "\n" not in str(e.value)
