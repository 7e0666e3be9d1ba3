"""Image output: PNG (8/16-bit) or TIFF through OpenCV, each with a JSON sidecar, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from farside._core import atomic_path, atomic_write_text
from farside.errors import invalid

__all__ = ["write_image", "write_frame", "radiance_to_display"]

_EXT = (".png", ".tif", ".tiff")


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, sidecar: dict | None = None) -> Path:
    """Write a uint8/uint16 image (H, W) or RGB (H, W, 3) to PNG/TIFF; ``sidecar`` goes to
    ``<path>.json`` (same stem, ``.json`` suffix). Returns the image path."""
    import cv2

    p = Path(path)
    if p.suffix.lower() not in _EXT:
        raise invalid("path", str(path), "a file name ending in .png, .tif or .tiff")
    a = np.asarray(image)
    if a.dtype not in (np.uint8, np.uint16) or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise invalid("image", f"{a.dtype} {a.shape}", "uint8 or uint16, shape (H, W) or (H, W, 3)")
    if a.ndim == 3:
        a = a[..., ::-1]  # OpenCV writes BGR
    with atomic_path(p) as tmp:
        # zlib's run-length strategy on libpng's "Sub" filter for every row: on noisy sensor frames
        # the run-length strategy is ~8x faster than zlib's default at level 6 and gives smaller
        # files, and one fixed filter halves what libpng's adaptive choice among the five costs
        # (1024^2 LCAM frames, mean of 8: 10.1 ms and 477 kB against 18.1 ms and 451 kB;
        # docs/render.md). Lossless either way: the pixels are the same.
        params = ([cv2.IMWRITE_PNG_COMPRESSION, 6, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
                   cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB] if p.suffix.lower() == ".png" else [])
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(a), params):
            raise invalid("path", str(path), "a writable location (OpenCV could not write the image)")
    if sidecar is not None:
        atomic_write_text(p.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True, default=_json_default))
    return p


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def radiance_to_display(radiance: np.ndarray, *, percentile: float = 99.5) -> np.ndarray:
    """Scale a radiance image to uint8 for viewing (linear, ``percentile`` -> 255; sky 0)."""
    r = np.nan_to_num(np.asarray(radiance, float), nan=0.0)
    top = np.percentile(r[r > 0], percentile) if np.any(r > 0) else 1.0
    return np.clip(np.rint(r / top * 255.0), 0, 255).astype(np.uint8)


def write_frame(frame, path: str | os.PathLike[str], *, extra: dict | None = None) -> Path:
    """Write a :class:`~farside.render.Frame`'s DN image (or its display-scaled radiance when no
    sensor was applied) with the frame's sidecar (plus ``extra`` keys)."""
    img = frame.dn if frame.dn is not None else radiance_to_display(frame.radiance)
    meta = frame.sidecar()
    meta["image"] = "dn" if frame.dn is not None else "radiance scaled to uint8 (no sensor model)"
    if extra:
        meta.update(extra)
    return write_image(path, img, sidecar=meta)
