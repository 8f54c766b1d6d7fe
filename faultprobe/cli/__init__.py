"""The `faultprobe` command line: one sub-command per stage of a study.

Each handler parses nothing itself beyond its arguments: it loads the study config once
(`faultprobe.config.load_config`) and hands typed objects to the stage's functions. Commands
that write into the store hold its lock while they run. Expected failures (bad input, a
service down, a second writer, a full disk, Ctrl-C) end in one line on stderr and an exit
code: a `faultprobe.errors.FaultprobeError` carries both, and nothing but its type decides
(`errors.one_line`). Any other exception is a bug and ends in its traceback; `--debug`
shows the traceback of an expected failure too.

The parts: `parser` (the sub-commands and their options), `commands` (one handler each),
`errors` (exit codes and the one-line messages), `output` (log lines and progress bars on
stderr, `-v`/`-q`).
"""

from __future__ import annotations

import os
import sys

from faultprobe.cli.errors import EXIT, one_line
from faultprobe.cli.output import level_of, terminal
from faultprobe.cli.parser import build_parser

__all__ = ["EXIT", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        with terminal(level_of(args)):
            return args.handler(args)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print(
            "interrupted; run the same command again to finish (finished work is kept)",
            file=sys.stderr,
            flush=True,
        )
        if argv is None:  # the process ends here: a cluster interrupted while it started or
            sys.stderr = open(os.devnull, "w")  # stopped would complain again at exit
        return EXIT["interrupted"]
    except Exception as err:
        known = one_line(err)
        if known is None or getattr(args, "debug", False):
            raise
        print(f"error: {known[0]}", file=sys.stderr)
        return known[1]
