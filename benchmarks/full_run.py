"""Benchmark: the whole ``farside run`` stage by stage, and the descent's production frame rate
against the bare renderer on the same frames, in the same run.

The mission runs through :func:`farside.mission.run_mission` with the default stages (the
built-in Chang'e-4 scenario; ``--stride N`` renders every N-th LCAM frame, ``--quick`` the quick
run) into a temporary directory, then one extra, benchmark-only stage renders the *same* LCAM
frames again with :func:`farside.render.render` alone: the same cameras (poses from the descent
trajectory), settings (Hapke, hard shadows, minimal layers, the sensor), site Scene (with its
sub-DEM rocks) and regional backdrops, and the same numba thread count, writing nothing. Both
passes start from freshly built Scenes (cold sun-margin maps), so each pays the same lazy fills.

Production frames/s is the frame count over the wall time of the descent stage's frame loop
(render, expose, PNG + sidecar, sha256, video), from ``timings.json``'s ``lcam_frames`` step;
the target of issue 11 is a ratio of at least 0.7 to the bare renderer.

Run: ``.venv/bin/python benchmarks/full_run.py [--stride N | --quick] [--keep DIR]``. The full
sequence (``--stride 1``) takes the length of a full run twice over; ``--stride 10`` (536
frames, default) samples it evenly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")      # as the CLI sets it

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table  # noqa: E402

from farside.mission import default_stages, load_scenario, run_mission  # noqa: E402
from farside.mission.stage import Stage  # noqa: E402


class BareRender(Stage):
    """Benchmark-only stage: render() alone on the descent stage's frames (nothing written)."""

    name = "bare_render"
    requires = ("site", "descent")
    uses = ("backdrop_scenes",)

    def __init__(self, stride: int) -> None:
        self.stride = stride
        self.result: dict = {}

    def run(self, ctx) -> None:
        from farside.descent import lcam_poses, lcam_times
        from farside.ephemeris import seconds_to_utc, sun_direction_enu
        from farside.render import Scene, Sensor, lcam, render

        site = ctx.state.site
        res = ctx.state.descent
        sc = ctx.scenario
        cfg = sc.stages.get("descent") or default_stages()[2].Config()
        ignition_s = float(cfg.ignition_offset_s)
        times = lcam_times(stride=self.stride)
        pos, rot = lcam_poses(res.trajectory, times, heading_deg=res.parameters["approach_azimuth_deg"])
        # the descent stage's Sun: at its touchdown guess (ignition + 690 s), one for every frame
        sun = np.asarray(sun_direction_enu(sc.site.lat_deg, sc.site.lon_deg,
                                           seconds_to_utc(sc.epoch_utc, [ignition_s + 690.0])), float).reshape(-1, 3)[0]
        scene = Scene(site.terrain, rocks=site.rocks)
        bd = ctx.state.backdrop_scenes
        backdrop = [Scene(b.terrain) for b in bd] if bd else None
        base = lcam()
        sensor = Sensor()
        t0 = time.perf_counter()
        for k in range(len(times)):
            render(scene, base.with_pose(pos[k], rot[k]), sun_dir_enu=sun, photometry="hapke", shadows="hard",
                   layers="minimal", sensor=sensor, rng=np.random.default_rng(k), backdrop=backdrop)
        self.result = {"frames": len(times), "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--stride", type=int, default=10, help="render every N-th LCAM frame (1 = the full run)")
    g.add_argument("--quick", action="store_true", help="the quick run (--quick's own stride)")
    ap.add_argument("--keep", default=None, help="run directory to keep (default: a temporary one)")
    a = ap.parse_args()

    stages = default_stages()
    scenario = load_scenario(None, stages)
    if not a.quick:
        dcfg = scenario.stages["descent"].model_copy(update={"frame_stride": a.stride})
        scenario = scenario.model_copy(update={"stages": {**scenario.stages, "descent": dcfg}})
    stride = scenario.stages["descent"].quick_frame_stride if a.quick else a.stride
    bare = BareRender(stride)
    out = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="farside-bench-"))
    t0 = time.perf_counter()
    run_mission(scenario, out / "run", stages=[*stages, bare], quick=a.quick)
    total = time.perf_counter() - t0
    tim = json.loads((out / "run" / "timings.json").read_text())

    print(f"farside run{' --quick' if a.quick else ''}, LCAM frame stride {stride}; {os.cpu_count()} CPUs, "
          f"numba threads {numba.get_num_threads()}, threading layer {numba.threading_layer()}")
    rows = []
    for t in tim["stages"]:
        steps = ", ".join(f"{k} {v['wall_s']:.1f} s" for k, v in t.get("steps", {}).items())
        rows.append((t["stage"], f"{t['wall_s']:.1f}", f"{t['cpu_s']:.1f}", f"{t['peak_rss_mb'] / 1024:.2f}", steps))
    rows.append(("total (mission stages)", f"{sum(t['wall_s'] for t in tim['stages'] if t['stage'] != bare.name):.1f}",
                 f"{sum(t['cpu_s'] for t in tim['stages'] if t['stage'] != bare.name):.1f}",
                 f"{tim['peak_rss_mb'] / 1024:.2f}", "report and manifest not included"))
    print_table(("stage", "wall s", "CPU s", "peak GB", "steps"), rows)
    print()
    desc = next(t for t in tim["stages"] if t["stage"] == "descent")
    frames = desc["steps"]["lcam_frames"]
    prod = frames["frames"] / frames["wall_s"]
    raw = bare.result["frames"] / bare.result["wall_s"]
    print_table(("LCAM frames", "frames", "wall s", "frames/s", "ratio to bare"), [
        ("production (descent stage: render + expose + PNG/sidecar + sha256 + video)", frames["frames"],
         f"{frames['wall_s']:.1f}", f"{prod:.2f}", f"{prod / raw:.2f}"),
        ("bare renderer (render() with the sensor, nothing written)", bare.result["frames"],
         f"{bare.result['wall_s']:.1f}", f"{raw:.2f}", "1.00"),
    ])
    print(f"\nwhole benchmark {total:.0f} s; run directory {out / 'run'}")


if __name__ == "__main__":
    main()
