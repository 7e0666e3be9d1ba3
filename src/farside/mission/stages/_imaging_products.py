"""The imaging stage's products: the TCAM panorama, the two portraits, the colour calibration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: display scale of the calibrated sRGB products: the 99.5th percentile of the calibrated
#: reflectance factor (over a frame; over all frames of the panorama) goes to this display level
DISPLAY_WHITE = 0.85


def _display_gain(p995) -> float:
    """One display gain for a set of calibrated frames from their terrain's 99.5th percentiles (the
    90th percentile of those: the regolith brightens several-fold toward the opposition point)."""
    v = float(np.nanpercentile(np.asarray(p995, float), 90)) if np.isfinite(p995).any() else math.nan
    return DISPLAY_WHITE / v if v > 0 and math.isfinite(v) else 1.0


def _p995(lin: np.ndarray, object_id=None) -> float:
    """99.5th percentile of a calibrated frame's terrain (every 4th pixel; NaN when none)."""
    v = lin[::4, ::4]
    if object_id is not None:
        v = v[object_id[::4, ::4] == 0]
    return float(np.percentile(v, 99.5)) if v.size else math.nan
#: portraits: auto exposure puts this percentile of the radiance at 70 % of full well
PORTRAIT_EXPOSURE_PERCENTILE = 85.0
#: colour errors use every STEP-th pixel of a frame (the statistics converge well before)
_COLOUR_STEP = 3


def _binned(cam, b: int):
    """``cam`` read out with b x b binning (same field, b times the pixel pitch)."""
    w, h = cam.width_px // b, cam.height_px // b
    return cam.replace(width_px=w, height_px=h, pixel_pitch_m=cam.pixel_pitch_m * b, cx_px=(w - 1) / 2.0,
                       cy_px=(h - 1) / 2.0)


def _incidence_on_deck(sun: np.ndarray) -> float:
    """Incidence of the Sun on the level deck target (its calibration frames), capped at 80 deg."""
    return min(math.acos(max(-1.0, min(1.0, float(sun[2])))), math.radians(80.0))


def _calibration(cam, sensor, sun, rng):
    from farside.imaging import simulate_calibration_frames

    frames = simulate_calibration_frames(cam, sensor, rng=rng, incidence_rad=_incidence_on_deck(sun))
    return frames.estimate()


def _truth_rgb(frame, inc: float) -> np.ndarray:
    """The noise-free band reflectance factor the calibration should recover: pi r / cos(i_target)
    (the renderer's reflectance r, the deck target lit by the same Sun), times the material's band
    tint where a vehicle is."""
    r = np.nan_to_num(np.asarray(frame.reflectance, np.float64), nan=0.0)
    rgb = np.repeat((math.pi * r / math.cos(inc))[..., None], 3, axis=-1)
    tint = getattr(frame, "tint_rgb", None)
    if tint is not None:
        rgb *= tint
    return rgb


def _colour_errors(frame, cal_rgb: np.ndarray, inc: float) -> dict:
    """Raw and calibrated colour error on the frame's regolith (lit terrain, not a vehicle), against
    the noise-free truth."""
    from farside.imaging import colour_error

    s = _COLOUR_STEP
    truth = _truth_rgb(frame, inc)[::s, ::s]
    refl = np.asarray(frame.reflectance)[::s, ::s]
    mask = np.isfinite(refl) & (refl > 0.3 * np.nanmedian(refl)) & (np.nan_to_num(frame.lit_fraction[::s, ::s]) > 0.99)
    oid = getattr(frame, "object_id", None)
    if oid is not None:
        mask &= oid[::s, ::s] == 0
    if np.count_nonzero(mask) < 100:
        return {}
    after = colour_error(cal_rgb[::s, ::s], truth, mask=mask)
    before = colour_error(frame.dn[::s, ::s], truth, mask=mask, match_brightness=True)
    return {"raw": before, "calibrated": after}


def _write_rgb(ctx, rel: str, rgb8: np.ndarray, sidecar: dict, description: str) -> Path:
    from farside.render import write_image

    path = write_image(ctx.product_path(rel), rgb8, sidecar=sidecar)
    ctx.register(path, description=description)
    if sidecar is not None:
        ctx.register(path.with_suffix(".json"), description=description + " (sidecar)")
    return path


def _raw_and_calibrated(ctx, world, cam, t_s, sensor, cal, rng, stem: str, what: str, extra: dict, *,
                        from_tcam: bool = False) -> dict:
    """Render one colour view through ``sensor``, write raw and calibrated PNGs, score the colour."""
    from farside.imaging import calibrate_colour
    from farside.render import write_frame

    sun = world.sun(t_s)
    inc = _incidence_on_deck(sun)
    # exposed so that the brightest 15 % saturate (the foil's glints and sunlit faces), as in the real
    # portraits, where the gold foil is blown out and the shaded parts and the ground are readable
    fr = world.render(cam, t_s, sensor=sensor, rng=rng, layers="minimal", from_tcam=from_tcam,
                      expose_percentile=PORTRAIT_EXPOSURE_PERCENTILE)
    path = write_frame(fr, ctx.product_path(f"imaging/{stem}_raw.png"),
                       extra={**extra, "colour_processing": "demosaiced (bilinear, RGGB), no calibration"})
    ctx.register(path, description=f"{what}: raw colour (red cast)")
    ctx.register(path.with_suffix(".json"), description=f"{what}: sidecar")
    lin = calibrate_colour(fr.dn_raw, cal, exposure_s=fr.exposure_s)
    gain = _display_gain([_p995(lin)])
    rgb8 = calibrate_colour(fr.dn_raw, cal, exposure_s=fr.exposure_s, output="srgb8", display_gain=gain,
                            saturation_dn=sensor.max_dn)
    side = {**fr.sidecar(), **extra, "colour_processing": "calibrate_colour (dark, flat, response, white balance "
            "to the deck target), sRGB of %.3g x band reflectance factor" % gain}
    _write_rgb(ctx, f"imaging/{stem}_calibrated.png", rgb8, side, f"{what}: calibrated colour")
    return {"frame": fr, "raw": fr.dn, "calibrated": rgb8, "colour": _colour_errors(fr, lin, inc),
            "camera": cam, "extra": extra}


# ----------------------------------------------------------------------------------------------
def panorama(ctx, cfg, world, t_s: float, binning: int, sensor, rng) -> dict:
    """The 80-frame TCAM panorama from the lander's mast, stitched, and checked against the truth."""
    import cv2

    from farside._core import child_streams
    from farside.imaging import calibrate_colour, stitch_panorama
    from farside.imaging.capture import mast_camera, registration_error, truth_panorama
    from farside.render import tcam, tcam_panorama_pointings, write_frame

    base = _binned(tcam(), binning)
    head = world.mast_head()
    pointings = tcam_panorama_pointings()
    cams = [mast_camera(base, head_enu=head, pan_rad=p, tilt_rad=t, offset_cam_m=cfg.mast_offset_cam_m)
            for p, t in pointings]
    sun = world.sun(t_s)
    inc = _incidence_on_deck(sun)
    streams = child_streams(rng, len(cams) + 2)
    with ctx.timed("tcam_calibration"):
        cal = _calibration(base, sensor, sun, streams[-1])
    shown, samples, errs = [], [], []
    step = max(4, 16 // binning)
    raws, p995, masks = [], [], []
    rover_px = []
    with ctx.progress("imaging: TCAM panorama frames", len(cams)) as advance, ctx.timed("tcam_frames"):
        for k, (cam, (pan, tilt)) in enumerate(zip(cams, pointings)):
            fr = world.render(cam, t_s, sensor=sensor, rng=streams[k], layers="all", expose_terrain=True,
                              from_tcam=True)
            oid = getattr(fr, "object_id", None)
            extra = {"panorama_frame": k, "pan_deg": math.degrees(pan), "tilt_deg": math.degrees(tilt),
                     "mast_head_enu": [float(v) for v in head], "binning": binning,
                     "vehicle_pixel_fraction": 0.0 if oid is None else float(np.count_nonzero(oid) / oid.size),
                     "colour_processing": "demosaiced (bilinear, RGGB), no calibration"}
            path = write_frame(fr, ctx.product_path(f"imaging/panorama/tcam_{k:02d}.png"), extra=extra)
            ctx.register(path, description=f"TCAM panorama frame {k} (raw)")
            ctx.register(path.with_suffix(".json"), description=f"TCAM panorama frame {k} sidecar")
            lin = calibrate_colour(fr.dn_raw, cal, exposure_s=fr.exposure_s)
            raws.append((fr.dn_raw, fr.exposure_s))
            # features only off the vehicles (the mission knows its lander's silhouette in the mast's
            # frames), 6 px clear of their edges
            free = np.ones((cam.height_px, cam.width_px), bool) if fr.object_id is None else fr.object_id == 0
            masks.append(cv2.erode(free.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool))
            p995.append(_p995(lin, fr.object_id))
            e = _colour_errors(fr, lin, inc)
            if e:
                errs.append(e)
            rr, cc = np.mgrid[step // 2:cam.height_px:step, step // 2:cam.width_px:step]
            samples.append((rr.ravel(), cc.ravel(), fr.points_enu[rr, cc].reshape(-1, 3).copy()))
            oid = getattr(fr, "object_id", None)
            rover_px.append(int(np.count_nonzero(oid == 2)) if oid is not None else 0)
            if k == 50:
                shown = fr.dn.copy()
            del fr, lin
            advance(1)
    gain = _display_gain(p995)
    # blown-out highlights neutral: the sunlit deck saturates red first on CE-4's sensor, and without this the
    # white balance drew it cyan in some frames and white in others (seams at the frames' edges)
    imgs = [calibrate_colour(raw, cal, exposure_s=t, output="srgb8", display_gain=gain, saturation_dn=sensor.max_dn)
            for raw, t in raws]
    del raws
    shown = (shown, imgs[50].copy()) if len(imgs) > 50 else ()
    # the pointing prior: the mast's knowledge of each camera rotation, off by pointing_error_deg (1 sigma
    # per axis), as a sidecar would hold it
    from scipy.spatial.transform import Rotation

    err = streams[-2].standard_normal((len(cams), 3)) * math.radians(cfg.pointing_error_deg)
    prior = [c.rotation_enu_from_cam @ Rotation.from_rotvec(e).as_matrix() for c, e in zip(cams, err)]
    with ctx.timed("stitch"):
        # the mast's known geometry: each frame's projection centre relative to the head, and the ground
        # 2.6 m below it (its tilt adjusted with the rotations), take the offset's parallax out of the
        # ground's matches
        centres = np.array([c.position_enu - head for c in cams])
        ground_z = world.ground_z(*world.lander_enu[:2]) - float(head[2])
        # SIFT at once: ORB cannot join the frames of the lander's deck either, which the "auto" retry
        # would find out the slow way, and SIFT joins the frames half filled by the solar panels through
        # their narrow overlaps; detected at 0.2 Mpx (the matches are refined on the full frames); the
        # bundle adjustment holds each rotation near its prior with the prior's own scatter
        pano = stitch_panorama(imgs, focal_px=base.fx_px, pointing=prior, output_scale=cfg.mosaic_scale,
                               contrast="clahe", masks=masks, centres=centres, ground_z=ground_z,
                               features="sift", registration_mpx=0.2,
                               pointing_sigma_deg=max(cfg.pointing_error_deg, 0.01))
    del masks
    del imgs
    reg = registration_error(pano, samples, frame_shape=(base.height_px, base.width_px), head_enu=head)
    # the same over the largest group of frames joined by feature matches (the others are placed by
    # their own group's priors or alone)
    from farside.imaging._panorama_register import components

    main = components(len(cams), [(i, j) for i, j, _ in pano.pairs])[0]
    seen = [k for k in main if np.isfinite(samples[k][2]).all(axis=1).any()]
    nan = {"n": 0, "rms_mosaic_px": math.nan, "rms_frame_px": math.nan, "p95_frame_px": math.nan,
           "max_frame_px": math.nan}
    reg_main = (registration_error(pano, samples, frame_shape=(base.height_px, base.width_px), head_enu=head,
                                   frames=main) if seen else {"far": nan, "near": nan})
    reg["main_group"] = {"frames": len(main), "far": reg_main["far"], "near": reg_main["near"]}
    # the estimated rotations against the true ones: what the stitching recovered (the matched frames)
    # and what the prior alone gives
    rot_err = np.degrees([np.arccos(np.clip((np.trace(c.rotation_enu_from_cam.T @ R) - 1) / 2, -1, 1))
                          for c, R in zip(cams, pano.rotations)])
    prior_err = np.degrees([np.arccos(np.clip((np.trace(c.rotation_enu_from_cam.T @ P) - 1) / 2, -1, 1))
                            for c, P in zip(cams, prior)])
    matched = np.setdiff1d(np.arange(len(cams)), np.asarray(pano.prior_only, int))
    reg["rotation_error_deg"] = {
        "matched_frames": int(matched.size),
        "median": float(np.median(rot_err[matched])) if matched.size else float("nan"),
        "max": float(rot_err[matched].max()) if matched.size else float("nan"),
        "prior_median": float(np.median(prior_err)), "prior_max": float(prior_err.max())}
    hgt, wid = pano.image.shape[:2]
    with ctx.timed("truth_panorama", width_px=wid, height_px=hgt):
        truth = truth_panorama(lambda c: world.render(c, t_s, layers="minimal", from_tcam=True), base, head_enu=head,
                               px_per_rad=pano.px_per_rad, azimuth0_rad=pano.azimuth0_rad,
                               elevation0_rad=pano.elevation0_rad, width_px=wid, height_px=hgt)
    t_lin = np.clip(gain * math.pi * np.nan_to_num(truth["reflectance"]) / math.cos(inc), 0, 1)
    t8 = np.where(t_lin <= 0.0031308, 12.92 * t_lin, 1.055 * t_lin ** (1 / 2.4) - 0.055)
    truth8 = np.round(255 * t8).astype(np.uint8)
    # image agreement with the truth where both exist, far field only (the near field has parallax)
    g = cv2.cvtColor(pano.image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    far = pano.mask & np.isfinite(truth["range_m"]) & (truth["range_m"] > 20.0)
    ncc = float("nan")
    if far.sum() > 1000:
        a, b = g[far] - g[far].mean(), truth8[far].astype(float) - truth8[far].mean()
        ncc = float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))
    side = {"projection": pano.projection, "px_per_rad": pano.px_per_rad, "azimuth0_rad": pano.azimuth0_rad,
            "elevation0_rad": pano.elevation0_rad, "full_circle": pano.full_circle,
            "azimuth_convention": "from +y (north) toward +x (east)", "mast_head_enu": [float(v) for v in head],
            "time_utc": world.utc(t_s), "frames": len(cams), "binning": binning,
            "sun_dir_enu": [float(v) for v in sun],
            "sun_elevation_deg": math.degrees(math.asin(max(-1.0, min(1.0, float(sun[2]))))),
            "sun_azimuth_deg": math.degrees(math.atan2(sun[0], sun[1])) % 360.0,
            "camera": base.to_dict(), "pointing_error_deg": cfg.pointing_error_deg,
            "rms_reprojection_px": pano.rms_reprojection_px, "features": pano.features,
            "frames_placed_by_prior_only": list(pano.prior_only), "display_gain": gain,
            "rotations_cam_to_enu": pano.rotations.tolist(), "gains": pano.gains.tolist()}
    _write_rgb(ctx, "imaging/panorama.png", pano.image, side, "TCAM 360 deg panorama (stitched, calibrated colour)")
    _write_rgb(ctx, "imaging/panorama_truth.png", truth8, {**side, "what": "rendered directly from the mast head "
                                                           "(noise-free band reflectance, same display scale)"},
               "TCAM panorama: ground truth rendered from the mast head")
    import pandas as pd

    with ctx.write("imaging/panorama_registration.csv", description="stitched panorama vs truth by range") as tmp:
        pd.DataFrame(reg["bins"]).to_csv(tmp, index=False)
    return {"panorama": pano, "truth8": truth8, "registration": reg, "ncc_far": ncc, "colour": errs,
            "frame_shown": shown, "n_frames": len(cams), "rover_frames": int(sum(1 for n in rover_px if n > 50)),
            "rover_px": rover_px, "calibration": cal, "camera": base, "head_enu": head}


def _look(cam, position, target):
    from farside.render import look_at_rotation

    return cam.with_pose(position, look_at_rotation(position, target))


def lander_portrait(ctx, cfg, world, t_s: float, binning: int, sensor, rng) -> dict:
    """Yutu-2's left PCAM photographs the lander from wherever the traverse put the rover."""
    from farside._core import child_streams
    from farside.render import pcam_pair

    pose = world.rover_pose(t_s)
    if pose is None:       # no traverse: a documented default stand-off, 8 m south-west of the lander
        x, y = world.lander_enu[0] - 5.7, world.lander_enu[1] - 5.7
        pose = {"x_m": x, "y_m": y, "z_m": world.ground_z(x, y)}
    cam_pos = world.pcam_position(pose)
    # aimed at the body, 1.3 m up: the ground under the body stays in view, where the portrait's colour
    # is scored (aimed at the top deck's edge, as the real C-006 frame is, the lander fills the frame
    # and no lit regolith is left to score)
    target = world.lander_enu + np.array([0.0, 0.0, 1.3])
    left = _binned(pcam_pair()[0], binning)
    cam = _look(left, cam_pos, target)
    s = child_streams(rng, 2)
    cal = _calibration(left, sensor, world.sun(t_s), s[1])
    dist = float(np.linalg.norm((cam_pos - target)[:2]))
    out = _raw_and_calibrated(ctx, world, cam, t_s, sensor, cal, s[0], "portrait_lander_pcam",
                              "Yutu-2 PCAM photographs the lander",
                              {"portrait": "lander by rover PCAM (left)", "distance_m": dist, "rover_pose": pose})
    out.update(distance_m=dist, calibration=cal)
    return out


def rover_portrait(ctx, cfg, world, t_s: float, binning: int, sensor, rng) -> dict:
    """The lander's TCAM (on its mast) photographs the rover."""
    from farside._core import child_streams
    from farside.imaging.capture import mast_camera
    from farside.render import tcam

    pose = world.rover_pose(t_s)
    if pose is None:
        x, y = world.lander_enu[0] - 4.0, world.lander_enu[1] + 6.0
        pose = {"x_m": x, "y_m": y, "z_m": world.ground_z(x, y)}
    target = np.array([pose["x_m"], pose["y_m"], pose["z_m"] + 0.5])
    head = world.mast_head()
    d = target - head
    pan = math.atan2(d[0], d[1])
    tilt = math.atan2(d[2], math.hypot(d[0], d[1]))
    base = _binned(tcam(), binning)
    cam = mast_camera(base, head_enu=head, pan_rad=pan, tilt_rad=max(-math.pi / 2, min(math.pi / 2, tilt)),
                      offset_cam_m=cfg.mast_offset_cam_m)
    s = child_streams(rng, 2)
    cal = _calibration(base, sensor, world.sun(t_s), s[1])
    dist = float(np.linalg.norm(d[:2]))
    out = _raw_and_calibrated(ctx, world, cam, t_s, sensor, cal, s[0], "portrait_rover_tcam",
                              "the lander's TCAM photographs Yutu-2",
                              {"portrait": "rover by lander TCAM", "distance_m": dist, "rover_pose": pose,
                               "pan_deg": math.degrees(pan), "tilt_deg": math.degrees(tilt)}, from_tcam=True)
    out.update(distance_m=dist, calibration=cal)
    return out


def _cal_summary(cal, sensor) -> dict:
    resp = np.asarray(cal.response_rgb, float)
    true = np.asarray(sensor.colour_response_rgb, float)
    return {"estimated_response_rgb": (resp / resp[0]).tolist(), "true_response_rgb": (true / true[0]).tolist(),
            "method": cal.method, "n_dark_frames": cal.n_dark_frames, "n_flat_frames": cal.n_flat_frames,
            "n_target_frames": cal.n_target_frames}


def _colour_row(e: dict) -> dict:
    if not e:
        return {}
    r, c = e["raw"], e["calibrated"]
    return {"raw_rg": r["rg_ratio"], "raw_rb": r["rb_ratio"], "calibrated_rg": c["rg_ratio"],
            "calibrated_rb": c["rb_ratio"], "truth_rg": c["truth_rg_ratio"], "truth_rb": c["truth_rb_ratio"],
            "raw_delta_e_mean": r["delta_e_mean"], "calibrated_delta_e_mean": c["delta_e_mean"]}


def summary(results: dict, sensors: dict) -> dict:
    p = results["panorama"]
    pano = p["panorama"]
    reg = p["registration"]
    errs = [_colour_row(e) for e in p["colour"]]
    keys = errs[0].keys() if errs else ()
    pano_colour = {k: float(np.mean([e[k] for e in errs])) for k in keys}
    cast = sensors["tcam"].colour_response_rgb
    return {
        "times_utc": results["times_utc"],
        "panorama": {"frames": p["n_frames"], "rover_visible_in_frames": p["rover_frames"],
                     "mosaic_px": list(pano.image.shape[:2][::-1]), "px_per_rad": pano.px_per_rad,
                     "rms_reprojection_px": pano.rms_reprojection_px, "features": pano.features,
                     "registration_far": reg["far"], "registration_near": reg["near"], "near_m": reg["near_m"],
                     "rotation_error_deg": reg["rotation_error_deg"], "frames_placed_by_prior": list(pano.prior_only),
                     "registration_largest_matched_group": reg["main_group"],
                     "ncc_far_vs_truth": p["ncc_far"], "colour_mean_over_frames": pano_colour,
                     "frames_scored_for_colour": len(errs)},
        "lander_portrait": {"distance_m": results["lander_portrait"]["distance_m"],
                            "colour": _colour_row(results["lander_portrait"]["colour"])},
        "rover_portrait": {"distance_m": results["rover_portrait"]["distance_m"],
                           "colour": _colour_row(results["rover_portrait"]["colour"])},
        "tcam_calibration": _cal_summary(p["calibration"], sensors["tcam"]),
        "pcam_calibration": _cal_summary(results["lander_portrait"]["calibration"], sensors["pcam"]),
        "configured_cast_tcam": {"rg": cast[0] / cast[1], "rb": cast[0] / cast[2]},
    }
