"""Procedural landing sites: craters + fractal roughness + rocks on a regional plane.

:func:`generate_site` builds, in this order (each component from its own child random stream,
``SeedSequence.spawn`` in the fixed order craters, roughness, background rocks, ejecta blocks, so
changing one component's parameters never changes another's draws):

1. the regional surface: a plane at ``elevation_m`` through the site origin, dipping
   ``regional_slope_deg`` toward ``regional_slope_azimuth_deg`` (clockwise from north). Crater
   shapes are computed on the level surface and the plane is added at the end, so the regional
   slope is exact (inheritance inside craters would otherwise flatten a tilt a little more with
   every overlapping crater generation; the mare-floor slopes involved barely change crater shapes);
2. craters (:mod:`farside.terrain.craters`): Neukum 2001 production for ``age_gyr`` limited by the
   Trask equilibrium, fresh Pike-type profiles degraded by diffusion, stamped oldest first with
   partial inheritance of the relief they land on;
3. self-affine roughness (:mod:`farside.terrain.roughness`), the present-day small-scale texture;
4. rocks (:mod:`farside.terrain.rocks`): Golombek & Rapp background with ``rock_abundance`` plus
   ejecta blocks around fresh blocky craters; every rock is in the table, rocks wider than two
   pixels are also stamped into the DEM, as the seeded polyhedra of :func:`farside.terrain.rocks.rock_shapes`.

Heights are computed in float64 relative to ``elevation_m`` and stored as float32 metres.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from farside._core import child_streams
from farside.constants import CE4_ELEVATION_M, CE4_LAT_DEG, CE4_LON_DEG
from farside.errors import invalid
from farside.terrain._types import Terrain
from farside.terrain.craters import TAU_ERASE, sample_craters, stamp_craters
from farside.terrain.rocks import sample_ejecta_blocks, sample_rocks, stamp_rocks
from farside.terrain.roughness import DEFAULT_BASELINE_M, DEFAULT_HURST, DEFAULT_RMS_M, fractal_roughness

__all__ = [
    "Site",
    "generate_site",
    "chang_e4_site",
    "CE4_SURFACE_AGE_GYR",
    "CE4_ROCK_ABUNDANCE",
    "estimate_site_bytes",
]

#: Surface age of the Chang'e-4 site for the crater population: the midpoint of the two model ages
#: of the Von Karman floor basalts, 3.15 and 3.35 Ga (Guo et al. 2019; docs/references.md 1.3). Only
#: craters larger than ~150 m (the production/equilibrium crossover) depend on it.
CE4_SURFACE_AGE_GYR = 3.25
#: Chang'e-4 rock abundance 0.21 % (Wu et al. 2021, Pancam; docs/references.md 7.3).
CE4_ROCK_ABUNDANCE = 0.0021
#: Working memory per pixel of :func:`generate_site` (float64 DEM, noise, half spectrum, output).
_BYTES_PER_PX = 48
_DEFAULT_MEMORY_BUDGET = 8 * 1024 ** 3


@dataclass(frozen=True, eq=False)
class Site:
    """A generated landing site.

    Attributes
    ----------
    terrain : Terrain
        The DEM, centred on the site-ENU origin.
    craters : pandas.DataFrame
        Every crater stamped into the DEM, oldest first: ``x_m, y_m`` (centre, site ENU, m),
        ``diameter_m``, ``depth_m`` (rim crest to floor of the isolated crater), ``rim_height_m``,
        ``tau`` (diffusion age kappa t / R^2), ``u`` (fraction of the erasing flux seen),
        ``age_gyr`` (time since formation), ``fresh`` (d/D >= 0.15). Craters centred up to 1.5 D
        outside the raster are included (their ejecta reaches inside).
    rocks : pandas.DataFrame
        ``x_m, y_m, diameter_m, height_m``, ``source`` ("background"/"ejecta"), ``crater`` (row of
        the parent crater, -1 for background). All inside the raster.
    params : dict
        The generation parameters (JSON-friendly).
    """

    terrain: Terrain
    craters: pd.DataFrame
    rocks: pd.DataFrame
    params: dict = field(default_factory=dict)


def estimate_site_bytes(size_px: int) -> int:
    """Peak working memory (bytes) :func:`generate_site` needs for a ``size_px`` square site."""
    return int(size_px) ** 2 * _BYTES_PER_PX


def _finite(name: str, v, lo: float | None = None, hi: float | None = None, lo_open=False, valid=""):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise invalid(name, v, valid or "a finite number")
    f = float(v)
    if lo is not None and (f < lo or (lo_open and f == lo)):
        raise invalid(name, v, valid)
    if hi is not None and f > hi:
        raise invalid(name, v, valid)
    return f


def generate_site(
    size_px: int,
    resolution_m: float,
    *,
    rng: int | np.random.Generator,
    age_gyr: float = CE4_SURFACE_AGE_GYR,
    rock_abundance: float = CE4_ROCK_ABUNDANCE,
    elevation_m: float = CE4_ELEVATION_M,
    regional_slope_deg: float = 0.0,
    regional_slope_azimuth_deg: float = 0.0,
    min_crater_diameter_m: float | None = None,
    max_crater_diameter_m: float | None = None,
    min_rock_diameter_m: float = 0.1,
    ejecta_rock_abundance: float = 0.05,
    roughness_hurst: float = DEFAULT_HURST,
    roughness_rms_m: float = DEFAULT_RMS_M,
    roughness_baseline_m: float = DEFAULT_BASELINE_M,
    anchor_lat_deg: float = CE4_LAT_DEG,
    anchor_lon_deg: float = CE4_LON_DEG,
    max_memory_bytes: int = _DEFAULT_MEMORY_BUDGET,
) -> Site:
    """Generate a seeded ``size_px`` x ``size_px`` landing site at ``resolution_m`` m/px, centred
    on the site-ENU origin (module docstring for the model).

    Defaults reproduce the Chang'e-4 site: surface age 3.25 Gyr (midpoint of the 3.15 and 3.35 Ga
    floor-basalt ages, docs/references.md 1.3), rock abundance 0.0021 (Wu et al. 2021), elevation
    -5935 m (:data:`farside.constants.CE4_ELEVATION_M`), a level regional floor.

    Parameters
    ----------
    size_px : int
        Raster side in pixels, >= 16; the working memory (:func:`estimate_site_bytes`) must fit in
        ``max_memory_bytes``.
    resolution_m : float
        Pixel size, metres.
    rng : int or numpy.random.Generator
        Root of the child streams (craters, roughness, background rocks, ejecta blocks;
        :func:`farside._core.child_streams`).
    age_gyr : float
        Surface age in (0, 4.5] Gyr.
    rock_abundance : float
        Background Golombek & Rapp ``k`` in [0, 1).
    regional_slope_deg, regional_slope_azimuth_deg : float
        Regional tilt in [0, 45) deg and the downhill azimuth, deg clockwise from north.
    min_crater_diameter_m, max_crater_diameter_m : float, optional
        Crater diameter range; defaults 2 pixels and half the site width.
    min_rock_diameter_m : float
        Smallest rock drawn (default 0.1 m); rocks up to 10 m.
    ejecta_rock_abundance : float
        Rock abundance on the rim of a fresh blocky crater (default 0.05, docs/references.md 1.3).
    roughness_hurst, roughness_rms_m, roughness_baseline_m : float
        Fractal roughness: Hurst exponent and RMS height difference at the baseline.
    """
    if isinstance(size_px, bool) or not isinstance(size_px, numbers.Integral):
        raise invalid("size_px", size_px, "an integer >= 16")
    n = int(size_px)
    if n < 16:
        raise invalid("size_px", size_px, "an integer >= 16")
    budget = _finite("max_memory_bytes", max_memory_bytes, 0, None, True, "a positive number of bytes")
    need = estimate_site_bytes(n)
    if need > budget:
        raise invalid("size_px", size_px, f"a size whose working memory ({need / 2**30:.1f} GiB) fits in "
                      f"max_memory_bytes = {budget / 2**30:.1f} GiB")
    res = _finite("resolution_m", resolution_m, 0.0, None, True, "a finite number > 0")
    age = _finite("age_gyr", age_gyr, 0.0, 4.5, True, "a surface age in (0, 4.5] Gyr")
    k = _finite("rock_abundance", rock_abundance, 0.0, None, False, "a fractional area in [0, 1)")
    if k >= 1.0:
        raise invalid("rock_abundance", rock_abundance, "a fractional area in [0, 1)")
    elev = _finite("elevation_m", elevation_m, -20000.0, 20000.0, False, "a finite elevation in [-20, 20] km")
    slope = _finite("regional_slope_deg", regional_slope_deg, 0.0, 45.0, False, "a slope in [0, 45] deg")
    az = _finite("regional_slope_azimuth_deg", regional_slope_azimuth_deg, valid="a finite azimuth in deg")
    width = n * res
    dmin = 2.0 * res if min_crater_diameter_m is None else _finite(
        "min_crater_diameter_m", min_crater_diameter_m, 0.0, None, True, "a finite diameter > 0 m")
    dmax = width / 2.0 if max_crater_diameter_m is None else _finite(
        "max_crater_diameter_m", max_crater_diameter_m, dmin, None, True,
        f"a finite diameter > min_crater_diameter_m = {dmin} m")
    if dmax <= dmin:
        raise invalid("max_crater_diameter_m", dmax, f"a diameter > min_crater_diameter_m = {dmin} m")
    rmin = _finite("min_rock_diameter_m", min_rock_diameter_m, 0.0, 10.0, True, "a diameter in (0, 10) m")
    if rmin >= 10.0:
        raise invalid("min_rock_diameter_m", min_rock_diameter_m, "a diameter in (0, 10) m")
    ke = _finite("ejecta_rock_abundance", ejecta_rock_abundance, 0.0, None, False, "a fractional area in [0, 1)")
    if ke >= 1.0:
        raise invalid("ejecta_rock_abundance", ejecta_rock_abundance, "a fractional area in [0, 1)")
    hurst = _finite("roughness_hurst", roughness_hurst, 0.0, 1.0, True, "a Hurst exponent in (0, 1)")
    if hurst >= 1.0:
        raise invalid("roughness_hurst", roughness_hurst, "a Hurst exponent in (0, 1)")
    rms = _finite("roughness_rms_m", roughness_rms_m, 0.0, None, False, "a finite RMS >= 0 m")
    base = _finite("roughness_baseline_m", roughness_baseline_m, 0.0, None, True, "a finite baseline > 0 m")
    lat = _finite("anchor_lat_deg", anchor_lat_deg, -90.0, 90.0, False, "a latitude in [-90, 90] deg")
    lon = _finite("anchor_lon_deg", anchor_lon_deg, -180.0, 360.0, False, "a longitude in [-180, 360) deg")
    if not isinstance(rng, np.random.Generator) and (
            isinstance(rng, bool) or not isinstance(rng, numbers.Integral) or int(rng) < 0):
        raise invalid("rng", rng, "a non-negative int or a numpy.random.Generator")
    rng_craters, rng_rough, rng_rocks, rng_blocks = child_streams(rng, 4)

    half = width / 2.0
    x0, y0 = -half, half
    extent = (-half, half, -half, half)
    # 1. regional plane (relative to elevation_m at the origin)
    coords = (np.arange(n) + 0.5) * res - half
    az_r = math.radians(az)
    t = math.tan(math.radians(slope))
    plane_x = -t * math.sin(az_r) * coords  # per column (x east)
    plane_y = -t * math.cos(az_r) * coords[::-1]  # per row (row 0 = north, y = +half)
    z = np.zeros((n, n), dtype=np.float64)
    # 2. craters
    craters = sample_craters(extent, age_gyr=age, min_diameter_m=dmin, max_diameter_m=dmax,
                             rng=rng_craters, tau_erase=TAU_ERASE)
    z = stamp_craters(z, craters, resolution_m=res, x0_m=x0, y0_m=y0)
    # 3. roughness
    z += fractal_roughness((n, n), res, rng=rng_rough, hurst=hurst, rms_m=rms, baseline_m=base)
    # 4. rocks
    bg = sample_rocks(extent, k=k, rng=rng_rocks, min_diameter_m=rmin)
    ej = sample_ejecta_blocks(craters, extent, rng=rng_blocks, ejecta_abundance=ke, min_diameter_m=rmin)
    rocks = pd.concat([bg, ej], ignore_index=True)
    z = stamp_rocks(z, rocks, resolution_m=res, x0_m=x0, y0_m=y0)
    z += plane_x[None, :]
    z += (plane_y + elev)[:, None]
    heights = z.astype(np.float32)
    params = {
        "size_px": n, "resolution_m": res, "age_gyr": age, "rock_abundance": k, "elevation_m": elev,
        "regional_slope_deg": slope, "regional_slope_azimuth_deg": az, "min_crater_diameter_m": dmin,
        "max_crater_diameter_m": dmax, "min_rock_diameter_m": rmin, "ejecta_rock_abundance": ke,
        "roughness_hurst": hurst, "roughness_rms_m": rms, "roughness_baseline_m": base,
        "tau_erase": TAU_ERASE,
        "seed": int(rng) if not isinstance(rng, np.random.Generator) else "generator",
    }
    terrain = Terrain(heights, res, x0_m=x0, y0_m=y0, anchor_lat_deg=lat, anchor_lon_deg=lon,
                      meta={"source": "farside.terrain.generate_site", **params})
    return Site(terrain=terrain, craters=craters.reset_index(drop=True), rocks=rocks, params=params)


def chang_e4_site(size_px: int = 2048, resolution_m: float = 1.0, *, rng: int | np.random.Generator = 0,
                  **overrides) -> Site:
    """The default Chang'e-4 landing site: :func:`generate_site` with its CE-4 defaults.

    ``farside run`` uses 2048 px at 1 m (4.2 km^2); ``--quick`` 1024 px at 1 m; the full-resolution
    variant is 4096 px at 0.5 m. ``overrides`` are passed to :func:`generate_site`.
    """
    return generate_site(size_px, resolution_m, rng=rng, **overrides)
