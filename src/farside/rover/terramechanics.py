"""Wheel-soil interaction: soil parameter sets and the Wong-Reece rigid wheel.

:class:`Soil` holds Bekker pressure-sinkage and Mohr-Coulomb / Janosi-Hanamoto shear parameters in
SI units (docs/references.md 7.7). :func:`rigid_wheel` is the Wong-Reece rigid wheel (Wong & Reece
1967; Wong, *Theory of Ground Vehicles*, 4th ed., 2008): for a wheel load, size and slip it finds
the sinkage from the vertical force balance and returns drawbar pull, torque and compaction
resistance. The model, in one place:

* normal stress ``sigma = (k_c/b + k_phi) (r (cos th - cos th1))^n`` in front of the angle of maximum
  stress ``thm = (c1 + c2 i) th1``; behind it, the same at Wong-Reece's equivalent angle
  ``th1 - (th/thm)(th1 - thm)``; exit angle 0 (no rebound);
* shear stress ``tau = (c + sigma tan phi)(1 - exp(-|j|/K))`` signed like the shear displacement
  ``j``; ``j = rs[(th1 - th) - (1 - i)(sin th1 - sin th)]`` when driving (slip ``i = 1 - v/(r w)
  >= 0``) and ``j = rs[(1 + s)(th1 - th) - (sin th1 - sin th)]`` in skid (``s = r w / v - 1 < 0``;
  Wong's braked-wheel form, finite for a locked wheel ``s = -1``); in skid ``thm = c1 th1``;
* grousers of height ``h``: the soil shears on the cylinder through the grouser tips, radius
  ``rs = r + h``: ``j``, the shear area and the torque arm use ``rs``; the normal stress acts on the
  rim ``r`` and the sinkage is the rim's (a common simplification; grouser bulldozing is not
  modelled);
* vertical force ``W = r b int sigma cos + rs b int tau sin``, drawbar pull
  ``DP = rs b int tau cos - r b int sigma sin``, torque ``T = rs^2 b int tau``, motion resistance
  ``R = r b int sigma sin`` (compaction only: no bulldozing);
* integrals by fixed 32-node Gauss-Legendre on each smooth piece of the arc (agrees with
  ``scipy.integrate.quad`` to better than 1e-6 relative), roots by Brent's method, in numba
  (:mod:`farside.rover._kernels_wheel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.errors import PhysicsError, invalid
from farside.rover import _kernels_wheel as _k

__all__ = ["LLL_DRY_SAND", "LUNAR_REGOLITH", "WONG_LUNAR_SOIL", "Soil", "WheelForces", "rigid_wheel", "rigid_wheel_array"]


def _finite(name: str, value: float, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, valid: str | None = None) -> float:
    """Validate one scalar; return it as float. Raises ScenarioError with a one-line message."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise invalid(name, value, valid or "must be a finite number") from None
    ok = math.isfinite(x)
    if ok and lo is not None:
        ok = x > lo if lo_open else x >= lo
    if ok and hi is not None:
        ok = x < hi if hi_open else x <= hi
    if not ok:
        if valid is None:
            parts = []
            if lo is not None:
                parts.append(f"{'>' if lo_open else '>='} {lo:g}")
            if hi is not None:
                parts.append(f"{'<' if hi_open else '<='} {hi:g}")
            valid = "must be a finite number" + (" " + " and ".join(parts) if parts else "")
        raise invalid(name, value, valid)
    return x


@dataclass(frozen=True)
class Soil:
    """Terramechanics parameters of a soil, SI units.

    Parameters
    ----------
    n : float
        Bekker pressure-sinkage exponent (dimensionless), 0 < n <= 3.
    k_c : float
        Cohesive modulus of deformation, N/m^(n+1) (may be negative; ``k_c/b + k_phi`` must be > 0
        for the wheel width used).
    k_phi : float
        Frictional modulus of deformation, N/m^(n+2), > 0.
    cohesion_pa : float
        Cohesion c, Pa, >= 0.
    friction_angle_deg : float
        Angle of internal friction phi, deg, in [0, 90).
    shear_modulus_m : float
        Janosi-Hanamoto shear deformation modulus K, m, > 0.
    c1, c2 : float
        Wong-Reece coefficients of the angle of maximum stress ``thm = (c1 + c2 i) th1``
        (default 0.43, 0.32: the fit used by melanz/wheel-soil, docs/references.md 7.7);
        0 <= c1 < 1, c2 >= 0, c1 + c2 <= 1.
    bulk_density_kg_m3 : float
        Bulk density, kg/m^3 (not used by the rigid wheel, which has no bulldozing term).
    name : str
        Label.
    """

    n: float
    k_c: float
    k_phi: float
    cohesion_pa: float
    friction_angle_deg: float
    shear_modulus_m: float
    c1: float = 0.43
    c2: float = 0.32
    bulk_density_kg_m3: float = 1500.0
    name: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "n", _finite("n", self.n, lo=0.0, hi=3.0, lo_open=True))
        set_(self, "k_c", _finite("k_c", self.k_c))
        set_(self, "k_phi", _finite("k_phi", self.k_phi, lo=0.0, lo_open=True))
        set_(self, "cohesion_pa", _finite("cohesion_pa", self.cohesion_pa, lo=0.0))
        set_(self, "friction_angle_deg", _finite("friction_angle_deg", self.friction_angle_deg, lo=0.0,
                                                 hi=90.0, hi_open=True))
        set_(self, "shear_modulus_m", _finite("shear_modulus_m", self.shear_modulus_m, lo=0.0, lo_open=True))
        set_(self, "c1", _finite("c1", self.c1, lo=0.0, hi=1.0, hi_open=True))
        set_(self, "c2", _finite("c2", self.c2, lo=0.0))
        if self.c1 + self.c2 > 1.0:
            raise invalid("c1 + c2", self.c1 + self.c2, "must be <= 1 (the angle of maximum stress lies "
                                                          "inside the contact)")
        set_(self, "bulk_density_kg_m3", _finite("bulk_density_kg_m3", self.bulk_density_kg_m3, lo=0.0,
                                                 lo_open=True))
        if not isinstance(self.name, str):
            raise invalid("name", self.name, "must be a string")

    @property
    def tan_phi(self) -> float:
        return math.tan(math.radians(self.friction_angle_deg))

    def k_eq(self, width_m: float) -> float:
        """Bekker's combined modulus ``k_c / b + k_phi`` (N/m^(n+2)) for a plate/wheel of width b."""
        return self.k_c / width_m + self.k_phi


#: The classical lunar-soil set (Bekker/Wong; the Project Chrono VIPER parameters, docs/references.md
#: 7.7): n = 1, k_c = 1.4e3 N/m^2, k_phi = 8.2e5 N/m^3, c = 170 Pa, phi = 35 deg, K = 1.78e-2 m. Bulk
#: density 1500 kg/m^3: the lower end of Carrier, Olhoeft & Mendell (1991)'s 1.5-1.7 g/cm^3 for the
#: top ~30 cm (the loose top layer a wheel works in). On it the assumed Yutu-2 climbs only ~14 deg,
#: below the rover's published 20 deg (docs/rover.md).
WONG_LUNAR_SOIL = Soil(n=1.0, k_c=1.4e3, k_phi=8.2e5, cohesion_pa=170.0, friction_angle_deg=35.0,
                       shear_modulus_m=1.78e-2, bulk_density_kg_m3=1500.0, name="lunar soil (Wong/Chrono set)")

#: farside's default lunar regolith: the pressure-sinkage and shear-deformation parameters of the
#: lunar-soil set above (n, k_c, k_phi, K) with the shear strength of the top 15 cm recommended by
#: Carrier, Olhoeft & Mendell (1991, Lunar Sourcebook ch. 9, Table 9.12 as commonly quoted:
#: c = 0.52 kPa, phi = 42 deg; UNCONFIRMED: the table itself was not read here). Both lie inside the
#: ranges of docs/references.md 7.7 (c 0.1-1 kPa, phi 30-50 deg) and of the Yutu-2 site estimate
#: (c 520-3154 Pa, phi 21.5-42 deg). The choice is deliberate: the weaker Wong/Chrono set
#: (:data:`WONG_LUNAR_SOIL`) cannot carry the assumed Yutu-2 up its published 20 deg.
LUNAR_REGOLITH = Soil(n=1.0, k_c=1.4e3, k_phi=8.2e5, cohesion_pa=520.0, friction_angle_deg=42.0,
                      shear_modulus_m=1.78e-2, bulk_density_kg_m3=1500.0, name="lunar regolith")

#: Land Locomotion Laboratory dry sand (Wong 2008 via the Chrono SCM soil table; docs/references.md
#: 7.7): n = 1.1, k_c = 0.99e3, k_phi = 1528.43e3, c = 1.04e3 Pa, phi = 28 deg, K = 2e-2 m. Bulk
#: density: not in the source; 1500 kg/m^3 assumed (UNCONFIRMED, unused by the rigid wheel).
LLL_DRY_SAND = Soil(n=1.1, k_c=0.99e3, k_phi=1528.43e3, cohesion_pa=1.04e3, friction_angle_deg=28.0,
                    shear_modulus_m=2e-2, bulk_density_kg_m3=1500.0, name="LLL dry sand")


@dataclass(frozen=True)
class WheelForces:
    """Steady state of one rigid wheel on soil (SI units).

    Attributes
    ----------
    sinkage_m : float
        Rim sinkage below the undisturbed surface, m.
    drawbar_pull_n : float
        Net horizontal force the soil exerts on the wheel, N (positive forward).
    torque_nm : float
        Driving torque the wheel needs, N m (negative: the soil drives the wheel, i.e. braking).
    resistance_n : float
        Compaction resistance ``r b int sigma sin``, N.
    thrust_n : float
        Horizontal component of the shear force ``rs b int tau cos``, N (``drawbar = thrust -
        resistance``).
    entry_angle_rad : float
        Entry angle th1, rad.
    max_stress_angle_rad : float
        Angle of maximum normal stress thm, rad.
    slip : float
        The slip (positive) or skid (negative) it was computed for.
    """

    sinkage_m: float
    drawbar_pull_n: float
    torque_nm: float
    resistance_n: float
    thrust_n: float
    entry_angle_rad: float
    max_stress_angle_rad: float
    slip: float


def _soil(soil: Soil) -> Soil:
    if not isinstance(soil, Soil):
        raise invalid("soil", soil, "must be a farside.rover.Soil")
    return soil


def _pack(soil: Soil, radius_m: float, width_m: float, grouser_height_m: float) -> np.ndarray:
    k = soil.k_eq(width_m)
    if not (k > 0.0):
        raise invalid("soil.k_c / width_m + soil.k_phi", k, "must be > 0 for this wheel width")
    return _k.pack(soil.k_c, soil.k_phi, soil.n, soil.cohesion_pa, soil.tan_phi, soil.shear_modulus_m,
                   soil.c1, soil.c2, radius_m, radius_m + grouser_height_m, width_m)


def rigid_wheel(soil: Soil, *, load_n: float, diameter_m: float, width_m: float, slip: float,
                grouser_height_m: float = 0.0) -> WheelForces:
    """Wong-Reece rigid wheel in steady state (see the module docstring for the model).

    Parameters
    ----------
    soil : Soil
        The soil.
    load_n : float
        Vertical load on the wheel, N (> 0).
    diameter_m, width_m : float
        Rim diameter and width, m (> 0).
    slip : float
        In [-1, 1): positive is driving slip ``i = 1 - v / (r w)``; negative is skid
        ``s = r w / v - 1`` (-1: a locked wheel dragged along).
    grouser_height_m : float
        Grouser height, m (>= 0): the shear surface is at radius ``r + h``.

    Returns
    -------
    WheelForces

    Raises
    ------
    ScenarioError
        An invalid argument (one line).
    PhysicsError
        The soil cannot carry the load before the wheel sinks to its axle.
    """
    soil = _soil(soil)
    load = _finite("load_n", load_n, lo=0.0, lo_open=True)
    d = _finite("diameter_m", diameter_m, lo=0.0, lo_open=True)
    b = _finite("width_m", width_m, lo=0.0, lo_open=True)
    s = _finite("slip", slip, lo=-1.0, hi=1.0, hi_open=True, valid="must be a finite number in [-1, 1)")
    h = _finite("grouser_height_m", grouser_height_m, lo=0.0)
    p = _pack(soil, 0.5 * d, b, h)
    th1, z, dp, tq, res, thrust = _k.wheel(load, s, p)
    if not math.isfinite(th1):
        what = f"the soil {soil.name!r}" if soil.name else "the soil"
        raise invalid("load_n", load, f"{what} cannot carry it before a {d:g} m x {b:g} m wheel sinks to "
                      "its axle", PhysicsError)
    return WheelForces(sinkage_m=float(z), drawbar_pull_n=float(dp), torque_nm=float(tq),
                       resistance_n=float(res), thrust_n=float(thrust), entry_angle_rad=float(th1),
                       max_stress_angle_rad=float(_k.theta_m(th1, s, p)), slip=s)


def rigid_wheel_array(soil: Soil, *, load_n, diameter_m, width_m, slip, grouser_height_m=0.0
                      ) -> dict[str, np.ndarray]:
    """:func:`rigid_wheel` broadcast over arrays of load, size and slip.

    Returns a dict of arrays of the broadcast shape with the keys of :class:`WheelForces`
    (``sinkage_m``, ``drawbar_pull_n``, ``torque_nm``, ``resistance_n``, ``thrust_n``,
    ``entry_angle_rad``). Entries where the wheel would sink to its axle are NaN (no error).
    """
    soil = _soil(soil)
    arrs = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                 (load_n, diameter_m, width_m, slip, grouser_height_m)))
    names = ("load_n", "diameter_m", "width_m", "slip", "grouser_height_m")
    for name, a in zip(names, arrs):
        if not np.all(np.isfinite(a)):
            bad = a[~np.isfinite(a)].flat[0]
            raise invalid(name, float(bad), "must be finite")
    load, d, b, s, h = (np.ascontiguousarray(a.ravel()) for a in arrs)
    for name, a in (("load_n", load), ("diameter_m", d), ("width_m", b)):
        if np.any(a <= 0):
            raise invalid(name, float(a[a <= 0][0]), "must be > 0")
    if np.any((s < -1.0) | (s >= 1.0)):
        raise invalid("slip", float(s[(s < -1.0) | (s >= 1.0)][0]), "must be in [-1, 1)")
    if np.any(h < 0):
        raise invalid("grouser_height_m", float(h[h < 0][0]), "must be >= 0")
    if np.any(soil.k_c / b + soil.k_phi <= 0):
        raise invalid("soil.k_c / width_m + soil.k_phi", float(np.min(soil.k_c / b + soil.k_phi)), "must be > 0")
    r = 0.5 * d
    out = _k.wheel_array(load, s, soil.k_c, soil.k_phi, soil.n, soil.cohesion_pa, soil.tan_phi,
                         soil.shear_modulus_m, soil.c1, soil.c2, r, r + h, b)
    shape = arrs[0].shape
    return {
        "entry_angle_rad": out[:, 0].reshape(shape),
        "sinkage_m": out[:, 1].reshape(shape),
        "drawbar_pull_n": out[:, 2].reshape(shape),
        "torque_nm": out[:, 3].reshape(shape),
        "resistance_n": out[:, 4].reshape(shape),
        "thrust_n": out[:, 5].reshape(shape),
    }
