"""Read a 900k-event catalog in the Tan et al. (2021) format and select a study from it.

Prints the time of faultprobe's vectorised read + select (isolation by travel time at the
Norcia stations, the default, and by origin time) and of a plain per-row Python loop doing
the origin-time selection on the same file, and their ratio, in the same run.

    python benchmarks/catalog_select.py [--events 900000] [--loop-events 100000]

The loop is timed on the first --loop-events rows and scaled to the whole file (it is
linear); both selections are checked to agree on those rows.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from catalog_files import NORCIA_STATIONS, random_catalog, write_tan

from faultprobe.catalogs.readers import read_tan2021
from faultprobe.catalogs.selection import select_events
from faultprobe.config import load_config
from faultprobe.geodesy import EARTH_RADIUS_KM

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "norcia2016.toml"
STATIONS = pd.DataFrame(
    [(la, lo) for _, _, la, lo, *_ in NORCIA_STATIONS],
    columns=["station_latitude_deg", "station_longitude_deg"],
)


def loop_select(path: Path, cfg, limit: int) -> set[str]:
    """The naive way: parse each line with split(), test each rule with math, row by row
    (isolation on origin times)."""
    main, fault, sel = cfg.mainshock, cfg.fault, cfg.selection
    lat0, lon0, z0 = main.latitude, main.longitude, main.depth_km
    s, d = math.radians(fault.strike), math.radians(fault.dip)
    along = (math.sin(s), math.cos(s), 0.0)
    dd = (math.cos(d) * math.cos(s), -math.cos(d) * math.sin(s), math.sin(d))
    nrm = (
        along[1] * dd[2] - along[2] * dd[1],
        along[2] * dd[0] - along[0] * dd[2],
        along[0] * dd[1] - along[1] * dd[0],
    )
    v_lo, v_hi = ((z - z0) / math.sin(d) for z in fault.depth_km)
    start, end = cfg.study.start.timestamp(), cfg.study.end.timestamp()
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 16 or line.startswith("#"):
                continue
            y, mo, dy, h, mi = (int(p) for p in parts[:5])
            t = pd.Timestamp(
                year=y, month=mo, day=dy, hour=h, minute=mi, tz="UTC"
            ).timestamp() + float(parts[5])
            rows.append(
                (t, float(parts[6]), float(parts[7]), float(parts[8]), float(parts[14]), parts[15])
            )
            if len(rows) >= limit:
                break
    times = sorted(r[0] for r in rows)
    keep = set()
    for t, lat, lon, dep, mw, eid in rows:
        if (
            not (start <= t <= end)
            or math.isnan(mw)
            or not mw > sel.min_magnitude
            or dep < sel.min_depth_km
        ):
            continue
        mid = math.radians((lat + lat0) / 2)
        e = EARTH_RADIUS_KM * math.radians(lon - lon0) * math.cos(mid)
        n = EARTH_RADIUS_KM * math.radians(lat - lat0)
        a_h = e * math.sin(s) + n * math.cos(s)
        x_h = -(e * math.cos(s) - n * math.sin(s))
        box = sel.box
        if not (
            box.along_strike_km[0] <= a_h <= box.along_strike_km[1]
            and box.across_strike_km[0] <= x_h <= box.across_strike_km[1]
        ):
            continue
        p = (e, n, dep - z0)
        u = sum(a * b for a, b in zip(p, along))
        v = sum(a * b for a, b in zip(p, dd))
        w = sum(a * b for a, b in zip(p, nrm))
        du = u - min(max(u, fault.along_strike_km[0]), fault.along_strike_km[1])
        dv = v - min(max(v, v_lo), v_hi)
        if math.sqrt(du * du + dv * dv + w * w) > sel.max_fault_distance_km:
            continue
        others = sum(
            1 for o in times if t - sel.isolation_before_s <= o <= t + sel.isolation_after_s
        )
        if others == 1:
            keep.add(eid)
    return keep


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=900_000)
    ap.add_argument("--loop-events", type=int, default=20_000)
    args = ap.parse_args()
    cfg = load_config(CONFIG)
    by_origin = cfg.model_copy(
        update={"selection": cfg.selection.model_copy(update={"isolation": "origin_time"})}
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Amatrice_CAT5.v20210325"
        cat = random_catalog(args.events, seed=1, t0="2016-08-15", days=365)
        write_tan(path, cat)
        size = path.stat().st_size / 1e6

        t0 = time.perf_counter()
        read = read_tan2021(path, "mw")
        t1 = time.perf_counter()
        selection = select_events(read.events, cfg, STATIONS)
        t2 = time.perf_counter()
        fast = t2 - t0
        old = select_events(read.events, by_origin)
        t_old = time.perf_counter() - t2

        # The loop's isolation scan is quadratic; time it on a prefix and scale linearly
        # (a lower bound on the loop's true time for the whole file).
        n_loop = min(args.loop_events, args.events)
        t3 = time.perf_counter()
        kept = loop_select(path, cfg, n_loop)
        loop = (time.perf_counter() - t3) * args.events / n_loop

        sub = select_events(read.events.iloc[:n_loop], by_origin)
        agree = set(sub.events["source_id"]) == kept
    print(f"catalog: {args.events} events, {size:.0f} MB ({len(selection.events)} selected)")
    print(f"faultprobe read   {t1 - t0:7.2f} s")
    print(f"faultprobe select {t2 - t1:7.2f} s   (travel time at {len(STATIONS)} stations)")
    print(f"  by origin time  {t_old:7.2f} s   ({len(old.events)} selected)")
    print(f"faultprobe total  {fast:7.2f} s   (goal < 10 s)")
    print(f"per-row loop      {loop:7.2f} s   (measured on {n_loop} rows, scaled)")
    print(f"ratio loop / faultprobe: {loop / fast:.1f}x; selections agree on the prefix: {agree}")
    if not agree:
        raise SystemExit("the vectorised and loop selections differ")


if __name__ == "__main__":
    main()
