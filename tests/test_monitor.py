"""`faultprobe monitor`: new events scored as their data arrive, exactly once.

The small synthetic study (its trained NRCA run) is fed as if live: its SDS day files are
copied into an empty archive day by day and its catalog's events are added to a loopback
FDSN event service, while `faultprobe monitor` runs in another process.  Every event the
study's selection keeps is scored once, with the probabilities `faultprobe predict` gives
for the same events; a SIGKILL in the middle and a restart lose and repeat nothing.  A
crash between the cube append and the commit (injected) is cut back on the next start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr_v3

from faultprobe.catalogs.readers import read_catalog
from faultprobe.catalogs.selection import select_events
from faultprobe.cli import main
from faultprobe.config import dump_toml
from faultprobe.config.stages import MonitorSettings
from faultprobe.monitor import newevents
from faultprobe.monitor.service import Monitor
from faultprobe.monitor.state import MonitorStore

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _cfg(trained, store: Path, sds_root: str | None = None, **monitor):
    cfg = trained.cfg
    # start: the study's own events are replayed (in-sample for the run), as a past sequence
    mon = cfg.monitor.model_copy(
        update={"store": str(store), "replay": True, "start": cfg.study.start, **monitor}
    )
    w = cfg.waveforms.model_copy(update={"sds_root": sds_root or cfg.waveforms.sds_root})
    return cfg.model_copy(update={"monitor": mon, "waveforms": w})


def _expected(cfg, catalog: pd.DataFrame) -> set[str]:
    """Events the study's selection keeps and the catalog reaches 25 s past."""
    sel = select_events(catalog, newevents.monitoring_selection(MonitorSettings.of(cfg))).events
    reach = sel["source_origin_time"] + pd.Timedelta(seconds=cfg.selection.isolation_after_s)
    return set(sel.loc[reach <= catalog["source_origin_time"].max(), "source_id"].astype(str))


def _scores(store: Path) -> pd.DataFrame:
    path = store / "predictions.parquet"
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["source_id"])


def test_a_crash_before_the_commit_is_cut_back_and_done_again(small_trained, tmp_path, monkeypatch):
    ref_cfg = _cfg(small_trained, tmp_path / "ref", events="catalog", batch_events=16)
    ref = Monitor(ref_cfg, small_trained.run)
    first = ref.poll()
    want = _expected(ref_cfg, read_catalog(ref_cfg.catalog).events)
    assert first.scored == len(want) > 32 and first.waiting == 0
    assert ref.poll().scored == 0  # nothing new: nothing done
    ref_scores = _scores(tmp_path / "ref")
    assert set(ref_scores["source_id"]) == want and ref_scores["source_id"].is_unique
    # the monitoring cube's data types are all Zarr v3 ones (tests/test_zarr_v3.py)
    mcube = tmp_path / "ref" / "waveforms.zarr"
    assert zarr_v3.arrays(mcube)["event"] == "string" and zarr_v3.unspecified(mcube) == {}

    cfg = _cfg(small_trained, tmp_path / "crash", events="catalog", batch_events=16)
    calls = {"n": 0}
    real = MonitorStore.commit

    def commit_then_die(self, ids):
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch is in the cube and the tables, not committed
            raise RuntimeError("killed")
        return real(self, ids)

    monkeypatch.setattr(MonitorStore, "commit", commit_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        Monitor(cfg, small_trained.run).poll()
    cube = xr.open_zarr(tmp_path / "crash" / "waveforms.zarr", consolidated=False)
    assert cube.sizes["event"] == 32  # two batches appended, one committed
    monkeypatch.setattr(MonitorStore, "commit", real)
    again = Monitor(cfg, small_trained.run)
    assert again.mstore.recovered == 16 and again.mstore.state.committed == 16
    assert len(_scores(tmp_path / "crash")) == 16
    again.poll()
    got = _scores(tmp_path / "crash")
    assert got["source_id"].is_unique and set(got["source_id"]) == want
    both = got.merge(ref_scores, on="source_id", suffixes=("", "_ref"))
    np.testing.assert_allclose(both["p_post"], both["p_post_ref"], rtol=0, atol=1e-6)
    cube = xr.open_zarr(tmp_path / "crash" / "waveforms.zarr")
    assert cube.sizes["event"] == len(want) and pd.Index(cube["event"].values).is_unique
    ok = got.loc[got["status"] == "ok"]
    assert ok["post_like"].astype(bool).eq(ok["score"] > 0).all()


def _day_files(root: Path) -> dict[str, list[Path]]:
    days: dict[str, list[Path]] = {}
    for f in sorted(root.rglob("*.D.*")):
        days.setdefault(f.name[-8:], []).append(f)
    return dict(sorted(days.items()))


def _land(files: list[Path], src: Path, dst: Path) -> None:
    """Copy a day's files into the live archive, each appearing at once (rename)."""
    for f in files:
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target.with_suffix(".part"))
        os.replace(target.with_suffix(".part"), target)


def _start(cfg_path: Path, run: str, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "faultprobe.cli", "monitor", str(cfg_path), "--model", run,
           "--interval", "0.3"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT)


def _wait_for(store: Path, ids: set[str], proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if ids <= set(_scores(store)["source_id"]):
            return
        assert proc.poll() is None, "the monitor stopped"
        time.sleep(0.3)
    raise AssertionError(f"{len(ids - set(_scores(store)['source_id']))} events not scored")


@pytest.mark.slow
def test_monitor_follows_a_growing_archive_and_event_service(small_trained, tmp_path):
    from fdsn_loopback import FDSNService

    src = Path(small_trained.cfg.waveforms.sds_root)
    live = tmp_path / "live-sds"
    live.mkdir()
    store = tmp_path / "monitor"
    catalog = read_catalog(small_trained.cfg.catalog).events
    stations = pd.read_parquet(Path(small_trained.store) / "stations.parquet")
    log = tmp_path / "monitor.log"
    with FDSNService(str(live), stations, catalog.iloc[:0]) as svc:
        cfg = _cfg(small_trained, store, str(live), events="fdsn", fdsn_event=svc.url)
        path = tmp_path / "monitor.toml"
        path.write_text(dump_toml(cfg))
        proc = _start(path, small_trained.run, log)
        days = _day_files(src)
        seen = catalog.iloc[:0]
        try:
            for k, (day, files) in enumerate(days.items()):
                todays = catalog[catalog["source_origin_time"].dt.strftime("%Y.%j") == day]
                if k % 2:  # the catalog first, the waveforms later: the events wait
                    svc.events = seen = pd.concat([seen, todays])
                    time.sleep(1.0)
                    _land(files, src, live)
                else:
                    _land(files, src, live)
                    svc.events = seen = pd.concat([seen, todays])
                if k == len(days) // 2:  # a hard kill in the middle of the feed, a restart
                    time.sleep(1.5)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    proc = _start(path, small_trained.run, log)
                if len(seen):
                    done = seen[
                        seen["source_origin_time"]
                        < seen["source_origin_time"].max() - pd.Timedelta(minutes=2)
                    ]
                    _wait_for(store, _expected(cfg, seen) & set(done["source_id"]), proc)
            want = _expected(cfg, catalog)
            _wait_for(store, want, proc)
            time.sleep(1.0)  # one more poll: nothing more comes
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    got = _scores(store)
    assert got["source_id"].is_unique and set(got["source_id"]) == want, log.read_text()[-3000:]
    events = pd.read_parquet(store / "events.parquet")
    assert events["source_id"].is_unique and set(events["source_id"]) == want
    traces = pd.read_parquet(store / "traces.parquet")
    assert len(traces) == len(want) and (traces["status"] == "ok").mean() > 0.9
    cube = xr.open_zarr(store / "waveforms.zarr")
    assert set(map(str, cube["event"].values.tolist())) == want and cube.sizes["event"] == len(want)
    alerts = (
        pd.read_parquet(store / "monitor.parquet") if (store / "monitor.parquet").exists() else None
    )
    if alerts is not None:
        assert alerts["key"].is_unique
    # the same events through `faultprobe predict` on the archive's files
    files = sorted(str(f) for f in live.rglob("IV.NRCA..HH?.D.*"))
    out = tmp_path / "predict.parquet"
    assert main(["predict", small_trained.run, *files, "--events", str(store / "events.parquet"),
                 "--out", str(out)]) == 0  # fmt: skip
    pred = pd.read_parquet(out)
    both = got.merge(pred, on="source_id", suffixes=("", "_predict"))
    both = both[both["status"] == "ok"]
    assert len(both) == (got["status"] == "ok").sum()
    np.testing.assert_allclose(both["p_post"], both["p_post_predict"], rtol=0, atol=1e-6)
