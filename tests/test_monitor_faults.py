"""`faultprobe monitor` through kills, half-written catalogs, revisions and late data.

A monitor process is killed (SIGKILL, by itself, at a named step: faultprobe/monitor/
crashpoints.py) at every step of an append and of a commit, one step per run, and started
again: every event is scored exactly once, the cube opens with every event-axis array the
same length, and the scores are those `faultprobe predict` gives for the same events.  A
live catalog written in two parts across a poll, revised under the same id and empty for
one poll, and waveforms that reach the loopback FDSN service two polls after their events,
are taken as a real-time pipeline feeds them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from obspy import UTCDateTime, read

from faultprobe.catalogs.readers import read_catalog
from faultprobe.cli import main
from faultprobe.config import dump_toml, load_config
from faultprobe.config.stages import MonitorSettings
from faultprobe.monitor import crashpoints, mcube, newevents
from faultprobe.monitor.service import Monitor, run_monitor
from faultprobe.monitor.state import MonitorStore
from faultprobe.pipelines.info import describe

pytestmark = [
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
    pytest.mark.filterwarnings("ignore:Failed to open Zarr store with consolidated metadata"),
]


def _lines(trained) -> tuple[list[str], list[str]]:
    """The study catalog's header and event lines (Tan et al. 2021 layout)."""
    text = Path(trained.cfg.catalog.path).read_text().splitlines(keepends=True)
    head = [t for t in text if t.startswith("#") or not t.strip()]
    return head, [t for t in text if t not in head]


def _cfg(trained, folder: Path, catalog: Path, **monitor):
    cfg = trained.cfg
    mon = cfg.monitor.model_copy(
        update={
            "store": str(folder / "monitor"),
            "start": cfg.study.start,
            "batch_events": 2,
            "events": "catalog",
            **monitor,
        }  # fmt: skip
    )
    cat = cfg.catalog.model_copy(update={"path": str(catalog)})
    return cfg.model_copy(update={"monitor": mon, "catalog": cat})


def _scores(root: Path) -> pd.DataFrame:
    path = root / "predictions.parquet"
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["source_id"])


def _expected(cfg, start) -> set[str]:
    """The events the study's selection keeps that the catalog reaches 25 s past."""
    cat = read_catalog(cfg.catalog).events
    return set(
        newevents.new_events(cat, MonitorSettings.of(cfg), set(), newevents.utc_now(), start)[
            "source_id"
        ]
    )


def _poll_in_child(cfg_path: str, run: str, env: dict) -> None:
    """One poll in a process of its own (started by the forkserver: no threads of the
    test process), with the kill point or trace of `env`."""
    os.environ.update(env)
    Monitor(load_config(cfg_path), run).poll()


def _child(ctx, cfg_path: Path, run: str, **env) -> int:
    proc = ctx.Process(target=_poll_in_child, args=(str(cfg_path), run, env))
    proc.start()
    proc.join(120)
    return proc.exitcode


def _check_cube(root: Path, n: int) -> None:
    """Every event-axis array holds the n committed events; xarray opens the cube."""
    url = str(root / "waveforms.zarr")
    assert set(mcube.lengths(url).values()) == {n}
    group = zarr.open_group(url, mode="r", use_consolidated=False)
    assert set(mcube.event_arrays(group)) >= {"event", "waveform", "status", "origin_time"}
    cube = xr.open_zarr(url)
    assert cube.sizes["event"] == n and pd.Index(cube["event"].values).is_unique
    np.testing.assert_array_equal(cube["event"].values, cube["event_id"].values)


PRELOAD = [  # what a poll imports, loaded once by the forkserver (a child starts in ms)
    "faultprobe.monitor.service",
    "faultprobe.ml.inference",
    "faultprobe.ml.runs",
    "faultprobe.ml.trainer",
    "faultprobe.pipelines.blocks",
    "faultprobe.pipelines.cube",
    "faultprobe.pipelines.inputs",
    "faultprobe.pipelines.plan",
    "faultprobe.pipelines.response",
    "faultprobe.catalogs.selection",
    "test_monitor_faults",
]


def _kill_run(ctx, trained, folder: Path, catalog: Path, point: str, base: Path | None):
    """A monitor (from a copy of `base`, or empty) that kills itself at `point`."""
    cfg = _cfg(trained, folder, catalog)
    folder.mkdir()
    if base is not None:
        shutil.copytree(base, folder / "monitor")
    path = folder / "monitor.toml"
    path.write_text(dump_toml(cfg))
    assert _child(ctx, path, trained.run, **{crashpoints.KILL_AT: point}) == -9, point
    return cfg


def _steps(trace: list[str]) -> list[str]:
    """Each step as NAME:N, the N-th time the run reaches NAME."""
    return [f"{s}:{trace[: i + 1].count(s)}" for i, s in enumerate(trace)]


@pytest.mark.slow
def test_a_kill_at_every_step_of_an_append_and_a_commit_loses_and_repeats_nothing(
    small_trained, tmp_path
):
    head, lines = _lines(small_trained)
    catalog = tmp_path / "catalog.txt"
    ref_cfg = _cfg(small_trained, tmp_path / "ref", catalog)
    for k in range(4, len(lines)):  # the first lines that give 4 events: two batches of 2
        catalog.write_text("".join(head + lines[:k]))
        want = _expected(ref_cfg, ref_cfg.study.start)
        if len(want) >= 4:
            break
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    run_id = Path(small_trained.run).name

    # an uninterrupted run, tracing the steps it passes
    ref_path = tmp_path / "ref.toml"
    ref_path.write_text(dump_toml(ref_cfg))
    trace_file = tmp_path / "trace.txt"
    assert _child(ctx, ref_path, small_trained.run, **{crashpoints.TRACE: str(trace_file)}) == 0
    ref = _scores(tmp_path / "ref" / "monitor")
    assert set(ref["source_id"]) == want and ref["source_id"].is_unique
    trace = trace_file.read_text().split()
    done = [i for i, s in enumerate(trace) if s == "commit.done"]
    assert len(done) == len(want) // 2 == 2  # one commit per batch of 2

    # ... and `faultprobe predict` on the same events from the archive's files
    files = sorted(str(f) for f in Path(ref_cfg.waveforms.sds_root).rglob("IV.NRCA..HH?.D.*"))
    out = tmp_path / "predict.parquet"
    events = str(tmp_path / "ref" / "monitor" / "events.parquet")
    assert main(["predict", small_trained.run, *files, "--events", events, "--out", str(out)]) == 0
    both = ref.merge(pd.read_parquet(out), on="source_id", suffixes=("", "_predict"))
    both = both[both["status"] == "ok"]
    assert len(both) == (ref["status"] == "ok").sum() >= 3
    np.testing.assert_allclose(both["p_post"], both["p_post_predict"], rtol=0, atol=1e-6)

    # the first batch creates the cube: every step of it from an empty store; the second
    # grows it: every step of it from a store where the first is committed (killed right
    # after that commit); the poll's last step
    first = _steps(trace[: done[0] + 1])
    second = _steps(trace[done[0] + 1 : done[1] + 1])
    assert {"append.create:1", "commit.state:1", "poll.pending:1"} <= set(first)
    grows = [p for p in second if p.startswith("append.grow")]
    assert len(grows) >= 10 and {"append.write:1", "append.ids:1"} <= set(second)
    # the arrays are grown one by one and each is cut back on its own: a kill after each
    # grow leaves the first k of them longer (every k is tried, about 2 s each)
    _kill_run(ctx, small_trained, tmp_path / "base", catalog, "commit.done:1", None)
    base = tmp_path / "base" / "monitor"
    assert MonitorStore(str(base), run_id).state.committed == 2
    points = [(p, None) for p in first] + [(p, base) for p in second] + [("poll.save:1", None)]
    for k, (point, start) in enumerate(points):
        folder = tmp_path / f"kill{k}"
        cfg = _kill_run(ctx, small_trained, folder, catalog, point, start)
        root = folder / "monitor"
        said = describe(str(root))  # `faultprobe info`: lines, never a traceback
        assert said.startswith("store ")
        store = MonitorStore(str(root), run_id)  # opening cuts back what was not committed
        n = store.state.committed
        if n:
            _check_cube(root, n)
        assert len(_scores(root)) == n and not set(store.state.pending) & store.committed_ids()
        Monitor(cfg, small_trained.run).poll()  # the restart
        got = _scores(root)
        assert got["source_id"].is_unique and set(got["source_id"]) == want, point
        _check_cube(root, len(want))
        ev = pd.read_parquet(root / "events.parquet")
        assert ev["source_id"].is_unique and set(ev["source_id"]) == want
        assert len(pd.read_parquet(root / "traces.parquet")) == len(want)
        state = MonitorStore(str(root), run_id).state
        assert state.committed == len(want) and not state.pending
        m = got.merge(ref, on="source_id", suffixes=("", "_ref"))
        np.testing.assert_allclose(m["p_post"], m["p_post_ref"], rtol=0, atol=1e-6)
        assert (m["status"] == m["status_ref"]).all()

    # a cube out of step (as the old append left it): `faultprobe info` says so in a line,
    # and the next start cuts it back
    root = tmp_path / "ref" / "monitor"
    group = zarr.open_group(str(root / "waveforms.zarr"), mode="r+", use_consolidated=False)
    group["waveform"].resize((len(want) + 3, *group["waveform"].shape[1:]))
    zarr.consolidate_metadata(group.store)
    said = describe(str(root))
    assert "cannot be opened (conflicting sizes" in said and "faultprobe monitor` again" in said
    assert Monitor(ref_cfg, small_trained.run).mstore.recovered == 3
    _check_cube(root, len(want))


def _returned(gen):
    """What a generator returns, after every item it yields."""
    try:
        while True:
            next(gen)
    except StopIteration as done:
        return done.value


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_half_written_revised_empty_catalogs_and_late_fdsn_data(
    small_trained, tmp_path, capsys, caplog
):
    from fdsn_loopback import FDSNService

    head, lines = _lines(small_trained)
    catalog = tmp_path / "catalog.txt"
    # after the study: every event is decided at once (wall clock past the catalog delay)
    now = pd.Timestamp(small_trained.cfg.study.end) + pd.Timedelta(days=1)
    stations = pd.read_parquet(Path(small_trained.store) / "stations.parquet")
    src = Path(small_trained.cfg.waveforms.sds_root)
    live = tmp_path / "live-sds"
    live.mkdir()
    with FDSNService(str(live), stations, read_catalog(small_trained.cfg.catalog).events) as svc:
        w = small_trained.cfg.waveforms.model_copy(
            update={
                "source": "fdsn",
                "fdsn": svc.url,
                "cache": str(tmp_path / "cache"),
                "retry_backoff_s": 0.01,
            }  # fmt: skip
        )
        cfg = _cfg(small_trained, tmp_path, catalog, replay=False, catalog_delay_s=0.0)
        cfg = cfg.model_copy(update={"waveforms": w})
        cfg_path = tmp_path / "monitor.toml"
        cfg_path.write_text(dump_toml(cfg))
        start = cfg.study.start
        for cut in range(12, len(lines)):  # a line whose event the selection keeps
            catalog.write_text("".join(head + lines[: cut + 1]))
            if lines[cut].split()[-1] in _expected(cfg, start):
                break
        catalog.write_text("".join(head + lines[:cut]))
        want = _expected(cfg, start)
        mon = Monitor(cfg, small_trained.run)
        root = tmp_path / "monitor"

        # the events are there, their waveforms not yet: asked at every poll
        first = mon.poll(now)
        assert first.new == len(want) >= 3 and first.scored == 0 and first.waiting == len(want)
        # then the data up to 5 s after the first origin: its window only in part
        origins = read_catalog(cfg.catalog).events.set_index("source_id")["source_origin_time"]
        cut_at = UTCDateTime(origins[sorted(want, key=origins.get)[0]].to_pydatetime()) + 5
        for f in sorted(src.rglob("*.D.*")):
            part = read(str(f)).trim(endtime=cut_at)
            if any(tr.stats.npts for tr in part):
                (live / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                part.write(str(live / f.relative_to(src)), format="MSEED")
        asked = svc.n_dataselect
        second = mon.poll(now)
        assert second.waiting == len(want) and second.scored == 0 and svc.n_dataselect > asked
        for f in sorted(src.rglob("*.D.*")):  # two polls later the data reach the service
            target = live / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
        third = mon.poll(now)
        assert third.scored == len(want) and third.waiting == 0
        got = _scores(root)
        assert set(got["source_id"]) == want and (got["status"] == "ok").all()

        # a line written in two parts across a poll: no phantom event (77777)
        eid = "7777777"
        line = lines[cut].rstrip("\n").rsplit(" ", 1)[0] + " " + eid + "\n"
        with open(catalog, "a") as f:
            f.write(line[:-3])  # the id cut short, no newline
        half = mon.poll(now)
        assert half.catalog == cut and half.new == 0
        with open(catalog, "a") as f:
            f.write(line[-3:])
        whole = mon.poll(now)
        assert whole.catalog == cut + 1 and whole.new == whole.scored == 1
        want_now = _expected(cfg, start)
        assert want_now - want == {eid}
        got = _scores(root)
        assert set(got["source_id"]) == want_now and got["source_id"].is_unique

        # a revision of a scored event under the same id: no crash, no second score
        scored = sorted(want)[0]
        old = next(t for t in lines if t.split()[-1] == scored)
        parts = old.split()
        parts[13] = f"{float(parts[13]) + 0.01:.2f}"  # its magnitude revised
        with open(catalog, "a") as f:
            f.write("  ".join(parts) + "\n")
        rev = mon.poll(now)
        assert rev.revised_scored == [scored] and rev.scored == 0
        assert "not scored again" in rev.render()
        assert len(_scores(root)) == len(want_now)
        assert mon.poll(now).revised_scored == []  # said once

        # the catalog empty for one poll (rewritten in place): a warning, no exit
        text = catalog.read_text()
        catalog.write_text("")
        caplog.set_level(logging.INFO, logger="faultprobe")
        caplog.clear()
        assert _returned(run_monitor(cfg, small_trained.run, once=True)) == 1
        said = [r.getMessage() for r in caplog.records if r.name.startswith("faultprobe")]
        assert any("warning" in s and "empty" in s and str(catalog) in s for s in said)
        capsys.readouterr()
        assert main(["monitor", str(cfg_path), "--model", small_trained.run, "--once"]) == 1
        err = capsys.readouterr().err
        assert "warning:" in err and "read again at the next poll" in err
        assert "Traceback" not in err
        catalog.write_text(text)
        again = Monitor(cfg, small_trained.run).poll(now)
        assert again.scored == 0 and len(_scores(root)) == len(want_now)


def test_the_monitor_starts_after_the_run_s_data_unless_told(small_trained, tmp_path):
    head, lines = _lines(small_trained)
    catalog = tmp_path / "catalog.txt"
    catalog.write_text("".join(head + lines))
    cfg = _cfg(small_trained, tmp_path, catalog, start=None, replay=True)
    runs = pd.read_parquet(Path(small_trained.run) / "predictions.parquet")
    end = pd.Timestamp(runs["source_origin_time"].max()) + pd.Timedelta(milliseconds=1)
    mon = Monitor(cfg, small_trained.run)
    assert mon.start == end
    result = mon.poll()
    got = _scores(tmp_path / "monitor")
    after = _expected(cfg, end)
    assert set(got["source_id"]) == after and result.in_sample == 0
    assert not set(got["source_id"]) & set(runs["source_id"].astype(str))
    assert not got["in_sample"].any()
    # kept in state.json: a restart does not move it
    assert Monitor(cfg, small_trained.run).start == end


def test_a_line_from_events_the_run_saw_says_in_sample():
    from faultprobe.monitor import alerts

    n = 60
    y = np.r_[np.zeros(30), np.ones(30)].astype(bool)
    scores = pd.DataFrame({
        "source_id": [str(i) for i in range(n)],
        "source_origin_time": pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC"),
        "post_like": pd.array(y, dtype="boolean"),
        "in_sample": np.arange(n) < 35,  # the run saw the first 35
    })  # fmt: skip
    index = alerts.index_after_each(scores, 10, 100, 50)
    assert index["in_sample"].to_numpy().tolist() == (np.arange(n) < 35 + 9).tolist()
    lines = alerts.due(index, 0.7, 5.0, 10, "IV.NRCA", None)
    up = lines[lines["kind"] == "threshold_up"].iloc[0]
    assert up["in_sample"] and "(in-sample:" in up["message"]
    later = alerts.index_after_each(scores.assign(in_sample=False), 10, 100, 50)
    clean = alerts.due(later, 0.7, 5.0, 10, "IV.NRCA", None)
    assert not clean["in_sample"].any() and not clean["message"].str.contains("in-sample").any()
