"""Benchmark: farside.ephemeris vs SPICE (spiceypy) on the same kernels.

Cases: apparent Sun and Earth elevation/azimuth at the Chang'e-4 site for one year at hourly steps
(8760 times, one vectorised farside call vs a spiceypy ``spkcpo`` loop with 'CN+S'), and the
sunrise/sunset/noon search over a year. Prints a table: case, farside [s], peer [s], ratio
(farside / peer), quality metric (max |difference| in degrees vs SPICE, or number of events).

Run: ``.venv/bin/python benchmarks/ephemeris.py`` (needs spiceypy, from the test extra).
"""

from __future__ import annotations

import math
import time

import numpy as np

from farside.constants import CE4_LAT_DEG, CE4_LON_DEG, MOON_RADIUS_M
from farside.ephemeris import body_altaz, enu_to_moon_me_matrix, seconds_to_utc, sun_events
from farside.ephemeris._data import kernel_paths
from farside.ephemeris.times import to_time


def _spice_altaz(sp, target: str, ets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = enu_to_moon_me_matrix(CE4_LAT_DEG, CE4_LON_DEG)
    obs_km = m[:, 2] * MOON_RADIUS_M / 1000.0
    alt = np.empty(ets.size)
    az = np.empty(ets.size)
    for i, et in enumerate(ets):
        state, _ = sp.spkcpo(target, float(et), "MOON_ME", "OBSERVER", "CN+S", obs_km, "MOON", "MOON_ME")
        r = m.T @ np.asarray(state[:3])
        alt[i] = math.degrees(math.asin(r[2] / np.linalg.norm(r)))
        az[i] = math.degrees(math.atan2(r[0], r[1])) % 360.0
    return alt, az


def main() -> None:
    import spiceypy as sp

    paths = kernel_paths()
    for key in ("de421", "moon_pck", "moon_fk"):
        sp.furnsh(str(paths[key]))
    times = seconds_to_utc("2019-01-01T00:00:00Z", np.arange(8760) * 3600.0, places=0)
    t = to_time(times)
    ets = (t.tdb - 2451545.0) * 86400.0  # same instants for both (time conversion not timed)
    body_altaz("sun", CE4_LAT_DEG, CE4_LON_DEG, times[:2])  # load kernels outside the timing

    rows = []
    for body, target in (("sun", "SUN"), ("earth", "EARTH")):
        t0 = time.perf_counter()
        alt, az, _ = body_altaz(body, CE4_LAT_DEG, CE4_LON_DEG, times)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        alt_ref, az_ref = _spice_altaz(sp, target, ets)
        t_peer = time.perf_counter() - t0
        daz = np.abs((az - az_ref + 180.0) % 360.0 - 180.0)
        err = max(float(np.max(np.abs(alt - alt_ref))), float(np.max(daz)))
        rows.append((f"{body} alt/az, 1 yr hourly (8760)", t_ours, t_peer, f"max |d| = {err:.1e} deg"))

    t0 = time.perf_counter()
    ev = sun_events(CE4_LAT_DEG, CE4_LON_DEG, "2019-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
    t_ours = time.perf_counter() - t0
    # peer: the same 1-hour scan done with spkcpo (SPICE's gf* finders need an ephemeris object as
    # observer, not a constant surface position), counting sign changes without refinement.
    t0 = time.perf_counter()
    alt_ref, _ = _spice_altaz(sp, "SUN", ets)
    crossings = int(np.count_nonzero(np.diff(np.signbit(alt_ref))))
    t_peer = time.perf_counter() - t0
    n_rs = sum(e.kind != "noon" for e in ev)
    rows.append(("sunrise/sunset/noon search, 1 yr", t_ours, t_peer, f"{n_rs} rise/set (SPICE scan: {crossings})"))

    print(f"{'case':<40} {'farside [s]':>12} {'peer [s]':>10} {'ratio':>7}  quality")
    for case, a, b, q in rows:
        print(f"{case:<40} {a:>12.3f} {b:>10.3f} {a / b:>7.2f}  {q}")
    print("peer: spiceypy", sp.tkvrsn("TOOLKIT"), "(spkcpo loop; the search row's peer only scans, without refinement)")


if __name__ == "__main__":
    main()
