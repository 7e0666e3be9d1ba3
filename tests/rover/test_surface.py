"""The rover's surface mission (farside.rover.simulate_surface) on hand-made sites.

The sites are built here with known hazards (a 0.30 m rock on the route, a 25 deg ramp of
ground across it), so what the driver must do is known without the code: never drive a step
whose obstacle is above Yutu-2's published 0.20 m or whose slope is above its 20 deg
(docs/references.md 3).
"""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG
from farside.errors import FarsideError
from farside.rover import YUTU2, SunTrack, SurfacePlan, Waypoint, WheelFault, simulate_surface
from farside.terrain import Terrain
from farside.terrain.generate import Site

EPOCH = "2019-01-03T02:26:00Z"
EGRESS_S = 11.9 * 3600.0          # 2019-01-03 14:20 UTC: the Sun is ~20 deg up, before the noon nap


def _sun(t0: float, t1: float) -> SunTrack:
    from farside.ephemeris import body_altaz, seconds_to_utc, sun_direction_enu

    t = np.arange(t0 - 3600.0, t1 + 7200.0, 1800.0)
    utc = seconds_to_utc(EPOCH, t)
    _, _, d = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, utc)
    return SunTrack(t_s=t, enu=sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, utc), distance_au=d / 1.495978707e11)


def _site(heights: np.ndarray | None = None, rocks: list[tuple[float, float, float, float]] = ()) -> Site:
    n, res = 240, 0.5                                   # 120 m square, centred on the lander
    h = np.zeros((n, n), np.float32) if heights is None else heights.astype(np.float32)
    ter = Terrain(h, res, x0_m=-n * res / 2, y0_m=n * res / 2, anchor_lat_deg=CE4_LAT_DEG, anchor_lon_deg=CE4_LON_DEG)
    rk = pd.DataFrame(list(rocks), columns=["x_m", "y_m", "diameter_m", "height_m"])
    rk["source"] = "test"
    return Site(terrain=ter, craters=pd.DataFrame(columns=["x_m", "y_m", "diameter_m"]), rocks=rk)


TOUCHDOWN = SimpleNamespace(enu_m=(0.0, 0.0, 0.0))


def _run(site, waypoints, *, hours=6.0, faults=(), seed=1, **kw):
    plan = SurfacePlan(egress_s=EGRESS_S, end_s=EGRESS_S + hours * 3600.0, waypoints=tuple(waypoints),
                       faults=tuple(faults), lander_heading_deg=90.0, **kw)
    return simulate_surface(site, plan, rover=YUTU2, touchdown=TOUCHDOWN, sun=_sun(plan.egress_s, plan.end_s),
                            rng=np.random.default_rng(seed))


def test_flat_route_reaches_every_waypoint():
    """On flat ground with no rocks the rover reaches each waypoint; the distance driven is the
    ramp plus the straight legs (within a step); speed never exceeds 200 m/h."""
    wps = [Waypoint(10.0, 0.0, 600.0, "A"), Waypoint(10.0, 12.0, 0.0, "B")]
    res = _run(_site(), wps)
    ev = res.events
    assert list(ev[ev["event"] == "arrived"]["detail"]) == ["A", "B"]
    foot = np.asarray(res.egress.foot_xy_m)
    top = np.asarray(res.egress.top_xy_m)
    expect = np.hypot(*(foot - top)) + math.hypot(10 - foot[0], -foot[1]) + 12.0
    assert res.summary["distance_m"] == pytest.approx(expect, abs=0.3)
    assert res.summary["max_speed_mps"] <= YUTU2.max_speed_mps + 1e-12
    d = res.drive_steps
    assert np.all(np.hypot(d["x_m"], d["y_m"]) >= 3.0 - 1e-9)          # the lander keep-out
    final = res.traverse.iloc[-1]
    assert math.hypot(final.x_m - 10.0, final.y_m - 12.0) < 0.05


def test_tall_rock_on_route_is_detoured_never_driven():
    """A rock 0.30 m high (above the 0.20 m limit) sits on the straight leg: the driver detours
    around it; no drive step has a wheel on an obstacle above 0.20 m."""
    rock = (12.0, 0.0, 0.6, 0.30)
    res = _run(_site(rocks=[rock]), [Waypoint(20.0, 0.0, 0.0, "goal")])
    ev = res.events
    assert (ev["event"] == "detour").sum() >= 1
    assert "goal" in list(ev[ev["event"] == "arrived"]["detail"])
    d = res.drive_steps
    assert d["obstacle_m"].max() <= 0.20
    assert res.summary["max_obstacle_m"] <= 0.20


def test_tall_rock_with_no_detour_is_refused():
    """With detours forbidden the same leg is refused, with the reason, and not driven past the rock."""
    rock = (12.0, 0.0, 0.6, 0.30)
    res = _run(_site(rocks=[rock]), [Waypoint(20.0, 0.0, 0.0, "goal")], detour_max_m=0.0)
    ev = res.events
    refused = ev[ev["event"] == "segment refused"]
    assert len(refused) == 1 and "obstacle" in refused["detail"].iloc[0]
    assert "goal" not in list(ev[ev["event"] == "arrived"]["detail"])
    assert res.drive_steps["x_m"].max() < 12.0 - 0.3


def test_25_degree_segment_is_refused():
    """A 25 deg ramp of ground (rising to the east from x = 8 m, wider than any detour) is above the
    20 deg limit: the rover stops before it; no drive step is steeper than 20 deg."""
    n, res_m = 240, 0.5
    x = -n * res_m / 2 + (np.arange(n) + 0.5) * res_m
    h = np.tile(np.clip(x - 8.0, 0.0, None) * math.tan(math.radians(25.0)), (n, 1))
    res = _run(_site(heights=h), [Waypoint(20.0, 0.0, 0.0, "up the wall")])
    ev = res.events
    refused = ev[ev["event"] == "segment refused"]
    assert len(refused) == 1 and "slope" in refused["detail"].iloc[0]
    assert res.drive_steps["pitch_deg"].abs().max() <= 20.0
    assert res.drive_steps["x_m"].max() < 9.0


def test_locked_wheel_fault_costs_speed_and_is_reported():
    """A locked rear wheel from 0.5 h after egress: the fault is an event, the wheel's column says
    'locked' from then on, and the rover still arrives (a trailing locked wheel is dragged), at a
    higher slip than the nominal steps before it."""
    wps = [Waypoint(12.0, 0.0, 3600.0, "A"), Waypoint(24.0, 0.0, 0.0, "B")]
    res = _run(_site(), wps, faults=[WheelFault(EGRESS_S + 1800.0, 2, "locked")])
    ev = res.events
    assert (ev["event"] == "wheel fault").sum() == 1
    d = res.drive_steps
    before = d[d["t_s"] < EGRESS_S + 1800.0]
    after = d[d["t_s"] > EGRESS_S + 1800.0]
    assert len(after) and (after["fault_2"] == "locked").all() and (before["fault_2"] == "nominal").all()
    assert after["slip_0"].mean() > before.iloc[1:]["slip_0"].mean() + 0.02
    assert "B" in list(ev[ev["event"] == "arrived"]["detail"])


def test_same_seed_byte_identical_traverse():
    """Same site, plan and seed: byte-identical traverse.parquet (random wheel failures on)."""
    site = _site(rocks=[(12.0, 0.5, 0.4, 0.15)])
    wps = [Waypoint(20.0, 0.0, 0.0, "goal")]
    blobs = []
    for _ in range(2):
        res = _run(site, wps, failure_rate_per_km=200.0, seed=7)
        buf = io.BytesIO()
        res.traverse.to_parquet(buf, index=False)
        blobs.append(buf.getvalue())
    assert blobs[0] == blobs[1]
    other = _run(site, wps, failure_rate_per_km=200.0, seed=8)
    assert not other.traverse.equals(res.traverse)


@pytest.mark.parametrize("kw, name", [
    ({"speed_mps": -0.01}, "speed_mps"),
    ({"step_m": float("nan")}, "step_m"),
    ({"end_s": EGRESS_S - 1.0}, "end_s"),
])
def test_bad_plan_one_line(kw, name):
    args = {"egress_s": EGRESS_S, "end_s": EGRESS_S + 3600.0} | kw
    with pytest.raises(FarsideError) as e:
        SurfacePlan(**args)
    assert str(e.value).startswith(name) and "\n" not in str(e.value)


@pytest.mark.parametrize("wheel, kind, name", [(6, "locked", "wheel"), (1, "broken", "kind"), (-1, "free", "wheel")])
def test_bad_fault_one_line(wheel, kind, name):
    with pytest.raises(FarsideError) as e:
        WheelFault(EGRESS_S, wheel, kind)
    assert str(e.value).startswith(f"{name} = ") and "\n" not in str(e.value)


def test_waypoint_outside_site_one_line():
    with pytest.raises(FarsideError, match=r"^waypoints\[0\] = .* is invalid: a point inside the site DEM"):
        _run(_site(), [Waypoint(500.0, 0.0)])


def test_energy_balance_closes_over_the_timeline():
    """Over a day of the surface mission (egress, two drives, a long stop) the stored energy changes
    by array - served load - charge and discharge losses - curtailed energy, each loss from the
    declared efficiencies (docs/rover.md), to 1 % of the energy the loads used; the loads are the
    declared avionics/payload/comms powers plus the drive steps' electrical power."""
    wps = [Waypoint(12.0, 0.0, 6 * 3600.0, "A"), Waypoint(12.0, 15.0, 0.0, "B")]
    res = _run(_site(), wps, hours=30.0)
    b = res.power.energy_budget_wh()
    residual = b["delta_stored"] - (b["array"] - b["load_served"] - b["charge_loss"] - b["discharge_loss"] - b["curtailed"])
    assert abs(residual) < 0.01 * b["load_served"]
    t = res.traverse["t_s"].to_numpy(float)
    drive_wh = float(np.sum(res.traverse["drive_power_w"].to_numpy(float)[:-1] * np.diff(t)) / 3600.0)
    assert drive_wh == pytest.approx(res.summary["drive_energy_wh"] + res.summary["turn_energy_wh"], rel=0.02)
    assert b["load_served"] > drive_wh > 0
