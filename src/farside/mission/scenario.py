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

__all__ = ["SiteConfig", "Scenario", "load_scenario", "chang_e4", "validation_message"]

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
    site: SiteConfig = SiteConfig()
    stages: dict[str, Any] = Field(default_factory=dict)

    @field_validator("epoch_utc")
    @classmethod
    def _iso(cls, v: str) -> str:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO-8601 UTC time such as 2019-01-03T02:26:00Z") from None
        if not (1900 <= dt.year < 2050):
            raise ValueError("must lie in 1900-2049 (coverage of the DE421 lunar orientation kernel)")
        return v

    def with_seed(self, seed: int) -> "Scenario":
        return self.model_copy(update={"seed": _check_seed(seed)})

    def to_dict(self) -> dict:
        d = {"name": self.name, "epoch_utc": self.epoch_utc, "seed": self.seed, "site": self.site.model_dump()}
        for k, v in self.stages.items():
            d[k] = v.model_dump() if isinstance(v, BaseModel) else v
        return d


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
    by_name = {s.name: s for s in stages}
    top = {"name", "epoch_utc", "seed", "site"}
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
        table = data.get(st.name, {}) or {}
        if not isinstance(table, Mapping):
            raise invalid(st.name, table, f"a table of {st.name} options")
        try:
            configs[st.name] = st.Config(**dict(table))
        except ValidationError as exc:
            raise ScenarioError(validation_message(exc, st.name)) from None
    kwargs = {k: data[k] for k in ("name", "epoch_utc") if k in data}
    if "seed" in data:
        kwargs["seed"] = _check_seed(data["seed"])
    try:
        return Scenario(site=site, stages=configs, **kwargs)
    except ValidationError as exc:
        raise ScenarioError(validation_message(exc)) from None


def chang_e4(stages: Sequence[Any] = ()) -> Scenario:
    """The built-in Chang'e-4 scenario (site at Liu et al. 2019's point, epoch = touchdown)."""
    return _build({}, stages)


def load_scenario(path: str | Path | None, stages: Sequence[Any] = ()) -> Scenario:
    """Read and validate a scenario TOML; ``None`` gives the built-in Chang'e-4 scenario."""
    if path is None:
        return chang_e4(stages)
    p = Path(path)
    if not p.is_file():
        raise invalid("scenario", str(p), "an existing TOML file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise invalid("scenario", str(p), f"valid TOML ({exc})") from None
    return _build(data, stages)
