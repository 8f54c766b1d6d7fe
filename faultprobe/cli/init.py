"""`faultprobe init`: its options and its handler (the derivation is faultprobe.derive)."""

from __future__ import annotations

import argparse
import sys

INIT_HELP = (
    "Derive a commented study config from a mainshock: its QuakeML (--quakeml, with or "
    "without a focal mechanism), its id at an FDSN event service (--event-service, "
    "--event-id) or its time in the catalog (--time). From the catalog (--catalog, any format "
    "`faultprobe catalog` reads) come the study window and box, the fault plane (the nodal "
    "plane the early aftershocks fit best, or their own plane), its extent and depth, the other "
    "large shocks and a foreshock interval; from a StationXML (--inventory) or a station "
    "service the near stations ranked by the selectable events they recorded and one far "
    "control; the velocity model from the region. Every value has a comment saying how it was "
    "derived. The project's selection then runs dry on the written config: counts per month and "
    "station, a warning for classes too small for the method, and an error (exit 2, nothing "
    "written) when no accuracy could be told from chance. --synthetic also writes the "
    "simulated twin (OUT-synthetic.toml), for `faultprobe synth`. See docs/sequences.md."
)


def add_init_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `faultprobe init`."""
    g = p.add_argument_group("the mainshock (one of)")
    g.add_argument("--quakeml", metavar="FILE", help="the mainshock's QuakeML")
    g.add_argument("--event-service", metavar="URL", help="FDSN event service (with --event-id)")
    g.add_argument("--event-id", metavar="ID", help="the mainshock's event id there")
    g.add_argument("--time", metavar="UTC", help="origin time: the largest catalog event near it")
    g.add_argument("--time-tolerance-s", type=float, default=60.0, metavar="S",
                   help="how far from --time the catalog event may be (default 60)")  # fmt: skip
    g = p.add_argument_group("the data")
    g.add_argument("--catalog", required=True, metavar="FILE", help="the sequence's catalog")
    g.add_argument("--catalog-format", choices=["tan2021", "quakeml", "fdsn_text", "csv"],
                   help="default: from the file's suffix and first line")  # fmt: skip
    g.add_argument("--inventory", metavar="FILE", help="StationXML of the area")
    g.add_argument("--station-service", metavar="URL", help="FDSN station service")
    g.add_argument("--sds-root", metavar="DIR", help="waveforms from this SDS archive")
    g.add_argument("--dataselect", metavar="URL", help="waveforms from this FDSN service")
    g = p.add_argument_group("the output")
    g.add_argument("--out", default=None, metavar="CONFIG",
                   help="config file to write (default NAME.toml)")  # fmt: skip
    g.add_argument("--name", help="study name (default: the mainshock's place and year)")
    g.add_argument("--store", help="study store (default studies/NAME beside the config)")
    g.add_argument("--synthetic", action="store_true",
                   help="also write the simulated twin, OUT-synthetic.toml")  # fmt: skip
    g.add_argument("--force", action="store_true", help="replace existing config files")
    g = p.add_argument_group("how values are derived")
    g.add_argument(
        "--early-days",
        type=float,
        default=14.0,
        metavar="D",
        help="aftershocks of the first D days fit the plane (default 14)",
    )
    g.add_argument(
        "--max-days",
        type=float,
        default=60.0,
        metavar="D",
        help="longest window either side of the mainshock (default 60)",
    )
    g.add_argument(
        "--min-magnitude",
        type=float,
        default=0.5,
        metavar="M",
        help="[selection] min_magnitude (default 0.5, the paper's)",
    )
    g.add_argument(
        "--station-radius-km",
        type=float,
        default=60.0,
        metavar="KM",
        help="candidate stations within this of the epicentre (default 60)",
    )
    g.add_argument(
        "--record-km",
        type=float,
        default=30.0,
        metavar="KM",
        help="a station records the events within this distance (default 30)",
    )
    g.add_argument(
        "--near-stations",
        type=int,
        default=8,
        metavar="N",
        help="how many near stations (default 8)",
    )
    g.add_argument("--far-margin-km", type=float, default=5.0, metavar="KM",
                   help="the far control lies this far beyond the study box (default 5)")  # fmt: skip


def init_command(args: argparse.Namespace) -> int:
    """Derive, check, write; print the dry-run summary and the warnings."""
    from faultprobe.derive import DeriveError, InitOptions, derive_study

    opts = InitOptions(
        catalog=args.catalog, out=args.out or "", quakeml=args.quakeml,
        event_service=args.event_service, event_id=args.event_id, time=args.time,
        time_tolerance_s=args.time_tolerance_s, catalog_format=args.catalog_format,
        inventory=args.inventory, station_service=args.station_service,
        sds_root=args.sds_root, dataselect=args.dataselect, name=args.name, store=args.store,
        early_days=args.early_days, max_days=args.max_days, min_magnitude=args.min_magnitude,
        station_radius_km=args.station_radius_km, record_km=args.record_km,
        n_near=args.near_stations, far_margin_km=args.far_margin_km, synthetic=args.synthetic,
    )  # fmt: skip
    result = derive_study(opts)
    targets = [result.path] + ([result.twin_path] if result.twin_path else [])
    for path in targets:
        if path.exists() and not args.force:
            raise DeriveError(f"{path} exists; pass --force to replace it, or --out another file")
    result.path.write_text(result.text)
    if result.twin_path:
        result.twin_path.write_text(result.twin_text)
    if not getattr(args, "quiet", False):  # -q: only the written files
        print("\n".join(result.summary))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {result.path}" + (f" and {result.twin_path}" if result.twin_path else ""))
    nxt = f"faultprobe synth {result.twin_path}" if result.twin_path else None
    print(f"next: faultprobe catalog {result.path}" + (f" (or first {nxt})" if nxt else ""))
    return 0
