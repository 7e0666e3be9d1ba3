"""The rover's perception chain for localisation (farside.rover.perception): which Navcam pairs a
stop takes for the relocalisation and the visual odometry, and how a traverse's pairs are chained
(farside.rover.perception.localisation_stops)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.errors import ScenarioError
from farside.render import navcam_pair
from farside.rover.perception import ARRIVAL_TOL_DEG, RELOC_RANGE_M, StereoPerception, localisation_stops


def _images(heading_deg, pans, extra=()):
    """Image entries (kind, pan, cams, left, right) with the pan written into the images."""
    out = []
    for kind, pan in [("navcam", p) for p in pans] + list(extra):
        cams = navcam_pair(position_enu=(0.0, 0.0, 1.5), pan_rad=math.radians(heading_deg + pan),
                           tilt_rad=math.radians(-25.0))
        out.append((kind, pan, cams, np.full((4, 4), pan), np.full((4, 4), -pan)))
    return out


def test_chain_picks_the_pairs_facing_each_leg():
    """Headings 90, 90, 200 deg (a 110 deg turn before the last stop) with mast pans -40/0/+40:
    stop 0 departs on its pan-0 pair (next heading 90), stop 1 on +40 (130 deg, nearest 200), and
    stop 2 arrives on its arrival pair (pan -70: 130 deg) and keeps pan 0 as its main pair."""
    pans = (-40.0, 0.0, 40.0)
    ims = [_images(90.0, pans), _images(90.0, pans), _images(200.0, pans, extra=[("arrival", -70.0)])]
    ims[0].append(_images(90.0, (), extra=[("lander", 120.0)])[0])
    st = localisation_stops(ims, [90.0, 90.0, 200.0], [1.0, 2.0, math.nan])
    assert [round(math.degrees(s.pan_rad)) for s in st] == [0, 40, 0]
    assert st[0].arrival_left_dn is None                      # the first stop: no step ends there
    # stop 1 arrives on the pair facing where stop 0's main pair looked (pan 0), departs on +40
    assert st[1].arrival_left_dn[0, 0] == 0.0 and st[1].arrival_pan_rad == 0.0
    assert st[2].arrival_left_dn is not None and st[2].arrival_left_dn[0, 0] == -70.0
    assert math.degrees(st[2].arrival_pan_rad) == pytest.approx(-70.0)
    assert st[0].reloc_left_dn is not None and st[0].reloc_left_dn[0, 0] == 120.0
    assert st[1].heading_rad == 2.0 and math.isnan(st[2].heading_rad)
    assert math.degrees(st[0].tilt_rad) == pytest.approx(-25.0)
    with pytest.raises(ScenarioError, match="headings_deg"):
        localisation_stops(ims, [90.0, 90.0], [1.0, 2.0])


@pytest.mark.slow
def test_stop_takes_lander_and_arrival_pairs_where_needed():
    """A rover 8 m from the lander turns the mast toward it for one more pair (kind 'lander',
    not mapped: the map's point count is that of the stop without it); 30 m away it does not.
    After a 100 deg turn between stops the mast also looks back where the previous stop's pair
    nearest the new heading looked (kind 'arrival')."""
    from farside.terrain import generate_site

    site = generate_site(256, 0.5, rng=3, elevation_m=0.0)
    sun = np.array([0.5, -0.5, 0.7071])
    kw = dict(seed=3, sun_at=lambda t: sun, binning=4, pans_deg=(-40.0, 0.0, 40.0))
    near = StereoPerception(site.terrain, site.rocks, lander_enu=(0.0, 8.0, 0.0), **kw)
    plain = StereoPerception(site.terrain, site.rocks, **kw)
    a = near(0.0, 0.0, 90.0, 0.0)
    b = plain(0.0, 0.0, 90.0, 0.0)
    kinds = [im[0] for im in a.layers["images"]]
    assert kinds.count("lander") == 1 and "lander" not in [im[0] for im in b.layers["images"]]
    assert a.layers["n_points"] == b.layers["n_points"]
    lp = next(im for im in a.layers["images"] if im[0] == "lander")[1]
    assert 90.0 + lp == pytest.approx(0.0 - 15.0 + 360.0 * round((90.0 + lp) / 360.0), abs=1e-6)
    far = StereoPerception(site.terrain, site.rocks, lander_enu=(0.0, RELOC_RANGE_M + 10.0, 0.0), **kw)
    assert "lander" not in [im[0] for im in far(0.0, 0.0, 90.0, 0.0).layers["images"]]
    # a small turn: no arrival pair; a 100 deg turn: the mast looks back at 130 deg (pan -60)
    plain(2.0, 0.0, 90.0 + ARRIVAL_TOL_DEG / 2, 0.0)
    c = plain(2.0, -2.0, 200.0, 0.0)
    arr = [im[1] for im in c.layers["images"] if im[0] == "arrival"]
    assert arr == [pytest.approx(130.0 - 200.0 + ARRIVAL_TOL_DEG / 2)]
