"""numba kernels for farside.comms (private)."""

from __future__ import annotations

import numpy as np
from numba import njit

from farside.terrain.surface import surface_height_rc


@njit(cache=True)
def horizon_march(h, res, x0, y0, ox, oy, oz, az_rad, step, max_range, radius):
    """Horizon elevation (rad) per azimuth by marching the heightfield from (ox, oy, oz).

    Site ENU metres; azimuth from north through east; the sphere's curvature lowers a point at
    distance d by d^2 / (2 R). Samples outside the raster end the march. NaN heights are skipped.
    """
    nr, nc = h.shape
    out = np.empty(az_rad.shape[0])
    for k in range(az_rad.shape[0]):
        se = np.sin(az_rad[k])
        cn = np.cos(az_rad[k])
        best = -np.pi / 2
        d = step
        while d <= max_range:
            x = ox + d * se
            y = oy + d * cn
            col = (x - x0) / res - 0.5
            row = (y0 - y) / res - 0.5
            if row < -0.5 or col < -0.5 or row > nr - 0.5 or col > nc - 0.5:
                break
            z = surface_height_rc(h, row, col)
            if z == z:
                ang = np.arctan2(z - d * d / (2.0 * radius) - oz, d)
                if ang > best:
                    best = ang
            d += step
        out[k] = best
    return out


@njit(cache=True)
def store_and_forward(t_created, size_bits, source, order, cap_src, cap_ground, dt, t0,
                      src_store_bits, relay_store_bits):
    """Time-stepped two-hop store-and-forward simulation (see farside.comms.downlink).

    Products (sorted by ``order``: priority, then creation time) wait at their source (0 lander,
    1 rover, ...), cross the proximity link to the relay when it has capacity ``cap_src[s, k]``
    bits in step k, wait in the relay buffer and cross to the ground with ``cap_ground[k]``.
    A product is dropped at creation when its source store cannot hold it. Returns per product
    (t_at_relay, t_on_ground, dropped) and per step (relay buffer, source backlog).
    """
    n = t_created.shape[0]
    nsrc = cap_src.shape[0]
    nsteps = cap_ground.shape[0]
    rem_src = np.zeros(n)
    at_relay = np.zeros(n)
    delivered = np.zeros(n)
    t_relay = np.full(n, np.nan)
    t_ground = np.full(n, np.nan)
    dropped = np.zeros(n, dtype=np.bool_)
    arrived = np.zeros(n, dtype=np.bool_)
    relay_occ = np.zeros(nsteps)
    src_occ = np.zeros((nsrc, nsteps))
    src_used = np.zeros(nsrc)
    relay_used = 0.0
    # products in creation order for arrivals
    by_time = np.argsort(t_created, kind="mergesort")
    nxt = 0
    for k in range(nsteps):
        t_start = t0 + k * dt
        t_end = t_start + dt
        while nxt < n and t_created[by_time[nxt]] <= t_start:
            i = by_time[nxt]
            s = source[i]
            if src_used[s] + size_bits[i] > src_store_bits[s]:
                dropped[i] = True
            else:
                arrived[i] = True
                rem_src[i] = size_bits[i]
                src_used[s] += size_bits[i]
            nxt += 1
        # proximity hop, per source, in priority order
        for s in range(nsrc):
            cap = cap_src[s, k]
            if cap <= 0.0:
                continue
            for j in range(n):
                i = order[j]
                if source[i] != s or not arrived[i] or rem_src[i] <= 0.0:
                    continue
                free = relay_store_bits - relay_used
                if free <= 0.0 or cap <= 0.0:
                    break
                mv = min(rem_src[i], cap, free)
                rem_src[i] -= mv
                at_relay[i] += mv
                cap -= mv
                relay_used += mv
                src_used[s] -= mv
                if rem_src[i] <= 0.0:
                    # fraction of the step used: finish time interpolated in the step
                    t_relay[i] = t_end - dt * cap / cap_src[s, k]
        # ground hop, in priority order
        cap = cap_ground[k]
        if cap > 0.0:
            cap0 = cap
            for j in range(n):
                i = order[j]
                if at_relay[i] <= 0.0:
                    continue
                mv = min(at_relay[i], cap)
                at_relay[i] -= mv
                delivered[i] += mv
                relay_used -= mv
                cap -= mv
                if delivered[i] >= size_bits[i] and t_ground[i] != t_ground[i]:
                    t_ground[i] = max(t_end - dt * cap / cap0, t_relay[i])
                if cap <= 0.0:
                    break
        relay_occ[k] = relay_used
        for s in range(nsrc):
            src_occ[s, k] = src_used[s]
    return t_relay, t_ground, dropped, relay_occ, src_occ
