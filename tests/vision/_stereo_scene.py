"""The rover-stereo test scene shared by test_stereo.py and test_costmap.py (built once per process).

A 64 m generated site at 0.5 m/px (elevation 0 m, so float32 heights resolve 0.1 um) with almost no
rocks of its own, plus a rock table of known sizes in front of the rover: six rocks 0.25-0.40 m
tall (above the 0.20 m Yutu-2 limit) and four 0.10 m tall (below it), stamped as angular rocks into
a 1 cm regolith patch (nested in a 4 cm one and the site DEM). The Navcam pair looks north from two
stops 1.5 m apart, 1.5 m above the ground, tilted 25 deg down; Sun 30 deg high in the south-east
(azimuth 120 deg), 10-bit sensor with noise.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

ROCKS = pd.DataFrame({
    "x_m": [0.0, -1.1, 1.2, -0.4, 0.9, -1.6, 0.9, -0.8, 0.2, 1.7],
    "y_m": [2.6, 4.0, 5.0, 6.6, 7.3, 7.0, 2.4, 2.6, 4.8, 6.0],
    "diameter_m": [0.6, 0.7, 0.8, 0.6, 0.7, 0.65, 0.3, 0.3, 0.3, 0.3],
    "height_m": [0.30, 0.35, 0.40, 0.25, 0.30, 0.28, 0.10, 0.10, 0.10, 0.10],
})
#: rover stops (ground reference point x, y) and heading (north)
STOPS = ((0.0, -1.5), (0.2, 0.0))
HEADING_RAD = 0.0
SUN_AZ_DEG, SUN_EL_DEG = 120.0, 30.0
PATCH_CENTRE = (0.0, 3.0)
PATCH_LEVELS = ((0.01, 6.0), (0.04, 24.0))


@dataclass
class Stop:
    pose_enu: np.ndarray
    left: object      # Frame (with truth layers)
    right: object     # Frame
    left_cam: object
    right_cam: object
    render_s: float


@dataclass
class StereoScene:
    site: object
    patches: list
    stops: list
    build_s: float


def sun_dir() -> np.ndarray:
    az, el = math.radians(SUN_AZ_DEG), math.radians(SUN_EL_DEG)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


@functools.lru_cache(maxsize=1)
def scene() -> StereoScene:
    from farside.render import Scene, Sensor, render
    from farside.terrain import generate_site, nested_patches
    from farside.vision.stereo import stereo_pair_at

    t0 = time.perf_counter()
    site = generate_site(128, 0.5, rng=11, elevation_m=0.0, rock_abundance=1e-4)
    patches = nested_patches(site.terrain, center_xy_m=PATCH_CENTRE, levels=PATCH_LEVELS, seed=5, rocks=ROCKS)
    scenes = [Scene(p, albedo_seed=5) for p in patches]
    site_scene = Scene(site.terrain)
    build_s = time.perf_counter() - t0
    sensor = Sensor(bit_depth=10)
    rng = np.random.default_rng(2024)
    stops = []
    for x, y in STOPS:
        pose = np.array([x, y, float(patches[0].height_at(x, y))])
        lc, rc = stereo_pair_at(pose, HEADING_RAD, kind="navcam")
        t1 = time.perf_counter()
        fl = render(scenes[0], lc, sun_dir_enu=sun_dir(), backdrop=scenes[1:] + [site_scene], sensor=sensor,
                    rng=rng)
        fr = render(scenes[0], rc, sun_dir_enu=sun_dir(), backdrop=scenes[1:] + [site_scene], sensor=sensor,
                    rng=rng, layers="minimal")
        stops.append(Stop(pose, fl, fr, lc, rc, time.perf_counter() - t1))
    return StereoScene(site, patches, stops, build_s)
