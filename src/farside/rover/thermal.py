"""Regolith surface temperature: a 1-D heat-conduction model with thermal inertia.

The model is the "standard" lunar regolith model of Hayne et al. (2017, JGR Planets 122, 2371,
appendix A; docs/references.md 7.8), fitted there to Diviner radiometer data (Vasavada et al. 2012):

* density ``rho(z) = rho_d - (rho_d - rho_s) exp(-z/H)`` and contact conductivity
  ``k_c(z) = k_d - (k_d - k_s) exp(-z/H)`` (same H);
* conductivity with the radiative term ``k = k_c (1 + chi (T/350 K)^3)``;
* heat capacity ``c(T) = c0 + c1 T + c2 T^2 + c3 T^3 + c4 T^4`` (Hayne's fit to Hemingway et al. 1981
  and Ledlow et al. 1992);
* surface balance ``eps sigma T^4 = (1 - A(i)) S cos(i) + k dT/dz`` with the incidence-dependent
  albedo ``A(i) = A0 + a (i/45 deg)^3 + b (i/90 deg)^8`` and ``S = S0 / r_au^2``;
* geothermal flux ``Q_b`` into the bottom of the column.

Numerics (:mod:`farside.rover._kernels_thermal`): finite volumes on a geometrically growing grid to
about 1 m, backward Euler in time with the surface emission linearised (Newton) and the properties
re-evaluated (Picard) until a step changes by less than 0.01 K. The caller's times are subdivided
into steps of at most ``max_step_s``; the Sun direction is linearly interpolated (and renormalised)
between the caller's samples.

Spin-up: before ``t_s[0]`` the column is run for ``spinup_lunations`` synodic periods under a
periodic Sun: the first Sun direction rotated back about the Moon's spin axis at the synodic rate
(the axis is estimated from the track itself, or given through ``latitude_deg``), starting from
the uniform temperature ``T_rad/sqrt(2)`` of Hayne et al. (2017, eq. A34). The deep column relaxes
slowly (a time constant of years at 1 m); all but the last two spin-up lunations therefore run with
the heat capacity below 0.3 m (where the diurnal wave is ~1 % of its surface amplitude) divided by
50, which leaves the periodic state above unchanged and brings the deep mean close to its
equilibrium. With the defaults (20 + 2 lunations) the pre-dawn minimum is within 0.1 K of a 400-
lunation unaccelerated spin-up (at the equator and at 45 deg), the noon maximum within 0.05 K.

Not modelled: shadowing or infrared and scattered light from the surroundings (a sloped surface sees
the Sun whenever it is above the horizontal plane and faces the slope, and radiates to a full sky),
rocks, the rover's own shadow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farside.constants import MOON_SYNODIC_DAY_S
from farside.errors import invalid
from farside.rover._kernels_thermal import solve_column

__all__ = [
    "HAYNE2017",
    "SOLAR_CONSTANT_W_M2",
    "STEFAN_BOLTZMANN",
    "RegolithProperties",
    "absorbed_flux",
    "albedo_incidence",
    "radiative_equilibrium_temperature",
    "regolith_grid",
    "regolith_temperature",
]

#: Total solar irradiance at 1 au, 1361 W/m^2 (Kopp & Lean 2011, GRL 38, L01706: 1360.8 +- 0.5;
#: docs/references.md 7.8).
SOLAR_CONSTANT_W_M2 = 1361.0
#: Spin-up acceleration: heat capacity x _ACCEL_CAP below _ACCEL_DEPTH_M (where the diurnal wave
#: has decayed to ~1 % of its surface amplitude) during all but the last 2 spin-up lunations.
_ACCEL_DEPTH_M = 0.3
_ACCEL_CAP = 0.02
#: Convergence of each backward-Euler step (largest change, K) and its iteration cap.
_TOL_K = 0.01
_MAX_ITER = 30
#: Stefan-Boltzmann constant, W/(m^2 K^4) (CODATA 2018, exact from the SI defining constants).
STEFAN_BOLTZMANN = 5.670374419e-8


@dataclass(frozen=True)
class RegolithProperties:
    """Thermophysical parameters of the regolith column (SI). Defaults: :data:`HAYNE2017`."""

    rho_surface_kg_m3: float = 1100.0
    rho_deep_kg_m3: float = 1800.0
    h_m: float = 0.06
    k_surface_w_mk: float = 7.4e-4
    k_deep_w_mk: float = 3.4e-3
    chi: float = 2.7
    cp_coeffs: tuple[float, float, float, float, float] = (-3.6125, 2.7431, 2.3616e-3, -1.2340e-5, 8.9093e-9)
    emissivity: float = 0.95
    albedo0: float = 0.12
    albedo_a: float = 0.06
    albedo_b: float = 0.25
    geothermal_flux_w_m2: float = 0.018

    def __post_init__(self) -> None:
        for name in ("rho_surface_kg_m3", "rho_deep_kg_m3", "h_m", "k_surface_w_mk", "k_deep_w_mk"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise invalid(name, v, "a finite number > 0")
        if not (0.0 < self.emissivity <= 1.0):
            raise invalid("emissivity", self.emissivity, "a number in (0, 1]")
        if not (0.0 <= self.albedo0 < 1.0):
            raise invalid("albedo0", self.albedo0, "a number in [0, 1)")
        if not (self.chi >= 0.0):
            raise invalid("chi", self.chi, "a number >= 0")
        if len(self.cp_coeffs) != 5:
            raise invalid("cp_coeffs", self.cp_coeffs, "5 polynomial coefficients c0..c4")

    def density(self, z_m: np.ndarray) -> np.ndarray:
        """rho(z), kg/m^3 (Hayne et al. 2017 eq. A2)."""
        z = np.asarray(z_m, float)
        return self.rho_deep_kg_m3 - (self.rho_deep_kg_m3 - self.rho_surface_kg_m3) * np.exp(-z / self.h_m)

    def contact_conductivity(self, z_m: np.ndarray) -> np.ndarray:
        """k_c(z), W/(m K) (Hayne et al. 2017 eq. A3)."""
        z = np.asarray(z_m, float)
        return self.k_deep_w_mk - (self.k_deep_w_mk - self.k_surface_w_mk) * np.exp(-z / self.h_m)

    def heat_capacity(self, t_k: np.ndarray) -> np.ndarray:
        """c(T), J/(kg K) (Hayne et al. 2017 eq. A6)."""
        return np.polyval(self.cp_coeffs[::-1], np.asarray(t_k, float))

    def conductivity(self, z_m: np.ndarray, t_k: np.ndarray) -> np.ndarray:
        """k(z, T) = k_c(z) (1 + chi (T/350)^3), W/(m K) (Hayne et al. 2017 eq. A4-A5)."""
        return self.contact_conductivity(z_m) * (1.0 + self.chi * (np.asarray(t_k, float) / 350.0) ** 3)


#: The Hayne et al. (2017) standard model (docs/references.md 7.8): H = 0.06 m (their Table A1;
#: 0.07 m is their global average), highland normal albedo A0 = 0.12.
HAYNE2017 = RegolithProperties()


def albedo_incidence(incidence_rad: np.ndarray, properties: RegolithProperties = HAYNE2017) -> np.ndarray:
    """Bolometric Bond albedo at solar incidence ``i`` (rad): A0 + a (i/(pi/4))^3 + b (i/(pi/2))^8
    (Keihm 1984 form, Hayne et al. 2017 eq. A8)."""
    i = np.asarray(incidence_rad, float)
    p = properties
    return p.albedo0 + p.albedo_a * (i / (0.25 * np.pi)) ** 3 + p.albedo_b * (i / (0.5 * np.pi)) ** 8


def check_times(t_s) -> np.ndarray:
    """``t_s`` as a non-empty, finite, non-decreasing float64 1-D array (one-line error otherwise)."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise invalid("t_s", f"array of shape {np.shape(t_s)}", "a non-empty 1-D array of finite seconds")
    if np.any(np.diff(t) < 0.0):
        raise invalid("t_s", "decreasing times", "non-decreasing times")
    return t


def _unit_rows(v: np.ndarray, name: str, n: int) -> np.ndarray:
    a = np.asarray(v, float)
    if a.shape == (3,):
        a = np.broadcast_to(a, (n, 3))
    if a.shape != (n, 3) or not np.all(np.isfinite(a)):
        raise invalid(name, f"array of shape {np.shape(v)}", f"finite unit vectors, shape (3,) or ({n}, 3)")
    norm = np.linalg.norm(a, axis=1)
    if np.any(np.abs(norm - 1.0) > 1e-3):
        raise invalid(name, f"norms {norm.min():.4f}..{norm.max():.4f}", "unit vectors (norm 1 within 1e-3)")
    return a / norm[:, None]


def absorbed_flux(sun_enu: np.ndarray, normal_enu: np.ndarray, sun_distance_au: np.ndarray | float = 1.0,
                  properties: RegolithProperties = HAYNE2017,
                  solar_constant_w_m2: float = SOLAR_CONSTANT_W_M2) -> np.ndarray:
    """Absorbed solar flux (W/m^2) on a surface with unit normal ``normal_enu`` ((3,) or (N, 3)):
    (1 - A(i)) S0/r^2 cos(i) where the Sun is above both the surface and the horizontal plane,
    else 0. No shadowing by the surroundings."""
    s = np.atleast_2d(np.asarray(sun_enu, float))
    nrm = np.broadcast_to(np.asarray(normal_enu, float), s.shape)
    cos_i = np.einsum("ij,ij->i", s, nrm)
    lit = (cos_i > 0.0) & (s[:, 2] > 0.0)
    inc = np.arccos(np.clip(cos_i, -1.0, 1.0))
    r = np.asarray(sun_distance_au, float)
    q = (1.0 - albedo_incidence(inc, properties)) * solar_constant_w_m2 / r ** 2 * cos_i
    return np.where(lit, q, 0.0)


def radiative_equilibrium_temperature(incidence_deg: np.ndarray | float, *, albedo: float | None = None,
                                      emissivity: float = HAYNE2017.emissivity,
                                      solar_flux_w_m2: float = SOLAR_CONSTANT_W_M2,
                                      properties: RegolithProperties = HAYNE2017) -> np.ndarray:
    """Zero-inertia surface temperature: eps sigma T^4 = (1 - A) F cos(i), K.

    Parameters
    ----------
    incidence_deg : solar incidence angle(s) from the surface normal, degrees; >= 90 gives 0 K.
    albedo : a constant Bond albedo, or None for the incidence-dependent A(i) of ``properties``.
    emissivity : infrared emissivity (default 0.95, Hayne et al. 2017).
    solar_flux_w_m2 : solar flux at the body, W/m^2 (1361 / r_au^2).
    """
    i_deg = np.asarray(incidence_deg, float)
    if not np.all(np.isfinite(i_deg)):
        raise invalid("incidence_deg", incidence_deg, "finite angles in degrees")
    if not (0.0 < emissivity <= 1.0):
        raise invalid("emissivity", emissivity, "a number in (0, 1]")
    if not (math.isfinite(solar_flux_w_m2) and solar_flux_w_m2 >= 0.0):
        raise invalid("solar_flux_w_m2", solar_flux_w_m2, "a finite flux >= 0 W/m^2")
    i_rad = np.radians(np.abs(i_deg))
    if albedo is None:
        a = albedo_incidence(np.minimum(i_rad, 0.5 * np.pi), properties)
    else:
        if not (0.0 <= albedo < 1.0):
            raise invalid("albedo", albedo, "a number in [0, 1) or None")
        a = albedo
    q = np.maximum((1.0 - a) * solar_flux_w_m2 * np.cos(i_rad), 0.0)
    return (q / (emissivity * STEFAN_BOLTZMANN)) ** 0.25


def regolith_grid(properties: RegolithProperties = HAYNE2017, *, depth_m: float = 1.0, layers_per_skin: int = 10,
                  growth: float = 1.15) -> np.ndarray:
    """Node depths (m) of the solver grid: first layer = diurnal skin depth / ``layers_per_skin``
    (skin depth sqrt(kappa P/pi) with the surface properties at 250 K, ~3 cm), each next layer
    ``growth`` times thicker (Hayne et al. 2017 eq. A31-A33), down to at least ``depth_m``."""
    if not (depth_m > 0.0 and layers_per_skin >= 1 and growth >= 1.0):
        raise invalid("regolith_grid", (depth_m, layers_per_skin, growth),
                      "depth_m > 0, layers_per_skin >= 1, growth >= 1")
    p = properties
    kappa = p.k_surface_w_mk / (p.rho_surface_kg_m3 * float(p.heat_capacity(250.0)))
    skin = math.sqrt(kappa * MOON_SYNODIC_DAY_S / math.pi)
    dz = skin / layers_per_skin
    z = [0.0]
    while z[-1] < depth_m:
        z.append(z[-1] + dz)
        dz *= growth
    return np.asarray(z)


def _spin_axis(sun: np.ndarray, latitude_deg: float | None) -> np.ndarray:
    """Unit axis ``p`` about which the Sun turns by -omega*t (westward) in site ENU."""
    if latitude_deg is not None:
        if not (math.isfinite(latitude_deg) and -90.0 <= latitude_deg <= 90.0):
            raise invalid("latitude_deg", latitude_deg, "None or a latitude in [-90, 90] degrees")
        lat = math.radians(latitude_deg)
        return np.array([0.0, math.cos(lat), math.sin(lat)])   # the Moon's north pole in ENU
    d = np.diff(sun, axis=0)
    if len(d) == 0 or np.max(np.linalg.norm(d, axis=1), initial=0.0) < 1e-9:
        raise invalid("sun_enu", f"{len(sun)} sample(s) without motion",
                      "a Sun track of >= 2 distinct directions, or give latitude_deg for the spin-up")
    # the spin axis lies in the north-up plane; the Sun's motion is perpendicular to it
    m = d[:, 1:].T @ d[:, 1:]
    _w, v = np.linalg.eigh(m)
    p = np.array([0.0, v[0, 0], v[1, 0]])
    turn = float(np.sum(np.einsum("ij,j->i", np.cross(sun[:-1], sun[1:]), p)))
    return p if turn < 0.0 else -p


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate the vector ``v`` (3,) about the unit ``axis`` by each ``angle`` (M,)."""
    ca, sa = np.cos(angle)[:, None], np.sin(angle)[:, None]
    kxv = np.cross(axis, v)
    return v * ca + kxv * sa + axis * float(axis @ v) * (1.0 - ca)


def regolith_temperature(t_s: np.ndarray, sun_enu: np.ndarray, *, normal_enu: np.ndarray | tuple = (0.0, 0.0, 1.0),
                         sun_distance_au: np.ndarray | float = 1.0,
                         properties: RegolithProperties = HAYNE2017,
                         latitude_deg: float | None = None,
                         spinup_lunations: int = 22, spinup_step_s: float = 7200.0,
                         max_step_s: float = 600.0, depth_m: float = 1.0,
                         solar_constant_w_m2: float = SOLAR_CONSTANT_W_M2) -> np.ndarray:
    """Regolith surface temperature (K) at the times ``t_s`` under the Sun ``sun_enu``.

    Parameters
    ----------
    t_s : (N,) float64 mission seconds, non-decreasing.
    sun_enu : (N, 3) unit vectors towards the Sun in site ENU (from
        :func:`farside.ephemeris.sun_direction_enu`).
    normal_enu : the surface's unit normal in ENU, (3,) or (N, 3); default level ground.
    sun_distance_au : Sun distance, au, scalar or (N,) (January 2019 is near perihelion, ~0.983).
    properties : the regolith (default :data:`HAYNE2017`).
    latitude_deg : selenographic latitude for the spin-up's Sun; None estimates the Moon's spin
        axis from the track itself (needs >= 2 distinct Sun directions).
    spinup_lunations, spinup_step_s : length and step of the periodic spin-up before ``t_s[0]``.
    max_step_s : longest solver step inside the timeline, s.
    depth_m : depth of the column, m (bottom: the geothermal flux).

    Returns
    -------
    (N,) float64 surface temperatures, K.

    >>> import numpy as np
    >>> t = np.arange(0.0, 2 * 86400.0, 3600.0)
    >>> h = 2 * np.pi * t / (29.53 * 86400)                  # hour angle from noon, equator
    >>> sun = np.stack([-np.sin(h), np.zeros_like(h), np.cos(h)], axis=1)
    >>> T = regolith_temperature(t, sun, latitude_deg=0.0)
    >>> bool(370.0 < T[0] < 395.0)                            # noon at the equator
    True
    """
    t = check_times(t_s)
    n = t.size
    sun = _unit_rows(sun_enu, "sun_enu", n)
    nrm = _unit_rows(normal_enu, "normal_enu", n)
    dist = np.broadcast_to(np.asarray(sun_distance_au, float), (n,)) if np.ndim(sun_distance_au) == 0 \
        else np.asarray(sun_distance_au, float)
    if dist.shape != (n,) or not np.all(np.isfinite(dist) & (dist > 0.0)):
        raise invalid("sun_distance_au", f"array of shape {np.shape(sun_distance_au)}", f"positive au, scalar or ({n},)")
    if isinstance(spinup_lunations, bool) or not isinstance(spinup_lunations, int | np.integer) or spinup_lunations < 0:
        raise invalid("spinup_lunations", spinup_lunations, "an integer >= 0")
    for name, v in (("spinup_step_s", spinup_step_s), ("max_step_s", max_step_s)):
        if not (math.isfinite(v) and v > 0.0):
            raise invalid(name, v, "a finite number of seconds > 0")

    props = properties
    omega = 2.0 * math.pi / MOON_SYNODIC_DAY_S
    z = regolith_grid(props, depth_m=depth_m)
    rho = props.density(z)
    kc = props.contact_conductivity(z)

    # --- spin-up forcing: the first Sun rotated back about the spin axis ----------------------
    # phase A: the first (spinup_lunations - 2) lunations at spinup_step_s with the heat capacity
    # below _ACCEL_DEPTH_M scaled by _ACCEL_CAP (the deep column relaxes to its mean ~50x faster);
    # phase B: the last 2 lunations with the physical column at max_step_s.
    n_b_lun = min(spinup_lunations, 2)
    n_a_lun = spinup_lunations - n_b_lun
    steps_a = math.ceil(MOON_SYNODIC_DAY_S / spinup_step_s) if n_a_lun else 0
    steps_b = math.ceil(MOON_SYNODIC_DAY_S / max_step_s) if n_b_lun else 0
    dt_spin = np.concatenate([np.full(n_a_lun * steps_a, MOON_SYNODIC_DAY_S / max(steps_a, 1)),
                              np.full(n_b_lun * steps_b, MOON_SYNODIC_DAY_S / max(steps_b, 1))])
    n_spin = dt_spin.size
    n_accel = n_a_lun * steps_a
    if n_spin > 0:
        axis = _spin_axis(sun, latitude_deg)
        tau = np.sum(dt_spin) - np.cumsum(dt_spin)                 # time before t0 at each step end
        sun_spin = _rotate(sun[0], axis, omega * tau)
        q_spin = absorbed_flux(sun_spin, nrm[0], dist[0], props, solar_constant_w_m2)
        q_peak = float(np.max(q_spin))
    else:
        q_spin = np.zeros(0)
        q_peak = float(absorbed_flux(sun[:1], nrm[0], dist[0], props, solar_constant_w_m2)[0])
    # initial state: uniform T_rad / sqrt(2) (Hayne et al. 2017 eq. A34), at least 60 K
    t_init = max((q_peak / (props.emissivity * STEFAN_BOLTZMANN)) ** 0.25 / math.sqrt(2.0), 60.0)

    # --- the timeline: each interval cut into <= max_step_s steps ------------------------------
    dt_k = np.diff(t)
    n_sub = np.where(dt_k > 0.0, np.ceil(dt_k / max_step_s - 1e-9).astype(np.int64), 0)
    n_sub = np.maximum(n_sub, (dt_k > 0.0).astype(np.int64))
    k_of = np.repeat(np.arange(n - 1), n_sub)                       # interval of each fine step
    j_of = np.arange(k_of.size) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub) + 1
    frac = j_of / np.repeat(n_sub, n_sub).astype(float) if k_of.size else np.zeros(0)
    if k_of.size:
        s_f = sun[k_of] * (1.0 - frac)[:, None] + sun[k_of + 1] * frac[:, None]
        s_f /= np.linalg.norm(s_f, axis=1)[:, None]
        n_f = nrm[k_of] * (1.0 - frac)[:, None] + nrm[k_of + 1] * frac[:, None]
        n_f /= np.linalg.norm(n_f, axis=1)[:, None]
        r_f = dist[k_of] * (1.0 - frac) + dist[k_of + 1] * frac
        q_main = absorbed_flux(s_f, n_f, r_f, props, solar_constant_w_m2)
        dt_main = np.repeat(dt_k / np.maximum(n_sub, 1), n_sub)
    else:
        q_main = np.zeros(0)
        dt_main = np.zeros(0)

    q_all = np.concatenate([q_spin, q_main])
    dt_all = np.concatenate([dt_spin, dt_main])
    temp = np.full(z.size, t_init)
    cp = np.asarray(props.cp_coeffs, float)
    rec = np.zeros(1, dtype=np.int64)
    args = (z, rho, kc, float(props.chi), cp, float(props.emissivity), STEFAN_BOLTZMANN,
            float(props.geothermal_flux_w_m2), rec, _TOL_K, _MAX_ITER)
    surf_parts = []
    if n_accel:
        scale = np.where(z >= _ACCEL_DEPTH_M, _ACCEL_CAP, 1.0)
        out, _ = solve_column(dt_all[:n_accel], q_all[:n_accel], np.zeros(n_accel), False, temp, *args, scale)
        surf_parts.append(out[:, 0])
    if q_all.size > n_accel:
        m = q_all.size - n_accel
        out, _ = solve_column(dt_all[n_accel:], q_all[n_accel:], np.zeros(m), False, temp, *args, np.ones(z.size))
        surf_parts.append(out[:, 0])
    surf = np.concatenate(surf_parts) if surf_parts else np.zeros(0)

    result0 = surf[n_spin - 1] if n_spin > 0 else t_init
    full = np.concatenate([[result0], surf[n_spin:]])
    return full[np.concatenate([[0], np.cumsum(n_sub)])]
