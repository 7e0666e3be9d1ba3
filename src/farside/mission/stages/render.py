"""Cameras stage (``[cameras]``): LCAM views from 2 km and 100 m and one raw TCAM colour frame.

Renders, over the landing site at touchdown time (the descent stage's touchdown point and time
when it ran, else the site origin at the scenario epoch), with the Sun from
:func:`farside.ephemeris.sun_direction_enu`:

* ``products/render/lcam_2000m.png`` and ``lcam_100m.png`` (8-bit LCAM DN, nadir, north up),
* ``products/render/tcam_raw.png`` (8-bit RGB, demosaiced, *not* colour-balanced: with
  ``colour_imbalance = true`` it shows the red cast of Chang'e-4's first frames),

each with a JSON sidecar, and shows them (downscaled) in the report. ``--quick`` renders the
TCAM frame at half size. The 2 km LCAM view (1.6 km footprint) off the site's centre and the TCAM
view toward the horizon see past the site DEM's edge: there they show the descent stage's regional
backdrop (``ctx.state.backdrop_scenes``, :func:`farside.terrain.regional_backdrop`) when it
ran, else black (no terrain there).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from farside.mission.stage import RunContext, Stage

__all__ = ["CamerasStage", "CamerasConfig"]


class CamerasConfig(BaseModel):
    """``[cameras]`` table of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lcam_altitudes_m: list[float] = Field(default_factory=lambda: [2000.0, 100.0], min_length=1, max_length=8)
    photometry: str = Field("hapke", pattern="^(hapke|lunar_lambert|lambert)$")
    shadows: str = Field("penumbra", pattern="^(hard|penumbra|none)$")
    colour_imbalance: bool = Field(True, description="CE-4 red cast in raw colour frames")
    tcam_pan_deg: float | None = Field(None, ge=0.0, lt=360.0,
                                       description="TCAM azimuth; default: 150 deg from the Sun's azimuth")
    tcam_tilt_deg: float = Field(-5.0, ge=-80.0, le=30.0)


class CamerasStage(Stage):
    name = "cameras"
    Config = CamerasConfig
    requires = ("site",)
    uses = ("touchdown", "backdrop_scenes")

    def run(self, ctx: RunContext) -> None:
        from farside._core import child_streams
        from farside.ephemeris import sun_direction_enu
        from farside.render import CE4_COLOUR_RESPONSE, Scene, Sensor, lcam, render, tcam, write_frame

        cfg: CamerasConfig = ctx.config  # type: ignore[assignment]
        site = ctx.require("site")
        sc = ctx.scenario
        ter = site.terrain
        td = ctx.state.touchdown.enu_m if ctx.state.touchdown is not None else None
        x, y = (float(td[0]), float(td[1])) if td is not None else (0.0, 0.0)
        (xmin, xmax, ymin, ymax) = ter.extent_m
        x = min(max(x, xmin + ter.resolution_m), xmax - ter.resolution_m)
        y = min(max(y, ymin + ter.resolution_m), ymax - ter.resolution_m)
        z = float(ter.height_at(x, y))
        time_utc = ctx.state.touchdown.utc if ctx.state.touchdown is not None else sc.epoch_utc
        sun = np.asarray(sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg, [time_utc]), float).reshape(-1, 3)[0]
        rng = ctx.rngs["render"]
        streams = child_streams(rng, len(cfg.lcam_altitudes_m) + 1)      # one per view
        scene = Scene(ter, rocks=site.rocks)
        backdrop = ctx.state.backdrop_scenes            # the descent stage's, when it built them
        shown = []
        n = len(cfg.lcam_altitudes_m) + 1
        with ctx.progress("cameras: LCAM and TCAM views", n) as advance:
            for k, alt in enumerate(cfg.lcam_altitudes_m):
                cam = lcam(position_enu=(x, y, z + float(alt)))
                fr = render(scene, cam, sun_dir_enu=sun, photometry=cfg.photometry, shadows=cfg.shadows,
                            layers="minimal", sensor=Sensor(), rng=streams[k], time_utc=time_utc,
                            backdrop=backdrop)
                name = f"render/lcam_{alt:g}m.png"
                path = write_frame(fr, ctx.product_path(name), extra={"altitude_m": float(alt),
                                                                      "ground_point_enu": [x, y, z]})
                ctx.register(path, description=f"LCAM view from {alt:g} m above the landing site")
                ctx.register(path.with_suffix(".json"), description="LCAM sidecar")
                shown.append((f"LCAM from {alt:g} m", fr.dn))
                advance(1)
            sun_az = math.degrees(math.atan2(sun[0], sun[1])) % 360.0
            pan = cfg.tcam_pan_deg if cfg.tcam_pan_deg is not None else (sun_az + 150.0) % 360.0
            cam = tcam(position_enu=(x, y, z + 2.6), pan_rad=math.radians(pan), tilt_rad=math.radians(cfg.tcam_tilt_deg))
            if ctx.quick:
                cam = cam.replace(width_px=1176, height_px=864, pixel_pitch_m=2 * cam.pixel_pitch_m,
                                  cx_px=587.5, cy_px=431.5)
            resp = CE4_COLOUR_RESPONSE if cfg.colour_imbalance else (1.0, 1.0, 1.0)
            sensor = Sensor(colour_response_rgb=resp)
            fr = render(scene, cam, sun_dir_enu=sun, photometry=cfg.photometry, shadows=cfg.shadows, layers="minimal",
                        sensor=sensor, rng=streams[-1], time_utc=time_utc, backdrop=backdrop)
            path = write_frame(fr, ctx.product_path("render/tcam_raw.png"),
                               extra={"colour_processing": "demosaiced (bilinear, RGGB), no white balance",
                                      "pan_deg": pan, "tilt_deg": cfg.tcam_tilt_deg})
            ctx.register(path, description="raw TCAM colour frame (red cast)")
            ctx.register(path.with_suffix(".json"), description="TCAM sidecar")
            shown.append(("TCAM raw colour", fr.dn))
            advance(1)
        self._downlink(ctx)
        self._report(ctx, shown, sun, time_utc, (x, y, z), fr)

    def _downlink(self, ctx) -> None:
        q = ctx.downlink
        if q is None:
            return
        t0 = ctx.state.touchdown.mission_s if ctx.state.touchdown is not None else 0.0
        for p in ctx.products:
            if p.get("stage") == self.name:
                q.enqueue(p["path"].removeprefix("products/"), 8.0 * p["bytes"], t0, source="lander", priority=5)

    def _report(self, ctx, shown, sun, time_utc, ground, tcam_frame) -> None:
        import cv2

        title = "Camera views"
        elev = math.degrees(math.asin(float(sun[2])))
        az = math.degrees(math.atan2(sun[0], sun[1])) % 360.0
        m = tcam_frame.dn[tcam_frame.dn.shape[0] // 2:].reshape(-1, 3).astype(float).mean(axis=0)
        ctx.report.add_section(title, (
            f"<p>Rendered over the landing point ({ground[0]:.1f} m E, {ground[1]:.1f} m N, height {ground[2]:.1f} m) "
            f"at {time_utc}; Sun elevation {elev:.2f}&deg;, azimuth {az:.1f}&deg;. Photometry: Hapke with Sato et "
            f"al. (2014) constants and typical mare w, b, c, B<sub>S0</sub>, h<sub>S</sub> (UNCONFIRMED); cast "
            f"shadows with the solar disk's penumbra. LCAM intrinsics from its PDS4 label (docs/references.md 4.1); TCAM "
            f"focal length and pointing are UNCONFIRMED. The raw TCAM frame's mean R:G:B over the ground is "
            f"{m[0]:.0f}:{m[1]:.0f}:{m[2]:.0f} &mdash; the red cast of the detector's channel imbalance.</p>"))
        for label, img in shown:
            h, w = img.shape[:2]
            f = 512.0 / max(h, w)
            small = cv2.resize(img, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_AREA)
            if small.ndim == 3:
                small = small[..., ::-1]
            ok, png = cv2.imencode(".png", small)
            if ok:
                ctx.report.add_png(label, png.tobytes(), caption=f"{label} (downscaled to {small.shape[1]} px wide)",
                                   section=title)
