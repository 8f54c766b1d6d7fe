"""Transfer across sequences: a run of one study scored on another study's cube."""

from __future__ import annotations

import subprocess
import sys

import pytest

from faultprobe.config import dump_toml, parse_config
from faultprobe.testing.studies import small_study_table
from faultprobe.testing.toycube import ToyStudy, write_toy_store


def other_study(folder, **toy) -> str:
    """Config file of a second tiny study: a toy cube (its own mainshock, rate, window)."""
    study = ToyStudy(n_events=120, **toy)
    write_toy_store(str(folder / "store"), study)
    table = small_study_table(folder)
    table["study"] = {
        "name": "toy-other",
        "store": str(folder / "store"),
        "start": "2016-08-30T00:00:00Z",
        "end": "2016-12-31T00:00:00Z",
    }
    table["mainshock"] = {**table["mainshock"], "time": study.mainshock}
    path = folder / "other.toml"
    path.write_text(dump_toml(parse_config(table)))
    return str(path)


def evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faultprobe.cli", "evaluate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_scored_on_another_study(small_trained, tmp_path):
    from faultprobe.analysis.transfer import transfer_run
    from faultprobe.config import load_config
    from faultprobe.ml.runs import run_folder_from_path

    cfg = other_study(tmp_path, sampling_rate=200.0, window_s=(-2.0, 8.0))
    scores, preds = transfer_run(run_folder_from_path(small_trained.run), load_config(cfg))
    assert scores["stations"] == ["IV.NRCA"]
    assert scores["n_events"] == len(preds) > 0
    assert scores["support"]["pre"] == scores["support"]["post"]  # balanced
    assert scores["ci_lo"] <= scores["pooled_accuracy"] <= scores["ci_hi"]
    assert set(preds["true"]) == {0, 1}
    out = evaluate(small_trained.run, "--study", cfg, "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "on study 'toy-other' at IV.NRCA: accuracy" in out.stdout
    assert "[95%" in out.stdout


@pytest.mark.parametrize(
    ("toy", "words"),
    [
        ({"window_s": (-1.0, 3.0)}, "does not hold the run's window"),
        ({"sampling_rate": 50.0, "window_s": (-2.0, 8.0)}, "below the run's"),
    ],
)
def test_input_that_cannot_be_brought_to_the_run(small_trained, tmp_path, toy, words):
    cfg = other_study(tmp_path, **toy)
    out = evaluate(small_trained.run, "--study", cfg, "--device", "cpu")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "toy-other" in lines[0], out.stderr
