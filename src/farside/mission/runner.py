"""Run a scenario through the pipeline into a run directory.

The run directory holds ``manifest.json`` (scenario, seed, package versions, every product with
its sha256), ``report.html`` (self-contained) and ``products/``. Every file is written under a
temporary name and renamed; the manifest and report are written last, so a run directory with a
manifest is complete. Nothing here reads the wall clock, so the same scenario and seed give
byte-identical products.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import platform
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from farside._core import atomic_write_text, child_rngs
from farside.errors import invalid
from farside.mission.report import Report
from farside.mission.scenario import Scenario
from farside.mission.stage import RunContext, Stage
from farside.mission.state import MissionState, check_pipeline

__all__ = ["run_mission", "RunResult", "check_run_dir", "preflight", "RUN_MARKER"]

_VERSIONED = ("farside", "numpy", "scipy", "numba", "skyfield", "skyfield-data", "rasterio", "pydantic",
              "matplotlib", "pandas", "pyarrow", "opencv-python-headless", "imageio-ffmpeg")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


class RunResult(dict):
    """The manifest as a dict, plus ``run_dir``."""

    @property
    def run_dir(self) -> Path:
        return Path(self["run_dir"])


def run_mission(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    stages: Sequence[Stage],
    quick: bool = False,
    progress: Callable[[str, int | None], Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Execute ``stages`` in order for ``scenario``, writing into ``out_dir``.

    ``progress(description, total)`` must return a context manager yielding ``advance(n)``;
    ``log(message)`` receives one line per finished stage.
    """
    run_dir = Path(out_dir)
    preflight(scenario, stages, quick=quick)
    check_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # a re-run replaces earlier products of this run directory (a farside run directory: checked above)
    old = run_dir / "products"
    if old.exists():
        shutil.rmtree(old)
    for stale in ("manifest.json", "report.html", "timings.json"):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / stale).unlink()
    atomic_write_text(run_dir / RUN_MARKER, "farside run directory: `farside run --out` may replace its contents\n")

    from farside.comms import DownlinkQueue

    rngs = child_rngs(scenario.seed)
    state = MissionState()
    downlink = DownlinkQueue()
    report = Report(f"farside run: {scenario.name} (seed {scenario.seed})")
    quick_note = " Quick mode (--quick): reduced site size and frame subsets." if quick else ""
    report.header.append(
        f'<p class="meta">Scenario <code>{html.escape(scenario.name)}</code>, epoch '
        f"{html.escape(scenario.epoch_utc)}, site {scenario.site.lat_deg:.4f}&deg;, {scenario.site.lon_deg:.4f}&deg;E, "
        f"seed {scenario.seed}.{quick_note}</p>")
    products: list[dict] = []
    timings: list[dict] = []
    # the draining stages (the downlink) run after all others, whatever their place in the list
    for st in [s for s in stages if not s.drains] + [s for s in stages if s.drains]:
        cfg = scenario.stages.get(st.name)
        if cfg is None:
            cfg = st.Config()
        ctx = RunContext(scenario=scenario, run_dir=run_dir, quick=quick, rngs=rngs, state=state, report=report,
                         config=cfg, stage_name=st.name, products=products, progress_factory=progress,
                         downlink=downlink)
        clock = _StageClock()
        st.run(ctx)
        missing = [f for f in st.provides if getattr(state, f) is None and f not in st.may_skip(cfg, quick)]
        if missing:
            raise RuntimeError(f"stage {st.name!r} declares {missing} but did not produce them")
        t = clock.stop(st.name)
        if ctx.steps:
            t["steps"] = ctx.steps
        timings.append(t)
        if log is not None:
            n = sum(1 for p in products if p["stage"] == st.name)
            log(f"stage {st.name}: {n} product(s) in {t['wall_s']:.1f} s wall, {t['cpu_s']:.1f} s CPU, "
                f"peak {t['peak_rss_mb'] / 1024:.2f} GB")

    report_path = run_dir / "report.html"
    atomic_write_text(report_path, report.to_html())
    manifest = {
        "farside_manifest": 1,
        "scenario": scenario.to_dict(),
        "seed": scenario.seed,
        "quick": quick,
        "stages": [t["stage"] for t in timings],
        "versions": _versions(),
        "products": sorted(products, key=lambda p: p["path"]),
        "report": "report.html",
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    # wall-clock measurements: outside the manifest, so reruns stay byte-identical
    atomic_write_text(run_dir / "timings.json", json.dumps({
        "stages": timings, "total_wall_s": sum(t["wall_s"] for t in timings),
        "total_cpu_s": sum(t["cpu_s"] for t in timings),
        "peak_rss_mb": max((t["peak_rss_mb"] for t in timings), default=0.0), "cpu_count": os.cpu_count()},
        indent=2) + "\n")
    res = RunResult(manifest)
    res["run_dir"] = str(run_dir)
    return res


#: written into every run directory when a run starts: a folder that has it (or a farside
#: manifest) may be cleared by a re-run; any other non-empty folder is refused
RUN_MARKER = ".farside-run"


def preflight(scenario, stages: Sequence[Stage], *, quick: bool = False) -> None:
    """Everything checkable before a stage runs: the pipeline's state contract and each stage's
    configuration checks that need no earlier stage (one-line ScenarioError)."""
    check_pipeline(stages)
    for st in stages:
        st.preflight(scenario.stages.get(st.name) or st.Config(), scenario, quick)


def check_run_dir(run_dir: str | Path) -> None:
    """Refuse (one-line ``ScenarioError``) a non-empty folder that is not a farside run directory:
    a run would delete or mix in its files. New, empty and earlier run directories pass."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise invalid("out", str(run_dir), "a directory path (a file of that name exists)")
    if not run_dir.is_dir():
        return
    entries = sorted(p.name for p in run_dir.iterdir())
    if not entries or RUN_MARKER in entries:
        return
    man = run_dir / "manifest.json"
    if man.is_file():
        with contextlib.suppress(OSError, ValueError):
            if "farside_manifest" in json.loads(man.read_text()):
                return
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise invalid("out", str(run_dir), f"a new or empty folder, or an earlier farside run directory (this one holds "
                                       f"other files: {shown})")


def _read_hwm_kb() -> float | None:
    """The process's peak resident set (VmHWM, kB) from /proc; None where there is no /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


class _StageClock:
    """Wall time, CPU time (this process and its waited-for children, e.g. the video encoder) and
    peak resident memory of one stage. The peak is reset at the stage start where Linux allows it
    (writing 5 to /proc/self/clear_refs), so each stage reports its own; elsewhere it is the
    process's peak so far."""

    def __init__(self) -> None:
        with contextlib.suppress(OSError):
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        self.wall0 = time.perf_counter()
        self.cpu0 = self._cpu()

    @staticmethod
    def _cpu() -> float:
        s = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def stop(self, name: str) -> dict:
        hwm = _read_hwm_kb()
        if hwm is None:
            hwm = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return {"stage": name, "wall_s": round(time.perf_counter() - self.wall0, 3),
                "cpu_s": round(self._cpu() - self.cpu0, 3), "peak_rss_mb": round(hwm / 1024.0, 1)}
