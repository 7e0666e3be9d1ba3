"""Sensor model: photon-transfer curve, colour imbalance (red cast), Bayer layout, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.render import (
    CE4_COLOUR_RESPONSE,
    Camera,
    Scene,
    Sensor,
    expose,
    lcam,
    render,
    tcam,
    write_frame,
)
from farside.render.sensor import demosaic_rggb, mosaic_rggb
from farside.terrain import Terrain
from tests.render._scenes import sun_from


def _mono(n=256):
    return Camera(width_px=n, height_px=n, focal_length_m=0.01, pixel_pitch_m=6.7e-6, cx_px=n / 2, cy_px=n / 2,
                  f_number=4.0)


def test_photon_transfer_curve():
    """Uniform illumination: var(DN) = mean(DN)/G + (sigma_read/G)^2 + 1/12 (photon-transfer curve,
    Janesick 2007, "Photon Transfer", eq. 4.13 with quantisation noise), within 2 %, over the range
    from read-noise- to shot-noise-dominated signals."""
    cam = _mono()
    sensor = Sensor(bit_depth=12, full_well_e=20000.0, read_noise_e=12.0, dark_current_e_s=0.0, prnu_frac=0.0)
    g = sensor.gain_e_per_dn
    k = sensor.electrons_per_radiance(cam, "pan")
    rng = np.random.default_rng(7)
    for target_e in (200.0, 1000.0, 5000.0, 14000.0):
        t = 0.01
        rad = np.full((256, 256), target_e / (k * t))
        dn, _ = expose(rad, cam, sensor, exposure_s=t, rng=rng)
        d = dn.astype(float)
        mean, var = d.mean(), d.var(ddof=1)
        assert mean == pytest.approx(target_e / g, rel=0.01)
        expected = mean / g + (sensor.read_noise_e / g) ** 2 + 1 / 12
        assert var == pytest.approx(expected, rel=0.02), target_e


def test_full_well_saturation_and_prnu():
    """Signals beyond full well clip at the maximum DN; PRNU adds variance prnu^2 mean^2."""
    cam = _mono(128)
    s = Sensor(bit_depth=12, prnu_frac=0.02, read_noise_e=0.0, dark_current_e_s=0.0)
    k = s.electrons_per_radiance(cam, "pan")
    dn, _ = expose(np.full((128, 128), 3 * s.full_well_e / k), cam, s, exposure_s=1.0, rng=np.random.default_rng(1))
    assert np.all(dn == s.max_dn)
    dn, _ = expose(np.full((128, 128), 0.5 * s.full_well_e / k), cam, s, exposure_s=1.0,
                   rng=np.random.default_rng(2))
    m = dn.mean()
    g = s.gain_e_per_dn
    expected = m / g + (0.02 * m) ** 2 + 1 / 12
    assert dn.var(ddof=1) == pytest.approx(expected, rel=0.05)


def test_bayer_layout_matches_opencv_demosaic():
    """A pure-red / pure-blue scene through the RGGB mosaic demosaics back to red / blue."""
    for ch in range(3):
        rgb = np.zeros((16, 16, 3), np.uint8)
        rgb[..., ch] = 200
        out = demosaic_rggb(mosaic_rggb(rgb))
        assert out[4:-4, 4:-4, ch].min() == 200
        others = [k for k in range(3) if k != ch]
        assert out[4:-4, 4:-4][..., others].max() == 0


@pytest.fixture(scope="module")
def regolith_scene():
    """Flat neutral regolith, 400 m square."""
    n = 201
    return Scene(Terrain(np.full((n, n), -5935.0, np.float32), 2.0, x0_m=-201.0, y0_m=201.0))


def test_red_cast_ratios_match_configured_imbalance(regolith_scene):
    """With the CE-4 imbalance on, raw TCAM colour frames of neutral regolith have mean R/G and R/B
    equal to the configured response ratios (1/0.72, 1/0.50) within 2 %; balanced is grey."""
    small = tcam(position_enu=(0.0, 0.0, -5935.0 + 2.6)).replace(width_px=320, height_px=240, cx_px=159.5,
                                                                 cy_px=119.5)
    for resp in (CE4_COLOUR_RESPONSE, (1.0, 1.0, 1.0)):
        sensor = Sensor(colour_response_rgb=resp, dark_current_e_s=0.0, prnu_frac=0.0)
        fr = render(regolith_scene, small, sun_dir_enu=sun_from(40, 100), sensor=sensor,
                    rng=np.random.default_rng(3))
        assert fr.dn.shape == (240, 320, 3) and fr.dn_raw.shape == (240, 320)
        m = fr.dn[20:-20, 20:-20].reshape(-1, 3).astype(float).mean(axis=0)
        assert m[1] > 20  # well exposed
        assert m[0] / m[1] == pytest.approx(resp[0] / resp[1], rel=0.02)
        assert m[0] / m[2] == pytest.approx(resp[0] / resp[2], rel=0.02)


def test_same_scene_and_seed_give_identical_images(regolith_scene, tmp_path):
    """Determinism: same scene + seed -> byte-identical PNG and sidecar; another seed differs."""
    cam = lcam(position_enu=(0.0, 0.0, -5935.0 + 300.0)).replace(width_px=128, height_px=128, cx_px=64.0,
                                                                 cy_px=64.0)
    paths = []
    for k, seed in enumerate((11, 11, 12)):
        fr = render(regolith_scene, cam, sun_dir_enu=sun_from(25, 80), sensor=Sensor(),
                    rng=np.random.default_rng(seed), time_utc="2019-01-03T02:26:00Z")
        paths.append(write_frame(fr, tmp_path / f"f{k}.png"))
    b = [p.read_bytes() for p in paths]
    assert b[0] == b[1]
    assert b[0] != b[2]
    assert (tmp_path / "f0.json").read_bytes() == (tmp_path / "f1.json").read_bytes()
    import json

    meta = json.loads((tmp_path / "f0.json").read_text())
    assert meta["camera"]["name"] == "LCAM" and meta["time_utc"] == "2019-01-03T02:26:00Z"
    assert meta["exposure_s"] > 0 and meta["sensor"]["bit_depth"] == 8


def _blackbody_fraction(lam_m: float, t_k: float) -> float:
    """Fraction of a blackbody's exitance below wavelength ``lam_m``: the series of Widger and
    Woodall (1976), F = 15/pi^4 sum_n e^(-n x)/n (x^3 + 3x^2/n + 6x/n^2 + 6/n^3), x = hc/(lam k T)
    (a second method: no numerical integration of Planck's law)."""
    h, c, k = 6.62607015e-34, 299_792_458.0, 1.380649e-23
    x = h * c / (lam_m * k * t_k)
    s = sum(math.exp(-n * x) / n * (x ** 3 + 3 * x ** 2 / n + 6 * x / n ** 2 + 6 / n ** 3) for n in range(1, 200))
    return 15.0 / math.pi ** 4 * s


@pytest.mark.parametrize("band", ["pan", "r", "g", "b"])
def test_solar_band_irradiance_is_the_blackbody_fraction_of_the_tsi(band):
    """The band irradiance at 1 AU is TSI x the fraction of a 5772 K blackbody's output in the
    band (IAU 2015 nominal solar values: TSI 1361 W/m^2, T_eff 5772 K); 0.1 %. The pan band
    (400-700 nm) holds ~37 % of it. The photon-weighted mean wavelength lies inside the band."""
    from farside.render import solar_band_irradiance
    from farside.render.sensor import BANDS_NM

    lo, hi = BANDS_NM[band]
    frac = _blackbody_fraction(hi * 1e-9, 5772.0) - _blackbody_fraction(lo * 1e-9, 5772.0)
    e, lam = solar_band_irradiance(band)
    assert e == pytest.approx(1361.0 * frac, rel=1e-3)
    assert lo * 1e-9 < lam < hi * 1e-9
    if band == "pan":
        assert 0.35 < frac < 0.40


# ---- the compiled noise kernel against the exact distributions ----------------------------------

def _chi2_pvalue(counts, probs, min_expected=20.0):
    """Pearson chi-square p-value of observed counts against probabilities (bins with fewer than
    ``min_expected`` expected counts pooled into their neighbours)."""
    from scipy import stats

    n = counts.sum()
    exp = probs / probs.sum() * n
    obs_p, exp_p = [], []
    o_acc = e_acc = 0.0
    for o, e in zip(counts, exp):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            obs_p.append(o_acc)
            exp_p.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 and exp_p:
        obs_p[-1] += o_acc
        exp_p[-1] += e_acc
    obs_p, exp_p = np.array(obs_p), np.array(exp_p)
    chi2 = float(((obs_p - exp_p) ** 2 / exp_p).sum())
    return float(stats.chi2.sf(chi2, len(exp_p) - 1))


def test_ziggurat_normal_against_scipy():
    """farside's normal deviates (ziggurat) against the standard normal CDF (scipy): a KS test on
    400,000 draws and the tail beyond 3.44 (the ziggurat's base strip) in proportion."""
    from numba import njit
    from scipy import stats

    from farside.render._kernels_sensor import _GOLDEN, _mix, normal_one

    @njit
    def draws(n, key):
        out = np.empty(n)
        for i in range(n):
            st = _mix(np.uint64(key) ^ (np.uint64(i) * _GOLDEN))
            out[i], st = normal_one(st)
        return out

    z = draws(400_000, 12345)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(z) > 3.442619855899)
    assert tail == pytest.approx(2 * stats.norm.sf(3.442619855899), rel=0.1)
    assert abs(z.mean()) < 5 / math.sqrt(z.size) and z.std() == pytest.approx(1.0, abs=5 / math.sqrt(z.size))


@pytest.mark.parametrize("lam", [0.05, 3.0, 9.99, 10.0, 47.5, 999.0])
def test_poisson_sampler_against_exact_pmf(lam):
    """farside's Poisson sampler (inversion below 10, Hormann's PTRS above) against scipy's exact
    pmf: chi-square p > 1e-3 on 200,000 draws."""
    from numba import njit
    from scipy import stats

    from farside.render._kernels_sensor import _GOLDEN, _mix, poisson_one

    @njit
    def draws(lam, n, key):
        out = np.empty(n)
        for i in range(n):
            st = _mix(np.uint64(key) ^ (np.uint64(i) * _GOLDEN))
            out[i], st = poisson_one(lam, st)
        return out

    k = draws(lam, 200_000, 99).astype(np.int64)
    assert k.min() >= 0
    hi = int(stats.poisson.ppf(1 - 1e-9, lam)) + 1
    counts = np.bincount(np.minimum(k, hi), minlength=hi + 1).astype(float)
    probs = stats.poisson.pmf(np.arange(hi + 1), lam)
    probs[-1] += stats.poisson.sf(hi, lam)
    assert _chi2_pvalue(counts, probs) > 1e-3


@pytest.mark.parametrize("mean_e", [600.0, 999.0, 1001.0, 4000.0])
def test_dn_histogram_against_exact_convolution(mean_e):
    """A uniform field through the 8-bit LCAM-like sensor (no PRNU, no dark current): the DN
    histogram against the exact distribution of round((Poisson(m) + N(0, read^2)) / gain), computed
    with scipy on both sides of the kernel's switch to the one-Gaussian form (1,000 e): chi-square
    p > 1e-3 on 262,144 pixels."""
    from scipy import stats

    cam = _mono(512)
    s = Sensor(prnu_frac=0.0, dark_current_e_s=0.0)
    g, rn = s.gain_e_per_dn, s.read_noise_e
    k = s.electrons_per_radiance(cam, "pan")
    dn, _ = expose(np.full((512, 512), mean_e / k), cam, s, exposure_s=1.0, rng=np.random.default_rng(5))
    counts = np.bincount(dn.ravel(), minlength=256).astype(float)
    ks = np.arange(int(stats.poisson.ppf(1e-12, mean_e)), int(stats.poisson.ppf(1 - 1e-12, mean_e)) + 1)
    pk = stats.poisson.pmf(ks, mean_e)
    edges = (np.arange(257) - 0.5) * g          # DN d collects electrons in [(d - 0.5) g, (d + 0.5) g)
    cdf = stats.norm.cdf((edges[None, :] - ks[:, None]) / rn)
    probs = pk @ np.diff(cdf, axis=1)
    assert _chi2_pvalue(counts, probs) > 1e-3


def test_noise_is_independent_of_thread_count():
    """Counter-based noise: the same stream gives the same DN with 1 or 2 numba threads."""
    import numba

    cam = _mono(256)
    s = Sensor()
    rad = np.random.default_rng(0).uniform(0.0, 2.0, (256, 256)) * s.full_well_e / s.electrons_per_radiance(cam, "pan")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a, _ = expose(rad, cam, s, exposure_s=0.5, rng=np.random.default_rng(3))
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b, _ = expose(rad, cam, s, exposure_s=0.5, rng=np.random.default_rng(3))
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(a, b)
