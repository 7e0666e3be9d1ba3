"""Small vector math shared across packages."""

from __future__ import annotations

import numpy as np

__all__ = ["orthonormalise_columns"]


def orthonormalise_columns(b: np.ndarray) -> np.ndarray:
    """Gram-Schmidt on the columns of (..., 3, 3) matrices (x first, then z, y = z x x): the
    nearest right-handed orthonormal frame to interpolated rotation matrices."""
    x = b[..., :, 0]
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    z = b[..., :, 2]
    z = z - np.sum(z * x, axis=-1, keepdims=True) * x
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)
