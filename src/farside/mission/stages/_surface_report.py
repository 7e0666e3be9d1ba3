"""The report's surface section (figures and tables of the surface stage)."""

from __future__ import annotations

import html
import math

import numpy as np

__all__ = ["surface_report", "crop_terrain"]

_MODE_COLOURS = {"nap": "#f6c85f", "sleep": "#6f7fb3", "drive": "#59a14f"}
SECTION = "Surface: Yutu-2 egress, traverse, power and thermal"


def _mode_spans(t_days, modes):
    """(start, end, mode) runs of equal mode."""
    out = []
    if len(t_days) == 0:
        return out
    start = 0
    for k in range(1, len(modes) + 1):
        if k == len(modes) or modes[k] != modes[start]:
            end = t_days[k] if k < len(modes) else t_days[-1]
            out.append((t_days[start], end, modes[start]))
            start = k
    return out


def crop_terrain(ter, cx: float, cy: float, half: float):
    """The part of ``ter`` within ``half`` metres of (cx, cy) (whole pixels, clipped to the raster)."""
    r0, c0 = ter.xy_to_ij(cx - half, cy + half)
    r1, c1 = ter.xy_to_ij(cx + half, cy - half)
    i0, i1 = max(int(r0), 0), min(int(math.ceil(r1)) + 1, ter.shape[0])
    j0, j1 = max(int(c0), 0), min(int(math.ceil(c1)) + 1, ter.shape[1])
    return ter.replace(heights=ter.heights[i0:i1, j0:j1], x0_m=ter.x0_m + j0 * ter.resolution_m,
                       y0_m=ter.y0_m - i0 * ter.resolution_m)


def surface_report(ctx, res, summary, fault_costs, site, td, sets_s, cfg) -> None:
    import pandas as pd
    from matplotlib.figure import Figure

    from farside.ephemeris import seconds_to_utc
    from farside.terrain import hillshade

    rep = ctx.report
    epoch = ctx.scenario.epoch_utc
    trav = res.traverse
    steps = res.drive_steps
    ev = res.events
    tx, ty = float(td.enu_m[0]), float(td.enu_m[1])
    rep.add_section(SECTION, (
        f"<p>Egress {html.escape(str(summary.get('egress_utc')))} "
        f"({summary.get('egress_after_touchdown_h', float('nan')):.1f} h after touchdown), "
        f"{'ramp to the ' + html.escape(str(summary.get('egress_side'))) if summary.get('egress_go') else 'no-go'}; "
        f"{summary['distance_m']:.1f} m driven, {summary['refused_segments']} segment(s) refused, "
        f"{summary['detours']} detour(s); minimum state of charge {100 * summary['min_soc']:.0f} %. "
        "Rocker-bogie quasi-static on the site DEM and rocks, Wong-Reece wheels on "
        f"{html.escape(cfg.soil.replace('_', ' '))}, power from the Sun on the arrays, regolith temperature from "
        "a 1-D conduction model (docs/rover.md)."
        + (f" Asleep, the warm box (held at -20 C) loses at most {summary['night_heat_loss_max_w']:.1f} W through its "
           f"blanket, against the radioisotope heaters' assumed {summary['rhu_w']:.0f} W (UNCONFIRMED box and RHU values)."
           if summary.get("night_heat_loss_max_w") is not None else "") + "</p>"))

    # --- route on the hillshade and the tracks ----------------------------------------------------
    xs = trav["x_m"].to_numpy(float)
    ys = trav["y_m"].to_numpy(float)
    half = max(10.0, float(np.nanmax(np.abs(np.r_[xs - tx, ys - ty]))) + 5.0) if len(trav) else 15.0
    sub = crop_terrain(site.terrain, tx, ty, half)
    hs = hillshade(sub, sun_azimuth_deg=90.0, sun_elevation_deg=25.0)
    ext = [sub.x0_m - tx, sub.x0_m + sub.width_m - tx, sub.y0_m - sub.height_m - ty, sub.y0_m - ty]
    fig = Figure(figsize=(12, 5.6))
    ax, ax2 = fig.subplots(1, 2)
    ax.imshow(hs, cmap="gray", extent=ext, origin="upper", vmin=0, vmax=1)
    rk = site.rocks
    near = rk[(np.abs(rk["x_m"] - tx) < half) & (np.abs(rk["y_m"] - ty) < half)]
    big = near["height_m"] > 0.2
    ax.scatter(near["x_m"][~big] - tx, near["y_m"][~big] - ty, s=np.clip(near["diameter_m"][~big] * 30, 2, 60),
               facecolors="none", edgecolors="#d9a441", lw=0.6, label="rocks <= 0.20 m high")
    ax.scatter(near["x_m"][big] - tx, near["y_m"][big] - ty, s=np.clip(near["diameter_m"][big] * 30, 4, 80),
               facecolors="none", edgecolors="r", lw=1.0, label="rocks > 0.20 m (the rover's limit)")
    if len(steps):
        ax.plot(steps["x_m"] - tx, steps["y_m"] - ty, "-", color="#2ca0ff", lw=1.6, label="driven path")
    for k, wp in enumerate(cfg.waypoints):
        ax.plot(wp.x_m, wp.y_m, "y^", ms=7, label="waypoints" if k == 0 else None)
    ax.plot(0, 0, "ws", ms=9, mec="k", label="lander")
    if getattr(res.egress, "go", False):
        fx, fy = res.egress.foot_xy_m
        ax.plot(fx - tx, fy - ty, "co", ms=6, mec="k", label="ramp foot")
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_xlabel("east of the lander (m)")
    ax.set_ylabel("north of the lander (m)")
    ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
    ax.set_title("route on the site hillshade")
    tr = res.tracks
    d = tr.delta
    if len(steps):
        ex = steps["x_m"].to_numpy(float)
        ey = steps["y_m"].to_numpy(float)
        cx, cy = float(np.median(ex)), float(np.median(ey))
    else:
        cx, cy = tx, ty
    win = 4.0
    t_ext = tr.extent_m
    d = tr.carve_m
    im = ax2.imshow(d * 100.0, cmap="gray_r", extent=[t_ext[0] - tx, t_ext[1] - tx, t_ext[2] - ty, t_ext[3] - ty],
               origin="upper", vmin=0, vmax=max(1.0, float(np.nanmax(d) * 100.0)) if d.size else 1.0)
    fig.colorbar(im, ax=ax2, label="rut depth (cm)", shrink=0.85)
    ax2.set_xlim(cx - tx - win, cx - tx + win)
    ax2.set_ylim(cy - ty - win, cy - ty + win)
    ax2.set_xlabel("east of the lander (m)")
    ax2.set_ylabel("north of the lander (m)")
    ax2.set_title(f"wheel ruts (tracks.tif, {tr.resolution_m * 100:g} cm pixels)")
    fig.tight_layout()
    rep.add_figure("Route and wheel tracks", fig, section=SECTION,
                   caption="Left: the driven path (blue) from the ramp foot, waypoints, rocks near the lander (red: "
                           "taller than the 0.20 m obstacle limit). Right: the ruts carved by the six wheels' "
                           "sinkage in an 8 m window on the route.")

    # --- slip against slope ------------------------------------------------------------------
    from farside.rover import YUTU2, steady_state_drive

    soil = None
    from farside.rover import LLL_DRY_SAND, LUNAR_REGOLITH

    soil = LUNAR_REGOLITH if cfg.soil == "lunar_regolith" else LLL_DRY_SAND
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    slopes = np.arange(-9.0, 34.0, 3.0)
    for label, faults, style in (("nominal", (), "k-"), ("one wheel free", ((1, "free"),), "C0--"),
                                 ("rear wheel locked", ((2, "locked"),), "C3-."),
                                 ("two wheels free", ((0, "free"), (5, "free")), "C2:")):
        sl = []
        for s in slopes:
            st = steady_state_drive(YUTU2, soil, slope_deg=float(s), wheel_faults=faults,
                                    speed_mps=cfg.speed_m_per_h / 3600.0)
            sl.append(st.slip if st.progress else np.nan)
        ax.plot(slopes, 100 * np.asarray(sl), style, label=f"steady state, {label}")
    if len(steps):
        ax.scatter(steps["pitch_deg"], 100 * steps["slip_1"], s=6, c="C1", alpha=0.6, label="drive steps (middle wheel)")
    ax.axvline(YUTU2.max_slope_deg, color="gray", ls="--", lw=1, label="published limit 20 deg")
    ax.set_xlabel("slope along the heading (deg; negative downhill)")
    ax.set_ylabel("slip (%)")
    ax.set_ylim(-20, 100)
    ax.legend(fontsize=7)
    fig.tight_layout()
    rep.add_figure("Slip against slope", fig, section=SECTION,
                   caption="Wheel slip of the powered wheels in the steady state (Wong-Reece, per-wheel loads from the "
                           "rocker-bogie statics) and at the driven steps; a curve ends where the rover stops making "
                           "progress.")

    # --- power, state of charge, temperature through day and night -------------------------------
    t = trav["t_s"].to_numpy(float)
    days = (t - td.mission_s) / 86400.0
    modes = trav["mode"].astype(str).to_numpy()
    fig = Figure(figsize=(12, 7.5))
    a1, a2, a3 = fig.subplots(3, 1, sharex=True)
    for a in (a1, a2, a3):
        for s0, s1, m in _mode_spans(days, modes):
            if m in _MODE_COLOURS:
                a.axvspan(s0, max(s1, s0 + 0.02), color=_MODE_COLOURS[m], alpha=0.35 if m != "drive" else 0.8, lw=0)
    a1.plot(days, trav["array_w"], "C1-", lw=1, label="solar array")
    a1.plot(days, trav["load_w"], "C0-", lw=1, label="loads")
    a1.set_ylabel("power (W)")
    a1.legend(fontsize=7, loc="upper right")
    a2.plot(days, 100 * trav["soc"], "k-", lw=1)
    a2.set_ylabel("battery state of charge (%)")
    a3.plot(days, trav["regolith_level_k"] - 273.15, "C3-", lw=1, label="regolith surface, level ground")
    a3.axhline(-190.0, color="C0", ls=":", lw=1, label="reported first-night minimum -190 C")
    a3.set_ylabel("temperature (C)")
    a3.set_xlabel("days after touchdown")
    a3.legend(fontsize=7, loc="upper right")
    from matplotlib.patches import Patch

    a1.legend(handles=[*a1.get_legend_handles_labels()[0],
                       *[Patch(color=c, alpha=0.5, label=m) for m, c in _MODE_COLOURS.items()]], fontsize=7,
              loc="upper right")
    fig.tight_layout()
    rep.add_figure("Power, battery and temperature through day and night", fig, section=SECTION,
                   caption="Modes shaded: drive (green), noon nap (yellow), night sleep (blue).")

    # --- events and faults -----------------------------------------------------------------------
    evt = ev.copy()
    evt.insert(0, "utc", seconds_to_utc(epoch, evt["t_s"].to_numpy(float), places=0) if len(evt) else [])
    evt = evt.drop(columns=["t_s"])
    keep = ~evt["event"].isin(["point turn"])
    rep.add_table("Surface events", evt[keep].head(60), section=SECTION)
    rep.add_table("What each wheel fault costs (steady state on lunar regolith)", fault_costs, section=SECTION,
                  float_format="{:.3g}")

    # --- against the published numbers -------------------------------------------------------
    if ctx.scenario.reference_mission == "chang-e-4":
        nominal = fault_costs[fault_costs["case"] == "nominal"].iloc[0]
        rows = [
            ("egress after landing", "~12 h: 02:26 -> 14:22 UTC (references 1.1)",
             f"{summary['egress_after_touchdown_h']:.1f} h (the scenario's egress event)"),
            ("top speed", "200 m/h (references 3)", f"{summary['max_speed_mps'] * 3600:.0f} m/h driven "
             f"(slip lowers the ground speed below the commanded {cfg.speed_m_per_h:.0f} m/h)"),
            ("climbable slope", "20 deg (references 3)",
             f"steepest with progress {nominal['steepest_slope_deg']:.1f} deg (physics); driver limit 20 deg"),
            ("obstacle", "20 cm (references 3)", f"driver limit 0.20 m; largest rock driven over "
             f"{summary.get('max_obstacle_m') or 0:.2f} m"),
            ("noon nap", "2019-01-04 to ~2019-01-10 (references 3)",
             f"{summary.get('nap_start_utc')} to {summary.get('nap_end_utc')}"),
            ("first-night minimum", "-190 C (references 3)",
             f"{float(trav['regolith_level_k'].min()) - 273.15:.0f} C (level regolith)"),
        ]
        if cfg.replay:
            rows.append(("distance after five lunar days", "186.66 m (Liu, Di et al. 2020)",
                         f"{summary['distance_m']:.2f} m"))
        rep.add_table("Yutu-2: published against farside", pd.DataFrame(rows, columns=["quantity", "published", "farside"]),
                      section=SECTION)
