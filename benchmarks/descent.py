"""Benchmark: closed-loop powered descents per second per core, farside (numba) vs scipy solve_ivp.

Both sides fly the same closed loop on the default Chang'e-4 site (2048 px at 1 m, seed 0): the
same flight software (navigation from IMU/altimeter/velocimeter, guidance, throttle and rate-limited
pointing), the same coarse (LCAM map, rendered once per site, outside the timing) and fine (3-D
imager scan, per landing) hazard detection, the same touchdown check, no frame rendering. Only the
truth dynamics differ: farside's compiled loop steps RK4 at the 0.1 s control cycle; the peer, what
a user would write first, calls ``scipy.integrate.solve_ivp`` (RK45, rtol 1e-9, atol 1e-6) over
each control cycle from a Python loop (``simulate_descent(..., integrator="scipy")``).

Quality metric: the largest touchdown-position difference between the two on the same seeds
(the integration error of the 0.1 s RK4), and whether every safe/unsafe verdict agrees.

Rates are per CPU-second of this process (``time.process_time``; single-threaded, so per core) and
wall times are printed too: on a shared machine wall time also counts waiting for a core.

A second table sets farside beside Basilisk (``bsk``, the ``bench`` extra) flying the same
powered-descent profiles: each farside descent's thrust magnitude/axis history is replayed open loop
in Basilisk (point-mass hub, lunar point-mass gravity, RK4 at 0.1 s; see ``_basilisk_replay``);
steps and descents per second, and the final-state difference from farside's truth.

Run: ``.venv/bin/python benchmarks/descent.py [n_farside] [n_peer] [n_basilisk]`` (defaults 300, 5
and 5), one process, one thread.
"""

from __future__ import annotations

import math
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from farside import constants as C  # noqa: E402
from farside.descent import Dispersions, prepare_hazards, simulate_descent  # noqa: E402
from farside.ephemeris import sun_direction_enu  # noqa: E402
from farside.terrain import chang_e4_site  # noqa: E402


def _fly(site, hazards, seeds, *, hda: bool, integrator: str):
    out = []
    t0 = time.process_time()
    w0 = time.perf_counter()
    for ss in seeds:
        r = simulate_descent(site, dispersions=Dispersions(), rng=np.random.default_rng(ss), hda=hda,
                             hazards=hazards, integrator=integrator)
        out.append((r.touchdown_x_m, r.touchdown_y_m, r.safe))   # a campaign keeps summaries only
    return time.process_time() - t0, time.perf_counter() - w0, out


def _basilisk_replay(tr):
    """Fly one farside descent's thrust history open loop in Basilisk: a point-mass spacecraft
    hub under the Moon's point-mass gravity (GM from farside.constants, Moon-centred frame = site
    ENU + R up, rotation neglected as in farside), RK4 at the 0.1 s control cycle, the thrust of
    each step as an inertial external force (``extForceTorque.extForce_N``) set from Python
    between steps. Basilisk's hub mass is fixed, so the force is scaled by m_hub / m_mid (m_mid
    the mass at the middle of the step): the same acceleration F/m as farside's RK4 to O(dt^2).
    Returns (position, velocity) at the row before touchdown, CPU seconds of the stepping, step count."""
    from Basilisk.simulation import extForceTorque, spacecraft
    from Basilisk.utilities import SimulationBaseClass, macros, simIncludeGravBody

    from farside.descent import CE4_LANDER, TRAJECTORY_COLUMNS

    cols = list(TRAJECTORY_COLUMNS)
    R = C.MOON_RADIUS_M
    ve = CE4_LANDER.isp_s * 9.80665
    m0 = float(tr[0, cols.index("mass_kg")])
    sim = SimulationBaseClass.SimBaseClass()
    proc = sim.CreateNewProcess("p")
    proc.addTask(sim.CreateNewTask("t", macros.sec2nano(0.1)))
    sc = spacecraft.Spacecraft()
    sc.ModelTag = "lander"
    sc.hub.mHub = m0
    sim.AddModelToTask("t", sc)
    gf = simIncludeGravBody.gravBodyFactory()
    moon = gf.createMoon()
    moon.isCentralBody = True
    moon.mu = C.MOON_GM_M3_S2
    gf.addBodiesTo(sc)
    ext = extForceTorque.ExtForceTorque()
    ext.ModelTag = "thrust"
    sc.addDynamicEffector(ext)
    sim.AddModelToTask("t", ext)
    sc.hub.r_CN_NInit = (tr[0, 2:5] + np.array([0.0, 0.0, R])).tolist()
    sc.hub.v_CN_NInit = tr[0, 5:8].tolist()
    sim.InitializeSimulation()
    F = tr[:, cols.index("thrust_n")]
    axis = tr[:, cols.index("axis_x"):cols.index("axis_z") + 1]
    m = tr[:, cols.index("mass_kg")]
    n = tr.shape[0] - 2          # the last row is the touchdown (the ground stops the lander): not free flight
    w0 = time.process_time()
    for k in range(n):       # row k + 1 holds the thrust applied over step k -> k + 1
        f = F[k + 1] * m0 / (m[k] - 0.05 * F[k + 1] / ve)
        ext.extForce_N = (f * axis[k + 1]).tolist()
        sim.ConfigureStopTime(macros.sec2nano(0.1 * (k + 1)))
        sim.ExecuteSimulation()
    wall = time.process_time() - w0
    st = sc.scStateOutMsg.read()
    return np.array(st.r_BN_N) - np.array([0.0, 0.0, R]), np.array(st.v_BN_N), wall, n


def _basilisk_rows(site, hazards, seeds, n_bsk):
    """farside closed loop (HDA off, no dispersions: sensor noise only) against Basilisk replaying
    the same thrust histories."""
    t0 = time.process_time()
    # no dispersions: the trajectory's thrust column is then the thrust the truth dynamics applied
    # (with dispersions the engine's thrust and Isp scale errors are not in the table)
    runs = [simulate_descent(site, rng=np.random.default_rng(ss), hda=False, hazards=hazards)
            for ss in seeds[:n_bsk]]
    t_fs = time.process_time() - t0
    steps = sum(r.trajectory.shape[0] - 2 for r in runs)
    walls, dr, dv = [], [], []
    for r in runs:
        p, v, w, _n = _basilisk_replay(r.trajectory)
        walls.append(w)
        dr.append(float(np.linalg.norm(p - r.trajectory[-2, 2:5])))
        dv.append(float(np.linalg.norm(v - r.trajectory[-2, 5:8])))
    t_b = sum(walls)
    return [("descent truth dynamics, steps/s", steps / t_fs, steps / t_b, (steps / t_fs) / (steps / t_b),
             f"farside: whole closed loop (navigation, guidance, HDA off) per CPU-s; Basilisk {_bsk_version()}: "
             f"open-loop replay of the same {n_bsk} thrust histories, per CPU-s"),
            ("descents/s", n_bsk / t_fs, n_bsk / t_b, (n_bsk / t_fs) / (n_bsk / t_b),
             f"final state vs farside truth: max |dr| {max(dr):.1e} m, |dv| {max(dv):.1e} m/s after "
             f"{steps / n_bsk:.0f} steps")]


def _bsk_version() -> str:
    try:
        from Basilisk import __version__
        return str(__version__)
    except ImportError:
        return "?"


def main() -> None:
    n_fast = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_peer = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    site = chang_e4_site(2048, 1.0, rng=0)
    sun = np.asarray(sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, C.CE4_TOUCHDOWN_UTC), float).reshape(-1, 3)[0]
    hazards = prepare_hazards(site, sun_dir_enu=sun, rng=np.random.default_rng(0))
    seeds = np.random.SeedSequence(2019).spawn(max(n_fast, n_peer))
    # warm-up: JIT compilation (cached on disk) and first-touch allocations, not timed
    _fly(site, hazards, seeds[:2], hda=True, integrator="numba")
    _fly(site, hazards, seeds[:1], hda=True, integrator="scipy")

    rows = []
    for hda in (True, False):
        tf, wf, fast = _fly(site, hazards, seeds[:n_fast], hda=hda, integrator="numba")
        tp, wp, peer = _fly(site, hazards, seeds[:n_peer], hda=hda, integrator="scipy")
        rate_f = n_fast / tf
        rate_p = n_peer / tp
        print(f"  HDA {'on ' if hda else 'off'}: farside {n_fast} in {tf:.2f} s CPU ({wf:.2f} s wall), "
              f"peer {n_peer} in {tp:.2f} s CPU ({wp:.2f} s wall)")
        dpos = max(math.hypot(a[0] - b[0], a[1] - b[1]) for a, b in zip(fast, peer))
        agree = all(a[2] == b[2] for a, b in zip(fast, peer))
        safe = sum(r[2] for r in fast) / n_fast
        rows.append((f"closed-loop descent, HDA {'on' if hda else 'off'}", rate_f, rate_p, rate_f / rate_p,
                     f"max |dr_td| {dpos:.1e} m, verdicts agree: {agree}; safe {safe:.1%} of {n_fast}"))

    print("\nclosed-loop powered descents per CPU-second (one core, single thread; no frame rendering)")
    print(f"{'case':34s} {'farside [1/s]':>14s} {'peer [1/s]':>11s} {'ratio':>8s}  quality metric")
    for case, f, p, r, q in rows:
        print(f"{case:34s} {f:14.1f} {p:11.3f} {r:8.0f}x  {q}")
    print("peer: scipy.integrate.solve_ivp (RK45, rtol 1e-9, atol 1e-6) per 0.1 s control cycle, same flight software")

    n_bsk = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    try:
        brows = _basilisk_rows(site, hazards, seeds, n_bsk)
    except ImportError as e:
        print(f"\nBasilisk not installed ({e}): pip install -e '.[bench]'")
        return
    print("\nfarside against Basilisk (bsk) flying the same powered-descent profiles")
    print(f"{'case':34s} {'farside [1/s]':>14s} {'Basilisk [1/s]':>15s} {'ratio':>8s}  notes")
    for case, f, p, r, q in brows:
        print(f"{case:34s} {f:14.1f} {p:15.1f} {r:8.1f}x  {q}")


if __name__ == "__main__":
    main()
