"""Rover localisation (farside.vision.localisation): wheel odometry with slip and the gyro +
sun-sensor heading against analytic results, and stereo VO / lander relocalisation on rendered
navcam pairs, judged against the poses the cameras were placed at (the algorithms see only the
DN images; Frame ground-truth layers are not used)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import ScenarioError
from farside.vision.localisation import (
    HeadingSensorModel,
    StereoStop,
    heading_estimate,
    mast_camera_pose,
    relocalise_lander,
    rover_pose_from_camera,
    track_errors,
    visual_localisation,
    visual_odometry_step,
    wheel_odometry,
)

BASELINE_M = 0.27          # navcam_pair (UNCONFIRMED there)
MAST_M = 1.5               # REFERENCE.md 4.3 (mast head height)
LANDER_XY = (0.0, 9.0)
LANDER_HEADING_RAD = math.radians(30.0)


# ---------------------------------------------------------------------------------------------
# wheel odometry (analytic)
# ---------------------------------------------------------------------------------------------
def _curved_path(n=200):
    s = np.linspace(0.0, 40.0, n)
    return np.stack([s, 3.0 * np.sin(s / 7.0)], axis=1)


def test_constant_slip_overestimates_distance_by_the_slip():
    """true = wheel x (1 - s): with s = 0.1 the odometry's distance is the true one / 0.9, i.e.
    10 % of the odometry distance is slip (11.1 % of the true). Exact to 1e-9 m without noise."""
    path = _curved_path()
    est = wheel_odometry(path, 0.1, rng=np.random.default_rng(0), encoder_sigma_frac=0.0)
    d_true = np.hypot(*np.diff(path, axis=0).T)
    assert np.allclose(est.wheel_distance_m * 0.9, d_true, atol=1e-12)
    odo = est.wheel_distance_m.sum()
    assert odo - d_true.sum() == pytest.approx(0.1 * odo, abs=1e-9)
    # perfect heading: every step scales by 1/0.9 about the start -> the track is the true one scaled
    assert np.allclose(est.xy_m - path[0], (path - path[0]) / 0.9, atol=1e-9)


def test_encoder_noise_is_a_random_walk_of_the_stated_size():
    """Distance error std = sigma x sqrt(sum d_k^2) (independent per-step scale errors); 400 seeds,
    within 12 % (the standard error of a std from 400 samples is 3.5 %)."""
    path = _curved_path(101)
    d_true = np.hypot(*np.diff(path, axis=0).T)
    errs = [wheel_odometry(path, 0.0, rng=np.random.default_rng(s), encoder_sigma_frac=0.01).wheel_distance_m.sum()
            - d_true.sum() for s in range(400)]
    assert np.std(errs) == pytest.approx(0.01 * math.sqrt(np.sum(d_true ** 2)), rel=0.12)


def test_odometry_with_imu_heading_and_slip():
    """Odometry + IMU heading: a constant heading error psi rotates every step by psi, so on a
    straight 40 m drive east the cross-track error is sin(psi) x odometry distance, exactly
    (heading 92 deg, clockwise from north, points south of east)."""
    path = np.stack([np.linspace(0, 40, 81), np.zeros(81)], axis=1)
    psi = math.radians(2.0)
    est = wheel_odometry(path, 0.05, rng=np.random.default_rng(0), encoder_sigma_frac=0.0,
                         heading_rad=np.full(81, math.pi / 2 + psi))
    odo = 40.0 / 0.95
    assert est.xy_m[-1, 0] == pytest.approx(odo * math.cos(psi), abs=1e-9)
    assert est.xy_m[-1, 1] == pytest.approx(-odo * math.sin(psi), abs=1e-9)   # clockwise: south of east


# ---------------------------------------------------------------------------------------------
# heading: gyro + sun sensor
# ---------------------------------------------------------------------------------------------
def test_gyro_only_heading_drift_matches_the_analytic_variance():
    """No Sun: heading error variance after T = sb^2 T^2 + ARW^2 T + q^2 T^3 / 3 (turn-on bias,
    angle random walk, bias random walk). Monte Carlo over 300 seeds within 15 %, and the filter's
    own sigma within 2 % of the formula."""
    m = HeadingSensorModel()
    t = np.arange(0.0, 4 * 3600.0 + 1, 10.0)
    h = 0.3 * np.sin(t / 900.0)                         # the rover turns; the gyro sees the turns
    errs = [heading_estimate(t, h, rng=np.random.default_rng(s), model=m).heading_rad[-1] - h[-1]
            for s in range(300)]
    T = t[-1]
    sd = math.sqrt(m.gyro_bias_sigma_rad_per_s ** 2 * T ** 2 + m.gyro_arw_rad_per_sqrt_s ** 2 * T
                   + m.gyro_bias_rw_rad_per_s_sqrt_s ** 2 * T ** 3 / 3)
    assert np.std(errs) == pytest.approx(sd, rel=0.15)
    est = heading_estimate(t, h, rng=np.random.default_rng(0), model=m)
    assert est.sigma_rad[-1] == pytest.approx(sd, rel=0.02)
    assert not est.sun_fix.any()


def test_sun_sensor_fixes_bound_the_heading_error():
    """Sun up (30 deg): a fix every 600 s keeps the 8 h heading error within 3 x the 0.5 deg fix
    noise at every sample, rms below 0.5 deg; the same gyro alone drifts past 4 deg in most seeds
    (its formula 1-sigma after 8 h is 10.3 deg: the median |error| is 0.67 sigma = 7 deg)."""
    t = np.arange(0.0, 8 * 3600.0 + 1, 10.0)
    h = np.linspace(0.0, 6.0, t.size)
    rms, worst, gyro = [], [], []
    for s in range(20):
        est = heading_estimate(t, h, rng=np.random.default_rng(s), sun_elevation_rad=math.radians(30.0))
        e = np.degrees(np.abs((est.heading_rad - h + math.pi) % (2 * math.pi) - math.pi))
        rms.append(math.sqrt(np.mean(e ** 2)))
        worst.append(e.max())
        g = heading_estimate(t, h, rng=np.random.default_rng(s))
        gyro.append(math.degrees(abs((g.heading_rad[-1] - h[-1] + math.pi) % (2 * math.pi) - math.pi)))
        assert est.sun_fix.sum() == pytest.approx(t[-1] / 600.0 + 1, abs=1)
    assert max(worst) < 1.5 and np.mean(rms) < 0.5
    assert np.median(gyro) > 4.0


def test_heading_is_reproducible_and_below_horizon_means_no_fix():
    t = np.arange(0.0, 3600.0, 5.0)
    h = np.zeros_like(t)
    a = heading_estimate(t, h, rng=np.random.default_rng(3), sun_elevation_rad=math.radians(2.0))
    b = heading_estimate(t, h, rng=np.random.default_rng(3), sun_elevation_rad=math.radians(2.0))
    assert np.array_equal(a.heading_rad, b.heading_rad) and not a.sun_fix.any()


@pytest.mark.parametrize("call", [
    lambda: wheel_odometry(np.zeros((5, 2)), 1.0, rng=np.random.default_rng(0)),
    lambda: wheel_odometry(np.zeros((5, 4)), 0.1, rng=np.random.default_rng(0)),
    lambda: wheel_odometry(np.zeros((5, 2)), [0.1] * 3, rng=np.random.default_rng(0)),
    lambda: wheel_odometry(np.zeros((5, 2)), 0.1, rng=0),
    lambda: heading_estimate([0.0, 2.0, 1.0], [0.0, 0.0, 0.0], rng=np.random.default_rng(0)),
    lambda: heading_estimate([0.0, 1.0], [0.0, math.nan], rng=np.random.default_rng(0)),
    lambda: HeadingSensorModel(sun_sigma_rad=-1.0),
    lambda: visual_odometry_step(np.zeros((64, 64)), np.zeros((64, 64)), np.zeros((32, 64)), k_px=np.eye(3),
                                 baseline_m=0.27, rng=np.random.default_rng(0)),
    lambda: visual_odometry_step(np.zeros((64, 64)), np.zeros((64, 64)), np.zeros((64, 64)), k_px=np.eye(2),
                                 baseline_m=0.27, rng=np.random.default_rng(0)),
    lambda: track_errors(np.zeros((3, 2)), np.zeros((4, 2))),
])
def test_bad_input_raises_one_clear_error(call):
    with pytest.raises(ScenarioError, match="is invalid"):
        call()


def test_mast_pose_round_trip():
    g = np.array([1.0, -2.0, 0.3])
    p, r = mast_camera_pose(g, 1.2, pan_rad=-0.4, tilt_rad=-0.3, mast_height_m=MAST_M, baseline_m=BASELINE_M)
    g2, h2 = rover_pose_from_camera(p, r, pan_rad=-0.4, mast_height_m=MAST_M, baseline_m=BASELINE_M)
    assert np.allclose(g2, g, atol=1e-12) and h2 == pytest.approx(1.2, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# rendered stops: VO and relocalisation
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stops():
    """Six stereo stops 1.6 m apart (heading 87-96 deg: a slow S-bend east, 8 m), the mast
    turned toward the lander 9 m north (15 deg right of it) and 15 deg down; 12-bit navcams
    exposed for the regolith (the sunlit foil saturates)."""
    from farside.render import Scene, Sensor, apply_sensor, auto_exposure, ce4_lander, navcam_pair, place, render
    from farside.terrain import generate_site, nested_patches

    site = generate_site(128, 0.5, rng=11, elevation_m=0.0)
    pats = nested_patches(site.terrain, center_xy_m=(0.0, 3.0), levels=((0.01, 6.0), (0.04, 24.0)), seed=11,
                          rocks=site.rocks)
    scenes = [Scene(p, albedo_seed=11) for p in pats]
    back = scenes[1:] + [Scene(site.terrain)]
    el, az = math.radians(30.0), math.radians(120.0)
    sun = np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])
    lander = place(ce4_lander(), (*LANDER_XY, float(site.terrain.height_at(*LANDER_XY))), LANDER_HEADING_RAD,
                   object_id=1)
    sensor = Sensor(bit_depth=12)
    xs = np.linspace(-4.0, 4.0, 6)
    ys = 0.3 * np.sin(xs / 3.0)
    headings = np.radians(90.0 + np.array([0.0, 3.0, 6.0, 3.0, 0.0, -3.0]))
    out = []
    for i, (x, y, h) in enumerate(zip(xs, ys, headings)):
        g = np.array([x, y, float(site.terrain.height_at(x, y))])
        pan = math.atan2(LANDER_XY[0] - x, LANDER_XY[1] - y) + math.radians(15.0) - h
        tilt = math.radians(-15.0)
        cl, cr = navcam_pair(position_enu=g + [0.0, 0.0, MAST_M], pan_rad=h + pan, tilt_rad=tilt)
        fl = render(scenes[0], cl, backdrop=back, sun_dir_enu=sun, objects=[lander])
        fr = render(scenes[0], cr, backdrop=back, sun_dir_enu=sun, objects=[lander])
        e = auto_exposure(fl.radiance, cl, sensor, percentile=95.0)
        apply_sensor(fl, sensor, rng=np.random.default_rng(100 + i), exposure_s=e)
        apply_sensor(fr, sensor, rng=np.random.default_rng(200 + i), exposure_s=e)
        out.append(dict(left=fl.dn, right=fr.dn, ground=g, heading=float(h), pan=float(pan), tilt=tilt, cam=cl))
    return dict(stops=out, lander=lander, k_px=out[0]["cam"].intrinsic_matrix)


def _cam_pose(s):
    return mast_camera_pose(s["ground"], s["heading"], pan_rad=s["pan"], tilt_rad=s["tilt"], mast_height_m=MAST_M,
                            baseline_m=BASELINE_M)


@pytest.mark.slow
def test_vo_step_recovers_the_true_motion(stops):
    """Stops 0 -> 1: 1.6 m, 3 deg turn. Bound: translation error < 3 % of the move (4.8 cm),
    rotation error < 0.3 deg (measured 0.6 cm, 0.035 deg)."""
    s0, s1 = stops["stops"][0], stops["stops"][1]
    p0, r0 = _cam_pose(s0)
    p1, r1 = _cam_pose(s1)
    assert np.allclose(p0, s0["cam"].position_enu) and np.allclose(r0, s0["cam"].rotation_enu_from_cam)
    st = visual_odometry_step(s0["left"], s0["right"], s1["left"], k_px=stops["k_px"], baseline_m=BASELINE_M,
                              rng=np.random.default_rng(0))
    assert st.ok and st.n_inliers >= 50
    t_true = r0.T @ (p1 - p0)
    assert np.linalg.norm(st.position_c0_m - t_true) < 0.03 * np.linalg.norm(t_true)
    d = st.rotation_c0_from_c1.T @ (r0.T @ r1)
    assert math.degrees(math.acos(min(1.0, (np.trace(d) - 1) / 2))) < 0.3
    again = visual_odometry_step(s0["left"], s0["right"], s1["left"], k_px=stops["k_px"], baseline_m=BASELINE_M,
                                 rng=np.random.default_rng(0))
    assert np.array_equal(again.position_c0_m, st.position_c0_m)


@pytest.mark.slow
def test_lander_relocalisation_error(stops):
    """Each stop (lander 7.6-9 m away), prior 0.6 m off, attitude from a heading 0.5 deg off
    (the sun sensor's sigma): horizontal error < 0.35 m at every stop, median < 0.15 m (measured
    8-29 cm, median 11 cm; with the true attitude 3-4 cm typical, 22 cm worst)."""
    rng = np.random.default_rng(1)
    errs = []
    for s in stops["stops"]:
        p, _ = _cam_pose(s)
        _, r_est = mast_camera_pose(s["ground"], s["heading"] + math.radians(0.5), pan_rad=s["pan"],
                                    tilt_rad=s["tilt"], mast_height_m=MAST_M, baseline_m=BASELINE_M)
        ang = rng.uniform(0, 2 * math.pi)
        prior = p + 0.6 * np.array([math.cos(ang), math.sin(ang), 0.0])
        fx = relocalise_lander(s["left"], s["right"], k_px=stops["k_px"], baseline_m=BASELINE_M,
                               rotation_enu_from_cam=r_est, lander=stops["lander"], prior_position_enu=prior)
        assert fx.ok and fx.n_points > 500
        errs.append(float(np.hypot(*(fx.position_enu - p)[:2])))
    assert max(errs) < 0.35 and np.median(errs) < 0.15


@pytest.mark.slow
def test_short_traverse_relocalisation_bounds_vo_drift(stops):
    """Six stops, 8 m. The VO chain starts with a 2 deg heading error (its heading is otherwise
    relative): its error grows with distance. With the lander fixes and the sun-sensor heading
    (true + N(0, 0.5 deg)) the error stays < 0.25 m at every stop and ends below VO's."""
    rng = np.random.default_rng(7)
    ss = stops["stops"]
    seq = [StereoStop(s["left"], s["right"], s["pan"], s["tilt"],
                      heading_rad=s["heading"] + math.radians(0.5) * rng.standard_normal()) for s in ss]
    truth = np.array([s["ground"] for s in ss])
    est = visual_localisation(seq, k_px=stops["k_px"], baseline_m=BASELINE_M, mast_height_m=MAST_M,
                              start_position_enu=truth[0], start_heading_rad=ss[0]["heading"] + math.radians(2.0),
                              rng=np.random.default_rng(0), lander=stops["lander"])
    vo, rel = est["vo"], est["vo_reloc"]
    assert all(st.ok for st in vo.steps)
    e_vo = track_errors(vo.position_enu, truth)
    e_rel = track_errors(rel.position_enu, truth)
    # VO alone: about 8 m x sin(2 deg) = 0.28 m at the end (+ its own drift)
    assert 0.15 < e_vo["final_m"] < 0.5
    assert rel.fixed[1:].all()
    assert e_rel["max_m"] < 0.25 and e_rel["final_m"] < e_vo["final_m"]


# ---------------------------------------------------------------------------------------------
# VO between mission-like stops: 3.6 m apart, 25 deg turn, 2x2-binned 512 px, 10-bit
# ---------------------------------------------------------------------------------------------
def _binned(cam, b=2):
    """The same camera with b x b binned pixels (as the mission's perception binning)."""
    from dataclasses import replace

    return replace(cam, width_px=cam.width_px // b, height_px=cam.height_px // b, pixel_pitch_m=cam.pixel_pitch_m * b,
                   cx_px=(cam.cx_px + 0.5) / b - 0.5, cy_px=(cam.cy_px + 0.5) / b - 0.5)


@pytest.mark.slow
def test_vo_step_between_mission_stops():
    """Two stops as the mission drives them: 3.6 m along 90 deg, heading 80 -> 105 deg (a 25 deg
    turn), mast straight ahead and 25 deg down, Navcam 2x2 binned (512 px), 10-bit DN with one
    exposure per pair at the 99.5th percentile, the regolith patches centred on each stop (seeded
    in world coordinates). Only the ground 4-9 m ahead of stop 0 is seen again, 1-5 m ahead, at
    2-3x the scale. Bound: translation < 3 % of the move (10.8 cm), rotation < 0.5 deg
    (measured 0.4 cm, 0.03 deg), with and without the stop-1 right image."""
    from farside.render import Scene, Sensor, apply_sensor, auto_exposure, navcam_pair, render
    from farside.terrain import generate_site, nested_patches

    site = generate_site(128, 0.5, rng=5, elevation_m=0.0)
    el, az = math.radians(30.0), math.radians(200.0)
    sun = np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])
    sensor = Sensor(bit_depth=10)
    tilt = math.radians(-25.0)
    poses = [((-1.8, 0.0), math.radians(80.0)), ((1.8, 0.0), math.radians(105.0))]
    shots = []
    for j, ((x, y), h) in enumerate(poses):
        pats = nested_patches(site.terrain, center_xy_m=(x, y), levels=((0.01, 6.0), (0.04, 24.0)), seed=5,
                              rocks=site.rocks)
        scenes = [Scene(p, albedo_seed=5) for p in pats] + [Scene(site.terrain, rocks=site.rocks)]
        g = np.array([x, y, float(site.terrain.height_at(x, y))])
        cl, cr = (_binned(c) for c in navcam_pair(position_enu=g + [0.0, 0.0, MAST_M], pan_rad=h, tilt_rad=tilt))
        dns, exp = [], None
        for side, cam in enumerate((cl, cr)):
            fr = render(scenes[0], cam, backdrop=scenes[1:], sun_dir_enu=sun)
            exp = auto_exposure(fr.radiance, cam, sensor, percentile=99.5) if exp is None else exp
            apply_sensor(fr, sensor, rng=np.random.default_rng([5, j, side]), exposure_s=exp)
            dns.append(fr.dn)
        assert dns[0].dtype == np.uint16 and dns[0].max() < 1024
        shots.append((cl, dns))
    (c0, (l0, r0)), (c1, (l1, r1)) = shots
    r_0, r_1 = np.asarray(c0.rotation_enu_from_cam), np.asarray(c1.rotation_enu_from_cam)
    t_true = r_0.T @ (np.asarray(c1.position_enu) - np.asarray(c0.position_enu))
    for right1 in (r1, None):
        st = visual_odometry_step(l0, r0, l1, k_px=c0.intrinsic_matrix, baseline_m=BASELINE_M,
                                  rng=np.random.default_rng(0), right1_dn=right1)
        assert st.ok and st.n_inliers >= 50
        assert np.linalg.norm(st.position_c0_m - t_true) < 0.03 * np.linalg.norm(t_true)
        d = st.rotation_c0_from_c1.T @ (r_0.T @ r_1)
        assert math.degrees(math.acos(min(1.0, (np.trace(d) - 1) / 2))) < 0.5


# ---------------------------------------------------------------------------------------------
# the odometry gate, the lander seen from its shadowed side, VO across a turn (arrival pair)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_odometry_gate_replaces_a_wrong_vo_step(stops):
    """Stop 3's pair replaced by stop 0's (another place: what VO sees across a lighting change or
    a mix-up): the steps into and out of stop 3 fail or disagree with the wheel odometry (here the
    truth with 3 % over-reported distance, the slip it cannot see) and are replaced by it. Bound:
    final error < 0.2 m (two gated 1.6 m steps at 3 % plus the VO steps' cm), against > 0.5 m
    without the gate (a failed step keeps the pose: the 1.6 m move is lost)."""
    ss = stops["stops"]
    seq = [StereoStop(s["left"], s["right"], s["pan"], s["tilt"], heading_rad=s["heading"]) for s in ss]
    seq[3] = StereoStop(ss[0]["left"], ss[0]["right"], ss[3]["pan"], ss[3]["tilt"], heading_rad=ss[3]["heading"])
    truth = np.array([s["ground"] for s in ss])
    steps = np.diff(truth[:, :2], axis=0) * 1.03
    odo = np.vstack([truth[:1, :2], truth[:1, :2] + np.cumsum(steps, axis=0)])
    kw = dict(k_px=stops["k_px"], baseline_m=BASELINE_M, mast_height_m=MAST_M, start_position_enu=truth[0],
              start_heading_rad=ss[0]["heading"])
    gated = visual_localisation(seq, rng=np.random.default_rng(0), odometry_xy_m=odo, **kw)["vo"]
    raw = visual_localisation(seq, rng=np.random.default_rng(0), **kw)["vo"]
    assert gated.rejected[2] and gated.rejected[3]
    assert not gated.rejected[[0, 1, 4]].any()                 # the good steps are VO's
    e_g, e_r = track_errors(gated.position_enu, truth), track_errors(raw.position_enu, truth)
    assert e_g["final_m"] < 0.2 and e_r["final_m"] > 0.5
    with pytest.raises(ScenarioError, match="odometry_xy_m"):
        visual_localisation(seq, rng=np.random.default_rng(0), odometry_xy_m=odo[:3], **kw)


def _pair(site, scenes, g, az, tilt, sun, lander, seed, binning=2):
    from farside.render import Sensor, apply_sensor, auto_exposure, navcam_pair, render

    sensor = Sensor(bit_depth=10)
    cams = [_binned(c, binning) for c in navcam_pair(position_enu=g + [0.0, 0.0, MAST_M], pan_rad=az, tilt_rad=tilt)]
    dns, exp = [], None
    for side, cam in enumerate(cams):
        fr = render(scenes[0], cam, backdrop=scenes[1:], sun_dir_enu=sun, objects=[lander])
        exp = auto_exposure(fr.radiance, cam, sensor, percentile=99.5) if exp is None else exp
        apply_sensor(fr, sensor, rng=np.random.default_rng([seed, side]), exposure_s=exp)
        dns.append(fr.dn)
    return cams, dns


@pytest.mark.slow
def test_lander_fix_from_its_shadowed_side():
    """The Sun behind the lander (from the north, 30 deg up; the camera 8 m south of it): its
    foil is dark on this side, and the fix takes the points that stand above the ground inside
    the lander's footprint. Bound: horizontal error < 0.15 m from a prior
    0.6 m off, true attitude (measured: 0.7 cm)."""
    from farside.render import Scene, ce4_lander, place
    from farside.terrain import generate_site, nested_patches

    site = generate_site(128, 0.5, rng=11, elevation_m=0.0)
    g = np.array([0.0, 1.0, float(site.terrain.height_at(0.0, 1.0))])
    pats = nested_patches(site.terrain, center_xy_m=(0.0, 4.0), levels=((0.01, 6.0), (0.04, 24.0)), seed=11,
                          rocks=site.rocks)
    scenes = [Scene(p, albedo_seed=11) for p in pats] + [Scene(site.terrain)]
    lander = place(ce4_lander(), (*LANDER_XY, float(site.terrain.height_at(*LANDER_XY))), LANDER_HEADING_RAD,
                   object_id=1)
    el = math.radians(30.0)
    sun = np.array([0.0, math.cos(el), math.sin(el)])            # from the north: behind the lander
    az = math.atan2(LANDER_XY[0] - g[0], LANDER_XY[1] - g[1]) - math.radians(15.0)
    cams, (left, right) = _pair(site, scenes, g, az, math.radians(-15.0), sun, lander, 3)
    lid = cams[0]
    p = np.asarray(cams[0].position_enu)
    fx = relocalise_lander(left, right, k_px=cams[0].intrinsic_matrix, baseline_m=BASELINE_M,
                           rotation_enu_from_cam=cams[0].rotation_enu_from_cam, lander=lander,
                           prior_position_enu=p + [0.45, -0.4, 0.0])
    assert fx.ok and fx.n_points > 500
    assert float(np.hypot(*(fx.position_enu - p)[:2])) < 0.15


@pytest.mark.slow
def test_vo_across_a_turn_through_the_arrival_pair():
    """A 140 deg turn between stops, as in the mission: stop 0 (heading 40 deg) images with the
    mast at +40 deg (azimuth 80, toward its next leg), the rover drives 3.6 m east and faces
    south (180 deg). Its main pair looks south, 100 deg from anything stop 0 saw, so the VO step
    ends on its arrival pair aimed back along the leg (pan -75 deg: azimuth 105; the views of
    test_vo_step_between_mission_stops), and the mast's angles carry the pose to the main pair.
    Bound: the stop-1 ground point within 5 cm and heading within 0.3 deg of the truth (measured
    2.8 cm, 0.03 deg); without the arrival pair the step fails (no common ground)."""
    from farside.render import Scene, ce4_lander, place
    from farside.terrain import generate_site, nested_patches

    site = generate_site(128, 0.5, rng=5, elevation_m=0.0)
    el, az = math.radians(30.0), math.radians(200.0)
    sun = np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])
    lander = place(ce4_lander(), (-25.0, 25.0, float(site.terrain.height_at(-25.0, 25.0))), 0.0, object_id=1)
    tilt = math.radians(-25.0)
    g0 = np.array([-1.8, 0.0, float(site.terrain.height_at(-1.8, 0.0))])
    g1 = np.array([1.8, 0.0, float(site.terrain.height_at(1.8, 0.0))])
    h0, h1 = math.radians(40.0), math.radians(180.0)
    shots = {}
    for name, g, hd, pan in (("s0", g0, h0, math.radians(40.0)), ("s1arr", g1, h1, math.radians(-75.0)),
                             ("s1", g1, h1, 0.0)):
        pats = nested_patches(site.terrain, center_xy_m=tuple(g[:2]), levels=((0.01, 6.0), (0.04, 24.0)), seed=5,
                              rocks=site.rocks)
        scenes = [Scene(p, albedo_seed=5) for p in pats] + [Scene(site.terrain, rocks=site.rocks)]
        shots[name] = _pair(site, scenes, g, hd + pan, tilt, sun, lander, len(shots))
    kpx = shots["s0"][0][0].intrinsic_matrix
    s0 = StereoStop(*shots["s0"][1], pan_rad=math.radians(40.0), tilt_rad=tilt, heading_rad=h0)
    s1 = StereoStop(*shots["s1"][1], pan_rad=0.0, tilt_rad=tilt, heading_rad=h1,
                    arrival_left_dn=shots["s1arr"][1][0], arrival_right_dn=shots["s1arr"][1][1],
                    arrival_pan_rad=math.radians(-75.0), arrival_tilt_rad=tilt)
    kw = dict(k_px=kpx, baseline_m=BASELINE_M, mast_height_m=MAST_M, start_position_enu=g0, start_heading_rad=h0)
    est = visual_localisation([s0, s1], rng=np.random.default_rng(0), **kw)["vo"]
    assert est.steps[0].ok
    assert float(np.hypot(*(est.position_enu[1] - g1)[:2])) < 0.05
    assert abs(math.degrees((est.heading_rad[1] - h1 + math.pi) % (2 * math.pi) - math.pi)) < 0.3
    plain = StereoStop(*shots["s1"][1], pan_rad=0.0, tilt_rad=tilt, heading_rad=h1)
    assert not visual_localisation([s0, plain], rng=np.random.default_rng(0), **kw)["vo"].steps[0].ok
