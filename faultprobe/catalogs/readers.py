"""Earthquake catalog readers: Tan et al. (2021) text, QuakeML, FDSN event text and CSV.

Every reader returns a `CatalogRead`: one normalised DataFrame (columns `CATALOG_COLUMNS`,
origin times in UTC) and the rows it could not use, each with its line (or item) number and
the reason.  A file that cannot be read at all raises `CatalogError` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.config import CatalogSource
from faultprobe.errors import InputError

CATALOG_COLUMNS = [
    "source_id",
    "source_origin_time",
    "source_latitude_deg",
    "source_longitude_deg",
    "source_depth_km",
    "mw",
    "ml",
    "source_magnitude",
    "source_magnitude_type",
]

#: The columns of a catalog as read, before the selection magnitude is chosen.
_READ_COLUMNS = CATALOG_COLUMNS[:7]

#: Analyst picks of a QuakeML catalog (P phases only): one row per pick.
PICK_COLUMNS = [
    "source_id",
    "station_network_code",
    "station_code",
    "station_location_code",
    "trace_channel",
    "trace_p_phase",
    "trace_p_arrival_time",
    "trace_p_status",
    "preferred_origin",
]
#: The phase hints kept as P picks (the first P: direct, crustal or head wave)
P_PHASES = ("P", "Pg", "Pn")

TAN_COLUMNS = [
    "year", "month", "day", "hour", "minute", "second",
    "latitude", "longitude", "depth_km", "eh1", "eh2", "az", "ez", "ml", "mw", "id",
]  # fmt: skip
_TAN_REQUIRED = ["year", "month", "day", "hour", "minute", "second", "latitude", "longitude", "depth_km", "id"]  # fmt: skip


class CatalogError(InputError, ValueError):
    """A catalog file that cannot be read at all."""


@dataclass(frozen=True)
class RowProblem:
    """A catalog row (or QuakeML event) that could not be used."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class CatalogRead:
    """A normalised catalog and the rows that were left out while reading it."""

    events: pd.DataFrame
    problems: list[RowProblem] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)  # ids whose later row replaced one
    picks: pd.DataFrame | None = None  # P picks (PICK_COLUMNS); None: a format without picks


def _problems(path: str, lines: np.ndarray, reason: str | np.ndarray) -> list[RowProblem]:
    reasons = np.broadcast_to(np.asarray(reason, dtype=object), np.shape(lines))
    return [RowProblem(path, int(n), str(r)) for n, r in zip(lines, reasons)]


def choose_magnitude(mw: np.ndarray, ml: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    """The selection magnitude and its type: 'mw', 'ml', or 'best' (Mw where present, else ML)."""
    mw = np.asarray(mw, dtype=float)
    ml = np.asarray(ml, dtype=float)
    if which == "mw":
        return mw, np.where(np.isnan(mw), "", "Mw")
    if which == "ml":
        return ml, np.where(np.isnan(ml), "", "ML")
    use_mw = ~np.isnan(mw)
    mag = np.where(use_mw, mw, ml)
    return mag, np.where(use_mw, "Mw", np.where(np.isnan(ml), "", "ML"))


def _finish(df: pd.DataFrame, which: str) -> pd.DataFrame:
    """Add the chosen magnitude and order the columns."""
    mag, kind = choose_magnitude(df["mw"].to_numpy(), df["ml"].to_numpy(), which)
    df = df.assign(source_magnitude=mag, source_magnitude_type=kind)
    df["source_id"] = df["source_id"].astype(str)
    return df[CATALOG_COLUMNS].reset_index(drop=True)


def _tan_header_lines(path: Path, probe: int = 200) -> int:
    """Number of lines before the first one that parses as 16 numeric fields."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            if i >= probe:
                break
            parts = line.split()
            if len(parts) == 16:
                try:
                    [float(p) for p in parts]
                except ValueError:
                    continue
                return i
    raise CatalogError(
        f"{path}: not a Tan et al. (2021) catalog: no line with 16 numeric fields "
        f"in its first {probe} lines"
    )


def _tan_fast(path: Path, skip: int) -> tuple[pd.DataFrame, np.ndarray, list[RowProblem]]:
    """Parse with pandas' C tokenizer; raises ParserError when a row has too many fields."""
    num = pd.read_csv(
        path, sep=r"\s+", header=None, names=TAN_COLUMNS, skiprows=skip, engine="c",
        skip_blank_lines=False, encoding_errors="replace",
    )  # fmt: skip
    line_no = np.arange(len(num)) + skip + 1
    blank = num.isna().all(axis=1).to_numpy()
    num, line_no = num[~blank], line_no[~blank]
    text = {c: num[c] for c in TAN_COLUMNS if not pd.api.types.is_numeric_dtype(num[c])}
    for c, col in text.items():
        num[c] = pd.to_numeric(col, errors="coerce")
    bad = num[_TAN_REQUIRED].isna().any(axis=1).to_numpy().copy()
    for c in ("ml", "mw"):  # text other than NaN in a magnitude column is a bad row
        if c in text:
            bad |= (num[c].isna() & text[c].notna() & ~text[c].str.lower().eq("nan")).to_numpy()
    return num[~bad], line_no[~bad], _explain_tan_lines(path, line_no[bad])


def _explain_tan_lines(path: Path, lines: np.ndarray) -> list[RowProblem]:
    """Say what is wrong with each of a few bad lines (re-read from the file)."""
    wanted, reasons = set(lines.tolist()), {}
    if not wanted:
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, text in enumerate(f, start=1):
            if n in wanted:
                parts = text.split()
                if len(parts) != 16:
                    reasons[n] = f"expected 16 fields, found {len(parts)}"
                else:
                    bad = [p for p in parts if not _is_number(p)]
                    reasons[n] = f"not a number: {bad[0]!r}" if bad else "a required field is NaN"
                if len(reasons) == len(wanted):
                    break
    return [RowProblem(str(path), n, reasons.get(n, "unreadable row")) for n in sorted(wanted)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tan_ragged(path: Path, skip: int) -> tuple[pd.DataFrame, np.ndarray, list[RowProblem]]:
    """Slower path for files with rows of too many fields: one string per line, then split."""
    raw = pd.read_csv(
        path, sep="\x01", header=None, names=["line"], skiprows=skip, dtype=str,
        skip_blank_lines=False, engine="c", quoting=3, encoding_errors="replace",
    )["line"]  # fmt: skip
    line_no = np.arange(len(raw)) + skip + 1
    blank = (raw.isna() | (raw.str.strip() == "")).to_numpy()
    raw, line_no = raw[~blank], line_no[~blank]
    fields = raw.str.strip().str.split(r"\s+", regex=True, expand=True)
    n_fields = fields.notna().sum(axis=1).to_numpy()
    ragged = n_fields != 16
    problems = _problems(
        str(path),
        line_no[ragged],
        np.char.add("expected 16 fields, found ", n_fields[ragged].astype(str)),
    )
    fields, line_no = fields[~ragged].iloc[:, :16], line_no[~ragged]
    fields.columns = TAN_COLUMNS
    num = fields.apply(pd.to_numeric, errors="coerce")
    bad = num[_TAN_REQUIRED].isna().any(axis=1).to_numpy().copy()
    for c in ("ml", "mw"):
        bad |= (num[c].isna() & ~fields[c].str.lower().eq("nan")).to_numpy()
    problems += _problems(str(path), line_no[bad], "a field is not a number")
    return num[~bad], line_no[~bad], problems


def read_tan2021(path: str | Path, magnitude: str = "mw", revisions: bool = False) -> CatalogRead:
    """Read the Tan et al. (2021) catalog text (header, then 16 whitespace-separated columns)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    skip = _tan_header_lines(path)
    try:
        num, line_no, problems = _tan_fast(path, skip)
    except pd.errors.ParserError:
        num, line_no, problems = _tan_ragged(path, skip)
    parts = num[["year", "month", "day", "hour", "minute"]].astype("int64")
    whole = pd.to_datetime(parts, errors="coerce", utc=True)
    bad_time = whole.isna().to_numpy() | ~num["second"].between(0, 61).to_numpy()
    problems += _problems(str(path), line_no[bad_time], "invalid date or time")
    num, whole, line_no = num[~bad_time], whole[~bad_time], line_no[~bad_time]
    origin = whole + pd.to_timedelta(num["second"].to_numpy(), unit="s")
    df = pd.DataFrame(
        {
            "source_id": num["id"].astype("int64").astype(str).to_numpy(),
            "source_origin_time": pd.DatetimeIndex(origin),
            "source_latitude_deg": num["latitude"].to_numpy(),
            "source_longitude_deg": num["longitude"].to_numpy(),
            "source_depth_km": num["depth_km"].to_numpy(),
            "mw": num["mw"].to_numpy(float),
            "ml": num["ml"].to_numpy(float),
        }
    )
    df, line_no, revised = latest_rows(path, df, line_no, revisions)
    problems += _range_problems(str(path), df, line_no)
    keep = _in_range(df)
    problems = sorted(problems, key=lambda p: p.line)
    return CatalogRead(_finish(df[keep], magnitude), problems, revised)


def latest_rows(
    path: str | Path, df: pd.DataFrame, lines, revisions: bool
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The rows with unique ids: with `revisions` (a live catalog, docs/monitoring.md) a
    repeated id is a revision and its last row stands; else a repeated id is an error."""
    lines = np.asarray(lines)
    if not revisions:
        check_unique_ids(path, df["source_id"], lines)
        return df, lines, []
    ids = df["source_id"].astype(str)
    last = ~ids.duplicated(keep="last").to_numpy()
    revised = sorted(set(ids[~last]))
    return df[last], lines[last], revised


def check_unique_ids(path: str | Path, ids, lines) -> None:
    """Event ids must be unique: a repeated id is an error naming it and its lines."""
    ids = pd.Series(np.asarray(ids, dtype=str))
    dup = ids.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    lines = np.asarray(lines)
    first = ids[dup].iloc[0]
    where = lines[(ids == first).to_numpy()]
    shown = ", ".join(str(int(n)) for n in where[:5]) + (", …" if len(where) > 5 else "")
    n_ids = ids[dup].nunique()
    more = f" ({n_ids} ids are repeated in all)" if n_ids > 1 else ""
    raise CatalogError(
        f"{path}: event id {first} appears on lines {shown}{more}; event ids must be unique: "
        "fix or remove the repeated rows"
    )


def _in_range(df: pd.DataFrame) -> np.ndarray:
    return (
        df["source_latitude_deg"].between(-90, 90)
        & df["source_longitude_deg"].between(-180, 180)
        & df["source_depth_km"].between(-10, 800)
    ).to_numpy()


def _range_problems(path: str, df: pd.DataFrame, line_no: np.ndarray) -> list[RowProblem]:
    bad = ~_in_range(df)
    return _problems(path, line_no[bad], "latitude, longitude or depth out of range")


def _event_id_from_resource(rid: str) -> str:
    """A short event id from a QuakeML resource id (…eventId=123 or …/event/123)."""
    m = re.search(r"eventid=([^&]+)", rid, flags=re.IGNORECASE)
    if m:
        return m.group(1)
    return rid.rstrip("/").rsplit("/", 1)[-1]


def read_quakeml(path: str | Path, magnitude: str = "mw", revisions: bool = False) -> CatalogRead:
    """Read QuakeML with ObsPy; events without an origin are reported by their position."""
    from obspy import read_events

    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    try:
        cat = read_events(str(path))
    except Exception as err:  # ObsPy raises many kinds for unreadable XML
        raise CatalogError(f"{path}: cannot read QuakeML ({err})") from None
    return quakeml_events(cat, str(path), magnitude, revisions)


def quakeml_events(cat, where: str, magnitude: str = "mw", revisions: bool = False) -> CatalogRead:
    """An ObsPy Catalog (a QuakeML file, an FDSN event service's answer) as a normalised
    catalog; events without an origin are reported by their position in `where`."""
    path = where
    rows, problems, items, picks = [], [], [], []
    for i, ev in enumerate(cat, start=1):
        origin = ev.preferred_origin() or (ev.origins[0] if ev.origins else None)
        eid = _event_id_from_resource(str(ev.resource_id))
        if origin is None or origin.latitude is None or origin.time is None:
            problems.append(RowProblem(str(path), i, f"event {eid} has no usable origin"))
            continue
        picks += [(i, *p) for p in p_picks(ev, origin, eid)]
        mags = {(m.magnitude_type or "").lower(): m.mag for m in ev.magnitudes}
        pref = ev.preferred_magnitude() or (ev.magnitudes[0] if ev.magnitudes else None)
        mw = mags.get("mw", np.nan)
        ml = mags.get("ml", np.nan)
        if pref is not None and np.isnan(mw) and np.isnan(ml):
            # Only another magnitude type: keep it under the selection magnitude.
            mw = ml = pref.mag
        items.append(i)
        rows.append(
            {
                "source_id": eid,
                "source_origin_time": pd.Timestamp(origin.time.datetime, tz="UTC"),
                "source_latitude_deg": origin.latitude,
                "source_longitude_deg": origin.longitude,
                "source_depth_km": (origin.depth or 0.0) / 1000.0,
                "mw": float(mw),
                "ml": float(ml),
            }
        )
    df = pd.DataFrame(rows, columns=_READ_COLUMNS)
    df, kept, revised = latest_rows(f"{path} (event number)", df, items, revisions)
    df["source_origin_time"] = pd.to_datetime(df["source_origin_time"], utc=True)
    table = pd.DataFrame(picks, columns=["item", *PICK_COLUMNS])
    table = table[table["item"].isin(kept)].drop(columns="item").reset_index(drop=True)
    table["trace_p_arrival_time"] = pd.to_datetime(table["trace_p_arrival_time"], utc=True)
    return CatalogRead(
        _finish(df, magnitude), problems, revised, table.astype({"preferred_origin": bool})
    )


def p_picks(ev, origin, eid: str) -> list[tuple]:
    """An ObsPy event's P picks (`P_PHASES`, by the pick's phase hint or else its arrival's
    phase), as PICK_COLUMNS rows; `preferred_origin`: the origin's arrivals use the pick."""
    phase_of, used = {}, set()
    for o in [origin, *(o for o in ev.origins if o is not origin)]:
        for a in o.arrivals:
            key = str(a.pick_id)
            phase_of.setdefault(key, a.phase or "")
            if o is origin:
                used.add(key)
    rows = []
    for p in ev.picks:
        key = str(p.resource_id)
        phase = (p.phase_hint or phase_of.get(key) or "").strip()
        w = p.waveform_id
        if phase not in P_PHASES or p.time is None or w is None or not w.station_code:
            continue
        rows.append((
            eid, w.network_code or "", w.station_code, w.location_code or "",
            w.channel_code or "", phase, pd.Timestamp(p.time.datetime, tz="UTC"),
            p.evaluation_mode or "", key in used,
        ))  # fmt: skip
    return rows


def read_fdsn_text(path: str | Path, magnitude: str = "mw", revisions: bool = False) -> CatalogRead:
    """Read FDSN event text (pipe separated, `#EventID|Time|Latitude|…` header)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().lstrip("#").strip()
    names = [h.strip() for h in header.split("|")]
    needed = {"EventID", "Time", "Latitude", "Longitude", "Depth/Km", "MagType", "Magnitude"}
    if not needed <= set(names):
        raise CatalogError(
            f"{path}: not FDSN event text: header lacks {sorted(needed - set(names))}"
        )
    raw = pd.read_csv(path, sep="|", header=None, names=names, skiprows=1, dtype=str,
                      skip_blank_lines=False, engine="c", on_bad_lines="skip", index_col=False,
                      encoding_errors="replace")  # fmt: skip
    line_no = np.arange(len(raw)) + 2
    blank = raw.isna().all(axis=1).to_numpy()
    raw, line_no = raw[~blank], line_no[~blank]
    t = pd.to_datetime(raw["Time"].str.strip(), utc=True, errors="coerce", format="ISO8601")
    num = raw[["Latitude", "Longitude", "Depth/Km", "Magnitude"]].apply(
        pd.to_numeric, errors="coerce"
    )
    bad = (
        t.isna().to_numpy()
        | num[["Latitude", "Longitude", "Depth/Km"]].isna().any(axis=1).to_numpy()
    )
    problems = _problems(str(path), line_no[bad], "unparseable time or coordinates")
    raw, num, t, line_no = raw[~bad], num[~bad], t[~bad], line_no[~bad]
    mtype = raw["MagType"].fillna("").str.strip().str.lower().to_numpy()
    mag = num["Magnitude"].to_numpy()
    df = pd.DataFrame(
        {
            "source_id": raw["EventID"].str.strip().to_numpy(),
            "source_origin_time": pd.DatetimeIndex(t),
            "source_latitude_deg": num["Latitude"].to_numpy(),
            "source_longitude_deg": num["Longitude"].to_numpy(),
            "source_depth_km": num["Depth/Km"].to_numpy(),
            # Text rows carry one magnitude: file it under its type, others under both.
            "mw": np.where(mtype == "ml", np.nan, mag),
            "ml": np.where(mtype == "mw", np.nan, mag),
        }
    )
    df["source_origin_time"] = pd.to_datetime(df["source_origin_time"], utc=True)
    df, line_no, revised = latest_rows(path, df, line_no, revisions)
    problems += _range_problems(str(path), df, line_no)
    return CatalogRead(_finish(df[_in_range(df)], magnitude), problems, revised)


def read_csv_catalog(
    path: str | Path, source: CatalogSource, revisions: bool = False
) -> CatalogRead:
    """Read a CSV catalog using the column mapping of the config."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    cols = source.columns
    raw = pd.read_csv(
        path, sep=source.delimiter, dtype=str, skip_blank_lines=False, encoding_errors="replace"
    )
    parts_cols = [cols.year, cols.month, cols.day, cols.hour, cols.minute, cols.second]
    by_parts = cols.year is not None
    if by_parts and not all(parts_cols):
        raise CatalogError(f"{path}: give all of year, month, day, hour, minute, second columns")
    if not by_parts and not cols.time:
        raise CatalogError(f"{path}: give a 'time' column or year … second columns")
    required = [cols.latitude, cols.longitude, cols.depth_km, cols.magnitude]
    required += parts_cols if by_parts else [cols.time]
    required += [c for c in (cols.magnitude_type, cols.event_id) if c]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise CatalogError(
            f"{path}: CSV lacks the mapped columns {missing} (has {list(raw.columns)})"
        )
    line_no = np.arange(len(raw)) + 2
    blank = raw.isna().all(axis=1).to_numpy()
    raw, line_no = raw[~blank], line_no[~blank]
    if not by_parts:
        t = pd.to_datetime(raw[cols.time].str.strip(), utc=True, errors="coerce", format="ISO8601")
    else:
        parts = raw[parts_cols[:5]].apply(pd.to_numeric, errors="coerce")
        parts.columns = ["year", "month", "day", "hour", "minute"]
        sec = pd.to_numeric(raw[cols.second], errors="coerce")
        t = pd.to_datetime(parts, errors="coerce", utc=True) + pd.to_timedelta(
            sec.to_numpy(), unit="s"
        )
    num = pd.DataFrame(
        {
            k: pd.to_numeric(raw[getattr(cols, k)], errors="coerce")
            for k in ("latitude", "longitude", "depth_km", "magnitude")
        }
    )
    bad = (
        t.isna().to_numpy()
        | num[["latitude", "longitude", "depth_km"]].isna().any(axis=1).to_numpy()
    )
    problems = _problems(str(path), line_no[bad], "unparseable time or coordinates")
    raw, num, t, line_no = raw[~bad], num[~bad], t[~bad], line_no[~bad]
    mtype = (
        raw[cols.magnitude_type].fillna("").str.strip().str.lower().to_numpy()
        if cols.magnitude_type
        else np.full(len(raw), "")
    )
    mag = num["magnitude"].to_numpy()
    ids = raw[cols.event_id].astype(str).to_numpy() if cols.event_id else (line_no - 1).astype(str)
    df = pd.DataFrame(
        {
            "source_id": ids,
            "source_origin_time": pd.DatetimeIndex(t),
            "source_latitude_deg": num["latitude"].to_numpy(),
            "source_longitude_deg": num["longitude"].to_numpy(),
            "source_depth_km": num["depth_km"].to_numpy(),
            "mw": np.where(mtype == "ml", np.nan, mag),
            "ml": np.where(mtype == "mw", np.nan, mag),
        }
    )
    df, line_no, revised = latest_rows(path, df, line_no, revisions)
    problems += _range_problems(str(path), df, line_no)
    return CatalogRead(_finish(df[_in_range(df)], source.magnitude), problems, revised)


TAN2021_ORIGIN = (
    "the Tan et al. (2021) catalog is file Amatrice_CAT5.v20210325 of Zenodo record "
    "https://doi.org/10.5281/zenodo.4662870"
)


def read_catalog(source: CatalogSource, revisions: bool = False) -> CatalogRead:
    """Read the catalog a config names, in its format; a file that is missing or cannot be
    read is a `CatalogError` naming it, the config key and where the file comes from.
    With `revisions` (a live catalog) a repeated id is a revision: its last row stands."""
    if source.format in ("seisbench", "laurenti2024"):  # a dataset folder's metadata
        from faultprobe.catalogs.datasets import DatasetError, catalog_from_traces, read_traces

        try:
            return CatalogRead(catalog_from_traces(read_traces(source.path, source.format)))
        except DatasetError as err:
            raise CatalogError(str(err)) from None
    path = Path(source.path)
    if not path.is_file():
        origin = source.origin or (TAN2021_ORIGIN if source.format == "tan2021" else None)
        hint = f"; {origin}: download it and point catalog.path at it" if origin else ""
        raise CatalogError(f"{path}: catalog file not found (catalog.path){hint}")
    try:
        if source.format == "tan2021":
            return read_tan2021(source.path, source.magnitude, revisions)
        if source.format == "quakeml":
            return read_quakeml(source.path, source.magnitude, revisions)
        if source.format == "fdsn_text":
            return read_fdsn_text(source.path, source.magnitude, revisions)
        return read_csv_catalog(source.path, source, revisions)
    except OSError as err:
        raise CatalogError(f"{path}: cannot read the catalog ({err.strerror or err})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise CatalogError(f"{path}: not a {source.format} catalog ({first})") from None
