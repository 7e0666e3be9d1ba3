"""Tests of the steady-state drive of the rocker-bogie rover (farside.rover.drive).

Checked against: the lever rule of the rocker-bogie on level ground; rigid-body equilibrium of the
whole rover (forces and pitch moment, independent of how the linkage shares the load); energy
(motor power >= power spent lifting the rover); the single-wheel model at equal loads (the drive's
slope limit must sit just below it, because load transfer to the rear costs traction) and
Bekker-Janosi's flat-patch traction (Bekker 1969; Janosi & Hanamoto 1961; Wong 2008 ch. 2 and 4),
an independent, simpler model that predicts less resistance and so a steeper limit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import PhysicsError, ScenarioError
from farside.rover import (
    LLL_DRY_SAND,
    LUNAR_REGOLITH,
    WONG_LUNAR_SOIL,
    YUTU2,
    DriveState,
    check_drive_request,
    max_climbable_slope,
    rigid_wheel,
    steady_state_drive,
)
from farside.rover import _kernels_wheel as K
from farside.rover.drive import SLIP_LIMIT, _geometry


def _equilibrium_residuals(d: DriveState) -> tuple[float, float, float]:
    """Rigid-body balance of the whole rover in the slope plane: along-slope force, normal force,
    pitch moment about the centre of mass (soil forces at the axles, soil moment -T on each wheel)."""
    a = math.radians(d.slope_deg)
    w = YUTU2.weight_n
    r = YUTU2.wheel_radius_m
    x = YUTU2.wheel_xy_m[:, 0]
    fx = d.wheel_drawbar_n.sum() - w * math.sin(a)
    fz = d.wheel_load_n.sum() - w * math.cos(a)
    my = np.sum((r - YUTU2.cg_height_m) * d.wheel_drawbar_n - (x - 0.0) * d.wheel_load_n - d.wheel_torque_nm)
    return fx, fz, my


def test_level_ground_lever_rule():
    """No traction on level ground: the rocker splits its side's load by the lever rule about the
    rocker pivot (front : bogie pin = (x_p - x_b) : (x_f - x_p)), the bogie by the lever rule about
    its pivot; for Yutu-2's pivots (0, -0.25 m) and wheels (0.5, 0, -0.5 m): W/6 each."""
    geo = _geometry(YUTU2)
    out = np.empty(6)
    w = YUTU2.weight_n
    assert K.wheel_loads(w, 0.0, 1.0, geo, np.zeros(6), np.zeros(6), out)
    xf, xm, xr = YUTU2.wheel_xy_m[:3, 0]
    xp, xb = YUTU2.rocker_pivot_x_m, YUTU2.bogie_pivot_x_m
    front = 0.5 * w * (xp - xb) / (xf - xb)
    bogie = 0.5 * w - front
    mid = bogie * (xb - xr) / (xm - xr)
    np.testing.assert_allclose(out[:3], [front, mid, bogie - mid], rtol=1e-12)
    np.testing.assert_allclose(out, w / 6, rtol=1e-12)


@pytest.mark.parametrize("slope", [0.0, 8.0, 12.0])
def test_rigid_body_equilibrium(slope):
    """The converged state balances the whole rover: along-slope and normal forces (1e-6 N) and the
    pitch moment about the centre of mass (1e-6 N m), which the CG height and the wheel torques
    must satisfy through the load split alone."""
    d = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=slope)
    assert d.progress
    fx, fz, my = _equilibrium_residuals(d)
    assert abs(fx) < 1e-6 and abs(fz) < 1e-6 and abs(my) < 1e-6
    # uphill, the rear wheels carry more than the front ones
    if slope > 0:
        assert d.wheel_load_n[2] > d.wheel_load_n[0]


def test_powered_wheels_share_one_slip_and_power_bound():
    """Powered wheels turn at one rim-speed command: one slip; ground speed = r w (1 - i); the
    electrical power covers at least the lifting power W v sin(slope) / efficiency; each wheel's
    state is the single-wheel model's at its load and slip."""
    d = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=10.0)
    assert np.allclose(d.wheel_slip, d.slip, atol=1e-12)
    assert d.speed_mps == pytest.approx(YUTU2.max_speed_mps * (1 - d.slip), rel=1e-12)
    lift = YUTU2.weight_n * d.speed_mps * math.sin(math.radians(10.0))
    assert d.power_w * YUTU2.motor_efficiency > lift
    w = rigid_wheel(LUNAR_REGOLITH, load_n=d.wheel_load_n[4], diameter_m=YUTU2.wheel_diameter_m,
                    width_m=YUTU2.wheel_width_m, slip=d.slip, grouser_height_m=YUTU2.grouser_height_m)
    assert w.drawbar_pull_n == pytest.approx(d.wheel_drawbar_n[4], rel=1e-9)
    assert w.sinkage_m == pytest.approx(d.wheel_sinkage_m[4], rel=1e-9)
    assert d.sinkage_m == pytest.approx(d.wheel_sinkage_m.max())


def test_slip_rises_with_slope():
    slips = [steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=s).slip for s in (0.0, 3.0, 6.0, 9.0, 12.0)]
    assert np.all(np.diff(slips) > 0)
    assert 0.0 < slips[0] < 0.3


def _bekker_janosi_slope(soil, slip=SLIP_LIMIT) -> float:
    """Slope (deg) six equally loaded wheels hold at ``slip`` by Bekker's sinkage and compaction
    resistance and Janosi-Hanamoto's flat-patch thrust (Wong 2008 eqs. for a rigid wheel):
    H = (c b l + W tan phi)[1 - K/(i l)(1 - exp(-i l / K))], l = sqrt(D z0)."""
    w_total = YUTU2.weight_n
    w = w_total / 6
    d, b, n = YUTU2.wheel_diameter_m, YUTU2.wheel_width_m, soil.n
    z0 = (3 * w / ((3 - n) * (soil.k_c + b * soil.k_phi) * math.sqrt(d))) ** (2 / (2 * n + 1))
    rc = b * (soil.k_c / b + soil.k_phi) * z0 ** (n + 1) / (n + 1)
    length = math.sqrt(d * z0)
    kk = soil.shear_modulus_m
    h = (soil.cohesion_pa * b * length + w * soil.tan_phi) * (1 - kk / (slip * length) * (1 - math.exp(-slip * length / kk)))
    return math.degrees(math.asin(6 * (h - rc) / w_total))


@pytest.mark.parametrize("soil", [LUNAR_REGOLITH, WONG_LUNAR_SOIL, LLL_DRY_SAND], ids=lambda s: s.name)
def test_max_climbable_slope_nominal(soil, report_measured):
    """Yutu-2 (UNCONFIRMED wheel size, docs/references.md 8) on the reference soils. The limit sits
    just below the single-wheel estimate at equal loads, asin(6 DP(W/6, i=0.9) / W): load transfer
    to the rear costs traction because the drawbar-pull coefficient falls with load (0 to 2 deg on the
    weak sets, 4.3 deg on LUNAR_REGOLITH, whose limit is steeper, so more load moves to the rear).
    Bekker-Janosi's flat patch, with ~30 % less sinkage and ~45 % less compaction resistance than
    Wong-Reece (test_terramechanics), predicts a steeper limit (1 to 10 deg steeper)."""
    m = max_climbable_slope(YUTU2, soil)
    w = rigid_wheel(soil, load_n=YUTU2.weight_n / 6, diameter_m=YUTU2.wheel_diameter_m, width_m=YUTU2.wheel_width_m,
                    slip=SLIP_LIMIT, grouser_height_m=YUTU2.grouser_height_m)
    equal = math.degrees(math.asin(6 * w.drawbar_pull_n / YUTU2.weight_n))
    bj = _bekker_janosi_slope(soil)
    report_measured(f"Yutu-2 max climbable slope on {soil.name}: {m:.2f} deg (equal-load wheel estimate "
                    f"{equal:.2f}, Bekker-Janosi {bj:.2f}; published capability 20 deg)")
    assert equal - 5.0 < m < equal + 0.05
    assert bj - 10.0 < m < bj - 1.0
    assert steady_state_drive(YUTU2, soil, slope_deg=m).progress
    assert not steady_state_drive(YUTU2, soil, slope_deg=m + 0.05).progress


def test_published_20_deg_on_lunar_regolith(report_measured):
    """Yutu-2 climbs 20 deg (docs/references.md 3). On LUNAR_REGOLITH (Carrier's shear strength of the
    top 15 cm) the nominal rover makes progress at 20 deg and fails on a steeper slope, stated here
    (22.7 deg), between 20 and 35 deg; slip reaches the 0.9 limit there. On the weaker Wong/Chrono
    lunar-soil set the same rover does not reach 20 deg (a slip-limit failure)."""
    assert steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=20.0).progress
    m = max_climbable_slope(YUTU2, LUNAR_REGOLITH, tol_deg=0.05)
    report_measured(f"Yutu-2 steepest slope on lunar regolith: {m:.2f} deg (published capability 20 deg)")
    assert 20.0 < m < 35.0 and abs(m - 22.7) < 0.3
    assert not steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=m + 0.5).progress
    d = steady_state_drive(YUTU2, WONG_LUNAR_SOIL, slope_deg=20.0)
    assert not d.progress and d.speed_mps == 0.0 and d.slip == 1.0
    assert "slip" in d.reason


def test_free_and_locked_wheels(report_measured):
    """Faults: a free wheel turns at the small skid where its torque is zero and drags (DP < 0); a
    locked wheel slides at skid -1 with a braking torque; two free (middle) wheels and one locked
    rear wheel still move on level ground, at a higher slip than nominal, and up 10 deg."""
    nominal = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=0.0)
    two_free = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=0.0, wheel_faults=[(1, "free"), (4, "free")])
    assert two_free.progress and two_free.slip > nominal.slip
    for k in (1, 4):
        assert abs(two_free.wheel_torque_nm[k]) < 1e-9
        assert -0.1 < two_free.wheel_slip[k] < 0.0
        assert two_free.wheel_drawbar_n[k] < 0.0
    locked = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=0.0, wheel_faults=[(2, "locked")])
    assert locked.progress and locked.slip > two_free.slip
    assert locked.wheel_slip[2] == -1.0 and locked.wheel_torque_nm[2] < 0 and locked.wheel_drawbar_n[2] < 0
    fx, fz, my = _equilibrium_residuals(locked)
    assert abs(fx) < 1e-6 and abs(fz) < 1e-6 and abs(my) < 1e-6
    for faults in ([(1, "free"), (4, "free")], [(2, "locked")]):
        assert steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=10.0, wheel_faults=faults).progress
        assert not steady_state_drive(YUTU2, WONG_LUNAR_SOIL, slope_deg=10.0, wheel_faults=faults).progress
    report_measured(f"level ground slip: nominal {nominal.slip:.3f}, two free middle wheels {two_free.slip:.3f}, "
                    f"left rear locked {locked.slip:.3f}")


def test_locked_front_wheel_digs_in():
    """A locked front wheel: its drag acts at the axle below the rocker pivot and its brake torque
    reacts on the rocker, both turning the rocker nose-down; its drag grows with its load about as
    fast as that moment (drag/load ~ 0.9 at ~0.45 m below the pivot, 0.5 m ahead of it), so no load
    balances the rocker and the wheel digs in: no progress even on level ground. (Driving
    backwards would trail the locked wheel instead, as Spirit did with its failed front wheel.)
    A locked rear wheel, whose drag and brake torque turn its bogie the other way, is unloaded and
    still lets the rover move (test_free_and_locked_wheels)."""
    d = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=0.0, wheel_faults=[(0, "locked")])
    assert not d.progress and "digs in" in d.reason


def test_downhill_braking():
    """Downhill the powered wheels brake (negative skid, negative torque, no electrical power drawn
    beyond zero) and the rover still balances; with a weak motor (0.5 N m cap) it slides on 30 deg."""
    d = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=-25.0)
    assert d.progress and d.slip < 0 and np.all(d.wheel_torque_nm < 0)
    assert d.speed_mps == pytest.approx(YUTU2.max_speed_mps / (1 + d.slip), rel=1e-12)
    fx, fz, my = _equilibrium_residuals(d)
    assert abs(fx) < 1e-6 and abs(fz) < 1e-6 and abs(my) < 1e-6
    weak = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=-30.0, max_wheel_torque_nm=0.5)
    assert not weak.progress and "slides" in weak.reason


def test_reduced_wheel_torque_cap():
    """A reduced wheel holds at most half the motor's torque; it binds on the heavily loaded rear
    wheel near the limit, where the capped wheel turns slower (lower slip) than the others."""
    nominal = max_climbable_slope(YUTU2, LUNAR_REGOLITH, tol_deg=0.05)
    reduced = max_climbable_slope(YUTU2, LUNAR_REGOLITH, wheel_faults=[(2, "reduced")], tol_deg=0.05)
    assert reduced < nominal - 0.3
    d = steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=reduced - 0.5, wheel_faults=[(2, "reduced")])
    assert d.progress
    assert d.wheel_torque_nm[2] <= 4.0 + 1e-6
    assert d.wheel_slip[2] <= d.slip + 1e-12


def test_fault_table(report_measured):
    """Steepest slope per fault combination (reported); fewer working wheels never climb more."""
    combos = {
        "nominal": [], "1 reduced (left rear)": [(2, "reduced")], "1 free (left front)": [(0, "free")],
        "1 free (left middle)": [(1, "free")], "1 locked (left rear)": [(2, "locked")],
        "1 locked (left front)": [(0, "locked")], "2 free (both middle)": [(1, "free"), (4, "free")],
        "2 free (both rear)": [(2, "free"), (5, "free")], "2 locked (both rear)": [(2, "locked"), (5, "locked")],
    }
    res = {k: max_climbable_slope(YUTU2, LUNAR_REGOLITH, wheel_faults=v, tol_deg=0.05) for k, v in combos.items()}
    for k, v in res.items():
        report_measured(f"max slope on lunar regolith, {k}: {v:.2f} deg")
    assert all(v <= res["nominal"] + 1e-9 for v in res.values())
    assert res["2 free (both middle)"] < res["1 free (left middle)"]
    assert res["2 locked (both rear)"] <= res["1 locked (left rear)"]


# ---- requests and inputs -------------------------------------------------------------------------

def test_check_drive_request():
    check_drive_request(YUTU2, speed_mps=YUTU2.max_speed_mps, slope_deg=20.0, obstacle_m=0.2)
    for kw, name in [({"speed_mps": 0.06}, "speed_mps"), ({"slope_deg": 20.5}, "slope_deg"),
                     ({"slope_deg": -25.0}, "slope_deg"), ({"obstacle_m": 0.25}, "obstacle_m")]:
        args = {"speed_mps": 0.05, "slope_deg": 5.0, "obstacle_m": 0.1} | kw
        with pytest.raises(PhysicsError) as e:
            check_drive_request(YUTU2, **args)
        assert str(e.value).startswith(f"{name} = ") and "\n" not in str(e.value)
    for kw in ({"speed_mps": float("nan")}, {"speed_mps": -0.01}, {"obstacle_m": -1.0}, {"slope_deg": math.inf}):
        with pytest.raises(ScenarioError):
            check_drive_request(YUTU2, **({"speed_mps": 0.05, "slope_deg": 5.0, "obstacle_m": 0.1} | kw))


@pytest.mark.parametrize("faults,needle", [
    ([(0, "broken")], "kind"),
    ([(6, "free")], "wheel index"),
    ([(-1, "free")], "wheel index"),
    ([(True, "free")], "wheel index"),
    ([(1.0, "free")], "wheel index"),
    ([(1, "free"), (1, "locked")], "repeat"),
    ([(1,)], "pair"),
    ("free", "wheel_faults"),
])
def test_bad_faults(faults, needle):
    with pytest.raises(ScenarioError) as e:
        steady_state_drive(YUTU2, LUNAR_REGOLITH, slope_deg=0.0, wheel_faults=faults)
    msg = str(e.value)
    assert "\n" not in msg and needle in msg and "is invalid" in msg


@pytest.mark.parametrize("kw,exc", [
    ({"slope_deg": float("nan")}, ScenarioError),
    ({"slope_deg": -60.0}, ScenarioError),
    ({"slope_deg": 5.0, "speed_mps": -1.0}, ScenarioError),
    ({"slope_deg": 5.0, "speed_mps": 1.0}, PhysicsError),
    ({"slope_deg": 5.0, "max_wheel_torque_nm": 0.0}, ScenarioError),
])
def test_bad_drive_inputs(kw, exc):
    with pytest.raises(exc) as e:
        steady_state_drive(YUTU2, LUNAR_REGOLITH, **kw)
    assert "\n" not in str(e.value)
