"""Benchmark: rover terramechanics.

Wheel table (:func:`wheel_table`): Wong-Reece rigid-wheel evaluations per CPU-second (one wheel:
solve the sinkage from the vertical force balance, then drawbar pull, torque and resistance) with
``farside.rover.rigid_wheel`` (32-node Gauss-Legendre and Brent's method in numba, called from
Python one wheel at a time, argument checks included) against what a user writes first: the same
Wong-Reece integrands (front/rear normal stress, Janosi-Hanamoto shear with the driving or skid
shear displacement, grousers on the shear radius) integrated with ``scipy.integrate.quad`` (default
tolerances) inside ``scipy.optimize.brentq`` (xtol 1e-12) for the entry angle. Quality: the largest
relative difference of sinkage, drawbar pull and torque between the two over the case's slips. A
last row times ``rigid_wheel_array`` (the whole slip sweep in one compiled call) against the same
peer.

Cases: Yutu-2's wheel (0.30 m x 0.15 m, 5 mm grousers, W/6 = 36.45 N) on the lunar-soil set and on
LLL dry sand (docs/references.md 7.7) over slips -1 (locked) to 0.9; a 0.5 m x 0.2 m wheel at
150 N on dry sand.

Rates are per CPU-second of this process (``time.process_time``; one thread). Run:
``.venv/bin/python benchmarks/rover.py [repeats]`` (default 20 passes of farside per case; the peer
runs one pass).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

from farside.rover import LLL_DRY_SAND, LUNAR_REGOLITH, rigid_wheel
from farside.rover.terramechanics import rigid_wheel_array

SLIPS = np.array([-1.0, -0.5, -0.2, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9])
CASES = [
    ("Yutu-2 wheel, lunar regolith", LUNAR_REGOLITH, 36.45, 0.30, 0.15, 0.005),
    ("Yutu-2 wheel, LLL dry sand", LLL_DRY_SAND, 36.45, 0.30, 0.15, 0.005),
    ("0.5 m wheel 150 N, LLL dry sand", LLL_DRY_SAND, 150.0, 0.50, 0.20, 0.0),
]


def peer_wheel(soil, load, d, b, slip, h):
    """The Wong-Reece rigid wheel as a user writes it first: quad for every integral, brentq for
    the entry angle. Returns (sinkage m, drawbar pull N, torque N m)."""
    r = 0.5 * d
    rs = r + h
    k = soil.k_c / b + soil.k_phi
    tanphi = math.tan(math.radians(soil.friction_angle_deg))

    def forces(th1):
        thm = (soil.c1 + soil.c2 * max(slip, 0.0)) * th1

        def sigma(t):
            arg = t if t >= thm else th1 - t / thm * (th1 - thm)
            return k * (r * max(math.cos(arg) - math.cos(th1), 0.0)) ** soil.n

        def tau(t):
            if slip >= 0:
                j = rs * ((th1 - t) - (1 - slip) * (math.sin(th1) - math.sin(t)))
            else:
                j = rs * ((1 + slip) * (th1 - t) - (math.sin(th1) - math.sin(t)))
            return math.copysign((soil.cohesion_pa + sigma(t) * tanphi) * (1 - math.exp(-abs(j) / soil.shear_modulus_m)), j)

        def q(f):
            return quad(f, 0.0, thm)[0] + quad(f, thm, th1)[0]

        return (r * b * q(lambda t: sigma(t) * math.cos(t)) + rs * b * q(lambda t: tau(t) * math.sin(t)),
                rs * b * q(lambda t: tau(t) * math.cos(t)) - r * b * q(lambda t: sigma(t) * math.sin(t)),
                rs * rs * b * q(tau))

    th1 = brentq(lambda t: forces(t)[0] - load, 1e-9, 0.5 * math.pi, xtol=1e-12)
    _, dp, tq = forces(th1)
    return r * (1 - math.cos(th1)), dp, tq


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def wheel_table(repeats: int = 20):
    """Rows (case, farside wheels/s, peer wheels/s, ratio, max rel diff) of the wheel benchmark."""
    rows = []
    # compile (numba cache) outside the timing
    rigid_wheel(LUNAR_REGOLITH, load_n=36.0, diameter_m=0.3, width_m=0.15, slip=0.1)
    rigid_wheel_array(LUNAR_REGOLITH, load_n=36.0, diameter_m=0.3, width_m=0.15, slip=SLIPS)
    all_peer = []
    peer_time = 0.0
    for name, soil, load, d, b, h in CASES:
        t0 = time.process_time()
        ref = [peer_wheel(soil, load, d, b, float(s), h) for s in SLIPS]
        tp = time.process_time() - t0
        peer_time += tp
        all_peer.append((soil, load, d, b, h, ref))
        t0 = time.process_time()
        for _ in range(repeats):
            out = [rigid_wheel(soil, load_n=load, diameter_m=d, width_m=b, slip=float(s), grouser_height_m=h)
                   for s in SLIPS]
        tf = (time.process_time() - t0) / repeats
        diff = max(max(_rel(w.sinkage_m, z), _rel(w.drawbar_pull_n, dp), _rel(w.torque_nm, tq))
                   for w, (z, dp, tq) in zip(out, ref))
        n = len(SLIPS)
        rows.append((name, f"{n / tf:,.0f}/s", f"{n / tp:,.1f}/s", f"{tp / tf:,.0f}x", f"{diff:.1e}"))
    # the sweep in one compiled call
    t0 = time.process_time()
    for _ in range(repeats):
        arr = [rigid_wheel_array(soil, load_n=load, diameter_m=d, width_m=b, slip=SLIPS, grouser_height_m=h)
               for soil, load, d, b, h, _ in all_peer]
    ta = (time.process_time() - t0) / repeats
    diff = 0.0
    for a, (_, _, _, _, _, ref) in zip(arr, all_peer):
        for q, (z, dp, tq) in enumerate(ref):
            diff = max(diff, _rel(a["sinkage_m"][q], z), _rel(a["drawbar_pull_n"][q], dp), _rel(a["torque_nm"][q], tq))
    n = len(SLIPS) * len(CASES)
    rows.append(("all cases, rigid_wheel_array", f"{n / ta:,.0f}/s", f"{n / peer_time:,.1f}/s",
                 f"{peer_time / ta:,.0f}x", f"{diff:.1e}"))
    return rows


def surface_table():
    """The default (Chang'e-4) surface mission over its first lunar day on the full 4096^2 site:
    simulate_surface alone, warm (a first call compiles), CPU seconds on one core."""
    from farside.constants import CE4_LAT_DEG, CE4_LON_DEG
    from farside.ephemeris import body_altaz, seconds_to_utc, sun_direction_enu
    from farside.mission import default_stages, load_scenario
    from farside.rover import SunTrack, SurfacePlan, Waypoint, simulate_surface
    from farside._core import child_rngs
    from farside.terrain import generate_site

    sc = load_scenario(None, default_stages())
    cfg = sc.stages["surface"]
    c = sc.site                                              # the default run's site (same seed stream)
    site = generate_site(c.size_px, c.resolution_m, age_gyr=c.age_gyr, rock_abundance=c.rock_abundance,
                         rng=child_rngs(sc.seed)["terrain"], elevation_m=c.elevation_m,
                         anchor_lat_deg=c.lat_deg, anchor_lon_deg=c.lon_deg)
    epoch, egress = sc.epoch_utc, sc.event_seconds("rover egress")
    first_sunset = egress + 9.3 * 86400.0                      # 2019-01-12 ~19 UTC at the CE-4 site
    t = np.arange(egress - 3600.0, first_sunset + 7200.0, 1800.0)
    utc = seconds_to_utc(epoch, t)
    _, _, d = body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, utc)
    sun = SunTrack(t_s=t, enu=sun_direction_enu(CE4_LAT_DEG, CE4_LON_DEG, utc), distance_au=d / 1.495978707e11)
    plan = SurfacePlan(egress_s=egress, end_s=first_sunset,
                       waypoints=tuple(Waypoint(w.x_m, w.y_m, w.stop_h * 3600.0, w.name) for w in cfg.waypoints[:3]))
    td = type("TD", (), {"enu_m": (0.0, 0.0, 0.0)})()
    rows = []
    for label in ("first call (numba compile or cache load)", "warm"):
        c0 = time.process_time()
        res = simulate_surface(site, plan, touchdown=td, sun=sun, rng=np.random.default_rng(1))
        rows.append((f"first lunar day, {label}", f"{time.process_time() - c0:.2f} CPU-s",
                     f"{res.summary['distance_m']:.1f} m, {len(res.traverse)} rows"))
    return rows


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(f"Wong-Reece rigid wheel, {len(SLIPS)} slips per case (-1 .. 0.9); wheels per CPU-second")
    print_table(("case", "farside", "peer (scipy quad)", "ratio", "max rel diff"), wheel_table(repeats))
    print()
    print("simulate_surface on the Chang'e-4 site (4096 x 4096 at 0.5 m), one core")
    print_table(("case", "farside", "what"), surface_table())


if __name__ == "__main__":
    main()
