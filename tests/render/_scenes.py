"""Synthetic scenes and helpers for the render tests (planes, boxes, cylinders)."""

from __future__ import annotations

import math

import numpy as np


def sun_from(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """ENU unit vector toward the Sun (azimuth from north, clockwise)."""
    e, a = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(e) * math.sin(a), math.cos(e) * math.cos(a), math.sin(e)])
