"""Instrument changes read from StationXML channel epochs (catalogs/epochs.py) and merged
into the verdict's logged changes, on Inventories built with ObsPy's own classes and on
the simulator's StationXML."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from obspy import UTCDateTime
from obspy.core.inventory import (
    Channel,
    InstrumentSensitivity,
    Inventory,
    Network,
    Response,
    Station,
)
from obspy.core.inventory.response import PolesZerosResponseStage

from faultprobe.analysis.verdict import logged_changes
from faultprobe.catalogs.epochs import response_changes
from faultprobe.store import STATIONXML, TRACES, Store

T0 = UTCDateTime("2016-01-01")
CHANGE = UTCDateTime("2016-10-30T12:00:00")
MAIN = pd.Timestamp("2016-10-30T06:40:18", tz="UTC")


def _response(sensitivity: float, poles=(-0.037 + 0.037j, -0.037 - 0.037j)) -> Response:
    stage = PolesZerosResponseStage(
        1, sensitivity, 1.0, "M/S", "V", "LAPLACE (RADIANS/SECOND)", 1.0,
        zeros=[0j, 0j], poles=list(poles), normalization_factor=1.0,
    )  # fmt: skip
    sens = InstrumentSensitivity(sensitivity, 1.0, "M/S", "COUNTS")
    return Response(instrument_sensitivity=sens, response_stages=[stage])


def _channel(code, start, end, sensitivity=6.0e8, rate=100.0, **kw) -> Channel:
    return Channel(
        code, "", 42.8, 13.1, 900.0, 0.0, sample_rate=rate, start_date=start, end_date=end,
        response=_response(sensitivity, **kw),
    )  # fmt: skip


def _inventory(second: dict, station="NRCA", network="IV") -> Inventory:
    """Two epochs of E, N, Z: the second with `second`'s changes, from CHANGE on."""
    chans = []
    for comp in "ENZ":
        chans.append(_channel(f"HH{comp}", T0, CHANGE - 1e-6))
        chans.append(_channel(f"HH{comp}", CHANGE, None, **second))
    sta = Station(station, 42.8, 13.1, 900.0, channels=chans, start_date=T0)
    return Inventory(networks=[Network(network, stations=[sta])], source="test")


@pytest.mark.parametrize(
    "second, said",
    [
        ({"sensitivity": 9.0e8}, "sensitivity x1.5"),
        ({"rate": 200.0}, "sampling rate 100 -> 200 Hz"),
        ({"poles": (-4.4 + 4.4j, -4.4 - 4.4j)}, "response 2/2 -> 2/2 poles/zeros"),
    ],
)
def test_a_new_epoch_that_changes_the_instrument_is_one_change(second, said):
    (found,) = response_changes(_inventory(second), "IV.NRCA")
    at, before, after = found
    assert at == pd.Timestamp(CHANGE.datetime, tz="UTC")
    assert said in after and after.count(said) == 3  # the three components, one date
    assert "HHZ 100 Hz" in before


def test_epochs_that_change_nothing_or_under_one_percent_are_not_changes():
    assert response_changes(_inventory({}), "IV.NRCA") == []
    assert response_changes(_inventory({"sensitivity": 6.03e8}), "IV.NRCA") == []  # 0.5 %
    assert response_changes(_inventory({"sensitivity": 9.0e8}), "IV.OTHER") == []


def test_the_station_is_found_under_another_network_code():
    (found,) = response_changes(_inventory({"sensitivity": 3.0e8}, network="YR"), "IV.NRCA")
    assert "sensitivity x0.5" in found[2]


def test_logged_changes_reads_the_stores_stationxml(tmp_path):
    """A gain change the traces table cannot see reaches the verdict through the
    StationXML saved in the store, or the one [stations] inventory names."""
    store = Store(str(tmp_path / "store"))
    assert logged_changes(store, "IV.NRCA", MAIN) == ()  # no traces table, no StationXML
    buf = io.BytesIO()
    _inventory({"sensitivity": 1.2e9}).write(buf, format="STATIONXML")
    store.write_bytes(buf.getvalue(), STATIONXML)
    (days,) = logged_changes(store, "IV.NRCA", MAIN)
    assert days == pytest.approx((CHANGE.timestamp - MAIN.timestamp()) / 86400.0)
    path = tmp_path / "other.xml"
    _inventory({"rate": 50.0}).write(str(path), format="STATIONXML")
    assert len(logged_changes(Store(str(tmp_path / "empty")), "IV.NRCA", MAIN, str(path))) == 1


def test_only_changes_within_the_traces_span_count(tmp_path):
    """A station's metadata go back years: a documented epoch outside the span of the
    ingested traces is not a change of the study's data."""
    store = Store(str(tmp_path / "store"))
    buf = io.BytesIO()
    _inventory({"sensitivity": 1.2e9}).write(buf, format="STATIONXML")
    store.write_bytes(buf.getvalue(), STATIONXML)

    def traces(first: str, last: str) -> pd.DataFrame:
        times = pd.date_range(first, last, periods=12, tz="UTC")
        return pd.DataFrame({"station_network_code": "IV", "station_code": "NRCA",
                             "station_location_code": "", "trace_channels": "HHE,HHN,HHZ",
                             "trace_start_time": times, "status": "ok",
                             "reason": ""})  # fmt: skip

    store.write_table(traces("2016-10-01", "2016-10-25"), TRACES)
    assert logged_changes(store, "IV.NRCA", MAIN) == ()
    store.write_table(traces("2016-10-01", "2016-11-25"), TRACES)
    assert len(logged_changes(store, "IV.NRCA", MAIN)) == 1
