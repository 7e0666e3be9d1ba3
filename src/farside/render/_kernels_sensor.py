"""Numba kernel of :mod:`farside.render.sensor` (private): mean electrons -> noisy DN in one pass.

Randomness is counter-based: each pixel draws from its own stream, SplitMix64 (Steele, Lea &
Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) started at a state hashed
from the frame's 64-bit key and the pixel's flat index. A pixel's noise therefore depends only on
(key, index), not on the thread that computes it or on the order of the pixels: the kernel runs in
parallel and stays byte-reproducible.

Shot noise is Poisson: sequential inversion for a mean below 10, and Hormann's transformed
rejection with squeeze (PTRS; W. Hormann, "The transformed rejection method for generating Poisson
random variables", Insurance: Mathematics and Economics 12:39-45, 1993) from 10 up, the two
algorithms numpy's ``Generator.poisson`` uses; read noise is Gaussian, added to it. From a mean of
``GAUSS_MIN_E`` electrons up, shot plus read noise are drawn together as one Gaussian of variance
``mean + read_noise^2`` (the Poisson's skewness there is 1/sqrt(mean) <= 0.03, and after the
division by the ~80 e/DN gain the DN distribution matches the exact one: the tests compare the
histograms with the exact Poisson-Gaussian convolution). Normal deviates come from Marsaglia and
Tsang's ziggurat ("The ziggurat method for generating random variables", J. Stat. Softw. 5(8),
2000; 128 layers, with the layer index and the deviate taken from separate bits of one 64-bit
draw, which removes the correlation Doornik (2005) found in the original).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside._core.hashing import mix64 as _mix

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0     # 2^-53
_S32 = np.uint64(32)
_LOW7 = np.uint64(127)

#: from this mean (electrons) up, shot + read noise are one Gaussian (see the module docstring)
GAUSS_MIN_E = 1000.0


def _ziggurat_tables():
    """Marsaglia & Tsang (2000) tables for the standard normal, 128 layers, 32-bit deviates."""
    m1 = 2147483648.0
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / math.exp(-0.5 * dn * dn)
    kn[0] = (dn / q) * m1
    kn[1] = 0.0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = math.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        kn[i + 1] = (dn / tn) * m1
        tn = dn
        fn[i] = math.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


_KN, _WN, _FN = _ziggurat_tables()
_ZIG_R = 3.442619855899


@njit(inline="always")
def _uniform(state):
    """(u in [0, 1) with 53 random bits, next state) of a SplitMix64 stream."""
    state = state + _GOLDEN
    return (_mix(state) >> _S11) * _INV53, state


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_one(lam, state):
    """(k ~ Poisson(lam), next state); lam >= 0 finite."""
    if lam <= 0.0:
        return 0.0, state
    if lam < 10.0:
        # inversion by sequential search
        p = math.exp(-lam)
        s = p
        u, state = _uniform(state)
        k = 0
        while u > s:
            k += 1
            p *= lam / k
            s += p
            if k > 1000:            # u within round-off of 1: the tail beyond here has p < 1e-300
                break
        return float(k), state
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u, state = _uniform(state)
        u -= 0.5
        v, state = _uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k, state
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (-lam + k * loglam - math.lgamma(k + 1.0)):
            return k, state


@njit(cache=True, nogil=True, error_model="numpy")
def normal_one(state):
    """(z ~ N(0, 1), next state) by the ziggurat: the low 7 bits of a draw pick the layer, its
    upper 32 bits (as a signed integer) the deviate."""
    while True:
        state = state + _GOLDEN
        r = _mix(state)
        iz = np.int64(r & _LOW7)
        hz = np.int64(np.int32(np.uint32(r >> _S32)))
        if abs(hz) < _KN[iz]:
            return hz * _WN[iz], state
        if iz == 0:
            # the tail beyond R (Marsaglia 1964)
            while True:
                u1, state = _uniform(state)
                u2, state = _uniform(state)
                x = -math.log(1.0 - u1) / _ZIG_R
                y = -math.log(1.0 - u2)
                if y + y >= x * x:
                    break
            return (_ZIG_R + x) if hz > 0 else -(_ZIG_R + x), state
        x = hz * _WN[iz]
        u, state = _uniform(state)
        if _FN[iz] + u * (_FN[iz - 1] - _FN[iz]) < math.exp(-0.5 * x * x):
            return x, state


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def expose_kernel(rate, gain_map, prnu, dark_e_s, t_s, read_noise_e, full_well_e, e_per_dn, max_dn, key, out):
    """DN of every pixel: ``rate * gain_map`` electrons/s (``gain_map`` (2, 2): the Bayer cell's
    per-channel gain, all equal for a mono sensor) times the PRNU map, plus dark current, over
    ``t_s``; Poisson shot noise, Gaussian read noise, full-well clip, DN = round(e / e_per_dn)
    clipped to [0, max_dn]. A non-finite or negative mean counts as zero signal."""
    nr, nc = rate.shape
    seed = _mix(np.uint64(key))
    sat_mean = 2.0 * full_well_e + 50.0 * read_noise_e + 1000.0
    sat_dn = min(np.rint(full_well_e / e_per_dn), max_dn)
    rn2 = read_noise_e * read_noise_e
    for i in prange(nr):
        gi = i & 1
        for j in range(nc):
            m = (rate[i, j] * gain_map[gi, j & 1] * prnu[i, j] + dark_e_s) * t_s
            if not (m > 0.0) or m == math.inf:      # NaN, -inf, negative, +inf: no signal
                m = 0.0
            if m > sat_mean:
                # P(Poisson(m) + read noise < full well) < 1e-100 here: saturated
                out[i, j] = sat_dn
                continue
            state = _mix(seed ^ (np.uint64(i * nc + j) * _GOLDEN))
            if m >= GAUSS_MIN_E:
                z, state = normal_one(state)
                e = m + math.sqrt(m + rn2) * z
            else:
                e, state = poisson_one(m, state)
                if read_noise_e > 0.0:
                    z, state = normal_one(state)
                    e += read_noise_e * z
            if e < 0.0:
                e = 0.0
            elif e > full_well_e:
                e = full_well_e
            d = np.rint(e / e_per_dn)
            if d > max_dn:
                d = max_dn
            out[i, j] = d

