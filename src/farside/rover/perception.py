"""What the rover sees at a stop: Navcam stereo pairs rendered on the centimetre regolith, turned
into a fused elevation map and a hazard costmap (the perception of :mod:`farside.rover.autonomy`).

At every stop :class:`StereoPerception`:

1. builds the regolith patches around the rover (:func:`farside.terrain.nested_patches`: the
   site DEM with its rocks stamped as angular blocks, pebbles, sub-DEM craters; seeded in world
   coordinates, so every stop sees the same ground);
2. renders the Navcam pair (:func:`farside.vision.stereo_pair_at`; numbers UNCONFIRMED) at each
   mast pan in ``pans_deg`` and once more straight ahead tilted down to -45 deg for the near
   ground, and the front Hazcam pair for the ground just ahead that the mast cannot see
   (``hazcam``; it fills only the cells the Navcams left unknown), through the sensor model (noise keyed by the seed, the stop and the
   pan), with the lander in view as a scene object when given; within ``reloc_range_m`` of the
   lander one more pair with the mast turned toward it, for the relocalisation;
3. matches each pair by semi-global matching and triangulates (:func:`farside.vision.stereo_points`),
   and fuses the points of this stop and the previous ``memory_stops`` stops into an elevation map
   centred on the rover (inverse-variance fusion, :class:`farside.vision.ElevationMap`);
4. derives the hazard costmap (:func:`farside.vision.hazard_costmap`: slope at the wheelbase,
   step height, roughness, the rover's footprint as configuration space, unknown cells).

The algorithm sees only the rendered digital numbers and the cameras' calibration; the renderer's
geometric layers are never read.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from farside.errors import invalid
from farside.rover.autonomy import LocalCostmap
from farside.rover.vehicle import YUTU2

__all__ = ["StereoPerception", "footprint_radius_m", "localisation_stops"]


#: Points from the bottom of the frames are not mapped: that band, the ground nearest the mast,
#: carried isolated height outliers of ~0.1-0.3 m that the step test turned into false hazards
BOTTOM_BAND_FRACTION = 0.12
#: ... and points within this ground range that stand less than NEAR_HORIZON_DROP_M below the
#: camera (an obstacle that tall that near would be the lander: its lower parts still map it)
NEAR_HORIZON_RANGE_M = 4.0
NEAR_HORIZON_DROP_M = 0.5
#: a map cell needs this many stereo points to count as known ground
MIN_POINTS_PER_CELL = 3
#: despiking: a cell standing this far from all but one of its neighbours is a mismatch
SPIKE_TOLERANCE_M = 0.08
#: slope and roughness are judged where at least this fraction of the wheelbase window is mapped
MIN_PLANE_FRACTION = 0.5
#: the near pair: the Navcam straight ahead tilted this far down (it sees the ground from ~0.7 m)
NEAR_TILT_DEG = -45.0
#: the relocalisation pair: within this range of the lander the mast also turns toward it ...
RELOC_RANGE_M = 20.0
#: ... with the lander this far right of the image centre (the left image's first columns have
#: no disparity) and the mast tilted this far down (regolith fills the rest of the view, so the
#: exposure is set on it)
RELOC_PAN_OFFSET_DEG = -15.0
RELOC_TILT_DEG = -15.0
#: the arrival pair: when none of this stop's mast pans looks within this of where the previous
#: stop's pair nearest this stop's heading looked, the mast turns there for one more pair (for the
#: visual odometry across a turn; not mapped)
ARRIVAL_TOL_DEG = 12.0
#: Hazcam points beyond this range are not mapped: with its 0.10 m baseline and wide field the
#: depth error grows past the Navcam's there (the Navcam sees from ~1.4 m outward)
HAZCAM_MAX_RANGE_M = 3.0
#: ... nor nearer than this ahead of the rover's centre (the body's front is 0.75 m ahead)
HAZCAM_MIN_FORWARD_M = 0.9
#: ... and within this half-angle of the heading
HAZCAM_HALF_CONE_DEG = 35.0


def footprint_radius_m(rover) -> float:
    """Radius of the disc that holds the rover's body and wheels (half its plan diagonal)."""
    half_l = max(0.5 * rover.body_length_m, float(np.max(np.abs(rover.wheel_xy_m[:, 0]))) + 0.5 * rover.wheel_diameter_m)
    half_w = max(0.5 * rover.body_width_m, float(np.max(np.abs(rover.wheel_xy_m[:, 1]))) + 0.5 * rover.wheel_width_m)
    return float(math.hypot(half_l, half_w))


class StereoPerception:
    """Perception at a stop (module docstring): ``perceive(x_m, y_m, heading_deg, t_s) -> LocalCostmap``.

    Parameters
    ----------
    terrain, rocks :
        The site DEM and its rock table (``Site.terrain``, ``Site.rocks``).
    seed : int
        Key of the regolith detail and of the sensor noise.
    sun_at : callable
        ``sun_at(t_s) -> (3,)`` unit vector to the Sun, site ENU.
    objects_at : callable, optional
        ``objects_at(t_s) -> list`` of :class:`farside.render.SceneObject` (the lander) in view.
    backdrops : sequence of Scene
        Farther scenes behind the site (the descent's regional backdrops).
    pans_deg : sequence of float
        Mast pans of the Navcam pairs, degrees from the heading.
    levels : sequence of (resolution_m, half_size_m)
        Regolith patch levels (finest first).
    map_half_size_m, map_resolution_m :
        The local elevation map around the rover.
    max_range_m : float
        Stereo points beyond this range are not used.
    memory_stops : int
        Earlier stops' points fused into the map (0: this stop only).
    safety_margin_m : float
        Added to the rover's footprint radius when hazards are dilated: a rock's flanks below the
        step limit still stop a wheel that touches them, and the driven legs follow the planned
        cells within 0.15 m (UNCONFIRMED; a planner's choice, not a Yutu-2 number).
    binning : int
        Navcam and Hazcam pixel binning (1: the full 1024 x 1024).
    lander_enu : (3,) float, optional
        The lander's ground point (site ENU). Within ``reloc_range_m`` of it the mast also turns
        toward it for one more Navcam pair (``RELOC_PAN_OFFSET_DEG``, ``RELOC_TILT_DEG``), kept in
        the costmap's ``images`` layer as kind ``"lander"`` for the relocalisation (not mapped).
    reloc_range_m : float
        See ``lander_enu``.
    hazcam : bool
        Also the front Hazcam pair (0.6 m high, 120 deg; UNCONFIRMED), mapped within
        ``HAZCAM_MAX_RANGE_M`` in its central field and only into the cells the Navcams (this
        stop's and the remembered stops') left unknown: modelled as a pinhole (no fisheye), its
        points mixed with the Navcam's at the seam left false steps in the costmap when fused
        everywhere. On the test courses it fills about half of the few unknown cells 0.8-2 m
        ahead (6 % -> 3 %, 4 % -> 2 %).
    """

    def __init__(self, terrain, rocks, *, seed: int, sun_at: Callable[[float], np.ndarray],
                 objects_at: Callable[[float], list] | None = None, backdrops=(), rover=YUTU2,
                 pans_deg=(-40.0, 0.0, 40.0), levels=((0.01, 6.0), (0.04, 24.0)), map_half_size_m: float = 10.0,
                 map_resolution_m: float = 0.1, max_range_m: float = 9.0, memory_stops: int = 1, binning: int = 1,
                 photometry: str = "hapke", shadows: str = "hard", keep_images: bool = True, hazcam: bool = True,
                 safety_margin_m: float = 0.35, lander_enu=None, reloc_range_m: float = RELOC_RANGE_M) -> None:
        from farside.render import Scene, Sensor

        if not callable(sun_at):
            raise invalid("sun_at", sun_at, "a function of mission seconds returning the Sun's ENU direction")
        if int(binning) not in (1, 2, 4):
            raise invalid("binning", binning, "1, 2 or 4")
        if not (math.isfinite(max_range_m) and max_range_m > 1.0):
            raise invalid("max_range_m", max_range_m, "a range > 1 m")
        self.terrain = terrain
        self.rocks = rocks
        self.seed = int(seed)
        self.sun_at = sun_at
        self.objects_at = objects_at
        self.site_scene = Scene(terrain, rocks=rocks)
        self.backdrops = list(backdrops or [])
        self.rover = rover
        self.pans_deg = tuple(float(p) for p in pans_deg)
        self.levels = tuple(levels)
        self.map_half_size_m = float(map_half_size_m)
        self.map_resolution_m = float(map_resolution_m)
        self.max_range_m = float(max_range_m)
        self.memory_stops = int(memory_stops)
        self.binning = int(binning)
        self.photometry = photometry
        self.shadows = shadows
        self.keep_images = bool(keep_images)
        self.hazcam = bool(hazcam)
        if not (math.isfinite(safety_margin_m) and 0.0 <= safety_margin_m <= 2.0):
            raise invalid("safety_margin_m", safety_margin_m, "a margin in [0, 2] m")
        self.safety_margin_m = float(safety_margin_m)
        self.lander_enu = None
        if lander_enu is not None:
            le = np.asarray(lander_enu, float).ravel()
            if le.shape != (3,) or not np.all(np.isfinite(le)):
                raise invalid("lander_enu", lander_enu, "None or three finite numbers (site ENU metres)")
            self.lander_enu = le
        if not (math.isfinite(reloc_range_m) and reloc_range_m >= 0.0):
            raise invalid("reloc_range_m", reloc_range_m, "a range >= 0 m")
        self.reloc_range_m = float(reloc_range_m)
        # Navcam: 10-bit mono (UNCONFIRMED), the project's default noise model
        self.sensor = Sensor(bit_depth=10)
        self.n_stops = 0
        self._prev_heading: float | None = None
        self._history: list[tuple[np.ndarray, np.ndarray]] = []
        self.timings_s: list[float] = []

    def cameras(self, x_m: float, y_m: float, heading_deg: float, pan_deg: float, *, kind: str = "navcam",
                tilt_deg: float | None = None):
        """The Navcam (mast panned by ``pan_deg``) or front Hazcam pair of a rover standing at
        (x, y) with a compass heading."""
        from farside.vision.stereo import stereo_pair_at

        z = float(self.terrain.height_at(x_m, y_m))
        left, right = stereo_pair_at((x_m, y_m, z), math.radians(heading_deg), kind=kind,
                                     pan_rad=math.radians(pan_deg),
                                     tilt_rad=None if tilt_deg is None else math.radians(tilt_deg))
        if self.binning > 1:
            left, right = (_binned(c, self.binning) for c in (left, right))
        return left, right

    def __call__(self, x_m: float, y_m: float, heading_deg: float, t_s: float) -> LocalCostmap:
        import time

        from farside.render import Scene, apply_sensor, auto_exposure, render
        from farside.terrain import nested_patches
        from farside.vision.costmap import elevation_map, hazard_costmap
        from farside.vision.stereo import stereo_points

        t_wall = time.perf_counter()
        k = self.n_stops
        self.n_stops += 1
        pats = nested_patches(self.terrain, center_xy_m=(x_m, y_m), levels=self.levels, seed=self.seed, rocks=self.rocks)
        scenes = [Scene(p, albedo_seed=self.seed) for p in pats] + [self.site_scene] + self.backdrops
        sun = np.asarray(self.sun_at(t_s), float)
        objects = list(self.objects_at(t_s)) if self.objects_at is not None else []
        pts_all, sig_all = [], []
        haz = None
        images = []
        bits = 0.0
        views = [("navcam", pan, None) for pan in self.pans_deg] + [("navcam", 0.0, NEAR_TILT_DEG)] \
            + ([("hazcam", 0.0, None)] if self.hazcam else [])
        if self._prev_heading is not None:
            az_dep = _departure_azimuth(self._prev_heading, self.pans_deg, heading_deg)
            if min(abs(_wrap_deg(heading_deg + p_ - az_dep)) for p_ in self.pans_deg) > ARRIVAL_TOL_DEG:
                views.append(("arrival", _wrap_deg(az_dep - heading_deg), None))
        self._prev_heading = float(heading_deg)
        if self.lander_enu is not None:
            dx, dy = self.lander_enu[0] - x_m, self.lander_enu[1] - y_m
            if math.hypot(dx, dy) <= self.reloc_range_m:
                pan = (math.degrees(math.atan2(dx, dy)) - heading_deg + RELOC_PAN_OFFSET_DEG + 180.0) % 360.0 - 180.0
                views.append(("lander", pan, RELOC_TILT_DEG))
        for j, (kind, pan, tilt) in enumerate(views):
            cams = self.cameras(x_m, y_m, heading_deg, pan, kind="hazcam" if kind == "hazcam" else "navcam",
                                tilt_deg=tilt)
            dns = []
            exp = None
            for side, cam in enumerate(cams):
                rng = np.random.default_rng([self.seed, 0x5E, k, j, side])
                kw = {"objects": objects} if objects else {}
                fr = render(scenes[0], cam, sun_dir_enu=sun, photometry=self.photometry, shadows=self.shadows,
                            layers="minimal", backdrop=scenes[1:], **kw)
                if exp is None:          # one exposure for the pair, set on the left image
                    exp = auto_exposure(fr.radiance, cam, self.sensor, percentile=99.5)
                apply_sensor(fr, self.sensor, rng=rng, exposure_s=exp)
                dns.append(fr.dn)
                bits += fr.dn.size * self.sensor.bit_depth
            if kind in ("lander", "arrival"):      # for the localisation only
                if self.keep_images:
                    images.append((kind, pan, cams, dns[0], dns[1]))
                continue
            sp = stereo_points(dns[0], dns[1], cams[0], cams[1],
                               max_range_m=self.max_range_m if kind == "navcam" else HAZCAM_MAX_RANGE_M)
            keep = sp.rows < (1.0 - BOTTOM_BAND_FRACTION) * cams[0].height_px
            # near points at the mast's own height are mismatches of the black sky and the smooth
            # horizon (a ray that near the horizontal cannot meet the ground within a few metres)
            cam_z = float(cams[0].position_enu[2])
            near = np.hypot(sp.points_enu[:, 0] - x_m, sp.points_enu[:, 1] - y_m) < NEAR_HORIZON_RANGE_M
            keep &= ~(near & (sp.points_enu[:, 2] > cam_z - NEAR_HORIZON_DROP_M))
            if kind == "hazcam":
                # the Hazcam's lower field looks under the rover's own body (not drawn): only the
                # ground in front of the body is mapped
                h = math.radians(heading_deg)
                dx, dy = sp.points_enu[:, 0] - x_m, sp.points_enu[:, 1] - y_m
                fwd = dx * math.sin(h) + dy * math.cos(h)
                side = dx * math.cos(h) - dy * math.sin(h)
                # ... and only its central field: the pinhole's 120 deg corners are too oblique to match
                keep = (fwd >= HAZCAM_MIN_FORWARD_M) & (np.abs(side) <= fwd * math.tan(math.radians(HAZCAM_HALF_CONE_DEG)))
            if kind == "hazcam":
                haz = (sp.points_enu[keep], sp.sigma_z_m[keep])
                continue
            pts_all.append(sp.points_enu[keep])
            sig_all.append(sp.sigma_z_m[keep])
            if self.keep_images and tilt is None:
                images.append((kind, pan, cams, dns[0], dns[1]))     # the mast pairs (and the Hazcam's)
        pts = np.concatenate(pts_all) if pts_all else np.zeros((0, 3))
        sig = np.concatenate(sig_all) if sig_all else np.zeros(0)
        emap = elevation_map((x_m, y_m), half_size_m=self.map_half_size_m, resolution_m=self.map_resolution_m)
        for p_old, s_old in self._history[-self.memory_stops:] if self.memory_stops else []:
            emap = emap.fuse(p_old, s_old)
        emap = emap.fuse(pts, sig)
        if haz is not None and len(haz[0]):
            # the Hazcam fills only cells the Navcams (this stop and the remembered ones) left
            # unknown: where both see the ground, its pinhole-modelled wide field adds no
            # information and, at the seam, false steps
            r_, c_ = emap.xy_to_ij(haz[0][:, 0], haz[0][:, 1])
            nr, nc = emap.shape
            inside = (r_ >= 0) & (r_ < nr) & (c_ >= 0) & (c_ < nc)
            fill = np.zeros(len(r_), bool)
            fill[inside] = emap.n_points[r_[inside], c_[inside]] == 0
            emap = emap.fuse(haz[0][fill], haz[1][fill])
            pts, sig = np.concatenate([pts, haz[0][fill]]), np.concatenate([sig, haz[1][fill]])
        self._history.append((pts, sig))
        self._history = self._history[-max(self.memory_stops, 1):]
        rv = self.rover
        hz = hazard_costmap(emap, wheelbase_m=float(np.ptp(rv.wheel_xy_m[:, 0])), track_m=float(np.ptp(rv.wheel_xy_m[:, 1])),
                            footprint_radius_m=footprint_radius_m(rv) + self.safety_margin_m, max_slope_deg=rv.max_slope_deg,
                            max_step_m=rv.max_obstacle_m, min_points=MIN_POINTS_PER_CELL,
                            min_plane_fraction=MIN_PLANE_FRACTION, spike_tolerance_m=SPIKE_TOLERANCE_M)
        cost = np.where(hz.unknown, np.nan, np.where(hz.lethal, np.inf, hz.cost)).astype(float)
        self.timings_s.append(time.perf_counter() - t_wall)
        return LocalCostmap(cost, hz.x0_m, hz.y0_m, hz.resolution_m, image_bits=bits,
                            layers={"hazard": hz, "elevation": emap, "images": images, "n_points": int(len(pts)),
                                    "stop": k})


def _wrap_deg(a: float) -> float:
    return (float(a) + 180.0) % 360.0 - 180.0


def _departure_azimuth(prev_heading_deg: float, pans_deg, heading_deg: float) -> float:
    """Azimuth of the previous stop's mast pair nearest this stop's heading (the leg between them)."""
    return min((prev_heading_deg + p for p in pans_deg), key=lambda a: abs(_wrap_deg(a - heading_deg)))


def localisation_stops(images, headings_deg, heading_estimates_rad):
    """The :class:`farside.vision.StereoStop` chain of a traverse from its stops' image layers
    (``LocalCostmap.layers["images"]`` of :class:`StereoPerception`), for
    :func:`farside.vision.visual_localisation`.

    Each stop's main pair is its mast pair nearest the next stop's heading (the leg it drives
    next; the last stop: the pair straight ahead); the VO step into a stop ends on its
    ``"arrival"`` pair when it has one, else on its mast pair nearest the previous stop's main
    pair; a ``"lander"`` pair is the relocalisation pair.

    Parameters
    ----------
    images : sequence of lists
        Per stop, the ``(kind, pan_deg, cams, left_dn, right_dn)`` entries.
    headings_deg : sequence of float
        The rover's compass heading at each stop (where it stood while imaging).
    heading_estimates_rad : sequence of float
        The absolute heading estimates at the stops (gyro and sun sensor), NaN for none.
    """
    from farside.vision import StereoStop

    n = len(images)
    if not (len(headings_deg) == n == len(heading_estimates_rad)):
        raise invalid("headings_deg", f"{len(headings_deg)} and {len(heading_estimates_rad)} values",
                      f"one heading and one estimate per stop ({n})")
    out = []
    main_az = None
    for k in range(n):
        mast = [im for im in images[k] if im[0] == "navcam"]
        if not mast:
            raise invalid("images", f"stop {k} without a Navcam pair", "every stop with at least one mast pair")
        h = float(headings_deg[k])
        target = float(headings_deg[k + 1]) if k + 1 < n else h
        main = min(mast, key=lambda im: abs(_wrap_deg(h + im[1] - target)))
        kw = {}
        if main_az is not None:
            arr = next((im for im in images[k] if im[0] == "arrival"), None) or \
                min(mast, key=lambda im: abs(_wrap_deg(h + im[1] - main_az)))
            if arr is not main:
                kw.update(arrival_left_dn=np.asarray(arr[3]), arrival_right_dn=np.asarray(arr[4]),
                          arrival_pan_rad=math.radians(arr[1]), arrival_tilt_rad=_tilt(arr[2][0]))
        rl = next((im for im in images[k] if im[0] == "lander"), None)
        if rl is not None:
            kw.update(reloc_left_dn=np.asarray(rl[3]), reloc_right_dn=np.asarray(rl[4]),
                      reloc_pan_rad=math.radians(rl[1]), reloc_tilt_rad=_tilt(rl[2][0]))
        out.append(StereoStop(np.asarray(main[3]), np.asarray(main[4]), pan_rad=math.radians(main[1]),
                              tilt_rad=_tilt(main[2][0]), heading_rad=float(heading_estimates_rad[k]), **kw))
        main_az = h + main[1]
    return out


def _tilt(cam) -> float:
    """Elevation of a camera's optical axis (rad; negative = down)."""
    z = np.asarray(cam.rotation_enu_from_cam, float)[:, 2]
    return float(math.asin(np.clip(z[2], -1.0, 1.0)))


def _binned(cam, b: int):
    """The same camera with b x b binned pixels (pitch x b, the same field of view)."""
    from dataclasses import replace

    return replace(cam, width_px=cam.width_px // b, height_px=cam.height_px // b, pixel_pitch_m=cam.pixel_pitch_m * b,
                   cx_px=(cam.cx_px + 0.5) / b - 0.5, cy_px=(cam.cy_px + 0.5) / b - 0.5)
