"""LCAM pose along a trajectory: the camera sits LCAM_MOUNT_HEIGHT_M (UNCONFIRMED, 1 m) above the
footpad plane along the thrust axis and looks along minus the thrust axis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.descent import TRAJECTORY_COLUMNS, lcam_poses
from farside.descent import _kernels as K
from farside.descent.camera import LCAM_MOUNT_HEIGHT_M


def _trajectory(axis):
    tr = np.zeros((2, len(TRAJECTORY_COLUMNS)))
    tr[:, K.C_T] = [0.0, 10.0]
    tr[:, K.C_RX] = [5.0, 5.0]
    tr[:, K.C_RY] = [-3.0, -3.0]
    tr[:, K.C_RZ] = [-5935.0, -5935.0]      # footpad plane on the ground (touchdown state)
    tr[:, K.C_BX], tr[:, K.C_BY], tr[:, K.C_BZ] = axis
    return tr


def test_camera_above_the_footpads_after_touchdown():
    pos, rot = lcam_poses(_trajectory((0.0, 0.0, 1.0)), np.array([5.0, 20.0]))
    np.testing.assert_allclose(pos[:, 2], -5935.0 + LCAM_MOUNT_HEIGHT_M, atol=1e-12)
    np.testing.assert_allclose(pos[:, :2], [[5.0, -3.0]] * 2, atol=1e-12)
    np.testing.assert_allclose(rot[:, :, 2], [[0.0, 0.0, -1.0]] * 2, atol=1e-12)   # looking straight down


def test_mount_offset_follows_a_tilted_thrust_axis():
    tilt = math.radians(60.0)                  # braking: thrust axis 60 deg from vertical, toward +y
    axis = (0.0, math.sin(tilt), math.cos(tilt))
    pos, rot = lcam_poses(_trajectory(axis), np.array([5.0]), mount_height_m=2.0)
    np.testing.assert_allclose(pos[0], [5.0, -3.0 + 2.0 * math.sin(tilt), -5935.0 + 2.0 * math.cos(tilt)], atol=1e-12)
    assert rot[0, :, 2] @ np.array(axis) == pytest.approx(-1.0)
