"""The one surface model of a DEM: the height every part of farside samples, and its normals.

**Height interpolant: the triangle mesh** (what the camera sees). Each DEM cell, between the
vertices (pixel centres) ``(r, c)``, ``(r, c+1)``, ``(r+1, c)`` and ``(r+1, c+1)``, is split into
two triangles along the diagonal from ``(r, c)`` to ``(r+1, c+1)``; the surface is the plane of the
triangle under the point. With ``a`` the fractional column and ``b`` the fractional row inside the
cell:

* ``a >= b``: vertices (0,0) (0,1) (1,1), ``z = h00 + a (h01 - h00) + b (h11 - h01)``;
* ``a < b``:  vertices (0,0) (1,0) (1,1), ``z = h00 + b (h10 - h00) + a (h11 - h10)``.

It is continuous (C0), piecewise planar, and equal to the DEM at every vertex. The renderer traces
exactly this mesh (``farside.render``), and the descent's altimeter and lidar, the lander's feet,
the relay's horizon, the rover's wheels and ramp all sample it here, so nothing stands on a
different ground from the one in the images. Outside the raster the height is clamped to the edge
cells (points beyond the edge take the edge's value along the outward direction).

**Normals.** The *geometric* normal is the facet normal of the triangle under the point (the
surface's true normal: cast shadows, ray hits and ``normals="face"`` shading use it). The
renderer's *shading* normal (``normals="smooth"``, the default) differs on purpose: the vertex
gradients of :func:`vertex_gradient` (central differences) blended barycentrically over the
triangle, so that a 0.5 m DEM does not shade as visible facets. Slopes for hazards and for the
rover are not normals of this surface: the descent's hazard map fits planes over the lander's
footprint and the rover's pitch and roll come from its wheel contacts, both on purpose.

**The smooth companion** (:func:`smooth_height`): the Catmull-Rom bicubic (Keys' cubic
convolution, a = -1/2) through the same vertices. It is the *base* of the centimetre regolith
patches (:func:`farside.terrain.regolith_patch`) and nothing else: at 1 cm pixels the mesh's
facets of a 0.5 m DEM would show in the patch's own shading as flat triangles with kinks between
them (a 3 m crater drawn as a dozen facets a few metres in front of the rover's mast), where real
ground at that scale curves smoothly. It is C1, equals the DEM at every vertex, reproduces planes
and quadrics' curvature to second order, and departs from the mesh only inside cells (by about an
eighth of the cell's second difference); everything physical (wheels, feet, altimeter, hazards)
keeps the mesh.

Coordinates: site ENU metres, raster north-up with ``x0_m`` the west edge and ``y0_m`` the north
edge (:class:`farside.terrain.Terrain`); fractional column ``u = (x - x0) / res - 0.5`` and row
``v = (y0 - y) / res - 0.5`` are integers at pixel centres.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["mesh_z", "smooth_height", "surface_height", "surface_height_rc", "surface_heights", "vertex_gradient"]


@njit(cache=True, inline="always", error_model="numpy")
def mesh_z(h, r, c, a, b):
    """Height of the triangle mesh in cell (r, c) at fractional column ``a`` and row ``b`` (both in
    [0, 1])."""
    h00 = h[r, c]
    h11 = h[r + 1, c + 1]
    if a >= b:
        h01 = h[r, c + 1]
        return h00 + a * (h01 - h00) + b * (h11 - h01)
    h10 = h[r + 1, c]
    return h00 + b * (h10 - h00) + a * (h11 - h10)


@njit(cache=True, inline="always", error_model="numpy")
def surface_height_rc(h, v, u):
    """Mesh height at fractional row ``v`` and column ``u`` (integers at vertices), clamped to the
    raster's edge cells."""
    nr = h.shape[0]
    nc = h.shape[1]
    c = min(max(int(math.floor(u)), 0), nc - 2)
    r = min(max(int(math.floor(v)), 0), nr - 2)
    a = min(max(u - c, 0.0), 1.0)
    b = min(max(v - r, 0.0), 1.0)
    return mesh_z(h, r, c, a, b)


@njit(cache=True, inline="always", error_model="numpy")
def surface_height(h, x0, y0, res, x, y):
    """Mesh height at site ENU (x, y) of a raster with west edge ``x0``, north edge ``y0`` and
    pixel size ``res`` (clamped to the edge cells outside)."""
    return surface_height_rc(h, (y0 - y) / res - 0.5, (x - x0) / res - 0.5)


@njit(cache=True, inline="always", error_model="numpy")
def _cr_weights(t):
    """Catmull-Rom (Keys a = -1/2) weights of the four samples around fractional offset t in [0, 1]."""
    t2 = t * t
    t3 = t2 * t
    return (-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2)


@njit(cache=True, inline="always", error_model="numpy")
def smooth_height(h, x0, y0, res, x, y):
    """Catmull-Rom bicubic height at site ENU (x, y) (module docstring: the smooth companion of the
    mesh), vertex indices clamped to the raster (outside it the edge is continued flat)."""
    nr = h.shape[0]
    nc = h.shape[1]
    u = min(max((x - x0) / res - 0.5, 0.0), nc - 1.0)
    v = min(max((y0 - y) / res - 0.5, 0.0), nr - 1.0)
    c = min(int(math.floor(u)), nc - 2)
    r = min(int(math.floor(v)), nr - 2)
    wa = _cr_weights(u - c)
    wb = _cr_weights(v - r)
    acc = 0.0
    for i in range(4):
        ri = min(max(r - 1 + i, 0), nr - 1)
        row = 0.0
        for j in range(4):
            cj = min(max(c - 1 + j, 0), nc - 1)
            row += wa[j] * h[ri, cj]
        acc += wb[i] * row
    return acc


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _heights(h, x0, y0, res, x, y, out):
    for k in prange(x.shape[0]):
        out[k] = surface_height(h, x0, y0, res, x[k], y[k])


def surface_heights(h, x0_m, y0_m, resolution_m, x_m, y_m) -> np.ndarray:
    """Mesh heights at ENU points (arrays broadcast together; float64 of their shape)."""
    xb, yb = np.broadcast_arrays(np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64))
    shape = xb.shape
    xf = np.ascontiguousarray(xb).ravel()
    yf = np.ascontiguousarray(yb).ravel()
    out = np.empty(xf.shape[0])
    if xf.shape[0]:
        _heights(np.ascontiguousarray(h), float(x0_m), float(y0_m), float(resolution_m), xf, yf, out)
    return out.reshape(shape)


@njit(cache=True, inline="always", error_model="numpy")
def vertex_gradient(h, r, c, res):
    """The shading normal's vertex field: central-difference height gradient (dz/dx east, dz/dy
    north) at vertex (r, c), one-sided at the raster's edges. The renderer's ``normals="smooth"``
    blends these barycentrically over the triangle hit."""
    nr = h.shape[0]
    nc = h.shape[1]
    c0 = c - 1 if c > 0 else c
    c1 = c + 1 if c < nc - 1 else c
    r0 = r - 1 if r > 0 else r
    r1 = r + 1 if r < nr - 1 else r
    gx = (h[r, c1] - h[r, c0]) / ((c1 - c0) * res)
    gy = -(h[r1, c] - h[r0, c]) / ((r1 - r0) * res)
    return gx, gy
