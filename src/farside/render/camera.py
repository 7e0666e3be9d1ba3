"""Cameras: intrinsics + pose in site ENU, projection, and the Chang'e-4 presets (docs/references.md s.4).

Camera frame (OpenCV convention): ``x`` right, ``y`` down, ``z`` along the optical axis. Pixel
coordinates ``(col, row)`` have integer values at pixel *centres*; pixel ``[0, 0]`` is centred at
``(0, 0)``. The pose is ``position_enu`` (metres, site ENU) and ``rotation_enu_from_cam``, whose
columns are the camera's x, y, z axes expressed in ENU.

Radial distortion (Brown, two terms): a normalised undistorted point ``(x, y)`` maps to
``(x, y) * (1 + k1 r^2 + k2 r^4)``, ``r^2 = x^2 + y^2``, before the focal scaling.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from farside.errors import invalid

__all__ = [
    "Camera",
    "look_at_rotation",
    "nadir_rotation",
    "pan_tilt_rotation",
    "lcam",
    "tcam",
    "tcam_panorama_pointings",
    "pcam_pair",
    "navcam_pair",
    "hazcam_pair",
    "PRESETS",
]


def _finite(name: str, x: float, lo: float = -math.inf, hi: float = math.inf, *, open_lo: bool = False) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise invalid(name, x, "a number") from None
    if not math.isfinite(x) or x < lo or x > hi or (open_lo and x == lo):
        rng = f"in {'(' if open_lo else '['}{lo}, {hi}]"
        raise invalid(name, x, f"a finite number {rng}")
    return x


def _vec3(name: str, v) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise invalid(name, v, "three finite numbers (site ENU metres)")
    return a


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole (or orthographic) camera with a pose in site ENU.

    Attributes
    ----------
    width_px, height_px : int
        Image size.
    focal_length_m, pixel_pitch_m : float
        Focal length and (square) pixel pitch; ``fx = fy = focal_length_m / pixel_pitch_m`` px.
    cx_px, cy_px : float
        Principal point (pixel-centre convention, see module docstring).
    k1, k2 : float
        Radial distortion coefficients (0 = none).
    projection : "perspective" | "orthographic"
        Orthographic rays are parallel to the optical axis; pixel spacing ``gsd_m``.
    gsd_m : float
        Ground sample distance of the orthographic mode (metres per pixel).
    position_enu : (3,) float
        Projection centre (perspective) or image-plane centre (orthographic), site ENU metres.
    rotation_enu_from_cam : (3, 3) float
        Columns = camera x (right), y (down), z (forward) axes in ENU.
    colour : "mono" | "rggb"
        Sensor layout: panchromatic, or a Bayer colour filter array (RGGB).
    f_number : float
        Aperture, used by the sensor model for the focal-plane irradiance.
    name : str
        Preset name recorded in the sidecar.
    notes : tuple of str
        Assumptions behind the numbers (what is UNCONFIRMED), recorded in the sidecar.
    """

    width_px: int
    height_px: int
    focal_length_m: float
    pixel_pitch_m: float
    cx_px: float
    cy_px: float
    k1: float = 0.0
    k2: float = 0.0
    projection: str = "perspective"
    gsd_m: float = 1.0
    position_enu: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation_enu_from_cam: np.ndarray = field(default_factory=lambda: nadir_rotation(0.0))
    colour: str = "mono"
    f_number: float = 4.0
    name: str = "camera"
    notes: tuple = ()

    def __post_init__(self) -> None:
        for nm in ("width_px", "height_px"):
            v = getattr(self, nm)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not (1 <= v <= 20000):
                raise invalid(nm, v, "an integer in [1, 20000]")
        _finite("focal_length_m", self.focal_length_m, 0.0, 10.0, open_lo=True)
        _finite("pixel_pitch_m", self.pixel_pitch_m, 0.0, 1e-3, open_lo=True)
        _finite("cx_px", self.cx_px)
        _finite("cy_px", self.cy_px)
        _finite("k1", self.k1, -10.0, 10.0)
        _finite("k2", self.k2, -10.0, 10.0)
        _finite("gsd_m", self.gsd_m, 0.0, 1e6, open_lo=True)
        _finite("f_number", self.f_number, 0.0, 1e3, open_lo=True)
        if self.projection not in ("perspective", "orthographic"):
            raise invalid("projection", self.projection, "'perspective' or 'orthographic'")
        if self.colour not in ("mono", "rggb"):
            raise invalid("colour", self.colour, "'mono' or 'rggb'")
        object.__setattr__(self, "position_enu", _vec3("position_enu", self.position_enu))
        rot = np.asarray(self.rotation_enu_from_cam, dtype=float)
        if rot.shape != (3, 3) or not np.all(np.isfinite(rot)) or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6) \
                or np.linalg.det(rot) < 0:
            raise invalid("rotation_enu_from_cam", "matrix", "a proper 3x3 rotation matrix (orthonormal, det +1)")
        object.__setattr__(self, "rotation_enu_from_cam", rot)

    # --- derived ----------------------------------------------------------------------------
    @property
    def fx_px(self) -> float:
        return self.focal_length_m / self.pixel_pitch_m

    @property
    def fy_px(self) -> float:
        return self.focal_length_m / self.pixel_pitch_m

    @property
    def fov_deg(self) -> tuple[float, float]:
        """Full horizontal and vertical field of view (undistorted), degrees."""
        return (math.degrees(2 * math.atan(self.width_px / 2 / self.fx_px)),
                math.degrees(2 * math.atan(self.height_px / 2 / self.fy_px)))

    @property
    def intrinsic_matrix(self) -> np.ndarray:
        return np.array([[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]])

    def with_pose(self, position_enu, rotation_enu_from_cam) -> "Camera":
        """The same camera at another pose."""
        return replace(self, position_enu=np.asarray(position_enu, float),
                       rotation_enu_from_cam=np.asarray(rotation_enu_from_cam, float))

    def replace(self, **changes) -> "Camera":
        return replace(self, **changes)

    # --- projection -------------------------------------------------------------------------
    def project(self, points_enu) -> np.ndarray:
        """Pixel coordinates ``(N, 2)`` = (col, row) of ENU points ``(N, 3)`` (NaN behind the camera)."""
        p = np.atleast_2d(np.asarray(points_enu, dtype=float))
        if p.shape[-1] != 3:
            raise invalid("points_enu.shape", p.shape, "(N, 3)")
        pc = (p - self.position_enu) @ self.rotation_enu_from_cam  # rows: camera coordinates
        if self.projection == "orthographic":
            return np.stack([pc[:, 0] / self.gsd_m + self.cx_px, pc[:, 1] / self.gsd_m + self.cy_px], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = pc[:, 0] / pc[:, 2]
            y = pc[:, 1] / pc[:, 2]
        r2 = x * x + y * y
        f = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        out = np.stack([self.fx_px * x * f + self.cx_px, self.fy_px * y * f + self.cy_px], axis=1)
        out[pc[:, 2] <= 0] = np.nan
        return out

    def to_dict(self) -> dict:
        """JSON-ready description (intrinsics, pose, assumptions) for image sidecars."""
        d = asdict(self)
        d["position_enu"] = [float(x) for x in self.position_enu]
        d["rotation_enu_from_cam"] = [[float(x) for x in row] for row in self.rotation_enu_from_cam]
        d["notes"] = list(self.notes)
        d["fx_px"] = self.fx_px
        d["fy_px"] = self.fy_px
        d["fov_deg"] = list(self.fov_deg)
        return d


# ---------------------------------------------------------------------------------------------
# rotations
# ---------------------------------------------------------------------------------------------
def look_at_rotation(position_enu, target_enu, up_enu=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Rotation whose camera z points from ``position_enu`` to ``target_enu`` and whose image
    'up' (-y) leans toward ``up_enu``."""
    p = _vec3("position_enu", position_enu)
    t = _vec3("target_enu", target_enu)
    up = _vec3("up_enu", up_enu)
    z = t - p
    n = np.linalg.norm(z)
    if n == 0:
        raise invalid("target_enu", list(t), "a point different from position_enu")
    z /= n
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise invalid("up_enu", list(up), "a direction not parallel to the viewing direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def nadir_rotation(heading_rad: float = 0.0) -> np.ndarray:
    """Straight-down view; the image top (-y) points to azimuth ``heading_rad`` (0 = north,
    clockwise toward east)."""
    h = _finite("heading_rad", heading_rad)
    top = np.array([math.sin(h), math.cos(h), 0.0])     # -y
    z = np.array([0.0, 0.0, -1.0])
    y = -top
    x = np.cross(y, z)
    return np.column_stack([x, y, z])


def pan_tilt_rotation(pan_rad: float, tilt_rad: float) -> np.ndarray:
    """Camera looking toward azimuth ``pan_rad`` (0 = north, clockwise) and elevation
    ``tilt_rad`` (negative = down), image rows level with the horizon."""
    az = _finite("pan_rad", pan_rad)
    el = _finite("tilt_rad", tilt_rad, -math.pi / 2 + 1e-6, math.pi / 2 - 1e-6)
    z = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
    x = np.array([math.cos(az), -math.sin(az), 0.0])
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


# ---------------------------------------------------------------------------------------------
# presets (docs/references.md section 4)
# ---------------------------------------------------------------------------------------------
def lcam(*, position_enu=(0.0, 0.0, 2000.0), heading_rad: float = 0.0, **overrides) -> Camera:
    """CE-4 landing camera, looking straight down from the lander (docs/references.md 4.1).

    1024 x 1024, f = 8.55 mm, 6.7 um pixels, principal point (478.63, 513.09) px from the PDS4
    label (read via a transcription). 8-bit mono. The f-number is UNCONFIRMED (f/4 assumed);
    distortion unknown (none).
    """
    kw = dict(width_px=1024, height_px=1024, focal_length_m=8.55e-3, pixel_pitch_m=6.7e-6,
              cx_px=478.63, cy_px=513.09, colour="mono", f_number=4.0, name="LCAM",
              notes=("intrinsics from the CE-4 LCAM PDS4 label (docs/references.md 4.1)",
                     "f-number f/4 UNCONFIRMED", "distortion UNCONFIRMED (none modelled)"),
              position_enu=np.asarray(position_enu, float), rotation_enu_from_cam=nadir_rotation(heading_rad))
    kw.update(overrides)
    return Camera(**kw)


TCAM_PIXEL_PITCH_M = 5.5e-6     # UNCONFIRMED
TCAM_FOCAL_LENGTH_M = 33.3e-3   # UNCONFIRMED: gives 22.0 x 16.3 deg
TCAM_MAST_HEIGHT_M = 2.6        # UNCONFIRMED: camera height above the ground on the lander top
#: 80-frame 360 deg pattern: 4 tiers x 20 azimuths (18 deg steps). UNCONFIRMED (CE-3 used 3 x 20).
#: Tiers 12 deg apart: 4.3 deg (26 %) of the 16.3 deg field overlaps vertically, 4 deg (18 %)
#: horizontally; the mosaic spans -50 to +2 deg of elevation (the horizon in the top tier).
TCAM_TILTS_DEG = (-42.0, -30.0, -18.0, -6.0)
TCAM_PANS = 20


def tcam(*, position_enu=(0.0, 0.0, TCAM_MAST_HEIGHT_M), pan_rad: float = 0.0, tilt_rad: float = math.radians(-17.0),
         **overrides) -> Camera:
    """CE-4 lander terrain camera (docs/references.md 4.2): 2352 x 1728 RGB behind a Bayer RGGB filter.

    Focal length, pixel pitch, f-number and mast height are UNCONFIRMED; the values chosen give a
    22.0 x 16.3 deg field so that :func:`tcam_panorama_pointings` covers 360 deg in 80 frames.
    """
    kw = dict(width_px=2352, height_px=1728, focal_length_m=TCAM_FOCAL_LENGTH_M, pixel_pitch_m=TCAM_PIXEL_PITCH_M,
              cx_px=1175.5, cy_px=863.5, colour="rggb", f_number=8.0, name="TCAM",
              notes=("2352 x 1728 RGB from GRAS level-2C products (docs/references.md 4.2)",
                     "focal length 33.3 mm, pixel 5.5 um, f/8, mast height 2.6 m UNCONFIRMED"),
              position_enu=np.asarray(position_enu, float), rotation_enu_from_cam=pan_tilt_rotation(pan_rad, tilt_rad))
    kw.update(overrides)
    return Camera(**kw)


def tcam_panorama_pointings() -> list[tuple[float, float]]:
    """The 80 (pan_rad, tilt_rad) pointings of the TCAM 360 deg panorama (4 tiers x 20 pans).

    The 80-frame count is from Xinhua (docs/references.md 4.2); the tier layout is UNCONFIRMED.
    """
    out = []
    for tilt in TCAM_TILTS_DEG:
        for k in range(TCAM_PANS):
            out.append((math.radians(360.0 * k / TCAM_PANS), math.radians(tilt)))
    return out


def _stereo_pair(base: Camera, baseline_m: float, position_enu, pan_rad: float, tilt_rad: float) -> tuple[Camera, Camera]:
    rot = pan_tilt_rotation(pan_rad, tilt_rad)
    p = _vec3("position_enu", position_enu)
    half = 0.5 * baseline_m * rot[:, 0]
    left = base.with_pose(p - half, rot).replace(name=base.name + "-L")
    right = base.with_pose(p + half, rot).replace(name=base.name + "-R")
    return left, right


def pcam_pair(*, position_enu=(0.0, 0.0, 1.5), pan_rad: float = 0.0, tilt_rad: float = math.radians(-10.0),
              colour: str = "rggb") -> tuple[Camera, Camera]:
    """Yutu-2 panoramic camera stereo pair (docs/references.md 4.3): f = 50 mm, 19.7 x 14.5 deg,
    270 mm baseline, 1.5 m above the surface, 2352 x 1728 (pixel pitch 7.38 um DERIVED from
    the FOV and format)."""
    pitch = 2 * 50e-3 * math.tan(math.radians(19.7 / 2)) / 2352
    base = Camera(width_px=2352, height_px=1728, focal_length_m=50e-3, pixel_pitch_m=pitch, cx_px=1175.5,
                  cy_px=863.5, colour=colour, f_number=8.0, name="PCAM",
                  notes=("f 50 mm, FOV 19.7 x 14.5 deg, 270 mm baseline, 1.5 m height (docs/references.md 4.3)",
                         "pixel pitch DERIVED from FOV and 2352 px; f-number UNCONFIRMED (f/8)"))
    return _stereo_pair(base, 0.27, position_enu, pan_rad, tilt_rad)


def navcam_pair(*, position_enu=(0.0, 0.0, 1.5), pan_rad: float = 0.0, tilt_rad: float = math.radians(-20.0)
                ) -> tuple[Camera, Camera]:
    """Yutu-2 navigation stereo cameras. Every number is UNCONFIRMED (docs/references.md 4.3, 8):
    1024 x 1024 mono, 46.6 deg field, 0.27 m baseline on the mast at 1.5 m."""
    f = 1024 / 2 * 6.7e-6 / math.tan(math.radians(46.6 / 2))
    base = Camera(width_px=1024, height_px=1024, focal_length_m=f, pixel_pitch_m=6.7e-6, cx_px=511.5,
                  cy_px=511.5, colour="mono", f_number=5.6, name="NAVCAM",
                  notes=("Navcam resolution, FOV 46.6 deg, baseline 0.27 m UNCONFIRMED",))
    return _stereo_pair(base, 0.27, position_enu, pan_rad, tilt_rad)


def hazcam_pair(*, position_enu=(0.0, 0.7, 0.6), pan_rad: float = 0.0, tilt_rad: float = math.radians(-40.0)
                ) -> tuple[Camera, Camera]:
    """Yutu-2 front hazard-avoidance stereo cameras. Every number is UNCONFIRMED: 1024 x 1024
    mono, 120 deg field (pinhole, no fisheye model), 0.10 m baseline, 0.6 m above ground."""
    f = 1024 / 2 * 6.7e-6 / math.tan(math.radians(120.0 / 2))
    base = Camera(width_px=1024, height_px=1024, focal_length_m=f, pixel_pitch_m=6.7e-6, cx_px=511.5,
                  cy_px=511.5, colour="mono", f_number=5.6, name="HAZCAM",
                  notes=("Hazcam resolution, FOV 120 deg, baseline 0.10 m UNCONFIRMED",))
    return _stereo_pair(base, 0.10, position_enu, pan_rad, tilt_rad)


#: Named presets for the CLI: name -> function returning a Camera.
PRESETS = {
    "lcam": lcam,
    "tcam": tcam,
    "pcam": lambda **kw: pcam_pair(**kw)[0],
    "navcam": lambda **kw: navcam_pair(**kw)[0],
    "hazcam": lambda **kw: hazcam_pair(**kw)[0],
}
