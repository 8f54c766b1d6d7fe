"""A run trained on one study scored on another study's cube (transfer across sequences).

The other study's events are labelled against its own mainshock and phases (the same kind
and class count as the run, from that study's config), balanced with the run's seed, and
their traces brought to the run's inputs: the run's sampling rate (the ingest's own
resampling), its time window around P, the cube band of the run's study and the run's
band, then the run's normalisation (`dataset.prepare`).  What cannot be brought there (a
shorter window, a lower sampling rate, other units, a narrower cube band) is a
`TransferError` naming the two studies and what to change (exit 2).  The score is accuracy
with its exact 95 % interval and the verdict against chance (faultprobe.analysis.stats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.analysis import stats
from faultprobe.config import StudyConfig
from faultprobe.config.stages import TrainSettings
from faultprobe.ml import dataset, labels, metrics
from faultprobe.ml.errors import ModelError
from faultprobe.ml.runs import METRICS, RunFolder
from faultprobe.ml.spec import Labelling, RunSpec, spec_from_config
from faultprobe.store import Store

EPS = 1e-6


class TransferError(ModelError):
    """A run's inputs cannot be made from the other study's cube (the message says why)."""


@dataclass(frozen=True)
class CubeForm:
    """What a run's inputs depend on in a cube: rate, time axis, units and cube band."""

    sampling_rate: float
    time: np.ndarray
    units: str
    band_hz: tuple[float, float] | None

    @property
    def span(self) -> tuple[float, float]:
        return float(self.time[0]), float(self.time[-1] + 1.0 / self.sampling_rate)


def cube_form(ds) -> CubeForm:
    """The form of a cube from its attributes (units 'counts' where the cube says none)."""
    pre = ds.attrs.get("preprocessing") or {}
    band = pre.get("bandpass_hz") if isinstance(pre, dict) else None
    return CubeForm(
        dataset.sampling_rate(ds),
        np.asarray(ds["time"].values, dtype=np.float64),
        str(ds["waveform"].attrs.get("units", "counts")),
        tuple(float(v) for v in band) if band else None,
    )


def run_window(spec: RunSpec, a: CubeForm) -> tuple[float, int]:
    """Start (s from P) and sample count of the run's cut of its own cube."""
    sl = dataset.time_slice(a.time, spec.window_s)
    t = a.time[sl]
    return float(t[0]), int(t.size)


def check_form(a: CubeForm, b: CubeForm, spec: RunSpec, where: str) -> None:
    """Raise a `TransferError` when cube `b` cannot give the run's inputs (cube `a`'s form)."""
    if a.units != b.units:
        raise TransferError(
            f"{where}: the cube holds {b.units!r}, the run was trained on {a.units!r}; "
            "set [waveforms] remove_response alike in both studies and ingest again"
        )
    if b.sampling_rate + EPS < a.sampling_rate:
        raise TransferError(
            f"{where}: the cube is sampled at {b.sampling_rate:g} Hz, below the run's "
            f"{a.sampling_rate:g} Hz; ingest it at [waveforms] sampling_rate = "
            f"{a.sampling_rate:g} or train the run at {b.sampling_rate:g} Hz"
        )
    start, n = run_window(spec, a)
    need = (start, start + n / a.sampling_rate)
    have = b.span
    if need[0] < have[0] - EPS or need[1] > have[1] + EPS:
        raise TransferError(
            f"{where}: the cube's window {have[0]:g} to {have[1]:g} s around P does not hold "
            f"the run's window {need[0]:g} to {need[1]:g} s; widen [waveforms] window_s "
            "there and ingest again, or train with a shorter window"
        )
    if b.band_hz is not None and (
        a.band_hz is None or b.band_hz[0] > a.band_hz[0] + EPS or b.band_hz[1] < a.band_hz[1] - EPS
    ):
        theirs = "unfiltered" if a.band_hz is None else f"{a.band_hz[0]:g}-{a.band_hz[1]:g} Hz"
        raise TransferError(
            f"{where}: the cube was band-passed {b.band_hz[0]:g}-{b.band_hz[1]:g} Hz at ingest, "
            f"narrower than the run's cube ({theirs}); ingest it without that band"
        )


def run_inputs(x: np.ndarray, spec: RunSpec, a: CubeForm, b: CubeForm) -> np.ndarray:
    """Traces of cube `b` (events × channels × b's time) as the run's model inputs."""
    from faultprobe.pipelines.preprocess import _resample  # the ingest's own resampling

    y, why = _resample(np.nan_to_num(x.astype(np.float64)), b.sampling_rate, a.sampling_rate)
    if why:
        raise TransferError(f"{why} for the run's inputs")
    t = np.round(b.time[0] + np.arange(y.shape[-1]) / a.sampling_rate, 6)
    start, n = run_window(spec, a)
    lo = int(np.searchsorted(t, start - EPS))
    if lo + n > y.shape[-1]:
        raise TransferError(f"the resampled window has {y.shape[-1] - lo} samples, the run {n}")
    y = np.ascontiguousarray(y[..., lo : lo + n], dtype=np.float32)
    if a.band_hz is not None and a.band_hz != b.band_hz:  # the run's cube band, then its own
        y = dataset.bandpass(y, a.band_hz, a.sampling_rate)
    return dataset.prepare(y, a.sampling_rate, spec.band_hz)


def other_labelling(spec: RunSpec, cfg: TrainSettings) -> Labelling:
    """The run's kind of labels drawn against the other study's mainshock and phases."""
    lab = spec.labelling
    other = spec_from_config(cfg, classes=lab.n_classes, labelling=lab.kind).labelling
    return other.model_copy(update={"exclude_phases": lab.exclude_phases})


def other_stations(spec: RunSpec, ds, cfg: TrainSettings, stations) -> tuple[str, ...]:
    """Stations to score at: those given, else the run's where the cube has them, else the
    other study's [train] stations (or its first), as many as the run has."""
    if stations:
        out = tuple(stations)
    else:
        try:
            dataset.station_positions(ds, spec.stations)
            return tuple(spec.stations)
        except KeyError:
            pool = list(cfg.train.stations or cfg.stations.codes)
            out = tuple(pool[: len(spec.stations)])
    if len(out) != len(spec.stations):
        raise TransferError(
            f"the run reads {len(spec.stations)} station(s) ({', '.join(spec.stations)}); "
            f"give as many with --station, got {', '.join(out) or 'none'}"
        )
    dataset.station_positions(ds, out)  # an unknown code is a one-line error
    return out


def transfer_run(
    folder: RunFolder,
    cfg: StudyConfig,
    *,
    stations: tuple[str, ...] | None = None,
    device: str = "auto",
) -> tuple[dict, pd.DataFrame]:
    """Score a trained run on the study `cfg`'s cube: every usable, labelled event there,
    balanced by class with the run's seed.  Returns scores (with the exact interval and
    verdict) and predictions."""
    from faultprobe.ml.experiment import _predictions, _status
    from faultprobe.ml.inference import _probabilities
    from faultprobe.ml.trainer import use_threads

    spec = folder.spec()
    use_threads(spec.training.threads)
    store = Store(cfg.study.store)
    where = f"study {cfg.study.name!r} ({store.root})"
    ds_a, ds_b = dataset.open_cube(folder.store), dataset.open_cube(store)
    a, b = cube_form(ds_a), cube_form(ds_b)
    check_form(a, b, spec, where)
    other = TrainSettings.of(cfg)
    at = other_stations(spec, ds_b, other, stations)
    lab = other_labelling(spec, other)
    ev = dataset.event_table(ds_b)
    ok, counts = _status(ds_b, at)
    y, names = labels.make_labels(ev["source_origin_time"], lab)
    y = np.where(ok, y, labels.UNLABELLED)
    n_cls = lab.n_classes
    try:
        keep = labels.balance(y, n_cls, spec.seed)
    except ModelError as err:
        raise TransferError(f"{where}: {err} (usable traces at {', '.join(at)})") from None
    pos = np.flatnonzero(keep)
    sl = dataset.read_station_slice(ds_b, at, None, events=pos)
    x = run_inputs(sl.x, spec, a, b)
    probs = _probabilities(folder, x, device)
    codes = np.full(pos.size, -1, dtype=np.int8)
    preds = _predictions(ev.iloc[pos], codes, y[pos], probs, names)
    preds["split"] = "transfer"
    cm = metrics.confusion_matrix(preds["true"], preds["pred"], n_cls)
    out = metrics.summarize(cm, names)
    run_names = list(folder.read_json(METRICS)["test"]["classes"])
    out.update(
        run_id=spec.run_id,
        run_store=folder.store.root,
        study=cfg.study.name,
        store=store.root,
        stations=list(at),
        run_stations=list(spec.stations),
        run_classes=run_names,
        status_counts=counts,
        **score_columns([int(np.trace(cm))], [int(cm.sum())], n_cls),
    )
    return out, preds


def score_columns(correct: list[int], n: list[int], n_classes: int) -> dict:
    """Pooled accuracy, its exact 95 % interval, the p-value against chance and the verdict."""
    p = stats.pool(correct, n, n_classes)
    lo, hi = p.interval
    return {
        "n_correct": p.k,
        "n_events": p.n,
        "seeds": p.seeds,
        "pooled_accuracy": p.accuracy,
        "ci_lo": lo,
        "ci_hi": hi,
        "p_above_chance": p.p_above_chance,
        "chance": 1.0 / n_classes,
        "verdict": p.verdict(),
    }


def render(scores: dict) -> str:
    """One line: the run, the study, the accuracy with its interval and the verdict."""
    return (
        f"run {scores['run_id']} on study {scores['study']!r} at {'+'.join(scores['stations'])}: "
        f"accuracy {scores['pooled_accuracy']:.3f} [95% {scores['ci_lo']:.3f}-"
        f"{scores['ci_hi']:.3f}] on {scores['n_events']} balanced events (chance "
        f"{scores['chance']:.3f}, p = {scores['p_above_chance']:.2g}); {scores['verdict']}"
    )
