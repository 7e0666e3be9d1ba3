"""Scenario validation: unknown keys and out-of-range values give one-line messages (issue 2 §5)."""

from __future__ import annotations

import pytest

from farside.errors import ScenarioError
from farside.mission import chang_e4, default_stages, load_scenario


def _write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_builtin_is_chang_e4():
    sc = chang_e4(default_stages())
    assert sc.epoch_utc == "2019-01-03T02:26:00Z"
    assert (sc.site.lat_deg, sc.site.lon_deg) == (-45.4446, 177.5991)  # Liu et al. 2019, docs/references.md 1.2
    assert sc.site.rock_abundance == 0.0021  # Wu et al. 2021, docs/references.md 7.3


@pytest.mark.parametrize("text,pattern", [
    ("bogus = 1\n", r"^scenario key 'bogus' is unknown: valid keys are "),
    ("[site]\nfoo = 2\n", r"^site\.foo = 2 is invalid: unknown key$"),
    ("[site]\nresolution_m = -0.5\n", r"^site\.resolution_m = -0\.5 is invalid: .*greater than 0"),
    ("[site]\nresolution_m = 0.0\n", r"^site\.resolution_m = 0\.0 is invalid"),
    ("[site]\nresolution_m = nan\n", r"^site\.resolution_m = nan is invalid"),
    ("[site]\nrock_abundance = 1.0\n", r"^site\.rock_abundance = 1\.0 is invalid: .*less than 1"),
    ("[site]\nrock_abundance = -0.1\n", r"^site\.rock_abundance = -0\.1 is invalid"),
    ("[site]\nage_gyr = 0\n", r"^site\.age_gyr = 0 is invalid: .*greater than 0"),
    ("[site]\nage_gyr = 4.6\n", r"^site\.age_gyr = 4\.6 is invalid: .*less than or equal to 4\.5"),
    ("[site]\nsize_px = 100000\n", r"^site\.size_px = 100000 is invalid: .*less than or equal to 16384"),
    ("[site]\nlat_deg = 95\n", r"^site\.lat_deg = 95 is invalid"),
    ("epoch_utc = \"yesterday\"\n", r"^epoch_utc = 'yesterday' is invalid: must be an ISO-8601"),
    ("epoch_utc = \"2077-01-01T00:00:00Z\"\n", r"^epoch_utc = .* is invalid: must lie in 1900-2049"),
    ("seed = -3\n", r"^seed = -3 is invalid"),
    ("site = 3\n", r"^site = 3 is invalid"),
])
def test_bad_scenarios_one_line(tmp_path, text, pattern):
    with pytest.raises(ScenarioError, match=pattern) as ei:
        load_scenario(_write(tmp_path, text), default_stages())
    assert "\n" not in str(ei.value)


def test_malformed_toml(tmp_path):
    with pytest.raises(ScenarioError, match=r"^scenario = .* is invalid: valid TOML"):
        load_scenario(_write(tmp_path, "[site\nx=1"), default_stages())


def test_valid_override(tmp_path):
    sc = load_scenario(_write(tmp_path, "seed = 7\nname = \"x\"\n[site]\nage_gyr = 3.2\n"), default_stages())
    assert sc.seed == 7 and sc.site.age_gyr == 3.2 and sc.name == "x"


def test_stage_without_its_producer_says_so(tmp_path):
    """Running a stage whose input stage is missing gives one line naming the stage and the
    missing state, before anything runs."""
    from farside.mission import run_mission
    from farside.mission.stages.descent import DescentStage

    sc = chang_e4([DescentStage()])
    with pytest.raises(ScenarioError, match=r"^pipeline: stage 'descent' requires 'site': no stage of this pipeline "
                                            r"provides it$"):
        run_mission(sc, tmp_path / "out", stages=[DescentStage()], quick=True)
    assert not (tmp_path / "out").exists()


def test_every_scenario_key_is_documented():
    """docs/scenario.md has a row for every key a scenario accepts, with a meaning."""
    from pathlib import Path

    from farside.mission import default_stages
    from farside.mission.scenario import Scenario, SiteConfig

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenario.md").read_text()
    keys = [k for k in Scenario.model_fields if k not in ("stages", "site", "stage_tables")] + list(SiteConfig.model_fields)
    for st in default_stages():
        if st.name != "site":
            keys += list(st.Config.model_fields)
    for k in keys:
        rows = [ln for ln in doc.splitlines() if ln.startswith(f"| `{k}` |")]
        assert rows and not rows[0].rstrip().endswith("|  |"), k


@pytest.mark.parametrize("name", ["chang-e-4", "south-pole-example"])
def test_shipped_scenarios_load(name):
    """The shipped scenario files validate; the built-in default is the Chang'e-4 file."""
    from farside.mission import default_stages, load_scenario

    sc = load_scenario(name, default_stages())
    assert sc.name == name
    if name == "chang-e-4":
        assert sc == load_scenario(None, default_stages())
        assert sc.events == {"rover egress": "2019-01-03T14:22:00Z"}
    else:
        assert sc.reference_mission == "" and sc.site.lat_deg < -80


def test_bad_event_time_one_line():
    from farside.mission.scenario import _build

    with pytest.raises(ScenarioError, match=r"^events = .* is invalid: must be an ISO-8601 UTC time"):
        _build({"events": {"egress": "tomorrow"}}, [])
