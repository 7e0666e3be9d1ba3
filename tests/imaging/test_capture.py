"""The mast camera, the directly rendered truth panorama and the registration metric
(farside.imaging.capture), against analytic geometry: a level plane seen from a known height."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from farside.errors import FarsideError
from farside.imaging.capture import direction_to_pixel, mast_camera, registration_error, truth_panorama
from farside.render import Scene, pan_tilt_rotation, render, tcam
from farside.terrain import Terrain

H_MAST = 2.6          # head above the plane, m


@pytest.fixture(scope="module")
def flat_scene():
    """A level plane at z = 0, 400 m x 400 m at 0.5 m."""
    return Scene(Terrain(np.zeros((800, 800), np.float32), 0.5, x0_m=-200.0, y0_m=200.0))


def _small(cam, b=8):
    w, h = cam.width_px // b, cam.height_px // b
    return cam.replace(width_px=w, height_px=h, pixel_pitch_m=cam.pixel_pitch_m * b, cx_px=(w - 1) / 2,
                       cy_px=(h - 1) / 2)


def test_mast_camera_pose():
    """The optical centre sits |offset| from the head, in front of it along the pointing; pan 90 deg
    looks east, tilt -30 deg looks 30 deg below the horizon."""
    head = np.array([1.0, 2.0, 3.0])
    cam = mast_camera(tcam(), head_enu=head, pan_rad=math.pi / 2, tilt_rad=-math.radians(30), offset_cam_m=(0, 0, 0.1))
    z = cam.rotation_enu_from_cam[:, 2]
    assert np.allclose(z, [math.cos(math.radians(30)), 0.0, -math.sin(math.radians(30))], atol=1e-12)
    assert np.allclose(cam.position_enu, head + 0.1 * z, atol=1e-12)
    with pytest.raises(FarsideError, match="head_enu"):
        mast_camera(tcam(), head_enu=(0, np.nan, 0), pan_rad=0.0, tilt_rad=0.0)
    with pytest.raises(FarsideError, match="tilt_rad"):
        mast_camera(tcam(), head_enu=(0, 0, 0), pan_rad=0.0, tilt_rad=2.0)


def test_truth_panorama_range_is_the_analytic_plane_distance(flat_scene):
    """Each pixel of the directly rendered panorama below the horizon holds the distance from the
    head to the plane along its direction, h / sin(-elevation) (to 1 cm + the 0.5-px sampling),
    and sky above it."""
    s = 120.0                                   # px per rad
    el0 = math.radians(5.0)
    hgt = int(math.radians(55.0) * s)
    wid = int(round(2 * math.pi * s))
    base = _small(tcam())
    out = truth_panorama(lambda c: render(flat_scene, c, sun_dir_enu=(0.3, 0.2, 0.9), layers="minimal"), base,
                         head_enu=(0.0, 0.0, H_MAST), px_per_rad=s, azimuth0_rad=0.0, elevation0_rad=el0,
                         width_px=wid, height_px=hgt)
    rows = np.arange(hgt)
    el = el0 - rows / s
    rng = out["range_m"]
    below = el < -math.radians(2.0)
    expect = H_MAST / np.sin(-el[below])
    got = rng[below]
    # nearest-neighbour sampling of the tile: half a pixel of elevation error at most
    tol = 0.01 + np.abs(H_MAST * np.cos(el[below]) / np.sin(el[below]) ** 2) * (0.75 / s)
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got - expect[:, None]) <= tol[:, None])
    assert np.all(np.isnan(rng[el > math.radians(1.0)]))


def _fake_panorama(cams, f, s=200.0):
    return SimpleNamespace(rotations=np.stack([c.rotation_enu_from_cam for c in cams]),
                           focals_px=np.full(len(cams), f), px_per_rad=s)


def test_registration_error_is_zero_for_true_rotations_and_the_parallax_otherwise(flat_scene):
    """With the true rotations and no mast offset every point is placed exactly (< 1e-3 px, the float32 hit distances); with
    the optical centre 0.3 m in front of the head the error is the parallax of that offset seen from
    the point: atan(|c x d| / ...) -- computed here from the geometry, not from the function."""
    base = _small(tcam(), 4)
    head = np.array([0.0, 0.0, H_MAST])
    sun = (0.3, 0.2, 0.9)
    for offset in ((0.0, 0.0, 0.0), (0.0, 0.0, 0.3)):
        cams = [mast_camera(base, head_enu=head, pan_rad=math.radians(a), tilt_rad=math.radians(-10.0),
                            offset_cam_m=offset) for a in (0.0, 90.0)]
        samples, expect = [], []
        for cam in cams:
            fr = render(flat_scene, cam, sun_dir_enu=sun)
            rr, cc = np.mgrid[2:cam.height_px:8, 2:cam.width_px:8]
            p = fr.points_enu[rr, cc].reshape(-1, 3)
            samples.append((rr.ravel(), cc.ravel(), p))
            # true angle between the head->P and centre->P directions
            a = p - head
            b = p - cam.position_enu
            cosang = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            expect.append(np.arccos(np.clip(cosang, -1, 1)))
        reg = registration_error(_fake_panorama(cams, base.fx_px), samples, frame_shape=(base.height_px, base.width_px),
                                 head_enu=head, near_m=10.0)
        exp = np.concatenate(expect)
        rms = math.sqrt(float(np.mean(exp ** 2))) * base.fx_px
        if offset[2] == 0.0:
            assert reg["all"]["rms_frame_px"] < 1e-3          # float32 hit distances
        else:
            assert reg["all"]["rms_frame_px"] == pytest.approx(rms, abs=1e-3)
            assert reg["far"]["n"] > 100 and reg["near"]["rms_frame_px"] > 1.5 * reg["far"]["rms_frame_px"]


def test_direction_to_pixel_convention():
    """Azimuth from north through east: east is a quarter turn right of north, 10 deg down is
    10 deg x s rows below the top row's elevation."""
    s = 100.0
    d = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, math.cos(0.1745), -math.sin(0.1745)]])
    col, row = direction_to_pixel(d, azimuth0_rad=0.0, elevation0_rad=0.0, px_per_rad=s, width_px=int(2 * math.pi * s))
    assert col[0] == pytest.approx(0.0) and col[1] == pytest.approx(math.pi / 2 * s)
    assert row[2] == pytest.approx(0.1745 * s)
    assert np.allclose(pan_tilt_rotation(math.pi / 2, 0.0)[:, 2], [1, 0, 0], atol=1e-12)


def test_bad_input_one_line():
    with pytest.raises(FarsideError, match="px_per_rad"):
        truth_panorama(lambda c: None, tcam(), head_enu=(0, 0, 1), px_per_rad=0.0, azimuth0_rad=0.0,
                       elevation0_rad=0.0, width_px=10, height_px=10)
    with pytest.raises(FarsideError, match="samples"):
        registration_error(_fake_panorama([tcam()], 100.0), [], frame_shape=(10, 10), head_enu=(0, 0, 1))


def test_known_mast_offset_takes_the_parallax_out_of_the_rotations():
    """Frames of a textured level ground (a regolith patch on a flat DEM) from a pan-tilt head
    whose optical centre sits 3 cm in front of its axes: a rotation-only adjustment is biased by
    the parallax; given the centres and the ground's height (stitch_panorama's ``centres``,
    ``ground_z``) the relative rotations (worst pair) come within 0.1 deg of the truth and at least
    5x closer than without (4 x 4-binned frames, 0.3-deg priors)."""
    from farside.imaging import stitch_panorama
    from farside.render import Sensor
    from farside.terrain import regolith_patch
    from scipy.spatial.transform import Rotation

    base = Terrain(np.zeros((64, 64), np.float32), 0.5, x0_m=-16.0, y0_m=16.0)
    patch = Scene(regolith_patch(base, center_xy_m=(0.0, 0.0), half_size_m=10.0, resolution_m=0.01, seed=5))
    cam0 = _small(tcam(), 4)
    head = np.array([0.0, 0.0, 1.6])
    cams = [mast_camera(cam0, head_enu=head, pan_rad=math.radians(a), tilt_rad=math.radians(t),
                        offset_cam_m=(0.0, 0.0, 0.03)) for t in (-40.0, -28.0) for a in range(0, 90, 18)]
    imgs = [render(patch, c, sun_dir_enu=(0.7, 0.5, 0.35), sensor=Sensor(), rng=np.random.default_rng(k)).dn
            for k, c in enumerate(cams)]
    R_true = np.array([c.rotation_enu_from_cam for c in cams])
    rng = np.random.default_rng(1)
    prior = [r @ Rotation.from_rotvec(e).as_matrix() for r, e in zip(R_true, rng.standard_normal((len(cams), 3))
                                                                      * math.radians(0.3))]

    def rel_err(R):
        n = len(R)
        return max(math.degrees(Rotation.from_matrix(R[i].T @ R[j] @ (R_true[i].T @ R_true[j]).T).magnitude())
                   for i in range(n) for j in range(i + 1, n))

    plain = stitch_panorama(imgs, focal_px=cam0.fx_px, pointing=prior, contrast="clahe")
    fixed = stitch_panorama(imgs, focal_px=cam0.fx_px, pointing=prior, contrast="clahe",
                            centres=[c.position_enu - head for c in cams], ground_z=-1.6)
    assert not plain.prior_only and not fixed.prior_only
    e_plain, e_fixed = rel_err(plain.rotations), rel_err(fixed.rotations)
    assert e_fixed < 0.1 and e_plain > 5 * e_fixed, (e_plain, e_fixed)     # measured: 1.05 vs 0.078 deg
    with pytest.raises(FarsideError, match="ground_z"):
        stitch_panorama(imgs[:2], focal_px=cam0.fx_px, pointing=prior[:2], centres=np.zeros((2, 3)), ground_z=1.0)


def test_registration_error_frame_subset(flat_scene):
    """``frames=`` counts only those frames: with a wrong rotation in frame 1 the full set's error
    is large, frame 0 alone is exact."""
    base = _small(tcam(), 4)
    head = np.array([0.0, 0.0, H_MAST])
    cams = [mast_camera(base, head_enu=head, pan_rad=math.radians(a), tilt_rad=math.radians(-20.0),
                        offset_cam_m=(0, 0, 0)) for a in (0.0, 20.0)]
    samples = []
    for cam in cams:
        fr = render(flat_scene, cam, sun_dir_enu=(0.3, 0.2, 0.9))
        rr, cc = np.mgrid[2:cam.height_px:8, 2:cam.width_px:8]
        samples.append((rr.ravel(), cc.ravel(), fr.points_enu[rr, cc].reshape(-1, 3)))
    pano = _fake_panorama(cams, base.fx_px)
    pano.rotations[1] = pan_tilt_rotation(math.radians(21.0), math.radians(-20.0))     # 1 deg off
    kw = dict(frame_shape=(base.height_px, base.width_px), head_enu=head)
    assert registration_error(pano, samples, **kw)["all"]["rms_frame_px"] > 5.0
    assert registration_error(pano, samples, frames=[0], **kw)["all"]["rms_frame_px"] < 1e-3
