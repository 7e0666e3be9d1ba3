"""``render()`` and the :class:`Frame` it returns."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numba
import numpy as np

from farside.errors import invalid
from farside.render import _kernels as K
from farside.render import _rocks
from farside.render import vehicles as _vehicles
from farside.render._kernels_rays import undistort_table
from farside.render.camera import Camera
from farside.render.photometry import resolve_photometry
from farside.render.scene import BLOCK, SUN_RADIUS_RAD, Scene, _unit_sun
from farside.render.sensor import Sensor, auto_exposure, expose, solar_band_irradiance
from farside.terrain import Terrain

__all__ = ["Frame", "render", "apply_sensor"]

_SHADOWS = {"none": 0, "hard": 1, "penumbra": 2}
#: iterations per work chunk of the frame kernels' parallel loops: small chunks handed out on demand,
#: rather than one static share per thread, keep every thread busy when image regions differ in cost
#: or another process takes a core
_CHUNK = 4
#: pixels per side of the tiles that bound their rays' height slab together (render_pass)
_PIXEL_TILE = 8
#: the sun-margin map keeps margins within +-this of the Sun's elevation (wider than the solar disk,
#: so penumbra is exact; beyond it only the sign matters)
_MARGIN_CLIP_RAD = max(math.radians(1.0), 1.5 * SUN_RADIUS_RAD)


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
    from_backdrop : (H, W) bool or None
        Pixels taken from the backdrop scene (see ``backdrop`` of :func:`render`); None when
        rendered without one.
    object_id : (H, W) uint8 or None
        The ``object_id`` of the scene object seen in each pixel, 0 for terrain and sky (see
        ``objects`` of :func:`render`); None when rendered without ``objects``.
    tint_rgb : (H, W, 3) float32 or None
        Each band's reflectance over ``reflectance`` where an object's material is coloured (1 on
        the terrain); None when no object is in view.
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
    from_backdrop: np.ndarray | None = None
    object_id: np.ndarray | None = None
    tint_rgb: np.ndarray | None = None

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
            **({} if self.from_backdrop is None else
               {"backdrop_pixel_fraction": float(np.count_nonzero(self.from_backdrop)) / self.from_backdrop.size}),
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
            tab = undistort_table(*key)
            if len(_UNDISTORT_CACHE) >= 4:
                _UNDISTORT_CACHE.pop(next(iter(_UNDISTORT_CACHE)))
            _UNDISTORT_CACHE[key] = tab
    return tab


def _footprint_cells(scene: Scene, camera: Camera, zmin: float, zmax: float) -> tuple[int, int, int, int] | None:
    """Vertex rows r0..r1 and columns c0..c1 of the DEM holding every point where a ray of this
    camera can cross the height slab [zmin, zmax]; None when a border ray does not descend, the
    camera is below the slab, or an orthographic camera starts inside it (no bound then).

    The rays through the image border, intersected with the planes z = zmin and z = zmax, bound
    the region where any pixel's ray crosses the slab (the frustum is convex).
    """
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
    if np.any(d[:, 2] >= -1e-6):
        return None
    if camera.projection == "orthographic":
        if np.any(orig[:, 2] <= zmax):
            return None
    elif pos[2] <= zmin:
        return None
    else:
        zmax = min(zmax, float(pos[2]))      # descending rays from inside the slab stay below the camera
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
        return None
    return r0, r1, c0, c1


#: margin (pixels) of the image box of a scene's bounding box (absorbs rounding)
_RECT_EDGE_PX = 1.0e-3
_FULL_RECT = np.array([0, 1 << 30, 0, 1 << 30], np.int64)


def _image_rect(scene: Scene, camera: Camera, zlo: float, zhi: float) -> np.ndarray:
    """Rows i0..i1 and columns j0..j1 (int64 [i0, i1, j0, j1]) of the pixels whose rays can meet
    the box of the scene's mesh (its vertex-centre rectangle) between heights ``zlo`` and ``zhi``:
    for an undistorted perspective camera with the whole box in front of it, the pixel centres
    inside the image box of its corners (a convex solid projects inside the hull of its corners'
    images; pixel (i, j)'s ray passes through image point (j, i)). i0 > i1 when none; the whole
    image otherwise (other cameras, a box reaching behind the camera)."""
    if camera.projection != "perspective" or camera.k1 != 0.0 or camera.k2 != 0.0:
        return _FULL_RECT
    xmin, xmax, ymin, ymax = _mesh_rects([scene])[0]
    corners = np.array([[x, y, z] for x in (xmin, xmax) for y in (ymin, ymax) for z in (zlo, zhi)])
    cam = (corners - camera.position_enu) @ camera.rotation_enu_from_cam
    if not np.all(cam[:, 2] > 1e-6):
        return _FULL_RECT
    u = camera.fx_px * cam[:, 0] / cam[:, 2] + camera.cx_px
    v = camera.fy_px * cam[:, 1] / cam[:, 2] + camera.cy_px
    j0 = max(math.ceil(u.min() - _RECT_EDGE_PX), 0)
    j1 = min(math.floor(u.max() + _RECT_EDGE_PX), camera.width_px - 1)
    i0 = max(math.ceil(v.min() - _RECT_EDGE_PX), 0)
    i1 = min(math.floor(v.max() + _RECT_EDGE_PX), camera.height_px - 1)
    if j0 > j1 or i0 > i1:
        return np.array([1, 0, 1, 0], np.int64)
    return np.array([i0, i1, j0, j1], np.int64)


def _frame_z_bounds(scene: Scene, camera: Camera) -> tuple[float, float]:
    """Height bounds of the terrain that this frame's rays can meet (a tighter slab than the whole
    DEM's, so rays start lower and at a finer pyramid level); the DEM's bounds when
    :func:`_footprint_cells` gives no region."""
    cells = _footprint_cells(scene, camera, scene.zmin, scene.zmax)
    if cells is None:
        return scene.zmin, scene.zmax
    r0, r1, c0, c1 = cells
    b = BLOCK
    return (float(scene.block_min[r0 // b:r1 // b + 1, c0 // b:c1 // b + 1].min()),
            float(scene.block_max[r0 // b:r1 // b + 1, c0 // b:c1 // b + 1].max()))


#: rasterise the primary hits when the visible DEM has at most this many triangles per pixel
RASTER_MAX_TRIANGLES_PER_PIXEL = 0.5
_NO_PRE = np.empty((1, 1))


def _raster_hits(scene: Scene, camera: Camera, zlo: float, zhi: float, tmax: float) -> tuple[bool, np.ndarray]:
    """Primary hits by rasterisation (:func:`K.raster_hits`) when that is cheaper than ray casting:
    a perspective camera without lens distortion above the terrain it sees, whose view holds at
    most RASTER_MAX_TRIANGLES_PER_PIXEL DEM triangles per pixel (near field). Returns (False, dummy)
    when the ray caster should run instead."""
    if camera.projection != "perspective" or camera.k1 != 0.0 or camera.k2 != 0.0:
        return False, _NO_PRE
    cells = _footprint_cells(scene, camera, zlo, zhi)
    if cells is None:
        return False, _NO_PRE
    r0, r1, c0, c1 = cells
    if 2.0 * (r1 - r0) * (c1 - c0) > RASTER_MAX_TRIANGLES_PER_PIXEL * camera.width_px * camera.height_px:
        return False, _NO_PRE
    pre_t = np.empty((camera.height_px, camera.width_px))
    ok = K.raster_hits(scene.heights, scene.x0_m, scene.y0_m, scene.resolution_m, r0, r1, c0, c1, camera.width_px,
                       camera.height_px, camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.position_enu,
                       camera.rotation_enu_from_cam, pre_t)
    if not ok:
        return False, _NO_PRE
    pre_t[pre_t > tmax] = np.nan
    return True, pre_t


def _in_scene_frame(scene: Scene, camera: Camera) -> Camera:
    """``camera`` in the frame of a scene whose terrain has a vertical datum (site ENU shifted
    down by ``datum_m``: the heights' frame); the camera itself when the datum is 0."""
    d = scene.datum_m
    if d == 0.0:
        return camera
    return camera.with_pose(camera.position_enu - np.array([0.0, 0.0, d]), camera.rotation_enu_from_cam)


def _points_to_enu(scene: Scene, lay: dict) -> None:
    """Surface points of a pass in a datum frame back to site ENU (in place)."""
    if scene.datum_m != 0.0 and "points_enu" in lay:
        lay["points_enu"][..., 2] += scene.datum_m


def _apply_albedo(scenes: list[Scene], lay: dict, src: np.ndarray | None, camera: Camera) -> None:
    """Multiply the reflectance of the pixels each scene with an ``albedo_seed`` gave by the regolith's
    albedo factor at their surface points (in place; ``src``: the composite's scene index per pixel,
    None = all from scenes[0])."""
    if all(getattr(s, "albedo_seed", None) is None for s in scenes):
        return
    from farside.terrain import albedo_factor

    t = lay["range_m"]
    for idx, sc in enumerate(scenes):
        if getattr(sc, "albedo_seed", None) is None:
            continue
        m = np.isfinite(t) if src is None else (src == idx) & np.isfinite(t)
        if not m.any():
            continue
        rows, cols = np.nonzero(m)
        tt = t[rows, cols].astype(np.float64)
        p = _hit_points(camera, rows, cols, tt)
        # the pixel's footprint on level ground: the side of a square of its area (range x angular
        # pixel, or the orthographic pixel, stretched by 1 / cos(emission) along the line of sight)
        if camera.projection == "orthographic":
            across = np.full(tt.shape, camera.gsd_m)
            dz = np.full(tt.shape, camera.rotation_enu_from_cam[2, 2])
        else:
            across = tt / camera.fx_px
            dz = (p[:, 2] - camera.position_enu[2]) / np.maximum(tt, 1e-12)
        fp = across / np.sqrt(np.maximum(np.abs(dz), 0.05))
        lay["reflectance"][rows, cols] *= albedo_factor(p[:, 0], p[:, 1], seed=sc.albedo_seed,
                                                        footprint_m=fp).astype(np.float32)


def _as_scene(name: str, scene) -> Scene:
    if isinstance(scene, Terrain):
        return Scene(scene)
    if not isinstance(scene, Scene):
        raise invalid(name, type(scene).__name__, "a farside.render.Scene or farside.terrain.Terrain")
    return scene


#: backdrop passes cast only the rays (and ray lengths) whose hits could be taken (see
#: K.render_pass); False casts every ray in full (the tests compare the two)
_LIMIT_BACKDROP_RAYS = True
_NO_LIMIT = (False, np.empty((1, 1), np.float32), np.empty((1, 1), np.int8), np.empty((1, 4)))


def _cast_and_shade(scene: Scene, camera: Camera, sun: np.ndarray, model, mode: int, full: bool, smooth: bool,
                    tmax: float, limit: tuple = _NO_LIMIT) -> dict:
    """Every pixel of ``camera`` cast against ``scene`` and shaded (no sensor): the layers as a dict.

    ``limit`` = (True, composite range, source index, source rectangles) cuts the rays of a
    backdrop pass short where nothing this scene could give would be taken (see
    :func:`K.render_pass`)."""
    hgt, wid = camera.height_px, camera.width_px
    clip = _MARGIN_CLIP_RAD
    if mode > 0:
        margin, done, tile = scene._shadow_arrays(sun, clip)
    else:
        margin, done, tile = np.zeros((2, 2), np.float32), np.ones((1, 1), np.bool_), 1 << 30
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
    shade_args = (mode, SUN_RADIUS_RAD, model.model_id, model.packed(), full, smooth)
    out_args = (rad, inc, emi, pha, lit, nrm, pts)
    zlo, zhi = _frame_z_bounds(scene, camera)
    with numba.parallel_chunksize(_CHUNK):
        pre, pre_t = _raster_hits(scene, camera, zlo, zhi, tmax)
        n_pending = K.render_pass(scene.heights, scene.mip, scene.mip_offs, scene.mip_rows, scene.mip_cols, zlo,
                                  zhi, scene.x0_m, scene.y0_m, scene.resolution_m, *cam_args, tmax, sun, margin, done,
                                  tile, *shade_args, scene.block_min, scene.block_max, BLOCK,
                                  scene.block_min2, scene.block_max2, _PIXEL_TILE, _image_rect(scene, camera, zlo, zhi),
                                  pre, pre_t,
                                  *limit, scene.ball, numba.get_num_threads(), t_img, u_img, v_img, pending,
                                  *out_args)
        if mode > 0 and n_pending > 0:
            # fill the 64 x 64-vertex tiles of the pending hits (Scene.margin_map adds neighbours), then shade
            pend = pending.view(bool)
            key = np.unique((np.floor(v_img[pend]).astype(np.int64) // tile) * 1_000_003
                            + np.floor(u_img[pend]).astype(np.int64) // tile)
            margin = scene.margin_map(sun, rows=(key // 1_000_003) * tile, cols=(key % 1_000_003) * tile,
                                      clip_rad=clip)
            K.shade_pending(scene.heights, scene.x0_m, scene.y0_m, scene.resolution_m, *cam_args, sun, margin,
                            *shade_args, u_img, v_img, pending, *out_args)
    out = {"range_m": t_img, "reflectance": rad, "lit_fraction": lit}
    if full:
        out.update(incidence_rad=inc, emission_rad=emi, phase_rad=pha, normal_enu=nrm, points_enu=pts)
    return out


def _hit_points(camera: Camera, rows: np.ndarray, cols: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, 3) points, site ENU, at ranges ``t`` along the rays through pixel centres (rows, cols):
    the render kernel's own rays (:func:`farside.render._kernels_rays.ray_points`; one numba pass
    instead of the numpy ray algebra, which took ~50 ms a TCAM frame)."""
    from farside.render._kernels_rays import _ray_consts, ray_points

    rc = _ray_consts(camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2,
                     camera.projection == "orthographic", camera.gsd_m, camera.position_enu,
                     camera.rotation_enu_from_cam)
    out = np.empty((rows.size, 3))
    ray_points(rc, _undistort_table(camera), rows.astype(np.int64), cols.astype(np.int64),
               np.ascontiguousarray(t, dtype=np.float64), out)
    return out


def _backdrop_pixels(main: dict, back: dict, inner: list[Scene], camera: Camera) -> np.ndarray:
    """Pixels a backdrop provides: sky in the composite so far, and composite hits hidden behind
    backdrop terrain that lies outside the inner DEMs (nearer along the ray, hit point outside the
    meshes of every scene in ``inner``: the main DEM and any finer backdrops)."""
    t_main = main["range_m"]
    t_back = back["range_m"]
    take = np.isnan(t_main) & ~np.isnan(t_back)
    cand = t_back < t_main                       # False where either is NaN
    if cand.any():
        rows, cols = np.nonzero(cand)
        p = _hit_points(camera, rows, cols, t_back[rows, cols])
        outside = np.ones(rows.size, bool)
        for xmin, xmax, ymin, ymax in _mesh_rects(inner):
            outside &= (p[:, 0] < xmin) | (p[:, 0] > xmax) | (p[:, 1] < ymin) | (p[:, 1] > ymax)
        take[rows[outside], cols[outside]] = True
    return take


def _mesh_rects(scenes: list[Scene]) -> np.ndarray:
    """(n, 4) x min, x max, y min, y max (site ENU metres) of each scene's mesh (its vertex centres)."""
    out = np.empty((len(scenes), 4))
    for k, scene in enumerate(scenes):
        res = scene.resolution_m
        nr, nc = scene.heights.shape
        out[k] = (scene.x0_m + 0.5 * res, scene.x0_m + (nc - 0.5) * res,
                  scene.y0_m - (nr - 0.5) * res, scene.y0_m - 0.5 * res)
    return out


def render(scene: Scene | Terrain, camera: Camera, *, sun_dir_enu, photometry="hapke", shadows: str = "hard",
           normals: str = "smooth", layers: str = "all", sensor: Sensor | None = None, exposure_s: float | None = None,
           rng: np.random.Generator | None = None, time_utc: str | None = None,
           max_range_m: float = 1.0e7, backdrop=None, objects=None) -> Frame:
    """Render one view of the terrain.

    Parameters
    ----------
    scene : Scene or Terrain
        Prepared scene (build one with ``Scene(terrain)`` and reuse it across frames); a bare
        Terrain builds a throw-away Scene. A Scene built with ``rocks=`` also renders the
        sub-DEM rocks (their polyhedra and cast shadows; see :class:`Scene`), except in frames
        whose nearest terrain pixel is wider than the largest such rock.
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
    backdrop : Scene or Terrain, or a sequence of them (finest first), optional
        A coarse regional terrain behind ``scene`` (e.g. from
        :func:`farside.terrain.regional_backdrop`), in the same site-ENU frame. When the main
        pass leaves sky pixels, the view is also cast against the backdrop (every sky ray in
        full; a ray with a hit only up to where it enters the mesh that gave the hit, since a
        backdrop hit beyond is never taken), and the backdrop's pixels replace (in every layer) the main pass's sky pixels and the main-scene
        hits that lie behind backdrop terrain outside the main DEM (a hill in front of the site).
        Every other pixel is exactly what a render without backdrop gives. Several nested
        backdrops (e.g. 8 m over 30 km, then 32 m over 190 km) are composited in turn, each
        against the composite so far and outside the meshes of those before it. Cast shadows on the
        backdrop come from the backdrop Scene's own margin map (the main DEM casts none on it).
        The sensor (auto exposure, noise) is applied once, to the composite;
        ``Frame.from_backdrop`` marks the backdrop's pixels.
    objects : sequence of SceneObject, optional
        Triangle-mesh objects on the main scene (the vehicles: :func:`farside.render.place` of
        :func:`farside.render.ce4_lander` / :func:`farside.render.yutu2_rover`), drawn after the
        sub-DEM rocks and before the backdrops, with their own materials (colour cameras see
        their per-band tint), their shadows on the terrain, rocks and each other, and the
        terrain's shadow on them (see :func:`farside.render.vehicles.apply_objects`).
        ``Frame.object_id`` labels their pixels. None (default): exactly the frame without.
    """
    scene = _as_scene("scene", scene)
    if backdrop is None:
        backdrops = []
    elif isinstance(backdrop, (list, tuple)):
        if not backdrop:
            raise invalid("backdrop", backdrop, "a Scene/Terrain, a non-empty sequence of them, or None")
        backdrops = [_as_scene("backdrop", b) for b in backdrop]
    else:
        backdrops = [_as_scene("backdrop", backdrop)]
    if any(b is scene for b in backdrops) or len({id(b) for b in backdrops}) < len(backdrops):
        raise invalid("backdrop", "the main scene or a repeated Scene", "different Scenes/Terrains (or None)")
    if not isinstance(camera, Camera):
        raise invalid("camera", type(camera).__name__, "a farside.render.Camera")
    objs = None if objects is None else _vehicles.check_objects(objects)
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

    mode = _SHADOWS[shadows]
    full = layers == "all"
    smooth = normals == "smooth"
    cam_s = _in_scene_frame(scene, camera)
    lay = _cast_and_shade(scene, cam_s, sun, model, mode, full, smooth, tmax)
    if scene.rocks is not None:   # the Scene's sub-DEM rocks and their shadows (skipped when sub-pixel)
        _rocks.apply_rocks(scene, cam_s, lay, sun, model, mode, full, tmax, _undistort_table(camera),
                           _MARGIN_CLIP_RAD, SUN_RADIUS_RAD)
    _points_to_enu(scene, lay)
    from_backdrop = None
    if backdrops:
        from_backdrop = np.zeros(lay["range_m"].shape, bool)
        src = np.zeros(lay["range_m"].shape, np.int8)     # which scene gave each composite pixel
        inner = [scene]
        for bd in backdrops:
            if not np.isnan(lay["range_m"]).any():
                break
            limit = (True, lay["range_m"], src, _mesh_rects(inner)) if _LIMIT_BACKDROP_RAYS else _NO_LIMIT
            back = _cast_and_shade(bd, _in_scene_frame(bd, camera), sun, model, mode, full, smooth, tmax, limit)
            _points_to_enu(bd, back)
            take = _backdrop_pixels(lay, back, inner, camera)
            if take.any():
                for k, a in lay.items():
                    if k in back:
                        a[take] = back[k][take]
                from_backdrop |= take
                src[take] = len(inner)
            inner.append(bd)
            del back
    _apply_albedo([scene] + backdrops, lay, src if backdrops else None, camera)
    object_id = tint = None
    if objs is not None:          # the vehicles (triangle meshes), over the composite: they shade every scene
        object_id, tint = _vehicles.apply_objects(scene, camera, lay, objs, sun, mode, full, tmax,
                                                  _undistort_table(camera), _MARGIN_CLIP_RAD, SUN_RADIUS_RAD)
    rad = lay["reflectance"]
    bands = ["r", "g", "b"] if camera.colour == "rggb" else ["pan"]
    irr = {b: solar_band_irradiance(b)[0] for b in bands}
    if len(bands) == 1:
        radiance = rad * np.float32(irr["pan"])
    elif object_id is not None and object_id.any():     # the objects' per-band colour
        radiance = np.stack([rad * tint[..., k] * np.float32(irr[b]) for k, b in enumerate(bands)], axis=-1)
    else:
        radiance = np.stack([rad * np.float32(irr[b]) for b in bands], axis=-1)
    frame = Frame(camera=camera, sun_dir_enu=sun, photometry=model, shadows=shadows, radiance=radiance,
                  reflectance=rad, range_m=lay["range_m"], lit_fraction=lay["lit_fraction"], time_utc=time_utc,
                  band_irradiance_W_m2=irr, from_backdrop=from_backdrop, object_id=object_id,
                  tint_rgb=tint if object_id is not None and object_id.any() else None)
    if full:
        frame.points_enu = lay["points_enu"]
        frame.normal_enu = lay["normal_enu"]
        frame.incidence_rad = lay["incidence_rad"]
        frame.emission_rad = lay["emission_rad"]
        frame.phase_rad = lay["phase_rad"]
    # the sensor runs last, once, on the composite
    if sensor is not None:
        apply_sensor(frame, sensor, rng=rng, exposure_s=exposure_s)
    return frame


def apply_sensor(frame: Frame, sensor: Sensor, *, rng: np.random.Generator, exposure_s: float | None = None) -> Frame:
    """Expose ``frame``'s radiance through ``sensor`` (in place): sets ``dn``, ``dn_raw``,
    ``exposure_s`` (auto exposure when None) and ``sensor``. ``render(..., sensor=s, rng=r)`` is
    ``apply_sensor(render(...), s, rng=r)``; a frame pipeline can run this step on another thread."""
    if not isinstance(sensor, Sensor):
        raise invalid("sensor", type(sensor).__name__, "a farside.render.Sensor")
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", type(rng).__name__, "a numpy.random.Generator (needed with a sensor)")
    if exposure_s is None:
        exposure_s = auto_exposure(frame.radiance, frame.camera, sensor)
    frame.dn, frame.dn_raw = expose(frame.radiance, frame.camera, sensor, exposure_s=exposure_s, rng=rng)
    frame.exposure_s = float(exposure_s)
    frame.sensor = sensor
    return frame
