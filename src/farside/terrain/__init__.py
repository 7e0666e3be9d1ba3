"""Terrain: the :class:`Terrain` type, DEM I/O, procedural sites, derived maps."""

from farside.terrain._types import Terrain
from farside.terrain.io import is_lunar_crs, read_dem, site_crs, write_dem, write_site_tables
from farside.terrain.maps import (
    LANDER_LIMITS,
    ROVER_LIMITS,
    HazardLimits,
    aspect_deg,
    hazard_mask,
    hillshade,
    protrusion_m,
    rock_height_map,
    roughness_m,
    slope_deg,
)

__all__ = [
    "Terrain",
    "read_dem",
    "write_dem",
    "write_site_tables",
    "site_crs",
    "is_lunar_crs",
    "HazardLimits",
    "LANDER_LIMITS",
    "ROVER_LIMITS",
    "slope_deg",
    "aspect_deg",
    "roughness_m",
    "protrusion_m",
    "rock_height_map",
    "hazard_mask",
    "hillshade",
]
