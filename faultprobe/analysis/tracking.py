"""`faultprobe track`: every event scored by a model that never saw it nor its neighbours in
time, and the fault-state index of a station through the sequence.

The station's events (ok traces) are cut into `[track] folds` equal-count time blocks.  For
each fold and seed one Dask task trains the paper's CNN (options of `[train]`) on the other
folds' labelled events, leaving out those within `purge_s` of the fold, and scores every
event of the fold (labelled or not): class probabilities, expected time to the mainshock,
and the post log-odds against the model's own calibration median (faultprobe.analysis.
faultstate).  Each task writes its part (STORE/tracking/STA/parts/), so a run that is
stopped redoes only the missing folds.  The parts then become, in STORE/tracking/STA/:
events.parquet (one row per event and seed), index.parquet (the index per window with its
bands), changepoints.parquet and summary.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe import progress
from faultprobe.analysis import faultstate
from faultprobe.config import StudyConfig, Track
from faultprobe.config.stages import SynthWorld, TrackSettings
from faultprobe.ml.errors import ModelError
from faultprobe.ml.spec import RunSpec, spec_from_config
from faultprobe.store import Store

log = logging.getLogger(__name__)

TRACKING = "tracking"
EVENTS, INDEX, CHANGES, SUMMARY = (
    "events.parquet",
    "index.parquet",
    "changepoints.parquet",
    "summary.json",
)


@dataclass(frozen=True)
class FoldTask:
    """One model of the cross-fitting: a station's spec (with its seed) and a fold."""

    spec: RunSpec
    fold: int
    folds: int
    purge_s: float
    fractions: tuple[float, float, float]
    blocks: int

    def to_json(self) -> str:
        d = {
            "spec": json.loads(self.spec.to_json()),
            "fold": self.fold,
            "folds": self.folds,
            "purge_s": self.purge_s,
            "fractions": list(self.fractions),
            "blocks": self.blocks,
        }
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FoldTask:
        d = json.loads(text)
        return cls(
            RunSpec.model_validate(d["spec"]),
            d["fold"],
            d["folds"],
            d["purge_s"],
            tuple(d["fractions"]),
            d["blocks"],
        )

    @property
    def part(self) -> str:
        """The part's file name: fold, seed and a hash of everything that changes it."""
        content = json.loads(self.to_json())
        content["spec"]["training"].pop("device")
        content["spec"]["training"].pop("threads")
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]
        return f"fold{self.fold}-s{self.spec.seed}-{digest}.parquet"


def station_folder(station: str) -> str:
    return f"{TRACKING}/{station}"


def station_label(store: Store, station: str) -> str:
    """NET.STA of a station given as STA or NET.STA (as the cube knows it)."""
    from faultprobe.ml import dataset

    ds = dataset.open_cube(store)
    j = dataset.station_positions(ds, [station])[0]
    code = str(ds["station"].values[j])
    if "." in code or "network" not in ds.coords:
        return code
    return f"{ds['network'].values[j]}.{code}"


def track_spec(cfg: TrackSettings, station: str, seed: int) -> RunSpec:
    """The run options of one tracked station and seed ([train], with [track] classes)."""
    t = cfg.track
    kind = "binary" if t.classes == 2 else "ttf"
    return spec_from_config(
        cfg, stations=[station], classes=t.classes, labelling=kind, seed=seed, name="track"
    )


def fold_tasks(cfg: TrackSettings, station: str) -> list[FoldTask]:
    t = cfg.track
    seeds = t.seeds or cfg.train.seeds
    return [
        FoldTask(track_spec(cfg, station, s), k, t.folds, t.purge_s, t.fractions, t.blocks)
        for s in seeds
        for k in range(t.folds)
    ]


def _seconds(times) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8 / 1e9


def _balanced(codes: np.ndarray, lab: np.ndarray, n: int, seed: int, fold: int) -> np.ndarray:
    """Subsample each of train, validation and calibration to equal class counts."""
    from faultprobe.ml import labels, splits

    out = codes.copy()
    for offset, part in enumerate((splits.TRAIN, splits.VAL, splits.CALIB)):
        inside = out == part
        try:
            keep = labels.balance(np.where(inside, lab, -1), n, seed * 1000 + fold * 10 + offset)
        except ValueError as err:
            name = {0: "training", 1: "validation", 2: "calibration"}[offset]
            raise ModelError(
                f"fold {fold}: the other folds leave a class without {name} events ({err}); "
                "use fewer [track] classes or more folds"
            ) from None
        out[inside & ~keep] = splits.UNUSED
    return out


def score_fold(
    root: str, storage_options: dict | None, task_json: str, write: bool = True
) -> pd.DataFrame:
    """The Dask task: train the fold's model and score the fold's events; writes its part."""
    import torch

    from faultprobe.ml import dataset, labels, splits
    from faultprobe.ml.model import FaultNet
    from faultprobe.ml.trainer import fit, predict, resolve_device, resolve_precision, use_threads

    task = FoldTask.from_json(task_json)
    spec = task.spec
    store = Store(root, storage_options)
    use_threads(spec.training.threads)
    ds = dataset.open_cube(store)
    events = dataset.event_table(ds)
    pos = dataset.station_positions(ds, spec.stations)
    ok = np.all(np.asarray(ds["status"].isel(station=pos).values) == 0, axis=1)
    ev = events[ok].reset_index(drop=True)
    t = _seconds(ev["source_origin_time"])
    lab, names = labels.make_labels(ev["source_origin_time"], spec.labelling)
    n = spec.labelling.n_classes
    folds = splits.time_folds(t, task.folds)
    codes = splits.crossfit_split(
        t, lab, folds, task.fold, task.purge_s, task.fractions, task.blocks
    )
    codes = _balanced(codes, lab, n, spec.seed, task.fold)
    use = np.flatnonzero(codes >= 0)
    sl = dataset.read_station_slice(ds, spec.stations, spec.window_s, np.flatnonzero(ok)[use])
    x = dataset.prepare(sl.x, sl.sampling_rate, spec.band_hz)
    c = codes[use]
    y = lab[use]
    tr, va = c == splits.TRAIN, c == splits.VAL
    m = spec.model
    init = torch.Generator().manual_seed(spec.seed * 1000 + task.fold)
    model = FaultNet(
        n, x.shape[1], width=m.width, dilation=m.dilation, dropout=m.dropout, generator=init
    )
    fit(model, x[tr], y[tr], x[va], y[va], spec.training, spec.seed * 1000 + task.fold)
    device = resolve_device(spec.training.device)
    scored = (c == splits.TEST) | (c == splits.CALIB)
    probs, _ = predict(model, x[scored], 256, device, resolve_precision(spec.training.precision,
                                                                        device))  # fmt: skip
    is_post = faultstate.post_mask(names)
    odds = faultstate.post_log_odds(probs, is_post)
    kind = c[scored]
    threshold, n_cal, m_cal = faultstate.calibration_threshold(odds[kind == splits.CALIB])
    ttf = ev["ttf_s"].to_numpy() if "ttf_s" in ev else t - _seconds([spec.labelling.mainshock])
    ttf_used = ttf[use]
    class_ttf = np.array([np.median(ttf_used[tr & (y == k)]) for k in range(n)])
    test = kind == splits.TEST
    rows = ev.iloc[use[scored][test]][["source_id", "source_origin_time"]].reset_index(drop=True)
    rows.insert(0, "station", spec.stations[0])
    rows["seed"] = spec.seed
    rows["fold"] = task.fold
    rows["label"] = y[scored][test]
    for i, name in enumerate(names):
        rows[f"p_{name}"] = probs[test, i].astype(np.float32)
    rows["expected_ttf_s"] = faultstate.expected_ttf(probs[test], class_ttf)
    rows["score"] = odds[test] - threshold
    rows["post_like"] = rows["score"] > 0
    rows["n_calib"] = n_cal
    rows["m_calib"] = m_cal
    rows["n_train"] = int(tr.sum())
    if write:
        folder = station_folder(spec.stations[0])
        store.makedirs(folder, "parts")
        store.write_table(rows, f"{folder}/parts/{task.part}")
    return rows


@dataclass
class TrackResult:
    """What `faultprobe track` made for one station."""

    station: str
    folder: str
    events: pd.DataFrame
    index: pd.DataFrame
    changes: pd.DataFrame
    summary: dict

    def render(self) -> str:
        s = self.summary
        lines = [
            f"{self.station}: {s['n_events']} events scored by {s['folds']} folds x "
            f"{len(s['seeds'])} seeds; index over {s['n_windows']} windows of "
            f"~{s['window_events']} events",
            f"  index (post-like fraction): {s['index_min']:.2f} … {s['index_max']:.2f}; "
            f"windows outside the {100 * s['chance_level']:.0f} % chance band: "
            f"{s['windows_outside_chance']} of {s['n_windows']}",
        ]
        if s.get("spearman_dtstar") is not None:
            lines.append(f"  follows the injected Δt*(t): Spearman {s['spearman_dtstar']:.2f}")
        if len(self.changes):
            for r in self.changes.itertuples():
                lines.append(
                    f"  change point {r.time:%Y-%m-%d %H:%M} UTC: index "
                    f"{r.index_before:.2f} -> {r.index_after:.2f}"
                )
        else:
            lines.append("  no change point")
        lines.append(f"  written to {self.folder}")
        return "\n".join(lines)


def dtstar_truth(world: SynthWorld | None, times) -> np.ndarray | None:
    """The injected Δt*(t) of a synthetic study (`world`; None for a real one) on a fully
    exposed path (None otherwise)."""
    if world is None:
        return None
    from faultprobe.synthetic.effect import dtstar_at

    eff = world.synthetic.effect
    if eff.dtstar_pre_max == 0 and eff.dtstar_jump == 0:
        return None
    days = (pd.DatetimeIndex(times) - pd.Timestamp(world.mainshock.time)).total_seconds() / 86400
    return dtstar_at(eff, days.to_numpy())


def summarise(
    events: pd.DataFrame, track: Track, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Index, change points and the summary of one station's scored events."""
    width = track.window_events
    index = faultstate.index_table(
        events,
        width,
        draws=track.bootstrap,
        band_level=track.band_level,
        chance_level=track.chance_level,
        seed=seed,
    )
    ev = faultstate.per_event(events)
    per_fold = events.groupby(["fold", "seed"]).agg(n=("source_id", "size"), c=("n_calib", "first"))
    fold_term = float((per_fold["n"] / per_fold["c"]).mean())
    cps = faultstate.change_points(
        ev["y"].to_numpy(), track.penalty, track.min_segment_events, fold_term
    )
    changes = faultstate.change_point_table(ev, cps)
    outside = (index["index"] < index["chance_lo"]) | (index["index"] > index["chance_hi"])
    summary = {
        "n_events": int(len(ev)),
        "folds": int(events["fold"].nunique()),
        "seeds": sorted(int(s) for s in events["seed"].unique()),
        "n_windows": int(len(index)),
        "window_events": width,
        "index_min": float(index["index"].min()),
        "index_max": float(index["index"].max()),
        "chance_level": track.chance_level,
        "windows_outside_chance": int(outside.sum()),
        "change_points": [t.isoformat() for t in changes["time"]],
        "penalty": track.penalty,
        "fold_term": fold_term,
    }
    return index, changes, summary


def track_station(cfg: TrackSettings, station: str, client) -> TrackResult:
    """Cross-fit, score, index and write one station's tracking tables."""
    from distributed import as_completed

    store = Store(cfg.store)
    station = station_label(store, station)
    folder = station_folder(station)
    tasks = fold_tasks(cfg, station)
    todo = pending(cfg, station)
    if todo:
        log.info(f"track {station}: {len(todo)} of {len(tasks)} fold models to train")
        futures = [
            client.submit(
                score_fold,
                store.root,
                store.storage_options,
                t.to_json(),
                key=f"faultprobe-track-{station}-{t.part}",
                pure=False,
            )
            for t in todo
        ]
        bar = progress.bar(total=len(futures), desc=f"track {station}", unit="fold")
        try:
            for fut in as_completed(futures):
                fut.result()
                bar.update(1)
        except BaseException:
            client.cancel(futures)
            raise
        finally:
            bar.close()
    events = pd.concat(
        [
            faultstate.upgrade_event_names(store.read_table(f"{folder}/parts/{t.part}"))
            for t in tasks
        ],
        ignore_index=True,
    )
    events["source_origin_time"] = pd.DatetimeIndex(events["source_origin_time"]).tz_convert("UTC")
    events = events.sort_values(["seed", "source_origin_time", "source_id"], kind="stable")
    index, changes, summary = summarise(events, cfg.track)
    truth = dtstar_truth(cfg.world, index["time"])
    if truth is not None:
        index["dtstar_s"] = truth
        summary["spearman_dtstar"] = faultstate.follows(index, truth)
    main = pd.Timestamp(cfg.mainshock.time)
    if len(changes):
        gap = (changes["time"] - main).abs().min()
        summary["closest_change_to_mainshock_s"] = float(gap.total_seconds())
    summary.update(station=station, mainshock=main.isoformat())
    store.write_table(events.reset_index(drop=True), f"{folder}/{EVENTS}")
    store.write_table(index, f"{folder}/{INDEX}")
    store.write_table(changes, f"{folder}/{CHANGES}")
    store.write_text(json.dumps(summary, indent=1), f"{folder}/{SUMMARY}")
    return TrackResult(station, store.url(folder), events, index, changes, summary)


def default_stations(cfg: TrackSettings) -> list[str]:
    """[track] stations, else the first station and the far ones."""
    if cfg.track.stations:
        return list(cfg.track.stations)
    return list(dict.fromkeys([cfg.stations.codes[0], *cfg.stations.far]))


def run_tracking(
    cfg: StudyConfig,
    stations: list[str] | None = None,
    *,
    client=None,
) -> list[TrackResult]:
    """Track each station (default: `default_stations`) on the config's Dask cluster."""
    from faultprobe.cluster import connect

    track = TrackSettings.of(cfg)
    stations = stations or default_stations(track)
    if client is None and any(pending(track, s) for s in stations):  # no cluster for nothing
        with connect(cfg.cluster) as c:
            return run_tracking(cfg, stations, client=c)
    return [track_station(track, s, client) for s in stations]


def pending(cfg: TrackSettings, station: str) -> list[FoldTask]:
    """The fold models of a station that have no part in the store yet."""
    store = Store(cfg.store)
    station = station_label(store, station)
    return [
        t
        for t in fold_tasks(cfg, station)
        if not store.exists(station_folder(station), "parts", t.part)
    ]


def read_tracking(store: Store, station: str) -> tuple[pd.DataFrame, pd.DataFrame, dict] | None:
    """A station's index, change points and summary, or None if it was not tracked."""
    folder = station_folder(station)
    if not store.exists(folder, SUMMARY):
        return None
    summary = json.loads(store.read_text(f"{folder}/{SUMMARY}"))
    return store.read_table(f"{folder}/{INDEX}"), store.read_table(f"{folder}/{CHANGES}"), summary


def tracked_stations(store: Store) -> list[str]:
    """Stations with tracking tables in the store."""
    if not store.exists(TRACKING):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in store.fs.ls(store.path(TRACKING))]
    return sorted(n for n in names if store.exists(TRACKING, n, SUMMARY))
