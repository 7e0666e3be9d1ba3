"""CR3BP dynamics and halo orbits (layer 1), and their placement in the real Earth-Moon system."""

from farside.orbit.cr3bp import EARTH_MOON, CR3BPSystem, jacobi_constant, lagrange_points, propagate, propagate_stm
from farside.orbit.halo import HaloFamily, HaloOrbit, correct_halo, halo_family, halo_orbit, richardson_guess

__all__ = [
    "EARTH_MOON",
    "CR3BPSystem",
    "jacobi_constant",
    "lagrange_points",
    "propagate",
    "propagate_stm",
    "HaloOrbit",
    "HaloFamily",
    "halo_orbit",
    "halo_family",
    "correct_halo",
    "richardson_guess",
]
