"""The surface mission of the rover: egress, driving a route, wheel faults, modes, power, thermal.

:func:`simulate_surface` runs the rover from touchdown to the end of the surface timeline on the
site DEM and its rock table, on the mission clock (float64 seconds since the scenario epoch) and
with the Sun track the caller provides (:class:`SunTrack`, from :mod:`farside.ephemeris`). No
file writing or plotting: the mission's ``surface`` stage writes the products.

What happens, in order:

1. **Egress** (:func:`farside.rover.plan_egress`): the ramp is deployed on the side whose foot
   is safe; no-go ends the rover's mission there (an event says why).
2. **Modes** (:func:`farside.rover.plan_modes`) on a regular grid (``timeline_step_s``): awake,
   noon nap, night sleep. The rover drives only while awake.
3. **Driving**: the route (waypoints relative to the lander, or a replayed track with times) is
   walked in steps of ``step_m``. At each step the rocker-bogie settles on the DEM and rocks
   (:func:`farside.rover.settle`); the driver refuses a step whose slope, obstacle, clearance or
   stability margin breaks a limit and tries a sidestep detour around it (up to
   ``detour_max_m`` to either side); then the terramechanics (:func:`steady_state_drive`) gives
   slip, speed, wheel torques, sinkage and electrical power for that slope with the wheel
   faults active at that time. Heading changes are point turns with their own time and energy
   (:func:`farside.rover.turn_cost`).
4. **Power and thermal** (:func:`simulate_power`, :func:`regolith_temperature`) over the whole
   timeline with the drive power where the rover drove.
5. **Tracks**: every wheel's sinkage is carved into a fine height-delta raster around the lander.

Quasi-static throughout: no dynamics of the body between steps, the drive state is the steady
state on the step's slope along the heading (the cross-slope enters the settle checks, not the
drive); wheel loads in the drive come from the slope, not from the individual wheel contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from farside.errors import PhysicsError, ScenarioError, invalid
from farside.rover.vehicle import YUTU2, Rover

__all__ = ["SunTrack", "Waypoint", "WheelFault", "SurfacePlan", "SurfaceResult", "simulate_surface",
           "carve_tracks", "FAULT_KINDS"]

FAULT_KINDS = ("reduced", "free", "locked")
_MODE_NAMES = ("awake", "nap", "sleep", "drive")


@dataclass(frozen=True)
class SunTrack:
    """The Sun seen from the site: ``t_s`` (N,) mission seconds, increasing; ``enu`` (N, 3) unit
    vectors in site ENU; ``distance_au`` (N,). :meth:`at` interpolates linearly (renormalised)."""

    t_s: np.ndarray
    enu: np.ndarray
    distance_au: np.ndarray

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, float)
        e = np.asarray(self.enu, float).reshape(-1, 3)
        d = np.broadcast_to(np.asarray(self.distance_au, float), t.shape).copy()
        if t.ndim != 1 or len(t) < 2 or not np.all(np.diff(t) > 0) or len(e) != len(t):
            raise invalid("sun.t_s", f"{len(t)} samples", "at least 2 increasing times with one ENU vector each")
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "enu", e)
        object.__setattr__(self, "distance_au", d)

    def at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(t_s, float)
        e = np.stack([np.interp(t, self.t_s, self.enu[:, k]) for k in range(3)], axis=-1)
        e /= np.linalg.norm(e, axis=-1, keepdims=True)
        return e, np.interp(t, self.t_s, self.distance_au)

    def elevation_deg(self, t_s: np.ndarray) -> np.ndarray:
        e, _ = self.at(t_s)
        return np.degrees(np.arcsin(np.clip(e[..., 2], -1.0, 1.0)))


@dataclass(frozen=True)
class Waypoint:
    """A point of the route, metres east/north of the lander's touchdown point, with a stop there."""

    x_m: float
    y_m: float
    stop_s: float = 0.0
    name: str = ""
    #: the rover leaves for this waypoint no earlier than this mission time (s; e.g. the next lunar day)
    not_before_s: float = -math.inf


@dataclass(frozen=True)
class WheelFault:
    """Wheel ``wheel`` (0-2 left front to rear, 3-5 right) becomes ``kind`` at mission time ``t_s``."""

    t_s: float
    wheel: int
    kind: str

    def __post_init__(self) -> None:
        if not isinstance(self.wheel, (int, np.integer)) or isinstance(self.wheel, bool) or not 0 <= int(self.wheel) <= 5:
            raise invalid("wheel", self.wheel, "a wheel index 0-5 (0-2 left front to rear, 3-5 right front to rear)")
        if self.kind not in FAULT_KINDS:
            raise invalid("kind", self.kind, f"one of {', '.join(FAULT_KINDS)}")
        if not math.isfinite(float(self.t_s)):
            raise invalid("t_s", self.t_s, "a finite mission time in seconds")


@dataclass(frozen=True)
class SurfacePlan:
    """What the rover is asked to do. Times are mission seconds since the scenario epoch.

    ``replay`` (optional) is a scheduled track with columns ``t_s, x_m, y_m`` (metres from the
    lander): the rover drives it point to point at the given times instead of ``waypoints``.
    """

    egress_s: float
    end_s: float
    waypoints: tuple[Waypoint, ...] = ()
    faults: tuple[WheelFault, ...] = ()
    failure_rate_per_km: float = 0.0
    speed_mps: float = YUTU2.max_speed_mps
    step_m: float = 0.25
    timeline_step_s: float = 600.0
    detour_max_m: float = 5.0
    #: the rover's centre keeps this far from the lander's centre (legs, ramp and a margin; UNCONFIRMED)
    lander_keepout_m: float = 3.0
    lander_heading_deg: float = 0.0
    replay: pd.DataFrame | None = None
    track_half_width_m: float = 30.0
    track_resolution_m: float = 0.02
    #: the warm box's night heat budget (farside.rover.power.WarmBox; None = the default box)
    warm_box: Any = None
    #: drive between waypoints by stereo stops (farside.rover.autonomy.NavigationConfig; None =
    #: straight legs with the driver's own detours); needs ``perceive`` (and ``link`` in the
    #: ground-in-the-loop mode) in :func:`simulate_surface`
    navigation: Any = None
    #: mode thresholds, Sun elevation in degrees (farside.rover.plan_modes; defaults fitted to
    #: Yutu-2's reported nap, sleep and wake times at the CE-4 site)
    nap_sun_elevation_deg: float = 41.0
    nap_exit_sun_elevation_deg: float = 28.1
    sleep_sun_elevation_deg: float = 9.2
    wake_sun_elevation_deg: float = 7.0

    def __post_init__(self) -> None:
        for name in ("egress_s", "end_s", "speed_mps", "step_m", "timeline_step_s", "failure_rate_per_km",
                     "detour_max_m", "lander_keepout_m", "lander_heading_deg", "track_half_width_m", "track_resolution_m"):
            v = float(getattr(self, name))
            if not math.isfinite(v):
                raise invalid(name, getattr(self, name), "a finite number")
        if self.speed_mps <= 0:
            raise invalid("speed_mps", self.speed_mps, "a speed > 0 m/s (at most the rover's 200 m/h)")
        if self.step_m <= 0 or self.timeline_step_s <= 0 or self.track_resolution_m <= 0:
            raise invalid("step_m/timeline_step_s/track_resolution_m", (self.step_m, self.timeline_step_s,
                          self.track_resolution_m), "numbers > 0")
        if self.failure_rate_per_km < 0:
            raise invalid("failure_rate_per_km", self.failure_rate_per_km, "a rate >= 0 per wheel per km")
        if self.warm_box is None:
            from farside.rover.power import WarmBox

            object.__setattr__(self, "warm_box", WarmBox())
        if self.end_s <= self.egress_s:
            raise invalid("end_s", self.end_s, f"a time after the egress ({self.egress_s:.0f} s)")


@dataclass(frozen=True)
class SurfaceResult:
    """The rover's surface mission. ``traverse`` has one row per drive step and per timeline
    sample (see :func:`simulate_surface`); ``events`` has ``t_s, event, detail``."""

    traverse: pd.DataFrame
    events: pd.DataFrame
    egress: Any                      # farside.rover.EgressDecision
    tracks: Any                      # farside.rover.TrackRaster
    power: Any                       # farside.rover.PowerTrace on traverse.t_s
    summary: dict
    drive_steps: pd.DataFrame        # the drive steps alone (slip against slope etc.)
    fault_costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the stereo stops of a navigated traverse (farside.rover.autonomy.NavStop), in time order
    nav_stops: list = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
def _bearing_deg(dx: float, dy: float) -> float:
    """Compass bearing (clockwise from north) of an ENU displacement."""
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _wrap180(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


class _Driver:
    """The rover driving along the route: state, rows and events."""

    def __init__(self, site, plan: SurfacePlan, rover: Rover, soil, modes_t, modes, rng) -> None:
        from farside.rover.suspension import RockIndex

        self.terrain = site.terrain
        self.rocks = RockIndex(site.rocks)
        self.plan = plan
        self.rover = rover
        self.soil = soil
        self.modes_t = modes_t
        self.modes = modes
        self.rng = rng
        self.rows: list[dict] = []
        self.origin = (0.0, 0.0)            # the lander
        self.keepout_m = plan.lander_keepout_m
        self.events: list[tuple[float, str, str]] = []
        self.faults: dict[int, str] = {}
        self.pending = sorted(plan.faults, key=lambda f: (f.t_s, f.wheel))
        self.distance_m = 0.0
        self.t = plan.egress_s
        self.x = self.y = 0.0
        self.heading = 0.0
        self.turn_energy_j = 0.0
        self._drive_cache: dict = {}
        self._settle_cache: dict = {}
        # random wheel failures: distance to failure per wheel from an exponential law
        if plan.failure_rate_per_km > 0:
            d = rng.exponential(1000.0 / plan.failure_rate_per_km, size=6)
            kinds = rng.integers(0, len(FAULT_KINDS), size=6)
            self.random_faults = sorted((float(d[w]), w, FAULT_KINDS[int(kinds[w])]) for w in range(6))
        else:
            self.random_faults = []

    # -- modes --------------------------------------------------------------------------------
    def mode_at(self, t: float) -> str:
        k = int(np.searchsorted(self.modes_t, t, side="right")) - 1
        return self.modes[max(k, 0)]

    def wait_until_awake(self) -> bool:
        """Advance the clock to the next awake time; False when the timeline ends first."""
        if self.mode_at(self.t) == "awake":
            return True
        k = int(np.searchsorted(self.modes_t, self.t, side="right")) - 1
        awake = np.nonzero((np.asarray(self.modes[k:]) == "awake"))[0]
        if len(awake) == 0:
            return False
        self.t = max(self.t, float(self.modes_t[k + awake[0]]))
        return self.t < self.plan.end_s

    # -- faults -------------------------------------------------------------------------------
    def update_faults(self) -> None:
        while self.pending and self.pending[0].t_s <= self.t:
            f = self.pending.pop(0)
            self.faults[int(f.wheel)] = f.kind
            self.events.append((max(f.t_s, self.t), "wheel fault", f"wheel {f.wheel}: {f.kind} (scenario)"))
        while self.random_faults and self.random_faults[0][0] <= self.distance_m:
            d, w, kind = self.random_faults.pop(0)
            if w not in self.faults:
                self.faults[w] = kind
                self.events.append((self.t, "wheel fault", f"wheel {w}: {kind} (random, after {d:.1f} m)"))

    # -- one step -----------------------------------------------------------------------------
    def settle(self, x: float, y: float, heading: float):
        """The settled pose (memoised: the route check and the drive settle the same points)."""
        from farside.rover.suspension import settle

        key = (x, y, heading)
        pose = self._settle_cache.get(key)
        if pose is None:
            pose = settle(self.rover, self.terrain, self.rocks, x_m=x, y_m=y, heading_deg=heading)
            self._settle_cache[key] = pose
        return pose

    def drive_state(self, slope_deg: float):
        from farside.rover.drive import steady_state_drive

        key = (round(slope_deg, 1), tuple(sorted(self.faults.items())))
        ds = self._drive_cache.get(key)
        if ds is None:
            ds = _capped_drive(self.rover, self.soil, key[0], key[1], self.plan.speed_mps)
            self._drive_cache[key] = ds
        return ds

    def in_site(self, x: float, y: float) -> bool:
        x0, x1, y0, y1 = self.terrain.extent_m
        m = 2.0 * self.rover.body_length_m
        return x0 + m <= x <= x1 - m and y0 + m <= y <= y1 - m

    def straight_ok(self, x0: float, y0: float, x1: float, y1: float) -> tuple[bool, str]:
        """Can the straight line be driven? (settle checks at every step)."""
        d = math.hypot(x1 - x0, y1 - y0)
        n = max(1, int(math.ceil(d / self.plan.step_m)))
        hd = _bearing_deg(x1 - x0, y1 - y0)
        for k in range(1, n + 1):
            x, y = x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n
            if not self.in_site(x, y):
                return False, "leaves the site DEM"
            if math.hypot(x - self.origin[0], y - self.origin[1]) < self.keepout_m:
                return False, f"passes within {self.keepout_m:g} m of the lander"
            why = self.refuse(self.settle(x, y, hd))
            if why:
                return False, why
        return True, ""

    def refuse(self, pose) -> str:
        """Why the driver will not take this pose ("" = it will): the suspension's own limits
        (slope, wheel obstacle, clearance, stability), and an obstacle under the body taller than
        the rover's limit, seen as the belly clearance falling more than ``max_obstacle_m``
        below its nominal value (0.30 - 0.20 = 0.10 m for Yutu-2)."""
        if not pose.ok:
            return pose.reason
        floor = self.rover.belly_clearance_m - self.rover.max_obstacle_m
        if pose.belly_clearance_m < floor:
            return (f"belly clearance {pose.belly_clearance_m:.3f} m < {floor:.3f} m (an obstacle taller than "
                    f"{self.rover.max_obstacle_m:.2f} m under the body)")
        return ""

    def turn_to(self, heading: float) -> None:
        from farside.rover.suspension import turn_cost

        dh = _wrap180(heading - self.heading)
        if abs(dh) > 1.0:
            tc = turn_cost(self.rover, self.soil, kind="point", angle_deg=abs(dh))
            time_s, energy_j = float(tc[0]), float(tc[1])
            self.events.append((self.t, "point turn", f"{dh:+.0f} deg, {time_s:.0f} s, {energy_j:.0f} J"))
            row = self._row_static(self.t, "turn", power_w=energy_j / max(time_s, 1e-9))
            row["step_s"] = time_s
            self.rows.append(row)
            self.turn_energy_j += energy_j
            self.t += time_s
        self.heading = heading % 360.0

    def _row_static(self, t: float, mode: str, power_w: float = 0.0) -> dict:
        p = self.settle(self.x, self.y, self.heading)
        return self._row(t, p, None, mode, power_w, dt=0.0)

    def _row(self, t: float, pose, ds, mode: str, power_w: float, dt: float) -> dict:
        r = {"t_s": t, "x_m": pose.x_m, "y_m": pose.y_m, "z_m": pose.z_m, "heading_deg": self.heading,
             "pitch_deg": pose.pitch_deg, "roll_deg": pose.roll_deg, "clearance_m": pose.belly_clearance_m,
             "stability_margin_deg": pose.stability_margin_deg, "obstacle_m": float(np.max(pose.obstacle_m)),
             "distance_m": self.distance_m, "mode": mode,
             "drive_power_w": power_w, "step_s": dt, "speed_mps": 0.0 if ds is None else ds.speed_mps}
        for w in range(6):
            r[f"load_n_{w}"] = float(pose.wheel_load_n[w])
            r[f"slip_{w}"] = 0.0 if ds is None else float(ds.wheel_slip[w])
            r[f"sinkage_m_{w}"] = 0.0 if ds is None else float(ds.wheel_sinkage_m[w])
            r[f"torque_nm_{w}"] = 0.0 if ds is None else float(ds.wheel_torque_nm[w])
            r[f"fault_{w}"] = self.faults.get(w, "nominal")
        return r

    def drive_line(self, x1: float, y1: float, label: str, *, detour: bool = True) -> bool:
        """Drive straight to (x1, y1) (turning first); detour around a refused step. False when
        the goal is given up (an event says why). ``detour=False`` (a navigated segment): no look
        ahead on the true terrain -- the rover drives until a step would exceed a limit and stops
        before it."""
        from farside.rover.drive import check_drive_request

        ok, why = self.straight_ok(self.x, self.y, x1, y1) if detour else (True, "")
        if not ok:
            detour = self.find_detour(x1, y1)
            if detour is None:
                self.events.append((self.t, "segment refused", f"to {label}: {why}; no detour within "
                                    f"{self.plan.detour_max_m:g} m"))
                return False
            self.events.append((self.t, "detour", f"to {label}: {why}; via ({detour[0] - self.origin[0]:.1f}, "
                                f"{detour[1] - self.origin[1]:.1f}) m from the lander"))
            return self.drive_line(*detour, label=f"detour to {label}") and self.drive_line(x1, y1, label)
        self.turn_to(_bearing_deg(x1 - self.x, y1 - self.y))
        d = math.hypot(x1 - self.x, y1 - self.y)
        n = max(1, int(math.ceil(d / self.plan.step_m)))
        xs, ys = self.x, self.y
        for k in range(1, n + 1):
            if self.t >= self.plan.end_s:
                return False
            if not self.wait_until_awake():
                self.t = self.plan.end_s
                return False
            self.update_faults()
            x, y = xs + (x1 - xs) * k / n, ys + (y1 - ys) * k / n
            if not detour:
                if not self.in_site(x, y):
                    self.events.append((self.t, "segment refused", f"to {label}: leaves the site DEM"))
                    return False
                if math.hypot(x - self.origin[0], y - self.origin[1]) < self.keepout_m:
                    self.events.append((self.t, "segment refused", f"to {label}: within {self.keepout_m:g} m of the lander"))
                    return False
            pose = self.settle(x, y, self.heading)
            step = math.hypot(x - self.x, y - self.y)
            why = self.refuse(pose)
            if why:                                         # (checked on the leg; faults may change nothing here)
                self.events.append((self.t, "segment refused", f"to {label}: {why}"))
                return False
            try:
                check_drive_request(self.rover, speed_mps=self.plan.speed_mps, slope_deg=abs(pose.pitch_deg),
                                    obstacle_m=float(np.max(pose.obstacle_m)))
            except PhysicsError as e:                       # noqa: PERF203
                self.events.append((self.t, "segment refused", f"to {label}: {e}"))
                return False
            ds = self.drive_state(pose.pitch_deg)
            if not ds.progress:
                self.events.append((self.t, "segment refused", f"to {label}: no progress at {pose.pitch_deg:.1f} deg "
                                    f"with faults {dict(self.faults) or 'none'}"))
                return False
            dt = step / ds.speed_mps
            self.rows.append(self._row(self.t, pose, ds, "drive", ds.power_w, dt))
            self.t += dt
            self.distance_m += step
            self.x, self.y = x, y
        return True

    def find_detour(self, x1: float, y1: float) -> tuple[float, float] | None:
        """A sidestep point: halfway along the line, offset perpendicular by 0.5 m steps up to
        ``detour_max_m`` (nearest first, left before right), from which both legs can be driven."""
        mx, my = 0.5 * (self.x + x1), 0.5 * (self.y + y1)
        d = math.hypot(x1 - self.x, y1 - self.y)
        if d < 1e-6:
            return None
        nx, ny = -(y1 - self.y) / d, (x1 - self.x) / d
        for off in np.arange(0.5, self.plan.detour_max_m + 1e-9, 0.5):
            for sgn in (1.0, -1.0):
                px, py = mx + sgn * off * nx, my + sgn * off * ny
                if self.straight_ok(self.x, self.y, px, py)[0] and self.straight_ok(px, py, x1, y1)[0]:
                    return float(px), float(py)
        return None


def simulate_surface(site, plan: SurfacePlan, *, rover: Rover = YUTU2, soil=None, touchdown, sun: SunTrack,
                     rng: np.random.Generator, perceive=None, link=None) -> SurfaceResult:
    """Run the rover's surface mission (module docstring) and return its tables.

    Parameters
    ----------
    site : farside.terrain.Site
        The site DEM (``site.terrain``) and its rock table (``site.rocks``).
    plan : SurfacePlan
        Egress time, route or replayed track, faults, timeline end.
    rover, soil :
        The vehicle (default :data:`YUTU2`) and the soil (default ``LUNAR_REGOLITH``).
    touchdown :
        The lander's touchdown point: anything with ``enu_m`` (x, y, z site ENU metres).
    sun : SunTrack
        The Sun over (at least) ``[plan.egress_s, plan.end_s]``.
    rng : numpy.random.Generator
        The rover's stream (random wheel failures).
    perceive, link :
        With ``plan.navigation``: the perception called at every stereo stop
        (``perceive(x_m, y_m, heading_deg, t_s) -> farside.rover.autonomy.LocalCostmap``) and, in
        the ground-in-the-loop mode, the relay (:class:`farside.comms.LinkService`).
    """
    from farside.rover.drive import steady_state_drive
    from farside.rover.egress import plan_egress
    from farside.rover.modes import plan_modes
    from farside.rover.power import simulate_power, warm_box_heat_loss_w
    from farside.rover.suspension import RockIndex
    from farside.rover.terramechanics import LUNAR_REGOLITH
    from farside.rover.thermal import regolith_temperature
    from farside.rover.tracks import TrackRaster

    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator (the rover's child stream)")
    soil = LUNAR_REGOLITH if soil is None else soil
    if sun.t_s[0] > plan.egress_s or sun.t_s[-1] < plan.end_s:
        raise invalid("sun", f"{sun.t_s[0]:.0f}..{sun.t_s[-1]:.0f} s",
                      f"a Sun track covering the surface timeline {plan.egress_s:.0f}..{plan.end_s:.0f} s")
    tx, ty = float(touchdown.enu_m[0]), float(touchdown.enu_m[1])

    # --- timeline grid, thermal and modes ------------------------------------------------------
    grid = np.arange(plan.egress_s, plan.end_s + 0.5 * plan.timeline_step_s, plan.timeline_step_s)
    sun_g, dist_g = sun.at(grid)
    el_g = np.degrees(np.arcsin(np.clip(sun_g[:, 2], -1, 1)))
    t_level = regolith_temperature(grid, sun_g, sun_distance_au=dist_g)
    mode_codes, mode_events = plan_modes(grid, el_g, surface_temperature_k=t_level,
                                         nap_sun_elevation_deg=plan.nap_sun_elevation_deg,
                                         nap_exit_sun_elevation_deg=plan.nap_exit_sun_elevation_deg,
                                         sleep_before_sunset_elevation_deg=plan.sleep_sun_elevation_deg,
                                         wake_after_sunrise_elevation_deg=plan.wake_sun_elevation_deg)
    modes = [str(m) for m in np.asarray(mode_codes).tolist()]

    driver = _Driver(site, plan, rover, soil, grid, modes, rng)
    driver.origin = (tx, ty)
    events = driver.events
    events.append((plan.egress_s, "egress start", ""))
    if modes[0] != "awake":
        events.append((plan.egress_s, f"{modes[0]} at egress",
                       f"Sun {el_g[0]:.1f} deg up (wake above {plan.wake_sun_elevation_deg:g} deg, nap above "
                       f"{plan.nap_sun_elevation_deg:g} deg): the rover waits"))
    for t_ev, name in mode_events:
        events.append((float(t_ev), str(name), ""))

    # --- egress --------------------------------------------------------------------------------
    egress = plan_egress(rover, site.terrain, RockIndex(site.rocks), lander_xy_m=(tx, ty),
                         lander_heading_deg=plan.lander_heading_deg)
    tracks = TrackRaster.around(tx, ty, half_width_m=plan.track_half_width_m, resolution_m=plan.track_resolution_m)
    nav_stops: list = []
    if not egress.go:
        events.append((plan.egress_s, "egress no-go", egress.reason))
    else:
        foot = np.asarray(egress.foot_xy_m, float)
        driver.x, driver.y = float(egress.top_xy_m[0]), float(egress.top_xy_m[1])
        driver.heading = _bearing_deg(foot[0] - driver.x, foot[1] - driver.y)
        # down the ramp: the drive at the ramp's (downhill) angle over its length
        ds = _capped_drive(rover, soil, -float(egress.ramp_angle_deg), (), plan.speed_mps)
        length = float(np.hypot(*(foot - [driver.x, driver.y])))
        dt = length / max(ds.speed_mps, 1e-6)
        driver.x, driver.y = float(foot[0]), float(foot[1])
        pose = driver.settle(driver.x, driver.y, driver.heading)
        row = driver._row(plan.egress_s, pose, ds, "drive", ds.power_w, dt)
        row["pitch_deg"] = -float(egress.ramp_angle_deg)        # on the ramp, nose down
        driver.rows.append(row)
        driver.t = plan.egress_s + dt
        driver.distance_m += length
        events.append((driver.t, "egress done", f"{egress.side} ramp, {egress.ramp_angle_deg:.1f} deg, "
                       f"foot {length:.2f} m from the deck"))
        # --- the route ---------------------------------------------------------------------
        if plan.replay is not None:
            # the recorded track is the truth: its origin (the lander, a few metres uncertain) is
            # not kept out; where it crosses a hazard of the synthetic site, the step is refused
            # and the rover is put at the recorded position (the real one was there)
            driver.keepout_m = 0.0
            rp = plan.replay
            for t_k, x_k, y_k in zip(rp["t_s"].to_numpy(float), rp["x_m"].to_numpy(float), rp["y_m"].to_numpy(float)):
                if t_k >= plan.end_s:
                    break
                driver.t = max(driver.t, float(t_k))
                if math.hypot(tx + x_k - driver.x, ty + y_k - driver.y) < 1e-3:
                    continue
                if not driver.drive_line(tx + x_k, ty + y_k, "replayed track"):
                    driver.t = max(driver.t, float(t_k))
                    # a refused replay step: jump to the recorded position, as the real rover was there
                    driver.x, driver.y = tx + x_k, ty + y_k
        else:
            nav_orbital = None
            if plan.navigation is not None:
                from farside.rover.autonomy import navigate_to, orbital_costmap

                if perceive is None:
                    raise invalid("perceive", None, "a perception callable when plan.navigation is set")
                nav_orbital = orbital_costmap(site.terrain, resolution_m=plan.navigation.orbital_resolution_m,
                                              max_slope_deg=rover.max_slope_deg,
                                              slope_cost_deg=plan.navigation.slope_cost_deg)
            for k, wp in enumerate(plan.waypoints):
                label = wp.name or f"waypoint {k + 1}"
                gx, gy = tx + wp.x_m, ty + wp.y_m
                if not driver.in_site(gx, gy):
                    raise invalid(f"waypoints[{k}]", (wp.x_m, wp.y_m), "a point inside the site DEM (metres from the lander)")
                driver.t = max(driver.t, wp.not_before_s)
                if driver.t >= plan.end_s:
                    break
                if nav_orbital is not None:
                    arrived, why = navigate_to(driver, (gx, gy), label, perceive=perceive, cfg=plan.navigation,
                                               orbital=nav_orbital, link=link, stops=nav_stops)
                    if not arrived:
                        events.append((driver.t, "waypoint missed", f"{label}: {why}"))
                else:
                    arrived = driver.drive_line(gx, gy, label)
                if arrived:
                    events.append((driver.t, "arrived", label))
                    if wp.stop_s > 0:
                        events.append((driver.t, "stop", f"{label}: {wp.stop_s / 3600:.1f} h"))
                        driver.rows.append(driver._row_static(driver.t, "awake"))
                        driver.t += wp.stop_s

    # --- the timeline rows (drive steps + the regular grid) -------------------------------------
    if not driver.rows:
        # no egress: the rover stays on the lander's deck (its pose there: the ground under the deck)
        driver.x, driver.y = tx, ty
        row = driver._row_static(plan.egress_s, "awake")
        driver.rows.append(row)
    drive_rows = pd.DataFrame(driver.rows)
    if len(drive_rows):
        t_drive = drive_rows["t_s"].to_numpy(float)
    else:
        t_drive = np.zeros(0)
    # grid rows: the rover's pose at that time is its last drive pose (none before the egress);
    # samples inside a drive step are covered by that step's row
    if len(drive_rows):
        k = np.searchsorted(t_drive, grid, side="right") - 1
        step_s = drive_rows["step_s"].to_numpy(float)
        kk = np.maximum(k, 0)
        keep = (k >= 0) & ~(grid < t_drive[kk] + step_s[kk])
        static = drive_rows.iloc[k[keep]].reset_index(drop=True)
        static["t_s"] = grid[keep]
        static["mode"] = [driver.mode_at(t) for t in grid[keep]]
        for col in ("drive_power_w", "step_s", "speed_mps", *(f"slip_{w}" for w in range(6)),
                    *(f"torque_nm_{w}" for w in range(6))):
            static[col] = 0.0
        # where a drive or turn step ends and no other row starts, the rover stands: a zero-power row
        # there ends the step's power in the piecewise-constant power integral
        ends = drive_rows[drive_rows["step_s"] > 0].copy()
        ends["t_s"] = ends["t_s"] + ends["step_s"]
        ends = ends[~np.isin(ends["t_s"].to_numpy(float), t_drive) & (ends["t_s"] < plan.end_s)]
        ends["mode"] = [driver.mode_at(t) for t in ends["t_s"]]
        for col in ("drive_power_w", "step_s", "speed_mps", *(f"slip_{w}" for w in range(6)),
                    *(f"torque_nm_{w}" for w in range(6))):
            ends[col] = 0.0
        trav = pd.concat([drive_rows, static, ends], ignore_index=True)
    else:
        trav = drive_rows
    trav = trav.sort_values("t_s", kind="stable").reset_index(drop=True)

    # power and temperatures on the traverse's times
    t_all = trav["t_s"].to_numpy(float)
    sun_all, dist_all = sun.at(t_all)
    mode_all = trav["mode"].astype(str).to_numpy()
    pwr = simulate_power(t_all, sun_all, rover=rover, mode=mode_all, drive_power_w=trav["drive_power_w"].to_numpy(float),
                         sun_distance_au=dist_all)
    trav["array_w"] = pwr.array_w
    trav["load_w"] = pwr.load_w
    trav["soc"] = pwr.soc
    trav["regolith_level_k"] = np.interp(t_all, grid, t_level)
    # the warm box's heat loss at its setpoint; asleep, the radioisotope heaters must cover it
    trav["warm_box_loss_w"] = warm_box_heat_loss_w(trav["regolith_level_k"].to_numpy(float), plan.warm_box)
    trav["sun_elevation_deg"] = np.degrees(np.arcsin(np.clip(sun_all[:, 2], -1, 1)))

    # tracks
    dsteps = trav[trav["mode"] == "drive"].reset_index(drop=True)
    carve_tracks(tracks, dsteps, rover, plan.step_m)

    ev = pd.DataFrame(sorted(events, key=lambda e: e[0]), columns=["t_s", "event", "detail"])   # stable: same-time events in the order they happened
    summary = _summary(trav, dsteps, ev, driver, rover, pwr, egress)
    return SurfaceResult(traverse=trav, events=ev, egress=egress, tracks=tracks, power=pwr, summary=summary,
                         drive_steps=dsteps, nav_stops=nav_stops)


def carve_tracks(tracks, dsteps, rover: Rover, step_m: float) -> None:
    """Carve the ruts of the drive rows ``dsteps`` (traverse rows in drive mode, in time order)
    into ``tracks`` (a :class:`~farside.rover.TrackRaster`, in place). :func:`simulate_surface`
    carves the whole traverse; an imaging step carves the rows driven before its photograph."""
    from farside.rover.tracks import imprint

    if not len(dsteps):
        return
    xy = np.stack([_wheel_xy(rover, r.x_m, r.y_m, r.heading_deg) for r in dsteps.itertuples()])
    sink = dsteps[[f"sinkage_m_{w}" for w in range(6)]].to_numpy(float)
    # one rut polyline per straight leg: a heading change (a point turn, not carved) or a jump
    # (a replayed step put the rover elsewhere) starts a new one, so no chord crosses a turn
    hd = dsteps["heading_deg"].to_numpy(float)
    pos = dsteps[["x_m", "y_m"]].to_numpy(float)
    gap = np.hypot(*np.diff(pos, axis=0).T) > 2.0 * step_m
    breaks = np.nonzero((np.abs(np.diff(hd)) > 1e-9) | gap)[0] + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(dsteps)]):
        if b - a >= 2:
            imprint(tracks, xy[a:b], sink[a:b], rover.wheel_width_m)


def _capped_drive(rover: Rover, soil, slope_deg: float, faults, speed_mps: float):
    """The steady drive at the commanded rim speed, lowered where skid downhill would carry the
    rover faster than ``speed_mps`` over the ground (the steady slip does not depend on the rim
    speed in the quasi-static wheel model, so one rescaling is exact)."""
    from farside.rover.drive import steady_state_drive

    ds = steady_state_drive(rover, soil, slope_deg=slope_deg, wheel_faults=faults, speed_mps=speed_mps)
    if ds.progress and ds.speed_mps > speed_mps:
        ds = steady_state_drive(rover, soil, slope_deg=slope_deg, wheel_faults=faults,
                                speed_mps=speed_mps * speed_mps / ds.speed_mps)
    return ds


def _wheel_xy(rover: Rover, x: float, y: float, heading_deg: float) -> np.ndarray:
    """(6, 2) ENU wheel positions for a body at (x, y) with a compass heading."""
    h = math.radians(heading_deg)
    fwd = np.array([math.sin(h), math.cos(h)])
    left = np.array([-math.cos(h), math.sin(h)])
    b = rover.wheel_xy_m
    return np.array([x, y]) + b[:, :1] * fwd + b[:, 1:2] * left


def _summary(trav, dsteps, ev, driver, rover, pwr, egress) -> dict:
    def first(name):
        s = ev[ev["event"] == name]["t_s"]
        return float(s.iloc[0]) if len(s) else None

    slope = dsteps["pitch_deg"].abs().max() if len(dsteps) else 0.0
    heights = dsteps["obstacle_m"].tolist() if len(dsteps) else []
    return {
        "egress_go": bool(egress.go),
        "egress_s": first("egress start"),
        "distance_m": float(driver.distance_m),
        "max_speed_mps": float(dsteps["speed_mps"].max()) if len(dsteps) else 0.0,
        "max_slope_deg": float(slope),
        "max_obstacle_m": float(max(heights)) if heights else None,
        "energy_wh": float(pwr.energy_used_wh) if hasattr(pwr, "energy_used_wh") else float(
            np.sum(pwr.load_w[:-1] * np.diff(trav["t_s"].to_numpy(float))) / 3600.0),
        "drive_energy_wh": float((dsteps["drive_power_w"] * dsteps["step_s"]).sum() / 3600.0),
        "turn_energy_wh": float(driver.turn_energy_j / 3600.0),
        "min_soc": float(np.min(pwr.soc)),
        "wheel_faults": {str(w): k for w, k in sorted(driver.faults.items())},
        "sleep_s": first("sleep start"),
        "wake_s": first("wake"),
        "night_heat_loss_max_w": float(trav.loc[trav["mode"] == "sleep", "warm_box_loss_w"].max())
        if (trav["mode"] == "sleep").any() else None,
        "rhu_w": float(driver.plan.warm_box.rhu_w),
        "refused_segments": int((ev["event"] == "segment refused").sum()),
        "detours": int((ev["event"] == "detour").sum()),
    }
