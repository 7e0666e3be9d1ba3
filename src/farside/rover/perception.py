"""What the rover sees at a stop: Navcam stereo pairs rendered on the centimetre regolith, turned
into a fused elevation map and a hazard costmap (the perception of :mod:`farside.rover.autonomy`).

At every stop :class:`StereoPerception`:

1. builds the regolith patches around the rover (:func:`farside.terrain.nested_patches`: the
   site DEM with its rocks stamped as angular blocks, pebbles, sub-DEM craters; seeded in world
   coordinates, so every stop sees the same ground);
2. renders the Navcam pair (:func:`farside.vision.stereo_pair_at`; numbers UNCONFIRMED) at each
   mast pan in ``pans_deg`` and once more straight ahead tilted down to -45 deg for the near
   ground, and (optionally) the front Hazcam pair for the ground just ahead that the mast
   cannot see (``hazcam``), through the sensor model (noise keyed by the seed, the stop and the
   pan), with the lander in view as a scene object when given;
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

__all__ = ["StereoPerception", "footprint_radius_m"]


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
    hazcam : bool
        Also the front Hazcam pair (0.6 m high, 120 deg; UNCONFIRMED). Off by default: modelled as
        a pinhole (no fisheye), its matches at the seam with the Navcam map left false steps in
        the costmap; the ground the mast cannot see (within ~1.4 m) is covered by the previous
        stop's map, and at the first stop by the rule that the ground under and just around the
        rover is traversable (it stands there).
    """

    def __init__(self, terrain, rocks, *, seed: int, sun_at: Callable[[float], np.ndarray],
                 objects_at: Callable[[float], list] | None = None, backdrops=(), rover=YUTU2,
                 pans_deg=(-40.0, 0.0, 40.0), levels=((0.01, 6.0), (0.04, 24.0)), map_half_size_m: float = 10.0,
                 map_resolution_m: float = 0.1, max_range_m: float = 9.0, memory_stops: int = 1, binning: int = 1,
                 photometry: str = "hapke", shadows: str = "hard", keep_images: bool = True, hazcam: bool = False,
                 safety_margin_m: float = 0.35) -> None:
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
        # Navcam: 10-bit mono (UNCONFIRMED), the project's default noise model
        self.sensor = Sensor(bit_depth=10)
        self.n_stops = 0
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
        images = []
        bits = 0.0
        views = [("navcam", pan, None) for pan in self.pans_deg] + [("navcam", 0.0, NEAR_TILT_DEG)] \
            + ([("hazcam", 0.0, None)] if self.hazcam else [])
        for j, (kind, pan, tilt) in enumerate(views):
            cams = self.cameras(x_m, y_m, heading_deg, pan, kind=kind, tilt_deg=tilt)
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


def _binned(cam, b: int):
    """The same camera with b x b binned pixels (pitch x b, the same field of view)."""
    from dataclasses import replace

    return replace(cam, width_px=cam.width_px // b, height_px=cam.height_px // b, pixel_pitch_m=cam.pixel_pitch_m * b,
                   cx_px=(cam.cx_px + 0.5) / b - 0.5, cy_px=(cam.cy_px + 0.5) / b - 0.5)
