"""The simulated waveform archive: one code path for `get_waveforms` and the SDS writer.

Per station, every event gets a segment (`segment_s` long, starting `segment_lead_s`
before its origin) and the noise schedule adds ambient-noise segments; overlapping
segments merge into spans.  A span is rendered as noise plus the records of all events
whose segment it holds, converted to int32 counts with the station sensitivity and
clipped at a 24-bit digitizer's full scale.  Everything in a span depends only on the
config, so `get_waveforms` returns exactly what the written SDS files hold.

A station change (`[[synthetic.station_changes]]`, a confound) starts a new epoch of its
station (`faultprobe.synthetic.instrument`): segments belong to the epoch their start falls
in, spans never cross an epoch's start (a record that would is cut there, as a station
restarting), and each epoch renders at its own rate, filters and sensitivity.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd
from obspy import Stream, Trace, UTCDateTime
from obspy.core.inventory import Inventory

from faultprobe.config import StudyConfig
from faultprobe.config.stages import SynthWorld
from faultprobe.geodesy import FaultFrame
from faultprobe.synthetic.effect import dtstar_at
from faultprobe.synthetic.events import catalog_span, simulate_events
from faultprobe.synthetic.geometry import exposure
from faultprobe.synthetic.instrument import Epoch, station_epochs
from faultprobe.synthetic.noise import noise_times_ns, render_noise
from faultprobe.synthetic.records import render_batch
from faultprobe.synthetic.stations import SimStation, build_inventory, simulated_stations
from faultprobe.synthetic.velocity import direct_rays, velocity_at

FULL_SCALE = 2**23 - 1  # a 24-bit digitizer clips here (counts)
BATCH = 32  # records rendered together


def mix_seeds(*parts) -> np.ndarray:
    """Vectorised splitmix64 of integer arrays: one well-mixed uint64 seed per element."""
    with np.errstate(over="ignore"):
        h = np.zeros(np.broadcast(*parts).shape, dtype=np.uint64)
        for p in parts:
            h = h ^ np.asarray(p).astype(np.uint64)
            h = h + np.uint64(0x9E3779B97F4A7C15)
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return h >> np.uint64(1)  # fits int64


@dataclass(frozen=True)
class StationPlan:
    """Paths from every event to one station and the station's merged spans.

    Sample indices count in the step of the epoch the span (or event) belongs to;
    `step_ns` and `seg_n` are those of the first epoch.
    """

    index: int
    station: SimStation
    step_ns: int
    seg_n: int
    paths: pd.DataFrame  # one row per event (events' order)
    ev_start: np.ndarray  # first sample index of each event's segment
    span_start: np.ndarray
    span_end: np.ndarray  # exclusive
    ev_span: np.ndarray  # span of each event
    span_events: list[np.ndarray]
    epochs: tuple[Epoch, ...]
    span_epoch: np.ndarray  # epoch of each span
    ev_epoch: np.ndarray  # epoch of each event
    segment_s: float

    @property
    def span_step_ns(self) -> np.ndarray:
        """Sample interval (ns) of every span."""
        return np.array([e.step_ns for e in self.epochs], dtype=np.int64)[self.span_epoch]

    def seg_samples(self, epoch: int) -> int:
        """Samples in one segment at the epoch's rate."""
        return int(round(self.segment_s * self.epochs[epoch].sampling_rate))


def merge_segments(starts: np.ndarray, seg_n: int, limit: int | None):
    """Merge overlapping segments [start, start + seg_n) into spans, cut at `limit`.

    Returns span starts, span ends (exclusive) and each segment's span.
    """
    order = np.argsort(starts, kind="stable")
    st = starts[order]
    run_end = np.maximum.accumulate(st + seg_n)
    new = np.ones(len(st), dtype=bool)
    new[1:] = st[1:] >= run_end[:-1]
    span_of = np.cumsum(new) - 1
    span_start = st[new]
    span_end = np.append(run_end[np.flatnonzero(new)[1:] - 1], run_end[-1]) if len(st) else st
    if limit is not None:
        span_end = np.minimum(span_end, limit)
    seg_span = np.empty(len(st), dtype=np.int64)
    seg_span[order] = span_of
    return span_start, span_end, seg_span


class SyntheticArchive:
    """The simulated sequence of a study, readable like an ObsPy SDS client.

    `get_waveforms` has the meaning of `obspy.clients.filesystem.sds.Client.get_waveforms`
    and returns the same samples as the SDS archive that `faultprobe synth` writes.
    """

    def __init__(self, world: SynthWorld | StudyConfig, cache_spans: int = 32):
        if not isinstance(world, SynthWorld):  # a whole study (tests, docs): take its world
            world = SynthWorld.of(world)
        self.world = world
        self.stations = simulated_stations(world)
        self.events = simulate_events(world)
        self.frame = FaultFrame(world.mainshock, world.fault)
        self.origin_ns = self.events["source_origin_time"].astype("int64").to_numpy()
        t0, t1 = catalog_span(world)
        self.noise_ns = noise_times_ns(world.synthetic, t0.value, t1.value)
        self.mainshock_ns = pd.Timestamp(world.mainshock.time).value
        changes = world.synthetic.station_changes
        both = [
            station_epochs(s.code, s.sampling_rate, s.sensitivity, changes) for s in self.stations
        ]
        self.epochs = [data for data, _ in both]  # what each station records with
        self.documented_epochs = [meta for _, meta in both]  # what its StationXML says
        self._plans: dict[int, StationPlan] = {}
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_spans

    # ---- tables -------------------------------------------------------------------------
    def catalog(self) -> pd.DataFrame:
        """The simulated catalog as written (reported locations and magnitudes)."""
        e = self.events
        return pd.DataFrame(
            {
                "source_id": e["source_id"],
                "source_origin_time": e["source_origin_time"],
                "source_latitude_deg": e["cat_latitude"],
                "source_longitude_deg": e["cat_longitude"],
                "source_depth_km": e["cat_depth_km"],
                "mw": e["cat_mw"],
                "ml": e["cat_ml"],
                "eh1_km": e["eh1_km"],
                "eh2_km": e["eh2_km"],
                "az_deg": e["az_deg"],
                "ez_km": e["ez_km"],
            }
        )

    def inventory(self) -> Inventory:
        """StationXML content: E/N/Z channels with flat responses (sensitivity only)."""
        t0, _ = catalog_span(self.world)
        start = UTCDateTime(min(t0, pd.Timestamp(self.world.start)).value // 10**9 - 86400 * 400)
        return build_inventory(
            self.stations,
            start=start,
            created=UTCDateTime(self.world.mainshock.time),
            epochs=self.documented_epochs,
        )

    def paths(self) -> pd.DataFrame:
        """Long table of every (event, station) path: travel times, t*, exposure, Δt*."""
        out = []
        for i, s in enumerate(self.stations):
            p = self.plan(i).paths.copy()
            p.insert(0, "source_id", self.events["source_id"].to_numpy())
            p.insert(1, "station_network_code", s.network)
            p.insert(2, "station_code", s.station)
            out.append(p)
        return pd.concat(out, ignore_index=True)

    def truth(self) -> pd.DataFrame:
        """Every event's true parameters, with Δt* and exposure per station as columns."""
        df = self.events.copy()
        for i, s in enumerate(self.stations):
            p = self.plan(i).paths
            df[f"dtstar_{s.code}"] = p["dtstar_s"].to_numpy()
            df[f"exposure_{s.code}"] = p["exposure"].to_numpy()
            df[f"p_arrival_{s.code}"] = df["source_origin_time"] + pd.to_timedelta(
                p["tp_s"], unit="s"
            )
        return df

    # ---- per-station plan ---------------------------------------------------------------
    def plan(self, i: int) -> StationPlan:
        if i not in self._plans:
            self._plans[i] = self._make_plan(i)
        return self._plans[i]

    def _make_plan(self, i: int) -> StationPlan:
        syn, s, e = self.world.synthetic, self.stations[i], self.events
        src = self.frame.enu(
            e["source_latitude_deg"], e["source_longitude_deg"], e["source_depth_km"]
        )
        rec = self.frame.enu(s.latitude, s.longitude, 0.0)
        d = rec[None, :] - src
        epi = np.hypot(d[:, 0], d[:, 1])
        depth = e["source_depth_km"].to_numpy()
        rp, rs = direct_rays(epi, depth, "P"), direct_rays(epi, depth, "S")
        # the model's top is sea level: a vertical leg through the station's elevation
        elev_km = s.elevation_m / 1000.0
        tp = rp.time_s + elev_km / float(velocity_at(0.0, "P"))
        ts = rs.time_s + elev_km / float(velocity_at(0.0, "S"))
        eff = syn.effect
        expo = exposure(
            self.frame, src, rec[None, :], eff.half_width_km, eff.along_strike_km, eff.depth_km
        )[:, 0]
        days = (
            e["source_origin_time"] - pd.Timestamp(self.world.mainshock.time)
        ).dt.total_seconds() / 86400
        paths = pd.DataFrame(
            {
                "epicentral_km": epi,
                "hypocentral_km": np.hypot(epi, depth),
                "azimuth_deg": np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0,
                "tp_s": tp,
                "ts_s": ts,
                "incidence_p_deg": rp.incidence_deg,
                "incidence_s_deg": rs.incidence_deg,
                "tstar_p": tp / syn.q_p,
                "tstar_s": ts / syn.q_s,
                "kappa_s": s.kappa_s,
                "exposure": expo,
                "dtstar_s": dtstar_at(eff, days.to_numpy()) * expo,
            }
        )
        epochs = self.epochs[i]
        lead = int(round(syn.segment_lead_s * 1e9))
        seg_ns = np.concatenate([self.origin_ns - lead, self.noise_ns])
        bounds = np.array([e.start_ns for e in epochs], dtype=np.int64)
        seg_epoch = np.searchsorted(bounds, seg_ns, side="right") - 1
        seg_start = np.empty(len(seg_ns), dtype=np.int64)
        seg_span = np.empty(len(seg_ns), dtype=np.int64)
        starts, ends, span_epoch = [], [], []
        for j, ep in enumerate(epochs):  # spans of each epoch, never across the next start
            sel = np.flatnonzero(seg_epoch == j)
            step = ep.step_ns
            seg_start[sel] = seg_ns[sel] // step
            limit = -(-int(bounds[j + 1]) // step) if j + 1 < len(epochs) else None
            n_seg = int(round(syn.segment_s * ep.sampling_rate))
            a, b, of = merge_segments(seg_start[sel], n_seg, limit)
            seg_span[sel] = of + sum(len(x) for x in starts)
            starts.append(a)
            ends.append(b)
            span_epoch.append(np.full(len(a), j, dtype=np.int64))
        span_start, span_end = np.concatenate(starts), np.concatenate(ends)
        n_ev = len(self.origin_ns)
        ev_span = seg_span[:n_ev]
        by_span = np.argsort(ev_span, kind="stable")
        cuts = np.searchsorted(ev_span[by_span], np.arange(len(span_start) + 1))
        span_events = [by_span[cuts[k] : cuts[k + 1]] for k in range(len(span_start))]
        return StationPlan(
            i, s, epochs[0].step_ns, int(round(syn.segment_s * s.sampling_rate)), paths,
            seg_start[:n_ev], span_start, span_end, ev_span, span_events,
            tuple(epochs), np.concatenate(span_epoch), seg_epoch[:n_ev], syn.segment_s,
        )  # fmt: skip

    # ---- rendering ----------------------------------------------------------------------
    def render_span(self, i: int, k: int) -> np.ndarray:
        """(3, n) int32 counts (E, N, Z) of span k of station i."""
        key = (i, k)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = self._render(i, k)
        self._cache[key] = data
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def _render(self, i: int, k: int) -> np.ndarray:
        return self.render_spans(i, [k])[0]

    def render_spans(self, i: int, spans: list[int]) -> list[np.ndarray]:
        """(3, n) int32 counts of several spans of station i, their records in batches."""
        plan, syn = self.plan(i), self.world.synthetic
        out = []
        for k in spans:
            a, b = int(plan.span_start[k]), int(plan.span_end[k])
            ep = plan.epochs[plan.span_epoch[k]]
            seed = mix_seeds(syn.seed, 2, i, a)
            out.append(
                render_noise(
                    syn, b - a, ep.sampling_rate, a * ep.step_ns, int(seed), self.mainshock_ns
                )
            )
        ev = np.concatenate([plan.span_events[k] for k in spans])
        where = np.repeat(np.arange(len(spans)), [len(plan.span_events[k]) for k in spans])
        ev_epoch = plan.ev_epoch[ev]
        for j in np.unique(ev_epoch):  # records in batches of one rate
            pos = np.flatnonzero(ev_epoch == j)
            seg_n = plan.seg_samples(int(j))
            for lo in range(0, len(pos), BATCH):
                at = pos[lo : lo + BATCH]
                recs = self._records(plan, ev[at], int(j))
                for r, (ix, k) in enumerate(zip(ev[at], where[at])):
                    o = int(plan.ev_start[ix]) - int(plan.span_start[spans[k]])
                    n = min(seg_n, out[k].shape[1] - o)  # cut at an epoch's end
                    out[k][:, o : o + n] += recs[r, :, :n]
        counts = []
        for v, k in zip(out, spans):  # through the epoch's instrument, then to counts
            ep = plan.epochs[plan.span_epoch[k]]
            c = np.clip(np.rint(ep.record(v) * ep.sensitivity), -FULL_SCALE, FULL_SCALE)
            counts.append(c.astype(np.int32))
        return counts

    def _records(self, plan: StationPlan, idx: np.ndarray, epoch: int = 0) -> np.ndarray:
        """Ground velocity of the segments of events idx (all of one epoch) at the station."""
        syn, s, e, p = self.world.synthetic, plan.station, self.events, plan.paths
        ep = plan.epochs[epoch]
        rec_t0 = plan.ev_start[idx] * ep.step_ns
        offset = (self.origin_ns[idx] - rec_t0) / 1e9  # origin, s after the first sample
        pp = p.iloc[idx]
        return render_batch(
            e["source_magnitude"].to_numpy()[idx],
            e["stress_drop_mpa"].to_numpy()[idx],
            pp["hypocentral_km"].to_numpy(),
            offset + pp["tp_s"].to_numpy(),
            offset + pp["ts_s"].to_numpy(),
            sampling_rate=ep.sampling_rate,
            n_samples=plan.seg_samples(epoch),
            seeds=mix_seeds(syn.seed, 1, idx, plan.index),
            tstar_p=pp["tstar_p"].to_numpy(),
            tstar_s=pp["tstar_s"].to_numpy(),
            kappa=s.kappa_s,
            dtstar=pp["dtstar_s"].to_numpy(),
            band_hz=syn.effect.band_hz,
            azimuth_deg=pp["azimuth_deg"].to_numpy(),
            incidence_p_deg=pp["incidence_p_deg"].to_numpy(),
            incidence_s_deg=pp["incidence_s_deg"].to_numpy(),
        )

    def span_traces(
        self,
        i: int,
        k: int,
        cache: bool = True,
        data: np.ndarray | None = None,
        samples: tuple[int, int] | None = None,
    ) -> list[Trace]:
        """The span as three ObsPy traces (E, N, Z); only its samples [a, b) if given."""
        plan = self.plan(i)
        s = plan.station
        a = 0
        if data is None:  # a copy: callers may change traces in place, never the cache
            data = self.render_span(i, k) if cache else self._render(i, k)
            if samples is not None:
                a = max(samples[0], 0)
                data = data[:, a : max(samples[1], a)]
            # only the samples asked for are copied: a view of the whole span would keep
            # it alive as long as the window (a dense hour is 5 MB per window otherwise)
            data = data.copy()
        ep = plan.epochs[plan.span_epoch[k]]
        start = UTCDateTime(ns=(int(plan.span_start[k]) + a) * ep.step_ns)
        return [
            Trace(
                data=data[c],
                header={
                    "network": s.network,
                    "station": s.station,
                    "location": "",
                    "channel": cha,
                    "sampling_rate": ep.sampling_rate,
                    "starttime": start,
                },
            )
            for c, cha in enumerate(s.channels)
        ]

    def get_waveforms(
        self,
        network: str,
        station: str,
        location: str,
        channel: str,
        starttime: UTCDateTime,
        endtime: UTCDateTime,
        merge: int | None = -1,
    ) -> Stream:
        """Like the ObsPy SDS client: select, trim to [starttime, endtime], cleanup merge."""
        if starttime >= endtime:
            raise ValueError("'endtime' must be after 'starttime'.")
        st = Stream()
        lo_ns, hi_ns = int(starttime.ns), int(endtime.ns)
        for i, s in enumerate(self.stations):
            if not (fnmatchcase(s.network, network) and fnmatchcase(s.station, station)):
                continue
            if not fnmatchcase("", location):
                continue
            comps = [c for c, cha in enumerate(s.channels) if fnmatchcase(cha, channel)]
            if not comps:
                continue
            plan = self.plan(i)
            # spans touching the window (one sample of slack on either side)
            step = plan.span_step_ns
            touch = (plan.span_end > lo_ns // step - 1) & (plan.span_start < hi_ns // step + 2)
            for k in np.flatnonzero(touch):
                first, dt = int(plan.span_start[k]), int(step[k])
                cut = (lo_ns // dt - 2 - first, hi_ns // dt + 3 - first)  # slack for trim
                traces = self.span_traces(i, k, samples=cut)
                st += Stream([traces[c] for c in comps])
        st.trim(starttime, endtime)
        if merge is not None and merge is not False:
            st.merge(merge)
        return st
