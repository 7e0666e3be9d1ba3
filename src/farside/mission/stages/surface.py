"""Surface stage: the rover's egress, traverse, wheel faults, modes, power and thermal.

Configured by the scenario's ``[rover]`` table (:class:`RoverConfig`; docs/scenario.md). Runs
:func:`farside.rover.simulate_surface` from the scenario's egress time to the end of the
``lunar_days``-th lunar day after touchdown (``--quick``: ``quick_hours`` after egress, i.e.
the egress and the first drive), on the site DEM and rocks, with the rover's child rng stream
and the Sun from :mod:`farside.ephemeris`.

Products (``products/rover/``): ``traverse.parquet`` (time, truth pose, per-wheel load, slip,
sinkage, torque, fault state, power, state of charge, temperature, mode), ``events.csv``,
``tracks.tif`` (the wheel ruts as a height delta over the site, GeoTIFF in the site CRS),
``summary.json`` and ``fault_costs.csv`` (speed, slip, power and the steepest climbable slope
for each wheel-fault case). Telemetry of each drive joins the downlink queue. State:
``surface`` (the :class:`farside.rover.SurfaceResult`) and ``tracks`` (the rut height delta as a
:class:`farside.terrain.Terrain`, for later imaging).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from farside.mission.stage import RunContext, Stage

__all__ = ["SurfaceStage", "RoverConfig"]

#: where `replay = "ce4_traverse"` looks for the real Yutu-2 track (never needed by a default run)
#: (a development checkout's ../shared/data; ``replay_path`` points elsewhere)
_SHARED_TRAVERSE = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "ce4_traverse" / "CE4_coordinates.txt"


class WaypointConfig(BaseModel):
    """One ``[[rover.waypoints]]`` entry: metres east/north of the lander, a stop there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x_m: float = Field(..., ge=-5000.0, le=5000.0)
    y_m: float = Field(..., ge=-5000.0, le=5000.0)
    stop_h: float = Field(0.0, ge=0.0, le=24.0 * 30)
    name: str = ""
    #: leave for this waypoint no earlier than this many hours after egress (e.g. the next lunar day)
    not_before_h: float = Field(0.0, ge=0.0, le=24.0 * 400)


class FaultConfig(BaseModel):
    """One ``[[rover.faults]]`` entry: wheel ``wheel`` becomes ``kind`` ``after_egress_h`` hours after egress."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_egress_h: float = Field(..., ge=0.0)
    wheel: int = Field(..., ge=0, le=5)
    kind: Literal["reduced", "free", "locked"]


class NavigationTable(BaseModel):
    """``[rover.navigation]``: how the rover finds its way between waypoints (docs/scenario.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "ground": ground-in-the-loop (stereo images down through the relay, the segment planned on
    #: Earth and uplinked; how Yutu-2 was driven); "autonomous": onboard plan, drive, re-image;
    #: "off": straight legs between waypoints with the driver's own detours (no perception)
    mode: Literal["ground", "autonomous", "off"] = "ground"
    #: longest drive between two stereo stops, m (UNCONFIRMED)
    segment_m: float = Field(4.0, gt=0.2, le=50.0)
    #: onboard imaging and processing per stop, s (UNCONFIRMED)
    onboard_s: float = Field(300.0, ge=0.0, le=86400.0)
    #: the ground team's planning time per segment, s (UNCONFIRMED)
    ground_planning_s: float = Field(1800.0, ge=0.0, le=7 * 86400.0)
    #: Navcam mast pans of a stop, deg from the heading
    pans_deg: list[float] = Field(default_factory=lambda: [-40.0, 0.0, 40.0], min_length=1, max_length=8)
    #: Navcam/Hazcam pixel binning of the rendered pairs (1 = the full 1024 x 1024)
    binning: int = Field(2, ge=1, le=4)
    #: the orbital map's post spacing, m (an LROC NAC DTM; REFERENCE.md: 0.85 m NAC pixels here)
    orbital_resolution_m: float = Field(2.0, gt=0.0, le=100.0)
    #: stereo points beyond this range are not mapped, m
    max_range_m: float = Field(9.0, gt=1.0, le=50.0)


class RoverConfig(BaseModel):
    """``[rover]`` table of a scenario (the surface stage)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: when the rover drives down the ramp: a scenario event label, "touchdown" or an ISO UTC time
    egress: str = "rover egress"
    #: the route: waypoints relative to the lander with stops (empty: the rover only egresses)
    waypoints: list[WaypointConfig] = Field(default_factory=list)
    #: the surface timeline runs to the end (sunset + 12 h) of this many lunar days after touchdown
    lunar_days: int = Field(2, ge=1, le=24)
    #: --quick: the timeline ends this many hours after the egress
    quick_hours: float = Field(6.0, gt=0.0, le=24.0 * 30)
    #: commanded wheel rim speed, m/h (Yutu-2: at most 200 m/h, references 3)
    speed_m_per_h: float = Field(200.0, gt=0.0)
    faults: list[FaultConfig] = Field(default_factory=list)
    #: random wheel failures: expected failures per wheel per km driven (0: none)
    failure_rate_per_km: float = Field(0.0, ge=0.0, le=1000.0)
    #: "" = drive the waypoints; "ce4_traverse" = drive the real Yutu-2 path (needs ../shared/data)
    replay: Literal["", "ce4_traverse"] = ""
    #: the real track's file for replay = "ce4_traverse" ("" = ../shared/data/ce4_traverse/CE4_coordinates.txt)
    replay_path: str = ""
    #: lunar days of the surface timeline when replaying (the published 186.66 m is after five)
    replay_lunar_days: int = Field(5, ge=1, le=24)
    soil: Literal["lunar_regolith", "lll_dry_sand"] = "lunar_regolith"
    #: noon nap: from when the Sun climbs above this elevation (deg) ...
    nap_sun_elevation_deg: float = Field(41.0, ge=0.0, le=90.0)
    #: ... until it sinks below this one
    nap_exit_sun_elevation_deg: float = Field(28.1, ge=0.0, le=90.0)
    #: night sleep: from when the setting Sun sinks below this elevation (deg) ...
    sleep_sun_elevation_deg: float = Field(9.2, ge=-5.0, le=90.0)
    #: ... until the rising Sun climbs above this one
    wake_sun_elevation_deg: float = Field(7.0, ge=-5.0, le=90.0)
    step_m: float = Field(0.25, gt=0.0, le=5.0)
    timeline_step_s: float = Field(600.0, ge=10.0, le=86400.0)
    detour_max_m: float = Field(5.0, ge=0.0, le=50.0)
    #: the rover's centre keeps this far from the lander's centre (m; UNCONFIRMED: legs, ramp, margin)
    lander_keepout_m: float = Field(3.0, ge=0.0, le=50.0)
    track_half_width_m: float = Field(30.0, gt=1.0, le=500.0)
    track_resolution_m: float = Field(0.02, ge=0.005, le=1.0)
    navigation: NavigationTable = Field(default_factory=NavigationTable)

    @field_validator("speed_m_per_h")
    @classmethod
    def _speed(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite speed > 0 m/h")
        return v


class SurfaceStage(Stage):
    name = "surface"
    table = "rover"
    Config = RoverConfig
    requires = ("site", "touchdown")
    uses = ("descent", "contact_plan", "backdrop_scenes")
    provides = ("surface", "tracks")

    def may_skip(self, config, quick):
        return ("surface", "tracks") if not config.enabled else ()

    def preflight(self, config: RoverConfig, scenario, quick: bool) -> None:
        """Checks that need no earlier stage: waypoints inside the site DEM."""
        from farside.errors import invalid

        sc = scenario.site
        half = 0.5 * (sc.quick_size_px * sc.quick_resolution_m if quick else sc.size_px * sc.resolution_m) - 3.0
        for k, wp in enumerate(config.waypoints):
            if abs(wp.x_m) > half or abs(wp.y_m) > half:
                raise invalid(f"rover.waypoints[{k}]", (wp.x_m, wp.y_m),
                              f"a point inside the site DEM: |x|, |y| <= {half:.0f} m from the lander")
        if config.egress not in ("touchdown", "epoch") and config.egress not in scenario.events:
            try:
                scenario.event_seconds(config.egress)
            except Exception:
                raise invalid("rover.egress", config.egress,
                              "a scenario event label, 'touchdown' or an ISO UTC time") from None

    def run(self, ctx: RunContext) -> None:
        from farside.ephemeris import body_altaz, mission_times, seconds_to_utc, sun_direction_enu, sunrise_sunset
        from farside.rover import LLL_DRY_SAND, LUNAR_REGOLITH, YUTU2, SurfacePlan, SunTrack, Waypoint, WheelFault
        from farside.rover import simulate_surface

        cfg: RoverConfig = ctx.config
        if not cfg.enabled:
            return
        sc = ctx.scenario
        site = ctx.require("site")
        td = ctx.require("touchdown")
        epoch = sc.epoch_utc
        lat, lon = sc.site.lat_deg, sc.site.lon_deg
        egress_s = max(sc.event_seconds(cfg.egress, touchdown_s=td.mission_s), td.mission_s)

        # --- the surface timeline: to sunset + 12 h of the N-th lunar day after touchdown --------
        days = cfg.replay_lunar_days if cfg.replay else cfg.lunar_days
        if ctx.quick:
            end_s = egress_s + cfg.quick_hours * 3600.0
            sets_s: list[float] = []
        else:
            span = (days + 1) * 29.6 * 86400.0
            ev = sunrise_sunset(lat, lon, seconds_to_utc(epoch, [td.mission_s])[0],
                                seconds_to_utc(epoch, [td.mission_s + span])[0], epoch_utc=epoch)
            sets_s = [e.seconds for e in ev if e.kind == "sunset"]
            if len(sets_s) < days:
                from farside.errors import ScenarioError

                raise ScenarioError(f"rover.lunar_days = {days} is invalid: the site has only {len(sets_s)} sunsets "
                                    "in that span (polar day or night); use fewer days")
            end_s = sets_s[days - 1] + 12 * 3600.0
        step = 1800.0
        t_sun = np.arange(min(egress_s, td.mission_s) - step, end_s + 2 * step, step)
        when = mission_times(epoch, t_sun)
        sun_enu = np.asarray(sun_direction_enu(lat, lon, when), float)
        _, _, dist_m = body_altaz("sun", lat, lon, when)
        sun = SunTrack(t_s=t_sun, enu=sun_enu, distance_au=np.asarray(dist_m) / 1.495978707e11)

        # --- the plan ------------------------------------------------------------------------
        replay = None
        if cfg.replay == "ce4_traverse":
            replay = self._replay_track(ctx, cfg, epoch, lat, lon, egress_s, days)
        heading = 0.0
        if ctx.state.descent is not None:
            heading = float(ctx.state.descent.parameters.get("approach_azimuth_deg", 0.0))
        plan = SurfacePlan(
            egress_s=egress_s, end_s=end_s,
            waypoints=tuple(Waypoint(w.x_m, w.y_m, w.stop_h * 3600.0, w.name, egress_s + w.not_before_h * 3600.0)
                            for w in cfg.waypoints),
            faults=tuple(WheelFault(egress_s + f.after_egress_h * 3600.0, f.wheel, f.kind) for f in cfg.faults),
            failure_rate_per_km=cfg.failure_rate_per_km, speed_mps=cfg.speed_m_per_h / 3600.0,
            step_m=cfg.step_m, timeline_step_s=cfg.timeline_step_s, detour_max_m=cfg.detour_max_m,
            lander_keepout_m=cfg.lander_keepout_m, nap_sun_elevation_deg=cfg.nap_sun_elevation_deg,
            nap_exit_sun_elevation_deg=cfg.nap_exit_sun_elevation_deg,
            sleep_sun_elevation_deg=cfg.sleep_sun_elevation_deg, wake_sun_elevation_deg=cfg.wake_sun_elevation_deg,
            lander_heading_deg=heading, replay=replay, track_half_width_m=cfg.track_half_width_m,
            track_resolution_m=cfg.track_resolution_m, navigation=self._navigation(cfg, replay))
        soil = LUNAR_REGOLITH if cfg.soil == "lunar_regolith" else LLL_DRY_SAND
        perceive, link = self._perception(ctx, cfg, plan, site, td, sun, heading) if plan.navigation else (None, None)
        with ctx.timed("simulate_surface") as rec:
            res = simulate_surface(site, plan, rover=YUTU2, soil=soil, touchdown=td, sun=sun, rng=ctx.rngs["rover"],
                                   perceive=perceive, link=link)
            if perceive is not None:
                # wall times go to timings.json, never into a product
                rec["stereo_stops"] = len(res.nav_stops)
                rec["perception_s"] = round(float(sum(perceive.timings_s)), 2)
        if perceive is not None:
            res.summary["navigation"] = {"mode": plan.navigation.mode, "stops": len(res.nav_stops)}

        # --- products ------------------------------------------------------------------------
        trav = res.traverse.copy()
        trav.insert(1, "utc", seconds_to_utc(epoch, trav["t_s"].to_numpy(float), places=1))
        with ctx.write("rover/traverse.parquet", description="rover truth pose, wheels, power, temperature, mode") as tmp:
            trav.to_parquet(tmp, index=False)
        ev = res.events.copy()
        ev.insert(1, "utc", seconds_to_utc(epoch, ev["t_s"].to_numpy(float), places=1) if len(ev) else [])
        with ctx.write("rover/events.csv", description="egress, turns, stops, naps, faults, sleep, wake") as tmp:
            ev.to_csv(tmp, index=False)
        delta = res.tracks.to_terrain_delta(anchor_lat_deg=lat, anchor_lon_deg=lon)
        from farside.terrain import write_dem

        with ctx.write("rover/tracks.tif", description="wheel ruts: height delta over the site DEM (m)") as tmp:
            write_dem(delta, tmp)
        with ctx.timed("fault_costs"):
            fault_costs = self._fault_costs(YUTU2, soil, cfg.speed_m_per_h / 3600.0)
        with ctx.write("rover/fault_costs.csv", description="what each wheel fault costs: speed, slip, power, steepest slope") as tmp:
            fault_costs.to_csv(tmp, index=False)
        summary = self._summary(res, epoch, td, egress_s, end_s, cfg)
        with ctx.write("rover/summary.json", description="surface mission summary") as tmp:
            Path(tmp).write_text(json.dumps(summary, indent=2) + "\n")

        # telemetry of each drive (the rows since the last stop) joins the downlink queue
        row_bits = 8 * 4 * (trav.shape[1] - 2)
        marks = res.events[res.events["event"].isin(["egress done", "arrived", "segment refused"])]["t_s"].to_numpy(float)
        t_rows = res.traverse["t_s"].to_numpy(float)
        last = -np.inf
        for k, t_m in enumerate(marks):
            n = int(np.count_nonzero((t_rows > last) & (t_rows <= t_m)))
            last = t_m
            if n:
                ctx.downlink.enqueue(f"rover/traverse/{k:04d}", n * row_bits, float(t_m), source="rover", priority=3)

        ctx.state.surface = res
        ctx.state.tracks = delta
        with ctx.timed("report"):
            self._report(ctx, res, summary, fault_costs, site, td, sets_s, cfg)

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _navigation(cfg: RoverConfig, replay):
        """The autonomy settings (None: straight legs, or a replayed track, which is its own route)."""
        if cfg.navigation.mode == "off" or replay is not None:
            return None
        from farside.rover.autonomy import NavigationConfig

        n = cfg.navigation
        return NavigationConfig(mode=n.mode, segment_m=n.segment_m, onboard_s=n.onboard_s,
                                ground_planning_s=n.ground_planning_s, orbital_resolution_m=n.orbital_resolution_m)

    @staticmethod
    def _perception(ctx, cfg: RoverConfig, plan, site, td, sun, approach_heading_deg):
        """The rover's stereo perception (Navcam pairs on the regolith, the lander in view) and,
        ground-in-the-loop, the relay service."""
        import math as _m

        from farside.render import ce4_lander, place
        from farside.rover import YUTU2
        from farside.rover.egress import plan_egress
        from farside.rover.perception import StereoPerception
        from farside.rover.suspension import RockIndex

        x, y = float(td.enu_m[0]), float(td.enu_m[1])
        eg = plan_egress(YUTU2, site.terrain, RockIndex(site.rocks), lander_xy_m=(x, y),
                         lander_heading_deg=approach_heading_deg)
        lander_heading = float(eg.heading_deg) if eg.go else approach_heading_deg
        lander = [place(ce4_lander(), (x, y, float(site.terrain.height_at(x, y))), _m.radians(lander_heading),
                        object_id=1)]
        n = cfg.navigation
        per = StereoPerception(site.terrain, site.rocks, seed=int(ctx.scenario.seed),
                               sun_at=lambda t: sun.at(np.array([t]))[0][0], objects_at=lambda t: lander,
                               backdrops=ctx.state.backdrop_scenes or (), pans_deg=tuple(n.pans_deg),
                               binning=n.binning, max_range_m=n.max_range_m,
                               lander_enu=(x, y, float(site.terrain.height_at(x, y))))
        link = None
        if n.mode == "ground":
            from farside.comms import LinkService

            cp = ctx.require("contact_plan")
            link = LinkService(cp)
        return per, link

    @staticmethod
    def _replay_track(ctx, cfg, epoch, lat, lon, egress_s, days):
        """The real Yutu-2 track scheduled over the lunar days (farside.rover.schedule_traverse)."""
        from farside.ephemeris import seconds_to_utc
        from farside.errors import DataError
        from farside.rover import (
            PUBLISHED_DAY_DISTANCES,
            establish_axes,
            load_traverse,
            lunar_day_windows,
            schedule_traverse,
        )

        path = Path(cfg.replay_path).expanduser() if cfg.replay_path else _SHARED_TRAVERSE.resolve()
        if not path.is_file():
            raise DataError(f"rover.replay_path = {str(path)!r} is invalid: replay = 'ce4_traverse' needs the real "
                            "Yutu-2 track (../shared/data/ce4_traverse/CE4_coordinates.txt); use replay = \"\" "
                            "to drive the scenario's waypoints")
        track = load_traverse(path)
        axes = establish_axes(track)
        # the schedule spreads the whole track over every lunar day with a published distance; the
        # surface timeline then drives the first `days` of it
        n = max(days, max(PUBLISHED_DAY_DISTANCES))
        windows = lunar_day_windows(lat, lon, seconds_to_utc(epoch, [egress_s])[0], n, epoch_utc=epoch)
        return schedule_traverse(track, axes, epoch_utc=epoch, daylight_windows_s=windows)

    @staticmethod
    def _fault_costs(rover, soil, speed):
        import pandas as pd

        from farside.rover import max_climbable_slope, steady_state_drive

        cases = [("nominal", ()), ("one reduced (left middle)", ((1, "reduced"),)),
                 ("one free (left middle)", ((1, "free"),)), ("two free (both middle)", ((1, "free"), (4, "free"))),
                 ("two free (left front, right rear)", ((0, "free"), (5, "free"))),
                 ("one locked (left rear)", ((2, "locked"),)), ("one locked (left middle)", ((1, "locked"),)),
                 ("one locked (right front)", ((3, "locked"),))]
        rows = []
        for name, faults in cases:
            row = {"case": name}
            for slope in (0.0, 10.0):
                d = steady_state_drive(rover, soil, slope_deg=slope, wheel_faults=faults, speed_mps=speed)
                row[f"progress_{slope:g}deg"] = bool(d.progress)
                row[f"speed_m_per_h_{slope:g}deg"] = d.speed_mps * 3600.0 if d.progress else 0.0
                row[f"slip_{slope:g}deg"] = d.slip
                row[f"power_w_{slope:g}deg"] = d.power_w
                row[f"energy_wh_per_m_{slope:g}deg"] = d.power_w / 3600.0 / d.speed_mps if d.progress and d.speed_mps > 0 else float("nan")
            row["steepest_slope_deg"] = max_climbable_slope(rover, soil, wheel_faults=faults, tol_deg=0.1)
            rows.append(row)
        return pd.DataFrame(rows)

    @staticmethod
    def _summary(res, epoch, td, egress_s, end_s, cfg) -> dict:
        from farside.ephemeris import seconds_to_utc

        s = dict(res.summary)

        def utc(t):
            return None if t is None else seconds_to_utc(epoch, [t], places=0)[0]

        ev = res.events
        naps = ev[ev["event"] == "nap start"]["t_s"].tolist()
        nap_ends = ev[ev["event"] == "nap end"]["t_s"].tolist()
        out = {
            "egress_utc": utc(egress_s),
            "egress_after_touchdown_h": (egress_s - td.mission_s) / 3600.0,
            "egress_side": getattr(res.egress, "side", None),
            "ramp_angle_deg": getattr(res.egress, "ramp_angle_deg", None),
            "timeline_end_utc": utc(end_s),
            **{k: v for k, v in s.items() if k not in ("sleep_s", "wake_s", "egress_s")},
            "sleep_utc": utc(s.get("sleep_s")),
            "wake_utc": utc(s.get("wake_s")),
            "nap_start_utc": utc(naps[0]) if naps else None,
            "nap_end_utc": utc(nap_ends[0]) if nap_ends else None,
            "replay": cfg.replay,
        }
        return json.loads(json.dumps(out, default=float))

    # ------------------------------------------------------------------------------------------
    def _report(self, ctx, res, summary, fault_costs, site, td, sets_s, cfg) -> None:
        from farside.mission.stages._surface_report import surface_report

        surface_report(ctx, res, summary, fault_costs, site, td, sets_s, cfg)
