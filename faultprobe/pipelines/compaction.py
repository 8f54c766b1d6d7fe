"""The end of an ingest: the blocks' traces parts streamed into traces.parquet, and the
figures the final check needs, in one pass over the parts.

The parts are read a few at a time, given the table's derived `trace_name`
(`faultprobe.columns.to_disk`, the same function as every other table) and written as row
groups, so the driver holds one row group, not the 9 M-row table of a 900k-event study.
The pass also counts the statuses, keeps the transient rows and the channels without a
response, and hashes each (event, station) key to find duplicates. traces.parquet is one
Parquet file (its readers open it whole), and a Parquet file cannot take rows in place: a
run that changed blocks rewrites it, streamed; a run that changed nothing keeps it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from faultprobe import columns as cols
from faultprobe.pipelines import ledger
from faultprobe.pipelines.status import Failure, Status
from faultprobe.store import TRACES, Store

log = logging.getLogger(__name__)

KEYS = ["source_id", "station_network_code", "station_code"]
ROW_GROUP = 1 << 18  # rows per row group written (~40 MB of Arrow for this table)
STATE = "compacted"  # ledger state: the markers traces.parquet was last written from
_NO_RESPONSE = r"no response for (\S+):"


@dataclass
class Traces:
    """What the final check and the summary need from the traces table, without the table."""

    n_rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    transient: pd.DataFrame = field(default_factory=pd.DataFrame)
    no_response: list[str] = field(default_factory=list)
    duplicated: bool = False
    rewritten: bool = True


def _parts(store: Store, n_blocks: int, threads: int) -> Iterator[pd.DataFrame]:
    """Every block's part in block order, read by `threads` threads a window ahead (an object
    store answers each read with a round trip); at most 2 x threads parts in memory."""
    with ThreadPoolExecutor(max_workers=threads) as ex:
        ahead = []
        for b in range(n_blocks):
            ahead.append(ex.submit(ledger.read_part, store, b))
            if len(ahead) >= 2 * threads:
                yield ahead.pop(0).result()
        for fut in ahead:
            yield fut.result()


def _groups(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Consecutive parts joined into tables of about ROW_GROUP rows (one row group each)."""
    buf, rows = [], 0
    for part in parts:
        buf.append(part)
        rows += len(part)
        if rows >= ROW_GROUP:
            yield pd.concat(buf, ignore_index=True)
            buf, rows = [], 0
    if buf:
        yield pd.concat(buf, ignore_index=True)


def _disk_schema(store: Store, n_blocks: int, threads: int) -> pa.Schema:
    """The schema traces.parquet gets: what pandas would give the parts concatenated
    (their Arrow types unified, legacy names upgraded), with `trace_name`, with its pandas
    metadata."""

    def schema(b: int) -> pa.Schema:  # a part of an older ingest: its names upgraded
        with store.fs.open(store.path(ledger.part_name(b)), "rb") as f:
            empty = cols.from_disk(pq.read_schema(f).empty_table().to_pandas(), TRACES)
        return pa.Schema.from_pandas(empty, preserve_index=False)

    with ThreadPoolExecutor(max_workers=threads) as ex:
        schemas = list(ex.map(schema, range(n_blocks)))
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    empty = unified.empty_table().to_pandas()
    return pa.Schema.from_pandas(cols.to_disk(empty, TRACES), preserve_index=False)


def _key_hashes(df: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(df[KEYS], index=False).to_numpy(np.uint64)


def _duplicated(store: Store, n_blocks: int, hashes: np.ndarray, threads: int) -> bool:
    """Exact: keys whose 64-bit hashes collide are read again and compared as strings."""
    s = np.sort(hashes)
    clash = np.unique(s[1:][s[1:] == s[:-1]])
    if not len(clash):
        return False
    seen: set[tuple] = set()
    for part in _parts(store, n_blocks, threads):
        sub = part.loc[np.isin(_key_hashes(part), clash), KEYS]
        for key in sub.itertuples(index=False, name=None):
            if key in seen:
                return True
            seen.add(key)
    return False


def fingerprint(marks: dict[int, dict], n_blocks: int) -> str:
    """Which markers (hence which parts) a traces.parquet was written from."""
    text = json.dumps([n_blocks, sorted(marks.items())], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _up_to_date(store: Store, marks: dict[int, dict], n_blocks: int) -> bool:
    state = ledger.read_state(store, STATE)
    if state is None or state.get("markers") != fingerprint(marks, n_blocks):
        return False
    try:
        with store.fs.open(store.path(TRACES), "rb") as f:
            return pq.ParquetFile(f).metadata.num_rows == state.get("rows")
    except (OSError, pa.ArrowException):
        return False


def compact(
    store: Store, n_blocks: int, marks: dict[int, dict] | None = None, threads: int = 8
) -> Traces:
    """Stream every block's part, in block order, into traces.parquet (atomically), unless
    `marks` are those it was last written from; return the figures of the parts."""
    out = Traces()
    counts: Counter = Counter()
    transient, hashes, no_resp = [], [], set()
    labels = Status.labels(Failure.TRANSIENT)
    rewrite = marks is None or not _up_to_date(store, marks, n_blocks)

    def scan(part: pd.DataFrame) -> None:  # a row group's rows
        out.n_rows += len(part)
        counts.update(part["status"].astype(str).value_counts().to_dict())
        tr = part[part["status"].isin(labels)]
        if len(tr):
            transient.append(tr)
        reason = part["reason"].astype(str)
        hit = reason[reason.str.contains("no response for ", regex=False, na=False)]
        if len(hit):
            no_resp.update(hit.str.extractall(_NO_RESPONSE)[0])
        hashes.append(_key_hashes(part))

    if rewrite and n_blocks:
        schema = _disk_schema(store, n_blocks, threads)

        def write(f) -> None:
            with pq.ParquetWriter(f, schema, compression="zstd") as w:
                for rows in _groups(_parts(store, n_blocks, threads)):
                    scan(rows)
                    disk = cols.to_disk(rows, TRACES)
                    table = pa.Table.from_pandas(disk, schema=schema, preserve_index=False)
                    w.write_table(table, row_group_size=ROW_GROUP)

        store.write_stream(TRACES, write)
    elif rewrite:
        store.write_table(pd.DataFrame(columns=ledger.TRACE_COLUMNS), TRACES)
    else:
        log.debug("traces.parquet is up to date with the ledger; not rewritten")
        for rows in _groups(_parts(store, n_blocks, threads)):
            scan(rows)
    out.rewritten = rewrite
    out.counts = {s.label: int(counts.get(s.label, 0)) for s in Status}
    if transient:
        out.transient = pd.concat(transient, ignore_index=True)
    else:
        out.transient = pd.DataFrame(columns=ledger.TRACE_COLUMNS)
    out.no_response = sorted(no_resp)
    all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    hashes.clear()
    out.duplicated = _duplicated(store, n_blocks, all_hashes, threads)
    if marks is not None:
        state = {"markers": fingerprint(marks, n_blocks), "rows": out.n_rows}
        ledger.write_state(store, STATE, state)
    return out
