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

Run: ``.venv/bin/python benchmarks/descent.py [n_farside] [n_peer]`` (defaults 300 and 5), one
process, one thread.
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


def main() -> None:
    n_fast = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_peer = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    site = chang_e4_site(2048, 1.0, seed=0)
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


if __name__ == "__main__":
    main()
