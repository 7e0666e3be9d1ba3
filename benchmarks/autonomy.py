"""Benchmark: autonomous navigation on 50 seeded courses (issue 15); the visual-odometry drift is
benchmarks/visual_odometry.py.

Each course (``farside.rover.autonomy.autonomy_course(seed)``) is a generated site with a rocky
patch (2 % rock abundance) and a goal 20 m from the start; in about 60 % of them one to three
blocks above the rover's 0.20 m limit lie on the straight line, and the straight line is checked
on the true terrain with the surface model's driver, so a straight-line driver fails there. The
rover navigates with ``farside.rover.perception.StereoPerception`` (Navcam pairs at three pans and
the Hazcam pair (filling the cells the Navcams left unknown), rendered on the centimetre regolith, semi-global matching, a fused elevation map,
the hazard costmap) and ``farside.rover.autonomy.drive_to_goal`` (onboard mode: plan, drive at most
4 m, re-image). Success: at the goal without a single step that would exceed a limit (a refused
step counts as a failure: the map missed a hazard). The peer is the straight-line driver on the
same courses (its failures are the blocked courses).

Run: ``.venv/bin/python benchmarks/autonomy.py [n_courses] [first_seed]`` (default 50, 0;
about 30-40 s a course on 2 cores).
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table  # noqa: E402

from farside.rover.autonomy import NavigationConfig, autonomy_course, drive_to_goal  # noqa: E402
from farside.rover.perception import StereoPerception  # noqa: E402


def sun_for(seed: int) -> np.ndarray:
    """A seeded Sun 20-50 deg up at any azimuth."""
    r = np.random.default_rng([seed, 0x5A])
    el, az = math.radians(r.uniform(20, 50)), r.uniform(0, 2 * math.pi)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def run_course(seed: int, *, binning: int = 2):
    c = autonomy_course(seed)
    sun = sun_for(seed)
    per = StereoPerception(c.site.terrain, c.site.rocks, seed=seed, sun_at=lambda t: sun, binning=binning,
                           keep_images=False)
    t0 = time.perf_counter()
    res = drive_to_goal(c.site, c.start_xy_m, c.goal_xy_m, perceive=per, cfg=NavigationConfig(mode="autonomous"),
                        rng=np.random.default_rng(seed))
    wall = time.perf_counter() - t0
    ok = res.reached and res.limits == 0
    cause = "" if ok else (res.why or "a step would exceed a limit: " + "; ".join(
        res.events[res.events.event == "segment refused"].detail.str.split(": ", n=1).str[-1].head(1)))
    return c, res, ok, cause, wall, per


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rows, causes = [], Counter()
    n_ok = n_blocked = n_ok_blocked = 0
    stops, walls, per_stop = [], [], []
    for seed in range(first, first + n):
        c, res, ok, cause, wall, per = run_course(seed)
        blocked = bool(c.straight_line_hazard)
        n_blocked += blocked
        n_ok += ok
        n_ok_blocked += ok and blocked
        stops.append(len(res.stops))
        walls.append(wall)
        per_stop += per.timings_s
        if not ok:
            causes[cause.split(" (")[0][:70]] += 1
        print(f"course {seed:3d}: {'ok  ' if ok else 'FAIL'} straight line {'blocked' if blocked else 'clear  '} "
              f"{res.distance_m:5.1f} m, {len(res.stops):2d} stops, {wall:5.1f} s  {cause}", flush=True)
    rows.append({"case": f"{n} courses, 20 m", "farside": f"{n_ok}/{n} reached, no limit exceeded",
                 "peer": f"straight line: {n - n_blocked}/{n}", "ratio": "", "quality":
                 f"{n_ok_blocked}/{n_blocked} of the blocked courses"})
    rows.append({"case": "stereo stop (render 5 pairs (3 mast pans, near, Hazcam) + SGBM + map + costmap)", "farside": f"{np.median(per_stop):.2f} s median",
                 "peer": "", "ratio": "", "quality": f"{np.median(stops):.0f} stops a course (median)"})
    print_table(list(rows[0].keys()), [list(r.values()) for r in rows])
    if causes:
        print("failure causes:")
        for k, v in causes.most_common():
            print(f"  {v:3d}  {k}")


if __name__ == "__main__":
    main()
