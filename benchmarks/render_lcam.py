"""Benchmark: a 1024 x 1024 LCAM frame with cast shadows over a 4096 x 4096 site, farside vs Mitsuba 3.

Scene: the default procedural Chang'e-4 site (``farside.terrain.generate_site``, 4096 px at
0.5 m, seed 0), Sun from the ephemeris at touchdown (2019-01-03T02:26Z). Camera: LCAM (8.55 mm,
6.7 um, 1024 x 1024) looking straight down from 2 km and from 100 m above the site centre; the
principal point is put at the image centre for both renderers (Mitsuba's perspective sensor has
no off-centre principal point in pixel units).

Both renderers see the same triangle mesh (two triangles per DEM cell, same diagonal), a
directional Sun (hard shadows) and a Lambertian surface of albedo 0.12 with flat (face)
normals, one ray per pixel. farside: ``render(..., photometry=Lambert(), shadows="hard",
normals="face", layers="minimal")``; Mitsuba 3 (``scalar_rgb``, CPU, the ``direct``
integrator, 1 sample per pixel at the pixel centre: ``stratified`` sampler without jitter, box
filter): a ``twosided`` ``diffuse`` mesh and a
``directional`` emitter of irradiance 1. Mitsuba gets only the part of the mesh that the frame
can see plus the shadow-casting margin toward the Sun (fewer triangles than farside's full DEM).

Timings: farside "steady" = mean over frames after the first (the Scene's max-mip pyramid and
the sun margin map for the visible tiles are built once per DEM / sun direction and reused, as
for a descent sequence); "first" includes filling the margin map. Mitsuba: mean of the renders
after the first (the first includes LLVM JIT compilation); its scene/BVH build is reported
separately (``llvm_ad_rgb`` would be faster but its JIT fails with this machine's LLVM 14/15).
Quality: median over terrain pixels lit in both of |farside - mitsuba| / mitsuba,
and the fraction of terrain pixels whose lit/shadowed state differs.

Run: ``.venv/bin/python benchmarks/render_lcam.py [n_frames] [--no-mitsuba]`` (needs the
``bench`` extra: ``pip install mitsuba``; ``--no-mitsuba`` times farside alone, for iterating). Numba and Mitsuba each use every core of the machine.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from farside import constants as C
from farside.ephemeris import sun_direction_enu
from farside.render import Hapke, Lambert, Scene, lcam, render
from farside.terrain import generate_site

ALBEDO = 0.12
#: llvm_ad_rgb fails to JIT with the system LLVM 14/15 here ("Cannot select: fmaximum"); scalar_rgb
#: renders image blocks on all cores.
MITSUBA_VARIANT = "scalar_rgb"


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
            "type": "perspective", "fov": fov, "fov_axis": "x",
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


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-mitsuba"]
    peer = "--no-mitsuba" not in sys.argv[1:]
    n_frames = int(args[0]) if args else 6
    t = time.perf_counter()
    site = generate_site(4096, 0.5, seed=0)
    ter = site.terrain
    t_site = time.perf_counter() - t
    sun = np.asarray(sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, [C.CE4_TOUCHDOWN_UTC]), float).reshape(3)
    elev = math.degrees(math.asin(sun[2]))
    print(f"site 4096 x 4096 at 0.5 m generated in {t_site:.1f} s; relief {ter.heights.min():.1f}.."
          f"{ter.heights.max():.1f} m; sun elevation {elev:.2f} deg")
    t = time.perf_counter()
    scene = Scene(ter)
    t_scene = time.perf_counter() - t
    z0 = float(ter.height_at(0.0, 0.0))
    rows = [("Scene build (max-mip pyramid), once per DEM", f"{t_scene:.2f} s", "-", "-", "-")]

    if peer:
        import mitsuba as mi

        mi.set_variant(MITSUBA_VARIANT)
    for alt in (2000.0, 100.0):
        cams = [lcam(position_enu=(3.0 * k, 2.0 * k, z0 + alt), cx_px=511.5, cy_px=511.5) for k in range(n_frames)]
        # farside, Lambert (the comparison case)
        times = []
        cpu = []
        for cam in cams:
            t, c = time.perf_counter(), time.process_time()
            render(scene, cam, sun_dir_enu=sun, photometry=Lambert(ALBEDO), shadows="hard", normals="face",
                   layers="minimal")
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        first_fs, steady_fs, cpu_fs = times[0], float(np.mean(times[1:])), float(np.mean(cpu[1:]))
        ref_frame = render(scene, cams[0], sun_dir_enu=sun, photometry=Lambert(ALBEDO), shadows="hard",
                           normals="face", layers="all")
        # farside, Hapke + penumbra (the production setting; no peer)
        ht = []
        hcpu = []
        for cam in cams[1:]:
            t, c = time.perf_counter(), time.process_time()
            render(scene, cam, sun_dir_enu=sun, photometry=Hapke(), shadows="penumbra", normals="smooth",
                   layers="minimal")
            ht.append(time.perf_counter() - t)
            hcpu.append(time.process_time() - c)
        if not peer:
            rows.append((f"LCAM {alt:g} m, Lambert + hard shadows: frames/s (steady)", f"{1 / steady_fs:.2f}", "-",
                         "-", "Mitsuba skipped (--no-mitsuba)"))
            rows.append((f"LCAM {alt:g} m, Lambert: CPU seconds per frame (all threads)", f"{cpu_fs:.3f}", "-", "-",
                         "load-independent cost"))
            rows.append((f"LCAM {alt:g} m: first frame (farside: + margin map)", f"{first_fs:.2f} s", "-", "-", "-"))
            rows.append((f"LCAM {alt:g} m, Hapke + penumbra + smooth normals: frames/s", f"{1 / np.mean(ht):.2f}",
                         "-", "-", f"production setting; CPU {np.mean(hcpu):.3f} s/frame"))
            continue
        # Mitsuba: mesh of the visible region + shadow margin toward the sun
        pts = ref_frame.points_enu[np.isfinite(ref_frame.range_m)]
        relief = float(ter.heights.max() - ter.heights.min())
        reach = relief / max(math.tan(math.radians(elev)), 1e-3)
        hs = np.array([sun[0], sun[1]]) / math.hypot(sun[0], sun[1])
        xmin, xmax = pts[:, 0].min() - 2, pts[:, 0].max() + 2
        ymin, ymax = pts[:, 1].min() - 2, pts[:, 1].max() + 2
        xmin, xmax = min(xmin, xmin + hs[0] * reach), max(xmax, xmax + hs[0] * reach)
        ymin, ymax = min(ymin, ymin + hs[1] * reach), max(ymax, ymax + hs[1] * reach)
        r0, c0 = (int(math.floor(v)) for v in ter.xy_to_ij(xmin, ymax))
        r1, c1 = (int(math.ceil(v)) for v in ter.xy_to_ij(xmax, ymin))
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, ter.shape[0] - 1), min(c1, ter.shape[1] - 1)
        t = time.perf_counter()
        msc = _mitsuba_scene(mi, ter, r0, r1, c0, c1, sun, cams[0])
        t_build = time.perf_counter() - t
        ntri = 2 * (r1 - r0) * (c1 - c0)
        mt = []
        mcpu = []
        img = None
        for k in range(3):
            t, c = time.perf_counter(), time.process_time()
            im = np.array(mi.render(msc, seed=k))
            mt.append(time.perf_counter() - t)
            mcpu.append(time.process_time() - c)
            if img is None:
                img = im[..., 0]
        steady_mi = float(np.mean(mt[1:]))
        cpu_mi = float(np.mean(mcpu[1:]))
        # compare with farside frame 0 (radiance per unit irradiance: r = albedo mu0 / pi)
        fs = ref_frame.reflectance.astype(np.float64)
        both = (fs > 1e-4) & (img > 1e-4)
        rel = np.abs(fs[both] - img[both]) / img[both]
        lit_f = fs > 1e-6
        lit_m = img > 1e-6
        terrain = np.isfinite(ref_frame.range_m)
        mismatch = float(np.mean(lit_f[terrain] != lit_m[terrain]))
        rows.append((f"LCAM {alt:g} m, Lambert + hard shadows: frames/s (steady)", f"{1 / steady_fs:.2f}",
                     f"{1 / steady_mi:.2f}", f"{steady_mi / steady_fs:.1f}x",
                     f"median |dL|/L = {100 * np.median(rel):.3f} %; lit/shadow differ {100 * mismatch:.2f} % px"))
        rows.append((f"LCAM {alt:g} m, Lambert: CPU seconds per frame (all threads)", f"{cpu_fs:.3f}", f"{cpu_mi:.3f}",
                     f"{cpu_mi / cpu_fs:.1f}x", "load-independent cost"))
        rows.append((f"LCAM {alt:g} m: first frame (farside: + margin map) / Mitsuba scene build",
                     f"{first_fs:.2f} s", f"{t_build:.1f} s + JIT {mt[0]:.1f} s", "-",
                     f"Mitsuba mesh {ntri / 1e6:.1f} M triangles (farside: full DEM, 33.5 M)"))
        rows.append((f"LCAM {alt:g} m, Hapke + penumbra + smooth normals: frames/s", f"{1 / np.mean(ht):.2f}", "-", "-",
                     f"production setting; CPU {np.mean(hcpu):.3f} s/frame"))
    w = [max(len(r[i]) for r in rows + [("case", "farside", "peer (Mitsuba 3)", "ratio", "quality")]) for i in range(5)]
    hdr = ("case", "farside", "peer (Mitsuba 3)", "ratio", "quality")
    import numba

    print(f"numba threads: {numba.get_num_threads()}; os.cpu_count: {__import__('os').cpu_count()}")
    print(" | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(str(v).ljust(w[i]) for i, v in enumerate(r)))


if __name__ == "__main__":
    main()
