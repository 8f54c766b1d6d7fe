"""`faultprobe synth`: simulate the study's sequence and write it in the real formats."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from faultprobe import progress
from faultprobe.config import Cluster, StudyConfig
from faultprobe.config.stages import SynthWorld
from faultprobe.synthetic.archive import SyntheticArchive
from faultprobe.synthetic.writers import write_quakeml, write_station_sds, write_tan

CATALOG_FILE = "catalog.txt"
QUAKEML_FILE = "catalog.xml"
STATIONXML_FILE = "stations.xml"
SDS_DIR = "sds"
TRUTH_FILE = "truth.parquet"
PATHS_FILE = "paths.parquet"


def output_dir(world: SynthWorld) -> Path:
    """The synthetic output folder (relative paths: against the config's folder)."""
    out = Path(world.synthetic.output).expanduser()
    if not out.is_absolute():
        base = Path(world.source_path).resolve().parent if world.source_path else Path.cwd()
        out = base / out
    return out


@dataclass
class SynthSummary:
    """What `faultprobe synth` wrote, with counts and timings."""

    output: Path
    events: int
    stations: int
    spans: int = 0
    records: int = 0
    sds_files: int = 0
    task_cpu_s: float = 0.0  # CPU seconds spent rendering and writing waveforms
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: per station: mean exposure to the damage zone and largest |Δt*| (s) over the events
    exposure: dict[str, tuple[float, float]] = field(default_factory=dict)

    def render(self) -> str:
        lines = [
            f"synthetic sequence written to {self.output}",
            f"  events: {self.events}   stations: {self.stations}",
            f"  records: {self.records}   spans: {self.spans}   SDS files: {self.sds_files}",
        ]
        if self.exposure:
            lines.append("  damage-zone exposure per station (mean; largest |Δt*| in ms):")
            lines += [
                f"    {code:12s} {mean:.3f}; {1000 * peak:.1f}"
                for code, (mean, peak) in self.exposure.items()
            ]
        lines += [f"  {name}: {sec:.1f} s" for name, sec in self.seconds.items()]
        if self.task_cpu_s:
            lines.append(f"  waveform CPU time (all workers): {self.task_cpu_s:.1f} s")
        lines += [f"  wrote {f}" for f in self.files]
        return "\n".join(lines)


def synthesize(cfg: StudyConfig, parallel: bool = True) -> SynthSummary:
    """Simulate and write catalog, QuakeML, StationXML, SDS and truth tables.

    With `parallel`, each station's SDS files are written by one Dask task on the
    cluster of the config's [cluster] section; otherwise in this process.  The files are
    the same either way (every span depends only on the config).
    """
    world = SynthWorld.of(cfg)
    syn = world.synthetic
    out = output_dir(world)
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    archive = SyntheticArchive(world)
    summary = SynthSummary(out, len(archive.events), len(archive.stations))
    write_tan(archive.catalog(), out / CATALOG_FILE, cfg.study.name, syn.seed)
    summary.files.append(CATALOG_FILE)
    if syn.quakeml:
        write_quakeml(archive.catalog(), out / QUAKEML_FILE)
        summary.files.append(QUAKEML_FILE)
    summary.seconds["catalog"] = time.perf_counter() - t
    if syn.catalog_only:
        return summary

    t = time.perf_counter()
    archive.inventory().write(str(out / STATIONXML_FILE), format="STATIONXML")
    summary.files.append(STATIONXML_FILE)
    truth = archive.truth()
    truth.to_parquet(out / TRUTH_FILE, index=False)
    summary.exposure = {
        s.code: (
            float(truth[f"exposure_{s.code}"].mean()),
            float(truth[f"dtstar_{s.code}"].abs().max()),
        )
        for s in archive.stations
    }
    archive.paths().to_parquet(out / PATHS_FILE, index=False)
    summary.files += [TRUTH_FILE, PATHS_FILE]
    summary.seconds["plan and truth"] = time.perf_counter() - t

    t = time.perf_counter()
    n_st = len(archive.stations)
    summary.spans = sum(len(archive.plan(i).span_start) for i in range(n_st))
    summary.records = len(archive.events) * n_st
    root = out / SDS_DIR
    if parallel:
        summary.sds_files, summary.task_cpu_s = _write_sds_dask(world, n_st, root, cfg.cluster)
    else:
        cpu = time.process_time()
        summary.sds_files = sum(write_station_sds(archive, i, root) for i in range(n_st))
        summary.task_cpu_s = time.process_time() - cpu
    summary.files.append(SDS_DIR + "/")
    summary.seconds["waveforms"] = time.perf_counter() - t
    return summary


def _station_task(world: SynthWorld, i: int, root: str) -> tuple[int, float]:
    """One Dask task: rebuild the (cheap, deterministic) archive and write station i.

    Returns the number of files written and the CPU seconds the task used.
    """
    cpu = time.process_time()
    files = write_station_sds(SyntheticArchive(world), i, Path(root))
    return files, time.process_time() - cpu


def _write_sds_dask(
    world: SynthWorld, n_stations: int, root: Path, cluster: Cluster
) -> tuple[int, float]:
    from distributed import as_completed

    from faultprobe.cluster.connect import connect

    with connect(cluster) as client:
        futures = [
            client.submit(_station_task, world, i, str(root), pure=False) for i in range(n_stations)
        ]
        bar = progress.bar(total=n_stations, desc="synth: stations", unit="station")
        files, cpu = 0, 0.0
        for fut in as_completed(futures):
            n, sec = fut.result()
            files += n
            cpu += sec
            bar.update(1)
        bar.close()
    return files, cpu
