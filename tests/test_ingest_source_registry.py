"""Waveform sources come from the name -> factory registry: a registered one is the source
an ingest fetches through; an unknown name is one line naming the key and the known ones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from faultprobe.config import load_config
from faultprobe.config.stages import IngestSettings
from faultprobe.errors import FaultprobeError
from faultprobe.pipelines.blocks import SOURCES, make_source
from faultprobe.pipelines.ingest import ingest
from faultprobe.pipelines.sources import SDSSource
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


class Recording(SDSSource):
    """The SDS reader under another name, counting the windows asked of it."""

    name = "recording"
    asked: list[int] = []

    def fetch(self, requests):
        Recording.asked.append(sum(len(r.starts_ns) for r in requests))
        return super().fetch(requests)


def _as(cfg, source: str):
    """The config with `[waveforms] source` set past validation (the registry's side)."""
    return cfg.model_copy(update={"waveforms": cfg.waveforms.model_copy(update={"source": source})})


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    study = write_toy_study(str(d))
    return study, load_config(write_toy_config(str(d), study))


def test_a_registered_source_is_the_one_an_ingest_uses(toy, client, monkeypatch):
    study, cfg = toy
    root = cfg.waveforms.sds_root
    monkeypatch.setitem(SOURCES, "recording", lambda job, info: Recording(root))
    Recording.asked.clear()
    summary = ingest(_as(cfg, "recording"), client=client)
    traces = Store(study.store).read_table(TRACES)
    assert set(traces["source"]) == {"recording"}
    got = {(r.source_id, r.station_code): r.status for r in traces.itertuples()}
    assert got == study.expected  # the same windows as through the built-in "sds" source
    assert sum(Recording.asked) >= summary.status_counts["ok"] > 0


def test_an_unknown_source_is_one_line_naming_the_key(toy):
    _, cfg = toy
    job = replace(IngestSettings.of(cfg), waveforms=_as(cfg, "tape").waveforms)
    with pytest.raises(FaultprobeError) as err:
        make_source(job)
    text = str(err.value)
    assert "\n" not in text
    assert "[waveforms] source = 'tape'" in text
    assert all(name in text for name in ("sds", "fdsn", "synthetic", "seisbench"))


PLUGIN = '''
from faultprobe.pipelines.sources import SDSSource


class Tape(SDSSource):
    """The SDS reader under another name: a source another package ships."""

    name = "tape"


def factory(settings, info):
    return Tape(settings.waveforms.sds_root)
'''


def test_a_source_an_installed_package_registers_validates_and_ingests(toy, tmp_path, client):
    """A real entry point: a distribution on sys.path declaring `faultprobe.sources`."""
    import importlib
    import sys

    study, cfg = toy
    (tmp_path / "tapepkg.py").write_text(PLUGIN)
    info = tmp_path / "tapepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tapepkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[faultprobe.sources]\ntape = tapepkg:factory\n")
    raw = cfg.waveforms.model_dump()
    with pytest.raises(ValueError, match="unknown waveform source 'tape'"):
        type(cfg.waveforms).model_validate({**raw, "source": "tape"})
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        w = type(cfg.waveforms).model_validate({**raw, "source": "tape"})
        summary = ingest(cfg.model_copy(update={"waveforms": w}), client=client)
    finally:
        sys.path.remove(str(tmp_path))
    traces = Store(study.store).read_table(TRACES)
    assert set(traces["source"]) == {"tape"}
    got = {(r.source_id, r.station_code): r.status for r in traces.itertuples()}
    assert got == study.expected
    assert summary.status_counts["ok"] > 0
