"""End to end: ``farside run --quick`` writes the run directory of issue 2 §4, deterministically."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from farside.cli import main
from farside.mission import chang_e4, run_mission
from farside.mission.stages.site import SiteStage


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "change4"
    assert main(["run", "--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_run_directory_layout(quick_run):
    out = quick_run
    man = json.loads((out / "manifest.json").read_text())
    assert man["scenario"]["name"] == "chang-e-4" and man["seed"] == 2019
    assert man["scenario"]["epoch_utc"] == "2019-01-03T02:26:00Z"
    assert {"numpy", "farside", "skyfield"} <= set(man["versions"])
    paths = {p["path"] for p in man["products"]}
    for rel in ("products/terrain/site_dem.tif", "products/terrain/craters.csv", "products/terrain/rocks.csv"):
        assert rel in paths
    for p in man["products"]:  # every product exists with the recorded hash
        data = (out / p["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == p["sha256"] and len(data) == p["bytes"]
    assert not [p for p in out.rglob("*") if ".part" in p.name]  # no temporaries left


@pytest.mark.slow
def test_report_is_self_contained(quick_run):
    html = (quick_run / "report.html").read_text()
    for title in ("Landing site terrain", "Hillshade and slope", "Crater size-frequency", "Rock size-frequency",
                  "Sun over the first lunar day"):
        assert title in html
    assert html.count("data:image/png;base64,") >= 4
    # nothing fetched from outside: no external src/href
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    sc = chang_e4([SiteStage()])
    sc = sc.model_copy(update={"site": sc.site.model_copy(update={"quick_size_px": 256})})
    a = run_mission(sc, tmp_path / "a", stages=[SiteStage()], quick=True)
    b = run_mission(sc, tmp_path / "b", stages=[SiteStage()], quick=True)
    c = run_mission(sc.with_seed(2020), tmp_path / "c", stages=[SiteStage()], quick=True)
    ha = {p["path"]: p["sha256"] for p in a["products"]}
    hb = {p["path"]: p["sha256"] for p in b["products"]}
    hc = {p["path"]: p["sha256"] for p in c["products"]}
    assert ha == hb
    assert ha["products/terrain/site_dem.tif"] != hc["products/terrain/site_dem.tif"]
    assert (tmp_path / "a" / "report.html").read_bytes() == (tmp_path / "b" / "report.html").read_bytes()


@pytest.mark.slow
def test_background_encoding_and_static_views_change_no_product(quick_run, tmp_path):
    """The descent stage exposes, writes and encodes each LCAM frame on a background thread while
    the next one renders, and renders a view whose camera pose repeats the previous one's (the
    lander on the ground) once; with ``[descent] background_encoding = false`` and
    ``reuse_static_views = false`` every frame is rendered and all of it runs inline. The products
    (every frame, sidecar and the video, by sha256) are the same either way. The inline run stops
    after the descent's products (the surface, imaging and navigation stages are off: they do not
    feed the descent, and would add ~2 min)."""
    from farside.mission.scenario import builtin_scenario_path

    toml = tmp_path / "inline.toml"          # the built-in Chang'e-4 file, inline, every view rendered
    text = builtin_scenario_path("chang-e-4").read_text()
    text = text.replace("[descent]\n", "[descent]\nbackground_encoding = false\nreuse_static_views = false\n", 1)
    for table in ("[rover]\n", "[imaging]\n"):
        assert table in text
        text = text.replace(table, table + "enabled = false\n", 1)
    toml.write_text(text + "\n[navigation]\nenabled = false\n")
    out = tmp_path / "inline"
    assert main(["run", str(toml), "--quick", "--out", str(out)]) == 0
    a = json.loads((quick_run / "manifest.json").read_text())
    b = json.loads((out / "manifest.json").read_text())
    assert a["scenario"]["descent"]["background_encoding"] is True
    assert b["scenario"]["descent"]["background_encoding"] is False
    steps = [json.loads((d / "timings.json").read_text())["stages"][2]["steps"]["lcam_frames"] for d in (quick_run, out)]
    assert steps[0]["reused_views"] >= 3 and steps[1]["reused_views"] == 0    # the quick run's frames on the ground
    pa = {p["path"]: p["sha256"] for p in a["products"] if p["stage"] == "descent"}
    pb = {p["path"]: p["sha256"] for p in b["products"] if p["stage"] == "descent"}
    assert sum("/frames/" in k for k in pa) >= 40 and "products/descent/descent.mp4" in pa
    assert pa == pb


@pytest.mark.slow
def test_timings_outside_the_manifest(quick_run):
    """Each stage's wall/CPU time and peak memory go to timings.json, which the manifest does not list."""
    tim = json.loads((quick_run / "timings.json").read_text())
    man = json.loads((quick_run / "manifest.json").read_text())
    assert [t["stage"] for t in tim["stages"]] == man["stages"]
    for t in tim["stages"]:
        assert t["wall_s"] > 0 and t["cpu_s"] > 0 and 50 < t["peak_rss_mb"] < 4096
    assert tim["stages"][2]["steps"]["lcam_frames"]["frames"] == sum("/frames/" in p["path"] and
                                                                    p["path"].endswith(".png")
                                                                    for p in man["products"])
    assert not any("timings" in p["path"] for p in man["products"])


def test_pipeline_check_names_the_missing_producer_before_running(tmp_path):
    """A stage whose required state has no earlier producer is a one-line error before any stage
    runs (nothing is written); the draining downlink stage may be listed anywhere."""
    from farside.errors import ScenarioError
    from farside.mission import check_pipeline
    from farside.mission.stages.descent import DescentStage
    from farside.mission.stages.downlink import DownlinkStage
    from farside.mission.stages.relay import RelayStage

    sc = chang_e4([SiteStage()])
    out = tmp_path / "r"
    with pytest.raises(ScenarioError, match=r"^pipeline: stage 'descent' requires 'site': stage 'site' provides it "
                                            r"and must run before 'descent'$"):
        run_mission(sc, out, stages=[DescentStage(), SiteStage()], quick=True)
    assert not out.exists()
    with pytest.raises(ScenarioError, match=r"^pipeline: stage 'downlink' requires 'relay': no stage"):
        check_pipeline([SiteStage(), DownlinkStage()])
    check_pipeline([DownlinkStage(), SiteStage(), RelayStage()])      # drains: listed first is fine


@pytest.mark.slow
def test_imaging_products_and_colour(quick_run):
    """The imaging stage writes the 80 raw TCAM frames, the stitched and the truth panorama, both
    portraits raw and calibrated; the raw frames carry the sensor's true red cast (its channel
    response, never read by the calibration) within 2 %, and the calibrated regolith is grey like
    the noise-free truth within 3 % (issue 14's colour targets)."""
    man = json.loads((quick_run / "manifest.json").read_text())
    paths = {p["path"] for p in man["products"]}
    frames = [p for p in paths if p.startswith("products/imaging/panorama/tcam_") and p.endswith(".png")]
    assert len(frames) == 80
    for rel in ("panorama.png", "panorama_truth.png", "panorama_registration.csv", "summary.json",
                "portrait_lander_pcam_raw.png", "portrait_lander_pcam_calibrated.png",
                "portrait_rover_tcam_raw.png", "portrait_rover_tcam_calibrated.png"):
        assert f"products/imaging/{rel}" in paths
    s = json.loads((quick_run / "products/imaging/summary.json").read_text())
    c = s["panorama"]["colour_mean_over_frames"]
    true = s["tcam_calibration"]["true_response_rgb"]
    assert c["raw_rg"] == pytest.approx(true[0] / true[1], rel=0.02)
    assert c["raw_rb"] == pytest.approx(true[0] / true[2], rel=0.02)
    assert c["calibrated_rg"] == pytest.approx(c["truth_rg"], rel=0.03)
    assert c["calibrated_rb"] == pytest.approx(c["truth_rb"], rel=0.03)
    assert c["calibrated_delta_e_mean"] < 0.25 * c["raw_delta_e_mean"]
    assert s["panorama"]["frames"] == 80 and s["panorama"]["rotation_error_deg"]["matched_frames"] >= 20
    assert "Surface imaging" in (quick_run / "report.html").read_text()


def test_navigation_products_one_traverse_truth(quick_run):
    """The rover's route is the planner's (issue 15): every drive step of the surface traverse after
    the ramp lies on a segment driven from a stereo stop, the stops' stereo maps and costmaps are
    written, and the descent reconstruction has the issue's columns."""
    import numpy as np
    import pandas as pd

    nav = quick_run / "products/rover/nav"
    stops = pd.read_csv(nav / "stops.csv")
    assert len(stops) >= 1 and (stops["n_points"] > 1000).all()
    paths = pd.read_parquet(nav / "paths.parquet")
    trav = pd.read_parquet(quick_run / "products/rover/traverse.parquet")
    steps = trav[trav["mode"] == "drive"][["x_m", "y_m"]].to_numpy(float)[1:]     # [0]: the ramp
    driven = paths[paths["kind"] == "driven"]
    segs = []
    for _, g in driven.groupby("stop"):
        p = g.sort_values("seq")[["x_m", "y_m"]].to_numpy(float)
        segs += [(p[i], p[i + 1]) for i in range(len(p) - 1)]
    assert segs

    def dist(q):
        best = np.inf
        for a, b in segs:
            ab = b - a
            t = np.clip(np.dot(q - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
            best = min(best, float(np.hypot(*(a + t * ab - q))))
        return best
    assert max(dist(q) for q in steps) < 0.02
    with np.load(nav / "stop_000.npz") as z:
        assert z["cost"].shape == z["height_m"].shape
        # the table's mapped fraction is the costmap's non-unknown share; lethal cells are inf there
        assert np.mean(~np.isnan(z["cost"])) == pytest.approx(stops["mapped_fraction"].iloc[0], abs=1e-9)
        assert np.array_equal(np.isinf(z["cost"]), z["lethal"])
    loc = pd.read_parquet(nav / "localisation.parquet")
    assert {"x_true_m", "y_true_m", "x_odometry_m", "error_odometry_m"} <= set(loc.columns)
    rec = pd.read_parquet(quick_run / "products/descent/reconstruction.parquet")
    assert {"t_s", "x_m", "y_m", "z_m", "x_true_m", "y_true_m", "z_true_m"} <= set(rec.columns)
    assert "Navigation: stereo costmaps" in (quick_run / "report.html").read_text()
