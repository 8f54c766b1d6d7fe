"""Tiny surveys for the tests: studies made from one simulated grid study (tests/grid_study.py),
each with its own name and store, and a survey file listing them."""

from __future__ import annotations

from pathlib import Path

from faultprobe.config import dump_toml, parse_config


def study_configs(folder: Path, table: dict, names: list[str]) -> list[str]:
    """One config file per name, each selecting into its own store folder/NAME."""
    out = []
    for name in names:
        raw = {**table, "study": {**table["study"], "name": name, "store": str(folder / name)}}
        path = folder / f"{name}.toml"
        path.write_text(dump_toml(parse_config(raw)))
        out.append(str(path))
    return out


def survey_file(folder: Path, configs: list[str], name: str = "survey") -> str:
    """A survey file over the configs, on a local cluster of two single-thread workers."""
    studies = "\n".join(f'[[studies]]\nconfig = "{c}"\n' for c in configs)
    text = (
        f'[survey]\nname = "{name}"\nstore = "{folder / (name + "-out")}"\n\n'
        '[cluster]\nkind = "local"\nn_workers = 2\nthreads_per_worker = 1\n\n' + studies
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return str(path)
