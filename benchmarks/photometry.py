"""Benchmark: cost of one photometric evaluation, and of a production LCAM frame, with the
table-driven Hapke kernel (``hapke_r_tab``) against the exact formula (``hapke_r``).

Per evaluation: 1e6 random geometries (mu0, mu uniform in (0, 1], azimuth uniform; the phase
angle follows), CPU ns per evaluation (CPU time of all threads, minimum over 7 passes: robust to
other load on the machine) with one numba thread and with all of them. Cases: the exact Hapke formula (``_kernels_shading.hapke_r``, the
peer of every row: what ``reflectance()`` evaluates and what ``render()`` used before), Hapke from
the tables (``hapke_r_tab``, what ``render()`` uses now, through ``_kernels_shading.photometry_grid``),
the same kernel with its tables switched off (each term by its formula: the shape of the old
per-pixel cost inside the new code path), Lunar-Lambert and Lambert. Quality: the largest relative
difference from the exact formula where r > 1e-6 1/sr.

Frame: one 1024 x 1024 LCAM frame from 2 km (and one from 100 m) over the default procedural
Chang'e-4 site (``generate_site(4096, 0.5 m, seed 0)``, Sun at touchdown), production setting:
Hapke, hard shadows, smooth normals, minimal layers. "before" renders with the tables switched
off (a packed array whose table sizes are 0, so every pixel evaluates the formula), "after"
with them; Lambert is the floor (no photometric cost). The frames are rendered alternately,
``n`` times each, and the CPU time per frame (all threads, load-independent) is the median.
Quality: the largest relative difference between the two Hapke images over lit pixels.

Run: ``.venv/bin/python benchmarks/photometry.py [n_frames]`` (about 2 minutes, 3 GB).

Measured 2026-11-21 (2-core Xeon VM shared with other jobs; CPU times): exact 96 ns/eval,
tables 43.7 ns/eval (2.2x; 37 ns when numba-inlined, see ``hapke_r_tab``), max relative
difference 1e-9; Lunar-Lambert 18.5, Lambert 0.8. LCAM frame CPU s, 2000 m: 0.255 -> 0.206,
100 m: 0.231 -> 0.175. Against the previous code itself (``_photometry`` calling ``hapke_r``, same
tree otherwise, run separately): 2000 m 0.245 -> 0.195 s, 100 m 0.21 -> 0.145 s per frame.
"""

from __future__ import annotations

import math
import sys
import time

import numba
import numpy as np
from numba import njit, prange

from farside import constants as C
from farside.ephemeris import sun_direction_enu
from farside.render import Hapke, Lambert, LunarLambert, Scene, lcam, render
from farside.render import _kernels_shading as K
from farside.render import _photometry_kernels as PK
from farside.render import photometry as PH
from farside.terrain import generate_site

from _table import print_table  # benchmarks/, run as a script

N = 1_000_000


def formula_only(pp: np.ndarray) -> np.ndarray:
    """A copy of a Hapke packed array with every table switched off (the kernel's formula paths)."""
    out = pp.copy()
    for i in (PK.I_PH_N, PK.I_MU_N, PK.I_PS_N, PK.I_H_N):
        out[i] = 0.0
    return out


@njit(parallel=True, error_model="numpy")      # not cached: it inlines hapke_r_tab from another file
def _tab_grid(mu0, mu, cosg, pp):
    out = np.empty(mu0.shape[0])
    for k in prange(mu0.shape[0]):
        out[k] = PK.hapke_r_tab(mu0[k], mu[k], cosg[k], pp)
    return out


def _ns_per_eval(fn, args, repeats=7) -> float:
    fn(*args)
    best = math.inf
    for _ in range(repeats):
        c = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - c)
    return best / N * 1e9


def _geometries(rng):
    mu0 = 1.0 - rng.random(N)                      # (0, 1]
    mu = 1.0 - rng.random(N)
    az = rng.uniform(0.0, math.pi, N)
    cosg = mu0 * mu + np.sqrt(1 - mu0 ** 2) * np.sqrt(1 - mu ** 2) * np.cos(az)
    return mu0, mu, cosg


def per_eval_rows():
    mu0, mu, cosg = _geometries(np.random.default_rng(0))
    pp = Hapke().packed()
    exact = PH._hapke_exact_grid(mu0, mu, cosg, pp)
    lit = exact > 1e-6
    cases = [
        ("Hapke exact formula (hapke_r)", PH._hapke_exact_grid, (mu0, mu, cosg, pp), None),
        ("Hapke tables (hapke_r_tab, via photometry_grid)", K.photometry_grid, (0, mu0, mu, cosg, pp), True),
        ("Hapke tables switched off (formula paths)", _tab_grid, (mu0, mu, cosg, formula_only(pp)), True),
        ("Lunar-Lambert", K.photometry_grid, (1, mu0, mu, cosg, LunarLambert().packed()), None),
        ("Lambert", K.photometry_grid, (2, mu0, mu, cosg, Lambert().packed()), None),
    ]
    n_all = numba.config.NUMBA_NUM_THREADS
    res = {}
    for threads in (1, n_all):
        numba.set_num_threads(threads)
        res[threads] = [_ns_per_eval(fn, args) for _, fn, args, _ in cases]
    numba.set_num_threads(n_all)
    rows = []
    for k, (name, fn, args, compare) in enumerate(cases):
        q = "-"
        if compare:
            r = fn(*args)
            q = f"max |r/r_exact - 1| = {np.max(np.abs(r[lit] / exact[lit] - 1)):.2e}"
        for threads in (1, n_all):
            peer = res[threads][0]
            rows.append([f"{name}, {threads} thread(s): CPU ns/eval", f"{res[threads][k]:.1f}", f"{peer:.1f}",
                         f"{res[threads][k] / peer:.2f}", q])
    return rows


def frame_rows(n_frames: int):
    t = time.perf_counter()
    ter = generate_site(4096, 0.5, rng=0).terrain
    print(f"site generated in {time.perf_counter() - t:.1f} s", flush=True)
    sun = np.asarray(sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, [C.CE4_TOUCHDOWN_UTC]), float).reshape(3)
    scene = Scene(ter)
    z0 = float(ter.height_at(0.0, 0.0))
    hapke = Hapke()
    after_pp = hapke.packed()
    before_pp = formula_only(after_pp)

    class _Formula(Hapke):                     # same model, packed array with the tables off
        def packed(self):
            return before_pp.copy()

    before = _Formula()
    rows = []
    for alt in (2000.0, 100.0):
        cam = lcam(position_enu=(0.0, 0.0, z0 + alt), cx_px=511.5, cy_px=511.5)
        kw = dict(sun_dir_enu=sun, shadows="hard", normals="smooth", layers="minimal")
        render(scene, cam, photometry=hapke, **kw)          # warm-up: compile, sun-margin tiles
        cpu = {"before": [], "after": [], "lambert": []}
        imgs = {}
        for _ in range(n_frames):
            for key, model in (("before", before), ("after", hapke), ("lambert", Lambert())):
                c = time.process_time()
                fr = render(scene, cam, photometry=model, **kw)
                cpu[key].append(time.process_time() - c)
                imgs[key] = fr.reflectance.astype(np.float64)
        med = {k: float(np.median(v)) for k, v in cpu.items()}
        lit = imgs["before"] > 1e-6
        q = f"max |after/before - 1| = {np.max(np.abs(imgs['after'][lit] / imgs['before'][lit] - 1)):.1e}"
        rows.append([f"LCAM {alt:g} m frame, Hapke: CPU s (all threads), after vs before",
                     f"{med['after']:.3f}", f"{med['before']:.3f}", f"{med['after'] / med['before']:.2f}", q])
        rows.append([f"LCAM {alt:g} m frame, Lambert (floor): CPU s", f"{med['lambert']:.3f}", f"{med['before']:.3f}",
                     f"{med['lambert'] / med['before']:.2f}",
                     f"photometry share before {100 * (med['before'] - med['lambert']) / med['before']:.0f} %, "
                     f"after {100 * (med['after'] - med['lambert']) / med['after']:.0f} %"])
    return rows


def main() -> None:
    n_frames = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rows = per_eval_rows() + frame_rows(n_frames)
    hdr = ["case", "farside", "peer", "ratio", "quality"]
    print(f"numba threads: {numba.config.NUMBA_NUM_THREADS}; peer = exact Hapke formula (per eval) / "
          f"frame with the tables off; frames per case: {n_frames}")
    print_table(hdr, rows)


if __name__ == "__main__":
    main()
