"""`faultprobe train` (on a CPU) and `faultprobe experiments` say how long they will take
before they start; the demo says how strong its injected change is."""

from __future__ import annotations

import logging

import pytest
from small_study import copy_store, local_client

from faultprobe.cli import main
from faultprobe.ml import estimate as est
from faultprobe.ml.spec import Labelling, Model, RunSpec

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

LAB = Labelling(kind="binary", n_classes=2, mainshock="2016-10-30T06:40:17Z")


def test_estimate_scales_with_events_and_epochs(monkeypatch):
    monkeypatch.setattr(est, "measure_cost", lambda spec, c, t, probe=None: est.Cost(0.5, 0.0))
    spec = RunSpec(stations=("NRCA",), labelling=LAB)
    one = est.estimate(spec, n_train=320, n_val=0, n_test=0, n_time=2500)
    assert one.seconds == pytest.approx(10 * 0.5 * spec.training.epochs)
    two = est.estimate(spec, n_train=640, n_val=0, n_test=0, n_time=2500)
    assert two.seconds == pytest.approx(2 * one.seconds)
    assert "training events" in one.render() and "min" in one.render()


def test_scoring_counts_validation_every_epoch_and_every_event_once():
    spec = RunSpec(stations=("NRCA",), labelling=LAB)
    cost = est.Cost(step_s=0.0, predict_s=0.01)
    seconds = est.run_seconds(cost, spec, n_train=320, n_val=100, n_used=500)
    assert seconds == pytest.approx(spec.training.epochs * 100 * 0.01 + 500 * 0.01)


def test_a_cost_is_measured_on_the_runs_own_model_and_shape():
    # (how fast is for benchmarks/train.py; here only that the measure runs and is sane)
    spec = RunSpec(stations=("NRCA",), labelling=LAB, model=Model(width=0.125))
    cost = est.measure_cost(spec, 3, 300, probe=4, steps=1)
    assert 0 < cost.step_s < 600 and 0 < cost.predict_s < cost.step_s


def test_the_cpu_preset_is_advised_to_the_paper_model_only():
    # (its speed is measured in benchmarks/train.py, not here)
    paper = RunSpec(stations=("NRCA",), labelling=LAB)
    cpu = RunSpec(stations=("NRCA",), labelling=LAB, model=Model(width=0.25), window_s=(-0.5, 5.5))
    assert "width = 0.25" in est.cpu_advice(paper) and not est.cpu_advice(cpu)


def test_train_prints_its_estimate_on_a_cpu(small_ingested, tmp_path, capsys):
    cfg = copy_store(small_ingested, tmp_path)
    toml = f"{cfg.study.store}/study.toml"
    args = ["train", toml, "--station", "NRCA", "--classes", "2", "--epochs", "1",
            "--preset", "cpu", "--device", "cpu", "-q"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "estimated time for this run on this CPU" in err and "600-sample windows" in err


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_experiments_say_their_estimate_before_the_grid(small_ingested, tmp_path, caplog):
    from faultprobe.analysis.experiments import run_experiments

    cfg = copy_store(small_ingested, tmp_path)
    g = cfg.experiments.model_copy(
        update={
            "table1": cfg.experiments.table1.model_copy(
                update={"classes": [2], "stations": ["IV.NRCA"]}
            ),
            **{
                k: getattr(cfg.experiments, k).model_copy(update={"enabled": False})
                for k in ("false_dates", "bands", "seasonality", "null", "pairs")
            },
        }
    )
    cfg = cfg.model_copy(update={"experiments": g})
    said = []

    class Started(Exception):
        """Raised when the grid is about to start: the test needs no more."""

    class Say(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            if "runs in grids" in said[-1]:
                raise Started

    caplog.set_level(logging.INFO, logger="faultprobe")
    logger, handler = logging.getLogger("faultprobe"), Say()
    logger.addHandler(handler)
    cluster, client = local_client()
    try:
        with cluster, client, pytest.raises(Started):
            run_experiments(cfg, client=client)
    finally:
        logger.removeHandler(handler)
    n = len(cfg.train.seeds)
    assert said[0].startswith(f"{n} runs to do; estimated"), said
    calibration = said[0].splitlines()[1]
    assert "calibration on" in calibration and "(cpu)" in calibration
    assert "ms per training step" in calibration and len(said[0].splitlines()) == 2
    assert said[-1].startswith(f"experiments: {n} runs in grids")


def test_the_demo_says_how_strong_its_change_is(tmp_path):
    from faultprobe.analysis.demo import demo_config

    head = demo_config(tmp_path).read_text().split("[study]")[0]
    assert "31x the realistic config's at the mainshock" in head.replace("\n# ", " ")


def test_the_cost_says_its_fastest_and_slowest_step():
    spec = RunSpec(stations=("NRCA",), labelling=LAB, model=Model(width=0.125))
    cost = est.measure_cost(spec, 3, 300, probe=4, steps=3)
    lo, hi = cost.step_range_s
    assert 0 < lo <= cost.step_s <= hi
