"""Honesty tests on small simulated studies: no effect → chance; shuffled labels → chance;
an injected fault-zone effect at a near station → recovered.

Records come from the simulator's renderer (`faultprobe.synthetic.records.render_batch`)
with its Δt*(t) history and noise model; the model is the paper's CNN at a quarter of the
width on 4 s windows, trained for a few epochs.  Every claim pools three seeds and is an
exact test at p < 0.01 (faultprobe.analysis.stats):

- at chance: every seed's accuracy inside its chance band at level 1 - 0.01 / 3
  (Bonferroni), which a pipeline with nothing to learn fails at most 1 % of the time;
- recovered: the pooled accuracy above 70 % (one-sided binomial).  Over seeds 1-5 this
  study's effect run scored 0.90-0.97 (mean 0.93) on 58 test events each; at a true
  accuracy of 0.88 and 174 pooled events the test passes with probability > 0.999
  (`stats.power_above`).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultprobe.analysis import stats
from faultprobe.cli import main
from faultprobe.config import dump_toml, parse_config
from faultprobe.ml.experiment import evaluate_run, run_experiment
from faultprobe.ml.runs import RunFolder
from faultprobe.ml.spec import Labelling, Model, RunSpec, Training
from faultprobe.testing.toycube import ToyStudy, write_toy_store

# trains models end to end: the fast tier (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow

MAIN = "2016-10-30T06:40:17Z"
EFFECT = {"dtstar_pre_max": 0.01, "dtstar_jump": 0.06, "noise_level": 1.5e-8}
ROOT = Path(__file__).resolve().parents[1]


SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def effect_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-effect")
    return write_toy_store(str(root), ToyStudy(seed=3, **EFFECT))


@pytest.fixture(scope="module")
def null_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-null")
    study = ToyStudy(seed=4, noise_level=EFFECT["noise_level"], seasonal=0.0)
    return write_toy_store(str(root), study)


def _spec(epochs: int, shuffle: bool = False, station: str = "NRCA", seed: int = 1) -> RunSpec:
    return RunSpec(
        stations=(station,),
        labelling=Labelling(kind="binary", mainshock=MAIN, shuffle=shuffle),
        model=Model(width=0.25),
        training=Training(epochs=epochs, patience=0, device="cpu"),
        seed=seed,
    )


def _counts(results: list[dict]) -> tuple[list[int], list[int]]:
    """Correct and total test events per run."""
    correct = [int(np.trace(np.asarray(r["test"]["confusion"]))) for r in results]
    return correct, [r["test"]["n"] for r in results]


def _at_chance(store, **kw) -> tuple[bool, list[float]]:
    results = [run_experiment(store, _spec(seed=s, **kw)) for s in SEEDS]
    correct, n = _counts(results)
    assert min(n) >= 50
    return stats.inside_chance_every_seed(correct, n, 2), [k / m for k, m in zip(correct, n)]


def test_no_effect_no_seasonal_noise_is_at_chance(null_store):
    inside, acc = _at_chance(null_store, epochs=6)
    assert inside, acc


def test_shuffled_labels_are_at_chance(effect_store):
    inside, acc = _at_chance(effect_store, epochs=6, shuffle=True)
    assert inside, acc


@pytest.fixture(scope="module")
def effect_runs(effect_store):
    specs = [_spec(10, seed=s) for s in SEEDS]
    return specs, [run_experiment(effect_store, spec) for spec in specs]


@pytest.fixture(scope="module")
def effect_run(effect_runs):
    specs, results = effect_runs
    return specs[0], results[0]


def test_injected_effect_is_recovered_at_a_near_station(effect_runs):
    _, results = effect_runs
    correct, n = _counts(results)
    pooled = stats.pool(correct, n, 2)
    assert stats.binom_above_p(pooled.k, pooled.n, 0.7) < stats.ALPHA, (correct, n)
    assert pooled.verdict().startswith("above chance")


def test_run_folder_holds_every_test_event_once(effect_store, effect_run):
    spec, r = effect_run
    folder = RunFolder(effect_store, spec.run_id)
    for name in ("spec.json", "metrics.json", "predictions.parquet", "confusion.parquet"):
        assert folder.exists(name), name
    assert folder.exists("model.safetensors") and not folder.exists("checkpoint.pt")
    assert folder.spec() == spec
    preds = folder.read_table("predictions.parquet")
    assert preds["source_id"].is_unique  # no event in two splits
    test = preds[preds["split"] == "test"]
    comp = folder.read_table("composition.parquet")
    assert len(test) == r["test"]["n"] == comp.loc[comp.split == "test", "count"].sum()
    assert {"p_pre", "p_post", "true", "pred"} <= set(preds.columns)
    assert np.allclose(test[["p_pre", "p_post"]].sum(axis=1), 1, atol=1e-5)
    cm = folder.read_table("confusion.parquet")
    assert cm["count"].sum() == len(test)
    assert json.loads(json.dumps(folder.read_json("metrics.json")))["run_id"] == spec.run_id
    # a finished run is read back, not redone
    again = run_experiment(effect_store, spec)
    assert again["cached"] and again["test"] == r["test"]


def test_evaluate_reproduces_the_test_score(effect_store, effect_run):
    spec, r = effect_run
    scores, preds = evaluate_run(RunFolder(effect_store, spec.run_id), device="cpu")
    assert scores["n"] == r["test"]["n"]
    assert scores["accuracy"] == pytest.approx(r["test"]["accuracy"])
    assert set(preds["source_id"]) == set(
        RunFolder(effect_store, spec.run_id)
        .read_table("predictions.parquet")
        .query("split == 'test'")["source_id"]
    )


def _config(tmp_path: Path, store: str) -> Path:
    raw = tomllib.loads((ROOT / "configs" / "norcia2016.toml").read_text())
    raw["study"]["store"] = store
    raw["train"] = {
        "width": 0.125,
        "epochs": 2,
        "window_s": [-1.0, 3.0],
        "device": "cpu",
        "seeds": [1, 2],
    }
    path = tmp_path / "study.toml"
    path.write_text(dump_toml(parse_config(raw, base=tmp_path)))
    return path


def test_cli_train_and_evaluate_a_false_date_run(tmp_path, effect_store, capsys):
    cfg = _config(tmp_path, effect_store.root)
    false = "2016-10-16T06:40:17Z"
    argv = ["train", str(cfg), "--station", "IV.NRCA", "--classes", "2", "--seed", "2"]
    assert main([*argv, "--false-date", false, "--name", "wrongdate", "-q"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "wrongdate" in out
    run = next(Path(effect_store.root, "runs").glob("NRCA-binary2-wrongdate-s2-*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["spec"]["labelling"]["false_mainshock"].startswith("2016-10-16")
    preds = pd.read_parquet(run / "predictions.parquet")
    t = pd.to_datetime(preds["source_origin_time"], utc=True)
    moved = (t >= pd.Timestamp(false)) & (t < pd.Timestamp(MAIN))
    assert (preds["true"] != preds["true_real"]).eq(moved).all() and moved.any()
    assert "test_vs_real_mainshock" in metrics
    assert main(["evaluate", str(run), "--true-date", "--out", str(tmp_path / "p.parquet")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and (tmp_path / "p.parquet").exists()
    assert main(["evaluate", str(tmp_path / "runs" / "nope")]) == 2
    assert main(["train", str(cfg), "--all-seeds", "--epochs", "1", "-q"]) == 0
    assert "over seeds [1, 2]" in capsys.readouterr().out
    assert main(["train", str(cfg), "--labelling", "binary", "--classes", "4", "-q"]) == 2
    assert main(["train", str(cfg), "--station", "XX.NOPE", "-q"]) == 2
    assert "XX.NOPE" in capsys.readouterr().err
