"""The relay as a run-time service (farside.comms.LinkService): analytic transfers on a synthetic
contact plan, and agreement with the batch store-and-forward queue (a second method)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.comms import DEFAULT_STATIONS, ContactPlan, DownlinkQueue, LinkService, QUEQIAO_FORWARD_BPS, QUEQIAO_UPLINK_BPS
from farside.errors import ScenarioError

C = 299_792_458.0
RELAY_M = 7.0e7          # site -> relay range
STATION_M = 4.4e8        # relay -> station range


def _plan(n=200, dt=60.0, site_on=(10, 40), ground_on=(15, 200), rover=1000.0, ground=1.0e5):
    t = np.arange(n) * dt
    k = np.arange(n)
    site = (k >= site_on[0]) & (k < site_on[1])
    gnd = (k >= ground_on[0]) & (k < ground_on[1])
    ns = len(DEFAULT_STATIONS)
    z = np.zeros(n)
    vis = np.zeros((n, ns), bool)
    vis[:, 0] = gnd
    return ContactPlan(t, z + 45, z, z + RELAY_M, z, site, np.where(site, 2 * rover, 0.0), np.where(site, rover, 0.0),
                       np.zeros((n, ns)), np.full((n, ns), STATION_M), vis, np.where(gnd, 0, -1),
                       np.where(gnd, ground, 0.0), DEFAULT_STATIONS)


def test_published_rates():
    """Queqiao: 1000 bit/s uplink from Earth, 125 bit/s forward link to the surface (Zhang 2021)."""
    assert QUEQIAO_UPLINK_BPS == 1000.0 and QUEQIAO_FORWARD_BPS == 125.0


def test_downlink_analytic():
    """30,000 bits ready at 630 s: the rover link (1 kbit/s from 600 s) finishes at 660 s; the
    ground link opens at 900 s and needs 0.3 s, plus the relay -> Earth light time (the site -> relay
    light time is spent waiting for the ground link)."""
    svc = LinkService(_plan())
    t = svc.downlink_arrival_s(630.0, 30_000.0)
    expect = 900.0 + 0.3 + STATION_M / C
    assert t == pytest.approx(expect, abs=1e-6)
    # before the site sees the relay (step 10 = 600 s) nothing moves: ready at 0 -> same bits end at 630 s
    t0 = svc.downlink_arrival_s(0.0, 30_000.0)
    assert t0 == pytest.approx(expect, abs=1e-6)
    # a product spanning steps: 90,000 bits from 630 s -> 30 s + 60 s at 1 kbit/s = 720 s at the relay
    t1 = svc.downlink_arrival_s(630.0, 90_000.0)
    assert t1 == pytest.approx(900.0 + 0.9 + STATION_M / C, abs=1e-6)
    # the ground link already open: both light times add
    t2 = svc.downlink_arrival_s(1200.0, 6_000.0)
    assert t2 == pytest.approx(1206.0 + RELAY_M / C + 0.06 + STATION_M / C, abs=1e-6)


def test_uplink_analytic():
    """5,000 bits sent at 900 s: 5 s at 1000 bit/s to the relay, then 40 s at 125 bit/s to the rover."""
    svc = LinkService(_plan(site_on=(10, 40)))
    t = svc.uplink_arrival_s(900.0, 5_000.0)
    assert t == pytest.approx(900.0 + 5.0 + STATION_M / C + 40.0 + RELAY_M / C, abs=1e-6)
    # the site loses the relay at 2400 s: a command sent at 2390 s waits (beyond the plan here)
    assert math.isinf(svc.uplink_arrival_s(2390.0, 5_000.0))


def test_agrees_with_batch_queue():
    """One product alone in the queue: the batch store-and-forward simulation and the service agree
    on a plan with gaps, up to the light time (the queue has none) and the relay's store-and-forward
    (the service forwards a product once it is whole at the relay: later by at most its size over
    the ground rate; the queue streams bits through within a step)."""
    plan = _plan(n=400, site_on=(5, 300), ground_on=(120, 400), rover=555.0, ground=2.0e6)
    svc = LinkService(plan)
    for t_ready, bits in ((300.0, 1.2e6), (1200.0, 8.0e6), (4000.0, 3.0e5)):
        q = DownlinkQueue()
        q.enqueue("img", bits, t_ready, source="rover")
        p = q.simulate(plan).products
        light = RELAY_M / C + STATION_M / C
        t_svc = svc.downlink_arrival_s(t_ready, bits)
        assert float(p.t_on_ground_s[0]) + light - 1.0 <= t_svc <= float(p.t_on_ground_s[0]) + light + bits / 2.0e6 + 1.0


@pytest.mark.parametrize("kw, frag", [
    (dict(t_ready_s=float("nan"), size_bits=1.0), "t_ready_s"),
    (dict(t_ready_s=0.0, size_bits=0.0), "size_bits"),
    (dict(t_ready_s=0.0, size_bits=1.0, source="orbiter"), "source"),
])
def test_bad_input(kw, frag):
    with pytest.raises(ScenarioError, match=frag):
        LinkService(_plan()).downlink_arrival_s(**kw)
