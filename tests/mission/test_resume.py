"""``farside run --resume``: a run killed at any moment and resumed ends with the products of an
uninterrupted run, byte for byte (issue 12, "safe, resumable runs")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from farside.cli import main

_CLI = "import sys; from farside.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    """The built-in Chang'e-4 scenario without the imaging and navigation stages: the resume
    machinery (checkpoints, keys, the frame journal) is the same for every stage, and those two
    would add ~1.5 min to each of this module's nine quick runs (they still run, as no-ops, so
    their checkpoints and keys are still tested)."""
    from farside.mission.scenario import builtin_scenario_path

    text = builtin_scenario_path("chang-e-4").read_text()
    assert "[imaging]\n" in text and "[navigation]" not in text
    text = text.replace("[imaging]\n", "[imaging]\nenabled = false\n", 1) + "\n[navigation]\nenabled = false\n"
    path = tmp_path_factory.mktemp("resume_scenario") / "chang-e-4-light.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, scenario):
    """An uninterrupted quick run."""
    out = tmp_path_factory.mktemp("resume") / "reference"
    assert main(["run", str(scenario), "--quick", "--out", str(out)]) == 0
    return out


def _files(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in (run / "products").rglob("*") if p.is_file()}


def _kill_when(scenario: Path, out: Path, condition, timeout_s: float = 240.0) -> bool:
    """Start a quick run of ``scenario`` into ``out`` and SIGKILL it once ``condition(elapsed_s)``
    holds; False when the run finished first."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-c", _CLI, "run", str(scenario), "--quick", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t0 = time.monotonic()
    try:
        while p.poll() is None:
            if condition(time.monotonic() - t0):
                p.send_signal(signal.SIGKILL)
                p.wait()
                return True
            if time.monotonic() - t0 > timeout_s:
                raise AssertionError("the quick run did not finish in time")
            time.sleep(0.05)
        return False
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _journal_frames(out: Path) -> int:
    j = out / ".farside-resume" / "descent_frames.jsonl"
    try:
        return max(0, len(j.read_text().splitlines()) - 1)
    except OSError:
        return 0


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_manifest(reference, scenario, tmp_path):
    """Kill --quick runs at several moments -- two random times, inside the LCAM frame loop (after
    four finished frames) and after the cameras stage -- and resume each: the manifest (every
    product's sha256) is the uninterrupted run's, byte for byte, and no other file is left under
    ``products/``. The frame-loop kill resumes inside the descent stage (frames kept from the
    journal); the late kill keeps the first stages whole."""
    ref_manifest = (reference / "manifest.json").read_bytes()
    ref_files = _files(reference)
    rng = np.random.default_rng(12)
    moments = {
        "random_a": lambda out: (lambda t, d=float(rng.uniform(2.0, 12.0)): t > d),
        "random_b": lambda out: (lambda t, d=float(rng.uniform(12.0, 24.0)): t > d),
        "in_frames": lambda out: (lambda t: _journal_frames(out) >= 4),
        "after_cameras": lambda out: (lambda t: (out / ".farside-resume" / "cameras.key").is_file()),
    }
    for name, make in moments.items():
        out = tmp_path / name
        killed = _kill_when(scenario, out, make(out))
        assert main(["run", str(scenario), "--quick", "--resume", "--out", str(out)]) == 0, name
        assert (out / "manifest.json").read_bytes() == ref_manifest, name
        assert _files(out) == ref_files, name
        timings = json.loads((out / "timings.json").read_text())
        kept = [t["stage"] for t in timings["stages"] if t.get("kept_from_earlier_run")]
        if name == "in_frames" and killed:
            descent = next(t for t in timings["stages"] if t["stage"] == "descent")
            assert descent["steps"]["lcam_frames"]["kept_frames"] >= 4
            assert kept == ["site", "relay"]
        if name == "after_cameras" and killed:
            assert kept[:4] == ["site", "relay", "descent", "cameras"]


@pytest.mark.slow
def test_resume_reruns_only_what_changed(reference, scenario, tmp_path):
    """A finished run resumed with the same inputs keeps every stage; with another rover
    configuration it keeps the stages before the surface stage and reruns the surface, imaging and
    downlink stages (their keys in the manifest change, the earlier ones do not)."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    assert main(["run", str(scenario), "--quick", "--resume", "--out", str(out)]) == 0
    kept = [t["stage"] for t in json.loads((out / "timings.json").read_text())["stages"]
            if t.get("kept_from_earlier_run")]
    assert kept == ["site", "relay", "descent", "cameras", "surface", "imaging", "navigation", "downlink"]
    assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()

    scen = tmp_path / "scenario.toml"
    text = scenario.read_text()
    assert "[rover]" in text
    scen.write_text(text.replace("[rover]", "[rover]\nquick_hours = 5.0", 1))
    assert main(["run", str(scen), "--quick", "--resume", "--out", str(out)]) == 0
    t2 = json.loads((out / "timings.json").read_text())["stages"]
    assert [t["stage"] for t in t2 if t.get("kept_from_earlier_run")] == ["site", "relay", "descent", "cameras"]
    m1 = json.loads((reference / "manifest.json").read_text())["stage_keys"]
    m2 = json.loads((out / "manifest.json").read_text())["stage_keys"]
    assert [k for k in m1 if m1[k] != m2[k]] == ["surface", "imaging", "navigation", "downlink"]

