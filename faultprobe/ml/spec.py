"""What one training run is: a frozen, JSON-serialisable spec whose hash is the run id.

`RunSpec` names everything that changes a result (stations, labelling, split, band, seed,
model and training options), so the diagnostics grid can build specs, hash them into run
folders and skip runs that already exist.  `spec_from_config` turns a study config's
`[train]` section plus command-line choices into one.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from faultprobe.config import StudyConfig, UTCTime
from faultprobe.config.sections import parse_bytes_field
from faultprobe.config.stages import TrainSettings
from faultprobe.ml.errors import ModelError

M = TypeVar("M", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phase(_Frozen):
    """An extra labelled interval (e.g. Visso–Norcia) that becomes its own class."""

    name: str
    start: UTCTime
    end: UTCTime


class Labelling(_Frozen):
    """How events become classes.

    `binary`: pre/post.  `ttf`: N classes, N/2 equal-count time-to-failure bins on each side
    of the mainshock.  Both leave out events inside `phases` (the Visso-Norcia interval) when
    `exclude_phases` is set, as the paper does for its 2/4/8-class models.  `phases`: each
    phase interval one class, the rest split equally pre and post (9 = 4 pre + visso + 4
    post).  `calendar`: fixed bins between `edges`, by default the N consecutive calendar
    months holding the most events.  `false_mainshock` moves the mainshock for the
    wrong-date diagnostic; `shuffle` permutes labels (a null test).
    """

    kind: Literal["binary", "ttf", "phases", "calendar"] = "binary"
    n_classes: int = Field(default=2, ge=2)
    mainshock: UTCTime
    false_mainshock: UTCTime | None = None
    phases: tuple[Phase, ...] = ()
    exclude_phases: bool = True
    edges: tuple[UTCTime, ...] = ()
    shuffle: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Labelling:
        n = self.n_classes
        if self.kind == "binary" and n != 2:
            raise ValueError("binary labelling has 2 classes")
        if self.kind == "ttf" and n % 2:
            raise ValueError(f"ttf labelling needs an even number of classes, got {n}")
        if self.kind == "phases":
            if not self.phases:
                raise ValueError("phases labelling needs at least one [[phases]] interval")
            if (n - len(self.phases)) < 2 or (n - len(self.phases)) % 2:
                raise ValueError(
                    f"{n} classes minus {len(self.phases)} phase(s) must be even and >= 2"
                )
        return self

    @property
    def reference_time(self) -> datetime:
        """The mainshock time the labels are drawn against (false one if given)."""
        return self.false_mainshock or self.mainshock


class Split(_Frozen):
    """Train/validation/test split by event (never by trace); faultprobe.ml.splits."""

    kind: Literal["temporal", "spread", "blocked"] = "temporal"
    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)
    purge_s: float = Field(default=0.0, ge=0)
    blocks: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if min(self.fractions) <= 0 or abs(sum(self.fractions) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be positive and sum to 1: {self.fractions}")
        return self


class Model(_Frozen):
    """The paper's CNN and its two knobs."""

    width: float = Field(default=1.0, gt=0)
    dilation: int = Field(default=2, ge=1)
    dropout: float = Field(default=0.2, ge=0, lt=1)


class Training(_Frozen):
    """Optimiser and loop options."""

    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=32, ge=2)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    patience: int = Field(default=10, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    threads: int = Field(default=0, ge=0, description="torch threads; 0: auto (trainer)")
    memory_budget: int | None = Field(
        default=None, gt=0, description="bytes; a larger station slice streams from the cube"
    )


class RunSpec(_Frozen):
    """One training run; `run_id` is a readable prefix plus a hash of the content."""

    stations: tuple[str, ...] = Field(min_length=1)
    labelling: Labelling
    split: Split = Split()
    balance: bool = True
    balance_test: bool = Field(
        default=True,
        description="False: only training and validation events are subsampled to equal "
        "class counts and the test split keeps every event (wrong-date runs: test events in "
        "proportion to any interval's events, scored against the true labels)",
    )
    window_s: tuple[float, float] | None = None
    band_hz: tuple[float, float] | None = None
    seed: int = 1
    model: Model = Model()
    training: Training = Training()
    match_caliper: float | None = Field(
        default=None,
        gt=0,
        description="binary runs: train, validation and test events each matched pre-to-post "
        "on magnitude, P travel time and depth within this many standard deviations "
        "(faultprobe.ml.matching; the matched control)",
    )
    size_reference: float | None = Field(
        default=None,
        gt=0,
        description="binary runs: train and validation events drawn at random, per class, "
        "from this run's own parts to the sizes of the matched run with this caliper; the "
        "test part kept whole (faultprobe.ml.matching; the size reference of the matched "
        "control)",
    )
    name: str = Field(default="", description="free tag, part of the run id")

    @model_validator(mode="after")
    def _one_restriction(self) -> RunSpec:
        if self.match_caliper is not None and self.size_reference is not None:
            raise ValueError("a run is matched (match_caliper) or a size reference, not both")
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.model_validate_json(text)

    @property
    def run_id(self) -> str:
        """Stable id: `NRCA-ttf4-s1-<hash>`; where it runs (device, threads) does not enter
        the hash."""
        content = self.model_dump(mode="json")
        content["training"].pop("device")
        content["training"].pop("threads")
        if content["training"].get("memory_budget") is None:  # ids from before streaming
            content["training"].pop("memory_budget", None)
        if content.get("match_caliper") is None:  # ids from before the matched control
            content.pop("match_caliper", None)
        if content.get("size_reference") is None:  # ids from before the size reference
            content.pop("size_reference", None)
        blob = json.dumps(content, sort_keys=True).encode()
        digest = hashlib.sha256(blob).hexdigest()[:10]
        sta = "+".join(s.split(".")[-1] for s in self.stations)
        tag = f"{self.labelling.kind}{self.labelling.n_classes}"
        name = f"-{self.name}" if self.name else ""
        return re.sub(r"[^A-Za-z0-9_+.-]", "_", f"{sta}-{tag}{name}-s{self.seed}-{digest}")


def validated(model: type[M], data: dict) -> M:
    """`model.model_validate(data)`; a choice it rejects is a `ModelError` saying which."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ModelError(_one_line(err)) from None


def _one_line(err: ValidationError) -> str:
    """The run options a `ValidationError` rejects, on one line."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{key}: {msg}" if key else msg)
    return "run options: " + "; ".join(parts) + " (check the options given and [train])"


def spec_from_config(
    cfg: TrainSettings | StudyConfig,
    *,
    stations: list[str] | None = None,
    classes: int | None = None,
    labelling: str | None = None,
    seed: int | None = None,
    false_mainshock: datetime | None = None,
    **overrides: object,
) -> RunSpec:
    """A `RunSpec` from the config's `[train]` section and explicit choices (`cfg`: the
    run settings of a stage, or the whole study, which has the same names).

    An odd class count with `ttf` labelling and phases in the config means the phases
    labelling (the paper's 9 classes); 2 classes with `ttf` is the binary labelling.
    """
    t = cfg.train
    n = classes or t.classes
    kind = labelling or t.labelling
    if kind == "ttf" and n % 2 and cfg.phases:
        kind = "phases"
    if kind == "ttf" and n == 2:
        kind = "binary"
    try:
        spec = _spec(cfg, stations, n, kind, seed, false_mainshock)
    except ValidationError as err:
        raise ModelError(_one_line(err)) from None
    if not overrides:
        return spec
    return validated(RunSpec, {**spec.model_dump(), **overrides})


def _spec(cfg: TrainSettings, stations, n: int, kind: str, seed, false_mainshock) -> RunSpec:
    """The spec of `spec_from_config`, before its overrides (pydantic checks it)."""
    t = cfg.train
    lab = Labelling(
        kind=kind,
        n_classes=n,
        mainshock=cfg.mainshock.time,
        false_mainshock=false_mainshock,
        phases=tuple(Phase(name=p.name, start=p.start, end=p.end) for p in cfg.phases),
        exclude_phases=t.exclude_phases,
        edges=tuple(t.calendar_edges),
    )
    return RunSpec(
        stations=tuple(stations or t.stations or [cfg.stations.codes[0]]),
        labelling=lab,
        split=Split(kind=t.split, fractions=t.fractions, purge_s=t.purge_s, blocks=t.blocks),
        balance=t.balance,
        window_s=t.window_s,
        band_hz=t.band_hz,
        seed=t.seeds[0] if seed is None else seed,
        model=Model(width=t.width, dilation=t.dilation, dropout=t.dropout),
        training=Training(
            epochs=t.epochs,
            batch_size=t.batch_size,
            lr=t.lr,
            weight_decay=t.weight_decay,
            patience=t.patience,
            device=t.device,
            precision=t.precision,
            threads=t.threads,
            memory_budget=parse_bytes_field(t.memory_budget, "memory_budget")
            if t.memory_budget
            else None,
        ),
    )
