"""``farside render`` command logic (argparse + render_command)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from farside.cli.render_cmd import add_render_parser, render_command
from farside.errors import ScenarioError
from farside.terrain import Terrain, write_dem


@pytest.fixture(scope="module")
def dem_path(tmp_path_factory):
    n = 96
    yy, xx = np.mgrid[0:n, 0:n]
    h = (-5935.0 + 8.0 * np.exp(-((xx - 48) ** 2 + (yy - 40) ** 2) / 200.0)).astype(np.float32)
    ter = Terrain(h, 2.0, x0_m=-96.0, y0_m=96.0, anchor_lat_deg=-45.4446, anchor_lon_deg=177.5991)
    p = tmp_path_factory.mktemp("dem") / "dem.tif"
    write_dem(ter, p)
    return p


def _parse(argv):
    parser = argparse.ArgumentParser(prog="farside")
    sub = parser.add_subparsers(dest="command", required=True)
    add_render_parser(sub)
    return parser.parse_args(argv)


@pytest.mark.slow  # > 5 s only when it is the first test to compile the render kernels
def test_render_ortho_and_tcam(dem_path, tmp_path):
    out = tmp_path / "map.png"
    args = _parse(["render", str(dem_path), "--camera", "ortho", "--size-px", "64", "--gsd-m", "2",
                   "--sun-elevation-deg", "20", "--sun-azimuth-deg", "90", "--out", str(out)])
    assert args.func(args) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["camera"]["projection"] == "orthographic"
    assert meta["sun_elevation_deg"] == pytest.approx(20.0)
    import cv2

    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 64) and img.max() > 0
    # a colour frame with the red cast, Sun from the ephemeris at the CE-4 touchdown
    out2 = tmp_path / "tcam.png"
    args = _parse(["render", str(dem_path), "--camera", "tcam", "--pan-deg", "0", "--tilt-deg", "-30",
                   "--red-cast", "--out", str(out2)])
    assert render_command(args) == 0
    rgb = cv2.imread(str(out2))[..., ::-1].reshape(-1, 3).astype(float)
    m = rgb[rgb.sum(axis=1) > 30].mean(axis=0)
    assert m[0] > 1.2 * m[1] > 1.2 * m[2] * 1.0


@pytest.mark.parametrize("argv,match", [
    (["--sun-elevation-deg", "20"], "sun-elevation"),
    (["--x-m", "5000"], "x-m"),
    (["--altitude-m", "-3"], "altitude-m"),
    (["--size-px", "3", "--camera", "ortho"], "size-px"),
])
def test_bad_arguments_raise_scenario_errors(dem_path, tmp_path, argv, match):
    args = _parse(["render", str(dem_path), "--out", str(tmp_path / "x.png"), *argv])
    with pytest.raises(ScenarioError, match=match):
        render_command(args)
