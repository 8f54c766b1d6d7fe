"""`faultprobe experiments --plan`: the pending runs and their estimated times from a
calibration on the workers; a grid estimated above an hour needs --yes."""

from __future__ import annotations

import pandas as pd
import pytest
from study_tables import norcia_table, only_grids, write_study

from faultprobe.analysis.estimate import Calibration, GridEstimate, run_seconds
from faultprobe.analysis.grid import expand
from faultprobe.cli import main
from faultprobe.config import parse_config
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("plan") / "store")
    write_toy_store(root, ToyStudy(n_events=200, window_s=(-1.0, 2.0), dtstar_jump=0.02, seed=5))
    return root


def _config(tmp_path, root: str, epochs: int) -> str:
    raw = norcia_table(
        root,
        cluster={"n_workers": 1, "threads_per_worker": 1},
        train={"epochs": epochs, "width": 0.125, "batch_size": 16, "seeds": [1], "device": "cpu"},
        experiments=only_grids(table1={"classes": [2, 4], "stations": ["IV.NRCA"]}),
    )
    return write_study(raw, tmp_path / "grid.toml")


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_plan_lists_runs_with_estimates_and_runs_nothing(toy_root, tmp_path, capsys):
    path = _config(tmp_path, toy_root, epochs=3)
    assert main(["experiments", path, "--plan", "-q"]) == 0
    err = capsys.readouterr().out
    assert "2 runs to do" in err and "calibration on tcp://" in err
    assert "ms per training step" in err
    for run in expand(parse_config(_raw_of(path)), grids=["table1"]):
        assert run.run_id in err
    assert not Store(toy_root).exists("results.parquet")


def _raw_of(path: str) -> dict:
    import tomllib

    with open(path, "rb") as f:
        return tomllib.load(f)


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_grid_above_an_hour_needs_yes(toy_root, tmp_path, capsys):
    path = _config(tmp_path, toy_root, epochs=200_000)  # hours of steps, even on a fast machine
    assert main(["experiments", path, "-q"]) == 2
    err = capsys.readouterr().err
    assert "above 1 h" in err and "--yes" in err and "grid not started" in err
    assert not Store(toy_root).exists("results.parquet")


def test_estimate_adds_read_epochs_and_scoring():
    from faultprobe.ml.spec import Labelling, RunSpec, Training

    spec = RunSpec(
        stations=("IV.NRCA",),
        labelling=Labelling(mainshock="2016-10-30T06:40:17Z"),
        training=Training(epochs=10, batch_size=32),
    )
    cal = Calibration(step_s=0.5, predict_s=0.01, read_bytes_per_s=1e6, worker="w", device="cpu")
    sizes = {"n_train": 640, "n_val": 100, "n_test": 60, "slice_bytes": 2_000_000}
    # read 2 s + 10 epochs x (20 steps x 0.5 s + 100 x 0.01 s) + 800 x 0.01 s
    assert run_seconds(sizes, spec, cal) == pytest.approx(2 + 10 * (10 + 1) + 8)
    streamed = spec.model_copy(
        update={"training": spec.training.model_copy(update={"memory_budget": 1_000_000})}
    )
    assert run_seconds(sizes, streamed, cal) == pytest.approx(2 * 11 + 10 * (10 + 1) + 8)
    est = GridEstimate(pd.DataFrame({"estimate_s": [30.0, 20.0, 10.0, 10.0]}), 2, [cal])
    assert est.total_s == 70 and est.wall_s == 40  # longest first over two slots


def test_failing_and_later_runs_are_said_wherever_they_stand(toy_root, tmp_path):
    """A run that cannot start, or one on a store built later, is named even when it is not
    the first of the list (the estimate's table keeps every row's columns)."""
    from dataclasses import replace

    from small_study import local_client

    from faultprobe.analysis.estimate import estimate_grid

    cfg = parse_config(_raw_of(_config(tmp_path, toy_root, epochs=2)))
    good = expand(cfg, grids=["table1"])[0]
    nope = good.spec.model_copy(update={"stations": ("IV.NOPE",)})
    runs = [good, replace(good, spec=nope), replace(good, store="regions/elsewhere")]
    cluster, client = local_client()
    with cluster, client:
        est = estimate_grid(Store(toy_root), runs, client, slots=2)
    df = est.runs
    assert df["estimate_s"].iloc[0] > 0 and (df["estimate_s"].iloc[1:] == 0).all()
    assert df["error"].notna().tolist() == [False, True, False]
    assert df["later"].fillna(False).astype(bool).tolist() == [False, False, True]
    text = est.render()
    assert "1 run(s) cannot start" in text and "IV.NOPE" in text
    assert "1 run(s) read stores this command builds first" in text


def test_the_estimate_says_when_seasonality_runs_are_not_in_it(toy_root, tmp_path):
    from faultprobe.analysis.experiments import _unsized_seasonality

    raw = _raw_of(_config(tmp_path, toy_root, epochs=2))
    raw["experiments"]["seasonality"] = {"enabled": True}
    cfg = parse_config(raw)
    store = Store(toy_root)  # no noise cube built yet
    assert "seasonality runs are not in the estimate" in _unsized_seasonality(
        cfg.experiments, store, None
    )
    assert _unsized_seasonality(cfg.experiments, store, ["table1"]) == ""
    raw["experiments"]["seasonality"] = {"enabled": False}
    assert _unsized_seasonality(parse_config(raw).experiments, store, None) == ""


def test_setup_and_the_step_range_enter_the_estimate_and_side_by_side_calibrations_pool():
    from faultprobe.analysis.estimate import combine, run_range
    from faultprobe.ml.spec import Labelling, RunSpec, Training

    spec = RunSpec(
        stations=("IV.NRCA",),
        labelling=Labelling(mainshock="2016-10-30T06:40:17Z"),
        training=Training(epochs=10, batch_size=32),
    )
    sizes = {"n_train": 640, "n_val": 100, "n_test": 60, "slice_bytes": 2_000_000}
    a = Calibration(0.4, 0.01, 1e6, "a", "cpu", setup_s=3.0, step_range_s=(0.3, 0.5))
    b = Calibration(0.6, 0.01, 1e6, "b", "cpu", setup_s=1.0, step_range_s=(0.5, 0.8))
    both = combine([a, b])  # two runs side by side: each slower than one alone
    assert both.step_s == pytest.approx(0.5) and both.step_range_s == (0.3, 0.8)
    assert both.setup_s == pytest.approx(2.0)
    # setup 2 s + read 2 s + 10 epochs x (20 steps x 0.5 s + 100 x 0.01 s) + 800 x 0.01 s
    assert run_seconds(sizes, spec, both) == pytest.approx(2 + 2 + 10 * (10 + 1) + 8)
    lo, hi = run_range(sizes, spec, both)
    assert lo == pytest.approx(2 + 2 + 10 * (20 * 0.3 + 1) + 8)
    assert hi == pytest.approx(2 + 2 + 10 * (20 * 0.8 + 1) + 8)
    runs = pd.DataFrame(
        {"estimate_s": [30.0, 20.0], "estimate_lo_s": [20.0, 10.0], "estimate_hi_s": [40.0, 35.0]}
    )
    est = GridEstimate(runs, 1, [both])
    assert est.wall_range_s == (30.0, 75.0) and "(30 s to 75 s)" in est.render(limit=0)
