"""Ramp egress from the lander (farside.rover.egress) and the wheel-track raster
(farside.rover.tracks).

The lander geometry (deck 1.1 m above the ground, ramp 3.5 m, hinge 1.0 m from the lander's
centre) is UNCONFIRMED (docs/references.md 8); the tests check the geometry of that model against
hand-derived closed forms: straight rails lowered from the hinge until they touch the ground.
Track volumes are checked against sinkage x width x length (analytic).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from farside.errors import FarsideError
from farside.rover import YUTU2, EgressDecision, TrackRaster, imprint, plan_egress
from farside.terrain import Terrain

H, L, E = 1.1, 3.5, 1.0


def _terrain(fn, *, res=0.05, half=10.0, y0=None):
    n = int(round(2 * half / res))
    x0 = -half
    y0 = half if y0 is None else y0
    xc = x0 + (np.arange(n) + 0.5) * res
    yc = y0 - (np.arange(n) + 0.5) * res
    X, Y = np.meshgrid(xc, yc)
    return Terrain(fn(X, Y).astype(np.float32), res, x0_m=x0, y0_m=y0)


def _wheel_xy(x, y, heading_deg):
    h = math.radians(heading_deg)
    fwd = np.array([math.sin(h), math.cos(h)])
    left = np.array([-math.cos(h), math.sin(h)])
    b = YUTU2.wheel_xy_m
    return np.array([x, y]) + b[:, :1] * fwd + b[:, 1:2] * left


# ---------------------------------------------------------------------------------------------
# egress
@pytest.mark.parametrize("heading", [0.0, 117.0])
def test_flat_ground_ramp_angle_is_asin_height_over_length(heading):
    """On flat ground the rail tip rests on the ground: L sin(gamma) = H, gamma = asin(1.1/3.5)
    = 18.32 deg; the foot is E + L cos(gamma) from the lander's centre along the heading."""
    t = _terrain(lambda X, Y: 0 * X)
    d = plan_egress(YUTU2, t, None, lander_xy_m=(0.3, -0.2), lander_heading_deg=heading)
    assert isinstance(d, EgressDecision) and d.go
    gamma = math.asin(H / L)
    assert d.ramp_angle_deg == pytest.approx(math.degrees(gamma), abs=0.01)
    for c in d.candidates:
        assert c.ramp_angle_deg == pytest.approx(math.degrees(gamma), abs=0.01)
        assert c.contact_m == pytest.approx(L, abs=0.03)
        assert c.end_drop_m == pytest.approx(0.0, abs=1e-3)
    front = d.candidates[0]
    h = math.radians(heading)
    want = np.array([0.3, -0.2]) + (E + L * math.cos(gamma)) * np.array([math.sin(h), math.cos(h)])
    np.testing.assert_allclose(front.foot_xy_m, want, atol=2e-3)
    assert front.foot_z_m == pytest.approx(0.0, abs=1e-3)


def test_upslope_side_is_shallower_and_chosen():
    """Ground rising at sigma = 6 deg towards the lander's front (north). The hinge is at
    H above the ground under the lander's centre, E ahead; the tip at horizontal distance
    E + L cos(g) meets z = tan(sigma) x:  H - L sin(g) = t (E + L cos g), so
    sin(g + sigma) = (H - t E) cos(sigma) / L at the front, and at the rear (ground falling)
    sin(g - sigma) = (H + t E) cos(sigma) / L."""
    s = math.radians(6.0)
    t = math.tan(s)
    ter = _terrain(lambda X, Y: t * Y)
    d = plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0)
    front = math.degrees(math.asin((H - t * E) * math.cos(s) / L) - s)
    rear = math.degrees(math.asin((H + t * E) * math.cos(s) / L) + s)
    got = {c.side: c for c in d.candidates}
    assert got["front"].ramp_angle_deg == pytest.approx(front, abs=0.02)
    assert got["rear"].ramp_angle_deg == pytest.approx(rear, abs=0.02)
    assert got["front"].foot_slope_deg == pytest.approx(6.0, abs=0.01)
    assert d.go and d.side == "front"
    assert not got["rear"].go and "ramp angle" in got["rear"].reason      # 25.7 deg > 20 deg


def test_tall_rock_at_the_foot_refuses_that_side():
    """A rock 0.30 m high (> the 0.20 m obstacle limit) 0.5 m beyond the front ramp's foot, in
    the left wheel track: the front is refused, the rear chosen; a 0.15 m rock there is only a
    minor hazard (> half the limit), and the hazard-free rear side still wins."""
    ter = _terrain(lambda X, Y: 0 * X)
    foot_y = E + L * math.cos(math.asin(H / L))
    for h, front_ok in ((0.30, False), (0.15, True)):
        rocks = pd.DataFrame({"x_m": [-0.5], "y_m": [foot_y + 0.5], "diameter_m": [2 * h], "height_m": [h]})
        d = plan_egress(YUTU2, ter, rocks, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0)
        front = d.candidates[0]
        assert front.go is front_ok
        assert front.tallest_rock_m == pytest.approx(h)
        assert d.go and d.side == "rear"
        if not front_ok:
            assert "rock 0.30 m" in front.reason
        else:
            assert front.hazards == 1


def test_lander_tilt_changes_the_hinge_height():
    """Deck tilted 3 deg dipping towards the front: hinge height H - E tan(3 deg) at the front,
    H + E tan(3 deg) at the rear; on flat ground sin(g) = hinge height / L."""
    ter = _terrain(lambda X, Y: 0 * X)
    d = plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=90.0, lander_tilt_deg=3.0)
    tt = E * math.tan(math.radians(3.0))
    got = {c.side: c.ramp_angle_deg for c in d.candidates}
    assert got["front"] == pytest.approx(math.degrees(math.asin((H - tt) / L)), abs=0.01)
    assert got["rear"] == pytest.approx(math.degrees(math.asin((H + tt) / L)), abs=0.01)
    assert d.side == "front"


def test_ramp_resting_on_a_hump_is_refused():
    """A 0.5 m high block ending 2.5 m from the front hinge (its far top corner on a pixel
    centre). Lowered from above, the rail first meets that corner: tan(g) = (1.1 - 0.5) / 2.5,
    g = 13.50 deg, contact sqrt(2.5^2 + 0.6^2) = 2.571 m along the rail, and the rail's end is
    left 1.1 - 3.5 sin(g) = 0.283 m above the ground (> 0.20 m): refused."""
    ter = _terrain(lambda X, Y: np.where((Y > 3.395) & (Y < 3.505) & (np.abs(X) < 1.5), 0.5, 0.0),
                   res=0.01, half=8.0, y0=8.005)
    d = plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0)
    front = d.candidates[0]
    g = math.atan(0.6 / 2.5)
    assert front.ramp_angle_deg == pytest.approx(math.degrees(g), abs=0.01)
    assert front.contact_m == pytest.approx(math.hypot(2.5, 0.6), abs=0.01)
    assert front.end_drop_m == pytest.approx(1.1 - 3.5 * math.sin(g), abs=1e-3)
    assert not front.go and "high ground" in front.reason
    assert d.go and d.side == "rear"


def test_no_go_names_every_side():
    ter = _terrain(lambda X, Y: 0 * X)
    d = plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0, deck_height_m=1.5)
    assert not d.go and d.side is None
    assert "front: ramp angle 25.4 deg > 20 deg" in d.reason and "rear:" in d.reason
    with pytest.raises(FarsideError, match="sides"):
        plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0, sides=("up",))
    with pytest.raises(FarsideError, match="ramp_length_m"):
        plan_egress(YUTU2, ter, None, lander_xy_m=(0.0, 0.0), lander_heading_deg=0.0, ramp_length_m=1.0)


# ---------------------------------------------------------------------------------------------
# tracks
def _straight_path(x, y0, y1, step, heading=0.0):
    h = math.radians(heading)
    n = int(round((y1 - y0) / step)) + 1
    s = np.linspace(0, y1 - y0, n)
    return np.stack([_wheel_xy(x + si * math.sin(h), y0 + si * math.cos(h), heading) for si in s])


def test_straight_path_two_ruts_of_the_right_depth_width_and_volume():
    """A 4 m straight drive north with constant sinkage z: the six wheels leave two ruts (front,
    middle and rear wheels share a line), each centred at +-track/2, z deep, one wheel width wide
    and 4 m + wheelbase long: carved volume z b (4 + 1) per rut (analytic; the box-filtered edges
    make the sum exact to rounding for an axis-aligned rut)."""
    z, b = 0.012, YUTU2.wheel_width_m
    ras = TrackRaster.around(0.0, 0.0, half_width_m=4.0, resolution_m=0.01)
    xy = _straight_path(0.0137, -2.0, 2.0, 0.25)
    imprint(ras, xy, np.full(xy.shape[:2], z), b)
    c = ras.carve_m.astype(float)
    X = ras.x_m[None, :]
    for side, xc in ((X < 0, -0.5 + 0.0137), (X > 0, 0.5 + 0.0137)):
        cs = np.where(side, c, 0.0)
        assert cs.sum() * 0.01 ** 2 == pytest.approx(z * b * 5.0, rel=1e-4)
        assert (cs * X).sum() / cs.sum() == pytest.approx(xc, abs=1e-4)
    row = int(np.argmin(np.abs(ras.y_m - 0.3)))
    assert c[row].max() == pytest.approx(z, rel=1e-6)
    assert np.where(X[0] < 0, c[row], 0).sum() * 0.01 / z == pytest.approx(b, rel=1e-4)
    # rut positions match the rover's track
    left = np.where(X[0] < 0, c[row], 0)
    right = np.where(X[0] > 0, c[row], 0)
    sep = (right * X[0]).sum() / right.sum() - (left * X[0]).sum() / left.sum()
    assert sep == pytest.approx(YUTU2.track_m, abs=1e-4)
    ter = ras.to_terrain_delta()
    assert isinstance(ter, Terrain) and ter.heights.dtype == np.float32
    assert float(ter.height_at(0.5137, 0.3)) == pytest.approx(-z, abs=1e-7)
    assert float(ter.height_at(0.0, 0.3)) == 0.0
    assert ras.clipped_segments == 0


def test_diagonal_rut_volume_and_mass_conserving_berm():
    """Heading 37 deg, 3 m, sinkage 0.02 m: rut volume z b (3 + 1) within the pixelisation of a
    slanted edge (0.5 %); with ``berm_fraction = 1`` the displaced soil piles beside the rut
    (height z (b/2) / berm width = z) and the net volume is ~0."""
    z, b = 0.02, YUTU2.wheel_width_m
    xy = _straight_path(-1.0, -1.5, 1.5, 0.25, heading=37.0)
    ras = TrackRaster.around(0.0, 0.0, half_width_m=4.0, resolution_m=0.01)
    imprint(ras, xy, np.full(xy.shape[:2], z), b)
    vol = ras.carve_m.sum(dtype=float) * 1e-4
    assert vol == pytest.approx(2 * z * b * 4.0, rel=5e-3)
    ras2 = TrackRaster.around(0.0, 0.0, half_width_m=4.0, resolution_m=0.01)
    imprint(ras2, xy, np.full(xy.shape[:2], z), b, berm_fraction=1.0)
    assert ras2.berm_m.max() == pytest.approx(z, rel=1e-5)
    assert abs(ras2.delta_m.sum(dtype=float) * 1e-4) < 0.01 * vol


def test_grouser_marks_at_the_grouser_pitch():
    """24 grousers on a 0.15 m radius wheel mark the rut every 2 pi 0.15 / 24 = 39.3 mm; the
    modulation is the grouser height (5 mm) peak to peak. Spectrum of the rut floor along its
    centre line: the peak is at 1/pitch."""
    r, ng, hg, z = YUTU2.wheel_radius_m, YUTU2.grouser_count, YUTU2.grouser_height_m, 0.01
    ras = TrackRaster.around(0.0, 0.0, half_width_m=1.5, resolution_m=0.004)
    xy = np.stack([[[0.0, y]] for y in np.linspace(-1.2, 1.2, 25)])
    imprint(ras, xy, np.full(xy.shape[:2], z), 0.15, wheel_radius_m=r, grouser_count=ng, grouser_height_m=hg)
    col = int(np.argmin(np.abs(ras.x_m)))
    prof = ras.carve_m[:, col].astype(float)
    inside = (ras.y_m > -1.1) & (ras.y_m < 1.1)
    p = prof[inside]
    assert p.max() - p.min() == pytest.approx(hg, rel=0.02)
    spec = np.abs(np.fft.rfft(p - p.mean()))
    f = np.fft.rfftfreq(p.size, d=0.004)
    assert f[np.argmax(spec)] == pytest.approx(ng / (2 * math.pi * r), rel=0.03)


def test_track_delta_writes_as_a_geotiff(tmp_path):
    """The delta round-trips through the site DEM writer/reader (same frame, float32)."""
    from farside.terrain import read_dem, write_dem

    ras = TrackRaster.around(12.0, -7.0, half_width_m=1.0, resolution_m=0.02, anchor_lat_deg=-45.4446,
                             anchor_lon_deg=177.5991)
    xy = _straight_path(12.0, -7.8, -6.2, 0.2)
    imprint(ras, xy, np.full(xy.shape[:2], 0.01), 0.15)
    path = write_dem(ras.to_terrain_delta(), tmp_path / "tracks.tif")
    back = read_dem(path)
    assert (back.anchor_lat_deg, back.anchor_lon_deg) == pytest.approx((-45.4446, 177.5991))
    assert ras.to_terrain_delta(anchor_lat_deg=10.0, anchor_lon_deg=20.0).anchor_lat_deg == 10.0
    assert (back.x0_m, back.y0_m, back.resolution_m) == pytest.approx((ras.x0_m, ras.y0_m, 0.02))
    np.testing.assert_array_equal(back.heights, ras.delta_m)


def test_long_steps_are_not_carved_and_errors():
    ras = TrackRaster.around(0.0, 0.0, half_width_m=3.0, resolution_m=0.02)
    xy = np.array([[[0.0, -2.0]], [[0.0, 2.0]]])                       # a 4 m jump
    imprint(ras, xy, np.full((2, 1), 0.01), 0.15)
    assert ras.carve_m.max() == 0.0
    with pytest.raises(FarsideError, match="sinkage_m"):
        imprint(ras, xy, np.full((2, 2), 0.01), 0.15)
    with pytest.raises(FarsideError, match="resolution_m"):
        TrackRaster.around(0.0, 0.0, resolution_m=0.0)
