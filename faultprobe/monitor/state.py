"""The monitoring store: its tables, its cube and the commit that makes a batch count.

MONITOR/ (default STORE/monitor) holds waveforms.zarr (the monitoring cube), events.parquet
(the monitored events, in commit order), traces.parquet (what happened to every event and
station), predictions.parquet (the run's class probabilities, the post score and whether
the event is post-like), index.parquet (the index after every event), monitor.parquet (the
lines printed: threshold crossings and change points), pending.parquet (a copy, for
reading, of the selected events whose waveforms have not all arrived) and state.json.

state.json is the one record of what counts: the number of committed events (the cube's
first ones) and the pending events (id and when each was first selected), written
atomically (temporary file, then rename) as the last step of every commit.  A batch is
written to the cube and the tables first; opening the store cuts every event-axis array
of the cube back to the committed count and drops the table rows of other events, so a
kill at any step before the commit leaves the store as it was before the batch (its events
are done again) and a kill after it leaves the batch done and out of the pending ones: no
event is lost or scored twice (docs/monitoring.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from faultprobe.errors import InputError
from faultprobe.monitor import mcube
from faultprobe.monitor.crashpoints import reached
from faultprobe.store import Store

STATE = "state.json"
CUBE = "waveforms.zarr"
EVENTS, TRACES, SCORES = "events.parquet", "traces.parquet", "predictions.parquet"
INDEX, ALERTS, PENDING = "index.parquet", "monitor.parquet", "pending.parquet"
KEYED = (EVENTS, TRACES, SCORES)  # tables with one or more rows per committed event
FIELDS = ("run", "committed", "cursor", "polls", "pending", "revised")


class MonitorError(InputError, ValueError):
    """The monitoring store cannot be used as asked (the message says what to do)."""


@dataclass
class State:
    """What state.json holds."""

    run: str
    committed: int = 0
    cursor: str | None = None  # end of the last event-service query (UTC ISO)
    polls: int = 0
    pending: dict[str, str] = field(default_factory=dict)  # event id -> first seen (UTC ISO)
    revised: list[str] = field(default_factory=list)  # revised ids already reported
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        d = {k: getattr(self, k) for k in FIELDS}
        return json.dumps({**d, **self.extra}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        d = json.loads(text)
        known = {k: d.pop(k) for k in FIELDS if k in d}
        return cls(**known, extra=d)


class MonitorStore:
    """A monitoring store opened for one run; `recover` on opening."""

    def __init__(self, root: str, run: str, storage_options: dict | None = None):
        self.store = Store(root, storage_options)
        self.store.makedirs()
        self.state = self._read_state(run)
        self.recovered = self.recover()

    @property
    def cube_url(self) -> str:
        return self.store.url(CUBE)

    def _read_state(self, run: str) -> State:
        if not self.store.exists(STATE):
            return State(run=run)
        try:
            state = State.from_json(self.store.read_text(STATE))
        except (ValueError, TypeError) as err:
            raise MonitorError(
                f"{self.store.url(STATE)} is not the monitor's state ({err}); it is written "
                "atomically, so it was changed by hand: restore it or move the store away"
            ) from None
        if state.run != run:
            raise MonitorError(
                f"{self.store.url()} monitors run {state.run}, not {run}; give the monitor "
                "another store ([monitor] store) for another run"
            )
        return state

    def table(self, name: str) -> pd.DataFrame | None:
        return self.store.read_table(name) if self.store.exists(name) else None

    def recover(self) -> int:
        """Cut the cube and the tables back to the committed events; how many were cut."""
        n = self.state.committed
        try:
            cut = mcube.truncate(self.cube_url, n)
        except mcube.CubeError as err:
            raise MonitorError(f"{err}; {self.store.url(STATE)} says {n} events were "
                               "committed: the monitoring store was changed by hand; move "
                               "it away and start again") from None  # fmt: skip
        ids = self.committed_ids()
        for name in KEYED:
            df = self.table(name)
            if df is None:
                continue
            keep = df["source_id"].astype(str).isin(ids).to_numpy()
            if not keep.all():
                self.store.write_table(df[keep].reset_index(drop=True), name)
        stale = [e for e in self.state.pending if e in ids]
        if stale:  # cannot happen (one atomic write), kept as a guard
            self.state.pending = {e: t for e, t in self.state.pending.items() if e not in ids}
            self.save()
        return cut

    def committed_ids(self) -> set[str]:
        n = self.state.committed
        return set(mcube.event_ids(self.cube_url, n)) if n else set()

    def append_rows(self, name: str, rows: pd.DataFrame) -> pd.DataFrame:
        """The table with `rows` added (atomic rewrite)."""
        old = self.table(name)
        both = rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True)
        self.store.write_table(both, name)
        return both

    def commit(self, ids: list[str]) -> None:
        """Make the batch count: its events committed and no longer pending, in one
        atomic write of state.json."""
        self.state.committed += len(ids)
        for e in ids:
            self.state.pending.pop(e, None)
        reached("commit.state")
        self.save()
        reached("commit.done")

    def save(self) -> None:
        self.store.write_text(self.state.to_json(), STATE)
