"""Descent stage: the backdrop's extent from the LCAM poses (analytic sphere geometry) and its
configuration keys."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from farside.constants import MOON_RADIUS_M
from farside.mission.stages.descent import DescentConfig, _lcam_ground_extent
from farside.render import lcam, nadir_rotation, pan_tilt_rotation

R = MOON_RADIUS_M
GROUND = -5935.0


def _first_hit_x(z_cam: float, alpha: float) -> float:
    """Horizontal distance at which a ray from (0, 0, z_cam), alpha from the nadir, first meets
    the sphere of radius R + GROUND (law of cosines in the plane of the ray and the Moon's centre)."""
    rc, rg = R + z_cam, R + GROUND
    t = rc * math.cos(alpha) - math.sqrt(rg * rg - (rc * math.sin(alpha)) ** 2)
    return t * math.sin(alpha)


def test_nadir_footprint_on_the_sphere():
    """A nadir LCAM 8 km up sees a square whose half-widths are the first sphere intersections of
    its border rays (the outer pixel edges, -0.5 and width - 0.5), to 1 mm."""
    cam = lcam()
    z = GROUND + 8000.0
    ext = _lcam_ground_extent(np.array([[0.0, 0.0, z]]), nadir_rotation(0.0)[None], cam, GROUND)
    # heading 0: image x (columns) points east, image y (rows) south (so +tan(a_y) is south, and
    # corner() returns (east, south) components)
    a_w = math.atan((cam.cx_px + 0.5) / cam.fx_px)
    a_e = math.atan((cam.width_px - 0.5 - cam.cx_px) / cam.fx_px)
    a_n = math.atan((cam.cy_px + 0.5) / cam.fy_px)
    a_s = math.atan((cam.height_px - 0.5 - cam.cy_px) / cam.fy_px)
    # the corner rays reach further along each axis than the edge midpoints: project the corner
    # direction onto the axis (x = t d_x with d = (tan a_x, tan a_y, -1) normalised)
    def corner(ax, ay):
        d = np.array([math.tan(ax), math.tan(ay), -1.0])
        d /= np.linalg.norm(d)
        alpha = math.acos(-d[2])
        return _first_hit_x(z, alpha) / math.sin(alpha) * d[:2]
    # each extreme is reached at the corner whose other angle is the larger (the ray goes further)
    a_x, a_y = max(a_w, a_e), max(a_n, a_s)
    want = (-corner(a_w, a_y)[0], corner(a_e, a_y)[0], -corner(a_x, a_s)[1], corner(a_x, a_n)[1])
    np.testing.assert_allclose(ext, want, rtol=0, atol=1e-3)


def test_horizontal_view_reaches_the_horizon():
    """A camera 10 km above the ground looking level sees the ground out to the horizon: the
    tangent point lies sqrt((R+h)^2 - (R+g)^2) * (R+g)/(R+h) away horizontally (~185 km); the
    hit/miss bisection between lattice rays finds it to 100 m (a 33-row lattice alone stops at
    ~120 km: the row below the horizon is 0.7 deg down)."""
    cam = lcam()
    z = GROUND + 10_000.0
    rot = pan_tilt_rotation(math.radians(180.0), 0.0)[None]      # looking south, level
    ext = _lcam_ground_extent(np.array([[0.0, 0.0, z]]), rot, cam, GROUND)
    rc, rg = R + z, R + GROUND
    tangent = math.sqrt(rc * rc - rg * rg) * rg / rc
    assert tangent == pytest.approx(185_000.0, rel=0.02)
    assert -ext[2] <= tangent + 1e-6
    assert -ext[2] > tangent - 100.0
    assert ext[3] < 0.0                                          # all of it to the south


def test_looking_up_sees_no_ground():
    cam = lcam()
    rot = pan_tilt_rotation(0.0, math.radians(60.0))[None]
    assert _lcam_ground_extent(np.array([[0.0, 0.0, 0.0]]), rot, cam, GROUND) is None


@pytest.mark.parametrize("key, value", [
    ("backdrop_resolution_m", 1.0),
    ("backdrop_resolution_m", float("nan")),
    ("backdrop_max_size_px", 10_000),
    ("quick_backdrop_max_size_px", 8),
    ("backdrop_blend_m", 0.0),
    ("backdrop", "yes please"),
    ("backdrop_near_size_px", 10),
    ("backdrop_near_resolution_m", 32.0),          # not finer than the outer 32 m
    ("quick_backdrop_near_resolution_m", 200.0),
])
def test_config_ranges(key, value):
    with pytest.raises(ValidationError):
        DescentConfig(**{key: value})


def test_config_defaults():
    c = DescentConfig()
    assert c.backdrop and c.backdrop_resolution_m == 32.0 and c.quick_backdrop_resolution_m == 128.0
    assert c.backdrop_max_size_px == 6144
    assert (c.backdrop_near_resolution_m, c.backdrop_near_size_px) == (8.0, 4096)
    assert DescentConfig(backdrop_near_size_px=0, backdrop_near_resolution_m=64.0).backdrop_near_size_px == 0
