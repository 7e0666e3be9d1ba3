"""Relay and downlink stages inside a (small, quick) run: products, report sections, state API."""

from __future__ import annotations

import pandas as pd
import pytest

from farside.mission import chang_e4, run_mission
from farside.mission.stages.downlink import DownlinkStage
from farside.mission.stages.relay import RelayStage
from farside.mission.stages.site import SiteStage




@pytest.mark.slow
def test_relay_and_downlink_products(tmp_path):
    stages = [SiteStage(), RelayStage(), DownlinkStage()]
    sc = chang_e4(stages)
    sc = sc.model_copy(update={"site": sc.site.model_copy(update={"quick_size_px": 128})})
    res = run_mission(sc, tmp_path / "run", stages=stages, quick=True)
    paths = {p["path"] for p in res["products"]}
    for rel in ("relay/orbit_synodic.parquet", "relay/orbit_moon_me.parquet", "relay/branch_comparison.csv",
                "relay/contact_plan.parquet", "relay/contact_windows.csv", "relay/link_budget.csv",
                "downlink/products.csv", "downlink/timeline.parquet", "downlink/summary.csv"):
        assert f"products/{rel}" in paths
    prod = tmp_path / "run" / "products"
    comp = pd.read_csv(prod / "relay" / "branch_comparison.csv")
    assert set(comp.branch) == {"north", "south"}
    plan = pd.read_parquet(prod / "relay" / "contact_plan.parquet")
    assert plan.t_s.diff().dropna().eq(60.0).all()
    assert set(plan.lander_rate_kbps.unique()) <= {0.0, 1.4, 50.0, 280.0, 555.0}
    dl = pd.read_csv(prod / "downlink" / "products.csv")
    assert (dl.status == "delivered").mean() > 0.9
    assert (dl.t_on_ground_s[dl.status == "delivered"] >= dl.t_created_s[dl.status == "delivered"]).all()
    html = (tmp_path / "run" / "report.html").read_text()
    for title in ("Relay (Queqiao)", "Halo orbit in 3-D and seen from Earth", "Site-relay elevation over the first lunar day",
                  "Downlink timeline", "Link budgets"):
        assert title in html
