"""`faultprobe experiments`: build what the grids read, run them, analyse the pairs.

Order: the noise-window cube (seasonality, STORE/noise/), the other-region stores (null
tests, STORE/regions/NAME/), every grid run as Dask tasks (results.parquet), then the
co-located pairs and their spectra (STORE/pairs/).  Each step skips what is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from faultprobe.analysis import grid as gridmod
from faultprobe.analysis.estimate import GridEstimate, estimate_grid, slots_of
from faultprobe.analysis.pairs import analyse_pairs, differing_band
from faultprobe.analysis.runner import pending, read_results, run_grid, sub_store
from faultprobe.cluster.connect import declared_resources
from faultprobe.config import Cluster, Experiments, StudyConfig
from faultprobe.config.sections import parse_bytes_field
from faultprobe.config.stages import GridSettings
from faultprobe.errors import InputError
from faultprobe.store import Store

PAIRS = "pairs"
log = logging.getLogger(__name__)


class GridDeclined(InputError, RuntimeError):
    """The user (or the missing --yes) stopped a long grid before it started."""


def _event_times(store: Store) -> pd.Series | None:
    from faultprobe.ml import dataset

    if not store.exists("waveforms.zarr"):
        return None
    return dataset.event_table(dataset.open_cube(store))["source_origin_time"]


def plan_runs(cfg: GridSettings, grids: list[str] | None = None) -> list[gridmod.GridRun]:
    """The runs of the configured grids for this store's cubes."""
    store = Store(cfg.store)
    noise = None
    if cfg.experiments.seasonality.enabled:
        noise = _event_times(sub_store(store, gridmod.NOISE_STORE))
    return gridmod.expand(cfg, noise, _event_times(store), grids)


def plan_listing(
    cfg: StudyConfig,
    *,
    client=None,
    grids: list[str] | None = None,
    retry_failed: bool = True,
) -> str:
    """The pending runs with their estimated times (a short calibration on the workers);
    nothing is run or written."""
    from faultprobe.cluster import connect

    if client is None:
        with connect(cfg.cluster) as c:
            return plan_listing(cfg, client=c, grids=grids, retry_failed=retry_failed)
    grid = GridSettings.of(cfg)
    store = Store(grid.store)
    runs = pending(plan_runs(grid, grids), read_results(store), retry_failed)
    later = _unsized_seasonality(grid.experiments, store, grids)
    if runs:
        return _estimate(cfg.cluster, store, runs, client).render() + later
    if later:
        return "no runs to estimate yet" + later
    return "nothing to do: every run of the configured grids is finished"


def _estimate(cluster: Cluster, store: Store, runs, client) -> GridEstimate:
    """What the grid will cost on these workers, before anything of it runs."""
    resources = declared_resources(cluster)
    return estimate_grid(
        store,
        runs,
        client,
        slots_of(cluster, client),
        {"GPU": 1} if "GPU" in resources else None,
    )


def run_experiments(
    cfg: StudyConfig,
    *,
    client=None,
    grids: list[str] | None = None,
    retry_failed: bool = True,
    confirm: Callable[[GridEstimate], bool] | None = None,
) -> pd.DataFrame:
    """Prepare the inputs, run every pending grid run, analyse the pairs; results table.

    The estimate and each step's outcome are logged (info); `confirm(estimate)` is asked
    before the grid starts and a False answer raises `GridDeclined` (nothing run).
    """
    from faultprobe.cluster import connect

    if client is None:
        with connect(cfg.cluster) as c:
            return run_experiments(
                cfg, client=c, grids=grids, retry_failed=retry_failed, confirm=confirm
            )
    grid = GridSettings.of(cfg)
    store = Store(grid.store)
    g = grid.experiments
    runs = pending(plan_runs(grid, grids), read_results(store), retry_failed)
    later = _unsized_seasonality(g, store, grids)
    if runs:  # what the grid will cost on these workers, before anything of it runs
        est = _estimate(cfg.cluster, store, runs, client)
        log.info((est.render(limit=10) if confirm is not None else est.render(limit=0)) + later)
        advice = _cpu_advice(est, runs)
        if advice:
            log.info(advice)
        if confirm is not None and not confirm(est):
            raise GridDeclined(
                f"grid not started ({len(runs)} runs, about {est.wall_s / 3600:.1f} h)"
            )
    if g.seasonality.enabled and (grids is None or "seasonality" in grids):
        from faultprobe.analysis.noise import build_noise_cube

        log.info(build_noise_cube(cfg, client=client))
    if g.null.enabled and g.null.regions and (grids is None or "null" in grids):
        from faultprobe.analysis.regions import build_region_stores

        for line in build_region_stores(cfg, client=client):
            log.info(line)
    runs = plan_runs(grid, grids)  # again: the inputs built above add runs
    log.info(f"experiments: {len(runs)} runs in grids {sorted({r.grid for r in runs})}")
    results = run_grid(
        store,
        runs,
        client,
        retry_failed=retry_failed,
        cache_bytes=parse_bytes_field(cfg.cluster.slice_cache, "slice_cache"),
        worker_resources=declared_resources(cfg.cluster),
    )
    failed = results[results["status"] == "failed"]
    if len(failed):
        log.warning(
            f"experiments: {len(failed)} run(s) failed; see the error column of results.parquet"
        )
    if g.pairs.enabled and (grids is None or "pairs" in grids):
        log.info(pairs_step(grid))
    return results


def _unsized_seasonality(g: Experiments, store: Store, grids: list[str] | None) -> str:
    """A line for the estimate when the seasonality runs cannot be listed yet ("" if not)."""
    if not g.seasonality.enabled or (grids is not None and "seasonality" not in grids):
        return ""
    if sub_store(store, gridmod.NOISE_STORE).exists("waveforms.zarr"):
        return ""
    return "\n  the seasonality runs are not in the estimate: their noise cube is built first"


def _cpu_advice(est: GridEstimate, runs) -> str:
    """The CPU preset's advice, for a grid of more than half an hour on CPU workers only."""
    from faultprobe.ml.estimate import cpu_advice

    on_cpu = est.calibrations and all(c.device == "cpu" for c in est.calibrations)
    return cpu_advice(runs[0].spec) if on_cpu and est.wall_s > 1800 else ""


def pairs_step(cfg: GridSettings) -> str:
    """Pairs at the configured station from the cube; writes STORE/pairs/*.parquet."""
    from faultprobe.ml import dataset

    store = Store(cfg.store)
    p = cfg.experiments.pairs
    station = p.station or (cfg.train.stations[0] if cfg.train.stations else cfg.stations.codes[0])
    ds = dataset.open_cube(store)
    sl = dataset.read_station_slice(ds, [station], p.window_s)
    ev = dataset.event_table(ds)
    for cube_name, col in (("latitude", "source_latitude_deg"),
                           ("longitude", "source_longitude_deg"),
                           ("depth_km", "source_depth_km")):  # fmt: skip
        ev[col] = ds[cube_name].values  # the cube keeps its own coordinate names
    ok = np.flatnonzero(sl.ok & np.isfinite(ev["source_magnitude"].to_numpy()))
    events = ev.iloc[ok].reset_index(drop=True)
    pairs, spectra, summary = analyse_pairs(events, sl.x[ok], sl.sampling_rate, p)
    store.makedirs(PAIRS)
    pairs = pairs.assign(station=station)
    store.write_table(pairs.drop(columns=["pre_pos", "post_pos"]), f"{PAIRS}/pairs.parquet")
    if spectra is None:
        store.write_table(pd.DataFrame(), f"{PAIRS}/summary.parquet")
        return f"pairs: no co-located pre/post pairs at {station}"
    store.write_table(summary.assign(station=station), f"{PAIRS}/summary.parquet")
    store.write_table(_examples(pairs, spectra, events, sl, ok), f"{PAIRS}/examples.parquet")
    t = ds["time"].values[dataset.time_slice(ds["time"].values, p.window_s)]
    s_after_p = None
    if "p_time" in ds:  # the S time the attribution uses: P travel x (Vp/Vs - 1)
        from faultprobe.analysis.controls import p_travel

        s_after_p = p_travel(ds, station, ok) * (cfg.experiments.controls.vp_vs - 1.0)
    store.write_table(
        _example_traces(pairs, sl.x[ok], t, spectra.components, s_after_p),
        f"{PAIRS}/example_traces.parquet",
    )
    band = differing_band(summary)
    where = f"{band[0]:.1f}-{band[1]:.1f} Hz" if band else "no band"
    return f"pairs: {len(pairs)} pairs at {station}; post/pre spectra differ in {where}"


def _examples(pairs, spectra, events, sl, ok, k: int = 3) -> pd.DataFrame:
    """Spectra of the k closest pairs, long format, for the report's example panel."""
    rows = []
    for i in range(min(k, len(pairs))):
        for c, comp in enumerate(spectra.components):
            rows.append(
                pd.DataFrame(
                    {
                        "pair": i,
                        "source_id_pre": pairs["source_id_pre"].iloc[i],
                        "source_id_post": pairs["source_id_post"].iloc[i],
                        "component": comp,
                        "freq_hz": spectra.freq,
                        "pre_amplitude": spectra.pre[i, c],
                        "post_amplitude": spectra.post[i, c],
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _example_traces(
    pairs: pd.DataFrame,
    x: np.ndarray,
    t: np.ndarray,
    components: tuple[str, ...],
    s_after_p: np.ndarray | None = None,
    k: int = 3,
) -> pd.DataFrame:
    """The records of the k closest pairs (the window the spectra saw), long format: one
    row per pair, component and sample, time in s after P, for the report's waveforms;
    with `s_after_p` (per event of `x`), each record's S time after P (s_pre_s, s_post_s)."""
    k = min(k, len(pairs))
    i_pre, i_post = pairs["pre_pos"].to_numpy()[:k], pairs["post_pos"].to_numpy()[:k]
    pre, post = x[i_pre], x[i_post]
    n_comp = pre.shape[1]
    pair, comp, sample = np.meshgrid(np.arange(k), np.arange(n_comp), np.arange(t.size),
                                     indexing="ij")  # fmt: skip
    names = np.array(components[:n_comp])
    out = pd.DataFrame(
        {
            "pair": pair.ravel(),
            "source_id_pre": pairs["source_id_pre"].to_numpy()[pair.ravel()],
            "source_id_post": pairs["source_id_post"].to_numpy()[pair.ravel()],
            "component": names[comp.ravel()],
            "time_s": t[sample.ravel()].astype(float),
            "pre": pre.ravel().astype(float),
            "post": post.ravel().astype(float),
        }
    )
    if s_after_p is not None:
        s = np.asarray(s_after_p, float)
        out["s_pre_s"], out["s_post_s"] = s[i_pre][pair.ravel()], s[i_post][pair.ravel()]
    return out
