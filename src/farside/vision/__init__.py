"""farside.vision (between the mission-level packages and render): perception and localisation on
rendered images -- rover stereo, elevation maps and hazard costmaps, odometry and visual
localisation, and the descent trajectory rebuilt from the landing-camera frames.

``farside.rover`` uses it (perception for navigation); it uses only ``render``, ``terrain``,
``comms`` and below (docs/design.md).
"""

from farside.vision.descent_reconstruction import (
    DescentReconstruction,
    OrbitalBasemap,
    error_by_altitude,
    orbital_basemap,
    reconstruct_descent,
)
from farside.vision.costmap import ElevationMap, HazardMap, elevation_map, hazard_costmap
from farside.vision.localisation import (
    HeadingEstimate,
    HeadingSensorModel,
    LanderFix,
    OdometryEstimate,
    StereoStop,
    TrackEstimate,
    VOStep,
    heading_estimate,
    mast_camera_pose,
    relocalise_lander,
    rover_pose_from_camera,
    track_errors,
    visual_localisation,
    visual_odometry_step,
    wheel_odometry,
)
from farside.vision.stereo import (
    StereoPoints,
    disparity,
    enu_to_rover,
    points_from_disparity,
    range_sigma_m,
    stereo_pair_at,
    stereo_points,
)

__all__ = [
    "StereoPoints",
    "stereo_pair_at",
    "disparity",
    "points_from_disparity",
    "stereo_points",
    "range_sigma_m",
    "enu_to_rover",
    "ElevationMap",
    "HazardMap",
    "elevation_map",
    "hazard_costmap",
    "HeadingSensorModel",
    "HeadingEstimate",
    "heading_estimate",
    "OdometryEstimate",
    "wheel_odometry",
    "mast_camera_pose",
    "rover_pose_from_camera",
    "VOStep",
    "visual_odometry_step",
    "LanderFix",
    "relocalise_lander",
    "StereoStop",
    "TrackEstimate",
    "visual_localisation",
    "track_errors",
    "OrbitalBasemap",
    "orbital_basemap",
    "DescentReconstruction",
    "reconstruct_descent",
    "error_by_altitude",
]
