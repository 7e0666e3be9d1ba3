"""Terrain horizon by heightfield marching, against analytic geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.comms import horizon_elevation
from farside.errors import ScenarioError
from farside.terrain import Terrain


def _terrain(h):
    return Terrain(h.astype(np.float32), 1.0, x0_m=-100.0, y0_m=100.0, anchor_lat_deg=-45.0, anchor_lon_deg=177.0)


def test_flat_plane_horizon_is_the_curvature_dip():
    """On a flat raster the horizon is the sphere's dip: from height h the last sample at distance
    d lies d^2/(2R) + h below the eye, at angle atan(-(h + d^2/2R)/d) (negative, tiny)."""
    t = _terrain(np.zeros((200, 200)))
    prof = horizon_elevation(t, 0.0, 0.0, [0.0, 90.0], observer_height_m=1.5)
    assert np.all(prof.elevation_deg < 0)
    # the highest sample is the farthest one inside the raster along north (~100 m)
    d = 99.5
    expect = math.degrees(math.atan2(-1.5 - d * d / (2 * 1_737_400.0), d))
    assert prof.elevation_deg[0] == pytest.approx(expect, abs=0.02)


def test_wall_gives_its_angle():
    """A 10 m wall two pixels thick east of x = 50 m: with bilinear heights its top starts at the
    first pixel centre, 50.5 m, so the horizon is atan((10 - 1.5) / 50.5) = 9.55 deg to the east,
    nothing to the west."""
    h = np.zeros((200, 200))
    x = -100 + np.arange(200) + 0.5
    h[:, (x >= 50) & (x < 52)] = 10.0
    t = _terrain(h)
    prof = horizon_elevation(t, 0.0, 0.0, [90.0, 270.0], observer_height_m=1.5, step_m=0.1)
    assert prof.elevation_deg[0] == pytest.approx(math.degrees(math.atan2(8.5, 50.5)), abs=0.02)
    assert prof.elevation_deg[1] < 0.1
    assert prof.at([90.0])[0] == pytest.approx(prof.elevation_deg[0])


def test_cone_pit_matches_slope():
    """Inside a conical pit with 20 deg walls (observer at the centre, eye at the floor), the
    horizon is the rim: atan(rise / run) ~ 20 deg at every azimuth."""
    yy, xx = np.mgrid[0:200, 0:200]
    xc, yc = -100 + xx + 0.5, 100 - yy - 0.5
    r = np.hypot(xc, yc)
    h = np.minimum(r, 80.0) * math.tan(math.radians(20.0))
    t = _terrain(h)
    prof = horizon_elevation(t, 0.0, 0.0, np.arange(0, 360, 45.0), observer_height_m=0.0)
    assert np.all(np.abs(prof.elevation_deg - 20.0) < 0.5)


def test_bad_inputs():
    t = Terrain(np.zeros((20, 20), np.float32), 1.0, x0_m=-10.0, y0_m=10.0)
    with pytest.raises(ScenarioError, match="x_m"):
        horizon_elevation(t, 1e6, 0.0)
    with pytest.raises(ScenarioError, match="azimuths_deg"):
        horizon_elevation(t, 0.0, 0.0, [float("nan")])
    with pytest.raises(ScenarioError, match="terrain"):
        horizon_elevation(np.zeros((3, 3)), 0.0, 0.0)
