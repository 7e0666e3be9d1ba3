"""The rover's electrical power: solar array, battery and loads by mode.

Array. ``P = F cos(i) A eta (1 + beta (T_cell - 301.15 K))`` with the solar flux
``F = 1361 W/m^2 / r_au^2`` (Kopp & Lean 2011; docs/references.md 7.8), the incidence ``i`` on the
panel, the area ``A`` (``rover.solar_area_m2``), the efficiency ``eta`` at 28 C
(``rover.solar_efficiency``) and its relative temperature coefficient ``beta``
(``rover.solar_temp_coeff_per_k``); zero when the Sun is below the horizon or behind the panel.
The panels are either horizontal (``panel="horizontal"``; Yutu-2's wings as assumed in
:mod:`farside.rover.vehicle`) or turned to the Sun's azimuth with a fixed tilt towards it
(``panel="tracking"``, ``panel_tilt_deg``). No shadowing by terrain, the mast or the lander.

Cell temperature (unless the caller gives it): the steady balance of a thin panel that absorbs
sunlight on its front (absorptance 0.92), gives ``P`` away as electricity, radiates from both faces
(emissivity 0.85 each) and absorbs the infrared of the ground (at ``ground_temperature_k``; by
default the level ground's zero-inertia radiative-equilibrium temperature) in proportion to the
view factor of each face to the ground, ``(1 -+ cos tilt)/2``. The optical constants are
**UNCONFIRMED** (typical of GaAs cells on a thin substrate).

Battery. Usable capacity ``rover.battery_wh``; the energy stored changes by ``eta_c P_c`` while
charging at terminal power ``P_c`` and by ``-P_d/eta_d`` while delivering ``P_d``
(``rover.charge_efficiency``, ``rover.discharge_efficiency``). The losses are computed from these
efficiencies: ``(1 - eta_c) P_c`` and ``(1/eta_d - 1) P_d``. When the battery is full the surplus
is curtailed (the array is shunted); when it is empty the part of the load it cannot supply is
reported as unserved. No charge-rate limit, no ageing, no temperature dependence of the battery.

Loads (W) by mode, all **UNCONFIRMED** except where a rover field says otherwise:

* ``awake``: ``rover.avionics_w`` + ``payload_w`` (default 10 W: the time-averaged panoramic
  camera, VNIS, LPR and ASAN) + ``comms_w`` (default 8 W: the relay-link transceiver averaged over
  its passes);
* ``drive`` (and ``turn``, a point turn): as awake + ``drive_power_w`` (the mobility system's
  electrical power, from :func:`farside.rover.steady_state_drive`, supplied by the caller);
* ``nap`` (noon standby): ``rover.nap_w``;
* ``sleep`` (lunar night): ``sleep_w`` = 0 W; the radioisotope heater units keep the warm box
  (docs/references.md 3), no electrical heater runs, the battery is disconnected from the load.

Time integration (stated scheme). Step ``k`` covers ``[t_k, t_{k+1})`` with the powers of sample
``k`` held constant over it (piecewise constant, left endpoint); ``soc[k]`` is the state at
``t_k``, before step ``k``. Within a step that fills (or empties) the battery, the charging (or
delivered) power is the step average that ends exactly full (or empty), and the rest is curtailed
(or unserved), so the energy balance closes exactly over any interval:
``Delta E = sum((array - (load - unserved) - charge_loss - discharge_loss - curtailed) dt)``.
The last sample's powers describe an interval of zero length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.errors import invalid
from farside.rover.thermal import (
    SOLAR_CONSTANT_W_M2,
    STEFAN_BOLTZMANN,
    check_times,
    radiative_equilibrium_temperature,
)
from farside.rover.vehicle import Rover

__all__ = [
    "WarmBox",
    "warm_box_heat_loss_w",
    "CELL_REFERENCE_K",
    "COMMS_W",
    "MOBILITY_MODES",
    "PAYLOAD_W",
    "POWER_MODES",
    "SLEEP_W",
    "PowerTrace",
    "array_power",
    "cell_temperature",
    "panel_normals",
    "simulate_power",
]

#: Modes :func:`simulate_power` accepts ("turn" is a point turn: a mobility mode like "drive").
POWER_MODES = ("awake", "nap", "sleep", "drive", "turn")
#: Modes in which the caller's ``drive_power_w`` is drawn.
MOBILITY_MODES = ("drive", "turn")
#: Cell temperature at which ``rover.solar_efficiency`` holds: 28 C (vehicle.py).
CELL_REFERENCE_K = 301.15
#: Default payload power while awake, W (time average; **UNCONFIRMED**).
PAYLOAD_W = 10.0
#: Default communications power while awake, W (time average; **UNCONFIRMED**).
COMMS_W = 8.0
#: Electrical load asleep, W: the RHUs keep the warm box, no electrical heater (docs/references.md 3).
SLEEP_W = 0.0
#: Panel optical constants (**UNCONFIRMED**): solar absorptance of the cell side, infrared
#: emissivities of the front and back faces.
PANEL_ABSORPTANCE = 0.92
PANEL_EMISSIVITY_FRONT = 0.85
PANEL_EMISSIVITY_BACK = 0.85


@dataclass(frozen=True)
class PowerTrace:
    """Power and battery state on the caller's times (see the module docstring for the scheme).

    All power arrays are (N,) in W and hold over ``[t_s[k], t_s[k+1])``; ``soc`` (N,) is the
    state of charge (0..1) at ``t_s[k]``. ``battery_w`` is the power at the battery terminals,
    positive charging. ``load_w`` is the demanded load; ``unserved_w`` the part the empty
    battery could not supply.
    """

    t_s: np.ndarray
    array_w: np.ndarray
    load_w: np.ndarray
    battery_w: np.ndarray
    soc: np.ndarray
    charge_loss_w: np.ndarray
    discharge_loss_w: np.ndarray
    curtailed_w: np.ndarray
    unserved_w: np.ndarray
    cell_temperature_k: np.ndarray
    capacity_wh: float

    @property
    def stored_wh(self) -> np.ndarray:
        """Energy in the battery at each sample, Wh."""
        return self.soc * self.capacity_wh

    def _integral_wh(self, p_w: np.ndarray) -> float:
        return float(np.sum(p_w[:-1] * np.diff(self.t_s)) / 3600.0)

    @property
    def energy_used_wh(self) -> float:
        """Energy delivered to the loads over the trace, Wh."""
        return self._integral_wh(self.load_w - self.unserved_w)

    @property
    def energy_array_wh(self) -> float:
        """Energy the array could deliver over the trace (before curtailment), Wh."""
        return self._integral_wh(self.array_w)

    def energy_budget_wh(self) -> dict[str, float]:
        """Integrals over the whole trace, Wh: array, served load, charge and discharge losses,
        curtailed, unserved, and the change of stored energy."""
        return {
            "array": self.energy_array_wh,
            "load_served": self.energy_used_wh,
            "charge_loss": self._integral_wh(self.charge_loss_w),
            "discharge_loss": self._integral_wh(self.discharge_loss_w),
            "curtailed": self._integral_wh(self.curtailed_w),
            "unserved": self._integral_wh(self.unserved_w),
            "delta_stored": float(self.stored_wh[-1] - self.stored_wh[0]),
        }


def _per_sample(value: np.ndarray | float, name: str, n: int, *, minimum: float | None = 0.0) -> np.ndarray:
    a = np.asarray(value, float)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,) or not np.all(np.isfinite(a)) or (minimum is not None and np.any(a < minimum)):
        lim = "" if minimum is None else f" >= {minimum:g}"
        raise invalid(name, f"array of shape {np.shape(value)}" if np.ndim(value) else value,
                      f"finite numbers{lim}, scalar or shape ({n},)")
    return a


def panel_normals(sun_enu: np.ndarray, *, panel: str = "horizontal", panel_tilt_deg: float = 0.0) -> np.ndarray:
    """Unit normals (N, 3) of the panels in ENU: up, or tilted by ``panel_tilt_deg`` towards the
    Sun's azimuth (``panel="tracking"``)."""
    s = np.atleast_2d(np.asarray(sun_enu, float))
    if panel not in ("horizontal", "tracking"):
        raise invalid("panel", panel, "'horizontal' or 'tracking'")
    if not (math.isfinite(panel_tilt_deg) and 0.0 <= panel_tilt_deg <= 90.0):
        raise invalid("panel_tilt_deg", panel_tilt_deg, "an angle in [0, 90] degrees")
    up = np.zeros_like(s)
    up[:, 2] = 1.0
    if panel == "horizontal":
        return up
    horiz = s[:, :2]
    norm = np.linalg.norm(horiz, axis=1)
    az = np.where(norm[:, None] > 1e-12, horiz / np.maximum(norm, 1e-12)[:, None], np.array([[0.0, 1.0]]))
    b = math.radians(panel_tilt_deg)
    return np.column_stack([az * math.sin(b), np.full(len(s), math.cos(b))])


def cell_temperature(flux_on_panel_w_m2: np.ndarray, electrical_w_m2: np.ndarray, ground_temperature_k: np.ndarray,
                     tilt_rad: np.ndarray | float = 0.0) -> np.ndarray:
    """Steady panel temperature (K) from its radiative balance (module docstring): absorbed sunlight
    minus electrical output plus absorbed ground infrared = emission from both faces."""
    f_ground_front = 0.5 * (1.0 - np.cos(tilt_rad))
    f_ground_back = 0.5 * (1.0 + np.cos(tilt_rad))
    ground_ir = STEFAN_BOLTZMANN * np.asarray(ground_temperature_k, float) ** 4
    absorbed = (PANEL_ABSORPTANCE * np.asarray(flux_on_panel_w_m2, float) - np.asarray(electrical_w_m2, float)
                + (PANEL_EMISSIVITY_FRONT * f_ground_front + PANEL_EMISSIVITY_BACK * f_ground_back) * ground_ir)
    return (np.maximum(absorbed, 0.0) / ((PANEL_EMISSIVITY_FRONT + PANEL_EMISSIVITY_BACK) * STEFAN_BOLTZMANN)) ** 0.25


def array_power(sun_enu: np.ndarray, *, rover: Rover, sun_distance_au: np.ndarray | float = 1.0,
                panel: str = "horizontal", panel_tilt_deg: float = 0.0,
                cell_temperature_k: np.ndarray | float | None = None,
                ground_temperature_k: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Electrical output of the solar array (W) and the cell temperature (K) for each Sun direction.

    ``cell_temperature_k`` None solves the panel balance (two fixed-point passes: the electrical
    output depends on the temperature only through ``beta``, a few per cent).
    """
    s = np.atleast_2d(np.asarray(sun_enu, float))
    n = len(s)
    if s.shape != (n, 3) or not np.all(np.isfinite(s)):
        raise invalid("sun_enu", f"array of shape {np.shape(sun_enu)}", "finite unit vectors, shape (N, 3)")
    dist = _per_sample(sun_distance_au, "sun_distance_au", n, minimum=1e-6)
    normals = panel_normals(s, panel=panel, panel_tilt_deg=panel_tilt_deg)
    cos_i = np.einsum("ij,ij->i", s, normals)
    lit = (s[:, 2] > 0.0) & (cos_i > 0.0)
    flux = np.where(lit, SOLAR_CONSTANT_W_M2 / dist ** 2 * cos_i, 0.0)         # W/m^2 on the panel
    eta0, beta = rover.solar_efficiency, rover.solar_temp_coeff_per_k

    def electrical(t_cell: np.ndarray) -> np.ndarray:
        return flux * eta0 * np.maximum(1.0 + beta * (t_cell - CELL_REFERENCE_K), 0.0)

    if cell_temperature_k is not None:
        t_cell = _per_sample(cell_temperature_k, "cell_temperature_k", n, minimum=0.0)
    else:
        if ground_temperature_k is None:
            inc_ground = np.degrees(np.arccos(np.clip(s[:, 2], -1.0, 1.0)))
            t_ground = radiative_equilibrium_temperature(np.minimum(inc_ground, 90.0),
                                                         solar_flux_w_m2=1.0) * (SOLAR_CONSTANT_W_M2 / dist ** 2) ** 0.25
        else:
            t_ground = _per_sample(ground_temperature_k, "ground_temperature_k", n, minimum=0.0)
        tilt = 0.0 if panel == "horizontal" else math.radians(panel_tilt_deg)
        e = flux * eta0
        for _ in range(3):
            t_cell = cell_temperature(flux, e, t_ground, tilt)
            e = electrical(t_cell)
    return electrical(t_cell) * rover.solar_area_m2, t_cell


def _mode_array(mode: object, n: int) -> np.ndarray:
    m = np.asarray(mode)
    if m.ndim == 0:
        m = np.full(n, str(m))
    m = m.astype(str)
    if m.shape != (n,):
        raise invalid("mode", f"array of shape {np.shape(mode)}", f"one mode name or ({n},) of {POWER_MODES}")
    bad = sorted(set(np.unique(m)) - set(POWER_MODES))
    if bad:
        raise invalid("mode", bad, f"names from {POWER_MODES}")
    return m


def simulate_power(t_s: np.ndarray, sun_enu: np.ndarray, *, rover: Rover, mode: object,
                   drive_power_w: np.ndarray | float = 0.0, soc0: float = 1.0,
                   sun_distance_au: np.ndarray | float = 1.0,
                   panel: str = "horizontal", panel_tilt_deg: float = 0.0,
                   payload_w: np.ndarray | float = PAYLOAD_W, comms_w: np.ndarray | float = COMMS_W,
                   sleep_w: float = SLEEP_W,
                   cell_temperature_k: np.ndarray | float | None = None,
                   ground_temperature_k: np.ndarray | float | None = None) -> PowerTrace:
    """Solar array, loads and battery of ``rover`` over the times ``t_s``.

    Parameters
    ----------
    t_s : (N,) float64 mission seconds, non-decreasing.
    sun_enu : (N, 3) unit vectors towards the Sun in site ENU.
    rover : the vehicle (area, efficiencies, avionics and nap loads, battery).
    mode : one of :data:`POWER_MODES` or an (N,) array of them (e.g. from
        :func:`farside.rover.plan_modes`, with "drive" where the rover drives).
    drive_power_w : mobility electrical power, W, scalar or (N,); drawn only in "drive"/"turn"
        and must be 0 elsewhere.
    soc0 : state of charge at ``t_s[0]`` (0..1).
    sun_distance_au : Sun distance, au, scalar or (N,).
    panel, panel_tilt_deg : "horizontal", or "tracking" in azimuth with a fixed tilt.
    payload_w, comms_w : awake loads, W, scalar or (N,) (defaults **UNCONFIRMED**).
    sleep_w : load asleep, W (0: RHU-heated warm box).
    cell_temperature_k : override the panel balance, K, scalar or (N,).
    ground_temperature_k : ground temperature for the panel's infrared load, K (N,), e.g. from
        :func:`farside.rover.regolith_temperature`; default the zero-inertia level ground.

    Returns
    -------
    PowerTrace
    """
    t = check_times(t_s)
    n = t.size
    if not isinstance(rover, Rover):
        raise invalid("rover", type(rover).__name__, "a farside.rover.Rover")
    if not (isinstance(soc0, int | float) and 0.0 <= soc0 <= 1.0):
        raise invalid("soc0", soc0, "a state of charge in [0, 1]")
    if not (rover.battery_wh > 0 and 0 < rover.charge_efficiency <= 1 and 0 < rover.discharge_efficiency <= 1):
        raise invalid("rover", (rover.battery_wh, rover.charge_efficiency, rover.discharge_efficiency),
                      "battery_wh > 0 and charge/discharge efficiencies in (0, 1]")
    if not (math.isfinite(sleep_w) and sleep_w >= 0.0):
        raise invalid("sleep_w", sleep_w, "a finite power >= 0 W")
    sun = np.asarray(sun_enu, float)
    if sun.shape != (n, 3):
        raise invalid("sun_enu", f"array of shape {sun.shape}", f"unit vectors of shape ({n}, 3)")
    modes = _mode_array(mode, n)
    p_drive = _per_sample(drive_power_w, "drive_power_w", n)
    mobile = np.isin(modes, MOBILITY_MODES)
    if np.any((p_drive > 0.0) & ~mobile):
        k = int(np.nonzero((p_drive > 0.0) & ~mobile)[0][0])
        raise invalid("drive_power_w", f"{p_drive[k]:g} W at t_s[{k}] in mode {modes[k]!r}",
                      f"0 outside the mobility modes {MOBILITY_MODES}")
    p_payload = _per_sample(payload_w, "payload_w", n)
    p_comms = _per_sample(comms_w, "comms_w", n)

    array_w, t_cell = array_power(sun, rover=rover, sun_distance_au=sun_distance_au, panel=panel,
                                  panel_tilt_deg=panel_tilt_deg, cell_temperature_k=cell_temperature_k,
                                  ground_temperature_k=ground_temperature_k)
    working = (modes == "awake") | mobile
    load = np.where(working, rover.avionics_w + p_payload + p_comms, 0.0)
    load = load + np.where(mobile, p_drive, 0.0)
    load = load + np.where(modes == "nap", rover.nap_w, 0.0) + np.where(modes == "sleep", sleep_w, 0.0)

    eta_c, eta_d = rover.charge_efficiency, rover.discharge_efficiency
    cap_j = rover.battery_wh * 3600.0
    dt = np.append(np.diff(t), 0.0)
    stored = np.empty(n)
    p_c = np.zeros(n)
    p_d = np.zeros(n)
    curtailed = np.zeros(n)
    unserved = np.zeros(n)
    e = soc0 * cap_j
    for k in range(n):
        stored[k] = e
        net = array_w[k] - load[k]
        h = dt[k]
        if net >= 0.0:
            room = cap_j - e
            if h > 0.0:
                p_c[k] = min(net, room / (eta_c * h))
            else:
                p_c[k] = net if room > 0.0 else 0.0
            curtailed[k] = net - p_c[k]
            e = min(e + eta_c * p_c[k] * h, cap_j)
        else:
            need = -net
            if h > 0.0:
                p_d[k] = min(need, e * eta_d / h)
            else:
                p_d[k] = need if e > 0.0 else 0.0
            unserved[k] = need - p_d[k]
            e = max(e - p_d[k] / eta_d * h, 0.0)
    return PowerTrace(
        t_s=t, array_w=array_w, load_w=load, battery_w=p_c - p_d, soc=stored / cap_j,
        charge_loss_w=(1.0 - eta_c) * p_c, discharge_loss_w=(1.0 / eta_d - 1.0) * p_d,
        curtailed_w=curtailed, unserved_w=unserved, cell_temperature_k=t_cell, capacity_wh=float(rover.battery_wh))


@dataclass(frozen=True)
class WarmBox:
    """The rover's insulated warm box at night (all values **UNCONFIRMED**: Yutu-2's thermal design
    is not published beyond "radioisotope heater units" and the cabin's -20..+50 C working range,
    docs/references.md 3).

    ``area_m2`` radiating area of the multilayer-insulated box (the 1.5 x 1.0 m body's top and sides
    less the deck); ``emittance`` the blanket's effective emittance (practical MLI: 0.01-0.03,
    Gilmore, *Spacecraft Thermal Control Handbook*, 2002; we take 0.02); ``setpoint_k`` the lowest
    box temperature the heaters hold (-20 C, the published working minimum); ``ground_view`` the
    fraction of the box's view filled by the regolith (the rest is the 3 K sky); ``rhu_w`` the
    radioisotope heaters' output (assumed).
    """

    area_m2: float = 3.0
    emittance: float = 0.02
    setpoint_k: float = 253.15
    ground_view: float = 0.5
    rhu_w: float = 20.0


def warm_box_heat_loss_w(regolith_temperature_k: np.ndarray, box: WarmBox = WarmBox()) -> np.ndarray:
    """Heat (W) the warm box loses through its blanket at its setpoint, radiating to the regolith
    (``ground_view``) and to the sky: ``e* sigma A (T_box^4 - f T_reg^4)``; the RHUs must supply it
    while the rover sleeps (no electrical heater at night; :func:`simulate_power`).

    >>> round(float(warm_box_heat_loss_w(np.array([90.0]))[0]), 2)
    13.86
    """
    t = np.asarray(regolith_temperature_k, float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise invalid("regolith_temperature_k", "non-finite or negative values", "temperatures in K >= 0")
    return box.emittance * STEFAN_BOLTZMANN * box.area_m2 * (box.setpoint_k ** 4 - box.ground_view * t ** 4)
