"""The ingest ledger: which blocks are finished, and their rows of traces.parquet.

A block is finished when its marker exists; the marker is written last (after the cube
region and the block's traces part), so an interrupted block has no marker and is redone
whole. Parts are compacted into STORE/traces.parquet once every block is finished.
"""

from __future__ import annotations

import json

import pandas as pd

from faultprobe.store import TRACES, Store

LEDGER = "ingest"
TRACE_COLUMNS = [
    "event_id",
    "network",
    "station",
    "status",
    "reason",
    "p_time",
    "snr",
    "source",
    "attempts",
    "start_time",
]


def _marker(block: int) -> str:
    return f"{LEDGER}/blocks/{block:06d}.json"


def _part(block: int) -> str:
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


def write_part(store: Store, block: int, rows: pd.DataFrame) -> None:
    store.makedirs(LEDGER, "traces")
    store.write_table(rows[TRACE_COLUMNS], _part(block))


def mark_done(store: Store, block: int, summary: dict) -> None:
    store.makedirs(LEDGER, "blocks")
    target = store.path(_marker(block))
    with store.fs.open(target + ".tmp", "w") as f:
        f.write(json.dumps(summary, sort_keys=True))
    store.fs.mv(target + ".tmp", target)


def compact(store: Store, n_blocks: int, threads: int = 8) -> pd.DataFrame:
    """Concatenate every block's part, in block order, into traces.parquet.

    Parts are read by a few threads at once (an object store answers each read with a
    round trip; thousands of blocks would otherwise wait on them one by one)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as ex:
        parts = list(ex.map(lambda b: store.read_table(_part(b)), range(n_blocks)))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TRACE_COLUMNS)
    store.write_table(df, TRACES)
    return df


def write_state(store: Store, name: str, payload: dict) -> None:
    store.makedirs(LEDGER)
    store.write_text(json.dumps(payload, sort_keys=True, indent=1), f"{LEDGER}/{name}.json")


def read_state(store: Store, name: str) -> dict | None:
    if not store.exists(LEDGER, f"{name}.json"):
        return None
    return json.loads(store.read_text(f"{LEDGER}/{name}.json"))
