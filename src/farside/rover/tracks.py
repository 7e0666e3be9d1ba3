"""The rover's wheel tracks: a fine height-delta raster around the lander.

:class:`TrackRaster` is a square raster (default 0.02 m pixels over +-25 m) of height changes
(metres, negative in a rut) in the site ENU frame, georeferenced like a
:class:`farside.terrain.Terrain` (row 0 north, ``x0_m, y0_m`` the NW corner), so
:meth:`TrackRaster.to_terrain_delta` can be written as a GeoTIFF and added to the site heights by
the renderer.

:func:`imprint` carves each wheel's rut along its path:

* cross-section: flat-bottomed, depth = the wheel's sinkage (linear between path points), width =
  the wheel width, edges anti-aliased with a one-pixel box filter, so the carved volume of a
  straight rut is ``sinkage x width x length`` to the pixelisation of its edges;
* ruts combine by ``max``: a wheel driving in an existing rut (the middle and rear wheels follow
  the front wheel) does not deepen it (repeated-pass compaction is not modelled);
* soil is compacted, not displaced, by default (``berm_fraction = 0``: the sinkage of Bekker's
  pressure-sinkage law is compaction). With ``berm_fraction = f`` a flat berm of ``berm_width_m``
  each side holds the fraction ``f`` of the rut's cross-section (``f = 1``: mass-conserving for a
  single rut; where ruts overlap the sum is not conserved);
* grouser marks: with ``grouser_count`` and ``grouser_height_m`` (and the wheel radius) the rut
  floor is modulated by ``grouser_height * (1 + cos(2 pi s / p)) / 2`` with ``p = 2 pi r /
  grouser_count`` and ``s`` the distance along the wheel's path (no slip);
* a path step longer than ``max_step_m`` (a point turn between drive steps, a jump) is not
  carved; steps beyond the raster are clipped (counted in ``clipped_segments``).
"""

from __future__ import annotations

import math

import numpy as np

from farside.errors import invalid
from farside.rover._kernels_suspension import rut_kernel

__all__ = ["TrackRaster", "imprint"]


class TrackRaster:
    """A height-delta raster of wheel tracks (mutable: :func:`imprint` carves into it).

    Parameters
    ----------
    x0_m, y0_m : float
        Site-ENU coordinates of the north-west corner, metres.
    resolution_m : float
        Pixel size, metres.
    shape : (rows, cols)
        Raster size.
    anchor_lat_deg, anchor_lon_deg : float
        The site's ENU anchor (passed on to :meth:`to_terrain_delta`).

    Attributes
    ----------
    carve_m : (rows, cols) float32
        Rut depth (>= 0), metres.
    berm_m : (rows, cols) float32
        Berm height (>= 0), metres (zeros unless a berm was imprinted).
    clipped_segments : int
        Wheel path steps that reached beyond the raster.
    """

    def __init__(self, x0_m: float, y0_m: float, resolution_m: float, shape: tuple[int, int], *,
                 anchor_lat_deg: float = 0.0, anchor_lon_deg: float = 0.0) -> None:
        for name, v in (("x0_m", x0_m), ("y0_m", y0_m)):
            if not math.isfinite(float(v)):
                raise invalid(name, v, "a finite coordinate in metres")
        if not (math.isfinite(resolution_m) and resolution_m > 0):
            raise invalid("resolution_m", resolution_m, "a pixel size > 0 m")
        rows, cols = (int(v) for v in shape)
        if rows < 2 or cols < 2:
            raise invalid("shape", shape, "at least 2 x 2 pixels")
        if rows * cols > 200_000_000:
            raise invalid("shape", shape, "at most 2e8 pixels (coarser resolution_m or a smaller half_width_m)")
        self.x0_m = float(x0_m)
        self.y0_m = float(y0_m)
        self.resolution_m = float(resolution_m)
        self.anchor_lat_deg = float(anchor_lat_deg)
        self.anchor_lon_deg = float(anchor_lon_deg)
        self.carve_m = np.zeros((rows, cols), np.float32)
        self.berm_m = np.zeros((rows, cols), np.float32)
        self.clipped_segments = 0

    @classmethod
    def around(cls, x_m: float, y_m: float, *, half_width_m: float = 25.0, resolution_m: float = 0.02,
               anchor_lat_deg: float = 0.0, anchor_lon_deg: float = 0.0) -> TrackRaster:
        """A square raster centred on ``(x_m, y_m)`` (e.g. the lander), ``2 * half_width_m`` wide."""
        if not (math.isfinite(half_width_m) and half_width_m > 0):
            raise invalid("half_width_m", half_width_m, "a half width > 0 m")
        if not (math.isfinite(resolution_m) and resolution_m > 0):
            raise invalid("resolution_m", resolution_m, "a pixel size > 0 m")
        n = max(2, int(math.ceil(2.0 * half_width_m / resolution_m)))
        half = 0.5 * n * resolution_m
        return cls(float(x_m) - half, float(y_m) + half, resolution_m, (n, n), anchor_lat_deg=anchor_lat_deg,
                   anchor_lon_deg=anchor_lon_deg)

    @property
    def shape(self) -> tuple[int, int]:
        return self.carve_m.shape  # type: ignore[return-value]

    @property
    def extent_m(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the raster's outer edges, site ENU metres."""
        rows, cols = self.shape
        return (self.x0_m, self.x0_m + cols * self.resolution_m, self.y0_m - rows * self.resolution_m, self.y0_m)

    @property
    def x_m(self) -> np.ndarray:
        """Column-centre x coordinates (east), metres."""
        return self.x0_m + (np.arange(self.shape[1]) + 0.5) * self.resolution_m

    @property
    def y_m(self) -> np.ndarray:
        """Row-centre y coordinates (north), metres; decreasing with row."""
        return self.y0_m - (np.arange(self.shape[0]) + 0.5) * self.resolution_m

    @property
    def delta_m(self) -> np.ndarray:
        """Height change (float32): berm height minus rut depth, metres."""
        return self.berm_m - self.carve_m

    @property
    def delta(self) -> np.ndarray:
        """Same as :attr:`delta_m`."""
        return self.delta_m

    def to_terrain_delta(self, *, anchor_lat_deg: float | None = None, anchor_lon_deg: float | None = None):
        """The delta as a :class:`farside.terrain.Terrain` (float32, same ENU frame), anchored at
        the given site anchor (default: the raster's own)."""
        from farside.terrain import Terrain

        lat = self.anchor_lat_deg if anchor_lat_deg is None else float(anchor_lat_deg)
        lon = self.anchor_lon_deg if anchor_lon_deg is None else float(anchor_lon_deg)
        return Terrain(self.delta_m.astype(np.float32), self.resolution_m, x0_m=self.x0_m, y0_m=self.y0_m,
                       anchor_lat_deg=lat, anchor_lon_deg=lon,
                       meta={"source": "farside.rover.tracks", "quantity": "height delta of wheel tracks (m)"})

    def __repr__(self) -> str:
        return (f"TrackRaster(shape={self.shape}, resolution_m={self.resolution_m}, x0_m={self.x0_m}, "
                f"y0_m={self.y0_m}, max_depth_m={float(self.carve_m.max()):.4f})")


def imprint(raster: TrackRaster, wheel_xy, sinkage_m, wheel_width_m: float, *, wheel_radius_m: float | None = None,
            grouser_count: int = 0, grouser_height_m: float = 0.0, berm_fraction: float = 0.0,
            berm_width_m: float | None = None, max_step_m: float = 1.0) -> TrackRaster:
    """Carve the wheels' ruts along a path into ``raster`` (in place; module docstring).

    Parameters
    ----------
    raster : TrackRaster
    wheel_xy : (N, W, 2) array_like
        Each wheel's contact position (site ENU metres) at N successive places (W wheels, 6 for
        the rover).
    sinkage_m : (N, W) array_like
        Each wheel's sinkage there, metres (>= 0; NaN: no rut at that place).
    wheel_width_m : float
        Rut width, metres.
    wheel_radius_m, grouser_count, grouser_height_m : optional
        Grouser marks (all three needed; module docstring).
    berm_fraction : float
        Fraction of the carved cross-section piled in the two berms, in [0, 1].
    berm_width_m : float, optional
        Width of each berm (default half the wheel width).
    max_step_m : float
        Path steps longer than this are not carved.

    Returns
    -------
    TrackRaster
        The same raster.
    """
    if not isinstance(raster, TrackRaster):
        raise invalid("raster", type(raster).__name__, "a TrackRaster")
    xy = np.asarray(wheel_xy, dtype=float)
    if xy.ndim == 2 and xy.shape[-1] == 2:
        xy = xy[:, None, :]
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise invalid("wheel_xy", xy.shape, "an (N, W, 2) array of wheel positions")
    sink = np.asarray(sinkage_m, dtype=float)
    if sink.ndim == 1 and xy.shape[1] == 1:
        sink = sink[:, None]
    if sink.shape != xy.shape[:2]:
        raise invalid("sinkage_m", sink.shape, f"an array of shape {xy.shape[:2]} (one sinkage per wheel and place)")
    if np.any(sink[np.isfinite(sink)] < 0):
        raise invalid("sinkage_m", "negative values", "sinkages >= 0 m (NaN: no rut)")
    if not (math.isfinite(wheel_width_m) and wheel_width_m > 0):
        raise invalid("wheel_width_m", wheel_width_m, "a width > 0 m")
    if not (math.isfinite(berm_fraction) and 0.0 <= berm_fraction <= 1.0):
        raise invalid("berm_fraction", berm_fraction, "a fraction in [0, 1]")
    bw = 0.5 * wheel_width_m if berm_width_m is None else float(berm_width_m)
    if not (math.isfinite(bw) and bw > 0):
        raise invalid("berm_width_m", berm_width_m, "a width > 0 m")
    if not (math.isfinite(max_step_m) and max_step_m > 0):
        raise invalid("max_step_m", max_step_m, "a length > 0 m")
    g_amp, g_pitch = 0.0, 1.0
    if grouser_count and grouser_height_m:
        if wheel_radius_m is None or not (math.isfinite(wheel_radius_m) and wheel_radius_m > 0):
            raise invalid("wheel_radius_m", wheel_radius_m, "a radius > 0 m (needed for grouser marks)")
        if int(grouser_count) < 1 or not (math.isfinite(grouser_height_m) and grouser_height_m >= 0):
            raise invalid("grouser_count/grouser_height_m", (grouser_count, grouser_height_m),
                          "a count >= 1 and a height >= 0 m")
        g_amp = float(grouser_height_m)
        g_pitch = 2.0 * math.pi * float(wheel_radius_m) / int(grouser_count)
    n, nw = xy.shape[:2]
    if n < 2:
        return raster
    for w in range(nw):
        px = np.ascontiguousarray(xy[:, w, 0])
        py = np.ascontiguousarray(xy[:, w, 1])
        d = sink[:, w]
        step = np.hypot(np.diff(px), np.diff(py))
        ok = (step <= max_step_m) & np.isfinite(d[:-1]) & np.isfinite(d[1:]) & np.isfinite(step)
        ok &= np.isfinite(px[:-1]) & np.isfinite(px[1:]) & np.isfinite(py[:-1]) & np.isfinite(py[1:])
        s_along = np.concatenate([[0.0], np.cumsum(np.where(ok, step, 0.0))])
        raster.clipped_segments += int(rut_kernel(raster.carve_m, raster.berm_m, raster.x0_m, raster.y0_m,
                                                  raster.resolution_m, np.nan_to_num(px), np.nan_to_num(py),
                                                  np.nan_to_num(d), s_along, ok, 0.5 * wheel_width_m, bw,
                                                  float(berm_fraction), g_amp, g_pitch))
    return raster
