"""Benchmark: a 1024 x 1024 LCAM frame with cast shadows over a 4096 x 4096 site, farside vs Mitsuba 3.

Scene: the default procedural Chang'e-4 site (``farside.terrain.generate_site``, 4096 px at
0.5 m, seed 0), Sun from the ephemeris at touchdown (2019-01-03T02:26Z). Camera: LCAM (8.55 mm,
6.7 um, 1024 x 1024) looking straight down from 2 km and from 100 m above the site centre,
moving 3.6 m between frames; the principal point is put at the image centre for both renderers.

Both renderers see the same triangle mesh: the whole 4096 x 4096 DEM (33.5 M triangles, two per
cell, same diagonal), a directional Sun (hard shadows) and a Lambertian surface of albedo 0.12
with flat (face) normals, one ray per pixel. farside: ``render(..., photometry=Lambert(),
shadows="hard", normals="face", layers="minimal")``; Mitsuba 3 (the ``direct`` integrator, one
emitter sample, 1 sample per pixel at the pixel centre: ``stratified`` sampler without jitter,
box filter): a ``twosided`` ``diffuse`` mesh and a ``directional`` emitter of irradiance 1.
Each Mitsuba scene (and its BVH) is built once and the camera moved between frames, as farside
builds its Scene once.

Mitsuba's two CPU variants are both timed: ``scalar_rgb`` (one ray at a time, all cores) and
``llvm_ad_rgb`` (Dr.Jit JIT-compiles the renderer to vectorised machine code, AVX2/AVX-512
packets on all cores). The LLVM variant needs a system ``libLLVM`` it can drive: Mitsuba 3.9's
JIT fails with LLVM 14/15 ("Cannot select: fmaximum") and works with LLVM 19 (Debian
``libllvm19``); the script looks for it and says when it is missing.

Timings: "steady" = mean over frames after the first (farside: the Scene's max-mip pyramid and
the sun-margin map for the visible tiles are built once per DEM / sun direction and extended
frame to frame, as in a descent sequence; Mitsuba: the first render includes JIT compilation).
"CPU s/frame" sums all threads (less sensitive to other load on the machine than frames/s).
Quality: median over terrain pixels lit in both of |farside - mitsuba| / mitsuba, and the
fraction of terrain pixels whose lit/shadowed state differs.

Run: ``.venv/bin/python benchmarks/render_lcam.py [n_frames] [--no-mitsuba]`` (needs the
``bench`` extra: ``pip install mitsuba``; ``--no-mitsuba`` times farside alone, for iterating).
Numba and Mitsuba each use every core of the machine. Peak memory about 8 GB (Mitsuba's BVH of
the full mesh).
"""

from __future__ import annotations

import math
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as the farside CLI does (see farside.cli)

import numpy as np  # noqa: E402

from farside import constants as C
from farside.ephemeris import sun_direction_enu
from farside.render import Hapke, Lambert, Scene, lcam, render
from farside.terrain import generate_site

from _table import print_table  # noqa: E402  (benchmarks/, run as a script)

ALBEDO = 0.12
VARIANTS = ("scalar_rgb", "llvm_ad_rgb")
#: Dr.Jit's LLVM backend needs libLLVM >= 16 for Mitsuba 3.9 (fails to select ``fmaximum`` with 14/15)
_LLVM_CANDIDATES = ("/usr/lib/x86_64-linux-gnu/libLLVM-19.so", "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
                    "/usr/lib/x86_64-linux-gnu/libLLVM-18.so", "/usr/lib/x86_64-linux-gnu/libLLVM-17.so",
                    "/usr/lib/x86_64-linux-gnu/libLLVM-16.so")


def _find_libllvm() -> str | None:
    """A libLLVM that Mitsuba 3.9's LLVM variant can use (DRJIT_LIBLLVM_PATH wins), or None."""
    if os.environ.get("DRJIT_LIBLLVM_PATH"):
        return os.environ["DRJIT_LIBLLVM_PATH"]
    return next((p for p in _LLVM_CANDIDATES if os.path.exists(p)), None)


def _mitsuba_scene(mi, ter, r0, r1, c0, c1, sun, cam):
    """Mesh of DEM vertices rows r0..r1, cols c0..c1 (inclusive) + camera + directional Sun."""
    h = ter.heights[r0:r1 + 1, c0:c1 + 1].astype(np.float64)
    nr, nc = h.shape
    xs = ter.x_m[c0:c1 + 1]
    ys = ter.y_m[r0:r1 + 1]
    X, Y = np.meshgrid(xs, ys)
    pos = np.stack([X, Y, h], -1).reshape(-1, 3).astype(np.float32)
    idx = np.arange(nr * nc, dtype=np.uint32).reshape(nr, nc)
    v00 = idx[:-1, :-1].ravel()
    v01 = idx[:-1, 1:].ravel()
    v10 = idx[1:, :-1].ravel()
    v11 = idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([v00, v11, v01], 1), np.stack([v00, v10, v11], 1)]).astype(np.uint32)
    props = mi.Properties()
    props["bsdf"] = mi.load_dict({"type": "twosided", "bsdf": {"type": "diffuse",
                                                               "reflectance": {"type": "rgb", "value": ALBEDO}}})
    props["face_normals"] = True
    mesh = mi.Mesh("dem", pos.shape[0], faces.shape[0], props=props, has_vertex_normals=False,
                   has_vertex_texcoords=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = type(params["vertex_positions"])(pos.ravel())
    params["faces"] = type(params["faces"])(faces.ravel())
    params.update()
    p = cam.position_enu
    fov = math.degrees(2 * math.atan(cam.width_px / 2 / cam.fx_px))
    return mi.load_dict({
        "type": "scene",
        "integrator": {"type": "direct", "emitter_samples": 1, "bsdf_samples": 0},
        "sensor": {
            "type": "perspective", "id": "cam", "fov": fov, "fov_axis": "x",
            "to_world": mi.ScalarTransform4f().look_at(origin=[float(p[0]), float(p[1]), float(p[2])],
                                                        target=[float(p[0]), float(p[1]), float(p[2]) - 1.0],
                                                        up=[0.0, 1.0, 0.0]),
            "film": {"type": "hdrfilm", "width": cam.width_px, "height": cam.height_px,
                     "rfilter": {"type": "box"}, "pixel_format": "rgb"},
            "sampler": {"type": "stratified", "sample_count": 1, "jitter": False},  # pixel centres
        },
        "sun": {"type": "directional", "direction": [float(-sun[0]), float(-sun[1]), float(-sun[2])],
                "irradiance": {"type": "rgb", "value": [1.0, 1.0, 1.0]}},
        "dem": mesh,
    })


def _time_farside(scene, cams, sun):
    """Lambert + hard shadows over the camera sequence, then Hapke + penumbra (production setting)."""
    times, cpu = [], []
    for cam in cams:
        t, c = time.perf_counter(), time.process_time()
        render(scene, cam, sun_dir_enu=sun, photometry=Lambert(ALBEDO), shadows="hard", normals="face",
               layers="minimal")
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ref = render(scene, cams[0], sun_dir_enu=sun, photometry=Lambert(ALBEDO), shadows="hard", normals="face",
                 layers="all")
    ht, hcpu = [], []
    for cam in cams[1:]:
        t, c = time.perf_counter(), time.process_time()
        render(scene, cam, sun_dir_enu=sun, photometry=Hapke(), shadows="penumbra", normals="smooth",
               layers="minimal")
        ht.append(time.perf_counter() - t)
        hcpu.append(time.process_time() - c)
    return {"first": times[0], "steady": float(np.mean(times[1:])), "cpu": float(np.mean(cpu[1:])), "ref": ref,
            "hapke_fps": 1.0 / float(np.mean(ht)), "hapke_cpu": float(np.mean(hcpu))}


def _look_down(mi, cam):
    p = [float(v) for v in cam.position_enu]
    return mi.ScalarTransform4f().look_at(origin=p, target=[p[0], p[1], p[2] - 1.0], up=[0.0, 1.0, 0.0])


def _time_mitsuba(variant, ter, sun, cams_by_alt, n_frames):
    """Build the full-mesh scene once, then per altitude: render frame 0 (JIT / warm-up, kept for the
    comparison) and time frames 1..n-1 with the camera moved between renders."""
    import mitsuba as mi

    mi.set_variant(variant)
    alts = list(cams_by_alt)
    t = time.perf_counter()
    msc = _mitsuba_scene(mi, ter, 0, ter.shape[0] - 1, 0, ter.shape[1] - 1, sun, cams_by_alt[alts[0]][0])
    out = {"build": time.perf_counter() - t}
    params = mi.traverse(msc)
    for alt in alts:
        cams = cams_by_alt[alt][:n_frames]
        times, cpu, img = [], [], None
        for k, cam in enumerate(cams):
            params["cam.to_world"] = _look_down(mi, cam)
            params.update()
            t, c = time.perf_counter(), time.process_time()
            im = np.array(mi.render(msc, seed=k))
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            if img is None:
                img = im[..., 0]
        out[alt] = {"first": times[0], "steady": float(np.mean(times[1:])), "cpu": float(np.mean(cpu[1:])),
                    "img": img}
    del msc, params
    import gc

    gc.collect()
    return out


def _quality(ref, img):
    fs = ref.reflectance.astype(np.float64)      # r = albedo mu0 / pi per unit irradiance, as Mitsuba's
    both = (fs > 1e-4) & (img > 1e-4)
    rel = np.abs(fs[both] - img[both]) / img[both]
    terrain = np.isfinite(ref.range_m)
    mismatch = float(np.mean((fs > 1e-6)[terrain] != (img > 1e-6)[terrain]))
    return f"median |dL|/L {100 * np.median(rel):.3f} %, lit/shadow differ on {100 * mismatch:.2f} % px"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-mitsuba"]
    peer = "--no-mitsuba" not in sys.argv[1:]
    n_frames = int(args[0]) if args else 6
    t = time.perf_counter()
    ter = generate_site(4096, 0.5, rng=0).terrain
    t_site = time.perf_counter() - t
    sun = np.asarray(sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, [C.CE4_TOUCHDOWN_UTC]), float).reshape(3)
    elev = math.degrees(math.asin(sun[2]))
    print(f"site 4096 x 4096 at 0.5 m generated in {t_site:.1f} s; relief {ter.heights.min():.1f}.."
          f"{ter.heights.max():.1f} m; sun elevation {elev:.2f} deg", flush=True)
    t = time.perf_counter()
    scene = Scene(ter)
    t_scene = time.perf_counter() - t
    z0 = float(ter.height_at(0.0, 0.0))
    cams_by_alt = {alt: [lcam(position_enu=(3.0 * k, 2.0 * k, z0 + alt), cx_px=511.5, cy_px=511.5)
                         for k in range(n_frames)] for alt in (2000.0, 100.0)}
    fs = {alt: _time_farside(scene, cams, sun) for alt, cams in cams_by_alt.items()}

    variants = []
    mis = {}
    if peer:
        lib = _find_libllvm()
        if lib:
            os.environ["DRJIT_LIBLLVM_PATH"] = lib
        for v in VARIANTS:
            if v == "llvm_ad_rgb" and lib is None:
                print("llvm_ad_rgb skipped: no libLLVM >= 16 found (Debian: apt-get install libllvm19)")
                continue
            print(f"Mitsuba {v}: building the full-mesh scene ...", flush=True)
            mis[v] = _time_mitsuba(v, ter, sun, cams_by_alt, min(n_frames, 4))
            variants.append(v)

    hdr = ["case", "farside"]
    for v in variants:
        hdr += [f"Mitsuba {v}", "ratio"]
    hdr.append("quality / notes")
    rows = [["Scene build, once per DEM", f"{t_scene:.2f} s"] + sum(([f"{mis[v]['build']:.1f} s", "-"]
                                                                     for v in variants), [])
            + ["farside: max-mip pyramid; Mitsuba: mesh + BVH of 33.5 M triangles"]]
    for alt, r in fs.items():
        row = [f"LCAM {alt:g} m, Lambert + hard shadows: frames/s", f"{1 / r['steady']:.2f}"]
        for v in variants:
            m = mis[v][alt]
            row += [f"{1 / m['steady']:.2f}", f"{m['steady'] / r['steady']:.1f}x"]
        row.append("; ".join(f"vs {v}: {_quality(r['ref'], mis[v][alt]['img'])}" for v in variants) or "-")
        rows.append(row)
        row = [f"LCAM {alt:g} m: CPU s/frame (all threads)", f"{r['cpu']:.3f}"]
        for v in variants:
            m = mis[v][alt]
            row += [f"{m['cpu']:.3f}", f"{m['cpu'] / r['cpu']:.1f}x"]
        rows.append(row + ["load-independent cost"])
        row = [f"LCAM {alt:g} m: first frame", f"{r['first']:.2f} s"]
        for v in variants:
            row += [f"{mis[v][alt]['first']:.2f} s", "-"]
        rows.append(row + ["farside: + sun-margin map of the visible tiles; Mitsuba: + JIT"])
        rows.append([f"LCAM {alt:g} m, Hapke + penumbra + smooth normals: frames/s", f"{r['hapke_fps']:.2f}"]
                    + ["-", "-"] * len(variants) + [f"farside production setting; CPU {r['hapke_cpu']:.3f} s/frame"])
    import numba

    print(f"numba threads: {numba.get_num_threads()}; os.cpu_count: {os.cpu_count()}; frames per case: {n_frames}")
    print_table(hdr, rows)


if __name__ == "__main__":
    main()
