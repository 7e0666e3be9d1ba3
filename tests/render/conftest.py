"""Shared synthetic scenes for the render tests (planes, boxes, cylinders)."""

from __future__ import annotations

import numpy as np
import pytest

from farside.render import Scene
from farside.terrain import Terrain


@pytest.fixture(scope="session")
def flat_scene() -> Scene:
    """A 200 km x 200 km flat plane at the Chang'e-4 reference height (-5935 m)."""
    n = 65
    res = 200_000.0 / (n - 1)
    h = np.full((n, n), -5935.0, np.float32)
    ter = Terrain(h, res, x0_m=-(n / 2) * res, y0_m=(n / 2) * res)
    return Scene(ter)
