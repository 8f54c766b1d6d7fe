"""Reading stations' slices from the cube, leaving out bad traces, normalising, band-pass."""

from __future__ import annotations

import numpy as np
import pytest

from faultprobe.ml import dataset
from faultprobe.testing.toycube import ToyStudy, write_toy_store


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-dataset")
    store = write_toy_store(str(root), ToyStudy(n_events=120, bad_fraction=0.1, chunk=32))
    return dataset.open_cube(store)


def test_event_table_and_schema(cube):
    ev = dataset.event_table(cube)
    assert len(ev) == 120 and ev["source_id"].is_unique
    assert str(ev["source_origin_time"].dt.tz) == "UTC"
    assert cube["waveform"].dims == ("event", "station", "component", "time")
    assert cube["waveform"].data.chunksize[1] == 1  # one station per chunk
    assert list(cube["component"].values) == ["E", "N", "Z"]


def test_station_codes_with_and_without_network(cube):
    assert dataset.station_positions(cube, ["NRCA"]) == [0]
    assert dataset.station_positions(cube, ["IV.SMA1", "NRCA"]) == [1, 0]
    with pytest.raises(KeyError, match="XX.NOPE"):
        dataset.station_positions(cube, ["XX.NOPE"])


def test_bad_traces_are_counted_and_flagged(cube):
    sl = dataset.read_station_slice(cube, ["NRCA"])
    status = cube["status"].isel(station=0).values
    assert (sl.ok == (status == 0)).all()
    assert sl.status_counts["NRCA:ok"] == int((status == 0).sum())
    assert sl.status_counts["NRCA:gap"] == int((status == 2).sum()) > 0
    assert np.isfinite(sl.x[sl.ok]).all() and np.isnan(sl.x[~sl.ok]).any()
    both = dataset.read_station_slice(cube, ["NRCA", "SMA1"])
    assert both.x.shape[1] == 6
    assert (both.ok == (cube["status"].values == 0).all(axis=1)).all()


def test_window_and_event_subset(cube):
    sl = dataset.read_station_slice(cube, ["NRCA"], window_s=(-0.5, 1.5), events=np.arange(10))
    assert sl.x.shape == (10, 3, 200)
    full = dataset.read_station_slice(cube, ["NRCA"])
    assert np.array_equal(sl.x, full.x[:10, :, 50:250], equal_nan=True)


@pytest.mark.parametrize("group_bytes", [1, 2**30])  # one chunk a read; all at once
def test_chunk_by_chunk_read_equals_one_read(cube, monkeypatch, group_bytes):
    monkeypatch.setattr(dataset, "READ_GROUP_BYTES", group_bytes)
    # rows across chunks of 32: a run inside one chunk, a contiguous run over a chunk edge,
    # scattered and unordered positions, and one event alone
    events = np.array([3, 5, 30, 31, 32, 33, 100, 7, 64])
    sl = dataset.read_station_slice(cube, ["SMA1", "NRCA"], events=events)
    want = cube["waveform"].isel(event=events, station=[1, 0]).values.astype(np.float32)
    assert sl.x.dtype == np.float32
    assert np.array_equal(sl.x, want.reshape(len(events), 6, -1), equal_nan=True)


def test_normalise_equals_the_plain_formula():
    x = np.random.default_rng(1).normal(3, 50, (4, 3, 200)).astype(np.float32)
    x[1, 2] = 5.0  # constant: zero after the mean, stays zero
    plain = x - x.mean(axis=-1, keepdims=True)
    peak = np.abs(plain).max(axis=-1, keepdims=True)
    plain = (plain / np.where(peak > 0, peak, 1.0)).astype(np.float32)
    before = x.copy()
    assert np.array_equal(dataset.normalise(x), plain)
    assert np.array_equal(x, before)  # the input is left alone
    y = dataset.normalise(x, overwrite=True)  # in x's own memory, same values
    assert np.array_equal(y, plain) and np.shares_memory(y, x)
    z = dataset.prepare(before, 100.0, (2.0, 8.0), overwrite=False)
    assert z.dtype == np.float32 and np.isfinite(z).all()


def test_normalise_per_trace_and_component():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 300)).astype(np.float32) * np.array([1, 100, 1e-6])[:, None]
    x += 7.0
    x[0, 1] = 0.0  # a dead component stays zero, no NaN
    y = dataset.normalise(x)
    assert np.allclose(y.mean(-1), 0, atol=1e-5)
    peak = np.abs(y).max(-1)
    assert np.allclose(peak[1:], 1) and peak[0, 1] == 0 and np.isfinite(y).all()


def test_bandpass_keeps_in_band_and_removes_out_of_band():
    fs, t = 100.0, np.arange(2000) / 100.0
    low, high = np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 30 * t)
    x = np.stack([low + high, 2 * low + high])[:, None, :].repeat(3, axis=1).astype(np.float32)
    y = dataset.bandpass(x, (20.0, 40.0), fs)
    core = slice(300, -300)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.allclose(y[..., core], high[core], atol=0.05)
    with pytest.raises(ValueError):
        dataset.bandpass(x, (5.0, 2.0), fs)
