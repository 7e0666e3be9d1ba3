"""Layer-0 helpers: rng streams, atomic file writes, small vector math."""

from farside._core.io import atomic_path, atomic_write_bytes, atomic_write_text, sha256_file
from farside._core.rng import child_rngs, child_streams, default_rng, keyed_rng
from farside._core.vec import orthonormalise_columns
from farside._core.worker import OrderedWorker

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "sha256_file",
    "child_rngs",
    "child_streams",
    "default_rng",
    "keyed_rng",
    "OrderedWorker",
    "orthonormalise_columns",
]
