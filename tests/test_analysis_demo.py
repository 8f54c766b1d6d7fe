"""The demo chain on a small simulated study with the effect confined above 10 Hz.

One module fixture runs `run_demo` (synth -> catalog -> ingest -> grid -> pairs -> report)
with a smaller grid and three seeds; the tests check the shapes the paper reports and that
the report's page references only real, non-trivial PNG files.  These can fail: nothing
here is set from the answer.

Every shape is an exact test on test events pooled over the three seeds, at p < 0.01
(faultprobe.analysis.stats), never one run's accuracy: the near station above chance
(one-sided binomial) and above the far one, the high band above the low band (one-sided
Fisher).  Power, from seeds 1-3 of this study (68 test events per run, 204 pooled):
NRCA 0.91-0.96 (pooled 0.93), IV.SMA1 0.51-0.66 (0.60), 2-8 Hz 0.50, 15-30 Hz 0.76-0.85
(0.82).  At the pooled rates each test passes with probability > 0.99999, and at the least
favourable single seeds (NRCA 0.91 against SMA1 0.66; 2-8 Hz 0.50 against 15-30 Hz 0.76)
with probability > 0.999 (`stats.power_less`), so a correct pipeline fails this file by
chance well under 1 % of the time.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from faultprobe.analysis import stats
from faultprobe.analysis.demo import run_demo
from faultprobe.config import load_config
from faultprobe.store import Store

SMALLER = {
    "synthetic.background_per_day": 7.0,
    "synthetic.omori_k": 35.0,
    "train.epochs": 6,
    "train.seeds": [1, 2, 3],
    "experiments.table1.classes": [2],
    "experiments.bands.bands": [[2.0, 8.0], [15.0, 30.0]],
    "experiments.bands.seeds": [1, 2, 3],
    "experiments.false_dates.seeds": [1],  # its statistics: tests/test_analysis_false_dates.py
    "experiments.pairs.max_pairs": 40,
    # one seed of the controls: the panel is checked here, their statistics in
    # tests/test_controls_confounds.py and tests/test_controls.py
    "experiments.controls.seeds": [1],
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    index = run_demo(out, changes=SMALLER)
    cfg = load_config(out / "demo.toml")
    results = Store(cfg.study.store).read_table("results.parquet")
    return index, cfg, results


def _ok(results: pd.DataFrame, grid: str) -> pd.DataFrame:
    df = results[(results["grid"] == grid)]
    assert (df["status"] == "ok").all(), df["error"].tolist()
    return df


def _pooled(rows: pd.DataFrame) -> stats.Pooled:
    assert len(rows) == 3 and sorted(rows["seed"]) == [1, 2, 3]
    return stats.pool(rows["n_correct"], rows["n_test"], int(rows["n_classes"].iloc[0]))


def test_near_station_above_chance_and_above_the_far_station(demo):
    _, cfg, results = demo
    t1 = _ok(results, "table1")
    near = _pooled(t1[t1["station"] == cfg.stations.codes[0]])
    far = _pooled(t1[t1["station"] == cfg.stations.far[0]])
    assert near.p_above_chance < stats.ALPHA, near
    assert stats.fisher_less_p(far.k, far.n, near.k, near.n) < stats.ALPHA, (near, far)


def test_low_band_loses_the_effect_confined_above_10_hz(demo):
    _, _, results = demo
    bands = _ok(results, "bands")
    low = _pooled(bands[bands["band_hi_hz"] <= 10])
    high = _pooled(bands[bands["band_lo_hz"] >= 10])
    assert stats.fisher_less_p(low.k, low.n, high.k, high.n) < stats.ALPHA, (low, high)


def test_wrong_date_runs_score_the_false_interval(demo):
    _, _, results = demo
    fd = _ok(results, "false_dates")
    wrong = fd[fd["false_date"] != ""].iloc[0]
    assert wrong["nm"] > 0 and 0 <= wrong["nc"] <= wrong["nm"]
    assert 0 <= wrong["fp"] <= 100 and wrong["n_correct"] >= wrong["nc"]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.src: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.src.append(dict(attrs)["src"])


def test_report_has_every_figure_as_a_real_png(demo):
    index, _, results = demo
    page = Path(index).read_text()
    parser = _Images()
    parser.feed(page)
    names = set(parser.src)
    for want in ("map.png", "counts.png", "false_dates.png", "bands.png", "pairs.png"):
        assert want in names
    assert any(n.startswith("confusion_") for n in names)
    # the control panel per station: a verdict row and an attribution map each
    assert {"attribution_IV_NRCA.png", "attribution_IV_SMA1.png"} <= names
    assert {"controls_IV_NRCA.png", "controls_IV_SMA1.png"} <= names
    assert page.count("Control panel: IV.") == 2
    assert page.count("Controls and the verdict") == 1
    controls = _ok(results, "controls")
    assert set(controls["station"]) == {"IV.NRCA", "IV.SMA1"}
    assert set(controls["control"]) >= {"cnn", "noise", "metadata", "matched", "attribution"}
    for name in names:
        blob = (Path(index).parent / name).read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(blob) > 8000, name
    for run_id in results.loc[results["status"] == "ok", "run_id"]:
        assert run_id in page  # every number leads back to its run


def test_the_report_renders_in_headless_chromium(demo, tmp_path):
    """Chromium renders the page and loads every image; the screenshot is not blank."""
    import browser

    if browser.chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    index, _, _ = demo
    found = browser.images(Path(index))
    assert found["total"] >= 6 and found["broken"] == [], found
    assert all(w >= 200 and h >= 150 for w, h in found["sizes"]), found["sizes"]
    png = browser.screenshot(Path(index), tmp_path / "report.png")
    import matplotlib.image

    shot = matplotlib.image.imread(png)
    assert shot.shape[0] >= 1000 and shot.shape[1] >= 1000
    gray = shot[..., :3].mean(axis=-1)
    assert gray.std() > 0.05  # text, tables and figures, not an empty page
    assert (gray < 0.5).mean() > 0.005  # dark pixels: text and plot lines
