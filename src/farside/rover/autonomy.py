"""Driving to a goal on what the rover sees: perceive, plan, drive a segment, stop, repeat.

Yutu-2 drove in short segments, each planned from its navigation-camera stereo pairs. This module
closes that loop on any perception (normally :class:`farside.rover.perception.StereoPerception`:
Navcam pairs rendered at the stop -> semi-global matching -> a fused elevation map -> a hazard
costmap) and either of the two operating modes:

* ``"autonomous"``: onboard -- image, plan, drive, re-image, replan; each stop costs
  ``onboard_s`` (imaging and processing on the rover's computer);
* ``"ground"`` (ground-in-the-loop): the stereo images go down through the relay
  (:class:`farside.comms.LinkService`: the contact plan's rates, gaps and light time), the next
  segment is planned on Earth (``ground_planning_s``) and uplinked (Queqiao's 1000 bit/s uplink and
  125 bit/s forward link), so each drive waits for contact and latency.

Planning: a global route on a degraded orbital map (the site DEM block-averaged to
``orbital_resolution_m``, an LROC NAC DTM-like post spacing; rocks below it unseen) and local
replanning on the stereo costmap: one grid at the local map's resolution over the start, the goal
and a margin, holding the stereo cost where the map knows the ground and the orbital cost (times
``unknown_penalty``) elsewhere, solved optimally by :func:`farside.rover.plan_path`. The rover
drives the planned path while it stays on mapped cells, at most ``segment_m``, then stops and
images again. Driving goes through the surface model's driver (terramechanics and suspension at
every step): a step the suspension refuses (slope, a wheel obstacle above 0.20 m, belly clearance)
is not taken -- it would exceed a limit, is logged as such, and ends the segment.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from farside.errors import invalid

__all__ = ["NavigationConfig", "LocalCostmap", "NavStop", "NavResult", "Course", "orbital_costmap", "navigate_to", "drive_to_goal", "autonomy_course"]


#: the ground within this distance of the rover counts as known: it stands on it
BLIND_RADIUS_M = 1.0
#: a refused step marks the ground this far around the point ahead of it as lethal for later plans
BLOCKED_RADIUS_M = 0.4
#: the driver's straight legs follow the planned grid path within this distance (the costmap's
#: lethal cells are dilated by the rover's footprint, so this stays well inside the margin)
SIMPLIFY_TOL_M = 0.15


@dataclass(frozen=True)
class NavigationConfig:
    """How the rover navigates (module docstring). Times in seconds, lengths in metres.

    Numbers marked UNCONFIRMED are assumptions: Yutu-2's per-segment lengths and stop durations are
    not published in this form.
    """

    mode: Literal["autonomous", "ground"] = "autonomous"
    #: longest drive between two stereo stops (UNCONFIRMED; Navcam maps reach ~8-10 m)
    segment_m: float = 4.0
    #: the goal is reached within this distance
    goal_tolerance_m: float = 0.5
    #: onboard imaging + processing at a stop (UNCONFIRMED)
    onboard_s: float = 300.0
    #: the ground team's planning time per segment (UNCONFIRMED)
    ground_planning_s: float = 1800.0
    #: an uplinked drive command's size (UNCONFIRMED)
    command_bits: float = 8000.0
    #: orbital map post spacing (LROC NAC DTMs: ~2 m posts from 0.5-1.5 m pixels; 0.85 m NAC pixels
    #: over the CE-4 site, REFERENCE.md)
    orbital_resolution_m: float = 2.0
    #: cost multiplier of cells the stereo map does not know (the orbital map's cost times this)
    unknown_penalty: float = 1.5
    #: cost per cell length = 1 + slope_deg / slope_cost_deg (lethal above the rover's limit)
    slope_cost_deg: float = 5.0
    #: margin around start and goal of the planning grid
    margin_m: float = 6.0
    #: stop trying after this many stereo stops for one goal
    max_stops: int = 40

    def __post_init__(self) -> None:
        if self.mode not in ("autonomous", "ground"):
            raise invalid("mode", self.mode, "'autonomous' or 'ground'")
        for name in ("segment_m", "goal_tolerance_m", "orbital_resolution_m", "unknown_penalty", "slope_cost_deg",
                     "margin_m", "command_bits"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise invalid(name, getattr(self, name), "a finite number > 0")
        for name in ("onboard_s", "ground_planning_s"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise invalid(name, getattr(self, name), "a finite time >= 0 s")
        if self.unknown_penalty < 1.0:
            raise invalid("unknown_penalty", self.unknown_penalty, "a factor >= 1")
        if int(self.max_stops) < 1:
            raise invalid("max_stops", self.max_stops, "an integer >= 1")


@dataclass(frozen=True, eq=False)
class LocalCostmap:
    """A perception's answer at a stop: a cost grid in site ENU, row 0 north, cell ``[i, j]``
    centred at ``x0_m + (j + 0.5) r, y0_m - (i + 0.5) r`` (the Terrain convention). ``cost`` per
    cell length: finite >= 0 traversable, ``inf`` lethal, NaN unknown. ``image_bits``: what the
    stop's images weigh on the downlink; ``layers``: anything the products want (elevation, ...)."""

    cost: np.ndarray
    x0_m: float
    y0_m: float
    resolution_m: float
    image_bits: float = 0.0
    layers: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class NavStop:
    """One stereo stop: where the rover was (truth), when, what it planned and drove."""

    t_s: float
    x_m: float
    y_m: float
    heading_deg: float                # at imaging
    costmap: LocalCostmap
    planned_xy_m: np.ndarray          # (n, 2) the planned path, site ENU
    driven_xy_m: np.ndarray           # (m, 2) the segment actually driven
    wait_s: float                     # waiting for the link (ground mode), s
    t_commanded_s: float              # when the drive started
    note: str = ""


def orbital_costmap(terrain, *, resolution_m: float = 2.0, max_slope_deg: float = 20.0,
                    slope_cost_deg: float = 5.0):
    """The degraded orbital map's cost: the DEM block-averaged to ``resolution_m`` (an orbital DTM's
    post spacing: what it cannot resolve -- small rocks, metre craters -- is gone), slope over one
    post, cost ``1 + slope_deg / slope_cost_deg`` per cell length, ``inf`` above ``max_slope_deg``.
    Returns (cost, x0_m, y0_m, resolution_m) on the coarse grid (the Terrain convention)."""
    r0 = float(terrain.resolution_m)
    f = max(1, int(round(float(resolution_m) / r0)))
    h = np.asarray(terrain.heights, float)
    rows, cols = (h.shape[0] // f) * f, (h.shape[1] // f) * f
    hc = h[:rows, :cols].reshape(rows // f, f, cols // f, f).mean(axis=(1, 3))
    res = r0 * f
    gy, gx = np.gradient(hc, res)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    cost = 1.0 + slope / float(slope_cost_deg)
    cost[slope > max_slope_deg] = np.inf
    return cost, float(terrain.x0_m), float(terrain.y0_m), res


def _resample(src: np.ndarray, sx0: float, sy0: float, sres: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nearest-cell lookup of ``src`` (Terrain convention) at ENU points; NaN outside."""
    j = np.floor((x - sx0) / sres).astype(np.int64)
    i = np.floor((sy0 - y) / sres).astype(np.int64)
    ok = (i >= 0) & (i < src.shape[0]) & (j >= 0) & (j < src.shape[1])
    out = np.full(np.broadcast(x, y).shape, np.nan)
    out[ok] = src[i[ok], j[ok]]
    return out


def planning_grid(local: LocalCostmap, orbital, start_xy, goal_xy, cfg: NavigationConfig):
    """The combined grid (stereo where known, orbital x penalty elsewhere) at the local map's
    resolution over start, goal and ``margin_m``: (cost, x0_m, y0_m, r, known)."""
    r = float(local.resolution_m)
    xs = (start_xy[0], goal_xy[0])
    ys = (start_xy[1], goal_xy[1])
    # snap to the local map's lattice so local cells copy one-to-one
    ox, oy = local.x0_m, local.y0_m
    x0 = ox + math.floor((min(xs) - cfg.margin_m - ox) / r) * r
    x1 = ox + math.ceil((max(xs) + cfg.margin_m - ox) / r) * r
    y1 = oy - math.floor((oy - (max(ys) + cfg.margin_m)) / r) * r
    y0 = oy - math.ceil((oy - (min(ys) - cfg.margin_m)) / r) * r
    cols = int(round((x1 - x0) / r))
    rows = int(round((y1 - y0) / r))
    xc = x0 + (np.arange(cols) + 0.5) * r
    yc = y1 - (np.arange(rows) + 0.5) * r
    X, Y = np.meshgrid(xc, yc)
    oc, ox0, oy0, ores = orbital
    cost = _resample(oc, ox0, oy0, ores, X, Y) * cfg.unknown_penalty
    loc = _resample(local.cost, local.x0_m, local.y0_m, r, X, Y)
    known = ~np.isnan(loc)
    cost[known] = loc[known]
    cost[np.isnan(cost)] = np.inf               # outside both maps: off the site
    return cost, x0, y1, r, known


def navigate_to(driver, goal_xy, label: str, *, perceive: Callable[..., LocalCostmap], cfg: NavigationConfig,
                orbital, link=None, stops: list | None = None) -> tuple[bool, str]:
    """Drive ``driver`` (the surface model's :class:`~farside.rover.surface._Driver`) to
    ``goal_xy`` (site ENU) by stereo stops (module docstring). Appends a :class:`NavStop` per stop
    to ``stops``; returns (reached, why-not)."""
    from farside.rover.planning import plan_path
    from farside.errors import PhysicsError

    gx, gy = float(goal_xy[0]), float(goal_xy[1])
    stops = [] if stops is None else stops
    n = 0
    blocked: list[tuple[float, float]] = []      # where a step was refused: the rover remembers it
    while math.hypot(gx - driver.x, gy - driver.y) > cfg.goal_tolerance_m:
        if n >= cfg.max_stops:
            driver.events.append((driver.t, "navigation gave up", f"{label}: {n} stereo stops"))
            return False, f"{n} stereo stops without reaching the goal"
        if driver.t >= driver.plan.end_s or not driver.wait_until_awake():
            driver.t = max(driver.t, driver.plan.end_s)
            return False, "the timeline ended"
        n += 1
        # face the goal before imaging (a point turn through the driver's turn model)
        driver.turn_to(_bearing_deg(gx - driver.x, gy - driver.y))
        t_img = driver.t
        img_heading = driver.heading                # the stop's pose is the imaging pose
        local = perceive(driver.x, driver.y, driver.heading, t_img)
        # onboard: image + plan on the rover; ground: down, plan on Earth, up
        t_cmd = t_img + cfg.onboard_s
        wait = 0.0
        if cfg.mode == "ground":
            if link is None:
                raise invalid("link", None, "a farside.comms.LinkService for the ground-in-the-loop mode")
            t_down = link.downlink_arrival_s(t_img, max(local.image_bits, 1.0), source="rover")
            t_cmd = link.uplink_arrival_s(t_down + cfg.ground_planning_s, cfg.command_bits)
            wait = t_cmd - t_img - cfg.ground_planning_s
            if not math.isfinite(t_cmd) or t_cmd >= driver.plan.end_s:
                driver.t = driver.plan.end_s
                stops.append(NavStop(t_img, driver.x, driver.y, img_heading, local, np.zeros((0, 2)),
                                     np.zeros((0, 2)), math.inf, math.inf, "no command before the timeline's end"))
                return False, "no uplink before the timeline's end"
        driver.t = t_cmd
        cost, x0, y0, r, known = planning_grid(local, orbital, (driver.x, driver.y), (gx, gy), cfg)
        # the rover stands there: the ground within BLIND_RADIUS_M of it is passable whatever the
        # map's dilated hazards say (it can always back away the way it came)
        yy = y0 - (np.arange(cost.shape[0]) + 0.5) * r
        xx = x0 + (np.arange(cost.shape[1]) + 0.5) * r
        under = (yy[:, None] - driver.y) ** 2 + (xx[None, :] - driver.x) ** 2 <= BLIND_RADIUS_M ** 2
        cost[under & ~np.isfinite(cost)] = cfg.unknown_penalty
        if blocked:
            for bx, by in blocked:
                cost[(yy[:, None] - by) ** 2 + (xx[None, :] - bx) ** 2 < BLOCKED_RADIUS_M ** 2] = np.inf
        s = (int((y0 - driver.y) // r), int((driver.x - x0) // r))
        g = (int((y0 - gy) // r), int((gx - x0) // r))
        sub_goal = False
        if not np.isfinite(cost[g]):
            # the map marks the goal lethal: head for the nearest free cell and look again from
            # closer (a far-range false hazard clears; a real one stays)
            fi, fj = np.nonzero(np.isfinite(cost))
            d = np.hypot(fi - g[0], fj - g[1]) * r
            k_best = int(np.argmin(d)) if d.size else -1
            near_goal = k_best >= 0 and d[k_best] <= cfg.goal_tolerance_m
            closer = k_best >= 0 and math.hypot(driver.x - gx, driver.y - gy) > d[k_best] + 1.0
            if not (near_goal or closer):
                stops.append(NavStop(t_img, driver.x, driver.y, img_heading, local, np.zeros((0, 2)),
                                     np.zeros((0, 2)), wait, t_cmd, "goal cell lethal"))
                driver.events.append((driver.t, "navigation failed", f"{label}: the goal cell is lethal in the map"))
                return False, "the goal lies on a hazard"
            g = (int(fi[k_best]), int(fj[k_best]))
            sub_goal = not near_goal
        try:
            path, _ = plan_path(cost, s, g)
        except PhysicsError:
            stops.append(NavStop(t_img, driver.x, driver.y, img_heading, local, np.zeros((0, 2)),
                                 np.zeros((0, 2)), wait, t_cmd, "no path"))
            driver.events.append((driver.t, "navigation failed", f"{label}: no path on the map"))
            return False, "no path around the mapped hazards"
        pxy = np.column_stack([x0 + (path[:, 1] + 0.5) * r, y0 - (path[:, 0] + 0.5) * r])
        pxy[0] = (driver.x, driver.y)
        if not sub_goal and math.hypot(gx - pxy[-1, 0], gy - pxy[-1, 1]) < cfg.goal_tolerance_m:
            pxy[-1] = (gx, gy) if math.hypot(gx - pxy[-1, 0], gy - pxy[-1, 1]) < 0.75 * r else pxy[-1]
        # drive along the path on known cells, at most segment_m
        # the ground under the rover is known (it stands there)
        on_path_known = known[path[:, 0], path[:, 1]] | (np.hypot(pxy[:, 0] - driver.x, pxy[:, 1] - driver.y)
                                                         <= BLIND_RADIUS_M)
        seg = _segment(pxy, on_path_known, cfg.segment_m)
        legs = _simplify(seg, tol_m=SIMPLIFY_TOL_M)
        driven = [(driver.x, driver.y)]
        note = ""
        refused_before = sum(1 for e in driver.events if e[1] == "segment refused")
        for p in legs[1:]:
            if not driver.drive_line(float(p[0]), float(p[1]), label, detour=False):
                note = "stopped: a step would exceed a limit"
                dx, dy = float(p[0]) - driver.x, float(p[1]) - driver.y
                d = math.hypot(dx, dy)
                if d > 1e-9:
                    step = min(d, driver.plan.step_m)
                    blocked.append((driver.x + dx / d * (step + BLOCKED_RADIUS_M),
                                    driver.y + dy / d * (step + BLOCKED_RADIUS_M)))
                break
            driven.append((driver.x, driver.y))
        refused = sum(1 for e in driver.events if e[1] == "segment refused") - refused_before
        if refused:
            driver.events.append((driver.t, "limit", f"{label}: the planned segment met a hazard the map missed"))
        stops.append(NavStop(t_img, float(driven[0][0]), float(driven[0][1]), img_heading, local, pxy,
                             np.asarray(driven, float), wait, t_cmd, note))
        if len(driven) == 1 and not refused:
            # nothing could be driven on known ground: edge forward one map cell is not possible
            driver.events.append((driver.t, "navigation failed", f"{label}: no known ground towards the goal"))
            return False, "no mapped ground towards the goal"
    return True, ""


def _bearing_deg(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _segment(pxy: np.ndarray, known: np.ndarray, segment_m: float) -> np.ndarray:
    """The path's first part: up to ``segment_m`` along it and before the first unknown cell."""
    d = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pxy, axis=0).T))]
    stop = len(pxy)
    unk = np.nonzero(~known[1:])[0]
    if unk.size:
        stop = min(stop, int(unk[0]) + 1)            # the last known cell
    over = np.nonzero(d > segment_m)[0]
    if over.size:
        stop = min(stop, int(over[0]))
    return pxy[:max(stop, 1)]


def _simplify(pxy: np.ndarray, *, tol_m: float) -> np.ndarray:
    """Douglas-Peucker: the path's corners, so the driver's straight legs stay within ``tol_m``."""
    if len(pxy) <= 2:
        return pxy
    keep = np.zeros(len(pxy), bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(pxy) - 1)]
    while stack:
        a, b = stack.pop()
        if b <= a + 1:
            continue
        p, q = pxy[a], pxy[b]
        dq = q - p
        L = math.hypot(*dq)
        seg = pxy[a + 1:b] - p
        dist = np.abs(seg[:, 0] * dq[1] - seg[:, 1] * dq[0]) / L if L > 0 else np.hypot(*seg.T)
        k = int(np.argmax(dist))
        if dist[k] > tol_m:
            m = a + 1 + k
            keep[m] = True
            stack += [(a, m), (m, b)]
    return pxy[keep]


@dataclass(frozen=True, eq=False)
class NavResult:
    """One navigated drive to a goal (:func:`drive_to_goal`)."""

    reached: bool
    why: str                          # "" when reached, else the cause
    limits: int                       # steps refused because they would exceed a limit
    distance_m: float
    duration_s: float
    wait_s: float                     # waiting for the link (ground mode)
    stops: list                       # NavStop per stereo stop
    traverse: Any                     # pandas.DataFrame of the drive rows (truth)
    events: Any                       # pandas.DataFrame t_s, event, detail


def drive_to_goal(site, start_xy, goal_xy, *, perceive: Callable[..., LocalCostmap], cfg: NavigationConfig | None = None,
                  rover=None, soil=None, t0_s: float = 0.0, heading_deg: float | None = None, link=None,
                  rng: np.random.Generator) -> NavResult:
    """Navigate from ``start_xy`` to ``goal_xy`` (site ENU metres) on ``site`` (``.terrain``,
    ``.rocks``) with ``perceive(x_m, y_m, heading_deg, t_s) -> LocalCostmap`` at every stop: the
    same loop the surface stage runs between its waypoints, without modes or a lander (always
    awake, the timeline 30 days long). ``rng``: the driver's stream (random wheel failures: none here).
    """
    import pandas as pd

    from farside.rover.surface import SurfacePlan, _bearing_deg as bearing, _Driver
    from farside.rover.terramechanics import LUNAR_REGOLITH
    from farside.rover.vehicle import YUTU2

    cfg = NavigationConfig() if cfg is None else cfg
    rover = YUTU2 if rover is None else rover
    soil = LUNAR_REGOLITH if soil is None else soil
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator")
    sx, sy = (float(v) for v in start_xy)
    gx, gy = (float(v) for v in goal_xy)
    if not all(math.isfinite(v) for v in (sx, sy, gx, gy)):
        raise invalid("start_xy/goal_xy", (start_xy, goal_xy), "finite site ENU metres")
    plan = SurfacePlan(egress_s=float(t0_s), end_s=float(t0_s) + 30 * 86400.0, lander_keepout_m=0.0)
    drv = _Driver(site, plan, rover, soil, np.array([float(t0_s)]), ["awake"], rng)
    if not (drv.in_site(sx, sy) and drv.in_site(gx, gy)):
        raise invalid("start_xy/goal_xy", ((sx, sy), (gx, gy)), "points inside the site DEM, a body length from its edge")
    drv.x, drv.y = sx, sy
    drv.heading = bearing(gx - sx, gy - sy) if heading_deg is None else float(heading_deg) % 360.0
    orbital = orbital_costmap(site.terrain, resolution_m=cfg.orbital_resolution_m, max_slope_deg=rover.max_slope_deg,
                              slope_cost_deg=cfg.slope_cost_deg)
    stops: list = []
    ok, why = navigate_to(drv, (gx, gy), "goal", perceive=perceive, cfg=cfg, orbital=orbital, link=link, stops=stops)
    ev = pd.DataFrame(sorted(drv.events, key=lambda e: e[0]), columns=["t_s", "event", "detail"])
    limits = int((ev["event"] == "segment refused").sum())
    return NavResult(reached=bool(ok), why=why, limits=limits, distance_m=float(drv.distance_m),
                     duration_s=float(drv.t - t0_s), wait_s=float(sum(s.wait_s for s in stops if math.isfinite(s.wait_s))),
                     stops=stops, traverse=pd.DataFrame(drv.rows), events=ev)


@dataclass(frozen=True, eq=False)
class Course:
    """A seeded navigation course (:func:`autonomy_course`): a site, a start and a goal, and what a
    straight-line driver would meet between them on the true terrain ("" = nothing)."""

    site: Any
    start_xy_m: tuple[float, float]
    goal_xy_m: tuple[float, float]
    straight_line_hazard: str
    seed: int


def autonomy_course(seed: int, *, distance_m: float = 20.0, rock_abundance: float = 0.02,
                    blocked_fraction: float = 0.6, size_px: int = 128, resolution_m: float = 0.5) -> Course:
    """A seeded course for navigation tests and benchmarks: a generated site (the Chang'e-4 crater
    population; ``rock_abundance`` -- default 2 %, ten times the CE-4 floor's 0.21 % (Wu et al.
    2021), a rocky ejecta patch -- plus, with probability ``blocked_fraction``, one to three
    blocks 0.5-0.95 m wide and 0.25-0.53 m high on the straight line between start and goal,
    6-14 m from the start), a
    start at the centre and a goal ``distance_m`` away in a random direction. The straight line is
    checked on the true terrain with the surface model's driver (slope, wheel obstacles, belly
    clearance at every 0.25 m step)."""
    import pandas as pd

    from farside.rover.surface import SurfacePlan, _Driver
    from farside.rover.terramechanics import LUNAR_REGOLITH
    from farside.rover.vehicle import YUTU2
    from farside.terrain import generate_site

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise invalid("seed", seed, "an integer >= 0")
    if not (math.isfinite(distance_m) and 2.0 <= distance_m <= 0.35 * size_px * resolution_m):
        raise invalid("distance_m", distance_m, f"a distance in [2, {0.35 * size_px * resolution_m:.0f}] m")
    rng = np.random.default_rng([int(seed), 0xC0])
    site = generate_site(size_px, resolution_m, rng=rng, rock_abundance=rock_abundance)
    ang = rng.uniform(0.0, 2.0 * math.pi)
    start = (0.0, 0.0)
    goal = (distance_m * math.sin(ang), distance_m * math.cos(ang))
    # the rover must be able to stand at the start and at the goal: no rock within 1.5 m of either
    rocks = site.rocks
    near = np.zeros(len(rocks), bool)
    for px, py in (start, goal):
        near |= np.hypot(rocks["x_m"].to_numpy(float) - px, rocks["y_m"].to_numpy(float) - py) \
            < 1.5 + 0.5 * rocks["diameter_m"].to_numpy(float)
    rocks = rocks[~near].reset_index(drop=True)
    site = dataclasses.replace(site, rocks=rocks)
    if rng.uniform() < blocked_fraction:
        n = int(rng.integers(1, 4))
        s = rng.uniform(6.0, 14.0, n)
        # narrower than two DEM pixels: the regolith patches stamp them (wider table rocks belong
        # in the DEM itself, which was generated before these were placed)
        d = rng.uniform(0.5, min(0.95, 1.9 * resolution_m), n)
        h = rng.uniform(0.25, 1.0, n) * np.maximum(0.5 * d + 0.05 - 0.25, 0.0) + 0.25
        extra = pd.DataFrame({"x_m": s * math.sin(ang), "y_m": s * math.cos(ang), "diameter_m": d, "height_m": h,
                              "source": "placed", "crater": -1})
        rocks = pd.concat([rocks, extra[[c for c in rocks.columns if c in extra]]], ignore_index=True)
        site = dataclasses.replace(site, rocks=rocks)
    plan = SurfacePlan(egress_s=0.0, end_s=1.0, lander_keepout_m=0.0)
    drv = _Driver(site, plan, YUTU2, LUNAR_REGOLITH, np.array([0.0]), ["awake"], np.random.default_rng(0))
    ok, why = drv.straight_ok(start[0], start[1], goal[0], goal[1])
    return Course(site=site, start_xy_m=start, goal_xy_m=goal, straight_line_hazard="" if ok else why, seed=int(seed))
