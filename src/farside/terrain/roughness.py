"""Fractal (self-affine) small-scale roughness by FFT synthesis.

The surface is a self-affine random field with Hurst exponent ``H``: its isotropic 2-D power
spectrum is ``P(f) ~ f^-beta`` with ``beta = 2 + 2H`` (a 1-D profile has slope ``1 + 2H``), so
the RMS height difference over a baseline ``L`` (the Allan deviation used for LOLA roughness
studies) scales as ``nu(L) = nu0 (L / L0)^H``.

Synthesis: white Gaussian noise from ``rng`` is Fourier transformed, multiplied by ``f^-(1+H)``
(the zero frequency set to 0) and transformed back; the result is then scaled so that its RMS
height difference at a one-pixel lag (x and y pooled) equals ``nu0 (resolution / L0)^H`` exactly.
The field is periodic over the raster (an FFT property) and has zero mean.

Defaults (:data:`DEFAULT_HURST` = 0.8, :data:`DEFAULT_RMS_M` = 0.03 m at a 1 m baseline, i.e. an
RMS slope of ~1.7 deg at 1 m and ~0.8 deg at 37 m from this component alone) are assumptions for
regolith-covered mare: Hurst exponents of lunar maria at metre-to-hectometre baselines are ~0.8-0.95
(Rosenburg et al. 2011, LOLA), and the Von Karman floor has slopes mostly < 5 deg at 37 m
(Guo et al. 2019; docs/references.md 1.3) including the craters, which add their own relief.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from farside.errors import invalid

__all__ = ["DEFAULT_HURST", "DEFAULT_RMS_M", "DEFAULT_BASELINE_M", "fractal_roughness", "allan_deviation"]

DEFAULT_HURST = 0.8
DEFAULT_RMS_M = 0.03
DEFAULT_BASELINE_M = 1.0


def allan_deviation(z: np.ndarray, lag_px: int) -> float:
    """RMS height difference at a lag of ``lag_px`` pixels, x and y directions pooled."""
    lag = int(lag_px)
    if lag < 1 or lag >= min(z.shape):
        raise invalid("lag_px", lag_px, f"an integer in [1, {min(z.shape) - 1}]")
    dx = np.subtract(z[:, lag:], z[:, :-lag], dtype=np.float64)
    ss = float(np.einsum("ij,ij->", dx, dx))
    n = dx.size
    del dx
    dy = np.subtract(z[lag:, :], z[:-lag, :], dtype=np.float64)
    ss += float(np.einsum("ij,ij->", dy, dy))
    n += dy.size
    return math.sqrt(ss / n)


def fractal_roughness(
    shape: tuple[int, int],
    resolution_m: float,
    *,
    rng: np.random.Generator,
    hurst: float = DEFAULT_HURST,
    rms_m: float = DEFAULT_RMS_M,
    baseline_m: float = DEFAULT_BASELINE_M,
) -> np.ndarray:
    """A zero-mean self-affine height field (float32 metres) of ``shape`` with Hurst exponent
    ``hurst`` and RMS height difference ``rms_m`` at ``baseline_m`` (module docstring).

    Computed in single precision (float32 noise, complex64 spectrum): roughness amplitudes are
    centimetres, far above float32's relative precision, and it halves time and memory."""
    rows, cols = (int(s) for s in shape)
    if rows < 2 or cols < 2:
        raise invalid("shape", shape, "at least 2 x 2 pixels")
    if not (math.isfinite(resolution_m) and resolution_m > 0):
        raise invalid("resolution_m", resolution_m, "a finite number > 0")
    if not (math.isfinite(hurst) and 0.0 < hurst < 1.0):
        raise invalid("hurst", hurst, "a Hurst exponent in (0, 1)")
    if not (math.isfinite(rms_m) and rms_m >= 0):
        raise invalid("rms_m", rms_m, "a finite RMS height difference >= 0 m")
    if not (math.isfinite(baseline_m) and baseline_m > 0):
        raise invalid("baseline_m", baseline_m, "a finite baseline > 0 m")
    if rms_m == 0.0:
        return np.zeros((rows, cols), dtype=np.float32)
    noise = rng.standard_normal((rows, cols), dtype=np.float32)
    spec = scipy.fft.rfft2(noise)
    del noise
    fy = scipy.fft.fftfreq(rows)[:, None]
    fx = scipy.fft.rfftfreq(cols)[None, :]
    f2 = fy * fy + fx * fx
    f2[0, 0] = 1.0
    amp = (f2 ** (-(1.0 + hurst) / 2.0)).astype(np.float32)
    amp[0, 0] = 0.0
    spec *= amp
    del amp, f2
    z = scipy.fft.irfft2(spec, s=(rows, cols))
    del spec
    target = rms_m * (resolution_m / baseline_m) ** hurst
    got = allan_deviation(z, 1)
    z *= np.float32(target / got)
    z -= z.mean(dtype=np.float64)
    return z
