"""The relay as a service during a run: when a product reaches Earth, when a command reaches the surface.

:class:`farside.comms.DownlinkQueue` simulates every product of a run at its end; a rover driven
from the ground needs answers *during* the run: its stereo images go down through Queqiao, the
next drive is planned on Earth and the commands come back up. :class:`LinkService` answers both
on the relay's contact plan (:func:`farside.comms.contact_plan`):

* **downlink** (:meth:`LinkService.downlink_arrival_s`): source -> relay at the plan's rover (or
  lander) rate while the site sees the relay, then relay -> Earth at the plan's ground rate while a
  station sees the relay (store and forward: the second hop starts when the whole product is at the
  relay -- later than the queue's bit streaming by at most the size over the ground rate, 4 s for
  8 Mbit at 2 Mbit/s),
  plus the light time of both hops;
* **uplink** (:meth:`LinkService.uplink_arrival_s`): Earth -> relay at ``uplink_bps`` while a
  station sees the relay, then relay -> surface at ``forward_bps`` while the site sees the relay,
  plus the light time. Queqiao's published rates: 1000 bit/s uplink from Earth and 125 bit/s
  forward to the rover and lander (Zhang 2021, REFERENCE.md "Queqiao TT&C").

The rates between plan samples are held (piecewise constant over each plan step, as in
:class:`~farside.comms.DownlinkQueue`). The service gives a product the link to itself (the
highest priority): navigation images and commands are small and go first; the run's other
traffic is simulated afterwards by the queue, which also carries these products (they are
enqueued there with priority 0). A time beyond the plan's end answers ``inf``.
"""

from __future__ import annotations

import math

import numpy as np

from farside.comms.contact import ContactPlan
from farside.errors import invalid

__all__ = ["LinkService", "QUEQIAO_UPLINK_BPS", "QUEQIAO_FORWARD_BPS"]

#: Earth -> Queqiao telecommand rate, bit/s (Zhang 2021, REFERENCE.md: "1000 bit/s uplink")
QUEQIAO_UPLINK_BPS = 1000.0
#: Queqiao -> rover/lander forward-link rate, bit/s (Zhang 2021, REFERENCE.md: "forward: 125 bit/s")
QUEQIAO_FORWARD_BPS = 125.0
_C = 299_792_458.0


class LinkService:
    """Answers of the relay link during a run (module docstring).

    Parameters
    ----------
    plan : ContactPlan
        The relay's contact plan (regular time grid, mission seconds).
    uplink_bps, forward_bps : float
        Earth -> relay and relay -> surface command rates, bit/s (defaults: Queqiao's published
        1000 and 125 bit/s).
    """

    def __init__(self, plan: ContactPlan, *, uplink_bps: float = QUEQIAO_UPLINK_BPS,
                 forward_bps: float = QUEQIAO_FORWARD_BPS) -> None:
        if not isinstance(plan, ContactPlan):
            raise invalid("plan", type(plan).__name__, "a farside.comms.ContactPlan")
        if plan.t_s.size < 2:
            raise invalid("plan.t_s", plan.t_s.size, "a contact plan of at least two samples")
        for name, v in (("uplink_bps", uplink_bps), ("forward_bps", forward_bps)):
            if not (math.isfinite(float(v)) and float(v) > 0):
                raise invalid(name, v, "a rate > 0 bit/s")
        self.plan = plan
        self.uplink_bps = float(uplink_bps)
        self.forward_bps = float(forward_bps)
        self._t0 = float(plan.t_s[0])
        self._dt = plan.step_s
        ground_up = plan.ground_station >= 0
        site_up = np.asarray(plan.site_visible, bool)
        self._rates = {
            "rover": np.where(site_up, plan.rover_rate_bps, 0.0).astype(float),
            "lander": np.where(site_up, plan.lander_rate_bps, 0.0).astype(float),
            "ground": np.where(ground_up, plan.ground_rate_bps, 0.0).astype(float),
            "uplink": np.where(ground_up, self.uplink_bps, 0.0),
            "forward": np.where(site_up, self.forward_bps, 0.0),
        }
        rng_g = np.where(ground_up[:, None] & plan.station_visible, plan.station_range_m, np.inf).min(axis=1) \
            if plan.station_range_m.ndim == 2 and plan.station_range_m.shape[1] else np.full(plan.t_s.size, np.inf)
        self._light_site_s = np.asarray(plan.relay_range_m, float) / _C
        self._light_ground_s = np.where(np.isfinite(rng_g), rng_g, 4.5e8) / _C

    @property
    def end_s(self) -> float:
        """The last instant the plan covers (mission seconds)."""
        return self._t0 + self._dt * self.plan.t_s.size

    def _index(self, t: float) -> int:
        return int(min(max((t - self._t0) // self._dt, 0), self.plan.t_s.size - 1))

    def _transfer(self, rate: np.ndarray, t_start: float, bits: float) -> float:
        """When ``bits`` have crossed a hop of piecewise-constant ``rate`` starting at ``t_start``."""
        if t_start >= self.end_s:
            return math.inf
        t_start = max(t_start, self._t0)
        k0 = self._index(t_start)
        edge = self._t0 + (k0 + 1) * self._dt
        first = rate[k0] * (edge - t_start)
        if first >= bits:
            return t_start + bits / rate[k0]
        need = bits - first
        cum = np.cumsum(rate[k0 + 1:] * self._dt)
        j = int(np.searchsorted(cum, need, side="left"))
        if j >= cum.size:
            return math.inf
        before = cum[j - 1] if j > 0 else 0.0
        k = k0 + 1 + j
        return self._t0 + k * self._dt + (need - before) / rate[k]

    def downlink_arrival_s(self, t_ready_s: float, size_bits: float, *, source: str = "rover") -> float:
        """Mission time at which a product of ``size_bits`` ready on ``source`` ("rover" or
        "lander") at ``t_ready_s`` is on the ground (``inf`` beyond the plan)."""
        t, bits = self._check(t_ready_s, size_bits)
        if source not in ("rover", "lander"):
            raise invalid("source", source, "'rover' or 'lander'")
        t_relay = self._transfer(self._rates[source], t, bits)
        if not math.isfinite(t_relay):
            return math.inf
        t_relay += self._light_site_s[self._index(t_relay)]
        t_ground = self._transfer(self._rates["ground"], t_relay, bits)
        if not math.isfinite(t_ground):
            return math.inf
        return t_ground + self._light_ground_s[self._index(t_ground)]

    def uplink_arrival_s(self, t_ready_s: float, size_bits: float) -> float:
        """Mission time at which a command of ``size_bits`` sent from Earth at ``t_ready_s`` is on
        the surface (``inf`` beyond the plan)."""
        t, bits = self._check(t_ready_s, size_bits)
        t_relay = self._transfer(self._rates["uplink"], t, bits)
        if not math.isfinite(t_relay):
            return math.inf
        t_relay += self._light_ground_s[self._index(t_relay)]
        t_site = self._transfer(self._rates["forward"], t_relay, bits)
        if not math.isfinite(t_site):
            return math.inf
        return t_site + self._light_site_s[self._index(t_site)]

    @staticmethod
    def _check(t_ready_s, size_bits) -> tuple[float, float]:
        t = float(t_ready_s)
        if not math.isfinite(t):
            raise invalid("t_ready_s", t_ready_s, "a finite mission time in seconds")
        bits = float(size_bits)
        if not (math.isfinite(bits) and bits > 0):
            raise invalid("size_bits", size_bits, "a finite size > 0 bits")
        return t, bits
