"""Store-and-forward downlink against hand-computed queues."""

from __future__ import annotations

import numpy as np
import pytest

from farside.comms import DEFAULT_STATIONS, ContactPlan, DownlinkQueue
from farside.errors import ScenarioError


def _plan(n=200, dt=60.0, lander=1000.0, rover=500.0, ground=1e6, ground_off=()):
    t = np.arange(n) * dt
    g = np.full(n, ground)
    for a, b in ground_off:
        g[(t >= a) & (t < b)] = 0.0
    z = np.zeros(n)
    ns = len(DEFAULT_STATIONS)
    return ContactPlan(t, z + 45, z, z + 6e7, z, np.ones(n, bool), np.full(n, lander), np.full(n, rover),
                       np.zeros((n, ns)), np.zeros((n, ns)), np.zeros((n, ns), bool),
                       np.where(g > 0, 0, -1), g, DEFAULT_STATIONS)


def test_single_product_streams_through():
    """600,000 bits at 1 kbit/s take 600 s to reach the relay; the 1 Mbit/s ground link forwards
    each step's bits in the same step, so the product is on the ground at 600 s."""
    q = DownlinkQueue()
    q.enqueue("img", 600_000, 0.0, source="lander")
    p = q.simulate(_plan()).products
    assert p.t_at_relay_s[0] == pytest.approx(600.0)
    assert p.t_on_ground_s[0] == pytest.approx(600.0)
    assert p.status[0] == "delivered"


def test_ground_gap_delays_delivery():
    """With the ground link down for the first hour the product waits at the relay and needs
    600,000 / 1e6 = 0.6 s after the link returns at 3600 s."""
    q = DownlinkQueue()
    q.enqueue("img", 600_000, 0.0, source="lander")
    res = q.simulate(_plan(ground_off=[(0.0, 3600.0)]))
    assert res.products.t_on_ground_s[0] == pytest.approx(3600.6)
    tl = res.timeline
    assert tl.relay_buffer_bits.max() == pytest.approx(600_000)


def test_priority_and_parallel_sources():
    """Priority 0 goes first on the shared lander link; the rover has its own link."""
    q = DownlinkQueue()
    q.enqueue("low", 60_000, 0.0, source="lander", priority=5)
    q.enqueue("high", 60_000, 0.0, source="lander", priority=0)
    q.enqueue("rov", 30_000, 0.0, source="rover", priority=9)
    p = q.simulate(_plan()).products.set_index("name")
    assert p.loc["high", "t_on_ground_s"] == pytest.approx(60.0)
    assert p.loc["low", "t_on_ground_s"] == pytest.approx(120.0)
    assert p.loc["rov", "t_on_ground_s"] == pytest.approx(60.0)


def test_drops_and_undelivered():
    q = DownlinkQueue()
    q.enqueue("too-big", 5e9, 0.0, source="rover")  # rover store 4 Gbit (assumed)
    q.enqueue("late", 1e9, 60.0, source="lander")  # 1 Gbit at 1 kbit/s cannot finish in 200 min
    res = q.simulate(_plan())
    s = res.products.set_index("name").status
    assert s["too-big"] == "dropped" and s["late"] == "undelivered"
    st = res.stats()
    assert st["n_dropped"] == 1 and st["n_undelivered"] == 1 and st["n_delivered"] == 0


def test_relay_buffer_limits_flow():
    """A 100 kbit relay buffer with the ground link down: the proximity hop stalls when full."""
    q = DownlinkQueue()
    q.enqueue("a", 600_000, 0.0)
    res = q.simulate(_plan(ground_off=[(0.0, 1200.0)]), relay_buffer_bits=100_000)
    assert res.timeline.relay_buffer_bits.max() <= 100_000 + 1e-6
    assert res.products.status[0] == "delivered"
    assert res.products.t_on_ground_s[0] > 1200.0


def test_deterministic():
    def run():
        q = DownlinkQueue()
        rng = np.random.default_rng(3)
        for k in range(50):
            q.enqueue(f"p{k}", float(rng.uniform(1e4, 1e6)), float(rng.uniform(0, 5000)),
                      source=["lander", "rover"][k % 2], priority=int(rng.integers(0, 10)))
        return q.simulate(_plan(n=400, ground_off=[(2000.0, 4000.0)])).products
    a, b = run(), run()
    assert a.equals(b)


def test_bad_enqueue():
    q = DownlinkQueue()
    with pytest.raises(ScenarioError, match="size_bits"):
        q.enqueue("x", -1, 0.0)
    with pytest.raises(ScenarioError, match="source"):
        q.enqueue("x", 1, 0.0, source="orbiter")
    with pytest.raises(ScenarioError, match="priority"):
        q.enqueue("x", 1, 0.0, priority=11)
    with pytest.raises(ScenarioError, match="t_created_s"):
        q.enqueue("x", 1, float("nan"))
