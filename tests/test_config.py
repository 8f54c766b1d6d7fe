"""The study config: real values, typed parsing, errors that name file and key."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faultprobe.config import ConfigError, dump_toml, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]


def test_norcia_config_has_the_real_values():
    cfg = load_config(ROOT / "configs" / "norcia2016.toml")
    # Norcia's 07:40:17 is local time (CET); the config holds UTC.
    assert cfg.mainshock.time == datetime(2016, 10, 30, 6, 40, 17, tzinfo=UTC)
    assert (cfg.mainshock.latitude, cfg.mainshock.longitude, cfg.mainshock.magnitude) == (
        42.83,
        13.11,
        6.5,
    )
    shocks = {s.name: s for s in cfg.shocks}
    assert shocks["Visso"].time == datetime(2016, 10, 26, 19, 18, 5, tzinfo=UTC)
    assert shocks["Visso foreshock"].time == datetime(2016, 10, 26, 17, 10, 36, tzinfo=UTC)
    assert shocks["Amatrice"].time == datetime(2016, 8, 24, 1, 36, 32, tzinfo=UTC)
    assert (cfg.fault.strike, cfg.fault.dip) == (155.0, 47.0)
    assert cfg.stations.codes[0] == "IV.NRCA" and len(cfg.stations.codes) == 9
    assert cfg.stations.far == ["IV.SMA1"]
    assert cfg.waveforms.n_samples == 2500
    assert cfg.selection.box.across_strike_km == (-4.0, 15.0)


def test_relative_paths_resolve_against_the_config_folder(tmp_path, norcia_raw):
    sub = tmp_path / "studies"
    sub.mkdir()
    norcia_raw["study"]["store"] = "here/store"
    (sub / "s.toml").write_text(toml_text(norcia_raw))
    cfg = load_config(sub / "s.toml")
    assert cfg.study.store == str(sub / "here" / "store")
    norcia_raw["study"]["store"] = "s3://bucket/study"
    (sub / "s.toml").write_text(toml_text(norcia_raw))
    assert load_config(sub / "s.toml").study.store == "s3://bucket/study"


def test_dump_and_parse_round_trip(norcia_raw):
    cfg = parse_config(norcia_raw)
    again = parse_config(tomllib.loads(dump_toml(cfg)))
    assert again.model_dump() == cfg.model_dump()
    assert again.hash() == cfg.hash()


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (lambda r: r["fault"].update(dipp=40), "fault.dipp", "unknown key"),
        (lambda r: r["fault"].pop("dip"), "fault.dip", "required key is missing"),
        (lambda r: r["fault"].update(dip="steep"), "fault.dip", "number"),
        (
            lambda r: r["mainshock"].update(latitude=142.8),
            "mainshock.latitude",
            "less than or equal to 90",
        ),
        (lambda r: r["stations"].update(codes=["NRCA"]), "stations.codes", "not NET.STA"),
        (
            lambda r: r["selection"].update(max_fault_distance_km=-1),
            "selection.max_fault_distance_km",
            "greater than 0",
        ),
        (lambda r: r["fault"].update(depth_km=[12.0, 0.0]), "fault.depth_km", "low < high"),
        (lambda r: r["catalog"].update(format="excel"), "catalog.format", "tan2021"),
        (lambda r: r["waveforms"].pop("fdsn"), "waveforms", "needs 'fdsn'"),
        (
            lambda r: r["mainshock"].update(time="2015-01-01T00:00:00Z"),
            "(top level)",
            "outside the study window",
        ),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path, norcia_raw, edit, key, words):
    edit(norcia_raw)
    path = tmp_path / "bad.toml"
    path.write_text(toml_text(norcia_raw))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text
    line = next(line for line in text.splitlines() if line.strip().startswith(key))
    assert words in line


def toml_text(raw: dict) -> str:
    """Write a raw table as TOML without validating it (the writer is the config's own)."""
    from faultprobe.config import _toml

    return _toml(raw)


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[study]\nname = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML.*line 2"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml")


def test_naive_times_are_utc_and_dates_allowed(norcia_raw):
    norcia_raw["mainshock"]["time"] = "2016-10-30 06:40:17"
    norcia_raw["study"]["start"] = datetime(2016, 8, 30).date()
    cfg = parse_config(norcia_raw)
    assert cfg.mainshock.time.tzinfo is not None and cfg.mainshock.time.hour == 6
    assert cfg.study.start == datetime(2016, 8, 30, tzinfo=UTC)
