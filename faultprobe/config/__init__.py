"""Study configuration: one TOML file parsed once into typed, validated, frozen objects.

Every part of faultprobe takes the pieces of a `StudyConfig` it needs; nothing reads the
TOML again.  A wrong key, type or value raises `ConfigError` naming the file, the dotted
key and what was expected.  Relative paths are resolved against the config file's folder;
`s3://…` and other URLs are kept as they are.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from faultprobe.config.base import ConfigError, UTCTime, _Section
from faultprobe.config.sections import (
    DATASET_SOURCES,
    Adapt,
    Box,
    CatalogFormat,
    CatalogSource,
    Cluster,
    CsvColumns,
    Fault,
    JobQueue,
    Kubernetes,
    PhaseInterval,
    Selection,
    Shock,
    Stations,
    StudyInfo,
    Waveforms,
)
from faultprobe.config.synthetic import (
    CompositionChange,
    FaultZoneEffect,
    NoiseChange,
    OmoriSequence,
    StationChange,
    Synthetic,
    SyntheticRegion,
    SyntheticStation,
)
from faultprobe.config.tracking import Monitor, Track
from faultprobe.config.training import (
    BandsGrid,
    ControlsGrid,
    Experiments,
    FalseDatesGrid,
    NullGrid,
    NullRegion,
    PairsAnalysis,
    SeasonalityGrid,
    Table1Grid,
    Train,
)


class StudyConfig(_Section):
    """A whole study: what the TOML file describes."""

    study: StudyInfo
    mainshock: Shock
    shocks: list[Shock] = Field(default_factory=list, description="other large events")
    phases: list[PhaseInterval] = Field(default_factory=list)
    fault: Fault
    catalog: CatalogSource
    selection: Selection = Selection()
    stations: Stations
    waveforms: Waveforms
    cluster: Cluster = Cluster()
    # Sections filled by later stages; kept as plain tables until their stage types them.
    synthetic: Synthetic = Synthetic()
    train: Train = Train()
    experiments: Experiments = Experiments()
    track: Track = Track()
    monitor: Monitor = Monitor()

    source_path: str | None = Field(default=None, exclude=True)
    given_sections: tuple[str, ...] = Field(
        default=(), exclude=True, description="the top-level tables the file had"
    )

    @model_validator(mode="after")
    def _station_metadata(self) -> StudyConfig:
        s = self.stations
        if s.inventory is None and s.fdsn is None and self.waveforms.source not in DATASET_SOURCES:
            raise ValueError(
                "stations: give 'inventory' (StationXML file) or 'fdsn' (service); only a "
                "dataset waveform source (seisbench, laurenti2024) brings its own"
            )
        return self

    @model_validator(mode="after")
    def _picks_from_quakeml(self) -> StudyConfig:
        if self.waveforms.p_arrival == "picks" and self.catalog.format != "quakeml":
            raise ValueError(
                f"waveforms.p_arrival = 'picks' takes the P picks of a QuakeML catalog, but "
                f"catalog.format is {self.catalog.format!r}, which has none: give a QuakeML "
                "catalog with picks, or set p_arrival = 'model'"
            )
        return self

    @model_validator(mode="after")
    def _mainshock_in_window(self) -> StudyConfig:
        if not self.study.start <= self.mainshock.time <= self.study.end:
            raise ValueError(
                f"mainshock time {self.mainshock.time} is outside the study window "
                f"[{self.study.start}, {self.study.end}]"
            )
        return self

    def hash(self) -> str:
        """A short, stable hash of the config content (paths included)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _is_url(path: str) -> bool:
    return "://" in path


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or _is_url(path):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make every file path in the raw table absolute against the config's folder."""
    wanted = {
        ("study", "store"),
        ("catalog", "path"),
        ("stations", "inventory"),
        ("waveforms", "sds_root"),
        ("waveforms", "cache"),
        ("waveforms", "dataset"),
        ("waveforms", "eida_token"),
        ("synthetic", "output"),
        ("monitor", "store"),
    }
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for section, key in wanted:
        table = out.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = _resolve(table[key], base)
    return out


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid study config"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and section)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        got = e.get("input")
        shown = "" if e["type"] in {"missing"} or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def parse_config(
    raw: dict[str, Any], source: str = "<config>", base: Path | None = None
) -> StudyConfig:
    """Validate a TOML table into a `StudyConfig`; errors name `source` and the key.

    Relative paths (given or defaulted) are resolved against `base` (the config's folder).
    """
    base = base or Path.cwd()
    try:
        cfg = StudyConfig.model_validate(raw)
        cfg = StudyConfig.model_validate(_resolve_paths(cfg.model_dump(), base))
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None
    return cfg.model_copy(update={"source_path": source, "given_sections": tuple(raw)})


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse_config(raw, source=str(path), base=path.resolve().parent)


def dump_toml(cfg: StudyConfig) -> str:
    """Serialise a config back to TOML (the frozen copy written into the store)."""
    return _toml(cfg.model_dump(mode="python", exclude_none=True))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items())
            + " }"
        )
    return json.dumps(str(v))


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer: scalars first, then sub-tables and arrays of tables."""
    scalars, tables, arrays = [], [], []
    for k, v in table.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            scalars.append(f"{k} = {_toml_value(v)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for k, v in tables:
        name = f"{prefix}{k}"
        out += f"\n[{name}]\n" + _toml(v, prefix=name + ".")
    for k, items in arrays:
        name = f"{prefix}{k}"
        for item in items:
            out += f"\n[[{name}]]\n" + _toml(item, prefix=name + ".")
    return out


__all__ = [
    "Adapt",
    "BandsGrid",
    "Box",
    "CatalogFormat",
    "CatalogSource",
    "Cluster",
    "CompositionChange",
    "ConfigError",
    "CsvColumns",
    "DATASET_SOURCES",
    "Experiments",
    "FalseDatesGrid",
    "Fault",
    "FaultZoneEffect",
    "JobQueue",
    "Monitor",
    "Kubernetes",
    "NoiseChange",
    "NullGrid",
    "NullRegion",
    "OmoriSequence",
    "ControlsGrid",
    "PairsAnalysis",
    "PhaseInterval",
    "SeasonalityGrid",
    "Selection",
    "Shock",
    "StationChange",
    "Stations",
    "StudyConfig",
    "StudyInfo",
    "Synthetic",
    "SyntheticRegion",
    "SyntheticStation",
    "Table1Grid",
    "Track",
    "Train",
    "UTCTime",
    "Waveforms",
    "dump_toml",
    "load_config",
    "parse_config",
]
