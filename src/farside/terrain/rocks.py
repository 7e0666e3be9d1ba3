"""Rock populations: the Golombek & Rapp exponential model plus ejecta blocks of fresh craters.

Background population
---------------------
Golombek & Rapp (1997), as restated by Golombek et al. (2003) (docs/references.md 7.3): the cumulative
fractional area covered by rocks of diameter ``>= D`` is ``F_k(D) = k exp(-q(k) D)`` with
``q(k) = 1.79 + 0.152 / k`` (D in m, q in 1/m), ``k`` being the total rock abundance. The implied
number density per m^2 per m of diameter is ``n(D) = k q exp(-q D) / (pi D^2 / 4)``, which
:func:`sample_rocks` draws from (inverse CDF on a fine log grid, Poisson total count). At the
Chang'e-4 site ``k = 0.0021`` (Wu et al. 2021; docs/references.md 7.3) gives ``q = 74 /m``: the
background has ~1.6e-4 rocks >= 0.1 m per m^2 and essentially none >= 0.2 m.

Ejecta blocks (model assumptions, documented, not fitted to a CE-4 count)
-------------------------------------------------------------------------
Diviner rock abundance reaches ~0.05 at young craters in the Von Karman region (Guo et al. 2019;
docs/references.md 1.3). :func:`sample_ejecta_blocks` gives each *blocky* crater an ejecta rock
abundance ``k(r) = k0 (r/R)^-3`` on ``R < r < 3R`` (thinning like the ejecta blanket), with
``k0 = ejecta_abundance * (1 - u / block_life_fraction)``: blocks break down faster than the
crater degrades (Basilevsky et al. 2013), so only craters in the first ``block_life_fraction`` of
their degradation life carry them (``u`` as in :mod:`farside.terrain.craters`). Only craters with
``D >= blocky_min_diameter_m`` excavate below the fine-grained regolith (Quaide & Oberbeck 1968:
blocky craters need D >~ 4x the regolith thickness). Block sizes follow the exponential model's
size distribution for ``q(ejecta_abundance)``, capped at ``max_block_ratio * D``.

Rock heights are ``height_m = diameter_m * U(0.3, 0.7)`` (half-buried rocks; mean height/diameter
0.5 as assumed by Golombek & Rapp 1997).

Shape
-----
The table holds sizes only. Every consumer (the site DEM's stamp, the regolith patches, the
descent's truth surface and lidar, the rover's wheel contact, the renderer's sub-DEM rocks) draws a
rock as the same seeded convex polyhedron (:func:`rock_shapes`): angular facets, footprint area of
the table's diameter, highest point ``height_m`` above its seat, half buried, with a regolith fillet
round its base; its key is a hash of its position (:func:`rock_shape_keys`).
"""

from __future__ import annotations

import hashlib
import math
import threading

import numpy as np
import pandas as pd

from farside.errors import invalid

__all__ = [
    "rock_q",
    "rock_cfa",
    "rock_number_density",
    "sample_rocks",
    "sample_ejecta_blocks",
    "stamp_rocks",
    "rock_shapes",
    "rock_shape_keys",
    "rock_cliff",
    "ROCK_SHAPE_SEED",
    "ROCK_BURIED_FRACTION",
    "ROCK_FILLET_HEIGHT",
    "ROCK_FILLET_WIDTH",
]

_HEIGHT_RATIO_RANGE = (0.3, 0.7)


def _check_k(k: float, name: str = "k") -> float:
    kk = float(k)
    if not (math.isfinite(kk) and 0.0 <= kk < 1.0):
        raise invalid(name, k, "a rock abundance (fractional area) in [0, 1)")
    return kk


def rock_q(k):
    """Golombek & Rapp ``q(k) = 1.79 + 0.152 / k`` in 1/m (docs/references.md 7.3); ``k`` in (0, 1)."""
    kk = np.asarray(k, dtype=float)
    if not np.all(np.isfinite(kk)) or np.any(kk <= 0) or np.any(kk >= 1):
        raise invalid("k", k, "rock abundances in (0, 1)")
    return 1.79 + 0.152 / kk


def rock_cfa(D_m, k):
    """Cumulative fractional area covered by rocks of diameter >= ``D_m``: ``k exp(-q(k) D)``."""
    d = np.asarray(D_m, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise invalid("D_m", D_m, "finite diameters >= 0 m")
    return np.asarray(k, dtype=float) * np.exp(-rock_q(k) * d)


def rock_number_density(D_m, k, *, q: float | None = None):
    """Rocks per m^2 per m of diameter implied by the exponential CFA (``q`` defaults to q(k))."""
    d = np.asarray(D_m, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise invalid("D_m", D_m, "finite diameters > 0 m")
    qq = rock_q(k) if q is None else q
    return k * qq * np.exp(-qq * d) / (np.pi * d ** 2 / 4.0)


def _cumulative_count_table(q: float, d_min: float, d_max: float, n: int = 4001):
    """Grid g (increasing) and G(g) = number per m^2 per unit k with diameter in [g, d_max]."""
    g = np.geomspace(d_min, d_max, n)
    dens = q * np.exp(-q * g) / (np.pi * g ** 2 / 4.0) * g  # per d(ln D)
    lg = np.log(g)
    seg = 0.5 * (dens[1:] + dens[:-1]) * np.diff(lg)
    G = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
    return g, G


def _draw_sizes(g: np.ndarray, G: np.ndarray, lo_count: np.ndarray, hi_count: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Invert G (decreasing) for targets uniform between hi_count and lo_count."""
    v = rng.random(lo_count.shape)
    target = lo_count - v * (lo_count - hi_count)
    return np.exp(np.interp(-target, -G, np.log(g)))


def _heights(d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lo, hi = _HEIGHT_RATIO_RANGE
    return d * (lo + (hi - lo) * rng.random(d.size))


def _check_extent(extent_m) -> tuple[float, float, float, float]:
    vals = tuple(float(v) for v in extent_m)
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals) or vals[1] <= vals[0] or vals[3] <= vals[2]:
        raise invalid("extent_m", extent_m, "(x_min, x_max, y_min, y_max) with max > min")
    return vals  # type: ignore[return-value]


def sample_rocks(
    extent_m: tuple[float, float, float, float],
    *,
    k: float,
    rng: np.random.Generator,
    min_diameter_m: float = 0.1,
    max_diameter_m: float = 10.0,
) -> pd.DataFrame:
    """Background rocks over ``extent_m`` (x_min, x_max, y_min, y_max; site ENU metres) from the
    Golombek & Rapp model with abundance ``k`` (only diameters in [min, max] are drawn).

    Returns columns ``x_m, y_m, diameter_m, height_m, source`` (``"background"``), ``crater``
    (-1).
    """
    x_min, x_max, y_min, y_max = _check_extent(extent_m)
    kk = _check_k(k)
    if not (math.isfinite(min_diameter_m) and min_diameter_m > 0):
        raise invalid("min_diameter_m", min_diameter_m, "a finite diameter > 0 m")
    if not (math.isfinite(max_diameter_m) and max_diameter_m > min_diameter_m):
        raise invalid("max_diameter_m", max_diameter_m, f"a finite diameter > {min_diameter_m} m")
    if kk == 0.0:
        return _rock_frame(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), "background", np.zeros(0, int))
    q = float(rock_q(kk))
    g, G = _cumulative_count_table(q, min_diameter_m, max_diameter_m)
    area = (x_max - x_min) * (y_max - y_min)
    n = int(rng.poisson(kk * G[0] * area))
    d = _draw_sizes(g, G, np.full(n, G[0]), np.zeros(n), rng)
    x = x_min + rng.random(n) * (x_max - x_min)
    y = y_min + rng.random(n) * (y_max - y_min)
    return _rock_frame(x, y, d, _heights(d, rng), "background", np.full(n, -1))


def _rock_frame(x, y, d, h, source, crater) -> pd.DataFrame:
    return pd.DataFrame({
        "x_m": np.asarray(x, float),
        "y_m": np.asarray(y, float),
        "diameter_m": np.asarray(d, float),
        "height_m": np.asarray(h, float),
        "source": pd.Categorical([source] * len(x), categories=["background", "ejecta"]),
        "crater": np.asarray(crater, np.int64),
    })


def sample_ejecta_blocks(
    craters: pd.DataFrame,
    extent_m: tuple[float, float, float, float],
    *,
    rng: np.random.Generator,
    ejecta_abundance: float = 0.05,
    blocky_min_diameter_m: float = 20.0,
    block_life_fraction: float = 0.1,
    max_block_ratio: float = 0.1,
    min_diameter_m: float = 0.1,
    max_diameter_m: float = 10.0,
) -> pd.DataFrame:
    """Ejecta blocks around the fresh, blocky craters of ``craters`` (columns ``x_m, y_m,
    diameter_m, u``), kept where they fall inside ``extent_m``. See the module docstring for the
    model. ``crater`` gives the row position of the parent crater in ``craters``."""
    x_min, x_max, y_min, y_max = _check_extent(extent_m)
    ke = _check_k(ejecta_abundance, "ejecta_abundance")
    for name, v in (("blocky_min_diameter_m", blocky_min_diameter_m), ("block_life_fraction", block_life_fraction),
                    ("max_block_ratio", max_block_ratio), ("min_diameter_m", min_diameter_m)):
        if not (math.isfinite(v) and v > 0):
            raise invalid(name, v, "a finite number > 0")
    if not (math.isfinite(max_diameter_m) and max_diameter_m > min_diameter_m):
        raise invalid("max_diameter_m", max_diameter_m, f"a finite diameter > {min_diameter_m} m")
    empty = _rock_frame([], [], [], [], "ejecta", [])
    if ke == 0.0 or len(craters) == 0:
        return empty
    D = craters["diameter_m"].to_numpy(float)
    u = craters["u"].to_numpy(float)
    sel = np.flatnonzero((D >= blocky_min_diameter_m) & (u < block_life_fraction)
                         & (max_block_ratio * D > min_diameter_m))
    if sel.size == 0:
        return empty
    q = float(rock_q(ke))
    g, G = _cumulative_count_table(q, min_diameter_m, max_diameter_m)
    k0 = ke * (1.0 - u[sel] / block_life_fraction)
    R = D[sel] / 2.0
    bmax = np.minimum(max_block_ratio * D[sel], max_diameter_m)
    G_hi = np.interp(np.log(bmax), np.log(g), G)
    lam = (G[0] - G_hi) * k0 * (4.0 * np.pi / 3.0) * R ** 2
    counts = rng.poisson(lam)
    idx = np.repeat(np.arange(sel.size), counts)
    n = idx.size
    d = _draw_sizes(g, G, np.full(n, G[0]), G_hi[idx], rng)
    v = rng.random(n)
    Rr = R[idx]
    r = 1.0 / (1.0 / Rr - v * (2.0 / 3.0) / Rr)  # pdf ~ r^-2 on [R, 3R]
    phi = rng.random(n) * 2.0 * np.pi
    x = craters["x_m"].to_numpy(float)[sel][idx] + r * np.cos(phi)
    y = craters["y_m"].to_numpy(float)[sel][idx] + r * np.sin(phi)
    h = _heights(d, rng)
    keep = (x >= x_min) & (x < x_max) & (y >= y_min) & (y < y_max)
    return _rock_frame(x[keep], y[keep], d[keep], h[keep], "ejecta", sel[idx][keep])


#: Key of every table rock's shape: a position-only hash (the positions are already seeded by the
#: scenario's rock streams), so the site DEM, the regolith patches, the descent, the rover and the
#: renderer, which do not all see the scenario seed, draw the same polyhedron for the same rock.
ROCK_SHAPE_SEED = 0x4345345F524F434B
_TAG_ROCK_SHAPE = 4
_SHAPES_CACHE: dict = {}
_SHAPES_LOCK = threading.Lock()
#: Fraction of a rock's body under the regolith (0.5: half buried, the assumption behind the
#: height/diameter of 0.5 of Golombek & Rapp) UNCONFIRMED; with 0.5 the flanks reach the ground
#: without a vertical step (:mod:`farside.terrain.detail`, ``buried_fraction``).
ROCK_BURIED_FRACTION = 0.5
#: Regolith fillet round a rock's base: height at the footprint edge as a fraction of the rock's
#: height, and extent beyond the edge as a fraction of its radius. UNCONFIRMED (visual assumption).
ROCK_FILLET_HEIGHT = 0.08
ROCK_FILLET_WIDTH = 0.3


def rock_cliff(buried_fraction: float) -> float:
    """Vertical step at the footprint edge, as a fraction of the height, of a rock whose lower
    ``buried_fraction`` is under the regolith: ``max(0, (0.5 - f) / (1 - f))``."""
    f = float(buried_fraction)
    return max(0.0, (0.5 - f) / (1.0 - f))


def rock_shape_keys(x_m, y_m) -> np.ndarray:
    """uint64 shape keys of rocks centred at (x_m, y_m): a hash of :data:`ROCK_SHAPE_SEED` and the
    coordinates (to the micrometre)."""
    from farside.terrain._kernels_detail import keys_from_xy

    x = np.ascontiguousarray(x_m, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y_m, dtype=np.float64).ravel()
    return keys_from_xy(np.uint64(ROCK_SHAPE_SEED), _TAG_ROCK_SHAPE, x, y)


def rock_shapes(rocks, *, buried_fraction: float = ROCK_BURIED_FRACTION, fillet_height: float = ROCK_FILLET_HEIGHT,
                fillet_width: float = ROCK_FILLET_WIDTH) -> np.ndarray:
    """The geometry of every rock of a table (columns ``x_m, y_m, diameter_m, height_m``; or an
    (n, >= 4) array in that order): one float64 row per rock (layout in
    :mod:`farside.terrain._kernels_rockshape`) holding the planes of its seeded convex polyhedron
    (:func:`farside.terrain._kernels_detail.build_rock`: 5-9 side facets dipping 40-70 deg, two
    top facets tilted 0-15 deg; footprint area that of the table's diameter, highest point the
    table's ``height_m`` above the seat, to the ~0.3 % of build_rock's grid search), its footprint
    half-planes and its fillet. The key of each shape is :func:`rock_shape_keys` of its position,
    so every consumer gets the same rock. The result is read-only and cached for the last few
    tables (a site's table is packed once for all the scenes and indexes built on it; about
    90 us a rock, over the numba threads)."""
    from farside.terrain._kernels_rockshape import pack_rocks

    if isinstance(rocks, pd.DataFrame):
        cols = [rocks[c].to_numpy(float) for c in ("x_m", "y_m", "diameter_m", "height_m")]
    else:
        a = np.asarray(rocks, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] < 4:
            raise invalid("rocks", f"an array of shape {a.shape}", "a rock table or an (n, >= 4) array x, y, D, H")
        cols = [a[:, c] for c in range(4)]
    x, y, d, h = (np.ascontiguousarray(c, dtype=np.float64) for c in cols)
    if not (np.all(np.isfinite(d)) and np.all(d > 0) and np.all(np.isfinite(h)) and np.all(h > 0)):
        raise invalid("rocks", "a non-positive or non-finite size", "diameter_m and height_m > 0 m")
    f = float(buried_fraction)
    if not (math.isfinite(f) and 0.0 <= f <= 0.5):
        raise invalid("buried_fraction", buried_fraction, "a fraction in [0, 0.5]")
    if not (math.isfinite(fillet_height) and 0.0 <= fillet_height <= 0.5):
        raise invalid("fillet_height", fillet_height, "a fraction of the rock height in [0, 0.5]")
    if not (math.isfinite(fillet_width) and 0.0 < fillet_width <= 2.0):
        raise invalid("fillet_width", fillet_width, "a fraction of the radius in (0, 2]")
    key = (hashlib.blake2b(b"".join(np.ascontiguousarray(c).tobytes() for c in (x, y, d, h)), digest_size=16).digest(),
           rock_cliff(f), float(fillet_height), float(fillet_width))
    with _SHAPES_LOCK:
        hit = _SHAPES_CACHE.get(key)
    if hit is not None:
        return hit
    out = pack_rocks(x, y, d, h, rock_shape_keys(x, y), rock_cliff(f), float(fillet_height), float(fillet_width))
    out.flags.writeable = False
    with _SHAPES_LOCK:
        _SHAPES_CACHE[key] = out
        while len(_SHAPES_CACHE) > 4:
            _SHAPES_CACHE.pop(next(iter(_SHAPES_CACHE)))
    return out


def stamp_rocks(
    heights: np.ndarray,
    rocks: pd.DataFrame,
    *,
    resolution_m: float,
    x0_m: float,
    y0_m: float,
    min_pixels: float = 2.0,
) -> np.ndarray:
    """Stamp rocks wider than ``min_pixels`` pixels into a float64 copy of ``heights`` with their
    polyhedral shape (:func:`rock_shapes`): ``z = max(z, seat + top)`` at each pixel centre, the
    seat being the mean of the unstamped DEM's mesh at the centre and +-R/2 along x and y (the
    regolith patches' rule); the pixel holding a rock's highest point takes its full height, so
    the DEM keeps every stamped rock's full height. Returns the new array."""
    from farside.terrain._kernels_rockshape import seats_kernel, stamp_shapes_kernel

    base = np.ascontiguousarray(heights, dtype=np.float64)
    z = np.array(base, copy=True)
    if not (math.isfinite(resolution_m) and resolution_m > 0):
        raise invalid("resolution_m", resolution_m, "a finite number > 0")
    big = rocks["diameter_m"].to_numpy(float) > min_pixels * resolution_m
    if big.any():
        g = rock_shapes(rocks[big])
        seats = seats_kernel(base, float(x0_m), float(y0_m), float(resolution_m), g)
        stamp_shapes_kernel(z, float(x0_m), float(y0_m), float(resolution_m), g, seats)
    return z
