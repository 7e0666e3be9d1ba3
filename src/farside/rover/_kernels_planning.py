"""Numba kernels of the optimal grid path planner (private; :mod:`farside.rover.planning`).

Layout: the grid is copied into a raster padded with one ring of ``inf`` cells, flattened row-major
(padded width ``W = cols + 2``), so that a neighbour is a constant flat offset and the border needs
no bounds test (an ``inf`` cell is never entered). Each cell's cost and its best-known cost-so-far
``g`` sit side by side (``cg[2 v]``, ``cg[2 v + 1]``), so relaxing a neighbour touches one cache line.

Search: A* (Hart, Nilsson & Raphael 1968) with lazy deletion. Priority order is lexicographic on
``(f, -g, cell)`` -- lowest ``f = g + h`` first, ties to the deeper entry (larger ``g``), then to the
lower flat index -- a total order, so the expansion order and the path are deterministic. A popped
entry whose ``g`` is above the cell's best ``g`` is stale and skipped. A cell is re-expanded
whenever a cheaper ``g`` reaches it, so the result stays optimal even if floating-point rounding
made the heuristic inconsistent by an ulp; the search stops when the goal is popped.

Priority queue: a binary heap holds the entries of the current ``f`` bucket ``[b d, (b+1) d)``;
entries of later buckets wait unsorted in singly linked lists, one per bucket, in a circular window
of :data:`NBUCKET` buckets, and are heapified when their bucket becomes current (a two-level
"bucketed heap"; the pop order is exactly that of one binary heap with the same order, only the heap
stays small). The bucket width ``d = sqrt(2) (c_max + c_min) / (NBUCKET - 2)`` bounds the ``f``
increase over one step (``L (c_u + c_v) / 2 + h_v - h_u <= sqrt(2) c_max + sqrt(2) c_min``), so a
pushed entry never lands more than ``NBUCKET - 2`` buckets ahead and the window never wraps onto
itself. When a bucket becomes current, the cache lines around its cells are prefetched
(``llvm.prefetch``): on large grids the search is bound by the first touch of each frontier cell.
(On the 4096 x 4096 benchmark grid the bucketed heap is 2x faster than one heap of the whole
frontier, and the prefetch another 1.2x.)

Step cost (scikit-image ``MCP_Geometric``): ``L (c_u + c_v) / 2`` with ``L`` = 1 for an edge
neighbour, ``sqrt(2)`` for a diagonal one. Since ``(c_u + c_v) / 2 >= c_min`` (the grid's smallest
finite cost), every step of length ``L`` costs at least ``L c_min``; the octile distance (8-connected)
or Manhattan distance (4-connected) is the shortest step-length sum between two cells, and changes by
at most ``L`` over one step, so ``h = c_min x distance`` is admissible and consistent.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

SQRT2 = math.sqrt(2.0)

#: Status codes of :func:`prepare`.
OK = 0
HAS_NAN = 1
HAS_NEGATIVE = 2

#: Buckets in the circular window of the priority queue (a power of two).
NBUCKET = 1 << 15
_MASK = NBUCKET - 1

# _search return codes
_DONE = 0
_GROW_HEAP = 1
_GROW_POOL = 2

# search-state slots (int64 vector carried between _search calls)
_S_SIZE = 0  # entries in the current bucket's heap
_S_TOP = 1  # pool slots ever used
_S_FREE = 2  # head of the pool's free list (-1: empty)
_S_WAIT = 3  # entries waiting in later buckets
_S_ACTIVE = 4  # index of the current bucket
_S_EXPANDED = 5  # cells expanded
_S_FOUND = 6  # 1 once the goal is popped


# the typed-pointer name (LLVM 14, numba 0.59); newer LLVM (opaque pointers) remangles it to ".p0"
_PREFETCH = "llvm.prefetch.p0i8"


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the cache to fetch ``arr[idx]`` for writing (``llvm.prefetch``; never faults)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])  # write, keep, data
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def prepare(cost):
    """Copy ``cost`` (2-D float32/float64) into the padded, interleaved ``[cost, g]`` raster.

    Returns ``(cg, status, min_finite, max_finite)``: ``cg`` has ``2 (rows + 2) (cols + 2)``
    float64 values, the cost at even positions (``inf`` on the border) and ``g = inf`` at odd ones;
    ``status`` is :data:`OK`, :data:`HAS_NAN` or :data:`HAS_NEGATIVE` (first one found); the min and
    max are over the finite costs (``inf`` and ``-inf`` when there is none).
    """
    rows, cols = cost.shape
    w = cols + 2
    cg = np.empty(2 * (rows + 2) * w, dtype=np.float64)
    for j in range(2 * w):  # top and bottom border rows
        cg[j] = np.inf
        cg[2 * (rows + 1) * w + j] = np.inf
    status = OK
    cmin = np.inf
    cmax = -np.inf
    for i in range(rows):
        base = 2 * (i + 1) * w
        cg[base] = np.inf  # left border cell
        cg[base + 1] = np.inf
        for j in range(cols):
            v = np.float64(cost[i, j])
            if math.isnan(v):
                if status == OK:
                    status = HAS_NAN
            elif v < 0.0:
                if status == OK:
                    status = HAS_NEGATIVE
            elif v != np.inf:
                cmin = min(cmin, v)
                cmax = max(cmax, v)
            cg[base + 2 + 2 * j] = v
            cg[base + 3 + 2 * j] = np.inf
        cg[base + 2 * w - 2] = np.inf  # right border cell
        cg[base + 2 * w - 1] = np.inf
    return cg, status, cmin, cmax


@njit(cache=True, inline="always")
def _less(fa, ga, na, fb, gb, nb):
    """Priority order: ``(f, -g, cell)`` lexicographic."""
    if fa != fb:
        return fa < fb
    if ga != gb:
        return ga > gb
    return na < nb


@njit(cache=True, inline="always")
def _heuristic(r, c, gr, gc, cmin, connectivity):
    dr = abs(r - gr)
    dc = abs(c - gc)
    if connectivity == 8:
        return cmin * (dr + dc + (SQRT2 - 2.0) * min(dr, dc))  # octile distance
    return cmin * (dr + dc)  # Manhattan distance


@njit(cache=True)
def _search(cg, w, goal, connectivity, cmin, inv_width, off, length, dro, dco, parent,
            hf, hg, hn, pf, pg, pn, nxt, head, st):
    """Run the A* loop until the goal is popped, the queue empties, or an array may overflow.

    All state lives in the arrays and ``st`` (see the ``_S_*`` slots); the function returns
    :data:`_DONE` or asks its caller to enlarge the heap (:data:`_GROW_HEAP`) or the pool
    (:data:`_GROW_POOL`) and call again. It never reassigns an array, which keeps numba's
    reference counting out of the loop.
    """
    hcap = hf.size
    pcap = pf.size
    gr = goal // w
    gc = goal - gr * w
    size = st[_S_SIZE]
    top = st[_S_TOP]
    free = st[_S_FREE]
    nwait = st[_S_WAIT]
    active = st[_S_ACTIVE]
    expanded = st[_S_EXPANDED]
    code = _DONE
    while True:
        if size == 0:
            if nwait == 0:
                break  # queue empty: the goal is unreachable
            if nwait > hcap:
                code = _GROW_HEAP
                break
            # advance to the next non-empty bucket and heapify its list
            active += 1
            while head[active & _MASK] == -1:
                active += 1
            s = active & _MASK
            e = head[s]
            head[s] = -1
            while e != -1:
                # these cells are expanded within the next few pops: start fetching the three
                # rows of [cost, g] around each (the first touch of a frontier cell is a miss)
                q = 2 * pn[e]
                _prefetch(cg, q - 2 * w - 2)
                _prefetch(cg, q - 2 * w + 3)
                _prefetch(cg, q - 2)
                _prefetch(cg, q + 3)
                _prefetch(cg, q + 2 * w - 2)
                _prefetch(cg, q + 2 * w + 3)
                hf[size] = pf[e]
                hg[size] = pg[e]
                hn[size] = pn[e]
                size += 1
                nwait -= 1
                e2 = nxt[e]
                nxt[e] = free
                free = e
                e = e2
            for r in range((size - 2) // 2, -1, -1):
                lf = hf[r]
                lg = hg[r]
                ln = hn[r]
                i = r
                while True:
                    c = 2 * i + 1
                    if c >= size:
                        break
                    if c + 1 < size and _less(hf[c + 1], hg[c + 1], hn[c + 1], hf[c], hg[c], hn[c]):
                        c += 1
                    if _less(hf[c], hg[c], hn[c], lf, lg, ln):
                        hf[i] = hf[c]
                        hg[i] = hg[c]
                        hn[i] = hn[c]
                        i = c
                    else:
                        break
                hf[i] = lf
                hg[i] = lg
                hn[i] = ln
        # room for the up to 8 pushes of this expansion
        if size + 8 > hcap:
            code = _GROW_HEAP
            break
        if top + 8 > pcap:
            code = _GROW_POOL
            break
        # pop the heap's root
        gu = hg[0]
        u = hn[0]
        size -= 1
        if size > 0:
            lf = hf[size]
            lg = hg[size]
            ln = hn[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and _less(hf[c + 1], hg[c + 1], hn[c + 1], hf[c], hg[c], hn[c]):
                    c += 1
                if _less(hf[c], hg[c], hn[c], lf, lg, ln):
                    hf[i] = hf[c]
                    hg[i] = hg[c]
                    hn[i] = hn[c]
                    i = c
                else:
                    break
            hf[i] = lf
            hg[i] = lg
            hn[i] = ln
        if gu > cg[2 * u + 1]:
            continue  # stale entry
        expanded += 1
        if u == goal:
            st[_S_FOUND] = 1
            break
        cu = cg[2 * u]
        ur = u // w
        uc = u - ur * w
        for k in range(connectivity):
            v = u + off[k]
            cv = cg[2 * v]
            if cv == np.inf:
                continue
            gv = gu + length[k] * (0.5 * (cu + cv))
            if gv < cg[2 * v + 1]:
                cg[2 * v + 1] = gv
                parent[v] = k
                fv = gv + _heuristic(ur + dro[k], uc + dco[k], gr, gc, cmin, connectivity)
                b = np.int64(fv * inv_width)
                if b <= active:
                    # current bucket: push onto the heap
                    i = size
                    size += 1
                    while i > 0:
                        p = (i - 1) >> 1
                        if _less(fv, gv, v, hf[p], hg[p], hn[p]):
                            hf[i] = hf[p]
                            hg[i] = hg[p]
                            hn[i] = hn[p]
                            i = p
                        else:
                            break
                    hf[i] = fv
                    hg[i] = gv
                    hn[i] = v
                else:
                    # a later bucket: prepend to its list
                    if free != -1:
                        e = free
                        free = nxt[e]
                    else:
                        e = top
                        top += 1
                    s = b & _MASK
                    pf[e] = fv
                    pg[e] = gv
                    pn[e] = v
                    nxt[e] = head[s]
                    head[s] = e
                    nwait += 1
    st[_S_SIZE] = size
    st[_S_TOP] = top
    st[_S_FREE] = free
    st[_S_WAIT] = nwait
    st[_S_ACTIVE] = active
    st[_S_EXPANDED] = expanded
    return code


@njit(cache=True)
def _grown(a, n):
    b = np.empty(2 * a.size, dtype=a.dtype)
    b[:n] = a[:n]
    return b


@njit(cache=True)
def astar(cg, w, start, goal, connectivity, cmin, cmax, heap_cap=1 << 12, pool_cap=1 << 14):
    """A* from flat padded index ``start`` to ``goal`` on the raster from :func:`prepare`.

    Parameters
    ----------
    cg : (2 n,) float64
        Interleaved ``[cost, g]`` padded raster from :func:`prepare`; its ``g`` half is overwritten.
    w : int
        Padded row width (``cols + 2``).
    start, goal : int
        Flat padded indices of finite-cost cells.
    connectivity : int
        4 or 8.
    cmin, cmax : float
        Smallest and largest finite cost (``cmin`` scales the heuristic; 0 turns A* into
        Dijkstra).
    heap_cap, pool_cap : int
        Initial capacities of the bucket heap and of the waiting-entry pool (>= 8; doubled as
        needed).

    Returns
    -------
    path : (k,) int64
        Flat padded indices from start to goal inclusive; empty when the goal is unreachable.
    total : float
        Path cost, ``inf`` when unreachable.
    expanded : int
        Cells expanded (popped and not stale).
    """
    n = cg.size // 2
    dro = np.array([-1, 0, 0, 1, -1, -1, 1, 1], dtype=np.int64)  # N, W, E, S, NW, NE, SW, SE
    dco = np.array([0, -1, 1, 0, -1, 1, -1, 1], dtype=np.int64)
    off = dro * w + dco
    length = np.array([1.0, 1.0, 1.0, 1.0, SQRT2, SQRT2, SQRT2, SQRT2])
    span = SQRT2 * (cmax + cmin)  # bound on the f increase over one step
    inv_width = (NBUCKET - 2) / span if span > 0.0 else 0.0

    parent = np.empty(n, dtype=np.int8)  # index into off[] of the step that reached the cell
    hcap = max(heap_cap, 8)
    pcap = max(pool_cap, 8)
    hf = np.empty(hcap)
    hg = np.empty(hcap)
    hn = np.empty(hcap, dtype=np.int64)
    pf = np.empty(pcap)
    pg = np.empty(pcap)
    pn = np.empty(pcap, dtype=np.int64)
    nxt = np.empty(pcap, dtype=np.int64)
    head = np.full(NBUCKET, -1, dtype=np.int64)

    cg[2 * start + 1] = 0.0
    parent[start] = -1
    sr = start // w
    f0 = _heuristic(sr, start - sr * w, goal // w, goal - (goal // w) * w, cmin, connectivity)
    hf[0] = f0
    hg[0] = 0.0
    hn[0] = start
    st = np.zeros(7, dtype=np.int64)
    st[_S_SIZE] = 1
    st[_S_FREE] = -1
    st[_S_ACTIVE] = np.int64(f0 * inv_width)
    while True:
        code = _search(cg, w, goal, connectivity, cmin, inv_width, off, length, dro, dco, parent,
                       hf, hg, hn, pf, pg, pn, nxt, head, st)
        if code == _GROW_HEAP:
            m = st[_S_SIZE]
            hf = _grown(hf, m)
            hg = _grown(hg, m)
            hn = _grown(hn, m)
        elif code == _GROW_POOL:
            m = st[_S_TOP]
            pf = _grown(pf, m)
            pg = _grown(pg, m)
            pn = _grown(pn, m)
            nxt = _grown(nxt, m)
        else:
            break

    expanded = st[_S_EXPANDED]
    if st[_S_FOUND] == 0:
        return np.empty(0, dtype=np.int64), np.inf, expanded
    # walk the parents back from the goal
    k = 1
    v = goal
    while v != start:
        v -= off[parent[v]]
        k += 1
    path = np.empty(k, dtype=np.int64)
    v = goal
    for i in range(k - 1, -1, -1):
        path[i] = v
        if i > 0:
            v -= off[parent[v]]
    return path, cg[2 * goal + 1], expanded
