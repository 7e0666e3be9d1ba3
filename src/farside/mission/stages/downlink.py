"""Downlink stage: every queued product through the relay contact plan to Earth.

The run's downlink queue is a service: any stage calls ``ctx.downlink.enqueue(name, size_bits,
t_created_s, source=..., priority=...)``. This stage drains it (``drains = True``: the runner
runs it after every other stage, wherever it is listed). This stage adds the landers' and rover's housekeeping telemetry (ASSUMED: lander
2 kbit/s from touchdown, rover 1 kbit/s from egress, in 10-minute packets, priority 1), extends
the relay's contact plan to cover the last product plus ``margin_days``, runs the
store-and-forward simulation and writes ``products/downlink/products.csv`` (per product:
times at the relay and on the ground, latency, status), ``products/downlink/timeline.parquet``
(relay buffer and source backlogs per step) and ``products/downlink/summary.csv``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from farside.mission.stage import RunContext, Stage

__all__ = ["DownlinkStage", "DownlinkConfig"]


class DownlinkConfig(BaseModel):
    """``[downlink]`` table of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    housekeeping: bool = True
    lander_housekeeping_bps: float = Field(2_000.0, ge=0.0)
    rover_housekeeping_bps: float = Field(1_000.0, ge=0.0)
    #: when each source's housekeeping starts: "epoch", "touchdown" (the descent stage's, else the
    #: epoch), a scenario event label or an ISO UTC time; "" = that source sends none
    lander_housekeeping_start: str = "touchdown"
    rover_housekeeping_start: str = "rover egress"
    packet_s: float = Field(600.0, ge=10.0)
    margin_days: float = Field(2.0, ge=0.0, le=60.0)
    relay_buffer_gbit: float = Field(8.0, gt=0.0)
    lander_store_gbit: float = Field(32.0, gt=0.0)
    rover_store_gbit: float = Field(4.0, gt=0.0)


class DownlinkStage(Stage):
    name = "downlink"
    Config = DownlinkConfig
    requires = ("relay", "contact_plan")
    provides = ("downlink_result",)
    drains = True

    def run(self, ctx: RunContext) -> None:
        import pandas as pd

        from farside.comms import DownlinkQueue, contact_plan
        from farside.orbit.placement import place_orbit

        cfg: DownlinkConfig = ctx.config
        relay = ctx.require("relay")
        queue: DownlinkQueue = ctx.downlink
        plan = ctx.require("contact_plan")
        epoch = ctx.scenario.epoch_utc
        t_end_plan = float(plan.t_s[-1])
        if cfg.housekeeping:
            sc = ctx.scenario
            td = ctx.state.touchdown.mission_s if ctx.state.touchdown is not None else None
            starts = {}
            for src, spec in (("lander", cfg.lander_housekeeping_start), ("rover", cfg.rover_housekeeping_start)):
                if spec == "rover egress" and spec not in sc.events:
                    spec = ""                  # the default: no rover housekeeping in a scenario without egress
                starts[src] = None if not spec else max(0.0, sc.event_seconds(spec, touchdown_s=td))
            for src, t0, bps in (("lander", starts["lander"], cfg.lander_housekeeping_bps),
                                 ("rover", starts["rover"], cfg.rover_housekeeping_bps)):
                if bps <= 0 or t0 is None:
                    continue
                for k, ts in enumerate(np.arange(t0 + cfg.packet_s, t_end_plan, cfg.packet_s)):
                    queue.enqueue(f"{src}/housekeeping/{k:05d}", bps * cfg.packet_s, float(ts), source=src, priority=1)
        items = queue.items()
        last = max([it[2] for it in items], default=0.0)
        need = last + cfg.margin_days * 86400.0
        if need > t_end_plan:
            dt = plan.step_s
            t = np.arange(0.0, need + 0.5 * dt, dt)
            placed = place_orbit(relay.orbit, epoch, t_end_s=float(t[-1]) + dt, phase=relay.phase)
            with ctx.progress("downlink: extending the contact plan", None):
                plan = contact_plan(placed, t, lat_deg=relay.lat_deg, lon_deg=relay.lon_deg,
                                    height_m=relay.height_m, horizon=relay.horizon, mask_deg=relay.mask_deg)
        with ctx.progress(f"downlink: {len(items)} products", None):
            res = queue.simulate(plan, store_bits={"lander": cfg.lander_store_gbit * 1e9, "rover": cfg.rover_store_gbit * 1e9},
                                 relay_buffer_bits=cfg.relay_buffer_gbit * 1e9)
        with ctx.write("downlink/products.csv", description="per product: relay and ground arrival, latency, status") as tmp:
            res.products.to_csv(tmp, index=False)
        with ctx.write("downlink/timeline.parquet", description="relay buffer and source backlogs per plan step") as tmp:
            res.timeline.to_parquet(tmp, index=False)
        stats = res.stats()
        summary = pd.DataFrame([{"quantity": k, "value": v} for k, v in stats.items()])
        with ctx.write("downlink/summary.csv", description="latency statistics, drops, buffer peak") as tmp:
            summary.to_csv(tmp, index=False)
        ctx.state.downlink_result = res
        self._report(ctx, res, stats)

    def _report(self, ctx, res, stats) -> None:
        from matplotlib.figure import Figure
        import pandas as pd

        title = "Downlink"
        p = res.products
        tl = res.timeline
        lat = stats.get("latency_median_s")
        ctx.report.add_section(title, (
            f"<p>{stats['n_products']} products queued; {stats['n_delivered']} reached Earth, "
            f"{stats['n_undelivered']} still in transit at the end of the plan, {stats['n_dropped']} dropped "
            f"(source store full). Median latency {_duration(lat)}; relay buffer peak "
            f"{stats['max_relay_buffer_bits'] / 8e6:.1f} MB.</p>" if lat is not None else
            f"<p>{stats['n_products']} products queued; none delivered.</p>"))
        fig = Figure(figsize=(11, 8))
        axs = fig.subplots(3, 1, sharex=True)
        d = tl["t_s"].to_numpy() / 86400
        axs[0].step(d, tl["lander_rate_bps"] / 1e3, where="post", label="lander->relay")
        axs[0].step(d, tl["rover_rate_bps"] / 1e3, where="post", label="rover->relay")
        axs[0].step(d, tl["ground_rate_bps"] / 1e4, where="post", label="relay->ground (x10 Mbit/s)")
        axs[0].set_ylabel("rate (kbit/s)")
        axs[0].legend(fontsize=8)
        axs[1].plot(d, tl["relay_buffer_bits"] / 8e6, label="relay buffer")
        axs[1].plot(d, tl["lander_backlog_bits"] / 8e6, label="lander backlog")
        axs[1].plot(d, tl["rover_backlog_bits"] / 8e6, label="rover backlog")
        axs[1].set_ylabel("MB")
        axs[1].legend(fontsize=8)
        ok = p.status == "delivered"
        for src, mk in (("lander", "o"), ("rover", "s")):
            sel = ok & (p.source == src)
            axs[2].semilogy(p.loc[sel, "t_on_ground_s"] / 86400, p.loc[sel, "latency_s"].clip(lower=1) / 60, mk, ms=3, label=src)
        axs[2].set_ylabel("latency (min)")
        axs[2].set_xlabel("days since epoch (delivery time)")
        axs[2].legend(fontsize=8)
        fig.suptitle("Downlink timeline: link rates, buffers, product deliveries")
        ctx.report.add_figure("Downlink timeline", fig, section=title)
        big = p[~p.name.str.contains("/housekeeping/")]
        if len(big):
            show = big[["name", "source", "priority", "size_bits", "t_created_s", "t_on_ground_s", "latency_s", "status"]].head(60)
            ctx.report.add_table("Products (excluding housekeeping)", show, section=title)
        ctx.report.add_table("Downlink statistics", pd.DataFrame([{"quantity": k, "value": v} for k, v in stats.items()]), section=title)


def _duration(seconds: float) -> str:
    """A latency for the report: seconds below two minutes, minutes below two hours, else hours."""
    if seconds < 120.0:
        return f"{seconds:.1f} s"
    if seconds < 7200.0:
        return f"{seconds / 60.0:.1f} min"
    return f"{seconds / 3600.0:.1f} h"
