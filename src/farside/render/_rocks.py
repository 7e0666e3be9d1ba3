"""Sub-DEM rocks: the rocks of a site's table too small to be stamped into the DEM, rendered as
exact convex polyhedra in a post-pass after the terrain pass.

Rock model: the seeded polyhedron of :func:`farside.terrain.rocks.rock_shapes`, the same shape
the DEM stamp, the regolith patches, the descent and the rover use (5-9 side facets, two top
facets; footprint area that of the table's diameter, highest point ``height_m`` above the seat),
standing on its *base* (seat): the mean of the mesh at its centre and +-R/2 along x and y. The
solid is the footprint prism cut by the top planes and reaching ``height_m`` below the seat (the
buried part): on flat ground that is exactly the rock's top, and on a slope the rock neither
floats above the downhill ground nor shows a hole under its edge. Only ray hits nearer than the
terrain hit count, so the buried part is never seen. The regolith fillet round the base (8 % of
the height, :data:`farside.terrain.rocks.ROCK_FILLET_HEIGHT`) is not drawn here: it is a
deformation of the ground, which this pass does not change. A ray meets a rock by Kay-Kajiya
clipping against its planes, footprint half-planes and bottom (the entry face gives the normal).

Acceleration: a uniform grid of square bins (``bin_m`` on a side, CSR arrays: ``start`` offsets
per bin, ``index`` rock numbers; a rock is listed in every bin its bounding circle touches) and
blocks of ``_BLOCK`` x ``_BLOCK`` bins holding the highest rock top inside. A ray walks the
blocks along its ground track (2-D DDA), skips a block when the ray stays above the block's
highest rock top, and walks the bins of the others. Camera rays are clipped to the height slab
of the rocks under the frame and end at their terrain hit; sun rays start at the shaded point
and end when they climb above the highest rock top that can shade the frame.

Per frame (:func:`apply_rocks`, called by ``render()`` after the terrain pass):

1. skip everything when the nearest terrain pixel is wider than the largest table rock (every
   rock sub-pixel: LCAM above ~1.3 km over a 0.5 m DEM) or the frame is all sky;
2. candidate rocks: those listed in the bins under the frame's hits (and the camera), widened
   by the longest shadow that can reach them; every rock when the frame shows sky;
3. object order: each candidate's bounding box is projected to the box of pixels whose rays can
   meet it (the pixel centres inside its image box, for an undistorted camera), and the box
   swept away from the Sun over the longest its shadow can be (:func:`shadow_lengths`: a fixed
   point on the DEM's vertex heights, a bound, not a guess) to the pixels it can shade;
4. object order again, rock by rock over its box's pixels (rows split over the threads): the
   nearest exact ray-polyhedron hit in front of the terrain hit; with hard shadows, terrain
   pixels whose sun ray meets the rock go dark. Then, image order over the rock pixels: the
   hit facet's normal, the frame's photometric model, the terrain's sun margin at the rock point
   (the terrain's cast shadow on the rock), and the other rocks' shadows (the walk along the
   sun ray). With 'penumbra', the terrain pixels in the shadow boxes walk their sun ray too and
   take, per rock met, the share of 32 fixed directions spread evenly over the solar disk (a
   sunflower spiral of equal-area points; uniform disk, no limb darkening) whose rays miss the
   rock, the smallest over the rocks met, times the terrain's fraction.

Testing every pixel against every candidate gives the same layers
(``tests/render/test_render_rocks.py``); the boxes only remove tests that cannot succeed.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np

from farside.render._kernels_rays import _ray_consts
from farside.render._rocks_bins import _BLOCK, build_bins, frame_bounds, gather_rocks
from farside.render._rocks_shade import rock_hits, rock_shadows_hard, shade_rocks
from farside.render._rocks_splat import mark_boxes, rock_boxes, row_lists, shadow_lengths
from farside.terrain._kernels_rockshape import C_D, C_H, C_RMAX, C_X, C_Y


class RockBins:
    """The rocks of a :class:`~farside.render.Scene` (not in the DEM) and their bin grid.

    Attributes
    ----------
    shapes : (N, NCOL) float64
        The rocks' polyhedra (:func:`farside.terrain.rocks.rock_shapes` rows).
    x_m, y_m, diameter_m, radius_m, height_m, base_m : (N,) float64
        Centre (site ENU), the table's diameter, the footprint's bounding radius (its farthest
        vertex), the table's height, and the seat.
    bin_m : float
        Bin size (m); the grid starts at the DEM's NW corner.
    start : (nby * nbx + 1,) int32
        CSR offsets: the rocks of bin (row by, col bx) are ``index[start[k]:start[k + 1]]``,
        ``k = by * nbx + bx`` (row 0 = north, like the DEM).
    index : int32
        Rock numbers, bin by bin.
    block_top : (nky, nkx) float64
        Highest rock top (base + height) among the rocks listed in each block's bins;
        -inf where there are none.
    """

    def __init__(self, shapes, base, *, x0_m: float, y0_m: float, width_m: float,
                 height_extent_m: float, bin_m: float) -> None:
        self.shapes = np.ascontiguousarray(shapes, np.float64)
        self.x_m = np.ascontiguousarray(self.shapes[:, C_X])
        self.y_m = np.ascontiguousarray(self.shapes[:, C_Y])
        self.diameter_m = np.ascontiguousarray(self.shapes[:, C_D])
        self.radius_m = np.ascontiguousarray(self.shapes[:, C_RMAX])
        self.height_m = np.ascontiguousarray(self.shapes[:, C_H])
        self.base_m = np.ascontiguousarray(base, np.float64)
        self.bin_m = float(bin_m)
        self.x0_m = float(x0_m)
        self.y0_m = float(y0_m)
        self.nbx = max(1, int(math.ceil(width_m / bin_m - 1e-9)))
        self.nby = max(1, int(math.ceil(height_extent_m / bin_m - 1e-9)))
        self.nkx = (self.nbx + _BLOCK - 1) // _BLOCK
        self.nky = (self.nby + _BLOCK - 1) // _BLOCK
        self.start, self.index, self.block_top = build_bins(self.x_m, self.y_m, self.radius_m,
                                                            self.base_m + self.height_m, self.x0_m, self.y0_m,
                                                            self.bin_m, self.nbx, self.nby, _BLOCK)
        self.top_max = float((self.base_m + self.height_m).max())
        self.bottom_min = float((self.base_m - self.height_m).min())
        self.diameter_max_m = float(self.diameter_m.max())
        self.height_max_m = float(self.height_m.max())
        self._lengths: dict = {}                  # (Sun direction, spread) -> shadow_lengths
        self._lengths_lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Pickle without the lock and the per-Sun shadow-path cache (rebuilt on demand)."""
        d = self.__dict__.copy()
        d.pop("_lengths_lock", None)
        d["_lengths"] = {}
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._lengths_lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.x_m.size)

    @property
    def nbytes(self) -> int:
        return int(self.start.nbytes + self.index.nbytes + self.block_top.nbytes + 6 * self.x_m.nbytes
                   + self.shapes.nbytes)

    def grid_args(self) -> tuple:
        return (self.x0_m, self.y0_m, self.bin_m, self.nbx, self.nby, _BLOCK, self.start, self.index,
                self.block_top, self.shapes, self.base_m, self.bottom_min, self.top_max)


# --------------------------------------------------------------------------------------------
# candidate rocks and slab tops of a frame
# --------------------------------------------------------------------------------------------
def _blocks_top(rocks: "RockBins", xmin: float, xmax: float, ymin: float, ymax: float) -> float:
    """Highest rock top listed in the blocks overlapping the box (site ENU metres)."""
    sb = rocks.bin_m * _BLOCK
    nky, nkx = rocks.block_top.shape
    c0 = min(max(int(math.floor((xmin - rocks.x0_m) / sb)), 0), nkx - 1)
    c1 = min(max(int(math.floor((xmax - rocks.x0_m) / sb)), 0), nkx - 1)
    r0 = min(max(int(math.floor((rocks.y0_m - ymax) / sb)), 0), nky - 1)
    r1 = min(max(int(math.floor((rocks.y0_m - ymin) / sb)), 0), nky - 1)
    return float(rocks.block_top[r0:r1 + 1, c0:c1 + 1].max())


def _candidates(rocks: "RockBins", camera, bounds, sun: np.ndarray, top_sun: float) -> tuple[np.ndarray, float]:
    """Rocks that can appear in, or cast a shadow into, the frame, and the longest shadow path
    (m along the sun ray) that can end on a visible point: the rocks listed in the bins under
    the box of the points where rays can meet rocks (:func:`frame_bounds`) and the camera,
    widened by that reach; all without bounds (``sky`` set: orthographic views)."""
    xmin, xmax, ymin, ymax, zmin, sky = bounds
    if sun[2] > 0.0 and math.isfinite(zmin):
        reach = max(top_sun - zmin, 0.0) / sun[2] + 2.0 * rocks.bin_m
    else:
        reach = 0.0
    if sky or camera.projection == "orthographic":
        return np.arange(len(rocks), dtype=np.int64), reach
    px, py = float(camera.position_enu[0]), float(camera.position_enu[1])
    w = reach * math.hypot(sun[0], sun[1]) + rocks.bin_m
    b = rocks.bin_m
    bx0 = min(max(int(math.floor((min(xmin, px) - w - rocks.x0_m) / b)), 0), rocks.nbx - 1)
    bx1 = min(max(int(math.floor((max(xmax, px) + w - rocks.x0_m) / b)), 0), rocks.nbx - 1)
    by0 = min(max(int(math.floor((rocks.y0_m - max(ymax, py) - w) / b)), 0), rocks.nby - 1)
    by1 = min(max(int(math.floor((rocks.y0_m - min(ymin, py) + w) / b)), 0), rocks.nby - 1)
    return gather_rocks(rocks.start, rocks.index, rocks.nbx, by0, by1, bx0, bx1, len(rocks)), reach


def local_tops(rocks: "RockBins", camera, bounds, sun: np.ndarray) -> tuple[float, float]:
    """Height slab tops for this frame: (camera rays, sun rays). A camera ray's ground track runs
    from the camera's ground point to its terrain hit, inside the box of the hits and the camera:
    only rocks listed in the blocks under that box can meet it. A sun ray from a visible point
    climbs at tan(e) toward the Sun, so it can only meet rocks within (top - z min) / tan(e)
    sunward of the box; the top is raised until it covers that reach. Without bounds (``sky``
    set: orthographic views) the highest rock of the site."""
    xmin, xmax, ymin, ymax, zmin, sky = bounds
    if sky or camera.projection == "orthographic":
        return rocks.top_max, rocks.top_max
    px, py = float(camera.position_enu[0]), float(camera.position_enu[1])
    top_cam = _blocks_top(rocks, min(xmin, px), max(xmax, px), min(ymin, py), max(ymax, py))
    horiz = math.hypot(sun[0], sun[1])
    if sun[2] <= 0.0:
        return top_cam, top_cam
    top = _blocks_top(rocks, xmin, xmax, ymin, ymax)
    for _ in range(32):
        reach = max(top - zmin, 0.0) * horiz / sun[2] + rocks.bin_m
        ex = reach * sun[0] / horiz if horiz > 0.0 else 0.0
        ey = reach * sun[1] / horiz if horiz > 0.0 else 0.0
        new = _blocks_top(rocks, min(xmin, xmin + ex), max(xmax, xmax + ex), min(ymin, ymin + ey),
                          max(ymax, ymax + ey))
        if not new > top:
            break
        top = new
    else:
        top = rocks.top_max
    return top_cam, max(top, top_cam)


# --------------------------------------------------------------------------------------------
# driver (called by render())
# --------------------------------------------------------------------------------------------
def frame_needs_rocks(rocks: RockBins, camera, range_m: np.ndarray) -> bool:
    """False when even the nearest terrain pixel of the frame is wider than the largest table rock
    (every rock would be sub-pixel): the pass is skipped then. Also False for an all-sky frame."""
    if not np.isfinite(range_m).any():
        return False
    if camera.projection == "orthographic":
        footprint = camera.gsd_m
    else:
        footprint = float(np.nanmin(range_m)) / max(camera.fx_px, camera.fy_px)
    return footprint <= rocks.diameter_max_m


def _shadow_lengths(scene, rocks: RockBins, sun: np.ndarray, spread: float) -> np.ndarray:
    """:func:`shadow_lengths` of every rock for this Sun (and disk ``spread``); cached on the rocks
    for the last few Sun directions (a descent renders thousands of frames under one Sun)."""
    key = (*(float(c) for c in sun), float(spread))
    cache = rocks._lengths
    if key not in cache:
        with rocks._lengths_lock:
            if key not in cache:
                if len(cache) >= 4:
                    cache.pop(next(iter(cache)))
                cache[key] = shadow_lengths(rocks.x_m, rocks.y_m, rocks.radius_m, rocks.height_m, rocks.base_m, sun,
                                            spread, scene.heights, scene.zmin, scene.x0_m, scene.y0_m,
                                            scene.resolution_m)
    return cache[key]


def apply_rocks(scene, camera, lay: dict, sun: np.ndarray, model, mode: int, full: bool, tmax: float,
                utab: np.ndarray, clip_rad: float, sun_radius: float) -> int:
    """Add the scene's table rocks to the layers ``lay`` of a frame rendered by the terrain pass
    (in place; see the module docstring). Returns the number of rock pixels; 0 when the pass was
    skipped because every rock would be sub-pixel (:func:`frame_needs_rocks`)."""
    rocks: RockBins | None = scene.rocks
    if rocks is None or not frame_needs_rocks(rocks, camera, lay["range_m"]):
        return 0
    hgt, wid = camera.height_px, camera.width_px
    rc = _ray_consts(camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2,
                     camera.projection == "orthographic", camera.gsd_m, camera.position_enu,
                     camera.rotation_enu_from_cam)
    g = rocks.grid_args()[:-1]
    hit_id = np.empty((hgt, wid), np.int32)
    hit_t = np.empty((hgt, wid), np.float64)
    t_img = lay["range_m"]
    ortho = camera.projection == "orthographic"
    if ortho:               # (no bound: every rock is a candidate, the slab tops the highest rock)
        bounds = (-np.inf, np.inf, -np.inf, np.inf, -np.inf, True)
    else:
        bounds = frame_bounds(rc, utab, wid, hgt, t_img, rocks.bottom_min, rocks.top_max, rocks.x0_m,
                              rocks.x0_m + rocks.nbx * rocks.bin_m, rocks.y0_m - rocks.nby * rocks.bin_m, rocks.y0_m)
        if not math.isfinite(bounds[0]):     # no ray can meet a rock
            return 0
    _top_cam, top_sun = local_tops(rocks, camera, bounds, sun)
    cand, reach = _candidates(rocks, camera, bounds, sun, top_sun)
    spread = sun_radius if mode == 2 else 0.0      # a penumbra: the sun rays across the disk
    lengths = _shadow_lengths(scene, rocks, sun, spread) if mode > 0 and sun[2] > 0.0 else np.empty(0)
    boxes = rock_boxes(cand, rocks.x_m, rocks.y_m, rocks.radius_m, rocks.height_m, rocks.base_m, camera.fx_px,
                       camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2, ortho, camera.gsd_m,
                       camera.position_enu, camera.rotation_enu_from_cam, sun, mode > 0, reach, lengths, spread,
                       wid, hgt)
    nth = numba.get_num_threads()
    rows_cam = row_lists(boxes, 0, hgt)
    n = rock_hits(rc, utab, wid, hgt, t_img, tmax, cand, boxes, *rows_cam, rocks.shapes, rocks.base_m, hit_id, hit_t,
                  nth)
    if mode > 0:
        if n > 0:
            # the margin tiles under the rocks seen (a rock reaches at most 0.85 D <= 1.7 DEM pixels from
            # its centre, so two vertices either side of the centre's cover it)
            ids = np.unique(hit_id[hit_id >= 0])
            col = np.floor((rocks.x_m[ids] - scene.x0_m) / scene.resolution_m - 0.5).astype(np.int64)
            row = np.floor((scene.y0_m - rocks.y_m[ids]) / scene.resolution_m - 0.5).astype(np.int64)
            rr = np.concatenate([row + d for d in range(-2, 3) for _ in range(5)])
            cc = np.concatenate([col + d for _ in range(5) for d in range(-2, 3)])
            nr, nc = scene.heights.shape
            margin = scene.margin_map(sun, rows=np.clip(rr, 0, nr - 1), cols=np.clip(cc, 0, nc - 1), clip_rad=clip_rad)
        else:
            margin, _done, _tile = scene._shadow_arrays(sun, clip_rad)
    else:
        margin = np.zeros((2, 2), np.float32)
    one = np.empty((1, 1), np.float32)
    one3 = np.empty((1, 1, 3), np.float32)
    out = (lay["reflectance"], lay.get("incidence_rad", one), lay.get("emission_rad", one), lay.get("phase_rad", one),
           lay["lit_fraction"], lay.get("normal_enu", one3), lay.get("points_enu", np.empty((1, 1, 3))))
    # terrain pixels in the rocks' shadows: hard shadows in object order (each rock tests the
    # pixels of its swept box), the penumbra by the walk along the sun ray of each marked pixel
    mask_sun = np.zeros((hgt, wid) if mode == 2 else (1, 1), np.uint8)
    if mode == 1 and sun[2] > 0.0:
        rock_shadows_hard(rc, utab, wid, hgt, hit_id, t_img, sun, top_sun, cand, boxes, *row_lists(boxes, 4, hgt),
                          rocks.shapes, rocks.base_m, lay["lit_fraction"], lay["reflectance"], nth)
    elif mode == 2:
        mark_boxes(boxes, 4, mask_sun)
    shade_rocks(rc, utab, wid, hgt, hit_id, hit_t, scene.x0_m, scene.y0_m, scene.resolution_m, sun, margin, mode,
                sun_radius, model.model_id, model.packed(), full, *g, top_sun, mask_sun, t_img, *out, nth)
    return int(n)
