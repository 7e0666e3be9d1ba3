"""Rasterised primary hits (near field) against the ray caster: the same mesh, the same pixel rays,
so the same image.

``render`` rasterises the DEM triangles instead of walking the grid when the view holds few
triangles per pixel (``RASTER_MAX_TRIANGLES_PER_PIXEL``). Both methods intersect each pixel-centre
ray with the nearest triangle of the two-per-cell mesh; they may differ only by rounding (and in
which of two triangles owns a pixel centre lying exactly on their shared edge).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.render import Lambert, Scene, lcam, look_at_rotation, render
from farside.render import frame as F
from farside.terrain import generate_site

from tests.render._scenes import sun_from


@pytest.fixture(scope="module")
def site_scene() -> Scene:
    # 512 x 512 at 0.5 m: craters, rocks and roughness, 256 m wide
    return Scene(generate_site(512, 0.5, rng=3).terrain)


def _render(scene, cam, sun, threshold, monkeypatch):
    monkeypatch.setattr(F, "RASTER_MAX_TRIANGLES_PER_PIXEL", threshold)
    return render(scene, cam, sun_dir_enu=sun, photometry=Lambert(0.12), shadows="hard", normals="smooth",
                  layers="all")


def _cameras(scene):
    z0 = float(scene.terrain.height_at(0.0, 0.0))
    small = dict(width_px=256, height_px=256, cx_px=120.3, cy_px=131.7)
    cams = [lcam(position_enu=(0.0, 0.0, z0 + alt), **small) for alt in (20.0, 60.0, 120.0)]
    # oblique views from 40 m and 80 m, 35 and 20 deg off nadir, looking at points inside the DEM
    for pos, tgt in (((-30.0, 25.0, z0 + 40.0), (-2.0, 5.0, z0)), ((50.0, -40.0, z0 + 80.0), (20.0, -10.0, z0))):
        cams.append(lcam(**small).with_pose(np.array(pos), look_at_rotation(pos, tgt, (0.0, 1.0, 0.0))))
    return cams


def test_raster_is_used_in_the_near_field(site_scene):
    """The dispatch picks rasterisation for a low nadir view and the ray caster for a high one,
    a view of the horizon, and a camera with lens distortion."""
    z0 = float(site_scene.terrain.height_at(0.0, 0.0))

    def uses_raster(cam):
        zlo, zhi = F._frame_z_bounds(site_scene, cam)
        return F._raster_hits(site_scene, cam, zlo, zhi, 1e7)[0]

    assert uses_raster(lcam(position_enu=(0.0, 0.0, z0 + 60.0)))
    # from 2 km a 128 x 128 view sees the whole 512 x 512 DEM: 32 triangles per pixel
    assert not uses_raster(lcam(position_enu=(0.0, 0.0, z0 + 2000.0), width_px=128, height_px=128, cx_px=64.0,
                                cy_px=64.0))
    pos = (0.0, 0.0, z0 + 3.0)
    horizon = lcam().with_pose(np.array(pos), look_at_rotation(pos, (100.0, 0.0, z0 + 2.0), (0.0, 0.0, 1.0)))
    assert not uses_raster(horizon)
    assert not uses_raster(lcam(position_enu=(0.0, 0.0, z0 + 60.0), k1=-0.05))


def test_raster_matches_ray_caster(site_scene, monkeypatch):
    """Range within 1 um, identical sky, lit state and (but for pixels on a shared triangle edge,
    at most 0.1 %) identical reflectance and normals, for nadir and oblique near-field views."""
    sun = sun_from(25.0, 135.0)
    for cam in _cameras(site_scene):
        zlo, zhi = F._frame_z_bounds(site_scene, cam)
        assert F._raster_hits(site_scene, cam, zlo, zhi, 1e7)[0], cam.position_enu
        a = _render(site_scene, cam, sun, 0.0, monkeypatch)          # ray caster
        b = _render(site_scene, cam, sun, 1e9, monkeypatch)          # rasterised
        assert np.array_equal(a.sky, b.sky)
        hit = ~a.sky
        assert hit.mean() > 0.99
        assert np.max(np.abs(a.range_m[hit].astype(float) - b.range_m[hit])) < 1e-6 * max(1.0, float(a.range_m[hit].max()))
        assert np.max(np.abs(a.points_enu[hit] - b.points_enu[hit])) < 1e-4
        differ = np.abs(a.reflectance - b.reflectance) > 1e-6
        assert differ.mean() < 1e-3
        assert np.array_equal(a.shadow, b.shadow) or np.mean(a.shadow != b.shadow) < 1e-3
        d_normal = np.max(np.abs(a.normal_enu[hit] - b.normal_enu[hit]), axis=-1)     # float32 unit vectors
        assert np.percentile(d_normal, 99.9) < 1e-5


def test_raster_is_deterministic(site_scene):
    z0 = float(site_scene.terrain.height_at(0.0, 0.0))
    cam = lcam(position_enu=(3.0, -2.0, z0 + 50.0), width_px=128, height_px=128, cx_px=64.0, cy_px=60.0)
    sun = sun_from(30.0, 80.0)
    a = render(site_scene, cam, sun_dir_enu=sun, photometry="hapke", layers="minimal")
    b = render(site_scene, cam, sun_dir_enu=sun, photometry="hapke", layers="minimal")
    assert a.reflectance.tobytes() == b.reflectance.tobytes()
    assert math.isfinite(float(np.nanmax(a.range_m)))
