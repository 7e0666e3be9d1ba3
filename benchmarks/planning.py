"""Benchmark: single-pair optimal path planning on a 4096 x 4096 costmap.

Costmap: the generated Chang'e-4-like site ``farside.terrain.generate_site(4096, 0.5, rng=0)``
(2048 m square at 0.5 m/px), slope from ``farside.terrain.slope_deg`` (2-pixel baseline),
``cost = 1 + slope_deg / 5``, impassable (``inf``) above 20 deg and on the footprint of every rock
taller than 0.2 m. Start and goal ~1.5 km apart on the site diagonal (moved to the nearest passable
cell).

Rows:

* ``farside.rover.plan_path`` (A*, octile x min-cost heuristic, numba binary heap, stops at the goal;
  the call's input checks and padded copy included);
* scikit-image ``MCP_Geometric(cost).find_costs([start], ends=[goal])`` + ``traceback(goal)``: the
  same cost definition (step length x mean of the two cells' costs), Dijkstra stopped when the goal is
  settled. The path costs must agree to 1e-6 relative (asserted);
* ``pyastar2d.astar_path`` (C++ A*), if installed: it optimises a different cost (the entered cell's
  weight, diagonal steps not lengthened), so only its time is reported, on its own definition; its
  path's MCP-definition cost is shown for information, not compared.

Times are CPU seconds of this process (``time.process_time``, single thread), best of ``repeats``
calls each (farside after a JIT warm-up); the machine is shared, so the best of several is the
least disturbed. Run: ``.venv/bin/python benchmarks/planning.py [repeats]`` (default 3; farside
~0.6 s a call, MCP ~8 s).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from skimage.graph import MCP_Geometric

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

from farside.rover import plan_path
from farside.terrain import generate_site, slope_deg

SIZE_PX = 4096
RES_M = 0.5
MAX_SLOPE_DEG = 20.0
MAX_ROCK_HEIGHT_M = 0.2
START_XY_M = (-530.0, -530.0)  # site ENU (east, north), metres: 1499 m apart
GOAL_XY_M = (530.0, 530.0)


def costmap() -> tuple[np.ndarray, object]:
    """The benchmark's cost grid (float64) and the site's terrain."""
    site = generate_site(SIZE_PX, RES_M, rng=0)
    terr = site.terrain
    slope = slope_deg(terr).astype(np.float64)
    cost = 1.0 + slope / 5.0
    cost[slope > MAX_SLOPE_DEG] = np.inf
    rows, cols = cost.shape
    big = site.rocks[site.rocks["height_m"] > MAX_ROCK_HEIGHT_M]
    for x, y, d in zip(big["x_m"], big["y_m"], big["diameter_m"]):
        ci = (x - terr.x0_m) / terr.resolution_m - 0.5
        ri = (terr.y0_m - y) / terr.resolution_m - 0.5
        rad = 0.5 * d / terr.resolution_m
        r0, r1 = max(0, math.floor(ri - rad)), min(rows - 1, math.ceil(ri + rad))
        c0, c1 = max(0, math.floor(ci - rad)), min(cols - 1, math.ceil(ci + rad))
        rr, cc = np.mgrid[r0:r1 + 1, c0:c1 + 1]
        inside = (rr - ri) ** 2 + (cc - ci) ** 2 <= max(rad, 0.5) ** 2
        cost[rr[inside], cc[inside]] = np.inf
    return cost, terr


def cell_of(terr, xy: tuple[float, float], cost: np.ndarray) -> tuple[int, int]:
    """The passable cell nearest to site-ENU point ``xy``."""
    c = int((xy[0] - terr.x0_m) / terr.resolution_m)
    r = int((terr.y0_m - xy[1]) / terr.resolution_m)
    fr, fc = np.nonzero(np.isfinite(cost[max(0, r - 50):r + 51, max(0, c - 50):c + 51]))
    k = np.argmin((fr + max(0, r - 50) - r) ** 2 + (fc + max(0, c - 50) - c) ** 2)
    return int(fr[k] + max(0, r - 50)), int(fc[k] + max(0, c - 50))


def mcp_path_cost(cost: np.ndarray, path) -> float:
    """MCP_Geometric cost of a cell path: sum of step length x mean of the two cells' costs."""
    p = np.asarray(path, dtype=np.int64)
    a = cost[p[:-1, 0], p[:-1, 1]]
    b = cost[p[1:, 0], p[1:, 1]]
    step = np.hypot(*(p[1:] - p[:-1]).T)
    return float(np.sum(step * 0.5 * (a + b)))


def main(repeats: int = 3) -> None:
    t0 = time.perf_counter()
    cost, terr = costmap()
    start = cell_of(terr, START_XY_M, cost)
    goal = cell_of(terr, GOAL_XY_M, cost)
    dist_m = RES_M * math.hypot(goal[0] - start[0], goal[1] - start[1])
    print(f"costmap {SIZE_PX} x {SIZE_PX} at {RES_M} m/px built in {time.perf_counter() - t0:.1f} s; "
          f"{np.mean(~np.isfinite(cost)):.1%} impassable; start {start}, goal {goal} "
          f"({dist_m:.0f} m apart)")

    plan_path(np.ones((8, 8)), (0, 0), (7, 7))  # JIT warm-up (cached compile)
    best = math.inf
    for _ in range(repeats):
        t = time.process_time()
        path, total = plan_path(cost, start, goal)
        best = min(best, time.process_time() - t)
    own = mcp_path_cost(cost, path)

    t_mcp = math.inf
    for _ in range(repeats):
        t = time.process_time()
        mcp = MCP_Geometric(cost, fully_connected=True)
        cum, _ = mcp.find_costs([start], ends=[goal])
        mpath = mcp.traceback(goal)
        t_mcp = min(t_mcp, time.process_time() - t)
    c_mcp = float(cum[goal])
    reached = int(np.isfinite(cum).sum())
    rel = abs(total - c_mcp) / c_mcp
    assert rel <= 1e-6, f"plan_path cost {total} != MCP_Geometric {c_mcp}"
    assert abs(own - total) <= 1e-6 * total

    rows = [
        ["farside plan_path (A*, numba)", f"{best:.2f}", f"{total:.4f}", len(path), f"{t_mcp / best:.1f}x"],
        ["skimage MCP_Geometric (ends=[goal])", f"{t_mcp:.2f}", f"{c_mcp:.4f}", len(mpath), "1.0x"],
    ]
    try:
        import pyastar2d
    except ImportError:
        rows.append(["pyastar2d", "not installed", "-", "-", "-"])
    else:
        w = cost.astype(np.float32)
        t_pa = math.inf
        for _ in range(repeats):
            t = time.process_time()
            ppath = pyastar2d.astar_path(w, start, goal, allow_diagonal=True)
            t_pa = min(t_pa, time.process_time() - t)
        rows.append(["pyastar2d (own cost: entered cell's weight)", f"{t_pa:.2f}",
                     f"({mcp_path_cost(cost, ppath):.4f} under MCP rule)", len(ppath),
                     f"{t_mcp / t_pa:.1f}x (different problem)"])
    print_table(["planner", "CPU s", "path cost", "path cells", "speed-up vs MCP"], rows)
    print(f"|plan_path - MCP| / MCP = {rel:.1e}; MCP reached {reached} cells "
          f"({reached / cost.size:.0%} of the grid)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
