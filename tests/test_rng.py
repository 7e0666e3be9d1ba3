"""Random streams (DESIGN.md: every stochastic function takes an rng; child streams only through
farside._core): per-subsystem streams from the scenario seed, and keyed streams for detail
generated lazily in world coordinates."""

from __future__ import annotations

import numpy as np

from farside._core import child_rngs, keyed_rng
from farside._core.rng import SUBSYSTEMS


def test_subsystem_streams_are_independent_and_append_only():
    """Each subsystem's stream is fixed by the seed and its position: appending a subsystem
    changes no other stream; streams are uncorrelated (|r| < 4 / sqrt(n) for n = 200,000 draws,
    a 4-sigma bound for independent normals) and differ between seeds."""
    a = child_rngs(2019)
    b = child_rngs(2019, (*SUBSYSTEMS, "campaign"))
    n = 200_000
    draws = {k: a[k].standard_normal(n) for k in SUBSYSTEMS}
    for k in SUBSYSTEMS:
        assert np.array_equal(draws[k], b[k].standard_normal(n)), k
    names = list(SUBSYSTEMS)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            r = np.corrcoef(draws[names[i]], draws[names[j]])[0, 1]
            assert abs(r) < 4 / np.sqrt(n), (names[i], names[j], r)
    assert not np.array_equal(draws["terrain"], child_rngs(2020)["terrain"].standard_normal(n))


def test_keyed_streams_do_not_depend_on_generation_order():
    """Tiles generated in any order give the same values; neighbouring keys are uncorrelated."""
    keys = [(r, c) for r in range(4) for c in range(4)]
    first = {k: keyed_rng(7, *k).standard_normal(1000) for k in keys}
    rng = np.random.default_rng(0)
    for idx in rng.permutation(len(keys)):
        k = keys[idx]
        assert np.array_equal(keyed_rng(7, *k).standard_normal(1000), first[k])
    r = np.corrcoef(keyed_rng(7, 0, 0).standard_normal(100_000), keyed_rng(7, 0, 1).standard_normal(100_000))[0, 1]
    assert abs(r) < 4 / np.sqrt(100_000)
    assert not np.array_equal(keyed_rng(8, 0, 0).standard_normal(10), keyed_rng(7, 0, 0).standard_normal(10))
