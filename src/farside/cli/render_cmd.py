"""``farside render``: render one view of a DEM (GeoTIFF) to PNG/TIFF + JSON sidecar.

Examples::

    farside render site_dem.tif --out lcam.png                         # LCAM, 2 km above the centre
    farside render site_dem.tif --camera lcam --altitude-m 100 --out lcam100.png
    farside render site_dem.tif --camera tcam --pan-deg 200 --tilt-deg -10 --red-cast --out tcam.png
    farside render site_dem.tif --camera ortho --gsd-m 1 --sun-elevation-deg 20 --sun-azimuth-deg 90 --out map.png

The Sun comes from ``--time-utc`` (ephemeris at the DEM's anchor latitude/longitude; default the
Chang'e-4 touchdown time) unless ``--sun-elevation-deg`` and ``--sun-azimuth-deg`` are given.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["add_render_parser", "render_command"]

_CAMERAS = ("lcam", "tcam", "pcam", "navcam", "hazcam", "ortho")


def add_render_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``render`` sub-command on an argparse ``subparsers`` object."""
    p = subparsers.add_parser("render", help="render one camera view of a DEM (GeoTIFF) to PNG/TIFF + JSON sidecar")
    p.add_argument("dem", help="lunar GeoTIFF DEM (e.g. from 'farside terrain generate')")
    p.add_argument("--out", required=True, help="output image (.png, .tif); the sidecar goes beside it (.json)")
    p.add_argument("--camera", default="lcam", choices=_CAMERAS, help="camera preset (default lcam)")
    p.add_argument("--x-m", type=float, default=None, help="ground point east of the site origin, m (default: DEM centre)")
    p.add_argument("--y-m", type=float, default=None, help="ground point north of the site origin, m (default: DEM centre)")
    p.add_argument("--altitude-m", type=float, default=None,
                   help="camera height above the ground point, m (default: 2000 for lcam/ortho, else the preset's mast)")
    p.add_argument("--heading-deg", type=float, default=0.0, help="lcam/ortho: azimuth of the image top (default 0 = north)")
    p.add_argument("--pan-deg", type=float, default=0.0, help="tcam/pcam/navcam/hazcam: azimuth of view (0 = north)")
    p.add_argument("--tilt-deg", type=float, default=-15.0, help="tcam/pcam/navcam/hazcam: elevation of view")
    p.add_argument("--gsd-m", type=float, default=None, help="ortho: metres per pixel (default: DEM resolution)")
    p.add_argument("--size-px", type=int, default=1024, help="ortho: image edge in pixels (default 1024)")
    p.add_argument("--time-utc", default=None, help="UTC time for the Sun (default: Chang'e-4 touchdown)")
    p.add_argument("--sun-elevation-deg", type=float, default=None)
    p.add_argument("--sun-azimuth-deg", type=float, default=None, help="from north, clockwise")
    p.add_argument("--photometry", default="hapke", choices=("hapke", "lunar_lambert", "lambert"))
    p.add_argument("--shadows", default="penumbra", choices=("penumbra", "hard", "none"))
    p.add_argument("--normals", default="smooth", choices=("smooth", "face"))
    p.add_argument("--no-sensor", action="store_true", help="write display-scaled radiance instead of sensor DN")
    p.add_argument("--red-cast", action="store_true", help="colour cameras: Chang'e-4 channel imbalance (red cast)")
    p.add_argument("--exposure-s", type=float, default=None, help="exposure time (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="sensor-noise seed")
    p.set_defaults(func=render_command)
    return p


def render_command(args: argparse.Namespace) -> int:
    """Run ``farside render``; raises farside.errors.* on bad input (the CLI prints them, exit 2)."""
    import numpy as np

    from farside import constants as C
    from farside.errors import invalid
    from farside.render import (
        CE4_COLOUR_RESPONSE,
        Camera,
        Scene,
        Sensor,
        hazcam_pair,
        lcam,
        nadir_rotation,
        navcam_pair,
        pcam_pair,
        render,
        tcam,
        write_frame,
    )
    from farside.terrain import read_dem

    def finite(name, v, lo=-math.inf, hi=math.inf):
        if v is not None and not (math.isfinite(v) and lo <= v <= hi):
            raise invalid(name, v, f"a finite number in [{lo}, {hi}]")
        return v

    for nm in ("x_m", "y_m", "heading_deg", "pan_deg"):
        finite("--" + nm.replace("_", "-"), getattr(args, nm))
    finite("--altitude-m", args.altitude_m, 0.01, 1e6)
    finite("--tilt-deg", args.tilt_deg, -89.9, 89.9)
    finite("--gsd-m", args.gsd_m, 1e-4, 1e5)
    finite("--sun-elevation-deg", args.sun_elevation_deg, -90.0, 90.0)
    finite("--sun-azimuth-deg", args.sun_azimuth_deg)
    if not (16 <= args.size_px <= 8192):
        raise invalid("--size-px", args.size_px, "an integer in [16, 8192]")
    if not str(args.out).lower().endswith((".png", ".tif", ".tiff")):
        raise invalid("--out", args.out, "a file name ending in .png, .tif or .tiff")
    if (args.sun_elevation_deg is None) != (args.sun_azimuth_deg is None):
        raise invalid("--sun-elevation-deg/--sun-azimuth-deg", (args.sun_elevation_deg, args.sun_azimuth_deg),
                      "both or neither (neither: the Sun from --time-utc)")

    ter = read_dem(args.dem)
    xmin, xmax, ymin, ymax = ter.extent_m
    x = 0.5 * (xmin + xmax) if args.x_m is None else args.x_m
    y = 0.5 * (ymin + ymax) if args.y_m is None else args.y_m
    if not (xmin <= x <= xmax and ymin <= y <= ymax):
        raise invalid("--x-m/--y-m", (x, y), f"a point inside the DEM: x in [{xmin:g}, {xmax:g}], y in [{ymin:g}, {ymax:g}]")
    z = float(ter.height_at(x, y))

    time_utc = args.time_utc
    if args.sun_elevation_deg is not None:
        e, a = math.radians(args.sun_elevation_deg), math.radians(args.sun_azimuth_deg)
        sun = np.array([math.cos(e) * math.sin(a), math.cos(e) * math.cos(a), math.sin(e)])
    else:
        from farside.ephemeris import sun_direction_enu

        time_utc = time_utc or C.CE4_TOUCHDOWN_UTC
        sun = np.asarray(sun_direction_enu(ter.anchor_lat_deg, ter.anchor_lon_deg, [time_utc]), float).reshape(3)

    pan, tilt = math.radians(args.pan_deg), math.radians(args.tilt_deg)
    alt = args.altitude_m
    if args.camera == "lcam":
        cam = lcam(position_enu=(x, y, z + (alt or 2000.0)), heading_rad=math.radians(args.heading_deg))
    elif args.camera == "ortho":
        gsd = args.gsd_m or ter.resolution_m
        n = args.size_px
        cam = Camera(width_px=n, height_px=n, focal_length_m=0.01, pixel_pitch_m=1e-5, cx_px=(n - 1) / 2,
                     cy_px=(n - 1) / 2, projection="orthographic", gsd_m=gsd,
                     position_enu=(x, y, float(ter.heights.max()) + (alt or 2000.0)),
                     rotation_enu_from_cam=nadir_rotation(math.radians(args.heading_deg)), name="ORTHO")
    elif args.camera == "tcam":
        cam = tcam(position_enu=(x, y, z + (alt or 2.6)), pan_rad=pan, tilt_rad=tilt)
    else:
        pair = {"pcam": pcam_pair, "navcam": navcam_pair, "hazcam": hazcam_pair}[args.camera]
        default_h = 0.6 if args.camera == "hazcam" else 1.5
        cam = pair(position_enu=(x, y, z + (alt or default_h)), pan_rad=pan, tilt_rad=tilt)[0]

    sensor = None
    if not args.no_sensor:
        sensor = Sensor(colour_response_rgb=CE4_COLOUR_RESPONSE if args.red_cast else (1.0, 1.0, 1.0))
    fr = render(Scene(ter), cam, sun_dir_enu=sun, photometry=args.photometry, shadows=args.shadows,
                normals=args.normals, layers="minimal", sensor=sensor, exposure_s=args.exposure_s,
                rng=np.random.default_rng(args.seed), time_utc=time_utc)
    path = write_frame(fr, args.out, extra={"dem": str(args.dem), "ground_point_enu": [x, y, z]})
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
