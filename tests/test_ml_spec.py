"""Run specs: built from the [train] section, JSON round trip, stable run ids."""

from __future__ import annotations

import pytest

from faultprobe.config import ConfigError, parse_config
from faultprobe.ml.spec import RunSpec, spec_from_config


@pytest.fixture
def cfg(norcia_raw):
    norcia_raw["train"] = {"epochs": 5, "width": 0.5, "stations": ["IV.FDMO"], "seeds": [7, 8]}
    return parse_config(norcia_raw)


def test_train_section_defaults_are_the_papers(norcia_raw):
    t = parse_config(norcia_raw).train
    assert (t.batch_size, t.lr, t.weight_decay, t.dropout) == (32, 1e-3, 1e-3, 0.2)
    assert t.fractions == (0.7, 0.2, 0.1) and t.split == "temporal" and t.balance
    assert t.device == "auto" and t.precision == "auto"


def test_train_section_errors_name_the_key(norcia_raw):
    norcia_raw["train"] = {"fractions": [0.5, 0.2, 0.1]}
    with pytest.raises(ConfigError, match="train.fractions"):
        parse_config(norcia_raw)
    norcia_raw["train"] = {"epoch": 3}
    with pytest.raises(ConfigError, match="train.epoch"):
        parse_config(norcia_raw)


def test_spec_from_config_follows_the_section_and_the_paper(cfg):
    s = spec_from_config(cfg)
    assert s.stations == ("IV.FDMO",) and s.seed == 7 and s.training.epochs == 5
    assert s.labelling.kind == "binary" and s.model.width == 0.5
    assert s.labelling.mainshock == cfg.mainshock.time
    nine = spec_from_config(cfg, classes=9)
    assert nine.labelling.kind == "phases" and nine.labelling.phases[0].name == "visso"
    four = spec_from_config(cfg, classes=4, stations=["NRCA"], seed=2)
    assert four.labelling.kind == "ttf" and four.stations == ("NRCA",) and four.seed == 2


def test_run_id_is_stable_readable_and_content_addressed(cfg):
    a = spec_from_config(cfg, classes=4, stations=["IV.NRCA"], seed=1)
    b = RunSpec.from_json(a.to_json())
    assert a == b and a.run_id == b.run_id and hash(a) == hash(b)
    assert a.run_id.startswith("NRCA-ttf4-s1-")
    c = spec_from_config(cfg, classes=4, stations=["IV.NRCA"], seed=1, false_mainshock="2016-10-16")
    assert c.run_id != a.run_id
    # where a run trains does not change what it is
    d = RunSpec.model_validate(
        {**a.model_dump(), "training": {**a.training.model_dump(), "device": "cuda"}}
    )
    assert d.run_id == a.run_id
