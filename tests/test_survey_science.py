"""Issue 18's must-show on a simulated survey of four sequences in four places and geometries
(`faultprobe.testing.surveys.four_sequences`): a large injected fault-zone change, a small
one, none, and the large one only above 10 Hz; each study made by `faultprobe init
--synthetic` from its mainshock QuakeML, catalog and StationXML alone.

- plane recovery (fast): the derived fault plane within 10° of the simulated strike and dip
  (two from a mechanism off by a few degrees, one from a mechanism, one from the
  aftershock cloud alone, the QuakeML having none);
- the survey (slow): one `faultprobe survey` runs the four twins (catalog, ingest, Table 1
  binary runs at the near station over 3 seeds, the transfer matrix and the
  leave-one-sequence-out models).  Every call pools the 3 seeds' test events and is an exact
  test at p < 0.01 (`faultprobe.analysis.stats` through `transfer.score_columns`):
  "above chance" is the one-sided binomial p < 0.01 with some seed outside its chance band;
  "inside the chance band" is every seed inside its band at 1 - 0.01 / 3 (Bonferroni),
  which a pipeline with nothing to learn fails at most 1 % of the time.

Power: the near-station tables have 46-104 test events per seed (138-312 pooled).  The
effect sequences' runs scored 0.84-0.98 here (pooled over seeds 1-3); at a true accuracy of
0.70 and 150 pooled events the exact test at p < 0.01 passes with probability 0.997
(`stats.power_above(0.7, 150, 0.5)`, 0.91 at 0.65); the transfer cells and LOSO rows score
every balanced event of the other sequence (456-1044 pooled), which keeps power > 0.99 down
to a true accuracy of 0.60 at 600 pooled events.  Seen in one run (seeds 1-3 pooled): table
0.979 / 0.965 / 0.500 / 0.840 (apennines, gulf, desert, foothills); transfer apennines ->
gulf 0.875, gulf -> apennines 0.963, every cell into or out of desert 0.482-0.500; LOSO
0.941 / 0.807 / 0.498 / 0.861.

Cost: the survey trains 12 runs and 12 LOSO models and scores 12 transfer cells × 3 seeds;
on the 2 shared cores it took ~9 CPU minutes (far above a fast test's budget: slow only).  The no-effect sequence fails its
band with probability at most 0.01 per claim when it truly is at chance.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from faultprobe.config import load_config
from faultprobe.derive.plane import angle_between, normal_of
from faultprobe.testing import surveys

TRAIN = {
    "epochs": 10,
    "width": 0.25,
    "batch_size": 32,
    "seeds": [1, 2, 3],
    "device": "cpu",
    "threads": 1,
    "patience": 0,
    "window_s": [-1.0, 3.0],
    "fractions": [0.6, 0.1, 0.3],
}
EFFECT = ("apennines", "gulf")  # the two sequences with the change at all frequencies
NONE, HF = "desert", "foothills"
# The survey takes about 4 minutes on 2 cores (a quarter of the suite's budget): it runs
# where asked for, e.g. `FAULTPROBE_SURVEY_SCIENCE=1 bash scripts/test.sh tests/test_survey_science.py`.
survey_scale = pytest.mark.skipif(
    not os.environ.get("FAULTPROBE_SURVEY_SCIENCE"),
    reason="a four-sequence survey, about 4 min on 2 cores; set FAULTPROBE_SURVEY_SCIENCE=1 to run it",
)


def _strike_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_init_recovers_every_sequence_s_plane_within_10_degrees(tmp_path):
    misfits = {}
    for seq in surveys.four_sequences():
        files = surveys.write_sequence_inputs(seq, tmp_path / seq.name)
        files = surveys.init_sequence(files, tmp_path / seq.name, surveys.twin_overrides(seq))
        f = load_config(files.config).fault
        twin = load_config(files.twin)
        assert twin.fault == f and twin.synthetic.effect.dtstar_jump == pytest.approx(
            surveys.EFFECTS[seq.effect]["dtstar_jump"]
        )
        misfits[seq.name] = (_strike_diff(f.strike, seq.strike), abs(f.dip - seq.dip),
                             angle_between(normal_of(f.strike, f.dip), normal_of(seq.strike, seq.dip)))  # fmt: skip
    assert all(max(m) < 10.0 for m in misfits.values()), misfits
    # the mechanism-less one comes from the cloud, not a copied plane
    assert "no focal mechanism" in (tmp_path / NONE / f"{NONE}.toml").read_text()


@pytest.fixture(scope="module")
def surveyed(tmp_path_factory) -> dict[str, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("survey-science")
    path, _ = surveys.write_survey(folder, surveys.four_sequences(), train=TRAIN)
    done = subprocess.run([sys.executable, "-m", "faultprobe.cli", "survey", str(path)],
                          capture_output=True, text=True, timeout=3000)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = folder / "survey-out"
    assert (out / "report.md").is_file() and (out / "sequences.png").stat().st_size > 10_000
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in ("survey", "transfer", "loso")}


def _name(s: str) -> str:
    return s.removesuffix("-synthetic")


@pytest.mark.slow
@survey_scale
def test_the_survey_table_calls_the_effects_and_not_the_null(surveyed):
    t = surveyed["survey"]
    near = t[(t["station"] == "XX.S1") & (t["classes"] == 2)].set_index(t["sequence"].map(_name))
    assert set(near.index) == {*EFFECT, NONE, HF}
    assert (near["seeds"] == 3).all() and (near["n_events"] >= 120).all(), near
    for name in (*EFFECT, HF):
        row = near.loc[name]
        assert row["p_above_chance"] < 0.01 and row["verdict"].startswith("above chance"), row
    assert near.loc[NONE, "verdict"] == "inside the chance band", near.loc[NONE]
    assert {"controls verdict", "controls numbers"} <= set(t.columns)


@pytest.mark.slow
@survey_scale
def test_the_transfer_matrix_transfers_between_effects_only(surveyed):
    m = surveyed["transfer"].assign(
        a=lambda d: d["trained_on"].map(_name), b=lambda d: d["scored_on"].map(_name)
    )
    assert len(m) == 16 and not m["error"].any(), m[m["error"] != ""]
    cell = m.set_index(["a", "b"])
    for a, b in [EFFECT, EFFECT[::-1]]:
        row = cell.loc[(a, b)]
        assert row["p_above_chance"] < 0.01 and row["verdict"].startswith("above chance"), row
    for other in (*EFFECT, HF):
        for a, b in [(NONE, other), (other, NONE)]:
            assert cell.loc[(a, b), "verdict"] == "inside the chance band", cell.loc[(a, b)]


@pytest.mark.slow
@survey_scale
def test_leave_one_sequence_out_models(surveyed):
    lo = surveyed["loso"].assign(held=lambda d: d["held_out"].map(_name)).set_index("held")
    assert set(lo.index) == {*EFFECT, NONE, HF} and not lo["error"].any(), lo
    assert (lo["seeds"] == 3).all()
    # trained on the others (two of them with the change at all frequencies): the large
    # change is told, the sequence without one is not
    assert lo.loc["apennines", "verdict"].startswith("above chance"), lo.loc["apennines"]
    assert lo.loc[NONE, "verdict"] == "inside the chance band", lo.loc[NONE]
