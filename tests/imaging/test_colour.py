"""Colour calibration of the RGGB cameras (farside.imaging.colour).

The scene, the sensor and the calibration images are simulated here with the farside.render sensor
model; the sensor's TRUE colour response, PRNU pattern and dark current are drawn around the
nominal CE-4 values from a seeded rng, and the calibration only ever sees images (no inverse
crime). References: CIEDE2000 test pairs of Sharma, Wu & Dalal (2005), Table 1; sRGB/D65 -> CIELAB
of the sRGB red primary (53.24, 80.09, 67.20) (B. Lindbloom's colour calculator, IEC 61966-2-1
matrix); OpenCV's bilinear Bayer demosaicing as a second method; the analytic expectation that a
raw channel ratio is (true channel response ratio) x (scene reflectance ratio).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from farside.errors import FarsideError
from farside.imaging import (
    REGOLITH_COLOUR_RGB,
    SensorCalibration,
    calibrate_colour,
    colour_error,
    estimate_calibration,
    simulate_calibration_frames,
)
from farside.imaging import colour as C
from farside.imaging.colour import delta_e_ciede2000, rgb_to_lab
from farside.render import CE4_COLOUR_RESPONSE, Sensor, auto_exposure, expose, solar_band_irradiance, tcam
from farside.render.sensor import demosaic_rggb

H, W = 120, 160
INCIDENCE = math.radians(45.0)
#: Test regolith band reflectance factors (R, G, B): I/F ~ 0.1 (CE-3 site 3.86 % average
#: reflectance, docs/references.md 7.4, is darker; 0.1 keeps the test well above the 8-bit floor)
#: with the Moon's reddening, R/G = 1.23, G/B = 1.23 (Moon B-V 0.92 vs Sun 0.64, docs/references.md 7.4).
REGOLITH_RGB = np.array([0.125, 0.102, 0.083])
#: Coloured objects in the scene (rover foil, solar panel, flag), band reflectances (test values).
OBJECTS = [((slice(10, 40), slice(100, 150)), (0.55, 0.40, 0.12)),
           ((slice(70, 110), slice(110, 150)), (0.04, 0.05, 0.12)),
           ((slice(80, 105), slice(15, 50)), (0.45, 0.05, 0.05))]

# thresholds (documented in docs/imaging.md "Colour calibration")
RATIO_TOL = 0.03        # calibrated R/G, R/B vs the noise-free truth
RAW_CAST_TOL = 0.02     # raw R/G, R/B vs the configured cast x scene
DE_AFTER_MAX = 2.0      # mean CIEDE2000 per pixel after calibration (regolith)
DE_GAIN_MIN = 4.0       # before / after


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free band reflectance (H, W, 3) of a textured regolith with rocks, topographic shading
    and three coloured objects; labels 0 = regolith, k = object k. Built without farside.imaging."""
    r = np.random.default_rng(seed)
    tex = ndimage.gaussian_filter(r.standard_normal((H, W)), 2.0)
    refl = REGOLITH_RGB * np.exp(0.25 * tex / tex.std())[..., None]
    yy, xx = np.mgrid[:H, :W]
    for _ in range(6):
        cy, cx, rad = r.uniform(0, H), r.uniform(0, W), r.uniform(2, 6)
        refl[(yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2] *= 1.8
    labels = np.zeros((H, W), int)
    for k, (sl, rgb) in enumerate(OBJECTS, 1):
        refl[sl] = rgb
        labels[sl] = k
    shade = np.clip(ndimage.gaussian_filter(r.standard_normal((H, W)), 10.0), -1, 1)
    refl *= (1.0 + 0.2 * shade / np.abs(shade).max())[..., None]
    return refl, labels


def _perturbed_sensor(rng: np.random.Generator, bit_depth: int, dark_current_e_s: float = 500.0) -> Sensor:
    """A sensor whose true response scatters 5 % (1 sigma) around CE-4's nominal red cast, with its
    own PRNU pattern (2 % rms) and seed."""
    cr = np.clip(np.array(CE4_COLOUR_RESPONSE) * (1 + 0.05 * rng.standard_normal(3)), 0.05, 1.0)
    return Sensor(bit_depth=bit_depth, dark_current_e_s=dark_current_e_s, prnu_frac=0.02,
                  colour_response_rgb=tuple(cr), prnu_seed=int(rng.integers(1 << 30)))


def _run(seed: int = 2019, bit_depth: int = 12, dark_current_e_s: float = 500.0, scene_incidence: float = INCIDENCE,
         dark_exposures_s=(0.05, 0.5)):
    streams = np.random.default_rng(seed).spawn(3)
    sensor = _perturbed_sensor(streams[0], bit_depth, dark_current_e_s)
    cam = tcam(width_px=W, height_px=H, cx_px=W / 2 - 0.5, cy_px=H / 2 - 0.5)
    frames = simulate_calibration_frames(cam, sensor, rng=streams[1], incidence_rad=INCIDENCE,
                                         dark_exposures_s=dark_exposures_s)
    cal = frames.estimate()
    truth, labels = _scene(7)
    e_band = np.array([solar_band_irradiance(b)[0] for b in "rgb"])
    radiance = truth * e_band * math.cos(scene_incidence) / math.pi
    t = auto_exposure(radiance, cam, sensor)
    dn, raw = expose(radiance, cam, sensor, exposure_s=t, rng=streams[2])
    return {"sensor": sensor, "cam": cam, "frames": frames, "cal": cal, "truth": truth, "labels": labels, "t": t,
            "dn": dn, "raw": raw, "out": calibrate_colour(raw, cal, exposure_s=t)}


@pytest.fixture(scope="module")
def run12():
    return _run()


def _inner(mask: np.ndarray, px: int = 3) -> np.ndarray:
    """Mask eroded away from colour edges (bilinear demosaicing mixes colours across an edge)."""
    return ndimage.binary_erosion(mask, iterations=px)


# --- colour science ---------------------------------------------------------------------------

SHARMA_PAIRS = [  # Sharma, Wu & Dalal (2005) Table 1: rows 1-4, 7-11, 17, 25, 27, 34
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, -1.0, 2.0), (50.0, 0.0, 0.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0010), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_matches_sharma_reference_pairs():
    """CIEDE2000 against the published test pairs (4-decimal values, tolerance 1e-4)."""
    lab1 = np.array([p[0] for p in SHARMA_PAIRS])
    lab2 = np.array([p[1] for p in SHARMA_PAIRS])
    want = np.array([p[2] for p in SHARMA_PAIRS])
    got = delta_e_ciede2000(lab1, lab2)
    assert np.abs(got - want).max() < 1e-4
    assert np.allclose(delta_e_ciede2000(lab2, lab1), got, atol=1e-12)   # symmetric


def test_rgb_to_lab_reference_values():
    """White -> (100, 0, 0); 18 % grey -> L* = 116 * 0.18^(1/3) - 16 = 49.50; linear sRGB red
    primary -> (53.24, 80.09, 67.20) (Lindbloom; tolerance 0.05 for the rounded matrix)."""
    lab = rgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.18, 0.18, 0.18], [1.0, 0.0, 0.0]]))
    assert np.allclose(lab[0], [100.0, 0.0, 0.0], atol=1e-9)
    assert lab[1, 0] == pytest.approx(116 * 0.18 ** (1 / 3) - 16, abs=1e-9)
    assert np.allclose(lab[1, 1:], 0.0, atol=1e-9)
    assert np.allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)


def test_regolith_colour_from_moon_colour_index():
    """REGOLITH_COLOUR_RGB reproduces the Moon's B-V reddening: a power law through the B (440 nm)
    and V (550 nm) effective wavelengths with R(V)/R(B) = 10^(0.4 (0.92 - 0.642)) = 1.292."""
    lam = np.array([solar_band_irradiance(b)[1] for b in "rgb"])
    p = math.log(REGOLITH_COLOUR_RGB[1] / REGOLITH_COLOUR_RGB[2]) / math.log(lam[1] / lam[2])
    assert (550 / 440) ** p == pytest.approx(10 ** (0.4 * (0.92 - 0.642)), rel=1e-9)
    assert REGOLITH_COLOUR_RGB[1] == 1.0 and 1.1 < REGOLITH_COLOUR_RGB[0] < 1.35


def test_float_demosaic_matches_opencv_bilinear():
    """The float bilinear demosaic equals OpenCV's Bayer bilinear conversion in the interior
    (OpenCV rounds to integer DN: tolerance 0.5 DN)."""
    m = np.random.default_rng(3).integers(0, 4096, (32, 48)).astype(np.uint16)
    ref = demosaic_rggb(m).astype(float)
    got = C._demosaic_bilinear(m.astype(float))
    assert np.abs(got - ref)[1:-1, 1:-1].max() <= 0.5


# --- calibration from images -------------------------------------------------------------------

def test_calibration_recovers_the_true_sensor(run12, report_measured):
    """The estimate (from images only) matches what the simulator configured: the channel response
    ratios within 0.5 %, the dark rate = dark_current / gain within 2 %, the flat = the PRNU
    pattern (normalised per channel) to 0.5 % rms while the PRNU itself is 2 % rms."""
    sensor, cal = run12["sensor"], run12["cal"]
    true_resp = np.array(sensor.colour_response_rgb) / max(sensor.colour_response_rgb)
    assert np.allclose(cal.response_rgb, true_resp, rtol=0.005)
    rate_true = sensor.dark_current_e_s / sensor.gain_e_per_dn
    assert float(cal.dark_rate_dn_s.mean()) == pytest.approx(rate_true, rel=0.02)
    prnu = sensor.prnu((H, W))
    cfa = C._cfa_index((H, W))
    prnu_norm = prnu / np.array([prnu[cfa == c].mean() for c in range(3)])[cfa]
    resid = float(np.std(cal.flat - prnu_norm))
    assert resid < 0.005 and float(np.std(prnu_norm)) > 0.015
    report_measured(f"colour: response est {np.round(cal.response_rgb, 4).tolist()} vs true "
                    f"{np.round(true_resp, 4).tolist()}; dark rate {cal.dark_rate_dn_s.mean():.2f} vs "
                    f"{rate_true:.2f} DN/s; flat residual {100 * resid:.2f} % rms "
                    f"(PRNU {100 * np.std(prnu_norm):.2f} %)")


def test_calibrated_colours_match_truth_and_remove_the_cast(run12, report_measured):
    """Regolith and objects: calibrated R/G and R/B within 3 % of the noise-free truth; the raw
    frame carries the configured cast, raw ratio = (true response ratio) x (scene ratio) within 2 %;
    mean CIEDE2000 per pixel falls from the raw frame's (brightness-matched) to below 2, at least
    4x lower; the absolute level (scene and target both lit at 45 deg) is right to 2 %."""
    truth, labels, out, dn, sensor = run12["truth"], run12["labels"], run12["out"], run12["dn"], run12["sensor"]
    assert out.dtype == np.float32 and out.shape == (H, W, 3)
    reg = _inner(labels == 0)
    after = colour_error(out, truth, mask=reg)
    before = colour_error(dn, truth, mask=reg, match_brightness=True)
    assert abs(after["rg_error_frac"]) < RATIO_TOL and abs(after["rb_error_frac"]) < RATIO_TOL
    for k in range(1, len(OBJECTS) + 1):
        e = colour_error(out, truth, mask=_inner(labels == k, 2))
        assert abs(e["rg_error_frac"]) < RATIO_TOL and abs(e["rb_error_frac"]) < RATIO_TOL, (k, e)
    cr = sensor.colour_response_rgb
    tm = truth[reg].mean(axis=0)
    raw_rg, raw_rb = before["rg_ratio"], before["rb_ratio"]
    assert raw_rg == pytest.approx(cr[0] / cr[1] * tm[0] / tm[1], rel=RAW_CAST_TOL)
    assert raw_rb == pytest.approx(cr[0] / cr[2] * tm[0] / tm[2], rel=RAW_CAST_TOL)
    assert after["delta_e_mean"] < DE_AFTER_MAX
    assert before["delta_e_mean"] > DE_GAIN_MIN * after["delta_e_mean"]
    assert out[reg].mean(axis=0)[1] == pytest.approx(tm[1], rel=0.02)
    whole_after = colour_error(out, truth)
    whole_before = colour_error(dn, truth, match_brightness=True)
    report_measured(
        f"colour 12-bit: regolith R/G {after['rg_ratio']:.4f} (truth {after['truth_rg_ratio']:.4f}, raw {raw_rg:.4f}), "
        f"R/B {after['rb_ratio']:.4f} (truth {after['truth_rb_ratio']:.4f}, raw {raw_rb:.4f}); "
        f"mean dE00 regolith {before['delta_e_mean']:.2f} -> {after['delta_e_mean']:.2f}, "
        f"whole frame {whole_before['delta_e_mean']:.2f} -> {whole_after['delta_e_mean']:.2f}")


def test_regolith_white_balance_makes_regolith_neutral(run12):
    """white_balance='regolith' divides by the B-V-derived regolith colour: the test regolith
    (R/G 1.23, G/B 1.23) comes out grey to 3 %."""
    out = calibrate_colour(run12["raw"], run12["cal"], exposure_s=run12["t"], white_balance="regolith")
    m = out[_inner(run12["labels"] == 0)].mean(axis=0)
    assert m[0] / m[1] == pytest.approx(1.0, abs=RATIO_TOL)
    assert m[2] / m[1] == pytest.approx(1.0, abs=RATIO_TOL)


def test_demosaiced_input_gives_the_mosaic_result(run12):
    """The (H, W, 3) demosaiced DN is accepted and gives the mosaic's result (away from the
    one-pixel border that OpenCV fills by replication)."""
    a = calibrate_colour(run12["raw"], run12["cal"], exposure_s=run12["t"])
    b = calibrate_colour(run12["dn"], run12["cal"], exposure_s=run12["t"])
    assert np.array_equal(a[2:-2, 2:-2], b[2:-2, 2:-2])


def test_matrix_model_agrees_with_diagonal(run12):
    """The sensor's filters do not overlap, so a free 3 x 3 fit must come out diagonal: off-diagonal
    terms below 1 % of the diagonal, same colour ratios to 0.5 %."""
    cal_m = run12["frames"].estimate(model="matrix")
    mat = cal_m.colour_matrix / np.diag(cal_m.colour_matrix)[:, None]
    assert np.abs(mat - np.eye(3)).max() < 0.01
    reg = _inner(run12["labels"] == 0)
    e_m = colour_error(calibrate_colour(run12["raw"], cal_m, exposure_s=run12["t"]), run12["truth"], mask=reg)
    e_d = colour_error(run12["out"], run12["truth"], mask=reg)
    assert e_m["rg_ratio"] == pytest.approx(e_d["rg_ratio"], rel=0.005)
    assert e_m["rb_ratio"] == pytest.approx(e_d["rb_ratio"], rel=0.005)


def test_other_incidence_scales_all_channels_alike():
    """Scene lit at 60 deg, target at 45 deg: the output is the reflectance times
    cos 60 / cos 45 = 0.7071 (2 %), with unchanged colour ratios (3 %)."""
    r = _run(seed=5, scene_incidence=math.radians(60.0))
    reg = _inner(r["labels"] == 0)
    e = colour_error(r["out"], r["truth"], mask=reg)
    assert abs(e["rg_error_frac"]) < RATIO_TOL and abs(e["rb_error_frac"]) < RATIO_TOL
    ratio = r["out"][reg].mean() / r["truth"][reg].mean()
    assert ratio == pytest.approx(math.cos(math.radians(60)) / math.cos(INCIDENCE), rel=0.02)


def test_hot_detector_dark_is_removed(report_measured):
    """A hot detector (dark current 3e5 e/s, UNCONFIRMED, ~70 DN at the scene exposure) biases the
    raw R/B ratio by more than 10 %; dark subtraction brings the calibrated ratios back within 3 %."""
    r = _run(seed=11, dark_current_e_s=3.0e5, dark_exposures_s=(0.001, 0.01))
    reg = _inner(r["labels"] == 0)
    e = colour_error(r["out"], r["truth"], mask=reg)
    assert abs(e["rg_error_frac"]) < RATIO_TOL and abs(e["rb_error_frac"]) < RATIO_TOL
    dark_dn = r["sensor"].dark_current_e_s * r["t"] / r["sensor"].gain_e_per_dn
    assert dark_dn > 20.0
    cr, tm = r["sensor"].colour_response_rgb, r["truth"][reg].mean(axis=0)
    raw = r["dn"][reg].astype(float).mean(axis=0)
    raw_rb_err = raw[0] / raw[2] / (cr[0] / cr[2] * tm[0] / tm[2]) - 1.0
    assert abs(raw_rb_err) > 0.10          # without dark subtraction the cast would be mis-measured
    report_measured(f"colour hot detector: dark {dark_dn:.0f} DN in the scene frame; raw R/B off the cast by "
                    f"{100 * raw_rb_err:+.1f} %; calibrated regolith R/G err {100 * e['rg_error_frac']:+.2f} %, "
                    f"R/B err {100 * e['rb_error_frac']:+.2f} %")


def test_8bit_tcam_regolith_ratios(report_measured):
    """The 8-bit TCAM products: regolith ratios still within 3 % (quantisation is the floor)."""
    r = _run(seed=8, bit_depth=8)
    reg = _inner(r["labels"] == 0)
    e = colour_error(r["out"], r["truth"], mask=reg)
    before = colour_error(r["dn"], r["truth"], mask=reg, match_brightness=True)
    assert abs(e["rg_error_frac"]) < RATIO_TOL and abs(e["rb_error_frac"]) < RATIO_TOL
    assert e["delta_e_mean"] < DE_AFTER_MAX and before["delta_e_mean"] > DE_GAIN_MIN * e["delta_e_mean"]
    report_measured(f"colour 8-bit: regolith R/G err {100 * e['rg_error_frac']:+.2f} %, R/B err "
                    f"{100 * e['rb_error_frac']:+.2f} %; mean dE00 {before['delta_e_mean']:.2f} -> "
                    f"{e['delta_e_mean']:.2f}")


def test_rendered_tcam_frame_is_grey_and_on_the_reflectance_scale(report_measured):
    """A frame rendered by farside.render (Hapke regolith on bumpy terrain, spectrally neutral: one
    reflectance r for all bands) through the perturbed sensor: calibrated regolith is grey (R/G,
    R/B = 1 within 3 %) and equals the renderer's pi * r / cos(i_target) within 3 % (the target
    lit by the same Sun on flat ground), while the raw frame shows the true cast within 2 %."""
    from farside.render import Scene, render
    from farside.terrain import Terrain

    streams = np.random.default_rng(4).spawn(4)
    sensor = _perturbed_sensor(streams[0], 12)
    hts = -5935.0 + 0.05 * ndimage.gaussian_filter(streams[1].standard_normal((161, 161)), 6.0) / 0.047
    scene = Scene(Terrain(hts.astype(np.float32), 0.05, x0_m=-4.0, y0_m=4.0))
    cam = tcam(position_enu=(0.0, 0.0, -5935.0 + 2.6), tilt_rad=math.radians(-60.0)).replace(
        width_px=W, height_px=H, cx_px=W / 2 - 0.5, cy_px=H / 2 - 0.5, pixel_pitch_m=5.5e-6 * 2352 / W)
    sun_el = math.radians(40.0)
    sun = np.array([0.0, -math.cos(sun_el), math.sin(sun_el)])
    fr = render(scene, cam, sun_dir_enu=sun, sensor=sensor, rng=streams[2])
    cal = simulate_calibration_frames(cam, sensor, rng=streams[3], incidence_rad=math.pi / 2 - sun_el).estimate()
    out = calibrate_colour(fr.dn_raw, cal, exposure_s=fr.exposure_s)
    refl = np.asarray(fr.reflectance, float)
    lit = _inner(np.isfinite(refl) & (refl > 0.3 * np.nanmedian(refl)), 2)
    assert lit.sum() > 0.5 * H * W
    truth = np.repeat((math.pi * np.where(lit, refl, 0.0) / math.cos(math.pi / 2 - sun_el))[..., None], 3, axis=-1)
    e = colour_error(out, truth, mask=lit)
    assert e["truth_rg_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert abs(e["rg_error_frac"]) < RATIO_TOL and abs(e["rb_error_frac"]) < RATIO_TOL
    assert out[lit].mean() / truth[lit].mean() == pytest.approx(1.0, abs=0.03)
    raw = colour_error(fr.dn, truth, mask=lit, match_brightness=True)
    cr = sensor.colour_response_rgb
    assert raw["rg_ratio"] == pytest.approx(cr[0] / cr[1], rel=RAW_CAST_TOL)
    assert raw["rb_ratio"] == pytest.approx(cr[0] / cr[2], rel=RAW_CAST_TOL)
    report_measured(f"colour rendered TCAM frame: raw R/G {raw['rg_ratio']:.3f} R/B {raw['rb_ratio']:.3f} "
                    f"(cast {cr[0] / cr[1]:.3f}, {cr[0] / cr[2]:.3f}) -> calibrated {e['rg_ratio']:.4f}, "
                    f"{e['rb_ratio']:.4f}; level {out[lit].mean() / truth[lit].mean():.4f}; mean dE00 "
                    f"{raw['delta_e_mean']:.2f} -> {e['delta_e_mean']:.2f}")


def test_srgb8_output():
    """The display output is the sRGB encoding of the clipped reflectance (0.5 -> 188, 1 -> 255)."""
    cal = SensorCalibration(dark_bias_dn=np.zeros((4, 4)), dark_rate_dn_s=np.zeros((4, 4)), flat=np.ones((4, 4)),
                            colour_matrix=np.eye(3), gain_dn_s=(1, 1, 1), response_rgb=(1, 1, 1),
                            fit_rms_frac=(0, 0, 0), reference_exposure_s=1.0)
    out = calibrate_colour(np.full((4, 4), 0.5), cal, output="srgb8")
    assert out.dtype == np.uint8 and np.all(out == 188)
    assert np.all(calibrate_colour(np.full((4, 4), 0.5), cal, output="srgb8", display_gain=2.0) == 255)


# --- determinism and errors --------------------------------------------------------------------

def test_same_seed_is_byte_identical():
    a, b, c = _run(seed=42), _run(seed=42), _run(seed=43)
    assert a["out"].tobytes() == b["out"].tobytes()
    assert a["cal"].flat.tobytes() == b["cal"].flat.tobytes()
    assert a["out"].tobytes() != c["out"].tobytes()


def _one_line_error(fn, *args, **kw):
    with pytest.raises(FarsideError) as ei:
        fn(*args, **kw)
    msg = str(ei.value)
    assert "\n" not in msg and "is invalid" in msg
    return msg


def test_bad_input_gives_one_line_errors(run12):
    cal, raw, fr = run12["cal"], run12["raw"], run12["frames"]
    assert "raw.shape" in _one_line_error(calibrate_colour, raw[:-2], cal)
    assert "raw.shape" in _one_line_error(calibrate_colour, np.zeros((H, W, 4), np.uint16), cal)
    assert "raw.dtype" in _one_line_error(calibrate_colour, raw.astype(bool), cal)
    assert "raw.dtype" in _one_line_error(calibrate_colour, raw.astype(np.int16), cal)
    bad = raw.astype(float)
    bad[5, 5] = np.nan
    assert "NaN" in _one_line_error(calibrate_colour, bad, cal)
    assert "sensor" in _one_line_error(calibrate_colour, raw, run12["sensor"])
    _one_line_error(calibrate_colour, raw, cal, exposure_s=-1.0)
    _one_line_error(calibrate_colour, raw, cal, white_balance="auto")
    assert "saturation_dn" in _one_line_error(calibrate_colour, raw, cal, saturation_dn=float("nan"))
    assert "saturation_dn" in _one_line_error(calibrate_colour, raw, cal, saturation_dn=-1)
    kw = {"exposure_s": fr.target_exposure_s, "patch_labels": fr.patch_labels,
          "dark_exposure_s": fr.dark_exposure_s, "flat_exposure_s": fr.flat_exposure_s}
    assert "flat_frames.shape" in _one_line_error(estimate_calibration, fr.dark_frames, fr.flat_frames[:, :-2],
                                                  fr.target_frames, fr.target_reflectance_rgb, **kw)
    assert "target_reflectance_rgb" in _one_line_error(estimate_calibration, fr.dark_frames, fr.flat_frames,
                                                       fr.target_frames, fr.target_reflectance_rgb[:, :2], **kw)
    assert "patch_labels" in _one_line_error(estimate_calibration, fr.dark_frames, fr.flat_frames, fr.target_frames,
                                             fr.target_reflectance_rgb[:-1], **kw)
    dark_nan = fr.dark_frames.astype(float)
    dark_nan[0, 0, 0] = np.nan
    _one_line_error(estimate_calibration, dark_nan, fr.flat_frames, fr.target_frames, fr.target_reflectance_rgb, **kw)
    # a flat taken with the lamp off has no signal above the dark
    _one_line_error(estimate_calibration, fr.dark_frames, fr.dark_frames[:2], fr.target_frames,
                    fr.target_reflectance_rgb, **kw)
    assert "rgb.shape" in _one_line_error(colour_error, np.zeros((4, 3)), np.zeros((5, 3)))
    _one_line_error(colour_error, np.full((4, 3), np.nan), np.zeros((4, 3)))


def test_clipped_highlights_come_out_neutral(run12):
    """A white deck (reflectance 0.9, neutral) exposed so that only its red samples clip: the white
    balance alone turns it cyan (red/green 5-10 % below 1: red lost its top); with the ADC's
    full scale (``saturation_dn``) it comes out neutral, and the unclipped regolith is untouched."""
    sensor, cam, cal = run12["sensor"], run12["cam"], run12["cal"]
    truth = run12["truth"].copy()
    deck = (slice(40, 80), slice(60, 100))
    truth[deck] = 0.9
    e_band = np.array([solar_band_irradiance(b)[0] for b in "rgb"])
    radiance = truth * e_band * math.cos(INCIDENCE) / math.pi
    t0 = auto_exposure(radiance, cam, sensor) / 20.0          # nothing clips at this exposure
    dn0, _ = expose(radiance, cam, sensor, exposure_s=t0, rng=np.random.default_rng(1))
    inner = np.zeros((H, W), bool)
    inner[deck] = True
    inner = _inner(inner, 3)
    # the deck's green and blue at 95 % of full scale: its red, the brightest band of CE-4's
    # red-heavy response, clips
    t = t0 * 0.95 * sensor.max_dn / dn0[inner][:, 1:].mean(axis=0).max()
    dn, raw = expose(radiance, cam, sensor, exposure_s=t, rng=np.random.default_rng(2))
    assert (dn[inner][:, 0] >= sensor.max_dn).mean() > 0.9
    assert dn[inner][:, 1].mean() < 0.97 * sensor.max_dn and dn[inner][:, 2].mean() < 0.97 * sensor.max_dn
    plain = calibrate_colour(raw, cal, exposure_s=t)
    fixed = calibrate_colour(raw, cal, exposure_s=t, saturation_dn=sensor.max_dn)
    p, f = plain[inner].mean(axis=0), fixed[inner].mean(axis=0)
    assert p[0] / p[1] < 0.95                                   # the cyan tint (red lost its top)
    assert f[0] / f[1] == pytest.approx(1.0, abs=0.01) and f[2] / f[1] == pytest.approx(1.0, abs=0.01)
    far = np.ones((H, W), bool)
    far[30:90, 50:110] = False                                  # 10 px clear of the deck
    assert np.array_equal(plain[far], fixed[far])
