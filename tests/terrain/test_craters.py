"""Crater populations and shapes (farside.terrain.craters)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from farside.errors import FarsideError, ScenarioError
from farside.terrain import (
    cumulative_crater_density,
    expected_crater_counts,
    neukum_chronology,
    neukum_production,
    trask_equilibrium,
)
from farside.terrain.craters import (
    TAU_ERASE,
    crater_depth_ratio,
    crater_profile,
    radial_diffusion,
    sample_craters,
    stamp_craters,
)
from tests.terrain._generated import CE4_RES_M, CE4_SIZE_PX, ce4_site, inside, measured_depth_ratio


# --- model functions -------------------------------------------------------------------------

def test_chronology_values():
    """The Neukum chronology (docs/references.md 7.1) against the separately published production
    function: at T = 1 Gyr it gives the PF's N(>1 km) = 10^a0 (craterstats a0 = -3.0768) within
    0.1 %; the linear (constant-flux) term dominates after ~3.5 Gyr ago, the exponential (late heavy
    bombardment) before: N(3.9 Gyr) is more than 5x the linear extrapolation 3.9 N(1 Gyr)."""
    assert neukum_chronology(1.0) == pytest.approx(10 ** -3.0768, rel=1e-3)
    assert neukum_chronology(3.9) > 5 * 3.9 * neukum_chronology(1.0)
    assert neukum_chronology(2.0) == pytest.approx(2 * neukum_chronology(1.0), rel=1e-3)
    assert neukum_chronology(0.0) == 0.0
    np.testing.assert_allclose(neukum_chronology([1.0, 2.0]), [neukum_chronology(1.0), neukum_chronology(2.0)])


def test_production_polynomial_and_scaling():
    """Neukum et al. 2001 PF (docs/references.md 7.1): at T = 1 Gyr log10 N(>D) is the polynomial with
    craterstats' a0 = -3.0768, so N(>1 km) = 10^a0 = 8.38e-4 km^-2 (= the chronology at 1 Gyr);
    other ages scale the whole curve by N_chron(T) / N_chron(1)."""
    a = [-3.0768, -3.557528, 0.781027, 1.021521, -0.156012, -0.444058,
         0.019977, 0.086850, -0.005874, -0.006809, 8.25e-4, 5.54e-5]
    for d_km in (0.02, 0.3, 1.0, 4.0, 30.0, 150.0):
        logn = sum(c * math.log10(d_km) ** j for j, c in enumerate(a))
        ratio = neukum_chronology(1.0) / 10 ** a[0]
        assert neukum_production(d_km, 1.0) == pytest.approx(10 ** logn * ratio, rel=1e-9)
    assert neukum_production(1.0, 1.0) == pytest.approx(8.38e-4, rel=1e-3)
    r = neukum_production([0.05, 2.0], 3.25) / neukum_production([0.05, 2.0], 1.0)
    np.testing.assert_allclose(r, neukum_chronology(3.25) / neukum_chronology(1.0), rtol=1e-12)


def test_production_extension_below_10m_is_a_power_law():
    """Below the PF's 10 m limit the curve continues with the PF's slope there (-3.16), instead of
    the polynomial's divergence (1e41 km^-2 at 1 m)."""
    n = neukum_production(np.array([0.001, 0.002, 0.01]), 3.25)
    slope = math.log10(n[1] / n[0]) / math.log10(2.0)
    assert slope == pytest.approx(-3.155, abs=0.01)
    assert math.log10(n[2] / n[0]) == pytest.approx(-3.155, abs=0.01)
    assert n[0] < 1e9  # per km^2, finite and sane


def test_trask_equilibrium():
    """Trask (1966): log N = -1.1 - 2 log D (docs/references.md 7.1); same form in m/m^2 and km/km^2."""
    assert trask_equilibrium(1.0) == pytest.approx(10 ** -1.1)
    assert trask_equilibrium(0.001) * 1e-6 == pytest.approx(10 ** -1.1 * 1.0 ** -2 * 1.0)  # 1 m, per m^2
    d = np.array([0.01, 0.1])
    np.testing.assert_allclose(cumulative_crater_density(d, 3.25),
                               np.minimum(neukum_production(d, 3.25), trask_equilibrium(d)))


def test_equilibrium_crossover_for_ce4_age():
    """On a 3.25 Gyr surface production and Trask equilibrium cross between 100 and 250 m, so the
    small craters of the CE-4 site are in equilibrium (docs/references.md 7.1, 1.3)."""
    d = np.geomspace(0.01, 1.0, 2001)
    prod_wins = neukum_production(d, 3.25) < trask_equilibrium(d)
    cross = d[np.argmax(prod_wins)]
    assert 0.1 < cross < 0.25


def test_expected_counts_sum_to_cumulative():
    e = np.geomspace(2.0, 500.0, 9)
    c = expected_crater_counts(e, area_m2=4e6, age_gyr=3.25)
    assert np.all(c >= 0)
    n = cumulative_crater_density(e[[0, -1]] / 1000, 3.25)
    assert c.sum() == pytest.approx((n[0] - n[1]) * 4.0)


@pytest.mark.parametrize("bad", [
    lambda: neukum_production(float("nan"), 1.0),
    lambda: neukum_production(-1.0, 1.0),
    lambda: neukum_production(1.0, 0.0),
    lambda: neukum_production(1.0, 4.6),
    lambda: neukum_chronology(float("nan")),
    lambda: trask_equilibrium(0.0),
    lambda: expected_crater_counts([5.0, 2.0], area_m2=1.0, age_gyr=1.0),
    lambda: expected_crater_counts([1.0, 2.0], area_m2=float("nan"), age_gyr=1.0),
])
def test_model_functions_reject_bad_input(bad):
    with pytest.raises(FarsideError) as e:
        bad()
    assert "\n" not in str(e.value) and "is invalid" in str(e.value)


# --- populations -----------------------------------------------------------------------------

@pytest.mark.slow
def test_crater_counts_follow_min_production_equilibrium():
    """Per-bin counts of craters centred in a generated 4.19 km^2 CE-4 site agree with
    area * [min(Neukum 2001 production, Trask equilibrium)] (docs/references.md 7.1) within the Poisson
    3-sigma interval (two-sided 99.73 %), in 8 bins per decade from 2 m (2 pixels) to 1 km."""
    site = ce4_site()
    half = CE4_SIZE_PX * CE4_RES_M / 2
    c = inside(site.craters, half)
    edges = np.geomspace(2.0, 1024.0, 23)
    obs, _ = np.histogram(c["diameter_m"], edges)
    exp = expected_crater_counts(edges, area_m2=(2 * half) ** 2, age_gyr=3.25)
    lo = stats.poisson.ppf(0.00135, exp)
    hi = stats.poisson.ppf(1 - 0.00135, exp)
    bad = [(edges[i], obs[i], exp[i]) for i in range(len(obs)) if not lo[i] <= obs[i] <= hi[i]]
    assert not bad, bad
    assert obs.sum() > 50_000  # the bins really are populated


def test_sampled_craters_keep_footprints_touching_extent():
    rng = np.random.default_rng(5)
    c = sample_craters((-100, 100, -50, 50), age_gyr=3.25, min_diameter_m=1.0, max_diameter_m=100.0, rng=rng)
    ext = 1.5 * c["diameter_m"]
    assert ((c["x_m"].abs() < 100 + ext) & (c["y_m"].abs() < 50 + ext)).all()
    assert c["age_gyr"].is_monotonic_decreasing  # stamping order: oldest first
    assert (c["tau"] <= TAU_ERASE + 1e-12).all() and (c["tau"] >= 0).all()
    assert set(["x_m", "y_m", "diameter_m", "depth_m"]).issubset(c.columns)


# --- shapes ----------------------------------------------------------------------------------

def test_radial_diffusion_matches_gaussian_solution():
    """Axisymmetric diffusion of a Gaussian h = exp(-x^2/s^2) has the exact solution
    h = s^2/(s^2 + 4 tau) exp(-x^2/(s^2 + 4 tau)); the solver matches it to 1e-3 of the peak."""
    dx = 0.005
    x = np.arange(1601) * dx
    s2 = 0.25
    taus = np.array([0.01, 0.05, 0.2])
    out = radial_diffusion(np.exp(-x ** 2 / s2), dx, taus)
    for t, h in zip(taus, out):
        exact = s2 / (s2 + 4 * t) * np.exp(-x ** 2 / (s2 + 4 * t))
        assert np.max(np.abs(h - exact)) < 1e-3


def _plane(n, res, z0=0.0, gx=0.0):
    half = n * res / 2
    xs = (np.arange(n) + 0.5) * res - half
    return np.broadcast_to(z0 + gx * xs[None, :], (n, n)).copy(), -half, half


def test_isolated_fresh_crater_depth_ratio():
    """A fresh simple crater on a plane has rim-crest-to-floor depth / D = 0.20 +- 0.02 (Pike 1974;
    docs/references.md 7.2), measured on the DEM as Pike does (rim crest to floor)."""
    for d_m, res in ((100.0, 1.0), (20.0, 0.5)):
        z, x0, y0 = _plane(int(4 * d_m / res), res, z0=-5935.0)
        cr = pd.DataFrame({"x_m": [0.3], "y_m": [-0.2], "diameter_m": [d_m], "tau": [0.0]})
        h = stamp_craters(z, cr, resolution_m=res, x0_m=x0, y0_m=y0)
        depth = h.max() - h.min()
        assert depth / d_m == pytest.approx(0.20, abs=0.02)
        # the rim stands above the pre-impact plane (raised rim, Pike 1977: ~0.036 D)
        assert (h.max() + 5935.0) / d_m == pytest.approx(0.036, abs=0.006)
        # the ejecta blanket is positive relief outside the rim and vanishes at 3 R
        assert h[0, 0] == pytest.approx(-5935.0, abs=1e-9)


def test_profile_degradation_is_monotonic_and_volume_neutral_under_diffusion():
    dr = crater_depth_ratio(np.linspace(0.0, 1.0, 50))
    assert dr[0] == pytest.approx(0.20, abs=1e-3)
    assert np.all(np.diff(dr) < 0)
    x = np.linspace(0.0, 3.0, 3001)
    v0 = np.trapezoid(crater_profile(x, 0.0) * x, x)
    v1 = np.trapezoid(crater_profile(x, 0.01) * x, x)
    assert v1 == pytest.approx(v0, abs=0.002)  # diffusion moves material, it does not create it


def test_later_crater_cuts_earlier_one():
    """Superposition: a young crater inside an old one is cut into the old floor (its floor lies
    p(0) below the mean surface it lands on), and order matters."""
    res = 0.5
    z, x0, y0 = _plane(400, res)
    big = {"x_m": 0.0, "y_m": 0.0, "diameter_m": 80.0, "tau": 0.05}
    small = {"x_m": 5.0, "y_m": 0.0, "diameter_m": 10.0, "tau": 0.0}
    h_big = stamp_craters(z, pd.DataFrame([big]), resolution_m=res, x0_m=x0, y0_m=y0)
    both = stamp_craters(z, pd.DataFrame([big, small]), resolution_m=res, x0_m=x0, y0_m=y0)
    rev = stamp_craters(z, pd.DataFrame([small, big]), resolution_m=res, x0_m=x0, y0_m=y0)
    assert not np.array_equal(both, rev)
    # small crater's floor relative to the mean of the big crater's surface over its disk
    cols = (np.arange(400) + 0.5) * res + x0
    rows = y0 - (np.arange(400) + 0.5) * res
    rr = np.hypot(cols[None, :] - 5.0, rows[:, None])
    href = h_big[rr < 5.0].mean()
    floor = both[rr < 0.5].min()
    assert floor - href == pytest.approx(crater_profile(0.0, 0.0)[()] * 5.0, abs=0.05)
    # far from the small crater the surface is the big crater's
    far = rr > 3 * 5.0 + 1
    np.testing.assert_allclose(both[far], h_big[far], atol=1e-12)


@pytest.mark.slow
def test_degraded_small_craters_mean_depth_ratio_ce4():
    """Small craters of the default CE-4 site have mean d/D ~ 0.061 (Wu et al. 2021 EPSL;
    docs/references.md 7.2). The model's one calibrated constant (TAU_ERASE) sets the catalogue mean; the
    test checks (a) the catalogue mean of craters 10-100 m (all in equilibrium) within +-0.005 and
    (b) d/D measured on the DEM (ring-averaged rim crest to floor, after superposition, roughness
    and rocks) within +-0.012 of 0.061, over > 1000 craters."""
    site = ce4_site()
    half = CE4_SIZE_PX * CE4_RES_M / 2
    c = site.craters
    c = c[(c["diameter_m"] >= 10.0) & (c["diameter_m"] <= 100.0)]
    c = inside(c, half, margin_m=c["diameter_m"].to_numpy())
    table = (c["depth_m"] / c["diameter_m"]).mean()
    assert table == pytest.approx(0.061, abs=0.005)
    dem = np.array([measured_depth_ratio(site.terrain, r.x_m, r.y_m, r.diameter_m) for r in c.itertuples()])
    assert len(dem) > 1000
    assert dem.mean() == pytest.approx(0.061, abs=0.012)
    # fresh craters exist and are deep on the DEM too
    fresh = c["depth_m"] / c["diameter_m"] > 0.17
    assert fresh.sum() > 20
    assert dem[fresh.to_numpy()].mean() > 0.14


def test_stamp_rejects_bad_tables():
    z = np.zeros((32, 32))
    with pytest.raises(ScenarioError):
        stamp_craters(z, pd.DataFrame({"x_m": [0.0], "y_m": [0.0], "diameter_m": [-1.0], "tau": [0.0]}),
                      resolution_m=1.0, x0_m=-16, y0_m=16)
    with pytest.raises(ScenarioError):
        stamp_craters(z, pd.DataFrame({"x_m": [0.0], "y_m": [0.0], "diameter_m": [5.0]}),
                      resolution_m=1.0, x0_m=-16, y0_m=16)
    with pytest.raises(ScenarioError):
        stamp_craters(z, pd.DataFrame({"x_m": [np.nan], "y_m": [0.0], "diameter_m": [5.0], "tau": [0.0]}),
                      resolution_m=1.0, x0_m=-16, y0_m=16)
