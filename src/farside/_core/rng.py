"""Random-number helpers (DESIGN.md: every stochastic function takes ``rng``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["default_rng", "child_rngs", "SUBSYSTEMS"]

#: Fixed order of subsystem streams spawned from the scenario seed. Append only: adding a name at
#: the end never changes another subsystem's draws.
SUBSYSTEMS: tuple[str, ...] = (
    "terrain",
    "relay",
    "descent",
    "render",
    "rover",
    "imaging",
    "science",
    "downlink",
)


def default_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Normalise ``rng`` like scikit-image SPEC 7 (a Generator is passed through)."""
    return np.random.default_rng(rng)


def child_rngs(seed: int, names: Sequence[str] = SUBSYSTEMS) -> dict[str, np.random.Generator]:
    """One independent Generator per subsystem, from ``SeedSequence(seed).spawn``, in fixed order."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(ss) for name, ss in zip(names, children)}
