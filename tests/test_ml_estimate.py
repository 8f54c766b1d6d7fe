"""On a CPU, `faultprobe train` and `faultprobe experiments` say how long they will take
before they start; the demo says how strong its injected change is."""

from __future__ import annotations

import pytest
from small_study import copy_store, local_client

from faultprobe.cli import main
from faultprobe.ml import estimate as est
from faultprobe.ml.spec import Labelling, Model, RunSpec

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

LAB = Labelling(kind="binary", n_classes=2, mainshock="2016-10-30T06:40:17Z")


def test_estimate_scales_with_events_and_epochs(monkeypatch):
    monkeypatch.setattr(est, "step_seconds", lambda spec, c, t: 0.5)
    spec = RunSpec(stations=("NRCA",), labelling=LAB)
    one = est.estimate(spec, n_train=320, n_eval=0, n_time=2500)
    assert one.seconds == pytest.approx(10 * 0.5 * spec.training.epochs)
    two = est.estimate(spec, n_train=640, n_eval=0, n_time=2500)
    assert two.seconds == pytest.approx(2 * one.seconds)
    assert "training events" in one.render() and "min" in one.render()


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


def test_experiments_estimate_their_pending_runs(small_ingested, tmp_path):
    from faultprobe.analysis.experiments import _cpu_estimate
    from faultprobe.analysis.grid import GridRun
    from faultprobe.ml.spec import spec_from_config
    from faultprobe.store import Store

    cfg = copy_store(small_ingested, tmp_path)
    spec = spec_from_config(cfg, stations=["IV.NRCA"], classes=2)
    runs = [GridRun("table1", spec.model_copy(update={"seed": s})) for s in (1, 2, 3)]
    cluster, client = local_client()
    with cluster, client:
        line = _cpu_estimate(Store(cfg.study.store), runs, client, True)
    assert line.startswith("experiments: 3 runs to do on 2 CPU worker(s)")
    assert "h in all" in line


def test_the_demo_says_how_strong_its_change_is(tmp_path):
    from faultprobe.analysis.demo import demo_config

    head = demo_config(tmp_path).read_text().split("[study]")[0]
    assert "31x the realistic config's at the mainshock" in head.replace("\n# ", " ")
