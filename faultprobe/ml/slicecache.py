"""A byte-bounded cache of raw station slices, one per grid worker.

Runs of a grid that read the same stations of the same cube (Table 1's classes and seeds,
the bands grid, the wrong dates) then read the cube once per worker. Least recently used
slices leave first; a slice larger than the whole bound is read but not kept. Thread-safe:
a worker may run several runs at once, and two asking for the same slice read it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


def nbytes(value: Any) -> int:
    """Bytes held by a slice (its arrays); 0 for anything without `x`/`ok`."""
    return int(sum(getattr(getattr(value, a, None), "nbytes", 0) for a in ("x", "ok")))


@dataclass
class SliceCache:
    """LRU of slices keyed by (cube identity, stations, window), at most `max_bytes`."""

    max_bytes: int
    hits: int = 0
    misses: int = 0
    _items: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loading: dict = field(default_factory=dict, repr=False)

    @property
    def bytes(self) -> int:
        return sum(n for _, n in self._items.values())

    def get(self, key: Hashable, load: Callable[[], Any]) -> tuple[Any, bool]:
        """The cached value for `key`, else `load()` (kept if it fits); (value, hit)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0], True
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one reader per key; the others wait and then hit
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key][0], True
                self.misses += 1
            value = load()
            self._put(key, value)
        with self._lock:
            self._loading.pop(key, None)
        return value, False

    def _put(self, key: Hashable, value: Any) -> None:
        size = nbytes(value)
        if size > self.max_bytes:
            return
        with self._lock:
            self._items[key] = (value, size)
            while self.bytes > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
