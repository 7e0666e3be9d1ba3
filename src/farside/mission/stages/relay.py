"""Relay stage: Queqiao's halo orbit, site/ground visibility, link budgets, contact plan.

The orbit is the Az = 13,000 km Earth-Moon L2 halo (Zhang 2021 Table 1; docs/references.md 5) in the
CR3BP with JPL catalogue constants, placed in the DE421 Earth-Moon system
(:mod:`farside.orbit.placement`). The branch (north/south) is chosen by comparing both over a
window (default one year at 10-minute steps): the one that is visible from the site for more
of the time, then gives the higher mean lander data rate (range-dependent rate steps), then the
higher mean elevation, serves the (southern) landing site better; the comparison is written and shown. The phase is chosen so that the relay is as high
as possible in the site's sky at the scenario epoch (Queqiao relayed the landing live); the
real phase on 2019-01-03 is not published.

Products (``products/relay/``): ``orbit_synodic.parquet`` (one period, nondimensional),
``orbit_moon_me.parquet`` (relay position over the plan), ``branch_comparison.csv``,
``horizon.csv``, ``contact_plan.parquet``, ``contact_windows.csv``, ``link_budget.csv``.
State: ``relay`` (:class:`~farside.mission.state.RelayLink`: orbit, placed orbit, site
geometry) and ``contact_plan``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from farside.mission.stage import RunContext, Stage
from farside.mission.state import RelayLink

__all__ = ["RelayStage", "RelayConfig"]

_LUNAR_DAY_S = 29.530588 * 86400.0


class RelayConfig(BaseModel):
    """``[relay]`` table of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    libration_point: Literal["L1", "L2"] = "L2"
    az_km: float = Field(13_000.0, gt=0, le=80_000)
    branch: Literal["auto", "north", "south"] = "auto"
    #: fraction of the period since the x-z crossing of largest |z| at the epoch; None = the
    #: phase that puts the relay highest in the site's sky at the epoch
    phase: float | None = Field(None, ge=0.0, lt=1.0)
    mask_deg: float = Field(5.0, ge=0.0, lt=90.0)
    antenna_height_m: float = Field(1.5, ge=0.0, le=100.0)
    plan_days: float = Field(45.0, gt=0.0, le=400.0)
    quick_plan_days: float = Field(3.0, gt=0.0, le=400.0)
    step_s: float = Field(60.0, ge=1.0, le=3600.0)
    compare_days: float = Field(365.25, gt=0.0, le=3650.0)
    quick_compare_days: float = Field(60.0, gt=0.0, le=3650.0)
    compare_step_s: float = Field(600.0, ge=10.0, le=86400.0)


def site_geometry(ctx: RunContext, cfg: RelayConfig):
    """(lat, lon, antenna height above the sphere, horizon profile or None) of the landing point."""
    from farside.comms import horizon_elevation

    sc = ctx.scenario.site
    site = ctx.state.site
    horizon = None
    ground_m = float(sc.elevation_m)
    if site is not None:
        terrain = site.terrain
        ground_m = float(terrain.height_at(0.0, 0.0))
        horizon = horizon_elevation(terrain, 0.0, 0.0, np.arange(720) * 0.5, observer_height_m=cfg.antenna_height_m)
    return float(sc.lat_deg), float(sc.lon_deg), ground_m + cfg.antenna_height_m, horizon


class RelayStage(Stage):
    name = "relay"
    provides = ("relay", "contact_plan")
    uses = ("site",)
    Config = RelayConfig

    def run(self, ctx: RunContext) -> None:
        import pandas as pd

        from farside.comms import contact_plan, windows
        from farside.orbit import halo_orbit
        from farside.orbit.placement import place_orbit

        cfg: RelayConfig = ctx.config
        epoch = ctx.scenario.epoch_utc
        lat, lon, h_ant, horizon = site_geometry(ctx, cfg)
        orbits = {b: halo_orbit(libration_point=cfg.libration_point, branch=b, az_km=cfg.az_km)
                  for b in ("north", "south")}

        # --- branch comparison -------------------------------------------------------------
        cdays = cfg.quick_compare_days if ctx.quick else cfg.compare_days
        tc = np.arange(0.0, cdays * 86400.0, cfg.compare_step_s)
        rows = []
        with ctx.progress("relay: branch comparison", 2) as advance:
            for b, o in orbits.items():
                placed = place_orbit(o, epoch, t_end_s=float(tc[-1]) + cfg.compare_step_s)
                p = contact_plan(placed, tc, lat_deg=lat, lon_deg=lon, height_m=h_ant, horizon=horizon,
                                 mask_deg=cfg.mask_deg)
                rows.append({
                    "branch": b, "days": cdays, "step_s": cfg.compare_step_s,
                    "site_visible_fraction": float(p.site_visible.mean()),
                    "elevation_min_deg": float(p.relay_el_deg.min()),
                    "elevation_p05_deg": float(np.percentile(p.relay_el_deg, 5)),
                    "elevation_mean_deg": float(p.relay_el_deg.mean()),
                    "elevation_max_deg": float(p.relay_el_deg.max()),
                    "above_30deg_fraction": float(np.mean(p.relay_el_deg > 30.0)),
                    "lander_mean_rate_kbps": float(p.lander_rate_bps.mean() / 1e3),
                    "rover_mean_rate_kbps": float(p.rover_rate_bps.mean() / 1e3),
                    "ground_visible_fraction": float((p.ground_station >= 0).mean()),
                    "period_days": o.period_days, "jacobi": o.jacobi,
                })
                advance(1)
        comp = pd.DataFrame(rows)
        if cfg.branch == "auto":
            best = comp.sort_values(["site_visible_fraction", "lander_mean_rate_kbps", "elevation_mean_deg"],
                                    ascending=False).iloc[0]
            branch = str(best["branch"])
        else:
            branch = cfg.branch
        orbit = orbits[branch]

        # --- phase and placement over the plan ------------------------------------------------
        days = cfg.quick_plan_days if ctx.quick else cfg.plan_days
        t = np.arange(0.0, days * 86400.0 + 0.5 * cfg.step_s, cfg.step_s)
        placed = place_orbit(orbit, epoch, t_end_s=float(t[-1]) + cfg.step_s)
        phase = cfg.phase if cfg.phase is not None else self._best_phase(placed, lat, lon, h_ant)
        placed = place_orbit(orbit, epoch, t_end_s=float(t[-1]) + cfg.step_s, phase=phase)
        with ctx.progress("relay: contact plan", None):
            plan = contact_plan(placed, t, lat_deg=lat, lon_deg=lon, height_m=h_ant, horizon=horizon,
                                mask_deg=cfg.mask_deg)

        # --- products ------------------------------------------------------------------------
        ts, xs = orbit.sample(1024)
        df_syn = pd.DataFrame(xs, columns=["x", "y", "z", "vx", "vy", "vz"])
        df_syn.insert(0, "t_tu", ts)
        with ctx.write("relay/orbit_synodic.parquet", description="halo orbit, one period, CR3BP synodic (JPL units)") as tmp:
            df_syn.to_parquet(tmp, index=False)
        pos = placed.positions(t)
        df_me = pd.DataFrame({"t_s": t, "x_moon_me_km": pos["r_moon_me"][:, 0] / 1e3,
                              "y_moon_me_km": pos["r_moon_me"][:, 1] / 1e3, "z_moon_me_km": pos["r_moon_me"][:, 2] / 1e3,
                              "x_icrf_km": pos["r_icrf"][:, 0] / 1e3, "y_icrf_km": pos["r_icrf"][:, 1] / 1e3,
                              "z_icrf_km": pos["r_icrf"][:, 2] / 1e3})
        with ctx.write("relay/orbit_moon_me.parquet", description="relay position, Moon-centred MOON_ME and ICRF axes") as tmp:
            df_me.to_parquet(tmp, index=False)
        with ctx.write("relay/branch_comparison.csv", description="north vs south halo branch seen from the site") as tmp:
            comp.to_csv(tmp, index=False)
        if horizon is not None:
            with ctx.write("relay/horizon.csv", description="terrain horizon at the landing point") as tmp:
                pd.DataFrame({"az_deg": horizon.az_deg, "horizon_el_deg": horizon.elevation_deg}).to_csv(tmp, index=False)
        with ctx.write("relay/contact_plan.parquet", description="per-step visibility and link rates") as tmp:
            plan.frame().to_parquet(tmp, index=False)
        win = [{"link": "site-relay", "start_s": a, "end_s": b} for a, b in windows(plan.t_s, plan.site_visible)]
        win += [{"link": "relay-ground", "start_s": a, "end_s": b} for a, b in windows(plan.t_s, plan.ground_station >= 0)]
        with ctx.write("relay/contact_windows.csv", description="contact windows") as tmp:
            pd.DataFrame(win, columns=["link", "start_s", "end_s"]).to_csv(tmp, index=False)
        budget = self._budget_table(plan)
        with ctx.write("relay/link_budget.csv", description="link budgets at min/median/max range") as tmp:
            budget.to_csv(tmp, index=False)

        ctx.state.relay = RelayLink(orbit=orbit, placed=placed, phase=phase, lat_deg=lat, lon_deg=lon, height_m=h_ant,
                                    horizon=horizon, mask_deg=cfg.mask_deg, branch=branch)
        ctx.state.contact_plan = plan
        self._report(ctx, cfg, orbit, placed, plan, comp, budget, branch, phase, horizon)

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _best_phase(placed, lat, lon, h) -> float:
        """Phase (fraction of the period) that maximises the relay's elevation at the epoch."""
        from farside.comms.horizon import elevation_azimuth
        from farside.ephemeris import enu_to_moon_me_matrix, site_position_moon_me
        from farside.orbit.placement import PlacedOrbit

        phases = np.arange(360) / 360.0
        r_site = site_position_moon_me(lat, lon, h)
        m = enu_to_moon_me_matrix(lat, lon)
        els = []
        for ph in phases:
            p = PlacedOrbit(placed.orbit, placed.grid, ph * placed.orbit.period)
            els.append(elevation_azimuth(p.positions([0.0])["r_moon_me"], r_site, m)[0][0])
        return float(phases[int(np.argmax(els))])

    @staticmethod
    def _budget_table(plan):
        import pandas as pd

        from farside.comms import DEFAULT_STATIONS, GROUND_LINK, LANDER_LINK, ROVER_LINK, dish_gain_dbi, link_budget

        vis = plan.site_visible
        r = plan.relay_range_m[vis] if vis.any() else plan.relay_range_m
        d_site = np.array([r.min(), np.median(r), r.max()])
        frames = [link_budget(LANDER_LINK, d_site).table(), link_budget(ROVER_LINK, d_site).table()]
        for j, st in enumerate(DEFAULT_STATIONS):
            v = plan.station_visible[:, j]
            if not v.any():
                continue
            rg = plan.station_range_m[v, j]
            cfg = GROUND_LINK.with_(rx_gain_dbi=dish_gain_dbi(st.dish_m, GROUND_LINK.frequency_hz),
                                    name=f"relay->{st.name} ({st.dish_m:g} m)")
            frames.append(link_budget(cfg, np.array([rg.min(), np.median(rg), rg.max()])).table())
        df = pd.concat(frames, ignore_index=True)
        df.insert(1, "case", ["min range", "median range", "max range"] * (len(df) // 3))
        return df

    def _report(self, ctx, cfg, orbit, placed, plan, comp, budget, branch, phase, horizon) -> None:
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle

        from farside.comms import contact_plan

        title = "Relay (Queqiao)" if ctx.scenario.reference_mission == "chang-e-4" else "Relay"
        sysm = orbit.system
        vis_frac = float(plan.site_visible.mean())
        gnd_frac = float((plan.ground_station >= 0).mean())
        ctx.report.add_section(title, (
            f"<p>{cfg.libration_point} {branch} halo, Az = {orbit.az_km:,.0f} km"
            f"{' (Queqiao, Zhang 2021: 13,000 km)' if ctx.scenario.reference_mission == 'chang-e-4' else ''}, "
            f"Ax = {orbit.ax_km:,.0f} km, period {orbit.period_days:.3f} d (CR3BP, JPL catalogue constants; "
            f"press: \"about 14 days\"), Jacobi constant {orbit.jacobi:.10f}, closure after one period "
            f"{orbit.closure_error():.1e} (nondimensional). Phase at the epoch {phase:.3f} of the period "
            f"({'chosen to put the relay highest in the site sky' if cfg.phase is None else 'from the scenario'}).</p>"
            f"<p>Placement: the synodic orbit is mapped with the instantaneous DE421 Earth-Moon line, orbit "
            f"normal and distance (pulsating synodic frame, no ephemeris-model correction). Over the "
            f"{plan.t_s[-1] / 86400:.1f}-day plan the relay is visible from the site (mask {cfg.mask_deg:g}&deg;"
            f"{' and terrain horizon' if horizon is not None else ''}) {100 * vis_frac:.2f} % of the time and "
            f"reaches a ground station {100 * gnd_frac:.2f} % of the time.</p>"
            f"<p>Branch: <b>{branch}</b> "
            f"({'chosen by site visibility, then mean lander data rate, then mean elevation' if cfg.branch == 'auto' else 'from the scenario'}).</p>"))
        ctx.report.add_table("Halo branch comparison (site view)", comp, section=title)

        # 3-D orbit and view from Earth
        _, xs = orbit.sample(600)
        lu_km = sysm.lu_m / 1e3
        rel = (xs[:, :3] - np.array([1 - sysm.mu, 0, 0])) * lu_km
        fig = Figure(figsize=(12, 5.5))
        ax = fig.add_subplot(1, 2, 1, projection="3d")
        ax.plot(rel[:, 0], rel[:, 1], rel[:, 2], "b-", lw=1.2, label=f"{branch} halo")
        other = orbit.mirrored().sample(600)[1]
        rel2 = (other[:, :3] - np.array([1 - sysm.mu, 0, 0])) * lu_km
        ax.plot(rel2[:, 0], rel2[:, 1], rel2[:, 2], color="0.6", lw=0.8, ls="--", label="other branch")
        u, v = np.mgrid[0:2 * np.pi:30j, 0:np.pi:15j]
        rm = 1737.4
        ax.plot_surface(rm * np.cos(u) * np.sin(v), rm * np.sin(u) * np.sin(v), rm * np.cos(v), color="0.5", alpha=0.6)
        from farside.orbit import lagrange_points

        l2 = (lagrange_points(mu=sysm.mu)[cfg.libration_point][0] - (1 - sysm.mu)) * lu_km
        ax.scatter([l2], [0], [0], color="r", marker="x", label=cfg.libration_point)
        ax.set_xlabel("x (km, from Moon, away from Earth)")
        ax.set_ylabel("y (km)")
        ax.set_zlabel("z (km)", labelpad=12)
        ax.set_title("Halo orbit, Moon-centred synodic frame")
        ax.legend(fontsize=8)
        ax2 = fig.add_subplot(1, 2, 2)
        fig.subplots_adjust(wspace=0.45)          # room between the 3-D z axis and the right panel
        ax2.plot(rel[:, 1], rel[:, 2], "b-", label=f"{branch} halo")
        ax2.plot(rel2[:, 1], rel2[:, 2], color="0.6", ls="--", label="other branch")
        ax2.add_patch(Circle((0, 0), rm, color="0.5"))
        ax2.set_aspect("equal")
        ax2.locator_params(axis="x", nbins=5)
        ax2.set_xlabel("y (km, along the Moon's motion)")
        ax2.set_ylabel("z (km, north)")
        ax2.set_title("Seen from the Earth (Moon disk grey)")
        ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)   # below the x label
        ctx.report.add_figure("Halo orbit in 3-D and seen from Earth", fig, section=title)

        # site elevation over the first lunar day
        t_day = np.arange(0.0, min(_LUNAR_DAY_S / 2, 15 * 86400.0), 300.0)
        if t_day[-1] + 300.0 > placed.grid.t_s[-1] - 2 * 3600.0:
            from farside.orbit.placement import place_orbit

            placed_day = place_orbit(orbit, ctx.scenario.epoch_utc, t_end_s=float(t_day[-1]) + 600.0, phase=phase)
        else:
            placed_day = placed
        st = ctx.state.relay
        p = contact_plan(placed_day, t_day, lat_deg=st.lat_deg, lon_deg=st.lon_deg, height_m=st.height_m,
                         horizon=horizon, mask_deg=cfg.mask_deg)
        fig = Figure(figsize=(11, 6))
        axs = fig.subplots(2, 1, sharex=True)
        axs[0].plot(t_day / 86400, p.relay_el_deg, "b-", label="relay elevation")
        axs[0].plot(t_day / 86400, np.maximum(p.horizon_el_deg, cfg.mask_deg), "k:", label="max(mask, terrain horizon)")
        axs[0].set_ylabel("elevation (deg)")
        axs[0].legend(fontsize=8)
        axs[0].set_title("Relay seen from the landing site over the first lunar day (from the epoch)")
        axs[1].step(t_day / 86400, p.lander_rate_bps / 1e3, where="post", label="lander->relay")
        axs[1].step(t_day / 86400, p.rover_rate_bps / 1e3, where="post", label="rover->relay")
        axs[1].step(t_day / 86400, p.ground_rate_bps / 1e4, where="post", label="relay->ground (x10 Mbit/s)")
        axs[1].set_ylabel("rate (kbit/s)")
        axs[1].set_xlabel("days since epoch")
        axs[1].legend(fontsize=8)
        ctx.report.add_figure("Site-relay elevation over the first lunar day", fig, section=title)
        show = budget[["link", "case", "distance_km", "eirp_dBW", "free_space_loss_dB", "g_over_t_dB_K", "cn0_dBHz",
                       "max_rate_kbps", "rate_kbps", "margin_at_rate_dB"]]
        ctx.report.add_table("Link budgets (assumed hardware: farside.comms.link)", show, section=title)
