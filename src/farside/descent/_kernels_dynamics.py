"""Numba kernels of the powered descent (private): truth dynamics.

Terrain height (the DEM's triangle mesh, farside.terrain.surface), point-mass gravity, altitude above the reference sphere and the classical
RK4 step of the translational motion with mass depletion (frames and the vectors ``p``, ``s``:
:mod:`farside.descent._kernels`).
"""

from __future__ import annotations

import math

from numba import njit

from farside.terrain.surface import surface_height_rc

from farside.descent._kernels import K_R_MOON, K_TERR_OUT, K_TERR_RES, K_TERR_X0, K_TERR_Y0, S_RX, S_RY, S_RZ


@njit(cache=True, inline="always")
def terrain_height(heights, res, x0, y0, h_out, x, y):
    """Surface height at ENU (x, y): the DEM's triangle mesh (farside.terrain.surface, the surface
    the camera sees); ``h_out`` outside the raster (the far braking track)."""
    rows, cols = heights.shape
    col = (x - x0) / res - 0.5
    row = (y0 - y) / res - 0.5
    if col < -0.5 or row < -0.5 or col > cols - 0.5 or row > rows - 0.5:
        return h_out
    return surface_height_rc(heights, row, col)


@njit(cache=True, inline="always")
def _gravity(rx, ry, rz, R, gm):
    cx = rx
    cy = ry
    cz = rz + R
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    k = -gm / (rr * rr * rr)
    return k * cx, k * cy, k * cz


@njit(cache=True, inline="always")
def _altitude(rx, ry, rz, R):
    cz = rz + R
    return math.sqrt(rx * rx + ry * ry + cz * cz) - R


@njit(cache=True, inline="always")
def _ground_xy(rx, ry, rz, R):
    """ENU (x, y) of the sub-vehicle point on the reference sphere."""
    cz = rz + R
    rr = math.sqrt(rx * rx + ry * ry + cz * cz)
    return rx * R / rr, ry * R / rr


@njit(cache=True, inline="always")
def _deriv_s(x, y, z, vx, vy, vz, m, bx, by, bz, F, ve, R, gm):
    """Translational motion with mass depletion: d/dt of (position, velocity, mass) under
    point-mass gravity and thrust F along the unit axis (bx, by, bz), on scalars."""
    gx, gy, gz = _gravity(x, y, z, R, gm)
    return vx, vy, vz, gx + F * bx / m, gy + F * by / m, gz + F * bz / m, -F / ve


@njit(cache=True, inline="always")
def _rk4_s(x, y, z, vx, vy, vz, m, dt, bx, by, bz, F, ve, R, gm):
    """One classical RK4 step of :func:`_deriv_s` with the thrust held over the step (scalars: no
    arrays in the hot loop). Tested against the rocket equation, Kepler's vis-viva and scipy's
    DOP853 (tests/descent/test_descent_physics.py)."""
    h = 0.5 * dt
    a1, a2, a3, a4, a5, a6, a7 = _deriv_s(x, y, z, vx, vy, vz, m, bx, by, bz, F, ve, R, gm)
    b1, b2, b3, b4, b5, b6, b7 = _deriv_s(x + h * a1, y + h * a2, z + h * a3, vx + h * a4, vy + h * a5, vz + h * a6,
                                          m + h * a7, bx, by, bz, F, ve, R, gm)
    c1, c2, c3, c4, c5, c6, c7 = _deriv_s(x + h * b1, y + h * b2, z + h * b3, vx + h * b4, vy + h * b5, vz + h * b6,
                                          m + h * b7, bx, by, bz, F, ve, R, gm)
    d1, d2, d3, d4, d5, d6, d7 = _deriv_s(x + dt * c1, y + dt * c2, z + dt * c3, vx + dt * c4, vy + dt * c5,
                                          vz + dt * c6, m + dt * c7, bx, by, bz, F, ve, R, gm)
    w = dt / 6.0
    return (x + w * (a1 + 2.0 * b1 + 2.0 * c1 + d1), y + w * (a2 + 2.0 * b2 + 2.0 * c2 + d2),
            z + w * (a3 + 2.0 * b3 + 2.0 * c3 + d3), vx + w * (a4 + 2.0 * b4 + 2.0 * c4 + d4),
            vy + w * (a5 + 2.0 * b5 + 2.0 * c5 + d5), vz + w * (a6 + 2.0 * b6 + 2.0 * c6 + d6),
            m + w * (a7 + 2.0 * b7 + 2.0 * c7 + d7))


@njit(cache=True, inline="always")
def truth_agl(s, p, heights):
    """Truth height of the footpads above the terrain under the vehicle."""
    R = p[K_R_MOON]
    gxt, gyt = _ground_xy(s[S_RX], s[S_RY], s[S_RZ], R)
    ter = terrain_height(heights, p[K_TERR_RES], p[K_TERR_X0], p[K_TERR_Y0], p[K_TERR_OUT], gxt, gyt)
    return _altitude(s[S_RX], s[S_RY], s[S_RZ], R) - ter
