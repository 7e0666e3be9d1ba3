"""The cameras stage inside a small quick run: LCAM 2 km / 100 m and raw TCAM products, sidecars,
red cast, report section, determinism."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from farside.mission import chang_e4, run_mission
from farside.mission.stages.render import CamerasStage
from farside.mission.stages.site import SiteStage
from farside.render import CE4_COLOUR_RESPONSE


@pytest.mark.slow
def test_cameras_stage_products(tmp_path):
    stages = [SiteStage(), CamerasStage()]
    sc = chang_e4(stages)
    sc = sc.model_copy(update={"site": sc.site.model_copy(update={"quick_size_px": 256})})
    res = run_mission(sc, tmp_path / "run", stages=stages, quick=True)
    paths = {p["path"] for p in res["products"]}
    prod = tmp_path / "run" / "products" / "render"
    for name in ("lcam_2000m", "lcam_100m", "tcam_raw"):
        assert f"products/render/{name}.png" in paths and f"products/render/{name}.json" in paths
        meta = json.loads((prod / f"{name}.json").read_text())
        assert meta["time_utc"] == sc.epoch_utc
        assert 0.0 < meta["sun_elevation_deg"] < 90.0
    lc = cv2.imread(str(prod / "lcam_100m.png"), cv2.IMREAD_UNCHANGED)
    assert lc.shape == (1024, 1024) and lc.dtype == np.uint8 and lc.mean() > 20
    rgb = cv2.imread(str(prod / "tcam_raw.png"))[..., ::-1].reshape(-1, 3).astype(float)
    m = rgb[rgb.sum(axis=1) > 60].mean(axis=0)
    # the red cast: neutral regolith through the CE-4 channel responses (demosaicing and
    # shadows blur this a little, so 5 % here; the exact ratio is tested on a flat plane)
    assert m[0] / m[1] == pytest.approx(CE4_COLOUR_RESPONSE[0] / CE4_COLOUR_RESPONSE[1], rel=0.05)
    assert m[0] / m[2] == pytest.approx(CE4_COLOUR_RESPONSE[0] / CE4_COLOUR_RESPONSE[2], rel=0.05)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Camera views" in html and "TCAM raw colour" in html
    # same scenario and seed: byte-identical images
    res2 = run_mission(sc, tmp_path / "run2", stages=stages, quick=True)
    sha = {p["path"]: p["sha256"] for p in res["products"]}
    sha2 = {p["path"]: p["sha256"] for p in res2["products"]}
    for name in ("lcam_2000m.png", "lcam_100m.png", "tcam_raw.png"):
        assert sha[f"products/render/{name}"] == sha2[f"products/render/{name}"]
