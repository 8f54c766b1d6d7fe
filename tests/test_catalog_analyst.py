"""The analyst's selection mode: every catalog event inside the study window, whatever
the paper's rules say of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_catalog_selection import row

from faultprobe.catalogs.selection import REASONS, select_events
from faultprobe.config import parse_config


def test_analyst_mode_keeps_every_event_in_the_window(norcia_raw):
    cat = pd.DataFrame(
        [
            row("kept-by-both", "2016-10-01T00:00:00Z"),
            row("late", "2017-03-01T00:00:00Z"),  # outside the window: out in both modes
            row("early", "2016-01-01T00:00:00Z"),
            row("nomag", "2016-10-02T00:00:00Z", mag=np.nan),
            row("small", "2016-10-03T00:00:00Z", mag=0.2),
            row("shallow", "2016-10-05T00:00:00Z", v=-10.0),
            row("far", "2016-10-07T00:00:00Z", depth=16.0),
            row("pair-a", "2016-10-08T00:00:00Z"),
            row("pair-b", "2016-10-08T00:00:03Z"),
            row("box", "2016-10-09T00:00:00Z", lat=43.5, lon=12.5),
        ]
    )
    paper = select_events(cat, parse_config(norcia_raw))
    raw = {**norcia_raw, "selection": {**norcia_raw.get("selection", {}), "mode": "analyst"}}
    analyst = select_events(cat, parse_config(raw))
    assert set(paper.events["source_id"]) == {"kept-by-both"}
    assert set(analyst.events["source_id"]) == set(cat["source_id"]) - {"late", "early"}
    expected = dict.fromkeys(REASONS, 0) | {"outside study window": 2}
    assert analyst.rejected.to_dict() == expected
    ev = analyst.events
    assert ev["source_origin_time"].is_monotonic_increasing
    assert ev["fault_distance_km"].notna().all() and set(ev["phase"]) == {"pre"}
    assert (ev["ttf_s"] < 0).all()
