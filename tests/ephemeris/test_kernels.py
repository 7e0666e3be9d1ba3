"""The bundled kernels, and that nothing is fetched at run time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from farside.ephemeris._data import kernel_paths, kernels

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "spice_moon"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("key", ["moon_pck", "moon_fk"])
def test_bundled_lunar_kernels_match_naif_copies(key: str) -> None:
    """lunarsky's copies are byte-identical to the NAIF kernels in ../shared/data/spice_moon (SOURCES.md)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent")
    ours = kernel_paths()[key]
    theirs = SHARED / ours.name
    assert theirs.is_file(), f"{theirs} missing from the shared data"
    assert _sha256(ours) == _sha256(theirs)


def test_coverage_is_the_pck_span_1900_2050() -> None:
    """moon_pa_de421_1900-2050.bpc covers the years 1900..2050 inclusive."""
    k = kernels()
    assert k.tdb_jd_min == pytest.approx(2415020.5)  # 1900-01-01 00:00 TDB
    assert k.tdb_jd_max == pytest.approx(2470172.5)  # 2051-01-01 00:00 TDB


def test_nothing_is_downloaded_or_written(tmp_path: Path) -> None:
    """A fresh interpreter with sockets disabled computes everything, writing no file in its cwd."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise RuntimeError("network access attempted")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        import warnings
        warnings.simplefilter("error")
        from farside.ephemeris import body_altaz, station_position_moon_me, sun_events
        alt, az, d = body_altaz("sun", -45.4446, 177.5991, ["2019-01-03T02:26:00Z", "2049-12-31T00:00:00Z"])
        station_position_moon_me(39.5, 76.0, 1300.0, "2019-01-03T02:26:00Z")
        sun_events(-45.4446, 177.5991, "2019-01-03T02:26:00Z", "2019-01-20T00:00:00Z")
        print("ok", alt.shape)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok (2,)"
    assert list(tmp_path.iterdir()) == []
