"""Shared descent fixtures: the default Chang'e-4 site and its per-site hazard data (built once)."""

from __future__ import annotations

import numpy as np
import pytest

from farside import constants as C


@pytest.fixture(scope="session")
def ce4_site():
    from farside.terrain import chang_e4_site

    return chang_e4_site(2048, 1.0, rng=0)   # the default site of `farside run` (2048 px at 1 m)


@pytest.fixture(scope="session")
def ce4_hazards(ce4_site):
    from farside.descent import prepare_hazards
    from farside.ephemeris import sun_direction_enu

    sun = np.asarray(sun_direction_enu(C.CE4_LAT_DEG, C.CE4_LON_DEG, C.CE4_TOUCHDOWN_UTC), dtype=float).reshape(-1, 3)[0]
    return prepare_hazards(ce4_site, sun_dir_enu=sun, rng=np.random.default_rng(0), time_utc=C.CE4_TOUCHDOWN_UTC)
