"""The rover's egress from the lander: which side the two-rail ramp goes down, or no-go.

Chang'e-3 lowered Yutu on a transfer mechanism whose rails reached the ground on one side, and
the rover drove down them ("ladder"; docs/references.md 3); Chang'e-4 inherited the design. The
lander's deck height, the ramp's length, where its hinge sits and which sides it can deploy to
are **UNCONFIRMED** (docs/references.md 8); the defaults here are assumptions:
``deck_height_m = 1.1`` (the rover's deck above the ground under the lander's centre),
``ramp_length_m = 3.5``, hinge ``deck_edge_m = 1.0`` from the lander's centre, sides
``("front", "rear")``. On flat ground that gives ``asin(1.1 / 3.5) = 18.3`` deg, inside the
rover's 20 deg slope limit (a ramp is a slope; ``max_ramp_angle_deg`` defaults to
``rover.max_slope_deg``).

Geometry (:func:`plan_egress`). For a side at compass azimuth ``a`` (``front`` = the lander's
heading, ``right`` +90, ``rear`` +180, ``left`` +270) the hinge is at the deck edge, ``deck_edge_m``
from the lander's centre along ``a``, at the deck's height (the deck plane is tilted by
``lander_tilt_deg``, dipping towards ``lander_tilt_azimuth_deg``). Two straight rails of length
``ramp_length_m``, one under each wheel track (gauge = the rover's track), are lowered from 20 deg
above the horizontal; each rail stops at the first angle at which any point along it touches the
ground (DEM + rocks, :func:`farside.rover.ground_height`); the rigid ramp stops at the first rail
that touches. The ramp angle ``gamma`` is then the angle of descent from the hinge (on flat ground,
``sin gamma = deck height / ramp length``, the rail resting on its tip).

A side is refused when: the ground is at or above the hinge; the rails do not reach the ground;
``gamma > max_ramp_angle_deg``; the other rail hangs more than ``max_rail_gap_m`` (UNCONFIRMED,
0.10 m) above the ground (the ramp would rock); the ramp's end is more than ``rover.max_obstacle_m``
above the ground (the ramp rests on a hump and the rover would drop off its end); the ground over
the rover's wheelbase beyond the foot (least-squares plane of the DEM over wheelbase x track) is
steeper than ``rover.max_slope_deg``; a rock taller than ``rover.max_obstacle_m`` lies in the foot
area (``foot_length_m``, default twice the wheelbase, beyond the foot, track + wheel width wide).
Among the allowed sides the one with the fewest hazards (rocks in the foot area taller than half
the obstacle limit) wins, then the lowest ramp angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.errors import invalid
from farside.rover.suspension import RockIndex, _as_index, ground_height
from farside.rover.vehicle import Rover

__all__ = ["RampSide", "EgressDecision", "plan_egress", "SIDE_OFFSETS_DEG"]

#: Azimuth of each side relative to the lander's heading, degrees clockwise.
SIDE_OFFSETS_DEG = {"front": 0.0, "right": 90.0, "rear": 180.0, "left": 270.0}

_GAMMA_START_DEG = -20.0
_GAMMA_END_DEG = 89.0


@dataclass(frozen=True, eq=False)
class RampSide:
    """The ramp deployed on one side (see the module docstring). Site ENU metres, degrees.

    ``top_*`` is the hinge (centre between the rails), ``foot_*`` the centre between the two rail
    tips; ``rail_gap_m`` how high the second rail's lowest point hangs above the ground;
    ``end_drop_m`` how high the end of the touching rail is above the ground (0 when it rests on
    its end); ``contact_m`` where along the touching rail it meets the ground; ``hazards`` the
    rocks taller than half the obstacle limit in the foot area, ``tallest_rock_m`` the tallest
    rock there.
    """

    side: str
    azimuth_deg: float
    go: bool
    reason: str
    ramp_angle_deg: float
    top_xy_m: np.ndarray
    top_z_m: float
    foot_xy_m: np.ndarray
    foot_z_m: float
    foot_slope_deg: float
    rail_gap_m: float
    end_drop_m: float
    contact_m: float
    hazards: int
    tallest_rock_m: float


@dataclass(frozen=True, eq=False)
class EgressDecision:
    """Where the rover leaves the lander (:func:`plan_egress`).

    ``go`` False means no side is safe; ``reason`` says why (each side's refusal). For a go, the
    chosen side's ramp: ``heading_deg`` is the compass direction down the ramp. ``candidates``
    holds every side assessed.
    """

    go: bool
    side: str | None
    reason: str
    ramp_angle_deg: float
    heading_deg: float
    top_xy_m: np.ndarray
    top_z_m: float
    foot_xy_m: np.ndarray
    foot_z_m: float
    foot_slope_deg: float
    candidates: tuple[RampSide, ...]


def _finite(name: str, v, lo: float | None = None, lo_open: bool = False, valid: str = "") -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise invalid(name, v, valid or "a finite number") from None
    if not math.isfinite(f) or (lo is not None and (f < lo or (lo_open and f == lo))):
        raise invalid(name, v, valid or "a finite number")
    return f


def _rail_clearance(terrain, index, top_xyz, ahat, gammas, s):
    """Clearance (G, S) of rail points at distance s along the rail for each angle in gammas."""
    cg, sg = np.cos(gammas)[:, None], np.sin(gammas)[:, None]
    px = top_xyz[0] + s[None, :] * cg * ahat[0]
    py = top_xyz[1] + s[None, :] * cg * ahat[1]
    pz = top_xyz[2] - s[None, :] * sg
    return pz - ground_height(terrain, index, px, py)


def _lower_rail(terrain, index, top_xyz, ahat, s):
    """First angle (rad) at which the lowered rail touches the ground, or None/-inf sentinel."""
    grid = np.radians(np.arange(_GAMMA_START_DEG, _GAMMA_END_DEG + 1e-9, 0.5))
    clr = _rail_clearance(terrain, index, top_xyz, ahat, grid, s).min(axis=1)
    if clr[0] <= 0:
        return -np.inf
    hit = np.flatnonzero(clr <= 0)
    if hit.size == 0:
        return None
    lo, hi = grid[hit[0] - 1], grid[hit[0]]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _rail_clearance(terrain, index, top_xyz, ahat, np.array([mid]), s).min() <= 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def _assess(rover, terrain, index, side, az_deg, lander_xy, ground0, deck_height, ramp_len, deck_edge,
            tilt, tilt_az, max_angle, max_gap, foot_len) -> RampSide:
    a = math.radians(az_deg)
    ahat = np.array([math.sin(a), math.cos(a)])
    lhat = np.array([-math.cos(a), math.sin(a)])                    # left of the down-ramp direction
    dip = np.array([math.sin(tilt_az), math.cos(tilt_az)])
    gauge = rover.track_m

    def deck_z(p):
        return ground0 + deck_height - math.tan(tilt) * float(np.dot(p - lander_xy, dip))

    top = lander_xy + deck_edge * ahat
    top_z = deck_z(top)
    res = terrain.resolution_m
    ns = max(50, int(math.ceil(ramp_len / min(0.02, 0.5 * res))) + 1)
    s = np.linspace(0.0, ramp_len, ns)
    nan2 = np.full(2, np.nan)

    def refuse(why, **kw):
        base = dict(side=side, azimuth_deg=az_deg % 360.0, go=False, reason=why, ramp_angle_deg=np.nan,
                    top_xy_m=top, top_z_m=top_z, foot_xy_m=nan2, foot_z_m=np.nan, foot_slope_deg=np.nan,
                    rail_gap_m=np.nan, end_drop_m=np.nan, contact_m=np.nan, hazards=0, tallest_rock_m=0.0)
        base.update(kw)
        return RampSide(**base)

    x0, x1, y0, y1 = terrain.extent_m
    reach = top + (ramp_len + foot_len + rover.wheelbase_m) * ahat
    for p in (top, reach, top + 0.5 * gauge * lhat, top - 0.5 * gauge * lhat):
        if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
            return refuse("the ramp and its foot area leave the DEM")
    rails = [top + 0.5 * gauge * lhat, top - 0.5 * gauge * lhat]
    tops = [np.array([r[0], r[1], deck_z(r)]) for r in rails]
    gam = [_lower_rail(terrain, index, t, ahat, s) for t in tops]
    if any(g == -np.inf for g in gam):
        return refuse("the ground is at or above the deck hinge")
    if any(g is None for g in gam):
        return refuse(f"the rails do not reach the ground within {ramp_len:g} m")
    k = int(np.argmin(gam))
    gamma = float(gam[k])
    clr = _rail_clearance(terrain, index, tops[k], ahat, np.array([gamma]), s)[0]
    contact = float(s[int(np.argmin(clr))])
    other = _rail_clearance(terrain, index, tops[1 - k], ahat, np.array([gamma]), s)[0]
    gap = float(max(other.min(), 0.0))
    tip = [t[:2] + ramp_len * math.cos(gamma) * ahat for t in tops]
    tip_z = [float(t[2] - ramp_len * math.sin(gamma)) for t in tops]
    tip_ground = [float(ground_height(terrain, index, p[0], p[1])) for p in tip]
    drop = float(max(tip_z[k] - tip_ground[k], 0.0))                 # the touching rail's end
    foot = 0.5 * (tip[0] + tip[1])
    foot_z = 0.5 * (tip_z[0] + tip_z[1])
    # ground slope beyond the foot: plane over wheelbase x track (DEM only)
    wb = rover.wheelbase_m
    ua = np.linspace(0.0, wb, 5)
    ul = np.linspace(-0.5 * gauge, 0.5 * gauge, 5)
    UA, UL = np.meshgrid(ua, ul, indexing="ij")
    px = foot[0] + UA * ahat[0] + UL * lhat[0]
    py = foot[1] + UA * ahat[1] + UL * lhat[1]
    pz = np.asarray(terrain.height_at(px, py), float)
    X = np.column_stack([np.ones(UA.size), UA.ravel(), UL.ravel()])
    coef = np.linalg.lstsq(X, pz.ravel(), rcond=None)[0]
    foot_slope = math.degrees(math.atan(math.hypot(coef[1], coef[2])))
    # rocks in the foot area
    half_w = 0.5 * (gauge + rover.wheel_width_m)
    centre = foot + 0.5 * foot_len * ahat
    near = index.near(centre[0], centre[1], math.hypot(0.5 * foot_len, half_w))
    tallest, hazards, worst = 0.0, 0, None
    for r in near:
        d = np.array([index.x_m[r], index.y_m[r]]) - foot
        along, lat = float(d @ ahat), float(d @ lhat)
        ea = max(0.0 - along, along - foot_len, 0.0)
        el = max(abs(lat) - half_w, 0.0)
        if math.hypot(ea, el) > index.radius_m[r]:
            continue
        h = float(index.height_m[r])
        if h > tallest:
            tallest, worst = h, (along, lat)
        if h > 0.5 * rover.max_obstacle_m:
            hazards += 1
    why = []
    angle_deg = math.degrees(gamma)
    if angle_deg > max_angle:
        why.append(f"ramp angle {angle_deg:.1f} deg > {max_angle:g} deg")
    if gap > max_gap:
        why.append(f"the second rail hangs {gap:.2f} m above the ground (> {max_gap:g} m): the ramp would rock")
    if drop > rover.max_obstacle_m:
        why.append(f"the ramp rests on high ground {contact:.2f} m down the rail; its end is {drop:.2f} m above "
                   f"the ground (> {rover.max_obstacle_m:g} m)")
    if foot_slope > rover.max_slope_deg:
        why.append(f"ground slope {foot_slope:.1f} deg beyond the foot > {rover.max_slope_deg:g} deg")
    if tallest > rover.max_obstacle_m:
        why.append(f"rock {tallest:.2f} m high {worst[0]:.2f} m beyond the foot (> {rover.max_obstacle_m:g} m)")
    return RampSide(side=side, azimuth_deg=az_deg % 360.0, go=not why, reason="; ".join(why), ramp_angle_deg=angle_deg,
                    top_xy_m=top, top_z_m=top_z, foot_xy_m=foot, foot_z_m=foot_z, foot_slope_deg=foot_slope,
                    rail_gap_m=gap, end_drop_m=drop, contact_m=contact, hazards=hazards, tallest_rock_m=tallest)


def plan_egress(rover: Rover, terrain, rocks_index: RockIndex | None, *, lander_xy_m, lander_heading_deg: float,
                lander_tilt_deg: float = 0.0, lander_tilt_azimuth_deg: float | None = None,
                deck_height_m: float = 1.1, ramp_length_m: float = 3.5, deck_edge_m: float = 1.0,
                sides: tuple[str, ...] = ("front", "rear"), max_ramp_angle_deg: float | None = None,
                max_rail_gap_m: float = 0.10, foot_length_m: float | None = None) -> EgressDecision:
    """Choose the side to deploy the ramp on, or no-go (module docstring).

    Parameters
    ----------
    rover : Rover
        The vehicle (track = rail gauge, limits).
    terrain : farside.terrain.Terrain
        The site DEM.
    rocks_index : RockIndex, pandas.DataFrame or None
        The site's rocks.
    lander_xy_m : (2,) array_like
        The lander's centre, site ENU metres; the deck height is measured from the DEM there.
    lander_heading_deg : float
        Compass heading of the lander's front (the ``front`` side), degrees.
    lander_tilt_deg, lander_tilt_azimuth_deg : float
        The deck's tilt (>= 0, degrees) and the compass azimuth it dips towards (default: the
        lander's heading).
    deck_height_m, ramp_length_m, deck_edge_m : float
        UNCONFIRMED lander geometry (module docstring), metres.
    sides : tuple of str
        Sides to consider, from ``front``, ``right``, ``rear``, ``left``.
    max_ramp_angle_deg : float, optional
        Steepest allowed ramp (default ``rover.max_slope_deg``).
    max_rail_gap_m : float
        Largest allowed gap under the second rail (UNCONFIRMED).
    foot_length_m : float, optional
        Length of the foot area searched for rocks (default twice the wheelbase).

    Returns
    -------
    EgressDecision
    """
    if not isinstance(rover, Rover):
        raise invalid("rover", type(rover).__name__, "a farside.rover.Rover")
    index = _as_index(rocks_index)
    xy = np.asarray(lander_xy_m, dtype=float).reshape(-1)
    if xy.shape != (2,) or not np.all(np.isfinite(xy)):
        raise invalid("lander_xy_m", lander_xy_m, "a finite (x, y) position in site ENU metres")
    heading = _finite("lander_heading_deg", lander_heading_deg, valid="a finite compass heading in degrees")
    tilt = _finite("lander_tilt_deg", lander_tilt_deg, 0.0, valid="a tilt in [0, 45] degrees")
    if tilt > 45.0:
        raise invalid("lander_tilt_deg", lander_tilt_deg, "a tilt in [0, 45] degrees")
    tilt_az = heading if lander_tilt_azimuth_deg is None else _finite(
        "lander_tilt_azimuth_deg", lander_tilt_azimuth_deg, valid="a finite compass azimuth in degrees")
    H = _finite("deck_height_m", deck_height_m, 0.0, True, "a deck height > 0 m")
    L = _finite("ramp_length_m", ramp_length_m, 0.0, True, "a ramp length > 0 m")
    if L <= H:
        raise invalid("ramp_length_m", ramp_length_m, f"a ramp longer than the deck height ({H:g} m)")
    e = _finite("deck_edge_m", deck_edge_m, 0.0, False, "a distance >= 0 m")
    max_angle = rover.max_slope_deg if max_ramp_angle_deg is None else _finite(
        "max_ramp_angle_deg", max_ramp_angle_deg, 0.0, True, "an angle in (0, 90) degrees")
    gap = _finite("max_rail_gap_m", max_rail_gap_m, 0.0, False, "a gap >= 0 m")
    foot_len = 2.0 * rover.wheelbase_m if foot_length_m is None else _finite(
        "foot_length_m", foot_length_m, 0.0, True, "a length > 0 m")
    if isinstance(sides, str) or not sides or any(sd not in SIDE_OFFSETS_DEG for sd in sides) \
            or len(set(sides)) != len(sides):
        raise invalid("sides", sides, f"a tuple of distinct sides from {', '.join(SIDE_OFFSETS_DEG)}")
    ground0 = float(terrain.height_at(xy[0], xy[1]))
    cands = tuple(_assess(rover, terrain, index, sd, heading + SIDE_OFFSETS_DEG[sd], xy, ground0, H, L, e,
                          math.radians(tilt), math.radians(tilt_az), max_angle, gap, foot_len) for sd in sides)
    allowed = [c for c in cands if c.go]
    if not allowed:
        why = "; ".join(f"{c.side}: {c.reason}" for c in cands)
        nan2 = np.full(2, np.nan)
        return EgressDecision(go=False, side=None, reason=f"no safe ramp side ({why})", ramp_angle_deg=np.nan,
                              heading_deg=np.nan, top_xy_m=nan2, top_z_m=np.nan, foot_xy_m=nan2, foot_z_m=np.nan,
                              foot_slope_deg=np.nan, candidates=cands)
    best = min(allowed, key=lambda c: (c.hazards, c.ramp_angle_deg))
    others = [f"{c.side}: {c.reason}" for c in cands if not c.go]
    reason = (f"{best.side} ramp at {best.ramp_angle_deg:.1f} deg, foot slope {best.foot_slope_deg:.1f} deg, "
              f"{best.hazards} minor rock hazard(s)" + (f" (refused {'; '.join(others)})" if others else ""))
    return EgressDecision(go=True, side=best.side, reason=reason, ramp_angle_deg=best.ramp_angle_deg,
                          heading_deg=best.azimuth_deg, top_xy_m=best.top_xy_m, top_z_m=best.top_z_m,
                          foot_xy_m=best.foot_xy_m, foot_z_m=best.foot_z_m, foot_slope_deg=best.foot_slope_deg,
                          candidates=cands)
