"""Navigation stage (``[navigation]``): what the rover's perception and planning did, where the rover
thought it was, and the descent trajectory rebuilt from the landing-camera frames.

Runs after ``imaging``. The stereo stops themselves happen inside the surface stage (one traverse
truth: the route the rover drives *is* the planner's; docs/design.md); this stage writes them out
and evaluates the estimators on them. Products:

* ``rover/nav/stops.csv``: per stereo stop -- time, true pose, mapped points, lethal/unknown
  fractions, waiting for the link, when the drive was commanded;
* ``rover/nav/stop_KKK.npz``: the stop's fused elevation map (height, 1-sigma) and hazard
  costmap (cost, lethal, unknown, slope, step, roughness) with their georeference;
* ``rover/nav/stop_KKK_{navcam,hazcam}_{left,right}.png`` (+ sidecars): the stop's stereo pairs
  (the mast pair looking ahead, and the Hazcam pair);
* ``rover/nav/paths.parquet``: planned and driven paths per stop (site ENU);
* ``rover/nav/modes.csv``: ground-in-the-loop against onboard autonomy on the same stops;
* ``rover/nav/localisation.parquet``: estimated against true pose at each stop for each estimator;
* ``descent/reconstruction.parquet``: the descent rebuilt from the LCAM frames against the truth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from farside.mission.stage import RunContext, Stage

__all__ = ["NavigationStage", "NavigationConfig"]

SECTION = "Navigation: stereo costmaps, planning, localisation, descent reconstruction"


class NavigationConfig(BaseModel):
    """``[navigation]`` table of a scenario (docs/scenario.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: rebuild the descent trajectory from the LCAM frames
    descent_reconstruction: bool = True
    #: use every n-th LCAM frame of the full run for the reconstruction
    frame_stride: int = Field(20, ge=1, le=1000)
    #: write the stops' stereo pairs as PNG products
    stop_images: bool = True


class NavigationStage(Stage):
    name = "navigation"
    Config = NavigationConfig
    requires = ("site",)
    uses = ("surface", "touchdown", "descent", "backdrop_scenes")
    provides = ("navigation",)

    def may_skip(self, config, quick):
        return ("navigation",) if not config.enabled else ()

    def run(self, ctx: RunContext) -> None:
        cfg: NavigationConfig = ctx.config  # type: ignore[assignment]
        if not cfg.enabled:
            return
        out: dict = {}
        res = ctx.state.surface
        stops = list(getattr(res, "nav_stops", []) or []) if res is not None else []
        if stops:
            with ctx.timed("stops"):
                out["stops"] = self._stops(ctx, cfg, stops)
            with ctx.timed("modes"):
                out["modes"] = self._modes(ctx, res, stops)
            with ctx.timed("localisation"):
                out["localisation"] = self._localisation(ctx, res, stops)
        if cfg.descent_reconstruction and ctx.state.touchdown is not None:
            with ctx.timed("descent_reconstruction"):
                out["descent"] = self._descent(ctx, cfg)
        ctx.state.navigation = {k: {kk: vv for kk, vv in v.items() if kk not in ("table", "rec")}
                                for k, v in out.items()}
        if stops or "descent" in out:
            with ctx.timed("report"):
                self._report(ctx, res, stops, out)

    # ------------------------------------------------------------------------------------------
    def _stops(self, ctx, cfg, stops) -> dict:
        import pandas as pd

        from farside.ephemeris import seconds_to_utc

        epoch = ctx.scenario.epoch_utc
        rows, paths = [], []
        for k, s in enumerate(stops):
            cm = s.costmap
            hz = cm.layers.get("hazard")
            em = cm.layers.get("elevation")
            mapped = np.isfinite(cm.cost) | np.isinf(cm.cost)
            rows.append({"stop": k, "t_s": s.t_s, "utc": seconds_to_utc(epoch, [s.t_s], places=1)[0],
                         "x_m": s.x_m, "y_m": s.y_m, "heading_deg": s.heading_deg,
                         "n_points": int(cm.layers.get("n_points", 0)),
                         "mapped_fraction": float(mapped.mean()),
                         "lethal_fraction_of_mapped": float(np.isinf(cm.cost).sum() / max(mapped.sum(), 1)),
                         "wait_s": s.wait_s, "t_commanded_s": s.t_commanded_s,
                         "planned_m": _length(s.planned_xy_m), "driven_m": _length(s.driven_xy_m),
                         "image_bits": cm.image_bits, "note": s.note})
            for kind, xy in (("planned", s.planned_xy_m), ("driven", s.driven_xy_m)):
                for j, (x, y) in enumerate(np.asarray(xy, float).reshape(-1, 2)):
                    paths.append({"stop": k, "kind": kind, "seq": j, "x_m": x, "y_m": y})
            if hz is not None and em is not None:
                with ctx.write(f"rover/nav/stop_{k:03d}.npz", description="stereo elevation map and hazard costmap") as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez_compressed(fh, height_m=em.height_m.astype(np.float32), sigma_m=em.sigma_m.astype(np.float32),
                                            cost=cm.cost.astype(np.float32), lethal=hz.lethal, unknown=hz.unknown,
                                            slope_deg=hz.slope_deg.astype(np.float32), step_m=hz.step_m.astype(np.float32),
                                            roughness_m=hz.roughness_m.astype(np.float32),
                                            georef=np.array([hz.x0_m, hz.y0_m, hz.resolution_m]))
            if cfg.stop_images:
                self._stop_images(ctx, k, s)
        table = pd.DataFrame(rows)
        with ctx.write("rover/nav/stops.csv", description="stereo stops: pose, map, link waiting") as tmp:
            table.to_csv(tmp, index=False)
        with ctx.write("rover/nav/paths.parquet", description="planned and driven paths per stop (site ENU)") as tmp:
            pd.DataFrame(paths).to_parquet(tmp, index=False)
        for k, s in enumerate(stops):
            if ctx.downlink is not None:
                ctx.downlink.enqueue(f"rover/nav/stop_{k:03d}_images", max(s.costmap.image_bits, 1.0), float(s.t_s),
                                     source="rover", priority=0)
        return {"n": len(rows), "table": table}

    @staticmethod
    def _stop_images(ctx, k: int, s) -> None:
        from farside.render import write_image

        done = set()
        for kind, pan, cams, left, right in s.costmap.layers.get("images", []):
            if kind in done or (kind == "navcam" and abs(pan) > 1e-6):
                continue
            done.add(kind)
            for side, cam, dn in (("left", cams[0], left), ("right", cams[1], right)):
                rel = f"rover/nav/stop_{k:03d}_{kind}_{side}.png"
                meta = {"camera": cam.name, "stop": k, "t_s": s.t_s, "position_enu_m": list(map(float, cam.position_enu)),
                        "rotation_enu_from_cam": np.asarray(cam.rotation_enu_from_cam).tolist(),
                        "focal_px": cam.focal_length_m / cam.pixel_pitch_m, "cx_px": cam.cx_px, "cy_px": cam.cy_px,
                        "width_px": cam.width_px, "height_px": cam.height_px}
                with ctx.write(rel, description=f"{kind} {side} image at stereo stop {k}") as tmp:
                    write_image(tmp, np.asarray(dn))
                side_rel = rel.removesuffix(".png") + ".json"
                with ctx.write(side_rel, description="camera and pose of the image") as tmp:
                    Path(tmp).write_text(json.dumps(meta, indent=1) + "\n")

    # ------------------------------------------------------------------------------------------
    def _modes(self, ctx, res, stops) -> dict:
        """Ground-in-the-loop against onboard autonomy on the same stops: the time each stop held the
        rover before its drive (imaging, waiting for contact, planning, uplink) and the drive itself."""
        import pandas as pd

        surf_cfg = ctx.scenario.stages.get("surface")
        nav = getattr(surf_cfg, "navigation", None)
        onboard_s = float(getattr(nav, "onboard_s", 300.0))
        plan_s = float(getattr(nav, "ground_planning_s", 1800.0))
        mode = str(getattr(nav, "mode", "ground"))
        held = np.array([s.t_commanded_s - s.t_s for s in stops if math.isfinite(s.t_commanded_s)])
        wait = np.array([s.wait_s for s in stops if math.isfinite(s.wait_s)])
        dist = float(sum(_length(s.driven_xy_m) for s in stops))
        n = len(held)
        # driven distance per lunar day: a new day begins at each wake after the lunar night
        ev = res.events
        wakes = np.sort(ev.loc[ev["event"] == "wake", "t_s"].to_numpy(float)) if len(ev) else np.zeros(0)
        day = np.searchsorted(wakes, np.array([s.t_s for s in stops]), side="right")
        per_day = {int(d) + 1: float(sum(_length(s.driven_xy_m) for s, k in zip(stops, day) if k == d))
                   for d in np.unique(day)}
        days_txt = "; ".join(f"day {d}: {m:.1f} m" for d, m in per_day.items())
        rows = [{"mode": "this run (" + mode + ")", "stops": len(stops), "driven_m": dist, "per_lunar_day": days_txt,
                 "held_at_stops_h": held.sum() / 3600.0, "waiting_for_contact_h": wait.sum() / 3600.0,
                 "median_hold_min": float(np.median(held) / 60.0) if n else float("nan")}]
        other = "autonomous" if mode == "ground" else "ground (contact waits not simulated)"
        alt = n * onboard_s if mode == "ground" else n * plan_s
        rows.append({"mode": other + ", same stops", "stops": len(stops), "driven_m": dist, "per_lunar_day": days_txt,
                     "held_at_stops_h": alt / 3600.0, "waiting_for_contact_h": 0.0 if mode == "ground" else float("nan"),
                     "median_hold_min": (onboard_s if mode == "ground" else plan_s) / 60.0})
        table = pd.DataFrame(rows)
        with ctx.write("rover/nav/modes.csv", description="ground-in-the-loop vs autonomous on the same stops") as tmp:
            table.to_csv(tmp, index=False)
        return {"table": table}

    # ------------------------------------------------------------------------------------------
    def _localisation(self, ctx, res, stops) -> dict:
        """Wheel odometry with the IMU/sun-sensor heading, visual odometry between the stops'
        forward Navcam pairs, and VO with relocalisation against the lander, against the truth."""
        import pandas as pd

        from farside._core import child_streams
        from farside.ephemeris import mission_times, sun_direction_enu
        from farside.render import ce4_lander, place
        from farside.rover.perception import localisation_stops
        from farside.vision import (
            heading_estimate,
            visual_localisation,
            wheel_odometry,
        )

        rs = child_streams(ctx.rngs["navigation"], 3)
        sc = ctx.scenario
        d = res.drive_steps
        if len(d) < 2:
            return {}
        t = d["t_s"].to_numpy(float)
        xy = d[["x_m", "y_m"]].to_numpy(float)
        slip = d[[f"slip_{w}" for w in range(6)]].to_numpy(float).mean(axis=1).clip(0.0, 0.9)
        hd_true = np.radians(d["heading_deg"].to_numpy(float))
        keep = [k for k, s in enumerate(stops) if any(im[0] == "navcam" for im in s.costmap.layers.get("images", []))]
        # the gyro sees the drive steps and the stops (the rover turns in place before it images:
        # a stop's heading is not the last drive step's)
        t_k = np.array([stops[k].t_s for k in keep], float)
        t_all = np.concatenate([t, t_k])
        order = np.argsort(t_all, kind="stable")
        hd_all = np.concatenate([hd_true, np.radians([stops[k].heading_deg for k in keep])])[order]
        sun = np.asarray(sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg, mission_times(sc.epoch_utc, t_all[order])),
                         float)
        head = heading_estimate(t_all[order], hd_all, rng=rs[0], sun_elevation_rad=np.arcsin(np.clip(sun[:, 2], -1, 1)))
        where = np.empty(len(order), int)
        where[order] = np.arange(len(order))
        # the odometry integrates the same samples: a stop adds a zero-length step (its turn in place)
        xy_all = np.concatenate([xy, [[stops[k].x_m, stops[k].y_m] for k in keep]]).reshape(-1, 2)[order]
        slip_all = np.concatenate([slip, np.zeros(len(keep))])[order]
        odo = wheel_odometry(xy_all, slip_all[1:], rng=rs[1], heading_rad=head.heading_rad)
        # the stops' Navcam pairs chained for VO (farside.rover.perception.localisation_stops): each
        # stop's mast pair nearest its next leg, the step into a stop ending on its arrival pair
        vs = localisation_stops([stops[k].costmap.layers["images"] for k in keep], [stops[k].heading_deg for k in keep],
                                head.heading_rad[where[len(t):]]) if keep else []
        first_cams = next(im[2] for im in stops[keep[0]].costmap.layers["images"] if im[0] == "navcam") \
            if keep else None
        truth = np.array([[stops[k].x_m, stops[k].y_m] for k in keep])
        t_stop = t_k
        odo_xy = odo.xy_m[where[len(t):]]
        rows = {"t_s": t_stop, "x_true_m": truth[:, 0], "y_true_m": truth[:, 1],
                "x_odometry_m": odo_xy[:, 0], "y_odometry_m": odo_xy[:, 1]}
        summary = {}
        if len(vs) >= 2:
            cams = first_cams
            c0 = cams[0]
            f = c0.focal_length_m / c0.pixel_pitch_m
            kpx = np.array([[f, 0, c0.cx_px], [0, f, c0.cy_px], [0, 0, 1.0]])
            base = float(np.linalg.norm(np.asarray(cams[1].position_enu) - np.asarray(c0.position_enu)))
            td = ctx.state.touchdown
            x, y = float(td.enu_m[0]), float(td.enu_m[1])
            site = ctx.require("site")
            eg = getattr(res, "egress", None)
            lh = float(eg.heading_deg) if eg is not None and getattr(eg, "go", False) else 0.0
            lander = place(ce4_lander(), (x, y, float(site.terrain.height_at(x, y))), math.radians(lh), object_id=1)
            z0 = float(site.terrain.height_at(truth[0, 0], truth[0, 1]))
            est = visual_localisation(vs, k_px=kpx, baseline_m=base, mast_height_m=1.5,
                                      start_position_enu=(truth[0, 0], truth[0, 1], z0),
                                      start_heading_rad=math.radians(stops[keep[0]].heading_deg), rng=rs[2],
                                      lander=lander, odometry_xy_m=odo_xy)
            for name, tr in est.items():
                rows[f"x_{name}_m"] = tr.position_enu[:, 0]
                rows[f"y_{name}_m"] = tr.position_enu[:, 1]
            summary["lander_fixes"] = int(np.count_nonzero(est["vo_reloc"].fixed))
            summary["lander_fix_tries"] = int(sum(f is not None for f in est["vo_reloc"].fixes))
            summary["vo_steps_replaced_by_odometry"] = int(np.count_nonzero(est["vo"].rejected))
            summary["vo_steps"] = len(vs) - 1
        table = pd.DataFrame(rows)
        dist = np.r_[0.0, np.cumsum(np.hypot(*np.diff(truth, axis=0).T))]
        table.insert(1, "distance_m", dist)
        for name in ("odometry", "vo", "vo_reloc"):
            if f"x_{name}_m" in table:
                e = np.hypot(table[f"x_{name}_m"] - table["x_true_m"], table[f"y_{name}_m"] - table["y_true_m"])
                table[f"error_{name}_m"] = e
                summary[name] = {"final_error_m": float(e.iloc[-1]), "max_error_m": float(e.max()),
                                 "drift_percent": float(100.0 * e.iloc[-1] / max(dist[-1], 1e-9))}
        with ctx.write("rover/nav/localisation.parquet", description="estimated vs true rover position at the stops") as tmp:
            table.to_parquet(tmp, index=False)
        summary["distance_m"] = float(dist[-1])
        return {"table": table, **summary}

    def _descent(self, ctx, cfg) -> dict:
        """The descent trajectory rebuilt from the LCAM frames against an orbital base map."""
        import pandas as pd

        from farside.ephemeris import mission_times, sun_direction_enu
        from farside.render import Scene, lcam
        from farside.vision import error_by_altitude, orbital_basemap, reconstruct_descent

        frames_dir = ctx.run_dir / "products" / "descent" / "frames"
        side = sorted(frames_dir.glob("lcam_*.json")) if frames_dir.is_dir() else []
        td = ctx.require("touchdown")
        meta = []
        for p in side:
            m = json.loads(p.read_text())
            if m.get("mission_time_s", 0.0) < td.mission_s - 0.5:
                meta.append((p, m))
        stride = 1 if ctx.quick else cfg.frame_stride
        meta = meta[::stride]
        if len(meta) < 3:
            return {}
        sc = ctx.scenario
        site = ctx.require("site")
        # the base map: an orbital image of another date, three days later near local noon (Sun
        # elevation 44 deg, 37 deg from the frames' Sun; a NAC-like mapping incidence). Ten days later
        # the Sun is 6.5 deg above the western horizon: shadows cover the map (UNCONFIRMED choice)
        t_map = td.mission_s + 3 * 86400.0
        sun_map = np.asarray(sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg, mission_times(sc.epoch_utc, [t_map])),
                             float).reshape(-1, 3)[0]
        scenes = [Scene(site.terrain, rocks=site.rocks)] + list(ctx.state.backdrop_scenes or [])
        maps = []
        site_w = float(site.terrain.width_m)
        maps.append(orbital_basemap(scenes, center_xy_m=(float(td.enu_m[0]), float(td.enu_m[1])),
                                    size_m=min(site_w, 2048.0), resolution_m=1.0, sun_dir_enu=sun_map))
        for sc_b, res_m in zip(ctx.state.backdrop_scenes or [], (16.0, 80.0)):
            w = float(sc_b.terrain.width_m)
            cx = float(sc_b.terrain.x0_m + 0.5 * w)
            cy = float(sc_b.terrain.y0_m - 0.5 * sc_b.terrain.height_m)
            maps.append(orbital_basemap(scenes, center_xy_m=(cx, cy), size_m=w, resolution_m=max(res_m, sc_b.terrain.resolution_m),
                                        sun_dir_enu=sun_map, supersample=1))
        import cv2

        truth = np.array([m["camera"]["position_enu"] for _, m in meta], float)
        rot = np.array([m["camera"]["rotation_enu_from_cam"] for _, m in meta], float)
        t_s = np.array([m["mission_time_s"] for _, m in meta], float)
        # the prior: the lander's own navigation solution, i.e. the descent simulation's navigation
        # estimate (x_nav_m ...: orbit determination at ignition propagated by the IMU, corrected by
        # the altimeter; 100-215 m off the truth in the CE-4 run), its error applied to the camera,
        # and a 0.1 deg attitude bias (UNCONFIRMED); docs/vision_descent.md
        rng = np.random.default_rng([int(sc.seed), 0xDE5C])
        nav_pos = truth.copy()
        trj_path = ctx.run_dir / "products" / "descent" / "trajectory.parquet"
        trj = pd.read_parquet(trj_path) if trj_path.is_file() else None
        if trj is not None and {"x_nav_m", "mission_time_s"} <= set(trj.columns):
            tt = trj["mission_time_s"].to_numpy(float)
            for k, ax in enumerate("xyz"):
                err_ax = trj[f"{ax}_nav_m"].to_numpy(float) - trj[f"{ax}_m"].to_numpy(float)
                nav_pos[:, k] += np.interp(t_s, tt, err_ax)
        else:                 # no descent state: orbit determination 300 m off, 0.3 m/s IMU drift (UNCONFIRMED)
            nav_pos += rng.normal(0.0, 300.0 / math.sqrt(3.0), 3) + rng.normal(0.0, 0.3, 3) * (t_s - t_s[0])[:, None]
        nav_rot = np.einsum("ij,kjl->kil", cv2.Rodrigues(rng.normal(0.0, math.radians(0.1), 3))[0], rot)
        rec = reconstruct_descent([str(p.with_suffix(".png")) for p, _ in meta], lcam(), maps, times_s=t_s,
                                  initial_position_enu=nav_pos[0], initial_rotation_enu_from_cam=nav_rot[0],
                                  nav_position_enu=nav_pos, nav_rotation_enu_from_cam=nav_rot,
                                  sun_dir_enu=np.asarray(meta[-1][1]["sun_dir_enu"], float))
        table = pd.DataFrame(rec.table(truth))
        with ctx.write("descent/reconstruction.parquet", description="descent rebuilt from LCAM frames vs truth (site ENU)") as tmp:
            table.to_parquet(tmp, index=False)
        ok = np.isfinite(table["x_m"].to_numpy(float))
        err = np.sqrt((table["x_m"] - table["x_true_m"]) ** 2 + (table["y_m"] - table["y_true_m"]) ** 2
                      + (table["z_m"] - table["z_true_m"]) ** 2)
        last = int(np.nonzero(ok)[0][-1]) if ok.any() else -1
        # the landing point: the last reconstructed camera position against the truth, horizontally
        land = float(np.hypot(table["x_m"].iloc[last] - table["x_true_m"].iloc[last],
                              table["y_m"].iloc[last] - table["y_true_m"].iloc[last])) if last >= 0 else float("nan")
        edges = np.array([0.0, 50.0, 200.0, 1000.0, 5000.0, 20000.0])
        by_alt = error_by_altitude(table[["x_m", "y_m", "z_m"]].to_numpy(float),
                                   table[["x_true_m", "y_true_m", "z_true_m"]].to_numpy(float),
                                   table["height_agl_m"].to_numpy(float), edges_m=edges)
        return {"table": table, "frames": int(len(meta)), "reconstructed": int(ok.sum()),
                "landing_error_m": land, "last_fix_height_m": float(table["height_agl_m"].iloc[last]) if last >= 0 else None,
                "rms_error_m": float(np.sqrt(np.nanmean(err[ok] ** 2))) if ok.any() else None,
                "by_altitude": [dict(zip(("lo_m", "hi_m", "count", "rms_3d_m", "rms_horizontal_m", "rms_vertical_m"),
                                         map(float, row))) for row in by_alt]}

    # ------------------------------------------------------------------------------------------
    def _report(self, ctx, res, stops, out) -> None:
        from matplotlib.figure import Figure

        from farside.terrain import hillshade

        rep = ctx.report
        site = ctx.require("site")
        st = out["stops"]["table"]
        rep.add_section(SECTION, (
            f"<p>{len(stops)} stereo stops; the rover drove {st['driven_m'].sum():.1f} m on the paths planned on "
            f"its own Navcam stereo maps (rendered pairs at three mast pans and one looking down; semi-global matching, fused elevation map, hazard costmap: slope at "
            f"the wheelbase, step height, roughness, the footprint as configuration space) and, beyond them, on the "
            f"degraded orbital map. Median mapped points per stop {int(st['n_points'].median())}.</p>"))
        # costmap mosaic with paths over the hillshade
        xs = np.concatenate([np.asarray(s.driven_xy_m, float).reshape(-1, 2)[:, 0] for s in stops] + [[s.x_m for s in stops]])
        ys = np.concatenate([np.asarray(s.driven_xy_m, float).reshape(-1, 2)[:, 1] for s in stops] + [[s.y_m for s in stops]])
        cx, cy = float(np.mean(xs)), float(np.mean(ys))
        half = max(12.0, float(np.max(np.abs(np.r_[xs - cx, ys - cy]))) + 10.0)
        from farside.mission.stages._surface_report import crop_terrain

        sub = crop_terrain(site.terrain, cx, cy, half)
        hs = hillshade(sub, sun_azimuth_deg=90.0, sun_elevation_deg=25.0)
        fig = Figure(figsize=(8.5, 8))
        ax = fig.subplots()
        ax.imshow(hs, cmap="gray", extent=[sub.x0_m, sub.x0_m + sub.width_m, sub.y0_m - sub.height_m, sub.y0_m],
                  origin="upper", vmin=0, vmax=1)
        for s in stops:
            cm = s.costmap
            rgba = np.zeros(cm.cost.shape + (4,), np.float32)
            rgba[np.isinf(cm.cost)] = (0.85, 0.1, 0.1, 0.55)
            fin = np.isfinite(cm.cost)
            rgba[fin] = (0.1, 0.7, 0.2, 0.18)
            r = cm.resolution_m
            ax.imshow(rgba, extent=[cm.x0_m, cm.x0_m + cm.cost.shape[1] * r, cm.y0_m - cm.cost.shape[0] * r, cm.y0_m],
                      origin="upper", interpolation="nearest")
        for k, s in enumerate(stops):
            p = np.asarray(s.planned_xy_m, float).reshape(-1, 2)
            d = np.asarray(s.driven_xy_m, float).reshape(-1, 2)
            if len(p):
                ax.plot(p[:, 0], p[:, 1], "--", color="#4ea3ff", lw=0.9, label="planned" if k == 0 else None)
            if len(d):
                ax.plot(d[:, 0], d[:, 1], "-", color="#ffd54a", lw=2.0, label="driven" if k == 0 else None)
            ax.plot([s.x_m], [s.y_m], "o", color="white", ms=3, label="stereo stop" if k == 0 else None)
        rk = site.rocks
        sel = (np.abs(rk["x_m"] - cx) < half) & (np.abs(rk["y_m"] - cy) < half) & (rk["height_m"] > 0.2)
        ax.scatter(rk["x_m"][sel], rk["y_m"][sel], s=12, facecolors="none", edgecolors="#ff66ff", lw=0.8,
                   label="true rocks > 0.20 m")
        td = ctx.state.touchdown
        if td is not None:
            ax.plot([td.enu_m[0]], [td.enu_m[1]], "^", color="#ffffff", mec="k", ms=11, label="lander")
        ax.set_xlim(cx - half, cx + half)
        ax.set_ylim(cy - half, cy + half)
        ax.set_xlabel("east (m, site ENU)")
        ax.set_ylabel("north (m)")
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title("Stereo costmaps (green traversable, red lethal) with the planned and driven paths")
        rep.add_figure("Stereo costmaps and paths", fig, section=SECTION,
                       caption="Every stop's hazard costmap over the site hillshade; magenta circles are the true rocks "
                               "above the rover's 0.20 m limit (not seen by the planner).")
        rep.add_table("Stereo stops", st[["stop", "utc", "x_m", "y_m", "n_points", "mapped_fraction",
                                          "lethal_fraction_of_mapped", "wait_s", "planned_m", "driven_m", "note"]].head(60),
                      section=SECTION)
        if "modes" in out:
            rep.add_table("Ground-in-the-loop vs onboard autonomy", out["modes"]["table"], section=SECTION)
        loc = out.get("localisation") or {}
        if "table" in loc and len(loc["table"]) > 1:
            lt = loc["table"]
            fig = Figure(figsize=(8.5, 4.2))
            ax = fig.subplots()
            n_rep = loc.get("vo_steps_replaced_by_odometry", 0)
            for name, lab in (("odometry", "wheel odometry + IMU/sun-sensor heading"),
                              ("vo", f"visual odometry ({n_rep} of {loc.get('vo_steps', 0)} steps gated out: odometry)"),
                              ("vo_reloc", f"VO + lander relocalisation ({loc.get('lander_fixes', 0)} fixes of "
                                           f"{loc.get('lander_fix_tries', 0)} tries)")):
                if f"error_{name}_m" in lt:
                    ax.plot(lt["distance_m"], lt[f"error_{name}_m"], "o-", ms=3, label=lab)
            ax.set_xlabel("distance driven (m, truth)")
            ax.set_ylabel("position error (m)")
            ax.legend(fontsize=8)
            ax.set_title("Localisation error at the stereo stops")
            rep.add_figure("Localisation error against distance", fig, section=SECTION,
                           caption="A VO step is used only if it agrees with the wheel odometry and the gyro (length "
                                   "within the slip range, direction within 10 deg, turn within 3 deg; "
                                   "farside.vision.localisation.ODOMETRY_GATE); otherwise the odometry's step is "
                                   "taken. Within 20 m of the lander the mast turns toward it for one more pair: "
                                   "the lander fixes.")
        des = out.get("descent") or {}
        if "table" in des and not des.get("reconstructed"):
            rep.add_section(SECTION, f"<p>Descent reconstruction: none of the {des['frames']} LCAM frames could be "
                                     "resected against the orbital base map in this run.</p>")
        elif "table" in des:
            dt = des["table"]
            fig = Figure(figsize=(11, 4.4))
            a1, a2 = fig.subplots(1, 2)
            a1.plot(dt["y_true_m"] / 1e3, dt["z_true_m"] / 1e3, "-", color="0.5", lw=2, label="truth")
            a1.plot(dt["y_m"] / 1e3, dt["z_m"] / 1e3, ".", ms=4, label="rebuilt from LCAM frames")
            a1.set_xlabel("north (km, site ENU)")
            a1.set_ylabel("up (km, site ENU; the floor lies at about -5.9 km)")
            a1.legend(fontsize=8)
            e = np.sqrt((dt["x_m"] - dt["x_true_m"]) ** 2 + (dt["y_m"] - dt["y_true_m"]) ** 2 + (dt["z_m"] - dt["z_true_m"]) ** 2)
            a2.loglog(dt["height_agl_m"].clip(lower=1.0), e.clip(lower=1e-3), ".", ms=4)
            a2.set_xlabel("height above ground (m)")
            a2.set_ylabel("3-D error (m)")
            a2.invert_xaxis()
            fig.suptitle("Descent trajectory reconstruction against the orbital base map (other date's Sun)")
            rep.add_figure("Descent reconstruction", fig, section=SECTION)
            import pandas as pd

            rep.add_table("Descent reconstruction error by height", pd.DataFrame(des["by_altitude"]), section=SECTION)
            rep.add_section(SECTION, (
                f"<p>Descent: {des['reconstructed']} of {des['frames']} LCAM frames resected; landing point "
                f"{des['landing_error_m']:.2f} m from the truth horizontally (last fix {des['last_fix_height_m']:.0f} m "
                f"above the ground); RMS 3-D error {des['rms_error_m']:.1f} m. The base map is an orthoimage of the site "
                "and its backdrops rendered under the Sun three days later (near local noon, 37 deg from the frames' "
                "Sun), at 1 m (LROC NAC-like) over the site and 16/80 m (or the backdrop's own pixel, if coarser) over "
                "the backdrops, with heights from the DEM averaged to twice the pixel. Each frame's prior is the last fix "
                "moved by the lander's own navigation solution (the descent simulation's estimate, 100-215 m off the "
                "truth). The top frames see only the coarse regional backdrop and are least accurate "
                "(docs/vision_descent.md).</p>"))




def _length(xy) -> float:
    a = np.asarray(xy, float).reshape(-1, 2)
    return float(np.hypot(*np.diff(a, axis=0).T).sum()) if len(a) > 1 else 0.0
