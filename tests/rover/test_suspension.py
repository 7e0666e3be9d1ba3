"""Rocker-bogie suspension, ground under the wheels, turning (farside.rover.suspension).

Every expected value here comes from a hand derivation written in the test's docstring (plane
geometry, the linkage's closed form, the statically determinate load split, the static tip-over
angle), from a brute-force second method, or from the terrain module's own rock stamping. The
rover is :data:`YUTU2` (docs/references.md 3; its linkage dimensions are UNCONFIRMED assumptions,
farside.rover.vehicle): wheels at x = +0.5, 0, -0.5 m, track 1.0 m, wheel radius r = 0.15 m,
rocker pivot at x = 0, 0.45 m above the axles (0.60 m above the ground), bogie pivot at
x = -0.25, 0.30 m above the axles (0.45 m above the ground), centre of mass 0.55 m above the
ground, weight W = 135 kg x 1.62 m/s^2.

DEMs are built near z = 0 so float32 heights resolve micrometres (at -5.9 km they resolve 0.5 mm;
docs/design.md).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from farside.errors import FarsideError
from farside.rover import YUTU2, Pose, RockIndex, ground_height, settle, settle_path, turn_cost
from farside.rover.suspension import static_wheel_loads
from farside.terrain import Terrain
from farside.terrain import _kernels_rockshape as S
from farside.terrain.rocks import rock_shapes, stamp_rocks
from tests.terrain._rockref import ref_rock

W = YUTU2.weight_n


def _grid(res: float, n: int, cx: float = 0.0, cy: float = 0.0):
    x0, y0 = cx - 0.5 * n * res, cy + 0.5 * n * res
    xc = x0 + (np.arange(n) + 0.5) * res
    yc = y0 - (np.arange(n) + 0.5) * res
    X, Y = np.meshgrid(xc, yc)
    return X, Y, x0, y0


def _plane(gx: float, gy: float, *, res: float = 0.05, n: int = 160) -> Terrain:
    """z = gx x + gy y (site ENU), exact under bilinear interpolation."""
    X, Y, x0, y0 = _grid(res, n)
    return Terrain((gx * X + gy * Y).astype(np.float32), res, x0_m=x0, y0_m=y0)


def _slope_along(heading_deg: float, along_deg: float, across_deg: float = 0.0) -> Terrain:
    """A plane rising by ``along_deg`` along the compass heading and ``across_deg`` to its left."""
    h = math.radians(heading_deg)
    fwd = np.array([math.sin(h), math.cos(h)])
    left = np.array([-math.cos(h), math.sin(h)])
    g = math.tan(math.radians(along_deg)) * fwd + math.tan(math.radians(across_deg)) * left
    return _plane(float(g[0]), float(g[1]))


# ---------------------------------------------------------------------------------------------
# the ground
def test_ground_height_without_rocks_is_the_dem_bilinear():
    rng = np.random.default_rng(1)
    t = Terrain(rng.normal(0, 0.3, (40, 50)).astype(np.float32), 0.5, x0_m=-12.0, y0_m=10.0)
    x = rng.uniform(-14, 14, 2000)
    y = rng.uniform(-12, 12, 2000)
    np.testing.assert_allclose(ground_height(t, None, x, y), t.height_at(x, y), rtol=0, atol=1e-9)
    assert ground_height(t, RockIndex(None), x.reshape(40, 50), y.reshape(40, 50)).shape == (40, 50)


def _ref(rocks, k=0):
    """The Qhull reference of rock ``k``'s polyhedron and fillet (tests/terrain/_rockref.py)."""
    return ref_rock(rock_shapes(rocks)[k])


def test_small_rock_is_its_polyhedron_on_the_dem():
    """An unstamped rock (D = 0.6 m <= 2 DEM pixels of 0.5 m) on a plane z = 0.1 x: the ground is
    max(plane, seat + top) with the Qhull top of its polyhedron and fillet, the seat being the
    plane's height at the centre (the mean of the plane at the centre and +-R/2 along x and y);
    the plane outside."""
    t = _plane(0.1, 0.0, res=0.5, n=40)
    rocks = pd.DataFrame({"x_m": [1.3], "y_m": [-0.7], "diameter_m": [0.6], "height_m": [0.25]})
    r = _ref(rocks)
    d = np.linspace(-0.6, 0.6, 61)
    x, y = 1.3 + d * 0.6, -0.7 + d * 0.8
    top = r.top(x - 1.3, y + 0.7)
    want = np.where(top > 0, np.maximum(0.1 * x, 0.1 * 1.3 + top), 0.1 * x)
    np.testing.assert_allclose(ground_height(t, RockIndex(rocks), x, y), want, atol=1e-6)
    g = rock_shapes(rocks)[0]
    assert ground_height(t, RockIndex(rocks), 1.3 + g[S.C_PEAKX], -0.7 + g[S.C_PEAKY]) == \
        pytest.approx(0.13 + 0.25, abs=1e-6)


def test_stamped_rock_is_not_counted_twice():
    """A rock wider than two pixels that ``farside.terrain.rocks.stamp_rocks`` put into the DEM:
    the ground is max(plane, seat + top) (once), and outside the rock the plane (not the
    stamp's pixels through the mesh); identical to the same rock on the unstamped plane."""
    X, Y, x0, y0 = _grid(0.1, 80)
    plane = 0.05 * X - 0.08 * Y
    rocks = pd.DataFrame({"x_m": [0.33], "y_m": [0.21], "diameter_m": [1.2], "height_m": [0.4]})
    stamped = stamp_rocks(plane, rocks, resolution_m=0.1, x0_m=x0, y0_m=y0)
    assert (stamped - plane).max() > 0.39                         # the stamp is really there
    t_st = Terrain(stamped.astype(np.float32), 0.1, x0_m=x0, y0_m=y0)
    t_pl = Terrain(plane.astype(np.float32), 0.1, x0_m=x0, y0_m=y0)
    d = np.array([0.0, 0.2, 0.4, 0.55, 0.62, 0.7, 0.8, 1.0, 1.2])
    x, y = 0.33 + d, 0.21 + 0 * d
    top = _ref(rocks).top(x - 0.33, y - 0.21)
    seat = 0.05 * 0.33 - 0.08 * 0.21
    want = np.where(top > 0, np.maximum(0.05 * x - 0.08 * y, seat + top), 0.05 * x - 0.08 * y)
    np.testing.assert_allclose(ground_height(t_st, RockIndex(rocks), x, y), want, atol=2e-6)
    np.testing.assert_allclose(ground_height(t_pl, RockIndex(rocks), x, y), want, atol=2e-6)


def test_rock_index_matches_brute_force():
    """Bucketed lookup vs the max over all rocks of their Qhull polyhedra (second method) on flat
    ground (every seat 0)."""
    rng = np.random.default_rng(7)
    t = Terrain(np.zeros((30, 30), np.float32), 1.0, x0_m=-15.0, y0_m=15.0)   # all rocks <= 2 px
    n = 150
    rocks = pd.DataFrame({"x_m": rng.uniform(-14, 14, n), "y_m": rng.uniform(-14, 14, n),
                          "diameter_m": rng.uniform(0.1, 2.0, n), "height_m": rng.uniform(0.02, 0.8, n)})
    px, py = rng.uniform(-15, 15, 20000), rng.uniform(-15, 15, 20000)
    g = rock_shapes(rocks)
    h = np.zeros(px.size)
    for k in range(n):
        h = np.maximum(h, ref_rock(g[k]).top(px - rocks.x_m[k], py - rocks.y_m[k]))
    np.testing.assert_allclose(ground_height(t, RockIndex(rocks, cell_m=0.7), px, py), h, atol=1e-12)


def test_rock_table_errors_are_one_line():
    with pytest.raises(FarsideError, match="rocks"):
        RockIndex(pd.DataFrame({"x_m": [0.0], "y_m": [0.0]}))
    with pytest.raises(FarsideError, match="heading_deg"):
        settle(YUTU2, _plane(0, 0), None, x_m=0.0, y_m=0.0, heading_deg=float("nan"))


# ---------------------------------------------------------------------------------------------
# attitude on planes
@pytest.mark.parametrize("alpha_deg,heading_deg", [(5.0, 37.0), (12.0, 200.0), (19.0, 300.0)])
def test_pitch_on_a_plane_along_the_heading(alpha_deg, heading_deg):
    """On a plane rising at alpha along the heading every wheel touches the plane: pitch = alpha,
    roll = 0 (0.01 deg), the body origin lies on the plane, and the normal loads sum to
    W cos(alpha)."""
    t = _slope_along(heading_deg, alpha_deg)
    p = settle(YUTU2, t, None, x_m=0.4, y_m=-0.3, heading_deg=heading_deg)
    assert isinstance(p, Pose)
    assert p.pitch_deg == pytest.approx(alpha_deg, abs=0.01)
    assert p.roll_deg == pytest.approx(0.0, abs=0.01)
    assert p.z_m == pytest.approx(float(t.height_at(0.4, -0.3)), abs=1e-4)
    assert p.wheel_load_n.sum() == pytest.approx(W * math.cos(math.radians(alpha_deg)), rel=1e-6)
    assert p.ok == (alpha_deg <= YUTU2.max_slope_deg)
    # the contacts are on the plane, at the nominal wheel positions along the slope
    np.testing.assert_allclose(p.wheel_contact_m[:, 2], t.height_at(p.wheel_contact_m[:, 0], p.wheel_contact_m[:, 1]),
                               atol=1e-5)


@pytest.mark.parametrize("beta_deg", [4.0, 15.0])
def test_roll_on_a_cross_slope(beta_deg):
    """A plane rising at beta to the rover's left: roll = beta, pitch = 0 (0.01 deg)."""
    t = _slope_along(123.0, 0.0, beta_deg)
    p = settle(YUTU2, t, None, x_m=0.0, y_m=0.0, heading_deg=123.0)
    assert p.roll_deg == pytest.approx(beta_deg, abs=0.01)
    assert p.pitch_deg == pytest.approx(0.0, abs=0.01)


def test_compound_slope_euler_angles():
    """Plane z = a s + b l (s along the heading, l to its left). With R = Rz Ry(-pitch) Rx(roll)
    the body x axis lies in the plane above the heading: tan(pitch) = a; the body z axis is the
    plane normal (-a, -b, 1)/N and its lateral component -sin(roll) gives sin(roll) = b / N."""
    a, b = math.tan(math.radians(9.0)), math.tan(math.radians(-6.0))
    t = _slope_along(75.0, 9.0, -6.0)
    p = settle(YUTU2, t, None, x_m=0.0, y_m=0.0, heading_deg=75.0)
    assert p.pitch_deg == pytest.approx(math.degrees(math.atan(a)), abs=0.01)
    assert p.roll_deg == pytest.approx(math.degrees(math.asin(b / math.sqrt(1 + a * a + b * b))), abs=0.01)


# ---------------------------------------------------------------------------------------------
# the linkage on steps
def _step_terrain(h: float, left: bool, right: bool) -> Terrain:
    """Flat ground with flat-topped blocks of height h under the front wheels (rover at the
    origin heading north: left front wheel at (-0.5, 0.5), right front at (0.5, 0.5))."""
    X, Y, x0, y0 = _grid(0.01, 300)
    z = np.zeros_like(X)
    if left:
        z[(X > -0.75) & (X < -0.25) & (Y > 0.25) & (Y < 0.8)] = h
    if right:
        z[(X > 0.25) & (X < 0.75) & (Y > 0.25) & (Y < 0.8)] = h
    return Terrain(z.astype(np.float32), 0.01, x0_m=x0, y0_m=y0)


def _rocker_angle(h: float) -> float:
    """Rocker rotation (rad) when its front wheel stands on a block h high and its bogie is on
    level ground.

    The bogie pivot B stays 0.45 m above the ground (its wheels are level, the bogie is rigid).
    The rocker is the rigid segment B -> F (front axle), nominally (0.75, -0.30) m in (x, z):
    length L = sqrt(0.75^2 + 0.30^2), angle psi0 = atan2(-0.30, 0.75). On the block the front
    axle is at h + 0.15, so sin(psi) = (h + 0.15 - 0.45) / L and the rocker turns by psi - psi0
    (the front wheel slides back along the flat top, which does not change its height).
    """
    L = math.hypot(0.75, 0.30)
    return math.asin((h - 0.30) / L) - math.atan2(-0.30, 0.75)


@pytest.mark.parametrize("h", [0.05, 0.15])
def test_step_under_both_front_wheels_closed_form(h):
    """Both front wheels on blocks of height h: by symmetry no roll and no differential, so the
    body pitch equals the rocker angle of :func:`_rocker_angle`; the bogies stay level."""
    p = settle(YUTU2, _step_terrain(h, True, True), None, x_m=0.0, y_m=0.0, heading_deg=0.0)
    rho = math.degrees(_rocker_angle(h))
    assert p.pitch_deg == pytest.approx(rho, abs=0.01)
    assert p.roll_deg == pytest.approx(0.0, abs=0.01)
    np.testing.assert_allclose(p.rocker_deg, [rho, rho], atol=0.01)
    np.testing.assert_allclose(p.bogie_deg, [0.0, 0.0], atol=0.01)


def test_step_under_left_front_wheel_differential():
    """Left front wheel alone on a 0.10 m block.

    Left rocker: rho = _rocker_angle(0.10) (bogie level on flat ground). Right rocker: all its
    wheels on the flat, so 0. The differential averages them: pitch = rho / 2. Rocker pivots:
    P = B + rot(rho) (P0 - B0) with P0 - B0 = (0.25, 0.15), so the left pivot rises by
    dz = 0.25 sin(rho) + 0.15 cos(rho) - 0.15 above the right one; the pivots are 1.0 m apart
    along the body y axis, whose vertical component is cos(pitch) sin(roll), so
    sin(roll) = dz / cos(pitch). This treats the side linkages as vertical planes; with roll ~1.8
    deg that is good to cos(1.8 deg) - 1 = 5e-4 of the 0.3 m pivot heights, 0.01 deg: tolerance
    0.05 deg.
    """
    rho = _rocker_angle(0.10)
    p = settle(YUTU2, _step_terrain(0.10, True, False), None, x_m=0.0, y_m=0.0, heading_deg=0.0)
    pitch = rho / 2
    dz = 0.25 * math.sin(rho) + 0.15 * math.cos(rho) - 0.15
    roll = math.asin(dz / math.cos(pitch))
    assert p.pitch_deg == pytest.approx(math.degrees(pitch), abs=0.05)
    assert p.roll_deg == pytest.approx(math.degrees(roll), abs=0.05)
    np.testing.assert_allclose(p.rocker_deg, [math.degrees(rho), 0.0], atol=0.05)
    assert p.ok


# ---------------------------------------------------------------------------------------------
# loads
def _variant(**kw):
    return dataclasses.replace(YUTU2, **kw)


@pytest.mark.parametrize("rover,expected", [
    # YUTU2: bogie pivot midway -> N_M = N_R; sum x_i N_i = 0 -> N_F = N_R: W/6 each
    (YUTU2, [1 / 6] * 6),
    # bogie pivot at x = -0.2: lever arms 0.2 (M) and 0.3 (R) -> N_M = 1.5 N_R; N_F = N_R;
    # per side 3.5 N_R = W/2 -> (1, 1.5, 1) W/7
    (_variant(bogie_pivot_x_m=-0.2, rocker_pivot_x_m=0.1), [1 / 7, 1.5 / 7, 1 / 7] * 2),
    # wheels at x = 0.6, 0, -0.4, bogie pivot at -0.2: N_M = N_R; 0.6 N_F = 0.4 N_R;
    # per side (2/3 + 2) N_R = W/2 -> N_R = 3W/16, N_F = W/8
    (_variant(wheel_xy_m=np.array([[0.6, 0.5], [0.0, 0.5], [-0.4, 0.5], [0.6, -0.5], [0.0, -0.5], [-0.4, -0.5]]),
              bogie_pivot_x_m=-0.2), [1 / 8, 3 / 16, 3 / 16] * 2),
])
def test_level_ground_loads_statically_determinate(rover, expected):
    """Level ground: the bogie splits its load by its lever arms about the pivot, the rover's
    pitch moment balance about the centre of mass (x = 0) fixes front vs rear, the sides share
    equally (hand derivations in the parameter comments)."""
    p = settle(rover, _plane(0, 0), None, x_m=0.0, y_m=0.0, heading_deg=10.0)
    np.testing.assert_allclose(p.wheel_load_n, np.array(expected) * rover.weight_n, rtol=1e-6)
    np.testing.assert_allclose(static_wheel_loads(rover), np.array(expected) * rover.weight_n, rtol=1e-9)


def test_loads_on_a_slope_closed_form():
    """Up a 15 deg slope (t = tan 15). Each wheel force is N (t, 0, 1) in the body frame
    (traction proportional to load carries W sin). Per side, S = W cos / 2:
    (a) N_F + N_M + N_R = S;
    (b) bogie moment about its pivot (0.45 m above the contacts, 0.25 m from each wheel):
        N_M (0.25 + 0.45 t) = N_R (0.25 - 0.45 t);
    (c) whole-rover pitch moment about the origin: sum x N = h_cg G_x -> N_F - N_R = -0.55 W sin.
    Hence N_M = q N_R, q = (0.25 - 0.45 t)/(0.25 + 0.45 t), N_R = (S + 0.55 W sin)/(2 + q)."""
    a = math.radians(15.0)
    t = math.tan(a)
    S = W * math.cos(a) / 2
    q = (0.25 - 0.45 * t) / (0.25 + 0.45 * t)
    NR = (S + 0.55 * W * math.sin(a)) / (2 + q)
    NM = q * NR
    NF = NR - 0.55 * W * math.sin(a)
    p = settle(YUTU2, _slope_along(250.0, 15.0), None, x_m=0.0, y_m=0.0, heading_deg=250.0)
    np.testing.assert_allclose(p.wheel_load_n, [NF, NM, NR] * 2, rtol=1e-4)


def test_tip_over_angle_on_a_cross_slope():
    """Static tip-over on a cross slope: the gravity line through the centre of mass (0.55 m
    above the contact plane) leaves the downhill wheel line (0.5 m to the side) at
    beta = atan(0.5 / 0.55) = 42.27 deg. Find where the margin crosses 0 (0.5 deg); there the
    uphill wheels carry no load (the load balance, a second method) and the margin on level
    ground is that angle."""
    beta_tip = math.degrees(math.atan(0.5 / 0.55))

    def margin(beta):
        return settle(YUTU2, _slope_along(0.0, 0.0, beta), None, x_m=0.0, y_m=0.0, heading_deg=0.0).stability_margin_deg

    found = brentq(margin, 30.0, 50.0, xtol=1e-3)
    assert found == pytest.approx(beta_tip, abs=0.5)
    assert margin(0.0) == pytest.approx(beta_tip, abs=0.05)
    p = settle(YUTU2, _slope_along(0.0, 0.0, found), None, x_m=0.0, y_m=0.0, heading_deg=0.0)
    assert abs(p.wheel_load_n[:3].sum()) < 0.01 * W
    assert not p.ok and "slope" in p.reason


# ---------------------------------------------------------------------------------------------
# limits
def test_rock_under_a_wheel_and_under_the_belly():
    """A 0.30 m rock under the left front wheel (> 0.20 m limit) is refused; a 0.10 m one is
    not. A 0.35 m rock (D = 0.4 m: with its fillet it stays clear of the wheels) under the belly
    (0.30 m up, level ground): the clearance is
    0.30 minus the highest point of the rock's Qhull polyhedron at the belly grid's points (the
    body rectangle body_length x (track - wheel_width) sampled at <= 5 cm, heading north)."""
    t = _plane(0, 0)
    for h, ok in ((0.30, False), (0.10, True)):
        rocks = pd.DataFrame({"x_m": [-0.5], "y_m": [0.5], "diameter_m": [2.2 * h], "height_m": [h]})
        p = settle(YUTU2, t, RockIndex(rocks), x_m=0.0, y_m=0.0, heading_deg=0.0)
        assert p.obstacle_m[0] == pytest.approx(h)
        assert p.ok is ok
        if not ok:
            assert "obstacle" in p.reason
    rocks = pd.DataFrame({"x_m": [0.0], "y_m": [0.0], "diameter_m": [0.4], "height_m": [0.35]})
    p = settle(YUTU2, t, RockIndex(rocks), x_m=0.0, y_m=0.0, heading_deg=0.0)
    assert p.pitch_deg == 0.0 and p.roll_deg == 0.0
    hl, hw = YUTU2.body_length_m / 2, (YUTU2.track_m - YUTU2.wheel_width_m) / 2
    gx = np.linspace(-hl, hl, max(2, math.ceil(2 * hl / 0.05) + 1))
    gy = np.linspace(-hw, hw, max(2, math.ceil(2 * hw / 0.05) + 1))
    GX, GY = np.meshgrid(gx, gy)
    top = _ref(rocks).top(-GY, GX).max()            # heading 0: body x = north, body y = west
    assert p.belly_clearance_m == pytest.approx(0.30 - top, abs=1e-4)
    assert not p.ok and "belly clearance" in p.reason
    p = settle(YUTU2, t, None, x_m=0.0, y_m=0.0, heading_deg=0.0)
    assert p.belly_clearance_m == pytest.approx(YUTU2.belly_clearance_m, abs=1e-6) and p.ok


def test_settle_path_is_settle_vectorised():
    from farside.terrain import generate_site

    site = generate_site(128, 0.5, rng=4, rock_abundance=0.05)
    idx = RockIndex(site.rocks)
    rng = np.random.default_rng(2)
    x, y, hd = rng.uniform(-20, 20, 12), rng.uniform(-20, 20, 12), rng.uniform(0, 360, 12)
    pp = settle_path(YUTU2, site.terrain, idx, x_m=x, y_m=y, heading_deg=hd)
    assert len(pp) == 12
    for k in (0, 5, 11):
        p = settle(YUTU2, site.terrain, idx, x_m=x[k], y_m=y[k], heading_deg=hd[k])
        assert p.pitch_deg == pytest.approx(pp.pitch_deg[k], abs=1e-4)
        assert p.reason == pp.reason[k]


# ---------------------------------------------------------------------------------------------
# turning
def test_point_turn_steering_geometry():
    """Point turn: each corner wheel steered tangent to its circle about the body centre,
    |steer| = atan(|x| / |y|) (45 deg for YUTU2; 56.31 deg for wheels at x = 0.6, y = 0.4), so its
    axle line passes through the centre; the middle wheels are not steered."""
    tc = turn_cost(YUTU2, kind="point", angle_deg=90.0)
    np.testing.assert_allclose(tc.steer_deg, [-45, 0, 45, 45, 0, -45], atol=1e-9)
    rv = _variant(wheel_xy_m=np.array([[0.6, 0.4], [0.0, 0.4], [-0.6, 0.4], [0.6, -0.4], [0.0, -0.4], [-0.6, -0.4]]))
    tc = turn_cost(rv, kind="point", angle_deg=-30.0)
    np.testing.assert_allclose(np.abs(tc.steer_deg[[0, 2, 3, 5]]), math.degrees(math.atan(0.6 / 0.4)), atol=1e-9)
    s = np.radians(tc.steer_deg)
    w = rv.wheel_xy_m
    # axle direction (-sin s, cos s) through the wheel is parallel to the wheel's position vector
    cross = w[:, 0] * np.cos(s) - w[:, 1] * -np.sin(s)
    np.testing.assert_allclose(cross[[0, 2, 3, 5]], 0.0, atol=1e-12)


@pytest.mark.parametrize("radius", [0.8, 2.0, 10.0])
def test_arc_steering_meets_at_the_turn_centre(radius):
    """Ackermann: every corner wheel's axle line crosses the middle-wheel axle line (x = 0) at the
    turn centre (0, R): from (x_i, y_i) along (-sin s, cos s), x = 0 at t = x_i / sin s, where
    y = y_i + x_i cos s / sin s = R; equivalently tan s = x_i / (R - y_i)."""
    tc = turn_cost(YUTU2, kind="arc", angle_deg=45.0, radius_m=radius)
    s = np.radians(tc.steer_deg)
    w = YUTU2.wheel_xy_m
    for i in (0, 2, 3, 5):
        assert w[i, 1] + w[i, 0] * math.cos(s[i]) / math.sin(s[i]) == pytest.approx(radius, rel=1e-12)
    # rolled distances: wheel radius of turn times the angle
    np.testing.assert_allclose(tc.roll_m, np.hypot(w[:, 0], w[:, 1] - radius) * math.pi / 4, rtol=1e-12)


def test_turn_time_and_scrub_by_numerical_integration():
    """Second method: rotate the body about the turn centre in 20000 small steps, decompose each
    wheel's displacement along / across its (fixed) steering direction and integrate rolling and
    sliding distances; energy = sum N (c_rr roll + mu slide) / eta. A rover with its middle wheels
    0.1 m ahead of the centre makes them skid sideways. Time of a 90 deg point turn of YUTU2:
    (pi/2) sqrt(0.5) / (200 m/h) + 2 x 45 deg / (5 deg/s) = 19.99 + 18 s."""
    rv = _variant(wheel_xy_m=np.array([[0.5, 0.5], [0.1, 0.5], [-0.5, 0.5], [0.5, -0.5], [0.1, -0.5], [-0.5, -0.5]]))
    for kind, R in (("point", None), ("arc", 1.5)):
        tc = turn_cost(rv, kind=kind, angle_deg=70.0, radius_m=R, rolling_resistance=0.1)
        c = np.array([0.0, R or 0.0])
        phi = np.linspace(0.0, math.radians(70.0), 20001)
        rel = rv.wheel_xy_m - c
        pos = c + np.stack([rel[:, 0] * np.cos(phi)[:, None] - rel[:, 1] * np.sin(phi)[:, None],
                            rel[:, 0] * np.sin(phi)[:, None] + rel[:, 1] * np.cos(phi)[:, None]], axis=-1)
        dpos = np.diff(pos, axis=0)
        s = np.radians(tc.steer_deg)[None, :] + phi[:-1, None] + 0.5 * np.diff(phi)[:, None]
        along = np.abs(dpos[..., 0] * np.cos(s) + dpos[..., 1] * np.sin(s)).sum(axis=0)
        across = np.abs(-dpos[..., 0] * np.sin(s) + dpos[..., 1] * np.cos(s)).sum(axis=0)
        twist = 0.25 * rv.wheel_width_m * math.radians(70.0)
        np.testing.assert_allclose(tc.roll_m, along, rtol=1e-6)
        assert tc.scrub_m == pytest.approx(across.sum() + 6 * twist, rel=1e-6)
        loads = static_wheel_loads(rv)
        mu = math.tan(math.radians(42.0))                       # LUNAR_REGOLITH friction angle
        e = np.sum(loads * (0.1 * along + mu * (across + twist))) / rv.motor_efficiency
        assert tc.energy_j == pytest.approx(e, rel=1e-6)
    assert across[[1, 4]].sum() > 0.2                           # the offset middle wheels skid
    tc = turn_cost(YUTU2, kind="point", angle_deg=90.0)
    assert tc.time_s == pytest.approx(math.pi / 2 * math.sqrt(0.5) / (200 / 3600) + 18.0, rel=1e-9)
    _, energy_j, scrub_m = tc[:3]
    assert energy_j > 0 and scrub_m == pytest.approx(6 * 0.25 * 0.15 * math.pi / 2)


def test_turn_cost_errors():
    with pytest.raises(FarsideError, match="radius_m"):
        turn_cost(YUTU2, kind="arc", angle_deg=10.0)
    with pytest.raises(FarsideError, match="kind"):
        turn_cost(YUTU2, kind="skid", angle_deg=10.0)
