"""Site stage: the landing-site terrain (DEM, craters, rocks) and the Sun over the first lunar day.

Products: ``terrain/site_dem.tif`` (GeoTIFF, lunar CRS), ``terrain/craters.csv``,
``terrain/rocks.csv``. Report: hillshade and slope map, crater and rock size-frequency plots against
their models, Sun elevation/azimuth through the first lunar day with touchdown, rover egress and
sunset marked. ``--quick`` uses the scenario's ``quick_size_px``/``quick_resolution_m``.
"""

from __future__ import annotations

import numpy as np

from farside.mission.scenario import SiteConfig
from farside.mission.stage import RunContext, Stage

__all__ = ["SiteStage"]


class SiteStage(Stage):
    name = "site"
    Config = SiteConfig
    provides = ("site", "first_sunset_s")

    def run(self, ctx: RunContext) -> None:
        from farside.terrain import generate_site, write_dem, write_site_tables

        cfg = ctx.scenario.site
        size = cfg.quick_size_px if ctx.quick else cfg.size_px
        res = cfg.quick_resolution_m if ctx.quick else cfg.resolution_m
        with ctx.progress(f"site: generating {size}x{size} px at {res} m/px", None):
            site = generate_site(
                size, res, age_gyr=cfg.age_gyr, rock_abundance=cfg.rock_abundance, rng=ctx.rngs["terrain"],
                elevation_m=cfg.elevation_m, regional_slope_deg=cfg.regional_slope_deg,
                regional_slope_azimuth_deg=cfg.regional_slope_azimuth_deg,
                anchor_lat_deg=cfg.lat_deg, anchor_lon_deg=cfg.lon_deg,
            )
        ctx.state.site = site
        with ctx.write("terrain/site_dem.tif", description="site DEM, float32 m, lunar tmerc CRS") as tmp:
            write_dem(site.terrain, tmp)
        cpath, rpath = write_site_tables(site, ctx.product_path("terrain"))
        ctx.register(cpath, description="crater table (x_m, y_m, diameter_m, depth_m)")
        ctx.register(rpath, description="rock table (x_m, y_m, diameter_m, height_m)")
        self._report(ctx, site, res)

    # ------------------------------------------------------------------------------------------
    def _report(self, ctx: RunContext, site, res: float) -> None:
        from matplotlib.figure import Figure

        from farside.terrain import hillshade, slope_deg

        t = site.terrain
        title = "Landing site terrain"
        n_c, n_r = len(site.craters), len(site.rocks)
        ctx.report.add_section(title, (
            f"<p>{t.shape[1]} x {t.shape[0]} px at {t.resolution_m} m/px ({t.width_m / 1000:.2f} km square), "
            f"anchored at {t.anchor_lat_deg:.4f}&deg;, {t.anchor_lon_deg:.4f}&deg;E; heights "
            f"{float(t.heights.min()):.1f} to {float(t.heights.max()):.1f} m; {n_c} craters, {n_r} rocks.</p>"))
        ext = [v / 1000 for v in t.extent_m]
        step = max(1, t.shape[0] // 1024)
        sub = t.replace(heights=t.heights[::step, ::step], resolution_m=t.resolution_m * step)
        fig = Figure(figsize=(12, 5.4))
        axes = fig.subplots(1, 2)
        axes[0].imshow(hillshade(sub, sun_azimuth_deg=90.0, sun_elevation_deg=20.0), cmap="gray", extent=ext)
        axes[0].set_title("hillshade (sun from east, 20°)")
        s = slope_deg(t, baseline_m=max(2 * t.resolution_m, 4.0))[::step, ::step]
        im = axes[1].imshow(s, cmap="magma", vmin=0, vmax=30, extent=ext)
        axes[1].set_title("slope at 4 m baseline (deg)")
        fig.colorbar(im, ax=axes[1], shrink=0.85, label="deg")
        for a in axes:
            a.set_xlabel("east (km)")
            a.set_ylabel("north (km)")
        ctx.report.add_figure("Hillshade and slope", fig, section=title)
        self._crater_plot(ctx, site, title)
        self._rock_plot(ctx, site, title)
        self._sun_plot(ctx)

    def _crater_plot(self, ctx, site, section) -> None:
        from matplotlib.figure import Figure

        from farside.terrain import neukum_production, trask_equilibrium

        cfg = ctx.scenario.site
        t = site.terrain
        area_km2 = t.width_m * t.height_m / 1e6
        x0, x1, y0, y1 = t.extent_m
        cr = site.craters
        inside = (cr["x_m"] >= x0) & (cr["x_m"] < x1) & (cr["y_m"] >= y0) & (cr["y_m"] < y1)
        d = np.sort(cr.loc[inside, "diameter_m"].to_numpy())[::-1]
        fig = Figure(figsize=(6.5, 5))
        ax = fig.subplots()
        if len(d):
            ax.loglog(d, np.arange(1, len(d) + 1) / area_km2, "k.", ms=3, label=f"generated site ({len(d)} craters centred inside)")
        dd = np.logspace(np.log10(max(d.min() if len(d) else 1.0, 0.5)), np.log10(max(d.max() if len(d) else 100, 10)), 100)
        prod = neukum_production(dd / 1000.0, cfg.age_gyr)
        eq = trask_equilibrium(dd / 1000.0)
        ax.loglog(dd, prod, "b-", label=f"Neukum 2001 production, {cfg.age_gyr} Gyr")
        ax.loglog(dd, eq, "r--", label="Trask 1966 equilibrium")
        ax.loglog(dd, np.minimum(prod, eq), "g:", lw=2, label="min(production, equilibrium)")
        ax.set_xlabel("crater diameter D (m)")
        ax.set_ylabel("cumulative N(>D) per km²")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ctx.report.add_figure("Crater size-frequency", fig, section=section,
                              caption="Cumulative crater size-frequency distribution vs docs/references.md 7.1 models")

    def _rock_plot(self, ctx, site, section) -> None:
        from matplotlib.figure import Figure

        from farside.terrain import rock_cfa

        cfg = ctx.scenario.site
        t = site.terrain
        area = t.width_m * t.height_m
        rocks = site.rocks
        fig = Figure(figsize=(6.5, 5))
        ax = fig.subplots()
        groups = [("all rocks", np.ones(len(rocks), bool), "k.")]
        if "source" in rocks.columns:
            for src, mk in (("background", "b."), ("ejecta", "r.")):
                sel = (rocks["source"] == src).to_numpy()
                if sel.any():
                    groups.append((src, sel, mk))
        for label, sel, mk in groups:
            d = np.sort(rocks.loc[sel, "diameter_m"].to_numpy())[::-1]
            if len(d):
                cfa = np.cumsum(np.pi * d**2 / 4.0) / area
                ax.semilogy(d, cfa, mk, ms=2.5, label=f"generated: {label} ({len(d)})")
        dd = np.linspace(0.05, 1.5, 200)
        model = rock_cfa(dd, cfg.rock_abundance)
        ax.semilogy(dd, model, "b-", label=f"background model k·exp(-q(k)D), k = {cfg.rock_abundance}")
        ax.set_ylim(1e-9, max(1e-1, 2 * cfg.rock_abundance))
        ax.set_xlabel("rock diameter D (m)")
        ax.set_ylabel("cumulative fractional area F(>D)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ctx.report.add_figure("Rock size-frequency", fig, section=section,
                              caption="Rock cumulative fractional area (Golombek & Rapp 1997, docs/references.md 7.3); "
                                      "rocks above the curve are ejecta blocks around fresh craters")

    def _sun_plot(self, ctx) -> None:
        import matplotlib.dates as mdates
        from matplotlib.figure import Figure

        from farside.ephemeris import body_altaz, mission_times, seconds_to_utc, sunrise_sunset

        sc = ctx.scenario
        lat, lon = sc.site.lat_deg, sc.site.lon_deg
        epoch = sc.epoch_utc
        ev = sunrise_sunset(lat, lon, seconds_to_utc(epoch, [-16 * 86400.0])[0], seconds_to_utc(epoch, [16 * 86400.0])[0],
                            epoch_utc=epoch)
        t_epoch = 0.0
        rise_s = max([e.seconds for e in ev if e.kind == "sunrise" and e.seconds <= t_epoch], default=-3 * 86400.0)
        set_s = min([e.seconds for e in ev if e.kind == "sunset" and e.seconds > t_epoch], default=12 * 86400.0)
        secs = np.arange(rise_s - 6 * 3600.0, set_s + 6 * 3600.0, 1800.0)
        alt, az, _ = body_altaz("sun", lat, lon, mission_times(epoch, secs))
        days = secs / 86400.0
        fig = Figure(figsize=(10, 4.5))
        ax = fig.subplots()
        ax.plot(days, alt, "C1-", label="Sun elevation")
        ax2 = ax.twinx()
        ax2.plot(days, (az + 180.0) % 360.0 - 180.0, "C0-", lw=1, label="Sun azimuth")
        ax2.set_ylabel("azimuth (deg from N, east positive)", color="C0")
        marks = [(0.0, f"touchdown {epoch}", "k")]
        for label, t_utc in sorted(sc.events.items(), key=lambda kv: sc.event_seconds(kv[0])):
            marks.append((sc.event_seconds(label), f"{label} {t_utc}", "g"))
        marks.append((set_s, f"sunset {seconds_to_utc(epoch, [set_s])[0]}", "r"))
        for s_, lab, col in marks:
            ax.axvline(s_ / 86400.0, color=col, ls="--", lw=1, label=lab)
        ax.axhline(0, color="gray", lw=0.6)
        ax.set_xlabel(f"days since epoch {epoch}")
        ax.set_ylabel("Sun elevation (deg)", color="C1")
        ax.legend(loc="upper right", fontsize=8)
        del mdates
        ctx.report.add_figure("Sun over the first lunar day", fig,
                              caption=f"Sun elevation and azimuth at {lat:.4f}°, {lon:.4f}°E from sunrise to sunset "
                                      "(DE421 + MOON_ME via skyfield)")
        ctx.state.first_sunset_s = float(set_s)
