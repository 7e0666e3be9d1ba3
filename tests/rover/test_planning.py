"""Tests of farside.rover.plan_path (A* on a cost grid, MCP_Geometric's cost definition).

Independent references:

* scikit-image ``skimage.graph.MCP_Geometric`` (van der Walt et al. 2014, scikit-image: image
  processing in Python, PeerJ 2:e453): Dijkstra's algorithm on the same cost definition (step
  length x mean of the two cells' costs). Its cumulative cost at the goal is the optimum our A*
  must reach, to 1e-6 relative, and the cost of its traceback path must equal ours (the paths
  themselves may differ where ties exist).
* Analytic shortest paths on a uniform grid: octile distance ``max + (sqrt 2 - 1) min`` (8-connected)
  and Manhattan distance (4-connected), times the uniform cost.
* Real lunar terrain: LOLA 5 m/px DEM crops of south-pole sites (NASA GSFC PGDA product 78, via
  nasa-jpl/lunasynth; /work/shared/data/lunar_dem/SOURCES.md), slope-based cost.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import PhysicsError, ScenarioError
from farside.rover import _kernels_planning as _k
from farside.rover import plan_path
from tests.conftest import shared_data

skgraph = pytest.importorskip("skimage.graph")

REL = 1e-6


def path_cost(cost: np.ndarray, path) -> float:
    """MCP_Geometric's cost of a cell path, recomputed here: sum of step length x mean cost."""
    p = np.asarray(path, dtype=np.int64)
    if len(p) < 2:
        return 0.0
    d = np.diff(p, axis=0)
    length = np.sqrt((d.astype(float) ** 2).sum(axis=1))
    return float(np.sum(length * 0.5 * (cost[p[:-1, 0], p[:-1, 1]] + cost[p[1:, 0], p[1:, 1]])))


def check_path(cost: np.ndarray, path: np.ndarray, start, goal, connectivity: int) -> None:
    """Shape, end cells, neighbour steps, and no impassable cell."""
    assert path.ndim == 2 and path.shape[1] == 2 and path.dtype.kind == "i"
    assert tuple(path[0]) == tuple(start) and tuple(path[-1]) == tuple(goal)
    d = np.abs(np.diff(path, axis=0))
    assert np.all(d.max(axis=1) == 1), "every step moves to a neighbouring cell"
    if connectivity == 4:
        assert np.all(d.sum(axis=1) == 1), "4-connected steps are edge steps"
    assert np.all(np.isfinite(cost[path[:, 0], path[:, 1]])), "path enters an impassable cell"


def mcp_reference(cost: np.ndarray, start, goal, connectivity: int) -> tuple[float, float]:
    """(MCP cumulative cost at the goal, recomputed cost of MCP's traceback path)."""
    m = skgraph.MCP_Geometric(cost, fully_connected=connectivity == 8)
    cum, _ = m.find_costs([tuple(start)], [tuple(goal)])
    if not np.isfinite(cum[tuple(goal)]):
        return math.inf, math.inf
    return float(cum[tuple(goal)]), path_cost(cost, m.traceback(tuple(goal)))


def random_grid(seed: int, n: int, obstacle_fraction: float) -> tuple[np.ndarray, tuple, tuple]:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0.2, 5.0, (n, n))
    cost[rng.random((n, n)) < obstacle_fraction] = np.inf
    # a few rectangular walls with gaps, so the optimum has to detour
    for _ in range(3):
        r = int(rng.integers(5, n - 5))
        c0, c1 = sorted(rng.integers(0, n, 2))
        cost[r, c0:c1] = np.inf
    start = (int(rng.integers(0, n // 4)), int(rng.integers(0, n // 4)))
    goal = (int(rng.integers(3 * n // 4, n)), int(rng.integers(3 * n // 4, n)))
    cost[start] = cost[goal] = 1.0
    return cost, start, goal


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize(("seed", "n", "obstacles"), [(0, 50, 0.1), (1, 120, 0.2), (2, 200, 0.3), (3, 300, 0.25)])
def test_random_grids_match_mcp_geometric(seed, n, obstacles, connectivity):
    """Optimal cost equals MCP_Geometric's to 1e-6 relative on random grids with inf obstacles;
    the path is valid, its recomputed cost equals total_cost, and MCP's own path costs the same."""
    cost, start, goal = random_grid(seed, n, obstacles)
    ref, ref_path_cost = mcp_reference(cost, start, goal, connectivity)
    if not math.isfinite(ref):
        with pytest.raises(PhysicsError):
            plan_path(cost, start, goal, connectivity=connectivity)
        return
    path, total = plan_path(cost, start, goal, connectivity=connectivity)
    check_path(cost, path, start, goal, connectivity)
    assert total == pytest.approx(ref, rel=REL)
    assert path_cost(cost, path) == pytest.approx(total, rel=REL)
    assert ref_path_cost == pytest.approx(total, rel=REL)


def test_uniform_grid_analytic():
    """Uniform cost c: the optimum is c x octile distance (8-connected) or c x Manhattan
    distance (4-connected), e.g. (0,0)->(3,5): 2 + 3 sqrt 2 and 8 cells."""
    cost = np.full((10, 12), 2.5)
    _, t8 = plan_path(cost, (0, 0), (3, 5))
    _, t4 = plan_path(cost, (0, 0), (3, 5), connectivity=4)
    assert t8 == pytest.approx(2.5 * (2 + 3 * math.sqrt(2)), rel=1e-12)
    assert t4 == pytest.approx(2.5 * 8, rel=1e-12)
    path, t0 = plan_path(cost, (4, 4), (4, 4))
    assert path.tolist() == [[4, 4]] and t0 == 0.0


def test_detour_around_wall_analytic():
    """A wall with one gap: unit cost, 8-connected. From (0,0) to (0,8) with the wall in column 4
    open only at row 6, the optimum is octile((0,0),(6,4)) + octile((6,4),(0,8)) = 2 (4 sqrt 2 + 2)."""
    cost = np.ones((8, 9))
    cost[:, 4] = np.inf
    cost[6, 4] = 1.0
    path, total = plan_path(cost, (0, 0), (0, 8))
    check_path(cost, path, (0, 0), (0, 8), 8)
    assert [6, 4] in path.tolist()
    assert total == pytest.approx(2 * (4 * math.sqrt(2) + 2), rel=1e-12)


def test_cheap_lane_beside_expensive_straight_line():
    """Row 0 costs 1.25, rows 1-2 cost 1: from (0,0) to (0,20) the optimum leaves row 0 diagonally,
    runs 18 cells along row 1 and returns diagonally: 18 + 2 sqrt 2 (1.25 + 1)/2 = 21.182 (the
    straight line costs 25; dropping straight down and back costs 22.25)."""
    cost = np.ones((3, 21))
    cost[0] = 1.25
    path, total = plan_path(cost, (0, 0), (0, 20))
    check_path(cost, path, (0, 0), (0, 20), 8)
    assert total == pytest.approx(18 + 2 * math.sqrt(2) * 1.125, rel=1e-12)
    assert path.tolist()[1] == [1, 1] and path.tolist()[-2] == [1, 19]


def test_zero_cost_cells_and_dtypes():
    """Zero-cost cells (heuristic scale 0, pure Dijkstra), float32 and integer input: same optimum
    as MCP_Geometric."""
    rng = np.random.default_rng(7)
    cost = rng.integers(0, 6, (60, 70)).astype(float)
    cost[rng.random(cost.shape) < 0.15] = np.inf
    cost[0, 0] = cost[59, 69] = 1.0
    ref, _ = mcp_reference(cost, (0, 0), (59, 69), 8)
    for arr in (cost, cost.astype(np.float32)):
        _, total = plan_path(arr, (0, 0), (59, 69))
        assert total == pytest.approx(ref, rel=REL)
    finite = np.where(np.isfinite(cost), cost, 0).astype(np.int64)
    ref_int, _ = mcp_reference(finite.astype(float), (0, 0), (59, 69), 4)
    _, total = plan_path(finite, (0, 0), (59, 69), connectivity=4)
    assert total == pytest.approx(ref_int, rel=REL)


def test_queue_growth_and_wide_cost_range():
    """Tiny initial heap/pool capacities (forcing every growth path) and one huge finite cost
    (a single coarse bucket) give the same optimum as MCP_Geometric."""
    cost, start, goal = random_grid(11, 150, 0.2)
    ref, _ = mcp_reference(cost, start, goal, 8)
    cg, _, cmin, cmax = _k.prepare(cost)
    w = cost.shape[1] + 2
    si, gi = (start[0] + 1) * w + start[1] + 1, (goal[0] + 1) * w + goal[1] + 1
    flat, total, _ = _k.astar(cg, w, si, gi, 8, cmin, cmax, 8, 8)
    assert total == pytest.approx(ref, rel=REL)
    assert path_cost(cost, np.c_[flat // w - 1, flat % w - 1]) == pytest.approx(ref, rel=REL)
    cost2 = cost.copy()
    cost2[-1, 0] = 1e12
    ref2, _ = mcp_reference(cost2, start, goal, 8)
    _, total2 = plan_path(cost2, start, goal)
    assert total2 == pytest.approx(ref2, rel=REL)


def test_deterministic():
    """Equal-cost ties (uniform grid): repeated calls return the identical path."""
    cost = np.ones((40, 40))
    a, _ = plan_path(cost, (0, 0), (39, 25))
    b, _ = plan_path(cost.copy(), (0, 0), (39, 25))
    assert np.array_equal(a, b)


def dem_cost(name: str, max_slope_deg: float) -> tuple[np.ndarray, float]:
    rasterio = pytest.importorskip("rasterio")
    path = shared_data("lunar_dem", name)
    with rasterio.open(path) as ds:
        z = ds.read(1).astype(np.float64)
        res = float(abs(ds.transform.a))
    gy, gx = np.gradient(z, res)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    cost = 1.0 + slope / 5.0
    cost[slope > max_slope_deg] = np.inf
    return cost, res


@pytest.mark.parametrize(
    ("name", "max_slope_deg"),
    [("NPB_final_adj_5mpp_surf_piece_1km_2_12.tif", 20.0),
     ("NPB_final_adj_5mpp_surf_piece_1km_2_12.tif", 6.0),  # 42 % impassable
     ("NPC_final_adj_5mpp_surf_piece_2km_2_1.tif", 20.0)],
)
@pytest.mark.parametrize("connectivity", [4, 8])
def test_real_lunar_dem_matches_mcp_geometric(name, max_slope_deg, connectivity):
    """LOLA 5 m/px south-pole DEM (PGDA 78), cost = 1 + slope/5, impassable above the slope
    limit: corner-to-corner optimum equals MCP_Geometric's to 1e-6 relative."""
    cost, _ = dem_cost(name, max_slope_deg)
    n = cost.shape[0]
    finite = np.argwhere(np.isfinite(cost))
    start = tuple(finite[np.argmin(finite.sum(axis=1))])  # nearest the north-west corner
    goal = tuple(finite[np.argmax(finite.sum(axis=1))])  # nearest the south-east corner
    assert math.dist(start, goal) > 0.9 * n
    ref, ref_path_cost = mcp_reference(cost, start, goal, connectivity)
    if not math.isfinite(ref):
        with pytest.raises(PhysicsError):
            plan_path(cost, start, goal, connectivity=connectivity)
        return
    path, total = plan_path(cost, start, goal, connectivity=connectivity)
    check_path(cost, path, start, goal, connectivity)
    assert total == pytest.approx(ref, rel=REL)
    assert path_cost(cost, path) == pytest.approx(total, rel=REL)
    assert ref_path_cost == pytest.approx(total, rel=REL)


def test_no_path_raises_physics_error():
    """A closed ring of inf cells around the goal: one-line PhysicsError naming start and goal."""
    cost = np.ones((20, 20))
    cost[8:13, 8] = cost[8:13, 12] = np.inf
    cost[8, 8:13] = cost[12, 8:13] = np.inf
    with pytest.raises(PhysicsError) as exc:
        plan_path(cost, (0, 0), (10, 10))
    msg = str(exc.value)
    assert "\n" not in msg and "(10, 10)" in msg and "(0, 0)" in msg
    # 8-connected leaks through a diagonal gap that 4-connectivity cannot pass
    cost2 = np.ones((5, 5))
    cost2[0, 1] = cost2[1, 0] = np.inf
    plan_path(cost2, (0, 0), (4, 4))
    with pytest.raises(PhysicsError):
        plan_path(cost2, (0, 0), (4, 4), connectivity=4)


@pytest.mark.parametrize(
    ("cost", "start", "goal", "kw", "fragment"),
    [
        (np.array([[1.0, np.nan], [1.0, 1.0]]), (0, 0), (1, 1), {}, "NaN"),
        (np.array([[1.0, -0.5], [1.0, 1.0]]), (0, 0), (1, 1), {}, "negative"),
        (np.array([[1.0, -np.inf], [1.0, 1.0]]), (0, 0), (1, 1), {}, "negative"),
        (np.ones((3, 3)), (3, 0), (1, 1), {}, "start"),
        (np.ones((3, 3)), (-1, 0), (1, 1), {}, "start"),
        (np.ones((3, 3)), (0, 0), (1, 7), {}, "goal"),
        (np.array([[1.0, 1.0], [1.0, np.inf]]), (0, 0), (1, 1), {}, "goal"),
        (np.array([[np.inf, 1.0], [1.0, 1.0]]), (0, 0), (1, 1), {}, "start"),
        (np.ones((3, 3)), (0.5, 0), (1, 1), {}, "start"),
        (np.ones((3, 3)), (0, 0, 0), (1, 1), {}, "start"),
        (np.ones((3, 3)), (0, 0), (1, 1), {"connectivity": 6}, "connectivity"),
        (np.ones(9), (0, 0), (1, 1), {}, "cost.shape"),
        (np.ones((0, 3)), (0, 0), (1, 1), {}, "cost.shape"),
        (np.array([["a", "b"], ["c", "d"]]), (0, 0), (1, 1), {}, "cost.dtype"),
    ],
)
def test_bad_input_raises_one_line_scenario_error(cost, start, goal, kw, fragment):
    """Invalid cost grids, cells and connectivity: a one-line ScenarioError naming the parameter."""
    with pytest.raises(ScenarioError) as exc:
        plan_path(cost, start, goal, **kw)
    msg = str(exc.value)
    assert "\n" not in msg and fragment in msg and "is invalid" in msg
