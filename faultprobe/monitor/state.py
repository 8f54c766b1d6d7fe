"""The monitoring store: its tables, its cube and the commit that makes a batch count.

MONITOR/ (default STORE/monitor) holds waveforms.zarr (the monitoring cube), events.parquet
(the monitored events, in commit order), traces.parquet (what happened to every event and
station), predictions.parquet (the run's class probabilities, the post score and whether
the event is post-like), index.parquet (the index after every event), monitor.parquet (the
lines printed: threshold crossings and change points), pending.parquet (selected events
whose waveforms have not all arrived) and state.json.

A batch is committed by writing state.json (atomic: temporary file, then rename) with the
new count of committed events, after the cube and the tables hold them.  Opening the store
cuts the cube and the tables back to the committed count, so a crash at any point before
the commit leaves the store as it was before the batch (its events are done again) and a
crash after it leaves the batch done: no event is lost or scored twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from faultprobe.errors import InputError
from faultprobe.monitor import mcube
from faultprobe.store import Store

STATE = "state.json"
CUBE = "waveforms.zarr"
EVENTS, TRACES, SCORES = "events.parquet", "traces.parquet", "predictions.parquet"
INDEX, ALERTS, PENDING = "index.parquet", "monitor.parquet", "pending.parquet"


class MonitorError(InputError, ValueError):
    """The monitoring store cannot be used as asked (the message says what to do)."""


@dataclass
class State:
    """What state.json holds."""

    run: str
    committed: int = 0
    cursor: str | None = None  # end of the last event-service query (UTC ISO)
    polls: int = 0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        d = {"run": self.run, "committed": self.committed, "cursor": self.cursor,
             "polls": self.polls, **self.extra}  # fmt: skip
        return json.dumps(d, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        d = json.loads(text)
        known = {k: d.pop(k) for k in ("run", "committed", "cursor", "polls") if k in d}
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
        state = State.from_json(self.store.read_text(STATE))
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
        have = mcube.length(self.cube_url) or 0
        if have < n:
            raise MonitorError(
                f"{self.cube_url} holds {have} events but {self.store.url(STATE)} says "
                f"{n} were committed; the monitoring store was changed by hand: move it away "
                "and start again"
            )
        cut = mcube.truncate(self.cube_url, n)
        ids = set(mcube.event_ids(self.cube_url)[:n]) if n else set()
        for name in (EVENTS, TRACES, SCORES):
            df = self.table(name)
            if df is not None and (~df["event_id"].astype(str).isin(ids)).any():
                self.store.write_table(df[df["event_id"].astype(str).isin(ids)], name)
        return cut

    def committed_ids(self) -> set[str]:
        n = self.state.committed
        return set(mcube.event_ids(self.cube_url)[:n]) if n else set()

    def append_rows(self, name: str, rows: pd.DataFrame) -> pd.DataFrame:
        """The table with `rows` added (atomic rewrite)."""
        old = self.table(name)
        both = rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True)
        self.store.write_table(both, name)
        return both

    def commit(self, n_new: int, **extra) -> None:
        """Make the batch count: one atomic write of state.json."""
        self.state.committed += n_new
        self.state.extra.update(extra)
        self.save()

    def save(self) -> None:
        self.store.write_text(self.state.to_json(), STATE)
