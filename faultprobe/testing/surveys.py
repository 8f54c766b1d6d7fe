"""Simulated surveys: several sequences in different places and geometries, each with its own
injected effect, written as a user would get them (a mainshock QuakeML with its nodal planes,
a catalog, a StationXML), then made into studies by `faultprobe init --synthetic` and listed
in a SURVEY.toml.

The truth of each sequence is the simulator's (`faultprobe.synthetic`) on a config made from
the `SimSequence`; `init` sees only the three files.  Its twin (the study the survey runs) is
then given the sequence's own effect, noise and training settings (`twin_overrides`), so the
known truth of every claim is the sequence's `effect`.  docs/synthetic.md, "Surveys".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultprobe.config import dump_toml, parse_config

#: effect sizes of the survey simulator (docs/synthetic.md): extra t* (s) before / at the shock
EFFECTS: dict[str, dict[str, Any]] = {
    "none": {"dtstar_pre_max": 0.0, "dtstar_jump": 0.0},
    "small": {"dtstar_pre_max": 0.0, "dtstar_jump": 0.05},
    "large": {"dtstar_pre_max": 0.0, "dtstar_jump": 0.12},
    "above10hz": {"dtstar_pre_max": 0.0, "dtstar_jump": 0.12, "band_hz": [10.0, 45.0]},
}


@dataclass(frozen=True)
class SimSequence:
    """One simulated sequence: where, on which plane, when, how active, and its effect.

    Stations are (code, km east, km north of the epicentre, sampling rate); the first is the
    one the survey trains at.  `effect` names an entry of `EFFECTS`.
    """

    name: str
    latitude: float
    longitude: float
    strike: float
    dip: float
    rake: float = -90.0
    depth_km: float = 8.0
    magnitude: float = 6.0
    time: str = "2016-10-29T23:59:50Z"
    effect: str = "large"
    stations: tuple[tuple[str, float, float, float], ...] = (
        ("XX.S1", 3.0, 2.0, 100.0),
        ("XX.FAR", 45.0, -30.0, 100.0),
    )
    days: float = 2.0
    background_per_day: float = 150.0
    omori_k: float = 40.0
    noise_level: float = 5e-9
    seed: int = 1
    mechanism: bool = True
    mechanism_error_deg: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)


def updip_station(strike: float, dip: float, depth_km: float, frac: float = 0.5,
                  along_km: float = 1.0) -> tuple[float, float]:  # fmt: skip
    """East, north (km) of a point above the fault plane up dip of the hypocentre, `frac` of
    the way to its surface trace (rays from the plane to it run along the damage zone)."""
    updip = np.radians(strike - 90.0)
    across = frac * depth_km / np.tan(np.radians(dip))
    s = np.radians(strike)
    east = across * np.sin(updip) + along_km * np.sin(s)
    north = across * np.cos(updip) + along_km * np.cos(s)
    return round(float(east), 3), round(float(north), 3)


def station_table(seq: SimSequence) -> list[dict[str, Any]]:
    """The sequence's `[[synthetic.stations]]` at their offsets from the epicentre."""
    from faultprobe.geodesy import to_latlon

    out = []
    for code, east, north, rate in seq.stations:
        lat, lon = to_latlon(np.array([east]), np.array([north]), seq.latitude, seq.longitude)
        out.append(
            {
                "code": code,
                "latitude": round(float(lat[0]), 5),
                "longitude": round(float(lon[0]), 5),
                "sampling_rate": rate,
            }
        )
    return out


def truth_table(seq: SimSequence, folder: Path) -> dict[str, Any]:
    """The config of the simulated truth (never seen by `init`)."""
    t0 = np.datetime64(seq.time.rstrip("Z"), "s")
    day = np.timedelta64(86400, "s")
    start, end = (str(t0 - int(seq.days) * day) + "Z", str(t0 + int(seq.days) * day) + "Z")
    codes = [s[0] for s in seq.stations]
    syn = {
        "output": str(folder / "truth"),
        "seed": seq.seed,
        "background_per_day": seq.background_per_day,
        "omori_k": seq.omori_k,
        "depth_km": [max(seq.depth_km - 5.0, 0.5), seq.depth_km + 3.0],
        "fault_spread_km": 0.3,
        "noise_level": seq.noise_level,
        "effect": EFFECTS[seq.effect],
        "stations": station_table(seq),
        **seq.extra,
    }
    return {
        "study": {
            "name": f"{seq.name}-truth",
            "store": str(folder / "truth-store"),
            "start": start,
            "end": end,
        },  # fmt: skip
        "mainshock": {
            "name": seq.name,
            "time": seq.time,
            "latitude": seq.latitude,
            "longitude": seq.longitude,
            "depth_km": seq.depth_km,
            "magnitude": seq.magnitude,
        },  # fmt: skip
        "fault": {
            "strike": seq.strike,
            "dip": seq.dip,
            "rake": seq.rake,
            "along_strike_km": [-8.0, 8.0],
            "depth_km": [max(seq.depth_km - 5.0, 0.0), seq.depth_km + 3.0],
        },  # fmt: skip
        "catalog": {"path": str(folder / "truth" / "catalog.txt"), "format": "tan2021"},
        "stations": {
            "codes": codes[:-1],
            "far": codes[-1:],
            "inventory": str(folder / "truth" / "stations.xml"),
        },
        "waveforms": {"source": "sds", "sds_root": str(folder / "truth" / "sds")},
        "synthetic": syn,
    }


def write_mainshock_quakeml(seq: SimSequence, path: Path) -> Path:
    """The mainshock as an FDSN event service would give it: origin, Mw and both nodal
    planes of its focal mechanism (the fault plane, off by `mechanism_error_deg` in strike
    and dip, first; the auxiliary one second), or no mechanism (`mechanism=False`)."""
    from obspy import UTCDateTime
    from obspy.core.event import (
        Catalog,
        Event,
        FocalMechanism,
        Magnitude,
        NodalPlane,
        NodalPlanes,
        Origin,
        ResourceIdentifier,
    )
    from obspy.imaging.beachball import aux_plane

    e_strike, e_dip = seq.mechanism_error_deg
    s1, d1 = (seq.strike + e_strike) % 360.0, min(seq.dip + e_dip, 90.0)
    s2, d2, r2 = aux_plane(s1, d1, seq.rake)
    origin = Origin(
        resource_id=ResourceIdentifier(f"smi:faultprobe/origin/{seq.name}"),
        time=UTCDateTime(seq.time), latitude=seq.latitude, longitude=seq.longitude,
        depth=seq.depth_km * 1000.0,
    )  # fmt: skip
    mag = Magnitude(mag=seq.magnitude, magnitude_type="Mw", origin_id=origin.resource_id)
    planes = NodalPlanes(
        nodal_plane_1=NodalPlane(strike=s1, dip=d1, rake=seq.rake),
        nodal_plane_2=NodalPlane(strike=float(s2), dip=float(d2), rake=float(r2)),
    )
    fm = FocalMechanism(nodal_planes=planes, triggering_origin_id=origin.resource_id)
    ev = Event(resource_id=ResourceIdentifier(f"smi:faultprobe/event/{seq.name}"),
               origins=[origin], magnitudes=[mag],
               focal_mechanisms=[fm] if seq.mechanism else [])  # fmt: skip
    ev.preferred_origin_id = origin.resource_id.id
    ev.preferred_magnitude_id = mag.resource_id.id
    if seq.mechanism:
        ev.preferred_focal_mechanism_id = fm.resource_id.id
    Catalog(events=[ev]).write(str(path), format="QUAKEML")
    return path


@dataclass(frozen=True)
class SequenceFiles:
    """What a user would have for one sequence, and what `init` wrote from it."""

    sequence: SimSequence
    quakeml: Path
    catalog: Path
    inventory: Path
    config: Path = Path()
    twin: Path = Path()


def write_sequence_inputs(seq: SimSequence, folder: Path) -> SequenceFiles:
    """The mainshock QuakeML, catalog and StationXML of the simulated truth."""
    from faultprobe.synthetic.archive import SyntheticArchive
    from faultprobe.synthetic.writers import write_tan

    folder.mkdir(parents=True, exist_ok=True)
    cfg = parse_config(truth_table(seq, folder), source=f"<survey sequence {seq.name}>")
    archive = SyntheticArchive(cfg)
    (folder / "truth").mkdir(exist_ok=True)
    catalog = folder / "truth" / "catalog.txt"
    write_tan(archive.catalog(), catalog, cfg.study.name, seq.seed)
    inventory = folder / "truth" / "stations.xml"
    archive.inventory().write(str(inventory), format="STATIONXML")
    quakeml = write_mainshock_quakeml(seq, folder / "mainshock.xml")
    return SequenceFiles(seq, quakeml, catalog, inventory)


def twin_overrides(seq: SimSequence, train: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the survey's twin of a sequence takes from the sequence (its effect, noise and
    seed) and the test (small, fast training; Table 1 binary at its first station only)."""
    station = seq.stations[0][0]
    return {
        "synthetic": {
            "seed": seq.seed + 100,
            "noise_level": seq.noise_level,
            "noise_daily_amplitude": 0.0,
            "noise_seasonal_amplitude": 0.0,
            "noise_segments_per_day": 0,
            "segment_s": 40.0,
            "segment_lead_s": 10.0,
            "effect": {**EFFECTS[seq.effect], "half_width_km": 1.5},
        },
        "train": {"stations": [station], **(train or {})},
        "experiments": {
            "table1": {"classes": [2], "stations": [station]},
            "false_dates": {"enabled": False},
            "bands": {"enabled": False},
            "null": {"enabled": False},
            "pairs": {"enabled": False},
        },
    }


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def init_sequence(
    files: SequenceFiles, folder: Path, overrides: dict, **init: Any
) -> SequenceFiles:
    """`faultprobe init --synthetic` on the sequence's three files; the twin then takes the
    overrides (the sequence's effect, the test's training)."""
    from faultprobe.derive import InitOptions, derive_study

    seq = files.sequence
    opts = InitOptions(
        catalog=str(files.catalog), out=str(folder / f"{seq.name}.toml"),
        quakeml=str(files.quakeml), inventory=str(files.inventory), name=seq.name,
        max_days=seq.days, n_near=len(seq.stations) - 1, synthetic=True, **init,
    )  # fmt: skip
    result = derive_study(opts)
    result.path.write_text(result.text)
    raw = _merge(tomllib.loads(result.twin_text), overrides)
    base = result.twin_path.resolve().parent
    twin = parse_config(raw, source=str(result.twin_path), base=base)
    result.twin_path.write_text(dump_toml(twin))
    return SequenceFiles(seq, files.quakeml, files.catalog, files.inventory,
                         result.path, result.twin_path)  # fmt: skip


def write_survey_file(folder: Path, configs: list[Path], *, name: str = "survey",
                      n_workers: int = 2, grids: tuple[str, ...] = ("table1",),
                      loso: bool = True) -> Path:  # fmt: skip
    """A SURVEY.toml listing the configs, on a local cluster of single-thread workers."""
    studies = "".join(f'\n[[studies]]\nconfig = "{c}"\n' for c in configs)
    text = (
        f'[survey]\nname = "{name}"\nstore = "{folder / (name + "-out")}"\n'
        f"grids = {list(grids)!r}\n".replace("'", '"')
        + f"loso = {'true' if loso else 'false'}\n\n"
        + f'[cluster]\nkind = "local"\nn_workers = {n_workers}\nthreads_per_worker = 1\n'
        + studies
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def write_survey(folder: str | Path, sequences: list[SimSequence], *, train=None,
                 synthesize: bool = True, **survey: Any) -> tuple[Path, list[SequenceFiles]]:  # fmt: skip
    """Every sequence's inputs, its study and twin by `init --synthetic`, the twin's
    waveforms (`faultprobe synth`, with `synthesize`) and the SURVEY.toml over the twins."""
    from faultprobe.config import load_config
    from faultprobe.synthetic.run import synthesize as synth

    folder = Path(folder)
    made = []
    for seq in sequences:
        sub = folder / seq.name
        files = write_sequence_inputs(seq, sub)
        files = init_sequence(files, sub, twin_overrides(seq, train))
        if synthesize:
            synth(load_config(files.twin), parallel=False)
        made.append(files)
    return write_survey_file(folder, [f.twin for f in made], **survey), made


def four_sequences() -> list[SimSequence]:
    """Four sequences in four places and geometries, each with its near station up dip of
    its hypocentre and a far one beyond its box: a large effect (Apennines, normal fault
    155/47, its mechanism off by 4°/-3°), a small one (Gulf of Corinth, 100/58, sampled at
    200 Hz), none (a Mojave-like strike-slip 320/80 whose QuakeML has no mechanism) and the
    large one only above 10 Hz (northern Apennine foothills, thrust 290/38, off by -5°/4°,
    125 Hz)."""

    def stations(strike, dip, depth, rate, far):
        return (("XX.S1", *updip_station(strike, dip, depth), rate), ("XX.FAR", *far, 100.0))

    return [
        SimSequence("apennines", 42.8, 13.1, 155.0, 47.0, -90.0, 8.0, effect="large", seed=1,
                    stations=stations(155, 47, 8.0, 100.0, (40.0, -35.0)),
                    mechanism_error_deg=(4.0, -3.0)),
        SimSequence("gulf", 38.2, 22.1, 100.0, 58.0, -80.0, 9.0, effect="small", seed=2,
                    stations=stations(100, 58, 9.0, 200.0, (-30.0, 40.0))),
        SimSequence("desert", 35.7, -117.5, 320.0, 80.0, 180.0, 7.0, effect="none", seed=3,
                    stations=stations(320, 80, 7.0, 100.0, (45.0, 30.0)), mechanism=False),
        SimSequence("foothills", 44.3, 10.6, 290.0, 38.0, 90.0, 7.0, effect="above10hz",
                    seed=4, stations=stations(290, 38, 7.0, 125.0, (-40.0, -30.0)),
                    mechanism_error_deg=(-5.0, 4.0)),
    ]  # fmt: skip
