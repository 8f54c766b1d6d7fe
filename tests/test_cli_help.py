"""Every command and every option explains itself in `--help`."""

from __future__ import annotations

import argparse

import pytest

from faultprobe.cli import build_parser, main


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_and_option_has_help():
    parser = build_parser()
    subs = _subparsers(parser)
    assert {"synth", "catalog", "ingest", "info", "train", "evaluate", "predict", "export",
            "experiments", "report", "demo"} <= set(subs)  # fmt: skip
    helps = {a.dest: a.help for a in parser._actions if isinstance(a, argparse._SubParsersAction)}
    assert helps
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    documented = {c.dest for c in choices._choices_actions if c.help}
    missing = []
    for name, sub in subs.items():
        if name not in documented:
            missing.append(f"{name}: no help line")
        if not sub.description:
            missing.append(f"{name}: no description")
        for a in sub._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            if not a.help or a.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
    assert not missing, missing


@pytest.mark.parametrize("command", ["train", "predict", "export", "experiments", "ingest"])
def test_help_prints_and_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 5
