"""Photometry: rendered flat planes against closed-form Hapke and Lunar-Lambert values.

References: Hapke model with the Sato et al. (2014) fixed constants (docs/references.md 7.4; equations
from Hapke 2012, "Theory of Reflectance and Emittance Spectroscopy", 2nd ed., ch. 8-12);
Lunar-Lambert of McEwen (1991) with the L(g) polynomial quoted by ASP (docs/references.md 7.4);
Chandrasekhar (1960) Table XIII, H(mu = 1) = 2.9078 for conservative isotropic scattering.
The reference functions below are written independently of farside's numba kernels, straight
from the equations, in scalar Python.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.render import Camera, Hapke, LunarLambert, look_at_rotation, reflectance, render

from tests.render._scenes import sun_from

# ------------------------------------------------------------------------------------------
# independent scalar references
# ------------------------------------------------------------------------------------------


def ref_h(x: float, w: float) -> float:
    gamma = math.sqrt(1 - w)
    r0 = (1 - gamma) / (1 + gamma)
    return 1.0 / (1 - w * x * (r0 + (1 - 2 * r0 * x) / 2 * math.log((1 + x) / x)))


def ref_hapke(i: float, e: float, g: float, p: Hapke) -> float:
    """Hapke (2012) eq. 12.55 with K = 1, isotropic multiple scattering, and roughness (12.46-12.57)."""
    mu0, mu = math.cos(i), math.cos(e)
    if i > 1e-12 and e > 1e-12:
        cpsi = (math.cos(g) - mu0 * mu) / (math.sin(i) * math.sin(e))
        psi = math.acos(max(-1.0, min(1.0, cpsi)))
    else:
        psi = 0.0
    tt = math.tan(math.radians(p.theta_bar_deg))
    chi = 1 / math.sqrt(1 + math.pi * tt**2)

    def E1(x):  # limit 0 at x = 0
        if x < 1e-12:
            return 0.0
        return math.exp(-2 / math.pi / tt / math.tan(x))

    def E2(x):
        if x < 1e-12:
            return 0.0
        return math.exp(-1 / math.pi / tt**2 / math.tan(x) ** 2)

    def eta(x):
        return chi * (math.cos(x) + math.sin(x) * tt * E2(x) / (2 - E1(x)))

    f = math.exp(-2 * math.tan(psi / 2))
    s2 = math.sin(psi / 2) ** 2
    if i <= e:
        d = 2 - E1(e) - psi / math.pi * E1(i)
        mu0e = chi * (mu0 + math.sin(i) * tt * (math.cos(psi) * E2(e) + s2 * E2(i)) / d)
        mue = chi * (mu + math.sin(e) * tt * (E2(e) - s2 * E2(i)) / d)
        S = mue / eta(e) * mu0 / eta(i) * chi / (1 - f + f * chi * mu0 / eta(i))
    else:
        d = 2 - E1(i) - psi / math.pi * E1(e)
        mu0e = chi * (mu0 + math.sin(i) * tt * (E2(i) - s2 * E2(e)) / d)
        mue = chi * (mu + math.sin(e) * tt * (math.cos(psi) * E2(i) + s2 * E2(e)) / d)
        S = mue / eta(e) * mu0 / eta(i) * chi / (1 - f + f * chi * mu / eta(e))
    b, c = p.b, p.c
    P = ((1 + c) / 2 * (1 - b * b) / (1 - 2 * b * math.cos(g) + b * b) ** 1.5
         + (1 - c) / 2 * (1 - b * b) / (1 + 2 * b * math.cos(g) + b * b) ** 1.5)
    Bs = 1 / (1 + math.tan(g / 2) / p.hs)
    M = ref_h(mu0e, p.w) * ref_h(mue, p.w) - 1
    return p.w / (4 * math.pi) * mu0e / (mu0e + mue) * (P * (1 + p.bs0 * Bs) + M) * S


def ref_lunar_lambert(i: float, e: float, g: float, p: LunarLambert) -> float:
    gd = math.degrees(g)
    L = 1 + p.l1 * gd + p.l2 * gd**2 + p.l3 * gd**3
    mu0, mu = math.cos(i), math.cos(e)
    return p.albedo * (2 * L * mu0 / (mu0 + mu) + (1 - L) * mu0) / math.pi


# ------------------------------------------------------------------------------------------
# rendered flat plane vs closed form
# ------------------------------------------------------------------------------------------
GEOMETRIES = [  # (incidence deg, emission deg, azimuth of the camera relative to the sun, deg)
    (0.0, 30.0, 0.0), (20.0, 0.0, 0.0), (30.0, 30.0, 0.0), (30.0, 30.0, 180.0), (45.0, 10.0, 90.0),
    (60.0, 45.0, 180.0), (60.0, 20.0, 0.0), (75.0, 30.0, 120.0), (40.0, 60.0, 60.0), (10.0, 55.0, 180.0),
]


@pytest.mark.parametrize("model", [Hapke(), LunarLambert()], ids=["hapke", "lunar_lambert"])
def test_flat_plane_matches_closed_form(flat_scene, model):
    """Every pixel of a rendered flat plane matches the closed-form r(i, e, g) within 0.5 %.

    The angles of the reference come from the analytic geometry (plane z = -5935 m, the pixel's
    ray from the camera), not from the renderer's ground-truth layers.
    """
    z0 = -5935.0
    worst = 0.0
    for inc, emi, daz in GEOMETRIES:
        sun_az = 30.0
        sun = sun_from(90.0 - inc, sun_az)
        cam_az = math.radians(sun_az + daz)
        dist = 3000.0
        target = np.array([100.0, -50.0, z0])
        pos = target + dist * np.array([math.sin(math.radians(emi)) * math.sin(cam_az),
                                        math.sin(math.radians(emi)) * math.cos(cam_az), math.cos(math.radians(emi))])
        up = (0.0, 1.0, 0.0) if emi < 1 else (0.0, 0.0, 1.0)
        cam = Camera(width_px=24, height_px=16, focal_length_m=0.05, pixel_pitch_m=1e-5, cx_px=11.5, cy_px=7.5,
                     position_enu=pos, rotation_enu_from_cam=look_at_rotation(pos, target, up))
        fr = render(flat_scene, cam, sun_dir_enu=sun, photometry=model, shadows="hard")
        assert not fr.sky.any()
        # analytic surface point of each pixel
        jj, ii = np.meshgrid(np.arange(cam.width_px), np.arange(cam.height_px))
        d_cam = np.stack([(jj - cam.cx_px) / cam.fx_px, (ii - cam.cy_px) / cam.fy_px, np.ones_like(jj, float)], -1)
        d = d_cam @ cam.rotation_enu_from_cam.T
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        t = (z0 - pos[2]) / d[..., 2]
        for (r, c) in [(0, 0), (7, 11), (15, 23), (3, 20), (12, 2)]:
            view = -d[r, c]
            i = math.acos(sun[2])
            e = math.acos(view[2])
            g = math.acos(float(np.clip(view @ sun, -1, 1)))
            ref = ref_hapke(i, e, g, model) if isinstance(model, Hapke) else ref_lunar_lambert(i, e, g, model)
            got = float(fr.reflectance[r, c])
            assert got == pytest.approx(ref, rel=5e-3), (inc, emi, daz, r, c)
            worst = max(worst, abs(got / ref - 1))
            assert float(fr.range_m[r, c]) == pytest.approx(t[r, c], abs=0.05)
    assert worst < 5e-3


def test_chandrasekhar_h_function_conservative():
    """Hapke's H-function approximation at w = 1, mu = mu0 = 1 against Chandrasekhar's exact
    H(1) = 2.9078 (Table XIII): with theta-bar = 0, b = 0, Bs0 = 0 the model reduces to
    r = w / (4 pi) * mu0 / (mu0 + mu) * H(mu0) H(mu); the approximation is good to 1 %."""
    p = Hapke(w=1.0, b=0.0, c=0.0, bs0=0.0, theta_bar_deg=0.0)
    r = float(reflectance(p, 0.0, 0.0, 0.0))
    h1 = math.sqrt(r * 8 * math.pi)
    assert h1 == pytest.approx(2.9078, rel=0.01)


def test_opposition_surge_near_zero_phase():
    """The shadow-hiding opposition effect (Sato 2014 Bs0, hs) brightens the surface near g = 0:
    at g = 0 the surge multiplies the single-scattering term by 1 + Bs0 exactly, and its width
    is ~hs (half-maximum at tan(g/2) = hs)."""
    base = Hapke(bs0=0.0)
    surge = Hapke()
    i = e = math.radians(30.0)
    g = np.radians([0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0])
    with_s = reflectance(surge, i, e, g)
    without = reflectance(base, i, e, g)
    ratio = with_s / without
    # monotonic fall-off of the surge with phase angle
    assert np.all(np.diff(ratio) < 0)
    assert ratio[0] > 1.8
    # half width: Bs(g) = 1/2 at tan(g/2) = hs -> g = 6.87 deg for hs = 0.06
    g_half = 2 * math.atan(surge.hs)
    r_half = float(reflectance(surge, i, e, g_half) / reflectance(base, i, e, g_half))
    assert (r_half - 1) / (ratio[0] - 1) == pytest.approx(0.5, abs=0.05)
    # mu0 = mu = cos 30: exact amplitude at g = 0 against the closed form
    assert float(with_s[0]) == pytest.approx(ref_hapke(i, e, 0.0, surge), rel=1e-6)


def test_typical_mare_brightness():
    """The default (UNCONFIRMED, typical mare) Hapke parameters give I/F ~ 0.04-0.06 at
    i = g = 30 deg, e = 0, consistent with the 3.86 % average visible reflectance measured in situ
    at the CE-3 site (docs/references.md 7.4)."""
    iof = math.pi * float(reflectance("hapke", math.radians(30), 0.0, math.radians(30)))
    assert 0.03 < iof < 0.07
