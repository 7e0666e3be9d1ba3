"""The frame kernels hand their rows to the threads interleaved, and a tile's rays start from a
height slab narrowed in rounds (``farside.render._kernels``): a frame must not depend on the
thread count, and the narrowed slabs must keep every hit (checked against each pixel cast on
its own through the whole DEM's slab: ``_cast_one`` below)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import njit

from farside.render import Scene, Sensor, lcam, look_at_rotation, render
from farside.render._kernels_trace import _clip_ray, _traverse
from farside.terrain import Terrain
from tests.render._scenes import sun_from

SUN = sun_from(20.0, 100.0)
R_MOON = 1737400.0


def _curved(n=513, res=32.0, seed=4) -> Terrain:
    """A 16 km square of bumps and pits at 32 m on the Moon's curvature (heights above the site's
    tangent plane: z = sqrt((R + h)^2 - r^2) - R, as a regional backdrop's)."""
    rng = np.random.default_rng(seed)
    x = (np.arange(n) - (n - 1) / 2) * res
    xx, yy = np.meshgrid(x, -x)
    h = 60.0 * np.sin(xx / 900.0) * np.cos(yy / 700.0) + 25.0 * np.cos((xx + 2 * yy) / 310.0)
    h += rng.normal(0.0, 3.0, h.shape)
    z = np.sqrt((R_MOON + h) ** 2 - xx ** 2 - yy ** 2) - R_MOON
    half = (n - 1) / 2 * res + res / 2
    return Terrain(z.astype(np.float32), res, x0_m=-half, y0_m=half, meta={"curvature": True})


def _site() -> Terrain:
    n = 257
    x = (np.arange(n) - 128.0) * 0.5
    xx, yy = np.meshgrid(x, -x)
    h = 0.6 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    return Terrain(h.astype(np.float32), 0.5, x0_m=-64.25, y0_m=64.25)


def _camera(pos, target, size=160):
    c = lcam().replace(width_px=size, height_px=size, cx_px=size / 2 - 0.5, cy_px=size / 2 - 0.5,
                       pixel_pitch_m=6.7e-6 * 1024 / size)
    return c.with_pose(np.array(pos, float), look_at_rotation(pos, target))


@njit
def _cast_one(h, mip, offs, mrows, mcols, zmin, zmax, u, v, z, du, dv, dz, tmax):
    """One ray (grid coords u, v; z metres; direction per metre of path) clipped to the whole
    DEM's slab [zmin, zmax] and traversed: the ray parameter of its first hit, -1 for sky."""
    t0, t1, du, dv, idu, idv, dmax = _clip_ray(h.shape[0], h.shape[1], zmin, zmax, u, v, z, du, dv, dz, tmax)
    if t0 > t1:
        return -1.0
    return _traverse(h, mip, offs, mrows, mcols, u, v, z, du, dv, dz, idu, idv, dmax, t0, t1)


def _cast_each_pixel(scene, cam) -> np.ndarray:
    """Range of each pixel's ray cast alone from the camera through the whole DEM's slab
    (:func:`_cast_one`); NaN where it meets nothing."""
    rot = cam.rotation_enu_from_cam
    res = scene.resolution_m
    o = cam.position_enu
    want = np.full((cam.height_px, cam.width_px), np.nan)
    for i in range(cam.height_px):
        for j in range(cam.width_px):
            d = rot @ np.array([(j - cam.cx_px) / cam.fx_px, (i - cam.cy_px) / cam.fy_px, 1.0])
            d /= np.linalg.norm(d)
            t = _cast_one(scene.heights, scene.mip, scene.mip_offs, scene.mip_rows, scene.mip_cols, scene.zmin,
                         scene.zmax, (o[0] - scene.x0_m) / res - 0.5, (scene.y0_m - o[1]) / res - 0.5, o[2],
                         d[0] / res, -d[1] / res, d[2], 1e7)
            if t >= 0:
                want[i, j] = t
    return want


@pytest.fixture(scope="module")
def scenes():
    rocks = {"x_m": np.array([3.0, -10.0, 20.0]), "y_m": np.array([1.0, 12.0, -8.0]),
             "diameter_m": np.array([0.8, 0.6, 0.9]), "height_m": np.array([0.3, 0.25, 0.4])}
    return Scene(_site(), rocks=rocks), Scene(_curved())


@pytest.mark.parametrize("view", ["grazing", "steep"])
def test_frame_is_independent_of_the_thread_count(scenes, view):
    site, back = scenes
    if view == "grazing":       # from 9 km outside the backdrop, 1.5 km up, toward the site: horizon in view
        cam = _camera((0.0, -17000.0, 1500.0), (0.0, 0.0, -200.0))
    else:                       # from 60 m above the site, rocks in view
        cam = _camera((5.0, -20.0, 60.0), (0.0, 0.0, 0.0))
    n0 = numba.get_num_threads()
    out = []
    try:
        for nt in sorted({1, 2, min(3, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(nt)
            out.append(render(site, cam, sun_dir_enu=SUN, backdrop=back, sensor=Sensor(),
                              rng=np.random.default_rng(7)))
    finally:
        numba.set_num_threads(n0)
    a = out[0]
    if view == "grazing":
        assert float(np.mean(a.from_backdrop)) > 0.05
    else:
        assert not a.from_backdrop.any()
    for b in out[1:]:
        for k in ("range_m", "reflectance", "lit_fraction", "points_enu", "normal_enu"):
            assert np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True), k
        assert np.array_equal(a.dn, b.dn)


def test_narrowed_tile_slabs_keep_every_hit(scenes):
    """Grazing rays over the curved backdrop (where the slab narrowing does the most): the
    frame's ranges equal each pixel cast alone from the camera through the whole DEM's slab."""
    _, back = scenes
    cam = _camera((0.0, -7000.0, 1200.0), (0.0, 3000.0, -300.0), size=96)
    got = render(back, cam, sun_dir_enu=SUN, layers="minimal").range_m
    want = _cast_each_pixel(back, cam)
    hit = ~np.isnan(want)
    assert 0.3 < hit.mean() < 0.99                      # ground and sky in view
    assert np.array_equal(hit, ~np.isnan(got))
    np.testing.assert_allclose(got[hit], want[hit], rtol=1e-6, atol=1e-3)
    assert np.nanmax(got) > 9000.0          # hits out toward the horizon


def test_tiles_outside_the_mesh_image_box_keep_every_hit(scenes):
    """A pass casts only the tiles that meet the image box of the mesh's bounding box
    (``frame._image_rect``); seen from 330 m away, 300 m up, the 128 m site fills part of the view: the
    frame's ranges equal each pixel of the whole image cast alone through the DEM."""
    from farside.render import frame as F

    site, _ = scenes
    cam = _camera((20.0, -150.0, 300.0), (0.0, 0.0, 0.0), size=96)
    rect = F._image_rect(site, cam, site.zmin, site.zmax)
    area = (rect[1] - rect[0] + 1) * (rect[3] - rect[2] + 1) / 96 ** 2
    assert 0.2 < area < 0.8                                 # the box covers part of the view
    got = render(site, cam, sun_dir_enu=SUN, layers="minimal").range_m
    want = _cast_each_pixel(site, cam)
    hit = ~np.isnan(want)
    assert 0.1 < hit.mean() < 0.9
    assert np.array_equal(hit, ~np.isnan(got))
    np.testing.assert_allclose(got[hit], want[hit], rtol=1e-6, atol=1e-3)
    rows, cols = np.nonzero(hit)        # every hit inside the box
    assert rows.min() >= rect[0] and rows.max() <= rect[1] and cols.min() >= rect[2] and cols.max() <= rect[3]
