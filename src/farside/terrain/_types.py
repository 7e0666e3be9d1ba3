"""The :class:`Terrain` value type: a georeferenced height raster in site ENU."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from farside.errors import invalid

__all__ = ["Terrain"]


@dataclass(frozen=True, eq=False)
class Terrain:
    """A square-pixel height raster anchored in the site ENU frame.

    Attributes
    ----------
    heights : (rows, cols) float32 array
        Elevation in metres above the lunar reference sphere (R = 1737.4 km); row 0 is the north
        edge, column 0 the west edge. Inside the site the ENU ``z`` of a surface point equals its
        height (flat-site approximation: over 2 km the sphere drops by only 0.29 m; DESIGN.md).
    resolution_m : float
        Pixel size in metres (square pixels).
    x0_m, y0_m : float
        Site-ENU coordinates (metres, x east, y north) of the raster's north-west *corner* (outer
        edge of pixel [0, 0]). Pixel ``[i, j]`` has its centre at
        ``x = x0_m + (j + 0.5) * resolution_m``, ``y = y0_m - (i + 0.5) * resolution_m``.
    anchor_lat_deg, anchor_lon_deg : float
        Selenographic (MOON_ME) latitude/longitude of the ENU origin (the scenario's nominal
        landing point), degrees, longitude east-positive in (-180, 360).
    datum_m : float
        Vertical datum of ``heights``: the elevation of a vertex is ``heights + datum_m``. 0 for
        ordinary DEMs. Fine rasters (the millimetre relief of :func:`farside.terrain.regolith_patch`)
        store heights relative to a datum near their mean, because float32 at the Chang'e-4 floor's
        -5935 m steps by 0.49 mm. :meth:`height_at` and :class:`farside.render.Scene` add it.
    """

    heights: np.ndarray
    resolution_m: float
    x0_m: float = 0.0
    y0_m: float = 0.0
    anchor_lat_deg: float = 0.0
    anchor_lon_deg: float = 0.0
    meta: dict = field(default_factory=dict)
    datum_m: float = 0.0

    def __post_init__(self) -> None:
        h = np.asarray(self.heights)
        if h.ndim != 2 or min(h.shape) < 2:
            raise invalid("heights.shape", h.shape, "a 2-D array with at least 2 x 2 pixels")
        if h.dtype != np.float32:
            h = h.astype(np.float32)
        if not np.isfinite(h).any():
            raise invalid("heights", "all NaN/inf", "at least one finite height", )
        object.__setattr__(self, "heights", h)
        r = self.resolution_m
        if not (isinstance(r, (int, float, np.floating)) and math.isfinite(r) and r > 0):
            raise invalid("resolution_m", r, "a finite number > 0")
        object.__setattr__(self, "resolution_m", float(r))
        d = self.datum_m
        if not (isinstance(d, (int, float, np.floating)) and math.isfinite(d) and abs(d) < 1e5):
            raise invalid("datum_m", d, "a finite height in metres (|datum| < 100 km)")
        object.__setattr__(self, "datum_m", float(d))
        lat = float(self.anchor_lat_deg)
        if not (-90.0 <= lat <= 90.0):
            raise invalid("anchor_lat_deg", lat, "a latitude in [-90, 90] degrees")
        lon = float(self.anchor_lon_deg)
        if not (math.isfinite(lon) and -180.0 <= lon < 360.0):
            raise invalid("anchor_lon_deg", lon, "a longitude in [-180, 360) degrees")

    # --- geometry -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.heights.shape  # type: ignore[return-value]

    @property
    def width_m(self) -> float:
        return self.shape[1] * self.resolution_m

    @property
    def height_m(self) -> float:
        return self.shape[0] * self.resolution_m

    @property
    def extent_m(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the raster's outer edges, site ENU metres."""
        return (self.x0_m, self.x0_m + self.width_m, self.y0_m - self.height_m, self.y0_m)

    @property
    def x_m(self) -> np.ndarray:
        """Column-centre x coordinates (east), metres."""
        return self.x0_m + (np.arange(self.shape[1]) + 0.5) * self.resolution_m

    @property
    def y_m(self) -> np.ndarray:
        """Row-centre y coordinates (north), metres; decreasing with row."""
        return self.y0_m - (np.arange(self.shape[0]) + 0.5) * self.resolution_m

    def xy_to_ij(self, x_m, y_m):
        """Fractional (row, col) of ENU points; integer values are pixel centres."""
        col = (np.asarray(x_m, dtype=float) - self.x0_m) / self.resolution_m - 0.5
        row = (self.y0_m - np.asarray(y_m, dtype=float)) / self.resolution_m - 0.5
        return row, col

    def height_at(self, x_m, y_m) -> np.ndarray:
        """Height of the surface at ENU points: the DEM's triangle mesh, the one surface model
        every part of farside samples (:mod:`farside.terrain.surface`; clamped at the edges)."""
        from farside.terrain.surface import surface_heights

        h = surface_heights(self.heights, self.x0_m, self.y0_m, self.resolution_m, x_m, y_m)
        return h + self.datum_m if self.datum_m else h

    def replace(self, **changes) -> "Terrain":
        """A copy with some fields changed (heights, resolution_m, ...)."""
        from dataclasses import replace as _replace

        return _replace(self, **changes)

    def __repr__(self) -> str:
        return (f"Terrain(shape={self.shape}, resolution_m={self.resolution_m}, "
                f"x0_m={self.x0_m}, y0_m={self.y0_m}, anchor=({self.anchor_lat_deg}, {self.anchor_lon_deg}))")
