"""The simulated sequence: event times, places, magnitudes and source parameters.

Times: a uniform background rate plus an Omori-Utsu rate K/(t+c)^p after each shock,
plus the rates of extra regions; counts are Poisson (or a multinomial split of an exact
total in catalog-only scale runs).  Places: on the fault plane (uniform along strike and
in depth, Gaussian across it), a fraction scattered off the fault, and Gaussian clusters
for the regions.  Magnitudes: truncated Gutenberg-Richter.  Stress drop: log-normal.
A confound (`[synthetic.composition_change]`, off by default) draws the events after the
mainshock differently: shifted magnitudes, other along-strike and depth ranges, other
hours of the day (`shift_composition`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe.config import CompositionChange, ConfigError
from faultprobe.config.stages import SynthWorld
from faultprobe.earth import BETA_FC_M_S, brune_fc, moment  # noqa: F401 (re-exported)
from faultprobe.geodesy import KM_PER_DEGREE, FaultFrame

DAY_NS = 86_400 * 10**9


def catalog_span(world: SynthWorld) -> tuple[pd.Timestamp, pd.Timestamp]:
    syn = world.synthetic
    return pd.Timestamp(syn.start or world.start), pd.Timestamp(syn.end or world.end)


def _omori_params(world: SynthWorld) -> list[tuple[str, pd.Timestamp, float, float, float]]:
    syn = world.synthetic
    shocks = [world.mainshock, *world.shocks]
    names = {s.name for s in shocks}
    override = {}
    for seq in syn.sequences:
        if seq.shock not in names:
            raise ConfigError(
                f"{world.source_path or '<config>'}: synthetic.sequences: no shock named "
                f"{seq.shock!r} (known: {', '.join(sorted(names))})"
            )
        override[seq.shock] = (seq.k, seq.c_days, seq.p)
    out = []
    for s in shocks:
        k = syn.omori_k * 10.0 ** (syn.omori_alpha * (s.magnitude - world.mainshock.magnitude))
        k, c, p = override.get(s.name, (k, syn.omori_c_days, syn.omori_p))
        out.append((s.name, pd.Timestamp(s.time), k, c, p))
    return out


def _omori_integral(k: float, c: float, p: float, a: float, b: float) -> float:
    if b <= a:
        return 0.0
    if abs(p - 1.0) < 1e-9:
        return k * (np.log(b + c) - np.log(a + c))
    return k / (1 - p) * ((b + c) ** (1 - p) - (a + c) ** (1 - p))


def _omori_times(rng, n: int, c: float, p: float, a: float, b: float) -> np.ndarray:
    u = rng.uniform(size=n)
    if abs(p - 1.0) < 1e-9:
        return np.exp(np.log(a + c) + u * (np.log(b + c) - np.log(a + c))) - c
    lo, hi = (a + c) ** (1 - p), (b + c) ** (1 - p)
    return (lo + u * (hi - lo)) ** (1 / (1 - p)) - c


def simulate_events(world: SynthWorld) -> pd.DataFrame:
    """The true sequence, one row per event, sorted by time (see docs/synthetic.md)."""
    syn = world.synthetic
    rng = np.random.default_rng([syn.seed, 1])
    t0, t1 = catalog_span(world)
    span_days = (t1 - t0).total_seconds() / 86400.0
    frame = FaultFrame(world.mainshock, world.fault)

    # expected counts per component: background, one Omori sequence per shock, regions
    comps: list[tuple[str, float]] = [("background", syn.background_per_day * span_days)]
    omori = _omori_params(world)
    for name, ts, k, c, p in omori:
        a = max(0.0, (t0 - ts).total_seconds() / 86400.0)
        b = (t1 - ts).total_seconds() / 86400.0
        comps.append((f"aftershock:{name}", _omori_integral(k, c, p, a, b)))
    comps += [(f"region:{r.name}", r.rate_per_day * span_days) for r in syn.regions]
    expected = np.array([e for _, e in comps])
    if syn.catalog_events is not None:
        counts = rng.multinomial(syn.catalog_events, expected / expected.sum())
    else:
        counts = rng.poisson(expected)

    days, kinds, u, v, w = [], [], [], [], []
    dip_lo, dip_hi = frame.dip_range(syn.depth_km)
    for (kind, _), n in zip(comps, counts):
        if n == 0:
            continue
        if kind == "background":
            t = rng.uniform(0.0, span_days, n)
        elif kind.startswith("aftershock:"):
            name, ts, k, c, p = next(o for o in omori if o[0] == kind.split(":", 1)[1])
            a = max(0.0, (t0 - ts).total_seconds() / 86400.0)
            b = (t1 - ts).total_seconds() / 86400.0
            t = _omori_times(rng, n, c, p, a, b) + (ts - t0).total_seconds() / 86400.0
        else:
            t = rng.uniform(0.0, span_days, n)
        days.append(t)
        kinds.append(np.full(n, kind, dtype=object))
        if kind.startswith("region:"):
            reg = next(r for r in syn.regions if r.name == kind.split(":", 1)[1])
            enu0 = frame.enu(reg.latitude, reg.longitude, reg.depth_km)
            enu = enu0 + rng.normal(0.0, reg.radius_km / 2.0, (n, 3))
            enu[:, 2] = np.clip(enu[:, 2], -frame.hypocenter.depth_km + 0.5, None)
            fu, fv, fw = frame.to_fault(enu)
        else:
            lo, hi = world.fault.along_strike_km
            fu = rng.uniform(lo, hi, n)
            if kind.startswith("aftershock:") and kind != f"aftershock:{world.mainshock.name}":
                shock = next(s for s in world.shocks if s.name == kind.split(":", 1)[1])
                su, _, _ = frame.to_fault(
                    frame.enu(shock.latitude, shock.longitude, shock.depth_km)
                )
                fu = rng.normal(float(su), 0.15 * (hi - lo), n)
            fv = rng.uniform(dip_lo, dip_hi, n)
            fw = rng.normal(0.0, syn.fault_spread_km, n)
            off = rng.uniform(size=n) < syn.off_fault_fraction
            fw[off] = rng.uniform(-8.0, 8.0, off.sum())
        u.append(fu)
        v.append(fv)
        w.append(fw)
    day = np.concatenate(days) if days else np.zeros(0)
    fu, fv, fw = (np.concatenate(x) if x else np.zeros(0) for x in (u, v, w))
    kind = np.concatenate(kinds) if kinds else np.zeros(0, dtype=object)
    change = syn.composition_change
    post = np.zeros(len(day), dtype=bool)
    if change.active:
        main_day = (pd.Timestamp(world.mainshock.time) - t0).total_seconds() / 86400.0
        post = (day >= main_day) & ~np.char.startswith(kind.astype(str), "region:")
        day, fu, fv = shift_composition(
            change, np.random.default_rng([syn.seed, 5]), post, day, fu, fv,
            t0.value / DAY_NS, main_day, span_days,
            frame.dip_range(change.depth_km or syn.depth_km),
        )  # fmt: skip
    enu = frame.to_enu(fu, fv, fw)
    lat, lon, depth = frame.geographic(enu)
    depth = np.clip(depth, 0.2, None)

    n = len(day)
    mc, mmax, b = syn.completeness, syn.max_magnitude, syn.b_value
    mag = mc - np.log10(1.0 - rng.uniform(size=n) * (1.0 - 10.0 ** (-b * (mmax - mc)))) / b
    drop = syn.stress_drop_mpa * np.exp(syn.stress_drop_log_sigma * rng.normal(size=n))
    mag = mag + change.magnitude_shift * post
    origin_ns = t0.value + np.rint(day * DAY_NS).astype(np.int64)

    shocks = [s for s in [world.mainshock, *world.shocks] if t0 <= pd.Timestamp(s.time) <= t1]
    if shocks:
        sh_enu = np.stack([frame.enu(s.latitude, s.longitude, s.depth_km) for s in shocks])
        s_lat, s_lon, s_dep = frame.geographic(sh_enu)
        origin_ns = np.concatenate([origin_ns, [pd.Timestamp(s.time).value for s in shocks]])
        lat, lon, depth = (np.concatenate(x) for x in ((lat, s_lat), (lon, s_lon), (depth, s_dep)))
        mag = np.concatenate([mag, [s.magnitude for s in shocks]])
        drop = np.concatenate([drop, np.full(len(shocks), syn.stress_drop_mpa)])
        kind = np.concatenate([kind, np.array([f"shock:{s.name}" for s in shocks], dtype=object)])
        fu, fv, fw = frame.to_fault(frame.enu(lat, lon, depth))

    order = np.argsort(origin_ns, kind="stable")
    df = pd.DataFrame(
        {
            "source_id": [str(i + 1) for i in range(len(order))],
            "source_origin_time": pd.to_datetime(origin_ns[order], utc=True),
            "source_latitude_deg": lat[order],
            "source_longitude_deg": lon[order],
            "source_depth_km": depth[order],
            "source_magnitude": mag[order],
            "stress_drop_mpa": drop[order],
            "moment_nm": moment(mag[order]),
            "corner_hz": brune_fc(mag[order], drop[order]),
            "kind": pd.array(kind[order], dtype="str"),
            "along_strike_km": fu[order],
            "down_dip_km": fv[order],
            "fault_normal_km": fw[order],
        }
    )
    return _catalog_columns(df, rng, syn.location_error_km)


def shift_composition(
    change: CompositionChange,
    rng: np.random.Generator,
    post: np.ndarray,
    day: np.ndarray,
    fu: np.ndarray,
    fv: np.ndarray,
    start_day: float,
    main_day: float,
    span_days: float,
    dip_range: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times and places of the post-mainshock events (mask `post`) under the change.

    Along strike and down dip are redrawn uniformly in the change's ranges; with `hours_utc`
    each post event moves forward (by less than a day, so it stays after the mainshock) to
    a uniformly drawn hour of that window, or back one day where that would leave the span.
    Own generator: the draws of the unchanged sequence stay as they are.
    """
    day, fu, fv = day.copy(), fu.copy(), fv.copy()
    m = int(post.sum())
    draws = rng.uniform(size=(3, m))
    if change.along_strike_km is not None:
        lo, hi = change.along_strike_km
        fu[post] = lo + (hi - lo) * draws[0]
    if change.depth_km is not None:
        fv[post] = dip_range[0] + (dip_range[1] - dip_range[0]) * draws[1]
    if change.hours_utc is not None:
        h1, h2 = change.hours_utc
        absolute = start_day + day[post]  # days since 1970
        target = np.floor(absolute) + (h1 + (h2 - h1) * draws[2]) / 24.0
        target = np.where(target < absolute, target + 1.0, target) - start_day
        back = target - 1.0
        target = np.where((target > span_days) & (back >= main_day), back, target)
        day[post] = np.where(target > span_days, day[post], target)
    return day, fu, fv


def _catalog_columns(df: pd.DataFrame, rng, loc_err_km: float) -> pd.DataFrame:
    """What a catalog reports: perturbed locations, rounded Mw, ML, errors, some NaN."""
    n = len(df)
    km_lat = KM_PER_DEGREE
    km_lon = km_lat * np.cos(np.radians(df["source_latitude_deg"].to_numpy()))
    err = rng.normal(0.0, loc_err_km, (n, 3))
    df["cat_latitude"] = np.round(df["source_latitude_deg"] + err[:, 0] / km_lat, 5)
    df["cat_longitude"] = np.round(df["source_longitude_deg"] + err[:, 1] / km_lon, 5)
    df["cat_depth_km"] = np.round(np.clip(df["source_depth_km"] + err[:, 2], 0.0, None), 3)
    mw = np.round(df["source_magnitude"] + rng.normal(0.0, 0.05, n), 2)
    ml = np.round(1.5 * (df["source_magnitude"] - 1.15) + rng.normal(0.0, 0.15, n), 2)
    mw[rng.uniform(size=n) < 0.02] = np.nan
    ml[rng.uniform(size=n) < 0.01] = np.nan
    df["cat_mw"], df["cat_ml"] = mw, ml
    df["eh1_km"] = np.round(loc_err_km + rng.gamma(2.0, 0.05, n), 3)
    df["eh2_km"] = np.round(df["eh1_km"] * rng.uniform(0.5, 1.0, n), 3)
    df["az_deg"] = np.round(rng.uniform(0.0, 180.0, n), 1)
    df["ez_km"] = np.round(loc_err_km + rng.gamma(2.0, 0.08, n), 3)
    return df
