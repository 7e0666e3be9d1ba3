"""Colour calibration of the Bayer (RGGB) colour cameras: removing Chang'e-4's red cast.

Chang'e-4's first colour frames looked red "because the detectors were more sensitive to red than
they were to blue or green" (D. Rothery, quoted by the BBC, 2019-01-11; docs/references.md 4.5).
:class:`farside.render.Sensor` reproduces that cast with ``colour_response_rgb``; this module
undoes it the way a camera team does, from calibration images only:

1. **dark frames** (shutter closed) at one or more exposures -> per-pixel dark signal
   ``bias_dn + rate_dn_s * t``;
2. **flat frames** (a uniformly lit target) -> per-pixel relative gain (PRNU and any vignetting),
   normalised to a mean of 1 within each colour channel of the mosaic;
3. a **colour target** on the lander deck with known band reflectances, imaged in sunlight -> the
   per-channel response (DN per second per unit reflectance factor) and a colour matrix mapping
   corrected DN/s to reflectance (diagonal by default; a full 3 x 3 least-squares matrix with
   ``model="matrix"``). The target's reflectances default to a ColorChecker-like subset
   (:data:`COLOUR_TARGET_SRGB8`), UNCONFIRMED for CE-4's real target.

:func:`calibrate_colour` then applies dark subtraction, flat-field division, bilinear
demosaicing, the colour matrix (per-channel response correction and white balance in one) and,
on request, a regolith white balance (:data:`REGOLITH_COLOUR_RGB`).

Output units: the *band reflectance factor* (REFF) a surface would need, lit like the calibration
target was, to give the measured signal; a spectrally neutral surface comes out neutral, and the
regolith keeps its true, slightly reddish colour unless ``white_balance="regolith"``. Where the
scene is lit at another incidence than the target, all three channels scale by the same factor
``cos(i_scene) / cos(i_target)``, so colour ratios are unaffected.

Colour difference: :func:`colour_error` treats linear RGB as linear sRGB (IEC 61966-2-1
primaries, D65 white), converts to CIE XYZ and CIE 1976 L*a*b* (white = RGB (1, 1, 1), i.e. a
reflectance of 1), and reports CIEDE2000 (Sharma, Wu & Dalal 2005) with CIE76 alongside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from farside.errors import DataError, invalid
from farside.render.sensor import auto_exposure, expose, mosaic_rggb, solar_band_irradiance

__all__ = [
    "SensorCalibration",
    "CalibrationFrames",
    "estimate_calibration",
    "calibrate_colour",
    "colour_error",
    "simulate_calibration_frames",
    "rgb_to_lab",
    "delta_e_ciede2000",
    "COLOUR_TARGET_SRGB8",
    "COLOUR_TARGET_RGB",
    "REGOLITH_COLOUR_RGB",
]

# --------------------------------------------------------------------------------------------
# Reference colours
# --------------------------------------------------------------------------------------------

#: Colour-target patches: the published 8-bit sRGB values of a subset of the X-Rite ColorChecker
#: Classic (docs/references.md 4.5, [S]). Used as the target's band reflectances after sRGB
#: decoding (:data:`COLOUR_TARGET_RGB`); UNCONFIRMED for CE-4's real calibration target, and an
#: approximation (sRGB primaries are not the camera's filter bands).
COLOUR_TARGET_SRGB8: dict[str, tuple[int, int, int]] = {
    "white 9.5": (243, 243, 242),
    "neutral 6.5": (160, 160, 160),
    "neutral 3.5": (85, 85, 85),
    "black 2": (52, 52, 52),
    "red": (175, 54, 60),
    "green": (70, 148, 73),
    "blue": (56, 61, 150),
    "yellow": (231, 199, 31),
}


def _srgb_decode(v8: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of 8-bit values -> linear [0, 1]."""
    c = np.asarray(v8, float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb_encode(lin: np.ndarray) -> np.ndarray:
    c = np.clip(lin, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)


#: Band reflectance factors (R, G, B) of the target patches, in the order of
#: :data:`COLOUR_TARGET_SRGB8` (DERIVED: sRGB-decoded).
COLOUR_TARGET_RGB: np.ndarray = _srgb_decode(np.array(list(COLOUR_TARGET_SRGB8.values())))
COLOUR_TARGET_RGB.setflags(write=False)

#: Moon colour index B-V = 0.92 and Sun B-V = 0.642 (docs/references.md 7.4): one reflection off
#: the Moon reddens sunlight by 0.278 mag, a reflectance ratio R(V)/R(B) = 10**(0.4 * 0.278).
_MOON_B_V = 0.92
_SUN_B_V = 0.642
_LAMBDA_B_M, _LAMBDA_V_M = 0.44e-6, 0.55e-6


def _regolith_colour() -> tuple[float, float, float]:
    # power law R ~ lambda**p through the B and V effective wavelengths, evaluated at the
    # photon-weighted mean wavelengths of farside's R, G, B bands; normalised to G = 1 (DERIVED,
    # the extrapolation to the R band is UNCONFIRMED)
    ratio_v_b = 10.0 ** (0.4 * (_MOON_B_V - _SUN_B_V))
    p = math.log(ratio_v_b) / math.log(_LAMBDA_V_M / _LAMBDA_B_M)
    lam = [solar_band_irradiance(b)[1] for b in "rgb"]
    return tuple(float((lk / lam[1]) ** p) for lk in lam)


#: Relative band reflectance (R, G, B), G = 1, of average lunar regolith (DERIVED from the Moon's
#: B-V colour, see above): about (1.22, 1, 0.81), the "slightly reddish" regolith.
REGOLITH_COLOUR_RGB: tuple[float, float, float] = _regolith_colour()

# sRGB (linear) -> CIE XYZ, D65 (IEC 61966-2-1)
_RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                        [0.2126, 0.7152, 0.0722],
                        [0.0193, 0.1192, 0.9505]])
_WHITE_XYZ = _RGB_TO_XYZ.sum(axis=1)   # RGB (1, 1, 1): (0.9505, 1.0000, 1.0890), D65

# --------------------------------------------------------------------------------------------
# Calibration product
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SensorCalibration:
    """Radiometric and colour calibration of one colour camera, estimated from images only.

    Attributes
    ----------
    dark_bias_dn : (H, W) float32, read-only
        Dark signal at zero exposure, DN (0 where the dark frames had a single exposure).
    dark_rate_dn_s : (H, W) float32, read-only
        Dark-signal rate, DN per second; the dark frame at exposure ``t`` is
        ``dark_bias_dn + dark_rate_dn_s * t``.
    flat : (H, W) float32, read-only
        Per-pixel relative gain of the mosaic, mean 1 within each colour channel.
    colour_matrix : (3, 3) float64, read-only
        Maps flat-fielded, dark-subtracted DN per second (R, G, B) to band reflectance factor:
        ``rgb_reflectance = colour_matrix @ rgb_dn_s``. Diagonal for ``model="diagonal"``
        (per-channel response correction and white balance in one).
    gain_dn_s : (3,) float
        DN per second per unit reflectance factor of a spectrally neutral surface lit like the
        target, per channel (``inverse(colour_matrix) @ (1, 1, 1)``).
    response_rgb : (3,) float
        Relative channel response to a neutral target, ``gain_dn_s / max(gain_dn_s)``: the
        estimate of the sensor's ``colour_response_rgb`` (the red cast).
    fit_rms_frac : (3,) float
        Relative rms residual of the per-channel fit over the target patches.
    reference_exposure_s : float
        Exposure of the target frames, seconds (the default exposure of :func:`calibrate_colour`).
    model : str
        ``"diagonal"`` or ``"matrix"``.
    n_dark_frames, n_flat_frames, n_target_frames, n_patches : int
        How much went into the estimate.
    method : str
        One-line account of how each part was estimated.
    """

    dark_bias_dn: np.ndarray
    dark_rate_dn_s: np.ndarray
    flat: np.ndarray
    colour_matrix: np.ndarray
    gain_dn_s: tuple
    response_rgb: tuple
    fit_rms_frac: tuple
    reference_exposure_s: float
    model: str = "diagonal"
    n_dark_frames: int = 0
    n_flat_frames: int = 0
    n_target_frames: int = 0
    n_patches: int = 0
    method: str = field(default="")

    def __post_init__(self) -> None:
        shapes = {np.shape(self.dark_bias_dn), np.shape(self.dark_rate_dn_s), np.shape(self.flat)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise invalid("SensorCalibration shapes", sorted(shapes), "three (H, W) maps of one shape")
        for nm in ("dark_bias_dn", "dark_rate_dn_s", "flat"):
            a = np.array(getattr(self, nm), dtype=np.float32)
            if not np.all(np.isfinite(a)):
                raise invalid(nm, "array with non-finite values", "finite values")
            a.setflags(write=False)
            object.__setattr__(self, nm, a)
        m = np.array(self.colour_matrix, dtype=float)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-300:
            raise invalid("colour_matrix", m.shape, "a finite, invertible 3 x 3 matrix")
        m.setflags(write=False)
        object.__setattr__(self, "colour_matrix", m)
        for nm in ("gain_dn_s", "response_rgb", "fit_rms_frac"):
            object.__setattr__(self, nm, tuple(float(x) for x in getattr(self, nm)))
        t = float(self.reference_exposure_s)
        if not (math.isfinite(t) and t > 0):
            raise invalid("reference_exposure_s", self.reference_exposure_s, "a finite time > 0 s")
        object.__setattr__(self, "reference_exposure_s", t)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the calibrated mosaic."""
        return tuple(self.flat.shape)

    @property
    def white_balance_gains(self) -> tuple[float, float, float]:
        """Per-channel gains (R, G, B), G = 1, that make a neutral target neutral in DN."""
        g = self.gain_dn_s
        return (g[1] / g[0], 1.0, g[1] / g[2])

    def to_dict(self) -> dict:
        """Scalar summary for a product sidecar (the per-pixel maps are not included)."""
        return {
            "shape": list(self.shape),
            "model": self.model,
            "colour_matrix": self.colour_matrix.tolist(),
            "gain_dn_s": list(self.gain_dn_s),
            "response_rgb": list(self.response_rgb),
            "white_balance_gains": list(self.white_balance_gains),
            "fit_rms_frac": list(self.fit_rms_frac),
            "reference_exposure_s": self.reference_exposure_s,
            "dark_rate_dn_s_mean": float(self.dark_rate_dn_s.mean()),
            "dark_bias_dn_mean": float(self.dark_bias_dn.mean()),
            "flat_rms": float(self.flat.std()),
            "n_dark_frames": self.n_dark_frames,
            "n_flat_frames": self.n_flat_frames,
            "n_target_frames": self.n_target_frames,
            "n_patches": self.n_patches,
            "method": self.method,
        }


# --------------------------------------------------------------------------------------------
# Input checks and mosaic helpers
# --------------------------------------------------------------------------------------------


def _as_image_array(name: str, a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "uf":
        raise invalid(f"{name}.dtype", str(arr.dtype), "unsigned integer DN or float")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise invalid(name, "array with NaN or infinite values", "finite values")
    return arr


def _stack(name: str, a, shape: tuple | None = None) -> np.ndarray:
    """(H, W) or (N, H, W) raw mosaics -> (N, H, W), dtype kept (frames are averaged in float64
    without a full float copy of the stack)."""
    arr = _as_image_array(name, a)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] < 1 or min(arr.shape[1:]) < 2:
        raise invalid(f"{name}.shape", arr.shape, "(H, W) or (N, H, W) raw RGGB mosaics, H, W >= 2")
    if shape is not None and arr.shape[1:] != tuple(shape):
        raise invalid(f"{name}.shape", arr.shape, f"frames of shape {tuple(shape)} (as the dark frames)")
    return arr


def _cfa_index(shape: tuple[int, int]) -> np.ndarray:
    """Channel (0 = R, 1 = G, 2 = B) of each pixel of an RGGB mosaic."""
    idx = np.empty(shape, np.int8)
    idx[0::2, 0::2] = 0
    idx[0::2, 1::2] = 1
    idx[1::2, 0::2] = 1
    idx[1::2, 1::2] = 2
    return idx


_K_RB = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
_K_G = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])


def _demosaic_bilinear(mosaic: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of a float RGGB mosaic -> (H, W, 3) float64.

    Normalised convolution: each channel's samples are spread with the bilinear kernel and divided
    by the spread sample mask, so the image edges use only the samples that exist. A pixel keeps
    its own sample for its own channel (as OpenCV's bilinear Bayer conversion does in the interior).
    """
    import cv2

    h, w = mosaic.shape
    cfa = _cfa_index((h, w))
    out = np.empty((h, w, 3))
    for c, kern in ((0, _K_RB), (1, _K_G), (2, _K_RB)):
        mask = (cfa == c).astype(float)
        num = cv2.filter2D(mosaic * mask, cv2.CV_64F, kern, borderType=cv2.BORDER_CONSTANT)
        den = cv2.filter2D(mask, cv2.CV_64F, kern, borderType=cv2.BORDER_CONSTANT)
        out[..., c] = np.where(mask > 0, mosaic, num / den)
    return out


def _exposures(name: str, value, n: int) -> np.ndarray:
    t = np.atleast_1d(np.asarray(value, dtype=float))
    if t.size == 1:
        t = np.full(n, float(t[0]))
    if t.shape != (n,) or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise invalid(name, value, f"a finite time > 0 s, or one per frame ({n} values)")
    return t


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


def estimate_calibration(dark_frames, flat_frames, target_image, target_reflectance_rgb, *,
                         exposure_s: float, patch_labels, dark_exposure_s=None, flat_exposure_s=None,
                         model: str = "diagonal", erode_px: int = 1,
                         saturation_dn: float | None = None) -> SensorCalibration:
    """Estimate dark, flat and colour response of a colour camera from calibration images.

    Parameters
    ----------
    dark_frames : (N, H, W) or (H, W) array
        Raw RGGB mosaics with the shutter closed (unsigned DN or float).
    flat_frames : (M, H, W) or (H, W) array
        Raw mosaics of a uniformly lit target (any colour: each channel is normalised apart).
    target_image : (K, H, W) or (H, W) array
        Raw mosaic(s) of the colour target in sunlight, all at ``exposure_s``.
    target_reflectance_rgb : (P, 3) array
        Band reflectance factors (R, G, B) of the P patches, in (0, 1]; e.g.
        :data:`COLOUR_TARGET_RGB`.
    exposure_s : float
        Exposure of the target frames, seconds.
    patch_labels : (H, W) int array
        Patch index 0..P-1 of each pixel of the target image, -1 elsewhere.
    dark_exposure_s : float or (N,) array, optional
        Exposure of each dark frame (default ``exposure_s``). With two or more distinct exposures
        a per-pixel bias and rate are fitted; with one, the bias is taken as 0.
    flat_exposure_s : float, optional
        Exposure of the flat frames (default ``exposure_s``).
    model : "diagonal" | "matrix"
        Per-channel gains (the sensor's filters do not overlap), or a full 3 x 3 least-squares
        colour matrix (needs P >= 3 patches spanning three colours).
    erode_px : int
        Patch masks are eroded by this many pixels to keep edge pixels out.
    saturation_dn : float, optional
        Pixels at or above this DN are left out of the patch means and make a dark or flat frame
        invalid (default: 255 for uint8 input, none otherwise).

    Returns
    -------
    SensorCalibration

    Raises
    ------
    ScenarioError
        Inconsistent shapes, non-finite or wrongly typed input, too few usable patch pixels.
    DataError
        A flat or a target channel without signal above the dark level, or a saturated flat.
    """
    from scipy import ndimage

    if model not in ("diagonal", "matrix"):
        raise invalid("model", model, "'diagonal' or 'matrix'")
    if not isinstance(erode_px, (int, np.integer)) or isinstance(erode_px, bool) or not (0 <= erode_px <= 50):
        raise invalid("erode_px", erode_px, "an integer in [0, 50]")
    t_target = _exposures("exposure_s", exposure_s, 1)[0]
    sat = saturation_dn
    if sat is None and np.asarray(target_image).dtype == np.uint8:
        sat = 255.0
    if sat is not None and not (isinstance(sat, (int, float, np.number)) and math.isfinite(sat) and sat > 0):
        raise invalid("saturation_dn", saturation_dn, "a finite DN > 0, or None")

    dark = _stack("dark_frames", dark_frames)
    shape = dark.shape[1:]
    flats_raw = _stack("flat_frames", flat_frames, shape)
    target = _stack("target_image", target_image, shape)
    refl = np.asarray(target_reflectance_rgb, dtype=float)
    if refl.ndim != 2 or refl.shape[1] != 3 or refl.shape[0] < 1 or not np.all(np.isfinite(refl)) \
            or np.any(refl <= 0) or np.any(refl > 1):
        raise invalid("target_reflectance_rgb.shape", refl.shape, "(P, 3) band reflectances in (0, 1]")
    n_patch = refl.shape[0]
    labels = np.asarray(patch_labels)
    if labels.shape != shape or labels.dtype.kind not in "iu":
        raise invalid("patch_labels", f"{labels.dtype} array of shape {labels.shape}",
                      f"an integer array of shape {shape}")
    present = set(np.unique(labels).tolist()) - {-1}
    if not present.issubset(range(n_patch)) or len(present) != n_patch:
        raise invalid("patch_labels", sorted(present)[:12], f"every patch index 0..{n_patch - 1} (and -1 elsewhere)")
    if model == "matrix" and n_patch < 3:
        raise invalid("target_reflectance_rgb", f"{n_patch} patches", "at least 3 patches for model='matrix'")

    # 1. dark: per-pixel bias + rate (least squares over the frames' exposures)
    if sat is not None and np.any(dark >= sat):
        raise DataError(f"dark_frames = {int(np.sum(dark >= sat))} saturated pixels is invalid: "
                        f"dark frames below saturation_dn = {sat} (shorten the dark exposures)")
    t_dark = _exposures("dark_exposure_s", t_target if dark_exposure_s is None else dark_exposure_s, dark.shape[0])
    if np.unique(t_dark).size >= 2:
        tm = t_dark.mean()
        dt = t_dark - tm
        mean_d = dark.mean(axis=0, dtype=float)
        rate = np.zeros(shape)
        for dti, frame in zip(dt, dark):      # sum dt_i (d_i - mean) = sum dt_i d_i, as sum dt_i = 0
            rate += dti * frame
        rate /= float(dt @ dt)
        bias = mean_d - rate * tm
        dark_how = f"bias + rate fitted per pixel to {dark.shape[0]} dark frames at {np.unique(t_dark).size} exposures"
    else:
        rate = dark.mean(axis=0, dtype=float) / t_dark[0]
        bias = np.zeros(shape)
        dark_how = f"rate = mean of {dark.shape[0]} dark frames / exposure (bias 0)"

    def dark_at(t: float) -> np.ndarray:
        return bias + rate * t

    # per-frame residual rms about the fit, DN
    dark_noise = math.sqrt(sum(float(np.mean((frame - dark_at(ti)) ** 2)) for ti, frame in zip(t_dark, dark))
                           / dark.shape[0])

    # 2. flat: dark-subtracted mean, normalised per CFA channel
    t_flat = _exposures("flat_exposure_s", t_target if flat_exposure_s is None else flat_exposure_s, 1)[0]
    if sat is not None and np.any(flats_raw >= sat):
        raise DataError(f"flat_frames = {int(np.sum(flats_raw >= sat))} saturated pixels is invalid: "
                        f"flat frames below saturation_dn = {sat}")
    fsum = flats_raw.mean(axis=0, dtype=float) - dark_at(t_flat)
    cfa = _cfa_index(shape)
    flat = np.empty(shape)
    for c in range(3):
        sel = cfa == c
        mc = fsum[sel].mean()
        noise = max(1.0, dark_noise)
        if not (mc > 10.0 * noise):
            raise DataError(f"flat_frames channel {'RGB'[c]} mean = {mc:.3g} DN above dark is invalid: "
                            f"a flat well above the dark noise ({noise:.3g} DN)")
        flat[sel] = fsum[sel] / mc
    if np.any(flat <= 0.05):
        raise DataError(f"flat_frames = {int(np.sum(flat <= 0.05))} pixels below 5 % of their channel "
                        "mean is invalid: a flat with signal in every pixel")

    # 3. colour response from the target patches
    tgt_mean = target.mean(axis=0, dtype=float)
    corr = (tgt_mean - dark_at(t_target)) / flat / t_target          # DN per second, flat-fielded
    usable = np.ones(shape, bool) if sat is None else ~np.any(target >= sat, axis=0)
    m_kc = np.zeros((n_patch, 3))
    n_kc = np.zeros((n_patch, 3))
    for k in range(n_patch):
        mask = labels == k
        if erode_px:
            mask = ndimage.binary_erosion(mask, iterations=int(erode_px))
        mask &= usable
        for c in range(3):
            sel = mask & (cfa == c)
            n = int(sel.sum())
            if n < 4:
                raise invalid("patch_labels", f"patch {k}: {n} usable {'RGB'[c]} pixels",
                              "at least 4 unsaturated pixels per channel after erosion")
            n_kc[k, c] = n
            m_kc[k, c] = corr[sel].mean()
    if np.any(m_kc.sum(axis=0) <= 0):
        raise DataError("target_image channel signal = 0 is invalid: target patches lit above the dark level")

    if model == "diagonal":
        g = (n_kc * m_kc * refl).sum(axis=0) / (n_kc * refl * refl).sum(axis=0)
        if np.any(g <= 0):
            raise DataError(f"target_image channel gains = {g.tolist()} is invalid: positive responses")
        cmat = np.diag(1.0 / g)
        pred = refl * g
    else:
        sol, _, rank, _ = np.linalg.lstsq(m_kc, refl, rcond=None)   # refl ~= m_kc @ sol
        if rank < 3:
            raise invalid("target_reflectance_rgb", f"rank {rank}", "patches spanning three independent colours")
        cmat = sol.T
        pred = np.linalg.solve(cmat, refl.T).T                       # DN/s that would give refl exactly
    fit_rms = np.sqrt(np.mean(((m_kc - pred) / pred) ** 2, axis=0))
    gain = np.linalg.solve(cmat, np.ones(3))
    if np.any(gain <= 0):
        raise DataError(f"target_image neutral response = {gain.tolist()} is invalid: positive responses")
    method = (f"dark: {dark_how}; flat: {flats_raw.shape[0]} frames, dark-subtracted, mean 1 per channel; "
              f"colour: {model} fit to {n_patch} patches in {target.shape[0]} target frame(s)")
    return SensorCalibration(dark_bias_dn=bias, dark_rate_dn_s=rate, flat=flat, colour_matrix=cmat,
                             gain_dn_s=gain, response_rgb=gain / gain.max(), fit_rms_frac=fit_rms,
                             reference_exposure_s=t_target, model=model, n_dark_frames=dark.shape[0],
                             n_flat_frames=flats_raw.shape[0], n_target_frames=target.shape[0],
                             n_patches=n_patch, method=method)


# --------------------------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------------------------


def calibrate_colour(raw, sensor: SensorCalibration, *, exposure_s: float | None = None,
                     white_balance: str = "target", output: str = "float32",
                     display_gain: float = 1.0, saturation_dn: float | None = None) -> np.ndarray:
    """Calibrated colour image of a raw colour-camera frame.

    Parameters
    ----------
    raw : (H, W) or (H, W, 3) array
        The camera output: the RGGB mosaic (``dn_raw`` of :func:`farside.render.expose`), or the
        demosaiced (H, W, 3) DN (``dn``). A demosaiced input is re-sampled through the RGGB
        pattern (bilinear demosaicing keeps each pixel's own sample, so this recovers the mosaic
        exactly except in the one-pixel border ring, which OpenCV fills by replication).
        Unsigned integer or float DN, finite.
    sensor : SensorCalibration
        From :func:`estimate_calibration`; its maps must have the image's (H, W).
    exposure_s : float, optional
        Exposure of ``raw``, seconds (default: the calibration's ``reference_exposure_s``).
    white_balance : "target" | "regolith"
        ``"target"``: true band reflectance (grey surfaces neutral, regolith slightly red).
        ``"regolith"``: additionally divide by :data:`REGOLITH_COLOUR_RGB` so that average lunar
        regolith comes out neutral grey (the look of published "colour-corrected" panoramas).
    output : "float32" | "srgb8"
        ``"float32"``: linear band reflectance factor clipped to [0, 1]. ``"srgb8"``: for display,
        ``display_gain * reflectance`` clipped to [0, 1] and sRGB-encoded to uint8.
    display_gain : float
        Brightness scale of ``"srgb8"`` (lunar regolith has a reflectance near 0.1).
    saturation_dn : float, optional
        The ADC's full scale (``2**bits - 1``: a property of the camera, not of the calibration).
        A pixel whose demosaicing reads a mosaic sample at or above it is clipped in that channel
        only: the white balance would then tint it (on CE-4's red-heavy sensor a blown-out white
        deck turns cyan, its red clipped first). Such pixels are set neutral at their brightest
        channel (dcraw's highlight mode "clip", Coffin's dcraw.c), so blown-out highlights are
        white in every frame whatever its exposure. None: no highlight handling.

    Returns
    -------
    (H, W, 3) float32 or uint8 array

    Steps: dark subtraction (``bias + rate * exposure``), flat-field division, division by the
    exposure, bilinear demosaicing, ``colour_matrix`` (per-channel response and white balance),
    optional regolith white balance, clipped highlights set neutral (``saturation_dn``).
    """
    if not isinstance(sensor, SensorCalibration):
        raise invalid("sensor", type(sensor).__name__, "a farside.imaging.SensorCalibration")
    if white_balance not in ("target", "regolith"):
        raise invalid("white_balance", white_balance, "'target' or 'regolith'")
    if output not in ("float32", "srgb8"):
        raise invalid("output", output, "'float32' or 'srgb8'")
    if not (isinstance(display_gain, (int, float, np.number)) and math.isfinite(display_gain) and display_gain > 0):
        raise invalid("display_gain", display_gain, "a finite number > 0")
    if saturation_dn is not None and not (isinstance(saturation_dn, (int, float, np.number))
                                          and not isinstance(saturation_dn, bool)
                                          and math.isfinite(saturation_dn) and saturation_dn > 0):
        raise invalid("saturation_dn", saturation_dn, "None or a finite number of DN > 0 (the ADC's full scale)")
    t = sensor.reference_exposure_s if exposure_s is None else _exposures("exposure_s", exposure_s, 1)[0]
    arr = _as_image_array("raw", raw)
    if arr.ndim == 3 and arr.shape[2] == 3:
        mosaic = mosaic_rggb(arr)
    elif arr.ndim == 2:
        mosaic = arr
    else:
        raise invalid("raw.shape", arr.shape, "an (H, W) RGGB mosaic or an (H, W, 3) demosaiced image")
    if mosaic.shape != sensor.shape:
        raise invalid("raw.shape", arr.shape, f"the calibration's (H, W) = {sensor.shape}")
    x = mosaic.astype(float)
    x -= sensor.dark_bias_dn
    x -= sensor.dark_rate_dn_s * t
    x /= sensor.flat
    x *= 1.0 / t
    rgb = _demosaic_bilinear(x) @ sensor.colour_matrix.T
    if white_balance == "regolith":
        rgb /= np.asarray(REGOLITH_COLOUR_RGB) / REGOLITH_COLOUR_RGB[1]
    if saturation_dn is not None:
        import cv2

        # the bilinear kernels read the 3 x 3 neighbourhood: a clipped sample there clips the pixel
        clip = cv2.dilate((mosaic >= saturation_dn).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if clip.any():
            rgb[clip] = rgb[clip].max(axis=1, keepdims=True)
    if output == "srgb8":
        return np.rint(255.0 * _srgb_encode(rgb * display_gain)).astype(np.uint8)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Quality
# --------------------------------------------------------------------------------------------


def rgb_to_lab(rgb) -> np.ndarray:
    """Linear sRGB (D65; RGB (1, 1, 1) = white, Y = 1) -> CIE 1976 L*a*b*, shape (..., 3)."""
    xyz = np.asarray(rgb, float) @ _RGB_TO_XYZ.T / _WHITE_XYZ
    d = 6.0 / 29.0
    f = np.where(xyz > d ** 3, np.cbrt(xyz), xyz / (3 * d * d) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
                    axis=-1)


def delta_e_ciede2000(lab1, lab2) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) of L*a*b* arrays (..., 3); Sharma, Wu &
    Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes"."""
    lab1 = np.asarray(lab1, float)
    lab2 = np.asarray(lab2, float)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    cm7 = ((c1 + c2) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(cm7 / (cm7 + 25.0 ** 7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.degrees(np.arctan2(b1, a1p)) % 360.0)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.degrees(np.arctan2(b2, a2p)) % 360.0)
    dlp = l2 - l1
    dcp = c2p - c1p
    zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(zero, 0.0, dh)
    dhp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    lpm = (l1 + l2) / 2.0
    cpm = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    hpm = np.where(np.abs(h1p - h2p) <= 180.0, hsum / 2.0,
                   np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0))
    hpm = np.where(zero, hsum, hpm)
    tt = (1.0 - 0.17 * np.cos(np.radians(hpm - 30.0)) + 0.24 * np.cos(np.radians(2.0 * hpm))
          + 0.32 * np.cos(np.radians(3.0 * hpm + 6.0)) - 0.20 * np.cos(np.radians(4.0 * hpm - 63.0)))
    dtheta = 30.0 * np.exp(-(((hpm - 275.0) / 25.0) ** 2))
    cpm7 = cpm ** 7
    rc = 2.0 * np.sqrt(cpm7 / (cpm7 + 25.0 ** 7))
    sl = 1.0 + 0.015 * (lpm - 50.0) ** 2 / np.sqrt(20.0 + (lpm - 50.0) ** 2)
    sc = 1.0 + 0.045 * cpm
    sh = 1.0 + 0.015 * cpm * tt
    rt = -np.sin(np.radians(2.0 * dtheta)) * rc
    return np.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh))


def colour_error(rgb, truth_rgb, *, mask=None, match_brightness: bool = False) -> dict:
    """Colour error of a linear RGB image against the truth.

    Parameters
    ----------
    rgb, truth_rgb : (..., 3) arrays of one shape
        Linear RGB on a reflectance scale (1 = white), e.g. :func:`calibrate_colour` output and
        the noise-free band reflectance. Unsigned integers are taken as they are (DN).
    mask : (...) bool array, optional
        Pixels to score (default all).
    match_brightness : bool
        Scale ``rgb`` by one factor so its mean luminance Y equals the truth's before comparing
        (the fair way to score a raw DN image: only its colour is judged).

    Returns
    -------
    dict
        ``delta_e_mean``, ``delta_e_median``, ``delta_e_p95`` (CIEDE2000), ``delta_e76_mean``
        (CIE76), ``rg_ratio``, ``rb_ratio`` (mean R / mean G and mean R / mean B of ``rgb``),
        ``truth_rg_ratio``, ``truth_rb_ratio``, ``rg_error_frac``, ``rb_error_frac`` (relative
        error of the ratios), ``brightness_scale`` (1 unless ``match_brightness``), ``n_pixels``,
        ``formula`` ("CIEDE2000, linear sRGB/D65 -> XYZ -> CIELAB").
    """
    a = _as_image_array("rgb", rgb).astype(float)
    b = _as_image_array("truth_rgb", truth_rgb).astype(float)
    if a.shape != b.shape or a.ndim < 1 or a.shape[-1] != 3:
        raise invalid("rgb.shape", a.shape, f"(..., 3) and equal to truth_rgb.shape {b.shape}")
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != a.shape[:-1]:
            raise invalid("mask", f"{m.dtype} array of shape {m.shape}", f"a bool array of shape {a.shape[:-1]}")
        a, b = a[m], b[m]
    else:
        a, b = a.reshape(-1, 3), b.reshape(-1, 3)
    if a.shape[0] == 0:
        raise invalid("mask", "no pixels", "at least one pixel to score")
    scale = 1.0
    if match_brightness:
        ya, yb = (a @ _RGB_TO_XYZ[1]).mean(), (b @ _RGB_TO_XYZ[1]).mean()
        if not ya > 0:
            raise invalid("rgb", "mean luminance 0", "an image with signal to match in brightness")
        scale = float(yb / ya)
        a = a * scale
    la, lb = rgb_to_lab(a), rgb_to_lab(b)
    de = delta_e_ciede2000(la, lb)
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    rg, rb = ma[0] / ma[1], ma[0] / ma[2]
    trg, trb = mb[0] / mb[1], mb[0] / mb[2]
    return {
        "delta_e_mean": float(de.mean()),
        "delta_e_median": float(np.median(de)),
        "delta_e_p95": float(np.percentile(de, 95)),
        "delta_e76_mean": float(np.linalg.norm(la - lb, axis=-1).mean()),
        "rg_ratio": float(rg),
        "rb_ratio": float(rb),
        "truth_rg_ratio": float(trg),
        "truth_rb_ratio": float(trb),
        "rg_error_frac": float(rg / trg - 1.0),
        "rb_error_frac": float(rb / trb - 1.0),
        "brightness_scale": scale,
        "n_pixels": int(a.shape[0]),
        "formula": "CIEDE2000, linear sRGB/D65 -> XYZ -> CIELAB",
    }


# --------------------------------------------------------------------------------------------
# Simulated calibration images (the farside.render sensor model)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CalibrationFrames:
    """Simulated calibration images of one colour camera (raw RGGB mosaics).

    ``dark_frames`` (N, H, W) at ``dark_exposure_s`` (N,); ``flat_frames`` (M, H, W) at
    ``flat_exposure_s``; ``target_frames`` (K, H, W) at ``target_exposure_s`` with
    ``patch_labels`` (H, W) and ``target_reflectance_rgb`` (P, 3); the target is lit at
    ``incidence_rad``; ``saturation_dn`` is the ADC's maximum DN (a property of the data format).
    """

    dark_frames: np.ndarray
    dark_exposure_s: np.ndarray
    flat_frames: np.ndarray
    flat_exposure_s: float
    target_frames: np.ndarray
    target_exposure_s: float
    patch_labels: np.ndarray
    target_reflectance_rgb: np.ndarray
    incidence_rad: float
    saturation_dn: float | None = None

    def estimate(self, **options) -> SensorCalibration:
        """:func:`estimate_calibration` on these frames (options passed on)."""
        options.setdefault("saturation_dn", self.saturation_dn)
        return estimate_calibration(self.dark_frames, self.flat_frames, self.target_frames,
                                    self.target_reflectance_rgb, exposure_s=self.target_exposure_s,
                                    patch_labels=self.patch_labels, dark_exposure_s=self.dark_exposure_s,
                                    flat_exposure_s=self.flat_exposure_s, **options)


def _target_layout(shape: tuple[int, int], n_patch: int) -> np.ndarray:
    h, w = shape
    cols = math.ceil(math.sqrt(n_patch * w / h))
    rows = math.ceil(n_patch / cols)
    labels = np.full(shape, -1, np.int16)
    y0, y1, x0, x1 = int(0.1 * h), int(0.9 * h), int(0.1 * w), int(0.9 * w)
    ch, cw = (y1 - y0) / rows, (x1 - x0) / cols
    for k in range(n_patch):
        r, c = divmod(k, cols)
        ya, yb = int(y0 + (r + 0.1) * ch), int(y0 + (r + 0.9) * ch)
        xa, xb = int(x0 + (c + 0.1) * cw), int(x0 + (c + 0.9) * cw)
        labels[ya:yb, xa:xb] = k
    return labels


def simulate_calibration_frames(camera, sensor, *, rng: np.random.Generator,
                                target_reflectance_rgb=COLOUR_TARGET_RGB, incidence_rad: float = math.radians(45.0),
                                background_reflectance: float = 0.3, flat_reflectance_rgb=(0.8, 0.8, 0.8),
                                n_dark: int = 8, dark_exposures_s=(0.05, 0.5), n_flat: int = 16,
                                n_target: int = 4, fill_fraction: float = 0.7) -> CalibrationFrames:
    """Dark, flat and colour-target frames of ``camera`` through ``sensor`` (farside.render).

    The target is a grid of Lambertian patches (band reflectance factors
    ``target_reflectance_rgb``) on a grey background, filling the frame (a close-up of the deck
    target), lit by the Sun at ``incidence_rad``: radiance ``rho * E_band * cos(i) / pi``. The flat
    is a uniform Lambertian screen at normal incidence. Dark frames alternate over
    ``dark_exposures_s``. Exposures of the flat and target frames put the brightest channel at
    ``fill_fraction`` of full well (:func:`farside.render.auto_exposure`).
    """
    if camera.colour != "rggb":
        raise invalid("camera.colour", camera.colour, "'rggb' (a colour camera)")
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator")
    for nm, v in (("n_dark", n_dark), ("n_flat", n_flat), ("n_target", n_target)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not (1 <= v <= 1000):
            raise invalid(nm, v, "an integer in [1, 1000]")
    inc = float(incidence_rad)
    if not (math.isfinite(inc) and 0 <= inc < math.radians(85.0)):
        raise invalid("incidence_rad", incidence_rad, "a finite angle in [0, 85 deg)")
    refl = np.asarray(target_reflectance_rgb, float)
    if refl.ndim != 2 or refl.shape[1] != 3 or not np.all((refl > 0) & (refl <= 1)):
        raise invalid("target_reflectance_rgb.shape", refl.shape, "(P, 3) band reflectances in (0, 1]")
    flat_rho = np.asarray(flat_reflectance_rgb, float)
    if flat_rho.shape != (3,) or not np.all((flat_rho > 0) & (flat_rho <= 1)):
        raise invalid("flat_reflectance_rgb", flat_reflectance_rgb, "three reflectances in (0, 1]")
    if not (0 < float(background_reflectance) <= 1):
        raise invalid("background_reflectance", background_reflectance, "a reflectance in (0, 1]")
    if not (0.05 <= float(fill_fraction) <= 0.95):
        raise invalid("fill_fraction", fill_fraction, "a fraction in [0.05, 0.95]")
    t_dark_levels = _exposures("dark_exposures_s", dark_exposures_s, np.size(dark_exposures_s))
    shape = (camera.height_px, camera.width_px)
    e_band = np.array([solar_band_irradiance(b)[0] for b in "rgb"])

    labels = _target_layout(shape, refl.shape[0])
    rho = np.full(shape + (3,), float(background_reflectance))
    inside = labels >= 0
    rho[inside] = refl[labels[inside]]
    target_rad = rho * e_band * math.cos(inc) / math.pi
    flat_rad = np.broadcast_to(flat_rho * e_band / math.pi, shape + (3,))

    t_target = auto_exposure(target_rad, camera, sensor, target_fraction=fill_fraction, percentile=100.0)
    t_flat = auto_exposure(flat_rad, camera, sensor, target_fraction=fill_fraction, percentile=100.0)
    zero = np.zeros(shape + (3,))
    t_dark = np.array([t_dark_levels[i % t_dark_levels.size] for i in range(n_dark)])
    darks = np.stack([expose(zero, camera, sensor, exposure_s=t, rng=rng)[1] for t in t_dark])
    flats = np.stack([expose(flat_rad, camera, sensor, exposure_s=t_flat, rng=rng)[1] for _ in range(n_flat)])
    targets = np.stack([expose(target_rad, camera, sensor, exposure_s=t_target, rng=rng)[1] for _ in range(n_target)])
    for a in (darks, flats, targets, labels, refl):
        a.setflags(write=False)
    return CalibrationFrames(dark_frames=darks, dark_exposure_s=t_dark, flat_frames=flats, flat_exposure_s=t_flat,
                             target_frames=targets, target_exposure_s=t_target, patch_labels=labels,
                             target_reflectance_rgb=refl, incidence_rad=inc, saturation_dn=float(sensor.max_dn))
