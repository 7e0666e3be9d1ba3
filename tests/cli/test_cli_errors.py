"""The CLI turns user errors into one line on stderr and exit status 2, with no traceback and no
half-written product (issue 2 §5)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from farside.cli import main


def _run(args, cwd):
    proc = subprocess.run([sys.executable, "-m", "farside.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    return proc


@pytest.mark.parametrize("toml", ["oops = 1\n", "[site]\nresolution_m = -1\n", "[site]\nrock_abundance = 1.5\n",
                                  "[site]\nage_gyr = 5\n", "[site]\nsize_px = 99999999\n",
                                  # the rover's plan (issue 13): a waypoint outside the site, a negative
                                  # speed, an unknown fault kind, a wheel that does not exist
                                  "[rover]\nwaypoints = [{ x_m = 5000.0, y_m = 0.0 }]\n",
                                  "[rover]\nspeed_m_per_h = -50.0\n",
                                  "[rover]\nfaults = [{ after_egress_h = 1.0, wheel = 2, kind = \"stuck\" }]\n",
                                  "[rover]\nfaults = [{ after_egress_h = 1.0, wheel = 6, kind = \"locked\" }]\n"])
def test_run_bad_scenario_exits_2_one_line(tmp_path, toml):
    sc = tmp_path / "bad.toml"
    sc.write_text(toml)
    proc = _run(["run", str(sc), "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("farside: error: ")
    assert "is invalid" in lines[0] or "is unknown" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "products").exists()


def test_terrain_generate_bad_values(tmp_path, capsys):
    assert main(["terrain", "generate", "--resolution-m", "-1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("farside: error: ") and "resolution_m" in err and "\n" not in err
    assert main(["terrain", "generate", "--rock-abundance", "1.2", "--out", str(tmp_path / "o")]) == 2
    assert "rock_abundance" in capsys.readouterr().err
    assert main(["terrain", "generate", "--age-gyr", "0", "--out", str(tmp_path / "o")]) == 2
    assert "age_gyr" in capsys.readouterr().err
    assert not list((tmp_path / "o").glob("*.tif")) if (tmp_path / "o").exists() else True


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    """A writer that dies mid-file leaves neither the product nor its temporary."""
    from farside.terrain import Terrain, write_dem

    t = Terrain(np.zeros((64, 64), np.float32), 1.0)
    import rasterio

    real_open = rasterio.open

    class Boom(Exception):
        pass

    def failing_open(path, mode="r", **kw):
        ds = real_open(path, mode, **kw)
        if mode == "w":
            ds.close()
            raise Boom("disk full")
        return ds

    monkeypatch.setattr(rasterio, "open", failing_open)
    with pytest.raises(Boom):
        write_dem(t, tmp_path / "dem.tif")
    assert list(tmp_path.iterdir()) == []


def test_render_corrupt_and_non_lunar_dem_exit_2(tmp_path):
    """A corrupt GeoTIFF and an Earth-CRS GeoTIFF given to the CLI: one line, exit 2, no output file."""
    import rasterio
    from rasterio.transform import from_origin

    bad = tmp_path / "corrupt.tif"
    bad.write_bytes(b"II*\x00garbage-not-a-tiff" * 10)
    earth = tmp_path / "earth.tif"
    with rasterio.open(earth, "w", driver="GTiff", width=16, height=16, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(10, 50, 0.01, 0.01)) as dst:
        dst.write(np.zeros((16, 16), np.float32), 1)
    for dem, needle in ((bad, "dem path"), (earth, "dem crs")):
        out = tmp_path / f"{dem.stem}.png"
        proc = _run(["render", str(dem), "--out", str(out)], tmp_path)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("farside: error: ") and needle in lines[0]
        assert not out.exists() and not list(tmp_path.glob(".*.part*"))


def test_run_refuses_a_folder_that_is_not_a_run_directory(tmp_path, capsys):
    """`farside run --out DIR` on a user's folder neither deletes nor mixes in its files: one line,
    exit 2, the files untouched (DIR/products/mydata.csv used to be deleted with the old products)."""
    out = tmp_path / "mine"
    (out / "products").mkdir(parents=True)
    (out / "products" / "mydata.csv").write_text("a,b\n1,2\n")
    (out / "notes.txt").write_text("keep me")
    assert main(["run", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out = " in err[0] and "farside run directory" in err[0] and "notes.txt" in err[0]
    assert (out / "products" / "mydata.csv").read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in out.rglob("*")) == ["mydata.csv", "notes.txt", "products"]
