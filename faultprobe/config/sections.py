"""The study's own sections: window, shocks, fault, catalog, selection, stations, waveforms, cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from faultprobe.config.base import UTCTime, _Section
from faultprobe.config.limits import Limits


class StudyInfo(_Section):
    """Name, store and time window of the study."""

    name: str
    store: str = Field(description="study store folder: local path or s3://bucket/prefix")
    start: UTCTime
    end: UTCTime
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> StudyInfo:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Shock(_Section):
    """A large earthquake of the sequence (times in UTC)."""

    name: str
    time: UTCTime
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    depth_km: float = Field(ge=0, le=700)
    magnitude: float


class PhaseInterval(_Section):
    """An extra labelled interval, e.g. `visso` between Visso and Norcia."""

    name: str
    start: UTCTime
    end: UTCTime

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in {"pre", "post"}:
            raise ValueError("'pre' and 'post' are reserved phase names")
        return v


class Fault(_Section):
    """A rectangular fault segment on the plane through the mainshock hypocenter.

    `along_strike_km` is measured from the hypocenter along the strike direction, the
    depth range bounds the segment down dip (top may be 0: the fault reaches the surface).
    """

    strike: float = Field(ge=0, le=360)
    dip: float = Field(gt=0, le=90)
    rake: float = -90.0
    along_strike_km: tuple[float, float] = (-15.0, 15.0)
    depth_km: tuple[float, float] = (0.0, 12.0)

    @field_validator("along_strike_km", "depth_km")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[1] <= v[0]:
            raise ValueError(f"expected [low, high] with low < high, got {list(v)}")
        return v


class Box(_Section):
    """The study box in the fault frame, relative to the mainshock epicenter (km).

    `across_strike_km` is horizontal, perpendicular to strike, positive toward
    strike - 90° (NE for a fault striking 155°): the paper's 15 km NE / 4 km SW is
    [-4, 15].
    """

    along_strike_km: tuple[float, float] = (-20.0, 20.0)
    across_strike_km: tuple[float, float] = (-4.0, 15.0)


class CsvColumns(_Section):
    """Column mapping for CSV catalogs: faultprobe name → name in the file."""

    time: str | None = "time"
    year: str | None = None
    month: str | None = None
    day: str | None = None
    hour: str | None = None
    minute: str | None = None
    second: str | None = None
    latitude: str = "latitude"
    longitude: str = "longitude"
    depth_km: str = "depth"
    magnitude: str = "magnitude"
    magnitude_type: str | None = None
    event_id: str | None = None


CatalogFormat = Literal["tan2021", "quakeml", "fdsn_text", "csv", "seisbench", "laurenti2024"]
#: Waveform sources that are machine-learning datasets (metadata + HDF5); their metadata
#: also gives the catalog and the station coordinates.
DATASET_SOURCES = ("seisbench", "laurenti2024")


class CatalogSource(_Section):
    """Where the earthquake catalog is read from.

    `seisbench` and `laurenti2024` read the events from a dataset folder's metadata (the
    folder is `path`; see docs/datasets.md).
    """

    path: str
    format: CatalogFormat = "tan2021"
    magnitude: Literal["mw", "ml", "best"] = Field(
        default="mw",
        description="magnitude column used for selection; 'best' is Mw where present, else ML",
    )
    columns: CsvColumns = CsvColumns()
    delimiter: str = ","
    origin: str | None = Field(
        default=None, description="where the file comes from (said when it is missing)"
    )


class Selection(_Section):
    """Rules that pick the study's events from the full catalog.

    `mode = "paper"` applies every rule below (Laurenti et al. 2024); `"analyst"` keeps
    every catalog event inside the study window (no magnitude, depth, box, fault-distance
    or isolation rule), for a cube of the whole catalog.
    """

    mode: Literal["paper", "analyst"] = "paper"
    max_fault_distance_km: float = Field(default=3.0, gt=0)
    min_depth_km: float = 2.0
    min_magnitude: float = 0.5
    box: Box = Box()
    isolation: Literal["travel_time", "origin_time"] = Field(
        default="travel_time",
        description="travel_time: another event's waves (P to S + isolation_coda_s) at a "
        "station inside [P - before, P + after] drop an event; origin_time: another origin "
        "inside [origin - before, origin + after] does (docs/catalog.md)",
    )
    isolation_before_s: float = Field(
        default=5.0, ge=0, description="the isolation window's start before the P (or origin)"
    )
    isolation_after_s: float = Field(
        default=25.0,
        ge=0,
        description="the isolation window's end after the P (or origin): the 20 s waveform "
        "window and 5 s to spare (or the P time)",
    )
    isolation_coda_s: float = Field(
        default=0.0, ge=0, description="how long another event's waves last after its S"
    )
    isolation_amplitude_ratio: float | None = Field(
        default=None,
        gt=0,
        description="travel_time only: another event's waves count at a station only when "
        "their predicted amplitude there is at least 1/ratio of a min_magnitude event's at "
        "the mainshock hypocenter (unset: every event counts; docs/catalog.md)",
    )


class Stations(_Section):
    """Stations of the study, as NET.STA codes, and where their metadata is found."""

    codes: list[str]
    far: list[str] = Field(default_factory=list, description="far control stations")
    inventory: str | None = Field(default=None, description="StationXML file")
    fdsn: str | None = Field(default=None, description="FDSN station service (name or URL)")
    channel_priority: list[str] = Field(default_factory=lambda: ["HH?", "EH?", "HN?"])
    network_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="other network codes a station's data may carry, e.g. 8P = ['IV']",
    )

    @field_validator("codes", "far")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            parts = code.split(".")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"station code {code!r} is not NET.STA")
        return v

    @property
    def all_codes(self) -> list[str]:
        return list(dict.fromkeys([*self.codes, *self.far]))


class Waveforms(_Section):
    """Where waveforms come from and how the study window is cut."""

    source: str = Field(
        default="sds",
        description="sds, fdsn, synthetic, seisbench, laurenti2024, or a source an "
        "installed package registers (the 'faultprobe.sources' entry points, docs/ingest.md)",
    )
    sds_root: str | None = None
    dataset: str | None = Field(
        default=None, description="dataset folder for the 'seisbench' and 'laurenti2024' sources"
    )
    p_arrival: Literal["model", "dataset", "picks"] = Field(
        default="model",
        description="window around the theoretical P of velocity_model, the P arrival a "
        "dataset source gives for its traces, or the analyst's P pick of a QuakeML catalog "
        "at the station (picks; the model where there is none, docs/ingest.md)",
    )
    fdsn: str | None = Field(default=None, description="FDSN dataselect service (name or URL)")
    cache: str | None = Field(default=None, description="SDS cache for fetched miniSEED")
    eida_token: str | None = Field(default=None, description="path to an EIDA token file")
    max_requests_per_second: float | None = Field(
        default=None, gt=0, description="FDSN requests per second (unset: the preset's, or 4)"
    )
    max_concurrent_requests: int | None = Field(
        default=None, ge=1, description="FDSN requests in flight (unset: the preset's, or 2)"
    )
    sampling_rate: float = Field(default=100.0, gt=0)
    window_s: tuple[float, float] = (-5.0, 20.0)
    velocity_model: str = Field(
        default="carannante2013",
        description="carannante2013 or iasp91 (shipped), or one of ObsPy's TauPy models",
    )
    block_size: int = Field(default=256, ge=1, description="events per task and chunk")
    max_gap_s: float = Field(default=0.1, ge=0, description="gaps up to this are filled")
    remove_response: bool = False
    bandpass_hz: tuple[float, float] | None = None
    detrend: Literal["none", "demean", "linear"] = Field(
        default="none", description="stored data: raw counts ('none', as the paper) or detrended"
    )
    pad_s: float = Field(default=2.0, ge=0, description="extra data each side for resampling")
    codec: str = Field(default="auto", description="'auto' (measured on a sample) or a name")
    request_timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, description="tries of one request before split")
    retry_backoff_s: float = Field(default=1.0, ge=0, description="first back-off, doubles")
    max_bulk_items: int = Field(default=200, ge=1, description="windows per bulk request")
    breaker_failures: int = Field(
        default=8,
        ge=1,
        description="service failures in a row after which a data centre is not asked again "
        "in this run (its windows are left for the next run)",
    )
    clip_counts: float = Field(default=8_388_000.0, gt=0, description="|counts| taken as clipped")
    clip_run: int = Field(default=5, ge=2, description="flat samples at the peak = clipped")
    limits: Limits = Field(
        default_factory=Limits, description="the data centre's request limits (docs/ingest.md)"
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        from faultprobe.plugins import SOURCE_GROUP, source_names

        known = source_names()
        if v not in known:
            raise ValueError(
                f"unknown waveform source {v!r}; accepted: {', '.join(known)} (or install a "
                f"package that registers it under the {SOURCE_GROUP!r} entry points)"
            )
        return v

    @field_validator("velocity_model")
    @classmethod
    def _velocity_model(cls, v: str) -> str:
        from faultprobe.earth import velocity_models

        known = velocity_models()
        if v not in known:
            raise ValueError(f"unknown velocity model {v!r}; accepted: {', '.join(known)}")
        return v

    @model_validator(mode="after")
    def _source(self) -> Waveforms:
        if self.source == "sds" and not self.sds_root:
            raise ValueError("source 'sds' needs 'sds_root'")
        if self.source == "fdsn" and not self.fdsn:
            raise ValueError("source 'fdsn' needs 'fdsn' (service name or URL)")
        if self.source in DATASET_SOURCES and not self.dataset:
            raise ValueError(f"source {self.source!r} needs 'dataset' (the dataset folder)")
        if self.window_s[1] <= self.window_s[0]:
            raise ValueError("window_s must be [before, after] with before < after")
        return self

    @property
    def n_samples(self) -> int:
        return int(round((self.window_s[1] - self.window_s[0]) * self.sampling_rate))


class JobQueue(_Section):
    """Batch-system workers (dask-jobqueue): what one job asks the scheduler for."""

    cores: int = Field(default=8, ge=1, description="cores per job")
    memory: str = Field(default="32GB", description="memory per job")
    walltime: str = "02:00:00"
    queue: str | None = Field(default=None, description="partition (SLURM) or queue (PBS)")
    account: str | None = None
    jobs: int = Field(default=1, ge=0, description="fixed number of jobs (without [cluster.adapt])")
    processes: int = Field(default=1, ge=1, description="worker processes per job")
    job_name: str = "faultprobe"
    job_extra_directives: list[str] = Field(
        default_factory=list, description="extra #SBATCH/#PBS lines, e.g. '--gres=gpu:1'"
    )
    prologue: list[str] = Field(
        default_factory=list,
        description="shell lines run before the worker starts (module load, environment)",
    )
    python: str | None = Field(
        default=None, description="the worker's Python (default: the one running faultprobe)"
    )
    interface: str | None = Field(
        default=None, description="network interface of workers and scheduler, e.g. 'ib0'"
    )
    local_directory: str | None = Field(default=None, description="worker scratch folder")
    log_directory: str | None = Field(default=None, description="folder for the job logs")


class Adapt(_Section):
    """Adaptive scaling: jobs (SLURM, PBS) or workers (local, Kubernetes) come and go."""

    minimum: int = Field(default=0, ge=0)
    maximum: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Adapt:
        if self.maximum < self.minimum:
            raise ValueError(f"maximum ({self.maximum}) is below minimum ({self.minimum})")
        return self


class Kubernetes(_Section):
    """A Dask cluster on Kubernetes through the dask-kubernetes operator (DaskCluster).

    Object-store credentials are never written here: `credentials_secret` names a
    Kubernetes Secret whose keys (e.g. AWS_ACCESS_KEY_ID) become the pods' environment.
    """

    name: str = Field(default="faultprobe", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    namespace: str | None = None
    image: str = Field(description="container image with faultprobe installed")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    workers: int = Field(default=2, ge=0, description="worker pods (without [cluster.adapt])")
    cpu: str = Field(default="2", description="CPU request (and limit) of a worker pod")
    memory: str = Field(default="8Gi", description="memory request (and limit) of a worker")
    gpu: int = Field(default=0, ge=0, description="nvidia.com/gpu per worker pod")
    scheduler_cpu: str = "1"
    scheduler_memory: str = "2Gi"
    env: dict[str, str] = Field(default_factory=dict, description="plain environment variables")
    credentials_secret: str | None = Field(
        default=None, description="Secret whose keys become environment (object-store keys)"
    )
    service_account: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _no_inline_secrets(cls, v: dict[str, str]) -> dict[str, str]:
        secret = [k for k in v if any(w in k.upper() for w in ("SECRET", "PASSWORD", "TOKEN"))]
        if secret:
            raise ValueError(
                f"{secret[0]} looks like a credential: put it in a Kubernetes Secret and name "
                "that secret in credentials_secret"
            )
        return v


class Cluster(_Section):
    """Where Dask tasks run."""

    kind: Literal["local", "local-cuda", "slurm", "pbs", "kubernetes", "address"] = "local"
    n_workers: int | None = Field(default=None, ge=1, description="default: one per core")
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str = "auto"
    address: str | None = Field(default=None, description="scheduler address for 'address'")
    dashboard: bool = False
    adapt: Adapt | None = Field(default=None, description="adaptive scaling (min/max)")
    worker_resources: dict[str, float] = Field(
        default_factory=dict,
        description="abstract resources each worker declares, e.g. {GPU = 1}: runs then ask "
        "for one GPU each and land one per GPU",
    )
    slice_cache: str = Field(
        default="2GB", description="per-worker cache of station slices for grids ('0' = off)"
    )
    jobqueue: JobQueue = JobQueue()
    kubernetes: Kubernetes | None = None

    @model_validator(mode="after")
    def _address(self) -> Cluster:
        if self.kind == "address" and not self.address:
            raise ValueError("kind 'address' needs 'address' (e.g. tcp://host:8786)")
        if self.kind == "kubernetes" and self.kubernetes is None:
            raise ValueError("kind 'kubernetes' needs a [cluster.kubernetes] section with 'image'")
        parse_bytes_field(self.slice_cache, "slice_cache")
        return self


def parse_bytes_field(text: str, key: str) -> int:
    """Bytes from '2GB', '512MiB' or '0'; a clear error naming the key otherwise."""
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(text))
    except (ValueError, TypeError):
        raise ValueError(f"{key}: {text!r} is not a size such as '2GB' or '512MiB'") from None
