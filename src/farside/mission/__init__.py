"""Mission layer: scenario model, pipeline of stages, runner, manifest and report."""

from farside.mission.pipeline import default_stages
from farside.mission.runner import RunResult, check_run_dir, run_mission
from farside.mission.scenario import Scenario, SiteConfig, chang_e4, load_scenario
from farside.mission.stage import RunContext, Stage
from farside.mission.state import MissionState, RelayLink, Touchdown, check_pipeline

__all__ = [
    "MissionState",
    "RelayLink",
    "RunContext",
    "RunResult",
    "Scenario",
    "SiteConfig",
    "Stage",
    "Touchdown",
    "chang_e4",
    "check_pipeline",
    "check_run_dir",
    "default_stages",
    "load_scenario",
    "run_mission",
]
