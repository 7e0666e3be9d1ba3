"""Dynamics, guidance building blocks, hazard maps and the touchdown check against analytic results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.constants import MOON_GM_M3_S2, MOON_RADIUS_M
from farside.descent import CE4_LANDER, HdaSettings, check_touchdown, fine_hazard_map, simulate_descent
from farside.descent import _kernels_hazard as K
from farside.descent._kernels_dynamics import _rk4_s
from farside.descent._kernels_surface import lidar_scan
from farside.descent.touchdown import shaped_rocks, surface_heights
from farside.descent.simulate import initial_state
from farside.errors import FarsideError, ScenarioError
from farside.terrain import Terrain
from farside.terrain.rocks import rock_shapes
from tests.terrain._rockref import ref_rock


def _rk4(y, dt, n, b=(0.0, 0.0, 1.0), F=0.0, ve=3000.0, gm=MOON_GM_M3_S2):
    """``n`` steps of the integrator the descent runs (``_kernels_dynamics._rk4_s``, called by run_segment)."""
    s = tuple(float(v) for v in y)
    for _ in range(n):
        s = _rk4_s(*s, dt, b[0], b[1], b[2], F, ve, MOON_RADIUS_M, gm)
    y[:] = s
    return y


def test_coast_matches_kepler_vis_viva():
    """Unpowered flight from the 15 x 100 km perilune reaches the apolune at half a period.

    Analytic: a = R + 57.5 km, T = 2 pi sqrt(a^3 / GM), r_apo = R + 100 km, v_apo from vis-viva.
    Tolerances: 5 m in radius, 5 mm/s in speed after ~1 h of RK4 at 0.1 s.
    """
    r0, v0 = initial_state(CE4_LANDER)
    a = MOON_RADIUS_M + 57_500.0
    period = 2 * math.pi * math.sqrt(a ** 3 / MOON_GM_M3_S2)
    y = np.r_[r0, v0, 2000.0]
    n = int(round(0.5 * period / 0.1))
    dt = 0.5 * period / n
    _rk4(y, dt, n)
    r = np.linalg.norm(y[:3] + [0, 0, MOON_RADIUS_M])
    v = np.linalg.norm(y[3:6])
    r_apo = MOON_RADIUS_M + 100_000.0
    v_apo = math.sqrt(MOON_GM_M3_S2 * (2 / r_apo - 1 / a))
    assert abs(r - r_apo) < 5.0
    assert abs(v - v_apo) < 5e-3
    # the perilune speed of the pre-landing orbit is the reported ~1.7 km/s (docs/references.md 2.1)
    assert 1650.0 < np.linalg.norm(v0) < 1750.0


def test_constant_thrust_obeys_rocket_equation():
    """Without gravity, constant thrust F for t: dv = ve ln(m0 / (m0 - F t / ve)) (Tsiolkovsky)."""
    ve, F, m0, t = 3040.0, 7500.0, 2650.0, 400.0
    y = np.array([0, 0, 0, 0, 0, 0, m0], dtype=float)
    _rk4(y, 0.1, 4000, b=(1.0, 0.0, 0.0), F=F, ve=ve, gm=0.0)
    m1 = m0 - F * t / ve
    assert abs(y[6] - m1) < 1e-6
    assert abs(y[3] - ve * math.log(m0 / m1)) < 1e-6


def test_constant_thrust_position_matches_the_rocket_solution():
    """Without gravity, the position under constant thrust is analytic too:
    x(t) = ve (t - (m(t) / mdot) ln(m0 / m(t))), mdot = F / ve. RK4 at 0.1 s over 400 s (175 km):
    measured 8e-9 m; asserted 1e-6 m."""
    ve, F, m0, t = 3040.0, 7500.0, 2650.0, 400.0
    y = np.array([0, 0, 0, 0, 0, 0, m0], dtype=float)
    _rk4(y, 0.1, 4000, b=(0.0, 1.0, 0.0), F=F, ve=ve, gm=0.0)
    mdot = F / ve
    m1 = m0 - mdot * t
    assert abs(y[1] - ve * (t - m1 / mdot * math.log(m0 / m1))) < 1e-6
    assert abs(y[0]) < 1e-12 and abs(y[2]) < 1e-12


def test_powered_flight_agrees_with_scipy_dop853_at_round_off():
    """The descent's RK4 (``_rk4_s``, 0.1 s) against scipy's DOP853 at rtol 1e-13 on the same
    piecewise-constant thrust history under point-mass lunar gravity: 600 s of braking from the
    15 km perilune with the thrust axis turned every 10 s. RK4's truncation error at 0.1 s is below
    1e-16 of the state here ((omega dt)^5 ~ 1e-20 a step), so the two agree at the round-off
    floor: measured 4.2e-14 of the distance from the Moon's centre (7.5e-8 m of ~1.74e6 m),
    2.8e-10 m/s, 2.4e-10 kg; asserted 1e-12 of the distance, 1e-8 m/s and 1e-8 kg."""
    from scipy.integrate import solve_ivp

    r0, v0 = initial_state(CE4_LANDER)
    ve, F, dt = 3040.0, 7000.0, 0.1
    y = np.r_[r0, v0, 2650.0].astype(float)
    ref = y.copy()
    for seg in range(60):
        vhat = -ref[3:6] / np.linalg.norm(ref[3:6])
        b = vhat + np.array([0.0, 0.0, 0.2 + 0.01 * seg])
        b /= np.linalg.norm(b)
        _rk4(y, dt, 100, b=tuple(b), F=F, ve=ve)

        def f(t, s, b=b):
            c = s[:3] + [0.0, 0.0, MOON_RADIUS_M]
            g = -MOON_GM_M3_S2 * c / np.linalg.norm(c) ** 3
            return np.r_[s[3:6], g + F * b / s[6], -F / ve]

        sol = solve_ivp(f, (0.0, 100 * dt), ref, method="DOP853", rtol=1e-13, atol=1e-12)
        ref = sol.y[:, -1]
    scale = np.linalg.norm(ref[:3] + [0.0, 0.0, MOON_RADIUS_M])
    assert np.linalg.norm(y[:3] - ref[:3]) < 1e-12 * scale
    assert np.linalg.norm(y[3:6] - ref[3:6]) < 1e-8
    assert abs(y[6] - ref[6]) < 1e-8
    assert np.linalg.norm(ref[3:6]) < 0.5 * np.linalg.norm(v0)          # it did brake


def _plane(slope_deg=0.0, n=200, res=0.5, z0=-5935.0):
    x = (np.arange(n) + 0.5) * res - n * res / 2
    h = z0 + np.tan(np.radians(slope_deg)) * x[None, :] + 0 * x[:, None]
    return Terrain(h.astype(np.float32), res, x0_m=-n * res / 2, y0_m=n * res / 2)


def test_slope_protrusion_exact_on_plane_and_rock():
    """The fine-HDA plane fit returns the plane's slope exactly; a 0.5 m rock protrudes ~0.5 m."""
    n, sp = 64, 0.34
    jj, ii = np.meshgrid(np.arange(n), np.arange(n))
    z = np.tan(np.radians(6.0)) * jj * sp + 0.0 * ii
    slope, prot = K.slope_protrusion(z, sp, 6)
    assert np.nanmax(np.abs(slope - 6.0)) < 1e-9
    assert np.nanmax(np.abs(prot)) < 1e-9
    z2 = np.zeros((n, n))
    z2[32, 32] = 0.5
    hm = fine_hazard_map(z2, sp, settings=HdaSettings(), footprint_m=4.0)
    assert hm.protrusion_m[32, 32] > 0.49 and hm.hazard[32, 32]
    assert not hm.hazard[20, 20]
    assert hm.hazard[0, 0]  # border cells are unknown


def test_touchdown_criteria():
    """Slope under the pads is the plane slope; the tip-over barrier follows the energy criterion."""
    lim = CE4_LANDER
    ok = check_touchdown(_plane(2.0), np.zeros((0, 4)), 0.0, 0.0, vertical_speed_mps=2.0,
                         horizontal_speed_mps=0.1, attitude_deg=0.5, lander=lim)
    assert ok.safe and abs(ok.slope_deg - 2.0) < 0.02  # float32 heights at -5935 m: ~0.5 mm steps
    steep = check_touchdown(_plane(12.0), np.zeros((0, 4)), 0.0, 0.0, vertical_speed_mps=2.0,
                            horizontal_speed_mps=0.1, attitude_deg=0.5, lander=lim)
    assert steep.failed == ("slope",)
    rock = check_touchdown(_plane(0.0), np.array([[0.3, 0.2, 1.0, 0.5]]), 0.0, 0.0, vertical_speed_mps=2.0,
                           horizontal_speed_mps=0.1, attitude_deg=0.5, lander=lim)
    assert "rock_clearance" in rock.failed and abs(rock.obstacle_m - 0.5) < 0.05
    # energy criterion on a level plane: v_crit^2 / 2 = g L (1 - cos(theta_s))
    r_edge = lim.footpad_radius_m * math.cos(math.radians(45))
    L = math.hypot(r_edge, lim.cg_height_m)
    v_crit = math.sqrt(2 * 1.62 * L * (1 - math.cos(math.atan2(r_edge, lim.cg_height_m))))
    big = lim.replace(limits=lim.limits.__class__(max_horizontal_speed_mps=10.0))
    below = check_touchdown(_plane(0.0), np.zeros((0, 4)), 0, 0, vertical_speed_mps=1.0,
                            horizontal_speed_mps=0.99 * v_crit, attitude_deg=0.0, lander=big)
    above = check_touchdown(_plane(0.0), np.zeros((0, 4)), 0, 0, vertical_speed_mps=1.0,
                            horizontal_speed_mps=1.01 * v_crit, attitude_deg=0.0, lander=big)
    assert below.safe and above.failed == ("tip_over",)


def test_bad_input_raises_farside_errors():
    t = _plane()
    with pytest.raises(ScenarioError, match="rng"):
        simulate_descent(t, rng=1)
    with pytest.raises(ScenarioError, match="site"):
        simulate_descent("moon", rng=np.random.default_rng(0))
    with pytest.raises(FarsideError, match="isp_s"):
        CE4_LANDER.replace(isp_s=float("nan"))
    with pytest.raises(FarsideError, match="min_thrust_n"):
        CE4_LANDER.replace(min_thrust_n=8000.0)
    with pytest.raises(FarsideError, match="ignition_s"):
        simulate_descent(t, rng=np.random.default_rng(0), ignition_s=float("inf"))


def test_lidar_scan_registers_heights_at_their_ground_position():
    """Noise-free 3-D imager scan of a 15 deg plane with a 0.5 m rock: the resampled cells hold the
    plane's analytic height at their centres within the resampling error, and the rock protrudes at
    its true place."""
    n, res = 480, 0.5
    x = (np.arange(n) + 0.5) * res - n * res / 2
    X, Y = np.meshgrid(x, -x)
    tan = np.tan(np.radians(15.0))
    t = Terrain((tan * (X + Y) / np.sqrt(2)).astype(np.float32), res, x0_m=-n * res / 2, y0_m=n * res / 2)
    rocks = shaped_rocks(t, np.array([[20.0, -30.0, 1.0, 0.5]]), 0.0)
    N, sp, lz = 200, 0.466, 100.0
    z = lidar_scan(t.heights, res, t.x0_m, t.y0_m, 0.0, rocks, 0.0, 0.0, lz, N, sp, np.zeros((N, N)), 0.0)
    jj, ii = np.meshgrid(np.arange(N), np.arange(N))
    cx = (jj - 0.5 * (N - 1)) * sp
    cy = -(ii - 0.5 * (N - 1)) * sp
    plane = tan * (cx + cy) / np.sqrt(2) - lz
    far_from_rock = np.hypot(cx - 20.0, cy + 30.0) > 1.5
    ok = np.isfinite(z) & far_from_rock
    assert ok.mean() > 0.9
    # a cell holds the mean of the points that fell in it, up to half a cell (0.23 m) from its
    # centre on a 15 deg slope: |error| <= 0.23 * sqrt(2) * tan 15 = 0.09 m; empty cells take their
    # neighbours' mean. Without the ray-surface iteration the error reaches metres off-nadir.
    err = np.abs(z - plane)[ok]
    assert np.median(err) < 0.03
    assert np.percentile(err, 99) < 0.1
    assert err.max() < 0.3
    hm = fine_hazard_map(z, sp, settings=HdaSettings(), footprint_m=4.0)
    i, j = np.unravel_index(np.nanargmax(hm.protrusion_m), z.shape)
    assert np.hypot(cx[i, j] - 20.0, cy[i, j] + 30.0) < 0.7
    assert hm.protrusion_m[i, j] > 0.3


def test_truth_surface_and_lidar_see_the_rock_polyhedron():
    """A 1 m rock (0.45 m high) on a 5 deg plane and on flat ground. The truth surface is
    max(plane, seat + top) with the top of the rock's polyhedron rebuilt by Qhull
    (tests/terrain/_rockref.py) and the seat the plane at the centre (1e-9 m). A noise-free nadir
    scan from 50 m over flat ground: every cell holds its own beam's point (off-nadir <= 2 %, so
    the splat keeps the beam's cell), at the height of the Qhull top at the point where the beam
    met it (1 cm: the range iteration's tolerance)."""
    tan = math.tan(math.radians(5.0))
    for g in (tan, 0.0):           # the plane's vertices are exact in float32 at z0 = 0
        t = _plane(5.0 if g else 0.0, z0=0.0)
        cx, cy = 1.4, 0.6
        rk = np.array([[cx, cy, 1.0, 0.45]])
        r = ref_rock(rock_shapes(rk)[0])
        xs = cx + np.linspace(-0.9, 0.9, 181)
        ys = cy + 0.3 * np.linspace(-0.9, 0.9, 181)
        top = r.top(xs - cx, ys - cy)
        ground = np.asarray(t.height_at(xs, ys), float)
        seat = float(t.height_at(cx, cy))
        want = np.where(top > 0, np.maximum(ground, seat + top), ground)
        np.testing.assert_allclose(surface_heights(t, rk, xs, ys), want, atol=1e-6)
    t = _plane(0.0, z0=0.0)
    N, sp, lz = 61, 0.05, 50.0
    z = lidar_scan(t.heights, t.resolution_m, t.x0_m, t.y0_m, 0.0, shaped_rocks(t, rk, 0.0), 0.0, 0.0, lz, N, sp,
                   np.zeros((N, N)), 0.0)
    jj, ii = np.meshgrid(np.arange(N), np.arange(N))
    gx = (jj - 0.5 * (N - 1)) * sp
    gy = -(ii - 0.5 * (N - 1)) * sp
    u = -z / lz                                   # nadir on flat ground: the nominal range is lz
    top = r.top(u * gx - cx, u * gy - cy)
    assert (top > 0.3).sum() > 50                 # the scan covers the rock
    np.testing.assert_allclose(lz + z, top, atol=0.01)


def test_touchdown_verdict_is_monotonic_in_speed_and_slope():
    """Property: a faster or steeper touchdown is never safer (hypothesis over the limits' range)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    planes = {s: _plane(s) for s in (0.0, 3.0, 6.0, 9.0)}
    none = np.zeros((0, 4))

    @settings(max_examples=40, deadline=None)
    @given(vz=st.floats(0.0, 6.0), vh=st.floats(0.0, 2.0), dv=st.floats(0.0, 2.0),
           s_lo=st.sampled_from([0.0, 3.0, 6.0]), att=st.floats(0.0, 8.0))
    def check(vz, vh, dv, s_lo, att):
        a = check_touchdown(planes[s_lo], none, 0.0, 0.0, vertical_speed_mps=vz, horizontal_speed_mps=vh,
                            attitude_deg=att, lander=CE4_LANDER)
        b = check_touchdown(planes[s_lo + 3.0], none, 0.0, 0.0, vertical_speed_mps=vz + dv,
                            horizontal_speed_mps=vh + dv, attitude_deg=att, lander=CE4_LANDER)
        assert set(a.failed) <= set(b.failed)

    check()


def test_frames_callback_sees_every_step():
    seen = []
    r = simulate_descent(_plane(0.0, n=2400), rng=np.random.default_rng(1), hda=False,
                         frames=lambda t, row: seen.append(t))
    assert len(seen) == len(r.trajectory) and seen[0] == 0.0 and seen[-1] == r.duration_s


def test_distance_transform_matches_scipy():
    """The numba exact EDT used for HDA clearance equals scipy.ndimage.distance_transform_edt."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    for p in (0.002, 0.05, 0.5, 0.95):
        m = rng.random((97, 131)) < p
        m[5, 7] = True
        assert np.array_equal(K.edt(m), ndimage.distance_transform_edt(~m))
    assert np.isinf(K.edt(np.zeros((4, 4), bool))).all()


def test_fused_fine_maps_equal_the_reference_kernels():
    """The one-pass, arctangent-free fine-HDA kernel gives the hazard, slope and protrusion maps of
    the reference kernels (window plane ``slope_protrusion`` + footpad plane ``pad_slope`` in
    degrees, thresholded at 7 deg and 0.2 m), unknown (NaN) cells included."""
    rng = np.random.default_rng(5)
    n, sp, k = 120, 0.466, 4
    jj, ii = np.meshgrid(np.arange(n), np.arange(n))
    z = 0.08 * np.sin(jj / 7.0) * np.cos(ii / 5.0) * 8.0 + 0.05 * rng.standard_normal((n, n)) - 100.0
    z[40:43, 60:62] += 0.5                         # a rock
    z[rng.random((n, n)) < 0.002] = np.nan         # a few unknown cells
    s_w, prot = K.slope_protrusion(z, sp, k)
    known_bad = ~(s_w <= 7.0)
    s_p = K.pad_slope(z, sp, 2.0, known_bad)
    slope = np.fmax(s_w, s_p)
    slope[np.isnan(s_p) & ~known_bad] = np.nan
    hazard = ~(slope <= 7.0) | (np.abs(np.nan_to_num(prot)) > 0.2)
    hm = fine_hazard_map(z, sp, settings=HdaSettings(), footprint_m=4.0)
    assert 0.05 < hazard.mean() < 0.95
    assert np.array_equal(hm.hazard, hazard)
    assert np.array_equal(np.isnan(hm.slope_deg), np.isnan(slope))
    assert np.nanmax(np.abs(hm.slope_deg - slope)) < 1e-4
    assert np.array_equal(hm.protrusion_m, prot.astype(np.float32), equal_nan=True)


def test_capped_clearance_selects_the_cell_the_exact_clearance_selects():
    """The selection needs clearances only up to twice the safe radius: the capped transform is
    exact there and picks the same cell as the exact Euclidean transform."""
    from farside.descent.hda import HazardMap, select_safe_point

    rng = np.random.default_rng(9)
    for p in (0.01, 0.1, 0.4):
        m = rng.random((150, 170)) < p
        exact = K.edt(m)
        r = 9
        capped = K.edt_capped(m, r)
        near = exact <= r
        assert np.array_equal(capped[near], exact[near]) and (capped[~near] > r).all()
        for xp, yp in ((0.0, 0.0), (12.0, -7.0)):
            a = HazardMap(hazard=m, spacing_m=0.466, x0_m=-35.0, y0_m=35.0)
            b = HazardMap(hazard=m, spacing_m=0.466, x0_m=-35.0, y0_m=35.0)
            b.clearance_m  # noqa: B018  (exact transform cached: selection reads it)
            sa = select_safe_point(a, xp, yp, safe_radius_m=3.0, divert_max_m=45.0, divert_weight=0.05)
            sb = select_safe_point(b, xp, yp, safe_radius_m=3.0, divert_max_m=45.0, divert_weight=0.05)
            assert sa[:3] == sb[:3]
            assert sa[3] == min(sb[3], sa[3]) and (sa[3] == sb[3] or sa[3] >= 6.0)
