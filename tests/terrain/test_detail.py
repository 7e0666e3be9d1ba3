"""Centimetre-scale regolith detail (farside.terrain.detail): determinism in world coordinates,
consistency with the base DEM, the continued crater population, angular rocks, and what a
near-ground camera sees.

References for the tolerances:
* Apollo close-up stereo photogrammetry of the regolith: RMS slopes decrease from 58 deg at 0.5 mm
  to 2 deg at 5 cm (doi:10.1007/BF00054707, abstract).
* Hapke mean photometric roughness of the Moon theta_bar = 23.657 deg (Sato et al. 2014;
  docs/references.md 7.4): the mean slope of all sub-resolution facets down to grain size, an upper
  bound for the RMS slope at centimetre baselines.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from farside.errors import ScenarioError
from farside.terrain import (
    RegolithDetail,
    Terrain,
    expected_crater_counts,
    generate_site,
    regolith_patch,
)
from farside.terrain.detail import regolith_craters
from farside.terrain.roughness import allan_deviation

RES = 0.01


@functools.lru_cache(maxsize=1)
def _site():
    # a 64 m site at 0.5 m/px at elevation 0 (float32 then resolves 0.1 um, far below the detail)
    return generate_site(128, 0.5, rng=11, elevation_m=0.0)


@functools.lru_cache(maxsize=1)
def _flat():
    t = _site().terrain
    return t.replace(heights=np.zeros_like(t.heights))


def _offset(a: Terrain, b: Terrain) -> tuple[int, int]:
    """(row, col) of b's vertex [0, 0] in a's grid (exact: both are on the world lattice)."""
    fc = (b.x0_m - a.x0_m) / a.resolution_m
    fr = (a.y0_m - b.y0_m) / a.resolution_m
    assert abs(fc - round(fc)) < 1e-6 and abs(fr - round(fr)) < 1e-6
    return int(round(fr)), int(round(fc))


def test_world_lattice_overlap_is_bit_identical():
    site = _site()
    a = regolith_patch(site.terrain, center_xy_m=(1.234, -2.5), half_size_m=1.5, seed=7, rocks=site.rocks)
    b = regolith_patch(site.terrain, center_xy_m=(2.2, -1.9), half_size_m=0.83, seed=7, rocks=site.rocks)
    for t in (a, b):   # grid on the world lattice
        assert abs(t.x0_m / RES - round(t.x0_m / RES)) < 1e-6
        assert abs(t.y0_m / RES - round(t.y0_m / RES)) < 1e-6
    r, c = _offset(a, b)
    ra, ca = max(r, 0), max(c, 0)
    rb, cb = max(-r, 0), max(-c, 0)
    nr = min(a.shape[0] - ra, b.shape[0] - rb)
    nc = min(a.shape[1] - ca, b.shape[1] - cb)
    assert nr > 50 and nc > 50                        # a real overlap, with craters and pebbles in it
    assert a.meta["n_craters"] > 50 and a.meta["n_pebbles"] > 0
    np.testing.assert_array_equal(a.heights[ra:ra + nr, ca:ca + nc], b.heights[rb:rb + nr, cb:cb + nc])
    again = regolith_patch(site.terrain, center_xy_m=(2.2, -1.9), half_size_m=0.83, seed=7, rocks=site.rocks)
    assert again.heights.tobytes() == b.heights.tobytes()
    other = regolith_patch(site.terrain, center_xy_m=(2.2, -1.9), half_size_m=0.83, seed=8, rocks=site.rocks)
    assert np.abs(other.heights - b.heights).max() > 1e-3     # a different seed: different mm-scale relief


def _keys_kernel(s, a=-0.5):
    """Keys (1981) cubic-convolution kernel W(s), eq. (4), a = -1/2 (the Catmull-Rom spline)."""
    s = np.abs(s)
    return np.where(s <= 1, (a + 2) * s ** 3 - (a + 3) * s ** 2 + 1,
                    np.where(s < 2, a * s ** 3 - 5 * a * s ** 2 + 8 * a * s - 4 * a, 0.0))


def _cubic_convolution(t: Terrain, x, y):
    """The DEM interpolated by Keys' cubic convolution, written as a sum of the kernel over the 4 x 4
    nearest vertices (edge vertices repeated): a second implementation of the patch's smooth base."""
    u = (np.asarray(x, float) - t.x0_m) / t.resolution_m - 0.5
    v = (t.y0_m - np.asarray(y, float)) / t.resolution_m - 0.5
    h = t.heights.astype(np.float64)
    c0, r0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros(u.shape)
    for i in range(-1, 3):
        for j in range(-1, 3):
            r = np.clip(r0 + i, 0, h.shape[0] - 1)
            c = np.clip(c0 + j, 0, h.shape[1] - 1)
            out += _keys_kernel(v - (r0 + i)) * _keys_kernel(u - (c0 + j)) * h[r, c]
    return out


def test_patch_averages_back_to_the_dem():
    """Block means over DEM pixels equal the DEM's surface: the detail adds nothing the DEM
    resolves. The patch's base is the DEM's smooth cubic-convolution surface (the mesh's facets
    would show at 1 cm), computed here independently from Keys' kernel."""
    site = _site()
    t = site.terrain
    # the patch spans whole DEM pixels: DEM pixel edges are on multiples of 0.5 m here
    p = regolith_patch(t, center_xy_m=(5.0, 5.0), half_size_m=5.0, seed=3)
    assert p.shape == (1000, 1000) and p.x0_m == 0.0 and p.y0_m == 10.0
    xx, yy = np.meshgrid(p.x_m, p.y_m)
    mesh = _cubic_convolution(t, xx, yy)
    # ... which meets the renderer's triangle mesh at the DEM's vertices and stays within ~cm of it
    assert np.abs(mesh - t.height_at(xx, yy)).max() < 0.05
    d = p.heights.astype(np.float64) + p.datum_m - mesh
    blocks = d.reshape(20, 50, 20, 50).mean(axis=(1, 3))  # 0.5 m blocks
    # mean over 100 m^2: zero within 0.5 mm (the detail's RMS is ~1 cm, craters are up to 20 cm deep)
    assert abs(blocks.mean()) < 5e-4
    # per DEM pixel, the sub-DEM craters of 1-2 DEM pixels (not in the DEM: its smallest crater is
    # 2 px) are relief at the DEM's scale that the DEM lacks: block means stay below 1.2 cm RMS ...
    assert np.sqrt(np.mean(blocks ** 2)) < 1.2e-2
    # ... with craters only up to 1 DEM pixel the block means drop below 2.5 mm RMS ...
    pc = regolith_patch(t, center_xy_m=(5.0, 5.0), half_size_m=5.0, seed=3,
                        detail=RegolithDetail(crater_max_diameter_m=t.resolution_m))
    bc = (pc.heights.astype(np.float64) + pc.datum_m - mesh).reshape(20, 50, 20, 50).mean(axis=(1, 3))
    assert np.sqrt(np.mean(bc ** 2)) < 2.5e-3
    # ... and without craters and pebbles (the fractal alone) below 0.4 mm RMS
    pf = regolith_patch(t, center_xy_m=(5.0, 5.0), half_size_m=5.0, seed=3,
                        detail=RegolithDetail(crater_min_pixels=1e6, pebble_abundance=0.0))
    bf = (pf.heights.astype(np.float64) + pf.datum_m - mesh).reshape(20, 50, 20, 50).mean(axis=(1, 3))
    assert np.sqrt(np.mean(bf ** 2)) < 4e-4
    # while the fractal itself is ~1.0 mm RMS (H = 0.17, from the Apollo slopes, puts less of it at the
    # DEM scale than the earlier H = 0.6, 1.2 mm)
    assert np.sqrt(np.mean((pf.heights + pf.datum_m - mesh) ** 2)) > 8e-4


def test_patch_base_has_no_facets():
    """The mesh of a 0.5 m DEM is piecewise planar: seen at 1 cm its slope jumps at every triangle
    edge, which rendered as flat facets (a 3 m crater drawn as a dozen triangles in front of the
    Navcam). The patch's base is C1: across the patch, with the detail switched off, the slope
    changes between neighbouring 1 cm pixels by no more than the DEM's curvature allows
    (second difference / cell^2 x 1 cm), while the mesh's slope jumps by up to the full slope
    difference of two facets."""
    site = _site()
    t = site.terrain
    off = RegolithDetail(rms_m=0.0, crater_min_pixels=1e6, pebble_abundance=0.0)
    p = regolith_patch(t, center_xy_m=(5.0, 5.0), half_size_m=5.0, seed=3, detail=off)
    h = p.heights.astype(np.float64)
    gx = np.diff(h, axis=1) / RES                         # slope between neighbouring pixels
    jump = np.abs(np.diff(gx, axis=1))                    # its change from one pixel to the next
    d2 = np.abs(np.diff(t.heights.astype(np.float64), 2, axis=1)).max() / t.resolution_m ** 2
    assert jump.max() < 3.0 * d2 * RES
    xx, yy = np.meshgrid(p.x_m, p.y_m)
    m = t.height_at(xx, yy)
    jm = np.abs(np.diff(np.diff(m, axis=1) / RES, axis=1))
    assert jm.max() > 10.0 * jump.max()                  # the mesh's kinks, for scale


def test_deep_floor_keeps_the_relief_exact():
    """At the Chang'e-4 floor's -5935 m, float32 heights would step by 0.49 mm; the patch keeps its
    heights relative to a datum, so the same site lowered by 5935 m gives the same relief to 20 um
    (elevations compared through ``datum_m`` and ``height_at``)."""
    site = _site()
    deep = site.terrain.replace(heights=(site.terrain.heights.astype(np.float64) - 5935.0).astype(np.float32))
    kw = dict(center_xy_m=(1.0, -2.0), half_size_m=0.5, seed=4)
    a = regolith_patch(site.terrain, **kw)
    b = regolith_patch(deep, **kw)
    assert b.datum_m == pytest.approx(a.datum_m - 5935.0, abs=1.0)
    rel_a = a.heights.astype(np.float64) + a.datum_m - _cubic_convolution(site.terrain, *np.meshgrid(a.x_m, a.y_m))
    rel_b = b.heights.astype(np.float64) + b.datum_m - _cubic_convolution(deep, *np.meshgrid(b.x_m, b.y_m))
    # 20 um: far below float32's 490 um step at -5935 m (the base DEM of each side is float32)
    assert np.abs(rel_a - rel_b).max() < 2e-5
    steps = np.unique(np.round(np.diff(b.heights, axis=1).ravel() / 1e-6))
    assert steps.size > 1000           # a continuum of height differences, not 0.49 mm terraces
    assert float(b.height_at(1.0, -2.0)) == pytest.approx(float(a.height_at(1.0, -2.0)) - 5935.0, abs=1e-3)


def test_centimetre_roughness_matches_apollo_close_up_range():
    """RMS slope at 1-8 cm baselines (flat base DEM: the detail alone) vs the Apollo close-up
    measurements (58 deg at 0.5 mm, 2 deg at 5 cm, log-log interpolated) within a factor 2.5, below
    the Hapke mean slope (23.7 deg), and decreasing with baseline (self-affine, H < 1)."""
    p = regolith_patch(_flat(), center_xy_m=(0.0, 0.0), half_size_m=5.0, seed=5)
    lags = np.array([1, 2, 4, 8])
    L = lags * RES
    slope = np.array([math.degrees(math.atan(allan_deviation(p.heights, int(k)) / (k * RES))) for k in lags])
    t_apollo = np.tan(np.radians(58.0)) * (L / 5e-4) ** (math.log(np.tan(np.radians(2.0)) / np.tan(np.radians(58.0)))
                                                          / math.log(100.0))
    ratio = np.tan(np.radians(slope)) / t_apollo
    assert np.all((ratio > 1 / 2.5) & (ratio < 2.5)), (slope, np.degrees(np.arctan(t_apollo)))
    assert np.all(slope < 23.657)
    assert np.all(np.diff(slope) < 0)


def test_sub_dem_crater_counts_follow_the_site_model():
    """Crater counts of the continued population over 2500 m^2 vs expected_crater_counts (the site's
    production/equilibrium model), per bin within 5 Poisson sigma; the range starts where the site
    stops (its smallest crater, 2 DEM pixels)."""
    site = _site()
    age = site.terrain.meta["age_gyr"]
    dmax = site.terrain.meta["min_crater_diameter_m"]
    half = 25.0
    cr = regolith_craters((-half, half, -half, half), seed=4, age_gyr=age, min_diameter_m=0.04, max_diameter_m=dmax)
    inside = cr[(cr.x_m.abs() < half) & (cr.y_m.abs() < half)]
    edges = np.geomspace(0.04, dmax, 9)
    got, _ = np.histogram(inside.diameter_m, bins=edges)
    exp = expected_crater_counts(edges, area_m2=(2 * half) ** 2, age_gyr=age)
    assert exp[-1] > 20
    assert np.all(np.abs(got - exp) < 5 * np.sqrt(exp) + 1), (got, exp)
    assert inside.diameter_m.max() < dmax and inside.diameter_m.min() >= 0.04
    # the list is the restriction of one world population: a sub-rectangle gives the same craters
    sub = regolith_craters((-5.0, 3.0, -2.0, 7.0), seed=4, age_gyr=age, min_diameter_m=0.04, max_diameter_m=dmax)
    def key(df):
        return set(zip(df.x_m.round(9), df.y_m.round(9), df.diameter_m.round(9)))

    assert key(sub) <= key(cr)


def test_angular_rock_keeps_table_size_and_is_faceted():
    D, H = 0.8, 0.36
    cx, cy = 1.234, -0.771
    rocks = pd.DataFrame({"x_m": [cx], "y_m": [cy], "diameter_m": [D], "height_m": [H]})
    kw = dict(center_xy_m=(cx, cy), half_size_m=0.8, seed=2, detail=RegolithDetail(pebble_abundance=0.0))
    bare = regolith_patch(_flat(), **kw)
    p = regolith_patch(_flat(), rocks=rocks, **kw)
    assert p.meta["n_rocks"] == 1
    delta = p.heights.astype(np.float64) - bare.heights
    assert abs(delta.max() - H) < 0.05 * H                          # table height (above its seat)
    fillet = RegolithDetail().fillet_height * H
    foot = delta > 1.2 * fillet
    d_eq = 2.0 * math.sqrt(foot.sum() * RES ** 2 / math.pi)
    assert abs(d_eq - D) < 0.15 * D, d_eq                          # table diameter
    # faceted: inside the rock the surface is planar facets, so the discrete Laplacian vanishes on
    # most pixels; a half-ellipsoid of the same D and H curves everywhere by at least 2H/R^2
    h = p.heights.astype(np.float64)
    lap = (h[2:, 1:-1] + h[:-2, 1:-1] + h[1:-1, 2:] + h[1:-1, :-2] - 4 * h[1:-1, 1:-1]) / RES ** 2
    core = ndimage.binary_erosion(delta > 0.3 * H, iterations=2)[1:-1, 1:-1]
    R = D / 2
    ell_curv = 2 * H / R ** 2
    assert core.sum() > 500
    assert np.mean(np.abs(lap[core]) < 0.05 * ell_curv) > 0.7
    xx, yy = np.meshgrid(p.x_m - cx, p.y_m - cy)
    ell = H * np.sqrt(np.clip(1 - (xx ** 2 + yy ** 2) / R ** 2, 0, None))
    lap_e = (ell[2:, 1:-1] + ell[:-2, 1:-1] + ell[1:-1, 2:] + ell[1:-1, :-2] - 4 * ell[1:-1, 1:-1]) / RES ** 2
    core_e = ndimage.binary_erosion(ell > 0.3 * H, iterations=2)[1:-1, 1:-1]
    assert np.mean(np.abs(lap_e[core_e]) < 0.05 * ell_curv) < 0.05   # the check separates the two
    # the facet normals cluster: a few directions hold most of the rock
    gy, gx = np.gradient(h, RES)
    n = np.round(np.stack([gx[1:-1, 1:-1][core], gy[1:-1, 1:-1][core]], 1), 2)
    _, counts = np.unique(n, axis=0, return_counts=True)
    assert np.sort(counts)[::-1][:16].sum() > 0.6 * core.sum()


@pytest.mark.parametrize("kw, name", [
    (dict(center_xy_m=(np.nan, 0.0)), "center_xy_m"),
    (dict(resolution_m=0.0), "resolution_m"),
    (dict(resolution_m=0.5), "resolution_m"),
    (dict(half_size_m=50.0), "half_size_m"),
    (dict(half_size_m=-1.0), "half_size_m"),
    (dict(center_xy_m=(500.0, 0.0)), "center_xy_m"),
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(rocks=pd.DataFrame({"x_m": [0.0]})), "rocks"),
    (dict(crater_age_gyr=9.0), "crater_age_gyr"),
    (dict(tracks=np.zeros((4, 4))), "tracks"),
])
def test_invalid_inputs_raise_one_line(kw, name):
    args = dict(center_xy_m=(0.0, 0.0), half_size_m=1.0, resolution_m=0.01, seed=1)
    args.update(kw)
    with pytest.raises(ScenarioError, match=f"^{name}") as e:
        regolith_patch(_site().terrain, **args)
    assert "\n" not in str(e.value)


def test_invalid_detail_parameters():
    with pytest.raises(ScenarioError, match="^hurst"):
        RegolithDetail(hurst=1.0)
    with pytest.raises(ScenarioError, match="^buried_fraction"):
        RegolithDetail(buried_fraction=0.9)


def test_tracks_are_added():
    t = _flat()
    ruts = Terrain(np.full((40, 40), -0.02, np.float32), 0.05, x0_m=-1.0, y0_m=1.0)
    kw = dict(center_xy_m=(0.0, 0.0), half_size_m=1.5, seed=1)
    a = regolith_patch(t, **kw)
    b = regolith_patch(t, tracks=ruts, **kw)
    d = b.heights.astype(np.float64) - a.heights
    xx, yy = np.meshgrid(a.x_m, a.y_m)
    inner = (np.abs(xx) < 0.9) & (np.abs(yy) < 0.9)
    outer = (np.abs(xx) > 1.1) | (np.abs(yy) > 1.1)
    assert np.allclose(d[inner], -0.02, atol=1e-6) and np.all(d[outer] == 0.0)


# --- rendering -------------------------------------------------------------------------------------

def _camera(pos, target):
    from farside.render import Camera, look_at_rotation

    return Camera(width_px=240, height_px=180, focal_length_m=8e-3, pixel_pitch_m=20e-6, cx_px=119.5,
                  cy_px=89.5, position_enu=np.asarray(pos, float), rotation_enu_from_cam=look_at_rotation(pos, target))


SUN = np.array([math.cos(math.radians(25)) * math.sin(math.radians(120)),
                math.cos(math.radians(25)) * math.cos(math.radians(120)), math.sin(math.radians(25))])


@functools.lru_cache(maxsize=1)
def _render_patch():
    site = _site()
    p = regolith_patch(site.terrain, center_xy_m=(12.5, 3.0), half_size_m=3.0, seed=9, rocks=site.rocks)
    return site, p


def _ground(t: Terrain, x, y):
    return float(t.height_at(x, y))


def test_two_views_of_a_patch_agree_through_true_geometry():
    """Two cameras 1.5 m above the ground, 0.3 m apart, looking at the same spot 2 m away: warping
    view B into view A through A's true 3-D points gives a normalised cross-correlation > 0.8 on the
    mutually visible overlap (the detail is a consistent surface, not view-dependent noise; the
    residual is the Hapke photometry's view dependence and resampling)."""
    from farside.render import Scene, render

    _, p = _render_patch()
    tgt = np.array([12.5, 3.0, _ground(p, 12.5, 3.0)])
    pa = np.array([10.5, 2.85, _ground(p, 10.5, 2.85) + 1.5])
    pb = np.array([10.5, 3.15, _ground(p, 10.5, 3.15) + 1.5])
    scene = Scene(p)
    fa = render(scene, _camera(pa, tgt), sun_dir_enu=SUN, shadows="hard", layers="all")
    fb = render(scene, _camera(pb, tgt), sun_dir_enu=SUN, shadows="hard", layers="all")
    cam_b = fb.camera
    pts = fa.points_enu.reshape(-1, 3)
    ok = np.all(np.isfinite(pts), axis=1)
    uv = np.full((pts.shape[0], 2), np.nan)
    uv[ok] = cam_b.project(pts[ok])
    col, row = uv[:, 0], uv[:, 1]
    inb = ok & (col >= 1) & (col <= 238) & (row >= 1) & (row <= 178)
    # visibility in B: B's range at the projected pixel equals the distance to the point
    dist = np.linalg.norm(pts - cam_b.position_enu, axis=1)
    rb = ndimage.map_coordinates(np.nan_to_num(fb.range_m, nan=-1.0), [np.nan_to_num(row), np.nan_to_num(col)],
                                 order=0)
    vis = inb & (np.abs(rb - dist) < 0.03)
    assert vis.mean() > 0.5
    ib = ndimage.map_coordinates(fb.reflectance.astype(np.float64), [np.nan_to_num(row), np.nan_to_num(col)],
                                 order=1)
    ia = fa.reflectance.reshape(-1).astype(np.float64)
    a, b = ia[vis], ib[vis]
    ncc = np.mean((a - a.mean()) * (b - b.mean())) / (a.std() * b.std())
    assert ncc > 0.8, ncc


def _fine_contrast(img: np.ndarray) -> float:
    """Band-pass (2-8 px difference of Gaussians) over the local mean, RMS over the image."""
    img = img.astype(np.float64)
    band = ndimage.gaussian_filter(img, 1.0) - ndimage.gaussian_filter(img, 4.0)
    mean = ndimage.gaussian_filter(img, 8.0)
    c = band[8:-8, 8:-8] / mean[8:-8, 8:-8]
    return float(np.sqrt(np.mean(c ** 2)))


def test_detail_adds_fine_scale_contrast_near_the_ground():
    """A near-ground view of the patch has several times the fine-scale contrast of the same view of
    the bare DEM (whose mesh is smooth below 0.5 m)."""
    from farside.render import Scene, render

    site, p = _render_patch()
    tgt = np.array([12.5, 3.0, _ground(p, 12.5, 3.0)])
    pos = np.array([10.5, 3.0, _ground(p, 10.5, 3.0) + 1.5])
    cam = _camera(pos, tgt)
    fd = render(Scene(p), cam, sun_dir_enu=SUN, shadows="hard", layers="minimal")
    fb = render(Scene(site.terrain), cam, sun_dir_enu=SUN, shadows="hard", layers="minimal")
    assert np.isfinite(fd.reflectance).all() and np.isfinite(fb.reflectance).all()
    cd, cb = _fine_contrast(fd.reflectance), _fine_contrast(fb.reflectance)
    assert cd > 3.0 * cb, (cd, cb)


def test_nested_patches_meet_without_a_step():
    """Nested levels hand over continuously: on a patch's edge vertices its surface equals the next
    coarser level's mesh (the coarsest's: the base DEM's) to 1 um, while away from the blend band
    it is regolith_patch's own detail, unchanged (bit for bit)."""
    from farside.terrain import nested_patches

    site = _site()
    levels = ((0.01, 1.0), (0.04, 4.0))
    fine, coarse = nested_patches(site.terrain, center_xy_m=(0.3, -0.2), levels=levels, seed=9, rocks=site.rocks)
    for p, outer in ((fine, coarse), (coarse, site.terrain)):
        xx, yy = np.meshgrid(p.x_m, p.y_m)
        h = p.heights.astype(np.float64) + p.datum_m
        ring = np.zeros(p.shape, bool)
        ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = True
        assert np.abs(h[ring] - outer.height_at(xx[ring], yy[ring])).max() < 1e-6
        # a real difference before blending: the detail is there
        raw = regolith_patch(site.terrain, center_xy_m=(0.3, -0.2), half_size_m=1.0 if p is fine else 4.0,
                             resolution_m=p.resolution_m, seed=9, rocks=site.rocks)
        inner = slice(int(0.15 * p.shape[0]), int(0.85 * p.shape[0]))
        assert raw.heights[inner, inner].tobytes() == p.heights[inner, inner].tobytes()
        assert np.abs(raw.heights.astype(np.float64) + raw.datum_m - outer.height_at(xx, yy))[ring].max() > 1e-4
    with pytest.raises(ScenarioError, match="levels"):
        nested_patches(site.terrain, center_xy_m=(0, 0), levels=((0.04, 4.0), (0.01, 1.0)), seed=1)


def test_albedo_mottling_statistics_and_render():
    """The albedo factor field: mean 1 within 1 % and log-RMS ALBEDO_RMS within 15 % over 100 m^2, the
    same numbers for the same seed and point whatever the query's shape (world coordinates), other
    numbers for another seed; a Scene with ``albedo_seed`` multiplies exactly the reflectance a
    render without it gives by the field at each pixel's surface point, seen over the pixel's
    footprint."""
    from farside.render import Scene, render, tcam
    from farside.terrain import albedo_factor
    from farside.terrain.detail import ALBEDO_RMS

    g = np.random.default_rng(1).uniform(-5.0, 5.0, (2, 200_000))
    a = albedo_factor(g[0], g[1], seed=3)
    assert abs(a.mean() - 1.0) < 0.01
    assert abs(np.log(a).std() - ALBEDO_RMS) < 0.15 * ALBEDO_RMS
    assert np.array_equal(albedo_factor(g[0][:10].reshape(2, 5), g[1][:10].reshape(2, 5), seed=3).ravel(), a[:10])
    assert not np.allclose(albedo_factor(g[0][:10], g[1][:10], seed=4), a[:10])
    t = _flat()
    cam = tcam(position_enu=(0.0, 0.0, 1.6), tilt_rad=math.radians(-45.0)).replace(width_px=160, height_px=120,
                                                                                  cx_px=79.5, cy_px=59.5,
                                                                                  pixel_pitch_m=5.5e-6 * 14.7)
    sun = (0.3, 0.2, 0.93)
    plain = render(Scene(t), cam, sun_dir_enu=sun)
    mottled = render(Scene(t, albedo_seed=3), cam, sun_dir_enu=sun)
    ok = np.isfinite(plain.range_m)
    pts = plain.points_enu[ok]
    rng_m = plain.range_m[ok].astype(np.float64)
    cos_e = np.abs(pts[:, 2] - cam.position_enu[2]) / np.linalg.norm(pts - cam.position_enu, axis=1)
    # each pixel's footprint on level ground: range x angular pixel / sqrt(cos emission)
    fp = rng_m / cam.fx_px / np.sqrt(np.maximum(cos_e, 0.05))
    f = albedo_factor(pts[:, 0], pts[:, 1], seed=3, footprint_m=fp)
    # (the render finds the points from the float32 range: 1e-5)
    np.testing.assert_allclose(mottled.reflectance[ok], plain.reflectance[ok] * f, rtol=1e-5)
    with pytest.raises(ScenarioError, match="albedo_seed"):
        Scene(t, albedo_seed=-1)


def test_albedo_octaves_fade_below_a_pixel_footprint():
    """A sample's footprint removes the albedo octaves it cannot resolve (the relief's fade rule)
    and keeps the mean factor 1: footprint 0 is the point field bit for bit; a footprint of half
    the finest pitch changes nothing; one above the coarsest pitch gives exactly 1; in between the
    log-RMS falls and the mean stays 1 within 1 %."""
    from farside.terrain import albedo_factor
    from farside.terrain.detail import ALBEDO_SCALES_M

    g = np.random.default_rng(2).uniform(-5.0, 5.0, (2, 100_000))
    a = albedo_factor(g[0], g[1], seed=3)
    assert np.array_equal(albedo_factor(g[0], g[1], seed=3, footprint_m=0.0), a)
    np.testing.assert_allclose(albedo_factor(g[0], g[1], seed=3, footprint_m=0.5 * ALBEDO_SCALES_M[0]), a,
                               rtol=1e-12)
    assert np.all(albedo_factor(g[0], g[1], seed=3, footprint_m=1.01 * ALBEDO_SCALES_M[1]) == 1.0)
    b = albedo_factor(g[0], g[1], seed=3, footprint_m=0.02)
    assert abs(b.mean() - 1.0) < 0.01
    assert 0.2 * np.log(a).std() < np.log(b).std() < 0.9 * np.log(a).std()
    # a per-point footprint broadcasts with the points
    fp = np.where(np.arange(g.shape[1]) % 2 == 0, 0.0, 0.02)
    c = albedo_factor(g[0], g[1], seed=3, footprint_m=fp)
    assert np.array_equal(c[::2], a[::2]) and np.array_equal(c[1::2], b[1::2])
    with pytest.raises(ScenarioError, match="footprint_m"):
        albedo_factor(g[0][:3], g[1][:3], seed=3, footprint_m=-1.0)
