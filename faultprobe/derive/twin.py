"""The simulated twin of a derived study: the same mainshock, shocks, fault and stations, with
a `[synthetic]` section whose rates come from the catalog, so the study runs offline first."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from faultprobe.config import Synthetic, parse_config
from faultprobe.derive.writer import Entry, Section, render

#: the twin is kept to about this many simulated events (rates scaled down, and said so)
MAX_TWIN_EVENTS = 3000
#: the injected change of configs/synthetic-norcia.toml (docs/synthetic.md)
EFFECT = {"dtstar_pre_max": 0.004, "dtstar_jump": 0.008, "half_width_km": 1.5}


def omori_integral(days: float, c: float, p: float) -> float:
    """∫0^T (t + c)^-p dt: aftershocks per unit K in the first T days."""
    return float(((days + c) ** (1 - p) - c ** (1 - p)) / (1 - p))


def _whole_ns(rate: float) -> bool:
    return (1e9 / rate) == round(1e9 / rate)


def twin_sections(secs: list[Section], d, choice, path: Path, name: str) -> list[Section]:
    """The study's sections with the catalog, stations and waveforms of the simulator."""
    data = f"{path.stem}-data"
    syn = Synthetic()
    pre, post = d.window.pre_days, d.window.post_days
    background = max(d.pre_rate_fault, 0.1)
    integral = omori_integral(post, syn.omori_c_days, syn.omori_p)
    k = max(d.n_post_fault - background * post, 1.0) / integral
    expected = background * (pre + post) + k * integral
    scale = min(1.0, MAX_TWIN_EVENTS / expected)
    mc = float(d.mc) if np.isfinite(d.mc) else syn.completeness
    b = float(d.b) if np.isfinite(d.b) and 0.5 <= d.b <= 2.0 else syn.b_value
    out = []
    for s in secs:
        s = Section(s.name, list(s.entries), list(s.notes), s.array)
        if s.name == "study":
            s.entries = [e for e in s.entries if e.key not in ("name", "store", "description")]
            s.entries[:0] = [
                _e("name", f"{name}-synthetic", "the simulated twin of the derived study"),
                _e(
                    "description",
                    f"Simulated twin of {name}: its geometry, shocks and "
                    "stations, an injected fault-zone change",
                ),  # fmt: skip
                _e("store", f"studies/{name}-synthetic"),
            ]
        elif s.name == "catalog":
            s = Section("catalog", notes=["Written by `faultprobe synth` (synthetic.output)."])
            s.add("path", f"{data}/catalog.txt")
            s.add("format", "tan2021")
            s.add("magnitude", "mw")
        elif s.name == "stations":
            s.entries = [e for e in s.entries if e.key not in ("inventory", "fdsn")]
            s.add("inventory", f"{data}/stations.xml", "written by `faultprobe synth`")
        elif s.name == "waveforms":
            s = Section("waveforms")
            s.add("source", "sds")
            s.add("sds_root", f"{data}/sds", "written by `faultprobe synth`")
            s.add(
                "velocity_model", "carannante2013", "the simulator's travel times are this model's"
            )
        out.append(s)
    s = Section("synthetic", notes=[
        "The simulator on the derived geometry (docs/synthetic.md): events on the [fault] plane "
        "with the catalog's rates, an injected attenuation change of the size of "
        "configs/synthetic-norcia.toml (set both dtstar values to 0 for a twin without one)."
        + (f" Rates scaled by {scale:.2f} to keep the twin near {MAX_TWIN_EVENTS} events."
           if scale < 1 else "")
    ])  # fmt: skip
    s.add("output", data)
    s.add("seed", 1)
    s.add("background_per_day", round(background * scale, 3),
          "the catalog's pre-mainshock rate on the fault above Mc")  # fmt: skip
    s.add("omori_k", round(k * scale, 3), f"{d.n_post_fault} post events on the fault above "
          f"Mc in {post:g} days, less the background")  # fmt: skip
    s.add("omori_c_days", syn.omori_c_days)
    s.add("omori_p", syn.omori_p)
    s.add("b_value", round(b, 2), "the catalog's (Aki-Utsu)" if b == d.b else "default")
    s.add("completeness", round(mc, 1), "the catalog's Mc")
    s.add("max_magnitude", max(syn.max_magnitude, round(mc + 1.0, 1)))
    s.add("depth_km", list(d.fault.depth_km), "the fault's depth range")
    s.add("fault_spread_km", round(float(np.clip(d.cloud.spread_km, 0.1, 2.0)), 2),
          "the early aftershocks' spread about their plane")  # fmt: skip
    out.append(s)
    table = choice.table.set_index("code")
    for code in [*choice.near, *([choice.far] if choice.far else [])]:
        r = table.loc[code]
        st = Section("synthetic.stations", array=True)
        st.add("code", code)
        st.add("latitude", round(float(r["station_latitude_deg"]), 6))
        st.add("longitude", round(float(r["station_longitude_deg"]), 6))
        st.add("elevation_m", round(float(r["station_elevation_m"]), 1))
        st.add("band", str(r["band"]))
        rate = float(r["station_sampling_rate_hz"])
        st.add("sampling_rate", rate if _whole_ns(rate) else 100.0)
        if np.isfinite(r["sensitivity"]) and r["sensitivity"] > 0:
            st.add("sensitivity", float(r["sensitivity"]))
        out.append(st)
    eff = Section("synthetic.effect")
    for key, value in EFFECT.items():
        eff.add(key, value)
    out.append(eff)
    return out


def _e(key, value, comment=""):
    return Entry(key, value, comment)


def twin_text(secs: list[Section], d, choice, path: Path, name: str) -> str:
    """The twin's commented TOML (validated)."""
    header = [
        f"The simulated twin of {name}, written by `faultprobe init --synthetic`: "
        f"`faultprobe synth {path.name}` writes its catalog, StationXML and SDS archive, then "
        "every stage runs on it as on the real study. All times UTC."
    ]
    text = render(twin_sections(secs, d, choice, path, name), header)
    parse_config(tomllib.loads(text), source=str(path), base=path.resolve().parent)
    return text
