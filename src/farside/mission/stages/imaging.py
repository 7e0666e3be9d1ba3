"""Imaging stage (``[imaging]``): the lander's 80-frame TCAM panorama, the mutual portraits of the
lander and the rover, and the colour calibration of both colour cameras.

Runs after ``surface`` (it sees the rover where the traverse put it). Everything is rendered by
:func:`farside.render.render` around the landing point with, nearest first: the centimetre-scale
regolith patches of :func:`farside.terrain.regolith_patch` (with the rover's ruts), the site DEM
and its sub-DEM rocks, then the descent stage's regional backdrops; the lander and the rover are
scene objects (:mod:`farside.render.vehicles`). Products (``products/imaging/``):

* ``panorama/tcam_NN.png`` + sidecars: the raw frames (red cast), pointing from the mast model
  (:func:`farside.imaging.capture.mast_camera`: pan-tilt axes offset from the optical centre);
* ``panorama.png``: the calibrated frames stitched by :func:`farside.imaging.stitch_panorama`
  with the mast's pointing as the prior; ``panorama_truth.png``: the panorama rendered directly
  from the mast head; ``panorama_registration.csv``: the stitched mosaic's error against the truth
  by range (:func:`farside.imaging.capture.registration_error`); ``panorama.json``;
* ``portrait_lander_pcam_{raw,calibrated}.png`` (Yutu-2's PCAM photographs the lander) and
  ``portrait_rover_tcam_{raw,calibrated}.png`` (the lander's TCAM photographs the rover);
* ``colour_calibration.json``: each camera's calibration estimated from simulated dark, flat and
  deck-target frames, the true (perturbed) response it never reads, and the colour errors of
  the raw and calibrated frames against the noise-free truth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from farside.mission.stage import RunContext, Stage

__all__ = ["ImagingStage", "ImagingConfig"]


class ImagingConfig(BaseModel):
    """``[imaging]`` table of a scenario (docs/scenario.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    panorama: str = Field("rover egress", description="when the TCAM panorama is taken: event label, "
                                                       "'touchdown' or ISO UTC")
    panorama_delay_h: float = Field(2.0, ge=0.0, le=2000.0, description="added to `panorama`")
    lander_portrait: str = Field("rover egress", description="when Yutu-2's PCAM photographs the lander")
    lander_portrait_delay_h: float = Field(20.0, ge=0.0, le=2000.0)
    rover_portrait: str = Field("rover egress", description="when the lander's TCAM photographs the rover")
    rover_portrait_delay_h: float = Field(24.0, ge=0.0, le=2000.0)
    binning: int = Field(2, ge=1, le=8, description="TCAM/PCAM pixel binning of the rendered frames")
    quick_binning: int = Field(4, ge=1, le=8)
    mosaic_scale: float = Field(0.5, gt=0.05, le=1.0, description="mosaic px per rad / frame focal px")
    mast_offset_cam_m: list[float] = Field(default_factory=lambda: [0.0, -0.01, 0.015], min_length=3, max_length=3)
    pointing_error_deg: float = Field(0.2, ge=0.0, le=10.0, description="1-sigma error of the mast's "
                                                                      "pointing knowledge (the stitching prior)")
    response_scatter: float = Field(0.05, ge=0.0, le=0.3, description="1-sigma scatter of the true colour "
                                                                        "response around the nominal cast")
    photometry: str = Field("hapke", pattern="^(hapke|lunar_lambert|lambert)$")
    shadows: str = Field("penumbra", pattern="^(hard|penumbra|none)$")
    detail: bool = Field(True, description="centimetre-scale regolith patches around the lander")


def _pose_at(trav, t_s: float) -> dict:
    """The rover's pose at ``t_s`` (linear in the traverse rows; the last row after its end)."""
    t = trav["t_s"].to_numpy(float)
    out = {}
    for k in ("x_m", "y_m", "z_m", "pitch_deg", "roll_deg"):
        out[k] = float(np.interp(t_s, t, trav[k].to_numpy(float)))
    hd = np.unwrap(np.radians(trav["heading_deg"].to_numpy(float)))
    out["heading_deg"] = math.degrees(float(np.interp(t_s, t, hd))) % 360.0
    return out


#: regolith patches (resolution m, half size m), nearest first: millimetre relief where the mast and
#: the rover cameras resolve it, coarser farther out (each about 3,000 x 3,000 vertices)
_LEVELS = ((0.005, 8.0), (0.02, 32.0), (0.08, 128.0))
_QUICK_LEVELS = ((0.01, 6.0), (0.04, 24.0))


class ImagingStage(Stage):
    name = "imaging"
    Config = ImagingConfig
    requires = ("site", "touchdown")
    uses = ("surface", "tracks", "backdrop_scenes", "descent")
    provides = ("imaging",)

    def may_skip(self, config, quick):
        return ("imaging",) if not config.enabled else ()

    def preflight(self, config: ImagingConfig, scenario, quick: bool) -> None:
        from farside.errors import invalid

        for key in ("panorama", "lander_portrait", "rover_portrait"):
            spec = getattr(config, key)
            if spec in ("touchdown", "epoch") or spec in scenario.events:
                continue
            try:
                scenario.event_seconds(spec)
            except Exception:
                raise invalid(f"imaging.{key}", spec, "a scenario event label, 'touchdown' or an ISO UTC time") from None
        if not all(math.isfinite(v) and abs(v) <= 0.5 for v in config.mast_offset_cam_m):
            raise invalid("imaging.mast_offset_cam_m", config.mast_offset_cam_m, "three offsets within +-0.5 m")

    # ------------------------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> None:
        from farside._core import child_streams
        from farside.ephemeris import seconds_to_utc

        cfg: ImagingConfig = ctx.config  # type: ignore[assignment]
        if not cfg.enabled:
            return
        sc = ctx.scenario
        td = ctx.require("touchdown")
        t_pano = sc.event_seconds(cfg.panorama, touchdown_s=td.mission_s) + 3600.0 * cfg.panorama_delay_h
        t_lp = sc.event_seconds(cfg.lander_portrait, touchdown_s=td.mission_s) + 3600.0 * cfg.lander_portrait_delay_h
        t_rp = sc.event_seconds(cfg.rover_portrait, touchdown_s=td.mission_s) + 3600.0 * cfg.rover_portrait_delay_h
        streams = child_streams(ctx.rngs["imaging"], 4)       # sensors, panorama, lander portrait, rover portrait
        world = _World(ctx, cfg)
        binning = cfg.quick_binning if ctx.quick else cfg.binning
        sensors = _sensors(streams[0], cfg)
        results = {"times_utc": {k: seconds_to_utc(sc.epoch_utc, [t], places=0)[0]
                                 for k, t in (("panorama", t_pano), ("lander_portrait", t_lp),
                                              ("rover_portrait", t_rp))}}
        from farside.mission.stages import _imaging_products as P

        with ctx.timed("panorama"):
            results["panorama"] = P.panorama(ctx, cfg, world, t_pano, binning, sensors["tcam"], streams[1])
        with ctx.timed("portraits"):
            results["lander_portrait"] = P.lander_portrait(ctx, cfg, world, t_lp, binning, sensors["pcam"], streams[2])
            results["rover_portrait"] = P.rover_portrait(ctx, cfg, world, t_rp, binning, sensors["tcam"], streams[3])
        summary = P.summary(results, sensors)
        with ctx.write("imaging/summary.json", description="imaging summary: panorama, portraits, colour") as tmp:
            Path(tmp).write_text(json.dumps(summary, indent=2, default=float) + "\n")
        ctx.state.imaging = summary
        for p in ctx.products:
            if p.get("stage") == self.name and ctx.downlink is not None:
                rel = p["path"].removeprefix("products/")
                t, src = (t_lp, "rover") if "lander_pcam" in rel else (t_rp if "rover_tcam" in rel else t_pano, "lander")
                ctx.downlink.enqueue(rel, 8.0 * p["bytes"], float(t), source=src, priority=4)
        with ctx.timed("report"):
            from farside.mission.stages._imaging_report import imaging_report

            imaging_report(ctx, results, summary)


def _sensors(rng: np.random.Generator, cfg: ImagingConfig) -> dict:
    """The true sensors of TCAM (8-bit) and PCAM (12-bit): responses drawn around the nominal CE-4
    cast (``response_scatter``), each with its own PRNU pattern. The calibration never reads them."""
    from farside.render import CE4_COLOUR_RESPONSE, Sensor

    out = {}
    for name, bits in (("tcam", 8), ("pcam", 12)):
        cr = np.clip(np.array(CE4_COLOUR_RESPONSE) * (1.0 + cfg.response_scatter * rng.standard_normal(3)), 0.05, 1.0)
        out[name] = Sensor(bit_depth=bits, prnu_frac=0.01, colour_response_rgb=tuple(float(c) for c in cr),
                           prnu_seed=int(rng.integers(1 << 30)))
    return out


class _World:
    """What the imaging stage renders: the regolith patches, the site, the backdrops, the vehicles
    (built once; objects posed per view)."""

    def __init__(self, ctx: RunContext, cfg: ImagingConfig) -> None:
        from farside.render import Scene

        self.ctx = ctx
        self.cfg = cfg
        site = ctx.require("site")
        td = ctx.require("touchdown")
        self.site = site
        self.lander_enu = np.asarray(td.enu_m, float)
        self.heading_deg = 0.0
        if ctx.state.descent is not None:
            self.heading_deg = float(ctx.state.descent.parameters.get("approach_azimuth_deg", 0.0))
        self.traverse = None if ctx.state.surface is None else ctx.state.surface.traverse
        self.site_scene = Scene(site.terrain, rocks=site.rocks)
        self.backdrops = list(ctx.state.backdrop_scenes or [])
        self.patches: list = []
        self._patch_t: float | None = None
        self.levels = _QUICK_LEVELS if ctx.quick else _LEVELS
        self.patch_info: list[dict] = []

    def prepare(self, t_s: float) -> None:
        """Build the regolith patches around the lander with the ruts driven before ``t_s``."""
        if not self.cfg.detail or self._patch_t == t_s:
            return
        from farside.render import Scene
        from farside.terrain import nested_patches

        ruts = self.ruts_at(t_s)
        pats = nested_patches(self.site.terrain, center_xy_m=(self.lander_enu[0], self.lander_enu[1]),
                              levels=self.levels, seed=int(self.ctx.scenario.seed), rocks=self.site.rocks,
                              tracks=ruts)
        self.patches = [Scene(p, albedo_seed=int(self.ctx.scenario.seed)) for p in pats]
        self.patch_info = [{"resolution_m": p.resolution_m, "shape": list(p.shape),
                            **{k: p.meta[k] for k in ("n_craters", "n_rocks", "n_pebbles")}} for p in pats]
        self._patch_t = t_s

    def ruts_at(self, t_s: float):
        """The wheel ruts carved by the drives before ``t_s`` (a height-delta Terrain), or None."""
        res = self.ctx.state.surface
        if res is None or res.tracks is None:
            return None
        from farside.rover import YUTU2, TrackRaster, carve_tracks

        tr = res.tracks
        raster = TrackRaster(tr.x0_m, tr.y0_m, tr.resolution_m, tr.shape)
        d = res.drive_steps
        step = getattr(self.ctx.scenario.stages.get("surface"), "step_m", 0.25)
        carve_tracks(raster, d[d["t_s"] <= t_s].reset_index(drop=True), YUTU2, step)
        sc = self.ctx.scenario.site
        return raster.to_terrain_delta(anchor_lat_deg=sc.lat_deg, anchor_lon_deg=sc.lon_deg)

    def sun(self, t_s: float) -> np.ndarray:
        from farside.ephemeris import mission_times, sun_direction_enu

        sc = self.ctx.scenario
        s = sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg, mission_times(sc.epoch_utc, [t_s]))
        return np.asarray(s, float).reshape(-1, 3)[0]

    def rover_pose(self, t_s: float) -> dict | None:
        return None if self.traverse is None or len(self.traverse) == 0 else _pose_at(self.traverse, t_s)

    def ground_z(self, x: float, y: float) -> float:
        return float(self.site.terrain.height_at(x, y))

    def utc(self, t_s: float) -> str:
        from farside.ephemeris import seconds_to_utc

        return seconds_to_utc(self.ctx.scenario.epoch_utc, [t_s], places=1)[0]

    def mast_head(self) -> np.ndarray:
        """The TCAM mast's pan-tilt head, site ENU: the lander mesh's camera head
        (farside.render.vehicles.LANDER_DIMENSIONS_M ``mast_xy``, ``tcam_head_centre``; UNCONFIRMED)."""
        from farside.render.vehicles import LANDER_DIMENSIONS_M, body_rotation

        d = LANDER_DIMENSIONS_M
        x, y = float(self.lander_enu[0]), float(self.lander_enu[1])
        rot = body_rotation(math.radians(self.lander_heading_deg()))
        return np.array([x, y, self.ground_z(x, y)]) + rot @ np.array([*d["mast_xy"], d["tcam_head_centre"]])

    def pcam_position(self, pose: dict) -> np.ndarray:
        """Yutu-2's PCAM projection centre for a rover pose: 1.5 m above the ground (REFERENCE.md 4.3)."""
        return np.array([pose["x_m"], pose["y_m"], pose["z_m"] + 1.5])

    def lander_heading_deg(self) -> float:
        """The lander mesh's +x (its ramp) points down the ramp the rover took, else along the
        descent's approach azimuth."""
        res = self.ctx.state.surface
        eg = getattr(res, "egress", None) if res is not None else None
        if eg is not None and getattr(eg, "go", False):
            return float(eg.heading_deg)
        return self.heading_deg

    def objects(self, t_s: float, *, from_tcam: bool = False) -> list:
        """The lander (object id 1) at the touchdown point and Yutu-2 (id 2) at its pose at ``t_s``;
        ``from_tcam``: without the TCAM's own head (the camera inside it)."""
        from farside.render import ce4_lander, place, yutu2_rover

        x, y = float(self.lander_enu[0]), float(self.lander_enu[1])
        out = [place(ce4_lander(tcam_head=not from_tcam), (x, y, self.ground_z(x, y)), math.radians(self.lander_heading_deg()),
                     object_id=1)]
        pose = self.rover_pose(t_s)
        if pose is not None and t_s >= float(self.traverse["t_s"].iloc[0]):
            out.append(place(yutu2_rover(), (pose["x_m"], pose["y_m"], pose["z_m"]),
                             math.radians(pose["heading_deg"]), pitch_rad=math.radians(pose["pitch_deg"]),
                             roll_rad=math.radians(pose["roll_deg"]), object_id=2))
        return out

    def render(self, camera, t_s: float, *, sensor=None, rng=None, layers: str = "minimal", objects=True,
               expose_terrain: bool = False, from_tcam: bool = False, expose_percentile: float = 99.5):
        """One view at ``t_s`` through ``sensor``, auto-exposed on the ``expose_percentile`` of the
        radiance; ``expose_terrain``: on the terrain's pixels only (the panorama: the gold foil then
        saturates, the regolith is well exposed)."""
        from farside.ephemeris import seconds_to_utc
        from farside.render import render

        self.prepare(t_s)
        scenes = self.patches + [self.site_scene] + self.backdrops
        kw = {}
        obj = self.objects(t_s, from_tcam=from_tcam) if objects else []
        if obj:
            kw["objects"] = obj
        fr = render(scenes[0], camera, sun_dir_enu=self.sun(t_s), photometry=self.cfg.photometry,
                    shadows=self.cfg.shadows, layers=layers, sensor=None, rng=rng,
                    time_utc=seconds_to_utc(self.ctx.scenario.epoch_utc, [t_s], places=1)[0],
                    backdrop=scenes[1:] or None, **kw)
        if sensor is not None:
            from farside.render import apply_sensor, auto_exposure

            rad = fr.radiance
            if (expose_terrain and fr.object_id is not None
                    and np.count_nonzero(fr.object_id == 0) > 0.05 * fr.object_id.size):
                on = (fr.object_id > 0)[..., None] if rad.ndim == 3 else fr.object_id > 0
                rad = np.where(on, np.nan, rad)
            apply_sensor(fr, sensor, rng=rng,
                         exposure_s=auto_exposure(rad, camera, sensor, percentile=expose_percentile))
        return fr
