"""Counter-based hashing for lazily generated detail (numba): the one SplitMix64 finaliser.

Steele, Lea & Flood (2014), "Fast splittable pseudorandom number generators", OOPSLA: the
finaliser of SplitMix64 is a bijection of uint64 with full avalanche, so ``mix64(key + k * GOLDEN)``
is the k-th draw of the stream ``key`` and ``mix64(a ^ b * GOLDEN)`` a hash of two integers. The
sensor noise (:mod:`farside.render._kernels_sensor`), the regolith detail
(:mod:`farside.terrain._kernels_detail`) and the foil crinkle (:mod:`farside.render._kernels_mesh`)
all draw through it, so the same key gives the same numbers everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["GOLDEN", "mix64"]

#: 2^64 / golden ratio, the SplitMix64 stream increment
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)

