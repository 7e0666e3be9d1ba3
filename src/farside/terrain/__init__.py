"""Terrain: the :class:`Terrain` type, DEM I/O, procedural sites, derived maps."""

from farside.terrain._types import Terrain

__all__ = ["Terrain"]
