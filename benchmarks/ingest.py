"""Ingest benchmark: each figure is our way vs the naive way, measured in the same run.

  python benchmarks/ingest.py [--days 2] [--per-day 60] [--traces 3000]

1. station-day reading (SDSSource: each file read once for all its windows) vs one ObsPy
   SDS `get_waveforms` call per window, at ~60 windows per station-day, and at 2 per day;
2. vectorised preprocessing (linear detrend, taper, 4-pole band-pass over the batch) vs
   ObsPy's per-trace detrend/taper/filter;
3. the ingest on 2 Dask workers vs 1 (LocalCluster, processes);
4. reading one station's slice of the cube through xarray (MB/s) vs the same bytes with
   zarr alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_reading(days: int, per_day: int) -> None:
    from obspy import UTCDateTime
    from obspy.clients.filesystem.sds import Client as SDSClient

    from faultprobe.pipelines.plan import StationInfo
    from faultprobe.pipelines.sources import Request, SDSSource
    from faultprobe.testing.defects import T0, write_toy_study

    d = tempfile.mkdtemp()
    t0 = time.perf_counter()
    study = write_toy_study(
        d, n_events=4, days=days, continuous=True, corrupt=False, with_data=("NRCA",)
    )
    print(
        f"(continuous archive: {days} station-days x 3 components written in {time.perf_counter() - t0:.0f} s)"
    )
    st = StationInfo("IV", "NRCA", "", "HH", 100.0)
    for n_per_day in (per_day, 2):
        rng = np.random.default_rng(0)
        starts = np.sort(rng.uniform(60, days * 86400 - 60, n_per_day * days))
        starts_ns = (T0.ns + starts * 1e9).astype(np.int64)
        ends_ns = starts_ns + int(28e9)
        ours = SDSSource(study.sds_root)
        sds = SDSClient(study.sds_root)

        def fast(ours=ours, starts_ns=starts_ns, ends_ns=ends_ns):
            out = ours.fetch([Request(st, starts_ns, ends_ns)])[0]
            assert all(f.status == "ok" for f in out)

        def naive(sds=sds, starts_ns=starts_ns, ends_ns=ends_ns):
            for a, b in zip(starts_ns, ends_ns):
                sds.get_waveforms(
                    "IV", "NRCA", "", "HH?", UTCDateTime(ns=int(a)), UTCDateTime(ns=int(b))
                )

        tf, tn = _best(fast, 2), _best(naive, 1)
        print(
            f"1. reading {n_per_day} windows/station-day ({len(starts)} windows): station-day {tf:.2f} s, per-window get_waveforms {tn:.2f} s -> {tn / tf:.1f}x"
        )


def bench_preprocessing(n: int) -> None:
    from obspy import Stream, Trace

    from faultprobe.dsp import bandpass

    rng = np.random.default_rng(0)
    x = rng.normal(0, 100, (n, 2500)).cumsum(axis=1)
    band = (2.0, 20.0)

    def ours():
        return bandpass(x, band, 100.0, taper=0.05)

    def obspy_way():
        st = Stream([Trace(row.copy(), header={"sampling_rate": 100.0}) for row in x])
        for tr in st:
            tr.detrend("linear")
            tr.taper(0.05, type="cosine")
            tr.filter("bandpass", freqmin=band[0], freqmax=band[1], corners=4, zerophase=True)
        return np.array([tr.data for tr in st])

    a, b = ours(), obspy_way()
    err = np.abs(a - b)[:, 200:-200].max() / np.abs(b).max()
    tf, tn = _best(ours), _best(obspy_way, 1)
    print(
        f"2. preprocessing {n} traces x 2500: vectorised {tf:.2f} s, ObsPy per trace {tn:.2f} s -> {tn / tf:.1f}x (max relative difference away from the edges {err:.1e})"
    )


def _cpu_work(i: int) -> float:
    """A pure NumPy task (sorting), the control for what the machine allows."""
    x = np.random.default_rng(i).normal(size=200_000)
    for _ in range(40):
        x = np.sort(x)[::-1].copy()
    return float(x[0])


def bench_workers(n_events: int) -> str:
    from distributed import Client, LocalCluster

    from faultprobe.config import load_config
    from faultprobe.pipelines import ingest as ing
    from faultprobe.testing.defects import write_toy_config, write_toy_study

    d = tempfile.mkdtemp()
    study = write_toy_study(d, n_events=n_events, days=3, corrupt=False)
    times = {}
    for workers in (1, 2):
        import shutil

        shutil.rmtree(f"{study.store}/waveforms.zarr", ignore_errors=True)
        shutil.rmtree(f"{study.store}/ingest", ignore_errors=True)
        cfg = load_config(
            write_toy_config(d, study, waveforms={"block_size": 16, "codec": "zstd-3"})
        )
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: __import__("faultprobe.pipelines.ingest"))  # warm imports
            plan = ing.make_plan(
                ing.Store(cfg.study.store).read_table("events.parquet"),
                ing.Store(cfg.study.store).read_table("stations.parquet"),
                cfg.waveforms,
            )
            specs = ing.block_specs(plan)
            ing._prepare(cfg, ing.Store(cfg.study.store), plan, specs)
            t0 = time.perf_counter()
            ing._run(cfg, specs, ing.Store(cfg.study.store).url("waveforms.zarr"), client)
            times[workers] = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.gather(client.map(_cpu_work, range(12), pure=False))
            times[("cpu", workers)] = time.perf_counter() - t0
            ing.ingest(cfg, client=client)  # compaction, checks, consolidation
    print(
        f"3. ingest of {n_events} events x 5 stations ({len(specs)} blocks): 1 worker {times[1]:.2f} s, 2 workers {times[2]:.2f} s -> {times[1] / times[2]:.2f}x"
    )
    control = times[("cpu", 1)] / times[("cpu", 2)]
    print(f"   control, a pure NumPy task on the same clusters: 2 workers vs 1 -> {control:.2f}x")
    return study.store


def bench_slice(store: str) -> None:
    import xarray as xr
    import zarr

    url = f"{store}/waveforms.zarr"

    def via_xarray():  # what a user writes: open, select, load
        return xr.open_zarr(url).waveform.isel(station=0).values

    def via_xarray_plain():  # the same without dask
        return xr.open_zarr(url, chunks=None).waveform.isel(station=0).values

    def via_zarr():
        return zarr.open_array(url, path="waveform", mode="r")[:, 0]

    opened = xr.open_zarr(url, chunks=None)
    arr = zarr.open_array(url, path="waveform", mode="r")
    a, b = via_xarray(), via_zarr()
    assert np.array_equal(a, b, equal_nan=True)
    mb = a.nbytes / 1e6
    tx, tp, tz = _best(via_xarray, 5), _best(via_xarray_plain, 5), _best(via_zarr, 5)
    ox = _best(lambda: opened.waveform.isel(station=0).values, 5)
    oz = _best(lambda: arr[:, 0], 5)
    print(
        f"4. one station's slice ({mb:.1f} MB of {arr.nbytes / 1e6:.0f} MB): open+read xarray "
        f"{mb / tx:.0f} MB/s (dask) / {mb / tp:.0f} MB/s (chunks=None), zarr alone "
        f"{mb / tz:.0f} MB/s -> {tz / tx:.2f} / {tz / tp:.2f} of zarr's speed; already open: "
        f"xarray {mb / ox:.0f} MB/s, zarr {mb / oz:.0f} MB/s -> {oz / ox:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--per-day", type=int, default=60)
    ap.add_argument("--traces", type=int, default=3000)
    ap.add_argument("--events", type=int, default=192)
    ap.add_argument("--slice-store", help="a bigger study store for the slice figure (4.)")
    ap.add_argument("--only", type=int, choices=[1, 2, 3, 4], help="run one figure")
    args = ap.parse_args()
    if args.only in (None, 1):
        bench_reading(args.days, args.per_day)
    if args.only in (None, 2):
        bench_preprocessing(args.traces)
    store = bench_workers(args.events) if args.only in (None, 3) or not args.slice_store else None
    if args.only in (None, 4):
        bench_slice(args.slice_store or store)


if __name__ == "__main__":
    main()
