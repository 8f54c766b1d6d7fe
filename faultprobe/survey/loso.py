"""Leave-one-sequence-out models: trained on every survey sequence but one, scored on it.

For each held-out study and each seed of the survey's binary Table 1 runs, one model is
trained on the train and validation events of that seed's run in every other study (each
study's events labelled against its own mainshock, split as its own run split them), the
inputs of every study brought to the form of the first training study's run
(`faultprobe.analysis.transfer.run_inputs`: its rate, window around P, bands and
normalisation).  It is scored on every labelled, usable event of the held-out study at its
training station, balanced by class with the seed (labels from the held-out study's own
mainshock).  Seeds pool into one accuracy with its exact interval and verdict
(`faultprobe.analysis.transfer.score_columns`).  docs/sequences.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.analysis import transfer as tr
from faultprobe.config import StudyConfig
from faultprobe.ml import dataset, labels, splits
from faultprobe.ml.errors import ModelError
from faultprobe.ml.runs import RunFolder
from faultprobe.ml.spec import RunSpec
from faultprobe.store import Store

log = logging.getLogger(__name__)

LOSO_TABLE = "loso.parquet"


@dataclass(frozen=True)
class Part:
    """One study's share of a LOSO model: its run's spec, its cube, and its station."""

    cfg: StudyConfig
    spec: RunSpec
    store: Store
    station: str


def _parts(configs: list[StudyConfig]) -> dict[str, dict[int, Part]]:
    """Per study, per seed: the study's binary Table 1 run (station and spec)."""
    from faultprobe.survey.tables import binary_runs

    out: dict[str, dict[int, Part]] = {}
    for cfg in configs:
        sta, runs = binary_runs(cfg)
        store = Store(cfg.study.store)
        by_seed = {}
        for run_id in runs["run_id"]:
            spec = RunFolder(store, run_id).spec()
            by_seed[spec.seed] = Part(cfg, spec, store, sta)
        if by_seed:
            out[cfg.study.name] = by_seed
    return out


def training_inputs(part: Part, ref: RunSpec, ref_form: tr.CubeForm):
    """The train and validation inputs and labels of one study's run, in the reference
    run's form."""
    from faultprobe.ml.experiment import select_events

    ds = dataset.open_cube(part.store)
    form = tr.cube_form(ds)
    tr.check_form(ref_form, form, ref, f"study {part.cfg.study.name!r} ({part.store.root})")
    sel = select_events(ds, part.spec)
    out = []
    for code in (splits.TRAIN, splits.VAL):
        pos = np.flatnonzero(sel.split == code)
        sl = dataset.read_station_slice(ds, part.spec.stations, None, events=pos)
        out.append((tr.run_inputs(sl.x, ref, ref_form, form), sel.labels[pos]))
    return out


def held_out_inputs(part: Part, ref: RunSpec, ref_form: tr.CubeForm, seed: int):
    """Every labelled, usable event of the held-out study at its station, balanced with the
    seed, as inputs of the reference form; and their labels."""
    from faultprobe.ml.experiment import _status

    ds = dataset.open_cube(part.store)
    form = tr.cube_form(ds)
    where = f"study {part.cfg.study.name!r} ({part.store.root})"
    tr.check_form(ref_form, form, ref, where)
    lab = tr.other_labelling(part.spec, part.cfg)
    ev = dataset.event_table(ds)
    ok, _ = _status(ds, part.spec.stations)
    y, _ = labels.make_labels(ev["source_origin_time"], lab)
    y = np.where(ok, y, labels.UNLABELLED)
    try:
        keep = labels.balance(y, lab.n_classes, seed)
    except ModelError as err:  # too few events of a class
        raise tr.TransferError(f"{where}: {err}") from None
    pos = np.flatnonzero(keep)
    sl = dataset.read_station_slice(ds, part.spec.stations, None, events=pos)
    return tr.run_inputs(sl.x, ref, ref_form, form), y[pos]


def loso_counts(train_parts: list[Part], held: Part, seed: int) -> dict:
    """Train one model on `train_parts`, score it on `held`: correct and total events
    (a Dask task; a cell that cannot be made says why).  The cubes are read in the task
    itself (Dask's synchronous scheduler), not sent back to the scheduler as graphs of
    their own."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        return _loso_counts(train_parts, held, seed)


def _loso_counts(train_parts: list[Part], held: Part, seed: int) -> dict:
    import torch

    from faultprobe.errors import FaultprobeError
    from faultprobe.ml.model import FaultNet
    from faultprobe.ml.trainer import fit, predict, resolve_device, resolve_precision, use_threads

    ref = train_parts[0].spec
    use_threads(ref.training.threads)
    try:
        ref_form = tr.cube_form(dataset.open_cube(train_parts[0].store))
        got = [training_inputs(p, ref, ref_form) for p in train_parts]
        x_held, y_held = held_out_inputs(held, ref, ref_form, seed)
    except (FaultprobeError, OSError) as err:
        return {"error": str(err)}
    x_tr = np.concatenate([g[0][0] for g in got])
    y_tr = np.concatenate([g[0][1] for g in got])
    x_va = np.concatenate([g[1][0] for g in got])
    y_va = np.concatenate([g[1][1] for g in got])
    n = ref.labelling.n_classes
    m = ref.model
    gen = torch.Generator().manual_seed(seed)
    model = FaultNet(n, x_tr.shape[1], width=m.width, dilation=m.dilation, dropout=m.dropout,
                     generator=gen)  # fmt: skip
    fit(model, x_tr, y_tr, x_va, y_va, ref.training, seed)
    device = resolve_device(ref.training.device)
    probs, _ = predict(
        model, x_held, 256, device, resolve_precision(ref.training.precision, device)
    )
    k = int((probs.argmax(axis=1) == y_held).sum())
    return {"k": k, "n": int(y_held.size), "n_train": int(y_tr.size)}


def loso_table(configs: list[StudyConfig], client) -> pd.DataFrame:
    """One row per held-out sequence: its LOSO models' accuracy, seeds pooled (Dask tasks
    on the survey's workers; the seeds are those every study's binary runs share)."""
    parts = _parts(configs)
    names = [c.study.name for c in configs if c.study.name in parts]
    if len(names) < 2:
        return pd.DataFrame()
    seeds = sorted(set.intersection(*(set(parts[n]) for n in names)))
    jobs = []
    for held in names:
        others = [o for o in names if o != held]
        futs = [
            client.submit(loso_counts, [parts[o][s] for o in others], parts[held][s], s, pure=False)
            for s in seeds
        ]
        jobs.append((held, others, futs))
    rows = []
    for held, others, futs in jobs:
        got = client.gather(futs)
        err = "; ".join(sorted({g["error"] for g in got if "error" in g}))
        ok = [g for g in got if "error" not in g]
        rows.append(
            {
                "held_out": held,
                "trained_on": "+".join(others),
                "station": parts[held][seeds[0]].station,
                "n_train": int(np.mean([g["n_train"] for g in ok])) if ok else 0,
                **tr.score_columns([g["k"] for g in ok], [g["n"] for g in ok], 2),
                "error": err,
            }
        )
        log.info("loso: %s held out, %s", held, rows[-1]["verdict"])
    return pd.DataFrame(rows)


def render(table: pd.DataFrame) -> str:
    """The LOSO table as text."""
    if table.empty:
        return ""
    t = table.assign(
        accuracy=[f"{a:.3f} [{lo:.3f}-{hi:.3f}]" if n else "-" for a, lo, hi, n in
                  zip(table["pooled_accuracy"], table["ci_lo"], table["ci_hi"], table["n_events"])],
    )  # fmt: skip
    cols = ["held_out", "station", "seeds", "n_events", "accuracy", "verdict"]
    return "leave-one-sequence-out (trained on the others, scored on the held-out one):\n" + t[
        cols
    ].to_string(index=False)
