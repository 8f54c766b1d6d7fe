"""The smallest study config table the tests build on: Norcia's mainshock and fault."""

from __future__ import annotations


def norcia_table(store: str, codes: tuple[str, ...] = ("IV.NRCA",), **sections) -> dict:
    """A study table with a store, the Norcia mainshock, its fault and stations `codes`
    (far: IV.SMA1); `sections` are added or replace whole sections."""
    return {
        "study": {
            "name": "toy",
            "store": store,
            "start": "2016-08-30T06:40:17Z",
            "end": "2016-12-30T06:40:17Z",
        },
        "mainshock": {
            "name": "Norcia",
            "time": "2016-10-30T06:40:17Z",
            "latitude": 42.83,
            "longitude": 13.11,
            "depth_km": 9.0,
            "magnitude": 6.5,
        },
        "fault": {"strike": 155, "dip": 47},
        "catalog": {"path": "cat.txt"},
        "stations": {"codes": list(codes), "far": ["IV.SMA1"], "inventory": "x.xml"},
        "waveforms": {"source": "synthetic"},
        **sections,
    }


#: The grids a small test or benchmark leaves off unless it asks for them.
GRIDS_OFF = ("false_dates", "bands", "null", "pairs")


def only_grids(**grids) -> dict:
    """An `[experiments]` table with `GRIDS_OFF` disabled and `grids` as given."""
    return {**{g: {"enabled": False} for g in GRIDS_OFF}, **grids}


def write_study(table: dict, path) -> str:
    """The table validated and written as a study config file; its path."""
    from faultprobe.config import dump_toml, parse_config

    path.write_text(dump_toml(parse_config(table)))
    return str(path)
