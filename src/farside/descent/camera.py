"""Landing-camera (LCAM) timing and pose along a descent trajectory (no rendering, no files).

LCAM (docs/references.md 4.1): first frame 2019-01-03T02:20:09Z, frame 5357 at 02:29:14Z, i.e. about
9.83 frames/s over a 545 s window; the descent video was stitched from more than 4,700 frames.
The camera looks along the engine nozzle (opposite the thrust axis): forward-down during main
braking, straight down from the quick adjustment on. Image top: the ground-track heading folded
with the zenith, orthogonalised against the view direction.
"""

from __future__ import annotations

import math

import numpy as np

from farside.constants import CE4_IGNITION_UTC
from farside.descent import _kernels as K

__all__ = ["LCAM_FIRST_FRAME_UTC", "LCAM_WINDOW_S", "LCAM_FPS", "LCAM_START_AFTER_IGNITION_S",
           "LCAM_MOUNT_HEIGHT_M", "lcam_times", "lcam_poses"]

LCAM_FIRST_FRAME_UTC = "2019-01-03T02:20:09Z"
#: 02:20:09 -> 02:29:14 UTC (docs/references.md 4.1)
LCAM_WINDOW_S = 545.0
#: DERIVED: 5357 frames / 545 s (docs/references.md 4.1; the rate itself is UNCONFIRMED)
LCAM_FPS = 5357.0 / 545.0
#: 02:15:00 ignition -> 02:20:09 first frame
LCAM_START_AFTER_IGNITION_S = 309.0
assert CE4_IGNITION_UTC == "2019-01-03T02:15:00Z"
#: UNCONFIRMED: LCAM's height above the footpad plane along the lander's thrust axis (it sits under
#: the body, looking down past the legs; between the 0.3 m obstacle clearance and the 1.6 m centre
#: of mass of farside.descent.lander). The trajectory's position is the footpad plane's centre,
#: which touches the ground at touchdown.
LCAM_MOUNT_HEIGHT_M = 1.0


def lcam_times(*, start_s: float = LCAM_START_AFTER_IGNITION_S, window_s: float = LCAM_WINDOW_S,
               fps: float = LCAM_FPS, stride: int = 1) -> np.ndarray:
    """Frame times (seconds since ignition) of every ``stride``-th LCAM frame."""
    n = int(math.floor(window_s * fps)) + 1
    return start_s + np.arange(0, n, stride) / fps


def lcam_poses(trajectory: np.ndarray, times_s: np.ndarray, *, heading_deg: float = 180.0,
               mount_height_m: float = LCAM_MOUNT_HEIGHT_M):
    """Camera positions (N, 3) and rotations (N, 3, 3) (columns = camera x, y, z in ENU).

    Positions are the truth trajectory (the footpad plane's centre) linearly interpolated at
    ``times_s`` (held at the touchdown state afterwards), raised ``mount_height_m`` along the
    thrust axis to the camera; the view direction is minus the interpolated thrust axis. After
    touchdown the camera looks at the ground under the lander from that height.
    """
    t = trajectory[:, K.C_T]
    pos = np.column_stack([np.interp(times_s, t, trajectory[:, c]) for c in (K.C_RX, K.C_RY, K.C_RZ)])
    axis = np.column_stack([np.interp(times_s, t, trajectory[:, c]) for c in (K.C_BX, K.C_BY, K.C_BZ)])
    z = -axis / np.linalg.norm(axis, axis=1, keepdims=True)
    pos = pos - float(mount_height_m) * z
    h = math.radians(heading_deg)
    up = np.array([math.sin(h), math.cos(h), 1.0]) / math.sqrt(2.0)
    top = up[None, :] - (z @ up)[:, None] * z
    top /= np.linalg.norm(top, axis=1, keepdims=True)
    y = -top
    x = np.cross(y, z)
    rot = np.stack([x, y, z], axis=2)
    return pos, rot
