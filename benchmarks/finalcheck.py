"""The ingest's end at catalog scale: compaction of the traces parts and the final check,
the old in-memory way (pandas concat, one write, `duplicated`) against the streamed one
(`faultprobe.pipelines.compaction`), each in a child process of its own (peak RSS), on the
same synthetic ledger of 900k events x 10 stations; then the two traces.parquet compared
column by column (schema with its pandas metadata, every value).

    python benchmarks/finalcheck.py            # 900,058 events x 10 stations, 256 per block
    python benchmarks/finalcheck.py --quick    # 90k events, a smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from children import child_figures

STATIONS = ["NRCA", "MMO1", "ARRO", "CAMP", "CESI", "FEMA", "FIAM", "GUMA", "MC2", "NOR"]
NAMES = np.array(["ok", "gap", "no_data", "ok", "missing_component", "transient"], dtype=object)


def write_ledger(root: str, n_events: int, block: int) -> int:
    """What every task leaves: its traces part and marker, as run_block writes them."""
    from faultprobe import columns as cols
    from faultprobe.pipelines import ledger
    from faultprobe.store import Store

    store = Store(root)
    ids = np.array([f"{20160824000000 + i}" for i in range(n_events)], dtype=object)
    rng = np.random.default_rng(1)
    t0 = pd.Timestamp("2016-08-24", tz="UTC").value
    s = len(STATIONS)
    n_blocks = -(-n_events // block)
    for b in range(n_blocks):
        ev = ids[b * block : (b + 1) * block]
        n = len(ev) * s
        st = NAMES[rng.integers(0, len(NAMES) - 1, n)]  # no transient: a complete store
        p = t0 + rng.integers(0, 365 * 86400, n) * 10**9
        rows = pd.DataFrame(
            {
                "source_id": np.repeat(ev, s).astype(str),
                "station_network_code": "IV",
                "station_code": np.tile(STATIONS, len(ev)),
                "status": st.astype(str),
                "reason": np.where(st == "gap", "gap of 1.2 s in IV.NRCA..HHZ", ""),
                "trace_p_arrival_time": pd.to_datetime(p, utc=True),
                "trace_snr_db": cols.snr_db(rng.lognormal(2.0, 1.0, n)),
                "source": "sds",
                "attempts": np.ones(n, np.int32),
                "trace_start_time": pd.to_datetime(p - 5 * 10**9, utc=True),
                "failure": np.where(st == "no_data", "permanent", ""),
                "station_location_code": "",
                "trace_channels": "HHE,HHN,HHZ",
            }
        )
        ledger.write_part(store, b, rows)
        ledger.mark_done(store, b, {"block": b, "events": len(ev)})
    return n_blocks


_CHILD = r"""
import json, resource, sys, time
import faultprobe.pipelines.compaction as compaction
from faultprobe.store import Store
from faultprobe.testing.traces import check_in_memory, compact_in_memory
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
root, n_blocks, way = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = Store(root); base = rss(); t = time.perf_counter()
if way == "old":
    df = compact_in_memory(store, n_blocks); rows, dup = check_in_memory(df)
else:
    f = compaction.compact(store, n_blocks); rows, dup = f.n_rows, f.duplicated
print("RESULT " + json.dumps(dict(seconds=time.perf_counter() - t, peak=rss(), base=base,
                                  rows=rows, duplicated=dup)))
"""


def run_child(root: str, n_blocks: int, way: str) -> dict:
    return child_figures(_CHILD, root, n_blocks, way, what=way)


def same_tables(a: str, b: str) -> bool:
    """Schema (with pandas metadata) and every column's values, one column at a time."""
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    if not fa.schema_arrow.equals(fb.schema_arrow, check_metadata=True):
        return False
    for name in fa.schema_arrow.names:
        if not pq.read_table(a, columns=[name]).equals(pq.read_table(b, columns=[name])):
            return False
    return fa.metadata.num_rows == fb.metadata.num_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=900_058)
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.events = 90_000
    print(f"cpus {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    root = tempfile.mkdtemp(prefix="faultprobe-finalcheck-")
    try:
        t = time.perf_counter()
        n_blocks = write_ledger(root, args.events, args.block_size)
        rows = args.events * len(STATIONS)
        print(f"ledger: {n_blocks} blocks, {rows:,} traces rows, written in "
              f"{time.perf_counter() - t:.0f} s")  # fmt: skip
        res = {}
        for way in ("old", "new"):
            res[way] = run_child(root, n_blocks, way)
            shutil.move(f"{root}/traces.parquet", f"{root}/{way}.parquet")
            r = res[way]
            assert r["rows"] == rows and not r["duplicated"], r
            print(f"{way:>3}: {r['seconds']:.1f} s, driver peak RSS {r['peak'] / 2**30:.2f} GiB "
                  f"({(r['peak'] - r['base']) / 2**30:.2f} GiB above the process after its "
                  "imports)")  # fmt: skip
        ratio = res["old"]["peak"] / res["new"]["peak"]
        same = same_tables(f"{root}/old.parquet", f"{root}/new.parquet")
        size = os.path.getsize(f"{root}/new.parquet") / 1e6
        print(f"old/new peak RSS = {ratio:.1f}x; time new/old = "
              f"{res['new']['seconds'] / res['old']['seconds']:.2f}; traces.parquet {size:.0f} MB; "
              f"same schema and values: {same}")  # fmt: skip
        print(f"goal: new peak under 1 GiB -> {res['new']['peak'] < 2**30}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
