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
