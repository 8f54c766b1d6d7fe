"""A study config as commented TOML: every value with a note beside it saying where it came from."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faultprobe.config import _toml_value

WIDTH = 92
COMMENT_COLUMN = 38


@dataclass
class Entry:
    """`key = value  # comment`; a list with `item_comments` is written one item a line."""

    key: str
    value: Any
    comment: str = ""
    item_comments: list[str] | None = None


@dataclass
class Section:
    """A `[table]` (or `[[array]]` item) with comment lines above it."""

    name: str
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    array: bool = False

    def add(self, key: str, value: Any, comment: str = "", items: list[str] | None = None):
        self.entries.append(Entry(key, value, comment, items))
        return self


def value_text(v: Any) -> str:
    """TOML text of a value; date-times in UTC with whole seconds where they are whole."""
    if isinstance(v, datetime):
        v = v.astimezone(UTC)
        if v.microsecond == 0:
            return v.strftime("%Y-%m-%dT%H:%M:%SZ")
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(v, float):
        return repr(round(v, 6))
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    return _toml_value(v)


def comment_lines(text: str, indent: str = "") -> list[str]:
    """`# ` lines wrapped at `WIDTH`."""
    out = []
    for para in text.split("\n"):
        out += textwrap.wrap(para, WIDTH - 2 - len(indent)) or [""]
    return [f"{indent}# {line}".rstrip() for line in out]


def _entry(e: Entry) -> list[str]:
    if e.item_comments is not None:
        lines = [f"{e.key} = ["]
        width = max((len(value_text(x)) for x in e.value), default=0) + 1
        for x, note in zip(e.value, e.item_comments):
            item = f"    {value_text(x) + ',':<{width}}"
            lines.append(f"{item}  # {note}" if note else item.rstrip())
        head = lines[0] + (f"  # {e.comment}" if e.comment else "")
        return [head, *lines[1:], "]"]
    text = f"{e.key} = {value_text(e.value)}"
    if not e.comment:
        return [text]
    pad = max(COMMENT_COLUMN, len(text) + 2)
    if pad + 2 + len(e.comment) <= WIDTH:
        return [f"{text:<{pad}}# {e.comment}"]
    return [*comment_lines(e.comment), text]


def render(sections: list[Section], header: list[str], footer: list[str] = ()) -> str:
    """The whole file: header comments, then each section with its notes and entries."""
    out = [line for text in header for line in comment_lines(text)]
    for s in sections:
        out.append("")
        out += [line for text in s.notes for line in comment_lines(text)]
        out.append(f"[[{s.name}]]" if s.array else f"[{s.name}]")
        for e in s.entries:
            out += _entry(e)
    if footer:
        out.append("")
        out += [f"# {line}".rstrip() for line in footer]
    return "\n".join(out) + "\n"
