"""The descent stage inside a small quick run: products, summary keys, frames + sidecars, video."""

from __future__ import annotations

import json

import cv2
import pandas as pd
import pytest

from farside.mission import chang_e4, run_mission
from farside.mission.stages.descent import DescentConfig, DescentStage
from farside.mission.stages.site import SiteStage
from farside.terrain.io import read_dem

SUMMARY_KEYS = {"ignition_utc", "touchdown_utc", "duration_s", "touchdown_lat_deg", "touchdown_lon_deg",
                "vertical_speed_mps", "horizontal_speed_mps", "propellant_used_kg", "hover_altitude_m", "divert_m",
                "safe", "failed_criteria"}


@pytest.mark.slow
def test_descent_stage_products(tmp_path):
    stages = [SiteStage(), DescentStage()]
    sc = chang_e4(stages)
    sc = sc.model_copy(update={"site": sc.site.model_copy(update={"quick_size_px": 512}),
                               "stages": {**sc.stages, "descent": DescentConfig(quick_frame_stride=1500)}})
    res = run_mission(sc, tmp_path / "run", stages=stages, quick=True)
    prod = tmp_path / "run" / "products" / "descent"
    summary = json.loads((prod / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["ignition_utc"].startswith("2019-01-03T02:15:00")
    assert summary["touchdown_utc"].startswith("2019-01-03T02:2")
    tr = pd.read_parquet(prod / "trajectory.parquet")
    for col in ("mission_time_s", "phase_name", "x_m", "x_nav_m", "thrust_n", "mass_kg"):
        assert col in tr
    assert tr.mission_time_s.iloc[0] == -660.0
    frames = sorted((prod / "frames").glob("lcam_*.png"))
    assert [f.stem for f in frames] == ["lcam_00000", "lcam_01500", "lcam_03000", "lcam_04500"]
    side = json.loads(frames[1].with_suffix(".json").read_text())
    assert side["frame_index"] == 1500 and side["camera"]["name"] == "LCAM" and side["time_utc"].startswith("2019-01-03T02:2")
    assert (prod / "descent.mp4").stat().st_size > 1000
    # after touchdown LCAM looks at the ground under the lander from its mount height (1 m,
    # UNCONFIRMED), not from the footpad plane, which lies in the surface
    last = json.loads(frames[3].with_suffix(".json").read_text())
    assert last["descent_phase"] == "touchdown"
    x, y, z = last["camera"]["position_enu"]
    ground = float(read_dem(tmp_path / "run" / "products" / "terrain" / "site_dem.tif").height_at(x, y))
    assert z - ground == pytest.approx(1.0, abs=0.15)      # footpads on uneven ground: within 0.15 m
    img = cv2.imread(str(frames[3]), cv2.IMREAD_UNCHANGED)
    assert img.mean() > 20.0, img.mean()                    # lit ground, not a black frame
    assert (prod / "hazard_maps.npz").exists() and (prod / "hda.json").exists()
    paths = {p["path"] for p in res["products"]}
    assert "products/descent/frames/lcam_01500.json" in paths
    html = (tmp_path / "run" / "report.html").read_text()
    for title in ("Powered descent and hazard avoidance", "Comparison with the published Chang",
                  "Descent profile", "Coarse and fine hazard maps"):
        assert title in html
