"""An independent reference for a rock's shape: the convex polyhedron of one packed row
(farside.terrain._kernels_rockshape) rebuilt by scipy's half-space intersection (Qhull) and its
hull, and its top surface read from the hull's upward facets.

The code under test takes the top as the minimum over its planes, clipped to the footprint
half-planes; here Qhull intersects all the half-spaces (planes, footprint, ground z >= 0), so
redundant planes, the footprint clipping and the highest point come out of a second method. The
fillet is the documented formula (``fh`` on the footprint, ``fh (1 - e / fw)^2`` at a half-plane
excess ``e`` < ``fw`` outside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, HalfspaceIntersection

from farside.terrain import _kernels_rockshape as S


@dataclass
class RefRock:
    vertices: np.ndarray          # (n, 3), offsets from the centre / seat
    up: np.ndarray                # (m, 4) upward facets n . p + d = 0
    foot: Delaunay                # the footprint (projection of the vertices)
    ex: np.ndarray
    ey: np.ndarray
    rs: np.ndarray
    fh: float
    fw: float

    @property
    def height(self) -> float:
        return float(self.vertices[:, 2].max())

    @property
    def footprint_area(self) -> float:
        return float(ConvexHull(self.vertices[:, :2]).volume)

    def top(self, dx, dy, *, fillet: bool = True) -> np.ndarray:
        """Height above the seat at offsets (dx, dy): the hull's top on its projection (at least
        the fillet), the fillet outside, 0 beyond."""
        dx = np.asarray(dx, float)
        dy = np.asarray(dy, float)
        p = np.stack([dx.ravel(), dy.ravel()], 1)
        inside = self.foot.find_simplex(p) >= 0
        n = self.up
        z = -(n[:, 0][None] * p[:, :1] + n[:, 1][None] * p[:, 1:] + n[:, 3][None]) / n[:, 2][None]
        top = np.where(inside, z.min(axis=1), 0.0)
        if fillet and self.fh > 0:
            e = (p[:, :1] * self.ex[None] + p[:, 1:] * self.ey[None] - self.rs[None]).max(axis=1)
            out = np.where(e < self.fw, self.fh * (1 - np.clip(e, 0, None) / self.fw) ** 2, 0.0)
            top = np.where(inside, np.maximum(top, self.fh), out)
        return top.reshape(dx.shape)


def ref_rock(row: np.ndarray) -> RefRock:
    npl, nside = int(row[S.C_NPL]), int(row[S.C_NSIDE])
    A = row[S._A:S._A + npl]
    bx = row[S._BX:S._BX + npl]
    by = row[S._BY:S._BY + npl]
    ex = row[S._EX:S._EX + nside]
    ey = row[S._EY:S._EY + nside]
    rs = row[S._RS:S._RS + nside]
    hs = [np.column_stack([-bx, -by, np.ones(npl), -A]),                 # z <= A + Bx x + By y
          np.column_stack([ex, ey, np.zeros(nside), -rs]),               # x ex + y ey <= Rs
          np.array([[0.0, 0.0, -1.0, 0.0]])]                             # z >= 0
    hs = np.vstack(hs)
    interior = np.array([0.0, 0.0, 1e-3 * row[S.C_H]])
    v = HalfspaceIntersection(hs, interior).intersections
    hull = ConvexHull(v)
    eq = hull.equations
    up = eq[eq[:, 2] > 1e-9]
    # Qhull triangulates each facet: one equation per face
    _, first = np.unique(np.round(up, 9), axis=0, return_index=True)
    up = up[np.sort(first)]
    foot = Delaunay(v[:, :2])
    return RefRock(v, up, foot, ex, ey, rs, float(row[S.C_FILH]), float(row[S.C_FILW]))
