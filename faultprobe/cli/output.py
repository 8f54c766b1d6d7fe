"""What a command shows on stderr while it runs: the package's log lines and progress bars.

Every module logs to `logging.getLogger(__name__)` and draws bars through
`faultprobe.progress`; only the command line attaches a handler (to the `faultprobe`
logger) and turns bars on. Default: info lines as plain text and bars; `-q`: warnings and
errors only, no bars; `-v`: debug lines too, each named by its logger. One part can still be
turned up or down on its own: `logging.getLogger("faultprobe.pipelines").setLevel(...)`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

from faultprobe.progress import bars_shown

PACKAGE = "faultprobe"


class _Stderr(logging.Handler):
    """Writes each line to the current `sys.stderr`, above any progress bar drawn there."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


class _Lines(logging.Formatter):
    """Info and above as written; debug lines prefixed with their logger's name."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno >= logging.INFO else f"debug {record.name}: {text}"


def level_of(args: argparse.Namespace) -> int:
    """WARNING with -q, DEBUG with -v, else INFO (-q wins over -v)."""
    if getattr(args, "quiet", False):
        return logging.WARNING
    return logging.DEBUG if getattr(args, "verbose", False) else logging.INFO


@contextlib.contextmanager
def terminal(level: int = logging.INFO) -> Iterator[None]:
    """Show the package's log lines at `level` on stderr, and its bars unless quieter than
    INFO, for the block; the logger's level and handlers are restored after."""
    logger = logging.getLogger(PACKAGE)
    handler = _Stderr()
    handler.setFormatter(_Lines("%(message)s"))
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        with bars_shown(level <= logging.INFO):
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)
