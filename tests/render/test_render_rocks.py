"""Sub-DEM rocks (``Scene(terrain, rocks=...)``): the rocks' polyhedra (farside.terrain.rocks.
rock_shapes) and their shadows rendered by the post-pass of ``render()``, checked against the
pinhole projection of the polyhedron's vertices and its shadow's geometry, the polyhedron being
rebuilt independently from its half-spaces by Qhull (tests/terrain/_rockref.py)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull, Delaunay

from farside.errors import FarsideError
from farside.render import Scene, lcam, look_at_rotation, render
from farside.render.scene import ROCK_DEM_MIN_PIXELS
from farside.terrain import Terrain
from farside.terrain.rocks import rock_shapes, stamp_rocks

from tests.render._scenes import sun_from
from tests.terrain._rockref import ref_rock

RES = 0.5          # DEM pixel (m): table rocks are <= 1.0 m wide
N = 81             # 40 m x 40 m flat plane at z = 0
H_CAM = 20.0       # camera height above the plane (m)


def _plane() -> Terrain:
    return Terrain(np.zeros((N, N), np.float32), RES, x0_m=-N / 2 * RES, y0_m=N / 2 * RES)


def _rocks(*rows) -> pd.DataFrame:
    x, y, d, h = (list(c) for c in zip(*rows))
    return pd.DataFrame({"x_m": x, "y_m": y, "diameter_m": d, "height_m": h})


def _nadir(size: int = 256, height: float = H_CAM):
    """LCAM optics, a small sensor with the principal point on a pixel centre, straight down
    over the origin."""
    return lcam(position_enu=(0.0, 0.0, height), width_px=size, height_px=size, cx_px=size / 2, cy_px=size / 2)


@pytest.fixture(scope="module")
def plane() -> Terrain:
    return _plane()


def test_cut_matches_stamp_rocks():
    """The Scene keeps exactly the rocks stamp_rocks leaves out (same min_pixels default)."""
    assert ROCK_DEM_MIN_PIXELS == inspect.signature(stamp_rocks).parameters["min_pixels"].default


def _polygon(points_2d):
    """(Delaunay of the convex hull, its edges as (start, end) arrays) of 2-D points."""
    hull = ConvexHull(points_2d)
    v = points_2d[hull.vertices]
    return Delaunay(v), v, np.roll(v, -1, axis=0)


def _edge_distance(p, a, b):
    """Distance of points p (n, 2) from the polygon edges a -> b."""
    ab = b - a
    t = np.clip(((p[:, None, :] - a[None]) * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0.0, 1.0)
    q = a[None] + t[..., None] * ab[None]
    return np.sqrt(((p[:, None, :] - q) ** 2).sum(-1)).min(axis=1)


def _project(cam, pts):
    """Image points (col, row) of ENU points through the pinhole camera (no distortion): pixel
    (i, j)'s ray passes through image point (j, i)."""
    pc = (np.asarray(pts) - np.asarray(cam.position_enu)) @ np.asarray(cam.rotation_enu_from_cam)
    return np.column_stack([cam.fx_px * pc[:, 0] / pc[:, 2] + cam.cx_px, cam.fy_px * pc[:, 1] / pc[:, 2] + cam.cy_px])


def test_silhouette_and_top_range(plane):
    """Nadir view of one rock (D = 0.8 m, h = 0.3 m) from 20 m: its pixels are the pixel centres
    inside the convex hull of the pinhole projections of its polyhedron's vertices (Qhull), to
    within 1 px of that outline; the nearest point is the rock's highest, h under the camera's
    height; every rock pixel's point lies on the polyhedron's top and its normal is that of the
    Qhull facet there."""
    D, h = 0.8, 0.3
    cx, cy = 0.137, -0.05
    tab = _rocks((cx, cy, D, h))
    scene = Scene(plane, rocks=tab)
    assert len(scene.rocks) == 1
    ref_r = ref_rock(rock_shapes(tab)[0])
    cam = _nadir()
    sun = sun_from(60.0, 90.0)
    fr = render(scene, cam, sun_dir_enu=sun, shadows="none")
    ref = render(Scene(plane), cam, sun_dir_enu=sun, shadows="none")
    on_rock = fr.range_m < ref.range_m           # a ground pixel keeps the plane's range exactly
    tri, a, b = _polygon(_project(cam, ref_r.vertices + [cx, cy, 0.0]))
    ii, jj = np.mgrid[0:cam.height_px, 0:cam.width_px]
    pix = np.column_stack([jj.ravel(), ii.ravel()]).astype(float)
    inside = (tri.find_simplex(pix) >= 0).reshape(on_rock.shape)
    assert inside.sum() > 500
    diff = inside != on_rock
    assert np.all(_edge_distance(pix[diff.ravel()], a, b) < 1.0), diff.sum()
    # the top: nothing nearer than the rock's highest point, which is h high
    assert np.nanmin(fr.range_m) == pytest.approx(H_CAM - h, abs=2e-3)
    assert np.nanmin(fr.range_m) >= H_CAM - ref_r.height - 1e-9
    p = fr.points_enu[on_rock]
    np.testing.assert_allclose(p[:, 2], ref_r.top(p[:, 0] - cx, p[:, 1] - cy, fillet=False), atol=1e-9)
    # normals: the Qhull facet under each point (away from the facet edges, where it is ambiguous)
    up = ref_r.up
    z = -(up[:, 0][None] * (p[:, :1] - cx) + up[:, 1][None] * (p[:, 1:2] - cy) + up[:, 3][None]) / up[:, 2][None]
    order = np.sort(z, axis=1)
    clear = order[:, 1] - order[:, 0] > 1e-6
    n = up[np.argmin(z, axis=1), :3]
    n = n / np.linalg.norm(n, axis=1)[:, None]
    assert clear.sum() > 0.9 * len(p)
    np.testing.assert_allclose(fr.normal_enu[on_rock][clear], n[clear], atol=1e-6)
    # everything else is the plane, untouched
    np.testing.assert_array_equal(fr.reflectance[~on_rock], ref.reflectance[~on_rock])


@pytest.mark.parametrize("elev_deg", [20.0, 45.0])
def test_shadow_tip(plane, elev_deg):
    """The rock's hard shadow on the plane, Sun toward +x at elevation e: the ground pixels in
    the convex hull of its vertices' projections along the sun rays ((x - z / tan e, y), the
    shadow of a convex solid on a plane) and not on the rock, to within 1 px (0.06 m) of that
    outline, and never beyond its far end."""
    D, h = 0.6, 0.25
    e = math.radians(elev_deg)
    tab = _rocks((0.0, 0.0, D, h))
    row = rock_shapes(tab)[0]               # row[7]: x of the highest point
    r = ref_rock(row)
    scene = Scene(plane, rocks=tab)
    cam = _nadir(size=320)
    fr = render(scene, cam, sun_dir_enu=sun_from(elev_deg, 90.0), shadows="hard")
    ref = render(Scene(plane), cam, sun_dir_enu=sun_from(elev_deg, 90.0), shadows="hard")
    on_rock = fr.range_m < ref.range_m
    shadow = (fr.lit_fraction < 0.5) & ~on_rock
    assert shadow.any() and not (ref.lit_fraction < 0.5).any()
    px_m = H_CAM / cam.fx_px
    v = r.vertices
    proj = np.column_stack([v[:, 0] - v[:, 2] / math.tan(e), v[:, 1]])
    tri, a, b = _polygon(proj)
    g = ref.points_enu[..., :2].reshape(-1, 2)
    pred = (tri.find_simplex(g) >= 0).reshape(shadow.shape) & ~on_rock
    diff = (pred != shadow) & ~on_rock
    assert np.all(_edge_distance(g[diff.ravel()], a, b) < px_m), diff.sum()
    # the far end: the vertex whose shadow x - z / tan e is least (at least the peak's, h / tan e
    # beyond it); the last shadowed pixel lies inside it, by less than a pixel's width where the
    # outline is not a sharp corner
    x_tip = proj[:, 0].min()
    assert x_tip <= row[7] - h / math.tan(e) + 1e-12
    assert fr.points_enu[shadow][:, 0].min() >= x_tip - 1e-9
    # the shadow lies on the side away from the Sun; shadowed terrain is black, the sunward
    # facets of the rock are lit
    assert fr.points_enu[shadow][:, 0].max() < 0.85 * D
    assert np.all(fr.reflectance[shadow] == 0.0)
    assert np.all(fr.reflectance[on_rock & (fr.normal_enu[..., 0] > 0.1)] > 0.0)


def test_penumbra_softens_the_edge(plane):
    """With the solar disk, the shadow edge has partial lit fractions and the half-light tip is
    the hard shadow's within a pixel."""
    a, h = 0.3, 0.25
    scene = Scene(plane, rocks=_rocks((0.0, 0.0, 2 * a, h)))
    cam = _nadir(size=320, height=5.0)
    sun = sun_from(10.0, 90.0)
    hard = render(scene, cam, sun_dir_enu=sun, shadows="hard", layers="all")
    soft = render(scene, cam, sun_dir_enu=sun, shadows="penumbra", layers="all")
    part = (soft.lit_fraction > 0.02) & (soft.lit_fraction < 0.98)
    assert part.sum() > 20
    px_m = 5.0 / cam.fx_px
    tip_h = hard.points_enu[hard.lit_fraction < 0.5][:, 0].min()
    tip_s = soft.points_enu[soft.lit_fraction < 0.5][:, 0].min()
    assert abs(tip_h - tip_s) < 1.5 * px_m


def test_rock_behind_another_is_hidden(plane):
    """A small rock straight behind a larger one, seen from a rover-like camera 1 m above the
    ground 10 m away, shows no pixel; alone it does."""
    big = (0.0, 0.0, 0.9, 0.6)
    small = (0.0, 2.0, 0.4, 0.2)
    pos = np.array([0.0, -10.0, 1.0])
    cam = lcam(position_enu=pos, width_px=200, height_px=200, cx_px=99.5, cy_px=99.5,
               rotation_enu_from_cam=look_at_rotation(pos, (0.0, 2.0, 0.1)))
    sun = sun_from(30.0, 120.0)

    r_small = rock_shapes(_rocks(small))[0, 11]       # its footprint's farthest vertex

    def on_small(fr):
        p = np.nan_to_num(fr.points_enu, nan=9.0)
        return np.count_nonzero((np.hypot(p[..., 0], p[..., 1] - 2.0) < r_small + 1e-9) & (p[..., 2] > 1e-4))

    alone = render(Scene(plane, rocks=_rocks(small)), cam, sun_dir_enu=sun)
    both = render(Scene(plane, rocks=_rocks(big, small)), cam, sun_dir_enu=sun)
    assert on_small(alone) > 50
    assert on_small(both) == 0


def test_no_table_rocks_is_identical(plane):
    """An empty table, or one whose rocks are all wider than 2 DEM pixels (stamped in the DEM),
    renders byte-identically to Scene(terrain); a mixed table keeps only the small rocks."""
    cam = _nadir(size=128)
    sun = sun_from(30.0, 45.0)
    ref = render(Scene(plane), cam, sun_dir_enu=sun)
    empty = Scene(plane, rocks=_rocks((0.0, 0.0, 0.5, 0.2)).iloc[:0])
    big = Scene(plane, rocks=_rocks((0.0, 0.0, 2 * RES + 0.01, 0.5), (1.0, 1.0, 1.5, 0.7)))
    assert empty.rocks is None and big.rocks is None
    for sc in (empty, big):
        fr = render(sc, cam, sun_dir_enu=sun)
        for name in ("reflectance", "range_m", "lit_fraction", "points_enu", "normal_enu"):
            assert getattr(fr, name).tobytes() == getattr(ref, name).tobytes(), name
    mixed = Scene(plane, rocks=_rocks((0.0, 0.0, 2 * RES, 0.5), (1.0, 1.0, 1.5, 0.7), (2.0, 2.0, 0.2, 0.1)))
    assert len(mixed.rocks) == 2
    np.testing.assert_array_equal(np.sort(mixed.rocks.diameter_m), [0.2, 2 * RES])
    # rocks off the DEM are dropped
    assert Scene(plane, rocks=_rocks((100.0, 0.0, 0.5, 0.2))).rocks is None


def test_sub_pixel_frames_skip_the_pass(plane):
    """From 2 km the nearest pixel is ~1.6 m wide, larger than every table rock: the frame is
    the terrain-only frame, byte for byte."""
    cam = _nadir(size=128, height=2000.0)
    sun = sun_from(20.0, 90.0)
    fr = render(Scene(plane, rocks=_rocks((0.0, 0.0, 0.9, 0.6))), cam, sun_dir_enu=sun)
    ref = render(Scene(plane), cam, sun_dir_enu=sun)
    assert fr.reflectance.tobytes() == ref.reflectance.tobytes()


def test_deterministic_and_many_rocks(plane):
    """Many overlapping rocks: same inputs, byte-identical frames; every rock pixel is nearer
    than the plane and lies on the top of some rock's Qhull polyhedron."""
    rng = np.random.default_rng(4)
    n = 400
    df = pd.DataFrame({"x_m": rng.uniform(-6, 6, n), "y_m": rng.uniform(-6, 6, n),
                       "diameter_m": rng.uniform(0.1, 1.0, n)})
    df["height_m"] = df["diameter_m"] * rng.uniform(0.3, 0.7, n)
    cam = _nadir(size=192, height=12.0)
    sun = sun_from(25.0, 200.0)
    f1 = render(Scene(plane, rocks=df), cam, sun_dir_enu=sun, shadows="penumbra")
    f2 = render(Scene(plane, rocks=df), cam, sun_dir_enu=sun, shadows="penumbra")
    for name in ("reflectance", "range_m", "lit_fraction", "points_enu"):
        assert getattr(f1, name).tobytes() == getattr(f2, name).tobytes(), name
    p = f1.points_enu.reshape(-1, 3)
    up = p[:, 2] > 1e-4
    assert up.sum() > 1000
    q = p[up]
    err = np.full(len(q), np.inf)
    for row in rock_shapes(df):
        near = np.hypot(q[:, 0] - row[0], q[:, 1] - row[1]) <= row[11] + 1e-9
        if near.any():
            top = ref_rock(row).top(q[near, 0] - row[0], q[near, 1] - row[1], fillet=False)
            err[near] = np.minimum(err[near], np.abs(q[near, 2] - top))
    assert err.max() < 1e-9
    assert 0.0 < np.mean(f1.lit_fraction < 0.5) < 0.5


@pytest.mark.parametrize("table, match", [
    (_rocks((0.0, math.nan, 0.5, 0.2)), "rocks.y_m"),
    (_rocks((0.0, 0.0, -0.5, 0.2)), "rocks.diameter_m"),
    (_rocks((0.0, 0.0, 0.5, 0.0)), "rocks.height_m"),
    (pd.DataFrame({"x_m": [0.0], "y_m": [0.0], "diameter_m": [0.5]}), "height_m"),
    ({"x_m": [0.0, 1.0], "y_m": [0.0], "diameter_m": [0.5], "height_m": [0.2]}, "equal length"),
    ("rocks", "rocks"),
])
def test_bad_tables(plane, table, match):
    with pytest.raises(FarsideError, match=match) as ei:
        Scene(plane, rocks=table)
    assert "\n" not in str(ei.value)


def test_bad_min_pixels(plane):
    with pytest.raises(FarsideError, match="rock_dem_min_pixels"):
        Scene(plane, rocks=_rocks((0.0, 0.0, 0.5, 0.2)), rock_dem_min_pixels=-1)


def test_arrays_accepted(plane):
    """A mapping of plain arrays works like the DataFrame."""
    sc = Scene(plane, rocks={"x_m": np.array([0.0]), "y_m": np.array([0.0]), "diameter_m": np.array([0.5]),
                             "height_m": np.array([0.2])})
    assert len(sc.rocks) == 1 and sc.rocks.base_m[0] == 0.0


@pytest.mark.parametrize("shadows", ["hard", "penumbra"])
@pytest.mark.parametrize("behind", [True, False], ids=["rocks-behind-and-straddling", "rocks-ahead"])
def test_object_order_boxes_match_testing_every_pixel(plane, monkeypatch, behind, shadows):
    """The rock pass tests each rock only against the pixels in the image box of the rock and in
    that of its swept shadow (rock_boxes: the pixel centres inside the projected box, the shadow
    length a conservative bound from the DEM); testing every pixel against every rock instead
    gives the same layers. A grazing view from 1.2 m among rocks on all sides: rocks and shadow
    boxes wholly behind the camera, and boxes straddling its plane (clipped), must neither be
    lost nor cover the whole image; on the sloping, bumpy ground the shadows are longer on the
    downhill side than the anti-sun path from a rock's top (the box length must not be a guess)."""
    import farside.render._rocks as R

    rng = np.random.default_rng(5)
    n = 400
    xy = rng.uniform(-12.0, 12.0, (n, 2))
    d = rng.uniform(0.08, 0.4, n)
    # and two next to the camera: one 0.6 m behind it (its shadow reaches 3.8 m into the view),
    # one beside it straddling its image plane (seen at the image's edge)
    xy = np.vstack([xy, [[0.2, -0.6], [0.75, 0.05]]])
    d = np.concatenate([d, [0.8, 0.8]])
    tab = pd.DataFrame({"x_m": xy[:, 0], "y_m": xy[:, 1], "diameter_m": d, "height_m": 0.5 * d})
    nr, nc = plane.heights.shape
    xx = plane.x0_m + (np.arange(nc)[None, :] + 0.5) * plane.resolution_m
    yy = plane.y0_m - (np.arange(nr)[:, None] + 0.5) * plane.resolution_m
    # ground falling 0.12 m per m to the east, with 0.15 m bumps (0 at the origin)
    bumpy = plane.replace(heights=plane.heights - 0.12 * xx + 0.15 * np.sin(xx / 0.7) * np.cos(yy / 0.9))
    scene = Scene(bumpy, rocks=tab)
    pos = np.array([0.0, 0.0, 1.2])
    target = np.array([0.0, 3.0, 0.0]) if behind else np.array([0.0, 30.0, -20.0])
    cam = lcam().replace(width_px=160, height_px=120, cx_px=79.5, cy_px=59.5, pixel_pitch_m=8e-5).with_pose(
        pos, look_at_rotation(pos, target))
    sun = sun_from(6.0, 190.0)                      # low Sun behind: long shadows toward the view
    got = render(scene, cam, sun_dir_enu=sun, shadows=shadows)
    real = R.rock_boxes

    def everything(*args):
        boxes = real(*args)
        width, height = args[-2], args[-1]
        boxes[:, 0::4] = 0
        boxes[:, 1::4] = height - 1
        boxes[:, 2::4] = 0
        boxes[:, 3::4] = width - 1
        return boxes

    monkeypatch.setattr(R, "rock_boxes", everything)
    ref = render(scene, cam, sun_dir_enu=sun, shadows=shadows)
    assert np.isfinite(ref.range_m).sum() > 1000
    for k in ("range_m", "reflectance", "lit_fraction", "points_enu", "normal_enu"):
        assert np.array_equal(getattr(got, k), getattr(ref, k), equal_nan=True), k
    # the rocks are in view and cast shadows in it
    assert (ref.lit_fraction < 0.5).sum() > 50
