"""``render()`` and the :class:`Frame` it returns."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from farside.errors import invalid
from farside.render import _kernels as K
from farside.render.camera import Camera
from farside.render.photometry import resolve_photometry
from farside.render.scene import SUN_RADIUS_RAD, Scene, _unit_sun
from farside.render.sensor import Sensor, auto_exposure, expose, solar_band_irradiance
from farside.terrain import Terrain

__all__ = ["Frame", "render"]

_SHADOWS = {"none": 0, "hard": 1, "penumbra": 2}


@dataclass(eq=False)
class Frame:
    """A rendered view and its ground truth. Sky pixels hold NaN in the geometric layers.

    Attributes
    ----------
    radiance : (H, W) or (H, W, 3) float32
        Band radiance, W m^-2 sr^-1 (pan band for mono cameras, R, G, B for colour).
    reflectance : (H, W) float32
        Bidirectional reflectance r [1/sr] times the sunlit fraction (radiance = r * E_band).
    range_m : (H, W) float32
        Distance along the ray from the projection centre (perspective) or from the image plane
        (orthographic) to the surface.
    points_enu : (H, W, 3) float64
        Surface point of each pixel, site ENU metres.
    normal_enu : (H, W, 3) float32
        Unit shading normal (see ``normals`` of :func:`render`).
    incidence_rad, emission_rad, phase_rad : (H, W) float32
        Photometric angles.
    lit_fraction : (H, W) float32
        Visible fraction of the solar disk (0 or 1 for hard shadows); NaN on sky.
    dn, dn_raw : uint8/uint16 or None
        Digital numbers after the sensor (``dn`` demosaiced RGB for colour cameras; ``dn_raw`` the
        Bayer mosaic), None when no sensor was applied.
    """

    camera: Camera
    sun_dir_enu: np.ndarray
    photometry: object
    shadows: str
    radiance: np.ndarray
    reflectance: np.ndarray
    range_m: np.ndarray
    lit_fraction: np.ndarray
    points_enu: np.ndarray | None = None
    normal_enu: np.ndarray | None = None
    incidence_rad: np.ndarray | None = None
    emission_rad: np.ndarray | None = None
    phase_rad: np.ndarray | None = None
    dn: np.ndarray | None = None
    dn_raw: np.ndarray | None = None
    exposure_s: float | None = None
    sensor: Sensor | None = None
    time_utc: str | None = None
    band_irradiance_W_m2: dict = field(default_factory=dict)

    @property
    def sky(self) -> np.ndarray:
        """True where the ray escapes to the (black) sky."""
        return np.isnan(self.range_m)

    @property
    def shadow(self) -> np.ndarray:
        """True on terrain pixels in cast shadow (less than half the solar disk visible)."""
        return np.nan_to_num(self.lit_fraction, nan=1.0) < 0.5

    def sidecar(self) -> dict:
        """JSON-ready metadata: intrinsics, pose, time, sun direction, exposure, sensor settings."""
        ph = self.photometry
        return {
            "camera": self.camera.to_dict(),
            "time_utc": self.time_utc,
            "sun_dir_enu": [float(x) for x in self.sun_dir_enu],
            "sun_elevation_deg": math.degrees(math.asin(max(-1.0, min(1.0, float(self.sun_dir_enu[2]))))),
            "sun_azimuth_deg": math.degrees(math.atan2(self.sun_dir_enu[0], self.sun_dir_enu[1])) % 360.0,
            "photometry": {"model": type(ph).__name__, **{k: float(v) for k, v in vars(ph).items()}},
            "shadows": self.shadows,
            "band_irradiance_W_m2": self.band_irradiance_W_m2,
            "exposure_s": self.exposure_s,
            "sensor": None if self.sensor is None else self.sensor.to_dict(),
            "frames": {"enu": "site ENU, metres, x east, y north, z up",
                       "camera": "x right, y down, z forward; pixel centres at integer (col, row)"},
        }


_UNDISTORT_CACHE: dict = {}
_UNDISTORT_LOCK = threading.Lock()
_NO_TABLE = np.zeros((1, 1, 2))


def _undistort_table(camera: Camera) -> np.ndarray:
    """Undistorted normalised coordinates of each pixel centre for a camera with lens
    distortion (cached per intrinsics: a sequence reuses one); a dummy for the others, whose
    rays are affine in the pixel indices."""
    if camera.projection == "orthographic" or (camera.k1 == 0.0 and camera.k2 == 0.0):
        return _NO_TABLE
    key = (camera.width_px, camera.height_px, camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px,
           camera.k1, camera.k2)
    with _UNDISTORT_LOCK:
        tab = _UNDISTORT_CACHE.get(key)
        if tab is None:
            tab = K.undistort_table(*key)
            if len(_UNDISTORT_CACHE) >= 4:
                _UNDISTORT_CACHE.pop(next(iter(_UNDISTORT_CACHE)))
            _UNDISTORT_CACHE[key] = tab
    return tab


def _frame_z_bounds(scene: Scene, camera: Camera) -> tuple[float, float]:
    """Height bounds of the terrain that this frame's rays can meet (a tighter slab than the whole
    DEM's, so rays start lower and at a finer pyramid level).

    The rays through the image border, intersected with the planes z = zmin and z = zmax of the
    DEM, bound the region where any pixel's ray crosses the DEM's height range (the frustum is
    convex). Falls back to the DEM's bounds when the camera is inside the slab or a border ray
    does not descend.
    """
    zmin, zmax = scene.zmin, scene.zmax
    pos = camera.position_enu
    w, h = camera.width_px, camera.height_px
    k = np.linspace(-0.5, 1.0, 17)
    cols = np.concatenate([k * 0 - 0.5, k * 0 + w - 0.5, (k + 0.5) / 1.5 * w - 0.5, (k + 0.5) / 1.5 * w - 0.5])
    rows = np.concatenate([(k + 0.5) / 1.5 * h - 0.5, (k + 0.5) / 1.5 * h - 0.5, k * 0 - 0.5, k * 0 + h - 0.5])
    rot = camera.rotation_enu_from_cam
    if camera.projection == "orthographic":
        orig = pos + np.outer((cols - camera.cx_px) * camera.gsd_m, rot[:, 0]) + \
            np.outer((rows - camera.cy_px) * camera.gsd_m, rot[:, 1])
        d = np.tile(rot[:, 2], (cols.size, 1))
    else:
        xd = (cols - camera.cx_px) / camera.fx_px
        yd = (rows - camera.cy_px) / camera.fy_px
        x, y = xd.copy(), yd.copy()
        if camera.k1 != 0.0 or camera.k2 != 0.0:
            for _ in range(20):
                r2 = x * x + y * y
                f = 1.0 + camera.k1 * r2 + camera.k2 * r2 * r2
                x, y = xd / f, yd / f
        d = np.stack([x, y, np.ones_like(x)], axis=1) @ rot.T
        orig = np.tile(pos, (cols.size, 1))
    if np.any(orig[:, 2] <= zmax) or np.any(d[:, 2] >= -1e-6):
        return zmin, zmax
    pts = []
    for zp in (zmin, zmax):
        t = (zp - orig[:, 2]) / d[:, 2]
        pts.append(orig[:, :2] + t[:, None] * d[:, :2])
    pts = np.concatenate(pts)
    if camera.projection != "orthographic":
        pts = np.vstack([pts, pos[None, :2]])
    row, col = scene.terrain.xy_to_ij(pts[:, 0], pts[:, 1])
    nr, nc = scene.heights.shape
    r0 = int(np.clip(np.floor(row.min()) - 2, 0, nr - 1))
    r1 = int(np.clip(np.ceil(row.max()) + 3, 0, nr - 1))
    c0 = int(np.clip(np.floor(col.min()) - 2, 0, nc - 1))
    c1 = int(np.clip(np.ceil(col.max()) + 3, 0, nc - 1))
    if r1 <= r0 or c1 <= c0:
        return zmin, zmax
    b = 8  # Scene block size
    return (float(scene.block_min[r0 // b:r1 // b + 1, c0 // b:c1 // b + 1].min()),
            float(scene.block_max[r0 // b:r1 // b + 1, c0 // b:c1 // b + 1].max()))


def render(scene: Scene | Terrain, camera: Camera, *, sun_dir_enu, photometry="hapke", shadows: str = "hard",
           normals: str = "smooth", layers: str = "all", sensor: Sensor | None = None, exposure_s: float | None = None,
           rng: np.random.Generator | None = None, time_utc: str | None = None,
           max_range_m: float = 1.0e7) -> Frame:
    """Render one view of the terrain.

    Parameters
    ----------
    scene : Scene or Terrain
        Prepared scene (build one with ``Scene(terrain)`` and reuse it across frames); a bare
        Terrain builds a throw-away Scene.
    camera : Camera
        Intrinsics and pose (see :mod:`farside.render.camera`).
    sun_dir_enu : (3,) array
        Direction to the Sun in site ENU (normally ``farside.ephemeris.sun_direction_enu``).
    photometry : 'hapke' | 'lunar_lambert' | 'lambert' | model instance
    shadows : 'hard' | 'penumbra' | 'none'
        Cast shadows from the terrain (including DEM-resolved rocks); 'penumbra' integrates the
        0.533 deg solar disk.
    normals : 'smooth' | 'face'
        Shading normals: 'face' = the facet of the triangulated DEM (what a mesh renderer with
        flat shading computes); 'smooth' = vertex normals from central differences, blended
        barycentrically. Geometry (hits, shadows) is the triangle mesh either way.
    layers : 'all' | 'minimal'
        'minimal' skips points, normals and angles (faster; radiance, range and lit fraction
        are always produced).
    sensor : Sensor, optional
        Apply the sensor model (needs ``rng``); ``exposure_s`` None = auto exposure.
    time_utc : str, optional
        Recorded in the sidecar.
    """
    if isinstance(scene, Terrain):
        scene = Scene(scene)
    elif not isinstance(scene, Scene):
        raise invalid("scene", type(scene).__name__, "a farside.render.Scene or farside.terrain.Terrain")
    if not isinstance(camera, Camera):
        raise invalid("camera", type(camera).__name__, "a farside.render.Camera")
    sun = _unit_sun(sun_dir_enu)
    model = resolve_photometry(photometry)
    if shadows not in _SHADOWS:
        raise invalid("shadows", shadows, "'hard', 'penumbra' or 'none'")
    if normals not in ("smooth", "face"):
        raise invalid("normals", normals, "'smooth' or 'face'")
    if layers not in ("all", "minimal"):
        raise invalid("layers", layers, "'all' or 'minimal'")
    if sensor is not None and not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator (needed with a sensor)")
    tmax = float(max_range_m)
    if not (math.isfinite(tmax) and tmax > 0):
        raise invalid("max_range_m", max_range_m, "a finite distance > 0")

    hgt, wid = camera.height_px, camera.width_px
    mode = _SHADOWS[shadows]
    clip = max(math.radians(1.0), 1.5 * SUN_RADIUS_RAD)
    if mode > 0:
        margin, done, tile = scene._shadow_arrays(sun, clip)
    else:
        margin, done, tile = np.zeros((2, 2), np.float32), np.ones((1, 1), np.bool_), 1 << 30
    full = layers == "all"
    t_img = np.empty((hgt, wid), np.float32)
    u_img = np.empty((hgt, wid), np.float64)
    v_img = np.empty((hgt, wid), np.float64)
    pending = np.zeros((hgt, wid), np.uint8)       # written only where pending (calloc: untouched pages are free)
    rad = np.empty((hgt, wid), np.float32)
    lit = np.empty((hgt, wid), np.float32)
    if full:
        inc = np.empty((hgt, wid), np.float32)
        emi = np.empty((hgt, wid), np.float32)
        pha = np.empty((hgt, wid), np.float32)
        nrm = np.empty((hgt, wid, 3), np.float32)
        pts = np.empty((hgt, wid, 3), np.float64)
    else:
        inc = emi = pha = np.empty((1, 1), np.float32)
        nrm = np.empty((1, 1, 3), np.float32)
        pts = np.empty((1, 1, 3), np.float64)
    cam_args = (wid, hgt, camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2,
                camera.projection == "orthographic", camera.gsd_m, camera.position_enu, camera.rotation_enu_from_cam,
                _undistort_table(camera))
    shade_args = (sun, margin, mode, SUN_RADIUS_RAD, model.model_id, model.packed(), full, normals == "smooth")
    out_args = (rad, inc, emi, pha, lit, nrm, pts)
    zlo, zhi = _frame_z_bounds(scene, camera)
    n_pending = K.render_pass(scene.heights, scene.mip, scene.mip_offs, scene.mip_rows, scene.mip_cols, zlo, zhi,
                  scene.x0_m, scene.y0_m, scene.resolution_m, *cam_args, tmax, sun, margin, done, tile,
                  *shade_args[2:], scene.block_min, scene.block_max, 8, 8, t_img, u_img, v_img, pending, *out_args)
    if mode > 0 and n_pending > 0:
        # fill the 64 x 64-vertex tiles of the pending hits (Scene.margin_map adds neighbours), then shade
        pend = pending.view(bool)
        key = np.unique((np.floor(v_img[pend]).astype(np.int64) // tile) * 1_000_003
                        + np.floor(u_img[pend]).astype(np.int64) // tile)
        margin = scene.margin_map(sun, rows=(key // 1_000_003) * tile, cols=(key % 1_000_003) * tile,
                                  clip_rad=clip)
        K.shade_pending(scene.heights, scene.x0_m, scene.y0_m, scene.resolution_m, *cam_args, sun, margin,
                        *shade_args[2:], u_img, v_img, pending, *out_args)
    bands = ["r", "g", "b"] if camera.colour == "rggb" else ["pan"]
    irr = {b: solar_band_irradiance(b)[0] for b in bands}
    if len(bands) == 1:
        radiance = rad * np.float32(irr["pan"])
    else:
        radiance = np.stack([rad * np.float32(irr[b]) for b in bands], axis=-1)
    frame = Frame(camera=camera, sun_dir_enu=sun, photometry=model, shadows=shadows, radiance=radiance,
                  reflectance=rad, range_m=t_img, lit_fraction=lit, time_utc=time_utc, band_irradiance_W_m2=irr)
    if full:
        frame.points_enu = pts
        frame.normal_enu = nrm
        frame.incidence_rad = inc
        frame.emission_rad = emi
        frame.phase_rad = pha
    if sensor is not None:
        if exposure_s is None:
            exposure_s = auto_exposure(radiance, camera, sensor)
        frame.dn, frame.dn_raw = expose(radiance, camera, sensor, exposure_s=exposure_s, rng=rng)
        frame.exposure_s = float(exposure_s)
        frame.sensor = sensor
    return frame
