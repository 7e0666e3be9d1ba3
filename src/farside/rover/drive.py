"""Steady straight driving of the six-wheeled rocker-bogie rover on a slope, with wheel faults.

:func:`steady_state_drive` finds the slip at which the wheels' drawbar pulls (Wong-Reece rigid
wheel, :mod:`farside.rover.terramechanics`) hold the rover on the slope; :func:`max_climbable_slope`
bisects on it; :func:`check_drive_request` refuses requests beyond the published capability.

Model and simplifications:

* **Quasi-static, straight** along the body x axis on a uniform slope (positive uphill, negative
  downhill); the suspension stays in its nominal pose (wheel contacts at ``rover.wheel_xy_m``,
  axles at the wheel radius above the ground, sinkage ignored in the geometry); no steering, no
  yaw: asymmetric traction (a fault on one side) is assumed held by the steered wheels at no cost.
* **Wheel loads** from the static equilibrium of the rocker-bogie in the slope plane: massless
  rocker and bogie on frictionless pins (pivots at ``rover.rocker_pivot_*`` / ``bogie_pivot_*``,
  heights above the axles), body centre of mass at the body-frame origin in x and y
  (``rover.vehicle``: "centred") and ``rover.cg_height_m`` above the ground, the differential
  sharing the body's pitch moment equally between the rockers, left/right sharing the normal load
  by roll balance. Each wheel's drawbar pull acts at its axle and its motor (or brake) torque
  reacts on its link: driving torque unloads the front wheel of each rocker and the middle wheel of
  each bogie, and the downhill weight component (CG above the ground) shifts load to the rear. At
  every trial slip the loads are solved together with the wheel forces they produce (Newton on each
  side's two moment balances). If a bogie wheel's load would be negative it lifts off and the
  bogie rides on its stop (one rigid link per side); a front wheel lifting off means the rover
  pitches up (no progress); a braked wheel whose drag presses it in faster than its load grows
  (a locked front wheel: its drag acts below the rocker pivot) has no balance and digs in.
* **Wheels**: powered wheels share one rim-speed command ``r w``, so (rigid body, one ground speed
  ``v``) they run at one slip ``i = 1 - v / (r w)`` (skid ``s = r w / v - 1`` when braking
  downhill). Each powered wheel has a torque cap (the motor's maximum ``max_wheel_torque_nm``; a
  "reduced" wheel has :data:`REDUCED_TORQUE_FRACTION` of it), driving and braking; a wheel at its
  cap turns slower (faster) than commanded, at the slip where its torque equals the cap, and the
  others take more load at a higher common slip (the controller redistributes torque). A "free"
  wheel (motor unpowered, freewheeling) turns at the skid where its torque is zero; a "locked"
  wheel slides at skid -1.
* **Balance**: the common slip solves ``sum(drawbar pull) = W sin(slope)`` (scan, then Brent).
  ``progress`` is False when no slip up to :data:`SLIP_LIMIT` (0.9) balances the slope, when a
  front wheel lifts off, when a wheel digs in to its axle, or, downhill, when even the braked
  wheels cannot hold the rover.
* **Power**: electrical ``sum(max(T w, 0)) / rover.motor_efficiency`` over the powered wheels (no
  regeneration when braking); wheel speeds from the ground speed and each wheel's slip.

The motor's maximum wheel torque is not published for Yutu-2: :data:`DEFAULT_MAX_WHEEL_TORQUE_NM`
is an assumption (UNCONFIRMED, docs/references.md 8); a ``max_wheel_torque_nm`` attribute on the
rover, if present, or the keyword argument overrides it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from farside.errors import PhysicsError, invalid
from farside.rover import _kernels_wheel as _k
from farside.rover.terramechanics import Soil, _finite, _pack, _soil
from farside.rover.vehicle import Rover

__all__ = [
    "DEFAULT_MAX_WHEEL_TORQUE_NM",
    "FAULT_KINDS",
    "REDUCED_TORQUE_FRACTION",
    "SLIP_LIMIT",
    "DriveState",
    "check_drive_request",
    "max_climbable_slope",
    "steady_state_drive",
]

#: Wheel fault kinds accepted in ``wheel_faults``.
FAULT_KINDS = ("reduced", "free", "locked")
#: Largest slip at which the rover still counts as making progress.
SLIP_LIMIT = 0.9
#: Maximum (stall) torque of one wheel's drive motor at the wheel, N m. UNCONFIRMED assumption: no
#: source gives Yutu-2's. 8 N m is ~2.7x the torque a wheel carrying its level-ground share of the
#: weight needs at 90 % slip on the lunar-soil set (2.9 N m) and above what the most loaded (rear)
#: wheel needs at the steepest slope it can climb (5.2 N m): healthy motors never limit the climb;
#: a "reduced" wheel's 4 N m does.
DEFAULT_MAX_WHEEL_TORQUE_NM = 8.0
#: Torque cap of a "reduced" wheel, as a fraction of the maximum (assumption).
REDUCED_TORQUE_FRACTION = 0.5
#: Upper end of the slopes the model accepts, deg.
_MAX_MODEL_SLOPE_DEG = 60.0
_STATUS = {
    0: "",
    1: f"no slip up to {SLIP_LIMIT:g} balances the slope",
    2: "a front wheel lifts off (the rover pitches up)",
    3: "a wheel digs in to its axle (the rocker-bogie finds no load balance)",
    4: "no powered wheel",
    5: "it slides downhill even with the powered wheels braked to their limit",
}


@dataclass(frozen=True)
class DriveState:
    """Steady straight drive on a slope (SI units; per-wheel arrays in ``WHEEL_NAMES`` order).

    Attributes
    ----------
    slip : float
        Common slip of the powered wheels at the rim-speed command (1.0 when ``progress`` is False).
    speed_mps : float
        Ground speed, m/s (0 when ``progress`` is False).
    power_w : float
        Electrical power of the drive motors, W (when stuck: the powered wheels spinning at the
        command with the torques of the last state evaluated).
    sinkage_m : float
        Largest wheel sinkage, m.
    progress : bool
        False when the rover cannot climb, or downhill hold back on, the slope (see ``reason``).
    wheel_slip, wheel_load_n, wheel_torque_nm, wheel_sinkage_m, wheel_drawbar_n : numpy.ndarray
        Per wheel (6,): slip (negative: skid), normal load N, torque N m, sinkage m, drawbar pull N.
        When ``progress`` is False, the state at the highest slip evaluated (NaN where no load
        balance was found).
    wheel_kind : tuple of str
        "nominal", "reduced", "free" or "locked" per wheel.
    slope_deg : float
        The slope, deg.
    command_speed_mps : float
        The rim-speed command ``r w`` of the powered wheels, m/s.
    reason : str
        Why there is no progress ("" when there is).
    """

    slip: float
    speed_mps: float
    power_w: float
    sinkage_m: float
    progress: bool
    wheel_slip: np.ndarray
    wheel_load_n: np.ndarray
    wheel_torque_nm: np.ndarray
    wheel_sinkage_m: np.ndarray
    wheel_drawbar_n: np.ndarray
    wheel_kind: tuple[str, ...]
    slope_deg: float
    command_speed_mps: float
    reason: str = ""


def _wheel_kinds(wheel_faults: Sequence) -> tuple[str, ...]:
    """Per-wheel kinds from ``(wheel_index, kind)`` pairs; ScenarioError on anything else."""
    kinds = ["nominal"] * 6
    if isinstance(wheel_faults, (str, bytes)):
        raise invalid("wheel_faults", wheel_faults, "must be a sequence of (wheel_index, kind) pairs")
    try:
        items = list(wheel_faults)
    except TypeError:
        raise invalid("wheel_faults", wheel_faults, "must be a sequence of (wheel_index, kind) pairs") from None
    seen: set[int] = set()
    for q, item in enumerate(items):
        try:
            idx, kind = item
        except (TypeError, ValueError):
            raise invalid(f"wheel_faults[{q}]", item, "must be a (wheel_index, kind) pair") from None
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)) or not 0 <= idx <= 5:
            raise invalid(f"wheel_faults[{q}] wheel index", idx, "must be an integer 0..5 (0-2 left front to "
                          "rear, 3-5 right front to rear)")
        if kind not in FAULT_KINDS:
            raise invalid(f"wheel_faults[{q}] kind", kind, "must be one of " + ", ".join(map(repr, FAULT_KINDS)))
        if int(idx) in seen:
            raise invalid(f"wheel_faults[{q}] wheel index", idx, "must not repeat a wheel already listed")
        seen.add(int(idx))
        kinds[int(idx)] = kind
    return tuple(kinds)


def _geometry(rover: Rover) -> np.ndarray:
    xy = np.asarray(rover.wheel_xy_m, dtype=float)
    if xy.shape != (6, 2) or not np.all(np.isfinite(xy)):
        raise invalid("rover.wheel_xy_m", xy.shape, "must be a finite (6, 2) array")
    r = rover.wheel_radius_m
    y_left = xy[0:3, 1].mean()
    y_right = xy[3:6, 1].mean()
    if not y_left > y_right:
        raise invalid("rover.wheel_xy_m", "left y <= right y", "wheels 0-2 must be on the left (+y)")
    frac_left = (0.0 - y_right) / (y_left - y_right)     # roll balance, CG at y = 0
    for side in (0, 3):
        xf, xm, xr = xy[side:side + 3, 0]
        if not (xf > rover.bogie_pivot_x_m and xm > xr and xf > xr):
            raise invalid("rover.wheel_xy_m", xy.tolist(), "each side must run front, middle, rear with the "
                          "bogie pivot behind the front wheel")
    return np.concatenate([xy[:, 0], [rover.rocker_pivot_x_m, rover.rocker_pivot_height_m + r,
                                      rover.bogie_pivot_x_m, rover.bogie_pivot_height_m + r, r,
                                      0.0, rover.cg_height_m, frac_left]])


def _max_torque(rover: Rover, max_wheel_torque_nm: float | None) -> float:
    if max_wheel_torque_nm is None:
        max_wheel_torque_nm = getattr(rover, "max_wheel_torque_nm", DEFAULT_MAX_WHEEL_TORQUE_NM)
    return _finite("max_wheel_torque_nm", max_wheel_torque_nm, lo=0.0, lo_open=True)


def _solve(rover: Rover, soil: Soil, slope_deg: float, kinds: tuple[str, ...], tmax: float):
    p = _pack(soil, rover.wheel_radius_m, rover.wheel_width_m, rover.grouser_height_m)
    code = np.array([_k.KIND_FREE if k == "free" else _k.KIND_LOCKED if k == "locked" else _k.KIND_POWERED
                     for k in kinds], dtype=np.int64)
    caps = np.array([tmax * (REDUCED_TORQUE_FRACTION if k == "reduced" else 1.0) for k in kinds])
    a = math.radians(slope_deg)
    return _k.drive(rover.weight_n, math.sin(a), math.cos(a), _geometry(rover), code, caps, SLIP_LIMIT, p)


def _slope(slope_deg: float) -> float:
    m = _MAX_MODEL_SLOPE_DEG
    return _finite("slope_deg", slope_deg, lo=-m, hi=m, lo_open=True, hi_open=True,
                   valid=f"must be a finite number in (-{m:g}, {m:g}) deg (positive uphill along x)")


def steady_state_drive(rover: Rover, soil: Soil, *, slope_deg: float, wheel_faults: Sequence = (),
                       speed_mps: float | None = None, max_wheel_torque_nm: float | None = None) -> DriveState:
    """Steady straight drive of ``rover`` on a uniform slope of ``soil`` (model: module docstring).

    Parameters
    ----------
    rover : Rover
        The vehicle (e.g. ``YUTU2``).
    soil : Soil
        The soil (e.g. ``LUNAR_REGOLITH``).
    slope_deg : float
        Slope, deg, in (-60, 60): positive uphill along the body x axis, negative downhill.
    wheel_faults : sequence of (int, str)
        ``(wheel_index, kind)``, index 0..5 in ``WHEEL_NAMES`` order, kind in :data:`FAULT_KINDS`.
    speed_mps : float, optional
        Rim-speed command ``r w`` of the powered wheels, m/s (default ``rover.max_speed_mps``);
        the ground speed is ``r w (1 - i)``.
    max_wheel_torque_nm : float, optional
        Motor torque cap at the wheel, N m (default: ``rover.max_wheel_torque_nm`` if the rover has
        it, else :data:`DEFAULT_MAX_WHEEL_TORQUE_NM`).

    Returns
    -------
    DriveState

    Raises
    ------
    ScenarioError
        Invalid slope, speed or faults (one line).
    PhysicsError
        ``speed_mps`` above ``rover.max_speed_mps``.
    """
    soil = _soil(soil)
    if not isinstance(rover, Rover):
        raise invalid("rover", rover, "must be a farside.rover.Rover")
    slope = _slope(slope_deg)
    kinds = _wheel_kinds(wheel_faults)
    cmd = rover.max_speed_mps if speed_mps is None else _finite("speed_mps", speed_mps, lo=0.0)
    if cmd > rover.max_speed_mps * (1.0 + 1e-12):
        raise invalid("speed_mps", cmd, f"must be <= rover.max_speed_mps = {rover.max_speed_mps:.6g} m/s "
                      f"({rover.max_speed_mps * 3600.0:.6g} m/h)", PhysicsError)
    tmax = _max_torque(rover, max_wheel_torque_nm)
    status, i, res = _solve(rover, soil, slope, kinds, tmax)
    progress = status == 0
    r = rover.wheel_radius_m
    if progress:
        v = cmd * (1.0 - i) if i >= 0.0 else cmd / max(1.0 + i, 1e-9)
        omega = np.array([(v / (r * (1.0 - s)) if s >= 0.0 else v * (1.0 + s) / r) for s in res[:, 0]])
    else:
        v = 0.0
        omega = np.full(6, cmd / r)
    powered = np.array([k in ("nominal", "reduced") for k in kinds])
    mech = np.where(powered, np.maximum(res[:, 2] * omega, 0.0), 0.0)
    power = float(np.nansum(mech)) / rover.motor_efficiency
    sink = res[:, 3]
    return DriveState(
        slip=float(i) if progress else 1.0,
        speed_mps=float(v),
        power_w=power,
        sinkage_m=float(np.nanmax(sink)) if np.any(np.isfinite(sink)) else float("nan"),
        progress=progress,
        wheel_slip=res[:, 0].copy(),
        wheel_load_n=res[:, 1].copy(),
        wheel_torque_nm=res[:, 2].copy(),
        wheel_sinkage_m=sink.copy(),
        wheel_drawbar_n=res[:, 4].copy(),
        wheel_kind=kinds,
        slope_deg=slope,
        command_speed_mps=float(cmd),
        reason=_STATUS[int(status)],
    )


def max_climbable_slope(rover: Rover, soil: Soil, *, wheel_faults: Sequence = (),
                        max_wheel_torque_nm: float | None = None, tol_deg: float = 0.01) -> float:
    """Steepest slope (deg) on which :func:`steady_state_drive` makes progress, by bisection.

    Uphill only. Returns 0.0 when the rover cannot move even on level ground, and 60.0 (the
    model's upper end) when it climbs everything below it.
    """
    soil = _soil(soil)
    if not isinstance(rover, Rover):
        raise invalid("rover", rover, "must be a farside.rover.Rover")
    kinds = _wheel_kinds(wheel_faults)
    tmax = _max_torque(rover, max_wheel_torque_nm)
    tol = _finite("tol_deg", tol_deg, lo=0.0, lo_open=True)

    def ok(slope: float) -> bool:
        return _solve(rover, soil, slope, kinds, tmax)[0] == 0

    lo, hi = 0.0, _MAX_MODEL_SLOPE_DEG - 1e-9
    if not ok(lo):
        return 0.0
    if ok(hi):
        return _MAX_MODEL_SLOPE_DEG
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def check_drive_request(rover: Rover, *, speed_mps: float, slope_deg: float, obstacle_m: float) -> None:
    """Refuse a drive request beyond the rover's published capability (docs/references.md 3).

    Raises
    ------
    ScenarioError
        A value that is NaN, infinite or negative (slope: NaN or infinite; its magnitude is checked).
    PhysicsError
        ``speed_mps > rover.max_speed_mps``, ``|slope_deg| > rover.max_slope_deg`` or
        ``obstacle_m > rover.max_obstacle_m``.
    """
    if not isinstance(rover, Rover):
        raise invalid("rover", rover, "must be a farside.rover.Rover")
    v = _finite("speed_mps", speed_mps, lo=0.0)
    s = _finite("slope_deg", slope_deg)
    h = _finite("obstacle_m", obstacle_m, lo=0.0)
    if v > rover.max_speed_mps * (1.0 + 1e-12):
        raise invalid("speed_mps", v, f"{rover.name} drives at most {rover.max_speed_mps:.6g} m/s "
                      f"({rover.max_speed_mps * 3600.0:.6g} m/h)", PhysicsError)
    if abs(s) > rover.max_slope_deg:
        raise invalid("slope_deg", s, f"{rover.name} climbs slopes up to {rover.max_slope_deg:g} deg", PhysicsError)
    if h > rover.max_obstacle_m:
        raise invalid("obstacle_m", h, f"{rover.name} crosses obstacles up to {rover.max_obstacle_m:g} m",
                      PhysicsError)

