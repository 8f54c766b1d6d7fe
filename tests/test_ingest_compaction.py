"""The streamed compaction writes the traces.parquet the in-memory one wrote (same schema,
rows, values), on a fresh study and on a resumed one, finds duplicates exactly, and keeps
the file when a run changed nothing."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from faultprobe.columns import legacy
from faultprobe.config import load_config
from faultprobe.pipelines import compaction, ledger
from faultprobe.pipelines.ingest import ingest
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study
from faultprobe.testing.traces import check_in_memory, compact_in_memory

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _same_as_in_memory(store: Store, n_blocks: int) -> None:
    """traces.parquet as the ingest left it equals the in-memory compaction of its parts."""
    new = pq.read_table(store.path(TRACES))
    shutil.copy(store.path(TRACES), store.path("streamed.parquet"))
    df = compact_in_memory(store, n_blocks)
    old = pq.read_table(store.path(TRACES))
    assert new.schema.equals(old.schema, check_metadata=True)
    assert new.equals(old)
    shutil.move(store.path("streamed.parquet"), store.path(TRACES))
    pd.testing.assert_frame_equal(store.read_table(TRACES), df)
    figures = compaction.compact(store, n_blocks)
    assert (figures.n_rows, figures.duplicated) == check_in_memory(df)
    assert (
        figures.counts
        == df["status"].value_counts().reindex(figures.counts, fill_value=0).to_dict()
    )


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compaction")
    study = write_toy_study(str(folder), n_events=12)
    return study, load_config(write_toy_config(str(folder), study, waveforms={"block_size": 2}))


def test_streamed_store_equals_the_in_memory_one_fresh_and_resumed(toy, client):
    study, cfg = toy
    store = Store(study.store)
    first = ingest(cfg, client=client)
    n_blocks = first.n_blocks
    assert n_blocks > 3 and first.ran == n_blocks
    _same_as_in_memory(store, n_blocks)
    # resumed: blocks whose markers a kill left unwritten are redone, the file rewritten
    for b in (1, 3):
        os.remove(store.path(ledger.LEDGER, "blocks", f"{b:06d}.json"))
    again = ingest(cfg, client=client)
    assert again.ran == 2 and again.status_counts == first.status_counts
    _same_as_in_memory(store, n_blocks)
    # a run that changes nothing keeps the file (a compaction would replace its inode)
    inode = os.stat(store.path(TRACES)).st_ino
    third = ingest(cfg, client=client)
    assert third.ran == 0 and os.stat(store.path(TRACES)).st_ino == inode
    assert third.status_counts == first.status_counts


def _parts(store: Store, rows: list[pd.DataFrame]) -> None:
    for b, df in enumerate(rows):
        ledger.write_part(store, b, df.reindex(columns=ledger.TRACE_COLUMNS, fill_value=""))


def _rows(events: list[str], stations: list[str]) -> pd.DataFrame:
    n = len(events) * len(stations)
    t = pd.Timestamp("2016-10-01", tz="UTC")
    return pd.DataFrame(
        {
            "source_id": np.repeat(events, len(stations)),
            "station_network_code": "IV",
            "station_code": np.tile(stations, len(events)),
            "status": "ok",
            "reason": "",
            "trace_p_arrival_time": pd.date_range(t, periods=n, freq="s"),
            "trace_snr_db": np.linspace(-6.0, 19.0, n).astype(np.float32),
            "source": "sds",
            "attempts": np.ones(n, np.int32),
            "trace_start_time": pd.date_range(t, periods=n, freq="s"),
            "failure": "",
        }
    )


@pytest.mark.parametrize("collide", [False, True])
def test_duplicates_found_exactly_even_when_hashes_collide(tmp_path, monkeypatch, collide):
    if collide:  # every key hashes alike: only the exact comparison can tell them apart
        monkeypatch.setattr(compaction, "_key_hashes", lambda df: np.zeros(len(df), np.uint64))
    store = Store(str(tmp_path))
    _parts(store, [_rows(["a", "b"], ["X", "Y"]), _rows(["c"], ["X", "Y"])])
    assert not compaction.compact(store, 2).duplicated
    _parts(store, [_rows(["a", "b"], ["X", "Y"]), _rows(["b"], ["Y", "Z"])])
    assert compaction.compact(store, 2).duplicated


def test_parts_of_mixed_types_unify_as_pandas_did(tmp_path):
    """A part whose text column is all missing, another with int64 attempts and float64
    SNR (a retried block's part): the file's types are those pandas gave the table."""
    store = Store(str(tmp_path))
    a, b = _rows(["a"], ["X", "Y"]), _rows(["b", "c"], ["X"])
    a["reason"] = pd.Series([None] * len(a), dtype="str")
    b["attempts"] = b["attempts"].astype(np.int64)
    b["trace_snr_db"] = b["trace_snr_db"].astype(np.float64)
    b.loc[0, "trace_snr_db"] = np.nan
    _parts(store, [a, b])
    compaction.compact(store, 2)
    new = pq.read_table(store.path(TRACES))
    compact_in_memory(store, 2)
    old = pq.read_table(store.path(TRACES))
    assert new.schema.equals(old.schema, check_metadata=True) and new.equals(old)


def test_a_part_of_an_older_ingest_compacts_in_todays_names(tmp_path):
    """LEGACY fixture: a block part written before the column rename (short names, the SNR
    as an amplitude ratio) beside a new one: traces.parquet gets today's names, that SNR
    in dB, so an ingest interrupted under the old names finishes."""
    store = Store(str(tmp_path))
    new, old = (
        _rows([e], ["X"]).reindex(columns=ledger.TRACE_COLUMNS, fill_value="") for e in "ab"
    )
    old["trace_snr_db"] = np.float32(10.0)  # then: the amplitude ratio
    old = old.rename(columns={v: k for k, v in legacy(TRACES).items()})
    ledger.write_part(store, 0, new)
    store.write_table(old, ledger.part_name(1))  # as the old ingest wrote it
    out = compaction.compact(store, 2)
    got = store.read_table(TRACES)
    assert list(got.columns) == ledger.TRACE_COLUMNS and not out.duplicated
    assert got["source_id"].tolist() == ["a", "b"]
    assert got["trace_snr_db"].tolist() == [-6.0, 20.0]
    assert ledger.read_part(store, 1)["trace_snr_db"].tolist() == [20.0]
