"""The stage interface: what every step of ``farside run`` implements.

A :class:`Stage` has a ``name`` (also its scenario-TOML table), a pydantic ``Config`` model for that
table (unknown keys rejected) and a ``run(ctx)`` method that reads earlier results from
``ctx.state`` (a typed :class:`~farside.mission.state.MissionState`), writes products through
``ctx.write(...)`` (atomic, recorded in the manifest), queues them for the downlink
(``ctx.downlink``) and adds report sections. Stages never touch each other's code: the runner
checks the declared ``requires``/``provides`` and wires them in order
(:func:`farside.mission.pipeline.default_stages`).
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from farside._core import atomic_path, sha256_file

if TYPE_CHECKING:
    from farside.mission.report import Report
    from farside.mission.state import MissionState
    from farside.mission.scenario import Scenario

__all__ = ["Stage", "RunContext", "EmptyConfig", "product_intact"]


def product_intact(run_dir: Path, rec: dict) -> bool:
    """Whether the product record ``rec`` (path relative to ``run_dir``, bytes, sha256) is still on
    disk unchanged (size first, then sha256)."""
    path = Path(run_dir) / rec["path"]
    try:
        return path.stat().st_size == rec["bytes"] and sha256_file(path) == rec["sha256"]
    except OSError:
        return False


class EmptyConfig(BaseModel):
    """A stage with no options: any key in its table is rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(abc.ABC):
    """Base class of a pipeline stage: subclasses set ``name`` (and ``Config``), declare the
    :class:`~farside.mission.state.MissionState` fields they ``provides``, ``requires`` and
    optionally ``uses``, and implement ``run``. A stage with ``drains = True`` consumes what the
    others queued (the downlink): the runner runs it after every other stage, wherever it is listed."""

    name: ClassVar[str] = ""
    #: the scenario table that configures the stage ("" = the stage's name)
    table: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    provides: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    uses: ClassVar[tuple[str, ...]] = ()
    drains: ClassVar[bool] = False

    def preflight(self, config: BaseModel, scenario: "Scenario", quick: bool) -> None:
        """Checks of the configuration that need no earlier stage, run before any stage runs
        (raise a one-line ScenarioError); default none."""

    def may_skip(self, config: BaseModel, quick: bool) -> tuple[str, ...]:
        """The ``provides`` fields this configuration legitimately leaves unset (default none)."""
        return ()

    @abc.abstractmethod
    def run(self, ctx: "RunContext") -> None:
        """Read ``ctx.state``, write products through ``ctx.write``, add report sections."""


@dataclass
class RunContext:
    """Everything a stage may use. One per stage run; ``state`` is shared along the pipeline."""

    scenario: "Scenario"
    run_dir: Path
    quick: bool
    rngs: dict[str, np.random.Generator]
    state: "MissionState"
    report: "Report"
    config: BaseModel
    stage_name: str
    products: list[dict] = field(default_factory=list)
    progress_factory: Callable[..., Any] | None = None
    #: the run's downlink queue (farside.comms.DownlinkQueue): any stage may enqueue products
    downlink: Any = None
    #: wall seconds of named steps inside the stage (:meth:`timed`), for ``timings.json``
    steps: dict[str, dict] = field(default_factory=dict)
    #: this stage's input key (farside.mission.runner.stage_keys) and the run's checkpoint folder:
    #: a long stage may journal finished units there and, when ``resuming``, keep those whose
    #: journal carries the same key
    stage_key: str = ""
    resume_dir: Path | None = None
    resuming: bool = False

    @contextlib.contextmanager
    def timed(self, step: str, **info: Any) -> Iterator[dict]:
        """Time a step of the stage (wall seconds, plus ``info`` and whatever the caller adds to
        the yielded dict); recorded in the run's ``timings.json``, never in a product."""
        rec = dict(info)
        t0 = time.perf_counter()
        try:
            yield rec
        finally:
            rec["wall_s"] = round(time.perf_counter() - t0, 3)
            self.steps[step] = rec

    def require(self, key: str) -> Any:
        """``state.<key>`` from an earlier stage; a one-line ScenarioError when it was not produced
        (the pipeline check catches a missing producer before the run; this catches a producer
        that ran without producing it)."""
        value = getattr(self.state, key)
        if value is None:
            from farside.errors import ScenarioError

            raise ScenarioError(f"{self.stage_name} stage needs state {key!r}, which no earlier stage produced")
        return value

    @property
    def products_dir(self) -> Path:
        return self.run_dir / "products"

    def product_path(self, rel: str) -> Path:
        return self.products_dir / rel

    @contextlib.contextmanager
    def write(self, rel: str, *, description: str = "") -> Iterator[Path]:
        """Yield a temporary path; on success it is renamed to ``products/<rel>`` and recorded."""
        final = self.product_path(rel)
        with atomic_path(final) as tmp:
            yield tmp
        self.register(final, description=description)

    def register(self, path: Path, *, description: str = "") -> None:
        """Record an already-written product file (e.g. one streamed by a writer) in the manifest."""
        path = Path(path)
        self.products.append({
            "path": path.relative_to(self.run_dir).as_posix(),
            "stage": self.stage_name,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
            "description": description,
        })

    def intact(self, rec: dict) -> bool:
        """Whether the product record ``rec`` (as :meth:`register` makes it) is still on disk
        unchanged (size, then sha256)."""
        return product_intact(self.run_dir, rec)

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A progress bar on the console (rich); yields ``advance(n)``."""
        if self.progress_factory is None:
            yield lambda n=1: None
            return
        with self.progress_factory(description, total) as advance:
            yield advance
