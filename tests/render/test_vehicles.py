"""Vehicles as triangle-mesh scene objects (farside.render.vehicles, render(objects=...)).

References: analytic shadow length h / tan(e) and width of a box on a plane; OpenCV's polygon
fill of the pinhole projection of the mesh's triangles (an independent rasteriser); analytic
ray-box and ray-plane distances. Tolerances in pixels and metres.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from farside.errors import FarsideError
from farside.render import (
    Camera,
    Mesh,
    Scene,
    ce4_lander,
    look_at_rotation,
    nadir_rotation,
    place,
    render,
    tcam,
    yutu2_rover,
)
from farside.render.vehicles import box_mesh
from farside.terrain import Terrain
from tests.render._scenes import sun_from


@pytest.fixture(scope="module")
def ground() -> Scene:
    """A flat 50 m x 50 m plane at z = 0, 0.5 m pixels, centred on the site origin."""
    n, res = 101, 0.5
    return Scene(Terrain(np.zeros((n, n), np.float32), res, x0_m=-(n / 2) * res, y0_m=(n / 2) * res))


def _persp(position, target, width=480, height=360, fov_deg=50.0, colour="mono") -> Camera:
    pitch = 5e-6
    f = 0.5 * width * pitch / math.tan(math.radians(fov_deg / 2))
    pos = np.asarray(position, float)
    return Camera(width_px=width, height_px=height, focal_length_m=f, pixel_pitch_m=pitch, cx_px=(width - 1) / 2,
                  cy_px=(height - 1) / 2, position_enu=pos, rotation_enu_from_cam=look_at_rotation(pos, target),
                  colour=colour)


def _rays(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) unit ray directions (ENU) through the pixel centres, and the origin."""
    j, i = np.meshgrid(np.arange(cam.width_px), np.arange(cam.height_px))
    d = np.stack([(j - cam.cx_px) / cam.fx_px, (i - cam.cy_px) / cam.fy_px, np.ones(j.shape)], axis=-1)
    d = d @ cam.rotation_enu_from_cam.T
    return d / np.linalg.norm(d, axis=-1, keepdims=True), cam.position_enu


# ---------------------------------------------------------------------------------------------
def test_meshes_closed_outward_and_sized():
    """Every edge of the vehicle meshes is shared by exactly two triangles with opposite
    directions (closed, consistently wound) and the enclosed volume is positive (outward)."""
    for mesh, lo_tris, hi_tris in ((ce4_lander(), 300, 2000), (yutu2_rover(), 300, 2000)):
        assert lo_tris <= mesh.n_triangles <= hi_tris
        t = mesh.triangles
        edges = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        fwd = {tuple(e) for e in edges.tolist()}
        assert len(fwd) == len(edges)                                  # no edge twice the same way
        assert all((b, a) in fwd for a, b in fwd)                      # each matched by its reverse
        v = mesh.vertices
        vol = np.einsum("ij,ij->i", v[t[:, 0]], np.cross(v[t[:, 1]], v[t[:, 2]])).sum() / 6.0
        assert vol > 0
    lander, rover = ce4_lander().bounds(), yutu2_rover().bounds()
    assert lander[0, 2] == pytest.approx(0.0, abs=1e-9) and rover[0, 2] == pytest.approx(0.0, abs=1e-9)
    assert lander[1, 2] == pytest.approx(2.7, abs=1e-9)        # TCAM head (centre 2.6 m, 0.2 m high)
    assert rover[1, 2] == pytest.approx(1.56, abs=1e-9)        # PCAM head (centre 1.5 m, 0.12 m high)


def test_box_shadow_length_and_width_orthographic(ground):
    """A 1 x 1 x 2 m box under a Sun 35 deg high in the east: its shadow on the plane, seen by an
    orthographic nadir camera (2 cm pixels), runs from the west face to 2 / tan(35 deg) = 2.856 m
    beyond it and is 1 m wide (analytic), within 1 px."""
    h, e = 2.0, 35.0
    box = place(box_mesh(1.0, 1.0, h), (0.0, 0.0, 0.0), math.pi / 2, object_id=7)   # x forward = east
    gsd = 0.02
    cam = Camera(width_px=320, height_px=160, focal_length_m=0.01, pixel_pitch_m=1e-5, cx_px=159.5, cy_px=79.5,
                 projection="orthographic", gsd_m=gsd, position_enu=(-1.6, 0.0, 50.0),
                 rotation_enu_from_cam=nadir_rotation(0.0))
    for shadows in ("hard", "penumbra"):
        fr = render(ground, cam, sun_dir_enu=sun_from(e, 90.0), photometry="lambert", shadows=shadows, objects=[box])
        on_box = fr.object_id == 7
        assert on_box.sum() > 0 and set(np.unique(fr.object_id)) == {0, 7}
        # the box top: x in [-0.5, 0.5], y in [-0.5, 0.5]
        bx, _by = fr.points_enu[on_box, 0], fr.points_enu[on_box, 1]
        assert bx.min() == pytest.approx(-0.5, abs=gsd) and bx.max() == pytest.approx(0.5, abs=gsd)
        sh = fr.shadow & (fr.object_id == 0)
        x, y = fr.points_enu[sh, 0], fr.points_enu[sh, 1]
        tip = -0.5 - h / math.tan(math.radians(e))
        assert x.min() == pytest.approx(tip, abs=gsd)
        assert x.max() == pytest.approx(-0.5, abs=gsd)
        assert y.min() == pytest.approx(-0.5, abs=gsd) and y.max() == pytest.approx(0.5, abs=gsd)
        if shadows == "penumbra":      # partial pixels only along the edges (penumbra a few mm wide)
            part = (fr.lit_fraction > 0.02) & (fr.lit_fraction < 0.98) & (fr.object_id == 0)
            assert 0 < part.sum() < 0.1 * sh.sum()


def test_lander_silhouette_matches_projected_triangles(ground):
    """object_id of the lander in a perspective view = OpenCV's fill of the pinhole projections
    of all its triangles (the silhouette of a closed mesh), except on a 1-px boundary band."""
    obj = place(ce4_lander(), (0.0, 0.0, 0.0), math.radians(30.0), object_id=3)
    cam = _persp((7.0, -8.0, 2.2), (0.0, 0.0, 1.2), width=480, height=360, fov_deg=45.0)
    fr = render(ground, cam, sun_dir_enu=sun_from(40.0, 120.0), photometry="lambert", layers="minimal",
                objects=[obj])
    got = (fr.object_id == 3).astype(np.uint8)
    uv = cam.project(obj.vertices_enu)
    assert np.all(np.isfinite(uv))
    ref = np.zeros_like(got)
    pts = np.round(uv * 256).astype(np.int32)
    for tri in obj.mesh.triangles:          # one at a time: a multi-contour fill is even-odd
        cv2.fillPoly(ref, [pts[tri]], 1, lineType=cv2.LINE_8, shift=8)
    k = np.ones((3, 3), np.uint8)
    # the 1-px boundary band of either mask (OpenCV's fill covers every pixel an edge passes
    # through, so it also closes gaps narrower than ~2 px, e.g. between crossing struts)
    band = (cv2.dilate(ref, k) != cv2.erode(ref, k)) | (cv2.dilate(got, k) != cv2.erode(got, k))
    diff = got != ref
    assert got.sum() > 0.1 * got.size
    assert not np.any(diff & ~band), int(np.count_nonzero(diff & ~band))
    # OpenCV's fill is the generous one: the rendered silhouette (pixel centres) lies inside it
    assert np.count_nonzero(got > ref) <= 0.002 * got.sum(), (np.count_nonzero(got > ref), got.sum())
    assert np.count_nonzero(diff) < 0.25 * np.count_nonzero(band)


def test_box_occludes_terrain_range_exact(ground):
    """A 2 x 1.5 x 1 m box on the plane: each pixel's range is the analytic ray-box distance
    where the ray meets the box, else the ray-plane distance (within 1 mm); the box's pixels are
    exactly the rays that meet it."""
    box = place(box_mesh(2.0, 1.5, 1.0, material="grey_paint"), (0.3, -0.2, 0.0), 0.0, object_id=1)
    cam = _persp((4.3, -5.1, 2.7), (0.1, 0.2, 0.3), width=320, height=240, fov_deg=60.0)
    fr = render(ground, cam, sun_dir_enu=sun_from(30.0, 200.0), photometry="lambert", objects=[box])
    d, o = _rays(cam)
    lo = np.array([0.3 - 0.75, -0.2 - 1.0, 0.0])       # heading 0: body x = north, y = west
    hi = np.array([0.3 + 0.75, -0.2 + 1.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (lo - o) / d
        tb = (hi - o) / d
    tn = np.minimum(ta, tb).max(axis=-1)
    tf = np.maximum(ta, tb).min(axis=-1)
    hit = (tn <= tf) & (tn > 0)
    t_plane = -o[2] / d[..., 2]
    expect = np.where(hit, tn, np.where(d[..., 2] < 0, t_plane, np.nan))
    margin = np.abs(tn - tf) < 1e-9                     # grazing rays along an edge (none here)
    assert np.array_equal((fr.object_id == 1)[~margin], hit[~margin])
    assert hit.sum() > 5000
    with np.errstate(invalid="ignore"):
        gp = o + t_plane[..., None] * d
    inside = (np.abs(gp[..., 0]) < 24.9) & (np.abs(gp[..., 1]) < 24.9)      # the 50 m plane's mesh
    ok = np.isfinite(expect) & (hit | inside)
    assert np.all(np.isfinite(fr.range_m[ok]))
    assert np.max(np.abs(fr.range_m[ok] - expect[ok])) < 1e-3
    # points on the box lie on its faces
    p = fr.points_enu[fr.object_id == 1]
    assert np.all(p >= lo - 1e-4) and np.all(p <= hi + 1e-4)


def test_no_objects_bit_identical(ground):
    """objects=None is the frame without the argument; an empty list or an object behind the
    camera changes no layer (object_id all 0)."""
    cam = _persp((6.0, -6.0, 1.8), (0.0, 0.0, 0.5), width=200, height=150, colour="rggb")
    kw = {"sun_dir_enu": sun_from(25.0, 80.0), "photometry": "hapke", "shadows": "penumbra"}
    a = render(ground, cam, **kw)
    b = render(ground, cam, objects=None, **kw)
    behind = place(yutu2_rover(), (12.0, -12.0, 0.0), 0.0, object_id=2)      # behind the camera
    c = render(ground, cam, objects=[], **kw)
    e = render(ground, cam, objects=[behind], **kw)
    assert a.object_id is None and b.object_id is None
    for f in (b, c, e):
        for name in ("radiance", "reflectance", "range_m", "lit_fraction", "points_enu", "normal_enu",
                     "incidence_rad", "emission_rad", "phase_rad"):
            assert np.array_equal(getattr(a, name), getattr(f, name), equal_nan=True), name
    assert not c.object_id.any() and not e.object_id.any()
    assert a.sidecar() == b.sidecar() == c.sidecar()


def test_gold_foil_colour(ground):
    """A colour camera sees the gold lander much redder (R/B) than the grey regolith."""
    obj = place(ce4_lander(), (0.0, 0.0, 0.0), 0.0, object_id=1)
    base = tcam()
    cam = _persp((8.0, -6.0, 1.5), (0.0, 0.0, 1.3), width=320, height=240, fov_deg=40.0, colour="rggb")
    assert base.colour == cam.colour
    fr = render(ground, cam, sun_dir_enu=sun_from(30.0, 100.0), photometry="hapke", objects=[obj])
    rad = fr.radiance
    lit = fr.reflectance > 0
    ratio = rad[..., 0] / np.where(rad[..., 2] > 0, rad[..., 2], np.nan)
    lander = np.nanmedian(ratio[(fr.object_id == 1) & lit])
    soil = np.nanmedian(ratio[(fr.object_id == 0) & lit])
    assert lander > 2.5 * soil, (lander, soil)
    # the mono reflectance is the band mean: the radiance of a terrain pixel is unchanged by the tint
    assert np.allclose(soil, np.nanmedian(ratio[(fr.object_id == 0) & lit]))


def test_rover_in_lander_shadow(ground):
    """Object-on-object shadows: a rover standing in the lander's shadow is dark, the same rover
    in the open is lit."""
    lander = place(ce4_lander(), (0.0, 0.0, 0.0), 0.0, object_id=1)
    sun = sun_from(20.0, 90.0)                       # shadow toward the west
    shaded = place(yutu2_rover(), (-3.3, 0.0, 0.0), 0.0, object_id=2)
    cam = _persp((-3.3, -6.0, 2.5), (-3.3, 0.0, 0.5), width=240, height=180, fov_deg=40.0)
    fr = render(ground, cam, sun_dir_enu=sun, photometry="lambert", objects=[lander, shaded])
    px = fr.object_id == 2
    assert px.sum() > 500
    assert np.mean(fr.lit_fraction[px] < 0.5) > 0.8
    alone = render(ground, cam, sun_dir_enu=sun, photometry="lambert", objects=[shaded])
    assert np.mean(alone.lit_fraction[alone.object_id == 2] > 0.5) > 0.5


def test_bad_inputs_one_line():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    good = Mesh(vertices=v, triangles=t, materials=("white_paint",), triangle_material=np.zeros(4, int))
    cases = [
        lambda: place(good, (math.nan, 0.0, 0.0), 0.0, object_id=1),
        lambda: place(good, (0.0, 0.0, 0.0), math.inf, object_id=1),
        lambda: place(good, (0.0, 0.0, 0.0), 0.0, object_id=0),
        lambda: Mesh(vertices=v, triangles=t, materials=("unobtainium",), triangle_material=np.zeros(4, int)),
        lambda: Mesh(vertices=v, triangles=np.zeros((0, 3), int), materials=("white_paint",),
                     triangle_material=np.zeros(0, int)),
        lambda: Mesh(vertices=v, triangles=t + 1, materials=("white_paint",), triangle_material=np.zeros(4, int)),
        lambda: box_mesh(1.0, 0.0, 1.0),
        lambda: render(Scene(Terrain(np.zeros((8, 8), np.float32), 1.0)), _persp((0, 0, 5), (1, 1, 0)),
                       sun_dir_enu=(0, 0, 1), objects=[3]),
    ]
    for make in cases:
        with pytest.raises(FarsideError) as ei:
            make()
        assert "\n" not in str(ei.value) and "is invalid" in str(ei.value)
