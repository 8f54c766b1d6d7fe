"""`faultprobe survey`: tiny studies on one cluster, a kill -9 in the middle, a broken study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from survey_files import study_configs, survey_file

from faultprobe.config import parse_config

ROWS = ["key", "run_id", "status", "n_test", "n_correct"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, dict]:
    from grid_study import build_grid_study

    folder = tmp_path_factory.mktemp("survey-sim")
    return folder, build_grid_study(folder, classes=(2,))


def survey_cmd(path: str) -> list[str]:
    return [sys.executable, "-m", "faultprobe.cli", "survey", path]


def finished(store: Path) -> tuple[list[str], pd.DataFrame]:
    """The run folders (each finished: weights, no checkpoint) and the results rows."""
    runs = sorted(p.name for p in (store / "runs").iterdir())
    for r in runs:
        assert (store / "runs" / r / "model.safetensors").exists()
        assert not (store / "runs" / r / "checkpoint.pt").exists()
    rows = pd.read_parquet(store / "results.parquet")[ROWS].sort_values("key")
    assert rows["key"].is_unique and (rows["status"] == "ok").all()
    return runs, rows.reset_index(drop=True)


def broken_config(folder: Path, table: dict) -> str:
    """A study whose catalog file does not exist."""
    from faultprobe.config import dump_toml

    raw = {
        **table,
        "study": {**table["study"], "name": "broken", "store": str(folder / "broken")},
        "catalog": {**table["catalog"], "path": str(folder / "no-such-catalog.txt")},
    }
    path = folder / "broken.toml"
    path.write_text(dump_toml(parse_config(raw)))
    return str(path)


@pytest.mark.slow
def test_survey_killed_and_resumed_equals_uninterrupted(simulated, tmp_path):
    folder, table = simulated
    ref = tmp_path / "ref"
    ref.mkdir()
    ref_cfgs = study_configs(ref, table, ["seq-a", "seq-b"])
    done = subprocess.run(survey_cmd(survey_file(ref, ref_cfgs)), capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "transfer (binary runs" in done.stdout
    table_ref = pd.read_parquet(ref / "survey-out" / "survey.parquet")
    assert sorted(table_ref["sequence"]) == ["seq-a", "seq-b"]
    matrix = pd.read_parquet(ref / "survey-out" / "transfer.parquet")
    assert len(matrix) == 4 and (matrix["n_events"] > 0).all() and not matrix["error"].any()
    assert (matrix["ci_lo"] <= matrix["pooled_accuracy"]).all()

    # the same studies and a broken one; killed (-9, the whole process group) mid-ingest
    run = tmp_path / "run"
    run.mkdir()
    cfgs = study_configs(run, table, ["seq-a", "seq-b"]) + [broken_config(run, table)]
    path = survey_file(run, cfgs)
    proc = subprocess.Popen(survey_cmd(path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (run / "seq-a" / "waveforms.zarr").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the survey never started its ingest"
        time.sleep(0.05)
    assert proc.poll() is None, "the survey ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run / "seq-a" / "results.parquet").exists()

    again = subprocess.run(survey_cmd(path), capture_output=True, text=True, timeout=600)
    assert again.returncode == 2, again.stderr[-3000:]
    named = [ln for ln in again.stderr.splitlines() if ln.startswith("error: study broken")]
    assert len(named) == 1 and "no-such-catalog.txt" in named[0], again.stderr[-3000:]
    assert "1 of 3 studies failed (broken)" in again.stderr
    for name in ("seq-a", "seq-b"):
        runs, rows = finished(run / name)
        runs_ref, rows_ref = finished(ref / name)
        assert runs == runs_ref and len(runs) == 1
        pd.testing.assert_frame_equal(rows, rows_ref)
    table_run = pd.read_parquet(run / "survey-out" / "survey.parquet")
    cols = ["sequence", "station", "n_correct", "n_events"]
    pd.testing.assert_frame_equal(table_run[cols], table_ref[cols])


def test_a_survey_file_that_cannot_be_used_is_one_line(tmp_path):
    path = tmp_path / "survey.toml"
    path.write_text('[survey]\nname = "x"\nstore = "out"\n\n[[studies]]\nconfg = "a.toml"\n')
    out = subprocess.run(survey_cmd(str(path)), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "studies.0" in lines[0], out.stderr


def test_a_study_given_by_its_init_inputs_is_written_once(simulated, tmp_path, caplog):
    from faultprobe.config import load_config
    from faultprobe.survey.config import StudyEntry
    from faultprobe.survey.run import written_config

    folder, table = simulated
    sim = folder / "synthetic"
    init = {"catalog": str(sim / "catalog.txt"), "time": table["mainshock"]["time"],
            "inventory": str(sim / "stations.xml"), "sds_root": str(sim / "sds")}  # fmt: skip
    entry = StudyEntry(config=str(tmp_path / "derived.toml"), init=init)
    caplog.set_level("INFO", logger="faultprobe.survey")

    def said():
        return [r for r in caplog.records if "written by init" in r.getMessage()]

    written_config(entry)
    cfg = load_config(entry.config)
    assert abs((cfg.mainshock.time - parse_config(table).mainshock.time).total_seconds()) < 1
    first = Path(entry.config).read_text()
    written_config(entry)  # a second survey keeps the written config
    assert Path(entry.config).read_text() == first and len(said()) == 1


def test_a_study_whose_init_fails_is_named(tmp_path):
    cfgs = [str(tmp_path / "never.toml")]
    path = Path(survey_file(tmp_path, cfgs))
    text = (
        path.read_text()
        + f'init = {{ catalog = "{tmp_path}/none.txt", time = "2016-10-30T06:40:17Z" }}\n'
    )
    path.write_text(text)
    out = subprocess.run(survey_cmd(str(path)), capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    named = [ln for ln in out.stderr.splitlines() if ln.startswith("error: study ")]
    assert len(named) == 1 and "never.toml" in named[0] and "none.txt" in named[0], out.stderr
