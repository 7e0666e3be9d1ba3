"""Argument checks shared by the ephemeris modules (one-line ScenarioError messages)."""

from __future__ import annotations

import math
from typing import Any

from farside.constants import MOON_RADIUS_M
from farside.errors import invalid

BODIES = ("sun", "earth")


def finite(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``float(value)`` if it is a finite real number in [lo, hi], else ScenarioError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x) or not lo <= x <= hi:
        if math.isinf(lo) and math.isinf(hi):
            raise invalid(name, value, "must be a finite number")
        raise invalid(name, value, f"must be a finite number in [{lo:g}, {hi:g}]")
    return x


def latlon(lat_deg: Any, lon_deg: Any) -> tuple[float, float]:
    return finite("lat_deg", lat_deg, -90.0, 90.0), finite("lon_deg", lon_deg)


def height(height_m: Any) -> float:
    # Anything from the lunar centre (exclusive) up to 1e9 m (beyond the Earth) is geometrically meaningful.
    return finite("height_m", height_m, -0.999 * MOON_RADIUS_M, 1e9)


def body(name: Any) -> str:
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in BODIES:
        raise invalid("body", name, "must be one of 'sun', 'earth'")
    return key
