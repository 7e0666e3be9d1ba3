"""The coarse (LCAM, ~2 km) hazard map as it runs: ``prepare_hazards`` renders the LCAM frame of a
hand-made terrain and ``coarse_hazard_map`` marks it; the results are checked against the known
terrain (feature positions and sizes, true slopes) and against brute-force geometry.

Independent truth used here:

* the LCAM preset numbers of docs/references.md 4.1 (f = 8.55 mm, 6.7 um pixels, 1024 px) and
  the 2 km coarse-HDA height of docs/references.md 2.1 give the ground pixel
  2000 m x 6.7 um / 8.55 mm = 1.567 m;
* the terrains are built in the test (a flat plane, a shadowed pit, a fresh crater with
  depth/diameter 0.2 from docs/references.md 7.2 (Pike 1974), 12 deg cones, a wide 20 deg
  cone and a 200 m crater), so hazard positions, sizes and slopes are known exactly;
* the Sun is the one of the Chang'e-4 touchdown (``farside.ephemeris``: elevation 31.5 deg,
  azimuth 50.7 deg), the Sun the production stage uses;
* Lambert's cosine law gives the brightness change of a tilted facet (see
  ``test_slopes_facing_toward_or_away_from_the_sun_are_flagged``);
* the safe-point rule of ``farside.descent.hda`` (module docstring) is recomputed by brute force
  with scipy's exact Euclidean distance transform.

Locality bound used for false alarms: the map's filters look at most half the 31 px shading window
(15 px) plus the half texture window of the final dilation (4 px) away, i.e. 19 px = 29.8 m at
1.567 m/px; "beyond 30 m of a feature" (or of the unknown area outside the DEM) must be clear.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from farside import constants as C
from farside.descent import CE4_LANDER, prepare_hazards, select_safe_point
from farside.terrain import Terrain

#: LCAM ground pixel at 2 km (docs/references.md 4.1, 2.1), metres
LCAM_GSD_2KM_M = 2000.0 * 6.7e-6 / 8.55e-3
#: documented reach of the map's filters (module docstring), metres
LOCALITY_M = 30.0

# the hand-made site: 512 x 512 DEM pixels of 2 m, deliberately off-centre so that the LCAM
# footprint (about 1.6 km) sees the DEM's four edges (x -600..424 m, y -624..400 m)
N_DEM, RES_DEM = 512, 2.0
X0_DEM, Y0_DEM = -600.0, 400.0

# feature (x, y, radius) in site ENU metres
PIT = (-400.0, 250.0, 8.0)            # cylinder 16 m wide, 10 m deep: floor in the shadow
PIT_DEPTH_M = 10.0
CRATER = (-150.0, 250.0, 15.0)        # fresh bowl crater D = 30 m, d = 0.2 D
MOUND = (100.0, 250.0, 20.0)          # cone, 12 deg flanks, 4.25 m high
DIMPLE = (300.0, 250.0, 20.0)         # inverted cone, 12 deg
BIG_CONE = (-400.0, -400.0, 120.0)    # cone, 20 deg flanks, 240 m wide
BIG_CRATER = (150.0, -350.0, 100.0)   # fresh bowl crater D = 200 m, d = 40 m
CONE_SLOPE_DEG = 12.0
BIG_CONE_SLOPE_DEG = 20.0
DEPTH_TO_DIAMETER = 0.2               # docs/references.md 7.2 (Pike 1974)
FEATURES = (PIT, CRATER, MOUND, DIMPLE, BIG_CONE, BIG_CRATER)


def _ce4_sun() -> np.ndarray:
    from farside.ephemeris import sun_direction_enu

    s = sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, C.CE4_TOUCHDOWN_UTC)
    return np.asarray(s, dtype=float).reshape(-1, 3)[0]


def _dem_xy():
    xc = X0_DEM + (np.arange(N_DEM) + 0.5) * RES_DEM
    yc = Y0_DEM - (np.arange(N_DEM) + 0.5) * RES_DEM
    return np.meshgrid(xc, yc)


def _bowl(x, y, c):
    cx, cy, r0 = c
    r = np.hypot(x - cx, y - cy)
    d = DEPTH_TO_DIAMETER * 2.0 * r0
    return np.where(r < r0, -d * (1.0 - (r / r0) ** 2), 0.0)


def _cone(x, y, c, sign, slope_deg=CONE_SLOPE_DEG):
    cx, cy, r0 = c
    r = np.hypot(x - cx, y - cy)
    return sign * np.where(r < r0, (r0 - r) * math.tan(math.radians(slope_deg)), 0.0)


def _feature_heights() -> np.ndarray:
    x, y = _dem_xy()
    h = np.where(np.hypot(x - PIT[0], y - PIT[1]) < PIT[2], -PIT_DEPTH_M, 0.0)
    h = h + _bowl(x, y, CRATER) + _bowl(x, y, BIG_CRATER)
    h = h + _cone(x, y, MOUND, +1.0) + _cone(x, y, DIMPLE, -1.0) + _cone(x, y, BIG_CONE, +1.0, BIG_CONE_SLOPE_DEG)
    return h


def _true_slope_deg(x: float, y: float) -> float:
    """Analytic slope of the hand-made terrain at (x, y), degrees."""
    for c in (CRATER, BIG_CRATER):
        r = math.hypot(x - c[0], y - c[1])
        if r < c[2]:
            return math.degrees(math.atan(2.0 * DEPTH_TO_DIAMETER * 2.0 * c[2] * r / c[2] ** 2))
    for c, s in ((MOUND, CONE_SLOPE_DEG), (DIMPLE, CONE_SLOPE_DEG), (BIG_CONE, BIG_CONE_SLOPE_DEG)):
        if math.hypot(x - c[0], y - c[1]) < c[2]:
            return s
    if math.hypot(x - PIT[0], y - PIT[1]) < PIT[2] + RES_DEM:
        return 90.0
    return 0.0


def _hazards(heights):
    ter = Terrain(np.asarray(heights, np.float32), RES_DEM, x0_m=X0_DEM, y0_m=Y0_DEM)
    return prepare_hazards(ter, sun_dir_enu=_ce4_sun(), rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def flat_map():
    return _hazards(np.zeros((N_DEM, N_DEM))).coarse


@pytest.fixture(scope="module")
def feature_map():
    return _hazards(_feature_heights()).coarse


def _cell_xy(hmap):
    i, j = np.meshgrid(np.arange(hmap.hazard.shape[0]), np.arange(hmap.hazard.shape[1]), indexing="ij")
    return hmap.xy(i, j)


def _known_core(hmap) -> np.ndarray:
    """Cells seeing the DEM and farther than the filters' reach from the unknown area beyond it."""
    seen = np.isfinite(hmap.image)
    return ndimage.distance_transform_edt(seen) * hmap.spacing_m > LOCALITY_M


# ------------------------------------------------------------------------------------------------
def test_flat_lit_site_is_georeferenced_and_hazard_free(flat_map):
    """A flat, sunlit DEM seen from 2 km: (1) the map's pixel spacing is the LCAM ground pixel of
    docs/references.md 4.1 at 2 km, 1.567 m; (2) the cells that see the DEM (finite image) span
    exactly the DEM's mesh, whose vertices are the outer pixel centres x -599..423 m,
    y -623..399 m: each edge within one map pixel (measured 0.78-0.94 m; a flipped axis would miss
    by hundreds of metres, a principal point taken at the image centre, 33 px off the label's
    478.63 px, by 51 m); (3) every cell beyond the DEM is a hazard (unknown); (4) no cell farther
    than 30 m from the unknown area is flagged (measured: none of 377,000)."""
    m = flat_map
    assert m.spacing_m == pytest.approx(LCAM_GSD_2KM_M, rel=1e-9)
    seen = np.isfinite(m.image)
    x, y = _cell_xy(m)
    sx, sy = x[seen], y[seen]
    half = 0.5 * RES_DEM
    edges = {"west": (sx.min(), X0_DEM + half), "east": (sx.max(), X0_DEM + N_DEM * RES_DEM - half),
             "south": (sy.min(), Y0_DEM - N_DEM * RES_DEM + half), "north": (sy.max(), Y0_DEM - half)}
    for name, (got, want) in edges.items():
        assert abs(got - want) <= m.spacing_m, f"{name} edge at {got:.2f} m, DEM mesh at {want:.2f} m"
    # the seen region is the DEM's rectangle: every cell a pixel inside it sees the DEM, none a
    # pixel outside it does
    def box(grow):
        return ((x > edges["west"][1] - grow) & (x < edges["east"][1] + grow)
                & (y > edges["south"][1] - grow) & (y < edges["north"][1] + grow))
    assert seen[box(-m.spacing_m)].all() and not seen[~box(m.spacing_m)].any()
    assert m.hazard[~seen].all()
    core = _known_core(m)
    assert core.sum() > 300_000                       # about 0.9 km^2 of flat, lit ground
    assert not m.hazard[core].any(), f"{int(m.hazard[core].sum())} false hazard cells on a flat, lit plane"


def test_shadowed_pit_is_flagged_at_its_true_position(feature_map):
    """A 16 m wide, 10 m deep pit: with the Sun 31.5 deg high its floor is in shadow (shadow
    length 10 m / tan 31.5 deg = 16.3 m > 16 m). Every map cell over the pit is flagged; the flagged
    blob's centroid (a symmetric shape about the pit) lies within one map pixel (1.567 m) of the
    pit's true site-ENU centre (measured 0.68 m); nothing is flagged beyond 30 m of the rim
    (measured: the blob ends 22 m from the centre, 14 m beyond the rim)."""
    m = feature_map
    x, y = _cell_xy(m)
    r = np.hypot(x - PIT[0], y - PIT[1])
    assert m.hazard[r < PIT[2]].all()
    blob = m.hazard & (r < PIT[2] + 2 * LOCALITY_M)
    off = math.hypot(x[blob].mean() - PIT[0], y[blob].mean() - PIT[1])
    assert off <= m.spacing_m, f"pit blob centroid {off:.2f} m from the pit"
    assert not (m.hazard & (r > PIT[2] + LOCALITY_M) & (r < PIT[2] + 3 * LOCALITY_M)).any()


def test_fresh_crater_is_flagged_where_it_is(feature_map):
    """A fresh bowl crater D = 30 m, depth 0.2 D = 6 m (docs/references.md 7.2; walls up to 38.7
    deg, steeper than the 31.5 deg Sun, so its sunward rim shadows the floor): at least 99 % of
    the map cells inside the rim are flagged (measured: 100 %), and nothing beyond 30 m of the
    rim (measured: the blob ends 11 m beyond it)."""
    m = feature_map
    x, y = _cell_xy(m)
    r = np.hypot(x - CRATER[0], y - CRATER[1])
    frac = float(m.hazard[r < CRATER[2]].mean())
    assert frac >= 0.99, f"only {frac:.1%} of the crater flagged"
    assert not (m.hazard & (r > CRATER[2] + LOCALITY_M) & (r < CRATER[2] + 3 * LOCALITY_M)).any()


@pytest.mark.parametrize("feature, sign", [(MOUND, +1.0), (DIMPLE, -1.0)], ids=["mound", "dimple"])
def test_slopes_facing_toward_or_away_from_the_sun_are_flagged(feature_map, feature, sign):
    """12 deg cone flanks (4 deg above the 8 deg touchdown limit) 40 m wide, smaller than the
    map's 49 m shading window. Lambert: a facet of slope s whose down-slope azimuth is phi from
    the Sun's has cos(i) = cos s sin e + sin s cos e cos phi, so relative to level ground
    (e = 31.5 deg) its brightness changes by (cos s - 1) + sin s cot e cos phi = -0.02 + 0.34 cos phi,
    beyond the map's 20 % tilt threshold for |phi| < 49 deg or > 122 deg (facing the Sun / away;
    measured in the rendered Hapke frame: +26 % / -30 % against the level ground around). Those
    flanks (2 m inside the rim and out of the apex) are entirely flagged (measured 100 %); over the
    whole cone at least 60 % (measured 69-71 %: flanks side-on to the Sun barely change
    brightness, which no single grey-level image can see)."""
    m = feature_map
    x, y = _cell_xy(m)
    cx, cy, r0 = feature
    r = np.hypot(x - cx, y - cy)
    sun = _ce4_sun()
    down = np.arctan2(sign * (x - cx), sign * (y - cy))       # azimuth of the down-slope direction
    phi = np.degrees(np.angle(np.exp(1j * (down - math.atan2(sun[0], sun[1])))))
    flank = (r > 2.0) & (r < r0 - 2.0)
    lit_axis = flank & ((np.abs(phi) < 45.0) | (np.abs(phi) > 135.0))
    assert lit_axis.sum() > 150
    assert m.hazard[lit_axis].all(), f"{float(m.hazard[lit_axis].mean()):.1%} of the sun-axis flanks flagged"
    assert m.hazard[r < r0].mean() >= 0.60
    assert not (m.hazard & (r > r0 + LOCALITY_M) & (r < r0 + 3 * LOCALITY_M)).any()


def test_no_false_alarms_on_the_flat_remainder(feature_map):
    """Between the features the terrain is flat and lit: no map cell farther than 30 m from every
    feature's rim and from the unknown area beyond the DEM is flagged."""
    m = feature_map
    x, y = _cell_xy(m)
    far = _known_core(m)
    for cx, cy, r0 in FEATURES:
        far &= np.hypot(x - cx, y - cy) > r0 + LOCALITY_M
    assert far.sum() > 250_000
    assert not m.hazard[far].any(), f"{int(m.hazard[far].sum())} false hazard cells"


@pytest.mark.parametrize("plan", [CRATER[:2], PIT[:2], (MOUND[0] + 5.0, MOUND[1] - 5.0)],
                         ids=["crater", "pit", "mound"])
def test_safe_point_keeps_the_safe_radius_and_is_the_rule_optimum(feature_map, plan):
    """Coarse re-targeting (``CE4_LANDER.hda``: 10 m clearance, 300 m divert, 0.05 weight) from a
    planned point on a hazard: (1) the chosen point is at least 10 m from every flagged cell
    centre (brute-force distance to all of them); (2) it is within 300 m of the plan; (3) its
    score min(clearance, 20 m) - 0.05 divert equals the best score over all cells within reach,
    recomputed with scipy's exact Euclidean distance transform (ties allowed); (4) it lies on
    ground whose true slope is within the 8 deg touchdown limit (``CE4_LANDER.limits``).
    Measured: diverts of 37, 39 and 25 m to level ground 20.1-20.4 m from the nearest flag."""
    m = feature_map
    hs = CE4_LANDER.hda
    xp, yp = plan
    xs, ys, found, clear = select_safe_point(m, xp, yp, safe_radius_m=hs.coarse_safe_radius_m,
                                             divert_max_m=hs.coarse_divert_max_m,
                                             divert_weight=hs.coarse_divert_weight)
    assert found
    x, y = _cell_xy(m)
    hz = m.hazard
    dmin = float(np.min(np.hypot(x[hz] - xs, y[hz] - ys)))
    assert dmin >= hs.coarse_safe_radius_m - 1e-9
    divert = math.hypot(xs - xp, ys - yp)
    assert divert <= hs.coarse_divert_max_m
    cap = 2.0 * hs.coarse_safe_radius_m
    assert min(clear, cap) == pytest.approx(min(dmin, cap), abs=1e-9)
    bf = ndimage.distance_transform_edt(~hz) * m.spacing_m
    d = np.hypot(x - xp, y - yp)
    ok = (d <= hs.coarse_divert_max_m) & (bf >= hs.coarse_safe_radius_m)
    best = float(np.max(np.minimum(bf[ok], cap) - hs.coarse_divert_weight * d[ok]))
    got = min(dmin, cap) - hs.coarse_divert_weight * divert
    assert got == pytest.approx(best, abs=1e-9)
    assert _true_slope_deg(xs, ys) <= CE4_LANDER.limits.max_slope_deg


# ------------------------------------------------------------------------------------------------
# Known limitation (reported to the lead, not fixed here): the tilt cue compares the local
# brightness with its mean over the 31 px (49 m) shading window, so a slope wider than that window
# is invisible once its edges are passed.
@pytest.mark.xfail(strict=True, reason="coarse_hazard_map's tilt cue is a 49 m high-pass: slopes wider "
                                       "than the shading window are not flagged (measured 12 % of the "
                                       "sun-axis flanks of a 240 m wide 20 deg cone)")
def test_wide_slope_is_flagged(feature_map):
    """A 240 m wide cone with 20 deg flanks (12 deg above the touchdown limit; no cast shadow, the
    Sun is higher than the flanks are steep). In the rendered LCAM frame its flanks facing the
    Sun are 28 % brighter and those facing away 43 % darker than the level ground around it
    (measured), beyond the map's 20 % tilt threshold, so, as on the small cones, at least 90 % of
    the flanks within 45 deg of the Sun's azimuth (toward or away) should be flagged.
    Measured: 12 % (0.5 % of the sunward flank)."""
    m = feature_map
    x, y = _cell_xy(m)
    cx, cy, r0 = BIG_CONE
    r = np.hypot(x - cx, y - cy)
    sun = _ce4_sun()
    phi = np.degrees(np.angle(np.exp(1j * (np.arctan2(x - cx, y - cy) - math.atan2(sun[0], sun[1])))))
    lit_axis = (r > 2.0) & (r < r0 - 2.0) & ((np.abs(phi) < 45.0) | (np.abs(phi) > 135.0))
    assert m.hazard[lit_axis].mean() >= 0.9


@pytest.mark.xfail(strict=True, reason="coarse re-targeting stays on the 22 deg wall of a 200 m fresh "
                                       "crater (its interior is not flagged beyond the shading window)")
def test_retargeting_leaves_a_wide_crater_wall(feature_map):
    """Planned point on the wall of a fresh 200 m crater (d = 40 m, docs/references.md 7.2), at half
    its radius where the true slope is atan(0.8 x 0.5) = 21.8 deg: the coarse choice (300 m of
    divert available, so level ground outside the rim is within reach) should be on ground within
    the 8 deg touchdown limit. Measured: it moves 0.7 m and stays at r = 0.5 R on a 21.6 deg slope,
    found_safe True (31 % of the crater's cells are flagged, none near that point)."""
    m = feature_map
    hs = CE4_LANDER.hda
    cx, cy, r0 = BIG_CRATER
    xs, ys, _, _ = select_safe_point(m, cx, cy - 0.5 * r0, safe_radius_m=hs.coarse_safe_radius_m,
                                         divert_max_m=hs.coarse_divert_max_m,
                                         divert_weight=hs.coarse_divert_weight)
    assert _true_slope_deg(xs, ys) <= CE4_LANDER.limits.max_slope_deg
