"""Relay communications (layer 2): visibility, link budgets, contact plans, store-and-forward."""

from farside.comms.contact import DEFAULT_STATIONS, ContactPlan, GroundStation, contact_plan, earth_elevation_from_site, windows
from farside.comms.downlink import DownlinkQueue, DownlinkResult
from farside.comms.service import QUEQIAO_FORWARD_BPS, QUEQIAO_UPLINK_BPS, LinkService
from farside.comms.horizon import HorizonProfile, elevation_azimuth, horizon_elevation
from farside.comms.link import (
    GROUND_LINK,
    LANDER_LINK,
    ROVER_LINK,
    LinkBudget,
    LinkConfig,
    dish_gain_dbi,
    free_space_loss_db,
    hold_to_steps,
    link_budget,
)

__all__ = [
    "GroundStation",
    "DEFAULT_STATIONS",
    "ContactPlan",
    "contact_plan",
    "earth_elevation_from_site",
    "windows",
    "DownlinkQueue",
    "DownlinkResult",
    "LinkService",
    "QUEQIAO_UPLINK_BPS",
    "QUEQIAO_FORWARD_BPS",
    "HorizonProfile",
    "horizon_elevation",
    "elevation_azimuth",
    "LinkConfig",
    "LinkBudget",
    "link_budget",
    "free_space_loss_db",
    "dish_gain_dbi",
    "hold_to_steps",
    "LANDER_LINK",
    "ROVER_LINK",
    "GROUND_LINK",
]
