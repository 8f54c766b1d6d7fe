"""faultprobe against the tools users would pick instead, on the same work, in one run.

  python benchmarks/peers.py acquire [--events 60] [--rate 4]
  python benchmarks/peers.py train   [--events 2000] [--epochs 2]
  python benchmarks/peers.py read    [--days 60] [--per-day 40]

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
    for i, eid in enumerate(plan.events["event_id"]):
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
        domain = CircularDomain(ev.latitude, ev.longitude, minradius=0.0, maxradius=2.0)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            mdl.download(
                domain,
                restrictions,
                mseed_storage=os.path.join(out, str(ev.event_id)),
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
                        t = time.perf_counter()
                        summary = ingest(cfg, client=dask)
                        secs = time.perf_counter() - t
                        tr = Store(cfg.study.store).read_table(TRACES)
                        ok = tr[tr["status"] == "ok"]
                        usable = set(zip(ok["event_id"].astype(str), ok["station"]))
                        assert summary.status_counts.get("ok", 0) == len(usable)
                        status = dict(
                            zip(zip(tr["event_id"].astype(str), tr["station"]), tr["status"])
                        )
                    else:
                        secs = _run_massdownloader(svc.url, plan, folder, threads, pause)
                        usable = _usable_massdownloader(folder, plan, window, gap)
                    busiest = svc.requests_in_windows(1.0)
                    rows[who] = (secs, len(svc.log), svc.bytes_out, svc.n_429, usable, busiest)
            print(f"acquire, {name}:")
            for who, (secs, n, b, n429, usable, busiest) in rows.items():
                print(
                    f"  {who:>14}: {secs:6.1f} s, {n:4d} requests (busiest second {busiest}), "
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
    args = ap.parse_args()
    if args.what == "acquire":
        bench_acquire(args.events, args.rate, args.threads)


if __name__ == "__main__":
    main()
