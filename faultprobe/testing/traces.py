"""The in-memory compaction the ingest used before it streamed: the reference its tests and
benchmarks compare `faultprobe.pipelines.compaction` with (same rows, columns, values)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from faultprobe.pipelines import ledger
from faultprobe.store import TRACES, Store


def compact_in_memory(store: Store, n_blocks: int, threads: int = 8) -> pd.DataFrame:
    """Every block's part concatenated in pandas, written whole as traces.parquet."""
    with ThreadPoolExecutor(max_workers=threads) as ex:
        parts = list(ex.map(lambda b: ledger.read_part(store, b), range(n_blocks)))
    df = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ledger.TRACE_COLUMNS)
    )
    store.write_table(df, TRACES)
    return df


def check_in_memory(traces: pd.DataFrame) -> tuple[int, bool]:
    """The old final check's row count and duplicate test, on the whole table."""
    return len(traces), bool(
        traces.duplicated(["source_id", "station_network_code", "station_code"]).any()
    )
