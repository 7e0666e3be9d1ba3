"""Elevation map and hazard costmap (farside.vision.costmap): inverse-variance fusion (analytic),
slope/step/roughness on analytic surfaces, configuration-space dilation, planner compatibility,
and the whole chain on rendered Navcam stops against the true geometry (rock table, patch heights).

Yutu-2 limits: 20 deg slope, 0.20 m obstacles (REFERENCE.md s.3). Wheelbase 1.0 m, track 1.0 m
(farside.rover.YUTU2, UNCONFIRMED); footprint radius 0.75 m (UNCONFIRMED: half the 1.5 m body).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import ndimage

from farside.errors import ScenarioError
from farside.vision.costmap import ElevationMap, elevation_map, hazard_costmap

YUTU2_KW = dict(wheelbase_m=1.0, track_m=1.0, footprint_radius_m=0.75)


def _surface_points(fn, *, half_m=4.0, spacing_m=0.01, center=(0.0, 0.0)):
    """Points on a regular 1 cm lattice of z = fn(x, y) (exact, no noise)."""
    g = np.arange(-half_m, half_m, spacing_m) + spacing_m / 2
    x, y = np.meshgrid(g + center[0], g + center[1])
    return np.stack([x.ravel(), y.ravel(), fn(x, y).ravel()], axis=1)


def _cell_centres(emap: ElevationMap):
    return np.meshgrid(emap.x_m, emap.y_m)


def test_grid_is_on_the_world_lattice_and_north_up():
    em = elevation_map((1.23, -4.56), half_size_m=2.0, resolution_m=0.05)
    assert em.shape == (80, 80)
    assert abs(em.x0_m / 0.05 - round(em.x0_m / 0.05)) < 1e-9 and abs(em.y0_m / 0.05 - round(em.y0_m / 0.05)) < 1e-9
    assert em.y_m[0] > em.y_m[-1]                                   # row 0 = north edge
    r, c = em.xy_to_ij(em.x_m[7], em.y_m[11])
    assert (int(r), int(c)) == (11, 7)


def test_fusion_is_inverse_variance_weighted():
    """One point per cell per stop: fused height = sum(h / s^2) / sum(1 / s^2), sigma =
    1 / sqrt(sum(1 / s^2)) (analytic); points of one stop in one cell: weighted mean, variance
    = their harmonic-mean variance (not divided by their number)."""
    em = elevation_map((0.0, 0.0), half_size_m=1.0, resolution_m=0.1)
    x, y = em.x_m[3], em.y_m[4]
    em = em.fuse([[x, y, 1.0]], 0.02).fuse([[x, y, 1.3]], 0.04)
    w1, w2 = 1 / 0.02**2, 1 / 0.04**2
    assert em.height_m[4, 3] == pytest.approx((1.0 * w1 + 1.3 * w2) / (w1 + w2), rel=1e-12)
    assert em.sigma_m[4, 3] == pytest.approx(1 / math.sqrt(w1 + w2), rel=1e-12)
    assert np.isnan(em.height_m[0, 0]) and em.n_stops == 2 and em.n_points[4, 3] == 2
    one = elevation_map((0.0, 0.0), half_size_m=1.0, resolution_m=0.1).fuse(
        [[x, y, 1.0], [x + 0.01, y, 2.0]], [0.01, 0.02])
    wa, wb = 1e4, 2.5e3
    assert one.height_m[4, 3] == pytest.approx((wa + 2 * wb) / (wa + wb), rel=1e-12)
    assert one.sigma_m[4, 3] == pytest.approx(math.sqrt(2 / (wa + wb)), rel=1e-12)


def test_fuse_ignores_points_outside_and_rejects_bad_input():
    em = elevation_map((0.0, 0.0), half_size_m=1.0)
    assert not em.fuse([[5.0, 5.0, 1.0]], 0.1).known.any()
    with pytest.raises(ScenarioError, match="points_enu.shape"):
        em.fuse(np.zeros((3, 2)), 0.1)
    with pytest.raises(ScenarioError, match="points_enu"):
        em.fuse([[0.0, np.nan, 0.0]], 0.1)
    with pytest.raises(ScenarioError, match="sigma_z_m"):
        em.fuse([[0.0, 0.0, 0.0]], 0.0)
    with pytest.raises(ScenarioError, match="resolution_m"):
        elevation_map((0.0, 0.0), resolution_m=-1)
    with pytest.raises(ScenarioError, match="center_xy_m"):
        elevation_map((0.0, 0.0, 0.0))
    with pytest.raises(ScenarioError, match="emap"):
        hazard_costmap(np.zeros((4, 4)), **YUTU2_KW)
    with pytest.raises(ScenarioError, match="max_slope_deg"):
        hazard_costmap(em, max_slope_deg=95.0, **YUTU2_KW)
    with pytest.raises(ScenarioError, match="unknown_cost"):
        hazard_costmap(em, unknown_cost=float("inf"), **YUTU2_KW)


@pytest.mark.parametrize("slope_deg, azimuth_deg", [(5.0, 30.0), (15.0, 200.0), (19.0, 90.0), (21.0, 300.0),
                                                     (30.0, 0.0)])
def test_slope_of_a_plane(slope_deg, azimuth_deg):
    """A tilted plane (z rising toward ``azimuth``): slope within 0.05 deg everywhere it is
    computed, step 0 (the plane's own drop is removed), roughness 0; lethal exactly above 20 deg."""
    g = math.tan(math.radians(slope_deg))
    az = math.radians(azimuth_deg)
    pts = _surface_points(lambda x, y: -5935.0 + g * (x * math.sin(az) + y * math.cos(az)), half_m=3.0)
    em = elevation_map((0.0, 0.0), half_size_m=3.0, resolution_m=0.05).fuse(pts, 0.005)
    hz = hazard_costmap(em, **YUTU2_KW)
    inner = np.isfinite(hz.slope_deg)
    assert inner.mean() > 0.8
    np.testing.assert_allclose(hz.slope_deg[inner], slope_deg, atol=0.05)
    # the plane's drop over a 0.55 m window is removed; cell-mean discretisation leaves < 1 cm
    assert np.nanmax(hz.step_m) < 0.01 and np.nanmax(hz.roughness_m[inner]) < 0.005
    assert hz.lethal[inner].all() == (slope_deg > 20.0) and hz.lethal[inner].any() == (slope_deg > 20.0)


@pytest.mark.parametrize("height_m, lethal", [(0.25, True), (0.30, True), (0.12, False), (0.18, False)])
def test_step_of_a_block_and_footprint_dilation(height_m, lethal):
    """A 0.4 m square block on a 10 deg slope: step = block height within 1 cm (analytic), hazard
    only on the block's cells, and lethal cells = the block dilated by the footprint radius
    (0.75 m): a cell 0.70 m from its edge is lethal, 0.85 m away is not."""
    g = math.tan(math.radians(10.0))

    def fn(x, y):
        on = (np.abs(x) < 0.2) & (np.abs(y) < 0.2)
        return g * y + np.where(on, height_m, 0.0)

    pts = _surface_points(fn, half_m=3.0)
    em = elevation_map((0.0, 0.0), half_size_m=3.0, resolution_m=0.05).fuse(pts, 0.005)
    hz = hazard_costmap(em, **YUTU2_KW)
    xx, yy = _cell_centres(em)
    block = (np.abs(xx) < 0.2) & (np.abs(yy) < 0.2)
    assert abs(np.nanmax(hz.step_m) - height_m) < 0.01
    assert np.nanmax(hz.step_m[~block]) < 0.01
    assert hz.hazard.any() == lethal and not hz.hazard[~block].any()
    r, c = em.xy_to_ij([0.0, 0.9, 1.05, 0.0, 0.0], [0.0, 0.0, 0.0, 0.9, -1.05])
    assert list(hz.lethal[r, c]) == [lethal, lethal, False, lethal, False]
    assert np.all(np.isinf(hz.cost[hz.lethal])) and np.all(np.isfinite(hz.cost[~hz.lethal]))


def test_roughness_of_a_corrugated_surface():
    """Sinusoidal ripples of amplitude a and 0.25 m wavelength (below the 1 m plane window): RMS
    residual from the plane = a / sqrt(2) within 10 % (analytic); lethal when above the limit."""
    for a, lethal in ((0.05, False), (0.2, True)):
        pts = _surface_points(lambda x, y: a * np.sin(2 * np.pi * x / 0.25), half_m=3.0, spacing_m=0.005)
        em = elevation_map((0.0, 0.0), half_size_m=3.0, resolution_m=0.025).fuse(pts, 0.005)
        hz = hazard_costmap(em, max_step_m=10.0, **YUTU2_KW)
        inner = np.isfinite(hz.roughness_m)
        # a 2.5 cm cell averages the sine over a tenth of a wavelength: amplitude x sinc(0.1) = 0.984 a
        assert np.nanmedian(hz.roughness_m) == pytest.approx(a * 0.984 / math.sqrt(2), rel=0.1)
        assert hz.lethal[inner].all() == lethal


def test_unknown_cells_get_a_finite_cost_and_plan_path_accepts_the_map():
    """Unseen ground costs ``unknown_cost`` (finite: farside.rover.plan_path rejects NaN); the
    planner's path avoids every lethal cell and crosses a wall of rocks through its gap."""
    from farside.rover import plan_path

    def fn(x, y):
        wall = (np.abs(y) < 0.2) & (np.abs(x) > 0.9)      # 0.3 m ridge with a 1.8 m gap at x = 0
        return np.where(wall, 0.3, 0.0)

    pts = _surface_points(fn, half_m=3.0)
    pts = pts[~((pts[:, 0] > 1.5) & (pts[:, 1] > 1.5))]     # a corner never seen
    em = elevation_map((0.0, 0.0), half_size_m=3.0, resolution_m=0.05).fuse(pts, 0.01)
    hz = hazard_costmap(em, unknown_cost=7.5, **YUTU2_KW)
    xx, yy = _cell_centres(em)
    corner = (xx > 1.8) & (yy > 1.8)
    assert hz.unknown[corner].all() and np.all(hz.cost[corner] == 7.5)
    assert not np.isnan(hz.cost).any() and np.nanmin(hz.cost) >= 1.0
    start, goal = np.stack(em.xy_to_ij([0.0, 0.0], [-2.0, 2.0]), axis=1)
    path, total = plan_path(hz.cost, (int(start[0]), int(start[1])), (int(goal[0]), int(goal[1])))
    assert not hz.lethal[path[:, 0], path[:, 1]].any()
    assert np.all(np.abs(em.x_m[path[:, 1]][np.abs(em.y_m[path[:, 0]]) < 0.2]) < 0.2)   # through the gap


def _true_traversable(emap: ElevationMap, patch, rocks, *, footprint_m: float) -> np.ndarray:
    """Cells where the rover's reference point may truly stand, from the true geometry only: more
    than footprint + the rock's reach (1.25 R: angular footprints reach 1.25 radii) + 0.10 m from
    every table rock taller than 0.20 m, with true relief (patch heights minus their 0.5 m
    Gaussian-smoothed surface) under 0.15 m and smoothed slope under 20 deg."""
    xx, yy = _cell_centres(emap)
    ht = np.asarray(patch.height_at(xx.ravel(), yy.ravel()), float).reshape(xx.shape)
    smooth = ndimage.gaussian_filter(ht, 0.5 / emap.resolution_m, mode="nearest")
    gy, gx = np.gradient(smooth, emap.resolution_m)
    ok = (np.abs(ht - smooth) < 0.15) & (np.degrees(np.arctan(np.hypot(gx, gy))) < 20.0)
    for r in rocks.itertuples():
        if r.height_m > 0.20:
            ok &= np.hypot(xx - r.x_m, yy - r.y_m) > footprint_m + 1.25 * r.diameter_m / 2 + 0.10
    return ok, ht


@pytest.mark.slow
def test_rendered_stops_map_rocks_as_lethal(report_measured):
    """Two rendered Navcam stops fused into a 5 cm map (range <= 9 m), against the truth: every
    rock taller than 0.20 m (rock table) whose footprint is mapped has hazard cells on it and a
    lethal centre (recall >= 95 %; here 6 of 6 required); rocks 0.10 m tall carry no hazard;
    <= 10 % of the truly traversable mapped area is lethal; map heights within 3 sigma + 1 cm of
    the true patch heights on >= 95 % of known cells."""
    from tests.vision._stereo_scene import ROCKS, scene
    from farside.vision.stereo import stereo_points

    sc = scene()
    em = elevation_map((0.0, 3.5), half_size_m=5.0, resolution_m=0.05)
    times = []
    for stop in sc.stops:
        t0 = time.perf_counter()
        sp = stereo_points(stop.left.dn, stop.right.dn, stop.left_cam, stop.right_cam, max_range_m=9.0)
        em = em.fuse(sp.points_enu, sp.sigma_z_m)
        hz = hazard_costmap(em, **YUTU2_KW)
        times.append((stop.render_s, time.perf_counter() - t0))
    known = em.known
    trav, ht = _true_traversable(em, sc.patches[0], ROCKS, footprint_m=0.75)
    err = np.abs(em.height_m - ht)[known]
    assert np.mean(err <= 3 * em.sigma_m[known] + 0.01) >= 0.95
    hits, tall = 0, 0
    steps = []
    for r in ROCKS.itertuples():
        i, j = em.xy_to_ij(r.x_m, r.y_m)
        k = int(math.ceil(r.diameter_m / 2 / em.resolution_m))
        win = (slice(i - k, i + k + 1), slice(j - k, j + k + 1))
        if known[win].mean() < 0.3:
            continue                                  # footprint not mapped (occluded / out of view)
        steps.append(f"{r.height_m:.2f}->{np.nanmax(hz.step_m[win]):.2f}")
        if r.height_m > 0.20:
            tall += 1
            hits += int(hz.hazard[win].any() and hz.lethal[i, j])
        else:
            assert not hz.hazard[win].any(), (r.x_m, r.y_m)
    assert tall == 6 and hits / tall >= 0.95
    fl = float(np.mean(hz.lethal[trav & known]))
    assert np.count_nonzero(trav & known) > 2000 and fl <= 0.10
    report_measured(
        f"navcam map (2 stops, 5 cm cells, <= 9 m): known {known.sum()} cells, median |height error| "
        f"{100 * np.median(err):.2f} cm; rock recall {hits}/{tall}; false lethal {100 * fl:.1f} % of "
        f"{np.count_nonzero(trav & known)} truly traversable cells; rock height->max step (m) "
        f"{', '.join(steps)}; per stop: render pair + (stereo + fuse + costmap) = "
        + ", ".join(f"{a:.2f} s + {b:.2f} s" for a, b in times))
