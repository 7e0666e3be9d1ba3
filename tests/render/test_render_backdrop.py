"""``render(..., backdrop=...)``: a coarse regional terrain behind the main DEM fills the main
pass's sky pixels (and site pixels hidden behind backdrop terrain outside the site); every other
pixel is exactly the render without backdrop; the sensor runs once, on the composite."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import FarsideError
from farside.render import Scene, Sensor, lcam, look_at_rotation, nadir_rotation, render
from farside.terrain import Terrain
from tests.render._scenes import sun_from

SUN = sun_from(25.0, 120.0)
LAYERS = ("range_m", "reflectance", "radiance", "lit_fraction", "points_enu", "normal_enu", "incidence_rad",
          "emission_rad", "phase_rad")


def _site() -> Terrain:
    """128 m x 128 m 'site' centred on the origin: gentle bumps around z = 0."""
    n = 129
    x = (np.arange(n) - 64.0)
    xx, yy = np.meshgrid(x, -x)
    h = 0.8 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + 0.3 * np.cos((xx + yy) / 5.0)
    return Terrain(h.astype(np.float32), 1.0, x0_m=-64.5, y0_m=64.5)


#: backdrop plane height: below the whole site (+-1.1 m), so only a ridge can hide site pixels
ZB = -3.0


def _backdrop(zb: float = ZB, ridge_m: float = 0.0) -> Terrain:
    """1.6 km x 1.6 km at 8 m: a plane at ``zb`` (optionally a ridge ``ridge_m`` high across
    y = 96..112 m, between the test camera and the site)."""
    n = 201
    h = np.full((n, n), zb, np.float32)
    if ridge_m:
        y = 800.0 - 8.0 * np.arange(n)              # vertex rows' y (row 0 = north edge, y = 800)
        h[(y >= 96.0) & (y <= 112.0), :] = zb + ridge_m
    return Terrain(h, 8.0, x0_m=-804.0, y0_m=804.0)


def _camera(pos=(0.0, 300.0, 40.0), target=(0.0, -60.0, 0.0)):
    """A small LCAM-like view from the north, looking south-down across the site and beyond,
    up to above the horizon (sky at the top)."""
    c = lcam().replace(width_px=96, height_px=96, cx_px=47.5, cy_px=47.5, pixel_pitch_m=2.5e-5)
    return c.with_pose(np.array(pos), look_at_rotation(pos, target))


def _layers(fr):
    return {k: getattr(fr, k) for k in LAYERS}


@pytest.fixture(scope="module")
def scenes():
    return Scene(_site()), Scene(_backdrop())


def test_sky_pixels_come_from_the_backdrop(scenes):
    """Pixels that are sky against the site but hit the backdrop get the backdrop's layers,
    identical to rendering the backdrop alone; every other pixel is byte-identical to the render
    without backdrop."""
    site, back = scenes
    cam = _camera()
    f0 = render(site, cam, sun_dir_enu=SUN)
    f1 = render(site, cam, sun_dir_enu=SUN, backdrop=back)
    fb = render(back, cam, sun_dir_enu=SUN)
    on_site = ~f0.sky
    assert 0.1 < on_site.mean() < 0.9                    # the view holds site and beyond
    take = f1.from_backdrop
    assert np.array_equal(take, f0.sky & ~fb.sky)        # no occluders here: exactly the sky pixels
    assert take.sum() > 500 and f1.sky.sum() > 0          # terrain beyond the site, sky above the horizon
    for k, a1 in _layers(f1).items():
        a0, ab = getattr(f0, k), getattr(fb, k)
        assert np.array_equal(a1[~take], a0[~take], equal_nan=True), k
        assert np.array_equal(a1[take], ab[take], equal_nan=True), k
    assert np.all(np.isfinite(f1.range_m[take]))
    assert f1.sidecar()["backdrop_pixel_fraction"] == pytest.approx(take.mean())
    assert "backdrop_pixel_fraction" not in f0.sidecar()


def test_backdrop_range_is_the_analytic_plane_range(scenes):
    """The backdrop is the plane z = -3 m beyond the site: along a unit ray from the camera the
    range is (z_b - z_cam) / d_z (analytic), to 1 mm."""
    site, back = scenes
    cam = _camera()
    f1 = render(site, cam, sun_dir_enu=SUN, backdrop=back)
    i, j = np.nonzero(f1.from_backdrop)
    d_cam = np.stack([(j - cam.cx_px) / cam.fx_px, (i - cam.cy_px) / cam.fy_px, np.ones(i.size)], axis=1)
    d = d_cam @ cam.rotation_enu_from_cam.T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t = (ZB - cam.position_enu[2]) / d[:, 2]
    inside = np.all(np.abs(cam.position_enu[:2] + t[:, None] * d[:, :2]) < 795.0, axis=1)   # not the edge
    assert inside.sum() > 500
    np.testing.assert_allclose(f1.range_m[i, j][inside], t[inside], rtol=0, atol=1e-3)


def test_backdrop_terrain_in_front_of_the_site_hides_it():
    """A 20 m ridge between the camera and the site (outside the site DEM) hides the near part of
    the site: those pixels come from the backdrop, nearer than the site hit, on the ridge."""
    site = Scene(_site())
    back = Scene(_backdrop(ridge_m=20.0))
    cam = _camera()
    f0 = render(site, cam, sun_dir_enu=SUN)
    f1 = render(site, cam, sun_dir_enu=SUN, backdrop=back)
    hidden = f1.from_backdrop & ~f0.sky
    assert hidden.sum() > 50
    assert np.all(f1.range_m[hidden] < f0.range_m[hidden])
    p = f1.points_enu[hidden]
    assert np.all((p[:, 1] > 88.0 - 1e-6) & (p[:, 1] < 120.0 + 1e-6)) and np.all(p[:, 2] > ZB)
    kept = ~f1.from_backdrop
    assert np.array_equal(f1.range_m[kept], f0.range_m[kept], equal_nan=True)


def test_no_sky_no_change(scenes):
    """A nadir view that the site fills: the backdrop changes nothing."""
    site, back = scenes
    cam = lcam().replace(width_px=64, height_px=64, cx_px=31.5, cy_px=31.5).with_pose(
        np.array([0.0, 0.0, 60.0]), nadir_rotation(0.0))
    f0 = render(site, cam, sun_dir_enu=SUN, sensor=Sensor(), rng=np.random.default_rng(1))
    f1 = render(site, cam, sun_dir_enu=SUN, sensor=Sensor(), rng=np.random.default_rng(1), backdrop=back)
    assert not f0.sky.any() and not f1.from_backdrop.any()
    assert np.array_equal(f0.dn, f1.dn) and f0.exposure_s == f1.exposure_s


def test_sensor_once_on_the_composite_deterministic(scenes):
    """Auto exposure sees the composite (the bright backdrop changes it); same seed, same bytes."""
    site, back = scenes
    cam = _camera()
    f0 = render(site, cam, sun_dir_enu=SUN, sensor=Sensor(), rng=np.random.default_rng(7))
    a = render(site, cam, sun_dir_enu=SUN, sensor=Sensor(), rng=np.random.default_rng(7), backdrop=back)
    b = render(site, cam, sun_dir_enu=SUN, sensor=Sensor(), rng=np.random.default_rng(7), backdrop=back)
    assert np.array_equal(a.dn, b.dn) and a.exposure_s == b.exposure_s
    assert a.exposure_s != f0.exposure_s
    lit = a.from_backdrop & (a.lit_fraction > 0.5)
    assert np.median(a.dn[lit]) > 10                     # the backdrop is exposed, not black
    assert not np.array_equal(a.dn, render(site, cam, sun_dir_enu=SUN, sensor=Sensor(),
                                           rng=np.random.default_rng(8), backdrop=back).dn)


def test_bad_backdrop_one_line(scenes):
    site, _ = scenes
    cam = _camera()
    with pytest.raises(FarsideError, match=r"^backdrop = 'str' is invalid: a farside.render.Scene") as e:
        render(site, cam, sun_dir_enu=SUN, backdrop="str")
    assert "\n" not in str(e.value)
    with pytest.raises(FarsideError, match=r"^backdrop = .* is invalid: different Scenes"):
        render(site, cam, sun_dir_enu=SUN, backdrop=site)
    with pytest.raises(FarsideError, match=r"^backdrop = .* is invalid: different Scenes"):
        render(site, cam, sun_dir_enu=SUN, backdrop=[scenes[1], scenes[1]])
    with pytest.raises(FarsideError, match=r"^backdrop = \[\] is invalid: "):
        render(site, cam, sun_dir_enu=SUN, backdrop=[])


def test_backdrop_accepts_a_terrain(scenes):
    site, back = scenes
    cam = _camera()
    f1 = render(site, cam, sun_dir_enu=SUN, backdrop=back)
    f2 = render(site, cam, sun_dir_enu=SUN, backdrop=back.terrain)
    assert np.array_equal(f1.range_m, f2.range_m, equal_nan=True)
    assert math.isclose(float(np.nanmax(f1.range_m)), float(np.nanmax(f2.range_m)))


def test_nested_backdrops_finest_first(scenes):
    """A 400 m plane at z = -2 m (level 1) inside the 1.6 km plane at z = -3 m (level 2): level 1
    fills what it covers exactly as alone; level 2 the rest, exactly as alone, at the analytic
    plane range, with hit points outside level 1."""
    site, far = scenes
    near = Scene(Terrain(np.full((101, 101), -2.0, np.float32), 4.0, x0_m=-202.0, y0_m=202.0))
    cam = _camera()
    f1 = render(site, cam, sun_dir_enu=SUN, backdrop=near)
    f2 = render(site, cam, sun_dir_enu=SUN, backdrop=[near, far])
    ff = render(far, cam, sun_dir_enu=SUN)
    lvl2 = f2.from_backdrop & ~f1.from_backdrop
    assert f1.from_backdrop.sum() > 300 and lvl2.sum() > 300
    assert np.array_equal(f2.from_backdrop, f1.from_backdrop | (f1.sky & ~ff.sky))
    for k, a2 in _layers(f2).items():
        assert np.array_equal(a2[~lvl2], getattr(f1, k)[~lvl2], equal_nan=True), k
        assert np.array_equal(a2[lvl2], getattr(ff, k)[lvl2], equal_nan=True), k
    p = f2.points_enu[lvl2]
    assert np.all(np.max(np.abs(p[:, :2]), axis=1) > 200.0 - 1e-6)
    np.testing.assert_allclose(p[:, 2], ZB, atol=1e-3)


@pytest.mark.parametrize("pos", [(0.0, 300.0, 40.0), (0.0, 1500.0, 120.0), (0.0, 30.0, 25.0)],
                         ids=["outside-site", "outside-both", "over-site"])
def test_cut_short_backdrop_rays_give_the_full_cast(monkeypatch, pos):
    """Backdrop passes cast each ray with a hit only up to where it enters the mesh that gave the
    hit (render_pass's lim_*): every layer equals casting every ray in full, for a camera outside
    both inner meshes (the descent's first frames), outside the site only, and over the site.
    Ridges in both backdrops hide parts of the inner meshes, so the cut must keep those hits."""
    import farside.render.frame as F

    site = Scene(_site())
    near_h = np.full((101, 101), -2.0, np.float32)
    near_h[10:14, :] = 15.0                                   # a ridge across y = 144..160 m
    near = Scene(Terrain(near_h, 4.0, x0_m=-202.0, y0_m=202.0))
    far = Scene(_backdrop(ridge_m=40.0))
    far.terrain.heights[10:12, :] = ZB + 80.0                 # and one at y = 712..720 m
    far = Scene(far.terrain)
    cam = _camera(pos=pos)
    out = {}
    for cut in (True, False):
        monkeypatch.setattr(F, "_LIMIT_BACKDROP_RAYS", cut)
        out[cut] = render(site, cam, sun_dir_enu=SUN, backdrop=[near, far], sensor=Sensor(),
                          rng=np.random.default_rng(3))
    a, b = out[True], out[False]
    assert b.from_backdrop.sum() > 300
    assert np.array_equal(a.from_backdrop, b.from_backdrop)
    for k, v in _layers(a).items():
        assert np.array_equal(v, getattr(b, k), equal_nan=True), k
    assert np.array_equal(a.dn, b.dn)
