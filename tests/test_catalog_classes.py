"""`faultprobe catalog` warns when a class is too small for the method, with the numbers and
what to change in the config; the rule is the one `faultprobe init`'s dry run applies."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from catalog_files import NORCIA_STATIONS, write_stationxml, write_tan
from scipy.stats import binomtest
from test_catalog_selection import row
from test_config import toml_text

from faultprobe import cli
from faultprobe.catalogs.classes import class_findings, class_sizes
from faultprobe.catalogs.study import build_catalog
from faultprobe.config import load_config


def _events(n_pre: int, n_post: int) -> pd.DataFrame:
    """Isolated events on the Norcia fault: n_pre in Sep-Oct 2016, n_post in Nov-Dec."""
    pre = pd.date_range("2016-09-01", "2016-10-25", periods=n_pre, tz="UTC")
    post = pd.date_range("2016-11-01", "2016-12-29", periods=n_post, tz="UTC")
    rng = np.random.default_rng(1)
    rows = [
        row(str(i + 1), t, u=rng.uniform(-8, 8), v=rng.uniform(-2, 2), mag=1.5)
        for i, t in enumerate([*pre, *post])
    ]
    return pd.DataFrame(rows)


def _study(tmp_path, norcia_raw, n_pre: int, n_post: int) -> str:
    write_tan(tmp_path / "cat.txt", _events(n_pre, n_post))
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)
    norcia_raw["study"]["store"] = "store"
    norcia_raw["catalog"]["path"] = "cat.txt"
    norcia_raw["stations"] = {"codes": ["IV.NRCA"], "far": ["IV.SMA1"], "inventory": "st.xml"}
    (tmp_path / "study.toml").write_text(toml_text(norcia_raw))
    return str(tmp_path / "study.toml")


def test_the_horus_laquila_numbers_warn_twice():
    """The HORUS catalog for L'Aquila 2009 over ±2 months: 213 pre against 4,492 post."""
    events = pd.DataFrame({"phase": ["pre"] * 213 + ["post"] * 4492})
    sizes = class_sizes(events, 0.1)
    assert (sizes.n_min, sizes.n_test) == (213, 42) and not sizes.hopeless
    # the fewest correct of 42 an exact one-sided test tells from chance at p < 0.01
    assert binomtest(sizes.needed, 42, alternative="greater").pvalue < 0.01
    assert binomtest(sizes.needed - 1, 42, alternative="greater").pvalue >= 0.01
    warns, error = class_findings(sizes, "horus.csv", "CHANGE", {"pre": "PRE", "post": "POST"})
    assert error is None and len(warns) == 2
    assert (
        "213 pre and 4492 post" in warns[0] and f"above {100 * sizes.needed / 42:.0f} %" in warns[0]
    )
    assert warns[0].endswith("give CHANGE")
    assert "pre is the small class" in warns[1] and "discards 4279" in warns[1]
    assert warns[1].endswith("PRE")


def test_catalog_warns_with_the_numbers_and_what_to_change(tmp_path, norcia_raw, capsys):
    config = _study(tmp_path, norcia_raw, 60, 400)
    assert cli.main(["catalog", config, "-q"]) == 0  # -q keeps warnings
    err = capsys.readouterr().err.splitlines()
    warns = [ln for ln in err if ln.startswith("warning: ")]
    assert len(warns) == 2, err
    assert "60 pre and 400 post" in warns[0] and "60 per class and tests on 12" in warns[0]
    assert "[selection] min_magnitude, now 0.5" in warns[0]
    assert "[study] start earlier (now 2016-08-30)" in warns[0]
    assert "within the catalog's 2016-09-01 to 2016-12-29" in warns[0]
    # the catalog begins after [study] start: a longer pre side needs a longer catalog
    assert (
        "pre is the small class" in warns[1]
        and "catalog reaching back before 2016-09-01" in warns[1]
    )
    assert (tmp_path / "store" / "events.parquet").exists()  # a warning: written all the same


def test_too_few_for_any_verdict_is_one_warning(tmp_path, norcia_raw, caplog):
    cfg = load_config(_study(tmp_path, norcia_raw, 20, 20))
    with caplog.at_level(logging.WARNING, logger="faultprobe"):
        summary = build_catalog(cfg)
    assert len(summary.warnings) == 1 and "too few events for the method" in summary.warnings[0]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert caplog.records[0].getMessage() == f"warning: {summary.warnings[0]}"


def test_enough_events_no_warning(tmp_path, norcia_raw, caplog):
    n = 750  # a test on 150 events: above 60 % is told from chance
    cfg = load_config(_study(tmp_path, norcia_raw, n, n))
    with caplog.at_level(logging.WARNING, logger="faultprobe"):
        summary = build_catalog(cfg)
    counts = summary.selection.events["phase"].value_counts()
    assert counts["pre"] == n and counts["post"] == n
    assert summary.warnings == [] and not caplog.records
