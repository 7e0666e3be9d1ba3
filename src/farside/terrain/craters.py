"""Lunar crater populations and crater shapes for procedural sites.

Population model
----------------
* **Production**: the Neukum, Ivanov & Hartmann (2001) lunar production function (PF), a degree-11
  polynomial in ``log10 D`` (docs/references.md 7.1), scaled to the surface age with the Neukum (1983)
  chronology ``N(1 km) = 5.44e-14 (exp(6.93 T) - 1) + 8.38e-4 T`` (per km^2, T in Gyr). We use
  ``a0 = -3.0768`` (craterstats' correction of the published -3.0876, which makes the PF's
  ``N(1 km)`` at 1 Gyr equal the chronology's 8.38e-4 km^-2). The PF is published for
  0.01-300 km; outside that range it is extended as a power law with the PF's local slope at the
  end point (the polynomial itself diverges below 10 m: it gives 1e41 km^-2 at 1 m). At the small
  diameters where the extension is used the Trask equilibrium is orders of magnitude lower, so the
  visible population does not depend on it.
* **Equilibrium**: Trask (1966) ``N(>D) = 10^-1.1 D^-2`` (docs/references.md 7.1); the form is the same
  with D in km and N per km^2 or D in m and N per m^2.
* The visible (cumulative) population is ``min(production, equilibrium)``; for the Chang'e-4
  floor (3.25 Gyr) the two cross at D ~ 150 m, so every crater below that is in equilibrium.

Shape model
-----------
A fresh simple crater of diameter ``D = 2R`` (docs/references.md 7.2, Pike 1974/1977) is, in units of R
and relative to the pre-impact surface:

* interior ``x = r/R <= 1``: a paraboloid bowl from the floor at ``h_rim - 0.4`` (rim-crest to
  floor depth ``0.2 D``) up to the rim crest ``h_rim = 0.072`` (rim height 0.036 D, Pike 1977);
* exterior: an ejecta blanket thinning as ``x^-3`` (McGetchin et al. 1973), shifted so that it
  reaches zero at ``x = 3`` (the stamp footprint is ``3 R``).

**Degradation** is linear topographic diffusion of this axisymmetric profile,
``dh/dt = kappa laplacian(h)``, solved once in the nondimensional time ``tau = kappa t / R^2`` by
an implicit radial finite-difference scheme (:func:`crater_profile`). A crater's degradation is
tied to the impact flux it has seen: with ``U ~ Uniform(0, 1)`` the fraction of the total flux
since the crater formed, its fraction of the flux that erases a crater of that size is
``u = U * min(1, N_prod(D) / N_eq(D))`` (equilibrium craters are uniformly spread over their
lifetime; production-regime craters have not lived a full lifetime) and ``tau = u * tau_erase``.
``tau_erase`` (:data:`TAU_ERASE`) is the one calibrated constant: it is set so that the mean
rim-to-floor d/D of equilibrium craters is 0.061, the value Wu et al. (2021) measured for the
small craters of the Chang'e-4 site (docs/references.md 7.2). Craters are then erased when their
d/D has dropped to about 0.020. (Since ``tau_erase`` is the same for all D while the erasing
flux grows with D, the implied diffusivity grows roughly linearly with D, as crater-degradation
studies find for small lunar craters.)

**Superposition** (:func:`stamp_craters`): craters are stamped oldest first. Each crater's profile
is *added* to the surface, and inside its rim the pre-existing relief is partly erased
("inheritance"): with ``h_ref`` the mean pre-impact height over the crater's disk,
``h_new = h_old + p(x) + (1 - x^2) (h_ref - h_old)`` for ``x < 1`` and ``h_old + p(x)`` outside.
At the centre the old relief is fully replaced (the floor lies ``p(0)`` below ``h_ref``); at the
rim it is fully inherited, so the surface stays continuous. Later craters therefore cut into and
partly erase earlier ones, and ejecta drape over them.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy.linalg import solve_banded

from farside.errors import invalid

__all__ = [
    "NEUKUM_2001_COEFFS",
    "TAU_ERASE",
    "neukum_chronology",
    "neukum_production",
    "trask_equilibrium",
    "cumulative_crater_density",
    "expected_crater_counts",
    "crater_profile",
    "crater_depth_ratio",
    "sample_craters",
    "stamp_craters",
]

#: Neukum, Ivanov & Hartmann (2001) lunar PF coefficients a0..a11 at T = 1 Gyr (docs/references.md 7.1);
#: a0 as corrected by craterstats (published -3.0876).
NEUKUM_2001_COEFFS = np.array([
    -3.0768, -3.557528, 0.781027, 1.021521, -0.156012, -0.444058,
    0.019977, 0.086850, -0.005874, -0.006809, 8.25e-4, 5.54e-5,
])
_PF_DMIN_KM = 0.01
_PF_DMAX_KM = 300.0

#: Rim height of a fresh simple crater / D (Pike 1977, ~0.036 D).
RIM_HEIGHT_RATIO = 0.036
#: Rim-crest-to-floor depth of a fresh simple crater / D (Pike 1974, 1977; docs/references.md 7.2).
FRESH_DEPTH_RATIO = 0.20
#: Stamp footprint radius in crater radii (ejecta reaches zero there).
FOOTPRINT_RADII = 3.0
#: Nondimensional diffusion time kappa t / R^2 at which a crater is erased (calibrated, see module
#: docstring: mean d/D of equilibrium craters = 0.061, Wu et al. 2021, docs/references.md 7.2).
TAU_ERASE = 0.54

# Profile table: sampled uniformly in s = (r/R)^2 on [0, FOOTPRINT_RADII^2] (no square root in the
# stamping kernel; the bowl is exactly linear in s); tau on [0] + log grid.
_NX_TABLE = 2048
_TAU_GRID = np.concatenate([[0.0], np.geomspace(1e-4, 2.0, 80)])


def _check_finite_positive(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise invalid(name, a if a.size <= 4 else f"array with {a.size} values", "finite values > 0")


def _check_age(age_gyr: float) -> float:
    age = float(age_gyr)
    if not (math.isfinite(age) and 0.0 < age <= 4.5):
        raise invalid("age_gyr", age_gyr, "a surface age in (0, 4.5] Gyr")
    return age


def neukum_chronology(age_gyr):
    """Cumulative crater density N(D > 1 km) per km^2 on a surface of age ``age_gyr`` (Gyr).

    ``N(1) = 5.44e-14 (exp(6.93 T) - 1) + 8.38e-4 T`` (Neukum 1983; NIH 2001; docs/references.md 7.1).
    Broadcasts; ages must lie in [0, 4.5] Gyr.
    """
    t = np.asarray(age_gyr, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t > 4.5):
        raise invalid("age_gyr", age_gyr, "ages in [0, 4.5] Gyr")
    return 5.44e-14 * np.expm1(6.93 * t) + 8.38e-4 * t


def _pf_log10(logd: np.ndarray) -> np.ndarray:
    out = np.zeros_like(logd)
    for j in range(len(NEUKUM_2001_COEFFS) - 1, -1, -1):
        out = out * logd + NEUKUM_2001_COEFFS[j]
    return out


def _pf_slope(logd: float) -> float:
    c = NEUKUM_2001_COEFFS
    return float(sum(j * c[j] * logd ** (j - 1) for j in range(1, len(c))))


def neukum_production(D_km, age_gyr):
    """Cumulative production N(>D) per km^2 for craters of diameter ``D_km`` on a surface of age
    ``age_gyr`` (Neukum et al. 2001 PF scaled by the Neukum chronology; docs/references.md 7.1).

    Outside the PF's published range (0.01-300 km) the curve is continued as a power law with
    the PF's slope at the range end (-3.16 below 10 m).
    """
    d = np.asarray(D_km, dtype=float)
    _check_finite_positive("D_km", d)
    age = _check_age(age_gyr) if np.ndim(age_gyr) == 0 else age_gyr
    scale = neukum_chronology(age) / 10.0 ** NEUKUM_2001_COEFFS[0]
    logd = np.log10(d)
    lo, hi = math.log10(_PF_DMIN_KM), math.log10(_PF_DMAX_KM)
    inside = np.clip(logd, lo, hi)
    logn = _pf_log10(inside)
    logn = np.where(logd < lo, _pf_log10(np.array(lo)) + _pf_slope(lo) * (logd - lo), logn)
    logn = np.where(logd > hi, _pf_log10(np.array(hi)) + _pf_slope(hi) * (logd - hi), logn)
    return 10.0 ** logn * scale


def trask_equilibrium(D_km):
    """Trask (1966) empirical equilibrium, cumulative N(>D) per km^2 = 10^-1.1 D_km^-2
    (docs/references.md 7.1). The same expression holds for D in m and N per m^2."""
    d = np.asarray(D_km, dtype=float)
    _check_finite_positive("D_km", d)
    return 10.0 ** -1.1 / d ** 2


def cumulative_crater_density(D_km, age_gyr):
    """Visible cumulative crater density per km^2: ``min(production, equilibrium)``."""
    return np.minimum(neukum_production(D_km, age_gyr), trask_equilibrium(D_km))


def expected_crater_counts(bin_edges_m, *, area_m2: float, age_gyr: float) -> np.ndarray:
    """Expected number of visible craters per diameter bin over ``area_m2``.

    ``bin_edges_m`` are increasing diameters in metres; returns ``len(bin_edges_m) - 1`` values
    ``area * (N(>D_i) - N(>D_{i+1}))`` with N = :func:`cumulative_crater_density`.
    """
    e = np.asarray(bin_edges_m, dtype=float)
    _check_finite_positive("bin_edges_m", e)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise invalid("bin_edges_m", e, "at least two strictly increasing diameters")
    if not (math.isfinite(area_m2) and area_m2 > 0):
        raise invalid("area_m2", area_m2, "a finite area > 0")
    n = cumulative_crater_density(e / 1000.0, age_gyr)
    return -np.diff(n) * area_m2 / 1e6


# --- shapes -----------------------------------------------------------------------------------

def _fresh_profile(x: np.ndarray) -> np.ndarray:
    """Fresh crater profile in units of R, relative to the pre-impact surface."""
    h_rim = 2.0 * RIM_HEIGHT_RATIO
    depth = 2.0 * FRESH_DEPTH_RATIO
    xe = FOOTPRINT_RADII
    inside = h_rim - depth * (1.0 - x ** 2)
    with np.errstate(divide="ignore"):
        outside = h_rim * (np.maximum(x, 1.0) ** -3 - xe ** -3) / (1.0 - xe ** -3)
    return np.where(x <= 1.0, inside, np.where(x < xe, outside, 0.0))


def radial_diffusion(h0: np.ndarray, dx: float, taus: np.ndarray) -> np.ndarray:
    """Diffuse an axisymmetric profile ``h0`` sampled at ``x = i*dx`` to the times ``taus``.

    Solves ``dh/dtau = (1/x) d/dx (x dh/dx)`` (unit diffusivity) with zero flux at both ends
    (so volume is conserved) by backward Euler in the finite-volume form, with substeps that
    grow geometrically. Returns an array of shape ``(len(taus), len(h0))``.
    """
    n = h0.size
    x = np.arange(n) * dx
    # finite-volume cell faces at x_{i+1/2}; cell "areas" x_i dx (x_0 cell: dx^2/8)
    xf = (np.arange(n - 1) + 0.5) * dx
    vol = x * dx
    vol[0] = dx * dx / 8.0
    vol[-1] = x[-1] * dx / 2.0
    cf = xf / dx  # flux coefficient across each face
    out = np.empty((len(taus), n))
    h = h0.astype(float).copy()
    t = 0.0
    for k, target in enumerate(taus):
        while t < target - 1e-15:
            dt = min(target - t, max(1e-6, 0.01 * t) if t > 0 else 1e-6, 1e-3)
            # (vol/dt + A) h_new = vol/dt h
            diag = vol / dt
            main = diag.copy()
            main[:-1] += cf
            main[1:] += cf
            ab = np.zeros((3, n))
            ab[0, 1:] = -cf
            ab[1] = main
            ab[2, :-1] = -cf
            h = solve_banded((1, 1), ab, diag * h)
            t += dt
        out[k] = h
    return out


@functools.lru_cache(maxsize=1)
def _profile_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, taus, table[tau, x], depth_ratio): degraded crater profiles in units of R at radii
    ``x`` (uniform in x^2), tapered to zero at the footprint edge, and the rim-to-floor depth / D
    for each tau."""
    dx = 0.005
    xmax = 8.0
    x_fine = np.arange(int(round(xmax / dx)) + 1) * dx
    prof = radial_diffusion(_fresh_profile(x_fine), dx, _TAU_GRID)
    x_tab = np.sqrt(np.linspace(0.0, FOOTPRINT_RADII ** 2, _NX_TABLE))
    tab = np.stack([np.interp(x_tab, x_fine, p) for p in prof])
    # the diffused profile leaks past the footprint: blend it to zero over the last 0.5 R
    taper = np.clip((FOOTPRINT_RADII - x_tab) / 0.5, 0.0, 1.0)
    taper = 0.5 - 0.5 * np.cos(np.pi * taper)
    tab = tab * taper
    depth_ratio = (tab.max(axis=1) - tab.min(axis=1)) / 2.0
    return x_tab, _TAU_GRID.copy(), np.ascontiguousarray(tab), depth_ratio


def crater_profile(x, tau: float = 0.0) -> np.ndarray:
    """Crater profile (height / R relative to the pre-impact plane) at ``x = r/R`` after
    nondimensional diffusion time ``tau = kappa t / R^2`` (0 = fresh). Zero beyond ``x = 3``."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise invalid("x", x, "finite radii >= 0 (in crater radii)")
    if not (math.isfinite(tau) and 0.0 <= tau <= _TAU_GRID[-1]):
        raise invalid("tau", tau, f"a diffusion time in [0, {_TAU_GRID[-1]}]")
    x_tab, taus, tab, _ = _profile_table()
    i, w = _tau_index(np.array([tau]))
    row = tab[i[0]] * (1 - w[0]) + tab[i[0] + 1] * w[0]
    return np.interp(x, x_tab, row, right=0.0)


def crater_depth_ratio(tau) -> np.ndarray:
    """Rim-crest-to-floor depth / diameter of an isolated crater after diffusion time ``tau``
    (0.20 when fresh)."""
    _, taus, _, dr = _profile_table()
    return np.interp(np.asarray(tau, dtype=float), taus, dr)


def _tau_index(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    taus = _TAU_GRID
    i = np.clip(np.searchsorted(taus, tau, side="right") - 1, 0, len(taus) - 2)
    w = np.clip((tau - taus[i]) / (taus[i + 1] - taus[i]), 0.0, 1.0)
    return i.astype(np.int64), w


# --- populations ------------------------------------------------------------------------------

def _age_from_flux_fraction(frac: np.ndarray, age_gyr: float) -> np.ndarray:
    """Time ago (Gyr) at which the cumulative flux since then was ``frac`` of the total."""
    t = np.linspace(0.0, age_gyr, 4097)
    n = neukum_chronology(t)
    return np.interp(frac * n[-1], n, t)


def sample_craters(
    extent_m: tuple[float, float, float, float],
    *,
    age_gyr: float,
    min_diameter_m: float,
    max_diameter_m: float,
    rng: np.random.Generator,
    tau_erase: float = TAU_ERASE,
    bins_per_decade: int = 20,
) -> pd.DataFrame:
    """Draw the visible crater population that affects the rectangle ``extent_m``
    (x_min, x_max, y_min, y_max; site ENU metres).

    Diameters follow ``min(production, equilibrium)`` (:func:`cumulative_crater_density`) between
    ``min_diameter_m`` and ``max_diameter_m``. Centres are uniform over the extent grown by each
    crater's footprint (1.5 D), so craters centred just outside still drape ejecta inside. Each
    crater gets a degradation state (module docstring). Returns a DataFrame sorted oldest first
    (stamping order) with columns ``x_m, y_m, diameter_m, depth_m, rim_height_m, tau, u,
    age_gyr, fresh``.
    """
    age = _check_age(age_gyr)
    x_min, x_max, y_min, y_max = (float(v) for v in extent_m)
    if not (all(math.isfinite(v) for v in extent_m) and x_max > x_min and y_max > y_min):
        raise invalid("extent_m", extent_m, "(x_min, x_max, y_min, y_max) with max > min")
    if not (math.isfinite(min_diameter_m) and min_diameter_m > 0):
        raise invalid("min_diameter_m", min_diameter_m, "a finite diameter > 0 m")
    if not (math.isfinite(max_diameter_m) and max_diameter_m > min_diameter_m):
        raise invalid("max_diameter_m", max_diameter_m, f"a finite diameter > min_diameter_m = {min_diameter_m}")
    if not (math.isfinite(tau_erase) and 0 < tau_erase <= _TAU_GRID[-1]):
        raise invalid("tau_erase", tau_erase, f"a value in (0, {_TAU_GRID[-1]}]")
    decades = math.log10(max_diameter_m / min_diameter_m)
    nb = max(1, int(math.ceil(decades * bins_per_decade)))
    edges = np.geomspace(min_diameter_m, max_diameter_m, nb + 1)
    # fine grid for the inverse CDF inside each bin
    xs, ys, ds = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        g = np.geomspace(lo, hi, 65)
        ncum = cumulative_crater_density(g / 1000.0, age) / 1e6  # per m^2
        margin = 1.5 * hi
        w = (x_max - x_min) + 2 * margin
        h = (y_max - y_min) + 2 * margin
        lam = (ncum[0] - ncum[-1]) * w * h
        k = int(rng.poisson(lam))
        if k == 0:
            continue
        u = rng.random(k)
        target = ncum[0] - u * (ncum[0] - ncum[-1])
        # ncum decreasing in g: interpolate log D against -N
        d = np.exp(np.interp(-target, -ncum, np.log(g)))
        x = x_min - margin + rng.random(k) * w
        y = y_min - margin + rng.random(k) * h
        keep = ((x > x_min - 1.5 * d) & (x < x_max + 1.5 * d)
                & (y > y_min - 1.5 * d) & (y < y_max + 1.5 * d))
        xs.append(x[keep])
        ys.append(y[keep])
        ds.append(d[keep])
    if xs:
        x = np.concatenate(xs)
        y = np.concatenate(ys)
        d = np.concatenate(ds)
    else:
        x = y = d = np.zeros(0)
    # degradation: U = fraction of the total flux since formation
    uu = rng.random(d.size)
    d_km = d / 1000.0
    ratio = np.minimum(1.0, neukum_production(d_km, age) / trask_equilibrium(d_km)) if d.size else d
    u = uu * ratio
    tau = u * tau_erase
    age_c = _age_from_flux_fraction(uu, age)
    order = np.argsort(-age_c, kind="stable")
    x, y, d, u, tau, age_c = (a[order] for a in (x, y, d, u, tau, age_c))
    dr = crater_depth_ratio(tau)
    _, taus, tab, _ = _profile_table()
    rim = np.interp(tau, taus, tab.max(axis=1))  # rim crest / R, linear in tau between grid rows
    return pd.DataFrame({
        "x_m": x,
        "y_m": y,
        "diameter_m": d,
        "depth_m": dr * d,
        "rim_height_m": rim * d / 2.0,
        "tau": tau,
        "u": u,
        "age_gyr": age_c,
        "fresh": dr >= 0.15,
    })


def stamp_craters(
    heights: np.ndarray,
    craters: pd.DataFrame,
    *,
    resolution_m: float,
    x0_m: float,
    y0_m: float,
) -> np.ndarray:
    """Stamp ``craters`` (columns ``x_m, y_m, diameter_m, tau``; in stamping order) into a float64
    copy of ``heights`` (row 0 north; NW corner at ``x0_m, y0_m``) with the superposition model of
    the module docstring. Returns the new array."""
    from farside.terrain._kernels import stamp_craters_kernel

    z = np.array(heights, dtype=np.float64, copy=True)
    if z.ndim != 2:
        raise invalid("heights.shape", z.shape, "a 2-D array")
    if not (math.isfinite(resolution_m) and resolution_m > 0):
        raise invalid("resolution_m", resolution_m, "a finite number > 0")
    for col in ("x_m", "y_m", "diameter_m", "tau"):
        if col not in craters:
            raise invalid("craters", list(craters.columns), f"a table with column {col!r}")
    if len(craters) == 0:
        return z
    cx = craters["x_m"].to_numpy(float)
    cy = craters["y_m"].to_numpy(float)
    d = craters["diameter_m"].to_numpy(float)
    tau = craters["tau"].to_numpy(float)
    if not (np.isfinite(cx).all() and np.isfinite(cy).all()):
        raise invalid("craters.x_m/y_m", "non-finite", "finite coordinates")
    _check_finite_positive("craters.diameter_m", d)
    if not np.all(np.isfinite(tau)) or np.any(tau < 0) or np.any(tau > _TAU_GRID[-1]):
        raise invalid("craters.tau", "out of range", f"values in [0, {_TAU_GRID[-1]}]")
    x_tab, _, tab, _ = _profile_table()
    i, w = _tau_index(tau)
    stamp_craters_kernel(z, float(x0_m), float(y0_m), float(resolution_m), cx, cy, d / 2.0, i, w,
                         tab, float(x_tab[-1]) ** 2)
    return z
