"""faultprobe against the tools users would pick instead, on the same work, in one run.

  python benchmarks/peers.py acquire [--events 60] [--rate 4]
  python benchmarks/peers.py train   [--events 1000] [--budget-mb 16] [--model-batches 8]
  python benchmarks/peers.py read    [--events 2000] [--month 2016-11] [--band 2 8]

acquire: ObsPy's MassDownloader (one `download` per event, the way its docs loop over a
  catalogue) against `faultprobe ingest` from FDSN, both from the tests' loopback FDSN
  service (tests/fdsn_loopback.py) serving the same toy archive, events and stations:
  once with the service enforcing a request rate (answers 429 above it, as INGV does) and
  once with no limit. Wall time, requests, bytes served, 429s, and usable windows at the
  end (a window is usable when all three components cover P-5 s .. P+20 s).
train: SeisBench's `WaveformDataset` + `GenericGenerator` + a torch DataLoader reading
  faultprobe's own SeisBench export, against faultprobe's cube loader (ml/dataset.py, one
  pass) and its streaming path (ml/stream.py), each feeding the same fixed training step
  (the study's model, one SGD step per batch): samples/s and peak memory.
read: the analyst's read of one station, one month, one band: xarray on the cube against
  SeisBench's metadata + HDF5 for the same selection.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import tempfile
import threading
import time
from collections import deque

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the loopback FDSN service


# -- acquisition ------------------------------------------------------------------------
def _limited_service(rate: float | None):
    """The tests' FDSN service, counting bytes served and, with `rate`, answering 429
    (Retry-After 1 s) to any query above `rate` per sliding second."""
    from fdsn_loopback import FDSNService

    class Limited(FDSNService):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.bytes_out = 0
            self.n_429 = 0
            self._recent: deque[float] = deque()
            self._gate = threading.Lock()

        def _send(self, h, code, body=b"", *a, **k):
            with self._gate:
                self.bytes_out += len(body)
                self.n_429 += code == 429
            return super()._send(h, code, body, *a, **k)

        def handle(self, h, method, body):
            if rate is not None and "/query" in h.path:
                now = time.monotonic()
                with self._gate:
                    while self._recent and self._recent[0] <= now - 1.0:
                        self._recent.popleft()
                    over = len(self._recent) >= rate
                    if not over:
                        self._recent.append(now)
                if over:
                    with self.lock:
                        self.log.append((time.time(), method, "query", 0))
                    return self._send(h, 429, b"Too many requests", headers={"Retry-After": "1"})
            if "/station/1/query" in h.path and "format=text" in h.path:
                return self._station_text(h, method)
            return super().handle(h, method, body)

        def _inventory(self):
            """The tests' inventory with the start dates a real service always gives."""
            from obspy import UTCDateTime

            from faultprobe.testing.defects import toy_inventory

            inv = toy_inventory(self.stations, source="loopback")
            for net in inv:
                for sta in net:
                    sta.start_date = sta.start_date or UTCDateTime(2000, 1, 1)
                    for cha in sta:
                        cha.start_date = cha.start_date or UTCDateTime(2000, 1, 1)
            return inv

        def _stationxml(self):
            import io

            buf = io.BytesIO()
            self._inventory().write(buf, format="STATIONXML")
            return buf.getvalue()

        def _station_text(self, h, method):
            """FDSN station text (level=channel), which MassDownloader asks for when the
            service offers `format` (the tests' service answers StationXML only)."""
            import io

            with self.lock:
                self.log.append((time.time(), method, "query", 0))
            buf = io.StringIO()
            self._inventory().write(buf, format="STATIONTXT", level="channel")
            return self._send(h, 200, buf.getvalue().encode(), "text/plain")

    return Limited


def _usable_massdownloader(folder: str, plan, window_s, max_gap_s: float) -> set:
    """(event, station) windows whose three components cover P+window with no gap above
    `max_gap_s`, from the per-event miniSEED files MassDownloader wrote."""
    from obspy import Stream, UTCDateTime, read

    out = set()
    for i, eid in enumerate(plan.events["source_id"]):
        for j, st in enumerate(plan.stations):
            files = glob.glob(os.path.join(folder, str(eid), f"{st.network}.{st.station}.*"))
            if len(files) < 3:
                continue
            stream = Stream()
            for f in files:
                stream += read(f)
            p = UTCDateTime(ns=int(plan.p_time_ns[i, j]))
            a, b = p + window_s[0], p + window_s[1]
            good = 0
            for comp in "ENZ":
                tr = stream.select(component=comp)
                if not len(tr):
                    break
                gaps = [g for g in tr.get_gaps() if g[6] > max_gap_s]
                merged = tr.copy().merge(fill_value=0)
                if gaps or len(merged) != 1:
                    break
                s = merged[0].stats
                if s.starttime <= a + 1e-6 and s.endtime >= b - 1.0 / s.sampling_rate - 1e-6:
                    good += 1
            if good == 3:
                out.add((str(eid), st.station))
    return out


def _run_massdownloader(url: str, plan, out: str, threads: int, pause_s: float = 0.0) -> float:
    """One MassDownloader.download per event over the event's windows, `pause_s` between
    events (a user pacing it by hand: it has no rate limit of its own); returns seconds."""
    import logging

    from obspy import UTCDateTime
    from obspy.clients.fdsn import Client
    from obspy.clients.fdsn.mass_downloader import CircularDomain, MassDownloader, Restrictions

    logging.getLogger("obspy.clients.fdsn.mass_downloader").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    client = Client(url)
    mdl = MassDownloader(providers=[client], configure_logging=False)
    nets = ",".join(sorted({s.network for s in plan.stations}))
    for i, ev in enumerate(plan.events.itertuples()):
        if i and pause_s:
            time.sleep(pause_s)
        p = plan.p_time_ns[i][plan.p_time_ns[i] > np.iinfo(np.int64).min]
        restrictions = Restrictions(
            starttime=UTCDateTime(ns=int(p.min())) - 7.0,  # the window and faultprobe's pad
            endtime=UTCDateTime(ns=int(p.max())) + 22.0,
            network=nets,
            station="*",
            channel_priorities=["HH[ZNE]", "EH[ZNE]"],
            location_priorities=["", "*"],
            reject_channels_with_gaps=False,
            minimum_length=0.0,
            minimum_interstation_distance_in_m=0.0,
            sanitize=False,
        )
        domain = CircularDomain(
            ev.source_latitude_deg, ev.source_longitude_deg, minradius=0.0, maxradius=2.0
        )
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            mdl.download(
                domain,
                restrictions,
                mseed_storage=os.path.join(out, str(ev.source_id)),
                stationxml_storage=os.path.join(out, "stations"),
                threads_per_client=threads,
                print_report=False,
            )
    return time.perf_counter() - t0


def _fdsn_config(folder: str, study, url: str, rate: float | None):
    from faultprobe.config import load_config
    from faultprobe.testing.defects import write_toy_config

    store = os.path.join(folder, "store")
    os.makedirs(store, exist_ok=True)
    study.events.to_parquet(os.path.join(store, "events.parquet"))
    study.stations.to_parquet(os.path.join(store, "stations.parquet"))
    w = {
        "source": "fdsn",
        "fdsn": url,
        "cache": os.path.join(folder, "cache"),
        "max_requests_per_second": rate if rate is not None else 1000.0,
        "max_concurrent_requests": 2 if rate is not None else 3,
        "block_size": 16,
    }
    toy = type(study)(store, "", study.events, study.stations)
    return load_config(write_toy_config(folder, toy, waveforms=w))


def bench_acquire(n_events: int, rate: float, threads: int) -> None:
    from distributed import Client as DaskClient
    from distributed import LocalCluster

    from faultprobe.config import load_config
    from faultprobe.pipelines.ingest import ingest
    from faultprobe.pipelines.plan import make_plan
    from faultprobe.store import TRACES, Store
    from faultprobe.testing.defects import write_toy_config, write_toy_study

    d = tempfile.mkdtemp(prefix="peers-acquire-")
    t0 = time.perf_counter()
    study = write_toy_study(os.path.join(d, "toy"), n_events=n_events, days=3, corrupt=False)
    cfg0 = load_config(write_toy_config(os.path.join(d, "toy"), study))
    plan = make_plan(study.events, study.stations, cfg0.waveforms)
    n_windows = len(plan.events) * len(plan.stations)
    print(
        f"(toy archive: {n_events} events x {len(plan.stations)} stations = {n_windows} "
        f"windows, written in {time.perf_counter() - t0:.0f} s)"
    )
    window, gap = cfg0.waveforms.window_s, cfg0.waveforms.max_gap_s
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        DaskClient(cluster) as dask,
    ):
        for limit in (rate, None):
            Service = _limited_service(limit)
            name = f"service limited to {limit:g} requests/s" if limit else "no limit"
            rows = {}
            whos = ["MassDownloader", "faultprobe"]
            if limit:  # 2 requests an event (availability, one bulk): paced to the limit
                whos.insert(1, "MassDownloader, paced")
            for who in whos:
                folder = os.path.join(d, f"{who}-{limit}")
                os.makedirs(folder)
                pause = 2.0 / limit if "paced" in who else 0.0
                with Service(study.sds_root, study.stations, study.events) as svc:
                    if who == "faultprobe":
                        cfg = _fdsn_config(folder, study, svc.url, limit)
                        cpu = time.process_time()
                        t = time.perf_counter()
                        summary = ingest(cfg, client=dask)
                        secs = time.perf_counter() - t
                        cpu = time.process_time() - cpu
                        tr = Store(cfg.study.store).read_table(TRACES)
                        ok = tr[tr["status"] == "ok"]
                        usable = set(zip(ok["source_id"].astype(str), ok["station_code"]))
                        assert summary.status_counts.get("ok", 0) == len(usable)
                        status = dict(
                            zip(zip(tr["source_id"].astype(str), tr["station_code"]), tr["status"])
                        )
                    else:
                        cpu = time.process_time()
                        secs = _run_massdownloader(svc.url, plan, folder, threads, pause)
                        cpu = time.process_time() - cpu
                        usable = _usable_massdownloader(folder, plan, window, gap)
                    busiest = svc.requests_in_windows(1.0)
                    rows[who] = (secs, len(svc.log), svc.bytes_out, svc.n_429, usable, busiest, cpu)
            print(f"acquire, {name}:")
            for who, (secs, n, b, n429, usable, busiest, cpu) in rows.items():
                print(
                    f"  {who:>14}: {secs:6.1f} s (CPU {cpu:5.1f} s, service included), {n:4d} requests (busiest second {busiest}), "
                    f"{b / 1e6:6.2f} MB served, {n429:3d} x 429, "
                    f"{len(usable)}/{n_windows} usable windows"
                )
            fp = rows["faultprobe"]
            for who in whos[:-1]:
                md = rows[who]
                per = (md[0] / len(md[4])) / (fp[0] / len(fp[4])) if md[4] else float("inf")
                print(
                    f"  -> against {who}: faultprobe {md[0] / fp[0]:.1f}x faster "
                    f"({per:.1f}x per usable window), "
                    f"{md[1] / fp[1]:.1f}x fewer requests, {fp[2] / max(md[2], 1):.2f}x its "
                    f"bytes, {len(fp[4]) - len(md[4]):+d} usable windows"
                )
                extra = sorted(md[4] - fp[4])
                if extra:
                    why = {}
                    for k in extra:
                        why[status.get(k, "?")] = why.get(status.get(k, "?"), 0) + 1
                    print(
                        f"     {len(extra)} windows it counts that faultprobe flags: "
                        + ", ".join(f"{k} {v}" for k, v in why.items())
                        + " (its files are not checked for clipping or dead traces)"
                    )


# -- training input ---------------------------------------------------------------------
MAIN = "2016-10-30T06:40:17Z"


def _peak_reset() -> int:
    """Reset the process's peak RSS (Linux clear_refs) and return the RSS now (bytes)."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kb("VmRSS") * 1024


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _peak_since(base: int) -> float:
    """Peak RSS above `base`, MB."""
    return max(_status_kb("VmHWM") * 1024 - base, 0) / 1e6


def _toy_training_store(folder: str, n_events: int):
    """The toy cube (P at 0 s, -5 .. 20 s at 100 Hz) with a stations table for the export."""
    import pandas as pd
    import xarray as xr

    from faultprobe.store import CUBE, STATIONS
    from faultprobe.testing.toycube import ToyStudy, write_toy_store

    study = ToyStudy(n_events=n_events, window_s=(-5.0, 20.0), dtstar_jump=0.05)
    store = write_toy_store(folder, study)
    rows = [
        {"station_network_code": n, "station_code": s, "station_location_code": "",
         "station_channels": "HH", "station_latitude_deg": 42.8,
         "station_longitude_deg": 13.1 + 0.1 * k, "station_elevation_m": 900.0}
        for k, (n, s, _) in enumerate(study.stations)
    ]  # fmt: skip
    store.write_table(pd.DataFrame(rows), STATIONS)
    # the ingest's per-trace start time, which the toy cube leaves out (P at time 0)
    ds = xr.open_zarr(store.url(CUBE))
    start = ds["p_time"] + np.timedelta64(int(float(ds["time"].values[0]) * 1e9), "ns")
    start = start.astype("datetime64[ns]").chunk(ds["p_time"].chunks)
    xr.Dataset({"start_time": start}).to_zarr(store.url(CUBE), mode="a", consolidated=True)
    return store


class _Step:
    """The fixed training step every input path feeds: the study's narrow CNN, one Adam
    step per batch (`model=False`: a dummy step that only touches the batch)."""

    def __init__(self, n_channels: int, model: bool):
        import torch

        from faultprobe.ml.model import FaultNet

        torch.manual_seed(0)
        self.model = FaultNet(2, n_channels, width=0.25) if model else None
        if model:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.seen = 0

    def __call__(self, x, y) -> None:
        import torch

        x = torch.as_tensor(x, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.long)
        self.seen += len(x)
        if self.model is None:
            float(x.sum())  # the batch is materialised and read once
            return
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def _batches_memory(store, station: str, labels_of, batch: int, epochs: int):
    """faultprobe's cube loader, as a run reads it (zarr-backed, no Dask): the station's
    slice in one pass, normalised once, then shuffled batches each epoch."""
    import torch

    from faultprobe.ml import dataset
    from faultprobe.ml.stream import lazy_cube

    ds = lazy_cube(store)
    status = ds["status"].isel(station=dataset.station_positions(ds, [station])[0]).values
    pos = np.flatnonzero(status == 0)  # as a run reads it: only the events it uses
    sl = dataset.read_station_slice(ds, [station], events=pos)
    x = dataset.prepare(sl.x, sl.sampling_rate, overwrite=True)  # as ml/stream.py does
    del sl
    y = labels_of(dataset.event_table(ds)["source_origin_time"].to_numpy()[pos])
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            b = perm[i : i + batch]
            yield xt[b], yt[b]
        yield None


def _batches_stream(store, station: str, labels_of, batch: int, epochs: int, budget: int):
    """faultprobe's streaming path: chunk-aligned buffers within `budget`, prefetched."""
    import torch

    from faultprobe.ml import dataset
    from faultprobe.ml.spec import Labelling, RunSpec
    from faultprobe.ml.stream import CubeSplit, event_chunk, lazy_cube

    ds = lazy_cube(store)
    status = ds["status"].isel(station=dataset.station_positions(ds, [station])[0]).values
    pos = np.flatnonzero(status == 0)
    y = labels_of(dataset.event_table(ds)["source_origin_time"].to_numpy()[pos])
    spec = RunSpec(stations=(station,), labelling=Labelling(kind="binary", mainshock=MAIN))
    split = CubeSplit(ds, spec, pos, y, budget // 2, event_chunk(ds))
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        yield from split.epoch_batches(g, batch)
        yield None


def _batches_seisbench(export, station: str, batch: int, epochs: int, cache: str | None):
    """SeisBench's way: WaveformDataset on the export, GenericGenerator with its Normalize
    (demean, peak per trace and component, as faultprobe's), a torch DataLoader."""
    import pandas as pd
    import seisbench.data as sbd
    import seisbench.generate as sbg
    import torch

    data = sbd.WaveformDataset(export, component_order="ENZ", dimension_order="NCW", cache=cache)
    data.filter(data.metadata["station_code"] == station, inplace=True)
    t = pd.to_datetime(data.metadata["source_origin_time"], utc=True)
    data.metadata["label"] = (t >= pd.Timestamp(MAIN)).astype(int).to_numpy()
    if cache == "full":
        data.preload_waveforms()

    def label(state):
        state["y"] = (np.int64(state["X"][1]["label"]), None)

    gen = sbg.GenericGenerator(data)
    gen.add_augmentations(
        [sbg.Normalize(demean_axis=-1, amp_norm_axis=-1), sbg.ChangeDtype(np.float32), label]
    )
    loader = torch.utils.data.DataLoader(
        gen, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    for _ in range(epochs):
        for b in loader:
            yield b["X"], b["y"]
        yield None


def _measure(make, model_batches: int, conn) -> None:
    """In a forked child: two epochs into the dummy step (the first from opening the
    data), then `model_batches` CNN steps; peak memory above the child's start."""
    base = _peak_reset()
    step, marks, t = _Step(3, model=False), [], time.perf_counter()
    for b in make(2):
        if b is None:
            marks.append((time.perf_counter() - t, step.seen))
            t, step.seen = time.perf_counter(), 0
            continue
        step(*b)
    mem = _peak_since(base)
    step, t = _Step(3, model=True), None
    for k, b in enumerate(make(1)):
        if b is None or k > model_batches:
            break
        if k == 1:  # time from the second batch: the opening is in the figures above
            t, step.seen = time.perf_counter(), 0
        step(*b)
    model = step.seen / (time.perf_counter() - t)
    conn.send((marks[0][1], marks[0][1] / marks[0][0], marks[1][1] / marks[1][0], model, mem))
    conn.close()


def _in_child(make, model_batches: int):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_measure, args=(make, model_batches, b))
    p.start()
    out = a.recv()
    p.join()
    return out


def bench_train(n_events: int, model_batches: int, budget_mb: float) -> None:
    import pandas as pd
    import torch

    from faultprobe.exports.seisbench import export_seisbench

    torch.set_num_threads(1)
    # every path's modules imported before the children fork: their memory is the data's
    import seisbench.data
    import seisbench.generate  # noqa: F401
    import zarr  # noqa: F401

    import faultprobe.ml.model
    import faultprobe.ml.stream  # noqa: F401

    d = tempfile.mkdtemp(prefix="peers-train-")
    t0 = time.perf_counter()
    store = _toy_training_store(os.path.join(d, "store"), n_events)
    t1 = time.perf_counter()
    export = os.path.join(d, "seisbench")
    summary = export_seisbench(store.root, export)
    t2 = time.perf_counter()
    print(
        f"(toy cube: {n_events} events x 2 stations x 3 x 2500, written in {t1 - t0:.0f} s; "
        f"SeisBench export of {summary.traces} traces in {t2 - t1:.1f} s)"
    )
    main = pd.Timestamp(MAIN)

    def labels_of(origin):
        return (pd.DatetimeIndex(origin) >= main).astype(np.int64)

    budget = int(budget_mb * 1e6)
    ways = {
        "faultprobe cube, in memory": lambda ep: _batches_memory(store, "NRCA", labels_of, 32, ep),
        f"faultprobe cube, streamed ({budget_mb:g} MB)": lambda ep: _batches_stream(
            store, "NRCA", labels_of, 32, ep, budget
        ),
        "SeisBench, cache=None": lambda ep: _batches_seisbench(export, "NRCA", 32, ep, None),
        "SeisBench, preloaded": lambda ep: _batches_seisbench(export, "NRCA", 32, ep, "full"),
    }
    rows = {}
    for name, make in ways.items():
        n, first, later, model, mem = rows[name] = _in_child(make, model_batches)
        print(
            f"  {name:<34} {n} samples an epoch into a dummy step: first epoch (from opening) "
            f"{first:6.0f}/s, next epoch {later:7.0f}/s; into the CNN step {model:5.1f}/s; "
            f"peak memory +{mem:4.0f} MB"
        )
    fp = rows["faultprobe cube, in memory"]
    st = rows[f"faultprobe cube, streamed ({budget_mb:g} MB)"]
    for name in [n for n in rows if n.startswith("SeisBench")]:
        sb = rows[name]
        print(
            f"  -> against {name}: faultprobe in memory / streamed, samples/s into the dummy "
            f"step x{fp[1] / sb[1]:.1f} / x{st[1] / sb[1]:.1f} (first epoch), "
            f"x{fp[2] / sb[2]:.1f} / x{st[2] / sb[2]:.1f} (next); into the CNN step "
            f"x{fp[3] / sb[3]:.2f} / x{st[3] / sb[3]:.2f}; peak memory "
            f"{fp[4]:.0f} / {st[4]:.0f} MB against {sb[4]:.0f} MB"
        )


# -- the analyst's read -----------------------------------------------------------------
def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_read(n_events: int, month: str, band: tuple[float, float]) -> None:
    import pandas as pd
    import seisbench.data as sbd
    import xarray as xr

    from faultprobe.dsp import bandpass
    from faultprobe.exports.seisbench import export_seisbench
    from faultprobe.store import CUBE

    d = tempfile.mkdtemp(prefix="peers-read-")
    t0 = time.perf_counter()
    store = _toy_training_store(os.path.join(d, "store"), n_events)
    export = os.path.join(d, "seisbench")
    export_seisbench(store.root, export)
    print(
        f"(toy cube of {n_events} events x 2 stations, and its SeisBench export, written in "
        f"{time.perf_counter() - t0:.0f} s; selection: IV.NRCA, {month}, {band[0]:g}-{band[1]:g} Hz)"
    )
    lo = pd.Timestamp(month + "-01", tz="UTC")
    hi = lo + pd.offsets.MonthBegin(1)
    url = store.url(CUBE)

    def with_xarray(ds=None):  # what an analyst writes on the cube
        ds = xr.open_zarr(url, chunks=None) if ds is None else ds
        t = ds["origin_time"].values
        sel = ds.sel(station="NRCA").isel(
            event=(t >= lo.tz_localize(None).to_datetime64())
            & (t < hi.tz_localize(None).to_datetime64())
        )
        sel = sel.isel(event=sel["status"].values == 0)
        x = sel["waveform"].values
        return np.array([str(e) for e in sel["event"].values]), bandpass(x, band, 100.0)

    def with_seisbench(data=None):  # the same on SeisBench's metadata + HDF5
        if data is None:
            data = sbd.WaveformDataset(export, component_order="ENZ", dimension_order="NCW")
        m = data.metadata
        t = pd.to_datetime(m["source_origin_time"], utc=True)
        mask = ((m["station_code"] == "NRCA") & (t >= lo) & (t < hi)).to_numpy()
        x = data.get_waveforms(mask=mask)
        return np.array([str(e) for e in m.loc[mask, "source_id"]]), bandpass(x, band, 100.0)

    ea, xa = with_xarray()
    eb, xb = with_seisbench()
    oa, ob = np.argsort(ea), np.argsort(eb)
    assert np.array_equal(ea[oa], eb[ob]), "both ways select the same traces"
    np.testing.assert_allclose(xa[oa], xb[ob], rtol=1e-5, atol=1e-6 * np.abs(xa).max())
    mb = xa.nbytes / 1e6
    cold_x, cold_s = _best_of(with_xarray), _best_of(with_seisbench)
    opened_x = xr.open_zarr(url, chunks=None)
    opened_s = sbd.WaveformDataset(export, component_order="ENZ", dimension_order="NCW")
    warm_x = _best_of(lambda: with_xarray(opened_x))
    warm_s = _best_of(lambda: with_seisbench(opened_s))
    t = time.perf_counter()
    bandpass(xa, band, 100.0)
    filt = time.perf_counter() - t
    print(f"  {len(ea)} traces, {mb:.1f} MB (the band-pass, the same call in both: {filt:.2f} s)")
    for name, cold, warm in (
        ("xarray on the cube", cold_x, warm_x),
        ("SeisBench metadata + HDF5", cold_s, warm_s),
    ):
        print(f"  {name:<26} open+select+read+filter {cold:6.2f} s, already open {warm:6.2f} s")
    print(
        f"  -> xarray on the cube x{cold_s / cold_x:.1f} (from opening), x{warm_s / warm_x:.1f} "
        f"(already open) the speed of SeisBench on the same selection"
    )


# -- main -------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("acquire", help="MassDownloader vs faultprobe ingest from FDSN")
    a.add_argument("--events", type=int, default=60)
    a.add_argument("--rate", type=float, default=4.0, help="the service's requests/s")
    a.add_argument("--threads", type=int, default=3, help="MassDownloader threads_per_client")
    t = sub.add_parser("train", help="SeisBench generators vs faultprobe's cube loaders")
    t.add_argument("--events", type=int, default=1000)
    t.add_argument("--model-batches", type=int, default=8, help="CNN steps timed per path")
    t.add_argument("--budget-mb", type=float, default=16.0, help="the streamed path's budget")
    r = sub.add_parser("read", help="xarray on the cube vs SeisBench metadata + HDF5")
    r.add_argument("--events", type=int, default=2000)
    r.add_argument("--month", default="2016-11")
    r.add_argument("--band", type=float, nargs=2, default=(2.0, 8.0))
    args = ap.parse_args()
    if args.what == "acquire":
        bench_acquire(args.events, args.rate, args.threads)
    elif args.what == "train":
        bench_train(args.events, args.model_batches, args.budget_mb)
    elif args.what == "read":
        bench_read(args.events, args.month, tuple(args.band))


if __name__ == "__main__":
    main()
