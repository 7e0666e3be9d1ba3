"""The error hierarchy. Everything farside raises on purpose derives from :class:`FarsideError`.

A message names the parameter, the value given and what is valid, on one line, e.g.::

    resolution_m = -1.0 is invalid: must be a finite number > 0
"""

from __future__ import annotations

__all__ = [
    "FarsideError",
    "ScenarioError",
    "DataError",
    "PhysicsError",
    "invalid",
]


class FarsideError(Exception):
    """Base class of every error farside raises on purpose."""


class ScenarioError(FarsideError, ValueError):
    """An invalid parameter, scenario key or impossible scenario."""


class DataError(FarsideError):
    """Unreadable, corrupt or unsuitable input data (DEM files, kernels, tables)."""


class PhysicsError(FarsideError):
    """A physically impossible request (e.g. a manoeuvre beyond the vehicle's capability)."""


def invalid(name: str, value: object, valid: str, cls: type[FarsideError] = ScenarioError) -> FarsideError:
    """Build the one-line error ``"<name> = <value> is invalid: <valid>"``."""
    return cls(f"{name} = {value!r} is invalid: {valid}")
