"""Numba kernel of the 1-D regolith heat-conduction solve (private; see :mod:`farside.rover.thermal`).

Finite volumes on a non-uniform grid of nodes ``z[0] = 0 < z[1] < ... < z[N-1]``: node ``i`` owns the
slab between the mid-points to its neighbours (the surface node the top half-cell, the bottom node
the bottom half-cell). Backward Euler in time; each step is solved by a fixed-point/Newton iteration:
the emission term ``eps*sigma*T0^4`` is linearised about the current iterate (Newton), the
conductivity ``k(z, T)`` and the heat capacity ``c(T)`` are re-evaluated at the current iterate
(Picard; ``c`` at the mean of the old and the new temperature, the mid-point rule for the enthalpy
change ``int c dT``), and the tridiagonal system is solved by the Thomas algorithm until the largest
change is below ``tol_k``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["conductivity", "heat_capacity", "solve_column"]


@njit(cache=True)
def heat_capacity(t_k: float, cp0: float, cp1: float, cp2: float, cp3: float, cp4: float) -> float:
    """c(T) = cp0 + cp1 T + cp2 T^2 + cp3 T^3 + cp4 T^4, J/(kg K)."""
    return cp0 + t_k * (cp1 + t_k * (cp2 + t_k * (cp3 + t_k * cp4)))


@njit(cache=True)
def conductivity(kc: float, chi: float, t_k: float) -> float:
    """k = kc (1 + chi (T/350)^3), W/(m K)."""
    r = t_k / 350.0
    return kc * (1.0 + chi * r * r * r)


@njit(cache=True)
def solve_column(dt_s, q_abs_w_m2, t_fixed_k, fixed_top, temp_k, z_m, rho_kg_m3, kc_w_mk, chi, cp,
                 emissivity, sigma, q_geo_w_m2, record, tol_k, max_iter, cap_scale):  # pragma: no cover - numba
    """Advance the column ``temp_k`` (N,) through ``len(dt_s)`` backward-Euler steps, in place.

    Parameters
    ----------
    dt_s : (M,) step lengths, s (> 0).
    q_abs_w_m2 : (M,) absorbed solar flux at the end of each step, W/m^2.
    t_fixed_k : (M,) surface temperature at the end of each step when ``fixed_top`` (else unused).
    fixed_top : bool; True: Dirichlet surface (the analytic check), False: the radiative balance.
    temp_k : (N,) temperatures at the nodes, K; overwritten with the final state.
    z_m, rho_kg_m3, kc_w_mk : (N,) node depths, densities, contact conductivities.
    chi : radiative-conductivity coefficient; cp : (5,) heat-capacity polynomial coefficients.
    emissivity, sigma : surface infrared emissivity, Stefan-Boltzmann constant.
    q_geo_w_m2 : heat flux into the bottom of the column from below, W/m^2.
    record : (R,) node indices to record after every step.
    tol_k, max_iter : convergence of the per-step iteration.
    cap_scale : (N,) multiplier of each node's heat capacity (1 for the physical column; < 1 below
        the depth of the diurnal wave during spin-up, which speeds the deep column's approach to its
        mean temperature without changing the periodic state above it).

    Returns
    -------
    out : (M, R) temperatures of the recorded nodes after each step, K.
    n_unconverged : number of steps that hit ``max_iter``.
    """
    n = temp_k.shape[0]
    m = dt_s.shape[0]
    out = np.empty((m, record.shape[0]))
    dz = np.empty(n - 1)
    for i in range(n - 1):
        dz[i] = z_m[i + 1] - z_m[i]
    vol = np.empty(n)
    vol[0] = 0.5 * dz[0]
    for i in range(1, n - 1):
        vol[i] = 0.5 * (dz[i - 1] + dz[i])
    vol[n - 1] = 0.5 * dz[n - 2]
    t_old = np.empty(n)
    t_it = np.empty(n)
    g = np.empty(n - 1)
    a = np.empty(n)
    b = np.empty(n)
    c = np.empty(n)
    d = np.empty(n)
    cprime = np.empty(n)
    dprime = np.empty(n)
    es = emissivity * sigma
    n_bad = 0
    for step in range(m):
        dt = dt_s[step]
        q = q_abs_w_m2[step]
        for i in range(n):
            t_old[i] = temp_k[i]
            t_it[i] = temp_k[i]
        converged = False
        for _ in range(max_iter):
            # interface conductances (harmonic mean of the nodal conductivities)
            for i in range(n - 1):
                k1 = conductivity(kc_w_mk[i], chi, t_it[i])
                k2 = conductivity(kc_w_mk[i + 1], chi, t_it[i + 1])
                g[i] = 2.0 * k1 * k2 / ((k1 + k2) * dz[i])
            for i in range(n):
                tm = 0.5 * (t_old[i] + t_it[i])
                cap = cap_scale[i] * rho_kg_m3[i] * heat_capacity(tm, cp[0], cp[1], cp[2], cp[3], cp[4]) * vol[i] / dt
                a[i] = 0.0
                c[i] = 0.0
                b[i] = cap
                d[i] = cap * t_old[i]
                if i > 0:
                    a[i] = -g[i - 1]
                    b[i] += g[i - 1]
                if i < n - 1:
                    c[i] = -g[i]
                    b[i] += g[i]
            # surface
            if fixed_top:
                a[0] = 0.0
                b[0] = 1.0
                c[0] = 0.0
                d[0] = t_fixed_k[step]
            else:
                t0 = t_it[0]
                e3 = es * t0 * t0 * t0
                b[0] += 4.0 * e3
                d[0] += q + 3.0 * e3 * t0
            # bottom: geothermal flux in
            d[n - 1] += q_geo_w_m2
            # Thomas algorithm
            cprime[0] = c[0] / b[0]
            dprime[0] = d[0] / b[0]
            for i in range(1, n):
                den = b[i] - a[i] * cprime[i - 1]
                cprime[i] = c[i] / den
                dprime[i] = (d[i] - a[i] * dprime[i - 1]) / den
            change = 0.0
            new = dprime[n - 1]
            change = abs(new - t_it[n - 1])
            t_it[n - 1] = new
            for i in range(n - 2, -1, -1):
                new = dprime[i] - cprime[i] * t_it[i + 1]
                dd = abs(new - t_it[i])
                change = max(change, dd)
                t_it[i] = new
            t_it[0] = max(t_it[0], 1.0)
            if change < tol_k:
                converged = True
                break
        if not converged:
            n_bad += 1
        for i in range(n):
            temp_k[i] = t_it[i]
        for r in range(record.shape[0]):
            out[step, r] = temp_k[record[r]]
    return out, n_bad
