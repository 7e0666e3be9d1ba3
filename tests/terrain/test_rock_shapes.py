"""The one rock geometry (farside.terrain.rocks.rock_shapes) and the site DEM's stamp of it.

References: the polyhedron rebuilt from its half-spaces by Qhull (tests/terrain/_rockref.py, a
second method for the top surface, the highest point and the footprint); the table's sizes
(diameter = that of a disk of the footprint's area, height_m = the highest point above the seat);
planes, on which the seat rule is exact (the mean of the plane at the centre and +-R/2 is the
plane's height at the centre).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from farside.errors import FarsideError
from farside.terrain import RegolithDetail, Terrain, regolith_patch
from farside.terrain import _kernels_rockshape as S
from farside.terrain.rocks import rock_shapes, stamp_rocks
from tests.terrain._rockref import ref_rock


def _table(n, seed=3):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.1, 3.0, n)
    return pd.DataFrame({"x_m": rng.uniform(-50, 50, n), "y_m": rng.uniform(-50, 50, n), "diameter_m": d,
                         "height_m": d * rng.uniform(0.3, 0.7, n)})


def test_polyhedron_keeps_the_table_sizes():
    """For 40 rocks: the Qhull polyhedron's highest vertex is height_m above the seat (at most
    0.5 % over: the code finds the top on a zoomed grid, and the top is exactly height_m at the
    point it records) and its footprint has the area of a disk of diameter_m (1 %: the code
    integrates the polygon over 256 azimuths); 5-9 side facets, 2 top facets."""
    tab = _table(40)
    g = rock_shapes(tab)
    np.testing.assert_array_equal(g[:, :4], tab[["x_m", "y_m", "diameter_m", "height_m"]].to_numpy())
    for k in range(len(tab)):
        r = ref_rock(g[k])
        H, D = tab.height_m[k], tab.diameter_m[k]
        assert H * (1 - 1e-12) <= r.height <= H * (1 + 5e-3)
        assert r.footprint_area == pytest.approx(math.pi * D * D / 4, rel=1e-2)
        assert 5 <= g[k, S.C_NSIDE] <= 9 and g[k, S.C_NPL] == g[k, S.C_NSIDE] + 2
        # the recorded highest point is on the top surface and is the top
        assert r.top(g[k, S.C_PEAKX], g[k, S.C_PEAKY], fillet=False) == pytest.approx(H, rel=1e-9)
        # every point of the rock and its fillet lies within the recorded reach
        assert np.hypot(r.vertices[:, 0], r.vertices[:, 1]).max() <= g[k, S.C_RMAX] * (1 + 1e-9) + 1e-12


def test_shape_follows_the_position_not_the_table():
    """The key is the rock's position: the same rock in another table, in another order, gets a
    byte-identical row; a rock moved by 1 mm gets another shape."""
    tab = _table(30)
    g = rock_shapes(tab)
    perm = np.random.default_rng(0).permutation(len(tab))
    g2 = rock_shapes(tab.iloc[perm].reset_index(drop=True))
    assert g2.tobytes() == g[perm].tobytes()
    moved = tab.copy()
    moved.loc[0, "x_m"] += 1e-3
    assert not np.array_equal(rock_shapes(moved)[0, S._A:], g[0, S._A:])


@pytest.mark.parametrize("gx, gy", [(0.0, 0.0), (0.05, -0.03)])
def test_dem_stamp_is_the_polyhedron_on_its_seat(gx, gy):
    """A 2 m rock (20 px) stamped into a plane: every pixel centre holds max(plane, seat + top)
    with the Qhull top and the fillet formula (1e-9 m), the seat being the plane at the centre;
    the highest pixel is exactly height_m above the seat; a 0.15 m rock (1.5 px) is not stamped."""
    res, n = 0.1, 60
    x0, y0 = -3.0, 3.0
    xc = x0 + (np.arange(n) + 0.5) * res
    yc = y0 - (np.arange(n) + 0.5) * res
    X, Y = np.meshgrid(xc, yc)
    plane = gx * X + gy * Y
    rocks = pd.DataFrame({"x_m": [0.137, 2.2], "y_m": [-0.21, 2.2], "diameter_m": [2.0, 0.15],
                          "height_m": [0.8, 0.1]})
    z = stamp_rocks(plane, rocks, resolution_m=res, x0_m=x0, y0_m=y0)
    row = rock_shapes(rocks.iloc[:1])[0]
    r = ref_rock(row)
    seat = gx * 0.137 + gy * -0.21
    top = r.top(X - 0.137, Y + 0.21)
    want = np.maximum(plane, np.where(top > 0, seat + top, -np.inf))
    peak = (int((y0 - (-0.21 + row[S.C_PEAKY])) // res), int((0.137 + row[S.C_PEAKX] - x0) // res))
    assert z[peak] - seat == pytest.approx(0.8, abs=1e-12)
    assert (z - seat).max() <= 0.8 * (1 + 5e-3)
    mask = np.ones_like(z, bool)
    mask[peak] = False                       # the peak pixel carries the full height (documented)
    np.testing.assert_allclose(z[mask], want[mask], atol=1e-9)
    far = (np.abs(X - 2.2) < 0.3) & (np.abs(Y - 2.2) < 0.3)
    np.testing.assert_array_equal(z[far], plane[far])


def test_patch_and_dem_draw_the_same_rock():
    """A 0.8 m table rock in a 1 cm regolith patch over a flat 0.5 m DEM (roughness, craters and
    pebbles off): the patch's rise over its bare ground is the Qhull polyhedron with its fillet of
    rock_shapes' row for that rock (float32 heights: 2e-5 m); a patch with another seed draws the
    same rock."""
    dem = Terrain(np.zeros((40, 40), np.float32), 0.5, x0_m=-10.0, y0_m=10.0)
    cx, cy = 1.234, -0.771
    rocks = pd.DataFrame({"x_m": [cx], "y_m": [cy], "diameter_m": [0.8], "height_m": [0.36]})
    det = RegolithDetail(rms_m=0.0, pebble_abundance=0.0, crater_max_diameter_m=0.001)
    kw = dict(center_xy_m=(cx, cy), half_size_m=0.8, detail=det)
    p = regolith_patch(dem, rocks=rocks, seed=2, **kw)
    bare = regolith_patch(dem, seed=2, **kw)
    xx, yy = np.meshgrid(p.x_m - cx, p.y_m - cy)
    r = ref_rock(rock_shapes(rocks)[0])
    np.testing.assert_allclose(p.heights.astype(float) - bare.heights, r.top(xx, yy), atol=2e-5)
    q = regolith_patch(dem, rocks=rocks, seed=99, **kw)
    np.testing.assert_array_equal(q.heights, p.heights)


def test_rock_shapes_errors_are_one_line():
    with pytest.raises(FarsideError, match="rocks"):
        rock_shapes(np.zeros((3, 2)))
    with pytest.raises(FarsideError, match="buried_fraction"):
        rock_shapes(_table(2), buried_fraction=0.7)
