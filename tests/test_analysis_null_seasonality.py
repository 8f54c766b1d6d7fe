"""The null-region and seasonality grids end to end on a simulated study.

`faultprobe synth` writes a small sequence with an extra cluster of events away from the
fault and a year of ambient-noise segments; `run_experiments` then builds the region's
store and the noise-window cube from the SDS archive and trains on them.  Both runs have
nothing to learn (the region's rays miss the damage zone; the simulated noise changes
only its level with the season, which the per-trace normalisation removes), so every
seed's test accuracy must stay inside its chance band at level 1 - 0.01 / runs
(Bonferroni): a correct pipeline fails that at most 1 % of the time.  A leak from the
labels into the inputs (event energy in noise windows, fault events in the region store)
would fail them.  With the seasonal cycle confined to 2-8 Hz the noise changes its
spectral shape, and the span where that change is large (April-July, far from the
January peak) is learned: pooled over three seeds, above chance (one-sided binomial,
p < 0.01; it scored 100 % on ~36 test windows per seed, so the test passes at any true
accuracy above 0.75 with probability > 0.99).
"""

from __future__ import annotations

import pandas as pd
import pytest

from faultprobe.analysis import stats
from faultprobe.analysis.experiments import run_experiments
from faultprobe.analysis.grid import NOISE_STORE, REGIONS_STORE
from faultprobe.catalogs.study import build_catalog
from faultprobe.config import parse_config
from faultprobe.ml import dataset
from faultprobe.pipelines.ingest import ingest
from faultprobe.store import Store
from faultprobe.synthetic.run import synthesize
from faultprobe.testing.studies import small_study_table

pytestmark = pytest.mark.slow

REGION = {"name": "campotosto", "latitude": 42.53, "longitude": 13.37}


def _table(folder, epochs: int, width: float, **synthetic) -> dict:
    """A small study with a year of noise windows and the seasonality grid at NRCA."""
    raw = small_study_table(
        folder,
        background_per_day=10.0,
        omori_k=5.0,
        noise_segments_per_day=3,
        noise_years=1.0,
        **synthetic,
    )
    raw["train"] = {
        "epochs": epochs,
        "width": width,
        "batch_size": 32,
        "seeds": [1, 2, 3],
        "device": "cpu",
        "window_s": [-0.5, 5.5],
    }
    raw["cluster"] = {"kind": "local", "n_workers": 2, "threads_per_worker": 1}
    raw["experiments"] = {
        "table1": {"enabled": False},
        "false_dates": {"enabled": False},
        "bands": {"enabled": False},
        "pairs": {"enabled": False},
        "null": {"enabled": False},
        "seasonality": {
            "enabled": True,
            "stations": ["IV.NRCA"],
            "span_months": 4,
            "step_months": 4,
            "windows_per_day": 3,
            "min_windows": 40,
            "events": False,
            "seeds": [1, 2, 3],
        },
    }
    return raw


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    region = {**REGION, "depth_km": 10.0, "radius_km": 2.0, "rate_per_day": 60.0}
    folder = tmp_path_factory.mktemp("null-season")
    raw = _table(folder, 3, 0.125, noise_seasonal_amplitude=0.6, regions=[region])
    raw["experiments"]["null"] = {
        "far": False,
        "regions": [{**REGION, "radius_km": 4.0}],
        "seeds": [1, 2, 3],
    }
    cfg = parse_config(raw, source="<null and seasonality study>")
    synthesize(cfg)
    build_catalog(cfg)
    ingest(cfg)
    results = run_experiments(cfg)
    return cfg, results


@pytest.fixture(scope="module")
def banded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("season-band")
    raw = _table(folder, 12, 0.25, noise_seasonal_amplitude=0.8, noise_seasonal_band_hz=[2.0, 8.0])
    # only the April-July span, where the change is large
    raw["experiments"]["seasonality"].update(
        start="2016-04-01T00:00:00Z", end="2016-08-01T00:00:00Z"
    )
    cfg = parse_config(raw, source="<seasonal noise study>")
    synthesize(cfg)
    build_catalog(cfg)  # the catalog's times keep events out of the windows
    return run_experiments(cfg, grids=["seasonality"])


def _rows(results: pd.DataFrame, grid: str) -> pd.DataFrame:
    df = results[results["grid"] == grid]
    assert len(df) and (df["status"] == "ok").all(), df.get("error", pd.Series()).tolist()
    return df


def test_region_events_have_their_own_store_and_score_at_chance(study):
    cfg, results = study
    store = Store(cfg.study.store)
    region = Store(store.url(REGIONS_STORE, REGION["name"]))
    ev = dataset.event_table(dataset.open_cube(region))
    truth = pd.read_parquet(f"{cfg.synthetic.output}/truth.parquet")
    kinds = truth.set_index("source_id").loc[ev["source_id"], "kind"]
    # the region's store holds the cluster's events and none of the fault's
    assert len(ev) >= 100 and (kinds == f"region:{REGION['name']}").mean() > 0.95
    assert (truth.loc[truth["kind"].str.startswith("region"), "exposure_IV.SMA1"] == 0).all()
    rows = _rows(results, "null")
    assert set(rows["station"]) == {"IV.SMA1"} and sorted(rows["seed"]) == [1, 2, 3]
    assert stats.inside_chance_every_seed(rows["n_correct"], rows["n_test"], 2), rows["accuracy"]


def test_seasonality_trains_on_noise_windows_and_stays_at_chance(study):
    cfg, results = study
    noise = dataset.event_table(dataset.open_cube(Store(Store(cfg.study.store).url(NOISE_STORE))))
    assert len(noise) > 600  # a year of event-free windows at NRCA
    runs = _rows(results, "seasonality")
    assert len(runs) >= 2  # 4-month spans in the year
    assert set(runs["station"]) == {"IV.NRCA"} and set(runs["seed"]) == {1, 2, 3}
    # every span and seed inside its chance band, Bonferroni over all of them
    inside = stats.inside_chance_every_seed(runs["n_correct"], runs["n_test"], 2)
    assert inside, runs[["span_start", "seed", "accuracy", "chance_lo", "chance_hi"]]


def test_a_seasonal_change_of_spectral_shape_is_learned_where_it_is_large(banded):
    runs = _rows(banded, "seasonality")
    # cycle peak on 15 January, amplitude 0.8 in 2-8 Hz: April-May ~0.8, June-July ~0.2
    summer = runs[runs["span_start"] == "2016-04-01T00:00:00Z"]
    pooled = stats.pool(summer["n_correct"], summer["n_test"], 2)
    assert pooled.seeds == 3 and pooled.p_above_chance < stats.ALPHA, summer["accuracy"]
