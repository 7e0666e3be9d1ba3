"""The typed mission state that stages hand to each other.

Each field is filled by one stage (its ``provides``) and read by later ones (their ``requires``,
or ``uses`` when optional). :func:`check_pipeline` checks, before anything runs, that every
requirement has an earlier producer, so a missing stage is a one-line error up front instead of
a failure an hour into a run. The downlink queue is not state: it is a service of the run
(``RunContext.downlink``) that every stage may queue products into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from farside.mission.stage import Stage

__all__ = ["MissionState", "RelayLink", "Touchdown", "check_pipeline", "STATE_FIELDS"]


@dataclass(frozen=True)
class Touchdown:
    """Where and when the lander came to rest: site ENU metres, UTC, mission seconds since the epoch."""

    enu_m: tuple[float, float, float]
    utc: str
    mission_s: float


@dataclass(frozen=True)
class RelayLink:
    """The relay geometry the contact plan was built from (to extend the plan later)."""

    orbit: Any          # farside.orbit.HaloOrbit
    placed: Any         # farside.orbit.placement.PlacedOrbit
    phase: float
    lat_deg: float
    lon_deg: float
    height_m: float
    horizon: Any        # farside.comms.HorizonProfile or None
    mask_deg: float
    branch: str


@dataclass
class MissionState:
    """What the stages of one run have produced so far (None: not produced)."""

    #: the generated site (farside.terrain.Site) -- site stage
    site: Any = None
    #: mission seconds of the first sunset at the site -- site stage
    first_sunset_s: float | None = None
    #: relay geometry -- relay stage
    relay: RelayLink | None = None
    #: relay contact plan (farside.comms.ContactPlan) -- relay stage
    contact_plan: Any = None
    #: the powered descent (farside.descent.DescentResult) -- descent stage
    descent: Any = None
    #: touchdown point and time -- descent stage
    touchdown: Touchdown | None = None
    #: the regional backdrop Scenes the frames render beyond the site, finest first (None when
    #: the descent built none) -- descent stage
    backdrop_scenes: list | None = None
    #: the rover's surface mission (farside.rover.SurfaceResult) -- surface stage
    surface: Any = None
    #: the rover's wheel ruts as a height delta over the site (farside.terrain.Terrain) -- surface stage
    tracks: Any = None
    #: the imaging summary (panorama registration, portraits, colour; a dict) -- imaging stage
    imaging: Any = None
    #: navigation products' summary (stops, modes, localisation, descent reconstruction; a dict) -- navigation stage
    navigation: Any = None
    #: the store-and-forward result (farside.comms.DownlinkResult) -- downlink stage
    downlink_result: Any = None


STATE_FIELDS = frozenset(f.name for f in fields(MissionState))


def check_pipeline(stages: Sequence["Stage"]) -> None:
    """Raise a one-line ScenarioError when a stage requires state no earlier stage provides (or
    names a field the state does not have); run before any stage runs. Stages are taken in the
    runner's order: the draining ones (``drains``) after all others."""
    from farside.errors import ScenarioError

    provided: dict[str, str] = {}
    names = [s.name for s in stages]
    stages = [s for s in stages if not s.drains] + [s for s in stages if s.drains]     # the runner's order
    if len(set(names)) != len(names):
        raise ScenarioError(f"pipeline: stage names repeat ({', '.join(names)}): each stage runs once")
    for st in stages:
        for f in (*st.requires, *st.uses, *st.provides):
            if f not in STATE_FIELDS:
                raise ScenarioError(f"pipeline: stage {st.name!r} names state {f!r}, which is not a MissionState field "
                                    f"(one of {', '.join(sorted(STATE_FIELDS))})")
        for f in st.requires:
            if f not in provided:
                producers = [o.name for o in stages if f in o.provides]
                hint = (f"stage {producers[0]!r} provides it and must run before {st.name!r}" if producers else
                        "no stage of this pipeline provides it")
                raise ScenarioError(f"pipeline: stage {st.name!r} requires {f!r}: {hint}")
        for f in st.provides:
            provided.setdefault(f, st.name)
