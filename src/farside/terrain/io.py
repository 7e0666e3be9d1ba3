"""DEM input/output: GeoTIFF with a lunar CRS, through rasterio (GDAL).

farside writes a site DEM in a transverse-Mercator projection on the lunar reference sphere
(R = 1737.4 km), centred on the site's selenographic anchor, so that projected metres *are* the site
ENU x (east) / y (north) coordinates (to within the projection's scale error, 2e-7 at 1 km from the
centre). The anchor and corner are also stored as GeoTIFF tags, so a round trip is exact.

Reading accepts any GeoTIFF whose CRS is on a body of radius ~1737 km:

* farside's own site DEMs (exact round trip);
* projected lunar rasters (e.g. the polar-stereographic 5 m/px LOLA crops): the grid axes are taken
  as the ENU axes, centred on the raster centre, whose selenographic position becomes the anchor
  (``meta["grid_convergence_deg"]`` reports how far grid north is from true north there);
* geographic (degree) rasters such as the global LOLA-derived DEM: use :func:`read_dem` with
  ``anchor_lat_deg``/``anchor_lon_deg``/``size_m``/``resolution_m`` to resample a local site grid
  with :func:`rasterio.warp.reproject` (bilinear).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from farside._core import atomic_path
from farside.constants import MOON_RADIUS_M
from farside.errors import DataError, invalid
from farside.terrain._types import Terrain

__all__ = ["site_crs", "write_dem", "read_dem", "is_lunar_crs", "write_site_tables"]

_TAG_PREFIX = "FARSIDE_"
#: Accepted reference-body radii for a "lunar" CRS, metres (IAU 2015 Moon sphere is 1737.4 km;
#: equatorial/polar radii 1738.1/1736.0 km, NSSDC).
_LUNAR_RADIUS_RANGE_M = (1_730_000.0, 1_745_000.0)


def _proj4_site(lat_deg: float, lon_deg: float) -> str:
    return (f"+proj=tmerc +lat_0={lat_deg!r} +lon_0={lon_deg!r} +k=1 +x_0=0 +y_0=0 "
            f"+R={MOON_RADIUS_M!r} +units=m +no_defs +type=crs")


def site_crs(lat_deg: float, lon_deg: float):
    """The rasterio CRS of a site DEM: transverse Mercator on the lunar sphere at the anchor."""
    from rasterio.crs import CRS

    return CRS.from_proj4(_proj4_site(lat_deg, lon_deg))


def _geographic_lunar_crs():
    from rasterio.crs import CRS

    return CRS.from_proj4(f"+proj=longlat +R={MOON_RADIUS_M!r} +no_defs +type=crs")


def _semi_major_m(crs) -> float | None:
    try:
        from pyproj import CRS as PCRS  # rasterio does not need pyproj; use it when present
    except ImportError:  # pragma: no cover - fallback through GDAL's WKT
        PCRS = None
    if PCRS is not None:
        try:
            return float(PCRS.from_wkt(crs.to_wkt()).ellipsoid.semi_major_metre)
        except Exception:  # noqa: BLE001 - fall back to parsing the WKT
            pass
    import re

    m = re.search(r'SPHEROID\["[^"]*",\s*([0-9.eE+-]+)', crs.to_wkt()) or re.search(
        r'ELLIPSOID\["[^"]*",\s*([0-9.eE+-]+)', crs.to_wkt())
    return float(m.group(1)) if m else None


def is_lunar_crs(crs) -> bool:
    """True when ``crs`` is defined on a body whose radius is within 1730–1745 km."""
    if crs is None:
        return False
    a = _semi_major_m(crs)
    return a is not None and _LUNAR_RADIUS_RANGE_M[0] <= a <= _LUNAR_RADIUS_RANGE_M[1]


def write_dem(terrain: Terrain, path: str | os.PathLike[str]) -> Path:
    """Write ``terrain`` as a float32 GeoTIFF (deflate) with a lunar CRS, atomically.

    The file is written under a temporary name and renamed, so a failure leaves no partial file.
    """
    import rasterio
    from rasterio.transform import from_origin

    h = terrain.heights
    profile = dict(
        driver="GTiff", height=h.shape[0], width=h.shape[1], count=1, dtype="float32",
        crs=site_crs(terrain.anchor_lat_deg, terrain.anchor_lon_deg),
        transform=from_origin(terrain.x0_m, terrain.y0_m, terrain.resolution_m, terrain.resolution_m),
        compress="deflate", predictor=3, tiled=h.shape[0] >= 256 and h.shape[1] >= 256,
    )
    if profile["tiled"]:
        profile.update(blockxsize=256, blockysize=256)
    tags = {
        _TAG_PREFIX + "ANCHOR_LAT_DEG": repr(float(terrain.anchor_lat_deg)),
        _TAG_PREFIX + "ANCHOR_LON_DEG": repr(float(terrain.anchor_lon_deg)),
        _TAG_PREFIX + "X0_M": repr(float(terrain.x0_m)),
        _TAG_PREFIX + "Y0_M": repr(float(terrain.y0_m)),
        _TAG_PREFIX + "RESOLUTION_M": repr(float(terrain.resolution_m)),
        "AREA_OR_POINT": "Area",
        "UNITS": "metres above the lunar reference sphere R=1737.4 km",
    }
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(h, 1)
            dst.update_tags(**tags)
            dst.set_band_description(1, "height_m")
    return Path(path)


def _fill_nan(h: np.ndarray) -> tuple[np.ndarray, int]:
    bad = ~np.isfinite(h)
    n = int(bad.sum())
    if n == 0:
        return h, 0
    from scipy import ndimage

    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return h[tuple(idx)], n


def read_dem(
    path: str | os.PathLike[str],
    *,
    anchor_lat_deg: float | None = None,
    anchor_lon_deg: float | None = None,
    size_m: float | None = None,
    resolution_m: float | None = None,
) -> Terrain:
    """Read a lunar GeoTIFF DEM into a :class:`Terrain`.

    Parameters
    ----------
    path : path to a single-band GeoTIFF whose CRS is lunar.
    anchor_lat_deg, anchor_lon_deg, size_m, resolution_m : only for geographic (degree) rasters
        such as a global DEM: the site grid to resample (centre, side length, pixel size). The
        defaults are the raster centre, 100 native pixels and the native pixel size at the anchor's
        latitude along the meridian.

    Nodata pixels are filled from their nearest valid neighbour (``meta["filled_px"]`` counts them);
    a raster with no valid pixel is rejected.

    Raises
    ------
    DataError
        unreadable/corrupt file, missing or non-lunar CRS, all-NaN heights.
    """
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    if not p.is_file():
        raise invalid("dem path", str(p), "an existing GeoTIFF file", DataError)
    try:
        src = rasterio.open(p)
    except RasterioError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise invalid("dem path", str(p), f"a readable GeoTIFF ({first})", DataError) from None
    with src:
        try:
            if src.count < 1:
                raise invalid("dem bands", src.count, "at least one band", DataError)
            crs = src.crs
            if crs is None:
                raise invalid("dem crs", None, "a lunar CRS (body radius ~1737.4 km)", DataError)
            if not is_lunar_crs(crs):
                a = _semi_major_m(crs)
                desc = crs.to_string()[:60]
                raise invalid("dem crs", f"{desc} (radius {a} m)", "a lunar CRS (body radius 1730-1745 km)",
                              DataError)
            tags = src.tags()
            data = src.read(1, masked=True).astype(np.float64).filled(np.nan)
            # GDAL scale/offset (e.g. the global DEM stores int16 half-metres)
            data = data * float(src.scales[0] or 1.0) + float(src.offsets[0] or 0.0)
            transform = src.transform
            is_geographic = crs.is_geographic
        except RasterioError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise invalid("dem path", str(p), f"a readable GeoTIFF ({first})", DataError) from None
    if not np.isfinite(data).any():
        raise invalid("dem heights", "all NaN/nodata", "at least one finite height", DataError)

    if _TAG_PREFIX + "ANCHOR_LAT_DEG" in tags:
        h = data.astype(np.float32)
        h, filled = _fill_nan(h)
        return Terrain(
            heights=h,
            resolution_m=float(tags[_TAG_PREFIX + "RESOLUTION_M"]),
            x0_m=float(tags[_TAG_PREFIX + "X0_M"]),
            y0_m=float(tags[_TAG_PREFIX + "Y0_M"]),
            anchor_lat_deg=float(tags[_TAG_PREFIX + "ANCHOR_LAT_DEG"]),
            anchor_lon_deg=float(tags[_TAG_PREFIX + "ANCHOR_LON_DEG"]),
            meta={"source": str(p), "filled_px": filled},
        )
    if is_geographic:
        return _resample_geographic(data, transform, crs, p, anchor_lat_deg, anchor_lon_deg, size_m, resolution_m)

    # projected lunar raster: grid axes as ENU, centred on the raster centre
    if abs(transform.a) != abs(transform.e) or transform.b != 0 or transform.d != 0:
        raise invalid("dem transform", tuple(transform)[:6], "square, north-up pixels", DataError)
    from rasterio.warp import transform as warp_transform

    rows, cols = data.shape
    cx, cy = transform @ (cols / 2.0, rows / 2.0)
    lons, lats = warp_transform(crs, _geographic_lunar_crs(), [cx, cx], [cy, cy + 1.0])
    # grid convergence: azimuth of grid north at the centre
    dlat = math.radians(lats[1] - lats[0])
    dlon = math.radians(lons[1] - lons[0]) * math.cos(math.radians(lats[0]))
    convergence = math.degrees(math.atan2(dlon, dlat))
    h, filled = _fill_nan(data.astype(np.float32))
    res = abs(transform.a)
    return Terrain(
        heights=h, resolution_m=res, x0_m=-cols * res / 2.0, y0_m=rows * res / 2.0,
        anchor_lat_deg=float(lats[0]), anchor_lon_deg=float(lons[0]) % 360.0 if lons[0] < -180 else float(lons[0]),
        meta={"source": str(p), "filled_px": filled, "grid_convergence_deg": convergence,
              "projected_origin_xy_m": (float(cx), float(cy))},
    )


def _resample_geographic(data, transform, crs, p, lat, lon, size_m, resolution_m) -> Terrain:
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    rows, cols = data.shape
    if lat is None or lon is None:
        clon, clat = transform @ (cols / 2.0, rows / 2.0)
        lat = clat if lat is None else lat
        lon = clon if lon is None else lon
    if not (-90.0 <= float(lat) <= 90.0):
        raise invalid("anchor_lat_deg", lat, "a latitude in [-90, 90]")
    native_m = abs(transform.e) * math.pi / 180.0 * MOON_RADIUS_M
    res = native_m if resolution_m is None else float(resolution_m)
    if not (math.isfinite(res) and res > 0):
        raise invalid("resolution_m", resolution_m, "a finite number > 0")
    size = 100 * native_m if size_m is None else float(size_m)
    if not (math.isfinite(size) and size >= 2 * res):
        raise invalid("size_m", size_m, f"a finite number >= 2 * resolution_m ({2 * res} m)")
    n = int(round(size / res))
    if n * n > 16384 * 16384:
        raise invalid("size_m", size_m, f"at most {16384 * res:.0f} m at {res} m/px (16384 px per side)")
    dst = np.full((n, n), np.nan, dtype=np.float32)
    x0, y0 = -n * res / 2.0, n * res / 2.0
    reproject(
        source=data.astype(np.float32), destination=dst, src_transform=transform, src_crs=crs,
        src_nodata=np.nan, dst_transform=from_origin(x0, y0, res, res), dst_crs=site_crs(lat, lon),
        dst_nodata=np.nan, resampling=Resampling.bilinear,
    )
    if not np.isfinite(dst).any():
        raise invalid("dem heights", "all NaN after resampling", "a raster covering the requested site",
                      DataError)
    h, filled = _fill_nan(dst)
    return Terrain(heights=h, resolution_m=res, x0_m=x0, y0_m=y0, anchor_lat_deg=float(lat),
                   anchor_lon_deg=float(lon), meta={"source": str(p), "filled_px": filled})


def write_site_tables(site, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``craters.csv`` and ``rocks.csv`` of a :class:`Site` into ``out_dir`` (atomically).

    Floats are written with 6 decimals (micrometres), so the files are byte-stable across runs.
    """
    out = Path(out_dir)
    paths = []
    for name, df in (("craters.csv", site.craters), ("rocks.csv", site.rocks)):
        with atomic_path(out / name) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
        paths.append(out / name)
    return paths[0], paths[1]
