"""Descent stage: powered descent with hazard avoidance onto the site, and the LCAM frame sequence.

Products (``products/descent/``):

* ``trajectory.parquet`` — every 0.1 s step: mission time, phase, truth and navigation-estimate
  position/velocity (site ENU), thrust, thrust axis, mass, height above ground;
* ``summary.json`` — ignition/touchdown UTC, duration, touchdown lat/lon, speeds, attitude,
  propellant, hover height, diverts, safe and the failed criteria, phase start times;
* ``hazard_maps.npz`` + ``hda.json`` — the coarse (LCAM) and fine (3-D imager) hazard maps and the
  chosen points;
* ``frames/lcam_NNNNN.png`` + ``.json`` sidecars — LCAM frames at the real cadence (9.83 frames/s
  over 545 s from 02:20:09 UTC, 5,358 frames); ``--quick`` renders every ``quick_frame_stride``-th
  frame (default 250: 22 frames, about 15 s). Frames stream to disk one at a time;
* ``descent.mp4`` — H.264 video of the rendered frames;
* ``backdrop_near_dem.tif``, ``backdrop_dem.tif`` — the regional terrain behind the site that the
  frames see (:func:`farside.terrain.regional_backdrop`: procedural craters and roughness, the
  inner terrain block-averaged inside, written as heights above the sphere; the frames render it
  with the Moon's curvature). The near one, ``backdrop_near_size_px`` = 4,096 px at 8 m (33 km)
  centred on the site, holds the site; the outer one, at ``backdrop_resolution_m`` = 32 m, holds
  the near one and covers where the rendered frames' rays meet the curved ground (about 190 km
  for the full sequence: the first frame, 82 km up-range at ~10 km, sees to the horizon ~180 km
  away), capped at ``backdrop_max_size_px`` = 6,144 px. ``--quick``: 1,024 px at 32 m and 128 m.

State: ``descent`` (the :class:`farside.descent.DescentResult`), ``touchdown``
(:class:`~farside.mission.state.Touchdown`: site ENU point, UTC, mission seconds),
``backdrop_scenes`` (the backdrops' render Scenes, finest first, or None). The products are
queued for the downlink (``ctx.downlink``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from farside import constants as C
from farside.mission.stage import RunContext, Stage
from farside.mission.state import Touchdown

__all__ = ["DescentStage", "DescentConfig"]


class DescentConfig(BaseModel):
    """``[descent]`` table of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hda: bool = True
    #: ignition relative to the scenario epoch (CE-4: 02:15:00 UTC ignition, epoch 02:26:00 UTC)
    ignition_offset_s: float = Field(-660.0, ge=-86400.0, le=86400.0)
    #: the Sun of the frames and of the hazard images is taken this long after ignition (the
    #: expected descent duration; CE-4: ~690 s, docs/references.md 1.1); it moves < 0.1 deg in 12 min
    sun_after_ignition_s: float = Field(690.0, ge=0.0, le=7200.0)
    #: time stamp of the coarse-hazard (LCAM) image, after ignition (near the 2 km coarse avoidance)
    coarse_hda_image_after_ignition_s: float = Field(600.0, ge=0.0, le=7200.0)
    frames: bool = True
    frame_stride: int = Field(1, ge=1, le=100000)
    quick_frame_stride: int = Field(250, ge=1, le=100000)
    video: bool = True
    #: expose, encode and write each frame on a background thread while the next one renders
    #: (same products either way; false runs it all on the main thread)
    background_encoding: bool = True
    #: render a frame whose camera pose is bit for bit the previous rendered frame's (the lander on
    #: the ground: the last ~1,600 LCAM frames) once, and reuse its radiance: the scene, Sun and
    #: settings are the same, so render() would give the same bits; each frame keeps its own
    #: sensor noise and time (same products either way; false renders every frame)
    reuse_static_views: bool = True
    #: frames whose camera is less than this many metres above the touchdown point (and within it
    #: horizontally) see the centimetre regolith there (farside.terrain.nested_patches, the same
    #: seeded detail as the imaging stage's: 1 cm over +-12 m, 4 cm over +-48 m); 0 = never
    detail_below_m: float = Field(30.0, ge=0.0, le=500.0)
    #: x264 preset of descent.mp4: "veryfast" costs ~26 ms of CPU a 1024^2 LCAM frame against ~65 ms
    #: for x264's default "medium", at the same size and 0.1 dB lower PSNR (docs/render.md)
    video_preset: str = Field("veryfast", pattern="^(ultrafast|superfast|veryfast|faster|fast|medium|slow)$")
    #: regional backdrop behind the site for the LCAM frames (farside.terrain.regional_backdrop);
    #: its extent is what the rendered frames see of the curved ground, capped at max_size_px
    backdrop: bool = True
    backdrop_resolution_m: float = Field(32.0, ge=4.0, le=1000.0)
    quick_backdrop_resolution_m: float = Field(128.0, ge=4.0, le=1000.0)
    #: 6,400 px is the most whose generation fits the 2 GiB working-memory budget
    backdrop_max_size_px: int = Field(6144, ge=64, le=6400)
    quick_backdrop_max_size_px: int = Field(2048, ge=64, le=6400)
    backdrop_blend_m: float = Field(1000.0, gt=0.0, le=50000.0)
    #: a finer backdrop nested inside, centred on the site: the near ground of the frames from
    #: ~1000 on (0 px = none); its resolution must be finer than the outer one's
    backdrop_near_resolution_m: float = Field(8.0, ge=1.0, le=1000.0)
    quick_backdrop_near_resolution_m: float = Field(32.0, ge=1.0, le=1000.0)
    backdrop_near_size_px: int = Field(4096, ge=0, le=6400)
    quick_backdrop_near_size_px: int = Field(1024, ge=0, le=6400)

    @model_validator(mode="after")
    def _near_inside(self):
        for q in ("", "quick_"):
            n = getattr(self, f"{q}backdrop_near_size_px")
            near, far = getattr(self, f"{q}backdrop_near_resolution_m"), getattr(self, f"{q}backdrop_resolution_m")
            if 0 < n < 64:
                raise ValueError(f"{q}backdrop_near_size_px = {n} is invalid: 0 (no near backdrop) or >= 64")
            if n and near >= far:
                raise ValueError(f"{q}backdrop_near_resolution_m = {near} is invalid: finer than "
                                 f"{q}backdrop_resolution_m = {far} (or set {q}backdrop_near_size_px = 0)")
        return self


class DescentStage(Stage):
    name = "descent"
    Config = DescentConfig
    requires = ("site",)
    provides = ("descent", "touchdown", "backdrop_scenes")

    def may_skip(self, config, quick):
        return ("backdrop_scenes",)       # None when the frames see nothing beyond the site

    def run(self, ctx: RunContext) -> None:
        from farside.descent import ASSUMPTIONS, CE4_LANDER, TRAJECTORY_COLUMNS, prepare_hazards, simulate_descent
        from farside._core import child_streams
        from farside.ephemeris import mission_times, seconds_to_utc, sun_direction_enu

        cfg: DescentConfig = ctx.config  # type: ignore[assignment]
        site = ctx.require("site")
        sc = ctx.scenario
        epoch = sc.epoch_utc
        ignition_s = float(cfg.ignition_offset_s)
        rng = ctx.rngs["descent"]
        # one child stream per sub-step (farside._core); the frames' noise is counter-based, keyed by
        # one integer drawn from its stream and the frame index
        hazard_rng, descent_rng, frames_rng, backdrop_rng, near_rng = child_streams(rng, 5)
        frames_key = int(frames_rng.integers(0, 2**63))
        lander = CE4_LANDER
        t_td_guess = ignition_s + cfg.sun_after_ignition_s
        sun = np.asarray(sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg, mission_times(epoch, [t_td_guess])),
                         dtype=float).reshape(-1, 3)[0]
        with ctx.progress("descent: LCAM coarse-hazard frame", None):
            hazards = prepare_hazards(site, sun_dir_enu=sun, lander=lander, rng=hazard_rng,
                                      time_utc=seconds_to_utc(epoch, [ignition_s + cfg.coarse_hda_image_after_ignition_s])[0])
        with ctx.progress("descent: closed-loop guidance", None):
            res = simulate_descent(site, lander=lander, rng=descent_rng, hda=cfg.hda,
                                   hazards=hazards, ignition_s=ignition_s)
        ign_utc, td_utc = seconds_to_utc(epoch, [ignition_s, ignition_s + res.duration_s], places=1)
        td_s = ignition_s + res.duration_s
        tr = res.trajectory
        ctx.state.descent = res
        z_td = float(tr[-1, TRAJECTORY_COLUMNS.index("z_m")])
        ctx.state.touchdown = Touchdown(enu_m=(res.touchdown_x_m, res.touchdown_y_m, z_td), utc=td_utc, mission_s=td_s)

        self._write_tables(ctx, res, ign_utc, td_utc, ignition_s)
        n_frames, views = 0, None
        if cfg.frames:
            stride = cfg.quick_frame_stride if ctx.quick else cfg.frame_stride
            n_frames, views = self._frames(ctx, cfg, site, res, sun, stride, epoch, ignition_s, frames_key,
                                           (backdrop_rng, near_rng))
        self._downlink(ctx, td_s, n_frames)
        self._report(ctx, res, ign_utc, td_utc, ASSUMPTIONS, n_frames, views)

    # ------------------------------------------------------------------------------------------
    def _write_tables(self, ctx, res, ign_utc, td_utc, ignition_s) -> None:
        import pandas as pd

        from farside.descent import PHASE_NAMES, TRAJECTORY_COLUMNS

        df = pd.DataFrame(res.trajectory, columns=list(TRAJECTORY_COLUMNS))
        df.insert(0, "mission_time_s", df["t_s"] + ignition_s)
        df["phase"] = df["phase"].astype(np.int8)
        df.insert(3, "phase_name", [PHASE_NAMES[int(p)] for p in df["phase"]])
        with ctx.write("descent/trajectory.parquet", description="descent truth and navigation estimate, 10 Hz") as tmp:
            df.to_parquet(tmp, index=False)
        summary = {"ignition_utc": ign_utc, "touchdown_utc": td_utc, **res.summary(),
                   "ignition_mission_time_s": ignition_s, "safe": bool(res.safe)}
        summary = _jsonable(summary)
        with ctx.write("descent/summary.json", description="descent summary") as tmp:
            tmp.write_text(json.dumps(summary, indent=2, sort_keys=True))
        arrays = {}
        hda = {"coarse_choice_enu_m": res.coarse_choice_xy_m, "coarse_divert_m": res.coarse_divert_m,
               "fine_choice_rel_m": res.fine_choice_xy_m, "fine_origin_enu_m": res.fine_origin_xy_m,
               "fine_divert_m": res.divert_m, "fine_found_safe": res.fine_found_safe,
               "touchdown_enu_m": [res.touchdown_x_m, res.touchdown_y_m]}
        if res.coarse_map is not None:
            m = res.coarse_map
            arrays.update(coarse_hazard=m.hazard, coarse_image=m.image)
            hda["coarse_grid"] = {"spacing_m": m.spacing_m, "x0_m": m.x0_m, "y0_m": m.y0_m}
        if res.fine_map is not None:
            m = res.fine_map
            arrays.update(fine_hazard=m.hazard, fine_slope_deg=m.slope_deg, fine_protrusion_m=m.protrusion_m)
            hda["fine_grid"] = {"spacing_m": m.spacing_m, "x0_m": m.x0_m, "y0_m": m.y0_m,
                                "frame": "relative to the lander's nadir at the hover (fine_origin_enu_m)"}
        if arrays:
            with ctx.write("descent/hazard_maps.npz", description="coarse (LCAM) and fine (3-D imager) hazard maps") as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **arrays)
        with ctx.write("descent/hda.json", description="hazard avoidance choices") as tmp:
            tmp.write_text(json.dumps(_jsonable(hda), indent=2, sort_keys=True))

    def _backdrop(self, ctx, cfg, site, pos, rot, camera, rngs):
        """The regional backdrop Scenes around the site, finest first (a near one centred on the
        site, then one sized to what the frames see), or None when the frames see nothing beyond
        the site; writes ``descent/backdrop_near_dem.tif`` and ``descent/backdrop_dem.tif``."""
        from farside.render import Scene
        from farside.terrain import backdrop_elevation, regional_backdrop, write_dem

        q = "quick_" if ctx.quick else ""
        res_m = getattr(cfg, f"{q}backdrop_resolution_m")
        max_px = getattr(cfg, f"{q}backdrop_max_size_px")
        near_res = getattr(cfg, f"{q}backdrop_near_resolution_m")
        near_px = getattr(cfg, f"{q}backdrop_near_size_px")
        ter = site.terrain
        ext = _lcam_ground_extent(pos, rot, camera, float(np.median(ter.heights)))
        if ext is None:
            return None, None
        sx0, sx1, sy0, sy1 = ter.extent_m
        if ext[0] >= sx0 and ext[1] <= sx1 and ext[2] >= sy0 and ext[3] <= sy1:
            return None, None
        # the outer square holds the seen ground (+2 %), the site and the near square; <= max_px wide
        half_near = 0.5 * near_px * near_res
        x_lo, x_hi = min(ext[0], sx0, -half_near), max(ext[1], sx1, half_near)
        y_lo, y_hi = min(ext[2], sy0, -half_near), max(ext[3], sy1, half_near)
        side = 1.02 * max(x_hi - x_lo, y_hi - y_lo)
        n = int(min(max_px, max(64, math.ceil(side / res_m))))
        centre = (0.5 * (x_lo + x_hi), 0.5 * (y_lo + y_hi))
        scenes, info = [], {}
        inner = ter
        with ctx.timed("backdrop"), \
                ctx.progress(f"descent: regional backdrop ({near_px} px at {near_res:g} m, {n} px at {res_m:g} m)",
                             None):
            if near_px:
                near = regional_backdrop(ter, size_px=near_px, resolution_m=near_res, rng=rngs[1],
                                         blend_m=cfg.backdrop_blend_m)
                inner = backdrop_elevation(near)
                with ctx.write("descent/backdrop_near_dem.tif", description="near backdrop DEM around the site "
                               "(float32 m above the sphere)") as tmp:
                    write_dem(inner, tmp)
                scenes.append(Scene(near))
                info["near"] = {"size_px": near_px, "resolution_m": near_res, "width_km": near_px * near_res / 1e3,
                                "craters": near.meta["craters"]}
                del near
            bd = regional_backdrop(inner, size_px=n, resolution_m=res_m, rng=rngs[0], center_enu_m=centre,
                                   blend_m=cfg.backdrop_blend_m)
            del inner
            with ctx.write("descent/backdrop_dem.tif",
                           description="regional backdrop DEM behind the site (float32 m above the sphere)") as tmp:
                write_dem(backdrop_elevation(bd), tmp)
            scenes.append(Scene(bd))
        info.update({"size_px": n, "resolution_m": res_m, "width_km": n * res_m / 1e3,
                     "center_enu_km": [centre[0] / 1e3, centre[1] / 1e3],
                     "seen_extent_km": [v / 1e3 for v in ext], "craters": bd.meta["craters"]})
        return scenes, info

    def _frames(self, ctx, cfg, site, res, sun, stride, epoch, ignition_s, seed, backdrop_rngs):
        from farside.descent import TRAJECTORY_COLUMNS, lcam_poses, lcam_times
        from farside.descent.camera import LCAM_FPS
        from farside.ephemeris import seconds_to_utc
        from farside._core import OrderedWorker, keyed_rng
        from farside.render import Scene, Sensor, apply_sensor, lcam, render, write_frame

        video = cfg.video
        times = lcam_times(stride=stride)
        pos, rot = lcam_poses(res.trajectory, times, heading_deg=res.parameters["approach_azimuth_deg"])
        utc = seconds_to_utc(epoch, ignition_s + times, places=3)
        scene = Scene(site.terrain, rocks=site.rocks)
        near_ground = self._near_ground(ctx, cfg, site, res, pos) if cfg.detail_below_m > 0 else None
        # each frame's sensor noise is keyed by the frame's index in the full sequence (not by its
        # place in a strided subset): frame 250 draws the same noise stream in --quick and in a full run
        base = lcam()
        index0 = np.arange(0, len(times) * stride, stride)
        backdrop, info = (None, None)
        if cfg.backdrop:
            backdrop, info = self._backdrop(ctx, cfg, site, pos, rot, base, backdrop_rngs)
            ctx.state.backdrop_scenes = backdrop          # the cameras stage renders them too
        # frames shown in the report: the first, the one nearest frame 1000, and a late one (the
        # one nearest 1 km above the ground: the site fills the view)
        cols = list(TRAJECTORY_COLUMNS)
        agl = np.interp(times, res.trajectory[:, cols.index("t_s")], res.trajectory[:, cols.index("height_agl_m")])
        late = int(np.argmin(np.abs(agl - 1000.0)))
        show = dict.fromkeys(sorted({0, int(np.argmin(np.abs(index0 - 1000))), late}))
        sky = np.zeros(len(times))
        sky_site = np.zeros(len(times))
        frames_dir = ctx.product_path("descent/frames")
        writer = None
        tmp_video = None
        if video:
            writer, tmp_video = _video_writer(ctx.product_path("descent/descent.mp4"), base.width_px, base.height_px,
                                              LCAM_FPS / stride, preset=cfg.video_preset)
        sensor = Sensor()
        journal = _FrameJournal(ctx, "descent_frames")
        kept = journal.start(len(times))

        def keep(k, entry):
            """A frame finished by an earlier, interrupted run of this stage: its files stay; the
            video and the report take its pixels from the PNG."""
            import cv2

            path = ctx.run_dir / entry["products"][0]["path"]
            dn = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if k in show:
                show[k] = dn
            ctx.products.extend(entry["products"])
            if writer is not None:
                writer.send(np.ascontiguousarray(dn).tobytes())
            advance(1)

        def finish(k, fr):
            """Expose, write and encode frame k (on the worker thread: overlaps the next render)."""
            apply_sensor(fr, sensor, rng=keyed_rng(int(seed), int(index0[k])))
            if k in show:
                show[k] = fr.dn
            path = frames_dir / f"lcam_{int(index0[k]):05d}.png"
            write_frame(fr, path, extra={"frame_index": int(index0[k]), "t_since_ignition_s": float(times[k]),
                                         "mission_time_s": float(ignition_s + times[k]),
                                         "descent_phase": _phase_at(res, times[k])})
            ctx.register(path, description="LCAM frame")
            ctx.register(path.with_suffix(".json"), description="LCAM frame sidecar")
            if writer is not None:
                writer.send(np.ascontiguousarray(fr.dn).tobytes())
            journal.append(k, {"sky": float(sky[k]), "sky_site": float(sky_site[k]), "products": ctx.products[-2:]})
            advance(1)

        last = None                 # (pose bytes, the last rendered Frame before its exposure)
        try:
            with ctx.timed("lcam_frames", frames=len(times), kept_frames=len(kept)) as step, \
                    ctx.progress(f"descent: LCAM frames (every {stride})", len(times)) as advance, \
                    OrderedWorker(threaded=cfg.background_encoding, name="lcam-writer") as worker:
                step["reused_views"] = 0
                for k in range(len(times)):
                    if k in kept:
                        sky[k], sky_site[k] = kept[k]["sky"], kept[k]["sky_site"]
                        worker.submit(keep, k, kept[k])
                        continue
                    pose = pos[k].tobytes() + rot[k].tobytes()
                    if last is not None and last[0] == pose:
                        fr = dataclasses.replace(last[1], time_utc=utc[k])
                        step["reused_views"] += 1
                    else:
                        cam = base.with_pose(pos[k], rot[k])
                        if near_ground is not None and near_ground[0][k]:     # the regolith patches first
                            main, inner = near_ground[1][0], near_ground[1][1:] + [scene] + list(backdrop or [])
                        else:
                            main, inner = scene, backdrop
                        fr = render(main, cam, sun_dir_enu=sun, photometry="hapke", shadows="hard", layers="minimal",
                                    time_utc=utc[k], backdrop=inner)
                        # a copy before the writer exposes it (the arrays are shared, never written)
                        last = (pose, dataclasses.replace(fr)) if cfg.reuse_static_views else None
                    sky_px = fr.sky
                    sky[k] = float(np.mean(sky_px))
                    sky_site[k] = sky[k] if fr.from_backdrop is None else float(np.mean(sky_px | fr.from_backdrop))
                    worker.submit(finish, k, fr)
                    del fr
            if writer is not None:
                writer.close()
                writer = None
                final = ctx.product_path("descent/descent.mp4")
                tmp_video.replace(final)
                ctx.register(final, description="LCAM descent video (H.264)")
        finally:
            if writer is not None:
                writer.close()
            if tmp_video is not None and tmp_video.exists():
                tmp_video.unlink()
        views = {"index": [int(index0[k]) for k in show], "t_s": [float(times[k]) for k in show],
                 "dn": list(show.values()), "sky": [float(sky[k]) for k in show], "backdrop": info,
                 "sky_all": sky, "sky_site_all": sky_site, "index_all": index0}
        return len(times), views

    def _near_ground(self, ctx, cfg, site, res, pos):
        """(mask of the frames below ``detail_below_m`` over the touchdown point, the nested regolith
        patch Scenes around it, finest first), or None when no frame is that low."""
        from farside.render import Scene
        from farside.terrain import nested_patches

        x, y = float(res.touchdown_x_m), float(res.touchdown_y_m)
        z = float(site.terrain.height_at(x, y))
        low = (pos[:, 2] - z < cfg.detail_below_m) & (np.hypot(pos[:, 0] - x, pos[:, 1] - y) < cfg.detail_below_m)
        if not low.any():
            return None
        levels = ((0.02, 8.0), (0.08, 32.0)) if ctx.quick else ((0.01, 12.0), (0.04, 48.0))
        with ctx.timed("regolith_patches", levels=[list(v) for v in levels], frames=int(low.sum())):
            pats = nested_patches(site.terrain, center_xy_m=(x, y), levels=levels, seed=int(ctx.scenario.seed),
                                  rocks=site.rocks)
        return low, [Scene(p, albedo_seed=int(ctx.scenario.seed)) for p in pats]

    def _downlink(self, ctx, td_s, n_frames) -> None:
        q = ctx.downlink
        if q is None:
            return
        frame_bits = 0.0
        for p in ctx.products:
            if p.get("stage") != self.name:
                continue
            if "/frames/" in p["path"]:
                frame_bits += 8.0 * p["bytes"]     # the LCAM sequence goes down as one product
                continue
            if p["path"].endswith(("backdrop_dem.tif", "backdrop_near_dem.tif")):
                continue                           # simulation truth, not lander data
            prio = 2 if p["path"].endswith(("summary.json", "hda.json")) else 6
            q.enqueue(p["path"].removeprefix("products/"), 8.0 * p["bytes"], td_s, source="lander", priority=prio)
        if frame_bits > 0:
            q.enqueue(f"descent/frames ({n_frames} LCAM frames)", frame_bits, td_s, source="lander", priority=7)

    # ------------------------------------------------------------------------------------------
    def _report(self, ctx, res, ign_utc, td_utc, assumptions, n_frames, views=None) -> None:
        import pandas as pd

        title = "Powered descent and hazard avoidance"
        s = res.summary()
        ctx.report.add_section(title, (
            f"<p>Ignition {ign_utc}, touchdown {td_utc} after {res.duration_s:.1f} s; touchdown at "
            f"{abs(res.touchdown_lat_deg):.5f}&deg;{'S' if res.touchdown_lat_deg < 0 else 'N'}, "
            f"{res.touchdown_lon_deg:.5f}&deg;E; vertical "
            f"{res.vertical_speed_mps:.2f} m/s, horizontal {res.horizontal_speed_mps:.3f} m/s; propellant "
            f"{res.propellant_used_kg:.0f} kg; hover {res.hover_altitude_m:.1f} m; coarse divert "
            f"{res.coarse_divert_m:.1f} m, fine divert {res.divert_m:.1f} m; "
            f"<b>{'safe' if res.safe else 'UNSAFE: ' + ', '.join(res.failed_criteria)}</b>. "
            f"{n_frames} LCAM frames rendered.</p>"))
        if ctx.scenario.reference_mission == "chang-e-4":
            lat_pub, lon_pub = C.CE4_LAT_DEG, C.CE4_LON_DEG
            d_m = math.hypot((res.touchdown_lat_deg - lat_pub) * math.radians(1) * C.MOON_RADIUS_M,
                             (res.touchdown_lon_deg - lon_pub) * math.radians(1) * C.MOON_RADIUS_M
                             * math.cos(math.radians(lat_pub)))
            comp = pd.DataFrame([
                ("touchdown UTC", "2019-01-03T02:26 (NSSDC; docs/references.md 1.1)", td_utc),
                ("duration, s", "~700 (690, Xinhua; 1.1)", f"{res.duration_s:.1f}"),
                ("touchdown point", "177.5991E 45.4446S (Liu et al. 2019; 1.2)",
                 f"{res.touchdown_lon_deg:.4f}E {abs(res.touchdown_lat_deg):.4f}S ({d_m:.0f} m away)"),
                ("hover height, m", "100 (2.1)", f"{res.hover_altitude_m:.1f}"),
                ("engine cut-off, m", "2 (2.1)", f"{res.cutoff_height_m:.2f}"),
                ("vertical speed, m/s", "CE-5: 1.99 (2.2)", f"{res.vertical_speed_mps:.2f}"),
                ("horizontal speed, m/s", "CE-5: 0.0085 (2.2)", f"{res.horizontal_speed_mps:.4f}"),
                ("attitude, deg", "CE-5: 0.2 (2.2)", f"{res.attitude_deg:.2f}"),
                ("propellant, kg", "CE-5: 1,898 (heavier vehicle; 2.2)", f"{res.propellant_used_kg:.0f}"),
            ], columns=["quantity", "published", "farside"])
            ctx.report.add_table("Comparison with the published Chang'e-4 descent", comp, section=title)
        ctx.report.add_figure("Descent profile", _profile_figure(res), section=title)
        fig = _hazard_figure(res)
        if fig is not None:
            ctx.report.add_figure("Coarse and fine hazard maps", fig, section=title,
                                  caption="red: hazard; cyan cross: chosen point; white circle: touchdown")
        if views is not None:
            bd = views["backdrop"]
            near = (f"{bd['near']['size_px']} px at {bd['near']['resolution_m']:g} m ({bd['near']['width_km']:.0f} km "
                    "wide) around the site inside " if bd and "near" in bd else "")
            cap = ("LCAM frames (sensor DN). " + ("Beyond the site DEM the ground is the regional backdrop: " + near +
                   f"{bd['size_px']} px at {bd['resolution_m']:g} m ({bd['width_km']:.0f} km wide, centred "
                   f"{bd['center_enu_km'][0]:.1f} km E, {bd['center_enu_km'][1]:.1f} km N of the site; "
                   "procedural craters and roughness, the site block-averaged inside, the Moon's curvature). "
                   if bd else "No backdrop: ") + "Black above the horizon is sky.")
            ctx.report.add_figure("LCAM frames: early and late", _frames_figure(views), section=title, caption=cap)
        ph = pd.DataFrame({"phase": list(s["phase_start_s"]), "start_s": list(s["phase_start_s"].values())})
        ctx.report.add_table("Phase start times (s after ignition)", ph, section=title)
        ctx.report.add_table("Descent model assumptions (UNCONFIRMED values)",
                             pd.DataFrame({"item": list(assumptions), "assumption": list(assumptions.values())}),
                             section=title)


class _FrameJournal:
    """Resume a frame loop: one JSON line per finished frame (its sky fractions and product
    records) in the run's checkpoint folder, headed by the stage's input key. ``start`` returns the
    frames an earlier, interrupted run of the same stage finished (only with ``--resume``, only
    those whose files are unchanged, only the unbroken run of them from the first frame) and
    rewrites the journal to hold just those."""

    def __init__(self, ctx, name: str) -> None:
        self.ctx = ctx
        self.path = None if ctx.resume_dir is None else Path(ctx.resume_dir) / f"{name}.jsonl"

    def start(self, n: int) -> dict[int, dict]:
        kept: dict[int, dict] = {}
        if self.path is None:
            return kept
        if self.ctx.resuming and self.path.is_file():
            lines = self.path.read_text().splitlines()
            ok = bool(lines) and json.loads(lines[0]).get("key") == self.ctx.stage_key
            for line in lines[1:] if ok else []:
                try:
                    e = json.loads(line)
                except ValueError:          # a line cut by the kill
                    break
                if e.get("k") != len(kept) or e["k"] >= n or not all(
                        self.ctx.intact(p) for p in e["products"]):
                    break
                kept[e["k"]] = e
        with open(self.path, "w") as f:
            f.write(json.dumps({"key": self.ctx.stage_key}) + "\n")
            for k in sorted(kept):
                f.write(json.dumps(kept[k]) + "\n")
        return kept

    def append(self, k: int, entry: dict) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps({"k": int(k), **entry}) + "\n")


def _lcam_ground_extent(pos, rot, camera, ground_height_m: float, *, grid: int = 33):
    """Bounding box (x_min, x_max, y_min, y_max), site ENU metres, of where the rays of LCAM frames
    at poses ``pos`` (N, 3), ``rot`` (N, 3, 3) first meet a sphere ``ground_height_m`` above the
    reference sphere; None when no ray meets it. Rays past the curved ground's horizon escape,
    so this is what the frames can see of the ground.

    A ``grid`` x ``grid`` lattice of pixels per frame (image border included) is cast; between
    neighbouring lattice points of which one hits and one misses, the hit/miss boundary (the
    horizon, where the farthest ground is) is found by bisection along the segment."""
    w, h = camera.width_px, camera.height_px
    jj, ii = np.meshgrid(np.linspace(-0.5, w - 0.5, grid), np.linspace(-0.5, h - 0.5, grid))
    rg = C.MOON_RADIUS_M + float(ground_height_m)
    centre = np.array([0.0, 0.0, C.MOON_RADIUS_M])

    def cast(p, r, col, row):
        """(hit mask, xy of the first intersection) of the rays through pixel coords (col, row)."""
        d = np.stack([(col - camera.cx_px) / camera.fx_px, (row - camera.cy_px) / camera.fy_px,
                      np.ones_like(col)], axis=-1) @ r.T
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        o = p + centre                                            # from the Moon's centre
        b = d @ o
        disc = b * b - (o @ o - rg * rg)
        t = -b - np.sqrt(np.maximum(disc, 0.0))                   # first (near) intersection
        hit = (disc >= 0.0) & (t > 0.0)
        return hit, p[:2] + t[..., None] * d[..., :2]

    lo = np.array([np.inf, np.inf])
    hi = -lo
    for p, r in zip(np.asarray(pos, float), np.asarray(rot, float)):
        hit, xy = cast(p, r, jj, ii)
        if not hit.any():
            continue
        pts = [xy[hit]]
        # hit/miss pairs of lattice neighbours (down columns and along rows): bisect the boundary
        pairs = []
        for a_sl, b_sl in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                           ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
            ha, hb = hit[a_sl], hit[b_sl]
            m = ha != hb
            if m.any():
                ja, ia, jb, ib = jj[a_sl][m], ii[a_sl][m], jj[b_sl][m], ii[b_sl][m]
                first = ha[m]
                pairs.append((np.where(first, ja, jb), np.where(first, ia, ib),      # hit end
                              np.where(first, jb, ja), np.where(first, ib, ia)))     # miss end
        if pairs:
            jh, ih, jm, im = (np.concatenate(v) for v in zip(*pairs))
            for _ in range(40):
                jc, ic = 0.5 * (jh + jm), 0.5 * (ih + im)
                hc, _xy = cast(p, r, jc, ic)
                jh, ih = np.where(hc, jc, jh), np.where(hc, ic, ih)
                jm, im = np.where(hc, jm, jc), np.where(hc, im, ic)
            pts.append(cast(p, r, jh, ih)[1])
        xy = np.concatenate(pts)
        lo = np.minimum(lo, xy.min(axis=0))
        hi = np.maximum(hi, xy.max(axis=0))
    if not np.all(np.isfinite(lo)):
        return None
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _frames_figure(views):
    """The report's frames (first, ~1000, last) side by side, and the sky fraction of every frame."""
    from matplotlib.figure import Figure

    n = len(views["dn"])
    fig = Figure(figsize=(4.2 * (n + 1), 4.4))
    ax = fig.subplots(1, n + 1, gridspec_kw={"width_ratios": [1.0] * n + [1.3]})
    for a, dn, idx, t, sky in zip(ax, views["dn"], views["index"], views["t_s"], views["sky"]):
        a.imshow(dn, cmap="gray", vmin=0, vmax=255 if dn.dtype == np.uint8 else int(dn.max()) or 1)
        a.set_title(f"frame {idx}, t = {t:.0f} s, sky {100 * sky:.0f} %", fontsize=9)
        a.axis("off")
    ax[-1].plot(views["index_all"], 100.0 * views["sky_site_all"], "--", color="0.5", lw=1,
                label="against the site DEM alone")
    ax[-1].plot(views["index_all"], 100.0 * views["sky_all"], ".-", ms=3, label="rendered (with backdrop)")
    ax[-1].legend(fontsize=8)
    ax[-1].set_xlabel("LCAM frame")
    ax[-1].set_ylabel("sky (% of pixels)")
    ax[-1].set_ylim(-2, 102)
    ax[-1].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _phase_at(res, t: float) -> str:
    from farside.descent import PHASE_NAMES, TRAJECTORY_COLUMNS

    tr = res.trajectory
    c_t, c_ph = TRAJECTORY_COLUMNS.index("t_s"), TRAJECTORY_COLUMNS.index("phase")
    i = int(np.clip(np.searchsorted(tr[:, c_t], t, side="right") - 1, 0, len(tr) - 1))
    return PHASE_NAMES[int(tr[i, c_ph])]


def _jsonable(o):
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def _video_writer(final, width, height, fps, *, preset: str = "veryfast"):
    """An imageio-ffmpeg H.264 writer on a temporary file beside ``final`` (renamed on success)."""
    import imageio_ffmpeg

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.part.mp4")
    gen = imageio_ffmpeg.write_frames(str(tmp), (width, height), pix_fmt_in="gray", pix_fmt_out="yuv420p",
                                      fps=fps, codec="libx264", macro_block_size=16, ffmpeg_log_level="error",
                                      output_params=["-threads", "1", "-preset", preset, "-fflags", "+bitexact",
                                                     "-flags", "+bitexact"])
    gen.send(None)
    return gen, tmp


def _profile_figure(res):
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from farside.descent import PHASE_NAMES, TRAJECTORY_COLUMNS

    tr = res.trajectory
    col = {c: k for k, c in enumerate(TRAJECTORY_COLUMNS)}
    t = tr[:, col["t_s"]]
    agl = tr[:, col["height_agl_m"]]
    vel = tr[:, col["vx_mps"]:col["vz_mps"] + 1]
    v = np.linalg.norm(vel, axis=1)
    centre = tr[:, col["x_m"]:col["z_m"] + 1] + np.array([0.0, 0.0, C.MOON_RADIUS_M])     # from the Moon's centre
    v_up = np.sum(vel * centre, axis=1) / np.linalg.norm(centre, axis=1)
    fig = Figure(figsize=(12, 7))
    ax = fig.subplots(2, 2, sharex=True)
    ax[0, 0].plot(t, agl / 1000.0)
    ax[0, 0].set_ylabel("height above ground (km)")
    ax[0, 1].plot(t, v, label="speed")
    ax[0, 1].plot(t, -v_up, label="descent rate (radial)")
    ax[0, 1].set_yscale("symlog", linthresh=1.0)
    ax[0, 1].set_ylabel("m/s")
    ax[0, 1].legend()
    ax[1, 0].plot(t, tr[:, col["thrust_n"]])
    ax[1, 0].set_ylabel("thrust (N)")
    ax[1, 1].plot(t, tr[:, col["mass_kg"]])
    ax[1, 1].set_ylabel("mass (kg)")
    ph = tr[:, col["phase"]].astype(int)
    colours = colormaps["tab10"](np.arange(len(PHASE_NAMES)))
    for a in ax.ravel():
        for k, name in enumerate(PHASE_NAMES[:-1]):
            idx = np.flatnonzero(ph == k)
            if idx.size:
                a.axvspan(t[idx[0]], t[idx[-1]], color=colours[k], alpha=0.12, lw=0,
                          label=name if a is ax[0, 0] else None)
    ax[0, 0].legend(fontsize=8, loc="upper right")
    for a in ax[1]:
        a.set_xlabel("time since ignition (s)")
    fig.tight_layout()
    return fig


def _hazard_figure(res):
    from matplotlib.figure import Figure

    maps = [(m, c, o) for m, c, o in ((res.coarse_map, res.coarse_choice_xy_m, (0.0, 0.0)),
                                      (res.fine_map, res.fine_choice_xy_m, res.fine_origin_xy_m)) if m is not None]
    if not maps:
        return None
    fig = Figure(figsize=(6.5 * len(maps), 6))
    axes = fig.subplots(1, len(maps))
    axes = np.atleast_1d(axes)
    for a, (m, choice, origin) in zip(axes, maps):
        ext = m.extent_m
        if m.image is not None:
            a.imshow(np.nan_to_num(m.image), cmap="gray", extent=ext)
            a.set_title("coarse: LCAM image at ~2 km, site ENU (m)")
            td = (res.touchdown_x_m, res.touchdown_y_m)
        else:
            a.imshow(m.slope_deg, cmap="viridis", vmin=0, vmax=20, extent=ext)
            a.set_title("fine: 3-D imager slope (deg), relative to hover nadir (m)")
            td = (res.touchdown_x_m - origin[0], res.touchdown_y_m - origin[1])
        a.imshow(np.ma.masked_where(~m.hazard, m.hazard), cmap="autumn", alpha=0.45, extent=ext)
        if choice is not None:
            a.plot(*choice, "c+", ms=16, mew=2)
        a.plot(*td, "wo", mfc="none", ms=10, mew=1.5)
        a.set_xlabel("east (m)")
        a.set_ylabel("north (m)")
    fig.tight_layout()
    return fig
