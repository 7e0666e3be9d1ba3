"""farside.vision (layer 3): perception and localisation on rendered images -- rover stereo,
elevation maps and hazard costmaps, odometry and visual localisation, and the descent trajectory
rebuilt from the landing-camera frames.
"""

__all__: list[str] = []
