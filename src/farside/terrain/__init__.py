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
from farside.terrain.craters import (
    cumulative_crater_density,
    expected_crater_counts,
    neukum_chronology,
    neukum_production,
    trask_equilibrium,
)
from farside.terrain.generate import CE4_ROCK_ABUNDANCE, CE4_SURFACE_AGE_GYR, Site, chang_e4_site, generate_site
from farside.terrain.backdrop import (
    backdrop_elevation,
    enu_z_to_sphere_height,
    regional_backdrop,
    sphere_drop_m,
    sphere_height_to_enu_z,
)
from farside.terrain.rocks import rock_cfa, rock_q, rock_shapes
from farside.terrain.roughness import fractal_roughness
from farside.terrain.detail import RegolithDetail, albedo_factor, nested_patches, regolith_patch

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
    "Site",
    "generate_site",
    "chang_e4_site",
    "CE4_SURFACE_AGE_GYR",
    "CE4_ROCK_ABUNDANCE",
    "neukum_production",
    "neukum_chronology",
    "trask_equilibrium",
    "cumulative_crater_density",
    "expected_crater_counts",
    "rock_cfa",
    "rock_q",
    "rock_shapes",
    "fractal_roughness",
    "regional_backdrop",
    "backdrop_elevation",
    "sphere_drop_m",
    "sphere_height_to_enu_z",
    "enu_z_to_sphere_height",
    "RegolithDetail",
    "regolith_patch",
    "nested_patches",
    "albedo_factor",
]
