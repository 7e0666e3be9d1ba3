"""The one surface model (farside.terrain.surface): the height every part of farside samples is
the triangle mesh the renderer traces."""

from __future__ import annotations

import numpy as np
import pytest

from farside.terrain import Terrain
from farside.terrain.surface import surface_heights


def _terrain(h, res=0.5):
    h = np.asarray(h, dtype=np.float64)
    return Terrain(heights=h, resolution_m=res, x0_m=-0.5 * res * h.shape[1], y0_m=0.5 * res * h.shape[0])


def test_plane_is_reproduced_exactly():
    """A tilted plane is its own triangle mesh: every interpolated height is the plane's (analytic)."""
    res = 0.5
    n = 40
    jj, ii = np.meshgrid(np.arange(n), np.arange(n))
    ter = _terrain(0.3 * jj * res - 0.7 * ii * res + 5.0, res)
    rng = np.random.default_rng(0)
    x = rng.uniform(ter.x0_m + 0.5 * res, ter.x0_m + (n - 0.5) * res, 500)
    y = rng.uniform(ter.y0_m - (n - 0.5) * res, ter.y0_m - 0.5 * res, 500)
    col = (x - ter.x0_m) / res - 0.5
    row = (ter.y0_m - y) / res - 0.5
    assert np.allclose(ter.height_at(x, y), 0.3 * col * res - 0.7 * row * res + 5.0, atol=2e-5)   # float32 vertices


def test_saddle_cell_is_split_along_the_main_diagonal():
    """In a saddle cell (h00 = h11 = 0, h01 = h10 = 1) the bilinear patch is 0.5 at the centre; the
    mesh, split from (r, c) to (r+1, c+1), is 0 there (on the diagonal) and rises linearly to 1 at
    the off-diagonal corners."""
    ter = _terrain([[0.0, 1.0], [1.0, 0.0]], res=1.0)
    cx, cy = ter.x0_m + 1.0, ter.y0_m - 1.0            # the cell's centre
    assert ter.height_at(cx, cy) == pytest.approx(0.0, abs=1e-15)
    assert ter.height_at(cx + 0.25, cy + 0.25) == pytest.approx(0.5, abs=1e-12)   # towards (r, c+1)
    assert ter.height_at(cx - 0.25, cy - 0.25) == pytest.approx(0.5, abs=1e-12)   # towards (r+1, c)


def test_heights_match_the_rendered_surface():
    """Second method: the renderer's ray caster (its own segment-plane intersection) hits a rough
    DEM at 3-D points whose z the surface model reproduces at their (x, y) to 1e-6 m -- the
    lander, the lidar, the horizon and the wheels stand on the ground the camera sees."""
    from farside.render import lcam, render

    rng = np.random.default_rng(3)
    n = 257
    h = np.cumsum(np.cumsum(rng.normal(0, 0.05, (n, n)), 0), 1)
    h -= h.mean()
    ter = _terrain(h, 0.5)
    cam = lcam(position_enu=(3.0, -2.0, 60.0))
    fr = render(ter, cam, sun_dir_enu=np.array([0.3, 0.2, 0.93]) / np.linalg.norm([0.3, 0.2, 0.93]),
                photometry="lambert", shadows="none", layers="all")
    pts = fr.points_enu.reshape(-1, 3)
    ok = np.isfinite(pts).all(axis=1)
    assert ok.sum() > 100_000
    p = pts[ok]
    z = surface_heights(ter.heights, ter.x0_m, ter.y0_m, ter.resolution_m, p[:, 0], p[:, 1])
    assert np.max(np.abs(z - p[:, 2])) < 1e-6
    # the bilinear patch (the old samplers) is a different surface here: centimetres apart
    from scipy.interpolate import RegularGridInterpolator

    rows = np.arange(n)
    bil = RegularGridInterpolator((rows, rows), h)
    col = (p[:, 0] - ter.x0_m) / 0.5 - 0.5
    row = (ter.y0_m - p[:, 1]) / 0.5 - 0.5
    assert np.max(np.abs(bil(np.stack([row, col], -1)) - p[:, 2])) > 1e-3


def test_height_at_broadcasts_and_clamps():
    ter = _terrain(np.arange(16.0).reshape(4, 4), 1.0)
    out = ter.height_at(np.zeros((2, 3)), np.zeros((1, 3)))
    assert out.shape == (2, 3)
    # far outside: the nearest edge vertex's value
    assert ter.height_at(-100.0, 100.0) == pytest.approx(0.0)
    assert ter.height_at(100.0, -100.0) == pytest.approx(15.0)
