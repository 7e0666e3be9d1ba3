"""Optimal path planning on a cost grid (A*, scikit-image ``MCP_Geometric``'s cost definition).

A costmap assigns every cell a non-negative traversal cost per cell length (``inf`` =
impassable). A step between neighbouring cells costs its length in cells (1, or ``sqrt(2)`` for a
diagonal) times the mean of the two cells' costs -- exactly scikit-image's
``skimage.graph.MCP_Geometric`` -- and a path's cost is the sum of its steps' costs.
:func:`plan_path` returns a minimum-cost path between two cells: A* with the admissible, consistent
heuristic ``c_min x`` octile (8-connected) or Manhattan (4-connected) distance, ``c_min`` the
grid's smallest finite cost, in numba with a binary heap over ``f`` buckets, stopping as soon as
the goal is settled (:mod:`farside.rover._kernels_planning`). Ties are broken deterministically (lowest ``f``, then the
larger cost-so-far, then the lower row-major cell index), so the same input always yields the same
path.

To get a cost in metres-weighted units, multiply ``total_cost`` by the pixel size in metres.
"""

from __future__ import annotations

import numbers

import numpy as np

from farside.errors import PhysicsError, invalid
from farside.rover import _kernels_planning as _k

__all__ = ["plan_path"]


def _cell(name: str, value, shape: tuple[int, int]) -> tuple[int, int]:
    """Validate a (row, col) integer pair inside the grid."""
    try:
        items = tuple(value)
    except TypeError:
        raise invalid(name, value, "a (row, col) pair of integers") from None
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise invalid(name, value, "a (row, col) pair of integers")
    r, c = int(items[0]), int(items[1])
    if not (0 <= r < shape[0] and 0 <= c < shape[1]):
        raise invalid(name, (r, c), f"a cell inside the {shape[0]} x {shape[1]} grid (0 <= row < "
                      f"{shape[0]}, 0 <= col < {shape[1]})")
    return r, c


def plan_path(cost, start, goal, *, connectivity: int = 8) -> tuple[np.ndarray, float]:
    """Minimum-cost path between two cells of a cost grid.

    Parameters
    ----------
    cost : (rows, cols) array_like of float
        Traversal cost of each cell per cell length (dimensionless or any unit per cell), >= 0;
        ``inf`` marks an impassable cell. NaN and negative values are rejected.
    start, goal : (row, col) pair of int
        The end cells (row 0 is the first row of ``cost``); inside the grid and of finite cost.
    connectivity : {4, 8}
        Edge neighbours only, or edge and diagonal neighbours (keyword-only, default 8).

    Returns
    -------
    path : (n, 2) int64 ndarray
        ``(row, col)`` of every cell from ``start`` to ``goal`` inclusive; consecutive cells are
        neighbours under ``connectivity`` and no cell has infinite cost. A single row when
        ``start == goal``.
    total_cost : float
        Sum over the steps of ``length x (cost[a] + cost[b]) / 2``, ``length`` 1 or ``sqrt(2)``
        (scikit-image ``MCP_Geometric``); the minimum over all such paths. Same units as ``cost``
        times cells.

    Raises
    ------
    ScenarioError
        ``cost`` not 2-D, empty, non-numeric, with NaN or negative entries; ``connectivity`` not 4
        or 8; ``start``/``goal`` not an integer pair, outside the grid or on an ``inf`` cell.
    PhysicsError
        No path: every route from ``start`` to ``goal`` crosses an impassable cell. (Raised rather
        than returning an empty path, so that an unreachable goal cannot pass unnoticed.)

    Examples
    --------
    >>> import numpy as np
    >>> grid = np.ones((3, 3)); grid[1, 1] = np.inf
    >>> path, c = plan_path(grid, (0, 0), (2, 2))
    >>> path.tolist(), round(c, 6)
    ([[0, 0], [0, 1], [1, 2], [2, 2]], 3.414214)
    """
    if isinstance(connectivity, bool) or connectivity not in (4, 8):
        raise invalid("connectivity", connectivity, "4 or 8")
    try:
        arr = np.asarray(cost)
    except Exception:  # noqa: BLE001 - anything numpy cannot turn into an array
        raise invalid("cost", type(cost).__name__, "a 2-D array of floats") from None
    if arr.ndim != 2 or arr.size == 0:
        raise invalid("cost.shape", arr.shape, "a non-empty 2-D array")
    if arr.dtype.kind not in "biufO":
        raise invalid("cost.dtype", str(arr.dtype), "a real numeric dtype")
    if arr.dtype not in (np.float32, np.float64):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise invalid("cost.dtype", str(arr.dtype), "a real numeric dtype") from None
    shape = (int(arr.shape[0]), int(arr.shape[1]))
    s = _cell("start", start, shape)
    t = _cell("goal", goal, shape)

    cg, status, cmin, cmax = _k.prepare(arr)
    if status == _k.HAS_NAN:
        raise invalid("cost", "an array with NaN", "finite costs >= 0, or inf for impassable cells")
    if status == _k.HAS_NEGATIVE:
        raise invalid("cost", "an array with negative entries",
                      "finite costs >= 0, or inf for impassable cells")
    for name, (r, c) in (("start", s), ("goal", t)):
        if not np.isfinite(arr[r, c]):
            raise invalid(name, (r, c), f"a cell of finite cost (cost[{r}, {c}] = inf, impassable)")

    w = shape[1] + 2
    si = (s[0] + 1) * w + s[1] + 1
    gi = (t[0] + 1) * w + t[1] + 1
    flat, total, _ = _k.astar(cg, w, si, gi, int(connectivity), float(cmin), float(cmax))
    if flat.size == 0:
        raise invalid("goal", t, f"reachable from start = {s} through finite-cost cells "
                      f"(every {connectivity}-connected route crosses an impassable cell)", PhysicsError)
    path = np.empty((flat.size, 2), dtype=np.int64)
    path[:, 0] = flat // w - 1
    path[:, 1] = flat % w - 1
    return path, float(total)
