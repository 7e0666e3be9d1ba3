"""The report's imaging section: the panorama (with a link to the full-resolution mosaic), its
truth and registration, the portraits, raw against calibrated colour, published vs farside."""

from __future__ import annotations

import html
import math

import numpy as np

__all__ = ["imaging_report"]

SECTION = "Surface imaging: TCAM panorama, mutual portraits, colour"


def _png(img: np.ndarray, width: int, max_dn: int | None = None) -> bytes:
    """A downscaled 8-bit PNG of an RGB image (raw DN of ``max_dn`` full scale shown on 0-255)."""
    import cv2

    if img.dtype != np.uint8:
        top = float(max_dn) if max_dn else float(max(img.max(), 1))
        img = np.clip(img.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    f = min(1.0, width / w)
    small = cv2.resize(img, (max(1, int(round(w * f))), max(1, int(round(h * f)))), interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = small[..., ::-1]
    ok, png = cv2.imencode(".png", small)
    return png.tobytes()


def imaging_report(ctx, results: dict, summary: dict) -> None:
    import pandas as pd

    rep = ctx.report
    p = results["panorama"]
    ps = summary["panorama"]
    far, near = ps["registration_far"], ps["registration_near"]
    times = summary["times_utc"]
    lp, rp = summary["lander_portrait"], summary["rover_portrait"]
    rep.add_section(SECTION, (
        f"<p>The lander's terrain camera (TCAM, on a pan-tilt mast whose axes sit "
        f"{html.escape(str(ctx.config.mast_offset_cam_m))} m from its optical centre, UNCONFIRMED) took "
        f"{ps['frames']} frames at {html.escape(times['panorama'])} in 4 tiers of 20 (layout UNCONFIRMED; CE-3 used "
        f"3 tiers). They were calibrated (dark, flat, channel response and white balance estimated from simulated "
        f"calibration frames, never from the sensor's true response) and stitched by "
        f"<code>farside.imaging.stitch_panorama</code> with the mast pointing as the prior: "
        f"{ps['mosaic_px'][0]} x {ps['mosaic_px'][1]} px, {ps['features'].upper()} features, reprojection RMS "
        f"{ps['rms_reprojection_px']:.2f} px. Against the panorama rendered directly from the mast head, points "
        f"beyond {ps['near_m']:.0f} m are placed within {far['rms_frame_px']:.2f} px RMS (frame pixels; "
        f"{far['rms_mosaic_px']:.2f} mosaic px), nearer ones within {near['rms_frame_px']:.2f} px RMS "
        f"(the mast offset's parallax); over the largest group of frames joined by matches "
        f"({ps['registration_largest_matched_group']['frames']} frames) the far field is within "
        f"{ps['registration_largest_matched_group']['far']['rms_mosaic_px']:.2f} mosaic px. Rotations: {ps['rotation_error_deg']['matched_frames']} frames joined by "
        f"feature matches, median error {ps['rotation_error_deg']['median']:.3f}&deg; (max "
        f"{ps['rotation_error_deg']['max']:.3f}&deg;) against the pointing prior's "
        f"{ps['rotation_error_deg']['prior_median']:.3f}&deg;; {len(ps['frames_placed_by_prior'])} frame(s) "
        f"(mostly the lander's own deck and panels) matched nothing and keep their prior. "
        f"The rover is in {ps['rover_visible_in_frames']} frame(s). "
        f"<a href=\"products/imaging/panorama.png\">Full-resolution panorama</a> "
        f"(<a href=\"products/imaging/panorama_truth.png\">truth</a>).</p>"))
    rep.add_png("TCAM panorama (stitched, calibrated)", _png(p["panorama"].image, 1400),
                caption="Equirectangular, azimuth from north through east; downscaled for the report.", section=SECTION)
    rep.add_png("TCAM panorama, ground truth", _png(p["truth8"], 1400),
                caption="Rendered directly from the mast head (noise-free, same display scale).", section=SECTION)
    rep.add_table("Panorama registration against the truth, by range", pd.DataFrame(p["registration"]["bins"]),
                  section=SECTION)
    if p["frame_shown"]:
        raw, cal = p["frame_shown"]
        rep.add_png("TCAM frame 50: raw", _png(raw, 640), caption="Raw: the detectors' red cast.", section=SECTION)
        rep.add_png("TCAM frame 50: calibrated", _png(cal, 640), caption="Calibrated colour.", section=SECTION)
    for key, title in (("lander_portrait", f"Yutu-2's PCAM photographs the lander ({times['lander_portrait']}, "
                                           f"{lp['distance_m']:.1f} m)"),
                       ("rover_portrait", f"The lander's TCAM photographs Yutu-2 ({times['rover_portrait']}, "
                                          f"{rp['distance_m']:.1f} m)")):
        r = results[key]
        sensor = getattr(r["frame"], "sensor", None)
        rep.add_png(title + ": raw", _png(r["raw"], 640, None if sensor is None else sensor.max_dn), section=SECTION)
        rep.add_png(title + ": calibrated", _png(r["calibrated"], 640), section=SECTION)
    rows = []
    for label, c in (("panorama frames (mean)", ps["colour_mean_over_frames"]), ("PCAM portrait", lp["colour"]),
                     ("TCAM portrait", rp["colour"])):
        if c:
            rows.append({"images": label, "raw R/G": c["raw_rg"], "raw R/B": c["raw_rb"],
                         "calibrated R/G": c["calibrated_rg"], "calibrated R/B": c["calibrated_rb"],
                         "truth R/G": c["truth_rg"], "truth R/B": c["truth_rb"],
                         "mean dE00 raw": c["raw_delta_e_mean"], "mean dE00 calibrated": c["calibrated_delta_e_mean"]})
    if rows:
        rep.add_table("Colour on the regolith: raw vs calibrated vs noise-free truth", pd.DataFrame(rows),
                      section=SECTION)
    cast = summary["configured_cast_tcam"]
    c = ps["colour_mean_over_frames"]
    pub = [
        {"quantity": "panorama frames", "published": "80 (Xinhua, Li Chunlai)", "farside": str(ps["frames"])},
        {"quantity": "rover visible in the panorama", "published": "yes, with its wheel marks",
         "farside": f"{ps['rover_visible_in_frames']} frame(s)"},
        {"quantity": "first colour images", "published": "looked red: detectors less sensitive to other wavelengths",
         "farside": (f"raw R/G {c.get('raw_rg', math.nan):.2f}, R/B {c.get('raw_rb', math.nan):.2f} "
                     f"(true cast {cast['rg']:.2f}, {cast['rb']:.2f}) -> calibrated "
                     f"{c.get('calibrated_rg', math.nan):.3f}, {c.get('calibrated_rb', math.nan):.3f}")},
    ]
    rep.add_table("Published vs farside (imaging)", pd.DataFrame(pub), section=SECTION)
