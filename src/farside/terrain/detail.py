"""Centimetre-scale regolith detail below a DEM's resolution, generated lazily in world coordinates.

A site DEM (0.5-1 m/px) seen from a rover mast or the lander's terrain camera a few metres away is
a smooth, textureless mesh. :func:`regolith_patch` returns a fine :class:`~farside.terrain.Terrain`
(default 1 cm/px) over a square around a point, whose heights are

    base DEM (its smooth Catmull-Rom companion, :func:`farside.terrain.surface.smooth_height`)
    + tracks (optional height delta) + fractal roughness + sub-DEM craters, with angular rocks and
    pebbles on top.

The base is the C1 bicubic through the DEM's vertices, not its triangle mesh: at 1 cm pixels the
mesh's 0.5 m facets showed in the patch's shading as flat triangles with kinks between them (a
3 m crater in front of the rover's Navcam drawn as a dozen facets). The two agree at every vertex
and differ inside a cell by about an eighth of its second difference (millimetres on the plains,
a few centimetres in a small crater's bowl); the physics (wheels, feet, hazards) keeps the mesh,
and :func:`nested_patches` blends the coarsest patch into the mesh at its edge.

World-coordinate determinism (DESIGN.md, randomness): the patch grid is aligned to the world
lattice of pitch ``resolution_m`` (``x0_m``, ``y0_m`` are integer multiples of it) and every random
number is a counter-based hash (SplitMix64) of the seed and integer world indices: lattice points
of the noise, world cells of the crater and pebble populations, the coordinates of a rock. Two
patches at the same resolution over the same base DEM hold bit-identical heights on the vertices
they share, whatever their centres, sizes or the order they were built in.

Components
----------
1. **Fractal roughness**: gradient (Perlin-type) noise octaves on lattices of pitch
   ``res_dem / 2, res_dem / 4, ...`` down to one patch pixel, each rotated and shifted by a hashed
   amount, with amplitudes ``~ lambda^H``: a band-limited self-affine field whose RMS height
   difference at a baseline L (the Allan deviation of :mod:`farside.terrain.roughness`) follows
   ``nu(L) = rms_m (L / baseline_m)^hurst``; the amplitude constant is calibrated from the noise's
   own (numerically tabulated) structure function. The largest octave (``res_dem / 2``) has half
   weight and nothing coarser is added, so the detail averages out over a DEM pixel; octaves
   between 2 and 1 patch pixels fade out.
2. **Sub-DEM craters** continue the site's population (:mod:`farside.terrain.craters`: Neukum 2001
   production limited by the Trask equilibrium, at the site's age) from the smallest crater the site
   generates (``Terrain.meta['min_crater_diameter_m']``, default 2 DEM pixels) down to
   ``crater_min_pixels`` patch pixels, placed per world cell (:func:`regolith_craters`), degraded
   as in craters.py (``tau = U min(1, N_prod / N_eq) tau_erase``) and shaped by craters.py's
   profile table. They are *added* (no inheritance: that needs the mean height under each crater,
   which is not local), and each profile is made volume-neutral by subtracting
   ``c (1 - (r / 3R)^2)^2`` over its footprint, so craters do not lower the mean surface.
3. **Rocks**: the rocks of ``rocks`` (a site table) with diameter in
   (``rock_min_pixels`` patch px, ``rock_dem_min_pixels`` DEM px], i.e. those the DEM does not
   hold and the patch resolves, are stamped as **angular** rocks: the top of a seeded convex
   polyhedron (5-9 side facets dipping 40-70 deg, two top facets tilted 0-15 deg; height = min
   over the planes), its footprint polygon scaled to the area of the table's diameter and its
   highest point to the table's ``height_m`` above its seat (the mean ground under it). The lower
   ``buried_fraction`` of the body is under the regolith; with less than half buried the visible
   flanks end in a vertical step of ``(0.5 - f) / (1 - f)`` of the height at the footprint edge. A
   regolith fillet (``fillet_height`` x height at the footprint, fading over ``fillet_width`` x
   radius) surrounds the base. A table rock's shape key is
   :func:`farside.terrain.rocks.rock_shape_keys` of its position (not the patch seed), so it is the
   same polyhedron as in the site DEM, the descent, the rover and the renderer
   (:func:`farside.terrain.rocks.rock_shapes`). **Pebbles**, smaller than the table's smallest rock
   (``Terrain.meta['min_rock_diameter_m']``, default 0.1 m) down to ``pebble_min_pixels`` patch px,
   are drawn per world cell from the Golombek & Rapp model (:mod:`farside.terrain.rocks`) with the
   site's abundance ``k`` continued to cm sizes, heights ``U(0.3, 0.7) D``, and stamped the same
   way.

**Which rocks the patch contains**: table rocks wider than ``rock_dem_min_pixels`` DEM pixels are in
the DEM (and so in the patch, as the DEM's stamp of the same polyhedra, through the base's smooth
interpolation of the DEM); table rocks from
``rock_min_pixels`` patch pixels to that limit and all pebbles are stamped into the patch. Render a
patch with ``Scene(patch)`` (``rocks=None``), or pass only the table rocks smaller than
``rock_min_pixels`` patch pixels.

Numerical note: heights are float32 (the :class:`Terrain` convention), stored relative to the
patch's ``datum_m`` (the base DEM's mean height, whole metres): at |z| ~ 6 km (the Chang'e-4
floor) float32 resolves only 0.49 mm, comparable to the 1 cm-scale relief (~0.7 mm RMS), which
would terrace slopes in ~3 deg steps. :class:`farside.render.Scene` and ``Terrain.height_at``
add the datum back.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from farside.errors import invalid
from farside.terrain._types import Terrain
from farside.terrain.craters import (
    TAU_ERASE,
    _profile_table,
    _tau_index,
    cumulative_crater_density,
    neukum_production,
    trask_equilibrium,
)
from farside.terrain.rocks import (
    ROCK_BURIED_FRACTION,
    ROCK_FILLET_HEIGHT,
    ROCK_FILLET_WIDTH,
    rock_cliff,
    rock_number_density,
    rock_q,
    rock_shape_keys,
)

__all__ = ["MAX_PATCH_VERTICES", "RegolithDetail", "albedo_factor", "nested_patches", "regolith_craters",
           "regolith_patch", "regolith_pebbles", "ALBEDO_RMS", "ALBEDO_SCALES_M", "ALBEDO_SFD_EXPONENT"]

#: Largest patch side, vertices (8192^2 float32 = 256 MiB output).
MAX_PATCH_VERTICES = 8192
#: Chang'e-4 defaults when a DEM's ``meta`` does not carry its generation parameters
#: (:data:`farside.terrain.generate.CE4_SURFACE_AGE_GYR`, :data:`CE4_ROCK_ABUNDANCE`).
_CE4_AGE_GYR = 3.25
_CE4_ROCK_K = 0.0021

_TAG_NOISE = 1
_TAG_CRATER = 2
_TAG_PEBBLE = 3
#: Objects expected per population cell (sets the cell size of each diameter bin).
_PER_CELL = 4.0
#: Diameter bins: edges 2^(j/4) m for integer j (world-fixed, independent of the patch).
_BINS_PER_OCTAVE = 4


def _real(name, v, lo=None, hi=None, *, lo_open=False, hi_open=False, valid=""):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise invalid(name, v, valid)
    f = float(v)
    if lo is not None and (f < lo or (lo_open and f == lo)):
        raise invalid(name, v, valid)
    if hi is not None and (f > hi or (hi_open and f == hi)):
        raise invalid(name, v, valid)
    return f


@dataclass(frozen=True)
class RegolithDetail:
    """Parameters of the sub-DEM regolith detail (module docstring for the model).

    Attributes
    ----------
    rms_m, baseline_m : float
        RMS height difference ``nu`` of the fractal component at the baseline (default 1.75 mm at
        5 cm = an RMS slope of 2.0 deg): Apollo close-up stereo measurements of the regolith give
        RMS slopes decreasing from 58 deg at 0.5 mm to 2 deg at 5 cm (doi:10.1007/BF00054707,
        abstract) [P].
    hurst : float
        Hurst exponent of the fractal component below the DEM scale (default 0.17, DERIVED): the
        power law through both ends of the Apollo close-up RMS slopes above (58 deg at 0.5 mm, 2 deg
        at 5 cm: ``H = 1 + log(tan 2 deg / tan 58 deg) / log 100`` = 0.17; docs/references.md 7.10).
        It was 0.6, after Helfenstein & Shepard (1999, Icarus 141, doi:10.1006/icar.1999.6160:
        H = 0.54-0.7 for undisturbed regolith at sub-mm to cm scales [S], read through a citing
        statement), which with 2 deg at 5 cm gives only 13 deg at 0.5 mm and half the Apollo slope at
        1 cm, and puts the relief's variance at the 10-25 cm octaves: the near-ground frames looked
        cloudy rather than granular (benchmarks/regolith_texture.py). The site DEM's own roughness
        (:mod:`farside.terrain.roughness`: 3 cm at 1 m, H = 0.8) is an assumption for metre scales
        and is not continued here.
    crater_min_pixels : float
        Smallest sub-DEM crater, in patch pixels (default 4).
    crater_max_diameter_m : float or None
        Largest sub-DEM crater; None = the site's smallest crater
        (``Terrain.meta['min_crater_diameter_m']``, else 2 DEM pixels, generate_site's default).
    tau_erase : float
        Degradation time scale of the crater profiles (:data:`farside.terrain.craters.TAU_ERASE`,
        calibrated there to the d/D = 0.061 of Wu et al. 2021).
    rock_min_pixels, rock_dem_min_pixels : float
        Table rocks stamped: diameter > ``rock_min_pixels`` patch pixels and <=
        ``rock_dem_min_pixels`` DEM pixels (2 = :func:`farside.terrain.rocks.stamp_rocks`'s default,
        the rocks not in the DEM).
    buried_fraction : float
        Fraction of a rock's body height under the regolith, in [0, 0.5] (default 0.5: half buried,
        the assumption behind the Golombek & Rapp height/diameter of 0.5) UNCONFIRMED.
    fillet_height, fillet_width : float
        Regolith fillet around a rock's base: height at the footprint edge as a fraction of the
        rock's height (default 0.08) and extent beyond the edge as a fraction of its radius
        (default 0.3). UNCONFIRMED (visual assumption).
    pebble_abundance : float or None
        Golombek & Rapp ``k`` for the pebbles; None = ``Terrain.meta['rock_abundance']``, else the
        Chang'e-4 value 0.0021 (Wu et al. 2021). Continuing the exponential model below 0.1 m is an
        extrapolation (UNCONFIRMED).
    pebble_min_pixels : float
        Smallest pebble, patch pixels (default 2).
    pebble_max_diameter_m : float or None
        Largest pebble; None = the table's smallest rock (``Terrain.meta['min_rock_diameter_m']``,
        else 0.1 m).
    """

    rms_m: float = 0.00175
    baseline_m: float = 0.05
    hurst: float = 0.17
    crater_min_pixels: float = 4.0
    crater_max_diameter_m: float | None = None
    tau_erase: float = TAU_ERASE
    rock_min_pixels: float = 2.0
    rock_dem_min_pixels: float = 2.0
    buried_fraction: float = ROCK_BURIED_FRACTION
    fillet_height: float = ROCK_FILLET_HEIGHT
    fillet_width: float = ROCK_FILLET_WIDTH
    pebble_abundance: float | None = None
    pebble_min_pixels: float = 2.0
    pebble_max_diameter_m: float | None = None

    def __post_init__(self) -> None:
        _real("rms_m", self.rms_m, 0.0, 1.0, valid="an RMS height difference in [0, 1] m")
        _real("baseline_m", self.baseline_m, 0.0, 100.0, lo_open=True, valid="a baseline in (0, 100] m")
        _real("hurst", self.hurst, 0.0, 1.0, lo_open=True, hi_open=True, valid="a Hurst exponent in (0, 1)")
        _real("crater_min_pixels", self.crater_min_pixels, 1.0, 1e6, valid="a number of pixels >= 1")
        if self.crater_max_diameter_m is not None:
            _real("crater_max_diameter_m", self.crater_max_diameter_m, 0.0, 1e4, lo_open=True,
                  valid="a diameter in (0, 1e4] m or None")
        _real("tau_erase", self.tau_erase, 0.0, 2.0, lo_open=True, valid="a diffusion time in (0, 2]")
        _real("rock_min_pixels", self.rock_min_pixels, 1.0, 1e6, valid="a number of pixels >= 1")
        _real("rock_dem_min_pixels", self.rock_dem_min_pixels, 0.0, 1e3, lo_open=True,
              valid="a number of DEM pixels in (0, 1000]")
        _real("buried_fraction", self.buried_fraction, 0.0, 0.5, valid="a fraction in [0, 0.5]")
        _real("fillet_height", self.fillet_height, 0.0, 0.5, valid="a fraction of the rock height in [0, 0.5]")
        _real("fillet_width", self.fillet_width, 0.0, 2.0, lo_open=True, valid="a fraction of the radius in (0, 2]")
        if self.pebble_abundance is not None:
            _real("pebble_abundance", self.pebble_abundance, 0.0, 1.0, hi_open=True,
                  valid="a rock abundance in [0, 1) or None")
        _real("pebble_min_pixels", self.pebble_min_pixels, 1.0, 1e6, valid="a number of pixels >= 1")
        if self.pebble_max_diameter_m is not None:
            _real("pebble_max_diameter_m", self.pebble_max_diameter_m, 0.0, 10.0, lo_open=True,
                  valid="a diameter in (0, 10] m or None")


def _seed_u64(seed) -> np.uint64:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (0 <= int(seed) < 2 ** 63):
        raise invalid("seed", seed, "an integer in [0, 2**63)")
    return np.uint64(int(seed))


# --- fractal roughness --------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _structure_table() -> tuple[np.ndarray, np.ndarray]:
    """(log2 rho, D1(rho)): structure function of unit gradient noise at lags rho (lattice units)."""
    from farside.terrain._kernels_detail import unit_structure

    l2 = np.linspace(-8.0, 8.0, 65)
    return l2, unit_structure(2.0 ** l2, np.uint64(20190103), 20000)


def _unit_d1(rho: np.ndarray) -> np.ndarray:
    l2, d1 = _structure_table()
    lr = np.log2(rho)
    out = np.interp(lr, l2, d1)
    small = lr < l2[0]
    out[small] = d1[0] * (rho[small] / 2.0 ** l2[0]) ** 2     # D1 ~ rho^2 at small lags
    return out


def _octaves(seed: np.uint64, res_dem: float, res: float, detail: RegolithDetail):
    """Lattice pitches, amplitudes (m per unit noise), rotations, shifts and keys of the noise octaves."""
    from farside.terrain._kernels_detail import key3, uniform

    H = detail.hurst
    # amplitude constant: the full (untapered) octave ladder res_dem 2^-(k+1), k in Z, has RMS height
    # difference rms_m at baseline_m
    ks = np.arange(-40, 80)
    lam_all = res_dem * 2.0 ** -(ks + 1.0)
    s2 = float(np.sum(lam_all ** (2 * H) * _unit_d1(detail.baseline_m / lam_all)))
    A = detail.rms_m / math.sqrt(s2)
    lam, amp, cth, sth, offu, offv, keys = [], [], [], [], [], [], []
    k = 0
    nseed = np.uint64(int(seed) ^ 0x5DEECE66D)
    while True:
        lk = res_dem * 2.0 ** -(k + 1)
        t = math.log2(lk / res)          # lattice pitch in patch pixels, log2
        if t <= 0.0:
            break
        w_small = 1.0 if t >= 1.0 else 0.5 - 0.5 * math.cos(math.pi * t)
        w_big = 0.5 if k == 0 else 1.0
        key = np.uint64(key3(nseed, _TAG_NOISE, k, 0))
        th = 2.0 * math.pi * uniform(key, 0)
        lam.append(lk)
        amp.append(A * w_small * w_big * lk ** H)
        cth.append(math.cos(th))
        sth.append(math.sin(th))
        offu.append(1024.0 * uniform(key, 1))
        offv.append(1024.0 * uniform(key, 2))
        keys.append(np.uint64(key3(nseed, _TAG_NOISE, k, 1)))
        k += 1
    lam, amp, cth, sth, offu, offv = (np.asarray(a, dtype=np.float64) for a in (lam, amp, cth, sth, offu, offv))
    return lam, amp, cth, sth, offu, offv, np.asarray(keys, dtype=np.uint64)


# --- cell-placed populations ----------------------------------------------------------------------

def _bins(dmin: float, dmax: float, cum) -> tuple:
    """Diameter bins (world-fixed edges 2^(j/4) m) covering [dmin, dmax): ids, cell sizes, Poisson
    means per cell, log D grids and cumulative densities per m^2 (``cum(D)``, decreasing)."""
    j0 = math.floor(_BINS_PER_OCTAVE * math.log2(dmin))
    j1 = math.ceil(_BINS_PER_OCTAVE * math.log2(dmax))
    ids, cells, lams, logds, ncums = [], [], [], [], []
    for j in range(j0, j1):
        lo, hi = 2.0 ** (j / _BINS_PER_OCTAVE), 2.0 ** ((j + 1) / _BINS_PER_OCTAVE)
        g = np.geomspace(lo, hi, 17)
        n = np.asarray(cum(g), dtype=float)
        dens = n[0] - n[-1]
        if not dens > 0:
            continue
        cell = max(math.sqrt(_PER_CELL / dens), hi)
        ids.append(j)
        cells.append(cell)
        lams.append(dens * cell * cell)
        logds.append(np.log(g))
        ncums.append(n)
    if not ids:
        e = np.zeros((0, 17))
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), e, e
    return (np.asarray(ids, np.int64), np.asarray(cells), np.asarray(lams), np.ascontiguousarray(logds),
            np.ascontiguousarray(ncums))


def _place(seed: np.uint64, tag: int, extent, bins, dmin: float, dmax: float, reach: float):
    from farside.terrain._kernels_detail import cell_population

    ids, cells, lams, logds, ncums = bins
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    e = np.zeros(0)
    args = (seed, tag, xmin, xmax, ymin, ymax, ids, cells, lams, logds, ncums, float(dmin), float(dmax), reach)
    if ids.size == 0:
        return e, e, e, e
    n = cell_population(*args, False, e, e, e, e)
    out = [np.empty(n) for _ in range(4)]
    cell_population(*args, True, *out)
    return tuple(out)


def _check_extent(extent_m) -> tuple[float, float, float, float]:
    try:
        vals = tuple(float(v) for v in extent_m)
    except (TypeError, ValueError):
        raise invalid("extent_m", extent_m, "(x_min, x_max, y_min, y_max) with max > min") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals) or vals[1] <= vals[0] or vals[3] <= vals[2]:
        raise invalid("extent_m", extent_m, "(x_min, x_max, y_min, y_max) with max > min")
    return vals  # type: ignore[return-value]


def regolith_craters(extent_m, *, seed: int, age_gyr: float, min_diameter_m: float, max_diameter_m: float,
                     tau_erase: float = TAU_ERASE) -> pd.DataFrame:
    """The sub-DEM craters (diameters in [min, max)) whose footprint (radius 1.5 D) touches the
    rectangle ``extent_m`` (x_min, x_max, y_min, y_max; site ENU m), as placed by
    :func:`regolith_patch` for ``seed``.

    Diameters follow :func:`farside.terrain.craters.cumulative_crater_density` at ``age_gyr``
    (production limited by equilibrium); each world cell of a diameter bin holds a Poisson number of
    craters keyed by (seed, bin, cell), so the list for a rectangle is the restriction of one world
    population. Columns ``x_m, y_m, diameter_m, tau, u`` in stamping order.
    """
    x_min, x_max, y_min, y_max = _check_extent(extent_m)
    s = _seed_u64(seed)
    age = _real("age_gyr", age_gyr, 0.0, 4.5, lo_open=True, valid="a surface age in (0, 4.5] Gyr")
    dmin = _real("min_diameter_m", min_diameter_m, 0.0, 1e4, lo_open=True, valid="a diameter in (0, 1e4] m")
    dmax = _real("max_diameter_m", max_diameter_m, dmin, 1e4, lo_open=True,
                 valid=f"a diameter in ({dmin}, 1e4] m (> min_diameter_m)")
    te = _real("tau_erase", tau_erase, 0.0, 2.0, lo_open=True, valid="a diffusion time in (0, 2]")
    bins = _bins(dmin, dmax, lambda g: cumulative_crater_density(g / 1000.0, age) / 1e6)
    x, y, d, uu = _place(s, _TAG_CRATER, (x_min, x_max, y_min, y_max), bins, dmin, dmax, 1.5)
    if d.size:
        dk = d / 1000.0
        u = uu * np.minimum(1.0, neukum_production(dk, age) / trask_equilibrium(dk))
    else:
        u = d
    return pd.DataFrame({"x_m": x, "y_m": y, "diameter_m": d, "tau": u * te, "u": u})


def regolith_pebbles(extent_m, *, seed: int, k: float, min_diameter_m: float, max_diameter_m: float) -> pd.DataFrame:
    """Pebbles (diameters in [min, max)) from the Golombek & Rapp model with abundance ``k``
    continued to cm sizes, placed per world cell like :func:`regolith_craters`, whose centre is
    within one diameter of the rectangle ``extent_m``. Columns ``x_m, y_m, diameter_m, height_m``
    (``U(0.3, 0.7) D``, the table's rule in :mod:`farside.terrain.rocks`)."""
    x_min, x_max, y_min, y_max = _check_extent(extent_m)
    s = _seed_u64(seed)
    kk = _real("k", k, 0.0, 1.0, hi_open=True, valid="a rock abundance in [0, 1)")
    dmin = _real("min_diameter_m", min_diameter_m, 0.0, 10.0, lo_open=True, valid="a diameter in (0, 10] m")
    dmax = _real("max_diameter_m", max_diameter_m, dmin, 10.0, lo_open=True,
                 valid=f"a diameter in ({dmin}, 10] m (> min_diameter_m)")
    e = np.zeros(0)
    if kk == 0.0:
        return pd.DataFrame({"x_m": e, "y_m": e, "diameter_m": e, "height_m": e})
    q = float(rock_q(kk))

    def cum(g):
        # number per m^2 with diameter >= g, up to 10 m (trapezoid in log D on a fine grid)
        fine = np.geomspace(dmin / 2.0, 10.0, 4001)
        dens = rock_number_density(fine, kk, q=q) * fine
        seg = 0.5 * (dens[1:] + dens[:-1]) * np.diff(np.log(fine))
        tail = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
        return np.interp(np.log(g), np.log(fine), tail)

    bins = _bins(dmin, dmax, cum)
    x, y, d, uu = _place(s, _TAG_PEBBLE, (x_min, x_max, y_min, y_max), bins, dmin, dmax, 1.0)
    return pd.DataFrame({"x_m": x, "y_m": y, "diameter_m": d, "height_m": d * (0.3 + 0.4 * uu)})


@functools.lru_cache(maxsize=1)
def _neutral_profiles() -> tuple[np.ndarray, float]:
    """craters.py's profile table (units of R, uniform in s = (r/R)^2 on [0, 9]) with each row made
    volume-neutral by subtracting c (1 - s/9)^2."""
    x_tab, _, tab, _ = _profile_table()
    s = x_tab ** 2
    smax = float(s[-1])
    w = (1.0 - s / smax) ** 2
    ds = np.diff(s)
    vol = np.sum(0.5 * (tab[:, 1:] + tab[:, :-1]) * ds, axis=1)        # integral of p ds = volume / pi
    wv = float(np.sum(0.5 * (w[1:] + w[:-1]) * ds))
    return np.ascontiguousarray(tab - (vol / wv)[:, None] * w[None, :]), smax


# --- the patch ----------------------------------------------------------------------------------

def _rock_table(rocks) -> dict[str, np.ndarray]:
    cols = {}
    for name in ("x_m", "y_m", "diameter_m", "height_m"):
        try:
            a = np.asarray(rocks[name], dtype=np.float64).ravel()
        except (KeyError, TypeError, IndexError, ValueError):
            raise invalid("rocks", type(rocks).__name__,
                          "None or a table with numeric columns x_m, y_m, diameter_m, height_m") from None
        if not np.all(np.isfinite(a)):
            raise invalid(f"rocks.{name}", "non-finite values", "finite numbers")
        cols[name] = a
    if len({a.size for a in cols.values()}) != 1:
        raise invalid("rocks", {k: a.size for k, a in cols.items()}, "columns of equal length")
    for name in ("diameter_m", "height_m"):
        if np.any(cols[name] <= 0):
            raise invalid(f"rocks.{name}", float(cols[name].min()), "sizes > 0 m")
    return cols


def regolith_patch(terrain: Terrain, *, center_xy_m, half_size_m: float, resolution_m: float = 0.01, seed: int,
                   rocks=None, tracks: Terrain | None = None, detail: RegolithDetail = RegolithDetail(),
                   crater_age_gyr: float | None = None) -> Terrain:
    """A fine Terrain over the square of half-side ``half_size_m`` around ``center_xy_m`` (site ENU
    m), clipped to ``terrain``'s extent, holding the base DEM's surface plus the sub-DEM regolith
    detail (module docstring).

    Parameters
    ----------
    terrain : Terrain
        The base (site) DEM. Its ``meta`` supplies the site model's ``age_gyr``,
        ``min_crater_diameter_m``, ``rock_abundance`` and ``min_rock_diameter_m`` when present
        (:func:`farside.terrain.generate_site` records them).
    center_xy_m : (2,) float
        Centre of the patch, site ENU metres.
    half_size_m : float
        Half the side of the square, metres; at most ``MAX_PATCH_VERTICES`` (8192) vertices a side.
    resolution_m : float
        Patch pixel size (default 0.01 m), finer than the DEM's. The grid is aligned to the world
        lattice of this pitch.
    seed : int
        Key of every random number (counter-based; module docstring).
    rocks : table, optional
        The site's rock table (``Site.rocks``: columns ``x_m, y_m, diameter_m, height_m``); the rocks
        between ``detail.rock_min_pixels`` patch pixels and ``detail.rock_dem_min_pixels`` DEM pixels
        are stamped as angular rocks.
    tracks : Terrain, optional
        A height-delta raster (e.g. wheel ruts), interpolated with the mesh rule inside its extent,
        zero outside.
    detail : RegolithDetail
        Model parameters.
    crater_age_gyr : float, optional
        Surface age for the crater population; default ``terrain.meta['age_gyr']``, else 3.25 Gyr
        (Chang'e-4).

    Returns
    -------
    Terrain
        ``x0_m``, ``y0_m`` integer multiples of ``resolution_m``; float32 heights; ``meta`` records
        the parameters, the number of craters, rocks and pebbles stamped.
    """
    from farside.terrain import _kernels_detail as K

    if not isinstance(terrain, Terrain):
        raise invalid("terrain", type(terrain).__name__, "a farside.terrain.Terrain")
    if not isinstance(detail, RegolithDetail):
        raise invalid("detail", type(detail).__name__, "a farside.terrain.RegolithDetail")
    s = _seed_u64(seed)
    try:
        cx, cy = (float(v) for v in np.asarray(center_xy_m, dtype=float).ravel())
    except (TypeError, ValueError):
        raise invalid("center_xy_m", center_xy_m, "two finite numbers (x, y), site ENU metres") from None
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise invalid("center_xy_m", center_xy_m, "two finite numbers (x, y), site ENU metres")
    res_dem = terrain.resolution_m
    res = _real("resolution_m", resolution_m, 0.0, res_dem, lo_open=True, hi_open=True,
                valid=f"a pixel size in (0, {res_dem}) m (finer than the base DEM)")
    half = _real("half_size_m", half_size_m, 0.0, None, lo_open=True, valid="a half-side > 0 m")
    if 2.0 * half / res > MAX_PATCH_VERTICES:
        raise invalid("half_size_m", half_size_m,
                      f"a half-side <= {MAX_PATCH_VERTICES * res / 2:g} m ({MAX_PATCH_VERTICES} vertices a side "
                      f"at {res:g} m)")
    meta = terrain.meta or {}
    age = crater_age_gyr if crater_age_gyr is not None else meta.get("age_gyr", _CE4_AGE_GYR)
    age = _real("crater_age_gyr", age, 0.0, 4.5, lo_open=True, valid="a surface age in (0, 4.5] Gyr")
    if tracks is not None and not isinstance(tracks, Terrain):
        raise invalid("tracks", type(tracks).__name__, "None or a farside.terrain.Terrain of height deltas")
    table = None if rocks is None else _rock_table(rocks)

    # grid on the world lattice, clipped to the DEM's extent
    xe0, xe1, ye0, ye1 = terrain.extent_m
    eps = 1e-9
    gx0 = max(math.floor((cx - half) / res + eps), math.ceil(xe0 / res - eps))
    gx1 = min(math.ceil((cx + half) / res - eps), math.floor(xe1 / res + eps))
    gyn = min(math.ceil((cy + half) / res - eps), math.floor(ye1 / res + eps))     # north edge index
    gys = max(math.floor((cy - half) / res + eps), math.ceil(ye0 / res - eps))
    ncols, nrows = gx1 - gx0, gyn - gys
    if ncols < 2 or nrows < 2:
        raise invalid("center_xy_m", (cx, cy), f"a patch overlapping the base DEM's extent {terrain.extent_m} by "
                                               f">= 2 pixels (half_size_m = {half})")

    # sizes of the populations
    dmax_c = detail.crater_max_diameter_m if detail.crater_max_diameter_m is not None else \
        float(meta.get("min_crater_diameter_m", 2.0 * res_dem))
    dmin_c = detail.crater_min_pixels * res
    kp = detail.pebble_abundance if detail.pebble_abundance is not None else \
        float(meta.get("rock_abundance", _CE4_ROCK_K))
    dmax_p = detail.pebble_max_diameter_m if detail.pebble_max_diameter_m is not None else \
        float(meta.get("min_rock_diameter_m", 0.1))
    dmin_p = detail.pebble_min_pixels * res
    rock_lo = detail.rock_min_pixels * res
    rock_hi = detail.rock_dem_min_pixels * res_dem
    # margin: the largest stamped rock's reach (footprint polygon <= 1.25 R after scaling) + fillet
    rmax = 0.5 * max(rock_hi if table is not None else 0.0, dmax_p)
    mg = int(math.ceil(rmax * 1.3 * (1.0 + detail.fillet_width) / res)) + 2
    ex_gx0, ex_gyn = gx0 - mg, gyn + mg
    ex_shape = (nrows + 2 * mg, ncols + 2 * mg)
    x_lo = (ex_gx0 + 0.5) * res
    x_hi = (ex_gx0 + ex_shape[1] - 0.5) * res
    y_hi = (ex_gyn - 0.5) * res
    y_lo = (ex_gyn - ex_shape[0] + 0.5) * res

    # 1. base DEM + tracks + fractal roughness
    lam, amp, cth, sth, offu, offv, okeys = _octaves(s, res_dem, res, detail)
    if detail.rms_m == 0.0:
        amp = amp * 0.0
    dem = np.ascontiguousarray(terrain.heights)
    if tracks is not None:
        trk, tx0, ty0, tres, has = np.ascontiguousarray(tracks.heights), tracks.x0_m, tracks.y0_m, \
            tracks.resolution_m, True
    else:
        trk, tx0, ty0, tres, has = np.zeros((2, 2), np.float32), 0.0, 0.0, 1.0, False
    z = np.empty(ex_shape)
    K.ground_kernel(z, ex_gx0, ex_gyn, res, dem, float(terrain.x0_m), float(terrain.y0_m), res_dem, trk,
                    float(tx0), float(ty0), float(tres), has, lam, amp, cth, sth, offu, offv, okeys)

    # 2. sub-DEM craters
    n_craters = 0
    if dmax_c > dmin_c:
        cr = regolith_craters((x_lo, x_hi, y_lo, y_hi), seed=int(s), age_gyr=age, min_diameter_m=dmin_c,
                              max_diameter_m=dmax_c, tau_erase=detail.tau_erase)
        n_craters = len(cr)
        if n_craters:
            tab, smax = _neutral_profiles()
            ti, tw = _tau_index(cr["tau"].to_numpy())
            K.stamp_craters_additive(z, ex_gx0, ex_gyn, res, cr["x_m"].to_numpy(), cr["y_m"].to_numpy(),
                                     cr["diameter_m"].to_numpy() / 2.0, ti, tw, tab, smax)

    # 3. rocks and pebbles (seats from the ground before any rock; stamping is a max: order-free)
    xs, ys, ds, hs, keys = [], [], [], [], []
    if table is not None:
        d = table["diameter_m"]
        reach = 0.5 * d * 1.3 * (1.0 + detail.fillet_width)
        sel = ((d > rock_lo) & (d <= rock_hi) & (table["x_m"] > x_lo - reach) & (table["x_m"] < x_hi + reach)
               & (table["y_m"] > y_lo - reach) & (table["y_m"] < y_hi + reach))
        if sel.any():
            xs.append(table["x_m"][sel])
            ys.append(table["y_m"][sel])
            ds.append(d[sel])
            hs.append(table["height_m"][sel])
            keys.append(rock_shape_keys(xs[-1], ys[-1]))      # the same shape as in every other view
    n_rocks = int(sum(a.size for a in xs))
    n_pebbles = 0
    if kp > 0.0 and dmax_p > dmin_p:
        pb = regolith_pebbles((x_lo, x_hi, y_lo, y_hi), seed=int(s), k=kp, min_diameter_m=dmin_p,
                              max_diameter_m=dmax_p)
        n_pebbles = len(pb)
        if n_pebbles:
            xs.append(pb["x_m"].to_numpy())
            ys.append(pb["y_m"].to_numpy())
            ds.append(pb["diameter_m"].to_numpy())
            hs.append(pb["height_m"].to_numpy())
            keys.append(K.keys_from_xy(s, _TAG_PEBBLE, xs[-1], ys[-1]))
    if xs:
        X, Y, D, Hh, KK = (np.concatenate(a) for a in (xs, ys, ds, hs, keys))
        R = D / 2.0
        zc = K.rock_base(z, ex_gx0, ex_gyn, res, X, Y, R)
        K.stamp_rocks_kernel(z, ex_gx0, ex_gyn, res, X, Y, zc, R, Hh, KK, rock_cliff(detail.buried_fraction),
                             detail.fillet_height, detail.fillet_width)

    # heights relative to a datum (whole metres, from the base DEM alone, so every patch of one DEM
    # shares it and overlaps stay bit-identical): float32 at the CE-4 floor's -5935 m would step by
    # 0.49 mm, coarser than the relief
    datum = float(np.round(np.mean(dem, dtype=np.float64)))
    heights = (z[mg:mg + nrows, mg:mg + ncols] - datum).astype(np.float32)
    del z
    pmeta = {
        "source": "farside.terrain.regolith_patch", "seed": int(s), "resolution_m": res,
        "base_resolution_m": res_dem, "crater_age_gyr": age, "crater_diameter_range_m": [dmin_c, dmax_c],
        "pebble_diameter_range_m": [dmin_p, dmax_p], "pebble_abundance": kp,
        "rock_diameter_range_m": [rock_lo, rock_hi], "n_craters": n_craters, "n_rocks": n_rocks,
        "n_pebbles": n_pebbles, "detail": {k: getattr(detail, k) for k in detail.__dataclass_fields__},
    }
    return Terrain(heights, res, x0_m=gx0 * res, y0_m=gyn * res, anchor_lat_deg=terrain.anchor_lat_deg,
                   anchor_lon_deg=terrain.anchor_lon_deg, meta=pmeta, datum_m=terrain.datum_m + datum)


def nested_patches(terrain: Terrain, *, center_xy_m, levels, seed: int, rocks=None, tracks=None,
                   detail: RegolithDetail = RegolithDetail(), blend_m: float | None = None) -> list[Terrain]:
    """Regolith patches of decreasing resolution around one point, finest first, each blended into
    the next coarser one (the coarsest into ``terrain``) near its edge, so that a renderer drawing
    them nested (``render(patches[0], ..., backdrop=patches[1:] + [site, ...])``) shows no step
    where one level hands over to the next.

    ``levels`` is a sequence of (resolution_m, half_size_m), finest first, each strictly coarser
    and larger than the one before. A patch's heights within ``blend_m`` (default: a tenth of its
    half size) of its edge go smoothly (smoothstep of the distance) to the next level's surface
    (its triangle mesh sampled at the fine vertices), reaching it exactly on the edge. Detail in
    the interior is :func:`regolith_patch`'s, unchanged, so every view of it agrees.
    """
    from farside.terrain.surface import surface_heights

    try:
        lv = [(float(r), float(h)) for r, h in levels]
    except (TypeError, ValueError):
        raise invalid("levels", levels, "a sequence of (resolution_m, half_size_m) pairs") from None
    if not lv:
        raise invalid("levels", levels, "at least one (resolution_m, half_size_m) pair")
    for (r0, h0), (r1, h1) in zip(lv[:-1], lv[1:]):
        if not (r1 > r0 and h1 > h0):
            raise invalid("levels", levels, "pairs finest first, each coarser and larger than the one before")
    patches = [regolith_patch(terrain, center_xy_m=center_xy_m, half_size_m=h, resolution_m=r, seed=seed,
                              rocks=rocks, tracks=tracks, detail=detail) for r, h in lv]
    out: list[Terrain] = [None] * len(patches)      # type: ignore[list-item]
    for k in range(len(patches) - 1, -1, -1):
        p = patches[k]
        outer = terrain if k == len(patches) - 1 else out[k + 1]
        width = 0.1 * lv[k][1] if blend_m is None else _real("blend_m", blend_m, 0.0, lo_open=True)
        xx, yy = np.meshgrid(p.x_m, p.y_m)
        x_lo, x_hi, y_lo, y_hi = p.extent_m
        res = p.resolution_m
        edge = np.minimum(np.minimum(xx - (x_lo + 0.5 * res), (x_hi - 0.5 * res) - xx),
                          np.minimum(yy - (y_lo + 0.5 * res), (y_hi - 0.5 * res) - yy))
        s = np.clip(edge / width, 0.0, 1.0)
        w = s * s * (3.0 - 2.0 * s)
        band = w < 1.0
        if band.any():
            h = p.heights.astype(np.float64) + p.datum_m
            base = surface_heights(outer.heights, outer.x0_m, outer.y0_m, outer.resolution_m, xx[band], yy[band])
            h[band] = w[band] * h[band] + (1.0 - w[band]) * (np.asarray(base, np.float64) + outer.datum_m)
            p = p.replace(heights=(h - p.datum_m).astype(np.float32),
                          meta={**p.meta, "blend_m": width, "blended_into": "base DEM" if outer is terrain
                                else f"{outer.resolution_m:g} m patch"})
        out[k] = p
    return out


#: The regolith's albedo variation is that of its fragments: clods, pebbles and the fresh ejecta of
#: the smallest craters, brighter or darker than the mature soil around them, at the scales of the
#: fragments themselves (the CE-4 close-ups, ../shared/data/ce4_image_previews, are granular, not
#: mottled). Octaves of the log-normal field from ALBEDO_SCALES_M[0] to [1], lattice pitches 1 cm to
#: 16 cm (a pitch's bright or dark blobs are about half of it across: fragments of 5 mm to 8 cm, up
#: to the site table's smallest rock, 0.1 m) UNCONFIRMED. Variance per octave ~ lam^(2 - b), the
#: area that a power-law population N(>D) ~ D^-b covers per octave of size, with b =
#: ALBEDO_SFD_EXPONENT = 2.482, the VIPER environmental specification's rock distribution
#: (docs/references.md 7.3, [S]; continued from rocks to cm fragments: UNCONFIRMED). The largest
#: octave, whose blobs straddle the 0.1 m cut, has half its share of the variance. Total log RMS
#: ALBEDO_RMS = 0.17. The range, the RMS, the taper and the choice among the published exponents
#: (1.75-2.66) are UNCONFIRMED, chosen against benchmarks/regolith_texture.py (the CE-4 previews'
#: band-pass contrast at 1-8 px) and the two vision uses of this texture (docs/imaging.md,
#: "Regolith texture"): the steeper 2.6607, or a 5 mm octave, put so much of the variance in the
#: finest octaves, seen by the Navcam 1-5 m ahead and not 4-9 m ahead, that visual odometry across
#: a 3.6 m step lost its inliers or its rotation (tests/vision/test_localisation.py); without the
#: 16 cm octave the TCAM panorama's ground beyond 20 m (finer octaves below a pixel) registered to
#: 1.5 mosaic px instead of 0.7 (quick run); with it at its full share the 8 px band was 0.075.
#: Before: 8 % RMS in equal octaves from 1 cm to 2 m, metre-scale clouds that set the frames' stretch.
ALBEDO_RMS = 0.17
ALBEDO_SCALES_M = (0.01, 0.16)
ALBEDO_SFD_EXPONENT = 2.482
_TAG_ALBEDO = 7


def albedo_factor(x_m, y_m, *, seed: int, rms: float = ALBEDO_RMS, scales_m=ALBEDO_SCALES_M,
                  sfd_exponent: float = ALBEDO_SFD_EXPONENT, footprint_m=None) -> np.ndarray:
    """Multiplicative albedo factor of the regolith at site-ENU points (arrays of any shape): a
    log-normal field exp(n), n gradient noise in octaves from ``scales_m[0]`` to ``scales_m[1]``
    (pitches doubling) with variances ~ pitch^(2 - ``sfd_exponent``) (2: equal weights), the largest
    octave at half its share,
    scaled to RMS ``rms`` and mean-corrected (mean factor 1).
    Defined in world coordinates from the seed alone, like :func:`regolith_patch`'s relief, so
    every view of a spot sees the same albedo.

    ``footprint_m`` (None, a scalar or an array broadcasting with the points): the size of the
    ground each sample stands for (a camera pixel's footprint). Octaves finer than two footprints
    fade out (none below one), the rule of the relief's octaves below two patch pixels, so a pixel
    sees an octave it cannot resolve as its mean (the factor's mean stays 1) instead of one aliased
    sample of it; None = points (every octave)."""
    from farside.terrain import _kernels_detail as K

    s = _seed_u64(seed)
    r = _real("rms", rms, 0.0, 1.0)
    try:
        lo, hi = (float(v) for v in scales_m)
    except (TypeError, ValueError):
        raise invalid("scales_m", scales_m, "(smallest, largest) scale in metres") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise invalid("scales_m", scales_m, "0 < smallest < largest scale in metres")
    b = _real("sfd_exponent", sfd_exponent, 0.0, 6.0, valid="a cumulative size-frequency exponent in [0, 6]")
    fpa = np.zeros(()) if footprint_m is None else np.asarray(footprint_m, np.float64)
    if fpa.size and not (np.all(np.isfinite(fpa)) and np.all(fpa >= 0.0)):
        raise invalid("footprint_m", "values outside [0, inf)", "None or footprints >= 0 m")
    xb, yb, fb = np.broadcast_arrays(np.asarray(x_m, np.float64), np.asarray(y_m, np.float64), fpa)
    shape = xb.shape
    x = np.ascontiguousarray(xb).ravel()
    y = np.ascontiguousarray(yb).ravel()
    fp = np.ascontiguousarray(fb).ravel()
    # unit-gradient noise has an RMS of ~0.35 per octave (sampled over many lattice cells); octave k
    # has a variance ~ lam^(2 - b), normalised to a total of rms^2
    sigma1 = _unit_noise_rms()
    nk = max(1, int(math.floor(math.log2(hi / lo))) + 1)
    lam = lo * 2.0 ** np.arange(nk)
    wv = lam ** (2.0 - b)
    if nk > 1:
        wv[-1] *= 0.5           # the largest octave: half its share (the module constants' note)
    amp = r * np.sqrt(wv / wv.sum()) / sigma1
    nseed = np.uint64(int(s) ^ 0xA1BED0)
    keys = [np.uint64(K.key3(nseed, _TAG_ALBEDO, k, 0)) for k in range(nk)]
    th = np.array([2.0 * math.pi * K.uniform(k, 0) for k in keys])
    offu = np.array([1024.0 * K.uniform(k, 1) for k in keys])
    offv = np.array([1024.0 * K.uniform(k, 2) for k in keys])
    okeys = np.array([np.uint64(K.key3(nseed, _TAG_ALBEDO, k, 1)) for k in range(nk)], dtype=np.uint64)
    out = np.empty(x.size)
    wsq = np.empty(x.size)
    if x.size:
        K.albedo_kernel(x, y, fp, out, wsq, lam, amp, np.cos(th), np.sin(th), offu, offv, okeys)
    # mean correction: E[exp(n)] = exp(var / 2) for the octaves present at each point
    return np.exp(out - 0.5 * sigma1 * sigma1 * wsq).reshape(shape)


@functools.lru_cache(maxsize=1)
def _unit_noise_rms() -> float:
    """RMS of one octave of the unit-gradient noise (a fixed property of the noise function)."""
    from farside.terrain import _kernels_detail as K

    g = np.random.default_rng(0).uniform(0.0, 4096.0, (2, 200_000))
    out = np.empty(g.shape[1])
    K.albedo_kernel(g[0], g[1], np.zeros(g.shape[1]), out, np.empty(g.shape[1]), np.ones(1), np.ones(1), np.ones(1),
                    np.zeros(1), np.zeros(1), np.zeros(1), np.array([np.uint64(12345)], dtype=np.uint64))
    return float(np.std(out))
