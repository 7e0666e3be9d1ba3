"""Rendering and cameras: lunar photometry, cast shadows, the Chang'e-4 cameras and their sensors.

Typical use (reuse one :class:`Scene` for a whole sequence)::

    from farside.render import Scene, render, lcam, Sensor
    scene = Scene(terrain)                         # max-mip pyramid, built once per DEM
    cam = lcam(position_enu=(0, 0, terrain_h + 2000.0))
    frame = render(scene, cam, sun_dir_enu=sun, photometry="hapke", shadows="hard",
                   sensor=Sensor(), rng=rng)     # radiance, DN and ground-truth layers
    write_frame(frame, "lcam.png")                 # PNG + JSON sidecar

Geometry: the DEM is a mesh of two triangles per cell (vertices at pixel centres); camera rays
are cast against it with a max-mip pyramid (empty-space skipping). Cast shadows come from a
per-vertex sun-horizon margin map, filled lazily by tile and cached in the Scene while the Sun
moves less than ``Scene.sun_reuse_tol_rad``. The sky is black (no Earth on the far side).
A Scene is safe to share between threads (the cache is locked); frames are independent.
"""

from farside.render.camera import (
    PRESETS,
    Camera,
    hazcam_pair,
    lcam,
    look_at_rotation,
    nadir_rotation,
    navcam_pair,
    pan_tilt_rotation,
    pcam_pair,
    tcam,
    tcam_panorama_pointings,
)
from farside.render.frame import Frame, apply_sensor, render
from farside.render.io import write_frame, write_image
from farside.render.photometry import Hapke, Lambert, LunarLambert, reflectance
from farside.render.scene import SUN_RADIUS_RAD, Scene
from farside.render.sensor import CE4_COLOUR_RESPONSE, Sensor, auto_exposure, expose, solar_band_irradiance
from farside.render.vehicles import MATERIALS, Material, Mesh, SceneObject, ce4_lander, place, yutu2_rover

__all__ = [
    "Scene",
    "render",
    "Frame",
    "Camera",
    "lcam",
    "tcam",
    "tcam_panorama_pointings",
    "pcam_pair",
    "navcam_pair",
    "hazcam_pair",
    "PRESETS",
    "look_at_rotation",
    "nadir_rotation",
    "pan_tilt_rotation",
    "Hapke",
    "LunarLambert",
    "Lambert",
    "reflectance",
    "Sensor",
    "apply_sensor",
    "CE4_COLOUR_RESPONSE",
    "expose",
    "auto_exposure",
    "solar_band_irradiance",
    "SUN_RADIUS_RAD",
    "write_frame",
    "write_image",
    "Mesh",
    "Material",
    "MATERIALS",
    "SceneObject",
    "place",
    "ce4_lander",
    "yutu2_rover",
]
