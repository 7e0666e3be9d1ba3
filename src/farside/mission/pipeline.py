"""The ordered list of stages that ``farside run`` executes.

Each stage lives in ``farside.mission.stages.<name>``; add a stage by appending it here. The order
is the data flow of DESIGN.md: site -> relay -> descent -> surface -> products -> downlink.
"""

from __future__ import annotations

from farside.mission.stage import Stage

__all__ = ["default_stages"]


def default_stages() -> list[Stage]:
    from farside.mission.stages.descent import DescentStage
    from farside.mission.stages.imaging import ImagingStage
    from farside.mission.stages.navigation import NavigationStage
    from farside.mission.stages.downlink import DownlinkStage
    from farside.mission.stages.relay import RelayStage
    from farside.mission.stages.render import CamerasStage
    from farside.mission.stages.site import SiteStage
    from farside.mission.stages.surface import SurfaceStage

    return [
        SiteStage(),
        RelayStage(),
        DescentStage(),
        CamerasStage(),
        SurfaceStage(),
        ImagingStage(),
        NavigationStage(),
        DownlinkStage(),  # drains the queue: runs after every other stage wherever it is listed
    ]
