"""farside: a seeded, end-to-end simulator of far-side lunar landing-and-roving missions.

The built-in reference mission is Chang'e-4 (landed 2019-01-03 02:26 UTC, Von Karman crater).
Import the subpackages you need (``farside.ephemeris``, ``farside.terrain``, ...); this module
imports nothing heavy.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
