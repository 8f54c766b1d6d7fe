"""One training run end to end, the function every caller uses.

`run_experiment(store, spec)` reads the cube's events, labels, balances and splits them,
loads the stations' traces in one pass, trains the CNN, scores every event of every split
with the best epoch's weights and writes STORE/runs/RUN_ID/.  It is idempotent (a finished
run is read back, not redone) and resumable (an interrupted run continues from its
checkpoint).  `evaluate_run` scores a trained run on another labelling or station.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from faultprobe.ml import dataset, labels, matching, metrics, splits, stream
from faultprobe.ml.errors import ModelError
from faultprobe.ml.model import FaultNet
from faultprobe.ml.runs import (
    CHECKPOINT,
    COMPOSITION,
    CONFUSION,
    METRICS,
    PREDICTIONS,
    SPEC,
    RunFolder,
)
from faultprobe.ml.spec import Labelling, RunSpec
from faultprobe.ml.trainer import fit, predict, resolve_device, resolve_precision, use_threads
from faultprobe.store import CUBE, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventSelection:
    """The cube's events with their labels and split codes for one spec."""

    events: pd.DataFrame  # cube order: source_id, source_origin_time, ...
    ok: np.ndarray  # every chosen station has an ok trace
    labels: np.ndarray  # -1 = not used
    split: np.ndarray  # 0 train, 1 val, 2 test, -1 unused
    class_names: list[str]
    status_counts: dict[str, int]


def _as_store(store: Store | str) -> Store:
    return store if isinstance(store, Store) else Store(str(store))


def _seconds(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8 / 1e9


def _status(ds, stations) -> tuple[np.ndarray, dict[str, int]]:
    pos = dataset.station_positions(ds, stations)
    st = np.asarray(ds["status"].isel(station=pos).values)
    names = [str(ds["station"].values[p]) for p in pos]
    counts: dict[str, int] = {}
    for j, sta in enumerate(names):
        codes, n = np.unique(st[:, j], return_counts=True)
        for c, k in zip(codes.tolist(), n.tolist()):
            counts[f"{sta}:{dataset.status_name(ds, int(c))}"] = int(k)
    return np.all(st == 0, axis=1), counts


def select_events(ds, spec: RunSpec) -> EventSelection:
    """Labels, balancing and split for the spec, on events with ok traces only."""
    events = dataset.event_table(ds)
    ok, counts = _status(ds, spec.stations)
    if not ok.any():
        raise ModelError(
            f"no event has usable traces at {', '.join(spec.stations)} (trace statuses: {counts})"
        )
    lab, names = labels.make_labels(events["source_origin_time"], spec.labelling)
    lab = np.where(ok, lab, labels.UNLABELLED)
    # Balance and split on the labels the model trains with: for a wrong-date run those are
    # the false ones (the paper retrains on the same events with moved labels; its test
    # events, spread through time by the grid's split, are then scored on the true ones).
    n = spec.labelling.n_classes
    if spec.balance and spec.balance_test:
        lab = np.where(labels.balance(lab, n, spec.seed), lab, labels.UNLABELLED)
    if spec.labelling.shuffle:
        lab = labels.shuffle_labels(lab, spec.seed)
    codes = splits.make_split(_seconds(events["source_origin_time"]), lab, spec.split, spec.seed)
    if spec.balance and not spec.balance_test:  # balance what the model fits, keep all tests
        for part in (splits.TRAIN, splits.VAL):
            inside = codes == part
            keep = labels.balance(np.where(inside, lab, labels.UNLABELLED), n, spec.seed + part)
            codes = np.where(inside & ~keep, splits.UNUSED, codes).astype(np.int8)
    if spec.match_caliper is not None:
        if n != 2:
            raise ModelError(f"a matched run needs 2 classes, not {n} (match_caliper)")
        feats = matching.match_features(ds, spec.stations[0])
        codes = matching.matched_split(codes, lab, feats, spec.match_caliper)
    if spec.size_reference is not None:
        if n != 2:
            raise ModelError(f"a size reference needs 2 classes, not {n} (size_reference)")
        feats = matching.match_features(ds, spec.stations[0])
        sizes = matching.matched_split(codes, lab, feats, spec.size_reference)
        codes = matching.size_reference_split(codes, lab, sizes, spec.seed)
    lab = np.where(codes >= 0, lab, labels.UNLABELLED)
    return EventSelection(events, ok, lab, codes, names, counts)


def _inputs(ds, spec: RunSpec, positions: np.ndarray) -> np.ndarray:
    return stream.read_slice(ds, spec, positions)[0]


def cube_id(store: Store, ds) -> tuple:
    """What identifies a cube's content for the slice cache: where it is and its plan."""
    return (store.url(CUBE), ds.attrs.get("plan_hash"), ds.attrs.get("config_hash"))


def _predictions(sel_events, codes, true, probs, names, real=None) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "source_id": sel_events["source_id"].to_numpy(),
            "source_origin_time": pd.DatetimeIndex(sel_events["source_origin_time"]),
            "split": pd.Series(codes).map(splits.SPLIT_NAMES).to_numpy(),
            "true": true.astype(np.int64),
            "pred": probs.argmax(axis=1).astype(np.int64),
        }
    )
    if real is not None:
        df["true_real"] = real.astype(np.int64)
    for i, name in enumerate(names):
        df[f"p_{name}"] = probs[:, i].astype(np.float32)
    return df


def run_experiment(
    store: Store | str,
    spec: RunSpec,
    *,
    overwrite: bool = False,
    cache=None,
) -> dict:
    """Train and score one run; return a JSON-ready result (also STORE/runs/RUN_ID/).

    `cache` (a `SliceCache`, one per grid worker) serves station slices already read; a
    slice above `spec.training.memory_budget` streams from the cube instead. The run's
    events and split composition are logged (info) before it trains; `result_line` says
    how it ended.
    """
    store = _as_store(store)
    folder = RunFolder(store, spec.run_id)
    if folder.exists(METRICS) and not overwrite:
        return {**folder.read_json(METRICS), "cached": True}
    threads = use_threads(spec.training.threads)
    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    used = np.flatnonzero(sel.split >= 0)
    comp = splits.composition(
        sel.events["source_origin_time"].iloc[used],
        sel.labels[used],
        sel.split[used],
        sel.class_names,
    )
    log.info(f"run {spec.run_id}: {used.size} events; traces {sel.status_counts}")
    log.info(splits.render_composition(comp))
    y, codes = sel.labels[used], sel.split[used]
    sizes = np.bincount(codes, minlength=3)
    if sizes.min() == 0:
        raise ModelError(
            f"run {spec.run_id}: train/val/test have {sizes.tolist()} events; "
            "too few usable events for this labelling and split"
        )
    t_read = time.perf_counter()
    x = stream.model_inputs(
        ds, spec, used, codes, y, cache=cache, cube_id=cube_id(store, ds), store=store
    )
    t_read = time.perf_counter() - t_read
    n = spec.labelling.n_classes
    m = spec.model
    init = torch.Generator().manual_seed(spec.seed)
    model = FaultNet(
        n, x.n_channels, width=m.width, dilation=m.dilation, dropout=m.dropout, generator=init
    )
    ck = folder.read_bytes(CHECKPOINT) if folder.exists(CHECKPOINT) and not overwrite else None
    folder.write_bytes(spec.to_json().encode(), SPEC)
    tr, va = codes == splits.TRAIN, codes == splits.VAL
    result = fit(
        model,
        x.x_train,
        y[tr],
        x.x_val,
        y[va],
        spec.training,
        spec.seed,
        save_checkpoint=lambda blob: folder.write_bytes(blob, CHECKPOINT),
        checkpoint=ck,
    )
    device = resolve_device(spec.training.device)
    amp = resolve_precision(spec.training.precision, device)
    probs, _ = predict(model, x.x_all, 256, device, amp)
    real = None
    if spec.labelling.false_mainshock is not None:
        real_lab = spec.labelling.model_copy(update={"false_mainshock": None})
        real = labels.make_labels(sel.events["source_origin_time"].iloc[used], real_lab)[0]
    preds = _predictions(sel.events.iloc[used], codes, y, probs, sel.class_names, real)
    scores = {}
    for code, name in splits.SPLIT_NAMES.items():
        part = preds[codes == code]
        cm = metrics.confusion_matrix(part["true"], part["pred"], n)
        scores[name] = metrics.summarize(cm, sel.class_names)
    test = preds[codes == splits.TEST]
    out = {
        "run_id": spec.run_id,
        "spec": spec.model_dump(mode="json"),
        "test": scores["test"],
        "val": scores["val"],
        "train": scores["train"],
        "chance_99": metrics.chance_interval(len(test), n),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "history": result.history,
        "status_counts": sel.status_counts,
        "composition": comp.astype({"first": str, "last": str}).to_dict(orient="records"),
        "device": result.device,
        "precision": result.precision,
        "threads": threads,
        "inputs": {"read": x.mode, "bytes": x.slice_bytes, "seconds": round(t_read, 3)},
        "train_seconds": result.seconds,
        "resumed_from_epoch": result.resumed_from,
    }
    if real is not None:
        cm_real = metrics.confusion_matrix(test["true_real"], test["pred"], n)
        out["test_vs_real_mainshock"] = metrics.summarize(cm_real, sel.class_names)
    folder.save_model(model)
    folder.write_table(preds, PREDICTIONS)
    cm = np.asarray(scores["test"]["confusion"])
    folder.write_table(metrics.confusion_frame(cm, sel.class_names), CONFUSION)
    folder.write_table(comp, COMPOSITION)
    folder.write_json(out, METRICS)
    folder.remove(CHECKPOINT)
    return {**out, "cached": False}


def result_line(store: Store | str, result: dict) -> str:
    """One line on a run's result (`run_experiment`'s): test scores, how, where."""
    t = result["test"]
    return (
        f"test: accuracy {t['accuracy']:.3f}, balanced {t['balanced_accuracy']:.3f} "
        f"on {t['n']} events (best epoch {result['best_epoch'] + 1}, {result['device']}, "
        f"{result['precision']}, {result['train_seconds']:.0f} s); "
        f"run folder {_as_store(store).url('runs', result['run_id'])}"
    )


def evaluate_run(
    folder: RunFolder,
    *,
    stations: tuple[str, ...] | None = None,
    labelling: Labelling | None = None,
    events: str = "test",
    device: str = "auto",
) -> tuple[dict, pd.DataFrame]:
    """Score a trained run on a labelling and stations (default: the run's own).

    `events="test"` scores the run's test events only (never seen in training, whichever
    station); `"all"` every labelled event with ok traces.  Returns metrics and predictions.
    """
    spec = folder.spec()
    use_threads(spec.training.threads)
    lab = labelling or spec.labelling
    if lab.n_classes != spec.labelling.n_classes:
        raise ModelError(
            f"the run has {spec.labelling.n_classes} classes; labelling has {lab.n_classes}"
        )
    stations = tuple(stations or spec.stations)
    ds = dataset.open_cube(folder.store)
    ev = dataset.event_table(ds)
    ok, counts = _status(ds, stations)
    y, names = labels.make_labels(ev["source_origin_time"], lab)
    use = ok & (y >= 0)
    if events == "test":
        trained = folder.read_table(PREDICTIONS)
        test_ids = set(trained.loc[trained["split"] == "test", "source_id"])
        use &= ev["source_id"].isin(test_ids).to_numpy()
    elif events != "all":
        raise ValueError(f"events must be 'test' or 'all', got {events!r}")
    pos = np.flatnonzero(use)
    spec_here = spec.model_copy(update={"stations": stations})
    x = _inputs(ds, spec_here, pos)
    dev = resolve_device(device)
    model = folder.load_model(dev)
    probs, _ = predict(model, x, 256, dev, resolve_precision("auto", dev))
    codes = np.full(pos.size, splits.TEST if events == "test" else splits.UNUSED, dtype=np.int8)
    preds = _predictions(ev.iloc[pos], codes, y[pos], probs, names)
    preds["split"] = events
    cm = metrics.confusion_matrix(preds["true"], preds["pred"], lab.n_classes)
    out = metrics.summarize(cm, names)
    out.update(
        run_id=spec.run_id,
        stations=list(stations),
        labelling=lab.model_dump(mode="json"),
        status_counts=counts,
        chance_99=metrics.chance_interval(int(cm.sum()), lab.n_classes),
    )
    return out, preds
