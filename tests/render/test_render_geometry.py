"""Geometry: projection, occlusion, horizon and cast shadows against analytic solutions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import ScenarioError
from farside.render import (
    Camera,
    Scene,
    lcam,
    look_at_rotation,
    nadir_rotation,
    pan_tilt_rotation,
    render,
    tcam_panorama_pointings,
)
from farside.terrain import Terrain
from tests.render._scenes import sun_from

Z0 = -5935.0


def _box_scene(n=257, res=1.0, height=10.0, half=10):
    """Flat ground at Z0 with a square box (side 2*half px) at the centre."""
    h = np.full((n, n), Z0, np.float32)
    c = n // 2
    h[c - half:c + half + 1, c - half:c + half + 1] = Z0 + height
    ter = Terrain(h, res, x0_m=-(n / 2) * res, y0_m=(n / 2) * res)
    return ter, c


def _ortho_over(ter: Terrain, sub: int = 4) -> Camera:
    """Orthographic nadir camera over the whole DEM, ``sub`` pixels per DEM pixel, image pixel
    centres at sub-multiples of the DEM vertices."""
    n = ter.shape[0]
    w = (n - 1) * sub + 1
    gsd = ter.resolution_m / sub
    cx = (w - 1) / 2
    xc = ter.x0_m + (n / 2) * ter.resolution_m
    yc = ter.y0_m - (n / 2) * ter.resolution_m
    return Camera(width_px=w, height_px=w, focal_length_m=0.01, pixel_pitch_m=1e-5, cx_px=cx, cy_px=cx,
                  projection="orthographic", gsd_m=gsd, position_enu=(xc, yc, 1000.0),
                  rotation_enu_from_cam=nadir_rotation(0.0))


def test_lcam_flat_plane_points_project_to_analytic_pixels():
    """LCAM (docs/references.md 4.1: f = 8.55 mm, 6.7 um, pp (478.63, 513.09)) 2 km above a flat plane:
    each pixel's surface point is the analytic pinhole back-projection, and projecting the
    rendered 3-D point gives back its pixel within 0.1 px."""
    n = 129
    res = 40.0
    ter = Terrain(np.full((n, n), Z0, np.float32), res, x0_m=-(n / 2) * res, y0_m=(n / 2) * res)
    cam = lcam(position_enu=(0.0, 0.0, Z0 + 2000.0))
    fr = render(ter, cam, sun_dir_enu=sun_from(30, 90))
    jj, ii = np.meshgrid(np.arange(1024.0), np.arange(1024.0))
    scale = 6.7e-6 / 8.55e-3 * 2000.0
    x_an = (jj - 478.63) * scale         # nadir, north up: image right = east, image down = south
    y_an = -(ii - 513.09) * scale
    sel = (slice(None, None, 37), slice(None, None, 41))
    np.testing.assert_allclose(fr.points_enu[..., 0][sel], x_an[sel], atol=1e-3 * scale)
    np.testing.assert_allclose(fr.points_enu[..., 1][sel], y_an[sel], atol=1e-3 * scale)
    uv = cam.project(fr.points_enu[sel].reshape(-1, 3))
    err = np.hypot(uv[:, 0] - jj[sel].ravel(), uv[:, 1] - ii[sel].ravel())
    assert err.max() < 0.1
    # a known point: the nadir point projects to the principal point
    assert cam.project([[0.0, 0.0, Z0]])[0] == pytest.approx([478.63, 513.09], abs=1e-9)


def test_distorted_camera_round_trip():
    """With radial distortion the cast rays and ``Camera.project`` agree within 0.1 px."""
    n = 129
    ter = Terrain(np.full((n, n), Z0, np.float32), 10.0, x0_m=-645.0, y0_m=645.0)
    cam = Camera(width_px=64, height_px=48, focal_length_m=4e-3, pixel_pitch_m=6.7e-6, cx_px=30.2, cy_px=25.7,
                 k1=-0.12, k2=0.02, position_enu=(5.0, -3.0, Z0 + 100.0), rotation_enu_from_cam=nadir_rotation(0.3))
    fr = render(ter, cam, sun_dir_enu=sun_from(40, 10), layers="all")
    jj, ii = np.meshgrid(np.arange(64.0), np.arange(48.0))
    uv = cam.project(fr.points_enu.reshape(-1, 3))
    err = np.hypot(uv[:, 0] - jj.ravel(), uv[:, 1] - ii.ravel())
    assert err.max() < 0.1


def test_box_occludes_and_range_is_exact():
    """A camera looking horizontally at a 10 m wall sees the wall (range = analytic distance),
    not the ground behind it; above the wall and the far horizon the sky is black."""
    ter, c = _box_scene(n=257, res=1.0, height=10.0, half=10)
    # camera 60 m south of the box's south face, 5 m above ground, looking north
    pos = np.array([0.0, -70.0, Z0 + 5.0])
    cam = Camera(width_px=101, height_px=61, focal_length_m=0.002, pixel_pitch_m=1e-5, cx_px=50.0, cy_px=30.0,
                 position_enu=pos, rotation_enu_from_cam=pan_tilt_rotation(0.0, 0.0))
    fr = render(ter, cam, sun_dir_enu=sun_from(30, 180))
    # centre pixel: horizontal ray at height 5 m hits the wall ramp between the ground vertex
    # (y = -11) and the top vertex (y = -10) at its mid-height: y = -10.5
    y_vertex_top = ter.y0_m - (c + 10 + 0.5) * ter.resolution_m
    face_y = y_vertex_top - 0.5
    assert float(fr.range_m[30, 50]) == pytest.approx(face_y - pos[1], abs=1e-3)
    assert float(fr.points_enu[30, 50, 2]) == pytest.approx(Z0 + 5.0, abs=1e-3)
    # rows above the horizon see sky, radiance 0
    assert fr.sky[0].all() and np.all(fr.radiance[0] == 0)
    assert not fr.sky[-1].any()


def _shadow_tip(fr, ter, sun, exclude):
    """Largest extent of the cast shadow along the anti-sun horizontal direction (metres)."""
    a = -np.array([sun[0], sun[1]])
    a /= np.linalg.norm(a)
    pts = fr.points_enu
    sh = fr.shadow & ~exclude
    proj = pts[..., 0] * a[0] + pts[..., 1] * a[1]
    return float(proj[sh].max()), a


@pytest.mark.parametrize("elev_deg,az_deg", [(20.0, 90.0), (35.0, 225.0), (60.0, 0.0)])
def test_box_shadow_length(elev_deg, az_deg):
    """A box of height h under a Sun at elevation e casts a shadow of length h / tan(e) (analytic),
    measured from the box's top edge along the anti-sun direction, within one DEM pixel."""
    h_box = 10.0
    ter, c = _box_scene(n=161, res=1.0, height=h_box, half=8)
    sun = sun_from(elev_deg, az_deg)
    cam = _ortho_over(ter, sub=4)
    fr = render(Scene(ter), cam, sun_dir_enu=sun, shadows="hard")
    top = fr.points_enu[..., 2] > Z0 + h_box - 1e-3
    tip, a = _shadow_tip(fr, ter, sun, exclude=top | (fr.points_enu[..., 2] > Z0 + 1e-3))
    # top-face vertices: the farthest one along a, plus h / tan(e)
    xs = ter.x_m[c - 8:c + 9]
    ys = ter.y_m[c - 8:c + 9]
    X, Y = np.meshgrid(xs, ys)
    expected = float((X * a[0] + Y * a[1]).max()) + h_box / math.tan(math.radians(elev_deg))
    assert tip == pytest.approx(expected, abs=ter.resolution_m)


def test_cylinder_rock_shadow_length():
    """A cylindrical rock (radius 6 px, height 4 m) under a 15 deg Sun: shadow tip at
    max(top vertex . a) + h / tan(e) within one pixel."""
    n = 161
    h = np.full((n, n), Z0, np.float32)
    c = n // 2
    yy, xx = np.mgrid[0:n, 0:n]
    top = (yy - c) ** 2 + (xx - c) ** 2 <= 36
    h[top] = Z0 + 4.0
    ter = Terrain(h, 0.5, x0_m=-(n / 2) * 0.5, y0_m=(n / 2) * 0.5)
    sun = sun_from(15.0, 300.0)
    fr = render(ter, _ortho_over(ter, sub=4), sun_dir_enu=sun, shadows="hard")
    tip, a = _shadow_tip(fr, ter, sun, exclude=fr.points_enu[..., 2] > Z0 + 1e-3)
    X, Y = np.meshgrid(ter.x_m, ter.y_m)
    expected = float((X * a[0] + Y * a[1])[top].max()) + 4.0 / math.tan(math.radians(15.0))
    assert tip == pytest.approx(expected, abs=ter.resolution_m)


def test_penumbra_width():
    """With the 0.533 deg solar disk, the shadow edge of a 100 m cliff under a 20 deg Sun blurs
    over h (cot(e - r) - cot(e + r)) = 8.5 m (r = solar radius); hard shadows have no partial
    pixels."""
    n = 401
    h = np.full((n, n), Z0, np.float32)
    h[:, 350:] = Z0 + 100.0          # a cliff: plateau in the east, sun from the east
    ter = Terrain(h, 1.0, x0_m=-200.5, y0_m=200.5)
    sun = sun_from(20.0, 90.0)
    sc = Scene(ter)
    cam = _ortho_over(ter, sub=2)
    soft = render(sc, cam, sun_dir_enu=sun, shadows="penumbra")
    hard = render(sc, cam, sun_dir_enu=sun, shadows="hard")
    row = cam.height_px // 2
    x = soft.points_enu[row, :, 0]
    f = soft.lit_fraction[row]
    ground = soft.points_enu[row, :, 2] < Z0 + 1e-3
    partial = ground & (f > 0.02) & (f < 0.98)
    r = math.radians(0.533 / 2)
    e = math.radians(20.0)
    width = 100.0 * (1 / math.tan(e - r) - 1 / math.tan(e + r))
    measured = x[partial].max() - x[partial].min()
    assert measured == pytest.approx(width, abs=2.0)
    hf = hard.lit_fraction[row][ground]
    assert set(np.unique(hf)) <= {0.0, 1.0}
    # the penumbra is centred on the hard-shadow edge (within a pixel)
    edge_hard = x[ground & (hard.lit_fraction[row] == 0)].min()
    centre = 0.5 * (x[partial].max() + x[partial].min())
    assert centre == pytest.approx(edge_hard, abs=1.0)


def test_tcam_panorama_covers_360():
    """80 TCAM pointings (Xinhua: 80-frame panorama, docs/references.md 4.2) cover every azimuth with
    overlap between neighbouring frames of a tier."""
    pts = tcam_panorama_pointings()
    assert len(pts) == 80
    from farside.render import tcam

    hfov = tcam().fov_deg[0]
    pans = sorted({round(math.degrees(p), 6) for p, _ in pts})
    steps = np.diff(pans + [pans[0] + 360.0])
    assert steps.max() < hfov


def test_bad_inputs_raise_one_line_errors():
    ter = Terrain(np.zeros((8, 8), np.float32), 1.0)
    with pytest.raises(ScenarioError, match="sun_dir_enu"):
        render(ter, lcam(), sun_dir_enu=[np.nan, 0, 1])
    with pytest.raises(ScenarioError, match="photometry"):
        render(ter, lcam(), sun_dir_enu=[0, 0, 1], photometry="phong")
    with pytest.raises(ScenarioError, match="shadows"):
        render(ter, lcam(), sun_dir_enu=[0, 0, 1], shadows="soft")
    with pytest.raises(ScenarioError, match="focal_length_m"):
        lcam(focal_length_m=-1.0)
    with pytest.raises(ScenarioError, match="rotation_enu_from_cam"):
        lcam(rotation_enu_from_cam=np.eye(3) * 2)
    with pytest.raises(ScenarioError, match="target_enu"):
        look_at_rotation([0, 0, 0], [0, 0, 0])
    with pytest.raises(ScenarioError, match="rng"):
        from farside.render import Sensor

        render(ter, lcam(), sun_dir_enu=[0, 0, 1], sensor=Sensor(), rng=None)
    bad = np.zeros((8, 8), np.float32)
    bad[2, 2] = np.nan
    with pytest.raises(ScenarioError, match="terrain.heights"):
        Scene(Terrain(bad, 1.0))


def _brute_force_range(ter: Terrain, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """First hit of each ray with every triangle of the DEM mesh (Moller-Trumbore), NaN if none."""
    h = ter.heights.astype(np.float64)
    X, Y = np.meshgrid(ter.x_m, ter.y_m)
    P = np.stack([X, Y, h], -1)
    v00, v01, v10, v11 = P[:-1, :-1].reshape(-1, 3), P[:-1, 1:].reshape(-1, 3), P[1:, :-1].reshape(-1, 3), \
        P[1:, 1:].reshape(-1, 3)
    A = np.concatenate([v00, v00])
    B = np.concatenate([v01, v10])
    Cc = np.concatenate([v11, v11])
    e1, e2 = B - A, Cc - A
    out = np.full(len(origins), np.nan)
    for k, (o, d) in enumerate(zip(origins, dirs)):
        p = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = o - A
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        hit = ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (t > 1e-9)
        if hit.any():
            out[k] = t[hit].min()
    return out


def test_ray_caster_matches_brute_force_on_random_views():
    """The max-mip traversal (per-tile slabs, level climbing, cell stepping) finds the same first
    hit as an exhaustive ray-triangle test on a rough 33 x 33 DEM, for random cameras above and
    inside the height range, looking down, sideways and up (sky)."""
    rng = np.random.default_rng(5)
    n = 33
    h = (Z0 + 6.0 * rng.standard_normal((n, n))).astype(np.float32)
    h[10:14, 20:23] += 25.0                                   # a tall block
    ter = Terrain(h, 2.0, x0_m=-33.0, y0_m=33.0)
    scene = Scene(ter)
    checked = 0
    for k in range(40):
        # (inside the DEM's footprint: a ray entering through the DEM's side below its edge height
        # hits that side in farside, the DEM being a solid block; a bare mesh has no side)
        pos = np.array([rng.uniform(-31, 31), rng.uniform(-31, 31), Z0 + rng.uniform(-5, 80)])
        r, c = (int(np.floor(x)) for x in ter.xy_to_ij(pos[0], pos[1]))
        pos[2] = max(pos[2], float(h[r:r + 2, c:c + 2].max()) + 0.5)      # above the local mesh
        target = np.array([rng.uniform(-30, 30), rng.uniform(-30, 30), Z0 + rng.uniform(-20, 20)])
        if k == 0:
            target = pos + np.array([0.0, 0.0, -1.0])           # exactly vertical centre ray
        if k == 1:
            target = pos + np.array([1.0, 0.0, 0.0])            # exactly horizontal, along a row
        rot = look_at_rotation(pos, target, (0.0, 1.0, 0.0) if k == 0 else (0.0, 0.0, 1.0))
        cam = Camera(width_px=12, height_px=10, focal_length_m=4e-3, pixel_pitch_m=1e-5 * (1 + k % 3),
                     cx_px=5.5, cy_px=4.5, position_enu=pos, rotation_enu_from_cam=rot)
        fr = render(scene, cam, sun_dir_enu=sun_from(30, 45), shadows="none", layers="all")
        jj, ii = np.meshgrid(np.arange(12.0), np.arange(10.0))
        d_cam = np.stack([(jj - 5.5) / cam.fx_px, (ii - 4.5) / cam.fy_px, np.ones_like(jj)], -1).reshape(-1, 3)
        d = d_cam @ rot.T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        ref = _brute_force_range(ter, np.tile(pos, (len(d), 1)), d)
        got = fr.range_m.ravel().astype(float)
        bad = np.isnan(got) != np.isnan(ref)
        assert not bad.any(), (k, pos, target, got[bad], ref[bad])
        np.testing.assert_allclose(got[~np.isnan(ref)], ref[~np.isnan(ref)], atol=2e-3)
        checked += int((~np.isnan(ref)).sum())
    assert checked > 2000
