"""Solar array, battery and loads (farside.rover.power).

References: docs/references.md 7.8 (1361 W/m^2 at 1 au, Kopp & Lean 2011), 3 (Yutu-2; its array and
battery are UNCONFIRMED, the values in farside.rover.vehicle are parameters).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG, MOON_SYNODIC_DAY_S
from farside.ephemeris import body_altaz, seconds_to_utc, sun_direction_enu, utc_to_seconds
from farside.errors import FarsideError
from farside.rover import YUTU2, PowerTrace, plan_modes, simulate_power
from farside.rover import power as pw
from farside.rover.thermal import STEFAN_BOLTZMANN

AU_M = 1.495978707e11
EPOCH = "2019-01-03T02:26:00Z"
S0 = 1361.0


def _synthetic_sun(lat_deg: float, t_s: np.ndarray, decl_deg: float = 0.0) -> np.ndarray:
    """Sun at declination ``decl_deg`` from latitude ``lat_deg``; hour angle 0 (noon) at t = 0."""
    h = 2.0 * np.pi * t_s / MOON_SYNODIC_DAY_S
    phi, dec = math.radians(lat_deg), math.radians(decl_deg)
    up = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * np.cos(h)
    north = math.cos(phi) * math.sin(dec) - math.sin(phi) * math.cos(dec) * np.cos(h)
    east = -math.cos(dec) * np.sin(h)
    return np.stack([east, north, up], axis=1)


def test_array_at_normal_incidence_unit_check():
    """Unit check: Sun at the zenith, horizontal panel, cells at the reference 28 C, 1 au:
    P = A eta S0 = 1.5 m^2 x 0.28 x 1361 W/m^2 = 571.6 W."""
    trace = simulate_power(np.array([0.0, 60.0]), np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), rover=YUTU2,
                           mode="awake", cell_temperature_k=pw.CELL_REFERENCE_K)
    assert trace.array_w[0] == pytest.approx(YUTU2.solar_area_m2 * YUTU2.solar_efficiency * S0, rel=1e-12)
    assert trace.array_w[0] == pytest.approx(571.62, abs=0.01)


def test_horizontal_panel_lunar_day_insolation_analytic(report_measured):
    """Integrated output of a horizontal panel over one synodic period at the CE-4 latitude with
    the Sun at zero declination, against the analytic integral of cos(zenith) =
    cos(lat) cos(h) over the day: E = A eta S0 cos(lat) P / pi (fixed cell temperature, 1 au).
    Left-endpoint sums with 10-min steps over 2.55e6 s: within 0.05 %."""
    t = np.arange(0.0, MOON_SYNODIC_DAY_S, 600.0)
    t = np.append(t, MOON_SYNODIC_DAY_S)
    sun = _synthetic_sun(CE4_LAT_DEG, t)
    trace = simulate_power(t, sun, rover=YUTU2, mode="awake", cell_temperature_k=pw.CELL_REFERENCE_K)
    e_num = trace.energy_array_wh
    e_ana = (YUTU2.solar_area_m2 * YUTU2.solar_efficiency * S0 * math.cos(math.radians(CE4_LAT_DEG))
             * MOON_SYNODIC_DAY_S / math.pi / 3600.0)
    report_measured(f"power synthetic lunar day: {e_num:.1f} Wh vs analytic {e_ana:.1f} Wh "
                    f"({100 * (e_num / e_ana - 1):+.3f} %)")
    assert e_num == pytest.approx(e_ana, rel=5e-4)


def test_ce4_lunar_day_insolation_against_analytic_with_declination(report_measured):
    """The real Sun at the CE-4 site over one lunation (sunrise 2018-12-30 to sunrise 2019-01-28,
    farside.ephemeris) against the analytic daily insolation for a constant declination d and
    distance r: E = A eta S0/r^2 (P/pi) [h0 sin(lat) sin(d) + cos(lat) cos(d) sin(h0)],
    cos(h0) = -tan(lat) tan(d), with d and r the lunation means and P the observed sunrise-to-
    sunrise time. Within 1 % (d and r vary over the lunation; the formula holds them fixed)."""
    t0 = utc_to_seconds(EPOCH, ["2018-12-29T12:00:00Z"])[0]
    t = t0 + np.arange(0.0, 31 * 86400.0, 600.0)
    utc = seconds_to_utc(EPOCH, t, places=0)
    alt, _, dist = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, utc)
    sun = sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, utc)
    rises = np.nonzero((alt[:-1] <= 0.0) & (alt[1:] > 0.0))[0]
    assert len(rises) == 2
    i0, i1 = rises[0] + 1, rises[1] + 1
    tt, ss, rr = t[i0:i1 + 1], sun[i0:i1 + 1], dist[i0:i1 + 1] / AU_M
    trace = simulate_power(tt, ss, rover=YUTU2, mode="awake", sun_distance_au=rr,
                           cell_temperature_k=pw.CELL_REFERENCE_K)
    lat = math.radians(CE4_LAT_DEG)
    pole = np.array([0.0, math.cos(lat), math.sin(lat)])          # the Moon's spin axis in site ENU
    dec = float(np.mean(np.arcsin(ss @ pole)))
    r = float(np.mean(rr))
    period = tt[-1] - tt[0]
    h0 = math.acos(-math.tan(lat) * math.tan(dec))
    e_ana = (YUTU2.solar_area_m2 * YUTU2.solar_efficiency * S0 / r ** 2 * period / math.pi
             * (h0 * math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.sin(h0)) / 3600.0)
    report_measured(f"power CE-4 lunation: declination {math.degrees(dec):+.2f} deg, r {r:.4f} au, "
                    f"{trace.energy_array_wh:.0f} Wh vs analytic {e_ana:.0f} Wh "
                    f"({100 * (trace.energy_array_wh / e_ana - 1):+.2f} %)")
    assert trace.energy_array_wh == pytest.approx(e_ana, rel=0.01)


def test_energy_balance_closes_over_a_lunar_day(report_measured):
    """A whole lunation at the CE-4 site with irregular steps, driving, the nap and the night, a
    5 W sleep load (so the battery drains to empty before dawn) and a full battery curtailing the
    array by day. Over the lunation and over every sub-interval, the change of stored energy
    equals the integrals of array - served load - losses - curtailed, with the losses recomputed
    here from the rover's declared efficiencies and the battery terminal power (not the trace's
    loss fields): to 1 % of the energy throughput (it closes to rounding)."""
    t0 = utc_to_seconds(EPOCH, ["2019-01-03T14:22:00Z"])[0]
    rng = np.random.default_rng(7)
    steps = rng.uniform(60.0, 1800.0, 2400)
    t = t0 + np.concatenate([[0.0], np.cumsum(steps)])
    t = t[t < t0 + MOON_SYNODIC_DAY_S]
    utc = seconds_to_utc(EPOCH, t, places=3)
    alt, _, dist = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, utc)
    sun = sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, utc)
    modes, _ = plan_modes(t, alt)
    modes = modes.astype("<U5")
    drive = (modes == "awake") & (rng.uniform(size=t.size) < 0.3)
    modes[drive] = "drive"
    drive_w = np.where(drive, rng.uniform(40.0, 120.0, t.size), 0.0)
    rover = dataclasses.replace(YUTU2, battery_wh=400.0)
    tr = simulate_power(t, sun, rover=rover, mode=modes, drive_power_w=drive_w, soc0=0.6, sun_distance_au=dist / AU_M,
                        sleep_w=5.0)
    assert isinstance(tr, PowerTrace)
    assert tr.soc.min() == 0.0 and tr.soc.max() == 1.0
    assert tr.unserved_w.max() > 0.0 and tr.curtailed_w.max() > 0.0
    dt = np.diff(t)
    p_charge = np.maximum(tr.battery_w, 0.0)
    p_dis = np.maximum(-tr.battery_w, 0.0)
    loss = (1.0 - rover.charge_efficiency) * p_charge + (1.0 / rover.discharge_efficiency - 1.0) * p_dis
    assert np.allclose(loss, tr.charge_loss_w + tr.discharge_loss_w, atol=1e-9)
    flow = (tr.array_w - (tr.load_w - tr.unserved_w) - loss - tr.curtailed_w)[:-1] * dt / 3600.0   # Wh
    stored = tr.soc * rover.battery_wh
    throughput = float(np.sum((tr.array_w + tr.load_w)[:-1] * dt) / 3600.0)
    resid = (stored[-1] - stored[0]) - float(np.sum(flow))
    report_measured(f"power balance over a lunation: residual {resid:.2e} Wh of {throughput:.0f} Wh throughput; "
                    f"unserved {tr.energy_budget_wh()['unserved']:.0f} Wh, curtailed "
                    f"{tr.energy_budget_wh()['curtailed']:.0f} Wh")
    assert abs(resid) <= 0.01 * throughput
    # every sub-interval
    cum = np.concatenate([[0.0], np.cumsum(flow)])
    assert np.max(np.abs((stored - stored[0]) - cum)) <= 1e-6 * throughput
    b = tr.energy_budget_wh()
    assert b["delta_stored"] == pytest.approx(b["array"] - b["load_served"] - b["charge_loss"] - b["discharge_loss"]
                                              - b["curtailed"], abs=1e-6 * throughput)


def test_cell_temperature_balance_against_root_solve():
    """The panel balance solved by the module's fixed-point passes against a direct root solve
    (scipy brentq) of alpha F - P(T)/A + eps_f F_gf sigma Tg^4 + eps_b F_gb sigma Tg^4 =
    (eps_f + eps_b) sigma T^4, with P(T) including the temperature coefficient: within 0.01 K."""
    sun = np.array([[0.0, math.cos(math.radians(50.0)), math.sin(math.radians(50.0))]])
    for panel, tilt in (("horizontal", 0.0), ("tracking", 30.0)):
        p_w, t_cell = pw.array_power(sun, rover=YUTU2, sun_distance_au=0.983, panel=panel, panel_tilt_deg=tilt,
                                     ground_temperature_k=340.0)
        normal = pw.panel_normals(sun, panel=panel, panel_tilt_deg=tilt)[0]
        flux = S0 / 0.983 ** 2 * float(sun[0] @ normal)
        b = math.radians(tilt)
        g_ir = STEFAN_BOLTZMANN * 340.0 ** 4

        def resid(tc: float, flux: float = flux, b: float = b, g_ir: float = g_ir) -> float:
            elec = flux * YUTU2.solar_efficiency * (1 + YUTU2.solar_temp_coeff_per_k * (tc - pw.CELL_REFERENCE_K))
            absorbed = (pw.PANEL_ABSORPTANCE * flux - elec + pw.PANEL_EMISSIVITY_FRONT * 0.5 * (1 - math.cos(b)) * g_ir
                        + pw.PANEL_EMISSIVITY_BACK * 0.5 * (1 + math.cos(b)) * g_ir)
            return absorbed - (pw.PANEL_EMISSIVITY_FRONT + pw.PANEL_EMISSIVITY_BACK) * STEFAN_BOLTZMANN * tc ** 4

        t_ref = brentq(resid, 100.0, 600.0)
        assert t_cell[0] == pytest.approx(t_ref, abs=0.01)
        expect = flux * YUTU2.solar_area_m2 * YUTU2.solar_efficiency * (
            1 + YUTU2.solar_temp_coeff_per_k * (t_ref - pw.CELL_REFERENCE_K))
        assert p_w[0] == pytest.approx(expect, rel=1e-4)


def test_tracking_panel_geometry_and_night():
    """Tracking in azimuth with tilt b towards the Sun: cos(incidence) = sin(elevation + b)
    (the panel normal and the Sun lie in one vertical plane); zero output below the horizon."""
    el = np.radians([5.0, 20.0, 60.0, -2.0])
    az = np.radians([80.0, 200.0, 310.0, 10.0])
    sun = np.column_stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])
    p_w, _ = pw.array_power(sun, rover=YUTU2, panel="tracking", panel_tilt_deg=30.0,
                            cell_temperature_k=pw.CELL_REFERENCE_K)
    ref = YUTU2.solar_area_m2 * YUTU2.solar_efficiency * S0 * np.sin(el + math.radians(30.0))
    assert np.allclose(p_w[:3], ref[:3], rtol=1e-12)
    assert p_w[3] == 0.0


def test_loads_by_mode_and_errors():
    """Loads: awake = avionics + payload + comms; drive adds the caller's drive power; nap =
    rover.nap_w; sleep = 0 W (RHU-heated warm box). Drive power outside drive/turn is refused."""
    t = np.arange(6.0) * 60.0
    sun = np.tile([0.0, 0.0, -1.0], (6, 1))            # night: the loads come from the battery
    modes = np.array(["awake", "drive", "turn", "nap", "sleep", "awake"])
    tr = simulate_power(t, sun, rover=YUTU2, mode=modes, drive_power_w=[0, 50, 30, 0, 0, 0])
    base = YUTU2.avionics_w + pw.PAYLOAD_W + pw.COMMS_W
    assert np.allclose(tr.load_w, [base, base + 50, base + 30, YUTU2.nap_w, 0.0, base])
    assert np.all(tr.array_w == 0.0)
    assert np.all(np.diff(tr.soc)[:4] < 0.0)            # awake, drive, turn, nap drain the battery
    assert tr.soc[5] == tr.soc[4]                        # asleep: 0 W
    drained_wh = (tr.soc[0] - tr.soc[4]) * YUTU2.battery_wh
    assert drained_wh == pytest.approx(np.sum(tr.load_w[:4]) * 60.0 / 3600.0 / YUTU2.discharge_efficiency, rel=1e-12)
    with pytest.raises(FarsideError, match="drive_power_w"):
        simulate_power(t, sun, rover=YUTU2, mode="awake", drive_power_w=10.0)
    with pytest.raises(FarsideError, match="mode"):
        simulate_power(t, sun, rover=YUTU2, mode="hover")
    with pytest.raises(FarsideError, match="soc0"):
        simulate_power(t, sun, rover=YUTU2, mode="awake", soc0=1.5)
    with pytest.raises(FarsideError, match="panel"):
        simulate_power(t, sun, rover=YUTU2, mode="awake", panel="sideways")


def test_warm_box_night_budget_by_hand():
    """The warm box's loss is radiation through its blanket: e* sigma A (T_box^4 - f T_ground^4).
    Hand value for the defaults at a 90 K night regolith: 0.02 x 5.670374419e-8 x 3 x
    (253.15^4 - 0.5 x 90^4) = 13.86 W; it falls as the ground warms and changes sign when the
    ground radiates more than the box (f T^4 > T_box^4, i.e. T > 301 K for f = 0.5)."""
    import numpy as np

    from farside.rover.power import WarmBox, warm_box_heat_loss_w

    q = warm_box_heat_loss_w(np.array([90.0, 200.0, 253.15 * 2 ** 0.25, 390.0]))
    assert abs(q[0] - 13.86) < 0.01
    assert q[0] > q[1] > 0 and abs(q[2]) < 1e-9 and q[3] < 0
    assert abs(warm_box_heat_loss_w(np.array([90.0]), WarmBox(emittance=0.01))[0] - q[0] / 2) < 1e-12
