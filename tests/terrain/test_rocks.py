"""Rock populations (farside.terrain.rocks)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from farside.errors import FarsideError
from farside.terrain import rock_cfa, rock_q
from farside.terrain.rocks import ROCK_FILLET_HEIGHT, sample_ejecta_blocks, sample_rocks, stamp_rocks
from tests.terrain._generated import CE4_RES_M, CE4_SIZE_PX, ce4_site


def _cfa(rocks: pd.DataFrame, diam: np.ndarray, area_m2: float) -> np.ndarray:
    """Measured cumulative fractional area of rocks >= each diameter."""
    d = np.sort(rocks["diameter_m"].to_numpy())
    a = np.pi * d ** 2 / 4.0
    tail = np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])
    return tail[np.searchsorted(d, diam, side="left")] / area_m2


def test_q_and_cfa_values():
    """Golombek & Rapp: q(k) = 1.79 + 0.152/k, F = k exp(-q D) (docs/references.md 7.3); CE-4 k = 0.0021
    (Wu et al. 2021) gives q = 74.17 /m; Pathfinder k = 0.19 (Golombek et al. 2003) q = 2.59 /m."""
    assert rock_q(0.19) == pytest.approx(2.59, abs=0.005)
    assert rock_cfa(0.0, 0.19) == pytest.approx(0.19)
    assert rock_cfa(1.0, 0.19) == pytest.approx(0.19 * math.exp(-2.59), rel=2e-3)


@pytest.mark.parametrize("k, area_side_m, d_max", [(0.19, 400.0, 1.0), (0.08, 1200.0, 1.0)])
def test_background_cfa_follows_model_0p1_to_1m(k, area_side_m, d_max):
    """Background rocks only: the cumulative fractional area of the sampled population matches
    k exp(-q(k) D) (Golombek & Rapp 1997; docs/references.md 7.3) within 10 % for D = 0.1-1 m. The areas
    (0.16 and 1.44 km^2) hold > 400 rocks >= 1 m, so Poisson noise at 1 m is < 5 %."""
    rng = np.random.default_rng(11)
    half = area_side_m / 2
    rocks = sample_rocks((-half, half, -half, half), k=k, rng=rng, min_diameter_m=0.1)
    assert (rocks["diameter_m"] >= 1.0).sum() > 400
    diam = np.linspace(0.1, d_max, 19)
    got = _cfa(rocks, diam, area_side_m ** 2)
    want = rock_cfa(diam, k)
    np.testing.assert_allclose(got, want, rtol=0.10)


def test_background_cfa_ce4_abundance():
    """CE-4 k = 0.0021 (Wu et al. 2021; docs/references.md 7.3): q = 74 /m leaves almost no background
    rocks above 0.15 m, so the model is checked over 0.10-0.12 m, where a 100 km^2 area still holds
    > 1000 rocks >= 0.12 m: CFA within 10 %."""
    rng = np.random.default_rng(3)
    rocks = sample_rocks((-5000, 5000, -5000, 5000), k=0.0021, rng=rng, min_diameter_m=0.1)
    assert (rocks["diameter_m"] >= 0.12).sum() > 1000
    diam = np.linspace(0.10, 0.12, 5)
    np.testing.assert_allclose(_cfa(rocks, diam, 10000.0 ** 2), rock_cfa(diam, 0.0021), rtol=0.10)
    # and the model's point: essentially no background rock reaches 0.2 m (expected 0.02 in 100 km^2)
    assert (rocks["diameter_m"] >= 0.2).sum() <= 2


def test_rock_heights_and_columns():
    rng = np.random.default_rng(1)
    rocks = sample_rocks((0, 100, 0, 100), k=0.1, rng=rng)
    assert list(rocks.columns[:4]) == ["x_m", "y_m", "diameter_m", "height_m"]
    ratio = rocks["height_m"] / rocks["diameter_m"]
    assert ratio.between(0.3, 0.7).all()
    assert ratio.mean() == pytest.approx(0.5, abs=0.01)
    assert rocks["x_m"].between(0, 100).all() and rocks["y_m"].between(0, 100).all()


def test_ejecta_blocks_only_around_fresh_blocky_craters():
    craters = pd.DataFrame({
        "x_m": [0.0, 300.0, -300.0],
        "y_m": [0.0, 0.0, 0.0],
        "diameter_m": [60.0, 60.0, 10.0],
        "u": [0.0, 0.5, 0.0],  # fresh blocky, degraded, too small
    })
    rng = np.random.default_rng(2)
    b = sample_ejecta_blocks(craters, (-500, 500, -500, 500), rng=rng)
    assert len(b) > 100
    assert set(b["crater"]) == {0}
    r = np.hypot(b["x_m"], b["y_m"])
    assert r.between(30.0, 90.0).all()  # R .. 3R
    assert b["diameter_m"].max() <= 0.1 * 60.0
    # the abundance near the rim approaches the fresh-ejecta value (Diviner RA ~0.05 at young
    # craters, docs/references.md 1.3), and thins outward
    a = np.pi * b["diameter_m"] ** 2 / 4
    inner = a[r < 36].sum() / (np.pi * (36 ** 2 - 30 ** 2))
    outer = a[r > 60].sum() / (np.pi * (90 ** 2 - 60 ** 2))
    assert 0.02 < inner < 0.06
    assert outer < inner / 3


def test_rocks_larger_than_two_pixels_appear_in_dem():
    res = 0.5
    z = np.zeros((40, 40))
    rocks = pd.DataFrame({"x_m": [-5.0, 5.0], "y_m": [0.0, 0.0], "diameter_m": [2.0, 0.8],
                          "height_m": [1.0, 0.4]})
    h = stamp_rocks(z, rocks, resolution_m=res, x0_m=-10.0, y0_m=10.0)
    # the 2 m rock (4 px) rises to its height; the 0.8 m rock (1.6 px) is only in the table
    assert h[:, :20].max() == pytest.approx(1.0, abs=1e-12)
    assert h[:, 20:].max() == 0.0
    # footprint (at least the fillet's 8 % of the height): pi (D/2)^2 to within the pixels its edge
    # crosses (perimeter ~ 2 pi R x half a pixel); the fillet reaches at most 0.3 R further
    area = (h >= ROCK_FILLET_HEIGHT * 1.0 - 1e-9).sum() * res ** 2
    assert abs(area - math.pi * 1.0 ** 2) <= 2 * math.pi * 1.0 * res / 2
    assert (h > 0).sum() * res ** 2 <= math.pi * (1.5 * 1.0 + res) ** 2


@pytest.mark.slow
def test_ce4_site_rocks_table():
    """The default site: background rocks from k = 0.0021 plus ejecta blocks; the 0.2 m
    protrusions the lander looks for are mostly ejecta blocks (issue text); all rocks inside."""
    site = ce4_site()
    r = site.rocks
    half = CE4_SIZE_PX * CE4_RES_M / 2
    assert r["x_m"].abs().max() < half and r["y_m"].abs().max() < half
    big = r[r["diameter_m"] >= 0.2]
    assert len(big) > 0
    assert (big["source"] == "ejecta").mean() > 0.95
    assert set(r["source"].unique()) <= {"background", "ejecta"}


@pytest.mark.parametrize("kw", [{"k": 1.0}, {"k": -0.1}, {"k": float("nan")}, {"k": 0.1, "min_diameter_m": 0.0}])
def test_bad_rock_input(kw):
    with pytest.raises(FarsideError) as e:
        sample_rocks((0, 1, 0, 1), rng=np.random.default_rng(0), **kw)
    assert "is invalid" in str(e.value)
    with pytest.raises(FarsideError):
        rock_q(0.0)
    with pytest.raises(FarsideError):
        rock_cfa(float("nan"), 0.1)
