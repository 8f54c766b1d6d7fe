"""The survey file: its [survey] options, its [cluster] and the [[studies]] it lists."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from faultprobe.config import Cluster, ConfigError
from faultprobe.config.base import _Section


class SurveyOptions(_Section):
    """Where the survey's tables go and which grids each study runs."""

    name: str = "survey"
    store: str = Field(description="folder of survey.parquet and transfer.parquet")
    grids: list[str] = Field(default_factory=lambda: ["table1"])
    parallel: int = Field(default=0, ge=0, description="studies driven at once; 0: all")
    transfer: bool = True
    loso: bool = Field(
        default=False, description="leave-one-sequence-out models (trained on all but one)"
    )
    report: bool = Field(default=True, description="report.md and sequences.png")


INIT_PATHS = ("catalog", "quakeml", "inventory", "sds_root", "store")


class StudyEntry(_Section):
    """One study of the survey: its config file, and optionally the `faultprobe init`
    inputs that write it when it does not exist yet (keys of `derive.InitOptions`)."""

    config: str
    init: dict[str, Any] | None = None


class Survey(_Section):
    """A survey file, paths resolved against its folder."""

    survey: SurveyOptions
    cluster: Cluster = Cluster(n_workers=2)
    studies: list[StudyEntry] = Field(min_length=1)
    source: str = ""


def _resolve(path: str, base: Path) -> str:
    return path if "://" in path or Path(path).is_absolute() else str((base / path).resolve())


def load_survey(path: str | Path) -> Survey:
    """Read and validate a survey file; a problem is a `ConfigError` naming file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the survey file ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    base = path.resolve().parent
    try:
        survey = Survey.model_validate({**raw, "source": str(path)})
    except ValidationError as err:
        e = err.errors()[0]
        key = ".".join(str(p) for p in e["loc"])
        raise ConfigError(f"{path}: {key}: {e['msg']} (docs/sequences.md)") from None
    opts = survey.survey.model_copy(update={"store": _resolve(survey.survey.store, base)})
    studies = [
        StudyEntry(
            config=_resolve(s.config, base),
            init=None
            if s.init is None
            else {k: _resolve(v, base) if k in INIT_PATHS else v for k, v in s.init.items()},
        )
        for s in survey.studies
    ]
    return survey.model_copy(update={"survey": opts, "studies": studies})
