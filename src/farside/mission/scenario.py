"""Scenario files: TOML validated by typed pydantic models.

A scenario has top-level keys ``name``, ``epoch_utc``, ``seed``, a ``[site]`` table, and one
table per pipeline stage (``[relay]``, ``[descent]``, ...) validated by that stage's ``Config``
model. Unknown keys anywhere are rejected with a one-line message. The Chang'e-4 scenario is
built in (:func:`chang_e4`), so ``farside run`` needs no file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from farside import constants as C
from farside.errors import ScenarioError, invalid

__all__ = ["SiteConfig", "Scenario", "load_scenario", "chang_e4", "validation_message", "BUILTIN_SCENARIOS",
           "builtin_scenario_path"]

#: Largest site edge (pixels) accepted: 16384^2 float32 heights need 1 GiB, and generation holds a
#: few such arrays; beyond that the 24 GB machine this targets would not cope.
MAX_SITE_PX = 16384


class SiteConfig(BaseModel):
    """The landing site: where it is and how its terrain is generated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat_deg: float = Field(C.CE4_LAT_DEG, ge=-90.0, le=90.0, description="selenographic latitude of the site")
    lon_deg: float = Field(C.CE4_LON_DEG, ge=-180.0, lt=360.0, description="selenographic east longitude")
    elevation_m: float = Field(C.CE4_ELEVATION_M, ge=-10000.0, le=11000.0,
                               description="regional elevation above R=1737.4 km (CE-4: -5935 m, Liu et al. 2019)")
    size_px: int = Field(4096, ge=16, le=MAX_SITE_PX, description="site DEM edge, pixels")
    resolution_m: float = Field(0.5, gt=0.0, le=1000.0, description="DEM pixel size, metres")
    quick_size_px: int = Field(2048, ge=16, le=MAX_SITE_PX,
                               description="edge used with --quick (2 km at 1 m: the LCAM view from 2 km fits)")
    quick_resolution_m: float = Field(1.0, gt=0.0, le=1000.0, description="pixel size used with --quick")
    age_gyr: float = Field(3.25, gt=0.0, le=4.5,
                           description="surface age, Gyr (CE-4 floor basalts 3.15-3.35 Ga, docs/references.md 1.3: midpoint)")
    rock_abundance: float = Field(0.0021, ge=0.0, lt=1.0,
                                  description="rock cumulative fractional area k (CE-4: 0.21 %, Wu et al. 2021)")
    regional_slope_deg: float = Field(0.0, ge=0.0, lt=45.0)
    regional_slope_azimuth_deg: float = Field(0.0, ge=0.0, lt=360.0)

    @field_validator("*")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class Scenario(BaseModel):
    """A validated scenario. ``stages`` maps stage name -> that stage's validated config."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = "chang-e-4"
    epoch_utc: str = C.CE4_TOUCHDOWN_UTC
    seed: int = Field(2019, ge=0, lt=2**63)
    #: the published mission the report compares with ("chang-e-4"), or "" for none
    reference_mission: str = Field("chang-e-4", pattern="^(chang-e-4|)$")
    #: named mission events (label -> ISO UTC), e.g. "rover egress"; marked in the report's Sun
    #: plot and usable as start times by the stages (e.g. [downlink] rover_housekeeping_start)
    events: dict[str, str] = Field(default_factory=dict)
    site: SiteConfig = SiteConfig()
    stages: dict[str, Any] = Field(default_factory=dict)
    #: stage name -> its scenario table, where they differ (the surface stage reads [rover])
    stage_tables: dict[str, str] = Field(default_factory=dict)

    @field_validator("epoch_utc")
    @classmethod
    def _iso(cls, v: str) -> str:
        return _check_utc(v)

    @field_validator("events")
    @classmethod
    def _events(cls, v: dict[str, str]) -> dict[str, str]:
        for label, t in v.items():
            if not label or label in ("epoch", "touchdown"):
                raise ValueError(f"event label {label!r} is reserved or empty")
            _check_utc(t)
        return v

    def event_seconds(self, spec: str, *, touchdown_s: float | None = None) -> float:
        """Mission seconds since the epoch of ``spec``: "epoch", "touchdown" (``touchdown_s``, or
        the epoch when there was no descent), an event label, or an ISO UTC time."""
        from farside.ephemeris import utc_to_seconds

        if spec == "epoch":
            return 0.0
        if spec == "touchdown":
            return 0.0 if touchdown_s is None else float(touchdown_s)
        t = self.events.get(spec, spec)
        try:
            _check_utc(t)
        except ValueError:
            valid = ", ".join(["epoch", "touchdown", *sorted(self.events)]) + " or an ISO UTC time"
            raise invalid("event", spec, valid) from None
        return float(utc_to_seconds(self.epoch_utc, [t])[0])

    def with_seed(self, seed: int) -> "Scenario":
        return self.model_copy(update={"seed": _check_seed(seed)})

    def to_dict(self) -> dict:
        d = {"name": self.name, "epoch_utc": self.epoch_utc, "seed": self.seed,
             "reference_mission": self.reference_mission, "events": dict(self.events), "site": self.site.model_dump()}
        for k, v in self.stages.items():
            d[self.stage_tables.get(k, k)] = v.model_dump() if isinstance(v, BaseModel) else v
        return d


def _check_utc(v: str) -> str:
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError("must be an ISO-8601 UTC time such as 2019-01-03T02:26:00Z") from None
    if not (1900 <= dt.year < 2050):
        raise ValueError("must lie in 1900-2049 (coverage of the DE421 lunar orientation kernel)")
    return v


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not (0 <= seed < 2**63):
        raise invalid("seed", seed, "an integer in [0, 2**63)")
    return seed


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """One line from a pydantic error: ``<param> = <value> is invalid: <what is valid>``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    name = ".".join(p for p in (prefix, loc) if p) or prefix or "scenario"
    if err.get("type") == "extra_forbidden":
        return f"{name} = {err.get('input')!r} is invalid: unknown key"
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
    return f"{name} = {err.get('input')!r} is invalid: {msg}"


def _build(data: Mapping[str, Any], stages: Sequence[Any]) -> Scenario:
    by_name = {(s.table or s.name): s for s in stages}
    top = {"name", "epoch_utc", "seed", "site", "reference_mission", "events"}
    for key in data:
        if key not in top and key not in by_name:
            valid = ", ".join(sorted(top | set(by_name)))
            raise ScenarioError(f"scenario key {key!r} is unknown: valid keys are {valid}")
    try:
        site = SiteConfig(**dict(data.get("site", {}) or {}))
    except ValidationError as exc:
        raise ScenarioError(validation_message(exc, "site")) from None
    except TypeError:
        raise invalid("site", data.get("site"), "a table of site options") from None
    configs = {}
    for st in stages:
        if st.name == "site":  # the site stage is configured by the top-level [site] table
            configs[st.name] = site
            continue
        key = st.table or st.name
        table = data.get(key, {}) or {}
        if not isinstance(table, Mapping):
            raise invalid(key, table, f"a table of {key} options")
        try:
            configs[st.name] = st.Config(**dict(table))
        except ValidationError as exc:
            raise ScenarioError(validation_message(exc, key)) from None
    kwargs = {k: data[k] for k in ("name", "epoch_utc", "reference_mission", "events") if k in data}
    if "seed" in data:
        kwargs["seed"] = _check_seed(data["seed"])
    try:
        return Scenario(site=site, stages=configs, stage_tables={s.name: s.table for s in stages if s.table},
                        **kwargs)
    except ValidationError as exc:
        raise ScenarioError(validation_message(exc)) from None


#: scenarios shipped in the package (``src/farside/mission/scenarios/<name>.toml``)
BUILTIN_SCENARIOS = ("chang-e-4", "south-pole-example")


def builtin_scenario_path(name: str) -> Path:
    """Path of a scenario TOML shipped with farside (see :data:`BUILTIN_SCENARIOS`)."""
    from importlib import resources

    if name not in BUILTIN_SCENARIOS:
        raise invalid("scenario", name, f"one of {', '.join(BUILTIN_SCENARIOS)} or a TOML file")
    return Path(str(resources.files("farside.mission") / "scenarios" / f"{name}.toml"))


def chang_e4(stages: Sequence[Any] = ()) -> Scenario:
    """The built-in Chang'e-4 scenario (``scenarios/chang-e-4.toml``: site at Liu et al. 2019's
    point, epoch = touchdown, the rover's egress as an event). With a subset of the pipeline's
    ``stages``, the file's tables for the other stages are left out."""
    from farside.mission.pipeline import default_stages

    data = tomllib.loads(builtin_scenario_path("chang-e-4").read_text(encoding="utf-8"))
    keep = {s.name for s in stages}
    keep |= {s.table for s in stages if s.table}
    for name in {s.table or s.name for s in default_stages()} - keep - {"site"}:
        data.pop(name, None)
    return _build(data, stages)


def load_scenario(path: str | Path | None, stages: Sequence[Any] = ()) -> Scenario:
    """Read and validate a scenario TOML; ``None`` gives the built-in Chang'e-4 scenario."""
    if path is None:
        return chang_e4(stages)
    p = Path(path)
    if not p.is_file() and str(path) in BUILTIN_SCENARIOS:
        p = builtin_scenario_path(str(path))
    if not p.is_file():
        raise invalid("scenario", str(p), f"an existing TOML file or a built-in scenario ({', '.join(BUILTIN_SCENARIOS)})")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise invalid("scenario", str(p), f"valid TOML ({exc})") from None
    return _build(data, stages)
