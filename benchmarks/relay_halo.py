"""Benchmark: L2 halo family + one-year contact plan (issue 4), beside named peers.

Cases
-----
1. ``halo member`` - differential correction of L2 northern halo members from a perturbed guess
   (x0 + 1e-4, vy0 - 1e-4, z0 fixed), per member. farside (numba DOP853 + STM) vs
   * Orekit 13 (``orekit-jpype``): ``org.orekit.orbits.HaloOrbit.applyDifferentialCorrection``
     on a CR3BPSystem built with the JPL catalogue mu and LU (the bodies are minimal CelestialBody
     stand-ins carrying GM only; Orekit needs no data files for CR3BP), and
   * scipy ``solve_ivp`` (DOP853, rtol = atol = 1e-12, y = 0 event) single shooting with the STM,
   * heyoka (Taylor integrator at machine-epsilon tolerance, the STM from its variational
     equations, the y = 0 crossing as a terminal event), the same shooting.
   Quality: closure after one period (max-norm, nondimensional) of each result, all measured
   with the same farside propagator.
2. ``L2 family`` - farside pseudo-arclength continuation of >= 200 members (wall time, per
   member, worst closure); the peer column is Orekit's per-member time x the member count.
3. ``contact plan 1 yr @ 1 min`` - farside's contact plan (525,960 samples: site elevation with
   the relay, 3 ground stations, link rates); the peer is direct evaluation of farside.ephemeris
   (skyfield) at every sample without the spline factorisation, timed on one day and scaled to
   the year. Quality: max |relay elevation difference| (site) and max |station elevation
   difference| over that day.

Run: ``.venv/bin/python benchmarks/relay_halo.py [--orekit-members 5]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _table import print_table  # benchmarks/, run as a script


def _orekit_corrector():
    import orekit_jpype as orekit

    orekit.initVM()
    from jpype import JClass, JDouble, JImplements, JOverride

    from farside.orbit import EARTH_MOON

    frames = JClass("org.orekit.frames.FramesFactory")

    @JImplements("org.orekit.bodies.CelestialBody")
    class Body:
        def __init__(self, name, gm):
            self._n, self._gm = name, gm

        @JOverride
        def getName(self):
            return self._n

        @JOverride
        def getGM(self):
            return JDouble(self._gm)

        @JOverride
        def getInertiallyOrientedFrame(self):
            return frames.getGCRF()

        @JOverride
        def getBodyOrientedFrame(self):
            return frames.getGCRF()

        @JOverride
        def getPVCoordinates(self, date, frame):
            raise RuntimeError("no ephemeris needed for CR3BP")

        @JOverride
        def getPosition(self, date, frame):
            raise RuntimeError("no ephemeris needed for CR3BP")

    mu, lu, tu = EARTH_MOON.mu, EARTH_MOON.lu_m, EARTH_MOON.tu_s
    gm = lu**3 / tu**2
    system = JClass("org.orekit.bodies.CR3BPSystem")(Body("Earth", gm * (1 - mu)), Body("Moon", gm * mu), lu, mu)
    pvc = JClass("org.orekit.utils.PVCoordinates")
    v3 = JClass("org.hipparchus.geometry.euclidean.threed.Vector3D")
    halo = JClass("org.orekit.orbits.HaloOrbit")

    def correct(guess, period):
        h = halo(system, pvc(v3(float(guess[0]), 0.0, float(guess[2])), v3(0.0, float(guess[4]), 0.0)), float(period))
        h.applyDifferentialCorrection()
        p = h.getInitialPV()
        pos, vel = p.getPosition(), p.getVelocity()
        return np.array([pos.getX(), pos.getY(), pos.getZ(), vel.getX(), vel.getY(), vel.getZ()]), float(h.getOrbitalPeriod())

    # warm the JVM's JIT on one member so the timing is of steady-state work
    return correct


def _scipy_corrector(mu):
    from scipy.integrate import solve_ivp

    from farside.orbit import _kernels

    def f(t, s):
        out = np.empty(42)
        _kernels.rhs(mu, s, out)  # the same vector field (numba-compiled); only the integrator differs
        return out

    def ev(t, s):
        return s[1]

    ev.terminal = True
    ev.direction = 0

    def correct(guess):
        x, z, vy = guess[0], guess[2], guess[4]
        for _ in range(30):
            s0 = np.concatenate([[x, 0, z, 0, vy, 0], np.eye(6).ravel()])
            # leave the y = 0 plane first (scipy would report the root at t = 0), then integrate
            # to the next crossing with the event
            pre = solve_ivp(f, (0, 0.05), s0, method="DOP853", rtol=1e-12, atol=1e-12)
            sol = solve_ivp(f, (0.05, 10.0), pre.y[:, -1], method="DOP853", rtol=1e-12, atol=1e-12, events=ev)
            th = sol.t_events[0][0]
            sh = sol.y_events[0][0]
            phi = sh[6:].reshape(6, 6)
            d = f(0, sh)
            if abs(sh[3]) < 1e-12 and abs(sh[5]) < 1e-12:
                return np.array([x, 0, z, 0, vy, 0]), 2 * th
            a = np.array([[phi[3, 0], phi[3, 4]], [phi[5, 0], phi[5, 4]]]) - np.outer([d[3], d[5]], [phi[1, 0], phi[1, 4]]) / d[1]
            dx, dvy = np.linalg.solve(a, [-sh[3], -sh[5]])
            x, vy = x + dx, vy + dvy
        raise RuntimeError("scipy shooting did not converge")

    return correct


def _heyoka_corrector(mu):
    """The same single-shooting corrector as the scipy peer, propagated by heyoka (Taylor
    method, tolerance = machine epsilon, variational equations for the STM generated by
    ``var_ode_sys``; the y = 0 crossing is a terminal event). The integrator is compiled once
    (LLVM, compact mode), outside the timing."""
    import heyoka as hy

    x, y, z, vx, vy, vz = hy.make_vars("x", "y", "z", "vx", "vy", "vz")
    r1 = hy.sqrt((x + mu) ** 2 + y ** 2 + z ** 2)
    r2 = hy.sqrt((x - 1 + mu) ** 2 + y ** 2 + z ** 2)
    ode = [(x, vx), (y, vy), (z, vz),
           (vx, 2 * vy + x - (1 - mu) * (x + mu) / r1 ** 3 - mu * (x - 1 + mu) / r2 ** 3),
           (vy, -2 * vx + y - (1 - mu) * y / r1 ** 3 - mu * y / r2 ** 3),
           (vz, -(1 - mu) * z / r1 ** 3 - mu * z / r2 ** 3)]
    ta = hy.taylor_adaptive(hy.var_ode_sys(ode, hy.var_args.vars, order=1), [0.0] * 6, compact_mode=True,
                            t_events=[hy.t_event(y)])

    def accel(r):
        a1 = np.sqrt((r[0] + mu) ** 2 + r[1] ** 2 + r[2] ** 2) ** 3
        a2 = np.sqrt((r[0] - 1 + mu) ** 2 + r[1] ** 2 + r[2] ** 2) ** 3
        return (2 * r[4] + r[0] - (1 - mu) * (r[0] + mu) / a1 - mu * (r[0] - 1 + mu) / a2,
                -(1 - mu) * r[2] / a1 - mu * r[2] / a2)

    def correct(guess):
        x0, z0, vy0 = guess[0], guess[2], guess[4]
        for _ in range(30):
            ta.time = 0.0
            ta.state[:6] = [x0, 0.0, z0, 0.0, vy0, 0.0]
            ta.state[6:] = np.eye(6).ravel()        # d state_i / d state0_j, row-major
            ta.propagate_until(0.05)                # leave the y = 0 plane, then stop at the next crossing
            ta.propagate_until(10.0)
            sh = ta.state[:6].copy()
            phi = ta.state[6:].reshape(6, 6)
            if abs(sh[3]) < 1e-12 and abs(sh[5]) < 1e-12:
                return np.array([x0, 0, z0, 0, vy0, 0]), 2 * ta.time
            ax, az = accel(sh)
            a = (np.array([[phi[3, 0], phi[3, 4]], [phi[5, 0], phi[5, 4]]])
                 - np.outer([ax, az], [phi[1, 0], phi[1, 4]]) / sh[4])
            dx, dvy = np.linalg.solve(a, [-sh[3], -sh[5]])
            x0, vy0 = x0 + dx, vy0 + dvy
        raise RuntimeError("heyoka shooting did not converge")

    return correct


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orekit-members", type=int, default=5)
    ap.add_argument("--scipy-members", type=int, default=5)
    args = ap.parse_args(argv)

    from farside.orbit import EARTH_MOON, correct_halo, halo_family

    mu = EARTH_MOON.mu
    rows = []

    # warm-up (numba compile from cache)
    halo_family(n_members=3)
    t0 = time.perf_counter()
    fam = halo_family(libration_point="L2", branch="north", n_members=100_000, step=1.5e-3)
    t_fam = time.perf_counter() - t0
    n = len(fam)
    per_fs_fam = t_fam / n

    # members to compare: spread along the family
    pick = np.linspace(0, n - 1, max(args.orekit_members, args.scipy_members)).astype(int)
    members = [fam.member(i) for i in pick]
    pert = np.array([1e-4, 0, 0, 0, -1e-4, 0])

    t0 = time.perf_counter()
    fs_out = [correct_halo(m.state0 + pert, fix="z") for m in members]
    per_fs = (time.perf_counter() - t0) / len(members)
    fs_clos = max(o.closure_error() for o in fs_out)

    from farside.orbit import HaloOrbit

    ore_per, ore_clos, ore_note = None, None, ""
    try:
        correct = _orekit_corrector()
        correct(members[0].state0 + pert, members[0].period)  # JIT warm-up
        t0 = time.perf_counter()
        outs = [correct(m.state0 + pert, m.period) for m in members[: args.orekit_members]]
        ore_per = (time.perf_counter() - t0) / len(outs)
        ore_clos = max(HaloOrbit(s, T).closure_error() for s, T in outs)
    except Exception as e:  # report, do not hide
        ore_note = f"orekit failed: {type(e).__name__}: {e}"

    sc = _scipy_corrector(mu)
    t0 = time.perf_counter()
    souts = [sc(m.state0 + pert) for m in members[: args.scipy_members]]
    sp_per = (time.perf_counter() - t0) / len(souts)
    sp_clos = max(HaloOrbit(s, T).closure_error() for s, T in souts)

    hy_per, hy_clos, hy_note = None, None, ""
    try:
        hc = _heyoka_corrector(mu)
        hc(members[0].state0 + pert)                # warm-up
        t0 = time.perf_counter()
        houts = [hc(m.state0 + pert) for m in members[: args.scipy_members]]
        hy_per = (time.perf_counter() - t0) / len(houts)
        hy_clos = max(HaloOrbit(s, T).closure_error() for s, T in houts)
    except ImportError as e:
        hy_note = f"heyoka not installed ({e}): pip install -e '.[bench]'"
    if hy_per is not None:
        rows.append(("halo member, corrector (s/member) vs heyoka (Taylor, var_ode_sys)", f"{per_fs:.2e}",
                     f"{hy_per:.2e}", f"{hy_per / per_fs:.1f}x",
                     f"closure farside {fs_clos:.1e}, heyoka {hy_clos:.1e}"))
    if ore_per is not None:
        rows.append(("halo member, corrector (s/member) vs Orekit", f"{per_fs:.2e}", f"{ore_per:.2e}",
                     f"{ore_per / per_fs:.0f}x", f"closure farside {fs_clos:.1e}, orekit {ore_clos:.1e}"))
    rows.append(("halo member, corrector (s/member) vs scipy DOP853", f"{per_fs:.2e}", f"{sp_per:.2e}",
                 f"{sp_per / per_fs:.0f}x", f"closure farside {fs_clos:.1e}, scipy {sp_clos:.1e}"))
    peer_fam = (ore_per if ore_per is not None else sp_per) * n
    rows.append((f"L2 family, {n} members, continuation (s)", f"{t_fam:.2f}", f"{peer_fam:.1f} (est.)",
                 f"{peer_fam / t_fam:.0f}x", f"max closure {fam.closure.max():.1e}; {per_fs_fam:.1e} s/member"))

    # contact plan
    from farside.comms import DEFAULT_STATIONS, contact_plan
    from farside.comms.horizon import elevation_azimuth
    from farside.constants import CE4_ELEVATION_M, CE4_LAT_DEG, CE4_LON_DEG, CE4_TOUCHDOWN_UTC
    from farside.ephemeris import (body_position_moon_me, earth_moon_state_icrf, enu_to_moon_me_matrix,
                                   icrf_to_moon_me_matrix, seconds_to_utc, site_position_moon_me,
                                   station_position_moon_me)
    from farside.orbit import halo_orbit
    from farside.orbit.placement import place_orbit

    year = 365.25 * 86400.0
    orbit = halo_orbit(libration_point="L2", branch="north", az_km=13_000.0)
    t0 = time.perf_counter()
    placed = place_orbit(orbit, CE4_TOUCHDOWN_UTC, t_end_s=year + 60.0)
    t = np.arange(0.0, year + 1.0, 60.0)
    plan = contact_plan(placed, t, lat_deg=CE4_LAT_DEG, lon_deg=CE4_LON_DEG, height_m=CE4_ELEVATION_M)
    t_plan = time.perf_counter() - t0

    # peer: direct ephemeris evaluation, every minute of day 1 (no splines)
    td = np.arange(0.0, 86400.0, 60.0)
    t0 = time.perf_counter()
    times = seconds_to_utc(CE4_TOUCHDOWN_UTC, td, places=6)
    r, v = earth_moon_state_icrf(times)
    dist = np.linalg.norm(r, axis=1)
    x = r / dist[:, None]
    z = np.cross(r, v)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    y = np.cross(z, x)
    rot = icrf_to_moon_me_matrix(times)
    xs = orbit.states(placed.tau0 + td / EARTH_MOON.tu_s)
    rel = (xs[:, :3] - np.array([1 - mu, 0, 0])) * dist[:, None]
    r_icrf = rel[:, :1] * x + rel[:, 1:2] * y + rel[:, 2:3] * z
    r_me = np.einsum("nij,nj->ni", rot, r_icrf)
    el_direct = elevation_azimuth(r_me, site_position_moon_me(CE4_LAT_DEG, CE4_LON_DEG, CE4_ELEVATION_M),
                                  enu_to_moon_me_matrix(CE4_LAT_DEG, CE4_LON_DEG))[0]
    st_el = []
    for st in DEFAULT_STATIONS:
        p0 = station_position_moon_me(st.lat_deg, st.lon_deg, st.height_m, times)
        p1 = station_position_moon_me(st.lat_deg, st.lon_deg, st.height_m + 1000.0, times)
        up = (p1 - p0) / 1000.0
        d = r_me - p0
        st_el.append(np.degrees(np.arcsin(np.sum(d * up, 1) / np.linalg.norm(d, axis=1))))
    _ = body_position_moon_me("earth", times)
    t_direct_day = time.perf_counter() - t0
    k = td.size
    d_site = np.max(np.abs(el_direct - plan.relay_el_deg[:k]))
    d_st = max(np.max(np.abs(st_el[j] - plan.station_el_deg[:k, j])) for j in range(len(DEFAULT_STATIONS)))
    peer_year = t_direct_day * (t.size / k)
    rows.append((f"contact plan 1 yr @ 1 min ({t.size} samples) (s)", f"{t_plan:.2f}", f"{peer_year:.0f} (est. from 1 day)",
                 f"{peer_year / t_plan:.0f}x", f"max |d el| site {d_site:.1e} deg, stations {d_st:.1e} deg"))
    print_table(("case", "farside", "peer", "ratio", "quality"), rows)
    print()
    print(f"relay visible from the CE-4 site over the year: {100 * plan.site_visible.mean():.3f} % "
          f"(5 deg mask, flat horizon); relay->ground: {100 * (plan.ground_station >= 0).mean():.2f} %")
    for note in (ore_note, hy_note):
        if note:
            print(note)


if __name__ == "__main__":
    main()
