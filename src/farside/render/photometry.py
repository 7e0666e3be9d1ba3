"""Photometric functions: Hapke (Sato et al. 2014 constants), Lunar-Lambert (McEwen 1991), Lambert.

All return the bidirectional reflectance ``r`` in 1/sr; radiance = ``r * E_sun`` with ``E_sun``
the solar irradiance normal to the beam, and the radiance factor is ``I/F = pi * r``.

Hapke constants (docs/references.md 7.4): Sato et al. (2014) fix Bc0 = 0, hc = 1, theta-bar = 23.657 deg
and filling factor 1 (K = 1). Their spatially varying w, b, c, Bs0, hs maps were not read: the
defaults below are *typical mare values chosen by us* (UNCONFIRMED), w = 0.25, b = 0.25,
c = 0.45, Bs0 = 1.8, hs = 0.06, giving I/F = 0.047 at i = g = 30 deg, e = 0 (the CE-3 site's
average visible reflectance is 3.86 %, docs/references.md 7.4). Lunar-Lambert uses the L(g)
polynomial quoted by ASP (1, -0.019, 0.000242, -0.00000146, g in degrees) with a normal albedo
of 0.12 (UNCONFIRMED).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from farside.errors import invalid
from farside.render import _kernels_shading as K
from farside.render._photometry_kernels import build_hapke_tables

__all__ = ["Hapke", "LunarLambert", "Lambert", "Photometry", "reflectance", "resolve_photometry"]


def _check(name: str, v: float, lo: float, hi: float) -> float:
    v = float(v)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise invalid(name, v, f"a finite number in [{lo}, {hi}]")
    return v


@dataclass(frozen=True)
class Hapke:
    """Hapke (2012) model with Sato et al. (2014) fixed constants (see module docstring)."""

    w: float = 0.25
    b: float = 0.25
    c: float = 0.45
    bs0: float = 1.8
    hs: float = 0.06
    bc0: float = 0.0
    hc: float = 1.0
    theta_bar_deg: float = 23.657

    def __post_init__(self) -> None:
        _check("hapke.w", self.w, 0.0, 1.0)
        _check("hapke.b", self.b, 0.0, 0.99)
        _check("hapke.c", self.c, -1.0, 1.0)
        _check("hapke.bs0", self.bs0, 0.0, 10.0)
        _check("hapke.hs", self.hs, 1e-6, 10.0)
        _check("hapke.bc0", self.bc0, 0.0, 10.0)
        _check("hapke.hc", self.hc, 1e-6, 10.0)
        _check("hapke.theta_bar_deg", self.theta_bar_deg, 0.0, 60.0)

    model_id = 0

    def packed(self) -> np.ndarray:
        """Parameter array of the render kernels: ``[w, b, c, Bs0, hs, Bc0, hc, tan(theta-bar)]``
        (the arguments of the exact ``_kernels_shading.hapke_r``), then derived constants and the lookup
        tables of the renderer's ``hapke_r_tab`` (layout: ``farside.render._photometry_kernels``).
        Built once per parameter set (about 10 ms) and cached; each call returns a fresh copy."""
        return _hapke_tables((self.w, self.b, self.c, self.bs0, self.hs, self.bc0, self.hc,
                              self.theta_bar_deg)).copy()


@lru_cache(maxsize=32)
def _hapke_tables(params: tuple) -> np.ndarray:
    return build_hapke_tables(*params)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _hapke_exact_grid(mu0, mu, cosg, pp):
    """The exact Hapke formula (``_kernels_shading.hapke_r``) over arrays; the renderer uses the tables."""
    out = np.empty(mu0.shape[0])
    for k in prange(mu0.shape[0]):
        out[k] = K.hapke_r(mu0[k], mu[k], cosg[k], pp[0], pp[1], pp[2], pp[3], pp[4], pp[5], pp[6], pp[7])
    return out


@dataclass(frozen=True)
class LunarLambert:
    """McEwen (1991) Lunar-Lambert with ASP's L(g) polynomial (docs/references.md 7.4)."""

    albedo: float = 0.12
    l1: float = -0.019
    l2: float = 0.000242
    l3: float = -0.00000146

    def __post_init__(self) -> None:
        _check("lunar_lambert.albedo", self.albedo, 0.0, 1.0)
        for nm in ("l1", "l2", "l3"):
            _check(f"lunar_lambert.{nm}", getattr(self, nm), -1.0, 1.0)

    model_id = 1

    def packed(self) -> np.ndarray:
        return np.array([self.albedo, self.l1, self.l2, self.l3, 0, 0, 0, 0], float)


@dataclass(frozen=True)
class Lambert:
    """Lambertian surface of hemispherical albedo ``albedo``: r = albedo * mu0 / pi."""

    albedo: float = 0.12

    def __post_init__(self) -> None:
        _check("lambert.albedo", self.albedo, 0.0, 1.0)

    model_id = 2

    def packed(self) -> np.ndarray:
        return np.array([self.albedo, 0, 0, 0, 0, 0, 0, 0], float)


Photometry = Hapke | LunarLambert | Lambert

_NAMES = {"hapke": Hapke, "lunar_lambert": LunarLambert, "lambert": Lambert}


def resolve_photometry(photometry) -> Photometry:
    """Accept a model instance or one of the names 'hapke', 'lunar_lambert', 'lambert'."""
    if isinstance(photometry, (Hapke, LunarLambert, Lambert)):
        return photometry
    if isinstance(photometry, str) and photometry in _NAMES:
        return _NAMES[photometry]()
    raise invalid("photometry", photometry, "'hapke', 'lunar_lambert', 'lambert' or a model instance")


def reflectance(photometry, incidence_rad, emission_rad, phase_rad) -> np.ndarray:
    """Bidirectional reflectance [1/sr] of a surface element at the given angles (broadcasting).

    Zero where the surface is unlit or unseen (i or e >= 90 deg). Hapke is evaluated by its exact
    formula here; ``render`` reads the same function from tables (within 1e-5 relative, measured
    1e-8: ``tests/render/test_hapke_tables.py``).
    """
    model = resolve_photometry(photometry)
    i, e, g = np.broadcast_arrays(np.asarray(incidence_rad, float), np.asarray(emission_rad, float),
                                  np.asarray(phase_rad, float))
    if not (np.all(np.isfinite(i)) and np.all(np.isfinite(e)) and np.all(np.isfinite(g))):
        raise invalid("angles", "non-finite", "finite incidence, emission and phase angles in radians")
    if np.any(g < 0) or np.any(g > math.pi) or np.any(np.abs(i - e) > g + 1e-9) or np.any(g > i + e + 1e-9):
        raise invalid("phase_rad", "out of range", "|i - e| <= g <= i + e and 0 <= g <= pi")
    args = (np.cos(i).ravel(), np.cos(e).ravel(), np.cos(g).ravel(), model.packed())
    if isinstance(model, Hapke):
        return _hapke_exact_grid(*args).reshape(i.shape)
    return K.photometry_grid(model.model_id, *args).reshape(i.shape)
