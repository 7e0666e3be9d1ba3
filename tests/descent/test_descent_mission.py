"""Closed-loop descents: the nominal Chang'e-4 case, hazard avoidance, Monte Carlo, determinism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from farside.constants import CE4_ELEVATION_M, CE4_LAT_DEG, CE4_LON_DEG
from farside.descent import CE4_LANDER, Dispersions, simulate_descent


@pytest.mark.slow  # ~4 s warm, ~20 s on a cold numba cache (first compile of the kernels)
def test_nominal_chang_e4_descent(ce4_site, ce4_hazards):
    """Nominal CE-4 landing against the published profile (docs/references.md 1.1, 2.1, 2.2).

    Published: ~700 s from ignition ("690 s", Xinhua; 02:15 -> 02:26 UTC); hover at 100 m; engine
    cut-off at 2 m; CE-5 touched down at 1.99 m/s vertical, 0.0085 m/s horizontal and used 1,898 kg
    of propellant (heavier vehicle). Checks: duration 650-750 s; hover 100 +- 5 m above the ground;
    cut-off 2 +- 0.3 m; vertical speed below the 4 m/s limit (free fall from 2 m at ~1 m/s gives
    sqrt(1 + 2 g 2) = 2.73 m/s); horizontal below 0.5 m/s; propellant between the ideal
    rocket-equation minimum for killing the 1.69 km/s perilune speed and CE-5's 1,898 kg.
    """
    r = simulate_descent(ce4_site, rng=np.random.default_rng(4), hazards=ce4_hazards)
    print(f"\nnominal: {r.duration_s:.1f} s, hover {r.hover_altitude_m:.2f} m, cut-off {r.cutoff_height_m:.2f} m, "
          f"v_z {r.vertical_speed_mps:.2f} m/s, v_h {r.horizontal_speed_mps:.3f} m/s, "
          f"propellant {r.propellant_used_kg:.0f} kg, divert {r.coarse_divert_m:.1f} + {r.divert_m:.1f} m, "
          f"safe {r.safe} {r.failed_criteria}")
    assert 650.0 <= r.duration_s <= 750.0
    assert abs(r.hover_altitude_m - 100.0) <= 5.0
    assert abs(r.cutoff_height_m - 2.0) <= 0.3
    assert r.vertical_speed_mps < CE4_LANDER.limits.max_vertical_speed_mps
    assert abs(r.vertical_speed_mps - math.sqrt(1.0 + 2 * 1.62 * r.cutoff_height_m)) < 0.15
    assert r.horizontal_speed_mps < 0.5
    ve = CE4_LANDER.exhaust_velocity_mps
    ideal = CE4_LANDER.ignition_mass_kg * (1 - math.exp(-1692.0 / ve))
    assert ideal < r.propellant_used_kg < 1898.0
    assert r.safe, r.failed_criteria
    # touchdown within the landing area: a few hundred metres of the published CE-4 point
    dist = math.hypot((r.touchdown_lat_deg - CE4_LAT_DEG) * 30323.0,
                      (r.touchdown_lon_deg - CE4_LON_DEG) * 30323.0 * math.cos(math.radians(CE4_LAT_DEG)))
    assert dist < 1000.0
    names = list(r.phase_start_s)
    assert names == ["main_braking", "quick_adjustment", "approach", "hover", "avoidance", "slow_descent",
                     "free_fall", "touchdown"]
    # truth and estimate are kept apart: the navigation error at touchdown is not zero
    tr = r.trajectory
    assert np.hypot(tr[-1, 13] - tr[-1, 2], tr[-1, 14] - tr[-1, 3]) > 0.01


def _plane_site(rocks=None, craters=None, n=1400):
    from farside.terrain import Terrain

    res = 1.0
    x = (np.arange(n) + 0.5) * res - n * res / 2
    h = np.full((n, n), CE4_ELEVATION_M, dtype=np.float64)
    for cx, cy, d, depth in (craters or []):
        X, Y = np.meshgrid(x - cx, -(x) - cy)   # rows go south
        r = np.hypot(X, Y) / (d / 2)
        bowl = depth * (r ** 2 - 1.0)
        rim = 0.04 * d * np.exp(-((r - 1.0) / 0.25) ** 2)
        h += np.where(r < 1.0, bowl, 0.0) + rim
    t = Terrain(h.astype(np.float32), res, x0_m=-n * res / 2, y0_m=n * res / 2,
                anchor_lat_deg=CE4_LAT_DEG, anchor_lon_deg=CE4_LON_DEG)

    class S:
        terrain = t
    S.rocks = pd.DataFrame(rocks or [], columns=["x_m", "y_m", "diameter_m", "height_m"])
    S.craters = None
    return S


@pytest.mark.parametrize("hazard", ["crater", "rock"])
def test_hazard_at_the_aim_point(hazard):
    """A fresh crater (D = 40 m, d/D = 0.2, Pike 1974, docs/references.md 7.2) or a 0.5 m rock where
    the lander would touch down: with HDA it diverts and lands safely; without it does not.

    The hazard is placed where the flat-site flight of the same seed touched down (the aim point as
    realised through navigation, which carries the orbit-determination error).
    """
    seed = 11
    flat = _plane_site()
    r0 = simulate_descent(flat, rng=np.random.default_rng(seed), hda=False)
    x, y = r0.touchdown_x_m, r0.touchdown_y_m
    if hazard == "crater":
        site = _plane_site(craters=[(x + 10.0, y, 40.0, 8.0)])   # touchdown point on the west wall
    else:
        site = _plane_site(rocks=[(x + 0.2, y - 0.1, 1.0, 0.5)])
    off = simulate_descent(site, rng=np.random.default_rng(seed), hda=False)
    on = simulate_descent(site, rng=np.random.default_rng(seed), hda=True)
    print(f"\n{hazard}: without HDA failed {off.failed_criteria} (slope {off.touchdown.slope_deg:.1f} deg, "
          f"obstacle {off.touchdown.obstacle_m:.2f} m); with HDA divert {on.divert_m:.1f} m, safe {on.safe}")
    assert not off.safe
    assert ("slope" if hazard == "crater" else "rock_clearance") in off.failed_criteria
    assert on.safe, on.failed_criteria
    assert on.divert_m > (2.0 if hazard == "rock" else 10.0)
    assert on.fine_found_safe


@pytest.mark.slow
def test_dispersed_landings_with_and_without_hda(ce4_site, ce4_hazards, report_measured):
    """200 dispersed landings on the default site, each flown with and without hazard avoidance
    (paired: same dispersions and sensor errors). Requirement: >= 99 % safe with avoidance."""
    n = 200
    seeds = np.random.SeedSequence(2019).spawn(n)
    disp = Dispersions()
    safe_on = safe_off = 0
    fails_on: dict[str, int] = {}
    fails_off: dict[str, int] = {}
    for ss in seeds:
        on = simulate_descent(ce4_site, dispersions=disp, rng=np.random.default_rng(ss), hda=True, hazards=ce4_hazards)
        off = simulate_descent(ce4_site, dispersions=disp, rng=np.random.default_rng(ss), hda=False,
                               hazards=ce4_hazards)
        safe_on += on.safe
        safe_off += off.safe
        for c in on.failed_criteria:
            fails_on[c] = fails_on.get(c, 0) + 1
        for c in off.failed_criteria:
            fails_off[c] = fails_off.get(c, 0) + 1
        assert 640.0 < on.duration_s < 760.0
    rate_on, rate_off = safe_on / n, safe_off / n
    report_measured(f"descent: safe-landing rate over {n} dispersed landings: with HDA {rate_on:.1%} "
                    f"(failures {fails_on}), without HDA {rate_off:.1%} (failures {fails_off})")
    assert rate_on >= 0.99
    assert rate_off < rate_on


def test_same_seed_same_trajectory_byte_for_byte(ce4_site, ce4_hazards):
    a = simulate_descent(ce4_site, dispersions=Dispersions(), rng=np.random.default_rng(7), hazards=ce4_hazards)
    b = simulate_descent(ce4_site, dispersions=Dispersions(), rng=np.random.default_rng(7), hazards=ce4_hazards)
    c = simulate_descent(ce4_site, dispersions=Dispersions(), rng=np.random.default_rng(8), hazards=ce4_hazards)
    assert a.trajectory.tobytes() == b.trajectory.tobytes()
    assert a.summary() == b.summary()
    assert a.trajectory.tobytes() != c.trajectory.tobytes()
