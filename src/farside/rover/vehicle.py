"""The rover as a vehicle: geometry, mass, wheels, suspension, power hardware.

:data:`YUTU2` is the Chang'e-4 rover. Published (docs/references.md 3): mass 135-140 kg (we take
135 kg, the value quoted for Yutu-2; NSSDC's 140 kg is Yutu/CE-3 heritage), body 1.5 x 1.0 x 1.1 m,
six wheels on a rocker-bogie, the four corner wheels steer, mesh wheels, top speed 200 m/h, climbs
20 deg, crosses 20 cm obstacles, two solar wings, radioisotope heater units.

Everything else below is **UNCONFIRMED** (no readable source gives it; docs/references.md 8) and
collected here, in one place, as parameters:

* wheel diameter 0.30 m, width 0.15 m, 24 grousers 0.005 m high (Yutu/CE-3 wheel values quoted in
  the Chinese terramechanics literature on the Yutu wheel; not confirmed for Yutu-2);
* wheelbase 1.0 m (front-middle 0.5 m, middle-rear 0.5 m), track 1.0 m between wheel centres,
  rocker pivot 0.45 m and bogie pivot 0.30 m above the wheel axles, belly 0.30 m above the
  ground on level terrain (it must clear the published 0.20 m obstacle), centre of mass 0.55 m
  above the ground, centred;
* solar array 2 x 0.75 m^2 of triple-junction GaAs cells, 28 % efficient at 28 C, -0.2 %/K,
  wings tilted 0 deg (horizontal) and turned towards the Sun while driving;
* battery 1.2 kWh (usable), 95 % charge and 95 % discharge efficiency;
* loads: avionics 20 W awake, 5 W in the noon nap, 0 W asleep; heaters and the radioisotope heater
  units hold the warm box through the night; the drive motors 60 % efficient from electrical to
  wheel shaft power.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from farside.constants import MOON_G0_M_S2

__all__ = ["Rover", "YUTU2", "WHEEL_NAMES"]

#: Wheel order used everywhere: 0-2 left front to rear, 3-5 right front to rear.
WHEEL_NAMES = ("left front", "left middle", "left rear", "right front", "right middle", "right rear")


@dataclass(frozen=True)
class Rover:
    """A six-wheeled rocker-bogie rover. SI units; body frame x forward, y left, z up, origin on
    the ground below the body centre (level terrain, nominal pose).

    ``wheel_xy_m`` is (6, 2): the wheels' contact points in the body frame, ordered
    :data:`WHEEL_NAMES`; the rocker joins the front wheel to the bogie pivot, the bogie joins the
    middle and rear wheels (``bogie_pivot_x_m`` is the bogie pivot's x; the rocker pivot is at
    x = ``rocker_pivot_x_m`` on the body's side). ``steered`` marks the corner wheels.
    """

    name: str
    mass_kg: float
    body_length_m: float
    body_width_m: float
    body_height_m: float
    wheel_diameter_m: float
    wheel_width_m: float
    grouser_height_m: float
    grouser_count: int
    wheel_xy_m: np.ndarray
    steered: tuple[bool, ...]
    rocker_pivot_x_m: float
    rocker_pivot_height_m: float
    bogie_pivot_x_m: float
    bogie_pivot_height_m: float
    belly_clearance_m: float
    cg_height_m: float
    mast_height_m: float
    max_speed_mps: float
    max_slope_deg: float
    max_obstacle_m: float
    solar_area_m2: float
    solar_efficiency: float
    solar_temp_coeff_per_k: float
    battery_wh: float
    charge_efficiency: float
    discharge_efficiency: float
    motor_efficiency: float
    avionics_w: float
    nap_w: float
    gravity_m_s2: float = MOON_G0_M_S2
    unconfirmed: tuple[str, ...] = field(default=())

    @property
    def weight_n(self) -> float:
        """Weight on the Moon's surface, N."""
        return self.mass_kg * self.gravity_m_s2

    @property
    def wheel_radius_m(self) -> float:
        return 0.5 * self.wheel_diameter_m

    @property
    def wheelbase_m(self) -> float:
        return float(self.wheel_xy_m[:, 0].max() - self.wheel_xy_m[:, 0].min())

    @property
    def track_m(self) -> float:
        return float(self.wheel_xy_m[:, 1].max() - self.wheel_xy_m[:, 1].min())


YUTU2 = Rover(
    name="Yutu-2",
    mass_kg=135.0,
    body_length_m=1.5,
    body_width_m=1.0,
    body_height_m=1.1,
    wheel_diameter_m=0.30,
    wheel_width_m=0.15,
    grouser_height_m=0.005,
    grouser_count=24,
    wheel_xy_m=np.array([[0.5, 0.5], [0.0, 0.5], [-0.5, 0.5],
                         [0.5, -0.5], [0.0, -0.5], [-0.5, -0.5]]),
    steered=(True, False, True, True, False, True),
    rocker_pivot_x_m=0.0,
    rocker_pivot_height_m=0.45,
    bogie_pivot_x_m=-0.25,
    bogie_pivot_height_m=0.30,
    belly_clearance_m=0.30,
    cg_height_m=0.55,
    mast_height_m=1.5,
    max_speed_mps=200.0 / 3600.0,
    max_slope_deg=20.0,
    max_obstacle_m=0.20,
    solar_area_m2=1.5,
    solar_efficiency=0.28,
    solar_temp_coeff_per_k=-0.002,
    battery_wh=1200.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    motor_efficiency=0.60,
    avionics_w=20.0,
    nap_w=5.0,
    unconfirmed=("wheel_diameter_m", "wheel_width_m", "grouser_height_m", "grouser_count",
                 "wheel_xy_m", "rocker_pivot_x_m", "rocker_pivot_height_m", "bogie_pivot_x_m",
                 "bogie_pivot_height_m", "belly_clearance_m", "cg_height_m", "solar_area_m2",
                 "solar_efficiency", "solar_temp_coeff_per_k", "battery_wh", "charge_efficiency",
                 "discharge_efficiency", "motor_efficiency", "avionics_w", "nap_w"),
)
