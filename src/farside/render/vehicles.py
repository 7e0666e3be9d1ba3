"""Vehicles as scene objects: the Chang'e-4 lander and the Yutu-2 rover as triangle meshes.

A :class:`Mesh` is a closed triangle mesh in its *body frame* (x forward, y left, z up, metres,
origin on the ground under the body centre), every triangle wound counter-clockwise seen from
outside, with a material and a named part per triangle. :func:`place` puts a mesh into site ENU
as a :class:`SceneObject`; ``render(..., objects=[...])`` draws the objects over the terrain (see
:func:`apply_objects` for the pass and its approximations).

Heading, pitch and roll (:func:`place`): the body's x axis points to azimuth ``heading_rad``
(0 = north, clockwise toward east, like the cameras' pan); ``pitch_rad`` > 0 raises the nose,
``roll_rad`` > 0 raises the left side; the rotation is heading, then pitch, then roll (intrinsic).

Materials (:data:`MATERIALS`; all parameters UNCONFIRMED, chosen for the look of the Chang'e-4
PCAM/TCAM previews): BRDF f_r = kd / pi + ks (n + 8) / (8 pi) (n.h)^n per band R, G, B
(Lambert plus the energy-normalised Blinn-Phong lobe, Akenine-Moller, Haines & Hoffman, *Real-Time
Rendering* 3rd ed., s. 7.6), reflectance r = f_r cos i (the renderer's layer: radiance = r E_band).
The multilayer-insulation foils are crumpled: their shading normal is tilted by up to
``bump_rad`` (0.25 rad for the foils) in a random direction, the sum of a fold's tilt (constant
over a 3-D Voronoi cell of a jittered 12 cm lattice of the body frame) and a facet's (3 cm
lattice), a deterministic hash of the cells (``_kernels_mesh._crinkle``). A flat face breaks into
irregular polygonal facets with their own glints, as crumpled foil does; the geometric layers keep
the face normal. (Until issue 14's third session the cells were the cubes of a 3 cm lattice with
a 0.06 rad tilt and a Blinn-Phong exponent of 30: the lander's portrait showed the foil as a
blocky mosaic of squares; now the exponent is 60.) The frame's scalar reflectance is the mean of the three band
reflectances, and colour cameras get each band's ratio to it (so gold foil is red-yellow
and regolith stays neutral).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numba
import numpy as np

from farside.errors import invalid
from farside.render import _kernels_mesh as KM
from farside.render._kernels_rays import _ray_consts
from farside.render.scene import BLOCK

__all__ = [
    "LANDER_DIMENSIONS_M",
    "MATERIALS",
    "ROVER_DIMENSIONS_M",
    "Material",
    "Mesh",
    "SceneObject",
    "box_mesh",
    "ce4_lander",
    "place",
    "yutu2_rover",
]


# ---------------------------------------------------------------------------------------------
# materials
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Material:
    """A vehicle surface: Lambert albedo ``diffuse_rgb`` and Blinn-Phong specular reflectance
    ``specular_rgb`` (R, G, B), lobe exponent ``shininess``, crinkle tilt ``bump_rad`` (see the
    module docstring). Every value is UNCONFIRMED."""

    name: str
    diffuse_rgb: tuple
    specular_rgb: tuple
    shininess: float
    bump_rad: float = 0.0

    def row(self) -> np.ndarray:
        return np.array([*self.diffuse_rgb, *self.specular_rgb, self.shininess, self.bump_rad], np.float64)


#: The vehicle materials (UNCONFIRMED values; gold: Kapton-on-aluminium MLI, strong red, weak
#: blue; silver: aluminised MLI; solar cells: dark blue with a sharp glint). The foils' lobe
#: exponent (60) and crumple tilt (0.25 rad) were chosen by eye against the CE-4 PCAM portrait of
#: the lander (ce4_pcaml_C-006): contrasty facets with glints, not a uniform sheen.
MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("gold_foil", (0.30, 0.19, 0.05), (0.85, 0.58, 0.20), 60.0, 0.25),
    Material("silver_foil", (0.30, 0.30, 0.30), (0.75, 0.75, 0.75), 60.0, 0.25),
    Material("white_paint", (0.80, 0.80, 0.78), (0.04, 0.04, 0.04), 10.0),
    Material("grey_paint", (0.35, 0.35, 0.35), (0.04, 0.04, 0.04), 10.0),
    Material("solar_cell", (0.04, 0.05, 0.10), (0.25, 0.25, 0.25), 300.0),
    Material("wheel_metal", (0.45, 0.45, 0.44), (0.25, 0.25, 0.25), 20.0),
    Material("black", (0.04, 0.04, 0.04), (0.04, 0.04, 0.04), 30.0),
)}
_MATERIAL_NAMES = tuple(MATERIALS)
_MATERIAL_TABLE = np.stack([MATERIALS[n].row() for n in _MATERIAL_NAMES])


# ---------------------------------------------------------------------------------------------
# Mesh
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Mesh:
    """A closed triangle mesh in its body frame (x forward, y left, z up, metres; origin on the
    ground under the body centre).

    Attributes
    ----------
    vertices : (N, 3) float64
    triangles : (M, 3) int32
        Vertex indices, counter-clockwise seen from outside (camera rays see front faces only).
    materials : tuple of str
        Material names (keys of :data:`MATERIALS`) used by the mesh.
    triangle_material : (M,) int32
        Index into ``materials`` per triangle.
    parts : tuple of str
        Part names; each part gets its own bounding box for culling.
    triangle_part : (M,) int32
        Index into ``parts`` per triangle.
    name : str
    notes : tuple of str
        Assumptions (UNCONFIRMED dimensions) and sources.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    materials: tuple
    triangle_material: np.ndarray
    parts: tuple = ("body",)
    triangle_part: np.ndarray | None = None
    name: str = "mesh"
    notes: tuple = ()

    def __post_init__(self) -> None:
        try:
            v = np.array(self.vertices, dtype=np.float64)
        except (TypeError, ValueError):
            raise invalid("mesh.vertices", type(self.vertices).__name__, "an (N, 3) array of numbers") from None
        if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 3:
            raise invalid("mesh.vertices.shape", v.shape, "(N, 3) with N >= 3")
        if not np.all(np.isfinite(v)):
            raise invalid("mesh.vertices", "contains NaN/inf", "finite coordinates (metres)")
        try:
            t = np.array(self.triangles)
        except (TypeError, ValueError):
            raise invalid("mesh.triangles", type(self.triangles).__name__, "an (M, 3) integer array") from None
        if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] < 1:
            raise invalid("mesh.triangles.shape", t.shape, "(M, 3) with M >= 1 (a mesh needs triangles)")
        if not np.issubdtype(t.dtype, np.integer):
            raise invalid("mesh.triangles.dtype", str(t.dtype), "integers (vertex indices)")
        if t.min() < 0 or t.max() >= v.shape[0]:
            raise invalid("mesh.triangles", f"indices {int(t.min())}..{int(t.max())}",
                          f"vertex indices in [0, {v.shape[0] - 1}]")
        t = t.astype(np.int32)
        area2 = np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)
        if not np.all(area2 > 1e-12):
            k = int(np.argmin(area2 > 1e-12))
            raise invalid(f"mesh.triangles[{k}]", t[k].tolist(), "a triangle of non-zero area")
        mats = tuple(self.materials) if isinstance(self.materials, (tuple, list)) else (self.materials,)
        for m in mats:
            if m not in MATERIALS:
                raise invalid("mesh.materials", m, "one of " + ", ".join(_MATERIAL_NAMES))
        tm = np.asarray(self.triangle_material)
        if tm.shape != (t.shape[0],) or not np.issubdtype(tm.dtype, np.integer) or tm.min() < 0 \
                or tm.max() >= len(mats):
            raise invalid("mesh.triangle_material", f"shape {tm.shape}",
                          f"one integer per triangle in [0, {len(mats) - 1}]")
        parts = tuple(self.parts)
        if not parts or not all(isinstance(p, str) for p in parts):
            raise invalid("mesh.parts", parts, "a non-empty tuple of part names")
        tp = np.zeros(t.shape[0], np.int32) if self.triangle_part is None else np.asarray(self.triangle_part)
        if tp.shape != (t.shape[0],) or not np.issubdtype(tp.dtype, np.integer) or tp.min() < 0 \
                or tp.max() >= len(parts):
            raise invalid("mesh.triangle_part", f"shape {tp.shape}", f"one integer per triangle in [0, {len(parts) - 1}]")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t)
        object.__setattr__(self, "materials", mats)
        object.__setattr__(self, "triangle_material", tm.astype(np.int32))
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "triangle_part", tp.astype(np.int32))
        for name in ("vertices", "triangles", "triangle_material", "triangle_part"):
            getattr(self, name).flags.writeable = False    # shared by the cached builders

    @property
    def n_triangles(self) -> int:
        return int(self.triangles.shape[0])

    def bounds(self) -> np.ndarray:
        """(2, 3) min and max corner of the vertices (body frame)."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    def face_normals(self) -> np.ndarray:
        """(M, 3) unit normals (right-hand rule on the winding: outward)."""
        v, t = self.vertices, self.triangles
        n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
        return n / np.linalg.norm(n, axis=1, keepdims=True)


class _Builder:
    """Accumulates convex primitives; each triangle is oriented outward from its solid's centroid."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.v: list[np.ndarray] = []
        self.t: list[np.ndarray] = []
        self.mat: list[int] = []
        self.part: list[int] = []
        self.materials: list[str] = []
        self.parts: list[str] = []
        self.nv = 0

    def _index(self, lst: list, name: str) -> int:
        if name not in lst:
            lst.append(name)
        return lst.index(name)

    def solid(self, verts, faces, centre, part: str, materials) -> None:
        """Add a convex solid: ``faces`` lists of vertex indices (convex polygons, fanned);
        ``materials`` one name or one per face."""
        verts = np.asarray(verts, float)
        centre = np.asarray(centre, float)
        p = self._index(self.parts, part)
        mats = [materials] * len(faces) if isinstance(materials, str) else list(materials)
        for face, mname in zip(faces, mats):
            m = self._index(self.materials, mname)
            for k in range(1, len(face) - 1):
                a, b, c = face[0], face[k], face[k + 1]
                n = np.cross(verts[b] - verts[a], verts[c] - verts[a])
                if np.dot(n, (verts[a] + verts[b] + verts[c]) / 3.0 - centre) < 0:
                    b, c = c, b
                self.t.append(np.array([a, b, c]) + self.nv)
                self.mat.append(m)
                self.part.append(p)
        self.v.append(verts)
        self.nv += len(verts)

    def box(self, centre, size, part: str, materials, axes=None) -> None:
        """Box of full ``size`` (along the columns of ``axes``, default body x, y, z);
        ``materials``: one name or six (-x, +x, -y, +y, -z, +z faces)."""
        ax = np.eye(3) if axes is None else np.asarray(axes, float)
        c = np.asarray(centre, float)
        h = 0.5 * np.asarray(size, float)
        verts = np.array([c + ax @ (h * np.array([sx, sy, sz])) for sx in (-1, 1) for sy in (-1, 1)
                          for sz in (-1, 1)])
        idx = lambda sx, sy, sz: (sx > 0) * 4 + (sy > 0) * 2 + (sz > 0)
        faces = [[idx(-1, -1, -1), idx(-1, 1, -1), idx(-1, 1, 1), idx(-1, -1, 1)],
                 [idx(1, -1, -1), idx(1, 1, -1), idx(1, 1, 1), idx(1, -1, 1)],
                 [idx(-1, -1, -1), idx(1, -1, -1), idx(1, -1, 1), idx(-1, -1, 1)],
                 [idx(-1, 1, -1), idx(1, 1, -1), idx(1, 1, 1), idx(-1, 1, 1)],
                 [idx(-1, -1, -1), idx(1, -1, -1), idx(1, 1, -1), idx(-1, 1, -1)],
                 [idx(-1, -1, 1), idx(1, -1, 1), idx(1, 1, 1), idx(-1, 1, 1)]]
        self.solid(verts, faces, c, part, materials)

    def beam(self, p0, p1, width: float, depth: float, part: str, materials) -> None:
        """Rectangular beam from ``p0`` to ``p1``, ``width`` horizontal across it, ``depth`` in the
        remaining direction."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        d = p1 - p0
        ln = np.linalg.norm(d)
        a = d / ln
        ref = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        b = np.cross(ref, a)
        b /= np.linalg.norm(b)
        c = np.cross(a, b)
        self.box((p0 + p1) / 2, (ln, width, depth), part, materials, axes=np.column_stack([a, b, c]))

    def frustum(self, p0, p1, r0: float, r1: float, n: int, part: str, materials, phase: float = 0.0) -> None:
        """Capped cylinder / cone frustum from ``p0`` (radius r0) to ``p1`` (radius r1), ``n``
        sides; ``materials``: one name or (side, cap at p0, cap at p1)."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        a = (p1 - p0) / np.linalg.norm(p1 - p0)
        ref = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        b = np.cross(ref, a)
        b /= np.linalg.norm(b)
        c = np.cross(a, b)
        ang = phase + 2 * np.pi * np.arange(n) / n
        ring = np.cos(ang)[:, None] * b + np.sin(ang)[:, None] * c
        verts = np.concatenate([p0 + r0 * ring, p1 + r1 * ring])
        faces = [[k, (k + 1) % n, n + (k + 1) % n, n + k] for k in range(n)]
        faces += [list(range(n)), list(range(n, 2 * n))]
        if isinstance(materials, str):
            mats = [materials] * (n + 2)
        else:
            mats = [materials[0]] * n + [materials[1], materials[2]]
        self.solid(verts, faces, (p0 + p1) / 2, part, mats)

    def prism(self, polygon_xy, z0: float, z1: float, part: str, materials) -> None:
        """Vertical prism over a convex polygon (counter-clockwise xy), ``materials`` one name or
        (sides, bottom, top)."""
        poly = np.asarray(polygon_xy, float)
        n = len(poly)
        verts = np.concatenate([np.column_stack([poly, np.full(n, z0)]), np.column_stack([poly, np.full(n, z1)])])
        faces = [[k, (k + 1) % n, n + (k + 1) % n, n + k] for k in range(n)]
        faces += [list(range(n)), list(range(n, 2 * n))]
        mats = [materials] * (n + 2) if isinstance(materials, str) else [materials[0]] * n + list(materials[1:])
        self.solid(verts, faces, (*poly.mean(axis=0), 0.5 * (z0 + z1)), part, mats)

    def mesh(self, notes=()) -> Mesh:
        return Mesh(vertices=np.concatenate(self.v), triangles=np.array(self.t, np.int32),
                    materials=tuple(self.materials), triangle_material=np.array(self.mat, np.int32),
                    parts=tuple(self.parts), triangle_part=np.array(self.part, np.int32), name=self.name,
                    notes=tuple(notes))


def box_mesh(length_m: float, width_m: float, height_m: float, *, material: str = "white_paint",
             z0_m: float = 0.0) -> Mesh:
    """A box ``length_m`` (x) by ``width_m`` (y) by ``height_m`` (z), centred on the body origin
    horizontally, from ``z0_m`` up (a test object)."""
    for nm, val in (("length_m", length_m), ("width_m", width_m), ("height_m", height_m)):
        if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
            raise invalid(nm, val, "a finite size > 0 m")
    if material not in MATERIALS:
        raise invalid("material", material, "one of " + ", ".join(_MATERIAL_NAMES))
    b = _Builder("box")
    b.box((0.0, 0.0, z0_m + 0.5 * height_m), (length_m, width_m, height_m), "box", material)
    return b.mesh()


# ---------------------------------------------------------------------------------------------
# the vehicles
# ---------------------------------------------------------------------------------------------
#: Lander dimensions (metres, body frame). All UNCONFIRMED (no published drawing was found;
#: REFERENCE.md has no lander dimensions): chosen to look like the CE-3/CE-4 lander in the
#: PCAM portrait ``ce4_pcaml_C-006`` (body a little over 2 m high on four splayed legs, mast and
#: TCAM head above the top deck), except the TCAM height, which is
#: :data:`farside.render.camera.TCAM_MAST_HEIGHT_M` (2.6 m, itself UNCONFIRMED).
LANDER_DIMENSIONS_M = {
    "body_across_flats": 2.5,        # octagonal body (a square 2.5 m across with 0.45 m chamfers)
    "body_chamfer": 0.45,
    "body_bottom": 0.75,             # underside of the body above the ground
    "top_deck": 2.0,                 # top deck above the ground
    "footpad_radius_from_centre": 2.1,   # footpad centres on the diagonals
    "footpad_radius": 0.22,
    "footpad_height": 0.08,
    "leg_radius": 0.07,
    "panel_length": 1.2,             # solar panels, x
    "panel_span": 1.5,               # out from the body side, y
    "panel_tilt_deg": 20.0,
    "ramp_length_on_ground": 2.1,    # rails reach the ground this far in front of the body
    "ramp_rail_spacing": 1.0,        # = the rover's track (vehicle.py YUTU2 wheel_xy_m)
    "mast_top": 2.5,
    "tcam_head_centre": 2.6,         # farside.render.camera.TCAM_MAST_HEIGHT_M
    "mast_xy": (-1.05, 0.0),         # the mast at the deck's rear edge, between the panels' hinges (the
                                     # panorama sees the ground behind, the deck and the ramp ahead)
}

#: Rover dimensions (metres, body frame). Overall 1.5 x 1.0 x 1.1 m (REFERENCE.md s.3, NSSDC; the
#: stowed envelope); wheels, track, wheelbase and pivots from farside.rover.vehicle.YUTU2 (wheel
#: diameter 0.30, width 0.15, wheels at x = -0.5, 0, 0.5 and y = +-0.5, rocker pivot 0.45 m and
#: bogie pivot 0.30 m above the axles, at x = 0 and -0.25; belly 0.30 m; all UNCONFIRMED there);
#: PCAM head 1.5 m above the ground (REFERENCE.md 4.3, Xinhua); body box and solar wings
#: UNCONFIRMED (wing area 1.5 m^2 in all, vehicle.py's solar_area_m2).
ROVER_DIMENSIONS_M = {
    "wheel_diameter": 0.30,
    "wheel_width": 0.15,
    "wheel_x": (0.5, 0.0, -0.5),
    "track": 1.0,
    "rocker_pivot": (0.0, 0.45),     # (x, height above the axle)
    "bogie_pivot": (-0.25, 0.30),
    "belly": 0.30,
    "body_length": 1.1,
    "body_width": 0.66,
    "body_top": 0.80,
    "wing_length": 1.1,
    "wing_span": 0.68,
    "wing_tilt_deg": 20.0,
    "pcam_head_centre": 1.5,
    "pcam_head_width": 0.45,         # holds the 0.27 m stereo baseline
}


@functools.lru_cache(maxsize=2)
def ce4_lander(*, tcam_head: bool = True) -> Mesh:
    """The Chang'e-4 lander (dimensions :data:`LANDER_DIMENSIONS_M`, all UNCONFIRMED): an
    octagonal body in gold foil (silver top deck), four white radiator boxes on its sides, the
    engine nozzle, four splayed legs (main strut, two side struts, footpad), two solar panels
    hinged at the top of the +-y sides, the rover ramp (two rails down to the ground in front, +x)
    and the TCAM mast with its camera head at 2.6 m. ~1,000 triangles.

    Built once per ``tcam_head`` and shared (a Mesh is immutable: frozen, read-only arrays).
    """
    d = LANDER_DIMENSIONS_M
    b = _Builder("Chang'e-4 lander")
    h = 0.5 * d["body_across_flats"]
    c = h - d["body_chamfer"]
    oct_xy = [(h, -c), (h, c), (c, h), (-c, h), (-h, c), (-h, -c), (-c, -h), (c, -h)]
    z0, z1 = d["body_bottom"], d["top_deck"]
    b.prism(oct_xy, z0, z1, "body", ("gold_foil", "gold_foil", "silver_foil"))
    # radiator / instrument boxes on the +-y flats
    for s in (-1, 1):
        for x in (-0.45, 0.45):
            b.box((x, s * (h + 0.08), 0.5 * (z0 + z1) + 0.1), (0.6, 0.16, 0.8), f"radiator_{'l' if s > 0 else 'r'}"
                  f"{'f' if x > 0 else 'a'}", "white_paint")
    # engine nozzle
    b.frustum((0, 0, z0), (0, 0, 0.35), 0.22, 0.38, 16, "engine", ("wheel_metal", "wheel_metal", "black"))
    # legs
    rf = d["footpad_radius_from_centre"]
    for k, az in enumerate((45.0, 135.0, 225.0, 315.0)):
        u = np.array([math.cos(math.radians(az)), math.sin(math.radians(az)), 0.0])
        w = np.array([-u[1], u[0], 0.0])
        pad = rf * u
        part = f"leg_{k + 1}"
        b.frustum(pad + [0, 0, 0], pad + [0, 0, d["footpad_height"]], d["footpad_radius"],
                  0.8 * d["footpad_radius"], 14, part, "silver_foil")
        top = 0.95 * math.hypot(c, c) * u + [0, 0, z0 + 0.35]
        foot = pad + [0, 0, d["footpad_height"]]
        b.frustum(top, foot, d["leg_radius"], 0.8 * d["leg_radius"], 10, part, "gold_foil")
        for s in (-1, 1):
            anchor = 0.8 * math.hypot(c, c) * u + s * 0.55 * w + [0, 0, z0 + 0.02]
            b.frustum(anchor, foot + 0.1 * (anchor - foot) / np.linalg.norm(anchor - foot), 0.035, 0.035, 8,
                      part, "wheel_metal")
    # solar panels: hinged at the top of the +-y flats, tilted up by panel_tilt_deg
    tilt = math.radians(d["panel_tilt_deg"])
    for s, nm in ((1, "panel_left"), (-1, "panel_right")):
        out = np.array([0.0, s * math.cos(tilt), math.sin(tilt)])
        nrm = np.array([0.0, -s * math.sin(tilt), math.cos(tilt)])
        hinge = np.array([0.0, s * (h + 0.02), z1 - 0.05])
        centre = hinge + 0.5 * d["panel_span"] * out
        axes = np.column_stack([[1.0, 0.0, 0.0], out, nrm])
        if s < 0:
            axes = np.column_stack([[-1.0, 0.0, 0.0], out, nrm])
        b.box(centre, (d["panel_length"], d["panel_span"], 0.035), nm,
              ["grey_paint", "grey_paint", "grey_paint", "grey_paint", "white_paint", "solar_cell"], axes=axes)
    # rover ramp: two rails from the front edge of the top deck to the ground
    x_end = h + d["ramp_length_on_ground"]
    for s, nm in ((1, "ramp_left"), (-1, "ramp_right")):
        y = s * 0.5 * d["ramp_rail_spacing"]
        b.beam((h - 0.3, y, z1 + 0.02), (x_end, y, 0.05), 0.12, 0.06, nm, "silver_foil")
    # TCAM mast and camera head (the head's centre at the TCAM height)
    hc = d["tcam_head_centre"]
    mx, my = d["mast_xy"]
    b.frustum((mx, my, z1), (mx, my, d["mast_top"]), 0.04, 0.04, 10, "mast", "white_paint")
    if tcam_head:       # left out for views from the TCAM itself (the camera does not see its own head)
        b.box((mx, my, hc), (0.22, 0.28, 0.2), "tcam_head", "white_paint")
        b.box((mx + 0.13, my, hc), (0.04, 0.1, 0.1), "tcam_head", "black")
    notes = (("all lander dimensions UNCONFIRMED (LANDER_DIMENSIONS_M); TCAM head at "
             "farside.render.camera.TCAM_MAST_HEIGHT_M = 2.6 m (UNCONFIRMED)"),
             "materials UNCONFIRMED (farside.render.vehicles.MATERIALS)")
    return b.mesh(notes)


@functools.lru_cache(maxsize=1)
def yutu2_rover() -> Mesh:
    """The Yutu-2 rover (dimensions :data:`ROVER_DIMENSIONS_M`): a gold-foil body box with a
    silver top, six wheels (cylinders, axles along y) on rocker-bogie links, two solar wings at
    the top of the +-y sides, the mast at the front and the PCAM head at 1.5 m. ~700 triangles.

    Built once and shared (a Mesh is immutable: frozen, read-only arrays).
    """
    d = ROVER_DIMENSIONS_M
    b = _Builder("Yutu-2")
    r = 0.5 * d["wheel_diameter"]
    ww = d["wheel_width"]
    yw = 0.5 * d["track"]
    for s in (1, -1):
        side = "l" if s > 0 else "r"
        for k, x in enumerate(d["wheel_x"]):
            b.frustum((x, s * (yw - 0.5 * ww), r), (x, s * (yw + 0.5 * ww), r), r, r, 16, f"wheel_{side}{k}",
                      "wheel_metal")
        ylink = s * (yw - 0.5 * ww - 0.04)
        rock = (d["rocker_pivot"][0], ylink, r + d["rocker_pivot"][1])
        bog = (d["bogie_pivot"][0], ylink, r + d["bogie_pivot"][1])
        front = (d["wheel_x"][0], ylink, r)
        mid = (d["wheel_x"][1], ylink, r)
        rear = (d["wheel_x"][2], ylink, r)
        part = f"suspension_{side}"
        b.beam(front, rock, 0.04, 0.04, part, "wheel_metal")
        b.beam(rock, bog, 0.04, 0.04, part, "wheel_metal")
        b.beam(bog, mid, 0.04, 0.04, part, "wheel_metal")
        b.beam(bog, rear, 0.04, 0.04, part, "wheel_metal")
        b.beam(rock, (0.0, s * 0.5 * d["body_width"], r + d["rocker_pivot"][1]), 0.04, 0.04, part, "wheel_metal")
    L, W = d["body_length"], d["body_width"]
    zb, zt = d["belly"], d["body_top"]
    b.box((0.0, 0.0, 0.5 * (zb + zt)), (L, W, zt - zb), "body",
          ["gold_foil", "gold_foil", "gold_foil", "gold_foil", "gold_foil", "silver_foil"])
    tilt = math.radians(d["wing_tilt_deg"])
    for s, nm in ((1, "wing_left"), (-1, "wing_right")):
        out = np.array([0.0, s * math.cos(tilt), math.sin(tilt)])
        nrm = np.array([0.0, -s * math.sin(tilt), math.cos(tilt)])
        hinge = np.array([-0.05, s * 0.5 * W, zt - 0.02])
        axes = np.column_stack([[s * 1.0, 0.0, 0.0], out, nrm])
        b.box(hinge + 0.5 * d["wing_span"] * out, (d["wing_length"], d["wing_span"], 0.025), nm,
              ["grey_paint", "grey_paint", "grey_paint", "grey_paint", "white_paint", "solar_cell"], axes=axes)
    hc = d["pcam_head_centre"]
    xm = 0.5 * L - 0.1
    b.frustum((xm, 0.0, zt), (xm, 0.0, hc - 0.06), 0.03, 0.03, 10, "mast", "white_paint")
    b.box((xm, 0.0, hc), (0.1, d["pcam_head_width"], 0.12), "pcam_head", "white_paint")
    for s in (1, -1):
        b.box((xm + 0.06, s * 0.135, hc), (0.03, 0.06, 0.06), "pcam_head", "black")
    notes = (("overall 1.5 x 1.0 x 1.1 m (REFERENCE.md s.3, NSSDC); wheels, track, wheelbase, pivots from "
             "farside.rover.vehicle.YUTU2 (UNCONFIRMED there); PCAM head at 1.5 m (REFERENCE.md 4.3); body box, "
             "solar wings, mast UNCONFIRMED"),
             "materials UNCONFIRMED (farside.render.vehicles.MATERIALS)")
    return b.mesh(notes)


# ---------------------------------------------------------------------------------------------
# placement
# ---------------------------------------------------------------------------------------------
def _angle(name: str, x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise invalid(name, x, "a finite angle (radians)") from None
    if not math.isfinite(v):
        raise invalid(name, x, "a finite angle (radians)")
    return v


def body_rotation(heading_rad: float, pitch_rad: float = 0.0, roll_rad: float = 0.0) -> np.ndarray:
    """(3, 3) rotation whose columns are the body's x (forward), y (left), z (up) axes in ENU."""
    h, p, r = heading_rad, pitch_rad, roll_rad
    fwd = np.array([math.sin(h), math.cos(h), 0.0])
    left = np.array([-math.cos(h), math.sin(h), 0.0])
    rh = np.column_stack([fwd, left, [0.0, 0.0, 1.0]])
    # pitch > 0 nose up: rotation by -p about body y; roll > 0 left side up: rotation by +r about body x
    cp, sp = math.cos(-p), math.sin(-p)
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    cr, sr = math.cos(r), math.sin(r)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rh @ ry @ rx


@dataclass(frozen=True, eq=False)
class SceneObject:
    """A mesh placed in site ENU (build with :func:`place`). The triangle arrays are sorted by
    culling cluster (parts split spatially).

    Attributes
    ----------
    mesh : Mesh
    object_id : int
        1..255, written into ``Frame.object_id`` where the object is seen.
    position_enu : (3,) float
        Where the body origin (the ground under the body centre) is, site ENU metres.
    heading_rad, pitch_rad, roll_rad : float
    rotation_enu_from_body : (3, 3)
    vertices_enu : (N, 3)
    tri : (M, 9)
        v0, v1 - v0, v2 - v0 per triangle (site ENU), sorted by cluster.
    normals : (M, 3)
        Outward unit face normals.
    material : (M,) int32
        Row of the global material table per triangle.
    part_box : (P, 6)
        x min, x max, y min, y max, z min, z max of each culling cluster (a part, or a piece of
        one: :func:`_clusters`).
    part_start : (P + 1,) int64
        Cluster p's triangles are ``tri[part_start[p]:part_start[p + 1]]``.
    box : (6,)
        The whole object's box.
    """

    mesh: Mesh
    object_id: int
    position_enu: np.ndarray
    heading_rad: float
    pitch_rad: float
    roll_rad: float
    rotation_enu_from_body: np.ndarray
    vertices_enu: np.ndarray
    tri: np.ndarray = field(repr=False)
    normals: np.ndarray = field(repr=False)
    material: np.ndarray = field(repr=False)
    part_box: np.ndarray = field(repr=False)
    part_start: np.ndarray = field(repr=False)
    part_names: tuple = ()          # the part each cluster belongs to
    box: np.ndarray = field(default_factory=lambda: np.zeros(6), repr=False)


#: most triangles in one culling cluster (:func:`_clusters`; 36 measured best of 4-48)
CLUSTER_TRIANGLES = 36


def _clusters(v: np.ndarray, triangles: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangle order and cluster number per (reordered) triangle: each part split, by the median
    of its triangles' centroids along the longest side of their box, until a cluster holds at
    most CLUSTER_TRIANGLES. Each cluster gets its own bounding box for culling (a one-level
    bounding-volume hierarchy): a ray that meets a leg's box then tests the <= 36 triangles near
    it, not the leg's 144. Deterministic (stable sorts); the hits are the same, only fewer are
    tried. A lander portrait (PCAM, 63 % of the pixels on the lander, penumbra) took 10.4 CPU-s
    with one box per part, 9.1 with clusters of 12, 7.2-8.0 with 24-48 (same machine, loaded)."""
    cen = v[triangles].mean(axis=1)
    order_out: list[np.ndarray] = []
    stack = [np.flatnonzero(part == k) for k in np.unique(part)[::-1]]
    while stack:
        idx = stack.pop()
        if idx.size <= CLUSTER_TRIANGLES:
            order_out.append(idx)
            continue
        c = cen[idx]
        ax = int(np.argmax(c.max(axis=0) - c.min(axis=0)))
        srt = idx[np.argsort(c[:, ax], kind="stable")]
        half = srt.size // 2
        stack.append(srt[half:])
        stack.append(srt[:half])
    order = np.concatenate(order_out)
    cluster = np.repeat(np.arange(len(order_out)), [o.size for o in order_out]).astype(np.int32)
    return order, cluster


def place(mesh: Mesh, position_enu, heading_rad: float, *, roll_rad: float = 0.0, pitch_rad: float = 0.0,
          object_id: int) -> SceneObject:
    """Put ``mesh`` into site ENU: its body origin at ``position_enu``, its x axis toward azimuth
    ``heading_rad`` (0 = north, clockwise), then ``pitch_rad`` (nose up) and ``roll_rad`` (left
    side up); ``object_id`` in 1..255 labels its pixels in ``Frame.object_id``."""
    if not isinstance(mesh, Mesh):
        raise invalid("mesh", type(mesh).__name__, "a farside.render.vehicles.Mesh")
    try:
        pos = np.array(position_enu, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid("position_enu", position_enu, "three finite numbers (site ENU metres)") from None
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise invalid("position_enu", position_enu, "three finite numbers (site ENU metres)")
    h = _angle("heading_rad", heading_rad)
    p = _angle("pitch_rad", pitch_rad)
    r = _angle("roll_rad", roll_rad)
    if not isinstance(object_id, (int, np.integer)) or isinstance(object_id, bool) or not 1 <= object_id <= 255:
        raise invalid("object_id", object_id, "an integer in [1, 255] (0 is the terrain)")
    rot = body_rotation(h, p, r)
    v = mesh.vertices @ rot.T + pos
    order, tp = _clusters(v, mesh.triangles, mesh.triangle_part)
    t = mesh.triangles[order]
    v0, v1, v2 = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    tri = np.ascontiguousarray(np.concatenate([v0, v1 - v0, v2 - v0], axis=1))
    n = np.cross(v1 - v0, v2 - v0)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    gmat = np.array([_MATERIAL_NAMES.index(m) for m in mesh.materials], np.int32)[mesh.triangle_material[order]]
    present = np.unique(tp)
    start = np.searchsorted(tp, present).astype(np.int64)
    names = tuple(mesh.parts[k] for k in mesh.triangle_part[order][start])
    part_start = np.append(start, t.shape[0]).astype(np.int64)
    boxes = np.empty((present.size, 6))
    for k in range(present.size):
        pv = np.concatenate([v0[part_start[k]:part_start[k + 1]], v1[part_start[k]:part_start[k + 1]],
                             v2[part_start[k]:part_start[k + 1]]])
        lo, hi = pv.min(axis=0), pv.max(axis=0)
        boxes[k] = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
    box = np.array([boxes[:, 0].min(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].max(),
                    boxes[:, 4].min(), boxes[:, 5].max()])
    return SceneObject(mesh=mesh, object_id=int(object_id), position_enu=pos, heading_rad=h, pitch_rad=p,
                       roll_rad=r, rotation_enu_from_body=rot, vertices_enu=v, tri=tri, normals=n,
                       material=np.ascontiguousarray(gmat), part_box=boxes, part_start=part_start,
                       part_names=names, box=box)


def check_objects(objects) -> list[SceneObject]:
    """``render(objects=...)`` validated: a sequence of SceneObjects with distinct ids."""
    if isinstance(objects, SceneObject):
        objects = [objects]
    try:
        objs = list(objects)
    except TypeError:
        raise invalid("objects", type(objects).__name__, "a sequence of SceneObjects (farside.render.place)") from None
    for k, o in enumerate(objs):
        if not isinstance(o, SceneObject):
            raise invalid(f"objects[{k}]", type(o).__name__, "a SceneObject (farside.render.place)")
    ids = [o.object_id for o in objs]
    if len(set(ids)) < len(ids):
        raise invalid("objects", f"object_ids {ids}", "distinct object_id values")
    return objs


# ---------------------------------------------------------------------------------------------
# the render pass
# ---------------------------------------------------------------------------------------------
#: the camera-z plane that clips boxes straddling the camera (metres)
_Z_NEAR = 1.0e-5
#: disk samples of the penumbra (equal-area sunflower)
_N_DISK = 32


def sun_samples(sun: np.ndarray, sun_radius: float) -> np.ndarray:
    """(5 + 32, 3) unit directions over the solar disk: the centre, four edge points, then an
    equal-area sunflower (Vogel 1979) of 32 points, deterministic."""
    a = np.array([0.0, 0.0, 1.0]) if abs(sun[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(sun, a)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(sun, e1)
    k = np.arange(_N_DISK)
    rho = sun_radius * np.sqrt((k + 0.5) / _N_DISK)
    th = k * math.pi * (3.0 - math.sqrt(5.0))
    rho = np.concatenate([[0.0], np.full(4, sun_radius), rho])
    th = np.concatenate([[0.0], np.arange(4) * 0.5 * math.pi, th])
    d = (np.cos(rho)[:, None] * sun + np.sin(rho)[:, None] * (np.cos(th)[:, None] * e1 + np.sin(th)[:, None] * e2))
    return np.ascontiguousarray(d / np.linalg.norm(d, axis=1, keepdims=True))


def _corners(box: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in box[0:2] for y in box[2:4] for z in box[4:6]])


def pixel_box(camera, pts: np.ndarray) -> np.ndarray:
    """(row min, row max, col min, col max) of the pixel centres whose rays can meet the convex
    hull of ``pts`` (N, 3) ENU; min > max when none. Points behind the camera are clipped at the
    camera plane (the hull's crossings of it are added); with lens distortion the hull is
    sampled along the segments between its points and the box padded by 2 px (approximate)."""
    empty = np.array([1, 0, 1, 0], np.int64)
    pc = (pts - camera.position_enu) @ camera.rotation_enu_from_cam
    wid, hgt = camera.width_px, camera.height_px
    pad = 1e-3
    if camera.projection == "orthographic":
        u = pc[:, 0] / camera.gsd_m + camera.cx_px
        v = pc[:, 1] / camera.gsd_m + camera.cy_px
    else:
        front = pc[:, 2] >= _Z_NEAR
        if not front.any():
            return empty
        distorted = camera.k1 != 0.0 or camera.k2 != 0.0
        if not front.all() or distorted:
            i, j = np.triu_indices(pc.shape[0], 1)
            a, b = pc[i], pc[j]
            extra = []
            cross = (a[:, 2] >= _Z_NEAR) != (b[:, 2] >= _Z_NEAR)
            if cross.any():
                s = (_Z_NEAR - a[cross, 2]) / (b[cross, 2] - a[cross, 2])
                extra.append(a[cross] + s[:, None] * (b[cross] - a[cross]))
            if distorted:
                for s in np.linspace(0.0, 1.0, 9)[1:-1]:
                    extra.append(a + s * (b - a))
                pad = 2.0
            pc = np.concatenate([pc] + extra)
            pc = pc[pc[:, 2] >= _Z_NEAR * (1 - 1e-9)]
        x = pc[:, 0] / pc[:, 2]
        y = pc[:, 1] / pc[:, 2]
        r2 = x * x + y * y
        f = 1.0 + camera.k1 * r2 + camera.k2 * r2 * r2
        u = camera.fx_px * x * f + camera.cx_px
        v = camera.fy_px * y * f + camera.cy_px
    c0 = max(math.ceil(min(u.min() - pad, 1e9)), 0)
    c1 = min(math.floor(max(u.max() + pad, -1e9)), wid - 1)
    r0 = max(math.ceil(min(v.min() - pad, 1e9)), 0)
    r1 = min(math.floor(max(v.max() + pad, -1e9)), hgt - 1)
    if c0 > c1 or r0 > r1:
        return empty
    return np.array([r0, r1, c0, c1], np.int64)


def _dem_min(scene, xmin: float, xmax: float, ymin: float, ymax: float) -> float:
    """Lowest DEM vertex height in the rectangle (from the Scene's 8 x 8 block minima; the whole
    DEM's minimum when the rectangle misses it)."""
    res = scene.resolution_m
    nr, nc = scene.heights.shape
    c0 = math.floor((xmin - scene.x0_m) / res - 0.5) - 1
    c1 = math.ceil((xmax - scene.x0_m) / res - 0.5) + 1
    r0 = math.floor((scene.y0_m - ymax) / res - 0.5) - 1
    r1 = math.ceil((scene.y0_m - ymin) / res - 0.5) + 1
    if c1 < 0 or r1 < 0 or c0 > nc - 1 or r0 > nr - 1:
        return scene.zmin + scene.datum_m
    b = scene.block_min                    # minima over BLOCK x BLOCK vertices
    br0, br1 = max(r0, 0) // BLOCK, min(r1, nr - 1) // BLOCK
    bc0, bc1 = max(c0, 0) // BLOCK, min(c1, nc - 1) // BLOCK
    return float(b[br0:br1 + 1, bc0:bc1 + 1].min()) + scene.datum_m


def shadow_points(scene, box: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """(16, 3) points whose convex hull holds every surface point the object in ``box`` can
    shade: the box's corners and the same swept away from the Sun until the box's top reaches
    the lowest DEM vertex under the swept footprint (a fixed point, like the rocks' shadow
    lengths)."""
    top = box[5]
    zlo = min(box[4], _dem_min(scene, box[0], box[1], box[2], box[3]))
    for _ in range(24):
        ln = max(top - zlo, 0.0) / sun[2] + 1.0
        sx, sy = -ln * sun[0], -ln * sun[1]
        new = min(zlo, _dem_min(scene, box[0] + min(sx, 0), box[1] + max(sx, 0), box[2] + min(sy, 0),
                                box[3] + max(sy, 0)))
        if not new < zlo:
            break
        zlo = new
    else:
        zlo = scene.zmin + scene.datum_m
        ln = max(top - zlo, 0.0) / sun[2] + 1.0
    c = _corners(box)
    return np.concatenate([c, c - ln * sun])


def apply_objects(scene, camera, lay: dict, objects: list[SceneObject], sun: np.ndarray, mode: int, full: bool,
                  tmax: float, utab: np.ndarray, clip_rad: float, sun_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Add the scene objects to the layers ``lay`` of a frame (in place), after the terrain and
    rock passes. Returns (object_id layer (H, W) uint8, per-band tint (H, W, 3) float32: the
    ratio of each band's reflectance to ``lay['reflectance']``, 1 off the objects).

    1. per part, the pixel box of its bounding box (:func:`pixel_box`); the nearest front-face
       triangle hit in front of the terrain/rock hit replaces the pixel (:func:`KM.mesh_hits`);
    2. cast shadows on the surface pixels (terrain and rocks) inside each object's swept shadow
       box (:func:`shadow_points`): one ray to the Sun's centre ('hard'), or the visible
       fraction of the disk ('penumbra': centre and four edge rays, and 32 equal-area samples
       where they disagree) against the object's triangles; the lit fraction and reflectance
       are scaled by it (independent occluders: the terrain's fraction times the objects');
    3. object pixels: the material BRDF (module docstring) with the face normal; sunlit fraction
       = the terrain's cast shadow at the ground point under the hit (the Scene's sun-margin map
       there, an approximation: the margin of the ground below, not of the raised point) times
       the objects' own shadows (shadow rays to the Sun against all objects' triangles, self
       shadows included).
    """
    hgt, wid = camera.height_px, camera.width_px
    obj_layer = np.zeros((hgt, wid), np.uint8)
    tint = np.ones((hgt, wid, 3), np.float32)
    if not objects:
        return obj_layer, tint
    ortho = camera.projection == "orthographic"
    rc = _ray_consts(camera.fx_px, camera.fy_px, camera.cx_px, camera.cy_px, camera.k1, camera.k2, ortho,
                     camera.gsd_m, camera.position_enu, camera.rotation_enu_from_cam)
    tri = np.ascontiguousarray(np.concatenate([o.tri for o in objects]))
    nrm = np.ascontiguousarray(np.concatenate([o.normals for o in objects]))
    tri_mat = np.ascontiguousarray(np.concatenate([o.material for o in objects]))
    tri_obj = np.concatenate([np.full(o.tri.shape[0], k, np.int32) for k, o in enumerate(objects)])
    part_box = np.ascontiguousarray(np.concatenate([o.part_box for o in objects]))
    t0s, t1s, p0s, p1s = [], [], [], []
    toff = poff = 0
    for o in objects:
        t0s.append(o.part_start[:-1] + toff)
        t1s.append(o.part_start[1:] + toff)
        p0s.append(poff)
        poff += o.part_box.shape[0]
        p1s.append(poff)
        toff += o.tri.shape[0]
    part_t0 = np.concatenate(t0s).astype(np.int64)
    part_t1 = np.concatenate(t1s).astype(np.int64)
    obj_p0 = np.array(p0s, np.int64)
    obj_p1 = np.array(p1s, np.int64)
    obj_box = np.ascontiguousarray(np.stack([o.box for o in objects]))
    obj_ids = np.array([o.object_id for o in objects], np.uint8)
    pbox = np.stack([pixel_box(camera, _corners(b)) for b in part_box])
    nth = numba.get_num_threads()
    hit_tri = np.empty((hgt, wid), np.int32)
    hit_t = np.empty((hgt, wid), np.float64)
    t_img = lay["range_m"]
    n = KM.mesh_hits(rc, utab, wid, hgt, t_img, tmax, pbox, part_box, part_t0, part_t1, tri, hit_tri, hit_t, nth)
    sun_dirs = sun_samples(sun, sun_radius)
    if mode > 0 and sun[2] > 0.0:
        sbox = np.stack([pixel_box(camera, shadow_points(scene, b, sun)) for b in obj_box])
        KM.mesh_terrain_shadows(rc, utab, wid, hgt, hit_tri, t_img, sbox, obj_box, obj_p0, obj_p1, sun_dirs, mode,
                                sun_radius, part_box, part_t0, part_t1, tri, lay["lit_fraction"], lay["reflectance"],
                                nth)
    if n == 0:
        return obj_layer, tint
    use_margin = mode > 0 and sun[2] > 0.0
    if use_margin:
        res = scene.resolution_m
        nr, nc = scene.heights.shape
        rows, cols = [], []
        for b in obj_box:
            c0 = int(np.clip(math.floor((b[0] - scene.x0_m) / res - 0.5) - 1, 0, nc - 1))
            c1 = int(np.clip(math.ceil((b[1] - scene.x0_m) / res - 0.5) + 1, 0, nc - 1))
            r0 = int(np.clip(math.floor((scene.y0_m - b[3]) / res - 0.5) - 1, 0, nr - 1))
            r1 = int(np.clip(math.ceil((scene.y0_m - b[2]) / res - 0.5) + 1, 0, nr - 1))
            rr, cc = np.meshgrid(np.append(np.arange(r0, r1, 32), r1), np.append(np.arange(c0, c1, 32), c1),
                                 indexing="ij")
            rows.append(rr.ravel())
            cols.append(cc.ravel())
        margin = scene.margin_map(sun, rows=np.concatenate(rows), cols=np.concatenate(cols), clip_rad=clip_rad)
    else:
        margin = np.zeros((2, 2), np.float32)
    one = np.empty((1, 1), np.float32)
    one3 = np.empty((1, 1, 3), np.float32)
    obj_pos = np.ascontiguousarray(np.stack([o.position_enu for o in objects]))
    obj_rot = np.ascontiguousarray(np.stack([o.rotation_enu_from_body for o in objects]))
    KM.shade_mesh(rc, utab, wid, hgt, hit_tri, hit_t, sun_dirs, mode, margin, use_margin, scene.x0_m, scene.y0_m,
                  scene.resolution_m, sun_radius, part_box, part_t0, part_t1, tri, nrm, tri_mat, tri_obj, obj_ids,
                  obj_pos, obj_rot,
                  _MATERIAL_TABLE, full, t_img, lay["reflectance"], tint, lay.get("incidence_rad", one),
                  lay.get("emission_rad", one), lay.get("phase_rad", one), lay["lit_fraction"],
                  lay.get("normal_enu", one3), lay.get("points_enu", np.empty((1, 1, 3))), obj_layer, nth)
    return obj_layer, tint
