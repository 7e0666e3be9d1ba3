"""Smooth shading normals at grazing view.

The smooth normal (vertex gradients blended over the facet) can face away from the camera where the
ray grazes a ridge although the facet it hit faces the camera; the renderer then keeps the facet's
normal. Before that, a rover-height view over a cratered site had ~1,100 black pixels in streaks
along ridges (emission > 90 deg, reflectance 0 on sunlit ground).
"""

from __future__ import annotations

import math

import numpy as np

from farside.render import Scene, render, tcam
from farside.terrain import generate_site

from tests.render._scenes import sun_from


def test_no_back_facing_shading_normals_at_grazing_view():
    scene = Scene(generate_site(512, 0.5, rng=5).terrain)
    z0 = float(scene.terrain.height_at(-100.0, -100.0))
    cam = tcam(position_enu=(-100.0, -100.0, z0 + 1.5), pan_rad=math.radians(45.0), tilt_rad=math.radians(-4.0))
    cam = cam.replace(width_px=588, height_px=432, cx_px=293.5, cy_px=215.5, pixel_pitch_m=cam.pixel_pitch_m * 4)
    fr = render(scene, cam, sun_dir_enu=sun_from(60.0, 225.0), photometry="hapke", shadows="none", normals="smooth",
                layers="all")
    ground = ~fr.sky
    assert ground.mean() > 0.5
    assert np.all(fr.emission_rad[ground] < math.pi / 2)           # every shading normal faces the camera
    lit = ground & (fr.incidence_rad < math.radians(85.0))
    assert np.all(fr.reflectance[lit] > 0.0)
