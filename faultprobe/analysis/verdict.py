"""The verdict per station: is a pre/post accuracy a fault-zone signal or a confound?

`decide(evidence)` is pure (paired correct/incorrect arrays of the same test events,
pooled over seeds, in; a `Verdict` out); `station_evidence` reads them from the store
(the CNN's and the noise CNN's predictions, the controls' tables).  The rule
(docs/diagnostics.md, "Controls and the verdict"), every test exact at p < 0.01:

- the CNN must be above chance (one-sided binomial), else "inconclusive";
- "fault-zone signal" only when the CNN beats every noise-only control and the metadata
  control (one-sided McNemar exact test on the discordant test events: binomial at 1/2),
  keeps its accuracy on the matched set (the CNN trained and tested on events matched
  pre-to-post is above chance on the matched test events and not lower there than its
  size reference, a CNN trained on as many events drawn at random from the CNN's own
  train and validation parts: one-sided McNemar exact test on the same matched test
  events; without a size-reference run, as before it: not lower than the CNN on the
  unmatched test events and on all of them, one-sided Fisher exact tests), and its
  evidence sits in the wave arrivals (masking the best wave segment × band lowers the accuracy, McNemar,
  by more than masking any noise cell);
- never while an instrument change is on record within `station_change_days` of the
  mainshock: the ingest's traces table logs it (location, channels, native sampling rate)
  or the StationXML documents it (a new channel epoch whose sensitivity differs by more
  than 1 %, whose poles and zeros differ, or whose rate differs: catalogs/epochs.py);
- otherwise the confounds the controls point at: "station change" (such a logged change;
  or a noise-only control above chance and either a change logged farther away or the
  pre-P noise level stepping at a date `station_change_days` or more away from the
  mainshock), "noise" (a noise-only control above chance and unbeaten, or the evidence in
  the noise segment), "composition" (the matched CNN lower than its size reference, the
  McNemar test, or than the CNN on the unmatched test events and on all of them, the
  Fisher tests, or the metadata control unbeaten while the noise-only controls are at chance: SNR
  carries the noise level);
- "inconclusive" when nothing is named and a condition fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from faultprobe.analysis import stats
from faultprobe.analysis.controls import ALL_BANDS, SEGMENTS, WAVE_SEGMENTS, table_name
from faultprobe.analysis.faultstate import upgrade_event_names
from faultprobe.config.stages import GridSettings

NOISE_CONTROLS = ("noise", "noise_spectrum")


def mcnemar_greater_p(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int]:
    """One-sided exact McNemar p of H1 "a is right more often than b" on paired events:
    binomial at 1/2 on the discordant pairs; (p, a right only, b right only)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    n10, n01 = int((a & ~b).sum()), int((~a & b).sum())
    if n10 + n01 == 0:
        return 1.0, n10, n01
    return float(sps.binomtest(n10, n10 + n01, 0.5, alternative="greater").pvalue), n10, n01


def _split_sse(v: np.ndarray) -> np.ndarray:
    """Residual sum of squares of a two-level fit split before each position 2..n-2."""
    n = len(v)
    k = np.arange(2, n - 1)
    c, c2 = np.cumsum(v), np.cumsum(v**2)
    return (c2[k - 1] - c[k - 1] ** 2 / k) + (
        (c2[-1] - c2[k - 1]) - (c[-1] - c[k - 1]) ** 2 / (n - k)
    )


def step_time(
    times: pd.Series, values: np.ndarray, at: pd.Timestamp | None = None
) -> tuple[pd.Timestamp, float] | None:
    """The best single step in a series (least squares over every split, vectorised with
    cumulative sums) and the share of its explained variance that a step at `at` explains
    (1: a step at `at` is as good); None for fewer than 10 finite values."""
    t = pd.DatetimeIndex(times)
    v = np.asarray(values, float)
    keep = np.isfinite(v)
    if keep.sum() < 10:
        return None
    order = np.argsort(t[keep].as_unit("ns").asi8, kind="stable")
    v, tt = v[keep][order], t[keep][order]
    sse = _split_sse(v)
    i = int(np.argmin(sse)) + 2
    best = tt[i - 1] + (tt[i] - tt[i - 1]) / 2
    sst = float(((v - v.mean()) ** 2).sum())
    share = 1.0
    if at is not None and sst > sse[i - 2]:
        j = int(np.clip(np.searchsorted(tt, pd.Timestamp(at)), 2, len(v) - 2))
        share = float((sst - sse[j - 2]) / (sst - sse[i - 2]))
    return best, share


RATE_NOTE = re.compile(r"resampled ([0-9.eE+-]+) ->")
MIN_RUN = 3  # traces on each side of a logged change (an odd trace is no instrument epoch)


def instrument_changes(traces: pd.DataFrame, station: str) -> list[tuple[pd.Timestamp, str, str]]:
    """Dates where a station's recording changes in the ingest's traces table: location
    code, channel codes or native sampling rate (the ingest's "resampled R -> r Hz" note),
    held for `MIN_RUN` traces on each side; (time, before, after) each."""
    net, _, code = station.rpartition(".")
    t = traces[traces["station_code"].astype(str) == code]
    if net and "station_network_code" in t:
        t = t[t["station_network_code"].astype(str) == net]
    if "status" in t:
        t = t[t["status"].astype(str).isin(["0", "ok"])]
    t = t.dropna(subset=["trace_start_time"]).sort_values("trace_start_time", kind="stable")
    if len(t) < 2 * MIN_RUN:
        return []
    rate = t["reason"].fillna("").astype(str).str.extract(RATE_NOTE)[0].fillna("native")
    sig = (
        t.get("station_location_code", pd.Series("", index=t.index)).fillna("").astype(str)
        + "|" + t.get("trace_channels", pd.Series("", index=t.index)).fillna("").astype(str)
        + "|" + rate
    ).to_numpy()  # fmt: skip
    times = pd.DatetimeIndex(t["trace_start_time"])
    out = []
    for i in np.flatnonzero(sig[1:] != sig[:-1]) + 1:
        if (
            i >= MIN_RUN
            and (sig[i - MIN_RUN : i] == sig[i - 1]).all()
            and (sig[i : i + MIN_RUN] == sig[i]).all()
            and i + MIN_RUN <= len(sig)
        ):
            out.append((times[i - 1] + (times[i] - times[i - 1]) / 2, str(sig[i - 1]), str(sig[i])))
    return out


@dataclass
class Evidence:
    """A station's controls, paired on the same test events pooled over seeds."""

    station: str
    seeds: int
    cnn: np.ndarray  # correct, per test event
    controls: dict[str, np.ndarray] = field(default_factory=dict)  # correct, aligned
    matched: np.ndarray | None = None  # the test event is in the matched set
    matched_correct: np.ndarray | None = None  # the matched CNN is right (None: the CNN's)
    attribution: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    noise_step_days: float | None = None  # step in pre-P noise level, days from mainshock
    noise_step_share: float = 1.0  # of that step's explained variance, a mainshock step's
    instrument_change_days: tuple[float, ...] = ()  # logged changes, days from the mainshock
    spearman: float | None = None  # physics' t* against the fault-state index
    physics: np.ndarray | None = None  # correct, the classifier on t*
    size_reference: np.ndarray | None = None  # correct, the size-reference CNN, aligned


@dataclass(frozen=True)
class Verdict:
    label: str
    reasons: tuple[str, ...]
    numbers: dict


def _pct(a: np.ndarray) -> str:
    return f"{100 * np.mean(a):.1f} %" if len(a) else "–"


def _below_reference(matched: np.ndarray, ref: np.ndarray, nums: dict) -> tuple[float, str]:
    """One-sided exact McNemar p of "the size reference is right more often than the matched
    CNN" on the same matched test events (adds its numbers to `nums`), and its reason."""
    p, n_ref, n_matched = mcnemar_greater_p(ref, matched)
    kr, nr = int(ref.sum()), len(ref)
    nums.update(size_reference=(kr, nr), reference_only_right=n_ref,
                matched_only_right=n_matched, p_matched_below_reference=p)  # fmt: skip
    return p, (
        f"size reference {kr}/{nr} = {100 * kr / max(nr, 1):.1f} % on the same matched test "
        f"events; reference better on {n_ref}, matched on {n_matched}: McNemar p = {p:.2g} "
        "matched lower"
    )


MAINSHOCK_SHARE = 0.5  # a step at the mainshock explaining less: the step is elsewhere


def decide(ev: Evidence, alpha: float = stats.ALPHA, station_change_days: float = 2.0) -> Verdict:
    """The verdict of the rule in the module docstring, with the numbers that decided it."""
    k, n = int(ev.cnn.sum()), len(ev.cnn)
    nums: dict = {"cnn": (k, n), "p_cnn_above_chance": stats.binom_above_p(k, n, 0.5)}
    reasons = [f"CNN {_pct(ev.cnn)} on {n} test events ({ev.seeds} seeds), "
               f"p = {nums['p_cnn_above_chance']:.1g} above chance"]  # fmt: skip
    if ev.seeds < stats.MIN_SEEDS:
        return Verdict("inconclusive", (f"{ev.seeds} seed(s): a verdict needs 3",), nums)
    if nums["p_cnn_above_chance"] >= alpha:
        return Verdict("inconclusive", (*reasons, "the CNN is not above chance"), nums)
    beats, above = {}, {}
    for name, c in ev.controls.items():
        p, n10, n01 = mcnemar_greater_p(ev.cnn, c)
        pa = stats.binom_above_p(int(c.sum()), len(c), 0.5)
        beats[name], above[name] = bool(p < alpha), bool(pa < alpha)
        nums[f"{name}"] = (int(c.sum()), len(c))
        nums[f"p_cnn_beats_{name}"], nums[f"p_{name}_above_chance"] = p, pa
        reasons.append(
            f"{name} {_pct(c)} (p = {pa:.1g} above chance); CNN better on {n10}, "
            f"{name} on {n01} events: McNemar p = {p:.1g}"
        )
    noise = [c for c in NOISE_CONTROLS if c in ev.controls]
    noise_above = any(above[c] for c in noise)
    noise_beaten = all(beats[c] for c in noise)
    meta_above, meta_beaten = above.get("metadata", False), beats.get("metadata", False)
    matched_kept, matched_lower = None, False
    if ev.matched is not None:
        m = ev.matched
        right = ev.cnn if ev.matched_correct is None else ev.matched_correct
        km, nm, kr, nr = int(right[m].sum()), int(m.sum()), int(ev.cnn[~m].sum()), int((~m).sum())
        # lower than the CNN on its unmatched test events and on all of them (an
        # intersection-union test: both at p < alpha): matching keeps the common events,
        # which may be harder, and trains on fewer, which alone may cost a little
        p_low = max(
            stats.fisher_less_p(km, nm, kr, nr) if nr else 1.0,
            stats.fisher_less_p(km, nm, k, n),
        )
        p_above = stats.binom_above_p(km, nm, 0.5)
        matched_lower = bool(p_low < alpha)  # names composition; decides only old results
        matched_kept = bool(not matched_lower and p_above < alpha)
        nums.update(matched=(km, nm), p_matched_lower=p_low, p_matched_above_chance=p_above)
        reasons.append(
            f"matched {km}/{nm} = {100 * km / max(nm, 1):.1f} % (p = {p_above:.1g} above "
            f"chance) vs the CNN on the unmatched {kr}/{nr} and on all {k}/{n}: Fisher p = "
            f"{p_low:.2g} lower (the larger of the two)"
        )
        if ev.size_reference is not None:
            below, reason = _below_reference(right[m], ev.size_reference[m], nums)
            matched_kept = bool(below >= alpha and p_above < alpha)
            # lower than as many random events give: the matched mix costs accuracy
            matched_lower = matched_lower or bool(below < alpha)
            reasons.append(reason)
    in_waves, in_noise = None, False
    if ev.attribution:
        drops = {cell: ev.cnn.mean() - c.mean() for cell, c in ev.attribution.items()}
        wave = max((c for c in drops if c[0] in WAVE_SEGMENTS), key=drops.get)
        noise_drop = max((v for c, v in drops.items() if c[0] == SEGMENTS[0]), default=0.0)
        p_wave = mcnemar_greater_p(ev.cnn, ev.attribution[wave])[0]
        in_waves = bool(p_wave < alpha and drops[wave] > noise_drop)
        noise_cell = (SEGMENTS[0], ALL_BANDS)
        if noise_cell in ev.attribution:
            p_noise = mcnemar_greater_p(ev.cnn, ev.attribution[noise_cell])[0]
            in_noise = bool(p_noise < alpha and noise_drop >= drops[wave])
        nums.update(best_wave_cell=wave, wave_drop=drops[wave], noise_drop=noise_drop,
                    p_wave_drop=p_wave)  # fmt: skip
        reasons.append(
            f"masking {wave[0]} × {wave[1]} drops {100 * drops[wave]:.1f} points "
            f"(McNemar p = {p_wave:.1g}); masking the noise at most {100 * noise_drop:.1f}"
        )
    if ev.noise_step_days is not None:
        nums["noise_step_days"] = ev.noise_step_days
        nums["noise_step_mainshock_share"] = ev.noise_step_share
        reasons.append(
            f"pre-P noise level: best step {ev.noise_step_days:+.1f} days from the mainshock, "
            f"a step at the mainshock explains {100 * ev.noise_step_share:.0f} % as much"
        )
    if ev.spearman is not None and np.isfinite(ev.spearman):
        nums["spearman_tstar_index"] = ev.spearman
        reasons.append(f"t* against the fault-state index: Spearman {ev.spearman:.2f}")
    logged = tuple(float(d) for d in ev.instrument_change_days)
    logged_near = any(abs(d) < station_change_days for d in logged)
    if logged:
        nums["instrument_change_days"] = logged
        reasons.append(
            "an instrument change is on record (the traces table's codes or sampling rate, "
            "the StationXML's epochs) " + ", ".join(f"{d:+.1f}" for d in logged) + " days from the mainshock"
            + (": too near it to tell the two apart" if logged_near else "")
        )  # fmt: skip
    checks = [noise_beaten if noise else None, meta_beaten if "metadata" in ev.controls else None,
              matched_kept, in_waves, not logged_near]  # fmt: skip
    if all(c is True for c in checks):
        return Verdict("fault-zone signal", tuple(reasons), nums)
    named = []
    step_away = (
        ev.noise_step_days is not None
        and abs(ev.noise_step_days) >= station_change_days
        and ev.noise_step_share < MAINSHOCK_SHARE
    )
    if logged_near or (noise_above and (step_away or logged)):
        named.append("station change")
    elif (noise_above and not noise_beaten) or in_noise:
        named.append("noise")
    if matched_lower or (meta_above and not meta_beaten and not noise_above):
        named.append("composition")
    if named:
        return Verdict("confounded by " + " and ".join(named), tuple(reasons), nums)
    return Verdict("inconclusive", tuple(reasons), nums)


# ---------------------------------------------------------------- from the store


def _test_correct(table: pd.DataFrame, col: str = "pred") -> pd.Series:
    return pd.Series((table[col] == table["true"]).to_numpy(), index=table["source_id"].to_numpy())


def station_evidence(
    store, results: pd.DataFrame, station: str, mainshock=None, inventory: str | None = None
) -> Evidence | None:
    """The station's controls from results.parquet and their tables, paired per seed on
    the CNN's test events and pooled over seeds; None without a finished CNN run."""
    from faultprobe.ml.runs import PREDICTIONS, RunFolder

    df = results[(results["grid"] == "controls") & (results["status"] == "ok")]
    df = df[df["station"] == station]
    cnn_rows = df[df["control"] == "cnn"]
    if cnn_rows.empty:
        return None
    parts: dict[str, list] = {"cnn": [], "matched": [], "matched_correct": []}
    cells: dict[tuple[str, str], list] = {}
    for _, row in cnn_rows.sort_values("seed").iterrows():
        preds = RunFolder(store, row["run_id"]).read_table(PREDICTIONS)
        test = preds[preds["split"] == "test"]
        cnn = _test_correct(test)
        ids = cnn.index
        parts["cnn"].append(cnn.to_numpy())
        same = df[df["seed"] == row["seed"]]
        for _, c in same.iterrows():
            name = c["control"]
            if name == "cnn":
                continue
            if name in ("noise", "matched", "size_reference"):  # CNNs of their own runs
                t = RunFolder(store, c["run_id"]).read_table(PREDICTIONS)
                t = t[t["split"] == "test"]
            else:
                t = upgrade_event_names(store.read_table(table_name(c["run_id"], name)))
            t = t.set_index("source_id").reindex(ids).rename_axis("source_id").reset_index()
            if name == "matched":  # its test events: the matched part of the CNN's
                parts["matched"].append(t["pred"].notna().to_numpy())
                parts["matched_correct"].append((t["pred"] == t["true"]).to_numpy(bool))
            elif name == "attribution":
                for col in t.columns:
                    if "|" in col:
                        seg, band = col.split("|", 1)
                        cells.setdefault((seg, band), []).append(
                            t[col].fillna(False).to_numpy(bool)
                        )
            else:
                parts.setdefault(name, []).append(_test_correct(t).to_numpy())
    seeds = len(parts["cnn"])
    special = ("cnn", "matched", "matched_correct")
    full = {k: v for k, v in parts.items() if len(v) == seeds and k not in special}
    controls = {k: np.concatenate(v) for k, v in full.items() if k in (*NOISE_CONTROLS, "metadata")}
    ev = Evidence(
        station,
        seeds,
        np.concatenate(parts["cnn"]),
        controls,
        np.concatenate(parts["matched"]) if len(parts["matched"]) == seeds else None,
        np.concatenate(parts["matched_correct"]) if len(parts["matched"]) == seeds else None,
        {k: np.concatenate(v) for k, v in cells.items() if len(v) == seeds},
    )
    if "physics" in full:
        ev.physics = np.concatenate(full["physics"])
    if "size_reference" in full and ev.matched is not None:
        ev.size_reference = np.concatenate(full["size_reference"])
    phys = df[df["control"] == "physics"]["statistic"].dropna()
    ev.spearman = float(phys.mean()) if len(phys) else None
    if mainshock is not None:
        step = noise_step(store, station, mainshock)
        if step is not None:
            ev.noise_step_days, ev.noise_step_share = step
        ev.instrument_change_days = logged_changes(store, station, mainshock, inventory)
    return ev


def logged_changes(
    store, station: str, mainshock, inventory: str | None = None
) -> tuple[float, ...]:
    """Days from the mainshock of the instrument changes on record: those the traces table
    logs (codes, native rate) and those the StationXML documents (sensitivity, response,
    rate: [stations] inventory, else the copy in the store; within the traces' span when
    the traces table exists, as a station's metadata go back years); one per day, none
    without either (a toy cube)."""
    from faultprobe.store import TRACES

    found, span = [], None
    if store.exists(TRACES):
        traces = store.read_table(TRACES)
        found += [at for at, _, _ in instrument_changes(traces, station)]
        start = traces["trace_start_time"]
        if start.notna().any():
            span = (_utc(start.min()), _utc(start.max()))
    inv = _inventory(store, inventory)
    if inv is not None:
        from faultprobe.catalogs.epochs import response_changes

        for at, _, _ in response_changes(inv, station):
            if span is None or span[0] <= _utc(at) <= span[1]:
                found.append(at)
    main = _utc(mainshock)
    days = sorted((_utc(at) - main).total_seconds() / 86400.0 for at in found)
    out: list[float] = []
    for d in days:  # the traces table and the StationXML often record one change twice
        if not out or d - out[-1] >= 1.0:
            out.append(d)
    return tuple(out)


def _utc(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tz is None else t


def _inventory(store, inventory: str | None):
    """The study's StationXML ([stations] inventory, else the store's saved copy), or None."""
    from faultprobe.catalogs.stations import parse_stationxml, read_stationxml
    from faultprobe.store import STATIONXML

    if inventory:
        return read_stationxml(inventory)
    if store.exists(STATIONXML):
        return parse_stationxml(store.read_bytes(STATIONXML), store.url(STATIONXML))
    return None


def noise_step(store, station: str, mainshock, window_s=(-5.0, -0.5)) -> tuple[float, float] | None:
    """Days from the mainshock to the best step in the station's pre-P noise level (log
    rms over every ok record of the cube), and the share a mainshock step explains."""
    from faultprobe.analysis.controls import band_log_amplitudes
    from faultprobe.ml import dataset

    ds = dataset.open_cube(store)
    j = dataset.station_positions(ds, [station])[0]
    ok = np.flatnonzero(np.asarray(ds["status"].isel(station=j).values) == 0)
    sl = dataset.read_station_slice(ds, [station], window_s, events=ok)
    feats, _ = band_log_amplitudes(sl.x.astype(np.float64), sl.sampling_rate, [])
    times = dataset.event_table(ds)["source_origin_time"].iloc[ok]
    found = step_time(times, feats[:, -1], pd.Timestamp(mainshock))
    if found is None:
        return None
    at, share = found
    return float((at - pd.Timestamp(mainshock)).total_seconds() / 86400.0), share


def verdict_table(store, results: pd.DataFrame, cfg: GridSettings) -> pd.DataFrame:
    """One row per station of the controls grid: the verdict and the numbers behind it
    (a survey table can call this with any study's store and results)."""
    g = cfg.experiments.controls
    df = results[(results["grid"] == "controls") & (results["status"] == "ok")]
    rows = []
    for station in sorted(df["station"].unique()):
        ev = station_evidence(store, results, station, cfg.mainshock.time, cfg.stations.inventory)
        if ev is None:
            continue
        v = decide(ev, station_change_days=g.station_change_days)
        acc = {
            c: _pct(ev.controls[c]) if c in ev.controls else "–"
            for c in (*NOISE_CONTROLS, "metadata")
        }
        km, kr = v.numbers.get("matched"), v.numbers.get("size_reference")
        rows.append(
            {
                "station": station,
                "seeds": ev.seeds,
                "CNN %": _pct(ev.cnn),
                "noise-only CNN %": acc["noise"],
                "noise spectrum %": acc["noise_spectrum"],
                "metadata %": acc["metadata"],
                "matched %": f"{100 * km[0] / km[1]:.1f} ({km[1]})" if km and km[1] else "–",
                "size reference %": f"{100 * kr[0] / kr[1]:.1f} ({kr[1]})" if kr and kr[1] else "–",
                "physics (t*) %": _pct(ev.physics) if ev.physics is not None else "–",
                "t* vs index ρ": f"{ev.spearman:.2f}" if ev.spearman is not None else "–",
                "verdict": v.label,
                "the numbers that decided it": "; ".join(v.reasons),
                "runs": sorted(set(df.loc[df["station"] == station, "run_id"])),
            }
        )
    return pd.DataFrame(rows)


def attribution_map(store, results: pd.DataFrame, station: str) -> pd.DataFrame:
    """Accuracy drop (percentage points) per segment × band, pooled over seeds."""
    ev = station_evidence(store, results, station)
    if ev is None or not ev.attribution:
        return pd.DataFrame()
    base = ev.cnn.mean()
    rows = [
        {"segment": s, "band": b, "drop_pct": 100 * (base - c.mean())}
        for (s, b), c in ev.attribution.items()
    ]
    return pd.DataFrame(rows)
