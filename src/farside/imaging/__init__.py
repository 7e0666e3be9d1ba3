"""Surface imaging products: panoramas from rotating cameras; colour calibration of the RGGB cameras
(docs/imaging.md)."""

from farside.imaging.colour import (
    REGOLITH_COLOUR_RGB,
    CalibrationFrames,
    SensorCalibration,
    calibrate_colour,
    colour_error,
    estimate_calibration,
    simulate_calibration_frames,
)
from farside.imaging.panorama import Panorama, stitch_panorama

__all__ = [
    "stitch_panorama",
    "Panorama",
    "calibrate_colour",
    "SensorCalibration",
    "estimate_calibration",
    "colour_error",
    "simulate_calibration_frames",
    "CalibrationFrames",
    "REGOLITH_COLOUR_RGB",
]
