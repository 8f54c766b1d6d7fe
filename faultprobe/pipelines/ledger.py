"""The ingest ledger: which blocks are finished, and their rows of traces.parquet.

A block is finished when its marker exists; the marker is written last (after the cube
region and the block's traces part), so an interrupted block has no marker and is redone
whole. The marker also says what the block was built from (`inputs`) and how many of its
windows ended in each status, so a later run knows which blocks are stale and which hold
windows to ask again. Parts are compacted into STORE/traces.parquet once every block is
finished (`faultprobe.pipelines.compaction`, streamed). Every file here is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json

import pandas as pd

from faultprobe import columns as cols
from faultprobe.store import TRACES, Store

LEDGER = "ingest"
TRACE_COLUMNS = [
    "source_id",
    "station_network_code",
    "station_code",
    "status",
    "reason",
    "trace_p_arrival_time",
    "trace_snr_db",  # dB (20 log10 of the amplitude ratio)
    "source",
    "attempts",
    "trace_start_time",
    "failure",
    "station_location_code",  # location code of the trace as read
    "trace_channels",  # its E, N, Z channel codes as read, e.g. "HHE,HHN,HHZ" ("" where absent)
]


def _marker(block: int) -> str:
    return f"{LEDGER}/blocks/{block:06d}.json"


def part_name(block: int) -> str:
    """The block's traces part, inside the store."""
    return f"{LEDGER}/traces/{block:06d}.parquet"


def finished(store: Store) -> set[int]:
    """Numbers of the blocks whose marker exists."""
    folder = store.path(LEDGER, "blocks")
    if not store.fs.exists(folder):
        return set()
    return {
        int(p.rsplit("/", 1)[-1].split(".")[0])
        for p in store.fs.ls(folder, detail=False)
        if p.endswith(".json")
    }


def markers(store: Store, threads: int = 8) -> dict[int, dict]:
    """Every finished block's marker (an unreadable marker counts as not finished).

    Read by a few threads at once, as the parts in `compact`: thousands of small reads
    from an object store would otherwise wait on their round trips one by one."""
    from concurrent.futures import ThreadPoolExecutor

    def read(b: int) -> dict | None:
        try:
            return json.loads(store.read_text(_marker(b)))
        except (ValueError, FileNotFoundError):
            return None

    blocks = sorted(finished(store))
    with ThreadPoolExecutor(max_workers=threads) as ex:
        found = dict(zip(blocks, ex.map(read, blocks)))
    return {b: m for b, m in found.items() if m is not None}


def write_part(store: Store, block: int, rows: pd.DataFrame) -> None:
    store.makedirs(LEDGER, "traces")
    store.write_table(rows[TRACE_COLUMNS], part_name(block))


def read_part(store: Store, block: int) -> pd.DataFrame:
    """A block's traces part; one written before the column rename is upgraded as
    traces.parquet is, so an interrupted ingest of an old store resumes."""
    return cols.from_disk(store.read_table(part_name(block)), TRACES)


def mark_done(store: Store, block: int, summary: dict) -> None:
    store.makedirs(LEDGER, "blocks")
    store.write_text(json.dumps(summary, sort_keys=True), _marker(block))


def write_state(store: Store, name: str, payload: dict) -> None:
    store.makedirs(LEDGER)
    store.write_text(json.dumps(payload, sort_keys=True, indent=1), f"{LEDGER}/{name}.json")


def read_state(store: Store, name: str) -> dict | None:
    """A state file, or None when it is absent or unreadable (e.g. cut by a full disk)."""
    if not store.exists(LEDGER, f"{name}.json"):
        return None
    try:
        state = json.loads(store.read_text(f"{LEDGER}/{name}.json"))
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def drop_state(store: Store, name: str) -> None:
    store.remove(f"{LEDGER}/{name}.json")
