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
import platform
import shutil
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from farside._core import atomic_write_text, child_rngs
from farside.errors import invalid
from farside.mission.report import Report
from farside.mission.scenario import Scenario
from farside.mission.stage import RunContext, Stage

__all__ = ["run_mission", "RunResult"]

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
    if run_dir.exists() and not run_dir.is_dir():
        raise invalid("out", str(run_dir), "a directory path (a file of that name exists)")
    run_dir.mkdir(parents=True, exist_ok=True)
    # a re-run replaces earlier products of this run directory
    old = run_dir / "products"
    if old.exists():
        shutil.rmtree(old)
    for stale in ("manifest.json", "report.html"):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / stale).unlink()

    rngs = child_rngs(scenario.seed)
    state: dict[str, Any] = {}
    report = Report(f"farside run: {scenario.name} (seed {scenario.seed})")
    quick_note = " Quick mode (--quick): reduced site size and frame subsets." if quick else ""
    report.header.append(
        f'<p class="meta">Scenario <code>{html.escape(scenario.name)}</code>, epoch '
        f"{html.escape(scenario.epoch_utc)}, site {scenario.site.lat_deg:.4f}&deg;, {scenario.site.lon_deg:.4f}&deg;E, "
        f"seed {scenario.seed}.{quick_note}</p>")
    products: list[dict] = []
    for st in stages:
        cfg = scenario.stages.get(st.name)
        if cfg is None:
            cfg = st.Config()
        ctx = RunContext(scenario=scenario, run_dir=run_dir, quick=quick, rngs=rngs, state=state, report=report,
                         config=cfg, stage_name=st.name, products=products, progress_factory=progress)
        st.run(ctx)
        if log is not None:
            n = sum(1 for p in products if p["stage"] == st.name)
            log(f"stage {st.name}: {n} product(s)")

    report_path = run_dir / "report.html"
    atomic_write_text(report_path, report.to_html())
    manifest = {
        "farside_manifest": 1,
        "scenario": scenario.to_dict(),
        "seed": scenario.seed,
        "quick": quick,
        "stages": [s.name for s in stages],
        "versions": _versions(),
        "products": sorted(products, key=lambda p: p["path"]),
        "report": "report.html",
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    res = RunResult(manifest)
    res["run_dir"] = str(run_dir)
    return res
