"""An ordered background worker: one thread that runs submitted jobs in submission order.

The descent stage renders a frame on the main thread (numba's threads) while this worker exposes,
encodes and writes the previous one (numpy, OpenCV and hashlib release the GIL), so both cores
stay busy. Jobs run strictly in order, one at a time, so what they write is the same as when run
inline; the queue is bounded, so at most ``depth`` frames wait in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["OrderedWorker"]


class OrderedWorker:
    """Run ``submit``-ted callables in order on one background thread (``threaded=False``: inline).

    A job's exception stops the worker; it is raised again by the next ``submit`` or by ``close``
    (jobs after it are not run). Use as a context manager: leaving the block waits for every job;
    leaving it on an exception discards the jobs still queued.
    """

    def __init__(self, *, threaded: bool = True, depth: int = 2, name: str = "farside-worker") -> None:
        self.threaded = bool(threaded)
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if self.threaded:
            self._queue = queue.Queue(maxsize=max(1, int(depth)))
            self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._error is None:
                try:
                    job()
                except BaseException as exc:   # re-raised on the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``fn(*args, **kwargs)`` (blocks while ``depth`` jobs wait)."""
        self._raise()
        if not self.threaded:
            fn(*args, **kwargs)
            return
        assert self._queue is not None
        self._queue.put(lambda: fn(*args, **kwargs))

    def close(self, *, discard: bool = False) -> None:
        """Wait for the queued jobs (or drop them with ``discard``), stop the thread, and raise
        the first job error, if any."""
        if self._thread is not None and self._queue is not None:
            if discard:
                self._error = self._error or _Discarded()
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if isinstance(self._error, _Discarded):
            self._error = None
        self._raise()

    def __enter__(self) -> "OrderedWorker":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            try:
                self.close(discard=True)
            except BaseException:
                pass                      # the exception already propagating wins
        else:
            self.close()


class _Discarded(Exception):
    """Marks the worker's remaining jobs as dropped (the caller is failing already)."""
