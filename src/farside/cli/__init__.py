"""The ``farside`` command. Uses only the public API of the lower layers.

User errors (any :class:`farside.errors.FarsideError`) print one line on stderr and exit 2, with no
traceback; argparse usage errors exit 2 as well.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from farside import __version__
from farside.errors import FarsideError

__all__ = ["main", "build_parser"]

# numba's OpenMP threads sleep between parallel loops instead of spinning: a frame runs several
# short parallel kernels, and spinning threads take the cores from the working ones whenever the
# machine is shared (LCAM 100 m frame under load: ~0.09 -> ~0.05 CPU-s). Set before numba starts
# its thread pool; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _progress_factory(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def factory(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        cols = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn()]
        with Progress(*cols, console=console, transient=True, disable=not console.is_terminal) as prog:
            task = prog.add_task(description, total=total)
            yield lambda n=1: prog.advance(task, n)

    return factory


def _cmd_run(args: argparse.Namespace) -> int:
    from farside.mission import check_run_dir, default_stages, load_scenario, run_mission
    from farside.mission.runner import preflight

    console = _console()
    stages = default_stages()
    scenario = load_scenario(args.scenario, stages)
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.name}-seed{scenario.seed}"
    preflight(scenario, stages, quick=args.quick)
    check_run_dir(out)
    console.print(f"farside run: scenario [bold]{scenario.name}[/], seed {scenario.seed}"
                  f"{' (quick)' if args.quick else ''} -> {out}")
    result = run_mission(scenario, out, stages=stages, quick=args.quick, resume=args.resume, progress=_progress_factory(console),
                         log=lambda m: console.print(f"  [green]done[/] {m}"))
    console.print(f"wrote {len(result['products'])} products, report: {out / 'report.html'}")
    return 0


def _cmd_terrain_generate(args: argparse.Namespace) -> int:
    from farside.terrain import generate_site, write_dem
    from farside.terrain.io import write_site_tables

    console = _console()
    out = Path(args.out)
    with _progress_factory(console)("generating site", None):
        site = generate_site(args.size_px, args.resolution_m, age_gyr=args.age_gyr,
                             rock_abundance=args.rock_abundance, rng=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    write_dem(site.terrain, out / "site_dem.tif")
    write_site_tables(site, out)
    console.print(f"wrote {out / 'site_dem.tif'}, {out / 'craters.csv'} ({len(site.craters)} craters), "
                  f"{out / 'rocks.csv'} ({len(site.rocks)} rocks)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="farside", description="Far-side lunar landing-and-roving mission simulator.")
    p.add_argument("--version", action="version", version=f"farside {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario (default: the built-in Chang'e-4 mission)")
    r.add_argument("scenario", nargs="?", default=None, help="scenario TOML file (default: built-in Chang'e-4)")
    r.add_argument("--out", default=None, help="run directory (default: runs/<scenario>-seed<N>)")
    r.add_argument("--seed", type=int, default=None, help="override the scenario seed")
    r.add_argument("--quick", action="store_true", help="smaller site and frame subsets (documented per stage)")
    r.add_argument("--resume", action="store_true",
                   help="keep the stages (and finished frames) of an earlier or interrupted run of --out whose "
                        "inputs are unchanged; run the rest")
    r.set_defaults(func=_cmd_run)

    t = sub.add_parser("terrain", help="terrain tools")
    tsub = t.add_subparsers(dest="terrain_command", required=True)
    g = tsub.add_parser("generate", help="generate a procedural site: DEM GeoTIFF + crater and rock tables")
    g.add_argument("--size-px", type=int, default=1024)
    g.add_argument("--resolution-m", type=float, default=1.0)
    g.add_argument("--age-gyr", type=float, default=3.25)
    g.add_argument("--rock-abundance", type=float, default=0.0021)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, help="output folder")
    g.set_defaults(func=_cmd_terrain_generate)

    from farside.cli.render_cmd import add_render_parser

    add_render_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FarsideError as exc:
        print(f"farside: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("farside: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
