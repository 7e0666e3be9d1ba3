"""Run a scenario through the pipeline into a run directory.

The run directory holds ``manifest.json`` (scenario, seed, package versions, every product with
its sha256, each stage's input key), ``report.html`` (self-contained) and ``products/``. Every file
is written under a temporary name and renamed; the manifest and report are written last, so a run
directory with a manifest is complete. Nothing here reads the wall clock, so the same scenario and
seed give byte-identical products.

Resuming (``run_mission(..., resume=True)``, ``farside run --resume``): after each stage the runner
keeps a checkpoint in ``<run>/.farside-resume/`` -- the state fields the stage provides, and the
products, report, downlink queue and random streams as they stand -- under the stage's *key*: a
sha256 chained over the scenario (all but the stage tables), ``--quick``, the package versions and
the farside source, then each stage's name and configuration in run order. A resumed run keeps
the longest prefix of stages whose keys match and whose products are still on disk unchanged
(sha256), and runs the rest; a stage may resume inside itself (the descent stage keeps the frames
it finished, from a journal in the same folder). The products are the same, byte for byte, as an
uninterrupted run's.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import pickle
import platform
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from farside._core import atomic_path, atomic_write_text, child_rngs
from farside.errors import invalid
from farside.mission.report import Report
from farside.mission.scenario import Scenario
from farside.mission.stage import RunContext, Stage, product_intact
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
    resume: bool = False,
) -> RunResult:
    """Execute ``stages`` in order for ``scenario``, writing into ``out_dir``.

    ``progress(description, total)`` must return a context manager yielding ``advance(n)``;
    ``log(message)`` receives one line per finished stage. ``resume=True`` keeps the stages of an
    earlier (possibly killed) run of this directory whose inputs are unchanged (module docstring).
    """
    run_dir = Path(out_dir)
    preflight(scenario, stages, quick=quick)
    check_run_dir(run_dir)
    order = [s for s in stages if not s.drains] + [s for s in stages if s.drains]
    configs = {st.name: (scenario.stages.get(st.name) or st.Config()) for st in order}
    keys = stage_keys(scenario, order, configs, quick=quick)
    kept = _resumable(run_dir, order, keys) if resume else None
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("manifest.json", "report.html", "timings.json"):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / stale).unlink()
    ck_dir = run_dir / RESUME_DIR
    if kept is None:
        # a re-run replaces earlier products of this run directory (a farside run directory: checked above)
        for old in (run_dir / "products", ck_dir):
            if old.exists():
                shutil.rmtree(old)
    atomic_write_text(run_dir / RUN_MARKER, "farside run directory: `farside run --out` may replace its contents\n")
    ck_dir.mkdir(exist_ok=True)

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
    done: set[str] = set()
    if kept:
        for name in kept:
            with open(ck_dir / f"{name}.pkl", "rb") as f:
                ck = pickle.load(f)
            for fld, value in ck["fields"].items():
                setattr(state, fld, value)
            timings.append({**ck["timing"], "kept_from_earlier_run": True})
            done.add(name)
        # the run-wide objects as they stood after the last kept stage
        report, downlink, rngs = ck["report"], ck["downlink"], ck["rngs"]
        products = json.loads((ck_dir / f"{kept[-1]}.products.json").read_text())
        if log is not None:
            log(f"resume: kept stage(s) {', '.join(kept)} ({len(products)} products) from the earlier run")
    # the draining stages (the downlink) run after all others, whatever their place in the list
    for st in order:
        if st.name in done:
            continue
        cfg = configs[st.name]
        # a stage that runs invalidates every later checkpoint (their inputs follow from this one)
        for later in order[order.index(st):]:
            with contextlib.suppress(FileNotFoundError):
                (ck_dir / f"{later.name}.key").unlink()
        ctx = RunContext(scenario=scenario, run_dir=run_dir, quick=quick, rngs=rngs, state=state, report=report,
                         config=cfg, stage_name=st.name, products=products, progress_factory=progress,
                         downlink=downlink, stage_key=keys[st.name], resume_dir=ck_dir, resuming=resume)
        clock = _StageClock()
        st.run(ctx)
        missing = [f for f in st.provides if getattr(state, f) is None and f not in st.may_skip(cfg, quick)]
        if missing:
            raise RuntimeError(f"stage {st.name!r} declares {missing} but did not produce them")
        t = clock.stop(st.name)
        if ctx.steps:
            t["steps"] = ctx.steps
        timings.append(t)
        _checkpoint(ck_dir, st, keys[st.name], state, timing=t, report=report, downlink=downlink, rngs=rngs,
                    products=products)
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
        "stage_keys": {st.name: keys[st.name] for st in order},
        "versions": _versions(),
        "products": sorted(products, key=lambda p: p["path"]),
        "report": "report.html",
    }
    _sweep(run_dir, products)
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
#: the run directory's checkpoints for ``--resume`` (outside the manifest)
RESUME_DIR = ".farside-resume"


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _source_digest() -> str:
    """sha256 over the farside package's Python sources (a changed model changes every stage key)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def stage_keys(scenario: Scenario, order: Sequence[Stage], configs: dict, *, quick: bool) -> dict[str, str]:
    """Each stage's input key: sha256 chained over the scenario (without the stage tables),
    ``quick``, the package versions and the farside source, then every stage's name and
    configuration up to and including it, in run order."""
    scen = scenario.to_dict()
    for name in scenario.stages:          # the stage tables enter the chain one by one, below
        scen.pop(scenario.stage_tables.get(name, name), None)
    key = _sha(json.dumps(scen, sort_keys=True, default=str), str(bool(quick)),
               json.dumps(_versions(), sort_keys=True), _source_digest())
    out = {}
    for st in order:
        cfg = configs[st.name]
        cfg_json = cfg.model_dump_json() if hasattr(cfg, "model_dump_json") else json.dumps(cfg, default=str)
        key = _sha(key, st.name, cfg_json)
        out[st.name] = key
    return out


def _checkpoint(ck_dir: Path, st: Stage, key: str, state: MissionState, **run_wide: Any) -> None:
    """Keep what a resumed run needs after ``st``: the state fields it provides and the run-wide
    objects as they stand (pickle, written atomically; the key file last)."""
    products = run_wide.pop("products")
    data = {"key": key, "fields": {f: getattr(state, f) for f in st.provides}, **run_wide}
    with atomic_path(ck_dir / f"{st.name}.pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    # the product records beside it, so that checking a checkpoint does not unpickle its state
    atomic_write_text(ck_dir / f"{st.name}.products.json", json.dumps(products))
    atomic_write_text(ck_dir / f"{st.name}.key", key + "\n")


def _resumable(run_dir: Path, order: Sequence[Stage], keys: dict[str, str]) -> list[str]:
    """The stages of an earlier run of ``run_dir`` that a resumed run keeps: the longest prefix
    whose checkpoints carry the current keys, cut before the first stage whose products changed
    on disk (every kept product's sha256 is checked)."""
    ck_dir = run_dir / RESUME_DIR
    kept: list[str] = []
    for st in order:
        kf = ck_dir / f"{st.name}.key"
        if not (kf.is_file() and (ck_dir / f"{st.name}.pkl").is_file()
                and (ck_dir / f"{st.name}.products.json").is_file() and kf.read_text().strip() == keys[st.name]):
            break
        kept.append(st.name)
    while kept:
        products = json.loads((ck_dir / f"{kept[-1]}.products.json").read_text())
        bad = next((p for p in products if not product_intact(run_dir, p)), None)
        if bad is None:
            break
        kept = kept[:kept.index(bad["stage"])] if bad["stage"] in kept else kept[:-1]
    return kept


def _sweep(run_dir: Path, products: list[dict]) -> None:
    """Remove files under ``products/`` that this run did not produce (left by an earlier run that
    was resumed with another configuration, or by a killed writer)."""
    keep = {run_dir / p["path"] for p in products}
    root = run_dir / "products"
    if not root.exists():
        return
    for f in sorted(root.rglob("*")):
        if f.is_file() and f not in keep:
            f.unlink()
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()


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
