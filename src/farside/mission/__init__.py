"""Mission layer: scenario model, pipeline of stages, runner, manifest and report."""

from farside.mission.pipeline import default_stages
from farside.mission.runner import RunResult, check_run_dir, run_mission
from farside.mission.scenario import Scenario, SiteConfig, chang_e4, load_scenario
from farside.mission.stage import RunContext, Stage

__all__ = [
    "RunContext",
    "RunResult",
    "Scenario",
    "SiteConfig",
    "Stage",
    "chang_e4",
    "check_run_dir",
    "default_stages",
    "load_scenario",
    "run_mission",
]
