"""docs/architecture.md says what the code does: its status table is the status codes, its
table columns are the names (in memory as on disk) with the older names the reading
upgrades, and every store item is named."""

from __future__ import annotations

import re

from conftest import ROOT

from faultprobe import columns, store
from faultprobe.pipelines import cube, ledger, status

PAGE = (ROOT / "docs" / "architecture.md").read_text()


def _section(title: str) -> str:
    start = PAGE.index(title)
    return PAGE[start : PAGE.index("\n### ", start + 1)]


def test_the_status_table_is_the_codes_and_their_classes():
    got = {}
    for line in _section("### Statuses").splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"−?\d+", cells[0]):
            got[int(cells[0].replace("−", "-"))] = (cells[1], cells[2])
    assert got.pop(status.NOT_WRITTEN)[0] == "(not written)"
    assert got == {int(s): (s.label, str(s.failure)) for s in status.Status}
    order = _section("### Statuses").split("in the order ", 1)[1].split(" (", 1)[0]
    by_severity = [s.label for s in sorted(status.Status, key=lambda s: s.severity)]
    assert [w.strip() for w in order.replace("\n", " ").split(",")] == by_severity


def test_the_table_columns_are_the_names_and_their_older_names():
    for table, extra in [
        ("events.parquet", ["fault_distance_km", "phase", "ttf_s"]),
        ("stations.parquet", ["far"]),
        ("picks.parquet", ["preferred_origin"]),
        ("traces.parquet", ["trace_name", "status", "failure", "reason", "source", "attempts"]),
    ]:
        section = _section(f"### {table}")
        rows = re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \| ([^|]*) \|", section, re.M)
        named = {n for *pair, _ in rows for n in pair if n}
        want = set(columns.legacy(table).values()) | set(extra)
        assert named == want, table
        older = {}  # the "in older stores" cell names the short names, in the same order
        for *pair, cell in rows:
            older.update(zip(re.findall(r"`(\w+)`", cell), [n for n in pair if n]))
        assert older == columns.legacy(table), table
    traces = re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", _section("### traces.parquet"),
                        re.M)  # fmt: skip
    named = {n for pair in traces for n in pair if n}
    assert named == set(ledger.TRACE_COLUMNS) | {columns.TRACE_NAME}


def test_every_store_item_and_cube_name_is_on_the_page():
    for name in [store.EVENTS, store.STATIONS, store.STATIONXML, store.PICKS, store.TRACES, store.CUBE,
                 store.RESULTS, store.STUDY_TOML, ledger.LEDGER + "/"]:  # fmt: skip
        assert name in PAGE, name
    section = _section("### The cube")
    for name in [*cube.EVENT_COORDS, *cube.COORD_ATTRS, "waveform", "status", "p_time", "p_source"]:
        assert f"`{name}`" in section, name


RANK = {  # docs/architecture.md, "The rooms": a room imports only rooms of a lower rank
    **dict.fromkeys(["config", "errors", "earth", "geodesy", "dsp", "columns"], 0),
    **dict.fromkeys(["store", "storelock", "_compat", "_optional", "configs"], 0),
    "cluster": 1,
    "synthetic": 2,
    "catalogs": 2,
    "derive": 3,
    "pipelines": 3,
    "ml": 4,
    "analysis": 5,
    "exports": 6,
    "monitor": 6,
    "cli": 7,
}


def test_the_dependencies_go_one_way():
    import ast

    package = ROOT / "faultprobe"
    wrong = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        room = parts[0]
        if room in ("__init__", "__main__") or room not in RANK:  # testing: fixtures, a leaf
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("faultprobe"):
                names = node.module.split(".")[1:2] or [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [
                    a.name.split(".")[1] for a in node.names if a.name.startswith("faultprobe.")
                ]
            else:
                continue
            for target in names:
                if target == "testing" or (
                    target in RANK and target != room and RANK[target] >= max(RANK[room], 1)
                ):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert wrong == []
