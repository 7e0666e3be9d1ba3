"""Store-and-forward downlink through the relay.

Products (images, video, payload data) enter a queue at their source (lander or rover) with a
size and a creation time. Each contact-plan step (the plan's grid, typically 60 s) moves bits:

1. source -> relay over the proximity link, at the step's rate when the relay is visible from
   the site, while the relay buffer has room;
2. relay -> Earth at the ground rate when a station sees the relay.

Within each hop products are served in priority order (0 first), then by creation time, then
by enqueue order; a product may be split across steps and hops (bits stream through). A product
is *dropped* when its source store (capacity per source, ASSUMED below) cannot hold it when it
is created; a product still in transit at the end of the plan is reported as *undelivered*.
Capacities (ASSUMED; unpublished): lander store 32 Gbit, rover store 4 Gbit, Queqiao relay
buffer 8 Gbit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.comms import _kernels
from farside.comms.contact import ContactPlan
from farside.errors import invalid

__all__ = ["DownlinkQueue", "DownlinkResult", "SOURCES"]

SOURCES = ("lander", "rover")
DEFAULT_STORE_BITS = {"lander": 32e9, "rover": 4e9}
DEFAULT_RELAY_BUFFER_BITS = 8e9


@dataclass(frozen=True, eq=False)
class DownlinkResult:
    """Outcome of a store-and-forward simulation.

    ``products`` is a DataFrame (name, source, priority, size_bits, t_created_s, t_at_relay_s,
    t_on_ground_s, latency_s, status in {"delivered", "undelivered", "dropped"}); ``timeline`` a
    DataFrame per plan step (t_s, relay_buffer_bits, <source>_backlog_bits, site/ground link
    rates).
    """

    products: object
    timeline: object

    def stats(self) -> dict[str, float]:
        p = self.products
        lat = p.loc[p.status == "delivered", "latency_s"].to_numpy()
        out = {
            "n_products": int(len(p)),
            "n_delivered": int((p.status == "delivered").sum()),
            "n_undelivered": int((p.status == "undelivered").sum()),
            "n_dropped": int((p.status == "dropped").sum()),
            "bits_delivered": float(p.loc[p.status == "delivered", "size_bits"].sum()),
            "max_relay_buffer_bits": float(self.timeline["relay_buffer_bits"].max()),
        }
        if lat.size:
            out.update({"latency_min_s": float(lat.min()), "latency_median_s": float(np.median(lat)),
                        "latency_p90_s": float(np.percentile(lat, 90)), "latency_max_s": float(lat.max()),
                        "latency_mean_s": float(lat.mean())})
        return out


class DownlinkQueue:
    """Products waiting to reach Earth. Later stages call :meth:`enqueue`; the downlink stage
    calls :meth:`simulate` with the contact plan."""

    def __init__(self) -> None:
        self._items: list[tuple[str, float, float, str, int]] = []

    def __len__(self) -> int:
        return len(self._items)

    def enqueue(self, name: str, size_bits: float, t_created_s: float, *, source: str = "lander",
                priority: int = 5) -> None:
        """Queue a product of ``size_bits`` created at mission time ``t_created_s`` on ``source``
        (``"lander"`` or ``"rover"``); ``priority`` 0 (first) .. 9."""
        if not isinstance(name, str) or not name:
            raise invalid("name", name, "a non-empty product name")
        size = float(size_bits)
        if not (math.isfinite(size) and size > 0):
            raise invalid("size_bits", size_bits, "a finite size > 0 bits")
        t = float(t_created_s)
        if not math.isfinite(t):
            raise invalid("t_created_s", t_created_s, "a finite mission time in seconds")
        if source not in SOURCES:
            raise invalid("source", source, f"one of {SOURCES}")
        if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)) or not 0 <= priority <= 9:
            raise invalid("priority", priority, "an integer 0 (first) .. 9")
        self._items.append((name, size, t, source, int(priority)))

    def items(self) -> list[tuple[str, float, float, str, int]]:
        return list(self._items)

    def simulate(self, plan: ContactPlan, *, store_bits: dict[str, float] | None = None,
                 relay_buffer_bits: float = DEFAULT_RELAY_BUFFER_BITS) -> DownlinkResult:
        """Run the store-and-forward simulation over ``plan``'s time grid."""
        import pandas as pd

        if not isinstance(plan, ContactPlan):
            raise invalid("plan", type(plan).__name__, "a farside.comms.ContactPlan")
        stores = dict(DEFAULT_STORE_BITS)
        if store_bits:
            for k, v in store_bits.items():
                if k not in SOURCES or not (math.isfinite(v) and v > 0):
                    raise invalid(f"store_bits[{k!r}]", v, f"a capacity > 0 bits for a source in {SOURCES}")
                stores[k] = float(v)
        if not (math.isfinite(relay_buffer_bits) and relay_buffer_bits > 0):
            raise invalid("relay_buffer_bits", relay_buffer_bits, "a capacity > 0 bits")
        dt = plan.step_s
        n = len(self._items)
        names = [it[0] for it in self._items]
        size = np.array([it[1] for it in self._items], dtype=float)
        tc = np.array([it[2] for it in self._items], dtype=float)
        src = np.array([SOURCES.index(it[3]) for it in self._items], dtype=np.int64)
        prio = np.array([it[4] for it in self._items], dtype=np.int64)
        order = np.lexsort((np.arange(n), tc, prio)).astype(np.int64) if n else np.zeros(0, np.int64)
        cap_src = np.vstack([plan.lander_rate_bps * dt, plan.rover_rate_bps * dt])
        cap_gnd = plan.ground_rate_bps * dt
        t0 = float(plan.t_s[0])
        t_relay, t_ground, dropped, relay_occ, src_occ = _kernels.store_and_forward(
            tc, size, src, order, cap_src, cap_gnd, dt, t0,
            np.array([stores[s] for s in SOURCES]), float(relay_buffer_bits))
        status = np.where(dropped, "dropped", np.where(np.isnan(t_ground), "undelivered", "delivered"))
        products = pd.DataFrame({
            "name": names, "source": [SOURCES[i] for i in src], "priority": prio, "size_bits": size,
            "t_created_s": tc, "t_at_relay_s": t_relay, "t_on_ground_s": t_ground,
            "latency_s": t_ground - tc, "status": status,
        })
        timeline = pd.DataFrame({
            "t_s": plan.t_s, "relay_buffer_bits": relay_occ,
            "lander_backlog_bits": src_occ[0], "rover_backlog_bits": src_occ[1],
            "lander_rate_bps": plan.lander_rate_bps, "rover_rate_bps": plan.rover_rate_bps,
            "ground_rate_bps": plan.ground_rate_bps,
        })
        return DownlinkResult(products, timeline)
