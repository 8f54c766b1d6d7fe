"""The simulator writes files every reader understands, identically on every run."""

from __future__ import annotations

import filecmp
import tomllib
from pathlib import Path

import numpy as np
import pytest
from obspy import UTCDateTime, read, read_events, read_inventory
from obspy.clients.filesystem.sds import Client

from faultprobe.catalogs.readers import read_tan2021
from faultprobe.cli import main
from faultprobe.config import dump_toml
from faultprobe.synthetic.archive import SyntheticArchive
from faultprobe.synthetic.run import synthesize
from faultprobe.testing.studies import small_study


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    cfg = small_study(folder)
    summary = synthesize(cfg, parallel=False)
    return cfg, summary, Path(cfg.synthetic.output)


def _key(st):
    return sorted((tr.id, tr.stats.starttime.ns, tr.stats.npts, tr.data.tobytes()) for tr in st)


def test_every_miniseed_file_reads_as_steim2_int32_in_sds_layout(written):
    cfg, summary, out = written
    files = sorted((out / "sds").rglob("*.D.*"))
    assert len(files) == summary.sds_files > 0
    for f in files:
        year, net, sta, chan_d = f.parts[-5:-1]
        st = read(str(f), format="MSEED", details=True)
        assert len(st) > 0
        for tr in st:
            assert tr.data.dtype == np.int32
            assert tr.stats.mseed.encoding == "STEIM2"
            assert (tr.stats.network, tr.stats.station) == (net, sta)
            assert f"{tr.stats.channel}.D" == chan_d
            assert (
                f.name
                == f"{net}.{sta}..{tr.stats.channel}.D.{year}.{tr.stats.starttime.julday:03d}"
            )
            rate = 125.0 if sta == "T1212" else 100.0
            assert tr.stats.sampling_rate == rate


def test_inventory_quakeml_and_tan_catalog_read_back(written):
    cfg, summary, out = written
    inv = read_inventory(str(out / "stations.xml"))
    chans = {c.split(".", 1)[1]: c for c in inv.get_contents()["channels"]}
    assert set(chans) == {
        f"{s}..{b}{c}" for s, b in [("NRCA", "HH"), ("T1212", "EH"), ("SMA1", "EH")] for c in "ENZ"
    }
    resp = inv.get_response("8P.T1212..EHZ", UTCDateTime(cfg.mainshock.time))
    assert resp.instrument_sensitivity.value == pytest.approx(2.51652e8)
    assert inv.select(station="T1212")[0][0][0].sample_rate == 125.0

    archive = SyntheticArchive(cfg)
    catalog = archive.catalog()
    assert len(read_events(str(out / "catalog.xml"))) == len(catalog) == summary.events

    got = read_tan2021(out / "catalog.txt", magnitude="mw")
    frame = got.events if hasattr(got, "events") else got[0]
    assert len(frame) == len(catalog)
    assert sorted(frame["source_id"].astype(str)) == sorted(catalog["source_id"])


def test_get_waveforms_equals_the_sds_client(written):
    cfg, _, out = written
    archive = SyntheticArchive(cfg)
    client = Client(str(out / "sds"))
    ev = archive.events
    windows = [
        (UTCDateTime(ns=int(t.value)) - 5, UTCDateTime(ns=int(t.value)) + 20)
        for t in ev["source_origin_time"].iloc[:: max(1, len(ev) // 12)]
    ]
    midnight = UTCDateTime("2016-10-30T00:00:00")
    windows += [(midnight - 30, midnight + 30), (midnight - 3600, midnight + 3600)]
    windows += [(UTCDateTime("2016-10-27T00:00:00"), UTCDateTime("2016-10-27T01:00:00"))]
    n_traces = 0
    for t0, t1 in windows:
        for net, sta, cha in [("IV", "NRCA", "HH?"), ("8P", "T1212", "EH*"), ("IV", "SMA1", "EHZ")]:
            mine = archive.get_waveforms(net, sta, "*", cha, t0, t1)
            theirs = client.get_waveforms(net, sta, "*", cha, t0, t1)
            assert _key(mine) == _key(theirs), (net, sta, t0)
            n_traces += len(mine)
    assert n_traces > 30
    # outside the archive: nothing, like the SDS client
    far = UTCDateTime("2016-10-26T00:00:00")
    assert len(archive.get_waveforms("IV", "NRCA", "", "HHZ", far, far + 60)) == 0
    # a span that crosses midnight comes back whole from the day files
    whole = archive.get_waveforms("IV", "NRCA", "", "HHZ", midnight - 30, midnight + 30)
    assert any(tr.stats.starttime < midnight < tr.stats.endtime for tr in whole)


def test_a_window_holds_only_its_own_samples(written):
    """A window cut from a long span (records overlapping after a mainshock) keeps only
    its samples alive, not the span: a 256-event block of a dense hour took 14 GiB when
    every window held its span."""
    cfg, _, _ = written
    archive = SyntheticArchive(cfg)
    plan = archive.plan(0)
    s = plan.station
    k = int(np.argmax(plan.span_end - plan.span_start))  # the longest span
    n = int(plan.span_end[k] - plan.span_start[k])
    assert n > 4 * 10 * s.sampling_rate
    t0 = UTCDateTime(ns=(int(plan.span_start[k]) + n // 2) * plan.step_ns)
    st = archive.get_waveforms(s.network, s.station, "", "*", t0, t0 + 10)
    assert len(st) == 3
    for tr in st:
        held = tr.data.base if tr.data.base is not None else tr.data
        assert held.nbytes <= 3 * (10 * s.sampling_rate + 8) * 4


def test_same_config_same_bytes_through_cli_and_dask(written, tmp_path):
    cfg, _, out = written
    table = tomllib.loads(dump_toml(cfg))
    table["synthetic"]["output"] = str(tmp_path / "again")
    path = tmp_path / "study.toml"
    from faultprobe.config import _toml

    path.write_text(_toml(table))
    assert main(["synth", str(path), "-q"]) == 0  # Dask tasks, as users run it
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(
        p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file()
    )
    assert first == second
    for rel in first:
        assert filecmp.cmp(out / rel, tmp_path / "again" / rel, shallow=False), rel
