"""Numba kernels of :mod:`farside.render.vehicles` (private): rays against triangle meshes.

The placed scene objects of a frame are flattened into one triangle table (``tri`` (M, 9): the
vertex v0 and the edges e1 = v1 - v0, e2 = v2 - v0, site ENU metres; ``nrm`` (M, 3) the unit
outward face normals), grouped into *parts* (``part_box`` (P, 6): x min, x max, y min, y max,
z min, z max of the part's triangles; ``part_t0``/``part_t1``: its triangles
``tri[part_t0[p]:part_t1[p]]``). A ray tests a part's triangles only when it meets the part's box.

Intersections are Moller & Trumbore (1997), "Fast, minimum storage ray-triangle intersection",
J. Graphics Tools 2(1). Camera rays cull back faces (the meshes are closed and wound outward, so a
camera inside a part, e.g. the TCAM inside the lander's mast head, sees out through it); shadow
rays test both faces.

Per frame (see :func:`farside.render.vehicles.apply_objects`):

1. :func:`mesh_hits`: object order, part by part over the pixels of the part's image box: the
   nearest front-face hit in front of the frame's terrain/rock hit;
2. :func:`mesh_terrain_shadows`: the terrain (and rock) pixels inside each object's swept shadow
   box: the fraction of the solar disk the object leaves visible from the surface point;
3. :func:`shade_mesh`: the object pixels: face normal, material BRDF per band, the terrain's
   shadow (sun-margin map at the ground point under the hit) and the objects' shadows.

The solar disk: ``sun_dirs`` (K, 3) are unit directions: [0] the disk centre, [1:5] four points on
the disk's edge, [5:] an equal-area sunflower set over the disk. Hard shadows use [0]; the
penumbra first tests [0:5] and, when they disagree, returns the visible fraction of [5:].

Compile time: the helpers are ordinary numba functions (LLVM still inlines them where it pays),
not ``inline="always"``: inlining them at numba's IR level into the three parallel kernels made
the cold-cache compile of :func:`shade_mesh` take 38.7 s and :func:`mesh_terrain_shadows` 28.9 s,
against 5.5 s and 2.1 s now, for ~4 % more CPU time on a lander portrait (PCAM frame, 63 % of
its pixels on the lander, penumbra: 9.5 -> 9.9 CPU-s; docs/render.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from farside._core.hashing import mix64 as _mix64
from farside.render._kernels_rays import _ray, slab_clip
from farside.render._kernels_shading import _write_geom
from farside.terrain.surface import surface_height_rc

#: camera hits nearer than this (metres along the ray) are dropped (the near-plane clip)
T_MIN_CAM = 1.0e-4
#: shadow rays start this far (metres) off the surface along its normal
SHADOW_OFFSET_M = 2.0e-4
_EPS_DET = 1.0e-15
_BIG = 1.0e300


@njit(cache=True, error_model="numpy")
def _slab6(ox, oy, oz, dx, dy, dz, xa, xb, ya, yb, za, zb, t0, t1):
    """[t0, t1] narrowed to where the ray is inside the box [xa, xb] x [ya, yb] x [za, zb];
    t0 > t1 = miss."""
    t0, t1, ok = slab_clip(ox, dx, xa, xb, t0, t1)
    if not ok:
        return 1.0, 0.0
    t0, t1, ok = slab_clip(oy, dy, ya, yb, t0, t1)
    if not ok:
        return 1.0, 0.0
    t0, t1, ok = slab_clip(oz, dz, za, zb, t0, t1)
    if not ok:
        return 1.0, 0.0
    return t0, t1


@njit(cache=True, error_model="numpy")
def _box_t(ox, oy, oz, dx, dy, dz, box, p, t0, t1):
    """[t0, t1] narrowed to where the ray is inside box ``p`` of ``box`` (P, 6); t0 > t1 = miss."""
    return _slab6(ox, oy, oz, dx, dy, dz, box[p, 0], box[p, 1], box[p, 2], box[p, 3], box[p, 4], box[p, 5], t0, t1)


@njit(cache=True, error_model="numpy")
def _tri_t(ox, oy, oz, dx, dy, dz, tri, m, cull):
    """Ray parameter of the hit on triangle ``m`` (Moller-Trumbore); -1 on a miss. ``cull``: only
    front faces (det > 0 for triangles wound counter-clockwise seen from outside)."""
    e1x = tri[m, 3]
    e1y = tri[m, 4]
    e1z = tri[m, 5]
    e2x = tri[m, 6]
    e2y = tri[m, 7]
    e2z = tri[m, 8]
    px = dy * e2z - dz * e2y
    py = dz * e2x - dx * e2z
    pz = dx * e2y - dy * e2x
    det = e1x * px + e1y * py + e1z * pz
    if cull:
        if not det > _EPS_DET:
            return -1.0
    elif not abs(det) > _EPS_DET:
        return -1.0
    inv = 1.0 / det
    sx = ox - tri[m, 0]
    sy = oy - tri[m, 1]
    sz = oz - tri[m, 2]
    u = (sx * px + sy * py + sz * pz) * inv
    if u < 0.0 or u > 1.0:
        return -1.0
    qx = sy * e1z - sz * e1y
    qy = sz * e1x - sx * e1z
    qz = sx * e1y - sy * e1x
    v = (dx * qx + dy * qy + dz * qz) * inv
    if v < 0.0 or u + v > 1.0:
        return -1.0
    return (e2x * qx + e2y * qy + e2z * qz) * inv


@njit(cache=True, error_model="numpy")
def _part_hit(ox, oy, oz, dx, dy, dz, p, part_box, part_t0, part_t1, tri):
    """True when the ray (t > 0) meets a triangle of part p (both faces)."""
    a, b = _box_t(ox, oy, oz, dx, dy, dz, part_box, p, 0.0, _BIG)
    if a > b:
        return False
    for m in range(part_t0[p], part_t1[p]):
        if _tri_t(ox, oy, oz, dx, dy, dz, tri, m, False) > 0.0:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _cone_meets(px, py, pz, sx, sy, sz, grow, part_box, p):
    """Can a ray from p within the solar disk (centre direction s; ``grow`` = sin of its angular
    radius, slightly enlarged; 0 for the centre ray alone) meet box p? The centre ray against the
    box widened by grow times the distance to the box's far side."""
    g = 0.0
    if grow > 0.0:
        cx = 0.5 * (part_box[p, 0] + part_box[p, 1])
        cy = 0.5 * (part_box[p, 2] + part_box[p, 3])
        cz = 0.5 * (part_box[p, 4] + part_box[p, 5])
        half = 0.5 * math.sqrt((part_box[p, 1] - part_box[p, 0]) ** 2 + (part_box[p, 3] - part_box[p, 2]) ** 2
                               + (part_box[p, 5] - part_box[p, 4]) ** 2)
        g = grow * (math.sqrt((px - cx) ** 2 + (py - cy) ** 2 + (pz - cz) ** 2) + half) + 1.0e-6
    a, b = _slab6(px, py, pz, sx, sy, sz, part_box[p, 0] - g, part_box[p, 1] + g, part_box[p, 2] - g,
                  part_box[p, 3] + g, part_box[p, 4] - g, part_box[p, 5] + g, 0.0, _BIG)
    return a <= b


@njit(cache=True, error_model="numpy")
def _sun_fraction(px, py, pz, sun_dirs, mode, grow, p0, p1, part_box, part_t0, part_t1, tri):
    """Visible fraction of the solar disk from p past parts p0..p1-1: 1 or 0 (``mode`` 1, the disk
    centre), or (``mode`` 2) 0/1 when the centre and the four edge points agree, else the fraction
    of the sunflower samples that are not blocked. Parts the disk's cone cannot meet
    (:func:`_cone_meets`) are skipped."""
    sx = sun_dirs[0, 0]
    sy = sun_dirs[0, 1]
    sz = sun_dirs[0, 2]
    if mode == 1:
        for p in range(p0, p1):
            if _part_hit(px, py, pz, sx, sy, sz, p, part_box, part_t0, part_t1, tri):
                return 0.0
        return 1.0
    bits = 0
    for p in range(p0, p1):
        if not _cone_meets(px, py, pz, sx, sy, sz, grow, part_box, p):
            continue
        for k in range(5):
            if (bits >> k) & 1 == 0 and _part_hit(px, py, pz, sun_dirs[k, 0], sun_dirs[k, 1], sun_dirs[k, 2], p,
                                                  part_box, part_t0, part_t1, tri):
                bits |= 1 << k
        if bits == 31:
            return 0.0
    if bits == 0:
        return 1.0
    ns = sun_dirs.shape[0] - 5
    blocked = np.zeros(ns, np.bool_)
    nb = 0
    for p in range(p0, p1):
        if not _cone_meets(px, py, pz, sx, sy, sz, grow, part_box, p):
            continue
        for k in range(ns):
            if not blocked[k] and _part_hit(px, py, pz, sun_dirs[5 + k, 0], sun_dirs[5 + k, 1], sun_dirs[5 + k, 2],
                                            p, part_box, part_t0, part_t1, tri):
                blocked[k] = True
                nb += 1
    return (ns - nb) / ns


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def mesh_hits(rc, utab, width, height, t_img, tmax, pbox, part_box, part_t0, part_t1, tri, hit_tri, hit_t, nth):
    """Nearest front-face triangle hit of every pixel's ray in front of its terrain hit
    (``t_img``, NaN = sky, then up to ``tmax``): triangle number in ``hit_tri`` (-1 none), range in
    ``hit_t``. Object order: part p tests the pixels of its image box ``pbox[p]`` (row min, row
    max, col min, col max; empty when min > max). Rows are interleaved over the ``nth`` threads.
    Returns the number of hit pixels."""
    nhit = np.zeros(height, np.int64)
    npart = pbox.shape[0]
    per = (height + nth - 1) // nth
    for it in prange(nth * per):
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for j in range(width):
            hit_tri[i, j] = -1
        for p in range(npart):
            if i < pbox[p, 0] or i > pbox[p, 1]:
                continue
            for j in range(pbox[p, 2], pbox[p, 3] + 1):
                ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                tt = t_img[i, j]
                best = float(tt) if tt >= 0.0 else tmax
                if hit_tri[i, j] >= 0:
                    best = min(best, hit_t[i, j])
                a, b = _box_t(ox, oy, oz, dx, dy, dz, part_box, p, T_MIN_CAM, best)
                if a > b:
                    continue
                for m in range(part_t0[p], part_t1[p]):
                    t = _tri_t(ox, oy, oz, dx, dy, dz, tri, m, True)
                    if t > T_MIN_CAM and t < best:
                        best = t
                        if hit_tri[i, j] < 0:
                            nhit[i] += 1
                        hit_tri[i, j] = m
                        hit_t[i, j] = t
    return nhit.sum()


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def mesh_terrain_shadows(rc, utab, width, height, hit_tri, t_img, sbox, obj_box, obj_p0, obj_p1, sun_dirs, mode,
                         sun_radius, part_box, part_t0, part_t1, tri, lit, rad, nth):
    """The objects' cast shadows on the surface pixels (``hit_tri`` < 0, a range, lit): object o
    tests the pixels of its swept shadow box ``sbox[o]``; a pixel whose sun ray(s) meet the
    object has its lit fraction and reflectance scaled by the visible fraction of the disk
    (:func:`_sun_fraction` over the object's parts). A quick test first: the disk-centre ray
    against the object's box widened by the disk's angular radius at the box's far side."""
    if sun_dirs[0, 2] <= 0.0:
        return
    nobj = sbox.shape[0]
    sx = sun_dirs[0, 0]
    sy = sun_dirs[0, 1]
    sz = sun_dirs[0, 2]
    grow = math.sin(sun_radius) * 1.05 if mode == 2 else 0.0
    per = (height + nth - 1) // nth
    for it in prange(nth * per):
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for o in range(nobj):
            if i < sbox[o, 0] or i > sbox[o, 1]:
                continue
            cxm = 0.5 * (obj_box[o, 0] + obj_box[o, 1])
            cym = 0.5 * (obj_box[o, 2] + obj_box[o, 3])
            czm = 0.5 * (obj_box[o, 4] + obj_box[o, 5])
            half = 0.5 * math.sqrt((obj_box[o, 1] - obj_box[o, 0]) ** 2 + (obj_box[o, 3] - obj_box[o, 2]) ** 2
                                   + (obj_box[o, 5] - obj_box[o, 4]) ** 2)
            for j in range(sbox[o, 2], sbox[o, 3] + 1):
                if hit_tri[i, j] >= 0 or not (lit[i, j] > 0.0):
                    continue
                tt = t_img[i, j]
                if not (tt >= 0.0):
                    continue
                ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
                t = float(tt)
                px = ox + t * dx
                py = oy + t * dy
                pz = oz + t * dz
                g = 0.0
                if grow > 0.0:
                    g = grow * (math.sqrt((px - cxm) ** 2 + (py - cym) ** 2 + (pz - czm) ** 2) + half) + 1.0e-6
                a, b = _slab6(px, py, pz, sx, sy, sz, obj_box[o, 0] - g, obj_box[o, 1] + g, obj_box[o, 2] - g,
                              obj_box[o, 3] + g, obj_box[o, 4] - g, obj_box[o, 5] + g, 0.0, _BIG)
                if a > b:
                    continue
                f = _sun_fraction(px, py, pz, sun_dirs, mode, grow, obj_p0[o], obj_p1[o], part_box, part_t0,
                                  part_t1, tri)
                if f < 1.0:
                    lit[i, j] = lit[i, j] * f
                    rad[i, j] = rad[i, j] * f


#: hemispherical albedo of the regolith that lights the vehicles from below: UNCONFIRMED 0.10, between
#: the Moon's Bond albedo 0.067 and its visual geometric albedo 0.12 (NSSDC, docs/references.md 7.5)
GROUND_ALBEDO = 0.10

#: spacing (body frame, metres) of the seeds of a crinkled foil's small facets and of its folds:
#: each is a 3-D Voronoi cell of a jittered lattice (crumpled foil breaks into irregular polygonal
#: facets a few cm across on folds of a decimetre or so; UNCONFIRMED, chosen for the look of the
#: CE-4 PCAM portrait of the lander, ce4_pcaml_C-006)
CRINKLE_CELL_M = 0.03
CRINKLE_FOLD_M = 0.12
#: share of the crinkle tilt carried by the folds (the rest by the facets)
CRINKLE_FOLD_SHARE = 0.6
_U53 = 1.0 / 9007199254740992.0


@njit(cache=True, error_model="numpy")
def _voronoi_cell(bx, by, bz, cell, salt):
    """Hash (uint64) of the Voronoi cell holding body point (bx, by, bz): the seeds are one per
    lattice cube of side ``cell``, jittered inside it by a hash of the cube; the nearest of the 27
    around the point wins."""
    fx = bx / cell
    fy = by / cell
    fz = bz / cell
    ix = np.int64(math.floor(fx))
    iy = np.int64(math.floor(fy))
    iz = np.int64(math.floor(fz))
    best = 1e300
    hbest = np.uint64(0)
    for a in range(-1, 2):
        for b in range(-1, 2):
            for c in range(-1, 2):
                cx = ix + a
                cy = iy + b
                cz = iz + c
                h = (np.uint64(cx & np.int64(0xFFFFF)) | (np.uint64(cy & np.int64(0xFFFFF)) << np.uint64(20))
                     | (np.uint64(cz & np.int64(0xFFFFF)) << np.uint64(40)))
                h = _mix64(h ^ salt)
                g1 = _mix64(h ^ np.uint64(0x632BE59BD9B4E019))
                g2 = _mix64(g1 ^ np.uint64(0x8CB92BA72F3D8DD7))
                ox = cx + float(h >> np.uint64(11)) * _U53
                oy = cy + float(g1 >> np.uint64(11)) * _U53
                oz = cz + float(g2 >> np.uint64(11)) * _U53
                d = (fx - ox) ** 2 + (fy - oy) ** 2 + (fz - oz) ** 2
                if d < best:
                    best = d
                    hbest = h
    return hbest


@njit(cache=True, error_model="numpy")
def _crinkle(bx, by, bz, tri_id):
    """Tilt (t1, t2) of a crinkled foil's shading normal, in units of the material's tilt, along
    the face's two tangent axes: the sum of a fold's tilt (constant over a CRINKLE_FOLD_M Voronoi
    cell of the body frame) and a facet's (CRINKLE_CELL_M cells), each in a uniformly random
    direction with a magnitude uniform in area on the unit disk; different per triangle, so the
    facets of two faces meeting at an edge differ."""
    salt = np.uint64(tri_id) * np.uint64(0x9E3779B97F4A7C15)
    t1 = 0.0
    t2 = 0.0
    for lev in range(2):
        cell = CRINKLE_FOLD_M if lev == 0 else CRINKLE_CELL_M
        w = CRINKLE_FOLD_SHARE if lev == 0 else 1.0 - CRINKLE_FOLD_SHARE
        h = _voronoi_cell(bx, by, bz, cell, salt ^ np.uint64(0xD1B54A32D192ED03 + lev))
        u1 = float(_mix64(h ^ np.uint64(0x94D049BB133111EB)) >> np.uint64(11)) * _U53
        u2 = float(_mix64(h ^ np.uint64(0xBF58476D1CE4E5B9)) >> np.uint64(11)) * _U53
        r = w * math.sqrt(u2)
        t1 += r * math.cos(2.0 * math.pi * u1)
        t2 += r * math.sin(2.0 * math.pi * u1)
    return t1, t2


@njit(cache=True, error_model="numpy")
def _brdf_band(mat, k, b, mu0, nh):
    """Reflectance r = f_r * mu0 (1/sr) in band b of material row ``mat[k]`` (kd_r, kd_g, kd_b,
    ks_r, ks_g, ks_b, shininess): Lambert kd / pi plus the normalised Blinn-Phong lobe
    ks (n + 8) / (8 pi) (n.h)^n."""
    n = mat[k, 6]
    spec = 0.0
    if nh > 0.0:
        spec = mat[k, 3 + b] * (n + 8.0) / (8.0 * math.pi) * nh ** n
    return (mat[k, b] / math.pi + spec) * mu0


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def shade_mesh(rc, utab, width, height, hit_tri, hit_t, sun_dirs, mode, margin, use_margin, x0, y0, res, sun_radius,
               part_box, part_t0, part_t1, tri, nrm, tri_mat, tri_obj, obj_ids, obj_pos, obj_rot, mat, full, t_img,
               rad, tint, inc, emi,
               pha, lit, nrm_out, pts, obj_layer, nth):
    """Shade the object pixels (``hit_tri`` >= 0): range, point, face normal, angles; sunlit
    fraction = the terrain's (sun-margin map at the ground point under the hit, ``use_margin``)
    times the objects' (shadow rays to the Sun against every part, :func:`_sun_fraction`);
    reflectance = the mean of the R, G, B reflectances of the material, ``tint`` their ratios to it;
    ``obj_layer`` the object's id. Materials with a crinkle (``mat[k, 7]`` > 0 rad) shade with the
    face normal tilted by up to that angle (:func:`_crinkle`: the Voronoi folds and facets of
    crumpled foil, in the body frame); the geometric layers keep the face normal. Every face seen also gets
    the diffuse light of the sunlit ground below it (``GROUND_ALBEDO``; no shadows on the ground
    counted), so the vehicles' shadowed sides are dim, not black."""
    sx = sun_dirs[0, 0]
    sy = sun_dirs[0, 1]
    sz = sun_dirs[0, 2]
    grow = math.sin(sun_radius) * 1.05
    npart = part_box.shape[0]
    per = (height + nth - 1) // nth
    for it in prange(nth * per):
        i = it // per + (it % per) * nth
        if i >= height:
            continue
        for j in range(width):
            m = hit_tri[i, j]
            if m < 0:
                continue
            ox, oy, oz, dx, dy, dz = _ray(i, j, rc, utab)
            t = hit_t[i, j]
            px = ox + t * dx
            py = oy + t * dy
            pz = oz + t * dz
            nx = nrm[m, 0]
            ny = nrm[m, 1]
            nz = nrm[m, 2]
            mu0 = nx * sx + ny * sy + nz * sz
            mu = -(nx * dx + ny * dy + nz * dz)
            cosg = -(sx * dx + sy * dy + sz * dz)
            f = 1.0
            if mode > 0:
                if sz <= 0.0:
                    f = 0.0
                else:       # (a face turned away from the Sun: its own solid blocks the ray, f = 0)
                    if use_margin:
                        mg = surface_height_rc(margin, (y0 - py) / res - 0.5, (px - x0) / res - 0.5)
                        if mode == 1:
                            f = 1.0 if mg > 0.0 else 0.0
                        else:
                            d = mg / sun_radius
                            if d >= 1.0:
                                f = 1.0
                            elif d <= -1.0:
                                f = 0.0
                            else:
                                f = 1.0 - (math.acos(d) - d * math.sqrt(1.0 - d * d)) / math.pi
                    if f > 0.0:
                        f *= _sun_fraction(px + SHADOW_OFFSET_M * nx, py + SHADOW_OFFSET_M * ny,
                                           pz + SHADOW_OFFSET_M * nz, sun_dirs, mode, grow, 0, npart, part_box,
                                           part_t0, part_t1, tri)
            k = tri_mat[m]
            r0 = 0.0
            r1 = 0.0
            r2 = 0.0
            if f > 0.0 and mu0 > 0.0 and mu > 0.0:
                snx = nx
                sny = ny
                snz = nz
                amp = mat[k, 7]
                if amp > 0.0:
                    o = tri_obj[m]
                    qx = px - obj_pos[o, 0]
                    qy = py - obj_pos[o, 1]
                    qz = pz - obj_pos[o, 2]
                    bx = obj_rot[o, 0, 0] * qx + obj_rot[o, 1, 0] * qy + obj_rot[o, 2, 0] * qz
                    by = obj_rot[o, 0, 1] * qx + obj_rot[o, 1, 1] * qy + obj_rot[o, 2, 1] * qz
                    bz = obj_rot[o, 0, 2] * qx + obj_rot[o, 1, 2] * qy + obj_rot[o, 2, 2] * qz
                    g1, g2 = _crinkle(bx, by, bz, m)
                    # tangent basis of the face
                    if abs(nz) < 0.9:
                        ax, ay, az = 0.0, 0.0, 1.0
                    else:
                        ax, ay, az = 1.0, 0.0, 0.0
                    t1x = ay * nz - az * ny
                    t1y = az * nx - ax * nz
                    t1z = ax * ny - ay * nx
                    tn = math.sqrt(t1x * t1x + t1y * t1y + t1z * t1z)
                    t1x /= tn
                    t1y /= tn
                    t1z /= tn
                    t2x = ny * t1z - nz * t1y
                    t2y = nz * t1x - nx * t1z
                    t2z = nx * t1y - ny * t1x
                    a = amp * math.sqrt(g1 * g1 + g2 * g2)
                    ph = math.atan2(g2, g1)
                    ca = math.cos(a)
                    sa = math.sin(a)
                    cx = ca * nx + sa * (math.cos(ph) * t1x + math.sin(ph) * t2x)
                    cy = ca * ny + sa * (math.cos(ph) * t1y + math.sin(ph) * t2y)
                    cz = ca * nz + sa * (math.cos(ph) * t1z + math.sin(ph) * t2z)
                    if -(cx * dx + cy * dy + cz * dz) > 0.0:
                        snx = cx
                        sny = cy
                        snz = cz
                smu0 = snx * sx + sny * sy + snz * sz
                if smu0 > 0.0:
                    hx = sx - dx
                    hy = sy - dy
                    hz = sz - dz
                    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
                    nh = (snx * hx + sny * hy + snz * hz) / hn if hn > 0.0 else 0.0
                    r0 = f * _brdf_band(mat, k, 0, smu0, nh)
                    r1 = f * _brdf_band(mat, k, 1, smu0, nh)
                    r2 = f * _brdf_band(mat, k, 2, smu0, nh)
            if sz > 0.0 and mu > 0.0 and nz < 1.0:
                # light from the sunlit ground: a level Lambertian plane of albedo GROUND_ALBEDO lit at
                # cos(i) = sz irradiates a face with view factor (1 - n_z) / 2
                amb = GROUND_ALBEDO * sz * 0.5 * (1.0 - nz) / math.pi
                r0 += mat[k, 0] * amb
                r1 += mat[k, 1] * amb
                r2 += mat[k, 2] * amb
            rm = (r0 + r1 + r2) / 3.0
            rad[i, j] = rm
            if rm > 0.0:
                tint[i, j, 0] = r0 / rm
                tint[i, j, 1] = r1 / rm
                tint[i, j, 2] = r2 / rm
            t_img[i, j] = t
            obj_layer[i, j] = obj_ids[tri_obj[m]]
            _write_geom(i, j, f, mu0, mu, cosg, nx, ny, nz, px, py, pz, full, inc, emi, pha, lit, nrm_out, pts)
