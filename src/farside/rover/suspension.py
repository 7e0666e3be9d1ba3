"""The rover's rocker-bogie on the terrain: the ground under a wheel, the quasi-static pose, wheel
loads, belly clearance, tip-over margin, and the cost of turning.

Conventions
-----------
* **Heading** is a compass heading: degrees clockwise from north (site ENU +y), the direction of
  the body's +x axis (the same convention as :mod:`farside.rover.surface`).
* **Body frame** (:class:`farside.rover.Rover`): x forward, y left, z up, origin on the ground
  below the body centre on level terrain. The body attitude is ``R = Rz(90 deg - heading)
  Ry(-pitch) Rx(roll)``: ``pitch_deg`` > 0 is nose up, ``roll_deg`` > 0 is left side up.
* **Linkage.** Each side has a rocker (front wheel + bogie pivot) pivoting on the body at
  ``(rocker_pivot_x_m, +-track/2, r + rocker_pivot_height_m)`` and a bogie (middle + rear wheel)
  pivoting on the rocker at ``(bogie_pivot_x_m, +-track/2, r + bogie_pivot_height_m)`` (``r`` the
  wheel radius; the vehicle's pivot heights are above the wheel axles). The differential makes the
  rockers turn by equal and opposite angles relative to the body, so the body pitch is the mean of
  the two rockers' pitch angles.

The ground
----------
:func:`ground_height` is the DEM's surface height (its triangle mesh, :mod:`farside.terrain.surface`) with the rocks of the site's rock table
on it: each rock is the seeded polyhedron of :func:`farside.terrain.rocks.rock_shapes` (the same
shape the DEM stamp, the regolith patches, the descent and the renderer use) with its fillet, and
the ground is ``max(base, seat + top)``, the rule of the DEM stamp. Rocks wider than two DEM pixels
are already stamped into a generated site's DEM (``stamp_rocks``, ``min_pixels=2``); near such a
rock (within its reach + 2.5 px, the reach of the stamp through the mesh interpolation) the base
is the rock's local base plane (a least-squares plane through 8 DEM samples on that ring) and its
seat that plane's height at the centre, not the DEM, so the rock is neither counted twice nor
smeared over the pixels the stamp touched. For a smaller rock the base is the DEM and the seat the
mean DEM height at its centre and +-R/2 along x and y. Both rules are exact on a plane, for stamped
and unstamped rocks alike.

The settled pose (:func:`settle`)
--------------------------------
Quasi-static and exact for the rigid linkage. Unknowns: body height, pitch, roll, the
differential angle and the two bogie angles (6); equations: each wheel (a cylinder of the wheel's
radius and width whose axle is the body's y axis) rests on the ground, i.e. its axle is at the
lowest height at which no point of its rim (sampled every 2.5 deg over +-70 deg about straight
down and at 5 points across the width) is below the ground (6). The horizontal position of the
body origin is the requested ``(x_m, y_m)``. Solved by Newton's method with the Jacobian of the
binding rim samples (Danskin) and a backtracking step length; where that stalls (a wheel against
a steep rock side) a damped fixed-point iteration with the ground frozen in the Jacobian takes
over. A wheel's contact point is on its rim at the binding angle (refined by a parabola through
the neighbouring samples), at the mean of the across-width samples within 0.25 mm of the binding
height. The rim samples reach 70 deg from straight down (r sin 70 deg ahead and behind the axle):
against a steeper wall (a rock's side) the wheel starts to climb up to r (1 - sin 70 deg), 9 mm for
Yutu-2, late.

Wheel loads (a statically determinate simplification): each wheel force is ``N_i (k_x, k_y, 1)``
in the body frame, i.e. its normal load ``N_i`` along the body z axis plus traction proportional
to it that carries the body-frame tangential part of the weight (equal mobilised friction on all
wheels); the six loads then follow from (1) the normal force balance, (2-3) the roll and pitch
moment balance of the whole rover about its origin, (4-5) the moment balance of each bogie about
its pivot, (6) the differential: equal moments about the rocker pivots on both sides. All the
weight ``m g`` acts at the centre of mass (the linkage is massless); the loads sum to ``m g cos
(tilt)``. A negative load means that wheel lifts off.

Stability margin: the force-angle measure of Papadopoulos & Rey (docs/references.md 7.9) with
gravity as the only force: for each edge of the convex hull of the six contacts, the angle between the gravity vector
and the line from the centre of mass to that edge (both normal to the edge); the margin is the
smallest, negative once the gravity line passes outside. On a cross-slope it is
``atan((track/2) / cg_height) - slope``, the static tip-over angle margin.

Belly clearance: the smallest vertical distance between the belly (the rectangle body_length x
(track - wheel_width) at ``belly_clearance_m`` in the body frame, between the wheel tracks) and
the ground with rocks, on a 5 cm grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from farside.errors import PhysicsError, invalid
from farside.rover._kernels_suspension import ground_kernel
from farside.rover.vehicle import YUTU2, Rover
from farside.terrain._kernels_rockshape import C_REACH, C_SEAT, NCOL, seats_kernel
from farside.terrain.rocks import rock_shapes

__all__ = [
    "RockIndex",
    "ground_height",
    "Pose",
    "PoseArray",
    "settle",
    "settle_path",
    "static_wheel_loads",
    "TurnCost",
    "turn_cost",
]

# rim sampling of a wheel: angles about straight down, points across the width
_RIM_STEP_DEG = 2.5
_RIM_HALF_DEG = 70.0
_WIDTH_SAMPLES = 5
_TIE_M = 2.5e-4
_BELLY_GRID_M = 0.05
_STAMP_MIN_PIXELS = 2.0      # farside.terrain.rocks.stamp_rocks default
_STAMP_REACH_PX = 2.5        # stamp (0.71 px) + a vertex's reach through the mesh (1.41 px), rounded up
_NEWTON_TOL_M = 1e-7
_NEWTON_MAX_IT = 40
_FALLBACK_MAX_IT = 150


# ----------------------------------------------------------------------------------------------
# the ground
class RockIndex:
    """A bucket index of a site's rock table for fast "which rocks are under this point" queries.

    Parameters
    ----------
    rocks : pandas.DataFrame or None
        Columns ``x_m, y_m`` (centre, site ENU metres), ``diameter_m``, ``height_m``
        (farside.terrain.rocks). ``None`` or an empty table: no rocks.
    cell_m : float, optional
        Bucket size, metres; default: 1 m, or larger so the grid has at most ~1e6 cells.

    Build it once per site and pass it to :func:`ground_height`, :func:`settle` and
    :func:`farside.rover.plan_egress`. The per-DEM preparation (which rocks are stamped into the
    DEM and their base planes) is cached for the last DEM used.
    """

    def __init__(self, rocks: pd.DataFrame | None = None, *, cell_m: float | None = None) -> None:
        if rocks is None:
            rocks = pd.DataFrame({"x_m": [], "y_m": [], "diameter_m": [], "height_m": []})
        if not isinstance(rocks, pd.DataFrame):
            raise invalid("rocks", type(rocks).__name__, "a pandas DataFrame with x_m, y_m, diameter_m, height_m")
        missing = [c for c in ("x_m", "y_m", "diameter_m", "height_m") if c not in rocks.columns]
        if missing:
            raise invalid("rocks", f"columns {list(rocks.columns)}", f"a table with columns x_m, y_m, diameter_m, "
                          f"height_m (missing {', '.join(missing)})")
        x = rocks["x_m"].to_numpy(float)
        y = rocks["y_m"].to_numpy(float)
        d = rocks["diameter_m"].to_numpy(float)
        h = rocks["height_m"].to_numpy(float)
        good = np.isfinite(x) & np.isfinite(y) & np.isfinite(d) & np.isfinite(h)
        if not good.all() or np.any(d < 0) or np.any(h < 0):
            raise invalid("rocks", "non-finite or negative entries", "finite positions and diameters, heights >= 0 m")
        keep = (d > 0) & (h > 0)
        self.x_m, self.y_m = x[keep], y[keep]
        self.radius_m, self.height_m = 0.5 * d[keep], h[keep]
        self.rows = np.flatnonzero(keep)
        self._shapes = rock_shapes(np.column_stack([self.x_m, self.y_m, 2.0 * self.radius_m, self.height_m])) \
            if self.x_m.size else np.zeros((0, NCOL))
        if cell_m is not None and not (math.isfinite(cell_m) and cell_m > 0):
            raise invalid("cell_m", cell_m, "a bucket size > 0 m")
        self._cell_req = cell_m
        self._cache: tuple | None = None

    def __len__(self) -> int:
        return int(self.x_m.size)

    def __repr__(self) -> str:
        return f"RockIndex({len(self)} rocks)"

    # -- preparation for one DEM --------------------------------------------------------------
    def _prepare(self, terrain) -> tuple:
        c = self._cache
        if c is not None and c[0] is terrain:
            return c[1]
        n = len(self)
        res = terrain.resolution_m
        big = (2.0 * self.radius_m) > _STAMP_MIN_PIXELS * res
        g = self._shapes.copy()
        reach = np.where(big, g[:, C_REACH] + _STAMP_REACH_PX * res, g[:, C_REACH])
        bz = np.zeros(n)
        bgx = np.zeros(n)
        bgy = np.zeros(n)
        if big.any():
            ang = np.arange(8) * (np.pi / 4)
            ca, sa = np.cos(ang), np.sin(ang)
            rb = reach[big][:, None]
            xs = self.x_m[big][:, None] + rb * ca
            ys = self.y_m[big][:, None] + rb * sa
            zs = np.asarray(terrain.height_at(xs, ys), float)
            # least-squares plane through 8 equally spaced ring points: closed form
            bz[big] = zs.mean(axis=1)
            bgx[big] = (zs * ca).sum(axis=1) / (rb[:, 0] * 4.0)
            bgy[big] = (zs * sa).sum(axis=1) / (rb[:, 0] * 4.0)
        if n:
            g[:, C_SEAT] = seats_kernel(np.ascontiguousarray(terrain.heights), float(terrain.x0_m),
                                        float(terrain.y0_m), float(res), g)
            g[big, C_SEAT] = bz[big]
        if n:
            xmin, xmax = float((self.x_m - reach).min()), float((self.x_m + reach).max())
            ymin, ymax = float((self.y_m - reach).min()), float((self.y_m + reach).max())
            span = max(xmax - xmin, ymax - ymin, 1e-9)
            cell = self._cell_req or max(1.0, span / 1000.0)
            nx = int(math.floor((xmax - xmin) / cell)) + 1
            ny = int(math.floor((ymax - ymin) / cell)) + 1
            ix0 = np.floor((self.x_m - reach - xmin) / cell).astype(np.int64)
            ix1 = np.floor((self.x_m + reach - xmin) / cell).astype(np.int64)
            iy0 = np.floor((self.y_m - reach - ymin) / cell).astype(np.int64)
            iy1 = np.floor((self.y_m + reach - ymin) / cell).astype(np.int64)
            wx, wy = ix1 - ix0 + 1, iy1 - iy0 + 1
            cnt = wx * wy
            rid = np.repeat(np.arange(n), cnt)
            local = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            cx = ix0[rid] + local % wx[rid]
            cy = iy0[rid] + local // wx[rid]
            key = cy * nx + cx
            order = np.argsort(key, kind="stable")
            key, rid = key[order], rid[order]
            cells, first = np.unique(key, return_index=True)
            starts = np.append(first, key.size).astype(np.int64)
            prep = (xmin, ymin, float(cell), nx, ny, cells.astype(np.int64), starts, rid.astype(np.int64),
                    g, big, reach, bz, bgx, bgy)
        else:
            z = np.zeros(0)
            prep = (0.0, 0.0, 1.0, 1, 1, np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64),
                    np.zeros((0, NCOL)), np.zeros(0, np.bool_), z, z, z, z)
        self._cache = (terrain, prep)
        return prep

    def near(self, x_m: float, y_m: float, radius_m: float) -> np.ndarray:
        """Positions (into this index's arrays) of the rocks whose disc comes within
        ``radius_m`` of the point, nearest first."""
        d = np.hypot(self.x_m - x_m, self.y_m - y_m) - self.radius_m
        sel = np.flatnonzero(d <= radius_m)
        return sel[np.argsort(d[sel], kind="stable")]


def _as_index(rocks) -> RockIndex:
    if isinstance(rocks, RockIndex):
        return rocks
    if rocks is None or isinstance(rocks, pd.DataFrame):
        return RockIndex(rocks)
    raise invalid("rocks", type(rocks).__name__, "a RockIndex, a rock table (DataFrame) or None")


def _ground(terrain, index: RockIndex, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Ground height and tallest-rock height at points (any shape), float64."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    xb, yb = np.broadcast_arrays(xa, ya)
    shape = xb.shape
    px = np.ascontiguousarray(xb, dtype=float).ravel()
    py = np.ascontiguousarray(yb, dtype=float).ravel()
    z = np.empty(px.size)
    rock = np.empty(px.size)
    prep = index._prepare(terrain)
    ground_kernel(terrain.heights, float(terrain.x0_m), float(terrain.y0_m), float(terrain.resolution_m),
                  px, py, *prep, z, rock)
    return z.reshape(shape), rock.reshape(shape)


def ground_height(terrain, rocks, x_m, y_m) -> np.ndarray:
    """Height of the ground (DEM + rocks) at site-ENU points, metres.

    Parameters
    ----------
    terrain : farside.terrain.Terrain
        The site DEM (its triangle mesh, clamped at the raster edge as :meth:`Terrain.height_at`).
    rocks : RockIndex, pandas.DataFrame or None
        The site's rocks (a :class:`RockIndex` built once; a table is indexed on the fly).
    x_m, y_m : array_like
        Site ENU east/north, metres; broadcast together.

    Returns
    -------
    numpy.ndarray
        float64 heights of the broadcast shape. See the module docstring for the rock rules.
    """
    return _ground(terrain, _as_index(rocks), x_m, y_m)[0]


# ----------------------------------------------------------------------------------------------
# geometry of the rover
@dataclass(frozen=True)
class _Geom:
    r: float
    width: float
    axle0: np.ndarray          # (6, 3) body frame, nominal
    side: np.ndarray           # (6,) 0 left, 1 right
    front: np.ndarray          # (2,) wheel index of each side's front wheel
    middle: np.ndarray
    rear: np.ndarray
    pivot0: np.ndarray         # (2, 3) rocker pivots
    bogie0: np.ndarray         # (2, 3) bogie pivots
    cg: np.ndarray             # (3,)
    rim: np.ndarray            # (J,) rim sample angles about "down", rad
    across: np.ndarray         # (K,) across-width offsets, m
    belly: np.ndarray          # (G, 3) belly grid, body frame


def _geom(rover: Rover) -> _Geom:
    """The rover's linkage, rim and belly sample geometry (validated)."""
    if not isinstance(rover, Rover):
        raise invalid("rover", type(rover).__name__, "a farside.rover.Rover")
    w = np.asarray(rover.wheel_xy_m, float)
    if w.shape != (6, 2):
        raise invalid("rover.wheel_xy_m", w.shape, "a (6, 2) array: wheels 0-2 left front to rear, 3-5 right")
    if not (np.all(w[:3, 1] > 0) and np.all(w[3:, 1] < 0)):
        raise invalid("rover.wheel_xy_m", w.tolist(), "wheels 0-2 on the left (y > 0), 3-5 on the right (y < 0)")
    if not (np.all(np.diff(w[:3, 0]) < 0) and np.all(np.diff(w[3:, 0]) < 0)):
        raise invalid("rover.wheel_xy_m", w.tolist(), "each side ordered front to rear (x decreasing)")
    r = rover.wheel_radius_m
    axle0 = np.column_stack([w, np.full(6, r)])
    ys = np.array([w[:3, 1].mean(), w[3:, 1].mean()])
    pivot0 = np.column_stack([np.full(2, rover.rocker_pivot_x_m), ys, np.full(2, r + rover.rocker_pivot_height_m)])
    bogie0 = np.column_stack([np.full(2, rover.bogie_pivot_x_m), ys, np.full(2, r + rover.bogie_pivot_height_m)])
    nj = int(round(_RIM_HALF_DEG / _RIM_STEP_DEG))
    rim = np.radians(np.arange(-nj, nj + 1) * _RIM_STEP_DEG)
    across = np.linspace(-0.5, 0.5, _WIDTH_SAMPLES) * rover.wheel_width_m
    hl = 0.5 * rover.body_length_m
    hw = 0.5 * max(rover.track_m - rover.wheel_width_m, 0.0)
    gx = np.linspace(-hl, hl, max(2, int(math.ceil(2 * hl / _BELLY_GRID_M)) + 1))
    gy = np.linspace(-hw, hw, max(2, int(math.ceil(2 * hw / _BELLY_GRID_M)) + 1))
    GX, GY = np.meshgrid(gx, gy, indexing="ij")
    belly = np.column_stack([GX.ravel(), GY.ravel(), np.full(GX.size, rover.belly_clearance_m)])
    g = _Geom(r=r, width=rover.wheel_width_m, axle0=axle0, side=np.array([0, 0, 0, 1, 1, 1]),
              front=np.array([0, 3]), middle=np.array([1, 4]), rear=np.array([2, 5]), pivot0=pivot0,
              bogie0=bogie0, cg=np.array([0.0, 0.0, rover.cg_height_m]), rim=rim, across=across, belly=belly)
    return g


def _rot_xz(a, dx, dz):
    """Rotate (dx, dz) by angle a (nose up positive) in the body x-z plane."""
    c, s = np.cos(a), np.sin(a)
    return dx * c - dz * s, dx * s + dz * c


def _linkage(g: _Geom, delta, eps_l, eps_r):
    """Body-frame axles (N, 6, 3), bogie pivots (N, 2, 3) for differential ``delta`` (left rocker
    +delta, right -delta relative to the body) and bogie angles relative to their rockers."""
    n = delta.shape[0]
    d_side = np.stack([delta, -delta], axis=1)                      # (N, 2)
    e_side = np.stack([eps_l, eps_r], axis=1)
    P = g.pivot0[None]                                              # (1, 2, 3)
    B0 = g.bogie0[None]
    bx, bz = _rot_xz(d_side, B0[..., 0] - P[..., 0], B0[..., 2] - P[..., 2])
    B = np.empty((n, 2, 3))
    B[..., 0] = P[..., 0] + bx
    B[..., 1] = g.bogie0[:, 1]
    B[..., 2] = P[..., 2] + bz
    A = np.empty((n, 6, 3))
    A[..., 1] = g.axle0[:, 1]
    for s in range(2):
        f = g.front[s]
        fx, fz = _rot_xz(d_side[:, s], g.axle0[f, 0] - g.pivot0[s, 0], g.axle0[f, 2] - g.pivot0[s, 2])
        A[:, f, 0] = g.pivot0[s, 0] + fx
        A[:, f, 2] = g.pivot0[s, 2] + fz
        for w in (g.middle[s], g.rear[s]):
            wx, wz = _rot_xz(d_side[:, s] + e_side[:, s], g.axle0[w, 0] - g.bogie0[s, 0],
                             g.axle0[w, 2] - g.bogie0[s, 2])
            A[:, w, 0] = B[:, s, 0] + wx
            A[:, w, 2] = B[:, s, 2] + wz
    return A, B


def _attitude(heading_rad, pitch, roll):
    """Body-to-ENU rotation matrices (N, 3, 3)."""
    ch, sh = np.cos(heading_rad), np.sin(heading_rad)
    ct, st = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    # M = Ry(-pitch) Rx(roll)
    M = np.zeros(pitch.shape + (3, 3))
    M[..., 0, 0] = ct
    M[..., 0, 1] = -st * sr
    M[..., 0, 2] = -st * cr
    M[..., 1, 1] = cr
    M[..., 1, 2] = -sr
    M[..., 2, 0] = st
    M[..., 2, 1] = ct * sr
    M[..., 2, 2] = ct * cr
    # Rz(90 deg - heading): (a, b) -> (a sh - b ch, a ch + b sh)
    R = np.empty_like(M)
    R[..., 0, :] = sh[..., None] * M[..., 0, :] - ch[..., None] * M[..., 1, :]
    R[..., 1, :] = ch[..., None] * M[..., 0, :] + sh[..., None] * M[..., 1, :]
    R[..., 2, :] = M[..., 2, :]
    return R


class _State(NamedTuple):
    R: np.ndarray        # (N, 3, 3)
    A: np.ndarray        # (N, 6, 3) world axles
    Ab: np.ndarray       # (N, 6, 3) body axles
    Bb: np.ndarray       # (N, 2, 3) body bogie pivots
    off: np.ndarray      # (N, 6, K, J, 3) rim sample offsets from the axle, world


def _state(g: _Geom, O_xy, heading_rad, u) -> _State:
    z, pitch, roll, delta, el, er = (u[:, k] for k in range(6))
    R = _attitude(heading_rad, pitch, roll)
    Ab, Bb = _linkage(g, delta, el, er)
    A = np.einsum("nij,nwj->nwi", R, Ab)
    A[..., 0] += O_xy[:, 0, None]
    A[..., 1] += O_xy[:, 1, None]
    A[..., 2] += z[:, None]
    xb, yb, zb = R[..., 0], R[..., 1], R[..., 2]                   # body axes in ENU (N, 3)
    # rim angles measured from the direction of "down" within the wheel plane
    a_down = np.arctan2(-zb[:, 2], -xb[:, 2])                      # (N,)
    ang = a_down[:, None] + g.rim[None, :]                          # (N, J)
    rim = g.r * (np.cos(ang)[..., None] * xb[:, None, :] + np.sin(ang)[..., None] * zb[:, None, :])  # (N, J, 3)
    acr = g.across[None, :, None] * yb[:, None, :]                  # (N, K, 3)
    off = acr[:, :, None, :] + rim[:, None, :, :]                   # (N, K, J, 3)
    off = np.broadcast_to(off[:, None], (u.shape[0], 6) + off.shape[1:])
    return _State(R, A, Ab, Bb, off)


def _envelope(terrain, index, st: _State):
    """Required axle height of each wheel (N, 6), the samples' ground and rock heights."""
    pts = st.A[:, :, None, None, :2] + st.off[..., :2]             # (N, 6, K, J, 2)
    gz, rock = _ground(terrain, index, pts[..., 0], pts[..., 1])
    need = gz - st.off[..., 2]                                      # (N, 6, K, J)
    env = need.reshape(need.shape[:2] + (-1,)).max(axis=-1)
    return env, need, gz, rock, pts


def _active_residual(terrain, index, g, O_xy, heading_rad, u, kj):
    """Residuals with each wheel's binding rim sample ``kj`` (N, 6) held fixed."""
    st = _state(g, O_xy, heading_rad, u)
    J = g.rim.size
    k, j = kj // J, kj % J
    n = u.shape[0]
    ii = np.arange(n)[:, None]
    ww = np.arange(6)[None, :]
    o = st.off[ii, ww, k, j]                                        # (N, 6, 3)
    p = st.A[..., :2] + o[..., :2]
    gz, _ = _ground(terrain, index, p[..., 0], p[..., 1])
    return st.A[..., 2] - (gz - o[..., 2])


def _initial_guess(terrain, index, g, O_xy, heading_rad):
    """Plane through the ground at the nominal wheel positions; linkage nominal."""
    n = O_xy.shape[0]
    sh, ch = np.sin(heading_rad), np.cos(heading_rad)
    fwd = np.stack([sh, ch], axis=-1)
    left = np.stack([-ch, sh], axis=-1)
    xy = O_xy[:, None, :] + g.axle0[None, :, 0, None] * fwd[:, None] + g.axle0[None, :, 1, None] * left[:, None]
    z = ground_height(terrain, index, xy[..., 0], xy[..., 1])
    Xd = np.stack([np.ones(6), g.axle0[:, 0], g.axle0[:, 1]], axis=1)
    coef = np.linalg.lstsq(Xd, z.T, rcond=None)[0]                  # (3, N)
    u = np.zeros((n, 6))
    u[:, 0] = coef[0]
    u[:, 1] = np.arctan(coef[1])
    u[:, 2] = np.arctan(coef[2] * np.cos(u[:, 1]))
    return u


def _residual(terrain, index, g, O_xy, heading_rad, u):
    st = _state(g, O_xy, heading_rad, u)
    env, need, *_ = _envelope(terrain, index, st)
    return st.A[..., 2] - env, need


def _solve(terrain, index, g, O_xy, heading_rad):
    """Damped Newton iteration on the six wheel-contact equations, with a backtracking step
    length per pose (the envelope is only piecewise smooth). Returns (u, converged, residual)."""
    u = _initial_guess(terrain, index, g, O_xy, heading_rad)
    n = u.shape[0]
    h = 1e-6
    eye = np.eye(6) * h
    res, need = _residual(terrain, index, g, O_xy, heading_rad, u)
    err = np.abs(res).max(axis=1)
    lam = np.ones(n)
    for _ in range(_NEWTON_MAX_IT):
        act = np.flatnonzero((err >= _NEWTON_TOL_M) & (lam > 1e-6))
        if act.size == 0:
            break
        m = act.size
        ua, Oa, ha = u[act], O_xy[act], heading_rad[act]
        kj = need[act].reshape(m, 6, -1).argmax(axis=-1)
        # Jacobian of the active-sample residuals (one batched evaluation)
        U = np.concatenate([ua[None], ua[None] + eye[:, None, :]], axis=0).reshape(7 * m, 6)
        r_all = _active_residual(terrain, index, g, np.tile(Oa, (7, 1)), np.tile(ha, 7), U,
                                 np.tile(kj, (7, 1))).reshape(7, m, 6)
        Jac = np.transpose((r_all[1:] - r_all[0]) / h, (1, 2, 0))    # (M, 6 eq, 6 var)
        try:
            du = -np.linalg.solve(Jac, res[act][..., None])[..., 0]
        except np.linalg.LinAlgError:
            du = -np.einsum("nij,nj->ni", np.linalg.pinv(Jac), res[act])
        # damp large steps (angles 0.1 rad, height 0.2 m), then the per-pose step length
        scale = np.minimum(1.0, np.minimum(0.2 / np.maximum(np.abs(du[:, 0]), 1e-30),
                                           0.1 / np.maximum(np.abs(du[:, 1:]).max(axis=1), 1e-30)))
        u_try = ua + du * (scale * lam[act])[:, None]
        r_try, n_try = _residual(terrain, index, g, Oa, ha, u_try)
        e_try = np.abs(r_try).max(axis=1)
        better = e_try < err[act]
        ok = act[better]
        u[ok], res[ok], need[ok], err[ok] = u_try[better], r_try[better], n_try[better], e_try[better]
        lam[ok] = np.minimum(1.0, 2.0 * lam[ok])
        lam[act[~better]] *= 0.25
    # fallback for the poses Newton left (a wheel against a steep rock side makes the envelope's
    # slope near-vertical): a damped fixed-point iteration with the ground frozen in the Jacobian
    bad = np.flatnonzero(err >= _NEWTON_TOL_M)
    for _ in range(_FALLBACK_MAX_IT if bad.size else 0):
        m = bad.size
        ub, Ob, hb = u[bad], O_xy[bad], heading_rad[bad]
        kj = need[bad].reshape(m, 6, -1).argmax(axis=-1)
        U = np.concatenate([ub[None], ub[None] + eye[:, None, :]], axis=0).reshape(7 * m, 6)
        geo = _rim_height(g, np.tile(Ob, (7, 1)), np.tile(hb, 7), U, np.tile(kj, (7, 1))).reshape(7, m, 6)
        Jac = np.transpose((geo[1:] - geo[0]) / h, (1, 2, 0))
        du = -np.einsum("nij,nj->ni", np.linalg.pinv(Jac), res[bad])
        u[bad] = ub + 0.5 * du
        r_new, n_new = _residual(terrain, index, g, Ob, hb, u[bad])
        res[bad], need[bad], err[bad] = r_new, n_new, np.abs(r_new).max(axis=1)
        bad = bad[err[bad] >= _NEWTON_TOL_M]
        if bad.size == 0:
            break
    conv = err < 1e-4
    return u, conv, res


def _rim_height(g, O_xy, heading_rad, u, kj):
    """Height of each wheel's rim sample ``kj`` (N, 6): the geometry half of the residual."""
    st = _state(g, O_xy, heading_rad, u)
    J = g.rim.size
    k, j = kj // J, kj % J
    n = u.shape[0]
    o = st.off[np.arange(n)[:, None], np.arange(6)[None, :], k, j]
    return st.A[..., 2] + o[..., 2]


def _contacts(terrain, index, g: _Geom, st: _State, env, need) -> np.ndarray:
    """Contact point of each wheel (N, 6, 3): the rim angle of the binding height refined by a
    parabola through the neighbouring rim samples, averaged over the across-width samples whose
    binding height is within _TIE_M of the wheel's, projected on the ground."""
    J = g.rim.size
    per_k = need.max(axis=3)                                           # (N, 6, K)
    ktie = per_k >= env[..., None] - _TIE_M
    m = np.where(ktie[..., None], need, -np.inf).max(axis=2)           # (N, 6, J)
    j = np.clip(m.argmax(axis=-1), 1, J - 2)
    ym = np.take_along_axis(m, (j - 1)[..., None], -1)[..., 0]
    y0 = np.take_along_axis(m, j[..., None], -1)[..., 0]
    yp = np.take_along_axis(m, (j + 1)[..., None], -1)[..., 0]
    den = ym - 2.0 * y0 + yp
    frac = np.where(np.isfinite(den) & (den < -1e-15), 0.5 * (ym - yp) / np.where(den < -1e-15, den, -1.0), 0.0)
    frac = np.clip(frac, -0.5, 0.5)
    step = g.rim[1] - g.rim[0]
    R = st.R
    xb, yb, zb = R[..., 0], R[..., 1], R[..., 2]
    a_down = np.arctan2(-zb[:, 2], -xb[:, 2])
    ang = a_down[:, None] + g.rim[j] + frac * step                     # (N, 6)
    rim = g.r * (np.cos(ang)[..., None] * xb[:, None, :] + np.sin(ang)[..., None] * zb[:, None, :])
    wk = np.where(ktie, g.across[None, None, :], 0.0).sum(-1) / ktie.sum(-1)
    c = st.A + rim + wk[..., None] * yb[:, None, :]
    c[..., 2] = ground_height(terrain, index, c[..., 0], c[..., 1])
    return c


# ----------------------------------------------------------------------------------------------
# loads, margin, clearance
def _loads(g: _Geom, weight_n: float, R, Cb, Ab, Bb) -> np.ndarray:
    """Statically determinate normal loads (N, 6) (module docstring). ``Cb`` body-frame contacts."""
    n = R.shape[0]
    G = np.einsum("nji,j->ni", R, np.array([0.0, 0.0, -weight_n]))   # gravity in the body frame
    kx = G[:, 0] / G[:, 2]
    ky = G[:, 1] / G[:, 2]
    kt = np.stack([kx, ky, np.ones(n)], axis=-1)                     # (N, 3) force per unit load

    def mom(d):                                                      # (d x kt), d (N, 6, 3)
        return _cross(d, np.broadcast_to(kt[:, None, :], d.shape))

    Aeq = np.zeros((n, 6, 6))
    b = np.zeros((n, 6))
    Aeq[:, 0, :] = 1.0
    b[:, 0] = -G[:, 2]
    m0 = mom(Cb)
    cG = _cross(np.broadcast_to(g.cg, G.shape), G)
    Aeq[:, 1, :] = m0[..., 0]
    b[:, 1] = -cG[:, 0]
    Aeq[:, 2, :] = m0[..., 1]
    b[:, 2] = -cG[:, 1]
    # body-frame rocker pivots are fixed on the body; bogie pivots move with the rockers
    for s in range(2):
        wb = np.array([g.middle[s], g.rear[s]])
        mb = mom(Cb[:, wb] - Bb[:, s, None, :])
        Aeq[:, 3 + s, wb] = mb[..., 1]
        ws = np.flatnonzero(g.side == s)
        mp = mom(Cb[:, ws] - g.pivot0[s][None, None, :])
        Aeq[:, 5, ws] = mp[..., 1] * (1.0 if s == 0 else -1.0)
    return np.linalg.solve(Aeq, b[..., None])[..., 0]


_PAIRS = np.array([(i, j) for i in range(6) for j in range(i + 1, 6)])


def _cross(a, b):
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _hull_margin(contacts, cg_w):
    """Force-angle (gravity only) tip-over margin over the plan-view hull edges, radians (N,)."""
    p = contacts[:, _PAIRS[:, 0]]                                       # (N, 15, 3)
    q = contacts[:, _PAIRS[:, 1]]
    # plan-view hull edges: all other contacts on one side of the line
    e = q[..., :2] - p[..., :2]
    rel = contacts[:, None, :, :2] - p[:, :, None, :2]                  # (N, 15, 6, 2)
    cr = e[..., None, 0] * rel[..., 1] - e[..., None, 1] * rel[..., 0]
    tol = 1e-9 + 1e-6 * np.hypot(e[..., 0], e[..., 1])[..., None]
    edge = np.all(cr >= -tol, axis=-1) | np.all(cr <= tol, axis=-1)     # (N, 15)
    a = q - p
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)

    def perp(v):
        return v - np.sum(v * a, axis=-1, keepdims=True) * a

    lvec = perp(p - cg_w[:, None, :])                                   # CG -> axis
    fvec = perp(np.broadcast_to(np.array([0.0, 0.0, -1.0]), a.shape))
    uvec = perp(contacts.mean(axis=1)[:, None, :] - p)                  # axis -> inside
    ln = lvec / np.linalg.norm(lvec, axis=-1, keepdims=True)
    fn = fvec / np.maximum(np.linalg.norm(fvec, axis=-1, keepdims=True), 1e-300)
    cx = _cross(ln, fn)
    sgn = np.sign(np.sum(cx * _cross(ln, uvec), axis=-1))
    sgn = np.where(sgn == 0, 1.0, sgn)
    ang = sgn * np.arctan2(np.linalg.norm(cx, axis=-1), np.sum(ln * fn, axis=-1))
    return np.where(edge, ang, np.inf).min(axis=1)


# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Pose:
    """The rover settled on the ground at one place (:func:`settle`). SI units, site ENU.

    Attributes
    ----------
    x_m, y_m, z_m : float
        The body-frame origin (on level ground: the ground point below the body centre).
    heading_deg, pitch_deg, roll_deg : float
        Compass heading (clockwise from north); pitch nose-up positive; roll left-side-up positive.
    wheel_contact_m : (6, 3) ndarray
        Each wheel's contact point (mean of its binding rim samples), ENU metres.
    wheel_load_n : (6,) ndarray
        Statically determinate normal loads, N (sum ``m g cos(tilt)``).
    belly_clearance_m : float
        Smallest vertical gap between the belly and the ground/rocks below it.
    stability_margin_deg : float
        Force-angle tip-over margin (Papadopoulos & Rey, docs/references.md 7.9; gravity only),
        degrees.
    ok : bool
        No limit violated; else ``reason`` says which (slope, obstacle, clearance, margin,
        lift-off, off the DEM, not settled).
    tilt_deg : float
        The body's tilt from level, ``acos(cos pitch cos roll)``.
    rocker_deg, bogie_deg : (2,) ndarray
        Pitch of the left/right rockers and bogies relative to the horizon plane of the heading
        (rocker pitch ``pitch +- differential``), degrees.
    obstacle_m : (6,) ndarray
        Height of the tallest rock under each wheel's footprint (0: none).
    """

    x_m: float
    y_m: float
    z_m: float
    heading_deg: float
    pitch_deg: float
    roll_deg: float
    wheel_contact_m: np.ndarray
    wheel_load_n: np.ndarray
    belly_clearance_m: float
    stability_margin_deg: float
    ok: bool
    reason: str = ""
    tilt_deg: float = 0.0
    rocker_deg: np.ndarray = field(default_factory=lambda: np.zeros(2))
    bogie_deg: np.ndarray = field(default_factory=lambda: np.zeros(2))
    obstacle_m: np.ndarray = field(default_factory=lambda: np.zeros(6))


@dataclass(frozen=True, eq=False)
class PoseArray:
    """Many settled poses (:func:`settle_path`): the fields of :class:`Pose` stacked along a
    first axis of length N (``reason`` a tuple of strings)."""

    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray
    heading_deg: np.ndarray
    pitch_deg: np.ndarray
    roll_deg: np.ndarray
    wheel_contact_m: np.ndarray
    wheel_load_n: np.ndarray
    belly_clearance_m: np.ndarray
    stability_margin_deg: np.ndarray
    ok: np.ndarray
    reason: tuple[str, ...]
    tilt_deg: np.ndarray
    rocker_deg: np.ndarray
    bogie_deg: np.ndarray
    obstacle_m: np.ndarray

    def __len__(self) -> int:
        return int(self.x_m.shape[0])

    def pose(self, k: int) -> Pose:
        """The k-th pose as a :class:`Pose`."""
        return Pose(x_m=float(self.x_m[k]), y_m=float(self.y_m[k]), z_m=float(self.z_m[k]),
                    heading_deg=float(self.heading_deg[k]), pitch_deg=float(self.pitch_deg[k]),
                    roll_deg=float(self.roll_deg[k]), wheel_contact_m=self.wheel_contact_m[k].copy(),
                    wheel_load_n=self.wheel_load_n[k].copy(), belly_clearance_m=float(self.belly_clearance_m[k]),
                    stability_margin_deg=float(self.stability_margin_deg[k]), ok=bool(self.ok[k]),
                    reason=self.reason[k], tilt_deg=float(self.tilt_deg[k]), rocker_deg=self.rocker_deg[k].copy(),
                    bogie_deg=self.bogie_deg[k].copy(), obstacle_m=self.obstacle_m[k].copy())


def settle_path(rover: Rover, terrain, rocks_index, *, x_m, y_m, heading_deg) -> PoseArray:
    """Settle the rover at many places at once (vectorised :func:`settle`).

    Parameters
    ----------
    rover : Rover
        The vehicle (geometry, mass, limits).
    terrain : farside.terrain.Terrain
        The site DEM.
    rocks_index : RockIndex, pandas.DataFrame or None
        The site's rocks.
    x_m, y_m : array_like (N,)
        Plan position of the body origin, site ENU metres.
    heading_deg : array_like (N,) or float
        Compass headings, degrees clockwise from north.

    Returns
    -------
    PoseArray
    """
    g = _geom(rover)
    index = _as_index(rocks_index)
    x = np.atleast_1d(np.asarray(x_m, dtype=float))
    y = np.atleast_1d(np.asarray(y_m, dtype=float))
    hd = np.atleast_1d(np.asarray(heading_deg, dtype=float))
    try:
        x, y, hd = (np.ascontiguousarray(a) for a in np.broadcast_arrays(x, y, hd))
    except ValueError:
        raise invalid("x_m/y_m/heading_deg", (x.shape, y.shape, hd.shape),
                      "arrays of one length N (or scalars)") from None
    if x.ndim != 1:
        raise invalid("x_m", x.shape, "a scalar or a 1-D array of positions")
    for name, a in (("x_m", x), ("y_m", y), ("heading_deg", hd)):
        if not np.all(np.isfinite(a)):
            raise invalid(name, a[~np.isfinite(a)][:3].tolist(), "finite numbers")
    n = x.size
    O_xy = np.stack([x, y], axis=1)
    hr = np.radians(hd)
    u, conv, _ = _solve(terrain, index, g, O_xy, hr)
    st = _state(g, O_xy, hr, u)
    env, need, _, rock, pts = _envelope(terrain, index, st)
    contacts = _contacts(terrain, index, g, st, env, need)            # (N, 6, 3)
    R = st.R
    origin = np.column_stack([x, y, u[:, 0]])
    Cb = np.einsum("nji,nwj->nwi", R, contacts - origin[:, None, :])        # body frame
    loads = _loads(g, rover.weight_n, R, Cb, st.Ab, st.Bb)
    cg_w = origin + np.einsum("nij,j->ni", R, g.cg)
    margin = _hull_margin(contacts, cg_w)
    # belly clearance
    bw = origin[:, None, :] + np.einsum("nij,gj->ngi", R, g.belly)
    bground = ground_height(terrain, index, bw[..., 0], bw[..., 1])
    clearance = (bw[..., 2] - bground).min(axis=1)
    # obstacles: tallest rock within each wheel's plan footprint (rim samples below the axle)
    obstacle = rock.max(axis=(2, 3))
    pitch, roll = u[:, 1], u[:, 2]
    tilt = np.degrees(np.arccos(np.clip(np.cos(pitch) * np.cos(roll), -1.0, 1.0)))
    # off the DEM?
    x0, x1, y0, y1 = terrain.extent_m
    allx = np.concatenate([pts[..., 0].reshape(n, -1), bw[..., 0]], axis=1)
    ally = np.concatenate([pts[..., 1].reshape(n, -1), bw[..., 1]], axis=1)
    off = (allx.min(axis=1) < x0) | (allx.max(axis=1) > x1) | (ally.min(axis=1) < y0) | (ally.max(axis=1) > y1)
    reasons = []
    oks = np.zeros(n, bool)
    for k in range(n):
        why = []
        if not conv[k]:
            why.append("the suspension did not settle (no rigid-linkage solution on this ground)")
        if off[k]:
            why.append("part of the rover is off the DEM")
        if tilt[k] > rover.max_slope_deg:
            why.append(f"slope {tilt[k]:.1f} deg > {rover.max_slope_deg:g} deg")
        w = int(np.argmax(obstacle[k]))
        if obstacle[k, w] > rover.max_obstacle_m:
            why.append(f"obstacle {obstacle[k, w]:.2f} m under wheel {w} > {rover.max_obstacle_m:g} m")
        if clearance[k] < 0:
            why.append(f"belly clearance {clearance[k]:.3f} m < 0")
        if margin[k] < 0:
            why.append(f"stability margin {math.degrees(margin[k]):.1f} deg < 0 (tips over)")
        elif np.min(loads[k]) < 0:
            w = int(np.argmin(loads[k]))
            why.append(f"wheel {w} lifts off (load {loads[k, w]:.1f} N)")
        oks[k] = not why
        reasons.append("; ".join(why))
    delta = u[:, 3]
    rocker = np.degrees(np.stack([pitch + delta, pitch - delta], axis=1))
    bogie = rocker + np.degrees(u[:, 4:6])
    return PoseArray(x_m=x, y_m=y, z_m=u[:, 0].copy(), heading_deg=hd % 360.0, pitch_deg=np.degrees(pitch),
                     roll_deg=np.degrees(roll), wheel_contact_m=contacts, wheel_load_n=loads,
                     belly_clearance_m=clearance, stability_margin_deg=np.degrees(margin), ok=oks,
                     reason=tuple(reasons), tilt_deg=tilt, rocker_deg=rocker, bogie_deg=bogie, obstacle_m=obstacle)


def settle(rover: Rover, terrain, rocks_index, *, x_m: float, y_m: float, heading_deg: float) -> Pose:
    """Settle the rocker-bogie rover on the ground at one place (module docstring).

    Parameters
    ----------
    rover : Rover
        The vehicle (e.g. :data:`farside.rover.YUTU2`).
    terrain : farside.terrain.Terrain
        The site DEM.
    rocks_index : RockIndex, pandas.DataFrame or None
        The site's rocks (build a :class:`RockIndex` once per site).
    x_m, y_m : float
        Plan position of the body origin, site ENU metres.
    heading_deg : float
        Compass heading, degrees clockwise from north.

    Returns
    -------
    Pose
    """
    for name, v in (("x_m", x_m), ("y_m", y_m), ("heading_deg", heading_deg)):
        if np.ndim(v) != 0:
            raise invalid(name, v, "a scalar (use settle_path for many poses)")
    return settle_path(rover, terrain, rocks_index, x_m=x_m, y_m=y_m, heading_deg=heading_deg).pose(0)


def static_wheel_loads(rover: Rover = YUTU2) -> np.ndarray:
    """The statically determinate wheel loads (6,) of the rover standing on level ground, N."""
    g = _geom(rover)
    n = 1
    R = _attitude(np.zeros(n), np.zeros(n), np.zeros(n))
    Ab, Bb = _linkage(g, np.zeros(n), np.zeros(n), np.zeros(n))
    Cb = Ab.copy()
    Cb[..., 2] -= g.r
    return _loads(g, rover.weight_n, R, Cb, Ab, Bb)[0]


# ----------------------------------------------------------------------------------------------
# turning
class TurnCost(NamedTuple):
    """Cost of a turn (:func:`turn_cost`); unpacks as ``(time_s, energy_j, scrub_m, ...)``.

    Attributes
    ----------
    time_s : float
        Steering the corner wheels out and back plus the turn itself.
    energy_j : float
        Electrical energy of the drive motors (rolling + sliding resistance / motor efficiency).
    scrub_m : float
        The wheels' summed sideways sliding distance (lateral skid plus the contact patches'
        twist, width/4 per radian), metres.
    steer_deg : (6,) ndarray
        Wheel steering angles, degrees, counterclockwise (to the left) positive; 0 for the
        unsteered middle wheels.
    roll_m : (6,) ndarray
        Distance each wheel rolls, metres.
    """

    time_s: float
    energy_j: float
    scrub_m: float
    steer_deg: np.ndarray
    roll_m: np.ndarray


def turn_cost(rover: Rover, soil=None, *, kind: str = "point", angle_deg: float, radius_m: float | None = None,
              wheel_load_n=None, rolling_resistance: float | None = None, steer_rate_deg_s: float = 5.0) -> TurnCost:
    """Time, energy and scrub of a turn with the four steered corner wheels.

    Model (kinematic, quasi-static, level ground):

    * ``kind="point"``: the body turns about its centre. ``kind="arc"``: about a centre at
      ``radius_m`` to the left on the line of the (unsteered) middle wheels' axles (Ackermann-like:
      every wheel's axle points at the centre, so nothing skids for a rover whose middle wheels
      are at x = 0). The point turn is the ``radius_m = 0`` limit.
    * Corner wheel steering ``atan(x_i / (R - y_i))`` (wheel at body ``(x_i, y_i)``, centre
      ``(0, R)``); for a point turn ``-atan(x_i / y_i)``. A wheel at distance ``rho_i`` from the
      centre rolls ``rho_i |angle|``; an unsteered wheel off the middle axle line skids sideways
      ``|x_i| |angle|``; every contact patch twists (sliding ``width/4`` per radian).
    * Energy ``sum_i N_i [c_rr roll_i + mu_lat slide_i] / motor_efficiency`` with
      ``mu_lat = tan(phi)`` (the soil's friction angle: a sideways-sliding wheel shears soil),
      ``c_rr`` the compaction resistance per unit load of the Wong-Reece rigid wheel at zero slip
      (:func:`farside.rover.rigid_wheel`; ``rolling_resistance`` overrides),
      ``N_i`` the level-ground statically determinate loads (or ``wheel_load_n``). Steering
      power is neglected.
    * Time: the fastest wheel at ``rover.max_speed_mps``, plus steering the corner wheels out and
      back at ``steer_rate_deg_s`` (UNCONFIRMED; docs/references.md 8).

    Parameters
    ----------
    rover : Rover
    soil : farside.rover.Soil or None
        The soil (default ``LUNAR_REGOLITH``, docs/references.md 7.7).
    kind : {"point", "arc"}
    angle_deg : float
        Heading change; positive = to the left (counterclockwise from above).
    radius_m : float, optional
        Turn radius of the body centre for ``kind="arc"`` (> 0).

    Returns
    -------
    TurnCost
    """
    if kind not in ("point", "arc"):
        raise invalid("kind", kind, 'one of "point", "arc"')
    a = float(angle_deg)
    if not math.isfinite(a):
        raise invalid("angle_deg", angle_deg, "a finite heading change in degrees")
    if kind == "arc":
        if radius_m is None or not (math.isfinite(radius_m) and radius_m > 0):
            raise invalid("radius_m", radius_m, 'a turn radius > 0 m for kind="arc"')
        Rc = float(radius_m)
    else:
        if radius_m not in (None, 0, 0.0):
            raise invalid("radius_m", radius_m, 'None for kind="point"')
        Rc = 0.0
    if not (math.isfinite(steer_rate_deg_s) and steer_rate_deg_s > 0):
        raise invalid("steer_rate_deg_s", steer_rate_deg_s, "a steering rate > 0 deg/s")
    from farside.rover.terramechanics import LUNAR_REGOLITH, Soil, rigid_wheel_array

    soil = LUNAR_REGOLITH if soil is None else soil
    if not isinstance(soil, Soil):
        raise invalid("soil", type(soil).__name__, "a farside.rover.Soil or None (lunar regolith)")
    w = np.asarray(rover.wheel_xy_m, float)
    steered = np.asarray(rover.steered, bool)
    sgn = 1.0 if a >= 0 else -1.0
    cy = sgn * Rc                                 # turn centre (0, cy) in the body frame
    dx, dy = w[:, 0], w[:, 1] - cy
    rho = np.hypot(dx, dy)
    # steering: rolling direction perpendicular to the radius, as an axis angle in (-90, 90]
    steer = np.where(steered, np.arctan2(dx, -dy), 0.0)
    steer = (steer + np.pi / 2) % np.pi - np.pi / 2
    # per radian of turn: the contact velocity (-dy, dx) split along / across the wheel
    ex, ey = np.cos(steer), np.sin(steer)
    v_roll = np.abs(-dy * ex + dx * ey)
    v_lat = np.abs(dy * ey + dx * ex)
    ang = math.radians(abs(a))
    roll = v_roll * ang
    twist = 0.25 * rover.wheel_width_m * ang
    slide = v_lat * ang + twist
    if wheel_load_n is None:
        loads = static_wheel_loads(rover)
    else:
        loads = np.asarray(wheel_load_n, float).reshape(6)
        if not np.all(np.isfinite(loads)):
            raise invalid("wheel_load_n", wheel_load_n, "six finite loads in N")
    if rolling_resistance is None:
        pos = np.maximum(loads, 1e-9)
        rc = rigid_wheel_array(soil, load_n=pos, diameter_m=rover.wheel_diameter_m, width_m=rover.wheel_width_m,
                               slip=0.0, grouser_height_m=rover.grouser_height_m)["resistance_n"]
        if not np.all(np.isfinite(rc)):
            raise invalid("soil", soil.name or "given", "a soil that carries the wheel loads", PhysicsError)
        crr = rc / pos
    else:
        if not (math.isfinite(rolling_resistance) and rolling_resistance >= 0):
            raise invalid("rolling_resistance", rolling_resistance, "a coefficient >= 0")
        crr = np.full(6, float(rolling_resistance))
    mu = soil.tan_phi
    energy = float(np.sum(np.maximum(loads, 0) * (crr * roll + mu * slide)) / rover.motor_efficiency)
    omega = rover.max_speed_mps / float(rho.max())                     # rad/s
    steer_time = 2.0 * float(np.degrees(np.abs(steer)).max()) / steer_rate_deg_s
    time_s = ang / omega + steer_time
    return TurnCost(time_s=float(time_s), energy_j=energy, scrub_m=float(slide.sum()),
                    steer_deg=np.degrees(steer) * 1.0, roll_m=roll)
