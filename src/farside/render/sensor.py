"""Sensor model: radiance -> electrons -> digital numbers (DN).

Signal chain per pixel (channel ``c`` of the colour filter array, or panchromatic):

1. focal-plane irradiance ``E_fp = pi * tau * L / (4 N^2)`` (thin lens, on axis, N = f-number,
   tau = optics transmission);
2. photo-electron rate ``E_fp * A_pix * QE_c / (h c / lambda_c)``;
3. mean electrons ``(rate * PRNU + dark_current) * t_exp``; PRNU is a fixed gain pattern
   ``1 + prnu_frac * N(0, 1)`` drawn from ``prnu_seed`` (the same for every frame of a sensor);
4. shot noise (Poisson on signal + dark), Gaussian read noise, clip at ``full_well_e``; drawn in
   one compiled pass with counter-based per-pixel streams keyed by one 64-bit draw from ``rng``
   (``farside.render._kernels_sensor``: exact Poisson below 1,000 e, one Gaussian of the same
   mean and variance above, checked against the exact DN distribution in the tests);
5. DN = ``round(e / gain)`` clipped to ``[0, 2**bit_depth - 1]``, gain = full well / max DN.

Photon-transfer curve: var(DN) = mean(DN) / gain + (read_noise / gain)^2 + 1/12 (no PRNU).

Colour: a Bayer RGGB array with per-channel quantum efficiencies. ``colour_response_rgb`` is the
*relative DN response of the three channels to a spectrally neutral (grey) target in sunlight*;
(1, 1, 1) is balanced. Chang'e-4's first colour frames looked red because the detectors were less
sensitive at shorter wavelengths (REFERENCE / issue 3); :data:`CE4_COLOUR_RESPONSE` reproduces
that cast (values UNCONFIRMED, tuned by eye to the reddish first TCAM frames; the previews under
``shared/data/ce4_image_previews`` are already colour-processed and cannot calibrate it).

Solar band irradiances come from a 5772 K blackbody scaled to the 1361 W/m^2 total solar
irradiance (DERIVED; good to ~10 % per band against measured spectra).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from farside.errors import invalid
from farside.render._kernels_sensor import expose_kernel

__all__ = [
    "Sensor",
    "CE4_COLOUR_RESPONSE",
    "BANDS_NM",
    "solar_band_irradiance",
    "expose",
    "auto_exposure",
    "mosaic_rggb",
    "demosaic_rggb",
]

H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0
K_BOLTZ = 1.380649e-23
T_SUN_K = 5772.0
TSI_W_M2 = 1361.0

#: Band edges (nm): panchromatic and the R, G, B filters (UNCONFIRMED idealised box filters).
BANDS_NM = {"pan": (400.0, 700.0), "r": (580.0, 700.0), "g": (490.0, 580.0), "b": (400.0, 490.0)}

#: Relative DN response (R, G, B) to a neutral target: the red cast of CE-4's raw colour frames.
CE4_COLOUR_RESPONSE = (1.0, 0.72, 0.50)


def _planck_lambda(lam_m: np.ndarray, t_k: float) -> np.ndarray:
    return 2 * H_PLANCK * C_LIGHT**2 / lam_m**5 / np.expm1(H_PLANCK * C_LIGHT / (lam_m * K_BOLTZ * t_k))


def solar_band_irradiance(band: str) -> tuple[float, float]:
    """(irradiance W/m^2 at 1 AU normal to the beam, photon-weighted mean wavelength m) of a band."""
    if band not in BANDS_NM:
        raise invalid("band", band, f"one of {sorted(BANDS_NM)}")
    return _band(band)


@functools.lru_cache(maxsize=None)
def _band(band: str) -> tuple[float, float]:
    lo, hi = BANDS_NM[band]
    lam = np.linspace(lo, hi, 601) * 1e-9
    lam_all = np.linspace(50, 100000, 400001) * 1e-9
    b_all = _planck_lambda(lam_all, T_SUN_K)
    scale = TSI_W_M2 / np.trapezoid(b_all, lam_all)
    b = _planck_lambda(lam, T_SUN_K) * scale
    e = float(np.trapezoid(b, lam))
    lam_mean = float(np.trapezoid(b * lam * lam, lam) / np.trapezoid(b * lam, lam))
    return e, lam_mean


@dataclass(frozen=True)
class Sensor:
    """Detector and electronics parameters (defaults: a generic 8-bit CMOS, UNCONFIRMED for CE-4).

    Attributes
    ----------
    bit_depth : int
        ADC bits (8 for LCAM/TCAM products, 12 or 16 for PCAM).
    full_well_e : float
        Full-well capacity, electrons.
    read_noise_e : float
        Read noise, electrons rms.
    dark_current_e_s : float
        Dark current, electrons per second.
    prnu_frac : float
        Pixel response non-uniformity, fractional rms.
    qe : float
        Peak quantum efficiency (the most sensitive channel).
    transmission : float
        Optics transmission.
    colour_response_rgb : (3,) float
        Relative response of R, G, B to a neutral target (see module docstring); ignored for mono.
    prnu_seed : int
        Seed of the fixed PRNU pattern (a property of the physical detector).
    """

    bit_depth: int = 8
    full_well_e: float = 20000.0
    read_noise_e: float = 15.0
    dark_current_e_s: float = 50.0
    prnu_frac: float = 0.01
    qe: float = 0.5
    transmission: float = 0.85
    colour_response_rgb: tuple = (1.0, 1.0, 1.0)
    prnu_seed: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.bit_depth, (int, np.integer)) or not (1 <= self.bit_depth <= 16):
            raise invalid("bit_depth", self.bit_depth, "an integer in [1, 16]")
        for nm, lo, hi in (("full_well_e", 1.0, 1e8), ("read_noise_e", 0.0, 1e5), ("dark_current_e_s", 0.0, 1e8),
                           ("prnu_frac", 0.0, 0.5), ("qe", 1e-6, 1.0), ("transmission", 1e-6, 1.0)):
            v = getattr(self, nm)
            if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and lo <= v <= hi):
                raise invalid(nm, v, f"a finite number in [{lo}, {hi}]")
        cr = tuple(float(x) for x in self.colour_response_rgb)
        if len(cr) != 3 or not all(math.isfinite(x) and 0 < x <= 1 for x in cr):
            raise invalid("colour_response_rgb", self.colour_response_rgb, "three numbers in (0, 1]")
        object.__setattr__(self, "colour_response_rgb", cr)

    @property
    def max_dn(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def gain_e_per_dn(self) -> float:
        return self.full_well_e / self.max_dn

    def to_dict(self) -> dict:
        d = asdict(self)
        d["colour_response_rgb"] = list(self.colour_response_rgb)
        d["gain_e_per_dn"] = self.gain_e_per_dn
        return d

    # --- radiometry ---------------------------------------------------------------------------
    def electrons_per_radiance(self, camera, band: str) -> float:
        """Electrons per second per unit band radiance (W m^-2 sr^-1) for one pixel of ``band``."""
        _, lam = solar_band_irradiance(band)
        e_photon = H_PLANCK * C_LIGHT / lam
        a_pix = camera.pixel_pitch_m ** 2
        k = math.pi * self.transmission / (4.0 * camera.f_number ** 2) * a_pix / e_photon
        if band == "pan":
            return k * self.qe
        # QE_c chosen so that a neutral target gives DN in the ratio colour_response_rgb
        idx = "rgb".index(band)
        rates = {}
        for c in "rgb":
            e_c, lam_c = solar_band_irradiance(c)
            rates[c] = e_c * lam_c
        ref = max(rates.values())
        return k * self.qe * self.colour_response_rgb[idx] * ref / rates[band]

    def prnu(self, shape) -> np.ndarray:
        """The detector's fixed gain pattern (read-only, cached per seed, amplitude and shape)."""
        return _prnu_map(self.prnu_seed, self.prnu_frac, tuple(int(x) for x in shape))


@functools.lru_cache(maxsize=8)
def _prnu_map(seed: int, frac: float, shape: tuple) -> np.ndarray:
    if frac == 0.0:
        out = np.ones(shape)
    else:
        out = 1.0 + frac * np.random.default_rng(seed).standard_normal(shape)
    out.setflags(write=False)
    return out


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """Sample an (H, W, 3) image through an RGGB Bayer pattern -> (H, W)."""
    out = np.empty(rgb.shape[:2], rgb.dtype)
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[0::2, 1::2] = rgb[0::2, 1::2, 1]
    out[1::2, 0::2] = rgb[1::2, 0::2, 1]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


def demosaic_rggb(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB mosaic (uint8/uint16) -> (H, W, 3) RGB (OpenCV)."""
    import cv2

    # OpenCV names Bayer patterns by the 2x2 block starting at the second row/column:
    # an RGGB sensor is COLOR_BayerBG in OpenCV's naming (checked in the tests).
    return cv2.cvtColor(np.ascontiguousarray(raw), cv2.COLOR_BayerBG2BGR)[..., ::-1].copy()


def _band_list(camera) -> list[str]:
    return ["r", "g", "b"] if camera.colour == "rggb" else ["pan"]


def auto_exposure(radiance: np.ndarray, camera, sensor: Sensor, *, target_fraction: float = 0.7,
                  percentile: float = 99.5, max_exposure_s: float = 1.0) -> float:
    """Exposure time that puts the ``percentile`` of the mean signal at ``target_fraction`` of full
    well (deterministic; no noise involved)."""
    bands = _band_list(camera)
    rad = radiance if radiance.ndim == 3 else radiance[..., None]
    peak = 0.0
    for k, band in enumerate(bands):
        rate = rad[..., k] * sensor.electrons_per_radiance(camera, band)
        vals = rate[np.isfinite(rate) & (rate > 0)]
        if vals.size:
            peak = max(peak, float(np.percentile(vals, percentile)))
    if peak <= 0.0:
        return max_exposure_s
    return min(max_exposure_s, target_fraction * sensor.full_well_e / peak)


def expose(radiance: np.ndarray, camera, sensor: Sensor, *, exposure_s: float, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Digital numbers of a radiance image.

    Parameters
    ----------
    radiance : (H, W) or (H, W, 3) array
        Band radiance, W m^-2 sr^-1 (pan, or R, G, B for a colour camera).
    exposure_s : float
        Integration time, seconds.
    rng : numpy.random.Generator
        Noise stream.

    Returns
    -------
    (dn, raw) : uint8/uint16 arrays. ``dn`` is (H, W) for mono, demosaiced (H, W, 3) RGB for a
    colour camera, whose Bayer mosaic is ``raw`` (None for mono).
    """
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator")
    t = float(exposure_s)
    if not (math.isfinite(t) and 0 < t <= 1000):
        raise invalid("exposure_s", exposure_s, "a finite time in (0, 1000] s")
    bands = _band_list(camera)
    rad = np.asarray(radiance, float)
    if rad.ndim == 2:
        rad = rad[..., None]
    if rad.shape[2] != len(bands):
        raise invalid("radiance.shape", radiance.shape, f"(H, W, {len(bands)}) for a {camera.colour} camera")
    shape = rad.shape[:2]
    if camera.colour == "rggb":
        g = [sensor.electrons_per_radiance(camera, b) for b in bands]
        gain_map = np.array([[g[0], g[1]], [g[1], g[2]]])      # the RGGB cell
        rate = mosaic_rggb(rad)
    else:
        gain_map = np.full((2, 2), sensor.electrons_per_radiance(camera, "pan"))
        rate = rad[..., 0]
    dtype = np.uint8 if sensor.bit_depth <= 8 else np.uint16
    dn = np.empty(shape, dtype)
    # one 64-bit key from the caller's stream; each pixel's noise is a counter-based function of
    # (key, pixel index): parallel and reproducible (farside.render._kernels_sensor)
    key = int(rng.integers(0, 2**63, dtype=np.int64))
    expose_kernel(np.ascontiguousarray(rate), gain_map, sensor.prnu(shape),
                  float(sensor.dark_current_e_s), t, float(sensor.read_noise_e), float(sensor.full_well_e),
                  float(sensor.gain_e_per_dn), float(sensor.max_dn), key, dn)
    if camera.colour == "rggb":
        return demosaic_rggb(dn), dn
    return dn, None
