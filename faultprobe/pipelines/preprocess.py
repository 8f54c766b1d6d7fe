"""Raw traces of a block -> the cube's arrays, vectorised over the batch.

Per window, the traces are placed on one native-rate grid (gaps stay NaN, overlaps are
checked); then, for all windows of one native rate at once: missing components, gaps,
clipping and dead channels are detected, gaps are filled, the data are resampled to the
study rate with an anti-aliasing polyphase filter (e.g. 125 -> 100 Hz), 1/2 components
are rotated to E/N, the window is cut on the sample grid, and the optional detrend,
response removal and band-pass are applied with NumPy/SciPy over the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy import signal

from faultprobe.dsp import bandpass, detrend
from faultprobe.pipelines.sources import Fetched
from faultprobe.pipelines.status import Status, worst

COMPONENTS = ("E", "N", "Z")
NS = 10**9


@dataclass(frozen=True)
class Settings:
    """The preprocessing part of the config, as plain values."""

    sampling_rate: float
    window_s: tuple[float, float]
    pad_s: float
    max_gap_s: float
    detrend: str = "none"  # none | demean | linear
    bandpass_hz: tuple[float, float] | None = None
    clip_counts: float = 8_388_000.0
    clip_run: int = 5

    @property
    def n_samples(self) -> int:
        return int(round((self.window_s[1] - self.window_s[0]) * self.sampling_rate))


@dataclass
class Native:
    """One window on its native grid: (3, L) samples (NaN = no data) from `anchor_ns`."""

    data: np.ndarray
    anchor_ns: int
    rate: float
    azimuths: tuple[float, float] | None  # of components 1 and 2, when rotated later
    notes: list[str]
    seed_ids: list[str | None]  # per component E, N, Z (None where absent)
    nonfinite: np.ndarray | None = None  # (3, L) True where a record held NaN or Inf


@dataclass
class Batch:
    """Preprocessed windows of a block, flattened (event-major) over (event, station)."""

    waveform: np.ndarray  # (n, 3, T) float32
    status: np.ndarray  # (n,) int8
    reason: list[str]
    start_ns: np.ndarray  # (n,) int64, time of the first sample (NaT = int64 min)
    snr: np.ndarray  # (n,) float32
    seed_ids: list[list[str | None]] = field(default_factory=list)  # (n,) x (E, N, Z) as read


def to_native(
    stream, fetch_start_ns: int, fetch_len_s: float, orientation: dict | None = None
) -> Native | tuple[str, str]:
    """Place a window's traces on one native-rate grid; (status, reason) when impossible."""
    by_comp: dict[str, list] = {}
    for seg in stream:
        by_comp.setdefault(seg.channel[-1:], []).append(seg)
    rates = {round(seg.rate, 6) for seg in stream}
    if len(rates) != 1:
        return "bad_rate", f"mixed sampling rates {sorted(rates)} Hz in one window"
    rate = rates.pop()
    notes: list[str] = []
    azimuths = None
    if "E" not in by_comp and "N" not in by_comp and ("1" in by_comp or "2" in by_comp):
        a1, a2 = 0.0, 90.0
        tr = (by_comp.get("1") or by_comp.get("2"))[0]
        key = tr.seed_id[:-1]
        if orientation and key + "1" in orientation and key + "2" in orientation:
            a1, a2 = orientation[key + "1"], orientation[key + "2"]
            notes.append(f"1/2 rotated to N/E (azimuths {a1:g}, {a2:g})")
        else:
            notes.append("1/2 taken as N/E (no orientation given)")
        azimuths = (a1, a2)
        by_comp = {"E": by_comp.get("2", []), "N": by_comp.get("1", []), "Z": by_comp.get("Z", [])}
    ref = (by_comp.get("Z") or by_comp.get("N") or by_comp.get("E") or [None])[0]
    if ref is None:
        return "missing_component", f"no E/N/Z or 1/2/Z channels (got {sorted(by_comp)})"
    ref_ns = ref.start_ns
    step = NS / rate
    k = np.ceil((fetch_start_ns - ref_ns) / step)
    anchor = ref_ns + int(round(k * step))  # integer ns: float64 cannot hold epoch ns
    n = int(round(fetch_len_s * rate))
    data = np.full((3, n), np.nan)
    nonfinite = None
    conflicts = 0
    for c, comp in enumerate(COMPONENTS):
        for tr in sorted(by_comp.get(comp, []), key=lambda t: t.start_ns):
            off = int(round((tr.start_ns - anchor) / step))
            x = np.asarray(tr.data, dtype=np.float64)
            lo, hi = max(0, -off), min(len(x), n - off)
            if hi <= lo:
                continue
            target = data[c, off + lo : off + hi]
            seen = ~np.isnan(target)
            conflicts += int(np.count_nonzero(target[seen] != x[lo:hi][seen]))
            data[c, off + lo : off + hi] = np.where(seen, target, x[lo:hi])
            bad = ~np.isfinite(x[lo:hi])
            if bad.any():  # NaN or Inf in a record: kept apart from missing samples
                if nonfinite is None:
                    nonfinite = np.zeros((3, n), bool)
                nonfinite[c, off + lo : off + hi] |= bad & ~seen
    if nonfinite is not None:
        data[nonfinite] = np.nan
    if conflicts:
        notes.append(f"overlapping records disagree on {conflicts} samples; first kept")
    seeds = [by_comp[c][0].seed_id if by_comp.get(c) else None for c in COMPONENTS]
    return Native(data, anchor, rate, azimuths, notes, seeds, nonfinite)


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN along the last axis (rows without data -> 0)."""
    x = x.copy()
    bad = np.isnan(x)
    rows = np.flatnonzero(bad.reshape(-1, x.shape[-1]).any(axis=1))
    flat = x.reshape(-1, x.shape[-1])
    badf = bad.reshape(-1, x.shape[-1])
    idx = np.arange(x.shape[-1])
    for r in rows:  # only rows with gaps; each filled in one vectorised call
        good = ~badf[r]
        flat[r] = np.interp(idx, idx[good], flat[r, good]) if good.any() else 0.0
    return x


def _runs_at_extreme(w: np.ndarray, run: int) -> np.ndarray:
    """True where a (row, component) sits at its extreme value for `run` samples in a row."""
    a = np.abs(np.nan_to_num(w))
    peak = a.max(axis=-1, keepdims=True)
    at = (a == peak) & (peak > 0)
    c = np.cumsum(at, axis=-1, dtype=np.int32)
    c = np.concatenate([np.zeros(c.shape[:-1] + (1,), np.int32), c], axis=-1)
    return (c[..., run:] - c[..., :-run] >= run).any(axis=-1)


def _resample(x: np.ndarray, rate: float, target: float) -> tuple[np.ndarray, str | None]:
    if abs(rate - target) < 1e-9:
        return x, None
    ratio = Fraction(target / rate).limit_denominator(64)
    if abs(float(ratio) - target / rate) > 1e-9 or rate < target:
        return x, f"sampling rate {rate:g} Hz cannot be brought to {target:g} Hz"
    y = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    return y, None


def process(
    items: list[Fetched],
    windows_ns: np.ndarray,
    p_ns: np.ndarray,
    s: Settings,
    orientation: dict | None = None,
    responses=None,
) -> Batch:
    """Turn fetched windows into the block's arrays, statuses and reasons.

    `windows_ns` is the window start (P + window_s[0]) of each item; NaT (int64 min) marks
    a pair without a P time, which then has status 'error'.
    """
    n, T = len(items), s.n_samples
    out = np.full((n, 3, T), np.nan, dtype=np.float32)
    status = np.zeros(n, dtype=np.int8)
    reason = [""] * n
    start = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    snr = np.full(n, np.nan, dtype=np.float32)
    seeds: list[list[str | None]] = [[None, None, None] for _ in range(n)]
    natives: dict[float, list[tuple[int, Native]]] = {}
    fetch_len = (s.window_s[1] - s.window_s[0]) + 2 * s.pad_s
    for i, it in enumerate(items):
        if it.stream is None:
            status[i], reason[i] = Status.of(it.status), it.reason
            continue
        nat = to_native(it.stream, int(windows_ns[i]) - int(s.pad_s * NS), fetch_len, orientation)
        if isinstance(nat, tuple):
            status[i], reason[i] = Status.of(nat[0]), nat[1]
            continue
        nat.notes = it.notes + nat.notes
        seeds[i] = list(nat.seed_ids)
        natives.setdefault(nat.rate, []).append((i, nat))
    for rate, group in natives.items():
        _process_rate(group, rate, windows_ns, s, out, status, reason, start, responses)
    ok = ~np.isnan(out[:, 2]).all(axis=-1)  # every trace with a Z component
    if ok.any():
        snr[ok] = _snr(out[ok], p_ns[ok] - start[ok], s.sampling_rate)
    return Batch(out, status, reason, start, snr, seeds)


def _process_rate(
    group, rate, windows_ns, s: Settings, out, status, reason, start, responses
) -> None:
    idx = np.array([i for i, _ in group])
    x = np.stack([nat.data for _, nat in group])  # (m, 3, L)
    anchors = np.array([nat.anchor_ns for _, nat in group], dtype=np.int64)
    notes = [list(nat.notes) for _, nat in group]
    m = len(group)
    code = np.zeros(m, dtype=np.int8)
    why: list[list[str]] = [[] for _ in range(m)]
    ws = windows_ns[idx]
    # The window on the native grid, for the checks.
    n_nat = int(round((s.window_s[1] - s.window_s[0]) * rate))
    i0 = np.round((ws - anchors) * rate / NS).astype(np.int64)
    take = np.clip(i0[:, None] + np.arange(n_nat)[None, :], 0, x.shape[-1] - 1)
    w = np.take_along_axis(x, take[:, None, :], axis=-1)
    nan = np.isnan(w)
    nonfinite = np.zeros_like(nan)
    for r, (_, nat) in enumerate(group):
        if nat.nonfinite is not None:
            nonfinite[r] = np.take_along_axis(nat.nonfinite, take[r][None, :].repeat(3, 0), -1)
    n_nonfinite = nonfinite.sum(axis=(-2, -1))
    missing = nan & ~nonfinite
    empty = nan.all(axis=-1)  # (m, 3)
    zero = ~empty & (np.nan_to_num(np.abs(w)).max(axis=-1) == 0)
    dead = empty | zero
    gap_s = np.where(empty, 0, missing.sum(axis=-1)).max(axis=-1) / rate  # present components
    partial_gap = (missing.any(axis=-1) & ~empty).any(axis=-1)
    clipped = (np.nan_to_num(np.abs(w)).max(axis=-1) >= s.clip_counts) | _runs_at_extreme(
        w, s.clip_run
    )
    clipped = (clipped & ~dead).any(axis=-1)
    y, bad = _resample(_fill_nan(x), rate, s.sampling_rate)
    for r in range(m):
        if bad:
            code[r], why[r] = Status.BAD_RATE, [bad]
            continue
        if dead.all(axis=-1)[r] and n_nonfinite[r]:
            code[r] = Status.NON_FINITE
            why[r].append(f"{int(n_nonfinite[r])} non-finite samples (NaN/Inf), no finite ones")
            continue
        if dead.all(axis=-1)[r]:
            code[r] = Status.NO_DATA
            why[r].append(
                "all samples zero (dead channel)" if zero[r].any() else "no samples in the window"
            )
            continue
        if dead[r].any():
            code[r] = Status.MISSING_COMPONENT
            for c in np.flatnonzero(dead[r]):
                why[r].append(f"{COMPONENTS[c]} {'all zero' if zero[r, c] else 'missing'}")
        if partial_gap[r]:
            if gap_s[r] > s.max_gap_s:
                code[r] = worst(code[r : r + 1], np.array([Status.GAP]))[0]
                why[r].append(f"gap of {gap_s[r]:.2f} s in the window")
            else:
                why[r].append(f"filled gap of {gap_s[r]:.2f} s")
        if clipped[r]:
            code[r] = worst(code[r : r + 1], np.array([Status.CLIPPED]))[0]
            why[r].append("clipped (flat top at the peak value)")
        if n_nonfinite[r]:
            code[r] = worst(code[r : r + 1], np.array([Status.NON_FINITE]))[0]
            comps = "".join(COMPONENTS[c] for c in np.flatnonzero(nonfinite[r].any(axis=-1)))
            why[r].append(
                f"{int(n_nonfinite[r])} non-finite samples (NaN/Inf) in {comps}; NaN there"
            )
    if bad:
        status[idx] = code
        for r, i in enumerate(idx):
            reason[i] = "; ".join(notes[r] + why[r])
        return
    if rate != s.sampling_rate:
        for r in range(m):
            notes[r].append(f"resampled {rate:g} -> {s.sampling_rate:g} Hz")
    j0 = np.round((ws - anchors) * s.sampling_rate / NS).astype(np.int64)
    T = s.n_samples
    take = np.clip(j0[:, None] + np.arange(T)[None, :], 0, y.shape[-1] - 1)
    cut = np.take_along_axis(y, take[:, None, :], axis=-1)
    # Rotation of 1/2 to E/N (rows that had them): E = sum sin(az) c, N = sum cos(az) c.
    for r, (_, nat) in enumerate(group):
        if nat.azimuths is not None and nat.azimuths != (0.0, 90.0):
            a1, a2 = np.radians(nat.azimuths)
            c1, c2 = cut[r, 1].copy(), cut[r, 0].copy()
            cut[r, 0] = np.sin(a1) * c1 + np.sin(a2) * c2
            cut[r, 1] = np.cos(a1) * c1 + np.cos(a2) * c2
    # Put the missing samples back as NaN (mapped from the native grid).
    holes = np.flatnonzero(nan.any(axis=-1).any(axis=-1) & (code != Status.NO_DATA))
    if len(holes):
        t_out = (
            j0[holes, None] * NS / s.sampling_rate + np.arange(T)[None, :] * NS / s.sampling_rate
        )
        k = np.clip(
            np.floor((t_out - (ws[holes, None] - anchors[holes, None])) * rate / NS + 1e-6).astype(
                np.int64
            ),
            0,
            n_nat - 1,
        )
        hole_mask = np.take_along_axis(nan[holes], k[:, None, :], axis=-1)
        fill_ok = (gap_s[holes] <= s.max_gap_s) & (n_nonfinite[holes] == 0)
        hole_mask[fill_ok] &= dead[holes][fill_ok][:, :, None]
        cut[holes] = np.where(hole_mask, np.nan, cut[holes])
    if s.detrend != "none":
        cut = detrend(cut, s.detrend)
    if responses is not None:
        from faultprobe.pipelines.response import remove_response

        t_ns = anchors + np.round(j0 * NS / s.sampling_rate).astype(np.int64)
        seeds = [nat.seed_ids for _, nat in group]
        cut, problems = remove_response(cut, seeds, t_ns, responses, s.sampling_rate)
        for r, problem in enumerate(problems):
            if problem and code[r] != Status.NO_DATA:
                code[r] = Status.ERROR
                why[r].append(problem)
    if s.bandpass_hz is not None:
        cut = bandpass(np.nan_to_num(cut), s.bandpass_hz, s.sampling_rate, taper=0.05)
    nodata = code == Status.NO_DATA
    cut[nodata] = np.nan
    out[idx] = cut.astype(np.float32)
    status[idx] = code
    start[idx] = anchors + np.round(j0 * NS / s.sampling_rate).astype(np.int64)
    for r, i in enumerate(idx):
        reason[i] = "; ".join(notes[r] + why[r])


def _snr(w: np.ndarray, p_offset_ns: np.ndarray, rate: float) -> np.ndarray:
    """Z-component RMS ratio: [P, P+5 s] over [P-5 s, P-0.5 s] (demeaned on the noise)."""
    z = w[:, 2, :].astype(np.float64)
    p = np.round(p_offset_ns * rate / NS).astype(np.int64)
    t = np.arange(z.shape[-1])[None, :]
    noise = (t >= p[:, None] - int(5 * rate)) & (t < p[:, None] - int(0.5 * rate))
    sig = (t >= p[:, None]) & (t < p[:, None] + int(5 * rate))
    mu = np.nansum(np.where(noise, z, 0), axis=1) / np.maximum(noise.sum(1), 1)
    d = (z - mu[:, None]) ** 2
    rn = np.sqrt(np.nansum(np.where(noise, d, 0), axis=1) / np.maximum(noise.sum(1), 1))
    rs = np.sqrt(np.nansum(np.where(sig, d, 0), axis=1) / np.maximum(sig.sum(1), 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rs / rn).astype(np.float32)
