"""Benchmark: procedural site generation (farside.terrain.generate_site) vs a plain numpy peer.

Case: a 4096 x 4096 site at 0.5 m/px (2048 m square, 4.2 km^2), craters down to 1 m, rocks down to
0.1 m, CE-4 defaults. The peer is what a user would write first: the same crater list stamped
with numpy, one crater at a time, computing the profile over the crater's bounding box and adding
it (same profile table, same inheritance rule). Each variant runs in its own subprocess so that
the peak memory (``ru_maxrss``) is its own; numba kernels are compiled (or loaded from the cache)
on a tiny site before the clock starts.

Prints: case, farside, peer, ratio (peer / farside), quality metric (max |DEM difference|).

    .venv/bin/python benchmarks/terrain_generate.py [--size 4096] [--res 0.5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def numpy_stamp_craters(heights, craters, *, resolution_m, x0_m, y0_m):
    """Peer: per-crater numpy stamping over the bounding box (same model as farside's kernel)."""
    from farside.terrain.craters import _profile_table, _tau_index

    z = np.array(heights, dtype=np.float64, copy=True)
    x_tab, _, tab, _ = _profile_table()
    xmax = float(x_tab[-1])
    s_grid = np.linspace(0.0, xmax ** 2, tab.shape[1])
    ti, tw = _tau_index(craters["tau"].to_numpy(float))
    cx = craters["x_m"].to_numpy(float)
    cy = craters["y_m"].to_numpy(float)
    rad = craters["diameter_m"].to_numpy(float) / 2.0
    res = resolution_m
    nrows, ncols = z.shape
    for c in range(len(cx)):
        R = rad[c]
        r_out = xmax * R
        j0 = max(int(np.floor((cx[c] - r_out - x0_m) / res - 0.5)) + 1, 0)
        j1 = min(int(np.floor((cx[c] + r_out - x0_m) / res - 0.5)), ncols - 1)
        i0 = max(int(np.floor((y0_m - (cy[c] + r_out)) / res - 0.5)) + 1, 0)
        i1 = min(int(np.floor((y0_m - (cy[c] - r_out)) / res - 0.5)), nrows - 1)
        if i0 > i1 or j0 > j1:
            continue
        xs = x0_m + (np.arange(j0, j1 + 1) + 0.5) * res - cx[c]
        ys = y0_m - (np.arange(i0, i1 + 1) + 0.5) * res - cy[c]
        r2 = xs[None, :] ** 2 + ys[:, None] ** 2
        box = z[i0:i1 + 1, j0:j1 + 1]
        disk = r2 < R * R
        if disk.any():
            href = box[disk].mean()
        else:
            ii = min(max(int(np.floor((y0_m - cy[c]) / res)), 0), nrows - 1)
            jj = min(max(int(np.floor((cx[c] - x0_m) / res)), 0), ncols - 1)
            href = z[ii, jj]
        s = r2 / (R * R)  # the table is uniform in s = (r/R)^2
        row = tab[ti[c]] * (1 - tw[c]) + tab[ti[c] + 1] * tw[c]
        p = np.interp(s, s_grid, row) * R
        p[r2 >= r_out * r_out] = 0.0
        inner = s < 1.0
        upd = box + p
        upd[inner] += (1.0 - s[inner]) * (href - box[inner])
        box[...] = upd
    return z


def _child(variant: str, size: int, res: float, seed: int) -> dict:
    import farside.terrain.generate as gen
    from farside.terrain import generate_site

    generate_site(32, res, rng=0)  # numba compile / cache load, outside the clock
    timing = {}
    stamp = gen.stamp_craters if variant == "farside" else numpy_stamp_craters

    def timed_stamp(*a, **k):
        t = time.perf_counter()
        out = stamp(*a, **k)
        timing["stamp_s"] = time.perf_counter() - t
        return out

    gen.stamp_craters = timed_stamp
    t0 = time.perf_counter()
    c0 = time.process_time()
    site = generate_site(size, res, rng=seed, min_crater_diameter_m=1.0, min_rock_diameter_m=0.1)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    np.save(f"/tmp/terrain_bench_{variant}.npy", site.terrain.heights)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "stamp_s": timing["stamp_s"],
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "n_craters": len(site.craters),
        "n_rocks": len(site.rocks),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--res", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--child", choices=["farside", "numpy"])
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_child(a.child, a.size, a.res, a.seed)))
        return
    results = {}
    for variant in ("farside", "numpy"):
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--size", str(a.size),
                              "--res", str(a.res), "--seed", str(a.seed)],
                             check=True, capture_output=True, text=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    f, p = results["farside"], results["numpy"]
    diff = float(np.max(np.abs(np.load("/tmp/terrain_bench_farside.npy").astype(float)
                               - np.load("/tmp/terrain_bench_numpy.npy").astype(float))))
    title = (f"{a.size}x{a.size} site at {a.res} m/px: {f['n_craters']} craters >= 1 m, "
             f"{f['n_rocks']} rocks >= 0.1 m")
    print(title)
    rows = [
        ("crater stamping [s]", f["stamp_s"], p["stamp_s"], f"max|dDEM| = {diff:.2e} m"),
        ("whole generate_site [s]", f["wall_s"], p["wall_s"], "same seed, same tables"),
        ("whole generate_site [cpu s]", f["cpu_s"], p["cpu_s"], "process CPU time (load-independent)"),
        ("peak RSS [MB]", f["maxrss_mb"], p["maxrss_mb"], "ru_maxrss of the subprocess"),
    ]
    print(f"{'case':<28}{'farside':>12}{'numpy peer':>14}{'ratio':>9}  quality")
    for name, fv, pv, q in rows:
        print(f"{name:<28}{fv:>12.2f}{pv:>14.2f}{pv / fv:>9.1f}  {q}")


if __name__ == "__main__":
    main()
